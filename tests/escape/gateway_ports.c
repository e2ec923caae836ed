/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/gateway_ports.c - what stands for a gateway in the job's
 * netns: every TCP port of the resolver address (10.231.0.1, not local:
 * redirected to the relay, which must refuse it) and UDP to it on ports
 * other than DNS (a direct connection to the relay's own listening
 * sockets is tests/integration/test_datapath.py's) */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int resolver(struct sockaddr_in *g4)
{
	char line[256];
	FILE *f = fopen("/etc/resolv.conf", "r"); /* the relay is the resolver */

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "nameserver %63s", line) == 1 &&
		    inet_pton(AF_INET, line, &g4->sin_addr) == 1)
			break;
	if (f)
		fclose(f);
	return g4->sin_addr.s_addr ? 0 : -1;
}

int main(void)
{
	struct sockaddr_in g4 = { .sin_family = AF_INET };
	unsigned tried = 0, other = 0, limited = 0;
	time_t deadline;

	if (resolver(&g4) < 0) {
		printf("UNEXPECTED: no resolver found\n");
		return 1;
	}
	deadline = time(NULL) + 60;
	for (int port = 1; port <= 65535 && time(NULL) < deadline; port++) {
		int fd, r;

		if (port == 53)
			continue;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		g4.sin_port = htons((uint16_t)port);
		r = connect(fd, (void *)&g4, sizeof(g4));
		close(fd);
		tried++;
		if (r == 0) {
			printf("ESCAPED: connected to the resolver's port %d\n", port);
			return 1;
		}
		if (errno == ECONNREFUSED)
			limited++; /* the connect rate floor: refused as well */
		else if (errno != EACCES)
			other++;
	}
	for (int port = 1; port < 2000; port += 7) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		g4.sin_port = htons((uint16_t)port);
		if (port != 53 && sendto(fd, "x", 1, 0, (void *)&g4, sizeof(g4)) == 0) {
			printf("ESCAPED: UDP to the resolver's port %d was sent\n", port);
			return 1;
		}
		close(fd);
	}
	if (tried < 65534 || other) {
		printf("UNEXPECTED: %u ports tried in time, %u failed other than EACCES\n", tried, other);
		return 1;
	}
	printf("held: %u TCP ports of the resolver refused (%u EACCES, %u over the "
	       "connect rate floor), UDP too\n", tried, tried - limited, limited);
	return 0;
}
