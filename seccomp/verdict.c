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
 * An IPv4 or IPv6 target of connect(), sendto(), sendmsg() and
 * sendmmsg() is judged in this order:
 *
 *   1. the job itself: unspecified, loopback (the job's own lo) and the
 *      job's own addresses continue;
 *   2. a revoked job (`nbjail ctl revoke`, a flag in the job's shared
 *      statistics) reaches nothing else: deny; without a veth (minimal,
 *      compute) nothing else exists: deny;
 *   3. DNS: UDP to port 53 of any address, and TCP to the gateway's port
 *      53, continue: nftables hands both to the relay's DNS stub;
 *   4. a synthetic (fake-IP) address continues when the policy allows
 *      names: only the relay knows which name it stands for;
 *   5. policy_decide(), the relay's own floor and allow-list: a deny is
 *      EACCES with the same reason the relay would log;
 *   6. an allowed target continues for TCP; any other protocol is denied
 *      with reason not-relayed, since the relay carries TCP only.
 *
 * Steps 3 and 6 need the socket's type, which the address does not
 * tell; the first call may then ask for it (verdict.need_type) and the
 * caller asks again with the type, so that the common cases cost no
 * extra system calls.  bind() and listen() judge the local address: the
 * wildcard, loopback and the job's own addresses only.
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

static void deny(struct verdict *v, int err, const char *reason)
{
	v->deny = true;
	v->need_type = false;
	v->err = err;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
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
 * verdict_inet() - judge an IPv4 or IPv6 address of a notified call
 * @s:		the job's scope
 * @call:	the system call
 * @sotype:	the socket's type (SOCK_STREAM, ...), 0 when not known yet
 * @target:	the address, v4-mapped IPv6 addresses as given
 * @ret:	the verdict; when @ret->need_type is set, call again with
 *		@sotype filled in
 */
void verdict_inet(const struct notify_scope *s, enum notify_call call,
		  int sotype, const struct nbj_addr *target, struct verdict *ret)
{
	struct nbj_addr mapped;
	const struct nbj_addr *a = target;
	struct decision d;
	char why[32];

	memset(ret, 0, sizeof(*ret));
	if (nbj_addr_unmap_v4(target, &mapped))
		a = &mapped;

	if (call == NOTIFY_BIND || call == NOTIFY_LISTEN) {
		if (!is_local(s, a))
			deny(ret, EACCES, "bind-foreign-address");
		return;
	}

	if (is_local(s, a))
		return;
	if (s->audit && s->audit->stats && atomic_load(&s->audit->stats->revoked)) {
		deny(ret, EACCES, "revoked");
		return;
	}
	if (!s->has_net) {
		deny(ret, EACCES, "no-network");
		return;
	}

	if (a->port == 53) {
		if (in_list(a, s->gateway, s->n_gateway) && sotype == SOCK_STREAM)
			return;
		if (!sotype) {
			ret->need_type = true;
			return;
		}
		if (sotype == SOCK_DGRAM)
			return;
	}

	if (nbj_addr_is_synthetic(a) && policy_has_names(s->policy)) {
		if (!sotype) {
			ret->need_type = true;
			return;
		}
		if (sotype != SOCK_STREAM)
			deny(ret, EACCES, "not-relayed");
		return;
	}

	policy_decide_routed(s->policy, &s->floor, a, &d);
	if (!d.allow) {
		deny(ret, EACCES, decision_reason_format(&d, why, sizeof(why)));
		return;
	}
	if (!sotype) {
		ret->need_type = true;
		return;
	}
	if (sotype != SOCK_STREAM)
		deny(ret, EACCES, "not-relayed");
}
