/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/serve.c - `nbjail serve`: a fresh job per admitted request
 *
 * DOC: Theory of operation
 *
 * `nbjail serve --listen [ADDR:]PORT [run flags] -- HANDLER [ARGS]` holds
 * the listening socket and every client connection itself, in one poll()
 * loop, and admits each request exactly as a port published in mode http
 * does (relay/admit.c for the reading and the limits, policy_decide() lane
 * inbound for the verdict): a refused request (429, 503, 413, 431, 408,
 * 400, 501) gets its canned response here and never starts a handler.
 *
 * An admitted request starts one job: this same program, `nbjail run`
 * with the run flags that were given (--policy, --allow, --tenant),
 * spawned with two pipes as its stdin and stdout (nbjail run hands its
 * stdio to the workload: no terminal, so no pty).  So the handler's job
 * is made by the one code path that makes every job, with the policy's
 * network and the relay's cadence for anything it dials: a handler is no
 * pivot.  The request goes to its stdin as the client sent it (request
 * line, headers, blank line, body; the body streamed as it arrives and
 * counted against max_body), then end of file.  Its stdout is the
 * response: bytes starting with "HTTP/" are passed through as a complete
 * response, followed (relay/admit.c) to find its end; anything else is a
 * plain body after a "200 OK", text/plain head, sent chunked to an
 * HTTP/1.1 client (until close to HTTP/1.0) and ended with the output.
 * When the client and the response allow it the client's connection is
 * kept for its next request (pipelined bytes wait in the buffer), which
 * starts a fresh job; the finished handler is sent SIGTERM (it dies at
 * its request's end) and reaped from the orphans later.
 *
 * Deadlines, once a second: a head not complete in header_timeout gets
 * 408; a handler still running max_duration after its admission gets
 * SIGTERM (nbjail run forwards it to the job; SIGKILL 2 s later, and the
 * job dies with its supervisor), and its client 504 if it has no byte of
 * the response yet.  A client that leaves stops its handler the same way.
 *
 * The front registers in the runtime directory like a job (name "serve",
 * register_front()): `nbjail ctl` counts its decisions (lane inbound)
 * and can revoke it (SIGUSR1 and the flag in its statistics: live
 * requests cut, 503 from then on).
 *
 * Bounded: SERVE_CONNS connections (beyond, 503 on the spot), their
 * buffers allocated once at start; handlers at once: --concurrent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/util.h"
#include "nbjail/nbjail.h"
#include "relay/admit.h"
#include "relay/relay.h"
#include "supervisor/job_int.h"
#include "supervisor/serve.h"
#include "supervisor/supervisor.h"

#define SERVE_CONNS 256
#define SERVE_UP_BUF (INBOUND_MAX_HEADER_LIMIT + 1024)
#define SERVE_DOWN_BUF (16 * 1024)
#define SERVE_KILL_GRACE_S 2
#define SERVE_REFUSE_TIMEOUT_S 5
#define SERVE_RUN_ARGS_MAX 256

extern char **environ;

/* What the handler's output is: a full HTTP response, or a plain body
 * sent chunked (keep-alive) or until close (an HTTP/1.0 client) */
enum response_kind {
	KIND_UNKNOWN,
	KIND_HTTP,
	KIND_PLAIN_CHUNKED,
	KIND_PLAIN_CLOSE,
};

#define CHUNK_ROOM 16	/* room for a chunk's size line in front of it */

enum serve_state {
	SV_FREE,
	SV_HEAD,	/* reading the head */
	SV_RUN,		/* the handler runs */
	SV_REFUSE,	/* writing a refusal, then draining */
};

/**
 * struct serve_conn - one client connection and its handler
 * @state:	enum serve_state
 * @client:	the client's socket, -1 once closed
 * @in:		the handler's stdin (our end), -1 when none or closed
 * @out:	the handler's stdout (our end), -1 when none or at its end
 * @pid:	the handler's `nbjail run`, 0 when none or reaped
 * @term_at:	when it was sent SIGTERM (0: not yet)
 * @peer:	the client's address
 * @deadline:	CLOCK_MONOTONIC seconds: the head's, the handler's, the
 *		refusal's
 * @req:	the request being read
 * @req_done:	all of it was read
 * @up:		the client's bytes: [@up_sent, @up_parsed) go to the handler
 * @up_have:	bytes in @up
 * @up_sent:	bytes of them written to the handler
 * @up_parsed:	bytes of them parsed
 * @down:	bytes for the client
 * @down_have:	bytes in @down
 * @down_sent:	bytes of them written
 * @sniffed:	the response's kind is known (HTTP, or plain)
 * @sent_any:	response bytes reached the client
 * @kind:	enum response_kind, once @sniffed
 * @resp:	an HTTP response of the handler, followed to find its end
 * @resp_end:	the response is complete (the handler's output ended, or
 *		its HTTP response did); the rest of @down goes out, then
 *		finish_response()
 * @keep:	the client's connection then carries its next request
 */
struct serve_conn {
	int state;
	int client;
	int in;
	int out;
	pid_t pid;
	time_t term_at;
	struct nbj_addr peer;
	time_t deadline;
	struct admit_req req;
	bool req_done;
	unsigned char *up;
	size_t up_have;
	size_t up_sent;
	size_t up_parsed;
	unsigned char down[SERVE_DOWN_BUF];
	size_t down_have;
	size_t down_sent;
	bool sniffed;
	bool sent_any;
	int kind;
	struct admit_resp resp;
	bool resp_end;
	bool keep;
};

/**
 * struct serve_ctx - the front's state
 * @listen_fd:	the listening socket
 * @sigfd:	SIGCHLD, SIGINT, SIGTERM
 * @limits:	the admission limits
 * @policy:	an empty policy (the inbound lane reads no rule of it)
 * @clients:	the client addresses' buckets
 * @conns:	SERVE_CONNS slots
 * @running:	handlers admitted and not yet reaped
 * @run_argv:	`nbjail run FLAGS -- HANDLER ARGS`, NULL-terminated
 * @self:	this program
 * @stop:	SIGINT or SIGTERM came: stop accepting, end when idle
 * @orphans:	handlers whose response is complete, sent SIGTERM and not
 *		reaped yet (their connection went on to its next request); 0
 *		for a free entry
 * @orphan_term: when each was sent SIGTERM
 * @front:	the front's own entry in the runtime directory (a job named
 *		"serve" to `nbjail ctl`: its counters, its revocation)
 * @registered:	@front exists
 * @stats:	its statistics (lane inbound), NULL if none
 * @revoked:	`nbjail ctl revoke` came: every request gets 503
 * @audit:	its audit writer's socket and the statistics: every
 *		admission decision is an `inbound` event (start_writer())
 * @writer:	the audit writer, 0 when none runs
 * @ids:	the per-job ids the writer runs as (root; the caller's else)
 * @port:	the port we listen on (in the events' detail)
 */
struct serve_ctx {
	int listen_fd;
	int sigfd;
	struct inbound_limits limits;
	struct nbj_policy policy;
	struct admit_clients *clients;
	struct serve_conn *conns;
	unsigned running;
	char **run_argv;
	char self[PATH_MAX];
	bool stop;
	pid_t orphans[SERVE_CONNS];
	time_t orphan_term[SERVE_CONNS];
	struct job_state front;
	bool registered;
	struct job_stats *stats;
	bool revoked;
	struct audit_ctx audit;
	pid_t writer;
	struct job_ids ids;
	unsigned port;
};

static const char usage_text[] =
	"Usage: nbjail serve --listen [ADDR:]PORT [OPTIONS] -- HANDLER [ARG...]\n"
	"\n"
	"Admit each HTTP/1.1 request on the host, then run HANDLER in a fresh job\n"
	"(as nbjail run would) with the request on its stdin and the response\n"
	"from its stdout (a full HTTP response, or plain bytes: 200 text/plain).\n"
	"\n"
	"  -l, --listen [ADDR:]PORT  where to listen (default address: every one)\n"
	"  -f, --policy FILE         the handler's policy (nbjail.yaml(5))\n"
	"  -a, --allow PATTERN       what the handler may reach (repeatable)\n"
	"      --tenant NAME         the handlers' tenant\n"
	"      --rate N/s            requests per second per client address (100/s)\n"
	"      --burst M             requests a client may send at once (200)\n"
	"      --concurrent N        handlers running at once (256)\n"
	"      --max-body SIZE       request body (4M)\n"
	"      --header-timeout S    seconds to send a complete head (10)\n"
	"      --max-duration S      seconds a handler may run (60)\n"
	"See nbjail(1), SERVE.\n";

static int usage(const char *fmt, const char *arg)
{
	if (fmt) {
		fprintf(stderr, "nbjail serve: ");
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fputs(usage_text, stderr);
	return NBJ_EXIT_USAGE;
}

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* "[ADDR:]PORT", "[v6]:PORT", "PORT"; the address family in @ss */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2] = "";
	const char *port = s, *colon = strrchr(s, ':');
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	uint64_t p;

	memset(ss, 0, sizeof(*ss));
	if (colon) {
		size_t n = (size_t)(colon - s);

		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
		port = colon + 1;
		if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
			memmove(host, host + 1, n - 2);
			host[n - 2] = '\0';
		}
	}
	if (policy_count_parse(port, 65535, &p) < 0)
		return -EINVAL;
	if (!host[0] || inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		return 0;
	}
	return -EINVAL;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	_cleanup_close_ int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;

	if (fd < 0)
		return negative_errno();
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 1024) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void log_conn(const struct serve_conn *sc, const char *what, int status)
{
	char peer[NBJ_ADDR_STRLEN];

	nbj_addr_format(&sc->peer, peer, sizeof(peer));
	fprintf(stderr, "nbjail serve: %s %s %s: %s", peer,
		sc->req.method[0] ? sc->req.method : "-", sc->req.path_len ? sc->req.path : "-",
		what);
	if (status)
		fprintf(stderr, " %d", status);
	fputc('\n', stderr);
}

