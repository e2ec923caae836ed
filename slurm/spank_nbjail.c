/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * slurm/spank_nbjail.c - a Slurm SPANK plugin: every task of a step runs
 * inside an nbjail job (nbjail-slurm(8))
 *
 * Theory of operation: one line of plugstack.conf loads the plugin with
 * the site's defaults,
 *
 *	required /usr/lib/.../spank_nbjail.so policy=/etc/nbjail/site.yaml enforce=1
 *
 * and it adds two options to srun, sbatch and salloc: --nbjail-policy=FILE
 * and --nbjail-allow=PATTERN,...  Slurm hands the options to the
 * slurmstepd of each node (remote context), where the plugin acts in one
 * hook only:
 *
 *   slurm_spank_task_init() runs in each task's own process, as the
 *   job's user, after slurmstepd has set up the task's environment and
 *   working directory and just before it would exec the task's argv.
 *   The plugin execs instead
 *
 *	nbjail run --site-policy SITE [--policy FILE] [--allow P]...
 *	    --name slurm-JOB.STEP.TASK --tenant ACCOUNT
 *	    --audit-field NBJAIL_SLURM_JOB_ID=JOB ... -- ARGV...
 *
 *   with the task's environment, so the task's pid (the one slurmstepd
 *   waits for, signals and accounts) is nbjail's supervisor, and the
 *   workload is its job.  On success this never returns.
 *
 * Why exec from task_init rather than rewrite the task's argv: Slurm
 * 22.05's S_JOB_ARGV hands out the step's argv array, whose elements a
 * plugin could overwrite but which it cannot lengthen, and no
 * spank_prepend_task_argv() exists before 23.x; the task's own argv is
 * not reachable at all for --multi-prog steps.  Exec'ing here reads the
 * same argv and loses only what slurmstepd would do after the hook:
 * TaskProlog scripts, a default TMPDIR and the rlimits of
 * PropagateResourceLimits (the man page says so).
 *
 * Why task_init and not task_init_privileged: the privileged hook runs
 * before slurmstepd has dropped to the user, set up the task's
 * environment and tracked the pid, and exec'ing from it would skip all
 * of that.  So nbjail runs as the job's user: root for a root job (the
 * full root path, per-job ids for relay and audit writer), otherwise
 * rootless (its state in XDG_RUNTIME_DIR: the job's own if it has a
 * valid one, else /tmp/nbjail-slurm-UID, made 0700 and checked to be
 * the user's).
 *
 * Site policy as the floor: nbjail's --site-policy makes the user's
 * --policy and --allow narrow it only (nbj_config_narrow()); a user allow
 * outside the site's allow-list makes nbjail exit 2 before the workload
 * starts, with the reason on the task's stderr.
 *
 * enforce=1: every task is confined, asked or not, and a task that
 * cannot be (no policy= line, nbjail missing, a bad option) makes the
 * hook fail, which fails the task before it runs.  Without enforce, only
 * the steps whose user gave an --nbjail-* option are confined, with the
 * same fail-closed rule.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

SPANK_PLUGIN(nbjail, 1);

#ifndef NBJ_NBJAIL_PROGRAM
#define NBJ_NBJAIL_PROGRAM "/usr/bin/nbjail"
#endif

#define ALLOW_MAX 256		/* --nbjail-allow patterns */
#define AUDIT_FIELDS 4		/* nbjail's --audit-field limit */

/**
 * struct site - the plugstack.conf arguments
 * @policy:	policy=FILE: the site policy, the floor; NULL: none
 * @nbjail:	nbjail=PATH: the nbjail executable
 * @enforce:	enforce=1: confine every task; 0: only those that ask
 */
static struct site {
	char *policy;
	char *nbjail;
	bool enforce;
} site;

/**
 * struct user_opts - what the job's user asked for
 * @policy:	--nbjail-policy=FILE, or NULL
 * @allow:	--nbjail-allow=PATTERN,..., or NULL
 */
static struct user_opts {
	char *policy;
	char *allow;
} user;

/* A value without control bytes: it goes into slurmd's log as it is */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int opt_policy(int val, const char *optarg, int remote)
{
	(void)val;
	(void)remote;
	if (!optarg || !optarg[0] || !printable(optarg)) {
		slurm_error("nbjail: --nbjail-policy needs a FILE (without control characters)");
		return -1;
	}
	free(user.policy);
	user.policy = strdup(optarg);
	return user.policy ? 0 : -1;
}

static int opt_allow(int val, const char *optarg, int remote)
{
	(void)val;
	(void)remote;
	if (!optarg || !optarg[0] || !printable(optarg)) {
		slurm_error("nbjail: --nbjail-allow needs PATTERN[,PATTERN...]");
		return -1;
	}
	free(user.allow);
	user.allow = strdup(optarg);
	return user.allow ? 0 : -1;
}

static struct spank_option options[] = {
	{ "nbjail-policy", "FILE",
	  "run each task in an nbjail job with the policy FILE, which may only "
	  "narrow the site's (nbjail-slurm(8))", 1, 0, opt_policy },
	{ "nbjail-allow", "PATTERN[,PATTERN...]",
	  "run each task in an nbjail job that may reach only these (within the "
	  "site's allow-list)", 1, 0, opt_allow },
	SPANK_OPTIONS_TABLE_END
};

/* policy=FILE, nbjail=PATH, enforce=0|1; anything else is an error */
static int parse_site(int ac, char **av)
{
	for (int i = 0; i < ac; i++) {
		if (!strncmp(av[i], "policy=", 7) && av[i][7] == '/') {
			free(site.policy);
			site.policy = strdup(av[i] + 7);
		} else if (!strncmp(av[i], "nbjail=", 7) && av[i][7] == '/') {
			free(site.nbjail);
			site.nbjail = strdup(av[i] + 7);
		} else if (!strcmp(av[i], "enforce=1")) {
			site.enforce = true;
		} else if (!strcmp(av[i], "enforce=0")) {
			site.enforce = false;
		} else {
			slurm_error("nbjail: plugstack.conf: unknown argument '%s' "
				    "(policy=/FILE, nbjail=/PATH, enforce=0|1)", av[i]);
			return -1;
		}
	}
	if (!site.nbjail)
		site.nbjail = strdup(NBJ_NBJAIL_PROGRAM);
	return site.nbjail ? 0 : -1;
}

/**
 * slurm_spank_init() - read the plugstack.conf arguments, register the
 * --nbjail-* options (srun, sbatch, salloc and slurmstepd; slurmd and
 * the prolog/epilog only check the arguments)
 * @sp:		the SPANK handle
 * @ac:		number of plugstack.conf arguments
 * @av:		the arguments
 *
 * Return: 0, or -1 (a bad argument: with "required", no job starts)
 */
int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();

	if (parse_site(ac, av) < 0)
		return -1;
	/* the options exist where users give them and where tasks start */
	if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR)
		return 0;
	for (struct spank_option *o = options; o->name; o++)
		if (spank_option_register(sp, o) != ESPANK_SUCCESS) {
			slurm_error("nbjail: cannot register --%s", o->name);
			return -1;
		}
	if (spank_remote(sp) && site.enforce && !site.policy) {
		slurm_error("nbjail: enforce=1 needs policy=/FILE in plugstack.conf");
		return -1;
	}
	return 0;
}

