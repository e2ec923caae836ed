/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/policy.h - addresses, the floor, allow patterns and the decision
 *
 * Everything here is pure: no I/O, no global state.  The relay (TCP, DNS,
 * published ports), the seccomp notifier and `nbjail explain` gather the
 * facts of a flow (struct decide_facts) and call policy_decide(), so one
 * piece of code decides every connection, with one reason out of one
 * enum (enum decide_reason):
 *
 *	revoked -> floor -> allow-list -> rate -> overlay -> verdict + reason
 *
 * Addresses are always parsed binary addresses (struct nbj_addr), never
 * strings.
 */
#ifndef NBJ_POLICY_H
#define NBJ_POLICY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/**
 * struct nbj_addr - a parsed IPv4 or IPv6 address with an optional port
 * @family:	AF_INET or AF_INET6
 * @port:	port in host byte order, 0 when none
 * @v4:		address when @family is AF_INET
 * @v6:		address when @family is AF_INET6
 */
struct nbj_addr {
	int family;
	uint16_t port;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/* Longest text form of an address with port: "[v6%scope]:65535" */
#define NBJ_ADDR_STRLEN (INET6_ADDRSTRLEN + 16)

int nbj_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
			   struct nbj_addr *ret);
socklen_t nbj_addr_to_sockaddr(const struct nbj_addr *a,
			       struct sockaddr_storage *ret);
const char *nbj_addr_format(const struct nbj_addr *a, char *buf, size_t len);
const char *nbj_addr_list_format(const struct nbj_addr *a, size_t n, char *buf,
				 size_t len);
bool nbj_addr_equal_ip(const struct nbj_addr *a, const struct nbj_addr *b);
bool nbj_addr_unmap_v4(const struct nbj_addr *a, struct nbj_addr *ret);
bool nbj_prefix_match(const unsigned char *a, const unsigned char *b,
		      unsigned len);

/**
 * struct nbj_prefix - an address with a prefix length
 * @addr:	network (or interface) address, port unused
 * @prefixlen:	prefix length
 */
struct nbj_prefix {
	struct nbj_addr addr;
	unsigned prefixlen;
};

/**
 * enum floor_reason - why an address is in the floor (never reachable)
 *
 * FLOOR_NONE means the address is public.  Every other value is a deny.
 */
enum floor_reason {
	FLOOR_NONE = 0,
	FLOOR_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	FLOOR_LOOPBACK,		/* 127/8, ::1 */
	FLOOR_PRIVATE,		/* 10/8, 172.16/12, 192.168/16, fc00::/7 */
	FLOOR_LINK_LOCAL,	/* 169.254/16, fe80::/10 */
	FLOOR_METADATA,		/* 169.254.169.254, fd00:ec2::254 */
	FLOOR_CGNAT,		/* 100.64/10 */
	FLOOR_IETF,		/* 192.0.0/24 */
	FLOOR_BENCHMARK,	/* 198.18/15 */
	FLOOR_MULTICAST,	/* 224/4, ff00::/8 */
	FLOOR_RESERVED,		/* 240/4, 255.255.255.255, other v6 specials */
	FLOOR_HOST,		/* an address of this host */
	FLOOR_BAD_ENCODING,	/* an IPv6 encoding of an internal IPv4 */
	FLOOR_JOB_NETWORK,	/* the address pool of the jobs' veths */
	FLOOR_REASON_COUNT,
};

/**
 * struct floor_ctx - the dynamic part of the floor
 * @host:	addresses of the host itself (kept current by the relay)
 * @n_host:	number of entries in @host
 * @job_nets:	prefixes the jobs' veths are addressed from
 * @n_job_nets:	number of entries in @job_nets
 */
struct floor_ctx {
	const struct nbj_addr *host;
	size_t n_host;
	const struct nbj_prefix *job_nets;
	size_t n_job_nets;
};

enum floor_reason floor_classify(const struct nbj_addr *a,
				 const struct floor_ctx *ctx);
const char *floor_reason_name(enum floor_reason r);

#define NBJ_NAME_MAX 253

/**
 * enum allow_kind - what an allow pattern names
 * @ALLOW_ADDR:		an address or prefix: IP, IP:port, CIDR, [v6]:port
 * @ALLOW_NAME:		one host name: host, host:port
 * @ALLOW_SUFFIX:	every name below a domain: *.suffix, *.suffix:port
 *			(not the bare suffix itself)
 */
enum allow_kind {
	ALLOW_ADDR,
	ALLOW_NAME,
	ALLOW_SUFFIX,
};

