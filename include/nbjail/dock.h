/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nbjail/dock.h - the dock: a job's calls to host-side brokers
 *
 * A job with a dock (profiles net and browse) finds a unix stream socket
 * at $NBJAIL_DOCK (/run/nbjail/dock.sock).  On it, one connection carries
 * one call: the client writes one request frame, the relay answers with a
 * sequence of records and closes.  nbjail-dock(7) is the reference; the
 * layout below is a stable interface (all integers big-endian):
 *
 *   request   0      4       5    6      8          10         12          16
 *             +------+-------+----+------+----------+----------+-----------+
 *             | magic| vers  | op | port | target_len| reserved | body_len  |
 *             +------+-------+----+------+----------+----------+-----------+
 *             then target_len bytes of target (a host name or address,
 *             a URL, a key name), then body_len bytes of body
 *
 *   answer    a sequence of records, each an 8-byte header
 *             +------+-------+-----------+--------+
 *             | type | flags | reserved  | length |   (1, 1, 2, 4 bytes)
 *             +------+-------+-----------+--------+
 *             then length bytes: DATA records carry the answer's bytes
 *             (at most NBJ_DOCK_RECORD_MAX each); the one END record,
 *             always last, carries a signed 32-bit status (0 or a
 *             negative errno) and then the reason text; flags of END:
 *             NBJ_DOCK_TRUNCATED when a cap cut the answer
 *
 * The client side below (libnbjail; the nbjail-dock CLI) needs only libc.
 */
#ifndef NBJAIL_DOCK_H
#define NBJAIL_DOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NBJ_DOCK_ENV "NBJAIL_DOCK"
#define NBJ_DOCK_PATH "/run/nbjail/dock.sock"
/* The desk: a unix seqpacket socket connected to the relay, inherited by
 * every process of the job at this fd (named by NBJAIL_DOCK_FD): a
 * one-byte message "c" asks for a connection, the answer is a one-byte
 * message "c" with the connection's fd (SCM_RIGHTS), or "b" without one
 * (busy: use the socket's path).  No connect() for the job's notifier
 * to carry out: a call costs no round trip through the supervisor. */
#define NBJ_DOCK_FD_ENV "NBJAIL_DOCK_FD"
#define NBJ_DOCK_DESK_FD 1023
#define NBJ_DOCK_DESK_FD_STR "1023"	/* the same, for NBJAIL_DOCK_FD */
#define NBJ_DOCK_DESK_ASK 'c'
#define NBJ_DOCK_DESK_BUSY 'b'
#define NBJ_DOCK_BIN_DIR "/run/nbjail/bin"

#define NBJ_DOCK_MAGIC 0x4e424a44u	/* "NBJD" */
#define NBJ_DOCK_VERSION 1
#define NBJ_DOCK_HEADER_SIZE 16
#define NBJ_DOCK_RECORD_HEADER_SIZE 8

#define NBJ_DOCK_HOST_MAX 253		/* a DNS name; an address is shorter */
#define NBJ_DOCK_TARGET_MAX 2048	/* URLs (get) */
#define NBJ_DOCK_KEY_MAX 64		/* key names (sign) */
#define NBJ_DOCK_TCP_REQUEST_MAX (1u << 20)
#define NBJ_DOCK_TCP_ANSWER_MAX (1u << 20)
#define NBJ_DOCK_UDP_MAX 65535u
#define NBJ_DOCK_SIGN_MAX (1u << 20)
#define NBJ_DOCK_MAC_LEN 32		/* sign's answer: HMAC-SHA256 */
#define NBJ_DOCK_RECORD_MAX 65536u	/* a DATA record's payload */
#define NBJ_DOCK_REASON_MAX 255
#define NBJ_DOCK_TCP_TIMEOUT_S 10
#define NBJ_DOCK_UDP_TIMEOUT_S 5
#define NBJ_DOCK_GET_BODY_MAX (1u << 20)	/* a get's body; each of get-many's */
#define NBJ_DOCK_GET_REDIRECTS_MAX 5	/* redirects followed, each judged */
#define NBJ_DOCK_GET_TIMEOUT_S 15	/* per URL, its redirects included */
#define NBJ_DOCK_GET_MANY_URLS_MAX 64	/* URLs of one get-many; more: -E2BIG */
#define NBJ_DOCK_GET_MANY_WIDTH 16	/* a get-many's transfers at once */

