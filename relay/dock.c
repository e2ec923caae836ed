/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dock.c - the job's dock: host-side one-shot brokers
 *
 * DOC: Theory of operation
 *
 * The job's init made a unix stream listener at /run/nbjail/dock.sock in
 * the job's private /run (supervisor/reaper.c) and the relay holds it
 * (relay_config.dock_fd).  A job that knows it is sandboxed connects,
 * writes one request frame (include/nbjail/dock.h, nbjail-dock(7)) and
 * reads the answer; the relay dials, from the caller's network, only
 * what policy_decide() (lane dock) allowed.  A connection may also come
 * from the desk (relay_config.dock_desk_fd, a seqpacket socket every
 * process of the job inherits at NBJ_DOCK_DESK_FD): a one-byte "c" asks,
 * desk_serve() answers "c" with one end of a fresh socketpair (SCM_RIGHTS)
 * and keeps the other as if accepted; the job's connect() to the path,
 * which its notifier must carry out (seccomp/unix.c), is then spared.
 * Such a connection may wait in the job's queue: its frame's 5 s begin at
 * its first byte (DOCK_DESK_IDLE_S before).  A job that does not take its
 * answers makes the desk rest until the next tick.  One connection, one
 * call:
 *
 *   HEAD       read exactly the 16-byte header, then the target (5 s for
 *              the whole frame head); a malformed header is answered
 *              -EPROTO (reason malformed) and closed
 *   decide     tcp, udp: the target is a literal address or a host name
 *              (dock_target_parse()); the tenant's dock rate is taken;
 *              floor -> allow-list -> rate (policy/decide.c, lane dock);
 *              a name allowed so far is resolved once with the relay's
 *              c-ares (RESOLVING) and judged again on every answer: one
 *              internal answer denies it, as on the standard lane; the
 *              dial goes to the judged answers only (pinned).  tls is
 *              decided and dialled as tcp.
 *   get        get and get-many go, with the job's connection, to the
 *              HTTP client hooked in by nbjail-relay (dock_http, see
 *              relay/dock_http.c), which judges every hop itself with
 *              dock_facts() and the same rate; -ENOSYS without one
 *   tcp        CONNECTING (non-blocking, next answer on failure) -> SEND
 *              (the request body, streamed through the slot's buffer,
 *              then shutdown(SHUT_WR)) -> RECV/WRITE (the answer, read in
 *              pieces of up to 64 KiB and written to the job as DATA
 *              records, until EOF or the 1 MiB cap: a cap that cuts says
 *              so in END's flags); 10 s for all of it
 *   tls        as tcp, with TLS_HANDSHAKE after CONNECTING and the
 *              bytes through the TLS client bound to the pinned name
 *              (relay/dock_tls.c: out_io() picks; no TCP half-close:
 *              close_notify, and only to a server still silent 1 s
 *              after the request); a handshake or verification failure
 *              ends the call -EPROTO with its cause
 *   sign       the key's name checked, the dock's rate taken, then
 *              SIGN_WAIT (for the one signing buffer, relay/dock_sign.c)
 *              -> SIGN_BODY (the data, at most 1 MiB, whole) -> one
 *              keyholder_sign() -> WRITE (the 32-byte MAC); no key of
 *              that name, or no key holder (no secrets in the policy):
 *              -ENOENT "no such key"
 *   udp        UDP_BODY (the datagram, at most 65,535 bytes) -> a socket
 *              connect()ed to the pinned answer, one send -> UDP_WAIT
 *              (one reply whose source is checked again against the
 *              peer; others are dropped) -> WRITE; 5 s
 *   END        one END record (status, reason, flags) and close
 *
 * Bounds: DOCK_CONNS_MAX connections in a fixed table, each with one
 * fixed buffer of a record (allocated once, at start); when the table is
 * full, the oldest connection still in HEAD (a client that never
 * finishes its frame) makes room, else the newcomer is refused (-EBUSY).
 * A client that never reads its answer is cut at the call's deadline.
 * Nothing is allocated per call.
 *
 * Every call is one audit record, lane dock: a denial (AUDIT_DENY, with
 * the decision's reason, counted, in the ring of denials) or, for an
 * allowed call, AUDIT_DOCK_CALL when it ends (status and bytes in its
 * detail).  Revocation: the next call is denied (reason revoked) and
 * relay_revoked() cuts the calls in flight (dock_cut_all()).
 */
#include <ctype.h>
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "nbjail/dock.h"
#include "policy/target.h"
#include "relay/dock_tls.h"
#include "relay/relay_int.h"
#include "relay/tls_upstream.h"
#include "keys/keys.h"

const struct dock_http_ops *dock_http;

#define DOCK_HEAD_TIMEOUT_S 5
#define DOCK_DESK_IDLE_S 600	/* a desk's connection not taken by a client */
#define DOCK_DESK_UNTAKEN_MAX 32	/* desk connections no client took yet */
#define DOCK_END_TIMEOUT_S 2	/* to take the END record */
#define DOCK_BUF (NBJ_DOCK_RECORD_HEADER_SIZE + NBJ_DOCK_RECORD_MAX)

/**
 * enum dock_state - where a call is
 */
enum dock_state {
	DOCK_FREE,
	DOCK_HEAD,
	DOCK_RESOLVING,
	DOCK_CONNECTING,
	DOCK_SEND,
	DOCK_RECV,
	DOCK_WRITE,
	DOCK_UDP_BODY,
	DOCK_UDP_WAIT,
	DOCK_END,
	DOCK_TLS_HANDSHAKE,	/* relay/dock_tls.c */
	DOCK_SIGN_WAIT,		/* relay/dock_sign.c: for the signing buffer */
	DOCK_SIGN_BODY,		/* the data to sign, into that buffer */
};

/**
 * struct dock_conn - one call, a slot of the fixed table
 * @state:	enum dock_state
 * @gen:	generation, bumped at each use (late resolver answers)
 * @fd:		the job's connection
 * @out:	the socket dialled, -1 before
 * @ev_fd:	epoll events registered for @fd (0: none)
 * @ev_out:	for @out
 * @since:	when it was accepted (CLOCK_MONOTONIC s): the oldest is evicted
 * @from_desk:	made for the desk (its frame's 5 s begin at its first byte)
 * @untaken:	from the desk, and no byte came yet (counted in
 *		relay_ctx.dock_desk_untaken: the fds the job did not take)
 * @deadline:	when the current phase is given up
 * @req:	the decoded header
 * @target:	the target as sent (NUL-terminated)
 * @name:	the host name when the target is one, "" for an address
 * @addr:	the literal address, or the answer being dialled
 * @answers:	the judged answers of @name
 * @n_answers:	their number
 * @next:	the next answer to dial
 * @over_rate:	the call was over the dock rate (taken once, at decision)
 * @allowed:	the decision allowed it (its record is AUDIT_DOCK_CALL)
 * @body_left:	request bytes still to come from the job
 * @got:	answer bytes delivered to the job
 * @have:	bytes in @buf
 * @off:	bytes of @buf already written (WRITE, SEND, END)
 * @after_write: the state after WRITE
 * @buf:	the slot's buffer: the frame's head, a piece of request, a
 *		record of answer, the END record
 */
struct dock_conn {
	enum dock_state state;
	uint32_t gen;
	int fd;
	int out;
	uint32_t ev_fd;
	uint32_t ev_out;
	time_t since;
	bool from_desk;
	bool untaken;
	time_t deadline;
	struct nbj_dock_request req;
	char target[NBJ_DOCK_TARGET_MAX + 1];
	char name[NBJ_NAME_MAX + 1];
	struct nbj_addr addr;
	struct nbj_addr answers[RESOLVE_ANSWERS_MAX];
	unsigned n_answers;
	unsigned next;
	bool over_rate;
	bool allowed;
	size_t body_left;
	size_t got;
	size_t have;
	size_t off;
	enum dock_state after_write;
	unsigned char *buf;
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/**
 * dock_init() - the dock's table and its listener in the epoll set
 * @c:		relay context (epfd made)
 *
 * Return: 0 (also without a dock), or negative errno
 */
int dock_init(struct relay_ctx *c)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = RELAY_EV(RELAY_EV_DOCK_LISTEN, 0) };

	if (c->cfg->dock_fd < 0)
		return 0;
	c->dock = calloc(DOCK_CONNS_MAX, sizeof(*c->dock));
	c->dock_bufs = calloc(DOCK_CONNS_MAX, DOCK_BUF);
	if (!c->dock || !c->dock_bufs)
		return -ENOMEM;
	for (unsigned i = 0; i < DOCK_CONNS_MAX; i++) {
		c->dock[i].fd = c->dock[i].out = -1;
		c->dock[i].buf = c->dock_bufs + (size_t)i * DOCK_BUF;
	}
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->cfg->dock_fd, &ev) < 0)
		return negative_errno();
	if (c->cfg->dock_desk_fd >= 0) {
		struct ucred maker;
		socklen_t len = sizeof(maker);
		int on = 1;

		/* the job's init made the pair as the workload's user: that
		 * user, as the kernel names the sender of each ask */
		c->dock_desk_uid = (uid_t)-1;
		if (getsockopt(c->cfg->dock_desk_fd, SOL_SOCKET, SO_PEERCRED, &maker, &len) == 0 &&
		    setsockopt(c->cfg->dock_desk_fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0)
			c->dock_desk_uid = maker.uid;
		ev.data.u64 = RELAY_EV(RELAY_EV_DOCK_LISTEN, 1);
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->cfg->dock_desk_fd, &ev) < 0)
			return negative_errno();
	}
	if (dock_http) {
		int err = dock_http->init(c);

		if (err < 0)
			return err;
	}
	return dock_sign_init(c->cfg->keyholder_fd >= 0);
}

