/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/tls_upstream.h - the relay's TLS client to upstream servers
 *
 * One place that builds the upstream client context (TLS >= 1.2, peer
 * verified against the job's trust roots, chain depth <= 10) and starts
 * non-blocking clients bound to a pinned name.  Used by the dock's tls op
 * (relay/dock_tls.c); the trust roots (policy `tls_roots:`, default the
 * system bundle) are also offered as PEM bytes and as an X509_STORE to the
 * other TLS users of the relay (libcurl: CURLOPT_CAINFO_BLOB, or the store
 * through CURLOPT_SSL_CTX_FUNCTION; the credentials helper).
 *
 * Errors are negative errno values; a TLS failure is -EPROTO with its
 * cause written to the caller's @why buffer ("certificate verify failed:
 * hostname mismatch", "TLS handshake failed: unsupported protocol").
 * Waits are reported as -EAGAIN with the epoll events to wait for.
 */
#ifndef NBJ_RELAY_TLS_UPSTREAM_H
#define NBJ_RELAY_TLS_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "relay/relay.h"

#define TLS_UPSTREAM_ROOTS_MAX RELAY_TLS_ROOTS_MAX /* bytes of a PEM bundle */
#define TLS_UPSTREAM_DEPTH 10	/* certificates of a chain above the leaf */
#define TLS_UPSTREAM_WHY_MAX 160 /* room for a failure's cause */
#define TLS_UPSTREAM_SYSTEM_ROOTS RELAY_TLS_SYSTEM_ROOTS

int tls_upstream_init(const void *pem, size_t len);
int tls_upstream_ctx(SSL_CTX **ret);
const void *tls_upstream_roots_pem(size_t *ret_len);
X509_STORE *tls_upstream_store(void);
void tls_upstream_fini(void);
void tls_upstream_use_system(const char *path);

int tls_upstream_start(int fd, const char *pinned, SSL **ret, char *why, size_t whylen);
int tls_upstream_handshake(SSL *ssl, uint32_t *ret_events, char *why, size_t whylen);
ssize_t tls_upstream_read(SSL *ssl, void *buf, size_t len, uint32_t *ret_events,
			  char *why, size_t whylen);
ssize_t tls_upstream_write(SSL *ssl, const void *buf, size_t len, uint32_t *ret_events,
			   char *why, size_t whylen);
int tls_upstream_close_notify(SSL *ssl, uint32_t *ret_events);
void tls_upstream_free(SSL *ssl);

#endif /* NBJ_RELAY_TLS_UPSTREAM_H */
