/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/load.c - the policy file: YAML -> struct policy_doc
 *
 * Theory of operation: the file (at most POLICY_MAX_FILE_SIZE bytes) is
 * loaded as one YAML document with libyaml; the root must be a mapping.
 * Each key is looked up in a fixed table of the fields this version
 * enforces (tenant, profile, allow, floor_exceptions, unix_allow, rates,
 * limits, overlays, default_overlay, routes, publish, permissions, env,
 * filesystem, secrets, credentials, http); an
 * unknown key, a repeated key, a value of the wrong type or an invalid
 * pattern is an error that names the file, line, column and field:
 *
 *	policy.yaml:4:5: allow[1]: not an IP, IP:port, CIDR or [IPv6]:port pattern
 *
 * and nothing is returned: a job never starts on half a policy.  This
 * file reads the policy file and does no other I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/file.h"
#include "common/util.h"
#include "policy/load.h"

/**
 * struct load_ctx - one policy file being loaded
 * @path:	file name, for errors
 * @doc:	libyaml document
 * @err:	error message buffer
 * @errlen:	its size
 */
struct load_ctx {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	yaml_node_t *default_node;
	yaml_node_t *route_nodes[ROUTES_MAX];
	yaml_node_t *publish_nodes[PUBLISH_MAX];
	yaml_node_t *publish_port_nodes[PUBLISH_MAX];
};

static int fail_at(struct load_ctx *c, const yaml_node_t *node, int errnum,
		   const char *field, const char *fmt, ...) _printf_(5, 6);

static int fail_at(struct load_ctx *c, const yaml_node_t *node, int errnum,
		   const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node)
		snprintf(c->err, c->errlen, "%s:%zu:%zu: %s: %s", c->path,
			 node->start_mark.line + 1, node->start_mark.column + 1,
			 field, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s: %s", c->path, field, msg);
	return -errnum;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
						: NULL;
}

static int load_profile(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	const char *s = scalar(v);

	if (!s || v->data.scalar.length >= sizeof(d->profile) ||
	    strlen(s) != v->data.scalar.length)
		return fail_at(c, v, EINVAL, "profile",
			       "expected a profile name (minimal, compute, net or browse)");
	strcpy(d->profile, s);
	d->profile_line = (unsigned)v->start_mark.line + 1;
	return 0;
}

static int load_tenant(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	const char *s = scalar(v);

	if (!s || strlen(s) != v->data.scalar.length || !nbj_label_valid(s))
		return fail_at(c, v, EINVAL, "tenant",
			       "expected a name of 1 to 63 letters, digits, dots, "
			       "dashes or underscores");
	snprintf(d->tenant, sizeof(d->tenant), "%s", s);
	return 0;
}

/* A sequence of address patterns, each checked with allow_parse() */
static int load_patterns(struct load_ctx *c, yaml_node_t *v, const char *field,
			 bool names, struct allow_rule **ret, size_t *ret_n)
{
	yaml_node_item_t *item;
	struct allow_rule *rules;
	size_t n = 0, count;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, field, "expected a list of patterns");
	count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (count > POLICY_MAX_ENTRIES)
		return fail_at(c, v, E2BIG, field, "more than %d entries",
			       POLICY_MAX_ENTRIES);
	rules = calloc(count ? count : 1, sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top;
	     item++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *item);
		const char *s = scalar(e);
		char name[64];
		int err;

		snprintf(name, sizeof(name), "%s[%zu]", field, n);
		if (!s || strlen(s) != e->data.scalar.length) {
			free(rules);
			return fail_at(c, e, EINVAL, name, "expected a string");
		}
		err = allow_parse(s, &rules[n]);
		if (!err && rules[n].kind != ALLOW_ADDR && !names) {
			free(rules);
			return fail_at(c, e, EINVAL, name,
				       "'%s': a floor exception is an address or "
				       "prefix, never a name", s);
		}
		if (err < 0) {
			free(rules);
			return fail_at(c, e, EINVAL, name, names ?
				       "'%s': not a host, host:port, *.suffix, IP, "
				       "IP:port, CIDR or [IPv6]:port pattern" :
				       "'%s': not an IP, IP:port, CIDR or [IPv6]:port "
				       "pattern", s);
		}
	}
	*ret = rules;
	*ret_n = n;
	return 0;
}

static int load_allow(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	return load_patterns(c, v, "allow", true, &d->allow, &d->n_allow);
}

static int load_floor_exceptions(struct load_ctx *c, yaml_node_t *v,
				 struct policy_doc *d)
{
	return load_patterns(c, v, "floor_exceptions", false, &d->floor_exceptions,
			     &d->n_floor_exceptions);
}

static int load_unix_allow(struct load_ctx *c, yaml_node_t *v,
			   struct policy_doc *d)
{
	yaml_node_item_t *item;
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, "unix_allow", "expected a list of paths");
	if (v->data.sequence.items.top - v->data.sequence.items.start >
	    POLICY_MAX_ENTRIES)
		return fail_at(c, v, E2BIG, "unix_allow", "more than %d entries",
			       POLICY_MAX_ENTRIES);
	d->unix_allow = calloc((size_t)(v->data.sequence.items.top -
					v->data.sequence.items.start) + 1,
			       sizeof(*d->unix_allow));
	if (!d->unix_allow)
		return -ENOMEM;
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top;
	     item++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *item);
		const char *s = scalar(e);
		char name[64];

		snprintf(name, sizeof(name), "unix_allow[%zu]", n);
		if (!s || strlen(s) != e->data.scalar.length)
			return fail_at(c, e, EINVAL, name, "expected a string");
		if (unix_rule_parse(s, &d->unix_allow[n]) < 0)
			return fail_at(c, e, EINVAL, name,
				       "'%s': not an absolute socket path (no . or "
				       ".. components, at most %d bytes)", s,
				       NBJ_UNIX_PATH_MAX - 1);
		d->n_unix_allow = n + 1;
	}
	return 0;
}

/* One mapping of limits: rates: or rates: tenant: */
static int load_rate_map(struct load_ctx *c, yaml_node_t *v, const char *where,
			 bool tenant, struct nbj_rates *r)
{
	struct rate_policy *p = tenant ? &r->tenant : &r->job;
	yaml_node_pair_t *pair;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, where, "expected a mapping of limits");
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
		const char *key = scalar(k), *s = scalar(val);
		uint64_t max = tenant ? 10000000 : RATE_FLOOR_CONNECTS_PER_S;
		char field[64];
		int err;

		snprintf(field, sizeof(field), "%s.%s", where, key ? key : "?");
		if (!key)
			return fail_at(c, k, EINVAL, where, "keys must be strings");
		if (!tenant && !strcmp(key, "tenant")) {
			err = load_rate_map(c, val, "rates.tenant", true, r);
			if (err < 0)
				return err;
			continue;
		}
		if (strcmp(key, "connects_per_s") && strcmp(key, "connects_burst") &&
		    strcmp(key, "concurrent") && strcmp(key, "bytes_per_s") &&
		    strcmp(key, "bytes_burst") && (tenant || strcmp(key, "dock_calls_per_s")))
			return fail_at(c, k, EINVAL, field, "unknown limit (connects_per_s, "
				       "connects_burst, concurrent, bytes_per_s, bytes_burst%s)",
				       tenant ? "" : ", dock_calls_per_s, tenant");
		if (!s || strlen(s) != val->data.scalar.length)
			return fail_at(c, val, EINVAL, field, "expected a number");
		if (!strcmp(key, "connects_per_s"))
			err = rate_parse_count(s, max, &p->connects_per_s);
		else if (!strcmp(key, "connects_burst"))
			err = rate_parse_count(s, tenant ? 10000000 : RATE_FLOOR_CONNECTS_BURST,
					       &p->connects_burst);
		else if (!strcmp(key, "concurrent"))
			err = rate_parse_count(s, 1000000, &p->concurrent);
		else if (!strcmp(key, "dock_calls_per_s"))
			err = rate_parse_count(s, RATE_DOCK_CALLS_PER_S, &p->dock_calls_per_s);
		else if (!strcmp(key, "bytes_per_s"))
			err = rate_parse_bytes(s, &p->bytes_per_s);
		else
			err = rate_parse_bytes(s, &p->bytes_burst);
		if (err == -ERANGE && !strcmp(key, "dock_calls_per_s"))
			return fail_at(c, val, ERANGE, field, "'%s': 1 to %d (the dock's "
				       "ceiling)", s, RATE_DOCK_CALLS_PER_S);
		if (err == -ERANGE && !tenant && !strncmp(key, "connects", 8))
			return fail_at(c, val, ERANGE, field, "'%s': 1 to %llu (the floor "
				       "allows at most 50,000 connect attempts in 10 s)", s,
				       (unsigned long long)(strcmp(key, "connects_burst") ? max :
							    RATE_FLOOR_CONNECTS_BURST));
		if (err < 0)
			return fail_at(c, val, -err, field, "'%s': %s", s,
				       !strncmp(key, "bytes", 5) ?
				       "not a positive byte count (1048576, 10MB, 512KiB, ...)" :
				       "not a positive count in range");
	}
	return 0;
}

