/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/unix.c - AF_UNIX socket calls, decided once and carried out by
 * the supervisor
 *
 * DOC: Theory of operation
 *
 * Letting the kernel continue a notified call means the kernel reads the
 * call's sockaddr (and the msghdr that points to it) again, after the
 * supervisor judged it: a thread of the job that flips one byte of the
 * path in between reaches whatever socket the new path names.  For IPv4
 * and IPv6 that is harmless, nftables and the relay judge the flow again;
 * for a pathname AF_UNIX socket nothing stands behind the check.  So a
 * call on an AF_UNIX socket is never continued when the kernel would look
 * an address up; the supervisor carries it out itself:
 *
 *   1. seccomp/notify.c copies the caller's socket (pidfd_getfd) and sees
 *      that it is AF_UNIX: by the socket, not by the address the memory
 *      holds, which the job may rewrite into anything
 *   2. the address is read from the job's memory once; a pathname is
 *      resolved in the job's root (or beneath its cwd) to an O_PATH fd,
 *      with openat2() RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, and the
 *      policy is decided on THAT inode: connect() and datagram sends to a
 *      socket on one of the job's private mounts or to a `unix_allow`
 *      inode, bind() in a directory on a private mount; else EACCES and an
 *      audit line (by notify.c)
 *   3. a helper process (clone3, no exit signal, reaped by pidfd) takes
 *      the job thread's uids, gids, groups, umask and (in the same user
 *      namespace only) capabilities, resolves the path again with them
 *      from the same base and checks that it is the inode decided on (so
 *      directory permissions apply as for the job), and then works on the
 *      job's own socket, through the copy (same file description):
 *      connect() to "/proc/self/fd/N" of the verified inode, bind() of the
 *      last component after fchdir() into the verified directory, or
 *      sendmsg() of the data it read from the job once, to the verified
 *      inode.  Abstract and unnamed addresses are used as read; the
 *      abstract namespace is the socket's network namespace, the job's.
 *   4. the helper answers the notification with the call's result (0, a
 *      byte count, or -errno), so a blocking connect() blocks the helper
 *      and not the supervisor; a non-blocking socket stays non-blocking
 *      (EAGAIN from a full backlog), since the file description is shared
 *
 * The listener's SO_PEERCRED (and SCM_CREDENTIALS of a performed send)
 * show the job thread's uid and gid, but the helper's pid (0 when the
 * listener is in the job's PID namespace).  A send's ancillary data is
 * read once too: SCM_RIGHTS is carried over (the helper copies each named
 * fd with pidfd_getfd(), so the receiver gets the same open files), any
 * other kind (SCM_CREDENTIALS) is refused, as is sendmmsg() on any AF_UNIX
 * socket;
 * bind() stores the last component as the socket's address, which is what
 * getsockname() then returns.  Stream and seqpacket sockets ignore or
 * refuse a send's address, but their sends are not continued either: the
 * kernel would look the fd number up again, and another thread may have
 * put a datagram socket there meanwhile (issue 16).
 *
 * Behind this, the kernel itself refuses socket files outside the job's
 * private directories (unix_private_dirs[]): the workload restricts itself
 * with a Landlock ruleset that handles only LANDLOCK_ACCESS_FS_MAKE_SOCK
 * (unix_landlock_apply()), so that even a bind() the kernel carries out
 * for the job (a call continued as an IPv4 bind whose fd another thread
 * replaced by an AF_UNIX socket) cannot plant a socket in a host
 * directory.  Helpers are not in that domain.  Connect and send have no
 * such backstop on this kernel (Landlock ABI 7 does not mediate them),
 * which is why no connect or send the notifier judged is continued, on
 * any socket (seccomp/notify.c).
 *
 * Starting a helper costs a clone of the supervisor: too much for every
 * send on a connected stream or seqpacket socket (an fd-passing or D-Bus
 * client makes many).  Those without ancillary data are carried out by
 * the supervisor itself (send_here()), on its copy of the job's socket,
 * with the data read once, as the job thread's real uid and gid (the ids
 * the kernel puts into the receiver's SCM_CREDENTIALS; a root supervisor
 * switches only its own thread's real ids for the call, keeping its
 * effective ids, and dies if it cannot switch back); one that would
 * block, or whose ids it cannot take, goes to a helper after all.
 *
 * A connect to a socket on the job's private mounts (the dock's, the
 * job's own services) is made by the supervisor itself too
 * (connect_here()): a clone per connect cost every dock call some 5 ms.
 * It takes the calling thread's effective and filesystem ids and groups
 * for the call (as root; rootless only when they are already ours),
 * resolves the path again with them, and takes its own back or aborts.
 * The supervisor becomes non-dumpable then (the kernel's rule for a
 * changed euid), which it may well be.
 *
 * Netlink sockets (the only other family a job may create) use the same
 * helpers, for the same reason: their connect and sends must not be
 * continued either, or a thread that swaps the fd number for an AF_UNIX
 * socket and flips the address into a path reaches a host socket
 * (tests/escape/unix_swap.c netlink-*).  But their permission checks are
 * the caller's capabilities (netlink_ns_capable(): the socket's opener
 * and the sender), which the supervisor must not lend: the helper first
 * joins the calling thread's user namespace (setns() on a pidfd), then
 * takes its uids, gids and capabilities *there* (ids mapped through the
 * thread's uid_map and gid_map; supplementary groups as far as the map
 * allows, which netlink does not check), so that the kernel sees exactly
 * the job's privileges (unix_netlink_call()).  A helper is not in the
 * job's PID namespace and is not dumpable: the job can neither name nor
 * trace it.  It costs a clone per netlink send (glibc makes one per
 * getaddrinfo() of an unspecified family).
 *
 * At most UNIX_HELPERS_MAX helpers run per job; more calls wait with
 * EAGAIN.  A helper whose caller gave up (signal, exit) is killed at the
 * next dispatch, every helper when the notifier goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <limits.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "seccomp/selection.h"
#include "common/escape.h"
#include "seccomp/unix.h"

#define UNIX_HELPERS_MAX 64
#ifndef LANDLOCK_ACCESS_FS_MAKE_SOCK
#define LANDLOCK_ACCESS_FS_MAKE_SOCK (1ULL << 9)
#endif
#define UNIX_GROUPS_MAX 256
#define UNIX_IOV_MAX 1024	/* UIO_MAXIOV */
#define UNIX_CONTROL_MAX 4096	/* ancillary data of one send */
#define UNIX_SEND_HERE_MAX 65536 /* a stream send carried out by the
				  * supervisor: beyond, a partial send */

/* A helper's fds, moved to fixed numbers before it drops everything else */
enum { HFD_LISTENER = 3, HFD_SOCK, HFD_BASE, HFD_DONE };

struct unix_helper {
	int pidfd;
	uint64_t id;
	pid_t pid;
	enum notify_call call;
	char target[4 * NBJ_UNIX_PATH_MAX + 1];
};

/*
 * One request to the netlink agent (SOCK_SEQPACKET, one per message): the
 * call, followed by the data read once from the caller; the socket comes
 * with it as SCM_RIGHTS
 */
struct agent_request {
	uint64_t id;
	int32_t call;		/* enum notify_call: connect, sendto, sendmsg */
	int32_t flags;
	uint32_t addrlen;	/* 0: no address */
	struct sockaddr_storage addr;
};

/* A helper's exit status: it answered, or answered EACCES because the
 * path named another inode when it looked again (a race: audited) */
enum { HELPER_ANSWERED, HELPER_FAILED, HELPER_PATH_CHANGED };

/* The calling thread's credentials, as /proc/TID/status shows them */
struct job_creds {
	uid_t uid[4];		/* real, effective, saved, filesystem */
	gid_t gid[4];
	gid_t groups[UNIX_GROUPS_MAX];
	size_t n_groups;
	unsigned long long cap_inh, cap_prm, cap_eff;
	pid_t tgid;		/* whose fd table SCM_RIGHTS numbers name */
	bool keep_caps;		/* same user namespace as the supervisor */
	dev_t userns_dev;	/* the thread's user namespace */
	ino_t userns_ino;
	mode_t umask;
};

