/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/pool.c - the address pool: one IPv4 /30 and one IPv6 /64 per job
 *
 * Theory of operation: a pool is one IPv4 prefix (default 10.231.0.0/16)
 * and one IPv6 prefix (default a ULA /48).  Slot N owns the N-th /30 of
 * the IPv4 pool and the N-th /64 of the IPv6 pool; the host end of the
 * veth takes the first usable address (.1, ::1) and the job end the
 * second (.2, ::2).  A slot is usable only if neither of its prefixes
 * overlaps any address or route already on the host (the caller passes
 * that inventory in, see link_host_inventory()).  Claiming a slot
 * atomically across concurrent jobs is state.c's business; this file is
 * pure arithmetic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netns/pool.h"

#define POOL_MAX_SLOTS 65536u

/**
 * pool_parse_prefix() - parse "ADDR/LEN" into a prefix, host bits clear
 * @cidr:	text, IPv4 (LEN <= 30) or IPv6 (LEN <= 64)
 * @ret:	parsed prefix
 *
 * Return: 0, or -EINVAL when malformed, out of range or host bits set
 */
int pool_parse_prefix(const char *cidr, struct nbj_prefix *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct nbj_prefix p = { 0 };
	char *slash, *end;
	unsigned long len;
	unsigned max;

	if (!cidr || strlen(cidr) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, cidr);
	slash = strchr(buf, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*slash = '\0';
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;

	if (inet_pton(AF_INET, buf, &p.addr.v4) == 1) {
		p.addr.family = AF_INET;
		max = 30;
	} else if (inet_pton(AF_INET6, buf, &p.addr.v6) == 1) {
		p.addr.family = AF_INET6;
		max = 64;
	} else {
		return -EINVAL;
	}
	if (len > max)
		return -EINVAL;
	p.prefixlen = (unsigned)len;

	/* host bits must be clear */
	{
		const unsigned char *b = p.addr.family == AF_INET ?
			(const unsigned char *)&p.addr.v4 : p.addr.v6.s6_addr;
		unsigned bytes = p.addr.family == AF_INET ? 4 : 16;

		for (unsigned i = 0; i < bytes * 8; i++) {
			if (i < p.prefixlen)
				continue;
			if (b[i / 8] & (0x80 >> (i % 8)))
				return -EINVAL;
		}
	}
	*ret = p;
	return 0;
}

/**
 * pool_config_default() - the built-in pool, POOL_DEFAULT_V4/V6
 * @ret:	filled in
 */
void pool_config_default(struct pool_config *ret)
{
	(void)pool_parse_prefix(POOL_DEFAULT_V4, &ret->v4);
	(void)pool_parse_prefix(POOL_DEFAULT_V6, &ret->v6);
}

/**
 * pool_slot_count() - how many jobs the pool can address
 * @cfg:	pool
 *
 * Return: number of slots, the smaller of both families, capped
 */
unsigned pool_slot_count(const struct pool_config *cfg)
{
	unsigned v4_bits = 30 - cfg->v4.prefixlen;
	unsigned v6_bits = 64 - cfg->v6.prefixlen;
	unsigned bits = v4_bits < v6_bits ? v4_bits : v6_bits;

	if (bits >= 16)
		return POOL_MAX_SLOTS;
	return 1u << bits;
}

/**
 * pool_slot_net() - the addresses of slot @slot
 * @cfg:	pool
 * @slot:	index below pool_slot_count()
 * @ret:	addresses of both ends, both families
 */
void pool_slot_net(const struct pool_config *cfg, unsigned slot,
		   struct job_net *ret)
{
	uint32_t base4 = ntohl(cfg->v4.addr.v4.s_addr) + slot * 4u;
	uint64_t hi = 0;

	memset(ret, 0, sizeof(*ret));
	ret->slot = slot;
	ret->host4.s_addr = htonl(base4 + 1);
	ret->job4.s_addr = htonl(base4 + 2);

	for (int i = 0; i < 8; i++)
		hi = hi << 8 | cfg->v6.addr.v6.s6_addr[i];
	hi += slot;
	for (int i = 7; i >= 0; i--) {
		ret->host6.s6_addr[i] = (unsigned char)(hi & 0xff);
		hi >>= 8;
	}
	memcpy(&ret->job6, &ret->host6, sizeof(ret->job6));
	ret->host6.s6_addr[15] = 1;
	ret->job6.s6_addr[15] = 2;
}

/**
 * pool_slot_conflicts() - does a slot overlap anything already on the host?
 * @net:	the slot's addresses
 * @used:	addresses (with their prefix) and routes of the host
 * @n_used:	entries in @used
 *
 * Default routes (prefix length 0) are not conflicts: everything overlaps
 * them, and the more specific on-link route of the veth wins.
 *
 * Return: true if the slot must not be used
 */
bool pool_slot_conflicts(const struct job_net *net,
			 const struct nbj_prefix *used, size_t n_used)
{
	for (size_t i = 0; i < n_used; i++) {
		const struct nbj_prefix *u = &used[i];
		unsigned len;

		if (!u->prefixlen)
			continue;
		if (u->addr.family == AF_INET) {
			len = u->prefixlen < 30 ? u->prefixlen : 30;
			if (nbj_prefix_match((const unsigned char *)&u->addr.v4,
					 (const unsigned char *)&net->host4, len))
				return true;
		} else if (u->addr.family == AF_INET6) {
			len = u->prefixlen < 64 ? u->prefixlen : 64;
			if (nbj_prefix_match(u->addr.v6.s6_addr,
					 net->host6.s6_addr, len))
				return true;
		}
	}
	return false;
}
