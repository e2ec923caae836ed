/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/udp_connect_internal.c - connect() a UDP socket to an internal
 * address, then send() without an address */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9999) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r;

	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	r = expect_errno("connect(udp, 10.0.0.1:9999)", connect(fd, (void *)&a, sizeof(a)), EACCES, EACCES);
	/* not connected: send() has nowhere to go */
	return r | expect_errno("send() after the refused connect", send(fd, "x", 1, 0), EDESTADDRREQ, EDESTADDRREQ);
}
