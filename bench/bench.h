/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/bench.h - what the C helpers of bench/ share: a monotonic clock
 * and the order for sorting samples (each helper is compiled on its own
 * by bench/run, so these are static inline)
 */
#ifndef NBJ_BENCH_H
#define NBJ_BENCH_H

#include <time.h>

/* CLOCK_MONOTONIC in seconds */
static inline double bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* qsort() order of doubles, ascending */
static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif /* NBJ_BENCH_H */
