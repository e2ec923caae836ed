# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_creds.py - host-held credentials (issue 18)

An HTTPS server in the world (https_echo_server.py) listens on
198.51.100.10 and .11, port 9443, with certificates for allowed.test,
other.test and v4only.test signed by a test CA this module makes; the
relay trusts that CA through `tls_roots:`.  It logs every request,
Authorization included.  The policy gives credential "github" (a secret
of ghp_ shape, in a root-owned 0600 file) to allowed.test:9443 only, as
GH_TOKEN, and an http: rule to other.test:9443 (GET under /ok/).

  - curl with Bearer and with Basic (-u x-access-token:$GH_TOKEN), python3
    requests with "token": the server sees the real secret; the job sees
    a stand-in of the same shape; no job process's environment holds the
    secret, and its file is hidden
  - the stand-in sent to other.test (terminated: its http: rule) -> 403,
    credential-leak audited naming the credential; in a DNS name ->
    REFUSED, audited; in a plaintext flow's first bytes -> cut, audited;
    the server never sees the stand-in there
  - http: rule: GET /ok/ passes, POST gets 403 with the one-line body,
    a path outside gets 403
  - Host other than the pinned name -> 421
  - v4only.test (no credential, no rule) is spliced: the job sees the
    world's own certificate, not the job CA's
  - on_leak: revoke: a leak ends every later connection of the job
"""
import base64
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import tempfile
import textwrap
import time

import pytest

import conftest
from conftest import (PYTHON, ROOTLESS, WORLD_NS, children_named, nbjail, nbjail_cmd,
                      nbjail_env, read_line, run)

HERE = __import__("pathlib").Path(__file__).resolve().parent
PORT = 9443
NAMES = ("allowed.test", "other.test", "v4only.test")


def make_certs(d):
    def ssl_(*args):
        run(["openssl", *args], check=True)
    ssl_("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d / "ca.key", "-out", d / "ca.pem", "-subj", "/CN=nbjail world test CA",
         "-days", "2")
    certs = {}
    for name in NAMES:
        ext = d / f"{name}.ext"
        ext.write_text(f"subjectAltName=DNS:{name}\n")
        ssl_("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr", "-subj", f"/CN={name}")
        ssl_("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey",
             d / "ca.key", "-CAcreateserial", "-out", d / f"{name}.pem", "-days", "2",
             "-extfile", ext)
        certs[name] = [str(d / f"{name}.pem"), str(d / f"{name}.key")]
    return certs


@pytest.fixture(scope="module")
def keydir():
    """Not below /tmp (the job has its own /tmp); every user may enter it"""
    d = tempfile.mkdtemp(prefix="nbt-creds-", dir="/var/lib")
    os.chmod(d, 0o755)
    try:
        yield __import__("pathlib").Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_repo(root):
    """A bare repository with one commit, for git http-backend"""
    work = root / "work"
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@test",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@test", HOME=str(root))
    work.mkdir(parents=True)
    (work / "README").write_text("hello from the world\n")
    for cmd in (["git", "init", "-q", "-b", "main", str(work)],
                ["git", "-C", str(work), "add", "README"],
                ["git", "-C", str(work), "commit", "-q", "-m", "one"],
                ["git", "clone", "-q", "--bare", str(work), str(root / "repo.git")]):
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def server(world, keydir):
    events = keydir / "events.jsonl"
    git_root = keydir / "git"
    make_repo(git_root)
    cfg = {"listen": [f"198.51.100.10:{PORT}", f"198.51.100.11:{PORT}"],
           "certs": make_certs(keydir), "default": "allowed.test", "events": str(events),
           "git_root": str(git_root)}
    os.chmod(keydir / "ca.pem", 0o644)
    p = subprocess.Popen(["ip", "netns", "exec", WORLD_NS, PYTHON, "-I",
                          str(HERE / "https_echo_server.py"), json.dumps(cfg)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        line = read_line(p.stdout, 10)
        assert line == "ready\n", (line, p.stderr.read() if p.poll() is not None else "")

        def read():
            if not events.exists():
                return []
            out = [json.loads(l) for l in events.read_text().splitlines()]
            events.write_text("")
            return out
        yield read
    finally:
        p.stdin.close()
        p.wait(timeout=10)


def new_secret():
    alphabet = string.ascii_letters + string.digits
    return "ghp_" + "".join(secrets.choice(alphabet) for _ in range(36))


def setup_policy(d, secret, on_leak="deny"):
    sf = d / "github.secret"
    sf.write_bytes(secret.encode())
    os.chmod(sf, 0o600)
    uid_gid = (conftest.ROOTLESS_UID, conftest.ROOTLESS_GID) if ROOTLESS else (0, 0)
    os.chown(sf, *uid_gid)
    pol = d / "policy.yaml"
    pol.write_text(textwrap.dedent(f"""\
        allow: ["allowed.test:{PORT}", "other.test:{PORT}", "v4only.test:{PORT}",
                "allowed.test:80", "www.sub.test:{PORT}"]
        tls_roots: {d / "ca.pem"}
        credentials:
          github:
            secret: {{file: {sf}}}
            hosts: ["allowed.test:{PORT}"]
            env: GH_TOKEN
            on_leak: {on_leak}
            headers: [X-Api-Key]
        http:
          - {{host: "other.test:{PORT}", methods: [GET], paths: ["/ok/*"]}}
          - {{host: "www.sub.test:{PORT}"}}
        """))
    os.chmod(pol, 0o644)
    return pol


def job(pol, script, audit=None, timeout=60):
    extra = ["--audit-log", str(audit), "--no-journal"] if audit else []
    return nbjail("run", "--policy", str(pol), "--profile", "net", *extra, "--",
                  "sh", "-c", script, timeout=timeout)


def audit_events(path):
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def test_bearer_basic_token_substituted(server, keydir):
    server()  # what an earlier test left
    secret = new_secret()
    pol = setup_policy(keydir, secret)
    url = f"https://allowed.test:{PORT}/repos/acme/x"
    cp = job(pol, f"""
        echo "token=$GH_TOKEN"
        curl -sS {url}/bearer -H "Authorization: Bearer $GH_TOKEN"
        curl -sS -u "x-access-token:$GH_TOKEN" {url}/basic
        curl -sS -H "X-Api-Key: $GH_TOKEN" -H "X-Other: $GH_TOKEN" {url}/custom
        curl -sS -H "Authorization: Bearer $GH_TOKEN" -d 'a=1&b=2' {url}/post1 \
            --next -H "Authorization: Bearer $GH_TOKEN" -d 'c=3' {url}/post2
        {PYTHON} -c 'import os, requests
