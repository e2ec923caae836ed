/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/auditstart.c - the job's statistics, keeper and audit writer
 *
 * Theory of operation: the first step of every job (start_audit()): the
 * statistics file in the runtime directory (common/stats.c) with the
 * job's limits, the tenant slot, the --audit-log file (O_NOFOLLOW), and
 * the keeper process, which forks the audit writer (relay/auditd.c) at
 * once, so that the writer outlives nbjail run and the trail is
 * complete; the writer loads libsystemd, then waits for the per-job ids
 * the supervisor claims and sends (keeper_send_ids(), keeper.c).  The
 * writer's syscall allow-list comes compiled from a cache
 * (role_filter_cached()), so the writer does not spend its first
 * milliseconds, and the job's, in libseccomp.  It is called before the
 * job's init is cloned (job.c), so that all of this runs while the init
 * builds its namespaces.
 * keeper_started() takes the writer's pidfd; audit_job_start() sends the
 * job-start event once the workload runs.
 */
#include "supervisor/job_int.h"

/* The effective limits, in each process's own struct audit_ctx (never
 * in the statistics, which the relay can write) */
static void set_limits(struct job_limits *l, const struct nbj_rates *r)
{
	const struct rate_policy *j = &r->job, *t = &r->tenant;

	l->connects.per_s = j->connects_per_s ? j->connects_per_s : RATE_FLOOR_CONNECTS_PER_S;
	l->connects.burst = j->connects_burst ? j->connects_burst :
			    j->connects_per_s ? j->connects_per_s : RATE_FLOOR_CONNECTS_BURST;
	l->bytes.per_s = j->bytes_per_s;
	l->bytes.burst = j->bytes_burst ? j->bytes_burst : j->bytes_per_s;
	l->concurrent = j->concurrent;
	l->tenant_connects.per_s = t->connects_per_s;
	l->tenant_connects.burst = t->connects_burst ? t->connects_burst : t->connects_per_s;
	l->tenant_bytes.per_s = t->bytes_per_s;
	l->tenant_bytes.burst = t->bytes_burst ? t->bytes_burst : t->bytes_per_s;
	l->tenant_concurrent = t->concurrent;
	l->dock.per_s = j->dock_calls_per_s ? j->dock_calls_per_s : RATE_DOCK_CALLS_PER_S;
	l->dock.burst = l->dock.per_s;
}

static const char *job_tenant(const struct nbj_config *cfg)
{
	return cfg->tenant ? cfg->tenant : cfg->name ? cfg->name : "nbjail";
}

