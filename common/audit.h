/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/audit.h - audit events and the per-job statistics they feed
 *
 * Producers (the supervisor's seccomp notifier, the relay) count every
 * decision in the job's statistics (struct job_stats, a file mapped
 * shared by every process of the job, common/stats.c) and send one
 * struct audit_event per event to the job's audit writer
 * (relay/auditd.c) over a SOCK_SEQPACKET socket that never blocks them:
 * when it is full the event is dropped and counted, the counters stay
 * exact.  The writer aggregates, keeps the ring of recent denials and
 * writes journald and JSON lines.  nbjail-audit(7) is the reference for
 * every field.
 */
#ifndef NBJ_COMMON_AUDIT_H
#define NBJ_COMMON_AUDIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/rate.h"
#include "policy/policy.h"

#define AUDIT_TARGET_MAX 512	/* targets are cut here */
#define AUDIT_SEND_MANY_MAX 64	/* events per audit_send_many() */
#define AUDIT_FIELDS_MAX 4	/* --audit-field: extra fields of every event */
#define AUDIT_FIELD_MAX 160	/* "KEY=VALUE" with its NUL */
#define AUDIT_RING 128		/* denials and terminated requests kept for `nbjail ctl recent` */
#define AUDIT_REASONS 96	/* counters per lane and outcome: enum decide_reason (64 in use) */

/* What happened; each kind has its own stable MESSAGE_ID */
enum audit_kind {
	AUDIT_JOB_START,
	AUDIT_JOB_END,
	AUDIT_DENY,
	AUDIT_FLOOR_EXCEPTION,
	AUDIT_REVOKE,
	AUDIT_RATE_LIMITED,
	AUDIT_RELAY_FAILURE,
	AUDIT_DOCK_CALL,	/* an allowed call of the job's dock */
	AUDIT_INBOUND,		/* an inbound HTTP request admitted or refused */
	AUDIT_HTTP_REQUEST,	/* a request on a TLS-terminated flow (relay/term.c) */
	AUDIT_KIND_COUNT,
};

/* Where a decision was taken */
enum audit_lane {
	LANE_SECCOMP,	/* the supervisor, at the socket call */
	LANE_TCP,	/* the relay, a TCP flow */
	LANE_DNS,	/* the relay's DNS stub */
	LANE_JOB,	/* the job as a whole (start, end, revoke) */
	LANE_DOCK,	/* the relay, a broker call of the job's dock */
	LANE_INBOUND,	/* the relay, an inbound HTTP request (publish mode http) */
	LANE_COUNT,
};

enum audit_outcome {
	OUTCOME_ALLOWED,
	OUTCOME_DENIED,
	OUTCOME_COUNT,
};

/**
 * struct audit_event - one event, as sent to the audit writer
 * @kind:	enum audit_kind
 * @lane:	enum audit_lane
 * @pid:	the process concerned (host pid), 0 if none
 * @usec:	CLOCK_REALTIME, microseconds
 * @call:	system call (seccomp lane), "" otherwise
 * @reason:	reason as in the log lines ("floor:metadata", "rate", ...)
 * @target:	what was asked for ("10.0.0.1:80", "name:443(198.18.0.3)",
 *		a DNS name, a socket path), cut to AUDIT_TARGET_MAX bytes
 * @resolved:	what a name resolved to, "" if none
 * @exe:	the process's executable, "" if unknown
 * @peer:	the job's address and port (relay lanes), "" otherwise
 * @detail:	kind-specific text: exit status, exception pattern, error
 * @overlay:	the overlay a flow was dialled through, "" for direct
 */
struct audit_event {
	uint32_t kind;
	uint32_t lane;
	int32_t pid;
	uint64_t usec;
	char call[16];
	char reason[48];
	char target[AUDIT_TARGET_MAX + 1];
	char resolved[256];
	char exe[256];
	char peer[64];
	char detail[128];
	char overlay[32];
};

/**
 * struct audit_denial - one entry of the ring of recent denials (and of
 * the requests on TLS-terminated flows, allowed ones too: kind
 * AUDIT_HTTP_REQUEST); written by the audit writer under a sequence lock
 * (@seq odd while writing)
 * @seq:	sequence lock
 * @lane:	enum audit_lane
 * @pid:	the process
 * @kind:	enum audit_kind of the event
 * @usec:	when
 * @reason:	why
 * @target:	what
 * @exe:	who
 * @call:	the event's call (a request's method)
 * @detail:	the event's detail (a request's status and credential)
 */
struct audit_denial {
	_Atomic uint32_t seq;
	uint32_t lane;
	int32_t pid;
	uint32_t kind;
	uint64_t usec;
	char reason[48];
	char target[AUDIT_TARGET_MAX + 1];
	char exe[256];
	char call[16];
	char detail[128];
};

