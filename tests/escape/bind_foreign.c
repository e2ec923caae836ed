/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/bind_foreign.c - IP_FREEBIND to take an internal address as source */
#include "escape.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
int main(void)
{
	static const char *const v4[] = { "169.254.169.254", "10.0.0.1", "192.0.2.1" };
	int one = 1, r = 0;

	for (unsigned i = 0; i < 3; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8080) };
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
		inet_pton(AF_INET, v4[i], &a.sin_addr);
		r |= expect_errno(v4[i], bind(fd, (void *)&a, sizeof(a)), EACCES, EACCES);
	}
	{
		struct sockaddr_in6 b = { .sin6_family = AF_INET6, .sin6_port = htons(8080) };
		int fd = socket(AF_INET6, SOCK_STREAM, 0);

		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
		inet_pton(AF_INET6, "fd00::1", &b.sin6_addr);
		r |= expect_errno("fd00::1", bind(fd, (void *)&b, sizeof(b)), EACCES, EACCES);
	}
	return r;
}
