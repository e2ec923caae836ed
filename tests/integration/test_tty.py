# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_tty.py - the job never shares the caller's terminal

Issue 16, item 1: a job that shares the caller's controlling terminal can
push a command line into the caller's shell with ioctl(TIOCSTI).  Each
test here gives nbjail a terminal of the test's own (os.openpty(); the
slave is the controlling terminal of a bash that runs nbjail, as a user's
interactive shell would be) and reads everything written to it.  The job
must get a pty of its own, relayed by nbjail (input, output, window
size, exit status), and every TIOCSTI/TIOCLINUX must fail with EPERM.
In the rootless pass the shell, its terminal and nbjail are the test
user's, and the job's user other than root is that user (only root maps
another user, like nobody, into a job).
"""
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import CALLER_UID, HOST_NS, NBJAIL, PYTHON, ROOTLESS, as_caller, nbjail, nbjail_env

ESCAPE = Path(NBJAIL).parent / "tests" / "escape" / "escape-tiocsti"
# a job user other than root: nobody, or rootless the caller
JOB_USER = str(CALLER_UID) if ROOTLESS else "nobody"


class Terminal:
    """bash -c SCRIPT, as the caller, on a pty of the test's own (the
    caller's, as a login's is), in the host netns."""

    def __init__(self, script, rows=24, cols=80):
        self.master, slave = os.openpty()
        self.slave_name = os.ttyname(slave)
        os.chown(self.slave_name, CALLER_UID, -1)
        self.resize(rows, cols)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", HOST_NS, *as_caller(["bash", "-c", script])],
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            env=nbjail_env({"NBJAIL": NBJAIL}))
        os.close(slave)
        self.out = b""

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def write(self, data):
        os.write(self.master, data)

    def read_until(self, marker, timeout=30):
        """Collect output until marker (bytes) appears, or EOF / timeout."""
        deadline = time.monotonic() + timeout
        while marker not in self.out and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: every slave is closed
                break
            if not data:
                break
            self.out += data
        return marker in self.out

    def finish(self, timeout=60):
        self.read_until(b"\0never\0", timeout=timeout) if self.proc.poll() is None else None
        rc = self.proc.wait(timeout=10)
        os.close(self.master)
        return rc, self.out.decode(errors="replace")


@pytest.mark.parametrize("user", [JOB_USER, "0"], ids=["user", "root"])
def test_tiocsti_reaches_no_shell(nbj, user):
    """The job tries TIOCSTI on fd 0 and /dev/tty: EPERM, and the caller's
    shell reads nothing (before the fix it read the injected line)."""
    t = Terminal(f'"$NBJAIL" run --profile minimal --user {user} -- {ESCAPE}; echo "RC=$?"\n'
                 'read -r -t 2 line; echo "GOT:[$line]"')
    assert t.read_until(b"GOT:"), t.out
    rc, out = t.finish()
    print(out)
    assert "GOT:[]" in out, out
    assert "RC=0" in out, out
    assert "ESCAPED" not in out and "UNEXPECTED" not in out, out
    # on the job's own pty the kernel itself would let TIOCSTI through (it is
    # the job's controlling terminal): these EPERMs are the seccomp rules,
    # the masked compare included (the "| 1 << 32" forms)
    for what in ("fd 0, TIOCSTI)", "fd 0, TIOCSTI | 1 << 32)", "fd 0, TIOCLINUX)",
                 "/dev/tty, TIOCSTI)", "/dev/tty, TIOCSTI | 1 << 32)"):
        assert f"held: ioctl({what} -> Operation not permitted" in out, (what, out)
    assert rc == 0


JOB = ("tty; echo PTMX=$(ls -l /proc/$$/fd | grep -c ptmx); echo READY; read -r line; "
       "echo \"JOB:[$line]\"; stty size; exit 7")


def test_interactive_job_through_its_own_pty(nbj):
    """Input reaches the job through nbjail's relay, output comes back, the
    window size follows the terminal (at start and on SIGWINCH), the exit
    status is the job's, and the job's terminal is not the caller's."""
    t = Terminal(f'"$NBJAIL" run --profile minimal --user {JOB_USER} -- sh -c \'{JOB}\'; '
                 'echo "RC=$?"', rows=37, cols=101)
    assert t.read_until(b"READY"), t.out
    t.resize(40, 120)  # SIGWINCH to nbjail, which resizes the job's pty
    time.sleep(0.5)
    t.write(b"hello\n")
    assert t.read_until(b"RC="), t.out
    rc, out = t.finish()
    print(out)
    assert "JOB:[hello]" in out, out
    assert "PTMX=0" in out, out  # the master never reaches the job
    assert "40 120" in out, out
    assert "RC=7" in out, out
    # the job's pty comes from the job's own devpts: it has a name there
    # (which may well be the caller's terminal's name on the host: the
    # device is another, test_job_terminal_is_its_own_and_has_a_name)
    job_tty = [w for w in out.split() if w.startswith("/dev/pts/")]
    assert job_tty == ["/dev/pts/0"], out
    assert rc == 0


