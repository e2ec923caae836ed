/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/keeper.c - a job's teardown, and the keeper that finishes it
 *
 * Theory of operation: the keeper is the first process of a job, forked
 * before anything else; it forks the audit writer.  The
 * supervisor stops the job (job_stop(): leaves nbjail ctl's list, kills
 * the job's init and the relay), sends the job-end event, and hands the
 * slow rest to the keeper (job_hand_over(): pidfds and the job's lock by
 * SCM_RIGHTS); the keeper waits until the job's processes are gone,
 * removes the job's cgroups (common/cgroup.c), lets the audit writer
 * finish and removes the state (job_release()).  Besides its cgroups, a
 * job owns nothing in the kernel outside its namespaces.
 * Without a keeper, job_teardown() does all of it itself.
 */
#include "supervisor/job_int.h"

void kill_and_reap(int *pidfd, pid_t *pid)
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

/* Tell the audit writer the job has ended and shut our end of its
 * socket for writing: it writes what is queued, then closes its end
 * (which job_hand_over() waits for) and exits */
void job_audit_send_end(struct nbj_job *job)
{
	struct audit_event ev;

	if (job->audit.fd >= 0 && job->start_audited) {
		audit_event_init(&ev, AUDIT_JOB_END, LANE_JOB);
		ev.pid = job->reaper_pid;
		if (job->attached && job->ended)
			EVENT_SET(&ev, detail, "container ended");
		else if (job->ended)
			exit_describe(&job->exit, ev.detail, sizeof(ev.detail));
		else
			EVENT_SET(&ev, detail, "torn down by nbjail");
		(void)audit_send(&job->audit, &ev);
	}
	/* the relay shares this socket: shut down, the writer reads what is
	 * queued and then EOF, without waiting for the relay to exit; we
	 * keep our end to see the writer hang up once it has written all */
	if (job->audit.fd >= 0 && shutdown(job->audit.fd, SHUT_WR) == 0 &&
	    job->audit_drained < 0)
		job->audit_drained = TAKE_FD(job->audit.fd);
	closep(&job->audit.fd);
	job->audit.fd = -1;
}

/* Wait (bounded) until the audit writer has written the job's last
 * events: it closes its end of the socket then (relay/auditd.c), or it
 * has died; either way our end hangs up (nothing is ever sent our way,
 * so readable means that too).  Without that end, wait for its exit. */
static void job_audit_wait_drained(struct nbj_job *job)
{
	struct pollfd pfd = { .fd = job->audit_drained, .events = POLLIN };

	if (job->audit_drained < 0) {
		(void)pidfd_wait_gone(job->auditd_pidfd, AUDITD_FLUSH_TIMEOUT_MS);
		return;
	}
	while (poll(&pfd, 1, AUDITD_FLUSH_TIMEOUT_MS) < 0 && errno == EINTR)
		;
	closep(&job->audit_drained);
	job->audit_drained = -1;
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
void job_stop(struct nbj_job *job)
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
	/* the key holder zeroes its keys on SIGTERM (keys/main.c) */
	if (job->keys_pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, job->keys_pidfd, SIGTERM, NULL, 0);
}

/*
 * Second half: with every process of the job gone, the state.  The job
 * had nothing else: its namespaces went with its last process.
 */
static void job_release(struct nbj_job *job)
{
	job_ids_release(&job->ids);
	if (job->state_created) {
		state_job_remove(&job->state);
		job->state_created = false;
	}
	log_phase("teardown: state");
}

void job_close(struct nbj_job *job)
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
	closep(&job->relay_job_fds);
	job->relay_job_fds = -1;
	closep(&job->keys_memfd);
	job->keys_memfd = -1;
	closep(&job->keys_fd);
	job->keys_fd = -1;
	notifier_free(job->notifier);
	job->notifier = NULL;
	closep(&job->revoke_watch);
	job->revoke_watch = -1;
}

/* Wait (bounded) until a process, not necessarily our child, has ended:
 * a pidfd polls readable once it is a zombie.  For the job's init that
 * is after the kernel has killed and reaped the rest of its PID
 * namespace.  Return: true once it has ended */
bool pidfd_wait_gone(int pidfd, int timeout_ms)
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
enum { HAND_REAPER, HAND_RELAY, HAND_JOB_LOCK, HAND_SELECTION, HAND_KEYS, HAND_FDS };

/**
 * struct keeper_handover - what the supervisor tells the keeper at the end
 * @detach:	the supervisor exits at once: own session, stdio on /dev/null
 * @fd_mask:	which HAND_* fds are attached (SCM_RIGHTS, in that order)
 * @state:	the job's state (fds replaced by the attached ones)
 * @cgroup:	its cgroups: limits, overlay selection (root fd likewise)
 * @state_created: the job's directory exists
 */
