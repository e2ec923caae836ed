/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/nft.c - nftables rulesets through libnftnl + libmnl
 *
 * Theory of operation: every change is ONE nfnetlink batch (BEGIN ...
 * END), so the kernel applies all of it or nothing.  Every message asks
 * for an ack; after sending, the acks are drained and the first error is
 * returned as a negative errno (mnl_cb_run() checks sequence numbers and
 * the port id).  Rules are built expression by expression; each builder
 * carries the equivalent nft syntax in its comment.
 *
 * Host netns, table inet nbjail, shared by all jobs:
 *
 *   chain input   { type filter hook input priority 0; policy accept;
 *                   iifname "nbh*" ct status dnat accept
 *                   iifname "nbh*" ct direction reply accept
 *                   iifname "nbh*" icmpv6 type nd-neighbor-solicit accept
 *                   iifname "nbh*" icmpv6 type nd-neighbor-advert accept
 *                   iifname "nbh*" drop }
 *   chain forward { type filter hook forward priority 0; policy accept;
 *                   iifname "nbh*" drop
 *                   oifname "nbh*" drop }
 *   map jobs      { type ifname : verdict; }   # "nbhID" : jump job_ID
 *   chain prerouting { type nat hook prerouting priority -100;
 *                   iifname vmap @jobs }
 *   chain job_ID  { iifname "nbhID" meta l4proto tcp redirect to :TCP  # per job
 *                   iifname "nbhID" udp dport 53 redirect to :DNS }
 *
 * The job chains are regular chains reached through the map: adding or
 * removing a job registers no netfilter hook (a base chain per job cost
 * some 3 ms at each start and 1.5 ms at each end, an RCU grace period).
 *
 * Only our own redirects set "ct status dnat" on packets from nbh*, so a
 * job whose chain is missing has no way in at all (fail closed).  Packets
 * in the reply direction answer connections the host opened (the relay
 * connecting a published port); a job cannot start one of those.  The
 * shared chains are flushed and refilled inside each job's add batch:
 * idempotent under concurrent starts, never momentarily empty.
 *
 * Job netns, table inet nbjail, see nft_guest_install().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/icmp6.h>

#include "common/log.h"
#include "netns/nft.h"
#include "policy/policy.h"

#define NFT_BATCH_PAGE (MNL_SOCKET_BUFFER_SIZE * 2)
#define CT_STATE_ESTABLISHED_RELATED 0x6 /* NF_CT_STATE_BIT(EST | REL) */

/**
 * struct nft_batch - one transaction being built
 * @b:		libnftnl batch
 * @seq:	next sequence number
 * @n_acks:	messages that will be acked
 * @oom:	an allocation failed while building
 */
struct nft_batch {
	struct nftnl_batch *b;
	uint32_t seq;
	unsigned n_acks;
	bool oom;
};

static int batch_init(struct nft_batch *nb)
{
	memset(nb, 0, sizeof(*nb));
	nb->b = nftnl_batch_alloc(NFT_BATCH_PAGE, MNL_SOCKET_BUFFER_SIZE);
	if (!nb->b)
		return -ENOMEM;
	nb->seq = (uint32_t)time(NULL);
	nftnl_batch_begin(nftnl_batch_buffer(nb->b), nb->seq++);
	nftnl_batch_update(nb->b);
	return 0;
}

static void batch_free(struct nft_batch *nb)
{
	if (nb->b)
		nftnl_batch_free(nb->b);
	nb->b = NULL;
}

static struct nlmsghdr *batch_msg(struct nft_batch *nb, uint16_t type,
				  uint16_t flags)
{
	nb->n_acks++;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(nb->b), type,
				     NFPROTO_INET, flags | NLM_F_ACK, nb->seq++);
}

static void batch_table(struct nft_batch *nb, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t) {
		nb->oom = true;
		return;
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nlh = batch_msg(nb, type, flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	nftnl_batch_update(nb->b);
}

/* @type NULL: a regular chain; else a base chain with hook and policy */
static void batch_chain(struct nft_batch *nb, uint16_t msg, uint16_t flags,
			const char *name, const char *type, uint32_t hook,
			int32_t prio, uint32_t policy)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c) {
		nb->oom = true;
		return;
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (type) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	}
	nlh = batch_msg(nb, msg, flags);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	nftnl_batch_update(nb->b);
}

