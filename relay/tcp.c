/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/tcp.c - the transparent TCP relay: accept, decide, dial, splice
 *
 * Theory of operation: nftables redirects every TCP connection of the job
 * to our listening sockets; the original destination comes back from
 * conntrack (SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST).
 *
 * Every flow is judged by policy_decide() (lane connect, the order is in
 * policy/decide.c) on the facts tcp_flow_facts() gathers; this file only
 * acts on the decision.  A literal address is judged as is.  A synthetic
 * address (handed out by the DNS stub, names.c) stands for a name: when
 * the decision asks for its answers, the flow waits while the name is
 * resolved afresh (resolve.c) and is judged again with every answer (one
 * internal answer denies it, and taints the name for the job's life: DNS
 * rebinding); the answers are then dialled in order, IPv6 first, the
 * next one after a failed dial.  Through a proxy overlay the proxy is
 * dialled and resolves the name itself.  The overlay judged is the
 * overlay dialled: decision.overlay.
 *
 * A denied connection is reset (SO_LINGER 0) and logged.  An allowed one
 * takes a slot of the fixed flow table and is dialled non-blocking;
 * resolving plus dialling that take longer than DIAL_TIMEOUT_S seconds,
 * or a dial that fails for every answer, reset the job's side.
 *
 * For names, the first bytes from the job are peeked at before any of
 * them is forwarded (sni_check(), relay/sni.c reads them): TLS must be
 * one whole ClientHello naming the name, else the flow is cut (no domain
 * fronting; sni-missing, sni-mismatch).  SO_RCVLOWAT makes epoll wait
 * until the next record is there; a hello begun must be whole within
 * DIAL_TIMEOUT_S.  A hello that passes is copied to the server alone (the
 * one user-space copy of a flow, at most SNI_PEEK_MAX bytes, unchanged),
 * and the job's next bytes wait until the server's first record shows
 * whether it asks for a second hello (HelloRetryRequest), which is then
 * checked the same way.
 *
 * Once connected, each direction moves through its own pipe with
 * splice(2), never through user space:
 *
 *	job fd --splice--> side[JOB].pipe --splice--> dial fd
 *	dial fd --splice--> side[DIAL].pipe --splice--> job fd
 *
 * A side holds a pipe only while bytes are on their way through it: it
 * takes one from the relay's pool (or makes one, PIPE_SIZE large) before
 * splicing in, and gives it back once drained.  An idle flow holds just
 * its two sockets, and a new flow makes no pipe at all.
 *
 * epoll is level-triggered; a socket's interest is derived from the
 * state: EPOLLIN while its input is open and its pipe is empty, EPOLLOUT
 * while the other side's pipe holds bytes for it.  Bytes left in a pipe
 * mean that its writer is blocked: that direction stops reading until
 * EPOLLOUT on the writer drains the pipe.  (A pipe fills by buffer slots,
 * not bytes: sixteen small TCP fragments fill it long before 64 KiB, so
 * "room by byte count" would keep EPOLLIN armed on a full pipe and spin.)
 * An event moves only the directions it concerns (pump_dirs(): in from
 * the readable socket, out to the writable one), and a read that got
 * less than it asked for is not repeated until epoll says so again.  The
 * first read of an event into an empty pipe is not a splice but a copy
 * (copy_in(): at most COPY_MAX bytes by recv() and send(); what the
 * other socket does not take is written into the pipe): a small request
 * and its answer on a kept-alive flow cost a recv() and a send() each
 * way, none returning EAGAIN, and bulk transfers still splice.
 * When one side reaches EOF and its pipe is drained, the other side's
 * write direction is shut down (half-close is preserved).  A side with
 * nothing to wait for whose output is shut down leaves epoll (else its
 * EPOLLHUP would wake us in a loop); a flow whose sides both ended is
 * closed.  Any socket error (EPOLLERR, or a failed splice) resets both
 * sides.  No allocation happens after flow_table_init(), except pipes
 * beyond the pool's.
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "relay/relay_int.h"
#include "relay/sni.h"
#include "relay/term.h"

/* <linux/netfilter_ipv4.h> and ip6_tables.h clash with <netinet/in.h> */
#define SO_ORIGINAL_DST 80
#define IP6T_SO_ORIGINAL_DST 80

#define DIAL_TIMEOUT_S 10
#define THROTTLE_NS 10000000	/* a throttled flow looks again after 10 ms */
#define ACCEPT_BATCH 64
#define IO_ROUNDS 8
#define COPY_MAX 4096u	/* an event's first read: copied, not spliced (copy_in()) */

enum {
	PUMP_UP = 1,	/* the job's side to the dialled side */
	PUMP_DOWN = 2,	/* the dialled side to the job's */
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/**
 * flow_table_init() - allocate the fixed flow table, all slots free
 * @c:	relay context, @c->cfg->max_flows slots
 *
 * Return: 0, or -ENOMEM
 */
int flow_table_init(struct relay_ctx *c)
{
	c->flows = calloc(c->cfg->max_flows, sizeof(*c->flows));
	if (!c->flows)
		return -ENOMEM;
	/* slots are taken in order first (c->flows_high), freed ones reused
	 * after: the table's pages are touched only as flows need them */
	c->free_head = UINT32_MAX;
	c->flows_high = 0;
	return 0;
}

static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Give @s's pipe back to the pool, or close it (full pool, or bytes in it) */
static void pipe_put(struct relay_ctx *c, struct flow_side *s)
{
	if (s->pipe.fd[0] < 0)
		return;
	if (!s->pending && c->n_pipe_pool < PIPE_POOL_MAX) {
		c->pipe_pool[c->n_pipe_pool++] = s->pipe;
	} else {
		close(s->pipe.fd[0]);
		close(s->pipe.fd[1]);
	}
	s->pipe.fd[0] = s->pipe.fd[1] = -1;
	s->pending = 0;
}

/* A pipe for @s: from the pool, or a new one made PIPE_SIZE large if the
 * system allows (else it keeps the default size) */
static int pipe_get(struct relay_ctx *c, struct flow_side *s)
{
	int sz;

	if (s->pipe.fd[0] >= 0)
		return 0;
	if (c->n_pipe_pool) {
		s->pipe = c->pipe_pool[--c->n_pipe_pool];
		return 0;
	}
	if (pipe2(s->pipe.fd, O_NONBLOCK | O_CLOEXEC) < 0) {
		s->pipe.fd[0] = s->pipe.fd[1] = -1;
		return negative_errno();
	}
	(void)fcntl(s->pipe.fd[0], F_SETPIPE_SZ, PIPE_SIZE);
	sz = fcntl(s->pipe.fd[0], F_GETPIPE_SZ);
	s->pipe.cap = sz > 0 ? (unsigned)sz : 4096;
	return 0;
}

static void side_close(struct relay_ctx *c, struct flow_side *s, bool reset)
{
	if (reset)
		reset_close(s->fd);
	else if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	pipe_put(c, s);
}

/* The job's flow count, for `nbjail ctl` and the tenant's limit */
static void flows_publish(struct relay_ctx *c)
{
	const struct audit_ctx *a = &c->cfg->audit;

	if (!a->stats)
		return;
	atomic_store(&a->stats->flows_active, c->live);
	if (a->tenant && a->tenant_slot >= 0 && a->tenant_slot < TENANT_SLOTS)
		atomic_store(&a->tenant->slots[a->tenant_slot].active, c->live);
}

/* The job's or its tenant's flows are at their limit */
static bool over_concurrency(const struct relay_ctx *c)
{
	const struct audit_ctx *a = &c->cfg->audit;
	const struct job_limits *l = &a->limits;

	if (!a->stats)
		return false;
	if (l->concurrent && c->live >= l->concurrent)
		return true;
	return a->tenant && l->tenant_concurrent &&
	       tenant_flows(a->tenant) >= l->tenant_concurrent;
}

static void flow_free(struct relay_ctx *c, uint32_t slot, bool reset)
{
	struct flow *f = &c->flows[slot];

	term_end(c, f);	/* its TLS sessions, before their sockets */
	/* closing an fd removes it from epoll */
	side_close(c, &f->side[FLOW_SIDE_JOB], reset);
	side_close(c, &f->side[FLOW_SIDE_DIAL], reset);
	f->used = false;
	f->next_free = c->free_head;
	c->free_head = slot;
	c->live--;
	flows_publish(c);
}

static int flow_alloc(struct relay_ctx *c, uint32_t *ret)
{
	uint32_t slot = c->free_head;
	struct flow *f;

	if (slot == UINT32_MAX) {
		if (c->flows_high >= c->cfg->max_flows)
			return -ENOSPC;
		slot = c->flows_high++;
		f = &c->flows[slot];
	} else {
		f = &c->flows[slot];
		c->free_head = f->next_free;
	}
	{
		uint32_t gen = f->gen + 1;

		memset(f, 0, sizeof(*f));
		f->gen = gen;
	}
	f->used = true;
	f->name = -1;
	f->term = -1;
	for (int i = 0; i < 2; i++) {
		f->side[i].fd = -1;
		f->side[i].pipe.fd[0] = f->side[i].pipe.fd[1] = -1;
	}
	c->live++;
	flows_publish(c);
	if (c->cfg->audit.stats)
		atomic_fetch_add(&c->cfg->audit.stats->flows_total, 1);
	*ret = slot;
	return 0;
}

static int side_watch(struct relay_ctx *c, uint32_t slot, int side,
		      uint32_t events)
{
	struct flow_side *s = &c->flows[slot].side[side];
	struct epoll_event ev = {
		.events = events,
		.data.u64 = RELAY_EV(side == FLOW_SIDE_JOB ? RELAY_EV_FLOW_JOB
							   : RELAY_EV_FLOW_DIAL, slot),
	};
	int op;

	if (s->in_epoll && s->events == events)
		return 0;
	op = s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(c->epfd, op, s->fd, &ev) < 0)
		return negative_errno();
	s->in_epoll = true;
	s->events = events;
	return 0;
}

