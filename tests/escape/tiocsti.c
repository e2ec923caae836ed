/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/tiocsti.c - type into the caller's terminal (TIOCSTI):
 * a job that shares the caller's controlling terminal pushes a command
 * line into the input of the caller's shell.  Tried on fd 0, on
 * /dev/tty, with the request's upper 32 bits set (the kernel ignores
 * them), and TIOCLINUX's selection paste.  Every ioctl must fail with
 * EPERM; /dev/tty may also be absent (ENXIO: no controlling terminal).
 * Run by tests/integration/test_tty.py under a pty.
 */
#include "escape.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char line[] = "echo nbjail-injected-$((6*7))\n";

static int push(int fd, const char *what, unsigned long request)
{
	char label[96];
	long r = 0;

	for (const char *c = line; *c && r >= 0; c++)
		r = syscall(SYS_ioctl, fd, request, c);
	snprintf(label, sizeof(label), "ioctl(%s, TIOCSTI%s)", what,
		 request == TIOCSTI ? "" : " | 1 << 32");
	return expect_errno(label, r, EPERM, 0);
}

int main(void)
{
	char paste = 3; /* TIOCLINUX subcode: paste the selection */
	int bad = 0, tty;

	bad |= push(0, "fd 0", TIOCSTI);
	bad |= push(0, "fd 0", (1UL << 32) | TIOCSTI);
	bad |= expect_errno("ioctl(fd 0, TIOCLINUX)", syscall(SYS_ioctl, 0, TIOCLINUX, &paste),
			    EPERM, 0);
	tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (tty < 0) {
		bad |= expect_errno("open(/dev/tty)", tty, ENXIO, 0);
	} else {
		bad |= push(tty, "/dev/tty", TIOCSTI);
		bad |= push(tty, "/dev/tty", (1UL << 32) | TIOCSTI);
		close(tty);
	}
	fflush(stdout);
	return bad;
}
