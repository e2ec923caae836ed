/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/notify.c - the supervisor's side of the job's user-notify filter
 *
 * Theory of operation: the job's filter (seccomp/filter.c) hands connect,
 * sendto with an address, sendmsg, sendmmsg, bind and listen to a
 * listener fd that only the supervisor holds (the workload and the job's
 * init close their copies before exec).  For each notification:
 *
 *   1. receive it; the calling thread sleeps in the kernel meanwhile
 *   2. copy the call's address out of the caller's memory with
 *      process_vm_readv(): the sockaddr, the msghdr and then its
 *      msg_name, or every mmsghdr of a sendmmsg
 *   3. check SECCOMP_IOCTL_NOTIF_ID_VALID: if the thread died (and its
 *      pid could have been reused) while we read, nothing read is used
 *   4. judge it: first the socket itself, copied with pidfd_getfd().  A
 *      call on an AF_UNIX socket goes to seccomp/unix.c, which reads the
 *      address once, decides on the inode a pathname names in the job's
 *      view and carries the call out (itself or in a helper); for other
 *      sockets seccomp/verdict.c judges IPv4/IPv6 addresses; the
 *      caller's overlay selection is read once per call
 *   5. carry out an allowed connect, sendto, sendmsg or sendmmsg here
 *      (perform()), on our copy of the socket, with the address read in
 *      step 2 and the data read once now, and answer with its result;
 *      answer a refused call with an errno (EACCES for a policy deny,
 *      with an audit line that names the job, the call, the target, the
 *      pid, the executable and the reason); continue only bind and listen
 *
 * Why not let the kernel continue an allowed call: it would look the fd
 * number up again in the caller's table and read the sockaddr again.
 * Another thread may have dup2()ed an AF_UNIX socket over that number
 * and rewritten the address into a host path meanwhile, and the kernel
 * would connect or send to it (issue 16; seccomp_unotify(2) warns of
 * exactly this).  A decision is never made on one socket and carried out
 * on another.  For IPv4 and IPv6 this layer is still not the enforcement
 * of the network policy but its early, auditable refusal: every flow
 * crosses nftables and the relay, which judge it again.  bind and listen
 * are continued: a bind whose socket was swapped for an AF_UNIX one can
 * create a socket file only where the job's Landlock ruleset allows
 * (seccomp/unix.c), its private directories; listen looks nothing up.
 *
 * Calls on netlink sockets (the only other family a job may create) are
 * not continued either, nor carried out here: their permission checks
 * are the caller's own (netlink_ns_capable() asks whether the *sender*
 * holds CAP_NET_ADMIN), and made by the supervisor they had its
 * privileges: a job without any capability could add addresses to its
 * loopback (test_namespaces.py::test_cannot_reconfigure_network).  A
 * helper of seccomp/unix.c makes them, having joined the caller's user
 * namespace as the caller, with its capabilities there: the kernel checks
 * the job, and the call is made on the socket that was inspected (with a
 * netlink socket as the decoy, a swap once reached host sockets:
 * tests/escape/unix_swap.c netlink-*).

 * Carrying a call out here must not stall the other calls: a blocking
 * connect waits at most NOTIFY_BLOCK_MS (the relay's listener on the
 * job's loopback completes it at once), a datagram send never blocks
 * longer either; past that they fail as a timeout would (ETIMEDOUT,
 * EAGAIN).  A blocking stream send that finds no room goes to a helper of
 * seccomp/unix.c, which makes it on our copy of the socket and waits.
 * Ancillary data that needs a privilege (the supervisor has more than
 * the job) is refused.
 *
 * Weighed and not chosen (2026-12): keeping "continue" and making the
 * swap harmless in the kernel, as Landlock's MAKE_SOCK does for bind, is
 * not possible for connect and send on this kernel (Landlock ABI 7 does
 * not mediate them); a helper process per call (as seccomp/unix.c uses
 * for path lookups) costs a clone of the supervisor, measured at some 40
 * times fewer AF_UNIX stream sends per second.  Carrying the call out
 * here costs a copy of the data and the connect's own work in the
 * supervisor.  Measured in a job on a loaded 2-core machine (medians of
 * 6 runs, before -> after): loopback TCP connects 9,700 -> 6,500/s, UDP
 * sendto with an address 10,500 -> 9,700/s, AF_UNIX stream sendmsg
 * 13,500 -> 3,900/s (a helper per send: about 300/s).
 *
 * Fail closed: a read that fails answers EFAULT, an unknown system call
 * or address family is refused, and if the supervisor dies the listener
 * closes and the kernel fails every pending and later call (ENOSYS).  If
 * it hangs, is stopped or falls behind, the job's init, which keeps a
 * copy of the listener, fails each call that waited NOTIFY_WATCHDOG_MS
 * (notifier_fail_one()).  They never pass unchecked.
 *
 * All buffers (the data of one send included) are allocated once per
 * job; handling a call allocates nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>

#include "common/escape.h"
#include "common/log.h"
#include "common/util.h"
#include "seccomp/notify.h"
#include "seccomp/selection.h"
#include "seccomp/unix.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define MMSG_MAX 1024		/* UIO_MAXIOV: the kernel's cap on vlen */
#define PRIVATE_DIRS_MAX UNIX_PRIVATE_DIRS
#define NOTIFY_BATCH 64		/* notifications handled per dispatch */
#define NOTIFY_SEND_MAX 65536	/* bytes of one send carried out: a datagram's
				 * most; a stream send beyond is partial */
#define NOTIFY_CONTROL_MAX 4096	/* ancillary data of one send */
#define NOTIFY_BLOCK_MS 100	/* longest a call carried out here may wait */

/**
 * struct notifier - the listener of one job and what judging needs
 * @fd:		the seccomp listener
 * @req:	notification buffer (kernel-sized)
 * @resp:	response buffer
 * @scope:	policy, floor and addresses of the job
 * @job_id:	for audit lines
 * @private_dev: devices of the job's private mounts
 * @n_private_dev: entries in @private_dev
 * @nr:		native syscall number of each enum notify_call
 * @mmsg:	room for a sendmmsg vector
 * @mmsg_addr:	the address of each message of @mmsg, as read and judged
 * @mmsg_addrlen: their lengths (0: none)
 * @iov:	the caller's iovec array of the send being carried out
 * @data:	what that send carries, read once from the caller
 * @control:	its ancillary data, read once
 * @unix:	helpers carrying out calls on AF_UNIX sockets
 * @hung_up:	no process uses the filter any more
 * @n_denied:	calls refused
 * @n_continued: calls let through
 * @connects:	the job's bucket of connect attempts: only the notifier
 *		takes from it, so it is ours, not in the statistics the
 *		relay can write
 */
struct notifier {
	int fd;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct notify_scope scope;
	char job_id[16];
	dev_t private_dev[PRIVATE_DIRS_MAX];
	size_t n_private_dev;
	int nr[NOTIFY_CALL_COUNT];
	struct mmsghdr mmsg[MMSG_MAX];
	struct sockaddr_storage mmsg_addr[MMSG_MAX];
	socklen_t mmsg_addrlen[MMSG_MAX];
	struct iovec iov[MMSG_MAX];
	char data[NOTIFY_SEND_MAX];
	unsigned char control[NOTIFY_CONTROL_MAX] __attribute__((aligned(8)));
	struct unix_ops *unix;
	bool hung_up;
	unsigned long long n_denied;
	unsigned long long n_continued;
	struct rate_bucket connects;
};

/* One notification being judged: lazily fetched facts about the caller */
struct call_ctx {
	struct notifier *n;
	enum notify_call call;
	pid_t pid;
	int sockfd;		/* in the caller */
	int sotype;		/* 0 until fetched */
	bool inet;		/* an IPv4/IPv6 address was judged */
	int domain;		/* the socket's own family (SO_DOMAIN) */
	int selected;		/* the caller's overlay, DECIDE_SELECTED_*;
				 * read once per call (caller_selection()) */
	bool selected_known;
	bool handed_off;	/* a helper answers (seccomp/unix.c) */
	int sock;		/* our copy of the caller's socket (not
				 * AF_UNIX), -1 until fetched */
	struct sockaddr_storage addr;	/* the address as read and judged */
	socklen_t addrlen;		/* 0: the call names none */
	struct msghdr msg;		/* sendmsg: the caller's msghdr, read once */
	bool performed;		/* carried out here: answer @result */
	bool must_wait;		/* a blocking stream send that would block */
	long result;		/* 0, a byte or message count, or -errno */
	char target[NBJ_ADDR_STRLEN + 4 * NBJ_UNIX_PATH_MAX];
};

static int open_pidfd(pid_t pid)
{
	char path[64], line[128];
	_cleanup_fclose_ FILE *f = NULL;
	int fd = (int)syscall(SYS_pidfd_open, pid, PIDFD_THREAD);

	if (fd >= 0 || errno != EINVAL)
		return fd >= 0 ? fd : negative_errno();
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0 || errno != EINVAL)
		return fd >= 0 ? fd : negative_errno();
	/* a thread on a kernel without PIDFD_THREAD: its thread group */
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		int tgid;

		if (sscanf(line, "Tgid: %d", &tgid) == 1) {
			fd = (int)syscall(SYS_pidfd_open, tgid, 0);
			return fd >= 0 ? fd : negative_errno();
		}
	}
	return -ESRCH;
}

