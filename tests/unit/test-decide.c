/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-decide.c - `nbjail explain` and the relay decide alike
 *
 * A table of targets x policies (allow-lists, floor exceptions, overlays,
 * routes, process selections): each row is judged twice, through the
 * facts each caller gathers itself, explain_facts() (supervisor/
 * explain.c: a parsed target, --overlay for the selection) and
 * tcp_flow_facts() (relay/tcp.c: the synthetic address the DNS stub
 * handed out, the selection read back from the job's source port), then
 * policy_decide().  Both decisions must be equal, and equal to the row's
 * expected verdict, reason and overlay.  Names get the row's answers
 * injected on both sides when the decision asks for them.
 */
#include <arpa/inet.h>
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

#include "policy/target.h"
#include "relay/relay_int.h"
#include "supervisor/supervisor.h"

static struct nbj_addr addr(const char *s)
{
	struct nbj_addr a = { 0 };

	if (inet_pton(AF_INET, s, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.v6) == 1)
		a.family = AF_INET6;
	else
		fail_msg("bad test address %s", s);
	return a;
}

/* The policies of the table, by index */
static const char *const policies[] = {
	/* 0: plain allow-list and a floor exception, no overlays */
	"allow: ['198.51.100.10:80', '10.0.0.0/8', 'allowed.test:80', '*.wild.test',\n"
	"        '100.100.100.200']\n"
	"floor_exceptions: ['10.0.0.1:80']\n",
	/* 1: tailscale is the job's default, tor for .onion, processes may
	 *    select; 100.64/10 allowed by the list */
	"allow: ['100.64.0.0/10', '198.51.100.10:80', 'allowed.test:80', '*.onion',\n"
	"        'tail.test:80']\n"
	"default_overlay: tailnet\n"
	"overlays:\n"
	"  tailnet: {kind: tailscale}\n"
	"  tor: {kind: tor}\n"
	"routes:\n"
	"  - {match: '*.onion', overlay: tor}\n"
	"permissions: {network.select: allow}\n",
	/* 2: direct by default, a route sends the tailnet to tailscale and a
	 *    name to tor; i2p for .i2p */
	"allow: ['100.64.0.0/10', '198.51.100.0/24', 'secret.test:443', '*.i2p',\n"
	"        'allowed.test:80']\n"
	"overlays:\n"
	"  tailnet: {kind: tailscale}\n"
	"  tor: {kind: tor}\n"
	"  i2p: {kind: i2p}\n"
	"routes:\n"
	"  - {match: '100.64.0.0/10', overlay: tailnet}\n"
	"  - {match: 'secret.test', overlay: tor}\n"
	"  - {match: '*.i2p', overlay: i2p}\n"
	"permissions: {network.select: allow}\n",
};

static const struct row {
	int policy;		/* index into policies[] */
	const char *select;	/* the process's selection, NULL for none */
	const char *target;	/* as given to explain */
	const char *answers;	/* a name's answers, space-separated; NULL:
				 * NXDOMAIN */
	bool allow;
	const char *reason;
	const char *overlay;
} rows[] = {
	/* no overlays: the floor, the exceptions, the allow-list */
	{ 0, NULL, "http://198.51.100.10/", NULL, true, "allowed", "direct" },
	{ 0, NULL, "http://198.51.100.10:8080/", NULL, false, "not-allowed", "direct" },
	{ 0, NULL, "http://169.254.169.254/", NULL, false, "floor:metadata", "direct" },
	{ 0, NULL, "http://10.0.0.1/", NULL, true, "allowed", "direct" },
	{ 0, NULL, "http://10.0.0.2/", NULL, false, "floor:private", "direct" },
	{ 0, NULL, "http://100.100.100.200/", NULL, false, "floor:cgnat", "direct" },
	{ 0, NULL, "http://192.0.2.1/", NULL, false, "floor:host-address", "direct" },
	{ 0, NULL, "http://allowed.test/", "198.51.100.10 2001:db8::10", true, "allowed",
	  "direct" },
	{ 0, NULL, "http://allowed.test:8080/", "198.51.100.10", false, "not-allowed",
	  "direct" },
	{ 0, NULL, "http://allowed.test/", "198.51.100.10 10.0.0.7", false, "floor:private",
	  "direct" },
	{ 0, NULL, "http://allowed.test/", NULL, false, "no-answer", "direct" },
	{ 0, NULL, "http://a.wild.test:9/", "203.0.113.5", true, "allowed", "direct" },
	{ 0, NULL, "http://abc.onion/", NULL, false, "overlay-required", "direct" },
	{ 0, NULL, "http://198.18.0.77/", NULL, false, "unknown-synthetic", "direct" },

	/* tailscale by default: the tailnet through it, a route for tor */
	{ 1, NULL, "http://100.100.100.200/", NULL, true, "allowed", "tailnet" },
	{ 1, NULL, "http://tail.test/", "100.100.1.1", true, "allowed", "tailnet" },
	{ 1, NULL, "http://10.0.0.1/", NULL, false, "floor:private", "tailnet" },
	{ 1, NULL, "http://198.51.100.10/", NULL, true, "allowed", "tailnet" },
	{ 1, NULL, "http://abc.onion/", NULL, true, "allowed", "tor" },
	/* the regression of issue 16: a process that selected direct does
	 * not get the tailnet's waiver of its job's tailscale default */
	{ 1, "direct", "http://100.100.100.200/", NULL, false, "floor:cgnat", "direct" },
	{ 1, "direct", "http://tail.test/", "100.100.1.1", false, "floor:cgnat", "direct" },
	{ 1, "direct", "http://198.51.100.10/", NULL, true, "allowed", "direct" },
	{ 1, "direct", "http://allowed.test/", "198.51.100.10", true, "allowed", "direct" },
	/* a route beats the selection */
	{ 1, "direct", "http://abc.onion/", NULL, true, "allowed", "tor" },
	/* tor selected: names go to the proxy unresolved, addresses too */
	{ 1, "tor", "http://allowed.test/", NULL, true, "allowed", "tor" },
	{ 1, "tor", "http://other.test/", NULL, false, "not-allowed", "tor" },
	{ 1, "tor", "http://100.100.100.200/", NULL, false, "floor:cgnat", "tor" },
	{ 1, "tailnet", "http://100.100.100.200/", NULL, true, "allowed", "tailnet" },

	/* direct by default, routes to the tailnet, tor and i2p */
	{ 2, NULL, "http://100.100.100.200/", NULL, true, "allowed", "tailnet" },
	{ 2, NULL, "http://198.51.100.7/", NULL, true, "allowed", "direct" },
	{ 2, NULL, "https://secret.test/", NULL, true, "allowed", "tor" },
	{ 2, NULL, "http://secret.test/", NULL, false, "not-allowed", "tor" },
	{ 2, NULL, "http://allowed.test/", "100.100.1.1", false, "floor:cgnat", "direct" },
	{ 2, NULL, "http://x.b32.i2p/", NULL, true, "allowed", "i2p" },
	{ 2, "i2p", "http://198.51.100.7/", NULL, false, "overlay-failed", "i2p" },
	{ 2, "i2p", "http://allowed.test/", NULL, false, "overlay-failed", "i2p" },
	/* a process that selected the tailnet reaches a name's tailnet
	 * answers; a route beats a selection of tor */
	{ 2, "tailnet", "http://allowed.test/", "100.100.1.1", true, "allowed", "tailnet" },
	{ 2, "tor", "http://100.100.100.200/", NULL, true, "allowed", "tailnet" },
};

/* Everything a row needs, both sides */
struct world {
	struct nbj_config *cfg;
	struct nbj_policy explain_policy;
	struct nbj_policy relay_policy;
	struct relay_config rc;
	struct relay_ctx *c;
	struct nbj_prefix job_nets[2];
	struct floor_ctx floor;
};

static void world_init(struct world *w, int policy, const char *select)
{
	char path[] = "/tmp/nbj-test-decide-XXXXXX", err[512];
	const char *text = policies[policy];
	int fd = mkstemp(path);

	memset(w, 0, sizeof(*w));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(nbj_config_new(&w->cfg), 0);
	if (nbj_config_load_policy(w->cfg, path, err, sizeof(err)) < 0)
		fail_msg("policy %d: %s", policy, err);
	unlink(path);

	/* the relay's side: the job's own policy (its default overlay), and
	 * the selection in the source port when processes may select */
	w->job_nets[0] = (struct nbj_prefix){ addr("10.231.0.0"), 16 };
	w->job_nets[1] = (struct nbj_prefix){ addr("fd6e:626a:6169::"), 48 };
	assert_int_equal(explain_policy(w->cfg, &w->relay_policy), 0);
	w->explain_policy = w->relay_policy;
	w->rc.policy = &w->relay_policy;
	w->rc.select_ports = w->relay_policy.select_allowed;
	w->rc.max_flows = 16;
	w->c = calloc(1, sizeof(*w->c));
	assert_non_null(w->c);
	w->c->cfg = &w->rc;
	assert_int_equal(names_init(w->c), 0);
	w->c->host[0] = addr("192.0.2.1");
	w->c->n_host = 1;
	w->c->floor = (struct floor_ctx){ .host = w->c->host, .job_nets = w->job_nets,
					  .n_job_nets = 2 };
	w->floor = w->c->floor;
	w->floor.n_host = 1;

	/* explain's side: --overlay NAME stands for the selection */
	if (select) {
		assert_int_equal(nbj_config_set_overlay(w->cfg, select), 0);
		assert_int_equal(explain_policy(w->cfg, &w->explain_policy), 0);
	}
}

static void world_free(struct world *w)
{
	free(w->c->names);
	free(w->c);
	nbj_config_free(w->cfg);
}

/* The overlay index of @name in @p */
static int overlay_index(const struct nbj_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_overlays; i++)
		if (!strcmp(p->overlays[i].name, name))
			return (int)i;
	return strcmp(name, "direct") ? -1 : 0;
}

