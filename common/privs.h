/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/privs.h - dropping root in the job's helper processes
 */
#ifndef NBJ_COMMON_PRIVS_H
#define NBJ_COMMON_PRIVS_H

#include <sys/types.h>

void privs_unprivileged_user(uid_t *uid, gid_t *gid);
int privs_drop(uid_t uid, gid_t gid, pid_t parent);

#endif /* NBJ_COMMON_PRIVS_H */
