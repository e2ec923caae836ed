/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/rates.c - the numbers of `rates:` (counts and byte sizes)
 *
 * Counts and byte sizes in the grammar of policy/numbers.c (shared with
 * `limits:`): "10MB" is 10^7 bytes, "512KiB" and "512K" 2^19.  Anything
 * else, zero, or an overflow is an error: a limit that cannot be read is
 * never silently "no limit".
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/**
 * rate_parse_count() - a positive decimal count (policy/numbers.c)
 * @s:		text
 * @max:	largest value accepted
 * @ret:	the value
 *
 * Return: 0, -EINVAL if not a count, -ERANGE if 0 or above @max
 */
int rate_parse_count(const char *s, uint64_t max, uint64_t *ret)
{
	return policy_count_parse(s, max, ret);
}

/**
 * rate_parse_bytes() - a byte count with an optional unit (policy/numbers.c)
 * @s:		"1048576", "10MB", "512KiB", ...
 * @ret:	bytes
 *
 * Return: 0, -EINVAL for a malformed value or unit, -ERANGE for 0 or
 * more than 2^62 bytes
 */
int rate_parse_bytes(const char *s, uint64_t *ret)
{
	return policy_size_parse(s, 1ULL << 62, ret);
}
