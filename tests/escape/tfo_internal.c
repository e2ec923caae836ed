/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/tfo_internal.c - TCP Fast Open with data to an internal address */
#include "escape.h"
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	return expect_errno("sendto(MSG_FASTOPEN, 10.0.0.1:80)",
			    sendto(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_FASTOPEN, (void *)&a, sizeof(a)),
			    EACCES, EACCES);
}
