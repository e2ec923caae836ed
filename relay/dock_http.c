/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dock_http.c - the dock's get and get-many: HTTP(S) by the host
 *
 * DOC: Theory of operation
 *
 * relay/dock.c reads a call's head and hands a get or get-many, with
 * the job's connection, to dock_http->take().  Here libcurl's multi
 * interface runs inside the relay's one epoll loop: its sockets are
 * RELAY_EV_HTTP_SOCK events (CURLMOPT_SOCKETFUNCTION), its timer a
 * timerfd (CURLMOPT_TIMERFUNCTION, RELAY_EV_HTTP_TIMER), and every event
 * is one curl_multi_socket_action().  No thread: the relay's allow-list
 * has no clone, so libcurl must never resolve a name itself (its
 * threaded resolver would start one).  Each hop of a URL goes
 *
 *   parse      curl_url() (CURLU), scheme http or https only, the host
 *              checked by dock_target_parse() (a name or a literal
 *              address: userinfo, zone ids, odd characters are
 *              malformed) and written back in its canonical form, so
 *              that the host libcurl sees is exactly the one judged
 *   decide     the dock's rate, then policy_decide() lane dock (floor ->
 *              allow-list -> rate) on the host and port; a name allowed
 *              so far is resolved by the relay's c-ares (resolve.c) and
 *              judged again on every answer: one internal answer denies
 *   pin        CURLOPT_RESOLVE "name:port:judged answers" in a cache
 *              private to the transfer (its own CURLSH), and an
 *              opensocket callback that refuses any address but a
 *              judged one (defence in depth); a fresh connection per
 *              hop, never reused; protocols http and https, no proxy,
 *              FOLLOWLOCATION off, HTTP/1.1, TLS >= 1.2 verified against
 *              the job's roots only (tls_roots, else the system's: the
 *              PEM bytes relay/tls_upstream.c holds, CURLOPT_CAINFO_BLOB
 *              once, then that store), chain depth <= 10
 *   fetch      the body into the transfer's own 1 MiB: one byte more
 *              cuts the transfer and marks it truncated; at its first
 *              byte the status and Location are known: a redirect's body
 *              is dropped, and a get's final answer is written to the job
 *              while it grows (streamed: pump_streams() after each turn
 *              of libcurl), so the job sees the first bytes as soon as
 *              they came, not after the whole transfer
 *   redirect   a 3xx with a Location (CURLINFO_REDIRECT_URL) is a new
 *              hop, judged from scratch; at most 5 redirects, 15 s for
 *              the URL and all its hops
 *
 * libcurl is not linked in: curl_load() dlopen()s libcurl.so.4 at the
 * first get, under the relay's allow-list (most jobs never call get, and
 * its 30-odd libraries cost every relay's start some milliseconds).
 *
 * Every hop is one audit record, lane dock: AUDIT_DENY with the
 * decision's reason, or AUDIT_DOCK_CALL (HTTP status, bytes, hop).
 *
 * Answers.  get: the body as DATA records as it arrives, then END:
 * status 0 and reason "STATUS FINAL_URL", or -EACCES and the decision's
 * reason (" at redirect N: URL" after the first hop), or a failure (after
 * the body's bytes that came before it).  get-many: the
 * body's lines are the URLs (at most 64; 65 is -E2BIG before anything is
 * fetched), 16 in flight; each URL's answer is one JSON line (index,
 * url, final_url, status, truncated, then body in base64
 * (EVP_EncodeBlock) or error and reason), written whole, in the order
 * the URLs finish, as DATA records; END's flags say whether any body was
 * cut.
 *
 * Bounds: DOCK_HTTP_CALLS_MAX calls in a fixed table (each with a record
 * buffer and room for the URLs of a get-many), DOCK_HTTP_XFERS_MAX
 * transfers (each with its easy handle, URL handle, DNS cache and 1 MiB
 * body, in one reserved mapping whose pages go back after each use); a
 * get-many waits for free transfers, a get finding none is -EBUSY.
 * libcurl allocates per transfer; nothing here does after set-up.  A
 * finished transfer holds its slot until its answer is written: a job
 * that does not read stops its own fetches, and is cut when nothing
 * moved for 15 s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/json.h"
#include "common/log.h"
#include "nbjail/dock.h"
#include "relay/dock_http.h"
#include "relay/tls_upstream.h"

#define BODY_SLOT NBJ_DOCK_GET_BODY_MAX
#define URLS_AREA (NBJ_DOCK_GET_MANY_URLS_MAX * (NBJ_DOCK_TARGET_MAX + 1))
#define OUT_BUF (NBJ_DOCK_RECORD_HEADER_SIZE + NBJ_DOCK_RECORD_MAX)
#define HEAD_TIMEOUT_S 5	/* the rest of a get-many's frame */
#define WRITE_TIMEOUT_S 15	/* a job that does not read its answer */
#define END_TIMEOUT_S 2
#define PIN_MAX (NBJ_NAME_MAX + 8 + RESOLVE_ANSWERS_MAX * (INET6_ADDRSTRLEN + 3))

enum call_state {
	CALL_FREE,
	CALL_BODY,	/* reading get-many's URLs */
	CALL_RUN,	/* fetching and writing answers */
	CALL_END,	/* writing the END record */
};

enum xfer_state {
	XFER_FREE,
	XFER_RESOLVING,
	XFER_RUNNING,
	XFER_DONE,	/* its answer waits to be written */
};

enum out_phase {
	OUT_HEAD,
	OUT_BODY,
	OUT_TAIL,
	OUT_DONE,
};

/**
 * struct http_xfer - one URL of a call, hop after hop
 * @state:	enum xfer_state
 * @gen:	generation, bumped at each use (late resolver answers)
 * @call:	its call's slot
 * @index:	the URL's place in the call's list (0 for get)
 * @hops:	redirects followed
 * @deadline:	when the URL is given up (CLOCK_MONOTONIC s)
 * @easy:	its easy handle, made at first use
 * @share:	its private DNS cache (CURL_LOCK_DATA_DNS), for the pin
 * @url:	the hop's URL, parsed
 * @pin:	the CURLOPT_RESOLVE list of one entry, @pin_text
 * @pin_text:	"name:port:addr,addr..."
 * @name:	the hop's host name, "" for a literal address
 * @addr:	the literal address
 * @port:	the hop's port
 * @answers:	the judged addresses the hop may connect to
 * @n_answers:	their number
 * @over_rate:	the hop was over the dock rate
 * @hop_url:	the hop's URL as fetched (final_url at the end)
 * @status:	the last HTTP status, 0 before one
 * @err:	0, or the negative errno the URL failed with
 * @denied:	a hop was denied (@reason is the decision's)
 * @truncated:	the body was cut at the cap
 * @final:	the hop's answer is the URL's (not a redirect), known at its
 *		first body byte: a get streams it (@body grows as it is sent)
 * @redirect:	the hop's answer is a redirect: its body is dropped
 * @reason:	why it failed
 * @errbuf:	libcurl's words for a failure
 * @body:	its BODY_SLOT bytes
 * @len:	bytes in @body
 * @used:	most bytes @body held since its pages went back
 */
