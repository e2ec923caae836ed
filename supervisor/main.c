/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/main.c - the nbjail(1) command line, a thin libnbjail wrapper
 *
 * Flags become an nbj_config; `run` starts the job, forwards SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it through a signalfd,
 * and exits with the workload's status (128+N for signal N).  nbjail's
 * own failures use the codes of nbjail.h: 2 usage, 125 setup, 126 cannot
 * execute, 127 not found.  When nbjail runs on a terminal, the job gets a
 * pty of its own, relayed in the same loop (supervisor/pty.c).  Next:
 * supervisor/job.c.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/escape.h"
#include "common/log.h"
#include "nbjail/nbjail.h"
#include "policy/policy.h"
#include "oci/hook.h"
#include "supervisor/doctor.h"
#include "supervisor/pty.h"
#include "supervisor/serve.h"

static const char usage_text[] =
	"Usage: nbjail run [OPTIONS] -- COMMAND [ARG...]\n"
	"       nbjail serve --listen [ADDR:]PORT [OPTIONS] -- HANDLER [ARG...]\n"
	"       nbjail check POLICY-FILE\n"
	"       nbjail explain [--policy FILE] [--allow PATTERN]... [--overlay NAME] TARGET\n"
	"       nbjail ctl jobs | stats [JOB] | recent [N] [JOB] | revoke JOB |\n"
	"                  revoke --tenant T | metrics   [--json]\n"
	"       nbjail gc\n"
	"       nbjail doctor [--json]\n"
	"       nbjail oci-hook [--policy-dir DIR]   (an OCI runtime hook: nbjail-oci(8))\n"
	"       nbjail oci-agent --socket PATH       (the containers' seccomp agent)\n"
	"       nbjail -h|--help | --version\n"
	"\n"
	"Run COMMAND in private network, mount, PID, UTS and IPC namespaces.\n"
	"\n"
	"Options for run:\n"
	"  -p, --profile NAME   minimal | compute (loopback only) | net (default:\n"
	"                       a relay that decides each connection)\n"
	"                       | browse (the dock only: nbjail-dock(1))\n"
	"  -a, --allow PATTERN  allow host, host:port, *.suffix[:port], IP, IP:port,\n"
	"                       CIDR or [IPv6]:port (repeatable); without any, the\n"
	"                       job may reach nothing\n"
	"  -f, --policy FILE    read the policy from a YAML file (nbjail.yaml(5));\n"
	"                       --profile replaces its profile, --allow and\n"
	"                       --floor-exception add to its lists\n"
	"      --site-policy FILE\n"
	"                       the site's policy (nbjail-slurm(8)): --policy and\n"
	"                       --allow may only narrow it; anything they ask for\n"
	"                       outside it is an error before the job starts\n"
	"      --floor-exception PATTERN\n"
	"                       let an internal address through the floor if also\n"
	"                       allowed; logged at start and on each use\n"
	"      --unix-allow PATH\n"
	"                       let the job use the AF_UNIX socket PATH (absolute);\n"
	"                       others outside /run, /var/run and /dev/shm are refused\n"
	"  -w, --write PATH     let the job write PATH, which must exist (repeatable);\n"
	"                       the host is read-only to the job but for PATHs and\n"
	"                       the working directory\n"
	"  -u, --user USER      run as USER (name, uid or uid:gid); default: the\n"
	"                       sudo caller (SUDO_UID/SUDO_GID), else the caller\n"
	"  -n, --name NAME      job name, also the job's hostname\n"
	"      --tenant NAME    account rates and audit events to NAME (default:\n"
	"                       the job name)\n"
	"      --audit-log FILE also append audit events to FILE as JSON lines\n"
	"      --no-journal     do not send audit events to journald\n"
	"      --audit-field KEY=VALUE\n"
	"                       add a field to every audit event; KEY starts with\n"
	"                       NBJAIL_SLURM_ or NBJAIL_OCI_ (at most 4)\n"
	"      --clearenv       start the command's environment empty: only the\n"
	"                       policy's env keep and set entries (nbjail.yaml(5));\n"
	"                       secrets (password_env, SUDO_*) never reach it\n"
	"      --overlay NAME   dial through overlay NAME of the policy when no route\n"
	"                       matches (default: the policy's default_overlay)\n"
	"      --limit-pids N   at most N tasks in the job (its init included)\n"
	"      --limit-memory SIZE\n"
	"                       at most SIZE of memory, no swap (bytes, or 64M, 2G:\n"
	"                       powers of 1024); the smaller of flag and policy wins\n"
	"\n"
	"Exit status: the command's, 128+N if it died of signal N; 2 bad usage,\n"
	"125 nbjail failed, 126 COMMAND cannot be executed, 127 not found.\n"
	"See nbjail(1).\n";

