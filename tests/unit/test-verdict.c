/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-verdict.c - verdict_inet() and unix_rule_parse() tables */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "seccomp/verdict.h"

#define UNKNOWN 0	/* socket type not fetched yet */
#define TCP SOCK_STREAM
#define UDP SOCK_DGRAM

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

struct scope_fixture {
	struct allow_rule allow[4];
	struct nbj_policy policy;
	struct nbj_prefix nets[2];
	struct nbj_addr host[1];
	struct notify_scope s;
};

/* A net job at 10.231.0.2 / fd6e:626a:6169::2 behind gateway .1 / ::1,
 * allowed 198.51.100.10:80, 2001:db8::/32 and the name allowed.test */
static void scope_init(struct scope_fixture *f, bool has_net, bool names)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(allow_parse("198.51.100.10:80", &f->allow[0]), 0);
	assert_int_equal(allow_parse("2001:db8::/32", &f->allow[1]), 0);
	assert_int_equal(allow_parse("192.0.2.0/24", &f->allow[2]), 0);
	if (names)
		assert_int_equal(allow_parse("allowed.test", &f->allow[3]), 0);
	f->policy = (struct nbj_policy){ .allow = f->allow, .n_allow = names ? 4 : 3 };
	f->nets[0] = (struct nbj_prefix){ addr("10.231.0.0", 0), 16 };
	f->nets[1] = (struct nbj_prefix){ addr("fd6e:626a:6169::", 0), 48 };
	f->host[0] = addr("192.0.2.1", 0);
	f->s = (struct notify_scope){
		.policy = &f->policy,
		.floor = { .host = f->host, .n_host = 1, .job_nets = f->nets, .n_job_nets = 2 },
		.has_net = has_net,
	};
	if (has_net) {
		f->s.local[0] = addr("10.231.0.2", 0);
		f->s.local[1] = addr("fd6e:626a:6169::2", 0);
		f->s.gateway[0] = addr("10.231.0.1", 0);
		f->s.gateway[1] = addr("fd6e:626a:6169::1", 0);
		f->s.n_local = f->s.n_gateway = 2;
	}
}

