/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/config.c - struct nbj_config: what a job should be
 *
 * A config is plain data, validated as it is set: every setter rejects
 * bad input with -EINVAL and leaves the config unchanged, so a config
 * that exists is a config that can start.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "policy/load.h"
#include "supervisor/supervisor.h"

/**
 * nbj_config_new() - a config with defaults: profile net, no allow rules,
 * the caller's uid/gid
 * @ret:	the new config, free with nbj_config_free()
 *
 * Return: 0, or -ENOMEM
 */
int nbj_config_new(struct nbj_config **ret)
{
	struct nbj_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -ENOMEM;
	cfg->profile = NBJ_PROFILE_NET;
	cfg->terminal_fd = -1;
	cfg->uid = getuid();
	cfg->gid = getgid();
	*ret = cfg;
	return 0;
}

static void argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/**
 * nbj_config_free() - release a config
 * @cfg:	config, may be NULL
 */
void nbj_config_free(struct nbj_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->allow);
	free(cfg->floor_exceptions);
	free(cfg->unix_allow);
	free(cfg->name);
	free(cfg->tenant);
	free(cfg->audit_log);
	free(cfg->overlays);
	free(cfg->routes);
	free(cfg->publish);
	free(cfg->default_overlay_name);
	policy_env_free(&cfg->env);
	argv_free(cfg->argv);
	free(cfg->fs_rules);
	free(cfg->secrets);
	free(cfg->credentials);
	free(cfg->http_rules);
	free(cfg->tls_roots);
	for (size_t i = 0; i < cfg->n_policy_files; i++)
		free(cfg->policy_files[i]);
	free(cfg->policy_files);
	for (size_t i = 0; i < cfg->n_audit_fields; i++)
		free(cfg->audit_fields[i]);
	free(cfg);
}

static const char *const profile_names[] = {
	[NBJ_PROFILE_MINIMAL] = "minimal",
	[NBJ_PROFILE_COMPUTE] = "compute",
	[NBJ_PROFILE_NET] = "net",
	[NBJ_PROFILE_BROWSE] = "browse",
};

/**
 * nbj_profile_from_string() - parse a profile name
 * @s:		"minimal", "compute", "net" or "browse"
 * @ret:	the profile
 *
 * Return: 0, or -EINVAL for an unknown name
 */
int nbj_profile_from_string(const char *s, enum nbj_profile *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(profile_names); i++) {
		if (s && !strcmp(s, profile_names[i])) {
			*ret = (enum nbj_profile)i;
			return 0;
		}
	}
	return -EINVAL;
}

/**
 * nbj_profile_to_string() - name of a profile
 * @p:	profile
 *
 * Return: its name, or "unknown"
 */
const char *nbj_profile_to_string(enum nbj_profile p)
{
	if ((size_t)p < ARRAY_SIZE(profile_names))
		return profile_names[p];
	return "unknown";
}

/**
 * nbj_config_set_profile() - choose the job's profile
 * @cfg:	config
 * @p:		profile
 *
 * Return: 0, or -EINVAL
 */
int nbj_config_set_profile(struct nbj_config *cfg, enum nbj_profile p)
{
	if ((size_t)p >= ARRAY_SIZE(profile_names))
		return -EINVAL;
	cfg->profile = p;
	return 0;
}

