/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/explain.c - nbj_explain(): the relay's verdict, without dialling
 *
 * The target is parsed as a client would dial it (policy/target.c), and
 * the address is judged by policy_decide() with the same policy and the
 * same dynamic floor (the host's current addresses) that a job's relay
 * would use.  Host names cannot be resolved in this version: the relay
 * answers every DNS query REFUSED, so a job cannot reach a name, and
 * explain says so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netns/link.h"
#include "policy/target.h"
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
	struct floor_ctx floor;
	struct decision d;
	struct target t;
	int err;

	if (target_parse(text, &t) < 0)
		return -EINVAL;
	snprintf(e.host, sizeof(e.host), "%s", t.host);
	e.is_address = t.is_ip;
	e.port = t.port;
	if (!t.is_ip) {
		snprintf(e.reason, sizeof(e.reason), "names-unsupported");
		*ret = e;
		return 0;
	}
	err = link_host_inventory(&inv);
	if (err < 0)
		return err;
	floor.host = inv.addrs;
	floor.n_host = inv.n_addrs;
	policy_decide(&policy, &floor, &t.addr, &d);
	link_host_inventory_free(&inv);

	e.allow = d.allow;
	nbj_addr_format(&t.addr, e.dial, sizeof(e.dial));
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
