/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/udp_internal.c - UDP to an internal address (not DNS) */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(123) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "169.254.169.254", &a.sin_addr);
	return expect_errno("sendto(169.254.169.254:123)", sendto(fd, "x", 1, 0, (void *)&a, sizeof(a)), EACCES, EACCES);
}
