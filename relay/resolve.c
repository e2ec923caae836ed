/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/resolve.c - upstream name resolution with c-ares, in the epoll loop
 *
 * Theory of operation: one c-ares channel per relay, configured from the
 * host's resolver configuration (read before privileges are dropped).
 * c-ares tells us through its socket-state callback which sockets to
 * watch; they join the relay's epoll set as RELAY_EV_ARES events, and
 * the relay's one-second tick lets c-ares handle its timeouts.  Every
 * lookup asks for all addresses (A and AAAA) of a name; the completion
 * collects up to RESOLVE_ANSWERS_MAX of them, IPv6 first, into a fixed
 * array and hands them to dns.c or tcp.c according to the cookie.  No
 * result is cached: each connection resolves afresh and is judged on
 * every answer (resolve-then-pin).  Lookups in flight are bounded by a
 * fixed pool of request records; c-ares owns a record from
 * ares_getaddrinfo() until its completion, which releases it, so a
 * completion always finds its own record even if the query or flow that
 * asked has gone (the cookie's generation tells).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "common/log.h"
#include "relay/relay_int.h"

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct relay_ctx *c = data;
	struct epoll_event ev = {
		.events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0),
		.data.u64 = RELAY_EV(RELAY_EV_ARES, (uint32_t)fd),
	};

	if (!ev.events) {
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		(void)epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/**
 * resolve_init() - create the c-ares channel
 * @c:	relay context; @c->epfd must exist
 *
 * Return: 0, or -EIO
 */
int resolve_init(struct relay_ctx *c)
{
	struct ares_options opts = {
		.sock_state_cb = sock_state,
		.sock_state_cb_data = c,
		.timeout = 2000,
		.tries = 2,
	};
	int status;

	c->reqs = calloc(RESOLVE_REQS_MAX, sizeof(*c->reqs));
	if (!c->reqs)
		return -ENOMEM;
	for (uint32_t i = 0; i < RESOLVE_REQS_MAX; i++)
		c->reqs[i].next_free = i + 1 < RESOLVE_REQS_MAX ? i + 1 : UINT32_MAX;
	c->req_free = 0;

	status = ares_library_init(ARES_LIB_INIT_ALL);
	if (status == ARES_SUCCESS)
		status = ares_init_options(&c->ares, &opts,
					   ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
					   ARES_OPT_TRIES);
	if (status != ARES_SUCCESS) {
		log_err("cannot set up the resolver: %s", ares_strerror(status));
		return -EIO;
	}
	return 0;
}

static void addrinfo_done(void *arg, int status, int timeouts,
			  struct ares_addrinfo *res)
{
	struct resolve_req *req = arg;
	struct relay_ctx *c = req->c;
	void *cookie = req->cookie;
	struct nbj_addr answers[RESOLVE_ANSWERS_MAX];
	unsigned ttl = NAME_CACHE_MAX_S;
	size_t n = 0;

	(void)timeouts;
	req->next_free = c->req_free;
	c->req_free = (uint32_t)(req - c->reqs);
	n = resolve_collect(res, answers);
	for (struct ares_addrinfo_node *a = res ? res->nodes : NULL; a; a = a->ai_next)
		if (a->ai_ttl >= 0 && (unsigned)a->ai_ttl < ttl)
			ttl = (unsigned)a->ai_ttl;
	if (res)
		ares_freeaddrinfo(res);
	if (status == ARES_EDESTRUCTION)
		return;
	if (RESOLVE_COOKIE_WHAT(cookie) == RESOLVE_FOR_DNS)
		dns_resolved(c, RESOLVE_COOKIE_SLOT(cookie), RESOLVE_COOKIE_GEN(cookie),
			     status, answers, n, status == ARES_SUCCESS && n ? ttl : 0);
	else if (RESOLVE_COOKIE_WHAT(cookie) == RESOLVE_FOR_DOCK)
		dock_resolved(c, RESOLVE_COOKIE_SLOT(cookie), RESOLVE_COOKIE_GEN(cookie),
			      status, answers, n);
	else
		tcp_resolved(c, RESOLVE_COOKIE_SLOT(cookie), RESOLVE_COOKIE_GEN(cookie),
			     status, answers, n, status == ARES_SUCCESS && n ? ttl : 0);
}

/**
 * resolve_start() - look up every address of @name
 * @c:		relay context
 * @name:	normalized host name
 * @cookie:	RESOLVE_COOKIE(), passed back to dns_resolved(), tcp_resolved()
 *		or dock_resolved()
 *
 * The completion may run before this returns (e.g. for a name c-ares
 * rejects at once).
 *
 * Return: 0, or -EBUSY when RESOLVE_REQS_MAX lookups are in flight
 */
int resolve_start(struct relay_ctx *c, const char *name, void *cookie)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC };
	struct resolve_req *req;

	if (c->req_free == UINT32_MAX)
		return -EBUSY;
	req = &c->reqs[c->req_free];
	c->req_free = req->next_free;
	req->c = c;
	req->cookie = cookie;
	ares_getaddrinfo(c->ares, name, NULL, &hints, addrinfo_done, req);
	return 0;
}

/**
 * resolve_event() - a c-ares socket is ready
 * @c:		relay context
 * @fd:		the socket
 * @events:	epoll events
 */
void resolve_event(struct relay_ctx *c, int fd, uint32_t events)
{
	ares_process_fd(c->ares,
			events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
			events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
}

/**
 * resolve_tick() - let c-ares expire lookups that timed out
 * @c:	relay context
 */
void resolve_tick(struct relay_ctx *c)
{
	ares_process_fd(c->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

