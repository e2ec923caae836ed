/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/escape.c - text that a job chose, made safe to print
 *
 * Theory of operation: an executable name, a path, a host name or a
 * target can be chosen by the job, and a terminal obeys the escape
 * sequences in what it prints (issue 16: a job named itself so that
 * `nbjail ctl recent` showed a forged "allow" line and erased the real
 * denial).  Every text output of nbjail (ctl text modes, explain, the
 * supervisor's deny lines, journald's MESSAGE) passes such strings
 * through text_escape(), one C-style rule for all:
 *
 *   - a control byte (0x00-0x1f) and DEL (0x7f) become \xNN (two
 *     lower-case hex digits): "\x1b" in the output was an ESC
 *   - a byte >= 0x80 stays only as part of a well-formed UTF-8 sequence
 *     (no overlong forms, no surrogates, at most U+10FFFF) that is not a
 *     C1 control (U+0080-U+009F, which some terminals obey like ESC [);
 *     every byte of anything else becomes \xNN
 *   - with ESC_SPACE the space, with ESC_QUOTE the '"', become \xNN too
 *   - the backslash stays: the output of text_escape() is its own
 *     escape (idempotent), so text escaped once where it is read (an
 *     AF_UNIX path in seccomp/notify.c) and again where it is printed
 *     does not grow.  The price: a name that holds the four characters
 *     "\x1b" prints like one that held an ESC; neither can move the
 *     cursor, which is the point
 *
 * The output is always NUL-terminated; when @size is too small it ends
 * at a whole character or escape (never half of one).
 *
 * JSON outputs (ctl --json, the audit JSON lines) use text_json_escape():
 * JSON's own escapes (\" \\ \u00NN) for what JSON requires, and the same
 * \xNN text (as the JSON string "\\xNN") for bytes that are not UTF-8,
 * so the line stays valid JSON for any input.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/escape.h"

static const char hex[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence at @s (at most @len bytes)
 * of a code point from U+00A0 on, or 0 */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
		return 0;
	return n;
}

static bool needs_escape(unsigned char ch, unsigned flags)
{
	return ch < 0x20 || ch == 0x7f ||
	       (ch == ' ' && (flags & ESC_SPACE)) || (ch == '"' && (flags & ESC_QUOTE));
}

/**
 * text_escape() - escape @len bytes of @s into @buf, see the theory above
 * @buf:	output; ESC_BUFSIZE(@len) bytes always suffice
 * @size:	its size, at least 1
 * @s:		input (may contain NUL bytes, which are escaped)
 * @len:	bytes of input
 * @flags:	ESC_SPACE, ESC_QUOTE
 *
 * Return: the length written (without the NUL)
 */
size_t text_escape(char *buf, size_t size, const char *s, size_t len, unsigned flags)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = in[i] >= 0x80 ? utf8_len(in + i, len - i) : 1;

		if (n == 0 || (n == 1 && needs_escape(in[i], flags))) {
			if (o + 4 >= size)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[in[i] >> 4];
			buf[o++] = hex[in[i] & 0xf];
			i++;
			continue;
		}
		if (o + n >= size)
			break;
		memcpy(buf + o, in + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
	return o;
}

/**
 * text_esc() - text_escape() of a NUL-terminated string, for printf
 * @buf:	output
 * @size:	its size
 * @s:		input, or NULL (printed as "")
 *
 * Return: @buf
 */
const char *text_esc(char *buf, size_t size, const char *s)
{
	text_escape(buf, size, s ? s : "", s ? strlen(s) : 0, 0);
	return buf;
}

/**
 * text_json_escape() - the body of a JSON string for @s (no quotes)
 * @buf:	output; 6 * strlen(@s) + 1 bytes always suffice
 * @size:	its size, at least 1
 * @s:		NUL-terminated input
 *
 * Return: the length written (without the NUL); the output ends at a
 * whole character or escape
 */
size_t text_json_escape(char *buf, size_t size, const char *s)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = in[i] >= 0x80 ? utf8_len(in + i, len - i) : 1;
		char esc[8];
		size_t elen = 0;

		if (n == 0) /* not UTF-8 (or a C1 control): the text form */
			elen = (size_t)snprintf(esc, sizeof(esc), "\\\\x%c%c", hex[in[i] >> 4],
						hex[in[i] & 0xf]);
		else if (n == 1 && (in[i] == '"' || in[i] == '\\'))
			elen = (size_t)snprintf(esc, sizeof(esc), "\\%c", in[i]);
		else if (n == 1 && (in[i] < 0x20 || in[i] == 0x7f))
			elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", in[i]);
		if (elen) {
			if (o + elen >= size)
				break;
			memcpy(buf + o, esc, elen);
			o += elen;
			i++;
			continue;
		}
		if (o + n >= size)
			break;
		memcpy(buf + o, in + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
	return o;
}