struct http_xfer {
	enum xfer_state state;
	uint32_t gen;
	uint32_t call;
	unsigned index;
	unsigned hops;
	time_t deadline;
	CURL *easy;
	CURLSH *share;
	CURLU *url;
	struct curl_slist pin;
	char pin_text[PIN_MAX];
	char name[NBJ_NAME_MAX + 1];
	struct nbj_addr addr;
	uint16_t port;
	struct nbj_addr answers[RESOLVE_ANSWERS_MAX];
	unsigned n_answers;
	bool over_rate;
	char hop_url[NBJ_DOCK_TARGET_MAX + 1];
	long status;
	int err;
	bool denied;
	bool truncated;
	bool final;
	bool redirect;
	char reason[NBJ_DOCK_REASON_MAX + 1];
	char errbuf[CURL_ERROR_SIZE];
	unsigned char *body;
	size_t len;
	size_t used;
};

/**
 * struct http_call - one get or get-many, a slot of the fixed table
 * @state:	enum call_state
 * @gen:	generation
 * @fd:		the job's connection
 * @ev:		epoll events registered for @fd
 * @op:		NBJ_DOCK_OP_GET or NBJ_DOCK_OP_GET_MANY
 * @deadline:	BODY: the frame's end; RUN with output: the next progress;
 *		END: the END record
 * @body_left:	request bytes still to come
 * @have:	request bytes in @urls
 * @urls:	the URL of a get, the body of a get-many (lines NUL-ended)
 * @url_off:	where each URL starts in @urls
 * @n_urls:	their number
 * @next_url:	the next URL to start
 * @held:	transfers it holds (running or waiting to be written)
 * @written:	URLs whose answer is out
 * @queue:	transfers done, waiting to be written, in order
 * @q_head:	first of @queue
 * @q_len:	how many
 * @cur:	the transfer being written, -1 for none
 * @stream:	get: its one transfer, -1 for none; written while it runs
 *		once its answer is known final (struct http_xfer @final)
 * @phase:	enum out_phase of @cur
 * @body_off:	bytes of @cur's body written
 * @truncated:	some body was cut
 * @status:	END's status (get: its URL's)
 * @reason:	END's reason
 * @in_eof:	the job shut its writing side (it may still read)
 * @pumping:	pump() runs for it (a nested call only asks @again)
 * @again:	pump() must run once more
 * @out:	the record being written
 * @out_have:	bytes in @out
 * @out_off:	bytes of @out written
 */
struct http_call {
	enum call_state state;
	uint32_t gen;
	int fd;
	uint32_t ev;
	uint8_t op;
	time_t deadline;
	size_t body_left;
	size_t have;
	char *urls;
	uint32_t url_off[NBJ_DOCK_GET_MANY_URLS_MAX];
	unsigned n_urls;
	unsigned next_url;
	unsigned held;
	unsigned written;
	int32_t queue[NBJ_DOCK_GET_MANY_WIDTH];
	unsigned q_head;
	unsigned q_len;
	int32_t cur;
	int32_t stream;
	enum out_phase phase;
	size_t body_off;
	bool truncated;
	int status;
	char reason[NBJ_DOCK_REASON_MAX + 1];
	bool in_eof;
	bool pumping;
	bool again;
	unsigned char *out;
	size_t out_have;
	size_t out_off;
};

/**
 * struct dock_http - the client's state (relay_ctx.http)
 * @multi:	libcurl's multi handle
 * @timer_fd:	its timer
 * @calls:	DOCK_HTTP_CALLS_MAX calls
 * @xfers:	DOCK_HTTP_XFERS_MAX transfers
 * @bodies:	their bodies, one reserved mapping
 * @live:	calls in use
 */
struct dock_http {
	CURLM *multi;
	int timer_fd;
	struct http_call calls[DOCK_HTTP_CALLS_MAX];
	struct http_xfer xfers[DOCK_HTTP_XFERS_MAX];
	unsigned char *bodies;
	unsigned live;
};

/*
 * libcurl, loaded at the first get (curl_load()): linked in, its 30-odd
 * libraries would cost every job's relay milliseconds of dynamic loading
 * at start, most jobs never calling get.  The names it is called by:
 */
#define CURL_CALLS(X)							\
	X(global_init) X(multi_init) X(multi_setopt) X(multi_add_handle)	\
	X(multi_remove_handle) X(multi_socket_action) X(multi_info_read)	\
	X(easy_init) X(easy_setopt) X(easy_getinfo) X(easy_reset)		\
	X(easy_strerror) X(share_init) X(share_setopt) X(url) X(url_set)	\
	X(url_get) X(free)

static struct {
#define CURL_MEMBER(f) __typeof__(curl_##f) *f;
	CURL_CALLS(CURL_MEMBER)
#undef CURL_MEMBER
} cu;

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void pump(struct relay_ctx *c, uint32_t ki);
static void hop_begin(struct relay_ctx *c, uint32_t xi, const char *text);

/* ------------------------------------------------------------ libcurl's loop */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct relay_ctx *c = userp;
	struct epoll_event ev = {
		.events = (what == CURL_POLL_IN || what == CURL_POLL_INOUT ? EPOLLIN : 0) |
			  (what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? EPOLLOUT : 0),
		.data.u64 = RELAY_EV(RELAY_EV_HTTP_SOCK, (uint32_t)s),
	};

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
		(void)epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct relay_ctx *c = userp;
	struct itimerspec its = { 0 };

	(void)multi;
	if (timeout_ms >= 0) {
		/* 0: as soon as the loop turns; never from inside libcurl */
		its.it_value.tv_sec = timeout_ms / 1000;
		its.it_value.tv_nsec = timeout_ms ? (timeout_ms % 1000) * 1000000L : 1;
	}
	(void)timerfd_settime(c->http->timer_fd, 0, &its, NULL);
	return 0;
}

/* Only a judged address: libcurl's pin, checked once more */
static curl_socket_t on_open_socket(void *data, curlsocktype purpose,
				    struct curl_sockaddr *sa)
{
	struct http_xfer *x = data;
	struct nbj_addr a;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    nbj_addr_from_sockaddr(&sa->addr, sa->addrlen, &a) < 0)
		return CURL_SOCKET_BAD;
	for (unsigned k = 0; k < x->n_answers; k++)
		if (nbj_addr_equal_ip(&a, &x->answers[k]) && a.port == x->port)
			return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	{
		char t[NBJ_ADDR_STRLEN];

		log_info("dock get %s: refused a connection to %s, not the pinned address",
			 x->hop_url, nbj_addr_format(&a, t, sizeof(t)));
	}
	return CURL_SOCKET_BAD;
}

