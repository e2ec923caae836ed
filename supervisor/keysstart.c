/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/keysstart.c - the job's key holder, nbjail-keys
 *
 * Theory of operation: a job whose policy has `secrets:` and a relay
 * (profile net) gets a key holder (ROLE_KEYHOLDER, common/roles.c),
 * started just before the relay: a SOCK_SEQPACKET pair, a fork that
 * enters the role (the job's key holder id, no capability, no_new_privs)
 * with that socket's end, the handoff memfd secrets_load() made and the
 * id claim, and the exec of nbjail-keys (keys/main.c).  The supervisor
 * closes the memfd right after the fork, waits (KEYS_START_TIMEOUT_MS)
 * for the holder's start report and passes its own end to the relay
 * (relaystart.c), keeping no copy: when the relay is gone, the holder
 * reads EOF, zeroes its keys and exits.  Teardown sends it SIGTERM
 * (keeper.c), which zeroes them too.
 *
 * RLIMIT_MEMLOCK: the holder locks its keys in RAM (at most 64 pages).
 * As root (with CAP_SYS_RESOURCE) the limit is raised in the child to
 * what that needs; otherwise the soft limit is raised to the hard one.  If the holder still cannot
 * lock them it says so and the job does not start.
 */
#include <sys/stat.h>

#include "keys/keys.h"
#include "supervisor/job_int.h"

#define KEYS_MEMLOCK_NEED (1u << 20)


/* The child's half: see the theory above */
static _Noreturn void keys_exec(struct nbj_job *job, int program, int sock, pid_t parent)
{
	int keep[] = { sock, job->keys_memfd, job->ids.claim, program };
	char handoff_arg[16], sock_arg[16];
	char *argv[] = { (char *)"nbjail-keys", handoff_arg, sock_arg, NULL };
	char *env[] = { NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), err;
	struct rlimit rl;
	sigset_t none;

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
		_exit(1);
	/* root (with CAP_SYS_RESOURCE) raises both limits, anyone the soft
	 * one up to the hard one */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < KEYS_MEMLOCK_NEED) {
		struct rlimit want = { KEYS_MEMLOCK_NEED, rl.rlim_max < KEYS_MEMLOCK_NEED ?
					   KEYS_MEMLOCK_NEED : rl.rlim_max };

		if (geteuid() != 0 || setrlimit(RLIMIT_MEMLOCK, &want) < 0) {
			rl.rlim_cur = rl.rlim_max < KEYS_MEMLOCK_NEED ? rl.rlim_max
								      : KEYS_MEMLOCK_NEED;
			(void)setrlimit(RLIMIT_MEMLOCK, &rl);
		}
	}
	err = role_enter(ROLE_KEYHOLDER, job->ids.keys, keep, ARRAY_SIZE(keep), parent);
	if (err < 0) {
		log_err("key holder: cannot become its user: %s", strerror(-err));
		_exit(1);
	}
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (keep[i] > 2 && keep[i] != program)
			(void)fcntl(keep[i], F_SETFD, 0);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	snprintf(handoff_arg, sizeof(handoff_arg), "%d", job->keys_memfd);
	snprintf(sock_arg, sizeof(sock_arg), "%d", sock);
	syscall(SYS_execveat, program, "", argv, env, AT_EMPTY_PATH);
	log_err("cannot exec nbjail-keys: %m");
	_exit(1);
}

/* The holder's start report: REPLY id 0, status 0 */
static int keys_await_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct keys_reply_msg r;
	ssize_t n;
	int p;

	do
		p = poll(&pfd, 1, KEYS_START_TIMEOUT_MS);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return -ETIMEDOUT;
	n = recv(fd, &r, sizeof(r), MSG_DONTWAIT);
	if (n == 0)
		return -ECHILD;
	if (n != sizeof(r) || r.hdr.magic != KEYS_MAGIC || r.hdr.type != KEYS_MSG_REPLY ||
	    r.hdr.id != 0)
		return -EPROTO;
	return r.status > 0 ? -EPROTO : r.status;
}

/**
 * keyholder_ended() - the key holder ended while the job runs: say so
 * @job:	the job
 *
 * Its keys went with it (zeroed, unless it was killed with SIGKILL); the
 * relay's requests fail from now on (EPIPE), nothing signs.
 */
void keyholder_ended(struct nbj_job *job)
{
	siginfo_t si = { 0 };

	(void)waitid(P_PIDFD, (id_t)job->keys_pidfd, &si, WEXITED | WNOHANG);
	log_err("key holder of job %s ended (%s %d): nothing signs for this job now",
		job->state.id, si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
	(void)epoll_ctl(job->epfd, EPOLL_CTL_DEL, job->keys_pidfd, NULL);
	closep(&job->keys_pidfd);
	job->keys_pidfd = -1;
	job->keys_pid = 0;
}

/**
 * start_keyholder() - start the job's key holder, if it has secrets
 * @job:	the job; @job->keys_memfd is consumed, @job->keys_fd set to
 *		the relay's end of the holder's socket
 *
 * Return: 0 (also without secrets), or negative errno (logged)
 */
int start_keyholder(struct nbj_job *job)
{
	_cleanup_close_ int program = -1;
	int sv[2] = { -1, -1 }, err;
	pid_t pid, parent = getpid();

	if (job->keys_memfd < 0)
		return 0;
	program = helper_program_open("nbjail-keys", NBJ_KEYS_PROGRAM, "the key holder");
	if (program < 0) {
		err = program;
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = negative_errno();
		log_err("cannot start the key holder: %s", strerror(-err));
		goto out;
	}
	pid = clone_pidfd(0, &job->keys_pidfd);
	if (pid < 0) {
		err = negative_errno();
		log_err("cannot start the key holder: %s", strerror(-err));
		goto out;
	}
	if (pid == 0) {
		closep(&sv[0]);
		keys_exec(job, program, sv[1], parent);
	}
	job->keys_pid = pid;
	closep(&job->keys_memfd); /* the holder has it, and wipes it */
	job->keys_memfd = -1;
	closep(&sv[1]);
	sv[1] = -1;
	err = keys_await_ready(sv[0]);
	if (err < 0) {
		log_err("the key holder did not start: %s", err == -ECHILD ?
			"it exited (see its message above)" : strerror(-err));
		goto out;
	}
	job->keys_fd = TAKE_FD(sv[0]);
	err = epoll_watch(job->epfd, job->keys_pidfd, JOB_EVENT_KEYS);
	log_debug("key holder %d holds the policy's secrets", (int)pid);
out:
	closep(&job->keys_memfd);
	job->keys_memfd = -1;
	closep(&sv[0]);
	closep(&sv[1]);
	return err;
}
