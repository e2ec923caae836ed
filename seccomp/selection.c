/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/selection.c - which overlay a process dials through
 *
 * Theory of operation: a job's processes dial through the job's default
 * overlay (and `routes:`), and a subtree may switch to another overlay
 * with `nbjail-select OVERLAY -- CMD` when the policy grants
 * network.select.  The kernel keeps the mapping, not the process: each
 * selected subtree lives in its own cgroup (v2) below the job's, which
 * common/cgroup.c makes, removes and places (the job's limits share it),
 *
 *     <job's cgroup>/<overlay>
 *
 * and children are born in their parent's cgroup, so fork and exec
 * inherit the selection.  Only the supervisor moves processes: the job
 * sees the cgroup tree read-only (supervisor/mounts.c) and has no
 * CAP_SYS_ADMIN to mount another; `nbjail-select` asks by a connect() to
 * an abstract address that the seccomp notifier answers itself
 * (seccomp/notify.c).  At each socket call the notifier reads the
 * caller's cgroup and marks the socket (SO_MARK, which needs
 * CAP_NET_ADMIN the job does not have); nftables in the job turn the
 * mark into a source port range the relay reads back (netns/nft.c,
 * policy/overlay.c).  No cgroup v2 on the host: selection is refused,
 * inheritance of the one overlay a job has is trivially kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "seccomp/selection.h"

/**
 * selection_move() - put a process (and its future children) on an
 * overlay: into that overlay's cgroup of the job
 * @s:		the job's cgroups
 * @overlay:	overlay index
 * @name:	overlay name (the cgroup's)
 * @tgid:	the process
 *
 * Return: 0, or negative errno
 */
int selection_move(struct job_cgroup *s, unsigned overlay, const char *name, pid_t tgid)
{
	char path[PATH_MAX + 64], pid[16];
	_cleanup_close_ int fd = -1;
	int n;

	if (!s->ready)
		return -EOPNOTSUPP;
	if (overlay >= OVERLAYS_MAX)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	if (mkdirat(s->root, path, 0755) < 0 && errno != EEXIST)
		return -errno;
	s->created |= 1u << overlay;
	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", s->dir, name);
	fd = openat(s->root, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(pid, sizeof(pid), "%d", tgid);
	if (write(fd, pid, (size_t)n) != n)
		return -errno;
	return 0;
}

/**
 * selection_overlay_of() - the overlay a process dials through
 * @s:		the job's cgroups
 * @p:		the job's policy
 * @pid:	the calling thread
 *
 * Return: the overlay of its subtree's selection, p->default_overlay when
 * it selected none, or negative errno when its cgroup cannot be read
 * (the call is then refused)
 */
int selection_overlay_of(const struct job_cgroup *s, const struct nbj_policy *p, pid_t pid)
{
	char cg[PATH_MAX];
	size_t rl = strlen(s->rel);
	int err = cgroup_v2_of(pid, cg, sizeof(cg));

	if (err < 0)
		return err;
	if (strncmp(cg, s->rel, rl) || cg[rl] != '/')
		return (int)p->default_overlay;
	for (size_t i = 1; i < p->n_overlays; i++)
		if (!strcmp(cg + rl + 1, p->overlays[i].name))
			return (int)i;
	if (!strcmp(cg + rl + 1, "direct"))
		return OVERLAY_DIRECT_INDEX;
	return -ENOENT;
}