/**
 * dock_http_event() - a RELAY_EV_HTTP_* event, for the HTTP client
 * @c:		relay context
 * @type:	the event's type
 * @index:	its index
 * @events:	epoll events
 */
void dock_http_event(struct relay_ctx *c, enum relay_event type, uint32_t index,
		     uint32_t events)
{
	if (dock_http && c->http)
		dock_http->event(c, type, index, events);
}

/* Register what @fd of slot @i waits for (0: nothing) */
static void interest(struct relay_ctx *c, uint32_t i, bool out, uint32_t events)
{
	struct dock_conn *d = &c->dock[i];
	int fd = out ? d->out : d->fd;
	uint32_t *cur = out ? &d->ev_out : &d->ev_fd;
	struct epoll_event ev = {
		.events = events,
		.data.u64 = RELAY_EV(out ? RELAY_EV_DOCK_OUT : RELAY_EV_DOCK_JOB, i),
	};

	if (fd < 0 || *cur == events)
		return;
	if (!events)
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
	else if (epoll_ctl(c->epfd, *cur ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
		return;
	*cur = events;
}

/* @fd of slot @i is about to be closed: that takes it out of the epoll
 * set (the relay holds no other copy), no epoll_ctl() needed */
static void forget(struct relay_ctx *c, uint32_t i, bool out)
{
	if (out)
		c->dock[i].ev_out = 0;
	else
		c->dock[i].ev_fd = 0;
}

static void sign_release(struct relay_ctx *c, uint32_t i);

static void conn_free(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	if (d->state == DOCK_FREE)
		return;
	forget(c, i, false);
	forget(c, i, true);
	if (d->untaken)
		c->dock_desk_untaken--;
	d->untaken = false;
	dock_tls_end(i);
	if (d->fd >= 0)
		close(d->fd);
	if (d->out >= 0)
		close(d->out);
	d->fd = d->out = -1;
	d->state = DOCK_FREE;
	d->gen++;
	c->dock_live--;
	sign_release(c, i);
}

/* "host:port" of a call, for log lines and audit records */
static const char *call_target(const struct dock_conn *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s:%u", nbj_dock_op_name(d->req.op) ? nbj_dock_op_name(d->req.op)
								    : "?",
		 d->target[0] ? d->target : "?", d->req.port);
	return buf;
}

/* A denied call: logged, counted and audited (lane dock) */
static void audit_denied(struct relay_ctx *c, const struct dock_conn *d,
			 enum decide_reason reason)
{
	char t[NBJ_DOCK_TARGET_MAX + 32], resolved[256];

	call_target(d, t, sizeof(t));
	log_info("deny dock %s reason=%s", t, decide_reason_name(reason));
	audit_deny(&c->cfg->audit, LANE_DOCK, 0, NULL, t,
		   nbj_addr_list_format(d->answers, d->n_answers, resolved, sizeof(resolved)),
		   NULL, NULL, reason);
}

/* An allowed call's one record, when it ends */
static void audit_done(struct relay_ctx *c, const struct dock_conn *d, int status,
		       const char *why, bool truncated)
{
	char t[NBJ_DOCK_TARGET_MAX + 32], a[NBJ_ADDR_STRLEN];
	struct audit_event ev;

	audit_event_init(&ev, AUDIT_DOCK_CALL, LANE_DOCK);
	EVENT_SET(&ev, target, call_target(d, t, sizeof(t)));
	if (d->addr.family)
		EVENT_SET(&ev, resolved, nbj_addr_format(&d->addr, a, sizeof(a)));
	EVENT_SET(&ev, reason, "allowed");
	snprintf(ev.detail, sizeof(ev.detail), "status=%d bytes=%zu%s%s%s", status, d->got,
		 truncated ? " truncated" : "", why[0] ? " " : "", why);
	(void)audit_send(&c->cfg->audit, &ev);
}

static int flush(struct relay_ctx *c, uint32_t i);

/*
 * The call ends: its END record (status, reason, flags) is written to
 * the job, then the connection closes.  The dialled socket goes now.
 */
static void finish(struct relay_ctx *c, uint32_t i, int status, const char *reason,
		   bool truncated)
{
	struct dock_conn *d = &c->dock[i];
	size_t rlen = strnlen(reason, NBJ_DOCK_REASON_MAX);
	unsigned char *b = d->buf;

	if (d->allowed)
		audit_done(c, d, status, status < 0 ? reason : "", truncated);
	d->allowed = false;
	forget(c, i, true);
	dock_tls_end(i);
	if (d->out >= 0)
		close(d->out);
	d->out = -1;
	b[0] = NBJ_DOCK_REC_END;
	b[1] = truncated ? NBJ_DOCK_TRUNCATED : 0;
	b[2] = b[3] = 0;
	put32(b + 4, (uint32_t)(4 + rlen));
	put32(b + 8, (uint32_t)status);
	memcpy(b + 12, reason, rlen);
	d->have = 12 + rlen;
	d->off = 0;
	d->state = DOCK_END;
	d->deadline = now_s() + DOCK_END_TIMEOUT_S;
	sign_release(c, i);
	/* the job's socket has room, mostly: no round through epoll */
	if (flush(c, i) != 0)
		conn_free(c, i);
	else
		interest(c, i, false, EPOLLOUT);
}

/* A denial: audited with the decision's reason, answered -EACCES */
static void deny(struct relay_ctx *c, uint32_t i, enum decide_reason reason)
{
	audit_denied(c, &c->dock[i], reason);
	finish(c, i, -EACCES, decide_reason_name(reason), false);
}

/**
 * dock_target_parse() - the host of a tcp or udp call: a host name
 * (letters, digits, '-', '_', '.'; lower-cased, no trailing dot) or a
 * literal address (IPv4 in the spellings inet_aton(3) takes, IPv6 with
 * or without brackets, v4-mapped ones unmapped)
 * @host:	the target as sent, NUL-terminated
 * @name:	receives the name, "" for an address (NBJ_NAME_MAX + 1 bytes)
 * @addr:	receives the address (port 0) for an address
 *
 * A port, a userinfo, a path or any other character is malformed: the
 * port is the frame's own field.
 *
 * Return: 0, or -EINVAL
 */
int dock_target_parse(const char *host, char *name, struct nbj_addr *addr)
{
	char low[NBJ_DOCK_HOST_MAX + 1];
	struct target t;
	size_t len = strlen(host);

	if (!len || len > NBJ_DOCK_HOST_MAX)
		return -EINVAL;
	for (size_t k = 0; k <= len; k++) {
		unsigned char ch = (unsigned char)host[k];

		if (ch && !isalnum(ch) && !strchr(".-_:[]", ch))
			return -EINVAL;
		low[k] = (char)tolower(ch);
	}
	if (target_parse(low, &t) < 0 || t.port)
		return -EINVAL;
	/* "[::1]:0" and "host:0" parse with port 0: no port at all here */
	if (low[0] == '[' ? low[len - 1] != ']' : (strchr(low, ':') && !t.is_ip))
		return -EINVAL;
	if (strchr(low, ':') && (!t.is_ip || t.addr.family == AF_INET))
		return -EINVAL;	/* a port after a name or an IPv4 address */
	if (t.is_ip) {
		if (!nbj_addr_unmap_v4(&t.addr, addr))
			*addr = t.addr;
		addr->port = 0;
		name[0] = '\0';
		return 0;
	}
	if (strlen(t.host) > NBJ_NAME_MAX)
		return -EINVAL;
	strcpy(name, t.host);
	return 0;
}

/**
 * dock_over_rate() - take one call from the tenant's bucket of dock
 * calls, at the job's policy's rate
 * @c:		relay context
 *
 * Return: true when the call is over the rate (denied reason=rate)
 */
bool dock_over_rate(struct relay_ctx *c)
{
	const struct rate_limit *own = &c->cfg->audit.limits.dock;
	struct rate_limit l = { RATE_DOCK_CALLS_PER_S, RATE_DOCK_CALLS_PER_S };
	struct rate_bucket *b = c->cfg->audit.tenant ? &c->cfg->audit.tenant->dock
						     : &c->dock_rate;

	if (own->per_s && own->per_s <= RATE_DOCK_CALLS_PER_S)
		l = *own;
	return !rate_take(b, &l, 1, rate_now_ns());
}

/**
 * dock_facts() - the facts of a dock call to a name or an address, before
 * its answers
 * @c:		relay context
 * @name:	the host name, NULL or "" for a literal address
 * @addr:	the literal address (ignored for a name)
 * @port:	the destination port
 * @over_rate:	what dock_over_rate() said for this call
 * @ret:	the facts, answers pending
 */
void dock_facts(struct relay_ctx *c, const char *name, const struct nbj_addr *addr,
		uint16_t port, bool over_rate, struct decide_facts *ret)
{
	const struct job_stats *s = c->cfg->audit.stats;

	*ret = (struct decide_facts){
		.lane = DECIDE_LANE_DOCK,
		.policy = c->cfg->policy,
		.floor = hostaddr_floor(c),
		.name = name && name[0] ? name : NULL,
		.addr = *addr,
		.port = port,
		.answers_state = DECIDE_ANSWERS_PENDING,
		.selected = DECIDE_SELECTED_NONE,
		.revoked = c->revoked || (s && atomic_load(&((struct job_stats *)s)->revoked)),
		.over_rate = over_rate,
	};
	ret->addr.port = port;
}

static void facts_of(struct relay_ctx *c, const struct dock_conn *d,
		     struct decide_facts *ret)
{
	dock_facts(c, d->name, &d->addr, d->req.port, d->over_rate, ret);
}

static bool dial_next(struct relay_ctx *c, uint32_t i);
static void udp_send(struct relay_ctx *c, uint32_t i);

/* Allowed: the call's dial (tcp) or its datagram (udp) begins */
static void start(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	d->allowed = true;
	stats_count(c->cfg->audit.stats, LANE_DOCK, OUTCOME_ALLOWED, DECIDE_ALLOWED);
	d->deadline = now_s() + (d->req.op == NBJ_DOCK_OP_UDP ? NBJ_DOCK_UDP_TIMEOUT_S
							      : NBJ_DOCK_TCP_TIMEOUT_S);
	d->next = 0;
	if (d->req.op == NBJ_DOCK_OP_UDP) {
		d->state = DOCK_UDP_BODY;
		d->have = 0;
		if (!d->req.body_len)
			udp_send(c, i);
		else
			interest(c, i, false, EPOLLIN);
		return;
	}
	if (!dial_next(c, i))
		finish(c, i, -EHOSTUNREACH, "no answer could be dialled", false);
}

static void sign_decide(struct relay_ctx *c, uint32_t i);

/* The frame's head is whole: judge the call */
static void decide(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	struct decide_facts f;
	struct decision dec;

	switch (d->req.op) {
	case NBJ_DOCK_OP_TCP:
	case NBJ_DOCK_OP_UDP:
	case NBJ_DOCK_OP_TLS:	/* a tcp call, with TLS once connected */
		break;
	case NBJ_DOCK_OP_SIGN:
		sign_decide(c, i);
		return;
	case NBJ_DOCK_OP_GET:
	case NBJ_DOCK_OP_GET_MANY:
		/* the HTTP client takes the job's connection: this slot is done */
		if (dock_http && c->http) {
			int err;

			interest(c, i, false, 0);	/* before take() adds its own */
			err = dock_http->take(c, d->fd, &d->req, d->target);
			if (err < 0) {
				finish(c, i, err, err == -ENOSYS ? "no HTTP client (libcurl)"
						  : "too many get calls at once", false);
				return;
			}
			d->fd = -1;
			conn_free(c, i);
			return;
		}
		/* fall through */
	default:
		audit_denied(c, d, DECIDE_NOT_IMPLEMENTED);
		finish(c, i, -ENOSYS, "not implemented yet", false);
		return;
	}
	if (!d->req.port || dock_target_parse(d->target, d->name, &d->addr) < 0) {
		deny(c, i, DECIDE_MALFORMED);
		return;
	}
	d->over_rate = dock_over_rate(c);
	facts_of(c, d, &f);
	if (!f.name)
		f.answers_state = DECIDE_ANSWERS_OK;
	policy_decide(&f, &dec);
	if (dec.verdict == VERDICT_DENY) {
		if (dec.reason == DECIDE_REVOKED)
			(void)relay_revoked(c);
		deny(c, i, dec.reason);
		return;
	}
	if (dec.verdict == VERDICT_NEED_ANSWERS) {
		d->state = DOCK_RESOLVING;
		d->deadline = now_s() + NBJ_DOCK_TCP_TIMEOUT_S;
		interest(c, i, false, 0);
		if (resolve_start(c, d->name, RESOLVE_COOKIE(RESOLVE_FOR_DOCK, i, d->gen)) < 0)
			deny(c, i, DECIDE_RESOLVE_FAILED);
		return;
	}
	d->answers[0] = d->addr;
	d->answers[0].port = d->req.port;
	d->n_answers = 1;
	start(c, i);
}

/**
 * dock_resolved() - the answers for a call to a name: judge, then go
 * @c:		relay context
 * @slot:	the call's slot
 * @gen:	its generation when the lookup started
 * @status:	c-ares status
 * @answers:	every address of the name, IPv6 first
 * @n:		their number
 */
void dock_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		   const struct nbj_addr *answers, size_t n)
{
	struct dock_conn *d;
	struct decide_facts f;
	struct decision dec;
	size_t n_ok = status == ARES_SUCCESS ? n : 0;

	if (c->dock && slot >= DOCK_CONNS_MAX && dock_http && c->http) {
		dock_http->resolved(c, slot - DOCK_CONNS_MAX, gen, status, answers, n);
		return;
	}
	if (!c->dock || slot >= DOCK_CONNS_MAX)
		return;
	d = &c->dock[slot];
	if (d->state != DOCK_RESOLVING || (d->gen & 0x3fffffff) != gen)
		return;
	facts_of(c, d, &f);
	f.answers_state = status == ARES_SUCCESS ? DECIDE_ANSWERS_OK :
			  status == ARES_ENODATA || status == ARES_ENOTFOUND ?
			  DECIDE_ANSWERS_NONE : DECIDE_ANSWERS_FAILED;
	f.answers = answers;
	f.n_answers = n_ok;
	memcpy(d->answers, answers, n_ok * sizeof(*answers));
	d->n_answers = (unsigned)n_ok;
	policy_decide(&f, &dec);
	if (dec.verdict != VERDICT_ALLOW) {
		deny(c, slot, dec.verdict == VERDICT_DENY ? dec.reason : DECIDE_OTHER);
		return;
	}
	for (unsigned k = 0; k < d->n_answers; k++)
		d->answers[k].port = d->req.port;
	start(c, slot);
}

