/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/cgroup.c - a job's cgroup: its limits and its overlay selection
 *
 * DOC: Theory of operation
 *
 * A job has at most one cgroup per hierarchy, made at start by
 * job_cgroup_create() and removed by job_cgroup_remove() once its
 * processes are gone (the keeper, supervisor/keeper.c) or by
 * job_cgroup_gc() after a killed supervisor (nbjail gc).  It serves two
 * purposes:
 *
 *   limits     `limits: {pids, memory}` (policy/limits.c): the whole job
 *              (its init, the workload and every descendant; not the
 *              relay, the keeper or the audit writer) is in the cgroup,
 *              so pids.max and memory.max bound all of it.  The cgroup
 *              and its limits exist before the init can fork: with
 *              cgroup v2 the init is cloned into it (clone3
 *              CLONE_INTO_CGROUP, with CLONE_NEWCGROUP: the job's cgroup
 *              namespace is rooted there), with cgroup v1 it is moved in
 *              by the supervisor before MAPPED, the message the init
 *              waits for before it does anything (supervisor/job.c).
 *   selection  `nbjail-select` (seccomp/selection.c): a subtree that
 *              selected an overlay lives in a child cgroup named after
 *              the overlay, <job's cgroup>/<overlay>; cgroup v2 only.
 *
 * Where the job's cgroup v2 is.  Controllers can be enabled in a
 * cgroup's cgroup.subtree_control only while it holds no processes (the
 * "no internal processes" rule), and the supervisor's own cgroup holds
 * the supervisor.  So with limits it is
 *
 *     /nbjail/<job id>                      as root, below the hierarchy
 *                                           root (exempt from the rule)
 *     <delegated>/nbjail/<job id>           rootless: <delegated> is the
 *                                           highest ancestor of the
 *                                           caller's cgroup that the
 *                                           caller owns (systemd's
 *                                           user@UID.service), which
 *                                           holds no processes itself
 *
 * with pids and memory enabled down the path; memory.swap.max is 0 where
 * it exists, so the limit is not dodged by swapping.  Without limits the
 * selection cgroup needs no controller and stays below the caller's own
 * cgroup, <own>/nbjail-<job id>, as before.
 *
 * Hybrid hosts (cgroup v1 holds pids and memory, the v2 hierarchy has
 * neither): as root the limits go to the v1 pids and memory hierarchies,
 * <own cgroup there>/nbjail-<job id>: below the caller's own, so an
 * outer limit of the caller (a CI runner's memory cgroup) still covers
 * the job; v1 has no internal-process rule.  memory.limit_in_bytes, and
 * memory.memsw.limit_in_bytes to the same value where swap accounting
 * exists, else memory.swappiness 0 (a memory cgroup with swappiness 0
 * never swaps its anonymous memory).  v1 is never delegated, so without
 * root and without controllers in a delegated v2 subtree limits cannot be
 * enforced: job_cgroup_create() fails with one line naming the cause and
 * the fix, and nothing starts.  A job never runs with limits asked for
 * and not enforced.
 *
 * The hierarchies are reached through detached mounts (fsopen(),
 * fsmount()): nothing appears in a mount table, and it works whatever
 * this mount namespace shows under /sys (`ip netns exec` mounts a fresh
 * sysfs without /sys/fs/cgroup).  An unprivileged caller cannot mount
 * them and uses the mounted cgroup2 at /sys/fs/cgroup (or .../unified).
 * The job cannot leave or raise its limits: the cgroup tree is read-only
 * in the job (supervisor/mounts.c), the files belong to host root or to
 * the caller (not to root of the job's user namespace, and its
 * capabilities count only there), and with nsdelegate the limits of the
 * root of the job's cgroup namespace are not writable from inside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/util.h"

static const char *const v1_controller[CGROUP_V1_N] = {
	[CGROUP_V1_PIDS] = "pids",
	[CGROUP_V1_MEMORY] = "memory",
};

/* A cgroup's rmdir fails with EBUSY for a moment after its last process
 * was reaped; teardown retries this often, 10 ms apart, gc fewer times */
#define REMOVE_TRIES 100
#define GC_REMOVE_TRIES 20

/* gc leaves alone a job's cgroup younger than this: it may belong to a
 * job still starting with another runtime directory (a test's private
 * /run/nbjail), whose init is not in it yet */
#define GC_MIN_AGE_S 2

/* ------------------------------------------------------------ hierarchies */

/* A detached mount of an fs_context, with @flags set: "cgroup2", or
 * "cgroup" with the controllers of one v1 hierarchy */
static int detached_mount(const char *fstype, const char *flags)
{
	_cleanup_close_ int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	char list[256];
	int mnt;

	if (fs < 0)
		return errno == ENODEV ? -EOPNOTSUPP : -errno;
	snprintf(list, sizeof(list), "%s", flags ? flags : "");
	for (char *save = NULL, *f = strtok_r(list, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		int r = !strncmp(f, "name=", 5) ?
			fsconfig(fs, FSCONFIG_SET_STRING, "name", f + 5, 0) :
			fsconfig(fs, FSCONFIG_SET_FLAG, f, NULL, 0);

		if (r < 0)
			return -errno;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	return mnt < 0 ? -errno : mnt;
}

/* The cgroup v2 hierarchy; its root is this process's cgroup namespace
 * root, the root of the paths in /proc/PID/cgroup */
static int cgroup2_root(void)
{
	static const char *const mounted[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	int fd = detached_mount("cgroup2", NULL);

	if (fd >= 0 || fd == -EOPNOTSUPP)
		return fd;
	/* no CAP_SYS_ADMIN: the hierarchy this mount namespace shows */
	for (size_t i = 0; i < ARRAY_SIZE(mounted); i++) {
		int dir = open(mounted[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct statfs sf;

		if (dir < 0)
			continue;
		if (fstatfs(dir, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
			return dir;
		close(dir);
	}
	return fd;
}

/*
 * A line of /proc/@pid/cgroup: the v2 one (@controller NULL, "0::PATH"),
 * or the v1 hierarchy holding @controller ("4:memory:PATH"), with that
 * hierarchy's controller list in @ret_list (if not NULL).  Return 0,
 * -ENOENT if there is none, or negative errno
 */
static int cgroup_line(pid_t pid, const char *controller, char *ret_path, size_t len,
		       char *ret_list, size_t list_len)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[PATH_MAX + 256];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *list = strchr(line, ':'), *rest, *p;
		bool match = false;

		if (!list)
			continue;
		list++;
		rest = strchr(list, ':');
		if (!rest)
			continue;
		*rest++ = '\0';
		rest[strcspn(rest, "\n")] = '\0';
		if (!controller) {
			match = !*list && !strncmp(line, "0:", 2);
		} else {
			size_t n = strlen(controller);

			for (p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
				if (!strncmp(p, controller, n) && (p[n] == ',' || !p[n]))
					match = true;
		}
		if (!match)
			continue;
		if ((size_t)snprintf(ret_path, len, "%s", rest) >= len)
			return -ENAMETOOLONG;
		if (ret_list)
			snprintf(ret_list, list_len, "%s", list);
		return 0;
	}
	return -ENOENT;
}

/**
 * cgroup_v2_of() - the cgroup v2 of a process, as this process sees it
 * @pid:	the process, 0 for the caller
 * @buf:	its path ("0::PATH" of /proc/PID/cgroup)
 * @len:	size of @buf
 *
 * Return: 0, -ENOENT on a host without cgroup v2, or negative errno
 */
int cgroup_v2_of(pid_t pid, char *buf, size_t len)
{
	return cgroup_line(pid, NULL, buf, len, NULL, 0);
}

/* A cgroup path as /proc shows it ("/a/b", "/") relative to the root */
static const char *relative(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/* The v1 hierarchy holding @controller, and this process's cgroup in it */
static int cgroup1_root(const char *controller, char *own, size_t own_len)
{
	char list[256], path[PATH_MAX];
	int err = cgroup_line(0, controller, own ? own : path, own ? own_len : sizeof(path),
			      list, sizeof(list));

	if (err < 0)
		return err == -ENOENT ? -EOPNOTSUPP : err;
	return detached_mount("cgroup", list);
}

/* ------------------------------------------------------------ files */

/* A message for people, cut if it must be */
static void say(char *buf, size_t len, const char *fmt, ...) _printf_(3, 4);

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int write_at(int dir, const char *file, const char *fmt, ...) _printf_(3, 4);

static int write_at(int dir, const char *file, const char *fmt, ...)
{
	_cleanup_close_ int fd = openat(dir, file, O_WRONLY | O_CLOEXEC);
	char text[64];
	va_list ap;
	int n;

	if (fd < 0)
		return -errno;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (write(fd, text, (size_t)n) != n)
		return -errno;
	return 0;
}

static int read_at(int dir, const char *file, char *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dir, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Whether the space-separated @list holds @word */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* The controllers @limits need, "pids memory" or fewer */
static void needed(const struct nbj_limits *limits, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", limits->pids ? "pids" : "",
		 limits->pids && limits->memory ? " " : "", limits->memory ? "memory" : "");
}

/* Whether the space-separated @list has every controller of @need */
static bool has_all(const char *list, const char *need, char *missing, size_t len)
{
	char copy[64];
	bool all = true;

	snprintf(copy, sizeof(copy), "%s", need);
	missing[0] = '\0';
	for (char *save = NULL, *w = strtok_r(copy, " ", &save); w;
	     w = strtok_r(NULL, " ", &save))
		if (!has_word(list, w)) {
			size_t used = strlen(missing);

			snprintf(missing + used, len - used, "%s%s", used ? " " : "", w);
			all = false;
		}
	return all;
}

/* Remove a cgroup and its child cgroups (overlays); EBUSY is retried
 * while the last processes are being reaped.  Return 0 or negative errno */
static int remove_tree(int root, const char *dir, int tries)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	int err = 0;

	for (int i = 0; i < tries; i++) {
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
		if (unlinkat(root, dir, AT_REMOVEDIR) == 0)
			return 0;
		err = -errno;
		if (err != -EBUSY)
			return err == -ENOENT ? 0 : err;
		nanosleep(&pause, NULL);
	}
	return err;
}

/* ------------------------------------------------------------ cgroup v2 */

/*
 * Rootless: the highest ancestor of this process's cgroup (or itself)
 * that belongs to the caller, the root of the subtree delegated to it.
 * Return 0, -EACCES if there is none, or negative errno
 */
static int delegated_base(int root, const char *own, char *ret, size_t len)
{
	char path[PATH_MAX];
	const char *rel = relative(own);
	size_t at = 0;

	if (!strcmp(rel, "."))
		return -EACCES;
	for (;;) {
		size_t next = at + strcspn(rel + at, "/");
		struct stat st;

		snprintf(path, sizeof(path), "%.*s", (int)next, rel);
		if (fstatat(root, path, &st, 0) == 0 && st.st_uid == geteuid()) {
			if ((size_t)snprintf(ret, len, "%s", path) >= len)
				return -ENAMETOOLONG;
			return 0;
		}
		if (!rel[next])
			return -EACCES;
		at = next + 1;
	}
}

/* Enable the controllers of @need for the children of @dir */
static int enable_controllers(int root, const char *dir, const char *need)
{
	char file[PATH_MAX + 32], copy[64], on[256];
	int err;

	snprintf(file, sizeof(file), "%s/cgroup.subtree_control", dir);
	err = read_at(root, file, on, sizeof(on));
	if (err < 0)
		return err;
	snprintf(copy, sizeof(copy), "%s", need);
	for (char *save = NULL, *w = strtok_r(copy, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (has_word(on, w))
			continue;
		err = write_at(root, file, "+%s", w);
		if (err < 0)
			return err;
	}
	return 0;
}

/*
 * The job's cgroup v2 with its limits, see the theory above.  Return 0,
 * or negative errno with the cause and the fix in @why
 */
static int v2_limits_create(struct job_cgroup *cg, int root, const char *job_id,
			    const struct nbj_limits *limits, char *why, size_t wl)
{
	char need[32], have[256], missing[32], own[PATH_MAX], base[PATH_MAX];
	char nb[PATH_MAX + 16], file[PATH_MAX * 2];
	const char *step;
	int err;

	needed(limits, need, sizeof(need));
	if (geteuid() == 0) {
		snprintf(base, sizeof(base), ".");
	} else {
		err = cgroup_line(0, NULL, own, sizeof(own), NULL, 0);
		if (!err)
			err = delegated_base(root, own, base, sizeof(base));
		if (err < 0) {
			say(why, wl, "no cgroup v2 subtree is delegated to uid %u (its "
				 "cgroup %s is not its own); start nbjail through systemd's "
				 "user manager (systemd-run --user --scope nbjail run ...), "
				 "which delegates user@%u.service, or run it as root",
				 (unsigned)geteuid(), err == -EACCES ? own : "?",
				 (unsigned)geteuid());
			return err;
		}
	}
	snprintf(file, sizeof(file), "%s/cgroup.controllers", base);
	err = read_at(root, file, have, sizeof(have));
	if (err < 0) {
		say(why, wl, "cannot read the controllers of cgroup /%s: %s",
			 strcmp(base, ".") ? base : "", strerror(-err));
		return err;
	}
	if (!has_all(have, need, missing, sizeof(missing))) {
		say(why, wl, "cgroup v2 offers only '%s' %s%s (%s %s bound to cgroup v1 "
			 "or not delegated); %s", have, geteuid() ? "in the delegated /" : "here",
			 geteuid() ? base : "", missing, strchr(missing, ' ') ? "are" : "is",
			 geteuid() ? "run nbjail as root, or delegate them (Delegate=pids "
				     "memory for user@.service)"
				   : "boot with systemd.unified_cgroup_hierarchy=1");
		return -EOPNOTSUPP;
	}
	snprintf(nb, sizeof(nb), "%s%snbjail", strcmp(base, ".") ? base : "",
		 strcmp(base, ".") ? "/" : "");
	step = "enable the controllers in";
	err = enable_controllers(root, base, need);
	if (!err) {
		step = "create";
		if (mkdirat(root, nb, 0755) < 0 && errno != EEXIST)
			err = -errno;
	}
	if (!err) {
		step = "enable the controllers in";
		err = enable_controllers(root, nb, need);
	}
	if (err < 0) {
		say(why, wl, "cannot %s cgroup /%s: %s%s", step,
			 !strcmp(step, "create") ? nb : strcmp(base, ".") ? base : "",
			 strerror(-err), err == -EBUSY ? " (it holds processes: the no "
			 "internal processes rule of cgroup v2)" : "");
		return err;
	}
	if ((size_t)snprintf(cg->dir, sizeof(cg->dir), "%s/%s", nb, job_id) >= sizeof(cg->dir))
		return -ENAMETOOLONG;
	if ((size_t)snprintf(cg->rel, sizeof(cg->rel), "/%s", cg->dir) >= sizeof(cg->rel))
		return -ENAMETOOLONG;
	if (mkdirat(root, cg->dir, 0755) < 0) {
		err = -errno;
		say(why, wl, "cannot create cgroup %s: %s", cg->rel, strerror(-err));
		return err;
	}
	cg->root = root;
	cg->ready = true;
	cg->v2_limits = true;
	err = 0;
	if (limits->pids) {
		snprintf(file, sizeof(file), "%s/pids.max", cg->dir);
		err = write_at(root, file, "%llu", (unsigned long long)limits->pids);
	}
	if (!err && limits->memory) {
		snprintf(file, sizeof(file), "%s/memory.max", cg->dir);
		err = write_at(root, file, "%llu", (unsigned long long)limits->memory);
		snprintf(file, sizeof(file), "%s/memory.swap.max", cg->dir);
		if (!err && (err = write_at(root, file, "0")) == -ENOENT)
			err = 0; /* no swap accounting: no swap to dodge into */
	}
	if (err < 0)
		say(why, wl, "cannot set the limits of cgroup %s: %s", cg->rel,
			 strerror(-err));
	return err;
}

/* The job's selection cgroup without limits: below the caller's own */
static int v2_selection_create(struct job_cgroup *cg, int root, const char *job_id)
{
	char own[PATH_MAX];
	int err = cgroup_line(0, NULL, own, sizeof(own), NULL, 0);

	if (err < 0)
		return err == -ENOENT ? -EOPNOTSUPP : err;
	if (!strcmp(own, "/"))
		own[0] = '\0';
	if ((size_t)snprintf(cg->rel, sizeof(cg->rel), "%s/nbjail-%s", own, job_id) >=
	    sizeof(cg->rel))
		return -ENAMETOOLONG;
	snprintf(cg->dir, sizeof(cg->dir), "%s", cg->rel + 1);
	if (mkdirat(root, cg->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	cg->root = root;
	cg->ready = true;
	return 0;
}

/* ------------------------------------------------------------ cgroup v1 */

/* The job's cgroup in the v1 hierarchy of @which, with its limit */
static int v1_create(struct job_cgroup *cg, enum cgroup_v1 which, const char *job_id,
		     const struct nbj_limits *limits, char *why, size_t wl)
{
	char own[PATH_MAX], file[PATH_MAX + 64];
	const char *dir = cg->v1_dir[which];
	_cleanup_close_ int root = cgroup1_root(v1_controller[which], own, sizeof(own));
	int err;

	if (root < 0) {
		say(why, wl, "cannot mount the cgroup v1 %s hierarchy: %s",
			 v1_controller[which], strerror(-root));
		return root;
	}
	if ((size_t)snprintf(cg->v1_dir[which], sizeof(cg->v1_dir[which]), "%s%snbjail-%s",
			     strcmp(own, "/") ? own + 1 : "", strcmp(own, "/") ? "/" : "",
			     job_id) >= sizeof(cg->v1_dir[which]))
		return -ENAMETOOLONG;
	if (mkdirat(root, dir, 0755) < 0) {
		err = -errno;
		say(why, wl, "cannot create cgroup %s:/%s: %s", v1_controller[which], dir,
			 strerror(-err));
		return err;
	}
	cg->v1_mask |= 1u << which;
	if (which == CGROUP_V1_PIDS) {
		snprintf(file, sizeof(file), "%s/pids.max", dir);
		err = write_at(root, file, "%llu", (unsigned long long)limits->pids);
	} else {
		snprintf(file, sizeof(file), "%s/memory.limit_in_bytes", dir);
		err = write_at(root, file, "%llu", (unsigned long long)limits->memory);
		snprintf(file, sizeof(file), "%s/memory.memsw.limit_in_bytes", dir);
		if (!err && (err = write_at(root, file, "%llu",
					    (unsigned long long)limits->memory)) == -ENOENT) {
			/* no swap accounting: keep the job's memory out of swap */
			snprintf(file, sizeof(file), "%s/memory.swappiness", dir);
			err = write_at(root, file, "0");
		}
	}
	if (err < 0)
		say(why, wl, "cannot set the limit of cgroup %s:/%s: %s",
			 v1_controller[which], dir, strerror(-err));
	return err;
}

/* Whether every controller @limits need has a v1 hierarchy we may use */
static bool v1_usable(const struct nbj_limits *limits)
{
	char path[PATH_MAX];

	if (geteuid() != 0)
		return false;
	return (!limits->pids || cgroup_line(0, "pids", path, sizeof(path), NULL, 0) == 0) &&
	       (!limits->memory || cgroup_line(0, "memory", path, sizeof(path), NULL, 0) == 0);
}

/* ------------------------------------------------------------ the job's */

/**
 * job_cgroup_create() - make the job's cgroup(s), with its limits set
 * @cg:		the job's cgroups; filled in (zeroed here first)
 * @job_id:	the job
 * @limits:	the job's limits, zeros for none
 * @selection:	overlay selection may be asked for (cgroup v2 needed)
 * @why:	on failure with limits: one line, the cause and the fix
 * @why_len:	its size
 *
 * With limits, success means they are enforced once the init is in the
 * cgroup (job_cgroup_clone_fd() or job_cgroup_attach()).  Without
 * limits, only the selection cgroup is made; failing that is not fatal
 * to the job (selection is then refused).  On failure, what was made is
 * removed again.
 *
 * Return: 0; -EOPNOTSUPP where the needed controllers are not available
 * to this caller; or another negative errno
 */
int job_cgroup_create(struct job_cgroup *cg, const char *job_id,
		      const struct nbj_limits *limits, bool selection,
		      char *why, size_t why_len)
{
	bool limited = limits->pids || limits->memory;
	char v2_why[512] = "";
	int root, err;

	memset(cg, 0, sizeof(*cg));
	cg->root = -1;
	why[0] = '\0';
	if (!limited && !selection)
		return 0;
	root = cgroup2_root();
	if (root < 0)
		snprintf(v2_why, sizeof(v2_why), "cgroup v2 is not available (%s)",
			 strerror(-root));
	if (root >= 0 && limited) {
		err = v2_limits_create(cg, root, job_id, limits, v2_why, sizeof(v2_why));
		if (!err)
			return 0;
		if (cg->ready) { /* made, but its limits could not be set */
			say(why, why_len, "%s", v2_why);
			job_cgroup_remove(cg);
			return err;
		}
		if (err != -EOPNOTSUPP || !v1_usable(limits)) {
			close(root);
			say(why, why_len, "%s", v2_why);
			return err;
		}
	}
	err = root;
	if (root >= 0 && selection)
		err = v2_selection_create(cg, root, job_id); /* failed: selection is refused */
	if (root >= 0 && !cg->ready)
		close(root);
	if (!limited)
		return cg->ready ? 0 : err;
	/* a hybrid host, as root: the v1 hierarchies */
	if (!v1_usable(limits)) {
		say(why, why_len, "%s; cgroup v1 %s", v2_why,
			 geteuid() ? "is never delegated: run nbjail as root"
				   : "does not hold them either");
		job_cgroup_remove(cg);
		return -EOPNOTSUPP;
	}
	err = 0;
	if (limits->pids)
		err = v1_create(cg, CGROUP_V1_PIDS, job_id, limits, why, why_len);
	if (!err && limits->memory)
		err = v1_create(cg, CGROUP_V1_MEMORY, job_id, limits, why, why_len);
	if (err < 0)
		job_cgroup_remove(cg);
	return err;
}

/**
 * job_cgroup_clone_fd() - the cgroup the job's init is cloned into
 * @cg:		the job's cgroups
 *
 * Return: an fd for clone3()'s CLONE_INTO_CGROUP (the caller closes it),
 * -ENOENT when the limits are not in a cgroup v2, or negative errno
 */
int job_cgroup_clone_fd(const struct job_cgroup *cg)
{
	int fd;

	if (!cg->v2_limits)
		return -ENOENT;
	fd = openat(cg->root, cg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/**
 * job_cgroup_attach() - move the job's init into its cgroup v1 ones
 * (before it may fork: its children are born there)
 * @cg:		the job's cgroups
 * @pid:	the init
 *
 * Return: 0 (also with no v1 cgroup), or negative errno
 */
int job_cgroup_attach(const struct job_cgroup *cg, pid_t pid)
{
	char file[PATH_MAX + 16];

	for (int i = 0; i < CGROUP_V1_N; i++) {
		_cleanup_close_ int root = -1;
		int err;

		if (!(cg->v1_mask & (1u << i)))
			continue;
		root = cgroup1_root(v1_controller[i], NULL, 0);
		if (root < 0)
			return root;
		snprintf(file, sizeof(file), "%s/cgroup.procs", cg->v1_dir[i]);
		err = write_at(root, file, "%d", (int)pid);
		if (err < 0)
			return err;
	}
	return 0;
}

/**
 * job_cgroup_remove() - remove the job's cgroups (its processes are gone)
 * @cg:		the job's cgroups; emptied
 */
void job_cgroup_remove(struct job_cgroup *cg)
{
	if (cg->ready) {
		(void)remove_tree(cg->root, cg->dir, REMOVE_TRIES);
		close(cg->root);
	}
	for (int i = 0; i < CGROUP_V1_N; i++) {
		_cleanup_close_ int root = -1;

		if (!(cg->v1_mask & (1u << i)))
			continue;
		root = cgroup1_root(v1_controller[i], NULL, 0);
		if (root >= 0)
			(void)remove_tree(root, cg->v1_dir[i], REMOVE_TRIES);
	}
	cg->root = -1;
	cg->ready = cg->v2_limits = false;
	cg->v1_mask = 0;
}

/**
 * job_cgroup_describe() - where the job's limits are, for people
 * @cg:		the job's cgroups
 * @buf:	"cgroup v2 /nbjail/0a1b2c3d", "cgroup v1 pids:/nbjail-0a1b2c3d
 *		memory:/nbjail-0a1b2c3d", or "none"
 * @len:	its size
 *
 * Return: 0, or -ENAMETOOLONG when cut
 */
int job_cgroup_describe(const struct job_cgroup *cg, char *buf, size_t len)
{
	size_t used;

	if (cg->v2_limits)
		return (size_t)snprintf(buf, len, "cgroup v2 %s", cg->rel) >= len ?
		       -ENAMETOOLONG : 0;
	if (!cg->v1_mask)
		return (size_t)snprintf(buf, len, "none") >= len ? -ENAMETOOLONG : 0;
	used = (size_t)snprintf(buf, len, "cgroup v1");
	for (int i = 0; i < CGROUP_V1_N && used < len; i++)
		if (cg->v1_mask & (1u << i))
			used += (size_t)snprintf(buf + used, len - used, " %s:/%s",
						 v1_controller[i], cg->v1_dir[i]);
	return used >= len ? -ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------ gc */

/* Remove the cgroups named PREFIX<job id> in @dir of gone jobs */
static void gc_dir(int root, const char *dir, const char *prefix,
		   bool (*gone)(const char *id, void *data),
		   void (*removed)(const char *id, void *data), void *data)
{
	char path[PATH_MAX + 300];
	size_t pl = strlen(prefix);
	int dfd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || strncmp(e->d_name, prefix, pl) ||
		    !e->d_name[pl] || !gone(e->d_name + pl, data))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (fstatat(root, path, &st, 0) < 0 || time(NULL) - st.st_mtime < GC_MIN_AGE_S)
			continue;
		if (remove_tree(root, path, GC_REMOVE_TRIES) == 0 && removed)
			removed(e->d_name + pl, data);
	}
	closedir(d);
}

/**
 * job_cgroup_gc() - remove the cgroups of jobs that are gone: those a
 * supervisor started from the caller's cgroup made (below it, v2 and v1)
 * and, with limits, below /nbjail (root) or <delegated>/nbjail
 * @gone:	says whether job ID no longer runs
 * @removed:	called with each job ID whose cgroup was removed, or NULL
 * @data:	passed to both
 *
 * Return: 0, or negative errno
 */
int job_cgroup_gc(bool (*gone)(const char *id, void *data),
		  void (*removed)(const char *id, void *data), void *data)
{
	char own[PATH_MAX], base[PATH_MAX + 16];
	_cleanup_close_ int root = cgroup2_root();

	if (root >= 0 && cgroup_line(0, NULL, own, sizeof(own), NULL, 0) == 0) {
		gc_dir(root, relative(own), "nbjail-", gone, removed, data);
		if (geteuid() == 0)
			snprintf(base, sizeof(base), "nbjail");
		else if (delegated_base(root, own, base, sizeof(base) - 8) == 0)
			strcat(base, "/nbjail");
		else
			base[0] = '\0';
		if (base[0])
			gc_dir(root, base, "", gone, removed, data);
	}
	for (int i = 0; i < CGROUP_V1_N && geteuid() == 0; i++) {
		_cleanup_close_ int r1 = cgroup1_root(v1_controller[i], own, sizeof(own));

		if (r1 >= 0)
			gc_dir(r1, relative(own), "nbjail-", gone, removed, data);
	}
	return 0;
}