static const struct row {
	enum notify_call call;
	const char *addr;
	uint16_t port;
	int sotype;
	bool need_type;	/* only when sotype is UNKNOWN */
	bool deny;
	const char *reason;
} rows[] = {
	/* the job itself */
	{ NOTIFY_CONNECT, "127.0.0.1", 8080, UNKNOWN, false, false, "" },
	{ NOTIFY_CONNECT, "127.1.2.3", 80, UNKNOWN, false, false, "" },
	{ NOTIFY_CONNECT, "::1", 8080, UNKNOWN, false, false, "" },
	{ NOTIFY_CONNECT, "::ffff:127.0.0.1", 80, UNKNOWN, false, false, "" },
	{ NOTIFY_CONNECT, "0.0.0.0", 80, UNKNOWN, false, false, "" },
	{ NOTIFY_CONNECT, "::", 80, UNKNOWN, false, false, "" },
	{ NOTIFY_CONNECT, "10.231.0.2", 80, UNKNOWN, false, false, "" },
	{ NOTIFY_SENDTO, "fd6e:626a:6169::2", 9, UNKNOWN, false, false, "" },
	/* the floor, with the relay's reasons */
	{ NOTIFY_CONNECT, "10.0.0.1", 80, UNKNOWN, false, true, "floor:private" },
	{ NOTIFY_CONNECT, "169.254.169.254", 80, UNKNOWN, false, true, "floor:metadata" },
	{ NOTIFY_CONNECT, "100.64.0.1", 80, UNKNOWN, false, true, "floor:cgnat" },
	{ NOTIFY_CONNECT, "fd00::1", 80, UNKNOWN, false, true, "floor:private" },
	{ NOTIFY_CONNECT, "fe80::1", 80, UNKNOWN, false, true, "floor:link-local" },
	{ NOTIFY_CONNECT, "::ffff:10.0.0.1", 80, UNKNOWN, false, true, "floor:private" },
	{ NOTIFY_CONNECT, "64:ff9b::a00:1", 80, UNKNOWN, false, true, "floor:internal-encoding" },
	{ NOTIFY_CONNECT, "192.0.2.1", 80, UNKNOWN, false, true, "floor:host-address" },
	{ NOTIFY_CONNECT, "10.231.0.1", 80, UNKNOWN, false, true, "floor:private" },
	{ NOTIFY_CONNECT, "10.231.0.1", 8081, TCP, false, true, "floor:private" },
	{ NOTIFY_SENDTO, "169.254.169.254", 123, UNKNOWN, false, true, "floor:metadata" },
	{ NOTIFY_SENDMSG, "10.0.0.1", 9999, UNKNOWN, false, true, "floor:private" },
	{ NOTIFY_SENDMMSG, "fd00::1", 9999, UNKNOWN, false, true, "floor:private" },
	/* the allow-list */
	{ NOTIFY_CONNECT, "198.51.100.11", 80, UNKNOWN, false, true, "not-allowed" },
	{ NOTIFY_CONNECT, "198.51.100.10", 8080, UNKNOWN, false, true, "not-allowed" },
	{ NOTIFY_CONNECT, "198.51.100.10", 80, UNKNOWN, true, false, "" },
	{ NOTIFY_CONNECT, "198.51.100.10", 80, TCP, false, false, "" },
	{ NOTIFY_CONNECT, "2001:db8::10", 443, TCP, false, false, "" },
	/* the relay carries TCP only */
	{ NOTIFY_SENDTO, "198.51.100.10", 80, UDP, false, true, "not-relayed" },
	{ NOTIFY_CONNECT, "2001:db8::10", 443, UDP, false, true, "not-relayed" },
	/* DNS: UDP/53 anywhere is the relay's stub, TCP/53 only at the gateway */
	{ NOTIFY_SENDTO, "198.51.100.53", 53, UNKNOWN, true, false, "" },
	{ NOTIFY_SENDTO, "198.51.100.53", 53, UDP, false, false, "" },
	{ NOTIFY_SENDTO, "10.0.0.1", 53, UDP, false, false, "" },
	{ NOTIFY_CONNECT, "10.231.0.1", 53, UDP, false, false, "" },
	{ NOTIFY_CONNECT, "10.231.0.1", 53, TCP, false, false, "" },
	{ NOTIFY_CONNECT, "fd6e:626a:6169::1", 53, TCP, false, false, "" },
	{ NOTIFY_CONNECT, "198.51.100.53", 53, TCP, false, true, "not-allowed" },
	{ NOTIFY_CONNECT, "10.0.0.1", 53, TCP, false, true, "floor:private" },
	/* without names in the policy, synthetic addresses are just the floor */
	{ NOTIFY_CONNECT, "198.18.0.5", 443, TCP, false, true, "floor:benchmark" },
	/* bind and listen: wildcard, loopback and the job's own addresses */
	{ NOTIFY_BIND, "0.0.0.0", 8080, UNKNOWN, false, false, "" },
	{ NOTIFY_BIND, "::", 8080, UNKNOWN, false, false, "" },
	{ NOTIFY_BIND, "127.0.0.1", 0, UNKNOWN, false, false, "" },
	{ NOTIFY_BIND, "10.231.0.2", 0, UNKNOWN, false, false, "" },
	{ NOTIFY_BIND, "::ffff:0.0.0.0", 0, UNKNOWN, false, false, "" },
	{ NOTIFY_BIND, "169.254.169.254", 0, UNKNOWN, false, true, "bind-foreign-address" },
	{ NOTIFY_BIND, "10.231.0.1", 0, UNKNOWN, false, true, "bind-foreign-address" },
	{ NOTIFY_BIND, "198.51.100.10", 80, UNKNOWN, false, true, "bind-foreign-address" },
	{ NOTIFY_LISTEN, "10.0.0.1", 80, UNKNOWN, false, true, "bind-foreign-address" },
	{ NOTIFY_LISTEN, "0.0.0.0", 80, UNKNOWN, false, false, "" },
};

/* verdict_inet() for a caller that selected nothing, within its rate */
static void judge(const struct notify_scope *s, enum notify_call call, int sotype,
		  const struct nbj_addr *a, struct verdict *v)
{
	struct verdict_call vc = { .call = call, .sotype = sotype,
				   .selected = DECIDE_SELECTED_NONE };

	verdict_inet(s, &vc, a, v);
}

