/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/unix_abstract_host.c - an abstract socket the test listens on
 * in the host's network namespace: abstract names are per netns */
#include "escape.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(void)
{
	static const char name[] = "\0nbjail-escape-abstract";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memcpy(a.sun_path, name, sizeof(name) - 1);
	return expect_errno("connect(@nbjail-escape-abstract)",
			    connect(fd, (void *)&a, offsetof(struct sockaddr_un, sun_path) + sizeof(name) - 1),
			    ECONNREFUSED, ECONNREFUSED);
}
