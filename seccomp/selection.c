/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/selection.c - which overlay a process dials through
 *
 * Theory of operation: a job's processes dial through the job's default
 * overlay (and `routes:`), and a subtree may switch to another overlay
 * with `nbjail-select OVERLAY -- CMD` when the policy grants
 * network.select.  The kernel keeps the mapping, not the process: each
 * selected subtree lives in its own cgroup (v2) below the supervisor's,
 *
 *     <supervisor's cgroup>/nbjail-<job id>/<overlay>
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "seccomp/selection.h"

/*
 * The cgroup v2 hierarchy as a detached mount (fsopen, fsmount): nothing
 * appears in any mount table, and it works whatever this mount namespace
 * shows under /sys (`ip netns exec` mounts a fresh sysfs without it).
 * Its root is this process's cgroup namespace root, the root of the
 * paths in /proc/PID/cgroup.
 */
static int cgroup2_root(void)
{
	_cleanup_close_ int fs = fsopen("cgroup2", FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return errno == ENODEV ? -EOPNOTSUPP : -errno;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	return mnt < 0 ? -errno : mnt;
}

/* The unified-hierarchy cgroup of @pid ("0::PATH"), as this process sees it */
static int cgroup_of(pid_t pid, char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[PATH_MAX + 8];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if ((size_t)snprintf(buf, len, "%s", line + 3) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

/**
 * selection_init() - make the job's selection cgroup
 * @s:		selection state, zeroed by the caller
 * @job_id:	the job
 *
 * Return: 0, -EOPNOTSUPP without cgroup v2, or negative errno
 */
int selection_init(struct selection *s, const char *job_id)
{
	char own[PATH_MAX];
	int err, root;

	err = cgroup_of(0, own, sizeof(own));
	if (err < 0)
		return err == -ENOENT ? -EOPNOTSUPP : err;
	if (!strcmp(own, "/"))
		own[0] = '\0';
	if ((size_t)snprintf(s->rel, sizeof(s->rel), "%s/nbjail-%s", own, job_id) >=
	    sizeof(s->rel))
		return -ENAMETOOLONG;
	snprintf(s->dir, sizeof(s->dir), "%s", s->rel + 1); /* relative to the root */
	root = cgroup2_root();
	if (root < 0)
		return root;
	if (mkdirat(root, s->dir, 0755) < 0 && errno != EEXIST) {
		err = -errno;
		close(root);
		return err;
	}
	s->root = root;
	s->ready = true;
	return 0;
}

/**
 * selection_move() - put a process (and its future children) on an
 * overlay: into that overlay's cgroup of the job
 * @s:		selection state
 * @overlay:	overlay index
 * @name:	overlay name (the cgroup's)
 * @tgid:	the process
 *
 * Return: 0, or negative errno
 */
int selection_move(struct selection *s, unsigned overlay, const char *name, pid_t tgid)
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
 * @s:		selection state
 * @p:		the job's policy
 * @pid:	the calling thread
 *
 * Return: the overlay of its subtree's selection, p->default_overlay when
 * it selected none, or negative errno when its cgroup cannot be read
 * (the call is then refused)
 */
int selection_overlay_of(const struct selection *s, const struct nbj_policy *p, pid_t pid)
{
	char cg[PATH_MAX];
	size_t rl = strlen(s->rel);
	int err = cgroup_of(pid, cg, sizeof(cg));

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

/**
 * selection_cleanup() - remove the job's selection cgroups (its
 * processes are gone)
 * @s:		selection state
 */
void selection_cleanup(struct selection *s)
{
	if (!s->ready)
		return;
	(void)selection_remove_dir(s->root, s->dir);
	close(s->root);
	s->root = -1;
	s->ready = false;
}

/**
 * selection_remove_dir() - remove a job's selection cgroup and the
 * overlay cgroups in it; fails with -EBUSY while a process is left
 * @root:	the cgroup hierarchy (cgroup2_root())
 * @dir:	the job's cgroup, relative to @root
 *
 * Return: 0, or negative errno
 */
int selection_remove_dir(int root, const char *dir)
{
	int dfd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.')
			(void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	closedir(d);
	return unlinkat(root, dir, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/**
 * selection_gc() - remove the selection cgroups of jobs that are gone,
 * below the caller's own cgroup (where a supervisor started from the same
 * place made them)
 * @gone:	says whether job ID no longer runs
 * @removed:	called with each job ID whose cgroups were removed, or NULL
 * @data:	passed to both
 *
 * Return: 0, or negative errno
 */
int selection_gc(bool (*gone)(const char *id, void *data),
		 void (*removed)(const char *id, void *data), void *data)
{
	char own[PATH_MAX], path[PATH_MAX + 300];
	_cleanup_close_ int root = -1;
	struct dirent *e;
	int err, dfd;
	DIR *d;

	err = cgroup_of(0, own, sizeof(own));
	if (err < 0)
		return err == -ENOENT ? 0 : err;
	root = cgroup2_root();
	if (root < 0)
		return root == -EOPNOTSUPP ? 0 : root;
	dfd = openat(root, strcmp(own, "/") ? own + 1 : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || strncmp(e->d_name, "nbjail-", 7) ||
		    !gone(e->d_name + 7, data))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", strcmp(own, "/") ? own + 1 : "",
			 strcmp(own, "/") ? "/" : "", e->d_name);
		if (selection_remove_dir(root, path) == 0 && removed)
			removed(e->d_name + 7, data);
	}
	closedir(d);
	return 0;
}
