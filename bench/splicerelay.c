/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/splicerelay.c - the smallest TCP relay that splice(2) allows, as
 * a yardstick for nbjail's relay (the "65-line splice relay")
 *
 *	splicerelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT
 *
 * Theory of operation: accept a connection, connect to the target, then
 * one thread per direction moves bytes with blocking splice(2) through
 * its own 1 MiB pipe (never through user space); EOF is passed on as
 * shutdown(SHUT_WR).  No policy, no epoll, no limits: what is left is the
 * kernel's cost of terminating and re-originating TCP.  IPv4 only; prints
 * "ready" once listening.  For bench/run, not for anything else.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct half {
	int from, to;
};

static void *pump(void *arg)
{
	struct half *h = arg;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	(void)fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	for (;;) {
		ssize_t n = splice(h->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);

		if (n <= 0)
			break;
		while (n > 0) {
			ssize_t m = splice(p[0], NULL, h->to, NULL, (size_t)n, SPLICE_F_MOVE);

			if (m <= 0)
				goto out;
			n -= m;
		}
	}
out:
	shutdown(h->to, SHUT_WR);
	close(p[0]);
	close(p[1]);
	return NULL;
}

static void *serve(void *arg)
{
	int *fds = arg;
	struct half up = { fds[0], fds[1] }, down = { fds[1], fds[0] };
	pthread_t t;

	if (pthread_create(&t, NULL, pump, &down) == 0) {
		pump(&up);
		pthread_join(t, NULL);
	}
	close(fds[0]);
	close(fds[1]);
	free(fds);
	return NULL;
}

static int addr(const char *a, const char *port, struct sockaddr_in *sin)
{
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, a, &sin->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in l = { 0 }, t = { 0 };
	int one = 1, lfd;

	if (argc != 5 || addr(argv[1], argv[2], &l) < 0 || addr(argv[3], argv[4], &t) < 0) {
		fprintf(stderr, "usage: splicerelay LISTEN_ADDR PORT TARGET_ADDR PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);	/* a reset peer: EPIPE ends that direction */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&l, sizeof(l)) < 0 || listen(lfd, 128) < 0) {
		perror("splicerelay: listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), d;
		int *fds;
		pthread_t th;

		if (c < 0)
			continue;
		d = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		fds = malloc(2 * sizeof(int));
		if (d < 0 || !fds || connect(d, (struct sockaddr *)&t, sizeof(t)) < 0) {
			close(c);
			if (d >= 0)
				close(d);
			free(fds);
			continue;
		}
		fds[0] = c;
		fds[1] = d;
		if (pthread_create(&th, NULL, serve, fds) == 0)
			pthread_detach(th);
		else {
			close(c);
			close(d);
			free(fds);
		}
	}
}
