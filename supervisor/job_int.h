/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/job_int.h - what the files of a job's lifecycle share
 *
 * job.c         nbj_job_start(): the ordered steps; the event handlers
 * jobpolicy.c   the job's own copy of the policy (and overlay secrets)
 * auditstart.c  the statistics, the keeper and the audit writer, first
 * secrets.c     the policy's secrets, read at start (supervisor.h)
 * keysstart.c   the key holder (nbjail-keys), just before the relay
 * relaystart.c  the relay, with the sockets made in the job's netns
 * (common/cgroup.c  the job's cgroup: its limits, the overlay selection)
 * keeper.c      teardown: what the supervisor stops, what the keeper
 *               finishes after nbjail run has exited
 */
#ifndef NBJ_SUPERVISOR_JOB_INT_H
#define NBJ_SUPERVISOR_JOB_INT_H

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <errno.h>
#include <linux/sched.h>
#include <net/if.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/roles.h"
#include "netns/link.h"
#include "netns/userns.h"
#include "relay/relay.h"
#include "seccomp/filter.h"
#include "seccomp/selection.h"
#include "seccomp/notify.h"
#include "supervisor/ctl.h"
#include "supervisor/tenant.h"
#include "supervisor/supervisor.h"

#define START_TIMEOUT_MS 30000
#define AUDITD_FLUSH_TIMEOUT_MS 2000
#define AUDIT_SOCKET_BUFFER (4 << 20)
#define RELAY_MAX_FLOWS 16384
#define DETACHED_WAIT_MS 10000

enum job_event {
	JOB_EVENT_REAPER = 1,
	JOB_EVENT_RELAY,
	JOB_EVENT_NOTIFY,
	JOB_EVENT_CTL_LISTEN,
	JOB_EVENT_CTL_RETRY,
	JOB_EVENT_KEYS,
	JOB_EVENT_REVOKE,
	JOB_EVENT_ATTACHED_GONE,	/* the pidfd of an OCI container's init */
};

/* The job's own copy of what the notifier judges with: the caller's
 * configuration is not referenced after nbj_job_start() returns */
struct job_policy {
	struct nbj_policy policy;
	struct allow_rule *allow;
	struct allow_rule *floor_exceptions;
	struct overlay *overlays;
	struct overlay_route *routes;
	struct publish_entry *publish;
	struct nbj_credential *credentials;
	struct http_rule *http_rules;
	uint16_t publish_ports[PUBLISH_MAX];
	struct unix_rule *unix_allow;
	size_t n_unix_allow;
	struct nbj_addr *host_addrs;
	size_t n_host_addrs;
	struct nbj_prefix job_nets[2];
	unsigned char *tls_roots;
	size_t tls_roots_len;
};

/* supervisor/jobuids.c: the ids of the relay, audit writer, key holder */
#ifndef JOB_UID_BASE
#define JOB_UID_BASE 0x7E620000u
#endif
#define JOB_UID_PER_SLOT 3u	/* relay, audit writer, key holder */
#define JOB_UID_SLOTS (32768u / JOB_UID_PER_SLOT)

/**
 * struct job_ids - a job's helper ids (common/roles.h)
 * @relay:	the relay's uid and gid
 * @audit:	the audit writer's
 * @keys:	the key holder's (nbjail-keys)
 * @claim:	the locked claim file; held by every process with those
 *		ids and by the keeper; -1 rootless (the caller's ids)
 * @slot:	the claim's slot (its file's name)
 */
struct job_ids {
	struct role_ids relay;
	struct role_ids audit;
	struct role_ids keys;
	int claim;
	unsigned slot;
};

int job_ids_claim(struct job_ids *ret);
void job_ids_release(struct job_ids *ids);

struct nbj_job {
	struct job_state state;
	struct job_ids ids;
	struct sock_fprog seccomp;
	struct job_cgroup cgroup;
	bool selectable;
	bool state_created;
	bool has_net;
	bool has_dock;
	char dock_program[NBJ_PATH_MAX];
	struct job_net net;
	int relay_fds[RELAY_FDS];
	int relay_job_fds;

	pid_t reaper_pid;
	int reaper_pidfd;
	int sock;
	pid_t relay_pid;
	int relay_pidfd;
	int keys_memfd;		/* the key holder's handoff, until it starts */
	struct job_creds creds;	/* stand-ins, job CA, bundle (credentials.c) */
	int keys_fd;		/* the relay's end of the key holder's socket */
	pid_t keys_pid;
	int keys_pidfd;
	int epfd;
	int listener;
	int terminal;		/* the master of the job's pty, until taken */
	struct notifier *notifier;
	int revoke_watch;	/* inotify on the job's directory: "revoked" */
	struct job_policy pol;

	struct job_stats *stats;
	struct audit_ctx audit;
	pid_t auditd_pid;
	int auditd_pidfd;
	int audit_drained; /* our end of the writer's socket, shut for writing */
	pid_t keeper_pid;
	int keeper_pidfd;
	int keeper;
	bool keeper_has_ids; /* the keeper got the per-job ids (keeper_send_ids()) */
	bool start_audited;
	struct ctl_server ctl;
	bool ctl_started;
	struct tenant_attachment tenant;

	bool ended;
	bool attached;	/* the job's init is an OCI container's (ocijob.c) */
	struct nbj_exit exit;
};

/* job.c */
struct nbj_job *job_alloc(void);
int job_record_state(const struct nbj_job *job);
int job_start_notifier(struct nbj_job *job);
pid_t clone_pidfd(unsigned long long flags, int *ret_pidfd);
int epoll_watch(int epfd, int fd, enum job_event ev);

/* jobpolicy.c */
void job_policy_free(struct job_policy *p);
int job_policy_copy(struct job_policy *p, const struct nbj_config *cfg,
		    const struct host_inventory *inv);

/* auditstart.c */
int start_audit(struct nbj_job *job, const struct nbj_config *cfg);
int keeper_started(struct nbj_job *job);
int keeper_send_ids(struct nbj_job *job);
void audit_job_start(struct nbj_job *job, const struct nbj_config *cfg);

/* keysstart.c */
int start_keyholder(struct nbj_job *job);
void keyholder_ended(struct nbj_job *job);

/* relaystart.c */
int start_relay(struct nbj_job *job);
int relay_send_job_fds(struct nbj_job *job);
int helper_program_open(const char *program, const char *installed, const char *as);
int dock_program_find(char *buf, size_t len);

/* keeper.c */
void kill_and_reap(int *pidfd, pid_t *pid);
bool pidfd_wait_gone(int pidfd, int timeout_ms);
void job_audit_send_end(struct nbj_job *job);
void job_stop(struct nbj_job *job);
void job_close(struct nbj_job *job);
_Noreturn void keeper_main(struct nbj_job *job, struct auditd_config *ac, int sock);
int job_hand_over(struct nbj_job *job, bool detach);
void job_teardown(struct nbj_job *job);

#endif /* NBJ_SUPERVISOR_JOB_INT_H */