r = requests.get("{url}/token", headers={{"Authorization": "token " + os.environ["GH_TOKEN"]}})
print("requests", r.status_code, r.text.strip())'
    """)
    assert cp.returncode == 0, cp.stderr
    standin = next(l for l in cp.stdout.splitlines() if l.startswith("token="))[6:]
    assert standin != secret and standin.startswith("ghp_") and len(standin) == len(secret)
    assert secret not in cp.stdout
    assert "ok GET /repos/acme/x/bearer" in cp.stdout
    assert "ok GET /repos/acme/x/basic" in cp.stdout
    assert "requests 200 ok GET /repos/acme/x/token" in cp.stdout
    events = server()
    seen = {e["path"].rsplit("/", 1)[1]: e["authorization"] for e in events}
    # bodies pass byte for byte, two requests on one kept-alive connection
    assert {e["path"].rsplit("/", 1)[1]: e["body"] for e in events
            if e["method"] == "POST"} == {"post1": "a=1&b=2", "post2": "c=3"}
    assert seen["post1"] == seen["post2"] == f"Bearer {secret}"
    assert seen["bearer"] == f"Bearer {secret}"
    assert seen["basic"] == "Basic " + base64.b64encode(
        f"x-access-token:{secret}".encode()).decode()
    assert seen["token"] == f"token {secret}"
    custom = next(e for e in events if e["path"].endswith("/custom"))
    assert custom["api_key"] == secret          # a header the credential names
    assert custom["authorization"] is None


def test_job_holds_only_the_standin(server, keydir):
    server()  # what an earlier test left
    secret = new_secret()
    pol = setup_policy(keydir, secret)
    cp = job(pol, f"""
        sleep 2 & sh -c 'sleep 2' &
        cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c '^GH_TOKEN=ghp_' || true
        cat /proc/[0-9]*/environ 2>/dev/null | grep -ac {secret} || true
        cat {keydir / "github.secret"} 2>/dev/null | grep -c {secret} || true
        echo "bundle=$SSL_CERT_FILE"
        grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt
        wait
    """)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.split()
    assert int(lines[0]) >= 3           # sh, the sleeps, cat: the stand-in
    assert lines[1] == "0"              # no process's environment: the secret
    assert lines[2] == "0"              # the secret file is hidden
    assert "bundle=/run/nbjail/ca-certificates.crt" in cp.stdout
    assert server() == []


def test_leaks_denied(server, keydir, tmp_path):
    server()  # what an earlier test left
    secret = new_secret()
    pol = setup_policy(keydir, secret)
    audit = tmp_path / "audit.jsonl"
    cp = job(pol, f"""
        curl -sS -w ' %{{http_code}}\\n' https://other.test:{PORT}/ok/1 \
            -H "Authorization: Bearer $GH_TOKEN"
        {PYTHON} -c 'import os, socket
