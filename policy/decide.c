/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/decide.c - policy_decide(): the one decision for every connection
 *
 * Order: floor (never reachable, unless an operator's floor exception
 * names the target; the exception is reported so the caller can audit its
 * use) -> allow-list (an empty list grants nothing; an exception does not
 * replace an allow rule) -> allowed.  Rates come next, in this same
 * function, when they exist.  Pure: no I/O, no state.
 */
#include <stdio.h>

#include "policy/policy.h"

/**
 * policy_decide() - decide whether the job may connect to @target
 * @p:		the job's policy
 * @fc:		the dynamic floor (host addresses), may be NULL
 * @target:	destination address and port
 * @ret:	verdict and reason
 */
void policy_decide(const struct nbj_policy *p, const struct floor_ctx *fc,
		   const struct nbj_addr *target, struct decision *ret)
{
	struct decision d = { .allow = false, .floor = FLOOR_NONE, .exception = -1 };

	d.floor = floor_classify(target, fc);
	for (size_t i = 0; d.floor != FLOOR_NONE && p && i < p->n_floor_exceptions; i++) {
		if (allow_match(&p->floor_exceptions[i], target)) {
			d.exception = (int)i;
			break;
		}
	}
	if (d.floor != FLOOR_NONE && d.exception < 0) {
		d.reason = DECIDE_FLOOR;
	} else if (!p || !p->n_allow) {
		d.reason = DECIDE_NO_POLICY;
	} else {
		d.reason = DECIDE_NOT_ALLOWED;
		for (size_t i = 0; i < p->n_allow; i++) {
			if (allow_match(&p->allow[i], target)) {
				d.allow = true;
				d.reason = DECIDE_ALLOWED;
				break;
			}
		}
	}
	*ret = d;
}

/**
 * policy_decide_name() - decide a connection to a host name, given every
 * address the name resolved to
 * @p:		the job's policy
 * @fc:		the dynamic floor, may be NULL
 * @name:	normalized host name
 * @port:	destination port
 * @answers:	every address the resolver returned
 * @n_answers:	their number
 * @ret:	verdict and reason; on a floor deny, @ret->floor is the class
 *		of the first internal answer
 *
 * Order: every answer is classified and one internal answer (not covered
 * by a floor exception) denies the name as a whole, whatever else it
 * resolves to; then the name and port must match a name rule.
 */
void policy_decide_name(const struct nbj_policy *p, const struct floor_ctx *fc,
			const char *name, uint16_t port,
			const struct nbj_addr *answers, size_t n_answers,
			struct decision *ret)
{
	struct decision d = { .allow = false, .floor = FLOOR_NONE, .exception = -1 };
	unsigned ov = policy_route_name(p, name, port);
	/* a name dialled through a tailscale overlay may resolve into the
	 * tailnet (100.64.0.0/10); nothing else of the floor is waived */
	bool tailnet = p && p->overlays && ov < p->n_overlays &&
		       p->overlays[ov].kind == OVERLAY_TAILSCALE;

	if (!n_answers) {
		d.reason = DECIDE_NO_ANSWER;
		*ret = d;
		return;
	}
	for (size_t i = 0; i < n_answers; i++) {
		struct decision a;

		policy_decide(p, fc, &answers[i], &a);
		if (a.reason == DECIDE_FLOOR && !(tailnet && a.floor == FLOOR_CGNAT)) {
			*ret = a;
			return;
		}
		if (a.exception >= 0 && d.exception < 0) {
			d.exception = a.exception;
			d.floor = a.floor;
		}
	}
	d.reason = DECIDE_NOT_ALLOWED;
	for (size_t i = 0; p && i < p->n_allow; i++) {
		if (allow_match_name(&p->allow[i], name, port)) {
			d.allow = true;
			d.reason = DECIDE_ALLOWED;
			break;
		}
	}
	*ret = d;
}

/**
 * policy_name_allowed() - may the job resolve @name at all (any port)?
 * @p:		the job's policy
 * @name:	normalized host name
 *
 * Return: true if a name rule matches @name on some port
 */
bool policy_name_allowed(const struct nbj_policy *p, const char *name)
{
	for (size_t i = 0; p && name[0] && i < p->n_allow; i++)
		if (allow_match_name(&p->allow[i], name, 0))
			return true;
	return false;
}

/**
 * policy_has_names() - does the allow-list name any host?  If not, the
 * job's DNS is off: every query is refused.
 * @p:	the job's policy
 *
 * Return: true if there is at least one name rule
 */
bool policy_has_names(const struct nbj_policy *p)
{
	for (size_t i = 0; p && i < p->n_allow; i++)
		if (p->allow[i].kind != ALLOW_ADDR)
			return true;
	return false;
}

/**
 * decision_reason_format() - the reason as logged: "allowed",
 * "floor:<class>", "not-allowed" or "no-allow-list"
 * @d:		decision
 * @buf:	output
 * @len:	size of @buf (32 is enough)
 *
 * Return: @buf
 */
const char *decision_reason_format(const struct decision *d, char *buf,
				   size_t len)
{
	switch (d->reason) {
	case DECIDE_ALLOWED:
		snprintf(buf, len, "allowed");
		break;
	case DECIDE_FLOOR:
		snprintf(buf, len, "floor:%s", floor_reason_name(d->floor));
		break;
	case DECIDE_NOT_ALLOWED:
		snprintf(buf, len, "not-allowed");
		break;
	case DECIDE_NO_ANSWER:
		snprintf(buf, len, "no-answer");
		break;
	case DECIDE_RESOLVE_FAILED:
		snprintf(buf, len, "resolve-failed");
		break;
	case DECIDE_REBINDING:
		snprintf(buf, len, "rebinding");
		break;
	case DECIDE_UNKNOWN_SYNTHETIC:
		snprintf(buf, len, "unknown-synthetic");
		break;
	case DECIDE_SNI_MISMATCH:
		snprintf(buf, len, "sni-mismatch");
		break;
	case DECIDE_NO_POLICY:
	default:
		snprintf(buf, len, "no-allow-list");
		break;
	}
	return buf;
}
