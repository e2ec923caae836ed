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
 * Every row above is decided by policy_decide() (lane dns, the order is in
 * policy/decide.c) on the facts dns_facts() gathers, with the same
 * overlay helper as the TCP relay: a process that selected "direct" does
 * not get the tailnet's waiver of its job's tailscale default.
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
#include "relay/term.h"

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
				  const struct dns_client *cl, enum decide_reason reason,
				  const struct nbj_addr *answers, size_t n)
{
	struct nbj_addr peer = { 0 };
	char p[NBJ_ADDR_STRLEN], resolved[256];

	nbj_addr_list_format(answers, n, resolved, sizeof(resolved));

	(void)nbj_addr_from_sockaddr((const struct sockaddr *)&cl->from, cl->fromlen,
				     &peer);
	log_info("deny dns %s from %s reason=%s", name[0] ? name : "(invalid name)",
		 nbj_addr_format(&peer, p, sizeof(p)), decide_reason_name(reason));
	audit_deny(&c->cfg->audit, LANE_DNS, 0, NULL,
		   name[0] ? name : "(invalid name)", resolved, NULL, p, reason);
}

static void log_dns_deny(struct relay_ctx *c, const char *name,
			 const struct dns_client *cl, enum decide_reason reason)
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

/*
 * What the relay knows of a query for @name from @cl, for policy_decide():
 * the overlay the asking process selected (its source port), whether the
 * name is tainted, the host's addresses, the revocation flag.  Answers
 * are not known yet.
 */
static void dns_facts(struct relay_ctx *c, const struct dns_client *cl,
		      const char *name, bool address_query, struct decide_facts *ret)
{
	struct nbj_addr from = { 0 };
	int slot = names_find(c, name), selected;

	(void)nbj_addr_from_sockaddr((const struct sockaddr *)&cl->from, cl->fromlen, &from);
	selected = relay_selected_overlay(c, &from);
	*ret = (struct decide_facts){
		.lane = DECIDE_LANE_DNS,
		.policy = c->cfg->policy,
		.floor = hostaddr_floor(c),
		.name = name,
		.answers_state = DECIDE_ANSWERS_PENDING,
		.selected = selected < 0 ? DECIDE_SELECTED_UNMARKED : selected,
		.revoked = relay_revoked(c),
		.tainted = slot >= 0 && c->names[slot].tainted,
		.address_query = address_query,
	};
}

/* Answer the synthetic address of name @slot, of the query's family */
static void reply_synthetic(struct relay_ctx *c, const struct dns_client *cl,
			    const unsigned char *q, size_t qlen, int slot, int qtype)
{
	struct nbj_addr synthetic;

	stats_count(c->cfg->audit.stats, LANE_DNS, OUTCOME_ALLOWED, DECIDE_ALLOWED);
	names_synthetic(c, slot, qtype == DNS_TYPE_A ? AF_INET : AF_INET6, &synthetic);
	reply(c, cl, q, qlen, DNS_RCODE_NOERROR, &synthetic);
}

