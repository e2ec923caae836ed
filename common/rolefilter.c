/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/rolefilter.c - the syscall allow-lists of the relay and the
 * audit writer
 *
 * Theory of operation: the job's own filter (seccomp/filter.c) is a deny
 * list with user notification, because the workload is any program.  The
 * relay and the audit writer are ours: each gets an allow-list of exactly
 * what its code calls once set-up is done, and anything else kills the
 * process (SECCOMP_RET_KILL_PROCESS, logged by the kernel with the
 * syscall's number).  A relay killed that way takes the job's network
 * with it (the supervisor reports "relay died (signal 31)"): fail closed.
 *
 * The lists are what relay/ and relay/auditd.c call after set-up, with
 * glibc, c-ares and libmnl under them (the writer speaks journald's
 * native protocol itself since 2026-12; memfd_create, ftruncate and
 * pwrite64 stay from libsystemd's days);
 * checked by running the integration suite with every relay and audit
 * writer under SECCOMP_RET_LOG (build with -DNBJ_ROLE_FILTER_LOG) and
 * finding no type=1326 record of comm nbjail-relay or nbjail-audit in
 * the kernel's log; strace of every relay and writer of that run saw
 * 28 distinct calls, all on the lists (the rest of the lists is what
 * malloc, stdio and c-ares may need on rarer paths).  Arguments are
 * pinned where the
 * call could do more than the role needs: socket() only for AF_INET and
 * AF_INET6 (the relay) or AF_UNIX (the writer, journald), socketpair()
 * only AF_UNIX (the relay: libcurl's wake-up pair, made when the dock's
 * first get loads libcurl, relay/dock_http.c), openat() only
 * read-only (c-ares reads /etc/hosts per lookup), ioctl() only FIONREAD
 * and FIONBIO.  No fork, exec, ptrace, mount, kill or namespace call is
 * on either list.
 *
 * The key holder (nbjail-keys) gets the shortest list: receive and send
 * on its one socket (the fd is pinned), memory without PROT_EXEC, signal
 * return and exit.  Not even open() or write(): a key holder that is
 * made to do anything but HMAC dies.
 *
 * role_filter_cached() keeps a role's program compiled in root's runtime
 * directory, for a parent to hand to a forked role (the audit writer,
 * supervisor/auditstart.c), which then only loads it
 * (role_filter_load()).
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/socket.h>

#include "common/bpfcache.h"
#include "common/log.h"
#include "common/roles.h"
#include "common/util.h"

/* What every role's glibc needs: memory, time, signals, exit */
static const char *const common_calls[] = {
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"futex", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
	"clock_gettime", "gettimeofday", "getpid", "gettid",
	"getrandom", "exit", "exit_group", "restart_syscall",
	"read", "write", "readv", "writev", "close", "fcntl", "lseek",
	"fstat", "newfstatat", "statx", "poll", "ppoll",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
	"recvfrom", "recvmsg", "sendto", "sendmsg", "getsockopt", "setsockopt",
	"shutdown", "getsockname", "getpeername",
};

static const char *const relay_calls[] = {
	"connect", "accept", "accept4", "bind", "listen",
	"sendmmsg", "recvmmsg", "splice", "pipe2",
	"timerfd_settime", "timerfd_gettime",
	/* glibc's qsort() asks for the memory size (get_phys_pages()),
	 * OpenSSL sorts its cipher table at its first use: the dock's
	 * first tls call (relay/tls_upstream.c) */
	"sysinfo",
};

/* sd_journal_sendv() passes a large entry as a sealed memfd; records
 * are taken in batches (relay/auditd.c) */
static const char *const audit_writer_calls[] = {
	"connect", "memfd_create", "recvmmsg",
};

static int allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int err;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call of this architecture */
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (err < 0)
			return err;
	}
	return 0;
}

static int allow_socket_family(scmp_filter_ctx ctx, int family)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family));
}

