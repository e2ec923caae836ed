/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/gc.c - nbj_gc(): remove what killed supervisors left behind
 *
 * Theory of operation: a job directory whose lock file can be locked has
 * no live supervisor or keeper (state.c).  For each such job in the
 * caller's runtime directory, gc kills its reaper and relay if they
 * still run (matching pid *and* start time, so a recycled pid is never
 * hit) and removes its directory.  Besides its cgroups a job owns
 * nothing else on the host: its network, mounts and users live in its
 * own namespaces and die with its last process.  Then the control socket
 * of a dead holder, tenants without jobs, and the cgroups of gone jobs
 * (their limits and overlay selection: below gc's own cgroup, and below
 * /nbjail or the caller's delegated <subtree>/nbjail; common/cgroup.c)
 * go.  As root gc cleans /run/nbjail; as any other user, that user's
 * $XDG_RUNTIME_DIR/nbjail.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/cgroup.h"
#include "supervisor/ctl.h"
#include "supervisor/supervisor.h"
#include "supervisor/tenant.h"

struct gc_ctx {
	nbj_gc_report_t report;
	void *data;
	int err;
};

static void report(struct gc_ctx *gc, const char *id, const char *what)
{
	if (gc->report)
		gc->report(id, what, gc->data);
}

static void kill_if_same(pid_t pid, unsigned long long start)
{
	unsigned long long now;

	if (pid > 1 && state_process_start_time(pid, &now) == 0 && now == start)
		(void)kill(pid, SIGKILL);
}

#define GC_NO_LOCK_GRACE_S 10

static bool job_dir_older_than(const char *id, time_t seconds)
{
	char path[NBJ_PATH_MAX];
	struct stat st;

	return runtime_path(path, "%s", id) == 0 && stat(path, &st) == 0 &&
	       st.st_mtime + seconds < time(NULL);
}

static bool job_dir_exists(const char *id)
{
	char path[NBJ_PATH_MAX];
	struct stat st;

	return runtime_path(path, "%s", id) == 0 && stat(path, &st) == 0;
}

static void gc_job(const char *id, void *data)
{
	struct gc_ctx *gc = data;
	char path[NBJ_PATH_MAX];
	struct job_record r;
	_cleanup_close_ int lock = -1;
	int err;

	if (runtime_path(path, "%s/lock", id) < 0)
		return;
	lock = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	/* A job holds its lock from the moment its directory exists to the
	 * moment it is removed; without one, the directory is either a start
	 * of the last moments or what an interrupted removal left (seen: a
	 * lone "info").  After GC_NO_LOCK_GRACE_S it is the latter. */
	if (lock < 0 && !job_dir_older_than(id, GC_NO_LOCK_GRACE_S)) {
		report(gc, id, "skipped: still starting");
		return;
	}
	if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0) {
		report(gc, id, "alive");
		return;
	}
	if (state_record_read(id, &r) == 0) {
		kill_if_same(r.reaper_pid, r.reaper_start);
		if (r.relay_pid)
			kill_if_same(r.relay_pid, r.relay_start);
	}
	err = state_remove_by_id(id);
	if (err < 0) {
		log_err("gc: cannot remove state of job %s: %s", id, strerror(-err));
		gc->err = err;
		return;
	}
	report(gc, id, "removed");
}

static bool job_gone(const char *id, void *data)
{
	(void)data;
	return !job_dir_exists(id);
}

static void cgroup_removed(const char *id, void *data)
{
	report(data, id, "removed its cgroup");
}

/**
 * nbj_gc() - remove what jobs of dead supervisors left behind
 * @report_cb:	called for each job looked at, may be NULL
 * @data:	passed to @report_cb
 *
 * Return: 0, -ENOENT without a runtime directory (XDG_RUNTIME_DIR unset
 * for a user other than root), or the first negative errno met
 */
int nbj_gc(nbj_gc_report_t report_cb, void *data)
{
	struct gc_ctx gc = { .report = report_cb, .data = data };
	int err;

	err = state_list_jobs(gc_job, &gc);
	if (err < 0)
		return err;
	ctl_remove_stale_socket();
	tenant_gc();
	(void)job_ids_gc();
	(void)job_cgroup_gc(job_gone, cgroup_removed, &gc);
	return gc.err;
}
