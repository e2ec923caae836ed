/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/fsview.c - what of the host the job may write, and what it
 * must not see: the plan that mounts.c carries out
 *
 * Theory of operation: the job sees the whole host read-only (mounts.c),
 * with private tmpfs on /tmp, /var/tmp, /run, /var/run and /dev/shm and a
 * minimal /dev.  fsview_plan() runs in the supervisor before clone(),
 * with the caller's working directory and home, and lists the exceptions
 * in the order mounts.c applies them:
 *
 *   1. FS_OP_WRITE, parents before children: the working directory
 *      (unless it is /, the caller's home or one of its ancestors, /tmp,
 *      /var/tmp, /run or /var/run themselves, or under /proc, /sys or
 *      /dev), then every `filesystem: {write}` entry and --write flag
 *      (not those directories either).  A write path must exist: a
 *      missing one is an error naming where it was given.
 *   2. FS_OP_READONLY: the files the job was started from, the policy
 *      files and the --audit-log file, bound read-only over themselves,
 *      also (above all) when they lie in a writable path
 *      A write path in nbjail's runtime directory is refused; one that
 *      holds it gets it hidden (step 3): the next jobs' state and
 *      compiled filters are there
 *   3. FS_OP_HIDE: the secrets the job never needs (overlays'
 *      password_file and key_file, the file: sources of `secrets:`),
 *      then `filesystem: {hide}`: an empty
 *      read-only tmpfs over a directory, /dev/null over anything else.
 *      A hide path that does not exist is skipped: there is nothing to
 *      hide (a policy may list ~/.aws for hosts that have it).
 *
 * Every path is resolved here (realpath, as root, before the job exists),
 * so the job's mounts name no symlink it could redirect later.  "~" is the
 * caller's home: the sudo caller's (SUDO_UID, from the user database)
 * when root runs for someone, else $HOME, else the user database entry
 * of the real uid.
 *
 * Root also refuses to start from a file the job's user could change
 * (fsview_check_owner()): owned by that uid, writable by one of its groups
 * or by everyone, or in a directory (any ancestor) it could write, unless
 * the directory is sticky and not its own.  A job running as uid 0 is
 * exempt: root can write everything; the read-only binds alone keep it off
 * its files.  ACLs are not read.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/supervisor.h"

/* Where nothing of the job's may be written or hidden: kernel views */
static const char *const kernel_dirs[] = { "/proc", "/sys", "/dev" };

/* Is @path equal to @dir or below it?  Both canonical. */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static bool in_kernel_dir(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(kernel_dirs); i++)
		if (path_within(path, kernel_dirs[i]))
			return true;
	return false;
}

/* The caller's home, see the theory above; NULL if it has none */
static char *caller_home(void)
{
	const char *sudo_uid = getenv("SUDO_UID"), *home = getenv("HOME");
	struct passwd *pw = NULL;
	char *end;

	if (getuid() == 0 && sudo_uid && *sudo_uid) {
		unsigned long u;

		errno = 0;
		u = strtoul(sudo_uid, &end, 10);
		if (!errno && !*end && u < UINT32_MAX)
			pw = getpwuid((uid_t)u);
		return pw && pw->pw_dir[0] == '/' ? realpath(pw->pw_dir, NULL) : NULL;
	}
	if (home && home[0] == '/')
		return realpath(home, NULL);
	pw = getpwuid(getuid());
	return pw && pw->pw_dir[0] == '/' ? realpath(pw->pw_dir, NULL) : NULL;
}

static int plan_add(struct fs_plan *p, enum fs_op op, char *path)
{
	struct fs_entry *grown;

	for (size_t i = 0; i < p->n; i++)
		if (p->entries[i].op == op && !strcmp(p->entries[i].path, path)) {
			free(path);
			return 0;
		}
	grown = realloc(p->entries, (p->n + 1) * sizeof(*grown));
	if (!grown) {
		free(path);
		return -ENOMEM;
	}
	grown[p->n++] = (struct fs_entry){ .op = op, .path = path };
	p->entries = grown;
	return 0;
}

/* The job's own tmpfs: never replaced by the host's directory as a whole
 * (the notifier trusts the job's /run to be its own) */
static const char *const private_dirs[] = { "/tmp", "/var/tmp", "/run", "/var/run" };

static bool is_private_dir(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(private_dirs); i++)
		if (!strcmp(path, private_dirs[i]))
			return true;
	return false;
}

/* The working directory is writable unless it holds the caller's home
 * (or is /), is a private tmpfs itself, or is a kernel view */
static bool cwd_writable(const char *cwd, const char *home)
{
	if (!strcmp(cwd, "/") || is_private_dir(cwd))
		return false;
	if (home && path_within(home, cwd))
		return false;
	return !in_kernel_dir(cwd);
}