static int rules_append(struct allow_rule **rules, size_t *n,
			const struct allow_rule *add, size_t n_add)
{
	struct allow_rule *grown;

	if (*n + n_add > NBJ_MAX_ALLOW)
		return -E2BIG;
	if (!n_add)
		return 0;
	grown = realloc(*rules, (*n + n_add) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	memcpy(grown + *n, add, n_add * sizeof(*add));
	*rules = grown;
	*n += n_add;
	return 0;
}

static int add_rule(const char *pattern, bool names, struct allow_rule **rules,
		    size_t *n)
{
	struct allow_rule rule;
	int err;

	if (!pattern)
		return -EINVAL;
	err = allow_parse(pattern, &rule);
	if (err < 0)
		return err;
	if (!names && rule.kind != ALLOW_ADDR)
		return -EINVAL;
	return rules_append(rules, n, &rule, 1);
}

/**
 * nbj_config_add_allow() - add one allow pattern (host, host:port,
 * *.suffix, *.suffix:port, IP, IP:port, CIDR, [v6]:port)
 * @cfg:	config
 * @pattern:	the pattern
 *
 * Return: 0, -EINVAL if malformed, -E2BIG past NBJ_MAX_ALLOW rules, -ENOMEM
 */
int nbj_config_add_allow(struct nbj_config *cfg, const char *pattern)
{
	return add_rule(pattern, true, &cfg->allow, &cfg->n_allow);
}

/**
 * nbj_config_add_floor_exception() - let the job reach an address of the
 * floor (e.g. an internal registry), if the allow-list also allows it
 * @cfg:	config
 * @pattern:	IP, IP:port, CIDR or [v6]:port
 *
 * The relay logs every exception when the job starts and each time one
 * is used.
 *
 * Return: 0, -EINVAL (also for a name: exceptions are addresses), -E2BIG,
 * -ENOMEM
 */
int nbj_config_add_floor_exception(struct nbj_config *cfg, const char *pattern)
{
	/* an exception names addresses, never names */
	return add_rule(pattern, false, &cfg->floor_exceptions,
			&cfg->n_floor_exceptions);
}

static int unix_rules_append(struct nbj_config *cfg, const struct unix_rule *add,
			     size_t n_add)
{
	struct unix_rule *r;

	if (!n_add)
		return 0;
	if (cfg->n_unix_allow + n_add > NBJ_MAX_ALLOW)
		return -E2BIG;
	r = realloc(cfg->unix_allow, (cfg->n_unix_allow + n_add) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r + cfg->n_unix_allow, add, n_add * sizeof(*r));
	cfg->unix_allow = r;
	cfg->n_unix_allow += n_add;
	return 0;
}

/**
 * nbj_config_add_unix_allow() - let the job use a pathname AF_UNIX socket
 * outside its private mounts (/run, /var/run and /dev/shm are the job's
 * own; every other socket path is refused with EACCES)
 * @cfg:	config
 * @path:	absolute path of the socket; the supervisor compares the
 *		inode the job reaches with the one this path names inside the
 *		job, so a symlink cannot stand in for it
 *
 * Return: 0, -EINVAL if not absolute or with "." or ".." components,
 * -ENAMETOOLONG, -E2BIG, -ENOMEM
 */
int nbj_config_add_unix_allow(struct nbj_config *cfg, const char *path)
{
	struct unix_rule rule;
	int err = unix_rule_parse(path, &rule);

	return err < 0 ? err : unix_rules_append(cfg, &rule, 1);
}

static int fs_rules_append(struct nbj_config *cfg, const struct fs_rule *add,
			   size_t n_add)
{
	struct fs_rule *r;

	if (!n_add)
		return 0;
	if (cfg->n_fs_rules + n_add > FS_RULES_MAX)
		return -E2BIG;
	r = realloc(cfg->fs_rules, (cfg->n_fs_rules + n_add) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r + cfg->n_fs_rules, add, n_add * sizeof(*r));
	cfg->fs_rules = r;
	cfg->n_fs_rules += n_add;
	return 0;
}

/**
 * nbj_config_add_write() - let the job write a path of the host (the rest
 * of the host is read-only in the job; see FILESYSTEM in nbjail(1))
 * @cfg:	config
 * @path:	absolute, "~/..." (the caller's home) or relative to the
 *		working directory; no "." or ".." components.  It must exist
 *		when the job starts.
 *
 * Return: 0, -EINVAL, -ENAMETOOLONG, -E2BIG past FS_RULES_MAX paths, -ENOMEM
 */
int nbj_config_add_write(struct nbj_config *cfg, const char *path)
{
	char abs[FS_PATH_MAX], cwd[PATH_MAX];
	struct fs_rule rule;
	int err;

	if (!path || !path[0])
		return -EINVAL;
	if (path[0] != '/' && path[0] != '~') {
		if (!getcwd(cwd, sizeof(cwd)))
			return negative_errno();
		if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
			return -ENAMETOOLONG;
		path = abs;
	}
	err = fs_rule_parse(path, FS_RULE_WRITE, &rule);
	if (err < 0)
		return err;
	snprintf(rule.where, sizeof(rule.where), "--write");
	return fs_rules_append(cfg, &rule, 1);
}

/* The policy file as given, made absolute but not resolved: fsview.c
 * checks the path as written and as resolved */
static int policy_file_remember(struct nbj_config *cfg, const char *path)
{
	char cwd[PATH_MAX], **grown, *abs;

	if (path[0] == '/') {
		abs = strdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, path) < 0)
			abs = NULL;
	}
	if (!abs)
		return -ENOMEM;
	grown = realloc(cfg->policy_files, (cfg->n_policy_files + 1) * sizeof(*grown));
	if (!grown) {
		free(abs);
		return -ENOMEM;
	}
	grown[cfg->n_policy_files++] = abs;
	cfg->policy_files = grown;
	return 0;
}

static void rate_merge(struct rate_policy *to, const struct rate_policy *from)
{
	if (from->connects_per_s)
		to->connects_per_s = from->connects_per_s;
	if (from->connects_burst)
		to->connects_burst = from->connects_burst;
	if (from->concurrent)
		to->concurrent = from->concurrent;
	if (from->bytes_per_s)
		to->bytes_per_s = from->bytes_per_s;
	if (from->bytes_burst)
		to->bytes_burst = from->bytes_burst;
	if (from->dock_calls_per_s)
		to->dock_calls_per_s = from->dock_calls_per_s;
}

/* A policy file's limits replace the ones it names */
static void rates_merge(struct nbj_rates *to, const struct nbj_rates *from)
{
	rate_merge(&to->job, &from->job);
	rate_merge(&to->tenant, &from->tenant);
}

/* A policy file's secrets join the earlier files'; a name given twice is
 * an error (which file's bytes would `sign NAME` use?) */
