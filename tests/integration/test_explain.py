# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_explain.py - `nbjail explain` agrees with the relay

Each target is judged twice: by `nbjail explain` (exit 0 allow, 1 deny, 2
bad input) and by a real connection from a job with the same policy; the
reasons must be the same, and the leak detectors must stay silent.
"""
import pytest

from conftest import deny_lines, nbjail, probe

ALLOW = ["198.51.100.10:80", "[2001:db8::10]:80"]


def explain(target, *flags):
    args = ["explain"]
    for a in ALLOW:
        args += ["--allow", a]
    cp = nbjail(*args, *flags, target)
    fields = {}
    for line in cp.stdout.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return cp, fields


@pytest.mark.parametrize("url,dial_host,port,reason", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", 80, "floor:metadata"),
    ("http://127.0.0.1:8081/", "127.0.0.1", 8081, "floor:loopback"),
    ("http://10.0.0.1/", "10.0.0.1", 80, "floor:private"),
    ("http://172.16.0.1/", "172.16.0.1", 80, "floor:private"),
    ("http://192.168.1.1/", "192.168.1.1", 80, "floor:private"),
    ("http://100.64.0.1/", "100.64.0.1", 80, "floor:cgnat"),
    ("http://[::1]:8081/", "::1", 8081, "floor:loopback"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", 80, "floor:internal-encoding"),
    ("http://example.com@127.0.0.1/", "127.0.0.1", 80, "floor:loopback"),
    ("http://0x7f.1/", "127.0.0.1", 80, "floor:loopback"),
    ("http://2852039166/", "169.254.169.254", 80, "floor:metadata"),
    ("http://0251.0376.0251.0376/", "169.254.169.254", 80, "floor:metadata"),
    ("http://192.0.2.1:8081/", "192.0.2.1", 8081, "floor:host-address"),
    ("http://198.51.100.11/", "198.51.100.11", 80, "not-allowed"),
    ("http://198.51.100.10:8080/", "198.51.100.10", 8080, "not-allowed"),
])
def test_explain_denies_like_the_relay(nbj, world, url, dial_host, port, reason):
    cp, f = explain(url)
    assert cp.returncode == 1, (cp.stdout, cp.stderr)
    assert f["verdict"] == "deny" and f["reason"] == reason, cp.stdout
    assert f["host"].split()[0] == dial_host, cp.stdout

    # the same target, really dialled from a job with the same policy
    if dial_host in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        return  # in a job, loopback is the job's own lo: covered in test_network
    cp2, (res,) = probe(["tcp", dial_host, port], allow=ALLOW)
    assert res["outcome"] == "error:EACCES", res
    assert [d[3] for d in deny_lines(cp2.stderr)] == [reason], cp2.stderr


def test_explain_allows_like_the_relay(nbj, world):
    cp, f = explain("http://198.51.100.10/index.html")
    assert cp.returncode == 0, cp.stdout
    assert (f["verdict"], f["reason"], f["dial"]) == ("allow", "allowed", "198.51.100.10:80")
    _cp, (res,) = probe(["tcp", "198.51.100.10", 80], allow=ALLOW)
    assert res["outcome"] == "data", res

    cp, f = explain("[2001:db8::10]:80")
    assert cp.returncode == 0 and f["dial"] == "[2001:db8::10]:80", cp.stdout


def test_explain_without_port_needs_a_portless_rule(nbj):
    cp, f = explain("198.51.100.10")
    assert cp.returncode == 1 and f["reason"] == "not-allowed", cp.stdout
    cp = nbjail("explain", "--allow", "198.51.100.0/24", "198.51.100.10")
    assert cp.returncode == 0, cp.stdout


def test_explain_resolves_names_like_the_relay(nbj, world):
    cp = nbjail("explain", "--allow", "allowed.test:80", "http://allowed.test/")
    assert cp.returncode == 0, cp.stdout
    lines = cp.stdout.splitlines()
    assert "host:    allowed.test (name)" in lines
    assert "verdict: allow" in lines and "dial:    [2001:db8::10]:80" in lines, lines
    assert sorted(l for l in lines if l.startswith("resolved:")) == [
        "resolved: 198.51.100.10", "resolved: 2001:db8::10"]

    for url, reason in [("http://internal.test/", "floor:private"),
                        ("http://mixed.test/", "floor:private"),
                        ("http://meta.test/", "floor:metadata"),
                        ("http://mapped.test/", "floor:internal-encoding"),
                        ("http://nosuch.test/", "no-answer"),
                        ("http://allowed.test:8080/", "not-allowed")]:
        cp = nbjail("explain", "--allow", "*.test:80", url)
        f = dict(l.split(":", 1) for l in cp.stdout.splitlines() if ":" in l)
        assert cp.returncode == 1 and f["reason"].strip() == reason, (url, cp.stdout)
    # the suffix rule allows any other name below .test on port 80
    cp = nbjail("explain", "--allow", "*.test:80", "http://other.test/")
    assert cp.returncode == 0, cp.stdout


def test_explain_floor_exception(nbj):
    cp = nbjail("explain", "--allow", "10.0.0.1:80", "--floor-exception", "10.0.0.0/24",
                "http://10.0.0.1/")
    assert cp.returncode == 0, cp.stdout
    assert "floor exception used: 10.0.0.0/24 (floor:private)" in cp.stdout


def test_explain_policy_file(nbj, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("allow: ['203.0.113.0/24']\n")
    cp = nbjail("explain", "--policy", str(p), "https://203.0.113.10/")
    assert cp.returncode == 0, cp.stdout
    cp = nbjail("explain", "--policy", str(p), "https://198.51.100.10/")
    assert cp.returncode == 1, cp.stdout


@pytest.mark.parametrize("bad", ["http://1.2.3.4.5/", "http://256.0.0.1/", "ftp://1.2.3.4/",
                                 "http://[::1/", "http://a b/", "http://1.2.3.4:99999/", ""])
def test_explain_bad_input(nbj, bad):
    cp = nbjail("explain", "--allow", "0.0.0.0/0", bad)
    assert cp.returncode == 2, (bad, cp.stdout, cp.stderr)
    assert cp.stdout == ""


def test_explain_usage(nbj):
    assert nbjail("explain").returncode == 2
    assert nbjail("explain", "a", "b").returncode == 2
    assert nbjail("explain", "--bogus", "x").returncode == 2


def fields_of(cp):
    return dict((k.strip(), v.strip()) for k, _s, v in
                (l.partition(":") for l in cp.stdout.splitlines()) if _s)


TS_POLICY = ("allow: ['100.64.0.0/10', '198.51.100.10:80', '*.onion']\n"
             "overlays:\n  ts: {kind: tailscale}\n  tor: {kind: tor}\n"
             "routes: [{match: '*.onion', overlay: tor}]\n")


@pytest.mark.parametrize("extra, flags, target, verdict, reason, overlay, dial", [
    # the tailnet is reachable through a tailscale overlay only: a route...
    ("routes: [{match: '100.64.0.0/10', overlay: ts}, {match: '*.onion', overlay: tor}]\n",
     [], "http://100.100.1.5/", "allow", "allowed", "ts", "100.100.1.5:80"),
    # ... or the default, not for a flow that goes elsewhere
    ("default_overlay: ts\n", [], "http://100.100.1.5/", "allow", "allowed", "ts",
     "100.100.1.5:80"),
    ("", [], "http://100.100.1.5/", "deny", "floor:cgnat", "direct", "100.100.1.5:80"),
    # --overlay stands for a process's selection (nbjail-select), after routes
    ("default_overlay: ts\n", ["--overlay", "direct"], "http://100.100.1.5/", "deny",
     "floor:cgnat", "direct", "100.100.1.5:80"),
    ("", ["--overlay", "ts"], "http://100.100.1.5/", "allow", "allowed", "ts",
     "100.100.1.5:80"),
    ("", ["--overlay", "tor"], "http://100.100.1.5/", "deny", "floor:cgnat", "tor",
     "100.100.1.5:80"),
    # other floor classes stay closed through tailscale
    ("default_overlay: ts\n", [], "http://10.0.0.1/", "deny", "floor:private", "ts",
     "10.0.0.1:80"),
    # a name routed to a proxy is not resolved by the host: the proxy dials
    ("", [], "http://abc.onion/", "allow", "allowed", "tor",
     "127.0.0.1:9050 (proxy of overlay tor)"),
    ("", ["--overlay", "tor"], "http://198.51.100.10/", "allow", "allowed", "tor",
     "127.0.0.1:9050 (proxy of overlay tor)"),
    ("", ["--overlay", "tor"], "http://allowed.test/", "deny", "not-allowed", "tor", None),
])
def test_explain_overlays_and_routes(nbj, world, tmp_path, extra, flags, target, verdict,
                                     reason, overlay, dial):
    p = tmp_path / "p.yaml"
    text = TS_POLICY
    if extra.startswith("routes:"):
        text = text.replace("routes: [{match: '*.onion', overlay: tor}]\n", "")
    p.write_text(text + extra)
    cp = nbjail("explain", "--policy", str(p), *flags, target)
    f = fields_of(cp)
    assert cp.returncode == (0 if verdict == "allow" else 1), (cp.stdout, cp.stderr)
    assert (f["verdict"], f["reason"], f["overlay"]) == (verdict, reason, overlay), cp.stdout
    assert f.get("dial") == dial, cp.stdout
    assert not any(l.startswith("resolved:") for l in cp.stdout.splitlines()), cp.stdout


def test_explain_overlay_names(nbj, world, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(TS_POLICY)
    # .onion exists only in its overlay: direct, it is refused, never resolved
    cp = nbjail("explain", "--allow", "*.onion", "http://abc.onion/")
    assert cp.returncode == 1 and fields_of(cp)["reason"] == "overlay-required", cp.stdout
    assert "overlay:" not in cp.stdout  # no overlays in this policy: no overlay line
    assert not [q for q in world.dns_queries() if q[0] == "abc.onion"], world.dns_queries()
    # --overlay names an overlay of the policy, or it is a usage error
    cp = nbjail("explain", "--policy", str(p), "--overlay", "nope", "http://198.51.100.10/")
    assert cp.returncode == 2 and "no such overlay" in cp.stderr, cp.stderr
    cp = nbjail("explain", "--policy", str(p), "--overlay", "bad name", "http://198.51.100.10/")
    assert cp.returncode == 2, cp.stderr


@pytest.mark.parametrize("target", ["http://a\x1b[2K\rallow.example/", "x\x1b]0;t\x07.example:80",
                                    "169.254.169.254:80\x1b[1A"])
def test_explain_escapes_what_it_prints(nbj, target):
    """A target copied from a job's output may carry escape sequences:
    explain prints none of them raw, on stdout or stderr (issue 16)."""
    cp = nbjail("explain", target)
    assert cp.returncode in (1, 2), (cp.returncode, cp.stdout, cp.stderr)
    for text in (cp.stdout, cp.stderr):
        assert not [c for c in text if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7f], text
    assert "\\x1b" in cp.stdout + cp.stderr
