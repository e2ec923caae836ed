/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/inbound.c - ports published in mode http: each request admitted
 * on the host before the job sees a byte of it
 *
 * DOC: Theory of operation
 *
 * The relay holds the published port's listener (made on the host, or
 * the tailnet's interface, or an i2p overlay's forward bridge: the same
 * listeners as raw `publish:`, tcp_publish_accept() hands the entries in
 * mode http to inbound_accept()).  Each client connection takes a slot
 * of a fixed table (INBOUND_CONNS_MAX; with none free, a canned 503 and
 * close) and goes through, per request:
 *
 *   HEAD     the head is read into the slot's buffer and parsed
 *            (relay/admit.c); limits broken while reading (431, 413 by
 *            Content-Length, 400, 501) and the head's deadline (408, the
 *            one-second tick) refuse it.  A complete head asks
 *            policy_decide(), lane inbound: revoked (503), the client
 *            address's bucket (429 with Retry-After), the entry's
 *            concurrency cap (503 with Retry-After).  A refused request
 *            never reaches the job: its canned response is written and
 *            the connection closed (REFUSE).
 *   DIAL     admitted: a socket made in the job's netns by its init
 *            (tcp_job_socket(), the raw publish path) connects to the
 *            job's port
 *   FORWARD  the head and the body are written to the job as the parser
 *            passes them (a chunked body over max_body cuts the job's
 *            connection: 413 if the client got nothing yet); the
 *            response is read and written to the client as it comes, so
 *            streams and Server-Sent Events pass unbuffered, and followed
 *            with a second parser to find its end.  max_duration after
 *            admission, the job's connection is cut (504 if the client
 *            got nothing yet).
 *
 * At the response's end, when both the client and the job keep their
 * connections alive, both stay open: the client's next request (any
 * bytes it pipelined are kept in the buffer and read as the next head)
 * is admitted like the first and goes over the same connection into the
 * job, which is watched while idle and dropped when the job closes it.
 * Otherwise the job's connection is closed, and the client's too when it
 * did not ask for keep-alive.
 *
 * Memory: the slots' buffers are one mapping made at start-up (pages
 * are touched only as bytes arrive, so a thousand slow clients that each
 * sent a few bytes cost a few pages each); nothing is allocated per
 * connection or request.  Every decision is counted (lane inbound, by
 * reason; the status follows from the reason, decide_http_status()) and
 * sent as an `inbound` event: client address, method and path (cut at
 * 512 bytes), status.  The events of one turn of the relay's loop are
 * kept (INBOUND_AUDIT_BATCH at most) and sent together when the turn
 * ends (inbound_flush(), one sendmmsg()): a request then costs neither
 * a system call of its own for its event nor a wake-up of the audit
 * writer; none is lost that a send of its own would not lose.  `nbjail ctl revoke` cuts every connection
 * (inbound_cut_all()); the requests after it get 503.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "relay/admit.h"
#include "relay/relay_int.h"

#define INBOUND_UP_BUF (INBOUND_MAX_HEADER_LIMIT + 1024)	/* head, body pieces */
#define INBOUND_DOWN_BUF (16 * 1024)				/* response pieces */
#define INBOUND_BUFS (INBOUND_UP_BUF + INBOUND_DOWN_BUF)
#define INBOUND_ACCEPT_BATCH 64
#define INBOUND_REFUSE_TIMEOUT_S 5	/* a refused client not done in time is reset */
#define INBOUND_AUDIT_BATCH 32		/* events kept per turn of the loop */

static_assert(INBOUND_AUDIT_BATCH <= AUDIT_SEND_MANY_MAX, "one sendmmsg() per batch");

/**
 * struct inbound_audit - the decisions' events of one turn of the loop
 * @n:		events in @ev
 * @ev:		the events, in the order of the decisions
 */
struct inbound_audit {
	unsigned n;
	struct audit_event ev[INBOUND_AUDIT_BATCH];
};

enum inbound_state {
	IN_HEAD,
	IN_DIAL,
	IN_FORWARD,
	IN_REFUSE,
};

