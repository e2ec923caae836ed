/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keys/main.c - nbjail-keys, the key holder: signs with the policy's
 * secrets for the relay, and does nothing else
 *
 * Theory of operation (ROLE_KEYHOLDER, common/roles.c; OpenBSD relayd's
 * ca.c is the model): supervisor/keysstart.c forks, enters the role (the
 * job's key holder id, no capability, no_new_privs) and execs this
 * program as `nbjail-keys HANDOFF SOCKET` (`nbjail-keys --make-ca` only
 * makes a job CA and exits, keys/ca.c):
 *
 *   1. not dumpable (exec made it dumpable again): no core file, no
 *      ptrace or /proc/PID/mem by another process of its uid
 *   2. the keys: out of the handoff memfd into one locked, undumpable
 *      mapping; the memfd's pages are zeroed, then it is closed
 *      (keys/store.c).  A key that cannot be locked in RAM is an error.
 *   3. death with the supervisor as SIGTERM, which, like SIGINT and
 *      SIGHUP, zeroes the keys before exiting
 *   4. OpenSSL's HMAC (EVP_MAC, SHA-256) fetched and tried once, so that
 *      no configuration or provider file is opened after:
 *   5. the syscall allow-list: its socket, memory, exit
 *      (role_filter_apply_keyholder())
 *   6. REPLY id 0, status 0: the supervisor starts the relay only now
 *
 * Then one request at a time (keys/keys.h has the protocol): SIGN with
 * a sign-only key, or FETCH the bytes of a credential ('+' names only).  The data
 * is streamed through EVP_MAC_update() chunk by chunk: nothing is
 * buffered beyond one DATA message.  When the socket's other end is
 * closed (the relay is gone) the keys are zeroed and it exits.  It never
 * writes a log line once the filter is on: it has no write().
 */
#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/roles.h"
#include "common/util.h"
#include "keys/keys.h"

static struct keys_store keys;

static void wipe_and_exit(int sig)
{
	(void)sig;
	explicit_bzero(keys.arena ? keys.arena : (unsigned char *)&keys,
		       keys.arena ? keys.arena_size : sizeof(keys));
	_exit(0);
}

static void finish(int status)
{
	keys_store_wipe(&keys);
	_exit(status);
}

static int fd_arg(const char *s)
{
	char *end = NULL;
	long v = s ? strtol(s, &end, 10) : -1;

	return v >= 3 && v <= INT_MAX && end && !*end ? (int)v : -1;
}

static void reply(int sock, uint32_t id, int status, const unsigned char *mac)
{
	struct keys_reply_msg r = {
		.hdr = { .magic = KEYS_MAGIC, .type = KEYS_MSG_REPLY, .id = id,
			 .len = KEYS_MAC_LEN },
		.status = status,
	};

	if (mac && !status)
		memcpy(r.mac, mac, KEYS_MAC_LEN);
	while (send(sock, &r, sizeof(r), MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			finish(1);
}

/* The HMAC-SHA256 template every request duplicates */
static EVP_MAC_CTX *hmac_template(void)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	static const unsigned char probe_key[1] = { 1 };
	unsigned char mac[EVP_MAX_MD_SIZE];
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *t = m ? EVP_MAC_CTX_new(m) : NULL, *c;
	size_t len = 0;
	bool ok;

	EVP_MAC_free(m); /* the context holds its own reference */
	if (!t || !EVP_MAC_CTX_set_params(t, params)) {
		EVP_MAC_CTX_free(t);
		return NULL;
	}
	/* once through every call a request makes, before the filter */
	c = EVP_MAC_CTX_dup(t);
	ok = c && EVP_MAC_init(c, probe_key, sizeof(probe_key), NULL) &&
	     EVP_MAC_update(c, probe_key, sizeof(probe_key)) &&
	     EVP_MAC_final(c, mac, &len, sizeof(mac)) && len == KEYS_MAC_LEN;
	EVP_MAC_CTX_free(c);
	if (!ok) {
		EVP_MAC_CTX_free(t);
		return NULL;
	}
	return t;
}

/**
 * struct request - the request being streamed
 * @id:		its id
 * @left:	data bytes still to come
 * @status:	0 while it can be signed, -ENOKEY for an unknown key
 * @mac:	the HMAC being computed (NULL for an unknown key)
 */
struct request {
	uint32_t id;
	uint32_t left;
	int status;
	EVP_MAC_CTX *mac;
	bool active;
};

static void request_end(int sock, struct request *r, int status)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t len = 0;

	if (!status && r->status)
		status = r->status;
	if (!status && (!r->mac || !EVP_MAC_final(r->mac, mac, &len, sizeof(mac)) ||
			len != KEYS_MAC_LEN))
		status = -EIO;
	EVP_MAC_CTX_free(r->mac); /* OpenSSL clears the key schedule */
	reply(sock, r->id, status, mac);
	explicit_bzero(mac, sizeof(mac));
	*r = (struct request){ 0 };
}

static void on_sign(int sock, const EVP_MAC_CTX *tmpl, struct request *r,
		    const unsigned char *buf, size_t n)
{
	struct keys_sign_msg m;
	size_t name_len;
	int k;

	if (r->active) { /* the client gave up on it: dropped unanswered */
		EVP_MAC_CTX_free(r->mac);
		*r = (struct request){ 0 };
	}
	memcpy(&m, buf, sizeof(m.hdr));
	if (n != sizeof(m)) {
		reply(sock, m.hdr.id, -EINVAL, NULL);
		return;
	}
	memcpy(&m, buf, sizeof(m));
	name_len = strnlen(m.name, sizeof(m.name));
	for (size_t i = name_len; i < sizeof(m.name); i++)
		if (m.name[i])
			name_len = 0; /* NUL-padded, or it is no name */
	if (m.hdr.len > KEYS_DATA_MAX || !secret_name_valid(m.name, name_len)) {
		reply(sock, m.hdr.id, -EINVAL, NULL);
		return;
	}
	*r = (struct request){ .id = m.hdr.id, .left = m.hdr.len, .active = true };
	k = keys_store_find(&keys, m.name, name_len);
	if (k < 0) {
		r->status = -ENOKEY;
	} else {
		r->mac = EVP_MAC_CTX_dup(tmpl);
		if (!r->mac || !EVP_MAC_init(r->mac, keys.arena + keys.off[k], keys.len[k], NULL))
			r->status = -EIO;
	}
	if (!r->left)
		request_end(sock, r, 0);
}

static void on_data(int sock, struct request *r, const unsigned char *buf, size_t n)
{
	struct keys_msg_hdr h;

	memcpy(&h, buf, sizeof(h));
	if (!r->active || h.id != r->id || !h.len || h.len != n - sizeof(h) ||
	    h.len > r->left) {
		if (r->active && h.id == r->id) {
			request_end(sock, r, -EINVAL);
			return;
		}
		reply(sock, h.id, -EINVAL, NULL);
		return;
	}
	if (r->mac && !r->status && !EVP_MAC_update(r->mac, buf + sizeof(h), h.len))
		r->status = -EIO;
	r->left -= h.len;
	if (!r->left)
		request_end(sock, r, 0);
}

/* FETCH: the bytes of a '+' key (keys/keys.h), never of a sign-only one */
static void on_fetch(int sock, const unsigned char *buf, size_t n)
{
	static struct keys_secret_msg r;
	struct keys_sign_msg m;
	size_t name_len;
	int k = -1;

	memcpy(&m.hdr, buf, sizeof(m.hdr));
	r = (struct keys_secret_msg){ .hdr = { .magic = KEYS_MAGIC, .type = KEYS_MSG_SECRET,
					       .id = m.hdr.id } };
	if (n == sizeof(m)) {
		memcpy(&m, buf, sizeof(m));
		name_len = strnlen(m.name, sizeof(m.name));
		if (name_len > 1 && m.name[0] == '+' && keys_name_valid(m.name, name_len))
			k = keys_store_find(&keys, m.name, name_len);
		r.status = k < 0 ? -ENOKEY : 0;
	} else {
		r.status = -EINVAL;
	}
	if (k >= 0) {
		memcpy(r.bytes, keys.arena + keys.off[k], keys.len[k]);
		r.hdr.len = keys.len[k];
	}
	while (send(sock, &r, sizeof(r.hdr) + sizeof(r.status) + r.hdr.len, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			break;
	explicit_bzero(&r, sizeof(r));
}

static _Noreturn void serve(int sock, const EVP_MAC_CTX *tmpl)
{
	static unsigned char buf[sizeof(struct keys_msg_hdr) + KEYS_CHUNK_MAX];
	struct request r = { 0 };

	for (;;) {
		struct keys_msg_hdr h;
		ssize_t n = recv(sock, buf, sizeof(buf), MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			finish(n == 0 ? 0 : 1); /* the relay is gone */
		if ((size_t)n < sizeof(h) || (size_t)n > sizeof(buf)) {
			reply(sock, 0xffffffffu, -EINVAL, NULL);
			continue;
		}
		memcpy(&h, buf, sizeof(h));
		if (h.magic != KEYS_MAGIC)
			reply(sock, h.id, -EINVAL, NULL);
		else if (h.type == KEYS_MSG_SIGN)
			on_sign(sock, tmpl, &r, buf, (size_t)n);
		else if (h.type == KEYS_MSG_DATA)
			on_data(sock, &r, buf, (size_t)n);
		else if (h.type == KEYS_MSG_FETCH)
			on_fetch(sock, buf, (size_t)n);
		else
			reply(sock, h.id, -EINVAL, NULL);
	}
}

int main(int argc, char **argv)
{
	int handoff = argc == 3 ? fd_arg(argv[1]) : -1;
	int sock = argc == 3 ? fd_arg(argv[2]) : -1;
	struct sigaction sa = { .sa_handler = wipe_and_exit };
	EVP_MAC_CTX *tmpl;
	int err;

	log_set_prefix("nbjail-keys");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return 2;
	/* the job CA for supervisor/credentials.c (keys/ca.c), then exit */
	if (argc == 2 && !strcmp(argv[1], "--make-ca"))
		return keys_ca_write(STDOUT_FILENO) < 0 ? 1 : 0;
	if (handoff < 0 || sock < 0 || handoff == sock) {
		fprintf(stderr, "nbjail-keys: started by nbjail run only\n");
		return 2;
	}
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return 2;
	err = keys_store_read(handoff, &keys);
	(void)close(handoff);
	if (err == -ENOMEM || err == -EAGAIN || err == -EPERM) {
		struct rlimit rl = { 0 };

		(void)getrlimit(RLIMIT_MEMLOCK, &rl);
		log_err("cannot lock the keys in memory (%s; RLIMIT_MEMLOCK is %llu bytes): "
			"raise it (ulimit -l, LimitMEMLOCK=) so that they are never swapped",
			strerror(-err), (unsigned long long)rl.rlim_cur);
	} else if (err < 0) {
		log_err("no valid handoff: %s", strerror(-err));
	}
	if (!err && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		     prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0))
		err = negative_errno();
	if (!err && keys.parent && getppid() != keys.parent)
		err = -ESRCH; /* the supervisor died before PDEATHSIG */
	tmpl = err ? NULL : hmac_template();
	if (!err && !tmpl) {
		log_err("OpenSSL has no HMAC-SHA256");
		err = -ENOSYS;
	}
	if (!err)
		err = role_filter_apply_keyholder(sock);
	if (err < 0) {
		reply(sock, 0, err, NULL);
		finish(1);
	}
	reply(sock, 0, 0, NULL);
	serve(sock, tmpl);
}
