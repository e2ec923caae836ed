/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/sam.c - the i2p overlay: an I2P router's SAM v3 bridge
 *
 * Theory of operation: each i2p overlay is one I2P destination, held by
 * one SAM STREAM session.  At the relay's start a control connection per
 * i2p overlay says HELLO (VERSION 3.1: what i2pd and Java I2P both speak)
 * and SESSION CREATE STYLE=STREAM with the destination's private keys
 * (key_file, read by the supervisor) or TRANSIENT, plus the overlay's
 * sam_options.  The bridge answers once the destination's tunnels are up,
 * which takes from seconds to minutes; the session lives as long as its
 * control connection stays open.
 *
 * Each flow routed to the overlay is a new connection to the bridge:
 * HELLO, then, once the session is ready (flows wait for it, not
 * watched, up to SAM_SESSION_TIMEOUT_S), STREAM CONNECT ID=session
 * DESTINATION=name.i2p; after "STREAM STATUS RESULT=OK" the connection
 * is the stream.  Lines are read with MSG_PEEK up to their newline, so no
 * byte of the stream is consumed.  SAM 3.1 has no ports: a destination
 * is one service, whatever port the job dialled.  Names are handed to the
 * bridge as they are (base32 or the router's address book decides); a
 * literal address or a name outside .i2p never reaches it.
 *
 * Published ports (`publish:`) use STREAM FORWARD on a second control
 * connection: the bridge connects each inbound stream to a listener of
 * the relay on the address the relay reached the bridge from, sending
 * the peer's destination as a first line, and the relay connects it on
 * to the job's port (relay/tcp.c).  SAM 3.1 forwards a session's streams
 * to one port, so one i2p overlay publishes at most one port.
 *
 * A session that fails (bridge down, refused keys, closed) fails its
 * waiting flows with an overlay reason, and is tried again at the next
 * flow after SAM_RETRY_S; nothing is ever dialled any other way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "relay/relay_int.h"

#define SAM_HELLO "HELLO VERSION MIN=3.1 MAX=3.1\n"

enum sam_session_step {
	SESSION_IDLE,		/* not started, or waiting to retry */
	SESSION_CONNECTING,
	SESSION_HELLO,		/* HELLO sent or being sent */
	SESSION_CREATE,		/* SESSION CREATE sent or being sent */
	SESSION_READY,
};

/* Steps of a flow's connection to the bridge (struct flow proxy_step) */
enum {
	SAM_FLOW_HELLO = 100,	/* sending HELLO */
	SAM_FLOW_HELLO_REPLY,
	SAM_FLOW_WAIT,		/* HELLO done, the session is not ready */
	SAM_FLOW_CONNECT,	/* sending STREAM CONNECT */
	SAM_FLOW_STATUS,
	SAM_FLOW_DONE,
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static const struct overlay *overlay_of(const struct relay_ctx *c, unsigned ov)
{
	return &c->cfg->policy->overlays[ov];
}

/* A SAM RESULT= as an audit reason: CANT_REACH_PEER -> cant-reach-peer */
static void result_reason(const char *result, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; result[i] && i + 1 < outlen; i++)
		out[i] = result[i] == '_' ? '-' : (char)(result[i] | 0x20);
	out[i] = '\0';
}

static int session_watch(struct relay_ctx *c, unsigned ov, int fd, uint32_t events,
			 bool add)
{
	struct epoll_event ev = { .events = events, .data.u64 = RELAY_EV(RELAY_EV_SAM, ov) };

	return epoll_ctl(c->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0 ?
		       negative_errno() : 0;
}

/* Fail every flow that waits for session @ov */
static void session_fail_waiters(struct relay_ctx *c, unsigned ov, const char *why)
{
	for (uint32_t slot = 0; slot < c->flows_high; slot++) {
		struct flow *f = &c->flows[slot];

		if (f->used && f->state == FLOW_PROXY && f->overlay == ov &&
		    f->proxy_step == SAM_FLOW_WAIT)
			tcp_overlay_failed(c, slot, why);
	}
}

static void session_failed(struct relay_ctx *c, unsigned ov, const char *why)
{
	struct sam_session *s = &c->sam[ov];
	bool was_ready = s->step == SESSION_READY;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->step = SESSION_IDLE;
	s->retry_at = now_s() + SAM_RETRY_S;
	snprintf(s->why, sizeof(s->why), "%s", why);
	log_warn("overlay %s: I2P session %s: %s%s", overlay_of(c, ov)->name, s->id,
		 why, was_ready ? " (its streams are cut)" : "");
	sam_forward_stop(c, ov);
	session_fail_waiters(c, ov, why);
}

static int session_start(struct relay_ctx *c, unsigned ov)
{
	struct sam_session *s = &c->sam[ov];
	struct sockaddr_storage ss;
	socklen_t sl = nbj_addr_to_sockaddr(&overlay_of(c, ov)->proxy, &ss);
	int fd, err;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		err = negative_errno();
		close(fd);
		return err;
	}
	s->fd = fd;
	s->step = SESSION_CONNECTING;
	s->deadline = now_s() + SAM_SESSION_TIMEOUT_S;
	s->have = s->out_len = s->out_off = 0;
	s->why[0] = '\0';
	err = session_watch(c, ov, fd, EPOLLOUT, true);
	if (err < 0) {
		close(fd);
		s->fd = -1;
		s->step = SESSION_IDLE;
	}
	return err;
}

/**
 * sam_init() - open a session for each i2p overlay of the policy
 * @c:		relay context
 *
 * Return: 0, or -ENOMEM (a bridge that cannot be reached is not an
 * error here: its flows fail, and it is tried again)
 */
int sam_init(struct relay_ctx *c)
{
	const struct nbj_policy *p = c->cfg->policy;
	bool any = false;

	for (size_t i = 1; p->overlays && i < p->n_overlays; i++)
		any |= p->overlays[i].kind == OVERLAY_I2P;
	if (!any)
		return 0;
	c->sam = calloc(p->n_overlays, sizeof(*c->sam));
	if (!c->sam)
		return -ENOMEM;
	for (unsigned i = 0; i < p->n_overlays; i++) {
		struct sam_session *s = &c->sam[i];

		s->fd = s->fwd_fd = s->fwd_listen = -1;
		if (p->overlays[i].kind != OVERLAY_I2P)
			continue;
		snprintf(s->id, sizeof(s->id), "nbjail-%.24s-%u", c->cfg->job_id, i);
		snprintf(s->address, sizeof(s->address), "%s", p->overlays[i].i2p_address);
		if (session_start(c, i) < 0)
			session_failed(c, i, "sam-unreachable");
	}
	return 0;
}

/* Queue a command on the session's or its forward's connection (one
 * conversation at a time: the forward starts once the session is ready) */
static void session_queue(struct sam_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void session_queue(struct sam_session *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s->out, sizeof(s->out), fmt, ap);
	va_end(ap);
	s->out_len = n < 0 ? 0 : (size_t)n >= sizeof(s->out) ? sizeof(s->out) - 1 : (size_t)n;
	s->out_off = 0;
	s->have = 0;
}

/*
 * One step of a control conversation on @fd (the session's or its
 * forward's, one at a time, sharing s->out and s->in): send what is
 * queued, then read up to a newline.  Return 1 with the line in s->in
 * (terminated), 0 to wait, or negative with *why set.  @watch_in is
 * called once the command is sent, to wait for the reply.
 */
static int conversation_io(struct relay_ctx *c, unsigned ov, struct sam_session *s, int fd,
			   int (*watch_in)(struct relay_ctx *, unsigned), const char **why)
{
	ssize_t n;
	char *nl;

	*why = "sam-closed";
	while (s->out_off < s->out_len) {
		n = send(fd, s->out + s->out_off, s->out_len - s->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -EPIPE;
		s->out_off += (size_t)n;
		if (s->out_off == s->out_len)
			(void)watch_in(c, ov);
	}
	n = recv(fd, s->in + s->have, sizeof(s->in) - 1 - s->have, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN))
		return -ECONNRESET;
	if (n < 0)
		return 0;
	s->have += (size_t)n;
	s->in[s->have] = '\0';
	nl = memchr(s->in, '\n', s->have);
	if (!nl) {
		*why = "sam-protocol-error";
		return s->have == sizeof(s->in) - 1 ? -EPROTO : 0;
	}
	*nl = '\0';
	return 1;
}

static int session_watch_in(struct relay_ctx *c, unsigned ov)
{
	return session_watch(c, ov, c->sam[ov].fd, EPOLLIN, false);
}

/* The session is ready: start published ports, wake waiting flows */
static void session_ready(struct relay_ctx *c, unsigned ov)
{
	struct sam_session *s = &c->sam[ov];

	s->step = SESSION_READY;
	log_info("overlay %s: I2P session ready, the job's destination is %s",
		 overlay_of(c, ov)->name, s->address[0] ? s->address : "(unknown)");
	sam_forward_start(c, ov);
	for (uint32_t slot = 0; slot < c->flows_high; slot++) {
		struct flow *f = &c->flows[slot];

		if (!f->used || f->state != FLOW_PROXY || f->overlay != ov ||
		    f->proxy_step != SAM_FLOW_WAIT)
			continue;
		sam_flow_connect(c, f);
		tcp_flow_event(c, slot, FLOW_SIDE_DIAL, EPOLLOUT);
	}
}

/* A complete reply line on the control connection */
static void session_line(struct relay_ctx *c, unsigned ov, char *line)
{
	struct sam_session *s = &c->sam[ov];
	const struct overlay *o = overlay_of(c, ov);
	char result[64], reason[64], dest[I2P_KEY_MAX];

	if (!i2p_sam_value(line, "RESULT", result, sizeof(result))) {
		session_failed(c, ov, "sam-protocol-error");
		return;
	}
	if (strcmp(result, "OK")) {
		char why[80];

		result_reason(result, reason, sizeof(reason));
		snprintf(why, sizeof(why), "sam-%s", reason);
		session_failed(c, ov, why);
		return;
	}
	if (s->step == SESSION_HELLO) {
		s->step = SESSION_CREATE;
		session_queue(s, "SESSION CREATE STYLE=STREAM ID=%s DESTINATION=%s "
			      "SIGNATURE_TYPE=7%s%s\n", s->id,
			      o->i2p_key[0] ? o->i2p_key : "TRANSIENT",
			      o->sam_options[0] ? " " : "", o->sam_options);
		(void)session_watch(c, ov, s->fd, EPOLLOUT, false);
		return;
	}
	/* SESSION STATUS RESULT=OK DESTINATION=<private keys> */
	if (!s->address[0] && i2p_sam_value(line, "DESTINATION", dest, sizeof(dest)) &&
	    i2p_b32_address(dest, s->address, sizeof(s->address)) < 0)
		s->address[0] = '\0';
	explicit_bzero(dest, sizeof(dest));
	explicit_bzero(s->out, sizeof(s->out));
	(void)session_watch(c, ov, s->fd, EPOLLIN, false);
	session_ready(c, ov);
}

/**
 * sam_event() - readiness on an i2p overlay's control connection
 * @c:		relay context
 * @ov:		overlay index
 * @events:	epoll events
 */
void sam_event(struct relay_ctx *c, unsigned ov, uint32_t events)
{
	struct sam_session *s;

	if (!c->sam || ov >= c->cfg->policy->n_overlays)
		return;
	s = &c->sam[ov];
	if (s->fd < 0)
		return;
	if (s->step == SESSION_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
			session_failed(c, ov, "sam-unreachable");
			return;
		}
		s->step = SESSION_HELLO;
		session_queue(s, "%s", SAM_HELLO);
	}
	if (s->step == SESSION_READY) {
		/* the bridge says nothing more on a ready session: a close,
		 * or anything else, ends it */
		session_failed(c, ov, "sam-closed");
		return;
	}
	(void)events;
	{
		const char *why;
		int r = conversation_io(c, ov, s, s->fd, session_watch_in, &why);

		if (r < 0)
			session_failed(c, ov, why);
		else if (r > 0)
			session_line(c, ov, s->in);
	}
}

