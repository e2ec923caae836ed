/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/unix_pathname_host.c - pathname sockets of the host's /tmp
 * (the test puts a listener there), directly, through a symlink of ours, and
 * relative to /tmp.  The job's /tmp is its own tmpfs: ENOENT, or EACCES
 * from the notifier where a path leads out of the job's private mounts */
#include "escape.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HOST_SOCK "/tmp/nbjail-escape-host.sock"

static int try(const char *what, const char *path, int type)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (type == SOCK_DGRAM)
		return expect_errno(what, sendto(fd, "x", 1, 0, (void *)&a, sizeof(a)), EACCES, ENOENT);
	return expect_errno(what, connect(fd, (void *)&a, sizeof(a)), EACCES, ENOENT);
}

int main(void)
{
	int r = try("connect(" HOST_SOCK ")", HOST_SOCK, SOCK_STREAM);

	r |= try("sendto(" HOST_SOCK ".dgram)", HOST_SOCK ".dgram", SOCK_DGRAM);
	(void)symlink(HOST_SOCK, "/run/escape-link.sock");
	r |= try("connect(/run/escape-link.sock -> host)", "/run/escape-link.sock", SOCK_STREAM);
	(void)symlink("/proc/1/root" HOST_SOCK, "/dev/shm/escape-magic.sock");
	r |= try("connect(/dev/shm/escape-magic.sock -> /proc/1/root/...)", "/dev/shm/escape-magic.sock", SOCK_STREAM);
	if (chdir("/tmp") == 0)
		r |= try("connect(relative nbjail-escape-host.sock)", "nbjail-escape-host.sock", SOCK_STREAM);
	return r;
}
