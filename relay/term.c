/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/term.c - TLS termination of the flows that carry a credential or
 * meet an http: rule; HTTP/1.1 requests checked, rewritten, forwarded
 *
 * DOC: Theory of operation
 *
 * Which flows: a flow to a pinned name (fake-IP DNS, relay/tcp.c) on the
 * direct overlay whose name and port are a credential's host, or whose
 * name has an `http:` rule (port 443): policy_terminates().  Every other
 * flow stays an opaque splice; nothing here touches it.
 *
 * A terminated flow is dialled as usual (resolve-then-pin, floor, allow);
 * once its dial is connected, tcp.c hands its events to
 * term_flow_event().  The flow takes a session slot (TERM_SLOTS, fixed,
 * allocated at start: none free is a cut flow) with fixed buffers:
 *
 *	job --TLS (job CA leaf)--> in[16 KiB] --parse, check, rewrite-->
 *	    out[24 KiB] --TLS (tls_upstream, pinned name)--> server
 *	server --> down[16 KiB] --> job      (responses pass unchanged)
 *
 * 1. The job's handshake (server side): TLS >= 1.2, the leaf of the
 *    pinned name (relay/leafcert.c), ALPN http/1.1 only (a client
 *    offering only h2 gets no ALPN and speaks HTTP/1.1).  The job's SNI
 *    must be the pinned name, else the handshake fails with an alert and
 *    the flow is cut (sni-missing, sni-mismatch).
 * 2. The upstream handshake, tls_upstream_start() bound to the pinned
 *    name (never to what the job sent), against `tls_roots:` or the
 *    system's, started with the session and run beside the job's (it
 *    needs nothing from the job: a fresh connection's first request
 *    waits for one handshake, not two in a row); a failure answers 502
 *    once the job's handshake is done, and is audited (upstream-tls).
 *    The upstream session is kept per pinned name and port (a copy,
 *    TERM_RESUME_MAX names) and resumed by the next fresh connection
 *    to it: no certificate to send and check again.  Toward the job no
 *    session is kept and no ticket sent.
 * 3. Requests, through libhttp-parser (never parsed by hand): the head
 *    is gathered in `in` (a head larger than 16 KiB gets 431: a 1 MiB
 *    header line never grows memory); the parser pauses at its end.
 *    Then, in order: the target must be origin-form ("/..."), the one
 *    Host header must be the pinned name (else 421, host-mismatch); the
 *    tripwire: a stand-in of another credential (or any, on a name with
 *    no credential) in the target or a header, Basic's decoded value
 *    included, is a credential-leak (403, audited, `on_leak: revoke`
 *    revokes the job); the http: rules (403 http-rule).  A refusal's
 *    body is one line: "nbjail: denied METHOD URL reason=REASON".
 *    The head is then rebuilt into `out` with Authorization rewritten
 *    when it holds this host's stand-in: "Bearer S", "token S", or
 *    "Basic B64" whose user or password is S (EVP_DecodeBlock, replaced,
 *    EVP_EncodeBlock), and the credential's `headers:` whose whole value
 *    is S.  The secret comes from the key holder for that
 *    one write, asked without blocking (relay/keyfetch.c): the flow
 *    waits (`fetching`, reading nothing more of its head) while every
 *    other flow moves, and term_secret_ready() rebuilds the head when
 *    the answer comes; the bytes are wiped as soon as they are in
 *    `out`, and `out` once written.  A holder that does not answer
 *    within 2 s, or is gone, gets the job 502 (credential-unavailable,
 *    audited), and nothing goes upstream.
 *    The body follows as the parser delimits it (Content-Length,
 *    chunked: passed byte for byte until message end), then the next
 *    request's head (keep-alive, pipelining up to TERM_FIFO requests
 *    waiting for their answers).  An Upgrade (WebSocket) passes through
 *    raw after its request was checked.
 * 4. Responses pass unchanged; a second parser follows them only to log
 *    each request once, with its status: one `http-request` audit event
 *    per request (method, host and path cut at 512 bytes, status,
 *    credential).
 *
 * Deadlines (term_tick()): handshakes and a started request head have
 * TERM_HEAD_TIMEOUT_S (slowloris), an idle connection TERM_IDLE_S.  After
 * an answer of nbjail's own, the job's side is shut for writing and what
 * it still sends is read and dropped for TERM_DRAIN_S at most (a
 * lingering close: closing with unread bytes would reset the connection
 * before the job read the answer).  No
 * allocation after term_init() but OpenSSL's own per-connection state.
 */
#include <errno.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "keys/keys.h"
#include "relay/sni.h"
#include "relay/term.h"
#include "relay/tls_upstream.h"

#define TERM_HEAD_MAX 16384
#define TERM_OUT_MAX (TERM_HEAD_MAX + 8192)
#define TERM_DOWN_MAX 16384
#define TERM_HEADERS_MAX 128
#define TERM_FIFO 4
#define TERM_HEAD_TIMEOUT_S 15
#define TERM_IDLE_S 120
#define TERM_ROUNDS 32
#define TERM_DRAIN_S 2		/* a refused job's rest is read this long at most */

enum term_phase {
	TERM_HANDSHAKES,	/* the job's and the upstream's, side by side */
	TERM_HTTP,
};

struct term_span {
	uint32_t off;
	uint32_t len;
};

/**
 * struct term_pending - a forwarded request waiting for its response
 * @method:	its method
 * @path:	its target, cut at AUDIT_TARGET_MAX
 * @head:	a HEAD request (its response has no body)
 */
struct term_pending {
	char method[16];
	char path[AUDIT_TARGET_MAX + 1];
	bool head;
};

/**
 * struct term_session - one terminated flow (see the theory above)
 */