/* A copy of the caller's socket, or negative errno */
static int fetch_socket(struct call_ctx *c)
{
	_cleanup_close_ int pidfd = open_pidfd(c->pid);
	int fd;

	if (pidfd < 0)
		return pidfd;
	if (seccomp_notify_id_valid(c->n->fd, c->n->req->id) < 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, c->sockfd, 0);
	return fd < 0 ? negative_errno() : fd;
}

/* The thread group of a thread */
static pid_t tgid_of(pid_t pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[128];
	int tgid;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			return tgid;
	return -ESRCH;
}

/* The caller's socket type, through a copy of its fd */
static int fetch_sotype(struct call_ctx *c)
{
	_cleanup_close_ int pidfd = -1, fd = -1;
	socklen_t len = sizeof(c->sotype);

	if (c->sotype)
		return 0;
	pidfd = open_pidfd(c->pid);
	if (pidfd < 0)
		return pidfd;
	if (seccomp_notify_id_valid(c->n->fd, c->n->req->id) < 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, c->sockfd, 0);
	if (fd < 0)
		return negative_errno();
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &c->sotype, &len) < 0)
		return negative_errno();
	return 0;
}

/* Refuse the call for @reason: counted and audited */
static void deny(struct verdict *v, int err, enum decide_reason reason)
{
	v->deny = true;
	v->audit = true;
	v->err = err;
	v->reason = reason;
}

/* Fail the call as the kernel itself would (bad address, no such file):
 * not a policy refusal, not audited */
static void fail(struct verdict *v, int err)
{
	v->deny = true;
	v->audit = false;
	v->err = err;
	v->reason = DECIDE_OTHER;
}

/* Audit-safe text (common/escape.c): control bytes, DEL, spaces and
 * broken UTF-8 become \xHH, so a path cannot forge a field or a line */
static void escape(const char *in, size_t len, char *out, size_t outlen)
{
	text_escape(out, outlen, in, len, ESC_SPACE);
}

static bool is_private_dev(const struct notifier *n, dev_t dev)
{
	for (size_t i = 0; i < n->n_private_dev; i++)
		if (n->private_dev[i] == dev)
			return true;
	return false;
}

/*
 * nbjail-select's request: move the caller's process (and so what it
 * spawns from now on) to overlay @name, if the policy grants
 * network.select.  Answered here; the socket stays unconnected.
 */
static void judge_select(struct call_ctx *c, const char *name, size_t len,
			 struct verdict *v)
{
	const struct nbj_policy *p = c->n->scope.policy;
	char nm[OVERLAY_NAME_MAX];
	int index = -1, err;
	pid_t tgid;

