/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/allow.c - allow patterns: IP, IP:port, CIDR, [v6], [v6]:port,
 * host, host:port, *.suffix, *.suffix:port
 *
 * Parsing is strict: IPv4 only as four decimal octets (inet_pton, so no
 * hex, octal or short forms: those are invalid, not names), ports
 * 1..65535 and prefix lengths in plain decimal without leading zeros,
 * prefix lengths within the family, no host bits set in a CIDR, no
 * prefix inside brackets.  Names are case-insensitive, a trailing dot is
 * ignored, labels are 1-63 of [a-z0-9_-] (IDNs as A-labels, xn--...), at
 * most 253 characters; '*' is allowed only as the whole first label.
 * Everything malformed is -EINVAL.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

/* "*." + longest name + trailing dot + ":65535" + NUL, with room to spare */
#define PATTERN_MAX (NBJ_NAME_MAX + 16)

/*
 * Plain decimal @min..@max: digits only, no sign, no space, no leading
 * zero ("080" is as suspicious as the octal "0177.0.0.1")
 */
static int parse_decimal(const char *s, unsigned long min, unsigned long max,
			 unsigned long *ret)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "1".."65535" */
static int parse_port(const char *s, uint16_t *ret)
{
	unsigned long v;
	int err = parse_decimal(s, 1, 65535, &v);

	if (err < 0)
		return err;
	*ret = (uint16_t)v;
	return 0;
}

/* "0".."32" or "0".."128" */
static int parse_prefixlen(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v;
	int err = parse_decimal(s, 0, max, &v);

	if (err < 0)
		return err;
	*ret = (unsigned)v;
	return 0;
}

static const unsigned char *addr_bytes(const struct nbj_addr *a)
{
	return a->family == AF_INET ? (const unsigned char *)&a->v4
				    : a->v6.s6_addr;
}

static bool host_bits_clear(const struct nbj_addr *a, unsigned len)
{
	const unsigned char *b = addr_bytes(a);
	unsigned bits = a->family == AF_INET ? 32 : 128;

	for (unsigned i = len; i < bits; i++)
		if (b[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* Is every dot-separated label a decimal or 0x-hex number ("0x7f.1")? */
static bool looks_numeric(const char *s)
{
	bool hex = false, digit = false;

	for (;; s++) {
		if (*s == '.' || !*s) {
			if (!digit)
				return false;
			if (!*s)
				return true;
			hex = digit = false;
		} else if (!digit && !hex && s[0] == '0' &&
			   (s[1] == 'x' || s[1] == 'X')) {
			hex = true;
			s++;
		} else if (isdigit((unsigned char)*s) ||
			   (hex && isxdigit((unsigned char)*s))) {
			digit = true;
		} else {
			return false;
		}
	}
}

/**
 * name_normalize() - lower-case a host name, drop one trailing dot, check it
 * @in:		name as written
 * @out:	normalized name
 * @outlen:	size of @out, NBJ_NAME_MAX + 1 is enough
 *
 * Labels are 1-63 characters of [a-z0-9_-], not starting or ending with
 * '-'; the last label is not numeric (that would be an IPv4 spelling).
 *
 * Return: 0, or -EINVAL
 */
int name_normalize(const char *in, char *out, size_t outlen)
{
	size_t len = strlen(in), label = 0;

	if (len && in[len - 1] == '.')
		len--;
	if (!len || len > NBJ_NAME_MAX || len >= outlen)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = (char)tolower((unsigned char)in[i]);

		if (c == '.') {
			if (!label || out[i - 1] == '-')
				return -EINVAL;
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '_' || c == '-') {
			if ((c == '-' && !label) || ++label > 63)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		out[i] = c;
	}
	out[len] = '\0';
	if (out[len - 1] == '-' || looks_numeric(out))
		return -EINVAL;
	return 0;
}

/* host, *.suffix (port already split off) */
static int parse_name(const char *s, struct allow_rule *r)
{
	if (s[0] == '*') {
		if (s[1] != '.')
			return -EINVAL;
		r->kind = ALLOW_SUFFIX;
		r->name[0] = '.';
		return name_normalize(s + 2, r->name + 1, sizeof(r->name) - 1);
	}
	r->kind = ALLOW_NAME;
	return name_normalize(s, r->name, sizeof(r->name));
}

static int parse_ip(const char *s, struct nbj_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, s, &ret->v4) == 1) {
		ret->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &ret->v6) == 1) {
		ret->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/**
 * allow_parse() - parse one allow pattern
 * @pattern:	IP, IP:port, IP/len, [IPv6], [IPv6]:port, IPv6, IPv6/len,
 *		host, host:port, *.suffix, *.suffix:port
 * @ret:	parsed rule
 *
 * Return: 0, or -EINVAL
 */
int allow_parse(const char *pattern, struct allow_rule *ret)
{
	char buf[PATTERN_MAX];
	struct allow_rule r = { 0 };
	char *ip = buf, *port = NULL, *slash;
	unsigned max;
	int err;

	if (!pattern || !*pattern || strlen(pattern) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, pattern);

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			return -EINVAL;
		*close = '\0';
		ip = buf + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return -EINVAL;
	} else {
		char *colon = strchr(buf, ':');

		/* exactly one ':' is IPv4:port (or name:port); more is IPv6 */
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			port = colon + 1;
		}
	}

	slash = strchr(ip, '/');
	if (slash)
		*slash = '\0';
	err = parse_ip(ip, &r.addr);
	if (err < 0) {
		if (slash || buf[0] == '[' || strchr(ip, ':'))
			return -EINVAL;
		err = parse_name(ip, &r);
		if (err < 0)
			return err;
		if (port) {
			err = parse_port(port, &r.addr.port);
			if (err < 0)
				return err;
		}
		*ret = r;
		return 0;
	}
	/* brackets hold one IPv6 address, never IPv4 or a prefix */
	if (buf[0] == '[' && (r.addr.family != AF_INET6 || slash))
		return -EINVAL;

	max = r.addr.family == AF_INET ? 32 : 128;
	r.prefixlen = max;
	if (slash) {
		if (port)
			return -EINVAL;
		err = parse_prefixlen(slash + 1, max, &r.prefixlen);
		if (err < 0)
			return err;
		if (!host_bits_clear(&r.addr, r.prefixlen))
			return -EINVAL;
	}
	if (port) {
		err = parse_port(port, &r.addr.port);
		if (err < 0)
			return err;
	}
	*ret = r;
	return 0;
}

