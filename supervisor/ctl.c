/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/ctl.c - the control socket and `nbjail ctl`
 *
 * Theory of operation: every job publishes its live statistics in
 * /run/nbjail/ID/stats (common/stats.c), so answering a control request
 * needs no state of its own: ctl_handle() reads those files (and, to
 * revoke, sets a flag in one and signals the job's relay).  That is why
 * any supervisor can serve /run/nbjail/ctl.sock for all jobs.
 *
 * The statistics are written by the job's relay and audit writer too, so
 * from them come numbers only, printed as numbers: a job's id is its
 * directory's name, its name, tenant, profile and pids come from the
 * files its supervisor alone writes (info and state, supervisor/state.c),
 * and the text of the ring of recent denials, which the job chose
 * anyway, is printed escaped.  Nothing read here from a mapping opens,
 * removes, signals or sizes anything.
 *
 * Serving the socket:
 *
 *   - each running job contends for /run/nbjail/ctl.lock (flock); the
 *     holder binds ctl.sock (mode 0600), serves it from the job's event
 *     loop, and unlinks it when its job ends; the others retry once a
 *     second, so another job takes over within a second;
 *   - a client must be the supervisor's own user (SO_PEERCRED): root
 *     for /run/nbjail, the rootless caller for $XDG_RUNTIME_DIR/nbjail
 *     (whose jobs are theirs alone); it sends its arguments as
 *     NUL-terminated strings and gets back one status byte and the text;
 *     the server waits at most CTL_IO_TIMEOUT_MS for either, so a stuck
 *     client cannot stall the job's own events;
 *   - `nbjail ctl` answers the request itself, with the same function,
 *     when no server answers (no job runs, or a takeover is under way).
 *
 * Requests: jobs | stats [JOB] | recent [N] [JOB] | revoke JOB |
 * revoke --tenant T | metrics (the Prometheus text exposition format),
 * each with --json.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/escape.h"
#include "common/log.h"
#include "supervisor/ctl.h"
#include "supervisor/supervisor.h"

/* DIR/ctl.sock and DIR/ctl.lock of the caller's runtime directory; ""
 * without one (then nothing is found there) */
static const char *ctl_file(char buf[NBJ_PATH_MAX], const char *name)
{
	if (runtime_path(buf, "%s", name) < 0)
		buf[0] = '\0';
	return buf;
}

#define CTL_SOCKET ctl_file((char[NBJ_PATH_MAX]){ 0 }, "ctl.sock")
#define CTL_LOCK ctl_file((char[NBJ_PATH_MAX]){ 0 }, "ctl.lock")
#define CTL_REQUEST_MAX 4096
#define CTL_IO_TIMEOUT_MS 200
#define CTL_ARGS_MAX 8
#define CTL_JOBS_MAX 4096

/* ---------------------------------------------------------------- output */

/**
 * struct outbuf - a growing text buffer for one answer
 * @buf:	text, NUL-terminated
 * @len:	its length
 * @cap:	allocated size
 * @oom:	an allocation failed: the answer is incomplete
 */
struct outbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

static void _printf_(2, 3) out(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = o->buf ? vsnprintf(o->buf + o->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t cap = o->cap ? o->cap * 2 : 4096;
			char *p;

			while (n >= 0 && cap < o->len + (size_t)n + 1)
				cap *= 2;
			p = realloc(o->buf, cap);
			if (!p) {
				o->oom = true;
				return;
			}
			o->buf = p;
			o->cap = cap;
		}
	}
}

/*
 * Every string printed here comes from shared memory that a job's relay
 * can write, or names a job chose (an executable, a target): never
 * printed raw (common/escape.c).  A field is read at most up to its size,
 * NUL or not.
 */
#define FIELD_MAX AUDIT_TARGET_MAX

/* @s, at most @max bytes, as a C string in @tmp (FIELD_MAX + 1 bytes) */
static const char *bounded(char *tmp, const char *s, size_t max)
{
	size_t n = strnlen(s, max < FIELD_MAX ? max : FIELD_MAX);

	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return tmp;
}

/* Text: control bytes, DEL, spaces and broken UTF-8 as \xNN */
static const char *esc_text(char *buf, size_t size, const char *s, size_t max)
{
	text_escape(buf, size, s, strnlen(s, max), ESC_SPACE);
	return buf;
}

/* The field macros take arrays (their size bounds the read), never
 * pointers; pointers go through the _n functions with FIELD_MAX */
