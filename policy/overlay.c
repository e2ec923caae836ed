/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/overlay.c - the overlay registry and routes: how a flow is dialled
 *
 * Theory of operation: `routes:` picks how a flow is dialled: the first
 * route whose pattern matches the name (or, for a literal address, the
 * address) names an overlay, else the overlay the process selected, else
 * the policy's default overlay: policy_flow_overlay() in policy/decide.c,
 * the one helper every decision and dial uses.  Overlay 0 is always
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
