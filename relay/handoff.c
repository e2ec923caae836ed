/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/handoff.c - the relay's configuration, from the supervisor to
 * the nbjail-relay program
 *
 * Theory of operation: the relay is exec'd (common/roles.c), so it owns
 * nothing of the supervisor's memory; what it needs crosses in one
 * sealed memfd (its number is nbjail-relay's one argument):
 *
 *   struct relay_handoff            fixed part: magic, version, the sizes
 *                                   of every record (a relay from another
 *                                   build refuses to start), the fd numbers,
 *                                   addresses, counts
 *   struct nbj_prefix[n_job_nets]   then the policy's arrays, in this order
 *   struct allow_rule[n_allow]
 *   struct allow_rule[n_floor_exceptions]
 *   struct overlay[n_overlays]      (passwords and I2P keys: the relay's
 *   struct overlay_route[n_routes]   own secrets, nothing else)
 *   struct publish_entry[n_publish]
 *   struct nbj_credential[n_credentials] (names, hosts, stand-ins: never
 *   struct http_rule[n_http_rules]         a secret, nbjail-keys has those)
 *   tls_roots_len bytes             the trust roots' PEM (no secret)
 *
 * The records are plain data without pointers.  relay_handoff_read()
 * checks every size and count against the memfd's length, the seals
 * (no writer could change it under us) and NUL-terminates every string,
 * so a short or altered handoff is refused, never half-read.  The
 * supervisor is trusted; the checks make a mistake fail loudly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "relay/relay.h"
#include "common/fdpass.h"
#include "relay/relay_int.h"

#define HANDOFF_MAGIC 0x6e626a52u /* "nbjR" */
#define HANDOFF_VERSION 7u	/* 2: the tenant slot and the limits; 3: the dock;
				 * 4: the TLS trust roots; 5: publish mode http;
				 * 6: credentials and http: rules; 7: the job's
				 * sockets sent after exec (job_fds_sock), the
				 * dock's desk among them */
#define HANDOFF_ROOTS_MAX RELAY_TLS_ROOTS_MAX
#define HANDOFF_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/**
 * struct relay_handoff - the fixed part of the handoff
 */
struct relay_handoff {
	uint32_t magic;
	uint32_t version;
	uint32_t record_sizes[9];
	char job_id[RELAY_JOB_ID_MAX];
	int32_t tcp_fds[2];
	int32_t dns_fds[2];
	int32_t socket_factory;
	int32_t keyholder_fd;
	int32_t dock_fd;
	int32_t job_fds_sock;
	int32_t audit_fd;
	int32_t stats_fd;
	int32_t tenant_fd;
	int32_t tenant_slot;
	struct job_limits limits;
	int32_t publish_fds[PUBLISH_MAX];
	struct nbj_addr resolver;
	struct nbj_addr job_addrs[2];
	uint32_t max_flows;
	uint32_t n_job_nets;
	uint32_t n_allow;
	uint32_t n_floor_exceptions;
	uint32_t n_overlays;
	uint32_t n_overlay_records;
	uint32_t n_routes;
	uint32_t n_publish;
	uint32_t n_credentials;
	uint32_t n_http_rules;
	uint32_t default_overlay;
	uint8_t has_overlays;
	uint8_t select_allowed;
	uint8_t select_ports;
	uint32_t tls_roots_len;
};

static void record_sizes(uint32_t sizes[9])
{
	sizes[0] = sizeof(struct relay_handoff);
	sizes[1] = sizeof(struct nbj_prefix);
	sizes[2] = sizeof(struct allow_rule);
	sizes[3] = sizeof(struct overlay);
	sizes[4] = sizeof(struct overlay_route);
	sizes[5] = sizeof(struct publish_entry);
	sizes[6] = sizeof(struct nbj_addr);
	sizes[7] = sizeof(struct nbj_credential);
	sizes[8] = sizeof(struct http_rule);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? negative_errno() : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * relay_handoff_write() - put @cfg into a new sealed memfd
 * @cfg:	the relay's configuration; its fd fields are the numbers the
 *		relay will find them at (they are inherited, not copied)
 * @stats_fd:	the job's statistics file, open read-write
 * @tenant_fd:	the tenant's file, open read-write, or -1
 *
 * Return: the memfd (close-on-exec; the child clears that), or negative
 * errno
 */
int relay_handoff_write(const struct relay_config *cfg, int stats_fd, int tenant_fd)
{
	const struct nbj_policy *p = cfg->policy;
	struct relay_handoff h = {
		.magic = HANDOFF_MAGIC,
		.version = HANDOFF_VERSION,
		.tcp_fds = { cfg->tcp_fds[0], cfg->tcp_fds[1] },
		.dns_fds = { cfg->dns_fds[0], cfg->dns_fds[1] },
		.socket_factory = cfg->socket_factory,
		.keyholder_fd = cfg->keyholder_fd,
		.dock_fd = cfg->dock_fd,
		.job_fds_sock = cfg->job_fds_sock,
		.audit_fd = cfg->audit.fd,
		.stats_fd = stats_fd,
		.tenant_fd = tenant_fd,
		.tenant_slot = cfg->audit.tenant_slot,
		.limits = cfg->audit.limits,
		.resolver = cfg->resolver,
		.job_addrs = { cfg->job_addrs[0], cfg->job_addrs[1] },
		.max_flows = cfg->max_flows,
		.n_job_nets = (uint32_t)cfg->n_job_nets,
		.n_allow = (uint32_t)p->n_allow,
		.n_floor_exceptions = (uint32_t)p->n_floor_exceptions,
		.n_overlays = (uint32_t)p->n_overlays,
		.n_overlay_records = p->overlays ? (uint32_t)p->n_overlays : 0,
		.n_routes = (uint32_t)p->n_routes,
		.n_publish = (uint32_t)p->n_publish,
		.n_credentials = (uint32_t)p->n_credentials,
		.n_http_rules = (uint32_t)p->n_http_rules,
		.default_overlay = p->default_overlay,
		.has_overlays = p->overlays != NULL,
		.select_allowed = p->select_allowed,
		.select_ports = cfg->select_ports,
		.tls_roots_len = cfg->tls_roots ? (uint32_t)cfg->tls_roots_len : 0,
	};
	_cleanup_close_ int fd = -1;
	int err;

	if (p->n_publish > PUBLISH_MAX || strlen(cfg->job_id) >= sizeof(h.job_id) ||
	    cfg->tls_roots_len > HANDOFF_ROOTS_MAX)
		return -E2BIG;
	record_sizes(h.record_sizes);
	memcpy(h.job_id, cfg->job_id, strlen(cfg->job_id));
	for (size_t i = 0; i < PUBLISH_MAX; i++)
		h.publish_fds[i] = cfg->publish_fds && i < p->n_publish ? cfg->publish_fds[i] : -1;
	fd = memfd_create("nbjail-relay-handoff", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return negative_errno();
	err = write_all(fd, &h, sizeof(h));
	if (!err)
		err = write_all(fd, cfg->job_nets, cfg->n_job_nets * sizeof(*cfg->job_nets));
	if (!err)
		err = write_all(fd, p->allow, p->n_allow * sizeof(*p->allow));
	if (!err)
		err = write_all(fd, p->floor_exceptions,
				p->n_floor_exceptions * sizeof(*p->floor_exceptions));
	if (!err && p->overlays)
		err = write_all(fd, p->overlays, p->n_overlays * sizeof(*p->overlays));
	if (!err)
		err = write_all(fd, p->routes, p->n_routes * sizeof(*p->routes));
	if (!err)
		err = write_all(fd, p->publish, p->n_publish * sizeof(*p->publish));
	if (!err)
		err = write_all(fd, p->credentials, p->n_credentials * sizeof(*p->credentials));
	if (!err)
		err = write_all(fd, p->http_rules, p->n_http_rules * sizeof(*p->http_rules));
	if (!err && h.tls_roots_len)
		err = write_all(fd, cfg->tls_roots, h.tls_roots_len);
	if (err < 0)
		return err;
	if (fcntl(fd, F_ADD_SEALS, HANDOFF_SEALS) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

/* One array of the handoff: bounds-checked against what is left */
static int take_array(const unsigned char **at, size_t *left, uint32_t n, size_t size,
		      void **ret)
{
	void *copy;

	*ret = NULL;
	if (!n)
		return 0;
	if (n > *left / size)
		return -EBADMSG;
	copy = calloc(n, size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, *at, n * size);
	*at += n * size;
	*left -= n * size;
	*ret = copy;
	return 0;
}

#define TERMINATE(s) ((s)[sizeof(s) - 1] = '\0')

static void terminate_strings(struct relay_handoff_storage *st, const struct nbj_policy *p)
{
	for (size_t i = 0; i < p->n_allow; i++)
		TERMINATE(st->allow[i].name);
	for (size_t i = 0; i < p->n_floor_exceptions; i++)
		TERMINATE(st->floor_exceptions[i].name);
	for (size_t i = 0; i < p->n_routes; i++)
		TERMINATE(st->routes[i].match.name);
	for (size_t i = 0; st->overlays && i < st->n_overlays; i++) {
		struct overlay *o = &st->overlays[i];

		TERMINATE(o->name);
		TERMINATE(o->username);
		TERMINATE(o->password_env);
		TERMINATE(o->password_file);
		TERMINATE(o->password);
		TERMINATE(o->interface);
		TERMINATE(o->sam_options);
		TERMINATE(o->key_file);
		TERMINATE(o->i2p_key);
		TERMINATE(o->i2p_address);
	}
	for (size_t i = 0; i < p->n_credentials; i++) {
		struct nbj_credential *cr = &st->credentials[i];

		TERMINATE(cr->name);
		TERMINATE(cr->env);
		TERMINATE(cr->from);
		TERMINATE(cr->standin);
		if (cr->n_hosts > CRED_HOSTS_MAX)
			cr->n_hosts = 0;
		for (unsigned h = 0; h < CRED_HOSTS_MAX; h++)
			TERMINATE(cr->hosts[h].name);
		for (unsigned h = 0; h < CRED_HEADERS_MAX; h++)
			TERMINATE(cr->headers[h]);
	}
	for (size_t i = 0; i < p->n_http_rules; i++) {
		struct http_rule *r = &st->http_rules[i];

		TERMINATE(r->host);
		if (r->n_paths > HTTP_PATHS_MAX)
			r->n_paths = HTTP_PATHS_MAX;	/* never fewer rules: "any path" */
		for (unsigned j = 0; j < HTTP_PATHS_MAX; j++)
			TERMINATE(r->paths[j]);
	}
}

/**
 * relay_handoff_read() - the relay's configuration from its handoff memfd
 * @fd:		the memfd
 * @cfg:	filled; points into @st
 * @st:		owns the arrays (relay_handoff_free())
 * @ret_stats_fd: the statistics file's fd
 * @ret_tenant_fd: the tenant file's fd, or -1
 *
 * Return: 0; -EBADMSG for a handoff of another build, a wrong size or an
 * unsealed memfd; another negative errno
 */
int relay_handoff_read(int fd, struct relay_config *cfg, struct relay_handoff_storage *st,
		       int *ret_stats_fd, int *ret_tenant_fd)
{
	struct relay_handoff h;
	uint32_t sizes[9];
	const unsigned char *at;
	unsigned char *map;
	struct stat sb;
	size_t left;
	int seals, err;

	memset(st, 0, sizeof(*st));
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & HANDOFF_SEALS) != HANDOFF_SEALS)
		return -EBADMSG;
	if (fstat(fd, &sb) < 0)
		return negative_errno();
	if ((size_t)sb.st_size < sizeof(h) || sb.st_size > (off_t)(64u << 20))
		return -EBADMSG;
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return negative_errno();
	memcpy(&h, map, sizeof(h));
	record_sizes(sizes);
	err = h.magic != HANDOFF_MAGIC || h.version != HANDOFF_VERSION ||
	      memcmp(sizes, h.record_sizes, sizeof(sizes)) || h.n_publish > PUBLISH_MAX ||
	      h.n_overlays > OVERLAYS_MAX ||
	      h.n_overlay_records > h.n_overlays || h.n_routes > ROUTES_MAX ||
	      h.n_credentials > CREDENTIALS_MAX || h.n_http_rules > HTTP_RULES_MAX ||
	      (h.has_overlays && (h.n_overlay_records != h.n_overlays ||
				  h.default_overlay >= h.n_overlays)) ||
	      h.n_job_nets > RELAY_JOB_NETS_MAX || h.tls_roots_len > HANDOFF_ROOTS_MAX
	      ? -EBADMSG : 0;
	at = map + sizeof(h);
	left = (size_t)sb.st_size - sizeof(h);
	if (!err)
		err = take_array(&at, &left, h.n_job_nets, sizeof(*st->job_nets),
				 (void **)&st->job_nets);
	if (!err)
		err = take_array(&at, &left, h.n_allow, sizeof(*st->allow), (void **)&st->allow);
	if (!err)
		err = take_array(&at, &left, h.n_floor_exceptions, sizeof(*st->floor_exceptions),
				 (void **)&st->floor_exceptions);
	if (!err)
		err = take_array(&at, &left, h.n_overlay_records, sizeof(*st->overlays),
				 (void **)&st->overlays);
	if (!err)
		st->n_overlays = h.n_overlay_records;
	if (!err)
		err = take_array(&at, &left, h.n_routes, sizeof(*st->routes), (void **)&st->routes);
	if (!err)
		err = take_array(&at, &left, h.n_publish, sizeof(*st->publish),
				 (void **)&st->publish);
	if (!err)
		err = take_array(&at, &left, h.n_credentials, sizeof(*st->credentials),
				 (void **)&st->credentials);
	if (!err)
		err = take_array(&at, &left, h.n_http_rules, sizeof(*st->http_rules),
				 (void **)&st->http_rules);
	if (!err)
		err = take_array(&at, &left, h.tls_roots_len, 1, (void **)&st->tls_roots);
	if (!err && left)
		err = -EBADMSG;
	munmap(map, (size_t)sb.st_size);
	if (err < 0) {
		relay_handoff_free(st);
		return err;
	}
	TERMINATE(h.job_id);
	memcpy(st->job_id, h.job_id, sizeof(st->job_id));
	memcpy(st->publish_fds, h.publish_fds, sizeof(st->publish_fds));
	st->policy = (struct nbj_policy){
		.allow = st->allow,
		.n_allow = h.n_allow,
		.floor_exceptions = st->floor_exceptions,
		.n_floor_exceptions = h.n_floor_exceptions,
		.overlays = h.has_overlays ? st->overlays : NULL,
		.n_overlays = h.n_overlays,
		.default_overlay = h.default_overlay,
		.routes = st->routes,
		.n_routes = h.n_routes,
		.publish = st->publish,
		.n_publish = h.n_publish,
		.select_allowed = h.select_allowed,
		.credentials = st->credentials,
		.n_credentials = h.n_credentials,
		.http_rules = st->http_rules,
		.n_http_rules = h.n_http_rules,
	};
	terminate_strings(st, &st->policy);
	*cfg = (struct relay_config){
		.job_id = st->job_id,
		.tcp_fds = { h.tcp_fds[0], h.tcp_fds[1] },
		.dns_fds = { h.dns_fds[0], h.dns_fds[1] },
		.socket_factory = h.socket_factory,
		.keyholder_fd = h.keyholder_fd,
		.dock_fd = h.dock_fd,
		.job_fds_sock = h.job_fds_sock,
		.resolver = h.resolver,
		.policy = &st->policy,
		.job_nets = st->job_nets,
		.n_job_nets = h.n_job_nets,
		.max_flows = h.max_flows,
		.audit = { .fd = h.audit_fd,
			   .tenant_slot = h.tenant_slot >= 0 && h.tenant_slot < TENANT_SLOTS
				   ? h.tenant_slot : -1,
			   .limits = h.limits },
		.job_addrs = { h.job_addrs[0], h.job_addrs[1] },
		.publish_fds = st->publish_fds,
		.select_ports = h.select_ports,
		.tls_roots = st->tls_roots,
		.tls_roots_len = st->tls_roots ? h.tls_roots_len : 0,
	};
	*ret_stats_fd = h.stats_fd;
	*ret_tenant_fd = h.tenant_fd;
	return 0;
}

/**
 * relay_job_fds_recv() - the job-side sockets, sent by the supervisor on
 * @cfg->job_fds_sock once the job's init has made them: the relay is
 * exec'd while the init still builds the job's namespaces
 * @cfg:	the configuration from the handoff; its tcp, dns, factory and
 *		dock (listener and desk) fds are set from the message, and
 *		job_fds_sock is closed
 *		(-1 already: they were inherited, nothing to do)
 *
 * Blocks until the message comes; the supervisor's end closed first (the
 * job failed) is -EPIPE.
 *
 * Return: 0, or negative errno (nothing is kept)
 */
int relay_job_fds_recv(struct relay_config *cfg)
{
	int got[RELAY_FDS], fds[RELAY_FDS];
	uint32_t mask = 0;
	size_t n = 0, k = 0;
	ssize_t r;

	if (cfg->job_fds_sock < 0)
		return 0;
	r = fd_recv(cfg->job_fds_sock, &mask, sizeof(mask), 0, got, RELAY_FDS, &n);
	closep(&cfg->job_fds_sock);
	cfg->job_fds_sock = -1;
	for (int i = 0; i < RELAY_FDS; i++)
		fds[i] = r == sizeof(mask) && (mask & (1u << i)) && k < n ? got[k++] : -1;
	if (r != sizeof(mask) || k != n || (mask >> RELAY_FDS)) {
		for (size_t i = 0; i < n; i++)
			closep(&got[i]);
		return r < 0 ? (int)r : r == 0 ? -EPIPE : -EPROTO;
	}
	cfg->tcp_fds[0] = fds[RELAY_FD_TCP4];
	cfg->tcp_fds[1] = fds[RELAY_FD_TCP6];
	cfg->dns_fds[0] = fds[RELAY_FD_DNS4];
	cfg->dns_fds[1] = fds[RELAY_FD_DNS6];
	cfg->socket_factory = fds[RELAY_FD_FACTORY];
	cfg->dock_fd = fds[RELAY_FD_DOCK];
	cfg->dock_desk_fd = fds[RELAY_FD_DOCK_DESK];
	return 0;
}

/**
 * relay_handoff_free() - free what relay_handoff_read() allocated
 * @st:		storage; overlay secrets are wiped first
 */
void relay_handoff_free(struct relay_handoff_storage *st)
{
	if (st->overlays)
		explicit_bzero(st->overlays, st->n_overlays * sizeof(*st->overlays));
	free(st->job_nets);
	free(st->allow);
	free(st->floor_exceptions);
	free(st->overlays);
	free(st->routes);
	free(st->publish);
	free(st->credentials);
	free(st->http_rules);
	free(st->tls_roots);
	memset(st, 0, sizeof(*st));
}

/* The relay's fd budget is here, beside its configuration, so that the
 * supervisor, which needs it, does not link the relay's loop (and with it
 * c-ares, ldns and OpenSSL). */
/**
 * relay_fds_reserved() - the fds a relay keeps beside its flows' sockets
 * @p:		its policy: a port published in mode http reserves the
 *		inbound table's (relay/inbound.c), which no other relay pays
 *
 * Return: the number of fds
 */
unsigned long relay_fds_reserved(const struct nbj_policy *p)
{
	unsigned long n = FDS_RESERVED;

	for (size_t i = 0; p && i < p->n_publish; i++)
		if (p->publish[i].mode == PUBLISH_HTTP)
			return n + FDS_RESERVED_INBOUND;
	return n;
}

/**
 * relay_fd_limit() - the RLIMIT_NOFILE a relay with @max_flows flows wants
 * @p:		its policy (relay_fds_reserved())
 * @max_flows:	size of its flow table
 *
 * Return: the number of fds; the supervisor raises the hard limit to it
 * before the relay gives up the privilege to
 */
unsigned long relay_fd_limit(const struct nbj_policy *p, unsigned max_flows)
{
	return (unsigned long)max_flows * FDS_PER_FLOW + relay_fds_reserved(p);
}
