/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/audit.c - audit events: building, sending, formatting
 *
 * Theory of operation: a producer fills a struct audit_event and calls
 * audit_send(), one non-blocking send() of a fixed-size record on the
 * job's SOCK_SEQPACKET socket to the audit writer (relay/auditd.c); a
 * producer with many events per turn of its loop (the relay's inbound
 * requests) sends them together with audit_send_many(), one sendmmsg()
 * of one record each, so that a request costs neither a system call of
 * its own nor a wake-up of the writer of its own.  If
 * the writer is behind and the socket is full, the event is dropped and
 * counted in the job's statistics: a flood of denials, or a journald that
 * is absent or slow, never blocks a job or the relay.  The counters that
 * `nbjail ctl` shows are kept by the producers themselves
 * (stats_count()), so they stay exact whatever happens to the events.
 *
 * The formatting helpers (JSON line, MESSAGE text) are used by the writer
 * only; they live here with the field definitions they format.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/audit.h"
#include "common/escape.h"
#include "common/util.h"

static const struct {
	const char *name;
	const char *message_id;
	int priority;
} kinds[AUDIT_KIND_COUNT] = {
	[AUDIT_JOB_START] = { "job-start", "e86fe4fced1f408ba4f6b4b92e63ab1a", 6 },
	[AUDIT_JOB_END] = { "job-end", "556a0c6781044695a471e9e5e7c41b6d", 6 },
	[AUDIT_DENY] = { "deny", "355937e8dd1f4bf6aa7faf27cc3d05b0", 4 },
	[AUDIT_FLOOR_EXCEPTION] = { "floor-exception", "687aa52df81d4fd7ac61ed72f1f0e127", 5 },
	[AUDIT_REVOKE] = { "revoke", "5f51ae8d38994e6aa0532a9c430809de", 4 },
	[AUDIT_RATE_LIMITED] = { "rate-limited", "bec355ce733e49cdb3b359a40f9ad9eb", 4 },
	[AUDIT_RELAY_FAILURE] = { "relay-failure", "e86db6c0ef734161a359fa9e56a9d6e1", 3 },
	[AUDIT_DOCK_CALL] = { "dock-call", "0b6f3c1e9a5d4f7e8c2a71d4e6b95f03", 6 },
	[AUDIT_INBOUND] = { "inbound", "9d3a6f0e2c5b4e81a7f4c0b3d2e1f5a6", 6 },
	[AUDIT_HTTP_REQUEST] = { "http-request", "c2e7a4d19b6f4e0a8d35f1b7e9042a6c", 6 },
};

static const char *const lanes[LANE_COUNT] = {
	[LANE_SECCOMP] = "seccomp",
	[LANE_TCP] = "tcp",
	[LANE_DNS] = "dns",
	[LANE_JOB] = "job",
	[LANE_DOCK] = "dock",
	[LANE_INBOUND] = "inbound",
};

/**
 * audit_kind_name() - "deny", "job-start", ...
 * @kind:	event kind
 *
 * Return: a static string
 */
const char *audit_kind_name(enum audit_kind kind)
{
	return kind < AUDIT_KIND_COUNT ? kinds[kind].name : "unknown";
}

/**
 * audit_message_id() - the stable journald MESSAGE_ID of an event kind
 * @kind:	event kind
 *
 * Return: 32 hex digits, see nbjail-audit(7)
 */
const char *audit_message_id(enum audit_kind kind)
{
	return kind < AUDIT_KIND_COUNT ? kinds[kind].message_id
				       : "00000000000000000000000000000000";
}

/**
 * audit_priority() - the syslog priority of an event kind
 * @kind:	event kind
 *
 * Return: 3 (err) to 6 (info)
 */
int audit_priority(enum audit_kind kind)
{
	return kind < AUDIT_KIND_COUNT ? kinds[kind].priority : 4;
}

/**
 * audit_lane_name() - "seccomp", "tcp", "dns", "job", "dock" or "inbound"
 * @lane:	lane
 *
 * Return: a static string
 */
const char *audit_lane_name(enum audit_lane lane)
{
	return lane < LANE_COUNT ? lanes[lane] : "unknown";
}

/**
 * audit_set() - copy a string into a fixed event field, cutting it
 * @field:	destination
 * @size:	its size
 * @value:	source, NULL for ""
 */
void audit_set(char *field, size_t size, const char *value)
{
	snprintf(field, size, "%s", value ? value : "");
}

/**
 * audit_event_init() - a blank event of a kind, stamped now
 * @ev:		event
 * @kind:	kind
 * @lane:	lane
 */
void audit_event_init(struct audit_event *ev, enum audit_kind kind,
		      enum audit_lane lane)
{
	struct timespec ts;

