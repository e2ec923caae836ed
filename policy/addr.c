/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/addr.c - struct nbj_addr: parsed addresses and their text form
 *
 * Every decision works on these binary addresses; text appears only in
 * log lines, produced by nbj_addr_format().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

/**
 * nbj_addr_from_sockaddr() - parse a socket address
 * @sa:		sockaddr_in or sockaddr_in6
 * @len:	its length
 * @ret:	parsed address, port in host byte order
 *
 * Return: 0, -EINVAL if @len is short, -EAFNOSUPPORT for other families
 */
int nbj_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
			   struct nbj_addr *ret)
{
	struct nbj_addr a = { 0 };

	if (!sa || len < sizeof(sa_family_t))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (len < sizeof(*sin))
			return -EINVAL;
		a.family = AF_INET;
		a.port = ntohs(sin->sin_port);
		a.v4 = sin->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (len < sizeof(*sin6))
			return -EINVAL;
		a.family = AF_INET6;
		a.port = ntohs(sin6->sin6_port);
		a.v6 = sin6->sin6_addr;
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = a;
	return 0;
}

/**
 * nbj_addr_to_sockaddr() - build a socket address
 * @a:		address with port
 * @ret:	socket address
 *
 * Return: the length of the socket address, 0 for an unknown family
 */
socklen_t nbj_addr_to_sockaddr(const struct nbj_addr *a,
			       struct sockaddr_storage *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		sin->sin_addr = a->v4;
		return sizeof(*sin);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		sin6->sin6_addr = a->v6;
		return sizeof(*sin6);
	}
	return 0;
}

/**
 * nbj_addr_format() - text form: "1.2.3.4:80", "[2001:db8::1]:443", or
 * without ":port" when the port is 0
 * @a:		address
 * @buf:	output, always NUL-terminated
 * @len:	size of @buf, NBJ_ADDR_STRLEN is enough
 *
 * Return: @buf
 */
const char *nbj_addr_format(const struct nbj_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (!len)
		return buf;
	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->v4
							   : (const void *)&a->v6,
			  ip, sizeof(ip));
	if (a->family == AF_INET6 && a->port)
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else if (a->port)
		snprintf(buf, len, "%s:%u", ip, a->port);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

/**
 * nbj_prefix_match() - do the first @len bits of @a and @b agree?
 * @a:		address bytes, network order
 * @b:		prefix bytes, network order
 * @len:	prefix length in bits
 *
 * Return: true if they agree
 */
bool nbj_prefix_match(const unsigned char *a, const unsigned char *b,
		      unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || !((a[full] ^ b[full]) & (0xff00 >> rest));
}

/**
 * nbj_addr_unmap_v4() - the IPv4 address inside an IPv4-mapped IPv6 one
 * @a:		address
 * @ret:	the IPv4 address, with @a's port, if @a is ::ffff:a.b.c.d
 *
 * Return: true if @a is IPv4-mapped (and @ret was filled)
 */
bool nbj_addr_unmap_v4(const struct nbj_addr *a, struct nbj_addr *ret)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family != AF_INET6 || memcmp(a->v6.s6_addr, mapped, 12))
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET;
	ret->port = a->port;
	memcpy(&ret->v4, a->v6.s6_addr + 12, 4);
	return true;
}

/**
 * nbj_addr_equal_ip() - same family and address, port ignored
 * @a:	one address
 * @b:	the other
 *
 * Return: true if equal
 */
bool nbj_addr_equal_ip(const struct nbj_addr *a, const struct nbj_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	if (a->family == AF_INET6)
		return !memcmp(&a->v6, &b->v6, sizeof(a->v6));
	return false;
}

/**
 * nbj_addr_is_synthetic() - whether an address is one of the relay's
 * fake-IP addresses (NBJ_SYNTHETIC_V4/V6), also as a v4-mapped address
 * @a:		address
 *
 * Return: true if it lies in a synthetic range
 */
bool nbj_addr_is_synthetic(const struct nbj_addr *a)
{
	struct in6_addr v6;
	struct in_addr v4;
	struct nbj_addr m;

	if (nbj_addr_unmap_v4(a, &m))
		a = &m;
	if (a->family == AF_INET) {
		inet_pton(AF_INET, NBJ_SYNTHETIC_V4, &v4);
		return nbj_prefix_match((const unsigned char *)&a->v4,
					(const unsigned char *)&v4,
					NBJ_SYNTHETIC_V4_PREFIXLEN);
	}
	inet_pton(AF_INET6, NBJ_SYNTHETIC_V6, &v6);
	return nbj_prefix_match(a->v6.s6_addr, v6.s6_addr,
				NBJ_SYNTHETIC_V6_PREFIXLEN);
}

/**
 * nbj_addr_list_format() - "a, b, c": addresses without their ports, for
 * log lines and audit events
 * @a:		addresses
 * @n:		their number
 * @buf:	output, cut at @len (whole addresses only)
 * @len:	its size
 *
 * Return: @buf
 */
const char *nbj_addr_list_format(const struct nbj_addr *a, size_t n, char *buf,
				 size_t len)
{
	size_t o = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o + NBJ_ADDR_STRLEN + 2 < len; i++) {
		struct nbj_addr one = a[i];

		one.port = 0;
		if (i)
			o += (size_t)snprintf(buf + o, len - o, ", ");
		nbj_addr_format(&one, buf + o, len - o);
		o += strlen(buf + o);
	}
	return buf;
}
