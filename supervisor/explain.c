/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/explain.c - nbj_explain(): the relay's verdict, without dialling
 *
 * The target is parsed as a client would dial it (policy/target.c), and
 * the address is judged by policy_decide() with the same policy and the
 * same dynamic floor (the host's current addresses) that a job's relay
 * would use.  A host name is resolved like the relay resolves it (c-ares,
 * the host's resolver configuration, all answers) and judged by
 * policy_decide_name() on every answer and the port.
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
 * nbj_explain() - what the relay would decide for @text
 * @cfg:	the job's configuration (policy)
 * @text:	URL, host, host:port, IP, [IPv6]:port
 * @ret:	verdict, reason, host and the address that would be dialled
 *
 * Return: 0 (see @ret->allow), -EINVAL for a malformed target, or a
 * negative errno if the host's addresses cannot be read
 */
int nbj_explain(const struct nbj_config *cfg, const char *text,
		struct nbj_explanation *ret)
{
	struct nbj_policy policy = {
		.allow = cfg->allow,
		.n_allow = cfg->n_allow,
		.floor_exceptions = cfg->floor_exceptions,
		.n_floor_exceptions = cfg->n_floor_exceptions,
	};
	struct nbj_explanation e = { 0 };
	struct host_inventory inv;
	struct nbj_prefix job_nets[2];
	struct floor_ctx floor;
	struct decision d;
	struct target t;
	int err;

	if (target_parse(text, &t) < 0)
		return -EINVAL;
	snprintf(e.host, sizeof(e.host), "%s", t.host);
	e.is_address = t.is_ip;
	e.port = t.port;
	err = link_host_inventory(&inv);
	if (err < 0)
		return err;
	floor.host = inv.addrs;
	floor.n_host = inv.n_addrs;
	job_net_prefixes(job_nets);
	floor.job_nets = job_nets;
	floor.n_job_nets = 2;
	if (t.is_ip) {
		policy_decide(&policy, &floor, &t.addr, &d);
		nbj_addr_format(&t.addr, e.dial, sizeof(e.dial));
	} else {
		struct nbj_addr answers[RESOLVE_ANSWERS_MAX];
		size_t n = 0;
		int status = resolve_blocking(t.host, answers, &n);

		if (status != ARES_SUCCESS && status != ARES_ENOTFOUND &&
		    status != ARES_ENODATA) {
			d = (struct decision){ .reason = DECIDE_RESOLVE_FAILED, .exception = -1 };
		} else {
			policy_decide_name(&policy, &floor, t.host, t.port, answers,
					   status == ARES_SUCCESS ? n : 0, &d);
		}
		for (size_t i = 0; status == ARES_SUCCESS && i < n &&
				   i < ARRAY_SIZE(e.resolved); i++)
			nbj_addr_format(&answers[i], e.resolved[e.n_resolved++],
					sizeof(e.resolved[0]));
		if (d.allow && n) {
			struct nbj_addr pinned = answers[0];

			pinned.port = t.port;
			nbj_addr_format(&pinned, e.dial, sizeof(e.dial));
		}
	}
	link_host_inventory_free(&inv);

	e.allow = d.allow;
	decision_reason_format(&d, e.reason, sizeof(e.reason));
	if (d.exception >= 0) {
		char rule[NBJ_ADDR_STRLEN + 8];

		snprintf(e.floor_exception, sizeof(e.floor_exception), "%s (floor:%s)",
			 allow_rule_format(&cfg->floor_exceptions[d.exception], rule,
					   sizeof(rule)),
			 floor_reason_name(d.floor));
	}
	*ret = e;
	return 0;
}
