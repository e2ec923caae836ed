/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/netlink_route_write.c - netlink route: delete the default route */
#include "escape.h"
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void)
{
	struct { struct nlmsghdr n; struct rtmsg r; } req = {
		.n = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_DELROUTE,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1 },
		.r = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN },
	};
	char buf[4096];
	struct nlmsgerr *e;
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);

	if (fd < 0) { perror("socket"); return 1; } /* reading routes is allowed */
	if (send(fd, &req, sizeof(req), 0) < 0) { perror("send"); return 1; }
	if (recv(fd, buf, sizeof(buf), 0) < (ssize_t)(sizeof(struct nlmsghdr) + sizeof(*e))) return 1;
	e = NLMSG_DATA((struct nlmsghdr *)buf);
	errno = -e->error;
	return expect_errno("RTM_DELROUTE", e->error ? -1 : 0, EPERM, EPERM);
}
