/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/filter.h - the job's seccomp filter
 */
#ifndef NBJ_SECCOMP_FILTER_H
#define NBJ_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>

int seccomp_filter_install(int *ret_listener);
int seccomp_filter_build(bool notify, struct sock_fprog *ret);
int seccomp_filter_cached(const char *dir, struct sock_fprog *ret);
int seccomp_filter_load(const struct sock_fprog *prog, int *ret_listener);

#endif /* NBJ_SECCOMP_FILTER_H */
