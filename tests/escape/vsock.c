/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/vsock.c - AF_VSOCK to the hypervisor */
#include "escape.h"
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_VSOCK)", socket(40, SOCK_STREAM, 0), EAFNOSUPPORT, EAFNOSUPPORT); }
