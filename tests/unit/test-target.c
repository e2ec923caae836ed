/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-target.c - target_parse(): URLs and hosts as a client dials them */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/target.h"

static const struct {
	const char *text;
	int err;
	const char *host;
	bool is_ip;
	uint16_t port;
} rows[] = {
	{ "http://198.51.100.10/", 0, "198.51.100.10", true, 80 },
	{ "https://198.51.100.10/x?y#z", 0, "198.51.100.10", true, 443 },
	{ "HTTP://198.51.100.10:8080", 0, "198.51.100.10", true, 8080 },
	{ "wss://198.51.100.10", 0, "198.51.100.10", true, 443 },
	{ "http://example.com@127.0.0.1/", 0, "127.0.0.1", true, 80 },
	{ "http://user:pw@a@10.0.0.1:81/", 0, "10.0.0.1", true, 81 },
	{ "http://127.0.0.1\\@198.51.100.10/", 0, "127.0.0.1", true, 80 },
	{ "http://127.0.0.1#@198.51.100.10/", 0, "127.0.0.1", true, 80 },
	{ "http://0x7f.1/", 0, "127.0.0.1", true, 80 },
	{ "http://0x7f000001/", 0, "127.0.0.1", true, 80 },
	{ "http://2130706433/", 0, "127.0.0.1", true, 80 },
	{ "http://0177.0.0.1/", 0, "127.0.0.1", true, 80 },
	{ "http://127.1/", 0, "127.0.0.1", true, 80 },
	{ "http://%31%32%37.0.0.1/", 0, "127.0.0.1", true, 80 },
	{ "http://169.254.169.254./", 0, "169.254.169.254", true, 80 },
	{ "http://[::1]/", 0, "::1", true, 80 },
	{ "http://[::ffff:127.0.0.1]:8080/", 0, "::ffff:127.0.0.1", true, 8080 },
	{ "http://[fe80::1%25eth0]/", 0, "fe80::1", true, 80 },
	{ "http://EXAMPLE.Com./", 0, "example.com", false, 80 },
	{ "http://%65xample.com/", 0, "example.com", false, 80 },
	{ "example.com", 0, "example.com", false, 0 },
	{ "example.com:443", 0, "example.com", false, 443 },
	{ "198.51.100.10", 0, "198.51.100.10", true, 0 },
	{ "198.51.100.10:22", 0, "198.51.100.10", true, 22 },
	{ "[2001:db8::10]:443", 0, "2001:db8::10", true, 443 },
	{ "[2001:db8::10]", 0, "2001:db8::10", true, 0 },
	{ "2001:db8::10", 0, "2001:db8::10", true, 0 },
	{ "ftp://198.51.100.10:21/", 0, "198.51.100.10", true, 21 },
	{ "", -EINVAL, NULL, false, 0 },
	{ "ftp://198.51.100.10/", -EINVAL, NULL, false, 0 },  /* no default port */
	{ "http://1.2.3.4.5/", -EINVAL, NULL, false, 0 },
	{ "http://256.1.1.1/", -EINVAL, NULL, false, 0 },
	{ "http://0x100000000/", -EINVAL, NULL, false, 0 },
	{ "http://a..b/", -EINVAL, NULL, false, 0 },
	{ "http://exa mple.com/", -EINVAL, NULL, false, 0 },
	{ "http://exa%00mple.com/", -EINVAL, NULL, false, 0 },
	{ "http://exa%2/", -EINVAL, NULL, false, 0 },
	{ "http://%zz/", -EINVAL, NULL, false, 0 },
	{ "http:///", -EINVAL, NULL, false, 0 },
	{ "http://1.2.3.4:0/", -EINVAL, NULL, false, 0 },
	{ "http://1.2.3.4:65536/", -EINVAL, NULL, false, 0 },
	{ "http://1.2.3.4:+80/", -EINVAL, NULL, false, 0 },
	{ "http://[::1/", -EINVAL, NULL, false, 0 },
	{ "http://[::1]x/", -EINVAL, NULL, false, 0 },
	{ "http://[1.2.3.4]/", -EINVAL, NULL, false, 0 },
	{ "://1.2.3.4/", -EINVAL, NULL, false, 0 },
	{ "1http://1.2.3.4/", -EINVAL, NULL, false, 0 },
	{ "example.com:", -EINVAL, NULL, false, 0 },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct target t;
		int r = target_parse(rows[i].text, &t);

		if (r != rows[i].err)
			fail_msg("'%s': got %d, want %d", rows[i].text, r, rows[i].err);
		if (r)
			continue;
		if (strcmp(t.host, rows[i].host) || t.is_ip != rows[i].is_ip ||
		    t.port != rows[i].port)
			fail_msg("'%s': got host=%s ip=%d port=%u", rows[i].text, t.host,
				 t.is_ip, t.port);
		if (t.is_ip)
			assert_int_equal(t.addr.port, t.port);
	}
}

/* Bounded seeded fuzz: never crashes, any success yields a sane host. */
static void test_fuzz(void **state)
{
	static const char alphabet[] = "htps:/@[]%.0123456789abcdefx:#?\\ -_ABC";
	unsigned int rng = 42;
	char text[64];

	(void)state;
	for (int i = 0; i < 50000; i++) {
		size_t len = (size_t)rand_r(&rng) % (sizeof(text) - 1);
		struct target t;

		for (size_t j = 0; j < len; j++)
			text[j] = alphabet[(size_t)rand_r(&rng) % (sizeof(alphabet) - 1)];
		text[len] = '\0';
		if (i % 3 == 0 && len > 7)
			memcpy(text, "http://", 7);
		if (target_parse(text, &t) == 0) {
			assert_true(strlen(t.host) > 0);
			assert_true(strlen(t.host) <= TARGET_HOST_MAX);
			assert_null(strchr(t.host, '@'));
			assert_null(strchr(t.host, '/'));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
