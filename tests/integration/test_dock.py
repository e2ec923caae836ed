# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_dock.py - the dock lane: nbjail-dock and its socket

A job with a dock (profiles net and browse) finds /run/nbjail/dock.sock
($NBJAIL_DOCK) and nbjail-dock on its PATH; the relay dials from the host
what policy_decide() (lane dock) allows, in the test world only: the
world's HTTP servers, a line-protocol server and a UDP responder the
tests start in the world's namespace, its DNS server.  Every leak
detector stays at 0 (the autouse no_leaks fixture).
"""
import json
import os
import subprocess
import time

import pytest

import conftest
from conftest import PYTHON, WORLD_NS, job_relay_pid, nbjail, needs_root, read_line

MIB = 1 << 20
HTTP10 = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'"


def job(*cmd, profile="net", allow=(), extra=(), timeout=60, input=None):
    args = ["run", "--profile", profile]
    for a in allow:
        args += ["--allow", a]
    return nbjail(*args, *extra, "--", *cmd, timeout=timeout, input=input)


def shell(script, **kw):
    return job("sh", "-c", script, **kw)


def test_dock_in_net_and_browse_not_in_minimal_compute(nbj, world):
    for profile in ("net", "browse"):
        cp = shell('echo "$NBJAIL_DOCK"; test -S "$NBJAIL_DOCK" && echo socket; '
                   'command -v nbjail-dock; nbjail-dock --help >/dev/null && echo runs; '
                   'touch /run/nbjail/bin/nbjail-dock 2>/dev/null || echo read-only',
                   profile=profile)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.split() == ["/run/nbjail/dock.sock", "socket",
                                     "/run/nbjail/bin/nbjail-dock", "runs", "read-only"], \
            (profile, cp.stdout, cp.stderr)
    for profile in ("minimal", "compute"):
        cp = shell('echo "dock=${NBJAIL_DOCK:-none}"; test -e /run/nbjail/dock.sock && echo sock; '
                   'command -v nbjail-dock || echo no-cli', profile=profile)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.split() == ["dock=none", "no-cli"], (profile, cp.stdout)


def test_tcp_http10_by_address_and_by_name(nbj, world):
    cp = shell(f"{HTTP10} | nbjail-dock tcp 198.51.100.10 80; echo rc=$?; "
               f"{HTTP10} | nbjail-dock tcp allowed.test 80; echo rc=$?",
               allow=("198.51.100.10:80", "allowed.test:80"))
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert out.count("HTTP/1.0 200") == 2 and out.count("rc=0") == 2, (out, cp.stderr)
    assert "world 198.51.100.10:80" in out
    # the host dialled: the world saw the host's address (allowed.test has
    # an IPv6 address too, dialled first)
    seen = world.accesses("198.51.100.10:80") + world.accesses("[2001:db8::10]:80")
    assert len(seen) == 2 and all(p.startswith(("192.0.2.1:", "[2001:db8:1::1]:")) for _, p in seen), seen


# ---------------------------------------------------------------- world servers

LINE_SERVER = r"""
import socket, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port)); s.listen(16); s.settimeout(60)
print("ready", flush=True)
store = {}
while True:
    c, _ = s.accept()
    if mode == "silent":        # accepts, never answers, never closes
        c.recv(65536); held = c; continue
    f = c.makefile("rb")
    for line in f:
        w = line.decode().split()
        if not w:
            continue
        if w[0] == "PING":
            c.sendall(b"+PONG\r\n")
        elif w[0] == "SET":
            store[w[1]] = w[2]; c.sendall(b"+OK\r\n")
        elif w[0] == "GET":
            v = store.get(w[1])
            c.sendall(f"${len(v)}\r\n{v}\r\n".encode() if v else b"$-1\r\n")
    f.close()
    c.close()
"""

# one datagram in: first a spoofed reply from another address of the world,
# then the real one from the address asked
UDP_RESPONDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.51.100.11", 5300))
spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); spoof.bind(("198.51.100.10", 5300))
print("ready", flush=True)
s.settimeout(60)
while True:
    data, peer = s.recvfrom(65535)
    spoof.sendto(b"SPOOFED", peer)
    time.sleep(0.2)
    s.sendto(b"REAL:" + data, peer)
"""


@pytest.fixture
def world_server():
    procs = []

    def start(script, *args):
        p = subprocess.Popen(["ip", "netns", "exec", WORLD_NS, PYTHON, "-I", "-c", script,
                              *map(str, args)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert read_line(p.stdout, 10) == "ready\n"
        return p
    yield start
    for p in procs:
        p.kill()
        p.wait(timeout=10)


def test_tcp_line_protocol(nbj, world, world_server):
    world_server(LINE_SERVER, "198.51.100.11", 6379, "lines")
    cp = shell("printf 'PING\\r\\nSET k v42\\r\\nGET k\\r\\nGET nope\\r\\n' | "
               "nbjail-dock tcp 198.51.100.11 6379", allow=("198.51.100.11:6379",))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "+PONG\n+OK\n$3\nv42\n$-1\n", repr(cp.stdout)   # text mode: \r\n read as \n


DNS_QUERY = ("import struct, sys; sys.stdout.buffer.write(struct.pack('>6H', 0x1234, 0x0100, 1, 0, 0, 0)"
             " + b'\\x07allowed\\x04test\\x00' + struct.pack('>HH', 1, 1))")
DNS_CHECK = ("import sys; a = sys.stdin.buffer.read(); "
             "print(a[:2] == b'\\x12\\x34', bytes([198, 51, 100, 10]) in a)")


def test_udp_dns_query_by_address(nbj, world):
    cp = shell(f'{PYTHON} -c "{DNS_QUERY}" | nbjail-dock udp 198.51.100.53 53 | {PYTHON} -c "{DNS_CHECK}"',
               allow=("198.51.100.53:53",))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == ["True", "True"], (cp.stdout, cp.stderr)


def test_udp_reply_from_another_source_is_dropped(nbj, world, world_server):
    world_server(UDP_RESPONDER)
    cp = shell("printf hello | nbjail-dock udp 198.51.100.11 5300; echo; echo rc=$?",
               allow=("198.51.100.11:5300",))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == ["REAL:hello", "rc=0"], (cp.stdout, cp.stderr)


PROBES = ["169.254.169.254", "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1",
          "100.64.0.1", "::1", "::ffff:127.0.0.1"]


def audit_records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_probe_matrix_denied_by_the_floor(nbj, world, tmp_path):
    log = tmp_path / "audit.jsonl"
    script = "; ".join(f"nbjail-dock tcp {t} 80 </dev/null; echo rc=$?" for t in PROBES)
    script += "; nbjail-dock tcp mixed.test 80 </dev/null; echo rc=$?"
    script += f"; {HTTP10} | nbjail-dock tcp v4only.test 80 | head -1"
    cp = shell(script, allow=("0.0.0.0/0", "::/0", "*.test"),
               extra=("--audit-log", str(log), "--no-journal"))
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[:-1] == ["rc=1"] * (len(PROBES) + 1), cp.stdout
    assert lines[-1].startswith("HTTP/1.0 200"), cp.stdout
    denied = [ln for ln in cp.stderr.splitlines() if ln.startswith("nbjail-dock: denied ")]
    assert len(denied) == len(PROBES) + 1, cp.stderr
    for t, ln in zip(PROBES + ["mixed.test"], denied):
        assert ln.startswith(f"nbjail-dock: denied {t}:80 reason=floor:"), (t, ln)
    recs = [r for r in audit_records(log) if r["lane"] == "dock"]
    denies = [r for r in recs if r["event"] == "deny"]
    assert len(denies) == len(PROBES) + 1, recs
    assert all(r["reason"].startswith("floor:") for r in denies), denies
    calls = [r for r in recs if r["event"] == "dock-call"]
    assert len(calls) == 1 and "v4only.test" in calls[0]["target"], calls


def test_answer_cut_at_the_cap_says_so(nbj, world):
    cp = job("bash", "-c", "printf 'GET /big?mb=2 HTTP/1.0\\r\\n\\r\\n' | "
             "nbjail-dock tcp 198.51.100.10 80 | wc -c; echo rc=${PIPESTATUS[1]}",
             allow=("198.51.100.10:80",))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == [str(MIB), "rc=4"], (cp.stdout, cp.stderr)
    assert "cut at 1048576 bytes" in cp.stderr, cp.stderr


def test_not_allowed_and_unknown_ops(nbj, world):
    cp = shell("nbjail-dock tcp 198.51.100.11 80 </dev/null; echo rc=$?; "
               "nbjail-dock tls 198.51.100.10 443 </dev/null; echo rc=$?; "
               "nbjail-dock sign somekey </dev/null; echo rc=$?; "
               "nbjail-dock tcp 198.51.100.10; echo rc=$?; "
               "nbjail-dock tcp 'a/b' 80 </dev/null; echo rc=$?; "
               "nbjail-dock tcp 198.51.100.10 81 </dev/null; echo rc=$?",
               allow=("198.51.100.10:80", "198.51.100.10:81"))
    assert cp.stdout.split() == ["rc=1", "rc=1", "rc=3", "rc=2", "rc=1", "rc=3"], \
        (cp.stdout, cp.stderr)
    assert "nbjail-dock: tcp 198.51.100.10: Connection refused" in cp.stderr, cp.stderr
    assert "denied 198.51.100.11:80 reason=not-allowed" in cp.stderr
    assert "denied 198.51.100.10:443 reason=not-allowed" in cp.stderr, cp.stderr
    assert "no such key" in cp.stderr
    assert "denied a/b:80 reason=malformed" in cp.stderr


HOSTILE = r"""
import json, os, resource, socket, struct, subprocess, sys, time
N = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, N + 256), hard))
P = os.environ["NBJAIL_DOCK"]
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(15); s.connect(P); return s
def head(op=1, port=80, tlen=None, target=b"198.51.100.10", body=0, version=1, magic=0x4e424a44, rsv=0):
    return struct.pack(">IBBHHHI", magic, version, op, port,
                       len(target) if tlen is None else tlen, rsv, body) + target
def end_of(s):
    # END is the last record; the relay closes after it, and a request
    # it did not read makes that close a reset (unix sockets)
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b: break
        data += b
    i, last = 0, None
    while i + 8 <= len(data):
        t, f, _, l = struct.unpack(">BBHI", data[i:i + 8]); last = (t, data[i + 8:i + 8 + l]); i += 8 + l
    assert last and last[0] == 2, data
    return struct.unpack(">i", last[1][:4])[0], last[1][4:].decode()
res = {}
frames = {
    "magic": head(magic=0x41414141), "version": head(version=9), "op": head(op=99),
    "reserved": head(rsv=7), "empty": head(target=b""), "host": head(tlen=300) + b"x" * 300,
    "body": head(op=2, port=53, body=70000), "nul": head(target=b"198.51\0.100.10"),
    "port0": head(port=0), "short": head(body=100) + b"GET",
    "signkey": head(op=6, port=0, target=b"bad key!"),
}
for name, frame in frames.items():
    s = conn(); s.sendall(frame)
    if name == "short":
        s.shutdown(socket.SHUT_WR)
    res[name] = end_of(s); s.close()
t0 = time.time()
held = [conn() for _ in range(N)]               # half-open: never a byte
nr = conn()                                     # never reads its 8 MiB answer
nr.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = b"GET /big?mb=8 HTTP/1.0\r\n\r\n"
nr.sendall(head(body=len(req)) + req)
t_held = time.time()
print("held", len(held), round(t_held - t0, 1), flush=True)
time.sleep(1.5)                                 # the test looks at the relay meanwhile
out = subprocess.run(["nbjail-dock", "tcp", "198.51.100.10", "80"], input=b"GET / HTTP/1.0\r\n\r\n",
                     capture_output=True, timeout=30)
res["after"] = [out.returncode, out.stdout[:12].decode(), round(time.time() - t0, 1)]
# the oldest half-open ones made room (closed at once); the newest is
# closed when its 5 s for a frame are over
held[0].settimeout(1)
res["oldest"] = held[0].recv(1).decode()
held[-1].settimeout(10)
res["newest"] = [held[-1].recv(1).decode(), time.time() - t_held < 9]
print(json.dumps(res), flush=True)
"""


def relay_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))


