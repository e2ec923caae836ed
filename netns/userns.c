/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/userns.c - the job's user namespace: who is who inside
 *
 * Theory of operation: every job runs in a user namespace of its own,
 * created together with its other namespaces (supervisor/job.c), so the
 * capabilities its init has are capabilities over the job's namespaces
 * only.  The maps hold exactly the ids the job needs (userns_plan()):
 *
 *   caller   --user      uid_map            gid_map
 *   root     U (not 0)   U U 1              G G 1, and each of U's
 *                                           supplementary groups S S 1
 *   root     root        0 SUDO_UID 1       0 SUDO_GID 1 (else 65534)
 *   user C   C or root   C|0 C 1            G|0 CG 1, setgroups denied
 *
 * Host root is never mapped: a job's root is an unprivileged host user,
 * so the kernel refuses it the host's files (no capability of its user
 * namespace applies to inodes whose owner is not mapped), device nodes
 * (CAP_MKNOD of the initial namespace) and everything else reserved to
 * host root.  The maps are written by the supervisor, the namespace's
 * owner, after clone() and before the job's init does anything
 * (REAPER_MSG_MAPPED).  An unprivileged caller can map only itself and
 * must deny setgroups first; root may map any id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "netns/userns.h"

static bool sudo_id(const char *var, unsigned *ret)
{
	const char *v = getenv(var);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return false;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n == 0 || n >= 0xffffffffUL)
		return false;
	*ret = (unsigned)n;
	return true;
}

/**
 * userns_plan() - the maps of a job that runs as @uid/@gid
 * @uid:	the job's uid (inside)
 * @gid:	the job's primary gid (inside)
 * @groups:	its supplementary groups (inside); root mode only
 * @n_groups:	entries in @groups
 * @ret:	the maps
 *
 * Return: 0, or -EPERM when an unprivileged caller asks for a user other
 * than itself or root
 */
int userns_plan(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
		struct userns_map *ret)
{
	struct userns_map m = { .inside_uid = uid, .gids = { gid }, .n_gids = 1 };
	unsigned su = USERNS_DEFAULT_ROOT_ID, sg = USERNS_DEFAULT_ROOT_ID;

	if (geteuid() != 0) {
		if (uid != 0 && uid != getuid())
			return -EPERM;
		m.outside_uid = getuid();
		m.outside_gids[0] = getgid();
		m.deny_setgroups = true;
		*ret = m;
		return 0;
	}
	if (uid == 0) {
		/* the sudo caller's ids, both or neither */
		if (!sudo_id("SUDO_UID", &su) || !sudo_id("SUDO_GID", &sg))
			su = sg = USERNS_DEFAULT_ROOT_ID;
		m.outside_uid = su;
		m.gids[0] = 0;
		m.outside_gids[0] = sg;
		*ret = m;
		return 0;
	}
	m.outside_uid = uid;
	m.outside_gids[0] = gid;
	for (size_t i = 0; i < n_groups && m.n_gids < USERNS_MAX_GIDS; i++) {
		bool dup = groups[i] == 0; /* host root's group stays unmapped */

		for (size_t k = 0; k < m.n_gids && !dup; k++)
			dup = m.gids[k] == groups[i];
		if (dup)
			continue;
		m.gids[m.n_gids] = m.outside_gids[m.n_gids] = groups[i];
		m.n_gids++;
	}
	if (gid == 0) {
		m.gids[0] = m.outside_gids[0] = USERNS_DEFAULT_ROOT_ID;
	}
	*ret = m;
	return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, err = 0;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (write(fd, text, len) != (ssize_t)len)
		err = errno ? negative_errno() : -EIO;
	close(fd);
	return err;
}

/**
 * userns_write_maps() - write the maps of the user namespace of @pid
 * @pid:	the job's init, in the new user namespace, not yet mapped
 * @m:		from userns_plan()
 *
 * Return: 0, or negative errno
 */
int userns_write_maps(pid_t pid, const struct userns_map *m)
{
	char uid_map[64], gid_map[USERNS_MAX_GIDS * 36];
	size_t o = 0;
	int err;

	snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned)m->inside_uid,
		 (unsigned)m->outside_uid);
	for (size_t i = 0; i < m->n_gids; i++)
		o += (size_t)snprintf(gid_map + o, sizeof(gid_map) - o, "%u %u 1\n",
				      (unsigned)m->gids[i], (unsigned)m->outside_gids[i]);
	if (m->deny_setgroups) {
		err = write_proc(pid, "setgroups", "deny");
		if (err < 0)
			return err;
	}
	err = write_proc(pid, "uid_map", uid_map);
	if (!err)
		err = write_proc(pid, "gid_map", gid_map);
	return err;
}
