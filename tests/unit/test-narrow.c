/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-narrow.c - nbj_config_narrow() (nbjail run
 * --site-policy: a user's policy only narrows the site's) and
 * nbj_config_add_audit_field() (--audit-field) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/supervisor.h"

struct pair {
	struct nbj_config *site, *user;
	char err[512];
};

static int setup(void **state)
{
	static struct pair p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(nbj_config_new(&p.site), 0);
	assert_int_equal(nbj_config_new(&p.user), 0);
	assert_int_equal(nbj_config_add_allow(p.site, "198.51.100.0/24"), 0);
	assert_int_equal(nbj_config_add_allow(p.site, "*.example.com:443"), 0);
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	nbj_config_free(p->site);
	nbj_config_free(p->user);
	return 0;
}

static void test_allow_within_replaces(void **state)
{
	struct pair *p = *state;

	assert_int_equal(nbj_config_add_allow(p->user, "198.51.100.10:80"), 0);
	assert_int_equal(nbj_config_add_allow(p->user, "www.example.com:443"), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->site->n_allow, 2);
	assert_int_equal(p->site->allow[0].prefixlen, 32);
	assert_string_equal(p->site->allow[1].name, "www.example.com");
}

static void test_no_allow_keeps_site_list(void **state)
{
	struct pair *p = *state;

	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->site->n_allow, 2);
}

static void test_allow_outside_refused(void **state)
{
	struct pair *p = *state;

	assert_int_equal(nbj_config_add_allow(p->user, "198.51.100.10"), 0);
	assert_int_equal(nbj_config_add_allow(p->user, "www.example.com"), 0); /* any port */
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), -EPERM);
	assert_non_null(strstr(p->err, "allow 'www.example.com': outside"));
	assert_int_equal(p->site->n_allow, 2);	/* unchanged */
	assert_int_equal(p->site->allow[0].prefixlen, 24);
}

static void test_site_only_fields_refused(void **state)
{
	struct pair *p = *state;

	assert_int_equal(nbj_config_add_floor_exception(p->user, "10.0.0.1"), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), -EPERM);
	assert_non_null(strstr(p->err, "floor_exceptions"));
	nbj_config_free(p->user);
	assert_int_equal(nbj_config_new(&p->user), 0);
	assert_int_equal(nbj_config_add_unix_allow(p->user, "/var/run/docker.sock"), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), -EPERM);
	assert_non_null(strstr(p->err, "unix_allow"));
	nbj_config_free(p->user);
	assert_int_equal(nbj_config_new(&p->user), 0);
	assert_int_equal(nbj_config_set_tenant(p->user, "someone-else"), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), -EPERM);
	assert_non_null(strstr(p->err, "tenant"));
}

static void test_limits_and_profile_narrow(void **state)
{
	struct pair *p = *state;

	assert_int_equal(nbj_config_limit_pids(p->site, 100), 0);
	assert_int_equal(nbj_config_limit_pids(p->user, 500), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->site->limits.pids, 100);	/* never wider */
	assert_int_equal(nbj_config_limit_pids(p->user, 50), 0);
	assert_int_equal(nbj_config_set_profile(p->user, NBJ_PROFILE_COMPUTE), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->site->limits.pids, 50);
	assert_int_equal(p->site->profile, NBJ_PROFILE_COMPUTE);
	/* from compute, a user's net means "the site's"; minimal is refused */
	assert_int_equal(nbj_config_set_profile(p->user, NBJ_PROFILE_NET), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->site->profile, NBJ_PROFILE_COMPUTE);
	assert_int_equal(nbj_config_set_profile(p->user, NBJ_PROFILE_MINIMAL), 0);
	assert_int_equal(nbj_config_narrow(p->site, p->user, p->err, sizeof(p->err)), -EPERM);
}

static const struct {
	const char *field;
	int err;
} fields[] = {
	{ "NBJAIL_SLURM_JOB_ID=4242", 0 },
	{ "NBJAIL_OCI_CONTAINER=abc-1", 0 },
	{ "NBJAIL_SLURM_STEP_ID=", 0 },			/* an empty value */
	{ "NBJAIL_SLURM_=1", -EINVAL },			/* the prefix alone */
	{ "NBJAIL_TENANT=other", -EINVAL },		/* not an embedder's field */
	{ "MESSAGE=forged", -EINVAL },
	{ "NBJAIL_SLURM_job=1", -EINVAL },		/* lower case */
	{ "NBJAIL_SLURM_JOB_ID", -EINVAL },		/* no value */
	{ "NBJAIL_SLURM_JOB_ID=1\nMESSAGE=x", -EINVAL },	/* a second field */
	{ "NBJAIL_SLURM_JOB_ID=\"1\"", -EINVAL },
	{ "NBJAIL_SLURM_JOB_ID=a\\b", -EINVAL },
};

static void test_audit_fields(void **state)
{
	struct nbj_config *cfg;
	char big[AUDIT_FIELD_MAX + 8] = "NBJAIL_SLURM_X=";

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		assert_int_equal(nbj_config_new(&cfg), 0);
		if (nbj_config_add_audit_field(cfg, fields[i].field) != fields[i].err)
			fail_msg("%s: want %d", fields[i].field, fields[i].err);
		nbj_config_free(cfg);
	}
	assert_int_equal(nbj_config_new(&cfg), 0);
	/* one byte too long with its NUL */
	memset(big + strlen(big), '1', AUDIT_FIELD_MAX - strlen(big));
	big[AUDIT_FIELD_MAX] = '\0';
	assert_int_equal(nbj_config_add_audit_field(cfg, big), -EINVAL);
	for (int i = 0; i < AUDIT_FIELDS_MAX; i++)
		assert_int_equal(nbj_config_add_audit_field(cfg, "NBJAIL_SLURM_A=1"), 0);
	assert_int_equal(nbj_config_add_audit_field(cfg, "NBJAIL_SLURM_A=1"), -E2BIG);
	nbj_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allow_within_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_allow_keeps_site_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_outside_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_site_only_fields_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_profile_narrow, setup, teardown),
		cmocka_unit_test(test_audit_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