static int overlay_field(struct load_ctx *c, yaml_node_t *k, yaml_node_t *v,
			 const char *field, struct overlay *o)
{
	const char *key = scalar(k), *s = scalar(v);
	unsigned long port;
	char *end;

	if (!s || strlen(s) != v->data.scalar.length)
		return fail_at(c, v, EINVAL, field, "expected a string or number");
	if (!strcmp(key, "host")) {
		struct nbj_addr a = { 0 };

		if (inet_pton(AF_INET, s, &a.v4) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, s, &a.v6) == 1)
			a.family = AF_INET6;
		else
			return fail_at(c, v, EINVAL, field, "'%s': the proxy's IPv4 or "
				       "IPv6 address (a name would be resolved by the host)", s);
		a.port = o->proxy.port;
		o->proxy = a;
	} else if (!strcmp(key, "port")) {
		port = strtoul(s, &end, 10);
		if (*end || !port || port > 65535 || s[0] == '-' || s[0] == '+')
			return fail_at(c, v, EINVAL, field, "'%s': a port, 1 to 65535", s);
		o->proxy.port = (uint16_t)port;
	} else if (!strcmp(key, "username")) {
		if (strlen(s) >= sizeof(o->username) || strlen(s) > 255)
			return fail_at(c, v, EINVAL, field, "at most 255 bytes");
		snprintf(o->username, sizeof(o->username), "%s", s);
	} else if (!strcmp(key, "password_env")) {
		if (strlen(s) >= sizeof(o->password_env) || !s[0])
			return fail_at(c, v, EINVAL, field, "an environment variable name");
		snprintf(o->password_env, sizeof(o->password_env), "%s", s);
	} else if (!strcmp(key, "password_file")) {
		if (s[0] != '/' || strlen(s) >= sizeof(o->password_file))
			return fail_at(c, v, EINVAL, field, "an absolute file name");
		snprintf(o->password_file, sizeof(o->password_file), "%s", s);
	} else if (!strcmp(key, "interface")) {
		if (!s[0] || strlen(s) >= sizeof(o->interface) || strchr(s, '/'))
			return fail_at(c, v, EINVAL, field, "'%s': an interface name", s);
		snprintf(o->interface, sizeof(o->interface), "%s", s);
		o->interface_given = true;
	} else if (!strcmp(key, "proxy")) {
		if (strcmp(s, "socks5") && strcmp(s, "http-connect"))
			return fail_at(c, v, EINVAL, field, "'%s': socks5 or http-connect "
				       "(tailscaled's SOCKS5 or HTTP proxy)", s);
		o->via_http = !strcmp(s, "http-connect");
	} else if (!strcmp(key, "key_file")) {
		if (s[0] != '/' || strlen(s) >= sizeof(o->key_file))
			return fail_at(c, v, EINVAL, field, "an absolute file name");
		snprintf(o->key_file, sizeof(o->key_file), "%s", s);
	} else if (!strcmp(key, "sam_options")) {
		if (strlen(s) >= sizeof(o->sam_options))
			return fail_at(c, v, EINVAL, field, "at most %zu bytes",
				       sizeof(o->sam_options) - 1);
		for (const char *t = s; *t; t++)
			if (!isalnum((unsigned char)*t) && !strchr("._-=, ", *t))
				return fail_at(c, v, EINVAL, field, "'%s': KEY=VALUE options "
					       "separated by spaces (letters, digits, . _ - ,)", s);
		for (const char *t = s; *t; t += strspn(t, " ")) {
			size_t w = strcspn(t, " ");
			const char *eq = memchr(t, '=', w);

			if (!w)
				break;
			if (!eq || eq == t || eq == t + w - 1)
				return fail_at(c, v, EINVAL, field, "'%.*s': not KEY=VALUE",
					       (int)w, t);
			if ((size_t)(eq - t) == 11 && !strncasecmp(t, "DESTINATION", 11))
				return fail_at(c, v, EINVAL, field, "the destination comes from "
					       "key_file, not from sam_options");
			t += w;
		}
		snprintf(o->sam_options, sizeof(o->sam_options), "%s", s);
	} else if (!strcmp(key, "isolate_streams")) {
		if (strcmp(s, "true") && strcmp(s, "false"))
			return fail_at(c, v, EINVAL, field, "true or false");
		o->isolate_streams = !strcmp(s, "true");
	} else {
		return fail_at(c, k, EINVAL, field, "unknown field (kind, host, port, "
			       "username, password_env, password_file, isolate_streams, "
			       "interface, proxy, key_file, sam_options)");
	}
	return 0;
}

static int load_overlay(struct load_ctx *c, yaml_node_t *k, yaml_node_t *v,
			struct overlay *o)
{
	const char *name = scalar(k), *kind = NULL;
	yaml_node_t *kind_node = NULL;
	yaml_node_pair_t *pair;
	char field[96];
	int err;

	if (!name || !nbj_label_valid(name) || strlen(name) >= sizeof(o->name))
		return fail_at(c, k, EINVAL, "overlays", "an overlay name: 1 to 31 letters, "
			       "digits, dots, dashes or underscores");
	snprintf(field, sizeof(field), "overlays.%s", name);
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, field, "expected a mapping (kind, host, port, ...)");
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	/* the kind first: its presets (tor) come before the other fields */
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *fk = yaml_document_get_node(c->doc, pair->key);

		if (scalar(fk) && !strcmp(scalar(fk), "kind")) {
			kind_node = yaml_document_get_node(c->doc, pair->value);
			kind = scalar(kind_node);
		}
	}
	snprintf(field, sizeof(field), "overlays.%s.kind", name);
	if (!kind)
		return fail_at(c, kind_node ? kind_node : v, EINVAL, field,
			       "missing (direct, socks5, tor, http-connect, tailscale, i2p)");
	if (overlay_kind_parse(kind, o) < 0)
		return fail_at(c, kind_node, EINVAL, field, "'%s': unknown kind (direct, "
			       "socks5, tor, http-connect, tailscale, i2p)", kind);
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *fk = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *fv = yaml_document_get_node(c->doc, pair->value);
		const char *key = scalar(fk);

		if (!key)
			return fail_at(c, fk, EINVAL, field, "keys must be strings");
		if (!strcmp(key, "kind"))
			continue;
		snprintf(field, sizeof(field), "overlays.%s.%s", name, key);
		err = overlay_field(c, fk, fv, field, o);
		if (err < 0)
			return err;
	}
	snprintf(field, sizeof(field), "overlays.%s", name);
	if (o->kind != OVERLAY_DIRECT && o->kind != OVERLAY_TAILSCALE &&
	    (!o->proxy.family || !o->proxy.port))
		return fail_at(c, v, EINVAL, field, "a proxy needs host and port");
	if (o->password_env[0] && o->password_file[0])
		return fail_at(c, v, EINVAL, field, "password_env or password_file, not both");
	if ((o->password_env[0] || o->password_file[0]) && !o->username[0])
		return fail_at(c, v, EINVAL, field, "a password needs a username");
	if (o->isolate_streams && o->username[0])
		return fail_at(c, v, EINVAL, field, "isolate_streams makes up its own "
			       "credentials: no username");
	if (o->kind == OVERLAY_TAILSCALE && o->proxy.family && o->interface_given)
		return fail_at(c, v, EINVAL, field, "tailscale dials through tailscaled's "
			       "proxy (host, port) or binds to its interface, not both");
	if (o->kind == OVERLAY_TAILSCALE && (o->proxy.family || o->proxy.port) &&
	    (!o->proxy.family || !o->proxy.port))
		return fail_at(c, v, EINVAL, field, "tailscaled's proxy needs host and port");
	if (o->kind == OVERLAY_TAILSCALE && o->username[0] && !o->proxy.family)
		return fail_at(c, v, EINVAL, field, "a username is for tailscaled's proxy "
			       "(host, port)");
	if (o->via_http && (o->kind != OVERLAY_TAILSCALE || !o->proxy.family))
		return fail_at(c, v, EINVAL, field, "proxy is for tailscale with host and port");
	if (o->interface[0] && o->kind != OVERLAY_TAILSCALE)
		return fail_at(c, v, EINVAL, field, "interface is for tailscale");
	if (o->isolate_streams && o->kind != OVERLAY_SOCKS5)
		return fail_at(c, v, EINVAL, field, "isolate_streams is for socks5 and tor");
	if ((o->key_file[0] || o->sam_options[0]) && o->kind != OVERLAY_I2P)
		return fail_at(c, v, EINVAL, field, "key_file and sam_options are for i2p");
	if (o->kind == OVERLAY_I2P && o->username[0])
		return fail_at(c, v, EINVAL, field, "a SAM bridge takes no username or password");
	return 0;
}

