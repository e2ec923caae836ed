/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/filter.c - the job's plain seccomp filter (libseccomp)
 *
 * Theory of operation: the workload installs this filter as the very last
 * step before exec (after dropping its credentials and setting
 * no_new_privs, supervisor/creds.c), so that it and every descendant run
 * under it; a filter can only ever be made stricter.  The default action
 * is to allow: the filter denies the syscalls and arguments below, each
 * with the errno a program can understand, and kills the process for a
 * foreign architecture (i386 via int 0x80, x32), whose syscall numbers
 * would otherwise slip past every rule.
 *
 * The kernel path (namespaces, nftables, the relay) enforces the network
 * policy on its own; this filter removes the ways around it (raw and
 * packet sockets, netlink families other than route, new network or user
 * namespaces, io_uring, which bypasses seccomp for the operations it
 * queues), the terminal ioctls that type into a terminal (TIOCSTI,
 * TIOCLINUX) and the kernel attack surface a sandboxed build never needs.
 * With a listener (the normal case), the same filter hands connect,
 * bind, listen, sendmsg, sendmmsg and sendto with an address to the
 * supervisor (seccomp/notify.c), which answers each one.  Errno and kill
 * rules take precedence over notification, so a call denied here never
 * reaches the supervisor.  (A build with the meson option
 * bench_without_connect_notify leaves connect out, for bench/run to show
 * what the notifier costs; it is not a product mode.)
 *
 * nbjail(1), SECCOMP, lists every rule with its reason.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/bpfcache.h"
#include "common/log.h"
#include "common/util.h"
#include "seccomp/filter.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define NS_FLAGS (CLONE_NEWNET | CLONE_NEWUSER)

/* Syscalls denied outright, with their errno */

#ifdef NBJ_BENCH_WITHOUT_CONNECT_NOTIFY
#define BENCH_BUILD true
#else
#define BENCH_BUILD false
#endif

static const struct {
	const char *name;
	int err;
} denied[] = {
	/* io_uring queues I/O that seccomp never sees */
	{ "io_uring_setup", EPERM },
	{ "io_uring_enter", EPERM },
	{ "io_uring_register", EPERM },
	/* entering other namespaces (also needs CAP_SYS_ADMIN, dropped) */
	{ "setns", EPERM },
	/* clone3 passes its flags in memory that seccomp cannot read:
	 * ENOSYS makes libc fall back to clone, whose flags are checked */
	{ "clone3", ENOSYS },
	/* kernel programming, tracing and module loading */
	{ "bpf", EPERM },
	{ "perf_event_open", EPERM },
	{ "kexec_load", EPERM },
	{ "kexec_file_load", EPERM },
	{ "init_module", EPERM },
	{ "finit_module", EPERM },
	{ "delete_module", EPERM },
	/* other processes' memory */
	{ "ptrace", EPERM },
	{ "process_vm_readv", EPERM },
	{ "process_vm_writev", EPERM },
	/* kernel keyrings: shared across namespaces */
	{ "keyctl", EPERM },
	{ "add_key", EPERM },
	{ "request_key", EPERM },
	/* file handles reach files outside the job's mounts ("shocker") */
	{ "open_by_handle_at", EPERM },
	{ "name_to_handle_at", EPERM },
	/* a userfaultfd stalls the kernel at will */
	{ "userfaultfd", EPERM },
};

/* Address families a job may create sockets of; every other is refused */
static const int allowed_families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

static int add(scmp_filter_ctx ctx, int err, const char *name, unsigned n,
	       const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((uint32_t)err), nr, n, cmp);
	if (r < 0)
		log_err("seccomp rule for %s: %s", name, strerror(-r));
	return r;
}

static bool family_allowed(int family)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed_families); i++)
		if (allowed_families[i] == family)
			return true;
	return false;
}