static int usage_error(const char *fmt, const char *arg)
{
	if (fmt) {
		fputs("nbjail: ", stderr);
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fputs(usage_text, stderr);
	return NBJ_EXIT_USAGE;
}

static bool parse_id(const char *s, unsigned long *ret)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*ret = strtoul(s, &end, 10);
	return !errno && !*end && *ret < UINT32_MAX;
}

/* USER is a name, a uid, or uid:gid.  Return 0 or -EINVAL. */
static int parse_user(const char *user, uid_t *uid, gid_t *gid)
{
	unsigned long u, g;
	const char *colon = strchr(user, ':');
	struct passwd *pw;

	if (colon) {
		char ubuf[32];

		if ((size_t)(colon - user) >= sizeof(ubuf))
			return -EINVAL;
		memcpy(ubuf, user, (size_t)(colon - user));
		ubuf[colon - user] = '\0';
		if (!parse_id(ubuf, &u) || !parse_id(colon + 1, &g))
			return -EINVAL;
		*uid = (uid_t)u;
		*gid = (gid_t)g;
		return 0;
	}
	pw = getpwnam(user);
	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		return 0;
	}
	if (!parse_id(user, &u))
		return -EINVAL;
	pw = getpwuid((uid_t)u);
	*uid = (uid_t)u;
	*gid = pw ? pw->pw_gid : (gid_t)u;
	return 0;
}

/* Without --user: the sudo caller, for whom root runs the job; without
 * root, the caller (SUDO_UID then names whoever ran `sudo -u` to become
 * the caller, not a user the caller may map into a job) */
static int default_user(struct nbj_config *cfg)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	unsigned long u, g;

	if (geteuid() != 0)
		return 0;
	if (!su || !sg || !parse_id(su, &u) || !parse_id(sg, &g))
		return 0;
	return nbj_config_set_user(cfg, (uid_t)u, (gid_t)g);
}

/*
 * The run loop: the job's fd, the signalfd and, when nbjail runs on a
 * terminal, the job's pty (supervisor/pty.c) in one poll().  SIGWINCH
 * only resizes the job's pty; the other signals are forwarded.
 */
static void run_loop(struct nbj_job *job, int sfd, struct pty_relay *tty)
{
	while (!nbj_job_dispatch(job)) {
		struct pollfd pfd[2 + PTY_POLL_FDS] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = nbj_job_fd(job), .events = POLLIN },
		};
		struct signalfd_siginfo si;
		nfds_t n = 2;

		if (tty->master >= 0)
			n += pty_relay_poll_fds(tty, pfd + 2);
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			break;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGWINCH)
				pty_relay_winsize(tty);
			else
				(void)nbj_job_kill(job, (int)si.ssi_signo);
		}
		if (tty->master >= 0)
			pty_relay_events(tty, pfd + 2);
	}
}

