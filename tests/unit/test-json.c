/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-json.c - JSON string literals (common/json.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

static void expect(const char *in, const char *out)
{
	char buf[256];

	assert_int_equal(json_escape(buf, sizeof(buf), in), strlen(out));
	assert_string_equal(buf, out);
}

static void test_plain_and_specials(void **state)
{
	(void)state;
	expect("", "");
	expect("userns ok", "userns ok");
	expect("say \"hi\"", "say \\\"hi\\\"");
	expect("C:\\path", "C:\\\\path");
	expect("a\nb\tc\rd\be\ff", "a\\nb\\tc\\rd\\be\\ff");
	expect("\x01\x1f\x7f", "\\u0001\\u001f\\u007f");
	expect("/", "/");
}

static void test_utf8(void **state)
{
	(void)state;
	/* valid sequences of 2, 3 and 4 bytes pass unchanged */
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* a stray continuation byte, a lone lead byte, Latin-1 */
	expect("\x80", "\\ufffd");
	expect("a\xc3", "a\\ufffd");
	expect("\xe9t\xe9", "\\ufffdt\\ufffd");
	/* overlong '/', a UTF-16 surrogate, above U+10FFFF, 0xff */
	expect("\xc0\xaf", "\\ufffd\\ufffd");
	expect("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");
	expect("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
	expect("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
	expect("\xff", "\\ufffd");
	/* a sequence cut by the end of the string */
	expect("\xe2\x82", "\\ufffd\\ufffd");
}

static void test_never_cuts_an_escape(void **state)
{
	char buf[8];

	(void)state;
	/* "ab" fits, the 6-byte escape of \x01 does not: stop before it */
	assert_int_equal(json_escape(buf, sizeof(buf), "ab\x01z"), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(json_escape(buf, 1, "abc"), 0);
	assert_string_equal(buf, "");
	/* a multi-byte character is not split either */
	assert_int_equal(json_escape(buf, 4, "ab\xe2\x82\xac"), 2);
	assert_string_equal(buf, "ab");
}

static void test_fput_string(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(json_fput_string(f, "x\"\n\xff"), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text, "\"x\\\"\\n\\ufffd\"");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_specials),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_never_cuts_an_escape),
		cmocka_unit_test(test_fput_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
