/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keys/keys.h - sign-only keys: the key holder (nbjail-keys), its
 * handoff and its wire protocol
 *
 * The policy's `secrets:` are read by the supervisor at start
 * (supervisor/secrets.c) and handed, in a memfd, to nbjail-keys
 * (keys/main.c), a small program of its own (ROLE_KEYHOLDER in
 * common/roles.c; OpenBSD relayd's ca.c is the model).  It holds the
 * keys and does one thing with them: HMAC-SHA256 over bytes it is sent.
 * The relay, which parses the job's bytes, holds one end of a
 * SOCK_SEQPACKET pair to it and asks with keyholder_sign()
 * (keys/client.c); no call returns a key.
 *
 * The wire protocol (every message starts with struct keys_msg_hdr):
 *
 *   relay -> holder   SIGN  {hdr: id, len = data length <= 1 MiB; name[64]}
 *   relay -> holder   DATA  {hdr: id, len = chunk length <= 64 KiB; bytes}
 *                     ...   until the chunks add up to the SIGN's len
 *   holder -> relay   REPLY {hdr: id, len = 32; status; mac[32]}
 *
 *   relay -> holder   FETCH {hdr: id, len = 0; name[64]}        (credentials)
 *   holder -> relay   SECRET {hdr: id, len; status; bytes[len]}
 *
 * FETCH returns the bytes of a key whose name starts with '+': those are
 * the `credentials:` secrets ("+NAME") and the job CA's key and
 * certificate ("+ca", "+ca-cert"), which the relay writes on the wire
 * (relay/term.c).  A policy's `secrets:` name cannot start with '+', so
 * FETCH can never return a sign-only key, and SIGN never uses a "+" one.
 *
 * status is 0, -ENOKEY (no key of that name) or -EINVAL (a malformed
 * request: wrong magic, type, id, size or name; the request is dropped
 * and the holder waits for the next SIGN).  A SIGN while a request is
 * still streaming drops the old one.  At start the holder sends one
 * REPLY with id 0: status 0 once its keys are locked in memory and its
 * syscall filter is on, or the negative errno it failed with.
 */
#ifndef NBJ_KEYS_KEYS_H
#define NBJ_KEYS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/load.h"

#define KEYS_MAGIC 0x4b6a626eu	/* "nbjK" */
#define KEYS_DATA_MAX (1u << 20) /* bytes one signature covers, at most */
#define KEYS_CHUNK_MAX 65536u	/* bytes of one DATA message, at most */
#define KEYS_MAC_LEN 32		/* HMAC-SHA256 */
#define KEYS_TIMEOUT_MS 2000	/* keyholder_sign()'s bound, send to reply */
#define KEYS_START_TIMEOUT_MS 5000 /* the holder's first REPLY */

enum keys_msg_type {
	KEYS_MSG_SIGN = 1,
	KEYS_MSG_DATA,
	KEYS_MSG_REPLY,
	KEYS_MSG_FETCH,
	KEYS_MSG_SECRET,
};

/**
 * struct keys_msg_hdr - the start of every message
 * @magic:	KEYS_MAGIC
 * @type:	enum keys_msg_type
 * @id:		the request's id, chosen by the client; 0 is the holder's
 *		start report
 * @len:	SIGN: the data's total length; DATA: the chunk's; REPLY: 32
 */
struct keys_msg_hdr {
	uint32_t magic;
	uint32_t type;
	uint32_t id;
	uint32_t len;
};

/**
 * struct keys_sign_msg - a SIGN request
 * @hdr:	header
 * @name:	the key's name, NUL-padded (exactly 64 bytes without NUL
 *		for a name of 64)
 */
struct keys_sign_msg {
	struct keys_msg_hdr hdr;
	char name[SECRET_NAME_MAX];
};

/**
 * struct keys_reply_msg - the holder's answer
 * @hdr:	header, @hdr.id that of the request
 * @status:	0, -ENOKEY or -EINVAL
 * @mac:	HMAC-SHA256 when @status is 0, zeros otherwise
 */
struct keys_reply_msg {
	struct keys_msg_hdr hdr;
	int32_t status;
	uint8_t mac[KEYS_MAC_LEN];
};

/**
 * struct keys_secret_msg - the holder's answer to FETCH
 * @hdr:	header, @hdr.id that of the request, @hdr.len the bytes' length
 * @status:	0, -ENOKEY or -EINVAL
 * @bytes:	the key's bytes (@hdr.len of them)
 */
struct keys_secret_msg {
	struct keys_msg_hdr hdr;
	int32_t status;
	uint8_t bytes[SECRET_BYTES_MAX];
};

typedef void (*keyholder_stray_fn)(const void *msg, size_t len, void *arg);

bool keys_name_valid(const char *s, size_t len);
void keyholder_on_stray(keyholder_stray_fn fn, void *arg);
ssize_t keyholder_fetch(int fd, const char *key, void *buf, size_t cap);
int keyholder_sign(int fd, const char *key, const void *data, size_t len,
		   unsigned char mac[KEYS_MAC_LEN]);

/* keys/store.c: the handoff from the supervisor, the holder's keys */

/**
 * struct keys_store - the holder's keys: names in the clear, bytes in one
 * locked, undumpable mapping
 * @n:		keys
 * @name:	their names
 * @len:	their lengths
 * @off:	their offsets in @arena
 * @arena:	the bytes (mmap, mlock, MADV_DONTDUMP), NULL when none
 * @arena_size:	its size (whole pages)
 * @parent:	the supervisor's pid, from the handoff
 */
struct keys_store {
	size_t n;
	char name[SECRETS_MAX][SECRET_NAME_MAX + 1];
	uint16_t len[SECRETS_MAX];
	uint32_t off[SECRETS_MAX];
	unsigned char *arena;
	size_t arena_size;
	pid_t parent;
};

int keys_handoff_begin(pid_t parent);
int keys_handoff_add(int fd, const char *name, const void *bytes, size_t len);
int keys_handoff_seal(int fd);
int keys_store_read(int fd, struct keys_store *ret);
int keys_ca_write(int fd);
int keys_store_find(const struct keys_store *s, const char *name, size_t name_len);
void keys_store_wipe(struct keys_store *s);

#endif /* NBJ_KEYS_KEYS_H */
