# SPDX-License-Identifier: GPL-2.0-or-later
"""The server flip (issue 19): a port published with `mode: http` is held by
the relay on the host, which admits each HTTP request before the job sees a
byte of it (429, 503, 413, 431, 408), forwards admitted ones into the job's
netns and streams the response back.

Clients are in the world namespace (to the host's address 192.0.2.1) or
in the host namespace (127.0.0.1); nbjail runs in the host namespace.  The
job's server counts the requests it handled: a refused request must never
reach it."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import (HOST_NS, NBJAIL, PYTHON, WORLD_NS, job_relay_pid, nbjail, nbjail_cmd,
                      nbjail_env, proc_status, read_line, run)

# The job's HTTP server, HTTP/1.1 with keep-alive: /hello, /count (the
# requests it handled, /count excluded), /upload (the body's length), /sse
# (10 events, 0.2 s apart), /forever (never ends), /pivot (tries the cloud
# metadata address and a host the policy does not list)
JOB_SERVER = r"""
import http.server, socket, subprocess, sys, threading, time, urllib.request
handled = 0
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, body, ctype="text/plain"):
        self.send_response(200); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def count(self):
        global handled
        with lock: handled += 1
    def do_POST(self):
        self.count()
        n = int(self.headers.get("Content-Length", 0)); got = 0
        if self.headers.get("Transfer-Encoding") == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                got += len(self.rfile.read(size)); self.rfile.readline()
                if not size: break
        while got < n:
            b = self.rfile.read(min(65536, n - got))
            if not b: break
            got += len(b)
        self.reply(b"got %d" % got)
    def do_GET(self):
        if self.path == "/count":
            return self.reply(b"%d" % handled)
        self.count()
        if self.path == "/sse":
            self.send_response(200); self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close"); self.end_headers()
            for i in range(10):
                self.wfile.write(b"data: event %d\n\n" % i); self.wfile.flush(); time.sleep(0.2)
            self.close_connection = True
            return
        if self.path == "/forever":
            self.send_response(200); self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            while True:
                time.sleep(0.5)
        if self.path == "/pivot":
            out = []
            for url in ("http://169.254.169.254/", "http://198.51.100.11/"):
                try:
                    urllib.request.urlopen(url, timeout=3).read(); out.append("open")
                except Exception:
                    out.append("blocked")
            ok = all(o == "blocked" for o in out)
            return self.reply(b"outbound=" + (b"blocked" if ok else b"OPEN"))
        self.reply(b"hello from the job " + self.path.encode())
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
srv = S(("::", 8080), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("READY", flush=True)
sys.stdin.read()
"""

PORT = 18180


def policy(tmp_path, text):
    p = tmp_path / "policy.yaml"
    p.write_text("profile: net\n" + text)
    return str(p)


def publish(tmp_path, extra="", port=PORT):
    return policy(tmp_path, f"publish: [{{port: {port}, to: 8080, mode: http{extra}}}]\n")


class Job:
    def __init__(self, pol):
        self.p = subprocess.Popen(nbjail_cmd("run", "--policy", pol, "--", PYTHON, "-u", "-c",
                                             JOB_SERVER),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=nbjail_env())
        line = read_line(self.p.stdout, 20)
        assert line == "READY\n", (line, self.p.poll(), self.p.poll() is not None and
                                   self.p.stderr.read())

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.stderr.read()


@pytest.fixture
def job(nbj, world):
    jobs = []

    def start(pol):
        j = Job(pol)
        jobs.append(j)
        return j
    yield start
    for j in jobs:
        j.stop()


# A client run in a namespace: its script gets HOST, PORT and prints JSON
CLIENT_LIB = r"""
import json, socket, sys, time
HOST, PORT = sys.argv[1], int(sys.argv[2])
def connect(src=None, timeout=10):
    s = socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET)
    s.settimeout(timeout)
    if src: s.bind((src, 0))
    s.connect((HOST, PORT)); return s
