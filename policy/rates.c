/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/rates.c - the numbers of `rates:` (counts and byte sizes)
 *
 * Counts are plain decimal integers.  Byte rates take a unit: none (bytes),
 * KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), as in
 * "10MB" or "512KiB".  Anything else, zero, or an overflow is an error:
 * a limit that cannot be read is never silently "no limit".
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/**
 * rate_parse_count() - a positive decimal count
 * @s:		text
 * @max:	largest value accepted
 * @ret:	the value
 *
 * Return: 0, -EINVAL if not a count, -ERANGE if 0 or above @max
 */
int rate_parse_count(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || v == 0 || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/**
 * rate_parse_bytes() - a byte count with an optional unit
 * @s:		"1048576", "10MB", "512KiB", ...
 * @ret:	bytes
 *
 * Return: 0, -EINVAL for a malformed value or unit, -ERANGE for 0 or
 * more than 2^62 bytes
 */
int rate_parse_bytes(const char *s, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "B", 1 },
		{ "KB", 1000ULL }, { "MB", 1000000ULL }, { "GB", 1000000000ULL },
		{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
	};
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v == 0 || v > (1ULL << 62) / units[i].mult)
			return -ERANGE;
		*ret = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}
