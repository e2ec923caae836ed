/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/privs.c - how the job's helper processes give up root
 *
 * The relay and the audit writer are forked (not exec'd) by the
 * supervisor as root, take what they need (sockets bound, files opened),
 * then become an unprivileged user for good: no supplementary groups,
 * all three uids and gids changed (which clears every capability set),
 * no_new_privs, and death with the supervisor.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/privs.h"
#include "common/util.h"

#define FALLBACK_ID 65534

/**
 * privs_unprivileged_user() - the user helper processes run as: as root
 * "nobody", or 65534 if the user database has no such user; otherwise
 * the caller (rootless mode)
 * @uid:	its uid
 * @gid:	its primary gid
 */
void privs_unprivileged_user(uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		/* rootless: the helpers run as the caller, who has nothing
		 * more to give up (no capability, no other id) */
		*uid = getuid();
		*gid = getgid();
		return;
	}
	pw = getpwnam("nobody");

	*uid = pw ? pw->pw_uid : FALLBACK_ID;
	*gid = pw ? pw->pw_gid : FALLBACK_ID;
}

/**
 * privs_drop() - become @uid:@gid for good and die with @parent
 * @uid:	user
 * @gid:	group
 * @parent:	the supervisor's pid, as returned by getppid() before
 *
 * Return: 0, or negative errno (the caller must exit then)
 */
int privs_drop(uid_t uid, gid_t gid, pid_t parent)
{
	if (geteuid() != 0 && uid == getuid() && gid == getgid()) {
		/* rootless: already the caller; its groups cannot be dropped */
		if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
			return negative_errno();
	} else if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		   setresuid(uid, uid, uid) < 0) {
		return negative_errno();
	}
	if (uid != 0 && (getuid() != uid || geteuid() != uid))
		return -EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return negative_errno();
	if (getppid() != parent) /* the supervisor died before PDEATHSIG */
		return -ESRCH;
	return 0;
}
