/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-dns.c - dns_refuse(): answers, malformed input, fuzz
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "relay/dnswire.h"
#include "relay/relay.h"

/* Build a query for @name (dotted) with @qtype; return its length */
static size_t make_query(unsigned char *buf, uint16_t id, const char *name,
			 uint16_t qtype, bool rd)
{
	size_t pos = 12;
	const char *p = name;

	memset(buf, 0, 12);
	buf[0] = (unsigned char)(id >> 8);
	buf[1] = (unsigned char)id;
	buf[2] = rd ? 0x01 : 0x00;
	buf[5] = 1;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		buf[pos++] = (unsigned char)len;
		memcpy(buf + pos, p, len);
		pos += len;
		p += len + (dot ? 1 : 0);
	}
	buf[pos++] = 0;
	buf[pos++] = (unsigned char)(qtype >> 8);
	buf[pos++] = (unsigned char)qtype;
	buf[pos++] = 0;
	buf[pos++] = 1; /* IN */
	return pos;
}

static void test_refused_answers(void **state)
{
	static const struct {
		const char *name;
		uint16_t qtype;
		bool rd;
	} rows[] = {
		{ "example.com", 1, true },
		{ "example.com", 28, true },
		{ "a.b.c.example.org", 16, false },
		{ "", 2, true }, /* the root */
	};
	unsigned char q[512], a[512];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t qlen = make_query(q, (uint16_t)(0x1234 + i), rows[i].name,
					 rows[i].qtype, rows[i].rd);
		long alen = dns_refuse(q, qlen, a, sizeof(a));

		assert_int_equal(alen, (long)qlen);
		assert_int_equal(a[0], q[0]);		/* ID echoed */
		assert_int_equal(a[1], q[1]);
		assert_true(a[2] & 0x80);		/* QR */
		assert_int_equal(a[2] & 0x01, rows[i].rd ? 1 : 0); /* RD echoed */
		assert_int_equal(a[3] & 0x0f, 5);	/* REFUSED */
		assert_int_equal(a[4], 0);
		assert_int_equal(a[5], 1);		/* QDCOUNT 1 */
		for (int j = 6; j < 12; j++)
			assert_int_equal(a[j], 0);	/* no AN/NS/AR */
		assert_memory_equal(a + 12, q + 12, qlen - 12); /* question intact */
	}
}

static void test_trailing_additional_dropped(void **state)
{
	unsigned char q[512], a[512];
	size_t qlen = make_query(q, 7, "example.com", 1, true);

	(void)state;
	/* an EDNS OPT record in the additional section is not echoed */
	q[11] = 1;
	memcpy(q + qlen, "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 11);
	assert_int_equal(dns_refuse(q, qlen + 11, a, sizeof(a)), (long)qlen);
	assert_int_equal(a[11], 0);
}

static void test_malformed(void **state)
{
	unsigned char q[600], a[600];
	size_t qlen;

	(void)state;
	qlen = make_query(q, 1, "example.com", 1, true);
	assert_int_equal(dns_refuse(q, 11, a, sizeof(a)), -EINVAL); /* short header */
	assert_int_equal(dns_refuse(q, qlen - 1, a, sizeof(a)), -EINVAL); /* no QCLASS */
	assert_int_equal(dns_refuse(q, 14, a, sizeof(a)), -EINVAL); /* name cut */

	q[5] = 0; /* QDCOUNT 0 */
	assert_int_equal(dns_refuse(q, qlen, a, sizeof(a)), -EINVAL);
	q[5] = 2; /* QDCOUNT 2 */
	assert_int_equal(dns_refuse(q, qlen, a, sizeof(a)), -EINVAL);
	q[5] = 1;

	q[2] |= 0x80; /* a response */
	assert_int_equal(dns_refuse(q, qlen, a, sizeof(a)), -EINVAL);
	q[2] &= 0x7f;

	q[12] = 0xc0; /* compression pointer */
	assert_int_equal(dns_refuse(q, qlen, a, sizeof(a)), -EINVAL);
	q[12] = 64; /* label longer than 63 */
	assert_int_equal(dns_refuse(q, qlen, a, sizeof(a)), -EINVAL);

	/* a name of 5 x 63-byte labels is longer than 255 */
	memset(q, 0, sizeof(q));
	q[5] = 1;
	qlen = 12;
	for (int l = 0; l < 5; l++) {
		q[qlen++] = 63;
		memset(q + qlen, 'a', 63);
		qlen += 63;
	}
	q[qlen++] = 0;
	qlen += 4;
	assert_int_equal(dns_refuse(q, qlen, a, sizeof(a)), -EINVAL);

	qlen = make_query(q, 1, "example.com", 1, true);
	assert_int_equal(dns_refuse(q, qlen, a, qlen - 1), -ENOSPC);
	assert_int_equal(dns_refuse(q, qlen, a, qlen), (long)qlen);
}

/* Bounded, seeded fuzz: random and mutated packets never crash, never read
 * past the query nor write past the answer buffer (both are allocated at
 * their exact length so that ASan catches it), and never produce an answer
 * longer than the query or the buffer. */
static void test_fuzz(void **state)
{
	unsigned char seed_q[512], q[600], a[600];
	size_t seed_len = make_query(seed_q, 42, "www.example.com", 1, true);
	unsigned int rng = 0x6e626a61;
	long answered = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		unsigned char *exact_q, *exact_a;
		size_t len, outlen;
		long r;

		if (i % 2) {
			memcpy(q, seed_q, seed_len);
			len = seed_len;
			for (int m = 0; m < 1 + (int)(rand_r(&rng) % 4); m++)
				q[rand_r(&rng) % len] = (unsigned char)rand_r(&rng);
			len = (size_t)rand_r(&rng) % (len + 8);
		} else {
			len = (size_t)rand_r(&rng) % sizeof(q);
			for (size_t j = 0; j < len; j++)
				q[j] = (unsigned char)rand_r(&rng);
		}
		outlen = (size_t)rand_r(&rng) % sizeof(a);
		/* exact-size heap copies: ASan sees any access past either end */
		exact_q = malloc(len ? len : 1);
		exact_a = malloc(outlen ? outlen : 1);
		assert_non_null(exact_q);
		assert_non_null(exact_a);
		memcpy(exact_q, q, len);
		r = dns_refuse(exact_q, len, exact_a, outlen);
		if (r >= 0) {
			answered++;
			assert_true((size_t)r <= len);
			assert_true((size_t)r <= outlen);
			assert_int_equal(exact_a[3] & 0x0f, 5);
		} else {
			assert_true(r == -EINVAL || r == -ENOSPC);
		}
		free(exact_q);
		free(exact_a);
	}
	assert_true(answered > 0); /* the mutations leave some valid queries */
}

