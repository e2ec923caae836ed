/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/sni.c - read the server name from a TLS ClientHello
 *
 * The relay peeks at the first bytes a job sends on a connection to a
 * name (never consuming them): if they are a TLS handshake record holding
 * a ClientHello, its server_name extension must name the same host the
 * synthetic address stands for, or the connection is cut (no domain
 * fronting through an allowed name).  Every length is checked against
 * the bytes present; a record split over several TLS records is read
 * only from the first one, which in practice holds the whole hello.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "relay/sni.h"

#define TLS_HANDSHAKE 22
#define TLS_CLIENT_HELLO 1
#define TLS_EXT_SERVER_NAME 0
#define SNI_HOST_NAME 0

struct reader {
	const unsigned char *p;
	size_t left;
};

static int take(struct reader *r, size_t n, const unsigned char **ret)
{
	if (r->left < n)
		return -EAGAIN;
	*ret = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static int u8(struct reader *r, unsigned *v)
{
	const unsigned char *p;
	int err = take(r, 1, &p);

	if (!err)
		*v = p[0];
	return err;
}

static int u16(struct reader *r, unsigned *v)
{
	const unsigned char *p;
	int err = take(r, 2, &p);

	if (!err)
		*v = (unsigned)p[0] << 8 | p[1];
	return err;
}

static int u24(struct reader *r, unsigned *v)
{
	const unsigned char *p;
	int err = take(r, 3, &p);

	if (!err)
		*v = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
	return err;
}

/* Enter a sub-structure of @len bytes */
static int sub(struct reader *r, size_t len, struct reader *ret)
{
	const unsigned char *p;
	int err = take(r, len, &p);

	if (!err)
		*ret = (struct reader){ p, len };
	return err;
}

static int server_name(struct reader ext, char *sni, size_t snilen)
{
	struct reader list, name;
	unsigned len, type;

	if (u16(&ext, &len) || sub(&ext, len, &list))
		return -EINVAL;
	while (list.left) {
		if (u8(&list, &type) || u16(&list, &len) || sub(&list, len, &name))
			return -EINVAL;
		if (type != SNI_HOST_NAME)
			continue;
		if (!len || len >= snilen || memchr(name.p, 0, len))
			return -EINVAL;
		memcpy(sni, name.p, len);
		sni[len] = '\0';
		return 1;
	}
	return 0;
}

/**
 * tls_client_hello_sni() - the server name in the first bytes of a flow
 * @buf:	bytes peeked from the client
 * @len:	their number
 * @sni:	the server name, NUL-terminated, as sent
 * @snilen:	size of @sni
 *
 * Return: 1 with @sni set; 0 if the bytes are not a TLS handshake or the
 * hello has no server name; -EAGAIN if more bytes are needed to tell;
 * -EINVAL for a malformed hello
 */
int tls_client_hello_sni(const unsigned char *buf, size_t len, char *sni,
			 size_t snilen)
{
	struct reader rec = { buf, len }, body, hello, exts, ext;
	unsigned type, v, n;
	const unsigned char *skip;

	if (len >= 1 && buf[0] != TLS_HANDSHAKE)
		return 0;
	if (len >= 2 && buf[1] != 3)
		return 0;
	if (u8(&rec, &type) || u16(&rec, &v) || u16(&rec, &n))
		return -EAGAIN;
	if (n > SNI_PEEK_MAX)
		return -EINVAL;
	if (sub(&rec, n, &body))
		return rec.left + 5 >= SNI_PEEK_MAX ? -EINVAL : -EAGAIN;
	if (u8(&body, &type) || type != TLS_CLIENT_HELLO)
		return 0;
	if (u24(&body, &n) || sub(&body, n, &hello))
		return -EINVAL; /* split over records: refuse to guess */
	if (take(&hello, 2 + 32, &skip))		/* version, random */
		return -EINVAL;
	if (u8(&hello, &n) || take(&hello, n, &skip))	/* session id */
		return -EINVAL;
	if (u16(&hello, &n) || take(&hello, n, &skip))	/* cipher suites */
		return -EINVAL;
	if (u8(&hello, &n) || take(&hello, n, &skip))	/* compression */
		return -EINVAL;
	if (!hello.left)
		return 0;				/* no extensions */
	if (u16(&hello, &n) || sub(&hello, n, &exts))
		return -EINVAL;
	while (exts.left) {
		if (u16(&exts, &type) || u16(&exts, &n) || sub(&exts, n, &ext))
			return -EINVAL;
		if (type == TLS_EXT_SERVER_NAME)
			return server_name(ext, sni, snilen);
	}
	return 0;
}
