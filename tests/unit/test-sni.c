/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-sni.c - tls_client_hello_sni(): names, truncation, garbage */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/sni.h"

/* Build a TLS record with a ClientHello; @sni NULL for none. */
static size_t hello(unsigned char *out, const char *sni, bool other_ext_first)
{
	unsigned char ext[512];
	size_t e = 0, h, n;

	if (other_ext_first) { /* supported_groups, before server_name */
		static const unsigned char groups[] = { 0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d };

		memcpy(ext + e, groups, sizeof(groups));
		e += sizeof(groups);
	}
	if (sni) {
		size_t len = strlen(sni);

		ext[e++] = 0x00; ext[e++] = 0x00;			/* server_name */
		ext[e++] = 0x00; ext[e++] = (unsigned char)(len + 5);	/* ext length */
		ext[e++] = 0x00; ext[e++] = (unsigned char)(len + 3);	/* list length */
		ext[e++] = 0x00;					/* host_name */
		ext[e++] = 0x00; ext[e++] = (unsigned char)len;
		memcpy(ext + e, sni, len);
		e += len;
	}
	h = 9;
	out[h++] = 0x03; out[h++] = 0x03;		/* client_version */
	memset(out + h, 0x42, 32); h += 32;		/* random */
	out[h++] = 0;					/* session id */
	out[h++] = 0x00; out[h++] = 0x02; out[h++] = 0x13; out[h++] = 0x01; /* ciphers */
	out[h++] = 0x01; out[h++] = 0x00;		/* compression: null */
	out[h++] = (unsigned char)(e >> 8); out[h++] = (unsigned char)e;
	memcpy(out + h, ext, e);
	h += e;
	n = h - 9;					/* handshake body */
	out[5] = 0x01;					/* client_hello */
	out[6] = 0; out[7] = (unsigned char)(n >> 8); out[8] = (unsigned char)n;
	out[0] = 0x16; out[1] = 0x03; out[2] = 0x01;	/* handshake record */
	out[3] = (unsigned char)((h - 5) >> 8); out[4] = (unsigned char)(h - 5);
	return h;
}

static void test_names(void **state)
{
	unsigned char b[1024];
	char sni[256];
	size_t len;

	(void)state;
	len = hello(b, "allowed.test", false);
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), 1);
	assert_string_equal(sni, "allowed.test");

	len = hello(b, "Evil.Example", true);
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), 1);
	assert_string_equal(sni, "Evil.Example");

	len = hello(b, NULL, true);	/* no server name: nothing to compare */
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), 0);

	len = hello(b, "allowed.test", false);
	assert_int_equal(tls_client_hello_sni(b, len, sni, 5), -EINVAL); /* too long */

	/* not TLS at all: plain HTTP, SSH banner */
	assert_int_equal(tls_client_hello_sni((const unsigned char *)"GET / HTTP/1.1\r\n", 16,
					      sni, sizeof(sni)), 0);
	assert_int_equal(tls_client_hello_sni((const unsigned char *)"SSH-2.0-x\r\n", 11,
					      sni, sizeof(sni)), 0);
}

static void test_truncated(void **state)
{
	unsigned char b[1024];
	char sni[256];
	size_t len = hello(b, "allowed.test", true);

	(void)state;
	/* every strict prefix asks for more bytes, never decides */
	for (size_t i = 1; i < len; i++)
		assert_int_equal(tls_client_hello_sni(b, i, sni, sizeof(sni)), -EAGAIN);
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), 1);
}

static void test_malformed(void **state)
{
	unsigned char b[1024];
	char sni[256];
	size_t len = hello(b, "allowed.test", false);

	(void)state;
	b[5] = 0x02; /* server_hello: not a client hello */
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), 0);

	len = hello(b, "allowed.test", false);
	b[8] = (unsigned char)(b[8] + 40); /* handshake longer than the record */
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), -EINVAL);

	len = hello(b, "allowed.test", false);
	b[len - 13] = 0x40; /* server_name list length past its extension */
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), -EINVAL);

	len = hello(b, "ab.test", false);
	b[len - 6] = 0;				/* "a\0.test": a NUL inside the name */
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), -EINVAL);

	b[3] = 0x7f; b[4] = 0xff; /* a record longer than we ever peek */
	assert_int_equal(tls_client_hello_sni(b, len, sni, sizeof(sni)), -EINVAL);
}

/* Bounded, seeded mutation fuzz: no crash, a found name is in bounds */
static void test_fuzz(void **state)
{
	unsigned char base[1024], b[1024];
	unsigned int rng = 7;
	char sni[64];
	size_t len = hello(base, "www.allowed.test", true);

	(void)state;
	for (int i = 0; i < 50000; i++) {
		size_t n = len;
		int r;

		memcpy(b, base, len);
		for (int m = 0; m < 1 + (int)(rand_r(&rng) % 4); m++)
			b[rand_r(&rng) % len] = (unsigned char)rand_r(&rng);
		if (rand_r(&rng) % 4 == 0)
			n = (size_t)rand_r(&rng) % len;
		r = tls_client_hello_sni(b, n, sni, sizeof(sni));
		assert_true(r == 1 || r == 0 || r == -EAGAIN || r == -EINVAL);
		if (r == 1)
			assert_true(strlen(sni) < sizeof(sni));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