static void check_row(const struct notify_scope *s, const struct row *r)
{
	struct nbj_addr a = addr(r->addr, r->port);
	struct verdict v;

	const char *reason;

	judge(s, r->call, r->sotype, &a, &v);
	reason = v.deny ? decide_reason_name(v.reason) : "";
	if (v.need_type != r->need_type || v.deny != r->deny ||
	    strcmp(reason, r->reason) || (v.deny && v.err != EACCES))
		fail_msg("%s %s port %u type %d: need_type %d deny %d err %d "
			 "reason '%s', wanted need_type %d deny %d reason '%s'",
			 notify_call_name(r->call), r->addr, r->port, r->sotype,
			 v.need_type, v.deny, v.err, reason, r->need_type,
			 r->deny, r->reason);
}

static void test_verdict_table(void **state)
{
	struct scope_fixture f;

	(void)state;
	scope_init(&f, true, false);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&f.s, &rows[i]);
}

static void test_synthetic_with_names(void **state)
{
	static const struct row synth[] = {
		{ NOTIFY_CONNECT, "198.18.0.5", 443, UNKNOWN, true, false, "" },
		{ NOTIFY_CONNECT, "198.18.0.5", 443, TCP, false, false, "" },
		{ NOTIFY_CONNECT, "fd6e:626a:6169:ffff::5", 80, TCP, false, false, "" },
		{ NOTIFY_CONNECT, "::ffff:198.18.0.5", 80, TCP, false, false, "" },
		{ NOTIFY_SENDTO, "198.18.0.5", 443, UDP, false, true, "not-relayed" },
		{ NOTIFY_CONNECT, "198.20.0.1", 443, TCP, false, true, "not-allowed" },
		{ NOTIFY_CONNECT, "198.19.255.254", 443, TCP, false, false, "" },
	};
	struct scope_fixture f;

	(void)state;
	scope_init(&f, true, true);
	for (size_t i = 0; i < sizeof(synth) / sizeof(synth[0]); i++)
		check_row(&f.s, &synth[i]);
}

static void test_no_network(void **state)
{
	static const struct row none[] = {
		{ NOTIFY_CONNECT, "198.51.100.10", 80, TCP, false, true, "no-network" },
		{ NOTIFY_SENDTO, "198.51.100.53", 53, UDP, false, true, "no-network" },
		{ NOTIFY_CONNECT, "10.0.0.1", 80, UNKNOWN, false, true, "no-network" },
		{ NOTIFY_CONNECT, "127.0.0.1", 80, UNKNOWN, false, false, "" },
		{ NOTIFY_BIND, "0.0.0.0", 80, UNKNOWN, false, false, "" },
		{ NOTIFY_BIND, "10.231.0.2", 80, UNKNOWN, false, true, "bind-foreign-address" },
	};
	struct scope_fixture f;

	(void)state;
	scope_init(&f, false, false);
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		check_row(&f.s, &none[i]);
}

/* Whatever the address, a verdict either continues, asks once for the
 * type, or denies with EACCES and a reason; with the type it never asks */