static int run_job(struct nbj_config *cfg, const char *cmd)
{
	struct pty_relay tty;
	struct nbj_job *job = NULL;
	struct nbj_exit ex;
	sigset_t mask;
	int sfd, err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "nbjail: cannot set up signals: %m\n");
		return NBJ_EXIT_SETUP;
	}

	/* never the caller's terminal: a pty of the job's own */
	err = pty_relay_open(&tty);
	if (err < 0) {
		fprintf(stderr, "nbjail: cannot give the job a terminal: %s\n", strerror(-err));
		return NBJ_EXIT_SETUP;
	}
	if (err > 0 && nbj_config_set_terminal(cfg, tty.model, tty.stdio) < 0) {
		pty_relay_close(&tty);
		return NBJ_EXIT_SETUP;
	}

	log_phase("configured");
	err = nbj_job_start(cfg, &job);
	log_phase("job started");
	if (err == 0 && tty.stdio && pty_relay_attach(&tty, nbj_job_take_terminal(job)) < 0) {
		/* a job nobody reads the terminal of would hang on its output */
		fprintf(stderr, "nbjail: cannot relay the job's terminal\n");
		(void)nbj_job_kill(job, SIGKILL);
	}
	if (err < 0) {
		pty_relay_close(&tty);
		if (err == -EINVAL)
			fprintf(stderr, "nbjail: invalid job configuration\n");
		return NBJ_EXIT_SETUP;
	}
	if (pty_relay_raw(&tty) < 0)
		fprintf(stderr, "nbjail: cannot put the terminal in raw mode: %m\n");

	run_loop(job, sfd, &tty);
	pty_relay_drain(&tty, 2000);
	pty_relay_close(&tty);
	err = nbj_job_wait_detached(job, &ex);
	log_phase("workload ended");
	nbj_job_free(job);
	log_phase("cleaned up");
	if (err < 0) {
		fprintf(stderr, "nbjail: lost track of the job: %s\n", strerror(-err));
		return NBJ_EXIT_SETUP;
	}
	if (ex.kind == NBJ_EXEC_FAILED)
		fprintf(stderr, "nbjail: cannot execute %s: %s\n", cmd,
			strerror(ex.code));
	return nbj_exit_status(&ex);
}

enum { OPT_FLOOR_EXCEPTION = 0x100, OPT_UNIX_ALLOW, OPT_TENANT, OPT_AUDIT_LOG,
       OPT_NO_JOURNAL, OPT_OVERLAY, OPT_CLEARENV, OPT_LIMIT_PIDS, OPT_LIMIT_MEMORY,
       OPT_SITE_POLICY, OPT_AUDIT_FIELD };

/**
 * struct run_opts - the run flags, applied after the policy file
 * @profile:	--profile, or NULL
 * @policy:	--policy, or NULL
 * @site_policy: --site-policy, or NULL
 * @allow:	--allow values (pointers into argv)
 * @n_allow:	their number
 * @exceptions:	--floor-exception values
 * @n_exceptions: their number
 * @unix_allow:	--unix-allow values
 * @n_unix_allow: their number
 * @tenant:	--tenant, or NULL
 * @limits:	--limit-pids, --limit-memory (0: not given)
 */
struct run_opts {
	const char *profile;
	const char *policy;
	const char *site_policy;
	const char **allow;
	size_t n_allow;
	const char **exceptions;
	size_t n_exceptions;
	const char **unix_allow;
	size_t n_unix_allow;
	const char *tenant;
	struct nbj_limits limits;
};

static int run_opts_init(struct run_opts *o, int argc)
{
	/* every flag value fits in argv: no list outgrows argc */
	*o = (struct run_opts){ 0 };
	o->allow = calloc((size_t)argc, sizeof(*o->allow));
	o->exceptions = calloc((size_t)argc, sizeof(*o->exceptions));
	o->unix_allow = calloc((size_t)argc, sizeof(*o->unix_allow));
	return o->allow && o->exceptions && o->unix_allow ? 0 : -ENOMEM;
}

static void run_opts_free(struct run_opts *o)
{
	free(o->allow);
	free(o->exceptions);
	free(o->unix_allow);
}

/*
 * The policy flags that run and explain share.  Return 1 if @c was one of
 * them, 0 if not, or a usage exit status.
 */
static int policy_opt(int c, struct run_opts *o)
{
	switch (c) {
	case 'f':
		if (o->policy)
			return usage_error("--policy given twice%s", "");
		o->policy = optarg;
		return 1;
	case 'a':
		o->allow[o->n_allow++] = optarg;
		return 1;
	case OPT_FLOOR_EXCEPTION:
		o->exceptions[o->n_exceptions++] = optarg;
		return 1;
	default:
		return 0;
	}
}

