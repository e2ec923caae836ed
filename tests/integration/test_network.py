# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_network.py - the relay: what a net job can and cannot reach

Every test also passes through the autouse no_leaks fixture: a denied
target must be refused, never reached (the world's detectors and packet
counters must stay silent).  An address target is refused at connect()
by the supervisor's seccomp notifier (EACCES, "nbjail[ID]: deny connect"
line); the relay judges the same flow again on the kernel path.
"""
import json
import os
import time

import pytest

import world as worldmod
from conftest import HOST_NS, PYTHON, deny_lines, nbjail, probe, read_line, seccomp_denies

ALLOW_ONE = ["198.51.100.10:80"]
FLOOR_PRIVATE = {"floor:private"}
GATEWAY_REASONS = {"floor:host-address", "floor:private"}


def target(host, port):
    return worldmod.fmt_addr(host, port)


def assert_served(res, host, port, world):
    name = target(host, port)
    assert res["outcome"] == "data", res
    assert res["status"] == "HTTP/1.0 200 OK", res
    assert res["body"] == f"world {name}\n", res
    # The relay dials from the host's own address: nothing was routed.
    peers = [p for (_local, p) in world.accesses(name)]
    src = "[2001:db8:1::1]" if ":" in host else "192.0.2.1"
    assert peers and all(p.rsplit(":", 1)[0] == src for p in peers), peers


def assert_denied(res, cp, host, port, reasons, world):
    name = target(host, port)
    assert res["outcome"] == "error:EACCES", (name, res)
    assert res["elapsed"] < 2.0, (name, res)
    lines = [d for d in seccomp_denies(cp.stderr) if d[2] == name]
    assert len(lines) == 1, (name, cp.stderr)
    job_id, call, _t, _pid, exe, reason = lines[0]
    assert call == "connect", lines
    assert reason in reasons, (name, reason, reasons)
    assert exe.endswith("python3") or "python3." in exe, exe
    assert world.accesses(name) == []
    return job_id


def test_allowed_fetch(nbj, world):
    cp, (res,) = probe(["tcp", "198.51.100.10", 80], allow=ALLOW_ONE)
    assert_served(res, "198.51.100.10", 80, world)
    assert deny_lines(cp.stderr) == []


def test_allowed_fetch_with_curl(nbj, world):
    cp = nbjail("run", "--allow", "198.51.100.10:80", "--", "curl", "-sS", "--max-time", "5",
                "http://198.51.100.10/")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "world 198.51.100.10:80\n"


def test_big_download_integrity(nbj, world):
    t0 = time.monotonic()
    _cp, (res,) = probe(["big", "198.51.100.10", 80, 64], allow=ALLOW_ONE, timeout=120)
    assert res["outcome"] == "data", res
    assert res["length"] == 64 << 20
    assert res["sha256"] == worldmod.big_sha256(64)
    print(f"64 MiB through the relay in {time.monotonic() - t0:.2f} s")


DENIED_WITH_ONE_ALLOWED = [
    ("198.51.100.11", 80, {"not-allowed"}),
    ("198.51.100.10", 8080, {"not-allowed"}),
    ("203.0.113.10", 80, {"not-allowed"}),
    ("2001:db8::10", 80, {"not-allowed"}),
    ("10.0.0.1", 80, FLOOR_PRIVATE),
    ("10.0.0.1", 22, FLOOR_PRIVATE),
    ("172.16.0.1", 443, FLOOR_PRIVATE),
    ("192.168.1.1", 8080, FLOOR_PRIVATE),
    ("169.254.169.254", 80, {"floor:metadata"}),
    ("100.64.0.1", 80, {"floor:cgnat", "floor:shared", "floor:private"}),
    ("fd00::1", 80, FLOOR_PRIVATE),
    ("192.0.2.1", 8081, {"floor:host-address"}),
    ("192.0.2.1", 80, {"floor:host-address"}),
    ("2001:db8:1::1", 8081, {"floor:host-address"}),
]


@pytest.mark.parametrize("host,port,reasons", DENIED_WITH_ONE_ALLOWED,
                         ids=[target(h, p) for h, p, _r in DENIED_WITH_ONE_ALLOWED])
def test_denied(nbj, world, host, port, reasons):
    cp, (res,) = probe(["tcp", host, port], allow=ALLOW_ONE)
    assert_denied(res, cp, host, port, reasons, world)


def test_gateway_denied(nbj, world):
    cp, (gw,) = probe(["gateway"], allow=ALLOW_ONE)
    gw4 = gw["gateway"]
    cp, res = probe(["tcp", gw4, 8081], ["tcp", gw4, 80], allow=ALLOW_ONE)
    assert_denied(res[0], cp, gw4, 8081, GATEWAY_REASONS, world)
    assert_denied(res[1], cp, gw4, 80, GATEWAY_REASONS, world)


def assert_relay_listener_refused(res, cp, host):
    """The job reached the relay's listening socket itself, not through its
    ruleset: no original destination but the listener's own (loopback),
    which the floor refuses at once, and nothing is dialled."""
    assert res["outcome"] in ("refused", "reset", "eof"), res
    assert res["elapsed"] < 2.0, res
    assert "status" not in res, res
    name = target(host, res["port"])
    assert [(d[1], d[3]) for d in deny_lines(cp.stderr)] == [(name, "floor:loopback")], cp.stderr


def test_gateway_v6_denied(nbj, world):
    """The job's way out is the relay's listening socket in its own netns
    (on 127.0.0.1 and ::1; before issue 15 the host end of a veth): a job
    that connects to it directly over IPv6 is refused by the floor."""
    cp, (res,) = probe(["tcp_listener", "::1"], allow=["0.0.0.0/0", "::/0"])
    assert_relay_listener_refused(res, cp, "::1")


def test_no_allow_list_grants_nothing(nbj, world):
    cp, res = probe(["tcp", "198.51.100.10", 80], ["tcp", "2001:db8::10", 80])
    assert_denied(res[0], cp, "198.51.100.10", 80, {"no-allow-list"}, world)
    assert_denied(res[1], cp, "2001:db8::10", 80, {"no-allow-list"}, world)


def test_deny_lines_name_the_job(nbj, world):
    cp, res = probe(["tcp", "198.51.100.11", 80], ["tcp", "10.0.0.1", 80], allow=ALLOW_ONE)
    ids = {d[0] for d in deny_lines(cp.stderr)}
    assert len(ids) == 1, cp.stderr
    assert len(deny_lines(cp.stderr)) == 2, cp.stderr


def test_job_loopback_is_its_own(nbj, world):
    # 127.0.0.1 and ::1 in the job are the job's loopback, and so are its
    # own addresses (on lo): the host's detectors on 8081 must not see
    # these, the relay is not involved, and nobody listening means refused
    # at once (not a silent drop).
    cp, res = probe(["tcp", "127.0.0.1", 8081], ["tcp", "::1", 8081], ["tcp", "127.0.0.2", 80],
                    ["tcp", "10.231.0.2", 8081], ["tcp", "fd6e:626a:6169::2", 8081],
                    allow=["0.0.0.0/0", "::/0"])
    for r in res:
        assert r["outcome"] == "refused", res
    assert deny_lines(cp.stderr) == []


@pytest.mark.parametrize("host,port", [
    ("198.51.100.10", 9999), ("198.51.100.10", 123), ("2001:db8::10", 9999),
    ("10.0.0.1", 9999), ("192.0.2.1", 9999), ("gateway", 9999), ("gateway", 123),
])
def test_udp_does_not_leave(nbj, world, host, port):
    if host == "gateway":
        _cp, (gw,) = probe(["gateway"], allow=["0.0.0.0/0"])
        host = gw["gateway"]
    _cp, (res,) = probe(["udp", host, port], allow=["0.0.0.0/0", "::/0"])
    assert res["outcome"] != "reply", res


@pytest.mark.parametrize("host", ["198.51.100.10", "2001:db8::10", "10.0.0.1", "gateway"])
def test_icmp_does_not_leave(nbj, world, host):
    if host == "gateway":
        _cp, (gw,) = probe(["gateway"])
        host = gw["gateway"]
    _cp, (res,) = probe(["ping", host], allow=["0.0.0.0/0", "::/0"])
    assert res["outcome"] == "no-reply", res
    # No CAP_NET_RAW, even as root in the job.
    assert res["raw"].startswith("socket:error:EPERM"), res


def assert_refused(r):
    assert r["outcome"] == "rcode:5", r  # REFUSED
    assert r["qr"] and r["id_ok"], r
    assert r["elapsed"] < 1.0, r


def test_dns_to_gateway_refused(nbj, world):
    """The job's resolver (the nameserver of its resolv.conf, an address
    that is not local) is the relay's DNS stub over UDP and over TCP: a
    name nothing allows is REFUSED by it, the answer seems to come from
    the resolver, and nothing reaches the world (no_leaks)."""
    _cp, (gw,) = probe(["gateway"], allow=ALLOW_ONE)
    assert gw["gateway"] == "10.231.0.1", gw
    _cp, res = probe(["dns", gw["gateway"], 53, "example.test"],
                     ["dns_tcp", gw["gateway"], 53, "example.test"], allow=ALLOW_ONE)
    assert_refused(res[0])
    assert res[0]["from"] == gw["gateway"], res
    assert res[1]["outcome"] == "rcode:5", res
    assert world.dns_queries() == []


def test_dns_to_world_server_refused_by_relay(nbj, world):
    # The query must end at the relay (REFUSED), never at the world's
    # UDP/53 detector (checked by no_leaks).
    _cp, (res,) = probe(["dns", "198.51.100.10", 53, "example.test"], allow=ALLOW_ONE)
    assert_refused(res)


def test_dns_v6_does_not_leave(nbj, world):
    _cp, (res,) = probe(["dns", "2001:db8::10", 53, "example.test"], allow=["::/0"])
    assert res["outcome"] in ("rcode:5", "timeout") or res["outcome"].startswith("error:"), res


def test_getent_fails(nbj, world):
    t0 = time.monotonic()
    cp = nbjail("run", "--allow", "198.51.100.10:80", "--", "getent", "hosts", "example.test")
    assert cp.returncode == 2, (cp.returncode, cp.stdout, cp.stderr)
    assert cp.stdout == ""
    assert time.monotonic() - t0 < 5


def test_v6_allowed(nbj, world):
    cp, res = probe(["tcp", "2001:db8::10", 80], ["tcp", "2001:db8::11", 80],
                    ["tcp", "198.51.100.10", 80], allow=["[2001:db8::10]:80"])
    assert_served(res[0], "2001:db8::10", 80, world)
    assert_denied(res[1], cp, "2001:db8::11", 80, {"not-allowed"}, world)
    assert_denied(res[2], cp, "198.51.100.10", 80, {"not-allowed"}, world)


def test_v4_prefix_allowed(nbj, world):
    cp, res = probe(["tcp", "198.51.100.10", 80], ["tcp", "198.51.100.11", 80],
                    ["tcp", "198.51.100.10", 8080], ["tcp", "203.0.113.10", 80],
                    *[["tcp", a, 80] for a in ("10.0.0.1", "169.254.169.254", "192.0.2.1")],
                    allow=["198.51.100.0/24"])
    assert_served(res[0], "198.51.100.10", 80, world)
    assert_served(res[1], "198.51.100.11", 80, world)
    assert_served(res[2], "198.51.100.10", 8080, world)
    assert_denied(res[3], cp, "203.0.113.10", 80, {"not-allowed"}, world)
    assert_denied(res[4], cp, "10.0.0.1", 80, FLOOR_PRIVATE, world)
    assert_denied(res[5], cp, "169.254.169.254", 80, {"floor:metadata"}, world)
    assert_denied(res[6], cp, "192.0.2.1", 80, {"floor:host-address"}, world)


def test_allow_everything_keeps_the_floor(nbj, world):
    _cp, (gw,) = probe(["gateway"])
    gw4 = gw["gateway"]
    steps = [["tcp", "203.0.113.10", 80], ["tcp", "2001:db8::11", 80]]
    floor = [("10.0.0.1", 80, FLOOR_PRIVATE), ("172.16.0.1", 22, FLOOR_PRIVATE),
             ("192.168.1.1", 443, FLOOR_PRIVATE), ("169.254.169.254", 80, {"floor:metadata"}),
             ("100.64.0.1", 80, {"floor:cgnat", "floor:shared", "floor:private"}),
             ("fd00::1", 80, FLOOR_PRIVATE), ("192.0.2.1", 8081, {"floor:host-address"}),
             ("2001:db8:1::1", 8081, {"floor:host-address"}), (gw4, 8081, GATEWAY_REASONS)]
    steps += [["tcp", h, p] for h, p, _r in floor]
    cp, res = probe(*steps, allow=["0.0.0.0/0", "::/0"])
    assert_served(res[0], "203.0.113.10", 80, world)
    assert_served(res[1], "2001:db8::11", 80, world)
    for r, (h, p, reasons) in zip(res[2:], floor):
        assert_denied(r, cp, h, p, reasons, world)


def test_allow_cannot_open_the_floor(nbj, world):
    cp, res = probe(["tcp", "10.0.0.1", 80], ["tcp", "169.254.169.254", 80],
                    ["tcp", "192.0.2.1", 8081],
                    allow=["10.0.0.1:80", "169.254.169.254", "192.0.2.1:8081"])
    assert_denied(res[0], cp, "10.0.0.1", 80, FLOOR_PRIVATE, world)
    assert_denied(res[1], cp, "169.254.169.254", 80, {"floor:metadata"}, world)
    assert_denied(res[2], cp, "192.0.2.1", 8081, {"floor:host-address"}, world)


@pytest.mark.parametrize("host,port", [
    ("::ffff:10.0.0.1", 80),          # IPv4-mapped: the kernel sends IPv4
    ("::ffff:169.254.169.254", 80),
    ("64:ff9b::a00:1", 80),           # NAT64 of 10.0.0.1
    ("2002:a00:1::1", 80),            # 6to4 of 10.0.0.1
    ("::a00:1", 80),                  # IPv4-compatible
])
def test_ipv6_encodings_of_internal_addresses(nbj, world, host, port):
    cp, (res,) = probe(["tcp", host, port], allow=["0.0.0.0/0", "::/0"])
    assert res["outcome"] == "error:EACCES", res
    assert res["elapsed"] < 2.0, res
    lines = deny_lines(cp.stderr)
    assert len(lines) == 1 and lines[0][3].startswith("floor:"), cp.stderr


def test_host_addresses_tracked_live(nbj, world, job_tmp):
    """An address the host gains while a job runs is in the floor at once."""
    from conftest import HOST_NS, read_line, run, nbjail_cmd, nbjail_env
    import subprocess
    go = job_tmp / "go"
    script = (f"echo ready; i=0; while [ ! -e {go} ] && [ $i -lt 100 ]; do sleep 0.05; "
              "i=$((i+1)); done; exec /usr/bin/python3 -I " + worldmod.__file__.replace(
                  "world.py", "probe.py") + " '[[\"tcp\", \"203.0.113.99\", 8081]]'")
    p = subprocess.Popen(nbjail_cmd("run", "--allow", "0.0.0.0/0", "--write", str(job_tmp),
                                    "--", "sh", "-c", script), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=nbjail_env())
    try:
        assert read_line(p.stdout, 15) == "ready\n"
        run(["ip", "-n", HOST_NS, "addr", "add", "203.0.113.99/32", "dev", "lo"], check=True)
        go.touch()
        out, err = p.communicate(timeout=30)
    finally:
        run(["ip", "-n", HOST_NS, "addr", "del", "203.0.113.99/32", "dev", "lo"])
        if p.poll() is None:
            p.kill()
            p.wait()
    res = __import__("json").loads(out.strip().splitlines()[-1])[0]
    assert res["outcome"] in ("refused", "reset"), (res, err)
    assert [d[3] for d in deny_lines(err)] == ["floor:host-address"], err


def test_job_network_is_in_the_floor(nbj, world):
    """The job's network (10.231.0.0/30, fd6e:626a:6169::/64: the same in
    every job, no pool any more) is never a target: its addresses that are
    not the job's own (the resolver's among them) are refused whatever is
    allowed, and so is the rest of 10.231.0.0/16."""
    reasons = {"floor:private", "floor:job-network"}
    targets = [("10.231.0.1", 80), ("10.231.0.3", 80), ("10.231.200.2", 80),
               ("fd6e:626a:6169::1", 80)]
    cp, res = probe(*[["tcp", h, p] for h, p in targets], allow=["0.0.0.0/0", "::/0"])
    for r, (h, p) in zip(res, targets):
        assert_denied(r, cp, h, p, reasons, world)


SAME_PORT = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 40123)); s.settimeout(5)
s.connect(("198.51.100.10", 80)); s.sendall(b"GET / HTTP/1.0\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode(), flush=True)
if sys.argv[1] == "leave":
    import os; os._exit(0)   # the job ends with the flow open: no FIN reaches the host
"""


