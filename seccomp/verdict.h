/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/verdict.h - the supervisor's answer to a notified socket call
 */
#ifndef NBJ_SECCOMP_VERDICT_H
#define NBJ_SECCOMP_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/audit.h"
#include "common/cgroup.h"
#include "policy/policy.h"

/* The system calls the job's filter hands to the supervisor */
enum notify_call {
	NOTIFY_CONNECT,
	NOTIFY_SENDTO,
	NOTIFY_SENDMSG,
	NOTIFY_SENDMMSG,
	NOTIFY_BIND,
	NOTIFY_LISTEN,
	NOTIFY_CALL_COUNT,
};

/**
 * struct notify_scope - what the supervisor knows about one job
 * @policy:	the job's policy (the relay's copy is the same)
 * @floor:	the dynamic floor: host addresses at start, the job pool
 * @has_net:	the job has a veth (net profile)
 * @local:	the job's own addresses (its end of the veth)
 * @n_local:	entries in @local
 * @gateway:	the host end of the veth, where the relay listens
 * @n_gateway:	entries in @gateway
 * @unix_allow:	pathname sockets outside the job's private mounts that
 *		the job may connect to
 * @n_unix_allow: entries in @unix_allow
 * @audit:	the job's statistics and audit writer
 * @selection:	overlay selection per process subtree, NULL when the
 *		policy denies network.select or the host lacks cgroup v2
 * @revoked:	the job was revoked: latched by the supervisor from the
 *		job directory's root-written marker (notifier_revoke()) or
 *		the first time the notifier sees the statistics' word, which
 *		the job's relay can write and so cannot un-revoke
 */
struct notify_scope {
	const struct nbj_policy *policy;
	struct floor_ctx floor;
	bool has_net;
	struct nbj_addr local[2];
	size_t n_local;
	struct nbj_addr gateway[2];
	size_t n_gateway;
	const struct unix_rule *unix_allow;
	size_t n_unix_allow;
	const struct audit_ctx *audit;
	struct job_cgroup *selection;
	bool revoked;
};

/**
 * struct verdict_call - the facts of one notified call besides its address
 * @call:	the system call
 * @sotype:	the socket's type (SOCK_STREAM, ...), 0 when not known yet
 * @selected:	the overlay the caller's process subtree selected, or a
 *		DECIDE_SELECTED_* value (none, unreadable)
 * @over_rate:	a connect over the job's or tenant's connect rate (the
 *		token is taken by the caller, counted even when denied)
 */
struct verdict_call {
	enum notify_call call;
	int sotype;
	int selected;
	bool over_rate;
};

/**
 * struct verdict - the answer to one notified call
 * @deny:	fail the call with -@err; otherwise let the kernel continue
 * @need_type:	ask again with the socket's type
 * @err:	errno for a denied call
 * @reason:	why (enum decide_reason), for the audit line and counters
 * @audit:	a refusal by the policy: counted and audited (a call that
 *		fails as the kernel would fail it is not)
 * @answer:	neither denied nor continued: the call returns 0 at once
 *		(nbjail-select's request, done by the supervisor)
 */
struct verdict {
	bool deny;
	bool answer;
	bool need_type;
	bool audit;
	int err;
	enum decide_reason reason;
};

const char *notify_call_name(enum notify_call call);
bool verdict_is_local(const struct notify_scope *s, const struct nbj_addr *a);
void verdict_facts(const struct notify_scope *s, const struct verdict_call *vc,
		   const struct nbj_addr *target, struct decide_facts *ret);
void verdict_inet(const struct notify_scope *s, const struct verdict_call *vc,
		  const struct nbj_addr *target, struct verdict *ret);

#endif /* NBJ_SECCOMP_VERDICT_H */
