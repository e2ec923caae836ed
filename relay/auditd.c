/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/auditd.c - the job's audit writer: journald, JSON lines, the ring
 *
 * Theory of operation: one unprivileged process per job, forked by the
 * supervisor before anything else of the job exists.  It reads struct
 * audit_event records from a SOCK_SEQPACKET socket whose other end the
 * supervisor and the relay hold (they send without ever blocking,
 * common/audit.c), and for each one:
 *
 *   1. a denial goes into the ring of the last AUDIT_RING denials in the
 *      job's statistics (one writer: this process);
 *   2. identical denials (same kind, lane, reason, target and executable)
 *      are aggregated: the first is written at once, the next ones within
 *      AGGREGATE_WINDOW_MS are only counted, and when the window closes one
 *      event says "N more like this" (field NBJAIL_SUPPRESSED).  At most
 *      AGGREGATE_SLOTS windows are open; further distinct denials in the
 *      same second are folded into one "various" summary.  A flood thus
 *      costs journald at most AGGREGATE_SLOTS + 1 lines per second and
 *      job, while the counters of struct job_stats stay exact;
 *   3. the event goes to journald (sd_journal_sendv(), fields NBJAIL_*,
 *      a stable MESSAGE_ID per kind, SYSLOG_IDENTIFIER=nbjail) and, with
 *      --audit-log, as one JSON line to that file.
 *
 * Only this process ever waits for journald or the disk.  When every
 * producer has closed its end, it flushes the open windows and exits.
 *
 * libsystemd is loaded here, with dlopen(), and nowhere else: nbjail's
 * own start does not pay for it and its dependencies (a couple of
 * milliseconds per run).  Without it, events go to --audit-log only and
 * each is counted as a journald error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>


#include "common/audit.h"
#include "common/log.h"
#include "common/privs.h"
#include "relay/relay.h"

#define AGGREGATE_WINDOW_MS 1000
#define AGGREGATE_SLOTS 64

/**
 * struct aggregate - an open window of identical denials
 * @used:	slot in use
 * @hash:	hash of the identifying fields
 * @until_ms:	when the window closes (CLOCK_MONOTONIC)
 * @suppressed:	events counted, not written
 * @ev:		the first event (its fields identify the window)
 */
struct aggregate {
	bool used;
	uint64_t hash;
	long long until_ms;
	unsigned long long suppressed;
	struct audit_event ev;
};

/**
 * struct auditd - the writer's state
 * @cfg:	configuration
 * @agg:	open windows
 * @various:	denials folded because every window was taken
 * @various_ev: the last of them, for the summary's fields
 * @various_until_ms: when the summary is due
 * @sendv:	sd_journal_sendv() of the dlopen()ed libsystemd, or NULL
 * @loaded:	libsystemd was looked for (at the first event: loading it
 *		costs milliseconds of CPU the job's start should not share)
 */
struct auditd {
	const struct auditd_config *cfg;
	struct aggregate agg[AGGREGATE_SLOTS];
	unsigned long long various;
	struct audit_event various_ev;
	long long various_until_ms;
	int (*sendv)(const struct iovec *iov, int n);
	bool loaded;
};

