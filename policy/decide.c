/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/decide.c - policy_decide(): the one decision for every flow
 *
 * DOC: Theory of operation
 *
 * Every place that lets traffic of a job through or not (the seccomp
 * notifier at the socket call, the relay's TCP accept and its DNS stub,
 * an inbound connection on a published port, and `nbjail explain`)
 * gathers the facts it knows into a struct decide_facts and calls
 * policy_decide().  Nothing else decides: the callers act on the verdict
 * (continue, dial, answer, refuse) and log the reason.  Pure: no I/O, no
 * state, no allocation.
 *
 * The overlay of a flow comes first, from one helper, policy_flow_overlay():
 * the first route whose pattern matches the name (or, for a literal
 * address, the address), else the overlay the calling process subtree
 * selected (nbjail-select), else the policy's default.  The floor is then
 * judged with that overlay: the tailnet's 100.64.0.0/10 (floor class
 * cgnat) is reachable through a tailscale overlay only, so a process that
 * selected "direct" never gets the waiver its job's default would grant.
 *
 * Order per lane (the first step that applies decides):
 *
 *   notify   bind/listen: a local address or bind-foreign-address; the
 *            job's own addresses continue; rate; revoked; no-network;
 *            DNS (UDP/53 anywhere, TCP/53 at the resolver) continues;
 *            the selection must be readable (select-unknown); a
 *            synthetic address continues for TCP when the policy has
 *            names; the address: floor (with the overlay) -> allow-list;
 *            TCP continues, anything else is not-relayed
 *   connect  revoked; floor-unknown; select-unmarked; unknown-synthetic;
 *            rebinding; then for an address: floor -> allow-list -> rate
 *            -> the overlay must carry it (i2p: names under .i2p only);
 *            for a name: rate -> overlay-required (.onion, .i2p direct)
 *            -> the overlay must carry it -> through a proxy, the
 *            allow-list alone (the proxy resolves) -> else the answers:
 *            one internal answer denies the name (floor, waived for cgnat
 *            through tailscale) -> the allow-list on name and port
 *   dns      no-allow-list (DNS is off without name rules); revoked;
 *            not-allowed (no rule for the name on any port); a query
 *            for other types gets an empty answer; select-unmarked;
 *            overlay-required; rebinding; through a proxy overlay,
 *            allowed without resolving; else the answers, judged as for
 *            connect on every port
 *   udp      revoked; not-relayed (the relay carries TCP and DNS only)
 *   publish  revoked; rate
 *   dock     revoked; floor-unknown; the flow's overlay must be direct
 *            (the dock dials itself: a route or default through a proxy
 *            overlay denies, overlay-failed); then for an address: floor
 *            -> allow-list -> rate; for a name: the allow-list on name
 *            and port first (a name nobody may reach is never resolved),
 *            then the answers: one internal answer denies the name
 *            (floor) -> rate
 *   inbound  revoked (503); the limit the request broke while being read:
 *            malformed (400), header-too-large (431), body-too-large
 *            (413), header-timeout (408); the client address's rate
 *            (429); the concurrency cap, flow-table-full (503);
 *            decide_http_status() maps each reason to its status
 */
#include <assert.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "policy/policy.h"