static int add_pattern(struct nbj_config *cfg, const char *flag, const char *p,
		       int (*add)(struct nbj_config *, const char *))
{
	int err = add(cfg, p);

	if (err == -E2BIG) {
		fprintf(stderr, "nbjail: %s: too many rules\n", flag);
		return usage_error(NULL, NULL);
	}
	if (err < 0) {
		fprintf(stderr, "nbjail: %s '%s': not a%s IP, IP:port, CIDR or "
				"[IPv6]:port pattern\n", flag, p,
			add == nbj_config_add_allow ? " host, host:port, *.suffix," : "n");
		return usage_error(NULL, NULL);
	}
	return 0;
}

/*
 * With --site-policy: the site's file into @cfg, the user's --policy and
 * --allow into a config of their own, then narrowed into @cfg
 * (nbj_config_narrow(): anything the site does not give is an error).
 */
static int apply_site_policy(struct nbj_config *cfg, const struct run_opts *o)
{
	struct nbj_config *user = NULL;
	enum nbj_profile profile;
	char err[512];
	int rc = 0, e;

	if (nbj_config_load_policy(cfg, o->site_policy, err, sizeof(err)) < 0) {
		fprintf(stderr, "nbjail: %s\n", err);
		return NBJ_EXIT_USAGE;
	}
	if (nbj_config_new(&user) < 0) {
		fprintf(stderr, "nbjail: out of memory\n");
		return NBJ_EXIT_SETUP;
	}
	if (o->policy && nbj_config_load_policy(user, o->policy, err, sizeof(err)) < 0) {
		fprintf(stderr, "nbjail: %s\n", err);
		rc = NBJ_EXIT_USAGE;
		goto out;
	}
	if (o->profile) {
		if (nbj_profile_from_string(o->profile, &profile) < 0) {
			rc = usage_error("unknown profile '%s' (minimal, compute or net)",
					 o->profile);
			goto out;
		}
		nbj_config_set_profile(user, profile);
	}
	for (size_t i = 0; i < o->n_allow && !rc; i++)
		rc = add_pattern(user, "--allow", o->allow[i], nbj_config_add_allow);
	for (size_t i = 0; i < o->n_exceptions && !rc; i++)
		rc = add_pattern(user, "--floor-exception", o->exceptions[i],
				 nbj_config_add_floor_exception);
	if (rc)
		goto out;
	e = nbj_config_narrow(cfg, user, err, sizeof(err));
	if (e == -EPERM) {
		fprintf(stderr, "nbjail: %s (site policy %s)\n", err, o->site_policy);
		rc = NBJ_EXIT_USAGE;
	} else if (e < 0) {
		fprintf(stderr, "nbjail: out of memory\n");
		rc = NBJ_EXIT_SETUP;
	}
out:
	nbj_config_free(user);
	return rc;
}

