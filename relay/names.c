/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/names.c - the name <-> synthetic address table of one job
 *
 * Theory of operation: when the DNS stub answers an allowed name, the
 * name gets a slot in a fixed table for the rest of the job's life, and
 * slot N stands for the synthetic addresses 198.18.0.0 + N + 1 and
 * fd6e:626a:6169:ffff::N+1.  The same name always gets the same slot, so
 * its addresses are stable within the job.  The job never learns a real
 * address; when it connects to a synthetic one, tcp.c maps it back to
 * the name here and resolves it afresh.  The table is never shrunk: a job
 * that asks for more than NAME_TABLE_SIZE names gets SERVFAIL for the
 * rest.  Lookups are linear: the table is small and DNS is not the data
 * path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/relay_int.h"

/**
 * names_init() - allocate the name table and parse the synthetic ranges
 * @c:	relay context
 *
 * Return: 0, or -ENOMEM
 */
int names_init(struct relay_ctx *c)
{
	c->names = calloc(NAME_TABLE_SIZE, sizeof(*c->names));
	if (!c->names)
		return -ENOMEM;
	inet_pton(AF_INET, SYNTHETIC_V4, &c->synthetic4);
	inet_pton(AF_INET6, SYNTHETIC_V6, &c->synthetic6);
	return 0;
}

/**
 * names_find() - the slot of @name, if it has one
 * @c:		relay context
 * @name:	normalized host name
 *
 * Return: slot, or -ENOENT
 */
int names_find(const struct relay_ctx *c, const char *name)
{
	for (unsigned i = 0; i < c->n_names; i++)
		if (!strcmp(c->names[i].name, name))
			return (int)i;
	return -ENOENT;
}

/**
 * names_add() - the slot of @name, taking a new one if needed
 * @c:		relay context
 * @name:	normalized host name
 *
 * Return: slot, or -ENOSPC when the table is full
 */
int names_add(struct relay_ctx *c, const char *name)
{
	int slot = names_find(c, name);

	if (slot >= 0)
		return slot;
	if (c->n_names == NAME_TABLE_SIZE)
		return -ENOSPC;
	strcpy(c->names[c->n_names].name, name);
	return (int)c->n_names++;
}

/**
 * names_synthetic() - the synthetic address of a slot
 * @c:		relay context
 * @slot:	name slot
 * @family:	AF_INET or AF_INET6
 * @ret:	the address, port 0
 */
void names_synthetic(const struct relay_ctx *c, int slot, int family,
		     struct nbj_addr *ret)
{
	uint32_t n = (uint32_t)slot + 1;

	memset(ret, 0, sizeof(*ret));
	ret->family = family;
	if (family == AF_INET) {
		ret->v4.s_addr = htonl(ntohl(c->synthetic4.s_addr) + n);
	} else {
		ret->v6 = c->synthetic6;
		ret->v6.s6_addr[12] = (unsigned char)(n >> 24);
		ret->v6.s6_addr[13] = (unsigned char)(n >> 16);
		ret->v6.s6_addr[14] = (unsigned char)(n >> 8);
		ret->v6.s6_addr[15] = (unsigned char)n;
	}
}

/**
 * names_from_synthetic() - the name slot a synthetic address stands for
 * @c:			relay context
 * @a:			a connection's original destination
 * @is_synthetic:	set when @a lies in a synthetic range
 *
 * Return: slot, or -ENOENT (not synthetic, or synthetic but unassigned)
 */
int names_from_synthetic(const struct relay_ctx *c, const struct nbj_addr *a,
			 bool *is_synthetic)
{
	uint64_t n;

	*is_synthetic = false;
	if (a->family == AF_INET) {
		if (!nbj_prefix_match((const unsigned char *)&a->v4,
				      (const unsigned char *)&c->synthetic4,
				      SYNTHETIC_V4_PREFIXLEN))
			return -ENOENT;
		n = ntohl(a->v4.s_addr) - ntohl(c->synthetic4.s_addr);
	} else {
		if (!nbj_prefix_match(a->v6.s6_addr, c->synthetic6.s6_addr,
				      SYNTHETIC_V6_PREFIXLEN))
			return -ENOENT;
		if (a->v6.s6_addr[8] | a->v6.s6_addr[9] | a->v6.s6_addr[10] |
		    a->v6.s6_addr[11]) {
			*is_synthetic = true;
			return -ENOENT;
		}
		n = (uint64_t)a->v6.s6_addr[12] << 24 | (uint64_t)a->v6.s6_addr[13] << 16 |
		    (uint64_t)a->v6.s6_addr[14] << 8 | a->v6.s6_addr[15];
	}
	*is_synthetic = true;
	if (n == 0 || n > c->n_names)
		return -ENOENT;
	return (int)(n - 1);
}

/**
 * names_cache_store() - keep a name's allowed answers for its TTL (at most
 * NAME_CACHE_MAX_S): later flows and DNS queries for it are judged on
 * them without asking the resolver again
 * @c:		relay context
 * @slot:	name table slot
 * @answers:	every address of the name
 * @n:		their number
 * @ttl:	seconds they may be reused (0: not kept)
 */
void names_cache_store(struct relay_ctx *c, int slot, const struct nbj_addr *answers,
		       size_t n, unsigned ttl)
{
	struct name_entry *e;
	struct timespec ts;

	if (slot < 0 || !ttl || !n || n > RESOLVE_ANSWERS_MAX)
		return;
	e = &c->names[slot];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	memcpy(e->cached, answers, n * sizeof(*answers));
	e->n_cached = (unsigned)n;
	e->cached_until = ts.tv_sec + (ttl < NAME_CACHE_MAX_S ? ttl : NAME_CACHE_MAX_S);
}