#define IS_ARRAY(a) (!__builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0])))
#define FIELD_SIZE(f)                                                          \
	({                                                                     \
		_Static_assert(IS_ARRAY(f), #f " is not an array");            \
		sizeof(f);                                                     \
	})

#define ESC_BUF ESC_BUFSIZE(FIELD_MAX)
#define ESC(buf, field) esc_text(buf, sizeof(buf), (field), FIELD_SIZE(field))

/* A JSON string literal */
static void out_json_n(struct outbuf *o, const char *s, size_t max)
{
	char tmp[FIELD_MAX + 1], body[6 * FIELD_MAX + 1];

	text_json_escape(body, sizeof(body), bounded(tmp, s, max));
	out(o, "\"%s\"", body);
}

#define out_json(o, field) out_json_n((o), (field), FIELD_SIZE(field))

/* A Prometheus label value: escaped text, then the label's own escapes */
static void out_label_n(struct outbuf *o, const char *s, size_t max)
{
	char body[ESC_BUF];

	text_escape(body, sizeof(body), s, strnlen(s, max), ESC_QUOTE);
	out(o, "\"");
	for (const char *p = body; *p; p++) {
		if (*p == '\\')
			out(o, "\\\\");
		else
			out(o, "%c", *p);
	}
	out(o, "\"");
}

#define out_label(o, field) out_label_n((o), (field), FIELD_SIZE(field))

/* ---------------------------------------------------------------- jobs */

/**
 * struct ctl_jobs - the statistics of every running job
 * @s:		mappings (numbers only, see above)
 * @id:		the jobs' ids, from their directories' names
 * @info:	what their supervisors recorded
 * @n:		their number
 */
struct ctl_jobs {
	struct job_stats *s[CTL_JOBS_MAX];
	char id[CTL_JOBS_MAX][NBJ_JOB_ID_LEN + 1];	/* from the directory's
							 * name, not the mapping */
	struct job_info info[CTL_JOBS_MAX];		/* from the info file */
	size_t n;
};

static void load_one(const char *id, void *data)
{
	struct ctl_jobs *j = data;
	char path[NBJ_PATH_MAX];
	struct job_stats *s;

	if (j->n >= CTL_JOBS_MAX)
		return;
	/* the info file is written before the statistics are published */
	if (state_info_read(id, &j->info[j->n]) < 0)
		return;
	if (runtime_path(path, "%s/stats", id) < 0 || stats_open(path, false, &s) < 0)
		return;
	snprintf(j->id[j->n], sizeof(j->id[j->n]), "%s", id);
	j->s[j->n++] = s;
}

static int jobs_load(struct ctl_jobs *j)
{
	int n;

	j->n = 0;
	n = state_list_jobs(load_one, j);
	return n < 0 ? n : 0;
}

static void jobs_free(struct ctl_jobs *j)
{
	for (size_t i = 0; i < j->n; i++)
		stats_unmap(j->s[i]);
	j->n = 0;
}

/* Keep only job @id (all when NULL); false if it is not there */
static bool jobs_keep(struct ctl_jobs *j, const char *id)
{
	size_t k = 0;

	if (!id)
		return true;
	for (size_t i = 0; i < j->n; i++) {
		if (strcmp(j->id[i], id)) {
			stats_unmap(j->s[i]);
			continue;
		}
		j->s[k] = j->s[i];
		memmove(j->id[k], j->id[i], sizeof(j->id[k]));
		j->info[k++] = j->info[i];
	}
	j->n = k;
	return k > 0;
}

static uint64_t total(const struct job_stats *s, enum audit_outcome outcome)
{
	uint64_t t = 0;

	for (int l = 0; l < LANE_COUNT; l++)
		for (int r = 0; r < AUDIT_REASONS; r++)
			t += atomic_load(&((struct job_stats *)s)->counters[l][outcome][r]);
	return t;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* @usec may come from a mapping: any number gives some text */
static void format_time(uint64_t usec, char *buf, size_t len)
{
	time_t secs = (time_t)(usec / 1000000);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%llu", (unsigned long long)(usec / 1000000));
}

/* The relay's pid, from the state file its supervisor wrote; 0 if none */
static int relay_pid(const char *id)
{
	struct job_record r;

	return state_record_read(id, &r) == 0 ? (int)r.relay_pid : 0;
}

#define LOAD(field) atomic_load(&((struct job_stats *)s)->field)

static void cmd_jobs(const struct ctl_jobs *j, bool json, struct outbuf *o)
{
	uint64_t now = now_usec();

	if (json)
		out(o, "[");
	else
		out(o, "%-8s  %-16s  %-16s  %-7s  %7s  %6s  %5s  %8s  %8s  %s\n", "JOB", "NAME",
		    "TENANT", "PROFILE", "PID", "AGE", "FLOWS", "ALLOWED", "DENIED",
		    "REVOKED");
	for (size_t i = 0; i < j->n; i++) {
		const struct job_stats *s = j->s[i];
		const struct job_info *info = &j->info[i];
		bool revoked = LOAD(revoked);
		uint64_t age = now > info->start_usec ? now - info->start_usec : 0;

		if (!json) {
			char id[ESC_BUF], name[ESC_BUF], tenant[ESC_BUF], profile[ESC_BUF];

			out(o, "%-8s  %-16s  %-16s  %-7s  %7d  %5llus  %5llu  %8llu  %8llu  %s\n",
			    ESC(id, j->id[i]), ESC(name, info->name), ESC(tenant, info->tenant),
			    ESC(profile, info->profile), (int)info->supervisor_pid,
			    (unsigned long long)(age / 1000000),
			    (unsigned long long)LOAD(flows_active),
			    (unsigned long long)total(s, OUTCOME_ALLOWED),
			    (unsigned long long)total(s, OUTCOME_DENIED), revoked ? "yes" : "no");
			continue;
		}
		out(o, "%s{\"job\":", i ? "," : "");
		out_json(o, j->id[i]);
		out(o, ",\"name\":");
		out_json(o, info->name);
		out(o, ",\"tenant\":");
		out_json(o, info->tenant);
		out(o, ",\"profile\":");
		out_json(o, info->profile);
		out(o, ",\"supervisor_pid\":%d,\"relay_pid\":%d,\"start_usec\":%llu,"
		    "\"revoked\":%s,\"revoked_usec\":%llu,\"flows_active\":%llu,"
		    "\"allowed\":%llu,\"denied\":%llu}",
		    (int)info->supervisor_pid, relay_pid(j->id[i]),
		    (unsigned long long)info->start_usec, revoked ? "true" : "false",
		    (unsigned long long)LOAD(revoked_usec),
		    (unsigned long long)LOAD(flows_active),
		    (unsigned long long)total(s, OUTCOME_ALLOWED),
		    (unsigned long long)total(s, OUTCOME_DENIED));
	}
	if (json)
		out(o, "]\n");
}

static const char *const outcome_names[OUTCOME_COUNT] = { "allowed", "denied" };

typedef void (*counter_fn)(struct outbuf *o, const struct ctl_jobs *j, size_t i,
			   enum audit_lane lane, enum audit_outcome outcome,
			   const char *reason, uint64_t n, bool *first);

/* Call @fn for every nonzero counter of job @i; the names are ours, the
 * mapping gives only the numbers */
static void counters_visit(struct outbuf *o, const struct ctl_jobs *j, size_t i,
			   counter_fn fn, bool *first)
{
	const struct job_stats *s = j->s[i];

	for (int l = 0; l < LANE_COUNT; l++)
		for (int oc = 0; oc < OUTCOME_COUNT; oc++)
			for (unsigned r = 0; stats_reason_name(r); r++) {
				uint64_t n = LOAD(counters[l][oc][r]);

				if (n)
					fn(o, j, i, (enum audit_lane)l, (enum audit_outcome)oc,
					   stats_reason_name(r), n, first);
			}
}

static void counter_text(struct outbuf *o, const struct ctl_jobs *j, size_t i,
			 enum audit_lane lane, enum audit_outcome outcome,
			 const char *reason, uint64_t n, bool *first)
{
	(void)j;
	(void)i;
	(void)first;
	out(o, "  %-8s %-8s %-24s %llu\n", audit_lane_name(lane), outcome_names[outcome],
	    reason, (unsigned long long)n);
}

static void counter_json(struct outbuf *o, const struct ctl_jobs *j, size_t i,
			 enum audit_lane lane, enum audit_outcome outcome,
			 const char *reason, uint64_t n, bool *first)
{
	(void)j;
	(void)i;
	out(o, "%s{\"lane\":\"%s\",\"outcome\":\"%s\",\"reason\":", *first ? "" : ",",
	    audit_lane_name(lane), outcome_names[outcome]);
	out_json_n(o, reason, FIELD_MAX);
	out(o, ",\"count\":%llu}", (unsigned long long)n);
	*first = false;
}

static void metric_labels(struct outbuf *o, const struct ctl_jobs *j, size_t i);

static void counter_metric(struct outbuf *o, const struct ctl_jobs *j, size_t i,
			   enum audit_lane lane, enum audit_outcome outcome,
			   const char *reason, uint64_t n, bool *first)
{
	(void)first;
	out(o, "nbjail_decisions_total{");
	metric_labels(o, j, i);
	out(o, ",lane=\"%s\",outcome=\"%s\",reason=", audit_lane_name(lane),
	    outcome_names[outcome]);
	out_label_n(o, reason, FIELD_MAX);
	out(o, "} %llu\n", (unsigned long long)n);
}

static void cmd_stats_one(const struct ctl_jobs *j, size_t i, bool json, struct outbuf *o)
{
	const struct job_stats *s = j->s[i];
	bool first = true;

	if (json) {
		out(o, "{\"job\":");
		out_json(o, j->id[i]);
		out(o, ",\"tenant\":");
		out_json(o, j->info[i].tenant);
		out(o, ",\"revoked\":%s,\"flows_active\":%llu,\"flows_total\":%llu,"
		    "\"bytes_up\":%llu,\"bytes_down\":%llu,\"events_sent\":%llu,"
		    "\"events_dropped\":%llu,\"events_suppressed\":%llu,"
		    "\"journal_errors\":%llu,\"decisions\":[",
		    LOAD(revoked) ? "true" : "false",
		    (unsigned long long)LOAD(flows_active), (unsigned long long)LOAD(flows_total),
		    (unsigned long long)LOAD(bytes_up), (unsigned long long)LOAD(bytes_down),
		    (unsigned long long)LOAD(events_sent),
		    (unsigned long long)LOAD(events_dropped),
		    (unsigned long long)LOAD(events_suppressed),
		    (unsigned long long)LOAD(journal_errors));
	} else {
		char id[ESC_BUF], name[ESC_BUF], tenant[ESC_BUF];

		out(o, "job %s (name %s, tenant %s)%s\n", ESC(id, j->id[i]),
		    ESC(name, j->info[i].name), ESC(tenant, j->info[i].tenant),
		    LOAD(revoked) ? " REVOKED" : "");
		out(o, "  flows: %llu active, %llu total; bytes: %llu up, %llu down\n",
		    (unsigned long long)LOAD(flows_active), (unsigned long long)LOAD(flows_total),
		    (unsigned long long)LOAD(bytes_up), (unsigned long long)LOAD(bytes_down));
		out(o, "  events: %llu sent, %llu dropped, %llu folded; journald errors: %llu\n",
		    (unsigned long long)LOAD(events_sent),
		    (unsigned long long)LOAD(events_dropped),
		    (unsigned long long)LOAD(events_suppressed),
		    (unsigned long long)LOAD(journal_errors));
	}
	counters_visit(o, j, i, json ? counter_json : counter_text, &first);
	if (json)
		out(o, "]}");
}

static void cmd_stats(const struct ctl_jobs *j, bool json, struct outbuf *o)
{
	if (json)
		out(o, "[");
	for (size_t i = 0; i < j->n; i++) {
		if (json && i)
			out(o, ",");
		cmd_stats_one(j, i, json, o);
	}
	if (json)
		out(o, "]\n");
}

/**
 * struct recent_entry - one denial of `recent`, with its job
 * @job:	the job's index in struct ctl_jobs
 * @d:		the denial (a copy, NUL-terminated: text the job chose)
 */
struct recent_entry {
	size_t job;
	struct audit_denial d;
};

static int recent_cmp(const void *a, const void *b)
{
	const struct recent_entry *x = a, *y = b;

	return x->d.usec < y->d.usec ? 1 : x->d.usec > y->d.usec ? -1 : 0;
}

static int cmd_recent(const struct ctl_jobs *j, unsigned n, bool json,
		      struct outbuf *o)
{
	struct recent_entry *all = calloc(j->n * AUDIT_RING + 1, sizeof(*all));
	size_t count = 0;

	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < j->n; i++)
		for (unsigned k = 0; k < AUDIT_RING; k++)
			if (stats_ring_read(j->s[i], k, &all[count].d))
				all[count++].job = i;
	qsort(all, count, sizeof(*all), recent_cmp);
	if (count > n)
		count = n;
	if (json)
		out(o, "[");
	else
		out(o, "%-20s  %-8s  %-7s  %7s  %-22s  %s\n", "TIME", "JOB", "LANE", "PID",
		    "REASON", "TARGET");
	for (size_t i = 0; i < count; i++) {
		const struct audit_denial *d = &all[i].d;
		char when[32];

		format_time(d->usec, when, sizeof(when));
		if (!json && d->kind == AUDIT_HTTP_REQUEST) {
			/* a request on a terminated flow: "METHOD https://HOST/PATH
			 * status=N credential=NAME" */
			char id[ESC_BUF], reason[ESC_BUF], target[ESC_BUF], call[ESC_BUF];
			char word[sizeof(d->detail)], detail[ESC_BUFSIZE(sizeof(word))];
			const char *at = d->detail;

			out(o, "%-20s  %-8s  %-7s  %7d  %-22s  %s https://%s", when,
			    ESC(id, j->id[all[i].job]),
			    audit_lane_name((enum audit_lane)d->lane), d->pid,
			    ESC(reason, d->reason), ESC(call, d->call), ESC(target, d->target));
			/* the detail's words, each escaped, one space apart */
			while (*at) {
				size_t n = strcspn(at, " ");

				if (n) {
					memcpy(word, at, n);
					word[n] = '\0';
					out(o, " %s", ESC(detail, word));
				}
				at += n + (at[n] == ' ');
			}
			out(o, "\n");
			continue;
		}
		if (!json) {
			char id[ESC_BUF], reason[ESC_BUF], target[ESC_BUF], exe[ESC_BUF];

			out(o, "%-20s  %-8s  %-7s  %7d  %-22s  %s%s%s\n", when,
			    ESC(id, j->id[all[i].job]),
			    audit_lane_name((enum audit_lane)d->lane), d->pid,
			    ESC(reason, d->reason), ESC(target, d->target),
			    d->exe[0] ? "  exe=" : "", ESC(exe, d->exe));
			continue;
		}
		out(o, "%s{\"time\":\"%s\",\"usec\":%llu,\"job\":", i ? "," : "", when,
		    (unsigned long long)d->usec);
		out_json(o, j->id[all[i].job]);
		out(o, ",\"tenant\":");
		out_json(o, j->info[all[i].job].tenant);
		out(o, ",\"lane\":\"%s\",\"pid\":%d,\"reason\":",
		    audit_lane_name((enum audit_lane)d->lane), d->pid);
		out_json(o, d->reason);
		out(o, ",\"target\":");
		out_json(o, d->target);
		out(o, ",\"exe\":");
		out_json(o, d->exe);
		/* a number from the mapping: bounded by audit_kind_name() */
		out(o, ",\"event\":\"%s\",\"call\":", audit_kind_name((enum audit_kind)d->kind));
		out_json(o, d->call);
		out(o, ",\"detail\":");
		out_json(o, d->detail);
		out(o, "}");
	}
	if (json)
		out(o, "]\n");
	free(all);
	return 0;
}

/* Signal the job's relay, after checking that the pid is still it */
static void signal_relay(const char *id)
{
	struct job_record r;
	unsigned long long start;

	if (state_record_read(id, &r) < 0 || r.relay_pid <= 0)
		return;
	if (state_process_start_time(r.relay_pid, &start) < 0 || start != r.relay_start)
		return;
	(void)kill(r.relay_pid, SIGUSR1);
}

static int cmd_revoke(const struct ctl_jobs *j, const char *job,
		      const char *tenant, bool json, struct outbuf *o)
{
	unsigned done = 0;

	if (json)
		out(o, "[");
	for (size_t i = 0; i < j->n; i++) {
		char path[NBJ_PATH_MAX];
		struct job_stats *w;
		uint64_t expected = 0;

		/* paths, pids and the tenant from the job's directory and
		 * root's own files only: the mapping is writable by the job's
		 * relay and audit writer (issue 16: a forged job_id made root
		 * signal or open what it named, a forged tenant hid a job from
		 * revoke --tenant) */
		if (job ? strcmp(j->id[i], job) : strcmp(j->info[i].tenant, tenant))
			continue;
		if (runtime_path(path, "%s/stats", j->id[i]) < 0 ||
		    stats_open(path, true, &w) < 0)
			continue;
		if (atomic_compare_exchange_strong(&w->revoked, &expected, 1))
			atomic_store(&w->revoked_usec, now_usec());
		stats_unmap(w);
		/* what the job's supervisor trusts (the word above the relay
		 * could clear): a file in the job's directory, nbjail's own */
		if (runtime_path(path, "%s/revoked", j->id[i]) == 0) {
			int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
			else
				log_warn("cannot mark %s revoked: %m", j->id[i]);
		}
		signal_relay(j->id[i]);
		if (json) {
			out(o, "%s", done ? "," : "");
			out_json(o, j->id[i]);
		} else {
			char tenant[ESC_BUF];

			out(o, "revoked %s (tenant %s)\n", j->id[i], ESC(tenant, j->info[i].tenant));
		}
		done++;
	}
	if (json)
		out(o, "]\n");
	return done ? 0 : 1;
}

static void metric_head(struct outbuf *o, const char *name, const char *type,
			const char *help)
{
	out(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_labels(struct outbuf *o, const struct ctl_jobs *j, size_t i)
{
	out(o, "job=");
	out_label(o, j->id[i]);
	out(o, ",tenant=");
	out_label(o, j->info[i].tenant);
}

static void cmd_metrics(const struct ctl_jobs *j, struct outbuf *o)
{
	static const struct {
		const char *name, *type, *help;
		size_t offset;
	} gauges[] = {
		{ "nbjail_flows_active", "gauge", "TCP flows relayed now",
		  offsetof(struct job_stats, flows_active) },
		{ "nbjail_flows_total", "counter", "TCP flows relayed since the job started",
		  offsetof(struct job_stats, flows_total) },
		{ "nbjail_audit_events_dropped_total", "counter",
		  "audit events lost because the writer was behind",
		  offsetof(struct job_stats, events_dropped) },
		{ "nbjail_audit_events_suppressed_total", "counter",
		  "audit events folded into \"N more like this\"",
		  offsetof(struct job_stats, events_suppressed) },
		{ "nbjail_journal_errors_total", "counter",
		  "audit events journald did not take",
		  offsetof(struct job_stats, journal_errors) },
		{ "nbjail_job_revoked", "gauge", "1 once the job was revoked", 0 },
	};

	metric_head(o, "nbjail_jobs", "gauge", "jobs running");
	out(o, "nbjail_jobs %zu\n", j->n);
	metric_head(o, "nbjail_decisions_total", "counter",
		    "connection and name decisions by lane, outcome and reason");
	for (size_t i = 0; i < j->n; i++)
		counters_visit(o, j, i, counter_metric, NULL);
	metric_head(o, "nbjail_bytes_total", "counter", "bytes relayed, by direction");
	for (size_t i = 0; i < j->n; i++) {
		const struct job_stats *s = j->s[i];

		out(o, "nbjail_bytes_total{");
		metric_labels(o, j, i);
		out(o, ",direction=\"up\"} %llu\n", (unsigned long long)LOAD(bytes_up));
		out(o, "nbjail_bytes_total{");
		metric_labels(o, j, i);
		out(o, ",direction=\"down\"} %llu\n", (unsigned long long)LOAD(bytes_down));
	}
	for (size_t g = 0; g < ARRAY_SIZE(gauges); g++) {
		metric_head(o, gauges[g].name, gauges[g].type, gauges[g].help);
		for (size_t i = 0; i < j->n; i++) {
			const struct job_stats *s = j->s[i];
			unsigned long long v = gauges[g].offset ?
				atomic_load((_Atomic uint64_t *)((char *)s + gauges[g].offset)) :
				LOAD(revoked) != 0;

			out(o, "%s{", gauges[g].name);
			metric_labels(o, j, i);
			out(o, "} %llu\n", v);
		}
	}
}

/* The same samples as JSON: [{"name":..,"labels":{..},"value":N}, ...],
 * from the exposition text cmd_metrics() wrote (our own, well-formed) */
static void metrics_json(const char *text, struct outbuf *o)
{
	bool first = true;

	out(o, "[");
	for (const char *line = text; *line;) {
		const char *end = strchrnul(line, '\n'), *brace, *sp;

		if (*line != '#' && (sp = memrchr(line, ' ', (size_t)(end - line)))) {
			brace = memchr(line, '{', (size_t)(sp - line));
			out(o, "%s{\"name\":\"%.*s\",\"labels\":{", first ? "" : ",",
			    (int)((brace ? brace : sp) - line), line);
			if (brace) {
				/* k="v",k="v"}: the values are escaped for both formats */
				for (const char *p = brace + 1; p < sp && *p != '}';) {
					const char *eq = memchr(p, '=', (size_t)(sp - p)), *q;

					if (!eq)
						break;
					out(o, "%s\"%.*s\":", p == brace + 1 ? "" : ",",
					    (int)(eq - p), p);
					for (q = eq + 2; q < sp && !(*q == '"' && q[-1] != '\\'); q++)
						;
					out(o, "%.*s", (int)(q + 1 - (eq + 1)), eq + 1);
					p = q + 1;
					if (*p == ',')
						p++;
				}
			}
			out(o, "},\"value\":%.*s}", (int)(end - sp - 1), sp + 1);
			first = false;
		}
		line = *end ? end + 1 : end;
	}
	out(o, "]\n");
}

static bool parse_count(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > AUDIT_RING)
		return false;
	*ret = (unsigned)v;
	return true;
}

/**
 * ctl_handle() - answer one control request
 * @argc:	number of arguments
 * @argv:	the request: "jobs", "stats [JOB]", "recent [N] [JOB]",
 *		"revoke JOB", "revoke --tenant T", "metrics", each optionally
 *		with "--json" (not metrics)
 * @ret_text:	the answer (malloc'd, NUL-terminated), also on errors
 *
 * Return: 0 on success, 1 when nothing matched (no such job), 2 for a bad
 * request (@ret_text says why), or negative errno
 */
int ctl_handle(int argc, char *const argv[], char **ret_text)
{
	struct ctl_jobs *j = calloc(1, sizeof(*j));
	struct outbuf o = { 0 };
	const char *args[CTL_ARGS_MAX] = { 0 }, *cmd, *job = NULL;
	unsigned n_args = 0, count = 20;
	bool json = false;
	int rc = 0;

	if (!j)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (n_args < CTL_ARGS_MAX)
			args[n_args++] = argv[i];
		else
			rc = 2;
	}
	cmd = n_args ? args[0] : "";
	if (rc == 0)
		rc = jobs_load(j) < 0 ? -EIO : 0;
	if (rc)
		goto done;

	if (!strcmp(cmd, "jobs") && n_args == 1) {
		cmd_jobs(j, json, &o);
	} else if (!strcmp(cmd, "stats") && n_args <= 2) {
		job = n_args == 2 ? args[1] : NULL;
		if (!jobs_keep(j, job)) {
			out(&o, "no such job: %s\n", job);
			rc = 1;
		} else {
			cmd_stats(j, json, &o);
		}
	} else if (!strcmp(cmd, "recent") && n_args <= 3) {
		unsigned a = 1;

		/* a job id is 8 hex digits; a count has at most 3 */
		bool is_count = a < n_args && strlen(args[a]) != NBJ_JOB_ID_LEN;

		if (is_count && parse_count(args[a], &count))
			a++;
		else if (is_count)
			a = n_args + 1; /* a bad count */
		if (a < n_args)
			job = args[a++];
		if (a != n_args) {
			out(&o, "recent [N] [JOB]: N is 1 to %d\n", AUDIT_RING);
			rc = 2;
		} else if (!jobs_keep(j, job)) {
			out(&o, "no such job: %s\n", job);
			rc = 1;
		} else {
			rc = cmd_recent(j, count, json, &o);
		}
	} else if (!strcmp(cmd, "revoke") && n_args == 2 && strcmp(args[1], "--tenant")) {
		rc = cmd_revoke(j, args[1], NULL, json, &o);
		if (rc)
			out(&o, "no such job: %s\n", args[1]);
	} else if (!strcmp(cmd, "revoke") && n_args == 3 && !strcmp(args[1], "--tenant")) {
		rc = cmd_revoke(j, NULL, args[2], json, &o);
		if (rc)
			out(&o, "no job of tenant %s\n", args[2]);
	} else if (!strcmp(cmd, "metrics") && n_args == 1) {
		cmd_metrics(j, &o);
		if (json && !o.oom && o.buf) {
			struct outbuf text = o;

			o = (struct outbuf){ 0 };
			metrics_json(text.buf, &o);
			free(text.buf);
		}
	} else {
		rc = 2;
	}
done:
	if (rc == 2 && !o.len)
		out(&o, "nbjail: ctl: bad request; use jobs | stats [JOB] | recent [N] [JOB] | revoke JOB | "
			"revoke --tenant T | metrics   [--json]\n");
	jobs_free(j);
	free(j);
	if (o.oom) {
		free(o.buf);
		return -ENOMEM;
	}
	if (!o.buf)
		out(&o, "%s", "");
	*ret_text = o.buf;
	return rc;
}

/* ---------------------------------------------------------------- server */

static void server_release(struct ctl_server *s)
{
	struct stat st;

	if (s->listen_fd >= 0) {
		/* unlink only our own socket, never a successor's */
		if (stat(CTL_SOCKET, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
			(void)unlink(CTL_SOCKET);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	closep(&s->lock_fd);
	s->lock_fd = -1;
}

/* Take the lock and the socket if nobody holds them; 1 if we did */
static int server_try(struct ctl_server *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = s->ev_listen };
	struct stat st;

	if (s->lock_fd < 0) {
		s->lock_fd = open(CTL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->lock_fd < 0)
			return negative_errno();
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 0 : negative_errno();
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", CTL_SOCKET);
	(void)unlink(CTL_SOCKET); /* a dead holder's */
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(CTL_SOCKET, 0600) < 0 || listen(s->listen_fd, 16) < 0 ||
	    stat(CTL_SOCKET, &st) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0) {
		int err = negative_errno();

		server_release(s);
		return err;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 1;
}

/**
 * ctl_remove_stale_socket() - remove /run/nbjail/ctl.sock if no supervisor
 * holds the control lock (its server was killed); for nbj_gc()
 */
void ctl_remove_stale_socket(void)
{
	_cleanup_close_ int fd = open(CTL_LOCK, O_RDWR | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		(void)unlink(CTL_SOCKET);
		(void)flock(fd, LOCK_UN);
	}
}

/**
 * ctl_server_start() - contend for the control socket
 * @s:		server state of one job
 * @epfd:	the job's epoll instance
 * @ev_listen:	epoll data for the listening socket
 * @ev_retry:	epoll data for the retry timer
 *
 * Return: 0 (serving or waiting to take over), or negative errno
 */
int ctl_server_start(struct ctl_server *s, int epfd, uint32_t ev_listen,
		     uint32_t ev_retry)
{
	struct itimerspec every = { { 1, 0 }, { 1, 0 } };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = ev_retry };
	int r;

	*s = (struct ctl_server){ .lock_fd = -1, .listen_fd = -1, .timer_fd = -1,
				  .epfd = epfd, .ev_listen = ev_listen };
	r = server_try(s);
	if (r != 0)
		return r < 0 ? r : 0;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0 || timerfd_settime(s->timer_fd, 0, &every, NULL) < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0)
		return negative_errno();
	return 0;
}

/**
 * ctl_server_retry() - the retry timer fired: try to take over
 * @s:		server state
 */
void ctl_server_retry(struct ctl_server *s)
{
	uint64_t ticks;

	(void)!read(s->timer_fd, &ticks, sizeof(ticks));
	if (s->listen_fd >= 0 || server_try(s) != 1)
		return;
	closep(&s->timer_fd); /* closing removes it from epoll */
	s->timer_fd = -1;
}

static bool read_request(int fd, char *buf, size_t len, size_t *ret_n)
{
	size_t n = 0;

	while (n < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, CTL_IO_TIMEOUT_MS) <= 0)
			return false;
		r = read(fd, buf + n, len - n);
		if (r <= 0)
			return false;
		n += (size_t)r;
		/* a request ends with an empty argument: two NULs in a row,
		 * or one NUL when it is the first byte */
		if ((n >= 2 && !buf[n - 1] && !buf[n - 2]) || (n == 1 && !buf[0])) {
			*ret_n = n;
			return true;
		}
	}
	return false;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		if (poll(&pfd, 1, CTL_IO_TIMEOUT_MS) <= 0)
			return;
		w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w <= 0 && errno != EAGAIN)
			return;
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
		}
	}
}

