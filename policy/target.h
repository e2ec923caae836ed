/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/target.h - what `nbjail explain` is asked about
 */
#ifndef NBJ_POLICY_TARGET_H
#define NBJ_POLICY_TARGET_H

#include <stdbool.h>

#include "policy/policy.h"

#define TARGET_HOST_MAX 253

/**
 * struct target - a parsed explain target
 * @host:	the host as a resolver sees it: percent-decoded, lower-case,
 *		no trailing dot; for an address, its canonical text
 * @is_ip:	@addr holds the host's address
 * @addr:	the address (with @port) when @is_ip
 * @port:	port, from the target or the URL scheme's default
 */
struct target {
	char host[TARGET_HOST_MAX + 1];
	bool is_ip;
	struct nbj_addr addr;
	uint16_t port;
};

int target_parse(const char *text, struct target *ret);

#endif /* NBJ_POLICY_TARGET_H */
