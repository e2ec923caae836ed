/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/supervisor.h - internal interfaces of the job lifecycle
 *
 * config.c  struct nbj_config and its setters
 * state.c   the runtime directory: locks, job directories, state files
 * creds.c   the workload's user, groups, capabilities, no_new_privs
 * fsview.c  what of the host the job may write or must not see
 * mounts.c  the job's mount namespace
 * reaper.c  PID 1 of the job: setup inside, exec, forward signals, reap
 * job.c     nbj_job_*: the order of everything, and teardown
 * gc.c      nbj_gc(): what a killed supervisor left behind
 * explain.c nbj_explain(): the relay's decision without a job
 */
#ifndef NBJ_SUPERVISOR_H
#define NBJ_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/filter.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include "nbjail/nbjail.h"
#include "common/audit.h"
#include "common/file.h"
#include "netns/link.h"
#include "policy/load.h"
#include "policy/policy.h"

#define NBJ_ROOT_RUNTIME_DIR "/run/nbjail"
#define NBJ_PATH_MAX 512
#define NBJ_JOB_ID_LEN 8
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
	struct nbj_limits limits;
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
	char **argv;
	int terminal_fd;
	unsigned terminal_stdio;
	bool clearenv;
	struct policy_env env;
	struct fs_rule *fs_rules;
	size_t n_fs_rules;
	char **policy_files;
	size_t n_policy_files;
	struct policy_secret *secrets;
	size_t n_secrets;
	struct nbj_credential *credentials;
	size_t n_credentials;
	struct http_rule *http_rules;
	size_t n_http_rules;
	char *tls_roots;
	char *audit_fields[AUDIT_FIELDS_MAX];
	size_t n_audit_fields;
};

struct target;
int explain_policy(const struct nbj_config *cfg, struct nbj_policy *ret);
void explain_facts(const struct nbj_policy *p, const struct floor_ctx *fc,
		   const struct target *t, struct decide_facts *ret);

/**
 * struct workload_creds - who the workload runs as
 * @uid:	user id
 * @gid:	primary group id
 * @groups:	supplementary groups
 * @n_groups:	entries in @groups
 * @keep_groups: leave the supplementary groups as they are (an
 *		unprivileged caller's user namespace denies setgroups)
 */
struct workload_creds {
	uid_t uid;
	gid_t gid;
	gid_t groups[NBJ_MAX_GROUPS];
	size_t n_groups;
	bool keep_groups;
};

int creds_resolve(uid_t uid, gid_t gid, struct workload_creds *ret);
int creds_apply(const struct workload_creds *c);
int creds_assume(const struct workload_creds *c);

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
 * @dock_program: the nbjail-dock program of the host, shown read-only at
 *		/run/nbjail/bin/nbjail-dock; NULL for jobs without a dock
 * @ca_bundle:	the job's trust bundle (credentials.c), written to
 *		JOB_CA_BUNDLE and bound read-only over the distribution's
 *		bundle; NULL for none
 */
struct mount_params {
	const char *hostname;
	const char *ca_bundle;
	const char *nameserver;
	const struct fs_plan *fs;
	const char *dock_program;
};

int mounts_setup(const struct mount_params *p);

