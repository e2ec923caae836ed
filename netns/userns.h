/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/userns.h - the job's user namespace: who is who inside
 */
#ifndef NBJ_NETNS_USERNS_H
#define NBJ_NETNS_USERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define USERNS_MAX_GIDS 64
#define USERNS_DEFAULT_ROOT_ID 65534	/* --user root without a sudo caller */

/**
 * struct userns_map - the uid and gid maps of a job's user namespace
 * @inside_uid:	the job's uid
 * @outside_uid: the host uid it is
 * @gids:	inside gids, [0] the job's primary group
 * @outside_gids: the host gid of each
 * @n_gids:	entries in @gids (at least 1)
 * @deny_setgroups: write "deny" to setgroups first (an unprivileged
 *		caller must; the job keeps the caller's groups then)
 */
struct userns_map {
	uid_t inside_uid, outside_uid;
	gid_t gids[USERNS_MAX_GIDS], outside_gids[USERNS_MAX_GIDS];
	size_t n_gids;
	bool deny_setgroups;
};

int userns_plan(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
		struct userns_map *ret);
int userns_write_maps(pid_t pid, const struct userns_map *m);

#endif /* NBJ_NETNS_USERNS_H */