/**
 * struct allow_rule - one parsed allow pattern
 * @kind:	see enum allow_kind
 * @addr:	ALLOW_ADDR: network address; for every kind, @addr.port is
 *		the port or 0 for any
 * @prefixlen:	ALLOW_ADDR: prefix length (32 or 128 for one address)
 * @name:	ALLOW_NAME: the lower-case name without trailing dot;
 *		ALLOW_SUFFIX: the suffix with its leading dot (".example.com")
 */
struct allow_rule {
	enum allow_kind kind;
	struct nbj_addr addr;
	unsigned prefixlen;
	char name[NBJ_NAME_MAX + 2];
};

int allow_parse(const char *pattern, struct allow_rule *ret);
bool allow_match(const struct allow_rule *rule, const struct nbj_addr *a);
bool allow_match_name(const struct allow_rule *rule, const char *name,
		      uint16_t port);
bool allow_covers(const struct allow_rule *outer, const struct allow_rule *inner);
int name_normalize(const char *in, char *out, size_t outlen);
bool nbj_label_valid(const char *s);
const char *allow_rule_format(const struct allow_rule *rule, char *buf,
			      size_t len);

#define OVERLAYS_MAX 32
#define OVERLAY_NAME_MAX 32
#define ROUTES_MAX 256
#define OVERLAY_DIRECT_INDEX 0	/* "direct" is always overlay 0 */

/**
 * enum overlay_kind - how an overlay dials
 * @OVERLAY_DIRECT:	the relay connects itself
 * @OVERLAY_SOCKS5:	through a SOCKS5 proxy (RFC 1928, 1929); "tor" is a
 *			preset of it
 * @OVERLAY_HTTP_CONNECT: through an HTTP proxy's CONNECT method
 * @OVERLAY_TAILSCALE:	the relay connects itself, bound to the tailnet's
 *			interface; the tailnet's 100.64.0.0/10 addresses,
 *			in the floor otherwise, are reachable through it only
 * @OVERLAY_I2P:	through an I2P router's SAM v3 bridge: one STREAM
 *			session (one destination) per overlay, a STREAM
 *			CONNECT per flow, STREAM FORWARD for `publish:`
 */
enum overlay_kind {
	OVERLAY_DIRECT,
	OVERLAY_SOCKS5,
	OVERLAY_HTTP_CONNECT,
	OVERLAY_TAILSCALE,
	OVERLAY_I2P,
};

#define I2P_KEY_MAX 2048	/* a private key blob in base64, with room */
#define I2P_B32_ADDR_MAX 64	/* 52 letters + ".b32.i2p" + NUL */
#define I2P_SAM_OPTIONS_MAX 512

/**
 * struct overlay - one entry of the policy's overlay registry
 * @name:		its name in policy and audit events
 * @kind:		see enum overlay_kind
 * @proxy:		the proxy's address and port (not for direct)
 * @username:		proxy user name, "" for none
 * @password_env:	environment variable holding the password, or ""
 * @password_file:	file holding the password (first line), or ""
 * @password:		the password, read by the supervisor at start
 * @isolate_streams:	fresh random SOCKS5 credentials per connection
 * @interface:		tailscale: the interface dials are bound to (when
 *			it has no proxy)
 * @interface_given:	@interface was written in the policy
 * @via_http:		tailscale with host and port: tailscaled's HTTP
 *			proxy (proxy: http-connect) instead of its SOCKS5
 * @sam_options:	i2p: extra SESSION CREATE options (key=value ...)
 * @key_file:		i2p: file holding the destination's private keys;
 *			created (0600) at the first start when missing
 * @i2p_key:		i2p: those keys, read or made by the supervisor at
 *			start; "" for a transient destination
 * @i2p_address:	i2p: the destination's .b32.i2p address, "" while
 *			not known (transient: the relay learns it)
 */
struct overlay {
	char name[OVERLAY_NAME_MAX];
	enum overlay_kind kind;
	struct nbj_addr proxy;
	char username[256];
	char password_env[128];
	char password_file[256];
	char password[256];
	bool isolate_streams;
	char interface[16];
	bool interface_given;
	bool via_http;
	char sam_options[I2P_SAM_OPTIONS_MAX];
	char key_file[256];
	char i2p_key[I2P_KEY_MAX];
	char i2p_address[I2P_B32_ADDR_MAX];
};

/**
 * struct overlay_route - one entry of `routes:`: where a pattern dials
 * @match:	an allow pattern (name, *.suffix, address, prefix)
 * @overlay:	index into the overlay registry
 */
struct overlay_route {
	struct allow_rule match;
	unsigned overlay;
};

#define PUBLISH_MAX 16

