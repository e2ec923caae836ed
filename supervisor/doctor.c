/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/doctor.c - `nbjail doctor`: what this host gives the caller
 *
 * DOC: Theory of operation
 *
 * A sandbox that silently runs with less than it was asked for is worse
 * than one that refuses to start, and the kernel features nbjail relies
 * on are switched off in many places (CI runners, HPC nodes, containers).
 * `nbjail doctor` answers, for the CALLING user on this host, whether
 * `nbjail run` can give full enforcement, and if not, why and how to fix
 * it.  Every check TRIES the feature the way nbjail uses it; none reads a
 * kernel version:
 *
 *   userns            a child unshares CLONE_NEWUSER; the parent writes its
 *                     uid/gid map as nbjail does (0 inside = the caller;
 *                     for root, the sudo caller or nobody, never host
 *                     root); the child becomes 0 and uses a capability of
 *                     the namespace's root (sethostname in a new UTS ns)
 *   netns             user + network namespace: lo up, 192.0.2.100/32 and
 *                     2001:db8::100/128 on lo, default routes via lo, and a
 *                     UDP connect() (no packet) must pick the job address
 *   nftables          in that namespace, one batch: table, nat output
 *                     chain, "meta l4proto tcp redirect to :7777"; then
 *                     the table is deleted
 *   seccomp_listener  SECCOMP_FILTER_FLAG_NEW_LISTENER
 *   seccomp_continue  a notified getppid() answered with
 *                     SECCOMP_USER_NOTIF_FLAG_CONTINUE returns the real ppid
 *   seccomp_addfd     SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD
 *                     installs an eventfd at fd 100 of the target; what the
 *                     target writes to it arrives here
 *   seccomp_wait_killable  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (info)
 *   pidfd_getfd       pidfd_open() + pidfd_getfd() of a socket that a child
 *                     made in its own user + network namespace, and SO_MARK
 *                     on the copy (what the relay does to a job's socket)
 *   openat2           RESOLVE_IN_ROOT keeps "../../.." inside the base, and
 *                     RESOLVE_NO_MAGICLINKS refuses /proc/self/root
 *   cgroup            cgroup v2 mounted, and a child cgroup of the caller's
 *                     own can be made and a process moved into it and back
 *                     (needed only for nbjail-select)
 *   limits            a job's cgroup is made as `nbjail run` makes it for
 *                     `limits: {pids, memory}` (common/cgroup.c: cgroup
 *                     v2, or the v1 hierarchies as root on a hybrid host),
 *                     its limits set, then removed; says which hierarchy
 *                     and controllers a job's limits would use, or the
 *                     cause and fix `nbjail run` would print
 *   unprivileged_port_start  net.ipv4.ip_unprivileged_port_start (info)
 *   journald          /run/systemd/journal/socket accepts a connection and
 *                     sd_journal_sendv() (dlopen()ed) sends a debug line
 *   state_dir         /run/nbjail (root) or $XDG_RUNTIME_DIR/nbjail:
 *                     ownership, mode, a file can be created
 *
 * Each trial runs in a forked child with an alarm of TRIAL_TIMEOUT_S, so a
 * hanging feature cannot hang doctor, and so that namespaces, filters and
 * no_new_privs never touch doctor itself.  The child writes one struct
 * check_result into a pipe (atomic: smaller than PIPE_BUF); a child that
 * dies or hangs is a failure of its check.  Grandchildren die with their
 * parent (PR_SET_PDEATHSIG).  A check whose prerequisite failed is
 * skipped with the reason.
 *
 * The table checks[] is the single list: name, whether `nbjail run` needs
 * it for full enforcement, its prerequisite, its trial.  The exit status
 * is 0 only when every required check passed, 1 otherwise, 2 on bad usage.
 *
 * The network and nftables trials call the very functions a job's init
 * calls (netns/link.c link_job_configure(), netns/nft.c
 * nft_job_install()), in a user and network namespace of the trial's own.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>

#include <netlink/netlink.h>
#include <seccomp.h>

#include "common/cgroup.h"
#include "common/json.h"
#include "common/util.h"
#include "nbjail/nbjail.h"
#include "netns/link.h"
#include "netns/nft.h"
#include "supervisor/doctor.h"

#define TRIAL_TIMEOUT_S 2
#define TEXT_MAX 320
#define DOCTOR_JSON_VERSION 1
#define ADDFD_TARGET_FD 100
#define ADDFD_TOKEN 42
#define NFT_TRIAL_PORT 7777
#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define ROOT_STATE_DIR "/run/nbjail"
#define SELECT_NOTE "needed only for nbjail-select"

enum check_status {
	CHECK_PASS,
	CHECK_FAIL,
	CHECK_SKIP,
	CHECK_INFO,
};

static const char *const status_json[] = { "pass", "fail", "skip", "info" };
static const char *const status_text[] = { "ok", "FAIL", "skip", "info" };
_Static_assert(ARRAY_SIZE(status_json) == CHECK_INFO + 1, "one name per status");
_Static_assert(ARRAY_SIZE(status_text) == CHECK_INFO + 1, "one label per status");

/**
 * struct check_result - what one trial found (crosses a pipe in one write)
 * @status:	pass, fail, skip or info
 * @detail:	one line (control bytes become '?'): what was tried and what
 *		happened (the cause)
 * @fix:	one line: what to do about it, empty when nothing is to do
 */
struct check_result {
	enum check_status status;
	char detail[TEXT_MAX];
	char fix[TEXT_MAX];
};
_Static_assert(sizeof(struct check_result) <= PIPE_BUF, "one atomic pipe write");

/**
 * struct doctor_check - one row of the table
 * @name:	the check's name in the output (stable: scripts match on it)
 * @required:	`nbjail run` needs it for full enforcement
 * @needs:	a check that must pass first, or NULL
 * @trial:	runs in a forked child, fills the result
 */
struct doctor_check {
	const char *name;
	bool required;
	const char *needs;
	void (*trial)(struct check_result *r);
};

/**
 * struct caller - who asked (captured before any trial changes it)
 * @uid:	real uid
 * @gid:	real gid
 * @root:	effective uid 0
 */
static struct caller {
	uid_t uid;
	gid_t gid;
	bool root;
} caller;

/* ---------------------------------------------------------------- helpers */

static void _printf_(4, 5) set_result(struct check_result *r, enum check_status s,
				      const char *fix, const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	(void)vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	(void)snprintf(r->fix, sizeof(r->fix), "%s", fix ? fix : "");
	/* one line each, whatever the environment put in (a path, a name) */
	for (char *p = r->detail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	for (char *p = r->fix; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

#define pass(r, ...) set_result(r, CHECK_PASS, NULL, __VA_ARGS__)
#define info(r, ...) set_result(r, CHECK_INFO, NULL, __VA_ARGS__)
#define fail(r, fix, ...) set_result(r, CHECK_FAIL, fix, __VA_ARGS__)

/* Read a decimal number from a file (a sysctl).  Return 0 or -errno. */
static int read_number(const char *path, long *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return negative_errno();
	if (fscanf(f, "%ld", ret) != 1)
		return -EINVAL;
	return 0;
}

static int write_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return negative_errno();
	if (write(fd, text, len) != (ssize_t)len)
		return negative_errno();
	return 0;
}

/* Value of "Seccomp:" in /proc/self/status (2: filters), -1 if unknown */
static int seccomp_mode(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int mode = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	return mode;
}

/* Wait until @fd is readable.  Return 0, -ETIMEDOUT or -errno. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return negative_errno();
	return n ? 0 : -ETIMEDOUT;
}

/* A grandchild of doctor dies with its parent, the trial. */
static pid_t fork_linked(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(127);
	}
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	if (pid > 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
}

/* ---------------------------------------------------------------- userns */

/*
 * Write the maps of a user namespace that this process just unshared:
 * the caller's uid and gid become 0 inside (the only mapping an
 * unprivileged process may write for itself).
 */
static int map_self(void)
{
	char map[64];
	int err;

	(void)snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)caller.uid);
	err = write_text("/proc/self/uid_map", map);
	if (err < 0)
		return err;
	err = write_text("/proc/self/setgroups", "deny");
	if (err < 0 && err != -ENOENT)
		return err;
	(void)snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)caller.gid);
	return write_text("/proc/self/gid_map", map);
}