/**
 * enum nbj_dock_op - what a request asks for
 * @NBJ_DOCK_OP_TCP:	connect to target:port, send the body, half-close,
 *			return what comes back until EOF or the cap
 * @NBJ_DOCK_OP_UDP:	one datagram to target:port, one back
 * @NBJ_DOCK_OP_TLS:	as tcp, with TLS done by the host (peer verified
 *			against the job's roots, bound to target); -EPROTO
 *			and the cause when the handshake or verification fails
 * @NBJ_DOCK_OP_GET:	HTTP(S) GET of the URL in the target by the host,
 *			redirects followed and judged hop by hop; the body
 *			as DATA as it arrives, END's reason "STATUS FINAL_URL"
 * @NBJ_DOCK_OP_GET_MANY: the newline-separated URLs of the body (at most
 *			64), 16 at a time; one JSON line per URL as DATA
 * @NBJ_DOCK_OP_SIGN:	HMAC-SHA256 of the body with the key named by the
 *			target (32 bytes); -ENOENT "no such key" when the
 *			policy has no such key
 */
enum nbj_dock_op {
	NBJ_DOCK_OP_TCP = 1,
	NBJ_DOCK_OP_UDP = 2,
	NBJ_DOCK_OP_TLS = 3,
	NBJ_DOCK_OP_GET = 4,
	NBJ_DOCK_OP_GET_MANY = 5,
	NBJ_DOCK_OP_SIGN = 6,
};

/* Record types of an answer */
enum nbj_dock_record {
	NBJ_DOCK_REC_DATA = 1,
	NBJ_DOCK_REC_END = 2,
};

#define NBJ_DOCK_TRUNCATED 0x01	/* END flags: a cap cut the answer */

/**
 * struct nbj_dock_request - a request header, decoded
 * @op:		enum nbj_dock_op
 * @port:	destination port (tcp, udp, tls), 0 otherwise
 * @target_len:	bytes of target that follow the header
 * @body_len:	bytes of body that follow the target
 */
struct nbj_dock_request {
	uint8_t op;
	uint16_t port;
	uint16_t target_len;
	uint32_t body_len;
};

/**
 * struct nbj_dock_answer - the end of an answer, as the client saw it
 * @status:	0, or a negative errno: -EACCES denied (see @reason),
 *		-ETIMEDOUT, -ECONNREFUSED, -ENOSYS (op not implemented yet),
 *		-ENOENT (no such key), -EPROTO (malformed), ...
 * @truncated:	a cap cut the answer (its first bytes were delivered)
 * @len:	bytes of answer delivered
 * @reason:	the relay's reason ("floor:metadata", "rate", ...), or the
 *		cause of a failure
 */
struct nbj_dock_answer {
	int status;
	bool truncated;
	size_t len;
	char reason[NBJ_DOCK_REASON_MAX + 1];
};

void nbj_dock_header_encode(const struct nbj_dock_request *req,
			    unsigned char out[NBJ_DOCK_HEADER_SIZE]);
int nbj_dock_header_decode(const unsigned char *in, size_t len,
			   struct nbj_dock_request *ret);
size_t nbj_dock_op_body_max(uint8_t op);
size_t nbj_dock_op_target_max(uint8_t op);
const char *nbj_dock_op_name(uint8_t op);
int nbj_dock_op_from_name(const char *name);

int nbj_dock_connect(void);
int nbj_dock_call(uint8_t op, const char *target, uint16_t port, const void *req,
		  size_t req_len, int (*sink)(void *ctx, const void *buf, size_t len),
		  void *ctx, struct nbj_dock_answer *ret);
ssize_t nbj_dock_tcp(const char *host, uint16_t port, const void *req, size_t req_len,
		     void *out, size_t out_cap);
ssize_t nbj_dock_udp(const char *host, uint16_t port, const void *req, size_t req_len,
		     void *out, size_t out_cap);
ssize_t nbj_dock_tls(const char *host, uint16_t port, const void *req, size_t req_len,
		     void *out, size_t out_cap);
int nbj_dock_sign(const char *key, const void *data, size_t len,
		  unsigned char mac[NBJ_DOCK_MAC_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* NBJAIL_DOCK_H */
