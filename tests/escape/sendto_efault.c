/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/sendto_efault.c - addresses the supervisor cannot read:
 * unmapped memory, and lengths past any sockaddr */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/socket.h>
int main(void)
{
	char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sockaddr_in *edge = (struct sockaddr_in *)(page + 4096 - 8);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0), r;

	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	munmap(page + 4096, 4096);
	memcpy(edge, &a, 8); /* the first half readable, the rest unmapped */
	r = expect_errno("connect(unmapped)", connect(fd, (void *)(page + 4096), sizeof(a)), EFAULT, EFAULT);
	r |= expect_errno("connect(half mapped)", connect(fd, (void *)edge, sizeof(a)), EFAULT, EFAULT);
	r |= expect_errno("sendto(addrlen 4096)", sendto(u, "x", 1, 0, (void *)&a, 4096), EINVAL, EINVAL);
	r |= expect_errno("connect(addrlen 8)", connect(fd, (void *)&a, 8), EINVAL, EINVAL);
	return r;
}