/**
 * struct inbound_conn - one client connection
 * @used:	slot in use
 * @state:	enum inbound_state
 * @entry:	the publish entry
 * @client_fd:	the client's socket
 * @job_fd:	the connection into the job, -1 when none
 * @client_ev:	epoll events registered for @client_fd
 * @job_ev:	for @job_fd
 * @peer:	the client's address
 * @deadline:	CLOCK_MONOTONIC seconds: the head's (HEAD), the request's
 *		(DIAL, FORWARD), the refusal's (REFUSE)
 * @req:	the request being read
 * @resp:	the job's response being followed
 * @admitted:	the request counts in the entry's in-flight requests
 * @req_done:	the whole request was read
 * @sent_any:	response bytes reached the client
 * @up:		the client's bytes: [0, @up_sent) written to the job,
 *		[@up_sent, @up_parsed) to write, [@up_parsed, @up_have) not
 *		parsed yet (the rest of a head, or the next request)
 * @up_have:	bytes in @up
 * @up_sent:	see @up
 * @up_parsed:	see @up
 * @down:	response bytes not yet written to the client
 * @down_have:	bytes in @down
 * @down_sent:	bytes of them written
 * @close_after: close the client's connection once @down is written
 * @client_eof:	the client shut down its sending side after a whole request
 * @next_free:	the next free slot, while free (INBOUND_CONNS_MAX: none)
 */
struct inbound_conn {
	bool used;
	int state;
	uint32_t entry;
	int client_fd;
	int job_fd;
	uint32_t client_ev;
	uint32_t job_ev;
	struct nbj_addr peer;
	time_t deadline;
	struct admit_req req;
	struct admit_resp resp;
	bool admitted;
	bool req_done;
	bool sent_any;
	unsigned char *up;
	size_t up_have;
	size_t up_sent;
	size_t up_parsed;
	unsigned char *down;
	size_t down_have;
	size_t down_sent;
	bool close_after;
	bool client_eof;
	uint32_t next_free;
};

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static const struct inbound_limits *limits_of(const struct relay_ctx *c,
					      const struct inbound_conn *ic)
{
	return &c->cfg->policy->publish[ic->entry].limits;
}

/**
 * inbound_init() - the table of client connections, when some port is
 * published in mode http (before the relay's allow-list: it maps memory)
 * @c:		relay context
 *
 * Return: 0 or a negative errno
 */
int inbound_init(struct relay_ctx *c)
{
	const struct nbj_policy *p = c->cfg->policy;
	unsigned char *bufs;
	bool any = false;

	for (size_t i = 0; i < p->n_publish; i++)
		any |= p->publish[i].mode == PUBLISH_HTTP;
	if (!any)
		return 0;
	c->inbound = calloc(INBOUND_CONNS_MAX, sizeof(*c->inbound));
	c->inbound_clients = calloc(1, sizeof(*c->inbound_clients));
	c->inbound_audit = calloc(1, sizeof(*c->inbound_audit));
	if (!c->inbound || !c->inbound_clients || !c->inbound_audit)
		return -ENOMEM;
	bufs = mmap(NULL, (size_t)INBOUND_CONNS_MAX * INBOUND_BUFS, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bufs == MAP_FAILED)
		return negative_errno();
	for (size_t i = 0; i < INBOUND_CONNS_MAX; i++) {
		c->inbound[i].up = bufs + i * INBOUND_BUFS;
		c->inbound[i].down = c->inbound[i].up + INBOUND_UP_BUF;
		c->inbound[i].client_fd = c->inbound[i].job_fd = -1;
		c->inbound[i].next_free = (uint32_t)i + 1;	/* the last: none */
	}
	c->inbound_free = 0;
	admit_clients_init(c->inbound_clients);
	return 0;
}