/* The policy file first, then the flags on top of it. */
static int apply_run_opts(struct nbj_config *cfg, const struct run_opts *o)
{
	enum nbj_profile profile;
	char err[512];
	int rc;

	if (o->site_policy) {
		rc = apply_site_policy(cfg, o);
		if (rc)
			return rc;
		goto flags;
	}
	if (o->policy && nbj_config_load_policy(cfg, o->policy, err, sizeof(err)) < 0) {
		fprintf(stderr, "nbjail: %s\n", err);
		return NBJ_EXIT_USAGE;
	}
	if (o->profile) {
		if (nbj_profile_from_string(o->profile, &profile) < 0)
			return usage_error("unknown profile '%s' (minimal, compute, net or browse)",
					   o->profile);
		nbj_config_set_profile(cfg, profile);
	}
	for (size_t i = 0; i < o->n_allow; i++) {
		rc = add_pattern(cfg, "--allow", o->allow[i], nbj_config_add_allow);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < o->n_exceptions; i++) {
		rc = add_pattern(cfg, "--floor-exception", o->exceptions[i],
				 nbj_config_add_floor_exception);
		if (rc)
			return rc;
	}
flags:
	/* after the policy: a flag narrows its limits, never widens them */
	if (o->limits.pids)
		(void)nbj_config_limit_pids(cfg, o->limits.pids);
	if (o->limits.memory)
		(void)nbj_config_limit_memory(cfg, o->limits.memory);
	if (o->tenant && nbj_config_set_tenant(cfg, o->tenant) < 0)
		return usage_error("--tenant '%s': use 1-63 letters, digits, '.', '-' "
				   "or '_'", o->tenant);
	for (size_t i = 0; i < o->n_unix_allow; i++) {
		int err = nbj_config_add_unix_allow(cfg, o->unix_allow[i]);

		if (err == -E2BIG) {
			fprintf(stderr, "nbjail: --unix-allow: too many paths\n");
			return usage_error(NULL, NULL);
		}
		if (err < 0) {
			fprintf(stderr, "nbjail: --unix-allow '%s': not an absolute socket "
					"path (no . or .. components, at most 107 bytes)\n",
				o->unix_allow[i]);
			return usage_error(NULL, NULL);
		}
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "allow", required_argument, NULL, 'a' },
		{ "policy", required_argument, NULL, 'f' },
		{ "site-policy", required_argument, NULL, OPT_SITE_POLICY },
		{ "floor-exception", required_argument, NULL, OPT_FLOOR_EXCEPTION },
		{ "unix-allow", required_argument, NULL, OPT_UNIX_ALLOW },
		{ "audit-field", required_argument, NULL, OPT_AUDIT_FIELD },
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
		{ "no-journal", no_argument, NULL, OPT_NO_JOURNAL },
		{ "overlay", required_argument, NULL, OPT_OVERLAY },
		{ "clearenv", no_argument, NULL, OPT_CLEARENV },
		{ "limit-pids", required_argument, NULL, OPT_LIMIT_PIDS },
		{ "limit-memory", required_argument, NULL, OPT_LIMIT_MEMORY },
		{ "write", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run_opts o = { 0 };
	struct nbj_config *cfg = NULL;
	bool user_given = false, widening_given = false;
	uid_t uid;
	gid_t gid;
	int c, rc;

	if (run_opts_init(&o, argc) < 0 || nbj_config_new(&cfg) < 0) {
		fprintf(stderr, "nbjail: out of memory\n");
		rc = NBJ_EXIT_SETUP;
		goto out;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:a:f:u:n:w:h", opts, NULL)) != -1) {
		rc = policy_opt(c, &o);
		if (rc == 1)
			continue;
		if (rc)
			goto out;
		switch (c) {
		case 'p':
			o.profile = optarg;
			break;
		case 'u':
			if (parse_user(optarg, &uid, &gid) < 0 ||
			    nbj_config_set_user(cfg, uid, gid) < 0) {
				rc = usage_error("--user '%s': no such user", optarg);
				goto out;
			}
			user_given = true;
			break;
		case 'n':
			if (nbj_config_set_name(cfg, optarg) < 0) {
				rc = usage_error("--name '%s': use 1-63 letters, digits, '.', "
						 "'-' or '_'", optarg);
				goto out;
			}
			break;
		case OPT_UNIX_ALLOW:
			widening_given = true;
			o.unix_allow[o.n_unix_allow++] = optarg;
			break;
		case OPT_TENANT:
			o.tenant = optarg;
			break;
		case OPT_SITE_POLICY:
			if (o.site_policy) {
				rc = usage_error("--site-policy given twice%s", "");
				goto out;
			}
			o.site_policy = optarg;
			break;
		case OPT_AUDIT_FIELD:
			if (nbj_config_add_audit_field(cfg, optarg) < 0) {
				rc = usage_error("--audit-field '%s': KEY=VALUE, KEY one of "
						 "NBJAIL_SLURM_* or NBJAIL_OCI_* (A-Z, 0-9, _), "
						 "VALUE printable without quotes, at most 4",
						 optarg);
				goto out;
			}
			break;
		case OPT_AUDIT_LOG:
			if (nbj_config_set_audit_log(cfg, optarg) < 0) {
				rc = usage_error("--audit-log needs a file name%s", "");
				goto out;
			}
			break;
		case OPT_NO_JOURNAL:
			nbj_config_set_journal(cfg, false);
			break;
		case OPT_CLEARENV:
			(void)nbj_config_set_clearenv(cfg, true);
			break;
		case OPT_LIMIT_PIDS:
			if (limits_parse_pids(optarg, &o.limits.pids) < 0) {
				rc = usage_error("--limit-pids '%s': a number of tasks from 1 "
						 "to 4194304", optarg);
				goto out;
			}
			break;
		case OPT_LIMIT_MEMORY:
			if (limits_parse_memory(optarg, &o.limits.memory) < 0) {
				rc = usage_error("--limit-memory '%s': a size of at least 4M "
						 "(bytes, or a number with K, M, G or T: "
						 "powers of 1024)", optarg);
				goto out;
			}
			break;
		case OPT_OVERLAY:
			widening_given = true;
			if (nbj_config_set_overlay(cfg, optarg) < 0) {
				rc = usage_error("--overlay '%s': not an overlay name", optarg);
				goto out;
			}
			break;
		case 'w':
			widening_given = true;
			if (nbj_config_add_write(cfg, optarg) < 0) {
				rc = usage_error("--write '%s': an existing path, absolute, ~/... "
						 "or relative, without . or .. components "
						 "(and not /)", optarg);
				goto out;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			rc = 0;
			goto out;
		default:
			if (optopt && optopt < 0x100)
				rc = usage_error("unknown or incomplete option '-%c'",
						 (char[]){ (char)optopt, 0 });
			else
				rc = usage_error("unknown or incomplete option '%s'",
						 argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		rc = usage_error("run: missing COMMAND%s", "");
		goto out;
	}
	if (o.site_policy && widening_given) {
		rc = usage_error("--site-policy: --unix-allow, --write and --overlay are "
				 "the site policy's alone%s", "");
		goto out;
	}
	rc = apply_run_opts(cfg, &o);
	if (rc)
		goto out;
	if (!user_given && default_user(cfg) < 0) {
		rc = usage_error("invalid SUDO_UID/SUDO_GID%s", "");
		goto out;
	}
	if (nbj_config_set_argv(cfg, argv + optind) < 0) {
		rc = usage_error("run: invalid COMMAND%s", "");
		goto out;
	}
	rc = run_job(cfg, argv[optind]);
out:
	run_opts_free(&o);
	nbj_config_free(cfg);
	return rc;
}

/* @s escaped for one printf; the buffer is reused by the next call */
static const char *esc(const char *s)
{
	static char buf[ESC_BUFSIZE(2048)];

	return text_esc(buf, sizeof(buf), s);
}

/* nbjail explain [--policy F] [--allow P]... [--floor-exception P]...
 * [--overlay NAME] TARGET */
static int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'f' },
		{ "allow", required_argument, NULL, 'a' },
		{ "floor-exception", required_argument, NULL, OPT_FLOOR_EXCEPTION },
		{ "overlay", required_argument, NULL, OPT_OVERLAY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run_opts o = { 0 };
	struct nbj_config *cfg = NULL;
	struct nbj_explanation e;
	const char *overlay = NULL;
	int c, rc, err;

	if (run_opts_init(&o, argc) < 0 || nbj_config_new(&cfg) < 0) {
		fprintf(stderr, "nbjail: out of memory\n");
		rc = NBJ_EXIT_SETUP;
		goto out;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:a:h", opts, NULL)) != -1) {
		rc = policy_opt(c, &o);
		if (rc == 1)
			continue;
		if (rc)
			goto out;
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			rc = 0;
			goto out;
		case OPT_OVERLAY:
			overlay = optarg;
			break;
		default:
			rc = usage_error("explain: unknown or incomplete option '%s'",
					 argv[optind - 1]);
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = usage_error("explain takes exactly one TARGET%s", "");
		goto out;
	}
	rc = apply_run_opts(cfg, &o);
	if (rc)
		goto out;
	if (overlay && nbj_config_set_overlay(cfg, overlay) < 0) {
		rc = usage_error("--overlay '%s': not an overlay name", overlay);
		goto out;
	}
	err = nbj_explain(cfg, argv[optind], &e);
	if (err == -ENOENT) {
		rc = usage_error("--overlay '%s': the policy defines no such overlay", overlay);
		goto out;
	}
	if (err == -EINVAL) {
		fprintf(stderr, "nbjail: explain: '%s' is not a valid URL, host, host:port, "
				"IP or [IPv6]:port\n", esc(argv[optind]));
		rc = NBJ_EXIT_USAGE;
		goto out;
	}
	if (err < 0) {
		fprintf(stderr, "nbjail: explain: %s\n", strerror(-err));
		rc = NBJ_EXIT_SETUP;
		goto out;
	}
	/* every field escaped (common/escape.c): the target may come from a
	 * job's log, and names from the resolver */
	printf("target:  %s\n", esc(argv[optind]));
	printf("host:    %s (%s)\n", esc(e.host), e.is_address ? "address" : "name");
	if (e.port)
		printf("port:    %u\n", e.port);
	else
		printf("port:    none given: only rules without a port apply\n");
	if (e.dial[0])
		printf("dial:    %s\n", esc(e.dial));
	if (e.overlay[0])
		printf("overlay: %s\n", esc(e.overlay));
	printf("verdict: %s\n", e.allow ? "allow" : "deny");
	printf("reason:  %s\n", esc(e.reason));
	if (e.floor_exception[0])
		printf("floor exception used: %s\n", esc(e.floor_exception));
	for (size_t i = 0; i < e.n_resolved; i++)
		printf("resolved: %s\n", esc(e.resolved[i]));
	rc = e.allow ? 0 : 1;
out:
	run_opts_free(&o);
	nbj_config_free(cfg);
	return rc;
}

/* nbjail check FILE: validate, print the effective policy */
static int cmd_check(int argc, char **argv)
{
	struct nbj_config *cfg = NULL;
	char err[512];
	int rc = 0;

	if (argc != 2 || argv[1][0] == '-')
		return usage_error("check takes exactly one POLICY-FILE%s", "");
	if (nbj_config_new(&cfg) < 0) {
		fprintf(stderr, "nbjail: out of memory\n");
		return NBJ_EXIT_SETUP;
	}
	if (nbj_config_load_policy(cfg, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "nbjail: %s\n", err);
		rc = NBJ_EXIT_USAGE;
	} else {
		printf("# %s: valid; the effective policy:\n", argv[1]);
		if (nbj_config_print_policy(cfg, stdout) < 0)
			rc = NBJ_EXIT_SETUP;
	}
	nbj_config_free(cfg);
	return rc;
}

static void gc_report(const char *id, const char *what, void *data)
{
	(void)data;
	printf("%s: %s\n", id, what);
}

static int cmd_gc(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return usage_error("gc takes no arguments%s", "");
	return nbj_gc(gc_report, NULL) < 0 ? NBJ_EXIT_SETUP : 0;
}

/* nbjail ctl jobs | stats [JOB] | recent [N] [JOB] | revoke ... | metrics */
static int cmd_ctl(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		return usage_error("ctl: missing request%s", "");
	fflush(stdout);
	rc = nbj_ctl(argc - 1, argv + 1, stdout);
	fflush(stdout);
	if (rc == 2)
		return usage_error(NULL, NULL);
	if (rc < 0) {
		fprintf(stderr, "nbjail: ctl: %s\n", strerror(-rc));
		return NBJ_EXIT_SETUP;
	}
	return rc;
}

int main(int argc, char **argv)
{
	log_phase("main");
	if (argc < 2)
		return usage_error("missing command%s", "");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("nbjail %s\n", NBJ_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "gc"))
		return cmd_gc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "explain"))
		return cmd_explain(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return serve_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "doctor"))
		return doctor_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "oci-hook"))
		return oci_hook_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "oci-agent"))
		return oci_agent_main(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", argv[1]);
}
