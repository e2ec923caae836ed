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
 * The job thus never learns a real address.  Queries waiting for the
 * upstream resolver sit in a fixed table (DNS_PENDING_MAX); when it is
 * full, new queries get SERVFAIL at once.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "relay/dnswire.h"
#include "relay/relay_int.h"

#define DNS_BATCH 64

static void reply(int fd, const unsigned char *q, size_t qlen, int rcode,
		  const struct nbj_addr *synthetic, const struct sockaddr *to,
		  socklen_t tolen)
{
	unsigned char a[DNS_QUERY_MAX + 64];
	long alen = dns_build_answer(q, qlen, rcode, synthetic, a, sizeof(a));

	if (alen > 0)
		(void)sendto(fd, a, (size_t)alen, MSG_DONTWAIT, to, tolen);
}

static void log_dns_deny(const char *name, const struct sockaddr *from,
			 socklen_t fromlen, const char *reason)
{
	struct nbj_addr peer = { 0 };
	char p[NBJ_ADDR_STRLEN];

	(void)nbj_addr_from_sockaddr(from, fromlen, &peer);
	log_info("deny dns %s from %s reason=%s", name[0] ? name : "(invalid name)",
		 nbj_addr_format(&peer, p, sizeof(p)), reason);
}

static int pending_alloc(struct relay_ctx *c)
{
	for (int i = 0; i < DNS_PENDING_MAX; i++)
		if (!c->pending[i].used)
			return i;
	return -ENOSPC;
}

static void handle_query(struct relay_ctx *c, int fd, const unsigned char *q,
			 size_t qlen, const struct sockaddr *from, socklen_t fromlen)
{
	const struct nbj_policy *p = c->cfg->policy;
	struct dns_question dq;
	struct dns_pending *pq;
	int err, slot, i;

	err = dns_parse_query(q, qlen, &dq);
	if (err == -EOPNOTSUPP) {
		reply(fd, q, qlen, DNS_RCODE_NOTIMP, NULL, from, fromlen);
		return;
	}
	if (err < 0) {
		c->dns_malformed++;
		log_debug("dropped a malformed DNS packet (%lu so far)", c->dns_malformed);
		return;
	}
	if (!policy_has_names(p)) {
		c->dns_refused++;
		reply(fd, q, qlen, DNS_RCODE_REFUSED, NULL, from, fromlen);
		return;
	}
	if (!policy_name_allowed(p, dq.name)) {
		c->dns_refused++;
		log_dns_deny(dq.name, from, fromlen, "not-allowed");
		reply(fd, q, qlen, DNS_RCODE_REFUSED, NULL, from, fromlen);
		return;
	}
	if (dq.qclass != DNS_CLASS_IN ||
	    (dq.qtype != DNS_TYPE_A && dq.qtype != DNS_TYPE_AAAA)) {
		reply(fd, q, qlen, DNS_RCODE_NOERROR, NULL, from, fromlen);
		return;
	}
	slot = names_add(c, dq.name);
	if (slot >= 0 && c->names[slot].tainted) {
		c->dns_refused++;
		log_dns_deny(dq.name, from, fromlen, "rebinding");
		reply(fd, q, qlen, DNS_RCODE_REFUSED, NULL, from, fromlen);
		return;
	}
	i = pending_alloc(c);
	if (slot < 0 || i < 0 || qlen > DNS_QUERY_MAX) {
		log_warn("dns %s: %s", dq.name, slot < 0 ? "name table full" :
			 i < 0 ? "too many queries in flight" : "query too large");
		reply(fd, q, qlen, DNS_RCODE_SERVFAIL, NULL, from, fromlen);
		return;
	}
	pq = &c->pending[i];
	pq->used = true;
	pq->gen++;
	pq->fd = fd;
	memcpy(&pq->from, from, fromlen);
	pq->fromlen = fromlen;
	strcpy(pq->name, dq.name);
	memcpy(pq->query, q, qlen);
	pq->qlen = qlen;
	if (resolve_start(c, dq.name, RESOLVE_COOKIE(RESOLVE_FOR_DNS, i, pq->gen)) < 0) {
		pq->used = false;
		reply(fd, q, qlen, DNS_RCODE_SERVFAIL, NULL, from, fromlen);
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
 */
void dns_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		  const struct nbj_addr *answers, size_t n)
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
		reply(pq->fd, pq->query, pq->qlen, DNS_RCODE_NXDOMAIN, NULL,
		      (struct sockaddr *)&pq->from, pq->fromlen);
		return;
	}
	if (status == ARES_ENODATA || (status == ARES_SUCCESS && !n)) {
		reply(pq->fd, pq->query, pq->qlen, DNS_RCODE_NOERROR, NULL,
		      (struct sockaddr *)&pq->from, pq->fromlen);
		return;
	}
	if (status != ARES_SUCCESS) {
		log_info("dns %s: upstream lookup failed: %s", pq->name,
			 ares_strerror(status));
		reply(pq->fd, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL,
		      (struct sockaddr *)&pq->from, pq->fromlen);
		return;
	}
	if (!hostaddr_floor(c)) {
		log_dns_deny(pq->name, (struct sockaddr *)&pq->from, pq->fromlen,
			     "floor-unknown");
		reply(pq->fd, pq->query, pq->qlen, DNS_RCODE_SERVFAIL, NULL,
		      (struct sockaddr *)&pq->from, pq->fromlen);
		return;
	}
	/* judge the name on every answer, port-independently */
	policy_decide_name(c->cfg->policy, hostaddr_floor(c), pq->name, 0, answers, n, &d);
	name = names_add(c, pq->name);
	if (d.reason == DECIDE_FLOOR) {
		if (name >= 0)
			c->names[name].tainted = true;
		c->dns_refused++;
		log_dns_deny(pq->name, (struct sockaddr *)&pq->from, pq->fromlen,
			     decision_reason_format(&d, reason, sizeof(reason)));
		reply(pq->fd, pq->query, pq->qlen, DNS_RCODE_REFUSED, NULL,
		      (struct sockaddr *)&pq->from, pq->fromlen);
		return;
	}
	if (name < 0 || dns_parse_query(pq->query, pq->qlen, &dq) < 0)
		return;
	names_synthetic(c, name, dq.qtype == DNS_TYPE_A ? AF_INET : AF_INET6, &synthetic);
	reply(pq->fd, pq->query, pq->qlen, DNS_RCODE_NOERROR, &synthetic,
	      (struct sockaddr *)&pq->from, pq->fromlen);
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
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;

		n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fromlen);
		if (n < 0)
			return;
		handle_query(c, fd, q, (size_t)n, (struct sockaddr *)&from, fromlen);
	}
}
