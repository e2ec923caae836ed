/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/rate.c - token buckets on shared memory (GCRA)
 *
 * Theory of operation: a token bucket of rate r and depth b is kept as a
 * single number, the theoretical arrival time (TAT) of the next unit
 * (the generic cell rate algorithm).  Each unit costs T = 1/r; taking n
 * units at time t moves TAT to max(TAT, t) + n*T, and is allowed when
 * that lies no further than b*T ahead of t.  One 64-bit word per bucket
 * means one compare-and-swap per decision, so a bucket can live in memory
 * that several processes map (the supervisor, the relay, the jobs of one
 * tenant) without a lock, and a process that dies mid-update leaves
 * nothing half-written.  Times are CLOCK_MONOTONIC nanoseconds, the same
 * for every process of the machine.
 *
 * A bucket in shared memory can hold any number (a job's relay can write
 * its mappings, common/audit.h): no sum here may wrap, so a TAT further
 * ahead than any take could have put it means "empty", never "full".
 */
#include <time.h>

#include "common/rate.h"

#define NS_PER_S 1000000000ULL

/**
 * rate_now_ns() - the clock the buckets use
 *
 * Return: CLOCK_MONOTONIC in nanoseconds
 */
uint64_t rate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t cost_ns(const struct rate_limit *l)
{
	uint64_t t = NS_PER_S / l->per_s;

	return t ? t : 1;
}

/**
 * rate_take_upto() - take as many units as the bucket allows, up to @want
 * @b:		bucket
 * @l:		its parameters; per_s 0 means no limit
 * @want:	units wanted
 * @now:	rate_now_ns()
 *
 * Return: the units taken, 0 to @want
 */
uint64_t rate_take_upto(struct rate_bucket *b, const struct rate_limit *l,
			uint64_t want, uint64_t now)
{
	uint64_t t, depth, tat, base, room, n;

	if (!l->per_s)
		return want;
	t = cost_ns(l);
	depth = (l->burst ? l->burst : 1) * t;
	tat = atomic_load_explicit(&b->tat, memory_order_relaxed);
	do {
		base = tat > now ? tat : now;
		if (base - now >= depth)
			return 0;
		room = (depth - (base - now)) / t;
		n = want < room ? want : room;
		if (!n)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&b->tat, &tat, base + n * t,
							memory_order_relaxed,
							memory_order_relaxed));
	return n;
}

/**
 * rate_take() - take exactly @n units, or none
 * @b:		bucket
 * @l:		its parameters
 * @n:		units
 * @now:	rate_now_ns()
 *
 * Return: true if they were taken
 */
bool rate_take(struct rate_bucket *b, const struct rate_limit *l, uint64_t n,
	       uint64_t now)
{
	uint64_t t, depth, tat, base;

	if (!l->per_s)
		return true;
	t = cost_ns(l);
	depth = (l->burst ? l->burst : 1) * t;
	tat = atomic_load_explicit(&b->tat, memory_order_relaxed);
	do {
		base = tat > now ? tat : now;
		if (base - now > depth || n > (depth - (base - now)) / t)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&b->tat, &tat, base + n * t,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

/**
 * rate_wait_ns() - how long until one unit can be taken
 * @b:		bucket
 * @l:		its parameters
 * @now:	rate_now_ns()
 *
 * Return: nanoseconds, 0 if one can be taken now
 */
uint64_t rate_wait_ns(const struct rate_bucket *b, const struct rate_limit *l,
		      uint64_t now)
{
	uint64_t t, depth, tat;

	if (!l->per_s)
		return 0;
	t = cost_ns(l);
	depth = (l->burst ? l->burst : 1) * t;
	tat = atomic_load_explicit(&((struct rate_bucket *)b)->tat, memory_order_relaxed);
	if (tat <= now || tat - now <= depth - t)
		return 0;
	return tat - now - (depth - t);
}

/**
 * rate_refund() - give back units taken but not used
 * @b:		bucket
 * @l:		its parameters
 * @n:		units
 */
void rate_refund(struct rate_bucket *b, const struct rate_limit *l, uint64_t n)
{
	if (l->per_s && n)
		atomic_fetch_sub_explicit(&b->tat, n * cost_ns(l), memory_order_relaxed);
}
