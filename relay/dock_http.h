/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dock_http.h - the dock's HTTP client (get, get-many), libcurl
 *
 * Linked into nbjail-relay only (not libnbjail, not nbjail): main()
 * hooks it in by pointing dock_http (relay/relay_int.h) at
 * dock_http_curl.  The limits a job sees are in include/nbjail/dock.h.
 */
#ifndef NBJ_RELAY_DOCK_HTTP_H
#define NBJ_RELAY_DOCK_HTTP_H

#include "relay/relay_int.h"

#define DOCK_HTTP_CALLS_MAX 32	/* get and get-many calls at once */
#define DOCK_HTTP_XFERS_MAX 64	/* URLs in flight at once, all calls */

extern const struct dock_http_ops dock_http_curl;

#endif /* NBJ_RELAY_DOCK_HTTP_H */
