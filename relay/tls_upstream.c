/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/tls_upstream.c - the relay's TLS client to upstream servers
 *
 * DOC: Theory of operation
 *
 * The supervisor read the job's trust roots (policy `tls_roots: FILE`,
 * else the system bundle, supervisor/tlsroots.c: O_NOFOLLOW, a regular
 * file, at most TLS_UPSTREAM_ROOTS_MAX bytes) and handed their PEM bytes
 * to the relay in its handoff (relay/handoff.c); the relay never opens
 * the file.  tls_upstream_init() only remembers those bytes, before the
 * relay's syscall allow-list is installed.
 *
 * The client context is built once, at the first TLS call of the job
 * (tls_upstream_ctx()): parsing the 140-odd certificates of the system
 * bundle costs some 20 ms of CPU, which a job that never calls tls does
 * not pay at its start.  Building it needs nothing but memory and
 * getrandom() (the PEM is parsed from memory; OpenSSL's configuration
 * file is not read: OPENSSL_INIT_NO_LOAD_CONFIG), all on the relay's
 * allow-list already.  The context:
 *
 *   - TLS 1.2 at least (SSL_CTX_set_min_proto_version), no
 *     renegotiation, no session cache (one-shot calls);
 *   - SSL_VERIFY_PEER against exactly the job's roots (never OpenSSL's
 *     default paths), chain depth TLS_UPSTREAM_DEPTH;
 *   - a peer that closes without close_notify ends the answer like EOF
 *     (SSL_OP_IGNORE_UNEXPECTED_EOF): servers commonly do, and a dock
 *     answer is bytes until EOF as on the tcp op.
 *
 * tls_upstream_start() binds a client to the PINNED name the caller
 * judged (never to a name from the server): SNI and the certificate's
 * name check use it (SSL_set1_host, no partial wildcards); a literal
 * address is checked against the certificate's IP SANs
 * (X509_VERIFY_PARAM_set1_ip_asc) and sends no SNI (RFC 6066).  The
 * handshake, reads and writes are non-blocking: -EAGAIN with the epoll
 * events (EPOLLIN/EPOLLOUT) the relay's loop waits for, as OpenSSL's
 * WANT_READ/WANT_WRITE say.  OpenSSL's error queue is cleared before
 * every step, so a cause never comes from an earlier call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/file.h"
#include "common/util.h"
#include "policy/policy.h"
#include "policy/target.h"
#include "relay/tls_upstream.h"

static const void *roots_pem;
static size_t roots_len;
static unsigned char *system_pem;	/* read here: the policy named no roots */
static const char *system_path;		/* tls_upstream_use_system() */
static bool system_tried;
static SSL_CTX *client_ctx;

/*
 * Without a policy's tls_roots the relay reads the system bundle itself,
 * at the first use (its allow-list has read-only opens): every job with
 * a dock used to pay the supervisor's read of ~200 KiB and its copy into
 * the handoff at start, for a tls call few jobs make.
 */
static void system_roots_load(void)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len;

	if (roots_pem || system_tried || !system_path)
		return;
	system_tried = true;
	fd = open(system_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 1 ||
	    st.st_size > (off_t)TLS_UPSTREAM_ROOTS_MAX ||
	    fd_read_all(fd, (size_t)st.st_size, &system_pem, &len) < 0)
		return;		/* no roots: every TLS client fails to start */
	roots_pem = system_pem;
	roots_len = len;
}

/**
 * tls_upstream_init() - remember the job's trust roots
 * @pem:	PEM bytes (certificates; other blocks are ignored), owned by
 *		the caller and kept alive while the relay runs; NULL for none
 *		(or the bundle of tls_upstream_use_system())
 * @len:	their length, at most TLS_UPSTREAM_ROOTS_MAX
 *
 * Nothing is parsed here (see tls_upstream_ctx()).  Without roots every
 * TLS client fails to start ("no trust roots"): fail closed.
 *
 * Return: 0, or -E2BIG
 */
