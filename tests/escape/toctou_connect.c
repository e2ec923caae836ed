/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/toctou_connect.c - a thread flips connect()'s sockaddr
 * between an allowed and an internal target while the supervisor reads it:
 * whatever connects must be the allowed world server (the relay re-checks) */
#include "escape.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target = { .sin_family = AF_INET, .sin_port = 0 };
static atomic_int stop;

static void *flipper(void *arg)
{
	struct in_addr good, bad[2];

	(void)arg;
	inet_pton(AF_INET, "198.51.100.10", &good);
	inet_pton(AF_INET, "10.0.0.1", &bad[0]);
	inet_pton(AF_INET, "169.254.169.254", &bad[1]);
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		*(volatile in_addr_t *)&target.sin_addr.s_addr = (i & 1) ? good.s_addr : bad[(i >> 1) & 1].s_addr;
		if (!(i & 63))
			sched_yield();
	}
	return NULL;
}

int main(void)
{
	unsigned ok = 0, denied = 0, other = 0, served = 0;
	time_t deadline = time(NULL) + 20;
	pthread_t t;
	int i;

	target.sin_port = htons(80);
	pthread_create(&t, NULL, flipper, NULL);
	for (i = 0; i < 3000 && time(NULL) < deadline; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = { 5, 0 };
		char buf[256];
		ssize_t n;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
			if (errno == EACCES)
				denied++;
			else
				other++;
			close(fd);
			continue;
		}
		ok++;
		/* connected: only the allowed server may answer */
		(void)!write(fd, "GET / HTTP/1.0\r\n\r\n", 18);
		/* the server writes its header and its body apart: read to EOF */
		n = 0;
		for (ssize_t r; n < (ssize_t)sizeof(buf) - 1 &&
				(r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0;)
			n += r;
		if (n > 0) {
			buf[n] = '\0';
			if (!strstr(buf, "world 198.51.100.10:80")) {
				printf("ESCAPED: a connection answered something else: %.80s\n", buf);
				return 1;
			}
			served++;
		}
		close(fd);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	if (!denied) {
		printf("UNEXPECTED: no connect was denied in %d tries\n", i);
		return 1;
	}
	printf("held: %d connects racing a flipping sockaddr: %u denied by the supervisor, "
	       "%u connected (%u served by the allowed server, the rest reset by the relay "
	       "after a won race), %u other errors\n", i, denied, ok, served, other);
	return 0;
}