struct keeper_handover {
	bool detach;
	unsigned fd_mask;
	struct job_state state;
	struct job_cgroup cgroup;
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
	job->cgroup = h.cgroup;
	job->cgroup.root = fds[HAND_SELECTION];
	job->reaper_pidfd = fds[HAND_REAPER];
	job->relay_pidfd = fds[HAND_RELAY];
	job->keys_pidfd = fds[HAND_KEYS];
	job->state_created = h.state_created;
	(void)prctl(PR_SET_NAME, role_name(ROLE_KEEPER));
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
	    !pidfd_wait_gone(job->relay_pidfd, DETACHED_WAIT_MS) ||
	    !pidfd_wait_gone(job->keys_pidfd, DETACHED_WAIT_MS)) {
		keeper_audit_finish(job);
		_exit(1); /* the job's processes live on: nbjail gc */
	}
	log_phase("teardown: processes gone");
	job_cgroup_remove(&job->cgroup);
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
 * The audit writer, forked by the keeper as soon as the keeper runs: it
 * loads libsystemd (auditd_preload()) while the job's namespaces are
 * built, then waits for its ids from the keeper on @ids_sock (the
 * keeper's end closed: the keeper died, or the job failed first), takes
 * them and runs.
 */
_Noreturn static void writer_main(struct nbj_job *job, struct auditd_config *ac, int ids_sock,
				  pid_t keeper)
{
	struct job_ids ids;
	sigset_t none;
	size_t n;
	int err, claim = -1;

	log_phase("audit writer: forked");
	auditd_preload(ac);
	log_phase("audit writer: preloaded");
	if (fd_recv(ids_sock, &ids, sizeof(ids), 0, &claim, 1, &n) != sizeof(ids))
		_exit(1);
	job->ids = ids;
	job->ids.claim = claim;
	/* the writer keeps the statistics (ring, counters), not the
	 * tenant's file: one process fewer that can write it */
	if (job->tenant.state)
		munmap(job->tenant.state, sizeof(*job->tenant.state));
	int wkeep[] = { ac->fd, ac->log_fd, job->ids.claim };

	err = role_enter(ROLE_AUDIT_WRITER, job->ids.audit, wkeep, ARRAY_SIZE(wkeep), keeper);
	if (err < 0) {
		log_err("audit writer: cannot become its user: %s", strerror(-err));
		_exit(1);
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	err = auditd_run(ac);
	log_err("audit writer failed: %s", strerror(-err));
	_exit(1);
}

/*
 * The keeper: forked before the job's init, so that it and the audit
 * writer it forks at once start while the job's namespaces are built
 * and the per-job ids are claimed.  It waits for the ids
 * (keeper_send_ids(): the ids and the claim's fd), passes them on to the
 * writer (which, a child of the keeper, outlives the supervisor and dies
 * with the keeper), reports whether that worked, and then waits for the
 * handover.  Until then it holds no lock of the job.  Without the ids
 * (the job failed before, or the supervisor died) it exits, and the
 * writer with it: the supervisor, or gc, removes the job without them.
 */
_Noreturn void keeper_main(struct nbj_job *job, struct auditd_config *ac, int sock)
{
	int keep[] = { sock, ac->fd, ac->log_fd, job->tenant.fd, 2 };
	pid_t pid, keeper = getpid();
	struct job_ids ids;
	int err, claim, wv[2];
	sigset_t all;
	size_t n;

	log_phase("keeper: forked");
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	fds_close_all_except(keep, ARRAY_SIZE(keep));
	job->state.job_lock = -1;
	err = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, wv) < 0 ? negative_errno() : 0;
	pid = err ? -1 : clone_pidfd(0, &job->auditd_pidfd);
	if (pid == 0) {
		close(sock);
		close(wv[0]);
		writer_main(job, ac, wv[1], keeper);
	}
	if (!err && pid < 0)
		err = negative_errno();
	job->auditd_pid = pid;
	if (!err)
		close(wv[1]);
	closep(&ac->fd);
	closep(&ac->log_fd);
	if (fd_recv(sock, &ids, sizeof(ids), 0, &claim, 1, &n) != sizeof(ids))
		_exit(1);	/* and the writer with us */
	job->ids = ids;
	job->ids.claim = claim;
	if (!err && fd_send(wv[0], &ids, sizeof(ids), &claim, claim >= 0 ? 1 : 0) < 0)
		err = -ECHILD;
	if (!err)
		close(wv[0]);
	if (err < 0) {
		(void)send(sock, &err, sizeof(err), MSG_NOSIGNAL);
		_exit(1);
	}
	if (fd_send(sock, &err, sizeof(err), &job->auditd_pidfd, 1) < 0)
		_exit(1);
	log_phase("keeper: writer forked");
	keeper_release(job, sock);
}

/**
 * keeper_send_ids() - give the keeper the job's per-job ids and the
 * claim's fd, so that it forks the audit writer with them
 * @job:	the job, its ids claimed (job_ids_claim())
 *
 * Return: 0, or negative errno (the keeper is gone; logged)
 */
int keeper_send_ids(struct nbj_job *job)
{
	int err = fd_send(job->keeper, &job->ids, sizeof(job->ids), &job->ids.claim,
			  job->ids.claim >= 0 ? 1 : 0);

	if (err < 0) {
		log_err("cannot start the audit writer: %s", strerror(-err));
		return err;
	}
	job->keeper_has_ids = true;
	return 0;
}

/*
 * Hand the rest of the teardown to the keeper (after job_stop() and the
 * job-end event), then give up our copies of what it took.  With
 * @detach it finishes after we have exited; otherwise this waits for it.
 * Return: 0, or negative errno when there is no keeper to take it
 */
int job_hand_over(struct nbj_job *job, bool detach)
{
	struct keeper_handover h = {
		.detach = detach,
		.state = job->state,
		.cgroup = job->cgroup,
		.state_created = job->state_created,
	};
	int all[HAND_FDS] = {
		[HAND_REAPER] = job->reaper_pidfd,
		[HAND_RELAY] = job->relay_pidfd,
		[HAND_JOB_LOCK] = job->state.job_lock,
		[HAND_SELECTION] = job->cgroup.ready ? job->cgroup.root : -1,
		[HAND_KEYS] = job->keys_pidfd,
	};
	int fds[HAND_FDS], n = 0, err;
	siginfo_t si;

	/* a keeper still waiting for the ids never forked the writer and
	 * holds nothing of the job: job_teardown() stops it, does the rest */
	if (job->keeper < 0 || !job->keeper_has_ids)
		return -ECHILD;
	/* a job refused before GO has not read the keeper's start report:
	 * read it now, or the keeper meets a reset socket and leaves the
	 * job's state behind (test_refused_setup_leaves_nothing) */
	if (job->auditd_pidfd < 0 && keeper_started(job) < 0)
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
		closep(&job->keys_pidfd);
		job->keys_pidfd = -1;
	}
	closep(&job->state.job_lock);
	job->state.job_lock = -1;
	job->state_created = false;
	/* the keeper holds the claim of the per-job ids (since its fork) */
	closep(&job->ids.claim);
	job->ids.claim = -1;
	/* the keeper removes the job's cgroups; ours is a copy */
	if (job->cgroup.ready)
		closep(&job->cgroup.root);
	memset(&job->cgroup, 0, sizeof(job->cgroup));
	job->cgroup.root = -1;
	job_audit_forget(job);
	closep(&job->keeper);
	job->keeper = -1;
	/* whoever reads the audit trail once we return finds all of it:
	 * the writer hangs up when it has written the job's last events */
	job_audit_wait_drained(job);
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
		kill_and_reap(&job->keys_pidfd, &job->keys_pid);
	}
	closep(&job->keeper_pidfd);
	job->keeper_pidfd = -1;
	job->keeper_pid = 0;
	return 0;
}

