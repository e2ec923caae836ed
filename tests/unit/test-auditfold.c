/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-auditfold.c - folding floods of denials: the first of
 * each window is kept, every denial is counted, junk of other reasons
 * cannot push a real denial out of the trail
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/auditfold.h"

#define MAX_OUT 4096

struct out {
	size_t n;
	struct audit_event ev[MAX_OUT];
	unsigned long long suppressed[MAX_OUT];
};

static void record(void *ctx, const struct audit_event *ev, unsigned long long suppressed)
{
	struct out *o = ctx;

	assert_true(o->n < MAX_OUT);
	o->ev[o->n] = *ev;
	o->suppressed[o->n++] = suppressed;
}

static struct audit_event denial(const char *reason, const char *target)
{
	struct audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = AUDIT_DENY;
	ev.lane = LANE_SECCOMP;
	ev.pid = 42;
	EVENT_SET(&ev, call, "connect");
	EVENT_SET(&ev, reason, reason);
	EVENT_SET(&ev, target, target);
	EVENT_SET(&ev, exe, "/usr/bin/python3");
	return ev;
}

/* Every denial is accounted for: written ones count 1, summaries N */
static unsigned long long total(const struct out *o)
{
	unsigned long long n = 0;

	for (size_t i = 0; i < o->n; i++)
		n += o->suppressed[i] ? o->suppressed[i] : 1;
	return n;
}

static struct audit_fold *new_fold(void)
{
	struct audit_fold *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	return f;
}

static void test_identical(void **state)
{
	struct audit_fold *f = new_fold();
	static struct out o;
	struct audit_event ev = denial("floor:private", "10.0.0.1:80");

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(audit_fold_timeout(f, 0), -1);
	assert_true(audit_fold_add(f, &ev, 0, record, &o));
	for (int i = 1; i < 300; i++)
		assert_false(audit_fold_add(f, &ev, i, record, &o));
	assert_int_equal(o.n, 1);
	assert_int_equal(audit_fold_timeout(f, 400), FOLD_WINDOW_MS - 400);
	audit_fold_flush(f, 999, false, record, &o);
	assert_int_equal(o.n, 1);
	audit_fold_flush(f, 1000, false, record, &o);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.suppressed[1], 299);
	assert_string_equal(o.ev[1].target, "10.0.0.1:80");
	assert_int_equal(total(&o), 300);
	assert_int_equal(audit_fold_timeout(f, 1000), -1);
	free(f);
}

/* The flood: 2000 distinct junk denials, then one real one.  The
 * real one is written at once, whole. */
static void test_flood_keeps_the_real_denial(void **state)
{
	struct audit_fold *f = new_fold();
	static struct out o;
	struct audit_event ev;
	char t[64];
	bool found = false;

	(void)state;
	memset(&o, 0, sizeof(o));
	for (int i = 0; i < 2000; i++) {
		snprintf(t, sizeof(t), "10.%d.%d.1:80", i / 250, i % 250);
		ev = denial("floor:private", t);
		(void)audit_fold_add(f, &ev, i / 4, record, &o);
	}
	ev = denial("floor:metadata", "169.254.169.254:80");
	ev.pid = 4242;
	assert_true(audit_fold_add(f, &ev, 500, record, &o));
	audit_fold_flush(f, 10000, true, record, &o);
	for (size_t i = 0; i < o.n; i++)
		if (!strcmp(o.ev[i].target, "169.254.169.254:80") && !o.suppressed[i]) {
			assert_string_equal(o.ev[i].reason, "floor:metadata");
			assert_int_equal(o.ev[i].pid, 4242);
			found = true;
		}
	assert_true(found);
	assert_int_equal(total(&o), 2001);
	/* bounded: 64 windows, one per reason, their summaries */
	assert_true(o.n <= FOLD_SLOTS + 2 + 2);
	free(f);
}

/* Past the identical windows, a reason's window keeps its first denial's
 * fields, not the last one's */
