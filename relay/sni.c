/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/sni.c - read the server name from a TLS ClientHello
 *
 * Theory of operation: on a flow to a name, the relay peeks at the first
 * bytes the job sends (never consuming them, so the server gets them
 * unchanged) and reads them here before any of them is forwarded.  If
 * they are TLS, they must hold one ClientHello whose server_name names
 * the host that the synthetic address stands for; anything else is cut
 * (no domain fronting through an allowed name).  The server must see the
 * hello that was checked, so the reading is strict where a server would
 * be lenient:
 *
 *   - records are reassembled, as a server does, until one whole
 *     handshake message is there: a ClientHello may span records, and an
 *     empty handshake record is skipped (OpenSSL accepts them; an
 *     earlier reading that gave up on them let the next record pass
 *     unchecked);
 *   - every record before the end of the hello must be a handshake
 *     record of version 3.x; any other content type (alert,
 *     change_cipher_spec, application data) is refused;
 *   - at most SNI_RECORDS_MAX records and SNI_PEEK_MAX bytes, headers
 *     included; the hello must end at a record boundary;
 *   - the first handshake message must be a ClientHello, and every
 *     length inside it must add up exactly;
 *   - exactly one server_name extension, holding exactly one entry, of
 *     type host_name, 1 to SNI_NAME_MAX bytes without NUL; a hello with
 *     no server_name extension is "missing"; a second server_name
 *     extension, a second entry, an entry of another type are refused;
 *   - an encrypted_client_hello extension is refused: its inner hello,
 *     which the server may obey, names a host we cannot read;
 *   - an SSLv2-format hello (first byte with the high bit set, message
 *     type 1, version 3.x), which OpenSSL's record layer still reads for
 *     TLS up to 1.2 where a server allows such versions (Python's
 *     defaults refuse it), has no extensions, so no server name:
 *     "missing".
 *
 *   - a first record of another TLS content type (20 to 24, version
 *     3.x) is refused too (OpenSSL 3.0 itself refuses alert, CCS and
 *     application data before the hello; other servers might skip them).
 *
 * A server may answer the hello with a HelloRetryRequest, after which
 * the client sends a second ClientHello (after an optional
 * change_cipher_spec record), and OpenSSL servers pick the certificate
 * again by its server name: tls_server_reply_read() tells the caller
 * (relay/tcp.c) to read that second hello the same way.
 *
 * Bytes that do not start like a TLS record are not TLS: the caller lets
 * them pass unchecked (plain HTTP, SSH, SMTP before STARTTLS).
 *
 * The reader never reads past @len, allocates nothing, and copies the
 * handshake bytes of the records into a buffer on the stack
 * (SNI_PEEK_MAX), which is why a hello larger than that is refused.
 */
#include <stdint.h>
#include <string.h>

#include "relay/sni.h"

#define TLS_CONTENT_FIRST 20		/* change_cipher_spec */
#define TLS_HANDSHAKE 22
#define TLS_CONTENT_LAST 24		/* heartbeat */
#define TLS_RECORD_HEADER 5
#define TLS_RECORD_MAX 16384		/* largest plaintext fragment (2^14) */
#define TLS_CLIENT_HELLO 1
#define TLS_EXT_SERVER_NAME 0
#define TLS_EXT_ECH 0xfe0d		/* encrypted_client_hello */
#define SNI_HOST_NAME 0
#define SSL2_MT_CLIENT_HELLO 1

struct reader {
	const unsigned char *p;
	size_t left;
};

