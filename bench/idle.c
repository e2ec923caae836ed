/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/idle.c - hold N idle TCP connections open
 *
 *   idle HOST PORT N
 *
 * Raises its RLIMIT_NOFILE to the hard limit, opens N connections one
 * after the other (bounded to 60 s) to a "server ... hold", which writes
 * one byte on accept: a connection counts as open once that byte arrived
 * (within 5 s), so that it is known to reach the world, not only the
 * relay.  Prints "open K" (K of N, then the first error if K < N) and
 * keeps them until standard input closes.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	struct rlimit rl;
	int n = argc == 4 ? atoi(argv[3]) : 0, open_ = 0;
	time_t t0 = time(NULL);
	const char *why = "";
	char c;

	if (n <= 0 || getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		fprintf(stderr, "usage: idle HOST PORT N\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < n && time(NULL) - t0 < 60; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (fd < 0) {
			why = strerror(errno);
			break;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			why = strerror(errno);
			close(fd);
			break;
		}
		if (poll(&p, 1, 5000) != 1) {
			why = "connected, but no byte from the server within 5 s";
			close(fd);
			break;
		}
		ssize_t r = read(fd, &c, 1);
		if (r != 1) {
			why = r == 0 ? "connected, then closed before the server's byte"
				     : "connected, then reset before the server's byte";
			close(fd);
			break;
		}
		open_++;
	}
	printf("open %d%s%s\n", open_, open_ < n ? " " : "", open_ < n ? why : "");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