/*
 * Admission of inbound HTTP requests (`publish:` mode http, `nbjail
 * serve`): policy/inbound.c parses and defaults them, relay/admit.c
 * applies them.
 */
#define INBOUND_PER_CLIENT_DEFAULT 100		/* requests/s per client address */
#define INBOUND_BURST_DEFAULT 200
#define INBOUND_CONCURRENT_DEFAULT 256		/* requests in the job at once */
#define INBOUND_MAX_BODY_DEFAULT (4ULL << 20)
#define INBOUND_MAX_HEADER_DEFAULT (64U << 10)
#define INBOUND_MAX_HEADER_LIMIT (80U << 10)	/* http_parser's own cap */
#define INBOUND_HEADER_TIMEOUT_DEFAULT 10	/* seconds */
#define INBOUND_MAX_DURATION_DEFAULT 60		/* seconds */

/**
 * struct inbound_limits - what an inbound HTTP request must keep to
 * before (and while) the job sees it
 * @per_client_per_s:	requests per second per client address
 * @per_client_burst:	requests a client may send at once
 * @concurrent:		requests admitted and not yet answered, at once
 * @max_body:		request body bytes (Content-Length or chunked)
 * @max_header:		bytes of the request line and headers
 * @header_timeout_s:	seconds to send a complete head
 * @max_duration_s:	seconds from admission to the response's end
 */
struct inbound_limits {
	uint64_t per_client_per_s;
	uint64_t per_client_burst;
	uint64_t concurrent;
	uint64_t max_body;
	uint32_t max_header;
	uint32_t header_timeout_s;
	uint32_t max_duration_s;
	uint32_t pad;
};

/**
 * enum publish_mode - what a published port carries
 * @PUBLISH_TCP:	raw TCP, connected on to the job's port
 * @PUBLISH_HTTP:	HTTP/1.1 requests, each admitted by the relay first
 */
enum publish_mode {
	PUBLISH_TCP,
	PUBLISH_HTTP,
};

/**
 * struct publish_entry - one entry of `publish:`: a job port reachable
 * from an overlay that carries inbound connections
 * @overlay:	index into the overlay registry (direct, tailscale or i2p)
 * @port:	the port outside: on the host (direct), on the tailnet
 *		interface (tailscale); 0 for i2p (the destination is the
 *		address, SAM 3.1 has no ports)
 * @to:		the job's port
 * @mode:	enum publish_mode
 * @limits:	mode http: the admission limits
 */
struct publish_entry {
	unsigned overlay;
	uint16_t port;
	uint16_t to;
	uint32_t mode;
	struct inbound_limits limits;
};

void inbound_limits_default(struct inbound_limits *l);
int inbound_rate_parse(const char *s, uint64_t *ret);
int inbound_seconds_parse(const char *s, uint32_t *ret);
struct nbj_policy;

/* `credentials:` and `http:` (nbjail.yaml(5), relay/term.c) */
#define CREDENTIALS_MAX 16
#define CRED_NAME_MAX 48	/* the key holder names it "+NAME" (keys/keys.h) */
#define CRED_HOSTS_MAX 8
#define CRED_STANDIN_MAX 512	/* a secret longer than this has no stand-in */
#define CRED_ENV_MAX 128
#define CRED_HEADERS_MAX 4
#define CRED_HEADER_NAME_MAX 64
#define HTTP_RULES_MAX 64
#define HTTP_PATHS_MAX 16
#define HTTP_PATH_MAX 256

/**
 * struct nbj_credential - one entry of `credentials:`: a secret held
 * outside the job, written by the relay toward its hosts only
 * @name:	its label ([A-Za-z0-9_-], at most CRED_NAME_MAX)
 * @hosts:	the only destinations it is written to (name:port, each
 *		also allowed by the allow-list)
 * @n_hosts:	entries in @hosts
 * @env:	the job's variable that holds the stand-in
 * @from_env:	the secret is nbjail's variable @from, else the file @from
 * @from:	file name or variable name
 * @revoke_on_leak: `on_leak: revoke`: a stand-in seen elsewhere revokes
 *		the job (else the request or flow is only denied)
 * @headers:	`headers:` names of custom headers whose whole value, the
 *		stand-in, is replaced too (besides Authorization)
 * @n_headers:	entries in @headers
 * @standin:	the stand-in the job sees, made at start (supervisor/
 *		credentials.c; "" in a loaded policy file)
 */
