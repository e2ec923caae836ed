/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/tlsroots.c - the trust roots of the relay's TLS clients,
 * read once at start
 *
 * Theory of operation: a job with a dock gets the PEM bundle its relay's
 * TLS clients trust (the dock's tls op, relay/tls_upstream.c): the
 * policy's `tls_roots: FILE`, else the system bundle
 * (RELAY_TLS_SYSTEM_ROOTS).  The supervisor reads it, not the relay:
 * the relay runs as the job's own uid, which may not read the caller's
 * files, and it never opens files by name.  The bytes cross in the
 * relay's handoff (relay/handoff.c); the relay parses them at its first
 * TLS call.
 *
 * The file is opened with O_NOFOLLOW (a symbolic link is refused: name
 * the file itself), must be a regular file of 1 byte to
 * RELAY_TLS_ROOTS_MAX, not writable by group or others (whoever may
 * change it chooses whom the job's calls trust), and hold at least one
 * "-----BEGIN CERTIFICATE-----".  A policy's file failing any check
 * stops the start (one line naming the file and the cause).  The system
 * bundle is no one's choice: when it is missing or fails, the job starts
 * without roots and every tls call fails ("no trust roots"): closed.
 * The system bundle itself is a link on Debian (ca-certificates), so it
 * is opened without O_NOFOLLOW.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/util.h"
#include "relay/relay.h"
#include "supervisor/job_int.h"

/* The whole of @fd, checked: its bytes (malloc'd) and length, or -errno */
static int read_bundle(int fd, const char *path, unsigned char **ret, size_t *ret_len)
{
	_cleanup_free_ unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int err;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode)) {
		log_err("tls_roots: %s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_err("tls_roots: %s: writable by group or others (mode %04o): whoever "
			"may change it chooses whom the job trusts", path,
			(unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (st.st_size < 1 || st.st_size > (off_t)RELAY_TLS_ROOTS_MAX) {
		log_err("tls_roots: %s: %s", path, st.st_size < 1 ? "empty" :
			"larger than 4 MiB");
		return -EFBIG;
	}
	err = fd_read_all(fd, (size_t)st.st_size, &buf, &len);
	if (err < 0)
		return err;
	if (!memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27)) {
		log_err("tls_roots: %s: no PEM certificate in it", path);
		return -EBADMSG;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/**
 * tls_roots_read() - the PEM bundle a job's relay trusts
 * @path:	the policy's `tls_roots:` (absolute), or NULL for the system
 *		bundle
 * @ret:	receives the bytes (free()), NULL when the system has none
 * @ret_len:	their length
 *
 * Return: 0 (also without a system bundle), or negative errno for a
 * policy's file that cannot be used (logged)
 */
int tls_roots_read(const char *path, unsigned char **ret, size_t *ret_len)
{
	const char *name = path ? path : RELAY_TLS_SYSTEM_ROOTS;
	_cleanup_close_ int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
				      (path ? O_NOFOLLOW : 0));
	int err;

	*ret = NULL;
	*ret_len = 0;
	if (fd < 0) {
		err = negative_errno();
		if (!path) {
			log_debug("no system trust roots (%s): %s; tls calls will fail", name,
				  strerror(-err));
			return 0;
		}
		log_err("tls_roots: %s: %s", name, err == -ELOOP ?
			"is a symbolic link (name the file itself)" : strerror(-err));
		return err;
	}
	err = read_bundle(fd, name, ret, ret_len);
	if (err < 0 && !path) {
		log_warn("the system trust roots (%s) cannot be used: tls calls will fail",
			 name);
		return 0;
	}
	return err;
}
