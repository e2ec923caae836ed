/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/link.h - the job's lo, addresses and routes through libnl-route-3
 */
#ifndef NBJ_NETNS_LINK_H
#define NBJ_NETNS_LINK_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/policy.h"

/* Every job has the same addresses: they exist on its own lo only */
#define JOB_ADDR4 "10.231.0.2"
#define JOB_NAMESERVER4 "10.231.0.1"	/* not local: redirected to the relay */
#define JOB_ADDR6 "fd6e:626a:6169::2"

/**
 * struct job_net - the addresses of a job's network namespace
 * @job4:	the job's IPv4 address, on lo
 * @nameserver4: the resolver the job's resolv.conf names (its queries
 *		are redirected to the relay's DNS socket)
 * @job6:	the job's IPv6 address, on lo
 */
struct job_net {
	struct in_addr job4, nameserver4;
	struct in6_addr job6;
};

/**
 * struct host_inventory - the local addresses of the caller's netns
 * @addrs:	every local address (for the floor)
 * @n_addrs:	entries in @addrs
 */
struct host_inventory {
	struct nbj_addr *addrs;
	size_t n_addrs;
};

void job_net_default(struct job_net *ret);
void job_net_prefixes(struct nbj_prefix ret[2]);
int link_job_configure(const struct job_net *net);
int link_host_inventory(struct host_inventory *ret);
void link_host_inventory_free(struct host_inventory *inv);

#endif /* NBJ_NETNS_LINK_H */
