/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/floor.c - the internal-address floor
 *
 * Theory of operation: an address is classified by the first row of a
 * fixed table whose prefix contains it; rows are ordered most specific
 * first (169.254.169.254 before 169.254/16).  IPv6 forms that embed an
 * IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are
 * re-classified on the embedded address: internal inside means
 * FLOOR_BAD_ENCODING, public inside means the IPv6 form is as public as
 * the IPv4 one; the embedded address is judged by the whole floor,
 * including the host's own addresses and the jobs' address pool
 * (floor_ctx), which are matched last.  TEST-NET ranges are not in the
 * floor.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <string.h>

#include "common/util.h"
#include "policy/policy.h"

struct floor_row {
	int family;
	unsigned char prefix[16];
	unsigned len;
	enum floor_reason reason;
};

#define V4(a, b, c, d) { (a), (b), (c), (d) }

static const struct floor_row floor_v4[] = {
	{ AF_INET, V4(169, 254, 169, 254), 32, FLOOR_METADATA },
	/* Azure's WireServer (and its DNS and DHCP): a public address that
	 * hands VM extensions, certificates and goal states to whoever asks */
	{ AF_INET, V4(168, 63, 129, 16), 32, FLOOR_METADATA },
	{ AF_INET, V4(255, 255, 255, 255), 32, FLOOR_RESERVED },
	{ AF_INET, V4(0, 0, 0, 0), 8, FLOOR_UNSPECIFIED },
	{ AF_INET, V4(127, 0, 0, 0), 8, FLOOR_LOOPBACK },
	{ AF_INET, V4(10, 0, 0, 0), 8, FLOOR_PRIVATE },
	{ AF_INET, V4(172, 16, 0, 0), 12, FLOOR_PRIVATE },
	{ AF_INET, V4(192, 168, 0, 0), 16, FLOOR_PRIVATE },
	{ AF_INET, V4(169, 254, 0, 0), 16, FLOOR_LINK_LOCAL },
	{ AF_INET, V4(100, 64, 0, 0), 10, FLOOR_CGNAT },
	{ AF_INET, V4(192, 0, 0, 0), 24, FLOOR_IETF },
	{ AF_INET, V4(198, 18, 0, 0), 15, FLOOR_BENCHMARK },
	{ AF_INET, V4(224, 0, 0, 0), 4, FLOOR_MULTICAST },
	{ AF_INET, V4(240, 0, 0, 0), 4, FLOOR_RESERVED },
};

/* IPv6 rows that carry no embedded IPv4 address */
static const struct floor_row floor_v6[] = {
	{ AF_INET6, { 0 }, 128, FLOOR_UNSPECIFIED },
	{ AF_INET6, { [15] = 1 }, 128, FLOOR_LOOPBACK },
	{ AF_INET6, { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02 }, 128,
	  FLOOR_METADATA },
	{ AF_INET6, { 0xfc }, 7, FLOOR_PRIVATE },
	{ AF_INET6, { 0xfe, 0x80 }, 10, FLOOR_LINK_LOCAL },
	{ AF_INET6, { 0xfe, 0xc0 }, 10, FLOOR_PRIVATE },
	{ AF_INET6, { 0xff }, 8, FLOOR_MULTICAST },
	{ AF_INET6, { 0x01, 0x00 }, 64, FLOOR_RESERVED },
};

static const char *const floor_names[] = {
	[FLOOR_NONE] = "public",
	[FLOOR_UNSPECIFIED] = "unspecified",
	[FLOOR_LOOPBACK] = "loopback",
	[FLOOR_PRIVATE] = "private",
	[FLOOR_LINK_LOCAL] = "link-local",
	[FLOOR_METADATA] = "metadata",
	[FLOOR_CGNAT] = "cgnat",
	[FLOOR_IETF] = "ietf-protocol",
	[FLOOR_BENCHMARK] = "benchmark",
	[FLOOR_MULTICAST] = "multicast",
	[FLOOR_RESERVED] = "reserved",
	[FLOOR_HOST] = "host-address",
	[FLOOR_BAD_ENCODING] = "internal-encoding",
	[FLOOR_JOB_NETWORK] = "job-network",
};
static_assert(ARRAY_SIZE(floor_names) == FLOOR_REASON_COUNT,
	      "a floor reason lacks a name");

