/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/file.h - small file helpers
 */
#ifndef NBJ_COMMON_FILE_H
#define NBJ_COMMON_FILE_H

#include <sys/types.h>

int file_write_string(const char *path, const char *content, mode_t mode);
void fds_close_all_except(const int *keep, size_t n_keep);
int fd_read_all(int fd, size_t size, unsigned char **ret, size_t *ret_len);

#endif /* NBJ_COMMON_FILE_H */