static const char *const reason_names[] = {
	[DECIDE_ALLOWED] = "allowed",
	[DECIDE_NOT_ALLOWED] = "not-allowed",
	[DECIDE_NO_POLICY] = "no-allow-list",
	[DECIDE_NO_ANSWER] = "no-answer",
	[DECIDE_RESOLVE_FAILED] = "resolve-failed",
	[DECIDE_REBINDING] = "rebinding",
	[DECIDE_UNKNOWN_SYNTHETIC] = "unknown-synthetic",
	[DECIDE_SNI_MISMATCH] = "sni-mismatch",
	[DECIDE_NOT_RELAYED] = "not-relayed",
	[DECIDE_NO_NETWORK] = "no-network",
	[DECIDE_BIND_FOREIGN] = "bind-foreign-address",
	[DECIDE_UNIX_PATH] = "unix-path",
	[DECIDE_UNIX_ANCILLARY] = "unix-ancillary",
	[DECIDE_UNIX_SENDMMSG] = "unix-sendmmsg",
	[DECIDE_UNIX_CREDS] = "unix-creds",
	[DECIDE_UNIX_HELPER] = "unix-helper",
	[DECIDE_UNIX_PATH_CHANGED] = "unix-path-changed",
	[DECIDE_UNIX_PATH_UNRESOLVABLE] = "unix-path-unresolvable",
	[DECIDE_ADDRESS_FAMILY] = "address-family",
	[DECIDE_SOCKET_TYPE_UNKNOWN] = "socket-type-unknown",
	[DECIDE_RATE] = "rate",
	[DECIDE_REVOKED] = "revoked",
	[DECIDE_SUPERVISOR_TIMEOUT] = "supervisor-timeout",
	[DECIDE_FLOOR_UNKNOWN] = "floor-unknown",
	[DECIDE_DIAL_FAILED] = "dial-failed",
	[DECIDE_FLOW_TABLE_FULL] = "flow-table-full",
	[DECIDE_REFUSED] = "refused",
	[DECIDE_MALFORMED] = "malformed",
	[DECIDE_OVERLAY_REQUIRED] = "overlay-required",
	[DECIDE_OVERLAY_FAILED] = "overlay-failed",
	[DECIDE_FLOOR_UNSPECIFIED] = "floor:unspecified",
	[DECIDE_FLOOR_LOOPBACK] = "floor:loopback",
	[DECIDE_FLOOR_PRIVATE] = "floor:private",
	[DECIDE_FLOOR_LINK_LOCAL] = "floor:link-local",
	[DECIDE_FLOOR_METADATA] = "floor:metadata",
	[DECIDE_FLOOR_CGNAT] = "floor:cgnat",
	[DECIDE_FLOOR_IETF] = "floor:ietf-protocol",
	[DECIDE_FLOOR_BENCHMARK] = "floor:benchmark",
	[DECIDE_FLOOR_MULTICAST] = "floor:multicast",
	[DECIDE_FLOOR_RESERVED] = "floor:reserved",
	[DECIDE_FLOOR_HOST] = "floor:host-address",
	[DECIDE_FLOOR_BAD_ENCODING] = "floor:internal-encoding",
	[DECIDE_FLOOR_JOB_NETWORK] = "floor:job-network",
	[DECIDE_SNI_MISSING] = "sni-missing",
	[DECIDE_DNS_RATE] = "dns-rate",
	[DECIDE_SELECT_UNMARKED] = "select-unmarked",
	[DECIDE_SELECT_UNKNOWN] = "select-unknown",
	[DECIDE_SELECT_MARK_FAILED] = "select-mark-failed",
	[DECIDE_SELECT_DENIED] = "select-denied",
	[DECIDE_SELECT_UNKNOWN_OVERLAY] = "select-unknown-overlay",
	[DECIDE_SELECT_UNSUPPORTED] = "select-unsupported",
	[DECIDE_SELECT_FAILED] = "select-failed",
	[DECIDE_NO_ORIGINAL_DST] = "no-original-dst",
	[DECIDE_NOT_IMPLEMENTED] = "not-implemented",
	[DECIDE_NO_SUCH_KEY] = "no-such-key",
	[DECIDE_BODY_TOO_LARGE] = "body-too-large",
	[DECIDE_HEADER_TOO_LARGE] = "header-too-large",
	[DECIDE_HEADER_TIMEOUT] = "header-timeout",
	[DECIDE_CREDENTIAL_LEAK] = "credential-leak",
	[DECIDE_HTTP_RULE] = "http-rule",
	[DECIDE_HOST_MISMATCH] = "host-mismatch",
	[DECIDE_HTTP_MALFORMED] = "http-malformed",
	[DECIDE_UPSTREAM_TLS] = "upstream-tls",
	[DECIDE_CREDENTIAL_UNAVAILABLE] = "credential-unavailable",
	[DECIDE_OTHER] = "other",
};

static_assert(ARRAY_SIZE(reason_names) == DECIDE_REASON_COUNT,
	      "every enum decide_reason has a name");
static_assert(DECIDE_FLOOR_JOB_NETWORK - DECIDE_FLOOR_UNSPECIFIED ==
	      FLOOR_JOB_NETWORK - FLOOR_UNSPECIFIED,
	      "one floor reason per floor class, in its order");

/**
 * decide_reason_name() - a reason as logs, audit events and counters
 * name it ("allowed", "floor:metadata", "rate", ...)
 * @r:		reason
 *
 * Return: a static string; "other" out of range
 */
const char *decide_reason_name(enum decide_reason r)
{
	if ((unsigned)r < DECIDE_REASON_COUNT && reason_names[r])
		return reason_names[r];
	return reason_names[DECIDE_OTHER];
}