	unix_escape(name, len, nm, sizeof(nm));
	snprintf(c->target, sizeof(c->target), "select:%s", nm);
	if (len >= sizeof(nm) || memchr(name, '\0', len)) {
		deny(v, ENOENT, DECIDE_SELECT_UNKNOWN_OVERLAY);
		return;
	}
	memcpy(nm, name, len);
	nm[len] = '\0';
	if (!p->select_allowed) {
		deny(v, EACCES, DECIDE_SELECT_DENIED);
		return;
	}
	if (!strcmp(nm, "direct"))
		index = OVERLAY_DIRECT_INDEX;
	for (size_t i = 1; p->overlays && i < p->n_overlays; i++)
		if (!strcmp(p->overlays[i].name, nm))
			index = (int)i;
	if (index < 0) {
		deny(v, ENOENT, DECIDE_SELECT_UNKNOWN_OVERLAY);
		return;
	}
	if (!c->n->scope.selection) {
		deny(v, EOPNOTSUPP, DECIDE_SELECT_UNSUPPORTED);
		return;
	}
	tgid = tgid_of(c->pid);
	if (tgid < 0 || seccomp_notify_id_valid(c->n->fd, c->n->req->id) < 0) {
		fail(v, ESRCH);
		return;
	}
	err = selection_move(c->n->scope.selection, (unsigned)index, nm, tgid);
	if (err < 0) {
		log_warn("select %s for pid %d: %s", nm, tgid, strerror(-err));
		deny(v, EACCES, DECIDE_SELECT_FAILED);
		return;
	}
	log_info("select: pid %d and what it starts dial through overlay %s", tgid, nm);
	v->answer = true;
}

/* One connect attempt leaving the job: the job's and the tenant's
 * buckets, taken whatever the verdict will be ("counted even when
 * denied"), so that a flood of refused connects is held too */
static bool connect_rate_ok(struct notifier *n)
{
	const struct audit_ctx *a = n->scope.audit;
	uint64_t now = rate_now_ns();

	/* the limits are our own copy and so is the job's bucket; the
	 * tenant's bucket is shared with every job of the tenant (and
	 * their relays): any number in it only delays or lets through
	 * this tenant's connects (common/rate.c never wraps) */
	if (!a || !a->stats)
		return true;
	if (!rate_take(&n->connects, &a->limits.connects, 1, now))
		return false;
	return !a->tenant || !a->limits.tenant_connects.per_s ||
	       rate_take(&a->tenant->connects, &a->limits.tenant_connects, 1, now);
}

/*
 * The overlay the caller's process subtree selected (nbjail-select), for
 * the decision and for the socket's mark: read from its cgroup once per
 * call; DECIDE_SELECTED_NONE when the job cannot select (the default),
 * DECIDE_SELECTED_UNKNOWN when the cgroup cannot be read (refused)
 */
static int caller_selection(struct call_ctx *c)
{
	const struct notify_scope *s = &c->n->scope;
	int index;

	if (c->selected_known)
		return c->selected;
	c->selected_known = true;
	c->selected = DECIDE_SELECTED_NONE;
	if (s->selection && c->call != NOTIFY_BIND && c->call != NOTIFY_LISTEN) {
		index = selection_overlay_of(s->selection, s->policy, c->pid);
		c->selected = index < 0 ? DECIDE_SELECTED_UNKNOWN : index;
	}
	return c->selected;
}

/* Judge one socket address at @uaddr (length @ulen) in the caller */
static void judge_sockaddr(struct call_ctx *c, uint64_t uaddr, uint64_t ulen,
			   struct verdict *v)
{
	struct sockaddr_storage ss = { 0 };
	struct verdict_call vc = { 0 };
	struct nbj_addr a;
	long err;

	memset(v, 0, sizeof(*v));
	c->addrlen = 0;
	if (!uaddr || !ulen)
		return; /* no address: the connected peer */
	if (ulen > sizeof(ss)) {
		fail(v, EINVAL);
		return;
	}
	err = read_mem(c->pid, &ss, uaddr, ulen);
	if (err < 0) {
		fail(v, EFAULT);
		return;
	}
	/* what is judged below is what perform() uses: never read again */
	c->addr = ss;
	c->addrlen = (socklen_t)ulen;
	switch (ss.ss_family) {
	case AF_UNSPEC:		/* dissolves an association */
	case AF_NETLINK:	/* the kernel, inside the job's netns */
		return;
	case AF_UNIX:
		/* on an AF_UNIX socket unix_judge() decided; on another
		 * socket the kernel refuses the address */
		fail(v, EAFNOSUPPORT);
		return;
	case AF_INET6:
		/* RFC 2133 sockaddr_in6 without sin6_scope_id: accepted */
		if (ulen >= 24)
			ulen = sizeof(struct sockaddr_in6);
		/* fallthrough */
	case AF_INET:
		if (nbj_addr_from_sockaddr((struct sockaddr *)&ss, (socklen_t)ulen,
					   &a) < 0) {
			fail(v, EINVAL);
			return;
		}
		c->inet = true;
		nbj_addr_format(&a, c->target, sizeof(c->target));
		vc.call = c->call;
		vc.selected = caller_selection(c);
		if (c->call == NOTIFY_CONNECT && !verdict_is_local(&c->n->scope, &a))
			vc.over_rate = !connect_rate_ok(c->n);
		for (int round = 0; round < 2; round++) {
			vc.sotype = c->sotype;
			verdict_inet(&c->n->scope, &vc, &a, v);
			if (!v->need_type)
				return;
			if (fetch_sotype(c) < 0)
				break;
		}
		deny(v, EACCES, DECIDE_SOCKET_TYPE_UNKNOWN);
		return;
	default:
		snprintf(c->target, sizeof(c->target), "family=%u", ss.ss_family);
		deny(v, EAFNOSUPPORT, DECIDE_ADDRESS_FAMILY);
		v->audit = false;	/* as the kernel answers: not audited */
		return;
	}
}