/**
 * sam_tick() - once a second: give up sessions that take too long
 * @c:		relay context
 */
void sam_tick(struct relay_ctx *c)
{
	time_t now = now_s();

	for (unsigned ov = 0; c->sam && ov < c->cfg->policy->n_overlays; ov++) {
		struct sam_session *s = &c->sam[ov];

		if (s->fd >= 0 && s->step != SESSION_READY && s->deadline <= now)
			session_failed(c, ov, "session-timeout");
		sam_forward_tick(c, ov, now);
	}
}

/**
 * sam_flow_begin() - the flow's connection to the bridge is up: say HELLO
 * @c:		relay context
 * @f:		flow routed to an i2p overlay
 */
void sam_flow_begin(struct relay_ctx *c, struct flow *f)
{
	(void)c;
	memcpy(f->proxy_buf, SAM_HELLO, sizeof(SAM_HELLO) - 1);
	f->proxy_len = sizeof(SAM_HELLO) - 1;
	f->proxy_off = 0;
	f->proxy_step = SAM_FLOW_HELLO;
}

/**
 * sam_flow_connect() - queue STREAM CONNECT on a flow that said HELLO
 * @c:		relay context
 * @f:		the flow, its session ready
 */
void sam_flow_connect(struct relay_ctx *c, struct flow *f)
{
	int n = snprintf((char *)f->proxy_buf, sizeof(f->proxy_buf),
			 "STREAM CONNECT ID=%s DESTINATION=%s SILENT=false\n",
			 c->sam[f->overlay].id, c->names[f->name].name);

	f->proxy_len = (size_t)n < sizeof(f->proxy_buf) ? (size_t)n : 0;
	f->proxy_off = 0;
	f->proxy_step = SAM_FLOW_CONNECT;
	f->deadline = now_s() + SAM_STREAM_TIMEOUT_S;
}

