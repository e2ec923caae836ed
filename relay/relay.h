/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/relay.h - the per-job relay process
 *
 * The job's init creates the relay's listening sockets inside the job's
 * network namespace and hands them to the supervisor, which forks the
 * relay with them; the relay dials out from the caller's namespace, and
 * reaches into the job (published ports) only through sockets the job's
 * init makes on request (@socket_factory).  The job's dock (relay/dock.c)
 * is a unix listener the job's init made in the job's /run (@dock_fd).  The relay is its own program
 * (relay/main.c, exec'd by supervisor/relaystart.c as ROLE_RELAY);
 * relay_run() sets up, installs the relay's syscall allow-list and runs
 * one epoll loop until it is killed; it never returns on success.
 */
#ifndef NBJ_RELAY_H
#define NBJ_RELAY_H

#include <sys/types.h>

#include "common/audit.h"
#include "policy/policy.h"

/**
 * struct relay_config - everything the relay needs, owned by the caller
 * @job_id:	job identifier, used in every log line
 * @tcp_fds:	listening TCP sockets (IPv4, IPv6), -1 when absent
 * @dns_fds:	bound UDP sockets for DNS (IPv4, IPv6), -1 when absent
 * @socket_factory: SOCK_SEQPACKET to the job's init: send an int family,
 *		receive an int errno and (when 0) a TCP socket made in the
 *		job's netns; -1 when nothing is published
 * @dock_fd:	the dock's listener (unix stream, made in the job's /run),
 *		-1 when the job has no dock (relay/dock.c)
 * @dock_desk_fd: the dock's desk (unix seqpacket, connected to every
 *		process of the job), -1 without a dock (relay/dock.c)
 * @tls_roots:	PEM bundle the relay's TLS clients trust (policy
 *		`tls_roots:` or the system's; relay/tls_upstream.c), NULL
 *		when there is none
 * @tls_roots_len: its length
 * @resolver:	the job's resolver address (resolv.conf): its port 53
 *		over TCP is the DNS stub
 * @policy:	the job's policy
 * @job_nets:	the prefixes of the jobs' own addresses, in the floor
 * @n_job_nets:	entries in @job_nets
 * @max_flows:	size of the flow table; further connections are refused
 * @audit:	the job's statistics and audit writer
 * @job_addrs:	the job's addresses (IPv4, IPv6), where published ports
 *		are connected to
 * @publish_fds: listeners of the policy's publish entries (same index),
 *		-1 for i2p ones (the relay makes those)
 * @select_ports: processes select overlays: a flow's source port names
 *		its overlay (policy/overlay.c), ports outside every range
 *		are refused
 * @keyholder_fd: SOCK_SEQPACKET to nbjail-keys, which signs with the
 *		policy's secrets (keyholder_sign(), keys/keys.h); -1 when
 *		the policy has none
 * @filter:	the relay's allow-list compiled by the supervisor (root's
 *		cache, role_filter_cached()), or NULL: the relay compiles it
 */
/* The relay's job-side sockets, made in the job's netns by its init, in
 * this order: the standard lane's (net profile), the socket factory
 * (published ports), the dock's listener and its desk (net and browse).  They reach
 * the relay after its exec, on its job_fds_sock (relay_job_fds_recv()):
 * a uint32_t mask, bit N set for RELAY_FD N present, those fds attached
 * in order */
enum { RELAY_FD_TCP4, RELAY_FD_TCP6, RELAY_FD_DNS4, RELAY_FD_DNS6, RELAY_FD_FACTORY,
       RELAY_FD_DOCK, RELAY_FD_DOCK_DESK, RELAY_FDS };

struct relay_config {
	const char *job_id;
	int tcp_fds[2];
	int dns_fds[2];
	int socket_factory;
	int dock_fd;
	int dock_desk_fd;
	const unsigned char *tls_roots;
	size_t tls_roots_len;
	struct nbj_addr resolver;
	const struct nbj_policy *policy;
	const struct nbj_prefix *job_nets;
	size_t n_job_nets;
	unsigned max_flows;
	struct audit_ctx audit;
	struct nbj_addr job_addrs[2];
	const int *publish_fds;
	bool select_ports;
	int keyholder_fd;
	int job_fds_sock;
	const struct sock_fprog *filter;
};

/* the trust roots' PEM bundle (supervisor/tlsroots.c, relay/tls_upstream.c) */
#define RELAY_TLS_ROOTS_MAX (4u << 20)	/* bytes, at most */
#define RELAY_TLS_SYSTEM_ROOTS "/etc/ssl/certs/ca-certificates.crt"

int relay_run(const struct relay_config *cfg);
int relay_job_fds_recv(struct relay_config *cfg);
unsigned long relay_fds_reserved(const struct nbj_policy *p);
unsigned long relay_fd_limit(const struct nbj_policy *p, unsigned max_flows);

/* relay/handoff.c: the configuration of the exec'd nbjail-relay */
#define RELAY_JOB_ID_MAX 32
#define RELAY_JOB_NETS_MAX 8

/**
 * struct relay_handoff_storage - what relay_handoff_read() allocates
 * @job_id:	the job's id
 * @policy:	the policy, pointing at the arrays below
 * @job_nets:	the job prefixes of the floor
 * @allow:	allow rules
 * @floor_exceptions: floor exceptions
 * @overlays:	overlays (with their secrets), @n_overlays of them
 * @n_overlays:	entries in @overlays
 * @routes:	routes
 * @publish:	publish entries
 * @publish_fds: their listeners (-1 for none)
 * @credentials: `credentials:` with their stand-ins
 * @http_rules:	`http:` rules
 * @tls_roots:	the trust roots' PEM bytes
 */
struct relay_handoff_storage {
	char job_id[RELAY_JOB_ID_MAX];
	struct nbj_policy policy;
	struct nbj_prefix *job_nets;
	struct allow_rule *allow;
	struct allow_rule *floor_exceptions;
	struct overlay *overlays;
	size_t n_overlays;
	struct overlay_route *routes;
	struct publish_entry *publish;
	struct nbj_credential *credentials;
	struct http_rule *http_rules;
	int publish_fds[PUBLISH_MAX];
	unsigned char *tls_roots;
};

int relay_handoff_write(const struct relay_config *cfg, int stats_fd, int tenant_fd);
int relay_handoff_read(int fd, struct relay_config *cfg, struct relay_handoff_storage *st,
		       int *ret_stats_fd, int *ret_tenant_fd);
void relay_handoff_free(struct relay_handoff_storage *st);

/**
 * struct auditd_config - the job's audit writer (relay/auditd.c)
 * @job_id:	job identifier
 * @tenant:	the job's tenant
 * @fd:		receiving end of the producers' SOCK_SEQPACKET socket
 * @log_fd:	--audit-log file (O_APPEND), -1 for none
 * @journal:	send events to journald
 * @stats:	the job's statistics (ring of denials, counters)
 * @fields:	extra "KEY=VALUE" fields of every event (--audit-field,
 *		validated by nbj_config_add_audit_field())
 * @n_fields:	their number
 * @filter:	the writer's allow-list compiled by its parent
 *		(role_filter_cached()), or NULL: the writer compiles it
 */
struct auditd_config {
	const char *job_id;
	const char *tenant;
	char *const *fields;
	size_t n_fields;
	int fd;
	int log_fd;
	bool journal;
	struct job_stats *stats;
	const struct sock_fprog *filter;
};

void auditd_preload(const struct auditd_config *cfg);
int auditd_run(const struct auditd_config *cfg);

/* relay/resolve.c */
#define RESOLVE_ANSWERS_MAX 16
int resolve_blocking(const char *name, struct nbj_addr *answers, size_t *ret_n);

/* relay/dns.c */
long dns_refuse(const unsigned char *query, size_t qlen, unsigned char *out,
		size_t outlen);

#endif /* NBJ_RELAY_H */
