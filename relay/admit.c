/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/admit.c - the admission core of inbound HTTP/1.1 requests
 *
 * DOC: Theory of operation
 *
 * A port published with `mode: http` (relay/inbound.c) and `nbjail
 * serve` hold the client's connection on the host; the job sees a
 * request only once it is admitted here.  This file is pure: no I/O, no
 * allocation, no clock of its own (callers pass the time), so the unit
 * tests feed it bytes one at a time.  The decision itself is
 * policy_decide()'s, lane inbound: this file gathers its facts.
 *
 * Reading a request (struct admit_req, one per client connection): the
 * bytes go through libhttp-parser (Debian's http-parser 2.9, never a
 * parser of ours), which pauses at two points:
 *
 *   head complete      admit_feed() returns ADMIT_HEAD: the caller
 *                      decides (revoked, the client's bucket, the
 *                      concurrency cap) and only then sends the head on
 *   message complete   ADMIT_DONE at the exact end of the request: bytes
 *                      after it are the next request (keep-alive,
 *                      pipelining) and wait until this one is answered
 *
 * and the limits are checked as bytes arrive:
 *
 *   max_header     the head so far is longer (also http_parser's own
 *                  HPE_HEADER_OVERFLOW): header-too-large, 431
 *   max_body       a Content-Length above it, at the head; a chunked
 *                  body that grows past it, while reading: body-too-large,
 *                  413 (the job may have seen the part before the cap;
 *                  the caller cuts the job's connection)
 *   not HTTP       any parser error: malformed, 400; an Upgrade or
 *                  CONNECT: not-implemented (the relay carries requests,
 *                  not tunnels)
 *
 * The head's deadline (header_timeout, 408) is the caller's timer: it
 * asks admit_req_started() whether any byte came (an idle keep-alive
 * connection is closed without a word).
 *
 * The response (struct admit_resp) is followed with a second parser only
 * to find its end, so that the client's connection can carry the next
 * request; its bytes pass through unchanged and unbuffered (a Server-Sent
 * Events stream arrives as the job writes it).
 *
 * Client buckets (struct admit_clients): a fixed hash table of
 * ADMIT_CLIENTS token buckets (common/rate.c) keyed by the client's
 * address, ADMIT_PROBE slots per address; a new address takes a free
 * slot or the one whose bucket is fullest (an idle client's bucket is
 * full, forgetting it changes nothing).  Under a flood of addresses some
 * client may get a fresh bucket early: more lenient, never stricter.
 */
#include <errno.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "relay/admit.h"

#define NS_PER_S 1000000000ULL

enum { PHASE_HEAD, PHASE_BODY, PHASE_DONE };

static uint32_t addr_hash(const struct nbj_addr *a)
{
	const unsigned char *p = a->family == AF_INET6 ? (const unsigned char *)&a->v6
						       : (const unsigned char *)&a->v4;
	size_t n = a->family == AF_INET6 ? sizeof(a->v6) : sizeof(a->v4);
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static bool addr_same(const struct nbj_addr *a, const struct nbj_addr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET6 ? !memcmp(&a->v6, &b->v6, sizeof(a->v6))
				     : a->v4.s_addr == b->v4.s_addr;
}

/**
 * admit_clients_init() - an empty table of client buckets
 * @t:		table
 */
void admit_clients_init(struct admit_clients *t)
{
	memset(t, 0, sizeof(*t));
}

/**
 * admit_client_take() - take one request from the bucket of @client
 * @t:		the client buckets
 * @client:	the client's address (its port is ignored)
 * @l:		limits: per_client_per_s, per_client_burst
 * @now_ns:	rate_now_ns()
 * @ret_retry_after_s: when refused, the seconds until a request would be
 *		taken (at least 1); untouched otherwise
 *
 * Return: true if the request may go on, false if the client is over its
 * rate (429)
 */
bool admit_client_take(struct admit_clients *t, const struct nbj_addr *client,
		       const struct inbound_limits *l, uint64_t now_ns,
		       uint32_t *ret_retry_after_s)
{
	struct rate_limit rl = { .per_s = l->per_client_per_s,
				 .burst = l->per_client_burst ? l->per_client_burst : 1 };
	struct admit_client *slot = NULL, *victim = NULL;
	uint32_t h = addr_hash(client);
	uint64_t wait;

	if (!rl.per_s)
		return true;
	for (unsigned i = 0; i < ADMIT_PROBE && !slot; i++) {
		struct admit_client *s = &t->slot[(h + i) % ADMIT_CLIENTS];

		if (s->addr.family && addr_same(&s->addr, client))
			slot = s;
		else if (!victim || !s->addr.family ||
			 (victim->addr.family &&
			  atomic_load(&s->bucket.tat) < atomic_load(&victim->bucket.tat)))
			victim = s;
	}
	if (!slot) {
		slot = victim;
		slot->addr = *client;
		slot->addr.port = 0;
		atomic_store(&slot->bucket.tat, 0);
	}
	if (rate_take(&slot->bucket, &rl, 1, now_ns))
		return true;
	wait = rate_wait_ns(&slot->bucket, &rl, now_ns);
	*ret_retry_after_s = (uint32_t)((wait + NS_PER_S - 1) / NS_PER_S);
	if (!*ret_retry_after_s)
		*ret_retry_after_s = 1;
	return false;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct admit_req *r = p->data;
	size_t room = ADMIT_PATH_MAX - r->path_len;

	if (len > room)
		len = room;
	memcpy(r->path + r->path_len, at, len);
	r->path_len += len;
	r->path[r->path_len] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct admit_req *r = p->data;

	snprintf(r->method, sizeof(r->method), "%s",
		 http_method_str((enum http_method)p->method));
	r->head_request = p->method == HTTP_HEAD;
	r->keep_alive = http_should_keep_alive(p);
	r->phase = PHASE_BODY;
	if (p->upgrade || p->method == HTTP_CONNECT)
		r->broken = DECIDE_NOT_IMPLEMENTED;
	else if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
		 p->content_length > r->limits->max_body)
		r->broken = DECIDE_BODY_TOO_LARGE;
	http_parser_pause(p, 1);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct admit_req *r = p->data;

	(void)at;
	r->body_bytes += len;
	if (r->body_bytes > r->limits->max_body) {
		r->broken = DECIDE_BODY_TOO_LARGE;
		http_parser_pause(p, 1);
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct admit_req *r = p->data;

	r->phase = PHASE_DONE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings req_settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/**
 * admit_req_init() - start reading a request (also the next one on a
 * kept-alive connection)
 * @r:		request state
 * @l:		the limits it is read under; must outlive @r
 */
void admit_req_init(struct admit_req *r, const struct inbound_limits *l)
{
	memset(r, 0, sizeof(*r));
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
	r->limits = l;
	r->broken = DECIDE_ALLOWED;
}

/**
 * admit_req_started() - whether a byte of the request came
 * @r:		request state
 *
 * Return: true once any byte was fed
 */
bool admit_req_started(const struct admit_req *r)
{
	return r->head_bytes || r->phase != PHASE_HEAD;
}

static enum admit_step broken(struct admit_req *r, enum decide_reason why)
{
	if (r->broken == DECIDE_ALLOWED)
		r->broken = why;
	return ADMIT_BROKEN;
}

/**
 * admit_feed() - read bytes of the client's request
 * @r:		request state
 * @buf:	bytes from the client, after those fed before
 * @len:	their number
 * @consumed:	bytes of @buf read; the caller feeds the rest again
 *		(after ADMIT_HEAD) or keeps them for the next request
 *		(after ADMIT_DONE)
 *
 * Return: see enum admit_step; ADMIT_BROKEN stays so
 */
enum admit_step admit_feed(struct admit_req *r, const char *buf, size_t len,
			   size_t *consumed)
{
	int phase = r->phase;
	enum http_errno err;
	size_t n;

	*consumed = 0;
	if (r->broken != DECIDE_ALLOWED)
		return ADMIT_BROKEN;
	if (phase == PHASE_DONE)
		return ADMIT_DONE;
	if (!len)
		return phase == PHASE_HEAD ? ADMIT_MORE : ADMIT_BODY;
	n = http_parser_execute(&r->parser, &req_settings, buf, len);
	err = HTTP_PARSER_ERRNO(&r->parser);
	*consumed = n;
	if (err == HPE_PAUSED)
		http_parser_pause(&r->parser, 0);
	else if (err == HPE_HEADER_OVERFLOW)
		return broken(r, DECIDE_HEADER_TOO_LARGE);
	else if (err != HPE_OK)
		return broken(r, DECIDE_MALFORMED);
	if (phase == PHASE_HEAD) {
		/* paused at the head's end, before its last LF */
		r->head_bytes += n + (r->phase != PHASE_HEAD);
		if (r->head_bytes > r->limits->max_header)
			return broken(r, DECIDE_HEADER_TOO_LARGE);
		if (r->broken != DECIDE_ALLOWED)
			return ADMIT_BROKEN;
		return r->phase == PHASE_HEAD ? ADMIT_MORE : ADMIT_HEAD;
	}
	if (r->broken != DECIDE_ALLOWED)
		return ADMIT_BROKEN;
	return r->phase == PHASE_DONE ? ADMIT_DONE : ADMIT_BODY;
}

static int resp_headers_complete(http_parser *p)
{
	struct admit_resp *r = p->data;

	/* 1: no body follows (http_parser's convention) */
	return r->head_request ? 1 : 0;
}

static int resp_message_complete(http_parser *p)
{
	struct admit_resp *r = p->data;

	/* 100 Continue, 102, 103: the final response follows */
	if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101)
		return 0;
	r->done = true;
	r->keep_alive = http_should_keep_alive(p) && p->status_code != 101;
	http_parser_pause(p, 1);
	return 0;
}

static int resp_begin(http_parser *p)
{
	((struct admit_resp *)p->data)->started = true;
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_message_begin = resp_begin,
	.on_headers_complete = resp_headers_complete,
	.on_message_complete = resp_message_complete,
};

/**
 * admit_resp_init() - start following the job's response to a request
 * @r:		response state
 * @head_request: the request was HEAD
 */
void admit_resp_init(struct admit_resp *r, bool head_request)
{
	memset(r, 0, sizeof(*r));
	http_parser_init(&r->parser, HTTP_RESPONSE);
	r->parser.data = r;
	r->head_request = head_request;
}

/**
 * admit_resp_feed() - follow bytes of the job's response
 * @r:		response state
 * @buf:	bytes from the job
 * @len:	their number
 * @consumed:	bytes of @buf that belong to the response (all, unless it
 *		ended inside @buf; bytes after its end are dropped)
 *
 * Return: 1 when the response is complete, 0 if more follows, -EPROTO
 * for bytes that are no HTTP response
 */
int admit_resp_feed(struct admit_resp *r, const char *buf, size_t len, size_t *consumed)
{
	enum http_errno err;

	*consumed = 0;
	if (r->broken)
		return -EPROTO;
	if (r->done)
		return 1;
	*consumed = http_parser_execute(&r->parser, &resp_settings, buf, len);
	err = HTTP_PARSER_ERRNO(&r->parser);
	if (err == HPE_PAUSED)
		http_parser_pause(&r->parser, 0);
	else if (err != HPE_OK) {
		r->broken = true;
		return -EPROTO;
	}
	return r->done ? 1 : 0;
}

/**
 * admit_resp_eof() - the job closed its connection
 * @r:		response state
 *
 * Return: 1 if that ends the response (a body read until close), else
 * -EPIPE (cut short)
 */
int admit_resp_eof(struct admit_resp *r)
{
	if (!r->done && !r->broken && r->started) {
		(void)http_parser_execute(&r->parser, &resp_settings, NULL, 0);
		if (r->done)
			r->keep_alive = false;
	}
	return r->done ? 1 : -EPIPE;
}

/**
 * admit_status_text() - the reason phrase of a status the relay sends
 * @status:	400, 408, 413, 429, 431, 501, 502, 503, 504
 *
 * Return: a static string
 */
const char *admit_status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 504: return "Gateway Timeout";
	default: return "Service Unavailable";
	}
}

