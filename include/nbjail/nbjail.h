/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nbjail.h - public C API of libnbjail
 *
 * libnbjail runs a command in private network, mount, PID, UTS and IPC
 * namespaces.  In the "net" profile the job's only link is a veth pair to
 * a per-job relay that decides each connection; nftables drops everything
 * else.  The nbjail(1) CLI is a thin wrapper over these calls.
 *
 * Conventions: functions return 0 (or a positive value where documented)
 * on success and a negative errno on failure; out-parameters are left
 * untouched on failure.  The library must be used as root, from a
 * single-threaded process (it forks the job's reaper and relay).
 *
 * A job's life:
 *
 *	nbj_config_new() ... nbj_config_set_*() / nbj_config_add_allow()
 *	nbj_job_start()     -> the workload has been exec'd
 *	poll(nbj_job_fd()) + nbj_job_dispatch(), or nbj_job_wait()
 *	(or nbj_job_wait_detached() just before exiting: the end of the
 *	cleanup is left to a child process)
 *	nbj_job_free()      -> kills what is left, removes every trace
 */
#ifndef NBJAIL_NBJAIL_H
#define NBJAIL_NBJAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NBJ_VERSION "0.1.0"

/* Exit codes of nbjail(1) for its own failures (see nbjail(1)) */
#define NBJ_EXIT_USAGE 2	/* bad command line or policy */
#define NBJ_EXIT_SETUP 125	/* nbjail could not set up the job */
#define NBJ_EXIT_CANNOT_EXEC 126 /* the command exists but cannot run */
#define NBJ_EXIT_NOT_FOUND 127	/* the command was not found */

/**
 * enum nbj_profile - what the job may do on the network
 * @NBJ_PROFILE_MINIMAL: loopback only, no veth
 * @NBJ_PROFILE_COMPUTE: loopback only, no veth
 * @NBJ_PROFILE_NET: a veth to the relay; the policy decides each flow
 * @NBJ_PROFILE_BROWSE: loopback only and no DNS: the job reaches the
 *		world through its dock (nbjail-dock(7)) and nothing else
 */
enum nbj_profile {
	NBJ_PROFILE_MINIMAL,
	NBJ_PROFILE_COMPUTE,
	NBJ_PROFILE_NET,
	NBJ_PROFILE_BROWSE,
};

struct nbj_config;
struct nbj_job;

/**
 * enum nbj_exit_kind - how a job ended
 * @NBJ_EXITED:		the workload exited, @code is its exit status
 * @NBJ_KILLED:		the workload died of signal @code
 * @NBJ_EXEC_FAILED:	the workload could not be executed, @code is errno
 * @NBJ_SETUP_FAILED:	the job's own setup failed, @code is errno
 */
enum nbj_exit_kind {
	NBJ_EXITED,
	NBJ_KILLED,
	NBJ_EXEC_FAILED,
	NBJ_SETUP_FAILED,
};

/**
 * struct nbj_exit - the outcome of a job
 * @kind:	see enum nbj_exit_kind
 * @code:	exit status, signal number or errno
 */
struct nbj_exit {
	enum nbj_exit_kind kind;
	int code;
};

int nbj_config_new(struct nbj_config **ret);
void nbj_config_free(struct nbj_config *cfg);
int nbj_profile_from_string(const char *s, enum nbj_profile *ret);
const char *nbj_profile_to_string(enum nbj_profile p);
int nbj_config_set_profile(struct nbj_config *cfg, enum nbj_profile p);
int nbj_config_add_allow(struct nbj_config *cfg, const char *pattern);
int nbj_config_add_floor_exception(struct nbj_config *cfg, const char *pattern);
int nbj_config_add_unix_allow(struct nbj_config *cfg, const char *path);
int nbj_config_add_write(struct nbj_config *cfg, const char *path);
int nbj_config_load_policy(struct nbj_config *cfg, const char *path,
			   char *errbuf, size_t errlen);
int nbj_config_print_policy(const struct nbj_config *cfg, FILE *out);
int nbj_config_set_user(struct nbj_config *cfg, uid_t uid, gid_t gid);
int nbj_config_set_name(struct nbj_config *cfg, const char *name);
int nbj_config_set_tenant(struct nbj_config *cfg, const char *tenant);
int nbj_config_set_audit_log(struct nbj_config *cfg, const char *path);
int nbj_config_set_journal(struct nbj_config *cfg, bool on);
int nbj_config_set_overlay(struct nbj_config *cfg, const char *name);
int nbj_config_set_argv(struct nbj_config *cfg, char *const argv[]);
int nbj_config_set_terminal(struct nbj_config *cfg, int tty_fd, unsigned stdio);
int nbj_config_set_clearenv(struct nbj_config *cfg, bool on);
int nbj_config_limit_pids(struct nbj_config *cfg, uint64_t pids);
int nbj_config_limit_memory(struct nbj_config *cfg, uint64_t bytes);
int nbj_config_add_audit_field(struct nbj_config *cfg, const char *field);
int nbj_config_narrow(struct nbj_config *site, const struct nbj_config *user,
		      char *errbuf, size_t errlen);

int nbj_job_start(const struct nbj_config *cfg, struct nbj_job **ret);
const char *nbj_job_id(const struct nbj_job *job);
pid_t nbj_job_pid(const struct nbj_job *job);
int nbj_job_fd(const struct nbj_job *job);
int nbj_job_take_terminal(struct nbj_job *job);
int nbj_job_dispatch(struct nbj_job *job);
int nbj_job_kill(struct nbj_job *job, int sig);
int nbj_job_wait(struct nbj_job *job, struct nbj_exit *ret);
int nbj_job_wait_detached(struct nbj_job *job, struct nbj_exit *ret);
void nbj_job_free(struct nbj_job *job);

int nbj_exit_status(const struct nbj_exit *e);

int nbj_ctl(int argc, char *const argv[], FILE *out);

int nbj_select_overlay(const char *name);

/**
 * struct nbj_explanation - what the relay would decide for a target
 * @allow:		the verdict
 * @is_address:		the host is an address (not a name)
 * @port:		port, 0 if none was given or implied
 * @host:		the host as a client would resolve it
 * @dial:		the address and port the relay would dial: the address,
 *			a name's first answer, or an overlay's proxy ("" for a
 *			denied name)
 * @reason:		as in the relay's log lines: "allowed", "floor:CLASS",
 *			"not-allowed", "no-allow-list", "no-answer",
 *			"resolve-failed", "overlay-required", ...
 * @floor_exception:	the floor exception that let it pass, or ""
 * @resolved:		for a name: every address it resolved to
 * @n_resolved:		their number
 * @overlay:		the overlay the flow would be dialled through (routes,
 *			then --overlay, then the default); "" when the policy
 *			has no overlays
 */
struct nbj_explanation {
	bool allow;
	bool is_address;
	unsigned short port;
	char host[256];
	char dial[128];
	char reason[64];
	char floor_exception[96];
	char resolved[16][64];
	size_t n_resolved;
	char overlay[32];
};

int nbj_explain(const struct nbj_config *cfg, const char *target,
		struct nbj_explanation *ret);

/**
 * typedef nbj_gc_report_t - called by nbj_gc() for each job it looks at
 * @job_id:	the job
 * @what:	"removed", "alive" or "skipped: <why>"
 * @data:	caller's pointer
 */
typedef void (*nbj_gc_report_t)(const char *job_id, const char *what,
				void *data);
int nbj_gc(nbj_gc_report_t report, void *data);

#ifdef __cplusplus
}
#endif

#endif /* NBJAIL_NBJAIL_H */
