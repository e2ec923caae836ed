/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/link.c - links, addresses and routes through libnl-route-3
 *
 * Theory of operation: every function opens its own NETLINK_ROUTE socket
 * in the caller's current network namespace.  A job's network namespace
 * holds only lo (link_job_configure(), called by the job's init inside
 * it): there is no link to the host at all, so nothing is created,
 * configured or removed on the host's side.  The supervisor only reads
 * the host's addresses (link_host_inventory()) for the floor.  The IPv6
 * address is added with IFA_F_NODAD: nothing else could claim it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
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

/* ip route add default dev IFINDEX src SRC */
static int default_route_add(struct nl_sock *sk, int ifindex, int family,
			     const void *src)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *r = rtnl_route_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *dst = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *pref = NULL;
	struct in6_addr any = IN6ADDR_ANY_INIT;
	size_t len = family == AF_INET ? 4 : 16;
	struct rtnl_nexthop *nh;
	int err;

	dst = nl_addr_build(family, &any, len);
	pref = nl_addr_build(family, src, len);
	nh = rtnl_route_nh_alloc();
	if (!r || !dst || !pref || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return -ENOMEM;
	}
	nl_addr_set_prefixlen(dst, 0);
	rtnl_route_set_family(r, (uint8_t)family);
	rtnl_route_set_dst(r, dst);
	rtnl_route_set_pref_src(r, pref);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh); /* r owns nh now */
	err = rtnl_route_add(sk, r, NLM_F_CREATE);
	return err < 0 ? nlerr_to_errno(err) : 0;
}

/**
 * link_job_configure() - the job's whole network: lo, its addresses and
 * default routes through it, in the current netns
 * @net:	the job's addresses, NULL for loopback only
 *
 *   ip link set lo up
 *   ip addr add JOB4/32 dev lo; ip addr add JOB6/128 dev lo nodad
 *   ip route add default dev lo src JOB4
 *   ip -6 route add default dev lo src JOB6
 *
 * Every non-local destination is then routed into lo, where the job's
 * nftables redirect it to the relay's sockets (netns/nft.c) or drop it.
 * The addresses also make glibc's AI_ADDRCONFIG answer both families.
 *
 * Return: 0, or negative errno
 */
int link_job_configure(const struct job_net *net)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int ifindex = (int)if_nametoindex("lo");
	int err;

	if (!ifindex)
		return negative_errno();
	err = route_socket(&sk);
	if (err < 0)
		return err;
	err = link_set_up(sk, ifindex);
	if (err < 0 || !net)
		return err;
	err = addr_add(sk, ifindex, AF_INET, &net->job4, 32);
	if (!err)
		err = addr_add(sk, ifindex, AF_INET6, &net->job6, 128);
	if (!err)
		err = default_route_add(sk, ifindex, AF_INET, &net->job4);
	if (!err)
		err = default_route_add(sk, ifindex, AF_INET6, &net->job6);
	return err;
}

/**
 * job_net_default() - the fixed addresses of every job (nothing with them
 * ever leaves the job's namespace)
 * @ret:	filled in
 */
void job_net_default(struct job_net *ret)
{
	memset(ret, 0, sizeof(*ret));
	(void)inet_pton(AF_INET, JOB_ADDR4, &ret->job4);
	(void)inet_pton(AF_INET, JOB_NAMESERVER4, &ret->nameserver4);
	(void)inet_pton(AF_INET6, JOB_ADDR6, &ret->job6);
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
 * link_host_inventory() - the addresses of the current netns (for the floor)
 * @ret:	filled in; free with link_host_inventory_free()
 *
 * Return: 0, or negative errno
 */
int link_host_inventory(struct host_inventory *ret)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_(nl_cache_freep) struct nl_cache *addrs = NULL;
	struct host_inventory inv = { 0 };
	struct nl_object *o;
	int err;

	err = route_socket(&sk);
	if (err < 0)
		return err;
	err = rtnl_addr_alloc_cache(sk, &addrs);
	if (err < 0)
		return nlerr_to_errno(err);
	inv.addrs = calloc((size_t)nl_cache_nitems(addrs) + 1, sizeof(*inv.addrs));
	if (!inv.addrs)
		return -ENOMEM;
	for (o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct nl_addr *local = rtnl_addr_get_local((struct rtnl_addr *)o);
		struct nbj_prefix p;

		if (!local || nl_to_prefix(local, &p) < 0)
			continue;
		inv.addrs[inv.n_addrs++] = p.addr;
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
	memset(inv, 0, sizeof(*inv));
}

/**
 * job_net_prefixes() - the prefixes of the jobs' addresses, for the floor
 * (class "job": no job reaches another job's address, or its own, outside)
 * @ret:	IPv4 and IPv6 prefix
 */
void job_net_prefixes(struct nbj_prefix ret[2])
{
	struct job_net n;

	job_net_default(&n);
	memset(ret, 0, 2 * sizeof(*ret));
	ret[0].addr.family = AF_INET;
	ret[0].addr.v4 = n.job4;
	ret[0].addr.v4.s_addr &= htonl(0xfffffffc);
	ret[0].prefixlen = 30;
	ret[1].addr.family = AF_INET6;
	ret[1].addr.v6 = n.job6;
	memset(&ret[1].addr.v6.s6_addr[8], 0, 8);
	ret[1].prefixlen = 64;
}