try:
    socket.getaddrinfo(os.environ["GH_TOKEN"].lower() + ".allowed.test", 80)
    print("dns resolved")
except socket.gaierror as e:
    print("dns refused")'
        curl -sS -m 5 "http://allowed.test/?t=$GH_TOKEN" >/dev/null 2>&1 && echo plain-passed \
            || echo plain-cut
    """, audit=audit)
    assert cp.returncode == 0, cp.stderr
    assert "403" in cp.stdout and "reason=credential-leak" in cp.stdout, cp.stdout
    assert "dns refused" in cp.stdout
    assert "plain-cut" in cp.stdout
    for e in server():
        assert e.get("authorization") is None or "ghp_" not in e["authorization"]
    leaks = [e for e in audit_events(audit)
             if e.get("reason") == "credential-leak" and e["event"] == "deny"]
    where = {e["detail"].split("where=")[1].split()[0] for e in leaks}   # A and AAAA: 2 dns
    assert where == {"dns-name", "request", "tcp-payload"}, leaks
    for e in leaks:
        assert "credential=github" in e["detail"]
        assert secret not in json.dumps(e)


def test_http_rules_and_host(server, keydir, tmp_path):
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    audit = tmp_path / "audit.jsonl"
    cp = job(pol, f"""
        curl -sS https://other.test:{PORT}/ok/1
        curl -sS -w '%{{http_code}}\\n' -X POST -d x https://other.test:{PORT}/ok/1
        curl -sS -w '%{{http_code}}\\n' https://other.test:{PORT}/no
        curl -sS -w '%{{http_code}}\\n' -H 'Host: other.test' https://allowed.test:{PORT}/h
    """, audit=audit)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert out[0] == "ok GET /ok/1"
    assert out[1] == "nbjail: denied POST https://other.test/ok/1 reason=http-rule"
    assert out[2] == "403"
    assert out[3] == "nbjail: denied GET https://other.test/no reason=http-rule"
    assert out[4] == "403"
    assert "reason=host-mismatch" in out[5] and out[6] == "421"
    paths = [e["path"] for e in server()]
    assert paths == ["/ok/1"]
    reqs = [e for e in audit_events(audit) if e["event"] == "http-request"]
    assert [(e["call"], e["target"], e["detail"].split()[0]) for e in reqs] == [
        ("GET", "other.test/ok/1", "status=200"), ("POST", "other.test/ok/1", "status=403"),
        ("GET", "other.test/no", "status=403"), ("GET", "allowed.test/h", "status=421")]


def test_other_flows_spliced(server, keydir):
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    cp = job(pol, f"""
        echo | openssl s_client -connect v4only.test:{PORT} -servername v4only.test 2>/dev/null \
            | grep '^issuer='
        echo | openssl s_client -connect allowed.test:{PORT} -servername allowed.test 2>/dev/null \
            | grep '^issuer='
    """)
    assert cp.returncode == 0, cp.stderr
    issuers = cp.stdout.splitlines()
    assert "nbjail world test CA" in issuers[0]     # the world's own certificate
    assert "nbjail job CA" in issuers[1]            # terminated: the job CA's leaf


LIVE_FLOW_CUT = r'''
import os, socket, subprocess, time
live = socket.create_connection(("v4only.test", %d), timeout=10)   # spliced, idle
subprocess.run(["getent", "hosts", os.environ["GH_TOKEN"] + ".allowed.test"],
               stdout=subprocess.DEVNULL)
t = time.monotonic()
try:
    live.settimeout(8)
    print("live-eof" if live.recv(1) == b"" else "live-data")
except ConnectionResetError:
    print("live-reset")
except socket.timeout:
    print("live-open")
print("within-2s" if time.monotonic() - t < 2 else "slow")
''' % PORT


def test_leak_revokes(server, keydir):
    """on_leak: revoke: the leak (a DNS name) revokes the job: a live flow
    is cut at once, every later connection fails"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret(), on_leak="revoke")
    cp = job(pol, f"""
        curl -sS -o /dev/null -w '%{{http_code}}\\n' https://allowed.test:{PORT}/before
        {PYTHON} -c '{LIVE_FLOW_CUT}'
        curl -sS -m 5 -o /dev/null -w '%{{http_code}}\\n' https://allowed.test:{PORT}/after \
            || echo after-failed
    """)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.split()
    assert out[0] == "200"
    assert out[1] in ("live-reset", "live-eof") and out[2] == "within-2s", out
    assert "after-failed" in out
    assert [e["path"] for e in server()] == ["/before"]


