# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_seccomp.py - the supervisor's user-notify layer

The job's filter hands connect, bind, listen, sendto (with an address),
sendmsg and sendmmsg to the supervisor, which answers EACCES (with an
audit line) or carries an allowed connect or send out itself, on the
socket it judged (bind and listen are continued).  These tests check the answers
that only this layer gives (pathname unix sockets, foreign binds, UDP
that the relay would not carry), the audit line, that the listener never
reaches the job, and what happens when the supervisor is stopped or
killed while a call waits.  The autouse no_leaks fixture checks the
detectors after each test.
"""
import json
import os
import signal
import socket
import threading
import time

import pytest

from conftest import PYTHON, nbjail, read_line, seccomp_denies, wait_host_clean

ALLOW = ["198.51.100.10:80"]

# Runs in the job: each step is (name, python expression); prints one JSON
# object {name: "ok" | "ERRNO-NAME"}.
JOB_LIB = r"""
import errno, json, os, socket, sys, threading, time
out = {}
def step(name, fn):
    try:
        r = fn()
        out[name] = "ok" if r is None else r
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
def tcp(host, port, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5)
    try: s.connect((host, port))
    finally: s.close()
def udp(host, port, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try: s.sendto(b"x", (host, port))
    finally: s.close()
def unix(path, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, kind); s.settimeout(5)
    try:
        if kind == socket.SOCK_STREAM: s.connect(path)
        else: s.sendto(b"x", path)
    finally: s.close()
def unix_bind(path):
    s = socket.socket(socket.AF_UNIX)
    try: s.bind(path); s.listen()
    finally: s.close()
"""


def job(script, *extra, allow=ALLOW, profile="net", timeout=60):
    args = ["run", "--profile", profile]
    for a in allow:
        args += ["--allow", a]
    cp = nbjail(*args, *extra, "--", PYTHON, "-I", "-c",
                JOB_LIB + script + "\nprint(json.dumps(out))", timeout=timeout)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    return cp, json.loads(cp.stdout.strip().splitlines()[-1])


class HostUnixListener:
    """A pathname unix socket on the host, counting what reaches it."""

    def __init__(self, path, kind=socket.SOCK_STREAM):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, kind)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        if kind == socket.SOCK_STREAM:
            self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.kind = kind
        self.seen = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if self.kind == socket.SOCK_STREAM:
                    c, _ = self.sock.accept()
                    c.close()
                else:
                    self.sock.recv(64)
                self.seen += 1
            except (socket.timeout, OSError):
                continue

    def close(self):
        self.stop.set()
        self.t.join(timeout=5)
        self.sock.close()
        os.unlink(self.path)


@pytest.fixture
def host_unix(job_tmp):
    made = []

    def make(name, kind=socket.SOCK_STREAM):
        lst = HostUnixListener(job_tmp / name, kind)
        made.append(lst)
        return lst
    yield make
    for lst in made:
        lst.close()


def test_job_has_filter_but_no_listener(nbj, world):
    cp = nbjail("run", "--", "sh", "-c",
                "grep -E '^Seccomp(_filters)?:' /proc/self/status; "
                "for f in /proc/self/fd/*; do readlink $f; done; true")
    assert cp.returncode == 0, cp.stderr
    assert "Seccomp:\t2" in cp.stdout, cp.stdout
    assert "seccomp" not in cp.stdout.replace("Seccomp", ""), cp.stdout


FD_PROBE = ("import json, os\n"
            "fds = {}\n"
            "for f in os.listdir('/proc/self/fd'):\n"
            "    try:\n"
            "        fds[f] = os.readlink('/proc/self/fd/' + f)\n"
            "    except OSError:\n"
            "        pass  # the directory listdir() read, closed by now\n"
            "print('FDS ' + json.dumps(fds))\n")


@pytest.mark.parametrize("profile", ["net", "minimal"])
def test_workload_keeps_only_its_stdio(nbj, world, profile):
    """The workload is spawned sharing the job's init's fd table until
    exec (CLONE_FILES): nothing of the init's (its socket to the
    supervisor, the relay's sockets, the dock's listener, the seccomp
    listener) may survive the exec.  The workload, exec'd directly, sees
    exactly the stdio nbjail got (0, 1, 2), and with a dock (net) the
    dock's desk at 1023 (nbjail-dock(7)), a socket, named by NBJAIL_DOCK_FD."""
    cp = nbjail("run", "--profile", profile, "--", PYTHON, "-I", "-c",
                FD_PROBE + "print('DESK', os.environ.get('NBJAIL_DOCK_FD'))\n")
    assert cp.returncode == 0, cp.stderr
    line = next(x for x in cp.stdout.splitlines() if x.startswith("FDS "))
    fds = json.loads(line[4:])
    desk = ["1023"] if profile == "net" else []
    assert sorted(fds, key=int) == ["0", "1", "2"] + desk, fds
    assert f"DESK {desk[0] if desk else None}" in cp.stdout, cp.stdout
    if desk:
        assert fds["1023"].startswith("socket:"), fds