/*
 * https: libcurl's OpenSSL is the shared library it loaded, not the
 * relay's own (linked in): no OpenSSL object crosses between them.  The
 * job's roots go in as PEM bytes (CURLOPT_CAINFO_BLOB) for the first
 * connection only: its context's store, parsed by libcurl's OpenSSL, is
 * kept and handed to every later context (parsing the system's bundle
 * costs tens of milliseconds of the relay's one thread).  The chain
 * depth is bounded on each context.  These calls are that library's,
 * found beside libcurl (curl_load()).
 */
static struct {
	void (*set_verify_depth)(SSL_CTX *ctx, int depth);
	X509_STORE *(*get_cert_store)(const SSL_CTX *ctx);
	void (*set1_cert_store)(SSL_CTX *ctx, X509_STORE *store);
	int (*store_up_ref)(X509_STORE *store);
	X509_STORE *roots;	/* the job's roots, in libcurl's OpenSSL */
} ossl;

static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *data)
{
	(void)easy;
	(void)data;
	ossl.set_verify_depth(ssl_ctx, TLS_UPSTREAM_DEPTH);
	if (ossl.roots) {
		ossl.set1_cert_store(ssl_ctx, ossl.roots);
	} else {	/* the first: libcurl loaded the blob into this one */
		X509_STORE *store = ossl.get_cert_store(ssl_ctx);

		if (store && ossl.store_up_ref(store))
			ossl.roots = store;
	}
	return CURLE_OK;
}

/*
 * The body, as libcurl reads it.  At its first byte the hop's answer is
 * known (status and Location are parsed before the body): a redirect's
 * body is dropped, the final answer's kept, and a get's is written to the
 * job as it grows (pump_streams(), after libcurl returns: nothing is
 * written from inside libcurl)
 */
static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct http_xfer *x = data;
	size_t len = size * n, room = BODY_SLOT - x->len;

	if (!x->final && !x->redirect) {
		long status = 0;
		char *loc = NULL;

		(void)cu.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		x->redirect = status >= 300 && status < 400 &&
			      cu.easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
			      loc;
		x->final = !x->redirect;
	}
	if (x->redirect)
		return len;

	if (len > room) {
		/* one byte over the cap: keep what fits, cut the transfer */
		memcpy(x->body + x->len, p, room);
		x->len += room;
		x->truncated = true;
		return 0;
	}
	memcpy(x->body + x->len, p, len);
	x->len += len;
	if (x->len > x->used)
		x->used = x->len;
	return len;
}

/* ------------------------------------------------------------ transfers */

static struct http_xfer *xfer_of(struct relay_ctx *c, uint32_t xi)
{
	return &c->http->xfers[xi];
}

static int xfer_alloc(struct relay_ctx *c)
{
	struct dock_http *h = c->http;

	for (uint32_t i = 0; i < DOCK_HTTP_XFERS_MAX; i++) {
		struct http_xfer *x = &h->xfers[i];

		if (x->state != XFER_FREE)
			continue;
		if (!x->easy) {
			x->easy = cu.easy_init();
			x->share = cu.share_init();
			x->url = cu.url();
			if (!x->easy || !x->share || !x->url ||
			    cu.share_setopt(x->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS))
				return -ENOMEM;
		}
		return (int)i;
	}
	return -EBUSY;
}

/* The transfer's slot goes back: its body's pages too */
static void xfer_free(struct relay_ctx *c, uint32_t xi)
{
	struct http_xfer *x = xfer_of(c, xi);

	if (x->state == XFER_RUNNING)
		(void)cu.multi_remove_handle(c->http->multi, x->easy);
	if (x->used)
		(void)madvise(x->body, (x->used + 4095) & ~(size_t)4095, MADV_DONTNEED);
	x->used = x->len = 0;
	x->state = XFER_FREE;
	x->gen++;
}

/* "get URL", for log lines and audit records */
static const char *hop_target(const struct http_xfer *x, char *buf, size_t len)
{
	snprintf(buf, len, "get %.*s", (int)(len > 5 ? len - 5 : 0),
		 x->hop_url[0] ? x->hop_url : "?");
	return buf;
}

/* The URL is done (answer, denial or failure): it waits to be written */
static void xfer_done(struct relay_ctx *c, uint32_t xi)
{
	struct http_xfer *x = xfer_of(c, xi);
	struct http_call *k = &c->http->calls[x->call];

	x->state = XFER_DONE;
	if (k->cur != (int32_t)xi)	/* a get streamed is written already */
		k->queue[(k->q_head + k->q_len++) % NBJ_DOCK_GET_MANY_WIDTH] = (int32_t)xi;
	pump(c, x->call);
}

static void xfer_fail(struct relay_ctx *c, uint32_t xi, int err, const char *why)
{
	struct http_xfer *x = xfer_of(c, xi);

	x->err = err;
	snprintf(x->reason, sizeof(x->reason), "%s", why);
	xfer_done(c, xi);
}

/* A hop denied: audited and counted with the decision's reason */
static void hop_denied(struct relay_ctx *c, uint32_t xi, enum decide_reason reason)
{
	struct http_xfer *x = xfer_of(c, xi);
	char t[AUDIT_TARGET_MAX + 1], resolved[256];

	hop_target(x, t, sizeof(t));
	log_info("deny dock %s reason=%s", t, decide_reason_name(reason));
	audit_deny(&c->cfg->audit, LANE_DOCK, 0, NULL, t,
		   nbj_addr_list_format(x->answers, x->n_answers, resolved, sizeof(resolved)),
		   NULL, NULL, reason);
	x->denied = true;
	xfer_fail(c, xi, -EACCES, decide_reason_name(reason));
}