static size_t parse_answers(const char *s, struct nbj_addr *out, size_t max)
{
	char buf[256], *save = NULL;
	size_t n = 0;

	if (!s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *tok = strtok_r(buf, " ", &save); tok && n < max;
	     tok = strtok_r(NULL, " ", &save))
		out[n++] = addr(tok);
	return n;
}

static void with_answers(struct decide_facts *f, const struct nbj_addr *answers, size_t n)
{
	f->answers_state = n ? DECIDE_ANSWERS_OK : DECIDE_ANSWERS_NONE;
	f->answers = answers;
	f->n_answers = n;
}

static void check_row(const struct row *r)
{
	struct nbj_addr answers[8], target, peer = addr("10.231.0.2");
	size_t n = parse_answers(r->answers, answers, 8);
	struct decide_facts fe, fr;
	struct decision de, dr;
	struct world w;
	struct target t;
	const char *name;

	world_init(&w, r->policy, r->select);
	assert_int_equal(target_parse(r->target, &t), 0);

	/* explain */
	explain_facts(&w.explain_policy, &w.floor, &t, &fe);
	policy_decide(&fe, &de);
	if (de.verdict == VERDICT_NEED_ANSWERS) {
		with_answers(&fe, answers, n);
		policy_decide(&fe, &de);
	}

	/* the relay: a name is the synthetic address its DNS stub gave */
	if (t.is_ip) {
		target = t.addr;
	} else {
		int slot = names_add(w.c, t.host);

		assert_true(slot >= 0);
		names_synthetic(w.c, slot, AF_INET, &target);
	}
	target.port = t.port;
	peer.port = 40000;
	if (r->select) {
		uint16_t lo, hi;
		int ov = overlay_index(w.rc.policy, r->select);

		assert_true(ov >= 0 && w.rc.select_ports);
		select_port_range((unsigned)ov, &lo, &hi);
		peer.port = lo + 7;
	} else if (w.rc.select_ports) {
		uint16_t lo, hi;

		select_port_range(w.rc.policy->default_overlay, &lo, &hi);
		peer.port = lo;
	}
	(void)tcp_flow_facts(w.c, &target, &peer, &fr);
	policy_decide(&fr, &dr);
	if (dr.verdict == VERDICT_NEED_ANSWERS) {
		with_answers(&fr, answers, n);
		policy_decide(&fr, &dr);
	}

	name = policy_overlay_name(w.rc.policy, dr.overlay);
	if (de.verdict != dr.verdict || de.reason != dr.reason || de.overlay != dr.overlay ||
	    de.dial != dr.dial || de.exception != dr.exception || de.floor != dr.floor)
		fail_msg("policy %d select %s %s: explain %d %s overlay %u dial %d exc %d, "
			 "relay %d %s overlay %u dial %d exc %d", r->policy,
			 r->select ? r->select : "-", r->target, de.verdict,
			 decide_reason_name(de.reason), de.overlay, de.dial, de.exception,
			 dr.verdict, decide_reason_name(dr.reason), dr.overlay, dr.dial,
			 dr.exception);
	if ((dr.verdict == VERDICT_ALLOW) != r->allow ||
	    strcmp(decide_reason_name(dr.reason), r->reason) || strcmp(name, r->overlay))
		fail_msg("policy %d select %s %s: %s %s via %s, wanted %s %s via %s",
			 r->policy, r->select ? r->select : "-", r->target,
			 dr.verdict == VERDICT_ALLOW ? "allow" : "deny",
			 decide_reason_name(dr.reason), name, r->allow ? "allow" : "deny",
			 r->reason, r->overlay);
	world_free(&w);
}

