/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/unix_swap_bind.c - two races at once against bind(): one
 * thread swaps the fd between an IPv6 and an AF_UNIX socket (dup2), another
 * flips the address between [::1]:0 and a pathname in a host directory.
 * The supervisor may judge an IPv6 bind and let the kernel continue, and
 * the kernel then binds the AF_UNIX socket to the path; only the kernel's
 * own refusal (Landlock: socket files only in the job's private
 * directories) keeps the socket file out of the host directory.
 *
 *   escape-unix_swap_bind FORBIDDEN_PATH   (at most 25 bytes)
 *
 * Bounded: 20,000 attempts or 5 seconds.
 */
#include "escape.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ATTEMPTS 20000
#define SECONDS 5
#define SLOT 100		/* the fd number both sockets take turns at */

static union {
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	char bytes[sizeof(struct sockaddr_in6)];
} addr;
static char in6_bytes[sizeof(addr.bytes)], un_bytes[sizeof(addr.bytes)];
static atomic_int stop, fd_unix = -1, fd_inet = -1;

static void *flip_addr(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++)
		memcpy((void *)addr.bytes, (i & 1) ? in6_bytes : un_bytes, sizeof(addr.bytes));
	return NULL;
}

static void *swap_fd(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		int fd = (i & 1) ? atomic_load(&fd_inet) : atomic_load(&fd_unix);

		if (fd >= 0)
			(void)dup2(fd, SLOT);
		if (!(i & 255))
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	unsigned ok = 0, denied = 0, other = 0, escaped = 0;
	time_t deadline = time(NULL) + SECONDS;
	pthread_t t1, t2;
	struct stat st;
	int i;

	if (argc != 2 || strlen(argv[1]) > sizeof(addr.bytes) - 3) {
		printf("UNEXPECTED: usage: escape-unix_swap_bind FORBIDDEN_PATH (short)\n");
		return 1;
	}
	snprintf(un.sun_path, sizeof(addr.bytes) - 2, "%s", argv[1]);
	memcpy(in6_bytes, &in6, sizeof(in6_bytes));
	memcpy(un_bytes, &un, sizeof(un_bytes));
	pthread_create(&t1, NULL, flip_addr, NULL);
	pthread_create(&t2, NULL, swap_fd, NULL);
	for (i = 0; i < ATTEMPTS && time(NULL) < deadline; i++) {
		int u = socket(AF_UNIX, SOCK_STREAM, 0), n = socket(AF_INET6, SOCK_STREAM, 0);
		int e;
		long r;

		atomic_store(&fd_unix, u);
		atomic_store(&fd_inet, n);
		(void)dup2(i & 1 ? n : u, SLOT);
		r = bind(SLOT, (struct sockaddr *)&addr, sizeof(addr.bytes));
		e = errno;
		if (r == 0 && stat(argv[1], &st) == 0) {
			printf("ESCAPED: bind planted %s\n", argv[1]);
			escaped++;
			(void)unlink(argv[1]);
		}
		if (r == 0)
			ok++;
		else if (e == EACCES)
			denied++;
		else
			other++;
		atomic_store(&fd_unix, -1);
		atomic_store(&fd_inet, -1);
		close(u);
		close(n);
	}
	atomic_store(&stop, 1);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	printf("%s: %d binds racing a swapped fd and a flipping address: %u bound, %u denied, "
	       "%u other errors\n", escaped ? "ESCAPED" : "held", i, ok, denied, other);
	return escaped ? 1 : 0;
}
