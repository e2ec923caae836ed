/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/inbound.c - the admission limits of inbound HTTP requests
 *
 * Theory of operation: a port published with `mode: http` and `nbjail
 * serve` admit each request in the relay (relay/admit.c) under one set of
 * limits, struct inbound_limits.  This file gives their defaults and the
 * grammar of the two values that are not plain counts or sizes (those go
 * through policy/numbers.c like every other number):
 *
 *   rate      "N/s" or "N": requests per second, 1 to 1000000
 *   seconds   "S" or "Ss": 1 to 86400
 *
 * policy/load.c (publish entries) and supervisor/serve.c (flags) are the
 * callers; both report errors in their own terms.  No I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

#define INBOUND_RATE_MAX 1000000
#define INBOUND_SECONDS_MAX 86400

/**
 * inbound_limits_default() - the limits a request gets where nothing is
 * configured
 * @l:		limits to fill
 */
void inbound_limits_default(struct inbound_limits *l)
{
	*l = (struct inbound_limits){
		.per_client_per_s = INBOUND_PER_CLIENT_DEFAULT,
		.per_client_burst = INBOUND_BURST_DEFAULT,
		.concurrent = INBOUND_CONCURRENT_DEFAULT,
		.max_body = INBOUND_MAX_BODY_DEFAULT,
		.max_header = INBOUND_MAX_HEADER_DEFAULT,
		.header_timeout_s = INBOUND_HEADER_TIMEOUT_DEFAULT,
		.max_duration_s = INBOUND_MAX_DURATION_DEFAULT,
	};
}

/* @s without the suffix @suffix (if it ends so) into @buf */
static const char *strip_suffix(const char *s, const char *suffix, char *buf, size_t len)
{
	size_t n = s ? strlen(s) : 0, k = strlen(suffix);

	if (!s || n <= k || strcmp(s + n - k, suffix) || n - k >= len)
		return s;
	memcpy(buf, s, n - k);
	buf[n - k] = '\0';
	return buf;
}

/**
 * inbound_rate_parse() - a request rate, "N/s" or "N"
 * @s:		text
 * @ret:	requests per second
 *
 * Return: 0, -EINVAL if malformed, -ERANGE if 0 or above 1000000
 */
int inbound_rate_parse(const char *s, uint64_t *ret)
{
	char buf[32];

	return policy_count_parse(strip_suffix(s, "/s", buf, sizeof(buf)), INBOUND_RATE_MAX,
				  ret);
}

/**
 * inbound_seconds_parse() - a duration in whole seconds, "S" or "Ss"
 * @s:		text
 * @ret:	seconds
 *
 * Return: 0, -EINVAL if malformed, -ERANGE if 0 or above a day
 */
int inbound_seconds_parse(const char *s, uint32_t *ret)
{
	char buf[32];
	uint64_t v;
	int err = policy_count_parse(strip_suffix(s, "s", buf, sizeof(buf)),
				     INBOUND_SECONDS_MAX, &v);

	if (!err)
		*ret = (uint32_t)v;
	return err;
}
