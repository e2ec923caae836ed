/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-admit.c - admission of inbound HTTP requests
 * (relay/admit.c), the inbound lane of policy_decide() and the limits'
 * grammar (policy/inbound.c) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "relay/admit.h"

#define S 1000000000ULL

static struct inbound_limits limits(void)
{
	struct inbound_limits l;

	inbound_limits_default(&l);
	return l;
}

/* Feed @msg one byte at a time; the step at the head's end and the end */
static enum admit_step feed_bytewise(struct admit_req *r, const char *msg, size_t len,
				     size_t *ret_end, bool *saw_head)
{
	enum admit_step st = ADMIT_MORE;
	size_t off = 0;

	*saw_head = false;
	while (off < len) {
		size_t used;

		st = admit_feed(r, msg + off, 1, &used);
		off += used;
		if (st == ADMIT_HEAD)
			*saw_head = true;
		if (st == ADMIT_DONE || st == ADMIT_BROKEN)
			break;
	}
	*ret_end = off;
	return st;
}

static void test_bytewise_keepalive_pipeline(void **state)
{
	static const char two[] = "POST /upload?x=1 HTTP/1.1\r\nHost: a\r\n"
				  "Content-Length: 5\r\n\r\nhello"
				  "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
	struct inbound_limits l = limits();
	struct admit_req r;
	size_t end, used;
	bool head;

	(void)state;
	admit_req_init(&r, &l);
	assert_false(admit_req_started(&r));
	assert_int_equal(feed_bytewise(&r, two, sizeof(two) - 1, &end, &head), ADMIT_DONE);
	assert_true(head);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.path, "/upload?x=1");
	assert_true(r.keep_alive);
	assert_int_equal(r.body_bytes, 5);
	/* the request ends exactly before the next one */
	assert_int_equal(end, strlen(two) - strlen("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_int_equal(admit_feed(&r, two + end, 1, &used), ADMIT_DONE);
	assert_int_equal(used, 0);

	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, two + end, sizeof(two) - 1 - end, &used), ADMIT_HEAD);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/next");
	end += used;
	assert_int_equal(admit_feed(&r, two + end, sizeof(two) - 1 - end, &used), ADMIT_DONE);
	assert_int_equal(end + used, sizeof(two) - 1);
}

static void test_header_cap(void **state)
{
	struct inbound_limits l = limits();
	struct admit_req r;
	char *big = malloc(100 << 10);
	size_t used, off = 0;
	enum admit_step st = ADMIT_MORE;

	(void)state;
	assert_non_null(big);
	strcpy(big, "GET / HTTP/1.1\r\nX-Pad: ");
	memset(big + strlen(big), 'a', (100 << 10) - strlen(big));
	/* at once: refused, never a head */
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, big, 100 << 10, &used), ADMIT_BROKEN);
	assert_int_equal(r.broken, DECIDE_HEADER_TOO_LARGE);
	assert_int_equal(decide_http_status(r.broken), 431);
	/* byte by byte: refused as soon as the head passes the cap */
	admit_req_init(&r, &l);
	while (st == ADMIT_MORE && off < (100u << 10)) {
		st = admit_feed(&r, big + off, 1, &used);
		off += used;
	}
	assert_int_equal(st, ADMIT_BROKEN);
	assert_int_equal(r.broken, DECIDE_HEADER_TOO_LARGE);
	assert_true(off <= l.max_header + 1);
	/* a smaller cap applies */
	l.max_header = 1024;
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, big, 2000, &used), ADMIT_BROKEN);
	assert_int_equal(r.broken, DECIDE_HEADER_TOO_LARGE);
	/* and a head just under it passes */
	memcpy(big + 1000, "\r\n\r\n", 4);
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, big, 1004, &used), ADMIT_HEAD);
	free(big);
}

static void test_content_length_cap(void **state)
{
	static const char over[] = "POST / HTTP/1.1\r\nContent-Length: 5242880\r\n\r\n";
	static const char at[] = "POST / HTTP/1.1\r\nContent-Length: 4194304\r\n\r\n";
	struct inbound_limits l = limits();
	struct admit_req r;
	size_t used;

	(void)state;
	admit_req_init(&r, &l);
	/* refused at the head: no body byte needed */
	assert_int_equal(admit_feed(&r, over, sizeof(over) - 1, &used), ADMIT_BROKEN);
	assert_int_equal(r.broken, DECIDE_BODY_TOO_LARGE);
	assert_int_equal(decide_http_status(r.broken), 413);
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, at, sizeof(at) - 1, &used), ADMIT_HEAD);
}

