/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-creds.c - `credentials:` and `http:` in the policy file,
 * the stand-ins (supervisor/credentials.c), which flows are terminated,
 * the http: rules and the tripwire's search (policy/creds.c)
 */
#include <ctype.h>
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
#include "supervisor/supervisor.h"

static int load(const char *text, struct policy_doc *doc, char *err, size_t errlen)
{
	char path[] = "/tmp/nbj-test-creds-XXXXXX";
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	r = policy_load(path, doc, err, errlen);
	unlink(path);
	return r;
}

static const char good[] =
	"http:\n"
	"  - {host: api.example.com, methods: [GET, HEAD], paths: [\"/repos/acme/*\"]}\n"
	"credentials:\n"
	"  github:\n"
	"    secret: {file: /etc/nbjail/secrets/github}\n"
	"    hosts: [\"api.example.com:443\", \"example.com:443\"]\n"
	"    env: GH_TOKEN\n"
	"    on_leak: revoke\n"
	"    headers: [X-Api-Key, PRIVATE-TOKEN]\n"
	"  other:\n"
	"    secret: {env: OTHER_SECRET}\n"
	"    hosts: [\"other.example.net:443\"]\n"
	"    env: OTHER\n"
	"allow: [api.example.com, \"example.com:443\", \"*.example.net\"]\n";

static void test_load_good(void **state)
{
	struct policy_doc doc;
	char err[512] = "";

	(void)state;
	assert_int_equal(load(good, &doc, err, sizeof(err)), 0);
	assert_int_equal(doc.n_credentials, 2);
	assert_string_equal(doc.credentials[0].name, "github");
	assert_string_equal(doc.credentials[0].env, "GH_TOKEN");
	assert_false(doc.credentials[0].from_env);
	assert_string_equal(doc.credentials[0].from, "/etc/nbjail/secrets/github");
	assert_int_equal(doc.credentials[0].n_hosts, 2);
	assert_true(doc.credentials[0].revoke_on_leak);
	assert_int_equal(doc.credentials[0].n_headers, 2);
	assert_string_equal(doc.credentials[0].headers[1], "PRIVATE-TOKEN");
	assert_true(doc.credentials[1].from_env);
	assert_false(doc.credentials[1].revoke_on_leak);	/* deny: the default */
	assert_int_equal(doc.n_http_rules, 1);
	assert_string_equal(doc.http_rules[0].host, "api.example.com");
	assert_int_equal(doc.http_rules[0].methods, http_method_bit("GET") | http_method_bit("HEAD"));
	assert_int_equal(doc.http_rules[0].n_paths, 1);
	policy_doc_free(&doc);
}

static const struct {
	const char *yaml;
	const char *where;
} bad[] = {
	/* a host the allow-list does not grant */
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {env: S}, env: X,\n"
	  "      hosts: [\"b.example.com:443\"]}\n", ":4:15: credentials.x.hosts: 'b.example.com:443'" },
	/* allowed on another port only */
	{ "allow: [\"a.example.com:80\"]\ncredentials:\n  x: {secret: {env: S}, env: X,\n"
	  "      hosts: [\"a.example.com:443\"]}\n", ":4:15: credentials.x.hosts:" },
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {env: S}, env: X, hosts: [a.example.com]}\n",
	  ":3:41: credentials.x.hosts: 'a.example.com': expected HOST:PORT" },
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {file: rel}, env: X, hosts: [\"a.example.com:443\"]}\n",
	  ":3:22: credentials.x.secret: expected an absolute" },
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {env: S}, hosts: [\"a.example.com:443\"]}\n",
	  ":3:6: credentials.x.env:" },
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {env: S}, env: X, on_leak: maybe,\n"
	  "      hosts: [\"a.example.com:443\"]}\n", ":3:42: credentials.x.on_leak: expected deny or revoke" },
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {env: S}, env: X, colour: red,\n"
	  "      hosts: [\"a.example.com:443\"]}\n", ":3:33: credentials.x: unknown key 'colour'" },
	{ "allow: [a.example.com]\ncredentials:\n  'x y': {secret: {env: S}, env: X, hosts: [\"a.example.com:443\"]}\n",
	  ":3:3: credentials: a credential's name" },
	{ "allow: [a.example.com]\ncredentials:\n  x: {secret: {env: S}, env: X, headers: [Host],\n"
	  "      hosts: [\"a.example.com:443\"]}\n", "credentials.x.headers: 'Host'" },
	{ "allow: [a.example.com]\nhttp:\n  - {host: b.example.com}\n",
	  ":3:5: http[0]: host b.example.com is not allowed" },
	{ "allow: [a.example.com]\nhttp:\n  - {host: a.example.com, methods: [FETCH]}\n",
	  ":3:37: http[0]: methods: 'FETCH'" },
	{ "allow: [a.example.com]\nhttp:\n  - {host: a.example.com, paths: [relative]}\n",
	  ":3:35: http[0]: paths: expected a pattern starting with '/'" },
};

