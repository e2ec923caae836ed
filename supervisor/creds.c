/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/creds.c - the workload's user, groups and capabilities
 *
 * Theory of operation: creds_resolve() runs in the supervisor, before any
 * namespace exists, and turns a uid/gid into the full credential set
 * (supplementary groups from the host's user database).  The job runs in
 * a user namespace whose maps hold exactly these ids (netns/userns.c),
 * so they are ids inside it.  creds_assume() runs in the job's init as
 * soon as the maps are written: it becomes the workload's user at once,
 * keeping its capabilities over the job's namespaces for the set-up, so
 * that every file it creates belongs to a mapped id.  creds_apply() runs
 * in the workload process right before exec:
 *
 *   1. drop the network- and kernel-admin capabilities from the bounding
 *      set (needs CAP_SETPCAP, so while still privileged), clear ambient
 *   2. setgroups (unless the namespace denies it), setresgid, setresuid
 *   3. for uid 0, remove the dropped caps from the effective, permitted
 *      and inheritable sets; any other uid loses every capability
 *   4. PR_SET_NO_NEW_PRIVS: no setuid binary or file capability can
 *      bring anything back
 *
 * Even `--user root` thus runs without NET_ADMIN, NET_RAW, SYS_ADMIN,
 * SYS_MODULE, SYS_PTRACE, BPF and the other capabilities listed below,
 * and the capabilities it keeps are those of root in its own user
 * namespace only: host root is never mapped into it.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <linux/capability.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

/* Capabilities no workload keeps, whatever its uid (see nbjail(1)). */
static const int dropped_caps[] = {
	CAP_NET_ADMIN,	CAP_NET_RAW,	CAP_SYS_ADMIN,	 CAP_SYS_MODULE,
	CAP_SYS_PTRACE, CAP_BPF,	CAP_PERFMON,	 CAP_SYS_RAWIO,
	CAP_SYS_BOOT,	CAP_SYS_TIME,	CAP_MAC_ADMIN,	 CAP_MAC_OVERRIDE,
	CAP_SYSLOG,	CAP_AUDIT_CONTROL, CAP_AUDIT_READ, CAP_WAKE_ALARM,
	CAP_BLOCK_SUSPEND, CAP_LINUX_IMMUTABLE, CAP_SETPCAP, CAP_CHECKPOINT_RESTORE,
};

/*
 * Is @db ("passwd", "group") looked up in /etc first, with at most
 * systemd's module after it (which adds only users it makes up itself)?
 * Then a user found in /etc/passwd is resolved from the files alone,
 * without loading NSS modules (a millisecond of every job's start).
 */
static bool files_first(FILE *nss, const char *db)
{
	char line[512];
	size_t len = strlen(db);

	rewind(nss);
	while (fgets(line, sizeof(line), nss)) {
		char *p = line + strspn(line, " \t"), *tok, *save;
		int n = 0;

		if (strncmp(p, db, len) || p[len] != ':')
			continue;
		p += len + 1;
		p[strcspn(p, "#\n")] = '\0';
		for (tok = strtok_r(p, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), n++)
			if (!(n == 0 && !strcmp(tok, "files")) &&
			    !(n == 1 && !strcmp(tok, "systemd")))
				return false;
		return n >= 1;
	}
	return false;
}

/* The user's name and supplementary groups from /etc/passwd and /etc/group */
static bool resolve_from_files(struct workload_creds *c)
{
	_cleanup_fclose_ FILE *nss = fopen("/etc/nsswitch.conf", "re");
	_cleanup_fclose_ FILE *pf = NULL, *gf = NULL;
	char name[256] = "", buf[4096];
	struct passwd pwd, *pw;
	struct group grp, *gr;

	if (!nss || !files_first(nss, "passwd") || !files_first(nss, "group"))
		return false;
	pf = fopen("/etc/passwd", "re");
	gf = fopen("/etc/group", "re");
	if (!pf || !gf)
		return false;
	while (fgetpwent_r(pf, &pwd, buf, sizeof(buf), &pw) == 0)
		if (pw->pw_uid == c->uid) {
			snprintf(name, sizeof(name), "%s", pw->pw_name);
			break;
		}
	if (!name[0])
		return false; /* not in the files: ask NSS */
	c->groups[0] = c->gid;
	c->n_groups = 1;
	while (fgetgrent_r(gf, &grp, buf, sizeof(buf), &gr) == 0) {
		bool member = false;

		for (char **m = gr->gr_mem; m && *m && !member; m++)
			member = !strcmp(*m, name);
		if (!member || gr->gr_gid == c->gid)
			continue;
		if (c->n_groups == NBJ_MAX_GROUPS)
			break;
		c->groups[c->n_groups++] = gr->gr_gid;
	}
	return true;
}

/**
 * creds_resolve() - full credentials for @uid/@gid from the user database
 * @uid:	user
 * @gid:	primary group
 * @ret:	credentials; supplementary groups of the user if it has a
 *		passwd entry, else just @gid
 *
 * Return: 0, or negative errno
 */
int creds_resolve(uid_t uid, gid_t gid, struct workload_creds *ret)
{
	struct workload_creds c = { .uid = uid, .gid = gid };
	struct passwd *pw;
	int n = NBJ_MAX_GROUPS;

	if (resolve_from_files(&c)) {
		*ret = c;
		return 0;
	}
	pw = getpwuid(uid);
	if (pw && getgrouplist(pw->pw_name, gid, c.groups, &n) >= 0) {
		c.n_groups = (size_t)n;
	} else {
		c.groups[0] = gid;
		c.n_groups = 1;
	}
	*ret = c;
	return 0;
}

static int caps_clear_dropped(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return negative_errno();
	for (size_t i = 0; i < ARRAY_SIZE(dropped_caps); i++) {
		unsigned cap = (unsigned)dropped_caps[i];
		uint32_t mask = ~(1u << (cap % 32));

		data[cap / 32].effective &= mask;
		data[cap / 32].permitted &= mask;
		data[cap / 32].inheritable &= mask;
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return negative_errno();
	return 0;
}

static int caps_clear_all(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (syscall(SYS_capset, &hdr, data) < 0)
		return negative_errno();
	return 0;
}

/* The plain system calls, for this task alone: the job's init is a raw
 * clone3() of the supervisor and the workload shares the init's memory
 * until exec (reaper.c), so glibc's wrappers, which in a process it
 * believes multi-threaded change every thread's ids, must not be used */
static int creds_set_ids(const struct workload_creds *c)
{
	if (!c->keep_groups && syscall(SYS_setgroups, c->n_groups, c->groups) < 0)
		return negative_errno();
	if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0)
		return negative_errno();
	if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
		return negative_errno();
	return 0;
}

/**
 * creds_assume() - become the workload's user, keeping the capabilities
 * of the job's user namespace (the job's init, right after the maps)
 * @c:	credentials, ids inside the namespace
 *
 * Return: 0, or negative errno
 */
int creds_assume(const struct workload_creds *c)
{
	int err;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return negative_errno();
	err = creds_set_ids(c);
	if (err < 0)
		return err;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return negative_errno();
	return 0;
}

/**
 * creds_apply() - become the workload's user, without dangerous caps
 * @c:	credentials from creds_resolve()
 *
 * Called in the process that will exec the workload, with the
 * capabilities of the job's user namespace.
 *
 * Return: 0, or negative errno (the process must then not exec)
 */
int creds_apply(const struct workload_creds *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(dropped_caps); i++)
		if (prctl(PR_CAPBSET_DROP, dropped_caps[i], 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return negative_errno();
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return negative_errno();

	int err = creds_set_ids(c);

	if (err < 0)
		return err;
	/* the job's init kept its capabilities through the uid change:
	 * the kernel's fix-up does not clear them here */
	err = c->uid == 0 ? caps_clear_dropped() : caps_clear_all();
	if (err < 0)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return negative_errno();
	return 0;
}