static void test_chunked_over_cap(void **state)
{
	static const char head[] = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char chunk[] = "400\r\n"; /* 1024 bytes */
	struct inbound_limits l = limits();
	struct admit_req r;
	char data[1024 + 2];
	enum admit_step st;
	size_t used;
	int chunks = 0;

	(void)state;
	l.max_body = 10 * 1024;
	memset(data, 'x', 1024);
	memcpy(data + 1024, "\r\n", 2);
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, head, sizeof(head) - 1, &used), ADMIT_HEAD);
	st = admit_feed(&r, head + used, sizeof(head) - 1 - used, &used);
	assert_int_equal(st, ADMIT_BODY);
	/* ten chunks fit, the eleventh breaks the cap, byte by byte */
	for (chunks = 0; chunks < 20; chunks++) {
		st = admit_feed(&r, chunk, 5, &used);
		assert_int_equal(used, 5);
		for (size_t i = 0; i < sizeof(data) && st == ADMIT_BODY; i++)
			st = admit_feed(&r, data + i, 1, &used);
		if (st != ADMIT_BODY)
			break;
	}
	assert_int_equal(st, ADMIT_BROKEN);
	assert_int_equal(chunks, 10);
	assert_int_equal(r.broken, DECIDE_BODY_TOO_LARGE);
	/* a chunked body under the cap completes */
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, head, sizeof(head) - 1, &used), ADMIT_HEAD);
	assert_int_equal(admit_feed(&r, head + used, sizeof(head) - 1 - used, &used), ADMIT_BODY);
	assert_int_equal(admit_feed(&r, "3\r\nabc\r\n0\r\n\r\n", 13, &used), ADMIT_DONE);
	assert_int_equal(used, 13);
}

static void test_malformed_and_upgrade(void **state)
{
	static const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char ws[] = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
				 "Upgrade: websocket\r\n\r\n";
	struct inbound_limits l = limits();
	struct admit_req r;
	size_t used;

	(void)state;
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, junk, sizeof(junk) - 1, &used), ADMIT_BROKEN);
	assert_int_equal(decide_http_status(r.broken), 400);
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, ws, sizeof(ws) - 1, &used), ADMIT_BROKEN);
	assert_int_equal(decide_http_status(r.broken), 501);
	/* the broken state sticks */
	assert_int_equal(admit_feed(&r, "GET", 3, &used), ADMIT_BROKEN);
}

static void test_path_cut(void **state)
{
	struct inbound_limits l = limits();
	struct admit_req r;
	char req[2048];
	size_t used;
	int n;

	(void)state;
	n = snprintf(req, sizeof(req), "GET /%01000d HTTP/1.1\r\n\r\n", 7);
	admit_req_init(&r, &l);
	assert_int_equal(admit_feed(&r, req, (size_t)n, &used), ADMIT_HEAD);
	assert_int_equal(strlen(r.path), ADMIT_PATH_MAX);
	assert_int_equal(r.path_len, ADMIT_PATH_MAX);
}

static void test_client_buckets(void **state)
{
	struct admit_clients *t = malloc(sizeof(*t));
	struct inbound_limits l = limits();
	struct nbj_addr a = { .family = AF_INET }, b = { .family = AF_INET };
	uint64_t now = 50 * S;
	uint32_t retry = 0;
	int ok = 0;

	(void)state;
	assert_non_null(t);
	admit_clients_init(t);
	l.per_client_per_s = 2;
	l.per_client_burst = 5;
	inet_pton(AF_INET, "198.51.100.7", &a.v4);
	inet_pton(AF_INET, "198.51.100.8", &b.v4);
	for (int i = 0; i < 50; i++)
		ok += admit_client_take(t, &a, &l, now, &retry);
	assert_int_equal(ok, 5);
	assert_true(retry >= 1 && retry <= 1);
	/* another address has its own bucket */
	assert_true(admit_client_take(t, &b, &l, now, &retry));
	/* a port does not make another client */
	a.port = 4242;
	assert_false(admit_client_take(t, &a, &l, now, &retry));
	/* half a second later, one more */
	assert_true(admit_client_take(t, &a, &l, now + S / 2, &retry));
	/* a flood of other addresses never makes a client stricter */
	for (uint32_t i = 0; i < 100000; i++) {
		struct nbj_addr x = { .family = AF_INET };

		x.v4.s_addr = htonl(0xcb007100u + i);
		(void)admit_client_take(t, &x, &l, now + S, &retry);
	}
	assert_true(admit_client_take(t, &b, &l, now + S, &retry));
	free(t);
}

