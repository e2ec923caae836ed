/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-floor.c - floor_classify() and policy_decide() tables
 *
 * One row per address, smokescreen's TestClassifyAddr style, with the
 * first and last address of every range and the addresses just outside.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static struct nbj_addr addr(const char *s)
{
	struct nbj_addr a = { 0 };

	if (inet_pton(AF_INET, s, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.v6) == 1)
		a.family = AF_INET6;
	else
		fail_msg("bad test address %s", s);
	return a;
}

static const struct {
	const char *ip;
	enum floor_reason want;
} rows[] = {
	{ "0.0.0.0", FLOOR_UNSPECIFIED },
	{ "0.255.255.255", FLOOR_UNSPECIFIED },
	{ "1.0.0.0", FLOOR_NONE },
	{ "127.0.0.1", FLOOR_LOOPBACK },
	{ "127.255.255.255", FLOOR_LOOPBACK },
	{ "126.255.255.255", FLOOR_NONE },
	{ "128.0.0.0", FLOOR_NONE },
	{ "10.0.0.0", FLOOR_PRIVATE },
	{ "10.0.0.1", FLOOR_PRIVATE },
	{ "10.255.255.255", FLOOR_PRIVATE },
	{ "9.255.255.255", FLOOR_NONE },
	{ "11.0.0.0", FLOOR_NONE },
	{ "172.16.0.0", FLOOR_PRIVATE },
	{ "172.16.0.1", FLOOR_PRIVATE },
	{ "172.31.255.255", FLOOR_PRIVATE },
	{ "172.15.255.255", FLOOR_NONE },
	{ "172.32.0.0", FLOOR_NONE },
	{ "192.168.0.0", FLOOR_PRIVATE },
	{ "192.168.1.1", FLOOR_PRIVATE },
	{ "192.168.255.255", FLOOR_PRIVATE },
	{ "192.167.255.255", FLOOR_NONE },
	{ "192.169.0.0", FLOOR_NONE },
	{ "169.254.0.0", FLOOR_LINK_LOCAL },
	{ "169.254.169.254", FLOOR_METADATA },
	{ "168.63.129.16", FLOOR_METADATA },	/* Azure WireServer */
	{ "168.63.129.15", FLOOR_NONE },
	{ "168.63.129.17", FLOOR_NONE },
	{ "169.254.169.253", FLOOR_LINK_LOCAL },
	{ "169.254.255.255", FLOOR_LINK_LOCAL },
	{ "169.253.255.255", FLOOR_NONE },
	{ "169.255.0.0", FLOOR_NONE },
	{ "100.64.0.0", FLOOR_CGNAT },
	{ "100.64.0.1", FLOOR_CGNAT },
	{ "100.127.255.255", FLOOR_CGNAT },
	{ "100.63.255.255", FLOOR_NONE },
	{ "100.128.0.0", FLOOR_NONE },
	{ "192.0.0.0", FLOOR_IETF },
	{ "192.0.0.255", FLOOR_IETF },
	{ "192.0.1.0", FLOOR_NONE },
	{ "198.18.0.0", FLOOR_BENCHMARK },
	{ "198.19.255.255", FLOOR_BENCHMARK },
	{ "198.17.255.255", FLOOR_NONE },
	{ "198.20.0.0", FLOOR_NONE },
	{ "224.0.0.0", FLOOR_MULTICAST },
	{ "239.255.255.255", FLOOR_MULTICAST },
	{ "223.255.255.255", FLOOR_NONE },
	{ "240.0.0.0", FLOOR_RESERVED },
	{ "255.255.255.254", FLOOR_RESERVED },
	{ "255.255.255.255", FLOOR_RESERVED },
	/* TEST-NET is the test world's internet: public */
	{ "192.0.2.1", FLOOR_NONE },
	{ "198.51.100.10", FLOOR_NONE },
	{ "203.0.113.10", FLOOR_NONE },
	{ "8.8.8.8", FLOOR_NONE },
	/* IPv6 */
	{ "::", FLOOR_UNSPECIFIED },
	{ "::1", FLOOR_LOOPBACK },
	{ "::2", FLOOR_BAD_ENCODING }, /* IPv4-compatible 0.0.0.2 */
	{ "fc00::", FLOOR_PRIVATE },
	{ "fd00::1", FLOOR_PRIVATE },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", FLOOR_PRIVATE },
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", FLOOR_NONE },
	{ "fd00:ec2::254", FLOOR_METADATA },
	{ "fe80::", FLOOR_LINK_LOCAL },
	{ "fe80::1", FLOOR_LINK_LOCAL },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", FLOOR_LINK_LOCAL },
	{ "fec0::1", FLOOR_PRIVATE },
	{ "ff02::1", FLOOR_MULTICAST },
	{ "ff00::", FLOOR_MULTICAST },
	{ "100::1", FLOOR_RESERVED },
	{ "100:0:0:1::", FLOOR_NONE },
	{ "2001:db8::10", FLOOR_NONE },
	{ "2606:4700::1", FLOOR_NONE },
	/* IPv4-mapped */
	{ "::ffff:127.0.0.1", FLOOR_BAD_ENCODING },
	{ "::ffff:10.0.0.1", FLOOR_BAD_ENCODING },
	{ "::ffff:169.254.169.254", FLOOR_BAD_ENCODING },
	{ "::ffff:168.63.129.16", FLOOR_BAD_ENCODING },
	{ "64:ff9b::a83f:8110", FLOOR_BAD_ENCODING },	/* NAT64 of 168.63.129.16 */
	{ "::ffff:198.51.100.1", FLOOR_NONE },
	/* IPv4-compatible */
	{ "::127.0.0.1", FLOOR_BAD_ENCODING },
	{ "::198.51.100.1", FLOOR_NONE },
	/* NAT64 */
	{ "64:ff9b::a00:1", FLOOR_BAD_ENCODING },
	{ "64:ff9b::a9fe:a9fe", FLOOR_BAD_ENCODING },
	{ "64:ff9b::c633:640a", FLOOR_NONE },
	{ "64:ff9b:1::7f00:1", FLOOR_BAD_ENCODING },
	{ "64:ff9b:1::c633:640a", FLOOR_BAD_ENCODING }, /* local-use NAT64: internal */
	{ "64:ff9b:1:c633:640a::", FLOOR_BAD_ENCODING },
	/* 6to4 */
	{ "2002:0a00:0001::", FLOOR_BAD_ENCODING },
	{ "2002:a9fe:a9fe::1", FLOOR_BAD_ENCODING },
	{ "2002:c633:640a::1", FLOOR_NONE },
	/* Teredo: server 65.54.227.120 public; client = ~last 32 bits */
	{ "2001:0:4136:e378:8000:63bf:f5ff:fffe", FLOOR_BAD_ENCODING }, /* client 10.0.0.1 */
	{ "2001:0:4136:e378:8000:63bf:39cc:9bf5", FLOOR_NONE },         /* client 198.51.100.10 */
	{ "2001:0:a00:1:8000:63bf:39cc:9bf5", FLOOR_BAD_ENCODING },     /* server 10.0.0.1 */
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct nbj_addr a = addr(rows[i].ip);
		enum floor_reason got = floor_classify(&a, NULL);

		if (got != rows[i].want)
			fail_msg("%s: got %s, want %s", rows[i].ip,
				 floor_reason_name(got), floor_reason_name(rows[i].want));
	}
}

