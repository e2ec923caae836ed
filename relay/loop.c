/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/loop.c - the relay process: privilege drop and the event loop
 *
 * Theory of operation: the supervisor exec'd us (relay/main.c) as ROLE_RELAY
 * (common/roles.c: our own per-job uid, no capability, no_new_privs,
 * death with the supervisor, RLIMIT_NOFILE raised to relay_fd_limit(),
 * relay/handoff.c);
 * relay_run() then
 *
 *   0. ignores SIGPIPE (a splice into a reset socket returns EPIPE) and
 *      lets SIGTERM/SIGINT kill it
 *   1. sizes the flow table to RLIMIT_NOFILE (2 fds a flow, and pipes)
 *   2. sets up the name table (names.c), the DNS stub's pending queries,
 *      the c-ares channel (resolve.c) with the host's resolver
 *      configuration, the live list of the host's addresses
 *      (hostaddr.c), the I2P sessions (sam.c) and the client
 *      connections of ports published in mode http (inbound.c), all
 *      while the job's init still builds the job's namespaces
 *   2a. waits for the job-side sockets the init made in the job's netns
 *      (relay_job_fds_recv(): the supervisor sends them at READY),
 *      watches them, and sets up the dock's table (dock.c)
 *   3. installs the relay's syscall allow-list (common/rolefilter.c):
 *      from here on, a call outside it kills the relay
 *   4. runs one epoll loop: the type of each event is packed in its
 *      epoll data (relay_int.h); listening sockets go to tcp.c, DNS
 *      sockets to dns.c, c-ares sockets to resolve.c, and a one-second
 *      timer expires slow lookups and dials.
 *
 * One process per job, no thread per flow; the relay never returns after
 * setup.  Next: relay/tcp.c.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/roles.h"
#include "relay/relay_int.h"
#include "relay/term.h"
#include "relay/tls_upstream.h"

#define EVENT_BATCH 128

static int raise_fd_limit(struct relay_config *cfg)
{
	struct rlimit rl;
	rlim_t want = relay_fd_limit(cfg->policy, cfg->max_flows);
	rlim_t reserved = relay_fds_reserved(cfg->policy);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return negative_errno();
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return negative_errno();
	}
	if (rl.rlim_cur < want) {
		/* under a small limit, half of it for the flows' sockets */
		rlim_t room = rl.rlim_cur > 2 * reserved ? rl.rlim_cur - reserved
							 : rl.rlim_cur / 2;

		cfg->max_flows = (unsigned)(room / FDS_PER_FLOW);
		if (!cfg->max_flows)
			return -EMFILE;
	}
	return 0;
}

/*
 * splice(2) into a socket the peer reset raises SIGPIPE: take EPIPE
 * instead, a flow error like any other.  SIGTERM and SIGINT get their
 * default action back (ignored dispositions survive exec, so we inherit what the
 * supervisor's caller may have ignored): the relay just dies, holding
 * nothing the kernel does not clean up.
 */
static int signals_setup(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };

	if (sigaction(SIGPIPE, &ign, NULL) < 0 || sigaction(SIGTERM, &dfl, NULL) < 0 ||
	    sigaction(SIGINT, &dfl, NULL) < 0)
		return negative_errno();
	return 0;
}

static int watch(int epfd, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? negative_errno() : 0;
}

static int loop_setup(struct relay_ctx *c)
{
	struct itimerspec tick = { { 1, 0 }, { 1, 0 } };
	int err;

	sigset_t usr1;

	/* blocked since the fork (supervisor/job.c): no revocation is lost */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	(void)sigprocmask(SIG_BLOCK, &usr1, NULL);
	c->sigfd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
	if (c->sigfd < 0)
		return negative_errno();
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		return negative_errno();
	c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->timerfd < 0 || timerfd_settime(c->timerfd, 0, &tick, NULL) < 0)
		return negative_errno();
	err = watch(c->epfd, c->timerfd, RELAY_EV(RELAY_EV_TIMER, 0));
	if (!err)
		err = watch(c->epfd, c->sigfd, RELAY_EV(RELAY_EV_SIGNAL, 0));
	c->throttle_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!err && c->throttle_fd < 0)
		err = negative_errno();
	if (!err)
		err = watch(c->epfd, c->throttle_fd, RELAY_EV(RELAY_EV_THROTTLE, 0));
	for (size_t i = 0; c->cfg->publish_fds && i < c->cfg->policy->n_publish && !err; i++)
		if (c->cfg->publish_fds[i] >= 0)
			err = watch(c->epfd, c->cfg->publish_fds[i],
				    RELAY_EV(RELAY_EV_PUBLISH, (uint32_t)i));
	return err;
}