/* socket() and socketpair(): families, raw sockets, netlink protocols */
static int add_socket_rules(scmp_filter_ctx ctx)
{
	static const char *const calls[] = { "socket", "socketpair" };
	int r = 0;

	for (size_t c = 0; c < ARRAY_SIZE(calls) && !r; c++) {
		/* every family but the allowed ones, AF_PACKET among them */
		for (int f = 0; f < AF_MAX && !r; f++)
			if (!family_allowed(f))
				r = add(ctx, EAFNOSUPPORT, calls[c], 1,
					(struct scmp_arg_cmp[]){ SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)f) });
		if (!r)
			r = add(ctx, EAFNOSUPPORT, calls[c], 1,
				(struct scmp_arg_cmp[]){ SCMP_A0(SCMP_CMP_GE, AF_MAX) });
		/* raw IP sockets (SOCK_RAW in the low bits of the type); netlink
		 * sockets are SOCK_RAW by nature and judged by protocol below */
		for (int f = 0; f < 2 && !r; f++)
			r = add(ctx, EPERM, calls[c], 2, (struct scmp_arg_cmp[]){
					SCMP_A0(SCMP_CMP_EQ, f ? AF_INET6 : AF_INET),
					SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW) });
		/* the obsolete SOCK_PACKET type of the inet families is a packet
		 * socket by another name: refused here whatever the job's
		 * capabilities (issue 16), like AF_PACKET itself */
		for (int f = 0; f < 2 && !r; f++)
			r = add(ctx, EAFNOSUPPORT, calls[c], 2, (struct scmp_arg_cmp[]){
					SCMP_A0(SCMP_CMP_EQ, f ? AF_INET6 : AF_INET),
					SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET) });
	}
	/* netlink: the route family only (read your own addresses; changing
	 * them needs CAP_NET_ADMIN, which the job does not have) */
	if (!r)
		r = add(ctx, EAFNOSUPPORT, "socket", 2, (struct scmp_arg_cmp[]){
				SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE) });
	return r;
}

static int add_ioctl_rule(scmp_filter_ctx ctx, int err, unsigned long request);

/* Ways around this filter and around the supervisor's memory reads */
static int add_nesting_rules(scmp_filter_ctx ctx)
{
	/* A job's own filter with a listener would win ties with ours: the
	 * kernel gives a notification to the newest filter that asks, and
	 * the job's listener could then answer "continue" itself */
	int r = add(ctx, EPERM, "seccomp", 2, (struct scmp_arg_cmp[]){
			SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
			SCMP_A1(SCMP_CMP_MASKED_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER,
				SECCOMP_FILTER_FLAG_NEW_LISTENER) });

	/* /dev/userfaultfd makes the same fds as the userfaultfd syscall:
	 * a page that never faults in would stall the supervisor reading it */
	if (!r)
		r = add_ioctl_rule(ctx, EPERM, USERFAULTFD_IOC_NEW);
	return r;
}

/*
 * ioctl(fd, REQUEST): the kernel takes the request as an unsigned int and
 * ignores the upper half of the register, while seccomp sees all 64 bits;
 * comparing only the low 32 bits (mask 0xffffffff) matches both spellings
 * of the request, so a job cannot slip past by setting high bits.
 */
static int add_ioctl_rule(scmp_filter_ctx ctx, int err, unsigned long request)
{
	return add(ctx, err, "ioctl", 1, (struct scmp_arg_cmp[]){
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL,
				(scmp_datum_t)(uint32_t)request) });
}

/* The terminal: TIOCSTI pushes bytes into a terminal's input as if typed
 * (a job that shares a terminal with a shell runs commands in it), and
 * TIOCLINUX's selection paste does the same on a virtual console.  The
 * job has its own session and pty anyway (supervisor/pty.c); this holds
 * for any terminal fd it might still reach. */
static int add_terminal_rules(scmp_filter_ctx ctx)
{
	int r = add_ioctl_rule(ctx, EPERM, TIOCSTI);

	if (!r)
		r = add_ioctl_rule(ctx, EPERM, TIOCLINUX);
	return r;
}

/* unshare() and clone() with new network or user namespaces */
static int add_namespace_rules(scmp_filter_ctx ctx)
{
	int r = add(ctx, EPERM, "unshare", 1, (struct scmp_arg_cmp[]){
			SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET) });

	if (!r)
		r = add(ctx, EPERM, "unshare", 1, (struct scmp_arg_cmp[]){
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER) });
	if (!r)
		r = add(ctx, EPERM, "clone", 1, (struct scmp_arg_cmp[]){
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET) });
	if (!r)
		r = add(ctx, EPERM, "clone", 1, (struct scmp_arg_cmp[]){
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER) });
	return r;
}

/* The calls the supervisor judges (seccomp/notify.c): everything that
 * names a peer or a local address.  sendto() without an address (send()
 * on a connected socket) is not worth a round trip. */
static int add_notify_rules(scmp_filter_ctx ctx)
{
	static const char *const calls[] = {
#ifndef NBJ_BENCH_WITHOUT_CONNECT_NOTIFY
		"connect",
#endif
		"bind", "listen", "sendmsg", "sendmmsg",
	};
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(calls) && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY,
				     seccomp_syscall_resolve_name(calls[i]), 0);
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY,
				     seccomp_syscall_resolve_name("sendto"), 1,
				     SCMP_A4(SCMP_CMP_NE, 0));
	if (r < 0)
		log_err("seccomp notify rules: %s", strerror(-r));
	return r;
}