JOB_FDS = "echo FDS; ls -1 /proc/$$/fd; echo END"


def test_job_on_a_terminal_keeps_only_its_stdio(nbj):
    """The workload is spawned sharing the job's init's fd table until
    exec: with a terminal, the init also held the pty's master (sent to
    nbjail) and its slave.  After exec the job has its stdio (the slave)
    and nothing else but the dock's desk at 1023 (a net job's): not the
    master, not the slave's first fd, not the init's socket to the
    supervisor, not the relay's sockets."""
    t = Terminal(f'"$NBJAIL" run --profile net -- sh -c \'{JOB_FDS}\'; echo "RC=$?"')
    assert t.read_until(b"RC="), t.out
    rc, out = t.finish()
    print(out)
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    assert "RC=0" in lines, out
    fds = lines[lines.index("FDS") + 1:lines.index("END")]
    assert sorted(fds, key=int) == ["0", "1", "2", "1023"], out
    assert rc == 0


def test_window_size_at_start(nbj):
    t = Terminal('"$NBJAIL" run --profile minimal -- stty size; echo "RC=$?"', rows=33, cols=77)
    assert t.read_until(b"RC="), t.out
    rc, out = t.finish()
    assert "33 77" in out, out
    assert "RC=0" in out, out


def test_redirected_stdout_stays_redirected(nbj, tmp_path):
    """Only the fds that were terminals become the job's pty."""
    f = tmp_path / "out.txt"
    t = Terminal(f'"$NBJAIL" run --profile minimal -- sh -c '
                 f'\'echo redirected; test -t 1 || echo notatty; test -t 0 && echo inatty\' > {f}; '
                 'echo "RC=$?"; stty -a | grep -o -- "-\\?icanon"')
    assert t.read_until(b"RC="), t.out
    rc, out = t.finish()
    assert f.read_text() == "redirected\nnotatty\ninatty\n", (f.read_text(), out)
    # the caller's terminal has its modes back (canonical, not raw)
    assert "-icanon" not in out and "icanon" in out, out


def test_job_has_its_own_session_without_terminal(nbj):
    """Without a terminal, the workload still leads a session of its own
    (before the fix it was in nbjail's session, whose leader lies outside
    the job's PID namespace: sid 0)."""
    cp = nbjail("run", "--profile", "minimal", "--", PYTHON, "-c",
                "import os; print(os.getsid(0), os.getpid())")
    assert cp.returncode == 0, cp.stderr
    sid, pid = cp.stdout.split()
    assert sid == pid and sid != "0", cp.stdout


PEEK = ("import os\n"
        "for fd in (0, 1, 2):\n"
        "    try:\n"
        "        print('fd', fd, os.stat(f'/proc/1/fd/{fd}').st_rdev)\n"
        "    except OSError as e:\n"
        "        print('fd', fd, 'error', e.errno)\n")


def test_job_init_holds_no_caller_terminal(nbj):
    """The job's init (the reaper, PID 1) must not hold the caller's terminal
    either: job root could reopen it through /proc/1/fd and read what the
    caller types or write to it."""
    t = Terminal(f'"$NBJAIL" run --profile minimal --user 0 -- {PYTHON} -c "{PEEK}"; '
                 'echo "RC=$?"')
    assert t.read_until(b"RC="), t.out
    caller = os.stat(t.slave_name).st_rdev
    rc, out = t.finish()
    print(out)
    seen = [line.split()[2] for line in out.splitlines() if line.startswith("fd ")]
    assert len(seen) == 3, out
    assert str(caller) not in seen, (caller, out)


def test_ctrl_c_reaches_the_job_and_modes_come_back(nbj):
    """^C typed on the caller's terminal is a byte for the job's pty, whose
    line discipline signals the job (exit 130); the caller's terminal is
    canonical again afterwards."""
    t = Terminal('"$NBJAIL" run --profile minimal -- sh -c "echo READY; exec sleep 30"; '
                 'echo "RC=$?"; stty -a | grep -o -- "-\\?icanon"')
    assert t.read_until(b"READY"), t.out
    time.sleep(0.3)
    t.write(b"\x03")
    assert t.read_until(b"RC=", timeout=20), t.out
    rc, out = t.finish()
    assert "RC=130" in out, out
    assert "-icanon" not in out and "icanon" in out, out