static bool take(struct reader *r, size_t n, const unsigned char **ret)
{
	if (r->left < n)
		return false;
	*ret = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static bool u8(struct reader *r, size_t *v)
{
	const unsigned char *p;

	if (!take(r, 1, &p))
		return false;
	*v = p[0];
	return true;
}

static bool u16(struct reader *r, size_t *v)
{
	const unsigned char *p;

	if (!take(r, 2, &p))
		return false;
	*v = (size_t)p[0] << 8 | p[1];
	return true;
}

/* A length-prefixed vector (@width 1 or 2 bytes) as a reader of its own */
static bool vec(struct reader *r, int width, struct reader *ret)
{
	const unsigned char *p;
	size_t n;

	if (!(width == 1 ? u8(r, &n) : u16(r, &n)) || !take(r, n, &p))
		return false;
	*ret = (struct reader){ p, n };
	return true;
}

static enum sni_verdict verdict(struct sni_hello *ret, enum sni_verdict v,
				const char *why)
{
	ret->verdict = v;
	ret->why = why;
	return v;
}

/* server_name (RFC 6066 section 3), as OpenSSL reads it: one entry, a
 * host_name */
static enum sni_verdict server_name(struct reader ext, struct sni_hello *ret)
{
	struct reader list, name;
	size_t type;

	if (!vec(&ext, 2, &list) || ext.left)
		return verdict(ret, SNI_BAD, "server_name extension length");
	if (!list.left)
		return verdict(ret, SNI_BAD, "empty server_name list");
	if (!u8(&list, &type) || !vec(&list, 2, &name))
		return verdict(ret, SNI_BAD, "server_name entry length");
	if (list.left)
		return verdict(ret, SNI_BAD, "more than one server_name entry");
	if (type != SNI_HOST_NAME)
		return verdict(ret, SNI_BAD, "server_name entry not a host_name");
	if (!name.left || name.left > SNI_NAME_MAX || memchr(name.p, 0, name.left))
		return verdict(ret, SNI_BAD, "host_name empty, too long or with NUL");
	memcpy(ret->name, name.p, name.left);
	ret->name[name.left] = '\0';
	return verdict(ret, SNI_ONE, NULL);
}

/* The body of a ClientHello (RFC 8446 section 4.1.2) */
static enum sni_verdict client_hello(struct reader hello, struct sni_hello *ret)
{
	struct reader skip, exts, ext, found = { NULL, 0 };
	const unsigned char *p;
	unsigned n_sni = 0;

	if (!take(&hello, 2 + 32, &p) ||			/* version, random */
	    !vec(&hello, 1, &skip) ||				/* session id */
	    !vec(&hello, 2, &skip) ||				/* cipher suites */
	    !vec(&hello, 1, &skip))				/* compression */
		return verdict(ret, SNI_BAD, "ClientHello field length");
	if (!hello.left)
		return verdict(ret, SNI_MISSING, "no extensions");
	if (!vec(&hello, 2, &exts) || hello.left)
		return verdict(ret, SNI_BAD, "extensions length");
	while (exts.left) {
		size_t type;

		if (!u16(&exts, &type) || !vec(&exts, 2, &ext))
			return verdict(ret, SNI_BAD, "extension length");
		if (type == TLS_EXT_ECH)
			return verdict(ret, SNI_BAD, "encrypted_client_hello");
		if (type != TLS_EXT_SERVER_NAME)
			continue;
		if (++n_sni > 1)
			return verdict(ret, SNI_BAD, "more than one server_name extension");
		found = ext;
	}
	if (!n_sni)
		return verdict(ret, SNI_MISSING, "no server_name extension");
	return server_name(found, ret);
}

/* SSLv2-format record of a ClientHello: 2-byte header with the high bit,
 * message type 1, version major 3 */
static bool sslv2_hello(const unsigned char *buf, size_t len)
{
	return (buf[0] & 0x80) && (len < 3 || buf[2] == SSL2_MT_CLIENT_HELLO) &&
	       (len < 4 || buf[3] == 3);
}

/* Reassemble records until one whole handshake message is there */
static enum sni_verdict read_records(const unsigned char *buf, size_t len,
				     struct sni_hello *ret)
{
	unsigned char hs[SNI_PEEK_MAX];
	size_t off = 0, hs_len = 0;
	unsigned records = 0;

	if (!len) {
		ret->need = 1;
		return verdict(ret, SNI_NEED_MORE, NULL);
	}
	if (buf[0] != TLS_HANDSHAKE) {
		if (buf[0] >= TLS_CONTENT_FIRST && buf[0] <= TLS_CONTENT_LAST) {
			/* alert, change_cipher_spec, ... with a TLS version:
			 * a record before the hello (some server might skip
			 * it), refused; else not TLS */
			if (len < 2) {
				ret->need = 2;
				return verdict(ret, SNI_NEED_MORE, NULL);
			}
			if (buf[1] == 3)
				return verdict(ret, SNI_BAD, "a record other than handshake before the ClientHello");
			return verdict(ret, SNI_NOT_TLS, NULL);
		}
		if (!sslv2_hello(buf, len))
			return verdict(ret, SNI_NOT_TLS, NULL);
		if (len < 4) {
			ret->need = 4;
			return verdict(ret, SNI_NEED_MORE, NULL);
		}
		return verdict(ret, SNI_MISSING, "SSLv2-format ClientHello");
	}
	for (;;) {
		size_t rlen, body;

		if (len - off < TLS_RECORD_HEADER) {
			/* a record's type and version are judged as soon as
			 * they are here */
			if (len - off >= 1 && buf[off] != TLS_HANDSHAKE)
				return verdict(ret, SNI_BAD, "a record other than handshake before the ClientHello");
			if (len - off >= 2 && buf[off + 1] != 3)
				return verdict(ret, SNI_BAD, "record version not 3.x");
			if (off + TLS_RECORD_HEADER > SNI_PEEK_MAX)
				return verdict(ret, SNI_BAD, "ClientHello larger than 16 KiB");
			ret->need = off + TLS_RECORD_HEADER;
			return verdict(ret, SNI_NEED_MORE, NULL);
		}
		if (buf[off] != TLS_HANDSHAKE)
			return verdict(ret, SNI_BAD, "a record other than handshake before the ClientHello");
		if (buf[off + 1] != 3)
			return verdict(ret, SNI_BAD, "record version not 3.x");
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen > TLS_RECORD_MAX)
			return verdict(ret, SNI_BAD, "record longer than 2^14");
		if (off + TLS_RECORD_HEADER + rlen > SNI_PEEK_MAX)
			return verdict(ret, SNI_BAD, "ClientHello larger than 16 KiB");
		if (++records > SNI_RECORDS_MAX)
			return verdict(ret, SNI_BAD, "ClientHello spread over too many records");
		if (len - off < TLS_RECORD_HEADER + rlen) {
			ret->need = off + TLS_RECORD_HEADER + rlen;
			return verdict(ret, SNI_NEED_MORE, NULL);
		}
		memcpy(hs + hs_len, buf + off + TLS_RECORD_HEADER, rlen);
		hs_len += rlen;
		off += TLS_RECORD_HEADER + rlen;
		if (hs_len < 4)
			continue;	/* empty or tiny records: read on */
		if (hs[0] != TLS_CLIENT_HELLO)
			return verdict(ret, SNI_BAD, "first handshake message not a ClientHello");
		body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
		if (4 + body > SNI_PEEK_MAX)
			return verdict(ret, SNI_BAD, "ClientHello larger than 16 KiB");
		if (hs_len < 4 + body)
			continue;
		if (hs_len > 4 + body)
			return verdict(ret, SNI_BAD, "handshake bytes after the ClientHello");
		ret->len = off;
		return client_hello((struct reader){ hs + 4, body }, ret);
	}
}