/**
 * allow_rule_format() - canonical text of a rule: "198.51.100.0/24",
 * "198.51.100.10:80", "[2001:db8::10]:443", "2001:db8::/32"
 * @rule:	rule
 * @buf:	output, always NUL-terminated
 * @len:	size of @buf, NBJ_ADDR_STRLEN + 4 is enough
 *
 * Return: @buf
 */
const char *allow_rule_format(const struct allow_rule *rule, char *buf,
			      size_t len)
{
	char ip[NBJ_ADDR_STRLEN];
	unsigned full = rule->addr.family == AF_INET ? 32 : 128;
	struct nbj_addr noport = rule->addr;

	if (rule->kind != ALLOW_ADDR) {
		const char *star = rule->kind == ALLOW_SUFFIX ? "*" : "";

		if (rule->addr.port)
			snprintf(buf, len, "%s%s:%u", star, rule->name, rule->addr.port);
		else
			snprintf(buf, len, "%s%s", star, rule->name);
		return buf;
	}

	noport.port = 0;
	nbj_addr_format(&noport, ip, sizeof(ip));
	if (rule->prefixlen != full)
		snprintf(buf, len, "%s/%u", ip, rule->prefixlen);
	else if (rule->addr.port)
		nbj_addr_format(&rule->addr, buf, len);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

/**
 * allow_match() - does @rule allow @a?
 * @rule:	parsed rule
 * @a:		target address with port; an IPv4-mapped IPv6 address
 *		matches IPv4 rules
 *
 * Return: true on match
 */
bool allow_match(const struct allow_rule *rule, const struct nbj_addr *a)
{
	struct nbj_addr unmapped;

	if (rule->kind != ALLOW_ADDR)
		return false;
	if (rule->addr.family == AF_INET && nbj_addr_unmap_v4(a, &unmapped))
		a = &unmapped;
	if (a->family != rule->addr.family)
		return false;
	if (rule->addr.port && rule->addr.port != a->port)
		return false;
	return nbj_prefix_match(addr_bytes(a), addr_bytes(&rule->addr),
				rule->prefixlen);
}

/**
 * allow_match_name() - does @rule allow host @name on @port?
 * @rule:	parsed rule; address rules never match a name
 * @name:	normalized name (see name_normalize())
 * @port:	port, or 0 to ask whether any port of @name is allowed
 *
 * A suffix rule "*.example.com" matches "a.example.com" and
 * "a.b.example.com", never "example.com" itself.
 *
 * Return: true on match
 */
bool allow_match_name(const struct allow_rule *rule, const char *name,
		      uint16_t port)
{
	size_t n, s;

	if (port && rule->addr.port && rule->addr.port != port)
		return false;
	if (rule->kind == ALLOW_NAME)
		return !strcmp(rule->name, name);
	if (rule->kind != ALLOW_SUFFIX)
		return false;
	n = strlen(name);
	s = strlen(rule->name);
	return n > s && !strcmp(name + n - s, rule->name);
}

/**
 * allow_covers() - does @outer allow everything @inner allows?
 * @outer:	a rule of the site's allow-list
 * @inner:	a rule a user asks for
 *
 * The narrowing check of a site policy (nbjail(1) --site-policy): a port
 * rule is covered by a rule for the same port or for any port, never the
 * other way round; an address rule only by a prefix that contains it; a
 * name by the same name or by a suffix above it; a suffix by a suffix
 * that ends it.  Names and addresses never cover each other: a name may
 * resolve anywhere.
 *
 * Return: true if every connection @inner allows, @outer allows too
 */
bool allow_covers(const struct allow_rule *outer, const struct allow_rule *inner)
{
	struct nbj_addr probe;
	size_t n, s;

	if (outer->addr.port && outer->addr.port != inner->addr.port)
		return false;
	switch (inner->kind) {
	case ALLOW_ADDR:
		if (outer->kind != ALLOW_ADDR || inner->prefixlen < outer->prefixlen ||
		    inner->addr.family != outer->addr.family)
			return false;
		probe = inner->addr;
		probe.port = outer->addr.port;
		return allow_match(outer, &probe);
	case ALLOW_NAME:
		return allow_match_name(outer, inner->name, outer->addr.port);
	case ALLOW_SUFFIX:
		if (outer->kind != ALLOW_SUFFIX)
			return false;
		n = strlen(inner->name);
		s = strlen(outer->name);
		return n >= s && !strcmp(inner->name + n - s, outer->name);
	}
	return false;
}

/**
 * nbj_label_valid() - whether a job or tenant name is acceptable: 1 to 63
 * characters of [A-Za-z0-9._-], not starting with '-' or '.'
 * @s:		the name
 *
 * Return: true if valid
 */
bool nbj_label_valid(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len < 1 || len > 63 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}