def test_piped_input_terminal_output(nbj):
    """stdin a pipe, stdout a terminal: the input stays the pipe, the output
    goes through the job's own pty (test -t 1), never the caller's."""
    t = Terminal('echo piped | "$NBJAIL" run --profile minimal -- '
                 'sh -c \'cat; test -t 0 || echo in-not-tty; tty <&1 || true; test -t 1 && echo out-tty\'; '
                 'echo "RC=$?"')
    assert t.read_until(b"RC="), t.out
    rc, out = t.finish()
    assert "piped" in out and "in-not-tty" in out and "out-tty" in out, out
    job_tty = [w for w in out.split() if w.startswith("/dev/pts/")]
    assert job_tty == ["/dev/pts/0"], out
    assert "RC=0" in out, out


def nbjail_pid(marker, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cp = subprocess.run(["pgrep", "-f", f"nbjail run --name {marker}"], capture_output=True,
                            text=True)
        pids = [int(p) for p in cp.stdout.split()]
        if pids:
            return pids[0]
        time.sleep(0.1)
    return None


def test_modes_restored_when_nbjail_dies_of_a_signal(nbj):
    """A fatal signal to nbjail (SIGABRT: not forwarded, not caught by its
    signalfd) still gives the caller's terminal its modes back."""
    t = Terminal('"$NBJAIL" run --name ttyabort --profile minimal -- sh -c "echo READY; '
                 'exec sleep 30"; echo "RC=$?"; stty -a | grep -o -- "-\\?icanon"')
    assert t.read_until(b"READY"), t.out
    pid = nbjail_pid("ttyabort")
    assert pid, "nbjail not found"
    os.kill(pid, signal.SIGABRT)
    assert t.read_until(b"icanon", timeout=20), t.out
    rc, out = t.finish()
    assert "RC=134" in out, out
    assert "-icanon" not in out, out


TTY_PROBE = r"""
import errno, json, os, sys
out = {}
def dev(st):
    return [st.st_dev, st.st_rdev]
def step(name, fn):
    try:
        out[name] = fn()
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
def open_dev(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        return dev(os.fstat(fd))
    finally:
        os.close(fd)
step("ttyname", lambda: os.ttyname(0))
step("isatty", lambda: os.isatty(0))
step("fd0", lambda: dev(os.fstat(0)))
def dev_tty():
    # the inode of /dev/tty is the indirection (5, 0); whose terminal
    # it opened shows in its foreground process group: ours
    fd = os.open("/dev/tty", os.O_RDWR)
    try:
        return [os.tcgetpgrp(fd) == os.tcgetpgrp(0) == os.getpgrp(), os.isatty(fd)]
    finally:
        os.close(fd)
step("dev_tty", dev_tty)
step("by_name", lambda: open_dev(os.ttyname(0)))
step("caller_name", lambda: open_dev(sys.argv[1]))
step("init_fd0", lambda: open_dev("/proc/1/fd/0"))
print("PROBE " + json.dumps(out))
"""


@pytest.mark.parametrize("user", [JOB_USER, "0"])
def test_job_terminal_is_its_own_and_has_a_name(nbj, user):
    """(TTY_PROBE is passed in single quotes: no apostrophe in it.)
    tty(1) in the job names /dev/pts/N of the job's own devpts, fd 0 is
    a terminal, /dev/tty opens it (the controlling terminal), and no path
    the job tries (the caller's terminal's name, /proc/1/fd/0, /dev/tty)
    leads to the caller's terminal: not the same device of the same
    devpts.  Before, tty said "not a tty" and /dev/tty named nothing."""
    t = Terminal(f'"$NBJAIL" run --profile minimal --user {user} -- sh -c '
                 f'\'tty; test -t 0 && echo T0-is-a-tty; '
                 f'{PYTHON} -c "$0" "$1"\' \'{TTY_PROBE}\' {t_name()}; echo "RC=$?"')
    assert t.read_until(b"RC="), t.out
    caller = os.stat(t.slave_name)
    rc, out = t.finish()
    print(out)
    assert "RC=0" in out, out
    lines = out.splitlines()
    assert lines[0].strip() == "/dev/pts/0", out
    assert "T0-is-a-tty" in out, out
    probe = json.loads([ln for ln in lines if ln.startswith("PROBE ")][0][6:])
    assert probe["ttyname"] == "/dev/pts/0" and probe["isatty"] is True, probe
    assert probe["dev_tty"] == [True, True] and probe["fd0"] == probe["by_name"], probe
    # the job's devpts is not the host's: not one path reaches the caller's
    assert probe["fd0"][0] != caller.st_dev, (probe, caller)
    for k in ("fd0", "by_name", "caller_name", "init_fd0"):
        assert probe[k] != [caller.st_dev, caller.st_rdev], (k, probe)
    # the job's init (not dumpable) lets nobody reopen its fds
    assert probe["init_fd0"] in ("EACCES", "EPERM"), probe


def t_name():
    """The test's own terminal's name is only known once it exists: the job
    gets it as an argument through the shell ($TTY_NAME of bash -c)."""
    return '"$(tty)"'
