/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/relay_int.h - state shared by the relay's files
 *
 * loop.c owns the context and the event loop; tcp.c the flow table;
 * dns.c the DNS wire format.
 */
#ifndef NBJ_RELAY_INT_H
#define NBJ_RELAY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <ares.h>
#include <libmnl/libmnl.h>
#include <sys/socket.h>

#include "relay/relay.h"

/* Synthetic addresses handed out by the DNS stub: slot N of the name
 * table is 198.18.0.0 + N + 1 and fd6e:626a:6169:ffff::N+1 */
#define SYNTHETIC_V4 NBJ_SYNTHETIC_V4
#define SYNTHETIC_V4_PREFIXLEN NBJ_SYNTHETIC_V4_PREFIXLEN
#define SYNTHETIC_V6 NBJ_SYNTHETIC_V6
#define SYNTHETIC_V6_PREFIXLEN NBJ_SYNTHETIC_V6_PREFIXLEN
#define NAME_TABLE_SIZE 4096
#define DNS_PENDING_MAX 256
#define DNS_QUERY_MAX 1232	/* EDNS payload size of DNS flag day 2020 */
#define RESOLVE_REQS_MAX 1024	/* lookups in flight at once */
#define HOST_ADDRS_MAX 1024
#define DNS_TCP_MAX 64		/* DNS-over-TCP connections at once */
#define DNS_TCP_TIMEOUT_S 10
#define PROXY_BUF 1024		/* one proxy handshake message */
#define NAME_CACHE_MAX_S 60	/* a name's answers are reused at most this long */
#define SAM_LINE_MAX 4096	/* a SAM line, private keys included */
#define SAM_SESSION_TIMEOUT_S 180 /* tunnels of a new destination */
#define SAM_STREAM_TIMEOUT_S 60	/* STREAM CONNECT: lease set lookup */
#define SAM_RETRY_S 5		/* a failed session is tried again after */
#define DOCK_CONNS_MAX 256	/* dock calls at once (relay/dock.c) */
#define INBOUND_CONNS_MAX 1100	/* client connections of ports in mode http */

struct relay_ctx;
struct dock_conn;
struct dock_http;
struct nbj_dock_request;
struct inbound_conn;
struct inbound_audit;
struct admit_clients;
struct term_session;

/**
 * struct resolve_req - one lookup in flight; c-ares holds a pointer to it
 * until its completion, which alone releases it
 * @c:		relay context
 * @cookie:	RESOLVE_COOKIE() of the waiting DNS query or flow
 * @next_free:	next free request when unused
 */
struct resolve_req {
	struct relay_ctx *c;
	void *cookie;
	uint32_t next_free;
};

/* Event types, packed into the upper half of epoll_data.u64 */
enum relay_event {
	RELAY_EV_LISTEN = 1,	/* index: 0 IPv4, 1 IPv6 */
	RELAY_EV_DNS,		/* index: 0 IPv4, 1 IPv6 */
	RELAY_EV_TIMER,
	RELAY_EV_FLOW_JOB,	/* index: flow slot */
	RELAY_EV_FLOW_DIAL,	/* index: flow slot */
	RELAY_EV_ARES,		/* index: c-ares socket fd */
	RELAY_EV_HOSTADDR,	/* the netlink socket of hostaddr.c */
	RELAY_EV_DNS_TCP,	/* index: DNS-over-TCP connection slot */
	RELAY_EV_SIGNAL,	/* SIGUSR1: look at the revocation flag */
	RELAY_EV_THROTTLE,	/* the byte rate allows reading again */
	RELAY_EV_SAM,		/* index: i2p overlay, its control connection */
	RELAY_EV_SAM_FWD,	/* index: i2p overlay, its STREAM FORWARD one */
	RELAY_EV_PUBLISH,	/* index: publish entry, its listener */
	RELAY_EV_DOCK_LISTEN,	/* index 0: the dock's listener, 1: its desk */
	RELAY_EV_DOCK_JOB,	/* index: dock slot, the job's connection */
	RELAY_EV_DOCK_OUT,	/* index: dock slot, the socket it dialled */
	RELAY_EV_HTTP_SOCK,	/* index: a socket of libcurl (dock_http.c) */
	RELAY_EV_HTTP_TIMER,	/* libcurl's timer (dock_http.c) */
	RELAY_EV_HTTP_JOB,	/* index: dock get call, the job's connection */
	RELAY_EV_INBOUND_CLIENT, /* index: inbound slot, the client's socket */
	RELAY_EV_INBOUND_JOB,	/* index: inbound slot, the job's socket */
	RELAY_EV_KEYS,		/* the key holder's socket (relay/keyfetch.c) */
};