static void tls_begin(struct relay_ctx *c, uint32_t i);
static void send_body(struct relay_ctx *c, uint32_t i);

/* The dialled socket is connected: TLS (tls), or the request goes */
static void connected(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	d->have = d->off = 0;
	if (d->req.op == NBJ_DOCK_OP_TLS) {
		tls_begin(c, i);
		return;
	}
	d->state = DOCK_SEND;
	send_body(c, i);
}

/* Dial the next judged answer (tcp); false when none is left */
static bool dial_next(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	if (d->out >= 0) {
		forget(c, i, true);
		close(d->out);
		d->out = -1;
	}
	while (d->next < d->n_answers) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd;

		d->addr = d->answers[d->next++];
		len = nbj_addr_to_sockaddr(&d->addr, &ss);
		fd = socket(d->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		d->out = fd;
		d->state = DOCK_CONNECTING;
		interest(c, i, false, 0);
		{
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);

			/* over a near link the handshake is often done by
			 * now: no round through epoll then */
			if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
				connected(c, i);
				return true;
			}
		}
		interest(c, i, true, EPOLLOUT);
		return true;
	}
	return false;
}

/*
 * Bytes to or from the dialled socket, through TLS for a tls call
 * (relay/dock_tls.c): their number, or a negative errno with its cause
 * in @why; -EAGAIN: wait for *@events on it
 */