static void side_unwatch(struct relay_ctx *c, struct flow_side *s)
{
	if (!s->in_epoll)
		return;
	(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->in_epoll = false;
	s->events = 0;
}

static int original_dst(int fd, int family, struct nbj_addr *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r;

	if (family == AF_INET)
		r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
	else
		r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len);
	if (r < 0)
		return negative_errno();
	return nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, ret);
}

/*
 * A TCP socket made in the job's network namespace by the job's init
 * (the socket factory, supervisor/reaper.c): the only way into the job,
 * used for the inbound connections of published ports.  The init
 * answers at once; a silent one fails the dial after a second.
 */
static int job_socket(const struct relay_ctx *c, int family)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct pollfd pfd = { .fd = c->cfg->socket_factory, .events = POLLIN };
	int err = 0, fd = -1;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	if (pfd.fd < 0)
		return -ENOTCONN;
	if (send(pfd.fd, &family, sizeof(family), MSG_NOSIGNAL) != sizeof(family))
		return -ENOTCONN;
	if (poll(&pfd, 1, 1000) != 1)
		return -ETIMEDOUT;
	n = recvmsg(pfd.fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (n != sizeof(err) || (msg.msg_flags & MSG_CTRUNC) || (!err && fd < 0)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	return err < 0 ? err : fd;
}

/**
 * tcp_job_socket() - a TCP socket made in the job's network namespace,
 * for a connection into the job (relay/inbound.c)
 * @c:		relay context
 * @family:	AF_INET or AF_INET6
 *
 * Return: the socket (the caller owns it), or a negative errno
 */
int tcp_job_socket(const struct relay_ctx *c, int family)
{
	return job_socket(c, family);
}

/*
 * A relay must not add Nagle's wait: a peer's small writes in a row (a
 * TLS Finished and then the request) would be held until the other end's
 * delayed ACK, 40 ms on a fresh connection (bench/run --only creds saw
 * every first request through the relay wait that).  Each side's writes
 * reach the other as the relay got them.
 */
static void no_delay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Start a non-blocking dial to @target, bound to interface @ifname if
 * not NULL (tailscale); @into_job: from a socket of the job's netns (an
 * inbound flow to a published port), else from ours.  Return: 0 when in
 * progress or done
 */
static int dial(const struct relay_ctx *c, const struct nbj_addr *target,
		const char *ifname, bool into_job, int *ret_fd)
{
	struct sockaddr_storage ss;
	socklen_t len = nbj_addr_to_sockaddr(target, &ss);
	int fd;

	if (into_job)
		fd = job_socket(c, target->family);
	else
		fd = socket(target->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return into_job ? fd : negative_errno();
	no_delay(fd);
	if (ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
				 (socklen_t)strlen(ifname) + 1) < 0) {
		int err = negative_errno();

		close(fd);
		return err;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		int err = negative_errno();

		close(fd);
		return err;
	}
	*ret_fd = fd;
	return 0;
}

/* An allowed flow: counted; a floor exception is logged and audited */
static void log_exception(const struct relay_ctx *c, const struct decision *d,
			  const struct nbj_addr *target, const struct nbj_addr *peer)
{
	char rule[NBJ_ADDR_STRLEN + 8], t[NBJ_ADDR_STRLEN], p[NBJ_ADDR_STRLEN];
	struct audit_event ev;

	stats_count(c->cfg->audit.stats, LANE_TCP, OUTCOME_ALLOWED, DECIDE_ALLOWED);
	if (d->exception < 0)
		return;
	allow_rule_format(&c->cfg->policy->floor_exceptions[d->exception], rule,
			  sizeof(rule));
	log_info("floor-exception tcp %s from %s class=floor:%s exception=%s",
		 nbj_addr_format(target, t, sizeof(t)), nbj_addr_format(peer, p, sizeof(p)),
		 floor_reason_name(d->floor), rule);
	audit_event_init(&ev, AUDIT_FLOOR_EXCEPTION, LANE_TCP);
	EVENT_SET(&ev, target, t);
	EVENT_SET(&ev, peer, p);
	EVENT_SET(&ev, reason, decide_reason_name(decide_reason_of_floor(d->floor)));
	snprintf(ev.detail, sizeof(ev.detail), "exception=%s", rule);
	(void)audit_send(&c->cfg->audit, &ev);
}

/* Log, count and audit a denial, with the name a synthetic target stands
 * for and what it resolved to (@answers, may be NULL) */
