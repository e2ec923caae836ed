/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/unix_race.c - a thread rewrites an AF_UNIX address while
 * another connects, sends or binds with it, thousands of times: the
 * supervisor reads the address once and carries out the call itself, so
 * whatever the memory holds afterwards must not matter
 *
 *   escape-unix_race connect|sendto|sendmsg ALLOWED FORBIDDEN
 *   escape-unix_race sendmsg-name ALLOWED FORBIDDEN
 *   escape-unix_race bind FORBIDDEN_PATH
 *   escape-unix_race symlink ALLOWED FORBIDDEN
 *
 * connect/sendto/sendmsg flip the path between ALLOWED (a --unix-allow
 * socket) and FORBIDDEN (same length); sendmsg-name flips msg_name between
 * NULL (a datagram socket connected to ALLOWED) and FORBIDDEN; bind flips
 * between FORBIDDEN_PATH (in a host directory) and a path of the same
 * length in the job's private /dev/shm; symlink leaves the address alone
 * and swaps what /dev/shm/nbj-race.link points to (ALLOWED or FORBIDDEN)
 * while connecting to the link.  The host side counts what reaches
 * FORBIDDEN (and looks for sockets planted next to FORBIDDEN_PATH); this
 * program checks what it can see itself (the peer's address, a planted
 * file) and prints the counts.  Bounded: 20,000 attempts or 5 seconds.
 */
#include "escape.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ATTEMPTS 20000
#define SECONDS 5

static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static char good[sizeof(addr.sun_path)], bad[sizeof(addr.sun_path)];
static struct msghdr msg;
static atomic_int stop;

/* Rewrite the bytes where the two paths differ, back and forth */
static void *flip_path(void *arg)
{
	size_t len = strlen(good);

	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		const char *src = (i & 1) ? good : bad;

		for (size_t k = 0; k < len; k++)
			if (good[k] != bad[k])
				((volatile char *)addr.sun_path)[k] = src[k];
		if (!(i & 255))
			sched_yield();
	}
	return NULL;
}

#define LINK "/dev/shm/nbj-race.link"

static void point_link(const char *to)
{
	(void)unlink(LINK ".tmp");
	if (symlink(to, LINK ".tmp") == 0)
		(void)rename(LINK ".tmp", LINK);
}

/* The link between the two sockets, as fast as rename() goes */
static void *flip_link(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		(void)unlink(LINK ".tmp2");
		if (symlink((i & 1) ? good : bad, LINK ".tmp2") == 0)
			(void)rename(LINK ".tmp2", LINK);
	}
	return NULL;
}

/* msg_name between NULL (the connected peer) and the forbidden address */
static void *flip_name(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		*(void *volatile *)&msg.msg_name = (i & 1) ? NULL : (void *)&addr;
		*(volatile socklen_t *)&msg.msg_namelen = (i & 1) ? 0 : sizeof(addr);
		if (!(i & 255))
			sched_yield();
	}
	return NULL;
}

static int usage(void)
{
	printf("UNEXPECTED: usage: escape-unix_race connect|sendto|sendmsg|sendmsg-name|"
	       "symlink ALLOWED FORBIDDEN | bind FORBIDDEN_PATH\n");
	return 1;
}

int main(int argc, char **argv)
{
	unsigned ok = 0, denied = 0, other = 0, escaped = 0;
	int other_errno = 0;
	const char *mode = argc > 1 ? argv[1] : "";
	bool is_bind = !strcmp(mode, "bind");
	time_t deadline = time(NULL) + SECONDS;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	pthread_t t;
	int i, fd = -1;

	if (argc != (is_bind ? 3 : 4))
		return usage();
	if (is_bind) {
		/* an allowed twin of the forbidden path, of the same length */
		size_t len = strlen(argv[2]);

		snprintf(bad, sizeof(bad), "%s", argv[2]);
		if (len < 16 || len >= sizeof(good))
			return usage();
		snprintf(good, sizeof(good), "/dev/shm/%0*d.sock", (int)(len - 14), 0);
	} else {
		snprintf(good, sizeof(good), "%s", argv[2]);
		snprintf(bad, sizeof(bad), "%s", argv[3]);
	}
	if (strlen(good) != strlen(bad))
		return usage();
	memcpy(addr.sun_path, good, sizeof(good));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_name = &addr;
	msg.msg_namelen = sizeof(addr);
	if (!strcmp(mode, "sendmsg-name")) {
		struct sockaddr_un peer = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		memcpy(peer.sun_path, good, sizeof(good));
		if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0) {
			printf("UNEXPECTED: connect(%s): %s\n", good, strerror(errno));
			return 1;
		}
		memcpy(addr.sun_path, bad, sizeof(bad));
		pthread_create(&t, NULL, flip_name, NULL);
	} else if (!strcmp(mode, "symlink")) {
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", LINK);
		point_link(good);
		pthread_create(&t, NULL, flip_link, NULL);
	} else {
		pthread_create(&t, NULL, flip_path, NULL);
	}

	for (i = 0; i < ATTEMPTS && time(NULL) < deadline; i++) {
		struct sockaddr_un peer;
		socklen_t plen = sizeof(peer);
		struct stat st;
		long r;
		int e;

		/* each attempt starts from one of the two (the flipper may be
		 * off the CPU for a while), then the flipper races the read */
		if (!strcmp(mode, "sendmsg-name")) {
			msg.msg_name = (i & 1) ? NULL : (void *)&addr;
			msg.msg_namelen = (i & 1) ? 0 : sizeof(addr);
		} else if (!strcmp(mode, "symlink")) {
			point_link((i & 1) ? good : bad);
		} else {
			memcpy(addr.sun_path, (i & 1) ? good : bad, strlen(good));
		}

		if (!strcmp(mode, "connect") || !strcmp(mode, "symlink")) {
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
			if (r == 0 && getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
			    strcmp(peer.sun_path, good)) {
				printf("ESCAPED: connected to %s\n", peer.sun_path);
				escaped++;
			}
		} else if (!strcmp(mode, "sendto")) {
			fd = socket(AF_UNIX, SOCK_DGRAM, 0);
			r = sendto(fd, "x", 1, 0, (struct sockaddr *)&addr, sizeof(addr));
		} else if (!strcmp(mode, "sendmsg")) {
			fd = socket(AF_UNIX, SOCK_DGRAM, 0);
			r = sendmsg(fd, &msg, 0);
		} else if (!strcmp(mode, "sendmsg-name")) {
			r = sendmsg(fd, &msg, MSG_DONTWAIT);
		} else if (is_bind) {
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
			e = errno;
			if (r == 0 && stat(bad, &st) == 0) {
				printf("ESCAPED: bind planted %s\n", bad);
				escaped++;
			}
			(void)unlink(good);
			(void)unlink(bad);
			errno = e;
		} else {
			return usage();
		}
		e = errno;
		if (r >= 0)
			ok++;
		else if (e == EACCES)
			denied++;
		else
			other++, other_errno = e;
		if (strcmp(mode, "sendmsg-name"))
			close(fd);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("%s: %d %s calls racing a flipping address: %u went through (to the allowed "
	       "target), %u denied, %u other errors\n", escaped ? "ESCAPED" : "held", i, mode,
	       ok, denied, other);
	printf("counts ok=%u denied=%u other=%u last_other_errno=%d\n", ok, denied, other,
	       other_errno);
	return escaped ? 1 : 0;
}