def test_next_job_does_not_meet_old_flows(nbj, world):
    # A job's flows vanish with its netns; every job has the same address,
    # so the next one, with the same source port, must reach its own
    # relay, not some state left by the last job's.
    for what in ("leave", "again"):
        cp = nbjail("run", "--allow", "198.51.100.10:80", "--", "/usr/bin/python3", "-c",
                    SAME_PORT, what)
        assert cp.returncode == 0 and cp.stdout.strip() == "HTTP/1.0 200 OK", (what, cp)
    world.clear()


IDLE_THEN_USED = r"""
import socket, sys, time
n = int(sys.argv[1])
socks = [socket.create_connection(("198.51.100.10", 80), timeout=10) for _ in range(n)]
print("idle", flush=True)
time.sleep(3)
for s in socks:
    s.sendall(b"GET /big?mb=1 HTTP/1.0\r\n\r\n")
got = 0
for s in socks[:8]:           # a few drain their answers, the others' stay queued
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        got += len(b)
print("used", got, flush=True)
time.sleep(3)
"""


def test_idle_flows_hold_only_their_sockets(nbj, world, spawn):
    """A relayed flow holds its two sockets; pipes only while bytes wait."""
    n = 300
    p = spawn("run", "--allow", "198.51.100.10:80", "--", PYTHON, "-I", "-c",
              IDLE_THEN_USED, str(n))
    assert read_line(p.stdout, 30) == "idle\n", p.stderr.read() if p.poll() is not None else ""
    (job,) = json.loads(nbjail("ctl", "jobs", "--json").stdout)

    def fds():
        return len(os.listdir(f"/proc/{job['relay_pid']}/fd"))
    idle = fds()
    # 2 per flow, plus the relay's own (listeners, epoll, resolver, ...)
    assert 2 * n <= idle <= 2 * n + 40, idle
    line = read_line(p.stdout, 60)
    assert line.startswith("used ") and int(line.split()[1]) > 8 << 20, line
    # 292 flows have a megabyte waiting that the job does not read: their
    # writers are blocked with bytes in pipes (one each), the 8 drained
    # flows gave theirs back to the pool (at most 32 kept)
    busy = fds()
    assert busy <= idle + 2 * (n - 8) + 2 * 32 + 4, (idle, busy)
    print(f"relay fds: {idle} with {n} idle flows, {busy} with {n - 8} blocked writers")
    assert p.wait(timeout=30) == 0, p.stderr.read()