static int secrets_append(struct nbj_config *cfg, const struct policy_doc *doc,
			  const char *path, char *errbuf, size_t errlen)
{
	struct policy_secret *grown;

	if (!doc->n_secrets)
		return 0;
	if (cfg->n_secrets + doc->n_secrets > SECRETS_MAX) {
		snprintf(errbuf, errlen, "%s: secrets: more than %d secrets in all", path,
			 SECRETS_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < doc->n_secrets; i++)
		for (size_t j = 0; j < cfg->n_secrets; j++)
			if (!strcmp(doc->secrets[i].name, cfg->secrets[j].name)) {
				snprintf(errbuf, errlen, "%s: secrets.%s: already given by an "
					 "earlier policy file", path, doc->secrets[i].name);
				return -EINVAL;
			}
	grown = realloc(cfg->secrets, (cfg->n_secrets + doc->n_secrets) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	memcpy(grown + cfg->n_secrets, doc->secrets, doc->n_secrets * sizeof(*grown));
	cfg->secrets = grown;
	cfg->n_secrets += doc->n_secrets;
	return 0;
}

/**
 * nbj_config_load_policy() - apply a policy file to a config
 * @cfg:	config; its profile is replaced if the file names one, allow
 *		rules, floor exceptions and unix_allow paths are appended
 * @path:	YAML policy file, see nbjail.yaml(5)
 * @errbuf:	on failure, a message naming file, line, column and field
 * @errlen:	size of @errbuf
 *
 * Nothing is applied unless the whole file is valid.
 *
 * Return: 0, -EINVAL for a bad file, -ENOENT etc. if it cannot be read
 */
int nbj_config_load_policy(struct nbj_config *cfg, const char *path,
			   char *errbuf, size_t errlen)
{
	struct policy_doc doc;
	enum nbj_profile profile = cfg->profile;
	size_t n_allow = cfg->n_allow, n_exceptions = cfg->n_floor_exceptions;
	size_t n_unix = cfg->n_unix_allow, n_secrets = cfg->n_secrets;
	int err;

	err = policy_load(path, &doc, errbuf, errlen);
	if (err < 0)
		return err;
	/* checked first: nothing else is applied when it fails */
	err = secrets_append(cfg, &doc, path, errbuf, errlen);
	if (err < 0) {
		policy_doc_free(&doc);
		return err;
	}
	if (doc.profile[0] && nbj_profile_from_string(doc.profile, &profile) < 0) {
		snprintf(errbuf, errlen,
			 "%s:%u: profile: unknown profile '%s' (minimal, compute, net or browse)",
			 path, doc.profile_line, doc.profile);
		err = -EINVAL;
	}
	if (!err && doc.tenant[0])
		err = nbj_config_set_tenant(cfg, doc.tenant);
	if (!err)
		rates_merge(&cfg->rates, &doc.rates);
	if (!err)
		limits_narrow(&cfg->limits, &doc.limits);
	if (!err && doc.n_overlays) {
		free(cfg->overlays);
		cfg->overlays = TAKE_PTR(doc.overlays);
		cfg->n_overlays = doc.n_overlays;
	}
	if (!err && (doc.n_overlays || doc.default_overlay))
		cfg->default_overlay = doc.default_overlay;
	if (!err && doc.n_routes) {
		free(cfg->routes);
		cfg->routes = TAKE_PTR(doc.routes);
		cfg->n_routes = doc.n_routes;
	}
	if (!err && doc.n_publish) {
		free(cfg->publish);
		cfg->publish = TAKE_PTR(doc.publish);
		cfg->n_publish = doc.n_publish;
	}
	if (!err)
		cfg->select_allowed = doc.select_allowed;
	if (!err && doc.n_credentials) {	/* a later file's replace an earlier's */
		free(cfg->credentials);
		cfg->credentials = TAKE_PTR(doc.credentials);
		cfg->n_credentials = doc.n_credentials;
	}
	if (!err && doc.n_http_rules) {
		free(cfg->http_rules);
		cfg->http_rules = TAKE_PTR(doc.http_rules);
		cfg->n_http_rules = doc.n_http_rules;
	}
	if (!err && doc.tls_roots[0]) {	/* the last file that names one */
		char *roots = strdup(doc.tls_roots);

		if (!roots) {
			err = -ENOMEM;
		} else {
			free(cfg->tls_roots);
			cfg->tls_roots = roots;
		}
	}
	if (!err && (doc.env.clear || doc.env.n_keep || doc.env.n_set)) {
		policy_env_free(&cfg->env);
		cfg->env = doc.env;
		memset(&doc.env, 0, sizeof(doc.env));
	}
	if (!err)
		err = rules_append(&cfg->allow, &cfg->n_allow, doc.allow, doc.n_allow);
	if (!err) {
		err = rules_append(&cfg->floor_exceptions, &cfg->n_floor_exceptions,
				   doc.floor_exceptions, doc.n_floor_exceptions);
		if (err < 0)
			cfg->n_allow = n_allow;
	}
	if (!err) {
		err = unix_rules_append(cfg, doc.unix_allow, doc.n_unix_allow);
		if (err < 0) {
			cfg->n_allow = n_allow;
			cfg->n_floor_exceptions = n_exceptions;
		}
	}
	if (!err) {
		err = fs_rules_append(cfg, doc.fs_rules, doc.n_fs_rules);
		if (err < 0) {
			cfg->n_allow = n_allow;
			cfg->n_floor_exceptions = n_exceptions;
			cfg->n_unix_allow = n_unix;
		}
	}
	/* the file the job starts from: kept out of the job's reach (fsview.c) */
	if (!err && policy_file_remember(cfg, path) < 0) {
		snprintf(errbuf, errlen, "%s: cannot resolve its path", path);
		cfg->n_allow = n_allow;
		cfg->n_floor_exceptions = n_exceptions;
		cfg->n_unix_allow = n_unix;
		cfg->n_fs_rules -= doc.n_fs_rules;
		err = -ENOMEM;
	}
	if (err == -E2BIG)
		snprintf(errbuf, errlen, "%s: more than %d rules in all", path,
			 NBJ_MAX_ALLOW);
	if (!err)
		cfg->profile = profile;
	else
		cfg->n_secrets = n_secrets;
	policy_doc_free(&doc);
	return err;
}

/* credentials: and http:, as nbjail.yaml(5) writes them (never a stand-in) */
static void print_credentials(FILE *out, const struct nbj_config *cfg)
{
	static const char *const methods[] = HTTP_METHOD_NAMES;

	for (size_t i = 0; i < cfg->n_credentials; i++) {
		const struct nbj_credential *cr = &cfg->credentials[i];
		char host[NBJ_NAME_MAX + 16];

		fprintf(out, "%s  %s:\n    secret: {%s: \"%s\"}\n    hosts: [", i ? "" :
			"credentials:\n", cr->name, cr->from_env ? "env" : "file", cr->from);
		for (unsigned h = 0; h < cr->n_hosts; h++)
			fprintf(out, "%s\"%s\"", h ? ", " : "",
				allow_rule_format(&cr->hosts[h], host, sizeof(host)));
		fprintf(out, "]\n    env: %s\n    on_leak: %s\n", cr->env,
			cr->revoke_on_leak ? "revoke" : "deny");
		for (unsigned h = 0; h < cr->n_headers; h++)
			fprintf(out, "%s%s", h ? ", " : "    headers: [", cr->headers[h]);
		if (cr->n_headers)
			fprintf(out, "]\n");
	}
	for (size_t i = 0; i < cfg->n_http_rules; i++) {
		const struct http_rule *r = &cfg->http_rules[i];
		bool first = true;

		fprintf(out, "%s  - {host: \"%s:%u\"", i ? "" : "http:\n", r->host, r->port);
		if (r->methods) {
			fprintf(out, ", methods: [");
			for (unsigned m = 0; m < HTTP_METHODS_COUNT; m++)
				if (r->methods & (1u << m)) {
					fprintf(out, "%s%s", first ? "" : ", ", methods[m]);
					first = false;
				}
			fprintf(out, "]");
		}
		for (unsigned j = 0; j < r->n_paths; j++)
			fprintf(out, "%s\"%s\"", j ? ", " : ", paths: [", r->paths[j]);
		fprintf(out, "%s}\n", r->n_paths ? "]" : "");
	}
}

static void print_rules(FILE *out, const char *key, const struct allow_rule *r,
			size_t n)
{
	char buf[NBJ_ADDR_STRLEN + 8];

	fprintf(out, "%s:%s\n", key, n ? "" : " []");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  - \"%s\"\n", allow_rule_format(&r[i], buf, sizeof(buf)));
}

static void print_rate_policy(FILE *out, const struct rate_policy *p,
			      const char *indent)
{
	if (p->connects_per_s)
		fprintf(out, "%sconnects_per_s: %llu\n", indent,
			(unsigned long long)p->connects_per_s);
	if (p->connects_burst)
		fprintf(out, "%sconnects_burst: %llu\n", indent,
			(unsigned long long)p->connects_burst);
	if (p->concurrent)
		fprintf(out, "%sconcurrent: %llu\n", indent, (unsigned long long)p->concurrent);
	if (p->bytes_per_s)
		fprintf(out, "%sbytes_per_s: %llu\n", indent, (unsigned long long)p->bytes_per_s);
	if (p->bytes_burst)
		fprintf(out, "%sbytes_burst: %llu\n", indent, (unsigned long long)p->bytes_burst);
	if (p->dock_calls_per_s)
		fprintf(out, "%sdock_calls_per_s: %llu\n", indent,
			(unsigned long long)p->dock_calls_per_s);
}

static void print_overlays(FILE *out, const struct nbj_config *cfg)
{
	static const char *const kinds[] = {
		[OVERLAY_DIRECT] = "direct", [OVERLAY_SOCKS5] = "socks5",
		[OVERLAY_HTTP_CONNECT] = "http-connect", [OVERLAY_TAILSCALE] = "tailscale", [OVERLAY_I2P] = "i2p",
	};
	char buf[NBJ_ADDR_STRLEN + 8];

	if (!cfg->n_overlays && !cfg->n_routes)
		return;
	fprintf(out, "overlays:\n");
	for (size_t i = 1; i < cfg->n_overlays; i++) {
		const struct overlay *o = &cfg->overlays[i];
		struct nbj_addr host = o->proxy;

		host.port = 0;
		fprintf(out, "  %s:\n    kind: %s\n", o->name, kinds[o->kind]);
		if (o->interface[0] && !o->proxy.family)
			fprintf(out, "    interface: \"%s\"\n", o->interface);
		if (o->via_http)
			fprintf(out, "    proxy: http-connect\n");
		if (o->kind != OVERLAY_DIRECT && o->proxy.family)
			fprintf(out, "    host: \"%s\"\n    port: %u\n",
				nbj_addr_format(&host, buf, sizeof(buf)), o->proxy.port);
		if (o->username[0])
			fprintf(out, "    username: \"%s\"\n", o->username);
		if (o->password_env[0])
			fprintf(out, "    password_env: \"%s\"\n", o->password_env);
		if (o->password_file[0])
			fprintf(out, "    password_file: \"%s\"\n", o->password_file);
		if (o->isolate_streams)
			fprintf(out, "    isolate_streams: true\n");
		if (o->key_file[0])
			fprintf(out, "    key_file: \"%s\"\n", o->key_file);
		if (o->sam_options[0])
			fprintf(out, "    sam_options: \"%s\"\n", o->sam_options);
	}
	if (cfg->n_overlays)
		fprintf(out, "default_overlay: %s\n", cfg->overlays[cfg->default_overlay].name);
	fprintf(out, "routes:%s\n", cfg->n_routes ? "" : " []");
	for (size_t i = 0; i < cfg->n_routes; i++)
		fprintf(out, "  - {match: \"%s\", overlay: %s}\n",
			allow_rule_format(&cfg->routes[i].match, buf, sizeof(buf)),
			cfg->n_overlays ? cfg->overlays[cfg->routes[i].overlay].name : "direct");
}

static void print_publish(FILE *out, const struct nbj_config *cfg)
{
	for (size_t i = 0; i < cfg->n_publish; i++) {
		const struct publish_entry *e = &cfg->publish[i];

		if (!i)
			fprintf(out, "publish:\n");
		fprintf(out, "  - {");
		if (e->port)
			fprintf(out, "port: %u, ", e->port);
		fprintf(out, "to: %u, overlay: %s", e->to,
			cfg->n_overlays ? cfg->overlays[e->overlay].name : "direct");
		if (e->mode == PUBLISH_HTTP) {
			const struct inbound_limits *l = &e->limits;

			fprintf(out, ", mode: http, rate: {per_client: %llu/s, burst: %llu}, "
				"concurrent: %llu, max_body: %llu, max_header: %u, "
				"header_timeout: %u, max_duration: %u",
				(unsigned long long)l->per_client_per_s,
				(unsigned long long)l->per_client_burst,
				(unsigned long long)l->concurrent, (unsigned long long)l->max_body,
				l->max_header, l->header_timeout_s, l->max_duration_s);
		}
		fprintf(out, "}\n");
	}
	fprintf(out, "permissions: {network.select: %s}\n",
		cfg->select_allowed ? "allow" : "deny");
}

static void print_rates(FILE *out, const struct nbj_rates *r)
{
	static const struct rate_policy none;
	bool job = memcmp(&r->job, &none, sizeof(none)) != 0;
	bool tenant = memcmp(&r->tenant, &none, sizeof(none)) != 0;

	if (!job && !tenant)
		return;
	fprintf(out, "rates:\n");
	print_rate_policy(out, &r->job, "  ");
	if (tenant) {
		fprintf(out, "  tenant:\n");
		print_rate_policy(out, &r->tenant, "    ");
	}
}

static void print_env(FILE *out, const struct nbj_config *cfg)
{
	const struct policy_env *e = &cfg->env;

	if (!cfg->clearenv && !e->clear && !e->n_keep && !e->n_set)
		return; /* the default: nbjail's environment less its secrets */
	fprintf(out, "env:\n  clear: %s\n", cfg->clearenv || e->clear ? "true" : "false");
	fprintf(out, "  keep:%s\n", e->n_keep ? "" : " []");
	for (size_t i = 0; i < e->n_keep; i++)
		fprintf(out, "    - \"%s\"\n", e->keep[i]);
	fprintf(out, "  set:%s\n", e->n_set ? "" : " {}");
	for (size_t i = 0; i < e->n_set; i++) {
		/* a YAML double-quoted string: \\, \" and \xNN */
		fprintf(out, "    %.*s: \"", (int)strcspn(e->set[i], "="), e->set[i]);
		for (const char *v = strchr(e->set[i], '=') + 1; *v; v++) {
			unsigned char ch = (unsigned char)*v;

			if (ch == '\\' || ch == '"')
				fprintf(out, "\\%c", ch);
			else if (ch < 0x20 || ch == 0x7f)
				fprintf(out, "\\x%02x", ch);
			else
				fputc(ch, out);
		}
		fputs("\"\n", out);
	}
}

static void print_filesystem(FILE *out, const struct nbj_config *cfg)
{
	static const char *const keys[] = { [FS_RULE_WRITE] = "write",
					     [FS_RULE_HIDE] = "hide" };

	if (!cfg->n_fs_rules)
		return;
	fprintf(out, "filesystem:\n");
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		bool first = true;

		for (size_t i = 0; i < cfg->n_fs_rules; i++) {
			const struct fs_rule *r = &cfg->fs_rules[i];

			if (r->kind != k)
				continue;
			if (first)
				fprintf(out, "  %s:\n", keys[k]);
			first = false;
			fprintf(out, "    - \"%s%s\"\n", r->home ? "~" : "", r->path);
		}
	}
}

