/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/secrets.c - the policy's `secrets:`, read once at start
 *
 * Theory of operation: the first thing nbj_job_start() does after the
 * job's identity is known (before its state, its helpers or its
 * namespaces exist) is secrets_load(): every secret is read, checked and
 * appended to the key holder's handoff memfd (keys/store.c), and the
 * supervisor's copy is wiped at once.  Any error is one line naming the
 * secret and the cause, and nothing starts (nbjail exits 125).
 *
 *   file:  opened with O_NOFOLLOW (a symbolic link is refused, whatever
 *          it points at); a regular file; owned by root or by the caller
 *          (as root: uid 0 or the sudo caller); no group or other
 *          permission bits (0600 or 0400); 1 to 4096 bytes.  The key is
 *          the file's bytes exactly: a final newline is part of the key
 *          (write keys with printf '%s' or head -c, not echo).
 *   env:   the variable must be set and hold 1 to 4096 bytes, used
 *          exactly.  Once read, its value is overwritten in nbjail's own
 *          environment and the variable removed, so no process forked
 *          after (the job's init, the relay, the keeper) has a copy; the
 *          job's environment never has it either way (environ.c).
 *
 * The memfd is the keys' only home until nbjail-keys reads and wipes it
 * (supervisor/keysstart.c); every process forked before that closes it
 * first thing.  The secret files are hidden from the job (fsview.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "keys/keys.h"
#include "supervisor/supervisor.h"

/* Root's files, the caller's, and as root the sudo caller's */
static bool owner_allowed(uid_t owner)
{
	const char *sudo_uid = getenv("SUDO_UID");
	char *end = NULL;
	unsigned long u;

	if (owner == 0 || owner == getuid())
		return true;
	if (getuid() != 0 || !sudo_uid || !*sudo_uid)
		return false;
	errno = 0;
	u = strtoul(sudo_uid, &end, 10);
	return !errno && end && !*end && u == owner;
}

/* A file secret into @buf; its length, or negative errno (logged) */
static ssize_t read_secret_file(const struct policy_secret *s, unsigned char *buf,
				size_t cap)
{
	_cleanup_close_ int fd = open(s->from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				      O_NOCTTY | O_NONBLOCK);
	struct stat st;
	size_t len = 0;

	if (fd < 0) {
		int err = negative_errno();

		log_err("secrets.%s: file %s: %s", s->name, s->from,
			err == -ELOOP ? "is a symbolic link (name the file itself)" :
			strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode)) {
		log_err("secrets.%s: file %s: not a regular file", s->name, s->from);
		return -EINVAL;
	}
	if (!owner_allowed(st.st_uid)) {
		log_err("secrets.%s: file %s: owned by uid %u: it must be root's or yours",
			s->name, s->from, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 077) {
		log_err("secrets.%s: file %s: mode %04o: group and others must have no "
			"access (chmod 600 %s)", s->name, s->from,
			(unsigned)(st.st_mode & 07777), s->from);
		return -EPERM;
	}
	if (st.st_size < 1 || st.st_size > SECRET_BYTES_MAX) {
		log_err("secrets.%s: file %s: %lld bytes: a key has 1 to %d", s->name,
			s->from, (long long)st.st_size, SECRET_BYTES_MAX);
		return -EINVAL;
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = negative_errno();

			log_err("secrets.%s: file %s: %s", s->name, s->from, strerror(-err));
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len != (size_t)st.st_size) {
		log_err("secrets.%s: file %s: changed while it was read", s->name, s->from);
		return -EAGAIN;
	}
	return (ssize_t)len;
}

/* An env secret into @buf, wiped from our environment; its length */
static ssize_t read_secret_env(const struct policy_secret *s, unsigned char *buf,
			       size_t cap)
{
	char *v = getenv(s->from);
	size_t len = v ? strlen(v) : 0;

	if (!v) {
		log_err("secrets.%s: env %s: the variable is not set", s->name, s->from);
		return -ENOKEY;
	}
	if (!len || len > SECRET_BYTES_MAX || len > cap) {
		log_err("secrets.%s: env %s: %zu bytes: a key has 1 to %d", s->name, s->from,
			len, SECRET_BYTES_MAX);
		return -EINVAL;
	}
	memcpy(buf, v, len);
	explicit_bzero(v, len);
	(void)unsetenv(s->from);
	return (ssize_t)len;
}

/**
 * secret_read() - one secret's bytes, checked as the theory above says
 * @s:		the secret (name for messages, source)
 * @buf:	where the bytes go; the caller wipes them
 * @cap:	its size
 *
 * Return: the length, or negative errno (logged)
 */
ssize_t secret_read(const struct policy_secret *s, unsigned char *buf, size_t cap)
{
	return s->source == SECRET_FILE ? read_secret_file(s, buf, cap)
					: read_secret_env(s, buf, cap);
}

/**
 * secrets_load() - read the policy's secrets into nbjail-keys' handoff
 * @cfg:	the job's configuration (secrets: names and sources)
 * @parent:	the pid that will fork the key holder (ours)
 * @creds:	filled by creds_load() when the policy has credentials or
 *		http: rules (stand-ins, the job CA's certificate)
 * @ret_memfd:	the sealed handoff, or -1 when the policy has no secrets,
 *		credentials or http: rules
 *
 * See the theory above: every copy in this process is wiped before
 * return, and an env secret's variable is removed from our environment.
 *
 * Return: 0, or negative errno (logged: the secret and the cause)
 */
int secrets_load(const struct nbj_config *cfg, pid_t parent, struct job_creds *creds,
		 int *ret_memfd)
{
	unsigned char buf[SECRET_BYTES_MAX + 1];
	_cleanup_close_ int fd = -1;
	int err = 0;

	*ret_memfd = -1;
	if (!cfg->n_secrets && !creds_wanted(cfg))
		return 0;
	fd = keys_handoff_begin(parent);
	if (fd < 0) {
		log_err("secrets: cannot make the key holder's handoff: %s", strerror(-fd));
		return fd;
	}
	for (size_t i = 0; i < cfg->n_secrets && !err; i++) {
		const struct policy_secret *s = &cfg->secrets[i];
		ssize_t n = s->source == SECRET_FILE ? read_secret_file(s, buf, sizeof(buf))
						     : read_secret_env(s, buf, sizeof(buf));

		if (n < 0) {
			err = (int)n;
			break;
		}
		err = keys_handoff_add(fd, s->name, buf, (size_t)n);
		explicit_bzero(buf, sizeof(buf));
		if (err < 0)
			log_err("secrets.%s: cannot hand it to the key holder: %s", s->name,
				strerror(-err));
	}
	explicit_bzero(buf, sizeof(buf));
	if (!err && creds_wanted(cfg))
		err = creds_load(cfg, fd, creds);	/* credentials.c */
	if (!err) {
		err = keys_handoff_seal(fd);
		if (err < 0)
			log_err("secrets: cannot seal the key holder's handoff: %s",
				strerror(-err));
	}
	if (err < 0) {
		/* not sealed yet: overwrite what was added, then close */
		struct stat st;

		for (off_t at = 0; fstat(fd, &st) == 0 && at < st.st_size;
		     at += (off_t)sizeof(buf))
			if (pwrite(fd, buf, sizeof(buf), at) < 0)
				break;
		return err;
	}
	*ret_memfd = TAKE_FD(fd);
	return 0;
}
