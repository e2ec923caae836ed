/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/reaper.c - PID 1 of the job
 *
 * Theory of operation: the supervisor clone()s this process into new
 * user, network, mount, PID, UTS and IPC namespaces with the forwarded
 * signals already blocked (so none is lost before the signalfd exists).
 * It has every capability of its own user namespace, and none outside:
 *
 *   1. closes every fd but its socket to the supervisor and stdio, dies
 *      with the supervisor (PR_SET_PDEATHSIG), is not dumpable
 *   2. waits for MAPPED (the supervisor wrote the uid/gid maps), becomes
 *      the workload's user at once keeping its capabilities
 *      (creds_assume()), builds the mount namespace; when nbjail runs on
 *      a terminal, allocates the job's pty from the job's own devpts and
 *      sends its master out (TERMINAL; supervisor/pty.c)
 *   3. brings lo up; net profile: the job's addresses and default routes
 *      on lo (netns/link.c), the relay's listening sockets made here, in
 *      the job's netns, and the job's nftables ruleset redirecting to
 *      them (jobnet.c, netns/nft.c); with a dock (net and browse profiles) the
 *      dock's listener at /run/nbjail/dock.sock (the job's private
 *      /run, owned by the workload's user, mode 0600); reports READY
 *      with those sockets attached (and, when ports are published, its
 *      end of a socket factory)
 *   4. waits for GO (the relay holds the sockets) and the workload's
 *      seccomp program that follows it, then starts the
 *      workload as posix_spawn() does: clone() with CLONE_VM |
 *      CLONE_VFORK, so nothing of our memory is copied (on a VM whose
 *      page-table updates are expensive, that copy, the copy-on-write
 *      faults after it and its teardown at exec cost milliseconds), and
 *      with CLONE_FILES.  We are suspended until the workload has exec'd
 *      or exited.  It drops credentials, installs the seccomp filter and
 *      execs; the listener it got is O_CLOEXEC, and exec first unshares
 *      the fd table, then closes those: the listener stays in our table
 *      only, so only the supervisor can answer.  Everything else of ours
 *      in that table is O_CLOEXEC by then too (our socket to the
 *      supervisor, the socket factory, the pty slave; the relay's
 *      sockets and the pty master are closed): the workload keeps only
 *      its stdio.  Whether exec happened, or the errno of what failed,
 *      it leaves in memory we share
 *   5. reports STARTED, with the listener attached (SCM_RIGHTS), or
 *      EXEC_FAILED, then keeps its own copy of the listener as a
 *      watchdog: a socket call that waits longer than NOTIFY_WATCHDOG_MS
 *      for the supervisor is failed here (EACCES).  It forwards SIGINT,
 *      SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the workload,
 *      reaps every orphan, and makes sockets in the job's netns for the
 *      relay on request (the socket factory: a published port's inbound
 *      connection reaches the job through one).  When the workload
 *      itself ends it reports its wait status and exits, and the kernel
 *      kills whatever is left in the PID namespace; the namespaces go
 *      with the last process, leaving nothing behind on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <assert.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/log.h"
#include "common/roles.h"
#include "nbjail/dock.h"
#include "netns/link.h"
#include "seccomp/filter.h"
#include "seccomp/notify.h"
#include "supervisor/pty.h"
#include "seccomp/unix.h"
#include "supervisor/supervisor.h"

static const int forwarded_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
};

static void send_msg(int sock, enum reaper_msg_type type, int value)
{
	struct reaper_msg m = { .type = type, .value = value };

	(void)!send(sock, &m, sizeof(m), MSG_NOSIGNAL);
}

/* A message carrying one fd (SCM_RIGHTS) */
static int send_msg_fd(int sock, enum reaper_msg_type type, int fd)
{
	struct reaper_msg m = { .type = type };

	return fd_send(sock, &m, sizeof(m), &fd, 1);
}

_Noreturn static void fail(int sock, enum reaper_msg_type type, int err)
{
	send_msg(sock, type, err < 0 ? -err : err);
	_exit(1);
}