/* Stop the handler: SIGTERM now, SIGKILL after the grace (serve_tick()) */
static void stop_handler(struct serve_conn *sc)
{
	close_fd(&sc->in);
	if (sc->pid > 0 && !sc->term_at) {
		(void)kill(sc->pid, SIGTERM);
		sc->term_at = mono_s();
	}
}

/* The slot is done with its client; it is free once its handler is reaped */
static void conn_end(struct serve_ctx *s, struct serve_conn *sc, bool reset)
{
	(void)s;
	if (sc->client >= 0 && reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(sc->client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close_fd(&sc->client);
	close_fd(&sc->out);
	stop_handler(sc);
	if (!sc->pid)
		sc->state = SV_FREE;
}

static bool flush_down(struct serve_conn *sc)
{
	if (!admit_send_pending(sc->client, sc->down, sc->down_have, &sc->down_sent,
				&sc->sent_any))
		return false;
	if (sc->down_sent == sc->down_have)
		sc->down_have = sc->down_sent = 0;
	return true;
}

static void refuse(struct serve_ctx *s, struct serve_conn *sc, int status, uint32_t retry)
{
	log_conn(sc, "refused", status);
	stop_handler(sc);
	close_fd(&sc->out);
	sc->state = SV_REFUSE;
	sc->deadline = mono_s() + SERVE_REFUSE_TIMEOUT_S;
	sc->down_sent = 0;
	sc->down_have = sc->sent_any ? 0 : admit_refusal(status, retry, false, (char *)sc->down,
							 sizeof(sc->down));
	if (!flush_down(sc)) {
		conn_end(s, sc, true);
		return;
	}
	if (sc->down_sent == sc->down_have)
		(void)shutdown(sc->client, SHUT_WR);
}

/* The front was revoked (`nbjail ctl revoke ID|--tenant T`) */
static bool front_revoked(struct serve_ctx *s)
{
	if (!s->revoked && s->stats && atomic_load(&s->stats->revoked)) {
		s->revoked = true;
		fprintf(stderr, "nbjail serve: revoked: live requests cut, every request gets 503\n");
	}
	return s->revoked;
}

/* One decision: counted, and its `inbound` event (as relay/inbound.c
 * writes them for a port in mode http; port: the one we listen on) */
static void count(struct serve_ctx *s, const struct serve_conn *sc, enum decide_reason r)
{
	int status = r == DECIDE_ALLOWED ? 200 : decide_http_status(r) ? decide_http_status(r) : 503;
	struct audit_event ev;
	char peer[NBJ_ADDR_STRLEN];
	size_t at;

	stats_count(s->stats, LANE_INBOUND, r == DECIDE_ALLOWED ? OUTCOME_ALLOWED : OUTCOME_DENIED,
		    r);
	if (s->audit.fd < 0)
		return;
	audit_event_init(&ev, AUDIT_INBOUND, LANE_INBOUND);
	nbj_addr_format(&sc->peer, peer, sizeof(peer));
	EVENT_SET(&ev, peer, peer);
	EVENT_SET(&ev, reason, decide_reason_name(r));
	EVENT_SET(&ev, target, sc->req.method[0] ? sc->req.method : "-");
	at = strlen(ev.target);
	ev.target[at++] = ' ';
	EVENT_SET_AT(ev.target, at, sc->req.path_len ? sc->req.path : "-");
	snprintf(ev.detail, sizeof(ev.detail), "status=%d port=%u", status, s->port);
	EVENT_SET(&ev, overlay, "direct");
	(void)audit_send(&s->audit, &ev);
}

static void decide_refuse(struct serve_ctx *s, struct serve_conn *sc, enum decide_reason why)
{
	struct decide_facts f = { .lane = DECIDE_LANE_INBOUND, .policy = &s->policy,
				  .inbound_broken = why, .revoked = front_revoked(s) };
	struct decision d;

	policy_decide(&f, &d);
	count(s, sc, d.reason);
	refuse(s, sc, decide_http_status(d.reason) ? decide_http_status(d.reason) : 503, 1);
}

/* An admitted request: its job, with two pipes for stdio */
static int start_handler(struct serve_ctx *s, struct serve_conn *sc)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int in[2], out[2], err;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return negative_errno();
	if (pipe2(out, O_CLOEXEC) < 0) {
		err = negative_errno();
		close(in[0]);
		close(in[1]);
		return err;
	}
	/* the handler's nbjail run gets none of our blocked or ignored
	 * signals */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	err = -posix_spawn_file_actions_init(&fa);
	if (!err)
		err = -posix_spawnattr_init(&attr);
	if (!err)
		err = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (!err)
		err = -posix_spawnattr_setsigmask(&attr, &none);
	if (!err)
		err = -posix_spawnattr_setsigdefault(&attr, &dfl);
	if (!err)
		err = -posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (!err)
		err = -posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (!err)
		err = -posix_spawn(&pid, s->self, &fa, &attr, s->run_argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	close(out[1]);
	if (err) {
		close(in[1]);
		close(out[0]);
		return err;
	}
	(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
	sc->in = in[1];
	sc->out = out[0];
	sc->pid = pid;
	sc->term_at = 0;
	s->running++;
	return 0;
}

static bool admit_head(struct serve_ctx *s, struct serve_conn *sc)
{
	uint32_t retry = 1;
	struct decide_facts f = { .lane = DECIDE_LANE_INBOUND, .policy = &s->policy,
				  .inbound_broken = DECIDE_ALLOWED, .revoked = front_revoked(s) };
	struct decision d;
	int err;

	f.client_over_rate = !admit_client_take(s->clients, &sc->peer, &s->limits, rate_now_ns(),
						&retry);
	f.over_rate = s->running >= s->limits.concurrent;
	policy_decide(&f, &d);
	count(s, sc, d.reason);
	if (d.verdict != VERDICT_ALLOW) {
		refuse(s, sc, decide_http_status(d.reason) ? decide_http_status(d.reason) : 503,
		       retry);
		return false;
	}
	err = start_handler(s, sc);
	if (err < 0) {
		fprintf(stderr, "nbjail serve: cannot start the handler: %s\n", strerror(-err));
		refuse(s, sc, 503, 1);
		return false;
	}
	log_conn(sc, "handler started", 0);
	sc->state = SV_RUN;
	sc->deadline = mono_s() + s->limits.max_duration_s;
	return true;
}

/* Parse what came and is not parsed yet; false once refused */
static bool parse_up(struct serve_ctx *s, struct serve_conn *sc)
{
	while (sc->up_parsed < sc->up_have && !sc->req_done) {
		size_t used;
		enum admit_step st = admit_feed(&sc->req, (const char *)sc->up + sc->up_parsed,
						sc->up_have - sc->up_parsed, &used);

		sc->up_parsed += used;
		if (st == ADMIT_HEAD && !admit_head(s, sc))
			return false;
		if (st == ADMIT_DONE)
			sc->req_done = true;
		if (st == ADMIT_BROKEN) {
			decide_refuse(s, sc, sc->req.broken);
			return false;
		}
		if (!used && st != ADMIT_HEAD)
			break;
	}
	return true;
}

static void client_readable(struct serve_ctx *s, struct serve_conn *sc)
{
	ssize_t n;

	if (sc->state == SV_REFUSE) {
		for (int i = 0; i < 16; i++) {
			n = recv(sc->client, sc->up, SERVE_UP_BUF, MSG_DONTWAIT);
			if (n > 0)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			conn_end(s, sc, false);
			return;
		}
		return;
	}
	n = recv(sc->client, sc->up + sc->up_have, SERVE_UP_BUF - sc->up_have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_end(s, sc, n < 0);	/* the client left before its request's end */
		return;
	}
	sc->up_have += (size_t)n;
	(void)parse_up(s, sc);
}

static void handler_writable(struct serve_ctx *s, struct serve_conn *sc)
{
	(void)s;
	while (sc->up_sent < sc->up_parsed) {
		ssize_t n = write(sc->in, sc->up + sc->up_sent, sc->up_parsed - sc->up_sent);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {	/* the handler does not read its request: fine */
			close_fd(&sc->in);
			return;
		}
		sc->up_sent += (size_t)n;
	}
	if (sc->up_sent == sc->up_have)
		sc->up_have = sc->up_sent = sc->up_parsed = 0;
	if (sc->req_done && sc->up_sent == sc->up_parsed)
		close_fd(&sc->in);	/* the request's end: the handler's EOF */
}

/* The handler is done with this request: SIGTERM now (it dies at its
 * request's end), reaped later from the orphans */
static void detach_handler(struct serve_ctx *s, struct serve_conn *sc)
{
	close_fd(&sc->in);
	close_fd(&sc->out);
	if (sc->pid <= 0)
		return;
	for (size_t i = 0; i < SERVE_CONNS; i++)
		if (!s->orphans[i]) {
			(void)kill(sc->pid, SIGTERM);
			s->orphans[i] = sc->pid;
			s->orphan_term[i] = mono_s();
			sc->pid = 0;
			return;
		}
	stop_handler(sc);	/* (cannot happen: one orphan per slot at most) */
}

static bool parse_up(struct serve_ctx *s, struct serve_conn *sc);

/* The response went out whole: the next request, or close */
static void finish_response(struct serve_ctx *s, struct serve_conn *sc)
{
	size_t rest;

	if (!sc->keep || !sc->req_done || s->stop) {
		(void)shutdown(sc->client, SHUT_WR);
		conn_end(s, sc, false);
		return;
	}
	detach_handler(s, sc);
	rest = sc->up_have - sc->up_parsed;
	memmove(sc->up, sc->up + sc->up_parsed, rest);
	sc->up_have = rest;
	sc->up_sent = sc->up_parsed = 0;
	sc->req_done = sc->sniffed = sc->sent_any = sc->resp_end = sc->keep = false;
	sc->kind = KIND_UNKNOWN;
	sc->down_have = sc->down_sent = 0;
	admit_req_init(&sc->req, &s->limits);
	sc->state = SV_HEAD;
	sc->deadline = mono_s() + s->limits.header_timeout_s;
	(void)parse_up(s, sc);
}

/* The first bytes (or the end) of the handler's output: its kind */
static void sniff(struct serve_conn *sc)
{
	static const char chunked[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n";
	static const char closing[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				      "Connection: close\r\n\r\n";
	bool http11 = sc->req.parser.http_major == 1 && sc->req.parser.http_minor >= 1;
	size_t n = sc->down_have, used, o;
	char line[CHUNK_ROOM];

	sc->sniffed = true;
	if (n >= 5 && !memcmp(sc->down, "HTTP/", 5)) {
		sc->kind = KIND_HTTP;
		admit_resp_init(&sc->resp, sc->req.head_request);
		if (admit_resp_feed(&sc->resp, (const char *)sc->down, n, &used) == 1)
			sc->resp_end = true;
		sc->down_have = used;
		return;
	}
	sc->kind = sc->req.keep_alive && http11 ? KIND_PLAIN_CHUNKED : KIND_PLAIN_CLOSE;
	if (sc->kind == KIND_PLAIN_CLOSE) {
		memmove(sc->down + sizeof(closing) - 1, sc->down, n);
		memcpy(sc->down, closing, sizeof(closing) - 1);
		sc->down_have = n + sizeof(closing) - 1;
		return;
	}
	o = sizeof(chunked) - 1;
	if (n) {
		int ln = snprintf(line, sizeof(line), "%zx\r\n", n);

		memmove(sc->down + o + (size_t)ln, sc->down, n);
		memcpy(sc->down + o, line, (size_t)ln);
		o += (size_t)ln + n;
		memcpy(sc->down + o, "\r\n", 2);
		o += 2;
	}
	memcpy(sc->down, chunked, sizeof(chunked) - 1);
	sc->down_have = o;
}

static void handler_readable(struct serve_ctx *s, struct serve_conn *sc)
{
	/* before the kind is known: room for the plain head and a chunk's
	 * framing around what was read; after: @down is empty */
	size_t at = !sc->sniffed ? sc->down_have : sc->kind == KIND_PLAIN_CHUNKED ? CHUNK_ROOM : 0;
	size_t room = sizeof(sc->down) - at - (sc->sniffed ? 2 + 5 : 160);
	ssize_t n = read(sc->out, sc->down + at, room);
	size_t used;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && !sc->sniffed) {
		sc->down_have += (size_t)n;
		if (sc->down_have >= 5)
			sniff(sc);
	} else if (n > 0 && sc->kind == KIND_HTTP) {
		if (admit_resp_feed(&sc->resp, (const char *)sc->down, (size_t)n, &used) != 0)
			sc->resp_end = true;	/* complete (or no HTTP: cut) */
		sc->down_sent = 0;
		sc->down_have = used;
	} else if (n > 0 && sc->kind == KIND_PLAIN_CHUNKED) {
		char line[CHUNK_ROOM];
		int ln = snprintf(line, sizeof(line), "%zx\r\n", (size_t)n);

		memcpy(sc->down + CHUNK_ROOM - ln, line, (size_t)ln);
		sc->down_sent = CHUNK_ROOM - (size_t)ln;
		sc->down_have = CHUNK_ROOM + (size_t)n;
		memcpy(sc->down + sc->down_have, "\r\n", 2);
		sc->down_have += 2;
	} else if (n > 0) {
		sc->down_sent = 0;
		sc->down_have = (size_t)n;
	}
	if (n <= 0) {	/* the handler's output ended */
		if (!sc->sniffed)
			sniff(sc);
		if (sc->kind == KIND_PLAIN_CHUNKED) {
			memcpy(sc->down + sc->down_have, "0\r\n\r\n", 5);
			sc->down_have += 5;
			sc->keep = sc->req.keep_alive;
		} else if (sc->kind == KIND_HTTP) {
			sc->keep = admit_resp_eof(&sc->resp) == 1 && sc->resp.keep_alive &&
				   sc->req.keep_alive;
		}
		sc->resp_end = true;
	} else if (sc->resp_end && sc->kind == KIND_HTTP) {
		sc->keep = sc->resp.done && sc->resp.keep_alive && sc->req.keep_alive;
	}
	if (sc->resp_end)
		close_fd(&sc->out);
	if (!sc->sniffed)
		return;
	if (!flush_down(sc)) {
		conn_end(s, sc, true);
		return;
	}
	if (sc->resp_end && sc->down_sent == sc->down_have)
		finish_response(s, sc);
}

static void reap(struct serve_ctx *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < SERVE_CONNS; i++) {
			struct serve_conn *sc = &s->conns[i];

			if (s->orphans[i] == pid) {
				s->orphans[i] = 0;
				s->running--;
			}

			if (sc->state == SV_FREE || sc->pid != pid)
				continue;
			sc->pid = 0;
			s->running--;
			if (sc->client < 0)
				sc->state = SV_FREE;
		}
}

static void tick(struct serve_ctx *s)
{
	time_t now = mono_s();

	for (size_t i = 0; i < SERVE_CONNS; i++) {
		struct serve_conn *sc = &s->conns[i];

		if (s->orphans[i] && now > s->orphan_term[i] + SERVE_KILL_GRACE_S)
			(void)kill(s->orphans[i], SIGKILL);
		if (sc->state == SV_FREE)
			continue;
		if (sc->pid > 0 && sc->term_at && now > sc->term_at + SERVE_KILL_GRACE_S)
			(void)kill(sc->pid, SIGKILL);
		if (sc->client < 0 || now <= sc->deadline)
			continue;
		if (sc->state == SV_HEAD) {
			if (admit_req_started(&sc->req) || sc->up_have)
				decide_refuse(s, sc, DECIDE_HEADER_TIMEOUT);
			else
				conn_end(s, sc, false);
		} else if (sc->state == SV_RUN) {
			log_conn(sc, "handler stopped at max_duration", 0);
			if (sc->sent_any || sc->down_have)
				conn_end(s, sc, true);
			else
				refuse(s, sc, 504, 0);
		} else {
			conn_end(s, sc, true);
		}
	}
}

static void accept_clients(struct serve_ctx *s)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct nbj_addr peer = { 0 }, v4;
		struct serve_conn *sc = NULL;
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		(void)nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &peer);
		if (nbj_addr_unmap_v4(&peer, &v4))
			peer = v4;
		for (size_t i = 0; i < SERVE_CONNS && !sc; i++)
			if (s->conns[i].state == SV_FREE)
				sc = &s->conns[i];
		if (!sc) {
			char buf[ADMIT_REFUSAL_MAX];
			size_t n = admit_refusal(503, 1, false, buf, sizeof(buf));

			(void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		sc->state = SV_HEAD;
		sc->client = fd;
		sc->in = sc->out = -1;
		sc->pid = 0;
		sc->peer = peer;
		sc->deadline = mono_s() + s->limits.header_timeout_s;
		sc->req_done = sc->sniffed = sc->sent_any = sc->resp_end = sc->keep = false;
		sc->kind = KIND_UNKNOWN;
		sc->up_have = sc->up_sent = sc->up_parsed = 0;
		sc->down_have = sc->down_sent = 0;
		admit_req_init(&sc->req, &s->limits);
	}
}

/* The poll set: the listener, the signals, then up to 3 fds a slot */
static nfds_t poll_set(struct serve_ctx *s, struct pollfd *pfd, uint32_t *owner)
{
	nfds_t n = 0;

	pfd[n++] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = s->stop ? -1 : s->listen_fd, .events = POLLIN };
	for (uint32_t i = 0; i < SERVE_CONNS; i++) {
		struct serve_conn *sc = &s->conns[i];
		short cev = 0;

		if (sc->state == SV_FREE)
			continue;
		if (sc->client >= 0) {
			/* (what the handler wrote goes out once its kind is known) */
			if (sc->down_sent < sc->down_have && (sc->sniffed || sc->state == SV_REFUSE))
				cev |= POLLOUT;
			if (sc->state == SV_HEAD || sc->state == SV_REFUSE ||
			    (sc->state == SV_RUN && !sc->req_done && sc->up_have < SERVE_UP_BUF &&
			     sc->up_parsed == sc->up_have))
				cev |= POLLIN;
			if (sc->state == SV_REFUSE && (cev & POLLOUT))
				cev &= ~POLLIN;
			owner[n] = i << 2 | 0;
			pfd[n++] = (struct pollfd){ .fd = sc->client, .events = cev };
		}
		if (sc->in >= 0 && sc->up_sent < sc->up_parsed) {
			owner[n] = i << 2 | 1;
			pfd[n++] = (struct pollfd){ .fd = sc->in, .events = POLLOUT };
		}
		if (sc->out >= 0 && (sc->down_sent == sc->down_have || !sc->sniffed)) {
			owner[n] = i << 2 | 2;
			pfd[n++] = (struct pollfd){ .fd = sc->out, .events = POLLIN };
		}
	}
	return n;
}

static void dispatch(struct serve_ctx *s, const struct pollfd *pfd, nfds_t n,
		     const uint32_t *owner)
{
	for (nfds_t k = 2; k < n; k++) {
		struct serve_conn *sc = &s->conns[owner[k] >> 2];

		if (!pfd[k].revents || sc->state == SV_FREE)
			continue;
		switch (owner[k] & 3) {
		case 0:
			if (pfd[k].fd != sc->client)
				break;
			if (pfd[k].revents & POLLOUT) {
				if (!flush_down(sc)) {
					conn_end(s, sc, true);
					break;
				}
				if (sc->down_sent == sc->down_have && sc->state == SV_REFUSE) {
					(void)shutdown(sc->client, SHUT_WR);
				} else if (sc->down_sent == sc->down_have && sc->resp_end) {
					finish_response(s, sc);
					break;
				}
			}
			if (sc->client >= 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				client_readable(s, sc);
			break;
		case 1:
			if (pfd[k].fd == sc->in)
				handler_writable(s, sc);
			break;
		case 2:
			if (pfd[k].fd == sc->out)
				handler_readable(s, sc);
			break;
		}
	}
}

static bool idle(const struct serve_ctx *s)
{
	for (size_t i = 0; i < SERVE_CONNS; i++)
		if (s->conns[i].state != SV_FREE)
			return false;
	return true;
}

static int serve_loop(struct serve_ctx *s)
{
	static struct pollfd pfd[2 + 3 * SERVE_CONNS];
	static uint32_t owner[2 + 3 * SERVE_CONNS];
	time_t last = mono_s();

	for (;;) {
		nfds_t n = poll_set(s, pfd, owner);
		struct signalfd_siginfo si;

		if (poll(pfd, n, 1000) < 0 && errno != EINTR)
			return negative_errno();
		while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				continue;
			if (si.ssi_signo == SIGUSR1) {
				if (!s->revoked && front_revoked(s))
					for (size_t i = 0; i < SERVE_CONNS; i++)
						if (s->conns[i].state != SV_FREE)
							conn_end(s, &s->conns[i], true);
				continue;
			}
			if (!s->stop)
				fprintf(stderr, "nbjail serve: signal %u: no new requests, "
					"stopping the handlers\n", si.ssi_signo);
			s->stop = true;
			for (size_t i = 0; i < SERVE_CONNS; i++)
				if (s->conns[i].state != SV_FREE)
					conn_end(s, &s->conns[i], true);
		}
		reap(s);
		if (pfd[1].revents & POLLIN)
			accept_clients(s);
		dispatch(s, pfd, n, owner);
		reap(s);
		if (mono_s() != last) {
			last = mono_s();
			tick(s);
		}
		if (s->stop && idle(s))
			return 0;
	}
}

/*
 * The front's own entry in the runtime directory, as a job's (info,
 * state, stats: supervisor/state.c): `nbjail ctl jobs` lists it (name
 * "serve", profile "serve"), `ctl stats` shows its inbound counters, and
 * `ctl revoke ID|--tenant T` sets its flag and sends it SIGUSR1 (its pid
 * stands as the relay's).  Return: 0 or a negative errno
 */
static int register_front(struct serve_ctx *s, const char *tenant)
{
	struct job_info info = { .supervisor_pid = getpid(), .tenant_slot = -1 };
	struct job_record r = { .supervisor_pid = getpid(), .relay_pid = getpid() };
	char path[NBJ_PATH_MAX];
	struct timespec ts;
	int err;

	err = state_job_create(&s->front);
	if (err < 0)
		return err;
	s->registered = true;
	clock_gettime(CLOCK_REALTIME, &ts);
	info.start_usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	snprintf(info.name, sizeof(info.name), "serve");
	snprintf(info.tenant, sizeof(info.tenant), "%s", tenant ? tenant : "serve");
	snprintf(info.profile, sizeof(info.profile), "serve");
	err = state_process_start_time(getpid(), &r.relay_start);
	if (!err)
		err = state_record_write(&s->front, &r);
	if (!err)
		err = runtime_path(path, "%s/stats", s->front.id);
	if (!err)
		err = stats_create(path, &s->stats);
	if (err < 0)
		return err;
	s->stats->size = sizeof(*s->stats);
	err = state_info_write(&s->front, &info);
	if (err < 0)
		return err;
	__atomic_store_n(&s->stats->magic, JOB_STATS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/*
 * The front's audit writer (relay/auditd.c, ROLE_AUDIT_WRITER): forked
 * once registered, as a job's is, under the per-job audit id (root) or
 * the caller's, with its allow-list; it writes the `inbound` events to
 * journald until our end of its socket closes (stop_writer()).  Return: 0
 * or a negative errno
 */
static int start_writer(struct serve_ctx *s, const char *tenant)
{
	struct auditd_config ac = {
		.job_id = s->front.id,
		.tenant = tenant ? tenant : "serve",
		.log_fd = -1,
		.journal = true,
		.stats = s->stats,
	};
	int sv[2], size = AUDIT_SOCKET_BUFFER, err;
	pid_t parent = getpid(), pid;

	err = job_ids_claim(&s->ids);
	if (err < 0)
		return err;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	pid = fork();
	if (pid == 0) {
		int keep[] = { sv[1], s->ids.claim };
		sigset_t none;

		ac.fd = sv[1];
		if (role_enter(ROLE_AUDIT_WRITER, s->ids.audit, keep,
			       s->ids.claim >= 0 ? 2 : 1, parent) < 0)
			_exit(1);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		_exit(auditd_run(&ac) < 0 ? 1 : 0);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return negative_errno();
	}
	s->writer = pid;
	s->audit.fd = sv[0];
	s->audit.stats = s->stats;
	return 0;
}

/* Close the writer's socket: it writes what is left and exits (waited
 * for at most 5 s, then killed) */
static void stop_writer(struct serve_ctx *s)
{
	if (s->audit.fd >= 0)
		closep(&s->audit.fd);
	s->audit.fd = -1;
	for (int i = 0; s->writer > 0 && i < 500; i++) {
		if (waitpid(s->writer, NULL, WNOHANG) == s->writer)
			s->writer = 0;
		else
			usleep(10000);
	}
	if (s->writer > 0) {
		(void)kill(s->writer, SIGKILL);
		(void)waitpid(s->writer, NULL, 0);
		s->writer = 0;
	}
	job_ids_release(&s->ids);
}

enum { OPT_TENANT = 0x100, OPT_RATE, OPT_BURST, OPT_MAX_BODY, OPT_HEADER_TIMEOUT,
       OPT_MAX_DURATION, OPT_CONCURRENT };

/* The `nbjail run` command line of every handler; checks the run flags
 * once, here, so that a bad one is a usage error before listening */
static int build_run_argv(struct serve_ctx *s, const char *policy, const char **allow,
			  size_t n_allow, const char *tenant, char **cmd, int n_cmd)
{
	struct nbj_config *cfg = NULL;
	char err[512] = "";
	size_t n = 0;
	int rc = 0;

	if (nbj_config_new(&cfg) < 0)
		return NBJ_EXIT_SETUP;
	if (policy && nbj_config_load_policy(cfg, policy, err, sizeof(err)) < 0) {
		fprintf(stderr, "nbjail serve: %s\n", err[0] ? err : "cannot load the policy");
		rc = NBJ_EXIT_USAGE;
	}
	for (size_t i = 0; !rc && i < n_allow; i++)
		if (nbj_config_add_allow(cfg, allow[i]) < 0)
			rc = usage("--allow '%s': not an allow pattern", allow[i]);
	if (!rc && tenant && nbj_config_set_tenant(cfg, tenant) < 0)
		rc = usage("--tenant '%s': use 1-63 letters, digits, '.', '-' or '_'", tenant);
	nbj_config_free(cfg);
	if (rc)
		return rc;
	if (5 + 2 * n_allow + (size_t)n_cmd + 1 > SERVE_RUN_ARGS_MAX)
		return usage("too many arguments%s", "");
	s->run_argv = calloc(SERVE_RUN_ARGS_MAX, sizeof(*s->run_argv));
	if (!s->run_argv)
		return NBJ_EXIT_SETUP;
	s->run_argv[n++] = "nbjail";
	s->run_argv[n++] = "run";
	if (policy) {
		s->run_argv[n++] = "--policy";
		s->run_argv[n++] = (char *)policy;
	}
	for (size_t i = 0; i < n_allow; i++) {
		s->run_argv[n++] = "--allow";
		s->run_argv[n++] = (char *)allow[i];
	}
	if (tenant) {
		s->run_argv[n++] = "--tenant";
		s->run_argv[n++] = (char *)tenant;
	}
	s->run_argv[n++] = "--";
	for (int i = 0; i < n_cmd; i++)
		s->run_argv[n++] = cmd[i];
	return 0;
}

static int parse_limit(int opt, const char *arg, struct inbound_limits *l)
{
	uint64_t v;
	int err = 0;

	switch (opt) {
	case OPT_RATE:
		err = inbound_rate_parse(arg, &l->per_client_per_s);
		break;
	case OPT_BURST:
		err = policy_count_parse(arg, 1000000, &l->per_client_burst);
		break;
	case OPT_CONCURRENT:
		err = policy_count_parse(arg, SERVE_CONNS, &l->concurrent);
		break;
	case OPT_MAX_BODY:
		err = policy_size_parse(arg, 1ULL << 40, &v);
		if (!err)
			l->max_body = v;
		break;
	case OPT_HEADER_TIMEOUT:
		err = inbound_seconds_parse(arg, &l->header_timeout_s);
		break;
	case OPT_MAX_DURATION:
		err = inbound_seconds_parse(arg, &l->max_duration_s);
		break;
	}
	return err;
}

/**
 * serve_main() - `nbjail serve`
 * @argc:	arguments after "nbjail"
 * @argv:	"serve" and its flags
 *
 * Return: the exit status: 0 after SIGINT or SIGTERM once every handler
 * ended, 2 for bad usage, 125 when it cannot listen or set up
 */
int serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "policy", required_argument, NULL, 'f' },
		{ "allow", required_argument, NULL, 'a' },
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "burst", required_argument, NULL, OPT_BURST },
		{ "concurrent", required_argument, NULL, OPT_CONCURRENT },
		{ "max-body", required_argument, NULL, OPT_MAX_BODY },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "max-duration", required_argument, NULL, OPT_MAX_DURATION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct serve_ctx s = { .listen_fd = -1, .sigfd = -1, .audit = { .fd = -1 },
				 .ids = { .claim = -1 } };
	const char *listen_arg = NULL, *policy = NULL, *tenant = NULL;
	const char **allow = calloc((size_t)argc + 1, sizeof(*allow));
	size_t n_allow = 0;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	sigset_t mask;
	ssize_t self_len;
	int c, rc;

	if (!allow)
		return NBJ_EXIT_SETUP;
	inbound_limits_default(&s.limits);
	s.limits.concurrent = 64;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+l:f:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_arg = optarg;
			break;
		case 'f':
			if (policy) {
				free(allow);
				return usage("--policy given twice%s", "");
			}
			policy = optarg;
			break;
		case 'a':
			allow[n_allow++] = optarg;
			break;
		case OPT_TENANT:
			tenant = optarg;
			break;
		case 'h':
			free(allow);
			fputs(usage_text, stdout);
			return 0;
		case '?':
			free(allow);
			return usage(NULL, NULL);
		default:
			if (parse_limit(c, optarg, &s.limits) < 0) {
				free(allow);
				return usage("bad value '%s' (see the limits below)", optarg);
			}
		}
	}
	if (optind >= argc) {
		free(allow);
		return usage("missing HANDLER (after --)%s", "");
	}
	if (!listen_arg || parse_listen(listen_arg, &ss, &sslen) < 0) {
		free(allow);
		return usage("--listen '%s': expected [ADDR:]PORT", listen_arg ? listen_arg : "");
	}
	s.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	rc = build_run_argv(&s, policy, allow, n_allow, tenant, argv + optind, argc - optind);
	if (rc) {
		free(allow);
		return rc;
	}
	self_len = readlink("/proc/self/exe", s.self, sizeof(s.self) - 1);
	if (self_len <= 0) {
		fprintf(stderr, "nbjail serve: cannot find this program: %m\n");
		return NBJ_EXIT_SETUP;
	}
	s.self[self_len] = '\0';
	s.clients = calloc(1, sizeof(*s.clients));
	s.conns = calloc(SERVE_CONNS, sizeof(*s.conns));
	if (!s.clients || !s.conns)
		return NBJ_EXIT_SETUP;
	for (size_t i = 0; i < SERVE_CONNS; i++) {
		s.conns[i].up = malloc(SERVE_UP_BUF);
		s.conns[i].client = s.conns[i].in = s.conns[i].out = -1;
		if (!s.conns[i].up)
			return NBJ_EXIT_SETUP;
	}
	admit_clients_init(s.clients);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "nbjail serve: cannot set up signals: %m\n");
		return NBJ_EXIT_SETUP;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	s.listen_fd = listen_on(&ss, sslen);
	if (s.listen_fd < 0) {
		fprintf(stderr, "nbjail serve: cannot listen on %s: %s\n", listen_arg,
			strerror(-s.listen_fd));
		return NBJ_EXIT_SETUP;
	}
	rc = register_front(&s, tenant);
	if (rc < 0) {
		fprintf(stderr, "nbjail serve: cannot register in the runtime directory: %s\n",
			strerror(-rc));
		if (s.registered)
			state_job_remove(&s.front);
		return NBJ_EXIT_SETUP;
	}
	rc = start_writer(&s, tenant);
	if (rc < 0) {
		fprintf(stderr, "nbjail serve: cannot start the audit writer: %s\n", strerror(-rc));
		stop_writer(&s);
		state_job_remove(&s.front);
		return NBJ_EXIT_SETUP;
	}
	fprintf(stderr, "nbjail serve: listening on %s (job %s)\n", listen_arg, s.front.id);
	rc = serve_loop(&s);
	stop_writer(&s);
	state_job_remove(&s.front);
	free(allow);
	return rc < 0 ? NBJ_EXIT_SETUP : 0;
}
