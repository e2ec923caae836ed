/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-sni.c - tls_client_hello_read() and sni_name_matches():
 * records reassembled, empty and foreign records, one and only one
 * host_name, truncation, limits, garbage
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/sni.h"

#define BUF 40000

static void put16(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* A server_name extension with @n entries of @type naming @names */
static size_t ext_sni(unsigned char *out, const char *const *names, int n, int type)
{
	size_t o = 4 + 2;

	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		out[o++] = (unsigned char)type;
		put16(out + o, len);
		o += 2;
		memcpy(out + o, names[i], len);
		o += len;
	}
	put16(out, 0);			/* server_name */
	put16(out + 2, o - 4);		/* extension length */
	put16(out + 4, o - 6);		/* list length */
	return o;
}

static size_t ext_one(unsigned char *out, const char *name)
{
	return ext_sni(out, &name, 1, 0);
}

/* supported_groups, some other extension */
static size_t ext_groups(unsigned char *out)
{
	static const unsigned char g[] = { 0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d };

	memcpy(out, g, sizeof(g));
	return sizeof(g);
}

/* A ClientHello handshake message with extensions @ext (@elen bytes);
 * @elen (size_t)-1 for none at all */
static size_t hello_msg(unsigned char *out, const unsigned char *ext, size_t elen)
{
	size_t h = 4;

	out[h++] = 0x03; out[h++] = 0x03;		/* client_version */
	memset(out + h, 0x42, 32); h += 32;		/* random */
	out[h++] = 0;					/* session id */
	put16(out + h, 2); h += 2;			/* cipher suites */
	out[h++] = 0x13; out[h++] = 0x01;
	out[h++] = 0x01; out[h++] = 0x00;		/* compression: null */
	if (elen != (size_t)-1) {
		put16(out + h, elen); h += 2;
		memcpy(out + h, ext, elen);
		h += elen;
	}
	out[0] = 0x01;					/* client_hello */
	out[1] = (unsigned char)((h - 4) >> 16);
	out[2] = (unsigned char)((h - 4) >> 8);
	out[3] = (unsigned char)(h - 4);
	return h;
}

/* Wrap @len handshake bytes in records of @chunk bytes each (0: one record) */
static size_t records(unsigned char *out, const unsigned char *hs, size_t len, size_t chunk)
{
	size_t o = 0, off = 0;

	do {
		size_t n = chunk && len - off > chunk ? chunk : len - off;

		out[o++] = 0x16; out[o++] = 0x03; out[o++] = 0x01;
		put16(out + o, n); o += 2;
		memcpy(out + o, hs + off, n);
		o += n;
		off += n;
	} while (off < len);
	return o;
}

/* One record holding a hello that names @name, after @other_ext */
static size_t hello(unsigned char *out, const char *name, bool other_ext)
{
	unsigned char ext[1024], hs[2048];
	size_t e = 0;

	if (other_ext)
		e += ext_groups(ext);
	if (name)
		e += ext_one(ext + e, name);
	return records(out, hs, hello_msg(hs, ext, e), 0);
}

static enum sni_verdict rd(const unsigned char *b, size_t len, struct sni_hello *h)
{
	tls_client_hello_read(b, len, h);
	if (h->verdict == SNI_NEED_MORE) {
		assert_true(h->need > len);
		assert_true(h->need <= SNI_PEEK_MAX);
	}
	return h->verdict;
}

static void test_match(void **state)
{
	static unsigned char b[BUF];
	struct sni_hello h;
	size_t len;

	(void)state;
	len = hello(b, "allowed.test", false);
	assert_int_equal(rd(b, len, &h), SNI_ONE);
	assert_string_equal(h.name, "allowed.test");

	len = hello(b, "Allowed.TEST.", true);
	assert_int_equal(rd(b, len, &h), SNI_ONE);
	assert_string_equal(h.name, "Allowed.TEST.");
	assert_true(sni_name_matches(h.name, "allowed.test"));

	assert_true(sni_name_matches("allowed.test", "allowed.test."));
	assert_false(sni_name_matches("evil.test", "allowed.test"));
	assert_false(sni_name_matches("allowed.tes", "allowed.test"));
	assert_false(sni_name_matches("allowed.test..", "allowed.test"));
	assert_false(sni_name_matches("sub.allowed.test", "allowed.test"));
	assert_false(sni_name_matches(".", "."));
	assert_false(sni_name_matches("", ""));
}

