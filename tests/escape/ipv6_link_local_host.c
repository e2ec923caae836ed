/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/ipv6_link_local_host.c - a neighbour of the job (a veth's
 * host end, by its IPv6 link-local address or MAC) to talk to directly:
 * the job's netns must hold no interface but lo, and no neighbour */
#include "escape.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char line[256];
	int n = 0;
	FILE *f;

	if (!ifs) {
		printf("UNEXPECTED: if_nameindex: %s\n", strerror(errno));
		return 1;
	}
	for (i = ifs; i->if_index; i++) {
		if (strcmp(i->if_name, "lo")) {
			printf("ESCAPED: the job has an interface %s\n", i->if_name);
			return 1;
		}
		n++;
	}
	if_freenameindex(ifs);
	/* a link-local address has no interface to go out of */
	{
		struct sockaddr_in6 ll = { .sin6_family = AF_INET6, .sin6_port = htons(22),
					   .sin6_scope_id = 1 };
		int fd = socket(AF_INET6, SOCK_STREAM, 0);

		inet_pton(AF_INET6, "fe80::1", &ll.sin6_addr);
		if (connect(fd, (void *)&ll, sizeof(ll)) == 0) {
			printf("ESCAPED: connected to fe80::1%%lo\n");
			return 1;
		}
		close(fd);
	}
	f = fopen("/proc/net/arp", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "IP address", 10)) {
			printf("ESCAPED: a neighbour: %s", line);
			return 1;
		}
	if (f)
		fclose(f);
	printf("held: %d interface (lo), no neighbour, no link-local peer\n", n);
	return 0;
}