STUFF_THEN_ONE_MORE = r"""
import socket, sys, time
socks = []
for i in range(int(sys.argv[1])):   # downloads the job does not read
    s = socket.create_connection(("198.51.100.10", 80), timeout=10)
    s.sendall(b"GET /big?mb=4 HTTP/1.0\r\n\r\n")
    socks.append(s)
time.sleep(4)   # every download's writer blocked on a pipe (2 s was short under load)
extra = socket.create_connection(("198.51.100.10", 80), timeout=10)
extra.sendall(b"GET / HTTP/1.0\r\n\r\n")
print("stuffed", flush=True)
time.sleep(3)
for s in socks:
    s.close()
extra.settimeout(10)
data = b""
while True:
    b = extra.recv(4096)
    if not b:
        break
    data += b
print("extra", data.split(b"\r\n")[0].decode(), flush=True)
"""


def test_relay_out_of_fds_waits_instead_of_spinning(nbj, world, spawn):
    """Pipes for blocked flows take the relay's last fds: a new connection
    waits in the backlog (no busy loop on accept), and is served once
    flows end."""
    # RLIMIT_NOFILE 150 for nbjail and so its relay: half of it for the
    # flows' sockets, 37 flows; 35 downloads the job does not read hold a
    # pipe each (70 fds) on top of their 70 sockets: more than 150
    p = spawn("run", "--allow", "198.51.100.10:80", "--", PYTHON, "-I", "-c",
              STUFF_THEN_ONE_MORE, "35", prefix=["prlimit", "--nofile=150:150", "--"])
    assert read_line(p.stdout, 60) == "stuffed\n", p.stderr.read() if p.poll() is not None else ""
    (job,) = json.loads(nbjail("ctl", "jobs", "--json").stdout)

    def cpu():
        with open(f"/proc/{job['relay_pid']}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    nfds = len(os.listdir(f"/proc/{job['relay_pid']}/fd"))
    c0 = cpu()
    time.sleep(2)
    spent = cpu() - c0
    assert spent < 0.5, f"relay used {spent:.2f} s of CPU in 2 s while starved ({nfds} fds)"
    line = read_line(p.stdout, 30)
    assert line == "extra HTTP/1.0 200 OK\n", (line, p.stderr.read() if p.poll() is not None else "")
    assert p.wait(timeout=30) == 0
    err = p.stderr.read()
    waits = err.count("new connections wait for a second")
    assert 1 <= waits <= 8, (nfds, err[-2000:])
    print(f"relay fds {nfds}, CPU {spent:.2f} s in 2 s starved, {waits} pause(s)")