/**
 * seccomp_filter_install() - install the job's filter in this process
 * @ret_listener: if not NULL, the socket calls are handed to a user-notify
 *		listener, returned here; the caller must pass it on to the
 *		supervisor and close its own copy before exec
 *
 * Needs no_new_privs (or CAP_SYS_ADMIN).  Inherited across fork and exec.
 * With a listener, every notified call of this process waits until the
 * listener answers, and fails with ENOSYS once no copy of it is left.
 *
 * Return: 0, or negative errno (the caller must not exec then)
 */
int seccomp_filter_install(int *ret_listener)
{
	struct sock_fprog prog;
	int r = seccomp_filter_build(ret_listener != NULL, &prog);

	if (r < 0)
		return r;
	r = seccomp_filter_load(&prog, ret_listener);
	free(prog.filter);
	return r;
}

static int build_ctx(bool notify, scmp_filter_ctx *ret)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < ARRAY_SIZE(denied) && !r; i++)
		r = add(ctx, denied[i].err, denied[i].name, 0, NULL);
	if (!r)
		r = add_socket_rules(ctx);
	if (!r)
		r = add_namespace_rules(ctx);
	if (!r)
		r = add_nesting_rules(ctx);
	if (!r)
		r = add_terminal_rules(ctx);
	if (!r && notify)
		r = add_notify_rules(ctx);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

/**
 * seccomp_filter_build() - compile the filter to BPF, to be loaded later
 * (by another process: the job's init compiles it while the supervisor
 * sets up the network, the workload only loads it)
 * @notify:	with the user-notify rules
 * @ret:	the program; free ret->filter with free()
 *
 * Return: 0, or negative errno
 */
int seccomp_filter_build(bool notify, struct sock_fprog *ret)
{
	scmp_filter_ctx ctx;
	_cleanup_close_ int fd = -1;
	struct sock_filter *insns;
	off_t len;
	int r;

	r = build_ctx(notify, &ctx);
	if (r < 0)
		return r;
	fd = memfd_create("nbjail-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		seccomp_release(ctx);
		return -errno;
	}
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0)
		return r;
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(*insns) || len / (off_t)sizeof(*insns) > BPF_MAXINSNS)
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

/**
 * seccomp_filter_load() - install a program from seccomp_filter_build()
 * in the calling process (single-threaded, with no_new_privs)
 * @prog:	the program
 * @ret_listener: NULL for a filter without notification; else the new
 *		listener's fd (see seccomp_filter_install())
 *
 * Return: 0, or negative errno (the caller must not exec then)
 */
int seccomp_filter_load(const struct sock_fprog *prog, int *ret_listener)
{
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 ret_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, prog);

	if (r < 0)
		return -errno;
	if (ret_listener)
		*ret_listener = (int)r;
	return 0;
}

/*
 * The cache's name: what decides the program (libseccomp's version, this
 * file's build) in a hash, so an upgrade never loads an old program
 */
static void cache_path(char *buf, size_t len, const char *dir)
{
	const struct scmp_version *v = seccomp_version();
	char key[128];

	snprintf(key, sizeof(key), "%s %s %u.%u.%u%s", __DATE__, __TIME__,
		 v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0,
		 BENCH_BUILD ? " without connect" : "");
	bpf_cache_path(buf, len, dir, "seccomp", key);
}

static int build_with_notify(void *unused, struct sock_fprog *ret)
{
	(void)unused;
	return seccomp_filter_build(true, ret);
}

/**
 * seccomp_filter_cached() - the filter with notification, from a cache in
 * @dir (the caller's, 0700) when an earlier job compiled it, else compiled
 * and cached: compiling costs some 2 ms of every job's start
 * @dir:	cache directory (nbjail's runtime directory, as root or
 *		rootless: gone at reboot, so never a program of another
 *		kernel; common/bpfcache.c)
 * @ret:	the program; free ret->filter with free()
 *
 * Return: 0, or negative errno
 */
int seccomp_filter_cached(const char *dir, struct sock_fprog *ret)
{
	char path[PATH_MAX];

	if (BENCH_BUILD)
		log_warn("this build does not judge connect() at the call (meson option "
			 "bench_without_connect_notify): for benchmarks only");
	cache_path(path, sizeof(path), dir);
	return bpf_cache_fetch(path, build_with_notify, NULL, ret);
}