static void judge_sendmsg(struct call_ctx *c, uint64_t umsg, struct verdict *v)
{
	struct msghdr *m = &c->msg;

	memset(v, 0, sizeof(*v));
	if (read_mem(c->pid, m, umsg, sizeof(*m)) < 0) {
		fail(v, EFAULT);
		return;
	}
	judge_sockaddr(c, (uint64_t)(uintptr_t)m->msg_name,
		       m->msg_name ? m->msg_namelen : 0, v);
}

static void judge_sendmmsg(struct call_ctx *c, uint64_t uvec, uint64_t vlen,
			   struct verdict *v)
{
	struct notifier *n = c->n;

	memset(v, 0, sizeof(*v));
	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	if (!vlen)
		return;
	if (read_mem(c->pid, n->mmsg, uvec, vlen * sizeof(n->mmsg[0])) < 0) {
		fail(v, EFAULT);
		return;
	}
	for (size_t i = 0; i < vlen && !v->deny; i++) {
		const struct msghdr *m = &n->mmsg[i].msg_hdr;

		judge_sockaddr(c, (uint64_t)(uintptr_t)m->msg_name,
			       m->msg_name ? m->msg_namelen : 0, v);
		n->mmsg_addr[i] = c->addr;
		n->mmsg_addrlen[i] = c->addrlen;
	}
}

/* listen(): the address the socket is bound to, as bind() would judge it */
static void judge_listen(struct call_ctx *c, struct verdict *v)
{
	_cleanup_close_ int pidfd = -1, fd = -1;
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	struct nbj_addr a;

	memset(v, 0, sizeof(*v));
	pidfd = open_pidfd(c->pid);
	if (pidfd >= 0 && seccomp_notify_id_valid(c->n->fd, c->n->req->id) == 0)
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, c->sockfd, 0);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		/* not a socket, or gone: the kernel answers for itself */
		return;
	}
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return; /* AF_UNIX paths were judged at bind() */
	if (nbj_addr_from_sockaddr((struct sockaddr *)&ss, len, &a) < 0)
		return;
	nbj_addr_format(&a, c->target, sizeof(c->target));
	verdict_inet(&c->n->scope, &(struct verdict_call){ .call = NOTIFY_LISTEN,
			.selected = DECIDE_SELECTED_NONE }, &a, v);
}

/*
 * Calls that name an address: what the kernel does with it depends on the
 * socket, not on what the memory holds when we read it (the job may
 * rewrite an IPv4 address into an AF_UNIX path after we judged it).  An
 * AF_UNIX socket is judged and served by seccomp/unix.c.
 *
 * Return: 0 for a socket of another family (judge the address), 1 when
 * @v holds the answer or a helper answers (c->handed_off)
 */
static void add_private_dirs(struct notifier *n, pid_t pid);

/* What seccomp/unix.c needs of the call being handled: the same for a
 * call on an AF_UNIX socket, a stream send that waits, a netlink call */
static struct unix_call unix_call_of(const struct call_ctx *c, int sock, int sotype)
{
	return (struct unix_call){
		.listener = c->n->fd,
		.id = c->n->req->id,
		.pid = c->pid,
		.call = c->call,
		.args = c->n->req->data.args,
		.sock = sock,
		.sotype = sotype,
		.private_dev = c->n->private_dev,
		.n_private_dev = c->n->n_private_dev,
		.allow = c->n->scope.unix_allow,
		.n_allow = c->n->scope.n_unix_allow,
		.target = (char *)c->target,
		.target_len = sizeof(c->target),
		.revoked = c->n->scope.revoked,
	};
}

static int judge_by_socket(struct call_ctx *c, struct verdict *v)
{
	/* the job's private directories, resolved in its init's view at
	 * start; an unprivileged supervisor cannot look into the init (not
	 * dumpable), so then in the view of the first caller */
	if (!c->n->n_private_dev)
		add_private_dirs(c->n, c->pid);
	_cleanup_close_ int fd = fetch_socket(c);
	struct unix_call uc = unix_call_of(c, -1, 0);
	socklen_t len = sizeof(int);
	int domain = 0;

	memset(v, 0, sizeof(*v));
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &c->sotype, &len) < 0) {
		int err = fd < 0 ? fd : negative_errno();

		if (err == -EBADF || err == -ENOTSOCK || err == -ESRCH)
			fail(v, -err); /* what the kernel would answer */
		else
			deny(v, EACCES, DECIDE_SOCKET_TYPE_UNKNOWN);
		return 1;
	}
	c->domain = domain;
	if (domain != AF_UNIX) {
		c->sock = TAKE_FD(fd);	/* the socket perform() works on */
		return 0;
	}
	uc.sock = fd;
	uc.sotype = c->sotype;
	switch (unix_judge(c->n->unix, &uc, v)) {
	case UNIX_HANDED_OFF:
		c->handed_off = true;
		break;
	case UNIX_SELECT:
		judge_select(c, uc.select, uc.select_len, v);
		break;
	case UNIX_PERFORMED:
		c->performed = true;
		c->result = uc.result;
		break;
	case UNIX_ANSWER:
		break;
	}
	return 1;
}

static int call_from_nr(const struct notifier *n, int nr,
			enum notify_call *ret)
{
	for (int i = 0; i < NOTIFY_CALL_COUNT; i++)
		if (n->nr[i] == nr && nr >= 0) {
			*ret = (enum notify_call)i;
			return 0;
		}
	return -ENOSYS;
}

