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
#define AUDIT_RING 128		/* denials kept for `nbjail ctl recent` */
#define AUDIT_REASONS 64	/* counters per lane and outcome: enum decide_reason */

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
	AUDIT_KIND_COUNT,
};

/* Where a decision was taken */
enum audit_lane {
	LANE_SECCOMP,	/* the supervisor, at the socket call */
	LANE_TCP,	/* the relay, a TCP flow */
	LANE_DNS,	/* the relay's DNS stub */
	LANE_JOB,	/* the job as a whole (start, end, revoke) */
	LANE_DOCK,	/* the relay, a broker call of the job's dock */
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
 * struct audit_denial - one entry of the ring of recent denials; written
 * by the audit writer under a sequence lock (@seq odd while writing)
 * @seq:	sequence lock
 * @lane:	enum audit_lane
 * @pid:	the process
 * @usec:	when
 * @reason:	why
 * @target:	what
 * @exe:	who
 */
struct audit_denial {
	_Atomic uint32_t seq;
	uint32_t lane;
	int32_t pid;
	uint64_t usec;
	char reason[48];
	char target[AUDIT_TARGET_MAX + 1];
	char exe[256];
};

#define JOB_STATS_MAGIC 0x6e626a7374617433ULL	/* "nbjstat3" */

/**
 * struct job_stats - the live statistics of one job, in a file under the
 * job's state directory, mapped by the supervisor, the relay and the
 * audit writer, read by `nbjail ctl`
 * @magic:	JOB_STATS_MAGIC once initialized
 * @size:	sizeof(struct job_stats) of the writer
 * @job_id:	job identifier
 * @name:	job name
 * @tenant:	tenant name
 * @profile:	profile name
 * @supervisor_pid: nbjail's pid
 * @relay_pid:	the relay's pid, 0 if none
 * @start_usec:	start time, CLOCK_REALTIME
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
 * @connects_limit: the job's connect attempts per second and burst
 * @bytes_limit: the job's bytes per second and burst (per_s 0: none)
 * @concurrent_limit: the job's flows at once (0: the relay's table)
 * @tenant_connects_limit: limits this job's policy sets on its tenant
 * @tenant_bytes_limit: (shared buckets in struct tenant_state)
 * @tenant_concurrent_limit:
 * @dock_limit:	the job's dock calls per second and burst, applied to
 *		the tenant's bucket (struct tenant_state.dock)
 * @tenant_slot: this job's slot in the tenant's flow counts, -1 if none
 * @connects:	the job's bucket of connect attempts
 * @bytes:	the job's bucket of bytes
 * @ring_next:	index of the next ring entry to write (mod AUDIT_RING)
 * @ring:	the last AUDIT_RING denials
 */
struct job_stats {
	uint64_t magic;
	uint32_t size;
	char job_id[16];
	char name[64];
	char tenant[64];
	char profile[16];
	int32_t supervisor_pid;
	_Atomic int32_t relay_pid;
	uint64_t start_usec;
	_Atomic uint32_t revoked;
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
	struct rate_limit connects_limit;
	struct rate_limit bytes_limit;
	uint64_t concurrent_limit;
	struct rate_limit tenant_connects_limit;
	struct rate_limit tenant_bytes_limit;
	uint64_t tenant_concurrent_limit;
	struct rate_limit dock_limit;
	int32_t tenant_slot;
	struct rate_bucket connects;
	struct rate_bucket bytes;
	_Atomic uint64_t ring_next;
	struct audit_denial ring[AUDIT_RING];
};

#define TENANT_STATE_MAGIC 0x6e626a74656e3033ULL	/* "nbjten03" */
#define TENANT_STATE_INIT 1ULL				/* being initialized */
#define TENANT_SLOTS 256

/**
 * struct tenant_slot - one job's share of its tenant's flows
 * @used:	claimed (compare-and-swap 0 -> 1)
 * @job_id:	the job, written after claiming
 * @active:	its flows now
 */
struct tenant_slot {
	_Atomic uint32_t used;
	char job_id[16];
	_Atomic uint64_t active;
};

/**
 * struct tenant_state - what the jobs of one tenant share, in
 * /run/nbjail/tenants/NAME (supervisor/tenant.c)
 * @magic:	TENANT_STATE_MAGIC once initialized
 * @size:	sizeof(struct tenant_state)
 * @tenant:	the tenant's name
 * @connects:	the tenant's bucket of connect attempts
 * @bytes:	the tenant's bucket of bytes
 * @dock:	the tenant's bucket of dock calls (relay/dock.c)
 * @slots:	each job's flows, for the tenant's concurrency limit
 */
struct tenant_state {
	_Atomic uint64_t magic;
	uint32_t size;
	char tenant[64];
	struct rate_bucket connects;
	struct rate_bucket bytes;
	struct rate_bucket dock;
	struct tenant_slot slots[TENANT_SLOTS];
};

/**
 * struct audit_ctx - what a producer needs: the stats and the writer
 * @stats:	the job's statistics, NULL if none
 * @fd:		the writer's socket (non-blocking), -1 if none
 * @tenant:	the tenant's shared state, NULL if none
 */
struct audit_ctx {
	struct job_stats *stats;
	int fd;
	struct tenant_state *tenant;
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
void audit_deny(const struct audit_ctx *a, enum audit_lane lane, pid_t pid,
		const char *call, const char *target, const char *resolved,
		const char *exe, const char *peer, enum decide_reason reason);
size_t audit_json(const struct audit_event *ev, const char *job,
		  const char *tenant, unsigned long long suppressed,
		  char *buf, size_t len);
size_t audit_message(const struct audit_event *ev,
		     unsigned long long suppressed, char *buf, size_t len);

#define EVENT_SET(ev, field, value) audit_set((ev)->field, sizeof((ev)->field), value)

#endif /* NBJ_COMMON_AUDIT_H */