static int load_overlays(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	yaml_node_pair_t *pair;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "overlays", "expected a mapping of overlays");
	d->overlays = calloc(OVERLAYS_MAX, sizeof(*d->overlays));
	if (!d->overlays)
		return -ENOMEM;
	snprintf(d->overlays[0].name, sizeof(d->overlays[0].name), "direct");
	d->n_overlays = 1;
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
		int err;

		if (scalar(k) && !strcmp(scalar(k), "direct"))
			return fail_at(c, k, EINVAL, "overlays.direct", "built in, not defined");
		for (size_t i = 0; scalar(k) && i < d->n_overlays; i++)
			if (!strcmp(d->overlays[i].name, scalar(k)))
				return fail_at(c, k, EINVAL, "overlays", "'%s' given twice",
					       scalar(k));
		if (d->n_overlays == OVERLAYS_MAX)
			return fail_at(c, k, E2BIG, "overlays", "more than %d overlays",
				       OVERLAYS_MAX - 1);
		err = load_overlay(c, k, val, &d->overlays[d->n_overlays]);
		if (err < 0)
			return err;
		d->n_overlays++;
	}
	return 0;
}

static int load_default_overlay(struct load_ctx *c, yaml_node_t *v,
				struct policy_doc *d)
{
	(void)d;
	if (!scalar(v))
		return fail_at(c, v, EINVAL, "default_overlay", "expected an overlay name");
	c->default_node = v; /* resolved once every key is read */
	return 0;
}

static int load_routes(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	yaml_node_item_t *item;
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, "routes", "expected a list of {match, overlay}");
	if (v->data.sequence.items.top - v->data.sequence.items.start > ROUTES_MAX)
		return fail_at(c, v, E2BIG, "routes", "more than %d routes", ROUTES_MAX);
	d->routes = calloc(ROUTES_MAX, sizeof(*d->routes));
	if (!d->routes)
		return -ENOMEM;
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top;
	     item++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *item);
		yaml_node_t *match = NULL, *overlay = NULL;
		yaml_node_pair_t *pair;
		char field[64];

		snprintf(field, sizeof(field), "routes[%zu]", n);
		if (e->type != YAML_MAPPING_NODE)
			return fail_at(c, e, EINVAL, field, "expected {match: PATTERN, overlay: NAME}");
		for (pair = e->data.mapping.pairs.start; pair < e->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
			const char *key = scalar(k);

			if (key && !strcmp(key, "match"))
				match = yaml_document_get_node(c->doc, pair->value);
			else if (key && !strcmp(key, "overlay"))
				overlay = yaml_document_get_node(c->doc, pair->value);
			else
				return fail_at(c, k, EINVAL, field, "unknown field (match, overlay)");
		}
		if (!match || !scalar(match) || !overlay || !scalar(overlay))
			return fail_at(c, e, EINVAL, field, "needs match and overlay");
		if (allow_parse(scalar(match), &d->routes[n].match) < 0)
			return fail_at(c, match, EINVAL, field, "'%s': not a host, *.suffix, IP "
				       "or CIDR pattern", scalar(match));
		c->route_nodes[n] = overlay; /* resolved once every key is read */
		d->n_routes = n + 1;
	}
	return 0;
}

/* Overlay names in default_overlay and routes, once overlays: is read */
static int resolve_overlay_refs(struct load_ctx *c, struct policy_doc *d)
{
	static const struct overlay direct_only[1] = { { .name = "direct" } };
	const struct overlay *reg = d->n_overlays ? d->overlays : direct_only;
	size_t n_reg = d->n_overlays ? d->n_overlays : 1;
	int idx;

	for (size_t r = 0; r <= d->n_routes; r++) {
		yaml_node_t *node = r < d->n_routes ? c->route_nodes[r] : c->default_node;
		char field[64];

		if (!node)
			continue;
		idx = -1;
		for (size_t i = 0; i < n_reg; i++)
			if (!strcmp(reg[i].name, scalar(node)))
				idx = (int)i;
		if (r < d->n_routes)
			snprintf(field, sizeof(field), "routes[%zu].overlay", r);
		else
			snprintf(field, sizeof(field), "default_overlay");
		if (idx < 0)
			return fail_at(c, node, EINVAL, field, "'%s': no such overlay (define it "
				       "under overlays:)", scalar(node));
		if (r < d->n_routes && reg[idx].kind == OVERLAY_I2P &&
		    d->routes[r].match.kind == ALLOW_ADDR)
			return fail_at(c, node, EINVAL, field, "'%s' is i2p, which reaches I2P "
				       "destinations (.i2p names), not addresses", scalar(node));
		if (r < d->n_routes)
			d->routes[r].overlay = (unsigned)idx;
		else
			d->default_overlay = (unsigned)idx;
	}
	return 0;
}