/* The value of @name in @envp, or NULL */
static const char *env_value(char *const envp[], const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (!strncmp(*envp, name, len) && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/*
 * execvpe() as the job's user sees it: the job runs as an unprivileged
 * host user, so PATH may name directories it cannot search (root's
 * home, say); those are skipped like missing ones, so a command found
 * nowhere is ENOENT (127), not EACCES (126).  PATH is the job's own, from
 * @envp (environ.c); the reaper's environ is not touched, the workload
 * shares its memory until exec.  Returns only on failure, with errno set.
 */
static void exec_in_path(char *const argv[], char *const envp[])
{
	const char *path = env_value(envp, "PATH");
	char buf[4096];
	int found_err = 0;

	if (strchr(argv[0], '/') || !*argv[0]) {
		execve(argv[0], argv, envp);
		return;
	}
	if (!path)
		path = "/bin:/usr/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		int len = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)n, n ? path : ".",
				   "/", argv[0]);

		path += n + (path[n] == ':');
		if (len < 0 || (size_t)len >= sizeof(buf) || access(buf, F_OK) < 0)
			continue;
		execve(buf, argv, envp);
		if (!found_err)
			found_err = errno;
	}
	errno = found_err ? found_err : ENOENT;
}

/*
 * struct workload_spawn - what the reaper and the workload share until the
 * workload execs (clone() with CLONE_VM | CLONE_VFORK | CLONE_FILES)
 * @p:		the reaper's parameters
 * @prog:	the seccomp filter to load
 * @listener:	the workload's listener fd, in the fd table both share
 * @err:	WORKLOAD_UNREACHED until the workload is about to exec, 0
 *		then, or the errno of what failed
 */
struct workload_spawn {
	const struct reaper_params *p;
	const struct sock_fprog *prog;
	int listener;
	int err;
};

#define WORKLOAD_UNREACHED (-1)

/* the workload's seccomp program, as received after GO */
static struct sock_filter workload_filter[BPF_MAXINSNS];
#define WORKLOAD_STACK_SIZE (256 * 1024)

/*
 * The workload, until exec: it runs in the reaper's memory and fd table
 * while the reaper is suspended (see step 4 of the theory), so it writes
 * nothing but its own stack and @arg, changes nothing per process that
 * the two share (not PR_SET_DUMPABLE: the memory map is the reaper's, and
 * stays undumpable), and closes no fd but the pty slave it has put on its
 * stdio.  Everything it sets is its own: signal actions (no
 * CLONE_SIGHAND), mask, session, credentials, Landlock domain, seccomp
 * filter.  The reaper is single-threaded, so glibc's set*id() wrappers
 * make the plain system call for this task alone.
 */
static int workload_main(void *arg)
{
	struct workload_spawn *w = arg;
	const struct reaper_params *p = w->p;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int err;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* its own session, and its own pty if nbjail runs on a terminal */
	err = pty_workload_attach(p->terminal_fd, p->terminal_stdio);
	if (err == 0)
		err = creds_apply(p->creds);
	log_phase("workload: creds");
	if (err == 0 && (err = unix_landlock_apply()) == -EOPNOTSUPP)
		err = 0; /* no Landlock: the notifier's helpers remain */
	/* the listener is O_CLOEXEC: exec leaves it in the reaper's table
	 * only (exec unshares the fd table, then closes those) */
	if (err == 0)
		err = seccomp_filter_load(w->prog, &w->listener);
	log_phase("workload: seccomp");
	if (err == 0) {
		w->err = 0;
		exec_in_path(p->argv, (char *const *)p->envp);
		err = negative_errno();
	}
	w->err = -err;
	_exit(127);
}

/*
 * The dock's listener (relay/dock.c serves it): a unix stream socket at
 * NBJ_DOCK_PATH in the job's private /run, made as the workload's user
 * (creds_assume()), so that it, and only it, may connect; the job's
 * notifier allows connect() to it as to any socket on a private mount
 * (seccomp/unix.c)
 */
