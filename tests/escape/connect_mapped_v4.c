/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/connect_mapped_v4.c - internal IPv4 written as ::ffff:a.b.c.d */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	static const char *const targets[] = { "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:127.0.0.1" };
	int r = 0;

	for (int i = 0; i < 2; i++) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
		int fd = socket(AF_INET6, SOCK_STREAM, 0);

		inet_pton(AF_INET6, targets[i], &a.sin6_addr);
		r |= expect_errno(targets[i], connect(fd, (void *)&a, sizeof(a)), EACCES, EACCES);
	}
	return r;
}