static int parse_port(const char *s, uint16_t *ret)
{
	unsigned long port;
	char *end;

	if (!s || !*s || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	port = strtoul(s, &end, 10);
	if (*end || !port || port > 65535)
		return -EINVAL;
	*ret = (uint16_t)port;
	return 0;
}

static bool is_inbound_key(const char *key)
{
	static const char *const keys[] = { "rate", "max_body", "max_header", "header_timeout",
					    "max_duration", "concurrent" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* rate: {per_client: N/s, burst: M} */
static int load_inbound_rate(struct load_ctx *c, size_t n, yaml_node_t *v,
			     struct inbound_limits *l)
{
	char field[64];

	snprintf(field, sizeof(field), "publish[%zu].rate", n);
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, field, "expected {per_client: N/s, burst: M}");
	for (yaml_node_pair_t *pair = v->data.mapping.pairs.start;
	     pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
		const char *key = scalar(k);

		snprintf(field, sizeof(field), "publish[%zu].rate.%s", n, key ? key : "?");
		if (key && !strcmp(key, "per_client")) {
			if (inbound_rate_parse(scalar(val), &l->per_client_per_s) < 0)
				return fail_at(c, val, EINVAL, field,
					       "expected requests per second, N/s, 1 to 1000000");
		} else if (key && !strcmp(key, "burst")) {
			if (policy_count_parse(scalar(val), 1000000, &l->per_client_burst) < 0)
				return fail_at(c, val, EINVAL, field, "expected a count, 1 to 1000000");
		} else {
			return fail_at(c, k, EINVAL, field, "unknown field (per_client, burst)");
		}
	}
	return 0;
}

/* One admission limit of a publish entry in mode http */
static int load_inbound_key(struct load_ctx *c, size_t n, const char *key, yaml_node_t *v,
			    struct inbound_limits *l)
{
	const char *s = scalar(v);
	char field[64];
	uint64_t u;

	snprintf(field, sizeof(field), "publish[%zu].%s", n, key);
	if (!strcmp(key, "rate"))
		return load_inbound_rate(c, n, v, l);
	if (!strcmp(key, "max_body")) {
		if (policy_size_parse(s, 1ULL << 40, &l->max_body) < 0)
			return fail_at(c, v, EINVAL, field, "expected a size (4M, 512KiB, ...)");
	} else if (!strcmp(key, "max_header")) {
		if (policy_size_parse(s, INBOUND_MAX_HEADER_LIMIT, &u) < 0 || u < 256)
			return fail_at(c, v, EINVAL, field, "expected a size, 256 to 80KiB");
		l->max_header = (uint32_t)u;
	} else if (!strcmp(key, "concurrent")) {
		if (policy_count_parse(s, 65536, &l->concurrent) < 0)
			return fail_at(c, v, EINVAL, field, "expected a count, 1 to 65536");
	} else {
		uint32_t *dst = !strcmp(key, "header_timeout") ? &l->header_timeout_s
							       : &l->max_duration_s;

		if (inbound_seconds_parse(s, dst) < 0)
			return fail_at(c, v, EINVAL, field, "expected seconds, 1 to 86400");
	}
	return 0;
}

static int load_publish(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	yaml_node_item_t *item;
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, "publish", "expected a list of {port, to, overlay}");
	if (v->data.sequence.items.top - v->data.sequence.items.start > PUBLISH_MAX)
		return fail_at(c, v, E2BIG, "publish", "more than %d entries", PUBLISH_MAX);
	d->publish = calloc(PUBLISH_MAX, sizeof(*d->publish));
	if (!d->publish)
		return -ENOMEM;
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top;
	     item++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *item);
		yaml_node_t *overlay = NULL, *http_keys = NULL;
		yaml_node_pair_t *pair;
		char field[64];

		inbound_limits_default(&d->publish[n].limits);
		snprintf(field, sizeof(field), "publish[%zu]", n);
		if (e->type != YAML_MAPPING_NODE)
			return fail_at(c, e, EINVAL, field, "expected {port: N, to: N, overlay: NAME}");
		for (pair = e->data.mapping.pairs.start; pair < e->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
			yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
			const char *key = scalar(k);

			if (key && !strcmp(key, "overlay")) {
				overlay = val;
			} else if (key && (!strcmp(key, "port") || !strcmp(key, "to"))) {
				uint16_t *dst = !strcmp(key, "port") ? &d->publish[n].port
								    : &d->publish[n].to;

				snprintf(field, sizeof(field), "publish[%zu].%s", n, key);
				if (parse_port(scalar(val), dst) < 0)
					return fail_at(c, val, EINVAL, field, "a port, 1 to 65535");
				if (dst == &d->publish[n].port)
					c->publish_port_nodes[n] = val;
				snprintf(field, sizeof(field), "publish[%zu]", n);
			} else if (key && !strcmp(key, "mode")) {
				const char *m = scalar(val);

				snprintf(field, sizeof(field), "publish[%zu].mode", n);
				if (m && !strcmp(m, "http"))
					d->publish[n].mode = PUBLISH_HTTP;
				else if (!m || strcmp(m, "tcp"))
					return fail_at(c, val, EINVAL, field, "expected tcp or http");
				snprintf(field, sizeof(field), "publish[%zu]", n);
			} else if (key && is_inbound_key(key)) {
				int err;

				http_keys = http_keys ? http_keys : k;
				err = load_inbound_key(c, n, key, val, &d->publish[n].limits);
				if (err < 0)
					return err;
			} else {
				return fail_at(c, k, EINVAL, field, "unknown field (port, to, overlay, "
					       "mode, rate, max_body, max_header, header_timeout, "
					       "max_duration, concurrent)");
			}
		}
		if (http_keys && d->publish[n].mode != PUBLISH_HTTP)
			return fail_at(c, http_keys, EINVAL, field, "admission limits need mode: http");
		if (!d->publish[n].to)
			d->publish[n].to = d->publish[n].port;
		if (!d->publish[n].to)
			return fail_at(c, e, EINVAL, field, "needs to: (the job's port) or port:");
		c->publish_nodes[n] = overlay ? overlay : e; /* resolved with the others */
		if (overlay && !scalar(overlay))
			return fail_at(c, overlay, EINVAL, field, "expected an overlay name");
		d->n_publish = n + 1;
	}
	return 0;
}

/* Published ports, once the overlays are known */
static int resolve_publish(struct load_ctx *c, struct policy_doc *d)
{
	static const char *const kinds[] = {
		[OVERLAY_DIRECT] = "direct", [OVERLAY_SOCKS5] = "socks5",
		[OVERLAY_HTTP_CONNECT] = "http-connect", [OVERLAY_TAILSCALE] = "tailscale",
		[OVERLAY_I2P] = "i2p",
	};
	static const struct overlay direct_only[1] = { { .name = "direct" } };
	const struct overlay *reg = d->n_overlays ? d->overlays : direct_only;
	size_t n_reg = d->n_overlays ? d->n_overlays : 1;

	for (size_t n = 0; n < d->n_publish; n++) {
		struct publish_entry *e = &d->publish[n];
		yaml_node_t *node = c->publish_nodes[n];
		const char *name = node->type == YAML_SCALAR_NODE ? scalar(node) : "direct";
		const struct overlay *o = NULL;
		char field[64];

		snprintf(field, sizeof(field), "publish[%zu].overlay", n);
		for (size_t i = 0; i < n_reg; i++)
			if (!strcmp(reg[i].name, name)) {
				o = &reg[i];
				e->overlay = (unsigned)i;
			}
		if (!o)
			return fail_at(c, node, EINVAL, field, "'%s': no such overlay (define it "
				       "under overlays:)", name);
		if (o->kind == OVERLAY_SOCKS5 || o->kind == OVERLAY_HTTP_CONNECT)
			return fail_at(c, node, EINVAL, field, "'%s' is %s, which carries no "
				       "inbound connections (publish on direct, tailscale or i2p)",
				       name, kinds[o->kind]);
		snprintf(field, sizeof(field), "publish[%zu]", n);
		if (o->kind == OVERLAY_I2P && c->publish_port_nodes[n])
			return fail_at(c, c->publish_port_nodes[n], EINVAL, field, "'%s' is i2p: "
				       "the destination is the address, SAM 3.1 has no ports "
				       "(give to: only)", name);
		if (o->kind != OVERLAY_I2P && !e->port)
			return fail_at(c, node, EINVAL, field, "needs port: (where it is published)");
		for (size_t m = 0; m < n; m++) {
			const struct publish_entry *p = &d->publish[m];

			if (o->kind == OVERLAY_I2P && p->overlay == e->overlay)
				return fail_at(c, node, EINVAL, field, "'%s' publishes one port "
					       "already (SAM 3.1 forwards a destination's streams to "
					       "one port: define another i2p overlay)", name);
			if (e->port && p->port == e->port)
				return fail_at(c, c->publish_port_nodes[n], EINVAL, field,
					       "port %u is published twice", e->port);
		}
	}
	return 0;
}

static int load_permissions(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	yaml_node_pair_t *pair;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "permissions", "expected a mapping "
			       "({network.select: allow|deny})");
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
		const char *key = scalar(k), *s = scalar(val);

		if (!key || strcmp(key, "network.select"))
			return fail_at(c, k, EINVAL, "permissions", "unknown permission "
				       "(this version knows: network.select)");
		if (!s || (strcmp(s, "allow") && strcmp(s, "deny")))
			return fail_at(c, val, EINVAL, "permissions.network.select",
				       "allow or deny");
		d->select_allowed = !strcmp(s, "allow");
	}
	return 0;
}