/* One `filesystem:` entry or --write flag, resolved */
static int plan_rule(struct fs_plan *p, const struct fs_rule *r, const char *home)
{
	char expanded[PATH_MAX + FS_PATH_MAX], *real;
	bool write = r->kind == FS_RULE_WRITE;

	if (r->home && !home) {
		log_err("%s: %s: the caller has no home directory to expand ~ in", r->where,
			r->path[0] ? r->path : "~");
		return -EINVAL;
	}
	snprintf(expanded, sizeof(expanded), "%s%s", r->home ? home : "", r->path);
	real = realpath(expanded, NULL);
	if (!real && errno == ENOENT && !write) {
		log_debug("%s: %s does not exist: nothing to hide", r->where, expanded);
		return 0;
	}
	if (!real) {
		int err = negative_errno();

		log_err("%s: %s: %s%s", r->where, expanded, strerror(-err),
			err == -ENOENT ? " (a write path must exist when the job starts)" : "");
		return err;
	}
	if (!strcmp(real, "/") || in_kernel_dir(real) || (write && is_private_dir(real))) {
		log_err("%s: %s: %s cannot be %s (the job's /, /proc, /sys, /dev, /tmp, "
			"/var/tmp and /run are its own; name a directory below them)",
			r->where, expanded, real, write ? "made writable" : "hidden");
		free(real);
		return -EINVAL;
	}
	return plan_add(p, write ? FS_OP_WRITE : FS_OP_HIDE, real);
}

/*
 * nbjail's own state, its runtime directory (job locks, statistics,
 * control sockets, revocations, the compiled filters the next jobs
 * load), is never the job's to write: a write path in it is refused, and
 * when a write path holds it (rootless: --write $XDG_RUNTIME_DIR), it is
 * hidden below that path
 */
static int plan_protect_state(struct fs_plan *p)
{
	const char *dir = nbj_runtime_dir();
	char *real;
	bool covered = false;
	size_t n;

	if (!dir)
		return 0;
	real = realpath(dir, NULL);
	if (!real)
		return errno == ENOENT ? 0 : negative_errno();
	n = strlen(real);
	for (size_t i = 0; i < p->n; i++) {
		const char *w = p->entries[i].path;
		size_t k = strlen(w);

		if (p->entries[i].op != FS_OP_WRITE)
			continue;
		if (k >= n && !strncmp(w, real, n) && (w[n] == '/' || !w[n])) {
			log_err("job setup: %s cannot be made writable: it is nbjail's own "
				"state (%s)", w, real);
			free(real);
			return -EINVAL;
		}
		if (!strncmp(real, w, k) && (real[k] == '/' || !strcmp(w, "/")))
			covered = true;
	}
	if (!covered) {
		free(real);
		return 0;
	}
	return plan_add(p, FS_OP_HIDE, real);
}

/* A file the job starts from, if it exists: read-only or hidden */
static int plan_own_file(struct fs_plan *p, enum fs_op op, const char *path)
{
	char *real;

	if (!path || !path[0])
		return 0;
	real = realpath(path, NULL);
	if (!real)
		return errno == ENOENT ? 0 : negative_errno();
	return plan_add(p, op, real);
}

static int by_depth(const void *a, const void *b)
{
	const struct fs_entry *x = a, *y = b;

	if (x->op != y->op)
		return (int)x->op - (int)y->op;
	if (x->op != FS_OP_WRITE)
		return 0;
	return strlen(x->path) < strlen(y->path) ? -1 : strlen(x->path) > strlen(y->path);
}