static void audit(const struct call_ctx *c, const struct verdict *v)
{
	char path[64], exe[PATH_MAX], exe_esc[ESC_BUFSIZE(256)];
	char target_esc[ESC_BUFSIZE(sizeof(c->target))];
	char line[sizeof(target_esc) + sizeof(exe_esc) + 256];
	ssize_t n;
	int len;

	snprintf(path, sizeof(path), "/proc/%d/exe", c->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		n = snprintf(exe, sizeof(exe), "?");
	exe[n] = '\0';
	escape(exe, (size_t)n, exe_esc, sizeof(exe_esc));
	/* escaped where it was read; again here, which changes nothing
	 * (idempotent) but holds if a caller forgot */
	escape(c->target, strnlen(c->target, sizeof(c->target)), target_esc, sizeof(target_esc));
	len = snprintf(line, sizeof(line),
		       "nbjail[%s]: deny %s %s pid=%d exe=%s reason=%s\n",
		       c->n->job_id, notify_call_name(c->call),
		       target_esc[0] ? target_esc : "-", c->pid, exe_esc,
		       decide_reason_name(v->reason));
	audit_deny(c->n->scope.audit, LANE_SECCOMP, c->pid,
		   notify_call_name(c->call), c->target, NULL, exe, NULL, v->reason);
	if (len > 0 && log_info_allowed())
		(void)!write(STDERR_FILENO, line,
			     (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
}

/* A call a helper refused (seccomp/unix.c): audited like ours */
static void unix_refused(void *ctx, pid_t pid, enum notify_call call,
			 const char *target, enum decide_reason reason)
{
	struct call_ctx c = { .n = ctx, .call = call, .pid = pid };
	struct verdict v = { .deny = true, .audit = true, .err = EACCES, .reason = reason };

	snprintf(c.target, sizeof(c.target), "%s", target);
	c.n->n_denied++;
	audit(&c, &v);
}

/*
 * With overlays selected per subtree: mark the socket with its caller's
 * overlay (the job's nftables turn the mark into a source port range the
 * relay reads).  A socket that cannot be marked is refused: unmarked
 * traffic is refused by the relay anyway.
 */
static void mark_socket(struct call_ctx *c, struct verdict *v)
{
	const struct notify_scope *s = &c->n->scope;
	_cleanup_close_ int fd = -1;
	uint32_t mark;
	int index;

	index = caller_selection(c);
	if (index == DECIDE_SELECTED_NONE)
		index = (int)s->policy->default_overlay;
	if (index < 0) {
		deny(v, EACCES, DECIDE_SELECT_UNKNOWN);
		return;
	}
	/* the very socket perform() then works on */
	fd = c->sock >= 0 ? fcntl(c->sock, F_DUPFD_CLOEXEC, 3) : fetch_socket(c);
	mark = SELECT_MARK_BASE + (uint32_t)index + 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		deny(v, EACCES, DECIDE_SELECT_MARK_FAILED);
}

/*
 * Carrying the call out: the decision was made on c->sock (our copy of
 * the caller's socket, the same open file description) and on the
 * address read once; the call is made here, on that socket, with that
 * address.  Letting the kernel continue instead would look the fd number
 * up again in the caller's table, where another thread may have dup2()ed
 * an AF_UNIX socket over it meanwhile, and read the address again, which
 * may name a host path by then (issue 16).
 */

/* Ancillary data a send may carry here: none needs a privilege, which
 * the supervisor has and the job may not (SO_MARK, SO_PRIORITY > 6 and
 * the like are refused) */
static bool control_allowed(int level, int type)
{
	static const struct { int level, type; } ok[] = {
		{ IPPROTO_IP, IP_PKTINFO }, { IPPROTO_IP, IP_TOS }, { IPPROTO_IP, IP_TTL },
		{ IPPROTO_IPV6, IPV6_PKTINFO }, { IPPROTO_IPV6, IPV6_HOPLIMIT },
		{ IPPROTO_IPV6, IPV6_TCLASS }, { IPPROTO_IPV6, IPV6_DONTFRAG },
		{ IPPROTO_UDP, UDP_SEGMENT },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (ok[i].level == level && ok[i].type == type)
			return true;
	return false;
}

/* Read a send's ancillary data once into n->control and check it */
static long read_control(struct call_ctx *c, uint64_t ucontrol, size_t len)
{
	struct msghdr local = { .msg_control = c->n->control, .msg_controllen = len };

	if (len > sizeof(c->n->control))
		return -ENOBUFS;
	if (read_mem(c->pid, c->n->control, ucontrol, len) < 0)
		return -EFAULT;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&local); cm; cm = CMSG_NXTHDR(&local, cm)) {
		if (cm->cmsg_len < CMSG_LEN(0) ||
		    cm->cmsg_len > len - (size_t)((unsigned char *)cm - c->n->control))
			return -EINVAL;
		if (!control_allowed(cm->cmsg_level, cm->cmsg_type)) {
			log_info("refused a send with ancillary data %d:%d of pid %d",
				 cm->cmsg_level, cm->cmsg_type, c->pid);
			return -EPERM;
		}
	}
	return 0;
}

static bool sock_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && !(fl & O_NONBLOCK);
}

/* SIGPIPE for the caller, as the kernel would have raised it */
static void raise_sigpipe(const struct call_ctx *c)
{
	pid_t tgid = tgid_of(c->pid);

	if (tgid > 0 && seccomp_notify_id_valid(c->n->fd, c->n->req->id) == 0)
		(void)syscall(SYS_tgkill, tgid, c->pid, SIGPIPE);
}

/*
 * One send on c->sock: @remote names the caller's buffers, read here once
 * (a datagram whole, a stream send up to NOTIFY_SEND_MAX bytes: a partial
 * send, as a stream may make), @ucontrol its ancillary data.  Never waits
 * longer than NOTIFY_BLOCK_MS: a blocking datagram socket that takes
 * nothing meanwhile answers EAGAIN, as if the caller had set that
 * SO_SNDTIMEO; a blocking stream send that would block is marked for a
 * helper, which waits (perform_waiting()).
 */
static long perform_send(struct call_ctx *c, const struct iovec *remote, size_t n_remote,
			 uint64_t ucontrol, size_t controllen,
			 const struct sockaddr_storage *addr, socklen_t addrlen, int flags)
{
	struct notifier *n = c->n;
	const struct sockaddr_nl *nl = (const void *)addr;
	struct iovec local = { .iov_base = n->data };
	struct msghdr m = { .msg_name = addrlen ? (void *)addr : NULL, .msg_namelen = addrlen,
			    .msg_iov = &local, .msg_iovlen = 1 };
	size_t total = 0;
	ssize_t r;
	long err;

	if (flags & MSG_ZEROCOPY)
		return -ENOBUFS; /* our buffer is reused: the caller copies instead */
	if (addrlen >= sizeof(*nl) && addr->ss_family == AF_NETLINK &&
	    (nl->nl_pid || nl->nl_groups))
		return -EPERM;	/* another socket or a group: not for a job */
	for (size_t i = 0; i < n_remote; i++) {
		if (remote[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += remote[i].iov_len;
	}
	if (total > sizeof(n->data)) {
		if (c->sotype != SOCK_STREAM)
			return -EMSGSIZE;
		total = sizeof(n->data);
	}
	local.iov_len = total;
	if (total && process_vm_readv(c->pid, &local, 1, remote, n_remote, 0) != (ssize_t)total)
		return -EFAULT;
	if (controllen) {
		err = read_control(c, ucontrol, controllen);
		if (err < 0)
			return err;
		m.msg_control = n->control;
		m.msg_controllen = controllen;
	}
	/* what was read is the caller's only if it still waits */
	if (seccomp_notify_id_valid(n->fd, n->req->id) < 0)
		return -ESRCH;
	r = sendmsg(c->sock, &m, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0 && errno == EAGAIN && !(flags & MSG_DONTWAIT) && sock_blocking(c->sock)) {
		struct pollfd pfd = { .fd = c->sock, .events = POLLOUT };

		if (c->sotype == SOCK_STREAM && !controllen && !(flags & MSG_FASTOPEN)) {
			/* a stream send waits in a helper, as the caller
			 * would have (perform_waiting()) */
			c->must_wait = true;
			errno = EAGAIN;
		} else if (poll(&pfd, 1, NOTIFY_BLOCK_MS) > 0) {
			r = sendmsg(c->sock, &m, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			errno = EAGAIN;
		}
	}
	if (r >= 0)
		return r;
	err = negative_errno();
	if (err == -EPIPE && !(flags & MSG_NOSIGNAL))
		raise_sigpipe(c);
	return err;
}

/* sendmsg(): the msghdr and address judge_sendmsg() read */
static long perform_sendmsg(struct call_ctx *c, const struct msghdr *m,
			    const struct sockaddr_storage *addr, socklen_t addrlen, int flags)
{
	if (m->msg_iovlen > MMSG_MAX)
		return -EMSGSIZE;
	if (m->msg_iovlen && read_mem(c->pid, c->n->iov, (uint64_t)(uintptr_t)m->msg_iov,
				      m->msg_iovlen * sizeof(struct iovec)) < 0)
		return -EFAULT;
	return perform_send(c, c->n->iov, m->msg_iovlen,
			    (uint64_t)(uintptr_t)m->msg_control,
			    m->msg_control ? m->msg_controllen : 0, addr, addrlen, flags);
}

/* sendmmsg(): message by message, as the kernel does: the count sent,
 * with each msg_len written back; the first failure ends the batch */
static long perform_sendmmsg(struct call_ctx *c, uint64_t uvec, uint64_t vlen, int flags)
{
	struct notifier *n = c->n;
	size_t i;

	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	for (i = 0; i < vlen; i++) {
		long r = perform_sendmsg(c, &n->mmsg[i].msg_hdr, &n->mmsg_addr[i],
					 n->mmsg_addrlen[i], flags);
		unsigned len = r < 0 ? 0 : (unsigned)r;
		struct iovec local = { .iov_base = &len, .iov_len = sizeof(len) };
		struct iovec remote = {
			.iov_base = (void *)(uintptr_t)(uvec + i * sizeof(struct mmsghdr) +
							offsetof(struct mmsghdr, msg_len)),
			.iov_len = sizeof(len) };

		if (r < 0)
			return i ? (long)i : r;
		if (process_vm_writev(c->pid, &local, 1, &remote, 1, 0) != sizeof(len))
			return i ? (long)i : -EFAULT;
	}
	return (long)i;
}

/*
 * connect(): a blocking stream socket waits at most NOTIFY_BLOCK_MS here
 * (its SO_SNDTIMEO, the kernel's bound on a blocking connect, lowered for
 * the call and put back), then the attempt is withdrawn and the caller
 * gets ETIMEDOUT.  A job's connect goes to the relay's listener on its
 * own loopback, which completes at once; only a listener of the job's
 * own with a full backlog makes it wait.  A caller's own shorter
 * SO_SNDTIMEO is kept, and ends as the kernel ends it (EINPROGRESS).
 */
static long perform_connect(struct call_ctx *c)
{
	const struct sockaddr *addr = (const struct sockaddr *)&c->addr;
	const struct sockaddr_nl *nl = (const void *)&c->addr;
	struct timeval old = { 0 }, bound = { .tv_usec = NOTIFY_BLOCK_MS * 1000 };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	socklen_t len = sizeof(old);
	bool theirs;
	int err;

	if (c->addrlen >= sizeof(*nl) && c->addr.ss_family == AF_NETLINK &&
	    (nl->nl_pid || nl->nl_groups))
		return -EPERM;	/* another socket or a group: not for a job */
	if (seccomp_notify_id_valid(c->n->fd, c->n->req->id) < 0)
		return -ESRCH;
	if (c->sotype != SOCK_STREAM || !sock_blocking(c->sock))
		return connect(c->sock, addr, c->addrlen) < 0 ? negative_errno() : 0;
	if (getsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &old, &len) < 0)
		return negative_errno();
	theirs = (old.tv_sec || old.tv_usec) && old.tv_sec == 0 && old.tv_usec <= bound.tv_usec;
	if (!theirs && setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound)) < 0)
		return negative_errno();
	err = connect(c->sock, addr, c->addrlen) < 0 ? errno : 0;
	if (!theirs)
		(void)setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &old, sizeof(old));
	if (err == EINPROGRESS && theirs)
		return -EINPROGRESS;
	if (err == EINPROGRESS || err == EINTR || err == EALREADY) {
		(void)connect(c->sock, &unspec, sizeof(unspec)); /* withdraw it */
		log_info("connect of pid %d did not complete within %d ms: ETIMEDOUT",
			 c->pid, NOTIFY_BLOCK_MS);
		return -ETIMEDOUT;
	}
	return -err;
}

