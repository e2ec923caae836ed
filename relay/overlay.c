/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/overlay.c - dialling through an overlay: SOCKS5 and HTTP CONNECT
 *   (and the dispatch to relay/sam.c for i2p)
 *
 * Theory of operation: a flow routed to an overlay (policy/overlay.c) is
 * dialled to the overlay's proxy; once that TCP connection is up, this
 * file runs the proxy's handshake on it, non-blocking, one step per
 * readiness event, in the flow's fixed buffer:
 *
 *   SOCKS5 (RFC 1928, 1929): greeting with one method (no auth, or user
 *   and password), the method reply, the credentials and their status,
 *   CONNECT to the host name (never resolved here: the overlay's resolver
 *   decides) or the literal address, and the reply with its bound address.
 *   With isolate_streams the credentials are random for each connection,
 *   so that Tor (IsolateSOCKSAuth) builds a new circuit for each.
 *
 *   HTTP CONNECT: "CONNECT host:port HTTP/1.1" with Host and, with a
 *   username, Proxy-Authorization: Basic; the answer's head is read up to
 *   its blank line and no further (what follows belongs to the tunnel).
 *
 * Every read takes exactly the bytes the protocol says come next, so no
 * byte of the tunnel is ever consumed.  Any failure (refused, bad reply,
 * authentication, a proxy that closes) ends the flow with a reason for
 * the audit event; nothing ever falls back to dialling direct.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/util.h"
#include "relay/relay_int.h"

enum {
	SOCKS_GREETING = 1,
	SOCKS_METHOD,
	SOCKS_AUTH,
	SOCKS_AUTH_STATUS,
	SOCKS_CONNECT,
	SOCKS_REPLY_HEAD,
	SOCKS_REPLY_REST,
	HTTP_REQUEST,
	HTTP_HEAD,
	PROXY_DONE,
};

static const char *const socks_errors[] = {
	[1] = "general-failure", [2] = "not-allowed-by-ruleset",
	[3] = "network-unreachable", [4] = "host-unreachable",
	[5] = "connection-refused", [6] = "ttl-expired",
	[7] = "command-not-supported", [8] = "address-type-not-supported",
};

static const struct overlay *flow_overlay(const struct relay_ctx *c,
					  const struct flow *f)
{
	return &c->cfg->policy->overlays[f->overlay];
}

/* The destination as the proxy should see it: the name, or the address */
static void dest_host(const struct relay_ctx *c, const struct flow *f, char *buf,
		      size_t len)
{
	struct nbj_addr a = f->target;

	if (f->name >= 0) {
		snprintf(buf, len, "%s", c->names[f->name].name);
		return;
	}
	a.port = 0;
	nbj_addr_format(&a, buf, len);
}

static void queue(struct flow *f, const void *data, size_t len, int next)
{
	memcpy(f->proxy_buf, data, len);
	f->proxy_len = len;
	f->proxy_off = 0;
	f->proxy_step = next;
}

