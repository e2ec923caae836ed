/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/environ.c - the workload's environment
 *
 * Theory of operation: the supervisor builds the workload's environment
 * before it clones the job (environ_build()); the reaper's
 * workload_exec() makes it the process's environ and execs with it.  In
 * order:
 *
 *   1. the start: nbjail's own environment, or nothing when --clearenv
 *      (nbj_config_set_clearenv()) or the policy's env: {clear: true};
 *      then only the variables that a keep pattern names (NAME, or
 *      PREFIX* for every name that starts with PREFIX) are taken
 *   2. removed whatever keep says: the secret sources the policy names
 *      (secret_names(): each overlay's password_env and each env: source
 *      of `secrets:`; a new kind of secret in the policy adds its
 *      variable there) and every SUDO_*
 *      variable (who ran sudo, and the command line it ran)
 *   3. the policy's env.set entries, NAME=value, replacing a variable of
 *      the same name
 *   4. a job with a dock (profiles net and browse): NBJAIL_DOCK names
 *      its socket (whatever came before), and /run/nbjail/bin, where
 *      nbjail-dock is shown, is appended to PATH (to glibc's default
 *      /bin:/usr/bin without one)
 *
 * The workload's command is then searched in the PATH of this final
 * environment (execvp() after environ is replaced; without PATH, glibc's
 * default /bin:/usr/bin), never in nbjail's.  The array points into the
 * strings of @from and of the config, which live until the clone; the
 * clone copies them with the rest of the memory.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nbjail/dock.h"
#include "supervisor/supervisor.h"

/* one per overlay (password_env) and per `secrets:` entry, and room */
#define SECRET_NAMES_MAX (2 * OVERLAYS_MAX + SECRETS_MAX)

/* Does @entry ("NAME=value") have the name @name (@len bytes)? */
static bool entry_is(const char *entry, const char *name, size_t len)
{
	return !strncmp(entry, name, len) && entry[len] == '=';
}

/* The variables the policy names as holding secrets */
static size_t secret_names(const struct nbj_config *cfg, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_overlays && n < max; i++)
		if (cfg->overlays[i].password_env[0])
			names[n++] = cfg->overlays[i].password_env;
	for (size_t i = 0; i < cfg->n_secrets && n < max; i++)
		if (cfg->secrets[i].source == SECRET_ENV)
			names[n++] = cfg->secrets[i].from;
	return n;
}

static bool kept(const struct policy_env *env, const char *entry, size_t name_len)
{
	for (size_t i = 0; i < env->n_keep; i++) {
		const char *k = env->keep[i];
		size_t klen = strlen(k);

		if (klen && k[klen - 1] == '*') {
			if (name_len >= klen - 1 && !strncmp(entry, k, klen - 1))
				return true;
		} else if (klen == name_len && !strncmp(entry, k, klen)) {
			return true;
		}
	}
	return false;
}

/**
 * environ_build() - the workload's environment, see the theory above
 * @cfg:	config (clearenv, env: section, overlays)
 * @from:	nbjail's environment (environ)
 * @ret:	NULL-terminated array; free() the array only (the strings are
 *		@from's and @cfg's)
 *
 * Return: 0, -E2BIG if the policy names too many secret sources, -ENOMEM
 */
int environ_build(const struct nbj_config *cfg, char *const *from, char ***ret)
{
	const char *secrets[SECRET_NAMES_MAX];
	bool clear = cfg->clearenv || cfg->env.clear;
	size_t n_from = 0, n = 0, n_secrets;
	char **envp;

	static_assert(SECRET_NAMES_MAX >= OVERLAYS_MAX + SECRETS_MAX,
		      "every overlay's password_env and every secret's env");
	if (cfg->n_overlays + cfg->n_secrets > SECRET_NAMES_MAX)
		return -E2BIG; /* never keep a secret for want of room */
	n_secrets = secret_names(cfg, secrets, SECRET_NAMES_MAX);
	while (from && from[n_from])
		n_from++;
	bool dock = cfg->profile == NBJ_PROFILE_NET || cfg->profile == NBJ_PROFILE_BROWSE;
	static const char dock_var[] = NBJ_DOCK_ENV "=" NBJ_DOCK_PATH;
	static const char desk_var[] = NBJ_DOCK_FD_ENV "=" NBJ_DOCK_DESK_FD_STR;
	const char *path = NULL;
	size_t slots = n_from + cfg->env.n_set + 4, path_room = 0;
	char *store;

	/* the new PATH lives after the array, in the same allocation: the
	 * caller frees the array only */
	if (dock) {
		for (size_t i = 0; i < n_from; i++)
			if (entry_is(from[i], "PATH", 4) && (!clear || kept(&cfg->env, from[i], 4)))
				path = from[i] + 5;
		for (size_t s = 0; s < cfg->env.n_set; s++)
			if (entry_is(cfg->env.set[s], "PATH", 4))
				path = cfg->env.set[s] + 5;
		path_room = strlen("PATH=") + (path ? strlen(path) : strlen("/bin:/usr/bin")) +
			    strlen(":" NBJ_DOCK_BIN_DIR) + 1;
	}
	envp = calloc(1, slots * sizeof(*envp) + path_room);
	if (!envp)
		return -ENOMEM;
	store = (char *)(envp + slots);

	for (size_t i = 0; i < n_from; i++) {
		const char *e = from[i], *eq = strchr(e, '=');
		size_t len = eq ? (size_t)(eq - e) : 0;
		bool drop = !eq || !len || !strncmp(e, "SUDO_", 5) ||
			    (clear && !kept(&cfg->env, e, len));

		for (size_t s = 0; s < n_secrets && !drop; s++)
			drop = strlen(secrets[s]) == len && !strncmp(e, secrets[s], len);
		for (size_t s = 0; s < cfg->env.n_set && !drop; s++)
			drop = entry_is(cfg->env.set[s], e, len);
		if (dock && (entry_is(e, "PATH", 4) || entry_is(e, NBJ_DOCK_ENV, strlen(NBJ_DOCK_ENV)) ||
			     entry_is(e, NBJ_DOCK_FD_ENV, strlen(NBJ_DOCK_FD_ENV))))
			drop = true;	/* replaced below */
		if (!dock && entry_is(e, NBJ_DOCK_FD_ENV, strlen(NBJ_DOCK_FD_ENV)))
			drop = true;	/* no desk in this job */
		if (!drop)
			envp[n++] = (char *)e;
	}
	for (size_t s = 0; s < cfg->env.n_set; s++)
		if (!dock || (!entry_is(cfg->env.set[s], "PATH", 4) &&
			      !entry_is(cfg->env.set[s], NBJ_DOCK_ENV, strlen(NBJ_DOCK_ENV)) &&
			      !entry_is(cfg->env.set[s], NBJ_DOCK_FD_ENV, strlen(NBJ_DOCK_FD_ENV))))
			envp[n++] = cfg->env.set[s];
	if (dock) {
		snprintf(store, path_room, "PATH=%s:%s", path ? path : "/bin:/usr/bin",
			 NBJ_DOCK_BIN_DIR);
		envp[n++] = store;
		envp[n++] = (char *)dock_var;
		envp[n++] = (char *)desk_var;
	}
	envp[n] = NULL;
	*ret = envp;
	return 0;
}
