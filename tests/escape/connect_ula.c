/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/connect_ula.c - TCP to a unique local IPv6 address */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	inet_pton(AF_INET6, "fd00::1", &a.sin6_addr);
	return expect_errno("connect([fd00::1]:80)", connect(fd, (void *)&a, sizeof(a)), EACCES, EACCES);
}
