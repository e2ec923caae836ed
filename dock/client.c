/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dock/client.c - the client side of the dock (include/nbjail/dock.h)
 *
 * Theory of operation: one call, one connection, asked of the desk
 * ($NBJAIL_DOCK_FD: a seqpacket socket every process of the job inherits;
 * one message "c" out, the connection back by SCM_RIGHTS: no connect()
 * for the job's notifier to carry out, the fast way), else made by
 * connect() to $NBJAIL_DOCK (/run/nbjail/dock.sock when unset), when
 * there is no desk (a process that closed its fds, an fd that is not a
 * unix seqpacket socket any more) or the relay answered "b" (busy); a
 * desk's connection that the relay closed before a byte of answer (it
 * waited too long in the queue) is retried once by the path.  Then:
 * write the request header, the
 * target and the body (blocking, MSG_NOSIGNAL: a relay that answers
 * early, a denial, closes its end, and we go on to read that answer),
 * then read records until END.  DATA records go to the caller's sink as
 * they arrive, so an answer is never held whole here.  A connection that
 * ends without END is -EPIPE; a record over its bound is -EPROTO.  The
 * relay enforces the call's deadline; the socket's own receive timeout
 * (NBJ_DOCK_TCP_TIMEOUT_S + 20 s) only keeps a client from hanging on a
 * relay that is gone.  libc only: the nbjail-dock CLI links it
 * statically.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbjail/dock.h"

#define CLIENT_TIMEOUT_S (NBJ_DOCK_TCP_TIMEOUT_S + 20)