/**
 * admit_refusal() - the response the relay sends for a refused request
 * @status:	its status
 * @retry_after_s: Retry-After for 429 and 503 (0: 1 second)
 * @keep_alive:	the connection stays open for another request
 * @buf:	where to write it
 * @len:	its size, at least ADMIT_REFUSAL_MAX
 *
 * Return: its length, 0 if @buf is too small
 */
size_t admit_refusal(int status, uint32_t retry_after_s, bool keep_alive, char *buf,
		     size_t len)
{
	char retry[40] = "";
	char body[64];
	int bl, n;

	if (status == 429 || status == 503)
		snprintf(retry, sizeof(retry), "Retry-After: %u\r\n",
			 retry_after_s ? retry_after_s : 1);
	bl = snprintf(body, sizeof(body), "%d %s\n", status, admit_status_text(status));
	n = snprintf(buf, len,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		     "%sConnection: %s\r\n\r\n%s",
		     status, admit_status_text(status), bl, retry,
		     keep_alive ? "keep-alive" : "close", body);
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

/**
 * admit_send_pending() - write the rest of a response buffer to a client's
 * non-blocking socket (relay/inbound.c, supervisor/serve.c)
 * @fd:		the client's socket
 * @buf:	the buffer
 * @have:	bytes in @buf
 * @sent:	in and out: bytes of them written so far
 * @sent_any:	set once a byte was written
 *
 * Return: true when all is written or the socket is full (wait for
 * EPOLLOUT: *@sent < @have), false when the client is gone
 */
bool admit_send_pending(int fd, const unsigned char *buf, size_t have, size_t *sent,
			bool *sent_any)
{
	while (*sent < have) {
		ssize_t n = send(fd, buf + *sent, have - *sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		*sent += (size_t)n;
		*sent_any = true;
	}
	return true;
}