/* What keeps unshare(CLONE_NEWUSER) from working, by its errno. */
static void userns_cause(struct check_result *r, int err)
{
	long v;

	switch (err) {
	case ENOSPC:
		if (read_number("/proc/sys/user/max_user_namespaces", &v) == 0 && v == 0)
			fail(r, "as root: sysctl -w user.max_user_namespaces=15000 (persist it in "
				"/etc/sysctl.d/); in a container, set it in the namespace that "
				"set it to 0",
			     "unshare(CLONE_NEWUSER): ENOSPC: user.max_user_namespaces is 0 "
			     "in this user namespace: user namespaces are switched off");
		else
			fail(r, "as root: sysctl -w user.max_user_namespaces=15000 (persist it in "
				"/etc/sysctl.d/), or end processes that hold user namespaces",
			     "unshare(CLONE_NEWUSER): ENOSPC: user.max_user_namespaces (%ld "
			     "here, or a lower value in a parent namespace) is exhausted "
			     "for uid %u", v, (unsigned)caller.uid);
		return;
	case EUSERS:
		fail(r, "run nbjail from a less deeply nested namespace",
		     "unshare(CLONE_NEWUSER): EUSERS: user namespaces are nested 32 "
		     "deep already");
		return;
	case EINVAL:
		fail(r, "use a kernel built with CONFIG_USER_NS=y",
		     "unshare(CLONE_NEWUSER): EINVAL: this kernel has no user namespaces");
		return;
	case EPERM:
	case EACCES:
		break;
	default:
		fail(r, "", "unshare(CLONE_NEWUSER): %s", strerror(err));
		return;
	}
	if (!caller.root &&
	    read_number("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0) {
		fail(r, "as root: sysctl -w kernel.unprivileged_userns_clone=1 (persist it in "
			"/etc/sysctl.d/)",
		     "unshare(CLONE_NEWUSER): %s: kernel.unprivileged_userns_clone is 0: "
		     "only root may create user namespaces", strerror(err));
		return;
	}
	if (read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 &&
	    v == 1) {
		fail(r, "as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or "
			"load an AppArmor profile for nbjail with the rule 'userns,'",
		     "unshare(CLONE_NEWUSER): %s: Ubuntu's "
		     "kernel.apparmor_restrict_unprivileged_userns is 1", strerror(err));
		return;
	}
	fail(r, "run the container with a seccomp profile that allows unshare() and "
		"clone() with CLONE_NEWUSER (docker/podman: --security-opt seccomp=PROFILE), "
		"or run nbjail outside the container",
	     "unshare(CLONE_NEWUSER): %s with no kernel knob set: a seccomp profile of "
	     "the container runtime refuses unshare(CLONE_NEWUSER)%s", strerror(err),
	     seccomp_mode() == 2 ? " (this process runs under a seccomp filter)" : "");
}

/* After the namespace exists: its root lacks what it should have. */
static void userns_caps_cause(struct check_result *r, const char *what, int err)
{
	long v;

	if (read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 &&
	    v == 1) {
		fail(r, "as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or "
			"load an AppArmor profile for nbjail with the rule 'userns,'",
		     "%s in a new user namespace: %s: Ubuntu's "
		     "kernel.apparmor_restrict_unprivileged_userns is 1 (the namespace's "
		     "root gets no capabilities)", what, strerror(-err));
		return;
	}
	fail(r, "look for a Linux security module (AppArmor, SELinux) or a container "
		"seccomp profile that confines user namespaces",
	     "%s in a new user namespace: %s", what, strerror(-err));
}

/*
 * Enter a new user namespace (and network namespace with @net) mapped to
 * the caller.  Fills @r and returns false when that is not possible.
 */
static bool enter_userns(struct check_result *r, bool net)
{
	int err;

	if (unshare(CLONE_NEWUSER) < 0) {
		userns_cause(r, errno);
		return false;
	}
	err = map_self();
	if (err < 0) {
		userns_caps_cause(r, "writing uid_map/gid_map", err);
		return false;
	}
	if (net && unshare(CLONE_NEWNET) < 0) {
		userns_caps_cause(r, "unshare(CLONE_NEWNET)", negative_errno());
		return false;
	}
	return true;
}

/*
 * The ids that 0 inside a job's user namespace stands for outside: the
 * caller's own; for root an unprivileged id (the sudo caller, else
 * nobody), never host root.
 */
static void outside_ids(uid_t *uid, gid_t *gid)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	char *end;
	unsigned long u, g;

	*uid = caller.uid;
	*gid = caller.gid;
	if (!caller.root)
		return;
	*uid = 65534;
	*gid = 65534;
	if (!su || !sg)
		return;
	u = strtoul(su, &end, 10);
	if (*su && !*end && u && u < UINT32_MAX) {
		g = strtoul(sg, &end, 10);
		if (*sg && !*end && g < UINT32_MAX) {
			*uid = (uid_t)u;
			*gid = (gid_t)g;
		}
	}
}

/* Write the maps of @pid's user namespace from its parent, as nbjail does. */
static int write_child_maps(pid_t pid, uid_t outside_uid, gid_t outside_gid)
{
	char path[64], map[64];
	int err;

	(void)snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	(void)snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)outside_uid);
	err = write_text(path, map);
	if (err < 0)
		return err;
	(void)snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	err = write_text(path, "deny");
	if (err < 0 && err != -ENOENT)
		return err;
	(void)snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	(void)snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)outside_gid);
	return write_text(path, map);
}

/**
 * struct userns_report - what the child of the userns trial says
 * @step:	0 done, 1 unshare(CLONE_NEWUSER), 2 becoming 0 inside, 3 using
 *		a capability of the namespace's root
 * @err:	errno of that step
 */
struct userns_report {
	int step;
	int err;
};

