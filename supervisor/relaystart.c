/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/relaystart.c - the job's relay process
 *
 * Theory of operation: the relay's job-side sockets (TCP listeners and DNS
 * sockets on 127.0.0.1 and ::1 of the job's netns, and the socket factory)
 * were made by the job's init and passed to the supervisor
 * (REAPER_MSG_READY); the listeners of `publish:` entries are made here in
 * the caller's netns (ports below 1024 need root's privilege, which the
 * relay no longer has); then the relay is forked with exactly those fds
 * and drops to its user (relay/loop.c).
 */
#include "supervisor/job_int.h"

/*
 * The listeners of `publish:` entries on direct (every address of the
 * host) and tailscale (bound to the tailnet interface); i2p's are the
 * relay's own (relay/sam.c).  Made here: ports below 1024 need the
 * privileges the relay no longer has.
 */
static int publish_listeners(const struct nbj_policy *p, int *fds)
{
	for (size_t i = 0; i < p->n_publish; i++) {
		const struct publish_entry *e = &p->publish[i];
		const struct overlay *o = p->overlays ? &p->overlays[e->overlay] : NULL;
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
					   .sin6_port = htons(e->port) };
		int one = 1, zero = 0, fd;

		fds[i] = -1;
		if (o && o->kind == OVERLAY_I2P)
			continue;
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return negative_errno();
		fds[i] = fd;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
			return negative_errno();
		if (o && o->kind == OVERLAY_TAILSCALE &&
		    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->interface,
			       (socklen_t)strlen(o->interface)) < 0) {
			log_err("publish: port %u on %s: interface %s: %m", e->port, o->name,
				o->interface);
			return negative_errno();
		}
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
			log_err("publish: cannot listen on port %u (%s): %m", e->port,
				o ? o->name : "direct");
			return negative_errno();
		}
		log_info("published: port %u on %s goes to the job's port %u", e->port,
			 o ? o->name : "direct", e->to);
	}
	return 0;
}

/*
 * The relay: its job-side sockets were made in the job's netns by the
 * job's init (REAPER_MSG_READY); its outbound sockets it makes itself,
 * here in the caller's netns.  It runs as the unprivileged relay user
 * (root mode) or as the caller (rootless).
 */
int start_relay(struct nbj_job *job)
{
	struct nbj_policy policy = job->pol.policy;
	struct relay_config rc = {
		.job_id = job->state.id,
		.tcp_fds = { job->relay_fds[RELAY_FD_TCP4], job->relay_fds[RELAY_FD_TCP6] },
		.dns_fds = { job->relay_fds[RELAY_FD_DNS4], job->relay_fds[RELAY_FD_DNS6] },
		.socket_factory = job->relay_fds[RELAY_FD_FACTORY],
		.policy = &policy,
		.job_nets = job->pol.job_nets,
		.n_job_nets = ARRAY_SIZE(job->pol.job_nets),
		.max_flows = RELAY_MAX_FLOWS,
		.audit = job->audit,
	};
	int publish[PUBLISH_MAX], err;
	pid_t pid;

	for (size_t i = 0; i < PUBLISH_MAX; i++)
		publish[i] = -1;
	rc.job_addrs[0] = (struct nbj_addr){ .family = AF_INET, .v4 = job->net.job4 };
	rc.job_addrs[1] = (struct nbj_addr){ .family = AF_INET6, .v6 = job->net.job6 };
	rc.resolver = (struct nbj_addr){ .family = AF_INET, .v4 = job->net.nameserver4 };
	rc.publish_fds = publish;
	rc.select_ports = job->selection.ready;
	err = publish_listeners(&policy, publish);
	if (err < 0)
		goto out;
	privs_unprivileged_user(&rc.uid, &rc.gid);
	pid = clone_pidfd(0, &job->relay_pidfd);
	if (pid < 0) {
		err = negative_errno();
		log_err("cannot start the relay: %s", strerror(-err));
		goto out;
	}
	if (pid == 0) {
		int keep[RELAY_FDS + 1 + PUBLISH_MAX];
		sigset_t usr1;

		memcpy(keep, job->relay_fds, sizeof(job->relay_fds));
		keep[RELAY_FDS] = job->audit.fd;
		memcpy(keep + RELAY_FDS + 1, publish, sizeof(publish));
		fds_close_all_except(keep, ARRAY_SIZE(keep));
		/* SIGUSR1 (revocation) stays blocked: the relay's signalfd
		 * takes it, none is lost before */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		(void)sigprocmask(SIG_SETMASK, &usr1, NULL);
		err = relay_run(&rc);
		log_err("relay failed: %s", strerror(-err));
		_exit(1);
	}
	job->relay_pid = pid;	/* in the state file, never in the shared stats */
	err = epoll_watch(job->epfd, job->relay_pidfd, JOB_EVENT_RELAY);
out:
	/* the relay has them now, and only the relay */
	for (int i = 0; i < RELAY_FDS; i++) {
		closep(&job->relay_fds[i]);
		job->relay_fds[i] = -1;
	}
	for (size_t i = 0; i < PUBLISH_MAX; i++)
		closep(&publish[i]);
	return err;
}
