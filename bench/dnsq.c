/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/dnsq.c - DNS queries per second over UDP, and their p50
 *
 *   dnsq SERVER NAME COUNT SECONDS
 *
 * NAME may hold one %d, replaced by the query's number: every query asks
 * another name (no cache can answer it), e.g. q%d.bench.test.
 *
 * One query (type A) at a time, new id each, bounded by COUNT and
 * SECONDS.  A query counts as answered only with a response of its id,
 * rcode NOERROR and at least one answer record; one without any response
 * within 1 s, or with another rcode or no answer, counts as failed (the
 * first bad rcode is reported).  SERVER "resolv" takes the first
 * nameserver of /etc/resolv.conf.  Prints JSON: ok, failed, qps, p50_us,
 * p99_us.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* A query of type A for name into q (header and question); its length. */
static size_t question(unsigned char *q, const char *name)
{
	size_t qlen = 12;

	memset(q, 0, 12);
	q[2] = 1; /* RD */
	q[5] = 1; /* one question */
	for (const char *p = name, *dot; *p; p = dot + 1) {
		dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l > 63 || qlen + l + 6 > 300)
			break;
		q[qlen++] = (unsigned char)l;
		memcpy(q + qlen, p, l);
		qlen += l;
		if (!dot)
			break;
	}
	q[qlen++] = 0;
	q[qlen++] = 0, q[qlen++] = 1, q[qlen++] = 0, q[qlen++] = 1;
	return qlen;
}

int main(int argc, char **argv)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(53) };
	unsigned char q[512], r[1500];
	char server[64];
	int count, ok = 0, failed = 0, fd, bad_rcode = -1;
	double seconds, t0, el, *lat;
	size_t qlen = 0;

	if (argc != 5)
		return 2;
	snprintf(server, sizeof(server), "%s", argv[1]);
	if (!strcmp(server, "resolv")) {
		FILE *f = fopen("/etc/resolv.conf", "r");
		char line[256];

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "nameserver %63s", server) == 1)
				break;
	}
	inet_pton(AF_INET, server, &s.sin_addr);
	count = atoi(argv[3]);
	seconds = atof(argv[4]);
	lat = calloc((size_t)count, sizeof(double));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	connect(fd, (struct sockaddr *)&s, sizeof(s));
	t0 = bench_now();
	for (int i = 0; i < count && bench_now() - t0 < seconds; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double st = bench_now();

		if (i == 0 || strstr(argv[2], "%d")) {
			char name[256];

			snprintf(name, sizeof(name), argv[2], i);
			qlen = question(q, name);
		}
		q[0] = (unsigned char)(i >> 8), q[1] = (unsigned char)i;
		if (send(fd, q, qlen, 0) != (ssize_t)qlen || poll(&p, 1, 1000) != 1 ||
		    recv(fd, r, sizeof(r), 0) < 12 || r[0] != q[0] || r[1] != q[1]) {
			failed++;
			continue;
		}
		if (!(r[2] & 0x80) || (r[3] & 0x0f) || (r[6] == 0 && r[7] == 0)) {
			if (bad_rcode < 0)
				bad_rcode = r[3] & 0x0f;
			failed++;
			continue;
		}
		lat[ok++] = bench_now() - st;
	}
	el = bench_now() - t0;
	qsort(lat, (size_t)ok, sizeof(double), bench_cmp_double);
	printf("{\"ok\": %d, \"failed\": %d, \"first_bad_rcode\": %d, \"seconds\": %.3f, "
	       "\"qps\": %.0f, \"p50_us\": %.0f, \"p99_us\": %.0f}\n",
	       ok, failed, bad_rcode, el, ok / el, ok ? lat[ok / 2] * 1e6 : 0,
	       ok ? lat[ok * 99 / 100] * 1e6 : 0);
	return 0;
}
