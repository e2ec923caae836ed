/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/clone3.c - clone3, whose flags seccomp cannot read */
#include "escape.h"
#include <linux/sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	struct clone_args a = { .flags = CLONE_NEWNET | CLONE_NEWUSER, .exit_signal = 17 };
	return expect_errno("clone3(CLONE_NEWNET)", syscall(SYS_clone3, &a, sizeof(a)), ENOSYS, ENOSYS);
}
