/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/unix_swap.c - the fd-number swap (issue 16, item 2): one
 * thread dup2()s an AF_UNIX socket and an IPv4 socket in turn onto the fd
 * number another thread connects or sends on, a third flips the address
 * between 127.0.0.1 and a pathname.  The notifier may judge the IPv4
 * socket with an IPv4 address; if it then let the kernel continue, the
 * kernel would carry out a pathname connect or send on the AF_UNIX socket
 * to a host socket the policy does not list.
 *
 *   escape-unix_swap connect|sendto|sendmsg FORBIDDEN_PATH  (< 90 bytes)
 *   escape-unix_swap stream-sendmsg FORBIDDEN_PATH
 *   escape-unix_swap netlink-connect|netlink-sendto FORBIDDEN_PATH
 *
 * stream-sendmsg swaps an AF_UNIX stream socket (one end of a pair, whose
 * sends the kernel would not address) with an AF_UNIX datagram socket,
 * and always names FORBIDDEN_PATH: the notifier sees the stream socket,
 * and a send it let the kernel continue would go to the path.
 *
 * netlink-*: the decoy is a NETLINK_ROUTE socket and the address flips
 * between a sockaddr_nl (the kernel, pid 0) and the pathname.  A call on a
 * netlink socket names no host and was once let through to the kernel,
 * which looked the fd number and the address up again.
 *
 * The host side counts what reaches FORBIDDEN_PATH; this program checks
 * what it sees itself (a connected AF_UNIX socket's peer, a send that
 * returned the datagram's length on the AF_UNIX socket) and prints the
 * counts.  Bounded: 20,000 attempts or 5 seconds.
 */
#include "escape.h"
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ATTEMPTS 20000
#define SECONDS 5
#define SLOT 100		/* the fd number both sockets take turns at */

static union {
	struct sockaddr_in in;
	struct sockaddr_un un;
	char bytes[sizeof(struct sockaddr_un)];
} addr;
static char in_bytes[sizeof(addr.bytes)], un_bytes[sizeof(addr.bytes)];
static atomic_int stop, fd_unix = -1, fd_inet = -1;

static void *flip_addr(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++)
		memcpy((void *)addr.bytes, (i & 1) ? in_bytes : un_bytes, 16);
	return NULL;
}

/* connect: a listener of the job's own on 127.0.0.1, so that the IPv4
 * connects go through */
static void *accept_all(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c >= 0)
			close(c);
		else if (atomic_load(&stop))
			return NULL;
	}
}

static void *swap_fd(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		int fd = (i & 1) ? atomic_load(&fd_inet) : atomic_load(&fd_unix);

		if (fd >= 0)
			(void)dup2(fd, SLOT);
		if (!(i & 255))
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	unsigned ok = 0, denied = 0, other = 0, escaped = 0;
	time_t deadline = time(NULL) + SECONDS;
	const char *mode = argc > 1 ? argv[1] : "";
	bool is_connect = !strcmp(mode, "connect");
	bool is_stream = !strcmp(mode, "stream-sendmsg");
	bool is_netlink = !strncmp(mode, "netlink-", 8);
	const char *call = is_netlink ? mode + 8 : mode;
	int type;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr msg = { .msg_name = &addr, .msg_iov = &iov, .msg_iovlen = 1 };
	socklen_t len;
	pthread_t t1, t2, t3;
	int i, lfd = -1;

	is_connect = !strcmp(call, "connect");
	type = is_connect ? SOCK_STREAM : SOCK_DGRAM;
	if (argc != 3 || strlen(argv[2]) < 16 || strlen(argv[2]) >= 90 ||
	    (!is_connect && !is_stream && strcmp(call, "sendto") && strcmp(call, "sendmsg"))) {
		printf("UNEXPECTED: usage: escape-unix_swap [netlink-]connect|sendto|sendmsg|"
		       "stream-sendmsg PATH\n");
		return 1;
	}
	if (is_connect && !is_netlink) {
		socklen_t alen = sizeof(in);

		lfd = socket(AF_INET, SOCK_STREAM, 0);
		in.sin_port = 0;
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, sizeof(in)) < 0 ||
		    listen(lfd, 4096) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&in, &alen) < 0) {
			printf("UNEXPECTED: listener on 127.0.0.1: %s\n", strerror(errno));
			return 1;
		}
		pthread_create(&t3, NULL, accept_all, &lfd);
	}
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", argv[2]);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(argv[2]) + 1);
	msg.msg_namelen = len;
	/* both start the same way past the first 16 bytes: only those flip */
	memcpy(un_bytes, &un, sizeof(un_bytes));
	memcpy(in_bytes, un_bytes, sizeof(in_bytes));
	if (is_netlink) {
		struct sockaddr_nl nl = { .nl_family = AF_NETLINK };

		memcpy(in_bytes, &nl, sizeof(nl));
		len = sizeof(nl) > len ? sizeof(nl) : len;
		msg.msg_namelen = len;
	} else if (!is_stream) {
		memcpy(in_bytes, &in, sizeof(in));
	}
	memcpy(addr.bytes, in_bytes, sizeof(addr.bytes));
	pthread_create(&t1, NULL, flip_addr, NULL);
	pthread_create(&t2, NULL, swap_fd, NULL);
	for (i = 0; i < ATTEMPTS && time(NULL) < deadline; i++) {
		int u = socket(AF_UNIX, type, 0), pair[2];
		int n = is_netlink ? socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) :
				     socket(AF_INET, type, 0);

		if (is_stream && socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0) {
			close(n);
			n = pair[0];
			close(pair[1]);
		}
		struct sockaddr_un peer;
		socklen_t plen = sizeof(peer);
		long r;
		int e;

		atomic_store(&fd_unix, u);
		atomic_store(&fd_inet, n);
		(void)dup2(i & 1 ? n : u, SLOT);
		if (is_connect)
			r = connect(SLOT, (struct sockaddr *)&addr, len);
		else if (!strcmp(call, "sendto"))
			r = sendto(SLOT, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&addr, len);
		else
			r = sendmsg(SLOT, &msg, MSG_DONTWAIT);
		e = errno;
		atomic_store(&fd_unix, -1);
		atomic_store(&fd_inet, -1);
		/* what the AF_UNIX socket did: connected to the path? */
		if (getpeername(u, (struct sockaddr *)&peer, &plen) == 0 &&
		    plen > offsetof(struct sockaddr_un, sun_path) &&
		    !strcmp(peer.sun_path, argv[2])) {
			printf("ESCAPED: connected to %s\n", argv[2]);
			escaped++;
		}
		if (r >= 0)
			ok++;
		else if (e == EACCES)
			denied++;
		else
			other++;
		close(u);
		close(n);
	}
	atomic_store(&stop, 1);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	if (is_connect)
		shutdown(lfd, SHUT_RDWR);	/* wakes accept_all() */
	printf("%s: %d %s calls racing a swapped fd and a flipping address: %u went "
	       "through, %u denied, %u other errors\n", escaped ? "ESCAPED" : "held", i, mode,
	       ok, denied, other);
	printf("counts ok=%u denied=%u other=%u\n", ok, denied, other);
	return escaped ? 1 : 0;
}
