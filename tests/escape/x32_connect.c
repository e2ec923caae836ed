/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/x32_connect.c - the x32 ABI (syscall number | 0x40000000):
 * a foreign architecture that the filter must kill (SIGSYS) */
#include <sys/syscall.h>
#include <unistd.h>
#include "escape.h"
int main(void)
{
	long ret = syscall(0x40000000 | 41 /* socket */, 2, 3, 1);

	printf("ESCAPED: x32 socket returned %ld (%s)\n", ret, ret < 0 ? strerror(errno) : "ok");
	return 1;
}