static void test_parse_question(void **state)
{
	unsigned char q[512];
	struct dns_question dq;
	size_t qlen;

	(void)state;
	qlen = make_query(q, 0xbeef, "WWW.Example.COM", DNS_TYPE_AAAA, true);
	assert_int_equal(dns_parse_query(q, qlen, &dq), 0);
	assert_int_equal(dq.id, 0xbeef);
	assert_int_equal(dq.qtype, DNS_TYPE_AAAA);
	assert_int_equal(dq.qclass, DNS_CLASS_IN);
	assert_string_equal(dq.name, "www.example.com");

	/* a label with a byte no host name has: parsed, but no name */
	qlen = make_query(q, 1, "a b.example.com", DNS_TYPE_A, true);
	assert_int_equal(dns_parse_query(q, qlen, &dq), 0);
	assert_string_equal(dq.name, "");

	/* opcode STATUS (2): not a QUERY */
	qlen = make_query(q, 1, "example.com", DNS_TYPE_A, true);
	q[2] |= 2 << 3;
	assert_int_equal(dns_parse_query(q, qlen, &dq), -EOPNOTSUPP);

	q[2] = 0x80; /* a response */
	assert_int_equal(dns_parse_query(q, qlen, &dq), -EINVAL);
	assert_int_equal(dns_parse_query(q, 5, &dq), -EINVAL);
}

static void test_synthetic_answers(void **state)
{
	struct nbj_addr v4 = { .family = AF_INET }, v6 = { .family = AF_INET6 };
	unsigned char q[512], a[512];
	size_t qlen;
	long alen;

	(void)state;
	inet_pton(AF_INET, "198.18.0.7", &v4.v4);
	inet_pton(AF_INET6, "fd6e:626a:6169:ffff::7", &v6.v6);

	qlen = make_query(q, 9, "example.com", DNS_TYPE_A, true);
	alen = dns_build_answer(q, qlen, DNS_RCODE_NOERROR, &v4, a, sizeof(a));
	assert_int_equal(alen, (long)qlen + 16); /* ptr(2) type class ttl rdlen(10) + 4 */
	assert_int_equal(a[3] & 0x0f, 0);
	assert_int_equal(a[7], 1); /* ANCOUNT */
	assert_memory_equal(a + alen - 4, &v4.v4, 4);
	assert_int_equal(a[alen - 7], DNS_SYNTHETIC_TTL); /* TTL low byte */

	/* AAAA question, IPv4 synthetic: no answer record, NOERROR */
	qlen = make_query(q, 9, "example.com", DNS_TYPE_AAAA, true);
	alen = dns_build_answer(q, qlen, DNS_RCODE_NOERROR, &v4, a, sizeof(a));
	assert_int_equal(alen, (long)qlen);
	assert_int_equal(a[7], 0);
	alen = dns_build_answer(q, qlen, DNS_RCODE_NOERROR, &v6, a, sizeof(a));
	assert_int_equal(alen, (long)qlen + 28);
	assert_memory_equal(a + alen - 16, &v6.v6, 16);

	/* NXDOMAIN never carries the address */
	alen = dns_build_answer(q, qlen, DNS_RCODE_NXDOMAIN, &v6, a, sizeof(a));
	assert_int_equal(alen, (long)qlen);
	assert_int_equal(a[3] & 0x0f, DNS_RCODE_NXDOMAIN);

	/* TXT: empty NOERROR */
	qlen = make_query(q, 9, "example.com", 16, false);
	alen = dns_build_answer(q, qlen, DNS_RCODE_NOERROR, &v4, a, sizeof(a));
	assert_int_equal(alen, (long)qlen);
	assert_int_equal(a[2] & 0x01, 0); /* RD echoed as clear */
	assert_int_equal(a[7], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_answers),
		cmocka_unit_test(test_trailing_additional_dropped),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_parse_question),
		cmocka_unit_test(test_synthetic_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
