/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-fspath.c - fs_rule_parse(): `filesystem:` and --write paths */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const struct {
	const char *in;
	int err;
	bool home;
	const char *path;
} rows[] = {
	{ "/srv/cache", 0, false, "/srv/cache" },
	{ "//srv///cache//", 0, false, "/srv/cache" },
	{ "~", 0, true, "" },
	{ "~/", 0, true, "" },
	{ "~/.ssh", 0, true, "/.ssh" },
	{ "~//.aws/", 0, true, "/.aws" },
	{ "/a/.hidden/..x", 0, false, "/a/.hidden/..x" },
	{ "/", -EINVAL, false, NULL },
	{ "///", -EINVAL, false, NULL },
	{ "", -EINVAL, false, NULL },
	{ "relative", -EINVAL, false, NULL },
	{ "./x", -EINVAL, false, NULL },
	{ "~user/x", -EINVAL, false, NULL },
	{ "~x", -EINVAL, false, NULL },
	{ "/a/../b", -EINVAL, false, NULL },
	{ "/a/./b", -EINVAL, false, NULL },
	{ "/a/..", -EINVAL, false, NULL },
	{ "~/..", -EINVAL, false, NULL },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fs_rule r;
		int err = fs_rule_parse(rows[i].in, FS_RULE_HIDE, &r);

		if (err != rows[i].err)
			fail_msg("row %zu '%s': got %d, want %d", i, rows[i].in, err, rows[i].err);
		if (err)
			continue;
		assert_int_equal(r.kind, FS_RULE_HIDE);
		assert_int_equal(r.home, rows[i].home);
		assert_string_equal(r.path, rows[i].path);
		assert_string_equal(r.where, "");
	}
}

static void test_too_long(void **state)
{
	char buf[FS_PATH_MAX + 8];
	struct fs_rule r;

	(void)state;
	assert_int_equal(fs_rule_parse(NULL, FS_RULE_WRITE, &r), -EINVAL);
	memset(buf, 'a', sizeof(buf) - 1);
	buf[0] = '/';
	buf[FS_PATH_MAX - 1] = '\0';	/* FS_PATH_MAX - 1 bytes: fits */
	assert_int_equal(fs_rule_parse(buf, FS_RULE_WRITE, &r), 0);
	buf[FS_PATH_MAX - 1] = 'a';
	buf[FS_PATH_MAX] = '\0';
	assert_int_equal(fs_rule_parse(buf, FS_RULE_WRITE, &r), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