static ssize_t out_io(struct relay_ctx *c, uint32_t i, bool sending, void *buf, size_t len,
		      uint32_t *events, char *why, size_t whylen)
{
	ssize_t n;
	int err;

	if (dock_tls_active(i))
		return sending ? dock_tls_send(i, buf, len, events, why, whylen)
			       : dock_tls_recv(i, buf, len, events, why, whylen);
	n = sending ? send(c->dock[i].out, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)
		    : recv(c->dock[i].out, buf, len, MSG_DONTWAIT);
	if (n >= 0)
		return n;
	err = errno;
	*events = sending ? EPOLLOUT : EPOLLIN;
	if (err == EAGAIN || err == EINTR)
		return -EAGAIN;
	snprintf(why, whylen, "%s", strerror(err));
	return -err;
}

/* The answer's next piece, read from the dialled socket; false when the
 * call ended */
static bool recv_one(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	size_t room = NBJ_DOCK_RECORD_MAX;
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	uint32_t events = EPOLLIN;
	ssize_t n;

	if (d->got >= NBJ_DOCK_TCP_ANSWER_MAX) {
		/* at the cap: one more byte says whether it cut anything */
		unsigned char probe;

		n = out_io(c, i, false, &probe, 1, &events, why, sizeof(why));
		if (n == -EAGAIN) {
			interest(c, i, true, events);
			return true;
		}
		finish(c, i, 0, n > 0 ? "the answer is over the 1 MiB cap" : "", n > 0);
		return false;
	}
	if (room > NBJ_DOCK_TCP_ANSWER_MAX - d->got)
		room = NBJ_DOCK_TCP_ANSWER_MAX - d->got;
	n = out_io(c, i, false, d->buf + NBJ_DOCK_RECORD_HEADER_SIZE, room, &events, why,
		   sizeof(why));
	if (n == -EAGAIN) {
		interest(c, i, true, events);
		return true;
	}
	if (n < 0) {
		finish(c, i, (int)n, why, false);
		return false;
	}
	if (n == 0) {
		finish(c, i, 0, "", false);
		return false;
	}
	d->buf[0] = NBJ_DOCK_REC_DATA;
	d->buf[1] = d->buf[2] = d->buf[3] = 0;
	put32(d->buf + 4, (uint32_t)n);
	d->have = NBJ_DOCK_RECORD_HEADER_SIZE + (size_t)n;
	d->off = 0;
	d->got += (size_t)n;
	d->after_write = DOCK_RECV;
	d->state = DOCK_WRITE;
	return true;
}