struct nbj_credential {
	char name[CRED_NAME_MAX + 1];
	struct allow_rule hosts[CRED_HOSTS_MAX];
	unsigned n_hosts;
	char env[CRED_ENV_MAX];
	bool from_env;
	char from[1024];
	bool revoke_on_leak;
	char headers[CRED_HEADERS_MAX][CRED_HEADER_NAME_MAX + 1];
	unsigned n_headers;
	char standin[CRED_STANDIN_MAX + 1];
};

/* Methods an `http:` rule may name, bit (1 << index) in http_rule.methods */
#define HTTP_METHOD_NAMES { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" }
#define HTTP_METHODS_COUNT 7

/**
 * struct http_rule - one entry of `http:`: what requests to one host
 * are let through; its flows (to @port) are TLS-terminated
 * @host:	the host name, normalized
 * @port:	the port its flows are terminated on (443 unless written
 *		as host: NAME:PORT)
 * @methods:	allowed methods, bit i for HTTP_METHOD_NAMES[i]; 0: all
 * @paths:	glob patterns (fnmatch(3), '*' also crosses '/') of the
 *		path without the query; none: every path
 * @n_paths:	entries in @paths
 */
struct http_rule {
	char host[NBJ_NAME_MAX + 1];
	uint16_t port;
	unsigned methods;
	char paths[HTTP_PATHS_MAX][HTTP_PATH_MAX];
	unsigned n_paths;
};

bool policy_terminates(const struct nbj_policy *p, const char *name, uint16_t port);
int policy_credential_for(const struct nbj_policy *p, const char *name, uint16_t port);
int policy_http_check(const struct nbj_policy *p, const char *host, const char *method,
		      const char *path, size_t path_len);
unsigned http_method_bit(const char *s);
int policy_standin_find(const struct nbj_policy *p, const void *buf, size_t len, int except,
			bool fold_case);

/**
 * struct nbj_policy - the immutable policy of one job
 * @allow:		allow rules; an empty list grants nothing
 * @n_allow:		number of rules
 * @floor_exceptions:	operator exceptions to the floor, each audited
 * @n_floor_exceptions:	number of exceptions
 * @overlays:		the overlay registry, [0] is "direct"; NULL means
 *			direct only
 * @n_overlays:		entries in @overlays
 * @default_overlay:	index of the overlay when no route matches
 * @routes:		first match wins
 * @n_routes:		entries in @routes
 * @publish:		published job ports
 * @n_publish:		entries in @publish
 * @select_allowed:	`permissions: {network.select: allow}`: processes
 *			may switch their subtree to another overlay
 */
struct nbj_policy {
	const struct allow_rule *allow;
	size_t n_allow;
	const struct allow_rule *floor_exceptions;
	size_t n_floor_exceptions;
	const struct overlay *overlays;
	size_t n_overlays;
	unsigned default_overlay;
	const struct overlay_route *routes;
	size_t n_routes;
	const struct publish_entry *publish;
	size_t n_publish;
	bool select_allowed;
	const struct nbj_credential *credentials;
	size_t n_credentials;
	const struct http_rule *http_rules;
	size_t n_http_rules;
};

bool policy_name_needs_overlay(const char *name);
const char *policy_overlay_name(const struct nbj_policy *p, unsigned index);
int overlay_kind_parse(const char *s, struct overlay *ret);
bool overlay_via_proxy(const struct overlay *o);

/*
 * Overlay selection (`nbjail-select`, permissions network.select): the
 * supervisor marks each socket of a job with the overlay of its caller's
 * subtree; the job's nftables rewrite the source port of marked traffic
 * into that overlay's range (unmarked traffic into SELECT_PORT_UNMARKED),
 * and the relay reads the overlay back from the port.
 */
#define SELECT_MARK_BASE 0x6e620000u	/* "nb" << 16; + overlay index + 1 */
#define SELECT_PORT_BASE 20000
#define SELECT_PORT_SPAN 1250		/* ports per overlay: 32 * 1250 = 40000 */
#define SELECT_PORT_UNMARKED 61000	/* to 61999: refused by the relay */
#define SELECT_PORT_UNMARKED_SPAN 1000
void select_port_range(unsigned index, uint16_t *lo, uint16_t *hi);
int select_overlay_of_port(uint16_t port);

/* policy/i2pdest.c */
ssize_t i2p_b64_decode(const char *in, unsigned char *out, size_t outlen);
ssize_t i2p_dest_length(const unsigned char *b, size_t len);
int i2p_b32_address(const char *b64, char *out, size_t outlen);
bool i2p_key_valid(const char *b64);
bool i2p_sam_value(const char *line, const char *key, char *out, size_t outlen);

