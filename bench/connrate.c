/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/connrate.c - new TCP connections per second, and the time from
 * socket() to the first byte of the answer
 *
 *   connrate HOST PORT COUNT SECONDS WORKERS [socks5 PROXY PORT]
 *
 * WORKERS processes each connect, read one byte and close (RST), one
 * after the other, until COUNT connections in all or SECONDS passed
 * (bounded both ways).  HOST may be a name (resolved once, as a client
 * of a pinned name would).  With socks5, each connection goes through the
 * proxy (no authentication, CONNECT to the address).  Prints one line of
 * JSON: ok, failed, seconds, rate, p50_us, p99_us.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int readn(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai, *px = NULL;
	int count, workers, per;
	double seconds, *lat, t0, el;
	int *ok, *failed;

	if (argc != 6 && argc != 9) {
		fprintf(stderr, "usage: connrate HOST PORT COUNT SECONDS WORKERS [socks5 PROXY PORT]\n");
		return 2;
	}
	count = atoi(argv[3]);
	seconds = atof(argv[4]);
	workers = atoi(argv[5]);
	per = count / workers;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		printf("{\"error\": \"cannot resolve %s\"}\n", argv[1]);
		return 1;
	}
	if (argc == 9 && getaddrinfo(argv[7], argv[8], &hints, &px) != 0)
		return 1;
	lat = mmap(NULL, sizeof(double) * (size_t)count, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ok = mmap(NULL, sizeof(int) * 2 * (size_t)workers, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	failed = ok + workers;
	t0 = now();
	for (int w = 0; w < workers; w++) {
		if (fork())
			continue;
		for (int i = 0; i < per && now() - t0 < seconds; i++) {
			double s = now();
			int fd = socket(AF_INET, SOCK_STREAM, 0), good = 0;
			struct linger lg = { 1, 0 };
			unsigned char b[16];

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (px) {
				struct sockaddr_in *d = (struct sockaddr_in *)ai->ai_addr;
				unsigned char req[10] = { 5, 1, 0, 1 };

				memcpy(req + 4, &d->sin_addr, 4);
				memcpy(req + 8, &d->sin_port, 2);
				good = connect(fd, px->ai_addr, px->ai_addrlen) == 0 &&
				       write(fd, "\5\1\0", 3) == 3 && readn(fd, b, 2) == 0 &&
				       write(fd, req, 10) == 10 && readn(fd, b, 10) == 0 && b[1] == 0 &&
				       readn(fd, b, 1) == 0;
			} else {
				good = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
				       readn(fd, b, 1) == 0;
			}
			if (good)
				lat[w * per + ok[w]++] = now() - s;
			else
				failed[w]++;
			close(fd);
		}
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	el = now() - t0;
	{
		int n = 0, f = 0;

		for (int w = 0; w < workers; w++) {
			memmove(lat + n, lat + w * per, sizeof(double) * (size_t)ok[w]);
			n += ok[w];
			f += failed[w];
		}
		qsort(lat, (size_t)n, sizeof(double), cmp);
		printf("{\"ok\": %d, \"failed\": %d, \"seconds\": %.3f, \"rate\": %.0f, "
		       "\"p50_us\": %.0f, \"p99_us\": %.0f}\n", n, f, el, n / el,
		       n ? lat[n / 2] * 1e6 : 0, n ? lat[n * 99 / 100] * 1e6 : 0);
	}
	return 0;
}