@needs_root("nbjail ctl stats and the relay's /proc status")
def test_hostile_clients_leave_the_dock_responsive(nbj, world, spawn):
    """Malformed frames are answered; 1,000 connections that never send a
    byte (the table has 256 slots: the oldest in HEAD make room) and one
    that never reads leave the relay answering `ctl stats` and dock calls,
    its memory bounded"""
    p = spawn("run", "--tenant", "dock-hostile", "--allow", "198.51.100.10:80", "--",
              PYTHON, "-I", "-c", HOSTILE, "1000")
    held = (read_line(p.stdout, 60) or "").split()
    assert held[:2] == ["held", "1000"], (held, p.poll(), p.poll() is not None and p.stderr.read())
    (j,) = [j for j in ctl_json("jobs") if j["tenant"] == "dock-hostile"]
    relay = job_relay_pid(j["job"])
    t = time.monotonic()
    stats = ctl_json("stats", j["job"])
    assert time.monotonic() - t < 3, "ctl stats answered slowly"
    assert stats, stats
    rss = relay_rss_kib(relay)
    assert rss < 48 * 1024, f"relay RSS {rss} KiB with 1,000 half-open dock connections"
    line = read_line(p.stdout, 90)
    if not line:
        p.terminate()
        p.wait(timeout=10)
    assert line, (p.poll(), p.stderr.read())
    res = json.loads(line)
    assert p.wait(timeout=30) == 0
    err = p.stderr.read()
    EPROTO, EMSGSIZE, EPROTONOSUPPORT, EACCES = -71, -90, -93, -13
    assert res["magic"][0] == EPROTO and res["op"][0] == EPROTO, res
    assert res["reserved"][0] == EPROTO and res["empty"][0] == EPROTO, res
    assert res["version"][0] == EPROTONOSUPPORT, res
    assert res["host"][0] == EMSGSIZE and res["body"][0] == EMSGSIZE, res
    assert res["nul"] == [EACCES, "malformed"] and res["port0"] == [EACCES, "malformed"], res
    assert res["signkey"] == [EACCES, "malformed"], res
    assert res["short"][0] == EPROTO, res
    assert res["after"][:2] == [0, "HTTP/1.0 200"], res
    assert res["oldest"] == "" and res["newest"] == ["", True], res
    assert "relay died" not in err and "relay" not in err.lower().replace("nbjail-relay[", ""), err
    # a relay built with -Db_sanitize=address,undefined reports here
    assert "Sanitizer" not in err and "runtime error" not in err, err
    print(f"relay VmRSS with 1,000 half-open dock connections: {rss} KiB; {res}")


def ctl_json(*args):
    cp = nbjail("ctl", *args, "--json")
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


# one line of results (read_line() sees a line at a time), then the job
# stays for `nbjail ctl stats`
RATE_LOOP = ("rcs=; for i in $(seq 40); do nbjail-dock tcp 198.51.100.10 80 </dev/null >/dev/null; "
             "rcs=\"$rcs $?\"; done; echo $rcs; sleep 30")


@needs_root("nbjail ctl stats")
def test_rate_floor_of_the_dock(nbj, world, spawn, tmp_path):
    pol = tmp_path / "rate.yaml"
    pol.write_text("rates:\n  dock_calls_per_s: 5\n")
    p = spawn("run", "--policy", str(pol), "--tenant", "dock-rate", "--allow", "198.51.100.10:80",
              "--", "sh", "-c", RATE_LOOP)
    rcs = (read_line(p.stdout, 30) or "").split()
    assert len(rcs) == 40, (rcs, p.poll())
    # 40 calls in well under 8 s at 5 a second (burst 5): most are over
    assert 5 <= rcs.count("0") <= 20 and rcs.count("0") + rcs.count("1") == 40, rcs
    (j,) = [j for j in ctl_json("jobs") if j["tenant"] == "dock-rate"]
    stats = ctl_json("stats", j["job"])
    counters = {(c["lane"], c["outcome"], c["reason"]): c["count"]
                for s in (stats if isinstance(stats, list) else [stats]) for c in s["decisions"]}
    assert counters.get(("dock", "denied", "rate")) == rcs.count("1"), counters
    assert counters.get(("dock", "allowed", "allowed")) == rcs.count("0"), counters
    p.terminate()
    p.wait(timeout=10)
    assert "reason=rate" in p.stderr.read()


def test_policy_rejects_a_dock_rate_over_the_ceiling(nbj, world, tmp_path):
    pol = tmp_path / "rate.yaml"
    pol.write_text("rates:\n  dock_calls_per_s: 2001\n")
    cp = nbjail("run", "--policy", str(pol), "--", "true")
    assert cp.returncode == 2 and "rates.dock_calls_per_s" in cp.stderr, cp.stderr


