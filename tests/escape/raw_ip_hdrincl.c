/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/raw_ip_hdrincl.c - raw IP socket with a forged header */
#include "escape.h"
#include <netinet/in.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)", socket(AF_INET, SOCK_RAW, IPPROTO_RAW), EPERM, EPERM); }
