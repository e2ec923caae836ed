# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_names.py - fake-IP DNS and resolve-then-pin

Names in the world's dnsmasq: allowed.test (198.51.100.10, 2001:db8::10),
other.test, v4only.test, v6only.test, internal.test (10.0.0.1), meta.test
(169.254.169.254), mixed.test (public + 10.0.0.1), v6internal.test
(fd00::1), mapped.test (::ffff:10.0.0.1), and rebind.test, whose A answer
flips between 198.51.100.10 and 10.0.0.1 on every query.  The job only
ever sees synthetic addresses; the relay resolves, judges every answer
and dials.  The leak detectors must stay silent throughout.
"""
import ipaddress
import re

import pytest

from conftest import deny_lines, nbjail, probe

SYNTH4 = ipaddress.ip_network("198.18.0.0/15")
SYNTH6 = ipaddress.ip_network("fd6e:626a:6169:ffff::/64")
DNS_DENY = re.compile(r"^nbjail-relay\[[0-9a-f]{8}\]: deny dns (\S+) from (\S+) reason=(\S+)$", re.M)
TCP_DENY = re.compile(r"^nbjail-relay\[[0-9a-f]{8}\]: deny tcp (\S+) from (\S+) reason=(\S+)$", re.M)


def synthetic(addrs):
    return all(ipaddress.ip_address(a) in (SYNTH4 if ":" not in a else SYNTH6) for a in addrs)


def test_allowed_name_gets_stable_synthetic_addresses(nbj, world):
    cp, res = probe(["resolve", "allowed.test"], ["resolve", "ALLOWED.test."],
                    ["resolve", "other.test"], allow=["allowed.test", "other.test"])
    a, again, other = res
    assert a["outcome"] == "ok" and again["outcome"] == "ok", res
    assert len(a["addrs"]) == 2 and synthetic(a["addrs"]), a  # one A, one AAAA
    assert again["addrs"] == a["addrs"]                        # stable per name
    assert synthetic(other["addrs"]) and not set(other["addrs"]) & set(a["addrs"])
    # the job never learned a real address; dnsmasq was asked by the relay only
    assert {asker.split("/")[0] for _n, _t, asker in world.dns_queries()} == {"192.0.2.1"}


def test_allowed_name_reached_through_pinned_answer(nbj, world):
    cp, res = probe(["tcp", "allowed.test", 80], allow=["allowed.test:80"])
    assert res[0]["outcome"] == "data", (res, cp.stderr)
    # the relay dials IPv6 first
    assert res[0]["body"] == "world [2001:db8::10]:80\n", res
    assert ("[2001:db8::10]:80", "[2001:db8:1::1]") in [
        (l, p.rsplit(":", 1)[0]) for l, p in world.accesses()]
    # curl, unmodified
    cp = nbjail("run", "--allow", "v4only.test:80", "--", "curl", "-sS", "--max-time", "5",
                "http://v4only.test/")
    assert cp.returncode == 0 and cp.stdout == "world 198.51.100.10:80\n", cp


def test_answers_are_reused_for_their_ttl(nbj, world):
    """cached.test has a TTL of 60 s: the relay resolves it once, for the
    job's DNS query, and reuses the answers for the connections (each
    judged again); the TTL-0 names of the world are resolved every time."""
    script = ("import socket\n"
              "for name in ('cached.test', 'v4only.test'):\n"
              "    a = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4]\n"
              "    for _ in range(3):\n"
              "        s = socket.create_connection(a, timeout=5)\n"
              "        s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
              "        print(name, s.recv(100).split(b'\\r\\n')[0].decode())\n"
              "        s.close()\n")
    world.clear()
    cp = nbjail("run", "--allow", "cached.test:80", "--allow", "v4only.test:80", "--",
                "/usr/bin/python3", "-c", script)
    assert cp.returncode == 0 and cp.stdout.count("HTTP/1.0 200 OK") == 6, cp
    asked = [(n, t) for n, t, _a in world.dns_queries()]
    # the job's lookup (the stub asks upstream: A) plus the relay's pin (A and AAAA)
    # one lookup (A and AAAA) for the stub's answer, reused to pin every connection
    assert asked.count(("cached.test", "A")) == 1, asked
    assert asked.count(("cached.test", "AAAA")) == 1, asked
    # TTL 0: pinned again for each of the 3 connections
    assert asked.count(("v4only.test", "A")) == 4, asked
    assert asked.count(("v4only.test", "AAAA")) == 4, asked
    world.clear()


def test_name_port_is_enforced(nbj, world):
    cp, res = probe(["tcp", "allowed.test", 80], ["tcp", "allowed.test", 8080],
                    allow=["allowed.test:8080"])
    assert res[0]["outcome"] in ("refused", "reset"), res
    assert res[1]["outcome"] == "data", res
    denies = TCP_DENY.findall(cp.stderr)
    assert len(denies) == 1 and denies[0][0].startswith("allowed.test:80(") and \
        denies[0][2] == "not-allowed", cp.stderr


def test_suffix_rule(nbj, world):
    cp, res = probe(["resolve", "www.sub.test"], ["resolve", "sub.test"],
                    ["tcp", "www.sub.test", 80], allow=["*.sub.test"])
    assert res[0]["outcome"] == "ok" and synthetic(res[0]["addrs"]), res
    assert res[1]["outcome"].startswith("gaierror"), res     # not the bare suffix
    assert res[2]["outcome"] == "data", res
    assert [d[0] for d in DNS_DENY.findall(cp.stderr)] == ["sub.test", "sub.test"] or \
        {d[0] for d in DNS_DENY.findall(cp.stderr)} == {"sub.test"}, cp.stderr


def test_denied_name_refused(nbj, world):
    cp, (gw,) = probe(["gateway"], allow=["allowed.test"])
    cp, res = probe(["dns", gw["gateway"], 53, "other.test"], ["resolve", "other.test"],
                    allow=["allowed.test"])
    assert res[0]["outcome"] == "rcode:5" and res[0]["answers"] == 0, res
    assert res[1]["outcome"].startswith("gaierror"), res
    assert {d[0] for d in DNS_DENY.findall(cp.stderr)} == {"other.test"}
    assert {d[2] for d in DNS_DENY.findall(cp.stderr)} == {"not-allowed"}
    assert not any(n == "other.test" for n, _t, _a in world.dns_queries())


def test_nxdomain_and_other_types(nbj, world):
    cp, (gw,) = probe(["gateway"], allow=["*.test"])
    g = gw["gateway"]
    cp, res = probe(["dns", g, 53, "nosuch.test"], ["dns", g, 53, "allowed.test", 16],
                    ["dns", g, 53, "allowed.test", 28], ["dns", g, 53, "v6only.test", 1],
                    allow=["*.test"])
    assert res[0]["outcome"] == "rcode:3", res          # NXDOMAIN
    assert (res[1]["outcome"], res[1]["answers"]) == ("rcode:0", 0), res  # TXT: empty
    assert (res[2]["outcome"], res[2]["answers"]) == ("rcode:0", 1), res  # AAAA: synthetic
    # a synthetic A for a name that only has AAAA upstream: the relay dials IPv6
    assert (res[3]["outcome"], res[3]["answers"]) == ("rcode:0", 1), res
    cp, res = probe(["tcp", "v6only.test", 80], allow=["v6only.test:80"])
    assert res[0]["outcome"] == "data" and res[0]["body"] == "world [2001:db8::10]:80\n", res


@pytest.mark.parametrize("name,reason", [
    ("internal.test", "floor:private"),
    ("meta.test", "floor:metadata"),
    ("mixed.test", "floor:private"),
    ("v6internal.test", "floor:private"),
    ("mapped.test", "floor:internal-encoding"),
])
def test_names_resolving_internal_are_denied(nbj, world, name, reason):
    cp, res = probe(["resolve", name], ["tcp", name, 80], allow=[name, "*.test"])
    assert res[0]["outcome"].startswith("gaierror"), res
    assert res[1]["outcome"].startswith("error") or res[1]["outcome"] == "timeout" or \
        res[1]["outcome"] in ("refused", "reset"), res
    denies = DNS_DENY.findall(cp.stderr)
    assert denies and {d[0] for d in denies} == {name}, cp.stderr
    assert denies[0][2] == reason, cp.stderr


def test_rebinding_is_denied(nbj, world):
    steps = []
    for _ in range(4):
        steps += [["resolve", "rebind.test"], ["tcp", "rebind.test", 80]]
    cp, res = probe(*steps, allow=["rebind.test:80"])
    tcp = [r for r in res[1::2]]
    assert all(r["outcome"] != "data" for r in tcp), res
    reasons = [d[2] for d in DNS_DENY.findall(cp.stderr)] + [d[2] for d in TCP_DENY.findall(cp.stderr)]
    assert "floor:private" in reasons, cp.stderr
    # once seen internal, the name stays denied for the job's life
    first = reasons.index("floor:private")
    assert all(r == "rebinding" for r in reasons[first + 1:]), reasons
    flips = [e for e in world.read_events() if e["kind"] == "dns-flip"]
    assert flips, "the rebinding server was never asked"
    world.clear()


def test_unknown_synthetic_address_denied(nbj, world):
    cp, res = probe(["tcp", "198.18.3.7", 80], ["tcp", "fd6e:626a:6169:ffff::99", 80],
                    allow=["allowed.test", "0.0.0.0/0", "::/0"])
    assert [r["outcome"] for r in res] in (["refused", "refused"], ["reset", "reset"],
                                           ["refused", "reset"], ["reset", "refused"]), res
    assert [d[2] for d in TCP_DENY.findall(cp.stderr)] == ["unknown-synthetic"] * 2, cp.stderr


def test_sni_must_match_the_name(nbj, world):
    cp, res = probe(["tls", "v4only.test", 80, "evil.example"],
                    ["tls", "v4only.test", 80, "v4only.test"], allow=["v4only.test:80"])
    assert res[0]["outcome"] in ("reset", "eof") or res[0]["outcome"].startswith("error"), res
    # the right name passes the relay; the HTTP server then fails the handshake
    assert res[1]["outcome"] == "ssl-error", res
    denies = TCP_DENY.findall(cp.stderr)
    assert [d[2] for d in denies] == ["sni-mismatch"], cp.stderr
    assert "asked for 'evil.example' through the address of v4only.test" in cp.stderr


def test_ip_only_policy_turns_dns_off(nbj, world):
    cp, (gw,) = probe(["gateway"], allow=["198.51.100.10:80"])
    cp, res = probe(["dns", gw["gateway"], 53, "allowed.test"], ["resolve", "allowed.test"],
                    ["tcp", "198.51.100.10", 80], allow=["198.51.100.10:80"])
    assert res[0]["outcome"] == "rcode:5", res
    assert res[1]["outcome"].startswith("gaierror"), res
    assert res[2]["outcome"] == "data", res
    assert world.dns_queries() == []


def test_dns_over_tcp(nbj, world):
    cp, (gw,) = probe(["gateway"], allow=["allowed.test"])
    g = gw["gateway"]
    cp, res = probe(["dns_tcp", g, 53, "allowed.test"], ["dns_tcp", g, 53, "other.test"],
                    ["dns_tcp", g, 53, "allowed.test", 28], allow=["allowed.test"])
    assert (res[0]["outcome"], res[0]["answers"], res[0]["id_ok"]) == ("rcode:0", 1, True), res
    assert (res[1]["outcome"], res[1]["answers"]) == ("rcode:5", 0), res
    assert (res[2]["outcome"], res[2]["answers"]) == ("rcode:0", 1), res
    assert {d[0] for d in DNS_DENY.findall(cp.stderr)} == {"other.test"}
    # unmodified glibc, told to use TCP, reaches the name through the relay
    cp = nbjail("run", "--allow", "v4only.test:80", "--", "sh", "-c",
                "RES_OPTIONS=use-vc getent ahostsv4 v4only.test | head -1 && "
                "RES_OPTIONS=use-vc curl -sS --max-time 5 http://v4only.test/")
    assert cp.returncode == 0, cp
    first, body = cp.stdout.splitlines()[0], cp.stdout.splitlines()[-1]
    assert ipaddress.ip_address(first.split()[0]) in SYNTH4, cp.stdout
    assert body == "world 198.51.100.10:80", cp.stdout


def test_tcp_53_elsewhere_is_not_the_stub(nbj, world):
    # TCP to port 53 of any other address is an ordinary connection: policy decides
    cp, res = probe(["dns_tcp", "198.51.100.53", 53, "allowed.test"], allow=["allowed.test"])
    assert res[0]["outcome"] == "error:EACCES", res
    assert [d[3] for d in deny_lines(cp.stderr)] == ["not-allowed"], cp.stderr
