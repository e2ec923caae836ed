/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/module_load.c - load a kernel module */
#include "escape.h"
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { return expect_errno("finit_module", syscall(SYS_finit_module, 0, "", 0), EPERM, EPERM); }
