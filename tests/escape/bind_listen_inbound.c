/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/bind_listen_inbound.c - listen on every address of the job
 * (allowed) and wait for anyone from outside: nothing may arrive.  The test
 * knocks from the host and the world meanwhile (it reads our addresses) */
#include "escape.h"
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8080) };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6, .sin6_port = htons(8080) };
	struct pollfd p[2];
	int one = 1;

	p[0].fd = socket(AF_INET, SOCK_STREAM, 0);
	p[1].fd = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(p[1].fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(p[0].fd, (void *)&a, sizeof(a)) < 0 || listen(p[0].fd, 8) < 0 ||
	    bind(p[1].fd, (void *)&b, sizeof(b)) < 0 || listen(p[1].fd, 8) < 0) {
		printf("UNEXPECTED: listening on the wildcard failed: %s\n", strerror(errno));
		return 1;
	}
	p[0].events = p[1].events = POLLIN;
	printf("listening\n");
	fflush(stdout);
	if (poll(p, 2, 4000) != 0) {
		printf("ESCAPED: a connection from outside arrived\n");
		return 1;
	}
	printf("held: nothing from outside reached the job's listeners in 4 s\n");
	return 0;
}