def read_response(s):
    '''status, headers, body of one response (Content-Length or until close)'''
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b: break
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0]: return 0, {}, b""
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if hdrs.get("transfer-encoding") == "chunked":
        data = b""
        while True:
            while b"\r\n" not in body:
                b = s.recv(65536)
                if not b: return status, hdrs, data
                body += b
            line, _, body = body.partition(b"\r\n")
            n = int(line, 16)
            while len(body) < n + 2:
                b = s.recv(65536)
                if not b: return status, hdrs, data
                body += b
            data += body[:n]; body = body[n + 2:]
            if n == 0: return status, hdrs, data
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(body) < n:
            b = s.recv(65536)
            if not b: break
            body += b
    else:
        while True:
            try: b = s.recv(65536)
            except OSError: break
            if not b: break
            body += b
    return status, hdrs, body
def get(path, src=None, extra=b""):
    try:
        s = connect(src)
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
        r = read_response(s); s.close(); return r
    except OSError as e:
        return -1, {}, type(e).__name__.encode()
"""


def client(ns, script, host="192.0.2.1", port=PORT, timeout=60):
    """Run CLIENT_LIB + script in namespace ns; its last stdout line as JSON."""
    cp = run([PYTHON, "-c", CLIENT_LIB + script, host, str(port)], ns=ns, timeout=timeout)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout.strip().splitlines()[-1])


def count(host_ns=HOST_NS):
    return client(host_ns, "st, h, b = get('/count'); print(json.dumps(int(b)))",
                  host="127.0.0.1")


def test_forward_mode_serves_the_world_with_keepalive(job, tmp_path):
    j = job(publish(tmp_path))
    res = client(WORLD_NS, r"""
