/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/job.c - nbj_job_*: start, watch, signal and tear down a job
 *
 * Theory of operation, the order of nbj_job_start() (as nsjail's
 * containProc() reads, one step after the other):
 *
 *   1. who the job is: its credentials and its user namespace's maps
 *      (netns/userns.c); what the caller cannot have fails here, before
 *      anything exists (--user, low published ports without root); the
 *      policy's secrets are read into the key holder's handoff
 *      (secrets.c)
 *   2. state: DIR/<id> with its lock (state.c)
 *   3. the job's copy of its policy (jobpolicy.c), the job's cgroup with
 *      its limits and for overlay selection (common/cgroup.c: limits
 *      that cannot be enforced fail here); the statistics and the
 *      keeper (auditstart.c), which forks the audit writer at once: the
 *      writer loads libsystemd while the next steps run
 *   4. clone3() the job's init (reaper.c) into new user, network, mount,
 *      PID, UTS and IPC namespaces, forwarded signals blocked, and with
 *      limits into the job's cgroup v2 and a cgroup namespace rooted
 *      there (or, cgroup v1, moved into the job's cgroups before MAPPED,
 *      which it waits for before anything); write its uid/gid maps;
 *      MAPPED; it builds its mounts and its network (lo
 *      only, the relay's sockets made inside, the nft ruleset; with a
 *      dock, net and browse, its listener in the job's /run and the
 *      nbjail-dock command shown read-only), sends the master of the
 *      job's pty if it has one, and reports READY with those sockets
 *      (the value names which).  Meanwhile, on the other CPU as it
 *      were, the supervisor claims the per-job ids of the relay and
 *      the audit writer (jobuids.c: user database look-ups, remembered)
 *      and hands them to the keeper, which passes them on to the audit
 *      writer it forked at once, reads
 *      the workload's seccomp program (from the cache, or compiles it:
 *      seccomp/filter.c) and the host's addresses for the floor: none
 *      of it is needed before READY, and a failure tears the job down
 *      before the workload exists
 *   5. the key holder, if there are secrets (keysstart.c), then the
 *      relay is exec'd with them (relaystart.c), both before READY; at
 *      READY the relay gets the job's sockets (relay_send_job_fds());
 *      the state file records pids and start times for nbjail gc
 *   6. GO, then the seccomp program: the init execs the workload
 *      (meanwhile we open the control socket); we return when it reports
 *      STARTED (or that exec failed, which nbj_job_wait() then reports)
 *      and the notifier watches the job's socket calls
 *
 * Nothing is created outside the job's namespaces but its state, its
 * cgroups and its helper processes: no link, no host nftables, no
 * address to claim.
 *
 * While the job runs, nbj_job_fd() is an epoll fd watching the reaper's
 * socket, the relay's pidfd, the notifier and the control socket.
 * Teardown (keeper.c) is the reverse and works from any partial state;
 * its slow part is the keeper's, a process forked first that outlives
 * nbjail run (see keeper.c).  If the supervisor itself is killed, the
 * reaper and relay die with it (PDEATHSIG) and nbj_gc() removes the
 * state.
 */
#include <sys/inotify.h>
#include "supervisor/job_int.h"

pid_t clone_pidfd(unsigned long long flags, int *ret_pidfd)
{
	struct clone_args args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
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

int epoll_watch(int epfd, int fd, enum job_event ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = ev };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? negative_errno() : 0;
}

/**
 * job_alloc() - a job with nothing yet (every fd -1), for nbj_job_start()
 * and oci_job_attach() (ocijob.c)
 *
 * Return: the job (free with nbj_job_free()), or NULL without memory
 */
struct nbj_job *job_alloc(void)
{
	struct nbj_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->reaper_pidfd = job->relay_pidfd = job->sock = job->epfd = -1;
	job->listener = job->terminal = job->auditd_pidfd = job->audit.fd = -1;
	job->audit_drained = -1;
	job->keeper_pidfd = job->keeper = -1;
	job->keys_memfd = job->keys_fd = job->keys_pidfd = -1;
	job->revoke_watch = job->relay_job_fds = -1;
	job->cgroup.root = -1;
	job->tenant.fd = job->tenant.slot = job->audit.tenant_slot = -1;
	job->state.job_lock = job->ids.claim = -1;
	for (int i = 0; i < RELAY_FDS; i++)
		job->relay_fds[i] = -1;
	return job;
}