#define RELAY_EV(type, index) ((uint64_t)(type) << 32 | (uint32_t)(index))
#define RELAY_EV_TYPE(u64) ((enum relay_event)((u64) >> 32))
#define RELAY_EV_INDEX(u64) ((uint32_t)(u64))

#define FLOW_SIDE_JOB 0
#define FLOW_SIDE_DIAL 1

/**
 * struct relay_pipe - a pipe that bytes are spliced through
 * @fd:		read end [0] and write end [1], -1 when there is none
 * @cap:	its capacity in bytes (F_GETPIPE_SZ)
 */
struct relay_pipe {
	int fd[2];
	unsigned cap;
};

#define PIPE_POOL_MAX	32		/* idle pipes kept for the next flows */

/* two sockets per flow; pipes only while bytes are in flight: the pool's,
 * and room for as many more (a flow that finds no fd for a pipe waits) */
#define FDS_PER_FLOW 2
#define FDS_RESERVED (64 + 4 * PIPE_POOL_MAX + 2 * DOCK_CONNS_MAX)
#define FDS_RESERVED_INBOUND (2 * INBOUND_CONNS_MAX) /* with a port in mode http */
#define PIPE_SIZE	(1 << 20)	/* wanted capacity: fewer, longer splices */

/**
 * struct flow_side - one socket of a flow and the data read from it
 * @fd:		socket
 * @pipe:	pipe holding bytes read from @fd, not yet written to the other
 *		side, taken from the pipe pool only while bytes are on the
 *		way (fd[0] is -1 without one)
 * @pending:	bytes in @pipe
 * @eof:	@fd has reached end of input
 * @shut:	writing to @fd is shut down (the other side is done)
 * @events:	epoll events currently registered for @fd, or 0 if removed
 * @in_epoll:	@fd is registered in epoll
 * @throttled:	reading waits for the byte rate (relay ctx throttle timer)
 */
struct flow_side {
	int fd;
	struct relay_pipe pipe;
	size_t pending;
	bool eof;
	bool shut;
	uint32_t events;
	bool in_epoll;
	bool throttled;
};

/**
 * enum flow_state - where a flow is in its life
 * @FLOW_RESOLVING:	waiting for c-ares (connections to a name)
 * @FLOW_CONNECTING:	the dial is in progress
 * @FLOW_PROXY:		the overlay's proxy handshake (relay/overlay.c)
 * @FLOW_RELAYING:	data moves (after the SNI check, for names)
 */
enum flow_state {
	FLOW_RESOLVING,
	FLOW_CONNECTING,
	FLOW_PROXY,
	FLOW_RELAYING,
};

/**
 * enum sni_phase - where the server-name check of a flow to a name is
 * @SNI_PHASE_HELLO:	reading the job's first ClientHello
 * @SNI_PHASE_REPLY:	it passed and was sent; the job's further bytes wait
 *			for the server's first record
 * @SNI_PHASE_RETRY:	that was a HelloRetryRequest: reading the second
 */
enum sni_phase {
	SNI_PHASE_HELLO,
	SNI_PHASE_REPLY,
	SNI_PHASE_RETRY,
};