/**
 * decide_reason_of_floor() - the reason of a floor class
 * @f:		class, not FLOOR_NONE
 *
 * Return: DECIDE_FLOOR_<class>; DECIDE_OTHER for FLOOR_NONE or out of range
 */
enum decide_reason decide_reason_of_floor(enum floor_reason f)
{
	if (f <= FLOOR_NONE || f >= FLOOR_REASON_COUNT)
		return DECIDE_OTHER;
	return (enum decide_reason)(DECIDE_FLOOR_UNSPECIFIED + (f - FLOOR_UNSPECIFIED));
}

/**
 * decide_reason_is_floor() - is a reason a floor class ("floor:...")?
 * @r:		reason
 *
 * Return: true for DECIDE_FLOOR_UNSPECIFIED .. DECIDE_FLOOR_JOB_NETWORK
 */
bool decide_reason_is_floor(enum decide_reason r)
{
	return r >= DECIDE_FLOOR_UNSPECIFIED && r <= DECIDE_FLOOR_JOB_NETWORK;
}

/**
 * policy_flow_overlay() - the overlay a flow is dialled through: the
 * first route matching the name (or, for a literal address, the
 * address), else the process subtree's selection, else the default
 * @p:		the job's policy
 * @name:	normalized name, or NULL for a literal address
 * @addr:	the literal address (and port) when @name is NULL
 * @port:	destination port (0: a DNS query, routes of any port)
 * @selected:	the overlay the caller's subtree selected, or a negative
 *		DECIDE_SELECTED_* for none
 *
 * Every decision and every dial use this one function, so that the
 * overlay that is judged is the overlay that is dialled.
 *
 * Return: overlay index (OVERLAY_DIRECT_INDEX without a registry)
 */
unsigned policy_flow_overlay(const struct nbj_policy *p, const char *name,
			     const struct nbj_addr *addr, uint16_t port, int selected)
{
	if (!p || !p->overlays)
		return OVERLAY_DIRECT_INDEX;
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct allow_rule *m = &p->routes[i].match;

		if (name ? m->kind != ALLOW_ADDR && allow_match_name(m, name, port)
			 : m->kind == ALLOW_ADDR && addr && allow_match(m, addr))
			return p->routes[i].overlay;
	}
	if (selected >= 0 && (size_t)selected < p->n_overlays)
		return (unsigned)selected;
	return p->default_overlay < p->n_overlays ? p->default_overlay
						  : OVERLAY_DIRECT_INDEX;
}

static const struct overlay *overlay_of(const struct nbj_policy *p, unsigned ov)
{
	if (!p || !p->overlays || ov == OVERLAY_DIRECT_INDEX || ov >= p->n_overlays)
		return NULL;
	return &p->overlays[ov];
}

static bool name_is_i2p(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 4 && !strcasecmp(name + n - 4, ".i2p");
}

static void deny(struct decision *d, enum decide_reason r)
{
	d->verdict = VERDICT_DENY;
	d->reason = r;
	d->dial = DIAL_NONE;
}

static void allow(struct decision *d, enum decide_dial dial)
{
	d->verdict = VERDICT_ALLOW;
	d->reason = DECIDE_ALLOWED;
	d->dial = dial;
}

/*
 * The floor for one address dialled through overlay @ov: its class, and
 * whether it stays closed.  An operator's floor exception opens it
 * (noted in @d->exception, to be audited on use); a tailscale overlay
 * opens the tailnet's cgnat range, nothing else.
 */
static bool floor_closed(const struct decide_facts *f, const struct nbj_addr *a,
			 unsigned ov, struct decision *d, enum floor_reason *ret)
{
	const struct nbj_policy *p = f->policy;
	const struct overlay *o = overlay_of(p, ov);
	enum floor_reason cls = floor_classify(a, f->floor);

	*ret = cls;
	if (cls == FLOOR_NONE)
		return false;
	for (size_t i = 0; p && i < p->n_floor_exceptions; i++)
		if (allow_match(&p->floor_exceptions[i], a)) {
			if (d->exception < 0) {
				d->exception = (int)i;
				d->floor = cls;
			}
			return false;
		}
	if (cls == FLOOR_CGNAT && o && o->kind == OVERLAY_TAILSCALE) {
		if (d->floor == FLOOR_NONE)
			d->floor = cls;
		return false;
	}
	return true;
}

