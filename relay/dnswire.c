/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dnswire.c - DNS messages of the job's stub resolver, with libldns
 *
 * Theory of operation: every packet from the job is untrusted and parsed
 * by libldns (ldns_wire2pkt), never by hand.  A query must have QR clear
 * and exactly one question; opcode QUERY is answered, other opcodes get
 * NOTIMP.  An answer is built as a new packet: the query's id, opcode and
 * RD, QR and RA set, the given rcode, the question copied, and for A or
 * AAAA questions optionally one record with a synthetic address and a TTL
 * of DNS_SYNTHETIC_TTL.  The additional section of the query (EDNS) is not
 * echoed.  Pure functions: the relay's glue is in dns.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "common/util.h"
#include "relay/dnswire.h"

static void pkt_freep(ldns_pkt **p)
{
	if (*p)
		ldns_pkt_free(*p);
}

static int parse(const unsigned char *buf, size_t len, ldns_pkt **ret)
{
	ldns_pkt *pkt = NULL;

	if (len < 12 || ldns_wire2pkt(&pkt, buf, len) != LDNS_STATUS_OK)
		return -EINVAL;
	if (ldns_pkt_qr(pkt) || ldns_pkt_qdcount(pkt) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1) {
		ldns_pkt_free(pkt);
		return -EINVAL;
	}
	*ret = pkt;
	return 0;
}

/**
 * dns_parse_query() - the question of a query from the job
 * @buf:	packet
 * @len:	its length
 * @q:		the question
 *
 * Return: 0, -EINVAL for a malformed packet or a packet that is not a
 * query with one question, -EOPNOTSUPP for an opcode other than QUERY
 * (@q is filled then too, to answer NOTIMP)
 */
int dns_parse_query(const unsigned char *buf, size_t len, struct dns_question *q)
{
	_cleanup_(pkt_freep) ldns_pkt *pkt = NULL;
	struct dns_question out = { 0 };
	ldns_rr *rr;
	char *text;
	int err = parse(buf, len, &pkt);

	if (err < 0)
		return err;
	rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	out.id = ldns_pkt_id(pkt);
	out.qtype = (uint16_t)ldns_rr_get_type(rr);
	out.qclass = (uint16_t)ldns_rr_get_class(rr);
	text = ldns_rdf2str(ldns_rr_owner(rr));
	if (!text)
		return -ENOMEM;
	if (name_normalize(text, out.name, sizeof(out.name)) < 0)
		out.name[0] = '\0';
	free(text);
	*q = out;
	return ldns_pkt_get_opcode(pkt) == LDNS_PACKET_QUERY ? 0 : -EOPNOTSUPP;
}

static ldns_rr *address_rr(const ldns_rr *question, const struct nbj_addr *a)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(question));
	ldns_rdf *data = a->family == AF_INET ?
		ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &a->v4) :
		ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, &a->v6);

	if (!rr || !owner || !data) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		ldns_rdf_deep_free(data);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, a->family == AF_INET ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_SYNTHETIC_TTL);
	ldns_rr_push_rdf(rr, data);
	return rr;
}

/**
 * dns_build_answer() - answer a query
 * @query:	the query packet
 * @qlen:	its length
 * @rcode:	response code (DNS_RCODE_*)
 * @synthetic:	address to answer with, or NULL; used only when it matches
 *		the question's type (IPv4 for A, IPv6 for AAAA)
 * @out:	answer buffer
 * @outlen:	its size
 *
 * Return: length of the answer, -EINVAL for a malformed query, -ENOSPC if
 * @out is too small, -ENOMEM
 */
long dns_build_answer(const unsigned char *query, size_t qlen, int rcode,
		      const struct nbj_addr *synthetic, unsigned char *out,
		      size_t outlen)
{
	_cleanup_(pkt_freep) ldns_pkt *q = NULL;
	_cleanup_(pkt_freep) ldns_pkt *a = NULL;
	const ldns_rr *question;
	uint8_t *wire = NULL;
	size_t size = 0;
	int err = parse(query, qlen, &q);

	if (err < 0)
		return err;
	question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	a = ldns_pkt_new();
	if (!a)
		return -ENOMEM;
	ldns_pkt_set_id(a, ldns_pkt_id(q));
	ldns_pkt_set_opcode(a, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(a, ldns_pkt_rd(q));
	ldns_pkt_set_qr(a, true);
	ldns_pkt_set_ra(a, true);
	ldns_pkt_set_rcode(a, (uint8_t)rcode);
	if (!ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(question)))
		return -ENOMEM;
	if (synthetic && rcode == DNS_RCODE_NOERROR &&
	    ldns_rr_get_class(question) == LDNS_RR_CLASS_IN &&
	    ((synthetic->family == AF_INET && ldns_rr_get_type(question) == LDNS_RR_TYPE_A) ||
	     (synthetic->family == AF_INET6 &&
	      ldns_rr_get_type(question) == LDNS_RR_TYPE_AAAA))) {
		ldns_rr *rr = address_rr(question, synthetic);

		if (!rr || !ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, rr)) {
			ldns_rr_free(rr);
			return -ENOMEM;
		}
	}
	if (ldns_pkt2wire(&wire, a, &size) != LDNS_STATUS_OK)
		return -ENOMEM;
	if (size > outlen) {
		free(wire);
		return -ENOSPC;
	}
	memcpy(out, wire, size);
	free(wire);
	return (long)size;
}

/**
 * dns_refuse() - answer a query REFUSED
 * @query:	the query packet
 * @qlen:	its length
 * @out:	answer buffer
 * @outlen:	its size
 *
 * Return: see dns_build_answer()
 */
long dns_refuse(const unsigned char *query, size_t qlen, unsigned char *out,
		size_t outlen)
{
	return dns_build_answer(query, qlen, DNS_RCODE_REFUSED, NULL, out, outlen);
}
