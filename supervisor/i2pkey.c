/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/i2pkey.c - the I2P destination of an i2p overlay
 *
 * Theory of operation: an i2p overlay with `key_file:` keeps its I2P
 * destination (its address) across runs.  At the job's start the
 * supervisor reads the file: one line of I2P base64, the private keys as
 * SAM's DEST GENERATE gives them.  The file must belong to the caller
 * (root, or the rootless caller: the file it made) and be readable by
 * nobody else, like an ssh host key.  When it does not exist
 * yet, the supervisor asks the SAM bridge for a new destination (HELLO,
 * DEST GENERATE SIGNATURE_TYPE=7: Ed25519), blocking for at most
 * I2P_KEY_TIMEOUT_MS, and creates the file (O_EXCL, 0600) before the job
 * starts; a bridge that cannot be reached then is an error: nothing
 * starts, since the operator asked for a lasting identity.  Without
 * `key_file:` the relay creates a transient destination (relay/sam.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/supervisor.h"

#define I2P_KEY_TIMEOUT_MS 5000
#define SAM_LINE_MAX 4096

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line from the bridge, without its newline, before @deadline */
static int sam_read_line(int fd, char *buf, size_t len, long long deadline)
{
	size_t have = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0)
			return -errno;
		if (!p.revents)
			continue;
		n = read(fd, buf + have, len - 1 - have);
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		have += (size_t)n;
		buf[have] = '\0';
		if (memchr(buf, '\n', have)) {
			buf[strcspn(buf, "\r\n")] = '\0';
			return 0;
		}
		if (have == len - 1)
			return -EPROTO;
	}
}

static int sam_write(int fd, const char *s)
{
	size_t len = strlen(s);

	return write(fd, s, len) == (ssize_t)len ? 0 : -EIO;
}

/* Ask the SAM bridge of @o for a new destination's private keys */
static int sam_generate(const struct overlay *o, char *key, size_t keylen)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_storage ss;
	socklen_t sl = nbj_addr_to_sockaddr(&o->proxy, &ss);
	long long deadline = now_ms() + I2P_KEY_TIMEOUT_MS;
	char line[SAM_LINE_MAX], result[32];
	int err;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	{
		struct timeval tv = { .tv_sec = I2P_KEY_TIMEOUT_MS / 1000 };

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	err = sam_write(fd, "HELLO VERSION MIN=3.1 MAX=3.1\n");
	if (!err)
		err = sam_read_line(fd, line, sizeof(line), deadline);
	if (err < 0)
		return err;
	if (!i2p_sam_value(line, "RESULT", result, sizeof(result)) || strcmp(result, "OK"))
		return -EPROTO;
	err = sam_write(fd, "DEST GENERATE SIGNATURE_TYPE=7\n");
	if (!err)
		err = sam_read_line(fd, line, sizeof(line), deadline);
	if (err < 0)
		return err;
	if (strncmp(line, "DEST REPLY", 10) || !i2p_sam_value(line, "PRIV", key, keylen) ||
	    !i2p_key_valid(key))
		return -EPROTO;
	explicit_bzero(line, sizeof(line));
	return 0;
}

/* Read the private keys of @o from its key file; -ENOENT if there is none */
static int key_file_read(struct overlay *o)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	fd = open(o->key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_err("overlay %s: key_file %s must be a regular file of %s that "
			"nobody else may read (chmod 600)", o->name, o->key_file,
			geteuid() == 0 ? "root's" : "yours (the caller's)");
		return -EPERM;
	}
	n = read(fd, o->i2p_key, sizeof(o->i2p_key) - 1);
	if (n < 0)
		return -errno;
	o->i2p_key[n] = '\0';
	o->i2p_key[strcspn(o->i2p_key, "\r\n")] = '\0';
	if (!i2p_key_valid(o->i2p_key)) {
		log_err("overlay %s: key_file %s does not hold I2P private keys (one "
			"line of base64, as SAM's DEST GENERATE gives them)", o->name,
			o->key_file);
		explicit_bzero(o->i2p_key, sizeof(o->i2p_key));
		return -EINVAL;
	}
	return 0;
}

static int key_file_create(struct overlay *o)
{
	_cleanup_close_ int fd = -1;
	size_t len;
	int err;

	err = sam_generate(o, o->i2p_key, sizeof(o->i2p_key));
	if (err < 0) {
		char a[NBJ_ADDR_STRLEN];

		log_err("overlay %s: cannot create key_file %s: the SAM bridge at %s "
			"did not make a destination (%s)", o->name, o->key_file,
			nbj_addr_format(&o->proxy, a, sizeof(a)), strerror(-err));
		return err;
	}
	fd = open(o->key_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_err("overlay %s: cannot create key_file %s: %m", o->name, o->key_file);
		return -errno;
	}
	len = strlen(o->i2p_key);
	if (write(fd, o->i2p_key, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0) {
		err = -errno;
		(void)unlink(o->key_file);
		log_err("overlay %s: cannot write key_file %s: %s", o->name, o->key_file,
			strerror(-err));
		return err;
	}
	log_info("overlay %s: new I2P destination, its keys are in %s", o->name,
		 o->key_file);
	return 0;
}

/**
 * i2p_overlay_key() - the private keys and the address of an i2p overlay
 * with a key_file: read, or made and saved on first use
 * @o:		the overlay (kind i2p); i2p_key and i2p_address are set
 *
 * Return: 0 (also for an overlay without key_file: transient), negative
 * errno after logging why
 */
int i2p_overlay_key(struct overlay *o)
{
	int err;

	if (o->kind != OVERLAY_I2P || !o->key_file[0])
		return 0;
	err = key_file_read(o);
	if (err == -ENOENT)
		err = key_file_create(o);
	else if (err < 0 && err != -EPERM && err != -EINVAL)
		log_err("overlay %s: cannot read key_file %s: %s", o->name, o->key_file,
			strerror(-err));
	if (err < 0)
		return err;
	err = i2p_b32_address(o->i2p_key, o->i2p_address, sizeof(o->i2p_address));
	if (err < 0)
		log_err("overlay %s: key_file %s: not a destination", o->name, o->key_file);
	return err;
}