s = connect()
out = []
for p in ("/a", "/b"):
    s.sendall(b"GET " + p.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, b = read_response(s); out.append([st, b.decode()])
# pipelined: two requests in one write
s.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n")
for _ in range(2):
    st, h, b = read_response(s); out.append([st, b.decode()])
print(json.dumps(out))
""")
    assert res == [[200, "hello from the job /a"], [200, "hello from the job /b"],
                   [200, "hello from the job /c"], [200, "hello from the job /d"]], res
    assert count() == 4
    err = j.stop()
    assert "relay failed" not in err and "signal" not in err, err


def test_policy_errors_name_file_line_field(nbj, world, tmp_path):
    marker = tmp_path / "ran"
    for text, want in [
        ("publish: [{port: 18181, to: 80, mode: gopher}]\n", "policy.yaml:2:39: publish[0].mode: expected tcp or http"),
        ("publish: [{port: 18181, to: 80, rate: {per_client: 5/s}}]\n",
         "publish[0]: admission limits need mode: http"),
        ("publish: [{port: 18181, to: 80, mode: http, rate: {per_client: 5/m}}]\n",
         "publish[0].rate.per_client: expected requests per second"),
        ("publish: [{port: 18181, to: 80, mode: http, max_body: lots}]\n",
         "publish[0].max_body: expected a size"),
        ("publish: [{port: 18181, to: 80, mode: http, header_timeout: 0}]\n",
         "publish[0].header_timeout: expected seconds"),
        ("publish: [{port: 18181, to: 80, mode: http, max_header: 1M}]\n",
         "publish[0].max_header: expected a size, 256 to 80KiB"),
    ]:
        pol = policy(tmp_path, text)
        cp = nbjail("run", "--policy", pol, "--", "touch", str(marker))
        assert cp.returncode == 2 and f"{pol}:" in cp.stderr and want in cp.stderr, (text, cp.stderr)
        assert not marker.exists()


def test_flood_from_one_client_gets_429_and_never_reaches_the_job(job, journal, tmp_path):
    job(publish(tmp_path, ", rate: {per_client: 2/s, burst: 5}"))
    res = client(WORLD_NS, r"""
out = []
for i in range(40):
    st, h, b = get("/flood")
    out.append([st, h.get("retry-after")])
# over one kept connection: a 429 keeps it (a flood costs a read and a write)
c = connect(); kept = []
for i in range(3):
    c.sendall(b"GET /kept HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, b = read_response(c); kept.append([st, h.get("connection")])
# another client address of the world: its own bucket
other = get("/other", src="198.51.100.10")
print(json.dumps({"flood": out, "kept": kept, "other": [other[0], other[2].decode()]}))
""")
    assert res["kept"] == [[429, "keep-alive"]] * 3, res
    flood = res["flood"]
    ok = [s for s, _ in flood if s == 200]
    refused = [(s, ra) for s, ra in flood if s == 429]
    assert len(ok) + len(refused) == 40, flood
    assert 5 <= len(ok) <= 8, flood
    assert all(ra is not None and int(ra) >= 1 for _, ra in refused), refused
    assert res["other"] == [200, "hello from the job /other"], res
    # the job handled exactly the admitted requests
    assert count() == len(ok) + 1
    # each decision is an `inbound` event: client, method and path, status
    jid = job_id_of()
    evs = journal.wait_events(
        lambda e: any(x.get("NBJAIL_REASON") == "rate" for x in e) and
        any(x.get("NBJAIL_TARGET") == "GET /other" for x in e),
        f"NBJAIL_JOB={jid}", "NBJAIL_EVENT=inbound")
    rate = [e for e in evs if e.get("NBJAIL_REASON") == "rate"]
    assert rate[0]["NBJAIL_TARGET"] == "GET /flood", rate[0]
    assert rate[0]["NBJAIL_PEER"].startswith("192.0.2.2:"), rate[0]
    assert rate[0]["NBJAIL_DETAIL"] == f"status=429 port={PORT}", rate[0]
    assert rate[0]["NBJAIL_LANE"] == "inbound", rate[0]
    other = [e for e in evs if e.get("NBJAIL_TARGET") == "GET /other"]
    assert other[0]["NBJAIL_REASON"] == "allowed" and other[0]["NBJAIL_PEER"].startswith("198.51.100.10:")
    stats = json.loads(nbjail("ctl", "stats", jid, "--json").stdout)
    assert "inbound" in json.dumps(stats), stats


def test_oversize_body_and_header(job, tmp_path):
    job(publish(tmp_path))
    res = client(WORLD_NS, r"""
s = connect()
s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (5 << 20))
try:
    s.sendall(b"x" * (5 << 20))
except OSError:
    pass
body = read_response(s)[0]
s = connect()
s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
try:
    for _ in range(5 * 16):
        s.sendall(b"10000\r\n" + b"y" * 65536 + b"\r\n")
except OSError:
    pass
chunked = read_response(s)[0]
s = connect()
try:
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n")
except OSError:
    pass
header = read_response(s)[0]
small = connect()
small.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"z" * 1000)
st, h, b = read_response(small)
print(json.dumps([body, chunked, header, st, b.decode()]))
""")
    assert res == [413, 413, 431, 200, "got 1000"], res
    # the chunked upload reached the job before it broke the cap (its
    # connection was cut): the job never answered it; the others never
    # reached it
    assert count() == 2


def test_slow_head_gets_408_within_the_timeout(job, tmp_path):
    job(publish(tmp_path, ", header_timeout: 2"))
    res = client(WORLD_NS, r"""
s = connect(timeout=20)
t = time.time()
req = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
status = None
for ch in req:
    try:
        s.sendall(bytes([ch]))
    except OSError:
        break
    s.settimeout(1.0)
    try:
        b = s.recv(4096)
        if b:
            status = int(b.split()[1]); break
    except socket.timeout:
        pass
print(json.dumps([status, time.time() - t]))
""")
    assert res[0] == 408, res
    assert 2 <= res[1] <= 5, res
    assert count() == 0


def job_id_of(marker_pid=None):
    cp = nbjail("ctl", "jobs", "--json")
    assert cp.returncode == 0, cp.stderr
    jobs = json.loads(cp.stdout)
    assert len(jobs) == 1, jobs
    return jobs[0]["job"]


def test_revoke_gives_503_and_cuts_live_requests(job, tmp_path):
    job(publish(tmp_path))
    # a live request (an endless stream), then the revocation
    p = subprocess.Popen(["ip", "netns", "exec", WORLD_NS, PYTHON, "-c", CLIENT_LIB + r"""