static bool in_groups(gid_t gid, const struct workload_creds *c)
{
	if (gid == c->gid)
		return true;
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* Why @c could change what @st is, or NULL */
static const char *writable_by(const struct stat *st, const struct workload_creds *c)
{
	bool sticky_dir = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

	if (st->st_uid == c->uid)
		return "owned by the job's user";
	if (sticky_dir) /* only owners rename or remove its entries */
		return NULL;
	if ((st->st_mode & S_IWGRP) && in_groups(st->st_gid, c))
		return "writable by a group of the job's user";
	if (st->st_mode & S_IWOTH)
		return "writable by everyone";
	return NULL;
}

/* @path and each of its ancestors, as written and as resolved */
static int check_path_owner(const char *what, const char *path,
			    const struct workload_creds *c)
{
	char buf[PATH_MAX], *real;
	const char *candidates[2];
	int err = 0;

	real = realpath(path, NULL);
	if (!real)
		return errno == ENOENT ? 0 : negative_errno();
	candidates[0] = path;
	candidates[1] = real;
	for (size_t k = 0; k < ARRAY_SIZE(candidates) && !err; k++) {
		const char *s = candidates[k];
		size_t len = strlen(s);

		if (s[0] != '/' || len >= sizeof(buf))
			continue;
		/* each prefix ending before a '/', then the whole path */
		for (size_t i = 0; i <= len && !err; i++) {
			const char *why;
			struct stat st;

			if (i < len && s[i] != '/')
				continue;
			memcpy(buf, s, i ? i : 1);
			buf[i ? i : 1] = '\0';
			if (stat(buf, &st) < 0)
				continue;
			why = writable_by(&st, c);
			if (!why)
				continue;
			if (i == len)
				log_err("%s %s: %s (uid %u): the job could change it; make it "
					"root's and not writable by others (chown root: %s; "
					"chmod go-w %s), or run the job as another --user",
					what, path, why, (unsigned)c->uid, s, s);
			else
				log_err("%s %s: its directory %s is %s (uid %u): the job could "
					"replace the file; keep it in a directory only root may "
					"change, or run the job as another --user", what, path, buf,
					why, (unsigned)c->uid);
			err = -EPERM;
		}
	}
	free(real);
	return err;
}

/**
 * fsview_check_owner() - refuse files that the job's user could change
 * @cfg:	the job's configuration (policy files, password_file, key_file,
 *		secret files)
 * @creds:	the workload's user and groups
 *
 * Only when nbjail runs as root and the job does not: see the theory.
 *
 * Return: 0, or -EPERM (logged: the file and why)
 */
int fsview_check_owner(const struct nbj_config *cfg, const struct workload_creds *creds)
{
	int err = 0;

	if (geteuid() != 0 || creds->uid == 0)
		return 0;
	for (size_t i = 0; i < cfg->n_policy_files && !err; i++)
		err = check_path_owner("policy file", cfg->policy_files[i], creds);
	for (size_t i = 0; i < cfg->n_overlays && !err; i++) {
		const struct overlay *o = &cfg->overlays[i];

		if (o->password_file[0])
			err = check_path_owner("password_file", o->password_file, creds);
		if (!err && o->key_file[0])
			err = check_path_owner("key_file", o->key_file, creds);
	}
	for (size_t i = 0; i < cfg->n_secrets && !err; i++)
		if (cfg->secrets[i].source == SECRET_FILE)
			err = check_path_owner("secret file", cfg->secrets[i].from, creds);
	for (size_t i = 0; i < cfg->n_credentials && !err; i++)
		if (!cfg->credentials[i].from_env)
			err = check_path_owner("credential file", cfg->credentials[i].from, creds);
	return err;
}

/**
 * fsview_plan() - the exceptions to the job's read-only view of the host
 * @cfg:	the job's configuration
 * @ret:	the plan, free with fsview_plan_free(); untouched on failure
 *
 * Return: 0, or negative errno (logged, naming where a bad path was given)
 */
int fsview_plan(const struct nbj_config *cfg, struct fs_plan *ret)
{
	_cleanup_free_ char *home = caller_home();
	struct fs_plan p = { 0 };
	char *cwd = getcwd(NULL, 0);
	int err = 0;

	if (cwd && cwd_writable(cwd, home)) {
		char *copy = strdup(cwd);

		err = copy ? plan_add(&p, FS_OP_WRITE, copy) : -ENOMEM;
	}
	p.cwd = cwd;
	for (size_t i = 0; i < cfg->n_fs_rules && !err; i++)
		if (cfg->fs_rules[i].kind == FS_RULE_WRITE)
			err = plan_rule(&p, &cfg->fs_rules[i], home);
	if (!err)
		err = plan_protect_state(&p);
	for (size_t i = 0; i < cfg->n_policy_files && !err; i++)
		err = plan_own_file(&p, FS_OP_READONLY, cfg->policy_files[i]);
	if (!err)
		err = plan_own_file(&p, FS_OP_READONLY, cfg->audit_log);
	for (size_t i = 0; i < cfg->n_overlays && !err; i++) {
		err = plan_own_file(&p, FS_OP_HIDE, cfg->overlays[i].password_file);
		if (!err)
			err = plan_own_file(&p, FS_OP_HIDE, cfg->overlays[i].key_file);
	}
	for (size_t i = 0; i < cfg->n_secrets && !err; i++)
		if (cfg->secrets[i].source == SECRET_FILE)
			err = plan_own_file(&p, FS_OP_HIDE, cfg->secrets[i].from);
	for (size_t i = 0; i < cfg->n_credentials && !err; i++)
		if (!cfg->credentials[i].from_env)
			err = plan_own_file(&p, FS_OP_HIDE, cfg->credentials[i].from);
	for (size_t i = 0; i < cfg->n_fs_rules && !err; i++)
		if (cfg->fs_rules[i].kind == FS_RULE_HIDE)
			err = plan_rule(&p, &cfg->fs_rules[i], home);
	if (err < 0) {
		if (err == -ENOMEM)
			log_err("job setup: out of memory");
		fsview_plan_free(&p);
		return err;
	}
	/* stable: hides keep their order, writes go parents first */
	for (size_t i = 1; i < p.n; i++)
		for (size_t j = i; j > 0 && by_depth(&p.entries[j - 1], &p.entries[j]) > 0; j--) {
			struct fs_entry t = p.entries[j];

			p.entries[j] = p.entries[j - 1];
			p.entries[j - 1] = t;
		}
	*ret = p;
	return 0;
}

/**
 * fsview_plan_free() - release a plan
 * @p:	plan, zeroed afterwards
 */
void fsview_plan_free(struct fs_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].path);
	free(p->entries);
	free(p->cwd);
	memset(p, 0, sizeof(*p));
}