#define JOB_STATS_MAGIC 0x6e626a7374617437ULL	/* "nbjstat7": ring entries with kind, call, detail */

/*
 * What shared memory may hold (issue 16, item 7).  The statistics file
 * and the tenant file are mapped read-write by processes that trust
 * nobody and that nobody trusts: the job's relay and its audit writer.
 * So they hold integer words only (counters, flags, token buckets) and,
 * in the ring of recent denials, text the job chose anyway.  Nothing
 * more trusted (the supervisor, the keeper, `nbjail ctl`, `nbjail gc`)
 * takes a path, a pid, a name or a size from them: a job's id is the
 * name of its directory, its name, tenant, pids and tenant slot are in
 * files only the supervisor writes (supervisor/state.c), its limits are
 * in struct audit_ctx (private to each process).  Whatever is read from
 * a mapping is an untrusted number: bounded before it indexes anything,
 * printed escaped.  common/stats.c checks at compile time that every
 * field of the structures below is a 64-bit integer word (JOB_STATS_FIELDS,
 * TENANT_STATE_FIELDS, TENANT_SLOT_FIELDS); the ring is the one, listed,
 * exception.
 */

/**
 * struct job_stats - the live statistics of one job, in DIR/ID/stats;
 * mapped by the supervisor, the relay and the audit writer, read by
 * `nbjail ctl`.  Integer words only, see above.
 * @magic:	JOB_STATS_MAGIC once initialized
 * @size:	sizeof(struct job_stats) of the writer
 * @revoked:	nonzero once revoked (kept for the job's life)
 * @revoked_usec: when
 * @counters:	decisions by lane, outcome and reason (enum decide_reason)
 * @flows_active: TCP flows relayed now
 * @flows_total: TCP flows relayed since start
 * @bytes_up:	bytes from the job to the world
 * @bytes_down:	bytes from the world to the job
 * @events_sent: events handed to the audit writer
 * @events_dropped: events lost because the writer's queue was full
 * @events_suppressed: events folded into "N more like this"
 * @journal_errors: events journald did not take
 * @bytes:	the job's bucket of bytes (the relay's; the job's bucket of
 *		connect attempts is the supervisor's own, seccomp/notify.c)
 * @ring_next:	index of the next ring entry to write (mod AUDIT_RING)
 * @ring:	the last AUDIT_RING denials and terminated requests (text
 *		for display only)
 */
struct job_stats {
	uint64_t magic;
	uint64_t size;
	_Atomic uint64_t revoked;
	_Atomic uint64_t revoked_usec;
	_Atomic uint64_t counters[LANE_COUNT][OUTCOME_COUNT][AUDIT_REASONS];
	_Atomic uint64_t flows_active;
	_Atomic uint64_t flows_total;
	_Atomic uint64_t bytes_up;
	_Atomic uint64_t bytes_down;
	_Atomic uint64_t events_sent;
	_Atomic uint64_t events_dropped;
	_Atomic uint64_t events_suppressed;
	_Atomic uint64_t journal_errors;
	struct rate_bucket bytes;
	_Atomic uint64_t ring_next;
	struct audit_denial ring[AUDIT_RING];
};

/* Every field of struct job_stats but the ring, for the layout check */
#define JOB_STATS_FIELDS(X)                                                    \
	X(magic, magic) X(size, size) X(revoked, revoked)                      \
	X(revoked_usec, revoked_usec) X(counters, counters[0][0][0])           \
	X(flows_active, flows_active) X(flows_total, flows_total)              \
	X(bytes_up, bytes_up) X(bytes_down, bytes_down)                        \
	X(events_sent, events_sent) X(events_dropped, events_dropped)          \
	X(events_suppressed, events_suppressed)                                \
	X(journal_errors, journal_errors) X(bytes, bytes.tat)                  \
	X(ring_next, ring_next)

/**
 * struct job_limits - the job's limits; each process keeps its own copy
 * (struct audit_ctx), none is read from shared memory
 * @connects:	the job's connect attempts per second and burst
 * @bytes:	the job's bytes per second and burst (per_s 0: none)
 * @concurrent:	the job's flows at once (0: the relay's table)
 * @tenant_connects: limits this job's policy sets on its tenant
 * @tenant_bytes: (shared buckets in struct tenant_state)
 * @tenant_concurrent:
 * @dock:	the job's dock calls per second and burst, applied to the
 *		tenant's bucket (struct tenant_state.dock, relay/dock.c)
 */
struct job_limits {
	struct rate_limit connects;
	struct rate_limit bytes;
	uint64_t concurrent;
	struct rate_limit tenant_connects;
	struct rate_limit tenant_bytes;
	uint64_t tenant_concurrent;
	struct rate_limit dock;
};