static void watch_fd(struct relay_ctx *c, uint32_t slot, bool job, uint32_t want)
{
	struct inbound_conn *ic = &c->inbound[slot];
	int fd = job ? ic->job_fd : ic->client_fd;
	uint32_t *have = job ? &ic->job_ev : &ic->client_ev;
	struct epoll_event ev = {
		.events = want,
		.data.u64 = RELAY_EV(job ? RELAY_EV_INBOUND_JOB : RELAY_EV_INBOUND_CLIENT, slot),
	};

	if (fd < 0 || *have == want)
		return;
	if (!want)
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
	else if (epoll_ctl(c->epfd, *have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
		log_warn("inbound: epoll_ctl: %m");
	*have = want;
}

/* What each side waits for, from the connection's state */
static void rewatch(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	uint32_t client = 0, job = 0;
	bool down_pending = ic->down_sent < ic->down_have;

	switch (ic->state) {
	case IN_HEAD:
		client = EPOLLIN;
		job = EPOLLIN;	/* a kept connection into the job: its close */
		break;
	case IN_REFUSE:
		/* the refusal, then what the client still sends is drained
		 * until it closes (a close with unread bytes would reset the
		 * connection before the client reads the refusal) */
		client = down_pending ? EPOLLOUT : EPOLLIN;
		break;
	case IN_DIAL:
		job = EPOLLOUT;
		break;
	case IN_FORWARD:
		/* both sides stay watched for reading from request to
		 * request (no epoll_ctl per request): bytes the client sends
		 * after its request's end wait in the buffer, unparsed */
		if (!ic->client_eof && ic->up_have < INBOUND_UP_BUF)
			client |= EPOLLIN;
		if (down_pending)
			client |= EPOLLOUT;
		if (ic->up_sent < ic->up_parsed)
			job |= EPOLLOUT;
		if (!down_pending)
			job |= EPOLLIN;
		break;
	}
	watch_fd(c, slot, false, client);
	watch_fd(c, slot, true, job);
}

/* The request no longer counts against the entry's concurrency */
static void release(struct relay_ctx *c, struct inbound_conn *ic)
{
	if (ic->admitted) {
		c->inbound_inflight[ic->entry]--;
		ic->admitted = false;
	}
}

static void close_job(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];

	if (ic->job_fd >= 0) {
		close(ic->job_fd);	/* which takes it out of epoll */
		ic->job_fd = -1;
		ic->job_ev = 0;
	}
	release(c, ic);
}

static void conn_free(struct relay_ctx *c, uint32_t slot, bool reset)
{
	struct inbound_conn *ic = &c->inbound[slot];

	close_job(c, slot);
	if (ic->client_fd >= 0) {
		if (reset) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			(void)setsockopt(ic->client_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(ic->client_fd);
	}
	ic->client_fd = -1;
	ic->client_ev = 0;
	ic->used = false;
	ic->next_free = c->inbound_free;
	c->inbound_free = slot;
	c->inbound_live--;
}

/* One decision: counted, and its `inbound` event, kept in the batch that
 * inbound_flush() sends at the end of the loop's turn */
static void audit_decision(struct relay_ctx *c, const struct inbound_conn *ic,
			   enum decide_reason reason, int status)
{
	const struct nbj_policy *p = c->cfg->policy;
	struct inbound_audit *b = c->inbound_audit;
	struct audit_event *ev;
	char peer[NBJ_ADDR_STRLEN];

	stats_count(c->cfg->audit.stats, LANE_INBOUND,
		    reason == DECIDE_ALLOWED ? OUTCOME_ALLOWED : OUTCOME_DENIED, reason);
	if (b->n == INBOUND_AUDIT_BATCH)
		inbound_flush(c);
	ev = &b->ev[b->n++];
	audit_event_init(ev, AUDIT_INBOUND, LANE_INBOUND);
	nbj_addr_format(&ic->peer, peer, sizeof(peer));
	EVENT_SET(ev, peer, peer);
	EVENT_SET(ev, reason, decide_reason_name(reason));
	/* "METHOD path", cut at AUDIT_TARGET_MAX */
	EVENT_SET(ev, target, ic->req.method[0] ? ic->req.method : "-");
	{
		size_t at = strlen(ev->target);

		ev->target[at++] = ' ';
		EVENT_SET_AT(ev->target, at, ic->req.path_len ? ic->req.path : "-");
	}
	snprintf(ev->detail, sizeof(ev->detail), "status=%d port=%u", status ? status : 200,
		 p->publish[ic->entry].port);
	EVENT_SET(ev, overlay, policy_overlay_name(p, p->publish[ic->entry].overlay));
}

/**
 * inbound_flush() - send the decisions' events kept in this turn of the
 * loop (one system call for all, and one wake-up of the audit writer)
 * @c:		relay context
 */
void inbound_flush(struct relay_ctx *c)
{
	struct inbound_audit *b = c->inbound_audit;

	if (!b || !b->n)
		return;
	(void)audit_send_many(&c->cfg->audit, b->ev, b->n);
	b->n = 0;
}

/* Write what @down holds to the client; false when the client is gone */
static bool flush_down(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];

	(void)c;
	if (!admit_send_pending(ic->client_fd, ic->down, ic->down_have, &ic->down_sent,
				&ic->sent_any))
		return false;
	if (ic->down_sent == ic->down_have)
		ic->down_have = ic->down_sent = 0;
	return true;
}

/* Refuse with @status: the canned response, then close */
static void refuse(struct relay_ctx *c, uint32_t slot, int status, uint32_t retry_after)
{
	struct inbound_conn *ic = &c->inbound[slot];

	close_job(c, slot);
	ic->state = IN_REFUSE;
	ic->deadline = mono_s() + INBOUND_REFUSE_TIMEOUT_S;
	ic->down_sent = 0;
	ic->down_have = ic->sent_any ? 0
				     : admit_refusal(status, retry_after, false, (char *)ic->down,
						     INBOUND_DOWN_BUF);
	ic->close_after = true;
	if (!flush_down(c, slot)) {
		conn_free(c, slot, true);
		return;
	}
	if (ic->down_sent == ic->down_have) {
		char probe;
		ssize_t n;

		/* nothing more from the client waits unread: close now (a
		 * close with unread bytes would reset the connection, the
		 * refusal with it); else drain it first */
		n = recv(ic->client_fd, &probe, 1, MSG_DONTWAIT | MSG_PEEK);
		if (n < 0 && errno == EAGAIN) {
			conn_free(c, slot, false);
			return;
		}
		(void)shutdown(ic->client_fd, SHUT_WR);
	}
	rewatch(c, slot);
}

/* A refused connection: its refusal written, then drained to its end */
static void refuse_event(struct relay_ctx *c, uint32_t slot, uint32_t events)
{
	struct inbound_conn *ic = &c->inbound[slot];

	if (ic->down_sent < ic->down_have) {
		if (!flush_down(c, slot) || (events & EPOLLERR)) {
			conn_free(c, slot, true);
			return;
		}
		if (ic->down_sent == ic->down_have)
			(void)shutdown(ic->client_fd, SHUT_WR);
		rewatch(c, slot);
		return;
	}
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(ic->client_fd, ic->up, INBOUND_UP_BUF, MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(c, slot, false);
		return;
	}
}

/* A refusal decided by policy_decide(), counted and audited */
static void decide_refuse(struct relay_ctx *c, uint32_t slot, enum decide_reason broken)
{
	struct inbound_conn *ic = &c->inbound[slot];
	struct decide_facts f = {
		.lane = DECIDE_LANE_INBOUND,
		.policy = c->cfg->policy,
		.revoked = relay_revoked(c),
		.inbound_broken = broken,
		.publish_overlay = c->cfg->policy->publish[ic->entry].overlay,
	};
	struct decision d;
	int status;

	policy_decide(&f, &d);
	status = decide_http_status(d.reason);
	audit_decision(c, ic, d.reason, status);
	refuse(c, slot, status ? status : 503, 1);
}

/* Dial the job's port for an admitted request; false when it failed */
static bool dial_job(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	struct nbj_addr to = c->cfg->job_addrs[0];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	to.port = c->cfg->policy->publish[ic->entry].to;
	len = nbj_addr_to_sockaddr(&to, &ss);
	fd = tcp_job_socket(c, to.family);
	if (fd < 0) {
		errno = -fd;
		return false;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		errno = err;
		return false;
	}
	ic->job_fd = fd;
	ic->job_ev = 0;
	ic->state = IN_DIAL;
	return true;
}

static void response_done(struct relay_ctx *c, uint32_t slot);

/*
 * A 429 that keeps the connection: for a request without a body, whose
 * end is the last byte the client sent so far (a flood over one
 * connection then costs a read and a write per request, nothing more).
 * Return: false when it does not apply (the caller refuses and closes)
 */
static bool refuse_keepalive(struct relay_ctx *c, uint32_t slot, uint32_t retry)
{
	struct inbound_conn *ic = &c->inbound[slot];
	const http_parser *p = &ic->req.parser;
	size_t used;

	if (!ic->req.keep_alive || (p->flags & F_CHUNKED) ||
	    (p->content_length != 0 && p->content_length != ULLONG_MAX))
		return false;
	if (admit_feed(&ic->req, (const char *)ic->up + ic->up_parsed,
		       ic->up_have - ic->up_parsed, &used) != ADMIT_DONE ||
	    ic->up_parsed + used != ic->up_have)
		return false;
	ic->up_parsed = ic->up_sent = ic->up_have;
	ic->req_done = true;
	admit_resp_init(&ic->resp, false);
	ic->resp.done = ic->resp.keep_alive = true;
	ic->down_sent = 0;
	ic->down_have = admit_refusal(429, retry, true, (char *)ic->down, INBOUND_DOWN_BUF);
	ic->state = IN_FORWARD;	/* answered: as if the job had */
	if (!flush_down(c, slot))
		conn_free(c, slot, true);
	else
		response_done(c, slot);
	return true;
}

/* The head is complete: policy_decide() admits the request or not */
static bool admit_head(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	const struct inbound_limits *l = limits_of(c, ic);
	uint32_t retry = 1;
	struct decide_facts f = {
		.lane = DECIDE_LANE_INBOUND,
		.policy = c->cfg->policy,
		.revoked = relay_revoked(c),
		.inbound_broken = DECIDE_ALLOWED,
		.publish_overlay = c->cfg->policy->publish[ic->entry].overlay,
	};
	struct decision d;
	int status;

	if (!f.revoked)
		f.client_over_rate = !admit_client_take(c->inbound_clients, &ic->peer, l,
							rate_now_ns(), &retry);
	f.over_rate = c->inbound_inflight[ic->entry] >= l->concurrent;
	policy_decide(&f, &d);
	status = decide_http_status(d.reason);
	audit_decision(c, ic, d.reason, status);
	if (d.verdict != VERDICT_ALLOW) {
		if (status != 429 || !refuse_keepalive(c, slot, retry))
			refuse(c, slot, status ? status : 503, retry);
		return false;
	}
	if (ic->job_fd >= 0) {
		ic->state = IN_FORWARD;	/* the previous request's connection */
	} else if (!dial_job(c, slot)) {
		log_info("inbound: cannot connect the job's port %u: %m",
			 c->cfg->policy->publish[ic->entry].to);
		refuse(c, slot, 502, 0);
		return false;
	}
	ic->admitted = true;
	c->inbound_inflight[ic->entry]++;
	ic->deadline = mono_s() + l->max_duration_s;
	admit_resp_init(&ic->resp, ic->req.head_request);
	return true;
}

/*
 * Parse what the client sent and is not parsed yet.  Return: false when
 * the slot was freed or refused
 */
static bool parse_up(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];

	while (ic->up_parsed < ic->up_have && !ic->req_done) {
		size_t used;
		enum admit_step st = admit_feed(&ic->req, (const char *)ic->up + ic->up_parsed,
						ic->up_have - ic->up_parsed, &used);

		ic->up_parsed += used;
		switch (st) {
		case ADMIT_MORE:
		case ADMIT_BODY:
			break;
		case ADMIT_HEAD:
			if (!admit_head(c, slot))
				return false;
			break;
		case ADMIT_DONE:
			ic->req_done = true;
			break;
		case ADMIT_BROKEN:
			decide_refuse(c, slot, ic->req.broken);
			return false;
		}
		if (!used && st != ADMIT_HEAD)
			break;
	}
	return true;
}