/* `filesystem: {write: [...], hide: [...]}`: one list of paths */
static int load_fs_list(struct load_ctx *c, yaml_node_t *v, const char *field,
			enum fs_rule_kind kind, struct policy_doc *d)
{
	yaml_node_item_t *item;
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, field, "expected a list of paths");
	if ((size_t)(v->data.sequence.items.top - v->data.sequence.items.start) >
	    FS_RULES_MAX - d->n_fs_rules)
		return fail_at(c, v, E2BIG, field, "more than %d paths in filesystem:",
			       FS_RULES_MAX);
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top;
	     item++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *item);
		struct fs_rule *r = &d->fs_rules[d->n_fs_rules];
		const char *s = scalar(e);
		char name[64];
		int err;

		snprintf(name, sizeof(name), "%s[%zu]", field, n);
		if (!s || strlen(s) != e->data.scalar.length)
			return fail_at(c, e, EINVAL, name, "expected a path");
		err = fs_rule_parse(s, kind, r);
		if (err == -ENAMETOOLONG)
			return fail_at(c, e, EINVAL, name, "longer than %d bytes",
				       FS_PATH_MAX - 1);
		if (err < 0)
			return fail_at(c, e, EINVAL, name, "'%s': an absolute path or one "
				       "starting with ~/ (not /, no . or .. components)", s);
		snprintf(r->where, sizeof(r->where), "%s:%zu:%zu: %s", c->path,
			 e->start_mark.line + 1, e->start_mark.column + 1, name);
		d->n_fs_rules++;
	}
	return 0;
}

static int load_filesystem(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	bool seen_write = false, seen_hide = false;
	yaml_node_pair_t *pair;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "filesystem", "expected a mapping "
			       "({write: [PATH...], hide: [PATH...]})");
	d->fs_rules = calloc(FS_RULES_MAX, sizeof(*d->fs_rules));
	if (!d->fs_rules)
		return -ENOMEM;
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
		const char *key = scalar(k);
		bool write = key && !strcmp(key, "write");
		int err;

		if (!key || (!write && strcmp(key, "hide")))
			return fail_at(c, k, EINVAL, "filesystem", "unknown field (write, hide)");
		if (write ? seen_write : seen_hide)
			return fail_at(c, k, EINVAL, write ? "filesystem.write" :
				       "filesystem.hide", "given twice");
		*(write ? &seen_write : &seen_hide) = true;
		err = load_fs_list(c, val, write ? "filesystem.write" : "filesystem.hide",
				   write ? FS_RULE_WRITE : FS_RULE_HIDE, d);
		if (err < 0)
			return err;
	}
	return 0;
}

static int load_rates(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	return load_rate_map(c, v, "rates", false, &d->rates);
}

/*
 * limits: {pids: N, memory: SIZE}, enforced by the job's cgroup
 * (common/cgroup.c); the numbers are read by policy/limits.c
 */
static int load_limits(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	bool seen_pids = false, seen_memory = false;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "limits", "expected a mapping {pids, memory}");
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k), *s = scalar(val);
		bool pids = key && !strcmp(key, "pids");
		int err;

		if (!pids && (!key || strcmp(key, "memory")))
			return fail_at(c, k, EINVAL, "limits", "unknown key '%s' (pids, memory)",
				       key ? key : "?");
		if (pids ? seen_pids : seen_memory)
			return fail_at(c, k, EINVAL, pids ? "limits.pids" : "limits.memory",
				       "given twice");
		*(pids ? &seen_pids : &seen_memory) = true;
		if (!s || strlen(s) != val->data.scalar.length)
			return fail_at(c, val, EINVAL, pids ? "limits.pids" : "limits.memory",
				       pids ? "expected a number of tasks"
					    : "expected a size (64M, 2G, ...)");
		if (pids) {
			err = limits_parse_pids(s, &d->limits.pids);
			if (err < 0)
				return fail_at(c, val, -err, "limits.pids",
					       "'%s': not a number of tasks from 1 to %llu", s,
					       LIMIT_PIDS_MAX);
		} else {
			err = limits_parse_memory(s, &d->limits.memory);
			if (err == -ERANGE)
				return fail_at(c, val, ERANGE, "limits.memory",
					       "'%s': out of range (at least 4M)", s);
			if (err < 0)
				return fail_at(c, val, -err, "limits.memory",
					       "'%s': not a size (bytes, or a number with K, M, "
					       "G or T: powers of 1024)", s);
		}
	}
	return 0;
}

/*
 * env: {clear: BOOL, keep: [NAME | PREFIX*, ...], set: {NAME: VALUE, ...}}
 * A NAME is what a shell can export: a letter or '_', then letters,
 * digits or '_'.  The variables that hold secrets (an overlay's
 * password_env, SUDO_*) are removed by the supervisor whatever keep says
 * (supervisor/environ.c).
 */
static bool env_name_valid(const char *s, size_t len)
{
	if (!len || len > 255 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static size_t node_count(const yaml_node_t *v)
{
	if (v->type == YAML_SEQUENCE_NODE)
		return (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	return (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
}

static int load_env_keep(struct load_ctx *c, yaml_node_t *v, struct policy_env *env)
{
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, "env.keep", "expected a list of NAME or PREFIX*");
	if (node_count(v) > POLICY_ENV_MAX)
		return fail_at(c, v, E2BIG, "env.keep", "more than %d entries", POLICY_ENV_MAX);
	env->keep = calloc(node_count(v) + 1, sizeof(*env->keep));
	if (!env->keep)
		return -ENOMEM;
	for (yaml_node_item_t *item = v->data.sequence.items.start;
	     item < v->data.sequence.items.top; item++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *item);
		const char *s = scalar(e);
		size_t len = s ? strlen(s) : 0;
		char field[32];

		snprintf(field, sizeof(field), "env.keep[%zu]", n);
		if (s && len == e->data.scalar.length && len && s[len - 1] == '*')
			len--; /* PREFIX*: the prefix must be a name's start */
		if (!s || strlen(s) != e->data.scalar.length ||
		    (len && !env_name_valid(s, len)) || (!len && strcmp(s, "*")))
			return fail_at(c, e, EINVAL, field,
				       "expected a variable NAME or PREFIX* (letters, digits, "
				       "'_'; not starting with a digit)");
		env->keep[n] = strdup(s);
		if (!env->keep[n])
			return -ENOMEM;
		env->n_keep = n + 1;
	}
	return 0;
}

static int load_env_set(struct load_ctx *c, yaml_node_t *v, struct policy_env *env)
{
	size_t n = 0;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "env.set", "expected a mapping of NAME: value");
	if (node_count(v) > POLICY_ENV_MAX)
		return fail_at(c, v, E2BIG, "env.set", "more than %d entries", POLICY_ENV_MAX);
	env->set = calloc(node_count(v) + 1, sizeof(*env->set));
	if (!env->set)
		return -ENOMEM;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++, n++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		const char *name = scalar(k), *value = scalar(val);
		char field[300];

		if (!name || strlen(name) != k->data.scalar.length ||
		    !env_name_valid(name, strlen(name)))
			return fail_at(c, k, EINVAL, "env.set",
				       "expected a variable NAME (letters, digits, '_'; not "
				       "starting with a digit)");
		snprintf(field, sizeof(field), "env.set.%s", name);
		for (size_t i = 0; i < n; i++)
			if (!strncmp(env->set[i], name, strlen(name)) &&
			    env->set[i][strlen(name)] == '=')
				return fail_at(c, k, EINVAL, field, "given twice");
		if (!value || strlen(value) != val->data.scalar.length)
			return fail_at(c, val, EINVAL, field,
				       "expected a string value (without NUL bytes)");
		if (asprintf(&env->set[n], "%s=%s", name, value) < 0) {
			env->set[n] = NULL;
			return -ENOMEM;
		}
		env->n_set = n + 1;
	}
	return 0;
}