int tls_upstream_init(const void *pem, size_t len)
{
	if (len > TLS_UPSTREAM_ROOTS_MAX)
		return -E2BIG;
	tls_upstream_fini();
	roots_pem = len ? pem : NULL;
	roots_len = pem ? len : 0;
	return 0;
}

/**
 * tls_upstream_roots_pem() - the job's trust roots as PEM bytes, for a
 * library that parses its own (libcurl's CURLOPT_CAINFO_BLOB)
 * @ret_len:	receives their length (0 when there are none)
 *
 * Return: the bytes, or NULL when the job has no roots
 */
const void *tls_upstream_roots_pem(size_t *ret_len)
{
	system_roots_load();
	*ret_len = roots_len;
	return roots_pem;
}

/* The certificates of the PEM bundle into @store: how many, or -errno */
static int load_roots(X509_STORE *store)
{
	STACK_OF(X509_INFO) *infos;
	BIO *bio;
	int n = 0;

	system_roots_load();
	if (!roots_pem)
		return -ENOENT;
	bio = BIO_new_mem_buf(roots_pem, (int)roots_len);
	if (!bio)
		return -ENOMEM;
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!infos)
		return -EBADMSG;
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *x = sk_X509_INFO_value(infos, i);

		if (x->x509 && X509_STORE_add_cert(store, x->x509) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	ERR_clear_error();
	return n ? n : -EBADMSG;
}

/**
 * tls_upstream_ctx() - the upstream client context, built at the first
 * call from the roots of tls_upstream_init()
 * @ret:	receives the context (owned here; SSL_CTX_up_ref() to keep it)
 *
 * Return: 0; -ENOENT without roots; -EBADMSG when the roots hold no
 * certificate; -ENOMEM
 */
int tls_upstream_ctx(SSL_CTX **ret)
{
	SSL_CTX *ctx;
	int err;

	if (client_ctx) {
		*ret = client_ctx;
		return 0;
	}
	system_roots_load();
	if (!roots_pem)
		return -ENOENT;
	ERR_clear_error();
	if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL))
		return -ENOMEM;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	err = load_roots(SSL_CTX_get_cert_store(ctx));
	if (err < 0 || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return err < 0 ? err : -ENOMEM;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_UPSTREAM_DEPTH);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
				 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	client_ctx = ctx;
	*ret = ctx;
	return 0;
}

/**
 * tls_upstream_store() - the job's trust roots as an X509_STORE, for
 * another TLS user of the relay (X509_STORE_up_ref() before handing it to
 * a context of its own, e.g. SSL_CTX_set1_cert_store())
 *
 * Builds the client context if need be (tls_upstream_ctx()).
 *
 * Return: the store (owned here), or NULL without usable roots
 */
X509_STORE *tls_upstream_store(void)
{
	SSL_CTX *ctx;

	return tls_upstream_ctx(&ctx) < 0 ? NULL : SSL_CTX_get_cert_store(ctx);
}

/**
 * tls_upstream_fini() - free the client context (the roots' bytes stay
 * the caller's); the next tls_upstream_ctx() builds it again
 */
void tls_upstream_fini(void)
{
	SSL_CTX_free(client_ctx);
	client_ctx = NULL;
	if (roots_pem == system_pem) {
		roots_pem = NULL;
		roots_len = 0;
	}
	free(system_pem);
	system_pem = NULL;
	system_tried = false;
	system_path = NULL;
}

/**
 * tls_upstream_use_system() - trust the bundle at @path, read at the first
 * use, when tls_upstream_init() was given no roots
 * @path:	the system bundle (TLS_UPSTREAM_SYSTEM_ROOTS); kept
 *
 * A bundle that cannot be read leaves the relay without roots: every TLS
 * client fails to start ("no trust roots").
 */
void tls_upstream_use_system(const char *path)
{
	system_path = path;
	system_tried = false;
}

