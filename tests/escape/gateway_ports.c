/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/gateway_ports.c - every TCP port of the host end of the veth
 * (the relay's own kernel-chosen listening ports among them), both families,
 * and UDP to the gateway on ports other than DNS */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int gateway(struct sockaddr_in *g4, struct sockaddr_in6 *g6)
{
	char line[256];
	FILE *f = fopen("/etc/resolv.conf", "r"); /* the relay is the resolver */

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "nameserver %63s", line) == 1 &&
		    inet_pton(AF_INET, line, &g4->sin_addr) == 1)
			break;
	if (f)
		fclose(f);
	/* the host end's IPv6 address: the job's /64, ::1 */
	f = fopen("/proc/net/if_inet6", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char hex[33], dev[32];
		unsigned idx, plen, scope, flags;

		if (sscanf(line, "%32s %x %x %x %x %31s", hex, &idx, &plen, &scope, &flags, dev) == 6 &&
		    !strcmp(dev, "eth0") && scope == 0) {
			for (int i = 0; i < 16; i++)
				sscanf(hex + 2 * i, "%2hhx", &g6->sin6_addr.s6_addr[i]);
			g6->sin6_addr.s6_addr[15] = 1;
		}
	}
	if (f)
		fclose(f);
	return g4->sin_addr.s_addr ? 0 : -1;
}

int main(void)
{
	struct sockaddr_in g4 = { .sin_family = AF_INET };
	struct sockaddr_in6 g6 = { .sin6_family = AF_INET6 };
	unsigned tried = 0, other = 0, limited = 0;
	time_t deadline = time(NULL) + 60;

	if (gateway(&g4, &g6) < 0) {
		printf("UNEXPECTED: no gateway found\n");
		return 1;
	}
	for (int fam = 0; fam < 2; fam++)
		for (int port = 1; port <= 65535 && time(NULL) < deadline; port++) {
			int fd, r;

			if (port == 53)
				continue;
			fd = socket(fam ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
			if (fam) {
				g6.sin6_port = htons((uint16_t)port);
				r = connect(fd, (void *)&g6, sizeof(g6));
			} else {
				g4.sin_port = htons((uint16_t)port);
				r = connect(fd, (void *)&g4, sizeof(g4));
			}
			close(fd);
			tried++;
			if (r == 0) {
				printf("ESCAPED: connected to the gateway's port %d (%s)\n", port,
				       fam ? "IPv6" : "IPv4");
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
			printf("ESCAPED: UDP to the gateway's port %d was sent\n", port);
			return 1;
		}
		close(fd);
	}
	if (tried < 2 * 65534 || other) {
		printf("UNEXPECTED: %u ports tried in time, %u failed other than EACCES\n", tried, other);
		return 1;
	}
	printf("held: %u TCP ports of the gateway refused (%u EACCES, %u over the connect "
	       "rate floor), UDP too\n", tried, tried - limited, limited);
	return 0;
}
