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

#include "common/cgroup.h"
#include "policy/policy.h"

/* The abstract AF_UNIX address nbjail-select connects to: "\0" + this
 * prefix + the overlay's name; the notifier answers it itself */
#define SELECT_ABSTRACT_PREFIX "nbjail-select:"

int selection_move(struct job_cgroup *s, unsigned overlay, const char *name, pid_t tgid);
int selection_overlay_of(const struct job_cgroup *s, const struct nbj_policy *p, pid_t pid);

#endif /* NBJ_SECCOMP_SELECTION_H */
