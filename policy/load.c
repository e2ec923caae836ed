/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/load.c - the policy file: YAML -> struct policy_doc
 *
 * Theory of operation: the file (at most POLICY_MAX_FILE_SIZE bytes) is
 * loaded as one YAML document with libyaml; the root must be a mapping.
 * Each key is looked up in a fixed table of the fields this version
 * enforces (tenant, profile, allow, floor_exceptions, unix_allow, rates); an
 * unknown key, a repeated key, a value of the wrong type or an invalid
 * pattern is an error that names the file, line, column and field:
 *
 *	policy.yaml:4:5: allow[1]: not an IP, IP:port, CIDR or [IPv6]:port pattern
 *
 * and nothing is returned: a job never starts on half a policy.  This
 * file reads the policy file and does no other I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

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
			       "expected a profile name (minimal, compute or net)");
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
		    strcmp(key, "bytes_burst"))
			return fail_at(c, k, EINVAL, field, "unknown limit (connects_per_s, "
				       "connects_burst, concurrent, bytes_per_s, bytes_burst%s)",
				       tenant ? "" : ", tenant");
		if (!s || strlen(s) != val->data.scalar.length)
			return fail_at(c, val, EINVAL, field, "expected a number");
		if (!strcmp(key, "connects_per_s"))
			err = rate_parse_count(s, max, &p->connects_per_s);
		else if (!strcmp(key, "connects_burst"))
			err = rate_parse_count(s, tenant ? 10000000 : RATE_FLOOR_CONNECTS_BURST,
					       &p->connects_burst);
		else if (!strcmp(key, "concurrent"))
			err = rate_parse_count(s, 1000000, &p->concurrent);
		else if (!strcmp(key, "bytes_per_s"))
			err = rate_parse_bytes(s, &p->bytes_per_s);
		else
			err = rate_parse_bytes(s, &p->bytes_burst);
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

static int load_rates(struct load_ctx *c, yaml_node_t *v, struct policy_doc *d)
{
	return load_rate_map(c, v, "rates", false, &d->rates);
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
};

static int load_root(struct load_ctx *c, yaml_node_t *root, struct policy_doc *d)
{
	bool seen[ARRAY_SIZE(fields)] = { false };
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
				       "rates)");
		if (seen[i])
			return fail_at(c, k, EINVAL, key, "given twice");
		seen[i] = true;
		err = fields[i].load(c, v, d);
		if (err < 0)
			return err;
	}
	return 0;
}

static int read_file(const char *path, unsigned char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > POLICY_MAX_FILE_SIZE)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
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
	memset(doc, 0, sizeof(*doc));
}
