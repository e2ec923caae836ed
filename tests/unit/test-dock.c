/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-dock.c - the dock's frame parser (dock/wire.c), the
 * host of a call (dock_target_parse(), relay/dock.c) and the decision of
 * lane dock (policy/decide.c)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nbjail/dock.h"
#include "relay/relay_int.h"

static void frame(unsigned char h[NBJ_DOCK_HEADER_SIZE], uint32_t magic, uint8_t version,
		  uint8_t op, uint16_t port, uint16_t tlen, uint16_t rsv, uint32_t body)
{
	h[0] = (unsigned char)(magic >> 24);
	h[1] = (unsigned char)(magic >> 16);
	h[2] = (unsigned char)(magic >> 8);
	h[3] = (unsigned char)magic;
	h[4] = version;
	h[5] = op;
	h[6] = (unsigned char)(port >> 8);
	h[7] = (unsigned char)port;
	h[8] = (unsigned char)(tlen >> 8);
	h[9] = (unsigned char)tlen;
	h[10] = (unsigned char)(rsv >> 8);
	h[11] = (unsigned char)rsv;
	h[12] = (unsigned char)(body >> 24);
	h[13] = (unsigned char)(body >> 16);
	h[14] = (unsigned char)(body >> 8);
	h[15] = (unsigned char)body;
}

static void test_roundtrip(void **state)
{
	struct nbj_dock_request in = { .op = NBJ_DOCK_OP_TCP, .port = 443, .target_len = 253,
				       .body_len = NBJ_DOCK_TCP_REQUEST_MAX }, out;
	unsigned char h[NBJ_DOCK_HEADER_SIZE], want[NBJ_DOCK_HEADER_SIZE];

	(void)state;
	nbj_dock_header_encode(&in, h);
	frame(want, NBJ_DOCK_MAGIC, 1, 1, 443, 253, 0, 1u << 20);
	assert_memory_equal(h, want, sizeof(h));
	assert_int_equal(nbj_dock_header_decode(h, sizeof(h), &out), 0);
	assert_int_equal(out.op, in.op);
	assert_int_equal(out.port, in.port);
	assert_int_equal(out.target_len, in.target_len);
	assert_int_equal(out.body_len, in.body_len);
}

static const struct {
	const char *what;
	uint32_t magic;
	uint8_t version, op;
	uint16_t tlen, rsv;
	uint32_t body;
	int err;
} rows[] = {
	{ "tcp", NBJ_DOCK_MAGIC, 1, 1, 13, 0, 100, 0 },
	{ "udp at its cap", NBJ_DOCK_MAGIC, 1, 2, 13, 0, 65535, 0 },
	{ "udp over its cap", NBJ_DOCK_MAGIC, 1, 2, 13, 0, 65536, -EMSGSIZE },
	{ "tcp over its cap", NBJ_DOCK_MAGIC, 1, 1, 13, 0, (1u << 20) + 1, -EMSGSIZE },
	{ "host over 253", NBJ_DOCK_MAGIC, 1, 1, 254, 0, 0, -EMSGSIZE },
	{ "sign key over 64", NBJ_DOCK_MAGIC, 1, 6, 65, 0, 0, -EMSGSIZE },
	{ "get URL at 2048", NBJ_DOCK_MAGIC, 1, 4, 2048, 0, 0, 0 },
	{ "get with a body", NBJ_DOCK_MAGIC, 1, 4, 20, 0, 1, -EMSGSIZE },
	{ "reserved ops decode", NBJ_DOCK_MAGIC, 1, 3, 10, 0, 0, 0 },
	{ "bad magic", 0x4e424a45, 1, 1, 13, 0, 0, -EPROTO },
	{ "version 0", NBJ_DOCK_MAGIC, 0, 1, 13, 0, 0, -EPROTONOSUPPORT },
	{ "version 2", NBJ_DOCK_MAGIC, 2, 1, 13, 0, 0, -EPROTONOSUPPORT },
	{ "op 0", NBJ_DOCK_MAGIC, 1, 0, 13, 0, 0, -EPROTO },
	{ "op 7", NBJ_DOCK_MAGIC, 1, 7, 13, 0, 0, -EPROTO },
	{ "op 255", NBJ_DOCK_MAGIC, 1, 255, 13, 0, 0, -EPROTO },
	{ "empty target", NBJ_DOCK_MAGIC, 1, 1, 0, 0, 0, -EPROTO },
	{ "reserved set", NBJ_DOCK_MAGIC, 1, 1, 13, 1, 0, -EPROTO },
	{ "body 4 GiB", NBJ_DOCK_MAGIC, 1, 1, 13, 0, 0xffffffffu, -EMSGSIZE },
};

static void test_decode_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned char h[NBJ_DOCK_HEADER_SIZE];
		struct nbj_dock_request r = { .op = 0xee };
		int err;

		frame(h, rows[i].magic, rows[i].version, rows[i].op, 80, rows[i].tlen,
		      rows[i].rsv, rows[i].body);
		err = nbj_dock_header_decode(h, sizeof(h), &r);
		if (err != rows[i].err)
			fail_msg("%s: %d, want %d", rows[i].what, err, rows[i].err);
		if (err < 0 && r.op != 0xee)
			fail_msg("%s: the result was written on failure", rows[i].what);
	}
}

