/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/selection.h - per-subtree overlay selection (cgroups)
 */
#ifndef NBJ_SECCOMP_SELECTION_H
#define NBJ_SECCOMP_SELECTION_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

/* The abstract AF_UNIX address nbjail-select connects to: "\0" + this
 * prefix + the overlay's name; the notifier answers it itself */
#define SELECT_ABSTRACT_PREFIX "nbjail-select:"

/**
 * struct selection - a job's selection cgroups
 * @ready:	the job's cgroup exists (cgroup v2 is there)
 * @root:	the cgroup v2 hierarchy, a detached mount
 * @created:	overlay cgroups made so far (bit per overlay index)
 * @dir:	the job's cgroup, relative to @root
 * @rel:	its path as /proc/PID/cgroup shows it
 */
struct selection {
	bool ready;
	int root;
	uint32_t created;
	char dir[PATH_MAX];
	char rel[PATH_MAX];
};

int selection_init(struct selection *s, const char *job_id);
int selection_move(struct selection *s, unsigned overlay, const char *name, pid_t tgid);
int selection_overlay_of(const struct selection *s, const struct nbj_policy *p, pid_t pid);
void selection_cleanup(struct selection *s);
int selection_remove_dir(int root, const char *dir);
int selection_gc(bool (*gone)(const char *id, void *data),
		 void (*removed)(const char *id, void *data), void *data);

#endif /* NBJ_SECCOMP_SELECTION_H */
