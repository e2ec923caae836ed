/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/icmp_ping_socket.c - unprivileged ICMP echo to the world */
#include "escape.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct icmphdr h = { .type = ICMP_ECHO };
	int fd, pf = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);

	if (pf >= 0) { (void)!write(pf, "0 2147483647", 12); close(pf); } /* as root: allow ping sockets */
	fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (fd < 0) { printf("held: ping socket -> %s\n", strerror(errno)); return 0; }
	inet_pton(AF_INET, "198.51.100.10", &a.sin_addr);
	return expect_errno("sendto(ICMP echo, 198.51.100.10)", sendto(fd, &h, sizeof(h), 0, (void *)&a, sizeof(a)), EACCES, EACCES);
}