/**
 * struct flow - one relayed TCP connection, a slot of the fixed table
 * @used:	slot in use
 * @state:	see enum flow_state
 * @gen:	generation, bumped at each use, so that a late resolver
 *		callback for a freed slot is recognised
 * @next_free:	next free slot when unused
 * @deadline:	when resolving or dialling is given up (CLOCK_MONOTONIC s)
 * @target:	original destination, for log lines
 * @peer:	the job's address, for log lines
 * @name:	name table slot when the target is synthetic, else -1
 * @sni_check:	the first bytes from the job are still to be checked
 * @sni_waiting: a ClientHello has begun; @deadline is when it must be whole
 * @sni_phase:	which hello is checked, enum sni_phase (tcp.c)
 * @answers:	the resolved addresses to dial, IPv6 first
 * @n_answers:	their number
 * @next_answer: the next one to try if the current dial fails
 * @side:	job side and dial side
 * @overlay:	the overlay it is dialled through (0: direct)
 * @proxy_step:	where the proxy handshake is (relay/overlay.c)
 * @proxy_len:	bytes to send or to read in this step
 * @proxy_off:	bytes sent or read so far
 * @proxy_why:	room for a failure reason with a number in it
 * @proxy_buf:	the message being sent or read
 * @inbound:	a connection to a published port (tcp_publish_accept())
 * @terminate:	TLS-terminated (relay/term.c): a credential's or an http:
 *		rule's name
 * @term:	its session slot once connected, else -1
 * @tripwire:	the job's first bytes are still to be looked at for
 *		stand-ins (plaintext flows, relay/term.c)
 */
struct flow {
	bool used;
	enum flow_state state;
	uint32_t gen;
	uint32_t next_free;
	time_t deadline;
	struct nbj_addr target;
	struct nbj_addr peer;
	int name;
	bool sni_check;
	bool sni_waiting;
	unsigned char sni_phase;
	struct nbj_addr answers[RESOLVE_ANSWERS_MAX];
	unsigned n_answers;
	unsigned next_answer;
	struct flow_side side[2];
	unsigned overlay;
	int proxy_step;
	size_t proxy_len;
	size_t proxy_off;
	char proxy_why[32];
	unsigned char proxy_buf[PROXY_BUF];
	bool inbound;
	bool terminate;
	int term;
	bool tripwire;
};

/**
 * struct name_entry - one name the job was given a synthetic address for
 * @name:	normalized host name, "" when the slot is free
 * @tainted:	it once resolved to an internal address: denied for the
 *		rest of the job's life (DNS rebinding)
 * @cached:	its last answers, reused for flows until @cached_until (their
 *		TTL, at most NAME_CACHE_MAX_S): resolved once, pinned
 * @n_cached:	their number
 * @cached_until: CLOCK_MONOTONIC seconds
 */
struct name_entry {
	char name[NBJ_NAME_MAX + 1];
	bool tainted;
	struct nbj_addr cached[RESOLVE_ANSWERS_MAX];
	unsigned n_cached;
	time_t cached_until;
};

/**
 * struct dns_client - where a DNS answer goes
 * @udp_fd:	the UDP socket the query came in on, or -1 for TCP
 * @tcp:	DNS-over-TCP connection slot when @udp_fd is -1
 * @tcp_gen:	its generation when the query arrived
 * @from:	the job's address
 * @fromlen:	its length
 */
struct dns_client {
	int udp_fd;
	uint32_t tcp;
	uint32_t tcp_gen;
	struct sockaddr_storage from;
	socklen_t fromlen;
};

/**
 * struct dns_tcp_conn - one DNS-over-TCP connection from the job, which
 * may carry several length-prefixed queries, answered as they complete
 * (RFC 7766: in any order, matched by id)
 * @used:	slot in use
 * @gen:	generation, bumped at each use
 * @fd:		the job's socket
 * @deadline:	when an idle connection is closed
 * @in_flight:	queries read but not answered yet
 * @eof:	the job has sent everything: close after the last answer
 * @peer:	the job's address
 * @peerlen:	its length
 * @have:	bytes in @buf
 * @buf:	a length prefix and (part of) a query
 */
