/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/explain.c - nbj_explain(): the relay's verdict, without dialling
 *
 * Theory of operation: the target is parsed as a client would dial it
 * (policy/target.c); explain_facts() gathers what the relay would know of
 * a flow to it (lane connect: the job's whole policy with its overlays
 * and routes, the host's current addresses, the overlay the flow would
 * use), and policy_decide(), the one decision of the relay and the
 * seccomp notifier, judges it.  When the decision needs the name's
 * answers (a name the relay would resolve itself, not one an overlay's
 * proxy resolves) the name is resolved like the relay resolves it
 * (c-ares, the host's resolver configuration, all answers) and judged
 * again with them.  `--overlay NAME` stands for a process that selected
 * NAME (nbjail-select): routes first, then NAME.  tests/unit/test-decide.c
 * checks that explain and the relay decide alike.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ares.h>

#include "common/util.h"
#include "netns/link.h"
#include "policy/target.h"
#include "relay/relay.h"
#include "supervisor/supervisor.h"

/**
 * explain_policy() - the policy a job started from @cfg would have: a
 * view of @cfg's arrays, nothing copied
 * @cfg:	the configuration
 * @ret:	the policy; valid while @cfg is
 *
 * Return: 0, or -ENOENT when --overlay names no overlay of the policy
 */
int explain_policy(const struct nbj_config *cfg, struct nbj_policy *ret)
{
	struct nbj_policy p = {
		.allow = cfg->allow,
		.n_allow = cfg->n_allow,
		.floor_exceptions = cfg->floor_exceptions,
		.n_floor_exceptions = cfg->n_floor_exceptions,
		.overlays = cfg->n_overlays ? cfg->overlays : NULL,
		.n_overlays = cfg->n_overlays,
		.default_overlay = cfg->default_overlay,
		.routes = cfg->routes,
		.n_routes = cfg->n_routes,
		.publish = cfg->publish,
		.n_publish = cfg->n_publish,
		.select_allowed = cfg->select_allowed,
	};

	if (cfg->default_overlay_name) {
		bool found = !strcmp(cfg->default_overlay_name, "direct");

		p.default_overlay = OVERLAY_DIRECT_INDEX;
		for (size_t i = 1; i < p.n_overlays && !found; i++)
			if (!strcmp(cfg->overlays[i].name, cfg->default_overlay_name)) {
				p.default_overlay = (unsigned)i;
				found = true;
			}
		if (!found)
			return -ENOENT;
	}
	*ret = p;
	return 0;
}

/**
 * explain_facts() - what the relay would know of a flow of the job to @t
 * @p:		the job's policy (explain_policy())
 * @fc:		the dynamic floor: the host's addresses, the jobs' pool
 * @t:		the parsed target
 * @ret:	the facts (lane connect), answers not known yet
 *
 * A name stands for the synthetic address the relay would see; a literal
 * address in the synthetic range maps to no name here (unknown-synthetic,
 * as in a job that never asked the DNS stub for it).
 */
void explain_facts(const struct nbj_policy *p, const struct floor_ctx *fc,
		   const struct target *t, struct decide_facts *ret)
{
	*ret = (struct decide_facts){
		.lane = DECIDE_LANE_CONNECT,
		.policy = p,
		.floor = fc,
		.name = t->is_ip ? NULL : t->host,
		.addr = t->addr,
		.port = t->port,
		.synthetic = !t->is_ip || nbj_addr_is_synthetic(&t->addr),
		.answers_state = DECIDE_ANSWERS_PENDING,
		.selected = DECIDE_SELECTED_NONE,
	};
	ret->addr.port = t->port;
}

/* Resolve @t's name as the relay does and judge it again with its answers */
static void explain_resolve(struct decide_facts *f, const struct target *t,
			    struct nbj_explanation *e, struct decision *d)
{
	struct nbj_addr answers[RESOLVE_ANSWERS_MAX];
	size_t n = 0;
	int status = resolve_blocking(t->host, answers, &n);

	if (status != ARES_SUCCESS)
		n = 0;
	f->answers_state = status == ARES_SUCCESS ? DECIDE_ANSWERS_OK :
			   status == ARES_ENOTFOUND || status == ARES_ENODATA ?
			   DECIDE_ANSWERS_NONE : DECIDE_ANSWERS_FAILED;
	f->answers = answers;
	f->n_answers = n;
	policy_decide(f, d);
	for (size_t i = 0; i < n && i < ARRAY_SIZE(e->resolved); i++)
		nbj_addr_format(&answers[i], e->resolved[e->n_resolved++],
				sizeof(e->resolved[0]));
	if (d->verdict == VERDICT_ALLOW && d->dial == DIAL_ANSWERS && n) {
		struct nbj_addr pinned = answers[0];

		pinned.port = t->port;
		nbj_addr_format(&pinned, e->dial, sizeof(e->dial));
	}
}

/**
 * nbj_explain() - what the relay would decide for @text
 * @cfg:	the job's configuration (policy)
 * @text:	URL, host, host:port, IP, [IPv6]:port
 * @ret:	verdict, reason, host, overlay and the address that would be
 *		dialled
 *
 * Return: 0 (see @ret->allow), -EINVAL for a malformed target, -ENOENT
 * for an --overlay the policy does not define, or a negative errno if
 * the host's addresses cannot be read
 */
int nbj_explain(const struct nbj_config *cfg, const char *text,
		struct nbj_explanation *ret)
{
	struct nbj_explanation e = { 0 };
	struct nbj_prefix job_nets[2];
	struct host_inventory inv;
	struct nbj_policy policy;
	struct floor_ctx floor;
	struct decide_facts f;
	struct decision d;
	struct target t;
	int err;

	if (target_parse(text, &t) < 0)
		return -EINVAL;
	err = explain_policy(cfg, &policy);
	if (err < 0)
		return err;
	snprintf(e.host, sizeof(e.host), "%s", t.host);
	e.is_address = t.is_ip;
	e.port = t.port;
	err = link_host_inventory(&inv);
	if (err < 0)
		return err;
	job_net_prefixes(job_nets);
	floor = (struct floor_ctx){
		.host = inv.addrs, .n_host = inv.n_addrs,
		.job_nets = job_nets, .n_job_nets = 2,
	};
	explain_facts(&policy, &floor, &t, &f);
	policy_decide(&f, &d);
	if (d.verdict == VERDICT_NEED_ANSWERS)
		explain_resolve(&f, &t, &e, &d);
	link_host_inventory_free(&inv);

	if (t.is_ip)
		nbj_addr_format(&f.addr, e.dial, sizeof(e.dial));
	if (d.verdict == VERDICT_ALLOW && d.dial == DIAL_PROXY) {
		char proxy[NBJ_ADDR_STRLEN];

		snprintf(e.dial, sizeof(e.dial), "%s (proxy of overlay %s)",
			 nbj_addr_format(&policy.overlays[d.overlay].proxy, proxy, sizeof(proxy)),
			 policy_overlay_name(&policy, d.overlay));
	}
	if (cfg->n_overlays)
		snprintf(e.overlay, sizeof(e.overlay), "%s",
			 policy_overlay_name(&policy, d.overlay));
	e.allow = d.verdict == VERDICT_ALLOW;
	if (d.reason == DECIDE_OVERLAY_FAILED && d.detail[0])
		snprintf(e.reason, sizeof(e.reason), "overlay:%s", d.detail);
	else
		snprintf(e.reason, sizeof(e.reason), "%s", decide_reason_name(d.reason));
	if (d.exception >= 0) {
		char rule[NBJ_ADDR_STRLEN + 8];

		snprintf(e.floor_exception, sizeof(e.floor_exception), "%s (%s)",
			 allow_rule_format(&cfg->floor_exceptions[d.exception], rule,
					   sizeof(rule)),
			 decide_reason_name(decide_reason_of_floor(d.floor)));
	}
	*ret = e;
	return 0;
}
