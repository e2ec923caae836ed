/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/jobuids.c - the per-job ids of the relay, the audit writer
 * and the key holder
 *
 * Theory of operation: as root, every job claims a slot N of
 * JOB_UID_SLOTS; its relay runs as uid=gid JOB_UID_BASE + 3N, its audit
 * writer as JOB_UID_BASE + 3N + 1 and its key holder (nbjail-keys) as
 * JOB_UID_BASE + 3N + 2 (common/roles.h).  No other
 * process on the host has those ids, so `nobody`, the job itself and
 * another job's relay can neither signal nor trace nor read them, a
 * relay cannot silence its own audit writer, and neither can signal the
 * key holder.
 *
 * A claim is an exclusive flock(2) on /run/nbjail/.uids/N, taken without
 * waiting, lowest free slot first (so the directory holds as many files
 * as jobs ever ran at once).  Every process that runs with the ids, and
 * the keeper that outlives them, holds the lock's open file: the kernel
 * frees the slot when the last of them is gone, whatever killed them.
 * After locking, the path is checked to still name the locked file (a
 * racing remover must not leave two holders of one slot); the keeper
 * removes the file once the job's processes are gone (job_ids_release()),
 * gc those of keepers that died first.  Slots whose
 * ids belong to an account of the user database are skipped.
 *
 * That look-up is the costliest step of a job's start (six NSS calls,
 * 2-4 ms with nss-systemd loaded for them), and its answer hardly ever
 * changes, so it is remembered: .checked.N (root's, in the same 0700
 * directory; gc leaves dot files alone) carries, as its mtime, the time
 * slot N's ids were last looked up and found unused.  The answer is
 * used for IDS_CHECK_TTL_S seconds, and only while no file or directory
 * of the local user database (user_db_paths[]) changed after that time;
 * an account added in a remote database (LDAP, sssd) with one of these
 * ids is seen within IDS_CHECK_TTL_S seconds.
 *
 * The range is 0x7E620000 up (meson option job_uid_base), in the span
 * systemd leaves unused (its docs/UIDS-GIDS.md); nbjail(1) documents it.
 * Rootless, the helpers run as the caller: there are no other ids to use.
 */
#include <dirent.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "supervisor/job_int.h"

#define JOB_UID_DIR ".uids"

#define IDS_CHECK_TTL_S 60

/* whatever, changed, can name new accounts (nss-files, nss-systemd's
 * userdb drop-ins, the NSS configuration itself) */
static const char *const user_db_paths[] = {
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
	"/etc/userdb", "/run/userdb", "/run/host/userdb", "/usr/lib/userdb",
};

static bool ids_unused(uid_t id)
{
	return !getpwuid(id) && !getgrgid((gid_t)id);
}

static bool timespec_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Slot @slot's ids were found unused less than IDS_CHECK_TTL_S ago, and
 * the local user database has not changed since (see the theory) */
static bool slot_checked_recently(int dirfd, unsigned slot)
{
	struct timespec now;
	struct stat mark, st;
	char name[24];

	snprintf(name, sizeof(name), ".checked.%u", slot);
	if (fstatat(dirfd, name, &mark, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(mark.st_mode) ||
	    mark.st_uid != 0)
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	if (timespec_before(&now, &mark.st_mtim) ||
	    now.tv_sec - mark.st_mtim.tv_sec >= IDS_CHECK_TTL_S)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(user_db_paths); i++) {
		if (stat(user_db_paths[i], &st) < 0) {
			if (errno == ENOENT)
				continue; /* made later: its times are later */
			return false;
		}
		if (!timespec_before(&st.st_mtim, &mark.st_mtim) ||
		    !timespec_before(&st.st_ctim, &mark.st_mtim))
			return false;
	}
	return true;
}

/* Remember that slot @slot's ids were found unused by a look-up that
 * began at @began */
static void slot_mark_checked(int dirfd, unsigned slot, const struct timespec *began)
{
	_cleanup_close_ int fd = -1;
	struct timespec times[2] = { *began, *began };
	char name[24];

	snprintf(name, sizeof(name), ".checked.%u", slot);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		(void)futimens(fd, times);
}

/* Slot @slot's ids are no account's of the user database */
static bool slot_ids_unused(int dirfd, unsigned slot, uid_t id)
{
	struct timespec began;

	if (slot_checked_recently(dirfd, slot))
		return true;
	clock_gettime(CLOCK_REALTIME, &began);
	if (!ids_unused(id) || !ids_unused(id + 1) || !ids_unused(id + 2))
		return false;
	slot_mark_checked(dirfd, slot, &began);
	return true;
}

static int claim_slot(int dirfd, unsigned slot)
{
	_cleanup_close_ int fd = -1;
	char name[16];
	struct stat a, b;

	snprintf(name, sizeof(name), "%u", slot);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return negative_errno();
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
	if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return -EBUSY; /* removed under us: another slot */
	return TAKE_FD(fd);
}

/**
 * job_ids_claim() - the ids of a job's relay, audit writer and key holder
 * @ret:	filled with the ids and the claim's fd (-1 rootless)
 *
 * Return: 0, -EUSERS when every slot is taken, or negative errno
 */
int job_ids_claim(struct job_ids *ret)
{
	_cleanup_close_ int dirfd = -1;
	char path[NBJ_PATH_MAX];
	int err;

	ret->claim = -1;
	if (geteuid() != 0) {
		ret->relay = ret->audit = ret->keys = (struct role_ids){ getuid(), getgid() };
		return 0;
	}
	err = runtime_path(path, JOB_UID_DIR);
	if (err < 0)
		return err;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0)
		return negative_errno();
	for (unsigned slot = 0; slot < JOB_UID_SLOTS; slot++) {
		uid_t id = (uid_t)(JOB_UID_BASE + JOB_UID_PER_SLOT * slot);
		int fd;

		if (!slot_ids_unused(dirfd, slot, id))
			continue;
		fd = claim_slot(dirfd, slot);
		if (fd == -EBUSY)
			continue;
		if (fd < 0)
			return fd;
		ret->claim = fd;
		ret->slot = slot;
		ret->relay = (struct role_ids){ id, (gid_t)id };
		ret->audit = (struct role_ids){ id + 1, (gid_t)(id + 1) };
		ret->keys = (struct role_ids){ id + 2, (gid_t)(id + 2) };
		return 0;
	}
	log_err("every one of the %u per-job ids is in use (%s)", JOB_UID_SLOTS, path);
	return -EUSERS;
}

/**
 * job_ids_release() - give the slot back once no process has its ids:
 * the claim file is removed while still locked, then closed
 * @ids:	the job's ids; @ids->claim is closed
 *
 * A job claiming the slot meanwhile finds, after locking, that the path
 * no longer names the file it locked, and takes another (claim_slot()).
 */
void job_ids_release(struct job_ids *ids)
{
	char path[NBJ_PATH_MAX];

	if (ids->claim < 0)
		return;
	if (runtime_path(path, JOB_UID_DIR "/%u", ids->slot) == 0)
		(void)unlink(path);
	closep(&ids->claim);
	ids->claim = -1;
}

/**
 * job_ids_gc() - remove the claim files of slots no process holds
 *
 * Each file is locked before it is removed, so a job that claims the
 * slot at the same moment either holds the lock (the file stays) or
 * finds the path gone after locking and takes another (claim_slot()).
 *
 * Return: number of files removed
 */
int job_ids_gc(void)
{
	char path[NBJ_PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (geteuid() != 0 || runtime_path(path, JOB_UID_DIR) < 0)
		return 0;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -1;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}