struct dns_tcp_conn {
	bool used;
	uint32_t gen;
	int fd;
	time_t deadline;
	unsigned in_flight;
	bool eof;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	size_t have;
	unsigned char buf[2 + DNS_QUERY_MAX];
};

/**
 * struct dns_pending - a DNS query waiting for the upstream resolver
 * @used:	slot in use
 * @gen:	generation, see struct flow
 * @client:	where the answer goes
 * @name:	the normalized name asked for
 * @query:	the query packet
 * @qlen:	its length
 */
struct dns_pending {
	bool used;
	uint32_t gen;
	struct dns_client client;
	char name[NBJ_NAME_MAX + 1];
	unsigned char query[DNS_QUERY_MAX];
	size_t qlen;
};

/**
 * struct sam_session - an i2p overlay's SAM session (relay/sam.c)
 * @fd:		control connection, -1 when none
 * @step:	where the session is (enum sam_session_step)
 * @deadline:	when a session still not ready is given up
 * @retry_at:	a failed session is not tried again before
 * @why:	why it failed, for the flows that then fail
 * @id:		the session's ID= (unique per job and overlay)
 * @address:	the destination's .b32.i2p address
 * @out:	the command being sent
 * @out_len:	its length
 * @out_off:	bytes sent
 * @in:		the reply being read
 * @have:	bytes in @in
 * @fwd_fd:	STREAM FORWARD control connection, -1 when none
 * @fwd_step:	where it is
 * @fwd_listen:	the listener the bridge forwards inbound streams to
 * @fwd_publish: the publish entry it serves, -1 for none
 * @fwd_retry_at: a failed forward is tried again after
 */
struct sam_session {
	int fd;
	int step;
	time_t deadline;
	time_t retry_at;
	char why[48];
	char id[48];
	char address[I2P_B32_ADDR_MAX];
	char out[SAM_LINE_MAX];
	size_t out_len;
	size_t out_off;
	char in[SAM_LINE_MAX];
	size_t have;
	int fwd_fd;
	int fwd_step;
	int fwd_listen;
	int fwd_publish;
	time_t fwd_retry_at;
};