/**
 * nbj_config_print_policy() - print the effective policy as YAML that
 * nbj_config_load_policy() accepts
 * @cfg:	config
 * @out:	stream
 *
 * Return: 0, or -EIO if writing failed
 */
int nbj_config_print_policy(const struct nbj_config *cfg, FILE *out)
{
	if (cfg->tenant)
		fprintf(out, "tenant: %s\n", cfg->tenant);
	fprintf(out, "profile: %s\n", nbj_profile_to_string(cfg->profile));
	print_rules(out, "allow", cfg->allow, cfg->n_allow);
	print_rules(out, "floor_exceptions", cfg->floor_exceptions,
		    cfg->n_floor_exceptions);
	print_rates(out, &cfg->rates);
	if (cfg->limits.pids || cfg->limits.memory) {
		fprintf(out, "limits:\n");
		if (cfg->limits.pids)
			fprintf(out, "  pids: %llu\n", (unsigned long long)cfg->limits.pids);
		if (cfg->limits.memory)
			fprintf(out, "  memory: %llu\n", (unsigned long long)cfg->limits.memory);
	}
	print_overlays(out, cfg);
	print_publish(out, cfg);
	print_env(out, cfg);
	fprintf(out, "unix_allow:%s\n", cfg->n_unix_allow ? "" : " []");
	for (size_t i = 0; i < cfg->n_unix_allow; i++)
		fprintf(out, "  - \"%s\"\n", cfg->unix_allow[i].path);
	print_filesystem(out, cfg);
	for (size_t i = 0; i < cfg->n_secrets; i++)
		fprintf(out, "%s  %s: {%s: \"%s\"}\n", i ? "" : "secrets:\n",
			cfg->secrets[i].name,
			cfg->secrets[i].source == SECRET_FILE ? "file" : "env",
			cfg->secrets[i].from);
	if (cfg->tls_roots)
		fprintf(out, "tls_roots: \"%s\"\n", cfg->tls_roots);
	print_credentials(out, cfg);
	return ferror(out) ? -EIO : 0;
}