s = connect(timeout=20)
s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(4096)[:12].decode(), flush=True)
t = time.time()
try:
    while s.recv(4096): pass
    why = "eof"
except OSError as e:
    why = type(e).__name__
print(json.dumps([why, time.time() - t]), flush=True)
""", "192.0.2.1", str(PORT)], stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(p.stdout, 10) == "HTTP/1.1 200\n"
        jid = job_id_of()
        cp = nbjail("ctl", "revoke", jid)
        assert cp.returncode == 0, cp.stderr
        cut = json.loads(read_line(p.stdout, 10))
        assert cut[1] < 3, cut
    finally:
        p.kill()
        p.wait()
    res = client(WORLD_NS, "st, h, b = get('/after'); print(json.dumps([st, h.get('retry-after')]))")
    assert res == [503, "1"], res
    stats = json.loads(nbjail("ctl", "stats", jid, "--json").stdout)
    text = json.dumps(stats)
    assert "inbound" in text and "revoked" in text, text


def test_sse_arrives_incrementally(job, tmp_path):
    job(publish(tmp_path))
    res = client(WORLD_NS, r"""
s = connect()
s.sendall(b"GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
t0 = time.time(); buf = b""; times = []
while True:
    b = s.recv(4096)
    if not b: break
    buf += b
    n = buf.count(b"data: event")
    while len(times) < n: times.append(time.time() - t0)
print(json.dumps({"events": buf.count(b"data: event"), "times": times}))
""")
    assert res["events"] == 10, res
    t = res["times"]
    # 0.2 s apart at the job: they come one by one, not all at the end
    assert t[-1] - t[0] >= 1.2, t
    assert t[1] - t[0] >= 0.1, t


def test_endless_response_stopped_at_max_duration(job, tmp_path):
    job(publish(tmp_path, ", max_duration: 2"))
    res = client(WORLD_NS, r"""
s = connect(timeout=30)
t = time.time()
s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    while s.recv(4096): pass
    why = "eof"
except OSError as e:
    why = type(e).__name__
print(json.dumps([why, time.time() - t]))
""")
    assert 2 <= res[1] <= 5, res


def test_no_pivot_from_a_served_request(job, world, tmp_path):
    world.clear()
    job(publish(tmp_path))
    res = client(WORLD_NS, "st, h, b = get('/pivot'); print(json.dumps([st, b.decode()]))")
    assert res == [200, "outbound=blocked"], res
    assert world.leaks() == []
    assert world.accesses("198.51.100.11:80") == []


def rss_kib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def test_thousand_slow_clients_bounded_memory(job, tmp_path):
    job(publish(tmp_path, ", header_timeout: 30"))
    jid = job_id_of()
    relay = job_relay_pid(jid)
    before = rss_kib(relay)
    p = subprocess.Popen(["ip", "netns", "exec", WORLD_NS, PYTHON, "-c", CLIENT_LIB + r"""
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
held = []
for i in range(1000):
    s = connect(timeout=10)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1000)
    held.append(s)
print("held", len(held), flush=True)
sys.stdin.readline()
""", "192.0.2.1", str(PORT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(p.stdout, 60) == "held 1000\n"
        time.sleep(0.5)
        during = rss_kib(relay)
        res = client(WORLD_NS, "st, h, b = get('/still', src='198.51.100.10');"
                     "print(json.dumps([st, b.decode()]))")
        assert res == [200, "hello from the job /still"], res
        print(f"relay RSS {before} KiB before, {during} KiB with 1000 slow clients")
        assert during - before < 32 * 1024, (before, during)
    finally:
        p.stdin.close()
        p.wait(timeout=20)
    assert count() == 1


# Per-request mode: `nbjail serve` starts a fresh job per admitted request
HANDLER = r"""
import sys, time, urllib.request
req = sys.stdin.buffer.read()
line = req.split(b"\r\n", 1)[0].decode()
path = line.split()[1]
out = sys.stdout.buffer
if path == "/plain":
    out.write(b"plain bytes\n")
