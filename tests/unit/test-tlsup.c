/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-tlsup.c - relay/tls_upstream.c against a server on a
 * socketpair, with a test CA made here (OpenSSL API, EC P-256): a good
 * certificate passes and carries bytes both ways with a clean end; a
 * wrong name, an expired certificate, an untrusted issuer, a TLS 1.1-only
 * server, a wrong IP SAN fail with their cause; no roots fail closed.
 * Client and server are both non-blocking and stepped in turn in one
 * thread, so each -EAGAIN the client reports is exercised.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "relay/tls_upstream.h"

/**
 * struct pki - the test's keys and certificates
 * @ca_key, @ca:	the CA the client trusts
 * @rogue_key, @rogue:	a CA it does not
 * @pem:		@ca as PEM, the client's roots
 * @pem_len:		its length
 */
static struct {
	EVP_PKEY *ca_key, *rogue_key;
	X509 *ca, *rogue;
	char *pem;
	size_t pem_len;
} pki;

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for @key named @cn with @san (NULL for none), valid from
 * @from_s to @to_s seconds around now, signed by @issuer_key (@issuer
 * NULL: self-signed, a CA)
 */
static X509 *new_cert(EVP_PKEY *key, const char *cn, const char *san, long from_s,
		      long to_s, X509 *issuer, EVP_PKEY *issuer_key)
{
	static long serial = 1;
	X509 *c = X509_new();
	X509_NAME *name;

	assert_non_null(c);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c), from_s);
	X509_gmtime_adj(X509_getm_notAfter(c), to_s);
	X509_set_pubkey(c, key);
	name = X509_get_subject_name(c);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
				   -1, 0);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	if (!issuer) {
		add_ext(c, NULL, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
		add_ext(c, NULL, NID_subject_key_identifier, "hash");
	} else {
		add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(c, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(c, issuer, NID_authority_key_identifier, "keyid");
	}
	if (san)
		add_ext(c, issuer, NID_subject_alt_name, san);
	assert_true(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return c;
}

static int setup(void **state)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *p;
	long n;

	(void)state;
	pki.ca_key = new_key();
	pki.ca = new_cert(pki.ca_key, "nbjail test CA", NULL, -60, 86400, NULL, NULL);
	pki.rogue_key = new_key();
	pki.rogue = new_cert(pki.rogue_key, "rogue CA", NULL, -60, 86400, NULL, NULL);
	assert_int_equal(PEM_write_bio_X509(mem, pki.ca), 1);
	n = BIO_get_mem_data(mem, &p);
	pki.pem = malloc((size_t)n);
	memcpy(pki.pem, p, (size_t)n);
	pki.pem_len = (size_t)n;
	BIO_free(mem);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tls_upstream_fini();
	X509_free(pki.ca);
	X509_free(pki.rogue);
	EVP_PKEY_free(pki.ca_key);
	EVP_PKEY_free(pki.rogue_key);
	free(pki.pem);
	return 0;
}

/**
 * struct pair - a client and a server on a socketpair
 */
struct pair {
	int fd[2];
	SSL_CTX *sctx;
	SSL *server;
	SSL *client;
	bool server_done;
};

enum server_kind { SERVER_GOOD, SERVER_TLS11 };

/* A server whose certificate is @cert (key @key), a client for @name */
static void pair_open(struct pair *p, X509 *cert, EVP_PKEY *key, enum server_kind kind,
		      const char *name, int expect_start)
{
	char why[TLS_UPSTREAM_WHY_MAX] = "";

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
				    p->fd), 0);
	p->sctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(p->sctx);
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, key), 1);
	if (kind == SERVER_TLS11) {
		SSL_CTX_set_security_level(p->sctx, 0);
		SSL_CTX_set_min_proto_version(p->sctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(p->sctx, TLS1_1_VERSION);
	}
	p->server = SSL_new(p->sctx);
	SSL_set_fd(p->server, p->fd[1]);
	SSL_set_accept_state(p->server);
	assert_int_equal(tls_upstream_start(p->fd[0], name, &p->client, why, sizeof(why)),
			 expect_start);
}

