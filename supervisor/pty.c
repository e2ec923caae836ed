/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervisor/pty.c - the job's own terminal, relayed by nbjail
 *
 * Theory of operation: a job must never share the caller's terminal.  A
 * process in the terminal's session can push bytes into its input
 * (TIOCSTI, also refused by seccomp/filter.c) which the caller's shell
 * then runs, outside every namespace; it can change the terminal's modes
 * or read what the caller types next.  So:
 *
 *   - the workload always starts a session of its own (setsid() in
 *     pty_workload_attach(), called by the reaper's workload_exec()), so
 *     it has no controlling terminal it did not get from us
 *   - when one of nbjail's fds 0, 1, 2 is a terminal, nbjail (the CLI,
 *     supervisor/main.c) says so with nbj_config_set_terminal(): which
 *     fds, and the terminal whose modes and window size the job's pty
 *     starts with (supervisor/job.c reads them; the terminal itself never
 *     reaches the job).  The reaper (the job's init) first puts /dev/null
 *     on those fds of its own (pty_stdio_away()), so nothing in the job
 *     holds the caller's terminal open, not even behind /proc/1/fd.  Once
 *     the job's own devpts is mounted it allocates the pair there
 *     (pty_job_open(): /dev/pts/ptmx of the job, the slave by
 *     TIOCGPTPEER), so the job's terminal has a name in the job
 *     (/dev/pts/0: tty(1), ttyname(3) and /dev/tty work); it sends the
 *     master out to the supervisor (REAPER_MSG_TERMINAL) and closes its
 *     copy before the workload exists, and puts the slave on its fds.
 *     The workload makes the slave its controlling terminal (TIOCSCTTY)
 *     and dup2()s it onto those of 0, 1, 2 that were terminals for
 *     nbjail; a redirected fd stays redirected.  The master stays with
 *     nbjail (nbj_job_take_terminal(), pty_relay_attach(); O_CLOEXEC)
 *   - when stdin is a terminal and nbjail is in its foreground process
 *     group, the terminal goes to raw mode (pty_relay_raw()): keys,
 *     ^C included, reach the job's pty, whose line discipline signals the
 *     job's foreground process group.  The modes are restored on every
 *     way out: pty_relay_restore() at the end of the run, an atexit()
 *     handler, and a handler for the fatal signals, which restores and
 *     re-raises.  The forwarded signals (SIGINT, SIGTERM, ...) reach
 *     nbjail through its signalfd and end the job, so they take the
 *     normal path.  Without a foreground terminal on stdin nothing is
 *     read and the modes are left alone: ^C still signals nbjail, which
 *     forwards it
 *   - nbjail's event loop (main.c) polls the terminal and the master
 *     through pty_relay_poll_fds() / pty_relay_events(): two bounded
 *     buffers, one each way, filled only when they have room, drained
 *     only when the other side can take bytes; nothing is allocated.  The
 *     terminal is reopened through /proc/self/fd (a new open file
 *     description), so O_NONBLOCK is ours and never changes the caller's
 *     shell's file; if that fails, a dup is used and read only after
 *     POLLIN, written only after POLLOUT
 *   - the window size is copied at start and on each SIGWINCH
 *     (pty_relay_winsize(): TIOCGWINSZ on the terminal, TIOCSWINSZ on the
 *     master; the kernel then sends SIGWINCH to the job's foreground
 *     group)
 *   - when the job has ended, pty_relay_drain() copies what is still in
 *     the pty (the master reads EIO once no slave is open and the buffer
 *     is empty), bounded in time.
 *
 * The job's exit status is untouched: the relay only moves bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "supervisor/pty.h"

enum { POLL_TERM_IN, POLL_MASTER, POLL_TERM_OUT };

/* What the fatal-signal and atexit handlers restore (one terminal per
 * process); written before raw mode is entered */
static int restore_fd = -1;
static struct termios restore_modes;

static void fd_drop(int *fd)
{
	closep(fd);
	*fd = -1;
}

static void restore_now(void)
{
	if (restore_fd >= 0)
		(void)tcsetattr(restore_fd, TCSANOW, &restore_modes);
}

static void restore_on_signal(int sig)
{
	restore_now();
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

/* A new open file description of the terminal at @fd, non-blocking; a
 * plain duplicate (shared flags, left blocking) if /proc is missing */
static int terminal_reopen(int fd, int flags)
{
	char path[32];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, flags | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (r >= 0)
		return r;
	r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return r < 0 ? negative_errno() : r;
}

/**
 * pty_job_open() - in the job's init: a pty pair of the job's own devpts
 * @modes:	the modes it starts with
 * @size:	its window size
 * @ret_master:	the master, O_CLOEXEC (for nbjail, never for the job)
 * @ret_slave:	the slave, O_CLOEXEC, not yet anyone's controlling terminal
 *
 * The slave is opened from the master (TIOCGPTPEER): no path lookup that
 * could name another devpts.
 *
 * Return: 0, or negative errno
 */
int pty_job_open(const struct termios *modes, const struct winsize *size,
		 int *ret_master, int *ret_slave)
{
	_cleanup_close_ int master = -1, slave = -1;
	int unlock = 0;

	master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return negative_errno();
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return negative_errno();
	if (tcsetattr(slave, TCSANOW, modes) < 0 || ioctl(master, TIOCSWINSZ, size) < 0)
		return negative_errno();
	*ret_master = TAKE_FD(master);
	*ret_slave = TAKE_FD(slave);
	return 0;
}

/**
 * pty_stdio_away() - /dev/null on those of fds 0, 1, 2 that are the
 * caller's terminal: the job's init calls it first thing, so that not
 * even it keeps the caller's terminal open (job root could reopen it
 * through /proc/1/fd)
 * @stdio:	bit N set: fd N
 *
 * Return: 0, or negative errno
 */
int pty_stdio_away(unsigned stdio)
{
	_cleanup_close_ int null = -1;

	if (!stdio)
		return 0;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return negative_errno();
	return pty_stdio_onto(null, stdio);
}

/**
 * pty_relay_open() - find out whether nbjail runs on a terminal
 * @r:		the relay to fill; all fds -1 if there is no terminal
 *
 * The job's pty is the job's own (pty_job_open()); its master comes later
 * (pty_relay_attach()).  Here: our own file descriptions of the terminal.
 *
 * Return: 1 with a terminal (give r->model and r->stdio to the job), 0
 * when none of fds 0, 1, 2 is a terminal, or negative errno
 */
int pty_relay_open(struct pty_relay *r)
{
	_cleanup_close_ int in = -1, out = -1;
	int first = -1;

	*r = (struct pty_relay){ .master = -1, .model = -1, .term_in = -1, .term_out = -1 };
	for (int fd = 0; fd < 3; fd++)
		if (isatty(fd)) {
			r->stdio |= 1u << fd;
			if (first < 0)
				first = fd;
		}
	if (!r->stdio)
		return 0;

	/* input only from a terminal we own the foreground of: reading one
	 * from the background would stop us (SIGTTIN) */
	if ((r->stdio & 1) && tcgetpgrp(0) == getpgrp()) {
		in = terminal_reopen(0, O_RDONLY);
		if (in < 0)
			return in;
	}
	out = terminal_reopen(r->stdio & 2 ? 1 : r->stdio & 4 ? 2 : 0, O_WRONLY);
	if (out < 0)
		return out;

	r->model = first;
	r->term_in = TAKE_FD(in);
	r->term_out = TAKE_FD(out);
	return 1;
}

/**
 * pty_relay_attach() - relay the job's pty from now on
 * @r:		the relay (pty_relay_open() returned 1)
 * @master:	the master of the job's pty (nbj_job_take_terminal()); owned
 *		by @r from now on, also on failure
 *
 * Return: 0, or negative errno
 */
int pty_relay_attach(struct pty_relay *r, int master)
{
	_cleanup_close_ int fd = master;

	if (fd < 0)
		return -EBADF;
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return negative_errno();
	fd_drop(&r->master);
	r->master = TAKE_FD(fd);
	pty_relay_winsize(r);	/* it may have changed since the job read it */
	return 0;
}

/**
 * pty_relay_raw() - put the caller's terminal in raw mode, if we read it
 * @r:		the relay
 *
 * Installs the restoring handlers (atexit, fatal signals) first.
 *
 * Return: 0 (also when there is nothing to do), or negative errno
 */
int pty_relay_raw(struct pty_relay *r)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGPIPE };
	static bool atexit_done;
	struct termios raw;

	if (r->term_in < 0 || r->raw)
		return 0;
	if (tcgetattr(r->term_in, &r->saved) < 0)
		return negative_errno();
	restore_modes = r->saved;
	restore_fd = r->term_in;
	if (!atexit_done && atexit(restore_now) == 0)
		atexit_done = true;
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		(void)signal(fatal[i], restore_on_signal);
	raw = r->saved;
	cfmakeraw(&raw);
	/* output processing stays: nbjail's own messages on stderr still
	 * start at the left margin */
	raw.c_oflag = r->saved.c_oflag;
	if (tcsetattr(r->term_in, TCSADRAIN, &raw) < 0)
		return negative_errno();
	r->raw = true;
	return 0;
}

