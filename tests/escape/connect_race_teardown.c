/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/connect_race_teardown.c - 16 children connect in a loop to
 * internal and allowed targets while the workload exits, so that nbjail
 * tears the job down with connects in flight */
#include "escape.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(void)
{
	static const char *const hosts[] = { "10.0.0.1", "169.254.169.254", "198.51.100.10", "192.0.2.1" };

	for (int c = 0; c < 16; c++) {
		if (fork() != 0)
			continue;
		for (int i = 0; i < 100000; i++) {
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
			int fd = socket(AF_INET, SOCK_STREAM, 0);

			inet_pton(AF_INET, hosts[(c + i) % 4], &a.sin_addr);
			if (connect(fd, (void *)&a, sizeof(a)) == 0 && (c + i) % 4 != 2) {
				printf("ESCAPED: connected to %s\n", hosts[(c + i) % 4]);
				fflush(stdout);
			}
			close(fd);
		}
		_exit(0);
	}
	usleep(200000);
	printf("held: the workload leaves with 16 children connecting\n");
	return 0;
}
