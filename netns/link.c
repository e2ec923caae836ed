/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/link.c - links, addresses and routes through libnl-route-3
 *
 * Theory of operation: every function opens its own NETLINK_ROUTE socket
 * in the caller's current network namespace, so the same code configures
 * the host end (called by the supervisor in the host netns) and the job
 * end (called by the job's reaper inside the job netns, before it drops
 * its privileges).  The veth pair is created in one RTM_NEWLINK from the
 * host side with its peer placed directly into the job's netns by PID, so
 * the job end never exists in the host namespace.  IPv6 addresses are
 * added with IFA_F_NODAD: both ends are ours, and a tentative address
 * could not be bound by the relay.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "common/log.h"
#include "netns/link.h"

static void nl_sock_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

static void rtnl_link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}

static void rtnl_addr_putp(struct rtnl_addr **a)
{
	if (*a)
		rtnl_addr_put(*a);
}

static void rtnl_route_putp(struct rtnl_route **r)
{
	if (*r)
		rtnl_route_put(*r);
}

static void nl_addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}

static void nl_cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

#define _cleanup_nl_sock_ _cleanup_(nl_sock_freep)

/* Translate a libnl error (-NLE_*) into a negative errno. */
static int nlerr_to_errno(int err)
{
	switch (-err) {
	case NLE_EXIST:		return -EEXIST;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_PERM:		return -EPERM;
	case NLE_NODEV:		return -ENODEV;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_INVAL:		return -EINVAL;
	case NLE_BUSY:		return -EBUSY;
	case NLE_AF_NOSUPPORT:	return -EAFNOSUPPORT;
	case NLE_RANGE:		return -ERANGE;
	case NLE_AGAIN:		return -EAGAIN;
	default:		return -EIO;
	}
}

static int route_socket(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(sk);
		return nlerr_to_errno(err);
	}
	*ret = sk;
	return 0;
}

/**
 * link_veth_create() - create a veth pair, the peer in another netns
 * @host_ifname:	name of the end that stays here, brought up
 * @peer_ifname:	name of the end placed into the netns of @peer_netns_pid
 * @peer_netns_pid:	a process in the target network namespace
 *
 * Return: 0, or negative errno (-EEXIST if @host_ifname exists)
 */
int link_veth_create(const char *host_ifname, const char *peer_ifname,
		     pid_t peer_netns_pid)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *veth = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *peer = NULL;
	int err;

	err = route_socket(&sk);
	if (err < 0)
		return err;
	veth = rtnl_link_veth_alloc();
	if (!veth)
		return -ENOMEM;
	rtnl_link_set_name(veth, host_ifname);
	rtnl_link_set_flags(veth, IFF_UP);
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, peer_ifname);
	rtnl_link_set_ns_pid(peer, peer_netns_pid);

	err = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (err < 0) {
		log_err("cannot create veth %s: %s", host_ifname,
			nl_geterror(err));
		return nlerr_to_errno(err);
	}
	return 0;
}

/**
 * link_delete() - delete a link by name in the current netns
 * @ifname:	link name
 *
 * Return: 0 (also when the link does not exist), or negative errno
 */
int link_delete(const char *ifname)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int err;

	err = route_socket(&sk);
	if (err < 0)
		return err;
	link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, ifname);
	err = rtnl_link_delete(sk, link);
	if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
		return nlerr_to_errno(err);
	return 0;
}

static int link_set_up(struct nl_sock *sk, int ifindex)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_(rtnl_link_putp) struct rtnl_link *change = rtnl_link_alloc();
	int err;

	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_flags(change, IFF_UP);
	err = rtnl_link_change(sk, orig, change, 0);
	return err < 0 ? nlerr_to_errno(err) : 0;
}

static int addr_add(struct nl_sock *sk, int ifindex, int family,
		    const void *addr, unsigned prefixlen)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
	int err;

	local = nl_addr_build(family, addr, family == AF_INET ? 4 : 16);
	if (!a || !local)
		return -ENOMEM;
	nl_addr_set_prefixlen(local, (int)prefixlen);
	rtnl_addr_set_ifindex(a, ifindex);
	err = rtnl_addr_set_local(a, local);
	if (err < 0)
		return nlerr_to_errno(err);
	if (family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	err = rtnl_addr_add(sk, a, 0);
	return err < 0 ? nlerr_to_errno(err) : 0;
}

static int default_route_add(struct nl_sock *sk, int ifindex, int family,
			     const void *gw)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *r = rtnl_route_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *dst = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *via = NULL;
	struct in6_addr any = IN6ADDR_ANY_INIT;
	size_t len = family == AF_INET ? 4 : 16;
	struct rtnl_nexthop *nh;
	int err;

	dst = nl_addr_build(family, &any, len);
	via = nl_addr_build(family, gw, len);
	nh = rtnl_route_nh_alloc();
	if (!r || !dst || !via || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return -ENOMEM;
	}
	nl_addr_set_prefixlen(dst, 0);
	rtnl_route_set_family(r, (uint8_t)family);
	rtnl_route_set_dst(r, dst);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(r, nh); /* r owns nh now */
	err = rtnl_route_add(sk, r, NLM_F_CREATE);
	return err < 0 ? nlerr_to_errno(err) : 0;
}