/* NFT_MSG_DELRULE with only table and chain: flush the chain */
static void batch_flush(struct nft_batch *nb, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r) {
		nb->oom = true;
		return;
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = batch_msg(nb, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	nftnl_batch_update(nb->b);
}

#define JOBS_MAP "jobs"
#define JOBS_MAP_ID 1		/* names the map within one batch */
#define NFT_TYPE_IFNAME 41	/* nft's datatype number for ifname keys */

/* map jobs { type ifname : verdict } (created if missing) */
static void batch_jobs_map(struct nft_batch *nb)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_udata_buf *udata;
	struct nlmsghdr *nlh;

	if (!set) {
		nb->oom = true;
		return;
	}
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, JOBS_MAP);
	nftnl_set_set_u32(set, NFTNL_SET_ID, JOBS_MAP_ID);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, NFT_TYPE_IFNAME);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, IFNAMSIZ);
	nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, 0);
	/* so that `nft list` shows the names (host byte order strings) */
	udata = nftnl_udata_buf_alloc(64);
	if (udata && nftnl_udata_put_u32(udata, NFTNL_UDATA_SET_KEYBYTEORDER, 1))
		nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata),
				   nftnl_udata_buf_len(udata));
	nftnl_udata_buf_free(udata);
	nlh = batch_msg(nb, NFT_MSG_NEWSET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nftnl_batch_update(nb->b);
}

/* add or delete the element { "IFNAME" : jump CHAIN } of map jobs */
static void batch_jobs_elem(struct nft_batch *nb, uint16_t msg, const char *ifname,
			    const char *chain)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	char key[IFNAMSIZ] = { 0 };
	struct nlmsghdr *nlh;

	if (!set || !e) {
		nftnl_set_free(set);
		nftnl_set_elem_free(e);
		nb->oom = true;
		return;
	}
	snprintf(key, sizeof(key), "%s", ifname);
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, JOBS_MAP);
	nftnl_set_set_u32(set, NFTNL_SET_ID, JOBS_MAP_ID);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	if (msg == NFT_MSG_NEWSETELEM) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	}
	nftnl_set_elem_add(set, e); /* the set owns it now */
	nlh = batch_msg(nb, msg, msg == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nftnl_batch_update(nb->b);
}

/**
 * struct rule - a rule being built, expression by expression
 * @r:		libnftnl rule
 * @oom:	an allocation failed
 */
struct rule {
	struct nftnl_rule *r;
	bool oom;
};

