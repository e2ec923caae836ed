/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-pool.c - address pool arithmetic and conflict checks */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netns/pool.h"

static void assert_v4(struct in_addr a, const char *want)
{
	char buf[INET_ADDRSTRLEN];

	assert_non_null(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void assert_v6(const struct in6_addr *a, const char *want)
{
	char buf[INET6_ADDRSTRLEN];

	assert_non_null(inet_ntop(AF_INET6, a, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void test_parse(void **state)
{
	struct nbj_prefix p;
	static const char *const bad[] = {
		"", "10.0.0.0", "10.0.0.0/", "10.0.0.0/31", "10.0.0.1/16",
		"10.0.0.0/-1", "10.0.0.0/16x", "fd00::/65", "fd00::1/64",
		"nonsense/8", "10.0.0.0/+8", "10.0.0.0/ 8",
	};

	(void)state;
	assert_int_equal(pool_parse_prefix("10.231.0.0/16", &p), 0);
	assert_int_equal(p.addr.family, AF_INET);
	assert_int_equal(p.prefixlen, 16);
	assert_int_equal(pool_parse_prefix("fd6e:626a:6169::/48", &p), 0);
	assert_int_equal(p.addr.family, AF_INET6);
	assert_int_equal(p.prefixlen, 48);
	assert_int_equal(pool_parse_prefix("192.168.77.0/30", &p), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pool_parse_prefix(bad[i], &p), -EINVAL);
}

static void test_slots(void **state)
{
	struct pool_config cfg;
	struct job_net n;

	(void)state;
	pool_config_default(&cfg);
	assert_int_equal(pool_slot_count(&cfg), 16384);

	pool_slot_net(&cfg, 0, &n);
	assert_v4(n.host4, "10.231.0.1");
	assert_v4(n.job4, "10.231.0.2");
	assert_v6(&n.host6, "fd6e:626a:6169::1");
	assert_v6(&n.job6, "fd6e:626a:6169::2");

	pool_slot_net(&cfg, 1, &n);
	assert_v4(n.host4, "10.231.0.5");
	assert_v6(&n.job6, "fd6e:626a:6169:1::2");

	pool_slot_net(&cfg, 16383, &n);
	assert_v4(n.job4, "10.231.255.254");
	assert_v6(&n.host6, "fd6e:626a:6169:3fff::1");

	assert_int_equal(pool_parse_prefix("10.9.0.0/28", &cfg.v4), 0);
	assert_int_equal(pool_slot_count(&cfg), 4);
}

static void test_slots_distinct(void **state)
{
	struct pool_config cfg;
	struct job_net a, b;

	(void)state;
	pool_config_default(&cfg);
	for (unsigned i = 0; i < 64; i++) {
		pool_slot_net(&cfg, i, &a);
		for (unsigned j = i + 1; j < 64; j++) {
			pool_slot_net(&cfg, j, &b);
			assert_int_not_equal(a.host4.s_addr & htonl(~3u),
					     b.host4.s_addr & htonl(~3u));
			assert_memory_not_equal(&a.host6, &b.host6, 8);
		}
	}
}

static void test_conflicts(void **state)
{
	struct pool_config cfg;
	struct nbj_prefix used[3];
	struct job_net n;

	(void)state;
	pool_config_default(&cfg);
	pool_slot_net(&cfg, 2, &n); /* 10.231.0.8/30 */

	assert_int_equal(pool_parse_prefix("0.0.0.0/0", &used[0]), 0);
	assert_false(pool_slot_conflicts(&n, used, 1));

	assert_int_equal(pool_parse_prefix("10.0.0.0/8", &used[0]), 0);
	assert_true(pool_slot_conflicts(&n, used, 1));

	assert_int_equal(pool_parse_prefix("10.231.0.12/30", &used[0]), 0);
	assert_false(pool_slot_conflicts(&n, used, 1));
	assert_int_equal(pool_parse_prefix("10.231.0.8/30", &used[0]), 0);
	assert_true(pool_slot_conflicts(&n, used, 1));

	/* a single host address inside the /30 */
	memset(&used[1], 0, sizeof(used[1]));
	used[1].addr.family = AF_INET;
	inet_pton(AF_INET, "10.231.0.10", &used[1].addr.v4);
	used[1].prefixlen = 32;
	assert_true(pool_slot_conflicts(&n, &used[1], 1));

	assert_int_equal(pool_parse_prefix("fd6e:626a:6169:2::/64", &used[2]), 0);
	assert_true(pool_slot_conflicts(&n, &used[2], 1));
	assert_int_equal(pool_parse_prefix("fd6e:626a:6169:3::/64", &used[2]), 0);
	assert_false(pool_slot_conflicts(&n, &used[2], 1));
	assert_int_equal(pool_parse_prefix("fd00::/8", &used[2]), 0);
	assert_true(pool_slot_conflicts(&n, &used[2], 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_slots_distinct),
		cmocka_unit_test(test_conflicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