/**
 * struct unix_ops - the helpers of one job
 * @helper:	running helpers, pidfd -1 for a free slot
 * @agent_pidfd: the netlink agent, -1 while none runs
 * @agent_sock:	our end of its request channel
 * @agent_creds: the caller it became (agent_start())
 * @listener:	the job's seccomp listener
 * @refused:	audits a call a helper refused
 * @ctx:	for @refused
 */
struct unix_ops {
	struct unix_helper helper[UNIX_HELPERS_MAX];
	int agent_pidfd;
	int agent_sock;
	struct job_creds agent_creds;
	int listener;
	unix_refused_fn refused;
	void *ctx;
	struct iovec iov[UNIX_IOV_MAX];
	char data[UNIX_SEND_HERE_MAX];
};


/* What a helper does */
struct helper_task {
	enum notify_call call;
	uint64_t id;
	pid_t pid;
	pid_t supervisor;	/* the helper dies with it */
	bool pathname;		/* resolve @path from HFD_BASE, check @dev/@ino */
	char path[NBJ_UNIX_PATH_MAX + 2];
	dev_t dev;
	ino_t ino;
	char name[NBJ_UNIX_PATH_MAX + 1];	/* bind: the last component */
	struct sockaddr_un addr;		/* used as read if !pathname */
	socklen_t addrlen;			/* 0: no address (sendmsg) */
	uint64_t buf;		/* sendto: the data */
	size_t len;
	uint64_t iov;		/* sendmsg: the iovec array */
	size_t iovlen;
	size_t max_len;		/* datagram size the socket takes */
	bool stream;		/* stream or seqpacket: @addr is not looked up
				 * (the socket is connected) */
	bool partial;		/* a stream: a send beyond @max_len is partial
				 * (a seqpacket one fails, as a datagram) */
	int flags;
	unsigned char control[UNIX_CONTROL_MAX] __attribute__((aligned(8))); /* read once */
	size_t controllen;
	struct job_creds creds;
	bool join_userns;	/* netlink: become the caller in its own user
				 * namespace (unix_netlink_call()) */
};

/* The job's own mounts: sockets here are the job's, binds are allowed */
const char *const unix_private_dirs[UNIX_PRIVATE_DIRS] = { "/run", "/var/run", "/dev/shm" };

/**
 * unix_landlock_apply() - let the kernel refuse socket files outside the
 * job's private directories, for this process and what it starts
 *
 * Called in the workload, in the job's mount namespace, after
 * no_new_privs and before the seccomp filter.  A kernel without Landlock
 * leaves the helpers' checks as the only layer (logged by the caller).
 *
 * Return: 0, -EOPNOTSUPP without Landlock, or negative errno
 */
int unix_landlock_apply(void)
{
	struct {
		__u64 handled_access_fs;
	} ruleset = { .handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_SOCK };
	_cleanup_close_ int rfd = -1;

	rfd = (int)syscall(SYS_landlock_create_ruleset, &ruleset, sizeof(ruleset), 0);
	if (rfd < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP : negative_errno();
	for (size_t i = 0; i < UNIX_PRIVATE_DIRS; i++) {
		struct __attribute__((packed)) {
			__u64 allowed_access;
			__s32 parent_fd;
		} beneath = { .allowed_access = LANDLOCK_ACCESS_FS_MAKE_SOCK };
		_cleanup_close_ int fd = open(unix_private_dirs[i],
					      O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			continue;
		beneath.parent_fd = fd;
		if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
			    &beneath, 0) < 0)
			return negative_errno();
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		return negative_errno();
	return 0;
}

/**
 * unix_escape() - audit-safe text of a path or a name
 * @in:		bytes, up to @len or a NUL
 * @len:	their length
 * @out:	the text: every byte outside printable ASCII, the space and the
 *		backslash become \xHH, so that it cannot forge a field or line
 * @outlen:	room in @out (at least 1)
 */
void unix_escape(const char *in, size_t len, char *out, size_t outlen)
{
	text_escape(out, outlen, in, len, ESC_SPACE);
}

/* The base a path of the caller starts from: its root for an absolute
 * path, its cwd for a relative one.  Only meaningful if the caller still
 * waits afterwards: the caller checks the notification id. */
static int open_base(pid_t pid, const char *path)
{
	char proc[64];
	int fd;

	snprintf(proc, sizeof(proc), "/proc/%d/%s", pid, path[0] == '/' ? "root" : "cwd");
	fd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}

/* Resolve @path from @base as the caller's kernel would: absolute paths
 * inside its root, relative ones beneath its cwd (".." above the cwd or an
 * absolute symlink on the way is refused: EXDEV).  /proc magic links would
 * be resolved from the resolver's point of view: refused (ELOOP). */
static int open_from(int base, const char *path, unsigned long flags)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | flags,
		.resolve = RESOLVE_NO_MAGICLINKS |
			   (path[0] == '/' ? RESOLVE_IN_ROOT : RESOLVE_BENEATH),
	};
	int fd = (int)syscall(SYS_openat2, base, path, &how, sizeof(how));

	return fd < 0 ? negative_errno() : fd;
}

/**
 * unix_resolve_in_job() - what a path names in a process's view
 * @pid:	the process
 * @path:	absolute (inside its root) or relative (beneath its cwd)
 * @flags:	extra open flags (O_DIRECTORY)
 * @st:		the inode's attributes
 *
 * Return: 0, or negative errno (ENOENT, ENOTDIR, EXDEV, ELOOP, ...)
 */
int unix_resolve_in_job(pid_t pid, const char *path, unsigned long flags,
			struct stat *st)
{
	_cleanup_close_ int base = open_base(pid, path), fd = -1;

	if (base < 0)
		return base;
	fd = open_from(base, path, flags);
	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? negative_errno() : 0;
}

/* Refuse with @reason (audited), or with DECIDE_OTHER as the kernel
 * itself would (bad address, no such file: not audited) */
static void deny(struct verdict *v, int err, enum decide_reason reason)
{
	v->deny = true;
	v->err = err;
	v->reason = reason;
	v->audit = reason != DECIDE_OTHER;
}

static bool is_private_dev(const struct unix_call *uc, dev_t dev)
{
	for (size_t i = 0; i < uc->n_private_dev; i++)
		if (uc->private_dev[i] == dev)
			return true;
	return false;
}

static bool allowed_inode(const struct unix_call *uc, const struct stat *st)
{
	for (size_t i = 0; i < uc->n_allow; i++) {
		struct stat rule;

		if (unix_resolve_in_job(uc->pid, uc->allow[i].path, 0, &rule) == 0 &&
		    rule.st_dev == st->st_dev && rule.st_ino == st->st_ino)
			return true;
	}
	return false;
}

/**
 * read_mem() - copy @len bytes of another process's memory, all or nothing
 * @pid:	the process
 * @dst:	our buffer
 * @src:	the address in @pid
 * @len:	bytes
 *
 * Shared by the notifier (seccomp/notify.c) and the AF_UNIX calls here.
 *
 * Return: 0, -EFAULT for a short read, or negative errno
 */
long read_mem(pid_t pid, void *dst, uint64_t src, size_t len)
{
	struct iovec local = { .iov_base = dst, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)src, .iov_len = len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return negative_errno();
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* "Name:\tv1\tv2..." of /proc/TID/status: the values after the tab */
static const char *status_field(const char *status, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, name, len) && p[len] == ':')
			return p + len + 1;
	return NULL;
}