static void journal_load(struct auditd *d)
{
	void *lib;

	d->loaded = true;
	lib = dlopen("libsystemd.so.0", RTLD_LAZY | RTLD_LOCAL);
	d->sendv = lib ? (int (*)(const struct iovec *, int))dlsym(lib, "sd_journal_sendv")
		       : NULL;
	if (!d->sendv)
		log_warn("libsystemd not available: audit events go to --audit-log only");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* FNV-1a over the fields that make two denials "identical" */
static uint64_t event_hash(const struct audit_event *ev)
{
	const char *parts[] = { ev->reason, ev->target, ev->exe, ev->call };
	uint64_t h = 0xcbf29ce484222325ULL ^ (ev->kind << 8 | ev->lane);

	for (size_t p = 0; p < ARRAY_SIZE(parts); p++) {
		for (const char *s = parts[p]; *s; s++)
			h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL;
	}
	return h;
}

static bool same_event(const struct audit_event *a, const struct audit_event *b)
{
	return a->kind == b->kind && a->lane == b->lane &&
	       !strcmp(a->reason, b->reason) && !strcmp(a->target, b->target) &&
	       !strcmp(a->exe, b->exe) && !strcmp(a->call, b->call);
}

#define IOV_MAX_FIELDS 20

static void add_field(struct iovec *iov, size_t *n, char *store, size_t *used,
		      size_t cap, const char *key, const char *value)
{
	int len;

	if (!value || !value[0] || *n >= IOV_MAX_FIELDS || *used >= cap)
		return;
	len = snprintf(store + *used, cap - *used, "%s=%s", key, value);
	if (len < 0 || (size_t)len >= cap - *used)
		return;
	iov[*n].iov_base = store + *used;
	iov[(*n)++].iov_len = (size_t)len;
	*used += (size_t)len + 1;
}

static void write_journal(struct auditd *d, const struct audit_event *ev,
			  unsigned long long suppressed)
{
	const struct auditd_config *cfg = d->cfg;
	struct iovec iov[IOV_MAX_FIELDS];
	char store[8192], msg[1024], num[32], prio[4];
	size_t n = 0, used = 0;
	int err;

	audit_message(ev, suppressed, msg, sizeof(msg));
	snprintf(prio, sizeof(prio), "%d", audit_priority(ev->kind));
	add_field(iov, &n, store, &used, sizeof(store), "MESSAGE", msg);
	add_field(iov, &n, store, &used, sizeof(store), "MESSAGE_ID",
		  audit_message_id(ev->kind));
	add_field(iov, &n, store, &used, sizeof(store), "PRIORITY", prio);
	add_field(iov, &n, store, &used, sizeof(store), "SYSLOG_IDENTIFIER", "nbjail");
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_EVENT",
		  audit_kind_name(ev->kind));
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_JOB", cfg->job_id);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_TENANT", cfg->tenant);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_LANE",
		  audit_lane_name(ev->lane));
	if (ev->pid > 0) {
		snprintf(num, sizeof(num), "%d", ev->pid);
		add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_PID", num);
	}
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_EXE", ev->exe);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_CALL", ev->call);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_TARGET", ev->target);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_RESOLVED", ev->resolved);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_PEER", ev->peer);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_REASON", ev->reason);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_DETAIL", ev->detail);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_OVERLAY",
		  ev->overlay[0] ? ev->overlay : ev->lane == LANE_TCP ? "direct" : "");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)ev->usec);
	add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_USEC", num);
	if (suppressed) {
		snprintf(num, sizeof(num), "%llu", suppressed);
		add_field(iov, &n, store, &used, sizeof(store), "NBJAIL_SUPPRESSED", num);
	}
	if (cfg->journal && !d->loaded)
		journal_load(d);
	err = !cfg->journal ? 0 : d->sendv ? d->sendv(iov, (int)n) : -ENOSYS;
	if (err < 0 && cfg->stats)
		atomic_fetch_add(&cfg->stats->journal_errors, 1);
}

static void write_json(struct auditd *d, const struct audit_event *ev,
		       unsigned long long suppressed)
{
	char line[8192];
	size_t len;

	if (d->cfg->log_fd < 0)
		return;
	len = audit_json(ev, d->cfg->job_id, d->cfg->tenant, suppressed, line,
			 sizeof(line) - 1);
	line[len++] = '\n';
	(void)!write(d->cfg->log_fd, line, len);
}

static void emit(struct auditd *d, const struct audit_event *ev,
		 unsigned long long suppressed)
{
	write_journal(d, ev, suppressed);
	write_json(d, ev, suppressed);
}

/* Close the windows that are due (all of them when @all) */
static void flush(struct auditd *d, bool all)
{
	long long now = now_ms();

	for (size_t i = 0; i < AGGREGATE_SLOTS; i++) {
		struct aggregate *a = &d->agg[i];

		if (!a->used || (!all && a->until_ms > now))
			continue;
		if (a->suppressed)
			emit(d, &a->ev, a->suppressed);
		a->used = false;
	}
	if (d->various && (all || d->various_until_ms <= now)) {
		struct audit_event *ev = &d->various_ev;

		EVENT_SET(ev, reason, "various");
		EVENT_SET(ev, target, "(various targets)");
		EVENT_SET(ev, exe, "");
		emit(d, ev, d->various);
		d->various = 0;
	}
}

