/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/mounts.c - the job's mount namespace
 *
 * Theory of operation: called by the reaper (PID 1 of the job's PID
 * namespace, root with all capabilities in the namespaces it owns) right
 * after clone(), in a mount namespace that starts as a copy of the host's.
 * The job sees the host read-only; what it may write and what it must not
 * see comes from the plan fsview.c made.  In order:
 *
 *   1. make every mount a slave: nothing we mount propagates to the host
 *   2. clone (open_tree OPEN_TREE_CLONE, recursive) every writable path
 *      of the plan, and the host's device nodes for the new /dev, while
 *      the host's tree is still as it was; the clones are detached, so
 *      step 3 does not reach them.  They get nosuid, nodev.
 *   3. mount_setattr(/, AT_RECURSIVE, ro, nosuid): every mount of the
 *      host, read-only.  This only adds restrictions, which is all a
 *      user namespace allows on the host's (locked) mounts: the same
 *      steps work as real root and as root of a user namespace.  The
 *      writable clones of paths in the host's tree are attached at once,
 *      so that what follows stays on top of them (--write /var keeps a
 *      private /var/tmp, --write /etc the job's resolv.conf).
 *   4. a fresh procfs on /proc, showing only the job's PID namespace,
 *      with /proc/sys, /proc/sysrq-trigger and the other kernel knobs
 *      (bus, fs, irq) bound read-only over themselves; a fresh read-only
 *      sysfs on /sys, showing only the job's network devices (the host's
 *      cgroup mount is carried over, read-only)
 *   5. a minimal /dev: a tmpfs holding null, zero, full, random, urandom
 *      and tty bound from the host (writable as devices, the mount is
 *      nosuid, noexec), a new devpts instance (ptmx 0666: the job
 *      allocates its own terminals and sees no host terminal), the
 *      symlinks fd, stdin, stdout, stderr and ptmx, then made read-only;
 *      no disk, memory or other device of the host is reachable
 *   6. private tmpfs over /run (and /var/run if it is not a symlink into
 *      /run), /dev/shm, /tmp and /var/tmp: host unix sockets, shared
 *      memory and temporary files there are out of reach
 *   7. the job's own resolv.conf, hosts and nsswitch.conf are written into
 *      the new /run/nbjail and bind-mounted read-only over /etc/...;
 *      if an /etc file is a symlink into /run (systemd-resolved), its
 *      target is created in the new tmpfs first.  Host files are never
 *      modified.  A job with credentials or http: rules gets its trust
 *      bundle (system roots and the job CA, credentials.c) written to
 *      /run/nbjail/ca-certificates.crt and bound read-only over
 *      /etc/ssl/certs/ca-certificates.crt.  A job with a dock gets the nbjail-dock program (cloned
 *      in step 2, so whatever the plan hides) read-only at
 *      /run/nbjail/bin/nbjail-dock.
 *   8. the rest of the plan: writable clones of paths under /tmp,
 *      /var/tmp or /run attached in the private tmpfs (their mount points
 *      made there: the host's directory appears inside it); then the
 *      files the job started from, bound read-only over themselves; then
 *      hidden paths: an empty read-only tmpfs over a directory, /dev/null
 *      (read-only) over anything else
 *   9. chdir to the caller's working directory, now seen through the
 *      mounts above; the hostname (UTS namespace)
 *
 * These mounts hold only as long as the workload cannot change mounts of
 * this namespace: creds.c drops CAP_SYS_ADMIN (bounding set included).
 * Read-only and the mounts over the files the job started from are not
 * locked against the namespace's own root (the kernel locks flags only
 * when it copies mounts into a less privileged namespace); a job that
 * kept CAP_SYS_ADMIN in its user namespace could undo them.
 *
 * What a read-only mount does not stop: connect() to a unix socket that
 * exists on it (the kernel checks write permission on the socket inode,
 * not the mount), writes to device nodes, and anything through a file
 * descriptor opened before.  bind() of a new socket, creating, renaming,
 * removing or changing any file fail with EROFS.  See FILESYSTEM in
 * nbjail(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "nbjail/dock.h"
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

/* A detached copy of the tree at @path (submounts included), or -errno */
static int clone_tree(const char *path)
{
	int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
			   AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);

	return fd < 0 ? negative_errno() : fd;
}