/**
 * job_record_state() - write the state file: the pids and start times
 * nbjail gc checks
 * @job:	the job, its init and relay started
 *
 * Return: 0, or negative errno
 */
int job_record_state(const struct nbj_job *job)
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

/* The master of the job's pty, allocated from the job's devpts by the
 * reaper, when the job has a terminal (supervisor/pty.c) */
static int await_terminal(struct nbj_job *job)
{
	struct reaper_msg m;
	size_t n = 0;
	int err = reaper_report(job, &m, &job->terminal, 1, &n);

	if (err < 0)
		return err;
	if (m.type != REAPER_MSG_TERMINAL || n != 1) {
		closep(&job->terminal);
		job->terminal = -1;
		log_err("unexpected message %u with %zu fds from the job's init", m.type, n);
		return -EPROTO;
	}
	return 0;
}

/* The reaper has set the job's namespaces up: the relay's sockets */
static int await_ready(struct nbj_job *job)
{
	unsigned want = 0;
	int got[RELAY_FDS], err;
	struct reaper_msg m;
	size_t n = 0, k = 0;

	if (job->has_net)
		want |= 1u << RELAY_FD_TCP4 | 1u << RELAY_FD_TCP6 | 1u << RELAY_FD_DNS4 |
			1u << RELAY_FD_DNS6;
	if (job->has_net && job->pol.policy.n_publish)
		want |= 1u << RELAY_FD_FACTORY;
	if (job->has_dock)
		want |= 1u << RELAY_FD_DOCK | 1u << RELAY_FD_DOCK_DESK;
	for (int i = 0; i < RELAY_FDS; i++)
		got[i] = -1;
	err = reaper_report(job, &m, got, RELAY_FDS, &n);
	if (err < 0)
		return err;
	if (m.type != REAPER_MSG_READY || (unsigned)m.value != want ||
	    n != (size_t)__builtin_popcount(want)) {
		log_err("unexpected message %u with %zu fds from the job's init", m.type, n);
		for (size_t i = 0; i < n; i++)
			closep(&got[i]);
		return -EPROTO;
	}
	/* the present ones came in RELAY_FD_* order */
	for (int i = 0; i < RELAY_FDS; i++)
		if (want & 1u << i)
			job->relay_fds[i] = got[k++];
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

static int watch_revocation(struct nbj_job *job);

/**
 * job_start_notifier() - hand the job's seccomp listener to a notifier
 * that judges with the job's policy, watched by the job's epoll
 * @job:	the job; its listener (job->listener) is taken
 *
 * Also an OCI container's listener, from the seccomp agent (ocijob.c).
 *
 * Return: 0, or negative errno (logged)
 */
int job_start_notifier(struct nbj_job *job)
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
		.selection = job->selectable ? &job->cgroup : NULL,
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
	err = epoll_watch(job->epfd, notifier_fd(job->notifier), JOB_EVENT_NOTIFY);
	return err < 0 ? err : watch_revocation(job);
}

/*
 * Revocation reaches the notifier from the job's directory: `nbjail ctl
 * revoke` (whichever nbjail serves ctl.sock) creates the file "revoked"
 * there, a directory only nbjail writes; the word in the statistics,
 * which the relay can write, is not what the notifier trusts
 * (notifier_revoke() latches it for good).
 */
