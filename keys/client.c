/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keys/client.c - keyholder_sign(): the relay's side of nbjail-keys
 *
 * keyholder_fetch() asks for a credential's bytes the same way (FETCH).
 *
 * Theory of operation: one blocking call per signature, bounded by
 * KEYS_TIMEOUT_MS from its start to the reply (poll() on the socket, no
 * thread, no allocation: the request and the reply live on the stack).
 * The data goes in DATA chunks of at most KEYS_CHUNK_MAX bytes (a
 * SOCK_SEQPACKET message must fit the socket's buffer; 1 MiB would not).
 *
 * Each request carries a fresh id; a reply with another id is a late
 * answer to a request that timed out and is dropped, and so is anything
 * queued before the request is sent.  The holder answers every complete
 * request exactly once, so at most one stale reply per timeout waits.
 *
 * The relay also sends FETCHes without waiting (relay/keyfetch.c): an
 * answer to one of those that keyholder_sign() reads while it waits for
 * its own goes to the handler set with keyholder_on_stray(), never lost.
 *
 * The fd may be blocking or not: every send and receive is MSG_DONTWAIT
 * behind poll().  One call at a time (the relay is one thread): the ids
 * come from a plain static counter.  The socket is never closed here: a holder that is gone
 * makes every later call fail (-EPIPE or -ECONNRESET), fail closed.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/util.h"
#include "keys/keys.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events until @deadline: 0, -ETIMEDOUT, or -EPIPE on hang-up */
static int wait_for(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return negative_errno();
		if (r == 0)
			return -ETIMEDOUT;
		if (pfd.revents & events)
			return 0;
		if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
			return pfd.revents & POLLNVAL ? -EBADF : -EPIPE;
	}
}

/* One message out, whole, before @deadline */
static int send_msg(int fd, const struct iovec *iov, size_t n_iov, long long deadline)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n_iov };

	for (;;) {
		ssize_t n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		int err;

		if (n >= 0)
			return 0; /* SOCK_SEQPACKET: all or nothing */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return negative_errno();
		err = wait_for(fd, POLLOUT, deadline);
		if (err < 0)
			return err;
	}
}

/* Where answers that are not the caller's go (keyholder_on_stray()) */
static keyholder_stray_fn stray_fn;
static void *stray_arg;

/**
 * keyholder_on_stray() - who gets the answers to FETCHes sent without
 * waiting (relay/keyfetch.c) that a blocking call here reads instead
 * @fn:		called with each such message (a SECRET), which is wiped
 *		after it returns; NULL: they are dropped
 * @arg:	its argument
 */
void keyholder_on_stray(keyholder_stray_fn fn, void *arg)
{
	stray_fn = fn;
	stray_arg = arg;
}

/* Any message, big enough for the largest answer */
union keys_any_msg {
	struct keys_msg_hdr hdr;
	struct keys_reply_msg reply;
	struct keys_secret_msg secret;
};

/* A message that is not the caller's answer: a SECRET goes to the stray
 * handler, the rest (late answers) is dropped; wiped either way */
static void stray(union keys_any_msg *m, ssize_t n)
{
	if (n >= (ssize_t)sizeof(m->hdr) && (size_t)n <= sizeof(*m) &&
	    m->hdr.magic == KEYS_MAGIC && m->hdr.type == KEYS_MSG_SECRET && stray_fn)
		stray_fn(m, (size_t)n, stray_arg);
	explicit_bzero(m, n > 0 && (size_t)n < sizeof(*m) ? (size_t)n : sizeof(*m));
}

/* Drop replies left by requests that timed out (a stray SECRET is handed on) */
static void drain(int fd)
{
	union keys_any_msg m;
	ssize_t n;

	while ((n = recv(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC)) > 0)
		stray(&m, n);
}

/**
 * keyholder_sign() - HMAC-SHA256 of @data with the key named @key
 * @fd:		the relay's end of the socket to nbjail-keys
 * @key:	the key's name (1 to 64 of [A-Za-z0-9_-])
 * @data:	the bytes to sign
 * @len:	their length, at most KEYS_DATA_MAX (1 MiB)
 * @mac:	the 32-byte HMAC, written only on success
 *
 * Blocks for at most KEYS_TIMEOUT_MS (2 s).
 *
 * Return: 0; -ENOKEY when the holder has no key of that name; -EINVAL for
 * a bad name or length (checked here, and by the holder); -ETIMEDOUT;
 * -EPIPE or -ECONNRESET when the holder is gone; -EPROTO for a reply that
 * is not one; another negative errno
 */