/* The calling thread's credentials; the caller checks the id afterwards */
static int read_creds(pid_t pid, struct job_creds *cr)
{
	char path[64], status[8192];
	struct stat self_ns, job_ns;
	_cleanup_close_ int fd = -1;
	const char *p;
	unsigned mask;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, status, sizeof(status) - 1);
	if (n <= 0 || n == sizeof(status) - 1)
		return -EIO;
	status[n] = '\0';
	p = status_field(status, "Tgid");
	if (!p || sscanf(p, "%d", &cr->tgid) != 1)
		return -EIO;
	p = status_field(status, "Uid");
	if (!p || sscanf(p, "%u %u %u %u", &cr->uid[0], &cr->uid[1], &cr->uid[2],
			 &cr->uid[3]) != 4)
		return -EIO;
	p = status_field(status, "Gid");
	if (!p || sscanf(p, "%u %u %u %u", &cr->gid[0], &cr->gid[1], &cr->gid[2],
			 &cr->gid[3]) != 4)
		return -EIO;
	p = status_field(status, "Umask");
	if (!p || sscanf(p, "%o", &mask) != 1)
		return -EIO;
	cr->umask = (mode_t)mask;
	if (!(p = status_field(status, "CapInh")) || sscanf(p, "%llx", &cr->cap_inh) != 1 ||
	    !(p = status_field(status, "CapPrm")) || sscanf(p, "%llx", &cr->cap_prm) != 1 ||
	    !(p = status_field(status, "CapEff")) || sscanf(p, "%llx", &cr->cap_eff) != 1)
		return -EIO;
	p = status_field(status, "Groups");
	if (!p)
		return -EIO;
	cr->n_groups = 0;
	for (;;) {
		char *end;
		unsigned long g;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			break;
		if (cr->n_groups == UNIX_GROUPS_MAX)
			return -E2BIG;
		g = strtoul(p, &end, 10);
		cr->groups[cr->n_groups++] = (gid_t)g;
		p = end;
	}
	/* capabilities mean the same only in the same user namespace */
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	if (stat(path, &job_ns) < 0 || stat("/proc/self/ns/user", &self_ns) < 0)
		return negative_errno();
	cr->keep_caps = job_ns.st_dev == self_ns.st_dev && job_ns.st_ino == self_ns.st_ino;
	cr->userns_dev = job_ns.st_dev;
	cr->userns_ino = job_ns.st_ino;
	return 0;
}

/* @id of our user namespace, as the thread @pid's map file @name
 * ("uid_map", "gid_map") maps it into its own; -ENOENT if unmapped */
static int map_into(pid_t pid, const char *name, uint32_t id, uint32_t *ret)
{
	char path[64], buf[4096];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	for (char *line = buf, *next; line && *line; line = next) {
		unsigned long inside, outside, count;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) != 3)
			return -EIO;
		if (id >= outside && id - outside < count) {
			*ret = (uint32_t)(inside + (id - outside));
			return 0;
		}
	}
	return -ENOENT;
}

/* @cr, read in our user namespace, as the thread's own user namespace
 * sees it: what a helper that joined it must become.  Capabilities are
 * bits of that namespace already; unmapped supplementary groups are
 * dropped (they would show as the overflow gid). */
static int creds_into_own_userns(pid_t pid, struct job_creds *cr)
{
	size_t kept = 0;
	int err;

	for (int i = 0; i < 4; i++) {
		err = map_into(pid, "uid_map", cr->uid[i], &cr->uid[i]);
		if (err == 0)
			err = map_into(pid, "gid_map", cr->gid[i], &cr->gid[i]);
		if (err < 0)
			return err;
	}
	for (size_t i = 0; i < cr->n_groups; i++)
		if (map_into(pid, "gid_map", cr->groups[i], &cr->groups[kept]) == 0)
			kept++;
	cr->n_groups = kept;
	cr->keep_caps = true;
	return 0;
}

/*
 * The helper, from here on: a copy of the supervisor without its threads
 * (glibc's view of it is stale, so only plain system calls), that becomes
 * the job thread's credentials and carries out one call.  Unprivileged
 * (rootless), it can only keep its own, which then must be the job's: the
 * set*id calls below succeed only for ids it already has.
 */
static int helper_take_creds(const struct job_creds *cr, bool joined)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (cr->keep_caps) {
		for (int i = 0; i < 2; i++) {
			data[i].effective = (uint32_t)(cr->cap_eff >> (32 * i));
			data[i].permitted = (uint32_t)(cr->cap_prm >> (32 * i));
			data[i].inheritable = (uint32_t)(cr->cap_inh >> (32 * i));
		}
	}
	if (syscall(SYS_setgroups, cr->n_groups, cr->groups) < 0 && !joined) {
		/* unprivileged (rootless): fine if they are ours already.
		 * Joined to a user namespace whose setgroups is denied, the
		 * supplementary groups stay ours: netlink checks none */
		gid_t cur[UNIX_GROUPS_MAX];
		long n = syscall(SYS_getgroups, UNIX_GROUPS_MAX, cur);

		if (n != (long)cr->n_groups ||
		    memcmp(cur, cr->groups, cr->n_groups * sizeof(gid_t)))
			return -EPERM;
	}
	if (syscall(SYS_setresgid, cr->gid[0], cr->gid[1], cr->gid[2]) < 0)
		return negative_errno();
	(void)syscall(SYS_setfsgid, cr->gid[3]);
	if (syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_setresuid, cr->uid[0], cr->uid[1], cr->uid[2]) < 0)
		return negative_errno();
	(void)syscall(SYS_setfsuid, cr->uid[3]);
	if (syscall(SYS_capset, &hdr, data) < 0 ||
	    syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return negative_errno();
	(void)syscall(SYS_umask, cr->umask);
	return 0;
}

/* In a helper: into the user namespace of the thread group @tgid (before
 * helper_take_creds(), whose ids and capabilities are that namespace's) */
static int helper_join_userns(pid_t tgid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tgid, 0), err = 0;

	if (pidfd < 0)
		return -ESRCH;
	if (syscall(SYS_setns, pidfd, CLONE_NEWUSER) < 0)
		err = negative_errno();
	(void)syscall(SYS_close, pidfd);
	return err;
}

/* Read what a send carries, once, while still privileged */
static long helper_read_data(const struct helper_task *t, struct iovec *data)
{
	struct iovec *remote = NULL;
	size_t total = 0, n_remote;
	ssize_t n;

	data->iov_base = NULL;
	data->iov_len = 0;
	if (t->call == NOTIFY_SENDTO) {
		static struct iovec one;

		one.iov_base = (void *)(uintptr_t)t->buf;
		one.iov_len = t->len;
		remote = &one;
		n_remote = 1;
		total = t->len;
	} else {
		if (t->iovlen > UNIX_IOV_MAX)
			return -EMSGSIZE;
		n_remote = t->iovlen;
		if (!n_remote)
			return 0;
		remote = mmap(NULL, n_remote * sizeof(*remote), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (remote == MAP_FAILED)
			return -ENOMEM;
		if (read_mem(t->pid, remote, t->iov, n_remote * sizeof(*remote)) < 0)
			return -EFAULT;
		for (size_t i = 0; i < n_remote; i++) {
			if (remote[i].iov_len > SSIZE_MAX - total)
				return -EINVAL;
			total += remote[i].iov_len;
		}
	}
	if (total > t->max_len && !t->partial)
		return -EMSGSIZE;
	if (total > t->max_len)
		total = t->max_len;	/* a partial send, as a stream may make */
	if (!total)
		return 0;
	data->iov_base = mmap(NULL, total, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data->iov_base == MAP_FAILED)
		return -ENOMEM;
	data->iov_len = total;
	n = process_vm_readv(t->pid, data, 1, remote, n_remote, 0);
	return n == (ssize_t)total ? 0 : -EFAULT;
}

/* SCM_RIGHTS: the job's fd numbers become the helper's copies of the same
 * open files (the supervisor checked that nothing else is in @t) */
static int helper_take_fds(const struct helper_task *t, unsigned char *control)
{
	struct msghdr local = { .msg_control = control, .msg_controllen = t->controllen };
	int pidfd = (int)syscall(SYS_pidfd_open, t->creds.tgid, 0);

	if (pidfd < 0)
		return -ESRCH;
	memcpy(control, t->control, t->controllen);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&local); cm; cm = CMSG_NXTHDR(&local, cm)) {
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(cm);

		for (size_t i = 0; i < n; i++) {
			int fd = (int)syscall(SYS_pidfd_getfd, pidfd, fds[i], 0);

			if (fd < 0)
				return -EBADF;	/* what the kernel answers */
			fds[i] = fd;
		}
	}
	return 0;
}

static bool path_changed;	/* in a helper: why it refused */

