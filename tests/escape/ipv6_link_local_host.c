/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/ipv6_link_local_host.c - the host end of the veth by its IPv6
 * link-local address (learned from the neighbour table), TCP and UDP */
#include "escape.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in6 ll = { .sin6_family = AF_INET6, .sin6_port = htons(22) };
	struct sockaddr_in dns = { .sin_family = AF_INET, .sin_port = htons(53) };
	unsigned char mac[6];
	char line[256], ip[64], gw[64] = "";
	int found = 0, fd, r;
	FILE *f;

	/* a DNS packet to the gateway makes the kernel resolve its MAC */
	f = fopen("/etc/resolv.conf", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "nameserver %63s", gw) == 1)
			break;
	if (f)
		fclose(f);
	inet_pton(AF_INET, gw, &dns.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	(void)sendto(fd, "x", 1, 0, (void *)&dns, sizeof(dns));
	usleep(200000);
	f = fopen("/proc/net/arp", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %*s %*s %hhx:%hhx:%hhx:%hhx:%hhx:%hhx", ip, &mac[0], &mac[1],
			   &mac[2], &mac[3], &mac[4], &mac[5]) == 7 && !strcmp(ip, gw))
			found = 1;
	if (f)
		fclose(f);
	if (!found) {
		printf("UNEXPECTED: the gateway's MAC is not in the neighbour table\n");
		return 1;
	}
	/* EUI-64: fe80::MAC with ff:fe in the middle and the U/L bit flipped */
	ll.sin6_addr.s6_addr[0] = 0xfe;
	ll.sin6_addr.s6_addr[1] = 0x80;
	ll.sin6_addr.s6_addr[8] = mac[0] ^ 2;
	ll.sin6_addr.s6_addr[9] = mac[1];
	ll.sin6_addr.s6_addr[10] = mac[2];
	ll.sin6_addr.s6_addr[11] = 0xff;
	ll.sin6_addr.s6_addr[12] = 0xfe;
	ll.sin6_addr.s6_addr[13] = mac[3];
	ll.sin6_addr.s6_addr[14] = mac[4];
	ll.sin6_addr.s6_addr[15] = mac[5];
	ll.sin6_scope_id = if_nametoindex("eth0");
	inet_ntop(AF_INET6, &ll.sin6_addr, ip, sizeof(ip));
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	r = expect_errno("connect(host link-local:22)", connect(fd, (void *)&ll, sizeof(ll)), EACCES, EACCES);
	ll.sin6_port = htons(8081);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	r |= expect_errno("connect(host link-local:8081)", connect(fd, (void *)&ll, sizeof(ll)), EACCES, EACCES);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	ll.sin6_port = htons(123);
	r |= expect_errno("sendto(host link-local:123)", sendto(fd, "x", 1, 0, (void *)&ll, sizeof(ll)), EACCES, EACCES);
	/* also the all-nodes multicast group on the link */
	inet_pton(AF_INET6, "ff02::1", &ll.sin6_addr);
	r |= expect_errno("sendto(ff02::1:123)", sendto(fd, "x", 1, 0, (void *)&ll, sizeof(ll)), EACCES, EACCES);
	printf("(host end: %s)\n", ip);
	return r;
}
