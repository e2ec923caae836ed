/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/escape/open_by_handle.c - file handles outside the job's mounts */
#include "escape.h"
#include <fcntl.h>
int main(void)
{
	struct { struct file_handle h; unsigned char b[128]; } fh = { .h.handle_bytes = 128 };
	int mnt;
	return expect_errno("name_to_handle_at(/)", name_to_handle_at(AT_FDCWD, "/", &fh.h, &mnt, 0), EPERM, EPERM);
}