/**
 * pty_relay_restore() - give the terminal its modes back (idempotent)
 * @r:		the relay
 */
void pty_relay_restore(struct pty_relay *r)
{
	if (!r->raw)
		return;
	(void)tcsetattr(r->term_in, TCSADRAIN, &r->saved);
	r->raw = false;
	restore_fd = -1;
}

/**
 * pty_relay_winsize() - copy the terminal's window size to the job's pty
 * @r:		the relay (call at start and on SIGWINCH)
 */
void pty_relay_winsize(struct pty_relay *r)
{
	struct winsize ws;

	if (r->master < 0)
		return;
	for (int fd = 0; fd < 3; fd++)
		if ((r->stdio & (1u << fd)) && ioctl(fd, TIOCGWINSZ, &ws) == 0) {
			(void)ioctl(r->master, TIOCSWINSZ, &ws);
			return;
		}
}

/**
 * pty_relay_poll_fds() - what the relay waits for
 * @r:		the relay
 * @pfd:	PTY_POLL_FDS entries to fill (fd -1 where nothing is wanted)
 *
 * Return: PTY_POLL_FDS
 */
size_t pty_relay_poll_fds(struct pty_relay *r, struct pollfd *pfd)
{
	bool master = r->master >= 0 && !r->master_eof;

	pfd[POLL_TERM_IN] = (struct pollfd){
		.fd = master && !r->input_done && r->to_job_len < sizeof(r->to_job) ?
		      r->term_in : -1,
		.events = POLLIN };
	pfd[POLL_MASTER] = (struct pollfd){ .fd = master ? r->master : -1 };
	if (r->to_term_len < sizeof(r->to_term))
		pfd[POLL_MASTER].events |= POLLIN;
	if (r->to_job_len)
		pfd[POLL_MASTER].events |= POLLOUT;
	pfd[POLL_TERM_OUT] = (struct pollfd){ .fd = r->to_term_len ? r->term_out : -1,
					      .events = POLLOUT };
	return PTY_POLL_FDS;
}

