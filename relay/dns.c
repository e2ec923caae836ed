/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dns.c - the job's DNS stub: fake-IP answers for allowed names
 *
 * Theory of operation: nftables redirects every UDP/53 packet of the job
 * here.  Each query (parsed by libldns, dnswire.c) is answered:
 *
 *   malformed, or a response          dropped and counted
 *   opcode other than QUERY           NOTIMP
 *   no name rule in the policy        REFUSED (DNS is off for the job)
 *   name not allowed (any port)       REFUSED, logged as a deny
 *   name tainted (rebinding before)   REFUSED, logged as a deny
 *   type other than A/AAAA, or not IN NOERROR, empty
 *   A/AAAA of an allowed name         resolved upstream first (c-ares):
 *       no such name                  NXDOMAIN
 *       lookup failed                 SERVFAIL
 *       an answer is internal         REFUSED, denied, name tainted
 *       else                          the name's synthetic address, TTL 1
 *
 * Before any of that, every well-formed query (UDP or TCP) takes a token
 * from the job's DNS bucket: DNS_QUERIES_PER_CONNECT times the job's
 * connect rate and burst (an A and an AAAA query per connection).  The
 * connect rate is counted at the socket call, which a connected UDP
 * socket's send() never makes, so without this bucket a job could send
 * denied queries, each an audit event, as fast as it likes.  A query over
 * the rate gets REFUSED and is counted (reason dns-rate); the first one
 * of each second is also audited (kind rate-limited), the others only
 * counted.
 *
 * The job thus never learns a real address.  Queries waiting for the
 * upstream resolver sit in a fixed table (DNS_PENDING_MAX); when it is
 * full, new queries get SERVFAIL at once.
 *
 * TCP to port 53 of the job's resolver address (the relay itself) comes
 * here too (tcp.c hands it over): length-prefixed queries are read one
 * after the other (a resolver may pipeline its A and AAAA queries),
 * decided exactly as above and answered as they complete; the
 * connection closes when the job has sent everything and every answer is
 * out, or after DNS_TCP_TIMEOUT_S idle seconds.  At most DNS_TCP_MAX such
 * connections at once.  A struct dns_client says where an answer
 * goes, so both transports share every decision.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "relay/dnswire.h"
#include "relay/relay_int.h"

#define DNS_BATCH 64
#define DNS_QUERIES_PER_CONNECT 2

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void tcp_close(struct relay_ctx *c, uint32_t slot)
{
	struct dns_tcp_conn *t = &c->dns_tcp[slot];

	if (!t->used)
		return;
	close(t->fd); /* leaves epoll with it */
	t->used = false;
}

static void reply(struct relay_ctx *c, const struct dns_client *cl,
		  const unsigned char *q, size_t qlen, int rcode,
		  const struct nbj_addr *synthetic)
{
	unsigned char a[2 + DNS_QUERY_MAX + 64];
	long alen = dns_build_answer(q, qlen, rcode, synthetic, a + 2, sizeof(a) - 2);
	struct dns_tcp_conn *t;

	if (alen <= 0)
		return;
	if (cl->udp_fd >= 0) {
		(void)sendto(cl->udp_fd, a + 2, (size_t)alen, MSG_DONTWAIT,
			     (const struct sockaddr *)&cl->from, cl->fromlen);
		return;
	}
	t = &c->dns_tcp[cl->tcp];
	if (!t->used || t->gen != cl->tcp_gen)
		return; /* the job gave up meanwhile */
	a[0] = (unsigned char)(alen >> 8);
	a[1] = (unsigned char)alen;
	/* a few hundred bytes into an empty socket buffer: never short */
	if (send(t->fd, a, (size_t)alen + 2, MSG_DONTWAIT | MSG_NOSIGNAL) != alen + 2) {
		tcp_close(c, cl->tcp);
		return;
	}
	t->in_flight--;
	if (t->eof && !t->in_flight)
		tcp_close(c, cl->tcp);
}