/*
 * RECV: pieces of the answer, each written to the job at once while its
 * socket takes them (mostly: no round through epoll per piece); a piece
 * the job cannot take yet waits in WRITE for EPOLLOUT.  A few pieces at
 * a time, then the loop serves others.  False when the call ended.
 */
static bool recv_piece(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	for (int round = 0; round < 4; round++) {
		int err;

		if (!recv_one(c, i))
			return false;
		if (d->state != DOCK_WRITE)
			return true;	/* waits for the dialled socket */
		err = flush(c, i);
		if (err < 0) {
			if (d->allowed)
				audit_done(c, d, -EPIPE, "the job went away", false);
			conn_free(c, i);
			return false;
		}
		if (!err) {
			interest(c, i, true, 0);
			interest(c, i, false, EPOLLOUT);
			return true;
		}
		d->state = DOCK_RECV;
	}
	interest(c, i, true, EPOLLIN);	/* more next turn */
	return true;
}

/* Write what @buf holds to the job; true when all of it is out */
static int flush(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	while (d->off < d->have) {
		ssize_t n = send(d->fd, d->buf + d->off, d->have - d->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -EPIPE;
		d->off += (size_t)n;
	}
	return 1;
}

/* udp: the whole datagram is in: one send to the pinned peer */
static void udp_send(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	d->addr = d->answers[0];
	len = nbj_addr_to_sockaddr(&d->addr, &ss);
	fd = socket(d->addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		finish(c, i, -errno, "cannot make a UDP socket", false);
		return;
	}
	d->out = fd;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
	    send(fd, d->buf + NBJ_DOCK_RECORD_HEADER_SIZE, d->have, MSG_DONTWAIT) < 0) {
		int err = errno;

		finish(c, i, -err, strerror(err), false);
		return;
	}
	d->state = DOCK_UDP_WAIT;
	d->have = 0;
	interest(c, i, false, 0);
	interest(c, i, true, EPOLLIN);
}

/* udp: a datagram arrived; only the pinned peer's is the answer */
static void udp_reply(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	for (int k = 0; k < 16; k++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct nbj_addr src;
		ssize_t n = recvfrom(d->out, d->buf + NBJ_DOCK_RECORD_HEADER_SIZE,
				     NBJ_DOCK_UDP_MAX, MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &flen);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			int err = errno;

			finish(c, i, -err, err == ECONNREFUSED ? "refused (ICMP)" : strerror(err),
			       false);
			return;
		}
		if (nbj_addr_from_sockaddr((struct sockaddr *)&from, flen, &src) < 0 ||
		    !nbj_addr_equal_ip(&src, &d->addr) || src.port != d->addr.port) {
			char a[NBJ_ADDR_STRLEN];

			log_info("dock udp %s: dropped a datagram from %s", d->target,
				 nbj_addr_format(&src, a, sizeof(a)));
			continue;
		}
		if ((size_t)n > NBJ_DOCK_UDP_MAX)
			n = NBJ_DOCK_UDP_MAX;
		d->buf[0] = NBJ_DOCK_REC_DATA;
		d->buf[1] = d->buf[2] = d->buf[3] = 0;
		put32(d->buf + 4, (uint32_t)n);
		d->have = NBJ_DOCK_RECORD_HEADER_SIZE + (size_t)n;
		d->off = 0;
		d->got = (size_t)n;
		d->after_write = DOCK_UDP_WAIT;	/* then END */
		d->state = DOCK_WRITE;
		interest(c, i, true, 0);
		interest(c, i, false, EPOLLOUT);
		dock_event(c, i, false, EPOLLOUT);
		return;
	}
}

/* HEAD: read exactly the header, then exactly the target */
static void read_head(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	for (;;) {
		size_t want = d->have < NBJ_DOCK_HEADER_SIZE ? NBJ_DOCK_HEADER_SIZE
					: NBJ_DOCK_HEADER_SIZE + d->req.target_len;
		ssize_t n;
		int err;

		if (d->have == want) {
			memcpy(d->target, d->buf + NBJ_DOCK_HEADER_SIZE, d->req.target_len);
			d->target[d->req.target_len] = '\0';
			if (strlen(d->target) != d->req.target_len) {
				d->target[0] = '\0';
				deny(c, i, DECIDE_MALFORMED);
				return;
			}
			d->body_left = d->req.body_len;
			d->have = 0;
			decide(c, i);
			return;
		}
		n = recv(d->fd, d->buf + d->have, want - d->have, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (d->have) {	/* a frame cut short: a call, malformed */
				d->target[0] = '\0';
				audit_denied(c, d, DECIDE_MALFORMED);
			}
			conn_free(c, i);	/* gone: nobody to answer */
			return;
		}
		if (d->untaken) {	/* taken by a client */
			d->untaken = false;
			c->dock_desk_untaken--;
			d->deadline = now_s() + DOCK_HEAD_TIMEOUT_S;
		}
		d->have += (size_t)n;
		if (d->have != NBJ_DOCK_HEADER_SIZE)
			continue;
		err = nbj_dock_header_decode(d->buf, d->have, &d->req);
		if (err < 0) {
			d->target[0] = '\0';
			audit_denied(c, d, DECIDE_MALFORMED);
			finish(c, i, err, err == -EPROTONOSUPPORT ? "unsupported version" :
				  err == -EMSGSIZE ? "malformed: a field over its bound" :
				  "malformed frame", false);
			return;
		}
	}
}

