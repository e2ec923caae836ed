/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/roles.h - the processes of a job, as a table (relayd's procs[])
 *
 * Every process nbjail makes for a job has one row in proc_roles[]: who
 * makes it, which user it runs as, which file descriptors it keeps,
 * which syscall filter confines it and whether it is a program of its
 * own.  The code that starts a process reads its row (role_enter(),
 * role_filter_apply()); tests/unit/test-roles checks the table's
 * invariants, and nbjail(1) SECURITY prints it as prose.
 */
#ifndef NBJ_COMMON_ROLES_H
#define NBJ_COMMON_ROLES_H

#include <stdbool.h>
#include <sys/types.h>

enum proc_role {
	ROLE_SUPERVISOR,	/* nbjail run (root, or the caller) */
	ROLE_KEEPER,		/* finishes the teardown after nbjail run */
	ROLE_AUDIT_WRITER,	/* journald, --audit-log, the ring */
	ROLE_RELAY,		/* the job's network: nbjail-relay */
	ROLE_JOB_INIT,		/* pid 1 of the job's namespaces */
	ROLE_WORKLOAD,		/* the command */
	ROLE_UNIX_HELPER,	/* one AF_UNIX pathname call with the caller's creds */
	ROLE_KEYHOLDER,		/* the sign-only keys: nbjail-keys */
	ROLE_NETLINK_AGENT,	/* the job's netlink calls, as the job */
	ROLE_COUNT,
};

/*
 * Whose ids a role runs with.  "Per-job" ids are claimed for the job's
 * lifetime (supervisor/jobuids.c): no other process on the host has
 * them, so no other job, and no `nobody` process, can signal or trace
 * that role; in rootless mode they are the caller's.
 */
enum role_user {
	ROLE_USER_INVOKER,	/* whoever ran nbjail: root or the caller */
	ROLE_USER_JOB_RELAY,	/* the job's relay id (per job) */
	ROLE_USER_JOB_AUDIT,	/* the job's audit writer id (per job, another) */
	ROLE_USER_JOB_KEYS,	/* the job's key holder id (per job, a third) */
	ROLE_USER_JOB,		/* the job's --user, inside its user namespace */
	ROLE_USER_CALLER,	/* the caller's uid, gid and groups (SUDO_*) */
};

/* Which syscall filter confines a role once its set-up is done */
enum role_filter {
	ROLE_FILTER_NONE,	/* trusted, or bounded otherwise (see .why) */
	ROLE_FILTER_JOB,	/* seccomp/filter.c, with user notification */
	ROLE_FILTER_RELAY,	/* common/rolefilter.c: the relay's allow-list */
	ROLE_FILTER_AUDIT_WRITER, /* common/rolefilter.c: the writer's allow-list */
	ROLE_FILTER_KEYHOLDER,	/* common/rolefilter.c: its socket and memory only */
};

/**
 * struct proc_role_info - one row of the table
 * @name:	the role's name in logs and in `ps` (comm)
 * @parent:	the role that forks it (itself for the supervisor)
 * @user:	whose ids it runs with
 * @filter:	its syscall filter
 * @program:	the program it execs into, NULL when it stays a fork of
 *		its parent
 * @fds:	the file descriptors it keeps (all others are closed)
 * @why:	one line on why it needs what it has
 */
struct proc_role_info {
	const char *name;
	enum proc_role parent;
	enum role_user user;
	enum role_filter filter;
	const char *program;
	const char *fds;
	const char *why;
};

extern const struct proc_role_info proc_roles[ROLE_COUNT];

/**
 * struct role_ids - a process's ids
 * @uid:	user id
 * @gid:	group id
 */
struct role_ids {
	uid_t uid;
	gid_t gid;
};

int role_enter(enum proc_role role, struct role_ids ids, const int *keep,
	       size_t n_keep, pid_t parent);
int role_filter_apply(enum proc_role role);
int role_filter_apply_keyholder(int sock);
struct sock_fprog;
int role_filter_cached(enum proc_role role, const char *dir, struct sock_fprog *ret);
int role_filter_load(enum proc_role role, const struct sock_fprog *prog);
const char *role_name(enum proc_role role);

#endif /* NBJ_COMMON_ROLES_H */
