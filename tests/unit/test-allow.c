/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-allow.c - allow_parse() and allow_match() tables */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const struct {
	const char *pattern;
	int err;
	unsigned prefixlen;
	uint16_t port;
} parse_rows[] = {
	{ "198.51.100.10", 0, 32, 0 },
	{ "198.51.100.10:80", 0, 32, 80 },
	{ "198.51.100.10:65535", 0, 32, 65535 },
	{ "198.51.100.0/24", 0, 24, 0 },
	{ "0.0.0.0/0", 0, 0, 0 },
	{ "2001:db8::10", 0, 128, 0 },
	{ "[2001:db8::10]", 0, 128, 0 },
	{ "[2001:db8::10]:443", 0, 128, 443 },
	{ "2001:db8::/32", 0, 32, 0 },
	{ "::/0", 0, 0, 0 },
	{ "", -EINVAL, 0, 0 },
	{ "1.2.3", -EINVAL, 0, 0 },
	{ "1.2.3.4.5", -EINVAL, 0, 0 },
	{ "256.1.1.1", -EINVAL, 0, 0 },
	{ "0x7f.0.0.1", -EINVAL, 0, 0 },
	{ "0x7f000001", -EINVAL, 0, 0 },
	{ "0177.0.0.1", -EINVAL, 0, 0 },
	{ "2130706433", -EINVAL, 0, 0 },
	{ "1.2.3.4:0", -EINVAL, 0, 0 },
	{ "1.2.3.4:65536", -EINVAL, 0, 0 },
	{ "1.2.3.4:+80", -EINVAL, 0, 0 },
	{ "1.2.3.4:80x", -EINVAL, 0, 0 },
	{ "1.2.3.4:", -EINVAL, 0, 0 },
	{ "10.0.0.1/8", -EINVAL, 0, 0 },
	{ "10.0.0.0/33", -EINVAL, 0, 0 },
	{ "10.0.0.0/", -EINVAL, 0, 0 },
	{ "10.0.0.0/8:80", -EINVAL, 0, 0 },
	{ "2001:db8::1/32", -EINVAL, 0, 0 },
	{ "2001:db8::/129", -EINVAL, 0, 0 },
	{ "[::1]:", -EINVAL, 0, 0 },
	{ "[::1", -EINVAL, 0, 0 },
	{ "[::1]x", -EINVAL, 0, 0 },
	{ "[1.2.3.4]:80", -EINVAL, 0, 0 },
	{ "[2001:db8::/32]", -EINVAL, 0, 0 },
	{ "[2001:db8::]/32", -EINVAL, 0, 0 },
	{ "[]", -EINVAL, 0, 0 },
	{ "[::1]:80:80", -EINVAL, 0, 0 },
	{ "1.2.3.4:80:80", -EINVAL, 0, 0 },
	{ "1.2.3.4:080", -EINVAL, 0, 0 },
	{ "1.2.3.4:-1", -EINVAL, 0, 0 },
	{ "1.2.3.4: 80", -EINVAL, 0, 0 },
	{ "1.2.3.4:100000", -EINVAL, 0, 0 },
	{ "10.0.0.0/08", -EINVAL, 0, 0 },
	{ "10.0.0.0/-8", -EINVAL, 0, 0 },
	{ "10.0.0.0/8/8", -EINVAL, 0, 0 },
	{ " 1.2.3.4", -EINVAL, 0, 0 },
	{ "1.2.3.4 ", -EINVAL, 0, 0 },
	{ "01.2.3.4", -EINVAL, 0, 0 },
	{ "1.2.3.4.", -EINVAL, 0, 0 },
	{ "fe80::1%eth0", -EINVAL, 0, 0 },
	{ "2001:db8::g", -EINVAL, 0, 0 },
	{ "1.2.3.4:1", 0, 32, 1 },
	{ "10.0.0.0/0", -EINVAL, 0, 0 },
	{ "128.0.0.0/1", 0, 1, 0 },
	{ "198.51.100.10/32", 0, 32, 0 },
	{ "::ffff:198.51.100.10", 0, 128, 0 },
	{ "2001:db8::1/128", 0, 128, 0 },
	{ "[2001:db8::1]:1", 0, 128, 1 },
	{ "example.com", 0, 0, 0 },
	{ "example.com:443", 0, 0, 443 },
	{ "*.pypi.org:443", 0, 0, 443 },
	{ "localhost", 0, 0, 0 },
	{ "Example.COM.", 0, 0, 0 },
	{ "xn--bcher-kva.example", 0, 0, 0 },
	{ "_dmarc.example.com", 0, 0, 0 },
	{ "*", -EINVAL, 0, 0 },
	{ "*example.com", -EINVAL, 0, 0 },
	{ "a.*.example.com", -EINVAL, 0, 0 },
	{ "*.", -EINVAL, 0, 0 },
	{ "example..com", -EINVAL, 0, 0 },
	{ ".example.com", -EINVAL, 0, 0 },
	{ "-a.example.com", -EINVAL, 0, 0 },
	{ "a-.example.com", -EINVAL, 0, 0 },
	{ "exa mple.com", -EINVAL, 0, 0 },
	{ "bücher.example", -EINVAL, 0, 0 },
	{ "example.com:0", -EINVAL, 0, 0 },
	{ "example.com/24", -EINVAL, 0, 0 },
	{ "[example.com]:80", -EINVAL, 0, 0 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", -EINVAL, 0, 0 },
};

/* the longest name: four labels, 63 + 63 + 63 + 61 characters + 3 dots */
static void test_parse_long_name(void **state)
{
	char name[NBJ_NAME_MAX + 2], pattern[NBJ_NAME_MAX + 16], buf[NBJ_NAME_MAX + 16];
	struct allow_rule r;

	(void)state;
	memset(name, 'a', NBJ_NAME_MAX);
	name[63] = name[127] = name[191] = '.';
	name[NBJ_NAME_MAX] = '\0';
	assert_int_equal(allow_parse(name, &r), 0);
	assert_int_equal(r.kind, ALLOW_NAME);
	assert_string_equal(r.name, name);

	snprintf(pattern, sizeof(pattern), "*.%s.:65535", name);
	assert_int_equal(allow_parse(pattern, &r), 0);
	assert_int_equal(r.kind, ALLOW_SUFFIX);
	assert_int_equal(r.addr.port, 65535);
	snprintf(pattern, sizeof(pattern), "*.%s:65535", name);
	assert_string_equal(allow_rule_format(&r, buf, sizeof(buf)), pattern);

	name[NBJ_NAME_MAX] = 'a'; /* 254 characters */
	name[NBJ_NAME_MAX + 1] = '\0';
	assert_int_equal(allow_parse(name, &r), -EINVAL);
}

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		struct allow_rule r;
		int err = allow_parse(parse_rows[i].pattern, &r);

		if (err != parse_rows[i].err)
			fail_msg("'%s': got %d, want %d", parse_rows[i].pattern, err,
				 parse_rows[i].err);
		if (err)
			continue;
		if (r.kind == ALLOW_ADDR)
			assert_int_equal(r.prefixlen, parse_rows[i].prefixlen);
		assert_int_equal(r.addr.port, parse_rows[i].port);
	}
}