/* A literal address: floor (with the flow's overlay), then the allow-list.
 * False when denied (@d says why). */
static bool address_allowed(const struct decide_facts *f, unsigned ov,
			    struct decision *d)
{
	const struct nbj_policy *p = f->policy;
	enum floor_reason cls;

	if (floor_closed(f, &f->addr, ov, d, &cls)) {
		d->floor = cls;
		deny(d, decide_reason_of_floor(cls));
		return false;
	}
	if (!p || !p->n_allow) {
		deny(d, DECIDE_NO_POLICY);
		return false;
	}
	for (size_t i = 0; i < p->n_allow; i++)
		if (allow_match(&p->allow[i], &f->addr))
			return true;
	deny(d, DECIDE_NOT_ALLOWED);
	return false;
}

/* Does a name rule grant @name on @port (0: on some port)? */
static bool name_allowed(const struct nbj_policy *p, const char *name, uint16_t port)
{
	for (size_t i = 0; p && name && name[0] && i < p->n_allow; i++)
		if (allow_match_name(&p->allow[i], name, port))
			return true;
	return false;
}

/* Every answer of a name through overlay @ov: one internal answer denies
 * the name as a whole, whatever else it resolves to.  False when denied. */
static bool answers_public(const struct decide_facts *f, unsigned ov,
			   struct decision *d)
{
	for (size_t i = 0; i < f->n_answers; i++) {
		enum floor_reason cls;

		if (floor_closed(f, &f->answers[i], ov, d, &cls)) {
			d->floor = cls;
			d->exception = -1;
			deny(d, decide_reason_of_floor(cls));
			return false;
		}
	}
	return true;
}

/* The answers of a name are known or not: resolve, deny, or go on */
static bool answers_ready(const struct decide_facts *f, struct decision *d)
{
	switch (f->answers_state) {
	case DECIDE_ANSWERS_PENDING:
		d->verdict = VERDICT_NEED_ANSWERS;
		d->reason = DECIDE_ALLOWED;
		return false;
	case DECIDE_ANSWERS_FAILED:
		deny(d, DECIDE_RESOLVE_FAILED);
		return false;
	case DECIDE_ANSWERS_NONE:
		deny(d, DECIDE_NO_ANSWER);
		return false;
	case DECIDE_ANSWERS_OK:
	default:
		if (!f->n_answers) {
			deny(d, DECIDE_NO_ANSWER);
			return false;
		}
		return true;
	}
}

/* The overlay carries the flow at all: an i2p overlay reaches .i2p
 * destinations only (there is no outproxy) */
static bool overlay_carries(const struct decide_facts *f, struct decision *d)
{
	const struct overlay *o = overlay_of(f->policy, d->overlay);

	if (o && o->kind == OVERLAY_I2P && !name_is_i2p(f->name)) {
		deny(d, DECIDE_OVERLAY_FAILED);
		d->detail = "not-an-i2p-destination";
		return false;
	}
	return true;
}

static void decide_notify(const struct decide_facts *f, struct decision *d)
{
	if (f->bind) {
		if (f->is_local)
			allow(d, DIAL_NONE);
		else
			deny(d, DECIDE_BIND_FOREIGN);
		return;
	}
	if (f->is_local) {
		allow(d, DIAL_NONE);
		return;
	}
	if (f->over_rate) {
		deny(d, DECIDE_RATE);
		return;
	}
	if (f->revoked) {
		deny(d, DECIDE_REVOKED);
		return;
	}
	if (!f->has_net) {
		deny(d, DECIDE_NO_NETWORK);
		return;
	}
	if (f->addr.port == 53) {
		if (f->is_resolver && f->sotype == SOCK_STREAM) {
			allow(d, DIAL_NONE);
			return;
		}
		if (!f->sotype) {
			d->verdict = VERDICT_NEED_TYPE;
			return;
		}
		if (f->sotype == SOCK_DGRAM) {
			allow(d, DIAL_NONE);
			return;
		}
	}
	if (f->selected == DECIDE_SELECTED_UNKNOWN) {
		deny(d, DECIDE_SELECT_UNKNOWN);
		return;
	}
	d->overlay = policy_flow_overlay(f->policy, NULL, &f->addr, f->addr.port,
					 f->selected);
	/* a synthetic address: only the relay knows the name, it decides
	 * at the connect */
	if (!(f->synthetic && policy_has_names(f->policy)) &&
	    !address_allowed(f, d->overlay, d))
		return;
	if (!f->sotype) {
		d->verdict = VERDICT_NEED_TYPE;
		return;
	}
	if (f->sotype != SOCK_STREAM) {
		deny(d, DECIDE_NOT_RELAYED);
		return;
	}
	allow(d, DIAL_NONE);
}

