/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test-overlay.c - routes, the overlay-only names, and the
 * tailnet's place in the floor (policy/overlay.c, policy_flow_overlay()) */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static struct nbj_addr addr(const char *s, uint16_t port)
{
	struct nbj_addr a = { .port = port };

	if (inet_pton(AF_INET, s, &a.v4) == 1) {
		a.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, s, &a.v6), 1);
		a.family = AF_INET6;
	}
	return a;
}

struct fixture {
	struct overlay ov[3];
	struct overlay_route routes[4];
	struct allow_rule allow[4];
	struct nbj_policy p;
};

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->ov[0].name, "direct");
	strcpy(f->ov[1].name, "tor");
	assert_int_equal(overlay_kind_parse("tor", &f->ov[1]), 0);
	strcpy(f->ov[2].name, "ts");
	assert_int_equal(overlay_kind_parse("tailscale", &f->ov[2]), 0);
	assert_int_equal(allow_parse("*.onion", &f->routes[0].match), 0);
	f->routes[0].overlay = 1;
	assert_int_equal(allow_parse("100.64.0.0/10", &f->routes[1].match), 0);
	f->routes[1].overlay = 2;
	assert_int_equal(allow_parse("secret.example", &f->routes[2].match), 0);
	f->routes[2].overlay = 1;
	assert_int_equal(allow_parse("10.0.0.0/8", &f->routes[3].match), 0);
	f->routes[3].overlay = 2;
	assert_int_equal(allow_parse("100.100.1.5:80", &f->allow[0]), 0);
	assert_int_equal(allow_parse("*.onion", &f->allow[1]), 0);
	assert_int_equal(allow_parse("10.0.0.1", &f->allow[2]), 0);
	assert_int_equal(allow_parse("198.51.100.10", &f->allow[3]), 0);
	f->p = (struct nbj_policy){
		.allow = f->allow, .n_allow = 4,
		.overlays = f->ov, .n_overlays = 3, .default_overlay = 0,
		.routes = f->routes, .n_routes = 4,
	};
}

/* policy_decide() for a literal address from a process that selected
 * nothing (the relay's lane) */
static void decide_addr(const struct nbj_policy *p, const struct nbj_addr *a,
			struct decision *d)
{
	static const struct floor_ctx none = { 0 };
	struct decide_facts f = {
		.lane = DECIDE_LANE_CONNECT, .policy = p, .floor = &none,
		.addr = *a, .port = a->port, .selected = DECIDE_SELECTED_NONE,
	};

	policy_decide(&f, d);
}

static void test_routes(void **state)
{
	struct fixture f;
	struct nbj_addr a;

	(void)state;
	setup(&f);
	assert_int_equal(policy_flow_overlay(&f.p, "abc.onion", NULL, 80, DECIDE_SELECTED_NONE), 1);
	assert_int_equal(policy_flow_overlay(&f.p, "secret.example", NULL, 443, DECIDE_SELECTED_NONE), 1);
	assert_int_equal(policy_flow_overlay(&f.p, "other.example", NULL, 443, DECIDE_SELECTED_NONE), 0);
	a = addr("100.100.1.5", 80);
	assert_int_equal(policy_flow_overlay(&f.p, NULL, &a, a.port, DECIDE_SELECTED_NONE), 2);
	a = addr("198.51.100.10", 80);
	assert_int_equal(policy_flow_overlay(&f.p, NULL, &a, a.port, DECIDE_SELECTED_NONE), 0);
	/* address routes never match names and the other way round */
	assert_int_equal(policy_flow_overlay(&f.p, "10.0.0.0", NULL, 80, DECIDE_SELECTED_NONE), 0);
	f.p.default_overlay = 1;
	assert_int_equal(policy_flow_overlay(&f.p, "other.example", NULL, 443, DECIDE_SELECTED_NONE), 1);
	/* a process's selection comes after the routes, before the default */
	assert_int_equal(policy_flow_overlay(&f.p, "other.example", NULL, 443, 0), 0);
	assert_int_equal(policy_flow_overlay(&f.p, "other.example", NULL, 443, 2), 2);
	assert_int_equal(policy_flow_overlay(&f.p, "abc.onion", NULL, 80, 0), 1);
	a = addr("100.100.1.5", 80);
	assert_int_equal(policy_flow_overlay(&f.p, NULL, &a, 80, 0), 2);
	/* an out-of-range selection is no selection */
	assert_int_equal(policy_flow_overlay(&f.p, "other.example", NULL, 443, 7), 1);
	assert_int_equal(policy_flow_overlay(&f.p, "other.example", NULL, 443,
					     DECIDE_SELECTED_UNMARKED), 1);
	assert_string_equal(policy_overlay_name(&f.p, 2), "ts");
	assert_string_equal(policy_overlay_name(NULL, 2), "direct");
	/* tor's preset */
	assert_int_equal(f.ov[1].kind, OVERLAY_SOCKS5);
	assert_int_equal(f.ov[1].proxy.port, 9050);
	assert_true(f.ov[1].isolate_streams);
	assert_string_equal(f.ov[2].interface, "tailscale0");
	assert_int_equal(overlay_kind_parse("i2p-ish", &f.ov[0]), -EINVAL);
}

static void test_overlay_only_names(void **state)
{
	(void)state;
	assert_true(policy_name_needs_overlay("abc.onion"));
	assert_true(policy_name_needs_overlay("x.y.ONION"));
	assert_true(policy_name_needs_overlay("abc.b32.i2p"));
	assert_true(policy_name_needs_overlay("onion"));
	assert_false(policy_name_needs_overlay("onion.example"));
	assert_false(policy_name_needs_overlay("myonion"));
	assert_false(policy_name_needs_overlay("i2p.example.com"));
}

static void test_tailnet_floor(void **state)
{
	struct fixture f;
	struct decision d;
	struct nbj_addr a;

	(void)state;
	setup(&f);
	/* routed to tailscale: cgnat waived, the allow-list decides */
	a = addr("100.100.1.5", 80);
	decide_addr(&f.p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	a = addr("100.100.1.5", 81);
	decide_addr(&f.p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_int_equal(d.reason, DECIDE_NOT_ALLOWED);
	/* routed to tailscale, but private: the floor stays */
	a = addr("10.0.0.1", 80);
	decide_addr(&f.p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_int_equal(d.floor, FLOOR_PRIVATE);
	/* not routed there: cgnat stays in the floor */
	f.p.n_routes = 1;
	a = addr("100.100.1.5", 80);
	decide_addr(&f.p, &a, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_int_equal(d.floor, FLOOR_CGNAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_overlay_only_names),
		cmocka_unit_test(test_tailnet_floor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
