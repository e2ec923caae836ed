# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_overlays.py - dialling through overlays

Real proxies run in the test's host network namespace, next to the relay:
microsocks (SOCKS5, with and without a password) and tinyproxy (HTTP
CONNECT); they reach the world's servers like any host program.  A small
SOCKS5 recorder (tests/integration/socks_recorder.py, protocol-faithful,
it answers as the destination itself and never resolves anything) shows
what the relay hands to a proxy: host names, credentials per connection.
Failures must give the job a connection error and an audit line with the
overlay's reason, and never a direct connection.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (CALLER_GID, CALLER_UID, HOST_NS, NBJAIL, PYTHON, ROOTLESS, WORLD_NS, deny_lines,
                      host_links, nbjail, nbjail_cmd, nbjail_env, read_line, run, wait_for)

HERE = Path(__file__).resolve().parent


def start(cmd, ready=None):
    p = subprocess.Popen(["ip", "netns", "exec", HOST_NS, *cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    if ready:
        assert wait_for(ready, 10), f"{cmd} did not come up"
    return p


def port_open(port):
    cp = subprocess.run(["ip", "netns", "exec", HOST_NS, "ss", "-Htln", f"sport = :{port}"],
                        capture_output=True, text=True, timeout=10)
    return bool(cp.stdout.strip())


@pytest.fixture(scope="module")
def proxies(tmp_path_factory, world):
    d = tmp_path_factory.mktemp("proxies")
    conf = d / "tinyproxy.conf"
    conf.write_text("Port 8888\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n"
                    "ConnectPort 80\nConnectPort 8080\nLogLevel Connect\n"
                    f"LogFile \"{d}/tinyproxy.log\"\n")
    procs = [
        start(["microsocks", "-i", "127.0.0.1", "-p", "1080"], lambda: port_open(1080)),
        start(["microsocks", "-i", "127.0.0.1", "-p", "1081", "-u", "nbuser", "-P", "s3cret"],
              lambda: port_open(1081)),
        start(["tinyproxy", "-d", "-c", str(conf)], lambda: port_open(8888)),
    ]
    dante = d / "sockd.conf"
    dante.write_text(f"logoutput: {d}/sockd.log\ninternal: 127.0.0.1 port = 1082\nexternal: wan0\n"
                     "socksmethod: none\nclientmethod: none\nuser.privileged: root\n"
                     "user.unprivileged: nobody\n"
                     "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
                     "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect\n"
                     "    log: connect }\n")
    procs.append(start(["danted", "-f", str(dante), "-N", "1"], lambda: port_open(1082)))
    rec_log = d / "recorder.jsonl"
    procs.append(start([PYTHON, str(HERE / "socks_recorder.py"), "1090", str(rec_log)],
                       lambda: port_open(1090)))
    yield {"recorder": rec_log, "dir": d}
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def policy(tmp_path, text):
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return str(p)


def curl(pol, url, env=None, extra=()):
    return nbjail("run", "--policy", pol, *extra, "--", "curl", "-sS", "--max-time", "8", url,
                  env=env, timeout=60)


def records(proxies):
    log = proxies["recorder"]
    return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []


S5 = "overlays:\n  s5: {kind: socks5, host: 127.0.0.1, port: 1080}\n"


def test_socks5_carries_names_and_addresses(nbj, world, proxies, tmp_path):
    pol = policy(tmp_path, S5 + "default_overlay: s5\n"
                 "allow: [allowed.test:80, '198.51.100.11:80']\n")
    cp = curl(pol, "http://allowed.test/")
    assert cp.returncode == 0 and cp.stdout.startswith("world "), cp
    cp = curl(pol, "http://198.51.100.11/")
    assert cp.returncode == 0 and cp.stdout == "world 198.51.100.11:80\n", cp
    # the proxy dialled, from the host's address
    assert any(p.startswith("192.0.2.1:") or p.startswith("[2001:db8:1::1]:")
               for _l, p in world.accesses("198.51.100.11:80"))
    world.clear()


def test_dante(nbj, world, proxies, tmp_path):
    """A second real SOCKS5 server (Debian's dante), names and addresses."""
    pol = policy(tmp_path, "overlays:\n  d: {kind: socks5, host: 127.0.0.1, port: 1082}\n"
                 "default_overlay: d\nallow: ['allowed.test:80', '198.51.100.11:80']\n")
    for url, body in (("http://198.51.100.11/", "world 198.51.100.11:80\n"),
                      ("http://allowed.test/", None)):
        cp = curl(pol, url)
        assert cp.returncode == 0 and (body is None or cp.stdout == body), cp
        assert cp.stdout.startswith("world "), cp
    log = (proxies["dir"] / "sockd.log").read_text()
    # dante resolved allowed.test itself (198.51.100.10): the overlay's resolver decides
    assert "-> 192.0.2.1." in log and "198.51.100.11.80" in log and "198.51.100.10.80" in log, log[-800:]
    world.clear()


def test_names_go_to_the_proxy_unresolved(nbj, world, proxies, tmp_path):
    pol = policy(tmp_path, "overlays:\n  rec: {kind: socks5, host: 127.0.0.1, port: 1090}\n"
                 "routes:\n  - {match: '*.onion', overlay: rec}\n"
                 "  - {match: 'only-in-overlay.test', overlay: rec}\n"
                 "allow: ['*.onion:80', 'only-in-overlay.test:80']\n")
    before = len(records(proxies))
    for url in ("http://only-in-overlay.test/", "http://abcdefghijklmnop.onion/"):
        cp = curl(pol, url)
        assert cp.returncode == 0 and cp.stdout.startswith("recorder "), cp
    new = records(proxies)[before:]
    assert [(r["atyp"], r["host"], r["port"]) for r in new] == [
        ("domain", "only-in-overlay.test", 80), ("domain", "abcdefghijklmnop.onion", 80)], new
    # nobody asked the world's DNS server about either name
    assert [q for q in world.dns_queries() if "overlay" in q or "onion" in q] == []


def test_onion_never_direct(nbj, world, proxies, tmp_path):
    pol = policy(tmp_path, "allow: ['*.onion']\n")
    cp = nbjail("run", "--policy", pol, "--", PYTHON, "-c",
                "import socket\ntry:\n    socket.getaddrinfo('abc.onion', 80); print('resolved')\n"
                "except socket.gaierror as e: print('refused', e)\n")
    assert cp.returncode == 0 and cp.stdout.startswith("refused"), cp
    assert "deny dns abc.onion" in cp.stderr and "reason=overlay-required" in cp.stderr, cp.stderr
    assert [q for q in world.dns_queries() if "onion" in q] == []


def test_socks5_password_and_failures(nbj, world, proxies, tmp_path, journal):
    text = ("overlays:\n  auth: {kind: socks5, host: 127.0.0.1, port: 1081, username: nbuser, "
            "password_env: NBT_SOCKS_PASS}\ndefault_overlay: auth\nallow: ['198.51.100.10:80']\n")
    pol = policy(tmp_path, text)
    cp = curl(pol, "http://198.51.100.10/", env={"NBT_SOCKS_PASS": "s3cret"})
    assert cp.returncode == 0 and cp.stdout == "world 198.51.100.10:80\n", cp
    world.clear()
    cp = curl(pol, "http://198.51.100.10/", env={"NBT_SOCKS_PASS": "wrong"})
    assert cp.returncode != 0, cp
    assert "reason=overlay:auth-failed overlay=auth" in cp.stderr, cp.stderr
    # no password at all: the job does not start
    cp = curl(pol, "http://198.51.100.10/")
    assert cp.returncode == 125 and "password_env NBT_SOCKS_PASS is not set" in cp.stderr, cp
    # a proxy that is down: an error, never a direct connection
    down = policy(tmp_path, "overlays:\n  down: {kind: socks5, host: 127.0.0.1, port: 1099}\n"
                  "default_overlay: down\nallow: ['198.51.100.10:80']\n")
    cp = curl(down, "http://198.51.100.10/")
    assert cp.returncode != 0 and "reason=overlay:proxy-unreachable overlay=down" in cp.stderr, cp
    assert world.accesses("198.51.100.10:80") == []
    evs = journal.wait_events(lambda e: any(x.get("NBJAIL_OVERLAY") == "down" for x in e),
                              "NBJAIL_EVENT=deny")
    e = [x for x in evs if x.get("NBJAIL_OVERLAY") == "down"][-1]
    assert e["NBJAIL_REASON"] == "overlay:proxy-unreachable" and e["NBJAIL_LANE"] == "tcp", e


def test_isolate_streams(nbj, world, proxies, tmp_path):
    pol = policy(tmp_path, "overlays:\n  t: {kind: tor, host: 127.0.0.1, port: 1090}\n"
                 "default_overlay: t\nallow: ['iso.test:80']\n")
    before = len(records(proxies))
    cp = nbjail("run", "--policy", pol, "--", "sh", "-c",
                "for i in 1 2 3; do curl -sS --max-time 5 http://iso.test/ || exit 1; done")
    assert cp.returncode == 0, cp
    new = records(proxies)[before:]
    creds = [(r["user"], r["password"]) for r in new]
    assert len(creds) == 3 and len(set(creds)) == 3, creds
    assert all(u.startswith("nbjail-") and len(u) == 31 and len(p) == 32 for u, p in creds), creds


def test_http_connect(nbj, world, proxies, tmp_path):
    pol = policy(tmp_path, "overlays:\n  web: {kind: http-connect, host: 127.0.0.1, port: 8888}\n"
                 "routes: [{match: '198.51.100.0/24', overlay: web}]\n"
                 "allow: ['198.51.100.10:80', 'allowed.test:80']\n")
    cp = curl(pol, "http://198.51.100.10/")
    assert cp.returncode == 0 and cp.stdout == "world 198.51.100.10:80\n", cp
    log = (proxies["dir"] / "tinyproxy.log").read_text()
    assert "CONNECT" in log and "198.51.100.10" in log, log[-500:]
    world.clear()


@pytest.mark.parametrize("text,where,words", [
    ("overlays: {x: {kind: tailscale, host: 127.0.0.1}}\n", "overlays.x", "needs host and port"),
    ("overlays: {x: {kind: tailscale, host: 127.0.0.1, port: 1055, interface: ts1}}\n",
     "overlays.x", "not both"),
    ("overlays: {x: {kind: socks5, host: 127.0.0.1, port: 1055, proxy: http-connect}}\n",
     "overlays.x", "proxy is for tailscale"),
    ("overlays: {x: {kind: tailscale, proxy: ftp}}\n", "overlays.x.proxy", "socks5 or http-connect"),
    ("overlays: {x: {kind: carrier-pigeon}}\n", "overlays.x.kind", "unknown kind"),
    ("overlays: {x: {kind: socks5, port: 1080}}\n", "overlays.x", "needs host and port"),
    ("overlays: {x: {kind: socks5, host: proxy.example, port: 1080}}\n", "overlays.x.host",
     "IPv4 or IPv6 address"),
    ("routes: [{match: '*.onion', overlay: tor}]\n", "routes[0].overlay", "no such overlay"),
    ("default_overlay: nope\n", "default_overlay", "no such overlay"),
    ("overlays: {direct: {kind: direct}}\n", "overlays.direct", "built in"),
    ("overlays: {t: {kind: tor, username: u}}\n", "overlays.t", "isolate_streams"),
])
def test_overlay_policy_errors(nbj, tmp_path, text, where, words):
    cp = nbjail("check", policy(tmp_path, text))
    assert cp.returncode == 2 and f": {where}: " in cp.stderr and words in cp.stderr, cp.stderr


def test_overlay_flag_selects_a_defined_overlay(nbj, world, proxies, tmp_path):
    pol = policy(tmp_path, S5 + "allow: ['198.51.100.11:80']\n")
    cp = curl(pol, "http://198.51.100.11/", extra=("--overlay", "s5"))
    assert cp.returncode == 0, cp
    cp = curl(pol, "http://198.51.100.11/", extra=("--overlay", "nope"))
    assert cp.returncode == 125 and "--overlay nope" in cp.stderr, cp
    world.clear()


@pytest.mark.parametrize("example", sorted(p.name for p in (HERE.parents[1] / "examples").glob("*.yaml")))
def test_examples_are_valid(nbj, example):
    cp = nbjail("check", str(HERE.parents[1] / "examples" / example))
    assert cp.returncode == 0, cp.stderr


@pytest.fixture
def tailnet(world):
    """An interface tailscale0 in the host netns with 100.64.0.1/10, leading
    to a 'tailnet' netns with a web server on 100.100.1.5:80."""
    from conftest import TAG, run
    ns = f"nbt-tailnet-{TAG}"
    run(["ip", "netns", "add", ns], check=True)
    srv = None
    try:
        run(["ip", "-n", HOST_NS, "link", "add", "tailscale0", "type", "veth", "peer", "name",
             "tn0", "netns", ns], check=True)
        run(["ip", "-n", HOST_NS, "addr", "add", "100.64.0.1/10", "dev", "tailscale0"], check=True)
        run(["ip", "-n", HOST_NS, "link", "set", "tailscale0", "up"], check=True)
        run(["ip", "-n", ns, "addr", "add", "100.100.1.5/10", "dev", "tn0"], check=True)
        run(["ip", "-n", ns, "link", "set", "tn0", "up"], check=True)
        run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        srv = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, "-c",
                                "import http.server\n"
                                "class H(http.server.BaseHTTPRequestHandler):\n"
                                "    def do_GET(self):\n"
                                "        b = b'tailnet 100.100.1.5\\n'\n"
                                "        self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
                                "        self.end_headers(); self.wfile.write(b)\n"
                                "    def log_message(self, *a): pass\n"
                                "http.server.HTTPServer(('100.100.1.5', 80), H).serve_forever()\n"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: subprocess.run(["ip", "netns", "exec", ns, "ss", "-Htln", "sport = :80"],
                                               capture_output=True, text=True).stdout.strip(), 10)
        yield ns
    finally:
        if srv:
            srv.kill()
            srv.wait()
        run(["ip", "-n", HOST_NS, "link", "del", "tailscale0"])
        run(["ip", "netns", "del", ns])


TS = ("overlays:\n  ts: {kind: tailscale}\n"
      "routes: [{match: '100.64.0.0/10', overlay: ts}]\n"
      "allow: ['100.100.1.5:80', '198.51.100.10:80']\n")


def test_tailscale_reaches_the_tailnet_only_through_its_interface(nbj, world, tailnet, tmp_path):
    pol = policy(tmp_path, TS)
    cp = curl(pol, "http://100.100.1.5/")
    assert cp.returncode == 0 and cp.stdout == "tailnet 100.100.1.5\n", cp
    # without the route, the tailnet is the floor (cgnat), refused at connect()
    direct = policy(tmp_path, "allow: ['100.100.1.5:80']\n")
    cp = curl(direct, "http://100.100.1.5/")
    assert cp.returncode != 0 and "reason=floor:cgnat" in cp.stderr, cp
    # other floor classes are never waived by a route
    leak = policy(tmp_path, "overlays:\n  ts: {kind: tailscale}\n"
                  "routes: [{match: '10.0.0.0/8', overlay: ts}]\nallow: ['10.0.0.1:80']\n")
    cp = curl(leak, "http://10.0.0.1/")
    assert cp.returncode != 0 and "reason=floor:private" in cp.stderr, cp


def test_tailscale_failures_do_not_fall_back(nbj, world, tailnet, tmp_path):
    # a public address routed to the tailnet: not reachable there, never direct
    pol = policy(tmp_path, TS.replace("100.64.0.0/10", "198.51.100.0/24")
                 .replace("'198.51.100.10:80'", "'198.51.100.11:80'"))
    # (198.51.100.11, which the tests before this one do not dial: a loaded
    # world server may log their accesses to .10 after the clear())
    cp = curl(pol, "http://198.51.100.11/")
    assert cp.returncode != 0 and "reason=overlay:unreachable overlay=ts" in cp.stderr, cp
    assert world.accesses("198.51.100.11:80") == []
    # the interface is missing
    gone = policy(tmp_path, TS.replace("{kind: tailscale}", "{kind: tailscale, interface: tailscale9}"))
    cp = curl(gone, "http://100.100.1.5/")
    assert cp.returncode != 0 and "reason=overlay:interface-missing overlay=ts" in cp.stderr, cp


SERVE = r"""
import socket, subprocess, sys, threading
def serve(port):
    ls = socket.socket(socket.AF_INET6); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port)); ls.listen(8)
    while True:
        c, a = ls.accept()
        f = c.makefile("rwb")
        f.write(b"job:%d:" % port + f.readline()); f.flush(); c.close()
for p in (8080, 8081):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
addr = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo", "scope", "global"],
                      capture_output=True, text=True).stdout.split()[3].split("/")[0]
print("READY", addr, flush=True)
sys.stdin.read()
"""


def ask(ns, host, port, timeout=5):
    """One line to host:port from netns ns; the answer, or the error's name."""
    cp = run([PYTHON, "-c",
              "import socket,sys\ntry:\n"
              f"    s = socket.create_connection(({host!r}, {port}), timeout={timeout})\n"
              "    s.sendall(b'hi\\n'); print(s.makefile().readline().strip() or 'EOF')\n"
              "except OSError as e:\n    print(type(e).__name__)\n"], ns=ns, timeout=30)
    return cp.stdout.strip()


def serving_job(pol):
    job = subprocess.Popen(nbjail_cmd("run", "--policy", pol, "--", PYTHON, "-u", "-c", SERVE),
                           stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=nbjail_env())
    line = read_line(job.stdout, 15)
    assert line and line.startswith("READY "), (line, job.poll())
    return job, line.split()[1]


def stop(job):
    job.stdin.close()
    assert job.wait(timeout=15) == 0
    return job.stderr.read()


def test_publish_direct(nbj, world, tmp_path):
    """publish: on direct listens on the host (every address) and connects
    each connection to the job's port; no other job port is reachable."""
    pol = policy(tmp_path, "publish: [{port: 18080, to: 8080}]\n")
    job, job_addr = serving_job(pol)
    try:
        assert ask(HOST_NS, "127.0.0.1", 18080) == "job:8080:hi"
        assert ask(HOST_NS, "::1", 18080) == "job:8080:hi"
        # from the world, to the host's address
        assert ask(WORLD_NS, "192.0.2.1", 18080) == "job:8080:hi"
        # the job's own address (on its lo) is no way in: the host has no
        # route to it but its default one, to the world (a packet sent
        # there would be counted by the world as a leak, so none is sent)
        assert job_addr == "10.231.0.2", job_addr
        route = json.loads(run(["ip", "-n", HOST_NS, "-j", "route", "get", job_addr],
                               check=True).stdout)
        assert [(r["dev"], r.get("gateway")) for r in route] == [("wan0", "192.0.2.2")], route
    finally:
        err = stop(job)
    assert "published: port 18080 on direct goes to the job's port 8080" in err, err
    assert "inbound tcp from 127.0.0.1:" in err and "inbound tcp from 192.0.2.2:" in err, err


ECHO = r"""
import random, socket, sys, threading, time
def echo(c):
    if c.recv(5, socket.MSG_PEEK) == b"slow\n":
        # pieces a few at a time, to a client that reads late: the relay
        # copies each, and its sends meet a full socket
        c.recv(5)
        data = random.Random(7).randbytes(8 << 20)
        for o in range(0, len(data), 3000):
            c.sendall(data[o:o + 3000])
            time.sleep(0.0002)
        c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
        return
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.shutdown(socket.SHUT_WR); c.close()
ls = socket.socket(socket.AF_INET6); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
ls.bind(("::", 8082)); ls.listen(8)
def accept():
    while True:
        c, a = ls.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
print("READY 0", flush=True)
sys.stdin.read()
"""

ECHO_CLIENT = r"""
import hashlib, os, random, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
# small messages back and forth on one connection, around the relay's
# copy size (4096) and across it; a bulk echo, half-closed
for i in range(300):
    msg = os.urandom([1, 100, 4095, 4096, 4097, 9000][i % 6])
    s.sendall(msg); got = b""
    while len(got) < len(msg):
        got += s.recv(65536)
    assert got == msg, (i, len(got), len(msg))
data = os.urandom(4 << 20)
s.sendall(data); s.shutdown(socket.SHUT_WR)
got = bytearray()
while b := s.recv(65536):
    got += b
assert got == data, len(got)
s.close()
# a stream of pieces read late (no autotuning of a small buffer: it fills)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
s.settimeout(30); s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"slow\n"); time.sleep(2)
got = bytearray()
while b := s.recv(65536):
    got += b
print(bytes(got) == random.Random(7).randbytes(8 << 20))
"""


def test_publish_direct_keeps_every_byte_in_order(nbj, world, tmp_path):
    """A raw published port carries small messages both ways on one
    connection (the relay copies an event's first read of up to 4 KiB,
    splices the rest), and a stream of small pieces to a job that reads
    late (the relay's sends meet a full socket, the rest of a piece waits
    in the pipe), every byte in order, to the half-close."""
    pol = policy(tmp_path, "publish: [{port: 18084, to: 8082}]\n")
    job = subprocess.Popen(nbjail_cmd("run", "--policy", pol, "--", PYTHON, "-u", "-c", ECHO),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=nbjail_env())
    line = read_line(job.stdout, 15)
    assert line and line.startswith("READY "), (line, job.poll())
    try:
        cp = run([PYTHON, "-c", ECHO_CLIENT, "18084"], ns=HOST_NS, timeout=120)
    finally:
        stop(job)
    assert cp.returncode == 0 and cp.stdout.strip() == "True", (cp.stdout, cp.stderr)


def test_publish_max_entries_all_answer(nbj, world, tmp_path):
    """PUBLISH_MAX (16) publish entries in one job: every port answers (issue 16:
    the relay kept at most 16 fds, so 12 or more entries killed it)."""
    ports = list(range(18100, 18116))
    entries = ", ".join(f"{{port: {p}, to: {8080 + i % 2}}}" for i, p in enumerate(ports))
    pol = policy(tmp_path, f"publish: [{entries}]\n")
    job, _ = serving_job(pol)
    try:
        for i, p in enumerate(ports):
            assert ask(HOST_NS, "127.0.0.1", p) == f"job:{8080 + i % 2}:hi", p
    finally:
        err = stop(job)
    assert "relay failed" not in err, err


def test_publish_port_taken_starts_nothing(nbj, world, tmp_path):
    holder = subprocess.Popen(["ip", "netns", "exec", HOST_NS, PYTHON, "-c",
                               "import socket,time\ns=socket.socket(socket.AF_INET6)\n"
                               "s.bind(('::', 18082)); s.listen(); time.sleep(30)"])
    try:
        time.sleep(0.5)
        marker = tmp_path / "ran"
        pol = policy(tmp_path, "publish: [{port: 18082, to: 80}]\n")
        cp = nbjail("run", "--policy", pol, "--", "touch", str(marker))
        assert cp.returncode == 125 and "cannot listen on port 18082" in cp.stderr, cp.stderr
        assert not marker.exists()
    finally:
        holder.kill()
        holder.wait()


def test_publish_tailscale(nbj, world, tailnet, tmp_path):
    """publish: on tailscale listens on the tailnet interface only."""
    pol = policy(tmp_path, "overlays:\n  ts: {kind: tailscale}\n"
                 "publish: [{port: 18083, to: 8081, overlay: ts}]\n")
    job, _ = serving_job(pol)
    try:
        assert ask(tailnet, "100.64.0.1", 18083) == "job:8081:hi"
        assert ask(HOST_NS, "127.0.0.1", 18083) == "ConnectionRefusedError"
        assert ask(WORLD_NS, "192.0.2.1", 18083) == "ConnectionRefusedError"
    finally:
        stop(job)


SELECT = Path(NBJAIL).resolve().parent / "nbjail-select"
# Rootless, selection needs a cgroup delegated to the caller (nbjail(1),
# ROOTLESS): the tests make one, as systemd's Delegate=yes would, and show
# nbjail the cgroup2 hierarchy at /sys/fs/cgroup (`ip netns exec` mounts a
# fresh sysfs without it), as on a host

def cgroup2_mount():
    """Where this mount namespace shows the cgroup v2 hierarchy, or None"""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


@pytest.fixture
def selecting(nbj):
    """nbjail ARGS as nbjail(), rootless in a cgroup delegated to the caller"""
    if not ROOTLESS:
        yield nbjail
        return
    top = cgroup2_mount()
    if top is None:
        pytest.fail("no cgroup v2 hierarchy to delegate from")
    d = Path(top) / f"nbt-delegated-{os.getpid()}"   # below the hierarchy's root
    d.mkdir()
    for path in (d, d / "cgroup.procs", d / "cgroup.subtree_control", d / "cgroup.threads"):
        os.chown(path, CALLER_UID, CALLER_GID)
    enter = (f'mount -t cgroup2 nbt-cgroup2 /sys/fs/cgroup && '
             f'echo $$ > /sys/fs/cgroup/{d.name}/cgroup.procs && exec "$@"')

    def run_selecting(*args, timeout=60):
        return run(["ip", "netns", "exec", HOST_NS, "sh", "-c", enter, "sh",
                    *nbjail_cmd(*args, ns=None)], env=nbjail_env(), timeout=timeout)
    try:
        yield run_selecting
    finally:
        for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            sub.rmdir()
        d.rmdir()


SEL = ("overlays:\n  rec: {kind: socks5, host: 127.0.0.1, port: 1090}\n"
       "allow: ['198.51.100.11:80', 'allowed.test:80']\n")
# a child that leaves its parent (double fork: reparented to the job's init)
ORPHAN = ("import os, subprocess, time\n"
          "if os.fork() == 0:\n"
          "    if os.fork() == 0:\n"
          "        time.sleep(0.3)\n"
          "        r = subprocess.run(['curl', '-sS', '--max-time', '8', 'http://198.51.100.11/'],\n"
          "                           capture_output=True, text=True)\n"
          "        open(os.environ['OUT'], 'w').write(r.stdout)\n"
          "    os._exit(0)\n"
          "os.wait()\n"
          "for _ in range(100):\n"
          "    if os.path.exists(os.environ['OUT']) and open(os.environ['OUT']).read(): break\n"
          "    time.sleep(0.1)\n"
          "print(open(os.environ['OUT']).read().strip())\n")


def test_select_and_inheritance(nbj, world, proxies, tmp_path, job_tmp, selecting):
    """nbjail-select switches a subtree: its children, exec'd programs and
    orphans dial through the selected overlay; the rest of the job keeps
    the default (direct); a root process cannot move itself back."""
    pol = policy(tmp_path, SEL + "permissions: {network.select: allow}\n")
    script = job_tmp / "orphan.py"
    script.write_text(ORPHAN)
    job = (f"C='curl -sS --max-time 8'\n"
           f"echo before $($C http://198.51.100.11/)\n"
           f"{SELECT} rec -- sh -c \"echo sel \\$($C http://198.51.100.11/); "
           f"sh -c 'echo child \\$($C http://allowed.test/)'; "
           f"OUT={job_tmp}/o1 {PYTHON} {script} | sed 's/^/orphan /'; "
           f"echo 1 > /sys/fs/cgroup/unified/cgroup.procs 2>/dev/null || "
           f"echo 1 > /sys/fs/cgroup/cgroup.procs 2>/dev/null || echo cannot-move; "
           f"echo moved \\$($C http://198.51.100.11/)\"\n"
           f"echo after $($C http://198.51.100.11/)\n")
    before = len(records(proxies))
    cp = selecting("run", "--user", "root", "--policy", pol, "--write", str(job_tmp), "--",
                   "sh", "-c", job, timeout=90)
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    assert lines[0] == "before world 198.51.100.11:80", cp.stdout
    assert lines[1].startswith("sel recorder "), cp.stdout + cp.stderr
    assert lines[2].startswith("child recorder "), cp.stdout
    assert lines[3].startswith("orphan recorder "), cp.stdout
    assert lines[4] == "cannot-move", cp.stdout
    assert lines[5].startswith("moved recorder "), cp.stdout
    assert lines[6] == "after world 198.51.100.11:80", cp.stdout
    new = records(proxies)[before:]
    assert [(r["host"], r["port"]) for r in new] == [
        ("198.51.100.11", 80), ("allowed.test", 80), ("198.51.100.11", 80),
        ("198.51.100.11", 80)], new
    assert "select: pid " in cp.stderr and "dial through overlay rec" in cp.stderr, cp.stderr
    world.clear()


def test_select_denied_keeps_inherited(nbj, world, proxies, tmp_path, journal):
    """Without network.select the call fails with a clear error and an
    audit event; the overlay the job has keeps working."""
    pol = policy(tmp_path, SEL + "default_overlay: rec\n")
    cp = nbjail("run", "--policy", pol, "--", "sh", "-c",
                f"{SELECT} direct -- curl -sS http://198.51.100.11/; echo rc=$?; "
                f"curl -sS --max-time 8 http://198.51.100.11/", timeout=60)
    assert cp.returncode == 0, cp
    assert "nbjail-select: direct: the job's policy does not grant network.select" in cp.stderr
    assert "rc=125" in cp.stdout and "recorder " in cp.stdout, cp.stdout
    assert any(t == "select:direct" and r == "select-denied"
               for _i, t, _p, r in deny_lines(cp.stderr)), cp.stderr
    assert world.accesses("198.51.100.11:80") == []
    evs = journal.wait_events(lambda es: any(e.get("NBJAIL_REASON") == "select-denied"
                                             for e in es), "SYSLOG_IDENTIFIER=nbjail")
    ev = [e for e in evs if e.get("NBJAIL_REASON") == "select-denied"]
    assert ev and ev[-1]["NBJAIL_TARGET"] == "select:direct", evs[-3:]


def test_select_errors(nbj, world, tmp_path):
    pol = policy(tmp_path, SEL + "permissions: {network.select: allow}\n")
    cp = nbjail("run", "--policy", pol, "--", str(SELECT), "nope", "--", "true")
    assert cp.returncode == 125 and "no such overlay" in cp.stderr, cp.stderr
    cp = run([str(SELECT), "rec", "--", "true"], ns=HOST_NS)
    assert cp.returncode == 125 and "not inside an nbjail job" in cp.stderr, cp.stderr
    cp = run([str(SELECT), "rec", "true"], ns=HOST_NS)
    assert cp.returncode == 2 and "Usage" in cp.stderr


def test_select_direct_loses_the_tailnet(nbj, world, tmp_path, selecting):
    """issue 16: the tailnet's hole in the floor (cgnat) belongs to the
    tailscale overlay the flow is dialled through, not to the job's
    default.  With tailscale as the default, a process that selected
    direct is refused 100.64.0.0/10 (the world's leak detector at
    100.64.0.1 sees nothing); its siblings still go to tailscale (whose
    interface is missing here: an overlay error, never direct)."""
    pol = policy(tmp_path, "overlays:\n  ts: {kind: tailscale}\ndefault_overlay: ts\n"
                 "allow: ['100.64.0.0/10']\npermissions: {network.select: allow}\n")
    c = "curl -sS --max-time 8 http://100.64.0.1/"
    cp = selecting("run", "--policy", pol, "--", "sh", "-c",
                   f"{SELECT} direct -- {c}; echo sel=$?; {c}; echo def=$?", timeout=60)
    assert cp.returncode == 0, cp
    assert "sel=7" in cp.stdout and "def=" in cp.stdout and "def=0" not in cp.stdout, cp
    denies = deny_lines(cp.stderr)
    assert any(t == "100.64.0.1:80" and p.startswith("pid=") and r == "floor:cgnat"
               for _i, t, p, r in denies), cp.stderr
    assert "reason=overlay:interface-missing overlay=ts" in cp.stderr, cp.stderr
    assert world.leaks() == []


def test_select_direct_loses_the_tailnet_by_name(nbj, world, tmp_path, selecting):
    """The same for a name that resolves into the tailnet: its synthetic
    address passes the job's seccomp check, and the relay judges the flow
    with the overlay it dials: tailscale for the default (the interface
    is missing: an overlay error), direct for the selection (floor:cgnat,
    nothing reaches the leak detector at 100.64.0.1)."""
    pol = policy(tmp_path, "overlays:\n  ts: {kind: tailscale}\ndefault_overlay: ts\n"
                 "allow: ['cgnat.test:80']\npermissions: {network.select: allow}\n")
    c = "curl -sS --max-time 8"
    cp = selecting("run", "--policy", pol, "--", "sh", "-c",
                   f"ip=$(getent ahostsv4 cgnat.test | awk 'NR==1 {{print $1}}'); echo ip=$ip; "
                   f"{c} http://cgnat.test/; echo def=$?; "
                   f"{SELECT} direct -- {c} http://$ip/; echo sel=$?", timeout=60)
    assert cp.returncode == 0, cp
    assert "ip=198.18." in cp.stdout, cp
    assert "def=0" not in cp.stdout and "sel=0" not in cp.stdout and "sel=" in cp.stdout, cp
    assert any(t.startswith("cgnat.test:80(") and r.startswith("overlay:")
               for _i, t, _p, r in deny_lines(cp.stderr)), cp.stderr
    assert "overlay=ts" in cp.stderr, cp.stderr
    assert any(t.startswith("cgnat.test:80(198.18.") and r == "floor:cgnat"
               for _i, t, _p, r in deny_lines(cp.stderr)), cp.stderr
    assert world.leaks() == []


@pytest.mark.parametrize("proxy, port", [("socks5", 1080), ("http-connect", 8888)])
def test_tailscale_through_tailscaleds_proxy(nbj, world, proxies, tailnet, tmp_path, proxy, port):
    """tailscale through tailscaled's SOCKS5 or HTTP proxy (here microsocks
    and tinyproxy on the host, which reach the tailnet): the tailnet's
    addresses are reachable through this overlay, and only through it."""
    pol = policy(tmp_path, "overlays:\n  ts: {kind: tailscale, host: 127.0.0.1, port: %d, "
                 "proxy: %s}\nroutes: [{match: '100.64.0.0/10', overlay: ts}]\n"
                 "allow: ['100.100.1.5:80']\n" % (port, proxy))
    cp = curl(pol, "http://100.100.1.5/")
    assert cp.returncode == 0 and cp.stdout == "tailnet 100.100.1.5\n", cp
    cp = nbjail("check", pol)
    assert cp.returncode == 0 and "host: \"127.0.0.1\"" in cp.stdout, cp
    assert ("proxy: http-connect" in cp.stdout) == (proxy == "http-connect"), cp.stdout
    # routed elsewhere, the tailnet stays in the floor
    other = policy(tmp_path, "overlays:\n  ts: {kind: tailscale, host: 127.0.0.1, port: %d}\n"
                   "allow: ['100.100.1.5:80']\n" % port)
    cp = curl(other, "http://100.100.1.5/")
    assert cp.returncode != 0 and "reason=floor:cgnat" in cp.stderr, cp
