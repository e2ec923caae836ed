/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/overlay.c - the overlay registry and routes: how a flow is dialled
 *
 * Theory of operation: after the floor and the allow-list have let a flow
 * through, `routes:` picks how it is dialled: the first route whose
 * pattern matches the name (or, for a literal address, the address) names
 * an overlay, else the policy's default overlay.  Overlay 0 is always
 * "direct".  Names under .onion and .i2p exist only inside their overlay
 * networks: routed direct they are refused (overlay-required), and never
 * resolved by the host.  Pure functions; the relay does the dialling.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "policy/policy.h"

/**
 * policy_route_name() - the overlay a name:port is dialled through
 * @p:		the job's policy
 * @name:	normalized name
 * @port:	port
 *
 * Return: overlay index (OVERLAY_DIRECT_INDEX without a registry)
 */
unsigned policy_route_name(const struct nbj_policy *p, const char *name,
			   uint16_t port)
{
	return policy_route_name_from(p, name, port, p ? p->default_overlay : 0);
}

/**
 * policy_route_name_from() - policy_route_name() for a process subtree
 * that selected overlay @dflt instead of the job's default
 * @p:		the job's policy
 * @name:	normalized name
 * @port:	port
 * @dflt:	the overlay when no route matches
 *
 * Return: overlay index (OVERLAY_DIRECT_INDEX without a registry)
 */
unsigned policy_route_name_from(const struct nbj_policy *p, const char *name,
				uint16_t port, unsigned dflt)
{
	if (!p || !p->overlays)
		return OVERLAY_DIRECT_INDEX;
	for (size_t i = 0; i < p->n_routes; i++)
		if (p->routes[i].match.kind != ALLOW_ADDR &&
		    allow_match_name(&p->routes[i].match, name, port))
			return p->routes[i].overlay;
	return dflt < p->n_overlays ? dflt : p->default_overlay;
}

/**
 * policy_route_addr() - the overlay a literal address is dialled through
 * @p:		the job's policy
 * @a:		address and port
 *
 * Return: overlay index
 */
unsigned policy_route_addr(const struct nbj_policy *p, const struct nbj_addr *a)
{
	return policy_route_addr_from(p, a, p ? p->default_overlay : 0);
}

/**
 * policy_route_addr_from() - policy_route_addr() for a process subtree
 * that selected overlay @dflt instead of the job's default
 * @p:		the job's policy
 * @a:		address and port
 * @dflt:	the overlay when no route matches
 *
 * Return: overlay index
 */
unsigned policy_route_addr_from(const struct nbj_policy *p, const struct nbj_addr *a,
				unsigned dflt)
{
	if (!p || !p->overlays)
		return OVERLAY_DIRECT_INDEX;
	for (size_t i = 0; i < p->n_routes; i++)
		if (p->routes[i].match.kind == ALLOW_ADDR &&
		    allow_match(&p->routes[i].match, a))
			return p->routes[i].overlay;
	return dflt < p->n_overlays ? dflt : p->default_overlay;
}

static bool ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && name[n - s - 1] == '.' && !strcasecmp(name + n - s, suffix);
}

/**
 * policy_name_needs_overlay() - names that exist only inside an overlay
 * network (.onion, .i2p) and must never be resolved or dialled direct
 * @name:	normalized name
 *
 * Return: true for such a name
 */
bool policy_name_needs_overlay(const char *name)
{
	return ends_with(name, "onion") || ends_with(name, "i2p") ||
	       !strcasecmp(name, "onion") || !strcasecmp(name, "i2p");
}

/**
 * policy_overlay_name() - an overlay's name, for logs and audit events
 * @p:		the job's policy
 * @index:	overlay index
 *
 * Return: the name ("direct" without a registry)
 */
const char *policy_overlay_name(const struct nbj_policy *p, unsigned index)
{
	if (!p || !p->overlays || index >= p->n_overlays)
		return "direct";
	return p->overlays[index].name;
}

/**
 * policy_name_port_allowed() - does an allow rule grant name:port?  For
 * names dialled through an overlay, which resolves them itself: the
 * floor cannot judge addresses the host never sees
 * @p:		the job's policy
 * @name:	normalized name
 * @port:	port
 *
 * Return: true if a name rule matches
 */
bool policy_name_port_allowed(const struct nbj_policy *p, const char *name,
			      uint16_t port)
{
	for (size_t i = 0; p && name[0] && i < p->n_allow; i++)
		if (allow_match_name(&p->allow[i], name, port))
			return true;
	return false;
}

