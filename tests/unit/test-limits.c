/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-limits.c - limits_parse_pids(), limits_parse_memory(),
 * limits_narrow(): `limits:`, --limit-pids and --limit-memory */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const struct {
	const char *in;
	int err;
	uint64_t bytes;
} sizes[] = {
	{ "4194304", 0, 4ULL << 20 },
	{ "4M", 0, 4ULL << 20 },
	{ "32M", 0, 32ULL << 20 },
	{ "512MiB", 0, 512ULL << 20 },
	{ "4096K", 0, 4ULL << 20 },
	{ "4096KiB", 0, 4ULL << 20 },
	{ "2G", 0, 2ULL << 30 },
	{ "2GiB", 0, 2ULL << 30 },
	{ "1T", 0, 1ULL << 40 },
	{ "1TiB", 0, 1ULL << 40 },
	{ "1048576T", 0, 1ULL << 60 },		/* LIMIT_MEMORY_MAX exactly */
	{ "4194303", -ERANGE, 0 },		/* a byte short of 4 MiB */
	{ "3M", -ERANGE, 0 },
	{ "4095K", -ERANGE, 0 },
	{ "0", -ERANGE, 0 },
	{ "0G", -ERANGE, 0 },
	{ "1048577T", -ERANGE, 0 },
	{ "99999999999999999999", -ERANGE, 0 },	/* strtoull overflow */
	{ "18446744073709551615G", -ERANGE, 0 },	/* would wrap when shifted */
	{ "", -EINVAL, 0 },
	{ "M", -EINVAL, 0 },
	{ "-5M", -EINVAL, 0 },
	{ "+5M", -EINVAL, 0 },
	{ " 5M", -EINVAL, 0 },
	{ "5M ", -EINVAL, 0 },
	{ "5 M", -EINVAL, 0 },
	{ "64MB", 0, 64000000 },		/* decimal, as under rates: */
	{ "64m", -EINVAL, 0 },
	{ "64Mi", -EINVAL, 0 },
	{ "12X", -EINVAL, 0 },
	{ "1.5G", -EINVAL, 0 },
	{ "0x10M", -EINVAL, 0 },
};

static void test_memory(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t v = 12345;
		int err = limits_parse_memory(sizes[i].in, &v);

		if (err != sizes[i].err)
			fail_msg("'%s': %d, expected %d", sizes[i].in, err, sizes[i].err);
		if (!err && v != sizes[i].bytes)
			fail_msg("'%s': %llu", sizes[i].in, (unsigned long long)v);
		if (err && v != 12345)
			fail_msg("'%s': the result was written on failure", sizes[i].in);
	}
	assert_int_equal(limits_parse_memory(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_pids(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(limits_parse_pids("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(limits_parse_pids("20", &v), 0);
	assert_int_equal(v, 20);
	assert_int_equal(limits_parse_pids("4194304", &v), 0);
	assert_int_equal(v, 4194304);
	assert_int_equal(limits_parse_pids("0", &v), -ERANGE);
	assert_int_equal(limits_parse_pids("4194305", &v), -ERANGE);
	assert_int_equal(limits_parse_pids("99999999999999999999", &v), -ERANGE);
	assert_int_equal(limits_parse_pids("", &v), -EINVAL);
	assert_int_equal(limits_parse_pids("-1", &v), -EINVAL);
	assert_int_equal(limits_parse_pids("20k", &v), -EINVAL);
	assert_int_equal(limits_parse_pids(" 20", &v), -EINVAL);
	assert_int_equal(limits_parse_pids("max", &v), -EINVAL);
	assert_int_equal(limits_parse_pids(NULL, &v), -EINVAL);
	assert_int_equal(v, 4194304);
}

static void test_narrow(void **state)
{
	struct nbj_limits to = { 0 }, from;

	(void)state;
	from = (struct nbj_limits){ .pids = 50 };
	limits_narrow(&to, &from);			/* none so far: taken */
	assert_int_equal(to.pids, 50);
	assert_int_equal(to.memory, 0);
	from = (struct nbj_limits){ .pids = 100, .memory = 64ULL << 20 };
	limits_narrow(&to, &from);			/* a larger one never widens */
	assert_int_equal(to.pids, 50);
	assert_int_equal(to.memory, 64ULL << 20);
	from = (struct nbj_limits){ .pids = 20, .memory = 0 };
	limits_narrow(&to, &from);			/* smaller wins; 0 removes nothing */
	assert_int_equal(to.pids, 20);
	assert_int_equal(to.memory, 64ULL << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_narrow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
