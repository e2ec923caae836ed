/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/mounts.c - the job's mount namespace
 *
 * Theory of operation: called by the reaper (PID 1 of the job's PID
 * namespace, still root with all capabilities) right after clone(), in a
 * mount namespace that starts as a copy of the host's.  In order:
 *
 *   1. make every mount a slave: nothing we mount propagates to the host
 *   2. a fresh procfs on /proc, showing only the job's PID namespace, and
 *      a fresh read-only sysfs on /sys, showing only the job's network
 *      devices (the host's cgroup mount is carried over)
 *   3. private tmpfs over /run (and /var/run if it is not a symlink into
 *      /run) and /dev/shm: host unix sockets and shared memory there are
 *      out of reach
 *   4. the job's own resolv.conf, hosts and nsswitch.conf are written into
 *      the new /run/nbjail and bind-mounted read-only over /etc/...;
 *      if an /etc file is a symlink into /run (systemd-resolved), its
 *      target is created in the new tmpfs first.  Host files are never
 *      modified.
 *   5. the hostname (UTS namespace)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

#define JOB_ETC_DIR "/run/nbjail"

static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return negative_errno();
		*p = '/';
	}
	return 0;
}

/*
 * Make sure @target can be a bind-mount point.  A dangling symlink (e.g.
 * /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf, now hidden by
 * our /run) gets its target created, which can only be inside our tmpfs.
 */
static int ensure_mount_point(const char *target)
{
	char link[PATH_MAX], resolved[PATH_MAX];
	struct stat st;
	ssize_t n;
	int err;

	if (stat(target, &st) == 0)
		return 0;
	n = readlink(target, link, sizeof(link) - 1);
	if (n < 0)
		return file_write_string(target, "", 0644);
	link[n] = '\0';
	if (link[0] == '/') {
		n = snprintf(resolved, sizeof(resolved), "%s", link);
	} else {
		const char *slash = strrchr(target, '/');

		n = snprintf(resolved, sizeof(resolved), "%.*s/%s",
			     (int)(slash - target), target, link);
	}
	if (n < 0 || (size_t)n >= sizeof(resolved))
		return -ENAMETOOLONG;
	if (strncmp(resolved, "/run/", 5) != 0)
		return -ENOENT;
	err = mkdir_parents(resolved);
	if (err < 0)
		return err;
	return file_write_string(resolved, "", 0644);
}

static int bind_file_ro(const char *source, const char *target)
{
	int err = ensure_mount_point(target);

	if (err < 0)
		return err;
	if (mount(source, target, NULL, MS_BIND, NULL) < 0)
		return negative_errno();
	if (mount(NULL, target, NULL,
		  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return negative_errno();
	return 0;
}

static int mount_tmpfs(const char *target, const char *opts)
{
	if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return negative_errno();
	return 0;
}

/* A new sysfs lists the network devices of the mounter's netns only. */
static int mount_sysfs(void)
{
	_cleanup_close_ int cgroup = -1;

	cgroup = open_tree(AT_FDCWD, "/sys/fs/cgroup",
			   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	/* read-only for the job: which cgroup a process is in decides its
	 * overlay (seccomp/selection.c), and only the supervisor moves
	 * processes; without this, a job running as uid 0 could write
	 * cgroup.procs itself.  No clone that cannot be made read-only is
	 * carried over. */
	if (cgroup >= 0) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

		if (mount_setattr(cgroup, "", AT_EMPTY_PATH | AT_RECURSIVE,
			    &attr, sizeof(attr)) < 0) {
			log_debug("job setup: /sys/fs/cgroup cannot be made read-only: %m");
			close(cgroup);
			cgroup = -1;
		}
	}
	if (mount("sysfs", "/sys", "sysfs",
		  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return negative_errno();
	if (cgroup >= 0 &&
	    move_mount(cgroup, "", AT_FDCWD, "/sys/fs/cgroup",
		       MOVE_MOUNT_F_EMPTY_PATH) < 0)
		log_debug("job setup: /sys/fs/cgroup not carried over: %m");
	return 0;
}

static bool is_real_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/**
 * mounts_setup() - build the job's view of the filesystem
 * @p:	hostname and resolver
 *
 * Return: 0, or negative errno (logged, naming the failing step)
 */
int mounts_setup(const struct mount_params *p)
{
	char resolv[256];
	const char *step;
	int err;

	step = "make mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		goto fail_errno;

	step = "mount /proc";
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		goto fail_errno;

	step = "mount /sys";
	err = mount_sysfs();
	if (err < 0)
		goto fail;

	step = "mount tmpfs on /run";
	err = mount_tmpfs("/run", "mode=0755,size=64m");
	if (err < 0)
		goto fail;
	if (is_real_dir("/var/run")) {
		step = "mount tmpfs on /var/run";
		err = mount_tmpfs("/var/run", "mode=0755,size=64m");
		if (err < 0)
			goto fail;
	}
	if (is_real_dir("/dev/shm")) {
		step = "mount tmpfs on /dev/shm";
		err = mount_tmpfs("/dev/shm", "mode=1777,size=64m");
		if (err < 0)
			goto fail;
	}

	step = "write /etc files";
	if (mkdir(JOB_ETC_DIR, 0755) < 0)
		goto fail_errno;
	if (p->nameserver)
		snprintf(resolv, sizeof(resolv),
			 "# nbjail: the job's resolver is its relay\n"
			 "nameserver %s\noptions timeout:2 attempts:1\n",
			 p->nameserver);
	else
		snprintf(resolv, sizeof(resolv),
			 "# nbjail: this profile has no network\n");
	err = file_write_string(JOB_ETC_DIR "/resolv.conf", resolv, 0644);
	if (!err)
		err = file_write_string(JOB_ETC_DIR "/hosts",
					"127.0.0.1\tlocalhost\n"
					"::1\tlocalhost ip6-localhost ip6-loopback\n",
					0644);
	if (!err)
		err = file_write_string(JOB_ETC_DIR "/nsswitch.conf",
					"passwd: files\ngroup: files\nshadow: files\n"
					"hosts: files dns\nnetworks: files\n"
					"protocols: files\nservices: files\n",
					0644);
	if (err < 0)
		goto fail;

	step = "bind /etc/resolv.conf";
	err = bind_file_ro(JOB_ETC_DIR "/resolv.conf", "/etc/resolv.conf");
	if (err < 0)
		goto fail;
	step = "bind /etc/hosts";
	err = bind_file_ro(JOB_ETC_DIR "/hosts", "/etc/hosts");
	if (err < 0)
		goto fail;
	step = "bind /etc/nsswitch.conf";
	err = bind_file_ro(JOB_ETC_DIR "/nsswitch.conf", "/etc/nsswitch.conf");
	if (err < 0)
		goto fail;

	step = "set hostname";
	if (sethostname(p->hostname, strlen(p->hostname)) < 0)
		goto fail_errno;
	return 0;

fail_errno:
	err = negative_errno();
fail:
	log_err("job setup: cannot %s: %s", step, strerror(-err));
	return err;
}
