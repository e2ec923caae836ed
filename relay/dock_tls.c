/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dock_tls.c - the dock's tls op: `nbjail-dock tls HOST PORT`
 *
 * DOC: Theory of operation
 *
 * A tls call is a tcp call (relay/dock.c) with TLS between the relay and
 * the server: the same decision (floor -> allow-list -> rate, lane dock),
 * the same resolve-once-and-pin, the same dial of the judged answers, the
 * same 1 MiB caps and 10 s.  Where they differ, dock.c calls here:
 *
 *   connected   dock_tls_begin(): a client of relay/tls_upstream.c bound
 *               to the PINNED name the call was judged for (the host name
 *               as resolved, or the literal address: then the certificate
 *               must carry that IP), then TLS_HANDSHAKE:
 *   handshake   dock_tls_handshake() until done; the peer is verified
 *               against the job's trust roots (policy tls_roots:);
 *               a failure ends the call -EPROTO with its cause
 *               ("certificate verify failed: hostname mismatch")
 *   send        the request body through dock_tls_send()
 *   recv        dock_tls_recv() until the server's close_notify or its
 *               EOF (a close without close_notify ends the answer like
 *               EOF, as on tcp), or the cap
 *
 * The half-close: where tcp shuts its writing side down at once, tls
 * sends close_notify only if the server has sent nothing of an answer
 * DOCK_TLS_CLOSE_AFTER_S after the request (dock_tls_request_done(),
 * dock_tls_tick()): a server that waits for the client's end gets it,
 * and a server that answers and closes (HTTP) never finds a close_notify
 * unread in its socket, which would make its close a reset that throws
 * away the answer's unsent tail: a cut nobody could see.  The TCP socket
 * is never shut down: close_notify is TLS's own end.
 *
 * The client of each slot lives in a fixed table here, indexed like the
 * dock's; dock_tls_end() frees it whenever the call ends (dock.c calls it
 * before closing the dialled socket).  OpenSSL allocates a client's
 * buffers at SSL_new() and for the handshake: the one allocation of a
 * call on the dock's data path, bounded by the table (DOCK_CONNS_MAX).
 * A close_notify that could not be written at once (a full socket
 * buffer after a large body) is retried before the next read.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <time.h>

#include "relay/dock_tls.h"
#include "relay/relay_int.h"
#include "relay/tls_upstream.h"

/**
 * struct dock_tls_slot - the TLS client of one dock call
 * @ssl:		the client, NULL when the call has none
 * @close_pending:	close_notify is still to be written
 * @close_owed:		the request is whole; close_notify goes at @close_at
 *			unless the server has begun its answer by then
 * @close_at:		CLOCK_MONOTONIC seconds
 */
static struct dock_tls_slot {
	SSL *ssl;
	bool close_pending;
	bool close_owed;
	time_t close_at;
} slots[DOCK_CONNS_MAX];

#define DOCK_TLS_CLOSE_AFTER_S 1

/**
 * dock_tls_begin() - start the TLS client of a tls call whose socket is
 * connected
 * @slot:	the call's slot
 * @fd:		its dialled socket (stays dock.c's: closed there)
 * @pinned:	the host name judged and pinned, or the literal address
 * @why:	receives the cause of a failure
 * @whylen:	its size
 *
 * Return: 0, or negative errno (tls_upstream_start())
 */
int dock_tls_begin(uint32_t slot, int fd, const char *pinned, char *why, size_t whylen)
{
	if (slot >= DOCK_CONNS_MAX)
		return -EINVAL;
	dock_tls_end(slot);
	return tls_upstream_start(fd, pinned, &slots[slot].ssl, why, whylen);
}

/**
 * dock_tls_active() - whether a call's bytes go through TLS
 * @slot:	the call's slot
 *
 * Return: true while the call has a TLS client
 */
bool dock_tls_active(uint32_t slot)
{
	return slot < DOCK_CONNS_MAX && slots[slot].ssl;
}

/**
 * dock_tls_handshake() - one step of the handshake
 * @slot:	the call's slot
 * @ret_events:	on -EAGAIN, the epoll events the dialled socket waits for
 * @why:	receives the cause of a failure
 * @whylen:	its size
 *
 * Return: 0 when done and verified; -EAGAIN; -EPROTO with @why; the
 * socket's negative errno
 */
