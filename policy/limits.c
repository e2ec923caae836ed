/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/limits.c - the numbers of `limits:` and of --limit-pids and
 * --limit-memory
 *
 * Theory of operation: a job's resource limits are two numbers, the
 * most tasks (processes and threads, the job's init included) and the
 * most memory its processes may use together; 0 means "no limit asked".
 * They are enforced by a cgroup of the job's own (common/cgroup.c).
 * Limits only ever narrow: a second policy file or a flag can lower a
 * limit, never raise or remove one (limits_narrow()).
 *
 * Sizes and counts in the one grammar of policy/numbers.c (shared with
 * `rates:`): "512M" and "512MiB" are 512 MiB (as systemd's MemoryMax=
 * and docker --memory read them), "500MB" is 500 * 10^6 bytes.  Anything
 * else, a size below LIMIT_MEMORY_MIN or an overflow is an error: a limit
 * that cannot be read is never silently "no limit".
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/**
 * limits_parse_pids() - the most tasks of a job
 * @s:		a decimal count, 1 to LIMIT_PIDS_MAX
 * @ret:	the count
 *
 * Return: 0, -EINVAL if not a decimal count, -ERANGE if 0 or too large
 */
int limits_parse_pids(const char *s, uint64_t *ret)
{
	return policy_count_parse(s, LIMIT_PIDS_MAX, ret);
}

/**
 * limits_parse_memory() - the most memory of a job
 * @s:		"33554432", "32M", "512MiB", "2G", ...
 * @ret:	bytes
 *
 * Return: 0, -EINVAL for a malformed number or unit, -ERANGE below
 * LIMIT_MEMORY_MIN or above LIMIT_MEMORY_MAX
 */
int limits_parse_memory(const char *s, uint64_t *ret)
{
	uint64_t v;
	int err = policy_size_parse(s, LIMIT_MEMORY_MAX, &v);

	if (err < 0)
		return err;
	if (v < LIMIT_MEMORY_MIN)
		return -ERANGE;
	*ret = v;
	return 0;
}

static uint64_t narrower(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/**
 * limits_narrow() - apply more limits on top of others: the smaller of
 * each pair wins, a limit is never removed
 * @to:		limits so far; updated
 * @from:	limits to add (0: none asked)
 */
void limits_narrow(struct nbj_limits *to, const struct nbj_limits *from)
{
	to->pids = narrower(to->pids, from->pids);
	to->memory = narrower(to->memory, from->memory);
}
