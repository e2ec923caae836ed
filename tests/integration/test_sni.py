# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_sni.py - the relay reads the whole ClientHello

A TLS server in the world (tls_sni_server.py, OpenSSL through Python's
ssl) listens on allowed.test's addresses, port 8443, with two
certificates signed by a CA this module makes with the openssl CLI: one
for allowed.test and one for other.test, the latter also the default for
a hello without a name.  A job allowed only allowed.test:8443 connects to
allowed.test's synthetic address and sends OpenSSL's own ClientHello:

  (a) naming allowed.test: the handshake completes, allowed.test's cert;
  (b) naming other.test: cut, sni-mismatch;
  (c) an empty handshake record, then the hello naming other.test: cut,
      sni-mismatch (the relay used to let this pass, and OpenSSL accepts
      it: the server would have answered with other.test's certificate);
  (d) no server name: cut, sni-missing (the server would have answered
      with its default certificate);
  (e) the hello naming allowed.test split over 64-byte records: passes;
  (f) a hello naming allowed.test, then, after the server's
      HelloRetryRequest, a second hello naming other.test: cut,
      sni-mismatch (OpenSSL picks the certificate again by the second
      hello's name; the relay used to read the first hello only).

The server accepts P-256 only, so every handshake here goes through a
HelloRetryRequest and a second ClientHello, which the relay checks too.

The server must never have completed a handshake for other.test.
"""
import json
import re
import subprocess

import pytest

from conftest import PYTHON, WORLD_NS, probe, read_line, run

HERE = __import__("pathlib").Path(__file__).resolve().parent
TCP_DENY = re.compile(r"^nbjail-relay\[[0-9a-f]{8}\]: deny tcp (\S+) from (\S+) reason=(\S+)$", re.M)
PORT = 8443


def make_certs(d):
    """A test CA and a certificate for each name, signed by it."""
    def ssl_(*args):
        run(["openssl", *args], check=True)
    ssl_("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d / "ca.key", "-out", d / "ca.pem", "-subj", "/CN=nbjail test CA",
         "-days", "2")
    certs = {}
    for name in ("allowed.test", "other.test"):
        ext = d / f"{name}.ext"
        ext.write_text(f"subjectAltName=DNS:{name}\n")
        ssl_("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr", "-subj", f"/CN={name}")
        ssl_("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
             "-CAcreateserial", "-out", d / f"{name}.pem", "-days", "2", "-extfile", ext)
        certs[name] = [str(d / f"{name}.pem"), str(d / f"{name}.key")]
    return certs


@pytest.fixture(scope="module")
def tls_server(world, tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    events = d / "events.jsonl"
    cfg = {"listen": [f"198.51.100.10:{PORT}", f"[2001:db8::10]:{PORT}"],
           "certs": make_certs(d), "default": "other.test", "events": str(events)}
    p = subprocess.Popen(["ip", "netns", "exec", WORLD_NS, PYTHON, "-I",
                          str(HERE / "tls_sni_server.py"), json.dumps(cfg)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        line = read_line(p.stdout, 10)
        assert line == "ready\n", (line, p.stderr.read() if p.poll() is not None else "")

        def read():
            return [json.loads(l) for l in events.read_text().splitlines()] \
                if events.exists() else []
        yield read
    finally:
        p.stdin.close()
        p.terminate()
        p.wait(timeout=10)


def test_sni_checked_on_the_whole_client_hello(nbj, world, tls_server, tmp_path):
    before = len(tls_server())
    log = tmp_path / "audit.jsonl"
    cp, res = probe(["tls_crafted", "allowed.test", PORT, "allowed.test", "plain"],
                    ["tls_crafted", "allowed.test", PORT, "other.test", "plain"],
                    ["tls_crafted", "allowed.test", PORT, "other.test", "empty-first"],
                    ["tls_crafted", "allowed.test", PORT, None, "plain"],
                    ["tls_crafted", "allowed.test", PORT, "allowed.test", "split"],
                    ["tls_crafted", "allowed.test", PORT, "other.test", "hrr-other"],
                    allow=[f"allowed.test:{PORT}"],
                    extra=("--audit-log", str(log), "--no-journal"))
    a, b, c, d, e, f = res
    assert (a["outcome"], a.get("line")) == ("handshake", "hello allowed.test"), (res, cp.stderr)
    for r in (b, c, d):
        assert r["outcome"] in ("reset", "eof"), (json.dumps(res), cp.stderr)
    assert (e["outcome"], e.get("line")) == ("handshake", "hello allowed.test"), (res, cp.stderr)
    assert f.get("hrr") and f["outcome"] in ("reset", "eof"), (json.dumps(res), cp.stderr)
    reasons = [m[2] for m in TCP_DENY.findall(cp.stderr)]
    assert reasons == ["sni-mismatch", "sni-mismatch", "sni-missing", "sni-mismatch"], cp.stderr
    assert "asked for 'other.test' through the address of allowed.test" in cp.stderr
    # the audit trail says the same (the second mismatch folded into the
    # first: same target); glibc's UDP probes of the synthetic addresses
    # are the seccomp lane's business
    counts = {}
    for x in map(json.loads, log.read_text().splitlines()):
        if x["event"] == "deny" and x["lane"] == "tcp":
            counts[x["reason"]] = counts.get(x["reason"], 0) + x.get("suppressed", 1)
    assert counts == {"sni-mismatch": 3, "sni-missing": 1}, counts
    # the server never read a hello for anything but allowed.test, nor
    # handed out another certificate
    seen = tls_server()[before:]
    assert {x["hello"] for x in seen if "hello" in x} == {"allowed.test"}, seen
    assert [x["handshake"] for x in seen if "handshake" in x] == ["allowed.test"] * 2, seen


def test_unfinished_client_hello_is_cut(nbj, world, tls_server):
    """A hello begun and then abandoned (the job shuts its side down) or
    left unfinished (for longer than the relay's 10 s) never reaches the
    server's handshake: cut, sni-missing."""
    before = len(tls_server())
    cp, (eof, stall) = probe(["tls_crafted", "allowed.test", PORT, "other.test", "partial-eof"],
                             ["tls_crafted", "allowed.test", PORT, "other.test", "partial-stall"],
                             allow=[f"allowed.test:{PORT}"], timeout=90)
    assert eof["outcome"] in ("reset", "eof") and eof["elapsed"] < 5, (eof, cp.stderr)
    assert stall["outcome"] in ("reset", "eof") and 9 <= stall["elapsed"] < 15, (stall, cp.stderr)
    assert [m[2] for m in TCP_DENY.findall(cp.stderr)] == ["sni-missing"] * 2, cp.stderr
    assert "no whole ClientHello within 10 s" in cp.stderr, cp.stderr
    assert tls_server()[before:] == []
