/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common/fdpass.c - one message with file descriptors attached, over
 * the AF_UNIX socket pairs between the supervisor, the reaper, the
 * keeper and the relay
 *
 * Theory of operation: a message is one sendmsg() of a small struct with
 * the fds in a single SCM_RIGHTS control message; the receiver takes them
 * close-on-exec.  Fds beyond what the receiver asked for, or of a control
 * message the kernel had to truncate, are closed: a message either comes
 * with what it announced or is refused (-EPROTO).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "common/fdpass.h"

#define FDPASS_MAX 8	/* fds in one message */

/**
 * fd_send() - send @len bytes of @buf with @n_fds fds attached
 * @sock:	connected AF_UNIX socket
 * @buf:	the message
 * @len:	its length
 * @fds:	fds to pass (duplicated into the receiver), may be NULL if
 *		@n_fds is 0
 * @n_fds:	how many, at most FDPASS_MAX
 *
 * Return: 0 once the whole message is sent, or negative errno
 */
int fd_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
		struct cmsghdr align;
	} u = { 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds > FDPASS_MAX)
		return -EINVAL;
	if (n_fds) {
		struct cmsghdr *cm;

		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? negative_errno() : -EIO;
}

/**
 * fd_recv() - receive one message and the fds attached to it
 * @sock:	connected AF_UNIX socket
 * @buf:	room for the message
 * @len:	its size
 * @flags:	recvmsg() flags (MSG_DONTWAIT, ...); MSG_CMSG_CLOEXEC is added
 * @fds:	filled with the fds received, in order; the rest is set to -1
 * @max_fds:	room in @fds, at most FDPASS_MAX
 * @ret_n_fds:	how many were received, may be NULL
 *
 * Return: the message's length (0 at EOF), or negative errno (-EPROTO when
 * more fds came than asked for; none is then kept)
 */
ssize_t fd_recv(int sock, void *buf, size_t len, int flags, int *fds, size_t max_fds,
		size_t *ret_n_fds)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	bool excess = false;
	size_t got = 0;
	ssize_t n;

	for (size_t i = 0; i < max_fds; i++)
		fds[i] = -1;
	if (ret_n_fds)
		*ret_n_fds = 0;
	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (got < max_fds) {
				fds[got++] = fd;
			} else {
				close(fd);
				excess = true;
			}
		}
	}
	if (excess || (mh.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < got; i++) {
			closep(&fds[i]);
			fds[i] = -1;
		}
		return -EPROTO;
	}
	if (ret_n_fds)
		*ret_n_fds = got;
	return n;
}
