/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dock/wire.c - the dock's request header, both sides
 *
 * Theory of operation: the relay (relay/dock.c) and the client
 * (dock/client.c, the nbjail-dock CLI) share this one encoder and
 * decoder of the 16-byte request header drawn in include/nbjail/dock.h,
 * so both agree on every bound.  The decoder is pure and checks, in this
 * order: the length, the magic, the version, the op (known, reserved ops
 * included), the reserved field (zero), the target's length (at least 1,
 * at most the op's bound) and the body's (the op's bound).  Anything
 * else is -EPROTO, -EPROTONOSUPPORT (another version) or -EMSGSIZE (a
 * field over its bound): the relay answers it and closes.  libc only: the
 * CLI links this file statically.
 */
#include <errno.h>
#include <string.h>

#include "nbjail/dock.h"

static const char *const op_names[] = {
	[NBJ_DOCK_OP_TCP] = "tcp",
	[NBJ_DOCK_OP_UDP] = "udp",
	[NBJ_DOCK_OP_TLS] = "tls",
	[NBJ_DOCK_OP_GET] = "get",
	[NBJ_DOCK_OP_GET_MANY] = "get-many",
	[NBJ_DOCK_OP_SIGN] = "sign",
};

#define OPS (sizeof(op_names) / sizeof(op_names[0]))

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/**
 * nbj_dock_op_name() - "tcp", "udp", "tls", "get", "get-many", "sign"
 * @op:		enum nbj_dock_op
 *
 * Return: a static string, NULL for an unknown op
 */
const char *nbj_dock_op_name(uint8_t op)
{
	return op < OPS ? op_names[op] : NULL;
}

/**
 * nbj_dock_op_from_name() - the op of a name
 * @name:	"tcp", "udp", ...
 *
 * Return: enum nbj_dock_op, or -EINVAL
 */
int nbj_dock_op_from_name(const char *name)
{
	for (unsigned i = 1; name && i < OPS; i++)
		if (op_names[i] && !strcmp(name, op_names[i]))
			return (int)i;
	return -EINVAL;
}

/**
 * nbj_dock_op_target_max() - the bound of an op's target
 * @op:		enum nbj_dock_op
 *
 * Return: a host (tcp, udp, tls) NBJ_DOCK_HOST_MAX, a key name
 * NBJ_DOCK_KEY_MAX, a URL NBJ_DOCK_TARGET_MAX; 0 for an unknown op
 */
size_t nbj_dock_op_target_max(uint8_t op)
{
	switch (op) {
	case NBJ_DOCK_OP_TCP:
	case NBJ_DOCK_OP_UDP:
	case NBJ_DOCK_OP_TLS:
		return NBJ_DOCK_HOST_MAX;
	case NBJ_DOCK_OP_SIGN:
		return NBJ_DOCK_KEY_MAX;
	case NBJ_DOCK_OP_GET:
		return NBJ_DOCK_TARGET_MAX;
	case NBJ_DOCK_OP_GET_MANY:
		return 1;	/* the URLs are the body; the target is "-" */
	default:
		return 0;
	}
}

/**
 * nbj_dock_op_body_max() - the bound of an op's request body
 * @op:		enum nbj_dock_op
 *
 * Return: bytes; 0 for an unknown op or one without a body (get)
 */
size_t nbj_dock_op_body_max(uint8_t op)
{
	switch (op) {
	case NBJ_DOCK_OP_TCP:
	case NBJ_DOCK_OP_TLS:
		return NBJ_DOCK_TCP_REQUEST_MAX;
	case NBJ_DOCK_OP_UDP:
		return NBJ_DOCK_UDP_MAX;
	case NBJ_DOCK_OP_SIGN:
		return NBJ_DOCK_SIGN_MAX;
	case NBJ_DOCK_OP_GET_MANY:
		return NBJ_DOCK_GET_MANY_URLS_MAX * (NBJ_DOCK_TARGET_MAX + 1);
	default:
		return 0;
	}
}

/**
 * nbj_dock_header_encode() - write a request header
 * @req:	op, port and lengths
 * @out:	NBJ_DOCK_HEADER_SIZE bytes
 */
void nbj_dock_header_encode(const struct nbj_dock_request *req,
			    unsigned char out[NBJ_DOCK_HEADER_SIZE])
{
	put32(out, NBJ_DOCK_MAGIC);
	out[4] = NBJ_DOCK_VERSION;
	out[5] = req->op;
	put16(out + 6, req->port);
	put16(out + 8, req->target_len);
	put16(out + 10, 0);
	put32(out + 12, req->body_len);
}

/**
 * nbj_dock_header_decode() - read and check a request header
 * @in:		received bytes
 * @len:	how many (at least NBJ_DOCK_HEADER_SIZE for a verdict)
 * @ret:	the decoded header, set on success only
 *
 * Return: 0; -EAGAIN when fewer than NBJ_DOCK_HEADER_SIZE bytes are in;
 * -EPROTO for a bad magic, an unknown op, a reserved field not zero or
 * an empty target; -EPROTONOSUPPORT for another version; -EMSGSIZE for a
 * target or body over the op's bound
 */
int nbj_dock_header_decode(const unsigned char *in, size_t len,
			   struct nbj_dock_request *ret)
{
	struct nbj_dock_request r;

	if (len < NBJ_DOCK_HEADER_SIZE)
		return -EAGAIN;
	if (get32(in) != NBJ_DOCK_MAGIC)
		return -EPROTO;
	if (in[4] != NBJ_DOCK_VERSION)
		return -EPROTONOSUPPORT;
	r.op = in[5];
	r.port = get16(in + 6);
	r.target_len = get16(in + 8);
	r.body_len = get32(in + 12);
	if (!nbj_dock_op_name(r.op) || get16(in + 10) || !r.target_len)
		return -EPROTO;
	if (r.target_len > nbj_dock_op_target_max(r.op) ||
	    r.body_len > nbj_dock_op_body_max(r.op))
		return -EMSGSIZE;
	*ret = r;
	return 0;
}