/* Log, count and audit a refused name, with what it resolved to */
static void log_dns_deny_resolved(struct relay_ctx *c, const char *name,
				  const struct dns_client *cl, const char *reason,
				  const struct nbj_addr *answers, size_t n)
{
	struct nbj_addr peer = { 0 };
	char p[NBJ_ADDR_STRLEN], resolved[256];

	nbj_addr_list_format(answers, n, resolved, sizeof(resolved));

	(void)nbj_addr_from_sockaddr((const struct sockaddr *)&cl->from, cl->fromlen,
				     &peer);
	log_info("deny dns %s from %s reason=%s", name[0] ? name : "(invalid name)",
		 nbj_addr_format(&peer, p, sizeof(p)), reason);
	audit_deny(&c->cfg->audit, LANE_DNS, 0, NULL,
		   name[0] ? name : "(invalid name)", resolved, NULL, p, reason);
}

static void log_dns_deny(struct relay_ctx *c, const char *name,
			 const struct dns_client *cl, const char *reason)
{
	log_dns_deny_resolved(c, name, cl, reason, NULL, 0);
}

static int pending_alloc(struct relay_ctx *c)
{
	for (int i = 0; i < DNS_PENDING_MAX; i++)
		if (!c->pending[i].used)
			return i;
	return -ENOSPC;
}

static time_t now_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The job's DNS rate: DNS_QUERIES_PER_CONNECT times its connect rate */
static void dns_rate_limit(const struct relay_ctx *c, struct rate_limit *ret)
{
	const struct job_stats *s = c->cfg->audit.stats;
	uint64_t per_s = s && s->connects_limit.per_s ? s->connects_limit.per_s
						       : RATE_FLOOR_CONNECTS_PER_S;
	uint64_t burst = s && s->connects_limit.burst ? s->connects_limit.burst
						       : RATE_FLOOR_CONNECTS_BURST;

	ret->per_s = DNS_QUERIES_PER_CONNECT * per_s;
	ret->burst = DNS_QUERIES_PER_CONNECT * burst;
}

/*
 * Take a token for one query; over the rate, refuse it (REFUSED), count
 * it, and audit the first one of each second.  Return true if the query
 * may go on.
 */
static bool dns_rate_ok(struct relay_ctx *c, const struct dns_client *cl,
			const unsigned char *q, size_t qlen, const char *name)
{
	struct nbj_addr peer = { 0 };
	char p[NBJ_ADDR_STRLEN];
	struct audit_event ev;
	struct rate_limit l;
	time_t now;

	dns_rate_limit(c, &l);
	if (rate_take(&c->dns_rate, &l, 1, rate_now_ns()))
		return true;
	c->dns_refused++;
	c->dns_rate_refused++;
	stats_count(c->cfg->audit.stats, LANE_DNS, OUTCOME_DENIED, "dns-rate");
	reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
	now = now_s();
	if (now == c->dns_rate_audited_s)
		return false;
	c->dns_rate_audited_s = now;
	(void)nbj_addr_from_sockaddr((const struct sockaddr *)&cl->from, cl->fromlen, &peer);
	nbj_addr_format(&peer, p, sizeof(p));
	log_info("deny dns %s from %s reason=dns-rate", name[0] ? name : "(invalid name)", p);
	audit_event_init(&ev, AUDIT_RATE_LIMITED, LANE_DNS);
	EVENT_SET(&ev, target, name[0] ? name : "(invalid name)");
	EVENT_SET(&ev, peer, p);
	EVENT_SET(&ev, reason, "dns-rate");
	snprintf(ev.detail, sizeof(ev.detail),
		 "over %llu queries/s (burst %llu); %lu refused so far, the rest of this second only counted",
		 (unsigned long long)l.per_s, (unsigned long long)l.burst, c->dns_rate_refused);
	(void)audit_send(&c->cfg->audit, &ev);
	return false;
}