int dock_tls_handshake(uint32_t slot, uint32_t *ret_events, char *why, size_t whylen)
{
	if (!dock_tls_active(slot))
		return -EBADF;
	return tls_upstream_handshake(slots[slot].ssl, ret_events, why, whylen);
}

/**
 * dock_tls_send() - request bytes to the server
 * @slot:	the call's slot
 * @buf:	the bytes
 * @len:	their number (> 0)
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 * @why:	receives the cause of a failure
 * @whylen:	its size
 *
 * Return: bytes written; -EAGAIN (call again with the same bytes); a
 * negative errno
 */
ssize_t dock_tls_send(uint32_t slot, const void *buf, size_t len, uint32_t *ret_events,
		      char *why, size_t whylen)
{
	if (!dock_tls_active(slot))
		return -EBADF;
	return tls_upstream_write(slots[slot].ssl, buf, len, ret_events, why, whylen);
}

/**
 * dock_tls_close_notify() - the request is whole: close_notify
 * @slot:	the call's slot
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 *
 * Return: 0 (sent, or retried before the next read); never blocks
 */
int dock_tls_close_notify(uint32_t slot, uint32_t *ret_events)
{
	if (!dock_tls_active(slot))
		return -EBADF;
	slots[slot].close_pending =
		tls_upstream_close_notify(slots[slot].ssl, ret_events) == -EAGAIN;
	return 0;
}

/**
 * dock_tls_request_done() - the request body is all written: the
 * half-close is owed (dock_tls_tick())
 * @slot:	the call's slot
 * @now:	CLOCK_MONOTONIC seconds
 */
void dock_tls_request_done(uint32_t slot, time_t now)
{
	if (!dock_tls_active(slot))
		return;
	slots[slot].close_owed = true;
	slots[slot].close_at = now + DOCK_TLS_CLOSE_AFTER_S;
}

/**
 * dock_tls_tick() - once a second while the answer is read: close_notify
 * to a server that has not begun to answer since the request
 * @slot:	the call's slot
 * @now:	CLOCK_MONOTONIC seconds
 * @answered:	answer bytes came: the half-close is never sent
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 *
 * Return: 0, or -EAGAIN (the rest is written before the next read)
 */
int dock_tls_tick(uint32_t slot, time_t now, bool answered, uint32_t *ret_events)
{
	struct dock_tls_slot *s;

	if (!dock_tls_active(slot))
		return 0;
	s = &slots[slot];
	if (!s->close_owed || (!answered && now < s->close_at))
		return 0;
	s->close_owed = false;
	if (answered)
		return 0;
	(void)dock_tls_close_notify(slot, ret_events);
	return s->close_pending ? -EAGAIN : 0;
}

/**
 * dock_tls_recv() - answer bytes from the server
 * @slot:	the call's slot
 * @buf:	where to
 * @len:	room
 * @ret_events:	on -EAGAIN, the epoll events to wait for
 * @why:	receives the cause of a failure
 * @whylen:	its size
 *
 * Return: bytes read; 0 at the end; -EAGAIN; a negative errno (-EPROTO
 * with @why)
 */
ssize_t dock_tls_recv(uint32_t slot, void *buf, size_t len, uint32_t *ret_events,
		      char *why, size_t whylen)
{
	struct dock_tls_slot *s;

	if (!dock_tls_active(slot))
		return -EBADF;
	s = &slots[slot];
	if (s->close_pending) {
		if (tls_upstream_close_notify(s->ssl, ret_events) == -EAGAIN)
			return -EAGAIN;
		s->close_pending = false;
	}
	return tls_upstream_read(s->ssl, buf, len, ret_events, why, whylen);
}

/**
 * dock_tls_end() - the call ends: its TLS client is freed (the socket is
 * dock.c's to close)
 * @slot:	the call's slot
 */
void dock_tls_end(uint32_t slot)
{
	if (slot >= DOCK_CONNS_MAX || !slots[slot].ssl)
		return;
	tls_upstream_free(slots[slot].ssl);
	slots[slot] = (struct dock_tls_slot){ 0 };
}
