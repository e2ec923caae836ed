/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/state.c - the runtime directory: job directories and locks
 *
 * Theory of operation: the runtime directory is /run/nbjail for root and
 * $XDG_RUNTIME_DIR/nbjail for anyone else (rootless mode: each user's
 * jobs, control socket, statistics and tenants are their own):
 *
 *   DIR/<id>/lock     its supervisor (later its keeper) holds an
 *                     exclusive flock
 *   DIR/<id>/state    pids and start times (job_record)
 *   DIR/<id>/info     name, tenant, profile, tenant slot (job_info)
 *   DIR/<id>/stats    the job's statistics (common/stats.c)
 *
 * The job directory is created first and removed last, so every process
 * of a job is covered by a directory while it exists.  A directory whose
 * lock can be taken belongs to a dead supervisor: nbjail gc cleans it.
 * A job has nothing in the kernel outside its own namespaces (no link,
 * no host nftables, no addresses), so there is nothing else to claim or
 * to release.  The state and info files are written by the supervisor
 * alone (in root mode the directory is root's, mode 0700); the stats file
 * is also written, through its mapping, by the job's relay and audit
 * writer, so what ctl and gc need to know about a job (its id, name,
 * tenant, pids, tenant slot) is taken from the directory's name and from
 * these two files, never from the stats (common/audit.h).  Whoever takes a lock re-checks that the path still names
 * the locked file, so an unlink racing with an open never splits one
 * lock into two.  All lock fds are O_CLOEXEC and closed in forked
 * children, so a lock lives exactly as long as its holder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/file.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

/**
 * nbj_runtime_dir() - the caller's runtime directory
 *
 * /run/nbjail for root; $XDG_RUNTIME_DIR/nbjail otherwise.
 *
 * Return: the path, or NULL when not root and XDG_RUNTIME_DIR is unset,
 * relative or too long (see nbj_runtime_dir_error())
 */
const char *nbj_runtime_dir(void)
{
	static char dir[NBJ_PATH_MAX - 64];
	const char *xdg;

	if (dir[0])
		return dir;
	if (geteuid() == 0) {
		snprintf(dir, sizeof(dir), "%s", NBJ_ROOT_RUNTIME_DIR);
		return dir;
	}
	xdg = getenv("XDG_RUNTIME_DIR");
	if (!xdg || xdg[0] != '/' || strlen(xdg) + sizeof("/nbjail") > sizeof(dir))
		return NULL;
	snprintf(dir, sizeof(dir), "%s/nbjail", xdg);
	return dir;
}

/**
 * nbj_runtime_dir_error() - say why there is no runtime directory
 *
 * Return: -ENOENT (for the caller to return)
 */
int nbj_runtime_dir_error(void)
{
	log_err("XDG_RUNTIME_DIR is not set (or not an absolute path): as a user "
		"other than root, nbjail keeps its state in $XDG_RUNTIME_DIR/nbjail; "
		"log in through a session that sets it, or export "
		"XDG_RUNTIME_DIR=/run/user/$(id -u) if that directory is yours");
	return -ENOENT;
}

/**
 * runtime_path() - a path under the runtime directory
 * @buf:	output, NBJ_PATH_MAX bytes
 * @fmt:	printf format of the part after "DIR/"
 *
 * Return: 0, -ENOENT without a runtime directory, -ENAMETOOLONG
 */
int runtime_path(char buf[NBJ_PATH_MAX], const char *fmt, ...)
{
	const char *dir = nbj_runtime_dir();
	va_list ap;
	int n, m;

	if (!dir)
		return -ENOENT;
	n = snprintf(buf, NBJ_PATH_MAX, "%s/", dir);
	va_start(ap, fmt);
	m = vsnprintf(buf + n, NBJ_PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= NBJ_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Open and flock @path; retry if it was unlinked (or replaced) meanwhile */
static int open_lock(const char *path, int how)
{
	for (int tries = 0; tries < 64; tries++) {
		_cleanup_close_ int fd = -1;
		struct stat a, b;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return negative_errno();
		if (flock(fd, how) < 0)
			return negative_errno();
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return TAKE_FD(fd);
	}
	return -EAGAIN;
}

static bool is_job_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == NBJ_JOB_ID_LEN;
}

/*
 * The runtime directory itself: made 0700 if missing; an existing one
 * must be a directory of ours, not writable by anyone else (a user's
 * $XDG_RUNTIME_DIR is; /run/nbjail is root's)
 */
static int runtime_dir_ensure(void)
{
	const char *dir = nbj_runtime_dir();
	struct stat st;

	if (!dir)
		return nbj_runtime_dir_error();
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	if (lstat(dir, &st) < 0)
		return negative_errno();
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022)) {
		log_err("%s is not a directory of uid %u writable only by it",
			dir, (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

/**
 * state_job_create() - create the directory and lock of a new job
 * @ret:	job state
 *
 * Return: 0, or negative errno
 */
int state_job_create(struct job_state *ret)
{
	_cleanup_close_ int job = -1;
	struct job_state st = { .job_lock = -1 };
	char path[NBJ_PATH_MAX];
	int err;

	err = runtime_dir_ensure();
	if (err < 0)
		return err;
	for (int tries = 0;; tries++) {
		uint32_t r;

		if (tries == 16)
			return -EEXIST;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -EIO;
		snprintf(st.id, sizeof(st.id), "%08" PRIx32, r);
		err = runtime_path(path, "%s", st.id);
		if (err < 0)
			return err;
		if (mkdir(path, 0700) == 0)
			break;
		if (errno != EEXIST)
			return negative_errno();
	}
	err = runtime_path(path, "%s/lock", st.id);
	if (err < 0)
		return err;
	job = open_lock(path, LOCK_EX | LOCK_NB);
	if (job < 0)
		return job;
	st.job_lock = TAKE_FD(job);
	*ret = st;
	return 0;
}

/* @content as the job's file @name, atomically: written to NAME.tmp (which
 * state_remove_by_id() knows too), then renamed over NAME */
static int job_file_publish(const char *id, const char *name, const char *content)
{
	char tmp[NBJ_PATH_MAX], path[NBJ_PATH_MAX];
	int err;

	err = runtime_path(tmp, "%s/%s.tmp", id, name);
	if (!err)
		err = runtime_path(path, "%s/%s", id, name);
	if (!err)
		err = file_write_string(tmp, content, 0600);
	if (err < 0)
		return err;
	if (rename(tmp, path) < 0)
		return negative_errno();
	return 0;
}

/**
 * state_record_write() - write the job's state file atomically
 * @st:	job state
 * @r:	what to record
 *
 * Return: 0, or negative errno
 */
int state_record_write(const struct job_state *st, const struct job_record *r)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "supervisor_pid=%d\nreaper_pid=%d\nreaper_start=%llu\n"
		 "relay_pid=%d\nrelay_start=%llu\n",
		 (int)r->supervisor_pid, (int)r->reaper_pid, r->reaper_start,
		 (int)r->relay_pid, r->relay_start);
	return job_file_publish(st->id, "state", buf);
}

/**
 * state_record_read() - read the state file of job @id
 * @id:		job identifier
 * @ret:	parsed record
 *
 * Return: 0, -ENOENT when there is none yet, -EINVAL when malformed
 */
int state_record_read(const char *id, struct job_record *ret)
{
	char path[NBJ_PATH_MAX];
	struct job_record r = { 0 };
	char line[128];
	FILE *f;
	int seen = 0, err;

	err = runtime_path(path, "%s/state", id);
	if (err < 0)
		return err;
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		int pid;

		if (sscanf(line, "supervisor_pid=%d", &pid) == 1)
			r.supervisor_pid = pid, seen++;
		else if (sscanf(line, "reaper_pid=%d", &pid) == 1)
			r.reaper_pid = pid, seen++;
		else if (sscanf(line, "reaper_start=%llu", &r.reaper_start) == 1)
			seen++;
		else if (sscanf(line, "relay_pid=%d", &pid) == 1)
			r.relay_pid = pid, seen++;
		else if (sscanf(line, "relay_start=%llu", &r.relay_start) == 1)
			seen++;
	}
	fclose(f);
	if (seen != 5)
		return -EINVAL;
	*ret = r;
	return 0;
}

/**
 * state_info_write() - write the job's info file, atomically, once
 * @st:		job state
 * @info:	what to record; names are labels (nbj_label_valid())
 *
 * Return: 0, or negative errno
 */
int state_info_write(const struct job_state *st, const struct job_info *info)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "name=%s\ntenant=%s\nprofile=%s\nsupervisor_pid=%d\nstart_usec=%llu\n"
		 "tenant_slot=%d\n",
		 info->name, info->tenant, info->profile, (int)info->supervisor_pid,
		 info->start_usec, info->tenant_slot);
	return job_file_publish(st->id, "info", buf);
}

