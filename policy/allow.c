/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/allow.c - allow patterns: IP, IP:port, CIDR, [v6], [v6]:port
 *
 * Parsing is strict: IPv4 only as four decimal octets (inet_pton, so no
 * hex, octal or short forms), ports 1..65535 in plain decimal, prefix
 * lengths within the family, no host bits set in a CIDR.  Host-name
 * patterns are recognised and refused with -EOPNOTSUPP until names are
 * supported; everything else malformed is -EINVAL.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

#define PATTERN_MAX 128

/* "1".."65535", decimal digits only */
static int parse_port(const char *s, uint16_t *ret)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

static int parse_prefixlen(const char *s, unsigned max, unsigned *ret)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
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

/*
 * A host-name pattern: has '*', or letters without being an IPv6 attempt
 * (':') or a numeric IPv4 spelling (hex, octal: those are just invalid).
 */
static bool looks_like_name(const char *s)
{
	if (strchr(s, '*'))
		return true;
	if (strchr(s, ':') || looks_numeric(s))
		return false;
	for (; *s; s++)
		if (isalpha((unsigned char)*s))
			return true;
	return false;
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
 * @pattern:	IP, IP:port, IP/len, [IPv6], [IPv6]:port, IPv6, IPv6/len
 * @ret:	parsed rule
 *
 * Return: 0, -EOPNOTSUPP for a host-name pattern, -EINVAL otherwise
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
	if (err < 0)
		return looks_like_name(ip) ? -EOPNOTSUPP : -EINVAL;
	if (buf[0] == '[' && r.addr.family != AF_INET6)
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

	if (rule->addr.family == AF_INET && nbj_addr_unmap_v4(a, &unmapped))
		a = &unmapped;
	if (a->family != rule->addr.family)
		return false;
	if (rule->addr.port && rule->addr.port != a->port)
		return false;
	return nbj_prefix_match(addr_bytes(a), addr_bytes(&rule->addr),
				rule->prefixlen);
}
