/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/job.c - nbj_job_*: start, watch, signal and tear down a job
 *
 * Theory of operation, the order of nbj_job_start():
 *
 *   1. state: /run/nbjail/<id> with its locks (state.c); the keeper
 *      and, through it, the audit writer (see below); for the net
 *      profile, the host's addresses and routes (one netlink dump each)
 *      and a pool slot that conflicts with none of them
 *   2. clone3() the reaper into new net, mount, PID, UTS and IPC
 *      namespaces, forwarded signals blocked; it starts building its
 *      mount namespace at once (reaper.c) while we go on in parallel
 *   3. net profile: one RTM_NEWLINK creates nbh<id> here and eth0 in the
 *      job's netns; addresses on nbh<id>; the relay's sockets are bound to
 *      the host end (kernel-chosen ports); one nft batch adds the job's
 *      redirect chain; the relay is forked with those sockets and drops
 *      its privileges (relay/loop.c)
 *   4. the state file records pids and start times for nbjail gc; GO tells
 *      the reaper that eth0 exists; it configures the job side and
 *      execs the workload; we return when it reports STARTED (or that
 *      exec failed, which nbj_job_wait() then reports)
 *
 * While the job runs, nbj_job_fd() is an epoll fd watching the reaper's
 * socket and the relay's pidfd.  Teardown (job_teardown()) is the reverse
 * and works from any partial state: SIGKILL and reap the reaper (the
 * kernel kills the rest of the PID namespace; the netns, and with it the
 * veth, is released asynchronously by the kernel) and the relay, let
 * the audit writer finish, delete the nft chain, remove the state.  If
 * the supervisor itself is killed, the reaper and relay die with it
 * (PDEATHSIG) and nbj_gc() removes the chain and the state.
 *
 * The keeper.  The first process of a job (start_audit()) is a fork
 * of the supervisor that forks the audit writer and then waits on a
 * socket pair; it holds no lock.  The writer dies with its parent
 * (PDEATHSIG), so being the keeper's child it outlives the supervisor.
 * Teardown hands the slow part to the keeper (job_hand_over()):
 *
 *   supervisor                       keeper ("nbjail-cleanup" from here)
 *   job_stop(): SIGKILL reaper and   waits (pidfd poll, bounded) until
 *     relay, note conntrack          reaper and relay are gone; lets the
 *   job-end audit event, shut down   writer finish; waits for the veth
 *     the audit socket               (netns cleanup is a kernel workqueue;
 *   handover: flags, pidfds and      deleted by us after 2 s); then, on
 *     locks (SCM_RIGHTS) --------->  EOF from the supervisor,
 *   closes its copies, then EOF      job_release(): nft chain, state, the
 *   waits (pidfd) for the writer     table if last, slot claim
 *     to exit: the trail is complete
 *   nbjail run: exits
 *   nbj_job_wait(): waits for the keeper too
 *
 * The keeper holds the job's locks from the handover on, so the
 * directory, the slot and the job id stay claimed until it is done (a
 * new job takes another slot) and gc leaves it alone; if it is killed,
 * the locks go with it and gc removes the rest.  If the supervisor dies
 * before the handover, the keeper only lets the writer finish.  The
 * filter goes only after the veth: nothing of the job can send through
 * an unfiltered link, even when its netns outlives its processes
 * (something holding it open).  Without a keeper (it could not be
 * started, or died), job_teardown() does all of it itself.
 */
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <errno.h>
#include <linux/sched.h>
#include <net/if.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/privs.h"
#include "netns/link.h"
#include "netns/userns.h"
#include "relay/relay.h"
#include "seccomp/filter.h"
#include "seccomp/selection.h"
#include "seccomp/notify.h"
#include "supervisor/ctl.h"
#include "supervisor/tenant.h"
#include "supervisor/supervisor.h"

#define START_TIMEOUT_MS 30000
#define AUDITD_FLUSH_TIMEOUT_MS 2000
#define AUDIT_SOCKET_BUFFER (4 << 20)
#define RELAY_MAX_FLOWS 16384
#define DETACHED_WAIT_MS 10000

enum job_event {
	JOB_EVENT_REAPER = 1,
	JOB_EVENT_RELAY,
	JOB_EVENT_NOTIFY,
	JOB_EVENT_CTL_LISTEN,
	JOB_EVENT_CTL_RETRY,
};

/* The job's own copy of what the notifier judges with: the caller's
 * configuration is not referenced after nbj_job_start() returns */
struct job_policy {
	struct nbj_policy policy;
	struct allow_rule *allow;
	struct allow_rule *floor_exceptions;
	struct overlay *overlays;
	struct overlay_route *routes;
	struct publish_entry *publish;
	uint16_t publish_ports[PUBLISH_MAX];
	struct unix_rule *unix_allow;
	size_t n_unix_allow;
	struct nbj_addr *host_addrs;
	size_t n_host_addrs;
	struct nbj_prefix job_nets[2];
};

struct nbj_job {
	struct job_state state;
	struct sock_fprog seccomp;
	struct selection selection;
	bool state_created;
	bool has_net;
	struct job_net net;
	int relay_fds[RELAY_FDS];

	pid_t reaper_pid;
	int reaper_pidfd;
	int sock;
	pid_t relay_pid;
	int relay_pidfd;
	int epfd;
	int listener;
	struct notifier *notifier;
	struct job_policy pol;

	struct job_stats *stats;
	struct audit_ctx audit;
	pid_t auditd_pid;
	int auditd_pidfd;
	pid_t keeper_pid;
	int keeper_pidfd;
	int keeper;
	bool start_audited;
	struct ctl_server ctl;
	bool ctl_started;
	struct tenant_attachment tenant;

	bool ended;
	struct nbj_exit exit;
};

