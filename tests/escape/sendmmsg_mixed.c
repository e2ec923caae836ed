/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/sendmmsg_mixed.c - one batch: DNS first, an internal target second */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	struct sockaddr_in dns = { .sin_family = AF_INET, .sin_port = htons(53) };
	struct sockaddr_in bad = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct iovec iov = { "x", 1 };
	struct mmsghdr m[2] = { { .msg_hdr = { &dns, sizeof(dns), &iov, 1 } },
				{ .msg_hdr = { &bad, sizeof(bad), &iov, 1 } } };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, "198.51.100.53", &dns.sin_addr);
	inet_pton(AF_INET, "10.0.0.1", &bad.sin_addr);
	return expect_errno("sendmmsg(198.51.100.53:53, 10.0.0.1:9999)", sendmmsg(fd, m, 2, 0), EACCES, EACCES);
}