/* An allowed hop's one record, when it ends */
static void hop_audit(struct relay_ctx *c, struct http_xfer *x, int err, const char *why)
{
	char t[AUDIT_TARGET_MAX + 1];
	char *ip = NULL;
	long port = 0;
	struct audit_event ev;

	audit_event_init(&ev, AUDIT_DOCK_CALL, LANE_DOCK);
	EVENT_SET(&ev, target, hop_target(x, t, sizeof(t)));
	if (cu.easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && ip[0]) {
		char a[NBJ_ADDR_STRLEN + 8];

		(void)cu.easy_getinfo(x->easy, CURLINFO_PRIMARY_PORT, &port);
		snprintf(a, sizeof(a), strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
		EVENT_SET(&ev, resolved, a);
	}
	EVENT_SET(&ev, reason, "allowed");
	snprintf(ev.detail, sizeof(ev.detail), "status=%d http=%ld bytes=%zu hop=%u%s%s%s",
		 err, x->status, x->len, x->hops, x->truncated ? " truncated" : "",
		 why[0] ? " " : "", why);
	(void)audit_send(&c->cfg->audit, &ev);
}

/* The host as libcurl must see it: the judged name, or the address */
static void canonical_host(const struct http_xfer *x, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (x->name[0]) {
		snprintf(buf, len, "%s", x->name);
		return;
	}
	inet_ntop(x->addr.family, x->addr.family == AF_INET ? (const void *)&x->addr.v4
							    : (const void *)&x->addr.v6,
		  a, sizeof(a));
	snprintf(buf, len, x->addr.family == AF_INET6 ? "[%s]" : "%s", a);
}

/* Allowed and pinned: the hop's request goes */
static void hop_go(struct relay_ctx *c, uint32_t xi)
{
	struct http_xfer *x = xfer_of(c, xi);
	CURL *e = x->easy;
	struct curl_blob roots = { .flags = CURL_BLOB_NOCOPY };
	time_t left = x->deadline - now_s();
	size_t o = 0;

	if (left <= 0) {
		xfer_fail(c, xi, -ETIMEDOUT, "timed out");
		return;
	}
	stats_count(c->cfg->audit.stats, LANE_DOCK, OUTCOME_ALLOWED, DECIDE_ALLOWED);
	cu.easy_reset(e);
	x->pin.data = x->pin_text;
	x->pin.next = NULL;
	if (x->name[0]) {
		char pin[PIN_MAX];

		o = (size_t)snprintf(pin, sizeof(pin), "%s:%u:", x->name, x->port);
		for (unsigned k = 0; k < x->n_answers && o < sizeof(pin); k++) {
			char a[INET6_ADDRSTRLEN];
			const struct nbj_addr *ans = &x->answers[k];

			inet_ntop(ans->family, ans->family == AF_INET ? (const void *)&ans->v4
								      : (const void *)&ans->v6,
				  a, sizeof(a));
			o += (size_t)snprintf(pin + o, sizeof(pin) - o,
					      ans->family == AF_INET6 ? "%s[%s]" : "%s%s",
					      k ? "," : "", a);
		}
		memcpy(x->pin_text, pin, sizeof(pin));
		(void)cu.easy_setopt(e, CURLOPT_RESOLVE, &x->pin);
	}
	x->len = 0;
	x->truncated = false;
	x->final = x->redirect = false;
	x->status = 0;
	x->errbuf[0] = '\0';
	(void)cu.easy_setopt(e, CURLOPT_CURLU, x->url);
	(void)cu.easy_setopt(e, CURLOPT_SHARE, x->share);
	(void)cu.easy_setopt(e, CURLOPT_PRIVATE, (void *)(uintptr_t)xi);
	(void)cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)cu.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	(void)cu.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	(void)cu.easy_setopt(e, CURLOPT_PROXY, "");
	(void)cu.easy_setopt(e, CURLOPT_NOPROXY, "*");
	(void)cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	(void)cu.easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	(void)cu.easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	(void)cu.easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	(void)cu.easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	(void)cu.easy_setopt(e, CURLOPT_CAINFO, NULL);
	(void)cu.easy_setopt(e, CURLOPT_CAPATH, NULL);
	roots.data = (void *)tls_upstream_roots_pem(&roots.len);
	if (roots.data && !ossl.roots)	/* no roots at all: every https fails */
		(void)cu.easy_setopt(e, CURLOPT_CAINFO_BLOB, &roots);
	(void)cu.easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	(void)cu.easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left * 1000);
	(void)cu.easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	(void)cu.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	(void)cu.easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	(void)cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	(void)cu.easy_setopt(e, CURLOPT_WRITEDATA, x);
	if (cu.multi_add_handle(c->http->multi, e) != CURLM_OK) {
		xfer_fail(c, xi, -ENOMEM, "cannot start the transfer");
		return;
	}
	x->state = XFER_RUNNING;
}

/* The facts of the hop, and the verdict on them */
static void hop_decide(struct relay_ctx *c, struct http_xfer *x, const struct nbj_addr *answers,
		       size_t n, int status, struct decision *dec)
{
	struct decide_facts f;

	dock_facts(c, x->name, &x->addr, x->port, x->over_rate, &f);
	if (!x->name[0]) {
		f.answers_state = DECIDE_ANSWERS_OK;
	} else if (answers) {
		f.answers_state = status == ARES_SUCCESS ? DECIDE_ANSWERS_OK :
				  status == ARES_ENODATA || status == ARES_ENOTFOUND ?
				  DECIDE_ANSWERS_NONE : DECIDE_ANSWERS_FAILED;
		f.answers = answers;
		f.n_answers = status == ARES_SUCCESS ? n : 0;
	}
	policy_decide(&f, dec);
}

/* Parse a hop's URL into @x; false (and the URL is denied) when it is
 * not an http or https URL with a plain host */