static void deny(struct relay_ctx *c, const struct nbj_addr *target,
		 const struct nbj_addr *peer, int name, enum decide_reason reason,
		 const struct nbj_addr *answers, size_t n_answers)
{
	char t[NBJ_ADDR_STRLEN + NBJ_NAME_MAX + 8], p[NBJ_ADDR_STRLEN];
	char resolved[256];

	c->denied++;
	if (!target) {
		snprintf(t, sizeof(t), "?");
	} else if (name >= 0) {
		char a[NBJ_ADDR_STRLEN];

		snprintf(t, sizeof(t), "%s:%u(%s)", c->names[name].name, target->port,
			 nbj_addr_format(target, a, sizeof(a)));
	} else {
		nbj_addr_format(target, t, sizeof(t));
	}
	log_info("deny tcp %s from %s reason=%s", t, nbj_addr_format(peer, p, sizeof(p)),
		 decide_reason_name(reason));
	audit_deny(&c->cfg->audit, LANE_TCP, 0, NULL, t,
		   nbj_addr_list_format(answers, n_answers, resolved, sizeof(resolved)),
		   NULL, p, reason);
}

/* Log, count and audit a flow that its overlay cannot carry, with the
 * overlay's name and reason "overlay:WHY" (counted as overlay-failed) */
static void overlay_deny(struct relay_ctx *c, const struct nbj_addr *target,
			 const struct nbj_addr *peer, int name, unsigned overlay,
			 const char *why)
{
	const char *ov = policy_overlay_name(c->cfg->policy, overlay);
	char t[NBJ_ADDR_STRLEN + NBJ_NAME_MAX + 8], p[NBJ_ADDR_STRLEN], a[NBJ_ADDR_STRLEN];
	char reason[96];
	struct audit_event ev;

	if (name >= 0)
		snprintf(t, sizeof(t), "%s:%u(%s)", c->names[name].name, target->port,
			 nbj_addr_format(target, a, sizeof(a)));
	else
		nbj_addr_format(target, t, sizeof(t));
	nbj_addr_format(peer, p, sizeof(p));
	snprintf(reason, sizeof(reason), "overlay:%s", why);
	c->denied++;
	log_info("deny tcp %s from %s reason=%s overlay=%s", t, p, reason, ov);
	stats_count(c->cfg->audit.stats, LANE_TCP, OUTCOME_DENIED, DECIDE_OVERLAY_FAILED);
	audit_event_init(&ev, AUDIT_DENY, LANE_TCP);
	EVENT_SET(&ev, target, t);
	EVENT_SET(&ev, peer, p);
	EVENT_SET(&ev, reason, reason);
	EVENT_SET(&ev, overlay, ov);
	(void)audit_send(&c->cfg->audit, &ev);
}

/* The flow goes through a proxy's handshake (socks5, tor, http-connect) */
static bool flow_via_proxy(const struct relay_ctx *c, const struct flow *f)
{
	const struct nbj_policy *p = c->cfg->policy;

	return !f->inbound && f->overlay != OVERLAY_DIRECT_INDEX && p->overlays &&
	       overlay_via_proxy(&p->overlays[f->overlay]);
}

/* The interface a flow's dial is bound to (tailscale), or NULL */
static const char *flow_interface(const struct relay_ctx *c, const struct flow *f)
{
	const struct nbj_policy *p = c->cfg->policy;

	if (f->inbound || f->overlay == OVERLAY_DIRECT_INDEX || !p->overlays ||
	    p->overlays[f->overlay].kind != OVERLAY_TAILSCALE ||
	    p->overlays[f->overlay].proxy.family)
		return NULL;
	return p->overlays[f->overlay].interface;
}

/* A published port's listener: the supervisor's, or an i2p overlay's
 * forward listener; -1 if there is none (yet) */
static int publish_listener(const struct relay_ctx *c, uint32_t index)
{
	int fd = c->cfg->publish_fds ? c->cfg->publish_fds[index] : -1;

	if (fd < 0 && c->sam)
		fd = c->sam[c->cfg->policy->publish[index].overlay].fwd_listen;
	return fd;
}

/*
 * Set the interest of every TCP listener (the job's redirected ones and
 * the published ports): EPOLLIN, or 0 while accepting cannot work
 */
