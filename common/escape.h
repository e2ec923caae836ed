/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/escape.h - text that a job chose, made safe to print
 * (common/escape.c)
 */
#ifndef NBJ_COMMON_ESCAPE_H
#define NBJ_COMMON_ESCAPE_H

#include <stddef.h>

/* Also escape the space (for space-separated key=value fields) */
#define ESC_SPACE 0x1u
/* Also escape '"' (inside a double-quoted string: YAML, C) */
#define ESC_QUOTE 0x2u

/* Room for any @len input bytes, escaped, with the NUL */
#define ESC_BUFSIZE(len) (4 * (len) + 1)

size_t text_escape(char *buf, size_t size, const char *s, size_t len, unsigned flags);
const char *text_esc(char *buf, size_t size, const char *s);
size_t text_json_escape(char *buf, size_t size, const char *s);

#endif /* NBJ_COMMON_ESCAPE_H */