/* A stream send that would block: a helper of seccomp/unix.c makes it on
 * our copy of the socket and waits, as the caller would have */
static void perform_waiting(struct call_ctx *c)
{
	struct unix_call uc = unix_call_of(c, c->sock, SOCK_STREAM);
	struct verdict v = { 0 };

	switch (unix_send_waiting(c->n->unix, &uc, &v)) {
	case UNIX_HANDED_OFF:
		c->handed_off = true;
		c->performed = false;
		break;
	case UNIX_PERFORMED:
		c->result = uc.result;
		break;
	default:
		c->result = v.deny ? -v.err : -EAGAIN;
		break;
	}
}

/* Carry out an allowed call on the socket it was judged on */
static void perform(struct call_ctx *c)
{
	const __u64 *args = c->n->req->data.args;

	switch (c->call) {
	case NOTIFY_CONNECT:
		c->result = perform_connect(c);
		break;
	case NOTIFY_SENDTO: {
		struct iovec one = { .iov_base = (void *)(uintptr_t)args[1],
				     .iov_len = (size_t)args[2] };

		c->result = perform_send(c, &one, 1, 0, 0, &c->addr, c->addrlen, (int)args[3]);
		break;
	}
	case NOTIFY_SENDMSG:
		c->result = perform_sendmsg(c, &c->msg, &c->addr, c->addrlen, (int)args[2]);
		break;
	case NOTIFY_SENDMMSG:
		c->result = perform_sendmmsg(c, args[1], args[2], (int)args[3]);
		break;
	default:
		return;	/* bind and listen: continued (nbjail(1), SECURITY) */
	}
	c->performed = true;
	if (c->must_wait && c->call != NOTIFY_SENDMMSG)
		perform_waiting(c);
}