/**
 * struct relay_ctx - all mutable state of the relay process
 * @cfg:		configuration from the supervisor
 * @epfd:		epoll instance
 * @timerfd:		one-second tick for dial deadlines
 * @flows:		fixed flow table, @cfg->max_flows slots
 * @free_head:		first freed slot, UINT32_MAX when none
 * @flows_high:		slots used at least once (taken in order first)
 * @live:		flows in use
 * @dns_refused:	DNS queries answered REFUSED
 * @dns_malformed:	DNS packets dropped as malformed
 * @denied:		TCP connections denied
 * @dial_failed:	allowed connections whose dial failed
 * @full:		connections reset because the table was full
 * @names:		name table, NAME_TABLE_SIZE slots, see names.c
 * @n_names:		slots in use (never freed during the job's life)
 * @pending:		DNS queries waiting for c-ares, DNS_PENDING_MAX
 * @ares:		c-ares channel, the host's resolver configuration
 * @synthetic4:		first address of the IPv4 synthetic range
 * @synthetic6:		first address of the IPv6 synthetic range
 * @reqs:		lookups in flight, RESOLVE_REQS_MAX
 * @req_free:		first free request, UINT32_MAX when all are in use
 * @hostaddr:		netlink socket for the host's addresses (hostaddr.c)
 * @hostaddr_seq:	sequence number of the dump in progress
 * @hostaddr_dumping:	a dump is in progress
 * @host_overflow:	the host has more than HOST_ADDRS_MAX addresses
 * @floor_unknown:	the host's addresses are not known: deny everything
 * @host:		the host's addresses
 * @n_host:		their number
 * @floor:		the dynamic floor: @host and the jobs' networks
 * @dns_tcp:		DNS-over-TCP connections, DNS_TCP_MAX
 * @gateway:		the job's resolver address ([0]; [1] unused): TCP
 *			to its port 53 is DNS for the stub
 * @sigfd:		signalfd for SIGUSR1 (`nbjail ctl revoke`)
 * @revoked:		the job was revoked: every flow and query is refused
 * @throttle_fd:	one-shot timer while some flow waits for the byte rate
 * @throttle_armed:	@throttle_fd is armed
 * @accept_paused:	out of fds: the TCP listeners are not watched until
 *			the next tick (tcp_timer())
 * @sam:		i2p overlays' sessions, indexed like the overlays;
 *			NULL without i2p overlays
 * @pipe_pool:		empty pipes, ready for a flow side with bytes to move
 * @n_pipe_pool:	how many
 * @dns_rate:		the job's bucket of DNS queries (dns.c)
 * @dns_rate_audited_s:	the second (CLOCK_MONOTONIC) whose first query
 *			over the DNS rate was audited
 * @dns_rate_refused:	DNS queries refused by the DNS rate
 * @dock:		the dock's calls, DOCK_CONNS_MAX; NULL without a dock
 * @dock_bufs:		their buffers, one block
 * @dock_live:		calls in the table
 * @dock_desk_resting:	the desk is out of the epoll set until the next tick
 *			(a job that does not take its connections)
 * @dock_desk_gone:	the desk read EOF: no process of the job holds it
 * @dock_desk_untaken:	desk connections sent that no client took yet
 * @dock_desk_uid:	the workload's user, the only one the desk serves
 *			(-1: none)
 * @dock_rate:		the dock's bucket when there is no tenant's
 * @http:		the dock's get and get-many (dock_http.c); NULL when
 *			the relay has no HTTP client or no dock
 * @inbound:		client connections of ports published in mode http
 *			(relay/inbound.c), INBOUND_CONNS_MAX; NULL if none
 * @inbound_clients:	their client addresses' buckets
 * @inbound_audit:	their decisions' events not sent yet (inbound_flush())
 * @inbound_live:	connections in the table
 * @inbound_free:	the first free slot (INBOUND_CONNS_MAX: none)
 * @inbound_inflight:	requests admitted and not yet answered, per publish
 *			entry
 * @term:		terminated flows' sessions (relay/term.c), TERM_SLOTS;
 *			NULL when the policy terminates nothing
 */
struct relay_ctx {
	const struct relay_config *cfg;
	int epfd;
	int timerfd;
	struct flow *flows;
	uint32_t free_head;
	uint32_t flows_high;
	unsigned live;
	unsigned long dns_refused;
	unsigned long dns_malformed;
	unsigned long denied;
	unsigned long dial_failed;
	unsigned long full;
	struct name_entry *names;
	unsigned n_names;
	struct dns_pending *pending;
	ares_channel ares;
	struct in_addr synthetic4;
	struct in6_addr synthetic6;
	struct resolve_req *reqs;
	uint32_t req_free;
	struct mnl_socket *hostaddr;
	uint32_t hostaddr_seq;
	bool hostaddr_dumping;
	bool host_overflow;
	bool floor_unknown;
	struct nbj_addr host[HOST_ADDRS_MAX];
	size_t n_host;
	struct floor_ctx floor;
	struct dns_tcp_conn *dns_tcp;
	struct nbj_addr gateway[2];
	int sigfd;
	bool revoked;
	int throttle_fd;
	bool throttle_armed;
	bool accept_paused;
	struct sam_session *sam;
	struct relay_pipe pipe_pool[PIPE_POOL_MAX];
	unsigned n_pipe_pool;
	struct rate_bucket dns_rate;
	time_t dns_rate_audited_s;
	unsigned long dns_rate_refused;
	struct dock_conn *dock;
	unsigned char *dock_bufs;
	unsigned dock_live;
	bool dock_desk_resting;
	bool dock_desk_gone;
	unsigned dock_desk_untaken;
	uid_t dock_desk_uid;
	struct rate_bucket dock_rate;
	struct dock_http *http;
	struct inbound_conn *inbound;
	struct admit_clients *inbound_clients;
	struct inbound_audit *inbound_audit;
	unsigned inbound_live;
	uint32_t inbound_free;
	unsigned inbound_inflight[PUBLISH_MAX];
	struct term_session *term;
};

