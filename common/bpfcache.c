/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/bpfcache.c - compiled seccomp programs kept in nbjail's runtime
 * directory
 *
 * Theory of operation: compiling a filter with libseccomp costs a job's
 * start some milliseconds, so the job's filter (seccomp/filter.c) and the
 * roles' allow-lists (common/rolefilter.c) keep their BPF in a file of
 * nbjail's runtime directory: /run/nbjail as root, $XDG_RUNTIME_DIR/nbjail
 * rootless (both the caller's, 0700, checked by state.c, gone at reboot:
 * never a program of another kernel; no job can write either: fsview.c
 * refuses or hides them).  The file's name hashes everything that
 * decides the program (bpf_cache_path()), so an upgrade never loads an
 * old one.  A file is used only if it is a regular file of the caller's
 * that nobody else may write and whose size is a whole program;
 * otherwise the program is built and published atomically (a temporary
 * file renamed over the name).  A failure to publish only costs the next
 * job the build.
 *
 * A program for an exec'd role (nbjail-relay) travels in a sealed memfd
 * (bpf_memfd_create(), bpf_memfd_read()): the role cannot read root's
 * directory, and compiling its own would cost it the milliseconds the
 * cache saves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bpfcache.h"
#include "common/util.h"

/**
 * bpf_cache_path() - the cache file of a program
 * @buf:	the path
 * @len:	its size
 * @dir:	the cache directory
 * @name:	what the program is, in the file name ("seccomp", "seccomp-role-relay")
 * @key:	everything that decides the program, hashed (FNV-1a) into the name
 */
void bpf_cache_path(char *buf, size_t len, const char *dir, const char *name,
		    const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	snprintf(buf, len, "%s/%s-%016llx.bpf", dir, name, (unsigned long long)h);
}

/**
 * bpf_cache_fetch() - a program from its cache file, else built and cached
 * @path:	the cache file (bpf_cache_path())
 * @build:	builds the program when the cache has none
 * @ctx:	passed to @build
 * @ret:	the program; free ret->filter with free()
 *
 * Return: 0, or the negative errno of @build or of an allocation
 */
int bpf_cache_fetch(const char *path, int (*build)(void *ctx, struct sock_fprog *ret),
		    void *ctx, struct sock_fprog *ret)
{
	char tmp[PATH_MAX + 16];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int err;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 0022) && st.st_size > 0 &&
	    st.st_size % (off_t)sizeof(struct sock_filter) == 0 &&
	    st.st_size / (off_t)sizeof(struct sock_filter) <= BPF_MAXINSNS) {
		ret->filter = malloc((size_t)st.st_size);
		if (!ret->filter)
			return -ENOMEM;
		if (pread(fd, ret->filter, (size_t)st.st_size, 0) == st.st_size) {
			ret->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
			return 0;
		}
		free(ret->filter);
		ret->filter = NULL;
	}
	err = build(ctx, ret);
	if (err < 0)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, getpid());
	closep(&fd);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		size_t len = ret->len * sizeof(struct sock_filter);

		if (write(fd, ret->filter, len) != (ssize_t)len || rename(tmp, path) < 0)
			(void)unlink(tmp);
	}
	return 0;
}

#define BPF_MEMFD_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/**
 * bpf_memfd_create() - @prog in a sealed memfd, for an exec'd role
 * @prog:	the program
 *
 * Return: the memfd (close-on-exec: the caller clears it for the role),
 * or negative errno
 */
int bpf_memfd_create(const struct sock_fprog *prog)
{
	size_t len = prog->len * sizeof(*prog->filter);
	_cleanup_close_ int fd = memfd_create("nbjail-bpf", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return negative_errno();
	if (write(fd, prog->filter, len) != (ssize_t)len ||
	    fcntl(fd, F_ADD_SEALS, BPF_MEMFD_SEALS) < 0)
		return -EIO;
	return TAKE_FD(fd);
}

/**
 * bpf_memfd_read() - the program of a memfd from bpf_memfd_create()
 * @fd:		the memfd
 * @ret:	the program; free ret->filter with free()
 *
 * Return: 0, -EINVAL for an fd that is not sealed or holds no whole
 * program, or negative errno
 */
int bpf_memfd_read(int fd, struct sock_fprog *ret)
{
	struct sock_filter *insns;
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || (seals & BPF_MEMFD_SEALS) != BPF_MEMFD_SEALS || fstat(fd, &st) < 0 ||
	    st.st_size <= 0 || st.st_size % (off_t)sizeof(*insns) ||
	    st.st_size / (off_t)sizeof(*insns) > BPF_MAXINSNS)
		return -EINVAL;
	insns = malloc((size_t)st.st_size);
	if (!insns)
		return -ENOMEM;
	if (pread(fd, insns, (size_t)st.st_size, 0) != st.st_size) {
		free(insns);
		return -EIO;
	}
	ret->filter = insns;
	ret->len = (unsigned short)(st.st_size / (off_t)sizeof(*insns));
	return 0;
}