static int load_env(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	bool seen_clear = false, seen_keep = false, seen_set = false;

	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "env", "expected a mapping {clear, keep, set}");
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k), *s;
		int err;

		if (key && !strcmp(key, "clear")) {
			if (seen_clear)
				return fail_at(c, k, EINVAL, "env.clear", "given twice");
			seen_clear = true;
			s = scalar(val);
			if (s && !strcmp(s, "true"))
				d->env.clear = true;
			else if (s && !strcmp(s, "false"))
				d->env.clear = false;
			else
				return fail_at(c, val, EINVAL, "env.clear", "expected true or false");
		} else if (key && !strcmp(key, "keep")) {
			if (seen_keep)
				return fail_at(c, k, EINVAL, "env.keep", "given twice");
			seen_keep = true;
			err = load_env_keep(c, val, &d->env);
			if (err < 0)
				return err;
		} else if (key && !strcmp(key, "set")) {
			if (seen_set)
				return fail_at(c, k, EINVAL, "env.set", "given twice");
			seen_set = true;
			err = load_env_set(c, val, &d->env);
			if (err < 0)
				return err;
		} else {
			return fail_at(c, k, EINVAL, "env", "unknown key '%s' (clear, keep, set)",
				       key ? key : "?");
		}
	}
	if (d->env.n_keep && !d->env.clear)
		return fail_at(c, v, EINVAL, "env.keep",
			       "keep needs clear: true (without it every variable is kept)");
	return 0;
}

/**
 * policy_env_free() - free the strings of an env: section
 * @env:	the section; zeroed
 */
void policy_env_free(struct policy_env *env)
{
	for (size_t i = 0; env->keep && env->keep[i]; i++)
		free(env->keep[i]);
	for (size_t i = 0; env->set && env->set[i]; i++)
		free(env->set[i]);
	free(env->keep);
	free(env->set);
	memset(env, 0, sizeof(*env));
}

/**
 * secret_name_valid() - whether @s is a secret's label: 1 to 64 letters,
 * digits, '_' or '-' (what `nbjail-dock sign NAME` names)
 * @s:		the name, not necessarily NUL-terminated
 * @len:	its length
 *
 * Return: true if valid
 */
bool secret_name_valid(const char *s, size_t len)
{
	if (!s || len < 1 || len > SECRET_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* One entry of secrets: NAME: {file: PATH} or NAME: {env: VAR} */
static int load_secret(struct load_ctx *c, yaml_node_t *k, yaml_node_t *v,
		       struct policy_secret *sec)
{
	const char *name = scalar(k);
	char field[SECRET_NAME_MAX + 32];
	yaml_node_t *fk, *fv;
	const char *key, *s;

	if (!name || strlen(name) != k->data.scalar.length ||
	    !secret_name_valid(name, strlen(name)))
		return fail_at(c, k, EINVAL, "secrets", "a secret's name: 1 to %d letters, "
			       "digits, '_' or '-'", SECRET_NAME_MAX);
	snprintf(field, sizeof(field), "secrets.%s", name);
	if (v->type != YAML_MAPPING_NODE || node_count(v) != 1)
		return fail_at(c, v, EINVAL, field, "expected {file: PATH} or {env: VARIABLE}");
	fk = yaml_document_get_node(c->doc, v->data.mapping.pairs.start->key);
	fv = yaml_document_get_node(c->doc, v->data.mapping.pairs.start->value);
	key = scalar(fk);
	s = scalar(fv);
	if (!key || (strcmp(key, "file") && strcmp(key, "env")))
		return fail_at(c, fk, EINVAL, field, "unknown source '%s' (file, env)",
			       key ? key : "?");
	snprintf(field, sizeof(field), "secrets.%s.%s", name, key);
	if (!s || strlen(s) != fv->data.scalar.length)
		return fail_at(c, fv, EINVAL, field, "expected a string");
	memset(sec, 0, sizeof(*sec));
	memcpy(sec->name, name, strlen(name));
	if (!strcmp(key, "file")) {
		if (s[0] != '/' || strlen(s) >= sizeof(sec->from))
			return fail_at(c, fv, EINVAL, field, "'%s': an absolute file name "
				       "(at most %zu bytes)", s, sizeof(sec->from) - 1);
		sec->source = SECRET_FILE;
	} else {
		if (!env_name_valid(s, strlen(s)))
			return fail_at(c, fv, EINVAL, field, "'%s': a variable NAME (letters, "
				       "digits, '_'; not starting with a digit)", s);
		sec->source = SECRET_ENV;
	}
	snprintf(sec->from, sizeof(sec->from), "%s", s);
	return 0;
}

/*
 * secrets: {NAME: {file: PATH} | {env: VAR}, ...}: the names and where
 * their bytes are; the supervisor reads them at start (supervisor/secrets.c)
 */
static int load_secrets(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "secrets", "expected a mapping of NAME: "
			       "{file: PATH} or NAME: {env: VARIABLE}");
	if (node_count(v) > SECRETS_MAX)
		return fail_at(c, v, E2BIG, "secrets", "more than %d secrets", SECRETS_MAX);
	d->secrets = calloc(node_count(v) + 1, sizeof(*d->secrets));
	if (!d->secrets)
		return -ENOMEM;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		int err = load_secret(c, k, val, &d->secrets[d->n_secrets]);

		if (err < 0)
			return err;
		for (size_t i = 0; i < d->n_secrets; i++)
			if (!strcmp(d->secrets[i].name, d->secrets[d->n_secrets].name))
				return fail_at(c, k, EINVAL, "secrets", "'%s' given twice",
					       d->secrets[i].name);
		d->n_secrets++;
	}
	return 0;
}


/* A mapping's value by key, or NULL */
static yaml_node_t *map_get(struct load_ctx *c, yaml_node_t *m, const char *key,
			    yaml_node_t **ret_key)
{
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		const char *ks = scalar(k);

		if (ks && !strcmp(ks, key)) {
			if (ret_key)
				*ret_key = k;
			return yaml_document_get_node(c->doc, p->value);
		}
	}
	return NULL;
}

/* Every key of @m is one of @known (NULL-terminated) */
static int keys_known(struct load_ctx *c, yaml_node_t *m, const char *field,
		      const char *const *known, const char *list)
{
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		const char *ks = scalar(k);
		size_t i;

		for (i = 0; ks && known[i]; i++)
			if (!strcmp(ks, known[i]))
				break;
		if (!ks || !known[i])
			return fail_at(c, k, EINVAL, field, "unknown key '%s' (%s)",
				       ks ? ks : "?", list);
	}
	return 0;
}

/* A credential's hosts: name:port patterns (no wildcard, no address),
 * each allowed by this file's allow-list */
static int load_cred_hosts(struct load_ctx *c, yaml_node_t *v, const char *field,
			   const struct policy_doc *d, struct nbj_credential *cr)
{
	if (!v || v->type != YAML_SEQUENCE_NODE || !node_count(v) ||
	    node_count(v) > CRED_HOSTS_MAX)
		return fail_at(c, v, EINVAL, field, "expected a list of 1 to %d HOST:PORT",
			       CRED_HOSTS_MAX);
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(c->doc, *it);
		const char *s = scalar(n);
		struct allow_rule *r = &cr->hosts[cr->n_hosts];
		bool allowed = false;

		if (!s || strlen(s) != n->data.scalar.length || allow_parse(s, r) < 0 ||
		    r->kind != ALLOW_NAME || !r->addr.port)
			return fail_at(c, n, EINVAL, field, "'%s': expected HOST:PORT (one "
				       "name, no wildcard, no address)", s ? s : "?");
		for (size_t i = 0; i < d->n_allow && !allowed; i++)
			allowed = allow_covers(&d->allow[i], r);
		if (!allowed)
			return fail_at(c, n, EINVAL, field, "'%s' is not allowed by the "
				       "allow-list: a credential goes only where the job may go", s);
		cr->n_hosts++;
	}
	return 0;
}