/* The response ended: the next request, or close */
static void response_done(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	const struct inbound_limits *l = limits_of(c, ic);
	bool keep = ic->req.keep_alive && ic->resp.keep_alive && ic->req_done &&
		    !ic->client_eof && !relay_revoked(c);
	size_t rest;

	/* the connection into the job is kept for the client's next
	 * request when both ends keep theirs (no socket of the job's init and
	 * no connect per request) */
	release(c, ic);
	if (!keep)
		close_job(c, slot);
	if (ic->down_sent < ic->down_have) {
		ic->close_after = !keep;
		rewatch(c, slot);
		return;
	}
	if (!keep) {
		(void)shutdown(ic->client_fd, SHUT_WR);
		conn_free(c, slot, false);
		return;
	}
	/* keep-alive: what the client pipelined is the next head */
	rest = ic->up_have - ic->up_parsed;
	memmove(ic->up, ic->up + ic->up_parsed, rest);
	ic->up_have = rest;
	ic->up_sent = ic->up_parsed = 0;
	ic->req_done = ic->sent_any = ic->close_after = false;
	admit_req_init(&ic->req, l);
	ic->state = IN_HEAD;
	ic->deadline = mono_s() + l->header_timeout_s;
	if (parse_up(c, slot))
		rewatch(c, slot);
}

