/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/roles.c - the processes of a job and how each one is confined
 *
 * Theory of operation: proc_roles[] is the one place that says what each
 * process of a job is (OpenBSD relayd's procs[]); the code that starts a
 * process follows its row:
 *
 *   supervisor ─┬─ keeper ── audit writer      (forked, per-job id B)
 *               ├─ key holder                  (exec'd nbjail-keys, per-job id C)
 *               ├─ relay                       (exec'd nbjail-relay, per-job id A)
 *               ├─ job init ── workload        (new namespaces, the job's user)
 *               ├─ unix helper                 (one call, the caller's creds)
 *               └─ netlink agent               (the job's netlink calls, as the job
 *                                               in the job's user namespace)
 *
 * role_enter() is how a helper gives up what its parent had: every fd
 * but its row's, no supplementary groups, all three uids and gids set
 * (which clears every capability), no_new_privs, not dumpable, death
 * with its parent.
 * role_filter_apply() installs the row's syscall allow-list
 * (common/rolefilter.c) once the set-up that needs more is done.
 *
 * The per-job ids of the relay and the audit writer (root mode) are two
 * ids no other process on the host has (supervisor/jobuids.c): a `nobody`
 * process, or another job's relay, cannot signal, trace or read them.
 * The relay is exec'd (relay/main.c): it carries its configuration and
 * its overlay secrets only, not a copy of the supervisor's heap.
 *
 * The key holder (keys/main.c) holds the policy's `secrets:` and signs
 * with them for the relay, which never has their bytes (relayd's ca.c).
 * It is exec'd, not a fork that closes what it should not keep: a fork
 * would carry a copy of the supervisor's whole heap, and proving that no
 * byte of it matters is harder than starting from an empty process whose
 * keys come in one memfd that it wipes after reading.  Its id is a third
 * per-job id, so neither the relay nor the audit writer can signal it.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/file.h"
#include "common/roles.h"
#include "common/util.h"

const struct proc_role_info proc_roles[ROLE_COUNT] = {
	[ROLE_SUPERVISOR] = {
		.name = "nbjail",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_INVOKER,
		.filter = ROLE_FILTER_NONE,
		.fds = "stdio, the job's state lock, pidfds, the notifier, the control socket",
		.why = "makes the namespaces, writes the maps, judges socket calls",
	},
	[ROLE_KEEPER] = {
		.name = "nbjail-cleanup",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_INVOKER,
		.filter = ROLE_FILTER_NONE,
		.fds = "its socket to the supervisor, the writer's socket and log, the tenant file, "
		       "the per-job id claim; at hand-over the pidfds and the job's lock",
		.why = "removes the job's state after nbjail run has returned",
	},
	[ROLE_AUDIT_WRITER] = {
		.name = "nbjail-audit",
		.parent = ROLE_KEEPER,
		.user = ROLE_USER_JOB_AUDIT,
		.filter = ROLE_FILTER_AUDIT_WRITER,
		.fds = "the producers' socket, the --audit-log file, the per-job id claim",
		.why = "the only process that waits for journald or the disk",
	},
	[ROLE_RELAY] = {
		.name = "nbjail-relay",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_JOB_RELAY,
		.filter = ROLE_FILTER_RELAY,
		.program = "nbjail-relay",
		.fds = "its configuration (sealed memfd), the job-side sockets, the socket "
		       "factory, published listeners, the audit socket, the statistics and "
		       "tenant files, the per-job id claim",
		.why = "decides and carries every connection; holds the overlay secrets",
	},
	[ROLE_JOB_INIT] = {
		.name = "nbjail-init",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_JOB,
		.filter = ROLE_FILTER_NONE,
		.fds = "its socket to the supervisor, the job's terminal",
		.why = "pid 1 of the job: mounts, lo, nftables, the relay's sockets; "
		       "confined by the job's namespaces (it never runs job code)",
	},
	[ROLE_WORKLOAD] = {
		.name = "workload",
		.parent = ROLE_JOB_INIT,
		.user = ROLE_USER_JOB,
		.filter = ROLE_FILTER_JOB,
		.fds = "stdio (a pty of its own on a terminal) and the listeners it was given",
		.why = "the untrusted program",
	},
	[ROLE_UNIX_HELPER] = {
		.name = "nbjail-unix",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_CALLER,
		.filter = ROLE_FILTER_NONE,
		.fds = "the job's socket (pidfd_getfd)",
		.why = "one allowed AF_UNIX connect/bind/send with the caller's credentials; "
		       "lives for that call only",
	},
	[ROLE_KEYHOLDER] = {
		.name = "nbjail-keys",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_JOB_KEYS,
		.filter = ROLE_FILTER_KEYHOLDER,
		.program = "nbjail-keys",
		.fds = "its keys (sealed memfd, read, wiped and closed at start), its socket "
		       "to the relay, the per-job id claim",
		.why = "holds the policy's secrets and signs with them (HMAC-SHA256); "
		       "no call returns a key",
	},
	[ROLE_NETLINK_AGENT] = {
		.name = "nbjail-netlink",
		.parent = ROLE_SUPERVISOR,
		.user = ROLE_USER_CALLER,
		.filter = ROLE_FILTER_NONE,
		.fds = "the listener (to answer), its request socket; per call, the job's "
		       "netlink socket (pidfd_getfd)",
		.why = "carries out the job's netlink connects and sends in the job's user "
		       "namespace with the caller's ids and capabilities, so the kernel's "
		       "checks see the job (seccomp/unix.c)",
	},
};

/**
 * role_name() - a role's name for logs
 * @role:	role
 *
 * Return: its name, "?" for a value outside the table
 */
const char *role_name(enum proc_role role)
{
	return (unsigned)role < ROLE_COUNT ? proc_roles[role].name : "?";
}

/**
 * role_enter() - become @role: keep only @keep, take @ids for good, and
 * die with @parent
 * @role:	the role (its name becomes the process's comm)
 * @ids:	the ids its row's user resolves to
 * @keep:	the fds to keep, any order; every other fd above 2 is closed
 * @n_keep:	entries in @keep
 * @parent:	the parent's pid, from getppid() before anything else
 *
 * A root parent gives up supplementary groups and all three uids and
 * gids (clearing every capability); a rootless parent is the caller
 * already, whose groups cannot be dropped.  Then no_new_privs and
 * PDEATHSIG (after the uid change, which clears it), and a check that
 * the parent did not die before that.
 *
 * Return: 0, or negative errno (the caller must _exit then)
 */
int role_enter(enum proc_role role, struct role_ids ids, const int *keep,
	       size_t n_keep, pid_t parent)
{
	fds_close_all_except(keep, n_keep);
	(void)prctl(PR_SET_NAME, role_name(role), 0, 0, 0);
	/* the plain system calls, for this task alone: glibc's wrappers
	 * would change every thread's ids in a process it believes
	 * multi-threaded, and the relay's child shares the supervisor's
	 * memory until exec (supervisor/relaystart.c) */
	if (geteuid() != 0 && ids.uid == getuid() && ids.gid == getgid()) {
		if (syscall(SYS_setresgid, ids.gid, ids.gid, ids.gid) < 0 ||
		    syscall(SYS_setresuid, ids.uid, ids.uid, ids.uid) < 0)
			return negative_errno();
	} else if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		   syscall(SYS_setresgid, ids.gid, ids.gid, ids.gid) < 0 ||
		   syscall(SYS_setresuid, ids.uid, ids.uid, ids.uid) < 0) {
		return negative_errno();
	}
	if (ids.uid != 0 && (getuid() != ids.uid || geteuid() != ids.uid))
		return -EPERM;
	/* not dumpable: no core file of its secrets, no ptrace by another
	 * process of the same uid (rootless: the caller's); an exec'd role
	 * sets it again after exec (relay/main.c) */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return negative_errno();
	if (getppid() != parent) /* the parent died before PDEATHSIG */
		return -ESRCH;
	return 0;
}
