/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dock/main.c - nbjail-dock, the job's command for the dock
 *
 * Theory of operation: parse `OP ARGS`, read the request from stdin
 * (bounded by the op's cap: more is an error, never a silent cut), make
 * one call with nbj_dock_call() (dock/client.c) and write the answer to
 * stdout as it arrives.  The exit status says how it went:
 *
 *   0  the answer is complete on stdout (get: the HTTP status and the
 *      final URL on stderr, whatever the status; get-many: one JSON line
 *      per URL, failed ones included)
 *   1  denied by the policy: "nbjail-dock: denied TARGET reason=REASON"
 *   2  usage
 *   3  failed: no dock, timeout, refused, not implemented yet, no such
 *      key, more than 5 redirects, more than 64 URLs for get-many, ...
 *      with the cause on stderr
 *   4  a cap cut the answer: what came is on stdout, and stderr says so
 *      (get-many: some URL's body, its line says "truncated":true)
 *
 * nbjail makes this program visible read-only in every job with a dock,
 * at /run/nbjail/bin/nbjail-dock, on the job's PATH.  Linked statically
 * against libc only, so that it runs whatever the job's view of the host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbjail/dock.h"

#define EXIT_DENIED 1
#define EXIT_USAGE 2
#define EXIT_FAILED 3
#define EXIT_CUT 4

static const char usage_text[] =
	"usage: nbjail-dock tcp HOST PORT    stdin to HOST:PORT over TCP, the answer to stdout\n"
	"       nbjail-dock udp HOST PORT    one datagram (stdin) out, one back (stdout)\n"
	"       nbjail-dock tls HOST PORT    as tcp, over TLS done by the host\n"
	"       nbjail-dock get URL          HTTP(S) GET by the host: body to stdout, status to stderr\n"
	"       nbjail-dock get-many         URLs on stdin (one a line, at most 64): a JSON line each\n"
	"       nbjail-dock sign KEY         HMAC-SHA256 of stdin with KEY, hex\n"
	"exit: 0 done, 1 denied, 2 usage, 3 failed, 4 answer cut by a cap\n";

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "nbjail-dock: %s\n", why);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* All of stdin, at most @max bytes; -EMSGSIZE beyond */
static ssize_t read_stdin(unsigned char *buf, size_t max)
{
	size_t have = 0;

	for (;;) {
		ssize_t n = read(0, buf + have, max + 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return (ssize_t)have;
		have += (size_t)n;
		if (have > max)
			return -EMSGSIZE;
	}
}

static int write_out(void *ctx, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	(void)ctx;
	while (len) {
		ssize_t n = write(1, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Lowercase hex of the answer (sign) */
static int write_hex(void *ctx, const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = buf;
	char out[128];

	while (len) {
		size_t n = len > sizeof(out) / 2 ? sizeof(out) / 2 : len;

		for (size_t i = 0; i < n; i++) {
			out[2 * i] = digits[p[i] >> 4];
			out[2 * i + 1] = digits[p[i] & 15];
		}
		if (write_out(ctx, out, 2 * n) < 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char body[NBJ_DOCK_TCP_REQUEST_MAX + 1];
	const char *target = NULL;
	struct nbj_dock_answer a;
	uint16_t port = 0;
	ssize_t len = 0;
	int op, err;

	if (argc < 2)
		return usage(NULL);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	op = nbj_dock_op_from_name(argv[1]);
	switch (op) {
	case NBJ_DOCK_OP_TCP:
	case NBJ_DOCK_OP_UDP:
	case NBJ_DOCK_OP_TLS:
		if (argc != 4)
			return usage("expected HOST PORT");
		if (parse_port(argv[3], &port) < 0)
			return usage("PORT: a number from 1 to 65535");
		target = argv[2];
		break;
	case NBJ_DOCK_OP_GET:
	case NBJ_DOCK_OP_SIGN:
		if (argc != 3)
			return usage(op == NBJ_DOCK_OP_GET ? "expected URL" : "expected KEY");
		target = argv[2];
		break;
	case NBJ_DOCK_OP_GET_MANY:
		if (argc != 2)
			return usage("get-many reads its URLs from stdin");
		target = "-";
		break;
	default:
		return usage("unknown operation");
	}
	if (!target[0] || strlen(target) > nbj_dock_op_target_max((uint8_t)op))
		return usage(op == NBJ_DOCK_OP_SIGN ? "KEY: 1 to 64 bytes"
			     : op == NBJ_DOCK_OP_GET ? "URL: 1 to 2048 bytes"
			     : "HOST: 1 to 253 bytes");
	if (nbj_dock_op_body_max((uint8_t)op)) {
		len = read_stdin(body, nbj_dock_op_body_max((uint8_t)op));
		if (len == -EMSGSIZE) {
			fprintf(stderr, "nbjail-dock: the request is over the %s cap of %zu "
				"bytes\n", argv[1], nbj_dock_op_body_max((uint8_t)op));
			return EXIT_FAILED;
		}
		if (len < 0) {
			fprintf(stderr, "nbjail-dock: cannot read stdin: %s\n",
				strerror((int)-len));
			return EXIT_FAILED;
		}
	}
	err = nbj_dock_call((uint8_t)op, target, port, body, (size_t)len,
			    op == NBJ_DOCK_OP_SIGN ? write_hex : write_out, NULL, &a);
	if (err < 0) {
		fprintf(stderr, "nbjail-dock: %s %s: %s (%s)\n", argv[1], target, strerror(-err),
			a.reason);
		return EXIT_FAILED;
	}
	if (a.status == -EACCES) {
		if (port)
			fprintf(stderr, "nbjail-dock: denied %s:%u reason=%s\n", target, port,
				a.reason);
		else
			fprintf(stderr, "nbjail-dock: denied %s reason=%s\n", target, a.reason);
		return EXIT_DENIED;
	}
	if (a.status < 0) {
		fprintf(stderr, "nbjail-dock: %s %s: %s%s%s\n", argv[1], target,
			strerror(-a.status), a.reason[0] ? ": " : "", a.reason);
		return EXIT_FAILED;
	}
	if (op == NBJ_DOCK_OP_SIGN)
		(void)write_out(NULL, "\n", 1);
	if (op == NBJ_DOCK_OP_GET)
		fprintf(stderr, "nbjail-dock: HTTP %s\n", a.reason);
	if (a.truncated && op == NBJ_DOCK_OP_GET_MANY) {
		fprintf(stderr, "nbjail-dock: some answers were cut at the %u-byte cap "
			"(their lines say \"truncated\":true)\n", NBJ_DOCK_GET_BODY_MAX);
		return EXIT_CUT;
	}
	if (a.truncated) {
		fprintf(stderr, "nbjail-dock: the answer was cut at %zu bytes (the %s cap)\n",
			a.len, argv[1]);
		return EXIT_CUT;
	}
	return 0;
}
