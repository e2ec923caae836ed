/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/nft.c - nftables rulesets through libnftnl + libmnl
 *
 * Theory of operation: the job's whole ruleset is ONE nfnetlink batch
 * (BEGIN ... END), sent by the job's init inside the job's network
 * namespace before the workload exists, so the kernel applies all of it
 * or nothing.  Every message asks for an ack; after sending, the acks
 * are drained and the first error is returned as a negative errno.
 * Rules are built expression by expression; each builder carries the
 * equivalent nft syntax in its comment.  The host's namespace has no
 * nbjail ruleset at all: the job has no link to it (netns/link.c).
 *
 * The ruleset is in nft_job_install().
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
#include <linux/rtnetlink.h>
#include <linux/netfilter/nfnetlink.h>

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

/* meta l4proto PROTO */
static void l4proto(struct rule *rl, uint8_t proto)
{
	meta(rl, NFT_META_L4PROTO);
	cmp(rl, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* udp dport PORT */
static void udp_dport(struct rule *rl, uint16_t port)
{
	uint16_t nport = htons(port);

	l4proto(rl, IPPROTO_UDP);
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

/* fib daddr type local (after any NAT of this hook) */
static void fib_daddr_local(struct rule *rl)
{
	struct nftnl_expr *e = expr(rl, "fib");
	uint32_t local = RTN_LOCAL;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	expr_add(rl, e);
	cmp(rl, NFT_CMP_EQ, &local, sizeof(local));
}

/* counter */
static void counter(struct rule *rl)
{
	expr_add(rl, expr(rl, "counter"));
}

/*
 * Overlay selection: the source port tells the relay which overlay the
 * calling process selected (the supervisor marked its socket):
 *
 *   chain postrouting { type nat hook postrouting priority 100;
 *     ct status dnat meta nfproto ipv4|ipv6 meta l4proto tcp|udp
 *         meta mark MARK(i) snat to :RANGE(i)      # each overlay i
 *     ct status dnat meta nfproto ipv4|ipv6 meta l4proto tcp|udp
 *         snat to :UNMARKED }                      # refused by the relay
 *
 * Only redirected flows (ct status dnat) are touched: the job's own
 * loopback traffic keeps its ports.
 */
static void job_select_snat(struct nft_batch *nb, const struct nft_job *g)
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
				ct_bits_any(&rl, NFT_CT_STATUS, IPS_DST_NAT);
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
 * nft_job_install() - the job's ruleset, in the current (the job's) netns
 * @g:	the relay's ports and the selection overlays
 *
 *   table inet nbjail {
 *     chain guard  { type filter hook output priority -200; policy accept;
 *                    ip6 daddr ::/96 ip6 daddr > ::1
 *                        reject with icmpx admin-prohibited }
 *     chain redirect { type nat hook output priority -100; policy accept;
 *                    fib daddr type local accept
 *                    meta l4proto tcp redirect to :TCP
 *                    udp dport 53 redirect to :DNS }
 *     chain output { type filter hook output priority 0; policy drop;
 *                    fib daddr type local accept
 *                    counter drop }
 *   }
 *
 * Every TCP connection to a destination that is not the job's own is
 * redirected to the relay's listening socket (which the relay holds; the
 * original destination stays in conntrack for SO_ORIGINAL_DST), every
 * DNS query to the relay's DNS socket, whatever its destination, so
 * resolvers hard-wired to some public server reach the relay too.
 * Anything else that would leave a local socket for a non-local address
 * is dropped and counted; there is nowhere it could go anyway (the
 * namespace holds only lo).  IPv4-compatible IPv6 destinations (::/96,
 * deprecated by RFC 4291) are rejected before they are redirected: the
 * job gets an error at once rather than a connection the relay must
 * refuse.
 *
 * Return: 0, or negative errno
 */
int nft_job_install(const struct nft_job *g)
{
	struct nft_batch nb;
	struct rule rl;
	int err;

	err = batch_init(&nb);
	if (err < 0)
		return err;
	batch_table(&nb, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "guard", "filter",
		    NF_INET_LOCAL_OUT, -200, NF_ACCEPT);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "redirect", "nat",
		    NF_INET_LOCAL_OUT, -100, NF_ACCEPT);
	batch_chain(&nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "output", "filter",
		    NF_INET_LOCAL_OUT, 0, NF_DROP);

	/* ip6 daddr ::/96 ip6 daddr > ::1 reject with icmpx admin-prohibited
	 * (:: and ::1, the job's own loopback, are in ::/96 too; the
	 * comparison is of bytes, so numeric in network order) */
	rule_begin(&rl, "guard");
	meta(&rl, NFT_META_NFPROTO);
	cmp(&rl, NFT_CMP_EQ, &(uint8_t){ NFPROTO_IPV6 }, 1);
	payload(&rl, NFT_PAYLOAD_NETWORK_HEADER, 24, 12);
	cmp(&rl, NFT_CMP_EQ, (const uint8_t[12]){ 0 }, 12);
	payload(&rl, NFT_PAYLOAD_NETWORK_HEADER, 36, 4);
	cmp(&rl, NFT_CMP_GT, (const uint8_t[4]){ 0, 0, 0, 1 }, 4);
	reject_admin(&rl);
	rule_commit(&nb, &rl);

	/* fib daddr type local accept */
	rule_begin(&rl, "redirect");
	fib_daddr_local(&rl);
	verdict(&rl, NF_ACCEPT);
	rule_commit(&nb, &rl);

	/* meta l4proto tcp redirect to :TCP */
	rule_begin(&rl, "redirect");
	l4proto(&rl, IPPROTO_TCP);
	redirect(&rl, g->relay_tcp_port);
	rule_commit(&nb, &rl);

	/* udp dport 53 redirect to :DNS */
	rule_begin(&rl, "redirect");
	udp_dport(&rl, 53);
	redirect(&rl, g->relay_dns_port);
	rule_commit(&nb, &rl);

	/* fib daddr type local accept */
	rule_begin(&rl, "output");
	fib_daddr_local(&rl);
	verdict(&rl, NF_ACCEPT);
	rule_commit(&nb, &rl);

	/* counter drop */
	rule_begin(&rl, "output");
	counter(&rl);
	verdict(&rl, NF_DROP);
	rule_commit(&nb, &rl);

	if (g->n_select_overlays)
		job_select_snat(&nb, g);

	err = batch_send(&nb);
	batch_free(&nb);
	return err;
}
