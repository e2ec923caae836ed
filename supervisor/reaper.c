/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/reaper.c - PID 1 of the job
 *
 * Theory of operation: the supervisor clone()s this process into new
 * network, mount, PID, UTS and IPC namespaces with the forwarded signals
 * already blocked (so none is lost before the signalfd exists).  It is
 * root with full capabilities inside, and:
 *
 *   1. closes every fd but its socket to the supervisor and stdio, and
 *      arranges to die with the supervisor (PR_SET_PDEATHSIG)
 *   2. builds the mount namespace and brings lo up, while the supervisor
 *      creates the veth and the relay in parallel
 *   3. waits for GO: then eth0 exists in its netns; configures addresses,
 *      routes and the job-side nftables ruleset (net profile)
 *   4. forks the workload, which drops credentials, installs the seccomp
 *      filter and execs; a CLOEXEC pipe tells whether exec happened (EOF)
 *      or failed (errno).  Before exec, the workload names its listener
 *      fd on a socket pair; we copy it with pidfd_getfd() and the
 *      workload closes its own, so only the supervisor can answer
 *   5. reports STARTED, with the listener attached (SCM_RIGHTS), or
 *      EXEC_FAILED, then keeps its own copy of the listener as a
 *      watchdog: a socket call that waits longer than NOTIFY_WATCHDOG_MS
 *      for the supervisor is failed here (EACCES).  It forwards SIGINT, SIGTERM,
 *      SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the workload and reaps
 *      every orphan; when the workload itself ends it reports its wait
 *      status and exits, and the kernel kills whatever is left in the
 *      PID namespace.  The network namespace, and with it the job end of
 *      the veth, goes away with the last process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/log.h"
#include "netns/link.h"
#include "netns/nft.h"
#include "seccomp/filter.h"
#include "seccomp/notify.h"
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

/* The reaper's end of the handoff: copy the workload's listener fd out
 * of it with pidfd_getfd() (the workload cannot send it: its sendmsg()
 * would wait for a supervisor that does not have the listener yet). */
static int listener_take(pid_t workload, int hand)
{
	_cleanup_close_ int pidfd = -1;
	int remote, fd;

	if (read(hand, &remote, sizeof(remote)) != sizeof(remote))
		return -EPIPE; /* the workload failed before: see status pipe */
	pidfd = (int)syscall(SYS_pidfd_open, workload, 0);
	if (pidfd < 0)
		return negative_errno();
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, remote, 0);
	if (fd < 0)
		return negative_errno();
	if (write(hand, "", 1) != 1) {
		close(fd);
		return -EPIPE;
	}
	return fd;
}

_Noreturn static void fail(int sock, enum reaper_msg_type type, int err)
{
	send_msg(sock, type, err < 0 ? -err : err);
	_exit(1);
}

/* The workload's end of the listener handoff: tell the reaper which fd
 * the listener is, wait until it has taken its own copy, drop ours. */
static int listener_hand_over(int hand, int listener)
{
	char ack;

	if (write(hand, &listener, sizeof(listener)) != sizeof(listener) ||
	    read(hand, &ack, 1) != 1)
		return -EPIPE;
	close(listener);
	return 0;
}

_Noreturn static void workload_exec(const struct reaper_params *p,
				    const struct sock_fprog *prog, int status_fd, int hand)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int err, listener = -1;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	err = creds_apply(p->creds);
	log_phase("workload: creds");
	if (err == 0 && (err = unix_landlock_apply()) == -EOPNOTSUPP)
		err = 0; /* no Landlock: the notifier's helpers remain */
	if (err == 0)
		err = seccomp_filter_load(prog, &listener);
	log_phase("workload: seccomp");
	if (err == 0)
		err = listener_hand_over(hand, listener);
	if (err == 0) {
		execvp(p->argv[0], p->argv);
		err = negative_errno();
	}
	err = -err;
	(void)!write(status_fd, &err, sizeof(err));
	_exit(127);
}

static int setup_network(const struct reaper_params *p)
{
	const struct job_net *net = p->net;
	struct nft_guest g = { .ifname = NBJ_GUEST_IFNAME, .publish_ports = p->publish_ports,
			       .n_publish_ports = p->n_publish_ports,
			       .n_select_overlays = p->n_select_overlays };
	int err;

	err = link_guest_configure(NBJ_GUEST_IFNAME, net);
	if (err < 0) {
		log_err("job setup: cannot configure %s: %s", NBJ_GUEST_IFNAME,
			strerror(-err));
		return err;
	}
	err = nft_guest_install(&g);
	if (err < 0)
		log_err("job setup: cannot install the job's nftables ruleset: %s",
			strerror(-err));
	return err;
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
_Noreturn static void reaper_loop(int sock, int sfd, int listener, pid_t workload)
{
	struct pollfd pfd[2] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = listener, .events = POLLIN },
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
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
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
	int keep[] = { p->sock }, status_pipe[2], hand[2], sfd, err, exec_errno;
	int listener;
	struct sock_fprog prog;
	struct reaper_msg go;
	sigset_t mask;
	pid_t workload;
	ssize_t n;

	fds_close_all_except(keep, ARRAY_SIZE(keep));
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	log_set_prefix("nbjail");

	log_phase("reaper: begins");
	err = mounts_setup(p->mounts);
	if (err < 0)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
	log_phase("reaper: mounts");
	err = link_loopback_up();
	if (err < 0) {
		log_err("job setup: cannot bring lo up: %s", strerror(-err));
		fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
	}

	/* compiled (or read from the cache) by the supervisor; the workload
	 * only loads it */
	prog = *p->seccomp;

	/* EOF here means the supervisor is gone: nothing may start */
	n = recv(p->sock, &go, sizeof(go), 0);
	if (n != sizeof(go) || go.type != REAPER_MSG_GO)
		_exit(1);
	log_phase("reaper: go");

	if (p->net) {
		err = setup_network(p);
		if (err < 0)
			fail(p->sock, REAPER_MSG_SETUP_FAILED, err);
	}

	if (pipe2(status_pipe, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hand) < 0)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, errno);
	workload = fork();
	if (workload < 0)
		fail(p->sock, REAPER_MSG_SETUP_FAILED, errno);
	if (workload == 0) {
		close(p->sock);
		close(status_pipe[0]);
		close(hand[0]);
		workload_exec(p, &prog, status_pipe[1], hand[1]);
	}
	close(status_pipe[1]);
	close(hand[1]);
	log_phase("reaper: forked");
	listener = listener_take(workload, hand[0]);
	log_phase("reaper: listener");
	close(hand[0]);
	n = read(status_pipe[0], &exec_errno, sizeof(exec_errno));
	close(status_pipe[0]);
	if (n == sizeof(exec_errno)) {
		(void)waitpid(workload, NULL, 0);
		fail(p->sock, REAPER_MSG_EXEC_FAILED, exec_errno);
	}
	if (listener < 0) {
		/* exec'd without a listener we could pass on: its socket
		 * calls would fail with ENOSYS; refuse to run it at all */
		(void)kill(workload, SIGKILL);
		fail(p->sock, REAPER_MSG_SETUP_FAILED, listener);
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
	reaper_loop(p->sock, sfd, listener, workload);
}