static void listeners_interest(struct relay_ctx *c, uint32_t events)
{
	const struct relay_config *cfg = c->cfg;
	struct epoll_event ev = { .events = events };

	for (uint32_t i = 0; i < 2; i++) {
		if (cfg->tcp_fds[i] < 0)
			continue;
		ev.data.u64 = RELAY_EV(RELAY_EV_LISTEN, i);
		(void)epoll_ctl(c->epfd, EPOLL_CTL_MOD, cfg->tcp_fds[i], &ev);
	}
	for (uint32_t i = 0; i < cfg->policy->n_publish; i++) {
		int fd = publish_listener(c, i);

		if (fd < 0)
			continue;
		ev.data.u64 = RELAY_EV(RELAY_EV_PUBLISH, i);
		(void)epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
}

/* accept4() failed for want of fds or memory: the listener would stay
 * readable and wake us in a loop; connections wait in the backlog until
 * the next tick instead */
static bool accept_starved(struct relay_ctx *c, int err);

/**
 * tcp_accept_starved() - accept() failed for want of fds or memory:
 * stop watching the listeners until the next tick
 * @c:		relay context
 * @err:	accept()'s errno
 *
 * Return: true if @err was such a failure (and was handled)
 */
bool tcp_accept_starved(struct relay_ctx *c, int err)
{
	return accept_starved(c, err);
}

static bool accept_starved(struct relay_ctx *c, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	if (!c->accept_paused) {
		log_warn("accept: %s: new connections wait for a second", strerror(err));
		listeners_interest(c, 0);
		c->accept_paused = true;
	}
	return true;
}

/* Dial the flow's next answer; false when none is left */
static bool dial_next(struct relay_ctx *c, uint32_t slot)
{
	struct flow *f = &c->flows[slot];
	struct flow_side *d = &f->side[FLOW_SIDE_DIAL];

	while (f->next_answer < f->n_answers) {
		struct nbj_addr a = f->answers[f->next_answer++];
		int err, fd;

		if (!flow_via_proxy(c, f))
			a.port = f->target.port;
		if (d->fd >= 0) {
			side_unwatch(c, d);
			close(d->fd);
			d->fd = -1;
		}
		err = dial(c, &a, f->inbound ? NULL : flow_interface(c, f), f->inbound, &fd);
		if (err == -EMFILE || err == -ENFILE) {
			/* no fd for the dial now: the flow waits (tcp_timer()
			 * tries again each second until its deadline), and
			 * no more connections are accepted meanwhile */
			f->next_answer--;
			f->state = FLOW_CONNECTING;
			(void)accept_starved(c, -err);
			return true;
		}
		if (err < 0) {
			errno = -err;
			continue;
		}
		d->fd = fd;
		f->state = FLOW_CONNECTING;
		if (side_watch(c, slot, FLOW_SIDE_DIAL, EPOLLOUT) == 0)
			return true;
	}
	return false;
}

/**
 * tcp_overlay_failed() - an overlay that is down, refuses or fails: the
 * flow ends (reset), audited with the overlay's name and reason; it is
 * never dialled direct instead
 * @c:		relay context
 * @slot:	flow slot
 * @why:	the overlay's reason, audited as "overlay:WHY"
 */
void tcp_overlay_failed(struct relay_ctx *c, uint32_t slot, const char *why)
{
	struct flow *f = &c->flows[slot];

	overlay_deny(c, &f->target, &f->peer, f->name, f->overlay, why);
	flow_free(c, slot, true);
}

static void dial_failed(struct relay_ctx *c, uint32_t slot, int err)
{
	char t[NBJ_ADDR_STRLEN];

	if (c->flows[slot].inbound) {
		log_info("inbound tcp: the job's port %u does not answer: %s",
			 c->flows[slot].target.port, strerror(err));
		flow_free(c, slot, true);
		return;
	}

	if (c->flows[slot].overlay != OVERLAY_DIRECT_INDEX) {
		const struct overlay *o = &c->cfg->policy->overlays[c->flows[slot].overlay];
		bool sam = o->kind == OVERLAY_I2P;

		tcp_overlay_failed(c, slot, flow_interface(c, &c->flows[slot]) ?
			       (err == ENODEV ? "interface-missing" : "unreachable") :
			       err == ETIMEDOUT ? (sam ? "sam-timeout" : "proxy-timeout") :
			       (sam ? "sam-unreachable" : "proxy-unreachable"));
		return;
	}
	c->dial_failed++;
	log_info("dial-failed tcp %s error=%s",
		 nbj_addr_format(&c->flows[slot].target, t, sizeof(t)), strerror(err));
	flow_free(c, slot, true);
}

/* The revocation flag, read without acting on it (relay_revoked() cuts
 * every live flow the first time it sees it) */
static bool job_revoked(const struct relay_ctx *c)
{
	const struct job_stats *s = c->cfg->audit.stats;

	return c->revoked || (s && atomic_load(&((struct job_stats *)s)->revoked));
}

/**
 * tcp_flow_facts() - what the relay knows of a TCP flow of the job, for
 * policy_decide(): the name a synthetic target stands for (and whether
 * it is tainted), the overlay the job's process selected (from the
 * source port), the host's addresses, the revocation flag
 * @c:		relay context
 * @target:	the flow's original destination
 * @peer:	the job's address and port
 * @ret:	the facts (lane connect), answers not known yet, rate not
 *		judged (admission only: tcp_accept's caller sets it)
 *
 * `nbjail explain` gathers the same facts (explain_facts()); the unit
 * test test-decide checks that both decide alike.
 *
 * Return: the name slot @target stands for, or -1
 */
int tcp_flow_facts(struct relay_ctx *c, const struct nbj_addr *target,
		   const struct nbj_addr *peer, struct decide_facts *ret)
{
	int selected = relay_selected_overlay(c, peer);
	bool synthetic;
	int name = names_from_synthetic(c, target, &synthetic);

	if (name >= 0 && !c->names[name].name[0])
		name = -1;
	*ret = (struct decide_facts){
		.lane = DECIDE_LANE_CONNECT,
		.policy = c->cfg->policy,
		.floor = hostaddr_floor(c),
		.name = name >= 0 ? c->names[name].name : NULL,
		.addr = *target,
		.port = target->port,
		.synthetic = synthetic,
		.answers_state = DECIDE_ANSWERS_PENDING,
		.selected = selected < 0 ? DECIDE_SELECTED_UNMARKED : selected,
		.revoked = job_revoked(c),
		.tainted = name >= 0 && c->names[name].tainted,
	};
	return name;
}

/* An allowed flow: count it (audit a floor exception), then dial what
 * the decision says: the target, the overlay's proxy, or the answers */
static void flow_dial(struct relay_ctx *c, uint32_t slot, const struct decision *d,
		      const struct nbj_addr *answers, size_t n)
{
	struct flow *f = &c->flows[slot];

	log_exception(c, d, &f->target, &f->peer);
	f->overlay = d->overlay;
	f->next_answer = 0;
	if (d->dial == DIAL_ANSWERS) {
		memcpy(f->answers, answers, n * sizeof(*answers));
		f->n_answers = (unsigned)n;
	} else {
		f->answers[0] = d->dial == DIAL_PROXY ? c->cfg->policy->overlays[d->overlay].proxy
						     : f->target;
		f->n_answers = 1;
	}
	if (!dial_next(c, slot))
		dial_failed(c, slot, d->dial == DIAL_ANSWERS ? EHOSTUNREACH : errno ? errno : EIO);
}

static void accept_one(struct relay_ctx *c, int job_fd, int family,
		       const struct nbj_addr *peer)
{
	struct decide_facts facts;
	struct nbj_addr target;
	struct decision d;
	uint32_t slot;
	int err, name;
	struct flow *f;

	err = original_dst(job_fd, family, &target);
	if (err < 0) {
		deny(c, NULL, peer, -1, DECIDE_NO_ORIGINAL_DST, NULL, 0);
		reset_close(job_fd);
		return;
	}
	if (!job_revoked(c) && dns_is_resolver(c, &target)) {
		struct sockaddr_storage ss;
		socklen_t len = nbj_addr_to_sockaddr(peer, &ss);

		dns_tcp_accept(c, job_fd, (struct sockaddr *)&ss, len);
		return;
	}
	name = tcp_flow_facts(c, &target, peer, &facts);
	facts.over_rate = over_concurrency(c);
	policy_decide(&facts, &d);
	if (d.verdict == VERDICT_DENY) {
		if (d.reason == DECIDE_REVOKED)
			(void)relay_revoked(c);	/* cuts the live flows, once */
		if (d.reason == DECIDE_OVERLAY_FAILED)
			overlay_deny(c, &target, peer, name, d.overlay, d.detail);
		else
			deny(c, &target, peer, name, d.reason, NULL, 0);
		reset_close(job_fd);
		return;
	}
	if (flow_alloc(c, &slot) < 0) {
		c->full++;
		deny(c, &target, peer, name, DECIDE_FLOW_TABLE_FULL, NULL, 0);
		reset_close(job_fd);
		return;
	}
	f = &c->flows[slot];
	f->target = target;
	f->peer = *peer;
	f->side[FLOW_SIDE_JOB].fd = job_fd;
	f->deadline = now_s() + DIAL_TIMEOUT_S;
	f->name = name;
	f->sni_check = name >= 0;
	f->overlay = d.overlay;
	f->terminate = term_wanted(c, f);
	if (f->terminate)
		f->sni_check = false;	/* the TLS server checks the SNI itself */
	f->tripwire = !f->terminate && c->cfg->policy->n_credentials;
	if (d.verdict == VERDICT_ALLOW) {
		flow_dial(c, slot, &d, NULL, 0);
		return;
	}
	/* VERDICT_NEED_ANSWERS: a name dialled by the relay itself */
	f->state = FLOW_RESOLVING;
	if (c->names[name].cached_until > now_s()) {
		/* resolved for an earlier flow, within its TTL: judged
		 * again (policy, floor), dialled without asking again */
		struct name_entry *e = &c->names[name];

		tcp_resolved(c, slot, f->gen & 0x3fffffff, ARES_SUCCESS, e->cached,
			     e->n_cached, 0);
		return;
	}
	if (resolve_start(c, c->names[name].name,
			  RESOLVE_COOKIE(RESOLVE_FOR_FLOW, slot, f->gen)) < 0) {
		deny(c, &target, peer, name, DECIDE_RESOLVE_FAILED, NULL, 0);
		flow_free(c, slot, true);
	}
}

/**
 * tcp_resolved() - the answers for a flow to a name: judge, then dial
 * @c:		relay context
 * @slot:	flow slot
 * @gen:	the flow's generation when the lookup started
 * @status:	c-ares status
 * @answers:	every address of the name, IPv6 first
 * @n:		their number
 * @ttl:	how long they may be reused for further flows (0: not)
 */
void tcp_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		  const struct nbj_addr *answers, size_t n, unsigned ttl)
{
	struct decide_facts facts;
	struct decision d;
	struct flow *f;
	size_t n_ok = status == ARES_SUCCESS ? n : 0;

	if (slot >= c->cfg->max_flows)
		return;
	f = &c->flows[slot];
	if (!f->used || f->state != FLOW_RESOLVING || (f->gen & 0x3fffffff) != gen)
		return;	/* timed out meanwhile; the slot may serve another flow */
	(void)tcp_flow_facts(c, &f->target, &f->peer, &facts);
	facts.tainted = false;	/* judged at accept; the answers speak now */
	facts.answers_state = status == ARES_SUCCESS ? DECIDE_ANSWERS_OK :
			      status == ARES_ENODATA || status == ARES_ENOTFOUND ?
			      DECIDE_ANSWERS_NONE : DECIDE_ANSWERS_FAILED;
	facts.answers = answers;
	facts.n_answers = n_ok;
	policy_decide(&facts, &d);
	if (d.verdict != VERDICT_ALLOW) {
		if (decide_reason_is_floor(d.reason))
			c->names[f->name].tainted = true;
		deny(c, &f->target, &f->peer, f->name, d.reason, answers, n_ok);
		flow_free(c, slot, true);
		return;
	}
	names_cache_store(c, f->name, answers, n, ttl);
	flow_dial(c, slot, &d, answers, n);
}

