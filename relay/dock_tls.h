/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dock_tls.h - the dock's tls op: TLS on a dock call's dialled
 * socket (relay/dock_tls.c), and its sign op (relay/dock_sign.c)
 */
#ifndef NBJ_RELAY_DOCK_TLS_H
#define NBJ_RELAY_DOCK_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

int dock_tls_begin(uint32_t slot, int fd, const char *pinned, char *why, size_t whylen);
int dock_tls_handshake(uint32_t slot, uint32_t *ret_events, char *why, size_t whylen);
bool dock_tls_active(uint32_t slot);
ssize_t dock_tls_send(uint32_t slot, const void *buf, size_t len, uint32_t *ret_events,
		      char *why, size_t whylen);
ssize_t dock_tls_recv(uint32_t slot, void *buf, size_t len, uint32_t *ret_events,
		      char *why, size_t whylen);
int dock_tls_close_notify(uint32_t slot, uint32_t *ret_events);
void dock_tls_request_done(uint32_t slot, time_t now);
int dock_tls_tick(uint32_t slot, time_t now, bool answered, uint32_t *ret_events);
void dock_tls_end(uint32_t slot);

/* relay/dock_sign.c */
int dock_sign_init(bool have_keyholder);
int dock_sign_claim(uint32_t slot);
unsigned char *dock_sign_buffer(uint32_t slot);
bool dock_sign_release(uint32_t slot);
int dock_sign_run(int keyholder_fd, uint32_t slot, const char *key, size_t len,
		  unsigned char *mac);

#endif /* NBJ_RELAY_DOCK_TLS_H */
