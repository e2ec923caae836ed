/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/sock_packet.c - socket(AF_INET, SOCK_PACKET): the kernel
 * turns it into a packet socket.  The filter refuses it (EAFNOSUPPORT),
 * not only the missing CAP_NET_RAW (EPERM), so it holds for any job.
 */
#include "escape.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	int bad = 0;

	bad |= expect_errno("socket(AF_INET, SOCK_PACKET)",
			    socket(AF_INET, SOCK_PACKET, htons(ETH_P_ALL)), EAFNOSUPPORT, 0);
	bad |= expect_errno("socket(AF_INET6, SOCK_PACKET)",
			    socket(AF_INET6, SOCK_PACKET, htons(ETH_P_ALL)), EAFNOSUPPORT, 0);
	/* flags in the upper bits of the type: the kernel masks them off */
	bad |= expect_errno("socket(AF_INET, SOCK_PACKET | SOCK_CLOEXEC)",
			    socket(AF_INET, SOCK_PACKET | SOCK_CLOEXEC, htons(ETH_P_ALL)),
			    EAFNOSUPPORT, 0);
	return bad;
}