/* The cause of the last failure of @ssl into @why */
static void say_why(SSL *ssl, int ssl_err, char *why, size_t whylen)
{
	long vr = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();

	if (!why || !whylen)
		return;
	if (vr != X509_V_OK)
		snprintf(why, whylen, "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	else if (e && ERR_reason_error_string(e))
		snprintf(why, whylen, "TLS %s failed: %s",
			 SSL_is_init_finished(ssl) ? "connection" : "handshake",
			 ERR_reason_error_string(e));
	else if (ssl_err == SSL_ERROR_SYSCALL && errno)
		snprintf(why, whylen, "TLS %s failed: %s",
			 SSL_is_init_finished(ssl) ? "connection" : "handshake", strerror(errno));
	else
		snprintf(why, whylen, "TLS %s failed: the server closed the connection",
			 SSL_is_init_finished(ssl) ? "connection" : "handshake");
}

/*
 * What SSL_get_error() says after @r, as this file's convention: -EAGAIN
 * with the events to wait for, 0 for a clean end (close_notify), or a
 * failure (-EPROTO with its cause, or the socket's errno)
 */
static int step_result(SSL *ssl, int r, uint32_t *ret_events, char *why, size_t whylen)
{
	int e = SSL_get_error(ssl, r);
	int saved = errno;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*ret_events = EPOLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*ret_events = EPOLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error() && saved && saved != EAGAIN) {
			if (why && whylen)
				snprintf(why, whylen, "%s", strerror(saved));
			ERR_clear_error();
			return -saved;
		}
		/* fall through */
	default:
		errno = saved;
		say_why(ssl, e, why, whylen);
		ERR_clear_error();
		return -EPROTO;
	}
}

/**
 * tls_upstream_start() - a non-blocking TLS client on @fd, bound to the
 * pinned name
 * @fd:		a connected (or connecting) non-blocking TCP socket; stays
 *		the caller's (tls_upstream_free() does not close it)
 * @pinned:	the host name the call was judged and pinned for, or a
 *		literal address: SNI and the certificate check use it
 * @ret:	receives the client; free with tls_upstream_free()
 * @why:	receives the cause of a failure (may be NULL)
 * @whylen:	its size
 *
 * Return: 0; -ENOENT without trust roots ("no trust roots"); -EBADMSG
 * when they hold no certificate; -EINVAL for an empty or overlong name;
 * -ENOMEM
 */
int tls_upstream_start(int fd, const char *pinned, SSL **ret, char *why, size_t whylen)
{
	struct target t;
	SSL_CTX *ctx;
	SSL *ssl;
	int err;

	if (!pinned || !*pinned || strlen(pinned) > NBJ_NAME_MAX) {
		if (why && whylen)
			snprintf(why, whylen, "no name to check the certificate against");
		return -EINVAL;
	}
	err = tls_upstream_ctx(&ctx);
	if (err < 0) {
		if (why && whylen)
			snprintf(why, whylen, "%s", err == -ENOENT ? "no trust roots" :
				 err == -EBADMSG ? "the trust roots hold no certificate" :
				 "cannot make a TLS context");
		return err;
	}
	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (target_parse(pinned, &t) == 0 && t.is_ip && !t.port) {
		char ip[INET6_ADDRSTRLEN];
		struct nbj_addr a = t.addr;

		/* the address in its one canonical spelling, v4-mapped unmapped */
		(void)nbj_addr_unmap_v4(&t.addr, &a);
		if (!inet_ntop(a.family, a.family == AF_INET ? (void *)&a.v4 : (void *)&a.v6,
			       ip, sizeof(ip)))
			err = -EINVAL;
		else
			err = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) ? 0 : -EINVAL;
	} else {
		err = SSL_set_tlsext_host_name(ssl, pinned) && SSL_set1_host(ssl, pinned) ? 0
											  : -EINVAL;
	}
	if (err < 0) {
		if (why && whylen)
			snprintf(why, whylen, "cannot bind the TLS client to '%s'", pinned);
		SSL_free(ssl);
		ERR_clear_error();
		return err;
	}
	SSL_set_connect_state(ssl);
	*ret = ssl;
	return 0;
}

