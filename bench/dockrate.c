/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/dockrate.c - one-shot TCP round trips per second, through the
 * dock or directly
 *
 *   dockrate dock   HOST PORT COUNT SECONDS WORKERS   (inside a job)
 *   dockrate direct HOST PORT COUNT SECONDS WORKERS   (where the relay dials)
 *
 * One round trip: the request "ping\n" out, half-close, the answer read
 * to its end (the world's reply server: one byte after the request's
 * end, then close).  dock: one
 * nbj_dock_tcp() call (include/nbjail/dock.h, linked from dock/client.c
 * and dock/wire.c); direct: socket, connect, send, shutdown(SHUT_WR),
 * read until EOF, close.  WORKERS processes each do round trips one after
 * the other until COUNT in all or SECONDS passed (bounded both ways).
 * Prints one line of JSON: ok, denied (dock calls answered -EACCES: over
 * the tenant's dock rate), failed, seconds, rate (ok/s), answered_rate
 * ((ok + denied)/s), p50_us, p99_us (of the ok ones).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "nbjail/dock.h"

#define SAMPLES_MAX 200000

struct shared {
	atomic_long next;
	atomic_long ok;
	atomic_long denied;
	atomic_long failed;
	double samples[SAMPLES_MAX];
};

static int direct_once(const struct sockaddr_in *a)
{
	char buf[256];
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    send(fd, "ping\n", 5, MSG_NOSIGNAL) != 5 || shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	while (!err && (n = read(fd, buf, sizeof(buf))) != 0)
		if (n < 0)
			err = -errno;
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct shared *s;
	long count, workers;
	double secs, t0, t1;
	int dock;

	if (argc != 7 || (strcmp(argv[1], "dock") && strcmp(argv[1], "direct"))) {
		fprintf(stderr, "usage: dockrate dock|direct HOST PORT COUNT SECONDS WORKERS\n");
		return 2;
	}
	dock = !strcmp(argv[1], "dock");
	a.sin_port = htons((uint16_t)atoi(argv[3]));
	if (!dock && inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
		fprintf(stderr, "dockrate: direct needs an IPv4 address\n");
		return 2;
	}
	count = atol(argv[4]);
	secs = atof(argv[5]);
	workers = atol(argv[6]);
	if (count < 1 || count > SAMPLES_MAX || secs <= 0 || secs > 60 || workers < 1 || workers > 64)
		return 2;
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return 1;
	t0 = bench_now();
	for (long w = 0; w < workers; w++) {
		if (fork() != 0)
			continue;
		for (;;) {
			long i = atomic_fetch_add(&s->next, 1);
			double start = bench_now();
			unsigned char out[256];
			long r;

			if (i >= count || start - t0 > secs)
				_exit(0);
			r = dock ? (long)nbj_dock_tcp(argv[2], (uint16_t)atoi(argv[3]), "ping\n", 5,
						      out, sizeof(out))
				 : direct_once(&a);
			if (r >= 0) {
				long k = atomic_fetch_add(&s->ok, 1);

				s->samples[k] = (bench_now() - start) * 1e6;
			} else if (r == -EACCES) {
				atomic_fetch_add(&s->denied, 1);
			} else {
				atomic_fetch_add(&s->failed, 1);
			}
		}
	}
	while (wait(NULL) > 0)
		;
	t1 = bench_now();
	{
		long ok = atomic_load(&s->ok), denied = atomic_load(&s->denied);

		qsort(s->samples, (size_t)ok, sizeof(double), bench_cmp_double);
		printf("{\"mode\": \"%s\", \"ok\": %ld, \"denied\": %ld, \"failed\": %ld, "
		       "\"seconds\": %.3f, \"rate\": %.1f, \"answered_rate\": %.1f, "
		       "\"p50_us\": %.0f, \"p99_us\": %.0f}\n",
		       argv[1], ok, denied, atomic_load(&s->failed), t1 - t0, ok / (t1 - t0),
		       (ok + denied) / (t1 - t0), ok ? s->samples[ok / 2] : 0.0,
		       ok ? s->samples[ok * 99 / 100] : 0.0);
	}
	return 0;
}
