/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/stats.c - the live statistics of a job (struct job_stats)
 *
 * Theory of operation: the supervisor creates a file of exactly
 * sizeof(struct job_stats) in the job's state directory (root only) and
 * maps it shared; the relay and the audit writer inherit the mapping
 * across fork, so every process of the job updates the same counters
 * with atomic operations, and `nbjail ctl` maps the file read-only to
 * report them.  No locks: counters are independent atomics; the ring of
 * recent denials has one writer (the audit writer) and entries carry a
 * sequence lock so that a reader never returns a torn entry.
 *
 * The relay and the audit writer can write every byte of the mapping,
 * so it holds integer words only and every reader treats them as
 * untrusted numbers (common/audit.h says why and what lives elsewhere);
 * the checks below fail the build when a field that is not a 64-bit
 * integer is added, or one is added without being listed.  A ring entry
 * is copied out whole and NUL-terminated before anything looks at it.
 *
 * Counters are keyed by lane, outcome and reason; a reason is an enum
 * decide_reason (policy/policy.h), whose names are the one table in
 * policy/decide.c: a counter is found by indexing, never by comparing
 * strings; anything out of range counts as "other".
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/util.h"

static_assert(DECIDE_REASON_COUNT <= AUDIT_REASONS,
	      "a counter for every enum decide_reason");

/* 1 for a 64-bit unsigned integer (an _Atomic one is lvalue-converted) */
#define IS_WORD(e) _Generic((e), uint64_t: 1, default: 0)
#define WORDS_ONLY " is not a 64-bit integer: shared mappings hold integer " \
		   "words only (common/audit.h)"