static void handle_query(struct relay_ctx *c, const struct dns_client *cl,
			 const unsigned char *q, size_t qlen)
{
	const struct nbj_policy *p = c->cfg->policy;
	struct dns_question dq;
	struct dns_pending *pq;
	unsigned overlay;
	int err, slot, i;

	err = dns_parse_query(q, qlen, &dq);
	if (err < 0 && err != -EOPNOTSUPP) {
		c->dns_malformed++;
		log_debug("dropped a malformed DNS packet (%lu so far)", c->dns_malformed);
		if (cl->udp_fd < 0)
			tcp_close(c, cl->tcp); /* the stream cannot be trusted further */
		return;
	}
	if (!dns_rate_ok(c, cl, q, qlen, err < 0 ? "" : dq.name))
		return;
	if (err == -EOPNOTSUPP) {
		reply(c, cl, q, qlen, DNS_RCODE_NOTIMP, NULL);
		return;
	}
	if (!policy_has_names(p)) {
		c->dns_refused++;
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	if (relay_revoked(c)) {
		c->dns_refused++;
		log_dns_deny(c, dq.name, cl, "revoked");
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	if (!policy_name_allowed(p, dq.name)) {
		c->dns_refused++;
		log_dns_deny(c, dq.name, cl, "not-allowed");
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	if (dq.qclass != DNS_CLASS_IN ||
	    (dq.qtype != DNS_TYPE_A && dq.qtype != DNS_TYPE_AAAA)) {
		reply(c, cl, q, qlen, DNS_RCODE_NOERROR, NULL);
		return;
	}
	{
		struct nbj_addr from = { 0 };
		int selected;

		(void)nbj_addr_from_sockaddr((const struct sockaddr *)&cl->from, cl->fromlen,
					     &from);
		selected = relay_selected_overlay(c, &from);
		if (selected < 0) {
			c->dns_refused++;
			log_dns_deny(c, dq.name, cl, "select-unmarked");
			reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
			return;
		}
		overlay = policy_route_name_from(p, dq.name, 0, (unsigned)selected);
	}
	if (overlay == OVERLAY_DIRECT_INDEX && policy_name_needs_overlay(dq.name)) {
		/* .onion, .i2p: never asked of the host's resolver */
		c->dns_refused++;
		log_dns_deny(c, dq.name, cl, "overlay-required");
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	slot = names_add(c, dq.name);
	if (slot >= 0 && c->names[slot].tainted) {
		c->dns_refused++;
		log_dns_deny(c, dq.name, cl, "rebinding");
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	if (overlay != OVERLAY_DIRECT_INDEX && overlay_via_proxy(&p->overlays[overlay])) {
		/* the overlay resolves the name when the job connects: no
		 * query leaves the host, the job gets the synthetic address */
		struct nbj_addr synthetic;

		if (slot < 0) {
			reply(c, cl, q, qlen, DNS_RCODE_SERVFAIL, NULL);
			return;
		}
		stats_count(c->cfg->audit.stats, LANE_DNS, OUTCOME_ALLOWED, "allowed");
		names_synthetic(c, slot, dq.qtype == DNS_TYPE_A ? AF_INET : AF_INET6,
				&synthetic);
		reply(c, cl, q, qlen, DNS_RCODE_NOERROR, &synthetic);
		return;
	}
	if (slot >= 0 && c->names[slot].cached_until > now_mono_s()) {
		/* its answers are known and within their TTL: judged again,
		 * no query upstream */
		const struct name_entry *e = &c->names[slot];
		struct decision d;
		struct nbj_addr synthetic;

		if (hostaddr_floor(c)) {
			policy_decide_name(p, hostaddr_floor(c), dq.name, 0, e->cached,
					   e->n_cached, &d);
			if (d.reason != DECIDE_FLOOR) {
				stats_count(c->cfg->audit.stats, LANE_DNS, OUTCOME_ALLOWED,
					    "allowed");
				names_synthetic(c, slot, dq.qtype == DNS_TYPE_A ? AF_INET : AF_INET6,
						&synthetic);
				reply(c, cl, q, qlen, DNS_RCODE_NOERROR, &synthetic);
				return;
			}
		}
	}
	i = pending_alloc(c);
	if (slot < 0 || i < 0 || qlen > DNS_QUERY_MAX) {
		log_warn("dns %s: %s", dq.name, slot < 0 ? "name table full" :
			 i < 0 ? "too many queries in flight" : "query too large");
		reply(c, cl, q, qlen, DNS_RCODE_SERVFAIL, NULL);
		return;
	}
	pq = &c->pending[i];
	pq->used = true;
	pq->gen++;
	pq->client = *cl;
	strcpy(pq->name, dq.name);
	memcpy(pq->query, q, qlen);
	pq->qlen = qlen;
	if (resolve_start(c, dq.name, RESOLVE_COOKIE(RESOLVE_FOR_DNS, i, pq->gen)) < 0) {
		pq->used = false;
		reply(c, cl, q, qlen, DNS_RCODE_SERVFAIL, NULL);
	}
}

/**
 * dns_resolved() - the upstream answer for a waiting query
 * @c:		relay context
 * @slot:	pending query slot
 * @gen:	its generation when the lookup started
 * @status:	c-ares status
 * @answers:	every address of the name
 * @n:		their number
 * @ttl:	how long the answers may be reused (0: not)
 */
void dns_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		  const struct nbj_addr *answers, size_t n, unsigned ttl)
{
	struct dns_pending *pq;
	struct dns_question dq;
	struct nbj_addr synthetic;
	struct decision d;
	char reason[64];
	int name;

	if (slot >= DNS_PENDING_MAX)
		return;
	pq = &c->pending[slot];
	if (!pq->used || (pq->gen & 0x3fffffff) != gen)
		return;
	pq->used = false;

	if (status == ARES_ENOTFOUND || status == ARES_ENONAME) {
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_NXDOMAIN, NULL);
		return;
	}
	if (status == ARES_ENODATA || (status == ARES_SUCCESS && !n)) {
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_NOERROR, NULL);
		return;
	}
	if (status != ARES_SUCCESS) {
		log_info("dns %s: upstream lookup failed: %s", pq->name,
			 ares_strerror(status));
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
		return;
	}
	if (!hostaddr_floor(c)) {
		log_dns_deny(c, pq->name, &pq->client, "floor-unknown");
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
		return;
	}
	/* judge the name on every answer, port-independently */
	policy_decide_name(c->cfg->policy, hostaddr_floor(c), pq->name, 0, answers, n, &d);
	name = names_add(c, pq->name);
	if (d.reason == DECIDE_FLOOR) {
		if (name >= 0)
			c->names[name].tainted = true;
		c->dns_refused++;
		log_dns_deny_resolved(c, pq->name, &pq->client,
				      decision_reason_format(&d, reason, sizeof(reason)),
				      answers, n);
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	if (name < 0 || dns_parse_query(pq->query, pq->qlen, &dq) < 0) {
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
		return;
	}
	names_cache_store(c, name, answers, n, ttl);
	stats_count(c->cfg->audit.stats, LANE_DNS, OUTCOME_ALLOWED, "allowed");
	names_synthetic(c, name, dq.qtype == DNS_TYPE_A ? AF_INET : AF_INET6, &synthetic);
	reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_NOERROR, &synthetic);
}

/**
 * dns_handle() - answer every datagram waiting on a DNS socket
 * @c:	relay context
 * @fd:	UDP socket that became readable
 */
void dns_handle(struct relay_ctx *c, int fd)
{
	unsigned char q[4096];

	for (int i = 0; i < DNS_BATCH; i++) {
		struct dns_client cl = { .udp_fd = fd, .fromlen = sizeof(cl.from) };
		ssize_t n;

		n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&cl.from,
			     &cl.fromlen);
		if (n < 0)
			return;
		handle_query(c, &cl, q, (size_t)n);
	}
}

/**
 * dns_init() - the tables of the DNS stub and the resolver's own addresses
 * @c:	relay context; the listening sockets name the resolver addresses
 *
 * Return: 0, or -ENOMEM
 */
int dns_init(struct relay_ctx *c)
{
	c->pending = calloc(DNS_PENDING_MAX, sizeof(*c->pending));
	c->dns_tcp = calloc(DNS_TCP_MAX, sizeof(*c->dns_tcp));
	if (!c->pending || !c->dns_tcp)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (c->cfg->tcp_fds[i] >= 0 &&
		    getsockname(c->cfg->tcp_fds[i], (struct sockaddr *)&ss, &len) == 0)
			(void)nbj_addr_from_sockaddr((struct sockaddr *)&ss, len,
						     &c->gateway[i]);
	}
	return 0;
}

