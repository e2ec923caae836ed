/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/log.c - diagnostics on stderr, see log.h
 *
 * One line per call, written with a single write(2) so that lines from
 * the supervisor, the reaper and the relay never interleave mid-line.
 *
 * Informational lines (each denial is one) are limited to LOG_INFO_PER_S
 * per second and process: a job that floods denials must not flood the
 * terminal, nor stall on a stderr nobody reads.  What is held back is
 * counted and said in one line; the audit trail (journald, --audit-log)
 * has every event.
 *
 * Lines carry names a job chose (DNS names, targets, executables): the
 * whole formatted line goes through text_escape() (common/escape.c), so
 * no control byte or broken UTF-8 reaches the terminal, whatever the
 * caller forgot to escape; a newline inside a message shows as \x0a.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/escape.h"
#include "common/log.h"

#define LOG_INFO_PER_S 50

static struct {
	char prefix[64];
	int debug; /* -1: not read yet */
	time_t window;
	unsigned in_window;
	unsigned long long held;
} log_state = { "nbjail", -1, 0, 0, 0 };

/**
 * log_info_allowed() - whether one more informational line may be
 * printed now; says once per second how many were held back
 *
 * Return: true to print it
 */
bool log_info_allowed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != log_state.window) {
		if (log_state.held) {
			char line[160];
			int n = snprintf(line, sizeof(line),
					 "%s: %llu more lines not shown (every event is "
					 "in the audit trail)\n", log_state.prefix,
					 log_state.held);

			if (n > 0)
				(void)!write(STDERR_FILENO, line, (size_t)n);
		}
		log_state.window = ts.tv_sec;
		log_state.in_window = 0;
		log_state.held = 0;
	}
	if (log_state.in_window >= LOG_INFO_PER_S) {
		log_state.held++;
		return false;
	}
	log_state.in_window++;
	return true;
}

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
	char msg[1024], line[1024];
	int saved = errno;
	va_list ap;
	int n;

	if (log_state.debug < 0)
		log_state.debug = getenv("NBJAIL_DEBUG") != NULL;
	if (level == LOG_LEVEL_DEBUG && !log_state.debug)
		return;
	if (level == LOG_LEVEL_INFO && !log_info_allowed())
		return;

	n = snprintf(msg, sizeof(msg), "%s: ", log_state.prefix);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)text_escape(line, sizeof(line) - 1, msg, strlen(msg), 0);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
	errno = saved;
}

/**
 * log_phase() - with NBJAIL_TRACE_STARTUP set, print the time since the
 * first call (main()) at the end of each step (start-up profiling)
 * @what:	the step just finished
 */
void log_phase(const char *what)
{
	static int enabled = -1;
	static long long start_ns;
	struct timespec ts;
	long long now;

	if (enabled == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (enabled < 0) {
		enabled = getenv("NBJAIL_TRACE_STARTUP") != NULL;
		start_ns = now;
		if (!enabled)
			return;
	}
	fprintf(stderr, "%s: startup: %-24s %7.2f ms\n", log_state.prefix, what,
		(double)(now - start_ns) / 1e6);
}
