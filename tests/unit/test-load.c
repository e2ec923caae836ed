/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-load.c - policy_load(): YAML in, rules or a located error out */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/load.h"

static char *write_temp(const char *text, size_t len)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/nbj-test-load-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static const struct {
	const char *yaml;
	int err;
	const char *where;	/* ":LINE:COL: FIELD:" expected after the path */
	size_t n_allow, n_exc;
	const char *profile;
} rows[] = {
	{ "", 0, NULL, 0, 0, "" },
	{ "# only a comment\n", 0, NULL, 0, 0, "" },
	{ "profile: minimal\n", 0, NULL, 0, 0, "minimal" },
	{ "allow: [198.51.100.10, '198.51.100.0/24', \"[2001:db8::1]:443\"]\n", 0, NULL, 3, 0, "" },
	{ "allow:\n- 1.2.3.4:80\nfloor_exceptions:\n- 10.0.0.0/8\n- fd00::1\n", 0, NULL, 1, 2, "" },
	{ "allow: []\nfloor_exceptions: []\nprofile: net\n", 0, NULL, 0, 0, "net" },
	{ "allow:\n  - example.com\n  - '*.pypi.org:443'\n", 0, NULL, 2, 0, "" },
	{ "allow:\n  - '*example.com'\n", -EINVAL, ":2:5: allow[0]:", 0, 0, NULL },
	{ "floor_exceptions:\n  - registry.internal\n", -EINVAL, ":2:5: floor_exceptions[0]:", 0, 0, NULL },
	{ "allow:\n  - 1.2.3.4\n  - 1.2.3.4:0\n", -EINVAL, ":3:5: allow[1]:", 0, 0, NULL },
	{ "allow: {a: b}\n", -EINVAL, ":1:8: allow:", 0, 0, NULL },
	{ "allow:\n  - {a: b}\n", -EINVAL, ":2:5: allow[0]:", 0, 0, NULL },
	{ "tenant: build-42\nallow: []\n", 0, NULL, 0, 0, "" },
	{ "tenant: 'a b'\n", -EINVAL, ":1:9: tenant:", 0, 0, NULL },
	{ "tenant: [x]\n", -EINVAL, ":1:9: tenant:", 0, 0, NULL },
	{ "publish: 1\n", -EINVAL, ":1:10: publish: expected a list", 0, 0, NULL },
	{ "publishing: 1\n", -EINVAL, ":1:1: publishing: unknown key", 0, 0, NULL },
	{ "tls_roots: ca.pem\n", -EINVAL, ":1:12: tls_roots: expected an absolute", 0, 0, NULL },
	{ "tls_roots: [/ca.pem]\n", -EINVAL, ":1:12: tls_roots:", 0, 0, NULL },
	{ "tls_roots: /etc/ssl/test-ca.pem\n", 0, NULL, 0, 0, "" },
	{ "permissions: {network.select: yes}\n", -EINVAL,
	  ":1:31: permissions.network.select: allow or deny", 0, 0, NULL },
	{ "publish: [{port: 80, overlay: nope}]\n", -EINVAL,
	  "publish[0].overlay: 'nope': no such overlay", 0, 0, NULL },
	{ "routes: 1\n", -EINVAL, ":1:9: routes:", 0, 0, NULL },
	{ "rates: 1\n", -EINVAL, ":1:8: rates:", 0, 0, NULL },
	{ "rates: {connects_per_s: 4501}\n", -ERANGE, ":1:25: rates.connects_per_s:", 0, 0, NULL },
	{ "rates: {tenant: {connects_per_s: 100000}, bytes_per_s: 1MiB}\n", 0, NULL, 0, 0, "" },
	{ "unix_allow: [/run/x.sock]\n", 0, NULL, 0, 0, "" },
	{ "unix_allow: [x.sock]\n", -EINVAL, ":1:14: unix_allow[0]:", 0, 0, NULL },
	{ "profile: x\nprofile: y\n", -EINVAL, ":2:1: profile:", 0, 0, NULL },
	{ "profile: {a: 1}\n", -EINVAL, ":1:10: profile:", 0, 0, NULL },
	{ "profile: averyveryverylongprofilename\n", -EINVAL, ":1:10: profile:", 0, 0, NULL },
	{ "[1, 2]\n", -EINVAL, ":1:1: policy:", 0, 0, NULL },
	{ "just a string\n", -EINVAL, ":1:1: policy:", 0, 0, NULL },
	{ "? [a]\n: b\n", -EINVAL, ":1:3: policy:", 0, 0, NULL },
	{ "allow: [\n", -EINVAL, ":2:1: policy: YAML error", 0, 0, NULL },
	{ "allow: *nothing\n", -EINVAL, "policy: YAML error", 0, 0, NULL },
	{ "floor_exceptions: ['10.0.0.1/8']\n", -EINVAL, ":1:20: floor_exceptions[0]:", 0, 0, NULL },
	/* env: (issue 16): error paths free what they built (ASan) */
	{ "env: {clear: true, keep: [A, B_*, '*'], set: {X: '1', Y: ''}}\n", 0, NULL, 0, 0, "" },
	{ "env: {clear: true, keep: [A, 'B C']}\n", -EINVAL, ":1:30: env.keep[1]:", 0, 0, NULL },
	{ "env: {clear: true, keep: ['*A']}\n", -EINVAL, ":1:27: env.keep[0]:", 0, 0, NULL },
	{ "env: {clear: true, keep: ['']}\n", -EINVAL, ":1:27: env.keep[0]:", 0, 0, NULL },
	{ "env: {set: {X: a, X: b}}\n", -EINVAL, ":1:19: env.set.X: given twice", 0, 0, NULL },
	{ "env: {set: {X: a, 9: b}}\n", -EINVAL, ":1:19: env.set:", 0, 0, NULL },
	{ "env: {clear: true, clear: false}\n", -EINVAL, ":1:20: env.clear: given twice", 0, 0,
	  NULL },
	{ "env: {keep: [A]}\n", -EINVAL, ":1:6: env.keep: keep needs clear", 0, 0, NULL },
	{ "env: {set: [A]}\n", -EINVAL, ":1:12: env.set:", 0, 0, NULL },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *path = write_temp(rows[i].yaml, strlen(rows[i].yaml));
		char err[512] = "", want[128];
		struct policy_doc d;
		int r = policy_load(path, &d, err, sizeof(err));

		if (r != rows[i].err)
			fail_msg("row %zu: got %d (%s), want %d", i, r, err, rows[i].err);
		if (r == 0 && strstr(rows[i].yaml, "env:")) {
			assert_true(d.env.clear);
			assert_int_equal(d.env.n_keep, 3);
			assert_int_equal(d.env.n_set, 2);
			assert_string_equal(d.env.set[0], "X=1");
			assert_string_equal(d.env.set[1], "Y=");
		}
		if (r == 0 && strstr(rows[i].yaml, "tls_roots:"))
			assert_string_equal(d.tls_roots, "/etc/ssl/test-ca.pem");
		else if (r == 0)
			assert_string_equal(d.tls_roots, "");
		if (r == 0) {
			assert_int_equal(d.n_allow, rows[i].n_allow);
			assert_int_equal(d.n_floor_exceptions, rows[i].n_exc);
			assert_string_equal(d.profile, rows[i].profile);
			policy_doc_free(&d);
		} else {
			snprintf(want, sizeof(want), "%s%s", path, rows[i].where);
			if (rows[i].where[0] == ':' ? strncmp(err, want, strlen(want))
						    : !strstr(err, rows[i].where))
				fail_msg("row %zu: error '%s' lacks '%s'", i, err, want);
		}
		unlink(path);
	}
}