HOSTILE = r'''
import socket, ssl, sys
ctx = ssl.create_default_context()
def send(raw):
    with socket.create_connection(("allowed.test", %d), timeout=20) as s:
        with ctx.wrap_socket(s, server_hostname="allowed.test") as t:
            try:
                t.sendall(raw)
            except OSError:
                pass
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    b = t.recv(4096)
                    if not b:
                        break
                    data += b
            except OSError:
                pass
            print(data.split(b"\r\n", 1)[0].decode() or "closed", flush=True)
send(b"GET / HTTP/1.1\r\nHost: allowed.test\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
send(b"GARBAGE\x00\x01 / HTTP/1.1\r\n\r\n")
send(b"GET / HTTP/1.1\r\nHost: allowed.test\r\nHost: other.test\r\n\r\n")
send(b"GET /fine HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
''' % PORT


def test_hostile_requests(server, keydir):
    """A 1 MiB header line gets 431 from a 16 KiB buffer (memory does not
    grow), a malformed request 400, two Host headers 421; the relay stays
    up and the next request passes"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    cp = nbjail("run", "--policy", str(pol), "--profile", "net", "--",
                PYTHON, "-c", HOSTILE, timeout=60)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert out == ["HTTP/1.1 431 Request Header Fields Too Large", "HTTP/1.1 400 Bad Request",
                   "HTTP/1.1 421 Misdirected Request", "HTTP/1.1 200 OK"], cp.stdout
    assert [e["path"] for e in server()] == ["/fine"]


def test_sni_and_upstream_certificate(server, keydir, tmp_path):
    """The job's SNI must be the pinned name (else cut, sni-mismatch); the
    relay checks the server's certificate against the pinned name (the
    world answers www.sub.test with allowed.test's: 502, upstream-tls)"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    audit = tmp_path / "audit.jsonl"
    cp = job(pol, f"""
        echo | openssl s_client -connect allowed.test:{PORT} -servername other.test \
            >/dev/null 2>&1 && echo sni-passed || echo sni-cut
        curl -sS -w '%{{http_code}}\n' https://www.sub.test:{PORT}/x
    """, audit=audit)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert out[0] == "sni-cut"
    assert out[1] == "nbjail: denied GET https://www.sub.test reason=upstream-tls"
    assert out[2] == "502"
    reasons = [e["reason"] for e in audit_events(audit) if e["event"] == "deny"]
    assert "sni-mismatch" in reasons and "upstream-tls" in reasons, reasons
    assert server() == []


