/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/connrate.c - new TCP connections per second, and the time from
 * socket() to the first byte of the answer
 *
 *   connrate HOST PORT COUNT SECONDS WORKERS [socks5 PROXY PORT | socks5env VAR]
 *
 * WORKERS processes each connect, read one byte and close (RST), one
 * after the other, until COUNT connections in all or SECONDS passed
 * (bounded both ways).  HOST may be a name (resolved once, as a client
 * of a pinned name would).  With socks5, each connection goes through the
 * proxy (no authentication, CONNECT to the address).  With socks5env, the
 * proxy is the URL in environment variable VAR, socks5[h]://USER:PASS@HOST:PORT
 * (percent-encoded; how srt hands its SOCKS5 proxy to the sandbox), with
 * username/password authentication (RFC 1929).  Prints one line of JSON:
 * ok, failed, seconds, rate, p50_us, p99_us.
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

#include "bench.h"

/* Decodes %XX in place. */
static void unpercent(char *s)
{
	char *o = s;

	for (; *s; s++) {
		unsigned int x;

		if (*s == '%' && sscanf(s + 1, "%2x", &x) == 1) {
			*o++ = (char)x;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* socks5[h]://USER:PASS@HOST:PORT -> user, pass, host, port (in place). */
static int parse_proxy_url(char *url, char **user, char **pass, char **host, char **port)
{
	char *p = strstr(url, "://"), *at;

	if (!p || strncmp(url, "socks5", 6))
		return -1;
	p += 3;
	at = strrchr(p, '@');
	*user = *pass = NULL;
	if (at) {
		*at = '\0';
		*user = p;
		*pass = strchr(p, ':');
		if (*pass)
			*(*pass)++ = '\0';
		p = at + 1;
	}
	*host = p;
	*port = strrchr(p, ':');
	if (!*port)
		return -1;
	*(*port)++ = '\0';
	if (*user)
		unpercent(*user);
	if (*pass)
		unpercent(*pass);
	return 0;
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
	unsigned char auth[520];
	size_t authlen = 0;
	int count, workers, per;
	double seconds, *lat, t0, el;
	int *ok, *failed;

	if (argc != 6 && argc != 8 && argc != 9) {
		fprintf(stderr, "usage: connrate HOST PORT COUNT SECONDS WORKERS "
				"[socks5 PROXY PORT | socks5env VAR]\n");
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
	if (argc == 8) {
		char *url = getenv(argv[7]), *user, *pass, *host, *port;

		if (!url || parse_proxy_url(url = strdup(url), &user, &pass, &host, &port) < 0 ||
		    getaddrinfo(!strcmp(host, "localhost") ? "127.0.0.1" : host, port, &hints, &px) != 0) {
			printf("{\"error\": \"no usable socks5 URL in $%s\"}\n", argv[7]);
			return 1;
		}
		if (user && pass && strlen(user) < 256 && strlen(pass) < 256) {
			size_t u = strlen(user), w = strlen(pass);

			auth[0] = 1;
			auth[1] = (unsigned char)u;
			memcpy(auth + 2, user, u);
			auth[2 + u] = (unsigned char)w;
			memcpy(auth + 3 + u, pass, w);
			authlen = 3 + u + w;
		}
	}
	lat = mmap(NULL, sizeof(double) * (size_t)count, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ok = mmap(NULL, sizeof(int) * 2 * (size_t)workers, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	failed = ok + workers;
	t0 = bench_now();
	for (int w = 0; w < workers; w++) {
		if (fork())
			continue;
		for (int i = 0; i < per && bench_now() - t0 < seconds; i++) {
			double s = bench_now();
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
				       write(fd, authlen ? "\5\1\2" : "\5\1\0", 3) == 3 &&
				       readn(fd, b, 2) == 0 &&
				       (!authlen || (b[1] == 2 &&
						     write(fd, auth, authlen) == (ssize_t)authlen &&
						     readn(fd, b, 2) == 0 && b[1] == 0)) &&
				       write(fd, req, 10) == 10 && readn(fd, b, 10) == 0 && b[1] == 0 &&
				       readn(fd, b, 1) == 0;
			} else {
				good = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
				       readn(fd, b, 1) == 0;
			}
			if (good)
				lat[w * per + ok[w]++] = bench_now() - s;
			else
				failed[w]++;
			close(fd);
		}
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	el = bench_now() - t0;
	{
		int n = 0, f = 0;

		for (int w = 0; w < workers; w++) {
			memmove(lat + n, lat + w * per, sizeof(double) * (size_t)ok[w]);
			n += ok[w];
			f += failed[w];
		}
		qsort(lat, (size_t)n, sizeof(double), bench_cmp_double);
		printf("{\"ok\": %d, \"failed\": %d, \"seconds\": %.3f, \"rate\": %.0f, "
		       "\"p50_us\": %.0f, \"p99_us\": %.0f}\n", n, f, el, n / el,
		       n ? lat[n / 2] * 1e6 : 0, n ? lat[n * 99 / 100] * 1e6 : 0);
	}
	return 0;
}
