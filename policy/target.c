/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/target.c - parse an explain target the way a client would dial it
 *
 * Theory of operation: a target is a URL (SCHEME://AUTHORITY/...), a
 * bracketed IPv6 address with an optional port, a bare IPv6 address, or
 * HOST[:PORT].  URLs follow the WHATWG URL standard, which is what
 * browsers and most HTTP libraries do, because that is where server-side
 * request forgery hides:
 *
 *   - the authority ends at the first '/', '?', '#' or '\'
 *   - the userinfo is everything up to the LAST '@' ("http://a.com@10.0.0.1/"
 *     goes to 10.0.0.1)
 *   - the host is percent-decoded and lower-cased
 *   - a host whose last label is numeric is an IPv4 address in any
 *     spelling inet_aton(3) accepts (hex "0x7f.1", octal "0177.0.0.1",
 *     decimal "2130706433", short "127.1"), as getaddrinfo(3) would
 *     resolve it; if it does not parse, the target is invalid
 *
 * The port is explicit or the scheme's default (http, ws: 80; https, wss:
 * 443); other schemes need an explicit port.  Everything else is a host
 * name.  Pure: no I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/target.h"

#define TARGET_TEXT_MAX 2048

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode and lower-case [s, s+len) into out (NUL-terminated). */
static int decode_host(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0 || c <= ' ' || c == 0x7f)
			return -EINVAL;
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
	return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *ret)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* Is the last dot-separated label all digits, or 0x-hex? (WHATWG "ends in a number") */
static bool ends_in_number(const char *host)
{
	const char *last = strrchr(host, '.');

	last = last ? last + 1 : host;
	if (!*last)
		return false;
	if (last[0] == '0' && last[1] == 'x') {
		for (const char *p = last + 2; *p; p++)
			if (!isxdigit((unsigned char)*p))
				return false;
		return true;
	}
	for (const char *p = last; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static bool valid_name(const char *host)
{
	size_t label = 0;

	if (!*host || strlen(host) > TARGET_HOST_MAX)
		return false;
	for (const char *p = host; *p; p++) {
		if (*p == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* @host decoded; fill ret->host / is_ip / addr */
static int classify_host(char *host, bool bracketed, struct target *ret)
{
	size_t len = strlen(host);
	char *zone;

	if (bracketed || strchr(host, ':')) {
		zone = strchr(host, '%'); /* fe80::1%eth0: the zone does not matter */
		if (zone)
			*zone = '\0';
		if (inet_pton(AF_INET6, host, &ret->addr.v6) != 1)
			return -EINVAL;
		ret->addr.family = AF_INET6;
		ret->is_ip = true;
	} else {
		if (len && host[len - 1] == '.')
			host[--len] = '\0';
		if (ends_in_number(host)) {
			struct in_addr a;

			if (!inet_aton(host, &a))
				return -EINVAL;
			ret->addr.family = AF_INET;
			ret->addr.v4 = a;
			ret->is_ip = true;
		} else if (!valid_name(host)) {
			return -EINVAL;
		}
	}
	if (ret->is_ip) {
		struct nbj_addr noport = ret->addr;

		noport.port = 0;
		nbj_addr_format(&noport, ret->host, sizeof(ret->host));
	} else {
		snprintf(ret->host, sizeof(ret->host), "%s", host);
	}
	return 0;
}

static int default_port(const char *scheme, size_t len, uint16_t *ret)
{
	static const struct { const char *name; uint16_t port; } schemes[] = {
		{ "http", 80 }, { "ws", 80 }, { "https", 443 }, { "wss", 443 },
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].name) == len && !strncasecmp(scheme, schemes[i].name, len)) {
			*ret = schemes[i].port;
			return 0;
		}
	}
	return -EINVAL;
}

/* HOST[:PORT] or [IPv6][:PORT] in [s, s+len) */
static int parse_hostport(const char *s, size_t len, bool port_required,
			  struct target *ret)
{
	char host[TARGET_HOST_MAX + 1];
	const char *h = s, *colon = NULL;
	size_t hlen = len;
	bool bracketed = false;
	int err;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		bracketed = true;
		if (close + 1 < s + len) {
			if (close[1] != ':')
				return -EINVAL;
			colon = close + 1;
		}
	} else {
		const char *first = memchr(s, ':', len);

		if (first && !memchr(first + 1, ':', len - (size_t)(first + 1 - s))) {
			colon = first;
			hlen = (size_t)(colon - s);
		}
	}
	if (colon) {
		err = parse_port(colon + 1, len - (size_t)(colon + 1 - s), &ret->port);
		if (err < 0)
			return err;
	} else if (port_required) {
		return -EINVAL;
	}
	if (!hlen)
		return -EINVAL;
	err = decode_host(h, hlen, host, sizeof(host));
	if (err < 0)
		return err;
	return classify_host(host, bracketed, ret);
}

/**
 * target_parse() - parse a URL, [IPv6]:port, IPv6, host:port or host
 * @text:	target
 * @ret:	parsed target; ret->port is 0 when none was given or implied
 *
 * Return: 0, or -EINVAL for anything malformed (bad URL, bad port,
 * unparseable numeric host, invalid characters)
 */
int target_parse(const char *text, struct target *ret)
{
	struct target t = { 0 };
	const char *sep, *auth, *end;
	size_t len;
	int err;

	if (!text || !*text || strlen(text) > TARGET_TEXT_MAX)
		return -EINVAL;
	sep = strstr(text, "://");
	if (sep) {
		const char *at;

		for (const char *p = text; p < sep; p++)
			if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') ||
			    (p == text && !isalpha((unsigned char)*p)))
				return -EINVAL;
		if (sep == text)
			return -EINVAL;
		auth = sep + 3;
		end = auth + strcspn(auth, "/?#\\");
		at = NULL;
		for (const char *p = auth; p < end; p++)
			if (*p == '@')
				at = p;
		if (at)
			auth = at + 1;
		len = (size_t)(end - auth);
		err = parse_hostport(auth, len, false, &t);
		if (err < 0)
			return err;
		if (!t.port && default_port(text, (size_t)(sep - text), &t.port) < 0)
			return -EINVAL;
	} else {
		err = parse_hostport(text, strlen(text), false, &t);
		if (err < 0)
			return err;
	}
	t.addr.port = t.port;
	*ret = t;
	return 0;
}