def test_deny_line_names_job_call_target_pid_exe_reason(nbj, world):
    cp, out = job('step("meta", lambda: tcp("169.254.169.254", 80))\n'
                  'step("v6", lambda: tcp("fd00::1", 443, socket.AF_INET6))\n'
                  'step("udp", lambda: udp("10.0.0.1", 9999))\n')
    assert out == {"meta": "EACCES", "v6": "EACCES", "udp": "EACCES"}, out
    denies = seccomp_denies(cp.stderr)
    assert [(d[1], d[2], d[5]) for d in denies] == [
        ("connect", "169.254.169.254:80", "floor:metadata"),
        ("connect", "[fd00::1]:443", "floor:private"),
        ("sendto", "10.0.0.1:9999", "floor:private"),
    ], cp.stderr
    assert len({d[0] for d in denies}) == 1
    assert all(int(d[3]) > 1 for d in denies), denies
    assert all(os.path.basename(d[4]).startswith("python3") for d in denies), denies


def test_udp_is_not_relayed_even_when_allowed(nbj, world):
    cp, out = job('step("udp", lambda: udp("198.51.100.10", 80))\n'
                  'step("tcp", lambda: tcp("198.51.100.10", 80))\n')
    assert out == {"udp": "EACCES", "tcp": "ok"}, out
    assert [d[5] for d in seccomp_denies(cp.stderr)] == ["not-relayed"], cp.stderr


def test_dns_to_any_address_continues_to_the_stub(nbj, world):
    # UDP/53 is redirected to the relay whatever the address; the world's
    # resolver must not see it (no_leaks checks its detector)
    cp, out = job('step("dns", lambda: udp("198.51.100.53", 53))\n'
                  'step("dns6", lambda: udp("2001:db8::53", 53, socket.AF_INET6))\n')
    assert out == {"dns": "ok", "dns6": "ok"}, out
    assert seccomp_denies(cp.stderr) == []
    assert world.dns_queries() == []


def test_minimal_profile_has_no_network(nbj, world):
    cp, out = job('step("tcp", lambda: tcp("198.51.100.10", 80))\n'
                  'step("lo", lambda: unix_bind("/run/x.sock"))\n',
                  profile="minimal", allow=())
    assert out == {"tcp": "EACCES", "lo": "ok"}, out
    assert [d[5] for d in seccomp_denies(cp.stderr)] == ["no-network"], cp.stderr


def test_bind_and_listen(nbj, world):
    cp, out = job(r'''
def freebind(host, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
    try: s.bind((host, 8080))
    finally: s.close()
def serve(host, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0)); s.listen()
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect(("127.0.0.1" if fam == socket.AF_INET else "::1", s.getsockname()[1]))
    c.close(); s.close()
step("meta", lambda: freebind("169.254.169.254"))
step("private", lambda: freebind("10.0.0.1"))
step("public", lambda: freebind("198.51.100.10"))
step("v6", lambda: freebind("fd00::1", socket.AF_INET6))
step("any", lambda: serve("0.0.0.0"))
step("any6", lambda: serve("::", socket.AF_INET6))
step("lo", lambda: serve("127.0.0.1"))
''')
    assert out == {"meta": "EACCES", "private": "EACCES", "public": "EACCES", "v6": "EACCES",
                   "any": "ok", "any6": "ok", "lo": "ok"}, out
    assert {d[1] for d in seccomp_denies(cp.stderr)} == {"bind"}
    assert {d[5] for d in seccomp_denies(cp.stderr)} == {"bind-foreign-address"}


