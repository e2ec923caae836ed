/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/unix_bind_host_path.c - create a socket in the host's /tmp, a
 * rendezvous host processes could connect to; the job's own /run is fine */
#include "escape.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static long bind_path(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	return bind(fd, (void *)&a, sizeof(a));
}

int main(void)
{
	int r = expect_errno("bind(/tmp/nbjail-escape-bind.sock)", bind_path("/tmp/nbjail-escape-bind.sock"),
			     EACCES, EACCES);

	if (bind_path("/run/escape-own.sock") < 0 || bind_path("/dev/shm/escape-own.sock") < 0) {
		printf("UNEXPECTED: binding in the job's own /run or /dev/shm failed: %s\n", strerror(errno));
		return 1;
	}
	return r;
}
