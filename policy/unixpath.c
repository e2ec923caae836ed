/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/unixpath.c - `unix_allow` entries: pathname sockets outside the
 * job's private mounts that the job may use
 *
 * An entry is an absolute path, stored normalized (repeated and trailing
 * slashes removed) so that the supervisor can compare it with what a job
 * asks for.  "." and ".." components are refused rather than resolved:
 * a policy names the socket the way it is, and the supervisor compares
 * inodes (seccomp/notify.c), so symlinks in either path cannot fool it.
 */
#include <errno.h>
#include <string.h>

#include "policy/policy.h"

/**
 * path_normalize() - a path's components, each after one "/", without
 * empty ones; "." and ".." are refused, never resolved
 * @s:		the path (after any prefix such as "~")
 * @out:	the normalized path, NUL-terminated ("" for "/")
 * @outlen:	room in @out
 *
 * Shared by `unix_allow` and `filesystem:` entries (policy/fspath.c).
 *
 * Return: the length written; -EINVAL for a "." or ".." component,
 * -ENAMETOOLONG when it does not fit
 */
long path_normalize(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	while (*s) {
		const char *end;
		size_t len;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		end = strchrnul(s, '/');
		len = (size_t)(end - s);
		if ((len == 1 && s[0] == '.') || (len == 2 && !strncmp(s, "..", 2)))
			return -EINVAL;
		if (n + 1 + len >= outlen)
			return -ENAMETOOLONG;
		out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
		s = end;
	}
	out[n] = '\0';
	return (long)n;
}

/**
 * unix_rule_parse() - parse one `unix_allow` entry
 * @s:		the entry as written
 * @ret:	normalized rule
 *
 * Return: 0; -EINVAL if @s is not absolute or has a "." or ".."
 * component; -ENAMETOOLONG if it does not fit a sockaddr_un
 */
int unix_rule_parse(const char *s, struct unix_rule *ret)
{
	struct unix_rule r = { 0 };
	long n;

	if (!s || s[0] != '/')
		return -EINVAL;
	n = path_normalize(s, r.path, sizeof(r.path));
	if (n < 0)
		return (int)n;
	if (!n)
		return -EINVAL; /* "/" is a directory, never a socket */
	*ret = r;
	return 0;
}
