/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/state.c - /run/nbjail: locks, job directories, slot claims
 *
 * Theory of operation:
 *
 *   /run/nbjail/netns-<ino>.lock  every live supervisor started in the
 *                             network namespace <ino> holds a shared flock
 *   /run/nbjail/<id>/netns    that namespace's inode, written first
 *   /run/nbjail/<id>/lock     its supervisor holds an exclusive flock
 *   /run/nbjail/<id>/state    pids, start times, netns, slot (job_record)
 *   /run/nbjail/slots/<n>     claims pool slot n; contains the job id
 *   /run/nbjail/slots/<n>.dirty  slot n's addresses may have host conntrack
 *                             entries left: forgotten before its next use
 *
 * The job directory is created first and removed last, so anything a job
 * creates in the kernel (veth, nft chain, processes) is covered by a
 * directory while it exists.  A directory whose lock can be taken belongs
 * to a dead supervisor: nbjail gc cleans it.  A slot is claimed with
 * O_CREAT|O_EXCL, so concurrent jobs never share one.  The nft table is
 * shared by the jobs of one network namespace: it is removed only by
 * whoever can take that namespace's lock exclusively (no other supervisor
 * of the namespace is alive) and finds no job directory of the namespace
 * left (dead ones await gc); the lock file goes with it.  Whoever takes a
 * lock re-checks that the path still names the locked file, so an unlink
 * racing with an open never splits one lock into two.
 * All lock fds are O_CLOEXEC and closed in forked children, so a lock
 * lives exactly as long as the supervisor holding it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "netns/nft.h"
#include "supervisor/supervisor.h"

#define SLOTS_DIR NBJ_RUNTIME_DIR "/slots"

static int mkdir_exist_ok(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return negative_errno();
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

static void netns_lock_path(char *buf, size_t len, unsigned long long ino)
{
	snprintf(buf, len, NBJ_RUNTIME_DIR "/netns-%llu.lock", ino);
}



static bool is_job_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == NBJ_JOB_ID_LEN;
}

/**
 * state_job_create() - create the directory and locks of a new job
 * @ret:	job state; slot is -1
 *
 * Return: 0, or negative errno
 */
int state_job_create(struct job_state *ret)
{
	_cleanup_close_ int global = -1, job = -1;
	char path[sizeof(NBJ_RUNTIME_DIR) + 48], ino[32];
	struct job_state st = { .global_lock = -1, .job_lock = -1, .slot = -1 };
	int err;

	err = state_netns_ino(&st.netns_ino);
	if (!err)
		err = mkdir_exist_ok(NBJ_RUNTIME_DIR, 0700);
	if (!err)
		err = mkdir_exist_ok(SLOTS_DIR, 0700);
	if (err < 0)
		return err;
	netns_lock_path(path, sizeof(path), st.netns_ino);
	global = open_lock(path, LOCK_SH);
	if (global < 0)
		return global;

	for (int tries = 0;; tries++) {
		uint32_t r;

		if (tries == 16)
			return -EEXIST;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -EIO;
		snprintf(st.id, sizeof(st.id), "%08" PRIx32, r);
		snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s", st.id);
		if (mkdir(path, 0700) == 0)
			break;
		if (errno != EEXIST)
			return negative_errno();
	}
	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/netns", st.id);
	snprintf(ino, sizeof(ino), "%llu\n", st.netns_ino);
	err = file_write_string(path, ino, 0600);
	if (err < 0)
		return err;
	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/lock", st.id);
	job = open_lock(path, LOCK_EX | LOCK_NB);
	if (job < 0)
		return job;

	st.global_lock = TAKE_FD(global);
	st.job_lock = TAKE_FD(job);
	*ret = st;
	return 0;
}

/**
 * state_slot_claim() - claim the first free pool slot without conflicts
 * @st:		job state; @st->slot is set
 * @pool:	the pool
 * @used:	host addresses and routes (see link_host_inventory())
 * @n_used:	entries in @used
 * @ret:	the claimed slot's addresses
 *
 * Return: 0, -EADDRNOTAVAIL if every slot is taken or conflicts
 */
