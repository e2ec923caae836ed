/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/af_packet_dgram.c - AF_PACKET datagram socket */
#include "escape.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_PACKET, SOCK_DGRAM)", socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP)), EAFNOSUPPORT, EAFNOSUPPORT); }
