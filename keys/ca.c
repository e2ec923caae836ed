/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keys/ca.c - the job CA, made by `nbjail-keys --make-ca`
 *
 * Theory of operation: a job with `credentials:` or `http:` rules gets a
 * CA of its own (supervisor/credentials.c): a fresh EC P-256 key and a
 * self-signed certificate (pathlen 0, 30 days).  The supervisor does not
 * make it itself: that would link OpenSSL's certificate machinery into
 * nbjail, and every job's start would pay for loading and relocating it
 * (about 1.5 ms on this kind of machine).  It execs this program instead,
 * only for such jobs, and reads on a pipe:
 *
 *   u32 length, the key's DER; u32 length, the certificate's PEM
 *
 * (host byte order; each at most SECRET_BYTES_MAX).  The key's bytes are
 * wiped here once written; the supervisor hands them to the key holder
 * and wipes its copy.
 */
#include <errno.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/util.h"
#include "keys/keys.h"

#define CA_DAYS 30

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_record(int fd, const void *bytes, size_t len)
{
	uint32_t n = (uint32_t)len;
	int err = write_all(fd, &n, sizeof(n));

	return err < 0 ? err : write_all(fd, bytes, len);
}

/**
 * keys_ca_write() - make a job CA and write its key and certificate
 * @fd:		where (the supervisor's pipe)
 *
 * Return: 0, or negative errno
 */
int keys_ca_write(int fd)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	unsigned char serial[16], *der = NULL;
	BIGNUM *bn = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	X509_EXTENSION *ext;
	static const char *const exts[][2] = {
		{ "basicConstraints", "critical,CA:TRUE,pathlen:0" },
		{ "keyUsage", "critical,keyCertSign,cRLSign" },
		{ "subjectKeyIdentifier", "hash" },
	};
	int der_len = 0, err = -EIO;
	char *pem;
	long pem_len;

	if (!key || !cert || !name || !bio || getrandom(serial, sizeof(serial), 0) !=
	    sizeof(serial))
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    !X509_set_version(cert, 2) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"nbjail",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"nbjail job CA", -1, -1, 0) ||
	    !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)CA_DAYS * 86400) ||
	    !X509_set_pubkey(cert, key))
		goto out;
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		if (!ext || !X509_add_ext(cert, ext, -1)) {
			X509_EXTENSION_free(ext);
			goto out;
		}
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(cert, key, EVP_sha256()) || !PEM_write_bio_X509(bio, cert))
		goto out;
	pem_len = BIO_get_mem_data(bio, &pem);
	der_len = i2d_PrivateKey(key, &der);
	if (pem_len <= 0 || pem_len > SECRET_BYTES_MAX || der_len <= 0 ||
	    der_len > SECRET_BYTES_MAX)
		goto out;
	err = write_record(fd, der, (size_t)der_len);
	if (!err)
		err = write_record(fd, pem, (size_t)pem_len);
out:
	if (der) {
		explicit_bzero(der, (size_t)der_len);
		OPENSSL_free(der);
	}
	BN_free(bn);
	BIO_free(bio);
	X509_NAME_free(name);
	X509_free(cert);
	EVP_PKEY_free(key);
	return err;
}
