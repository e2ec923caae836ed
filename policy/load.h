/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/load.h - the policy file (YAML)
 */
#ifndef NBJ_POLICY_LOAD_H
#define NBJ_POLICY_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

#define POLICY_MAX_FILE_SIZE (1024 * 1024)
#define POLICY_MAX_ENTRIES 4096

/**
 * struct policy_doc - a parsed, validated policy file
 * @tenant:		tenant name, "" if absent
 * @profile:		profile name as written, "" if absent
 * @profile_line:	its line, for errors found by the caller
 * @allow:		allow rules
 * @n_allow:		entries in @allow
 * @floor_exceptions:	floor exceptions
 * @n_floor_exceptions:	entries in @floor_exceptions
 * @rates:		the `rates:` mapping (zeros where absent)
 * @limits:		the `limits:` mapping (zeros where absent)
 * @overlays:		the overlay registry; [0] is "direct"
 * @n_overlays:		entries in @overlays (0: no `overlays:`)
 * @default_overlay:	index of `default_overlay:` (0: direct)
 * @routes:		`routes:`, overlay names resolved
 * @n_routes:		entries in @routes
 * @unix_allow:		pathname sockets the job may use
 * @n_unix_allow:	entries in @unix_allow
 * @publish:		`publish:`, overlay names resolved
 * @n_publish:		entries in @publish
 * @select_allowed:	permissions: network.select: allow
 * @fs_rules:		`filesystem:` write and hide entries, each with its
 *			file:line:column: field for errors found at start
 * @n_fs_rules:		entries in @fs_rules
 * @secrets:		`secrets:` entries (names and sources, no bytes)
 * @n_secrets:		entries in @secrets
 * @credentials:	`credentials:` (sources, hosts; no bytes, no stand-in)
 * @n_credentials:	entries in @credentials
 * @http_rules:		`http:` request rules
 * @n_http_rules:	entries in @http_rules
 * @tls_roots:		`tls_roots:` PEM bundle's absolute name, "" if absent
 */
/**
 * struct policy_env - the policy's env: section (nbjail.yaml(5))
 * @clear:	start the job's environment empty, not from nbjail's
 * @keep:	with @clear, the variables kept: NAME, or PREFIX* (a trailing
 *		star matches any rest); strings owned here
 * @n_keep:	entries in @keep
 * @set:	"NAME=value" strings set in the job's environment, last
 * @n_set:	entries in @set
 */
struct policy_env {
	bool clear;
	char **keep;
	size_t n_keep;
	char **set;
	size_t n_set;
};

#define POLICY_ENV_MAX 1024

void policy_env_free(struct policy_env *env);

/* `secrets:` (nbjail.yaml(5)): sign-only keys, held by nbjail-keys */
#define SECRETS_MAX 64
#define SECRET_NAME_MAX 64
#define SECRET_BYTES_MAX 4096

/**
 * enum secret_source - where a secret's bytes are read at start
 * @SECRET_FILE:	a file: root's or the caller's, mode 0600, no symlink
 * @SECRET_ENV:		an environment variable of nbjail's
 */
enum secret_source {
	SECRET_FILE = 1,
	SECRET_ENV,
};

/**
 * struct policy_secret - one entry of `secrets:` (never its bytes)
 * @name:	the key's label, [A-Za-z0-9_-]{1,64}: what `sign` names
 * @source:	file or env
 * @from:	the absolute file name, or the variable's name
 */
struct policy_secret {
	char name[SECRET_NAME_MAX + 1];
	enum secret_source source;
	char from[FS_PATH_MAX];
};

bool secret_name_valid(const char *s, size_t len);

struct policy_doc {
	char tenant[64];
	char profile[16];
	unsigned profile_line;
	struct allow_rule *allow;
	size_t n_allow;
	struct allow_rule *floor_exceptions;
	size_t n_floor_exceptions;
	struct nbj_rates rates;
	struct nbj_limits limits;
	struct overlay *overlays;
	size_t n_overlays;
	unsigned default_overlay;
	struct overlay_route *routes;
	size_t n_routes;
	struct unix_rule *unix_allow;
	size_t n_unix_allow;
	struct publish_entry *publish;
	size_t n_publish;
	bool select_allowed;
	struct policy_env env;
	struct fs_rule *fs_rules;
	size_t n_fs_rules;
	struct policy_secret *secrets;
	size_t n_secrets;
	struct nbj_credential *credentials;
	size_t n_credentials;
	struct http_rule *http_rules;
	size_t n_http_rules;
	char tls_roots[FS_PATH_MAX];
};

int policy_load(const char *path, struct policy_doc *ret, char *err,
		size_t errlen);
void policy_doc_free(struct policy_doc *doc);

#endif /* NBJ_POLICY_LOAD_H */