/*
 * A connect or send on a socket of another family: netlink, the only one
 * the job's filter lets it create (one it was handed some other way is
 * refused).  seccomp/unix.c's helper makes the call on our copy of the
 * socket, with the address read once, as the caller in its own user
 * namespace, and answers it.
 */
static void perform_netlink(struct call_ctx *c, struct verdict *v)
{
	const struct sockaddr_nl *nl = (const void *)&c->addr;
	struct unix_call uc = unix_call_of(c, c->sock, c->sotype);

	if (c->domain != AF_NETLINK) {
		snprintf(c->target, sizeof(c->target), "family=%d", c->domain);
		deny(v, EAFNOSUPPORT, DECIDE_ADDRESS_FAMILY);
		return;
	}
	if (c->addrlen >= sizeof(*nl) && c->addr.ss_family == AF_NETLINK &&
	    (nl->nl_pid || nl->nl_groups)) {
		/* another socket or a group: not for a job */
		c->performed = true;
		c->result = -EPERM;
		return;
	}
	if (unix_netlink_call(c->n->unix, &uc, c->addrlen ? &c->addr : NULL, c->addrlen,
			      &c->msg, v) == UNIX_HANDED_OFF)
		c->handed_off = true;
}

static void handle_one(struct notifier *n)
{
	struct seccomp_notif *req = n->req;
	struct seccomp_notif_resp *resp = n->resp;
	struct call_ctx c = { .n = n, .sock = -1 };
	struct verdict v = { 0 };

	memset(req, 0, sizeof(*req));
	if (seccomp_notify_receive(n->fd, req) < 0)
		return; /* the caller went away meanwhile */
	/* revocation latches: the word is in a mapping the relay can write */
	if (!n->scope.revoked && n->scope.audit && n->scope.audit->stats &&
	    atomic_load(&n->scope.audit->stats->revoked))
		n->scope.revoked = true;
	c.pid = (pid_t)req->pid;
	c.sockfd = (int)req->data.args[0];

	if (call_from_nr(n, req->data.nr, &c.call) < 0) {
		fail(&v, ENOSYS);
	} else if (c.call != NOTIFY_LISTEN && judge_by_socket(&c, &v)) {
		/* an AF_UNIX socket, or no socket: decided */
	} else {
		switch (c.call) {
		case NOTIFY_CONNECT:
		case NOTIFY_BIND:
			judge_sockaddr(&c, req->data.args[1], req->data.args[2], &v);
			break;
		case NOTIFY_SENDTO:
			judge_sockaddr(&c, req->data.args[4], req->data.args[5], &v);
			break;
		case NOTIFY_SENDMSG:
			judge_sendmsg(&c, req->data.args[1], &v);
			break;
		case NOTIFY_SENDMMSG:
			judge_sendmmsg(&c, req->data.args[1], req->data.args[2], &v);
			break;
		case NOTIFY_LISTEN:
			judge_listen(&c, &v);
			break;
		default:
			fail(&v, ENOSYS);
		}
	}

	if (!v.deny && !v.answer && c.inet && n->scope.selection && c.call != NOTIFY_BIND &&
	    c.call != NOTIFY_LISTEN)
		mark_socket(&c, &v);
	/* IPv4 and IPv6 calls are carried out here: their permission checks
	 * do not depend on who calls.  Netlink's do (netlink_ns_capable()
	 * asks whether the sender holds CAP_NET_ADMIN: the supervisor would
	 * lend the job its own); a helper that is the caller in the caller's
	 * user namespace carries them out (perform_netlink()).  Nothing the
	 * notifier judged is continued but bind and listen. */
	if (!v.deny && !v.answer && !c.handed_off && c.sock >= 0) {
		if (c.domain == AF_INET || c.domain == AF_INET6)
			perform(&c);
		else if (c.call != NOTIFY_BIND)
			perform_netlink(&c, &v);
	}
	closep(&c.sock);

	if (c.handed_off) {
		n->n_continued++;
		if (n->scope.audit)
			stats_count(n->scope.audit->stats, LANE_SECCOMP,
				    OUTCOME_ALLOWED, DECIDE_ALLOWED);
		return;
	}
	/* Whatever we read is only meaningful if the caller still waits */
	if (seccomp_notify_id_valid(n->fd, req->id) < 0)
		return;
	memset(resp, 0, sizeof(*resp));
	resp->id = req->id;
	if (c.performed) {
		/* carried out here: its result, not a policy refusal */
		if (c.result < 0)
			resp->error = (int32_t)c.result;
		else
			resp->val = c.result;
		n->n_continued++;
		if (n->scope.audit)
			stats_count(n->scope.audit->stats, LANE_SECCOMP,
				    OUTCOME_ALLOWED, DECIDE_ALLOWED);
	} else if (v.answer) {
		resp->val = 0;
		n->n_continued++;
	} else if (v.deny) {
		resp->error = -v.err;
		n->n_denied++;
		if (v.audit)
			audit(&c, &v);
	} else {
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		n->n_continued++;
		if (n->scope.audit)
			stats_count(n->scope.audit->stats, LANE_SECCOMP,
				    OUTCOME_ALLOWED, DECIDE_ALLOWED);
	}
	(void)seccomp_notify_respond(n->fd, resp);
}

