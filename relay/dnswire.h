/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dnswire.h - DNS messages of the job's stub resolver (libldns)
 */
#ifndef NBJ_RELAY_DNSWIRE_H
#define NBJ_RELAY_DNSWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5
#define DNS_SYNTHETIC_TTL 1

/**
 * struct dns_question - the one question of a query
 * @id:		query id
 * @qtype:	record type asked for
 * @qclass:	class asked for
 * @name:	the name, normalized (see name_normalize()); "" if it is not
 *		a valid host name (no policy can allow it)
 */
struct dns_question {
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	char name[NBJ_NAME_MAX + 2];
};

int dns_parse_query(const unsigned char *buf, size_t len, struct dns_question *q);
long dns_build_answer(const unsigned char *query, size_t qlen, int rcode,
		      const struct nbj_addr *synthetic, unsigned char *out,
		      size_t outlen);

#endif /* NBJ_RELAY_DNSWIRE_H */
