/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/io_uring.c - io_uring (bypasses seccomp for queued I/O) */
#include "escape.h"
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { char p[120] = { 0 }; return expect_errno("io_uring_setup", syscall(425, 4, p), EPERM, EPERM); }