/* The child: unshare, wait for the maps, become 0, use a capability. */
static _Noreturn void userns_child(int sock)
{
	static const char name[] = "nbjail-doctor";
	struct userns_report rep = { 0 };
	char go;

	if (unshare(CLONE_NEWUSER) < 0)
		rep = (struct userns_report){ 1, errno };
	if (write(sock, &rep, sizeof(rep)) != sizeof(rep) || rep.step)
		_exit(0);
	if (read(sock, &go, 1) != 1)
		_exit(0);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		rep = (struct userns_report){ 2, errno };
	else if (unshare(CLONE_NEWUTS) < 0 || sethostname(name, sizeof(name) - 1) < 0)
		rep = (struct userns_report){ 3, errno };
	_exit(write(sock, &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
}

static void trial_userns(struct check_result *r)
{
	struct userns_report rep;
	uid_t out_uid;
	gid_t out_gid;
	int sp[2], err;
	pid_t child;

	outside_ids(&out_uid, &out_gid);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		fail(r, "", "socketpair: %m");
		return;
	}
	child = fork_linked();
	if (child < 0) {
		fail(r, "", "fork: %m");
		return;
	}
	if (child == 0) {
		close(sp[0]);
		userns_child(sp[1]);
	}
	close(sp[1]);
	err = wait_readable(sp[0], 1000);
	if (!err && read(sp[0], &rep, sizeof(rep)) != sizeof(rep))
		err = -EPROTO;
	if (err < 0) {
		fail(r, "", "the child did not report: %s", strerror(-err));
		goto out;
	}
	if (rep.step) {
		userns_cause(r, rep.err);
		goto out;
	}
	err = write_child_maps(child, out_uid, out_gid);
	if (err < 0) {
		userns_caps_cause(r, "the parent writing uid_map/gid_map", err);
		goto out;
	}
	err = write(sp[0], "g", 1) == 1 ? wait_readable(sp[0], 1000) : negative_errno();
	if (!err && read(sp[0], &rep, sizeof(rep)) != sizeof(rep))
		err = -EPROTO;
	if (err < 0) {
		fail(r, "", "the child did not report: %s", strerror(-err));
		goto out;
	}
	if (rep.step == 2) {
		fail(r, "", "setresuid(0) in the new user namespace: %s", strerror(rep.err));
		goto out;
	}
	if (rep.step == 3) {
		userns_caps_cause(r, "unshare(CLONE_NEWUTS) + sethostname()", -rep.err);
		goto out;
	}
	pass(r, "unshare(CLONE_NEWUSER) works for uid %u; the parent mapped 0 inside to "
		"uid %u outside; the namespace's root has its capabilities",
	     (unsigned)caller.uid, (unsigned)out_uid);
out:
	close(sp[0]);
	kill_and_reap(child);
}

/* ---------------------------------------------------------------- netns */

static int source_for(int family, const void *dst, void *ret_src)
{
	struct sockaddr_storage ss = { 0 }, got = { 0 };
	socklen_t len = sizeof(got);
	_cleanup_close_ int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return negative_errno();
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		memcpy(&sin->sin_addr, dst, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		memcpy(&sin6->sin6_addr, dst, 16);
	}
	if (connect(fd, (struct sockaddr *)&ss, family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &len) < 0)
		return negative_errno();
	if (family == AF_INET)
		memcpy(ret_src, &((struct sockaddr_in *)&got)->sin_addr, 4);
	else
		memcpy(ret_src, &((struct sockaddr_in6 *)&got)->sin6_addr, 16);
	return 0;
}

/*
 * The job's network, made by the very code nbjail run uses
 * (link_job_configure()), in a user-owned netns; then whether the
 * default routes via lo give the job address as a source
 */
static void trial_netns(struct check_result *r)
{
	struct in_addr far4, src4;
	struct in6_addr far6, src6;
	struct job_net net;
	int err;

	if (!enter_userns(r, true))
		return;
	job_net_default(&net);
	(void)inet_pton(AF_INET, "203.0.113.1", &far4);
	(void)inet_pton(AF_INET6, "2001:db8:ffff::1", &far6);
	err = link_job_configure(&net);
	if (err < 0) {
		fail(r, err == -EAFNOSUPPORT || err == -EOPNOTSUPP ?
			"boot without ipv6.disable=1 (nbjail gives every job both families)" : "",
		     "lo up, " JOB_ADDR4 "/32 and " JOB_ADDR6 "/128 on lo, default routes via "
		     "lo, in a user-owned network namespace: %s", strerror(-err));
		return;
	}
	err = source_for(AF_INET, &far4, &src4);
	if (err < 0 || src4.s_addr != net.job4.s_addr) {
		fail(r, "", "with a default route via lo, IPv4 does not use the job address as "
			    "source (%s)", err < 0 ? strerror(-err) : "another address");
		return;
	}
	err = source_for(AF_INET6, &far6, &src6);
	if (err < 0 || memcmp(&src6, &net.job6, sizeof(net.job6))) {
		fail(r, "", "with a default route via lo, IPv6 does not use the job address as "
			    "source (%s)", err < 0 ? strerror(-err) : "another address");
		return;
	}
	pass(r, "user + network namespace: lo up, a job address per family on lo, default "
		"routes via lo pick it as source");
}

/* ---------------------------------------------------------------- nftables */

/*
 * The job's whole ruleset, installed by the very code nbjail run uses
 * (nft_job_install(): guard, nat output redirect, counted drop, and the
 * selection SNAT) in a user-owned netns, which takes it along when the
 * trial's child exits
 */
static void trial_nftables(struct check_result *r)
{
	struct nft_job g = { .relay_tcp_port = NFT_TRIAL_PORT, .relay_dns_port = NFT_TRIAL_PORT,
			     .n_select_overlays = 1 };
	int err;

	if (!enter_userns(r, true))
		return;
	err = nft_job_install(&g);
	if (err == -ENOENT || err == -EOPNOTSUPP) {
		fail(r, "as root: modprobe nft_chain_nat nft_redir nft_fib_inet nft_reject_inet "
			"(and list them in /etc/modules-load.d/ so that they load at boot)",
		     "the job's ruleset (nat output chain, redirect, fib, reject): %s: the "
		     "kernel lacks one of them", strerror(-err));
		return;
	}
	if (err == -EPROTONOSUPPORT || err == -EAFNOSUPPORT) {
		fail(r, "as root: modprobe nf_tables (a kernel with CONFIG_NF_TABLES)",
		     "NETLINK_NETFILTER socket: %s: no nf_tables in this kernel",
		     strerror(-err));
		return;
	}
	if (err == -EPERM) {
		userns_caps_cause(r, "nftables batch (the job's ruleset)", err);
		return;
	}
	if (err < 0) {
		fail(r, "", "the job's ruleset in one batch: %s", strerror(-err));
		return;
	}
	pass(r, "in a user-owned network namespace: the job's whole ruleset (redirect to "
		"port %u, counted drop, selection SNAT) in one batch", NFT_TRIAL_PORT);
}

/* ---------------------------------------------------------------- seccomp */

enum seccomp_step {
	STEP_LISTENER,	/* the filter with a listener is installed */
	STEP_CONTINUE,	/* a notified getppid() continued */
	STEP_ADDFD,	/* an fd installed into the target by ADDFD */
};

/**
 * struct target_report - what the seccomp target saw, one per syscall
 * @value:	the syscall's return value
 * @err:	its errno when @value < 0
 * @extra:	getpgid: 1 if writing to the installed fd worked
 */
struct target_report {
	long value;
	int err;
	int extra;
};

/*
 * Install in this process: getppid() and getpgid() go to the listener,
 * all else is allowed.  Return the listener fd, or -errno.
 */
static int install_notify_filter(unsigned long flags)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpgid, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(insns), .filter = insns };
	long fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return negative_errno();
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	return fd < 0 ? negative_errno() : (int)fd;
}