/* One entry of credentials: NAME: {secret: {file|env}, hosts, env, on_leak} */
static int load_credential(struct load_ctx *c, yaml_node_t *k, yaml_node_t *v,
			   const struct policy_doc *d, struct nbj_credential *cr)
{
	static const char *const known[] = { "secret", "hosts", "env", "on_leak", "headers",
					     NULL };
	const char *name = scalar(k), *s;
	char field[CRED_NAME_MAX + 48];
	yaml_node_t *sv, *fk, *fv, *kn;
	int err;

	memset(cr, 0, sizeof(*cr));
	if (!name || strlen(name) != k->data.scalar.length || strlen(name) > CRED_NAME_MAX ||
	    !secret_name_valid(name, strlen(name)))
		return fail_at(c, k, EINVAL, "credentials", "a credential's name: 1 to %d "
			       "letters, digits, '_' or '-'", CRED_NAME_MAX);
	memcpy(cr->name, name, strlen(name));
	snprintf(field, sizeof(field), "credentials.%s", name);
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, field, "expected {secret: ..., hosts: [...], "
			       "env: VARIABLE, on_leak: deny|revoke}");
	err = keys_known(c, v, field, known, "secret, hosts, env, on_leak, headers");
	if (err < 0)
		return err;

	snprintf(field, sizeof(field), "credentials.%s.secret", name);
	sv = map_get(c, v, "secret", &kn);
	if (!sv)
		return fail_at(c, v, EINVAL, field, "missing: {file: PATH} or {env: VARIABLE}");
	if (sv->type != YAML_MAPPING_NODE || node_count(sv) != 1)
		return fail_at(c, sv, EINVAL, field, "expected {file: PATH} or {env: VARIABLE}");
	fk = yaml_document_get_node(c->doc, sv->data.mapping.pairs.start->key);
	fv = yaml_document_get_node(c->doc, sv->data.mapping.pairs.start->value);
	s = scalar(fv);
	if (!scalar(fk) || (strcmp(scalar(fk), "file") && strcmp(scalar(fk), "env")))
		return fail_at(c, fk, EINVAL, field, "unknown source '%s' (file, env)",
			       scalar(fk) ? scalar(fk) : "?");
	cr->from_env = !strcmp(scalar(fk), "env");
	if (!s || strlen(s) != fv->data.scalar.length || strlen(s) >= sizeof(cr->from) ||
	    (cr->from_env ? !env_name_valid(s, strlen(s)) : s[0] != '/'))
		return fail_at(c, fv, EINVAL, field, cr->from_env ?
			       "expected a variable NAME" : "expected an absolute file name");
	memcpy(cr->from, s, strlen(s));

	snprintf(field, sizeof(field), "credentials.%s.hosts", name);
	err = load_cred_hosts(c, map_get(c, v, "hosts", NULL) ? map_get(c, v, "hosts", NULL) : v,
			      field, d, cr);
	if (err < 0)
		return err;

	snprintf(field, sizeof(field), "credentials.%s.env", name);
	fv = map_get(c, v, "env", NULL);
	s = fv ? scalar(fv) : NULL;
	if (!s || strlen(s) != fv->data.scalar.length || strlen(s) >= sizeof(cr->env) ||
	    !env_name_valid(s, strlen(s)))
		return fail_at(c, fv ? fv : v, EINVAL, field, "expected the job's variable NAME "
			       "that holds the stand-in");
	memcpy(cr->env, s, strlen(s));

	snprintf(field, sizeof(field), "credentials.%s.headers", name);
	fv = map_get(c, v, "headers", NULL);
	if (fv && (fv->type != YAML_SEQUENCE_NODE || !node_count(fv) ||
		   node_count(fv) > CRED_HEADERS_MAX))
		return fail_at(c, fv, EINVAL, field, "expected a list of 1 to %d header names",
			       CRED_HEADERS_MAX);
	for (yaml_node_item_t *it = fv ? fv->data.sequence.items.start : NULL;
	     fv && it < fv->data.sequence.items.top; it++) {
		yaml_node_t *h = yaml_document_get_node(c->doc, *it);
		const char *hs = scalar(h);
		size_t hl = hs ? strlen(hs) : 0;
		bool ok = hs && hl == h->data.scalar.length && hl && hl <= CRED_HEADER_NAME_MAX &&
			  strcasecmp(hs, "host") && strcasecmp(hs, "authorization");

		for (size_t i = 0; ok && i < hl; i++)	/* an RFC 9110 token */
			ok = isalnum((unsigned char)hs[i]) || strchr("!#$%&'*+-.^_`|~", hs[i]);
		if (!ok)
			return fail_at(c, h, EINVAL, field, "'%s': a header name (not Host, "
				       "Authorization: that one is always rewritten)", hs ? hs : "?");
		memcpy(cr->headers[cr->n_headers++], hs, hl);
	}

	snprintf(field, sizeof(field), "credentials.%s.on_leak", name);
	fv = map_get(c, v, "on_leak", NULL);
	if (fv) {
		s = scalar(fv);
		if (!s || (strcmp(s, "deny") && strcmp(s, "revoke")))
			return fail_at(c, fv, EINVAL, field, "expected deny or revoke");
		cr->revoke_on_leak = !strcmp(s, "revoke");
	}
	return 0;
}

/*
 * credentials: {NAME: {...}, ...}: loaded after allow: (whatever their
 * order in the file: load_root() defers it), since every host must be
 * allowed
 */
static int load_credentials(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, "credentials", "expected a mapping of NAME: "
			       "{secret, hosts, env, on_leak}");
	if (node_count(v) > CREDENTIALS_MAX)
		return fail_at(c, v, E2BIG, "credentials", "more than %d credentials",
			       CREDENTIALS_MAX);
	d->credentials = calloc(node_count(v) + 1, sizeof(*d->credentials));
	if (!d->credentials)
		return -ENOMEM;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		struct nbj_credential *cr = &d->credentials[d->n_credentials];
		int err = load_credential(c, k, val, d, cr);

		if (err < 0)
			return err;
		for (size_t i = 0; i < d->n_credentials; i++) {
			if (!strcmp(d->credentials[i].name, cr->name))
				return fail_at(c, k, EINVAL, "credentials", "'%s' given twice",
					       cr->name);
			if (!strcmp(d->credentials[i].env, cr->env))
				return fail_at(c, k, EINVAL, "credentials", "'%s': env %s is "
					       "already credential %s's", cr->name, cr->env,
					       d->credentials[i].name);
			for (unsigned a = 0; a < cr->n_hosts; a++)
				for (unsigned b = 0; b < d->credentials[i].n_hosts; b++)
					if (!strcmp(cr->hosts[a].name,
						    d->credentials[i].hosts[b].name) &&
					    cr->hosts[a].addr.port ==
					    d->credentials[i].hosts[b].addr.port)
						return fail_at(c, k, EINVAL, "credentials",
							       "'%s': host %s already has "
							       "credential %s", cr->name,
							       cr->hosts[a].name,
							       d->credentials[i].name);
		}
		d->n_credentials++;
	}
	return 0;
}

/* One entry of http: {host: NAME, methods: [..], paths: [..]} */
static int load_http_rule(struct load_ctx *c, yaml_node_t *v, const char *field,
			  struct http_rule *r)
{
	static const char *const known[] = { "host", "methods", "paths", NULL };
	yaml_node_t *n;
	const char *s;
	int err;