static void test_host_addresses(void **state)
{
	struct nbj_addr host[2] = { addr("192.0.2.1"), addr("2001:db8:1::1") };
	struct floor_ctx ctx = { .host = host, .n_host = 2 };
	struct nbj_addr a;

	(void)state;
	a = addr("192.0.2.1");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_HOST);
	a.port = 8081; /* the port does not matter */
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_HOST);
	/* a host address in any IPv6 encoding */
	a = addr("::ffff:192.0.2.1");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_BAD_ENCODING);
	a = addr("64:ff9b::c000:201");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_BAD_ENCODING);
	a = addr("2002:c000:201::1");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_BAD_ENCODING);
	a = addr("2001:0:c000:201::39cc:9bf5"); /* Teredo server = host */
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_BAD_ENCODING);
	assert_int_equal(floor_classify(&a, NULL), FLOOR_NONE);
	a = addr("2001:db8:1::1");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_HOST);
	a = addr("192.0.2.2");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_NONE);
	assert_int_equal(floor_classify(&a, NULL), FLOOR_NONE);
}

static void test_job_networks(void **state)
{
	struct nbj_prefix nets[2] = {
		{ .addr = addr("203.0.113.0"), .prefixlen = 28 },
		{ .addr = addr("2001:db8:99::"), .prefixlen = 48 },
	};
	struct floor_ctx ctx = { .job_nets = nets, .n_job_nets = 2 };
	struct nbj_addr a;

	(void)state;
	a = addr("203.0.113.5");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_JOB_NETWORK);
	a = addr("::ffff:203.0.113.15");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_BAD_ENCODING);
	a = addr("64:ff9b::cb00:7105");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_BAD_ENCODING);
	a = addr("203.0.113.16");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_NONE);
	a = addr("2001:db8:99:5::2");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_JOB_NETWORK);
	a = addr("2001:db8:9a::2");
	assert_int_equal(floor_classify(&a, &ctx), FLOOR_NONE);
	assert_string_equal(floor_reason_name(FLOOR_JOB_NETWORK), "job-network");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(floor_reason_name(FLOOR_NONE), "public");
	assert_string_equal(floor_reason_name(FLOOR_METADATA), "metadata");
	assert_string_equal(floor_reason_name(FLOOR_HOST), "host-address");
	assert_string_equal(floor_reason_name(FLOOR_BAD_ENCODING), "internal-encoding");
	assert_string_equal(floor_reason_name(FLOOR_REASON_COUNT), "unknown");
	for (int r = 0; r < FLOOR_REASON_COUNT; r++)
		assert_string_not_equal(floor_reason_name((enum floor_reason)r), "unknown");
}

