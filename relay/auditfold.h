/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/auditfold.h - folding floods of denials (relay/auditfold.c)
 */
#ifndef NBJ_RELAY_AUDITFOLD_H
#define NBJ_RELAY_AUDITFOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/audit.h"

#define FOLD_WINDOW_MS 1000	/* how long a window stays open */
#define FOLD_SLOTS 64		/* windows of identical denials */
#define FOLD_REASON_SLOTS 64	/* windows of one reason, once those are taken */
#define FOLD_REASONS_KEPT 8	/* reasons named by the "various" summary */

/**
 * struct fold_window - an open window of folded denials
 * @used:	slot in use
 * @hash:	hash of the fields that identify its denials
 * @until_ms:	when it closes (CLOCK_MONOTONIC, ms)
 * @folded:	denials counted, not written (the first one was)
 * @first:	the first denial, written in full when it came
 */
struct fold_window {
	bool used;
	uint64_t hash;
	long long until_ms;
	unsigned long long folded;
	struct audit_event first;
};

/**
 * struct audit_fold - every open window of one job's audit writer
 * @same:	identical denials (kind, lane, reason, target, exe, call)
 * @reason:	denials of one kind, lane and reason, once @same is full
 * @various:	everything else, once @reason is full too
 * @reasons:	the distinct reasons folded into @various (the first ones)
 * @n_reasons:	how many of @reasons are set
 * @more_reasons: @various holds reasons beyond those
 */
struct audit_fold {
	struct fold_window same[FOLD_SLOTS];
	struct fold_window reason[FOLD_REASON_SLOTS];
	struct fold_window various;
	char reasons[FOLD_REASONS_KEPT][48];
	unsigned n_reasons;
	bool more_reasons;
};

/**
 * typedef fold_emit_fn - write one event
 * @ctx:	the caller's context
 * @ev:		event
 * @suppressed:	0 for an event written as it came; for a summary, how
 *		many denials it stands for besides the first one
 */
typedef void (*fold_emit_fn)(void *ctx, const struct audit_event *ev,
			     unsigned long long suppressed);

bool audit_fold_add(struct audit_fold *f, const struct audit_event *ev,
		    long long now_ms, fold_emit_fn emit, void *ctx);
void audit_fold_flush(struct audit_fold *f, long long now_ms, bool all,
		      fold_emit_fn emit, void *ctx);
int audit_fold_timeout(const struct audit_fold *f, long long now_ms);

#endif /* NBJ_RELAY_AUDITFOLD_H */
