/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keys/store.c - the keys' handoff from the supervisor to nbjail-keys,
 * and where the holder keeps them
 *
 * Theory of operation: the supervisor writes the keys into a memfd
 * (keys_handoff_begin(), _add(), _seal()) and wipes its own copies at
 * once (supervisor/secrets.c); the memfd is the only place they are
 * until nbjail-keys reads it:
 *
 *   struct handoff_hdr                  magic, version, count, parent pid
 *   struct handoff_key + len bytes      per key: name, length, bytes
 *
 * The memfd is sealed against growing, shrinking and further seals, not
 * against writing: its reader copies the keys into a mapping of its own
 * (locked in RAM, left out of core dumps) and then overwrites the
 * memfd's pages with zeros, so no copy of a key is left in the page
 * cache once the memfd is closed.  keys_store_read() checks every length
 * and name against the memfd's size and refuses duplicates, so a short or
 * altered handoff is refused, never half-read.
 *
 * Locking: mlock() of the key pages (a few pages: one per 4 KiB of key
 * bytes).  When RLIMIT_MEMLOCK does not allow even that, the holder
 * fails and the job does not start (fail closed; nbjail.yaml(5) says how
 * to raise the limit): a key that may be swapped out is a key on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "keys/keys.h"

#define HANDOFF_VERSION 1u
#define HANDOFF_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW)

struct handoff_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t n_keys;
	int32_t parent;
};

struct handoff_key {
	char name[SECRET_NAME_MAX + 1];
	uint8_t pad;
	uint16_t len;
};

#define HANDOFF_SIZE_MAX \
	(sizeof(struct handoff_hdr) + SECRETS_MAX * (sizeof(struct handoff_key) + SECRET_BYTES_MAX))

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? negative_errno() : -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * keys_handoff_begin() - a new, empty handoff for nbjail-keys
 * @parent:	the pid of the process that will fork the holder
 *
 * Return: the memfd (close-on-exec), or negative errno
 */
int keys_handoff_begin(pid_t parent)
{
	struct handoff_hdr h = { .magic = KEYS_MAGIC, .version = HANDOFF_VERSION,
				 .parent = parent };
	_cleanup_close_ int fd = memfd_create("nbjail-keys-handoff",
					      MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int err;

	if (fd < 0)
		return negative_errno();
	err = pwrite_all(fd, &h, sizeof(h), 0);
	return err < 0 ? err : TAKE_FD(fd);
}

/**
 * keys_name_valid() - a sign-only key's name (secret_name_valid()), or a
 * fetchable one: '+' and such a name (keys/keys.h)
 * @s:		the name, not necessarily NUL-terminated
 * @len:	its length
 *
 * Return: true if valid
 */
bool keys_name_valid(const char *s, size_t len)
{
	if (s && len > 1 && s[0] == '+')
		return secret_name_valid(s + 1, len - 1) && len <= SECRET_NAME_MAX;
	return secret_name_valid(s, len);
}

/**
 * keys_handoff_add() - append one key to a handoff
 * @fd:		the memfd of keys_handoff_begin()
 * @name:	its name (secret_name_valid())
 * @bytes:	its bytes; the caller wipes its copy afterwards
 * @len:	1 to SECRET_BYTES_MAX
 *
 * Return: 0, -EINVAL for a bad name or length, -E2BIG beyond SECRETS_MAX
 * keys, or negative errno
 */
int keys_handoff_add(int fd, const char *name, const void *bytes, size_t len)
{
	struct handoff_key k = { .len = (uint16_t)len };
	struct handoff_hdr h;
	struct stat st;
	int err;

	if (!keys_name_valid(name, strlen(name)) || !len || len > SECRET_BYTES_MAX)
		return -EINVAL;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h) || fstat(fd, &st) < 0)
		return -EIO;
	if (h.n_keys >= SECRETS_MAX)
		return -E2BIG;
	memcpy(k.name, name, strlen(name));
	err = pwrite_all(fd, &k, sizeof(k), st.st_size);
	if (!err)
		err = pwrite_all(fd, bytes, len, st.st_size + (off_t)sizeof(k));
	h.n_keys++;
	if (!err)
		err = pwrite_all(fd, &h, sizeof(h), 0);
	return err;
}

/**
 * keys_handoff_seal() - no more keys: seal the handoff's size
 * @fd:		the memfd
 *
 * Return: 0, or negative errno
 */
int keys_handoff_seal(int fd)
{
	return fcntl(fd, F_ADD_SEALS, HANDOFF_SEALS) < 0 ? negative_errno() : 0;
}