/* Messages on the SOCK_SEQPACKET pair between supervisor and reaper */
enum reaper_msg_type {
	REAPER_MSG_MAPPED = 1,	/* supervisor: the user namespace's maps are written */
	REAPER_MSG_READY,	/* reaper: set up; the relay's sockets attached,
				 * value = the RELAY_FD_* present (bit N) */
	REAPER_MSG_GO,		/* supervisor: the relay runs, exec the workload */
	REAPER_MSG_STARTED,	/* reaper: the workload was exec'd */
	REAPER_MSG_EXEC_FAILED,	/* reaper: exec failed, value = errno */
	REAPER_MSG_SETUP_FAILED,/* reaper: setup failed, value = errno */
	REAPER_MSG_EXITED,	/* reaper: workload ended, value = wait status */
	REAPER_MSG_TERMINAL,	/* reaper: the master of the job's pty attached
				 * (before READY, when terminal_stdio is set) */
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

/* The fds of REAPER_MSG_READY, in this order, those present only (its
 * value has bit N set for RELAY_FD N): the standard lane's (net
 * profile), the socket factory (published ports), the dock's listener
 * (net and browse) */
enum { RELAY_FD_TCP4, RELAY_FD_TCP6, RELAY_FD_DNS4, RELAY_FD_DNS6, RELAY_FD_FACTORY,
       RELAY_FD_DOCK, RELAY_FD_DOCK_DESK, RELAY_FDS };

/**
 * struct reaper_params - what the reaper needs, prepared by job.c
 * @sock:	its end of the socket pair with the supervisor
 * @argv:	the workload's command
 * @creds:	the workload's user, as ids inside the job's user namespace
 * @mounts:	mount namespace contents
 * @net:	the job's addresses, NULL for loopback-only profiles
 * @socket_factory: make sockets in the job's netns for the relay
 *		(published ports are connected with them)
 * @dock:	make the dock's listener at /run/nbjail/dock.sock
 * @n_select_overlays: overlays processes may select (0: no selection)
 * @terminal_fd: -1; the reaper puts the slave of the pty it allocates
 *		from the job's own devpts here (supervisor/pty.c)
 * @terminal_stdio: which of fds 0, 1, 2 (bit N) become the job's pty;
 *		non-zero: allocate one and send its master (REAPER_MSG_TERMINAL)
 * @terminal_modes: the modes the job's pty starts with
 * @terminal_size: its window size
 * @envp:	the workload's environment (supervisor/environ.c)
 */
struct reaper_params {
	int sock;
	char *const *argv;
	const struct workload_creds *creds;
	const struct mount_params *mounts;
	const struct job_net *net;
	bool socket_factory;
	bool dock;
	size_t n_select_overlays;
	int terminal_fd;
	unsigned terminal_stdio;
	struct termios terminal_modes;
	struct winsize terminal_size;
	char *const *envp;
};

_Noreturn void reaper_main(const struct reaper_params *p);

/* ocijob.c: an OCI container made a job; its supervisor takes the
 * container's seccomp listener on DIR/<id>/seccomp.sock from nbjail oci-agent */
#define NBJ_OCI_AGENT_SOCKET "seccomp.sock"
/* ocijob.c: an OCI container made a job (`nbjail oci-hook`, oci/hook.c) */
int oci_job_attach(const struct nbj_config *cfg, pid_t init_pid, int netns,
		   struct nbj_job **ret);
int oci_job_watch(struct nbj_job *job, int stop_fd);

/* jobnet.c: the job's netns from inside (the init, or the OCI hook's helper) */
int job_netns_setup(const struct job_net *net, size_t n_select_overlays, bool socket_factory,
		    int fds[RELAY_FDS], int *ret_factory);

/**
 * struct job_state - a job's footprint in the runtime directory
 * @id:		job identifier, hex
 * @job_lock:	fd holding an exclusive lock on the job's own lock file
 */
struct job_state {
	char id[NBJ_JOB_ID_LEN + 1];
	int job_lock;
};

/**
 * struct job_record - what the state file of a job says
 * @supervisor_pid:	nbjail's pid
 * @reaper_pid:		the job's PID 1, seen from the host
 * @reaper_start:	its start time (clock ticks since boot)
 * @relay_pid:		the relay, 0 if none
 * @relay_start:	its start time
 */
struct job_record {
	pid_t supervisor_pid;
	pid_t reaper_pid;
	unsigned long long reaper_start;
	pid_t relay_pid;
	unsigned long long relay_start;
};

/**
 * struct job_info - what the info file of a job says: written once by its
 * supervisor (DIR/ID/info), read by `nbjail ctl` and `nbjail gc` in place
 * of anything in the job's shared mappings
 * @name:		the job's name
 * @tenant:		its tenant
 * @profile:		its profile's name
 * @supervisor_pid:	nbjail's pid
 * @start_usec:		start time, CLOCK_REALTIME
 * @tenant_slot:	its slot in the tenant's file
 */
struct job_info {
	char name[64];
	char tenant[64];
	char profile[16];
	pid_t supervisor_pid;
	unsigned long long start_usec;
	int tenant_slot;
};

const char *nbj_runtime_dir(void);
int nbj_runtime_dir_error(void);
int runtime_path(char buf[NBJ_PATH_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int state_job_create(struct job_state *ret);
int state_record_write(const struct job_state *st, const struct job_record *r);
int state_record_read(const char *id, struct job_record *ret);
int state_info_write(const struct job_state *st, const struct job_info *info);
int state_info_read(const char *id, struct job_info *ret);
void state_job_remove(struct job_state *st);
int state_remove_by_id(const char *id);
int state_list_jobs(void (*cb)(const char *id, void *data), void *data);
int state_process_start_time(pid_t pid, unsigned long long *ret);

/* jobuids.c */
int job_ids_gc(void);

/**
 * struct job_creds - what credentials.c makes at start for `credentials:`
 * and `http:` (never a secret's bytes, never the CA's key)
 * @standin:	each credential's stand-in, same index as the policy's
 * @ca_pem:	the job CA's certificate (PEM)
 * @bundle:	the job's trust bundle: the system roots and @ca_pem
 * @env:	"NAME=VALUE" strings the job's environment gets (stand-ins,
 *		SSL_CERT_FILE and friends), NULL-terminated
 * @old_env:	environ_build()'s array, whose block holds strings the new
 *		environment points at
 */
struct job_creds {
	char standin[CREDENTIALS_MAX][CRED_STANDIN_MAX + 1];
	char *ca_pem;
	char *bundle;
	char **env;
	char **old_env;
};

/* secrets.c: the policy's secrets, read at start into nbjail-keys' handoff */
int secrets_load(const struct nbj_config *cfg, pid_t parent, struct job_creds *creds,
		 int *ret_memfd);
ssize_t secret_read(const struct policy_secret *s, unsigned char *buf, size_t cap);

/* credentials.c: stand-ins, the job CA, the trust bundle */
#define JOB_CA_BUNDLE "/run/nbjail/ca-certificates.crt"
bool creds_wanted(const struct nbj_config *cfg);
int creds_load(const struct nbj_config *cfg, int handoff_fd, struct job_creds *ret);
int standin_make(const char *secret, size_t len, char *out, size_t outlen);
int creds_environ(const struct nbj_config *cfg, struct job_creds *c, char ***envp);
void creds_free(struct job_creds *c);

/* supervisor/tlsroots.c */
int tls_roots_read(const char *path, unsigned char **ret, size_t *ret_len);

/* environ.c */
int environ_build(const struct nbj_config *cfg, char *const *from, char ***ret);

/* fdpass.c */
int fd_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);
ssize_t fd_recv(int sock, void *buf, size_t len, int flags, int *fds, size_t max_fds,
		size_t *ret_n_fds);

/* i2pkey.c */
int i2p_overlay_key(struct overlay *o);

#endif /* NBJ_SUPERVISOR_H */