/**
 * tls_upstream_handshake() - one non-blocking step of the handshake
 * @ssl:	from tls_upstream_start()
 * @ret_events:	on -EAGAIN, the epoll events to wait for on the socket
 * @why:	receives the cause of a failure (may be NULL)
 * @whylen:	its size
 *
 * Return: 0 when the handshake is done and the peer verified; -EAGAIN;
 * -EPROTO for a failed handshake or verification (@why: "certificate
 * verify failed: hostname mismatch", "TLS handshake failed: unsupported
 * protocol", ...); the socket's negative errno
 */
int tls_upstream_handshake(SSL *ssl, uint32_t *ret_events, char *why, size_t whylen)
{
	int r, err;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(ssl);
	if (r == 1)
		return 0;
	err = step_result(ssl, r, ret_events, why, whylen);
	if (!err) {	/* close_notify during the handshake */
		if (why && whylen)
			snprintf(why, whylen, "TLS handshake failed: the server closed the "
				 "connection");
		return -EPROTO;
	}
	return err;
}

/**
 * tls_upstream_read() - read plaintext, non-blocking
 * @ssl:	a client whose handshake is done
 * @buf:	where to
 * @len:	room in @buf (at most INT_MAX is used)
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 * @why:	receives the cause of a failure (may be NULL)
 * @whylen:	its size
 *
 * Return: bytes read; 0 at the end (close_notify, or EOF without it);
 * -EAGAIN; -EPROTO with @why; the socket's negative errno
 */
ssize_t tls_upstream_read(SSL *ssl, void *buf, size_t len, uint32_t *ret_events,
			  char *why, size_t whylen)
{
	size_t got = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(ssl, buf, len, &got);
	if (r == 1)
		return (ssize_t)got;
	return step_result(ssl, r, ret_events, why, whylen);
}

/**
 * tls_upstream_write() - write plaintext, non-blocking; a partial write
 * is possible (call again with the rest; after -EAGAIN, with the same
 * bytes, which may have moved)
 * @ssl:	a client whose handshake is done
 * @buf:	the bytes
 * @len:	their number (> 0)
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 * @why:	receives the cause of a failure (may be NULL)
 * @whylen:	its size
 *
 * Return: bytes written (> 0); -EAGAIN; -EPIPE when the peer closed;
 * -EPROTO with @why; the socket's negative errno
 */
ssize_t tls_upstream_write(SSL *ssl, const void *buf, size_t len, uint32_t *ret_events,
			   char *why, size_t whylen)
{
	size_t done = 0;
	int r, err;

	ERR_clear_error();
	errno = 0;
	r = SSL_write_ex(ssl, buf, len, &done);
	if (r == 1)
		return (ssize_t)done;
	err = step_result(ssl, r, ret_events, why, whylen);
	return err ? err : -EPIPE;
}

/**
 * tls_upstream_close_notify() - send close_notify: the TLS half-close
 * (reading goes on until the server's own end)
 * @ssl:	a client whose handshake is done
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 *
 * Return: 0 once sent (or the peer is gone: reading tells); -EAGAIN
 */
int tls_upstream_close_notify(SSL *ssl, uint32_t *ret_events)
{
	int r, e;

	ERR_clear_error();
	r = SSL_shutdown(ssl);
	if (r >= 0)
		return 0;
	e = SSL_get_error(ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		*ret_events = e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
		return -EAGAIN;
	}
	return 0;
}

/**
 * tls_upstream_free() - free a client (its socket stays open)
 * @ssl:	from tls_upstream_start(), or NULL
 */
void tls_upstream_free(SSL *ssl)
{
	SSL_free(ssl);
}
