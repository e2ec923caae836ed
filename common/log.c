/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/log.c - diagnostics on stderr, see log.h
 *
 * One line per call, written with a single write(2) so that lines from
 * the supervisor, the reaper and the relay never interleave mid-line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static struct {
	char prefix[64];
	int debug; /* -1: not read yet */
} log_state = { "nbjail", -1 };

/**
 * log_set_prefix() - set the program name printed before each message
 * @prefix:	e.g. "nbjail" or "nbjail-relay[1a2b3c4d]"
 */
void log_set_prefix(const char *prefix)
{
	snprintf(log_state.prefix, sizeof(log_state.prefix), "%s", prefix);
}

/**
 * log_msg() - print one diagnostic line on stderr
 * @level:	severity; LOG_LEVEL_DEBUG only with NBJAIL_DEBUG set
 * @fmt:	printf format
 */
void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int saved = errno;
	va_list ap;
	int n;

	if (log_state.debug < 0)
		log_state.debug = getenv("NBJAIL_DEBUG") != NULL;
	if (level == LOG_LEVEL_DEBUG && !log_state.debug)
		return;

	n = snprintf(line, sizeof(line), "%s: ", log_state.prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
	errno = saved;
}