	memset(ev, 0, sizeof(*ev));
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->kind = kind;
	ev->lane = lane;
	ev->usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/**
 * audit_send() - hand an event to the job's audit writer, never blocking
 * @a:		producer context; nothing happens without a writer
 * @ev:		event
 *
 * Return: 0, or -EAGAIN (dropped and counted) or another negative errno
 */
int audit_send(const struct audit_ctx *a, const struct audit_event *ev)
{
	ssize_t n;

	if (!a || a->fd < 0)
		return -ENOTCONN;
	n = send(a->fd, ev, sizeof(*ev), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)sizeof(*ev)) {
		if (a->stats)
			atomic_fetch_add(&a->stats->events_sent, 1);
		return 0;
	}
	if (a->stats)
		atomic_fetch_add(&a->stats->events_dropped, 1);
	return n < 0 ? negative_errno() : -EIO;
}

/**
 * audit_send_many() - hand events to the job's audit writer in one
 * sendmmsg(), never blocking; each is still one record, as audit_send()'s
 * @a:		producer context; nothing happens without a writer
 * @ev:		the events, in order
 * @n:		their number, at most AUDIT_SEND_MANY_MAX (more are dropped)
 *
 * Events the socket has no room for (the writer is behind) are dropped
 * and counted, as audit_send() drops one.
 *
 * Return: how many were sent
 */