static void test_load_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_doc doc;
		char err[512] = "";

		assert_int_equal(load(bad[i].yaml, &doc, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].where))
			fail_msg("row %zu: '%s' lacks '%s'", i, err, bad[i].where);
	}
}

static void test_standin_shape(void **state)
{
	static const char *const secrets[] = {
		"ghp_16C7e42F292c6912E7710c838347Ae178B4a",
		"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
		"sk-proj-abcdefghijklmnop1234",
		"0123456789abcdef0123456789abcdef",
	};
	char a[CRED_STANDIN_MAX + 1], b[CRED_STANDIN_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		const char *s = secrets[i];
		size_t len = strlen(s);

		assert_int_equal(standin_make(s, len, a, sizeof(a)), 0);
		assert_int_equal(standin_make(s, len, b, sizeof(b)), 0);
		assert_int_equal(strlen(a), len);
		assert_string_not_equal(a, s);
		assert_string_not_equal(a, b);	/* fresh each time */
		if (!strncmp(s, "ghp_", 4))
			assert_memory_equal(a, "ghp_", 4);
		if (!strncmp(s, "github_pat_", 11))
			assert_memory_equal(a, "github_pat_", 11);
		if (!strncmp(s, "sk-proj-", 8))
			assert_memory_equal(a, "sk-proj-", 8);
		if (s[0] == '0') /* hex: digits and lower case only */
			for (size_t j = 0; j < len; j++)
				assert_true((a[j] >= '0' && a[j] <= '9') || (a[j] >= 'a' && a[j] <= 'z'));
		for (size_t j = 0; j < len; j++)	/* separators stay, the rest is alnum */
			if (!isalnum((unsigned char)s[j]))
				assert_int_equal(a[j], s[j]);
			else
				assert_true(isalnum((unsigned char)a[j]));
	}
	assert_int_equal(standin_make("ghp_short", 9, a, sizeof(a)), -EINVAL);
	assert_int_equal(standin_make("ghp_0123456789abcdef\n", 21, a, sizeof(a)), -EINVAL);
	{
		char big[CRED_STANDIN_MAX + 2];

		memset(big, 'a', sizeof(big));
		assert_int_equal(standin_make(big, sizeof(big), a, sizeof(a)), -E2BIG);
	}
}

static void test_terminates_and_rules(void **state)
{
	struct policy_doc doc;
	struct nbj_policy p;
	char err[512];
	static const char path_ok[] = "/repos/acme/widgets?page=2";

	(void)state;
	assert_int_equal(load(good, &doc, err, sizeof(err)), 0);
	p = (struct nbj_policy){ .allow = doc.allow, .n_allow = doc.n_allow,
				 .credentials = doc.credentials, .n_credentials = doc.n_credentials,
				 .http_rules = doc.http_rules, .n_http_rules = doc.n_http_rules };
	assert_true(policy_terminates(&p, "api.example.com", 443));
	assert_true(policy_terminates(&p, "example.com", 443));
	assert_false(policy_terminates(&p, "example.com", 80));
	assert_false(policy_terminates(&p, "www.example.com", 443));
	assert_false(policy_terminates(&p, NULL, 443));
	assert_int_equal(policy_credential_for(&p, "other.example.net", 443), 1);
	assert_int_equal(policy_credential_for(&p, "other.example.net", 8443), -1);

	assert_int_equal(policy_http_check(&p, "api.example.com", "GET", path_ok,
					   strlen(path_ok)), DECIDE_ALLOWED);
	assert_int_equal(policy_http_check(&p, "api.example.com", "POST", path_ok,
					   strlen(path_ok)), DECIDE_HTTP_RULE);
	assert_int_equal(policy_http_check(&p, "api.example.com", "GET", "/repos/other/x", 14),
			 DECIDE_HTTP_RULE);
	/* the query is not the path: no escape through "?/repos/acme/" */
	assert_int_equal(policy_http_check(&p, "api.example.com", "GET", "/x?/repos/acme/y", 16),
			 DECIDE_HTTP_RULE);
	/* a host without rules: everything */
	assert_int_equal(policy_http_check(&p, "example.com", "DELETE", "/", 1), DECIDE_ALLOWED);

	strcpy(doc.credentials[0].standin, "ghp_AAAAbbbbCCCCdddd1234");
	strcpy(doc.credentials[1].standin, "ZZZZyyyyXXXXwwww9876");
	assert_int_equal(policy_standin_find(&p, "Bearer ghp_AAAAbbbbCCCCdddd1234", 31, -1, false), 0);
	assert_int_equal(policy_standin_find(&p, "Bearer ghp_AAAAbbbbCCCCdddd1234", 31, 0, false), -1);
	assert_int_equal(policy_standin_find(&p, "x.zzzzyyyyxxxxwwww9876.evil", 27, -1, false), -1);
	assert_int_equal(policy_standin_find(&p, "x.zzzzyyyyxxxxwwww9876.evil", 27, -1, true), 1);
	assert_int_equal(policy_standin_find(&p, "nothing here", 12, -1, true), -1);
	policy_doc_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_bad),
		cmocka_unit_test(test_standin_shape),
		cmocka_unit_test(test_terminates_and_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