/* Cookies for c-ares callbacks: what, which slot, which generation */
enum resolve_for {
	RESOLVE_FOR_DNS = 1,
	RESOLVE_FOR_FLOW,
	RESOLVE_FOR_DOCK,
};
#define RESOLVE_COOKIE(what, slot, gen) \
	((void *)(uintptr_t)((uint64_t)(what) << 62 | (uint64_t)((gen) & 0x3fffffff) << 32 | (uint32_t)(slot)))
#define RESOLVE_COOKIE_WHAT(c) ((enum resolve_for)((uint64_t)(uintptr_t)(c) >> 62))
#define RESOLVE_COOKIE_GEN(c) ((uint32_t)(((uint64_t)(uintptr_t)(c) >> 32) & 0x3fffffff))
#define RESOLVE_COOKIE_SLOT(c) ((uint32_t)(uintptr_t)(c))

/* loop.c */
bool relay_revoked(struct relay_ctx *c);
int relay_selected_overlay(const struct relay_ctx *c, const struct nbj_addr *peer);

/* names.c */
int names_init(struct relay_ctx *c);
int names_add(struct relay_ctx *c, const char *name);
int names_find(const struct relay_ctx *c, const char *name);
int names_from_synthetic(const struct relay_ctx *c, const struct nbj_addr *a,
			 bool *is_synthetic);
void names_synthetic(const struct relay_ctx *c, int slot, int family,
		     struct nbj_addr *ret);

/* hostaddr.c */
int hostaddr_init(struct relay_ctx *c);
void hostaddr_event(struct relay_ctx *c);
const struct floor_ctx *hostaddr_floor(struct relay_ctx *c);

/* resolve.c */
int resolve_init(struct relay_ctx *c);
size_t resolve_collect(const struct ares_addrinfo *res, struct nbj_addr *answers);
int resolve_start(struct relay_ctx *c, const char *name, void *cookie);
void resolve_event(struct relay_ctx *c, int fd, uint32_t events);
void resolve_tick(struct relay_ctx *c);

/* dns.c: DNS over TCP to the job's resolver */
int dns_init(struct relay_ctx *c);
bool dns_is_resolver(const struct relay_ctx *c, const struct nbj_addr *a);
void dns_tcp_accept(struct relay_ctx *c, int fd, const struct sockaddr *peer,
		    socklen_t peerlen);
void dns_tcp_event(struct relay_ctx *c, uint32_t slot, uint32_t events);
void dns_tcp_tick(struct relay_ctx *c);
unsigned tcp_cut_all(struct relay_ctx *c);

/* dock.c */
int dock_init(struct relay_ctx *c);
void dock_accept(struct relay_ctx *c, uint32_t index);
void dock_event(struct relay_ctx *c, uint32_t i, bool out, uint32_t events);
void dock_tick(struct relay_ctx *c);
unsigned dock_cut_all(struct relay_ctx *c);
void dock_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		   const struct nbj_addr *answers, size_t n);
int dock_target_parse(const char *host, char *name, struct nbj_addr *addr);
bool dock_over_rate(struct relay_ctx *c);
void dock_facts(struct relay_ctx *c, const char *name, const struct nbj_addr *addr,
		uint16_t port, bool over_rate, struct decide_facts *ret);
void dock_http_event(struct relay_ctx *c, enum relay_event type, uint32_t index,
		     uint32_t events);

