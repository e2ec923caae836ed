/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/hostaddr.c - the host's own addresses, kept current by netlink
 *
 * Theory of operation: the floor contains every address of the host
 * itself, and addresses come and go (DHCP, VPNs, other jobs' veths).  The
 * relay opens a NETLINK_ROUTE socket subscribed to the IPv4 and IPv6
 * address groups, then asks for a dump of all addresses on the same
 * socket: whatever arrives, dump reply or notification, RTM_NEWADDR adds
 * an address and RTM_DELADDR removes it, so no change can fall between
 * the dump and the subscription.  The list is a fixed array in the relay
 * context.
 *
 * Fail closed: until the first dump is complete, after the socket
 * overflowed (ENOBUFS: changes were lost), or if the host has more than
 * HOST_ADDRS_MAX addresses, @c->floor_unknown is set and every decision
 * is a deny (reason floor-unknown) until a fresh dump completes.
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "common/log.h"
#include "relay/relay_int.h"

static int dump_request(struct relay_ctx *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = c->hostaddr_seq = (uint32_t)time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	c->floor_unknown = true;
	c->hostaddr_dumping = true;
	c->n_host = 0; /* the dump brings back every address */
	if (mnl_socket_sendto(c->hostaddr, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	return 0;
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) >= 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static void host_add(struct relay_ctx *c, const struct nbj_addr *a)
{
	for (size_t i = 0; i < c->n_host; i++)
		if (nbj_addr_equal_ip(&c->host[i], a))
			return;
	if (c->n_host == HOST_ADDRS_MAX) {
		if (!c->floor_unknown)
			log_err("more than %d host addresses: denying everything",
				HOST_ADDRS_MAX);
		c->floor_unknown = true;
		c->host_overflow = true;
		return;
	}
	c->host[c->n_host++] = *a;
}

static void host_del(struct relay_ctx *c, const struct nbj_addr *a)
{
	for (size_t i = 0; i < c->n_host; i++) {
		if (nbj_addr_equal_ip(&c->host[i], a)) {
			c->host[i] = c->host[--c->n_host];
			return;
		}
	}
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct relay_ctx *c = data;
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *at;
	struct nbj_addr a = { 0 };

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, tb) < 0)
		return MNL_CB_OK;
	/* IPv4: IFA_LOCAL is ours (IFA_ADDRESS is the peer on point-to-point) */
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at)
		return MNL_CB_OK;
	if (ifa->ifa_family == AF_INET && mnl_attr_get_payload_len(at) == 4) {
		a.family = AF_INET;
		memcpy(&a.v4, mnl_attr_get_payload(at), 4);
	} else if (ifa->ifa_family == AF_INET6 && mnl_attr_get_payload_len(at) == 16) {
		a.family = AF_INET6;
		memcpy(&a.v6, mnl_attr_get_payload(at), 16);
	} else {
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type == RTM_NEWADDR)
		host_add(c, &a);
	else
		host_del(c, &a);
	return MNL_CB_OK;
}

/* Read everything queued; 0, or -EAGAIN-free negative errno */
static int drain(struct relay_ctx *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->hostaddr, buf, sizeof(buf));
		const struct nlmsghdr *nlh;
		int left;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == ENOBUFS) {
				log_warn("host address notifications overflowed: re-reading");
				return dump_request(c);
			}
			return negative_errno();
		}
		left = (int)n;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type == NLMSG_DONE && c->hostaddr_dumping &&
			    nlh->nlmsg_seq == c->hostaddr_seq) {
				c->hostaddr_dumping = false;
				c->floor_unknown = c->host_overflow;
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				log_warn("host address dump failed: re-reading");
				return dump_request(c);
			}
			(void)addr_cb(nlh, c);
		}
	}
}

/**
 * hostaddr_init() - subscribe to address changes and read all addresses
 * @c:	relay context; @c->epfd must exist
 *
 * Waits up to a second for the first dump, so that the relay starts with
 * a known floor; if it does not complete, decisions are denies until it
 * does.
 *
 * Return: 0, or negative errno
 */
int hostaddr_init(struct relay_ctx *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = RELAY_EV(RELAY_EV_HOSTADDR, 0),
	};
	int err;

	c->floor_unknown = true;
	c->floor.host = c->host;
	c->floor.job_nets = c->cfg->job_nets;
	c->floor.n_job_nets = c->cfg->n_job_nets;
	c->hostaddr = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!c->hostaddr)
		return negative_errno();
	if (mnl_socket_bind(c->hostaddr, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
			    MNL_SOCKET_AUTOPID) < 0)
		return negative_errno();
	err = dump_request(c);
	if (err < 0)
		return err;
	for (int i = 0; i < 100 && c->hostaddr_dumping; i++) {
		struct pollfd p = { .fd = mnl_socket_get_fd(c->hostaddr), .events = POLLIN };

		if (poll(&p, 1, 10) > 0) {
			err = drain(c);
			if (err < 0)
				return err;
		}
	}
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(c->hostaddr), &ev) < 0)
		return negative_errno();
	return 0;
}

/**
 * hostaddr_floor() - the floor as it is now, or NULL while it is unknown
 * @c:	relay context
 *
 * Return: the floor context to decide with; NULL means deny everything
 */
const struct floor_ctx *hostaddr_floor(struct relay_ctx *c)
{
	if (c->floor_unknown)
		return NULL;
	c->floor.n_host = c->n_host;
	return &c->floor;
}

/**
 * hostaddr_event() - address notifications (or dump replies) arrived
 * @c:	relay context
 */
void hostaddr_event(struct relay_ctx *c)
{
	int err = drain(c);

	if (err < 0) {
		log_err("host address tracking failed: %s; denying everything",
			strerror(-err));
		c->floor_unknown = true;
	}
}
