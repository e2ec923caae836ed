/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/ctl.h - the control socket, see ctl.c
 */
#ifndef NBJ_SUPERVISOR_CTL_H
#define NBJ_SUPERVISOR_CTL_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

/**
 * struct ctl_server - one job's part in serving /run/nbjail/ctl.sock
 * @lock_fd:	/run/nbjail/ctl.lock, locked while serving
 * @listen_fd:	the listening socket, -1 unless serving
 * @timer_fd:	retry timer while another job serves, -1 otherwise
 * @epfd:	the job's epoll instance
 * @ev_listen:	epoll data for @listen_fd
 * @dev:	device of the socket file we bound
 * @ino:	its inode: we unlink only that one
 */
struct ctl_server {
	int lock_fd;
	int listen_fd;
	int timer_fd;
	int epfd;
	uint32_t ev_listen;
	dev_t dev;
	ino_t ino;
};

int ctl_handle(int argc, char *const argv[], char **ret_text);
int ctl_server_start(struct ctl_server *s, int epfd, uint32_t ev_listen,
		     uint32_t ev_retry);
void ctl_server_retry(struct ctl_server *s);
void ctl_server_accept(struct ctl_server *s);
void ctl_server_stop(struct ctl_server *s);
void ctl_remove_stale_socket(void);

#endif /* NBJ_SUPERVISOR_CTL_H */