/* Move bytes from @from into @buf (room up to @cap).  Return false at
 * the end of @from (EOF, EIO from a master without slave, hangup) */
static bool fill(int from, char *buf, size_t *len, size_t cap)
{
	ssize_t n = read(from, buf + *len, cap - *len);

	if (n > 0) {
		*len += (size_t)n;
		return true;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Write what @to takes of @buf; keep the rest at its start.  Return
 * false if @to is gone */
static bool flush(int to, char *buf, size_t *len)
{
	ssize_t n = write(to, buf, *len);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	memmove(buf, buf + n, *len - (size_t)n);
	*len -= (size_t)n;
	return true;
}

/**
 * pty_relay_events() - act on what poll() reported for pty_relay_poll_fds()
 * @r:		the relay
 * @pfd:	the PTY_POLL_FDS entries after poll()
 */
void pty_relay_events(struct pty_relay *r, const struct pollfd *pfd)
{
	const struct pollfd *in = &pfd[POLL_TERM_IN], *m = &pfd[POLL_MASTER],
			    *out = &pfd[POLL_TERM_OUT];

	if (in->fd >= 0 && (in->revents & (POLLIN | POLLHUP | POLLERR)) &&
	    !fill(r->term_in, r->to_job, &r->to_job_len, sizeof(r->to_job)))
		r->input_done = true; /* hangup: nothing more to read */
	if (m->fd >= 0 && (m->revents & POLLOUT) && r->to_job_len &&
	    !flush(r->master, r->to_job, &r->to_job_len))
		r->master_eof = true;
	if (m->fd >= 0 && (m->revents & (POLLIN | POLLHUP | POLLERR)) &&
	    r->to_term_len < sizeof(r->to_term) &&
	    !fill(r->master, r->to_term, &r->to_term_len, sizeof(r->to_term)))
		r->master_eof = true;
	if (out->fd >= 0 && (out->revents & (POLLOUT | POLLHUP | POLLERR)) &&
	    !flush(r->term_out, r->to_term, &r->to_term_len))
		r->to_term_len = 0; /* the terminal is gone: drop the output */
	if (r->master_eof)
		r->to_job_len = 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/**
 * pty_relay_drain() - after the job ended: copy the rest of its output
 * @r:		the relay
 * @timeout_ms:	give up after this long (a process of the job that
 *		still holds the slave is killed with the PID namespace)
 */
void pty_relay_drain(struct pty_relay *r, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	r->input_done = true; /* no more input for a job that is gone */
	while ((r->master >= 0 && !r->master_eof) || r->to_term_len) {
		struct pollfd pfd[PTY_POLL_FDS];
		long long left = deadline - now_ms();

		if (left <= 0)
			break;
		pty_relay_poll_fds(r, pfd);
		if (pfd[POLL_MASTER].fd < 0 && pfd[POLL_TERM_OUT].fd < 0)
			break;
		if (poll(pfd, PTY_POLL_FDS, (int)left) < 0 && errno != EINTR)
			break;
		pty_relay_events(r, pfd);
	}
}

/**
 * pty_relay_close() - restore the terminal and close every fd of @r
 * @r:		the relay
 */
void pty_relay_close(struct pty_relay *r)
{
	pty_relay_restore(r);
	fd_drop(&r->master);
	fd_drop(&r->term_in);
	fd_drop(&r->term_out);
}

/**
 * pty_stdio_onto() - make @tty_fd this process's fds 0, 1, 2 where they
 * were terminals (the job's init: /dev/null, then the job's pty slave)
 * @tty_fd:	the pty slave, or -1 (nothing to do)
 * @stdio:	bit N set: dup2 @tty_fd onto fd N (N = 0, 1, 2)
 *
 * Return: 0, or negative errno
 */
int pty_stdio_onto(int tty_fd, unsigned stdio)
{
	for (int fd = 0; fd < 3 && tty_fd >= 0; fd++)
		if ((stdio & (1u << fd)) && fd != tty_fd && dup2(tty_fd, fd) < 0)
			return negative_errno();
	return 0;
}

/**
 * pty_workload_attach() - in the workload, before exec: a session of its
 * own, and the job's pty as controlling terminal and as the stdio fds
 * that were terminals for nbjail
 * @tty_fd:	the pty slave, or -1 (then only the new session)
 * @stdio:	bit N set: dup2 @tty_fd onto fd N (N = 0, 1, 2)
 *
 * Closes @tty_fd (unless it is one of 0, 1, 2 it was put on).
 *
 * Return: 0, or negative errno (the workload must not exec then)
 */
int pty_workload_attach(int tty_fd, unsigned stdio)
{
	int err;

	if (setsid() < 0)
		return negative_errno();
	if (tty_fd < 0)
		return 0;
	if (ioctl(tty_fd, TIOCSCTTY, 0) < 0)
		return negative_errno();
	err = pty_stdio_onto(tty_fd, stdio);
	if (err < 0)
		return err;
	if (tty_fd > 2)
		(void)close(tty_fd);
	return 0;
}