REVOKE_JOB = ("echo ready; nbjail-dock tcp 198.51.100.11 6380 </dev/null; a=$?; "
              "nbjail-dock tcp 198.51.100.10 80 </dev/null; echo rc=$a rc=$?; sleep 30")


@needs_root("nbjail ctl revoke")
def test_revocation_cuts_a_call_and_denies_the_next(nbj, world, spawn, world_server):
    world_server(LINE_SERVER, "198.51.100.11", 6380, "silent")
    p = spawn("run", "--tenant", "dock-revoke", "--allow", "198.51.100.11:6380",
              "--allow", "198.51.100.10:80", "--", "sh", "-c", REVOKE_JOB)
    assert read_line(p.stdout, 20) == "ready\n"
    time.sleep(1.0)                       # the first call waits at the silent server
    (j,) = [j for j in ctl_json("jobs") if j["tenant"] == "dock-revoke"]
    t = time.time()
    cp = nbjail("ctl", "revoke", j["job"])
    assert cp.returncode == 0, cp.stderr
    line = read_line(p.stdout, 8)
    cut_after = time.time() - t
    assert line == "rc=1 rc=1\n", line
    assert cut_after < 5, cut_after      # not the call's own 10 s deadline
    p.terminate()
    p.wait(timeout=10)
    err = p.stderr.read()
    assert "denied 198.51.100.11:6380 reason=revoked" in err, err
    assert "denied 198.51.100.10:80 reason=revoked" in err, err


BROWSE = r"""
import json, socket, subprocess
res = {}
try:
    socket.create_connection(("198.51.100.10", 80), 3); res["connect"] = "ok"
except OSError as e:
    res["connect"] = type(e).__name__
try:
    socket.getaddrinfo("allowed.test", 80); res["dns"] = "ok"
except OSError as e:
    res["dns"] = type(e).__name__
res["links"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
out = subprocess.run(["nbjail-dock", "tcp", "allowed.test", "80"], input=b"GET / HTTP/1.0\r\n\r\n",
                     capture_output=True, timeout=30)
res["dock"] = [out.returncode, out.stdout[:12].decode()]
print(json.dumps(res))
"""


def test_browse_profile_has_the_dock_only(nbj, world):
    cp = job(PYTHON, "-I", "-c", BROWSE, profile="browse",
             allow=("198.51.100.10:80", "allowed.test:80"))
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout.strip().splitlines()[-1])
    assert res["connect"] == "PermissionError", res
    assert res["dns"] == "gaierror", res
    assert res["links"] == ["lo"], res
    assert res["dock"] == [0, "HTTP/1.0 200"], res


def test_browse_curl_fails_dock_works(nbj, world):
    if not os.path.exists("/usr/bin/curl"):
        pytest.skip("no curl")
    cp = shell("curl -sS -m 5 http://198.51.100.10/ ; echo curl=$?; "
               f"{HTTP10} | nbjail-dock tcp 198.51.100.10 80 | head -1",
               profile="browse", allow=("198.51.100.10:80",))
    lines = cp.stdout.splitlines()
    assert lines[0] != "curl=0" and lines[0].startswith("curl="), cp.stdout
    assert lines[1].startswith("HTTP/1.0 200"), cp.stdout


UNIX_CONNECT = r"""
import os, socket, sys
for path in (os.environ["NBJAIL_DOCK"], sys.argv[1]):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); print("ok")
    except OSError as e:
        print(type(e).__name__)
"""


def test_notifier_lets_the_job_reach_its_dock_and_no_host_socket(nbj, world):
    """The dock's socket is one on the job's private /run: the notifier's
    AF_UNIX rules let the job connect to it, and still not to a host
    socket it can see (in /var/cache: the job's /tmp is its own)"""
    import shutil
    import socket
    d = f"/var/cache/nbjdock-{os.getpid()}"
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    os.chmod(d, 0o777)
    srv = socket.socket(socket.AF_UNIX)
    try:
        srv.bind(f"{d}/host.sock")
        os.chmod(f"{d}/host.sock", 0o777)
        srv.listen(4)
        cp = job(PYTHON, "-I", "-c", UNIX_CONNECT, f"{d}/host.sock")
    finally:
        srv.close()
        shutil.rmtree(d, ignore_errors=True)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == ["ok", "PermissionError"], (cp.stdout, cp.stderr)


def test_without_the_command_net_runs_browse_refuses(nbj, world):
    """A tree without nbjail-dock (beside nbjail, nor installed): a net
    job keeps its dock's socket and is told the command is missing; a
    browse job, whose only way out it is, does not start"""
    import shutil
    import tempfile
    if os.path.exists("/usr/local/bin/nbjail-dock"):
        pytest.skip("nbjail-dock is installed")
    tree = tempfile.mkdtemp(prefix="nbjt-nodock.", dir="/var/lib")
    try:
        os.chmod(tree, 0o755)
        for prog in ("nbjail", "nbjail-relay"):
            shutil.copy2(os.path.join(os.path.dirname(nbj), prog), tree)
        env_nbj = os.path.join(tree, "nbjail")
        from conftest import HOST_NS, as_caller, nbjail_env, run
        cp = run(as_caller([env_nbj, "run", "--profile", "net", "--", "sh", "-c",
                            'test -S "$NBJAIL_DOCK" && echo sock; command -v nbjail-dock || echo none']),
                 ns=HOST_NS, env=nbjail_env())
        assert cp.returncode == 0 and cp.stdout.split() == ["sock", "none"], (cp.stdout, cp.stderr)
        assert "cannot find the nbjail-dock program" in cp.stderr, cp.stderr
        cp = run(as_caller([env_nbj, "run", "--profile", "browse", "--", "true"]),
                 ns=HOST_NS, env=nbjail_env())
        assert cp.returncode == 125 and "cannot find the nbjail-dock program" in cp.stderr, \
            (cp.returncode, cp.stderr)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def test_journald_events_of_lane_dock(nbj, world, journal):
    cp = shell(f"nbjail-dock tcp meta.test 80 </dev/null; {HTTP10} | nbjail-dock tcp v4only.test 80 "
               ">/dev/null; echo rc=$?", allow=("*.test:80",))
    assert cp.stdout.split() == ["rc=0"], (cp.stdout, cp.stderr)
    job = next(ln for ln in cp.stderr.splitlines() if ln.startswith("nbjail-relay["))[13:21]
    evs = journal.wait_events(lambda e: any(x.get("NBJAIL_EVENT") == "job-end" for x in e),
                              f"NBJAIL_JOB={job}")
    dock = [e for e in evs if e.get("NBJAIL_LANE") == "dock"]
    assert [(e["NBJAIL_EVENT"], e["NBJAIL_TARGET"], e["NBJAIL_REASON"]) for e in dock] == [
        ("deny", "tcp meta.test:80", "floor:metadata"),
        ("dock-call", "tcp v4only.test:80", "allowed")], dock
    assert dock[0]["NBJAIL_RESOLVED"] == "169.254.169.254", dock
    assert dock[1]["NBJAIL_RESOLVED"] == "198.51.100.10:80", dock
    assert dock[1]["NBJAIL_DETAIL"].startswith("status=0 bytes="), dock


# ---------------------------------------------------------------- get, get-many

# A world HTTP server for get: /hop/N redirects N times on itself, /to?u=URL
# redirects to URL, /slow?ms=M&i=K answers "slow K" after M ms; it counts
# requests and the most it served at once (/stats, asked from the tests'
# side through the world's netns)
HTTP_WORLD = r"""
import http.server, json, socketserver, sys, threading, time, urllib.parse
host, port = sys.argv[1], int(sys.argv[2])
lock = threading.Lock(); st = {"now": 0, "max": 0, "count": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def done(self):
        # counted out before the answer goes: a client that has its
        # answer and starts another request finds this one gone
        if getattr(self, "counted", False):
            self.counted = False
            with lock: st["now"] -= 1
    def answer(self, code, body=b"", loc=None):
        self.done()
        self.send_response(code)
        if loc: self.send_header("Location", loc)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path); q = urllib.parse.parse_qs(u.query)
        if u.path == "/stats":
            return self.answer(200, json.dumps(st).encode())
        with lock:
            st["now"] += 1; st["count"] += 1; st["max"] = max(st["max"], st["now"])
        self.counted = True
        try:
            if u.path.startswith("/hop/"):
                n = int(u.path[5:])
                if n: return self.answer(302, loc=f"/hop/{n - 1}")
                return self.answer(200, b"landed\n")
            if u.path == "/to":
                return self.answer(302, loc=q["u"][0])
            if u.path == "/slow":
                time.sleep(int(q["ms"][0]) / 1000)
                return self.answer(200, f"slow {q['i'][0]}".encode())
            if u.path == "/pause":      # part of the body, a pause, the rest
                first, rest = b"first part\n", b"second part\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(first) + len(rest))); self.end_headers()
                self.wfile.write(first); self.wfile.flush()
                time.sleep(int(q["ms"][0]) / 1000)
                return self.wfile.write(rest)
            self.answer(404, b"no\n")
        finally:
            self.done()
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True; request_queue_size = 128
s = S((host, port), H)
print("ready", flush=True)
s.serve_forever()
"""
GETW = "198.51.100.11:8000"