/**
 * nbj_config_limit_pids() - at most @pids tasks in the job at once (its
 * init, processes and threads); narrows only: the smaller of this and the
 * policy's limit wins
 * @cfg:	config
 * @pids:	1 to 4194304
 *
 * Enforced by a cgroup of the job's own; nbj_job_start() fails
 * (-EOPNOTSUPP, logged with the cause) where it cannot be.
 *
 * Return: 0, or -ERANGE
 */
int nbj_config_limit_pids(struct nbj_config *cfg, uint64_t pids)
{
	struct nbj_limits l = { .pids = pids };

	if (pids < 1 || pids > LIMIT_PIDS_MAX)
		return -ERANGE;
	limits_narrow(&cfg->limits, &l);
	return 0;
}

/**
 * nbj_config_limit_memory() - at most @bytes of memory for the job's
 * processes together, no swap; narrows only, like nbj_config_limit_pids()
 * @cfg:	config
 * @bytes:	4 MiB or more
 *
 * Return: 0, or -ERANGE
 */
int nbj_config_limit_memory(struct nbj_config *cfg, uint64_t bytes)
{
	struct nbj_limits l = { .memory = bytes };

	if (bytes < LIMIT_MEMORY_MIN || bytes > LIMIT_MEMORY_MAX)
		return -ERANGE;
	limits_narrow(&cfg->limits, &l);
	return 0;
}

