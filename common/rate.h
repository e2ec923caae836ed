/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/rate.h - token buckets on shared memory (GCRA)
 */
#ifndef NBJ_COMMON_RATE_H
#define NBJ_COMMON_RATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/**
 * struct rate_limit - the parameters of one bucket
 * @per_s:	sustained rate, units per second; 0 for no limit
 * @burst:	units that may be taken at once (at least 1)
 */
struct rate_limit {
	uint64_t per_s;
	uint64_t burst;
};

/**
 * struct rate_bucket - the state of one bucket: the theoretical arrival
 * time of the next unit (CLOCK_MONOTONIC, ns); shareable between
 * processes, updated with compare-and-swap
 * @tat:	theoretical arrival time
 */
struct rate_bucket {
	_Atomic uint64_t tat;
};

uint64_t rate_now_ns(void);
bool rate_take(struct rate_bucket *b, const struct rate_limit *l, uint64_t n,
	       uint64_t now);
uint64_t rate_take_upto(struct rate_bucket *b, const struct rate_limit *l,
			uint64_t want, uint64_t now);
void rate_refund(struct rate_bucket *b, const struct rate_limit *l, uint64_t n);
uint64_t rate_wait_ns(const struct rate_bucket *b, const struct rate_limit *l,
		      uint64_t now);

#endif /* NBJ_COMMON_RATE_H */
