/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/toctou_sendto.c - a thread flips sendto()'s address between
 * DNS (let through to the relay's stub) and internal UDP targets */
#include "escape.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target = { .sin_family = AF_INET };
static atomic_int stop;

static void *flipper(void *arg)
{
	struct sockaddr_in good = { .sin_family = AF_INET, .sin_port = htons(53) };
	struct sockaddr_in bad[2] = { { .sin_family = AF_INET, .sin_port = htons(123) },
				      { .sin_family = AF_INET, .sin_port = htons(9999) } };

	(void)arg;
	inet_pton(AF_INET, "198.51.100.53", &good.sin_addr);
	inet_pton(AF_INET, "169.254.169.254", &bad[0].sin_addr);
	inet_pton(AF_INET, "10.0.0.1", &bad[1].sin_addr);
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		const struct sockaddr_in *s = (i & 1) ? &good : &bad[(i >> 1) & 1];

		*(volatile uint64_t *)&target = *(const uint64_t *)s; /* port + address at once */
	}
	return NULL;
}

int main(void)
{
	unsigned sent = 0, denied = 0, nft = 0, other = 0;
	time_t deadline = time(NULL) + 20;
	pthread_t t;
	int i, fd = socket(AF_INET, SOCK_DGRAM, 0);
	/* a DNS query header and a root question, so that the stub answers */
	static const unsigned char q[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1 };

	/* a valid address before the flipper's first write (port 0 is EINVAL) */
	target.sin_port = htons(53);
	inet_pton(AF_INET, "198.51.100.53", &target.sin_addr);
	pthread_create(&t, NULL, flipper, NULL);
	for (i = 0; i < 5000 && time(NULL) < deadline; i++) {
		if (sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&target, sizeof(target)) >= 0)
			sent++;
		else if (errno == EACCES)
			denied++;
		else if (errno == EPERM || errno == ECONNREFUSED)
			nft++; /* won the race at seccomp: the job's nftables refused it */
		else {
			if (other < 3)
				printf("(%s)\n", strerror(errno));
			other++;
		}
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	if (!denied || other) {
		printf("UNEXPECTED: %d sends: %u denied, %u failed otherwise\n", i, denied, other);
		return 1;
	}
	printf("held: %d sends racing a flipping address: %u denied by the supervisor, "
	       "%u refused by nftables after a won race, %u let through to the DNS stub\n",
	       i, denied, nft, sent);
	return 0;
}
