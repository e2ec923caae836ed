/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/copyrelay.c - the cheapest user-space TCP relay for small
 * messages, as a floor for nbjail's relay in bench/serve
 *
 *	copyrelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT
 *
 * Theory of operation: one thread, one level-triggered epoll set; a
 * connection accepted is paired with one connected to the target (both
 * TCP_NODELAY, as nbjail's relay sets them), and each readable socket
 * costs one recv() into a buffer on the stack and one send() of it to
 * its pair (blocking: on loopback a small send never waits).  A request
 * and its answer thus cost four system calls and a share of an
 * epoll_wait(): what any relay that is a process of its own must spend,
 * and the least nbjail's relay can.  No policy, no limits, no half-close
 * (EOF or an error closes the pair).  IPv4 only; prints "ready" once
 * listening.  For bench/serve, not for anything else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define FDS 65536

static int pair[FDS];	/* the other socket of each relayed socket */

static int addr(const char *a, const char *port, struct sockaddr_in *sin)
{
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, a, &sin->sin_addr) == 1 ? 0 : -1;
}

static void nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int main(int argc, char **argv)
{
	struct sockaddr_in l = { 0 }, t = { 0 };
	int one = 1, lfd, ep;

	if (argc != 5 || addr(argv[1], argv[2], &l) < 0 || addr(argv[3], argv[4], &t) < 0) {
		fprintf(stderr, "usage: copyrelay LISTEN_ADDR PORT TARGET_ADDR PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ep < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&l, sizeof(l)) < 0 || listen(lfd, 1024) < 0) {
		perror("copyrelay: listen");
		return 1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &(struct epoll_event){ .events = EPOLLIN, .data.fd = lfd });
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			char buf[65536];
			ssize_t r;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				int d = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

				if (c < 0 || d < 0 || c >= FDS || d >= FDS ||
				    connect(d, (struct sockaddr *)&t, sizeof(t)) < 0) {
					if (c >= 0)
						close(c);
					if (d >= 0)
						close(d);
					continue;
				}
				nodelay(c);
				nodelay(d);
				pair[c] = d;
				pair[d] = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c,
					  &(struct epoll_event){ .events = EPOLLIN, .data.fd = c });
				epoll_ctl(ep, EPOLL_CTL_ADD, d,
					  &(struct epoll_event){ .events = EPOLLIN, .data.fd = d });
				continue;
			}
			r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r < 0)
				continue;	/* EAGAIN: the pair was closed and reused, or spurious */
			if (r == 0 || send(pair[fd], buf, (size_t)r, MSG_NOSIGNAL) != r) {
				close(pair[fd]);
				close(fd);
			}
		}
	}
}