/**
 * keys_store_find() - the index of a key by name
 * @s:		the keys
 * @name:	the name, not necessarily NUL-terminated
 * @name_len:	its length
 *
 * Return: the index, or -ENOKEY
 */
int keys_store_find(const struct keys_store *s, const char *name, size_t name_len)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->name[i]) == name_len && !memcmp(s->name[i], name, name_len))
			return (int)i;
	return -ENOKEY;
}

/* Check the records of @map (@size bytes), fill @s's names and lengths */
static int parse(const unsigned char *map, size_t size, struct keys_store *s, size_t *total)
{
	struct handoff_hdr h;
	size_t at = sizeof(h);

	memcpy(&h, map, sizeof(h));
	if (h.magic != KEYS_MAGIC || h.version != HANDOFF_VERSION || h.n_keys > SECRETS_MAX)
		return -EBADMSG;
	s->parent = h.parent;
	*total = 0;
	for (uint32_t i = 0; i < h.n_keys; i++) {
		struct handoff_key k;
		size_t nlen;

		if (size - at < sizeof(k))
			return -EBADMSG;
		memcpy(&k, map + at, sizeof(k));
		at += sizeof(k);
		nlen = strnlen(k.name, sizeof(k.name));
		if (nlen == sizeof(k.name) || !keys_name_valid(k.name, nlen) ||
		    keys_store_find(s, k.name, nlen) >= 0 || !k.len ||
		    k.len > SECRET_BYTES_MAX || size - at < k.len)
			return -EBADMSG;
		memcpy(s->name[i], k.name, nlen + 1);
		s->len[i] = k.len;
		s->off[i] = (uint32_t)*total;
		*total += k.len;
		at += k.len;
		s->n = i + 1;
	}
	return at == size ? 0 : -EBADMSG;
}

/**
 * keys_store_read() - take the keys out of a handoff and wipe it
 * @fd:		the sealed memfd; its pages are zeroed whatever happens
 * @ret:	the keys, in a locked mapping; keys_store_wipe() when done
 *
 * Return: 0; -EBADMSG for a handoff that is not sealed or not exactly
 * this build's format; the errno of mlock() (-ENOMEM, -EAGAIN, -EPERM)
 * when RLIMIT_MEMLOCK is too small; another negative errno
 */
int keys_store_read(int fd, struct keys_store *ret)
{
	struct keys_store s = { 0 };
	unsigned char *map;
	size_t size, total = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS), err;

	memset(ret, 0, sizeof(*ret));
	if (seals < 0 || (seals & HANDOFF_SEALS) != HANDOFF_SEALS || (seals & F_SEAL_WRITE))
		return -EBADMSG;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size < (off_t)sizeof(struct handoff_hdr) ||
	    st.st_size > (off_t)HANDOFF_SIZE_MAX)
		return -EBADMSG;
	size = (size_t)st.st_size;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || !map)
		return map ? negative_errno() : -EIO;
	err = parse(map, size, &s, &total);
	if (!err && total) {
		s.arena_size = (total + (size_t)page - 1) / (size_t)page * (size_t)page;
		s.arena = mmap(NULL, s.arena_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s.arena == MAP_FAILED) {
			s.arena = NULL;
			err = negative_errno();
		}
		if (!err && (madvise(s.arena, s.arena_size, MADV_DONTDUMP) < 0 ||
			     mlock(s.arena, s.arena_size) < 0))
			err = negative_errno();
	}
	if (!err) {
		size_t at = sizeof(struct handoff_hdr);

		for (size_t i = 0; i < s.n; i++) {
			at += sizeof(struct handoff_key);
			memcpy(s.arena + s.off[i], map + at, s.len[i]);
			at += s.len[i];
		}
	}
	explicit_bzero(map, size);
	munmap(map, size);
	if (err < 0) {
		keys_store_wipe(&s);
		return err;
	}
	*ret = s;
	return 0;
}

/**
 * keys_store_wipe() - zero the keys and give their memory back
 * @s:		the keys; zeroed (safe to call twice, and from a signal
 *		handler: explicit_bzero, munlock and munmap only)
 */
void keys_store_wipe(struct keys_store *s)
{
	if (s->arena) {
		explicit_bzero(s->arena, s->arena_size);
		(void)munlock(s->arena, s->arena_size);
		(void)munmap(s->arena, s->arena_size);
	}
	explicit_bzero(s, sizeof(*s));
}
