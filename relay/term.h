/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/term.h - TLS termination for names with a credential or an
 * http: rule (relay/term.c), the job CA's leaves (relay/leafcert.c) and
 * the stand-in tripwire
 */
#ifndef NBJ_RELAY_TERM_H
#define NBJ_RELAY_TERM_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "relay/relay_int.h"

#define TERM_SLOTS 64		/* terminated flows at once */

/* leafcert.c */
int leafcert_init(int keyholder_fd);
X509 *leafcert_for(const char *name);
EVP_PKEY *leafcert_key(void);

/* keyfetch.c: a credential's bytes without blocking the loop */
typedef void (*keyfetch_done_fn)(struct relay_ctx *c, uint64_t cookie,
				 const unsigned char *bytes, ssize_t len);
int keyfetch_init(struct relay_ctx *c, keyfetch_done_fn done);
int keyfetch_start(struct relay_ctx *c, const char *key, uint64_t cookie);
void keyfetch_event(struct relay_ctx *c, uint32_t events);
void keyfetch_tick(struct relay_ctx *c);
void keyfetch_forget(uint64_t cookie);

/* term.c */
int term_init(struct relay_ctx *c);
bool term_wanted(const struct relay_ctx *c, const struct flow *f);
void term_flow_event(struct relay_ctx *c, uint32_t slot, uint32_t events);
void term_end(struct relay_ctx *c, struct flow *f);
void term_tick(struct relay_ctx *c);
bool relay_credential_leak(struct relay_ctx *c, int cred, const char *target,
			   const char *peer, const char *where);

/* tcp.c, for term.c */
int tcp_flow_watch(struct relay_ctx *c, uint32_t slot, int side, uint32_t events);
void tcp_flow_end(struct relay_ctx *c, uint32_t slot, bool reset);
void tcp_flow_deny(struct relay_ctx *c, uint32_t slot, enum decide_reason reason);
const char *tcp_flow_target(const struct relay_ctx *c, uint32_t slot, char *buf, size_t len);
size_t tcp_bytes_allow(struct relay_ctx *c, size_t want);
void tcp_bytes_refund(struct relay_ctx *c, size_t n);

#endif /* NBJ_RELAY_TERM_H */