def world_stats():
    from conftest import run
    cp = run([PYTHON, "-c", f"import urllib.request; print(urllib.request.urlopen('http://{GETW}/stats', "
              "timeout=5).read().decode())"], ns=WORLD_NS)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


@pytest.fixture
def get_world(world_server):
    world_server(HTTP_WORLD, *GETW.split(":"))
    return GETW


def test_get_by_address_and_by_name(nbj, world, tmp_path):
    log = tmp_path / "audit.jsonl"
    cp = shell("nbjail-dock get http://198.51.100.10/; echo rc=$?; "
               "nbjail-dock get http://allowed.test/; echo rc=$?",
               allow=("198.51.100.10:80", "allowed.test:80"),
               extra=("--audit-log", str(log), "--no-journal"))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == ["world 198.51.100.10:80", "rc=0",
                                      "world [2001:db8::10]:80", "rc=0"], (cp.stdout, cp.stderr)
    assert "nbjail-dock: HTTP 200 http://198.51.100.10/" in cp.stderr, cp.stderr
    assert "nbjail-dock: HTTP 200 http://allowed.test/" in cp.stderr, cp.stderr
    # the host dialled, each name's address judged and pinned
    seen = world.accesses("198.51.100.10:80") + world.accesses("[2001:db8::10]:80")
    assert len(seen) == 2 and all(p.startswith(("192.0.2.1:", "[2001:db8:1::1]:")) for _, p in seen), seen
    calls = [r for r in audit_records(log) if r["lane"] == "dock" and r["event"] == "dock-call"]
    assert [r["target"] for r in calls] == ["get http://198.51.100.10/", "get http://allowed.test/"], calls
    assert calls[1]["resolved"] == "[2001:db8::10]:80", calls
    assert all(r["detail"].startswith("status=0 http=200 ") for r in calls), calls


def test_get_follows_five_redirects_and_refuses_the_sixth(nbj, world, get_world):
    script = "; ".join(f"nbjail-dock get http://{GETW}/hop/{n}; echo rc=$?" for n in range(1, 7))
    cp = shell(script, allow=(GETW,))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == ["landed", "rc=0"] * 5 + ["rc=3"], (cp.stdout, cp.stderr)
    assert f"nbjail-dock: HTTP 200 http://{GETW}/hop/0" in cp.stderr, cp.stderr
    assert f"get http://{GETW}/hop/6: Too many levels of symbolic links: more than 5 redirects" \
        in cp.stderr, cp.stderr
    assert world_stats()["count"] == sum(n + 1 for n in range(1, 6)) + 6


def test_get_redirect_to_metadata_is_denied_at_its_hop(nbj, world, get_world, tmp_path):
    """Even with everything allowed, the floor stops the redirect's hop:
    the detector at 169.254.169.254:80 sees nothing (no_leaks)"""
    log = tmp_path / "audit.jsonl"
    url = f"http://{GETW}/to?u=http://169.254.169.254/latest/meta-data/"
    cp = shell(f"nbjail-dock get '{url}'; echo rc=$?; "
               f"nbjail-dock get 'http://{GETW}/to?u=http://meta.test/'; echo rc=$?",
               allow=("0.0.0.0/0", "::/0", "*.test"),
               extra=("--audit-log", str(log), "--no-journal"))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == ["rc=1", "rc=1"], (cp.stdout, cp.stderr)
    assert (f"nbjail-dock: denied {url} reason=floor:metadata at redirect 1: "
            "http://169.254.169.254/latest/meta-data/") in cp.stderr, cp.stderr
    assert "reason=floor:metadata at redirect 1: http://meta.test/" in cp.stderr, cp.stderr
    recs = [(r["event"], r["target"], r["reason"]) for r in audit_records(log) if r["lane"] == "dock"]
    assert recs == [("dock-call", f"get {url}", "allowed"),
                    ("deny", "get http://169.254.169.254/latest/meta-data/", "floor:metadata"),
                    ("dock-call", f"get http://{GETW}/to?u=http://meta.test/", "allowed"),
                    ("deny", "get http://meta.test/", "floor:metadata")], recs


GET_PROBES = ["http://169.254.169.254/", "http://127.0.0.1/", "http://10.0.0.1/", "http://172.16.0.1/",
              "http://192.168.1.1/", "http://100.64.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
              "http://user:pass@127.0.0.1/", "http://mixed.test/", "http://0x7f.1/",
              "https://10.0.0.1:8080/"]


def test_get_probe_matrix_denied_by_the_floor(nbj, world):
    script = "; ".join(f"nbjail-dock get '{u}'; echo rc=$?" for u in GET_PROBES)
    script += "; nbjail-dock get http://v4only.test/; echo rc=$?"
    cp = shell(script, allow=("0.0.0.0/0", "::/0", "*.test"))
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert lines == ["rc=1"] * len(GET_PROBES) + ["world 198.51.100.10:80", "rc=0"], (cp.stdout, cp.stderr)
    denied = [ln for ln in cp.stderr.splitlines() if ln.startswith("nbjail-dock: denied ")]
    assert len(denied) == len(GET_PROBES), cp.stderr
    for u, ln in zip(GET_PROBES, denied):
        assert ln.startswith(f"nbjail-dock: denied {u} reason=floor:"), (u, ln)


def test_get_malformed_and_not_allowed(nbj, world):
    bad = ["ftp://198.51.100.10/", "file:///etc/passwd", "198.51.100.10/", "http://[fe80::1%25lo]/",
           "http://a b/", "gopher://198.51.100.10:70/"]
    script = "; ".join(f"nbjail-dock get '{u}'; echo rc=$?" for u in bad)
    script += "; nbjail-dock get http://198.51.100.11/; echo rc=$?"
    cp = shell(script, allow=("198.51.100.10:80",))
    assert cp.stdout.split() == ["rc=1"] * (len(bad) + 1), (cp.stdout, cp.stderr)
    for u in bad:
        assert f"nbjail-dock: denied {u} reason=malformed" in cp.stderr, (u, cp.stderr)
    assert "denied http://198.51.100.11/ reason=not-allowed" in cp.stderr, cp.stderr


def test_get_body_cut_at_the_cap_says_so(nbj, world):
    cp = job("bash", "-c", "nbjail-dock get 'http://198.51.100.10/big?mb=2' | wc -c; echo rc=${PIPESTATUS[0]}",
             allow=("198.51.100.10:80",))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == [str(MIB), "rc=4"], (cp.stdout, cp.stderr)
    assert "cut at 1048576 bytes" in cp.stderr, cp.stderr


MANY_CHECK = r"""
import base64, json, subprocess, sys, time
urls = sys.stdin.read()
t = time.monotonic()
p = subprocess.run(["nbjail-dock", "get-many"], input=urls.encode(), capture_output=True, timeout=120)
wall = time.monotonic() - t
lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
for l in lines:
    if "body" in l:
        l["body"] = base64.b64decode(l["body"]).decode(errors="replace")[:40]
print(json.dumps({"rc": p.returncode, "wall": wall, "lines": lines, "err": p.stderr.decode()}))
"""


def many(urls, allow, timeout=150, extra=()):
    cp = job(PYTHON, "-I", "-c", MANY_CHECK, allow=allow, input="".join(u + "\n" for u in urls),
             timeout=timeout, extra=extra)
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout.strip().splitlines()[-1])
    res["job_stderr"] = cp.stderr
    # a relay built with -Db_sanitize=address,undefined reports here
    assert "Sanitizer" not in cp.stderr and "runtime error" not in cp.stderr, cp.stderr
    assert "relay died" not in cp.stderr, cp.stderr
    return res


