/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/supervisor.h - internal interfaces of the job lifecycle
 *
 * config.c  struct nbj_config and its setters
 * state.c   /run/nbjail: locks, job directories, slot claims, state files
 * creds.c   the workload's user, groups, capabilities, no_new_privs
 * fsview.c  what of the host the job may write or must not see
 * mounts.c  the job's mount namespace
 * reaper.c  PID 1 of the job: setup inside, exec, forward signals, reap
 * job.c     nbj_job_*: the order of everything, and teardown
 * gc.c      nbj_gc(): what a killed supervisor left behind
 */
#ifndef NBJ_SUPERVISOR_H
#define NBJ_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/filter.h>
#include <sys/types.h>

#include "nbjail/nbjail.h"
#include "netns/pool.h"
#include "policy/policy.h"

#define NBJ_RUNTIME_DIR "/run/nbjail"
#define NBJ_JOB_ID_LEN 8
#define NBJ_GUEST_IFNAME "eth0"
#define NBJ_MAX_ALLOW 4096
#define NBJ_MAX_GROUPS 256

struct nbj_config {
	enum nbj_profile profile;
	struct allow_rule *allow;
	size_t n_allow;
	struct allow_rule *floor_exceptions;
	size_t n_floor_exceptions;
	struct unix_rule *unix_allow;
	size_t n_unix_allow;
	struct nbj_rates rates;
	struct overlay *overlays;
	size_t n_overlays;
	unsigned default_overlay;
	char *default_overlay_name;
	struct overlay_route *routes;
	size_t n_routes;
	struct publish_entry *publish;
	size_t n_publish;
	bool select_allowed;
	bool user_set;
	uid_t uid;
	gid_t gid;
	char *name;
	char *tenant;
	char *audit_log;
	bool no_journal;
	struct pool_config pool;
	char **argv;
	struct fs_rule *fs_rules;
	size_t n_fs_rules;
	char **policy_files;
	size_t n_policy_files;
};

/**
 * struct workload_creds - who the workload runs as
 * @uid:	user id
 * @gid:	primary group id
 * @groups:	supplementary groups
 * @n_groups:	entries in @groups
 */
struct workload_creds {
	uid_t uid;
	gid_t gid;
	gid_t groups[NBJ_MAX_GROUPS];
	size_t n_groups;
};

int creds_resolve(uid_t uid, gid_t gid, struct workload_creds *ret);
int creds_apply(const struct workload_creds *c);

/**
 * enum fs_op - an exception to the job's read-only view of the host
 * @FS_OP_WRITE:	a writable bind of the host's path
 * @FS_OP_READONLY:	a file bound read-only over itself (even in a
 *			writable path): the files the job started from
 * @FS_OP_HIDE:		covered: empty read-only tmpfs or /dev/null
 */
enum fs_op {
	FS_OP_WRITE,
	FS_OP_READONLY,
	FS_OP_HIDE,
};

/**
 * struct fs_entry - one step of the plan
 * @op:		what to do
 * @path:	canonical absolute path of the host
 */
struct fs_entry {
	enum fs_op op;
	char *path;
};

/**
 * struct fs_plan - the job's view of the host (fsview.c makes it)
 * @entries:	in the order to apply: writes (parents first), read-only
 *		files, hidden paths
 * @n:		their number
 * @cwd:	the caller's working directory, where the workload starts
 */
struct fs_plan {
	struct fs_entry *entries;
	size_t n;
	char *cwd;
};

int fsview_plan(const struct nbj_config *cfg, struct fs_plan *ret);
void fsview_plan_free(struct fs_plan *p);
int fsview_check_owner(const struct nbj_config *cfg, const struct workload_creds *creds);

/**
 * struct mount_params - what the job's mount namespace shows
 * @hostname:	the job's hostname
 * @nameserver:	resolver address for /etc/resolv.conf, NULL for none
 * @fs:		writable, read-only and hidden paths; NULL: none writable
 */
struct mount_params {
	const char *hostname;
	const char *nameserver;
	const struct fs_plan *fs;
};

int mounts_setup(const struct mount_params *p);