static void handle(struct auditd *d, const struct audit_event *in)
{
	struct audit_event ev = *in;
	struct aggregate *free_slot = NULL;
	uint64_t h;

	/* the sender's buffers are not trusted to be terminated */
	ev.call[sizeof(ev.call) - 1] = ev.reason[sizeof(ev.reason) - 1] = '\0';
	ev.target[sizeof(ev.target) - 1] = ev.resolved[sizeof(ev.resolved) - 1] = '\0';
	ev.exe[sizeof(ev.exe) - 1] = ev.peer[sizeof(ev.peer) - 1] = '\0';
	ev.detail[sizeof(ev.detail) - 1] = '\0';
	ev.overlay[sizeof(ev.overlay) - 1] = '\0';

	if (ev.kind != AUDIT_DENY && ev.kind != AUDIT_RATE_LIMITED) {
		if (ev.kind == AUDIT_JOB_END)
			flush(d, true); /* the job's last word comes last */
		emit(d, &ev, 0);
		return;
	}
	if (d->cfg->stats)
		stats_ring_add(d->cfg->stats, &ev);

	h = event_hash(&ev);
	for (size_t i = 0; i < AGGREGATE_SLOTS; i++) {
		struct aggregate *a = &d->agg[i];

		if (!a->used) {
			if (!free_slot)
				free_slot = a;
			continue;
		}
		if (a->hash == h && same_event(&a->ev, &ev)) {
			a->suppressed++;
			if (d->cfg->stats)
				atomic_fetch_add(&d->cfg->stats->events_suppressed, 1);
			return;
		}
	}
	if (!free_slot) {
		if (!d->various)
			d->various_until_ms = now_ms() + AGGREGATE_WINDOW_MS;
		d->various++;
		d->various_ev = ev;
		if (d->cfg->stats)
			atomic_fetch_add(&d->cfg->stats->events_suppressed, 1);
		return;
	}
	*free_slot = (struct aggregate){
		.used = true,
		.hash = h,
		.until_ms = now_ms() + AGGREGATE_WINDOW_MS,
		.ev = ev,
	};
	emit(d, &ev, 0);
}

static int next_timeout(const struct auditd *d)
{
	long long next = -1, now = now_ms();

	for (size_t i = 0; i < AGGREGATE_SLOTS; i++)
		if (d->agg[i].used && (next < 0 || d->agg[i].until_ms < next))
			next = d->agg[i].until_ms;
	if (d->various && (next < 0 || d->various_until_ms < next))
		next = d->various_until_ms;
	if (next < 0)
		return -1;
	return next > now ? (int)(next - now) : 0;
}

/**
 * auditd_run() - become the job's audit writer; returns only on failure
 * @cfg:	the socket, the statistics, the sinks and the user to become
 *
 * Exits 0 once every producer has closed its end of the socket and
 * everything was written.
 *
 * Return: negative errno if setup failed
 */
int auditd_run(const struct auditd_config *cfg)
{
	struct auditd d = { .cfg = cfg };
	struct sigaction ign = { .sa_handler = SIG_IGN };
	pid_t parent = getppid();
	char prefix[64];
	int err;

	snprintf(prefix, sizeof(prefix), "nbjail-audit[%s]", cfg->job_id);
	log_set_prefix(prefix);
	/* SIGINT/SIGTERM of the terminal: keep writing until the producers
	 * are gone, so that the job's last events are not lost */
	(void)sigaction(SIGINT, &ign, NULL);
	(void)sigaction(SIGTERM, &ign, NULL);
	(void)sigaction(SIGPIPE, &ign, NULL);
	err = privs_drop(cfg->uid, cfg->gid, parent);
	if (err < 0)
		return err;

	for (;;) {
		struct pollfd pfd = { .fd = cfg->fd, .events = POLLIN };
		struct audit_event ev;
		ssize_t n;
		int r = poll(&pfd, 1, next_timeout(&d));

		if (r < 0 && errno != EINTR)
			return negative_errno();
		flush(&d, false);
		if (r <= 0)
			continue;
		n = recv(cfg->fd, &ev, sizeof(ev), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(ev)) {
			handle(&d, &ev);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == 0 || (pfd.revents & POLLHUP)) {
			flush(&d, true);
			_exit(0);
		}
		/* a record of the wrong size: not from our producers */
	}
}