def test_get_many_64_urls_16_at_a_time(nbj, world, get_world):
    urls = [f"http://{GETW}/slow?ms=300&i={i}" for i in range(64)]
    res = many(urls, allow=(GETW,))
    assert res["rc"] == 0, res["job_stderr"]
    lines = res["lines"]
    assert len(lines) == 64, res
    assert sorted(ln["index"] for ln in lines) == list(range(64)), lines
    for ln in lines:
        i = ln["index"]
        assert ln["url"] == urls[i] and ln["final_url"] == urls[i], ln
        assert ln["status"] == 200 and ln["truncated"] is False and ln["body"] == f"slow {i}", ln
    st = world_stats()
    assert st["count"] == 64, st
    assert 1 < st["max"] <= 16, st
    # four rounds of 300 ms at 16 at once; at one at a time it would take 19 s
    assert res["wall"] < 8, res["wall"]


def test_get_many_65_urls_is_an_error(nbj, world, get_world, tmp_path):
    log = tmp_path / "audit.jsonl"
    res = many([f"http://{GETW}/slow?ms=1&i={i}" for i in range(65)], allow=(GETW,),
               extra=("--audit-log", str(log), "--no-journal"))
    assert res["rc"] == 3 and res["lines"] == [], res["job_stderr"]
    assert "more than 64 URLs" in res["err"], res
    assert world_stats()["count"] == 0
    recs = [(r["event"], r["target"], r["reason"]) for r in audit_records(log) if r["lane"] == "dock"]
    assert recs == [("deny", "get-many", "malformed")], recs


def test_get_many_mixed_answers(nbj, world, get_world):
    urls = [f"http://{GETW}/hop/2", "http://169.254.169.254/", "http://198.51.100.10/big?mb=2",
            f"http://{GETW}/to?u=http://10.0.0.1/", "not a url", f"http://{GETW}/nothing"]
    res = many(urls, allow=("0.0.0.0/0",))
    assert res["rc"] == 4, res
    assert "cut at the 1048576-byte cap" in res["err"], res["err"]
    by = {ln["index"]: ln for ln in res["lines"]}
    assert len(res["lines"]) == 6 and sorted(by) == list(range(6)), res["lines"]
    assert by[0]["status"] == 200 and by[0]["final_url"] == f"http://{GETW}/hop/0" and by[0]["body"] == "landed\n"
    assert by[1]["error"] == "denied" and by[1]["reason"] == "floor:metadata" and "body" not in by[1], by[1]
    assert by[2]["truncated"] is True and by[2]["status"] == 200, by[2]
    assert by[3]["error"] == "denied" and by[3]["reason"] == "floor:private", by[3]
    assert by[3]["final_url"] == "http://10.0.0.1/", by[3]
    assert by[4]["error"] == "denied" and by[4]["reason"] == "malformed", by[4]
    assert by[5]["status"] == 404 and by[5]["body"] == "no\n", by[5]


# ---------------------------------------------------------------- tls and sign

