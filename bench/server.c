/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/server.c - the world's side of the benchmarks (epoll, one thread)
 *
 *   server ADDR PORT byte   accept, write one byte, close (connect rate)
 *   server ADDR PORT hold   accept, write one byte, keep the connection (idle
 *                           flows: the byte proves the flow reaches here)
 *                           until the peer closes it
 *   server ADDR PORT http   answer any request with 200 and N bytes of
 *                           zeros, N from the path: GET /1073741824
 *   server ADDR PORT reply  read the request until the client's EOF, then
 *                           write one byte and close (one-shot round trips
 *                           of the dock, bench/dockrate.c)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

static char zeros[1 << 20];

static void http(int c)
{
	char req[1024], head[128];
	ssize_t n = 0, r;
	long long left;
	int flags = fcntl(c, F_GETFL);

	(void)fcntl(c, F_SETFL, flags & ~O_NONBLOCK);
	while (n < (ssize_t)sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - (size_t)n)) > 0) {
		n += r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (n <= 0 || sscanf(req, "GET /%lld", &left) != 1)
		left = 0;
	n = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Length: %lld\r\n\r\n", left);
	if (write(c, head, (size_t)n) != n)
		left = 0;
	while (left > 0) {
		r = write(c, zeros, left < (long long)sizeof(zeros) ? (size_t)left : sizeof(zeros));
		if (r <= 0)
			break;
		left -= r;
	}
	close(c);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN };
	int ls, ep, one = 1;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { /* hold: one fd per flow */
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}

	if (argc != 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: server ADDR PORT byte|hold|http|reply\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 65535)) {
		perror("server: bind");
		return 1;
	}
	ep = epoll_create1(0);
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event e;

		if (epoll_wait(ep, &e, 1, -1) < 1)
			continue;
		if (e.data.fd != ls) {	/* a held connection: EOF or reset ends it */
			char buf[256];
			ssize_t n = read(e.data.fd, buf, sizeof(buf));

			if (n == 0 && !strcmp(argv[3], "reply"))
				(void)!write(e.data.fd, "x", 1);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				close(e.data.fd);
			continue;
		}
		for (;;) {
			int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);

			if (c < 0)
				break;
			if (!strcmp(argv[3], "byte")) {
				(void)!write(c, "x", 1);
				close(c);
			} else if (!strcmp(argv[3], "http")) {
				if (fork() == 0)
					http(c);
				close(c);
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
			} else {
				struct epoll_event hev = { .events = EPOLLIN, .data.fd = c };

				if (strcmp(argv[3], "reply")) /* hold: keep it until its EOF */
					(void)!write(c, "h", 1);
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &hev) < 0)
					close(c);
			}
		}
	}
}