/* SEND (tcp): request bytes from the job to the dialled socket */
static void send_body(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	for (;;) {
		if (d->off < d->have) {
			char why[TLS_UPSTREAM_WHY_MAX] = "";
			uint32_t events = EPOLLOUT;
			ssize_t n = out_io(c, i, true, d->buf + d->off, d->have - d->off,
					   &events, why, sizeof(why));

			if (n == -EAGAIN) {
				interest(c, i, false, 0);
				interest(c, i, true, events);
				return;
			}
			if (n < 0) {
				finish(c, i, (int)n, why, false);
				return;
			}
			d->off += (size_t)n;
			continue;
		}
		if (!d->body_left) {
			/* tls: close_notify later, if the server waits
			 * for it (relay/dock_tls.c) */
			if (dock_tls_active(i))
				dock_tls_request_done(i, now_s());
			else
				(void)shutdown(d->out, SHUT_WR);
			d->state = DOCK_RECV;
			d->have = d->off = 0;
			interest(c, i, false, 0);
			interest(c, i, true, EPOLLIN);
			return;
		}
		{
			size_t want = d->body_left < DOCK_BUF ? d->body_left : DOCK_BUF;
			ssize_t n = recv(d->fd, d->buf, want, MSG_DONTWAIT);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				interest(c, i, true, 0);
				interest(c, i, false, EPOLLIN);
				return;
			}
			if (n <= 0) {
				finish(c, i, -EPROTO, "the request ended before its body", false);
				return;
			}
			d->have = (size_t)n;
			d->off = 0;
			d->body_left -= (size_t)n;
		}
	}
}

/* UDP_BODY: the datagram, whole, into the buffer after a record header */
static void read_datagram(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	while (d->body_left) {
		ssize_t n = recv(d->fd, d->buf + NBJ_DOCK_RECORD_HEADER_SIZE + d->have,
				 d->body_left, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			finish(c, i, -EPROTO, "the request ended before its body", false);
			return;
		}
		d->have += (size_t)n;
		d->body_left -= (size_t)n;
	}
	udp_send(c, i);
}

static void tls_step(struct relay_ctx *c, uint32_t i);

/* tls: the socket is connected: the TLS client, bound to the pinned name */
static void tls_begin(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	int err = dock_tls_begin(i, d->out, d->name[0] ? d->name : d->target, why, sizeof(why));

	if (err < 0) {
		finish(c, i, err == -ENOENT || err == -EBADMSG ? -EPROTO : err, why, false);
		return;
	}
	d->state = DOCK_TLS_HANDSHAKE;
	interest(c, i, false, 0);
	tls_step(c, i);
}

/* tls: one step of the handshake; done: the request body goes out */
static void tls_step(struct relay_ctx *c, uint32_t i)
{
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	uint32_t events = 0;
	int err = dock_tls_handshake(i, &events, why, sizeof(why));

	if (err == -EAGAIN) {
		interest(c, i, true, events);
		return;
	}
	if (err < 0) {
		log_info("dock tls %s: %s", c->dock[i].target, why);
		finish(c, i, err, why, false);
		return;
	}
	c->dock[i].state = DOCK_SEND;
	send_body(c, i);
}

/*
 * sign: the key's name is checked, the call counted against the dock's
 * rate; then the data (at most 1 MiB) is read whole into the signing
 * buffer (relay/dock_sign.c: one, taken by one call at a time; the others
 * wait in DOCK_SIGN_WAIT, oldest first) and nbjail-keys signs it
 */
static void sign_body_start(struct relay_ctx *c, uint32_t i);

static void sign_decide(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	const struct job_stats *s = c->cfg->audit.stats;

	if (!secret_name_valid(d->target, strlen(d->target))) {
		deny(c, i, DECIDE_MALFORMED);
		return;
	}
	if (c->revoked || (s && atomic_load(&((struct job_stats *)s)->revoked))) {
		(void)relay_revoked(c);
		deny(c, i, DECIDE_REVOKED);
		return;
	}
	if (dock_over_rate(c)) {
		deny(c, i, DECIDE_RATE);
		return;
	}
	if (c->cfg->keyholder_fd < 0) {	/* the policy has no secrets */
		audit_denied(c, d, DECIDE_NO_SUCH_KEY);
		finish(c, i, -ENOENT, "no such key", false);
		return;
	}
	d->deadline = now_s() + NBJ_DOCK_TCP_TIMEOUT_S;
	d->state = DOCK_SIGN_WAIT;
	interest(c, i, false, 0);
	if (dock_sign_claim(i) == 0)
		sign_body_start(c, i);
}

/* sign: the data is whole: nbjail-keys signs it (at most KEYS_TIMEOUT_MS) */
static void sign_now(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	char why[64];
	int err = dock_sign_run(c->cfg->keyholder_fd, i, d->target, d->have,
				d->buf + NBJ_DOCK_RECORD_HEADER_SIZE);

	if (err == -ENOKEY) {
		audit_denied(c, d, DECIDE_NO_SUCH_KEY);
		finish(c, i, -ENOENT, "no such key", false);
		return;
	}
	if (err < 0) {
		snprintf(why, sizeof(why), "the key holder failed: %s", strerror(-err));
		log_warn("dock sign %s: %s", d->target, why);
		d->allowed = true;
		finish(c, i, err, why, false);
		return;
	}
	d->allowed = true;
	stats_count(c->cfg->audit.stats, LANE_DOCK, OUTCOME_ALLOWED, DECIDE_ALLOWED);
	d->buf[0] = NBJ_DOCK_REC_DATA;
	d->buf[1] = d->buf[2] = d->buf[3] = 0;
	put32(d->buf + 4, KEYS_MAC_LEN);
	d->have = NBJ_DOCK_RECORD_HEADER_SIZE + KEYS_MAC_LEN;
	d->off = 0;
	d->got = KEYS_MAC_LEN;
	d->after_write = DOCK_UDP_WAIT;	/* then END */
	d->state = DOCK_WRITE;
	interest(c, i, false, EPOLLOUT);
	sign_release(c, i);
	dock_event(c, i, false, EPOLLOUT);
}

