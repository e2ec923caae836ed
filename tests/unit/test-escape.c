/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-escape.c - text a job chose, made safe to print
 * (common/escape.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/escape.h"

static const struct {
	const char *in;
	size_t len;
	unsigned flags;
	const char *out;
} rows[] = {
	{ "curl", 4, 0, "curl" },
	/* the forged "allowed" line of issue 16: ESC [ 2K, CR, a newline */
	{ "x\x1b[2K\rallowed\n", 14, 0, "x\\x1b[2K\\x0dallowed\\x0a" },
	{ "a\x7f" "b", 3, 0, "a\\x7fb" },
	{ "nul\0in", 6, 0, "nul\\x00in" },
	{ "a b", 3, 0, "a b" },
	{ "a b", 3, ESC_SPACE, "a\\x20b" },
	{ "say \"hi\"", 8, ESC_QUOTE, "say \\x22hi\\x22" },
	/* valid UTF-8 stays, broken UTF-8 does not */
	{ "caf\xc3\xa9", 5, 0, "caf\xc3\xa9" },
	{ "\xe2\x82\xac", 3, 0, "\xe2\x82\xac" },
	{ "\xf0\x9f\x98\x80", 4, 0, "\xf0\x9f\x98\x80" },
	{ "\xc3", 1, 0, "\\xc3" },
	{ "\xc0\xaf", 2, 0, "\\xc0\\xaf" },		/* overlong '/' */
	{ "\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80" },	/* surrogate */
	{ "\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80" }, /* > U+10FFFF */
	{ "\xc2\x9b" "31m", 5, 0, "\\xc2\\x9b31m" },	/* C1 CSI */
	{ "\xff", 1, 0, "\\xff" },
	/* idempotent: the backslash stays */
	{ "a\\x1bb", 6, 0, "a\\x1bb" },
};

static void test_table(void **state)
{
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = text_escape(buf, sizeof(buf), rows[i].in, rows[i].len, rows[i].flags);

		if (strcmp(buf, rows[i].out))
			fail_msg("row %zu: got '%s', want '%s'", i, buf, rows[i].out);
		assert_int_equal(n, strlen(rows[i].out));
	}
}

/* No output byte is a control byte or DEL, for every input byte */
static void test_no_control_byte_survives(void **state)
{
	char in[256], out[ESC_BUFSIZE(256)], again[ESC_BUFSIZE(ESC_BUFSIZE(256))];

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	text_escape(out, sizeof(out), in, sizeof(in), 0);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f);
	text_escape(again, sizeof(again), out, strlen(out), 0);
	assert_string_equal(again, out);
}

/* A short buffer ends at a whole escape */
static void test_truncation(void **state)
{
	char buf[6];

	(void)state;
	text_escape(buf, sizeof(buf), "ab\x1b" "cd", 5, 0);
	assert_string_equal(buf, "ab");
	text_escape(buf, sizeof(buf), "\xe2\x82\xac\xe2\x82\xac", 6, 0);
	assert_string_equal(buf, "\xe2\x82\xac");
}

static void test_json(void **state)
{
	char buf[128];

	(void)state;
	text_json_escape(buf, sizeof(buf), "a\"b\\c\x1b[2K\n\xff\xc3\xa9");
	assert_string_equal(buf, "a\\\"b\\\\c\\u001b[2K\\u000a\\\\xff\xc3\xa9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_no_control_byte_survives),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
