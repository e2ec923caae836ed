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
	size_t n = 0;

	if (!s || s[0] != '/')
		return -EINVAL;
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
		if (n + 1 + len >= sizeof(r.path))
			return -ENAMETOOLONG;
		r.path[n++] = '/';
		memcpy(r.path + n, s, len);
		n += len;
		s = end;
	}
	if (!n)
		return -EINVAL; /* "/" is a directory, never a socket */
	*ret = r;
	return 0;
}