/* sign: the data, into the signing buffer */
static void read_sign_body(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];
	unsigned char *buf = dock_sign_buffer(i);

	while (buf && d->body_left) {
		ssize_t n = recv(d->fd, buf + d->have, d->body_left, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			finish(c, i, -EPROTO, "the request ended before its body", false);
			return;
		}
		d->have += (size_t)n;
		d->body_left -= (size_t)n;
	}
	if (buf)
		sign_now(c, i);
}

/* sign: this call has the signing buffer now */
static void sign_body_start(struct relay_ctx *c, uint32_t i)
{
	struct dock_conn *d = &c->dock[i];

	d->state = DOCK_SIGN_BODY;
	d->have = 0;
	if (!d->body_left) {
		sign_now(c, i);
		return;
	}
	interest(c, i, false, EPOLLIN);
}

/* A call ends or is signed: if it held the signing buffer, the oldest
 * call waiting for it goes on */
static void sign_release(struct relay_ctx *c, uint32_t i)
{
	int next = -1;

	if (!dock_sign_release(i))
		return;
	for (unsigned k = 0; k < DOCK_CONNS_MAX; k++)
		if (c->dock[k].state == DOCK_SIGN_WAIT &&
		    (next < 0 || c->dock[k].since < c->dock[next].since))
			next = (int)k;
	if (next >= 0 && dock_sign_claim((uint32_t)next) == 0)
		sign_body_start(c, (uint32_t)next);
}

/**
 * dock_event() - a dock connection (the job's side or the dialled one)
 * is ready
 * @c:		relay context
 * @i:		slot
 * @out:	the event is for the dialled socket
 * @events:	epoll events
 */
void dock_event(struct relay_ctx *c, uint32_t i, bool out, uint32_t events)
{
	struct dock_conn *d;
	int err;

	if (!c->dock || i >= DOCK_CONNS_MAX || c->dock[i].state == DOCK_FREE)
		return;
	d = &c->dock[i];
	switch (d->state) {
	case DOCK_HEAD:
		read_head(c, i);
		return;
	case DOCK_CONNECTING: {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (!out)
			return;
		if (getsockopt(d->out, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (!soerr) {
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);

			/* a stale event (a slot used again in one batch) finds
			 * the dial still under way: wait for its own */
			if (getpeername(d->out, (struct sockaddr *)&peer, &plen) < 0 &&
			    errno == ENOTCONN)
				return;
		}
		if (soerr) {
			if (!dial_next(c, i))
				finish(c, i, -soerr, strerror(soerr), false);
			return;
		}
		connected(c, i);
		return;
	}
	case DOCK_TLS_HANDSHAKE:
		if (out)
			tls_step(c, i);
		return;
	case DOCK_SIGN_BODY:
		read_sign_body(c, i);
		return;
	case DOCK_SIGN_WAIT:
		return;
	case DOCK_SEND:
		send_body(c, i);
		return;
	case DOCK_RECV:
		if (out || (events & (EPOLLERR | EPOLLHUP)))
			(void)recv_piece(c, i);
		return;
	case DOCK_UDP_BODY:
		read_datagram(c, i);
		return;
	case DOCK_UDP_WAIT:
		if (out)
			udp_reply(c, i);
		return;
	case DOCK_WRITE:
		err = flush(c, i);
		if (err < 0) {
			if (d->allowed)
				audit_done(c, d, -EPIPE, "the job went away", false);
			conn_free(c, i);
			return;
		}
		if (!err)
			return;
		if (d->after_write == DOCK_UDP_WAIT) {
			finish(c, i, 0, "", false);
			return;
		}
		d->state = DOCK_RECV;
		interest(c, i, false, 0);
		interest(c, i, true, EPOLLIN);
		(void)recv_piece(c, i);
		return;
	case DOCK_END:
		err = flush(c, i);
		if (err != 0)
			conn_free(c, i);
		return;
	case DOCK_RESOLVING:
	case DOCK_FREE:
		return;
	}
}

/* The oldest connection still reading its frame's head, or -1 */
static int oldest_in_head(const struct relay_ctx *c)
{
	int best = -1;

	for (unsigned i = 0; i < DOCK_CONNS_MAX; i++)
		if (c->dock[i].state == DOCK_HEAD &&
		    (best < 0 || c->dock[i].since < c->dock[best].since))
			best = (int)i;
	return best;
}

/*
 * A new connection of the job's, accepted or made for the desk, into a
 * free slot (the oldest connection still in HEAD makes room in a full
 * table); false when the table is full of calls under way
 */
static bool conn_install(struct relay_ctx *c, int fd, bool from_desk)
{
	time_t now = now_s();
	uint32_t i;

	if (c->dock_live >= DOCK_CONNS_MAX) {
		int victim = oldest_in_head(c);

		if (victim < 0)
			return false;
		log_info("dock: full, a connection that never sent its frame is closed");
		conn_free(c, (uint32_t)victim);
	}
	for (i = 0; i < DOCK_CONNS_MAX && c->dock[i].state != DOCK_FREE; i++)
		;
	c->dock[i] = (struct dock_conn){
		.state = DOCK_HEAD, .gen = c->dock[i].gen + 1, .fd = fd, .out = -1,
		.since = now, .from_desk = from_desk, .untaken = from_desk,
		.buf = c->dock[i].buf,
		/* a desk's connection may wait in the job's queue before a
		 * client takes it: its 5 s begin at its first byte */
		.deadline = now + (from_desk ? DOCK_DESK_IDLE_S : DOCK_HEAD_TIMEOUT_S),
	};
	c->dock_live++;
	c->dock_desk_untaken += from_desk;
	/* the frame is often there already: read it now, and wait in epoll
	 * only for what is missing */
	read_head(c, i);
	if (c->dock[i].state == DOCK_HEAD && c->dock[i].fd == fd)
		interest(c, i, false, EPOLLIN);
	return true;
}

/* The desk's registration: EPOLLIN, or nothing while it rests */
static void desk_interest(struct relay_ctx *c, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0,
				  .data.u64 = RELAY_EV(RELAY_EV_DOCK_LISTEN, 1) };

	if (c->dock_desk_resting == !on)
		return;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->cfg->dock_desk_fd, &ev) == 0)
		c->dock_desk_resting = !on;
}

/*
 * The desk: each one-byte message "c" of a job's process asks for a
 * connection.  The answer is one end of a new socketpair, sent back as
 * "c" with SCM_RIGHTS, the other end a connection of the table like an
 * accepted one; "b" and no fd when the table is full of calls (the client
 * then uses the socket's path, and gets its busy END there).  Anything
 * else is dropped (an fd a job sends along is closed by the kernel: no
 * control buffer).  A job that does not take its answers (the send
 * fails: its queue or its fds in flight are full) leaves the desk resting
 * until the next tick.  Return: false when the desk is gone (EOF)
 */