/* Send an int and, if @fd >= 0, the fd (SCM_RIGHTS). */
static int send_int_fd(int sock, int value, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = { 0 };
	struct iovec iov = { .iov_base = &value, .iov_len = sizeof(value) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof(value) ? 0 : negative_errno();
}

/* Receive what send_int_fd() sent; *@ret_fd is -1 without an fd. */
static int recv_int_fd(int sock, int *ret_value, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = ret_value, .iov_len = sizeof(*ret_value) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);

	*ret_fd = -1;
	if (n < 0)
		return negative_errno();
	if (n != sizeof(*ret_value) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return -EPROTO;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* The seccomp target: install, hand over the listener, make the calls. */
static _Noreturn void seccomp_target(int sock, unsigned long flags)
{
	struct target_report rep = { 0 };
	int fd = install_notify_filter(flags);

	(void)send_int_fd(sock, fd < 0 ? -fd : 0, fd);
	if (fd < 0)
		_exit(0);
	close(fd);
	rep.value = syscall(SYS_getppid);
	rep.err = rep.value < 0 ? errno : 0;
	if (write(sock, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	rep = (struct target_report){ 0 };
	rep.value = syscall(SYS_getpgid, 0);
	rep.err = rep.value < 0 ? errno : 0;
	if (rep.value == ADDFD_TARGET_FD)
		rep.extra = eventfd_write(ADDFD_TARGET_FD, ADDFD_TOKEN) == 0;
	if (write(sock, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	_exit(0);
}

static int read_report(int sock, struct target_report *rep)
{
	int err = wait_readable(sock, 1000);

	if (err < 0)
		return err;
	if (read(sock, rep, sizeof(*rep)) != sizeof(*rep))
		return -EPROTO;
	return 0;
}

/**
 * struct notif_bufs - notification and response, sized as the kernel says
 * @req:	struct seccomp_notif
 * @resp:	struct seccomp_notif_resp
 * @req_size:	its size
 * @resp_size:	its size
 */
struct notif_bufs {
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size;
	size_t resp_size;
};

static int notif_bufs_init(struct notif_bufs *nb)
{
	struct seccomp_notif_sizes sizes = { 0 };

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return negative_errno();
	nb->req_size = sizes.seccomp_notif > sizeof(*nb->req) ?
		       sizes.seccomp_notif : sizeof(*nb->req);
	nb->resp_size = sizes.seccomp_notif_resp > sizeof(*nb->resp) ?
			sizes.seccomp_notif_resp : sizeof(*nb->resp);
	nb->req = calloc(1, nb->req_size);
	nb->resp = calloc(1, nb->resp_size);
	return nb->req && nb->resp ? 0 : -ENOMEM;
}

static void notif_bufs_free(struct notif_bufs *nb)
{
	free(nb->req);
	free(nb->resp);
}

/* Receive one notification for syscall @nr.  Return 0 or -errno. */
static int notif_recv(int listener, struct notif_bufs *nb, int nr)
{
	int err = wait_readable(listener, 1000);

	if (err < 0)
		return err;
	memset(nb->req, 0, nb->req_size);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, nb->req) < 0)
		return negative_errno();
	return nb->req->data.nr == nr ? 0 : -EPROTO;
}

static void seccomp_install_cause(struct check_result *r, int err, unsigned long flags)
{
	if (err == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
		info(r, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: EINVAL: not in this kernel "
			"(Linux >= 5.19); nbjail works without it");
		return;
	}
	if (err == EINVAL)
		fail(r, "use Linux >= 5.9 (user notification with ADDFD)",
		     "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): EINVAL: this kernel has no "
		     "seccomp user notification");
	else if (err == EBUSY)
		fail(r, "run nbjail outside that sandbox, or have it not use seccomp user "
			"notification",
		     "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): EBUSY: this process already "
		     "runs under a filter with a listener (a sandbox or container runtime "
		     "that uses user notification)");
	else
		fail(r, "run the container with a seccomp profile that allows seccomp(), or "
			"run nbjail outside it",
		     "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): %s%s", strerror(err),
		     seccomp_mode() == 2 ? " (this process runs under a seccomp filter)" : "");
}

/*
 * Try seccomp user notification up to @upto in a target child; fill @r.
 */
static void seccomp_trial(struct check_result *r, unsigned long flags,
			  enum seccomp_step upto)
{
	struct notif_bufs nb = { 0 };
	struct target_report rep;
	_cleanup_close_ int listener = -1, efd = -1;
	int sp[2], install_err = 0, err;
	pid_t target;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		fail(r, "", "socketpair: %m");
		return;
	}
	target = fork_linked();
	if (target < 0) {
		fail(r, "", "fork: %m");
		return;
	}
	if (target == 0) {
		close(sp[0]);
		seccomp_target(sp[1], flags);
	}
	close(sp[1]);
	err = wait_readable(sp[0], 1000);
	if (!err)
		err = recv_int_fd(sp[0], &install_err, &listener);
	if (err < 0) {
		fail(r, "", "the target process did not report: %s", strerror(-err));
		goto out;
	}
	if (install_err || listener < 0) {
		seccomp_install_cause(r, install_err ? install_err : EPROTO, flags);
		goto out;
	}
	if (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
		info(r, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is available");
		goto out;
	}
	if (upto == STEP_LISTENER) {
		pass(r, "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER) gave a listener fd");
		goto out;
	}
	err = notif_bufs_init(&nb);
	if (!err)
		err = notif_recv(listener, &nb, __NR_getppid);
	if (err < 0) {
		fail(r, "", "no notification for the target's getppid(): %s", strerror(-err));
		goto out;
	}
	memset(nb.resp, 0, nb.resp_size);
	nb.resp->id = nb.req->id;
	nb.resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, nb.resp) < 0) {
		if (errno == EINVAL)
			fail(r, "use Linux >= 5.5",
			     "SECCOMP_IOCTL_NOTIF_SEND with SECCOMP_USER_NOTIF_FLAG_CONTINUE: "
			     "EINVAL: the flag is not in this kernel");
		else
			fail(r, "", "SECCOMP_IOCTL_NOTIF_SEND (CONTINUE): %m");
		goto out;
	}
	err = read_report(sp[0], &rep);
	if (err < 0 || rep.value != getpid()) {
		fail(r, "", "getppid() continued with SECCOMP_USER_NOTIF_FLAG_CONTINUE "
			    "returned %ld (%s), not the real parent",
		     err < 0 ? -1L : rep.value, strerror(err < 0 ? -err : rep.err));
		goto out;
	}
	if (upto == STEP_CONTINUE) {
		pass(r, "a notified getppid() answered with SECCOMP_USER_NOTIF_FLAG_CONTINUE "
			"ran in the kernel");
		goto out;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	err = efd < 0 ? negative_errno() : notif_recv(listener, &nb, __NR_getpgid);
	if (err < 0) {
		fail(r, "", "no notification for the target's getpgid(): %s", strerror(-err));
		goto out;
	}
	{
		struct seccomp_notif_addfd addfd = {
			.id = nb.req->id,
			.flags = SECCOMP_ADDFD_FLAG_SETFD,
			.srcfd = (uint32_t)efd,
			.newfd = ADDFD_TARGET_FD,
		};
		eventfd_t token = 0;

		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) != ADDFD_TARGET_FD) {
			if (errno == EINVAL || errno == ENOTTY)
				fail(r, "use Linux >= 5.9",
				     "SECCOMP_IOCTL_NOTIF_ADDFD (SECCOMP_ADDFD_FLAG_SETFD): %m: "
				     "not in this kernel");
			else
				fail(r, "", "SECCOMP_IOCTL_NOTIF_ADDFD (SECCOMP_ADDFD_FLAG_SETFD): %m");
			goto out;
		}
		memset(nb.resp, 0, nb.resp_size);
		nb.resp->id = nb.req->id;
		nb.resp->val = ADDFD_TARGET_FD;
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, nb.resp) < 0) {
			fail(r, "", "SECCOMP_IOCTL_NOTIF_SEND after ADDFD: %m");
			goto out;
		}
		err = read_report(sp[0], &rep);
		if (err < 0 || rep.value != ADDFD_TARGET_FD || !rep.extra ||
		    eventfd_read(efd, &token) < 0 || token != ADDFD_TOKEN) {
			fail(r, "", "the fd installed with SECCOMP_IOCTL_NOTIF_ADDFD did not "
				    "reach the target as fd %d", ADDFD_TARGET_FD);
			goto out;
		}
	}
	pass(r, "SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD put an fd into "
		"the target at the number asked for");