/* The job-side sockets of the standard lane, once received
 * (relay_job_fds_recv()) */
static int watch_job_sockets(struct relay_ctx *c)
{
	int err = 0;

	for (int i = 0; i < 2 && !err; i++) {
		if (c->cfg->tcp_fds[i] >= 0)
			err = watch(c->epfd, c->cfg->tcp_fds[i], RELAY_EV(RELAY_EV_LISTEN, i));
		if (!err && c->cfg->dns_fds[i] >= 0)
			err = watch(c->epfd, c->cfg->dns_fds[i], RELAY_EV(RELAY_EV_DNS, i));
	}
	return err;
}

/**
 * relay_revoked() - whether the job has been revoked; the first time it
 * sees the flag, cuts every live flow and audits the revocation
 * @c:		relay context
 *
 * `nbjail ctl revoke` sets the flag in the job's statistics, then sends
 * SIGUSR1 so that live flows are cut at once; new flows check the flag
 * themselves, so a lost signal delays nothing but the cut.
 *
 * Return: true once revoked
 */
bool relay_revoked(struct relay_ctx *c)
{
	struct job_stats *s = c->cfg->audit.stats;
	struct audit_event ev;
	unsigned cut;

	if (c->revoked)
		return true;
	if (!s || !atomic_load(&s->revoked))
		return false;
	c->revoked = true;
	cut = tcp_cut_all(c) + dock_cut_all(c) + inbound_cut_all(c);
	log_info("revoked: %u live flows and dock calls cut, every new one is refused", cut);
	audit_event_init(&ev, AUDIT_REVOKE, LANE_TCP);
	EVENT_SET(&ev, reason, "revoked");
	snprintf(ev.detail, sizeof(ev.detail), "%u live flows cut", cut);
	(void)audit_send(&c->cfg->audit, &ev);
	return true;
}

/**
 * relay_selected_overlay() - the overlay the job's process selected, as
 * the source port of its traffic says (nftables of the job map the
 * supervisor's socket marks to port ranges)
 * @c:		relay context
 * @peer:	the job's address and port
 *
 * Return: the overlay to use where no route matches (the policy's default
 * when processes cannot select), or -1 for traffic nobody marked
 */
int relay_selected_overlay(const struct relay_ctx *c, const struct nbj_addr *peer)
{
	const struct nbj_policy *p = c->cfg->policy;
	int ov;

	if (!c->cfg->select_ports)
		return (int)p->default_overlay;
	ov = select_overlay_of_port(peer->port);
	if (ov < 0 || (size_t)ov >= (p->overlays ? p->n_overlays : 1))
		return -1;
	return ov;
}

/**
 * relay_run() - run as the job's relay; returns only if setup fails
 * @config:	sockets and policy from the handoff (relay/handoff.c)
 *
 * Return: negative errno on setup failure; never returns otherwise
 */