/* policy_decide() for a literal address, as the relay would see it */
static void decide_addr(const struct nbj_policy *p, const struct nbj_addr *a,
			struct decision *d)
{
	static const struct floor_ctx none = { 0 };
	struct decide_facts f = {
		.lane = DECIDE_LANE_CONNECT, .policy = p, .floor = &none,
		.addr = *a, .port = a->port, .selected = DECIDE_SELECTED_NONE,
	};

	policy_decide(&f, d);
}

static void test_decide(void **state)
{
	struct allow_rule rules[2];
	struct nbj_policy p = { .allow = rules, .n_allow = 2 };
	struct nbj_policy empty = { 0 };
	struct decision d;
	struct nbj_addr a;

	(void)state;
	assert_int_equal(allow_parse("198.51.100.10:80", &rules[0]), 0);
	assert_int_equal(allow_parse("0.0.0.0/0", &rules[1]), 0);

	a = addr("198.51.100.10");
	a.port = 80;
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_string_equal(decide_reason_name(d.reason), "allowed");

	/* the floor beats an allow-everything rule */
	a = addr("169.254.169.254");
	a.port = 80;
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_string_equal(decide_reason_name(d.reason),
			    "floor:metadata");

	a = addr("10.0.0.1");
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_string_equal(decide_reason_name(d.reason),
			    "floor:private");

	/* an empty list grants nothing */
	a = addr("198.51.100.10");
	a.port = 80;
	decide_addr(&empty, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_string_equal(decide_reason_name(d.reason),
			    "no-allow-list");

	/* no matching rule */
	p.n_allow = 1;
	a.port = 8080;
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_string_equal(decide_reason_name(d.reason),
			    "not-allowed");
	a = addr("2001:db8::10");
	a.port = 80;
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
}

static void test_floor_exceptions(void **state)
{
	struct allow_rule allow[1], exc[2];
	struct nbj_policy p = {
		.allow = allow, .n_allow = 1,
		.floor_exceptions = exc, .n_floor_exceptions = 2,
	};
	struct decision d;
	struct nbj_addr a;
	char buf[64];

	(void)state;
	assert_int_equal(allow_parse("10.0.0.0/8", &allow[0]), 0);
	assert_int_equal(allow_parse("172.16.0.1", &exc[0]), 0);
	assert_int_equal(allow_parse("10.0.0.1:80", &exc[1]), 0);

	a = addr("10.0.0.1");
	a.port = 80;
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_int_equal(d.exception, 1);
	assert_int_equal(d.floor, FLOOR_PRIVATE); /* kept for the audit line */

	a.port = 22; /* the exception names port 80 only */
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_int_equal(d.exception, -1);
	assert_string_equal(decide_reason_name(d.reason), "floor:private");

	/* an exception is not an allow rule */
	a = addr("172.16.0.1");
	a.port = 80;
	decide_addr(&p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_int_equal(d.exception, 0);
	assert_string_equal(decide_reason_name(d.reason), "not-allowed");

	/* public targets never report an exception */
	a = addr("198.51.100.10");
	decide_addr(&p, &a, &d);
	assert_int_equal(d.exception, -1);
	assert_int_equal(d.verdict, VERDICT_DENY);

	assert_string_equal(allow_rule_format(&exc[1], buf, sizeof(buf)), "10.0.0.1:80");
	assert_string_equal(allow_rule_format(&allow[0], buf, sizeof(buf)), "10.0.0.0/8");
}

static void test_format(void **state)
{
	char buf[NBJ_ADDR_STRLEN];
	struct nbj_addr a = addr("2001:db8::1");

	(void)state;
	assert_string_equal(nbj_addr_format(&a, buf, sizeof(buf)), "2001:db8::1");
	a.port = 443;
	assert_string_equal(nbj_addr_format(&a, buf, sizeof(buf)), "[2001:db8::1]:443");
	a = addr("198.51.100.10");
	a.port = 80;
	assert_string_equal(nbj_addr_format(&a, buf, sizeof(buf)), "198.51.100.10:80");
	assert_string_equal(nbj_addr_format(&a, buf, 5), "198.");
}

static void test_sockaddr_roundtrip(void **state)
{
	struct sockaddr_storage ss;
	struct nbj_addr a = addr("2001:db8::5"), b;
	socklen_t len;

	(void)state;
	a.port = 8443;
	len = nbj_addr_to_sockaddr(&a, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &b), 0);
	assert_true(nbj_addr_equal_ip(&a, &b));
	assert_int_equal(b.port, 8443);
	assert_int_equal(nbj_addr_from_sockaddr((struct sockaddr *)&ss, 8, &b), -EINVAL);
	ss.ss_family = AF_UNIX;
	assert_int_equal(nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &b),
			 -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_host_addresses),
		cmocka_unit_test(test_job_networks),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_floor_exceptions),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_sockaddr_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