static int dock_listener(void)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	static_assert(sizeof(NBJ_DOCK_PATH) <= sizeof(sa.sun_path), "fits");
	memcpy(sa.sun_path, NBJ_DOCK_PATH, sizeof(NBJ_DOCK_PATH));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	(void)unlink(NBJ_DOCK_PATH);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(NBJ_DOCK_PATH, 0600) < 0 || listen(fd, 512) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

/*
 * The dock's desk (relay/dock.c): a connected unix seqpacket pair, the
 * relay's end returned, the job's end put at NBJ_DOCK_DESK_FD without
 * close-on-exec, so that every process of the job inherits it.  A job
 * process asks for a dock connection with a write() and receives it with
 * recvmsg(), neither of which the job's notifier sees.  The job's end
 * gets timeouts of its own (a relay that does not answer: the client
 * uses the socket's path).  A job whose fd limit leaves no room there
 * has no desk (its clients use the path); the relay's end then reads EOF.
 */
static int dock_desk(void)
{
	struct timeval tv = { .tv_sec = NBJ_DOCK_TCP_TIMEOUT_S };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -EIO;
	}
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (sv[1] != NBJ_DOCK_DESK_FD && dup3(sv[1], NBJ_DOCK_DESK_FD, 0) < 0)
		log_warn("job setup: no dock desk at fd %d: %m", NBJ_DOCK_DESK_FD);
	close(sv[1]);
	return sv[0];
}

/*
 * The socket factory: the relay asks for a TCP socket of a family (an
 * int); it gets one made in the job's netns, or an errno.  Return: false
 * once the relay is gone
 */
static bool factory_serve(int factory)
{
	int family, err = 0, fd = -1;
	ssize_t n = recv(factory, &family, sizeof(family), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n != sizeof(family))
		return false;
	if (family != AF_INET && family != AF_INET6)
		err = -EAFNOSUPPORT;
	else if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		err = negative_errno();
	if (fd >= 0) {
		(void)fd_send(factory, &err, sizeof(err), &fd, 1);
		close(fd);
	} else {
		(void)send(factory, &err, sizeof(err), MSG_NOSIGNAL);
	}
	return true;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The notification watchdog: if a socket call has waited for the
 * supervisor for NOTIFY_WATCHDOG_MS (it hangs, is stopped or falls
 * behind), fail one waiting call; it never passes unjudged.  "Waited"
 * means the listener stayed readable at every look, one each
 * WATCHDOG_SAMPLE_MS: a busy job whose calls are each answered at once
 * must not have one failed because another happens to wait at the
 * deadline. */
#define WATCHDOG_SAMPLE_MS 20

static bool listener_readable(int listener)
{
	struct pollfd pfd = { .fd = listener, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

static void watchdog_check(int listener)
{
	const char *call;
	pid_t pid;

	if (notifier_fail_one(listener, &pid, &call) == 0)
		log_err("the supervisor did not answer within %d ms: refused %s of "
			"pid %d", NOTIFY_WATCHDOG_MS, call, pid);
}

/* Forward signals, reap orphans, watch the listener; exits when the
 * workload has ended */
_Noreturn static void reaper_loop(int sock, int sfd, int listener, int factory,
				  pid_t workload)
{
	struct pollfd pfd[3] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = listener, .events = POLLIN },
		{ .fd = factory, .events = POLLIN },
	};
	long long pending_since = -1;
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		int timeout = -1;

		pfd[1].fd = pending_since < 0 ? listener : -1;
		if (pending_since >= 0) {
			long long left = pending_since + NOTIFY_WATCHDOG_MS - now_ms();

			timeout = left > WATCHDOG_SAMPLE_MS ? WATCHDOG_SAMPLE_MS :
				  left > 0 ? (int)left : 0;
		}
		pfd[2].fd = factory;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
			(void)kill(workload, SIGKILL);
			_exit(1);
		}
		if (pending_since >= 0 && !listener_readable(listener))
			pending_since = -1; /* answered meanwhile: start over */
		else if (pending_since >= 0 &&
			 now_ms() >= pending_since + NOTIFY_WATCHDOG_MS) {
			watchdog_check(listener);
			pending_since = -1;
		}
		if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN))
			pending_since = now_ms();
		else if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLHUP | POLLERR))) {
			close(listener); /* nobody uses the filter any more */
			listener = -1;
		}
		if (pfd[2].fd >= 0 && pfd[2].revents && !factory_serve(factory)) {
			close(factory); /* the relay is gone */
			factory = -1;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;

		n = read(sfd, &si, sizeof(si));
		if (n != sizeof(si)) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			(void)kill(workload, SIGKILL);
			_exit(1);
		}
		if (si.ssi_signo != SIGCHLD) {
			(void)kill(workload, (int)si.ssi_signo);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == workload) {
				send_msg(sock, REAPER_MSG_EXITED, status);
				_exit(0);
			}
		}
	}
}