/**
 * struct argv_builder - nbjail's argv, grown in place
 * @argv:	the arguments, NULL-terminated
 * @n:		their number
 * @cap:	room in @argv
 * @failed:	an allocation failed: the builder is unusable
 */
struct argv_builder {
	char **argv;
	size_t n, cap;
	bool failed;
};

static void push(struct argv_builder *b, const char *arg)
{
	char *copy;

	if (b->failed)
		return;
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		char **grown = realloc(b->argv, cap * sizeof(*grown));

		if (!grown) {
			b->failed = true;
			return;
		}
		b->argv = grown;
		b->cap = cap;
	}
	copy = strdup(arg);
	if (!copy) {
		b->failed = true;
		return;
	}
	b->argv[b->n++] = copy;
	b->argv[b->n] = NULL;
}

static void pushf(struct argv_builder *b, const char *fmt, unsigned long v)
{
	char buf[128];

	snprintf(buf, sizeof(buf), fmt, v);
	push(b, buf);
}

/* "7", "batch", "interactive": the step's part of the job name */
static void step_name(uint32_t step, char *buf, size_t len)
{
	if (step == SLURM_BATCH_SCRIPT)
		snprintf(buf, len, "batch");
	else if (step == SLURM_INTERACTIVE_STEP)
		snprintf(buf, len, "interactive");
	else if (step == SLURM_EXTERN_CONT)
		snprintf(buf, len, "extern");
	else
		snprintf(buf, len, "%u", step);
}

/* --nbjail-allow=a,b,c as --allow a --allow b --allow c */
static int push_allows(struct argv_builder *b, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy)
		return -1;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (++n > ALLOW_MAX) {
			slurm_error("nbjail: --nbjail-allow: more than %d patterns", ALLOW_MAX);
			rc = -1;
			break;
		}
		push(b, "--allow");
		push(b, p);
	}
	if (!n) {
		slurm_error("nbjail: --nbjail-allow: no pattern");
		rc = -1;
	}
	free(copy);
	return rc;
}

/*
 * A runtime directory for rootless nbjail: the job's XDG_RUNTIME_DIR if
 * it is a directory of the user's, mode 0700; else /tmp/nbjail-slurm-UID,
 * made so or refused if someone else made it.
 */