/**
 * nbj_config_set_user() - who the workload runs as
 * @cfg:	config
 * @uid:	user id
 * @gid:	primary group id; supplementary groups come from the user
 *		database at start
 *
 * Return: 0, or -EINVAL for (uid_t)-1 / (gid_t)-1
 */
int nbj_config_set_user(struct nbj_config *cfg, uid_t uid, gid_t gid)
{
	if (uid == (uid_t)-1 || gid == (gid_t)-1)
		return -EINVAL;
	cfg->uid = uid;
	cfg->gid = gid;
	cfg->user_set = true;
	return 0;
}

/**
 * nbj_config_set_name() - the job's name, also its hostname
 * @cfg:	config
 * @name:	1 to 63 characters of [A-Za-z0-9.-_], not starting with
 *		'-' or '.'
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int nbj_config_set_name(struct nbj_config *cfg, const char *name)
{
	char *copy;

	if (!nbj_label_valid(name))
		return -EINVAL;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(cfg->name);
	cfg->name = copy;
	return 0;
}

/**
 * nbj_config_set_tenant() - the tenant the job's rates and audit events
 * are accounted to (default: the job's name)
 * @cfg:	config
 * @tenant:	same syntax as a job name
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int nbj_config_set_tenant(struct nbj_config *cfg, const char *tenant)
{
	char *copy;

	if (!nbj_label_valid(tenant))
		return -EINVAL;
	copy = strdup(tenant);
	if (!copy)
		return -ENOMEM;
	free(cfg->tenant);
	cfg->tenant = copy;
	return 0;
}

/**
 * nbj_config_set_audit_log() - also write the job's audit events as JSON
 * lines to a file (appended, created with mode 0600)
 * @cfg:	config
 * @path:	file, or NULL for none
 *
 * Return: 0, -EINVAL for an empty path, -ENOMEM
 */
