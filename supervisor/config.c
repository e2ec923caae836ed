/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/config.c - struct nbj_config: what a job should be
 *
 * A config is plain data, validated as it is set: every setter rejects
 * bad input with -EINVAL (or -EOPNOTSUPP for allow patterns this version
 * cannot enforce) and leaves the config unchanged, so a config that
 * exists is a config that can start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "supervisor/supervisor.h"

/**
 * nbj_config_new() - a config with defaults: profile net, no allow rules,
 * the caller's uid/gid, the default address pool
 * @ret:	the new config, free with nbj_config_free()
 *
 * Return: 0, or -ENOMEM
 */
int nbj_config_new(struct nbj_config **ret)
{
	struct nbj_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -ENOMEM;
	cfg->profile = NBJ_PROFILE_NET;
	cfg->uid = getuid();
	cfg->gid = getgid();
	pool_config_default(&cfg->pool);
	*ret = cfg;
	return 0;
}

static void argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/**
 * nbj_config_free() - release a config
 * @cfg:	config, may be NULL
 */
void nbj_config_free(struct nbj_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->allow);
	free(cfg->name);
	argv_free(cfg->argv);
	free(cfg);
}

static const char *const profile_names[] = {
	[NBJ_PROFILE_MINIMAL] = "minimal",
	[NBJ_PROFILE_COMPUTE] = "compute",
	[NBJ_PROFILE_NET] = "net",
};

/**
 * nbj_profile_from_string() - parse a profile name
 * @s:		"minimal", "compute" or "net"
 * @ret:	the profile
 *
 * Return: 0, or -EINVAL for an unknown name
 */
int nbj_profile_from_string(const char *s, enum nbj_profile *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(profile_names); i++) {
		if (s && !strcmp(s, profile_names[i])) {
			*ret = (enum nbj_profile)i;
			return 0;
		}
	}
	return -EINVAL;
}

/**
 * nbj_profile_to_string() - name of a profile
 * @p:	profile
 *
 * Return: its name, or "unknown"
 */
const char *nbj_profile_to_string(enum nbj_profile p)
{
	if ((size_t)p < ARRAY_SIZE(profile_names))
		return profile_names[p];
	return "unknown";
}

/**
 * nbj_config_set_profile() - choose the job's profile
 * @cfg:	config
 * @p:		profile
 *
 * Return: 0, or -EINVAL
 */
int nbj_config_set_profile(struct nbj_config *cfg, enum nbj_profile p)
{
	if ((size_t)p >= ARRAY_SIZE(profile_names))
		return -EINVAL;
	cfg->profile = p;
	return 0;
}

/**
 * nbj_config_add_allow() - add one allow pattern (IP, IP:port, CIDR,
 * [v6]:port)
 * @cfg:	config
 * @pattern:	the pattern
 *
 * Return: 0, -EINVAL if malformed, -EOPNOTSUPP for name patterns (not
 * supported by this version), -E2BIG past NBJ_MAX_ALLOW rules, -ENOMEM
 */
int nbj_config_add_allow(struct nbj_config *cfg, const char *pattern)
{
	struct allow_rule rule, *grown;
	int err;

	if (!pattern)
		return -EINVAL;
	err = allow_parse(pattern, &rule);
	if (err < 0)
		return err;
	if (cfg->n_allow >= NBJ_MAX_ALLOW)
		return -E2BIG;
	grown = realloc(cfg->allow, (cfg->n_allow + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	grown[cfg->n_allow++] = rule;
	cfg->allow = grown;
	return 0;
}

/**
 * nbj_config_set_user() - who the workload runs as
 * @cfg:	config
 * @uid:	user id
 * @gid:	primary group id; supplementary groups come from the user
 *		database at start
 *
 * Return: 0, or -EINVAL for (uid_t)-1 / (gid_t)-1
 */
int nbj_config_set_user(struct nbj_config *cfg, uid_t uid, gid_t gid)
{
	if (uid == (uid_t)-1 || gid == (gid_t)-1)
		return -EINVAL;
	cfg->uid = uid;
	cfg->gid = gid;
	cfg->user_set = true;
	return 0;
}

/**
 * nbj_config_set_name() - the job's name, also its hostname
 * @cfg:	config
 * @name:	1 to 63 characters of [A-Za-z0-9.-_], not starting with
 *		'-' or '.'
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int nbj_config_set_name(struct nbj_config *cfg, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	char *copy;

	if (len < 1 || len > 63 || name[0] == '-' || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return -EINVAL;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(cfg->name);
	cfg->name = copy;
	return 0;
}

/**
 * nbj_config_set_pool() - replace the IPv4 or IPv6 address pool
 * @cfg:	config
 * @cidr:	an IPv4 prefix of length <= 30 or an IPv6 prefix <= 64
 *
 * Return: 0, or -EINVAL
 */
int nbj_config_set_pool(struct nbj_config *cfg, const char *cidr)
{
	struct pool_prefix p;
	int err = pool_parse_prefix(cidr, &p);

	if (err < 0)
		return err;
	if (p.addr.family == AF_INET)
		cfg->pool.v4 = p;
	else
		cfg->pool.v6 = p;
	return 0;
}

/**
 * nbj_config_set_argv() - the command to run, argv[0] searched in PATH
 * @cfg:	config
 * @argv:	NULL-terminated, at least one element; copied
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int nbj_config_set_argv(struct nbj_config *cfg, char *const argv[])
{
	size_t n = 0;
	char **copy;

	if (!argv || !argv[0] || !argv[0][0])
		return -EINVAL;
	while (argv[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			argv_free(copy);
			return -ENOMEM;
		}
	}
	argv_free(cfg->argv);
	cfg->argv = copy;
	return 0;
}