static void test_decide_inbound(void **state)
{
	struct decide_facts f = { .lane = DECIDE_LANE_INBOUND, .inbound_broken = DECIDE_ALLOWED };
	struct decision d;

	(void)state;
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_int_equal(decide_http_status(d.reason), 0);
	f.over_rate = true;
	policy_decide(&f, &d);
	assert_int_equal(decide_http_status(d.reason), 503);
	f.client_over_rate = true;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_RATE);
	assert_int_equal(decide_http_status(d.reason), 429);
	f.inbound_broken = DECIDE_HEADER_TIMEOUT;
	policy_decide(&f, &d);
	assert_int_equal(decide_http_status(d.reason), 408);
	f.revoked = true;
	policy_decide(&f, &d);
	assert_int_equal(d.reason, DECIDE_REVOKED);
	assert_int_equal(decide_http_status(d.reason), 503);
	assert_string_equal(decide_reason_name(DECIDE_HEADER_TIMEOUT), "header-timeout");
}

static void test_response_end(void **state)
{
	static const char two[] = "HTTP/1.1 100 Continue\r\n\r\n"
				  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static const char sse[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
				  "data: 1\n\n";
	struct admit_resp r;
	size_t used;

	(void)state;
	admit_resp_init(&r, false);
	for (size_t i = 0; i < sizeof(two) - 2; i++)
		assert_int_equal(admit_resp_feed(&r, two + i, 1, &used), 0);
	assert_int_equal(admit_resp_feed(&r, two + sizeof(two) - 2, 1, &used), 1);
	assert_true(r.keep_alive);
	/* read until close: ends at the job's EOF, and the client's connection
	 * cannot be kept */
	admit_resp_init(&r, false);
	assert_int_equal(admit_resp_feed(&r, sse, sizeof(sse) - 1, &used), 0);
	assert_int_equal(admit_resp_eof(&r), 1);
	assert_false(r.keep_alive);
	/* HEAD: no body after the head */
	admit_resp_init(&r, true);
	assert_int_equal(admit_resp_feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
					  39, &used), 1);
	/* nothing at all is cut short */
	admit_resp_init(&r, false);
	assert_int_equal(admit_resp_eof(&r), -EPIPE);
	admit_resp_init(&r, false);
	assert_int_equal(admit_resp_feed(&r, "garbage\r\n", 9, &used), -EPROTO);
}

static void test_refusal_text(void **state)
{
	char buf[ADMIT_REFUSAL_MAX];
	size_t n;

	(void)state;
	n = admit_refusal(429, 3, true, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "HTTP/1.1 429 Too Many Requests\r\n"));
	assert_non_null(strstr(buf, "Retry-After: 3\r\n"));
	assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
	n = admit_refusal(413, 0, false, buf, sizeof(buf));
	assert_null(strstr(buf, "Retry-After"));
	assert_non_null(strstr(buf, "Connection: close\r\n\r\n413 Content Too Large\n"));
	assert_int_equal(admit_refusal(503, 0, false, buf, 10), 0);
}

static void test_limits_grammar(void **state)
{
	uint64_t v;
	uint32_t s;

	(void)state;
	assert_int_equal(inbound_rate_parse("5/s", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(inbound_rate_parse("7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(inbound_rate_parse("0/s", &v), -ERANGE);
	assert_int_equal(inbound_rate_parse("5/m", &v), -EINVAL);
	assert_int_equal(inbound_rate_parse("/s", &v), -EINVAL);
	assert_int_equal(inbound_seconds_parse("10s", &s), 0);
	assert_int_equal(s, 10);
	assert_int_equal(inbound_seconds_parse("2", &s), 0);
	assert_int_equal(inbound_seconds_parse("1.5", &s), -EINVAL);
	assert_int_equal(inbound_seconds_parse("90000", &s), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytewise_keepalive_pipeline),
		cmocka_unit_test(test_header_cap),
		cmocka_unit_test(test_content_length_cap),
		cmocka_unit_test(test_chunked_over_cap),
		cmocka_unit_test(test_malformed_and_upgrade),
		cmocka_unit_test(test_path_cut),
		cmocka_unit_test(test_client_buckets),
		cmocka_unit_test(test_decide_inbound),
		cmocka_unit_test(test_response_end),
		cmocka_unit_test(test_refusal_text),
		cmocka_unit_test(test_limits_grammar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
