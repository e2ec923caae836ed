# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_audit_flood.py - a noisy job cannot hide a denial

  - 2000 distinct junk denials (connects to 10.x.y.1, floor:private), then
    one real one (169.254.169.254, floor:metadata): the --audit-log trail
    names the real one's target, written whole; the folded junk is
    counted, not lost.  (The writer used to fold everything past 64
    distinct denials into one "various" event with the last one's fields
    and target "(various targets)".)
  - DNS queries on a connected UDP socket (send(), which the connect rate
    at the socket call never sees) are rate limited by the relay: beyond
    twice the job's connect rate they are REFUSED, counted and audited
    (reason dns-rate) once a second.
"""
import json
import re

from conftest import PYTHON, nbjail

FLOOD = r"""
import socket
for i in range(2000):
    s = socket.socket()
    try: s.connect(("10.%d.%d.1" % (i // 250, i % 250), 80))
    except OSError: pass
    s.close()
s = socket.socket()
try: s.connect(("169.254.169.254", 80))
except OSError as e: print("real denial:", e.errno, flush=True)
s.close()
"""

DNS_FLOOD = r"""
import json, os, socket, struct, time
gw = next(l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver"))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((gw, 53))
s.settimeout(1.0)
out = {}
t0 = time.monotonic()
for i in range(300):
    q = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in "cached.test".split(".")) + b"\0"
    q += struct.pack("!HH", 1, 1)
    s.send(q)
    try:
        while True:
            a = s.recv(4096)
            if struct.unpack("!H", a[:2])[0] == i:
                break
        k = "rcode:%d" % (struct.unpack("!H", a[2:4])[0] & 0xF)
    except socket.timeout:
        k = "timeout"
    out[k] = out.get(k, 0) + 1
out["elapsed"] = time.monotonic() - t0
print(json.dumps(out), flush=True)
"""


def audit_lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_flood_of_junk_denials_keeps_the_real_one(nbj, world, tmp_path):
    log = tmp_path / "audit.jsonl"
    cp = nbjail("run", "--allow", "198.51.100.10:80", "--audit-log", str(log), "--no-journal",
                "--", PYTHON, "-I", "-c", FLOOD, timeout=180)
    assert cp.returncode == 0 and "real denial: 13" in cp.stdout, (cp.stdout, cp.stderr[-2000:])
    denies = [e for e in audit_lines(log) if e["event"] == "deny"]
    real = [e for e in denies if e.get("target") == "169.254.169.254:80"]
    assert real, [(e.get("target"), e.get("reason"), e.get("suppressed")) for e in denies][-20:]
    assert (real[0]["reason"], real[0]["call"], real[0].get("suppressed")) == \
        ("floor:metadata", "connect", None), real
    assert real[0]["exe"].startswith("/usr/bin/python3"), real
    # the junk is counted (folded), with a bounded number of lines
    junk = sum(e.get("suppressed", 1) for e in denies if e["reason"] == "floor:private")
    assert junk <= 2000 and junk >= 1900, junk   # a few may be dropped, never invented
    assert len(denies) <= 200, len(denies)
    assert not [e for e in denies if e.get("target") == "(various targets)"], denies[-5:]


def test_dns_queries_are_rate_limited(nbj, world, tmp_path):
    pol = tmp_path / "policy.yaml"
    pol.write_text("allow: [cached.test]\nrates: {connects_per_s: 10}\n")
    log = tmp_path / "audit.jsonl"
    cp = nbjail("run", "--policy", str(pol), "--audit-log", str(log), "--no-journal",
                "--", PYTHON, "-I", "-c", DNS_FLOOD, timeout=120)
    assert cp.returncode == 0, cp.stderr[-2000:]
    out = json.loads(cp.stdout.strip().splitlines()[-1])
    # 20 a second, a burst of 20: the first ones answered, the rest REFUSED
    secs = out["elapsed"]
    answered, refused = out.get("rcode:0", 0), out.get("rcode:5", 0)
    assert 20 <= answered <= 20 + 20 * secs + 2, out
    assert answered + refused == 300, out
    # audited once a second (plus the counters), never once per query
    lines = re.findall(r"deny dns cached\.test from \S+ reason=dns-rate", cp.stderr)
    assert 1 <= len(lines) <= secs + 2, (len(lines), out)
    rated = [e for e in audit_lines(log) if e.get("reason") == "dns-rate"]
    assert 1 <= len(rated) <= secs + 2, rated
    assert (rated[0]["event"], rated[0]["lane"], rated[0]["target"]) == \
        ("rate-limited", "dns", "cached.test"), rated[0]
    assert "over 20 queries/s (burst 20)" in rated[0]["detail"], rated[0]
