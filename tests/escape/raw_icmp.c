/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/raw_icmp.c - raw ICMP socket */
#include "escape.h"
#include <netinet/in.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_INET, SOCK_RAW, ICMP)", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM, EPERM); }