/* Messages on the SOCK_SEQPACKET pair between supervisor and reaper */
enum reaper_msg_type {
	REAPER_MSG_GO = 1,	/* supervisor: the veth is there, go on */
	REAPER_MSG_STARTED,	/* reaper: the workload was exec'd */
	REAPER_MSG_EXEC_FAILED,	/* reaper: exec failed, value = errno */
	REAPER_MSG_SETUP_FAILED,/* reaper: setup failed, value = errno */
	REAPER_MSG_EXITED,	/* reaper: workload ended, value = wait status */
};

/**
 * struct reaper_msg - one message between supervisor and reaper
 * @type:	enum reaper_msg_type
 * @value:	errno or wait status
 */
struct reaper_msg {
	uint32_t type;
	int32_t value;
};

/**
 * struct reaper_params - what the reaper needs, prepared by job.c
 * @sock:	its end of the socket pair with the supervisor
 * @argv:	the workload's command
 * @creds:	the workload's user
 * @mounts:	mount namespace contents
 * @net:	the job's addresses, NULL for loopback-only profiles
 * @publish_ports: the job's published ports, open to the relay
 * @n_publish_ports: their number
 * @n_select_overlays: overlays processes may select (0: no selection)
 * @seccomp:	the workload's seccomp program (seccomp/filter.c)
 */
struct reaper_params {
	int sock;
	char *const *argv;
	const struct workload_creds *creds;
	const struct mount_params *mounts;
	const struct job_net *net;
	const uint16_t *publish_ports;
	size_t n_publish_ports;
	size_t n_select_overlays;
	const struct sock_fprog *seccomp;
};

_Noreturn void reaper_main(const struct reaper_params *p);

/**
 * struct job_state - a job's footprint under NBJ_RUNTIME_DIR
 * @id:		job identifier, hex
 * @netns_ino:	the network namespace the job is started in
 * @global_lock: fd holding a shared lock on the netns's lock file
 * @job_lock:	fd holding an exclusive lock on the job's own lock file
 * @slot:	claimed pool slot, or -1
 * @slot_dirty:	the slot was marked dirty (state_slot_mark_dirty())
 */
struct job_state {
	char id[NBJ_JOB_ID_LEN + 1];
	unsigned long long netns_ino;
	int global_lock;
	int job_lock;
	long slot;
	bool slot_dirty;
};

/**
 * struct job_record - what the state file of a job says
 * @supervisor_pid:	nbjail's pid
 * @reaper_pid:		the job's PID 1, seen from the host
 * @reaper_start:	its start time (clock ticks since boot)
 * @relay_pid:		the relay, 0 if none
 * @relay_start:	its start time
 * @netns_ino:		inode of the host netns the job was started in
 * @slot:		pool slot or -1
 */
struct job_record {
	pid_t supervisor_pid;
	pid_t reaper_pid;
	unsigned long long reaper_start;
	pid_t relay_pid;
	unsigned long long relay_start;
	unsigned long long netns_ino;
	long slot;
};

int state_job_create(struct job_state *ret);
int state_slot_claim(struct job_state *st, const struct pool_config *pool,
		     const struct nbj_prefix *used, size_t n_used,
		     struct job_net *ret);
void state_slot_mark_dirty(long slot);
void state_slot_mark_clean(long slot);
int state_record_write(const struct job_state *st, const struct job_record *r);
int state_record_read(const char *id, struct job_record *ret);
void state_job_remove(struct job_state *st);
int state_remove_by_id(const char *id, long slot);
int state_try_remove_table(void);
int state_list_jobs(void (*cb)(const char *id, void *data), void *data);
int state_process_start_time(pid_t pid, unsigned long long *ret);
int state_netns_ino(unsigned long long *ret);

void fds_close_all_except(const int *keep, size_t n_keep);

/* fdpass.c */
int fd_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);
ssize_t fd_recv(int sock, void *buf, size_t len, int flags, int *fds, size_t max_fds,
		size_t *ret_n_fds);

/* i2pkey.c */
int i2p_overlay_key(struct overlay *o);

#endif /* NBJ_SUPERVISOR_H */