static bool job_writable(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];

	(void)c;
	while (ic->up_sent < ic->up_parsed) {
		ssize_t n = send(ic->job_fd, ic->up + ic->up_sent, ic->up_parsed - ic->up_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		ic->up_sent += (size_t)n;
	}
	if (ic->up_sent == ic->up_have) /* all written: the buffer is free again */
		ic->up_have = ic->up_sent = ic->up_parsed = 0;
	return true;
}

static void client_readable(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	size_t room;
	ssize_t n;

	room = INBOUND_UP_BUF - ic->up_have;
	if (!room)
		return;
	n = recv(ic->client_fd, ic->up + ic->up_have, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* the client left: a request half read is not sent on; a
		 * whole one is answered (the client may have shut down only
		 * its sending side) */
		if (ic->state == IN_HEAD || !ic->req_done || n < 0) {
			conn_free(c, slot, n < 0);
		} else {
			ic->client_eof = true;
			rewatch(c, slot);
		}
		return;
	}
	ic->up_have += (size_t)n;
	if (!parse_up(c, slot))
		return;
	/* write to the job at once: no wait for EPOLLOUT (and no epoll_ctl
	 * for it) while its socket has room */
	if (ic->state == IN_FORWARD && !job_writable(c, slot)) {
		if (!ic->sent_any)
			refuse(c, slot, 502, 0);
		else
			conn_free(c, slot, true);
		return;
	}
	rewatch(c, slot);
}