static int watch_revocation(struct nbj_job *job)
{
	char path[NBJ_PATH_MAX];
	int err = runtime_path(path, "%s", job->state.id);

	if (err < 0)
		return err;
	job->revoke_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (job->revoke_watch < 0 ||
	    inotify_add_watch(job->revoke_watch, path, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
		err = negative_errno();
		log_err("cannot watch %s for revocation: %s", path, strerror(-err));
		return err;
	}
	err = epoll_watch(job->epfd, job->revoke_watch, JOB_EVENT_REVOKE);
	if (err < 0)
		return err;
	/* revoked before the watch existed */
	if (runtime_path(path, "%s/revoked", job->state.id) == 0 && access(path, F_OK) == 0)
		notifier_revoke(job->notifier);
	return 0;
}

static void handle_revocation(struct nbj_job *job)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(job->revoke_watch, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			if (e->len && !strcmp(e->name, "revoked") && job->notifier)
				notifier_revoke(job->notifier);
			p += sizeof(*e) + e->len;
		}
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

/*
 * The job's cgroup (common/cgroup.c): with limits, enforced or the job
 * does not start; for overlay selection, which is refused without it.
 */
static int job_cgroups(struct nbj_job *job, const struct nbj_config *cfg)
{
	const struct nbj_limits *l = &cfg->limits;
	bool select = cfg->select_allowed && job->has_net;
	char why[768];
	int err;

	err = job_cgroup_create(&job->cgroup, job->state.id, l, select, why, sizeof(why));
	if (err < 0 && (l->pids || l->memory)) {
		log_err("limits: %s%s%s cannot be enforced: %s", l->pids ? "pids" : "",
			l->pids && l->memory ? " and " : "", l->memory ? "memory" : "",
			why[0] ? why : strerror(-err));
		return -EOPNOTSUPP;
	}
	if (err < 0 && select)
		log_warn("permissions: network.select: %s; nbjail-select will be "
			 "refused in this job", err == -EOPNOTSUPP ?
			 "this host has no cgroup v2" :
			 err == -EACCES || err == -EPERM ?
			 "no cgroup delegated to this user" : strerror(-err));
	job->selectable = select && job->cgroup.ready;
	if (l->pids || l->memory) {
		char where[PATH_MAX * 2 + 64];

		(void)job_cgroup_describe(&job->cgroup, where, sizeof(where));
		log_debug("limits: pids %llu, memory %llu bytes in %s",
			  (unsigned long long)l->pids, (unsigned long long)l->memory, where);
	}
	return 0;
}

/*
 * clone3() the job's init into its namespaces (see the theory above);
 * with limits in cgroup v2, atomically into the job's cgroup, and with
 * any limits into a cgroup namespace of its own (rooted at that cgroup
 * for v2), so the job sees no cgroup above its own
 */
static pid_t clone_job_init(struct nbj_job *job, int *ret_pidfd)
{
	_cleanup_close_ int cgroup = job_cgroup_clone_fd(&job->cgroup);
	struct clone_args args = {
		.flags = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID |
			 CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};

	if (cgroup >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup;
	} else if (cgroup != -ENOENT) {
		errno = -cgroup;
		return -1;
	}
	if (job->cgroup.v2_limits || job->cgroup.v1_mask)
		args.flags |= CLONE_NEWCGROUP;
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
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
		/* port 0: published on i2p, which listens on no host port */
		if (cfg->publish[i].port && cfg->publish[i].port < start) {
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
	job = job_alloc();
	if (!job)
		return -ENOMEM;

	/* 1. who the job is, and what the kernel must allow: before anything */
	err = job_identity(cfg, &creds, &map);
	if (!err)
		err = check_publish_ports(cfg);
	if (!err)
		err = secrets_load(cfg, getpid(), &job->creds, &job->keys_memfd);
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
	job->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (job->epfd < 0) {
		err = negative_errno();
		goto fail;
	}

	/* 3. the policy the notifier and the relay judge with (the host's
	 * addresses for its floor are added while the job's init works) */
	job->has_net = cfg->profile == NBJ_PROFILE_NET;
	job->has_dock = cfg->profile == NBJ_PROFILE_NET || cfg->profile == NBJ_PROFILE_BROWSE;
	if (job->has_dock) {
		/* the command on the job's PATH: browse has no other way
		 * out, a net job keeps its socket (and the C client) */
		err = dock_program_find(job->dock_program, sizeof(job->dock_program));
		if (err == -ENOENT)
			log_msg(cfg->profile == NBJ_PROFILE_BROWSE ? LOG_LEVEL_ERR : LOG_LEVEL_WARN,
				"cannot find the nbjail-dock program (beside nbjail, or %s)%s",
				NBJ_DOCK_PROGRAM, cfg->profile == NBJ_PROFILE_BROWSE ? "" :
				": the job's dock has no command");
		if (err < 0 && cfg->profile == NBJ_PROFILE_BROWSE)
			goto fail;
		mp.dock_program = err < 0 ? NULL : job->dock_program;
		err = 0;
	}
	job_net_default(&job->net);
	if (job->has_net) {
		inet_ntop(AF_INET, &job->net.nameserver4, nameserver, sizeof(nameserver));
		mp.nameserver = nameserver;
	}
	err = job_policy_copy(&job->pol, cfg, &inv);
	/* the dock's tls op trusts these; without, the system's, which the
	 * relay reads itself at its first TLS call (relay/tls_upstream.c) */
	if (!err && job->has_dock && cfg->tls_roots)
		err = tls_roots_read(cfg->tls_roots, &job->pol.tls_roots,
				     &job->pol.tls_roots_len);
	if (err < 0)
		goto fail;
	for (size_t i = 0; i < job->pol.policy.n_credentials; i++)	/* for the relay */
		memcpy(job->pol.credentials[i].standin, job->creds.standin[i],
		       sizeof(job->creds.standin[i]));
	/* after job_policy_copy(): an i2p key_file exists by now */
	err = fsview_check_owner(cfg, &creds);
	if (!err)
		err = fsview_plan(cfg, &fs);
	if (err < 0)
		goto fail;
	mp.fs = &fs;
	err = job_cgroups(job, cfg);
	if (err < 0)
		goto fail;
	log_phase("policy");
	err = environ_build(cfg, environ, &envp);
	if (!err)
		err = creds_environ(cfg, &job->creds, &envp);
	mp.ca_bundle = job->creds.bundle;
	if (err < 0) {
		log_err("cannot build the job's environment: %s", strerror(-err));
		goto fail;
	}

	/* the statistics, the keeper and the audit writer, first: the
	 * writer loads libsystemd while the job's namespaces are built */
	err = start_audit(job, cfg);
	if (err < 0)
		goto fail;
	log_phase("keeper");

	/* 4. the job's init, in new namespaces, its user namespace mapped */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = negative_errno();
		goto fail;
	}
	rp = (struct reaper_params){
		.sock = sv[1],
		.argv = cfg->argv,
		.creds = &creds,
		.mounts = &mp,
		.net = job->has_net ? &job->net : NULL,
		.socket_factory = job->has_net && job->pol.policy.n_publish,
		.dock = job->has_dock,
		.n_select_overlays = !job->selectable ? 0 :
				     job->pol.policy.n_overlays ? job->pol.policy.n_overlays : 1,
		.terminal_fd = -1,	/* the caller's terminal never reaches the job */
		.terminal_stdio = cfg->terminal_stdio,
		.envp = envp,
	};
	/* the job's own pty starts as the caller's terminal is */
	if (cfg->terminal_stdio && tcgetattr(cfg->terminal_fd, &rp.terminal_modes) < 0) {
		err = negative_errno();
		log_err("cannot read the terminal's modes: %s", strerror(-err));
		goto fail;
	}
	if (cfg->terminal_stdio)
		(void)ioctl(cfg->terminal_fd, TIOCGWINSZ, &rp.terminal_size);
	sigset_forwarded(&block);
	(void)sigprocmask(SIG_BLOCK, &block, &saved);
	pid = clone_job_init(job, &job->reaper_pidfd);
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
	err = job_cgroup_attach(&job->cgroup, pid);
	if (err < 0) {
		log_err("limits: cannot move the job's init into its cgroup: %s",
			strerror(-err));
		goto fail;
	}
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
	log_phase("maps written");
	err = epoll_watch(job->epfd, job->sock, JOB_EVENT_REAPER);
	if (err < 0)
		goto fail;

	/* while the job's init builds its mounts and network: the ids of
	 * the relay and the audit writer (the keeper passes them on to the
	 * writer), and the host's addresses for the floor.  All of it
	 * before the relay and the workload exist; a failure tears the job
	 * down */
	err = job_ids_claim(&job->ids);
	if (err < 0) {
		log_err("cannot claim the ids of the job's relay and audit writer: %s",
			strerror(-err));
		goto fail;
	}
	err = keeper_send_ids(job);
	if (err < 0)
		goto fail;
	log_phase("ids claimed");
	/* the workload's filter: read from the cache, or compiled (some
	 * 2 ms, every time without root); sent to the init after GO */
	err = seccomp_filter_cached(nbj_runtime_dir(), &job->seccomp);
	if (err < 0) {
		log_err("cannot build the seccomp filter: %s", strerror(-err));
		goto fail;
	}
	log_phase("seccomp filter");
	if (job->has_net) {
		err = link_host_inventory(&inv);
		if (err < 0) {
			log_err("cannot read the host's addresses: %s", strerror(-err));
			goto fail;
		}
		free(job->pol.host_addrs);
		job->pol.host_addrs = TAKE_PTR(inv.addrs);
		job->pol.n_host_addrs = inv.n_addrs;
		log_phase("host addresses");
	}

	/* 5. the key holder and the relay, exec'd while the job's init still
	 * builds its namespaces; the relay's sockets made there (and the
	 * dock's listener) follow when the init reports READY */
	if (job->has_net || job->has_dock) {
		err = start_keyholder(job);
		if (!err)
			err = start_relay(job);
		log_phase("relay");
		if (err < 0)
			goto fail;
	}
	closep(&job->keys_memfd); /* without a relay, nothing signs */
	job->keys_memfd = -1;
	err = cfg->terminal_stdio ? await_terminal(job) : 0;
	if (err == 0)
		err = await_ready(job);
	if (err == 0 && (job->has_net || job->has_dock))
		err = relay_send_job_fds(job);
	if (err < 0)
		goto fail;
	log_phase("job namespaces ready");
	err = keeper_started(job);
	if (err < 0)
		goto fail;
	log_phase("keeper started");
	err = job_record_state(job);
	if (err < 0) {
		log_err("cannot write the job's state file: %s", strerror(-err));
		goto fail;
	}

	/* 6. the workload, watched by the notifier */
	msg.type = REAPER_MSG_GO;
	if (send(job->sock, &msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg) ||
	    send(job->sock, job->seccomp.filter,
		 job->seccomp.len * sizeof(*job->seccomp.filter), MSG_NOSIGNAL) !=
	    (ssize_t)(job->seccomp.len * sizeof(*job->seccomp.filter))) {
		err = negative_errno();
		log_err("the job's init died during setup");
		goto fail;
	}
	/* while the workload starts: the control socket (nbjail ctl) */
	err = ctl_server_start(&job->ctl, job->epfd, JOB_EVENT_CTL_LISTEN,
			       JOB_EVENT_CTL_RETRY);
	if (err < 0)
		log_warn("cannot serve the control socket: %s", strerror(-err));
	job->ctl_started = true;
	err = await_started(job);
	if (err == -EAGAIN && cfg->limits.pids)
		log_err("limits: pids: %llu leaves no room to start the command (the job's "
			"init counts: at least 2)", (unsigned long long)cfg->limits.pids);
	log_phase("workload started");
	if (err == 0 && !job->ended)
		err = job_start_notifier(job);
	log_phase("notifier");
	if (err < 0)
		goto fail;
	audit_job_start(job, cfg);
	log_phase("audit start");
	link_host_inventory_free(&inv);
	fsview_plan_free(&fs);
	*ret = job;
	return 0;

fail:
	link_host_inventory_free(&inv);
	fsview_plan_free(&fs);
	job_teardown(job);
	closep(&job->terminal);
	job_policy_free(&job->pol);
	creds_free(&job->creds);
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

/**
 * nbj_job_take_terminal() - the master of the job's own pty, when the
 * config gave it a terminal (nbj_config_set_terminal())
 * @job:	job
 *
 * The caller relays it to its terminal (nbjail(1) does); the job's
 * processes see the slave as /dev/pts/N of their own devpts.
 *
 * Return: the fd (O_CLOEXEC, owned by the caller from now on), or
 * -ENOENT if there is none or it was taken
 */
int nbj_job_take_terminal(struct nbj_job *job)
{
	return job->terminal >= 0 ? TAKE_FD(job->terminal) : -ENOENT;
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
		else if (ev[i].data.u32 == JOB_EVENT_KEYS)
			keyholder_ended(job);
		else if (ev[i].data.u32 == JOB_EVENT_REVOKE)
			handle_revocation(job);
		else if (ev[i].data.u32 == JOB_EVENT_ATTACHED_GONE)
			job->ended = true; /* an OCI container's init (ocijob.c) */
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
	closep(&job->terminal);
	job_policy_free(&job->pol);
	creds_free(&job->creds);
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
