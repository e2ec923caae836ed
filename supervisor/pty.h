/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/pty.h - the job's own terminal (supervisor/pty.c)
 */
#ifndef NBJ_SUPERVISOR_PTY_H
#define NBJ_SUPERVISOR_PTY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <termios.h>

#define PTY_TO_JOB_BUF 4096
#define PTY_TO_TERM_BUF 16384
#define PTY_POLL_FDS 3

/**
 * struct pty_relay - a pty pair and the caller's terminal, relayed
 * @master:	the master of the job's pty, ours only, O_NONBLOCK (never in
 *		the job); -1 until pty_relay_attach()
 * @model:	the terminal (one of fds 0, 1, 2, not owned) whose modes and
 *		window size the job's pty starts with
 * @term_in:	our own open file description of the caller's terminal
 *		(stdin), O_NONBLOCK, or -1 when stdin is not a terminal
 * @term_out:	the same for output (stdout, else stderr, else stdin)
 * @stdio:	bit N set: fd N of nbjail is a terminal, and the job's fd N
 *		becomes the slave
 * @raw:	the terminal is in raw mode, @saved restores it
 * @saved:	the terminal's modes before raw mode
 * @master_eof:	the master reported end (no slave left open)
 * @input_done:	the terminal hung up, or the job ended: read no more
 * @to_job:	bytes read from the terminal, not yet written to @master
 * @to_job_len:	their number
 * @to_term:	bytes read from @master, not yet written to the terminal
 * @to_term_len: their number
 */
struct pty_relay {
	int master;
	int model;
	int term_in;
	int term_out;
	unsigned stdio;
	bool raw;
	struct termios saved;
	bool master_eof;
	bool input_done;
	char to_job[PTY_TO_JOB_BUF];
	size_t to_job_len;
	char to_term[PTY_TO_TERM_BUF];
	size_t to_term_len;
};

int pty_relay_open(struct pty_relay *r);
int pty_relay_attach(struct pty_relay *r, int master);
int pty_relay_raw(struct pty_relay *r);
void pty_relay_restore(struct pty_relay *r);
void pty_relay_winsize(struct pty_relay *r);
size_t pty_relay_poll_fds(struct pty_relay *r, struct pollfd *pfd);
void pty_relay_events(struct pty_relay *r, const struct pollfd *pfd);
void pty_relay_drain(struct pty_relay *r, int timeout_ms);
void pty_relay_close(struct pty_relay *r);

int pty_job_open(const struct termios *modes, const struct winsize *size,
		 int *ret_master, int *ret_slave);
int pty_stdio_away(unsigned stdio);
int pty_stdio_onto(int tty_fd, unsigned stdio);
int pty_workload_attach(int tty_fd, unsigned stdio);

#endif /* NBJ_SUPERVISOR_PTY_H */