static void test_not_tls(void **state)
{
	struct sni_hello h;

	(void)state;
	assert_int_equal(rd((const unsigned char *)"GET / HTTP/1.1\r\n", 16, &h), SNI_NOT_TLS);
	assert_int_equal(rd((const unsigned char *)"SSH-2.0-x\r\n", 11, &h), SNI_NOT_TLS);
	assert_int_equal(rd((const unsigned char *)"", 0, &h), SNI_NEED_MORE);
}

/* The bypass: an empty handshake record, then the real hello.  The hello
 * is read, not skipped. */
static void test_empty_record_first(void **state)
{
	static unsigned char b[BUF];
	static const unsigned char empty[] = { 0x16, 0x03, 0x01, 0x00, 0x00 };
	struct sni_hello h;
	size_t len;

	(void)state;
	memcpy(b, empty, 5);
	len = 5 + hello(b + 5, "evil.test", false);
	assert_int_equal(rd(b, 5, &h), SNI_NEED_MORE);
	assert_int_equal(h.need, 10);
	assert_int_equal(rd(b, len, &h), SNI_ONE);
	assert_string_equal(h.name, "evil.test");
	assert_false(sni_name_matches(h.name, "allowed.test"));

	/* three empty records, then a hello without a name */
	memcpy(b, empty, 5); memcpy(b + 5, empty, 5); memcpy(b + 10, empty, 5);
	len = 15 + hello(b + 15, NULL, true);
	assert_int_equal(rd(b, len, &h), SNI_MISSING);
}