int nbj_config_set_audit_log(struct nbj_config *cfg, const char *path)
{
	char *copy = NULL;

	if (path && !path[0])
		return -EINVAL;
	if (path && !(copy = strdup(path)))
		return -ENOMEM;
	free(cfg->audit_log);
	cfg->audit_log = copy;
	return 0;
}

/**
 * nbj_config_set_overlay() - the overlay flows use when no route matches
 * (replaces the policy's default_overlay)
 * @cfg:	config
 * @name:	"direct" or an overlay of the policy's registry; the name is
 *		checked when the job starts (the policy may come later)
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int nbj_config_set_overlay(struct nbj_config *cfg, const char *name)
{
	char *copy;

	if (!nbj_label_valid(name) || strlen(name) >= OVERLAY_NAME_MAX)
		return -EINVAL;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(cfg->default_overlay_name);
	cfg->default_overlay_name = copy;
	return 0;
}

/**
 * nbj_config_set_journal() - send audit events to journald (the default)
 * @cfg:	config
 * @on:		false to write them only to the --audit-log file
 *
 * Return: 0
 */
int nbj_config_set_journal(struct nbj_config *cfg, bool on)
{
	cfg->no_journal = !on;
	return 0;
}

/**
 * nbj_config_set_clearenv() - start the job's environment empty
 * @cfg:	config
 * @on:		true: only the policy's env keep and set entries reach the
 *		job (nbjail(1) --clearenv); false: nbjail's environment, less
 *		its secrets, unless the policy says clear: true
 *
 * Return: 0
 */
int nbj_config_set_clearenv(struct nbj_config *cfg, bool on)
{
	cfg->clearenv = on;
	return 0;
}

/**
 * nbj_config_set_terminal() - give the job a terminal of its own
 * @cfg:	config
 * @tty_fd:	the caller's terminal, whose modes and window size the
 *		job's pty starts with; borrowed (read by nbj_job_start(),
 *		never given to the job).  -1: none (the default)
 * @stdio:	bit N set (N = 0, 1, 2): the workload's fd N is the job's
 *		pty; the others stay the caller's
 *
 * The workload always runs in a session of its own; with @tty_fd, the
 * job's init allocates a pty from the job's own devpts (its name in the
 * job is /dev/pts/N), the workload's controlling terminal, whose master
 * the caller takes with nbj_job_take_terminal() after nbj_job_start()
 * and relays, as nbjail(1) does.
 *
 * Return: 0, or -EINVAL (bits other than 0-2, or a mask without fd)
 */
int nbj_config_set_terminal(struct nbj_config *cfg, int tty_fd, unsigned stdio)
{
	if ((stdio & ~7u) || (tty_fd < 0 && stdio))
		return -EINVAL;
	cfg->terminal_fd = tty_fd < 0 ? -1 : tty_fd;
	cfg->terminal_stdio = stdio;
	return 0;
}

/**
 * nbj_config_set_argv() - the command to run, argv[0] searched in PATH
 * @cfg:	config
 * @argv:	NULL-terminated, at least one element; copied
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int nbj_config_set_argv(struct nbj_config *cfg, char *const argv[])
{
	size_t n = 0;
	char **copy;

	if (!argv || !argv[0] || !argv[0][0])
		return -EINVAL;
	while (argv[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			argv_free(copy);
			return -ENOMEM;
		}
	}
	argv_free(cfg->argv);
	cfg->argv = copy;
	return 0;
}

/* The prefixes an embedder's audit fields may use (nbjail-audit(7)) */
static const char *const audit_field_prefixes[] = {
	"NBJAIL_SLURM_",
	"NBJAIL_OCI_",
};

static bool audit_field_key_valid(const char *key, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(audit_field_prefixes); i++) {
		size_t plen = strlen(audit_field_prefixes[i]);

		if (len <= plen || len > 64 || strncmp(key, audit_field_prefixes[i], plen))
			continue;
		for (size_t j = plen; j < len; j++)
			if (!((key[j] >= 'A' && key[j] <= 'Z') || (key[j] >= '0' && key[j] <= '9') ||
			      key[j] == '_'))
				return false;
		return true;
	}
	return false;
}

/**
 * nbj_config_add_audit_field() - one more field on every audit event of
 * the job (journald and JSON lines), e.g. the Slurm job id
 * @cfg:	config
 * @field:	"KEY=VALUE": KEY starts with NBJAIL_SLURM_ or NBJAIL_OCI_ and
 *		is upper case letters, digits and '_' (at most 64); VALUE is
 *		printable ASCII without quotes or backslashes; at most
 *		AUDIT_FIELD_MAX bytes in all
 *
 * Return: 0, -EINVAL, -E2BIG past AUDIT_FIELDS_MAX fields, -ENOMEM
 */