static struct nbj_addr target(const char *ip, uint16_t port)
{
	struct nbj_addr a = { .port = port };

	if (inet_pton(AF_INET, ip, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &a.v6) == 1)
		a.family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return a;
}

static const struct {
	const char *pattern;
	const char *ip;
	uint16_t port;
	bool match;
} match_rows[] = {
	{ "198.51.100.10", "198.51.100.10", 80, true },
	{ "198.51.100.10", "198.51.100.10", 1, true },
	{ "198.51.100.10", "198.51.100.11", 80, false },
	{ "198.51.100.10:80", "198.51.100.10", 80, true },
	{ "198.51.100.10:80", "198.51.100.10", 8080, false },
	{ "198.51.100.0/24", "198.51.100.255", 80, true },
	{ "198.51.100.0/24", "198.51.101.0", 80, false },
	{ "198.51.100.0/25", "198.51.100.127", 80, true },
	{ "198.51.100.0/25", "198.51.100.128", 80, false },
	{ "0.0.0.0/0", "203.0.113.9", 22, true },
	{ "0.0.0.0/0", "2001:db8::1", 22, false },
	{ "198.51.100.10", "::ffff:198.51.100.10", 80, true },
	{ "198.51.100.10:80", "::ffff:198.51.100.10", 81, false },
	{ "[2001:db8::10]:80", "2001:db8::10", 80, true },
	{ "[2001:db8::10]:80", "2001:db8::10", 443, false },
	{ "2001:db8::/32", "2001:db8:ffff::1", 80, true },
	{ "2001:db8::/32", "2001:db9::1", 80, false },
	{ "2001:db8::10", "198.51.100.10", 80, false },
};

static void test_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++) {
		struct allow_rule r;
		struct nbj_addr a = target(match_rows[i].ip, match_rows[i].port);

		assert_int_equal(allow_parse(match_rows[i].pattern, &r), 0);
		if (allow_match(&r, &a) != match_rows[i].match)
			fail_msg("%s vs %s port %u: want %s", match_rows[i].pattern,
				 match_rows[i].ip, match_rows[i].port,
				 match_rows[i].match ? "match" : "no match");
	}
}