/**
 * tls_client_hello_read() - read the first bytes of a flow as a
 * ClientHello, strictly (see the theory of operation above)
 * @buf:	bytes peeked from the job, from the start of the flow
 * @len:	their number
 * @ret:	the verdict; with SNI_NEED_MORE, @ret->need bytes (more than
 *		@len, at most SNI_PEEK_MAX) are needed to go on; with
 *		SNI_ONE, @ret->name holds the host name as sent
 */
void tls_client_hello_read(const unsigned char *buf, size_t len,
			   struct sni_hello *ret)
{
	memset(ret, 0, sizeof(*ret));
	(void)read_records(buf, len, ret);
}

/* The random of a HelloRetryRequest: SHA-256("HelloRetryRequest"),
 * RFC 8446 section 4.1.3 */
static const unsigned char hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02,
	0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/**
 * tls_server_reply_read() - is the server's first record a
 * HelloRetryRequest?  After one, the client sends a second ClientHello,
 * and OpenSSL servers obey its server name (they pick the certificate
 * again): the relay must read that hello too.
 * @buf:	bytes peeked from the server, from the start of the flow
 * @len:	their number
 * @need:	with SNI_REPLY_NEED_MORE, how many bytes are needed
 *
 * Return: enum sni_server_reply
 */
enum sni_server_reply tls_server_reply_read(const unsigned char *buf, size_t len,
					    size_t *need)
{
	*need = TLS_RECORD_HEADER;
	if (len >= 1 && buf[0] != TLS_HANDSHAKE)
		return SNI_REPLY_OTHER;
	if (len < TLS_RECORD_HEADER)
		return SNI_REPLY_NEED_MORE;
	*need = SNI_REPLY_PEEK;
	/* a ServerHello (type 2) whose version and random are in this
	 * record; a handshake record too short for them is refused */
	if (((size_t)buf[3] << 8 | buf[4]) < SNI_REPLY_PEEK - TLS_RECORD_HEADER)
		return SNI_REPLY_BAD;
	if (len < SNI_REPLY_PEEK)
		return SNI_REPLY_NEED_MORE;
	if (buf[5] != 2)
		return SNI_REPLY_OTHER;
	return memcmp(buf + 11, hrr_random, sizeof(hrr_random)) ? SNI_REPLY_OTHER
								  : SNI_REPLY_HRR;
}

/**
 * tls_is_ccs_record() - the one-byte change_cipher_spec record a TLS 1.3
 * client may send before its second ClientHello (middlebox compatibility)
 * @buf:	bytes
 * @len:	their number, at least TLS_CCS_RECORD_LEN
 *
 * Return: true if @buf starts with it
 */
bool tls_is_ccs_record(const unsigned char *buf, size_t len)
{
	return len >= TLS_CCS_RECORD_LEN && buf[0] == TLS_CONTENT_FIRST && buf[1] == 3 &&
	       buf[3] == 0 && buf[4] == 1 && buf[5] == 1;
}

static char ascii_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/**
 * sni_name_matches() - is a server name the pinned name?
 * @sni:	the host_name of a ClientHello
 * @pinned:	the name the flow's synthetic address stands for
 *
 * ASCII case is ignored, and one trailing dot on either side.
 *
 * Return: true if they name the same host
 */
bool sni_name_matches(const char *sni, const char *pinned)
{
	size_t a = strlen(sni), b = strlen(pinned);

	if (a && sni[a - 1] == '.')
		a--;
	if (b && pinned[b - 1] == '.')
		b--;
	if (!a || a != b)
		return false;
	for (size_t i = 0; i < a; i++)
		if (ascii_lower(sni[i]) != ascii_lower(pinned[i]))
			return false;
	return true;
}