int relay_run(const struct relay_config *config)
{
	struct relay_config cfg = *config;
	struct relay_ctx c = { .cfg = &cfg, .epfd = -1, .timerfd = -1, .sigfd = -1,
			       .throttle_fd = -1 };
	char prefix[64];
	int err;

	snprintf(prefix, sizeof(prefix), "nbjail-relay[%s]", cfg.job_id);
	log_set_prefix(prefix);

	log_phase("relay: main");
	err = signals_setup();
	if (!err)
		err = raise_fd_limit(&cfg);
	if (!err)
		err = flow_table_init(&c);
	log_phase("relay: flow table");
	if (!err)
		err = names_init(&c);
	if (!err)
		err = dns_init(&c);
	if (!err)
		err = loop_setup(&c);
	log_phase("relay: loop");
	if (!err)
		err = resolve_init(&c);
	log_phase("relay: resolver");
	if (!err)
		err = hostaddr_init(&c);
	log_phase("relay: host addresses");
	if (!err)
		err = sam_init(&c);
	if (!err)	/* remembered now, parsed at the first TLS call */
		err = tls_upstream_init(cfg.tls_roots, cfg.tls_roots_len);
	if (!err && !cfg.tls_roots_len)	/* the policy named none */
		tls_upstream_use_system(TLS_UPSTREAM_SYSTEM_ROOTS);
	if (!err)
		err = inbound_init(&c);
	if (!err)
		err = term_init(&c);	/* the job CA from the key holder */
	log_phase("relay: set up");
	/* all of the above while the job's init builds its namespaces; its
	 * sockets come when they exist (the supervisor's end closed first:
	 * the job failed) */
	if (!err) {
		err = relay_job_fds_recv(&cfg);
		if (err < 0)
			log_err("no job sockets: %s", strerror(-err));
	}
	log_phase("relay: job sockets");
	if (!err)
		err = watch_job_sockets(&c);
	if (!err)
		err = dock_init(&c);
	if (!err)
		err = cfg.filter ? role_filter_load(ROLE_RELAY, cfg.filter)
				  : role_filter_apply(ROLE_RELAY);
	log_phase("relay: ready");
	if (err < 0)
		return err;
	for (size_t i = 0; i < cfg.policy->n_floor_exceptions; i++) {
		char rule[NBJ_ADDR_STRLEN + 8];

		log_info("floor exception in force: %s",
			 allow_rule_format(&cfg.policy->floor_exceptions[i], rule,
					   sizeof(rule)));
	}

	for (;;) {
		struct epoll_event ev[EVENT_BATCH];
		int n = epoll_wait(c.epfd, ev, EVENT_BATCH, -1);

		if (n < 0 && errno != EINTR)
			return negative_errno();
		for (int i = 0; i < n; i++) {
			uint32_t index = RELAY_EV_INDEX(ev[i].data.u64);
			uint64_t ticks;

			switch (RELAY_EV_TYPE(ev[i].data.u64)) {
			case RELAY_EV_LISTEN:
				tcp_accept(&c, cfg.tcp_fds[index & 1]);
				break;
			case RELAY_EV_DNS:
				dns_handle(&c, cfg.dns_fds[index & 1]);
				break;
			case RELAY_EV_TIMER:
				(void)!read(c.timerfd, &ticks, sizeof(ticks));
				resolve_tick(&c);
				tcp_timer(&c);
				dns_tcp_tick(&c);
				sam_tick(&c);
				dock_tick(&c);
				inbound_tick(&c);
				break;
			case RELAY_EV_ARES:
				resolve_event(&c, (int)index, ev[i].events);
				break;
			case RELAY_EV_HOSTADDR:
				hostaddr_event(&c);
				break;
			case RELAY_EV_THROTTLE:
				(void)!read(c.throttle_fd, &ticks, sizeof(ticks));
				tcp_throttle_tick(&c);
				break;
			case RELAY_EV_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(c.sigfd, &si, sizeof(si)) == sizeof(si))
					;
				(void)relay_revoked(&c);
				break;
			}
			case RELAY_EV_SAM:
				sam_event(&c, index, ev[i].events);
				break;
			case RELAY_EV_SAM_FWD:
				sam_forward_event(&c, index, ev[i].events);
				break;
			case RELAY_EV_PUBLISH:
				tcp_publish_accept(&c, index);
				break;
			case RELAY_EV_DOCK_LISTEN:	/* index 1: the desk */
				dock_accept(&c, index);
				break;
			case RELAY_EV_DOCK_JOB:
				dock_event(&c, index, false, ev[i].events);
				break;
			case RELAY_EV_DOCK_OUT:
				dock_event(&c, index, true, ev[i].events);
				break;
			case RELAY_EV_HTTP_SOCK:
			case RELAY_EV_HTTP_TIMER:
			case RELAY_EV_HTTP_JOB:
				dock_http_event(&c, RELAY_EV_TYPE(ev[i].data.u64), index,
						ev[i].events);
				break;
			case RELAY_EV_INBOUND_CLIENT:
				inbound_event(&c, index, false, ev[i].events);
				break;
			case RELAY_EV_INBOUND_JOB:
				inbound_event(&c, index, true, ev[i].events);
				break;
			case RELAY_EV_DNS_TCP:
				dns_tcp_event(&c, index, ev[i].events);
				break;
			case RELAY_EV_KEYS:
				keyfetch_event(&c, ev[i].events);
				break;
			case RELAY_EV_FLOW_JOB:
				tcp_flow_event(&c, index, FLOW_SIDE_JOB, ev[i].events);
				break;
			case RELAY_EV_FLOW_DIAL:
				tcp_flow_event(&c, index, FLOW_SIDE_DIAL, ev[i].events);
				break;
			}
		}
		inbound_flush(&c);	/* this turn's inbound events, in one call */
	}
}
