/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/sendmsg_internal.c - sendmsg() with msg_name internal (v4, v6) */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6, .sin6_port = htons(9999) };
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_name = &a, .msg_namelen = sizeof(a), .msg_iov = &iov, .msg_iovlen = 1 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), fd6 = socket(AF_INET6, SOCK_DGRAM, 0), r;

	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	inet_pton(AF_INET6, "fd00::1", &b.sin6_addr);
	r = expect_errno("sendmsg(10.0.0.1:9999)", sendmsg(fd, &m, 0), EACCES, EACCES);
	m.msg_name = &b;
	m.msg_namelen = sizeof(b);
	return r | expect_errno("sendmsg([fd00::1]:9999)", sendmsg(fd6, &m, 0), EACCES, EACCES);
}