/* "KEY=VALUE\n" into @buf (@size bytes) if @line is KEY's; false if not */
static bool info_text(const char *line, const char *key, char *buf, size_t size)
{
	size_t k = strlen(key), n;

	if (strncmp(line, key, k) || line[k] != '=')
		return false;
	n = strcspn(line + k + 1, "\n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, line + k + 1, n);
	buf[n] = '\0';
	return true;
}

/**
 * state_info_read() - read the info file of job @id
 * @id:		job identifier
 * @ret:	parsed info
 *
 * Return: 0, -ENOENT when there is none (yet), -EINVAL when malformed
 */
int state_info_read(const char *id, struct job_info *ret)
{
	char path[NBJ_PATH_MAX], line[128];
	struct job_info info = { .tenant_slot = -1 };
	unsigned seen = 0;
	FILE *f;
	int err, n;

	err = runtime_path(path, "%s/info", id);
	if (err < 0)
		return err;
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		if (info_text(line, "name", info.name, sizeof(info.name)))
			seen |= 1;
		else if (info_text(line, "tenant", info.tenant, sizeof(info.tenant)))
			seen |= 2;
		else if (info_text(line, "profile", info.profile, sizeof(info.profile)))
			seen |= 4;
		else if (sscanf(line, "supervisor_pid=%d", &n) == 1)
			info.supervisor_pid = n, seen |= 8;
		else if (sscanf(line, "start_usec=%llu", &info.start_usec) == 1)
			seen |= 16;
		else if (sscanf(line, "tenant_slot=%d", &info.tenant_slot) == 1)
			seen |= 32;
	}
	fclose(f);
	if (seen != 63 || info.tenant_slot < -1 || info.tenant_slot >= TENANT_SLOTS)
		return -EINVAL;
	*ret = info;
	return 0;
}