static void job_connected(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(ic->job_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		log_info("inbound: the job's port %u refused: %s",
			 c->cfg->policy->publish[ic->entry].to, strerror(err));
		refuse(c, slot, 502, 0);
		return;
	}
	ic->state = IN_FORWARD;
}

static void job_readable(struct relay_ctx *c, uint32_t slot)
{
	struct inbound_conn *ic = &c->inbound[slot];
	size_t used;
	ssize_t n;
	int r;

	n = recv(ic->job_fd, ic->down, INBOUND_DOWN_BUF, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (admit_resp_eof(&ic->resp) == 1) {
			response_done(c, slot);
		} else if (!ic->sent_any) {
			refuse(c, slot, 502, 0);
		} else {
			conn_free(c, slot, true);
		}
		return;
	}
	r = admit_resp_feed(&ic->resp, (const char *)ic->down, (size_t)n, &used);
	if (r < 0) {
		log_info("inbound: the job's port %u answered no HTTP",
			 c->cfg->policy->publish[ic->entry].to);
		if (!ic->sent_any)
			refuse(c, slot, 502, 0);
		else
			conn_free(c, slot, true);
		return;
	}
	ic->down_have = used;
	ic->down_sent = 0;
	if (!flush_down(c, slot)) {
		conn_free(c, slot, true);
		return;
	}
	if (r == 1)
		response_done(c, slot);
	else
		rewatch(c, slot);
}

/**
 * inbound_event() - an event on one side of a client connection
 * @c:		relay context
 * @slot:	its slot
 * @job:	the job's side (else the client's)
 * @events:	epoll events
 */
void inbound_event(struct relay_ctx *c, uint32_t slot, bool job, uint32_t events)
{
	struct inbound_conn *ic;

	if (!c->inbound || slot >= INBOUND_CONNS_MAX || !c->inbound[slot].used)
		return;
	ic = &c->inbound[slot];
	if (!job) {
		if (ic->state == IN_REFUSE) {
			refuse_event(c, slot, events);
			return;
		}
		if (events & EPOLLOUT) {
			if (!flush_down(c, slot)) {
				conn_free(c, slot, true);
				return;
			}
			if (ic->state == IN_FORWARD && ic->down_sent == ic->down_have &&
			    (ic->resp.done || ic->job_fd < 0)) {
				/* the response was complete: next request or close */
				if (ic->close_after) {
					(void)shutdown(ic->client_fd, SHUT_WR);
					conn_free(c, slot, false);
					return;
				}
				response_done(c, slot);
				return;
			}
		}
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			client_readable(c, slot);
		else
			rewatch(c, slot);
		return;
	}
	if (ic->state == IN_HEAD) {
		/* a kept connection into the job, idle: the job closed it (or
		 * sent what nobody asked for) */
		close_job(c, slot);
		rewatch(c, slot);
		return;
	}
	if (ic->state == IN_DIAL) {
		job_connected(c, slot);
		if (!c->inbound[slot].used || ic->state != IN_FORWARD)
			return;
	}
	if (ic->state != IN_FORWARD)
		return;
	if ((events & EPOLLOUT) && !job_writable(c, slot)) {
		if (!ic->sent_any)
			refuse(c, slot, 502, 0);
		else
			conn_free(c, slot, true);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		job_readable(c, slot);
		return;
	}
	rewatch(c, slot);
}