static void test_parity_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
}

/* Traffic without a selection mark is refused by the relay, never
 * decided as the default's */
static void test_unmarked(void **state)
{
	struct nbj_addr target = addr("198.51.100.10"), peer = addr("10.231.0.2");
	struct decide_facts f;
	struct decision d;
	struct world w;

	(void)state;
	world_init(&w, 1, NULL);
	target.port = 80;
	peer.port = SELECT_PORT_UNMARKED + 3;
	(void)tcp_flow_facts(w.c, &target, &peer, &f);
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_string_equal(decide_reason_name(d.reason), "select-unmarked");
	world_free(&w);
}

/* The DNS stub's lane: the same overlay helper, so the tailnet's answers
 * are waived only for a process whose flow would go through tailscale */
static void test_dns_lane(void **state)
{
	struct nbj_addr answers[1] = { addr("100.100.1.1") };
	struct decide_facts f;
	struct decision d;
	struct world w;

	(void)state;
	world_init(&w, 1, NULL);
	f = (struct decide_facts){
		.lane = DECIDE_LANE_DNS, .policy = &w.relay_policy, .floor = &w.floor,
		.name = "tail.test", .answers_state = DECIDE_ANSWERS_PENDING,
		.selected = DECIDE_SELECTED_NONE, .address_query = true,
	};
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_NEED_ANSWERS);
	f.answers_state = DECIDE_ANSWERS_OK;
	f.answers = answers;
	f.n_answers = 1;
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_string_equal(policy_overlay_name(&w.relay_policy, d.overlay), "tailnet");
	f.selected = OVERLAY_DIRECT_INDEX;
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_string_equal(decide_reason_name(d.reason), "floor:cgnat");
	f.selected = DECIDE_SELECTED_UNMARKED;
	policy_decide(&f, &d);
	assert_string_equal(decide_reason_name(d.reason), "select-unmarked");
	/* a name no rule allows, any type; other types get an empty answer */
	f.selected = DECIDE_SELECTED_NONE;
	f.name = "nope.test";
	policy_decide(&f, &d);
	assert_string_equal(decide_reason_name(d.reason), "not-allowed");
	f.name = "tail.test";
	f.address_query = false;
	policy_decide(&f, &d);
	assert_true(d.verdict == VERDICT_ALLOW && d.dial == DIAL_NONE);
	/* through tor, the proxy resolves: allowed without answers */
	f.address_query = true;
	f.name = "abc.onion";
	f.answers_state = DECIDE_ANSWERS_PENDING;
	policy_decide(&f, &d);
	assert_true(d.verdict == VERDICT_ALLOW && d.dial == DIAL_PROXY);
	f.revoked = true;
	policy_decide(&f, &d);
	assert_string_equal(decide_reason_name(d.reason), "revoked");
	world_free(&w);
}

