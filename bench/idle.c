/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/idle.c - hold N idle TCP connections open
 *
 *   idle HOST PORT N
 *
 * Opens N connections (non-blocking, bounded to 30 s), prints "open K",
 * then keeps them until standard input closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	struct rlimit rl = { 65536, 65536 };
	int n = argc == 4 ? atoi(argv[3]) : 0, open_ = 0;
	time_t t0 = time(NULL);
	char c;

	if (n <= 0 || getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		fprintf(stderr, "usage: idle HOST PORT N\n");
		return 2;
	}
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < n && time(NULL) - t0 < 30; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			break;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			open_++;
		else
			close(fd);
	}
	printf("open %d\n", open_);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