/**
 * overlay_kind_parse() - set an overlay's kind, with the presets it implies
 * @s:		"direct", "socks5", "tor", "http-connect", "tailscale" or "i2p"
 * @ret:	overlay whose kind (and, for tor and i2p, proxy and isolation)
 *		is set
 *
 * Return: 0, or -EINVAL for another kind
 */
int overlay_kind_parse(const char *s, struct overlay *ret)
{
	if (!strcmp(s, "direct")) {
		ret->kind = OVERLAY_DIRECT;
	} else if (!strcmp(s, "socks5")) {
		ret->kind = OVERLAY_SOCKS5;
	} else if (!strcmp(s, "tor")) {
		/* tor's SOCKS port, a new circuit per connection */
		ret->kind = OVERLAY_SOCKS5;
		ret->proxy.family = AF_INET;
		ret->proxy.v4.s_addr = htonl(INADDR_LOOPBACK);
		ret->proxy.port = 9050;
		ret->isolate_streams = true;
	} else if (!strcmp(s, "http-connect")) {
		ret->kind = OVERLAY_HTTP_CONNECT;
	} else if (!strcmp(s, "tailscale")) {
		ret->kind = OVERLAY_TAILSCALE;
		snprintf(ret->interface, sizeof(ret->interface), "tailscale0");
	} else if (!strcmp(s, "i2p")) {
		/* the SAM bridge's default address */
		ret->kind = OVERLAY_I2P;
		ret->proxy.family = AF_INET;
		ret->proxy.v4.s_addr = htonl(INADDR_LOOPBACK);
		ret->proxy.port = 7656;
	} else {
		return -EINVAL;
	}
	return 0;
}

/**
 * overlay_via_proxy() - is an overlay dialled through a proxy's handshake
 * (socks5, tor, http-connect, i2p's SAM bridge, tailscaled's SOCKS5 or
 * HTTP proxy), which resolves names itself, rather than by the relay
 * (direct, tailscale bound to its interface)?
 * @o:		the overlay
 *
 * Return: true for a proxy
 */
bool overlay_via_proxy(const struct overlay *o)
{
	return o->kind == OVERLAY_SOCKS5 || o->kind == OVERLAY_HTTP_CONNECT ||
	       o->kind == OVERLAY_I2P || (o->kind == OVERLAY_TAILSCALE && o->proxy.family);
}

/**
 * policy_decide_routed() - policy_decide(), knowing the routes: an address
 * of the tailnet (100.64.0.0/10, floor class cgnat) routed to a tailscale
 * overlay is judged by the allow-list alone; routed anywhere else it stays
 * in the floor.  No other floor class is ever waived by a route.
 * @p:		the job's policy
 * @fc:		the dynamic floor
 * @target:	address and port
 * @ret:	verdict
 */
void policy_decide_routed(const struct nbj_policy *p, const struct floor_ctx *fc,
			  const struct nbj_addr *target, struct decision *ret)
{
	unsigned ov;

	policy_decide(p, fc, target, ret);
	if (ret->allow || ret->reason != DECIDE_FLOOR || ret->floor != FLOOR_CGNAT)
		return;
	ov = policy_route_addr(p, target);
	if (!p->overlays || ov >= p->n_overlays || p->overlays[ov].kind != OVERLAY_TAILSCALE)
		return;
	ret->reason = p->n_allow ? DECIDE_NOT_ALLOWED : DECIDE_NO_POLICY;
	for (size_t i = 0; i < p->n_allow; i++)
		if (allow_match(&p->allow[i], target)) {
			ret->allow = true;
			ret->reason = DECIDE_ALLOWED;
			break;
		}
}

/**
 * select_port_range() - the source ports of an overlay's traffic when
 * overlays are selected per process subtree
 * @index:	overlay index (< OVERLAYS_MAX)
 * @lo:		first port
 * @hi:		last port
 */
void select_port_range(unsigned index, uint16_t *lo, uint16_t *hi)
{
	*lo = (uint16_t)(SELECT_PORT_BASE + index * SELECT_PORT_SPAN);
	*hi = (uint16_t)(*lo + SELECT_PORT_SPAN - 1);
}

/**
 * select_overlay_of_port() - the overlay a source port stands for
 * @port:	the job's source port, as the relay sees it
 *
 * Return: overlay index, or -1 for a port outside every range (traffic
 * nobody marked: refused)
 */
int select_overlay_of_port(uint16_t port)
{
	if (port < SELECT_PORT_BASE ||
	    port >= SELECT_PORT_BASE + OVERLAYS_MAX * SELECT_PORT_SPAN)
		return -1;
	return (port - SELECT_PORT_BASE) / SELECT_PORT_SPAN;
}