static long helper_call(const struct helper_task *t)
{
	struct sockaddr_un via = { .sun_family = AF_UNIX };
	const struct sockaddr *addr = (const struct sockaddr *)&t->addr;
	socklen_t addrlen = t->addrlen;
	struct iovec data = { 0 };
	unsigned char control[UNIX_CONTROL_MAX] __attribute__((aligned(8)));
	struct msghdr m = { 0 };
	int fd = -1;
	long err = 0;
	struct stat st;

	if (t->call == NOTIFY_SENDTO || t->call == NOTIFY_SENDMSG) {
		uint64_t id = t->id;

		err = helper_read_data(t, &data);
		if (err == 0 && t->controllen)
			err = helper_take_fds(t, control);
		if (err < 0)
			return err;
		/* what was read is the caller's only if it still waits */
		if (syscall(SYS_ioctl, HFD_LISTENER, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
			return -ESRCH;
	}
	if (t->join_userns && helper_join_userns(t->creds.tgid) < 0)
		return -EACCES;
	err = helper_take_creds(&t->creds, t->join_userns);
	if (err < 0)
		return -EACCES;
	/* set after the credentials, which clear it: a helper must not
	 * outlive the supervisor, blocked in a connect with the job's ids */
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    syscall(SYS_getppid) != t->supervisor)
		syscall(SYS_exit_group, 1);
	if (t->pathname) {
		/* again, with the job's credentials: directory permissions
		 * count as for the job, and it must be what was decided on */
		fd = open_from(HFD_BASE, t->path, t->call == NOTIFY_BIND ? O_DIRECTORY : 0);
		if (fd < 0)
			return fd == -ELOOP || fd == -EXDEV ? -EACCES : fd;
		if (fstat(fd, &st) < 0 || st.st_dev != t->dev || st.st_ino != t->ino) {
			path_changed = true;
			return -EACCES;
		}
		if (t->call == NOTIFY_BIND) {
			if (fchdir(fd) < 0)
				return negative_errno();
			memcpy(via.sun_path, t->name,
			       strnlen(t->name, sizeof(via.sun_path) - 1));
		} else {
			snprintf(via.sun_path, sizeof(via.sun_path), "/proc/self/fd/%d", fd);
		}
		addr = (const struct sockaddr *)&via;
		addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				      strlen(via.sun_path) + 1);
	}
	switch (t->call) {
	case NOTIFY_CONNECT:
		err = connect(HFD_SOCK, addr, addrlen);
		break;
	case NOTIFY_BIND:
		err = bind(HFD_SOCK, addr, addrlen);
		break;
	case NOTIFY_SENDTO:
	case NOTIFY_SENDMSG:
		m.msg_name = addrlen ? (void *)addr : NULL;
		m.msg_namelen = addrlen;
		m.msg_iov = &data;
		m.msg_iovlen = 1;
		m.msg_control = t->controllen ? control : NULL;
		m.msg_controllen = t->controllen;
		/* the helper must not die of SIGPIPE in the job's place;
		 * the caller gets it, as the kernel would have raised it */
		err = sendmsg(HFD_SOCK, &m, t->flags | MSG_NOSIGNAL);
		if (err < 0 && errno == EPIPE && !(t->flags & MSG_NOSIGNAL)) {
			(void)syscall(SYS_tgkill, t->creds.tgid, t->pid, SIGPIPE);
			errno = EPIPE;
		}
		break;
	default:
		return -ENOSYS;
	}
	return err < 0 ? negative_errno() : err;
}

static _Noreturn void helper_main(const struct helper_task *t)
{
	struct seccomp_notif_resp resp = { .id = t->id };
	long r;

	(void)syscall(SYS_close_range, HFD_DONE, ~0U, 0);
	r = helper_call(t);
	if (r < 0)
		resp.error = (int32_t)r;
	else
		resp.val = r;
	r = syscall(SYS_ioctl, HFD_LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	if (r < 0 && errno != ENOENT)
		syscall(SYS_exit_group, HELPER_FAILED);
	syscall(SYS_exit_group, path_changed && r == 0 ? HELPER_PATH_CHANGED : HELPER_ANSWERED);
	__builtin_unreachable();
}

/* In a new helper: @listener, @sock and @base (or nothing) to their fixed
 * numbers HFD_*; dup3 keeps none across exec, and there is no exec */
static void child_fds_fixed(int listener, int sock, int base)
{
	int fds[] = { listener, sock, base };
	int tmp[3];

	for (int i = 0; i < 3; i++)
		tmp[i] = fds[i] < 0 ? -1 : (int)syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, 64);
	for (int i = 0; i < 3; i++)
		if (tmp[i] >= 0)
			(void)syscall(SYS_dup3, tmp[i], HFD_LISTENER + i, O_CLOEXEC);
		else
			(void)syscall(SYS_close, HFD_LISTENER + i);
}

/* Start a helper for @t with @sock and @base; -errno if none could start */
static int helper_start(struct unix_ops *u, const struct helper_task *t, int sock,
			int base, const char *target)
{
	struct unix_helper *slot = NULL;
	struct clone_args args = { .flags = CLONE_PIDFD, .exit_signal = 0 };
	int pidfd = -1;
	pid_t pid;

	for (size_t i = 0; i < UNIX_HELPERS_MAX && !slot; i++)
		if (u->helper[i].pidfd < 0)
			slot = &u->helper[i];
	if (!slot)
		return -EAGAIN;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		child_fds_fixed(u->listener, sock, base);
		helper_main(t);
	}
	slot->pidfd = pidfd;
	slot->id = t->id;
	slot->pid = t->pid;
	slot->call = t->call;
	snprintf(slot->target, sizeof(slot->target), "%s", target);
	return 0;
}

/*
 * The netlink agent (ROLE_NETLINK_AGENT): one helper per job, started at the first netlink
 * call, that joined the caller's user namespace as the caller once and
 * then carries out call after call (a clone per call costs milliseconds,
 * and glibc makes a netlink send per getaddrinfo()).  It is handed our
 * copy of the socket and the data we read once; it never reads the job's
 * memory (as the job, it may not).  A caller with other credentials than
 * the agent took gets a helper of its own (unix_netlink_call()).
 */
