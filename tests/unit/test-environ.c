/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-environ.c - the workload's environment
 * (supervisor/environ.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/supervisor.h"

static char *const host_env[] = {
	"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C",
	"SUDO_USER=alice", "SUDO_COMMAND=/bin/sh", "PROXY_PW=s3cret", "AWS_KEY=k",
	"NOEQUALS", NULL,
};

static size_t count(char **envp)
{
	size_t n = 0;

	while (envp[n])
		n++;
	return n;
}

static bool has(char **envp, const char *entry)
{
	for (size_t i = 0; envp[i]; i++)
		if (!strcmp(envp[i], entry))
			return true;
	return false;
}

static void with_secret_overlay(struct nbj_config *cfg, struct overlay *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->name, "sec");
	strcpy(o->password_env, "PROXY_PW");
	cfg->overlays = o;
	cfg->n_overlays = 1;
}

static void test_default_strips_secrets(void **state)
{
	struct nbj_config cfg = { .terminal_fd = -1 };
	struct overlay o;
	char **envp;

	(void)state;
	with_secret_overlay(&cfg, &o);
	assert_int_equal(environ_build(&cfg, host_env, &envp), 0);
	assert_int_equal(count(envp), 5);
	assert_true(has(envp, "PATH=/usr/bin:/bin"));
	assert_true(has(envp, "AWS_KEY=k"));
	assert_false(has(envp, "PROXY_PW=s3cret"));
	assert_false(has(envp, "SUDO_USER=alice"));
	assert_false(has(envp, "NOEQUALS"));
	free(envp);
}

static void test_clear_keep_set(void **state)
{
	char *keep[] = { "LC_*", "PROXY_PW", "HOME", NULL };
	char *set[] = { "HOME=/tmp", "TZ=UTC", NULL };
	struct nbj_config cfg = { .terminal_fd = -1 };
	struct overlay o;
	char **envp;

	(void)state;
	with_secret_overlay(&cfg, &o);
	cfg.env = (struct policy_env){ .clear = true, .keep = keep, .n_keep = 3,
				       .set = set, .n_set = 2 };
	assert_int_equal(environ_build(&cfg, host_env, &envp), 0);
	/* LC_ALL kept; PROXY_PW never, even when kept; HOME replaced by set */
	assert_int_equal(count(envp), 3);
	assert_true(has(envp, "LC_ALL=C"));
	assert_true(has(envp, "HOME=/tmp"));
	assert_true(has(envp, "TZ=UTC"));
	free(envp);
}

static void test_clearenv_flag(void **state)
{
	struct nbj_config cfg = { .terminal_fd = -1, .clearenv = true };
	char **envp;

	(void)state;
	assert_int_equal(environ_build(&cfg, host_env, &envp), 0);
	assert_int_equal(count(envp), 0);
	free(envp);
}

/* A job with a dock: NBJAIL_DOCK names its socket and NBJAIL_DOCK_FD its
 * desk whatever came before, /run/nbjail/bin ends PATH (the policy's PATH, glibc's default without
 * any); minimal and compute get neither */
static void test_dock_variables(void **state)
{
	char *from[] = { "PATH=/usr/bin:/bin", "NBJAIL_DOCK=/tmp/fake.sock", "HOME=/root",
			 "NBJAIL_DOCK_FD=7", NULL };
	char *set[] = { "PATH=/opt/bin", NULL };
	struct nbj_config cfg = { .terminal_fd = -1, .profile = NBJ_PROFILE_NET };
	char **envp;

	(void)state;
	assert_int_equal(environ_build(&cfg, from, &envp), 0);
	assert_int_equal(count(envp), 4);
	assert_true(has(envp, "PATH=/usr/bin:/bin:/run/nbjail/bin"));
	assert_true(has(envp, "NBJAIL_DOCK=/run/nbjail/dock.sock"));
	assert_true(has(envp, "NBJAIL_DOCK_FD=1023"));
	assert_false(has(envp, "NBJAIL_DOCK=/tmp/fake.sock"));
	assert_false(has(envp, "NBJAIL_DOCK_FD=7"));
	free(envp);

	cfg.profile = NBJ_PROFILE_BROWSE;
	cfg.env = (struct policy_env){ .set = set, .n_set = 1 };
	assert_int_equal(environ_build(&cfg, from, &envp), 0);
	assert_int_equal(count(envp), 4);
	assert_true(has(envp, "PATH=/opt/bin:/run/nbjail/bin"));
	assert_false(has(envp, "PATH=/opt/bin"));
	free(envp);

	cfg.env = (struct policy_env){ .clear = true };
	assert_int_equal(environ_build(&cfg, from, &envp), 0);
	assert_int_equal(count(envp), 3);
	assert_true(has(envp, "PATH=/bin:/usr/bin:/run/nbjail/bin"));
	assert_true(has(envp, "NBJAIL_DOCK=/run/nbjail/dock.sock"));
	free(envp);

	for (int p = NBJ_PROFILE_MINIMAL; p <= NBJ_PROFILE_COMPUTE; p++) {
		cfg = (struct nbj_config){ .terminal_fd = -1, .profile = (enum nbj_profile)p };
		assert_int_equal(environ_build(&cfg, from, &envp), 0);
		assert_int_equal(count(envp), 3);
		assert_true(has(envp, "PATH=/usr/bin:/bin"));
		assert_true(has(envp, "NBJAIL_DOCK=/tmp/fake.sock"));
		assert_false(has(envp, "NBJAIL_DOCK_FD=7"));	/* no desk to name */
		free(envp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_strips_secrets),
		cmocka_unit_test(test_dock_variables),
		cmocka_unit_test(test_clear_keep_set),
		cmocka_unit_test(test_clearenv_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