elif path == "/short":
    out.write(b"ok\n")
elif path == "/http":
    out.write(b"HTTP/1.1 201 Created\r\nContent-Type: text/x-test\r\nContent-Length: 2\r\n\r\nok")
elif path == "/echo":
    head, _, body = req.partition(b"\r\n\r\n")
    out.write(b"%s body=%d\n" % (line.encode(), len(body)))
elif path == "/sse":
    out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"); out.flush()
    for i in range(10):
        out.write(b"data: event %d\n\n" % i); out.flush(); time.sleep(0.2)
elif path == "/forever":
    out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"); out.flush()
    while True:
        time.sleep(0.5)
elif path == "/pivot":
    res = []
    for url in ("http://169.254.169.254/", "http://198.51.100.11/"):
        try:
            urllib.request.urlopen(url, timeout=3).read(); res.append("open")
        except Exception:
            res.append("blocked")
    out.write(b"outbound=" + (b"blocked" if res == ["blocked", "blocked"] else b"OPEN"))
else:
    out.write(b"plain " + path.encode())
"""

SERVE_PORT = 18190


class Server:
    def __init__(self, *flags):
        import threading
        self.p = subprocess.Popen(nbjail_cmd("serve", "--listen", str(SERVE_PORT), *flags, "--",
                                             PYTHON, "-I", "-c", HANDLER),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env=nbjail_env())
        self.lines = []
        first = read_line(self.p.stderr, 10)
        assert first and "listening on" in first, (first, self.p.poll())
        self.job = first.rsplit("(job ", 1)[1].rstrip(")\n")

        def pump():
            for ln in self.p.stderr:
                self.lines.append(ln)
        self.t = threading.Thread(target=pump, daemon=True)
        self.t.start()

    def started(self):
        return sum("handler started" in ln for ln in self.lines)

    def stop(self):
        self.p.terminate()
        try:
            rc = self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.t.join(5)
        return rc


@pytest.fixture
def server(nbj, world):
    servers = []

    def start(*flags):
        s = Server(*flags)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


def sclient(ns, script, timeout=90):
    return client(ns, script, port=SERVE_PORT, timeout=timeout)


def test_serve_runs_a_fresh_job_per_request(server):
    s = server()
    res = sclient(WORLD_NS, r"""
out = []
for p in ("/plain", "/short", "/http"):
    st, h, b = get(p); out.append([st, h.get("content-type"), b.decode()])