static _Noreturn void agent_main(const struct helper_task *t)
{
	static unsigned char data[UNIX_SEND_HERE_MAX];
	struct agent_request rq;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;

	(void)syscall(SYS_prctl, PR_SET_NAME, "nbjail-netlink", 0, 0, 0);
	(void)syscall(SYS_close_range, HFD_DONE, ~0U, 0);
	if (syscall(SYS_close_range, HFD_BASE, HFD_BASE, 0) < 0)
		syscall(SYS_exit_group, HELPER_FAILED);
	if (helper_join_userns(t->creds.tgid) < 0 ||
	    helper_take_creds(&t->creds, true) < 0 ||
	    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    syscall(SYS_getppid) != t->supervisor)
		syscall(SYS_exit_group, HELPER_FAILED);
	for (;;) {
		struct iovec iov[2] = { { &rq, sizeof(rq) }, { data, sizeof(data) } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2,
				    .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		struct seccomp_notif_resp resp = { 0 };
		struct iovec one = { data, 0 };
		struct msghdr out = { .msg_iov = &one, .msg_iovlen = 1 };
		struct cmsghdr *cm;
		long n = syscall(SYS_recvmsg, HFD_SOCK, &m, MSG_CMSG_CLOEXEC);
		int fd = -1;

		if (n <= 0)
			syscall(SYS_exit_group, HELPER_ANSWERED); /* the supervisor went */
		cm = CMSG_FIRSTHDR(&m);
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if ((size_t)n < sizeof(rq) || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fd < 0 ||
		    rq.addrlen > sizeof(rq.addr)) {
			if (fd >= 0)
				(void)syscall(SYS_close, fd);
			syscall(SYS_exit_group, HELPER_FAILED); /* not from us */
		}
		resp.id = rq.id;
		one.iov_len = (size_t)n - sizeof(rq);
		out.msg_name = rq.addrlen ? &rq.addr : NULL;
		out.msg_namelen = rq.addrlen;
		if (rq.call == NOTIFY_CONNECT)
			n = syscall(SYS_connect, fd, &rq.addr, rq.addrlen);
		else
			n = syscall(SYS_sendmsg, fd, &out, rq.flags | MSG_NOSIGNAL);
		if (n < 0)
			resp.error = -errno;
		else
			resp.val = n;
		(void)syscall(SYS_close, fd);
		(void)syscall(SYS_ioctl, HFD_LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

/* Start the agent as the caller @t names; -errno if it cannot */
static int agent_start(struct unix_ops *u, const struct helper_task *t)
{
	struct clone_args args = { .flags = CLONE_PIDFD, .exit_signal = 0 };
	int pair[2], pidfd = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return negative_errno();
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		int err = negative_errno();

		close(pair[0]);
		close(pair[1]);
		return err;
	}
	if (pid == 0) {
		child_fds_fixed(u->listener, pair[1], -1);
		agent_main(t);
	}
	close(pair[1]);
	u->agent_pidfd = pidfd;
	u->agent_sock = pair[0];
	u->agent_creds = t->creds;
	return 0;
}

/* Stop the agent, if one runs */
static void agent_stop(struct unix_ops *u)
{
	if (u->agent_pidfd < 0)
		return;
	closep(&u->agent_sock);
	(void)syscall(SYS_pidfd_send_signal, u->agent_pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)u->agent_pidfd, &(siginfo_t){ 0 }, WEXITED | __WALL);
	closep(&u->agent_pidfd);
	u->agent_pidfd = u->agent_sock = -1;
}

static bool same_creds(const struct job_creds *a, const struct job_creds *b)
{
	return a->tgid > 0 && b->tgid > 0 &&
	       a->userns_dev == b->userns_dev && a->userns_ino == b->userns_ino &&
	       !memcmp(a->uid, b->uid, sizeof(a->uid)) && !memcmp(a->gid, b->gid, sizeof(a->gid)) &&
	       a->n_groups == b->n_groups &&
	       !memcmp(a->groups, b->groups, a->n_groups * sizeof(a->groups[0])) &&
	       a->cap_inh == b->cap_inh && a->cap_prm == b->cap_prm && a->cap_eff == b->cap_eff;
}

/*
 * Hand @t to the agent (starting it if none runs) with @sock and the data
 * read here once.  Return: 0 when the agent answers the call, -EAGAIN when
 * it cannot take it (other credentials, more data than a request holds,
 * or it died): a helper of its own must
 */
static int agent_request(struct unix_ops *u, const struct helper_task *t, pid_t pid,
			 int sock, struct unix_call *uc)
{
	struct agent_request rq = { .id = t->id, .call = (int32_t)t->call, .flags = t->flags,
				    .addrlen = t->addrlen };
	struct iovec one = { .iov_base = (void *)(uintptr_t)t->buf, .iov_len = t->len };
	const struct iovec *remote = &one;
	size_t n_remote = 1, total = 0;
	struct iovec iov[2] = { { &rq, sizeof(rq) }, { u->data, 0 } };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2,
			    .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	siginfo_t si = { 0 };

	if (u->agent_pidfd >= 0 &&
	    (waitid(P_PIDFD, (id_t)u->agent_pidfd, &si, WEXITED | WNOHANG | __WALL) < 0 || si.si_pid))
		agent_stop(u);	/* it died: a new one */
	if (u->agent_pidfd >= 0 && !same_creds(&u->agent_creds, &t->creds))
		return -EAGAIN;
	if (t->call == NOTIFY_SENDMSG) {
		if (t->iovlen > UNIX_IOV_MAX)
			return -EAGAIN;
		if (t->iovlen && read_mem(pid, u->iov, t->iov, t->iovlen * sizeof(struct iovec)) < 0)
			return -EAGAIN;
		remote = u->iov;
		n_remote = t->iovlen;
	} else if (t->call == NOTIFY_CONNECT) {
		n_remote = 0;
	}
	for (size_t i = 0; i < n_remote; i++) {
		if (remote[i].iov_len > sizeof(u->data) - total)
			return -EAGAIN;
		total += remote[i].iov_len;
	}
	if (total > t->max_len)
		return -EAGAIN;	/* the kernel's EMSGSIZE, from a helper */
	iov[1].iov_len = total;
	if (total && process_vm_readv(pid, &iov[1], 1, remote, n_remote, 0) != (ssize_t)total)
		return -EAGAIN;
	memcpy(&rq.addr, &t->addr, t->addrlen);
	if (u->agent_pidfd < 0 && agent_start(u, t) < 0)
		return -EAGAIN;
	/* what was read is the caller's only if it still waits */
	if (seccomp_notify_id_valid(u->listener, t->id) < 0) {
		uc->result = -ESRCH;
		return -ESRCH;
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sock, sizeof(int));
	if (sendmsg(u->agent_sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -EAGAIN;
	return 0;
}

/* Wait for a helper that ended (or was killed); answer its call if it
 * could not */
static void helper_reap(struct unix_ops *u, struct unix_helper *h, bool wait)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)h->pidfd, &si, WEXITED | __WALL | (wait ? 0 : WNOHANG)) < 0 ||
	    si.si_pid == 0)
		return;
	if (si.si_code == CLD_EXITED && si.si_status == HELPER_PATH_CHANGED && u->refused) {
		u->refused(u->ctx, h->pid, h->call, h->target, DECIDE_UNIX_PATH_CHANGED);
	} else if (si.si_code != CLD_EXITED || si.si_status != HELPER_ANSWERED) {
		struct seccomp_notif_resp resp = { .id = h->id, .error = -EACCES };

		(void)ioctl(u->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	closep(&h->pidfd);
	h->pidfd = -1;
}

/**
 * unix_ops_reap() - collect helpers that ended; kill those whose caller
 * no longer waits (a signal interrupted it, or it died)
 * @u:		helpers
 */
void unix_ops_reap(struct unix_ops *u)
{
	for (size_t i = 0; i < UNIX_HELPERS_MAX; i++) {
		struct unix_helper *h = &u->helper[i];

		if (h->pidfd < 0)
			continue;
		helper_reap(u, h, false);
		if (h->pidfd >= 0 && seccomp_notify_id_valid(u->listener, h->id) < 0) {
			(void)syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
			helper_reap(u, h, true);
		}
	}
}

/**
 * unix_ops_new() - room for the helpers of one job
 * @listener:	the job's seccomp listener (borrowed)
 * @refused:	audits a call a helper refused (called while reaping)
 * @ctx:	for @refused
 * @ret:	the helpers
 *
 * Return: 0, or -ENOMEM
 */
int unix_ops_new(int listener, unix_refused_fn refused, void *ctx,
		 struct unix_ops **ret)
{
	struct unix_ops *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	for (size_t i = 0; i < UNIX_HELPERS_MAX; i++)
		u->helper[i].pidfd = -1;
	u->agent_pidfd = u->agent_sock = -1;
	u->listener = listener;
	u->refused = refused;
	u->ctx = ctx;
	*ret = u;
	return 0;
}

/**
 * unix_ops_free() - kill and reap every helper, free @u
 * @u:		helpers, may be NULL
 */
void unix_ops_free(struct unix_ops *u)
{
	if (!u)
		return;
	u->refused = NULL;	/* the job is over */
	agent_stop(u);
	for (size_t i = 0; i < UNIX_HELPERS_MAX; i++) {
		if (u->helper[i].pidfd < 0)
			continue;
		(void)syscall(SYS_pidfd_send_signal, u->helper[i].pidfd, SIGKILL, NULL, 0);
		helper_reap(u, &u->helper[i], true);
	}
	free(u);
}

/* The socket a pathname names, or the directory a bind creates it in:
 * resolved, decided on, and kept as @t's inode with its @base */
static void judge_path(struct unix_call *uc, struct helper_task *t, int *ret_base,
		       struct verdict *v)
{
	_cleanup_close_ int base = -1, fd = -1;
	const char *slash;
	struct stat st;

	if (uc->call == NOTIFY_BIND) {
		/* the socket does not exist yet: judge its directory */
		slash = strrchr(t->path, '/');
		const char *name = slash ? slash + 1 : t->path;

		memcpy(t->name, name, strnlen(name, sizeof(t->name) - 1));
		if (!t->name[0]) {
			deny(v, ENOENT, DECIDE_OTHER);
			return;
		}
		if (!slash)
			snprintf(t->path, sizeof(t->path), ".");
		else if (slash == t->path)
			t->path[1] = '\0';
		else
			t->path[slash - t->path] = '\0';
	}
	base = open_base(uc->pid, t->path);
	if (base >= 0 && seccomp_notify_id_valid(uc->listener, uc->id) < 0) {
		deny(v, ESRCH, DECIDE_OTHER);	/* the pid may name another process now */
		return;
	}
	fd = base < 0 ? base : open_from(base, t->path, uc->call == NOTIFY_BIND ? O_DIRECTORY : 0);
	if (fd == -ENOENT || fd == -ENOTDIR) {
		deny(v, -fd, DECIDE_OTHER); /* what the kernel would answer */
		return;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		deny(v, EACCES, DECIDE_UNIX_PATH_UNRESOLVABLE);
		return;
	}
	if (!is_private_dev(uc, st.st_dev) &&
	    (uc->call == NOTIFY_BIND || !allowed_inode(uc, &st))) {
		deny(v, EACCES, DECIDE_UNIX_PATH);
		return;
	}
	if (!is_private_dev(uc, st.st_dev) && uc->revoked) {
		/* a host socket `unix_allow` lists: revocation closes it too
		 * (connections made before stay: nbjail holds none of them) */
		deny(v, EACCES, DECIDE_REVOKED);
		return;
	}
	t->pathname = true;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	*ret_base = TAKE_FD(base);
}

/* The address of a call, read once; judged if it is a pathname */
static enum unix_outcome judge_address(struct unix_call *uc, struct helper_task *t,
				       uint64_t uaddr, uint64_t ulen, int *ret_base,
				       struct verdict *v)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	const size_t sel = strlen(SELECT_ABSTRACT_PREFIX);
	const char *sp = t->addr.sun_path;
	size_t plen;

	if (ulen > sizeof(t->addr)) {
		deny(v, EINVAL, DECIDE_OTHER);
		return UNIX_ANSWER;
	}
	if (ulen && read_mem(uc->pid, &t->addr, uaddr, ulen) < 0) {
		deny(v, EFAULT, DECIDE_OTHER);
		return UNIX_ANSWER;
	}
	t->addrlen = (socklen_t)ulen;
	if (ulen <= off || t->addr.sun_family != AF_UNIX) {
		snprintf(uc->target, uc->target_len, "unix:unnamed");
		return UNIX_HANDED_OFF; /* the kernel answers for itself */
	}
	if (sp[0] == '\0') {
		plen = ulen - off - 1;
		if (uc->call == NOTIFY_CONNECT && plen > sel &&
		    !memcmp(sp + 1, SELECT_ABSTRACT_PREFIX, sel)) {
			uc->select_len = plen - sel;
			memcpy(uc->select, sp + 1 + sel, uc->select_len);
			return UNIX_SELECT;
		}
		unix_escape(sp + 1, plen, uc->target, uc->target_len);
		return UNIX_HANDED_OFF; /* abstract: the job's network namespace */
	}
	plen = strnlen(sp, ulen - off);
	memcpy(t->path, sp, plen);
	t->path[plen] = '\0';
	unix_escape(t->path, plen, uc->target, uc->target_len);
	judge_path(uc, t, ret_base, v);
	return v->deny ? UNIX_ANSWER : UNIX_HANDED_OFF;
}

/* A send's ancillary data, read once: only SCM_RIGHTS, which a helper
 * carries over as the same open files (pidfd_getfd) */
static int judge_control(struct unix_call *uc, struct helper_task *t,
			 const struct msghdr *m, struct verdict *v)
{
	struct msghdr local = { .msg_control = t->control };
	struct cmsghdr *cm;

	if (m->msg_controllen > sizeof(t->control)) {
		deny(v, ENOBUFS, DECIDE_OTHER);
		return -1;
	}
	if (read_mem(uc->pid, t->control, (uint64_t)(uintptr_t)m->msg_control,
		     m->msg_controllen) < 0) {
		deny(v, EFAULT, DECIDE_OTHER);
		return -1;
	}
	t->controllen = local.msg_controllen = m->msg_controllen;
	for (cm = CMSG_FIRSTHDR(&local); cm; cm = CMSG_NXTHDR(&local, cm)) {
		if (cm->cmsg_len < CMSG_LEN(0) ||
		    cm->cmsg_len > t->controllen - (size_t)((unsigned char *)cm - t->control)) {
			deny(v, EINVAL, DECIDE_OTHER);
			return -1;
		}
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			snprintf(uc->target, uc->target_len, "unix:ancillary:%d:%d",
				 cm->cmsg_level, cm->cmsg_type);
			deny(v, EACCES, DECIDE_UNIX_ANCILLARY);
			return -1;
		}
	}
	return 0;
}

