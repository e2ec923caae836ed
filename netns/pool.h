/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/pool.h - the address pool: one IPv4 /30 and one IPv6 /64 per job
 */
#ifndef NBJ_NETNS_POOL_H
#define NBJ_NETNS_POOL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

#define POOL_DEFAULT_V4 "10.231.0.0/16"
#define POOL_DEFAULT_V6 "fd6e:626a:6169::/48"

/**
 * struct pool_config - where job addresses come from
 * @v4:	IPv4 pool, prefix length at most 30
 * @v6:	IPv6 pool, prefix length at most 64
 */
struct pool_config {
	struct nbj_prefix v4;
	struct nbj_prefix v6;
};

/**
 * struct job_net - the addresses of one job
 * @slot:	index in the pool
 * @host4:	host end of the veth (the relay), IPv4, prefix /30
 * @job4:	job end of the veth, IPv4
 * @host6:	host end, IPv6, prefix /64
 * @job6:	job end, IPv6
 */
struct job_net {
	unsigned slot;
	struct in_addr host4, job4;
	struct in6_addr host6, job6;
};

int pool_parse_prefix(const char *cidr, struct nbj_prefix *ret);
void pool_config_default(struct pool_config *ret);
unsigned pool_slot_count(const struct pool_config *cfg);
void pool_slot_net(const struct pool_config *cfg, unsigned slot,
		   struct job_net *ret);
bool pool_slot_conflicts(const struct job_net *net,
			 const struct nbj_prefix *used, size_t n_used);

#endif /* NBJ_NETNS_POOL_H */
