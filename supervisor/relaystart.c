/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/relaystart.c - the job's relay process
 *
 * Theory of operation: the relay's job-side sockets (TCP listeners and DNS
 * sockets on 127.0.0.1 and ::1 of the job's netns, and the socket factory)
 * were made by the job's init and passed to the supervisor
 * (REAPER_MSG_READY); the listeners of `publish:` entries are made here in
 * the caller's netns (ports below 1024 need root's privilege, which the
 * relay does not have); then the relay is spawned (posix_spawn() style,
 * relay_child()) and exec'd as the
 * program nbjail-relay (relay/main.c) with exactly
 * those fds and a sealed handoff of its configuration (relay/handoff.c),
 * as the row ROLE_RELAY of common/roles.c says: the job's own relay id,
 * no capability, its syscall allow-list once set up.
 */
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "common/bpfcache.h"
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

/**
 * helper_program_open() - one of nbjail's helper programs (nbjail-relay,
 * nbjail-keys): beside this executable (a build tree, or the tree the
 * tests copy), else where meson installed it
 * @program:	its file name
 * @installed:	its installed path
 * @as:		what it runs as, for the error ("the relay")
 *
 * Opened O_PATH and exec'd through that fd, so the file checked is the
 * file run; as root it must be root's and writable by nobody else.
 *
 * Return: the O_PATH fd, -EPERM for a file others could change,
 * -ENOENT when there is none
 */
int helper_program_open(const char *program, const char *installed, const char *as)
{
	char self[NBJ_PATH_MAX], here[NBJ_PATH_MAX + 64];
	const char *candidates[2] = { NULL, installed };
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		self[0] = '\0';
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(here, sizeof(here), "%s/%s", self, program);
			candidates[0] = here;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		_cleanup_close_ int fd = -1;
		struct stat st;

		if (!candidates[i])
			continue;
		fd = open(candidates[i], O_PATH | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 0022))) {
			log_err("%s: not root's, or writable by others: not run as %s",
				candidates[i], as);
			return -EPERM;
		}
		return TAKE_FD(fd);
	}
	log_err("cannot find the %s program (beside %s, or %s)", program, self, installed);
	return -ENOENT;
}

/**
 * dock_program_find() - the nbjail-dock program that jobs with a dock see
 * at /run/nbjail/bin/nbjail-dock: beside this executable (a build tree,
 * or the tree the tests copy), else where meson installed it
 * @buf:	receives its path
 * @len:	size of @buf
 *
 * As root it must be root's and writable by nobody else, as the relay's
 * program (a job would run it).
 *
 * Return: 0, -EPERM (logged) for one of another owner, or -ENOENT when
 * there is none (the caller says so)
 */
int dock_program_find(char *buf, size_t len)
{
	char self[NBJ_PATH_MAX], here[NBJ_PATH_MAX + 32];
	const char *candidates[2] = { NULL, NBJ_DOCK_PROGRAM };
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(here, sizeof(here), "%s/dock/nbjail-dock", self);
			if (access(here, F_OK) < 0)
				snprintf(here, sizeof(here), "%s/nbjail-dock", self);
			candidates[0] = here;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		struct stat st;

		if (!candidates[i] || stat(candidates[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 0022))) {
			log_err("%s: not root's, or writable by others: not shown to jobs",
				candidates[i]);
			return -EPERM;
		}
		if (strlen(candidates[i]) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, candidates[i]);
		return 0;
	}
	return -ENOENT;
}

/* The environment of nbjail-relay: the two switches of its log, if set */
static void relay_environment(char *env[3], char store[2][64])
{
	static const char *const names[] = { "NBJAIL_DEBUG", "NBJAIL_TRACE_STARTUP" };
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (getenv(names[i])) {
			snprintf(store[n], 64, "%s=1", names[i]);
			env[n] = store[n];
			n++;
		}
	env[n] = NULL;
}

/*
 * The child's half: stdin and stdout to /dev/null, the fd limit the flow
 * table needs (raised while we may), ROLE_RELAY, then the program.
 */
static _Noreturn void relay_exec(struct nbj_job *job, int program, int handoff,
				 int filter, const int *keep, size_t n_keep,
				 unsigned max_flows, pid_t parent)
{
	rlim_t want = relay_fd_limit(&job->pol.policy, max_flows);
	struct rlimit rl;
	char arg[16], farg[16], env_store[2][64], *env[3];
	char *argv[] = { (char *)"nbjail-relay", arg, filter >= 0 ? farg : NULL, NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), err;

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
		_exit(1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < want && geteuid() == 0) {
		rl.rlim_cur = rl.rlim_max = want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	err = role_enter(ROLE_RELAY, job->ids.relay, keep, n_keep, parent);
	if (err < 0) {
		log_err("relay: cannot become its user: %s", strerror(-err));
		_exit(1);
	}
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] > 2 && keep[i] != program)
			(void)fcntl(keep[i], F_SETFD, 0);
	snprintf(arg, sizeof(arg), "%d", handoff);
	snprintf(farg, sizeof(farg), "%d", filter);
	relay_environment(env, env_store);
	syscall(SYS_execveat, program, "", argv, env, AT_EMPTY_PATH);
	log_err("cannot exec nbjail-relay: %m");
	_exit(1);
}