# An HTTPS server of the world: a certificate per server name (allowed.test,
# else other.test's), from a CA of the test's own (test_sni.make_certs());
# reads a request to its blank line (or the client's close_notify), then
# answers "HTTP/1.0 200" with "tls sni=NAME path=PATH", or N MiB for
# /big?mb=N, and closes without close_notify, as many servers do
TLS_SERVER = r"""
import socket, ssl, sys, threading
addr, port, certs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def ctx_for(name):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(f"{certs}/{name}.pem", f"{certs}/{name}.key")
    return c
ctxs = {n: ctx_for(n) for n in ("allowed.test", "other.test")}
main = ctx_for("other.test")
def pick(sock, name, _):
    sock.sni = name
    if name in ctxs:
        sock.context = ctxs[name]
main.sni_callback = pick
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(64)
print("ready", flush=True)
def serve(c):
    try:
        t = main.wrap_socket(c, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            b = t.recv(65536)
            if not b:
                break
            data += b
        words = data.split()
        path = words[1].decode() if len(words) > 1 else "-"
        if path.startswith("/big?mb="):
            body = b"x" * (int(path[8:]) << 20)
        else:
            body = f"tls sni={getattr(t, 'sni', None)} path={path}\n".encode()
        t.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + body)
        t.close()
    except (OSError, ssl.SSLError) as e:
        print("error", e, flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def shared_dir(prefix):
    """A directory every user may enter (rootless callers read their
    policy, roots and keys from it), not below /tmp (a job's is its own)"""
    import tempfile
    d = tempfile.mkdtemp(prefix=prefix, dir="/var/lib")
    os.chmod(d, 0o755)
    return __import__("pathlib").Path(d)


@pytest.fixture
def shared():
    import shutil
    d = shared_dir("nbt-dock-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_certs():
    import shutil
    from test_sni import make_certs
    d = shared_dir("nbt-docktls-")
    make_certs(d)
    os.chmod(d, 0o755)      # the policy's tls_roots are read as the caller (rootless too)
    for f in d.iterdir():
        os.chmod(f, 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tls_policy(d, certs, extra=""):
    pol = d / "tls.yaml"
    pol.write_text(f"tls_roots: {certs}/ca.pem\n{extra}")
    os.chmod(pol, 0o644)
    return ("--policy", str(pol))


GET_TLS = "printf 'GET /x HTTP/1.0\\r\\n\\r\\n' | nbjail-dock tls"


def test_tls_answer_from_a_world_https_server(nbj, world, world_server, tls_certs, shared):
    world_server(TLS_SERVER, "198.51.100.10", 8443, tls_certs)
    log = shared / "audit.jsonl"
    os.chown(shared, conftest.CALLER_UID, conftest.CALLER_GID)
    cp = shell(f"{GET_TLS} allowed.test 8443; echo rc=$?",
               allow=("allowed.test:8443",),
               extra=tls_policy(shared, tls_certs) + ("--audit-log", str(log), "--no-journal"))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[0].startswith("HTTP/1.0 200"), (cp.stdout, cp.stderr)
    assert "tls sni=allowed.test path=/x" in cp.stdout and cp.stdout.endswith("rc=0\n"), \
        (cp.stdout, cp.stderr)
    calls = [r for r in audit_records(log) if r["lane"] == "dock" and r["event"] == "dock-call"]
    assert [c["target"] for c in calls] == ["tls allowed.test:8443"], calls
    assert calls[0]["detail"].startswith("status=0 bytes="), calls
    # a server that waits for the client's end: close_notify after 1 s of
    # silence, then the answer (to an empty request)
    t = time.monotonic()
    cp = shell("nbjail-dock tls allowed.test 8443 </dev/null; echo rc=$?",
               allow=("allowed.test:8443",), extra=tls_policy(shared, tls_certs))
    assert "tls sni=allowed.test path=-" in cp.stdout and cp.stdout.endswith("rc=0\n"), \
        (cp.stdout, cp.stderr)
    assert time.monotonic() - t < 8, "not the call's 10 s deadline"
    # the same server, the system's roots: the test CA is no one's
    cp = shell(f"{GET_TLS} allowed.test 8443; echo rc=$?", allow=("allowed.test:8443",))
    assert cp.stdout.split() == ["rc=3"], (cp.stdout, cp.stderr)
    assert "certificate verify failed: " in cp.stderr, cp.stderr


def test_tls_wrong_name_refused(nbj, world, world_server, tls_certs, shared):
    """v4only.test is 198.51.100.10, whose server answers a name it has no
    certificate for with other.test's: refused; so is the address itself
    (no IP in the certificate)"""
    world_server(TLS_SERVER, "198.51.100.10", 8443, tls_certs)
    cp = shell(f"{GET_TLS} v4only.test 8443; echo rc=$?; {GET_TLS} 198.51.100.10 8443; echo rc=$?",
               allow=("v4only.test:8443", "198.51.100.10:8443"),
               extra=tls_policy(shared, tls_certs))
    assert cp.stdout.split() == ["rc=3", "rc=3"], (cp.stdout, cp.stderr)
    assert "nbjail-dock: tls v4only.test: Protocol error: certificate verify failed: " \
           "hostname mismatch" in cp.stderr, cp.stderr
    assert "certificate verify failed: IP address mismatch" in cp.stderr, cp.stderr
    assert "HTTP/1.0" not in cp.stdout


def test_tls_floor_and_cap(nbj, world, world_server, tls_certs, shared):
    world_server(TLS_SERVER, "198.51.100.10", 8443, tls_certs)
    cp = job("bash", "-c", "nbjail-dock tls 10.0.0.1 443 </dev/null; echo rc=$?; "
             "nbjail-dock tls meta.test 443 </dev/null; echo rc=$?; "
             "printf 'GET /big?mb=2 HTTP/1.0\\r\\n\\r\\n' | nbjail-dock tls allowed.test 8443 | wc -c; "
             "echo rc=${PIPESTATUS[1]}",
             allow=("0.0.0.0/0", "*.test"), extra=tls_policy(shared, tls_certs))
    assert cp.stdout.split() == ["rc=1", "rc=1", str(MIB), "rc=4"], (cp.stdout, cp.stderr)
    assert "nbjail-dock: denied 10.0.0.1:443 reason=floor:private" in cp.stderr, cp.stderr
    assert "nbjail-dock: denied meta.test:443 reason=floor:metadata" in cp.stderr, cp.stderr
    assert "cut at 1048576 bytes" in cp.stderr, cp.stderr


def test_tls_roots_must_be_a_usable_file(nbj, world, shared):
    for content, mode, why in (("not a cert\n", 0o644, "no PEM certificate"),
                               ("-----BEGIN CERTIFICATE-----\n", 0o666, "writable by group or others")):
        f = shared / "roots.pem"
        f.write_text(content)
        os.chmod(f, mode)
        pol = shared / "p.yaml"
        pol.write_text(f"tls_roots: {f}\n")
        os.chmod(pol, 0o644)
        cp = nbjail("run", "--policy", str(pol), "--profile", "net", "--", "true")
        assert cp.returncode == 125 and f"tls_roots: {f}: {why}" in cp.stderr, (cp.returncode, cp.stderr)
    link = shared / "link.pem"
    link.symlink_to(f)
    pol.write_text(f"tls_roots: {link}\n")
    cp = nbjail("run", "--policy", str(pol), "--profile", "net", "--", "true")
    assert cp.returncode == 125 and "is a symbolic link" in cp.stderr, cp.stderr


SIGN_KEY = b"k3y-bytes\x00\xff with a newline\n"


def sign_policy(d):
    key = d / "sign.key"
    key.write_bytes(SIGN_KEY)
    os.chmod(key, 0o600)
    os.chown(key, conftest.CALLER_UID, conftest.CALLER_GID)
    pol = d / "sign.yaml"
    pol.write_text(f"secrets:\n  deploy: {{file: {key}}}\n")
    os.chmod(pol, 0o644)
    return pol


def test_sign_verifies_outside_unknown_key_and_no_secrets(nbj, world, shared):
    import hashlib
    import hmac
    pol = sign_policy(shared)
    payload = bytes(range(256)) * 4096          # 1 MiB, the cap
    gen = f"{PYTHON} -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)'"
    cp = shell(f"printf hello | nbjail-dock sign deploy; echo rc=$?; "
               f"{gen} | nbjail-dock sign deploy; echo rc=$?; "
               f"nbjail-dock sign deploy </dev/null; echo rc=$?; "
               f"printf hello | nbjail-dock sign other; echo rc=$?",
               extra=("--policy", str(pol)))
    assert cp.stdout.split() == [hmac.new(SIGN_KEY, b"hello", hashlib.sha256).hexdigest(), "rc=0",
                                 hmac.new(SIGN_KEY, payload, hashlib.sha256).hexdigest(), "rc=0",
                                 hmac.new(SIGN_KEY, b"", hashlib.sha256).hexdigest(), "rc=0",
                                 "rc=3"], (cp.stdout, cp.stderr)
    assert "nbjail-dock: sign other: No such file or directory: no such key" in cp.stderr, cp.stderr
    cp = shell("printf hello | nbjail-dock sign deploy; echo rc=$?")
    assert cp.stdout.split() == ["rc=3"] and "no such key" in cp.stderr, (cp.stdout, cp.stderr)


# several sign calls at once: the one signing buffer is taken in turn
SIGN_PARALLEL = ("for i in $(seq 12); do (printf \"m$i\" | nbjail-dock sign deploy > /tmp/s$i; "
                 "echo $? > /tmp/r$i) & done; wait; for i in $(seq 12); do echo $(cat /tmp/r$i) "
                 "$(cat /tmp/s$i); done")


def test_sign_calls_at_once(nbj, world, shared):
    import hashlib
    import hmac
    pol = sign_policy(shared)
    cp = shell(SIGN_PARALLEL, extra=("--policy", str(pol)))
    lines = cp.stdout.splitlines()
    assert len(lines) == 12, (cp.stdout, cp.stderr)
    for i, ln in enumerate(lines, 1):
        assert ln.split() == ["0", hmac.new(SIGN_KEY, f"m{i}".encode(), hashlib.sha256).hexdigest()], \
            (i, ln, cp.stderr)


def test_tls_large_request_and_silent_server(nbj, world, world_server, tls_certs, shared):
    """A request of 1 MiB goes through TLS whole (the socket's buffer fills:
    writes wait and resume); a server that accepts and never answers the
    handshake ends the call at its 10 s, with the cause"""
    world_server(TLS_SERVER, "198.51.100.10", 8443, tls_certs)
    world_server(LINE_SERVER, "198.51.100.11", 6381, "silent")
    big = (f"{PYTHON} -c \"import sys; h = b'GET /big-request HTTP/1.0\\\\r\\\\nX: '; "
           "sys.stdout.buffer.write(h + b'y' * (1048576 - len(h) - 4) + b'\\\\r\\\\n\\\\r\\\\n')\"")
    t = time.monotonic()
    cp = shell(f"{big} | nbjail-dock tls allowed.test 8443; echo rc=$?; "
               "nbjail-dock tls 198.51.100.11 6381 </dev/null; echo rc=$?",
               allow=("allowed.test:8443", "198.51.100.11:6381"), extra=tls_policy(shared, tls_certs))
    assert "tls sni=allowed.test path=/big-request" in cp.stdout, (cp.stdout, cp.stderr)
    assert cp.stdout.split()[-2:] == ["rc=0", "rc=3"], (cp.stdout, cp.stderr)
    assert "nbjail-dock: tls 198.51.100.11: Connection timed out: TLS handshake timed out" \
        in cp.stderr, cp.stderr
    assert 9 < time.monotonic() - t < 20


# HTTP_WORLD over TLS with allowed.test's certificate from the test CA
HTTPS_WORLD = HTTP_WORLD.replace(
    's = S((host, port), H)\n',
    's = S((host, port), H)\nimport ssl\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n'
    'ctx.load_cert_chain(f"{sys.argv[3]}/allowed.test.pem", f"{sys.argv[3]}/allowed.test.key")\n'
    's.socket = ctx.wrap_socket(s.socket, server_side=True)\n')


def test_get_https_with_the_policy_roots(nbj, world, world_server, get_world, tls_certs, tmp_path):
    world_server(HTTPS_WORLD, "198.51.100.10", 8443, tls_certs)
    cp = shell("nbjail-dock get https://allowed.test:8443/hop/2; echo rc=$?; "
               f"nbjail-dock get 'http://{GETW}/to?u=https://allowed.test:8443/hop/0'; echo rc=$?; "
               "nbjail-dock get https://v4only.test:8443/hop/0; echo rc=$?",
               allow=("allowed.test:8443", "v4only.test:8443", GETW),
               extra=tls_policy(tmp_path, tls_certs))
    assert cp.stdout.splitlines() == ["landed", "rc=0", "landed", "rc=0", "rc=3"], (cp.stdout, cp.stderr)
    assert "nbjail-dock: HTTP 200 https://allowed.test:8443/hop/0" in cp.stderr, cp.stderr
    assert "get https://v4only.test:8443/hop/0: Protocol error: " in cp.stderr, cp.stderr
    # many at once, the first connections among them (each verified)
    res = many([f"https://allowed.test:8443/hop/{i % 3}" for i in range(8)] +
               ["https://v4only.test:8443/hop/0"],
               allow=("allowed.test:8443", "v4only.test:8443"), extra=tls_policy(tmp_path, tls_certs))
    assert res["rc"] == 0, res
    by = {ln["index"]: ln for ln in res["lines"]}
    assert [by[i]["body"] for i in range(8)] == ["landed\n"] * 8, res["lines"]
    assert by[8]["error"] == "failed" and "SSL" in by[8]["reason"], by[8]
    # the system's roots: the test CA is no one's
    cp = shell("nbjail-dock get https://allowed.test:8443/hop/0; echo rc=$?", allow=("allowed.test:8443",))
    assert cp.stdout.split() == ["rc=3"], (cp.stdout, cp.stderr)
    assert "SSL certificate problem" in cp.stderr, cp.stderr


# get-many's frame in pieces: the URLs come 0.5 s after the head, in two
# parts; the call still answers every URL
MANY_SLOW = r"""
import json, os, socket, struct, sys, time
body = "".join(f"http://{sys.argv[1]}/hop/{i}\n" for i in range(3)).encode()
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(os.environ["NBJAIL_DOCK"])
s.sendall(struct.pack(">IBBHHHI", 0x4e424a44, 1, 5, 0, 1, 0, len(body)) + b"-")
time.sleep(0.5); s.sendall(body[:10]); time.sleep(0.5); s.sendall(body[10:])
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
i, recs = 0, []
while i + 8 <= len(data):
    t, f, _, l = struct.unpack(">BBHI", data[i:i + 8]); recs.append((t, data[i + 8:i + 8 + l])); i += 8 + l
lines = b"".join(p for t, p in recs if t == 1).decode().splitlines()
end = [p for t, p in recs if t == 2]
print(json.dumps({"lines": [json.loads(x)["status"] for x in lines],
                  "end": struct.unpack(">i", end[0][:4])[0] if end else None}))
"""


def test_get_many_frame_in_pieces(nbj, world, get_world):
    cp = job(PYTHON, "-I", "-c", MANY_SLOW, GETW, allow=(GETW,))
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout.splitlines()[-1]) == {"lines": [200, 200, 200], "end": 0}, \
        (cp.stdout, cp.stderr)


REVOKE_GET = (f"echo ready; nbjail-dock get 'http://{GETW}/slow?ms=8000&i=1'; a=$?; "
              f"nbjail-dock get 'http://{GETW}/slow?ms=1&i=2'; echo rc=$a rc=$?; sleep 30")


@needs_root("nbjail ctl revoke")
def test_revocation_cuts_a_get_and_denies_the_next(nbj, world, spawn, get_world):
    p = spawn("run", "--tenant", "dock-revoke-get", "--allow", GETW, "--", "sh", "-c", REVOKE_GET)
    assert read_line(p.stdout, 20) == "ready\n"
    time.sleep(1.0)                       # the first get waits at the slow server
    (j,) = [j for j in ctl_json("jobs") if j["tenant"] == "dock-revoke-get"]
    t = time.time()
    cp = nbjail("ctl", "revoke", j["job"])
    assert cp.returncode == 0, cp.stderr
    line = read_line(p.stdout, 8)
    assert line == "rc=1 rc=1\n", line
    assert time.time() - t < 5           # not the server's 8 s
    p.terminate()
    p.wait(timeout=10)
    err = p.stderr.read()
    assert f"denied http://{GETW}/slow?ms=8000&i=1 reason=revoked" in err, err
    assert f"denied http://{GETW}/slow?ms=1&i=2 reason=revoked" in err, err


def test_browse_profile_gets_through_the_dock(nbj, world):
    cp = shell("nbjail-dock get http://allowed.test/; echo rc=$?; "
               "printf 'http://198.51.100.10/\\nhttp://10.0.0.1/\\n' | nbjail-dock get-many | wc -l",
               profile="browse", allow=("allowed.test:80", "198.51.100.10:80"))
    assert cp.stdout.split() == ["world", "[2001:db8::10]:80", "rc=0", "2"], (cp.stdout, cp.stderr)


def test_get_pins_a_rebinding_name(nbj, world):
    """rebind.test answers 198.51.100.10 and 10.0.0.1 in turn: each get is
    either fetched from the public answer it was judged on, or denied; the
    world's detector at 10.0.0.1:80 sees nothing (no_leaks)"""
    cp = shell("for i in 1 2 3 4 5 6; do nbjail-dock get http://rebind.test/; echo rc=$?; done",
               allow=("rebind.test:80",))
    assert cp.returncode == 0, cp.stderr
    rcs = [ln for ln in cp.stdout.splitlines() if ln.startswith("rc=")]
    bodies = [ln for ln in cp.stdout.splitlines() if not ln.startswith("rc=")]
    assert len(rcs) == 6 and set(rcs) <= {"rc=0", "rc=1"}, (cp.stdout, cp.stderr)
    assert "rc=0" in rcs and "rc=1" in rcs, (cp.stdout, cp.stderr)
    assert bodies == ["world 198.51.100.10:80"] * rcs.count("rc=0"), cp.stdout
    denied = [ln for ln in cp.stderr.splitlines() if ln.startswith("nbjail-dock: denied ")]
    assert len(denied) == rcs.count("rc=1") and all(
        "reason=floor:private" in ln or "reason=rebinding" in ln for ln in denied), cp.stderr


def test_get_redirect_to_another_scheme_is_malformed(nbj, world, get_world):
    script = "; ".join(f"nbjail-dock get 'http://{GETW}/to?u={u}'; echo rc=$?"
                       for u in ("file:///etc/passwd", "ftp://198.51.100.10/", "gopher://198.51.100.10:80/"))
    cp = shell(script, allow=(GETW, "198.51.100.10:80", "198.51.100.10:21"))
    assert cp.stdout.split() == ["rc=1"] * 3, (cp.stdout, cp.stderr)
    for u in ("file:///etc/passwd", "ftp://198.51.100.10/", "gopher://198.51.100.10:80/"):
        assert f"reason=malformed at redirect 1: {u}" in cp.stderr, (u, cp.stderr)


def test_get_by_literal_addresses_never_resolves(nbj, world):
    """Literal addresses (IPv6, IPv4 in other spellings) reach libcurl in
    their canonical form: it never resolves anything itself (its resolver
    would start a thread, which the relay's allow-list kills)"""
    cp = shell("nbjail-dock get 'http://[2001:db8::10]/'; echo rc=$?; "
               "nbjail-dock get 'http://[::ffff:198.51.100.10]/'; echo rc=$?; "
               "nbjail-dock get 'http://3325256714/'; echo rc=$?",
               allow=("[2001:db8::10]:80", "198.51.100.10:80"))
    assert cp.stdout.splitlines() == ["world [2001:db8::10]:80", "rc=0", "world 198.51.100.10:80", "rc=0",
                                      "world 198.51.100.10:80", "rc=0"], (cp.stdout, cp.stderr)
    assert "relay died" not in cp.stderr, cp.stderr


def test_get_many_hops_take_the_dock_rate(nbj, world, get_world, tmp_path):
    """Each URL's hop is a dock call of the tenant's rate: 20 at once at
    5 a second (burst 5) leave most denied reason=rate"""
    pol = tmp_path / "rate.yaml"
    pol.write_text("rates:\n  dock_calls_per_s: 5\n")
    res = many([f"http://{GETW}/hop/0"] * 20, allow=(GETW,), extra=("--policy", str(pol)))
    assert res["rc"] == 0, res
    ok = [ln for ln in res["lines"] if ln.get("status") == 200]
    rate = [ln for ln in res["lines"] if ln.get("reason") == "rate"]
    assert len(res["lines"]) == 20 and len(ok) + len(rate) == 20, res["lines"]
    assert 5 <= len(ok) <= 10, res["lines"]
    assert world_stats()["count"] == len(ok)


# a get-many whose client never reads: 16 bodies of 1 MiB wait in the relay;
# another call is answered meanwhile, and the stuck one is cut after 15 s
# without progress
MANY_NO_READ = r"""
import json, os, socket, struct, subprocess, time
body = "".join("http://198.51.100.10/big?mb=1\n" for _ in range(16)).encode()
s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(os.environ["NBJAIL_DOCK"])
s.sendall(struct.pack(">IBBHHHI", 0x4e424a44, 1, 5, 0, 1, 0, len(body)) + b"-" + body)
time.sleep(2)
out = subprocess.run(["nbjail-dock", "get", "http://198.51.100.10/"], capture_output=True, timeout=30)
res = {"other": [out.returncode, out.stdout.decode()]}
t = time.monotonic()
s.settimeout(40)
got = 0
time.sleep(20)                      # past the relay's 15 s without progress
try:
    while True:
        b = s.recv(1 << 20)
        if not b: break
        got += len(b)
except OSError as e:
    res["err"] = type(e).__name__
res["got_mb"] = got >> 20
print(json.dumps(res))
"""


def test_get_many_client_that_never_reads_is_cut(nbj, world):
    cp = job(PYTHON, "-I", "-c", MANY_NO_READ, allow=("198.51.100.10:80",), timeout=90)
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout.splitlines()[-1])
    assert res["other"] == [0, "world 198.51.100.10:80\n"], res
    assert res["got_mb"] < 16, res      # cut, far from the 16 x 1.4 MB of the lines
    assert "did not read its answer in 15 s" in cp.stderr, cp.stderr


# a get's body is written to the job as it arrives: the first part is read
# before the server's pause ends, the rest after it
STREAM_READS = r"""
import json, os, subprocess, sys, time
p = subprocess.Popen(["nbjail-dock", "get", sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t0 = time.monotonic()
reads = []
while True:
    b = os.read(p.stdout.fileno(), 65536)
    if not b:
        break
    reads.append([round(time.monotonic() - t0, 3), b.decode()])
print(json.dumps({"rc": p.wait(), "reads": reads, "err": p.stderr.read().decode()}))
"""


def test_get_streams_the_body_as_it_arrives(nbj, world, get_world):
    url = f"http://{GETW}/pause?ms=1500"
    cp = job(PYTHON, "-I", "-c", STREAM_READS, url, allow=(GETW,))
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout.splitlines()[-1])
    assert res["rc"] == 0, res
    reads = res["reads"]
    assert "".join(r[1] for r in reads) == "first part\nsecond part\n", res
    # the first part came alone, and well before the second (the pause is
    # 1.5 s; a body sent after the whole transfer comes in one read)
    assert reads[0][1] == "first part\n", res
    assert reads[-1][0] - reads[0][0] >= 1.0, res
    assert f"nbjail-dock: HTTP 200 {url}" in res["err"], res