/* The job's statistics file and its audit writer, before anything else */
int start_audit(struct nbj_job *job, const struct nbj_config *cfg)
{
	struct auditd_config ac = {
		.job_id = job->state.id,
		.tenant = job_tenant(cfg),
		.log_fd = -1,
		.journal = !cfg->no_journal,
		.fields = cfg->audit_fields,
		.n_fields = cfg->n_audit_fields,
	};
	int sv[2] = { -1, -1 }, kv[2] = { -1, -1 }, size = AUDIT_SOCKET_BUFFER, err;
	struct job_info info = { 0 };
	struct sock_fprog filter = { 0 };
	struct job_stats *st;
	struct timespec ts;
	char path[NBJ_PATH_MAX];
	pid_t pid;

	err = runtime_path(path, "%s/stats", job->state.id);
	if (!err)
		err = stats_create(path, &job->stats);
	if (err < 0) {
		log_err("cannot create %s: %s", path, strerror(-err));
		return err;
	}
	st = job->stats;
	clock_gettime(CLOCK_REALTIME, &ts);
	st->size = sizeof(*st);
	set_limits(&job->audit.limits, &cfg->rates);
	err = tenant_attach(job_tenant(cfg), &job->tenant);
	if (err < 0) {
		log_err("cannot join tenant %s: %s", job_tenant(cfg), strerror(-err));
		return err;
	}
	/* names and pids in a file of ours, not in the shared statistics */
	snprintf(info.name, sizeof(info.name), "%s", cfg->name ? cfg->name : "nbjail");
	snprintf(info.tenant, sizeof(info.tenant), "%s", job_tenant(cfg));
	snprintf(info.profile, sizeof(info.profile), "%s", nbj_profile_to_string(cfg->profile));
	info.supervisor_pid = getpid();
	info.start_usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	info.tenant_slot = job->tenant.slot;
	err = state_info_write(&job->state, &info);
	if (err < 0) {
		log_err("cannot write the info file of job %s: %s", job->state.id, strerror(-err));
		return err;
	}
	__atomic_store_n(&st->magic, JOB_STATS_MAGIC, __ATOMIC_RELEASE);
	job->audit.stats = st;
	job->audit.tenant = job->tenant.state;
	job->audit.tenant_slot = job->tenant.slot;

	if (cfg->audit_log) {
		ac.log_fd = open(cfg->audit_log, O_WRONLY | O_APPEND | O_CREAT |
				 O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
		if (ac.log_fd < 0) {
			err = negative_errno();
			log_err("cannot open the audit log %s: %s", cfg->audit_log,
				strerror(-err));
			return err;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = negative_errno();
		goto out;
	}
	/* room for a burst: beyond it, events are dropped and counted */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	ac.fd = sv[1];
	ac.stats = st;
	/* the writer's allow-list, compiled once per boot; else
	 * the writer compiles it itself */
	if (role_filter_cached(ROLE_AUDIT_WRITER, nbj_runtime_dir(), &filter) == 0)
		ac.filter = &filter;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, kv) < 0) {
		err = negative_errno();
		goto out;
	}
	pid = clone_pidfd(0, &job->keeper_pidfd);
	if (pid < 0) {
		err = negative_errno();
		log_err("cannot start the audit writer: %s", strerror(-err));
		goto out;
	}
	if (pid == 0) {
		closep(&sv[0]);
		closep(&kv[0]);
		keeper_main(job, &ac, kv[1]);
	}
	job->keeper_pid = pid;
	job->keeper = TAKE_FD(kv[0]);
	job->audit.fd = TAKE_FD(sv[0]);
	err = 0;
out:
	free(filter.filter);
	closep(&sv[0]);
	closep(&sv[1]);
	closep(&kv[0]);
	closep(&kv[1]);
	closep(&ac.log_fd);
	return err;
}

/* The keeper's report that the audit writer runs, with the writer's
 * pidfd (for waiting until it has written the job's last events); read
 * before GO: it was sent long before, this does not wait */
int keeper_started(struct nbj_job *job)
{
	int err, fd;

	if (fd_recv(job->keeper, &err, sizeof(err), 0, &fd, 1, NULL) != sizeof(err))
		err = -ECHILD;
	if (!err && fd < 0)
		err = -EPROTO;
	if (err < 0) {
		closep(&fd);
		log_err("cannot start the audit writer: %s", strerror(-err));
		return err;
	}
	job->auditd_pidfd = fd;
	return 0;
}

/* The job-start event, once the workload runs */
void audit_job_start(struct nbj_job *job, const struct nbj_config *cfg)
{
	struct audit_event ev;
	size_t o = 0;

	audit_event_init(&ev, AUDIT_JOB_START, LANE_JOB);
	ev.pid = job->reaper_pid;
	EVENT_SET(&ev, exe, cfg->argv[0]);
	for (char **a = cfg->argv; *a && o + 1 < sizeof(ev.target); a++)
		o += (size_t)snprintf(ev.target + o, sizeof(ev.target) - o, "%s%s",
				      o ? " " : "", *a);
	snprintf(ev.detail, sizeof(ev.detail), "profile=%s name=%s",
		 nbj_profile_to_string(cfg->profile), cfg->name ? cfg->name : "nbjail");
	(void)audit_send(&job->audit, &ev);
	job->start_audited = true;
}