static bool desk_serve(struct relay_ctx *c)
{
	int desk = c->cfg->dock_desk_fd;

	/* one ask per event (the loop comes back while more wait): no
	 * recv that only says EAGAIN in the common case of one */
	for (int k = 0; k < 1; k++) {
		char ask, answer = NBJ_DOCK_DESK_ASK;
		union {
			struct cmsghdr h;
			char room[CMSG_SPACE(sizeof(int))];
		} ctl = { 0 };
		union {
			struct cmsghdr h;
			char room[CMSG_SPACE(sizeof(struct ucred))];
		} cred = { 0 };
		struct iovec iov = { .iov_base = &ask, .iov_len = 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cred.room,
				    .msg_controllen = sizeof(cred.room) };
		ssize_t n = recvmsg(desk, &m, MSG_DONTWAIT | MSG_TRUNC);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		struct ucred who = { .uid = (uid_t)-1 };
		int sv[2] = { -1, -1 };

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		if (n != 1 || ask != NBJ_DOCK_DESK_ASK || (m.msg_flags & MSG_CTRUNC))
			continue;
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(who)))
			memcpy(&who, CMSG_DATA(cm), sizeof(who));
		iov.iov_base = &answer;
		m = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1 };
		/* the dock's socket lets only the workload's user connect
		 * (mode 0600): the desk serves the same user only, and sends
		 * others to the path, where the file's permission decides
		 * (a job maps that one uid today: defence in depth, kept
		 * true should a job map more);
		 * a full table, or many connections no client took (fds of
		 * the relay's in the job's queue): the path too */
		if (who.uid != c->dock_desk_uid || who.uid == (uid_t)-1 ||
		    (c->dock_live >= DOCK_CONNS_MAX && oldest_in_head(c) < 0) ||
		    c->dock_desk_untaken >= DOCK_DESK_UNTAKEN_MAX) {
			answer = NBJ_DOCK_DESK_BUSY;
		} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			/* blocking, for the client's end: the relay's every
			 * call on its end says MSG_DONTWAIT */
			log_warn("dock desk: cannot make a connection: %m");
			answer = NBJ_DOCK_DESK_BUSY;
		} else {
			m.msg_control = ctl.room;
			m.msg_controllen = sizeof(ctl.room);
			CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
			CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
			CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &sv[1], sizeof(int));
		}
		if (sendmsg(desk, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			log_info("dock desk: the job does not take its connections (%m): "
				 "the desk rests for a second");
			if (sv[0] >= 0) {
				close(sv[0]);
				close(sv[1]);
			}
			desk_interest(c, false);
			return true;
		}
		if (sv[0] < 0)
			continue;
		close(sv[1]);	/* the job's now */
		if (!conn_install(c, sv[0], true))
			close(sv[0]);	/* not after the check above; to be safe */
	}
	return true;
}

/**
 * dock_accept() - take the job's new dock connections: from the
 * listener (connect() to the socket's path) or the desk (asked for)
 * @c:		relay context
 * @index:	0 the listener, 1 the desk
 */
void dock_accept(struct relay_ctx *c, uint32_t index)
{
	if (index == 1) {
		if (!desk_serve(c)) {	/* no process of the job holds it */
			(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->cfg->dock_desk_fd, NULL);
			c->dock_desk_gone = true;
		}
		return;
	}
	for (int k = 0; k < 64; k++) {
		int fd = accept4(c->cfg->dock_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (!conn_install(c, fd, false)) {
			static const unsigned char busy[] = {
				NBJ_DOCK_REC_END, 0, 0, 0, 0, 0, 0, 8,
				0xff, 0xff, 0xff, (unsigned char)-EBUSY, 'b', 'u', 's', 'y',
			};

			(void)!send(fd, busy, sizeof(busy), MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
		}
	}
}

/**
 * dock_tick() - once a second: calls past their deadline end
 * @c:		relay context
 */
void dock_tick(struct relay_ctx *c)
{
	time_t now = now_s();

	if (dock_http && c->http)
		dock_http->tick(c);
	if (c->dock && c->cfg->dock_desk_fd >= 0 && !c->dock_desk_gone)
		desk_interest(c, true);	/* a desk that rested */
	for (uint32_t i = 0; c->dock && i < DOCK_CONNS_MAX; i++) {
		struct dock_conn *d = &c->dock[i];
		uint32_t events;

		if (d->state == DOCK_RECV && dock_tls_active(i) &&
		    dock_tls_tick(i, now, d->got > 0, &events) == -EAGAIN)
			interest(c, i, true, events);
		if (d->state == DOCK_FREE || d->deadline > now)
			continue;
		switch (d->state) {
		case DOCK_HEAD:
			log_info("dock: a request frame was not whole in %d s", DOCK_HEAD_TIMEOUT_S);
			conn_free(c, i);
			break;
		case DOCK_END:
			conn_free(c, i);
			break;
		case DOCK_WRITE:
			if (d->allowed)
				audit_done(c, d, -ETIMEDOUT, "the job did not read its answer",
					   false);
			conn_free(c, i);
			break;
		case DOCK_RECV:
			if (d->got >= NBJ_DOCK_TCP_ANSWER_MAX) {
				finish(c, i, 0, "the answer reached the 1 MiB cap", true);
				break;
			}
			/* fall through */
		default:
			finish(c, i, -ETIMEDOUT, d->state == DOCK_RESOLVING ? "resolving timed out"
				  : d->state == DOCK_CONNECTING ? "connect timed out"
				  : d->state == DOCK_TLS_HANDSHAKE ? "TLS handshake timed out"
				  : "timed out", false);
			break;
		}
	}
}

/**
 * dock_cut_all() - revocation: every call in flight ends now, -EACCES
 * reason revoked
 * @c:		relay context
 *
 * Return: how many were cut
 */
unsigned dock_cut_all(struct relay_ctx *c)
{
	unsigned cut = 0;

	for (uint32_t i = 0; c->dock && i < DOCK_CONNS_MAX; i++) {
		enum dock_state s = c->dock[i].state;

		/* a call still in HEAD is not decided yet: its decision
		 * denies it (this may run from inside that decision) */
		if (s == DOCK_FREE || s == DOCK_END || s == DOCK_HEAD)
			continue;
		finish(c, i, -EACCES, "revoked", false);
		cut++;
	}
	if (dock_http && c->http)
		cut += dock_http->cut_all(c);
	return cut;
}