static void decide_connect(const struct decide_facts *f, struct decision *d)
{
	const struct nbj_policy *p = f->policy;
	const struct overlay *o;

	if (f->revoked) {
		deny(d, DECIDE_REVOKED);
		return;
	}
	if (!f->floor) {
		deny(d, DECIDE_FLOOR_UNKNOWN);
		return;
	}
	if (f->selected == DECIDE_SELECTED_UNMARKED || f->selected == DECIDE_SELECTED_UNKNOWN) {
		deny(d, DECIDE_SELECT_UNMARKED);
		return;
	}
	if (f->synthetic && !f->name) {
		deny(d, DECIDE_UNKNOWN_SYNTHETIC);
		return;
	}
	if (f->name && f->tainted) {
		deny(d, DECIDE_REBINDING);
		return;
	}
	d->overlay = policy_flow_overlay(p, f->name, &f->addr, f->port, f->selected);
	o = overlay_of(p, d->overlay);

	if (!f->name) {
		if (!address_allowed(f, d->overlay, d))
			return;
		if (f->over_rate) {
			deny(d, DECIDE_RATE);
			return;
		}
		if (!overlay_carries(f, d))
			return;
		allow(d, o && overlay_via_proxy(o) ? DIAL_PROXY : DIAL_TARGET);
		return;
	}
	if (f->over_rate) {
		deny(d, DECIDE_RATE);
		return;
	}
	if (d->overlay == OVERLAY_DIRECT_INDEX && policy_name_needs_overlay(f->name)) {
		deny(d, DECIDE_OVERLAY_REQUIRED);
		return;
	}
	if (!overlay_carries(f, d))
		return;
	if (o && overlay_via_proxy(o)) {
		/* the overlay resolves the name: the host never does, and
		 * the floor cannot judge addresses the host never sees */
		if (!name_allowed(p, f->name, f->port)) {
			deny(d, DECIDE_NOT_ALLOWED);
			return;
		}
		allow(d, DIAL_PROXY);
		return;
	}
	if (!answers_ready(f, d) || !answers_public(f, d->overlay, d))
		return;
	if (!name_allowed(p, f->name, f->port)) {
		deny(d, DECIDE_NOT_ALLOWED);
		return;
	}
	allow(d, DIAL_ANSWERS);
}

static void decide_dns(const struct decide_facts *f, struct decision *d)
{
	const struct nbj_policy *p = f->policy;
	const struct overlay *o;

	if (!policy_has_names(p)) {
		deny(d, DECIDE_NO_POLICY);
		return;
	}
	if (f->revoked) {
		deny(d, DECIDE_REVOKED);
		return;
	}
	if (!name_allowed(p, f->name, 0)) {
		deny(d, DECIDE_NOT_ALLOWED);
		return;
	}
	if (!f->address_query) {
		allow(d, DIAL_NONE);
		return;
	}
	if (f->selected == DECIDE_SELECTED_UNMARKED || f->selected == DECIDE_SELECTED_UNKNOWN) {
		deny(d, DECIDE_SELECT_UNMARKED);
		return;
	}
	d->overlay = policy_flow_overlay(p, f->name, NULL, 0, f->selected);
	o = overlay_of(p, d->overlay);
	if (d->overlay == OVERLAY_DIRECT_INDEX && policy_name_needs_overlay(f->name)) {
		deny(d, DECIDE_OVERLAY_REQUIRED);
		return;
	}
	if (f->tainted) {
		deny(d, DECIDE_REBINDING);
		return;
	}
	if (o && overlay_via_proxy(o)) {
		allow(d, DIAL_PROXY);
		return;
	}
	if (!answers_ready(f, d))
		return;
	if (!f->floor) {
		deny(d, DECIDE_FLOOR_UNKNOWN);
		return;
	}
	if (!answers_public(f, d->overlay, d))
		return;
	allow(d, DIAL_ANSWERS);
}