/* The job's DNS rate: DNS_QUERIES_PER_CONNECT times its connect rate */
static void dns_rate_limit(const struct relay_ctx *c, struct rate_limit *ret)
{
	const struct rate_limit *l = &c->cfg->audit.limits.connects;
	uint64_t per_s = l->per_s ? l->per_s : RATE_FLOOR_CONNECTS_PER_S;
	uint64_t burst = l->burst ? l->burst : RATE_FLOOR_CONNECTS_BURST;

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
	stats_count(c->cfg->audit.stats, LANE_DNS, OUTCOME_DENIED, DECIDE_DNS_RATE);
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

/*
 * The tripwire on a query name: a stand-in in it (letters without case,
 * the dots taken out: a stand-in split over labels counts) is a
 * credential-leak, refused whatever the allow-list says
 */
static bool name_leaks(struct relay_ctx *c, const struct dns_client *cl, const char *name)
{
	char flat[NBJ_NAME_MAX + 1], p[NBJ_ADDR_STRLEN];
	struct nbj_addr peer = { 0 };
	size_t n = 0;
	int k;

	for (const char *s = name; *s && n < sizeof(flat) - 1; s++)
		if (*s != '.')
			flat[n++] = *s;
	k = policy_standin_find(c->cfg->policy, flat, n, -1, true);
	if (k < 0)
		return false;
	c->dns_refused++;
	(void)nbj_addr_from_sockaddr((const struct sockaddr *)&cl->from, cl->fromlen, &peer);
	nbj_addr_format(&peer, p, sizeof(p));
	(void)relay_credential_leak(c, k, name, p, "dns-name");
	return true;
}

static void handle_query(struct relay_ctx *c, const struct dns_client *cl,
			 const unsigned char *q, size_t qlen)
{
	struct decide_facts facts;
	struct dns_question dq;
	struct dns_pending *pq;
	struct decision d;
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
	if (c->cfg->policy->n_credentials && name_leaks(c, cl, dq.name)) {
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	dns_facts(c, cl, dq.name, dq.qclass == DNS_CLASS_IN &&
		  (dq.qtype == DNS_TYPE_A || dq.qtype == DNS_TYPE_AAAA), &facts);
	policy_decide(&facts, &d);
	if (d.verdict == VERDICT_DENY) {
		c->dns_refused++;
		if (d.reason != DECIDE_NO_POLICY) /* DNS is off: nothing to audit */
			log_dns_deny(c, dq.name, cl, d.reason);
		reply(c, cl, q, qlen, DNS_RCODE_REFUSED, NULL);
		return;
	}
	if (d.verdict == VERDICT_ALLOW && d.dial == DIAL_NONE) {
		reply(c, cl, q, qlen, DNS_RCODE_NOERROR, NULL); /* not A/AAAA: empty */
		return;
	}
	slot = names_add(c, dq.name);
	if (d.verdict == VERDICT_ALLOW) {
		/* through a proxy overlay, which resolves the name when the
		 * job connects: no query leaves the host */
		if (slot < 0)
			reply(c, cl, q, qlen, DNS_RCODE_SERVFAIL, NULL);
		else
			reply_synthetic(c, cl, q, qlen, slot, dq.qtype);
		return;
	}
	if (slot >= 0 && c->names[slot].cached_until > now_mono_s()) {
		/* its answers are known and within their TTL: judged again,
		 * no query upstream (unless they are denied now) */
		facts.answers_state = DECIDE_ANSWERS_OK;
		facts.answers = c->names[slot].cached;
		facts.n_answers = c->names[slot].n_cached;
		policy_decide(&facts, &d);
		if (d.verdict == VERDICT_ALLOW) {
			reply_synthetic(c, cl, q, qlen, slot, dq.qtype);
			return;
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
	struct decide_facts facts;
	struct dns_pending *pq;
	struct dns_question dq;
	struct decision d;
	int name;

	if (slot >= DNS_PENDING_MAX)
		return;
	pq = &c->pending[slot];
	if (!pq->used || (pq->gen & 0x3fffffff) != gen)
		return;
	pq->used = false;

	if (dns_parse_query(pq->query, pq->qlen, &dq) < 0) {
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
		return;
	}
	dns_facts(c, &pq->client, pq->name, true, &facts);
	/* the taint was judged when the query came; a concurrent query
	 * (A beside AAAA) that tainted the name meanwhile saw the same
	 * answers: these are judged on themselves, with the same reason */
	facts.tainted = false;
	facts.answers_state = status == ARES_SUCCESS ? DECIDE_ANSWERS_OK :
			      status == ARES_ENOTFOUND || status == ARES_ENONAME ||
			      status == ARES_ENODATA ? DECIDE_ANSWERS_NONE :
			      DECIDE_ANSWERS_FAILED;
	facts.answers = answers;
	facts.n_answers = status == ARES_SUCCESS ? n : 0;
	policy_decide(&facts, &d);
	if (d.verdict != VERDICT_ALLOW) {
		switch (d.reason) {
		case DECIDE_NO_ANSWER:
			reply(c, &pq->client, pq->query, pq->qlen,
			      status == ARES_ENOTFOUND || status == ARES_ENONAME ?
			      DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR, NULL);
			return;
		case DECIDE_RESOLVE_FAILED:
			log_info("dns %s: upstream lookup failed: %s", pq->name,
				 ares_strerror(status));
			reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
			return;
		case DECIDE_FLOOR_UNKNOWN:
			log_dns_deny(c, pq->name, &pq->client, d.reason);
			reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
			return;
		default:
			name = names_find(c, pq->name);
			if (decide_reason_is_floor(d.reason) && name >= 0)
				c->names[name].tainted = true;
			c->dns_refused++;
			log_dns_deny_resolved(c, pq->name, &pq->client, d.reason, answers,
					      facts.n_answers);
			reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_REFUSED, NULL);
			return;
		}
	}
	name = names_add(c, pq->name);
	if (name < 0) {
		reply(c, &pq->client, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL);
		return;
	}
	names_cache_store(c, name, answers, n, ttl);
	reply_synthetic(c, &pq->client, pq->query, pq->qlen, name, dq.qtype);
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
	c->gateway[0] = c->cfg->resolver;
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
	return a->port == 53 && c->gateway[0].family &&
	       nbj_addr_equal_ip(a, &c->gateway[0]);
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