/**
 * tcp_accept() - accept pending redirected connections and rule on each
 * @c:		relay context
 * @listen_fd:	listening socket that became readable
 */
void tcp_accept(struct relay_ctx *c, int listen_fd)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct nbj_addr peer = { 0 };
		int fd;

		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    !accept_starved(c, errno))
				log_warn("accept: %m");
			return;
		}
		no_delay(fd);
		(void)nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &peer);
		accept_one(c, fd, ss.ss_family, &peer);
	}
}

/**
 * tcp_publish_accept() - inbound connections on a published port: each
 * is connected on to the job's port.  In such a flow the roles of the
 * sides are swapped: the "dial" side is the connection to the job, the
 * "job" side the accepted one (so the dial machinery serves both).
 * @c:		relay context
 * @index:	the publish entry
 */
void tcp_publish_accept(struct relay_ctx *c, uint32_t index)
{
	const struct nbj_policy *p = c->cfg->policy;
	const struct publish_entry *e;
	int listen_fd;

	if (index >= p->n_publish)
		return;
	e = &p->publish[index];
	listen_fd = publish_listener(c, index);
	if (listen_fd < 0)
		return;
	if (e->mode == PUBLISH_HTTP) {
		inbound_accept(c, index, listen_fd);
		return;
	}
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct nbj_addr peer = { 0 }, to = c->cfg->job_addrs[0];
		struct decide_facts facts;
		struct decision d;
		char a[NBJ_ADDR_STRLEN];
		uint32_t slot;
		struct flow *f;
		int fd;

		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    !accept_starved(c, errno))
				log_warn("accept on published port: %m");
			return;
		}
		no_delay(fd);
		(void)nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &peer);
		{
			struct nbj_addr v4;

			if (nbj_addr_unmap_v4(&peer, &v4))
				peer = v4;
		}
		nbj_addr_format(&peer, a, sizeof(a));
		facts = (struct decide_facts){
			.lane = DECIDE_LANE_PUBLISH,
			.policy = p,
			.revoked = relay_revoked(c),
			.over_rate = over_concurrency(c),
			.publish_overlay = e->overlay,
		};
		policy_decide(&facts, &d);
		if (d.verdict != VERDICT_ALLOW || flow_alloc(c, &slot) < 0) {
			log_info("inbound tcp from %s to port %u refused: %s", a, e->to,
				 d.reason == DECIDE_REVOKED ? "revoked" : "flow limit");
			reset_close(fd);
			continue;
		}
		log_info("inbound tcp from %s to the job's port %u via %s", a, e->to,
			 policy_overlay_name(p, e->overlay));
		f = &c->flows[slot];
		f->inbound = true;
		f->overlay = e->overlay;
		f->peer = peer;
		to.port = e->to;
		f->target = to;
		f->side[FLOW_SIDE_JOB].fd = fd;
		f->deadline = now_s() + DIAL_TIMEOUT_S;
		f->answers[0] = to;
		f->n_answers = 1;
		if (!dial_next(c, slot)) {
			log_info("inbound tcp from %s: cannot connect the job's port %u: %m", a,
				 e->to);
			flow_free(c, slot, true);
		}
	}
}

/**
 * tcp_cut_all() - reset every live flow (revocation)
 * @c:		relay context
 *
 * Return: how many flows were cut
 */
unsigned tcp_cut_all(struct relay_ctx *c)
{
	unsigned n = 0;

	for (uint32_t slot = 0; slot < c->flows_high; slot++) {
		if (!c->flows[slot].used)
			continue;
		flow_free(c, slot, true);
		n++;
	}
	return n;
}


/*
 * How many bytes the job's and the tenant's byte rates allow now, up to
 * @want; they are taken from both buckets (give back what is not used
 * with bytes_refund())
 */
static size_t bytes_allow(const struct relay_ctx *c, size_t want)
{
	const struct audit_ctx *a = &c->cfg->audit;
	const struct job_limits *l = &a->limits;
	struct job_stats *s = a->stats;
	uint64_t now, n, t;

	if (!s || (!l->bytes.per_s && !l->tenant_bytes.per_s))
		return want;
	now = rate_now_ns();
	n = rate_take_upto(&s->bytes, &l->bytes, want, now);
	if (n && a->tenant && l->tenant_bytes.per_s) {
		t = rate_take_upto(&a->tenant->bytes, &l->tenant_bytes, n, now);
		rate_refund(&s->bytes, &l->bytes, n - t);
		n = t;
	}
	return (size_t)n;
}

static void bytes_refund(const struct relay_ctx *c, size_t n)
{
	const struct audit_ctx *a = &c->cfg->audit;
	struct job_stats *s = a->stats;

	if (!s || !n)
		return;
	rate_refund(&s->bytes, &a->limits.bytes, n);
	if (a->tenant)
		rate_refund(&a->tenant->bytes, &a->limits.tenant_bytes, n);
}

/* Some flow waits for the byte rate: look again in THROTTLE_NS */
static void throttle_arm(struct relay_ctx *c)
{
	struct itimerspec once = { .it_value = { 0, THROTTLE_NS } };

	if (c->throttle_armed)
		return;
	if (timerfd_settime(c->throttle_fd, 0, &once, NULL) == 0)
		c->throttle_armed = true;
}

static void count_moved(_Atomic uint64_t *moved, size_t n)
{
	if (moved && n)
		atomic_fetch_add_explicit(moved, (uint64_t)n, memory_order_relaxed);
}

/*
 * Read at most @want (<= COPY_MAX) bytes from @src and send them to @dst
 * through user space: for a few bytes, recv() and send() cost less than
 * a splice() into the pipe and one out of it.  What @dst does not take
 * now goes into @src's pipe (empty, and a pipe takes a page at once),
 * and on from there as spliced bytes do.  Return: bytes read, 0 at EOF,
 * -1 with errno (EAGAIN: nothing to read); *@sent: bytes sent
 */