/* This thread's real uid and gid become @uid and @gid (raw system calls:
 * glibc's wrappers would change every thread's); the effective ids, and
 * with them the capabilities, stay.  Return: 0, or negative errno */
static int real_ids_set(uid_t uid, gid_t gid)
{
	if (syscall(SYS_setresgid, gid, (gid_t)-1, (gid_t)-1) < 0)
		return negative_errno();
	if (syscall(SYS_setresuid, uid, (uid_t)-1, (uid_t)-1) < 0)
		return negative_errno();
	return 0;
}

/*
 * A send on a connected stream or seqpacket socket, without ancillary
 * data, carried out here on @uc->sock (the inspected socket), with the
 * data read once: see the theory above.
 *
 * Return: 0 with @uc->result, or -EAGAIN: a helper must do it (it would
 * block, or the job's ids cannot be taken here)
 */
static int send_here(struct unix_ops *u, struct unix_call *uc, const struct helper_task *t)
{
	const struct sockaddr *addr = t->addrlen ? (const struct sockaddr *)&t->addr : NULL;
	struct iovec local = { .iov_base = u->data };
	struct iovec one = { .iov_base = (void *)(uintptr_t)t->buf, .iov_len = t->len };
	const struct iovec *remote = &one;
	size_t n_remote = 1, total = 0;
	struct msghdr m = { .msg_name = (void *)addr, .msg_namelen = t->addrlen,
			    .msg_iov = &local, .msg_iovlen = 1 };
	uid_t uid = getuid();
	gid_t gid = getgid();
	bool switch_ids = uid != t->creds.uid[0] || gid != t->creds.gid[0];
	ssize_t r;
	int err;

	if (switch_ids && geteuid() != 0)
		return -EAGAIN;
	if (t->call == NOTIFY_SENDMSG) {
		if (t->iovlen > UNIX_IOV_MAX)
			goto done_err_msgsize;
		if (t->iovlen && read_mem(uc->pid, u->iov, t->iov, t->iovlen * sizeof(struct iovec)) < 0)
			goto done_err_fault;
		remote = u->iov;
		n_remote = t->iovlen;
	}
	for (size_t i = 0; i < n_remote; i++) {
		if (remote[i].iov_len > SSIZE_MAX - total) {
			uc->result = -EINVAL;
			return 0;
		}
		total += remote[i].iov_len;
	}
	if (total > sizeof(u->data) && !t->partial)
		return -EAGAIN;	/* a seqpacket message is sent whole: a helper */
	local.iov_len = total < sizeof(u->data) ? total : sizeof(u->data);
	if (local.iov_len &&
	    process_vm_readv(uc->pid, &local, 1, remote, n_remote, 0) != (ssize_t)local.iov_len)
		goto done_err_fault;
	if (seccomp_notify_id_valid(uc->listener, uc->id) < 0) {
		uc->result = -ESRCH;
		return 0;
	}
	if (switch_ids && real_ids_set(t->creds.uid[0], t->creds.gid[0]) < 0) {
		(void)real_ids_set(uid, gid);
		return -EAGAIN;
	}
	r = sendmsg(uc->sock, &m, t->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
	err = r < 0 ? errno : 0;
	if (switch_ids && real_ids_set(uid, gid) < 0) {
		/* never go on as another user */
		fprintf(stderr, "nbjail: cannot take back our own ids: %m\n");
		abort();
	}
	if (err == EAGAIN && !(t->flags & MSG_DONTWAIT)) {
		int fl = fcntl(uc->sock, F_GETFL);

		if (fl >= 0 && !(fl & O_NONBLOCK))
			return -EAGAIN;	/* it waits: in a helper */
	}
	if (err == EPIPE && !(t->flags & MSG_NOSIGNAL))
		(void)syscall(SYS_tgkill, t->creds.tgid, uc->pid, SIGPIPE);
	uc->result = err ? -err : r;
	return 0;
done_err_msgsize:
	uc->result = -EMSGSIZE;
	return 0;
done_err_fault:
	uc->result = -EFAULT;
	return 0;
}

/* This process's ids, or the calling thread's (raw system calls: the
 * supervisor has one thread, and glibc's wrappers would signal others):
 * effective and filesystem uid and gid, supplementary groups.  Real and
 * saved ids stay, so that root can switch back.  Return: 0 or -errno */
static int effective_ids_set(uid_t euid, uid_t fsuid, gid_t egid, gid_t fsgid,
			     size_t n_groups, const gid_t *groups)
{
	if (syscall(SYS_setgroups, n_groups, groups) < 0 ||
	    syscall(SYS_setresgid, (gid_t)-1, egid, (gid_t)-1) < 0 ||
	    syscall(SYS_setresuid, (uid_t)-1, euid, (uid_t)-1) < 0)
		return negative_errno();
	(void)syscall(SYS_setfsgid, fsgid);
	(void)syscall(SYS_setfsuid, fsuid);
	return 0;
}

/* Back to our own ids after effective_ids_set(): the uid first, which
 * gives back the capabilities the others need */
static int ids_take_back(uid_t euid, uid_t fsuid, gid_t egid, gid_t fsgid,
			 size_t n_groups, const gid_t *groups)
{
	if (syscall(SYS_setresuid, (uid_t)-1, euid, (uid_t)-1) < 0 ||
	    syscall(SYS_setresgid, (gid_t)-1, egid, (gid_t)-1) < 0 ||
	    syscall(SYS_setgroups, n_groups, groups) < 0)
		return negative_errno();
	(void)syscall(SYS_setfsgid, fsgid);
	(void)syscall(SYS_setfsuid, fsuid);
	return 0;
}

/*
 * A connect to a socket on one of the job's private mounts (the dock's
 * /run/nbjail/dock.sock, the job's own services), made here rather than
 * in a helper: a helper costs a clone of the supervisor, some 5 ms on a
 * loaded 2-core machine, which every dock call paid.  It does what the
 * helper does: it becomes the calling thread (effective and filesystem
 * ids and groups: the listener's SO_PEERCRED and SO_PEERGROUPS show the
 * job's, never ours), resolves the path again from the same base and
 * checks that it names the inode decided on (directory permissions
 * count as for the job), connects our copy of the job's socket to it
 * through /proc/self/fd, and becomes itself again, or dies: it never
 * goes on as another user.  A connect that would wait (a full backlog of
 * a blocking socket) waits at most NOTIFY_BLOCK_MS, as SO_SNDTIMEO, and
 * is then left to a helper, which waits as the job's thread would.
 *
 * Return: 0 with @uc->result, or -EAGAIN: a helper must do it (other
 * ids that an unprivileged supervisor cannot take, a path that changed,
 * a wait)
 */
static int connect_here(struct unix_ops *u, struct unix_call *uc, const struct helper_task *t,
			int base)
{
	const struct job_creds *cr = &t->creds;
	struct sockaddr_un via = { .sun_family = AF_UNIX };
	struct timeval old = { 0 }, bound = { .tv_usec = 100 * 1000 };
	socklen_t optlen = sizeof(old);
	gid_t groups[UNIX_GROUPS_MAX];
	uid_t euid = geteuid(), fsuid;
	gid_t egid = getegid(), fsgid;
	long n_groups = syscall(SYS_getgroups, UNIX_GROUPS_MAX, groups);
	bool same = euid == cr->uid[1] && euid == cr->uid[3] && egid == cr->gid[1] &&
		    egid == cr->gid[3] && n_groups == (long)cr->n_groups &&
		    !memcmp(groups, cr->groups, cr->n_groups * sizeof(gid_t));
	bool blocking, timed = false;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int err = 0, fl;

	(void)u;
	if (n_groups < 0 || cr->keep_caps || (!same && euid != 0))
		return -EAGAIN;
	fl = fcntl(uc->sock, F_GETFL);
	if (fl < 0)
		return -EAGAIN;
	blocking = !(fl & O_NONBLOCK);
	fsuid = (uid_t)syscall(SYS_setfsuid, (uid_t)-1);
	fsgid = (gid_t)syscall(SYS_setfsgid, (gid_t)-1);
	if (!same && effective_ids_set(cr->uid[1], cr->uid[3], cr->gid[1], cr->gid[3],
				       cr->n_groups, cr->groups) < 0) {
		err = -EAGAIN;
		goto back;
	}
	fd = open_from(base, t->path, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != t->dev || st.st_ino != t->ino) {
		err = -EAGAIN;	/* the helper looks again, and audits a change */
		goto back;
	}
	snprintf(via.sun_path, sizeof(via.sun_path), "/proc/self/fd/%d", fd);
	if (blocking && getsockopt(uc->sock, SOL_SOCKET, SO_SNDTIMEO, &old, &optlen) == 0 &&
	    !(old.tv_sec == 0 && old.tv_usec && old.tv_usec <= bound.tv_usec))
		timed = setsockopt(uc->sock, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound)) == 0;
	if (blocking && !timed) {
		err = -EAGAIN;
		goto back;
	}
	if (seccomp_notify_id_valid(uc->listener, uc->id) < 0) {
		uc->result = -ESRCH;
	} else if (connect(uc->sock, (struct sockaddr *)&via,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				       strlen(via.sun_path) + 1)) < 0) {
		uc->result = negative_errno();
		/* a blocking socket's wait ran out: the helper waits */
		if (blocking && (uc->result == -EAGAIN || uc->result == -EINTR))
			err = -EAGAIN;
	} else {
		uc->result = 0;
	}
	if (timed)
		(void)setsockopt(uc->sock, SOL_SOCKET, SO_SNDTIMEO, &old, sizeof(old));