int state_slot_claim(struct job_state *st, const struct pool_config *pool,
		     const struct nbj_prefix *used, size_t n_used,
		     struct job_net *ret)
{
	unsigned n = pool_slot_count(pool);
	char path[sizeof(SLOTS_DIR) + 32];

	/* clean slots first: a dirty one costs a conntrack flush */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned slot = 0; slot < n; slot++) {
			_cleanup_close_ int fd = -1;
			struct job_net net;
			bool dirty;

			snprintf(path, sizeof(path), SLOTS_DIR "/%u.dirty", slot);
			dirty = access(path, F_OK) == 0;
			if (dirty != (pass == 1))
				continue;
			pool_slot_net(pool, slot, &net);
			if (pool_slot_conflicts(&net, used, n_used))
				continue;
			snprintf(path, sizeof(path), SLOTS_DIR "/%u", slot);
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0) {
				if (errno == EEXIST)
					continue;
				return negative_errno();
			}
			if (write(fd, st->id, NBJ_JOB_ID_LEN) != NBJ_JOB_ID_LEN) {
				int err = negative_errno();

				(void)unlink(path);
				return err;
			}
			st->slot = slot;
			st->slot_dirty = dirty;
			*ret = net;
			return 0;
		}
	return -EADDRNOTAVAIL;
}

/**
 * state_slot_mark_dirty() - remember that a slot's job addresses may have
 * entries left in the host's conntrack table (a job ended with live
 * flows, or its supervisor died): the next job on the slot forgets them
 * first (netns/conntrack.c)
 * @slot:	pool slot
 */
void state_slot_mark_dirty(long slot)
{
	char path[sizeof(SLOTS_DIR) + 32];
	int fd;

	if (slot < 0)
		return;
	snprintf(path, sizeof(path), SLOTS_DIR "/%ld.dirty", slot);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

/**
 * state_slot_mark_clean() - the slot's leftovers are forgotten
 * @slot:	pool slot
 */
void state_slot_mark_clean(long slot)
{
	char path[sizeof(SLOTS_DIR) + 32];

	snprintf(path, sizeof(path), SLOTS_DIR "/%ld.dirty", slot);
	(void)unlink(path);
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
	char tmp[sizeof(NBJ_RUNTIME_DIR) + 32], path[sizeof(tmp)];
	char buf[512];
	int err;

	snprintf(tmp, sizeof(tmp), NBJ_RUNTIME_DIR "/%s/state.tmp", st->id);
	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/state", st->id);
	snprintf(buf, sizeof(buf),
		     "supervisor_pid=%d\nreaper_pid=%d\nreaper_start=%llu\n"
		     "relay_pid=%d\nrelay_start=%llu\nnetns_ino=%llu\nslot=%ld\n",
		     (int)r->supervisor_pid, (int)r->reaper_pid, r->reaper_start,
		     (int)r->relay_pid, r->relay_start, r->netns_ino, r->slot);
	err = file_write_string(tmp, buf, 0600);
	if (err < 0)
		return err;
	if (rename(tmp, path) < 0)
		return negative_errno();
	return 0;
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
	char path[sizeof(NBJ_RUNTIME_DIR) + 32];
	struct job_record r = { .slot = -1 };
	char line[128];
	FILE *f;
	int seen = 0;

	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/state", id);
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
		else if (sscanf(line, "netns_ino=%llu", &r.netns_ino) == 1)
			seen++;
		else if (sscanf(line, "slot=%ld", &r.slot) == 1)
			seen++;
	}
	fclose(f);
	if (seen != 7)
		return -EINVAL;
	*ret = r;
	return 0;
}

/**
 * state_remove_by_id() - remove a job's slot claim and directory
 * @id:		job identifier
 * @slot:	its slot, or -1
 *
 * The slot file is removed only if it still names @id.
 *
 * Return: 0, or negative errno of the first failure
 */
