/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/sendmmsg_internal.c - sendmmsg UDP to internal addresses */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct iovec iov = { "x", 1 };
	struct mmsghdr m[2] = { { .msg_hdr = { &a, sizeof(a), &iov, 1 } }, { .msg_hdr = { &a, sizeof(a), &iov, 1 } } };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	return expect_errno("sendmmsg(10.0.0.1:9999)", sendmmsg(fd, m, 2, 0), EACCES, EACCES);
}
