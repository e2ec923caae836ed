/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/raw_icmp6.c - raw ICMPv6 socket */
#include "escape.h"
#include <netinet/in.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_INET6, SOCK_RAW, ICMPV6)", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM, EPERM); }