/**
 * struct relay_spawn - what start_relay() hands its child
 * @job:	the job
 * @job_fds_sock: the relay's end of the socket its job-side sockets come on
 * @program:	nbjail-relay, O_PATH
 * @handoff:	its sealed configuration
 * @filter:	its allow-list compiled (sealed memfd), or -1
 * @stats_fd:	the job's statistics file
 * @publish:	PUBLISH_MAX listeners of published ports, -1 where none
 * @max_flows:	the flow table's size (for the fd limit)
 * @parent:	the supervisor's pid
 */
struct relay_spawn {
	struct nbj_job *job;
	int job_fds_sock;
	int program;
	int handoff;
	int filter;
	int stats_fd;
	const int *publish;
	unsigned max_flows;
	pid_t parent;
};

#define RELAY_SPAWN_STACK_SIZE (256 * 1024)

/*
 * The relay's child until exec, started as posix_spawn() does (clone()
 * with CLONE_VM | CLONE_VFORK): nothing of the supervisor's memory is
 * copied, which on a VM with expensive page-table updates saves the
 * copy, the copy-on-write faults it causes the supervisor afterwards and
 * its teardown at exec.  It runs in our memory while we wait, on its own
 * stack and fd table (no CLONE_FILES): it writes nothing of ours, sets
 * its ids with the plain system calls (role_enter()) and allocates
 * nothing.
 */
static int relay_child(void *arg)
{
	const struct relay_spawn *s = arg;
	struct nbj_job *job = s->job;
	int keep[9 + PUBLISH_MAX];
	sigset_t usr1;
	size_t n = 0;

	keep[n++] = s->job_fds_sock;
	keep[n++] = job->audit.fd;
	keep[n++] = s->stats_fd;
	keep[n++] = job->tenant.fd;
	keep[n++] = job->ids.claim;
	keep[n++] = s->handoff;
	keep[n++] = s->filter;
	keep[n++] = s->program;
	keep[n++] = job->keys_fd;
	for (size_t i = 0; i < PUBLISH_MAX; i++)
		keep[n++] = s->publish[i];
	/* SIGUSR1 (revocation) stays blocked, through exec: the relay's
	 * signalfd takes it, none is lost before */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	(void)sigprocmask(SIG_SETMASK, &usr1, NULL);
	relay_exec(job, s->program, s->handoff, s->filter, keep, n, s->max_flows, s->parent);
}

/*
 * The relay: its outbound sockets it makes itself, here in the caller's
 * netns.  It is exec'd as nbjail-relay (ROLE_RELAY: the job's relay id
 * in root mode, the caller rootless) with its handoff (relay/handoff.c)
 * while the job's init still builds the job's namespaces; its job-side
 * sockets, made in the job's netns by the init (REAPER_MSG_READY),
 * follow with relay_send_job_fds().
 */