static bool hop_parse(struct relay_ctx *c, uint32_t xi, const char *text)
{
	struct http_xfer *x = xfer_of(c, xi);
	char *scheme = NULL, *host = NULL, *port = NULL, *zone = NULL, *full = NULL;
	char canon[NBJ_NAME_MAX + 3];
	bool ok = false;

	x->name[0] = '\0';
	x->n_answers = 0;
	snprintf(x->hop_url, sizeof(x->hop_url), "%s", text);
	if (strlen(text) > NBJ_DOCK_TARGET_MAX ||
	    cu.url_set(x->url, CURLUPART_URL, text, 0) != CURLUE_OK ||
	    cu.url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
	    cu.url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    cu.url_get(x->url, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK ||
	    cu.url_get(x->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    dock_target_parse(host, x->name, &x->addr) < 0)
		goto out;
	x->port = (uint16_t)strtoul(port, NULL, 10);
	canonical_host(x, canon, sizeof(canon));
	if (!x->port || cu.url_set(x->url, CURLUPART_HOST, canon, 0) != CURLUE_OK ||
	    cu.url_get(x->url, CURLUPART_URL, &full, 0) != CURLUE_OK ||
	    strlen(full) > NBJ_DOCK_TARGET_MAX)
		goto out;
	snprintf(x->hop_url, sizeof(x->hop_url), "%s", full);
	x->addr.port = x->port;
	ok = true;
out:
	cu.free(scheme);
	cu.free(host);
	cu.free(port);
	cu.free(zone);
	cu.free(full);
	return ok;
}

/* A hop begins: parse, judge, resolve or go */
static void hop_begin(struct relay_ctx *c, uint32_t xi, const char *text)
{
	struct http_xfer *x = xfer_of(c, xi);
	struct decision dec;

	if (!hop_parse(c, xi, text)) {
		x->over_rate = false;
		hop_denied(c, xi, DECIDE_MALFORMED);
		return;
	}
	x->over_rate = dock_over_rate(c);
	hop_decide(c, x, NULL, 0, 0, &dec);
	if (dec.verdict == VERDICT_DENY) {
		hop_denied(c, xi, dec.reason);
		if (dec.reason == DECIDE_REVOKED)
			(void)relay_revoked(c);
		return;
	}
	if (dec.verdict == VERDICT_NEED_ANSWERS) {
		x->state = XFER_RESOLVING;
		if (resolve_start(c, x->name, RESOLVE_COOKIE(RESOLVE_FOR_DOCK,
							     DOCK_CONNS_MAX + xi, x->gen)) < 0)
			hop_denied(c, xi, DECIDE_RESOLVE_FAILED);
		return;
	}
	x->answers[0] = x->addr;
	x->n_answers = 1;
	hop_go(c, xi);
}

static void http_resolved(struct relay_ctx *c, uint32_t xi, uint32_t gen, int status,
			  const struct nbj_addr *answers, size_t n)
{
	struct http_xfer *x;
	struct decision dec;
	size_t n_ok = status == ARES_SUCCESS ? n : 0;

	if (xi >= DOCK_HTTP_XFERS_MAX)
		return;
	x = xfer_of(c, xi);
	if (x->state != XFER_RESOLVING || (x->gen & 0x3fffffff) != gen)
		return;
	if (n_ok > RESOLVE_ANSWERS_MAX)
		n_ok = RESOLVE_ANSWERS_MAX;
	memcpy(x->answers, answers, n_ok * sizeof(*answers));
	x->n_answers = (unsigned)n_ok;
	hop_decide(c, x, answers, n, status, &dec);
	if (dec.verdict != VERDICT_ALLOW) {
		hop_denied(c, xi, dec.verdict == VERDICT_DENY ? dec.reason : DECIDE_OTHER);
		return;
	}
	for (unsigned k = 0; k < x->n_answers; k++)
		x->answers[k].port = x->port;
	hop_go(c, xi);
}

static int errno_of(CURLcode res)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* libcurl finished a hop: its answer, a redirect, or a failure */
static void hop_done(struct relay_ctx *c, uint32_t xi, CURLcode res)
{
	struct http_xfer *x = xfer_of(c, xi);
	char *loc = NULL;

	(void)cu.multi_remove_handle(c->http->multi, x->easy);
	x->state = XFER_RESOLVING;	/* between hops: not in the multi */
	(void)cu.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (res == CURLE_OK && x->status >= 300 && x->status < 400 &&
	    cu.easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
		char next[NBJ_DOCK_TARGET_MAX + 1];

		if (x->hops >= NBJ_DOCK_GET_REDIRECTS_MAX) {
			hop_audit(c, x, -ELOOP, "too many redirects");
			xfer_fail(c, xi, -ELOOP, "more than 5 redirects");
			return;
		}
		hop_audit(c, x, 0, "redirect");
		if (strlen(loc) > NBJ_DOCK_TARGET_MAX) {
			x->hops++;
			snprintf(x->hop_url, sizeof(x->hop_url), "%.*s", NBJ_DOCK_TARGET_MAX, loc);
			hop_denied(c, xi, DECIDE_MALFORMED);
			return;
		}
		strcpy(next, loc);	/* libcurl's, until the handle is used again */
		x->hops++;
		hop_begin(c, xi, next);
		return;
	}
	if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && x->truncated)) {
		hop_audit(c, x, 0, "");
		x->err = 0;
		xfer_done(c, xi);
		return;
	}
	{
		const char *why = x->errbuf[0] ? x->errbuf : cu.easy_strerror(res);

		hop_audit(c, x, errno_of(res), why);
		xfer_fail(c, xi, errno_of(res), why);
	}
}

/* After libcurl ran: the transfers it finished */
static void reap(struct relay_ctx *c)
{
	CURLMsg *m;
	int left;

	while ((m = cu.multi_info_read(c->http->multi, &left))) {
		void *priv = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)cu.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if ((uintptr_t)priv < DOCK_HTTP_XFERS_MAX &&
		    xfer_of(c, (uint32_t)(uintptr_t)priv)->state == XFER_RUNNING)
			hop_done(c, (uint32_t)(uintptr_t)priv, m->data.result);
	}
}

/* ------------------------------------------------------------ calls */

static void interest(struct relay_ctx *c, uint32_t ki, uint32_t events)
{
	struct http_call *k = &c->http->calls[ki];
	struct epoll_event ev = { .events = events,
				  .data.u64 = RELAY_EV(RELAY_EV_HTTP_JOB, ki) };

	if (k->fd < 0 || k->ev == events)
		return;
	if (!events)
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	else if (epoll_ctl(c->epfd, k->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, k->fd, &ev) < 0)
		return;
	k->ev = events;
}

/* The call is over: its transfers stop, its connection closes */
static void call_free(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];

	if (k->state == CALL_FREE)
		return;
	for (uint32_t i = 0; i < DOCK_HTTP_XFERS_MAX; i++) {
		struct http_xfer *x = xfer_of(c, i);

		if (x->state != XFER_FREE && x->call == ki)
			xfer_free(c, i);
	}
	interest(c, ki, 0);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->state = CALL_FREE;
	k->gen++;
	c->http->live--;
}

/* END now, whatever was under way (cut, malformed, over a bound) */
static void call_end(struct relay_ctx *c, uint32_t ki, int status, const char *reason)
{
	struct http_call *k = &c->http->calls[ki];

	for (uint32_t i = 0; i < DOCK_HTTP_XFERS_MAX; i++) {
		struct http_xfer *x = xfer_of(c, i);

		if (x->state == XFER_FREE || x->call != ki)
			continue;
		if (x->state == XFER_RUNNING)	/* its hop's record, cut */
			hop_audit(c, x, status, reason);
		xfer_free(c, i);
	}
	k->held = k->q_len = 0;
	k->cur = k->stream = -1;
	k->next_url = k->written = k->n_urls;
	k->status = status;
	snprintf(k->reason, sizeof(k->reason), "%s", reason);
	if (!k->out_off)	/* a record begun goes out whole, then END */
		k->out_have = 0;
	k->state = CALL_RUN;
	pump(c, ki);
}

/* Start URLs while the call may hold more transfers */
static void start_more(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];

	while (k->state == CALL_RUN && k->next_url < k->n_urls &&
	       k->held < NBJ_DOCK_GET_MANY_WIDTH) {
		int xi = xfer_alloc(c);
		struct http_xfer *x;

		if (xi < 0) {
			if (k->op == NBJ_DOCK_OP_GET)
				call_end(c, ki, xi, "too many transfers at once");
			return;	/* get-many: when one is free (pump_waiting()) */
		}
		x = xfer_of(c, (uint32_t)xi);
		x->state = XFER_RESOLVING;
		x->call = ki;
		x->index = k->next_url++;
		x->hops = 0;
		x->err = 0;
		x->denied = false;
		x->final = x->redirect = false;
		x->reason[0] = '\0';
		if (k->op == NBJ_DOCK_OP_GET)
			k->stream = xi;
		x->deadline = now_s() + NBJ_DOCK_GET_TIMEOUT_S;
		k->held++;
		hop_begin(c, (uint32_t)xi, k->urls + k->url_off[x->index]);
	}
}

