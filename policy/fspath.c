/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/fspath.c - `filesystem:` entries and --write: paths of the host
 * that the job may write or must not see
 *
 * An entry is an absolute path or one that starts with "~/" (or is "~"),
 * the caller's home, expanded by the supervisor when the job starts
 * (supervisor/fsview.c).  It is stored normalized (repeated and trailing
 * slashes removed); "." and ".." components are refused rather than
 * resolved, so that what a policy names is what a reader sees.  Whether
 * the path exists is not known here (policy/ does no I/O besides reading
 * the policy file): the supervisor checks it.
 */
#include <errno.h>
#include <string.h>

#include "policy/policy.h"

/**
 * fs_rule_parse() - parse one `filesystem: {write, hide}` entry
 * @s:		the entry as written
 * @kind:	write or hide
 * @ret:	normalized rule; @ret->where is left empty for the caller
 *
 * Return: 0; -EINVAL if @s is neither absolute nor "~" or "~/...", has a
 * "." or ".." component, or is "/" itself; -ENAMETOOLONG past FS_PATH_MAX
 */
int fs_rule_parse(const char *s, enum fs_rule_kind kind, struct fs_rule *ret)
{
	struct fs_rule r = { .kind = kind };
	long n;

	if (!s)
		return -EINVAL;
	if (s[0] == '~' && (s[1] == '\0' || s[1] == '/')) {
		r.home = true;
		s++;
	} else if (s[0] != '/') {
		return -EINVAL;
	}
	n = path_normalize(s, r.path, sizeof(r.path));
	if (n < 0)
		return (int)n;
	if (!n && !r.home)
		return -EINVAL; /* "/": the whole host, never one entry */
	*ret = r;
	return 0;
}