/* Records of another content type before the hello are refused */
static void test_foreign_record_first(void **state)
{
	static unsigned char b[BUF];
	static const unsigned char alert[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00 };
	static const unsigned char ccs[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
	struct sni_hello h;
	size_t len;

	(void)state;
	memcpy(b, alert, sizeof(alert));
	len = sizeof(alert) + hello(b + sizeof(alert), "allowed.test", false);
	assert_int_equal(rd(b, len, &h), SNI_BAD);
	memcpy(b, ccs, sizeof(ccs));
	len = sizeof(ccs) + hello(b + sizeof(ccs), "allowed.test", false);
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	/* an application-data record after the first part of a split hello */
	{
		unsigned char hs[2048], ext[512];
		size_t e = ext_one(ext, "allowed.test");
		size_t n = hello_msg(hs, ext, e);

		len = records(b, hs, 20, 0);
		b[len] = 0x17; b[len + 1] = 0x03; b[len + 2] = 0x03; put16(b + len + 3, 0);
		len += 5;
		len += records(b + len, hs + 20, n - 20, 0);
		assert_int_equal(rd(b, len, &h), SNI_BAD);
		/* judged as soon as its type byte is there */
		assert_int_equal(rd(b, 25 + 1, &h), SNI_BAD);
	}
	/* a record version other than 3.x */
	len = hello(b, "allowed.test", false);
	b[1] = 0x02;
	assert_int_equal(rd(b, len, &h), SNI_BAD);
	assert_int_equal(rd(b, 2, &h), SNI_BAD);
}

/* A hello split over records is reassembled; every prefix asks for more */
static void test_split(void **state)
{
	static unsigned char b[BUF];
	unsigned char hs[2048], ext[512];
	struct sni_hello h;
	size_t e = ext_groups(ext), n, len;

	(void)state;
	e += ext_one(ext + e, "evil.test");
	n = hello_msg(hs, ext, e);
	len = records(b, hs, n, 30);	/* 3 records */
	assert_int_equal(rd(b, len, &h), SNI_ONE);
	assert_string_equal(h.name, "evil.test");
	for (size_t i = 0; i < len; i++)
		assert_int_equal(rd(b, i, &h), SNI_NEED_MORE);

	/* the header of the handshake message split too: 1, 2, rest */
	len = records(b, hs, 1, 0);
	len += records(b + len, hs + 1, 2, 0);
	len += records(b + len, hs + 3, n - 3, 0);
	assert_int_equal(rd(b, len, &h), SNI_ONE);
	assert_string_equal(h.name, "evil.test");

	/* bytes after the hello (the job's next data) do not matter */
	memcpy(b + len, "\x17\x03\x03\x00\x05hello", 10);
	assert_int_equal(rd(b, len + 10, &h), SNI_ONE);
}

static void test_two_names(void **state)
{
	static unsigned char b[BUF];
	static const char *const two[] = { "allowed.test", "evil.test" };
	unsigned char hs[2048], ext[1024];
	struct sni_hello h;
	size_t e;

	(void)state;
	/* two host_name entries in one extension */
	e = ext_sni(ext, two, 2, 0);
	assert_int_equal(rd(b, records(b, hs, hello_msg(hs, ext, e), 0), &h), SNI_BAD);
	/* two server_name extensions */
	e = ext_one(ext, "allowed.test");
	e += ext_one(ext + e, "evil.test");
	assert_int_equal(rd(b, records(b, hs, hello_msg(hs, ext, e), 0), &h), SNI_BAD);
	/* one entry, not of type host_name */
	e = ext_sni(ext, two, 1, 1);
	assert_int_equal(rd(b, records(b, hs, hello_msg(hs, ext, e), 0), &h), SNI_BAD);
	/* an empty list */
	e = ext_sni(ext, two, 0, 0);
	assert_int_equal(rd(b, records(b, hs, hello_msg(hs, ext, e), 0), &h), SNI_BAD);
	/* encrypted_client_hello beside a matching outer name */
	e = ext_one(ext, "allowed.test");
	memcpy(ext + e, "\xfe\x0d\x00\x01\x00", 5);
	e += 5;
	assert_int_equal(rd(b, records(b, hs, hello_msg(hs, ext, e), 0), &h), SNI_BAD);
}

static void test_no_sni(void **state)
{
	static unsigned char b[BUF];
	unsigned char hs[2048], ext[64];
	struct sni_hello h;
	size_t len;

	(void)state;
	len = hello(b, NULL, true);			/* extensions, none of them SNI */
	assert_int_equal(rd(b, len, &h), SNI_MISSING);
	len = records(b, hs, hello_msg(hs, ext, (size_t)-1), 0);	/* no extensions */
	assert_int_equal(rd(b, len, &h), SNI_MISSING);
	/* SSLv2-format hello: 2-byte header, type 1, version 3.1 */
	memcpy(b, "\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10", 11);
	assert_int_equal(rd(b, 3, &h), SNI_NEED_MORE);
	assert_int_equal(rd(b, 11, &h), SNI_MISSING);
}

static void test_truncated(void **state)
{
	static unsigned char b[BUF];
	struct sni_hello h;
	size_t len;

	(void)state;
	len = hello(b, "allowed.test", true);
	b[8] = (unsigned char)(b[8] - 3);	/* handshake shorter than the record */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", true);
	b[8] = (unsigned char)(b[8] + 40);	/* longer: waits for a next record */
	assert_int_equal(rd(b, len, &h), SNI_NEED_MORE);

	/* from the end: name (12), name length (2), type (1), list length
	 * (2), extension length (2), type (2), extensions length (2) */
	len = hello(b, "allowed.test", false);
	b[len - 13] = 0x40;			/* name length past the list */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[len - 13]--;				/* name length short of the list */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[len - 16]++;				/* list length past its extension */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[len - 18]++;				/* extension length past the block */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[len - 22]++;				/* block length past the hello */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[len - 22]--;				/* block short of the hello */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "ab.test", false);
	b[len - 6] = 0;				/* "a\0.test": a NUL inside the name */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[5] = 0x02;				/* server_hello, not client_hello */
	assert_int_equal(rd(b, len, &h), SNI_BAD);
}

static void test_oversize(void **state)
{
	static unsigned char b[BUF];
	static unsigned char hs[BUF], ext[BUF];
	static const char *const name[] = { NULL };
	struct sni_hello h;
	size_t len, e;
	char longname[300];

	(void)state;
	(void)name;
	len = hello(b, "allowed.test", false);
	b[3] = 0x40; b[4] = 0x01;		/* record longer than 2^14 */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	len = hello(b, "allowed.test", false);
	b[6] = 0x01;				/* hello body of 64 KiB+ */
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	/* padding makes the hello larger than 16 KiB: over several records */
	e = ext_one(ext, "allowed.test");
	ext[e] = 0x00; ext[e + 1] = 0x15;	/* padding */
	put16(ext + e + 2, 17000);
	memset(ext + e + 4, 0, 17000);
	e += 4 + 17000;
	len = records(b, hs, hello_msg(hs, ext, e), 16384);
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	/* more records than SNI_RECORDS_MAX */
	e = ext_one(ext, "allowed.test");
	len = records(b, hs, hello_msg(hs, ext, e), 8);
	assert_int_equal(rd(b, len, &h), SNI_BAD);

	/* a name longer than SNI_NAME_MAX */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	len = hello(b, longname, false);
	assert_int_equal(rd(b, len, &h), SNI_BAD);
	longname[SNI_NAME_MAX] = '\0';
	len = hello(b, longname, false);
	assert_int_equal(rd(b, len, &h), SNI_ONE);
}

