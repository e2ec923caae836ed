/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp/verdict.c - what the supervisor answers a notified socket call
 *
 * Theory of operation: pure functions, no I/O.  seccomp/notify.c reads
 * the call's address out of the job's memory and asks here; the answer
 * is "continue" (the kernel carries the call out, and nftables plus the
 * relay judge the flow again on the kernel path) or "deny" with an errno
 * and a reason for the audit line.
 *
 * An IPv4 or IPv6 target of connect(), sendto(), sendmsg(),
 * sendmmsg(), bind() and listen() is judged by policy_decide() (lane
 * notify; the order is in policy/decide.c): verdict_facts() only gathers
 * what the supervisor knows (the job's own addresses, its resolver,
 * whether it has a network, the revocation flag, the caller's overlay
 * selection, the socket type, the connect rate) and verdict_inet() turns
 * the decision into an answer: continue, EACCES with the same reason the
 * relay would log, or "ask again with the socket's type".
 *
 * The socket's type is not in the address; the first call may then ask
 * for it (verdict.need_type) and the caller asks again with the type, so
 * that the common cases cost no extra system calls.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "seccomp/verdict.h"

static const char *const call_names[NOTIFY_CALL_COUNT] = {
	[NOTIFY_CONNECT] = "connect",
	[NOTIFY_SENDTO] = "sendto",
	[NOTIFY_SENDMSG] = "sendmsg",
	[NOTIFY_SENDMMSG] = "sendmmsg",
	[NOTIFY_BIND] = "bind",
	[NOTIFY_LISTEN] = "listen",
};

/**
 * notify_call_name() - the system call's name, for audit lines
 * @call:	call
 *
 * Return: a static string
 */
const char *notify_call_name(enum notify_call call)
{
	return call < NOTIFY_CALL_COUNT ? call_names[call] : "?";
}

static bool is_unspecified(const struct nbj_addr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->family == AF_INET)
		return a->v4.s_addr == 0;
	return !memcmp(&a->v6, &any6, sizeof(any6));
}

static bool is_loopback(const struct nbj_addr *a)
{
	static const struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;

	if (a->family == AF_INET)
		return (ntohl(a->v4.s_addr) >> 24) == 127;
	return !memcmp(&a->v6, &lo6, sizeof(lo6));
}

static bool in_list(const struct nbj_addr *a, const struct nbj_addr *list,
		    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (nbj_addr_equal_ip(a, &list[i]))
			return true;
	return false;
}

/* The job's own addresses: nothing leaves the job's netns for them */
static bool is_local(const struct notify_scope *s, const struct nbj_addr *a)
{
	return is_unspecified(a) || is_loopback(a) ||
	       in_list(a, s->local, s->n_local);
}

/**
 * verdict_is_local() - whether an address is the job's own (loopback,
 * unspecified, its end of the veth), also v4-mapped
 * @s:		the job's scope
 * @a:		address
 *
 * Return: true if nothing leaves the job for it
 */
bool verdict_is_local(const struct notify_scope *s, const struct nbj_addr *a)
{
	struct nbj_addr mapped;

	if (nbj_addr_unmap_v4(a, &mapped))
		a = &mapped;
	return is_local(s, a);
}

/**
 * verdict_facts() - what the supervisor knows of a notified call, for
 * policy_decide()
 * @s:		the job's scope
 * @vc:		the call, its socket type, the caller's selection, its rate
 * @target:	the address, v4-mapped IPv6 addresses as given
 * @ret:	the facts (lane notify)
 */
void verdict_facts(const struct notify_scope *s, const struct verdict_call *vc,
		   const struct nbj_addr *target, struct decide_facts *ret)
{
	struct nbj_addr mapped;
	const struct nbj_addr *a = target;

	if (nbj_addr_unmap_v4(target, &mapped))
		a = &mapped;
	*ret = (struct decide_facts){
		.lane = DECIDE_LANE_NOTIFY,
		.policy = s->policy,
		.floor = &s->floor,
		.addr = *a,
		.port = a->port,
		.synthetic = nbj_addr_is_synthetic(a),
		.selected = vc->selected,
		.revoked = s->revoked,
		.over_rate = vc->over_rate,
		.is_local = is_local(s, a),
		.is_resolver = in_list(a, s->gateway, s->n_gateway),
		.has_net = s->has_net,
		.bind = vc->call == NOTIFY_BIND || vc->call == NOTIFY_LISTEN,
		.sotype = vc->sotype,
	};
}

/**
 * verdict_inet() - judge an IPv4 or IPv6 address of a notified call
 * @s:		the job's scope
 * @vc:		the call, its socket type (0 when not known yet), the
 *		caller's selection, its rate
 * @target:	the address, v4-mapped IPv6 addresses as given
 * @ret:	the verdict; when @ret->need_type is set, call again with
 *		@vc->sotype filled in
 */
void verdict_inet(const struct notify_scope *s, const struct verdict_call *vc,
		  const struct nbj_addr *target, struct verdict *ret)
{
	struct decide_facts f;
	struct decision d;

	verdict_facts(s, vc, target, &f);
	policy_decide(&f, &d);
	memset(ret, 0, sizeof(*ret));
	ret->reason = d.reason;
	switch (d.verdict) {
	case VERDICT_ALLOW:
		break;
	case VERDICT_NEED_TYPE:
		ret->need_type = true;
		break;
	case VERDICT_DENY:
	default:
		ret->deny = true;
		ret->audit = true;
		ret->err = d.reason == DECIDE_RATE ? ECONNREFUSED : EACCES;
		break;
	}
}