back:
	if (!same && (ids_take_back(euid, fsuid, egid, fsgid, (size_t)n_groups, groups) < 0 ||
		      geteuid() != euid)) {
		fprintf(stderr, "nbjail: cannot take back our own ids: %m\n");
		abort();
	}
	return err;
}

static enum unix_outcome judge(struct unix_ops *u, struct unix_call *uc,
				struct verdict *v, bool here_first);

/**
 * unix_judge() - decide a call on an AF_UNIX socket and carry it out
 * @u:		the job's helpers
 * @uc:		the call
 * @v:		the verdict, when the call is answered by the caller
 *
 * Reads the call's address once, judges a pathname by the inode it names
 * in the job's view, and carries the call out with what was read and
 * decided: a send on a connected stream here (send_here()), the rest in a
 * helper.  Nothing is left to the kernel.
 *
 * Return: UNIX_HANDED_OFF if a helper answers the call, UNIX_PERFORMED
 * with @uc->result, UNIX_SELECT for nbjail-select's request, else
 * UNIX_ANSWER with @v (a refusal)
 */
enum unix_outcome unix_judge(struct unix_ops *u, struct unix_call *uc,
			     struct verdict *v)
{
	return judge(u, uc, v, true);
}

/**
 * unix_send_waiting() - a helper for a send on a connected stream socket
 * of another family (TCP) that the notifier could not make without
 * waiting: the helper waits, as the job's thread would have, and answers
 * @u:		the job's helpers
 * @uc:		the call: sendto or sendmsg, @uc->sock our copy of the
 *		socket the notifier judged, @uc->sotype SOCK_STREAM
 * @v:		the verdict, when the call is answered by the caller
 *
 * The address, ignored by a connected stream socket, is not used (the
 * caller never hands over MSG_FASTOPEN, whose address connects).
 *
 * Return: as unix_judge()
 */
enum unix_outcome unix_send_waiting(struct unix_ops *u, struct unix_call *uc,
				    struct verdict *v)
{
	return judge(u, uc, v, false);
}

/**
 * unix_netlink_call() - carry out a connect or send on a netlink socket,
 * in a helper that is the caller in the caller's own user namespace
 * @u:		the job's helpers
 * @uc:		the call: connect, sendto or sendmsg; @uc->sock our copy of
 *		the netlink socket the notifier inspected
 * @addr:	the address the notifier read once and judged (NULL: none)
 * @addrlen:	its length
 * @msg:	for sendmsg, the msghdr the notifier read once
 * @v:		the verdict, when the call is answered by the caller
 *
 * The call is made on @uc->sock with @addr and the data read once, never
 * continued (see the theory above): the helper joins the thread's user
 * namespace and takes its ids and capabilities there, so the kernel's
 * capability checks see the job.  sendmmsg() and ancillary data are
 * refused on netlink sockets.
 *
 * Return: UNIX_HANDED_OFF if a helper answers the call, else UNIX_ANSWER
 * with @v (a refusal)
 */