int state_remove_by_id(const char *id, long slot)
{
	static const char *const files[] = { "state", "state.tmp", "netns", "stats", "lock" };
	char path[sizeof(NBJ_RUNTIME_DIR) + 32];
	int err = 0;

	if (slot >= 0) {
		char owner[NBJ_JOB_ID_LEN + 1] = { 0 };
		_cleanup_close_ int fd = -1;

		snprintf(path, sizeof(path), SLOTS_DIR "/%ld", slot);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, owner, NBJ_JOB_ID_LEN) == NBJ_JOB_ID_LEN &&
		    !strcmp(owner, id) && unlink(path) < 0)
			err = negative_errno();
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/%s", id, files[i]);
		if (unlink(path) < 0 && errno != ENOENT && !err)
			err = negative_errno();
	}
	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s", id);
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
	DIR *d = opendir(NBJ_RUNTIME_DIR);
	struct dirent *de;
	int n = 0;

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

struct netns_count {
	unsigned long long ino;
	int n;
};

static void count_netns_job(const char *id, void *data)
{
	struct netns_count *nc = data;
	char path[sizeof(NBJ_RUNTIME_DIR) + 32];
	unsigned long long ino;
	FILE *f;

	snprintf(path, sizeof(path), NBJ_RUNTIME_DIR "/%s/netns", id);
	f = fopen(path, "re");
	/* unreadable: a job being created or broken state: keep the table */
	if (!f || fscanf(f, "%llu", &ino) != 1 || ino == nc->ino)
		nc->n++;
	if (f)
		fclose(f);
}

/**
 * state_try_remove_table() - remove this netns's nft table if no job of
 * the netns is left
 *
 * Takes the namespace's lock exclusively without waiting: it succeeds only
 * if no other supervisor of this netns is alive; then the table and the
 * lock file are removed only when no job directory of this netns (of a
 * dead supervisor, awaiting gc) remains either.
 *
 * Return: 1 if removed, 0 if jobs remain, or negative errno
 */
int state_try_remove_table(void)
{
	char path[sizeof(NBJ_RUNTIME_DIR) + 48];
	struct netns_count nc = { 0 };
	_cleanup_close_ int fd = -1;
	int n, err;

	err = state_netns_ino(&nc.ino);
	if (err < 0)
		return err;
	netns_lock_path(path, sizeof(path), nc.ino);
	fd = open_lock(path, LOCK_EX | LOCK_NB);
	if (fd == -EWOULDBLOCK || fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	n = state_list_jobs(count_netns_job, &nc);
	if (n < 0)
		return n;
	if (nc.n)
		return 0;
	err = nft_host_del_table();
	if (err < 0)
		return err;
	(void)unlink(path);
	return 1;
}

/**
 * state_job_remove() - remove a job's footprint and release its locks
 * @st:	job state; its fds are closed
 */
void state_job_remove(struct job_state *st)
{
	int err = state_remove_by_id(st->id, st->slot);

	if (err < 0)
		log_warn("cannot remove state of job %s: %s", st->id, strerror(-err));
	closep(&st->job_lock);
	st->job_lock = -1;
	closep(&st->global_lock);
	st->global_lock = -1;
	err = state_try_remove_table();
	if (err < 0)
		log_warn("cannot remove nft table: %s", strerror(-err));
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

/**
 * state_netns_ino() - inode number of the caller's network namespace
 * @ret:	inode
 *
 * Return: 0, or negative errno
 */
int state_netns_ino(unsigned long long *ret)
{
	struct stat s;

	if (stat("/proc/self/ns/net", &s) < 0)
		return negative_errno();
	*ret = (unsigned long long)s.st_ino;
	return 0;
}

/**
 * fds_close_all_except() - close every fd above 2 except @keep
 * @keep:	fds to keep open, in any order, any number (duplicates and
 *		fds below 3 are fine)
 * @n_keep:	entries in @keep
 *
 * Used in forked children (reaper, relay) so that no lock, pidfd or
 * netlink socket of the supervisor lives on in them.  Allocates nothing
 * (it runs between fork and exec): each round closes the gap up to the
 * next kept fd, so the cost is n_keep squared, and n_keep is small (the
 * relay's is PUBLISH_MAX plus a handful).
 */
void fds_close_all_except(const int *keep, size_t n_keep)
{
	unsigned lo = 3;

	for (;;) {
		long next = -1;

		for (size_t i = 0; i < n_keep; i++)
			if (keep[i] >= (int)lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			break;
		if ((unsigned)next > lo)
			(void)close_range(lo, (unsigned)next - 1, 0);
		lo = (unsigned)next + 1;
	}
	(void)close_range(lo, ~0u, 0);
}