static int allow_pinned(scmp_filter_ctx ctx, enum proc_role role)
{
	int err;

	/* read-only opens: c-ares reads /etc/hosts for each lookup */
	err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
			       SCMP_A2(SCMP_CMP_MASKED_EQ,
				       (scmp_datum_t)(O_ACCMODE | O_CREAT | O_TRUNC |
						      O_APPEND | O_TMPFILE | O_PATH),
				       (scmp_datum_t)O_RDONLY));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FIONREAD));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FIONBIO));
	if (err)
		return err;
	if (role == ROLE_RELAY) {
		err = allow_socket_family(ctx, AF_INET);
		if (!err)
			err = allow_socket_family(ctx, AF_INET6);
		/* libcurl's multi handle: its wake-up pair (relay/dock_http.c) */
		if (!err)
			err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
					       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)AF_UNIX));
		return err;
	}
	/* the writer: journald's datagram socket */
	return allow_socket_family(ctx, AF_UNIX);
}

/* The key holder's calls: memory, exit, and its socket (pinned below) */
static const char *const keyholder_calls[] = {
	"brk", "munmap", "mremap", "madvise", "munlock",
	"rt_sigreturn", "exit", "exit_group",
#ifdef __SANITIZE_ADDRESS__
	/* the sanitizers' runtime, in test builds only (unit tests under
	 * ASan run the real nbjail-keys): its signal stack at exit */
	"sigaltstack",
#endif
};

/**
 * role_filter_apply_keyholder() - install the key holder's allow-list
 * @sock:	the one socket it may receive from and send to
 *
 * Return: 0, or negative errno
 */
int role_filter_apply_keyholder(int sock)
{
#ifdef NBJ_ROLE_FILTER_LOG
	const uint32_t deny = SCMP_ACT_LOG;
#else
	const uint32_t deny = SCMP_ACT_KILL_PROCESS;
#endif
	static const char *const socket_calls[] = { "recvfrom", "recvmsg", "sendto",
						     "sendmsg" };
	scmp_filter_ctx ctx = seccomp_init(deny);
	int err;

	if (!ctx)
		return -ENOMEM;
	err = allow_names(ctx, keyholder_calls, ARRAY_SIZE(keyholder_calls));
	for (size_t i = 0; !err && i < ARRAY_SIZE(socket_calls); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				       seccomp_syscall_resolve_name(socket_calls[i]), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)PROT_EXEC, 0));
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err < 0)
		log_err("%s: cannot install its syscall filter: %s",
			role_name(ROLE_KEYHOLDER), strerror(-err));
	return err;
}

/* The allow-list of @role as a libseccomp context */
static int role_ctx(enum proc_role role, scmp_filter_ctx *ret)
{
#ifdef NBJ_ROLE_FILTER_LOG
	const uint32_t deny = SCMP_ACT_LOG;
#else
	const uint32_t deny = SCMP_ACT_KILL_PROCESS;
#endif
	scmp_filter_ctx ctx;
	int err;

	if ((unsigned)role >= ROLE_COUNT ||
	    (proc_roles[role].filter != ROLE_FILTER_RELAY &&
	     proc_roles[role].filter != ROLE_FILTER_AUDIT_WRITER))
		return -EINVAL;
	ctx = seccomp_init(deny);
	if (!ctx)
		return -ENOMEM;
	err = allow_names(ctx, common_calls, ARRAY_SIZE(common_calls));
	if (!err && role == ROLE_RELAY)
		err = allow_names(ctx, relay_calls, ARRAY_SIZE(relay_calls));
	if (!err && role == ROLE_AUDIT_WRITER)
		err = allow_names(ctx, audit_writer_calls, ARRAY_SIZE(audit_writer_calls));
	if (!err)
		err = allow_pinned(ctx, role);
	if (err < 0) {
		seccomp_release(ctx);
		return err;
	}
	*ret = ctx;
	return 0;
}