out:
	notif_bufs_free(&nb);
	close(sp[0]);
	kill_and_reap(target);
}

static void trial_seccomp_listener(struct check_result *r)
{
	seccomp_trial(r, SECCOMP_FILTER_FLAG_NEW_LISTENER, STEP_LISTENER);
}

static void trial_seccomp_continue(struct check_result *r)
{
	seccomp_trial(r, SECCOMP_FILTER_FLAG_NEW_LISTENER, STEP_CONTINUE);
}

static void trial_seccomp_addfd(struct check_result *r)
{
	seccomp_trial(r, SECCOMP_FILTER_FLAG_NEW_LISTENER, STEP_ADDFD);
}

static void trial_seccomp_wait_killable(struct check_result *r)
{
	seccomp_trial(r, SECCOMP_FILTER_FLAG_NEW_LISTENER |
			 SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, STEP_LISTENER);
}

/* ---------------------------------------------------------------- pidfd */

static void pidfd_cause(struct check_result *r, const char *what, int err)
{
	long scope;

	if (err == ENOSYS) {
		fail(r, "use Linux >= 5.6", "%s: ENOSYS: not in this kernel%s", what,
		     seccomp_mode() == 2 ? " (or refused by a seccomp filter)" : "");
		return;
	}
	if ((err == EPERM || err == EACCES) &&
	    read_number("/proc/sys/kernel/yama/ptrace_scope", &scope) == 0 && scope >= 2) {
		fail(r, "as root: sysctl -w kernel.yama.ptrace_scope=1",
		     "%s: %s: kernel.yama.ptrace_scope is %ld (pidfd_getfd needs ptrace "
		     "access to the job)", what, strerror(err), scope);
		return;
	}
	fail(r, "look for a Linux security module or container seccomp profile that "
		"refuses ptrace access", "%s: %s", what, strerror(err));
}

/*
 * A child makes a TCP socket (in its own user + network namespace when it
 * can, as a job would); we copy it with pidfd_getfd() and mark it.
 */
static void trial_pidfd_getfd(struct check_result *r)
{
	_cleanup_close_ int pidfd = -1, copy = -1;
	int sp[2], remote = -1, dummy, in_ns, mark = 1, type = 0;
	socklen_t len = sizeof(type);
	pid_t target;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		fail(r, "", "socketpair: %m");
		return;
	}
	target = fork_linked();
	if (target < 0) {
		fail(r, "", "fork: %m");
		return;
	}
	if (target == 0) {
		int s, msg[2];

		close(sp[0]);
		in_ns = unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		msg[0] = s;
		msg[1] = in_ns;
		if (write(sp[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		/* until the parent is done (it kills us) */
		_exit(read(sp[1], &dummy, 1) < 0 ? 1 : 0);
	}
	close(sp[1]);
	{
		int msg[2];

		if (wait_readable(sp[0], 1000) < 0 || read(sp[0], msg, sizeof(msg)) != sizeof(msg) ||
		    msg[0] < 0) {
			fail(r, "", "the target process did not make its socket");
			goto out;
		}
		remote = msg[0];
		in_ns = msg[1];
	}
	pidfd = (int)syscall(SYS_pidfd_open, target, 0);
	if (pidfd < 0) {
		pidfd_cause(r, "pidfd_open()", errno);
		goto out;
	}
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, remote, 0);
	if (copy < 0) {
		pidfd_cause(r, "pidfd_getfd()", errno);
		goto out;
	}
	if (getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
		fail(r, "", "pidfd_getfd() returned something other than the child's socket");
		goto out;
	}
	if (!in_ns) {
		pass(r, "pidfd_open() + pidfd_getfd() copied a child's socket (SO_MARK not "
			"tried: the child could not make a user namespace)");
		goto out;
	}
	if (setsockopt(copy, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		fail(r, "", "SO_MARK on a socket copied from a child's user + network "
			    "namespace: %m");
		goto out;
	}
	pass(r, "pidfd_open() + pidfd_getfd() copied a socket from a child's user + network "
		"namespace, and SO_MARK could be set on it");
out:
	close(sp[0]);
	kill_and_reap(target);
}

/* ---------------------------------------------------------------- openat2 */

static long openat2_call(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags, .resolve = resolve };

	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static void trial_openat2(struct check_result *r)
{
	const uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], up_link[PATH_MAX + 8];
	_cleanup_close_ int dfd = -1, got = -1, root = -1, magic = -1;
	struct stat a, b;

	(void)snprintf(dir, sizeof(dir), "%s/nbjail-doctor.XXXXXX",
		       tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		/* no scratch directory: the flags alone, on / */
		root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		got = (int)openat2_call(root, "..", O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
		if (got < 0)
			goto refused;
		pass(r, "openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) works (containment "
			"not tried: no writable temporary directory)");
		return;
	}
	(void)snprintf(up_link, sizeof(up_link), "%s/up", dir);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || symlink("../../../../..", up_link) < 0) {
		fail(r, "", "cannot prepare %s: %m", dir);
		goto cleanup;
	}
	got = (int)openat2_call(dfd, "up", O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
	if (got < 0) {
		int err = errno;

		(void)unlink(up_link);
		(void)rmdir(dir);
		errno = err;
		goto refused;
	}
	if (fstat(got, &a) < 0 || fstat(dfd, &b) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		fail(r, "", "openat2(RESOLVE_IN_ROOT) let a symlink to ../../.. leave its root");
		goto cleanup;
	}
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	magic = (int)openat2_call(root, "proc/self/root", O_PATH | O_CLOEXEC, resolve);
	if (magic >= 0) {
		fail(r, "", "openat2(RESOLVE_NO_MAGICLINKS) followed /proc/self/root");
		goto cleanup;
	}
	if (errno != ELOOP && errno != ENOENT) {
		fail(r, "", "openat2(RESOLVE_NO_MAGICLINKS) on /proc/self/root: %m, "
			    "expected ELOOP");
		goto cleanup;
	}
	pass(r, "openat2(): RESOLVE_IN_ROOT kept ../../.. inside its root%s",
	     errno == ELOOP ? ", RESOLVE_NO_MAGICLINKS refused /proc/self/root" : "");
cleanup:
	(void)unlink(up_link);
	(void)rmdir(dir);
	return;
refused:
	if (errno == ENOSYS)
		fail(r, "use Linux >= 5.6", "openat2(): ENOSYS: not in this kernel%s",
		     seccomp_mode() == 2 ? " (or refused by a seccomp filter)" : "");
	else if (errno == EPERM)
		fail(r, "run the container with a seccomp profile that allows openat2(), or "
			"run nbjail outside it",
		     "openat2(): EPERM: a seccomp profile of the container runtime refuses it");
	else
		fail(r, "", "openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): %m");
}

/* ---------------------------------------------------------------- cgroup */

/* Mount point and root of the cgroup2 file system.  Return 0 or -ENOENT. */
static int cgroup2_mount(char *mnt, size_t mnt_len, char *root, size_t root_len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], m[PATH_MAX], *sep = strstr(line, " - ");
		char fstype[64];

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2)
			continue;
		(void)snprintf(mnt, mnt_len, "%s", m);
		(void)snprintf(root, root_len, "%s", r);
		return 0;
	}
	return -ENOENT;
}

