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

int link_veth_create(const char *host_ifname, const char *peer_ifname,
		     pid_t peer_netns_pid);
int link_delete(const char *ifname);
int link_exists(const char *ifname);
int link_host_configure(const struct job_net *net);
int link_guest_configure(const struct job_net *net, const char *ifname);
int link_loopback_up(void);
int link_host_addresses(struct nbj_addr **ret, size_t *ret_n);
int link_host_prefixes(struct pool_prefix **ret, size_t *ret_n);

#endif /* NBJ_NETNS_LINK_H */