c = connect()
c.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
st, h, b = read_response(c); out.append([st, h.get("content-type"), b.decode()])
# the same connection, kept alive: a full response, then two pipelined
# requests, each a job of its own
c.sendall(b"GET /http HTTP/1.1\r\nHost: x\r\n\r\n")
st, h, b = read_response(c); out.append([st, h.get("content-type"), b.decode()])
c.sendall(b"GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
for _ in range(2):
    st, h, b = read_response(c); out.append([st, h.get("transfer-encoding"), b.decode()])
# HTTP/1.0: a plain body until close
c = connect()
c.sendall(b"GET /plain HTTP/1.0\r\n\r\n")
st, h, b = read_response(c); out.append([st, h.get("connection"), b.decode()])
print(json.dumps(out))
""")
    assert res == [[200, "text/plain", "plain bytes\n"], [200, "text/plain", "ok\n"],
                   [201, "text/x-test", "ok"],
                   [200, "text/plain", "POST /echo HTTP/1.1 body=5\n"],
                   [201, "text/x-test", "ok"],
                   [200, "chunked", "ok\n"], [200, "chunked", "plain bytes\n"],
                   [200, "close", "plain bytes\n"]], res
    time.sleep(0.3)
    assert s.started() == 8, s.lines
    assert s.stop() == 0


def test_serve_bad_usage_exits_2(nbj, world, tmp_path):
    bad_policy = policy(tmp_path, "allow: 5\n")
    for args, want in [
        (("--listen", "nope", "--", "true"), "--listen 'nope'"),
        (("--listen", "18191", "--rate", "5/m", "--", "true"), "bad value '5/m'"),
        (("--listen", "18191", "--max-body", "lots", "--", "true"), "bad value 'lots'"),
        (("--listen", "18191"), "missing HANDLER"),
        (("--listen", "18191", "--bogus", "--", "true"), "Usage:"),
        (("--listen", "18191", "--policy", bad_policy, "--", "true"), f"{bad_policy}:2:"),
    ]:
        cp = nbjail("serve", *args, timeout=20)
        assert cp.returncode == 2 and want in cp.stderr, (args, cp.stderr)


def test_serve_refusals_never_start_a_handler(server, journal):
    s = server("--rate", "2/s", "--burst", "3", "--header-timeout", "2")
    res = sclient(WORLD_NS, r"""
# twelve requests at once (a handler takes a while to start: one after
# the other, the bucket would refill meanwhile)
conns = [connect() for _ in range(12)]
for c in conns:
    c.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
flood = [read_response(c)[0:2] for c in conns]
flood = [[st, h.get("retry-after")] for st, h in flood]
other = get("/other", src="198.51.100.10")
c = connect()
c.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (5 << 20))
try: c.sendall(b"x" * (5 << 20))
except OSError: pass
big_body = read_response(c)[0]
time.sleep(1)
c = connect()
try: c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n")
except OSError: pass
big_head = read_response(c)[0]
c = connect(timeout=20); t = time.time(); slow = None
for ch in b"GET /slow HTTP/1.1\r\n\r\n":
    try: c.sendall(bytes([ch]))
    except OSError: break
    c.settimeout(1.0)
    try:
        b = c.recv(4096)
        if b: slow = int(b.split()[1]); break
    except socket.timeout: pass
print(json.dumps({"flood": flood, "other": [other[0], other[2].decode()], "big_body": big_body,
                  "big_head": big_head, "slow": [slow, time.time() - t]}))
""")
    ok = [f for f in res["flood"] if f[0] == 200]
    refused = [f for f in res["flood"] if f[0] == 429]
    assert len(ok) + len(refused) == 12 and 3 <= len(ok) <= 4, res
    assert all(int(ra) >= 1 for _, ra in refused), res
    assert res["other"] == [200, "plain /other"], res
    assert res["big_body"] == 413 and res["big_head"] == 431, res
    assert res["slow"][0] == 408 and 2 <= res["slow"][1] <= 5, res
    time.sleep(0.3)
    # handlers ran for the admitted requests only
    assert s.started() == len(ok) + 1, s.lines
    # and each decision is an `inbound` event of the front's own job, as
    # for a port published in mode http
    evs = journal.wait_events(
        lambda e: any(x.get("NBJAIL_REASON") == "rate" for x in e) and
        any(x.get("NBJAIL_TARGET") == "GET /other" for x in e) and
        any(x.get("NBJAIL_REASON") == "header-timeout" for x in e),
        f"NBJAIL_JOB={s.job}", "NBJAIL_EVENT=inbound")
    rate = [e for e in evs if e.get("NBJAIL_REASON") == "rate"]
    assert rate[0]["NBJAIL_TARGET"] == "GET /flood", rate[0]
    assert rate[0]["NBJAIL_DETAIL"] == f"status=429 port={SERVE_PORT}", rate[0]
    assert rate[0]["NBJAIL_LANE"] == "inbound", rate[0]
    other = [e for e in evs if e.get("NBJAIL_TARGET") == "GET /other"]
    assert other[0]["NBJAIL_REASON"] == "allowed" and \
        other[0]["NBJAIL_PEER"].startswith("198.51.100.10:"), other
    assert {e["NBJAIL_DETAIL"] for e in evs if e.get("NBJAIL_REASON") == "header-timeout"} == \
        {f"status=408 port={SERVE_PORT}"}, evs


def test_serve_streams_sse_and_stops_at_max_duration(server):
    s = server()
    res = sclient(WORLD_NS, r"""
