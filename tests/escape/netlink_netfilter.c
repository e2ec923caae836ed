/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/netlink_netfilter.c - netlink to nftables (flush the ruleset) */
#include "escape.h"
#include <linux/netlink.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_NETLINK, NETLINK_NETFILTER)", socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER), EAFNOSUPPORT, EAFNOSUPPORT); }