static void expect(struct flow *f, size_t len, int step)
{
	f->proxy_len = len;
	f->proxy_off = 0;
	f->proxy_step = step;
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		memset(r, 0, sizeof(r)); /* never: then at least distinct by time */
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static size_t base64(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/**
 * overlay_begin() - the proxy connection is up: prepare the first message
 * @c:		relay context
 * @f:		the flow (f->overlay is not direct)
 */
void overlay_begin(struct relay_ctx *c, struct flow *f)
{
	const struct overlay *o = flow_overlay(c, f);
	char host[NBJ_NAME_MAX + 1], req[PROXY_BUF];

	if (o->kind == OVERLAY_I2P) {
		sam_flow_begin(c, f);
		return;
	}
	if (o->kind == OVERLAY_SOCKS5 || (o->kind == OVERLAY_TAILSCALE && !o->via_http)) {
		bool auth = o->username[0] || o->isolate_streams;
		unsigned char greet[3] = { 5, 1, auth ? 2 : 0 };

		queue(f, greet, sizeof(greet), SOCKS_GREETING);
		return;
	}
	dest_host(c, f, host, sizeof(host));
	{
		bool v6 = f->name < 0 && f->target.family == AF_INET6;
		int n = snprintf(req, sizeof(req),
				 "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n",
				 v6 ? "[" : "", host, v6 ? "]" : "", f->target.port,
				 v6 ? "[" : "", host, v6 ? "]" : "", f->target.port);

		if (o->username[0]) {
			char cred[520], b64[700];
			int l = snprintf(cred, sizeof(cred), "%s:%s", o->username, o->password);

			base64((unsigned char *)cred, (size_t)l, b64);
			n += snprintf(req + n, sizeof(req) - (size_t)n,
				      "Proxy-Authorization: Basic %s\r\n", b64);
			explicit_bzero(cred, sizeof(cred));
		}
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
		queue(f, req, (size_t)n, HTTP_REQUEST);
	}
}

/* Build the next SOCKS5 message after a completed read */
static int socks_next(struct relay_ctx *c, struct flow *f, const char **why)
{
	const struct overlay *o = flow_overlay(c, f);
	unsigned char *b = f->proxy_buf, msg[PROXY_BUF];
	size_t n = 0;

	switch (f->proxy_step) {
	case SOCKS_METHOD:
		if (b[0] != 5 || b[1] == 0xff || b[1] != ((o->username[0] || o->isolate_streams) ? 2 : 0)) {
			*why = b[1] == 0xff ? "no-acceptable-auth-method" : "protocol-error";
			return -EPROTO;
		}
		if (b[1] == 2) {
			char user[256], pass[256];

			if (o->isolate_streams) {
				memcpy(user, "nbjail-", 7);
				random_hex(user + 7, 12);
				random_hex(pass, 16);
			} else {
				snprintf(user, sizeof(user), "%s", o->username);
				snprintf(pass, sizeof(pass), "%s", o->password);
			}
			msg[n++] = 1;
			msg[n++] = (unsigned char)strlen(user);
			memcpy(msg + n, user, strlen(user));
			n += strlen(user);
			msg[n++] = (unsigned char)strlen(pass);
			memcpy(msg + n, pass, strlen(pass));
			n += strlen(pass);
			queue(f, msg, n, SOCKS_AUTH);
			explicit_bzero(pass, sizeof(pass));
			return 0;
		}
		/* no authentication: straight to CONNECT */
		__attribute__((fallthrough));
	case SOCKS_AUTH_STATUS:
		if (f->proxy_step == SOCKS_AUTH_STATUS && (b[0] != 1 || b[1] != 0)) {
			*why = "auth-failed";
			return -EACCES;
		}
		msg[n++] = 5;
		msg[n++] = 1;	/* CONNECT */
		msg[n++] = 0;
		if (f->name >= 0) {
			const char *name = c->names[f->name].name;

			msg[n++] = 3;
			msg[n++] = (unsigned char)strlen(name);
			memcpy(msg + n, name, strlen(name));
			n += strlen(name);
		} else if (f->target.family == AF_INET) {
			msg[n++] = 1;
			memcpy(msg + n, &f->target.v4, 4);
			n += 4;
		} else {
			msg[n++] = 4;
			memcpy(msg + n, &f->target.v6, 16);
			n += 16;
		}
		msg[n++] = (unsigned char)(f->target.port >> 8);
		msg[n++] = (unsigned char)f->target.port;
		queue(f, msg, n, SOCKS_CONNECT);
		return 0;
	case SOCKS_REPLY_HEAD:
		if (b[0] != 5) {
			*why = "protocol-error";
			return -EPROTO;
		}
		if (b[1] != 0) {
			*why = b[1] < 9 ? socks_errors[b[1]] : "refused";
			return -ECONNREFUSED;
		}
		/* the bound address: the rest of it, and the port */
		switch (b[3]) {
		case 1:
			expect(f, 4 - 1 + 2, SOCKS_REPLY_REST);
			return 0;
		case 4:
			expect(f, 16 - 1 + 2, SOCKS_REPLY_REST);
			return 0;
		case 3:
			expect(f, (size_t)b[4] + 2, SOCKS_REPLY_REST);
			return 0;
		}
		*why = "protocol-error";
		return -EPROTO;
	case SOCKS_REPLY_REST:
		f->proxy_step = PROXY_DONE;
		return 0;
	}
	*why = "protocol-error";
	return -EPROTO;
}

/* After a completed write, what is read next */
static void after_write(struct flow *f)
{
	switch (f->proxy_step) {
	case SOCKS_GREETING:
		expect(f, 2, SOCKS_METHOD);
		break;
	case SOCKS_AUTH:
		expect(f, 2, SOCKS_AUTH_STATUS);
		break;
	case SOCKS_CONNECT:
		expect(f, 5, SOCKS_REPLY_HEAD); /* ver rep rsv atyp + 1st addr byte */
		break;
	case HTTP_REQUEST:
		f->proxy_len = f->proxy_off = 0;
		f->proxy_step = HTTP_HEAD;
		break;
	}
}

static bool writing(const struct flow *f)
{
	return f->proxy_step == SOCKS_GREETING || f->proxy_step == SOCKS_AUTH ||
	       f->proxy_step == SOCKS_CONNECT || f->proxy_step == HTTP_REQUEST;
}

/* The head of an HTTP answer, read without passing its blank line */
static int http_head(struct flow *f, int fd, const char **why)
{
	char peek[PROXY_BUF];
	ssize_t n = recv(fd, peek, sizeof(peek) - 1 - f->proxy_off, MSG_PEEK);
	char *end, *p;
	unsigned status;

	if (n == 0) {
		*why = "proxy-closed";
		return -ECONNRESET;
	}
	if (n < 0)
		return errno == EAGAIN ? 0 : negative_errno();
	memcpy(f->proxy_buf + f->proxy_off, peek, (size_t)n);
	f->proxy_buf[f->proxy_off + (size_t)n] = '\0';
	end = strstr((char *)f->proxy_buf, "\r\n\r\n");
	if (!end) {
		if (f->proxy_off + (size_t)n >= sizeof(f->proxy_buf) - 1) {
			*why = "proxy-answer-too-long";
			return -EPROTO;
		}
		/* consume what was peeked: no blank line in it */
		if (recv(fd, peek, (size_t)n, 0) != n)
			return -EIO;
		f->proxy_off += (size_t)n;
		return 0;
	}
	/* consume exactly up to the blank line */
	{
		size_t want = (size_t)(end + 4 - (char *)f->proxy_buf) - f->proxy_off;

		if (recv(fd, peek, want, 0) != (ssize_t)want)
			return -EIO;
	}
	p = (char *)f->proxy_buf;
	if (sscanf(p, "HTTP/1.%*u %u", &status) != 1) {
		*why = "protocol-error";
		return -EPROTO;
	}
	if (status == 407) {
		*why = "auth-failed";
		return -EACCES;
	}
	if (status / 100 != 2) {
		snprintf(f->proxy_why, sizeof(f->proxy_why), "proxy-status-%u", status);
		*why = f->proxy_why;
		return -ECONNREFUSED;
	}
	f->proxy_step = PROXY_DONE;
	return 1;
}

/**
 * overlay_io() - advance the proxy handshake on the dial side
 * @c:		relay context
 * @f:		the flow
 * @ret_why:	on failure, the reason for the audit event
 *
 * Return: 1 when the tunnel is open, 0 to wait (overlay_wants_write()
 * says for what), negative errno when the flow must end
 */
int overlay_io(struct relay_ctx *c, struct flow *f, const char **ret_why)
{
	int fd = f->side[FLOW_SIDE_DIAL].fd;

	if (flow_overlay(c, f)->kind == OVERLAY_I2P)
		return sam_flow_io(c, f, ret_why);
	*ret_why = "proxy-error";
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n;
		int err;

		if (f->proxy_step == PROXY_DONE)
			return 1;
		if (f->proxy_step == HTTP_HEAD) {
			err = http_head(f, fd, ret_why);
			if (err <= 0)
				return err;
			continue;
		}
		if (writing(f)) {
			n = send(fd, f->proxy_buf + f->proxy_off, f->proxy_len - f->proxy_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0)
				return errno == EAGAIN ? 0 : negative_errno();
			f->proxy_off += (size_t)n;
			if (f->proxy_off == f->proxy_len)
				after_write(f);
			continue;
		}
		n = recv(fd, f->proxy_buf + f->proxy_off, f->proxy_len - f->proxy_off,
			 MSG_DONTWAIT);
		if (n == 0) {
			*ret_why = "proxy-closed";
			return -ECONNRESET;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : negative_errno();
		f->proxy_off += (size_t)n;
		if (f->proxy_off < f->proxy_len)
			continue;
		err = socks_next(c, f, ret_why);
		if (err < 0)
			return err;
	}
	return 0;
}

/**
 * overlay_wants() - what the handshake waits for on the dial side
 * @f:		the flow
 *
 * Return: EPOLLOUT, EPOLLIN, or 0 when it waits for something else (an
 * i2p session that is not ready yet)
 */
uint32_t overlay_wants(const struct flow *f)
{
	if (f->proxy_step >= 100)
		return sam_flow_wants(f);
	return writing(f) ? EPOLLOUT : EPOLLIN;
}
