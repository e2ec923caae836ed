/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-rate.c - GCRA buckets (common/rate.c) and the numbers of
 * `rates:` (policy/rates.c) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/rate.h"
#include "policy/policy.h"

#define S 1000000000ULL

static void test_burst_then_rate(void **state)
{
	struct rate_limit l = { .per_s = 10, .burst = 5 };
	struct rate_bucket b = { 0 };
	uint64_t now = 100 * S;
	int ok = 0;

	(void)state;
	for (int i = 0; i < 20; i++)
		ok += rate_take(&b, &l, 1, now);
	assert_int_equal(ok, 5);
	/* a tenth of a second later: one more */
	assert_true(rate_take(&b, &l, 1, now + S / 10));
	assert_false(rate_take(&b, &l, 1, now + S / 10));
	/* after a long pause, never more than the burst */
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += rate_take(&b, &l, 1, now + 100 * S);
	assert_int_equal(ok, 5);
}

/* Over any window of T seconds, at most burst + rate * T units pass */
static void test_window_bound(void **state)
{
	struct rate_limit l = { .per_s = RATE_FLOOR_CONNECTS_PER_S,
				.burst = RATE_FLOOR_CONNECTS_BURST };
	struct rate_bucket b = { 0 };
	uint64_t start = 5 * S, ok = 0;

	(void)state;
	/* one attempt every 10 us for 10 s: 1,000,000 attempts */
	for (uint64_t t = 0; t < 10 * S; t += 10000)
		ok += rate_take(&b, &l, 1, start + t);
	assert_true(ok <= 50000);
	assert_true(ok >= 49900);
}

static void test_take_upto_and_refund(void **state)
{
	struct rate_limit l = { .per_s = 1000, .burst = 100 };
	struct rate_bucket b = { 0 };
	uint64_t now = S;

	(void)state;
	assert_int_equal(rate_take_upto(&b, &l, 500, now), 100);
	assert_int_equal(rate_take_upto(&b, &l, 500, now), 0);
	assert_true(rate_wait_ns(&b, &l, now) > 0);
	rate_refund(&b, &l, 40);
	assert_int_equal(rate_take_upto(&b, &l, 500, now), 40);
	/* 10 ms later: 10 more */
	assert_int_equal(rate_take_upto(&b, &l, 500, now + S / 100), 10);
	/* no limit: everything */
	l.per_s = 0;
	assert_int_equal(rate_take_upto(&b, &l, 12345, now), 12345);
	assert_true(rate_take(&b, &l, 1000000, now));
}

/* A bucket another process wrote garbage into (a relay scribbling its
 * mapping): a TAT no take could have made counts as empty, and no sum
 * wraps into "full".  Before, TAT + cost wrapped past zero and was let
 * through whenever the clock was below one unit's cost (early after boot:
 * the case at S / 100 here) */
static void test_forged_tat_never_wraps(void **state)
{
	struct rate_limit l = { .per_s = 10, .burst = 5 };
	struct rate_bucket b;
	uint64_t nows[] = { S / 100, 100 * S };

	(void)state;
	for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++) {
		uint64_t now = nows[k];
		uint64_t forged[] = { UINT64_MAX, UINT64_MAX - 1000, UINT64_MAX - S / 10 + 1,
				      now + 10 * S };

		for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
			atomic_store(&b.tat, forged[i]);
			assert_false(rate_take(&b, &l, 1, now));
			assert_int_equal(rate_take_upto(&b, &l, 3, now), 0);
			assert_int_equal(atomic_load(&b.tat), forged[i]);
			assert_true(rate_wait_ns(&b, &l, now) > 0);
			assert_true(rate_wait_ns(&b, &l, now) <= forged[i] - now);
		}
		/* a huge take never wraps into an allowed one either */
		atomic_store(&b.tat, 0);
		assert_false(rate_take(&b, &l, UINT64_MAX / 2, now));
		assert_true(rate_take(&b, &l, 5, now));
	}
}

static void test_parse(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(rate_parse_bytes("10MB", &v), 0);
	assert_int_equal(v, 10000000);
	assert_int_equal(rate_parse_bytes("512KiB", &v), 0);
	assert_int_equal(v, 524288);
	assert_int_equal(rate_parse_bytes("1GiB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(rate_parse_bytes("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(rate_parse_bytes("0", &v), -ERANGE);
	assert_int_equal(rate_parse_bytes("10mb", &v), -EINVAL);
	assert_int_equal(rate_parse_bytes("-1", &v), -EINVAL);
	assert_int_equal(rate_parse_bytes("1 MB", &v), -EINVAL);
	assert_int_equal(rate_parse_bytes("99999999999999999999", &v), -ERANGE);
	assert_int_equal(rate_parse_bytes("9999999999GiB", &v), -ERANGE);
	assert_int_equal(rate_parse_count("4500", 4500, &v), 0);
	assert_int_equal(rate_parse_count("4501", 4500, &v), -ERANGE);
	assert_int_equal(rate_parse_count("0", 4500, &v), -ERANGE);
	assert_int_equal(rate_parse_count("+5", 4500, &v), -EINVAL);
	assert_int_equal(rate_parse_count("5x", 4500, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_window_bound),
		cmocka_unit_test(test_take_upto_and_refund),
		cmocka_unit_test(test_forged_tat_never_wraps),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