/**
 * enum decide_reason - the one list of reasons: every verdict of the
 * seccomp notifier, the relay (TCP, DNS, published ports) and `nbjail
 * explain` carries exactly one.  Their names (decide_reason_name(), a
 * table static_asserted against this enum in policy/decide.c) are what
 * log lines, audit events (NBJAIL_REASON, "reason") and `nbjail ctl`
 * show; nbjail-audit(7) lists them.  The job's counters are indexed by
 * this enum (common/stats.c).  Append new reasons before DECIDE_OTHER.
 */
enum decide_reason {
	DECIDE_ALLOWED = 0,		/* allowed */
	DECIDE_NOT_ALLOWED,		/* not-allowed: no allow rule matches */
	DECIDE_NO_POLICY,		/* no-allow-list: nothing granted */
	DECIDE_NO_ANSWER,		/* no-answer: the name has no address */
	DECIDE_RESOLVE_FAILED,		/* resolve-failed */
	DECIDE_REBINDING,		/* rebinding: resolved internal before */
	DECIDE_UNKNOWN_SYNTHETIC,	/* unknown-synthetic: maps to no name */
	DECIDE_SNI_MISMATCH,		/* sni-mismatch (relay/sni.c) */
	DECIDE_NOT_RELAYED,		/* not-relayed: the relay carries TCP */
	DECIDE_NO_NETWORK,		/* no-network: minimal, compute */
	DECIDE_BIND_FOREIGN,		/* bind-foreign-address */
	DECIDE_UNIX_PATH,		/* unix-path */
	DECIDE_UNIX_PATH_UNRESOLVABLE,	/* unix-path-unresolvable */
	DECIDE_ADDRESS_FAMILY,		/* address-family */
	DECIDE_SOCKET_TYPE_UNKNOWN,	/* socket-type-unknown */
	DECIDE_RATE,			/* rate: connects or flows over a limit */
	DECIDE_REVOKED,			/* revoked */
	DECIDE_SUPERVISOR_TIMEOUT,	/* supervisor-timeout (the watchdog) */
	DECIDE_FLOOR_UNKNOWN,		/* floor-unknown: host addresses lost */
	DECIDE_DIAL_FAILED,		/* dial-failed */
	DECIDE_FLOW_TABLE_FULL,		/* flow-table-full */
	DECIDE_REFUSED,			/* refused */
	DECIDE_MALFORMED,		/* malformed */
	DECIDE_OVERLAY_REQUIRED,	/* overlay-required: .onion, .i2p direct */
	DECIDE_OVERLAY_FAILED,		/* overlay-failed; events say overlay:WHY */
	/* the floor, one per enum floor_reason in its order: floor:CLASS */
	DECIDE_FLOOR_UNSPECIFIED,
	DECIDE_FLOOR_LOOPBACK,
	DECIDE_FLOOR_PRIVATE,
	DECIDE_FLOOR_LINK_LOCAL,
	DECIDE_FLOOR_METADATA,
	DECIDE_FLOOR_CGNAT,
	DECIDE_FLOOR_IETF,
	DECIDE_FLOOR_BENCHMARK,
	DECIDE_FLOOR_MULTICAST,
	DECIDE_FLOOR_RESERVED,
	DECIDE_FLOOR_HOST,
	DECIDE_FLOOR_BAD_ENCODING,
	DECIDE_FLOOR_JOB_NETWORK,
	DECIDE_SNI_MISSING,		/* sni-missing (relay/sni.c) */
	DECIDE_DNS_RATE,		/* dns-rate (relay/dns.c) */
	DECIDE_SELECT_UNMARKED,		/* select-unmarked: no overlay mark */
	DECIDE_SELECT_UNKNOWN,		/* select-unknown: cgroup unreadable */
	DECIDE_SELECT_MARK_FAILED,	/* select-mark-failed */
	DECIDE_SELECT_DENIED,		/* select-denied: network.select deny */
	DECIDE_SELECT_UNKNOWN_OVERLAY,	/* select-unknown-overlay */
	DECIDE_SELECT_UNSUPPORTED,	/* select-unsupported: no cgroup v2 */
	DECIDE_SELECT_FAILED,		/* select-failed */
	DECIDE_NO_ORIGINAL_DST,		/* no-original-dst */
	DECIDE_UNIX_ANCILLARY,		/* unix-ancillary (seccomp/unix.c) */
	DECIDE_UNIX_SENDMMSG,		/* unix-sendmmsg */
	DECIDE_UNIX_CREDS,		/* unix-creds: the helper cannot be the caller */
	DECIDE_UNIX_HELPER,		/* unix-helper: no helper could start */
	DECIDE_UNIX_PATH_CHANGED,	/* unix-path-changed under the helper */
	DECIDE_NOT_IMPLEMENTED,		/* not-implemented: a reserved dock op */
	DECIDE_NO_SUCH_KEY,		/* no-such-key: dock sign */
	DECIDE_BODY_TOO_LARGE,		/* body-too-large: inbound, 413 */
	DECIDE_HEADER_TOO_LARGE,	/* header-too-large: inbound, 431 */
	DECIDE_HEADER_TIMEOUT,		/* header-timeout: inbound, 408 */
	DECIDE_CREDENTIAL_LEAK,		/* credential-leak: a stand-in off its hosts */
	DECIDE_HTTP_RULE,		/* http-rule: no http: rule lets it through */
	DECIDE_HOST_MISMATCH,		/* host-mismatch: Host is not the pinned name */
	DECIDE_HTTP_MALFORMED,		/* http-malformed: a request the parser refused */
	DECIDE_UPSTREAM_TLS,		/* upstream-tls: the server's certificate failed */
	DECIDE_CREDENTIAL_UNAVAILABLE,	/* credential-unavailable: the key holder did not answer */
	DECIDE_OTHER,			/* other: counters only */
	DECIDE_REASON_COUNT,
};