static void pair_close(struct pair *p)
{
	tls_upstream_free(p->client);
	SSL_free(p->server);
	SSL_CTX_free(p->sctx);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Step both sides until the client's handshake ends: its result */
static int handshake(struct pair *p, char *why, size_t whylen)
{
	for (int k = 0; k < 1000; k++) {
		uint32_t events = 0;
		int err = tls_upstream_handshake(p->client, &events, why, whylen);

		if (err != -EAGAIN)
			return err;
		assert_true(events == EPOLLIN || events == EPOLLOUT);
		if (!p->server_done) {
			int r = SSL_do_handshake(p->server);

			if (r == 1)
				p->server_done = true;
			ERR_clear_error();
		}
	}
	fail_msg("the handshake never ended");
	return -1;
}

/* A server certificate from the test CA for @san, valid now */
static X509 *leaf(EVP_PKEY *key, const char *san)
{
	return new_cert(key, "server", san, -60, 3600, pki.ca, pki.ca_key);
}

static void test_good(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = leaf(key, "DNS:good.test");
	char why[TLS_UPSTREAM_WHY_MAX] = "", buf[64];
	struct pair p;
	uint32_t events;
	ssize_t n;
	size_t got = 0;

	(void)state;
	assert_int_equal(tls_upstream_init(pki.pem, pki.pem_len), 0);
	pair_open(&p, cert, key, SERVER_GOOD, "good.test", 0);
	assert_int_equal(handshake(&p, why, sizeof(why)), 0);
	assert_int_equal(SSL_version(p.client) >= TLS1_2_VERSION, 1);
	/* the SNI sent was the pinned name */
	for (int k = 0; k < 100 && !p.server_done; k++)
		p.server_done = SSL_do_handshake(p.server) == 1;
	assert_true(p.server_done);
	assert_string_equal(SSL_get_servername(p.server, TLSEXT_NAMETYPE_host_name),
			    "good.test");
	n = tls_upstream_write(p.client, "ping", 4, &events, why, sizeof(why));
	assert_int_equal(n, 4);
	assert_int_equal(tls_upstream_close_notify(p.client, &events), 0);
	assert_int_equal(SSL_read(p.server, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	/* the client's close_notify reaches the server as the end */
	assert_int_equal(SSL_read(p.server, buf, sizeof(buf)), 0);
	assert_int_equal(SSL_get_error(p.server, 0), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(SSL_write(p.server, "pong!", 5), 5);
	(void)SSL_shutdown(p.server);
	for (int k = 0; k < 100; k++) {
		n = tls_upstream_read(p.client, buf + got, sizeof(buf) - got, &events, why,
				      sizeof(why));
		if (n <= 0 && n != -EAGAIN)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "pong!", 5);
	pair_close(&p);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* The server closes without close_notify: the end of the answer */
static void test_eof_without_close_notify(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = leaf(key, "DNS:good.test");
	char why[TLS_UPSTREAM_WHY_MAX] = "", buf[16];
	struct pair p;
	uint32_t events;
	ssize_t n = 0;

	(void)state;
	assert_int_equal(tls_upstream_init(pki.pem, pki.pem_len), 0);
	pair_open(&p, cert, key, SERVER_GOOD, "good.test", 0);
	assert_int_equal(handshake(&p, why, sizeof(why)), 0);
	for (int k = 0; k < 100 && !p.server_done; k++)
		p.server_done = SSL_do_handshake(p.server) == 1;
	assert_int_equal(SSL_write(p.server, "x", 1), 1);
	shutdown(p.fd[1], SHUT_WR);
	assert_int_equal(tls_upstream_read(p.client, buf, sizeof(buf), &events, why,
					   sizeof(why)), 1);
	for (int k = 0; k < 100; k++) {
		n = tls_upstream_read(p.client, buf, sizeof(buf), &events, why, sizeof(why));
		if (n != -EAGAIN)
			break;
	}
	assert_int_equal(n, 0);
	pair_close(&p);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void expect_refused(X509 *cert, EVP_PKEY *key, enum server_kind kind,
			   const char *name, const char *cause)
{
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	struct pair p;

	assert_int_equal(tls_upstream_init(pki.pem, pki.pem_len), 0);
	pair_open(&p, cert, key, kind, name, 0);
	assert_int_equal(handshake(&p, why, sizeof(why)), -EPROTO);
	if (!strstr(why, cause))
		fail_msg("expected '%s' in the cause, got '%s'", cause, why);
	pair_close(&p);
}

static void test_wrong_name(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = leaf(key, "DNS:other.test");

	(void)state;
	expect_refused(cert, key, SERVER_GOOD, "good.test",
		       "certificate verify failed: hostname mismatch");
	/* a wildcard covers one label, never a partial one */
	X509_free(cert);
	cert = leaf(key, "DNS:*.test");
	expect_refused(cert, key, SERVER_GOOD, "a.good.test", "hostname mismatch");
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void test_expired(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = new_cert(key, "server", "DNS:good.test", -7200, -3600, pki.ca,
			      pki.ca_key);

	(void)state;
	expect_refused(cert, key, SERVER_GOOD, "good.test",
		       "certificate verify failed: certificate has expired");
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void test_untrusted(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = new_cert(key, "server", "DNS:good.test", -60, 3600, pki.rogue,
			      pki.rogue_key);

	(void)state;
	expect_refused(cert, key, SERVER_GOOD, "good.test", "certificate verify failed: ");
	X509_free(cert);
	/* the CA's own certificate, self-signed, served as the leaf: not
	 * trusted for a name it does not carry */
	expect_refused(pki.rogue, pki.rogue_key, SERVER_GOOD, "good.test",
		       "certificate verify failed: ");
	EVP_PKEY_free(key);
}

static void test_tls11_only(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = leaf(key, "DNS:good.test");

	(void)state;
	expect_refused(cert, key, SERVER_TLS11, "good.test", "TLS handshake failed: ");
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void test_ip(void **state)
{
	EVP_PKEY *key = new_key();
	X509 *cert = leaf(key, "IP:192.0.2.7,IP:2001:db8::7");
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	struct pair p;

	(void)state;
	assert_int_equal(tls_upstream_init(pki.pem, pki.pem_len), 0);
	pair_open(&p, cert, key, SERVER_GOOD, "192.0.2.7", 0);
	assert_int_equal(handshake(&p, why, sizeof(why)), 0);
	for (int k = 0; k < 100 && !p.server_done; k++)
		p.server_done = SSL_do_handshake(p.server) == 1;
	/* no SNI for an address (RFC 6066) */
	assert_null(SSL_get_servername(p.server, TLSEXT_NAMETYPE_host_name));
	pair_close(&p);
	pair_open(&p, cert, key, SERVER_GOOD, "[2001:db8::7]", 0);
	assert_int_equal(handshake(&p, why, sizeof(why)), 0);
	pair_close(&p);
	expect_refused(cert, key, SERVER_GOOD, "192.0.2.8", "IP address mismatch");
	/* a name is not an address's certificate */
	expect_refused(cert, key, SERVER_GOOD, "good.test", "hostname mismatch");
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void test_no_roots(void **state)
{
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	SSL *ssl = NULL;
	size_t len;

	(void)state;
	assert_int_equal(tls_upstream_init(NULL, 0), 0);
	assert_null(tls_upstream_roots_pem(&len));
	assert_int_equal(len, 0);
	assert_int_equal(tls_upstream_start(0, "good.test", &ssl, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "no trust roots");
	assert_null(tls_upstream_store());
	/* no policy roots: the system's bundle, read at the first use; one
	 * that cannot be read leaves none */
	tls_upstream_use_system("/nonexistent/ca-certificates.crt");
	assert_int_equal(tls_upstream_start(0, "good.test", &ssl, why, sizeof(why)), -ENOENT);
	assert_null(tls_upstream_roots_pem(&len));
	{
		char path[] = "/tmp/nbjt-tlsup-XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, pki.pem, pki.pem_len), (ssize_t)pki.pem_len);
		close(fd);
		assert_int_equal(tls_upstream_init(NULL, 0), 0);
		tls_upstream_use_system(path);
		assert_non_null(tls_upstream_roots_pem(&len));
		assert_int_equal(len, pki.pem_len);
		assert_non_null(tls_upstream_store());
		unlink(path);
	}
	assert_int_equal(tls_upstream_init(junk, sizeof(junk) - 1), 0);
	assert_int_equal(tls_upstream_start(0, "good.test", &ssl, why, sizeof(why)), -EBADMSG);
	assert_int_equal(tls_upstream_init(junk, TLS_UPSTREAM_ROOTS_MAX + 1), -E2BIG);
	/* the roots as PEM and as a store, for libcurl and others */
	assert_int_equal(tls_upstream_init(pki.pem, pki.pem_len), 0);
	assert_ptr_equal(tls_upstream_roots_pem(&len), pki.pem);
	assert_int_equal(len, pki.pem_len);
	assert_non_null(tls_upstream_store());
	assert_int_equal(tls_upstream_start(0, "", &ssl, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_eof_without_close_notify),
		cmocka_unit_test(test_wrong_name),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_untrusted),
		cmocka_unit_test(test_tls11_only),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_no_roots),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
