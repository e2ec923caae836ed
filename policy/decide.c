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
	case DECIDE_NO_POLICY:
	default:
		snprintf(buf, len, "no-allow-list");
		break;
	}
	return buf;
}