static void test_reason_window_keeps_the_first(void **state)
{
	struct audit_fold *f = new_fold();
	static struct out o;
	struct audit_event ev;
	char t[64];

	(void)state;
	memset(&o, 0, sizeof(o));
	for (int i = 0; i < FOLD_SLOTS; i++) {
		snprintf(t, sizeof(t), "fill-%d:80", i);
		ev = denial("not-allowed", t);
		assert_true(audit_fold_add(f, &ev, 0, record, &o));
	}
	ev = denial("floor:private", "10.0.0.1:22");
	assert_true(audit_fold_add(f, &ev, 1, record, &o));	/* written whole */
	for (int i = 0; i < 10; i++) {
		snprintf(t, sizeof(t), "10.9.9.%d:80", i);
		ev = denial("floor:private", t);
		assert_false(audit_fold_add(f, &ev, 2, record, &o));
	}
	assert_int_equal(o.n, FOLD_SLOTS + 1);
	audit_fold_flush(f, 5000, false, record, &o);
	assert_int_equal(o.n, FOLD_SLOTS + 2);
	assert_string_equal(o.ev[o.n - 1].target, "10.0.0.1:22");
	assert_string_equal(o.ev[o.n - 1].reason, "floor:private");
	assert_int_equal(o.suppressed[o.n - 1], 10);
	assert_non_null(strstr(o.ev[o.n - 1].detail, "10 more"));
	free(f);
}

/* Past the reason windows: one "various" window, the first denial's
 * fields, the distinct reasons named */
static void test_various_names_its_reasons(void **state)
{
	struct audit_fold *f = new_fold();
	static struct out o;
	static const char *const extra[] = { "s1", "s2", "s1", "s3" };
	struct audit_event ev;
	char t[64], r[16];

	(void)state;
	memset(&o, 0, sizeof(o));
	for (int i = 0; i < FOLD_SLOTS + FOLD_REASON_SLOTS; i++) {
		snprintf(t, sizeof(t), "fill-%d:80", i);
		snprintf(r, sizeof(r), "r%d", i < FOLD_SLOTS ? 0 : i);
		ev = denial(r, t);
		assert_true(audit_fold_add(f, &ev, 0, record, &o));
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(t, sizeof(t), "x-%zu:80", i);
		ev = denial(extra[i], t);
		assert_true(audit_fold_add(f, &ev, 1, record, &o) == (i == 0));
	}
	audit_fold_flush(f, 5000, false, record, &o);
	assert_string_equal(o.ev[o.n - 1].reason, "various");
	assert_string_equal(o.ev[o.n - 1].target, "x-0:80");	/* the first */
	assert_int_equal(o.suppressed[o.n - 1], 3);
	assert_string_equal(o.ev[o.n - 1].detail, "folded reasons: s1,s2,s3");
	assert_int_equal(total(&o), FOLD_SLOTS + FOLD_REASON_SLOTS + 4);

	/* more reasons than are named: said so */
	memset(&o, 0, sizeof(o));
	for (int i = 0; i < FOLD_SLOTS + FOLD_REASON_SLOTS; i++) {
		snprintf(t, sizeof(t), "fill-%d:80", i);
		snprintf(r, sizeof(r), "r%d", i < FOLD_SLOTS ? 0 : i);
		ev = denial(r, t);
		(void)audit_fold_add(f, &ev, 6000, record, &o);
	}
	for (int i = 0; i < FOLD_REASONS_KEPT + 3; i++) {
		snprintf(r, sizeof(r), "z%d", i);
		ev = denial(r, "z:1");
		(void)audit_fold_add(f, &ev, 6001, record, &o);
	}
	audit_fold_flush(f, 6001, true, record, &o);
	assert_string_equal(o.ev[o.n - 1].reason, "various");
	assert_non_null(strstr(o.ev[o.n - 1].detail, "z0,z1"));
	assert_non_null(strstr(o.ev[o.n - 1].detail, ",..."));
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_flood_keeps_the_real_denial),
		cmocka_unit_test(test_reason_window_keeps_the_first),
		cmocka_unit_test(test_various_names_its_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
