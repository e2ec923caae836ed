/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/keyctl.c - kernel keyrings (shared with the host) */
#include "escape.h"
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { return expect_errno("keyctl(GET_KEYRING_ID)", syscall(SYS_keyctl, 0, -4, 0), EPERM, EPERM); }
