/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/af_packet.c - AF_PACKET socket (sniff or forge frames) */
#include "escape.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sys/socket.h>
int main(void) { return expect_errno("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), EAFNOSUPPORT, EPERM); }