const char *decide_reason_name(enum decide_reason r);
int decide_http_status(enum decide_reason r);
enum decide_reason decide_reason_of_floor(enum floor_reason f);
bool decide_reason_is_floor(enum decide_reason r);

/**
 * enum decide_lane - where a decision is taken
 * @DECIDE_LANE_NOTIFY:	the seccomp notifier, at the socket call, before
 *			the kernel carries it out (early, auditable refusal)
 * @DECIDE_LANE_CONNECT: a TCP flow of the job at the relay, and `nbjail
 *			explain` (which must give the same answer)
 * @DECIDE_LANE_DNS:	a query to the relay's DNS stub
 * @DECIDE_LANE_UDP:	a datagram to a port other than 53 (not relayed)
 * @DECIDE_LANE_PUBLISH: an inbound connection to a published port
 * @DECIDE_LANE_DOCK:	a broker call of the job's dock (relay/dock.c): the
 *			relay itself dials, directly
 * @DECIDE_LANE_INBOUND: an HTTP request to a port published in mode http
 *			(relay/inbound.c) or to `nbjail serve`, once its head
 *			is read (or it broke a limit while being read)
 */
enum decide_lane {
	DECIDE_LANE_NOTIFY,
	DECIDE_LANE_CONNECT,
	DECIDE_LANE_DNS,
	DECIDE_LANE_UDP,
	DECIDE_LANE_PUBLISH,
	DECIDE_LANE_DOCK,
	DECIDE_LANE_INBOUND,
};

/**
 * enum decide_answers - what is known of a name's addresses
 * @DECIDE_ANSWERS_PENDING:	not resolved yet
 * @DECIDE_ANSWERS_OK:		resolved: decide_facts.answers
 * @DECIDE_ANSWERS_NONE:	no such name, or no address
 * @DECIDE_ANSWERS_FAILED:	the lookup failed (timeout, SERVFAIL, ...)
 */
enum decide_answers {
	DECIDE_ANSWERS_PENDING,
	DECIDE_ANSWERS_OK,
	DECIDE_ANSWERS_NONE,
	DECIDE_ANSWERS_FAILED,
};

/* decide_facts.selected when no process selected an overlay, when the
 * traffic carries no selection mark, when the selection is unreadable */
#define DECIDE_SELECTED_NONE (-1)
#define DECIDE_SELECTED_UNMARKED (-2)
#define DECIDE_SELECTED_UNKNOWN (-3)

