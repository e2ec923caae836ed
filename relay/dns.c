/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dns.c - the job's DNS stub: every query is answered REFUSED
 *
 * Until names are supported (fake-IP DNS, next issue), the stub answers
 * each well-formed query REFUSED at once, so resolvers in the job fail
 * fast instead of timing out, and drops malformed packets (counted).
 * Only the header and the one question are parsed, with bounds checks on
 * every byte; the question is echoed verbatim, as resolvers require.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "relay/relay_int.h"

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255
#define DNS_RCODE_REFUSED 5
#define DNS_BATCH 64

/**
 * dns_handle() - answer every datagram waiting on a DNS socket
 * @c:	relay context
 * @fd:	UDP socket that became readable
 */
void dns_handle(struct relay_ctx *c, int fd)
{
	unsigned char q[4096], a[4096];

	for (int i = 0; i < DNS_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;
		long alen;

		n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fromlen);
		if (n < 0)
			return;
		alen = dns_refuse(q, (size_t)n, a, sizeof(a));
		if (alen < 0) {
			c->dns_malformed++;
			log_debug("dropped a malformed DNS packet (%lu so far)",
				  c->dns_malformed);
			continue;
		}
		c->dns_refused++;
		(void)sendto(fd, a, (size_t)alen, MSG_DONTWAIT,
			     (struct sockaddr *)&from, fromlen);
	}
}
