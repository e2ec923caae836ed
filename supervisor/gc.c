/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/gc.c - nbj_gc(): remove what killed supervisors left behind
 *
 * Theory of operation: a job directory whose lock file can be locked has
 * no live supervisor (state.c).  For each such job created in the
 * caller's network namespace, gc kills its reaper and relay if they
 * still run (matching pid *and* start time, so a recycled pid is never
 * hit), deletes its nft chain and its veth (normally already gone with
 * the job's netns), and removes its directory.  Then it removes nft
 * chains and slot claims that no job directory owns, and finally the
 * shared nft table when no job is left at all.  Jobs of another network
 * namespace are reported and left alone: their kernel objects are only
 * reachable from there.  Overlay selection cgroups of gone jobs below
 * gc's own cgroup are removed too (seccomp/selection.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "netns/link.h"
#include "netns/nft.h"
#include "seccomp/selection.h"
#include "supervisor/ctl.h"
#include "supervisor/supervisor.h"
#include "supervisor/tenant.h"

struct gc_ctx {
	nbj_gc_report_t report;
	void *data;
	unsigned long long netns_ino;
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

static bool job_dir_exists(const char *id)
{
	char path[sizeof(NBJ_RUNTIME_DIR) + 32];
	struct stat st;

	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s", id);
	return stat(path, &st) == 0;
}

static void gc_job(const char *id, void *data)
{
	struct gc_ctx *gc = data;
	char path[sizeof(NBJ_RUNTIME_DIR) + 32], ifname[IFNAMSIZ];
	struct job_record r;
	_cleanup_close_ int lock = -1;
	int err;

	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/lock", id);
	lock = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (lock < 0) {
		report(gc, id, "skipped: still starting");
		return;
	}
	if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
		report(gc, id, "alive");
		return;
	}

	err = state_record_read(id, &r);
	if (err == 0 && r.netns_ino != gc->netns_ino) {
		report(gc, id, "skipped: started in another network namespace, "
			       "run gc there");
		return;
	}
	if (err == 0) {
		kill_if_same(r.reaper_pid, r.reaper_start);
		if (r.relay_pid)
			kill_if_same(r.relay_pid, r.relay_start);
	} else {
		r.slot = -1; /* died before recording: the slot scan finds it */
	}

	err = nft_host_del_job(id);
	if (err < 0) {
		log_err("gc: cannot delete nft chain of job %s: %s", id, strerror(-err));
		gc->err = err;
		return;
	}
	snprintf(ifname, sizeof(ifname), HOST_IFNAME_PREFIX "%s", id);
	err = link_delete(ifname);
	if (err < 0) {
		log_err("gc: cannot delete %s: %s", ifname, strerror(-err));
		gc->err = err;
		return;
	}
	state_slot_mark_dirty(r.slot); /* its flows' conntrack entries may stay */
	err = state_remove_by_id(id, r.slot);
	if (err < 0) {
		log_err("gc: cannot remove state of job %s: %s", id, strerror(-err));
		gc->err = err;
		return;
	}
	report(gc, id, "removed");
}

static void gc_orphan_chain(const char *id, void *data)
{
	struct gc_ctx *gc = data;
	int err;

	if (job_dir_exists(id))
		return;
	err = nft_host_del_job(id);
	if (err < 0) {
		gc->err = err;
		return;
	}
	report(gc, id, "removed orphan nft chain");
}

static void gc_orphan_slots(struct gc_ctx *gc)
{
	DIR *d = opendir(NBJ_RUNTIME_DIR "/slots");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char owner[NBJ_JOB_ID_LEN + 1] = { 0 };
		_cleanup_close_ int fd = -1;

		if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
			continue; /* N.dirty: a mark, not a claim */
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, owner, NBJ_JOB_ID_LEN) != NBJ_JOB_ID_LEN ||
		    !job_dir_exists(owner)) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
				state_slot_mark_dirty(strtol(de->d_name, NULL, 10));
				report(gc, owner[0] ? owner : "?", "removed orphan slot claim");
			}
		}
	}
	closedir(d);
}

static bool job_gone(const char *id, void *data)
{
	(void)data;
	return !job_dir_exists(id);
}

static void selection_removed(const char *id, void *data)
{
	report(data, id, "removed its overlay selection cgroups");
}

/**
 * nbj_gc() - remove what jobs of dead supervisors left behind
 * @report:	called for each job looked at, may be NULL
 * @data:	passed to @report
 *
 * Return: 0, -EPERM when not root, or the first negative errno met
 */
int nbj_gc(nbj_gc_report_t report_cb, void *data)
{
	struct gc_ctx gc = { .report = report_cb, .data = data };
	int err;

	if (geteuid() != 0) {
		log_err("must be run as root (try sudo)");
		return -EPERM;
	}
	err = state_netns_ino(&gc.netns_ino);
	if (err < 0)
		return err;
	err = state_list_jobs(gc_job, &gc);
	if (err < 0)
		return err;
	err = nft_host_list_jobs(gc_orphan_chain, &gc);
	if (err < 0 && !gc.err)
		gc.err = err;
	gc_orphan_slots(&gc);
	ctl_remove_stale_socket();
	tenant_gc();
	(void)selection_gc(job_gone, selection_removed, &gc);
	err = state_try_remove_table();
	if (err < 0 && !gc.err)
		gc.err = err;
	return gc.err;
}
