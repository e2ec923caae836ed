/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/jobnet.c - a job's network namespace, set up from inside it
 *
 * Theory of operation: whoever runs in the job's netns calls
 * job_netns_setup() once: lo up with the job's addresses and default
 * routes via lo (netns/link.c), the relay's listening TCP sockets and
 * DNS sockets bound to 127.0.0.1 and ::1 of that netns, then the job's
 * nftables ruleset redirecting every TCP connection and DNS query there
 * (netns/nft.c).  The sockets belong to the netns they were made in and
 * keep working when passed to the relay in the host's netns: that is the
 * whole data path.  Two callers: the job's init (reaper.c) in the netns
 * it was cloned into, and the OCI hook's helper, setns()'d into a
 * container's (ocijob.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/log.h"
#include "netns/link.h"
#include "netns/nft.h"
#include "supervisor/supervisor.h"

/*
 * One listening or bound socket of the relay in the job's netns, on
 * 127.0.0.1 or ::1, where nftables' redirect delivers (for locally made
 * packets it rewrites the destination to the loopback address): a DNS
 * answer then leaves from the very address conntrack expects and is
 * translated back to the resolver the job asked.  @port 0 lets the
 * kernel choose
 */
static int relay_socket(int family, int type, uint16_t port, uint16_t *ret_port)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6);
	int one = 1;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return negative_errno();
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return negative_errno();
	if (type == SOCK_STREAM && listen(fd, 4096) < 0)
		return negative_errno();
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return negative_errno();
	*ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return TAKE_FD(fd);
}

/**
 * job_netns_setup() - the job's addresses, the relay's sockets and the
 * ruleset that sends everything to them, in the calling process's netns
 * @net:	the job's addresses; NULL: lo up only (no network)
 * @n_select_overlays: overlays processes may select (0: no selection)
 * @socket_factory: also make a socket pair for the relay's socket factory
 * @fds:	receives RELAY_FDS entries (-1 where absent)
 * @ret_factory: receives the factory's other end, with @socket_factory
 *
 * Called by the job's init (reaper.c) in its fresh netns, and by the
 * OCI hook's helper after setns() into a container's (ocijob.c): one
 * set-up for both.  Logs what failed.
 *
 * Return: 0, or negative errno
 */
int job_netns_setup(const struct job_net *net, size_t n_select_overlays, bool socket_factory,
		    int fds[RELAY_FDS], int *ret_factory)
{
	struct nft_job g = { .n_select_overlays = n_select_overlays };
	const char *step = "configure lo";
	int err, sv[2];
	uint16_t port;

	for (int i = 0; i < RELAY_FDS; i++)
		fds[i] = -1;
	err = link_job_configure(net);
	log_phase("reaper: lo configured");
	if (err < 0 || !net)
		goto out;
	step = "make the relay's sockets";
	/* a fresh namespace: nothing else holds a port yet */
	err = fds[RELAY_FD_TCP4] = relay_socket(AF_INET, SOCK_STREAM, 0, &g.relay_tcp_port);
	if (err >= 0)
		err = fds[RELAY_FD_TCP6] = relay_socket(AF_INET6, SOCK_STREAM,
							g.relay_tcp_port, &port);
	if (err >= 0)
		err = fds[RELAY_FD_DNS4] = relay_socket(AF_INET, SOCK_DGRAM, 0,
							&g.relay_dns_port);
	if (err >= 0)
		err = fds[RELAY_FD_DNS6] = relay_socket(AF_INET6, SOCK_DGRAM,
							g.relay_dns_port, &port);
	if (err < 0)
		goto out;
	if (socket_factory) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			err = negative_errno();
			goto out;
		}
		fds[RELAY_FD_FACTORY] = sv[0];
		*ret_factory = sv[1];
	}
	step = "install the job's nftables ruleset";
	log_phase("reaper: relay sockets");
	err = nft_job_install(&g);
out:
	if (err < 0)
		log_err("job setup: cannot %s: %s", step, strerror(-err));
	return err < 0 ? err : 0;
}
