/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/numbers.c - counts and byte sizes, as every section writes them
 *
 * Theory of operation: one grammar for every number of a policy and of
 * the command line, so that "512M" means the same under `rates:` and
 * `limits:`.  A count is a plain decimal integer.  A size is a decimal
 * integer with an optional unit, case as written:
 *
 *   none or B          bytes
 *   K M G T            powers of 1024 (as systemd's MemoryMax= reads them)
 *   KiB MiB GiB TiB    powers of 1024
 *   KB MB GB TB        powers of 1000
 *
 * No sign, no space, no fraction, no hexadecimal; zero and values above
 * the caller's maximum are -ERANGE: a limit that cannot be read is never
 * silently "no limit".
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/* A decimal integer at the start of @s; *@end past it */
static int leading_decimal(const char *s, unsigned long long *v, char **end)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno ? -ERANGE : 0;
}

/**
 * policy_count_parse() - a positive decimal count
 * @s:		text
 * @max:	largest value accepted
 * @ret:	the value
 *
 * Return: 0, -EINVAL if not a count, -ERANGE if 0 or above @max
 */
int policy_count_parse(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;
	int err = leading_decimal(s, &v, &end);

	if (err == -EINVAL || (!err && *end))
		return -EINVAL;
	if (err || v == 0 || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/**
 * policy_size_parse() - a positive byte size with an optional unit
 * @s:		"1048576", "10MB", "512KiB", "32M", ...
 * @max:	largest value accepted, in bytes
 * @ret:	bytes
 *
 * Return: 0, -EINVAL for a malformed value or unit, -ERANGE for 0 or
 * more than @max
 */
int policy_size_parse(const char *s, uint64_t max, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1ULL << 10 }, { "M", 1ULL << 20 }, { "G", 1ULL << 30 }, { "T", 1ULL << 40 },
		{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
		{ "TiB", 1ULL << 40 },
		{ "KB", 1000ULL }, { "MB", 1000000ULL }, { "GB", 1000000000ULL },
		{ "TB", 1000000000000ULL },
	};
	unsigned long long v;
	char *end;
	int err = leading_decimal(s, &v, &end);

	if (err == -EINVAL)
		return err;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (err || v == 0 || v > max / units[i].mult)
			return -ERANGE;
		*ret = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}