/**
 * reaper_main() - run as PID 1 of a new job, see the theory above
 * @p:	parameters prepared by the supervisor before clone()
 *
 * Never returns.
 */
_Noreturn void reaper_main(const struct reaper_params *p)
{
	int keep[] = { p->sock }, sfd, err;
	int listener, relay_fds[RELAY_FDS], factory = -1, master = -1;
	struct reaper_params job = *p;	/* with the job's pty slave */
	struct workload_spawn spawn;
	void *stack;
	size_t n_relay_fds;
	struct sock_fprog prog;
	struct reaper_msg msg;
	sigset_t mask;
	pid_t workload;
	ssize_t n;

	fds_close_all_except(keep, ARRAY_SIZE(keep));
	if (pty_stdio_away(p->terminal_stdio) < 0)
		_exit(1); /* never keep the caller's terminal in the job */
	job.terminal_fd = -1;
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)prctl(PR_SET_NAME, role_name(ROLE_JOB_INIT));
	log_set_prefix("nbjail");

	/* EOF here means the supervisor is gone: nothing may start */
	n = recv(p->sock, &msg, sizeof(msg), 0);
	if (n != sizeof(msg) || msg.type != REAPER_MSG_MAPPED)
		_exit(1);
	log_phase("reaper: mapped");
	err = creds_assume(p->creds);
	if (err < 0) {
		log_err("job setup: cannot become uid %u gid %u in the job's user "
			"namespace: %s", (unsigned)p->creds->uid, (unsigned)p->creds->gid,
			strerror(-err));
		fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
	}
	/* a change of credentials clears the parent-death signal: set it
	 * again (a supervisor that died in between is seen at the next
	 * message: EOF, and we exit) */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* nothing of the job may read our memory or take our fds; not
	 * before MAPPED: an unprivileged supervisor writes our maps, which
	 * needs us dumpable */
	(void)prctl(PR_SET_DUMPABLE, 0);
	err = mounts_setup(p->mounts);
	if (err < 0)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
	log_phase("reaper: mounts");
	if (p->terminal_stdio) {
		err = pty_job_open(&p->terminal_modes, &p->terminal_size, &master,
				   &job.terminal_fd);
		if (err < 0) {
			log_err("job setup: cannot allocate the job's pty: %s", strerror(-err));
			fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
		}
		err = send_msg_fd(p->sock, REAPER_MSG_TERMINAL, master);
		close(master);	/* nbjail's alone from now on */
		if (err < 0 || pty_stdio_onto(job.terminal_fd, p->terminal_stdio) < 0)
			_exit(1);
	}
	err = job_netns_setup(p->net, p->n_select_overlays, p->socket_factory, relay_fds,
			      &factory);
	if (err < 0)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
	log_phase("reaper: network");
	if (p->dock) {
		relay_fds[RELAY_FD_DOCK] = dock_listener();
		if (relay_fds[RELAY_FD_DOCK] < 0) {
			log_err("job setup: cannot make the dock's socket %s: %s",
				NBJ_DOCK_PATH, strerror(-relay_fds[RELAY_FD_DOCK]));
			fail(p->sock, REAPER_MSG_SETUP_FAILED, relay_fds[RELAY_FD_DOCK]);
		}
		relay_fds[RELAY_FD_DOCK_DESK] = dock_desk();
		if (relay_fds[RELAY_FD_DOCK_DESK] < 0)
			fail(p->sock, REAPER_MSG_SETUP_FAILED, relay_fds[RELAY_FD_DOCK_DESK]);
	}
	/* the sockets present, in RELAY_FD_* order; the value names them */
	msg = (struct reaper_msg){ .type = REAPER_MSG_READY };
	n_relay_fds = 0;
	for (int i = 0; i < RELAY_FDS; i++)
		if (relay_fds[i] >= 0) {
			msg.value |= 1 << i;
			relay_fds[n_relay_fds++] = relay_fds[i];
		}
	err = fd_send(p->sock, &msg, sizeof(msg), relay_fds, n_relay_fds);
	for (size_t i = 0; i < n_relay_fds; i++)
		close(relay_fds[i]);
	if (err < 0)
		_exit(1);

	n = recv(p->sock, &msg, sizeof(msg), 0);
	if (n != sizeof(msg) || msg.type != REAPER_MSG_GO)
		_exit(1);
	/* GO is followed by the seccomp program, compiled (or read from the
	 * cache) by the supervisor while we built the namespaces; the
	 * workload only loads it.  Anything but whole instructions: no
	 * workload */
	n = recv(p->sock, workload_filter, sizeof(workload_filter), MSG_TRUNC);
	if (n <= 0 || (size_t)n > sizeof(workload_filter) ||
	    n % (ssize_t)sizeof(struct sock_filter))
		fail(p->sock, REAPER_MSG_SETUP_FAILED, EPROTO);
	prog = (struct sock_fprog){
		.len = (unsigned short)((size_t)n / sizeof(struct sock_filter)),
		.filter = workload_filter,
	};
	log_phase("reaper: go");

	/* the workload shares our fd table until its exec, which keeps
	 * only what is not O_CLOEXEC: stdio (and the pty slave put there) */
	(void)fcntl(p->sock, F_SETFD, FD_CLOEXEC);
	if (factory >= 0)
		(void)fcntl(factory, F_SETFD, FD_CLOEXEC);
	stack = mmap(NULL, WORKLOAD_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, errno);
	spawn = (struct workload_spawn){
		.p = &job, .prog = &prog, .listener = -1, .err = WORKLOAD_UNREACHED,
	};
	/* we are suspended until the workload has exec'd or exited */
	workload = clone(workload_main, (char *)stack + WORKLOAD_STACK_SIZE,
			 CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &spawn);
	if (workload < 0)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, errno);
	(void)munmap(stack, WORKLOAD_STACK_SIZE);
	log_phase("reaper: exec'd");
	if (spawn.err != 0) {
		(void)waitpid(workload, NULL, 0);
		fail(p->sock, spawn.err > 0 ? REAPER_MSG_EXEC_FAILED : REAPER_MSG_SETUP_FAILED,
		     spawn.err > 0 ? spawn.err : ECHILD);
	}
	/* a slave above 2 was closed by the workload, in the table we
	 * shared; one of 0-2 is ours to close (the workload's now: its end
	 * ends the pty) */
	if (job.terminal_fd >= 0 && job.terminal_fd <= 2)
		close(job.terminal_fd);
	if (p->dock)	/* the desk's job end is the workload's now */
		(void)close(NBJ_DOCK_DESK_FD);
	listener = spawn.listener;
	if (listener < 0) {
		(void)kill(workload, SIGKILL);
		fail(p->sock, REAPER_MSG_SETUP_FAILED, EPROTO);
	}
	err = send_msg_fd(p->sock, REAPER_MSG_STARTED, listener);
	if (err < 0) {
		(void)kill(workload, SIGKILL);
		_exit(1);
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
		sigaddset(&mask, forwarded_signals[i]);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		(void)kill(workload, SIGKILL);
		fail(p->sock, REAPER_MSG_SETUP_FAILED, errno);
	}
	reaper_loop(p->sock, sfd, listener, factory, workload);
}