#define TENANT_STATE_MAGIC 0x6e626a74656e3034ULL	/* "nbjten04" */
#define TENANT_STATE_INIT 1ULL				/* being initialized */
#define TENANT_SLOTS 256
#define TENANT_SLOT_RELEASING UINT64_MAX		/* nbjail gc frees it */

/**
 * struct tenant_slot - one job's share of its tenant's flows
 * @claim:	0 when free, else the claim's number (compare-and-swap from
 *		0; gc frees a slot by swapping the number it saw, so a slot
 *		claimed again meanwhile is left alone); which job holds a
 *		slot is in that job's own info file, never here
 * @active:	its flows now
 */
struct tenant_slot {
	_Atomic uint64_t claim;
	_Atomic uint64_t active;
};

/**
 * struct tenant_state - what the jobs of one tenant share, in
 * DIR/tenants/NAME (supervisor/tenant.c); integer words only, see above
 * @magic:	TENANT_STATE_MAGIC once initialized
 * @size:	sizeof(struct tenant_state)
 * @claims:	claims made so far (numbers the slots' claims)
 * @connects:	the tenant's bucket of connect attempts
 * @bytes:	the tenant's bucket of bytes
 * @dock:	the tenant's bucket of dock calls (relay/dock.c)
 * @slots:	each job's flows, for the tenant's concurrency limit
 */
struct tenant_state {
	_Atomic uint64_t magic;
	uint64_t size;
	_Atomic uint64_t claims;
	struct rate_bucket connects;
	struct rate_bucket bytes;
	struct rate_bucket dock;
	struct tenant_slot slots[TENANT_SLOTS];
};

/* Every field of struct tenant_state, for the layout check */
#define TENANT_STATE_FIELDS(X)                                                 \
	X(magic, magic) X(size, size) X(claims, claims)                        \
	X(connects, connects.tat) X(bytes, bytes.tat) X(dock, dock.tat)        \
	X(slots, slots[0].claim)

/* Every field of struct tenant_slot */
#define TENANT_SLOT_FIELDS(X) X(claim, claim) X(active, active)

/**
 * struct audit_ctx - what a producer needs: the stats and the writer
 * @stats:	the job's statistics, NULL if none
 * @fd:		the writer's socket (non-blocking), -1 if none
 * @tenant:	the tenant's shared state, NULL if none
 * @tenant_slot: the job's slot in @tenant, -1 if none (the supervisor's
 *		value, copied: never read back from a mapping)
 * @limits:	the job's limits (a copy of the supervisor's)
 */
struct audit_ctx {
	struct job_stats *stats;
	int fd;
	struct tenant_state *tenant;
	int tenant_slot;
	struct job_limits limits;
};

const char *audit_kind_name(enum audit_kind kind);
const char *audit_message_id(enum audit_kind kind);
const char *audit_lane_name(enum audit_lane lane);
int audit_priority(enum audit_kind kind);

const char *stats_reason_name(unsigned index);
void stats_count(struct job_stats *s, enum audit_lane lane,
		 enum audit_outcome outcome, enum decide_reason reason);
int stats_create(const char *path, struct job_stats **ret);
int stats_open(const char *path, bool writable, struct job_stats **ret);
void stats_unmap(struct job_stats *s);
bool stats_ring_read(const struct job_stats *s, unsigned i,
		     struct audit_denial *ret);
void stats_ring_add(struct job_stats *s, const struct audit_event *ev);
uint64_t tenant_flows(const struct tenant_state *t);

void audit_event_init(struct audit_event *ev, enum audit_kind kind,
		      enum audit_lane lane);
void audit_set(char *field, size_t size, const char *value);
int audit_send(const struct audit_ctx *a, const struct audit_event *ev);
unsigned audit_send_many(const struct audit_ctx *a, const struct audit_event *ev, unsigned n);
void audit_deny(const struct audit_ctx *a, enum audit_lane lane, pid_t pid,
		const char *call, const char *target, const char *resolved,
		const char *exe, const char *peer, enum decide_reason reason);
size_t audit_json(const struct audit_event *ev, const char *job,
		  const char *tenant, unsigned long long suppressed,
		  char *buf, size_t len);
size_t audit_message(const struct audit_event *ev,
		     unsigned long long suppressed, char *buf, size_t len);

#define EVENT_SET(ev, field, value) audit_set((ev)->field, sizeof((ev)->field), value)
/* copy @v at @at of a fixed field, cut to its size */
#define EVENT_SET_AT(field, at, v) audit_set((field) + (at), sizeof(field) - (at), (v))

#endif /* NBJ_COMMON_AUDIT_H */