static int runtime_dir(spank_t sp, uid_t uid, char *buf, size_t len)
{
	struct stat st;

	if (spank_getenv(sp, "XDG_RUNTIME_DIR", buf, (int)len) == ESPANK_SUCCESS &&
	    buf[0] == '/' && !lstat(buf, &st) && S_ISDIR(st.st_mode) &&
	    st.st_uid == uid && (st.st_mode & 077) == 0)
		return 0;
	snprintf(buf, len, "/tmp/nbjail-slurm-%u", (unsigned)uid);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
		slurm_error("nbjail: cannot make %s: %m", buf);
		return -1;
	}
	if (lstat(buf, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid ||
	    (st.st_mode & 077)) {
		slurm_error("nbjail: %s is not a private directory of uid %u: refusing it",
			    buf, (unsigned)uid);
		return -1;
	}
	return spank_setenv(sp, "XDG_RUNTIME_DIR", buf, 1) == ESPANK_SUCCESS ? 0 : -1;
}

/* The job's account as nbjail's tenant, or "slurm" when it has none */
static void tenant_name(spank_t sp, char *buf, size_t len)
{
	if (spank_getenv(sp, "SLURM_JOB_ACCOUNT", buf, (int)len) != ESPANK_SUCCESS || !buf[0])
		snprintf(buf, len, "slurm");
}

static int build_argv(spank_t sp, struct argv_builder *b)
{
	uint32_t job = 0, step = 0, gtask = 0, array_job = 0, array_task = 0;
	char name[96], steps[24], tenant[128], field[160];
	int argc = 0;
	char **argv = NULL;

	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_TASK_GLOBAL_ID, &gtask) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ARGV, &argc, &argv) != ESPANK_SUCCESS ||
	    argc < 1 || !argv || !argv[0]) {
		slurm_error("nbjail: cannot read the task's ids and argv");
		return -1;
	}
	(void)spank_get_item(sp, S_JOB_ARRAY_ID, &array_job);
	(void)spank_get_item(sp, S_JOB_ARRAY_TASK_ID, &array_task);
	step_name(step, steps, sizeof(steps));
	snprintf(name, sizeof(name), "slurm-%u.%s.%u", job, steps, gtask);
	tenant_name(sp, tenant, sizeof(tenant));
	slurm_verbose("nbjail: task %s (tenant %s) runs in nbjail: site policy %s, "
		      "user policy %s, allow %s", name, tenant,
		      site.policy ? site.policy : "none", user.policy ? user.policy : "none",
		      user.allow ? user.allow : "none");

	push(b, site.nbjail);
	push(b, "run");
	if (site.policy) {
		push(b, "--site-policy");
		push(b, site.policy);
	}
	if (user.policy) {
		push(b, "--policy");
		push(b, user.policy);
	}
	if (user.allow && push_allows(b, user.allow) < 0)
		return -1;
	push(b, "--name");
	push(b, name);
	push(b, "--tenant");
	push(b, tenant);
	pushf(b, "--audit-field=NBJAIL_SLURM_JOB_ID=%lu", job);
	snprintf(field, sizeof(field), "--audit-field=NBJAIL_SLURM_STEP_ID=%s", steps);
	push(b, field);
	pushf(b, "--audit-field=NBJAIL_SLURM_TASK_ID=%lu", gtask);
	if (array_job) {
		snprintf(field, sizeof(field),
			 "--audit-field=NBJAIL_SLURM_ARRAY_JOB_ID=%u_%u", array_job, array_task);
		push(b, field);
	}
	push(b, "--");
	for (int i = 0; i < argc && argv[i]; i++)
		push(b, argv[i]);
	return b->failed ? -1 : 0;
}

/**
 * slurm_spank_task_init() - in the task's process, as the job's user:
 * exec nbjail run with the task's argv and environment
 * @sp:		the SPANK handle
 * @ac:		number of plugstack.conf arguments (read at init)
 * @av:		the arguments
 *
 * Return: 0 when the task is not to be confined (no enforce=1 and no
 * --nbjail-* option); -1 when it is but cannot be, which fails the task
 * before it runs.  On success it does not return.
 */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	struct argv_builder b = { 0 };
	char rundir[PATH_MAX];
	char **env = NULL;
	uid_t uid = 0;

	(void)ac;
	(void)av;
	if (!site.enforce && !user.policy && !user.allow)
		return 0;
	if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS || uid != geteuid()) {
		slurm_error("nbjail: the task does not run as the job's user");
		return -1;
	}
	if (uid != 0 && runtime_dir(sp, uid, rundir, sizeof(rundir)) < 0)
		return -1;
	if (build_argv(sp, &b) < 0 ||
	    spank_get_item(sp, S_JOB_ENV, &env) != ESPANK_SUCCESS || !env) {
		slurm_error("nbjail: cannot build the nbjail command of the task%s",
			    b.failed ? ": out of memory" : "");
		return -1;
	}
	execve(site.nbjail, b.argv, env);
	slurm_error("nbjail: cannot execute %s: %m; the task does not run", site.nbjail);
	return -1;
}

/**
 * slurm_spank_exit() - release what init and the options took
 * @sp:		the SPANK handle
 * @ac:		number of plugstack.conf arguments
 * @av:		the arguments
 *
 * Return: 0
 */
int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	free(site.policy);
	free(site.nbjail);
	free(user.policy);
	free(user.allow);
	site = (struct site){ 0 };
	user = (struct user_opts){ 0 };
	return 0;
}
