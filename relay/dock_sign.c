/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay/dock_sign.c - the dock's sign op: `nbjail-dock sign KEY`
 *
 * DOC: Theory of operation
 *
 * The relay never holds a key: nbjail-keys does (keys/), and signs what
 * the relay sends it with keyholder_sign() (keys/client.c): HMAC-SHA256
 * of up to 1 MiB with the key of that name, or -ENOKEY.  The job gets the
 * 32-byte MAC (nbjail-dock prints it in hex), never the key.
 *
 * The data is one buffer, not a stream: keyholder_sign() takes the whole
 * data, and the key holder serves one request at a time anyway.  So the
 * relay has ONE signing buffer of NBJ_DOCK_SIGN_MAX bytes (allocated when
 * the dock starts, only in a relay with a key holder; its pages are only
 * touched when used), owned by one call at a time (dock_sign_claim());
 * dock.c keeps the other sign calls waiting (DOCK_SIGN_WAIT, no reading
 * from them, their 10 s running) and hands the buffer to the oldest when
 * it is released.  A client that never sends its data holds the buffer at
 * most until its call's deadline.
 *
 * dock_sign_run() blocks the relay's loop for one keyholder_sign(): the
 * key holder is a local process of ours doing one HMAC (a few ms for
 * 1 MiB), and the call is bounded by KEYS_TIMEOUT_MS (2 s, poll() on the
 * socket) whatever the holder does; a holder that is gone fails every
 * call at once (-EPIPE).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "nbjail/dock.h"
#include "relay/dock_tls.h"
#include "relay/relay_int.h"

static unsigned char *sign_buf;
static int sign_owner = -1;

/**
 * dock_sign_init() - the signing buffer, once, in a relay with a key
 * holder
 * @have_keyholder: the relay has a key holder (relay_config.keyholder_fd)
 *
 * Return: 0, or -ENOMEM
 */
int dock_sign_init(bool have_keyholder)
{
	if (!have_keyholder || sign_buf)
		return 0;
	sign_buf = malloc(NBJ_DOCK_SIGN_MAX);
	return sign_buf ? 0 : -ENOMEM;
}

/**
 * dock_sign_claim() - take the signing buffer for a call
 * @slot:	the call's slot
 *
 * Return: 0 (also when it has it already); -EBUSY while another call
 * has it; -ENOMEM without a buffer (no key holder)
 */
int dock_sign_claim(uint32_t slot)
{
	if (!sign_buf)
		return -ENOMEM;
	if (sign_owner >= 0 && (uint32_t)sign_owner != slot)
		return -EBUSY;
	sign_owner = (int)slot;
	return 0;
}

/**
 * dock_sign_buffer() - the signing buffer, for the call that has it
 * @slot:	the call's slot
 *
 * Return: NBJ_DOCK_SIGN_MAX bytes, or NULL when @slot does not have it
 */
unsigned char *dock_sign_buffer(uint32_t slot)
{
	return sign_owner >= 0 && (uint32_t)sign_owner == slot ? sign_buf : NULL;
}

/**
 * dock_sign_release() - a call gives the signing buffer back (if it has
 * it)
 * @slot:	the call's slot
 *
 * Return: true when @slot had it (dock.c then wakes the next call)
 */
bool dock_sign_release(uint32_t slot)
{
	if (sign_owner < 0 || (uint32_t)sign_owner != slot)
		return false;
	sign_owner = -1;
	return true;
}

/**
 * dock_sign_run() - sign the data of the call that has the buffer
 * @keyholder_fd: the relay's socket to nbjail-keys
 * @slot:	the call's slot (it must have the buffer)
 * @key:	the key's name (checked by the caller: secret_name_valid())
 * @len:	bytes of data in the buffer, at most NBJ_DOCK_SIGN_MAX
 * @mac:	receives the KEYS_MAC_LEN bytes of HMAC-SHA256
 *
 * Blocks for at most KEYS_TIMEOUT_MS.
 *
 * Return: 0; -ENOKEY (no key of that name); -EBUSY when @slot does not
 * have the buffer; keyholder_sign()'s other errors (-ETIMEDOUT, -EPIPE)
 */
int dock_sign_run(int keyholder_fd, uint32_t slot, const char *key, size_t len,
		  unsigned char *mac)
{
	unsigned char *buf = dock_sign_buffer(slot);

	if (!buf)
		return -EBUSY;
	if (len > NBJ_DOCK_SIGN_MAX)
		return -EMSGSIZE;
	return keyholder_sign(keyholder_fd, key, buf, len, mac);
}