/**
 * struct decide_facts - every fact a decision may depend on; the callers
 * gather them (seccomp/verdict.c, relay/tcp.c, relay/dns.c,
 * supervisor/explain.c) and policy_decide() alone decides
 * @lane:	where (enum decide_lane)
 * @policy:	the job's policy: allow-list, floor exceptions, overlays,
 *		routes
 * @floor:	the dynamic floor: the host's addresses, the jobs' pool;
 *		NULL while the relay does not know them (denied)
 * @name:	the host name the flow stands for (normalized), NULL for a
 *		literal address
 * @addr:	the address as dialled (literal, or synthetic for a name),
 *		v4-mapped addresses unmapped, with its port
 * @port:	the destination port (0 for a DNS query: any port)
 * @synthetic:	@addr lies in the relay's synthetic (fake-IP) range
 * @answers_state: see enum decide_answers
 * @answers:	every address @name resolved to
 * @n_answers:	their number
 * @selected:	the overlay the calling process subtree selected
 *		(nbjail-select), or DECIDE_SELECTED_*
 * @revoked:	the job is revoked
 * @tainted:	@name resolved to an internal address before (rebinding)
 * @over_rate:	admitting it would exceed a rate or concurrency limit
 * @is_local:	notify: @addr is the job's own (loopback, wildcard, its
 *		addresses): nothing leaves the job
 * @is_resolver: notify: @addr is the job's resolver (the relay's DNS)
 * @has_net:	notify: the job has a network beyond lo (net profile)
 * @bind:	notify: bind() or listen(): @addr is a local address
 * @sotype:	notify: the socket's type, 0 while unknown
 * @address_query: dns: an IN A or AAAA query (others get an empty answer)
 * @publish_overlay: publish: the entry's overlay
 * @inbound_broken: inbound: the limit the request broke while being read
 *		(DECIDE_BODY_TOO_LARGE, DECIDE_HEADER_TOO_LARGE,
 *		DECIDE_HEADER_TIMEOUT, DECIDE_MALFORMED), else DECIDE_ALLOWED
 * @client_over_rate: inbound: the client address's bucket is empty
 */
struct decide_facts {
	enum decide_lane lane;
	const struct nbj_policy *policy;
	const struct floor_ctx *floor;
	const char *name;
	struct nbj_addr addr;
	uint16_t port;
	bool synthetic;
	enum decide_answers answers_state;
	const struct nbj_addr *answers;
	size_t n_answers;
	int selected;
	bool revoked;
	bool tainted;
	bool over_rate;
	bool is_local;
	bool is_resolver;
	bool has_net;
	bool bind;
	int sotype;
	bool address_query;
	unsigned publish_overlay;
	enum decide_reason inbound_broken;
	bool client_over_rate;
};

/**
 * enum decide_verdict - what the caller does
 * @VERDICT_DENY:	refuse, with decision.reason
 * @VERDICT_ALLOW:	let it through: continue the call, dial as
 *			decision.dial says, answer the query
 * @VERDICT_NEED_TYPE:	notify: ask again with decide_facts.sotype
 * @VERDICT_NEED_ANSWERS: resolve decision.overlay's name on the host, then
 *			ask again with the answers
 */
enum decide_verdict {
	VERDICT_DENY,
	VERDICT_ALLOW,
	VERDICT_NEED_TYPE,
	VERDICT_NEED_ANSWERS,
};

/**
 * enum decide_dial - how an allowed flow is dialled
 * @DIAL_NONE:		nothing to dial (notify, an empty DNS answer)
 * @DIAL_TARGET:	the literal address itself
 * @DIAL_ANSWERS:	the name's answers, in order, from the first
 * @DIAL_PROXY:		the overlay's proxy, which resolves the name itself
 */
enum decide_dial {
	DIAL_NONE,
	DIAL_TARGET,
	DIAL_ANSWERS,
	DIAL_PROXY,
};

/**
 * struct decision - the outcome of policy_decide()
 * @verdict:	see enum decide_verdict
 * @reason:	why (DECIDE_ALLOWED when allowed)
 * @overlay:	the overlay the flow is dialled through (route, else the
 *		process's selection, else the default: policy_flow_overlay())
 * @dial:	see enum decide_dial
 * @floor:	the floor class of the target, or of its first internal
 *		answer (FLOOR_NONE when public); allowed and not FLOOR_NONE:
 *		a floor exception or the tailnet let it pass
 * @exception:	index of the floor exception that let it pass, or -1
 * @detail:	a static detail for the log ("not-an-i2p-destination"), ""
 */
struct decision {
	enum decide_verdict verdict;
	enum decide_reason reason;
	unsigned overlay;
	enum decide_dial dial;
	enum floor_reason floor;
	int exception;
	const char *detail;
};

void policy_decide(const struct decide_facts *f, struct decision *ret);
unsigned policy_flow_overlay(const struct nbj_policy *p, const char *name,
			     const struct nbj_addr *addr, uint16_t port, int selected);
bool policy_has_names(const struct nbj_policy *p);

/* The relay's fake-IP ranges: a synthetic address stands for a host name
 * the job resolved (relay/names.c); only the relay can map it back */
#define NBJ_SYNTHETIC_V4 "198.18.0.0"
#define NBJ_SYNTHETIC_V4_PREFIXLEN 15
#define NBJ_SYNTHETIC_V6 "fd6e:626a:6169:ffff::"
#define NBJ_SYNTHETIC_V6_PREFIXLEN 64

bool nbj_addr_is_synthetic(const struct nbj_addr *a);

