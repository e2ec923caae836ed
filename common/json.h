/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/json.h - JSON string literals for the command line's --json output
 */
#ifndef NBJ_COMMON_JSON_H
#define NBJ_COMMON_JSON_H

#include <stddef.h>
#include <stdio.h>

size_t json_escape(char *buf, size_t len, const char *s);
int json_fput_string(FILE *f, const char *s);

#endif /* NBJ_COMMON_JSON_H */