/* Published ports and datagrams: revoked first, then the rate */
static void test_publish_and_udp_lanes(void **state)
{
	struct decide_facts f = { .lane = DECIDE_LANE_PUBLISH, .publish_overlay = 1 };
	struct decision d;

	(void)state;
	policy_decide(&f, &d);
	assert_true(d.verdict == VERDICT_ALLOW && d.overlay == 1);
	f.over_rate = true;
	policy_decide(&f, &d);
	assert_string_equal(decide_reason_name(d.reason), "rate");
	f.revoked = true;
	policy_decide(&f, &d);
	assert_string_equal(decide_reason_name(d.reason), "revoked");
	f = (struct decide_facts){ .lane = DECIDE_LANE_UDP };
	policy_decide(&f, &d);
	assert_string_equal(decide_reason_name(d.reason), "not-relayed");
	f.lane = (enum decide_lane)99;	/* an unknown lane is denied */
	policy_decide(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
}

/* The reason table: one name per enum value, the floor classes in order,
 * the names other helpers add already there */
static void test_reason_names(void **state)
{
	char want[64];

	(void)state;
	for (int r = 0; r < DECIDE_REASON_COUNT; r++) {
		const char *n = decide_reason_name((enum decide_reason)r);

		assert_non_null(n);
		assert_true(n[0] != '\0');
		for (int o = 0; o < r; o++)
			assert_string_not_equal(n, decide_reason_name((enum decide_reason)o));
	}
	for (int f = FLOOR_UNSPECIFIED; f < FLOOR_REASON_COUNT; f++) {
		snprintf(want, sizeof(want), "floor:%s", floor_reason_name((enum floor_reason)f));
		assert_string_equal(decide_reason_name(decide_reason_of_floor((enum floor_reason)f)),
				    want);
		assert_true(decide_reason_is_floor(decide_reason_of_floor((enum floor_reason)f)));
	}
	assert_string_equal(decide_reason_name(DECIDE_SNI_MISSING), "sni-missing");
	assert_string_equal(decide_reason_name(DECIDE_SNI_MISMATCH), "sni-mismatch");
	assert_string_equal(decide_reason_name(DECIDE_DNS_RATE), "dns-rate");
	assert_string_equal(decide_reason_name(DECIDE_REASON_COUNT), "other");
	assert_false(decide_reason_is_floor(DECIDE_NOT_ALLOWED));
	assert_true(DECIDE_REASON_COUNT <= AUDIT_REASONS);
}

/* The counters are indexed by the reason, and `ctl` names them back */
static void test_counters(void **state)
{
	static struct job_stats s;

	(void)state;
	stats_count(&s, LANE_TCP, OUTCOME_DENIED, DECIDE_FLOOR_CGNAT);
	stats_count(&s, LANE_TCP, OUTCOME_DENIED, DECIDE_FLOOR_CGNAT);
	stats_count(&s, LANE_DNS, OUTCOME_ALLOWED, DECIDE_ALLOWED);
	stats_count(&s, LANE_DNS, OUTCOME_DENIED, (enum decide_reason)200);
	assert_int_equal(s.counters[LANE_TCP][OUTCOME_DENIED][DECIDE_FLOOR_CGNAT], 2);
	assert_string_equal(stats_reason_name(DECIDE_FLOOR_CGNAT), "floor:cgnat");
	assert_int_equal(s.counters[LANE_DNS][OUTCOME_ALLOWED][DECIDE_ALLOWED], 1);
	assert_int_equal(s.counters[LANE_DNS][OUTCOME_DENIED][DECIDE_OTHER], 1);
	assert_null(stats_reason_name(DECIDE_REASON_COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parity_table),
		cmocka_unit_test(test_unmarked),
		cmocka_unit_test(test_dns_lane),
		cmocka_unit_test(test_publish_and_udp_lanes),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