static void test_verdict_fuzz(void **state)
{
	struct scope_fixture f;
	uint32_t x = 0x6e626a61;

	(void)state;
	scope_init(&f, true, true);
	for (int i = 0; i < 200000; i++) {
		struct nbj_addr a = { 0 };
		struct verdict v;

		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		a.port = (uint16_t)(x & 1 ? 53 : x >> 16);
		if (x & 2) {
			a.family = AF_INET;
			a.v4.s_addr = x * 2654435761u;
		} else {
			a.family = AF_INET6;
			for (int b = 0; b < 16; b++)
				a.v6.s6_addr[b] = (uint8_t)((x >> (b % 4 * 8)) + b * (x & 0xff));
			if (x & 4)
				memcpy(a.v6.s6_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		}
		judge(&f.s, (enum notify_call)(x % NOTIFY_CALL_COUNT), 0, &a, &v);
		assert_false(v.deny && v.need_type);
		if (v.deny) {
			assert_int_equal(v.err, EACCES);
			assert_true(v.audit);
			assert_int_not_equal(v.reason, DECIDE_OTHER);
			assert_int_not_equal(v.reason, DECIDE_ALLOWED);
		}
		judge(&f.s, (enum notify_call)(x % NOTIFY_CALL_COUNT),
		      x & 8 ? SOCK_STREAM : SOCK_DGRAM, &a, &v);
		assert_false(v.need_type);
	}
}

static void test_unix_rule_parse(void **state)
{
	static const struct {
		const char *in;
		int err;
		const char *out;
	} cases[] = {
		{ "/run/user/1000/bus", 0, "/run/user/1000/bus" },
		{ "//tmp///.X11-unix//X0/", 0, "/tmp/.X11-unix/X0" },
		{ "/a", 0, "/a" },
		{ "/.hidden/..x/x..", 0, "/.hidden/..x/x.." },
		{ "relative/x.sock", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
		{ "/", -EINVAL, NULL },
		{ "///", -EINVAL, NULL },
		{ "/run/../tmp/x", -EINVAL, NULL },
		{ "/run/./x", -EINVAL, NULL },
		{ "/run/..", -EINVAL, NULL },
	};
	char longpath[200];
	struct unix_rule r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = unix_rule_parse(cases[i].in, &r);

		if (err != cases[i].err)
			fail_msg("'%s': %d, wanted %d", cases[i].in, err, cases[i].err);
		if (!err)
			assert_string_equal(r.path, cases[i].out);
	}
	assert_int_equal(unix_rule_parse(NULL, &r), -EINVAL);
	/* 107 bytes fit a sockaddr_un with its NUL, 108 do not */
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[107] = '\0';
	assert_int_equal(unix_rule_parse(longpath, &r), 0);
	assert_int_equal(strlen(r.path), 107);
	longpath[107] = 'a';
	longpath[108] = '\0';
	assert_int_equal(unix_rule_parse(longpath, &r), -ENAMETOOLONG);
}

/* The tailnet (cgnat) is waived at connect() only for the overlay the
 * caller will dial through: its selection, not the job's default */
static void test_selection_and_the_tailnet(void **state)
{
	struct overlay ov[2] = { 0 };
	struct allow_rule allow;
	struct scope_fixture f;
	struct nbj_addr a = addr("100.100.100.200", 80);
	struct verdict v;
	struct verdict_call vc = { .call = NOTIFY_CONNECT, .sotype = TCP };

	(void)state;
	scope_init(&f, true, false);
	strcpy(ov[0].name, "direct");
	strcpy(ov[1].name, "ts");
	assert_int_equal(overlay_kind_parse("tailscale", &ov[1]), 0);
	assert_int_equal(allow_parse("100.64.0.0/10", &allow), 0);
	f.policy = (struct nbj_policy){ .allow = &allow, .n_allow = 1, .overlays = ov,
					.n_overlays = 2, .default_overlay = 1,
					.select_allowed = true };

	vc.selected = DECIDE_SELECTED_NONE;	/* the default: tailscale */
	verdict_inet(&f.s, &vc, &a, &v);
	assert_false(v.deny);
	vc.selected = 1;
	verdict_inet(&f.s, &vc, &a, &v);
	assert_false(v.deny);
	vc.selected = OVERLAY_DIRECT_INDEX;	/* nbjail-select direct */
	verdict_inet(&f.s, &vc, &a, &v);
	assert_true(v.deny && v.audit);
	assert_int_equal(v.err, EACCES);
	assert_string_equal(decide_reason_name(v.reason), "floor:cgnat");
	vc.selected = DECIDE_SELECTED_UNKNOWN;	/* the cgroup cannot be read */
	verdict_inet(&f.s, &vc, &a, &v);
	assert_true(v.deny);
	assert_string_equal(decide_reason_name(v.reason), "select-unknown");
	/* loopback needs no selection */
	a = addr("127.0.0.1", 80);
	verdict_inet(&f.s, &vc, &a, &v);
	assert_false(v.deny);
	/* the connect rate comes before everything but the job itself */
	vc.selected = DECIDE_SELECTED_NONE;
	vc.over_rate = true;
	a = addr("198.51.100.10", 80);
	verdict_inet(&f.s, &vc, &a, &v);
	assert_true(v.deny);
	assert_int_equal(v.err, ECONNREFUSED);
	assert_string_equal(decide_reason_name(v.reason), "rate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_table),
		cmocka_unit_test(test_synthetic_with_names),
		cmocka_unit_test(test_no_network),
		cmocka_unit_test(test_verdict_fuzz),
		cmocka_unit_test(test_selection_and_the_tailnet),
		cmocka_unit_test(test_unix_rule_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
