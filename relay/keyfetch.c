/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/keyfetch.c - a credential's bytes from the key holder without
 * blocking the relay's loop
 *
 * DOC: Theory of operation
 *
 * A terminated flow whose request carries its host's stand-in needs the
 * secret for one upstream write (relay/term.c).  The key holder
 * (nbjail-keys, keys/main.c) answers FETCH over the relay's one
 * SOCK_SEQPACKET socket to it, one request at a time, in order.  A
 * blocking round trip (keyholder_fetch(), keys/client.c) would stop every
 * flow of the job for as long as the holder takes: up to its 2 s bound
 * when it is stopped or slow.  So here a fetch is a message sent and a
 * slot noted, and the answer comes back through the event loop:
 *
 *	keyfetch_start(key, cookie) --FETCH id--> holder
 *	    ... the flow waits (relay/term.c: fetching), others move ...
 *	EPOLLIN --SECRET id--> keyfetch_event() --> done(cookie, bytes)
 *
 * The caller's done() gets the bytes in this file's receive buffer, uses
 * them for its write and returns; the buffer is wiped at once after
 * (explicit_bzero), so the secret lives in the relay only for that write.
 *
 * Waiting fetches are a fixed table (KEYFETCH_MAX, one per terminated
 * session: a session waits for one fetch at a time), matched by id; each
 * has a deadline (KEYS_TIMEOUT_MS, checked by keyfetch_tick() every
 * second), after which done() gets -ETIMEDOUT and a late answer is
 * dropped as unknown.  A holder that is gone (EOF, EPOLLHUP, EPIPE on
 * send) fails every waiting fetch and every later one with -EPIPE: fail
 * closed, nothing is sent upstream without its secret.
 *
 * The dock's `sign` still asks the holder with the blocking
 * keyholder_sign() on the same socket; an answer to one of our FETCHes
 * that it reads while it waits for its own is handed here
 * (keyholder_on_stray()) and completed at once, so neither side loses
 * the other's answers.  Nothing here allocates.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "keys/keys.h"
#include "relay/term.h"

#define KEYFETCH_MAX TERM_SLOTS
#define KEYFETCH_ID_BASE 0xc0000000u	/* apart from keyholder_sign()'s and _fetch()'s */

/**
 * struct keyfetch_wait - one FETCH sent, its answer not yet come
 * @used:	the slot is taken
 * @id:		the request's id
 * @cookie:	the caller's, given back to done()
 * @deadline:	CLOCK_MONOTONIC ms after which it has failed
 */
struct keyfetch_wait {
	bool used;
	uint32_t id;
	uint64_t cookie;
	long long deadline;
};

static struct {
	struct relay_ctx *c;
	keyfetch_done_fn done;
	int fd;
	bool dead;
	bool watched;
	uint32_t next_id;
	unsigned n_wait;
	struct keyfetch_wait wait[KEYFETCH_MAX];
	struct keys_secret_msg rx;
} kf = { .fd = -1 };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hand a waiting fetch's outcome to its owner; the slot is free after */
static void finish(struct keyfetch_wait *w, const unsigned char *bytes, ssize_t len)
{
	uint64_t cookie = w->cookie;

	*w = (struct keyfetch_wait){ 0 };
	kf.n_wait--;
	kf.done(kf.c, cookie, bytes, len);
}

/* The holder is gone: every waiting fetch fails, and every later one */
static void holder_gone(void)
{
	if (!kf.dead)
		log_warn("the key holder is gone: requests that need a credential fail");
	kf.dead = true;
	if (kf.watched) {
		(void)epoll_ctl(kf.c->epfd, EPOLL_CTL_DEL, kf.fd, NULL);
		kf.watched = false;
	}
	for (unsigned i = 0; i < KEYFETCH_MAX && kf.n_wait; i++)
		if (kf.wait[i].used)
			finish(&kf.wait[i], NULL, -EPIPE);
}

/* One message from the holder (@n bytes at @m): a SECRET for a waiting
 * fetch completes it; anything else (a late answer, a late REPLY to a
 * signature that timed out) is dropped */
static void handle(const struct keys_secret_msg *m, size_t n)
{
	size_t head = sizeof(m->hdr) + sizeof(m->status);
	ssize_t len;

	if (n < head || m->hdr.magic != KEYS_MAGIC || m->hdr.type != KEYS_MSG_SECRET)
		return;
	for (unsigned i = 0; i < KEYFETCH_MAX; i++) {
		struct keyfetch_wait *w = &kf.wait[i];

		if (!w->used || w->id != m->hdr.id)
			continue;
		if (m->status > 0 || m->status < -4095)
			len = -EPROTO;
		else if (m->status < 0)
			len = m->status;
		else if (m->hdr.len > sizeof(m->bytes) || n != head + m->hdr.len)
			len = -EPROTO;
		else
			len = (ssize_t)m->hdr.len;
		finish(w, len > 0 ? m->bytes : NULL, len);
		return;
	}
}

