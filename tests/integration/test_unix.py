# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_unix.py - AF_UNIX calls carried out by the supervisor

The notifier reads an AF_UNIX address once, decides on the inode it names
in the job's view and makes the call itself on the job's socket
(seccomp/unix.c): a thread that rewrites the address after the check must
reach nothing.  The race tests put host listeners in /var/cache, /var/lib
and the caller's home directory (visible to the job, read-only), run
tests/escape/unix_race in the job, and fail if any call reached a
forbidden listener or planted a socket in a host directory.  The
functional tests check that allowed sockets still work (stream, datagram,
non-blocking, blocking with a full backlog), what SO_PEERCRED shows, and
that a refused call gets EACCES and a deny line.
"""
import contextlib
import json
import os
import re
import shutil
import socket
import stat
import struct
import threading
import time
from pathlib import Path

import pytest

from conftest import NBJAIL, PYTHON, ROOTLESS, RUN_DIR, needs_root, nbjail, read_line, seccomp_denies

AS_NOBODY = needs_root("the job runs as nobody: only root maps another user into a job")

RACE = str(Path(NBJAIL).parent / "tests" / "escape" / "escape-unix_race")
NOBODY = 65534


class Listener:
    """A pathname unix socket on the host that records every peer."""

    def __init__(self, path, kind=socket.SOCK_STREAM, backlog=64, accept=True):
        self.path = str(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, kind)
        if kind == socket.SOCK_DGRAM:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.kind = kind
        self.seen = 0
        self.creds = []          # (pid, uid, gid) of stream peers / datagram senders
        self.stop = threading.Event()
        if kind == socket.SOCK_STREAM:
            self.sock.listen(backlog)
        self.sock.settimeout(0.1)
        self.t = None
        if accept:
            self.t = threading.Thread(target=self._run, daemon=True)
            self.t.start()

    def _run(self):
        deadline = time.monotonic() + 180
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if self.kind == socket.SOCK_STREAM:
                    c, _ = self.sock.accept()
                    cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                    c.close()
                    self.creds.append(struct.unpack("3i", cred))
                else:
                    _, anc, _, _ = self.sock.recvmsg(64, socket.CMSG_SPACE(12))
                    for lvl, typ, data in anc:
                        if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                            self.creds.append(struct.unpack("3i", data[:12]))
                self.seen += 1
            except (socket.timeout, OSError):
                continue

    def close(self):
        self.stop.set()
        if self.t:
            self.t.join(timeout=5)
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@pytest.fixture
def host_dirs():
    """Directories of the host that the job sees: in /var/cache (the job's
    /tmp is its own, so a host directory there would be out of its sight),
    in /home (where users' homes are; the job never runs as host root, so
    root's 0700 home is out of its reach anyway) and in /var/lib (which
    every user may traverse).  Short paths: unix_swap_bind needs them."""
    dirs = [Path(f"/var/cache/nbjr-{os.getpid()}"), Path(f"/home/nbjr-{os.getpid()}"),
            Path(f"/var/lib/nbjrace-{os.getpid()}")]
    listeners = []
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(mode=0o777)
        os.chmod(d, 0o777)

    def listen(path, kind=socket.SOCK_STREAM, **kw):
        lst = Listener(path, kind, **kw)
        listeners.append(lst)
        return lst
    yield dirs, listen
    for lst in listeners:
        lst.close()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


# where a half-flipped path (bytes of both addresses) can land on the host
NEAR = ["/", "/tmp", "/var", "/var/cache", "/var/lib", "/home", "/root", "/dev", "/dev/shm", os.environ.get("HOME") or "/root"]


def planted_near(since):
    """Socket files made on the host since @since next to the test's
    directories, with a name from the race (other tests' are not ours)."""
    found = []
    for d in NEAR:
        with contextlib.suppress(OSError):
            for e in os.scandir(d):
                with contextlib.suppress(OSError):
                    st = e.stat(follow_symlinks=False)
                    if (stat.S_ISSOCK(st.st_mode) and st.st_mtime >= since and
                            re.search(r"nbjrace|nbjr-|planted|0{6}|^p$", e.name)):
                        found.append(e.path)
    return found


def run_race(*args, allow=(), user="root"):
    extra = []
    for a in allow:
        extra += ["--unix-allow", a]
    return nbjail("run", "--profile", "minimal", "--user", user, *extra, "--", RACE, *args,
                  timeout=120)


def counts(cp):
    line = [ln for ln in cp.stdout.splitlines() if ln.startswith("counts ")]
    assert line, (cp.returncode, cp.stdout, cp.stderr)
    return dict(kv.split("=") for kv in line[-1].split()[1:])


@pytest.mark.parametrize("mode", ["connect", "sendto", "sendmsg", "sendmsg-name", "symlink"])
def test_race_reaches_only_the_allowed_socket(nbj, world, host_dirs, mode):
    dirs, listen = host_dirs
    kind = socket.SOCK_STREAM if mode in ("connect", "symlink") else socket.SOCK_DGRAM
    for d in dirs:
        good = listen(d / "a.sock", kind)
        bad = listen(d / "f.sock", kind)
        cp = run_race(mode, good.path, bad.path, allow=[good.path])
        print(cp.stdout)
        assert "ESCAPED" not in cp.stdout, cp.stdout
        assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
        time.sleep(0.3)  # let the listeners drain what the kernel queued
        c = counts(cp)
        assert bad.seen == 0, f"{bad.path} was reached {bad.seen} times ({c})"
        # the race really ran: both targets were tried
        assert int(c["ok"]) > 0 and good.seen > 0, c
        assert int(c["denied"]) > 0, c
        # symlink: a link swapped between the check and the helper's second
        # look is refused by the helper (unix-path-changed), never followed
        reasons = {d[5] for d in seccomp_denies(cp.stderr)}
        assert "unix-path" in reasons, cp.stderr[-2000:]
        assert reasons <= {"unix-path", "unix-path-changed"}, reasons
        print(mode, d, c, sorted(reasons))


def test_race_bind_plants_nothing_in_host_directories(nbj, world, host_dirs):
    dirs, _listen = host_dirs
    since = time.time() - 1
    for d in dirs:
        forbidden = str(d / "planted-by-the-job.sock")
        cp = run_race("bind", forbidden)
        print(cp.stdout)
        assert "ESCAPED" not in cp.stdout, cp.stdout
        assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
        c = counts(cp)
        assert int(c["ok"]) > 0 and int(c["denied"]) > 0, c
        assert sorted(os.listdir(d)) == [], f"socket planted in host {d}"
        assert {x[5] for x in seccomp_denies(cp.stderr)} == {"unix-path"}, cp.stderr[-2000:]
    # half-flipped paths land elsewhere: /tmp/nbjrace-000...0.sock, ...
    assert planted_near(since) == []


JOB = r"""
import errno, json, os, socket, struct, sys, threading, time
out = {}
def step(name, fn):
    try:
        r = fn()
        out[name] = "ok" if r is None else r
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
"""


def job(script, *extra, user="nobody"):
    cp = nbjail("run", "--profile", "minimal", "--user", user, *extra, "--", PYTHON, "-I", "-c",
                JOB + script + "\nprint(json.dumps(out))", timeout=60)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    return cp, json.loads(cp.stdout.strip().splitlines()[-1])


@AS_NOBODY
def test_allowed_sockets_work_and_show_the_jobs_credentials(nbj, world, host_dirs):
    dirs, listen = host_dirs
    stream = listen(dirs[2] / "s.sock")
    dgram = listen(dirs[2] / "d.sock", socket.SOCK_DGRAM)
    home = dirs[1] / "home"          # a home of root's kind: 0700, root's
    home.mkdir(mode=0o700)
    os.chmod(home, 0o700)
    behind = listen(home / "s.sock")
    cp, out = job(f'''
def stream(path={stream.path!r}):
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    return s.getpeername()
def dgram():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    return s.sendto(b"hello", {dgram.path!r})
def dgram_connected():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect({dgram.path!r})
    s.send(b"a"); return s.sendmsg([b"b", b"c"])
def nonblocking():
    s = socket.socket(socket.AF_UNIX); s.setblocking(False)
    s.connect({stream.path!r}); return s.getblocking()
step("stream", stream)
step("behind_0700_home", lambda: stream({behind.path!r}))
step("dgram", dgram)
step("dgram_connected", dgram_connected)
step("nonblocking", nonblocking)
step("uid", lambda: os.getuid())
''', "--unix-allow", stream.path, "--unix-allow", dgram.path, "--unix-allow", behind.path)
    # allowed, but nobody may not search root's home: the kernel's answer
    assert out == {"stream": stream.path, "behind_0700_home": "EACCES", "dgram": 5,
                   "dgram_connected": 2, "nonblocking": False, "uid": NOBODY}, out
    assert behind.seen == 0
    time.sleep(0.3)
    assert stream.seen == 2 and dgram.seen == 3, (stream.seen, dgram.seen)
    # SO_PEERCRED and SCM_CREDENTIALS: the job's uid and gid; the pid is
    # the supervisor's helper that made the call (documented in nbjail(1))
    creds = stream.creds + dgram.creds
    assert len(creds) == 5 and all(uid == NOBODY and gid == NOBODY and pid > 0
                                   for pid, uid, gid in creds), creds
    assert seccomp_denies(cp.stderr) == []


@AS_NOBODY
def test_full_backlog_nonblocking_eagain_blocking_waits(nbj, world, host_dirs):
    dirs, listen = host_dirs
    full = listen(dirs[2] / "full.sock", backlog=0, accept=False)
    cp, out = job(f'''
held = []
def fill():
    for i in range(64):
        s = socket.socket(socket.AF_UNIX); s.setblocking(False)
        try: s.connect({full.path!r})
        except BlockingIOError: return i
        held.append(s)
    return "never-full"
def blocking():
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 1, 0))
    t = time.monotonic()
    try: s.connect({full.path!r})
    except OSError as e: return [errno.errorcode[e.errno], round(time.monotonic() - t)]
    return "connected"
def meanwhile():
    # a blocked connect does not block the supervisor: this one is answered
    r = {{}}
    th = threading.Thread(target=lambda: r.update(b=blocking())); th.start()
    time.sleep(0.3)
    s = socket.socket(socket.AF_UNIX); s.bind("/dev/shm/meanwhile.sock")
    done_while_blocked = th.is_alive()
    th.join()
    return [done_while_blocked, r["b"]]
step("fill", fill)
step("meanwhile", meanwhile)
''', "--unix-allow", full.path)
    assert isinstance(out["fill"], int) and out["fill"] < 64, out
    assert out["meanwhile"] == [True, ["EAGAIN", 1]], out


@AS_NOBODY
def test_refused_calls_get_eacces_and_a_deny_line(nbj, world, host_dirs):
    dirs, listen = host_dirs
    stream = listen(dirs[2] / "s.sock")
    dgram = listen(dirs[2] / "d.sock", socket.SOCK_DGRAM)
    cp, out = job(f'''
def connect(p, kind=socket.SOCK_STREAM):
    socket.socket(socket.AF_UNIX, kind).connect(p)
def sendto(p):
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", p)
def sendmsg_creds(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    cred = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
    s.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, cred)], 0, "/dev/shm/own.dgram")
def sendmsg_fds():
    # SCM_RIGHTS is carried over: the receiver gets the same pipe
    r, w = os.pipe()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", w))], 0,
              "/dev/shm/fds.dgram")
    msg, anc, _, _ = fds.recvmsg(16, socket.CMSG_SPACE(4))
    got = struct.unpack("i", anc[0][2][:4])[0]
    os.write(got, b"through the passed fd")
    return os.read(r, 64).decode()
def pair_fds():
    # a datagram socketpair: no address, the helper sends (msg_name may
    # be rewritten after the check, so it is never continued)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    r, w = os.pipe()
    a.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", w))])
    msg, anc, _, _ = b.recvmsg(16, socket.CMSG_SPACE(4))
    os.write(struct.unpack("i", anc[0][2][:4])[0], b"pair")
    return os.read(r, 16).decode()
def sendmsg_bad_fd():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", 999))], 0,
              "/dev/shm/fds.dgram")
def bind(p):
    socket.socket(socket.AF_UNIX).bind(p)
own = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); own.bind("/dev/shm/own.dgram")
fds = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); fds.bind("/dev/shm/fds.dgram")
step("connect", lambda: connect({stream.path!r}))
step("connect_dgram", lambda: connect({dgram.path!r}, socket.SOCK_DGRAM))
step("sendto", lambda: sendto({dgram.path!r}))
step("bind_home", lambda: bind({str(dirs[1] / "job.sock")!r}))
step("bind_tmp", lambda: bind({str(dirs[0] / "job.sock")!r}))
step("bind_var_lib", lambda: bind({str(dirs[2] / "job.sock")!r}))
step("credentials", lambda: sendmsg_creds(None))
step("fds", sendmsg_fds)
step("bad_fd", sendmsg_bad_fd)
step("pair_fds", pair_fds)
step("own_sendto", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", "/dev/shm/own.dgram"))
step("own_name", lambda: own.getsockname())
step("own_mode", lambda: oct(os.stat("/dev/shm/own.dgram").st_mode & 0o777))
step("own_uid", lambda: os.stat("/dev/shm/own.dgram").st_uid)
step("missing", lambda: connect("/dev/shm/nothing.sock"))
''')
    assert out == {"connect": "EACCES", "connect_dgram": "EACCES", "sendto": "EACCES",
                   "bind_home": "EACCES", "bind_tmp": "EACCES", "bind_var_lib": "EACCES", "credentials": "EACCES",
                   "fds": "through the passed fd", "bad_fd": "EBADF", "pair_fds": "pair",
                   "own_sendto": 1, "own_name": "own.dgram", "own_mode": "0o755",
                   "own_uid": NOBODY, "missing": "ENOENT"}, out
    denies = seccomp_denies(cp.stderr)
    assert [(d[1], d[5]) for d in denies] == [
        ("connect", "unix-path"), ("connect", "unix-path"), ("sendto", "unix-path"),
        ("bind", "unix-path"), ("bind", "unix-path"), ("bind", "unix-path"),
        ("sendmsg", "unix-ancillary")], cp.stderr
    assert stream.seen == 0 and dgram.seen == 0
    assert os.listdir(dirs[0]) == [] and os.listdir(dirs[1]) == []
    assert sorted(os.listdir(dirs[2])) == ["d.sock", "s.sock"]


def test_swapped_fd_bind_plants_nothing(nbj, world, host_dirs):
    # an IPv6 bind the notifier lets the kernel continue, whose fd another
    # thread replaced by an AF_UNIX socket: only the kernel (Landlock) stands
    # between this and a socket file in the host directory
    swap = str(Path(NBJAIL).parent / "tests" / "escape" / "escape-unix_swap_bind")
    since = time.time() - 1
    for d in host_dirs[0]:
        forbidden = str(d / "p")
        cp = nbjail("run", "--profile", "minimal", "--user", "root", "--", swap, forbidden,
                    timeout=120)
        print(cp.stdout)
        assert "ESCAPED" not in cp.stdout, cp.stdout
        assert cp.returncode == 0 and cp.stdout.startswith("held: "), (cp.stdout, cp.stderr[-2000:])
        assert os.listdir(d) == [], f"socket planted in host {d}"
    assert planted_near(since) == []


@pytest.mark.parametrize("mode", ["connect", "sendto", "sendmsg", "stream-sendmsg",
                                  "netlink-connect", "netlink-sendto", "netlink-sendmsg"])
def test_swapped_fd_reaches_no_host_socket(nbj, world, host_dirs, mode):
    # issue 16, item 2: an IPv4 call the notifier judged, whose fd number
    # another thread replaced by an AF_UNIX socket while a third flipped
    # the address into a host path.  Nothing the notifier decided on may
    # be carried out on another socket: the listener must see nobody.
    swap = str(Path(NBJAIL).parent / "tests" / "escape" / "escape-unix_swap")
    dirs, listen = host_dirs
    # netlink-*: the decoy is a netlink socket, whose calls are carried out
    # by a helper with the job's own credentials (they were continued)
    kind = socket.SOCK_STREAM if mode.endswith("connect") else socket.SOCK_DGRAM
    bad = listen(dirs[2] / "forbidden.sock", kind)
    cp = nbjail("run", "--profile", "minimal", "--user", "root", "--", swap, mode, bad.path,
                timeout=120)
    print(cp.stdout)
    time.sleep(0.3)  # let the listener drain what the kernel queued
    assert "ESCAPED" not in cp.stdout, cp.stdout
    assert bad.seen == 0, f"{bad.path} was reached {bad.seen} times: {cp.stdout}"
    assert cp.returncode == 0 and cp.stdout.startswith("held: "), (cp.stdout, cp.stderr[-2000:])
    c = counts(cp)
    # the race really ran: calls went through (stream-sendmsg: the stream
    # socket refuses an address), and path calls were refused
    assert (mode == "stream-sendmsg" or int(c["ok"]) > 0) and int(c["denied"]) > 0, c


@AS_NOBODY
def test_stream_sends_carry_the_jobs_credentials(nbj, world, host_dirs):
    # a stream send is carried out by the supervisor (never continued: the
    # fd-number swap); the receiver's SCM_CREDENTIALS must still name the
    # job's uid and gid, never the supervisor's (root)
    dirs, _listen = host_dirs
    path = str(dirs[2] / "creds.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    srv.bind(path)
    os.chmod(path, 0o777)
    srv.listen(4)
    srv.settimeout(30)
    got = {}

    def serve():
        c, _ = srv.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        c.settimeout(10)
        data, creds = b"", []
        while len(data) < 6:
            d, anc, _, _ = c.recvmsg(64, socket.CMSG_SPACE(12))
            if not d:
                break
            data += d
            creds += [struct.unpack("3i", a[2][:12]) for a in anc
                      if a[0] == socket.SOL_SOCKET and a[1] == socket.SCM_CREDENTIALS]
        got.update(data=data, creds=creds)
        c.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        cp, out = job(f'''
def send():
    s = socket.socket(socket.AF_UNIX); s.connect({path!r})
    a = s.sendmsg([b"abc"]); b = s.sendmsg([b"d", b"ef"])
    s.close(); return [a, b]
step("send", send)
''', "--unix-allow", path)
        th.join(timeout=30)
    finally:
        srv.close()
        os.unlink(path)
    assert out == {"send": [3, 3]}, (out, cp.stderr[-1000:])
    assert got.get("data") == b"abcdef", got
    assert got["creds"] and all(uid == NOBODY and gid == NOBODY for _pid, uid, gid in got["creds"]), got


def test_job_cannot_make_socket_files_outside_its_private_dirs(nbj, world, host_dirs):
    dirs, _listen = host_dirs
    cp, out = job(f'''
import stat
def mknod(p): os.mknod(p, stat.S_IFSOCK | 0o600)
step("var_lib", lambda: mknod({str(dirs[2] / "n.sock")!r}))
step("home", lambda: mknod({str(dirs[1] / "n.sock")!r}))
step("shm", lambda: mknod("/dev/shm/n.sock"))
step("run", lambda: mknod("/run/n.sock"))
''', user="root")
    # the read-only host (EROFS) or Landlock (EACCES): no socket file
    assert out["var_lib"] in ("EACCES", "EROFS"), out
    assert out["home"] in ("EACCES", "EROFS"), out
    assert {k: out[k] for k in ("shm", "run")} == {"shm": "ok", "run": "ok"}, out
    assert all(os.listdir(d) == [] for d in dirs)


@AS_NOBODY
def test_busy_loop_of_unix_calls_is_never_failed_by_the_watchdog(nbj, world):
    # each call is answered at once, but one is always about to wait: the
    # job's init must not take that for a supervisor that stopped answering
    cp, out = job('''
def loop():
    u = socket.socket(socket.AF_UNIX); u.bind("/dev/shm/busy.sock"); u.listen(64)
    n, t = 0, time.monotonic()
    while time.monotonic() - t < 3:
        c = socket.socket(socket.AF_UNIX); c.connect("/dev/shm/busy.sock")
        u.accept()[0].close(); c.close(); n += 1
    return n > 100
step("loop", loop)
''')
    assert out == {"loop": True}, (out, cp.stderr[-1000:])
    assert "did not answer" not in cp.stderr, cp.stderr[-1000:]


def test_revoke_closes_allowed_host_sockets(nbj, world, host_dirs, spawn):
    # `nbjail ctl revoke` cuts the network; a host socket the policy lists
    # with --unix-allow is the host too: after the revoke a new connect is
    # refused (reason revoked), before it the same connect works; and the
    # revocation holds when the statistics' word is cleared again
    dirs, listen = host_dirs
    lst = listen(dirs[0] / "allowed.sock")
    go = dirs[0] / "go"
    script = f'''
import os, socket, sys, time
def connect():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect({lst.path!r}); return "ok"
    except OSError as e:
        return os.strerror(e.errno)
    finally:
        s.close()
print("before", connect(), flush=True)
deadline = time.monotonic() + 30
while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
    time.sleep(0.05)
print("after", connect(), flush=True)
'''
    p = spawn("run", "--profile", "minimal", "--name", "unixrevoke", "--unix-allow", lst.path,
              "--", PYTHON, "-I", "-c", script)
    line = read_line(p.stdout, 20)
    assert line == "before ok\n", (line, p.stderr.read() if p.poll() is not None else "")
    jobs = json.loads(nbjail("ctl", "jobs", "--json").stdout)
    ids = [j["job"] for j in jobs if j["name"] == "unixrevoke"]
    assert len(ids) == 1, jobs
    stats = Path(RUN_DIR) / ids[0] / "stats"
    before = stats.read_bytes()
    cp = nbjail("ctl", "revoke", ids[0])
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    # a relay may write the statistics' mapping: clearing the word there
    # (as a compromised relay would) must not un-revoke the job
    after = stats.read_bytes()
    assert after != before
    with open(stats, "r+b") as f:
        for i, (b, a) in enumerate(zip(before, after)):
            if b != a and i < 4096:
                f.seek(i)
                f.write(bytes([b]))
    go.touch()
    line = read_line(p.stdout, 40)
    p.wait(timeout=30)
    err = p.stderr.read()
    assert line == f"after {os.strerror(13)}\n", (line, err[-2000:])
    assert "reason=revoked" in err, err[-2000:]
    assert lst.seen == 1, lst.seen


@pytest.mark.parametrize("user", ["nobody", "root"])
def test_private_socket_connects_show_the_callers_credentials(nbj, world, user):
    # a connect to a socket on the job's own /run is made by the supervisor
    # itself (no helper), as the calling thread: the listener's SO_PEERCRED
    # and SO_PEERGROUPS must name the caller, never nbjail (root); blocking,
    # non-blocking, a full backlog (EAGAIN without blocking; with blocking
    # it waits, handed to a helper) and a socket the caller may not write
    # (EACCES, as the kernel answers) behave as without nbjail
    if ROOTLESS and user == "nobody":
        pytest.skip("needs root: only root maps another user into a job")
    cp, out = job('''
import struct, threading
def peer(c):
    uid_gid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1:]
    return list(uid_gid)
srv = socket.socket(socket.AF_UNIX); srv.bind("/run/p.sock"); srv.listen(1)
def blocking():
    s = socket.socket(socket.AF_UNIX); s.connect("/run/p.sock")
    c, _ = srv.accept(); return peer(c) + [os.getuid(), os.getgid()]
def nonblocking():
    s = socket.socket(socket.AF_UNIX); s.setblocking(False); s.connect("/run/p.sock")
    c, _ = srv.accept(); return peer(c)
held = []
def full_backlog():
    # backlog 1: the kernel takes two pending connections, then refuses
    for i in range(8):
        s = socket.socket(socket.AF_UNIX); s.setblocking(False)
        try:
            s.connect("/run/p.sock"); held.append(s)
        except BlockingIOError:
            return len(held) >= 1
    return "never full"
def drain():
    srv.settimeout(1)
    try:
        for _ in range(16):
            srv.accept()
    except OSError:
        pass
def blocking_waits():
    # a blocking connect to the full backlog waits until accept() makes room
    t = threading.Timer(0.5, drain)
    t.start()
    s = socket.socket(socket.AF_UNIX)     # blocking: no timeout
    start = time.monotonic(); s.connect("/run/p.sock"); waited = time.monotonic() - start
    t.join(); return waited > 0.3
def not_writable():
    u = socket.socket(socket.AF_UNIX); u.bind("/run/ro.sock"); u.listen(1)
    os.chmod("/run/ro.sock", 0o000)
    s = socket.socket(socket.AF_UNIX); s.connect("/run/ro.sock")
import time
step("blocking", blocking)
step("nonblocking", nonblocking)
step("full_backlog", full_backlog)
step("blocking_waits", blocking_waits)
step("not_writable", not_writable)
''', user=user)
    ids = out["blocking"]
    assert ids[:2] == ids[2:], out          # the peer is the caller, as it sees itself
    assert out["nonblocking"] == ids[:2], out
    assert out["full_backlog"] is True, out
    assert out["blocking_waits"] is True, out
    # the job's root owns the socket (and, with no capability, may not pass
    # its mode either); nobody may not write it: EACCES, as from the kernel
    assert out["not_writable"] == "EACCES", out
