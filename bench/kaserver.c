/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/kaserver.c - the smallest HTTP/1.1 keep-alive server (epoll, one
 * thread): every request (each blank line ending a head) gets
 * "200 OK" and a 2-byte body on the same connection.  The job's server
 * of the forward-mode benchmark (bench/serve).  Bodies are not read:
 * GET only.
 *
 *   kaserver PORT
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static unsigned state[MAXFD];	/* bytes of "\r\n\r\n" matched so far */

int main(int argc, char **argv)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int one = 1, zero = 0, ls, ep;

	if (argc != 2)
		return 2;
	a.sin6_port = htons((unsigned short)atoi(argv[1]));
	ls = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0)
		return perror("listen"), 1;
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &(struct epoll_event){ .events = EPOLLIN, .data.fd = ls });
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			char buf[16384], out[64 * sizeof(reply)];
			ssize_t r;
			size_t o = 0;

			if (fd == ls) {
				int c;

				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= MAXFD) {
						close(c);
						continue;
					}
					state[c] = 0;
					epoll_ctl(ep, EPOLL_CTL_ADD, c,
						  &(struct epoll_event){ .events = EPOLLIN, .data.fd = c });
				}
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fd);
				continue;
			}
			for (ssize_t k = 0; k < r; k++) {
				static const char end[] = "\r\n\r\n";

				state[fd] = buf[k] == end[state[fd]] ? state[fd] + 1 : buf[k] == '\r';
				if (state[fd] == 4) {
					state[fd] = 0;
					if (o + sizeof(reply) > sizeof(out)) {
						(void)!write(fd, out, o);
						o = 0;
					}
					memcpy(out + o, reply, sizeof(reply) - 1);
					o += sizeof(reply) - 1;
				}
			}
			if (o)
				(void)!write(fd, out, o);
		}
	}
}