/* The rate floor: connect attempts of one job, whatever its policy says
 * (at most 50,000 in any 10 s: a burst of 5,000, then 4,500 a second) */
#define RATE_FLOOR_CONNECTS_PER_S 4500
#define RATE_FLOOR_CONNECTS_BURST 5000
#define RATE_DOCK_CALLS_PER_S 2000	/* the dock's default, and its ceiling */

/**
 * struct rate_policy - limits of a job, or of all jobs of its tenant
 * @connects_per_s:	connect attempts per second (counted even when
 *			denied); 0 for the floor (jobs) or none (tenants)
 * @connects_burst:	attempts at once; 0 for as many as one second's
 * @concurrent:		TCP flows at once; 0 for no limit but the relay's
 * @bytes_per_s:	bytes per second, both directions together; 0 for
 *			no limit
 * @bytes_burst:	bytes at once; 0 for one second's worth
 * @dock_calls_per_s: dock calls per second (jobs only; the tenant's
 *			bucket); 0 for RATE_DOCK_CALLS_PER_S, the ceiling
 */
struct rate_policy {
	uint64_t connects_per_s;
	uint64_t connects_burst;
	uint64_t concurrent;
	uint64_t bytes_per_s;
	uint64_t bytes_burst;
	uint64_t dock_calls_per_s;
};

/**
 * struct nbj_rates - the `rates:` of a policy
 * @job:	limits of the job itself
 * @tenant:	limits shared by every job of the tenant
 */
struct nbj_rates {
	struct rate_policy job;
	struct rate_policy tenant;
};

/* policy/numbers.c */
int policy_count_parse(const char *s, uint64_t max, uint64_t *ret);
int policy_size_parse(const char *s, uint64_t max, uint64_t *ret);

int rate_parse_bytes(const char *s, uint64_t *ret);
int rate_parse_count(const char *s, uint64_t max, uint64_t *ret);

/* The bounds of `limits:` (policy/limits.c) */
#define LIMIT_PIDS_MAX 4194304ULL		/* the kernel's PID_MAX_LIMIT */
#define LIMIT_MEMORY_MIN (4ULL << 20)		/* 4 MiB: less cannot exec a shell */
#define LIMIT_MEMORY_MAX (1ULL << 60)

/**
 * struct nbj_limits - the `limits:` of a policy: a job's resources
 * @pids:	most tasks (processes and threads, the job's init included)
 *		at once; 0 for no limit
 * @memory:	most bytes of memory (and no swap) for all its processes
 *		together; 0 for no limit
 */
struct nbj_limits {
	uint64_t pids;
	uint64_t memory;
};

int limits_parse_pids(const char *s, uint64_t *ret);
int limits_parse_memory(const char *s, uint64_t *ret);
void limits_narrow(struct nbj_limits *to, const struct nbj_limits *from);

/* Longest pathname of an AF_UNIX socket, with its NUL */
#define NBJ_UNIX_PATH_MAX 108

/**
 * struct unix_rule - one `unix_allow` entry: a pathname socket the job may
 * connect to (and bind) although it lies outside the job's private mounts
 * @path:	absolute, normalized path ("/run/user/1000/bus")
 */
struct unix_rule {
	char path[NBJ_UNIX_PATH_MAX];
};

long path_normalize(const char *s, char *out, size_t outlen);
int unix_rule_parse(const char *s, struct unix_rule *ret);

/* Longest `filesystem:` path, with its NUL, and most entries of a job */
#define FS_PATH_MAX 1024
#define FS_RULES_MAX 256

/**
 * enum fs_rule_kind - what a `filesystem:` entry does to its path
 * @FS_RULE_WRITE:	writable in the job (the rest of the host is read-only)
 * @FS_RULE_HIDE:	covered: an empty read-only directory or an empty file
 */
enum fs_rule_kind {
	FS_RULE_WRITE,
	FS_RULE_HIDE,
};

/**
 * struct fs_rule - one `filesystem:` entry or one --write flag
 * @kind:	write or hide
 * @home:	@path is relative to the caller's home ("~/.ssh")
 * @path:	normalized: absolute, or with @home "" (~ itself) or "/rest"
 * @where:	where it was given, for errors found when the job starts:
 *		"policy.yaml:4:5: filesystem.write[0]" or "--write"
 */
struct fs_rule {
	enum fs_rule_kind kind;
	bool home;
	char path[FS_PATH_MAX];
	char where[192];
};

int fs_rule_parse(const char *s, enum fs_rule_kind kind, struct fs_rule *ret);

#endif /* NBJ_POLICY_H */