def test_git_clone_basic(server, keydir, tmp_path):
    """git clone https://x-access-token:$GH_TOKEN@... from git http-backend
    behind Basic auth: the server gets the real secret as the password"""
    server()  # what an earlier test left
    secret = new_secret()
    pol = setup_policy(keydir, secret)
    cp = job(pol, f"""
        cd /tmp && git clone -q "https://x-access-token:$GH_TOKEN@allowed.test:{PORT}/git/repo.git" r \
            && cat r/README
    """, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert "hello from the world" in cp.stdout
    auths = [e["authorization"] for e in server() if e.get("git")]
    want = "Basic " + base64.b64encode(f"x-access-token:{secret}".encode()).decode()
    assert want in auths, auths
    assert all(a in (None, want) for a in auths), auths


SLOWLORIS = r'''
import socket, ssl, subprocess, time
ctx = ssl.create_default_context()
s = ctx.wrap_socket(socket.create_connection(("allowed.test", %d), timeout=30),
                    server_hostname="allowed.test")
s.sendall(b"GET /slow HTTP/1.1\r\nHost: allowed.test\r\n")
t = time.monotonic()
# meanwhile the relay answers others
ok = subprocess.run(["curl", "-sS", "https://allowed.test:%d/meanwhile"], capture_output=True,
                    text=True).stdout.strip()
print(ok, flush=True)
try:
    while time.monotonic() - t < 25:
        s.sendall(b"X-Drip: 1\r\n")
        time.sleep(1)
    print("still-open")
except OSError:
    print("cut after", int(time.monotonic() - t))
'''


def test_slowloris_cut(server, keydir):
    """A request head dripped a header a second is cut after 15 s, and the
    relay serves other requests meanwhile"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    cp = nbjail("run", "--policy", str(pol), "--profile", "net", "--",
                PYTHON, "-c", SLOWLORIS % (PORT, PORT), timeout=90)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert out[0] == "ok GET /meanwhile"
    assert out[1].startswith("cut after"), out
    assert 14 <= int(out[1].split()[-1]) <= 19, out
    assert [e["path"] for e in server()] == ["/meanwhile"]


UPGRADE = r'''
import os, socket, ssl
ctx = ssl.create_default_context()
s = ctx.wrap_socket(socket.create_connection(("allowed.test", %d), timeout=10),
                    server_hostname="allowed.test")
s.sendall(b"GET /ws HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\n"
          b"Upgrade: echo\r\nAuthorization: Bearer " + os.environ["GH_TOKEN"].encode() +
          b"\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
print(data.split(b"\r\n", 1)[0].decode())
s.sendall(b"ping\n")
got = b""
while len(got) < 5:
    got += s.recv(4096)
print(repr(got))    # byte for byte: nothing added
''' % PORT


def test_upgrade_passes_through(server, keydir):
    """An Upgrade request is checked and rewritten like any other, then
    the bytes pass as they are, both ways"""
    server()  # what an earlier test left
    secret = new_secret()
    pol = setup_policy(keydir, secret)
    cp = nbjail("run", "--policy", str(pol), "--profile", "net", "--",
                PYTHON, "-c", UPGRADE, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == ["HTTP/1.1 101 Switching Protocols", "b'ping\\n'"], cp.stdout
    ups = [e for e in server() if e.get("upgrade")]
    assert [e["authorization"] for e in ups] == [f"Bearer {secret}"]


def test_requests_in_ctl_recent(server, keydir, spawn):
    """Every terminated request is one record of `nbjail ctl recent`
    (method, host and path, status, credential), allowed ones too"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    p = spawn("run", "--policy", str(pol), "--profile", "net", "--", "sh", "-c", f"""
        curl -sS -o /dev/null https://allowed.test:{PORT}/repos/acme/r1 \
            -H "Authorization: Bearer $GH_TOKEN"
        curl -sS -o /dev/null -X POST -d x https://other.test:{PORT}/ok/2
        echo ready
        sleep 30
    """)
    assert read_line(p.stdout, 30) == "ready\n"
    cp = nbjail("ctl", "recent", "10", "--json")
    assert cp.returncode == 0, cp.stderr
    reqs = [r for r in json.loads(cp.stdout) if r.get("event") == "http-request"]
    assert [(r["call"], r["target"], r["reason"], r["detail"]) for r in reqs] == [
        ("POST", "other.test/ok/2", "http-rule", "status=403 credential=-"),
        ("GET", "allowed.test/repos/acme/r1", "allowed", "status=200 credential=github")], reqs
    text = nbjail("ctl", "recent", "10").stdout
    assert "GET https://allowed.test/repos/acme/r1 status=200 credential=github" in text, text
    p.terminate()
    p.wait(timeout=10)
    assert [e["path"] for e in server()] == ["/repos/acme/r1"]


KEYHOLDER_STALL = r'''
import os, subprocess, sys, time
tok = os.environ["GH_TOKEN"]
url = "https://allowed.test:%d/repos/acme/x"
def curl(*args):
    return subprocess.Popen(["curl", "-sS", "-m", "20", "-w", " %%{http_code}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
def out(p):
    return " ".join(p.communicate()[0].split())
warm = out(curl(url + "/warm", "-H", "Authorization: Bearer " + tok))
print("ready", warm, flush=True)
sys.stdin.readline()                       # the key holder is stopped now
slow = curl(url + "/slow", "-H", "Authorization: Bearer " + tok)
time.sleep(0.3)                            # its FETCH waits for the holder
t = time.monotonic()
spliced = out(curl("--cacert", "%s", "https://v4only.test:%d/spliced"))
other = out(curl("https://other.test:%d/ok/meanwhile"))
print("meanwhile", int((time.monotonic() - t) * 1000), spliced, "|", other, flush=True)
print("slow", out(slow), flush=True)   # the holder runs again
sys.stdin.readline()                       # the key holder is dead now
print("dead", out(curl(url + "/dead", "-H", "Authorization: Bearer " + tok)), flush=True)
'''


def test_keyholder_stall_and_death(server, keydir, tmp_path):
    """A FETCH waiting for a stopped key holder stops nothing else: a
    spliced flow and a terminated one without a credential are served
    meanwhile, and the waiting request completes once the holder runs
    again; with the holder dead, a request that needs the secret gets
    502 credential-unavailable (audited) and nothing goes upstream"""
    server()  # what an earlier test left
    secret = new_secret()
    pol = setup_policy(keydir, secret)
    audit = tmp_path / "audit.jsonl"
    script = KEYHOLDER_STALL % (PORT, keydir / "ca.pem", PORT, PORT)
    p = subprocess.Popen(nbjail_cmd("run", "--policy", str(pol), "--profile", "net",
                                    "--audit-log", str(audit), "--no-journal", "--",
                                    PYTHON, "-c", script),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=nbjail_env())
    holder = None
    try:
        line = read_line(p.stdout, 30)
        assert line == "ready ok GET /repos/acme/x/warm 200\n", (line, p.stderr.read()
                                                                   if p.poll() is not None
                                                                   else "")
        holders = children_named(p.pid, "nbjail-keys")
        assert len(holders) == 1, holders
        holder = holders[0]
        os.kill(holder, signal.SIGSTOP)
        p.stdin.write("go\n")
        p.stdin.flush()
        line = read_line(p.stdout, 30)
        os.kill(holder, signal.SIGCONT)
        words = line.split()
        assert words[0] == "meanwhile", line
        assert line.split(" ", 2)[2] == \
            "ok GET /spliced 200 | ok GET /ok/meanwhile 200\n", line
        assert int(words[1]) < 1500, line     # not behind the FETCH's 2 s
        assert read_line(p.stdout, 30) == "slow ok GET /repos/acme/x/slow 200\n"
        os.kill(holder, signal.SIGKILL)
        holder = None
        time.sleep(0.3)
        p.stdin.write("go\n")
        p.stdin.flush()
        line = read_line(p.stdout, 30)
        assert line == ("dead nbjail: denied GET https://allowed.test/repos/acme/x/dead "
                        "reason=credential-unavailable 502\n"), line
        p.stdin.close()
        p.wait(timeout=30)
    finally:
        if holder:
            os.kill(holder, signal.SIGCONT)
        if p.poll() is None:
            p.kill()
            p.wait()
    seen = {e["path"]: e["authorization"] for e in server()}
    assert set(seen) == {"/repos/acme/x/warm", "/repos/acme/x/slow", "/spliced",
                         "/ok/meanwhile"}, seen
    assert seen["/repos/acme/x/slow"] == f"Bearer {secret}"
    reqs = [(e["target"], e["reason"], e["detail"]) for e in audit_events(audit)
            if e["event"] == "http-request"]
    assert ("allowed.test/repos/acme/x/dead", "credential-unavailable",
            "status=502 credential=github") in reqs, reqs


def test_byte_rate_on_terminated_flows(server, keydir):
    """The job's byte rate holds on terminated flows as on spliced ones:
    6 MiB down and 3 MiB up at 2 MiB/s after a 0.5 MiB burst"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    pol.write_text(pol.read_text() + "rates: {bytes_per_s: 2MiB, bytes_burst: 512KiB}\n")
    cp = job(pol, f"""
        t0=$(date +%s%N)
        curl -sS -o /dev/null -w '%{{size_download}}\\n' https://allowed.test:{PORT}/big?mb=6
        t1=$(date +%s%N)
        head -c 3145728 /dev/zero | curl -sS -o /dev/null -w '%{{size_upload}}\\n' \
            --data-binary @- https://allowed.test:{PORT}/up
        t2=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 )) $(( (t2 - t1) / 1000000 ))
    """, timeout=90)
    assert cp.returncode == 0, cp.stderr
    down, up, ms = cp.stdout.splitlines()
    assert (int(down), int(up)) == (6 << 20, 3 << 20), cp.stdout
    down_ms, up_ms = map(int, ms.split())
    # the burst, then 2 MiB/s: 6 MiB no sooner than 2.7 s, 3 MiB than 1.5 s
    assert 2500 <= down_ms <= 8000, ms
    assert 1300 <= up_ms <= 6000, ms
    assert [e["body"] for e in server() if e["method"] == "POST"] == ["<3145728 bytes>"]


def test_upstream_session_resumed(server, keydir):
    """The relay resumes its upstream TLS session to a terminated name on
    the next fresh connection (its handshake skips the certificate); a
    spliced flow's TLS is the job's own business"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    cp = job(pol, f"""
        for i in 1 2 3; do curl -sS https://allowed.test:{PORT}/r$i; done
    """)
    assert cp.returncode == 0, cp.stderr
    assert [(e["path"], e["resumed"]) for e in server()] == [
        ("/r1", False), ("/r2", True), ("/r3", True)]


PARTIAL_RECORD = r'''
import socket, ssl, sys, time
ctx = ssl.create_default_context()
raw = socket.create_connection(("allowed.test", %d), timeout=10)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="allowed.test")
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        raw.sendall(out.read())
        inc.write(raw.recv(65536))
raw.sendall(out.read())
tls.write(b"GET /partial HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
record = out.read()
raw.sendall(record[:len(record) // 2])      # half a TLS record, the rest later
print("half", flush=True)
sys.stdin.readline()
raw.sendall(record[len(record) // 2:])
data = b""
while b"\r\n\r\n" not in data:
    inc.write(raw.recv(65536))
    try:
        data += tls.read(65536)
    except ssl.SSLWantReadError:
        pass
print(data.split(b"\r\n", 1)[0].decode(), flush=True)
''' % PORT


def test_partial_record_does_not_spin(server, keydir):
    """Half a TLS record from the job: the relay waits for the rest on
    the socket, and burns no CPU meanwhile (a wake-up for bytes OpenSSL
    holds must not fire for a record that is not whole)"""
    server()  # what an earlier test left
    pol = setup_policy(keydir, new_secret())
    p = subprocess.Popen(nbjail_cmd("run", "--policy", str(pol), "--profile", "net", "--",
                                    PYTHON, "-c", PARTIAL_RECORD),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=nbjail_env())
    try:
        assert read_line(p.stdout, 30) == "half\n", p.stderr.read() if p.poll() else ""
        relay = children_named(p.pid, "nbjail-relay")
        assert len(relay) == 1, relay

        def cpu_ticks():
            with open(f"/proc/{relay[0]}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])     # utime + stime
        before = cpu_ticks()
        time.sleep(2)
        spent = cpu_ticks() - before
        assert spent < 50, f"the relay spent {spent} ticks of 2 s waiting"  # 100 ticks/s
        p.stdin.write("go\n")
        p.stdin.flush()
        assert read_line(p.stdout, 30) == "HTTP/1.1 200 OK\n"
        p.stdin.close()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert [e["path"] for e in server()] == ["/partial"]