static void rule_begin(struct rule *rl, const char *chain)
{
	rl->oom = false;
	rl->r = nftnl_rule_alloc();
	if (!rl->r) {
		rl->oom = true;
		return;
	}
	nftnl_rule_set_u32(rl->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(rl->r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_str(rl->r, NFTNL_RULE_CHAIN, chain);
}

static struct nftnl_expr *expr(struct rule *rl, const char *name)
{
	struct nftnl_expr *e;

	if (!rl->r)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (!e)
		rl->oom = true;
	return e;
}

static void expr_add(struct rule *rl, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(rl->r, e);
}

/* meta KEY -> reg1 */
static void meta(struct rule *rl, uint32_t key)
{
	struct nftnl_expr *e = expr(rl, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	expr_add(rl, e);
}

/* reg1 OP DATA */
static void cmp(struct rule *rl, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(rl, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	expr_add(rl, e);
}

/* reg1 vmap @NAME: the verdict of reg1's element, if any */
static void vmap_lookup(struct rule *rl, const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = expr(rl, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	expr_add(rl, e);
}

/* @BASE,OFFSET,LEN -> reg1 */
static void payload(struct rule *rl, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = expr(rl, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	expr_add(rl, e);
}

/* ct KEY -> reg1; reg1 &= MASK; reg1 != 0 */
static void ct_bits_any(struct rule *rl, uint32_t key, uint32_t mask)
{
	struct nftnl_expr *c = expr(rl, "ct"), *b;
	uint32_t zero = 0;

	if (!c)
		return;
	nftnl_expr_set_u32(c, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	expr_add(rl, c);
	b = expr(rl, "bitwise");
	if (!b)
		return;
	nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
	nftnl_expr_set(b, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(b, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	expr_add(rl, b);
	cmp(rl, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* ct KEY == VALUE, for one-byte keys (direction) */
static void ct_u8_is(struct rule *rl, uint32_t key, uint8_t value)
{
	struct nftnl_expr *c = expr(rl, "ct");

	if (!c)
		return;
	nftnl_expr_set_u32(c, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	expr_add(rl, c);
	cmp(rl, NFT_CMP_EQ, &value, sizeof(value));
}

/* accept / drop */
static void verdict(struct rule *rl, int v)
{
	struct nftnl_expr *e = expr(rl, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	expr_add(rl, e);
}

/* reject with icmpx admin-prohibited */
static void reject_admin(struct rule *rl)
{
	struct nftnl_expr *e = expr(rl, "reject");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	expr_add(rl, e);
}

/* redirect to :PORT */
static void redirect(struct rule *rl, uint16_t port)
{
	struct nftnl_expr *imm = expr(rl, "immediate"), *r;
	uint16_t nport = htons(port);

	if (!imm)
		return;
	nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &nport, sizeof(nport));
	expr_add(rl, imm);
	r = expr(rl, "redir");
	if (!r)
		return;
	nftnl_expr_set_u32(r, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	expr_add(rl, r);
}

/* snat FAMILY to :LO-HI (the address stays, the source port is mapped) */
static void snat_ports(struct rule *rl, uint32_t family, uint16_t lo, uint16_t hi)
{
	struct nftnl_expr *a = expr(rl, "immediate"), *b, *n;
	uint16_t nlo = htons(lo), nhi = htons(hi);

	if (!a)
		return;
	nftnl_expr_set_u32(a, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(a, NFTNL_EXPR_IMM_DATA, &nlo, sizeof(nlo));
	expr_add(rl, a);
	b = expr(rl, "immediate");
	if (!b)
		return;
	nftnl_expr_set_u32(b, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
	nftnl_expr_set(b, NFTNL_EXPR_IMM_DATA, &nhi, sizeof(nhi));
	expr_add(rl, b);
	n = expr(rl, "nat");
	if (!n)
		return;
	nftnl_expr_set_u32(n, NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
	nftnl_expr_set_u32(n, NFTNL_EXPR_NAT_FAMILY, family);
	nftnl_expr_set_u32(n, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_1);
	nftnl_expr_set_u32(n, NFTNL_EXPR_NAT_REG_PROTO_MAX, NFT_REG_2);
	nftnl_expr_set_u32(n, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	expr_add(rl, n);
}

/* iifname/oifname "PREFIX*" */
static void ifname_prefix(struct rule *rl, uint32_t key, const char *prefix)
{
	meta(rl, key);
	cmp(rl, NFT_CMP_EQ, prefix, (uint32_t)strlen(prefix));
}

/* iifname/oifname "NAME" */
static void ifname_is(struct rule *rl, uint32_t key, const char *name)
{
	char buf[IFNAMSIZ] = { 0 };

	snprintf(buf, sizeof(buf), "%s", name);
	meta(rl, key);
	cmp(rl, NFT_CMP_EQ, buf, sizeof(buf));
}

/* meta l4proto PROTO */
static void l4proto(struct rule *rl, uint8_t proto)
{
	meta(rl, NFT_META_L4PROTO);
	cmp(rl, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* icmpv6 type TYPE */
static void icmpv6_type(struct rule *rl, uint8_t type)
{
	l4proto(rl, IPPROTO_ICMPV6);
	payload(rl, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
	cmp(rl, NFT_CMP_EQ, &type, sizeof(type));
}

/* udp dport PORT */
static void udp_dport(struct rule *rl, uint16_t port)
{
	uint16_t nport = htons(port);

	l4proto(rl, IPPROTO_UDP);
	payload(rl, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	cmp(rl, NFT_CMP_EQ, &nport, sizeof(nport));
}

/* tcp dport PORT */
static void tcp_dport(struct rule *rl, uint16_t port)
{
	uint16_t nport = htons(port);

	l4proto(rl, IPPROTO_TCP);
	payload(rl, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	cmp(rl, NFT_CMP_EQ, &nport, sizeof(nport));
}

static void rule_commit(struct nft_batch *nb, struct rule *rl)
{
	struct nlmsghdr *nlh;

	if (rl->oom || !rl->r) {
		nb->oom = true;
	} else {
		nlh = batch_msg(nb, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
		nftnl_rule_nlmsg_build_payload(nlh, rl->r);
		nftnl_batch_update(nb->b);
	}
	if (rl->r)
		nftnl_rule_free(rl->r);
	rl->r = NULL;
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* Send the batch and collect every ack; the first error wins. */
static int batch_send(struct nft_batch *nb)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned portid, acked = 0;
	int err = 0;

	nftnl_batch_end(nftnl_batch_buffer(nb->b), nb->seq++);
	nftnl_batch_update(nb->b);
	if (nb->oom)
		return -ENOMEM;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = negative_errno();
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	{
		struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
		int iovlen = nftnl_batch_iovec_len(nb->b);
		struct iovec iov[iovlen];
		struct msghdr msg = {
			.msg_name = &kernel,
			.msg_namelen = sizeof(kernel),
			.msg_iov = iov,
			.msg_iovlen = (size_t)iovlen,
		};

		nftnl_batch_iovec(nb->b, iov, (uint32_t)iovlen);
		if (sendmsg(mnl_socket_get_fd(nl), &msg, 0) < 0) {
			err = negative_errno();
			goto out;
		}
	}
	/* the kernel has processed the whole batch when sendto returns */
	while (acked < nb->n_acks) {
		ssize_t n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh;
		size_t left;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				err = negative_errno();
			break;
		}
		left = (size_t)n;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)left);
		     nlh = mnl_nlmsg_next(nlh, (int *)&left)) {
			if (nlh->nlmsg_pid != portid && nlh->nlmsg_pid != 0) {
				err = -EPROTO;
				goto out;
			}
			if (mnl_cb_run(nlh, nlh->nlmsg_len, nlh->nlmsg_seq, portid,
				       ack_cb, NULL) < 0) {
				err = negative_errno();
				goto out;
			}
			acked++;
		}
	}
out:
	mnl_socket_close(nl);
	return err;
}

/* The shared chains: created if missing, flushed and refilled. */
static void host_shared_chains(struct nft_batch *nb)
{
	struct rule rl;

	batch_table(nb, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	batch_chain(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "input", "filter",
		    NF_INET_LOCAL_IN, 0, NF_ACCEPT);
	batch_chain(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "forward", "filter",
		    NF_INET_FORWARD, 0, NF_ACCEPT);
	batch_chain(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "prerouting", "nat",
		    NF_INET_PRE_ROUTING, -100, NF_ACCEPT);
	batch_jobs_map(nb);
	batch_flush(nb, "input");
	batch_flush(nb, "forward");
	batch_flush(nb, "prerouting");

	/* iifname vmap @jobs */
	rule_begin(&rl, "prerouting");
	meta(&rl, NFT_META_IIFNAME);
	vmap_lookup(&rl, JOBS_MAP, JOBS_MAP_ID);
	rule_commit(nb, &rl);

	/* iifname "nbh*" ct status dnat accept */
	rule_begin(&rl, "input");
	ifname_prefix(&rl, NFT_META_IIFNAME, HOST_IFNAME_PREFIX);
	ct_bits_any(&rl, NFT_CT_STATUS, IPS_DST_NAT);
	verdict(&rl, NF_ACCEPT);
	rule_commit(nb, &rl);

	/* iifname "nbh*" ct direction reply accept */
	rule_begin(&rl, "input");
	ifname_prefix(&rl, NFT_META_IIFNAME, HOST_IFNAME_PREFIX);
	ct_u8_is(&rl, NFT_CT_DIRECTION, IP_CT_DIR_REPLY);
	verdict(&rl, NF_ACCEPT);
	rule_commit(nb, &rl);

	/* iifname "nbh*" icmpv6 type nd-neighbor-{solicit,advert} accept */
	for (int i = 0; i < 2; i++) {
		rule_begin(&rl, "input");
		ifname_prefix(&rl, NFT_META_IIFNAME, HOST_IFNAME_PREFIX);
		icmpv6_type(&rl, i ? ND_NEIGHBOR_ADVERT : ND_NEIGHBOR_SOLICIT);
		verdict(&rl, NF_ACCEPT);
		rule_commit(nb, &rl);
	}

	/* iifname "nbh*" drop */
	rule_begin(&rl, "input");
	ifname_prefix(&rl, NFT_META_IIFNAME, HOST_IFNAME_PREFIX);
	verdict(&rl, NF_DROP);
	rule_commit(nb, &rl);

	/* iifname "nbh*" drop; oifname "nbh*" drop */
	rule_begin(&rl, "forward");
	ifname_prefix(&rl, NFT_META_IIFNAME, HOST_IFNAME_PREFIX);
	verdict(&rl, NF_DROP);
	rule_commit(nb, &rl);
	rule_begin(&rl, "forward");
	ifname_prefix(&rl, NFT_META_OIFNAME, HOST_IFNAME_PREFIX);
	verdict(&rl, NF_DROP);
	rule_commit(nb, &rl);
}

/**
 * nft_host_add_job() - install the shared chains and a job's redirects
 * @job:	job parameters
 *
 * One batch.  Fails with -EEXIST if the job's chain exists already.
 *
 * Return: 0, or negative errno
 */
int nft_host_add_job(const struct nft_host_job *job)
{
	char chain[64];
	struct nft_batch nb;
	struct rule rl;
	int err;

	snprintf(chain, sizeof(chain), NFT_JOB_CHAIN_PREFIX "%s", job->job_id);
	err = batch_init(&nb);
	if (err < 0)
		return err;
	host_shared_chains(&nb);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, chain, NULL, 0, 0, 0);

	/* iifname "nbhID" meta l4proto tcp redirect to :TCP */
	rule_begin(&rl, chain);
	ifname_is(&rl, NFT_META_IIFNAME, job->host_ifname);
	l4proto(&rl, IPPROTO_TCP);
	redirect(&rl, job->relay_tcp_port);
	rule_commit(&nb, &rl);

	/* iifname "nbhID" udp dport 53 redirect to :DNS */
	rule_begin(&rl, chain);
	ifname_is(&rl, NFT_META_IIFNAME, job->host_ifname);
	udp_dport(&rl, 53);
	redirect(&rl, job->relay_dns_port);
	rule_commit(&nb, &rl);

	/* jobs: "nbhID" : jump job_ID */
	batch_jobs_elem(&nb, NFT_MSG_NEWSETELEM, job->host_ifname, chain);

	err = batch_send(&nb);
	batch_free(&nb);
	return err;
}

/**
 * nft_host_del_job() - delete a job's chain (flushed first), one batch
 * @job_id:	job identifier
 *
 * Return: 0, also when the chain or table does not exist; negative errno
 */
int nft_host_del_job(const char *job_id)
{
	char chain[64], ifname[IFNAMSIZ + 8];
	struct nft_batch nb;
	int err;

	snprintf(chain, sizeof(chain), NFT_JOB_CHAIN_PREFIX "%s", job_id);
	snprintf(ifname, sizeof(ifname), HOST_IFNAME_PREFIX "%s", job_id);
	err = batch_init(&nb);
	if (err < 0)
		return err;
	batch_jobs_elem(&nb, NFT_MSG_DELSETELEM, ifname, NULL);
	batch_flush(&nb, chain);
	batch_chain(&nb, NFT_MSG_DELCHAIN, 0, chain, NULL, 0, 0, 0);
	err = batch_send(&nb);
	batch_free(&nb);
	if (err == -ENOENT) {
		/* no element (a chain of an older nbjail, or half made):
		 * the chain alone */
		err = batch_init(&nb);
		if (err < 0)
			return err;
		batch_flush(&nb, chain);
		batch_chain(&nb, NFT_MSG_DELCHAIN, 0, chain, NULL, 0, 0, 0);
		err = batch_send(&nb);
		batch_free(&nb);
	}
	return err == -ENOENT ? 0 : err;
}

/**
 * nft_host_del_table() - delete table inet nbjail with everything in it
 *
 * Return: 0, also when it does not exist; negative errno
 */
int nft_host_del_table(void)
{
	struct nft_batch nb;
	int err = batch_init(&nb);

	if (err < 0)
		return err;
	batch_table(&nb, NFT_MSG_DELTABLE, 0);
	err = batch_send(&nb);
	batch_free(&nb);
	return err == -ENOENT ? 0 : err;
}

struct list_ctx {
	void (*cb)(const char *job_id, void *data);
	void *data;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_ctx *ctx = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *table, *name;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0) {
		table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
		name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		if (table && name && !strcmp(table, NFT_TABLE_NAME) &&
		    !strncmp(name, NFT_JOB_CHAIN_PREFIX, strlen(NFT_JOB_CHAIN_PREFIX)))
			ctx->cb(name + strlen(NFT_JOB_CHAIN_PREFIX), ctx->data);
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/**
 * nft_host_list_jobs() - call @cb for each job chain in table inet nbjail
 * @cb:		callback with the job id
 * @data:	passed to @cb
 *
 * Return: 0 (also without a table), or negative errno
 */
int nft_host_list_jobs(void (*cb)(const char *job_id, void *data), void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct list_ctx ctx = { cb, data };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);
	unsigned portid;
	int err = 0, ret;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = negative_errno();
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_INET,
				    NLM_F_DUMP, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = negative_errno();
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			err = negative_errno();
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, chain_cb, &ctx);
		if (ret < 0) {
			err = errno == ENOENT ? 0 : negative_errno();
			break;
		}
		if (ret == MNL_CB_STOP)
			break;
	}
out:
	mnl_socket_close(nl);
	return err;
}

/*
 * Overlay selection: the source port tells the relay which overlay the
 * calling process selected (the supervisor marked its socket):
 *
 *   chain postrouting { type nat hook postrouting priority 100;
 *     oifname IF meta nfproto ipv4|ipv6 meta l4proto tcp|udp
 *         meta mark MARK(i) snat to :RANGE(i)      # each overlay i
 *     oifname IF meta nfproto ipv4|ipv6 meta l4proto tcp|udp
 *         snat to :UNMARKED }                      # refused by the relay
 */
static void guest_select_snat(struct nft_batch *nb, const struct nft_guest *g)
{
	static const uint8_t families[] = { NFPROTO_IPV4, NFPROTO_IPV6 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct rule rl;

	batch_chain(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "postrouting", "nat",
		    NF_INET_POST_ROUTING, 100, NF_ACCEPT);
	for (size_t i = 0; i <= g->n_select_overlays; i++) {
		bool unmarked = i == g->n_select_overlays;
		uint32_t mark = SELECT_MARK_BASE + (uint32_t)i + 1;
		uint16_t lo = SELECT_PORT_UNMARKED,
			 hi = SELECT_PORT_UNMARKED + SELECT_PORT_UNMARKED_SPAN - 1;

		if (!unmarked)
			select_port_range((unsigned)i, &lo, &hi);
		for (size_t f = 0; f < 2; f++)
			for (size_t p = 0; p < 2; p++) {
				rule_begin(&rl, "postrouting");
				ifname_is(&rl, NFT_META_OIFNAME, g->ifname);
				meta(&rl, NFT_META_NFPROTO);
				cmp(&rl, NFT_CMP_EQ, &families[f], 1);
				l4proto(&rl, protos[p]);
				if (!unmarked) {
					meta(&rl, NFT_META_MARK);
					cmp(&rl, NFT_CMP_EQ, &mark, sizeof(mark));
				}
				snat_ports(&rl, families[f], lo, hi);
				rule_commit(nb, &rl);
			}
	}
}

/**
 * nft_guest_install() - the job's own ruleset, in the current netns
 * @g:	the job's interface and the relay's addresses
 *
 *   table inet nbjail {
 *     chain input  { type filter hook input priority 0; policy drop;
 *                    iif "lo" accept
 *                    ct state established,related accept
 *                    iifname IF icmpv6 type { nd-neighbor-solicit,
 *                        nd-neighbor-advert, nd-router-advert } accept
 *                    iifname IF tcp dport PUBLISHED accept }  # each
 *     chain forward { type filter hook forward priority 0; policy drop; }
 *     chain output { type filter hook output priority 0; policy drop;
 *                    oif "lo" accept
 *                    ct state established,related accept
 *                    oifname IF icmpv6 type { nd-neighbor-solicit,
 *                        nd-neighbor-advert, nd-router-solicit } accept
 *                    ip6 daddr ::/96 reject with icmpx admin-prohibited
 *                    oifname IF meta l4proto tcp accept
 *                    oifname IF udp dport 53 accept }
 *   }
 *
 * Every TCP connection and every DNS query may leave through IF because
 * the host redirects all of them to the relay (whatever their
 * destination, so resolvers hard-wired to some public server reach the
 * relay too); nothing else reaches the host end.  IPv4-compatible IPv6
 * destinations (::/96, deprecated by RFC 4291) are rejected here: the
 * kernel drops them before they could reach the relay, and the job
 * should get EACCES at once rather than a timeout.
 *
 * Return: 0, or negative errno
 */
int nft_guest_install(const struct nft_guest *g)
{
	static const uint8_t nd_in[] = { ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT,
					 ND_ROUTER_ADVERT };
	static const uint8_t nd_out[] = { ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT,
					  ND_ROUTER_SOLICIT };
	uint32_t lo = if_nametoindex("lo");
	struct nft_batch nb;
	struct rule rl;
	int err;

	if (!lo)
		return negative_errno();
	err = batch_init(&nb);
	if (err < 0)
		return err;
	batch_table(&nb, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "input", "filter",
		    NF_INET_LOCAL_IN, 0, NF_DROP);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "forward", "filter",
		    NF_INET_FORWARD, 0, NF_DROP);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "output", "filter",
		    NF_INET_LOCAL_OUT, 0, NF_DROP);

	for (int out = 0; out < 2; out++) {
		const char *chain = out ? "output" : "input";
		uint32_t ifkey = out ? NFT_META_OIF : NFT_META_IIF;
		uint32_t namekey = out ? NFT_META_OIFNAME : NFT_META_IIFNAME;
		const uint8_t *nd = out ? nd_out : nd_in;

		/* iif/oif "lo" accept */
		rule_begin(&rl, chain);
		meta(&rl, ifkey);
		cmp(&rl, NFT_CMP_EQ, &lo, sizeof(lo));
		verdict(&rl, NF_ACCEPT);
		rule_commit(&nb, &rl);

		/* ct state established,related accept */
		rule_begin(&rl, chain);
		ct_bits_any(&rl, NFT_CT_STATE, CT_STATE_ESTABLISHED_RELATED);
		verdict(&rl, NF_ACCEPT);
		rule_commit(&nb, &rl);

		/* iifname/oifname IF icmpv6 type ND accept */
		for (int i = 0; i < 3; i++) {
			rule_begin(&rl, chain);
			ifname_is(&rl, namekey, g->ifname);
			icmpv6_type(&rl, nd[i]);
			verdict(&rl, NF_ACCEPT);
			rule_commit(&nb, &rl);
		}
	}

	/* iifname IF tcp dport PUBLISHED accept: the relay connects them */
	for (size_t i = 0; i < g->n_publish_ports; i++) {
		rule_begin(&rl, "input");
		ifname_is(&rl, NFT_META_IIFNAME, g->ifname);
		tcp_dport(&rl, g->publish_ports[i]);
		verdict(&rl, NF_ACCEPT);
		rule_commit(&nb, &rl);
	}

	if (g->n_select_overlays)
		guest_select_snat(&nb, g);

	/* ip6 daddr ::/96 reject with icmpx admin-prohibited */
	rule_begin(&rl, "output");
	meta(&rl, NFT_META_NFPROTO);
	cmp(&rl, NFT_CMP_EQ, &(uint8_t){ NFPROTO_IPV6 }, 1);
	payload(&rl, NFT_PAYLOAD_NETWORK_HEADER, 24, 12);
	cmp(&rl, NFT_CMP_EQ, (const uint8_t[12]){ 0 }, 12);
	reject_admin(&rl);
	rule_commit(&nb, &rl);

	/* oifname IF meta l4proto tcp accept */
	rule_begin(&rl, "output");
	ifname_is(&rl, NFT_META_OIFNAME, g->ifname);
	l4proto(&rl, IPPROTO_TCP);
	verdict(&rl, NF_ACCEPT);
	rule_commit(&nb, &rl);

	/* oifname IF udp dport 53 accept */
	rule_begin(&rl, "output");
	ifname_is(&rl, NFT_META_OIFNAME, g->ifname);
	udp_dport(&rl, 53);
	verdict(&rl, NF_ACCEPT);
	rule_commit(&nb, &rl);

	err = batch_send(&nb);
	batch_free(&nb);
	return err;
}