static void test_short_header(void **state)
{
	unsigned char h[NBJ_DOCK_HEADER_SIZE];
	struct nbj_dock_request r;

	(void)state;
	frame(h, NBJ_DOCK_MAGIC, 1, 1, 80, 13, 0, 0);
	for (size_t n = 0; n < sizeof(h); n++)
		assert_int_equal(nbj_dock_header_decode(h, n, &r), -EAGAIN);
}

static void test_op_names(void **state)
{
	(void)state;
	for (int op = 1; op <= 6; op++)
		assert_int_equal(nbj_dock_op_from_name(nbj_dock_op_name((uint8_t)op)), op);
	assert_int_equal(nbj_dock_op_from_name("TCP"), -EINVAL);
	assert_int_equal(nbj_dock_op_from_name(""), -EINVAL);
	assert_null(nbj_dock_op_name(0));
	assert_null(nbj_dock_op_name(7));
}

static const struct {
	const char *host;
	int err;
	const char *name;	/* the name, or the address's text */
} hosts[] = {
	{ "allowed.test", 0, "allowed.test" },
	{ "Allowed.TEST.", 0, "allowed.test" },
	{ "198.51.100.10", 0, "198.51.100.10" },
	{ "0x7f.1", 0, "127.0.0.1" },
	{ "2130706433", 0, "127.0.0.1" },
	{ "::1", 0, "::1" },
	{ "[2001:db8::10]", 0, "2001:db8::10" },
	{ "::ffff:127.0.0.1", 0, "127.0.0.1" },
	{ "[::ffff:10.0.0.1]", 0, "10.0.0.1" },
	{ "", -EINVAL, NULL },
	{ "a/b", -EINVAL, NULL },
	{ "user@127.0.0.1", -EINVAL, NULL },
	{ "allowed.test:80", -EINVAL, NULL },
	{ "198.51.100.10:80", -EINVAL, NULL },
	{ "198.51.100.10:0", -EINVAL, NULL },
	{ "[2001:db8::10]:80", -EINVAL, NULL },
	{ "%31%32%37.0.0.1", -EINVAL, NULL },
	{ "http://198.51.100.10/", -EINVAL, NULL },
	{ "a..b", -EINVAL, NULL },
	{ "256.1.1.1", -EINVAL, NULL },
	{ "exa mple.test", -EINVAL, NULL },
};

static void test_target_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		char name[NBJ_NAME_MAX + 1] = "x", text[NBJ_ADDR_STRLEN];
		struct nbj_addr a = { 0 };
		int err = dock_target_parse(hosts[i].host, name, &a);

		if (err != hosts[i].err)
			fail_msg("%s: %d, want %d", hosts[i].host, err, hosts[i].err);
		if (err < 0)
			continue;
		if (name[0])
			assert_string_equal(name, hosts[i].name);
		else
			assert_string_equal(nbj_addr_format(&a, text, sizeof(text)), hosts[i].name);
	}
}

static struct nbj_addr addr(const char *s, uint16_t port)
{
	struct nbj_addr a = { .port = port };

	if (inet_pton(AF_INET, s, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.v6) == 1)
		a.family = AF_INET6;
	else
		fail_msg("bad test address %s", s);
	return a;
}

/* Lane dock: floor -> allow-list -> rate, names judged on every answer */
static void test_decide_lane_dock(void **state)
{
	struct allow_rule rules[3];
	struct nbj_policy p = { .allow = rules, .n_allow = 3 };
	struct floor_ctx fc = { 0 };
	struct nbj_addr answers[2] = { addr("198.51.100.10", 0), addr("10.0.0.1", 0) };
	struct decide_facts f = { .lane = DECIDE_LANE_DOCK, .policy = &p, .floor = &fc,
				  .selected = DECIDE_SELECTED_NONE };
	struct decision d;

	(void)state;
	assert_int_equal(allow_parse("198.51.100.10:80", &rules[0]), 0);
	assert_int_equal(allow_parse("10.0.0.0/8", &rules[1]), 0);
	assert_int_equal(allow_parse("allowed.test:80", &rules[2]), 0);

	f.addr = addr("198.51.100.10", 80), f.port = 80;
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_int_equal(d.dial, DIAL_TARGET);
	f.over_rate = true;		/* allowed otherwise: the rate decides */
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_RATE);
	f.over_rate = false;
	f.addr.port = f.port = 81;	/* not on the list */
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_NOT_ALLOWED);
	f.addr = addr("10.0.0.1", 80);	/* listed, but the floor comes first */
	f.over_rate = true;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_FLOOR_PRIVATE);
	f.over_rate = false;
	f.addr = addr("169.254.169.254", 80);
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_FLOOR_METADATA);

	/* a name: the list first, then its answers, every one of them */
	f.name = "other.test";
	f.port = 80;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_NOT_ALLOWED);
	f.name = "allowed.test";
	f.answers_state = DECIDE_ANSWERS_PENDING;
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_NEED_ANSWERS);
	f.answers_state = DECIDE_ANSWERS_OK;
	f.answers = answers;
	f.n_answers = 2;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_FLOOR_PRIVATE);
	f.n_answers = 1;
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_int_equal(d.dial, DIAL_ANSWERS);
	f.over_rate = true;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_RATE);
	f.revoked = true;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_REVOKED);
	f.revoked = false;
	f.floor = NULL;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_FLOOR_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_decode_rows),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_target_parse),
		cmocka_unit_test(test_decide_lane_dock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
