# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_i2p.py - the i2p overlay against a real i2pd

A real i2pd (Debian's) runs in the test's host network namespace, next to
the relay: SAM and NTCP2 bound to 127.0.0.1, the network's only floodfill,
no reseed, zero-hop tunnels (see i2pd-offline notes: i2cp.leaseSetType=1
for i2pd < 2.48).  It has no peer but itself and never sends a packet
outside the loopback interface; the world's leak detectors would see
anything that did.  sam_peer.py is the far end: an I2P service (echo,
reached through STREAM FORWARD) and an I2P client.

One job proves both directions at once, since each new I2P destination
takes i2pd 2.45 about 20 s to publish: the job dials the peer's
.b32.i2p name through the relay (STREAM CONNECT), and the peer dials the
job's destination, whose keys the supervisor made and kept in key_file,
to a port the job published.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from sam_peer import b32_of
from conftest import HOST_NS, NBJAIL, PYTHON, deny_lines, nbjail, nbjail_cmd, nbjail_env, read_line, wait_for

HERE = Path(__file__).resolve().parent
SAM_PORT = 7656
OPTS = ("inbound.length=0 outbound.length=0 inbound.quantity=1 outbound.quantity=1 "
        "i2cp.leaseSetType=1")

CONF = """\
log = file
logfile = {d}/i2pd.log
loglevel = warn
ipv4 = true
ipv6 = false
nat = false
host = 127.0.0.1
address4 = 127.0.0.1
floodfill = true
reservedrange = false
[ntcp2]
enabled = true
published = true
port = 17101
[ssu2]
enabled = false
[http]
enabled = false
[httpproxy]
enabled = false
[socksproxy]
enabled = false
[sam]
enabled = true
address = 127.0.0.1
port = {sam}
[bob]
enabled = false
[i2cp]
enabled = false
[i2pcontrol]
enabled = false
[upnp]
enabled = false
[reseed]
verify = false
urls =
yggurls =
threshold = 0
[addressbook]
enabled = true
[nettime]
enabled = false
[exploratory]
inbound.length = 0
outbound.length = 0
inbound.quantity = 1
outbound.quantity = 1
[persist]
profiles = false
addressbook = false
"""


def sam_up():
    cp = subprocess.run(["ip", "netns", "exec", HOST_NS, "ss", "-Htln",
                         f"sport = :{SAM_PORT}"], capture_output=True, text=True, timeout=10)
    return bool(cp.stdout.strip())


@pytest.fixture(scope="module")
def i2pd(tmp_path_factory, world):
    exe = shutil.which("i2pd") or "/usr/sbin/i2pd"
    if not os.path.exists(exe):
        pytest.skip("i2pd is not installed (apt-get install i2pd)")
    d = tmp_path_factory.mktemp("i2pd")
    (d / "i2pd.conf").write_text(CONF.format(d=d, sam=SAM_PORT))
    (d / "tunnels.conf").write_text("")
    (d / "tunnels.d").mkdir()
    (d / "certs").mkdir()
    p = subprocess.Popen(["ip", "netns", "exec", HOST_NS, exe, f"--datadir={d}",
                          f"--conf={d}/i2pd.conf", f"--tunconf={d}/tunnels.conf",
                          f"--tunnelsdir={d}/tunnels.d", f"--certsdir={d}/certs",
                          f"--pidfile={d}/i2pd.pid"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    assert wait_for(sam_up, 15), "i2pd's SAM bridge did not come up"
    yield d
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


def line_of(stream, timeout):
    line = read_line(stream, timeout)
    return line.rstrip("\n") if line is not None else None


def policy(tmp_path, text):
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return str(p)


JOB = r"""
import socket, sys, threading
peer = sys.argv[1]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 8080)); ls.listen(4)
got = threading.Event()
def serve():
    c, a = ls.accept()
    f = c.makefile("rwb")
    print("INBOUND", f.readline().decode().strip(), flush=True)
    f.write(b"job-says-hello\n"); f.flush(); c.close(); got.set()
threading.Thread(target=serve, daemon=True).start()
print("LISTENING", flush=True)
# a destination that does not exist: the bridge cannot reach it
try:
    s = socket.create_connection(("a" * 52 + ".b32.i2p", 80), timeout=90)
    s.sendall(b"x\n")
    print("NOPEER", repr(s.recv(100)), flush=True)
except OSError as e:
    print("NOPEER", type(e).__name__, flush=True)
s = socket.create_connection((peer, 80), timeout=90)
s.sendall(b"hello-over-i2p\n")
print("OUTBOUND", s.makefile("rb").readline().decode().strip(), flush=True)
print("DONE" if got.wait(90) else "NO-INBOUND", flush=True)
"""


def test_i2p_both_directions(nbj, world, i2pd, tmp_path):
    key = tmp_path / "job.key"
    pol = policy(tmp_path, "overlays:\n  i2p: {kind: i2p, key_file: %s, sam_options: '%s'}\n"
                 "routes: [{match: '*.i2p', overlay: i2p}]\n"
                 "allow: ['*.i2p']\n"
                 "publish: [{to: 8080, overlay: i2p}]\n" % (key, OPTS))
    peer = subprocess.Popen(["ip", "netns", "exec", HOST_NS, PYTHON, str(HERE / "sam_peer.py"),
                             str(SAM_PORT), OPTS], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    job = None
    try:
        line = line_of(peer.stdout, 15)
        assert line and line.startswith("ADDRESS "), line
        peer_addr = line.split()[1]
        job = subprocess.Popen(nbjail_cmd("run", "--policy", pol, "--", PYTHON, "-u", "-c", JOB,
                                          peer_addr),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=nbjail_env())
        # the supervisor made the key file (0600) and says the address
        assert wait_for(lambda: key.exists(), 15), \
            ("no key file", job.poll(), job.stderr.read() if job.poll() is not None else "")
        assert key.stat().st_mode & 0o777 == 0o600
        assert line_of(job.stdout, 15) == "LISTENING"
        line = line_of(peer.stdout, 60)
        assert line == "READY", line
        out = line_of(job.stdout, 90)
        assert out and out.startswith("NOPEER"), out
        assert "b'x" not in out  # nothing came back from a destination that is not there
        out = line_of(job.stdout, 60)
        assert out == "OUTBOUND echo:hello-over-i2p", out
        # now the other way: the peer dials the job's destination
        addr = b32_of(key.read_text().strip())
        peer.stdin.write(f"CONNECT {addr}\n")
        peer.stdin.flush()
        line = line_of(peer.stdout, 90)
        assert line == "REPLY job-says-hello", line
        assert line_of(job.stdout, 30) == "INBOUND ping-from-i2p"
        assert line_of(job.stdout, 30) == "DONE"
        rc = job.wait(timeout=30)
        err = job.stderr.read()
        assert rc == 0, err
        denies = deny_lines(err)
        assert any(t.startswith("a" * 52 + ".b32.i2p:80") and r == "overlay:cant-reach-peer"
                   for _i, t, _p, r in denies), err
        assert "published: the job's port 8080 is reachable over I2P at " + addr in err, err
        # a second run keeps the same destination (key_file)
    finally:
        for p in (job, peer):
            if p and p.poll() is None:
                p.kill()
                p.wait(timeout=5)
    # nothing ever asked the world's DNS about .i2p names
    assert [q for q in world.dns_queries() if "i2p" in q] == []


def test_i2p_key_file_is_kept(nbj, world, i2pd, tmp_path):
    """The first start makes the key file; later starts use it (same address),
    and a key file that others may read is refused."""
    key = tmp_path / "k.key"
    pol = policy(tmp_path, "overlays:\n  i2p: {kind: i2p, key_file: %s}\n"
                 "routes: [{match: '*.i2p', overlay: i2p}]\nallow: ['*.i2p']\n" % key)
    first = nbjail("run", "--policy", pol, "--", "true")
    assert first.returncode == 0, first.stderr
    m1 = re.search(r"I2P destination is ([a-z2-7]{52}\.b32\.i2p)", first.stderr)
    assert m1, first.stderr
    second = nbjail("run", "--policy", pol, "--", "true")
    m2 = re.search(r"I2P destination is ([a-z2-7]{52}\.b32\.i2p)", second.stderr)
    assert m2 and m2.group(1) == m1.group(1), second.stderr
    os.chmod(key, 0o644)
    third = nbjail("run", "--policy", pol, "--", "true")
    assert third.returncode == 125 and "chmod 600" in third.stderr, third.stderr


def test_i2p_bridge_down(nbj, world, tmp_path):
    """No SAM bridge: the job's connection fails with the overlay's reason;
    nothing is dialled another way; a key file cannot be made either."""
    pol = policy(tmp_path, "overlays:\n  i2p: {kind: i2p, port: 7999}\n"
                 "routes: [{match: '*.i2p', overlay: i2p}]\nallow: ['*.i2p', 'allowed.test']\n")
    cp = nbjail("run", "--policy", pol, "--", "curl", "-sS", "--max-time", "10",
                "http://" + "b" * 52 + ".b32.i2p/")
    assert cp.returncode != 0
    assert any(r == "overlay:sam-unreachable" for _i, _t, _p, r in deny_lines(cp.stderr)), cp.stderr
    pol2 = policy(tmp_path, "overlays:\n  i2p: {kind: i2p, port: 7999, key_file: %s}\n"
                  % (tmp_path / "never.key"))
    cp = nbjail("run", "--policy", pol2, "--", "true")
    assert cp.returncode == 125 and "cannot create key_file" in cp.stderr, cp.stderr
    assert not (tmp_path / "never.key").exists()


def test_i2p_reaches_i2p_names_only(nbj, world, tmp_path):
    """An i2p default overlay carries .i2p names only: another name or an
    address is refused (no outproxy), never dialled direct."""
    pol = policy(tmp_path, "overlays:\n  i2p: {kind: i2p, port: 7999}\n"
                 "default_overlay: i2p\nallow: ['allowed.test:80', '198.51.100.11:80']\n")
    for url in ("http://allowed.test/", "http://198.51.100.11/"):
        cp = nbjail("run", "--policy", pol, "--", "curl", "-sS", "--max-time", "8", url)
        assert cp.returncode != 0, cp
        reasons = [r for _i, _t, p, r in deny_lines(cp.stderr) if not p.startswith("pid=")]
        assert reasons and set(reasons) <= {"overlay:not-an-i2p-destination"}, cp.stderr
    assert world.accesses("198.51.100.11:80") == []


@pytest.mark.parametrize("text, field, words", [
    ("overlays:\n  t: {kind: tor}\npublish: [{port: 80, overlay: t}]\n",
     "publish[0].overlay", "'t' is socks5, which carries no inbound"),
    ("overlays:\n  h: {kind: http-connect, host: 127.0.0.1, port: 3128}\n"
     "publish: [{port: 80, overlay: h}]\n",
     "publish[0].overlay", "'h' is http-connect, which carries no inbound"),
    ("overlays:\n  i: {kind: i2p}\npublish: [{port: 80, overlay: i}]\n",
     "publish[0]", "SAM 3.1 has no ports"),
    ("overlays:\n  i: {kind: i2p}\npublish: [{to: 80, overlay: i}, {to: 81, overlay: i}]\n",
     "publish[1]", "publishes one port already"),
    ("overlays:\n  i: {kind: i2p}\nroutes: [{match: 10.0.0.0/8, overlay: i}]\n",
     "routes[0].overlay", "not addresses"),
    ("overlays:\n  i: {kind: i2p, username: u}\n", "overlays.i", "no username"),
    ("overlays:\n  i: {kind: i2p, sam_options: 'DESTINATION=x'}\n",
     "overlays.i.sam_options", "from key_file"),
    ("overlays:\n  i: {kind: i2p, sam_options: 'a=b\\nSESSION'}\n",
     "overlays.i.sam_options", "KEY=VALUE"),
    ("permissions: {network.select: maybe}\n", "permissions.network.select", "allow or deny"),
    ("publish: [{port: 8080}, {port: 8080, to: 81}]\n", "publish[1]", "published twice"),
])
def test_policy_errors(nbj, tmp_path, text, field, words):
    p = policy(tmp_path, text)
    cp = nbjail("check", p)
    assert cp.returncode == 2 and f": {field}: " in cp.stderr and words in cp.stderr, cp.stderr