/*
 * Read one reply line into f->proxy_buf without consuming anything after
 * its newline.  Return 1 with the line, 0 to wait, negative on failure.
 */
static int flow_line(struct flow *f, int fd, const char **why)
{
	char peek[PROXY_BUF];
	ssize_t n = recv(fd, peek, sizeof(peek) - 1 - f->proxy_off, MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	size_t want;

	if (n == 0) {
		*why = "sam-closed";
		return -ECONNRESET;
	}
	if (n < 0)
		return errno == EAGAIN ? 0 : negative_errno();
	nl = memchr(peek, '\n', (size_t)n);
	want = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
	if (recv(fd, f->proxy_buf + f->proxy_off, want, MSG_DONTWAIT) != (ssize_t)want)
		return -EIO;
	f->proxy_off += want;
	f->proxy_buf[f->proxy_off] = '\0';
	if (!nl) {
		if (f->proxy_off >= sizeof(f->proxy_buf) - 1) {
			*why = "sam-protocol-error";
			return -EPROTO;
		}
		return 0;
	}
	f->proxy_buf[f->proxy_off - 1] = '\0';
	return 1;
}

/**
 * sam_flow_io() - advance a flow's conversation with the bridge
 * @c:		relay context
 * @f:		the flow
 * @why:	on failure, the reason for the audit event
 *
 * Return: 1 when the stream is open, 0 to wait (sam_flow_wants() says
 * for what), negative errno when the flow must end
 */
int sam_flow_io(struct relay_ctx *c, struct flow *f, const char **why)
{
	int fd = f->side[FLOW_SIDE_DIAL].fd;
	char result[64];

	*why = "sam-error";
	for (int rounds = 0; rounds < 8; rounds++) {
		int r;

		switch (f->proxy_step) {
		case SAM_FLOW_DONE:
			return 1;
		case SAM_FLOW_WAIT:
			return 0;
		case SAM_FLOW_HELLO:
		case SAM_FLOW_CONNECT: {
			ssize_t n = send(fd, f->proxy_buf + f->proxy_off,
					 f->proxy_len - f->proxy_off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0)
				return errno == EAGAIN ? 0 : negative_errno();
			f->proxy_off += (size_t)n;
			if (f->proxy_off < f->proxy_len)
				continue;
			f->proxy_step = f->proxy_step == SAM_FLOW_HELLO ? SAM_FLOW_HELLO_REPLY
									: SAM_FLOW_STATUS;
			f->proxy_off = 0;
			continue;
		}
		case SAM_FLOW_HELLO_REPLY:
		case SAM_FLOW_STATUS:
			r = flow_line(f, fd, why);
			if (r <= 0)
				return r;
			if (!i2p_sam_value((char *)f->proxy_buf, "RESULT", result, sizeof(result))) {
				*why = "sam-protocol-error";
				return -EPROTO;
			}
			if (strcmp(result, "OK")) {
				result_reason(result, f->proxy_why, sizeof(f->proxy_why));
				*why = f->proxy_why;
				if (!strcmp(result, "INVALID_ID"))
					session_failed(c, f->overlay, "session-lost");
				return -ECONNREFUSED;
			}
			if (f->proxy_step == SAM_FLOW_STATUS) {
				f->proxy_step = SAM_FLOW_DONE;
				return 1;
			}
			if (c->sam[f->overlay].step != SESSION_READY) {
				struct sam_session *s = &c->sam[f->overlay];

				if (s->fd < 0 && now_s() < s->retry_at) {
					*why = s->why[0] ? s->why : "sam-unreachable";
					return -ENETUNREACH;
				}
				if (s->fd < 0 && session_start(c, f->overlay) < 0) {
					*why = "sam-unreachable";
					return -ENETUNREACH;
				}
				f->proxy_step = SAM_FLOW_WAIT;
				f->deadline = s->deadline;
				return 0;
			}
			sam_flow_connect(c, f);
			continue;
		default:
			*why = "sam-protocol-error";
			return -EPROTO;
		}
	}
	return 0;
}

/**
 * sam_flow_wants() - what a flow waits for on its bridge connection
 * @f:		the flow
 *
 * Return: EPOLLOUT, EPOLLIN, or 0 while it waits for the session
 */
uint32_t sam_flow_wants(const struct flow *f)
{
	switch (f->proxy_step) {
	case SAM_FLOW_HELLO:
	case SAM_FLOW_CONNECT:
		return EPOLLOUT;
	case SAM_FLOW_WAIT:
		return 0;
	default:
		return EPOLLIN;
	}
}

enum sam_forward_step {
	FORWARD_IDLE,
	FORWARD_CONNECTING,
	FORWARD_HELLO,		/* HELLO sent or being sent */
	FORWARD_REQUEST,	/* STREAM FORWARD sent or being sent */
	FORWARD_READY,
};

/* The publish entry of i2p overlay @ov, or -1 */
static int forward_entry(const struct relay_ctx *c, unsigned ov)
{
	const struct nbj_policy *p = c->cfg->policy;

	for (size_t i = 0; i < p->n_publish; i++)
		if (p->publish[i].overlay == ov)
			return (int)i;
	return -1;
}

static int forward_watch(struct relay_ctx *c, unsigned ov, uint32_t events, bool add)
{
	struct epoll_event ev = { .events = events,
				  .data.u64 = RELAY_EV(RELAY_EV_SAM_FWD, ov) };

	return epoll_ctl(c->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->sam[ov].fwd_fd,
			 &ev) < 0 ? negative_errno() : 0;
}

static int forward_watch_in(struct relay_ctx *c, unsigned ov)
{
	return forward_watch(c, ov, EPOLLIN, false);
}

/**
 * sam_forward_stop() - stop publishing on an i2p overlay (its session
 * ended); a ready session starts it again
 * @c:		relay context
 * @ov:		overlay index
 */
void sam_forward_stop(struct relay_ctx *c, unsigned ov)
{
	struct sam_session *s = &c->sam[ov];

	if (s->fwd_fd >= 0)
		close(s->fwd_fd);
	if (s->fwd_listen >= 0)
		close(s->fwd_listen);
	s->fwd_fd = s->fwd_listen = -1;
	s->fwd_step = FORWARD_IDLE;
}

static void forward_failed(struct relay_ctx *c, unsigned ov, const char *why)
{
	struct sam_session *s = &c->sam[ov];

	log_warn("overlay %s: the published port is not reachable over I2P: %s "
		 "(tried again in %d s)", overlay_of(c, ov)->name, why, SAM_RETRY_S);
	sam_forward_stop(c, ov);
	s->fwd_retry_at = now_s() + SAM_RETRY_S;
}

/**
 * sam_forward_start() - publish the job's port on a ready i2p session:
 * STREAM FORWARD to a listener of the relay
 * @c:		relay context
 * @ov:		overlay index
 */
void sam_forward_start(struct relay_ctx *c, unsigned ov)
{
	struct sam_session *s = &c->sam[ov];
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (s->fwd_fd >= 0 || forward_entry(c, ov) < 0 || s->step != SESSION_READY)
		return;
	sl = nbj_addr_to_sockaddr(&overlay_of(c, ov)->proxy, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		forward_failed(c, ov, strerror(errno));
		return;
	}
	s->fwd_fd = fd;
	s->fwd_step = FORWARD_CONNECTING;
	if ((connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) ||
	    forward_watch(c, ov, EPOLLOUT, true) < 0)
		forward_failed(c, ov, "sam-unreachable");
}

/**
 * sam_forward_tick() - try a failed forward again
 * @c:		relay context
 * @ov:		overlay index
 * @now:	CLOCK_MONOTONIC seconds
 */
void sam_forward_tick(struct relay_ctx *c, unsigned ov, time_t now)
{
	struct sam_session *s = &c->sam[ov];

	if (s->step == SESSION_READY && s->fwd_fd < 0 && now >= s->fwd_retry_at)
		sam_forward_start(c, ov);
}

/* The listener the bridge forwards to, on the address we reach it from */
static int forward_listen(struct relay_ctx *c, unsigned ov, uint16_t *ret_port,
			  char *host, size_t hostlen)
{
	struct sam_session *s = &c->sam[ov];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct nbj_addr a = { 0 };
	struct epoll_event ev;
	int fd, entry = forward_entry(c, ov);

	if (getsockname(s->fwd_fd, (struct sockaddr *)&ss, &sl) < 0)
		return negative_errno();
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	s->fwd_listen = fd;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0)
		return negative_errno();
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    nbj_addr_from_sockaddr((struct sockaddr *)&ss, sl, &a) < 0)
		return negative_errno();
	*ret_port = a.port;
	a.port = 0;
	nbj_addr_format(&a, host, hostlen);
	ev = (struct epoll_event){ .events = EPOLLIN,
				   .data.u64 = RELAY_EV(RELAY_EV_PUBLISH, (uint32_t)entry) };
	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? negative_errno() : 0;
}

