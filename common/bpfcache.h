/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/bpfcache.h - compiled seccomp programs kept in root's runtime directory
 */
#ifndef NBJ_COMMON_BPFCACHE_H
#define NBJ_COMMON_BPFCACHE_H

#include <linux/filter.h>
#include <stddef.h>

void bpf_cache_path(char *buf, size_t len, const char *dir, const char *name,
		    const char *key);
int bpf_cache_fetch(const char *path, int (*build)(void *ctx, struct sock_fprog *ret),
		    void *ctx, struct sock_fprog *ret);

int bpf_memfd_create(const struct sock_fprog *prog);
int bpf_memfd_read(int fd, struct sock_fprog *ret);

#endif /* NBJ_COMMON_BPFCACHE_H */