# 32 gets (the relay's table of get calls, DOCK_HTTP_CALLS_MAX) held at a
# slow server; the 33rd, by the CLI and by the C client, is busy; once the
# 32 are answered, a get works again
BUSY = r"""
import ctypes, json, os, subprocess, sys, time
getw, lib, go = sys.argv[1:4]
held = [subprocess.Popen(["nbjail-dock", "get", f"http://{getw}/slow?ms=8000&i={i}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(32)]
print("held", flush=True)
while not os.path.exists(go):       # the test saw the 32 at the server
    time.sleep(0.05)
res = {}
cli = subprocess.run(["nbjail-dock", "get", f"http://{getw}/slow?ms=1&i=cli"], capture_output=True,
                     timeout=30)
res["cli"] = [cli.returncode, cli.stderr.decode()]
class Answer(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("truncated", ctypes.c_bool), ("len", ctypes.c_size_t),
                ("reason", ctypes.c_char * 256)]
nbj = ctypes.CDLL(lib)
nbj.nbj_dock_call.argtypes = [ctypes.c_uint8, ctypes.c_char_p, ctypes.c_uint16, ctypes.c_void_p,
                              ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(Answer)]
a = Answer()
r = nbj.nbj_dock_call(4, f"http://{getw}/slow?ms=1&i=c".encode(), 0, None, 0, None, None,
                      ctypes.byref(a))
res["c"] = [r, a.status, a.reason.decode()]
outs = [p.communicate(timeout=30) for p in held]
res["held"] = sorted(p.returncode for p in held)
res["bodies"] = sorted(o[0].decode() for o in outs) == sorted(f"slow {i}" for i in range(32))
after = subprocess.run(["nbjail-dock", "get", f"http://{getw}/slow?ms=1&i=after"], capture_output=True,
                       timeout=30)
res["after"] = [after.returncode, after.stdout.decode()]
print(json.dumps(res), flush=True)
"""