/**
 * notifier_dispatch() - answer every notification that is waiting
 * @n:		notifier
 *
 * Never blocks: handles at most NOTIFY_BATCH calls, then returns (the fd
 * stays readable if more are waiting).
 *
 * Return: 0, or 1 once no process uses the filter any more (the fd then
 * only reports POLLHUP and should be unwatched)
 */
int notifier_dispatch(struct notifier *n)
{
	unix_ops_reap(n->unix);
	for (int i = 0; i < NOTIFY_BATCH && !n->hung_up; i++) {
		struct pollfd pfd = { .fd = n->fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0)
			break;
		if (pfd.revents & POLLIN)
			handle_one(n);
		else if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
			n->hung_up = true;
	}
	return n->hung_up;
}

/**
 * notifier_revoke() - the job was revoked: refuse from now on what a
 * revoked job may not do (its network, host sockets of unix_allow)
 * @n:		notifier
 *
 * For good: nothing clears it.
 */
void notifier_revoke(struct notifier *n)
{
	n->scope.revoked = true;
}

/**
 * notifier_fd() - the listener fd, readable when calls wait for an answer
 * @n:		notifier
 *
 * Return: the fd, owned by @n
 */
int notifier_fd(const struct notifier *n)
{
	return n->fd;
}

/**
 * notifier_stats() - how many calls were refused and let through
 * @n:		notifier
 * @denied:	calls answered with an errno
 * @continued:	calls the kernel carried out
 */
void notifier_stats(const struct notifier *n, unsigned long long *denied,
		    unsigned long long *continued)
{
	*denied = n->n_denied;
	*continued = n->n_continued;
}

static void add_private_dirs(struct notifier *n, pid_t init_pid)
{
	for (size_t i = 0; i < UNIX_PRIVATE_DIRS; i++) {
		struct stat st;

		if (unix_resolve_in_job(init_pid, unix_private_dirs[i], O_DIRECTORY, &st) < 0 ||
		    is_private_dev(n, st.st_dev))
			continue;
		n->private_dev[n->n_private_dev++] = st.st_dev;
	}
}

/**
 * notifier_new() - take over a job's seccomp listener
 * @fd:		the listener (owned by the notifier from now on, also on
 *		failure)
 * @scope:	policy, floor and addresses; copied, but the arrays it
 *		points to must outlive the notifier
 * @job_id:	for audit lines
 * @init_pid:	the job's init, whose root shows the job's private mounts
 * @ret:	the notifier
 *
 * Return: 0, or negative errno
 */
int notifier_new(int fd, const struct notify_scope *scope, const char *job_id,
		 pid_t init_pid, struct notifier **ret)
{
	struct notifier *n = calloc(1, sizeof(*n));
	int err;

	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	n->fd = fd;
	n->scope = *scope;
	snprintf(n->job_id, sizeof(n->job_id), "%s", job_id);
	err = seccomp_notify_alloc(&n->req, &n->resp);
	if (err == 0)
		err = unix_ops_new(fd, unix_refused, n, &n->unix);
	if (err < 0) {
		notifier_free(n);
		return err;
	}
	for (int i = 0; i < NOTIFY_CALL_COUNT; i++)
		n->nr[i] = seccomp_syscall_resolve_name(
			notify_call_name((enum notify_call)i));
	add_private_dirs(n, init_pid);
	*ret = n;
	return 0;
}

/**
 * notifier_free() - close the listener (pending and later calls of the
 * job then fail with ENOSYS) and free everything
 * @n:		notifier, may be NULL
 */
void notifier_free(struct notifier *n)
{
	if (!n)
		return;
	unix_ops_free(n->unix);	/* its helpers answer through the listener */
	closep(&n->fd);
	seccomp_notify_free(n->req, n->resp);
	free(n);
}

/**
 * notifier_fail_one() - take one waiting notification off a listener and
 * fail it with EACCES, unjudged
 * @fd:		a copy of the job's listener
 * @ret_pid:	the caller's pid, as seen from this process's PID namespace
 * @ret_call:	the call's name
 *
 * The job's init calls this as a watchdog when a notification has waited
 * for NOTIFY_WATCHDOG_MS: a supervisor that hangs or falls behind makes
 * the job's socket calls fail, never pass.
 *
 * Return: 0, -EAGAIN if none was waiting, or negative errno
 */
int notifier_fail_one(int fd, pid_t *ret_pid, const char **ret_call)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int err;

	if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
		return -EAGAIN;
	err = seccomp_notify_alloc(&req, &resp);
	if (err < 0)
		return err;
	memset(req, 0, sizeof(*req));
	err = seccomp_notify_receive(fd, req);
	if (err == 0) {
		*ret_pid = (pid_t)req->pid;
		*ret_call = "?";
		for (int i = 0; i < NOTIFY_CALL_COUNT; i++)
			if (seccomp_syscall_resolve_name(notify_call_name(
				    (enum notify_call)i)) == req->data.nr)
				*ret_call = notify_call_name((enum notify_call)i);
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		resp->error = -EACCES;
		err = seccomp_notify_respond(fd, resp);
	}
	seccomp_notify_free(req, resp);
	return err;
}
