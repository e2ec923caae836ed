/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/escape/oci_probe.c - the program of the OCI tests' image
 *
 * Theory of operation: test_oci.py builds a container image from this
 * one static file (no registry, no shell); in the container,
 * `oci-probe IP PORT...` connects to each IPv4 address and port in turn
 * (3 s each), sends an HTTP/1.0 request, reads the answer and prints one
 * line per target: "IP:PORT ok FIRST-LINE" or "IP:PORT error ERRNO-NAME".
 * `oci-probe --addrs` prints the IPv4 addresses of lo instead;
 * `oci-probe --sleep N` sleeps N seconds (a container that stays).
 * Exit status 0: the lines were printed (the test judges them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case 0: return "EOF";
	default: return "EOTHER";
	}
}

static void probe(const char *ip, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	static const char req[] = "GET / HTTP/1.0\r\nHost: oci-probe\r\n\r\n";
	char buf[512];
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, err = 0;
	ssize_t n;

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		printf("%s:%s error EINVAL\n", ip, port);
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		printf("%s:%s error %s\n", ip, port, errname(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		err = errno;
		goto out;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, 3000) != 1) {
		err = ETIMEDOUT;
		goto out;
	}
	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err)
		goto out;
	if (write(fd, req, sizeof(req) - 1) < 0) {
		err = errno;
		goto out;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 3000) != 1) {
		err = ETIMEDOUT;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		err = n < 0 ? errno : 0;
		printf("%s:%s error %s\n", ip, port, errname(err));
		close(fd);
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	printf("%s:%s ok %s\n", ip, port, buf);
	close(fd);
	return;
out:
	printf("%s:%s error %s\n", ip, port, errname(err));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--addrs")) {
		struct ifaddrs *ifa, *i;
		char a[INET_ADDRSTRLEN];

		if (getifaddrs(&ifa) < 0)
			return 1;
		for (i = ifa; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  a, sizeof(a));
				printf("%s %s\n", i->ifa_name, a);
			}
		freeifaddrs(ifa);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--sleep")) {
		sleep((unsigned)atoi(argv[2]));
		return 0;
	}
	if (argc < 3 || (argc - 1) % 2) {
		fprintf(stderr, "usage: oci-probe IP PORT [IP PORT]... | --addrs | --sleep N\n");
		return 2;
	}
	for (int i = 1; i + 1 < argc; i += 2)
		probe(argv[i], argv[i + 1]);
	fflush(stdout);
	return 0;
}
