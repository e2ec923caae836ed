/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/log.h - diagnostics on stderr
 *
 * Library code reports errors once, at the place that knows the cause, as
 * "nbjail: <message>" on stderr; debug lines appear only when the
 * environment variable NBJAIL_DEBUG is set.  The structured audit trail
 * (journald, JSON lines) is a different channel and lives in relay/.
 */
#ifndef NBJ_COMMON_LOG_H
#define NBJ_COMMON_LOG_H

#include <stdbool.h>

#include "common/util.h"

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void log_set_prefix(const char *prefix);
bool log_info_allowed(void);
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
void log_phase(const char *what);

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* NBJ_COMMON_LOG_H */
