/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/auditfold.c - fold floods of denials without losing the first
 *
 * Theory of operation: the audit writer (relay/auditd.c) passes every
 * denial through audit_fold_add(), which writes it at once or folds it
 * into an open window that audit_fold_flush() closes FOLD_WINDOW_MS later
 * with one summary.  Three tiers, each with a fixed number of windows:
 *
 *   1. identical denials (same kind, lane, reason, target, executable
 *      and call): FOLD_SLOTS windows.  The first denial is written, the
 *      next ones are counted; the summary repeats the first one's fields
 *      with "N more like this".
 *   2. once every tier-1 window is taken: denials of the same kind, lane
 *      and reason, FOLD_REASON_SLOTS windows.  Again the first one of
 *      each window is written in full, at once, and the summary carries
 *      its fields (never a later one's) and the count.
 *   3. once those are taken too: one window for everything else.  Its
 *      first denial is written in full; its summary keeps that first
 *      denial's fields, says reason "various", and names the distinct
 *      reasons it folded (the first FOLD_REASONS_KEPT, and whether there
 *      were more) in its detail.
 *
 * So a flood costs the journal at most FOLD_SLOTS + FOLD_REASON_SLOTS + 1
 * lines a second, plus as many summaries, and what it can hide is
 * bounded: the first denial of every reason in a window is written with
 * all its fields, every denial is counted in a summary, and a later
 * denial's target is lost only when an earlier denial of the same kind,
 * lane and reason already holds its tier-2 window (or tier 3 is open).
 * Junk denials of other reasons cannot push a real one out.
 *
 * Nothing is allocated; time comes from the caller (tests drive it).
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "relay/auditfold.h"

/* FNV-1a over some strings, seeded with the kind and lane */
static uint64_t hash_fields(const struct audit_event *ev, bool whole)
{
	const char *parts[] = { ev->reason, ev->target, ev->exe, ev->call };
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)ev->kind << 8 | ev->lane);

	for (size_t p = 0; p < (whole ? ARRAY_SIZE(parts) : 1); p++) {
		for (const char *s = parts[p]; *s; s++)
			h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL;
	}
	return h;
}

static bool same_reason(const struct audit_event *a, const struct audit_event *b)
{
	return a->kind == b->kind && a->lane == b->lane && !strcmp(a->reason, b->reason);
}

static bool same_event(const struct audit_event *a, const struct audit_event *b)
{
	return same_reason(a, b) && !strcmp(a->target, b->target) &&
	       !strcmp(a->exe, b->exe) && !strcmp(a->call, b->call);
}

/*
 * Look @ev up in @w (@n windows): true if an open window took it;
 * else *@ret_free is a free window, or NULL
 */
static bool fold_into(struct fold_window *w, size_t n, const struct audit_event *ev,
		      uint64_t h, bool whole, struct fold_window **ret_free)
{
	*ret_free = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!w[i].used) {
			if (!*ret_free)
				*ret_free = &w[i];
			continue;
		}
		if (w[i].hash == h &&
		    (whole ? same_event(&w[i].first, ev) : same_reason(&w[i].first, ev))) {
			w[i].folded++;
			return true;
		}
	}
	return false;
}

static void open_window(struct fold_window *w, const struct audit_event *ev, uint64_t h,
			long long now_ms)
{
	*w = (struct fold_window){
		.used = true,
		.hash = h,
		.until_ms = now_ms + FOLD_WINDOW_MS,
		.first = *ev,
	};
}

static void note_reason(struct audit_fold *f, const char *reason)
{
	for (unsigned i = 0; i < f->n_reasons; i++)
		if (!strcmp(f->reasons[i], reason))
			return;
	if (f->n_reasons == FOLD_REASONS_KEPT) {
		f->more_reasons = true;
		return;
	}
	snprintf(f->reasons[f->n_reasons++], sizeof(f->reasons[0]), "%s", reason);
}

/**
 * audit_fold_add() - write a denial, or fold it into an open window
 * @f:		the writer's windows
 * @ev:		the denial (kind deny or rate-limited), fields terminated
 * @now_ms:	CLOCK_MONOTONIC, milliseconds
 * @emit:	writes an event
 * @ctx:	for @emit
 *
 * Return: true if @ev was written now (the first of its window), false
 * if it was folded (a later summary counts it)
 */