/**
 * ctl_server_accept() - serve one client of the control socket
 * @s:		server state
 */
void ctl_server_accept(struct ctl_server *s)
{
	_cleanup_close_ int fd = -1;
	char req[CTL_REQUEST_MAX], *argv[CTL_ARGS_MAX + 2], *text = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned char status;
	size_t n = 0;
	int argc = 0, rc;

	fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		static const char denied[] = "\002nbjail ctl: permission denied (the jobs' user only)\n";

		write_all(fd, denied, sizeof(denied) - 1);
		return;
	}
	if (!read_request(fd, req, sizeof(req), &n))
		return;
	for (size_t i = 0; i < n && req[i] && argc < CTL_ARGS_MAX + 1; i += strlen(req + i) + 1)
		argv[argc++] = req + i;
	argv[argc] = NULL;
	rc = ctl_handle(argc, argv, &text);
	status = (unsigned char)(rc < 0 ? 3 : rc);
	write_all(fd, (const char *)&status, 1);
	if (text)
		write_all(fd, text, strlen(text));
	free(text);
}

/**
 * ctl_server_stop() - give the control socket up (another job's
 * supervisor takes it within a second)
 * @s:		server state
 */
void ctl_server_stop(struct ctl_server *s)
{
	server_release(s);
	closep(&s->timer_fd);
	s->timer_fd = -1;
}