	memset(r, 0, sizeof(*r));
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(c, v, EINVAL, field, "expected {host: NAME, methods: [...], "
			       "paths: [...]}");
	err = keys_known(c, v, field, known, "host, methods, paths");
	if (err < 0)
		return err;
	n = map_get(c, v, "host", NULL);
	s = n ? scalar(n) : NULL;
	{
		struct allow_rule hr;

		if (!s || strlen(s) != n->data.scalar.length || allow_parse(s, &hr) < 0 ||
		    hr.kind != ALLOW_NAME)
			return fail_at(c, n ? n : v, EINVAL, field, "host: expected one host "
				       "name, or NAME:PORT");
		if (strlen(hr.name) >= sizeof(r->host))
			return fail_at(c, n, EINVAL, field, "host: too long");
		memcpy(r->host, hr.name, strlen(hr.name) + 1);
		r->port = hr.addr.port ? hr.addr.port : 443;
	}
	n = map_get(c, v, "methods", NULL);
	if (n) {
		if (n->type != YAML_SEQUENCE_NODE || !node_count(n))
			return fail_at(c, n, EINVAL, field, "methods: expected a list");
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			yaml_node_t *m = yaml_document_get_node(c->doc, *it);
			unsigned bit = scalar(m) ? http_method_bit(scalar(m)) : 0;

			if (!bit)
				return fail_at(c, m, EINVAL, field, "methods: '%s' is not one of "
					       "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
					       scalar(m) ? scalar(m) : "?");
			r->methods |= bit;
		}
	}
	n = map_get(c, v, "paths", NULL);
	if (n) {
		if (n->type != YAML_SEQUENCE_NODE || !node_count(n) ||
		    node_count(n) > HTTP_PATHS_MAX)
			return fail_at(c, n, EINVAL, field, "paths: expected a list of 1 to %d "
				       "patterns", HTTP_PATHS_MAX);
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			yaml_node_t *m = yaml_document_get_node(c->doc, *it);

			s = scalar(m);
			if (!s || strlen(s) != m->data.scalar.length || s[0] != '/' ||
			    strlen(s) >= HTTP_PATH_MAX)
				return fail_at(c, m, EINVAL, field, "paths: expected a pattern "
					       "starting with '/' (at most %d bytes)",
					       HTTP_PATH_MAX - 1);
			memcpy(r->paths[r->n_paths++], s, strlen(s));
		}
	}
	return 0;
}

/* http: [{host, methods, paths}, ...]; each host must be allowed on 443 */
static int load_http(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	size_t i = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(c, v, EINVAL, "http", "expected a list of {host, methods, paths}");
	if (node_count(v) > HTTP_RULES_MAX)
		return fail_at(c, v, E2BIG, "http", "more than %d rules", HTTP_RULES_MAX);
	d->http_rules = calloc(node_count(v) + 1, sizeof(*d->http_rules));
	if (!d->http_rules)
		return -ENOMEM;
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++, i++) {
		yaml_node_t *n = yaml_document_get_node(c->doc, *it);
		struct http_rule *r = &d->http_rules[d->n_http_rules];
		char field[32];
		bool allowed = false;
		int err;

		snprintf(field, sizeof(field), "http[%zu]", i);
		err = load_http_rule(c, n, field, r);
		if (err < 0)
			return err;
		for (size_t a = 0; a < d->n_allow && !allowed; a++)
			allowed = allow_match_name(&d->allow[a], r->host, r->port);
		if (!allowed)
			return fail_at(c, n, EINVAL, field, "host %s is not allowed on port %u "
				       "by the allow-list", r->host, r->port);
		d->n_http_rules++;
	}
	return 0;
}

/*
 * tls_roots: FILE: the PEM bundle the relay's TLS clients trust (the
 * dock's tls op), instead of the system's; the supervisor reads it at
 * start (supervisor/tlsroots.c)
 */
static int load_tls_roots(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	const char *s = scalar(v);

	if (!s || strlen(s) != v->data.scalar.length || s[0] != '/' ||
	    strlen(s) >= sizeof(d->tls_roots))
		return fail_at(c, v, EINVAL, "tls_roots", "expected an absolute file name "
			       "(at most %zu bytes) of a PEM bundle", sizeof(d->tls_roots) - 1);
	snprintf(d->tls_roots, sizeof(d->tls_roots), "%s", s);
	return 0;
}

static const struct {
	const char *key;
	int (*load)(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d);
} fields[] = {
	{ "tenant", load_tenant },
	{ "profile", load_profile },
	{ "allow", load_allow },
	{ "floor_exceptions", load_floor_exceptions },
	{ "unix_allow", load_unix_allow },
	{ "rates", load_rates },
	{ "limits", load_limits },
	{ "overlays", load_overlays },
	{ "default_overlay", load_default_overlay },
	{ "routes", load_routes },
	{ "publish", load_publish },
	{ "permissions", load_permissions },
	{ "env", load_env },
	{ "filesystem", load_filesystem },
	{ "secrets", load_secrets },
	{ "credentials", load_credentials },	/* after allow: load_root() */
	{ "http", load_http },			/* after allow: load_root() */
	{ "tls_roots", load_tls_roots },
};

static int load_root(struct load_ctx *c, yaml_node_t *root, struct policy_doc *d)
{
	bool seen[ARRAY_SIZE(fields)] = { false };
	yaml_node_t *deferred[2] = { NULL, NULL };
	yaml_node_pair_t *pair;

	if (!root) /* an empty file: an empty policy, which grants nothing */
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(c, root, EINVAL, "policy", "expected a mapping of keys");
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, pair->value);
		const char *key = scalar(k);
		size_t i;
		int err;

		if (!key)
			return fail_at(c, k, EINVAL, "policy", "keys must be strings");
		for (i = 0; i < ARRAY_SIZE(fields); i++)
			if (!strcmp(key, fields[i].key))
				break;
		if (i == ARRAY_SIZE(fields))
			return fail_at(c, k, EINVAL, key,
				       "unknown key (this version knows: tenant, "
				       "profile, allow, floor_exceptions, unix_allow, "
				       "rates, limits, overlays, default_overlay, routes, "
				       "publish, permissions, env, filesystem, secrets, "
				       "tls_roots, credentials, http)");
		if (seen[i])
			return fail_at(c, k, EINVAL, key, "given twice");
		seen[i] = true;
		if (fields[i].load == load_credentials || fields[i].load == load_http) {
			deferred[fields[i].load == load_http] = v;
			continue;	/* they check their hosts against allow: */
		}
		err = fields[i].load(c, v, d);
		if (err < 0)
			return err;
	}
	for (int i = 0; i < 2; i++) {
		int err = !deferred[i] ? 0 : i ? load_http(c, deferred[i], d)
					    : load_credentials(c, deferred[i], d);

		if (err < 0)
			return err;
	}
	{
		int err = resolve_overlay_refs(c, d);

		return err < 0 ? err : resolve_publish(c, d);
	}
}

static int read_file(const char *path, unsigned char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > POLICY_MAX_FILE_SIZE)
		return -EFBIG;
	return fd_read_all(fd, (size_t)st.st_size, ret, ret_len);
}

/**
 * policy_load() - read and validate a policy file
 * @path:	file
 * @ret:	the policy; free with policy_doc_free()
 * @err:	on failure, a message naming file, line, column and field
 * @errlen:	size of @err
 *
 * Return: 0, or negative errno (-EINVAL for any content error)
 */
int policy_load(const char *path, struct policy_doc *ret, char *err, size_t errlen)
{
	struct policy_doc d = { 0 };
	struct load_ctx c = { .path = path, .err = err, .errlen = errlen };
	_cleanup_free_ unsigned char *buf = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t len;
	int r;

	r = read_file(path, &buf, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: policy: YAML error: %s", path,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "malformed");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	c.doc = &doc;
	r = load_root(&c, yaml_document_get_root_node(&doc), &d);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0) {
		policy_doc_free(&d);
		return r;
	}
	*ret = d;
	return 0;
}

/**
 * policy_doc_free() - release what policy_load() allocated
 * @doc:	policy, zeroed afterwards
 */
void policy_doc_free(struct policy_doc *doc)
{
	free(doc->allow);
	free(doc->floor_exceptions);
	free(doc->unix_allow);
	free(doc->overlays);
	free(doc->routes);
	free(doc->publish);
	policy_env_free(&doc->env);
	free(doc->fs_rules);
	free(doc->secrets);
	free(doc->credentials);
	free(doc->http_rules);
	memset(doc, 0, sizeof(*doc));
}