/* The reverse of nbj_job_start(), from any partial state, all of it
 * before returning: by the keeper if there is one, else here. */
void job_teardown(struct nbj_job *job)
{
	job_stop(job);
	job_close(job);
	job_audit_send_end(job);
	if (job_hand_over(job, false) == 0)
		return;
	/* no keeper (it failed or was never started): no audit writer */
	closep(&job->audit_drained);
	job->audit_drained = -1;
	closep(&job->auditd_pidfd);
	job->auditd_pidfd = -1;
	kill_and_reap(&job->keeper_pidfd, &job->keeper_pid);
	closep(&job->keeper);
	job->keeper = -1;
	kill_and_reap(&job->reaper_pidfd, &job->reaper_pid);
	log_phase("teardown: reaper reaped");
	kill_and_reap(&job->relay_pidfd, &job->relay_pid);
	log_phase("teardown: relay reaped");
	/* SIGTERM was sent (job_stop()): a moment to zero its keys */
	(void)pidfd_wait_gone(job->keys_pidfd, 1000);
	kill_and_reap(&job->keys_pidfd, &job->keys_pid);
	job_cgroup_remove(&job->cgroup); /* the job's processes are gone */
	tenant_detach(&job->tenant);
	job->audit.tenant = NULL;
	stats_unmap(job->stats);
	job->stats = job->audit.stats = NULL;
	job_release(job);
}
