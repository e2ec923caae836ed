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
 *
 * Every job's relay maps the file read-write, so it holds integer words
 * only (common/audit.h) and nothing more trusted believes what it says
 * about who holds a slot: a job records its slot in its own info file
 * (supervisor/state.c), and tenant_gc() frees a claimed slot only when
 * no live job's info file names it.  A relay that scribbles the file can
 * spoil its own tenant's counts and buckets (it could refuse its job's
 * traffic anyway), never make root remove, open or keep anything else.
 * gc frees a slot by swapping the claim number it saw, so a slot claimed
 * again after it looked is left alone.
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

static void tenant_init(struct tenant_state *t)
{
	uint64_t expected = 0;

	if (atomic_compare_exchange_strong(&t->magic, &expected, TENANT_STATE_INIT)) {
		t->size = sizeof(*t);
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
		tenant_init(t);
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
 * @tenant:	the tenant's name (a label)
 * @ret:	attachment, see struct tenant_attachment; the caller records
 *		@ret->slot in the job's info file
 *
 * Return: 0, or negative errno (-ENOSPC when every slot is taken)
 */
int tenant_attach(const char *tenant, struct tenant_attachment *ret)
{
	struct tenant_attachment a = { .fd = -1, .slot = -1 };
	int err = tenant_open(tenant, &a.fd, &a.state);

	if (err < 0)
		return err;
	/* a number no other claim has (unless a relay wrote the counter:
	 * then only its own tenant's slots can be confused) */
	a.claim = atomic_fetch_add(&a.state->claims, 1) + 1;
	if (a.claim == 0 || a.claim == TENANT_SLOT_RELEASING)
		a.claim = 1;
	for (int i = 0; i < TENANT_SLOTS; i++) {
		struct tenant_slot *sl = &a.state->slots[i];
		uint64_t expected = 0;

		if (!atomic_compare_exchange_strong(&sl->claim, &expected, a.claim))
			continue;
		atomic_store(&sl->active, 0);
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

/* Free @sl if it still carries @claim */
static void slot_release(struct tenant_slot *sl, uint64_t claim)
{
	if (atomic_load(&sl->claim) != claim)
		return;
	atomic_store(&sl->active, 0);
	(void)atomic_compare_exchange_strong(&sl->claim, &claim, 0);
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
	if (a->slot >= 0 && a->slot < TENANT_SLOTS)
		slot_release(&a->state->slots[a->slot], a->claim);
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

/**
 * struct tenant_holders - which slots of one tenant live jobs hold, from
 * their info files (written by their supervisors, never by a relay)
 * @tenant:	the tenant
 * @held:	slot i is held by a live job
 * @unsure:	a live job has no (valid) info file yet: it may be claiming
 *		a slot of any tenant right now
 */
struct tenant_holders {
	const char *tenant;
	bool held[TENANT_SLOTS];
	bool unsure;
};

static void holder_add(const char *id, void *data)
{
	struct tenant_holders *h = data;
	struct job_info info;

	if (state_info_read(id, &info) < 0) {
		h->unsure = true;
		return;
	}
	if (!strcmp(info.tenant, h->tenant) && info.tenant_slot >= 0 &&
	    info.tenant_slot < TENANT_SLOTS)
		h->held[info.tenant_slot] = true;
}

/*
 * Free the claimed slots of @t that no live job of tenant @name holds.
 * The claims are read before the jobs are: a slot claimed after that is
 * not freed (its claim number changed, or it was free when looked at).
 */
static void slots_gc(struct tenant_state *t, const char *name)
{
	struct tenant_holders h;
	uint64_t seen[TENANT_SLOTS];

	for (int i = 0; i < TENANT_SLOTS; i++)
		seen[i] = atomic_load(&t->slots[i].claim);
	h = (struct tenant_holders){ .tenant = name };
	if (state_list_jobs(holder_add, &h) < 0 || h.unsure)
		return;
	for (int i = 0; i < TENANT_SLOTS; i++) {
		uint64_t claim = seen[i];

		/* a slot left "releasing" is freed too: only a relay or a
		 * gc killed midway leaves it so */
		if (!claim || h.held[i])
			continue;
		if (!atomic_compare_exchange_strong(&t->slots[i].claim, &claim,
						    TENANT_SLOT_RELEASING))
			continue;
		atomic_store(&t->slots[i].active, 0);
		atomic_store(&t->slots[i].claim, 0);
	}
}

/**
 * tenant_gc() - free the slots of jobs that are gone, remove tenant files
 * no job holds; for nbj_gc()
 *
 * Which slots are held comes from the live jobs' info files; the tenant
 * file is only written (claims and counts of freed slots), never believed.
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
		} else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			   st.st_size == (off_t)sizeof(*t)) {
			t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (t != MAP_FAILED) {
				if (atomic_load(&t->magic) == TENANT_STATE_MAGIC)
					slots_gc(t, de->d_name);
				munmap(t, sizeof(*t));
			}
		}
		close(fd);
	}
	closedir(d);
	(void)rmdir(TENANT_DIR);
}