/* The server's first record: a HelloRetryRequest or not */
static void test_server_reply(void **state)
{
	static const unsigned char hrr_random[32] = {
		0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02,
		0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
		0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
	};
	unsigned char b[64] = { 0x16, 0x03, 0x03, 0x00, 0x3b, 0x02, 0x00, 0x00, 0x37, 0x03, 0x03 };
	size_t need;

	(void)state;
	memcpy(b + 11, hrr_random, 32);
	assert_int_equal(tls_server_reply_read(b, 64, &need), SNI_REPLY_HRR);
	for (size_t i = 0; i < SNI_REPLY_PEEK; i++) {
		assert_int_equal(tls_server_reply_read(b, i, &need), SNI_REPLY_NEED_MORE);
		assert_true(need > i && need <= SNI_REPLY_PEEK);
	}
	/* an alert is told from its first byte */
	assert_int_equal(tls_server_reply_read((const unsigned char *)"\x15", 1, &need),
			 SNI_REPLY_OTHER);
	b[20] ^= 1;				/* an ordinary ServerHello */
	assert_int_equal(tls_server_reply_read(b, 64, &need), SNI_REPLY_OTHER);
	b[20] ^= 1;
	b[5] = 0x0b;				/* not a ServerHello */
	assert_int_equal(tls_server_reply_read(b, 64, &need), SNI_REPLY_OTHER);
	b[5] = 0x02;
	b[3] = 0; b[4] = 0x10;			/* a handshake record too short to tell */
	assert_int_equal(tls_server_reply_read(b, 64, &need), SNI_REPLY_BAD);
	assert_int_equal(tls_server_reply_read((const unsigned char *)"\x15\x03\x03\x00\x02\x02\x28", 7,
					       &need), SNI_REPLY_OTHER);	/* alert */
	assert_int_equal(tls_server_reply_read((const unsigned char *)"HTTP/1.1 400", 12, &need),
			 SNI_REPLY_OTHER);

	assert_true(tls_is_ccs_record((const unsigned char *)"\x14\x03\x03\x00\x01\x01", 6));
	assert_false(tls_is_ccs_record((const unsigned char *)"\x14\x03\x03\x00\x02\x01", 6));
	assert_false(tls_is_ccs_record((const unsigned char *)"\x14\x03\x03\x00\x01", 5));
}

/* Bounded, seeded mutation fuzz: no crash, verdicts in range, a name in
 * bounds (tests/fuzz/fuzz-sni.c does this with libFuzzer) */
static void test_mutations(void **state)
{
	static unsigned char base[BUF], b[BUF];
	unsigned char hs[2048], ext[512];
	unsigned int rng = 7;
	struct sni_hello h;
	size_t e = ext_groups(ext), len;

	(void)state;
	e += ext_one(ext + e, "www.allowed.test");
	len = records(base, hs, hello_msg(hs, ext, e), 40);
	for (int i = 0; i < 50000; i++) {
		size_t n = len;

		memcpy(b, base, len);
		for (int m = 0; m < 1 + (int)(rand_r(&rng) % 4); m++)
			b[rand_r(&rng) % len] = (unsigned char)rand_r(&rng);
		if (rand_r(&rng) % 4 == 0)
			n = (size_t)rand_r(&rng) % len;
		rd(b, n, &h);
		assert_true(h.verdict <= SNI_BAD);
		if (h.verdict == SNI_ONE)
			assert_true(strlen(h.name) >= 1 && strlen(h.name) <= SNI_NAME_MAX);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_empty_record_first),
		cmocka_unit_test(test_foreign_record_first),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_two_names),
		cmocka_unit_test(test_no_sni),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_server_reply),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
