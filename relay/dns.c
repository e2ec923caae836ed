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
 * dns_refuse() - build a REFUSED answer to a query
 * @query:	the query packet
 * @qlen:	its length
 * @out:	answer buffer
 * @outlen:	its size
 *
 * Return: length of the answer, -EINVAL for a malformed query or a packet
 * that is not a query, -ENOSPC if @out is too small
 */
long dns_refuse(const unsigned char *query, size_t qlen, unsigned char *out,
		size_t outlen)
{
	size_t pos = DNS_HEADER_LEN, name_len = 0, ans_len;

	if (qlen < DNS_HEADER_LEN)
		return -EINVAL;
	if (query[2] & 0x80) /* QR: a response, not a query */
		return -EINVAL;
	if (query[4] != 0 || query[5] != 1) /* QDCOUNT must be 1 */
		return -EINVAL;

	for (;;) {
		unsigned char label;

		if (pos >= qlen)
			return -EINVAL;
		label = query[pos];
		if (label == 0) {
			pos++;
			name_len++;
			break;
		}
		if (label & 0xc0) /* compression or extended label: not in a query */
			return -EINVAL;
		name_len += (size_t)label + 1;
		if (name_len > DNS_MAX_NAME)
			return -EINVAL;
		pos += (size_t)label + 1;
	}
	if (pos + 4 > qlen) /* QTYPE, QCLASS */
		return -EINVAL;
	pos += 4;

	ans_len = pos;
	if (outlen < ans_len)
		return -ENOSPC;
	memcpy(out, query, ans_len);
	out[2] = (unsigned char)(0x80 | (query[2] & 0x79)); /* QR, opcode, RD */
	out[3] = 0x80 | DNS_RCODE_REFUSED;		    /* RA, REFUSED */
	memset(out + 6, 0, 6); /* AN, NS, AR counts */
	return (long)ans_len;
}

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
