/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/leafcert.c - the job CA on the relay's side: leaf certificates
 * for the names the relay terminates, minted on demand and cached
 *
 * Theory of operation: the supervisor made the job CA at start
 * (supervisor/credentials.c) and handed its key and certificate to the
 * key holder only ("+ca", "+ca-cert"); leafcert_init() fetches both once,
 * before the relay's syscall allow-list is installed, and makes the one
 * EC P-256 key that every leaf of this job certifies.  The CA key then
 * lives in this process (never in the job, whose trust bundle holds the
 * certificate only).
 *
 * leafcert_for() returns the leaf of a pinned name: CN and the one DNS
 * SAN are the name, issued by the CA, valid from an hour ago for seven
 * days, serverAuth only.  Leaves are kept in a fixed cache of
 * LEAF_CACHE_MAX names, the least recently used one replaced: minting
 * costs one ECDSA signature (some 50 us), a hit nothing.  An SSL that
 * uses a leaf holds its own reference, so replacing it is safe.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/util.h"
#include "keys/keys.h"
#include "relay/term.h"

#define LEAF_CACHE_MAX 64
#define LEAF_DAYS 7

static struct {
	EVP_PKEY *ca_key;
	X509 *ca_cert;
	EVP_PKEY *leaf_key;
	struct {
		char name[NBJ_NAME_MAX + 1];
		X509 *cert;
		uint64_t used;
	} cache[LEAF_CACHE_MAX];
	uint64_t clock;
} lc;

/**
 * leafcert_init() - fetch the job CA from the key holder, make the leaf key
 * @keyholder_fd: the relay's end of the key holder's socket
 *
 * Return: 0; -ENOKEY when the holder has no CA; -EIO for OpenSSL errors;
 * another negative errno (keyholder_fetch())
 */
int leafcert_init(int keyholder_fd)
{
	unsigned char buf[SECRET_BYTES_MAX];
	const unsigned char *p = buf;
	ssize_t n = keyholder_fetch(keyholder_fd, "+ca", buf, sizeof(buf));
	BIO *bio;

	if (n < 0)
		return (int)n;
	lc.ca_key = d2i_AutoPrivateKey(NULL, &p, (long)n);
	explicit_bzero(buf, sizeof(buf));
	if (!lc.ca_key)
		return -EIO;
	n = keyholder_fetch(keyholder_fd, "+ca-cert", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	bio = BIO_new_mem_buf(buf, (int)n);
	lc.ca_cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	lc.leaf_key = EVP_EC_gen("P-256");
	return lc.ca_cert && lc.leaf_key ? 0 : -EIO;
}

/**
 * leafcert_key() - the private key of every leaf
 *
 * Return: the key, or NULL before leafcert_init()
 */
EVP_PKEY *leafcert_key(void)
{
	return lc.leaf_key;
}

static int add_ext(X509 *cert, X509V3_CTX *v3, const char *name, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf(NULL, v3, name, value);
	int ok = ext && X509_add_ext(cert, ext, -1);

	X509_EXTENSION_free(ext);
	return ok ? 0 : -EIO;
}

static X509 *mint(const char *name)
{
	X509 *cert = X509_new();
	X509_NAME *subject = X509_NAME_new();
	unsigned char serial[16];
	char san[NBJ_NAME_MAX + 8];
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	bool ok;

	ok = cert && subject && getrandom(serial, sizeof(serial), 0) == sizeof(serial);
	if (ok) {
		serial[0] &= 0x7f;
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
	}
	ok = ok && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) &&
	     X509_set_version(cert, 2) &&
	     X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
					(const unsigned char *)name, -1, -1, 0) &&
	     X509_set_subject_name(cert, subject) &&
	     X509_set_issuer_name(cert, X509_get_subject_name(lc.ca_cert)) &&
	     X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(cert), (long)LEAF_DAYS * 86400) &&
	     X509_set_pubkey(cert, lc.leaf_key);
	if (ok) {
		snprintf(san, sizeof(san), "DNS:%s", name);
		X509V3_set_ctx(&v3, lc.ca_cert, cert, NULL, NULL, 0);
		ok = !add_ext(cert, &v3, "basicConstraints", "critical,CA:FALSE") &&
		     !add_ext(cert, &v3, "keyUsage", "critical,digitalSignature") &&
		     !add_ext(cert, &v3, "extendedKeyUsage", "serverAuth") &&
		     !add_ext(cert, &v3, "subjectAltName", san) &&
		     !add_ext(cert, &v3, "authorityKeyIdentifier", "keyid:always") &&
		     X509_sign(cert, lc.ca_key, EVP_sha256());
	}
	BN_free(bn);
	X509_NAME_free(subject);
	if (!ok) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/**
 * leafcert_for() - the leaf certificate of @name, from the cache or new
 * @name:	the pinned name (normalized)
 *
 * Return: the certificate (owned by the cache: SSL_use_certificate()
 * takes its own reference), or NULL when it cannot be made
 */
X509 *leafcert_for(const char *name)
{
	unsigned victim = 0;
	X509 *cert;

	if (!lc.ca_key || strlen(name) > NBJ_NAME_MAX)
		return NULL;
	lc.clock++;
	for (unsigned i = 0; i < LEAF_CACHE_MAX; i++) {
		if (lc.cache[i].cert && !strcmp(lc.cache[i].name, name)) {
			lc.cache[i].used = lc.clock;
			return lc.cache[i].cert;
		}
		if (lc.cache[i].used < lc.cache[victim].used)
			victim = i;
	}
	cert = mint(name);
	if (!cert)
		return NULL;
	X509_free(lc.cache[victim].cert);
	snprintf(lc.cache[victim].name, sizeof(lc.cache[victim].name), "%s", name);
	lc.cache[victim].cert = cert;
	lc.cache[victim].used = lc.clock;
	return cert;
}
