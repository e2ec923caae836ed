/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/select_client.c - nbj_select_overlay(): a process inside a job
 * asks to dial through another overlay
 *
 * Theory of operation: the request is a connect() of an AF_UNIX socket to
 * the abstract address "\0nbjail-select:NAME".  Inside a job that call is
 * seen by the seccomp notifier, which moves the calling process into the
 * overlay's cgroup when the policy grants network.select and answers 0
 * (seccomp/notify.c, seccomp/selection.c); no listener exists, so outside
 * a job the kernel answers ECONNREFUSED.  The process and everything it
 * starts afterwards dial through NAME; threads of the process move with
 * it.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbjail/nbjail.h"
#include "seccomp/selection.h"

/**
 * nbj_select_overlay() - dial through overlay @name from now on, this
 * process and what it starts
 * @name:	an overlay of the job's policy, or "direct"
 *
 * Return: 0; -EACCES when the policy denies network.select, -ENOENT for an
 * overlay the policy does not define, -EOPNOTSUPP when the host cannot
 * (no cgroup v2), -ECONNREFUSED when not inside an nbjail job, -EINVAL
 * for a name that is too long
 */
int nbj_select_overlay(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t plen = strlen(SELECT_ABSTRACT_PREFIX), nlen = strlen(name);
	int fd, r;

	if (!nlen || 1 + plen + nlen > sizeof(sun.sun_path))
		return -EINVAL;
	memcpy(sun.sun_path + 1, SELECT_ABSTRACT_PREFIX, plen);
	memcpy(sun.sun_path + 1 + plen, name, nlen);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sun,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + plen + nlen));
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}
