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
 *   2. floods are folded (relay/auditfold.c): identical denials within
 *      a second are written once, then once more as "N more like this"
 *      (field NBJAIL_SUPPRESSED); past 64 distinct ones, the first
 *      denial of each reason is still written in full and the rest of
 *      that reason counted; past 64 reasons, one "various" summary keeps
 *      the first denial's fields and names the reasons.  A flood thus
 *      costs journald a bounded number of lines per second and job,
 *      while the counters of struct job_stats stay exact;
 *   3. the event goes to journald (sd_journal_sendv(), fields NBJAIL_*,
 *      a stable MESSAGE_ID per kind, SYSLOG_IDENTIFIER=nbjail) and, with
 *      --audit-log, as one JSON line to that file.
 *
 * Records are taken up to AUDITD_BATCH per wake-up (recvmmsg()): the
 * relay sends its inbound requests' events in batches (audit_send_many()),
 * and a batch costs this process one wake-up.  After a small batch (a
 * steady trickle of requests) it waits AUDITD_GATHER_NS before looking
 * again: however fast they trickle, it wakes at most 2,000 times a
 * second; at the relay's full rate the batches are large and it does not
 * wait (the socket holds some 90 records: half a millisecond overflows
 * it only past 180,000 events a second, several times what one relay
 * decides).
 *
 * Only this process ever waits for journald or the disk.  When every
 * producer has closed its end, it flushes the open windows, closes its
 * end of the socket (the supervisor waits for that, see
 * supervisor/keeper.c) and exits.
 *
 * libsystemd is loaded here, with dlopen(), and nowhere else: nbjail's
 * own start does not pay for it and its dependencies (a couple of
 * milliseconds per run).  The writer's parent calls auditd_preload() as
 * soon as the writer exists, while the job's namespaces are still being
 * built, so that a short job's end does not wait for the load.  Without
 * it, events go to --audit-log only and each is counted as a journald
 * error.
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
#include "common/roles.h"
#include "relay/auditfold.h"
#include "relay/relay.h"

#define AUDITD_BATCH 64	/* records taken per wake-up (recvmmsg()) */
#define AUDITD_GATHER_BELOW 8		/* a smaller batch: wait before the next */
#define AUDITD_GATHER_NS 500000L	/* that long (0.5 ms) */

/**
 * struct auditd - the writer's state
 * @cfg:	configuration
 * @fold:	open windows of folded denials (relay/auditfold.c)
 * @sendv:	sd_journal_sendv() of the dlopen()ed libsystemd, or NULL
 * @loaded:	libsystemd was looked for (at the first event: loading it
 *		costs milliseconds of CPU the job's start should not share)
 */
struct auditd {
	const struct auditd_config *cfg;
	struct audit_fold fold;
	int (*sendv)(const struct iovec *iov, int n);
	bool loaded;
};

/* sd_journal_sendv(), once looked for (auditd_preload()) */
static int (*preloaded_sendv)(const struct iovec *iov, int n);
static bool preloaded;

static void journal_load(struct auditd *d)
{
	void *lib;

	d->loaded = true;
	if (preloaded) {	/* and warned about */
		d->sendv = preloaded_sendv;
		return;
	}
	lib = dlopen("libsystemd.so.0", RTLD_LAZY | RTLD_LOCAL);
	d->sendv = lib ? (int (*)(const struct iovec *, int))dlsym(lib, "sd_journal_sendv")
		       : NULL;
	if (!d->sendv)
		log_warn("libsystemd not available: audit events go to --audit-log only");
}

/**
 * auditd_preload() - load libsystemd before auditd_run(), in the
 * writer's process, while it waits for its ids
 * @cfg:	the writer's configuration (nothing is loaded without
 *		@cfg->journal)
 */
void auditd_preload(const struct auditd_config *cfg)
{
	struct auditd d = { .cfg = cfg };

	if (!cfg->journal || preloaded)
		return;
	journal_load(&d);
	preloaded_sendv = d.sendv;
	preloaded = true;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#define IOV_MAX_FIELDS 24

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
	/* --audit-field: KEY=VALUE, checked when the job was configured */
	for (size_t i = 0; i < cfg->n_fields && n < IOV_MAX_FIELDS; i++) {
		iov[n].iov_base = cfg->fields[i];
		iov[n++].iov_len = strlen(cfg->fields[i]);
	}
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
	/* --audit-field KEY=VALUE as "key":"VALUE", key lower case without
	 * NBJAIL_ ("slurm_job_id"); both were checked to need no escaping */
	for (size_t i = 0; i < d->cfg->n_fields && len && line[len - 1] == '}'; i++) {
		const char *f = d->cfg->fields[i] + strlen("NBJAIL_");
		size_t k = strcspn(f, "=");
		char add[AUDIT_FIELD_MAX + 8];
		int w = snprintf(add, sizeof(add), ",\"%.*s\":\"%s\"}", (int)k, f, f + k + 1);

		if (w < 0 || (size_t)w >= sizeof(add) || len - 1 + (size_t)w >= sizeof(line) - 1)
			break;
		for (int j = 2; j < 2 + (int)k; j++)
			if (add[j] >= 'A' && add[j] <= 'Z')
				add[j] = (char)(add[j] - 'A' + 'a');
		memcpy(line + len - 1, add, (size_t)w + 1);
		len += (size_t)w - 1;
	}
	line[len++] = '\n';
	(void)!write(d->cfg->log_fd, line, len);
}