int keyholder_sign(int fd, const char *key, const void *data, size_t len,
		   unsigned char mac[KEYS_MAC_LEN])
{
	static uint32_t last_id;
	struct keys_sign_msg req = { 0 };
	union keys_any_msg any;
	struct keys_reply_msg rep;
	long long deadline = now_ms() + KEYS_TIMEOUT_MS;
	size_t name_len = key ? strnlen(key, SECRET_NAME_MAX + 1) : 0;
	struct iovec iov[2];
	int err;

	if (fd < 0)
		return -EBADF;
	if (!secret_name_valid(key, name_len) || len > KEYS_DATA_MAX || (len && !data))
		return -EINVAL;
	if (++last_id == 0)
		last_id = 1; /* 0 is the holder's start report */
	req.hdr = (struct keys_msg_hdr){ .magic = KEYS_MAGIC, .type = KEYS_MSG_SIGN,
					 .id = last_id, .len = (uint32_t)len };
	memcpy(req.name, key, name_len);
	drain(fd);
	iov[0] = (struct iovec){ .iov_base = &req, .iov_len = sizeof(req) };
	err = send_msg(fd, iov, 1, deadline);
	for (size_t at = 0; !err && at < len;) {
		size_t chunk = len - at < KEYS_CHUNK_MAX ? len - at : KEYS_CHUNK_MAX;
		struct keys_msg_hdr h = { .magic = KEYS_MAGIC, .type = KEYS_MSG_DATA,
					  .id = last_id, .len = (uint32_t)chunk };

		iov[0] = (struct iovec){ .iov_base = &h, .iov_len = sizeof(h) };
		iov[1] = (struct iovec){ .iov_base = (char *)data + at, .iov_len = chunk };
		err = send_msg(fd, iov, 2, deadline);
		at += chunk;
	}
	while (!err) {
		ssize_t n;

		err = wait_for(fd, POLLIN, deadline);
		if (err < 0)
			break;
		n = recv(fd, &any, sizeof(any), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EPIPE;
		if (n >= (ssize_t)sizeof(any.hdr) && any.hdr.magic == KEYS_MAGIC &&
		    any.hdr.type == KEYS_MSG_SECRET) {
			stray(&any, n);	/* a FETCH sent without waiting was answered first */
			continue;
		}
		if (n != sizeof(rep) || any.hdr.magic != KEYS_MAGIC ||
		    any.hdr.type != KEYS_MSG_REPLY)
			return -EPROTO;
		memcpy(&rep, &any.reply, sizeof(rep));
		if (rep.hdr.id != last_id)
			continue; /* a late reply to an earlier request */
		if (rep.status > 0 || rep.status < -4095)
			return -EPROTO;
		if (rep.status < 0)
			return rep.status;
		memcpy(mac, rep.mac, KEYS_MAC_LEN);
		return 0;
	}
	return err;
}

/**
 * keyholder_fetch() - the bytes of a credential ('+' key) for one write
 * @fd:		the relay's end of the socket to nbjail-keys
 * @key:	"+NAME"
 * @buf:	where the bytes go; the caller wipes them once written
 * @cap:	its size
 *
 * Blocks for at most KEYS_TIMEOUT_MS.  The reply is received into @buf's
 * caller-owned stack frame here and wiped before return.
 *
 * Return: the length; -ENOKEY, -EINVAL, -ENOBUFS (@cap too small),
 * -ETIMEDOUT, -EPIPE, -EPROTO, another negative errno
 */
ssize_t keyholder_fetch(int fd, const char *key, void *buf, size_t cap)
{
	static uint32_t last_id = 0x80000000u;	/* apart from keyholder_sign()'s */
	struct keys_sign_msg req = { 0 };
	struct keys_secret_msg rep;
	long long deadline = now_ms() + KEYS_TIMEOUT_MS;
	size_t name_len = key ? strnlen(key, SECRET_NAME_MAX + 1) : 0;
	struct iovec iov;
	ssize_t ret;
	int err;

	if (fd < 0)
		return -EBADF;
	if (name_len < 2 || key[0] != '+' || !keys_name_valid(key, name_len))
		return -EINVAL;
	if (++last_id == 0)
		last_id = 0x80000000u;
	req.hdr = (struct keys_msg_hdr){ .magic = KEYS_MAGIC, .type = KEYS_MSG_FETCH,
					 .id = last_id };
	memcpy(req.name, key, name_len);
	drain(fd);
	iov = (struct iovec){ .iov_base = &req, .iov_len = sizeof(req) };
	err = send_msg(fd, &iov, 1, deadline);
	for (;;) {
		ssize_t n;

		if (err < 0)
			return err;
		err = wait_for(fd, POLLIN, deadline);
		if (err < 0)
			return err;
		n = recv(fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EPIPE;
		if ((size_t)n < sizeof(rep.hdr) + sizeof(rep.status) || rep.hdr.magic != KEYS_MAGIC) {
			ret = -EPROTO;
			break;
		}
		if (rep.hdr.type != KEYS_MSG_SECRET || rep.hdr.id != last_id)
			continue; /* a late reply to an earlier request */
		if (rep.status < 0)
			ret = rep.status;
		else if (rep.hdr.len > sizeof(rep.bytes) ||
			 (size_t)n != sizeof(rep.hdr) + sizeof(rep.status) + rep.hdr.len)
			ret = -EPROTO;
		else if (rep.hdr.len > cap)
			ret = -ENOBUFS;
		else
			ret = (ssize_t)rep.hdr.len;
		if (ret > 0)
			memcpy(buf, rep.bytes, (size_t)ret);
		break;
	}
	explicit_bzero(&rep, sizeof(rep));
	return ret;
}
