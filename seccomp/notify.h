/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/notify.h - the supervisor's side of the user-notify filter
 */
#ifndef NBJ_SECCOMP_NOTIFY_H
#define NBJ_SECCOMP_NOTIFY_H

#include <sys/types.h>

#include "seccomp/verdict.h"

struct notifier;

/* How long a socket call may wait for the supervisor before the job's
 * init fails it (notifier_fail_one()) */
#define NOTIFY_WATCHDOG_MS 1000

int notifier_new(int fd, const struct notify_scope *scope, const char *job_id,
		 pid_t init_pid, struct notifier **ret);
int notifier_fd(const struct notifier *n);
int notifier_dispatch(struct notifier *n);
void notifier_revoke(struct notifier *n);
void notifier_stats(const struct notifier *n, unsigned long long *denied,
		    unsigned long long *continued);
void notifier_free(struct notifier *n);
int notifier_fail_one(int fd, pid_t *ret_pid, const char **ret_call);

#endif /* NBJ_SECCOMP_NOTIFY_H */