def test_get_calls_over_the_table_are_busy(nbj, world, spawn, get_world, shared):
    lib = os.path.join(os.path.dirname(nbj), "libnbjail.so.0")
    go = shared / "go"
    p = spawn("run", "--allow", GETW, "--", PYTHON, "-I", "-c", BUSY, GETW, lib, str(go))
    assert read_line(p.stdout, 30) == "held\n", (p.poll(), p.poll() is not None and p.stderr.read())
    deadline = time.monotonic() + 6
    while world_stats()["now"] < 32:
        assert time.monotonic() < deadline, world_stats()
        time.sleep(0.1)
    go.write_text("")
    line = read_line(p.stdout, 60)
    assert line, (p.poll(), p.stderr.read())
    res = json.loads(line)
    EBUSY = -16
    assert res["cli"][0] == 3, res
    assert "get http://" in res["cli"][1] and "Device or resource busy: too many get calls at once" \
        in res["cli"][1], res
    assert res["c"] == [0, EBUSY, "too many get calls at once"], res
    assert res["held"] == [0] * 32 and res["bodies"] is True, res
    assert res["after"] == [0, "slow after"], res
    assert world_stats()["count"] == 33, world_stats()   # the busy ones never reached it


# ---------------------------------------------------------------- the desk

DESK_CHECK = r"""
import json, os, socket, subprocess
res = {"env": os.environ.get("NBJAIL_DOCK_FD")}
s = socket.socket(fileno=os.dup(1023))
res["desk"] = [s.family == socket.AF_UNIX, s.type == socket.SOCK_SEQPACKET]
s.detach()
def call(env=None, pre=""):
    e = dict(os.environ, **(env or {}))
    p = subprocess.run(["bash", "-c", pre + "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nbjail-dock tcp 198.51.100.10 80"],
                       capture_output=True, env=e, timeout=30, pass_fds=(1023,))
    return [p.returncode, p.stdout[:12].decode(), p.stderr.decode()[-120:]]
res["desk_only"] = call({"NBJAIL_DOCK": "/nonexistent"})
res["neither"] = call({"NBJAIL_DOCK": "/nonexistent"}, "exec 1023>&-; ")
res["path_only"] = call(pre="exec 1023>&-; ")
# another file at that number is not written to: the path is used
res["other_file"] = call(pre="exec 1023>/tmp/not-a-desk; ")
res["other_file_size"] = os.path.getsize("/tmp/not-a-desk")
print(json.dumps(res))
"""


def test_dock_connections_come_from_the_desk(nbj, world):
    """Every process of a job with a dock inherits the desk at fd 1023
    ($NBJAIL_DOCK_FD): nbjail-dock asks it for its connection (no connect()
    for the notifier), and uses the socket's path when the desk is gone or
    another file holds that number"""
    cp = job(PYTHON, "-I", "-c", DESK_CHECK, allow=("198.51.100.10:80",))
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout.splitlines()[-1])
    assert res["env"] == "1023" and res["desk"] == [True, True], res
    assert res["desk_only"][:2] == [0, "HTTP/1.0 200"], res
    assert res["neither"][0] == 3 and "cannot reach the dock" in res["neither"][2], res
    assert res["path_only"][:2] == [0, "HTTP/1.0 200"], res
    assert res["other_file"][:2] == [0, "HTTP/1.0 200"] and res["other_file_size"] == 0, res
    cp = shell('echo "fd=${NBJAIL_DOCK_FD:-none}"; test -e /proc/self/fd/1023 && echo open', profile="minimal")
    assert cp.stdout.split() == ["fd=none"], cp.stdout


# a job that floods its desk with requests and never takes the connections,
# sends it junk and an fd of its own: the relay rests the desk, drops what
# is not a request; other processes' calls still succeed (a connection
# given up in the queue is retried by the path)
DESK_FLOOD = r"""
import array, json, os, socket, subprocess, time
s = socket.socket(fileno=os.dup(1023))
s.setblocking(False)
asked = 0
try:
    for _ in range(5000):
        s.send(b"c"); asked += 1
except BlockingIOError:
    pass
for junk in (b"x", b"c" * 100, b""):
    try:
        s.send(junk)
    except OSError:
        pass
try:
    r, w = os.pipe()
    s.sendmsg([b"c"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])
except OSError as e:
    pass
res = {"asked": asked, "calls": []}
time.sleep(1.5)
for i in range(3):
    t = time.monotonic()
    p = subprocess.run(["nbjail-dock", "tcp", "198.51.100.10", "80"], input=b"GET / HTTP/1.0\r\n\r\n",
                       capture_output=True, timeout=60, pass_fds=(1023,))
    res["calls"].append([p.returncode, p.stdout[:12].decode(), round(time.monotonic() - t, 1)])
print(json.dumps(res))
"""


def test_desk_flood_and_junk_leave_the_dock_working(nbj, world):
    cp = job(PYTHON, "-I", "-c", DESK_FLOOD, allow=("198.51.100.10:80",), timeout=120)
    assert cp.returncode == 0, cp.stderr
    res = json.loads(cp.stdout.splitlines()[-1])
    assert res["asked"] > 0, res
    assert [c[:2] for c in res["calls"]] == [[0, "HTTP/1.0 200"]] * 3, res
    assert all(c[2] < 15 for c in res["calls"]), res
    assert "relay died" not in cp.stderr and "Sanitizer" not in cp.stderr, cp.stderr

