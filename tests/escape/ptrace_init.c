/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/ptrace_init.c - ptrace the job's init (and through it, the supervisor's pipes) */
#include "escape.h"
#include <sys/ptrace.h>
int main(void) { return expect_errno("ptrace(ATTACH, 1)", ptrace(PTRACE_ATTACH, 1, 0, 0), EPERM, EPERM); }
