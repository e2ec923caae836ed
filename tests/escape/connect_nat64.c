/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/connect_nat64.c - 10.0.0.1 in NAT64 and 6to4 clothing */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	static const char *const targets[] = { "64:ff9b::a00:1", "64:ff9b:1::a00:1", "2002:a00:1::1", "::a00:1" };
	int r = 0;

	for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
		int fd = socket(AF_INET6, SOCK_STREAM, 0);

		inet_pton(AF_INET6, targets[i], &a.sin6_addr);
		r |= expect_errno(targets[i], connect(fd, (void *)&a, sizeof(a)), EACCES, EACCES);
	}
	return r;
}
