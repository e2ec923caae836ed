/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/fork_bomb_connects.c - 64 processes x 100 connects to internal
 * IPv4 and IPv6 targets at once: every single one must be refused */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void)
{
	int escaped = 0, failed = 0;

	for (int c = 0; c < 64; c++) {
		if (fork() != 0)
			continue;
		for (int i = 0; i < 100; i++) {
			int fd, r;

			if ((c + i) & 1) {
				struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
				fd = socket(AF_INET6, SOCK_STREAM, 0);
				inet_pton(AF_INET6, "fd00::1", &a.sin6_addr);
				r = connect(fd, (void *)&a, sizeof(a));
			} else {
				struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
				fd = socket(AF_INET, SOCK_STREAM, 0);
				inet_pton(AF_INET, i & 2 ? "10.0.0.1" : "169.254.169.254", &a.sin_addr);
				r = connect(fd, (void *)&a, sizeof(a));
			}
			if (r == 0)
				_exit(2);
			if (errno != EACCES && errno != ECONNREFUSED) /* denied, or over the rate floor */
				_exit(3);
			close(fd);
		}
		_exit(0);
	}
	for (int c = 0; c < 64; c++) {
		int st;

		if (wait(&st) < 0)
			break;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
			escaped++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	if (escaped) {
		printf("ESCAPED: %d processes connected\n", escaped);
		return 1;
	}
	if (failed) {
		printf("UNEXPECTED: %d processes failed other than EACCES or ECONNREFUSED\n", failed);
		return 1;
	}
	printf("held: 6400 connects from 64 processes, all refused\n");
	return 0;
}
