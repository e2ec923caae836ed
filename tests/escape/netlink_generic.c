/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/netlink_generic.c - generic netlink (wireguard, nl80211, ...) */
#include "escape.h"
#include <linux/netlink.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_NETLINK, NETLINK_GENERIC)", socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC), EAFNOSUPPORT, EAFNOSUPPORT); }
