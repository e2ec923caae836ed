/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/creds.c - which flows the relay terminates, whose credential
 * they carry, and what the `http:` rules let through
 *
 * Theory of operation: a flow to a pinned name is TLS-terminated by the
 * relay (relay/term.c) when, and only when, the name and port are one of
 * a credential's `hosts`, or the name has an `http:` rule (port 443).
 * Every other flow stays an opaque splice.  A terminated request is
 * checked against the name's `http:` rules (none: all requests pass):
 * a rule lets it through when its methods (none: any) hold the method
 * and one of its path globs (none: any path) matches the path without
 * its query, fnmatch(3) without FNM_PATHNAME, so '*' crosses '/'.  Pure:
 * no I/O, the caller (relay/term.c) acts on the answers.
 */
#include <assert.h>
#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "policy/policy.h"

static const char *const method_names[] = HTTP_METHOD_NAMES;
static_assert(ARRAY_SIZE(method_names) == HTTP_METHODS_COUNT, "one name per method bit");

/**
 * policy_credential_for() - the credential that belongs to @name:@port
 * @p:		policy
 * @name:	the pinned name (normalized)
 * @port:	destination port
 *
 * Return: the index in @p->credentials, or -1
 */
int policy_credential_for(const struct nbj_policy *p, const char *name, uint16_t port)
{
	for (size_t i = 0; i < p->n_credentials; i++)
		for (unsigned h = 0; h < p->credentials[i].n_hosts; h++)
			if (allow_match_name(&p->credentials[i].hosts[h], name, port))
				return (int)i;
	return -1;
}

/**
 * policy_terminates() - whether flows to @name:@port are TLS-terminated
 * @p:		policy
 * @name:	the pinned name (normalized), NULL for a literal address
 * @port:	destination port
 *
 * Return: true for a credential's host, or a name with an http: rule on
 * its port (443 unless the rule says)
 */
bool policy_terminates(const struct nbj_policy *p, const char *name, uint16_t port)
{
	if (!name)
		return false;
	if (policy_credential_for(p, name, port) >= 0)
		return true;
	for (size_t i = 0; i < p->n_http_rules; i++)
		if (!strcmp(p->http_rules[i].host, name) && p->http_rules[i].port == port)
			return true;
	return false;
}

static bool method_in(unsigned methods, const char *method)
{
	if (!methods)
		return true;
	for (unsigned i = 0; i < HTTP_METHODS_COUNT; i++)
		if ((methods & (1u << i)) && !strcmp(method_names[i], method))
			return true;
	return false;
}

/**
 * policy_http_check() - the `http:` rules on one request
 * @p:		policy
 * @host:	the pinned name (normalized)
 * @method:	the request's method ("GET")
 * @path:	the request target, possibly with a query (cut at '?')
 * @path_len:	its length
 *
 * Return: DECIDE_ALLOWED, or DECIDE_HTTP_RULE when @host has rules and
 * none lets the request through
 */
int policy_http_check(const struct nbj_policy *p, const char *host, const char *method,
		      const char *path, size_t path_len)
{
	char plain[HTTP_PATH_MAX * 8];
	bool any = false;
	size_t n = 0;

	while (n < path_len && path[n] != '?' && path[n] != '#')
		n++;
	if (n >= sizeof(plain))
		n = sizeof(plain) - 1;	/* longer than any pattern can match */
	memcpy(plain, path, n);
	plain[n] = '\0';
	for (size_t i = 0; i < p->n_http_rules; i++) {
		const struct http_rule *r = &p->http_rules[i];

		if (strcmp(r->host, host))
			continue;
		any = true;
		if (!method_in(r->methods, method))
			continue;
		if (!r->n_paths)
			return DECIDE_ALLOWED;
		for (unsigned j = 0; j < r->n_paths; j++)
			if (fnmatch(r->paths[j], plain, 0) == 0)
				return DECIDE_ALLOWED;
	}
	return any ? DECIDE_HTTP_RULE : DECIDE_ALLOWED;
}

/**
 * http_method_bit() - the bit of a method name in http_rule.methods
 * @s:		method, upper case
 *
 * Return: the bit, or 0 for a method rules cannot name
 */
unsigned http_method_bit(const char *s)
{
	for (unsigned i = 0; i < HTTP_METHODS_COUNT; i++)
		if (!strcmp(method_names[i], s))
			return 1u << i;
	return 0;
}

/* memmem, ASCII letters compared without case */
static bool contains_folded(const char *hay, size_t n, const char *needle, size_t m)
{
	if (!m || m > n)
		return false;
	for (size_t i = 0; i + m <= n; i++)
		if (!strncasecmp(hay + i, needle, m))
			return true;
	return false;
}

/**
 * policy_standin_find() - the credential whose stand-in is in @buf (the
 * tripwire's one test)
 * @p:		policy (stand-ins filled in)
 * @buf:	bytes to look through
 * @len:	their number
 * @except:	a credential that may appear here (its own host), or -1
 * @fold_case:	compare letters without case (DNS names)
 *
 * Return: the credential's index, or -1
 */
int policy_standin_find(const struct nbj_policy *p, const void *buf, size_t len, int except,
			bool fold_case)
{
	for (size_t i = 0; i < p->n_credentials; i++) {
		const char *s = p->credentials[i].standin;
		size_t m = strnlen(s, sizeof(p->credentials[i].standin));

		if ((int)i == except || !m)
			continue;
		if (fold_case ? contains_folded(buf, len, s, m) : memmem(buf, len, s, m) != NULL)
			return (int)i;
	}
	return -1;
}