unsigned audit_send_many(const struct audit_ctx *a, const struct audit_event *ev, unsigned n)
{
	struct mmsghdr msg[AUDIT_SEND_MANY_MAX];
	struct iovec iov[AUDIT_SEND_MANY_MAX];
	unsigned sent = 0, want = n < AUDIT_SEND_MANY_MAX ? n : AUDIT_SEND_MANY_MAX;

	if (!a || a->fd < 0 || !n)
		return 0;
	for (unsigned i = 0; i < want; i++) {
		iov[i] = (struct iovec){ .iov_base = (void *)&ev[i], .iov_len = sizeof(ev[i]) };
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	while (sent < want) {
		int r = sendmmsg(a->fd, msg + sent, want - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sent += (unsigned)r;
	}
	if (a->stats) {
		if (sent)
			atomic_fetch_add(&a->stats->events_sent, sent);
		if (sent < n)
			atomic_fetch_add(&a->stats->events_dropped, n - sent);
	}
	return sent;
}

/**
 * audit_deny() - count a denial and send its event
 * @a:		producer context
 * @lane:	where it was decided
 * @pid:	the process (0 if unknown)
 * @call:	system call or NULL
 * @target:	what was asked for
 * @resolved:	what a name resolved to, or NULL
 * @exe:	executable or NULL
 * @peer:	the job's address or NULL
 * @reason:	why
 */
void audit_deny(const struct audit_ctx *a, enum audit_lane lane, pid_t pid,
		const char *call, const char *target, const char *resolved,
		const char *exe, const char *peer, enum decide_reason reason)
{
	struct audit_event ev;
	bool rate = reason == DECIDE_RATE || reason == DECIDE_DNS_RATE;

	if (a && a->stats)
		stats_count(a->stats, lane, OUTCOME_DENIED, reason);
	audit_event_init(&ev, rate ? AUDIT_RATE_LIMITED : AUDIT_DENY, lane);
	ev.pid = pid;
	EVENT_SET(&ev, call, call);
	EVENT_SET(&ev, target, target);
	EVENT_SET(&ev, resolved, resolved);
	EVENT_SET(&ev, exe, exe);
	EVENT_SET(&ev, peer, peer);
	EVENT_SET(&ev, reason, decide_reason_name(reason));
	(void)audit_send(a, &ev);
}

/* JSON string body (common/escape.c): valid JSON for any bytes; room
 * is left for the closing quote and brace */
static size_t json_str(char *buf, size_t len, size_t o, const char *s)
{
	if (o + 3 >= len)
		return o;
	return o + text_json_escape(buf + o, len - o - 2, s);
}

static size_t json_field(char *buf, size_t len, size_t o, const char *key,
			 const char *value)
{
	if (!value || !value[0] || o + strlen(key) + 8 >= len)
		return o;
	o += (size_t)snprintf(buf + o, len - o, ",\"%s\":\"", key);
	o = json_str(buf, len, o, value);
	if (o + 2 < len)
		buf[o++] = '"';
	buf[o] = '\0';
	return o;
}

/**
 * audit_message() - the human MESSAGE of an event
 * @ev:		event
 * @suppressed:	identical events folded into this one (0 for a plain event)
 * @buf:	output
 * @len:	its size
 *
 * Return: the length written
 */
size_t audit_message(const struct audit_event *ev, unsigned long long suppressed,
		     char *buf, size_t len)
{
	/* the job chose the target and the executable's name: escaped, like
	 * every field (common/escape.c); spaces too, so none forges a field */
	char target[ESC_BUFSIZE(sizeof(ev->target))], exe[ESC_BUFSIZE(sizeof(ev->exe))];
	char call[ESC_BUFSIZE(sizeof(ev->call))], reason[ESC_BUFSIZE(sizeof(ev->reason))];
	char detail[ESC_BUFSIZE(sizeof(ev->detail))];
	int n;

	text_escape(target, sizeof(target), ev->target, strnlen(ev->target, sizeof(ev->target)),
		    ESC_SPACE);
	text_escape(exe, sizeof(exe), ev->exe, strnlen(ev->exe, sizeof(ev->exe)), ESC_SPACE);
	text_escape(call, sizeof(call), ev->call, strnlen(ev->call, sizeof(ev->call)), ESC_SPACE);
	text_escape(reason, sizeof(reason), ev->reason, strnlen(ev->reason, sizeof(ev->reason)),
		    ESC_SPACE);
	text_escape(detail, sizeof(detail), ev->detail, strnlen(ev->detail, sizeof(ev->detail)),
		    0);

	switch (ev->kind) {
	case AUDIT_JOB_START:
		n = snprintf(buf, len, "job started: %s", detail);
		break;
	case AUDIT_JOB_END:
		n = snprintf(buf, len, "job ended: %s", detail);
		break;
	case AUDIT_FLOOR_EXCEPTION:
		n = snprintf(buf, len, "floor exception used: %s %s (%s)",
			     audit_lane_name(ev->lane), target, detail);
		break;
	case AUDIT_REVOKE:
		n = snprintf(buf, len, "job revoked: %s", detail);
		break;
	case AUDIT_RELAY_FAILURE:
		n = snprintf(buf, len, "relay failure: %s", detail);
		break;
	case AUDIT_DOCK_CALL:
		n = snprintf(buf, len, "dock call %s: %s", target, detail);
		break;
	case AUDIT_HTTP_REQUEST:
		n = snprintf(buf, len, "http %s https://%s %s reason=%s", call, target, detail,
			     reason);
		break;
	case AUDIT_RATE_LIMITED:
	case AUDIT_DENY:
	default:
		n = snprintf(buf, len, "%s %s%s%s %s reason=%s%s%s",
			     ev->kind == AUDIT_RATE_LIMITED ? "rate-limited" : "deny",
			     audit_lane_name(ev->lane), call[0] ? " " : "",
			     call, target, reason,
			     ev->exe[0] ? " exe=" : "", exe);
		break;
	}
	if (n < 0)
		n = 0;
	if (suppressed && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (%llu more like this)",
			      suppressed);
	return (size_t)n < len ? (size_t)n : len - 1;
}

/**
 * audit_json() - an event as one JSON object (no newline)
 * @ev:		event
 * @job:	job id
 * @tenant:	tenant
 * @suppressed:	identical events folded into this one
 * @buf:	output
 * @len:	its size (4096 is enough)
 *
 * Return: the length written
 */
size_t audit_json(const struct audit_event *ev, const char *job,
		  const char *tenant, unsigned long long suppressed, char *buf,
		  size_t len)
{
	char msg[1024], ts[40];
	time_t secs = (time_t)(ev->usec / 1000000);
	struct tm tm;
	size_t o;

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	o = (size_t)snprintf(buf, len,
			     "{\"time\":\"%s.%06uZ\",\"usec\":%llu,\"message_id\":\"%s\","
			     "\"event\":\"%s\",\"priority\":%d,\"lane\":\"%s\"",
			     ts, (unsigned)(ev->usec % 1000000),
			     (unsigned long long)ev->usec, audit_message_id(ev->kind),
			     audit_kind_name(ev->kind), audit_priority(ev->kind),
			     audit_lane_name(ev->lane));
	if (o >= len)
		o = len - 1;
	o = json_field(buf, len, o, "job", job);
	o = json_field(buf, len, o, "tenant", tenant);
	if (ev->pid > 0 && o + 24 < len)
		o += (size_t)snprintf(buf + o, len - o, ",\"pid\":%d", ev->pid);
	o = json_field(buf, len, o, "exe", ev->exe);
	o = json_field(buf, len, o, "call", ev->call);
	o = json_field(buf, len, o, "target", ev->target);
	o = json_field(buf, len, o, "resolved", ev->resolved);
	o = json_field(buf, len, o, "peer", ev->peer);
	o = json_field(buf, len, o, "reason", ev->reason);
	o = json_field(buf, len, o, "detail", ev->detail);
	o = json_field(buf, len, o, "overlay", ev->overlay[0] ? ev->overlay :
		       ev->lane == LANE_TCP ? "direct" : "");
	if (suppressed && o + 40 < len)
		o += (size_t)snprintf(buf + o, len - o, ",\"suppressed\":%llu",
				      suppressed);
	audit_message(ev, suppressed, msg, sizeof(msg));
	o = json_field(buf, len, o, "message", msg);
	if (o + 2 < len) {
		buf[o++] = '}';
		buf[o] = '\0';
	}
	return o;
}