enum unix_outcome unix_netlink_call(struct unix_ops *u, struct unix_call *uc,
				    const void *addr, socklen_t addrlen,
				    const struct msghdr *msg, struct verdict *v)
{
	struct helper_task t = { .call = uc->call, .id = uc->id, .pid = uc->pid,
				  .supervisor = getpid(), .join_userns = true };
	int sndbuf = 0, err;
	socklen_t optlen = sizeof(sndbuf);

	memset(v, 0, sizeof(*v));
	if (addrlen > sizeof(t.addr)) {
		deny(v, EINVAL, DECIDE_OTHER);
		return UNIX_ANSWER;
	}
	if (addr && addrlen)
		memcpy(&t.addr, addr, addrlen);
	t.addrlen = addr ? addrlen : 0;
	switch (uc->call) {
	case NOTIFY_CONNECT:
		break;
	case NOTIFY_SENDTO:
		t.buf = uc->args[1];
		t.len = uc->args[2];
		t.flags = (int)uc->args[3];
		break;
	case NOTIFY_SENDMSG:
		if (msg->msg_controllen) {
			snprintf(uc->target, uc->target_len, "netlink:ancillary");
			deny(v, EACCES, DECIDE_UNIX_ANCILLARY);
			return UNIX_ANSWER;
		}
		t.iov = (uint64_t)(uintptr_t)msg->msg_iov;
		t.iovlen = msg->msg_iovlen;
		t.flags = (int)uc->args[2];
		break;
	default:
		snprintf(uc->target, uc->target_len, "netlink:%s", notify_call_name(uc->call));
		deny(v, EACCES, DECIDE_ADDRESS_FAMILY);
		return UNIX_ANSWER;
	}
	if (uc->call != NOTIFY_CONNECT) {
		if (getsockopt(uc->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, &optlen) < 0) {
			deny(v, EACCES, DECIDE_SOCKET_TYPE_UNKNOWN);
			return UNIX_ANSWER;
		}
		/* a message is sent whole, as the kernel would (EMSGSIZE) */
		t.max_len = sndbuf > 32 ? (size_t)sndbuf - 32 : 0;
	}
	err = read_creds(uc->pid, &t.creds);
	if (err == 0)
		err = creds_into_own_userns(uc->pid, &t.creds);
	if (err == 0 && seccomp_notify_id_valid(uc->listener, uc->id) < 0)
		err = -ESRCH;
	if (err < 0) {
		deny(v, err == -ESRCH ? ESRCH : EACCES, err == -ESRCH ? DECIDE_OTHER : DECIDE_UNIX_CREDS);
		return UNIX_ANSWER;
	}
	snprintf(uc->target, uc->target_len, "netlink");
	err = agent_request(u, &t, uc->pid, uc->sock, uc);
	if (err == 0)
		return UNIX_HANDED_OFF;
	if (err == -ESRCH) {
		deny(v, ESRCH, DECIDE_OTHER);
		return UNIX_ANSWER;
	}
	err = helper_start(u, &t, uc->sock, -1, uc->target);
	if (err < 0) {
		deny(v, err == -EAGAIN ? EAGAIN : EACCES, err == -EAGAIN ? DECIDE_OTHER : DECIDE_UNIX_HELPER);
		return UNIX_ANSWER;
	}
	return UNIX_HANDED_OFF;
}

static enum unix_outcome judge(struct unix_ops *u, struct unix_call *uc,
			       struct verdict *v, bool here_first)
{
	_cleanup_close_ int base = -1;
	struct helper_task t = { .call = uc->call, .id = uc->id, .pid = uc->pid,
				  .supervisor = getpid() };
	enum unix_outcome out;
	struct msghdr m;
	uint64_t uaddr = 0, ulen = 0;
	int sndbuf = 0, err;
	socklen_t optlen = sizeof(sndbuf);

	memset(v, 0, sizeof(*v));
	switch (uc->call) {
	case NOTIFY_CONNECT:
	case NOTIFY_BIND:
		uaddr = uc->args[1];
		ulen = uc->args[2];
		break;
	case NOTIFY_SENDTO:
	case NOTIFY_SENDMSG:
	case NOTIFY_SENDMMSG:
		/* a stream socket refuses a send's address, a seqpacket one
		 * ignores it: only datagrams go where an address says.  But
		 * none is continued: the kernel would look the fd number up
		 * again, and another thread may have put a datagram socket
		 * there meanwhile (issue 16).  A helper sends on this one. */
		t.stream = uc->sotype != SOCK_DGRAM;
		t.partial = uc->sotype == SOCK_STREAM;
		if (uc->call == NOTIFY_SENDMMSG) {
			snprintf(uc->target, uc->target_len, "unix:sendmmsg");
			deny(v, EACCES, DECIDE_UNIX_SENDMMSG);
			return UNIX_ANSWER;
		}
		if (getsockopt(uc->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, &optlen) < 0) {
			deny(v, EACCES, DECIDE_SOCKET_TYPE_UNKNOWN);
			return UNIX_ANSWER;
		}
		t.max_len = sndbuf > 32 ? (size_t)sndbuf - 32 : 0;
		if (uc->call == NOTIFY_SENDTO) {
			t.buf = uc->args[1];
			t.len = uc->args[2];
			t.flags = (int)uc->args[3];
			uaddr = uc->args[4];
			ulen = uc->args[5];
			break;
		}
		if (read_mem(uc->pid, &m, uc->args[1], sizeof(m)) < 0) {
			deny(v, EFAULT, DECIDE_OTHER);
			return UNIX_ANSWER;
		}
		t.flags = (int)uc->args[2];
		t.iov = (uint64_t)(uintptr_t)m.msg_iov;
		t.iovlen = m.msg_iovlen;
		uaddr = (uint64_t)(uintptr_t)m.msg_name;
		ulen = m.msg_name ? m.msg_namelen : 0;
		if (m.msg_controllen && judge_control(uc, &t, &m, v) < 0)
			return UNIX_ANSWER;
		break;
	default:
		return UNIX_ANSWER;
	}
	if (t.stream) {
		/* used as read, on the helper's own copy of this socket,
		 * which looks no address up */
		if (ulen > sizeof(t.addr)) {
			deny(v, EINVAL, DECIDE_OTHER);
			return UNIX_ANSWER;
		}
		if (uaddr && ulen && read_mem(uc->pid, &t.addr, uaddr, ulen) < 0) {
			deny(v, EFAULT, DECIDE_OTHER);
			return UNIX_ANSWER;
		}
		t.addrlen = uaddr ? (socklen_t)ulen : 0;
		snprintf(uc->target, uc->target_len, "unix:connected");
	} else if (uaddr || uc->call == NOTIFY_CONNECT || uc->call == NOTIFY_BIND) {
		out = judge_address(uc, &t, uaddr, ulen, &base, v);
		if (out != UNIX_HANDED_OFF)
			return out;
	}
	err = read_creds(uc->pid, &t.creds);
	if (err == 0 && seccomp_notify_id_valid(uc->listener, uc->id) < 0)
		err = -ESRCH;
	if (err < 0) {
		deny(v, err == -ESRCH ? ESRCH : EACCES, err == -ESRCH ? DECIDE_OTHER : DECIDE_UNIX_CREDS);
		return UNIX_ANSWER;
	}
	if (!here_first)
		t.addrlen = 0;	/* a connected stream's: not used */
	if (here_first && t.stream && !t.controllen && send_here(u, uc, &t) == 0)
		return UNIX_PERFORMED;
	if (here_first && uc->call == NOTIFY_CONNECT && t.pathname && is_private_dev(uc, t.dev) &&
	    connect_here(u, uc, &t, base) == 0)
		return UNIX_PERFORMED;
	err = helper_start(u, &t, uc->sock, base, uc->target);
	if (err < 0) {
		deny(v, err == -EAGAIN ? EAGAIN : EACCES, err == -EAGAIN ? DECIDE_OTHER : DECIDE_UNIX_HELPER);
		return UNIX_ANSWER;
	}
	return UNIX_HANDED_OFF;
}
