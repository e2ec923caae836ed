/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/tenant.c - what the jobs of one tenant share
 *
 * Theory of operation: /run/nbjail/tenants/NAME holds a struct
 * tenant_state: the tenant's buckets of connect attempts and bytes
 * (common/rate.c works on them lock-free from every job's supervisor and
 * relay) and one slot per job with its current flow count, summed for the
 * tenant's concurrency limit.  Nothing here takes a lock that another job
 * could wait on: the first job initializes the file (compare-and-swap on
 * its magic), slots are claimed by compare-and-swap.  Each job holds a
 * shared flock on the file for its life; the job that leaves last (its
 * exclusive lock succeeds without waiting) removes it.  A job that opened
 * the file just before it was removed sees that the path no longer names
 * its inode, and opens again.  Slots of jobs killed with their supervisor
 * are freed by nbj_gc().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"
#include "supervisor/tenant.h"

#define TENANT_DIR ctl_tenant_dir((char[NBJ_PATH_MAX]){ 0 })

/* DIR/tenants of the caller's runtime directory, "" without one */
static const char *ctl_tenant_dir(char buf[NBJ_PATH_MAX])
{
	if (runtime_path(buf, "tenants") < 0)
		buf[0] = '\0';
	return buf;
}

static void tenant_init(struct tenant_state *t, const char *tenant)
{
	uint64_t expected = 0;

	if (atomic_compare_exchange_strong(&t->magic, &expected, TENANT_STATE_INIT)) {
		t->size = sizeof(*t);
		snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
		atomic_store(&t->magic, TENANT_STATE_MAGIC);
		return;
	}
	/* another job initializes it right now: microseconds */
	for (int i = 0; i < 100000 && atomic_load(&t->magic) == TENANT_STATE_INIT; i++)
		sched_yield();
}

static int tenant_open(const char *tenant, int *ret_fd, struct tenant_state **ret)
{
	char path[NBJ_PATH_MAX + 72];
	struct stat st, lst;

	snprintf(path, sizeof(path), "%s/%s", TENANT_DIR, tenant);
	for (int tries = 0; tries < 8; tries++) {
		_cleanup_close_ int fd = -1;
		struct tenant_state *t;

		if (mkdir(TENANT_DIR, 0700) < 0 && errno != EEXIST)
			return negative_errno();
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == ENOENT)
			continue; /* the directory went with another tenant's last job */
		if (fd < 0)
			return negative_errno();
		if (flock(fd, LOCK_SH) < 0 || fstat(fd, &st) < 0)
			return negative_errno();
		if (stat(path, &lst) < 0 || lst.st_ino != st.st_ino || lst.st_dev != st.st_dev)
			continue; /* removed by the last job of the tenant meanwhile */
		if (st.st_size < (off_t)sizeof(*t) && ftruncate(fd, sizeof(*t)) < 0)
			return negative_errno();
		t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (t == MAP_FAILED)
			return negative_errno();
		tenant_init(t, tenant);
		if (atomic_load(&t->magic) != TENANT_STATE_MAGIC) {
			munmap(t, sizeof(*t));
			return -EPROTO;
		}
		*ret_fd = TAKE_FD(fd);
		*ret = t;
		return 0;
	}
	return -EAGAIN;
}

/**
 * tenant_attach() - join a tenant: map its shared state, take a slot
 * @tenant:	the tenant's name
 * @job_id:	the job
 * @ret:	attachment, see struct tenant_attachment
 *
 * Return: 0, or negative errno (-ENOSPC when every slot is taken)
 */
int tenant_attach(const char *tenant, const char *job_id,
		  struct tenant_attachment *ret)
{
	struct tenant_attachment a = { .fd = -1, .slot = -1 };
	int err = tenant_open(tenant, &a.fd, &a.state);

	if (err < 0)
		return err;
	for (int i = 0; i < TENANT_SLOTS; i++) {
		struct tenant_slot *sl = &a.state->slots[i];
		uint32_t expected = 0;

		if (!atomic_compare_exchange_strong(&sl->used, &expected, 1))
			continue;
		atomic_store(&sl->active, 0);
		snprintf(sl->job_id, sizeof(sl->job_id), "%s", job_id);
		a.slot = i;
		break;
	}
	if (a.slot < 0) {
		munmap(a.state, sizeof(*a.state));
		close(a.fd);
		return -ENOSPC;
	}
	snprintf(a.name, sizeof(a.name), "%s", tenant);
	*ret = a;
	return 0;
}

static void slot_release(struct tenant_slot *sl)
{
	atomic_store(&sl->active, 0);
	sl->job_id[0] = '\0';
	atomic_store(&sl->used, 0);
}

/**
 * tenant_detach() - leave the tenant; the last job out removes its file
 * @a:		attachment from tenant_attach(), reset
 */
void tenant_detach(struct tenant_attachment *a)
{
	char path[NBJ_PATH_MAX + 72];

	if (a->fd < 0)
		return;
	if (a->slot >= 0)
		slot_release(&a->state->slots[a->slot]);
	snprintf(path, sizeof(path), "%s/%s", TENANT_DIR, a->name);
	if (flock(a->fd, LOCK_EX | LOCK_NB) == 0) {
		(void)unlink(path);
		(void)rmdir(TENANT_DIR); /* fails while other tenants are there */
	}
	munmap(a->state, sizeof(*a->state));
	closep(&a->fd);
	a->fd = a->slot = -1;
	a->state = NULL;
}

static bool job_alive(const char *id)
{
	char path[NBJ_PATH_MAX];

	if (runtime_path(path, "%s", id) < 0)
		return false;
	return access(path, F_OK) == 0;
}

/**
 * tenant_gc() - free the slots of jobs that are gone, remove tenant files
 * no job holds; for nbj_gc()
 */
void tenant_gc(void)
{
	DIR *d = opendir(TENANT_DIR);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[NBJ_PATH_MAX + 300];
		struct tenant_state *t;
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", TENANT_DIR, de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			(void)unlink(path); /* nobody holds it */
		} else if (fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(*t)) {
			/* jobs hold it: free only the slots of jobs that are gone
			 * (a slot claimed a moment ago has no job id yet) */
			t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (t != MAP_FAILED) {
				for (int i = 0; i < TENANT_SLOTS; i++) {
					char id[16];

					memcpy(id, t->slots[i].job_id, sizeof(id));
					id[sizeof(id) - 1] = '\0';
					if (atomic_load(&t->slots[i].used) && id[0] && !job_alive(id))
						slot_release(&t->slots[i]);
				}
				munmap(t, sizeof(*t));
			}
		}
		close(fd);
	}
	closedir(d);
	(void)rmdir(TENANT_DIR);
}
