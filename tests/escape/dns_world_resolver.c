/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/dns_world_resolver.c - DNS straight to the world's resolver:
 * over UDP the relay's stub answers instead (this job's policy has no names:
 * REFUSED), over TCP the connect is refused */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp_query(int family, const char *server)
{
	/* id 0x4e42, RD, one question: allowed.test IN A */
	static const unsigned char q[] = { 0x4e, 0x42, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		7, 'a', 'l', 'l', 'o', 'w', 'e', 'd', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };
	struct sockaddr_storage ss = { 0 };
	unsigned char ans[512];
	struct timeval tv = { 3, 0 };
	int fd = socket(family, SOCK_DGRAM, 0);
	ssize_t n;

	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(53);
		inet_pton(AF_INET, server, &a->sin_addr);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(53);
		inet_pton(AF_INET6, server, &a->sin6_addr);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, q, sizeof(q), 0, (void *)&ss, sizeof(ss)) < 0) {
		printf("UNEXPECTED: sendto(%s:53): %s\n", server, strerror(errno));
		return 1;
	}
	n = recv(fd, ans, sizeof(ans), 0);
	if (n < 12 || ans[0] != 0x4e || ans[1] != 0x42) {
		printf("UNEXPECTED: no answer from %s:53 (%zd)\n", server, n);
		return 1;
	}
	if ((ans[3] & 0xf) != 5) {
		printf("ESCAPED: %s:53 answered rcode %d with %d answers (not the relay's REFUSED)\n",
		       server, ans[3] & 0xf, ans[6] << 8 | ans[7]);
		return 1;
	}
	printf("held: a query to %s:53 was answered by the relay (REFUSED)\n", server);
	return 0;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), r;

	r = udp_query(AF_INET, "198.51.100.53");
	r |= udp_query(AF_INET6, "2001:db8::53");
	inet_pton(AF_INET, "198.51.100.53", &a.sin_addr);
	return r | expect_errno("connect(tcp 198.51.100.53:53)", connect(fd, (void *)&a, sizeof(a)), EACCES, EACCES);
}