/**
 * state_remove_by_id() - remove a job's directory
 * @id:		job identifier
 *
 * Return: 0, or negative errno of the first failure
 */
int state_remove_by_id(const char *id)
{
	static const char *const files[] = { "state", "state.tmp", "info", "info.tmp",
					     "stats", "revoked", NBJ_OCI_AGENT_SOCKET,
					     NBJ_OCI_NETNS_RECORD, NBJ_OCI_NETNS_RECORD ".tmp",
					     "lock" };
	char path[NBJ_PATH_MAX];
	int err = 0;

	if (!is_job_id(id))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (runtime_path(path, "%s/%s", id, files[i]) < 0)
			return -ENOENT;
		if (unlink(path) < 0 && errno != ENOENT && !err)
			err = negative_errno();
	}
	if (runtime_path(path, "%s", id) < 0)
		return -ENOENT;
	if (rmdir(path) < 0 && errno != ENOENT && !err)
		err = negative_errno();
	return err;
}

/**
 * state_list_jobs() - call @cb for every job directory
 * @cb:		callback with the job id
 * @data:	passed to @cb
 *
 * Return: number of job directories, or negative errno
 */
int state_list_jobs(void (*cb)(const char *id, void *data), void *data)
{
	const char *dir = nbj_runtime_dir();
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (!dir)
		return nbj_runtime_dir_error();
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d))) {
		if (!is_job_id(de->d_name))
			continue;
		n++;
		if (cb)
			cb(de->d_name, data);
	}
	closedir(d);
	return n;
}

/**
 * state_job_remove() - remove a job's footprint and release its lock
 * @st:	job state; its lock fd is closed
 */
void state_job_remove(struct job_state *st)
{
	int err = state_remove_by_id(st->id);

	if (err < 0)
		log_warn("cannot remove state of job %s: %s", st->id, strerror(-err));
	closep(&st->job_lock);
	st->job_lock = -1;
}

/**
 * state_process_start_time() - start time of a process, to detect reuse
 * @pid:	process
 * @ret:	field 22 of /proc/<pid>/stat (clock ticks since boot)
 *
 * Return: 0, or negative errno (-ENOENT: no such process)
 */
int state_process_start_time(pid_t pid, unsigned long long *ret)
{
	char path[32], buf[1024];
	_cleanup_close_ int fd = -1;
	unsigned long long start;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* after ") " come fields 3..; the start time is field 22 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			  "%*d %*d %*d %*d %*d %*d %llu", &start) != 1)
		return -EINVAL;
	*ret = start;
	return 0;
}