static enum floor_reason table_lookup(const struct floor_row *rows, size_t n,
				      const unsigned char *addr)
{
	for (size_t i = 0; i < n; i++)
		if (nbj_prefix_match(addr, rows[i].prefix, rows[i].len))
			return rows[i].reason;
	return FLOOR_NONE;
}

static enum floor_reason classify_v4(const unsigned char b[4])
{
	return table_lookup(floor_v4, ARRAY_SIZE(floor_v4), b);
}

/*
 * If @b embeds IPv4 addresses, classify them with the whole floor (the
 * static ranges, the host's addresses, the jobs' networks): return
 * FLOOR_BAD_ENCODING if any is internal, FLOOR_NONE if all are public.
 * The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is internal as a
 * whole: it may embed IPv4 at any of several offsets, and is never
 * routed globally.
 */
static enum floor_reason classify_embedded(const unsigned char b[16],
					   const struct floor_ctx *ctx)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const unsigned char nat64_local[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };
	static const unsigned char zero[12] = { 0 };
	struct nbj_addr v4[2] = { { .family = AF_INET }, { .family = AF_INET } };
	int n = 1;

	if (!memcmp(b, nat64_local, 6))
		return FLOOR_BAD_ENCODING;
	if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12) || !memcmp(b, zero, 12)) {
		memcpy(&v4[0].v4, b + 12, 4);
	} else if (b[0] == 0x20 && b[1] == 0x02) {	/* 6to4: 2002:AABB:CCDD::/48 */
		memcpy(&v4[0].v4, b + 2, 4);
	} else if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
		/* Teredo: server at bits 32..63, client obfuscated at 96..127 */
		memcpy(&v4[0].v4, b + 4, 4);
		for (int i = 0; i < 4; i++)
			((unsigned char *)&v4[1].v4)[i] = (unsigned char)~b[12 + i];
		n = 2;
	} else {
		return FLOOR_NONE;
	}
	for (int i = 0; i < n; i++)
		if (floor_classify(&v4[i], ctx) != FLOOR_NONE)
			return FLOOR_BAD_ENCODING;
	return FLOOR_NONE;
}

static bool is_host_address(const struct nbj_addr *a, const struct floor_ctx *ctx)
{
	for (size_t i = 0; ctx && i < ctx->n_host; i++)
		if (nbj_addr_equal_ip(a, &ctx->host[i]))
			return true;
	return false;
}

static bool in_job_network(const struct nbj_addr *a, const struct floor_ctx *ctx)
{
	for (size_t i = 0; ctx && i < ctx->n_job_nets; i++) {
		const struct nbj_prefix *p = &ctx->job_nets[i];

		if (p->addr.family == a->family &&
		    nbj_prefix_match(a->family == AF_INET ? (const unsigned char *)&a->v4
							  : a->v6.s6_addr,
				     p->addr.family == AF_INET ? (const unsigned char *)&p->addr.v4
							       : p->addr.v6.s6_addr,
				     p->prefixlen))
			return true;
	}
	return false;
}

/**
 * floor_classify() - is @a an internal address that nothing may reach?
 * @a:		address (port ignored)
 * @ctx:	the host's own addresses, may be NULL
 *
 * Return: FLOOR_NONE for a public address, else the reason it is denied
 */
enum floor_reason floor_classify(const struct nbj_addr *a,
				 const struct floor_ctx *ctx)
{
	enum floor_reason r;

	if (a->family == AF_INET) {
		r = classify_v4((const unsigned char *)&a->v4);
	} else if (a->family == AF_INET6) {
		r = table_lookup(floor_v6, ARRAY_SIZE(floor_v6), a->v6.s6_addr);
		if (r == FLOOR_NONE)
			r = classify_embedded(a->v6.s6_addr, ctx);
	} else {
		return FLOOR_RESERVED;
	}
	if (r == FLOOR_NONE && is_host_address(a, ctx))
		r = FLOOR_HOST;
	if (r == FLOOR_NONE && in_job_network(a, ctx))
		r = FLOOR_JOB_NETWORK;
	return r;
}

/**
 * floor_reason_name() - stable short name of a floor class, for logs
 * @r:	class
 *
 * Return: e.g. "metadata", "private"; "unknown" out of range
 */
const char *floor_reason_name(enum floor_reason r)
{
	if ((size_t)r < ARRAY_SIZE(floor_names))
		return floor_names[r];
	return "unknown";
}