static ssize_t copy_in(struct flow_side *src, struct flow_side *dst, size_t want,
		       size_t *sent)
{
	static unsigned char buf[COPY_MAX];
	ssize_t n, m, w;

	n = recv(src->fd, buf, want, MSG_DONTWAIT);
	if (n <= 0)
		return n;
	m = send(dst->fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (m < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		m = 0;
	}
	*sent = (size_t)m;
	if (m < n) {
		w = write(src->pipe.fd[1], buf + m, (size_t)(n - m));
		if (w != n - m) {
			errno = EIO;	/* cannot happen: the pipe was empty */
			return -1;
		}
		src->pending = (size_t)(n - m);
	}
	return n;
}

/* Move bytes in one direction, counting what reached @dst in @moved;
 * -errno on a fatal socket error */
static int pump(struct relay_ctx *c, struct flow_side *src, struct flow_side *dst,
		_Atomic uint64_t *moved)
{
	bool drained = false;	/* a read got less than it asked for */
	int err = 0;

	for (int round = 0; round < IO_ROUNDS; round++) {
		bool progress = false;
		ssize_t n;

		if (!src->eof && !src->throttled && (err = pipe_get(c, src)) < 0) {
			if (err != -EMFILE && err != -ENFILE && err != -ENOMEM)
				return err;
			/* out of fds: the bytes wait in the socket, we look
			 * again with the throttled flows */
			src->throttled = true;
			throttle_arm(c);
		}
		if (!src->eof && src->pending < src->pipe.cap && !src->throttled && !drained) {
			/* the first read of an event into an empty pipe is a copy */
			bool copy = !round && !src->pending;
			size_t room = src->pipe.cap - src->pending;
			size_t want = bytes_allow(c, copy && room > COPY_MAX ? COPY_MAX : room);
			size_t sent = 0;

			if (!want) {
				src->throttled = true;
				throttle_arm(c);
				n = -1;
				errno = EAGAIN;
			} else {
				n = copy ? copy_in(src, dst, want, &sent)
					 : splice(src->fd, NULL, src->pipe.fd[1], NULL, want,
						  SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
				bytes_refund(c, n > 0 ? want - (size_t)n : want);
			}
			if (n > 0) {
				if (copy)
					count_moved(moved, sent);
				else
					src->pending += (size_t)n;
				progress = true;
				/* the socket held less: asking again now would
				 * only return EAGAIN (epoll is level-triggered:
				 * bytes that come later wake us again) */
				drained = (size_t)n < want;
			} else if (n == 0) {
				src->eof = true;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return negative_errno();
			}
		}
		if (src->pending) {
			n = splice(src->pipe.fd[0], NULL, dst->fd, NULL, src->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				src->pending -= (size_t)n;
				progress = true;
				count_moved(moved, (size_t)n);
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return negative_errno();
			}
		}
		if (src->eof && !src->pending && !dst->shut) {
			(void)shutdown(dst->fd, SHUT_WR);
			dst->shut = true;
		}
		if (!progress || (drained && !src->pending))
			break;
	}
	if (!src->pending)
		pipe_put(c, src);
	return 0;
}

static uint32_t side_interest(const struct flow *f, int side)
{
	const struct flow_side *s = &f->side[side], *o = &f->side[!side];
	uint32_t ev = 0;

	if (!s->eof && !s->pending && !s->throttled)
		ev |= EPOLLIN;
	if (o->pending)
		ev |= EPOLLOUT;
	return ev;
}

/* The peer has shut its side down (its FIN came, whether or not ours
 * went first) */
static bool peer_closed(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return false;
	return ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_LAST_ACK ||
	       ti.tcpi_state == TCP_CLOSING || ti.tcpi_state == TCP_TIME_WAIT ||
	       ti.tcpi_state == TCP_CLOSE;
}

/* Cut a flow whose hello failed the check: counted, audited, logged */
static int sni_cut(struct relay_ctx *c, uint32_t slot, const struct sni_hello *h)
{
	struct flow *f = &c->flows[slot];
	enum decide_reason reason = h->verdict == SNI_MISSING ? DECIDE_SNI_MISSING
							       : DECIDE_SNI_MISMATCH;

	deny(c, &f->target, &f->peer, f->name, reason, NULL, 0);
	if (h->verdict == SNI_ONE)
		log_info("sni-mismatch: the job asked for '%.253s' through the address of %s",
			 h->name, c->names[f->name].name);
	else
		log_info("%s: %s, through the address of %s", decide_reason_name(reason), h->why,
			 c->names[f->name].name);
	flow_free(c, slot, true);
	return -1;
}

/*
 * The first hello passed: move exactly its bytes to the server (one copy
 * of at most SNI_PEEK_MAX bytes, into a fresh connection's empty send
 * buffer) and hold the rest of the job's bytes until the server's first
 * record says whether a second hello follows
 */
static int sni_forward_hello(struct relay_ctx *c, uint32_t slot, unsigned char *buf,
			     size_t len)
{
	struct flow *f = &c->flows[slot];
	struct job_stats *stats = c->cfg->audit.stats;
	ssize_t n;

	n = recv(f->side[FLOW_SIDE_JOB].fd, buf, len, MSG_DONTWAIT);
	if (n == (ssize_t)len)
		n = send(f->side[FLOW_SIDE_DIAL].fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		log_info("flow %u: the ClientHello could not be passed on at once", slot);
		flow_free(c, slot, true);
		return -1;
	}
	if (stats)
		atomic_fetch_add_explicit(&stats->bytes_up, len, memory_order_relaxed);
	f->sni_phase = SNI_PHASE_REPLY;
	f->sni_waiting = false;
	return 0;
}

/*
 * Peek at the server's first record, the job's bytes held: a
 * HelloRetryRequest means a second hello to check, anything else ends
 * the check.  Return as sni_check().
 */
static int sni_server_reply(struct relay_ctx *c, uint32_t slot)
{
	static const int one = 1;
	struct flow *f = &c->flows[slot];
	int fd = f->side[FLOW_SIDE_DIAL].fd;
	unsigned char buf[SNI_REPLY_PEEK];
	enum sni_server_reply r;
	size_t need;
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	r = n <= 0 ? SNI_REPLY_OTHER : tls_server_reply_read(buf, (size_t)n, &need);
	if (r == SNI_REPLY_NEED_MORE && !peer_closed(fd)) {
		int lowat = (int)need;

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
		return 0;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	if (r == SNI_REPLY_HRR) {
		f->sni_phase = SNI_PHASE_RETRY;
		return 0;
	}
	if (r == SNI_REPLY_BAD) {
		struct sni_hello h = { .verdict = SNI_BAD,
				       .why = "the server's first record is too short to read" };

		return sni_cut(c, slot, &h);
	}
	f->sni_check = false;	/* no second hello: the check is over */
	return 1;
}

/*
 * Peek at the job's first bytes on a flow to a name (relay/sni.c reads
 * them).  Return 1 when the check is over and the bytes may flow, 0 to
 * wait for more, -1 when the flow was cut.  Once the start of a TLS
 * record is there, the whole ClientHello must follow within
 * DIAL_TIMEOUT_S (tcp_timer() cuts it, sni_timeout()); bytes that are not
 * TLS pass unchecked, and a job that sends nothing (the server speaks
 * first) waits as long as it likes.
 *
 * A hello that passes is forwarded alone (sni_forward_hello()), and the
 * job's further bytes wait for the server's first record
 * (sni_server_reply()): after a HelloRetryRequest the job's second hello,
 * behind an optional change_cipher_spec record, is checked the same way,
 * since OpenSSL servers choose the certificate again by its name.
 */
static int sni_check(struct relay_ctx *c, uint32_t slot)
{
	static const int one = 1;
	struct flow *f = &c->flows[slot];
	int fd = f->side[FLOW_SIDE_JOB].fd;
	unsigned char buf[SNI_PEEK_MAX];
	struct sni_hello h;
	size_t skip = 0;
	ssize_t n;

	if (f->sni_phase == SNI_PHASE_REPLY)
		return sni_server_reply(c, slot);
	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		f->sni_check = false; /* a socket error: pump() deals with it */
		return 1;
	}
	if (f->sni_phase == SNI_PHASE_RETRY && n > 0 && buf[0] == 20) {
		/* the change_cipher_spec record of middlebox compatibility */
		skip = TLS_CCS_RECORD_LEN;
		if ((size_t)n >= skip && !tls_is_ccs_record(buf, (size_t)n)) {
			h = (struct sni_hello){ .verdict = SNI_BAD,
						.why = "not a ClientHello after a HelloRetryRequest" };
			return sni_cut(c, slot, &h);
		}
	}
	if ((size_t)n < skip)
		h = (struct sni_hello){ .verdict = SNI_NEED_MORE, .need = skip };
	else
		tls_client_hello_read(buf + skip, (size_t)n - skip, &h);
	if (h.verdict == SNI_NEED_MORE)
		h.need += skip;
	if (h.verdict == SNI_NEED_MORE && n == 0) {
		/* EOF before any byte: nothing unchecked can follow */
		f->sni_check = false;
		return 1;
	}
	if (h.verdict == SNI_NEED_MORE && peer_closed(fd)) {
		/* EOF after part of a hello: it can never be whole, and
		 * epoll would report the EOF in a loop */
		h.verdict = SNI_MISSING;
		h.why = "the job closed before a whole ClientHello";
	}
	if (h.verdict == SNI_NOT_TLS && f->sni_phase == SNI_PHASE_RETRY) {
		h.verdict = SNI_BAD;
		h.why = "not a ClientHello after a HelloRetryRequest";
	}
	if (h.verdict == SNI_NEED_MORE) {
		/* wake up only once the next record (or header) is there */
		int need = (int)h.need;

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &need, sizeof(need));
		if (!f->sni_waiting) {
			f->sni_waiting = true;
			f->deadline = now_s() + DIAL_TIMEOUT_S;
		}
		return 0;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	if (h.verdict == SNI_NOT_TLS) {
		f->sni_check = f->sni_waiting = false;
		return 1;
	}
	if (h.verdict != SNI_ONE || !sni_name_matches(h.name, c->names[f->name].name))
		return sni_cut(c, slot, &h);
	if (f->sni_phase == SNI_PHASE_HELLO)
		return sni_forward_hello(c, slot, buf, h.len);
	f->sni_check = f->sni_waiting = false;	/* the second hello passed */
	return 1;
}

/* A ClientHello begun and not finished within its time: cut */
static void sni_timeout(struct relay_ctx *c, uint32_t slot)
{
	struct flow *f = &c->flows[slot];

	deny(c, &f->target, &f->peer, f->name, DECIDE_SNI_MISSING, NULL, 0);
	log_info("sni-missing: no whole ClientHello within %d s, through the address of %s",
		 DIAL_TIMEOUT_S, c->names[f->name].name);
	flow_free(c, slot, true);
}

/*
 * The tripwire on a flow that is not terminated: the job's first bytes
 * (what one peek sees) must hold no stand-in, wherever they go.  TLS
 * flows are opaque: only a plaintext protocol can show one.  Return -1
 * when the flow was cut
 */
static int tripwire_check(struct relay_ctx *c, uint32_t slot)
{
	struct flow *f = &c->flows[slot];
	unsigned char buf[4096];
	char t[NBJ_ADDR_STRLEN + NBJ_NAME_MAX + 8], p[NBJ_ADDR_STRLEN];
	ssize_t n = recv(f->side[FLOW_SIDE_JOB].fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	int k;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	f->tripwire = false;
	if (n <= 0)
		return 0;
	k = policy_standin_find(c->cfg->policy, buf, (size_t)n, -1, false);
	if (k < 0)
		return 0;
	tcp_flow_target(c, slot, t, sizeof(t));
	nbj_addr_format(&f->peer, p, sizeof(p));
	if (!relay_credential_leak(c, k, t, p, "tcp-payload"))
		flow_free(c, slot, true);
	return -1;
}

static void flow_io(struct relay_ctx *c, uint32_t slot, bool error, unsigned dirs)
{
	struct job_stats *stats = c->cfg->audit.stats;
	struct flow *f = &c->flows[slot];
	int err = 0, ready = 1;

	bool hold_reply;

	if (f->tripwire && tripwire_check(c, slot) < 0)
		return;
	if (f->sni_check) {
		ready = sni_check(c, slot);
		if (ready < 0)
			return;
	}
	/* the server's first record waits to be read by sni_server_reply(),
	 * and the job's bytes after its first hello wait with it */
	hold_reply = f->sni_check && f->sni_phase == SNI_PHASE_REPLY;
	if (ready && (dirs & PUMP_UP))
		err = pump(c, &f->side[FLOW_SIDE_JOB], &f->side[FLOW_SIDE_DIAL],
			   stats ? &stats->bytes_up : NULL);
	if (!err && !hold_reply && (dirs & PUMP_DOWN))
		err = pump(c, &f->side[FLOW_SIDE_DIAL], &f->side[FLOW_SIDE_JOB],
			   stats ? &stats->bytes_down : NULL);
	if (!err && error)
		err = -ECONNRESET; /* what could be forwarded was; the rest is lost */
	if (err < 0) {
		log_debug("flow %u: %s", slot, strerror(-err));
		flow_free(c, slot, true);
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct flow_side *s = &f->side[i];
		uint32_t interest = side_interest(f, i);

		if (hold_reply && i == FLOW_SIDE_JOB)
			interest &= ~(uint32_t)EPOLLIN;

		/* with no interest, an open socket still reports EPOLLERR;
		 * one shut for writing would report EPOLLHUP forever */
		if (!interest && s->shut) {
			side_unwatch(c, s);
		} else if (side_watch(c, slot, i, interest) < 0) {
			flow_free(c, slot, true);
			return;
		}
	}
	if (f->side[0].eof && f->side[0].shut && f->side[1].eof && f->side[1].shut)
		flow_free(c, slot, false);
}

/*
 * The directions an event of a relaying flow can move: bytes in from the
 * socket that is readable, bytes out of the other side's pipe to the
 * socket that is writable.  A hang-up, an error, or a flow whose first
 * bytes are checked (SNI, tripwire) pumps both, as a flow does when it
 * starts relaying.  (Pumping a direction with nothing to move costs a
 * splice() that returns EAGAIN: two per request on a kept-alive flow.)
 */
static unsigned pump_dirs(const struct flow *f, int side, uint32_t events)
{
	unsigned in = side == FLOW_SIDE_JOB ? PUMP_UP : PUMP_DOWN;
	unsigned out = side == FLOW_SIDE_JOB ? PUMP_DOWN : PUMP_UP;
	unsigned dirs = 0;

	if ((events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) || f->sni_check || f->tripwire)
		return PUMP_UP | PUMP_DOWN;
	if (events & EPOLLIN)
		dirs |= in;
	if (events & EPOLLOUT)
		dirs |= out;
	return dirs;
}

/**
 * tcp_flow_event() - handle readiness of one socket of a flow
 * @c:		relay context
 * @slot:	flow slot
 * @side:	FLOW_SIDE_JOB or FLOW_SIDE_DIAL
 * @events:	epoll events
 */
void tcp_flow_event(struct relay_ctx *c, uint32_t slot, int side,
		    uint32_t events)
{
	bool relaying;
	struct flow *f;

	if (slot >= c->cfg->max_flows || !c->flows[slot].used)
		return;
	f = &c->flows[slot];
	if (f->state == FLOW_RESOLVING)
		return;
	if (f->state == FLOW_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (side != FLOW_SIDE_DIAL)
			return;
		if (getsockopt(f->side[FLOW_SIDE_DIAL].fd, SOL_SOCKET, SO_ERROR,
			       &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			if (!dial_next(c, slot))
				dial_failed(c, slot, soerr);
			return;
		}
		events &= ~EPOLLERR; /* SO_ERROR said the dial succeeded */
		if (flow_via_proxy(c, f)) {
			f->state = FLOW_PROXY;
			overlay_begin(c, f);
		}
	}
	if (f->state == FLOW_PROXY) {
		const char *why;
		int r;

		if (side != FLOW_SIDE_DIAL)
			return;
		r = overlay_io(c, f, &why);
		if (r < 0) {
			tcp_overlay_failed(c, slot, why);
			return;
		}
		if (r == 0) {
			uint32_t wants = overlay_wants(f);

			if (!wants)
				side_unwatch(c, &f->side[FLOW_SIDE_DIAL]);
			else if (side_watch(c, slot, FLOW_SIDE_DIAL, wants) < 0)
				flow_free(c, slot, true);
			return;
		}
	}
	relaying = f->state == FLOW_RELAYING;
	f->state = FLOW_RELAYING;
	if (f->terminate) {
		term_flow_event(c, slot, events);
		return;
	}
	flow_io(c, slot, events & EPOLLERR, relaying ? pump_dirs(f, side, events)
						      : PUMP_UP | PUMP_DOWN);
}

/**
 * tcp_timer() - give up lookups and dials past their deadline; listen
 * again if accepting ran out of fds
 * @c:	relay context
 */
void tcp_timer(struct relay_ctx *c)
{
	time_t now = now_s();

	if (c->accept_paused) {
		c->accept_paused = false;
		listeners_interest(c, EPOLLIN);
	}

	term_tick(c);
	for (uint32_t i = 0; i < c->flows_high; i++) {
		struct flow *f = &c->flows[i];

		if (f->used && f->state == FLOW_CONNECTING && f->side[FLOW_SIDE_DIAL].fd < 0 &&
		    f->deadline > now && !dial_next(c, i))
			dial_failed(c, i, EHOSTUNREACH);	/* waited for an fd */
		if (f->used && f->state == FLOW_RELAYING && f->sni_check &&
		    f->sni_waiting && f->deadline <= now) {
			sni_timeout(c, i);
			continue;
		}
		if (!f->used || f->state == FLOW_RELAYING || f->deadline > now)
			continue;
		if (f->state == FLOW_RESOLVING) {
			deny(c, &f->target, &f->peer, f->name, DECIDE_RESOLVE_FAILED, NULL, 0);
			flow_free(c, i, true);
		} else if (f->state == FLOW_PROXY) {
			tcp_overlay_failed(c, i, "proxy-timeout");
		} else {
			dial_failed(c, i, ETIMEDOUT);
		}
	}
}

/**
 * tcp_throttle_tick() - the byte rate may allow reading again: resume
 * every throttled flow
 * @c:		relay context
 */
void tcp_throttle_tick(struct relay_ctx *c)
{
	c->throttle_armed = false;
	for (uint32_t slot = 0; slot < c->flows_high; slot++) {
		struct flow *f = &c->flows[slot];

		if (!f->used || f->state != FLOW_RELAYING ||
		    (!f->side[0].throttled && !f->side[1].throttled))
			continue;
		f->side[0].throttled = f->side[1].throttled = false;
		if (f->terminate)
			term_flow_event(c, slot, 0);	/* relay/term.c reads again */
		else
			flow_io(c, slot, false, PUMP_UP | PUMP_DOWN);
	}
}

/**
 * tcp_bytes_allow() - how many bytes a terminated flow may read now
 * (relay/term.c), as a spliced one: taken from the job's and the
 * tenant's byte buckets, up to @want; what is not read goes back with
 * tcp_bytes_refund().  0 arms the throttle timer: tcp_throttle_tick()
 * runs the flow again when the rate may allow it
 * @c:		relay context
 * @want:	bytes the flow has room for
 *
 * Return: the bytes allowed, at most @want
 */
size_t tcp_bytes_allow(struct relay_ctx *c, size_t want)
{
	size_t n = bytes_allow(c, want);

	if (!n && want)
		throttle_arm(c);
	return n;
}

/**
 * tcp_bytes_refund() - give back bytes tcp_bytes_allow() allowed and
 * that were not read
 * @c:		relay context
 * @n:		how many
 */
void tcp_bytes_refund(struct relay_ctx *c, size_t n)
{
	bytes_refund(c, n);
}

/**
 * tcp_flow_watch() - set the epoll interest of one socket of a flow
 * (relay/term.c drives terminated flows' interest itself)
 * @c:		relay context
 * @slot:	flow slot
 * @side:	FLOW_SIDE_JOB or FLOW_SIDE_DIAL
 * @events:	the events, 0 to leave epoll
 *
 * Return: 0, or negative errno
 */
int tcp_flow_watch(struct relay_ctx *c, uint32_t slot, int side, uint32_t events)
{
	if (!events) {
		side_unwatch(c, &c->flows[slot].side[side]);
		return 0;
	}
	return side_watch(c, slot, side, events);
}

/**
 * tcp_flow_end() - free a flow (its sockets closed, reset if @reset)
 * @c:		relay context
 * @slot:	flow slot
 * @reset:	reset both sides (SO_LINGER 0) instead of closing them
 */
void tcp_flow_end(struct relay_ctx *c, uint32_t slot, bool reset)
{
	if (c->flows[slot].used)
		flow_free(c, slot, reset);
}

/**
 * tcp_flow_deny() - log, count and audit a flow's denial, as deny()
 * @c:		relay context
 * @slot:	flow slot
 * @reason:	why
 */
void tcp_flow_deny(struct relay_ctx *c, uint32_t slot, enum decide_reason reason)
{
	struct flow *f = &c->flows[slot];

	deny(c, &f->target, &f->peer, f->name, reason, NULL, 0);
}

/**
 * tcp_flow_target() - a flow's target as log lines show it:
 * "name:port(address)" or the address
 * @c:		relay context
 * @slot:	flow slot
 * @buf:	output
 * @len:	its size
 *
 * Return: @buf
 */
const char *tcp_flow_target(const struct relay_ctx *c, uint32_t slot, char *buf, size_t len)
{
	const struct flow *f = &c->flows[slot];
	char a[NBJ_ADDR_STRLEN];

	if (f->name >= 0)
		snprintf(buf, len, "%s:%u(%s)", c->names[f->name].name, f->target.port,
			 nbj_addr_format(&f->target, a, sizeof(a)));
	else
		nbj_addr_format(&f->target, buf, len);
	return buf;
}
