/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/json.c - JSON string literals, escaped per RFC 8259
 *
 * Theory of operation: json_escape() writes the body of a JSON string
 * (without the quotes) into a caller's buffer: '"' and '\\' get a
 * backslash, the control bytes U+0000..U+001F and DEL become \u00XX (\n,
 * \t and friends by their short names), valid UTF-8 passes unchanged, and
 * every byte that is not part of a valid UTF-8 sequence (stray
 * continuation bytes, overlong forms, surrogates, code points above
 * U+10FFFF, a sequence cut short) becomes \ufffd, so the output is always
 * valid JSON whatever bytes the input holds (strerror() of a foreign
 * locale, a path from the environment).  An escape is never cut in half:
 * when the buffer is full the output stops before the escape that does
 * not fit.  json_fput_string() wraps it for a FILE, quotes included.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/json.h"

/* Length of the valid UTF-8 sequence at @s (1-4), or 0 if it is not one. */
static size_t utf8_valid_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * The JSON form of the character at @p: points *@out at it and sets
 * *@n to its length; @esc (8 bytes) holds it when it is an escape.
 * Return: the input bytes it stands for (1-4).
 */
static size_t escape_one(const unsigned char *p, char *esc, const char **out,
			 size_t *n)
{
	size_t in;

	*out = esc;
	switch (*p) {
	case '"':  *out = "\\\""; *n = 2; return 1;
	case '\\': *out = "\\\\"; *n = 2; return 1;
	case '\n': *out = "\\n"; *n = 2; return 1;
	case '\r': *out = "\\r"; *n = 2; return 1;
	case '\t': *out = "\\t"; *n = 2; return 1;
	case '\b': *out = "\\b"; *n = 2; return 1;
	case '\f': *out = "\\f"; *n = 2; return 1;
	default:
		break;
	}
	if (*p < 0x20 || *p == 0x7f) {
		*n = (size_t)snprintf(esc, 8, "\\u%04x", *p);
		return 1;
	}
	in = utf8_valid_len(p);
	if (!in) {
		*out = "\\ufffd";
		*n = 6;
		return 1;
	}
	*out = (const char *)p;
	*n = in;
	return in;
}

/**
 * json_escape() - the body of a JSON string literal for @s
 * @buf:	output, always NUL-terminated when @len > 0
 * @len:	its size
 * @s:		input bytes, NUL-terminated, any encoding
 *
 * Return: the length written (less than @len); the output is cut before
 * the first character whose escape does not fit
 */
size_t json_escape(char *buf, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (!len)
		return 0;
	while (*p) {
		char esc[8];
		const char *out;
		size_t n, in = escape_one(p, esc, &out, &n);

		if (o + n >= len)
			break;
		memcpy(buf + o, out, n);
		o += n;
		p += in;
	}
	buf[o] = '\0';
	return o;
}

/**
 * json_fput_string() - write @s to @f as a quoted JSON string
 * @f:		stream
 * @s:		input bytes, NUL-terminated, any encoding
 *
 * Return: 0, or -EIO if the stream reported an error
 */
int json_fput_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	(void)fputc('"', f);
	while (*p) {
		char esc[8];
		const char *out;
		size_t n, in = escape_one(p, esc, &out, &n);

		(void)fwrite(out, 1, n, f);
		p += in;
	}
	(void)fputc('"', f);
	return ferror(f) ? -EIO : 0;
}