/* ---------------------------------------------------------------- client */

/**
 * nbj_ctl() - run a control request: through /run/nbjail/ctl.sock, or
 * answered here when no supervisor serves it
 * @argc:	number of arguments
 * @argv:	the request (see nbjail(1), CONTROL)
 * @out_stream:	where the answer goes (the explanation of a bad request
 *		goes to stderr)
 *
 * Return: 0 done, 1 nothing matched, 2 bad request, or negative errno
 */
int nbj_ctl(int argc, char *const argv[], FILE *out_stream)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	char buf[65536], *text = NULL;
	size_t reqlen = 0;
	char req[CTL_REQUEST_MAX];
	ssize_t n;
	int rc = -1;

	/* the caller's jobs: root's in /run/nbjail, a user's in theirs */
	if (!nbj_runtime_dir())
		return nbj_runtime_dir_error();
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (reqlen + l + 1 > sizeof(req))
			return -E2BIG;
		memcpy(req + reqlen, argv[i], l);
		reqlen += l;
	}
	req[reqlen++] = '\0';

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", CTL_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    write(fd, req, reqlen) == (ssize_t)reqlen) {
		bool first = true;

		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			const char *p = buf;

			if (first) {
				rc = (unsigned char)buf[0];
				p++;
				n--;
				first = false;
			}
			/* a bad request's explanation goes to stderr */
			fwrite(p, 1, (size_t)n, rc == 2 ? stderr : out_stream);
		}
		if (rc >= 0)
			return rc == 3 ? -EIO : rc;
	}
	/* nobody serves the socket: answer the same way, here */
	rc = ctl_handle(argc, argv, &text);
	if (text)
		fputs(text, rc == 2 ? stderr : out_stream);
	free(text);
	return rc;
}