/* The caller's cgroup v2 path ("0::PATH").  Return 0 or -ENOENT. */
static int own_cgroup(char *path, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		(void)snprintf(path, len, "%s", line + 3);
		return 0;
	}
	return -ENOENT;
}

static int move_pid(const char *cgroup_dir, pid_t pid)
{
	char procs[PATH_MAX], num[32];

	if ((size_t)snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup_dir) >=
	    sizeof(procs))
		return -ENAMETOOLONG;
	(void)snprintf(num, sizeof(num), "%d\n", (int)pid);
	return write_text(procs, num);
}

static void trial_cgroup(struct check_result *r)
{
	static const char delegate_fix[] =
		"run nbjail in a delegated cgroup: systemd-run --user --scope -p Delegate=yes "
		"nbjail run ...; or, as root, chown the cgroup directory and its "
		"cgroup.procs, cgroup.threads and cgroup.subtree_control to the user";
	char mnt[PATH_MAX], root[PATH_MAX], cg[PATH_MAX], here[PATH_MAX], test[PATH_MAX];
	const char *rel;
	pid_t mover;
	int err;

	if (cgroup2_mount(mnt, sizeof(mnt), root, sizeof(root)) < 0) {
		fail(r, "mount -t cgroup2 none /sys/fs/cgroup (or boot with "
			"systemd.unified_cgroup_hierarchy=1)",
		     "cgroup v2 is not mounted; " SELECT_NOTE);
		return;
	}
	if (own_cgroup(cg, sizeof(cg)) < 0) {
		fail(r, "", "this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup); "
			    SELECT_NOTE);
		return;
	}
	/* /proc/self/cgroup is relative to the cgroup namespace, like the mount's root */
	rel = cg;
	if (strcmp(root, "/") && !strncmp(cg, root, strlen(root)))
		rel = cg + strlen(root);
	if (!strcmp(rel, "/"))
		rel = "";
	if ((size_t)snprintf(here, sizeof(here), "%s%s", mnt, rel) >= sizeof(here) ||
	    (size_t)snprintf(test, sizeof(test), "%s/nbjail-doctor.%d", here,
			     (int)getpid()) >= sizeof(test)) {
		fail(r, "", "the path of this process's cgroup is too long; " SELECT_NOTE);
		return;
	}
	if (mkdir(test, 0755) < 0) {
		err = errno;
		if (err == EROFS)
			fail(r, "have the container runtime mount the cgroup file system "
				"writable (a cgroup namespace with a delegated subtree)",
			     "cannot make a child of this process's cgroup %s: %s: cgroup2 is "
			     "mounted read-only here; " SELECT_NOTE, here, strerror(err));
		else if (err == EACCES || err == EPERM)
			fail(r, delegate_fix,
			     "cannot make a child of this process's cgroup %s: %s: it is not "
			     "delegated to uid %u; " SELECT_NOTE, here, strerror(err),
			     (unsigned)caller.uid);
		else
			fail(r, "", "cannot make a child of this process's cgroup %s: %s; "
				    SELECT_NOTE, here, strerror(err));
		return;
	}
	mover = fork_linked();
	if (mover == 0) {
		pause();
		_exit(0);
	}
	if (mover < 0) {
		fail(r, "", "fork: %m");
		(void)rmdir(test);
		return;
	}
	err = move_pid(test, mover);
	if (!err)
		err = move_pid(here, mover);
	kill_and_reap(mover);
	(void)rmdir(test);
	if (err < 0) {
		fail(r, caller.root ? "" : delegate_fix,
		     "made %s but cannot move a process between it and %s: %s; " SELECT_NOTE,
		     test, here, strerror(-err));
		return;
	}
	pass(r, "cgroup v2: a child of %s could be made and a process moved into it and "
		"back (" SELECT_NOTE ")", here);
}

/*
 * The job limits of `nbjail run`: the very function it calls, on a
 * cgroup named like a job's ("doctor-PID"; nbjail gc removes one left).
 */
static void trial_limits(struct check_result *r)
{
	static const struct nbj_limits probe = { .pids = 64, .memory = 64ULL << 20 };
	struct job_cgroup cg;
	char id[32], why[TEXT_MAX];
	int err;

	snprintf(id, sizeof(id), "doctor-%d", (int)getpid());
	err = job_cgroup_create(&cg, id, &probe, false, why, sizeof(why));
	if (err < 0) {
		fail(r, "", "a job with limits: {pids, memory} would not start (exit 125): %s",
		     why[0] ? why : strerror(-err));
		return;
	}
	if (cg.v2_limits) {
		char *slash = strrchr(cg.rel, '/');

		if (slash)
			*slash = '\0';
		pass(r, "job limits: cgroup v2, pids and memory controllers, job cgroups "
			"below %s/ (memory.swap.max 0 where swap is accounted)", cg.rel);
	} else {
		pass(r, "job limits: cgroup v1 pids and memory hierarchies (cgroup v2 here "
			"lacks the controllers), job cgroups below this process's cgroup in "
			"each (memsw limited, or swappiness 0)");
	}
	job_cgroup_remove(&cg);
}

/* ---------------------------------------------------------------- ports */

static void trial_unprivileged_port_start(struct check_result *r)
{
	long start;

	if (read_number("/proc/sys/net/ipv4/ip_unprivileged_port_start", &start) < 0) {
		info(r, "net.ipv4.ip_unprivileged_port_start cannot be read: %m");
		return;
	}
	if (caller.root)
		info(r, "net.ipv4.ip_unprivileged_port_start is %ld; as root, publish: may use "
			"any port", start);
	else
		info(r, "net.ipv4.ip_unprivileged_port_start is %ld: publish: ports below %ld "
			"need root", start, start);
}