/**
 * sam_forward_event() - readiness on an i2p overlay's FORWARD connection
 * @c:		relay context
 * @ov:		overlay index
 * @events:	epoll events
 */
void sam_forward_event(struct relay_ctx *c, unsigned ov, uint32_t events)
{
	struct sam_session *s;
	char result[64], reason[64], host[NBJ_ADDR_STRLEN];
	uint16_t port;

	if (!c->sam || ov >= c->cfg->policy->n_overlays || c->sam[ov].fwd_fd < 0)
		return;
	s = &c->sam[ov];
	(void)events;
	if (s->fwd_step == FORWARD_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(s->fwd_fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
			forward_failed(c, ov, "sam-unreachable");
			return;
		}
		session_queue(s, "%s", SAM_HELLO);
		s->fwd_step = FORWARD_HELLO;
	}
	if (s->fwd_step == FORWARD_READY) {
		forward_failed(c, ov, "sam-closed");
		return;
	}
	{
		const char *why;
		int r = conversation_io(c, ov, s, s->fwd_fd, forward_watch_in, &why);

		if (r < 0)
			forward_failed(c, ov, why);
		if (r <= 0)
			return;
	}
	if (!i2p_sam_value(s->in, "RESULT", result, sizeof(result))) {
		forward_failed(c, ov, "sam-protocol-error");
		return;
	}
	if (strcmp(result, "OK")) {
		char why[80];

		result_reason(result, reason, sizeof(reason));
		snprintf(why, sizeof(why), "sam-%s", reason);
		forward_failed(c, ov, why);
		return;
	}
	if (s->fwd_step == FORWARD_HELLO) {
		int err = forward_listen(c, ov, &port, host, sizeof(host));

		if (err < 0) {
			forward_failed(c, ov, strerror(-err));
			return;
		}
		/* SILENT: the bridge sends the stream's bytes only */
		session_queue(s, "STREAM FORWARD ID=%s PORT=%u HOST=%s SILENT=true\n",
			      s->id, port, host);
		s->fwd_step = FORWARD_REQUEST;
		(void)forward_watch(c, ov, EPOLLOUT, false);
		return;
	}
	s->fwd_step = FORWARD_READY;
	s->have = 0;
	log_info("published: the job's port %u is reachable over I2P at %s (overlay %s)",
		 c->cfg->policy->publish[forward_entry(c, ov)].to,
		 s->address[0] ? s->address : "(unknown)", overlay_of(c, ov)->name);
}
