/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/userfaultfd_dev.c - a userfaultfd through /dev/userfaultfd,
 * to stall the supervisor while it reads our memory */
#include "escape.h"
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	int fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), r;

	r = expect_errno("userfaultfd()", syscall(SYS_userfaultfd, O_CLOEXEC), EPERM, EPERM);
	if (fd < 0) {
		printf("held: /dev/userfaultfd: %s\n", strerror(errno));
		return r;
	}
	return r | expect_errno("ioctl(USERFAULTFD_IOC_NEW)", ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC), EPERM, EPERM);
}
