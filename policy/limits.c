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
 * A memory size is a decimal count of bytes with an optional binary
 * unit: K, M, G, T or KiB, MiB, GiB, TiB (all powers of 1024, as for
 * systemd's MemoryMax= and docker --memory: "512M" is 512 MiB).  The
 * decimal units of `rates:` (KB, MB) are refused here rather than guessed.
 * Anything else, a size below LIMIT_MEMORY_MIN or an overflow is an
 * error: a limit that cannot be read is never silently "no limit".
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
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || v < 1 || v > LIMIT_PIDS_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
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
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = {
		{ "", 0 },
		{ "K", 10 }, { "M", 20 }, { "G", 30 }, { "T", 40 },
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
	};
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (errno || v > (LIMIT_MEMORY_MAX >> units[i].shift))
			return -ERANGE;
		v <<= units[i].shift;
		if (v < LIMIT_MEMORY_MIN)
			return -ERANGE;
		*ret = v;
		return 0;
	}
	return -EINVAL;
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