/* The socket's timeouts: a relay that is gone never hangs a client */
static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A connection from the desk, or -1: no desk here (or busy) */
static int desk_connection(void)
{
	const char *s = getenv(NBJ_DOCK_FD_ENV);
	char ask = NBJ_DOCK_DESK_ASK, answer = 0, *end;
	union {
		struct cmsghdr h;
		char room[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &answer, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.room,
			    .msg_controllen = sizeof(ctl.room) };
	int type = 0, domain = 0, fd = -1;
	socklen_t len = sizeof(type);
	struct cmsghdr *cm;
	long desk;

	if (!s || !s[0])
		return -1;
	errno = 0;
	desk = strtol(s, &end, 10);
	if (errno || *end || desk < 0 || desk > INT_MAX)
		return -1;
	/* whatever a process put at that number since, it is written to
	 * only if it is a unix seqpacket socket */
	if (getsockopt((int)desk, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET)
		return -1;
	len = sizeof(domain);
	if (getsockopt((int)desk, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return -1;
	if (send((int)desk, &ask, 1, MSG_NOSIGNAL) != 1 ||
	    recvmsg((int)desk, &m, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (answer != NBJ_DOCK_DESK_ASK || fd < 0 || (m.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	timeouts(fd);
	return fd;
}

/* A connection by the socket's path; negative errno */
static int path_connection(void)
{
	const char *path = getenv(NBJ_DOCK_ENV);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (!path || !path[0])
		path = NBJ_DOCK_PATH;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	timeouts(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/**
 * nbj_dock_connect() - a connection to the job's dock: asked of the desk
 * ($NBJAIL_DOCK_FD), else by connect() to the socket ($NBJAIL_DOCK)
 *
 * Return: a connected unix stream socket (close-on-exec), or negative
 * errno: -ENOENT when the job has no dock
 */
int nbj_dock_connect(void)
{
	int fd = desk_connection();

	return fd >= 0 ? fd : path_connection();
}

static int send_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Exactly @len bytes; -EPIPE at EOF before */
static int recv_all(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read records until END; DATA to @sink */
static int read_answer(int fd, int (*sink)(void *ctx, const void *buf, size_t len),
		       void *ctx, struct nbj_dock_answer *ret)
{
	unsigned char data[NBJ_DOCK_RECORD_MAX];
	unsigned char h[NBJ_DOCK_RECORD_HEADER_SIZE];

	for (;;) {
		uint32_t len;
		int err = recv_all(fd, h, sizeof(h));

		if (err < 0)
			return err;
		len = get32(h + 4);
		if (h[0] == NBJ_DOCK_REC_DATA) {
			if (len > NBJ_DOCK_RECORD_MAX)
				return -EPROTO;
			err = recv_all(fd, data, len);
			if (err < 0)
				return err;
			ret->len += len;
			if (sink && (err = sink(ctx, data, len)) < 0)
				return err;
			continue;
		}
		if (h[0] != NBJ_DOCK_REC_END || len < 4 || len > 4 + NBJ_DOCK_REASON_MAX)
			return -EPROTO;
		err = recv_all(fd, data, len);
		if (err < 0)
			return err;
		ret->status = (int32_t)get32(data);
		ret->truncated = h[1] & NBJ_DOCK_TRUNCATED;
		memcpy(ret->reason, data + 4, len - 4);
		ret->reason[len - 4] = '\0';
		if (ret->status > 0 || ret->status < -4095)
			return -EPROTO;
		return 0;
	}
}

/**
 * nbj_dock_call() - one call to the dock
 * @op:		enum nbj_dock_op
 * @target:	host name or address (tcp, udp, tls), URL (get), key (sign)
 * @port:	destination port (tcp, udp, tls), else 0
 * @req:	the request's body
 * @req_len:	its length (bounded per op, nbj_dock_op_body_max())
 * @sink:	called with each piece of the answer as it arrives; a
 *		negative return ends the call with it
 * @ctx:	passed to @sink
 * @ret:	the answer's end: status, reason, truncated, length
 *
 * Return: 0 when an answer came (its status is in @ret), or negative
 * errno when the call itself failed (no dock, protocol, I/O); then
 * @ret->reason says what, if known
 */
int nbj_dock_call(uint8_t op, const char *target, uint16_t port, const void *req,
		  size_t req_len, int (*sink)(void *ctx, const void *buf, size_t len),
		  void *ctx, struct nbj_dock_answer *ret)
{
	unsigned char h[NBJ_DOCK_HEADER_SIZE], small[4096];
	size_t tlen = target ? strlen(target) : 0;
	struct nbj_dock_request r = { .op = op, .port = port };
	int fd, err, send_err;
	bool from_desk;

	memset(ret, 0, sizeof(*ret));
	if (!nbj_dock_op_name(op) || !tlen || tlen > nbj_dock_op_target_max(op)) {
		strcpy(ret->reason, "target too long or empty");
		return -EINVAL;
	}
	if (req_len > nbj_dock_op_body_max(op)) {
		strcpy(ret->reason, "request over the op's cap");
		return -EMSGSIZE;
	}
	r.target_len = (uint16_t)tlen;
	r.body_len = (uint32_t)req_len;
	nbj_dock_header_encode(&r, h);
	fd = desk_connection();
	from_desk = fd >= 0;
again:
	if (fd < 0)
		fd = path_connection();
	if (fd < 0) {
		strcpy(ret->reason, "cannot reach the dock");
		return fd;
	}
	if (sizeof(h) + tlen + req_len <= sizeof(small)) {
		/* one send for a small request (most): fewer system calls
		 * here and fewer wake-ups of the relay */
		memcpy(small, h, sizeof(h));
		memcpy(small + sizeof(h), target, tlen);
		if (req_len)
			memcpy(small + sizeof(h) + tlen, req, req_len);
		send_err = send_all(fd, small, sizeof(h) + tlen + req_len);
	} else {
		send_err = send_all(fd, h, sizeof(h));
		if (!send_err)
			send_err = send_all(fd, target, tlen);
		if (!send_err && req_len)
			send_err = send_all(fd, req, req_len);
	}
	/* a relay that answered early (a denial) closed its end: its
	 * answer is still there to read */
	err = read_answer(fd, sink, ctx, ret);
	close(fd);
	if (from_desk && !ret->len && (err == -EPIPE || err == -ECONNRESET)) {
		/* a desk's connection closed before any answer: the relay
		 * gave it up in the queue; once more, by the path */
		from_desk = false;
		fd = -1;
		memset(ret, 0, sizeof(*ret));
		goto again;
	}
	if (err < 0 && send_err < 0)
		err = send_err;
	if (err < 0 && !ret->reason[0])
		strcpy(ret->reason, err == -EPIPE ? "the relay closed the connection"
						  : "the answer could not be read");
	return err;
}

struct buf_sink {
	unsigned char *out;
	size_t cap;
	size_t len;
	bool over;
};

static int buf_put(void *ctx, const void *data, size_t len)
{
	struct buf_sink *b = ctx;
	size_t room = b->cap - b->len;

	if (len > room) {
		b->over = true;
		len = room;
	}
	memcpy(b->out + b->len, data, len);
	b->len += len;
	return 0;
}

static ssize_t call_into(uint8_t op, const char *host, uint16_t port, const void *req,
			 size_t req_len, void *out, size_t out_cap)
{
	struct buf_sink b = { .out = out, .cap = out_cap };
	struct nbj_dock_answer a;
	int err = nbj_dock_call(op, host, port, req, req_len, buf_put, &b, &a);

	if (err < 0)
		return err;
	if (a.status < 0)
		return a.status;
	if (a.truncated || b.over)
		return -EMSGSIZE;
	return (ssize_t)b.len;
}

/**
 * nbj_dock_tcp() - connect to @host:@port from the host, send @req,
 * half-close, read the answer until EOF (cap 1 MiB, 10 s)
 * @host:	name or literal address (IPv6 with or without brackets)
 * @port:	port
 * @req:	request bytes
 * @req_len:	their number, at most 1 MiB
 * @out:	where the answer goes
 * @out_cap:	its size
 *
 * Return: the answer's length, or negative errno: -EACCES denied by the
 * policy, -ETIMEDOUT, -ECONNREFUSED, -EMSGSIZE when the answer was cut
 * (by the relay's cap or by @out_cap; @out holds its first bytes), -ENOENT
 * without a dock
 */
ssize_t nbj_dock_tcp(const char *host, uint16_t port, const void *req, size_t req_len,
		     void *out, size_t out_cap)
{
	return call_into(NBJ_DOCK_OP_TCP, host, port, req, req_len, out, out_cap);
}

/**
 * nbj_dock_udp() - one datagram to @host:@port from the host, one back
 * (65,535 bytes, 5 s); the host checks the reply's source
 * @host:	name or literal address
 * @port:	port
 * @req:	the datagram
 * @req_len:	its length, at most 65,535
 * @out:	where the reply goes
 * @out_cap:	its size
 *
 * Return: the reply's length, or negative errno as nbj_dock_tcp()
 */
ssize_t nbj_dock_udp(const char *host, uint16_t port, const void *req, size_t req_len,
		     void *out, size_t out_cap)
{
	return call_into(NBJ_DOCK_OP_UDP, host, port, req, req_len, out, out_cap);
}

/**
 * nbj_dock_tls() - as nbj_dock_tcp(), with TLS done by the host: the
 * server's certificate verified against the job's trust roots and @host
 * @host:	name or literal address (the certificate must name it)
 * @port:	port
 * @req:	plaintext request bytes
 * @req_len:	their number, at most 1 MiB
 * @out:	where the plaintext answer goes
 * @out_cap:	its size
 *
 * Return: the answer's length, or negative errno as nbj_dock_tcp(); -EPROTO
 * when the handshake or the verification failed (nbj_dock_call() gives
 * the cause)
 */
ssize_t nbj_dock_tls(const char *host, uint16_t port, const void *req, size_t req_len,
		     void *out, size_t out_cap)
{
	return call_into(NBJ_DOCK_OP_TLS, host, port, req, req_len, out, out_cap);
}

/**
 * nbj_dock_sign() - HMAC-SHA256 of @data with the policy's key @key,
 * computed by the host's key holder (the key never reaches the job)
 * @key:	the key's name (1 to 64 of [A-Za-z0-9_-])
 * @data:	the bytes to sign
 * @len:	their number, at most 1 MiB
 * @mac:	receives the 32-byte MAC
 *
 * Return: 0, or negative errno: -ENOENT no such key (or no dock),
 * -EACCES denied (rate, revoked, a malformed name), -EPROTO for an answer
 * that is not 32 bytes, others as nbj_dock_tcp()
 */
int nbj_dock_sign(const char *key, const void *data, size_t len,
		  unsigned char mac[NBJ_DOCK_MAC_LEN])
{
	unsigned char out[NBJ_DOCK_MAC_LEN + 1];
	ssize_t n = call_into(NBJ_DOCK_OP_SIGN, key, 0, data, len, out, sizeof(out));

	if (n < 0)
		return (int)n;
	if (n != NBJ_DOCK_MAC_LEN)
		return -EPROTO;
	memcpy(mac, out, NBJ_DOCK_MAC_LEN);
	return 0;
}