static pid_t clone_pidfd(unsigned long long flags, int *ret_pidfd)
{
	struct clone_args args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static void kill_and_reap(int *pidfd, pid_t *pid)
{
	siginfo_t si;

	if (*pidfd < 0)
		return;
	(void)syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
	while (waitid(P_PIDFD, (id_t)*pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	closep(pidfd);
	*pidfd = -1;
	*pid = 0;
}

static void exit_describe(const struct nbj_exit *e, char *buf, size_t len)
{
	switch (e->kind) {
	case NBJ_EXITED:
		snprintf(buf, len, "exited status=%d", e->code);
		break;
	case NBJ_KILLED:
		snprintf(buf, len, "killed signal=%d", e->code);
		break;
	case NBJ_EXEC_FAILED:
		snprintf(buf, len, "exec failed errno=%d", e->code);
		break;
	default:
		snprintf(buf, len, "setup failed errno=%d", e->code);
	}
}

/* Tell the audit writer the job has ended and close our end of its
 * socket: it writes what is queued and exits once the relay's end is
 * closed too */
static void job_audit_send_end(struct nbj_job *job)
{
	struct audit_event ev;

	if (job->audit.fd >= 0 && job->start_audited) {
		audit_event_init(&ev, AUDIT_JOB_END, LANE_JOB);
		ev.pid = job->reaper_pid;
		if (job->ended)
			exit_describe(&job->exit, ev.detail, sizeof(ev.detail));
		else
			EVENT_SET(&ev, detail, "torn down by nbjail");
		(void)audit_send(&job->audit, &ev);
	}
	/* the relay shares this socket: shut down, the writer reads what is
	 * queued and then EOF, without waiting for the relay to exit */
	if (job->audit.fd >= 0)
		(void)shutdown(job->audit.fd, SHUT_WR);
	closep(&job->audit.fd);
	job->audit.fd = -1;
}

/* The keeper's end of the audit trail: let the writer write everything
 * (a bounded wait), stop it, leave the tenant */
static void keeper_audit_finish(struct nbj_job *job)
{
	struct pollfd pfd = { .fd = job->auditd_pidfd, .events = POLLIN };

	if (job->auditd_pidfd >= 0)
		(void)poll(&pfd, 1, AUDITD_FLUSH_TIMEOUT_MS);
	kill_and_reap(&job->auditd_pidfd, &job->auditd_pid);
	tenant_detach(&job->tenant);
	job->audit.tenant = NULL;
	stats_unmap(job->stats);
	job->stats = job->audit.stats = NULL;
}

/* The supervisor's copies of the tenant and the statistics, given up
 * without undoing anything (the keeper does, or did) */
static void job_audit_forget(struct nbj_job *job)
{
	if (job->tenant.state)
		munmap(job->tenant.state, sizeof(*job->tenant.state));
	closep(&job->tenant.fd);
	job->tenant.fd = job->tenant.slot = -1;
	job->tenant.state = job->audit.tenant = NULL;
	stats_unmap(job->stats);
	job->stats = job->audit.stats = NULL;
}

/* The effective limits, in the statistics every process of the job maps */
static void set_limits(struct job_stats *st, const struct nbj_rates *r)
{
	const struct rate_policy *j = &r->job, *t = &r->tenant;

	st->connects_limit.per_s = j->connects_per_s ? j->connects_per_s
						     : RATE_FLOOR_CONNECTS_PER_S;
	st->connects_limit.burst = j->connects_burst ? j->connects_burst :
				   j->connects_per_s ? j->connects_per_s
						     : RATE_FLOOR_CONNECTS_BURST;
	st->bytes_limit.per_s = j->bytes_per_s;
	st->bytes_limit.burst = j->bytes_burst ? j->bytes_burst : j->bytes_per_s;
	st->concurrent_limit = j->concurrent;
	st->tenant_connects_limit.per_s = t->connects_per_s;
	st->tenant_connects_limit.burst = t->connects_burst ? t->connects_burst
							    : t->connects_per_s;
	st->tenant_bytes_limit.per_s = t->bytes_per_s;
	st->tenant_bytes_limit.burst = t->bytes_burst ? t->bytes_burst : t->bytes_per_s;
	st->tenant_concurrent_limit = t->concurrent;
}

static void pidfd_kill(int pidfd)
{
	if (pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

/*
 * First half of the teardown, what must happen before the job's status is
 * reported: the job leaves nbjail ctl's list, the control socket is given
 * up, the job's init and the relay are killed (not waited for).
 */
static void job_stop(struct nbj_job *job)
{
	char path[NBJ_PATH_MAX];

	/* nbjail ctl lists running jobs by their statistics file: an ended
	 * one goes at once, whatever of it is still being removed (the
	 * mappings of the relay and the audit writer stay valid) */
	if (job->stats && runtime_path(path, "%s/stats", job->state.id) == 0)
		(void)unlink(path);
	if (job->ctl_started) {
		ctl_server_stop(&job->ctl);
		job->ctl_started = false;
	}
	pidfd_kill(job->reaper_pidfd);
	pidfd_kill(job->relay_pidfd);
}

/*
 * Second half: with every process of the job gone, the state.  The job
 * had nothing else: its namespaces went with its last process.
 */
static void job_release(struct nbj_job *job)
{
	if (job->state_created) {
		state_job_remove(&job->state);
		job->state_created = false;
	}
	log_phase("teardown: state");
}

static void job_close(struct nbj_job *job)
{
	closep(&job->sock);
	job->sock = -1;
	closep(&job->epfd);
	job->epfd = -1;
	closep(&job->listener);
	job->listener = -1;
	for (int i = 0; i < RELAY_FDS; i++) {
		closep(&job->relay_fds[i]);
		job->relay_fds[i] = -1;
	}
	notifier_free(job->notifier);
	job->notifier = NULL;
}

/* Wait (bounded) until a process, not necessarily our child, has ended:
 * a pidfd polls readable once it is a zombie.  For the job's init that
 * is after the kernel has killed and reaped the rest of its PID
 * namespace.  Return: true once it has ended */
static bool pidfd_wait_gone(int pidfd, int timeout_ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int r;

	if (pidfd < 0)
		return true;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* The fds a handover carries, in this order (those that are open) */
enum { HAND_REAPER, HAND_RELAY, HAND_JOB_LOCK, HAND_SELECTION, HAND_FDS };

/**
 * struct keeper_handover - what the supervisor tells the keeper at the end
 * @detach:	the supervisor exits at once: own session, stdio on /dev/null
 * @fd_mask:	which HAND_* fds are attached (SCM_RIGHTS, in that order)
 * @state:	the job's state (fds replaced by the attached ones)
 * @selection:	its overlay selection cgroups (root fd likewise)
 * @state_created: the job's directory exists
 */
struct keeper_handover {
	bool detach;
	unsigned fd_mask;
	struct job_state state;
	struct selection selection;
	bool state_created;
};

static int handover_recv(int sock, struct keeper_handover *h, int fds[HAND_FDS])
{
	int got[HAND_FDS];
	size_t n, k = 0;

	for (int i = 0; i < HAND_FDS; i++)
		fds[i] = -1;
	if (fd_recv(sock, h, sizeof(*h), 0, got, HAND_FDS, &n) != sizeof(*h)) {
		for (size_t i = 0; i < HAND_FDS; i++)
			closep(&got[i]);
		return -EPROTO;
	}
	for (int i = 0; i < HAND_FDS; i++)
		if ((h->fd_mask & (1u << i)) && k < n)
			fds[i] = got[k++];
	return 0;
}

/* The teardown child's part, after the handover: see the theory above.
 * If the job's processes do not end in time it leaves everything to gc
 * rather than remove filters under them. */
_Noreturn static void keeper_release(struct nbj_job *job, int sock)
{
	struct keeper_handover h;
	int fds[HAND_FDS];
	char c;

	if (handover_recv(sock, &h, fds) < 0) {
		/* the supervisor is gone without a word: gc does the rest */
		keeper_audit_finish(job);
		_exit(1);
	}
	job->state = h.state;
	job->state.job_lock = fds[HAND_JOB_LOCK];
	job->selection = h.selection;
	job->selection.root = fds[HAND_SELECTION];
	job->reaper_pidfd = fds[HAND_REAPER];
	job->relay_pidfd = fds[HAND_RELAY];
	job->state_created = h.state_created;
	(void)prctl(PR_SET_NAME, "nbjail-cleanup");
	if (h.detach) {
		/* no terminal signal reaches us, no reader waits for our
		 * stdio, and we yield the CPU to whatever runs next */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		bool trace = getenv("NBJAIL_TRACE_STARTUP");

		(void)setsid();
		(void)setpriority(PRIO_PROCESS, 0, 10);
		for (int fd = 0; null >= 0 && fd <= 2; fd++)
			if (fd != 2 || !trace)
				(void)dup2(null, fd);
		if (null > 2)
			close(null);
	}
	if (!pidfd_wait_gone(job->reaper_pidfd, DETACHED_WAIT_MS) ||
	    !pidfd_wait_gone(job->relay_pidfd, DETACHED_WAIT_MS)) {
		keeper_audit_finish(job);
		_exit(1); /* the job's processes live on: nbjail gc */
	}
	log_phase("teardown: processes gone");
	selection_cleanup(&job->selection);
	keeper_audit_finish(job);
	log_phase("teardown: audit flushed");
	/* the supervisor's copy of the job's lock is closed once it has
	 * closed its end (or died) */
	while (read(sock, &c, 1) < 0 && errno == EINTR)
		;
	job_release(job);
	_exit(0);
}

/*
 * The keeper: forked before anything else of the job, it forks the audit
 * writer (so that the writer, which dies with its parent, outlives the
 * supervisor), reports whether that worked, and then waits for the
 * handover.  Until then it holds no lock of the job.
 */
_Noreturn static void keeper_main(struct nbj_job *job, struct auditd_config *ac, int sock)
{
	int keep[] = { sock, ac->fd, ac->log_fd, job->tenant.fd, 2 };
	sigset_t all;
	pid_t pid;
	int err;

	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	fds_close_all_except(keep, ARRAY_SIZE(keep));
	job->state.job_lock = -1;
	pid = clone_pidfd(0, &job->auditd_pidfd);
	if (pid == 0) {
		int wkeep[] = { ac->fd, ac->log_fd };
		sigset_t none;

		fds_close_all_except(wkeep, ac->log_fd >= 0 ? 2 : 1);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		err = auditd_run(ac);
		log_err("audit writer failed: %s", strerror(-err));
		_exit(1);
	}
	err = pid < 0 ? negative_errno() : 0;
	job->auditd_pid = pid;
	closep(&ac->fd);
	closep(&ac->log_fd);
	if (err < 0) {
		(void)send(sock, &err, sizeof(err), MSG_NOSIGNAL);
		_exit(1);
	}
	if (fd_send(sock, &err, sizeof(err), &job->auditd_pidfd, 1) < 0)
		_exit(1);
	keeper_release(job, sock);
}

/*
 * Hand the rest of the teardown to the keeper (after job_stop() and the
 * job-end event), then give up our copies of what it took.  With
 * @detach it finishes after we have exited; otherwise this waits for it.
 * Return: 0, or negative errno when there is no keeper to take it
 */
static int job_hand_over(struct nbj_job *job, bool detach)
{
	struct keeper_handover h = {
		.detach = detach,
		.state = job->state,
		.selection = job->selection,
		.state_created = job->state_created,
	};
	int all[HAND_FDS] = {
		[HAND_REAPER] = job->reaper_pidfd,
		[HAND_RELAY] = job->relay_pidfd,
		[HAND_JOB_LOCK] = job->state.job_lock,
		[HAND_SELECTION] = job->selection.ready ? job->selection.root : -1,
	};
	int fds[HAND_FDS], n = 0, err;
	siginfo_t si;

	if (job->keeper < 0)
		return -ECHILD;
	for (int i = 0; i < HAND_FDS; i++)
		if (all[i] >= 0) {
			h.fd_mask |= 1u << i;
			fds[n++] = all[i];
		}
	err = fd_send(job->keeper, &h, sizeof(h), fds, (size_t)n);
	if (err < 0)
		return err;
	log_phase("teardown: handed over");
	/* the keeper owns the rest: our copies go without undoing anything,
	 * and then it is told so (EOF) */
	if (detach) {
		closep(&job->reaper_pidfd);
		job->reaper_pidfd = -1;
		closep(&job->relay_pidfd);
		job->relay_pidfd = -1;
	}
	closep(&job->state.job_lock);
	job->state.job_lock = -1;
	job->state_created = false;
	if (job->selection.ready) {
		closep(&job->selection.root);
		job->selection.root = -1;
		job->selection.ready = false;
	}
	job_audit_forget(job);
	closep(&job->keeper);
	job->keeper = -1;
	/* whoever reads the audit trail once we return finds all of it:
	 * the writer exits when it has written the job's last events */
	(void)pidfd_wait_gone(job->auditd_pidfd, AUDITD_FLUSH_TIMEOUT_MS);
	closep(&job->auditd_pidfd);
	job->auditd_pidfd = -1;
	log_phase("teardown: audit written");
	if (!detach) {
		while (waitid(P_PIDFD, (id_t)job->keeper_pidfd, &si, WEXITED) < 0 &&
		       errno == EINTR)
			;
		/* zombies by now: the keeper has seen them gone */
		kill_and_reap(&job->reaper_pidfd, &job->reaper_pid);
		kill_and_reap(&job->relay_pidfd, &job->relay_pid);
	}
	closep(&job->keeper_pidfd);
	job->keeper_pidfd = -1;
	job->keeper_pid = 0;
	return 0;
}

/* The reverse of nbj_job_start(), from any partial state, all of it
 * before returning: by the keeper if there is one, else here. */
static void job_teardown(struct nbj_job *job)
{
	job_stop(job);
	job_close(job);
	job_audit_send_end(job);
	if (job_hand_over(job, false) == 0)
		return;
	/* no keeper (it failed or was never started): no audit writer */
	closep(&job->auditd_pidfd);
	job->auditd_pidfd = -1;
	kill_and_reap(&job->keeper_pidfd, &job->keeper_pid);
	closep(&job->keeper);
	job->keeper = -1;
	kill_and_reap(&job->reaper_pidfd, &job->reaper_pid);
	log_phase("teardown: reaper reaped");
	kill_and_reap(&job->relay_pidfd, &job->relay_pid);
	log_phase("teardown: relay reaped");
	selection_cleanup(&job->selection); /* the job's processes are gone */
	tenant_detach(&job->tenant);
	job->audit.tenant = NULL;
	stats_unmap(job->stats);
	job->stats = job->audit.stats = NULL;
	job_release(job);
}

static void job_policy_free(struct job_policy *p)
{
	free(p->allow);
	free(p->floor_exceptions);
	if (p->overlays)
		explicit_bzero(p->overlays, p->policy.n_overlays * sizeof(*p->overlays));
	free(p->overlays);
	free(p->routes);
	free(p->publish);
	free(p->unix_allow);
	free(p->host_addrs);
}

static void *memdup_array(const void *src, size_t n, size_t size, int *err)
{
	void *p;

	if (!n)
		return NULL;
	p = calloc(n, size);
	if (!p)
		*err = -ENOMEM;
	else
		memcpy(p, src, n * size);
	return p;
}

/* An overlay's password, from its environment variable or file */
static int overlay_password(struct overlay *o)
{
	_cleanup_fclose_ FILE *f = NULL;
	const char *v;

	if (o->password_env[0]) {
		v = getenv(o->password_env);
		if (!v) {
			log_err("overlay %s: password_env %s is not set", o->name, o->password_env);
			return -ENOKEY;
		}
		if (strlen(v) > 255) {
			log_err("overlay %s: the password is longer than 255 bytes", o->name);
			return -EINVAL;
		}
		snprintf(o->password, sizeof(o->password), "%s", v);
	} else if (o->password_file[0]) {
		f = fopen(o->password_file, "re");
		if (!f || !fgets(o->password, sizeof(o->password), f)) {
			log_err("overlay %s: cannot read password_file %s", o->name,
				o->password_file);
			return -ENOKEY;
		}
		o->password[strcspn(o->password, "\r\n")] = '\0';
	}
	return 0;
}

/* The overlay registry, routes and default overlay of the job */
static int job_overlays_copy(struct job_policy *p, const struct nbj_config *cfg)
{
	int err = 0;

	p->policy.default_overlay = cfg->default_overlay;
	if (cfg->n_overlays) {
		p->overlays = memdup_array(cfg->overlays, cfg->n_overlays,
					   sizeof(*cfg->overlays), &err);
		p->policy.overlays = p->overlays;
		p->policy.n_overlays = cfg->n_overlays;
	}
	p->routes = memdup_array(cfg->routes, cfg->n_routes, sizeof(*cfg->routes), &err);
	p->policy.routes = p->routes;
	p->policy.n_routes = cfg->n_routes;
	p->publish = memdup_array(cfg->publish, cfg->n_publish, sizeof(*cfg->publish), &err);
	p->policy.publish = p->publish;
	p->policy.n_publish = cfg->n_publish;
	p->policy.select_allowed = cfg->select_allowed;
	for (size_t i = 0; i < cfg->n_publish; i++)
		p->publish_ports[i] = cfg->publish[i].to;
	if (err < 0)
		return err;
	if (cfg->default_overlay_name) {
		bool found = !strcmp(cfg->default_overlay_name, "direct");

		p->policy.default_overlay = OVERLAY_DIRECT_INDEX;
		for (size_t i = 1; i < p->policy.n_overlays && !found; i++)
			if (!strcmp(p->overlays[i].name, cfg->default_overlay_name)) {
				p->policy.default_overlay = (unsigned)i;
				found = true;
			}
		if (!found) {
			log_err("--overlay %s: the policy defines no such overlay",
				cfg->default_overlay_name);
			return -ENOENT;
		}
	}
	for (size_t i = 1; i < p->policy.n_overlays && !err; i++) {
		err = overlay_password(&p->overlays[i]);
		if (!err)
			err = i2p_overlay_key(&p->overlays[i]);
		if (!err && p->overlays[i].i2p_address[0])
			log_info("overlay %s: the job's I2P destination is %s",
				 p->overlays[i].name, p->overlays[i].i2p_address);
	}
	return err;
}

static int job_policy_copy(struct job_policy *p, const struct nbj_config *cfg,
			   const struct host_inventory *inv)
{
	int err = 0;

	p->allow = memdup_array(cfg->allow, cfg->n_allow, sizeof(*cfg->allow), &err);
	p->floor_exceptions = memdup_array(cfg->floor_exceptions,
					   cfg->n_floor_exceptions,
					   sizeof(*cfg->floor_exceptions), &err);
	p->unix_allow = memdup_array(cfg->unix_allow, cfg->n_unix_allow,
				     sizeof(*cfg->unix_allow), &err);
	p->host_addrs = memdup_array(inv->addrs, inv->n_addrs,
				     sizeof(*inv->addrs), &err);
	p->n_unix_allow = cfg->n_unix_allow;
	p->n_host_addrs = inv->n_addrs;
	p->policy = (struct nbj_policy){
		.allow = p->allow,
		.n_allow = cfg->n_allow,
		.floor_exceptions = p->floor_exceptions,
		.n_floor_exceptions = cfg->n_floor_exceptions,
	};
	job_net_prefixes(p->job_nets);
	if (!err)
		err = job_overlays_copy(p, cfg);
	return err;
}

static void sigset_forwarded(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGCHLD);
}

static int epoll_watch(int epfd, int fd, enum job_event ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = ev };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? negative_errno() : 0;
}

static const char *job_tenant(const struct nbj_config *cfg)
{
	return cfg->tenant ? cfg->tenant : cfg->name ? cfg->name : "nbjail";
}

/* The job's statistics file and its audit writer, before anything else */
static int start_audit(struct nbj_job *job, const struct nbj_config *cfg)
{
	struct auditd_config ac = {
		.job_id = job->state.id,
		.tenant = job_tenant(cfg),
		.log_fd = -1,
		.journal = !cfg->no_journal,
	};
	int sv[2] = { -1, -1 }, kv[2] = { -1, -1 }, size = AUDIT_SOCKET_BUFFER, err;
	struct job_stats *st;
	struct timespec ts;
	char path[NBJ_PATH_MAX];
	pid_t pid;

	err = runtime_path(path, "%s/stats", job->state.id);
	if (!err)
		err = stats_create(path, &job->stats);
	if (err < 0) {
		log_err("cannot create %s: %s", path, strerror(-err));
		return err;
	}
	st = job->stats;
	clock_gettime(CLOCK_REALTIME, &ts);
	st->size = sizeof(*st);
	snprintf(st->job_id, sizeof(st->job_id), "%s", job->state.id);
	snprintf(st->name, sizeof(st->name), "%s", cfg->name ? cfg->name : "nbjail");
	snprintf(st->tenant, sizeof(st->tenant), "%s", job_tenant(cfg));
	snprintf(st->profile, sizeof(st->profile), "%s", nbj_profile_to_string(cfg->profile));
	st->supervisor_pid = getpid();
	st->start_usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	set_limits(st, &cfg->rates);
	err = tenant_attach(job_tenant(cfg), job->state.id, &job->tenant);
	if (err < 0) {
		log_err("cannot join tenant %s: %s", job_tenant(cfg), strerror(-err));
		return err;
	}
	st->tenant_slot = job->tenant.slot;
	__atomic_store_n(&st->magic, JOB_STATS_MAGIC, __ATOMIC_RELEASE);
	job->audit.stats = st;
	job->audit.tenant = job->tenant.state;

	if (cfg->audit_log) {
		ac.log_fd = open(cfg->audit_log, O_WRONLY | O_APPEND | O_CREAT |
				 O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
		if (ac.log_fd < 0) {
			err = negative_errno();
			log_err("cannot open the audit log %s: %s", cfg->audit_log,
				strerror(-err));
			return err;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = negative_errno();
		goto out;
	}
	/* room for a burst: beyond it, events are dropped and counted */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	ac.fd = sv[1];
	ac.stats = st;
	privs_unprivileged_user(&ac.uid, &ac.gid);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, kv) < 0) {
		err = negative_errno();
		goto out;
	}
	pid = clone_pidfd(0, &job->keeper_pidfd);
	if (pid < 0) {
		err = negative_errno();
		log_err("cannot start the audit writer: %s", strerror(-err));
		goto out;
	}
	if (pid == 0) {
		closep(&sv[0]);
		closep(&kv[0]);
		keeper_main(job, &ac, kv[1]);
	}
	job->keeper_pid = pid;
	job->keeper = TAKE_FD(kv[0]);
	job->audit.fd = TAKE_FD(sv[0]);
	err = 0;
out:
	closep(&sv[0]);
	closep(&sv[1]);
	closep(&kv[0]);
	closep(&kv[1]);
	closep(&ac.log_fd);
	return err;
}

/* The keeper's report that the audit writer runs, with the writer's
 * pidfd (for waiting until it has written the job's last events); read
 * before GO: it was sent long before, this does not wait */
static int keeper_started(struct nbj_job *job)
{
	int err, fd;

	if (fd_recv(job->keeper, &err, sizeof(err), 0, &fd, 1, NULL) != sizeof(err))
		err = -ECHILD;
	if (!err && fd < 0)
		err = -EPROTO;
	if (err < 0) {
		closep(&fd);
		log_err("cannot start the audit writer: %s", strerror(-err));
		return err;
	}
	job->auditd_pidfd = fd;
	return 0;
}

/* The job-start event, once the workload runs */
static void audit_job_start(struct nbj_job *job, const struct nbj_config *cfg)
{
	struct audit_event ev;
	size_t o = 0;

	audit_event_init(&ev, AUDIT_JOB_START, LANE_JOB);
	ev.pid = job->reaper_pid;
	EVENT_SET(&ev, exe, cfg->argv[0]);
	for (char **a = cfg->argv; *a && o + 1 < sizeof(ev.target); a++)
		o += (size_t)snprintf(ev.target + o, sizeof(ev.target) - o, "%s%s",
				      o ? " " : "", *a);
	snprintf(ev.detail, sizeof(ev.detail), "profile=%s name=%s",
		 job->stats->profile, job->stats->name);
	(void)audit_send(&job->audit, &ev);
	job->start_audited = true;
}

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
static int start_relay(struct nbj_job *job)
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
	job->relay_pid = pid;
	atomic_store(&job->stats->relay_pid, pid);
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

static int record_state(const struct nbj_job *job)
{
	struct job_record r = {
		.supervisor_pid = getpid(),
		.reaper_pid = job->reaper_pid,
		.relay_pid = job->relay_pid,
	};
	int err = state_process_start_time(job->reaper_pid, &r.reaper_start);

	if (!err && job->relay_pid)
		err = state_process_start_time(job->relay_pid, &r.relay_start);
	if (!err)
		err = state_record_write(&job->state, &r);
	return err;
}

/*
 * The reaper's next report (bounded wait), with up to @max_fds fds;
 * -ECHILD if it died, -ETIMEDOUT, or SETUP_FAILED's errno
 */
static int reaper_report(struct nbj_job *job, struct reaper_msg *m, int *fds,
			 size_t max_fds, size_t *ret_n)
{
	struct pollfd pfd = { .fd = job->sock, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&pfd, 1, START_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		log_err("job setup timed out");
		return -ETIMEDOUT;
	}
	n = fd_recv(job->sock, m, sizeof(*m), MSG_DONTWAIT, fds, max_fds, ret_n);
	if (n != sizeof(*m)) {
		log_err("the job's init died during setup");
		return -ECHILD;
	}
	if (m->type == REAPER_MSG_SETUP_FAILED) {
		for (size_t i = 0; i < max_fds; i++)
			closep(&fds[i]);
		return m->value > 0 ? -m->value : -EIO;
	}
	return 0;
}

/* The reaper has set the job's namespaces up: the relay's sockets */
static int await_ready(struct nbj_job *job)
{
	size_t want = !job->has_net ? 0 : job->pol.policy.n_publish ? RELAY_FDS
								  : RELAY_FD_FACTORY;
	struct reaper_msg m;
	size_t n = 0;
	int err = reaper_report(job, &m, job->relay_fds, RELAY_FDS, &n);

	if (err < 0)
		return err;
	if (m.type != REAPER_MSG_READY || n != want) {
		log_err("unexpected message %u with %zu fds from the job's init", m.type, n);
		return -EPROTO;
	}
	return 0;
}

/* Wait for the reaper's report after GO */
static int await_started(struct nbj_job *job)
{
	struct reaper_msg m;
	int fd = -1, err = reaper_report(job, &m, &fd, 1, NULL);

	if (err < 0)
		return err;
	switch (m.type) {
	case REAPER_MSG_STARTED:
		if (fd < 0) {
			log_err("the job's init sent no seccomp listener");
			return -EPROTO;
		}
		job->listener = fd;
		return 0;
	case REAPER_MSG_EXEC_FAILED:
		closep(&fd);
		job->ended = true;
		job->exit.kind = NBJ_EXEC_FAILED;
		job->exit.code = m.value;
		return 0;
	default:
		closep(&fd);
		log_err("unexpected message %u from the job's init", m.type);
		return -EPROTO;
	}
}

/* Hand the listener to a notifier that judges with the job's policy */
static int start_notifier(struct nbj_job *job)
{
	struct job_policy *p = &job->pol;
	struct notify_scope scope = {
		.policy = &p->policy,
		.floor = {
			.host = p->host_addrs,
			.n_host = p->n_host_addrs,
			.job_nets = p->job_nets,
			.n_job_nets = ARRAY_SIZE(p->job_nets),
		},
		.has_net = job->has_net,
		.audit = &job->audit,
		.unix_allow = p->unix_allow,
		.n_unix_allow = p->n_unix_allow,
		.selection = job->selection.ready ? &job->selection : NULL,
	};
	int err;

	if (job->has_net) {
		scope.local[0] = (struct nbj_addr){ .family = AF_INET, .v4 = job->net.job4 };
		scope.local[1] = (struct nbj_addr){ .family = AF_INET6, .v6 = job->net.job6 };
		scope.gateway[0] = (struct nbj_addr){ .family = AF_INET,
						      .v4 = job->net.nameserver4 };
		scope.n_local = 2;
		scope.n_gateway = 1;
	}
	err = notifier_new(TAKE_FD(job->listener), &scope, job->state.id,
			   job->reaper_pid, &job->notifier);
	if (err < 0) {
		log_err("cannot watch the job's socket calls: %s", strerror(-err));
		return err;
	}
	return epoll_watch(job->epfd, notifier_fd(job->notifier), JOB_EVENT_NOTIFY);
}

/*
 * Who the job is inside its user namespace, and who that is on the host
 * (netns/userns.c); the credentials the reaper and the workload assume
 */
static int job_identity(const struct nbj_config *cfg, struct workload_creds *creds,
			struct userns_map *map)
{
	int err = creds_resolve(cfg->uid, cfg->gid, creds);

	if (err < 0)
		return err;
	err = userns_plan(creds->uid, creds->gid, creds->groups, creds->n_groups, map);
	if (err == -EPERM) {
		log_err("--user %u: without root, a job runs as you (uid %u) or as "
			"root of its own user namespace (--user root)",
			(unsigned)cfg->uid, (unsigned)getuid());
		return err;
	}
	if (err < 0)
		return err;
	/* exactly the mapped groups; an unprivileged caller's namespace
	 * denies setgroups and the job keeps the caller's */
	creds->gid = map->gids[0];
	creds->keep_groups = map->deny_setgroups;
	creds->n_groups = 0;
	for (size_t i = 0; !creds->keep_groups && i < map->n_gids; i++)
		creds->groups[creds->n_groups++] = map->gids[i];
	return 0;
}

/* Why clone() of the job's namespaces failed, with the fix */
static const char *clone_failure_cause(int err)
{
	switch (err) {
	case -ENOSPC:
	case -EUSERS:
		return "the limit of user namespaces is reached (user.max_user_namespaces "
		       "is 0 or used up for this user); raise it with sysctl -w "
		       "user.max_user_namespaces=N (see nbjail doctor)";
	case -EPERM:
		return "user namespaces are refused to this user (kernel."
		       "unprivileged_userns_clone=0, kernel.apparmor_restrict_"
		       "unprivileged_userns=1, or a container's seccomp profile; "
		       "see nbjail doctor)";
	default:
		return strerror(-err);
	}
}

/* Ports below ip_unprivileged_port_start need root: say so before start */
static int check_publish_ports(const struct nbj_config *cfg)
{
	_cleanup_fclose_ FILE *f = NULL;
	unsigned start = 1024;

	if (geteuid() == 0 || !cfg->n_publish)
		return 0;
	f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
	if (f && fscanf(f, "%u", &start) != 1)
		start = 1024;
	for (size_t i = 0; i < cfg->n_publish; i++)
		if (cfg->publish[i].port < start) {
			log_err("publish: port %u is below net.ipv4.ip_unprivileged_port_start "
				"(%u): only root may listen there; choose a port >= %u or "
				"run nbjail as root", cfg->publish[i].port, start, start);
			return -EACCES;
		}
	return 0;
}

/**
 * nbj_job_start() - start a job; returns once the workload was exec'd
 * @cfg:	configuration, not referenced after return
 * @ret:	the job, free with nbj_job_free()
 *
 * If the workload cannot be executed, the job is started and ends at
 * once: nbj_job_wait() reports NBJ_EXEC_FAILED.  Works for root and, in
 * rootless mode, for any user the kernel lets create user namespaces.
 *
 * Return: 0, -EINVAL without a command, -EPERM for a --user an
 * unprivileged caller cannot be, or another negative errno when setup
 * failed (already logged; nothing is left)
 */
int nbj_job_start(const struct nbj_config *cfg, struct nbj_job **ret)
{
	struct host_inventory inv = { 0 };
	struct workload_creds creds;
	struct userns_map map;
	struct mount_params mp = { .hostname = cfg->name ? cfg->name : "nbjail" };
	struct fs_plan fs = { 0 };
	char nameserver[INET_ADDRSTRLEN];
	struct reaper_params rp;
	struct reaper_msg msg = { .type = REAPER_MSG_MAPPED };
	_cleanup_free_ char **envp = NULL;
	sigset_t block, saved;
	struct nbj_job *job;
	int sv[2], err;
	pid_t pid;

	if (!cfg->argv)
		return -EINVAL;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->reaper_pidfd = job->relay_pidfd = job->sock = job->epfd = -1;
	job->listener = job->auditd_pidfd = job->audit.fd = -1;
	job->keeper_pidfd = job->keeper = -1;
	job->tenant.fd = job->tenant.slot = -1;
	job->state.job_lock = -1;
	for (int i = 0; i < RELAY_FDS; i++)
		job->relay_fds[i] = -1;

	/* 1. who the job is, and what the kernel must allow: before anything */
	err = job_identity(cfg, &creds, &map);
	if (!err)
		err = check_publish_ports(cfg);
	if (err < 0)
		goto fail;
	log_phase("credentials");
	/* 2. the job's directory, its keeper and audit writer */
	err = state_job_create(&job->state);
	if (err < 0) {
		if (err != -ENOENT || nbj_runtime_dir())
			log_err("cannot create the job's state under %s: %s",
				nbj_runtime_dir(), strerror(-err));
		goto fail;
	}
	job->state_created = true;
	log_phase("state");
	err = start_audit(job, cfg);
	if (err < 0)
		goto fail;
	log_phase("audit writer");
	job->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (job->epfd < 0) {
		err = negative_errno();
		goto fail;
	}

	/* 3. the policy the notifier and the relay judge with */
	job->has_net = cfg->profile == NBJ_PROFILE_NET;
	job_net_default(&job->net);
	if (job->has_net) {
		err = link_host_inventory(&inv);
		if (err < 0) {
			log_err("cannot read the host's addresses: %s", strerror(-err));
			goto fail;
		}
		inet_ntop(AF_INET, &job->net.nameserver4, nameserver, sizeof(nameserver));
		mp.nameserver = nameserver;
	}
	err = job_policy_copy(&job->pol, cfg, &inv);
	if (err < 0)
		goto fail;
	/* after job_policy_copy(): an i2p key_file exists by now */
	err = fsview_check_owner(cfg, &creds);
	if (!err)
		err = fsview_plan(cfg, &fs);
	if (err < 0)
		goto fail;
	mp.fs = &fs;
	if (cfg->select_allowed && job->has_net) {
		err = selection_init(&job->selection, job->state.id);
		if (err < 0)
			log_warn("permissions: network.select: %s; nbjail-select will be "
				 "refused in this job", err == -EOPNOTSUPP ?
				 "this host has no cgroup v2" :
				 err == -EACCES || err == -EPERM ?
				 "no cgroup delegated to this user" : strerror(-err));
		err = 0;
	}
	err = seccomp_filter_cached(nbj_runtime_dir(), &job->seccomp);
	if (err < 0) {
		log_err("cannot build the seccomp filter: %s", strerror(-err));
		goto fail;
	}
	log_phase("seccomp filter");
	err = environ_build(cfg, environ, &envp);
	if (err < 0) {
		log_err("cannot build the job's environment: %s", strerror(-err));
		goto fail;
	}

	/* 4. the job's init, in new namespaces, its user namespace mapped */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = negative_errno();
		goto fail;
	}
	rp = (struct reaper_params){
		.seccomp = &job->seccomp,
		.sock = sv[1],
		.argv = cfg->argv,
		.creds = &creds,
		.mounts = &mp,
		.net = job->has_net ? &job->net : NULL,
		.socket_factory = job->has_net && job->pol.policy.n_publish,
		.n_select_overlays = !job->selection.ready ? 0 :
				     job->pol.policy.n_overlays ? job->pol.policy.n_overlays : 1,
		.terminal_fd = cfg->terminal_fd,
		.terminal_stdio = cfg->terminal_stdio,
		.envp = envp,
	};
	sigset_forwarded(&block);
	(void)sigprocmask(SIG_BLOCK, &block, &saved);
	pid = clone_pidfd(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID |
				  CLONE_NEWUTS | CLONE_NEWIPC,
			  &job->reaper_pidfd);
	if (pid == 0)
		reaper_main(&rp);
	err = pid < 0 ? negative_errno() : 0;
	(void)sigprocmask(SIG_SETMASK, &saved, NULL);
	free(TAKE_PTR(envp)); /* the clone has its copy */
	close(sv[1]);
	job->sock = sv[0];
	if (err < 0) {
		log_err("cannot create the job's namespaces: %s", clone_failure_cause(err));
		goto fail;
	}
	job->reaper_pid = pid;
	log_phase("namespaces cloned");
	err = userns_write_maps(pid, &map);
	if (err < 0) {
		log_err("cannot write the uid/gid maps of the job's user namespace: %s",
			strerror(-err));
		goto fail;
	}
	if (send(job->sock, &msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg)) {
		err = negative_errno();
		log_err("the job's init died during setup");
		goto fail;
	}
	err = epoll_watch(job->epfd, job->sock, JOB_EVENT_REAPER);
	if (err < 0)
		goto fail;
	err = await_ready(job);
	if (err < 0)
		goto fail;
	log_phase("job namespaces ready");

	/* 5. the relay, with the sockets made in the job's netns */
	if (job->has_net) {
		err = start_relay(job);
		log_phase("relay");
		if (err < 0)
			goto fail;
	}
	err = keeper_started(job);
	if (err < 0)
		goto fail;
	err = record_state(job);
	if (err < 0) {
		log_err("cannot write the job's state file: %s", strerror(-err));
		goto fail;
	}

	/* 6. the workload, watched by the notifier */
	msg.type = REAPER_MSG_GO;
	if (send(job->sock, &msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg)) {
		err = negative_errno();
		log_err("the job's init died during setup");
		goto fail;
	}
	err = await_started(job);
	log_phase("workload started");
	if (err == 0 && !job->ended)
		err = start_notifier(job);
	log_phase("notifier");
	if (err < 0)
		goto fail;
	audit_job_start(job, cfg);
	log_phase("audit start");
	err = ctl_server_start(&job->ctl, job->epfd, JOB_EVENT_CTL_LISTEN,
			       JOB_EVENT_CTL_RETRY);
	if (err < 0)
		log_warn("cannot serve the control socket: %s", strerror(-err));
	job->ctl_started = true;

	link_host_inventory_free(&inv);
	fsview_plan_free(&fs);
	*ret = job;
	return 0;

fail:
	link_host_inventory_free(&inv);
	fsview_plan_free(&fs);
	job_teardown(job);
	job_policy_free(&job->pol);
	free(job->seccomp.filter);
	free(job);
	return err;
}

/**
 * nbj_job_id() - the job's identifier (8 hex digits)
 * @job:	job
 *
 * Return: the id, valid as long as @job
 */
const char *nbj_job_id(const struct nbj_job *job)
{
	return job->state.id;
}

/**
 * nbj_job_pid() - pid of the job's init (reaper), as seen by the caller
 * @job:	job
 *
 * Return: the pid, 0 once it was reaped
 */
pid_t nbj_job_pid(const struct nbj_job *job)
{
	return job->reaper_pid;
}

/**
 * nbj_job_fd() - an fd that becomes readable when nbj_job_dispatch() has
 * work to do
 * @job:	job
 *
 * Return: the fd (owned by the job)
 */
int nbj_job_fd(const struct nbj_job *job)
{
	return job->epfd;
}

static void job_ended_without_report(struct nbj_job *job)
{
	siginfo_t si = { 0 };

	job->ended = true;
	job->exit.kind = NBJ_KILLED;
	job->exit.code = SIGKILL;
	if (job->reaper_pidfd >= 0 &&
	    waitid(P_PIDFD, (id_t)job->reaper_pidfd, &si, WEXITED) == 0 &&
	    si.si_code != CLD_EXITED)
		job->exit.code = si.si_status;
	closep(&job->reaper_pidfd);
	job->reaper_pidfd = -1;
	job->reaper_pid = 0;
}

static void handle_reaper(struct nbj_job *job)
{
	struct reaper_msg m;
	ssize_t n;

	n = recv(job->sock, &m, sizeof(m), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != sizeof(m) || m.type != REAPER_MSG_EXITED) {
		job_ended_without_report(job);
		return;
	}
	job->ended = true;
	if (WIFSIGNALED(m.value)) {
		job->exit.kind = NBJ_KILLED;
		job->exit.code = WTERMSIG(m.value);
	} else {
		job->exit.kind = NBJ_EXITED;
		job->exit.code = WEXITSTATUS(m.value);
	}
	/* the reaper exits right after its report, and with it the rest of
	 * the PID namespace: teardown waits for that, the status is known */
	log_phase("workload exit reported");
}

static void handle_relay(struct nbj_job *job)
{
	siginfo_t si = { 0 };
	struct audit_event ev;

	(void)waitid(P_PIDFD, (id_t)job->relay_pidfd, &si, WEXITED | WNOHANG);

	log_err("relay of job %s died (%s %d): the job has no network now",
		job->state.id, si.si_code == CLD_EXITED ? "status" : "signal",
		si.si_status);
	audit_event_init(&ev, AUDIT_RELAY_FAILURE, LANE_JOB);
	ev.pid = job->relay_pid;
	snprintf(ev.detail, sizeof(ev.detail), "relay died (%s %d): the job has no "
		 "network now", si.si_code == CLD_EXITED ? "status" : "signal",
		 si.si_status);
	EVENT_SET(&ev, reason, "relay-died");
	(void)audit_send(&job->audit, &ev);
	(void)epoll_ctl(job->epfd, EPOLL_CTL_DEL, job->relay_pidfd, NULL);
	closep(&job->relay_pidfd);
	job->relay_pidfd = -1;
	job->relay_pid = 0;
}

static void handle_notify(struct nbj_job *job)
{
	/* once no process uses the filter, the fd only reports POLLHUP */
	if (notifier_dispatch(job->notifier) == 1)
		(void)epoll_ctl(job->epfd, EPOLL_CTL_DEL,
				notifier_fd(job->notifier), NULL);
}

/**
 * nbj_job_dispatch() - handle what made nbj_job_fd() readable
 * @job:	job
 *
 * Never blocks.
 *
 * Return: 1 when the job has ended, 0 when it still runs
 */
int nbj_job_dispatch(struct nbj_job *job)
{
	struct epoll_event ev[4];
	int n;

	if (job->ended)
		return 1;
	n = epoll_wait(job->epfd, ev, ARRAY_SIZE(ev), 0);
	for (int i = 0; i < n && !job->ended; i++) {
		if (ev[i].data.u32 == JOB_EVENT_REAPER)
			handle_reaper(job);
		else if (ev[i].data.u32 == JOB_EVENT_RELAY)
			handle_relay(job);
		else if (ev[i].data.u32 == JOB_EVENT_NOTIFY)
			handle_notify(job);
		else if (ev[i].data.u32 == JOB_EVENT_CTL_LISTEN)
			ctl_server_accept(&job->ctl);
		else if (ev[i].data.u32 == JOB_EVENT_CTL_RETRY)
			ctl_server_retry(&job->ctl);
	}
	return job->ended;
}

/**
 * nbj_job_kill() - send a signal to the workload (through its init)
 * @job:	job
 * @sig:	signal; SIGKILL ends the whole job at once
 *
 * Return: 0, -ESRCH if the job has ended, or negative errno
 */
int nbj_job_kill(struct nbj_job *job, int sig)
{
	if (job->ended || job->reaper_pidfd < 0)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, job->reaper_pidfd, sig, NULL, 0) < 0)
		return negative_errno();
	return 0;
}

static int job_wait_ended(struct nbj_job *job)
{
	while (!job->ended) {
		struct pollfd pfd = { .fd = job->epfd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return negative_errno();
		nbj_job_dispatch(job);
	}
	return 0;
}

/**
 * nbj_job_wait() - wait for the job to end, then remove every trace of it
 * @job:	job
 * @ret:	how it ended
 *
 * Return: 0, or negative errno
 */
int nbj_job_wait(struct nbj_job *job, struct nbj_exit *ret)
{
	int err = job_wait_ended(job);

	if (err < 0)
		return err;
	job_teardown(job);
	*ret = job->exit;
	return 0;
}

/**
 * nbj_job_wait_detached() - wait for the job to end, report how, and
 * leave the slow part of the cleanup to a detached child
 * @job:	job
 * @ret:	how it ended
 *
 * For a caller that exits right after (nbjail(1)): the job's audit trail
 * is written before this returns; the job's keeper process (comm
 * "nbjail-cleanup" from here on, its own session, stdio on /dev/null)
 * waits for the job's processes and its netns to be gone and removes its
 * nft chain and state, while the caller goes on.  The keeper holds the
 * job's locks; if it is killed, nbjail gc removes what is left.  Without
 * a keeper everything is done here as by nbj_job_wait().  Call
 * nbj_job_free() afterwards as usual.
 *
 * Return: 0, or negative errno
 */
int nbj_job_wait_detached(struct nbj_job *job, struct nbj_exit *ret)
{
	int err = job_wait_ended(job);

	if (err < 0)
		return err;
	*ret = job->exit;
	job_stop(job);
	job_close(job);
	job_audit_send_end(job);
	if (job_hand_over(job, true) < 0)
		job_teardown(job);
	return 0;
}

/**
 * nbj_job_free() - kill what is left of a job, remove its traces, free it
 * @job:	job, may be NULL
 */
void nbj_job_free(struct nbj_job *job)
{
	if (!job)
		return;
	job_teardown(job);
	job_policy_free(&job->pol);
	free(job->seccomp.filter);
	free(job);
}

/**
 * nbj_exit_status() - the exit status nbjail(1) uses for an outcome
 * @e:	outcome
 *
 * Return: the workload's status; 128+N for signal N; 127 when the
 * command was not found, 126 when it could not be executed, 125 when
 * setup failed
 */
int nbj_exit_status(const struct nbj_exit *e)
{
	switch (e->kind) {
	case NBJ_EXITED:
		return e->code;
	case NBJ_KILLED:
		return 128 + e->code;
	case NBJ_EXEC_FAILED:
		return e->code == ENOENT ? NBJ_EXIT_NOT_FOUND : NBJ_EXIT_CANNOT_EXEC;
	case NBJ_SETUP_FAILED:
	default:
		return NBJ_EXIT_SETUP;
	}
}
