/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/clone_newnet.c - clone into a new network namespace */
#include "escape.h"
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { return expect_errno("clone(CLONE_NEWNET)", syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0), EPERM, EPERM); }
