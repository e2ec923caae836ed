/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/unix.h - AF_UNIX socket calls, decided once and carried out by
 * the supervisor
 */
#ifndef NBJ_SECCOMP_UNIX_H
#define NBJ_SECCOMP_UNIX_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "seccomp/verdict.h"

struct unix_ops;

#define UNIX_PRIVATE_DIRS 3
extern const char *const unix_private_dirs[UNIX_PRIVATE_DIRS];

/**
 * struct unix_call - one notified call on an AF_UNIX socket
 * @listener:	the job's seccomp listener (the helper answers through it)
 * @id:		the notification's id
 * @pid:	the calling thread
 * @call:	which call
 * @args:	the call's six arguments
 * @sock:	the supervisor's copy of the caller's socket (pidfd_getfd)
 * @sotype:	its SO_TYPE
 * @private_dev: devices of the job's private mounts
 * @n_private_dev: entries in @private_dev
 * @allow:	the policy's unix_allow entries
 * @n_allow:	entries in @allow
 * @target:	out: the address as audit-safe text
 * @target_len:	room in @target
 * @select:	out, for UNIX_SELECT: the overlay name asked for (not
 *		NUL-terminated)
 * @select_len:	out: its length
 * @result:	out, for UNIX_PERFORMED: the call's result, or -errno
 * @revoked:	the job is revoked: host sockets (`unix_allow`) are refused
 */
struct unix_call {
	int listener;
	uint64_t id;
	pid_t pid;
	enum notify_call call;
	const __u64 *args;
	int sock;
	int sotype;
	const dev_t *private_dev;
	size_t n_private_dev;
	const struct unix_rule *allow;
	size_t n_allow;
	char *target;
	size_t target_len;
	char select[NBJ_UNIX_PATH_MAX];
	size_t select_len;
	long result;
	bool revoked;
};

/* What became of a call on an AF_UNIX socket */
enum unix_outcome {
	UNIX_ANSWER,	/* answer with the verdict: an errno, or continue */
	UNIX_HANDED_OFF,/* a helper carries the call out and answers it */
	UNIX_SELECT,	/* nbjail-select's request: judge @select */
	UNIX_PERFORMED,	/* carried out here: answer @result */
};

/* Called when a helper refused a call itself (the path named another
 * inode by the time it looked again): @target and @reason for the audit */
typedef void (*unix_refused_fn)(void *ctx, pid_t pid, enum notify_call call,
				const char *target, enum decide_reason reason);

int unix_ops_new(int listener, unix_refused_fn refused, void *ctx,
		 struct unix_ops **ret);
void unix_ops_free(struct unix_ops *u);
void unix_ops_reap(struct unix_ops *u);
enum unix_outcome unix_judge(struct unix_ops *u, struct unix_call *uc,
			     struct verdict *v);
enum unix_outcome unix_send_waiting(struct unix_ops *u, struct unix_call *uc,
				    struct verdict *v);
enum unix_outcome unix_netlink_call(struct unix_ops *u, struct unix_call *uc,
				    const void *addr, socklen_t addrlen,
				    const struct msghdr *msg, struct verdict *v);
int unix_resolve_in_job(pid_t pid, const char *path, unsigned long flags,
			struct stat *st);
int unix_landlock_apply(void);
void unix_escape(const char *in, size_t len, char *out, size_t outlen);
long read_mem(pid_t pid, void *dst, uint64_t src, size_t len);

#endif /* NBJ_SECCOMP_UNIX_H */
