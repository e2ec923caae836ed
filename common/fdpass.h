/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/fdpass.h - one message with file descriptors attached
 * (common/fdpass.c)
 */
#ifndef NBJ_COMMON_FDPASS_H
#define NBJ_COMMON_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

int fd_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);
ssize_t fd_recv(int sock, void *buf, size_t len, int flags, int *fds, size_t max_fds,
		size_t *ret_n_fds);

#endif /* NBJ_COMMON_FDPASS_H */
