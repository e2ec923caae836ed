/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/link.h - links, addresses and routes through libnl-route-3
 */
#ifndef NBJ_NETNS_LINK_H
#define NBJ_NETNS_LINK_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/types.h>

#include "netns/pool.h"
#include "policy/policy.h"

/**
 * struct host_inventory - what the host's network namespace already has
 * @addrs:	every local address (for the floor)
 * @n_addrs:	entries in @addrs
 * @used:	every address with its prefix, and every route destination
 *		(for pool conflict checks)
 * @n_used:	entries in @used
 */
struct host_inventory {
	struct nbj_addr *addrs;
	size_t n_addrs;
	struct nbj_prefix *used;
	size_t n_used;
};

int link_veth_create(const char *host_ifname, const char *peer_ifname,
		     pid_t peer_netns_pid);
int link_delete(const char *ifname);
int link_host_configure(const char *host_ifname, const struct job_net *net);
int link_guest_configure(const char *ifname, const struct job_net *net);
int link_loopback_up(void);
int link_host_inventory(struct host_inventory *ret);
void link_host_inventory_free(struct host_inventory *inv);

#endif /* NBJ_NETNS_LINK_H */