c = connect()
c.sendall(b"GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
t0 = time.time(); buf = b""; times = []
while True:
    b = c.recv(4096)
    if not b: break
    buf += b
    while len(times) < buf.count(b"data: event"): times.append(time.time() - t0)
print(json.dumps(times))
""")
    assert len(res) == 10 and res[-1] - res[0] >= 1.2 and res[1] - res[0] >= 0.1, res
    assert s.stop() == 0
    s = server("--max-duration", "2")
    res = sclient(WORLD_NS, r"""
c = connect(timeout=30); t = time.time()
c.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    while c.recv(4096): pass
except OSError: pass
print(json.dumps({"forever": time.time() - t}))
""")
    assert 2 <= res["forever"] <= 8, res
    # the endless handler's job is gone
    def no_jobs():   # but the front's own entry
        cp = nbjail("ctl", "jobs", "--json")
        return cp.returncode == 0 and [j["name"] for j in json.loads(cp.stdout)] == ["serve"]
    deadline = time.monotonic() + 10
    while not no_jobs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert no_jobs()
    assert any("stopped at max_duration" in ln for ln in s.lines), s.lines


def test_serve_handler_is_no_pivot(server, world):
    world.clear()
    server()
    res = sclient(WORLD_NS, "st, h, b = get('/pivot'); print(json.dumps([st, b.decode()]))")
    assert res == [200, "outbound=blocked"], res
    assert world.leaks() == []
    assert world.accesses("198.51.100.11:80") == []


def test_serve_revoke_gives_503_and_cuts_live_requests(server):
    s = server("--tenant", "t-serve")
    assert sclient(WORLD_NS, "print(json.dumps(get('/before')[0]))") == 200
    p = subprocess.Popen(["ip", "netns", "exec", WORLD_NS, PYTHON, "-c", CLIENT_LIB + r"""
s = connect(timeout=20)
s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(4096)[:12].decode(), flush=True)
t = time.time()
try:
    while s.recv(4096): pass
    why = "eof"
except OSError as e:
    why = type(e).__name__
print(json.dumps([why, time.time() - t]), flush=True)
""", "192.0.2.1", str(SERVE_PORT)], stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(p.stdout, 20) == "HTTP/1.1 200\n"
        cp = nbjail("ctl", "revoke", "--tenant", "t-serve", "--json")
        assert cp.returncode == 0, cp.stderr
        ids = json.loads(cp.stdout)
        cut = json.loads(read_line(p.stdout, 10))
        assert cut[1] < 3, cut
    finally:
        p.kill()
        p.wait()
    started = s.started()
    res = sclient(WORLD_NS, "st, h, b = get('/after'); print(json.dumps([st, h.get('retry-after')]))")
    assert res == [503, "1"], res
    assert s.started() == started   # no handler for it
    jobs = {j["job"]: j for j in json.loads(nbjail("ctl", "jobs", "--json").stdout)}
    front = [i for i in ids if jobs.get(i, {}).get("name") == "serve"]
    assert len(front) == 1, (ids, jobs)
    stats = json.dumps(json.loads(nbjail("ctl", "stats", front[0], "--json").stdout))
    assert "inbound" in stats and "revoked" in stats, stats


def test_check_prints_mode_http_and_its_limits(nbj, world, tmp_path):
    pol = publish(tmp_path, ", rate: {per_client: 5/s, burst: 9}, max_body: 1M, header_timeout: 3")
    cp = nbjail("check", pol)
    assert cp.returncode == 0, cp.stderr
    line = [ln for ln in cp.stdout.splitlines() if "mode: http" in ln]
    assert line == [f"  - {{port: {PORT}, to: 8080, overlay: direct, mode: http, rate: "
                    "{per_client: 5/s, burst: 9}, concurrent: 256, max_body: 1048576, "
                    "max_header: 65536, header_timeout: 3, max_duration: 60}"], cp.stdout
    # what check prints is a policy that loads to the same
    again = tmp_path / "again.yaml"
    again.write_text(cp.stdout)
    cp2 = nbjail("check", str(again))
    assert cp2.returncode == 0 and cp2.stdout.splitlines()[1:] == cp.stdout.splitlines()[1:], cp2