/**
 * role_filter_apply() - install the syscall allow-list of @role's row
 * @role:	ROLE_RELAY or ROLE_AUDIT_WRITER (others have no list here; the
 *		key holder's is role_filter_apply_keyholder(), with its socket)
 *
 * Called once the role's set-up is done (sockets made, libraries
 * loaded, ids dropped); no_new_privs is already set (role_enter()).
 *
 * Return: 0, -EINVAL for a role without an allow-list, or negative errno
 */
int role_filter_apply(enum proc_role role)
{
	scmp_filter_ctx ctx;
	int err = role_ctx(role, &ctx);

	if (!err) {
		err = seccomp_load(ctx);
		seccomp_release(ctx);
	}
	if (err < 0)
		log_err("%s: cannot install its syscall filter: %s", role_name(role),
			strerror(-err));
	return err;
}

/* @role's allow-list compiled to BPF, as seccomp_load() would load it */
static int role_filter_build(enum proc_role role, struct sock_fprog *ret)
{
	_cleanup_close_ int fd = -1;
	scmp_filter_ctx ctx;
	struct sock_filter *insns;
	off_t len;
	int err = role_ctx(role, &ctx);

	if (err < 0)
		return err;
	fd = memfd_create("nbjail-role-filter", MFD_CLOEXEC);
	err = fd < 0 ? negative_errno() : seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (err < 0)
		return err;
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(*insns) ||
	    len / (off_t)sizeof(*insns) > BPF_MAXINSNS)
		return -EINVAL;
	insns = malloc((size_t)len);
	if (!insns)
		return -ENOMEM;
	if (pread(fd, insns, (size_t)len, 0) != len) {
		free(insns);
		return -EIO;
	}
	ret->filter = insns;
	ret->len = (unsigned short)(len / (off_t)sizeof(*insns));
	return 0;
}

/* bpf_cache_fetch()'s builder */
static int build_role(void *role, struct sock_fprog *ret)
{
	return role_filter_build(*(enum proc_role *)role, ret);
}

/**
 * role_filter_cached() - @role's allow-list as BPF, compiled once and
 * kept in root's runtime directory, for a parent to hand to a forked
 * role: compiling it costs a millisecond or two of CPU in every job,
 * taken from the job's own start on a small machine
 * @role:	ROLE_RELAY or ROLE_AUDIT_WRITER
 * @dir:	the cache's directory: nbjail's runtime directory (the
 *		caller's, gone at reboot, so never a program of another
 *		kernel; no job may write it: supervisor/fsview.c), or NULL
 * @ret:	the program; free ret->filter with free()
 *
 * The name hashes what decides the program: the role, libseccomp's
 * version, this file's build and its deny action.
 *
 * Return: 0, or negative errno (then the role compiles its own)
 */
int role_filter_cached(enum proc_role role, const char *dir, struct sock_fprog *ret)
{
	const struct scmp_version *v = seccomp_version();
	char key[160], name[64], path[PATH_MAX];

	if (!dir)
		return -EPERM;
	snprintf(key, sizeof(key), "%s %s %u.%u.%u %d %d", __DATE__, __TIME__,
		 v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0, (int)role,
#ifdef NBJ_ROLE_FILTER_LOG
		 1
#else
		 0
#endif
		);
	snprintf(name, sizeof(name), "seccomp-role-%s", role_name(role));
	bpf_cache_path(path, sizeof(path), dir, name, key);
	return bpf_cache_fetch(path, build_role, &role, ret);
}

/**
 * role_filter_load() - install an allow-list from role_filter_cached() in
 * the calling role, as role_filter_apply() would
 * @role:	the role (for the message)
 * @prog:	the program
 *
 * Return: 0, or negative errno
 */
int role_filter_load(enum proc_role role, const struct sock_fprog *prog)
{
	int err = 0;

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
		err = negative_errno();
	if (err < 0)
		log_err("%s: cannot install its syscall filter: %s", role_name(role),
			strerror(-err));
	return err;
}