struct term_session {
	bool used;
	uint32_t gen;		/* counts the slot's sessions: a late secret finds its own */
	bool fetching;		/* a head waits for its secret (relay/keyfetch.c) */
	uint32_t flow;
	int cred;
	enum term_phase phase;
	bool job_hs;		/* the job's handshake is done */
	bool up_hs;		/* the upstream handshake is done */
	bool up_failed;		/* or failed: 502 once the job's is done */
	SSL *job;
	SSL *up;
	uint32_t job_rd_wait;	/* events the last read (or handshake) waits for */
	uint32_t job_wr_wait;	/* events the last write waits for */
	uint32_t up_rd_wait;
	uint32_t up_wr_wait;
	int sni;		/* 0 ok, 1 missing, 2 another name */
	http_parser req;
	http_parser resp;
	bool body;		/* the head went out: bytes are its body */
	bool head_lf;		/* the head's last LF is still the parser's */
	bool raw;		/* upgraded: bytes pass as they are */
	bool resp_raw;
	bool head_done;
	bool msg_done;
	bool in_value;
	bool too_many;
	unsigned n_hdr;
	struct term_span url;
	struct term_span name[TERM_HEADERS_MAX];
	struct term_span value[TERM_HEADERS_MAX];
	size_t in_len;
	size_t parsed;
	size_t out_len;
	size_t out_off;
	bool out_secret;
	size_t down_len;
	size_t down_off;
	bool job_eof;
	bool up_eof;
	bool closing;
	bool draining;		/* nbjail's answer sent: the job's rest is read and dropped */
	struct term_pending fifo[TERM_FIFO];
	unsigned fifo_first;
	unsigned fifo_n;
	time_t head_since;	/* a request head began (0: none) */
	time_t active;		/* last progress */
	unsigned char in[TERM_HEAD_MAX];
	unsigned char out[TERM_OUT_MAX];
	unsigned char down[TERM_DOWN_MAX];
};

static struct {
	SSL_CTX *server;
	struct term_session *s;
	int app_index;
} t = { .app_index = -1 };

static void term_secret_ready(struct relay_ctx *c, uint64_t cookie, const unsigned char *bytes,
			      ssize_t len);

/*
 * Upstream sessions to resume, per pinned name and port (least recently
 * used replaced): a fresh connection's upstream handshake then skips
 * the server's certificate and its check, which the session already
 * passed for that same name
 */
#define TERM_RESUME_MAX 64

static struct {
	char name[NBJ_NAME_MAX + 1];
	uint16_t port;
	SSL_SESSION *session;
	uint64_t used;
} resume[TERM_RESUME_MAX];
static uint64_t resume_clock;

static int resume_find(const char *name, uint16_t port)
{
	for (int i = 0; i < TERM_RESUME_MAX; i++)
		if (resume[i].session && resume[i].port == port && !strcmp(resume[i].name, name))
			return i;
	return -1;
}

/*
 * Keep the session of an upstream connection whose handshake passed: a
 * copy, since SSL_free() of a connection that sent no close_notify marks
 * its own session not resumable (OpenSSL's "bad session" rule, older
 * than TLS 1.3 tickets: the keys of a verified handshake stay sound)
 */
static void resume_put(const char *name, uint16_t port, SSL *up)
{
	SSL_SESSION *sess = SSL_get0_session(up);
	int i = resume_find(name, port);

	if (!sess || !SSL_SESSION_is_resumable(sess) || strlen(name) > NBJ_NAME_MAX)
		return;
	sess = SSL_SESSION_dup(sess);
	if (!sess)
		return;
	if (i < 0) {
		i = 0;
		for (int k = 1; k < TERM_RESUME_MAX; k++)
			if (resume[k].used < resume[i].used)
				i = k;
	}
	SSL_SESSION_free(resume[i].session);
	snprintf(resume[i].name, sizeof(resume[i].name), "%s", name);
	resume[i].port = port;
	resume[i].session = sess;
	resume[i].used = ++resume_clock;
}

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static const char *flow_name(const struct relay_ctx *c, const struct term_session *s)
{
	return c->names[c->flows[s->flow].name].name;
}

/* ALPN toward the job: http/1.1 when offered, else none */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, h11, sizeof(h11) - 1, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