static void emit(void *ctx, const struct audit_event *ev,
		 unsigned long long suppressed)
{
	struct auditd *d = ctx;

	write_journal(d, ev, suppressed);
	write_json(d, ev, suppressed);
}

/* Close the windows that are due (all of them when @all) */
static void flush(struct auditd *d, bool all)
{
	audit_fold_flush(&d->fold, now_ms(), all, emit, d);
}

static void handle(struct auditd *d, const struct audit_event *in)
{
	struct audit_event ev = *in;

	/* the sender's buffers are not trusted to be terminated */
	ev.call[sizeof(ev.call) - 1] = ev.reason[sizeof(ev.reason) - 1] = '\0';
	ev.target[sizeof(ev.target) - 1] = ev.resolved[sizeof(ev.resolved) - 1] = '\0';
	ev.exe[sizeof(ev.exe) - 1] = ev.peer[sizeof(ev.peer) - 1] = '\0';
	ev.detail[sizeof(ev.detail) - 1] = '\0';
	ev.overlay[sizeof(ev.overlay) - 1] = '\0';

	/* denials, the dock's allowed calls (as many as 2,000 a second)
	 * and inbound requests are folded; only denials (refused inbound
	 * requests among them) go to the ring */
	if (ev.kind != AUDIT_DENY && ev.kind != AUDIT_RATE_LIMITED &&
	    ev.kind != AUDIT_DOCK_CALL && ev.kind != AUDIT_INBOUND) {
		/* every request on a terminated flow is in the ring, allowed
		 * or not (issue 18), and each one is its own record */
		if (ev.kind == AUDIT_HTTP_REQUEST && d->cfg->stats)
			stats_ring_add(d->cfg->stats, &ev);
		if (ev.kind == AUDIT_JOB_END)
			flush(d, true); /* the job's last word comes last */
		emit(d, &ev, 0);
		return;
	}
	if (d->cfg->stats && ev.kind != AUDIT_DOCK_CALL &&
	    !(ev.kind == AUDIT_INBOUND && !strcmp(ev.reason, decide_reason_name(DECIDE_ALLOWED))))
		stats_ring_add(d->cfg->stats, &ev);
	if (!audit_fold_add(&d->fold, &ev, now_ms(), emit, d) && d->cfg->stats)
		atomic_fetch_add(&d->cfg->stats->events_suppressed, 1);
}

static int next_timeout(const struct auditd *d)
{
	return audit_fold_timeout(&d->fold, now_ms());
}

/**
 * auditd_run() - run as the job's audit writer; returns only on failure
 * @cfg:	the socket, the statistics and the sinks; the caller has
 *		already entered ROLE_AUDIT_WRITER (common/roles.c)
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
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "nbjail-audit[%s]", cfg->job_id);
	log_set_prefix(prefix);
	/* SIGINT/SIGTERM of the terminal: keep writing until the producers
	 * are gone, so that the job's last events are not lost */
	(void)sigaction(SIGINT, &ign, NULL);
	(void)sigaction(SIGTERM, &ign, NULL);
	(void)sigaction(SIGPIPE, &ign, NULL);
	/* the caller made us ROLE_AUDIT_WRITER (role_enter()); what needs
	 * more than the allow-list happens before it */
	if (cfg->journal)
		journal_load(&d);
	log_phase("audit writer: libsystemd");
	if ((cfg->filter ? role_filter_load(ROLE_AUDIT_WRITER, cfg->filter)
			 : role_filter_apply(ROLE_AUDIT_WRITER)) < 0)
		return -EPERM;
	log_phase("audit writer: ready");

	for (;;) {
		static struct audit_event ev[AUDITD_BATCH];
		struct pollfd pfd = { .fd = cfg->fd, .events = POLLIN };
		struct mmsghdr msg[AUDITD_BATCH];
		struct iovec iov[AUDITD_BATCH];
		bool ended = false;
		int r = poll(&pfd, 1, next_timeout(&d));

		if (r < 0 && errno != EINTR)
			return negative_errno();
		flush(&d, false);
		if (r <= 0)
			continue;
		for (unsigned i = 0; i < AUDITD_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = &ev[i], .iov_len = sizeof(ev[i]) };
			msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i],
								.msg_iovlen = 1 } };
		}
		r = recvmmsg(cfg->fd, msg, AUDITD_BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < r && !ended; i++) {
			if (msg[i].msg_len == sizeof(ev[i]))
				handle(&d, &ev[i]);
			else if (!msg[i].msg_len)
				ended = true;	/* every producer is gone */
			/* else a record of the wrong size: not from our producers */
		}
		if (r > 0 && r < AUDITD_GATHER_BELOW && !ended)
			/* a trickle: let a few more records come before the
			 * next wake-up (a flood fills batches, and never waits) */
			(void)ppoll(NULL, 0, &(struct timespec){ .tv_nsec = AUDITD_GATHER_NS }, NULL);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (ended || r == 0 || (r < 0 && (pfd.revents & POLLHUP))) {
			flush(&d, true);
			/* everything is written: the supervisor, waiting for
			 * the hang-up, need not wait for our exit too */
			close(cfg->fd);
			_exit(0);
		}
	}
}