/**
 * struct dock_http_ops - the dock's HTTP client (get, get-many), hooked in
 * by nbjail-relay's main() (relay/dock_http.c, libcurl): libnbjail and
 * the nbjail executable stay without libcurl
 * @init:	set-up, before the allow-list (the dock exists)
 * @take:	a get or get-many call whose head was read: takes the job's
 *		connection @fd on success (0), else negative errno
 * @event:	RELAY_EV_HTTP_* events
 * @resolved:	c-ares answers for transfer @xfer (dock_resolved() passes
 *		slots from DOCK_CONNS_MAX up)
 * @tick:	once a second
 * @cut_all:	revocation: every call ends; returns how many
 */
struct dock_http_ops {
	int (*init)(struct relay_ctx *c);
	int (*take)(struct relay_ctx *c, int fd, const struct nbj_dock_request *req,
		    const char *target);
	void (*event)(struct relay_ctx *c, enum relay_event type, uint32_t index,
		      uint32_t events);
	void (*resolved)(struct relay_ctx *c, uint32_t xfer, uint32_t gen, int status,
			 const struct nbj_addr *answers, size_t n);
	void (*tick)(struct relay_ctx *c);
	unsigned (*cut_all)(struct relay_ctx *c);
};

/* NULL: get and get-many are answered -ENOSYS (relay/dock.c) */
extern const struct dock_http_ops *dock_http;

/* inbound.c: ports published in mode http */
int inbound_init(struct relay_ctx *c);
void inbound_accept(struct relay_ctx *c, uint32_t index, int listen_fd);
void inbound_event(struct relay_ctx *c, uint32_t slot, bool job, uint32_t events);
void inbound_tick(struct relay_ctx *c);
void inbound_flush(struct relay_ctx *c);
unsigned inbound_cut_all(struct relay_ctx *c);
int tcp_job_socket(const struct relay_ctx *c, int family);
bool tcp_accept_starved(struct relay_ctx *c, int err);

/* overlay.c */
void overlay_begin(struct relay_ctx *c, struct flow *f);
int overlay_io(struct relay_ctx *c, struct flow *f, const char **ret_why);
uint32_t overlay_wants(const struct flow *f);

/* sam.c */
int sam_init(struct relay_ctx *c);
void sam_event(struct relay_ctx *c, unsigned ov, uint32_t events);
void sam_tick(struct relay_ctx *c);
void sam_flow_begin(struct relay_ctx *c, struct flow *f);
void sam_flow_connect(struct relay_ctx *c, struct flow *f);
int sam_flow_io(struct relay_ctx *c, struct flow *f, const char **why);
uint32_t sam_flow_wants(const struct flow *f);
void sam_forward_start(struct relay_ctx *c, unsigned ov);
void sam_forward_stop(struct relay_ctx *c, unsigned ov);
void sam_forward_tick(struct relay_ctx *c, unsigned ov, time_t now);
void sam_forward_event(struct relay_ctx *c, unsigned ov, uint32_t events);
void tcp_throttle_tick(struct relay_ctx *c);

/* dns.c, tcp.c: completions of resolve_start() */
void dns_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		  const struct nbj_addr *answers, size_t n, unsigned ttl);
void names_cache_store(struct relay_ctx *c, int slot, const struct nbj_addr *answers,
		       size_t n, unsigned ttl);
void tcp_resolved(struct relay_ctx *c, uint32_t slot, uint32_t gen, int status,
		  const struct nbj_addr *answers, size_t n, unsigned ttl);

int flow_table_init(struct relay_ctx *c);
void tcp_accept(struct relay_ctx *c, int listen_fd);
int tcp_flow_facts(struct relay_ctx *c, const struct nbj_addr *target,
		   const struct nbj_addr *peer, struct decide_facts *ret);
void tcp_flow_event(struct relay_ctx *c, uint32_t slot, int side, uint32_t events);
void tcp_overlay_failed(struct relay_ctx *c, uint32_t slot, const char *why);
void tcp_publish_accept(struct relay_ctx *c, uint32_t index);
void tcp_timer(struct relay_ctx *c);
void dns_handle(struct relay_ctx *c, int fd);

#endif /* NBJ_RELAY_INT_H */