/* ---------------------------------------------------------------- journald */

static void trial_journald(struct check_result *r)
{
	static const char fallback[] =
		"; the audit trail goes to --audit-log only (not needed for enforcement)";
	static const char fix[] =
		"start systemd-journald (or have the container share /run/systemd/journal), "
		"or give nbjail run --audit-log FILE";
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int (*sendv)(const struct iovec *, int);
	struct iovec iov[] = {
		{ .iov_base = (char *)"MESSAGE=nbjail doctor: journald reachable",
		  .iov_len = sizeof("MESSAGE=nbjail doctor: journald reachable") - 1 },
		{ .iov_base = (char *)"PRIORITY=7", .iov_len = sizeof("PRIORITY=7") - 1 },
		{ .iov_base = (char *)"SYSLOG_IDENTIFIER=nbjail-doctor",
		  .iov_len = sizeof("SYSLOG_IDENTIFIER=nbjail-doctor") - 1 },
	};
	void *lib;
	int err;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fail(r, fix, "cannot connect to %s: %m%s", JOURNAL_SOCKET, fallback);
		return;
	}
	lib = dlopen("libsystemd.so.0", RTLD_LAZY | RTLD_LOCAL);
	sendv = lib ? (int (*)(const struct iovec *, int))dlsym(lib, "sd_journal_sendv") : NULL;
	if (!sendv) {
		fail(r, "install libsystemd0, or give nbjail run --audit-log FILE",
		     "libsystemd.so.0 (sd_journal_sendv) cannot be loaded%s", fallback);
		return;
	}
	err = sendv(iov, (int)ARRAY_SIZE(iov));
	if (err < 0) {
		fail(r, fix, "sd_journal_sendv(): %s%s", strerror(-err), fallback);
		return;
	}
	pass(r, "%s accepts events; sd_journal_sendv() sent a debug line", JOURNAL_SOCKET);
}

/* ---------------------------------------------------------------- state */

/* Can a file be made in @dir?  Return 0 or -errno. */
static int try_create_in(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/.nbjail-doctor.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	close(fd);
	(void)unlink(path);
	return 0;
}

static void trial_state_dir(struct check_result *r)
{
	static const char xdg_fix[] =
		"log in through a session that sets it, or export "
		"XDG_RUNTIME_DIR=/run/user/$(id -u) (a directory of yours, mode 0700)";
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX];
	struct stat st;
	int err;

	if (caller.root) {
		if (stat(ROOT_STATE_DIR, &st) < 0) {
			err = access("/run", W_OK) < 0 ? negative_errno() : 0;
			if (err < 0)
				fail(r, "make /run writable for root", "%s does not exist and "
				     "/run is not writable: %s", ROOT_STATE_DIR, strerror(-err));
			else
				pass(r, "%s will be made on the first run", ROOT_STATE_DIR);
			return;
		}
		err = S_ISDIR(st.st_mode) ? try_create_in(ROOT_STATE_DIR) : -ENOTDIR;
		if (err < 0)
			fail(r, "make " ROOT_STATE_DIR " a directory writable by root",
			     "cannot create a file in %s: %s", ROOT_STATE_DIR, strerror(-err));
		else
			pass(r, "state in %s (writable)", ROOT_STATE_DIR);
		return;
	}
	if (!xdg || !xdg[0]) {
		fail(r, xdg_fix, "XDG_RUNTIME_DIR is not set: without root, nbjail keeps its "
				 "state in $XDG_RUNTIME_DIR/nbjail");
		return;
	}
	if (xdg[0] != '/') {
		fail(r, xdg_fix, "XDG_RUNTIME_DIR=%s is not an absolute path", xdg);
		return;
	}
	if (stat(xdg, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fail(r, xdg_fix, "XDG_RUNTIME_DIR=%s is not a directory: %s", xdg,
		     errno ? strerror(errno) : "not a directory");
		return;
	}
	if (st.st_uid != caller.uid) {
		fail(r, xdg_fix, "XDG_RUNTIME_DIR=%s belongs to uid %u, not to uid %u", xdg,
		     (unsigned)st.st_uid, (unsigned)caller.uid);
		return;
	}
	if ((st.st_mode & 07777) != 0700) {
		char fix[TEXT_MAX];

		(void)snprintf(fix, sizeof(fix), "chmod 0700 %s", xdg);
		fail(r, fix, "XDG_RUNTIME_DIR=%s has mode %04o, not 0700", xdg,
		     (unsigned)(st.st_mode & 07777));
		return;
	}
	(void)snprintf(dir, sizeof(dir), "%s/nbjail", xdg);
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || st.st_uid != caller.uid) {
			fail(r, "remove it; nbjail makes it again", "%s is not a directory of "
			     "uid %u", dir, (unsigned)caller.uid);
			return;
		}
		err = try_create_in(dir);
	} else {
		err = try_create_in(xdg);
	}
	if (err < 0) {
		fail(r, xdg_fix, "cannot create a file in %s: %s", dir, strerror(-err));
		return;
	}
	pass(r, "state in %s", dir);
}

/* ---------------------------------------------------------------- oci */

/* The first of @names found in the usual directories, into @buf */
static const char *find_program(const char *const *names, size_t n, char *buf, size_t len)
{
	static const char *const dirs[] = { "/usr/bin", "/usr/sbin", "/usr/local/bin",
					     "/usr/local/sbin" };

	for (size_t i = 0; i < n; i++)
		for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
			snprintf(buf, len, "%s/%s", dirs[d], names[i]);
			if (access(buf, X_OK) == 0)
				return names[i];
		}
	return NULL;
}

/* cgroup v1 with a cgroup2 hierarchy holding controllers: crun 1.8
 * refuses such hosts (containers need --cgroups disabled) */
static bool cgroup_hybrid_with_controllers(void)
{
	struct statfs top, unified;
	char buf[256] = "";
	FILE *f;

	if (statfs("/sys/fs/cgroup", &top) < 0 || top.f_type == CGROUP2_SUPER_MAGIC ||
	    statfs("/sys/fs/cgroup/unified", &unified) < 0 ||
	    unified.f_type != CGROUP2_SUPER_MAGIC)
		return false;
	f = fopen("/sys/fs/cgroup/unified/cgroup.controllers", "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] && buf[0] != '\n';
}

/*
 * For containers (nbjail-oci(8)): the OCI runtime that would run the
 * hook and hand a seccomp listener to nbjail oci-agent (listenerPath:
 * crun >= 0.18, runc >= 1.1), and the hooks.d file.  Information only:
 * nbjail run needs none of it.
 */
static void trial_oci(struct check_result *r)
{
	static const char *const runtimes[] = { "crun", "runc" };
	static const char *const hooks[] = { "/etc/containers/oci/hooks.d/nbjail.json",
					     "/usr/share/containers/oci/hooks.d/nbjail.json" };
	const char *hook = NULL, *runtime;
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(hooks) && !hook; i++)
		if (access(hooks[i], R_OK) == 0)
			hook = hooks[i];
	runtime = find_program(runtimes, ARRAY_SIZE(runtimes), path, sizeof(path));
	if (!runtime) {
		info(r, "no OCI runtime (crun, runc): the container hook is unused; hooks.d "
			"file: %s", hook ? hook : "not installed");
		return;
	}
	if (geteuid() != 0) {
		/* rootless podman runs hooks as root of the user's namespace,
		 * where nbjail oci-hook refuses (oci_initial_userns()) */
		info(r, "%s found; as this user (rootless podman) the hook refuses every "
			"annotated container: it would run in podman's user namespace, where "
			"nbjail has neither root's nor its rootless mode; rootful containers "
			"only (nbjail-oci(8), ROOTLESS)", path);
		return;
	}
	set_result(r, CHECK_INFO, !strcmp(runtime, "crun") && cgroup_hybrid_with_controllers() ?
		   "cgroups here are hybrid with cgroup2 controllers, which crun refuses: run "
		   "containers with --cgroups disabled" : NULL,
		   "%s runs the hook (hooks.d file: %s) and gives a seccomp profile's "
		   "listenerPath to nbjail oci-agent (nbjail-oci(8))", path,
		   hook ? hook : "not installed");
}

