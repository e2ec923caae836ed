/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/file.c - small file helpers for state and job setup files
 */
#include <fcntl.h>
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