/* Append JSON "key":"escaped value" to @p */
static size_t json_pair(char *p, size_t room, const char *key, const char *value)
{
	size_t n = (size_t)snprintf(p, room, "\"%s\":\"", key);

	n += json_escape(p + n, room - n, value);
	n += (size_t)snprintf(p + n, room - n, "\"");
	return n;
}

/* The head of a get-many line: all but the body (or the whole line of
 * a URL that failed) */
static size_t line_head(const struct http_call *k, const struct http_xfer *x, char *p,
			size_t room)
{
	size_t n = (size_t)snprintf(p, room, "{\"index\":%u,", x->index);

	n += json_pair(p + n, room - n, "url", k->urls + k->url_off[x->index]);
	p[n++] = ',';
	n += json_pair(p + n, room - n, "final_url", x->hop_url);
	n += (size_t)snprintf(p + n, room - n, ",\"status\":%ld,\"truncated\":%s,", x->status,
			      x->truncated ? "true" : "false");
	if (x->err) {
		n += (size_t)snprintf(p + n, room - n, "\"error\":\"%s\",",
				      x->denied ? "denied" : "failed");
		n += json_pair(p + n, room - n, "reason", x->reason);
		n += (size_t)snprintf(p + n, room - n, "}\n");
	} else {
		n += (size_t)snprintf(p + n, room - n, "\"body\":\"");
	}
	return n;
}

/* The current transfer's answer is out: its slot goes back */
static void answer_written(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];
	struct http_xfer *x = xfer_of(c, (uint32_t)k->cur);

	k->truncated |= x->truncated;
	if (k->op == NBJ_DOCK_OP_GET) {
		char why[NBJ_DOCK_REASON_MAX + 1];

		k->status = x->err;
		if (!x->err)
			snprintf(why, sizeof(why), "%ld %.200s", x->status, x->hop_url);
		else if (x->denied && x->hops)
			snprintf(why, sizeof(why), "%.48s at redirect %u: %.160s", x->reason,
				 x->hops, x->hop_url);
		else
			snprintf(why, sizeof(why), "%.250s", x->reason);
		memcpy(k->reason, why, sizeof(why));
	}
	xfer_free(c, (uint32_t)k->cur);
	if (k->stream == k->cur)
		k->stream = -1;
	k->cur = -1;
	k->held--;
	k->written++;
}

/* Fill @k's record with the next piece of the current answer */
static void fill_record(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];
	struct http_xfer *x = xfer_of(c, (uint32_t)k->cur);
	unsigned char *p = k->out + NBJ_DOCK_RECORD_HEADER_SIZE;
	size_t room = NBJ_DOCK_RECORD_MAX, n = 0;

	while (k->phase != OUT_DONE) {
		if (k->phase == OUT_HEAD) {
			if (k->op == NBJ_DOCK_OP_GET_MANY)
				n += line_head(k, x, (char *)p, room);
			/* get: the final answer's bytes, a failure after
			 * them included (its END says so) */
			k->phase = x->err && (k->op == NBJ_DOCK_OP_GET_MANY || !x->final)
				   ? OUT_DONE : OUT_BODY;
		} else if (k->phase == OUT_BODY) {
			size_t left = x->len - k->body_off, take;

			if (!left && x->state != XFER_DONE)
				break;	/* a get streamed: more to come */
			if (!left) {
				k->phase = OUT_TAIL;
				continue;
			}
			if (k->op == NBJ_DOCK_OP_GET) {
				take = left < room - n ? left : room - n;
				memcpy(p + n, x->body + k->body_off, take);
				n += take;
			} else {
				/* whole groups of 3 but the last; EVP_EncodeBlock
				 * writes a NUL after its output */
				take = (room - n - 1) / 4 * 3;
				if (take > left)
					take = left;
				n += (size_t)EVP_EncodeBlock(p + n, x->body + k->body_off,
							     (int)take);
			}
			if (!take)
				break;
			k->body_off += take;
		} else {	/* OUT_TAIL */
			if (k->op == NBJ_DOCK_OP_GET_MANY) {
				if (room - n < 3)
					break;
				memcpy(p + n, "\"}\n", 3);
				n += 3;
			}
			k->phase = OUT_DONE;
		}
	}
	if (n) {
		k->out[0] = NBJ_DOCK_REC_DATA;
		k->out[1] = k->out[2] = k->out[3] = 0;
		put32(k->out + 4, (uint32_t)n);
		k->out_have = NBJ_DOCK_RECORD_HEADER_SIZE + n;
		k->out_off = 0;
	}
	if (k->phase == OUT_DONE)
		answer_written(c, ki);
}

static void end_record(struct http_call *k)
{
	size_t rlen = strnlen(k->reason, NBJ_DOCK_REASON_MAX);

	k->out[0] = NBJ_DOCK_REC_END;
	k->out[1] = k->truncated ? NBJ_DOCK_TRUNCATED : 0;
	k->out[2] = k->out[3] = 0;
	put32(k->out + 4, (uint32_t)(4 + rlen));
	put32(k->out + 8, (uint32_t)k->status);
	memcpy(k->out + 12, k->reason, rlen);
	k->out_have = 12 + rlen;
	k->out_off = 0;
}

/* Write what can be written; false when the call ended */
static bool write_out(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];

	for (;;) {
		while (k->out_off < k->out_have) {
			ssize_t n = send(k->fd, k->out + k->out_off, k->out_have - k->out_off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				interest(c, ki, EPOLLOUT);
				return true;
			}
			if (n <= 0) {
				log_info("dock get: the job went away");
				call_free(c, ki);
				return false;
			}
			k->out_off += (size_t)n;
			k->deadline = now_s() + (k->state == CALL_END ? END_TIMEOUT_S
								      : WRITE_TIMEOUT_S);
		}
		k->out_have = k->out_off = 0;
		if (k->state == CALL_END) {
			call_free(c, ki);
			return false;
		}
		if (k->cur < 0 && k->q_len) {
			k->cur = k->queue[k->q_head];
			k->q_head = (k->q_head + 1) % NBJ_DOCK_GET_MANY_WIDTH;
			k->q_len--;
			k->phase = OUT_HEAD;
			k->body_off = 0;
			k->deadline = now_s() + WRITE_TIMEOUT_S;
		}
		if (k->cur < 0 && k->stream >= 0 && xfer_of(c, (uint32_t)k->stream)->final) {
			/* a get's body, as it comes */
			k->cur = k->stream;
			k->phase = OUT_HEAD;
			k->body_off = 0;
			k->deadline = now_s() + WRITE_TIMEOUT_S;
		}
		if (k->cur >= 0) {
			fill_record(c, ki);
			if (k->out_have || k->cur < 0)
				continue;
			/* nothing of a streamed body to write yet: wait */
		} else if (k->written == k->n_urls) {
			end_record(k);
			k->state = CALL_END;
			k->deadline = now_s() + END_TIMEOUT_S;
			continue;
		}
		/* waiting for transfers: a job that hangs up ends the call */
		interest(c, ki, k->in_eof ? 0 : EPOLLIN | EPOLLRDHUP);
		return true;
	}
}