/* keyholder_sign() read an answer that is not its own (keys/client.c) */
static void on_stray(const void *msg, size_t n, void *arg)
{
	(void)arg;
	if (n > sizeof(kf.rx))
		return;
	memcpy(&kf.rx, msg, n);
	handle(&kf.rx, n);
	explicit_bzero(&kf.rx, n);
}

/**
 * keyfetch_init() - watch the key holder's socket for answers
 * @c:		relay context, its epoll set up
 * @done:	called with each fetch's outcome (see keyfetch_start())
 *
 * Return: 0; -ENOKEY without a key holder; another negative errno
 */
int keyfetch_init(struct relay_ctx *c, keyfetch_done_fn done)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = RELAY_EV(RELAY_EV_KEYS, 0) };

	if (c->cfg->keyholder_fd < 0)
		return -ENOKEY;
	kf.c = c;
	kf.done = done;
	kf.fd = c->cfg->keyholder_fd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, kf.fd, &ev) < 0)
		return negative_errno();
	kf.watched = true;
	keyholder_on_stray(on_stray, NULL);
	return 0;
}

/**
 * keyfetch_start() - ask the key holder for a credential's bytes
 * @c:		relay context
 * @key:	"+NAME"
 * @cookie:	the caller's; done(@c, @cookie, bytes, len) is called later,
 *		from the event loop (or from within a keyholder_sign() of the
 *		dock), with the bytes, or NULL and a negative errno
 *		(-ENOKEY, -ETIMEDOUT, -EPIPE, -EPROTO); never from here
 *
 * Return: 0 when sent; -EPIPE when the holder is gone, -EBUSY when
 * KEYFETCH_MAX fetches wait, -EAGAIN when its socket is full, -EINVAL
 * for a bad name: then done() is not called
 */
int keyfetch_start(struct relay_ctx *c, const char *key, uint64_t cookie)
{
	struct keys_sign_msg req = { 0 };
	size_t name_len = key ? strnlen(key, SECRET_NAME_MAX + 1) : 0;
	struct keyfetch_wait *w = NULL;

	(void)c;
	if (kf.fd < 0 || kf.dead)
		return -EPIPE;
	if (name_len < 2 || key[0] != '+' || !keys_name_valid(key, name_len))
		return -EINVAL;
	for (unsigned i = 0; i < KEYFETCH_MAX && !w; i++)
		if (!kf.wait[i].used)
			w = &kf.wait[i];
	if (!w)
		return -EBUSY;
	kf.next_id = (kf.next_id + 1) & ~KEYFETCH_ID_BASE;
	req.hdr = (struct keys_msg_hdr){ .magic = KEYS_MAGIC, .type = KEYS_MSG_FETCH,
					 .id = KEYFETCH_ID_BASE | kf.next_id };
	memcpy(req.name, key, name_len);
	while (send(kf.fd, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		int err = negative_errno();

		if (err == -EINTR)
			continue;
		if (err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN)
			holder_gone();
		return err == -EWOULDBLOCK ? -EAGAIN : err;
	}
	*w = (struct keyfetch_wait){ .used = true, .id = req.hdr.id, .cookie = cookie,
				     .deadline = now_ms() + KEYS_TIMEOUT_MS };
	kf.n_wait++;
	return 0;
}

/**
 * keyfetch_event() - the key holder's socket is readable (or hung up):
 * complete the fetches whose answers came
 * @c:		relay context
 * @events:	epoll events
 */
void keyfetch_event(struct relay_ctx *c, uint32_t events)
{
	(void)c;
	for (;;) {
		ssize_t n = recv(kf.fd, &kf.rx, sizeof(kf.rx), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			holder_gone();
			return;
		}
		if ((size_t)n <= sizeof(kf.rx))
			handle(&kf.rx, (size_t)n);
		explicit_bzero(&kf.rx, sizeof(kf.rx));
	}
	if (events & (EPOLLHUP | EPOLLERR))
		holder_gone();
}

/**
 * keyfetch_tick() - fail the fetches past their deadline (-ETIMEDOUT)
 * @c:		relay context
 */
void keyfetch_tick(struct relay_ctx *c)
{
	long long now = now_ms();

	(void)c;
	for (unsigned i = 0; i < KEYFETCH_MAX && kf.n_wait; i++)
		if (kf.wait[i].used && kf.wait[i].deadline <= now)
			finish(&kf.wait[i], NULL, -ETIMEDOUT);
}

/**
 * keyfetch_forget() - a waiting fetch's owner is gone: its answer, if it
 * comes, is dropped
 * @cookie:	as given to keyfetch_start()
 */
void keyfetch_forget(uint64_t cookie)
{
	for (unsigned i = 0; i < KEYFETCH_MAX && kf.n_wait; i++)
		if (kf.wait[i].used && kf.wait[i].cookie == cookie) {
			kf.wait[i] = (struct keyfetch_wait){ 0 };
			kf.n_wait--;
		}
}
