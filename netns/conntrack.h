/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netns/conntrack.h - forget the connections of a job's addresses
 */
#ifndef NBJ_NETNS_CONNTRACK_H
#define NBJ_NETNS_CONNTRACK_H

#include <stddef.h>

#include "policy/policy.h"

int conntrack_flush_sources(const struct nbj_addr *srcs, size_t n);

#endif /* NBJ_NETNS_CONNTRACK_H */