static const struct {
	const char *pattern;
	const char *name;
	uint16_t port;
	bool match;
} name_rows[] = {
	{ "example.com", "example.com", 443, true },
	{ "Example.COM.", "example.com", 80, true },
	{ "example.com", "www.example.com", 443, false },
	{ "example.com", "example.co", 443, false },
	{ "example.com:443", "example.com", 443, true },
	{ "example.com:443", "example.com", 80, false },
	{ "example.com:443", "example.com", 0, true }, /* any port: DNS stage */
	{ "*.example.com", "www.example.com", 443, true },
	{ "*.example.com", "a.b.example.com", 443, true },
	{ "*.example.com", "example.com", 443, false },
	{ "*.example.com", "badexample.com", 443, false },
	{ "*.example.com", "example.com.evil.org", 443, false },
	{ "*.example.com:443", "www.example.com", 8443, false },
	{ "198.51.100.10", "198.51.100.10", 80, false }, /* address rules never match names */
};

static void test_match_name(void **state)
{
	char buf[NBJ_NAME_MAX + 16];

	(void)state;
	for (size_t i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++) {
		struct allow_rule r;

		assert_int_equal(allow_parse(name_rows[i].pattern, &r), 0);
		if (allow_match_name(&r, name_rows[i].name, name_rows[i].port) !=
		    name_rows[i].match)
			fail_msg("%s vs %s port %u: want %s", name_rows[i].pattern,
				 name_rows[i].name, name_rows[i].port,
				 name_rows[i].match ? "match" : "no match");
		/* a name rule never matches an address */
		if (r.kind != ALLOW_ADDR) {
			struct nbj_addr a = { .family = AF_INET, .port = 443 };

			assert_false(allow_match(&r, &a));
		}
	}
	assert_int_equal(allow_parse("*.Example.com:443", &(struct allow_rule){ 0 }), 0);
	{
		struct allow_rule r;

		assert_int_equal(allow_parse("*.Example.com.:443", &r), 0);
		assert_string_equal(allow_rule_format(&r, buf, sizeof(buf)), "*.example.com:443");
		assert_int_equal(allow_parse("WWW.example.com", &r), 0);
		assert_string_equal(allow_rule_format(&r, buf, sizeof(buf)), "www.example.com");
	}
}

/* allow_covers(): the narrowing check of a site policy, with its edges */
static const struct {
	const char *outer, *inner;
	bool covers;
} cover_rows[] = {
	{ "198.51.100.10:80", "198.51.100.10:80", true },
	{ "198.51.100.10", "198.51.100.10:80", true },	/* any port covers one */
	{ "198.51.100.10:80", "198.51.100.10", false },	/* one port never any */
	{ "198.51.100.10:80", "198.51.100.10:81", false },
	{ "198.51.100.0/24", "198.51.100.10:443", true },
	{ "198.51.100.0/24", "198.51.100.128/25", true },
	{ "198.51.100.0/24", "198.51.100.0/23", false },	/* wider prefix */
	{ "198.51.100.0/24", "198.51.101.1", false },	/* just outside */
	{ "198.51.100.0/24", "2001:db8::1", false },
	{ "2001:db8::/32", "[2001:db8::1]:443", true },
	{ "example.com", "example.com:443", true },
	{ "example.com:443", "example.com", false },
	{ "example.com", "www.example.com", false },
	{ "*.example.com", "www.example.com", true },
	{ "*.example.com", "example.com", false },		/* not the bare suffix */
	{ "*.example.com", "*.a.example.com", true },
	{ "*.example.com", "*.example.com", true },
	{ "*.a.example.com", "*.example.com", false },
	{ "*.example.com", "*.badexample.com", false },
	{ "*.example.com:443", "*.a.example.com", false },
	{ "example.com", "198.51.100.10", false },		/* names and addresses */
	{ "198.51.100.10", "example.com", false },
	{ "0.0.0.0/0", "example.com", false },
};

static void test_covers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cover_rows) / sizeof(cover_rows[0]); i++) {
		struct allow_rule outer, inner;

		assert_int_equal(allow_parse(cover_rows[i].outer, &outer), 0);
		assert_int_equal(allow_parse(cover_rows[i].inner, &inner), 0);
		if (allow_covers(&outer, &inner) != cover_rows[i].covers)
			fail_msg("%s covers %s: want %s", cover_rows[i].outer,
				 cover_rows[i].inner, cover_rows[i].covers ? "yes" : "no");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_long_name),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_name),
		cmocka_unit_test(test_covers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