/* Add mount attributes (never removes any: allowed on locked mounts) */
static int set_attr(int dirfd, const char *path, uint64_t attrs)
{
	struct mount_attr attr = { .attr_set = attrs };
	unsigned flags = AT_RECURSIVE | AT_SYMLINK_NOFOLLOW;

	if (!path[0])
		flags |= AT_EMPTY_PATH;
	if (mount_setattr(dirfd, path, flags, &attr, sizeof(attr)) < 0)
		return negative_errno();
	return 0;
}

/* The detached tree @fd onto @target (a symlink there is not followed) */
static int attach(int fd, const char *target)
{
	if (move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return negative_errno();
	return 0;
}

/* @path bound over itself, with @attrs added */
static int bind_self(const char *path, uint64_t attrs)
{
	_cleanup_close_ int fd = clone_tree(path);
	int err;

	if (fd < 0)
		return fd;
	err = set_attr(fd, "", attrs);
	return err < 0 ? err : attach(fd, path);
}

static int bind_file_ro(const char *source, const char *target)
{
	_cleanup_close_ int fd = -1;
	int err = ensure_mount_point(target);

	if (err < 0)
		return err;
	fd = clone_tree(source);
	if (fd < 0)
		return fd;
	err = set_attr(fd, "", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (err < 0)
		return err;
	/* as mount(2) did: onto what a symlink at @target names (made above) */
	if (move_mount(fd, "", AT_FDCWD, target,
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) < 0)
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

/* Kernel knobs of the fresh /proc that stay read-only (as in Docker) */
static const char *const proc_readonly[] = {
	"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq",
};

static int protect_proc(const char **ret_path)
{
	for (size_t i = 0; i < ARRAY_SIZE(proc_readonly); i++) {
		int err;

		if (access(proc_readonly[i], F_OK) < 0)
			continue;
		*ret_path = proc_readonly[i];
		err = bind_self(proc_readonly[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
		if (err < 0)
			return err;
	}
	return 0;
}

/* The host's device nodes a job may use, bound into the new /dev */
static const char *const dev_nodes[] = {
	"null", "zero", "full", "random", "urandom", "tty",
};

static const struct {
	const char *name, *target;
} dev_links[] = {
	{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },
};

/* Step 2 for /dev: clones of the host's nodes; -1 where the host has none */
static int dev_clone_nodes(int fds[ARRAY_SIZE(dev_nodes)])
{
	char path[64];
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		fds[i] = clone_tree(path);
		if (fds[i] == -ENOENT)
			continue;
		if (fds[i] < 0)
			return fds[i];
		err = set_attr(fds[i], "", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			       MOUNT_ATTR_NOEXEC);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Step 5: the job's /dev */
static int mount_dev(const int fds[ARRAY_SIZE(dev_nodes)], const char **ret_path)
{
	struct mount_attr attr_ro = { .attr_set = MOUNT_ATTR_RDONLY };
	char path[64];
	int err;

	*ret_path = "/dev";
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return negative_errno();
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		if (fds[i] < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		*ret_path = dev_nodes[i];
		err = file_write_string(path, "", 0666);
		if (!err)
			err = attach(fds[i], path);
		if (err < 0)
			return err;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++) {
		snprintf(path, sizeof(path), "/dev/%s", dev_links[i].name);
		*ret_path = dev_links[i].name;
		if (symlink(dev_links[i].target, path) < 0)
			return negative_errno();
	}
	*ret_path = "/dev/pts";
	if (mkdir("/dev/pts", 0755) < 0 || mkdir("/dev/shm", 01777) < 0)
		return negative_errno();
	/* no gid=: the tty group may not be mapped in a user namespace */
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return negative_errno();
	/* the tmpfs alone (not recursive): devpts and /dev/shm stay as they are */
	*ret_path = "(read-only)";
	if (mount_setattr(AT_FDCWD, "/dev", 0, &attr_ro, sizeof(attr_ro)) < 0)
		return negative_errno();
	return 0;
}

/*
 * The mount point of a writable path: it exists in the host's (read-only)
 * tree, or it lies in one of the job's private tmpfs (/tmp/x, /run/y),
 * where it is made: directories 0755, a file empty.
 */
static int ensure_target(const char *path, bool dir)
{
	struct stat st;
	int err;

	if (lstat(path, &st) == 0)
		return S_ISDIR(st.st_mode) == dir ? 0 : -ENOTDIR;
	err = mkdir_parents(path);
	if (err < 0)
		return err;
	if (dir)
		return mkdir(path, 0755) < 0 ? negative_errno() : 0;
	return file_write_string(path, "", 0644);
}

static bool fd_is_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Step 8: hide @path; nothing to do if the job's view has no such path */
static int hide(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0755,size=4k") < 0)
			return negative_errno();
		return 0;
	}
	if (S_ISLNK(st.st_mode))
		return 0; /* fsview.c resolved it: its target is in the plan */
	{
		_cleanup_close_ int fd = clone_tree("/dev/null");
		int err;

		if (fd < 0)
			return fd;
		err = set_attr(fd, "", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
		return err < 0 ? err : attach(fd, path);
	}
}

/* Private tmpfs (step 6): where, and their options */
static const struct {
	const char *path, *opts;
} private_tmpfs[] = {
	{ "/run", "mode=0755,size=64m" },
	{ "/var/run", "mode=0755,size=64m" },
	{ "/dev/shm", "mode=1777,size=64m" },
	{ "/tmp", "mode=1777" },
	{ "/var/tmp", "mode=1777" },
};

/* Does @path lie in (or is it) one of the private tmpfs? */
static bool in_private_tmpfs(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(private_tmpfs); i++) {
		size_t n = strlen(private_tmpfs[i].path);

		if (!strncmp(path, private_tmpfs[i].path, n) && (!path[n] || path[n] == '/'))
			return true;
	}
	return false;
}

/*
 * Writable paths: @late false, those of the host's tree, attached before
 * /proc, /dev, the private tmpfs and the /etc files, which then stay on
 * top of them (--write /var keeps a private /var/tmp); @late true, those
 * in a private tmpfs, attached into it.
 */
static int attach_writable(const struct fs_plan *fs, const int *write_fds, bool late,
			   const char **ret_path)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct fs_entry *e = &fs->entries[i];
		int err;

		if (e->op != FS_OP_WRITE || in_private_tmpfs(e->path) != late)
			continue;
		*ret_path = e->path;
		err = ensure_target(e->path, fd_is_dir(write_fds[i]));
		if (!err)
			err = attach(write_fds[i], e->path);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Step 8: the files the job started from, then hidden paths */
static int protect_and_hide(const struct fs_plan *fs, const char **ret_path)
{
	int err = 0;

	for (size_t i = 0; i < fs->n && !err; i++) {
		const struct fs_entry *e = &fs->entries[i];

		*ret_path = e->path;
		if (e->op == FS_OP_READONLY && access(e->path, F_OK) == 0)
			err = bind_self(e->path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					MOUNT_ATTR_NODEV);
		else if (e->op == FS_OP_HIDE)
			err = hide(e->path);
		/* a read-only file not in the job's view (on a private
		 * tmpfs) needs nothing */
	}
	return err;
}

/* Step 2: the writable paths, cloned before the host turns read-only;
 * indexed like the plan's entries */
static int clone_writable(const struct fs_plan *fs, int **ret, const char **ret_path)
{
	int *fds = calloc(fs->n + 1, sizeof(*fds));
	int err;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i <= fs->n; i++)
		fds[i] = -1;
	*ret = fds;
	for (size_t i = 0; i < fs->n; i++) {
		if (fs->entries[i].op != FS_OP_WRITE)
			continue;
		*ret_path = fs->entries[i].path;
		fds[i] = clone_tree(fs->entries[i].path);
		if (fds[i] < 0)
			return fds[i];
		err = set_attr(fds[i], "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
		if (err < 0)
			return err;
	}
	return 0;
}

static int write_etc_files(const struct mount_params *p)
{
	char resolv[256];
	int err;

	if (mkdir(JOB_ETC_DIR, 0755) < 0)
		return negative_errno();
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
	return err;
}

/**
 * mounts_setup() - build the job's view of the filesystem
 * @p:	hostname, resolver and the plan of writable and hidden paths
 *
 * Return: 0, or negative errno (logged, naming the failing step)
 */
int mounts_setup(const struct mount_params *p)
{
	static const struct fs_plan no_plan;
	const struct fs_plan *fs = p->fs ? p->fs : &no_plan;
	int dev_fds[ARRAY_SIZE(dev_nodes)];
	_cleanup_free_ int *write_fds = NULL;
	_cleanup_close_ int dock_fd = -1;
	const char *step, *what = "";
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(dev_fds); i++)
		dev_fds[i] = -1;

	step = "make mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		goto fail_errno;

	step = "clone a writable path";
	err = clone_writable(fs, &write_fds, &what);
	if (err < 0)
		goto fail;
	if (p->dock_program) {
		step = "clone";
		what = p->dock_program;
		dock_fd = clone_tree(p->dock_program);
		if (dock_fd < 0) {
			err = dock_fd;
			goto fail;
		}
	}
	step = "clone the host's device nodes";
	what = "";
	err = dev_clone_nodes(dev_fds);
	if (err < 0)
		goto fail;

	step = "make the host read-only";
	err = set_attr(AT_FDCWD, "/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
	if (err < 0)
		goto fail;

	step = "attach a writable path";
	err = attach_writable(fs, write_fds, false, &what);
	if (err < 0)
		goto fail;
	what = "";

	step = "mount /proc";
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		goto fail_errno;
	step = "make a /proc knob read-only";
	err = protect_proc(&what);
	if (err < 0)
		goto fail;
	what = "";

	step = "mount /sys";
	err = mount_sysfs();
	if (err < 0)
		goto fail;

	step = "build /dev";
	err = mount_dev(dev_fds, &what);
	if (err < 0)
		goto fail;
	what = "";

	for (size_t i = 0; i < ARRAY_SIZE(private_tmpfs); i++) {
		if (!is_real_dir(private_tmpfs[i].path))
			continue; /* absent, or a symlink (/var/run -> /run) */
		step = "mount a private tmpfs on";
		what = private_tmpfs[i].path;
		err = mount_tmpfs(private_tmpfs[i].path, private_tmpfs[i].opts);
		if (err < 0)
			goto fail;
	}
	what = "";

	step = "write /etc files";
	err = write_etc_files(p);
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

	if (p->ca_bundle) {
		/* credentials.c: the system roots and the job CA, over the
		 * distribution's bundle (absent on some: then the variables
		 * of creds_environ() alone point at it) */
		step = "write the trust bundle";
		err = file_write_string(JOB_CA_BUNDLE, p->ca_bundle, 0644);
		if (err < 0)
			goto fail;
		step = "bind the trust bundle over";
		what = "/etc/ssl/certs/ca-certificates.crt";
		if (access(what, F_OK) == 0 &&
		    (err = bind_file_ro(JOB_CA_BUNDLE, what)) < 0)
			goto fail;
		what = "";
	}

	if (dock_fd >= 0) {
		step = "show nbjail-dock at";
		what = NBJ_DOCK_BIN_DIR "/nbjail-dock";
		if (mkdir(NBJ_DOCK_BIN_DIR, 0755) < 0)
			goto fail_errno;
		err = file_write_string(NBJ_DOCK_BIN_DIR "/nbjail-dock", "", 0755);
		if (!err)
			err = set_attr(dock_fd, "", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				       MOUNT_ATTR_NODEV);
		if (!err)
			err = attach(dock_fd, NBJ_DOCK_BIN_DIR "/nbjail-dock");
		if (err < 0)
			goto fail;
		what = "";
	}

	step = "attach a writable path";
	err = attach_writable(fs, write_fds, true, &what);
	if (err < 0)
		goto fail;
	step = "protect or hide";
	err = protect_and_hide(fs, &what);
	if (err < 0)
		goto fail;
	what = "";

	if (fs->cwd && chdir(fs->cwd) < 0) {
		log_warn("the working directory %s is not in the job's view: the job "
			 "starts in /", fs->cwd);
		(void)!chdir("/");
	}

	step = "set hostname";
	if (sethostname(p->hostname, strlen(p->hostname)) < 0)
		goto fail_errno;
	err = 0;
	goto out;

fail_errno:
	err = negative_errno();
fail:
	log_err("job setup: cannot %s%s%s: %s", step, what[0] ? " " : "", what,
		strerror(-err));
out:
	for (size_t i = 0; i < ARRAY_SIZE(dev_fds); i++)
		if (dev_fds[i] >= 0)
			close(dev_fds[i]);
	for (size_t i = 0; write_fds && i < fs->n; i++)
		if (write_fds[i] >= 0)
			close(write_fds[i]);
	return err;
}