int nbj_config_add_audit_field(struct nbj_config *cfg, const char *field)
{
	const char *eq = field ? strchr(field, '=') : NULL;
	char *copy;

	if (!eq || strlen(field) >= AUDIT_FIELD_MAX ||
	    !audit_field_key_valid(field, (size_t)(eq - field)))
		return -EINVAL;
	for (const char *v = eq + 1; *v; v++)
		if (*v < 0x20 || *v > 0x7e || *v == '"' || *v == '\\')
			return -EINVAL;
	if (cfg->n_audit_fields >= AUDIT_FIELDS_MAX)
		return -E2BIG;
	copy = strdup(field);
	if (!copy)
		return -ENOMEM;
	cfg->audit_fields[cfg->n_audit_fields++] = copy;
	return 0;
}

static uint64_t narrower(uint64_t site, uint64_t user)
{
	if (!user)
		return site;
	return site && site < user ? site : user;
}

static void rate_narrow(struct rate_policy *to, const struct rate_policy *from)
{
	to->connects_per_s = narrower(to->connects_per_s, from->connects_per_s);
	to->connects_burst = narrower(to->connects_burst, from->connects_burst);
	to->concurrent = narrower(to->concurrent, from->concurrent);
	to->bytes_per_s = narrower(to->bytes_per_s, from->bytes_per_s);
	to->bytes_burst = narrower(to->bytes_burst, from->bytes_burst);
}

/* The fields only a site may set: a user's value would widen the job */
static const char *user_widens(const struct nbj_config *user)
{
	if (user->tenant)
		return "tenant";
	if (user->n_floor_exceptions)
		return "floor_exceptions";
	if (user->n_unix_allow)
		return "unix_allow";
	if (user->n_overlays || user->n_routes || user->default_overlay_name)
		return "overlays";
	if (user->n_publish)
		return "publish";
	if (user->select_allowed)
		return "permissions";
	if (user->n_fs_rules)
		return "filesystem";
	if (user->env.clear || user->env.n_keep || user->env.n_set)
		return "env";
	return NULL;
}

/**
 * nbj_config_narrow() - narrow a site's config by a user's: the site
 * policy is the floor a user policy can only narrow (nbjail(1)
 * --site-policy, nbjail-slurm(8))
 * @site:	the config loaded from the site's policy; changed on success
 * @user:	the user's policy and --allow patterns, loaded into a config
 *		of their own (started from nbj_config_new(): its profile net
 *		means "the site's")
 * @errbuf:	on failure, what the user asked for that the site does not
 *		give, naming the policy file
 * @errlen:	size of @errbuf
 *
 * Every allow rule of @user must be covered by one of @site's
 * (allow_covers()); then @user's list, if not empty, replaces @site's.
 * Rates and limits take the smaller value; the profile may go from net
 * to compute or minimal, never back (a site's compute or minimal stays).  Floor exceptions, unix_allow,
 * overlays, publish, permissions, filesystem, env and tenant are the
 * site's alone: a user policy naming any of them is refused.
 *
 * Return: 0, -EPERM if @user widens @site (message in @errbuf), -ENOMEM
 */
int nbj_config_narrow(struct nbj_config *site, const struct nbj_config *user,
		      char *errbuf, size_t errlen)
{
	const char *who = user->n_policy_files ? user->policy_files[0] : "the command line";
	const char *field = user_widens(user);
	char buf[NBJ_ADDR_STRLEN + 8];
	struct allow_rule *copy;

	if (field) {
		snprintf(errbuf, errlen, "%s: %s: only the site policy may set it "
			 "(a user policy narrows allow, rates, limits and profile)",
			 who, field);
		return -EPERM;
	}
	if (user->profile != NBJ_PROFILE_NET && site->profile != NBJ_PROFILE_NET &&
	    user->profile != site->profile) {
		snprintf(errbuf, errlen, "%s: profile: %s is not the site policy's %s",
			 who, nbj_profile_to_string(user->profile),
			 nbj_profile_to_string(site->profile));
		return -EPERM;
	}
	for (size_t i = 0; i < user->n_allow; i++) {
		bool covered = false;

		for (size_t j = 0; j < site->n_allow && !covered; j++)
			covered = allow_covers(&site->allow[j], &user->allow[i]);
		if (!covered) {
			snprintf(errbuf, errlen, "%s: allow '%s': outside the site "
				 "policy's allow-list", who,
				 allow_rule_format(&user->allow[i], buf, sizeof(buf)));
			return -EPERM;
		}
	}
	if (user->n_allow) {
		copy = malloc(user->n_allow * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, user->allow, user->n_allow * sizeof(*copy));
		free(site->allow);
		site->allow = copy;
		site->n_allow = user->n_allow;
	}
	for (size_t i = 0; i < user->n_policy_files; i++)
		if (policy_file_remember(site, user->policy_files[i]) < 0)
			return -ENOMEM;
	if (user->profile != NBJ_PROFILE_NET)
		site->profile = user->profile;
	rate_narrow(&site->rates.job, &user->rates.job);
	rate_narrow(&site->rates.tenant, &user->rates.tenant);
	limits_narrow(&site->limits, &user->limits);
	return 0;
}