/* No slot: a canned 503 on the spot, counted and audited */
static void refuse_full(struct relay_ctx *c, uint32_t index, int fd,
			const struct nbj_addr *peer)
{
	struct inbound_conn tmp = { .entry = index, .peer = *peer };
	char buf[ADMIT_REFUSAL_MAX];
	size_t n = admit_refusal(503, 1, false, buf, sizeof(buf));

	audit_decision(c, &tmp, DECIDE_FLOW_TABLE_FULL, 503);
	(void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/**
 * inbound_accept() - client connections on a port published in mode http
 * @c:		relay context
 * @index:	the publish entry
 * @listen_fd:	its listener
 */
void inbound_accept(struct relay_ctx *c, uint32_t index, int listen_fd)
{
	const struct inbound_limits *l = &c->cfg->policy->publish[index].limits;

	if (!c->inbound)
		return;
	for (int i = 0; i < INBOUND_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct nbj_addr peer = { 0 }, v4;
		struct inbound_conn *ic = NULL;
		uint32_t slot;
		int fd;

		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    !tcp_accept_starved(c, errno))
				log_warn("accept on published port: %m");
			return;
		}
		(void)nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &peer);
		if (nbj_addr_unmap_v4(&peer, &v4))
			peer = v4;
		slot = c->inbound_free;
		if (slot < INBOUND_CONNS_MAX) {
			ic = &c->inbound[slot];
			c->inbound_free = ic->next_free;
		}
		if (!ic) {
			refuse_full(c, index, fd, &peer);
			continue;
		}
		ic->used = true;
		ic->entry = index;
		ic->client_fd = fd;
		ic->job_fd = -1;
		ic->client_ev = ic->job_ev = 0;
		ic->peer = peer;
		ic->state = IN_HEAD;
		ic->deadline = mono_s() + l->header_timeout_s;
		ic->admitted = ic->req_done = ic->sent_any = ic->close_after = false;
		ic->client_eof = false;
		ic->up_have = ic->up_sent = ic->up_parsed = 0;
		ic->down_have = ic->down_sent = 0;
		admit_req_init(&ic->req, l);
		c->inbound_live++;
		/* the request often came with the connection: read it now */
		client_readable(c, slot);
		if (ic->used && ic->client_fd == fd && !ic->client_ev)
			rewatch(c, slot);
	}
}

/**
 * inbound_tick() - the deadlines, once a second: a head not complete in
 * header_timeout (408; an idle kept-alive connection is closed without
 * a word), a request past max_duration (cut: 504 if the client got
 * nothing yet), a dial or a refusal that hangs
 * @c:		relay context
 */
void inbound_tick(struct relay_ctx *c)
{
	time_t now = mono_s();

	if (!c->inbound || !c->inbound_live)
		return;
	for (uint32_t slot = 0; slot < INBOUND_CONNS_MAX; slot++) {
		struct inbound_conn *ic = &c->inbound[slot];

		/* deadlines are whole seconds: past them, never early */
		if (!ic->used || now <= ic->deadline)
			continue;
		switch (ic->state) {
		case IN_HEAD:
			if (admit_req_started(&ic->req) || ic->up_have)
				decide_refuse(c, slot, DECIDE_HEADER_TIMEOUT);
			else
				conn_free(c, slot, false);
			break;
		case IN_DIAL:
		case IN_FORWARD:
			log_info("inbound: %s %s cut at max_duration (%u s)", ic->req.method,
				 ic->req.path, limits_of(c, ic)->max_duration_s);
			if (ic->sent_any)
				conn_free(c, slot, true);
			else
				refuse(c, slot, 504, 0);
			break;
		case IN_REFUSE:
			conn_free(c, slot, true);
			break;
		}
	}
}

/**
 * inbound_cut_all() - reset every client connection (revocation)
 * @c:		relay context
 *
 * Return: how many were cut
 */
unsigned inbound_cut_all(struct relay_ctx *c)
{
	unsigned n = 0;

	for (uint32_t slot = 0; c->inbound && slot < INBOUND_CONNS_MAX; slot++)
		if (c->inbound[slot].used) {
			conn_free(c, slot, true);
			n++;
		}
	return n;
}
