/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/filter.h - the job's seccomp filter
 */
#ifndef NBJ_SECCOMP_FILTER_H
#define NBJ_SECCOMP_FILTER_H

int seccomp_filter_install(int *ret_listener);

#endif /* NBJ_SECCOMP_FILTER_H */
