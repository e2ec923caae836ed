/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/file.c - small file helpers for state and job setup files
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/util.h"

/**
 * file_write_string() - create or truncate @path and write @content
 * @path:	file; a symlink there is refused (O_NOFOLLOW)
 * @content:	NUL-terminated text
 * @mode:	permissions if the file is created
 *
 * Return: 0, or negative errno (-EIO on a short write)
 */
int file_write_string(const char *path, const char *content, mode_t mode)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(content);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return negative_errno();
	if (write(fd, content, len) != (ssize_t)len)
		return -EIO;
	return 0;
}

/**
 * fds_close_all_except() - close every fd above 2 except @keep
 * @keep:	fds to keep open, in any order, any number (duplicates and
 *		fds below 3 are fine)
 * @n_keep:	entries in @keep
 *
 * Used in forked children (reaper, relay) so that no lock, pidfd or
 * netlink socket of the supervisor lives on in them.  Allocates nothing
 * (it runs between fork and exec): each round closes the gap up to the
 * next kept fd, so the cost is n_keep squared, and n_keep is small (the
 * relay's is PUBLISH_MAX plus a handful).
 */
void fds_close_all_except(const int *keep, size_t n_keep)
{
	unsigned lo = 3;

	for (;;) {
		long next = -1;

		for (size_t i = 0; i < n_keep; i++)
			if (keep[i] >= (int)lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			break;
		if ((unsigned)next > lo)
			(void)close_range(lo, (unsigned)next - 1, 0);
		lo = (unsigned)next + 1;
	}
	(void)close_range(lo, ~0u, 0);
}

/**
 * fd_read_all() - read a file of @size bytes (its fstat()) whole
 * @fd:		the open file
 * @size:	its size; a file that shrank meanwhile gives fewer bytes
 * @ret:	the bytes, NUL-terminated (one byte more); free() it
 * @ret_len:	their number
 *
 * Return: 0, or negative errno
 */
int fd_read_all(int fd, size_t size, unsigned char **ret, size_t *ret_len)
{
	_cleanup_free_ unsigned char *buf = malloc(size + 1);
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