#define STATS_WORD(field, elem)                                                \
	static_assert(IS_WORD(((struct job_stats *)0)->elem), #elem WORDS_ONLY);
#define STATS_SIZE(field, elem) +sizeof(((struct job_stats *)0)->field)
JOB_STATS_FIELDS(STATS_WORD)
static_assert(offsetof(struct job_stats, ring) == 0 JOB_STATS_FIELDS(STATS_SIZE),
	      "every field of struct job_stats before the ring is in JOB_STATS_FIELDS");
static_assert(sizeof(struct job_stats) ==
		      offsetof(struct job_stats, ring) + sizeof(((struct job_stats *)0)->ring),
	      "the ring of recent denials is the last field of struct job_stats");

#define TENANT_WORD(field, elem)                                               \
	static_assert(IS_WORD(((struct tenant_state *)0)->elem), #elem WORDS_ONLY);
#define TENANT_SIZE(field, elem) +sizeof(((struct tenant_state *)0)->field)
TENANT_STATE_FIELDS(TENANT_WORD)
static_assert(sizeof(struct tenant_state) == 0 TENANT_STATE_FIELDS(TENANT_SIZE),
	      "every field of struct tenant_state is in TENANT_STATE_FIELDS");

#define SLOT_WORD(field, elem)                                                 \
	static_assert(IS_WORD(((struct tenant_slot *)0)->elem), #elem WORDS_ONLY);
#define SLOT_SIZE(field, elem) +sizeof(((struct tenant_slot *)0)->field)
TENANT_SLOT_FIELDS(SLOT_WORD)
static_assert(sizeof(struct tenant_slot) == 0 TENANT_SLOT_FIELDS(SLOT_SIZE),
	      "every field of struct tenant_slot is in TENANT_SLOT_FIELDS");
static_assert(sizeof(struct rate_bucket) == sizeof(uint64_t),
	      "a token bucket is one word (common/rate.h)");

/**
 * stats_reason_name() - the reason a counter index stands for
 * @index:	counter index (an enum decide_reason)
 *
 * Return: the name, or NULL past the last one
 */
const char *stats_reason_name(unsigned index)
{
	return index < DECIDE_REASON_COUNT ? decide_reason_name(index) : NULL;
}

/**
 * stats_count() - count one decision
 * @s:		the job's statistics, may be NULL
 * @lane:	where it was taken
 * @outcome:	allowed or denied
 * @reason:	why (DECIDE_ALLOWED for an allowed one); indexes the
 *		counters directly, no lookup on the data path
 */
void stats_count(struct job_stats *s, enum audit_lane lane,
		 enum audit_outcome outcome, enum decide_reason reason)
{
	if (!s || lane >= LANE_COUNT || outcome >= OUTCOME_COUNT)
		return;
	if ((unsigned)reason >= DECIDE_REASON_COUNT)
		reason = DECIDE_OTHER;
	atomic_fetch_add_explicit(&s->counters[lane][outcome][reason], 1,
				  memory_order_relaxed);
}

/**
 * stats_create() - create a job's statistics file and map it
 * @path:	the file, created exclusively with mode 0600
 * @ret:	the zeroed, shared mapping; the caller fills the header and
 *		sets @magic last
 *
 * Return: 0, or negative errno
 */
int stats_create(const char *path, struct job_stats **ret)
{
	_cleanup_close_ int fd = -1;
	void *p;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	if (ftruncate(fd, sizeof(struct job_stats)) < 0)
		return negative_errno();
	p = mmap(NULL, sizeof(struct job_stats), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return negative_errno();
	*ret = p;
	return 0;
}

/**
 * stats_open() - map an existing job's statistics
 * @path:	the file
 * @writable:	map it writable (revocation), else read-only
 * @ret:	the mapping
 *
 * Return: 0; -EPROTO if the file is not (yet) a complete struct
 * job_stats of this version; another negative errno
 */
int stats_open(const char *path, bool writable, struct job_stats **ret)
{
	_cleanup_close_ int fd = -1;
	struct job_stats *s;
	struct stat st;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size != (off_t)sizeof(struct job_stats))
		return -EPROTO;
	s = mmap(NULL, sizeof(*s), PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, 0);
	if (s == MAP_FAILED)
		return negative_errno();
	if (__atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) != JOB_STATS_MAGIC ||
	    s->size != sizeof(*s)) {
		munmap(s, sizeof(*s));
		return -EPROTO;
	}
	*ret = s;
	return 0;
}

/**
 * stats_unmap() - release a mapping from stats_create() or stats_open()
 * @s:		mapping, may be NULL
 */
void stats_unmap(struct job_stats *s)
{
	if (s)
		munmap(s, sizeof(*s));
}

/**
 * stats_ring_add() - record a denial or a terminated request in the ring
 * (one writer only)
 * @s:		statistics
 * @ev:		the event
 */
void stats_ring_add(struct job_stats *s, const struct audit_event *ev)
{
	uint64_t i = atomic_load(&s->ring_next);
	struct audit_denial *d = &s->ring[i % AUDIT_RING];
	uint32_t seq = atomic_load(&d->seq);

	atomic_store(&d->seq, seq + 1);
	atomic_thread_fence(memory_order_release);
	d->lane = ev->lane;
	d->pid = ev->pid;
	d->kind = ev->kind;
	d->usec = ev->usec;
	memcpy(d->reason, ev->reason, sizeof(d->reason));
	memcpy(d->target, ev->target, sizeof(d->target));
	memcpy(d->exe, ev->exe, sizeof(d->exe));
	static_assert(sizeof(d->call) == sizeof(ev->call), "call fits");
	memcpy(d->call, ev->call, sizeof(d->call));
	static_assert(sizeof(d->detail) == sizeof(ev->detail), "detail fits");
	memcpy(d->detail, ev->detail, sizeof(d->detail));
	atomic_thread_fence(memory_order_release);
	atomic_store(&d->seq, seq + 2);
	atomic_store(&s->ring_next, i + 1);
}

/**
 * stats_ring_read() - copy one ring entry, consistently
 * @s:		statistics
 * @i:		0 for the newest denial, 1 for the one before, ...
 * @ret:	the entry
 *
 * Return: true if there is such an entry and it was read whole
 */
bool stats_ring_read(const struct job_stats *s, unsigned i,
		     struct audit_denial *ret)
{
	uint64_t next = atomic_load(&((struct job_stats *)s)->ring_next);
	const struct audit_denial *d;

	if (i >= AUDIT_RING || i >= next)
		return false;
	d = &s->ring[(next - 1 - i) % AUDIT_RING];
	for (int tries = 0; tries < 100; tries++) {
		uint32_t before = atomic_load(&((struct audit_denial *)d)->seq);

		if (before & 1)
			continue;
		atomic_thread_fence(memory_order_acquire);
		ret->lane = d->lane;
		ret->pid = d->pid;
		ret->kind = d->kind;
		ret->usec = d->usec;
		memcpy(ret->reason, d->reason, sizeof(ret->reason));
		memcpy(ret->target, d->target, sizeof(ret->target));
		memcpy(ret->exe, d->exe, sizeof(ret->exe));
		memcpy(ret->call, d->call, sizeof(ret->call));
		memcpy(ret->detail, d->detail, sizeof(ret->detail));
		ret->reason[sizeof(ret->reason) - 1] = '\0';
		ret->target[sizeof(ret->target) - 1] = '\0';
		ret->exe[sizeof(ret->exe) - 1] = '\0';
		ret->call[sizeof(ret->call) - 1] = '\0';
		ret->detail[sizeof(ret->detail) - 1] = '\0';
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load(&((struct audit_denial *)d)->seq) == before)
			return true;
	}
	return false;
}

/**
 * tenant_flows() - the tenant's flows now, over all its jobs
 * @t:		tenant state
 *
 * Return: the sum of every slot's count
 */
uint64_t tenant_flows(const struct tenant_state *t)
{
	uint64_t n = 0;

	for (int i = 0; i < TENANT_SLOTS; i++)
		n += atomic_load(&((struct tenant_state *)t)->slots[i].active);
	return n;
}
