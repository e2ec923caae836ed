/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/bpf.c - bpf (program the kernel) */
#include "escape.h"
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { char attr[128] = { 0 }; return expect_errno("bpf(MAP_CREATE)", syscall(SYS_bpf, 0, attr, sizeof(attr)), EPERM, EPERM); }
