/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/cgroup.h - a job's cgroup: its resource limits and the overlay
 * selection of its subtrees (common/cgroup.c)
 */
#ifndef NBJ_COMMON_CGROUP_H
#define NBJ_COMMON_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

/* The cgroup v1 hierarchies a job's limits may use (hybrid hosts) */
enum cgroup_v1 {
	CGROUP_V1_PIDS,
	CGROUP_V1_MEMORY,
	CGROUP_V1_N,
};

/**
 * struct job_cgroup - the cgroup(s) of one job
 * @ready:	the job's cgroup v2 exists (overlay selection may use it)
 * @v2_limits:	the limits are set on it: the job's init is cloned into it
 * @root:	the cgroup v2 hierarchy (a detached mount, or the mounted
 *		one), -1 without @ready
 * @created:	overlay cgroups made so far (bit per overlay index)
 * @v1_mask:	cgroup v1 hierarchies (bit per enum cgroup_v1) holding a
 *		cgroup of the job with its limits; the init is moved in
 *		before it may fork
 * @dir:	the job's cgroup v2, relative to @root
 * @rel:	its path as /proc/PID/cgroup shows it
 * @v1_dir:	the job's cgroup in each v1 hierarchy of @v1_mask,
 *		relative to that hierarchy's root
 */
struct job_cgroup {
	bool ready;
	bool v2_limits;
	int root;
	uint32_t created;
	unsigned v1_mask;
	char dir[PATH_MAX];
	char rel[PATH_MAX];
	char v1_dir[CGROUP_V1_N][PATH_MAX];
};

int cgroup_v2_of(pid_t pid, char *buf, size_t len);
int job_cgroup_create(struct job_cgroup *cg, const char *job_id,
		      const struct nbj_limits *limits, bool selection,
		      char *why, size_t why_len);
int job_cgroup_clone_fd(const struct job_cgroup *cg);
int job_cgroup_attach(const struct job_cgroup *cg, pid_t pid);
void job_cgroup_remove(struct job_cgroup *cg);
int job_cgroup_describe(const struct job_cgroup *cg, char *buf, size_t len);
int job_cgroup_gc(bool (*gone)(const char *id, void *data),
		  void (*removed)(const char *id, void *data), void *data);

#endif /* NBJ_COMMON_CGROUP_H */