static void decide_dock(const struct decide_facts *f, struct decision *d)
{
	const struct nbj_policy *p = f->policy;
	const struct overlay *o;

	if (f->revoked) {
		deny(d, DECIDE_REVOKED);
		return;
	}
	if (!f->floor) {
		deny(d, DECIDE_FLOOR_UNKNOWN);
		return;
	}
	d->overlay = policy_flow_overlay(p, f->name, &f->addr, f->port, DECIDE_SELECTED_NONE);
	o = overlay_of(p, d->overlay);
	if (f->name && policy_name_needs_overlay(f->name)) {
		deny(d, DECIDE_OVERLAY_REQUIRED);
		return;
	}
	if (o && o->kind != OVERLAY_DIRECT) {
		deny(d, DECIDE_OVERLAY_FAILED);
		d->detail = "dock-dials-direct";
		return;
	}
	if (!f->name) {
		if (!address_allowed(f, d->overlay, d))
			return;
	} else {
		if (!p || !p->n_allow) {
			deny(d, DECIDE_NO_POLICY);
			return;
		}
		if (!name_allowed(p, f->name, f->port)) {
			deny(d, DECIDE_NOT_ALLOWED);
			return;
		}
		if (!answers_ready(f, d) || !answers_public(f, d->overlay, d))
			return;
	}
	if (f->over_rate) {
		deny(d, DECIDE_RATE);
		return;
	}
	allow(d, f->name ? DIAL_ANSWERS : DIAL_TARGET);
}

/**
 * policy_decide() - the decision for one flow, query or socket call
 * @f:		every fact the caller knows (see struct decide_facts); the
 *		order of the checks per lane is in this file's header
 * @ret:	verdict, reason, overlay, how to dial, floor class and the
 *		floor exception used
 */
void policy_decide(const struct decide_facts *f, struct decision *ret)
{
	struct decision d = {
		.verdict = VERDICT_DENY, .reason = DECIDE_OTHER, .floor = FLOOR_NONE,
		.exception = -1, .detail = "",
		.overlay = OVERLAY_DIRECT_INDEX, .dial = DIAL_NONE,
	};

	switch (f->lane) {
	case DECIDE_LANE_NOTIFY:
		decide_notify(f, &d);
		break;
	case DECIDE_LANE_CONNECT:
		decide_connect(f, &d);
		break;
	case DECIDE_LANE_DNS:
		decide_dns(f, &d);
		break;
	case DECIDE_LANE_UDP:
		deny(&d, f->revoked ? DECIDE_REVOKED : DECIDE_NOT_RELAYED);
		break;
	case DECIDE_LANE_DOCK:
		decide_dock(f, &d);
		break;
	case DECIDE_LANE_PUBLISH:
		d.overlay = f->publish_overlay;
		if (f->revoked)
			deny(&d, DECIDE_REVOKED);
		else if (f->over_rate)
			deny(&d, DECIDE_RATE);
		else
			allow(&d, DIAL_TARGET);
		break;
	case DECIDE_LANE_INBOUND:
		d.overlay = f->publish_overlay;
		if (f->revoked)
			deny(&d, DECIDE_REVOKED);
		else if (f->inbound_broken != DECIDE_ALLOWED)
			deny(&d, f->inbound_broken);
		else if (f->client_over_rate)
			deny(&d, DECIDE_RATE);
		else if (f->over_rate)
			deny(&d, DECIDE_FLOW_TABLE_FULL);
		else
			allow(&d, DIAL_TARGET);
		break;
	default:
		break;	/* an unknown lane is denied: fail closed */
	}
	if (d.verdict != VERDICT_ALLOW && d.verdict != VERDICT_DENY)
		d.exception = -1;
	*ret = d;
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
 * decide_http_status() - the HTTP status an inbound request refused for
 * @r gets (see the inbound lane above)
 * @r:		the decision's reason
 *
 * Return: 429, 503, 413, 431, 408, 400, 501 (an upgrade), 502 (the
 * job's port cannot be reached); 0 for DECIDE_ALLOWED (the job
 * answers); 503 for any other reason (fail closed)
 */
int decide_http_status(enum decide_reason r)
{
	switch (r) {
	case DECIDE_ALLOWED:
		return 0;
	case DECIDE_RATE:
		return 429;
	case DECIDE_BODY_TOO_LARGE:
		return 413;
	case DECIDE_HEADER_TOO_LARGE:
		return 431;
	case DECIDE_HEADER_TIMEOUT:
		return 408;
	case DECIDE_MALFORMED:
		return 400;
	case DECIDE_NOT_IMPLEMENTED:
		return 501;
	case DECIDE_DIAL_FAILED:
		return 502;
	default:
		return 503;
	}
}
