/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/setns_host.c - setns into the host's netns through /proc */
#include "escape.h"
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
int main(void)
{
	/* our own PID 1 is the job's reaper: the best handle a job can get */
	int fd = open("/proc/1/ns/net", O_RDONLY);
	if (fd < 0) { printf("held: open /proc/1/ns/net -> %s\n", strerror(errno)); return 0; }
	return expect_errno("setns(/proc/1/ns/net)", setns(fd, CLONE_NEWNET), EPERM, EPERM);
}