/* The job's SNI must be the pinned name (the session is the SSL's app data) */
static int sni_check(SSL *ssl, int *alert, void *arg)
{
	struct relay_ctx *c = arg;
	struct term_session *s = SSL_get_ex_data(ssl, t.app_index);
	const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (!s)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	if (!sent || !*sent)
		s->sni = 1;
	else if (!sni_name_matches(sent, flow_name(c, s)))
		s->sni = 2;
	if (!s->sni)
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/**
 * term_init() - the server context and the session table, when the
 * policy terminates anything; before the relay's syscall allow-list
 * @c:		relay context
 *
 * Return: 0; -ENOKEY without a key holder; -ENOMEM, -EIO
 */
int term_init(struct relay_ctx *c)
{
	const struct nbj_policy *p = c->cfg->policy;
	int err;

	if (!p->n_credentials && !p->n_http_rules)
		return 0;
	if (c->cfg->keyholder_fd < 0)
		return -ENOKEY;
	err = leafcert_init(c->cfg->keyholder_fd);
	if (!err)	/* after the blocking fetches of the CA */
		err = keyfetch_init(c, term_secret_ready);
	if (err < 0)
		return err;
	t.s = calloc(TERM_SLOTS, sizeof(*t.s));
	t.server = SSL_CTX_new(TLS_server_method());
	t.app_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (!t.s || !t.server || t.app_index < 0)
		return -ENOMEM;
	if (!SSL_CTX_set_min_proto_version(t.server, TLS1_2_VERSION))
		return -EIO;
	SSL_CTX_set_options(t.server, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(t.server, SSL_SESS_CACHE_OFF);
	/* no TLS 1.3 tickets either: nothing would resume them, and each
	 * costs a write and its crypto on every fresh connection */
	SSL_CTX_set_num_tickets(t.server, 0);
	SSL_CTX_set_mode(t.server, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_alpn_select_cb(t.server, alpn_select, NULL);
	SSL_CTX_set_tlsext_servername_callback(t.server, sni_check);
	SSL_CTX_set_tlsext_servername_arg(t.server, c);
	c->term = t.s;
	return 0;
}

/**
 * term_wanted() - whether a new flow is to be terminated
 * @c:		relay context
 * @f:		the flow, its name and overlay known
 *
 * Return: true for a name with a credential or an http: rule, dialled
 * directly
 */
bool term_wanted(const struct relay_ctx *c, const struct flow *f)
{
	return c->term && f->name >= 0 && f->overlay == OVERLAY_DIRECT_INDEX && !f->inbound &&
	       policy_terminates(c->cfg->policy, c->names[f->name].name, f->target.port);
}

/* ---- audit ------------------------------------------------------------ */

static void audit_request(struct relay_ctx *c, struct term_session *s, const char *method,
			  const char *path, unsigned status, enum decide_reason reason)
{
	struct audit_event ev;
	char target[AUDIT_TARGET_MAX + 1];
	const char *cred = s->cred >= 0 ? c->cfg->policy->credentials[s->cred].name : "-";

	snprintf(target, sizeof(target), "%s%s", flow_name(c, s), path);
	log_info("http %s https://%s status=%u credential=%s reason=%s", method, target, status,
		 cred, decide_reason_name(reason));
	audit_event_init(&ev, AUDIT_HTTP_REQUEST, LANE_TCP);
	EVENT_SET(&ev, call, method);
	EVENT_SET(&ev, target, target);
	EVENT_SET(&ev, reason, decide_reason_name(reason));
	snprintf(ev.detail, sizeof(ev.detail), "status=%u credential=%s", status, cred);
	(void)audit_send(&c->cfg->audit, &ev);
}

/**
 * relay_credential_leak() - a stand-in where it does not belong: logged,
 * counted, audited (naming the credential, never its value); with
 * `on_leak: revoke` the job is revoked and every live flow cut
 * @c:		relay context
 * @cred:	the credential
 * @target:	where it was going
 * @peer:	the job's address, or NULL
 * @where:	"header", "url", "dns-name", "tcp-payload"
 *
 * Return: true when the job was revoked (the caller's flow is gone)
 */
bool relay_credential_leak(struct relay_ctx *c, int cred, const char *target,
			   const char *peer, const char *where)
{
	const struct nbj_credential *cr = &c->cfg->policy->credentials[cred];
	struct job_stats *stats = c->cfg->audit.stats;
	struct audit_event ev;

	log_warn("credential-leak: the stand-in of credential %s in a %s toward %s%s", cr->name,
		 where, target, cr->revoke_on_leak ? ": the job is revoked" : "");
	enum audit_lane lane = strcmp(where, "dns-name") ? LANE_TCP : LANE_DNS;

	stats_count(stats, lane, OUTCOME_DENIED, DECIDE_CREDENTIAL_LEAK);
	audit_event_init(&ev, AUDIT_DENY, lane);
	EVENT_SET(&ev, target, target);
	if (peer)
		EVENT_SET(&ev, peer, peer);
	EVENT_SET(&ev, reason, decide_reason_name(DECIDE_CREDENTIAL_LEAK));
	snprintf(ev.detail, sizeof(ev.detail), "credential=%s where=%s on_leak=%s", cr->name,
		 where, cr->revoke_on_leak ? "revoke" : "deny");
	(void)audit_send(&c->cfg->audit, &ev);
	if (!cr->revoke_on_leak || !stats)
		return false;
	atomic_store(&stats->revoked, 1);
	return relay_revoked(c);
}

/* ---- request parsing (libhttp-parser callbacks) ------------------------ */

static struct term_session *of(http_parser *p)
{
	return p->data;
}

static void span_extend(struct term_session *s, struct term_span *sp, const char *at,
			size_t len, bool start)
{
	if ((const unsigned char *)at < s->in || (const unsigned char *)at >= s->in + TERM_HEAD_MAX)
		return;	/* a chunked body's trailer: not looked at */
	if (start)
		*sp = (struct term_span){ (uint32_t)((const unsigned char *)at - s->in), 0 };
	sp->len += (uint32_t)len;
}

static int on_message_begin(http_parser *p)
{
	struct term_session *s = of(p);

	s->n_hdr = 0;
	s->url = (struct term_span){ 0, 0 };
	s->in_value = false;
	s->too_many = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct term_session *s = of(p);

	if (!s->body)
		span_extend(s, &s->url, at, len, s->url.len == 0);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct term_session *s = of(p);

	if (s->body)
		return 0;
	if (s->in_value || !s->n_hdr) {
		if (s->n_hdr == TERM_HEADERS_MAX) {
			s->too_many = true;
			return 0;
		}
		s->n_hdr++;
		s->value[s->n_hdr - 1] = (struct term_span){ 0, 0 };
		span_extend(s, &s->name[s->n_hdr - 1], at, len, true);
	} else if (!s->too_many) {
		span_extend(s, &s->name[s->n_hdr - 1], at, len, false);
	}
	s->in_value = false;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct term_session *s = of(p);

	if (s->body || s->too_many || !s->n_hdr)
		return 0;
	span_extend(s, &s->value[s->n_hdr - 1], at, len, !s->in_value);
	s->in_value = true;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct term_session *s = of(p);

	if (!s->body) {
		s->head_done = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	of(p)->msg_done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings req_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

/* ---- responses: followed for the audit record only -------------------- */

static struct relay_ctx *resp_ctx;

static int on_resp_headers(http_parser *p)
{
	struct term_session *s = of(p);

	/* a HEAD's response has no body, whatever its headers say */
	return s->fifo_n && s->fifo[s->fifo_first].head ? 1 : 0;
}

static int on_resp_complete(http_parser *p)
{
	struct term_session *s = of(p);
	struct term_pending *q;

	if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101)
		return 0;	/* an interim answer (100 Continue) */
	if (!s->fifo_n)
		return 0;
	q = &s->fifo[s->fifo_first];
	audit_request(resp_ctx, s, q->method, q->path, p->status_code, DECIDE_ALLOWED);
	s->fifo_first = (s->fifo_first + 1) % TERM_FIFO;
	s->fifo_n--;
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_headers_complete = on_resp_headers,
	.on_message_complete = on_resp_complete,
};

/* ---- the request head ------------------------------------------------- */

static bool span_is(const struct term_session *s, struct term_span sp, const char *what)
{
	return sp.len == strlen(what) && !strncasecmp((const char *)s->in + sp.off, what, sp.len);
}

/* Queue an answer of nbjail's own for the job; the flow closes after it */
static void refuse(struct relay_ctx *c, struct term_session *s, unsigned status,
		   const char *status_text, enum decide_reason reason)
{
	const char *method = http_method_str(s->req.method);
	char body[AUDIT_TARGET_MAX + 128], path[AUDIT_TARGET_MAX + 1];
	size_t room = TERM_DOWN_MAX - s->down_len;
	int n, blen;

	snprintf(path, sizeof(path), "%.*s", (int)s->url.len, (const char *)s->in + s->url.off);
	for (char *p = path; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	blen = snprintf(body, sizeof(body), "nbjail: denied %s https://%s%s reason=%s\n", method,
			flow_name(c, s), path, decide_reason_name(reason));
	if (blen < 0 || (size_t)blen >= sizeof(body))
		blen = (int)strlen(body);
	n = snprintf((char *)s->down + s->down_len, room,
		     "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		     "Connection: close\r\n\r\n%s", status, status_text, blen, body);
	if (n > 0 && (size_t)n < room)
		s->down_len += (size_t)n;
	s->closing = true;
	if (reason != DECIDE_CREDENTIAL_LEAK)
		tcp_flow_deny(c, s->flow, reason);
	audit_request(c, s, method, path, status, reason);
}

/* The one Host header equals the pinned name (and port, if it has one) */
static bool host_matches(const struct relay_ctx *c, const struct term_session *s)
{
	const struct flow *f = &c->flows[s->flow];
	const char *name = flow_name(c, s), *v = NULL;
	size_t len = 0, nlen = strlen(name);
	unsigned n = 0;

	for (unsigned i = 0; i < s->n_hdr; i++)
		if (span_is(s, s->name[i], "host")) {
			v = (const char *)s->in + s->value[i].off;
			len = s->value[i].len;
			n++;
		}
	if (n != 1)
		return false;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len && v[len - 1] == '.' && (len < 2 || v[len - 2] != '.'))
		len--;
	if (len > nlen && v[nlen] == ':') {
		char port[8];

		snprintf(port, sizeof(port), "%u", f->target.port);
		if (len - nlen - 1 != strlen(port) || memcmp(v + nlen + 1, port, strlen(port)))
			return false;
		len = nlen;
	}
	return len == nlen && !strncasecmp(v, name, nlen);
}

/* Base64 of a Basic value, decoded; its length, or -1 */
static int basic_decode(const unsigned char *b64, size_t len, unsigned char *out, size_t cap)
{
	int n;

	if (!len || len % 4 || len / 4 * 3 > cap || len > INT32_MAX)
		return -1;
	n = EVP_DecodeBlock(out, b64, (int)len);
	if (n < 0)
		return -1;
	for (size_t i = len; i > 0 && b64[i - 1] == '='; i--)
		n--;
	return n;
}

/* The tripwire on one head: a stand-in that is not this host's */
static int head_leak(const struct relay_ctx *c, const struct term_session *s)
{
	const struct nbj_policy *p = c->cfg->policy;
	unsigned char dec[TERM_HEAD_MAX];
	int k;

	k = policy_standin_find(p, s->in + s->url.off, s->url.len, s->cred, false);
	for (unsigned i = 0; i < s->n_hdr && k < 0; i++) {
		const unsigned char *v = s->in + s->value[i].off;
		size_t len = s->value[i].len;

		k = policy_standin_find(p, s->in + s->name[i].off, s->name[i].len, s->cred, false);
		if (k < 0)
			k = policy_standin_find(p, v, len, s->cred, false);
		if (k < 0 && span_is(s, s->name[i], "authorization") && len > 6 &&
		    !strncasecmp((const char *)v, "basic ", 6)) {
			int n = basic_decode(v + 6, len - 6, dec, sizeof(dec));

			if (n > 0)
				k = policy_standin_find(p, dec, (size_t)n, s->cred, false);
		}
	}
	return k;
}

/* Append @len bytes to out; false when they do not fit */
static bool out_put(struct term_session *s, const void *b, size_t len)
{
	if (len > TERM_OUT_MAX - s->out_len)
		return false;
	memcpy(s->out + s->out_len, b, len);
	s->out_len += len;
	return true;
}

/*
 * An Authorization value with this host's stand-in, rewritten into out:
 * "Bearer S", "token S" or "Basic B64(user:pass)" with S as user or
 * password.  With @secret NULL, only whether it would be (nothing is
 * written).  Return 1 when rewritten (or to be), 0 when not this host's
 * stand-in, -1 when the secret does not fit
 */
static int auth_rewrite(struct relay_ctx *c, struct term_session *s, const unsigned char *v,
			size_t len, bool whole, const unsigned char *secret, size_t secret_len)
{
	const struct nbj_credential *cr = &c->cfg->policy->credentials[s->cred];
	size_t sl = strlen(cr->standin), scheme = 0;
	unsigned char dec[TERM_HEAD_MAX], enc[TERM_OUT_MAX];
	int n = -1, ok = -1;
	size_t at = 0, dl = 0;

	if (whole) {
		/* a custom header of the credential's: the whole value */
		if (len != sl || memcmp(v, cr->standin, sl))
			return 0;
	} else if (len > 7 && !strncasecmp((const char *)v, "bearer ", 7)) {
		scheme = 7;
	} else if (len > 6 && !strncasecmp((const char *)v, "token ", 6)) {
		scheme = 6;
	}
	if (whole) {
		/* checked above */
	} else if (scheme) {
		if (len - scheme != sl || memcmp(v + scheme, cr->standin, sl))
			return 0;
	} else if (len > 6 && !strncasecmp((const char *)v, "basic ", 6)) {
		n = basic_decode(v + 6, len - 6, dec, sizeof(dec));
		if (n <= 0)
			return 0;
		dl = (size_t)n;
		if (dl >= sl + 1 && !memcmp(dec, cr->standin, sl) && dec[sl] == ':')
			at = 0;	/* the user */
		else if (dl > sl && dec[dl - sl - 1] == ':' && !memcmp(dec + dl - sl, cr->standin, sl))
			at = dl - sl;	/* the password */
		else
			return 0;
	} else {
		return 0;
	}
	if (!secret) {
		explicit_bzero(dec, dl);
		return 1;
	}
	s->out_secret = true;
	if (scheme || whole) {
		ok = out_put(s, v, scheme) && out_put(s, secret, secret_len) ? 1 : -1;
	} else if (dl - sl + secret_len <= sizeof(dec) &&
		   ((dl - sl + secret_len + 2) / 3 * 4 + 1) <= sizeof(enc)) {
		/* dec: user:pass with the stand-in at @at, replaced */
		memmove(dec + at + secret_len, dec + at + sl, dl - at - sl);
		memcpy(dec + at, secret, secret_len);
		dl = dl - sl + secret_len;
		n = EVP_EncodeBlock(enc, dec, (int)dl);
		ok = n > 0 && out_put(s, "Basic ", 6) && out_put(s, enc, (size_t)n) ? 1 : -1;
		explicit_bzero(enc, sizeof(enc));
	}
	explicit_bzero(dec, sizeof(dec));
	return ok;
}

/* One of the credential's `headers:` */
static bool custom_header(const struct relay_ctx *c, const struct term_session *s,
			  struct term_span name)
{
	const struct nbj_credential *cr = &c->cfg->policy->credentials[s->cred];

	for (unsigned i = 0; i < cr->n_headers && i < CRED_HEADERS_MAX; i++)
		if (span_is(s, name, cr->headers[i]))
			return true;
	return false;
}

/* Whether a header of the head holds this host's stand-in where it is
 * replaced: the head needs the secret */
static bool head_needs_secret(struct relay_ctx *c, struct term_session *s)
{
	for (unsigned i = 0; s->cred >= 0 && i < s->n_hdr; i++) {
		const unsigned char *v = s->in + s->value[i].off;

		if (span_is(s, s->name[i], "authorization") &&
		    auth_rewrite(c, s, v, s->value[i].len, false, NULL, 0) > 0)
			return true;
		if (custom_header(c, s, s->name[i]) &&
		    auth_rewrite(c, s, v, s->value[i].len, true, NULL, 0) > 0)
			return true;
	}
	return false;
}

static uint64_t session_cookie(const struct term_session *s)
{
	return (uint64_t)s->gen << 32 | (uint32_t)(s - t.s);
}

static int head_build(struct relay_ctx *c, struct term_session *s,
		      const unsigned char *secret, size_t secret_len);

/*
 * A whole head is in in[0..parsed): check it, then rebuild it into out,
 * or ask for the secret it needs first.  Return 0 when forwarded, 1 when
 * refused (answer queued), 2 when it waits for its secret
 * (term_secret_ready() goes on), -1 when the flow is gone (revoked)
 */
static int head_process(struct relay_ctx *c, struct term_session *s)
{
	const char *method = http_method_str(s->req.method);
	const unsigned char *url = s->in + s->url.off;
	char peer[NBJ_ADDR_STRLEN], target[AUDIT_TARGET_MAX + 1];
	int k;

	if (s->too_many || !s->url.len || (url[0] != '/' && !(s->url.len == 1 && url[0] == '*'))) {
		refuse(c, s, 400, "Bad Request", DECIDE_HTTP_MALFORMED);
		return 1;
	}
	if (!host_matches(c, s)) {
		refuse(c, s, 421, "Misdirected Request", DECIDE_HOST_MISMATCH);
		return 1;
	}
	k = head_leak(c, s);
	if (k >= 0) {
		snprintf(target, sizeof(target), "%s%.*s", flow_name(c, s), (int)s->url.len,
			 (const char *)url);
		nbj_addr_format(&c->flows[s->flow].peer, peer, sizeof(peer));
		refuse(c, s, 403, "Forbidden", DECIDE_CREDENTIAL_LEAK);
		return relay_credential_leak(c, k, target, peer, "request") ? -1 : 1;
	}
	if (policy_http_check(c->cfg->policy, flow_name(c, s), method, (const char *)url,
			      s->url.len) != DECIDE_ALLOWED) {
		refuse(c, s, 403, "Forbidden", DECIDE_HTTP_RULE);
		return 1;
	}
	if (head_needs_secret(c, s)) {
		const struct nbj_credential *cr = &c->cfg->policy->credentials[s->cred];
		char key[SECRET_NAME_MAX + 2];
		int err;

		snprintf(key, sizeof(key), "+%s", cr->name);
		err = keyfetch_start(c, key, session_cookie(s));
		if (err < 0) {
			log_warn("credential %s: the key holder cannot be asked: %s", cr->name,
				 strerror(-err));
			refuse(c, s, 502, "Bad Gateway", DECIDE_CREDENTIAL_UNAVAILABLE);
			return 1;
		}
		s->fetching = true;
		return 2;
	}
	return head_build(c, s, NULL, 0);
}

/*
 * The checked head, rebuilt into out with Authorization (and the
 * credential's headers) rewritten with @secret.  Return 0 when
 * forwarded, 1 when refused (answer queued)
 */
static int head_build(struct relay_ctx *c, struct term_session *s,
		      const unsigned char *secret, size_t secret_len)
{
	const char *method = http_method_str(s->req.method);
	const unsigned char *url = s->in + s->url.off;
	struct term_pending *q;
	int r;

	/* the request line, rebuilt, then every header, Authorization rewritten */
	s->out_len = s->out_off = 0;
	{
		char line[64];
		int n = snprintf(line, sizeof(line), " HTTP/%u.%u\r\n", s->req.http_major,
				 s->req.http_minor);

		if (!out_put(s, method, strlen(method)) || !out_put(s, " ", 1) ||
		    !out_put(s, url, s->url.len) || !out_put(s, line, (size_t)n))
			goto too_large;
	}
	for (unsigned i = 0; i < s->n_hdr; i++) {
		const unsigned char *v = s->in + s->value[i].off;

		if (!out_put(s, s->in + s->name[i].off, s->name[i].len) || !out_put(s, ": ", 2))
			goto too_large;
		r = 0;
		if (secret && span_is(s, s->name[i], "authorization"))
			r = auth_rewrite(c, s, v, s->value[i].len, false, secret, secret_len);
		else if (secret && custom_header(c, s, s->name[i]))
			r = auth_rewrite(c, s, v, s->value[i].len, true, secret, secret_len);
		if (r < 0) {
			explicit_bzero(s->out, s->out_len);
			s->out_len = 0;
			refuse(c, s, 502, "Bad Gateway", DECIDE_REFUSED);
			return 1;
		}
		if ((!r && !out_put(s, v, s->value[i].len)) || !out_put(s, "\r\n", 2))
			goto too_large;
	}
	if (!out_put(s, "\r\n", 2))
		goto too_large;
	q = &s->fifo[(s->fifo_first + s->fifo_n) % TERM_FIFO];
	snprintf(q->method, sizeof(q->method), "%s", method);
	snprintf(q->path, sizeof(q->path), "%.*s", (int)s->url.len, (const char *)url);
	q->head = s->req.method == HTTP_HEAD;
	s->fifo_n++;
	return 0;
too_large:
	explicit_bzero(s->out, s->out_len);
	s->out_len = 0;
	refuse(c, s, 431, "Request Header Fields Too Large", DECIDE_HTTP_MALFORMED);
	return 1;
}

/* The head in in[0..parsed) went to out: what follows is its body */
static void head_sent(struct term_session *s)
{
	memmove(s->in, s->in + s->parsed, s->in_len - s->parsed);
	s->in_len -= s->parsed;
	s->parsed = 0;
	s->body = true;
	s->msg_done = false;
	/* paused at its end, the parser has not taken the head's final LF
	 * yet: it takes it first on resuming, and it is not the body's */
	s->head_lf = true;
	if (s->req.upgrade)
		s->raw = true;
}

/*
 * Run the parser over what `in` holds: a head is checked and rebuilt
 * once whole; body bytes go to out as they are.  Return 0, 1 when
 * refused, -1 when the flow is gone
 */
static int parse_in(struct relay_ctx *c, struct term_session *s)
{
	while (!s->closing && !s->fetching && s->out_len == 0) {
		size_t n;
		enum http_errno e;
		int r;

		if (s->raw) {
			/* the head's final LF (head_lf) is not the stream's */
			size_t skip = s->head_lf && s->in_len && s->in[0] == '\n';

			if (s->in_len)
				s->head_lf = false;
			memcpy(s->out, s->in + skip, s->in_len - skip);
			s->out_len = s->in_len - skip;
			s->in_len = s->parsed = 0;
			return 0;
		}
		if (!s->body && s->head_done) {
			if (s->fifo_n >= TERM_FIFO)
				return 0;	/* its turn comes with an answer */
			s->head_done = false;
			s->head_since = 0;
			r = head_process(c, s);
			if (r == 2)
				return 0;	/* term_secret_ready() goes on */
			if (r)
				return r;
			head_sent(s);
			continue;
		}
		if (s->parsed >= s->in_len)
			return 0;
		n = http_parser_execute(&s->req, &req_settings, (const char *)s->in + s->parsed,
					s->in_len - s->parsed);
		e = HTTP_PARSER_ERRNO(&s->req);
		if (e != HPE_OK && e != HPE_PAUSED) {
			refuse(c, s, 400, "Bad Request", DECIDE_HTTP_MALFORMED);
			return 1;
		}
		if (e == HPE_PAUSED)
			http_parser_pause(&s->req, 0);
		s->parsed += n;
		if (!s->body) {
			if (s->head_done || e == HPE_PAUSED)
				continue;
			if (s->in_len == TERM_HEAD_MAX) {
				refuse(c, s, 431, "Request Header Fields Too Large",
				       DECIDE_HTTP_MALFORMED);
				return 1;
			}
			if (!s->head_since)
				s->head_since = now_s();
			return 0;	/* the rest of the head is to come */
		}
		/* body bytes: forwarded as they are, framing included */
		{
			size_t skip = s->head_lf && s->parsed && s->in[0] == '\n';

			if (s->parsed)
				s->head_lf = false;
			memcpy(s->out, s->in + skip, s->parsed - skip);
			s->out_len = s->parsed - skip;
		}
		memmove(s->in, s->in + s->parsed, s->in_len - s->parsed);
		s->in_len -= s->parsed;
		s->parsed = 0;
		if (s->msg_done) {
			s->body = false;
			s->msg_done = false;
		}
		if (!n && e != HPE_PAUSED)
			return 0;
	}
	return 0;
}

/* ---- the session's steps ---------------------------------------------- */

static uint32_t ssl_wait(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return EPOLLIN;
	if (e == SSL_ERROR_WANT_WRITE)
		return EPOLLOUT;
	return 0;
}

static void session_free(struct relay_ctx *c, struct term_session *s)
{
	if (s->fetching)
		keyfetch_forget(session_cookie(s));
	s->fetching = false;
	if (s->up && s->up_hs && c->flows[s->flow].used)
		resume_put(flow_name(c, s), c->flows[s->flow].target.port, s->up);
	SSL_free(s->job);
	tls_upstream_free(s->up);
	explicit_bzero(s->out, sizeof(s->out));
	s->job = s->up = NULL;
	s->used = false;
}

/* Start a session for a flow whose dial just connected; -1: cut */
static int session_start(struct relay_ctx *c, uint32_t slot)
{
	struct flow *f = &c->flows[slot];
	struct term_session *s = NULL;
	X509 *leaf;

	for (unsigned i = 0; i < TERM_SLOTS && !s; i++)
		if (!t.s[i].used)
			s = &t.s[i];
	leaf = leafcert_for(c->names[f->name].name);
	if (!s || !leaf) {
		tcp_flow_deny(c, slot, DECIDE_FLOW_TABLE_FULL);
		tcp_flow_end(c, slot, true);
		return -1;
	}
	{
		uint32_t gen = s->gen + 1;

		memset(s, 0, offsetof(struct term_session, in));
		s->gen = gen;
	}
	s->used = true;
	s->flow = slot;
	s->cred = policy_credential_for(c->cfg->policy, c->names[f->name].name, f->target.port);
	s->active = now_s();
	s->head_since = s->active;	/* the handshakes' deadline */
	http_parser_init(&s->req, HTTP_REQUEST);
	http_parser_init(&s->resp, HTTP_RESPONSE);
	s->req.data = s->resp.data = s;
	s->job = SSL_new(t.server);
	if (!s->job || !SSL_set_ex_data(s->job, t.app_index, s) ||
	    !SSL_use_certificate(s->job, leaf) || !SSL_use_PrivateKey(s->job, leafcert_key()) ||
	    !SSL_set_fd(s->job, f->side[FLOW_SIDE_JOB].fd)) {
		session_free(c, s);
		tcp_flow_end(c, slot, true);
		return -1;
	}
	f->term = (int)(s - t.s);
	/* the upstream handshake starts now, beside the job's: it needs
	 * nothing from the job (bound to the pinned name), and a fresh
	 * connection's first request then waits for one handshake, not two */
	{
		char why[TLS_UPSTREAM_WHY_MAX] = "";

		int k;

		if (tls_upstream_start(f->side[FLOW_SIDE_DIAL].fd, flow_name(c, s), &s->up, why,
				       sizeof(why)) < 0) {
			log_info("upstream tls to %s: %s", flow_name(c, s), why);
			s->up_failed = true;
		} else if ((k = resume_find(flow_name(c, s), f->target.port)) >= 0) {
			resume[k].used = ++resume_clock;
			(void)SSL_set_session(s->up, resume[k].session);
		}
	}
	return 0;
}

/*
 * Both handshakes, side by side: the job's (server side, the job CA's
 * leaf) and the upstream's (tls_upstream, started in session_start()).
 * Once the job's is done and the upstream's done or failed, the session
 * speaks HTTP (a failed upstream: 502 upstream-tls).  Return 1 on
 * progress, 0 to wait, -1 when the flow is gone
 */
static int step_handshakes(struct relay_ctx *c, struct term_session *s)
{
	char why[TLS_UPSTREAM_WHY_MAX] = "";
	int r, progress = 0;

	if (!s->job_hs) {
		ERR_clear_error();
		r = SSL_accept(s->job);
		if (r == 1) {
			s->job_hs = true;
			s->job_rd_wait = 0;
			progress = 1;
		} else {
			s->job_rd_wait = ssl_wait(s->job, r);
			ERR_clear_error();
		}
		if (!s->job_hs && !s->job_rd_wait) {
			if (s->sni) {
				tcp_flow_deny(c, s->flow, s->sni == 1 ? DECIDE_SNI_MISSING
								      : DECIDE_SNI_MISMATCH);
				log_info("%s: the job's TLS to %s did not name it",
					 s->sni == 1 ? "sni-missing" : "sni-mismatch",
					 flow_name(c, s));
			} else {
				log_info("flow %u: the job's TLS handshake to %s failed", s->flow,
					 flow_name(c, s));
			}
			tcp_flow_end(c, s->flow, true);
			return -1;
		}
	}
	if (!s->up_hs && !s->up_failed) {
		r = tls_upstream_handshake(s->up, &s->up_rd_wait, why, sizeof(why));
		if (r != -EAGAIN) {
			s->up_rd_wait = 0;
			progress = 1;
			if (r < 0) {
				log_info("upstream tls to %s: %s", flow_name(c, s),
					 why[0] ? why : strerror(-r));
				s->up_failed = true;
			} else {
				s->up_hs = true;
			}
		}
	}
	if (!s->job_hs || (!s->up_hs && !s->up_failed))
		return progress;
	s->phase = TERM_HTTP;
	s->head_since = 0;
	if (s->up_failed) {
		s->req.method = HTTP_GET;
		refuse(c, s, 502, "Bad Gateway", DECIDE_UPSTREAM_TLS);
	}
	return 1;
}

/*
 * The byte rate (rates: bytes_per_s, the job's and its tenant's), as on
 * spliced flows: a read takes at most what the buckets allow; none left
 * throttles that side until tcp_throttle_tick() runs the flow again
 */
static size_t rate_allow(struct relay_ctx *c, struct term_session *s, int side, size_t room)
{
	struct flow_side *fs = &c->flows[s->flow].side[side];
	size_t n;

	if (fs->throttled)
		return 0;
	n = tcp_bytes_allow(c, room);
	if (!n)
		fs->throttled = true;
	return n;
}

static int step_job_read(struct relay_ctx *c, struct term_session *s)
{
	size_t got = 0, allowed;
	int r;

	if (s->closing || s->job_eof || s->in_len == TERM_HEAD_MAX)
		return 0;
	allowed = rate_allow(c, s, FLOW_SIDE_JOB, TERM_HEAD_MAX - s->in_len);
	if (!allowed)
		return 0;
	ERR_clear_error();
	r = SSL_read_ex(s->job, s->in + s->in_len, allowed, &got);
	tcp_bytes_refund(c, r == 1 ? allowed - got : allowed);
	if (r == 1) {
		s->in_len += got;
		s->job_rd_wait = 0;
		return parse_in(c, s) < 0 ? -1 : 1;
	}
	s->job_rd_wait = ssl_wait(s->job, r);
	ERR_clear_error();
	if (!s->job_rd_wait)
		s->job_eof = true;
	return s->job_eof;
}

static int step_out_write(struct relay_ctx *c, struct term_session *s)
{
	char why[TLS_UPSTREAM_WHY_MAX];
	ssize_t n;

	if (s->out_off >= s->out_len)
		return 0;
	n = tls_upstream_write(s->up, s->out + s->out_off, s->out_len - s->out_off,
			       &s->up_wr_wait, why, sizeof(why));
	if (n == -EAGAIN)
		return 0;
	if (n < 0) {
		s->up_eof = true;
		return 1;
	}
	s->up_wr_wait = 0;
	s->out_off += (size_t)n;
	if (c->cfg->audit.stats)
		atomic_fetch_add_explicit(&c->cfg->audit.stats->bytes_up, (uint64_t)n,
					  memory_order_relaxed);
	if (s->out_off == s->out_len) {
		if (s->out_secret)
			explicit_bzero(s->out, s->out_len);
		s->out_secret = false;
		s->out_len = s->out_off = 0;
	}
	return 1;
}

static int step_up_read(struct relay_ctx *c, struct term_session *s)
{
	char why[TLS_UPSTREAM_WHY_MAX];
	size_t allowed;
	ssize_t n;

	if (s->closing || s->up_eof || s->down_len)
		return 0;
	allowed = rate_allow(c, s, FLOW_SIDE_DIAL, TERM_DOWN_MAX);
	if (!allowed)
		return 0;
	n = tls_upstream_read(s->up, s->down, allowed, &s->up_rd_wait, why, sizeof(why));
	tcp_bytes_refund(c, n > 0 ? allowed - (size_t)n : allowed);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0) {
		s->up_eof = true;
		return 1;
	}
	s->up_rd_wait = 0;
	s->down_len = (size_t)n;
	if (!s->resp_raw) {
		resp_ctx = c;
		(void)http_parser_execute(&s->resp, &resp_settings, (const char *)s->down,
					  (size_t)n);
		if (HTTP_PARSER_ERRNO(&s->resp) != HPE_OK || s->resp.upgrade)
			s->resp_raw = true;	/* no more records; bytes still pass */
	}
	return 1;
}

static int step_down_write(struct relay_ctx *c, struct term_session *s)
{
	size_t done = 0;
	int r;

	if (s->down_off >= s->down_len)
		return 0;
	ERR_clear_error();
	r = SSL_write_ex(s->job, s->down + s->down_off, s->down_len - s->down_off, &done);
	if (r != 1) {
		s->job_wr_wait = ssl_wait(s->job, r);
		ERR_clear_error();
		if (!s->job_wr_wait) {
			s->job_eof = true;
			s->closing = true;
			s->down_len = s->down_off = 0;
			return 1;
		}
		return 0;
	}
	s->job_wr_wait = 0;
	s->down_off += done;
	if (c->cfg->audit.stats)
		atomic_fetch_add_explicit(&c->cfg->audit.stats->bytes_down, (uint64_t)done,
					  memory_order_relaxed);
	if (s->down_off == s->down_len)
		s->down_len = s->down_off = 0;
	return 1;
}

/* The events each socket waits for, from the state */
static void session_interest(struct relay_ctx *c, struct term_session *s)
{
	uint32_t job = 0, up = 0;

	if (s->draining) {
		job = EPOLLIN;
	} else if (s->phase == TERM_HANDSHAKES) {
		if (!s->job_hs)
			job = s->job_rd_wait;
		if (!s->up_hs && !s->up_failed)
			up = s->up_rd_wait;
	} else {
		/* reading where there is room and a reason to; a read that
		 * waits for writing (a TLS key update) is honoured too */
		const struct flow *f = &c->flows[s->flow];

		bool read_job = !s->closing && !s->job_eof && s->in_len < TERM_HEAD_MAX &&
				!f->side[FLOW_SIDE_JOB].throttled;
		bool read_up = !s->closing && !s->up_eof && !s->down_len &&
			       !f->side[FLOW_SIDE_DIAL].throttled;

		if (read_job)
			job |= s->job_rd_wait ? s->job_rd_wait : EPOLLIN;
		if (read_up)
			up |= s->up_rd_wait ? s->up_rd_wait : EPOLLIN;
		/* plaintext OpenSSL already decrypted (a record read in part:
		 * TERM_ROUNDS ran out, or the byte rate cut a read short)
		 * raises no EPOLLIN: a writable socket wakes us at once.  Not
		 * SSL_has_pending(): a record that is itself only partly
		 * there needs the socket, and would spin */
		if (read_job && SSL_pending(s->job) > 0)
			job |= EPOLLOUT;
		if (read_up && SSL_pending(s->up) > 0)
			up |= EPOLLOUT;
		if (s->down_len)
			job |= s->job_wr_wait ? s->job_wr_wait : EPOLLOUT;
		if (s->out_len)
			up |= s->up_wr_wait ? s->up_wr_wait : EPOLLOUT;
	}
	if (tcp_flow_watch(c, s->flow, FLOW_SIDE_JOB, job) < 0 ||
	    tcp_flow_watch(c, s->flow, FLOW_SIDE_DIAL, up) < 0)
		tcp_flow_end(c, s->flow, true);
}

/* Read and drop what the job still sends after nbjail's answer: 1 when
 * bytes came, 0 when none wait, and job_eof at its end */
static int drain(struct relay_ctx *c, struct term_session *s)
{
	unsigned char sink[4096];
	ssize_t n = recv(c->flows[s->flow].side[FLOW_SIDE_JOB].fd, sink, sizeof(sink),
			 MSG_DONTWAIT);

	if (n > 0)
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	s->job_eof = true;
	return 0;
}

/* Run every step until none progresses; false when the flow is gone */
static bool session_run(struct relay_ctx *c, struct term_session *s)
{
	for (int round = 0; round < TERM_ROUNDS; round++) {
		int progress = 0, r;

		if (s->phase != TERM_HTTP) {
			r = step_handshakes(c, s);
			if (r < 0)
				return false;
			if (!r)
				break;
			continue;
		}
		r = step_job_read(c, s);
		if (r < 0)
			return false;
		progress |= r;
		if (!s->closing) {
			r = parse_in(c, s);	/* room in out again: the rest of in */
			if (r < 0)
				return false;
		}
		progress |= step_out_write(c, s);
		progress |= step_up_read(c, s);
		progress |= step_down_write(c, s);
		if (!s->down_len && s->closing && !s->job_eof && !s->draining) {
			/* a lingering close: a job still sending (a 1 MiB
			 * header) would otherwise get a reset before it read
			 * the answer */
			(void)SSL_shutdown(s->job);
			(void)shutdown(c->flows[s->flow].side[FLOW_SIDE_JOB].fd, SHUT_WR);
			s->draining = true;
			s->head_since = now_s() - TERM_HEAD_TIMEOUT_S + TERM_DRAIN_S;
		}
		if (s->draining) {
			if (drain(c, s) > 0)
				continue;
			if (!s->job_eof)
				break;
		}
		if (!s->down_len && (s->closing || s->up_eof ||
				     (s->job_eof && !s->out_len && !s->fifo_n && !s->fetching))) {
			if (!s->draining)
				(void)SSL_shutdown(s->job);
			tcp_flow_end(c, s->flow, false);
			return false;
		}
		if (!progress)
			break;
		s->active = now_s();
	}
	return true;
}

/*
 * The secret of a head that waited for it came (relay/keyfetch.c), or
 * could not be had (@len < 0: 502, credential-unavailable, nothing sent
 * upstream).  @bytes are keyfetch's, wiped by it when this returns; the
 * copy in out is wiped once written (step_out_write()).
 */
static void term_secret_ready(struct relay_ctx *c, uint64_t cookie, const unsigned char *bytes,
			      ssize_t len)
{
	uint32_t i = (uint32_t)cookie;
	struct term_session *s;

	if (!t.s || i >= TERM_SLOTS)
		return;
	s = &t.s[i];
	if (!s->used || s->gen != (uint32_t)(cookie >> 32) || !s->fetching)
		return;
	s->fetching = false;
	if (len <= 0) {
		log_warn("credential %s: the key holder did not give it: %s",
			 c->cfg->policy->credentials[s->cred].name,
			 strerror(len < 0 ? (int)-len : ENOKEY));
		refuse(c, s, 502, "Bad Gateway", DECIDE_CREDENTIAL_UNAVAILABLE);
	} else if (!head_build(c, s, bytes, (size_t)len)) {
		head_sent(s);
	}
	if (session_run(c, s))
		session_interest(c, s);
}

/**
 * term_flow_event() - readiness of a terminated flow's socket (either)
 * @c:		relay context
 * @slot:	flow slot, its dial connected
 * @events:	epoll events
 */
void term_flow_event(struct relay_ctx *c, uint32_t slot, uint32_t events)
{
	struct flow *f = &c->flows[slot];
	struct term_session *s;

	if (f->term < 0 && session_start(c, slot) < 0)
		return;
	s = &t.s[f->term];
	(void)events;	/* level-triggered: the steps find what is ready */
	if (session_run(c, s))
		session_interest(c, s);
}

/**
 * term_end() - a terminated flow is freed: its session too
 * @c:		relay context
 * @f:		the flow (its sockets are closed by the caller)
 */
void term_end(struct relay_ctx *c, struct flow *f)
{
	(void)c;
	if (f->term < 0 || !t.s)
		return;
	session_free(c, &t.s[f->term]);
	f->term = -1;
}

/**
 * term_tick() - cut sessions past their deadline: a handshake or request
 * head unfinished after TERM_HEAD_TIMEOUT_S, idle after TERM_IDLE_S
 * @c:		relay context
 */
void term_tick(struct relay_ctx *c)
{
	time_t now = now_s();

	if (t.s)
		keyfetch_tick(c);	/* fetches past their deadline: 502 */
	for (unsigned i = 0; t.s && i < TERM_SLOTS; i++) {
		struct term_session *s = &t.s[i];

		if (!s->used)
			continue;
		if (s->draining && now - s->head_since >= TERM_HEAD_TIMEOUT_S) {
			tcp_flow_end(c, s->flow, true);
		} else if (s->head_since && now - s->head_since >= TERM_HEAD_TIMEOUT_S) {
			log_info("flow %u: no whole TLS handshake or request head to %s within "
				 "%d s: cut", s->flow, flow_name(c, s), TERM_HEAD_TIMEOUT_S);
			tcp_flow_end(c, s->flow, true);
		} else if (now - s->active >= TERM_IDLE_S) {
			tcp_flow_end(c, s->flow, false);
		}
	}
}
