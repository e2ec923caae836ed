/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/conntrack.c - forget the connections of a job's addresses
 *
 * Theory of operation: the host's redirect to the relay is a NAT binding
 * kept in the host's conntrack table.  A job's flows rarely end cleanly
 * there: when the job's netns goes, its sockets vanish without FIN or RST
 * reaching the host, so entries stay (ESTABLISHED for days).  The next job
 * on the same address slot may pick the same source port; its SYN would
 * then follow the old binding to the old relay's port and be reset.  So
 * a slot whose job connected anywhere is marked dirty when the job ends
 * (or by gc), jobs take clean slots first, and before a dirty slot is
 * used again every entry whose original source is one of its job
 * addresses is deleted (a dump walks the whole table: some 2 ms per
 * family, kept off the way in and out of most jobs): one
 * ctnetlink dump, filtered by the kernel on the source address
 * (CTA_FILTER, Linux 5.10+; checked here as well), then one delete per
 * entry with its original tuple.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <libmnl/libmnl.h>

#include "common/util.h"
#include "netns/conntrack.h"

/* CTA_FILTER_ORIG_FLAGS bits, internal to the kernel's ctnetlink (not in
 * the UAPI headers): filter on the original source address */
#define CT_FILTER_IP_SRC (1U << 0)

#define CT_BATCH_MAX 4096	/* entries deleted per call; more are rare */
#define CT_TUPLE_MAX 128	/* bytes of one CTA_TUPLE_ORIG attribute */

/**
 * struct ct_dump - entries to delete, collected during the dump
 * @src:	the job address
 * @n:		entries collected
 * @len:	length of each tuple attribute
 * @tuple:	the CTA_TUPLE_ORIG attributes, copied whole
 */
struct ct_dump {
	const struct nbj_addr *src;
	size_t n;
	uint16_t len[CT_BATCH_MAX];
	unsigned char tuple[CT_BATCH_MAX][CT_TUPLE_MAX];
};

static struct nlmsghdr *ct_header(char *buf, uint16_t type, uint16_t flags,
				  int family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

static void put_orig_src(struct nlmsghdr *nlh, const struct nbj_addr *a)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);

	if (a->family == AF_INET)
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, &a->v4);
	else
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, &a->v6);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_nest_end(nlh, t);
}

/* Does this CTA_TUPLE_ORIG have @src as its source? */
static bool tuple_has_src(const struct nlattr *tuple, const struct nbj_addr *src)
{
	const struct nlattr *ip, *a;

	mnl_attr_for_each_nested(ip, tuple) {
		if (mnl_attr_get_type(ip) != CTA_TUPLE_IP)
			continue;
		mnl_attr_for_each_nested(a, ip) {
			if (src->family == AF_INET && mnl_attr_get_type(a) == CTA_IP_V4_SRC &&
			    mnl_attr_get_payload_len(a) == 4)
				return !memcmp(mnl_attr_get_payload(a), &src->v4, 4);
			if (src->family == AF_INET6 && mnl_attr_get_type(a) == CTA_IP_V6_SRC &&
			    mnl_attr_get_payload_len(a) == 16)
				return !memcmp(mnl_attr_get_payload(a), &src->v6, 16);
		}
	}
	return false;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_dump *d = data;
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		uint16_t len = attr->nla_len;

		if (mnl_attr_get_type(attr) != CTA_TUPLE_ORIG)
			continue;
		if (!tuple_has_src(attr, d->src) || len > CT_TUPLE_MAX || d->n == CT_BATCH_MAX)
			break;
		memcpy(d->tuple[d->n], attr, len);
		d->len[d->n++] = len;
		break;
	}
	return MNL_CB_OK;
}

static int flush_one(struct mnl_socket *nl, const struct nbj_addr *src,
		     struct ct_dump *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t seq = (uint32_t)time(NULL), portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh = ct_header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, src->family, seq);
	struct nlattr *filter;
	ssize_t n;
	int r;

	put_orig_src(nlh, src);
	filter = mnl_attr_nest_start(nlh, CTA_FILTER);
	mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, CT_FILTER_IP_SRC);
	mnl_attr_nest_end(nlh, filter);
	d->src = src;
	d->n = 0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		r = mnl_cb_run(buf, (size_t)n, seq, portid, dump_cb, d);
		if (r <= MNL_CB_STOP)
			break;
	}
	if (n < 0)
		return negative_errno();
	for (size_t i = 0; i < d->n; i++) {
		nlh = ct_header(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, src->family, ++seq);
		memcpy((char *)nlh + nlh->nlmsg_len, d->tuple[i], d->len[i]);
		nlh->nlmsg_len += MNL_ALIGN(d->len[i]);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
			return negative_errno();
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		/* ENOENT: the entry went meanwhile */
		if (n > 0)
			(void)mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
	}
	return (int)d->n;
}

/**
 * conntrack_flush_sources() - delete the host's conntrack entries whose
 * original source is one of @srcs
 * @srcs:	the job's addresses
 * @n:		their number
 *
 * Return: entries deleted, or negative errno (-EPROTONOSUPPORT when the
 * kernel has no conntrack: then there is nothing to forget either)
 */
int conntrack_flush_sources(const struct nbj_addr *srcs, size_t n)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct ct_dump *d;
	int total = 0, r = 0;

	if (!nl)
		return negative_errno();
	d = calloc(1, sizeof(*d));
	if (!d || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = d ? negative_errno() : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = flush_one(nl, &srcs[i], d);
		if (r > 0)
			total += r;
	}
out:
	free(d);
	mnl_socket_close(nl);
	return r < 0 ? r : total;
}