static void test_nul_byte_in_scalar(void **state)
{
	static const char yaml[] = "allow: [\"1.2.3.4\\0evil\"]\n";
	char *path = write_temp(yaml, sizeof(yaml) - 1);
	char err[512];
	struct policy_doc d;

	(void)state;
	assert_int_equal(policy_load(path, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "allow[0]: expected a string"));
	unlink(path);
}

static void test_missing_and_too_big(void **state)
{
	char err[512];
	struct policy_doc d;
	char *big, *path;

	(void)state;
	assert_int_equal(policy_load("/nonexistent/policy.yaml", &d, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/policy.yaml: "));
	assert_int_equal(policy_load("/tmp", &d, err, sizeof(err)), -EINVAL);

	big = malloc(POLICY_MAX_FILE_SIZE + 2);
	assert_non_null(big);
	memset(big, '#', POLICY_MAX_FILE_SIZE + 1);
	path = write_temp(big, POLICY_MAX_FILE_SIZE + 1);
	assert_int_equal(policy_load(path, &d, err, sizeof(err)), -EFBIG);
	unlink(path);
	free(big);
}

/* filesystem: each entry parsed, located for errors found at start */
static void test_filesystem(void **state)
{
	static const struct {
		const char *yaml, *where;
	} bad[] = {
		{ "filesystem: []\n", ":1:13: filesystem: expected a mapping" },
		{ "filesystem: {write: x}\n", ":1:21: filesystem.write: expected a list" },
		{ "filesystem: {write: [a/b]}\n", ":1:22: filesystem.write[0]: 'a/b'" },
		{ "filesystem: {hide: ['~/a/./b']}\n", ":1:21: filesystem.hide[0]:" },
		{ "filesystem: {hide: ['~user/x']}\n", ":1:21: filesystem.hide[0]:" },
		{ "filesystem: {write: ['/']}\n", ":1:22: filesystem.write[0]:" },
		{ "filesystem: {write: [[/x]]}\n", ":1:22: filesystem.write[0]: expected a path" },
		{ "filesystem: {mount: [/x]}\n", ":1:14: filesystem: unknown field" },
		{ "filesystem: {hide: [/a], hide: [/b]}\n", ":1:26: filesystem.hide: given twice" },
	};
	static const char good[] =
		"filesystem:\n  write: ['/srv//cache/', '~']\n  hide: ['~/.ssh', /etc/x]\n";
	char err[512], want[160], *path;
	struct policy_doc d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = write_temp(bad[i].yaml, strlen(bad[i].yaml));
		if (policy_load(path, &d, err, sizeof(err)) != -EINVAL)
			fail_msg("bad[%zu] accepted", i);
		snprintf(want, sizeof(want), "%s%s", path, bad[i].where);
		if (strncmp(err, want, strlen(want)))
			fail_msg("bad[%zu]: error '%s' lacks '%s'", i, err, want);
		unlink(path);
	}
	path = write_temp(good, strlen(good));
	assert_int_equal(policy_load(path, &d, err, sizeof(err)), 0);
	assert_int_equal(d.n_fs_rules, 4);
	assert_int_equal(d.fs_rules[0].kind, FS_RULE_WRITE);
	assert_string_equal(d.fs_rules[0].path, "/srv/cache");
	assert_false(d.fs_rules[0].home);
	assert_true(d.fs_rules[1].home);
	assert_string_equal(d.fs_rules[1].path, "");
	assert_int_equal(d.fs_rules[2].kind, FS_RULE_HIDE);
	assert_true(d.fs_rules[2].home);
	assert_string_equal(d.fs_rules[2].path, "/.ssh");
	snprintf(want, sizeof(want), "%s:3:20: filesystem.hide[1]", path);
	assert_string_equal(d.fs_rules[3].where, want);
	policy_doc_free(&d);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_nul_byte_in_scalar),
		cmocka_unit_test(test_missing_and_too_big),
		cmocka_unit_test(test_filesystem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