int start_relay(struct nbj_job *job)
{
	struct nbj_policy policy = job->pol.policy;
	struct relay_config rc = {
		.job_id = job->state.id,
		/* they follow on job_fds_sock (relay_send_job_fds()) */
		.tcp_fds = { -1, -1 },
		.dns_fds = { -1, -1 },
		.socket_factory = -1,
		.dock_fd = -1,
		.dock_desk_fd = -1,
		.policy = &policy,
		.job_nets = job->pol.job_nets,
		.n_job_nets = ARRAY_SIZE(job->pol.job_nets),
		.max_flows = RELAY_MAX_FLOWS,
		.audit = job->audit,
		.keyholder_fd = job->keys_fd,
		.tls_roots = job->pol.tls_roots,
		.tls_roots_len = job->pol.tls_roots_len,
	};
	_cleanup_close_ int program = -1, handoff = -1, stats_fd = -1, filter = -1;
	int job_fds[2] = { -1, -1 };
	struct sock_fprog prog = { 0 };
	int publish[PUBLISH_MAX], err, dumpable;
	char path[NBJ_PATH_MAX];
	pid_t pid, parent = getpid();
	struct relay_spawn spawn;
	void *stack;

	for (size_t i = 0; i < PUBLISH_MAX; i++)
		publish[i] = -1;
	rc.job_addrs[0] = (struct nbj_addr){ .family = AF_INET, .v4 = job->net.job4 };
	rc.job_addrs[1] = (struct nbj_addr){ .family = AF_INET6, .v6 = job->net.job6 };
	rc.resolver = (struct nbj_addr){ .family = AF_INET, .v4 = job->net.nameserver4 };
	rc.publish_fds = publish;
	rc.select_ports = job->selectable;
	program = helper_program_open("nbjail-relay", NBJ_RELAY_PROGRAM, "the relay");
	if (program < 0) {
		err = program;
		goto out;
	}
	err = publish_listeners(&policy, publish);
	if (err < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, job_fds) < 0) {
		err = negative_errno();
		log_err("cannot start the relay: %s", strerror(-err));
		goto out;
	}
	rc.job_fds_sock = job_fds[1];
	err = runtime_path(path, "%s/stats", job->state.id);
	if (!err) {
		stats_fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (stats_fd < 0)
			err = negative_errno();
	}
	if (!err) {
		handoff = relay_handoff_write(&rc, stats_fd, job->tenant.fd);
		if (handoff < 0)
			err = handoff;
	}
	if (err < 0) {
		log_err("cannot prepare the relay's configuration: %s", strerror(-err));
		goto out;
	}
	/* the allow-list from nbjail's cache: the relay need not
	 * compile it (milliseconds of CPU beside the job's start) */
	if (role_filter_cached(ROLE_RELAY, nbj_runtime_dir(), &prog) == 0) {
		filter = bpf_memfd_create(&prog);
		free(prog.filter);
	}
	spawn = (struct relay_spawn){
		.job = job, .job_fds_sock = job_fds[1], .program = program,
		.handoff = handoff, .filter = filter,
		.stats_fd = stats_fd,
		.publish = publish, .max_flows = rc.max_flows, .parent = parent,
	};
	stack = mmap(NULL, RELAY_SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		err = negative_errno();
		log_err("cannot start the relay: %s", strerror(-err));
		goto out;
	}
	/* the child drops dumpability, which is the memory map's: ours
	 * until its exec; we are suspended until then, and restore it */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	pid = clone(relay_child, (char *)stack + RELAY_SPAWN_STACK_SIZE,
		    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &spawn,
		    &job->relay_pidfd);
	err = pid < 0 ? negative_errno() : 0;
	if (dumpable == 0 || dumpable == 1)
		(void)prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
	(void)munmap(stack, RELAY_SPAWN_STACK_SIZE);
	if (err < 0) {
		job->relay_pidfd = -1;
		log_err("cannot start the relay: %s", strerror(-err));
		goto out;
	}
	job->relay_pid = pid;	/* in the state file, never in the shared stats */
	job->relay_job_fds = TAKE_FD(job_fds[0]);
	err = epoll_watch(job->epfd, job->relay_pidfd, JOB_EVENT_RELAY);
out:
	/* the relay has them now, and only the relay */
	closep(&job_fds[0]);
	closep(&job_fds[1]);
	for (size_t i = 0; i < PUBLISH_MAX; i++)
		closep(&publish[i]);
	closep(&job->keys_fd); /* the key holder's socket: the relay's alone */
	job->keys_fd = -1;
	return err;
}

/**
 * relay_send_job_fds() - hand the relay the job-side sockets the job's
 * init made (REAPER_MSG_READY), on the socket start_relay() made for
 * them; the relay waits for them before its loop (relay/main.c)
 * @job:	the job, its relay started, its relay_fds received
 *
 * The supervisor's copies are closed either way: the relay holds them,
 * and only the relay.
 *
 * Return: 0, or negative errno (the relay is gone; logged)
 */
int relay_send_job_fds(struct nbj_job *job)
{
	int fds[RELAY_FDS], err;
	uint32_t mask = 0;
	size_t n = 0;

	for (int i = 0; i < RELAY_FDS; i++)
		if (job->relay_fds[i] >= 0) {
			mask |= 1u << i;
			fds[n++] = job->relay_fds[i];
		}
	err = job->relay_job_fds < 0 ? -EBADF
				     : fd_send(job->relay_job_fds, &mask, sizeof(mask), fds, n);
	for (int i = 0; i < RELAY_FDS; i++) {
		closep(&job->relay_fds[i]);
		job->relay_fds[i] = -1;
	}
	closep(&job->relay_job_fds);
	job->relay_job_fds = -1;
	if (err < 0)
		log_err("cannot hand the job's sockets to the relay: %s", strerror(-err));
	return err;
}