/* Start what may start, write what may be written; once at a time */
static void pump(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];

	if (k->pumping) {
		k->again = true;
		return;
	}
	k->pumping = true;
	do {
		k->again = false;
		start_more(c, ki);
		if (k->state == CALL_FREE || !write_out(c, ki))
			return;	/* freed: call_take() clears the flags */
	} while (k->again);
	k->pumping = false;
}

/* gets whose body grew inside libcurl and that are not waiting for the
 * job to read: their new bytes go out */
static void pump_streams(struct relay_ctx *c)
{
	for (uint32_t ki = 0; ki < DOCK_HTTP_CALLS_MAX; ki++) {
		struct http_call *k = &c->http->calls[ki];

		if (k->state == CALL_RUN && k->stream >= 0 && !k->out_have &&
		    xfer_of(c, (uint32_t)k->stream)->final)
			pump(c, ki);
	}
}

/* get-many calls that wait for a free transfer */
static void pump_waiting(struct relay_ctx *c)
{
	for (uint32_t ki = 0; ki < DOCK_HTTP_CALLS_MAX; ki++) {
		struct http_call *k = &c->http->calls[ki];

		if (k->state == CALL_RUN && k->next_url < k->n_urls &&
		    k->held < NBJ_DOCK_GET_MANY_WIDTH)
			pump(c, ki);
	}
}

/* A get-many frame refused whole (over 64 URLs, none, cut short): its
 * one record, a denial reason malformed, as dock.c's malformed frames */
static void many_refused(struct relay_ctx *c, uint32_t ki, int status, const char *why)
{
	(void)ki;
	log_info("deny dock get-many: %s", why);
	audit_deny(&c->cfg->audit, LANE_DOCK, 0, NULL, "get-many", "", NULL, NULL,
		   DECIDE_MALFORMED);
	call_end(c, ki, status, why);
}

/* get-many: the body is whole: its lines are the URLs */
static void split_urls(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];
	size_t start = 0;

	k->urls[k->have] = '\0';
	for (size_t i = 0; i <= k->have; i++) {
		if (i < k->have && k->urls[i] != '\n')
			continue;
		k->urls[i] = '\0';
		if (i > start && k->urls[i - 1] == '\r')
			k->urls[i - 1] = '\0';
		if (k->urls[start]) {
			if (k->n_urls == NBJ_DOCK_GET_MANY_URLS_MAX) {
				char why[64];

				snprintf(why, sizeof(why), "more than %d URLs",
					 NBJ_DOCK_GET_MANY_URLS_MAX);
				many_refused(c, ki, -E2BIG, why);
				return;
			}
			k->url_off[k->n_urls++] = (uint32_t)start;
		}
		start = i + 1;
	}
	if (!k->n_urls) {
		many_refused(c, ki, -EINVAL, "no URL");
		return;
	}
	k->state = CALL_RUN;
	interest(c, ki, 0);
	pump(c, ki);
}

static void read_body(struct relay_ctx *c, uint32_t ki)
{
	struct http_call *k = &c->http->calls[ki];

	while (k->body_left) {
		ssize_t n = recv(k->fd, k->urls + k->have, k->body_left, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			many_refused(c, ki, -EPROTO, "the request ended before its body");
			return;
		}
		k->have += (size_t)n;
		k->body_left -= (size_t)n;
	}
	split_urls(c, ki);
}

static int curl_load(struct relay_ctx *c);

static int call_take(struct relay_ctx *c, int fd, const struct nbj_dock_request *req,
		     const char *target)
{
	struct dock_http *h = c->http;
	struct http_call *k;
	uint32_t ki;
	int err = curl_load(c);

	if (err < 0)
		return err;
	for (ki = 0; ki < DOCK_HTTP_CALLS_MAX && h->calls[ki].state != CALL_FREE; ki++)
		;
	if (ki == DOCK_HTTP_CALLS_MAX)
		return -EBUSY;
	k = &h->calls[ki];
	k->state = req->op == NBJ_DOCK_OP_GET ? CALL_RUN : CALL_BODY;
	k->fd = fd;
	k->ev = 0;
	k->op = req->op;
	k->deadline = now_s() + HEAD_TIMEOUT_S;
	k->body_left = req->op == NBJ_DOCK_OP_GET_MANY ? req->body_len : 0;
	k->have = 0;
	k->n_urls = k->next_url = k->held = k->written = 0;
	k->q_head = k->q_len = 0;
	k->cur = k->stream = -1;
	k->truncated = false;
	k->status = 0;
	k->reason[0] = '\0';
	k->in_eof = k->pumping = k->again = false;
	k->out_have = k->out_off = 0;
	h->live++;
	if (req->op == NBJ_DOCK_OP_GET) {
		snprintf(k->urls, NBJ_DOCK_TARGET_MAX + 1, "%s", target);
		k->url_off[0] = 0;
		k->n_urls = 1;
		pump(c, ki);
	} else {
		interest(c, ki, EPOLLIN);
		read_body(c, ki);
	}
	pump_waiting(c);
	return 0;
}