/**
 * link_host_configure() - addresses on the host end of a job's veth
 * @host_ifname:	the host end, already up
 * @net:		the job's addresses
 *
 * Return: 0, or negative errno
 */
int link_host_configure(const char *host_ifname, const struct job_net *net)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int ifindex = (int)if_nametoindex(host_ifname);
	int err;

	if (!ifindex)
		return negative_errno();
	err = route_socket(&sk);
	if (err < 0)
		return err;
	err = addr_add(sk, ifindex, AF_INET, &net->host4, 30);
	if (err < 0)
		return err;
	return addr_add(sk, ifindex, AF_INET6, &net->host6, 64);
}

/**
 * link_guest_configure() - addresses and default routes of the job end
 * @ifname:	the job's end of the veth, in the current netns
 * @net:	the job's addresses
 *
 * Brings @ifname up, adds the job's addresses and default routes via the
 * host end (the relay) for both families.
 *
 * Return: 0, or negative errno
 */
int link_guest_configure(const char *ifname, const struct job_net *net)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int ifindex = (int)if_nametoindex(ifname);
	int err;

	if (!ifindex)
		return negative_errno();
	err = route_socket(&sk);
	if (err < 0)
		return err;
	err = addr_add(sk, ifindex, AF_INET, &net->job4, 30);
	if (!err)
		err = addr_add(sk, ifindex, AF_INET6, &net->job6, 64);
	if (!err)
		err = link_set_up(sk, ifindex);
	if (!err)
		err = default_route_add(sk, ifindex, AF_INET, &net->host4);
	if (!err)
		err = default_route_add(sk, ifindex, AF_INET6, &net->host6);
	return err;
}

/**
 * link_loopback_up() - bring "lo" up in the current netns
 *
 * Return: 0, or negative errno
 */
int link_loopback_up(void)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int ifindex = (int)if_nametoindex("lo");
	int err;

	if (!ifindex)
		return negative_errno();
	err = route_socket(&sk);
	if (err < 0)
		return err;
	return link_set_up(sk, ifindex);
}

static int nl_to_prefix(struct nl_addr *a, struct nbj_prefix *ret)
{
	int family = nl_addr_get_family(a);
	unsigned len = nl_addr_get_len(a);

	memset(ret, 0, sizeof(*ret));
	if (family == AF_INET && len == 4)
		memcpy(&ret->addr.v4, nl_addr_get_binary_addr(a), 4);
	else if (family == AF_INET6 && len == 16)
		memcpy(&ret->addr.v6, nl_addr_get_binary_addr(a), 16);
	else if ((family == AF_INET || family == AF_INET6) && len == 0)
		; /* default route: all zero */
	else
		return -EAFNOSUPPORT;
	ret->addr.family = family;
	ret->prefixlen = nl_addr_get_prefixlen(a);
	return 0;
}

/**
 * link_host_inventory() - the addresses and routes of the current netns
 * @ret:	filled in; free with link_host_inventory_free()
 *
 * Return: 0, or negative errno
 */
int link_host_inventory(struct host_inventory *ret)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_(nl_cache_freep) struct nl_cache *addrs = NULL;
	_cleanup_(nl_cache_freep) struct nl_cache *routes = NULL;
	struct host_inventory inv = { 0 };
	struct nl_object *o;
	size_t max;
	int err;

	err = route_socket(&sk);
	if (err < 0)
		return err;
	err = rtnl_addr_alloc_cache(sk, &addrs);
	if (err < 0)
		return nlerr_to_errno(err);
	err = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes);
	if (err < 0)
		return nlerr_to_errno(err);

	max = (size_t)nl_cache_nitems(addrs) + (size_t)nl_cache_nitems(routes);
	inv.addrs = calloc((size_t)nl_cache_nitems(addrs) + 1, sizeof(*inv.addrs));
	inv.used = calloc(max + 1, sizeof(*inv.used));
	if (!inv.addrs || !inv.used) {
		link_host_inventory_free(&inv);
		return -ENOMEM;
	}

	for (o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct nl_addr *local = rtnl_addr_get_local((struct rtnl_addr *)o);
		struct nbj_prefix p;

		if (!local || nl_to_prefix(local, &p) < 0)
			continue;
		p.prefixlen = (unsigned)rtnl_addr_get_prefixlen((struct rtnl_addr *)o);
		inv.addrs[inv.n_addrs++] = p.addr;
		inv.used[inv.n_used++] = p;
	}
	for (o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct nl_addr *dst = rtnl_route_get_dst((struct rtnl_route *)o);
		struct nbj_prefix p;

		if (!dst || nl_to_prefix(dst, &p) < 0 || !p.prefixlen)
			continue;
		inv.used[inv.n_used++] = p;
	}
	*ret = inv;
	return 0;
}

/**
 * link_host_inventory_free() - release what link_host_inventory() filled
 * @inv:	inventory, zeroed afterwards
 */
void link_host_inventory_free(struct host_inventory *inv)
{
	free(inv->addrs);
	free(inv->used);
	memset(inv, 0, sizeof(*inv));
}
