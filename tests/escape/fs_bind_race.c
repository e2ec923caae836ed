/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/fs_bind_race.c - plant a unix socket in a host directory by
 * racing the seccomp notifier's check of bind()
 *
 * Usage: fs-bind-race HOSTDIR SECONDS.  One thread binds sockets to a
 * sockaddr whose path another thread keeps rewriting between
 * /dev/shm/r.sock (the job's own tmpfs: the notifier lets it pass) and
 * HOSTDIR/r.sock (a host directory the job's user may write on the host,
 * outside the job's writable paths).  The notifier judges one, the kernel
 * may bind the other.  Not part of the escape suite (it needs HOSTDIR):
 * tests/integration/test_filesystem.py runs it.  Prints "ESCAPED: ..."
 * and exits 1 if a socket was bound in HOSTDIR, else "held: ..." and 0.
 */
#include "escape.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static char own[sizeof(addr.sun_path)], host[sizeof(addr.sun_path)];
static atomic_bool stop;

static void *flipper(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		memcpy(addr.sun_path, host, sizeof(host));
		__asm__ volatile("" ::: "memory"); /* both stores happen */
		for (volatile int i = 0; i < 200; i++)
			;
		memcpy(addr.sun_path, own, sizeof(own));
		__asm__ volatile("" ::: "memory");
		for (volatile int i = 0; i < 200; i++)
			;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long binds = 0, refused = 0;
	struct timespec t0, now;
	pthread_t t;
	int seconds;

	if (argc != 3) {
		fprintf(stderr, "usage: fs-bind-race HOSTDIR SECONDS\n");
		return 2;
	}
	snprintf(own, sizeof(own), "/dev/shm/r.sock");
	if ((size_t)snprintf(host, sizeof(host), "%s/r.sock", argv[1]) >= sizeof(host))
		return 2;
	seconds = atoi(argv[2]);
	memcpy(addr.sun_path, own, sizeof(own));
	pthread_create(&t, NULL, flipper, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct sockaddr_un got = { 0 };
		socklen_t len = sizeof(got);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0)
			return 1;
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			refused++;
		} else {
			binds++;
			getsockname(fd, (struct sockaddr *)&got, &len);
			if (!strcmp(got.sun_path, host)) {
				atomic_store(&stop, true);
				printf("ESCAPED: bound %s after %lu binds\n", host, binds);
				return 1;
			}
			unlink(got.sun_path);
		}
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < seconds);
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("held: no socket in %s (%lu binds in the job's own /dev/shm, %lu refused)\n",
	       argv[1], binds, refused);
	return 0;
}