/**
 * dns_is_resolver() - is @a port 53 of the job's resolver (the relay)?
 * @c:	relay context
 * @a:	a connection's original destination
 *
 * Return: true for DNS over TCP to the stub
 */
bool dns_is_resolver(const struct relay_ctx *c, const struct nbj_addr *a)
{
	return a->port == 53 && (nbj_addr_equal_ip(a, &c->gateway[0]) ||
				 nbj_addr_equal_ip(a, &c->gateway[1]));
}

/**
 * dns_tcp_accept() - take over a TCP connection to the job's resolver
 * @c:		relay context
 * @fd:		the job's socket (non-blocking)
 * @peer:	the job's address
 * @peerlen:	its length
 */
void dns_tcp_accept(struct relay_ctx *c, int fd, const struct sockaddr *peer,
		    socklen_t peerlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct dns_tcp_conn *t;
	uint32_t i;

	for (i = 0; i < DNS_TCP_MAX && c->dns_tcp[i].used; i++)
		;
	if (i == DNS_TCP_MAX) {
		log_warn("too many DNS-over-TCP connections");
		close(fd);
		return;
	}
	t = &c->dns_tcp[i];
	t->used = true;
	t->gen++;
	t->fd = fd;
	t->have = 0;
	t->in_flight = 0;
	t->eof = false;
	t->deadline = now_s() + DNS_TCP_TIMEOUT_S;
	memcpy(&t->peer, peer, peerlen);
	t->peerlen = peerlen;
	ev.data.u64 = RELAY_EV(RELAY_EV_DNS_TCP, i);
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		tcp_close(c, i);
}