/* ---------------------------------------------------------------- the table */

static const struct doctor_check checks[] = {
	{ "userns", true, NULL, trial_userns },
	{ "netns", true, "userns", trial_netns },
	{ "nftables", true, "userns", trial_nftables },
	{ "seccomp_listener", true, NULL, trial_seccomp_listener },
	{ "seccomp_continue", true, "seccomp_listener", trial_seccomp_continue },
	{ "seccomp_addfd", true, "seccomp_listener", trial_seccomp_addfd },
	{ "seccomp_wait_killable", false, "seccomp_listener", trial_seccomp_wait_killable },
	{ "pidfd_getfd", true, NULL, trial_pidfd_getfd },
	{ "openat2", true, NULL, trial_openat2 },
	{ "cgroup", false, NULL, trial_cgroup },
	{ "limits", false, NULL, trial_limits },
	{ "unprivileged_port_start", false, NULL, trial_unprivileged_port_start },
	{ "journald", false, NULL, trial_journald },
	{ "oci", false, NULL, trial_oci },
	{ "state_dir", true, NULL, trial_state_dir },
};

/*
 * Run @c's trial in a child bounded by TRIAL_TIMEOUT_S; a child that dies
 * or hangs is a failure of the check.
 */
static void run_trial(const struct doctor_check *c, struct check_result *r)
{
	_cleanup_close_ int rd = -1;
	int p[2], status;
	ssize_t n = -1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fail(r, "", "pipe: %m");
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fail(r, "", "fork: %m");
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		struct check_result mine = { .status = CHECK_FAIL };

		close(p[0]);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		(void)signal(SIGALRM, SIG_DFL);
		alarm(TRIAL_TIMEOUT_S);
		c->trial(&mine);
		_exit(write(p[1], &mine, sizeof(mine)) == sizeof(mine) ? 0 : 1);
	}
	close(p[1]);
	rd = p[0];
	if (wait_readable(rd, TRIAL_TIMEOUT_S * 1000 + 500) == 0)
		n = read(rd, r, sizeof(*r));
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	if (n == sizeof(*r)) {
		r->detail[sizeof(r->detail) - 1] = '\0';
		r->fix[sizeof(r->fix) - 1] = '\0';
		if ((unsigned)r->status > CHECK_INFO)
			fail(r, "", "the trial reported nonsense");
		return;
	}
	if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGALRM || WTERMSIG(status) == SIGKILL))
		fail(r, "", "the trial hung: no answer within %d s", TRIAL_TIMEOUT_S);
	else if (WIFSIGNALED(status))
		fail(r, "", "the trial died of signal %d (%s)", WTERMSIG(status),
		     strsignal(WTERMSIG(status)));
	else
		fail(r, "", "the trial ended without an answer");
}

static const struct check_result *find_result(const struct check_result *results,
					      const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
		if (!strcmp(checks[i].name, name))
			return &results[i];
	return NULL;
}

static void print_text(const struct check_result *results, bool full)
{
	printf("nbjail doctor: uid %u%s\n", (unsigned)caller.uid,
	       caller.root ? " (root)" : " (not root: rootless mode)");
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		const struct check_result *r = &results[i];

		printf("%-4s  %-23s %s%s\n", status_text[r->status], checks[i].name,
		       r->detail, r->status == CHECK_FAIL && !checks[i].required ?
		       " [optional]" : "");
		if (r->fix[0] && r->status != CHECK_PASS)
			printf("      fix: %s\n", r->fix);
	}
	printf("%s\n", full ? "full enforcement: yes, nbjail run has all it needs" :
			      "full enforcement: NO, nbjail run would refuse to start "
			      "(see FAIL and skip above)");
}

static void print_json(const struct check_result *results, bool full)
{
	printf("{\"version\":%d,\"user\":{\"uid\":%u,\"root\":%s},\"full_enforcement\":%s,"
	       "\"checks\":[", DOCTOR_JSON_VERSION, (unsigned)caller.uid,
	       caller.root ? "true" : "false", full ? "true" : "false");
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		const struct check_result *r = &results[i];

		printf("%s{\"name\":", i ? "," : "");
		(void)json_fput_string(stdout, checks[i].name);
		printf(",\"required\":%s,\"status\":\"%s\",\"detail\":",
		       checks[i].required ? "true" : "false", status_json[r->status]);
		(void)json_fput_string(stdout, r->detail);
		printf(",\"fix\":");
		(void)json_fput_string(stdout, r->fix);
		printf("}");
	}
	printf("]}\n");
}

/**
 * doctor_main() - `nbjail doctor [--json]`
 * @argc:	arguments after "nbjail"
 * @argv:	argv[0] is "doctor"
 *
 * Return: the exit status: 0 when every check `nbjail run` needs passed,
 * 1 when one did not, 2 on bad usage
 */
int doctor_main(int argc, char **argv)
{
	struct check_result results[ARRAY_SIZE(checks)];
	bool json = false, full = true;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: nbjail doctor [--json]\n"
			       "Try each kernel feature nbjail needs, as the calling user; "
			       "exit 0 when nbjail run gives full enforcement.  See nbjail(1).\n");
			return 0;
		} else {
			fprintf(stderr, "nbjail: doctor: unknown argument '%s'\n"
					"Usage: nbjail doctor [--json]\n", argv[i]);
			return NBJ_EXIT_USAGE;
		}
	}
	caller.uid = getuid();
	caller.gid = getgid();
	caller.root = geteuid() == 0;
	memset(results, 0, sizeof(results));
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		const struct doctor_check *c = &checks[i];
		const struct check_result *dep = c->needs ? find_result(results, c->needs) : NULL;

		if (dep && dep->status != CHECK_PASS)
			set_result(&results[i], CHECK_SKIP, NULL, "not tried: needs %s, which "
				   "did not pass", c->needs);
		else
			run_trial(c, &results[i]);
		if (c->required && results[i].status != CHECK_PASS)
			full = false;
	}
	if (json)
		print_json(results, full);
	else
		print_text(results, full);
	fflush(stdout);
	return full ? 0 : 1;
}