def test_unix_pathname_sockets(nbj, world, host_unix, job_tmp):
    stream = host_unix("host.sock")
    dgram = host_unix("host.dgram", socket.SOCK_DGRAM)
    script = f'''
step("host", lambda: unix({stream.path!r}))
step("host_dgram", lambda: unix({dgram.path!r}, socket.SOCK_DGRAM))
os.symlink({stream.path!r}, "/run/link.sock")
step("via_symlink", lambda: unix("/run/link.sock"))
os.chdir({str(job_tmp)!r})
step("relative", lambda: unix("host.sock"))
step("bind_host_tmp", lambda: unix_bind({str(job_tmp / "job.sock")!r}))
step("bind_run", lambda: unix_bind("/run/job.sock"))
step("bind_shm", lambda: unix_bind("/dev/shm/job.sock"))
step("missing", lambda: unix("/run/nothing.sock"))
srv = socket.socket(socket.AF_UNIX); srv.bind("/run/own.sock"); srv.listen()
step("own", lambda: unix("/run/own.sock"))
step("abstract", lambda: unix("\\0nbjail-test-abstract"))
'''
    # the job sees its /tmp only through --write: the notifier is the layer here
    cp, out = job(script, "--write", str(job_tmp))
    assert out == {"host": "EACCES", "host_dgram": "EACCES", "via_symlink": "EACCES",
                   "relative": "EACCES", "bind_host_tmp": "EACCES", "bind_run": "ok",
                   "bind_shm": "ok", "missing": "ENOENT", "own": "ok",
                   "abstract": "ECONNREFUSED"}, out
    assert stream.seen == 0 and dgram.seen == 0
    assert not (job_tmp / "job.sock").exists()
    denies = seccomp_denies(cp.stderr)
    assert {d[5] for d in denies} == {"unix-path"}, cp.stderr
    assert (("connect", stream.path) in [(d[1], d[2]) for d in denies]), cp.stderr

    # unix_allow names the inode: the socket itself, or a symlink to it
    cp, out = job(script.replace(
        'step("bind_host_tmp"', 'pass  # step("bind_host_tmp"'), "--unix-allow", stream.path,
        "--write", str(job_tmp))
    assert out["host"] == "ok" and out["via_symlink"] == "ok" and out["relative"] == "ok", out
    assert out["host_dgram"] == "EACCES", out
    assert stream.seen == 3


def test_unix_allow_from_policy_file(nbj, world, host_unix, job_tmp):
    stream = host_unix("pol.sock")
    pol = job_tmp / "policy.yaml"
    pol.write_text(f"allow: ['198.51.100.10:80']\nunix_allow:\n  - {stream.path}\n")
    cp, out = job(f'step("host", lambda: unix({stream.path!r}))\n', "--policy", str(pol),
                  "--write", str(job_tmp))
    assert out == {"host": "ok"}, (out, cp.stderr)
    assert stream.seen == 1


def test_unix_path_with_control_characters_is_escaped(nbj, world):
    cp, out = job(r'step("evil", lambda: unix("/tmp/a b\nnbjail[00000000]: deny x"))' + "\n")
    assert out == {"evil": "ENOENT"}, out
    cp, out = job(r'step("evil", lambda: unix_bind("/tmp/a b\nreason=allowed"))' + "\n")
    assert out == {"evil": "EACCES"}, out
    lines = [l for l in cp.stderr.splitlines() if "deny bind" in l]
    assert lines == [lines[0]] and "/tmp/a\\x20b\\x0areason=allowed" in lines[0], cp.stderr
    assert seccomp_denies(cp.stderr)[0][5] == "unix-path"


def test_calls_from_threads_and_children(nbj, world):
    cp, out = job(r'''
import threading
def worker(i):
    step(f"deny{i}", lambda: tcp("10.0.0.1", 80))
    step(f"allow{i}", lambda: tcp("198.51.100.10", 80))
    step(f"dns{i}", lambda: udp("198.51.100.53", 53))
ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
pid = os.fork()
if pid == 0:
    try: tcp("10.0.0.1", 80); os._exit(1)
    except PermissionError: os._exit(0)
step("child", lambda: None if os.waitpid(pid, 0)[1] == 0 else "escaped")
''')
    assert out == {**{f"deny{i}": "EACCES" for i in range(8)},
                   **{f"allow{i}": "ok" for i in range(8)},
                   **{f"dns{i}": "ok" for i in range(8)}, "child": "ok"}, out
    assert len(seccomp_denies(cp.stderr)) == 9


def _start_waiting_job(spawn, job_tmp, target):
    """A job that prints ready, waits for a file, then connects to target."""
    go = job_tmp / "go"
    script = (f"import os, socket, sys, time\nprint('ready', flush=True)\n"
              f"for _ in range(400):\n    if os.path.exists({str(go)!r}): break\n"
              f"    time.sleep(0.025)\n"
              f"t = time.monotonic(); s = socket.socket(); s.settimeout(20)\n"
              f"try:\n    s.connect({target!r}); r = 'ok'\n"
              f"except OSError as e:\n    r = type(e).__name__\n"
              f"print(r, round(time.monotonic() - t, 2), flush=True)\n")
    p = spawn("run", "--allow", f"{target[0]}:{target[1]}", "--write", str(job_tmp), "--", PYTHON,
              "-I", "-c", script)
    assert read_line(p.stdout, 15) == "ready\n"
    return p, go