bool audit_fold_add(struct audit_fold *f, const struct audit_event *ev,
		    long long now_ms, fold_emit_fn emit, void *ctx)
{
	struct fold_window *free_same, *free_reason;
	uint64_t h = hash_fields(ev, true), hr = hash_fields(ev, false);

	if (fold_into(f->same, FOLD_SLOTS, ev, h, true, &free_same))
		return false;
	if (free_same) {
		open_window(free_same, ev, h, now_ms);
		emit(ctx, ev, 0);
		return true;
	}
	if (fold_into(f->reason, FOLD_REASON_SLOTS, ev, hr, false, &free_reason))
		return false;
	if (free_reason) {
		open_window(free_reason, ev, hr, now_ms);
		emit(ctx, ev, 0);
		return true;
	}
	note_reason(f, ev->reason);
	if (f->various.used) {
		f->various.folded++;
		return false;
	}
	open_window(&f->various, ev, 0, now_ms);
	emit(ctx, ev, 0);
	return true;
}

/* The summary of a tier-2 window: the first denial's fields, the count */
static void emit_reason_summary(const struct fold_window *w, fold_emit_fn emit, void *ctx)
{
	struct audit_event ev = w->first;

	snprintf(ev.detail, sizeof(ev.detail),
		 "folded: %llu more with this reason after %d distinct denials; the first shown",
		 w->folded, FOLD_SLOTS);
	emit(ctx, &ev, w->folded);
}

/* The summary of the tier-3 window: the first denial's fields, reason
 * "various", the distinct reasons in the detail */
static void emit_various_summary(struct audit_fold *f, fold_emit_fn emit, void *ctx)
{
	struct audit_event ev = f->various.first;
	size_t o;

	EVENT_SET(&ev, reason, "various");
	o = (size_t)snprintf(ev.detail, sizeof(ev.detail), "folded reasons:");
	for (unsigned i = 0; i < f->n_reasons && o < sizeof(ev.detail); i++)
		o += (size_t)snprintf(ev.detail + o, sizeof(ev.detail) - o, "%s%s",
				      i ? "," : " ", f->reasons[i]);
	if (f->more_reasons && o < sizeof(ev.detail))
		(void)snprintf(ev.detail + o, sizeof(ev.detail) - o, ",...");
	emit(ctx, &ev, f->various.folded);
}

/**
 * audit_fold_flush() - close the windows that are due, writing their
 * summaries
 * @f:		the writer's windows
 * @now_ms:	CLOCK_MONOTONIC, milliseconds
 * @all:	close every window (the job ends)
 * @emit:	writes an event
 * @ctx:	for @emit
 */
void audit_fold_flush(struct audit_fold *f, long long now_ms, bool all,
		      fold_emit_fn emit, void *ctx)
{
	for (size_t i = 0; i < FOLD_SLOTS; i++) {
		struct fold_window *w = &f->same[i];

		if (!w->used || (!all && w->until_ms > now_ms))
			continue;
		if (w->folded)
			emit(ctx, &w->first, w->folded);
		w->used = false;
	}
	for (size_t i = 0; i < FOLD_REASON_SLOTS; i++) {
		struct fold_window *w = &f->reason[i];

		if (!w->used || (!all && w->until_ms > now_ms))
			continue;
		if (w->folded)
			emit_reason_summary(w, emit, ctx);
		w->used = false;
	}
	if (f->various.used && (all || f->various.until_ms <= now_ms)) {
		if (f->various.folded)
			emit_various_summary(f, emit, ctx);
		f->various.used = false;
		f->n_reasons = 0;
		f->more_reasons = false;
	}
}

/**
 * audit_fold_timeout() - how long until the next window closes
 * @f:		the writer's windows
 * @now_ms:	CLOCK_MONOTONIC, milliseconds
 *
 * Return: milliseconds (0: one is due), -1 if none is open
 */
int audit_fold_timeout(const struct audit_fold *f, long long now_ms)
{
	long long next = -1;

	for (size_t i = 0; i < FOLD_SLOTS; i++)
		if (f->same[i].used && (next < 0 || f->same[i].until_ms < next))
			next = f->same[i].until_ms;
	for (size_t i = 0; i < FOLD_REASON_SLOTS; i++)
		if (f->reason[i].used && (next < 0 || f->reason[i].until_ms < next))
			next = f->reason[i].until_ms;
	if (f->various.used && (next < 0 || f->various.until_ms < next))
		next = f->various.until_ms;
	if (next < 0)
		return -1;
	return next > now_ms ? (int)(next - now_ms) : 0;
}