/**
 * dns_tcp_event() - read length-prefixed queries from a TCP connection
 * @c:		relay context
 * @slot:	connection slot
 * @events:	epoll events
 */
void dns_tcp_event(struct relay_ctx *c, uint32_t slot, uint32_t events)
{
	struct dns_tcp_conn *t;
	ssize_t n;

	if (slot >= DNS_TCP_MAX || !c->dns_tcp[slot].used)
		return;
	t = &c->dns_tcp[slot];
	(void)events;
	n = recv(t->fd, t->buf + t->have, sizeof(t->buf) - t->have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		t->eof = true;
		if (!t->in_flight || n < 0)
			tcp_close(c, slot);
		return;
	}
	t->have += (size_t)n;
	t->deadline = now_s() + DNS_TCP_TIMEOUT_S;
	while (t->used && t->have >= 2) {
		struct dns_client cl = { .udp_fd = -1, .tcp = slot, .tcp_gen = t->gen };
		unsigned char q[DNS_QUERY_MAX];
		size_t len = (size_t)t->buf[0] << 8 | t->buf[1];

		if (len < 12 || len > DNS_QUERY_MAX) {
			c->dns_malformed++;
			tcp_close(c, slot);
			return;
		}
		if (t->have < 2 + len)
			return;
		memcpy(q, t->buf + 2, len);
		t->have -= 2 + len;
		memmove(t->buf, t->buf + 2 + len, t->have);
		memcpy(&cl.from, &t->peer, t->peerlen);
		cl.fromlen = t->peerlen;
		t->in_flight++;
		handle_query(c, &cl, q, len);
	}
}

/**
 * dns_tcp_tick() - close DNS-over-TCP connections past their deadline
 * @c:	relay context
 */
void dns_tcp_tick(struct relay_ctx *c)
{
	time_t now = now_s();

	for (uint32_t i = 0; i < DNS_TCP_MAX; i++)
		if (c->dns_tcp[i].used && c->dns_tcp[i].deadline <= now)
			tcp_close(c, i);
}