def test_stopped_supervisor_fails_the_calls(nbj, world, spawn, job_tmp):
    # While nbjail is stopped, a connect() waits at most the watchdog's
    # second, then fails: it never reaches the network unjudged.
    p, go = _start_waiting_job(spawn, job_tmp, ("198.51.100.11", 80))
    os.kill(p.pid, signal.SIGSTOP)  # ip netns exec execs nbjail: same pid
    try:
        go.touch()
        line = read_line(p.stdout, 10)
        assert world.accesses("198.51.100.11:80") == []
    finally:
        os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=30)
    result, elapsed = line.split()
    assert result == "PermissionError" and 0.9 <= float(elapsed) <= 3.0, (line, err)
    assert "the supervisor did not answer within 1000 ms: refused connect of pid" in err, err
    assert p.returncode == 0


def test_slow_supervisor_does_not_stall_a_healthy_job(nbj, world):
    # the watchdog only fails calls that waited a whole second
    cp, out = job('for i in range(200): step(f"c{i}", lambda: tcp("198.51.100.10", 80))\n')
    assert set(out.values()) == {"ok"}, out
    assert "did not answer" not in cp.stderr


def test_killed_supervisor_leaves_no_network(nbj, world, spawn, job_tmp):
    # A call waiting on a supervisor that is killed never passes: the job
    # dies with its supervisor and nothing reaches the target.
    p, go = _start_waiting_job(spawn, job_tmp, ("198.51.100.11", 80))
    os.kill(p.pid, signal.SIGSTOP)
    go.touch()
    time.sleep(0.5)
    os.kill(p.pid, signal.SIGKILL)
    out, _err = p.communicate(timeout=30)
    assert "ok" not in out.split(), out
    assert world.accesses("198.51.100.11:80") == []
    nbjail("gc")
    assert wait_host_clean(world) == []


def test_blocking_connect_the_supervisor_carries_out_is_bounded(nbj, world):
    # Allowed connects are carried out by the supervisor on the socket it
    # judged (never continued: issue 16, the fd-number swap).  One that
    # cannot complete (a listener of the job's own with a full backlog)
    # must not hold the supervisor: it fails with ETIMEDOUT within about
    # 100 ms, and other calls meanwhile are answered.  (Before, the kernel
    # carried the connect out in the job's thread, which waited.)
    cp, out = job('''
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)
port = l.getsockname()[1]
held = []
for i in range(16):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    held.append(s)
time.sleep(0.2)
def blocked():
    s = socket.socket()
    t = time.monotonic()
    try: s.connect(("127.0.0.1", port)); r = "connected"
    except OSError as e: r = errno.errorcode[e.errno]
    return [r, round(time.monotonic() - t, 1)]
r = {}
th = threading.Thread(target=lambda: r.update(b=blocked())); th.start()
def meanwhile():
    u = socket.socket(socket.AF_UNIX); u.bind("/dev/shm/meanwhile.sock")
    return "ok"
step("meanwhile", meanwhile)
th.join()
out["blocked"] = r["b"]
s = socket.socket(); s.setblocking(False)
step("nonblocking", lambda: s.connect(("127.0.0.1", port)))
''', profile="minimal", allow=())
    assert out["meanwhile"] == "ok", out
    assert out["blocked"][0] == "ETIMEDOUT" and out["blocked"][1] <= 0.5, out
    assert out["nonblocking"] == "EINPROGRESS", out
    assert "did not answer" not in cp.stderr, cp.stderr[-1000:]


def test_blocking_tcp_send_waits_for_room(nbj, world):
    # A send the supervisor carries out never blocks it; a blocking TCP
    # send that finds the socket's buffer full waits (in a helper) until
    # the peer reads, as the kernel would have made it wait, instead of
    # failing with EAGAIN.
    cp, out = job('''
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
s = socket.socket(); s.connect(l.getsockname()); a, _ = l.accept()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
chunk = b"x" * 65536
def fill():
    s.setblocking(False)
    n = 0
    try:
        while True: n += s.send(chunk)
    except BlockingIOError: pass
    s.setblocking(True)
    return n
step("filled", lambda: fill() > 0)
def reader():
    time.sleep(0.6)
    while a.recv(1 << 20): pass
threading.Thread(target=reader, daemon=True).start()
def blocked():
    # 20 blocking sends of 64 KiB into a full 4 KiB buffer: each may be
    # partial, none may fail, and together they wait for the reader
    t = time.monotonic()
    sent = [s.sendmsg([chunk]) for i in range(20)]
    return [all(n > 0 for n in sent), time.monotonic() - t >= 0.4]
step("blocked", blocked)
def meanwhile():
    u = socket.socket(socket.AF_UNIX); u.bind("/dev/shm/meanwhile.sock")
    return "ok"
step("after", meanwhile)
''', profile="minimal", allow=())
    assert out == {"filled": True, "blocked": [True, True], "after": "ok"}, (out, cp.stderr[-1000:])
    assert "did not answer" not in cp.stderr, cp.stderr[-1000:]