static void http_event(struct relay_ctx *c, enum relay_event type, uint32_t index,
		       uint32_t events)
{
	struct dock_http *h = c->http;
	int running;

	if (!h->multi)
		return;
	if (type == RELAY_EV_HTTP_SOCK) {
		int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			    (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			    (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

		(void)cu.multi_socket_action(h->multi, (curl_socket_t)index, flags, &running);
		reap(c);
		pump_streams(c);
	} else if (type == RELAY_EV_HTTP_TIMER) {
		uint64_t ticks;

		(void)!read(h->timer_fd, &ticks, sizeof(ticks));
		(void)cu.multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		reap(c);
		pump_streams(c);
	} else if (type == RELAY_EV_HTTP_JOB && index < DOCK_HTTP_CALLS_MAX) {
		struct http_call *k = &h->calls[index];

		if (k->state == CALL_BODY) {
			read_body(c, index);
		} else if (k->state != CALL_FREE && (events & (EPOLLHUP | EPOLLERR))) {
			log_info("dock get: the job closed its call");
			call_free(c, index);
		} else if (k->state != CALL_FREE && (events & (EPOLLIN | EPOLLRDHUP))) {
			/* nothing more may come from the job: EOF is a
			 * half-close (it may still read), a byte is a fault */
			char b;
			ssize_t n = recv(k->fd, &b, 1, MSG_DONTWAIT);

			if (n == 0) {
				k->in_eof = true;
				interest(c, index, k->ev & EPOLLOUT);
			} else if (n > 0 || (errno != EAGAIN && errno != EINTR)) {
				log_info("dock get: bytes after the request, the call ends");
				call_free(c, index);
			}
		}
		if (k->state != CALL_FREE && (events & EPOLLOUT))
			pump(c, index);
	}
	pump_waiting(c);
}

static void http_tick(struct relay_ctx *c)
{
	struct dock_http *h = c->http;
	time_t now = now_s();

	for (uint32_t i = 0; i < DOCK_HTTP_XFERS_MAX; i++) {
		struct http_xfer *x = &h->xfers[i];

		if (x->state == XFER_RESOLVING && x->deadline <= now) {
			x->state = XFER_DONE;	/* a late answer finds it gone */
			x->gen++;
			xfer_fail(c, i, -ETIMEDOUT, "resolving timed out");
		}
	}
	for (uint32_t ki = 0; ki < DOCK_HTTP_CALLS_MAX; ki++) {
		struct http_call *k = &h->calls[ki];

		if (k->state == CALL_BODY && k->deadline <= now) {
			log_info("dock get-many: the URLs were not whole in %d s", HEAD_TIMEOUT_S);
			call_free(c, ki);
		} else if (k->state == CALL_END && k->deadline <= now) {
			call_free(c, ki);
		} else if (k->state == CALL_RUN && k->out_off < k->out_have &&
			   k->deadline <= now) {
			log_info("dock get: the job did not read its answer in %d s",
				 WRITE_TIMEOUT_S);
			call_free(c, ki);
		}
	}
	pump_waiting(c);
}

static unsigned http_cut_all(struct relay_ctx *c)
{
	unsigned cut = 0;

	for (uint32_t ki = 0; ki < DOCK_HTTP_CALLS_MAX; ki++) {
		struct http_call *k = &c->http->calls[ki];

		if (k->state != CALL_RUN && k->state != CALL_BODY)
			continue;
		call_end(c, ki, -EACCES, "revoked");
		cut++;
	}
	return cut;
}

/*
 * Set-up, before the allow-list: the timer, the tables and the bodies'
 * mapping (reserved, its pages touched only by bodies); libcurl waits for
 * the first get (curl_load())
 */
static int http_init(struct relay_ctx *c)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = RELAY_EV(RELAY_EV_HTTP_TIMER, 0) };
	struct dock_http *h;
	unsigned char *bufs;

	h = calloc(1, sizeof(*h));
	bufs = calloc(DOCK_HTTP_CALLS_MAX, URLS_AREA + 1 + OUT_BUF);
	if (!h || !bufs) {
		free(h);
		free(bufs);
		return -ENOMEM;
	}
	h->bodies = mmap(NULL, (size_t)DOCK_HTTP_XFERS_MAX * BODY_SLOT, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->bodies == MAP_FAILED || h->timer_fd < 0 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, h->timer_fd, &ev) < 0) {
		log_err("dock: cannot set up the HTTP client");
		return -EIO;
	}
	for (unsigned i = 0; i < DOCK_HTTP_CALLS_MAX; i++) {
		h->calls[i].fd = -1;
		h->calls[i].urls = (char *)bufs + (size_t)i * (URLS_AREA + 1 + OUT_BUF);
		h->calls[i].out = bufs + (size_t)i * (URLS_AREA + 1 + OUT_BUF) + URLS_AREA + 1;
	}
	for (unsigned i = 0; i < DOCK_HTTP_XFERS_MAX; i++)
		h->xfers[i].body = h->bodies + (size_t)i * BODY_SLOT;
	c->http = h;
	return 0;
}

/*
 * libcurl, once: loaded (the library's own constructors and
 * curl_global_init() run under the relay's allow-list), its multi handle
 * made and tied to the relay's loop.  A failure is final: every get is
 * then -ENOSYS.
 */
static int curl_load(struct relay_ctx *c)
{
	static int state;	/* 0 not yet, 1 loaded, negative errno: failed */
	struct dock_http *h = c->http;
	void *lib;

	if (state)
		return state < 0 ? state : 0;
	state = -ENOSYS;
	lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		log_err("dock: no HTTP client: %s", dlerror());
		return state;
	}
#define CURL_LOAD(f)							\
	cu.f = (__typeof__(cu.f))dlsym(lib, "curl_" #f);			\
	if (!cu.f) {							\
		log_err("dock: no HTTP client: libcurl without curl_" #f);	\
		return state;						\
	}
	CURL_CALLS(CURL_LOAD)
#undef CURL_LOAD
	ossl.set_verify_depth = (__typeof__(ossl.set_verify_depth))dlsym(lib,
							"SSL_CTX_set_verify_depth");
	ossl.get_cert_store = (__typeof__(ossl.get_cert_store))dlsym(lib, "SSL_CTX_get_cert_store");
	ossl.set1_cert_store = (__typeof__(ossl.set1_cert_store))dlsym(lib,
							"SSL_CTX_set1_cert_store");
	ossl.store_up_ref = (__typeof__(ossl.store_up_ref))dlsym(lib, "X509_STORE_up_ref");
	if (!ossl.set_verify_depth || !ossl.get_cert_store || !ossl.set1_cert_store ||
	    !ossl.store_up_ref) {
		log_err("dock: no HTTP client: libcurl's OpenSSL lacks a call");
		return state;
	}
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(h->multi = cu.multi_init())) {
		log_err("dock: no HTTP client: libcurl did not start");
		return state;
	}
	(void)cu.multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	(void)cu.multi_setopt(h->multi, CURLMOPT_SOCKETDATA, c);
	(void)cu.multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	(void)cu.multi_setopt(h->multi, CURLMOPT_TIMERDATA, c);
	(void)cu.multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			      (long)DOCK_HTTP_XFERS_MAX);
	state = 1;
	return 0;
}

static void hook_resolved(struct relay_ctx *c, uint32_t xi, uint32_t gen, int status,
			  const struct nbj_addr *answers, size_t n)
{
	http_resolved(c, xi, gen, status, answers, n);
	pump_waiting(c);
}

/* The hooks nbjail-relay's main() sets (relay_int.h, struct dock_http_ops) */
const struct dock_http_ops dock_http_curl = {
	.init = http_init,
	.take = call_take,
	.event = http_event,
	.resolved = hook_resolved,
	.tick = http_tick,
	.cut_all = http_cut_all,
};
