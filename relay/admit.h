/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/admit.h - admission of inbound HTTP/1.1 requests (relay/admit.c)
 */
#ifndef NBJ_RELAY_ADMIT_H
#define NBJ_RELAY_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "common/rate.h"
#include "policy/policy.h"

#define ADMIT_CLIENTS 4096	/* per-client buckets (a hash table) */
#define ADMIT_PROBE 8		/* slots looked at per address */
#define ADMIT_PATH_MAX 512	/* the path as audited */
#define ADMIT_METHOD_MAX 16
#define ADMIT_REFUSAL_MAX 256	/* a canned refusal response */

/**
 * struct admit_client - the bucket of one client address
 * @addr:	the address (port 0), family 0 when the slot is free
 * @bucket:	its requests (GCRA, common/rate.c)
 */
struct admit_client {
	struct nbj_addr addr;
	struct rate_bucket bucket;
};

/**
 * struct admit_clients - every client address's bucket, a fixed table
 * @slot:	ADMIT_CLIENTS slots, open addressing
 */
struct admit_clients {
	struct admit_client slot[ADMIT_CLIENTS];
};

/**
 * enum admit_step - what admit_feed() found in the bytes it was given
 * @ADMIT_MORE:		the head is not complete: read more
 * @ADMIT_HEAD:		the head is complete: decide now (policy_decide()),
 *			then feed the rest
 * @ADMIT_BODY:		body bytes, within the cap: forward them
 * @ADMIT_DONE:		the request ends at *consumed: bytes after it are
 *			the next request's (admit_req_next() once answered)
 * @ADMIT_BROKEN:	a limit was broken or the bytes are no HTTP:
 *			admit_req.broken says which
 */
enum admit_step {
	ADMIT_MORE,
	ADMIT_HEAD,
	ADMIT_BODY,
	ADMIT_DONE,
	ADMIT_BROKEN,
};

/**
 * struct admit_req - one client connection's request being read
 * @parser:	http_parser, HTTP_REQUEST
 * @limits:	the limits it is read under
 * @phase:	0 head, 1 body, 2 done
 * @head_bytes:	bytes of the head so far
 * @body_bytes:	bytes of the body so far
 * @broken:	the limit broken (enum decide_reason), DECIDE_ALLOWED if none
 * @keep_alive:	the client may send another request after this one
 * @head_request: the method is HEAD (its response has no body)
 * @method:	the method's name
 * @path:	the request target, cut at ADMIT_PATH_MAX bytes
 * @path_len:	its length
 */
struct admit_req {
	http_parser parser;
	const struct inbound_limits *limits;
	int phase;
	size_t head_bytes;
	uint64_t body_bytes;
	enum decide_reason broken;
	bool keep_alive;
	bool head_request;
	char method[ADMIT_METHOD_MAX];
	char path[ADMIT_PATH_MAX + 1];
	size_t path_len;
};

/**
 * struct admit_resp - the job's response to one request, followed to
 * find its end (the bytes pass through unchanged)
 * @parser:	http_parser, HTTP_RESPONSE
 * @head_request: the request was HEAD: no body follows the head
 * @done:	the response is complete
 * @broken:	the bytes are no HTTP response
 * @keep_alive:	the job's response allows another request on the client's
 *		connection
 * @started:	bytes of it were seen
 */
struct admit_resp {
	http_parser parser;
	bool head_request;
	bool done;
	bool broken;
	bool keep_alive;
	bool started;
};

void admit_clients_init(struct admit_clients *t);
bool admit_client_take(struct admit_clients *t, const struct nbj_addr *client,
		       const struct inbound_limits *l, uint64_t now_ns,
		       uint32_t *ret_retry_after_s);

void admit_req_init(struct admit_req *r, const struct inbound_limits *l);
enum admit_step admit_feed(struct admit_req *r, const char *buf, size_t len,
			   size_t *consumed);
bool admit_req_started(const struct admit_req *r);

void admit_resp_init(struct admit_resp *r, bool head_request);
int admit_resp_feed(struct admit_resp *r, const char *buf, size_t len, size_t *consumed);
int admit_resp_eof(struct admit_resp *r);

bool admit_send_pending(int fd, const unsigned char *buf, size_t have, size_t *sent,
			bool *sent_any);
size_t admit_refusal(int status, uint32_t retry_after_s, bool keep_alive, char *buf,
		     size_t len);
const char *admit_status_text(int status);

#endif /* NBJ_RELAY_ADMIT_H */
