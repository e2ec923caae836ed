# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_world.py - the test world works, detectors are not deaf

These tests do not use nbjail.  They prove that the servers answer from
the host netns and that each kind of leak detector records what it is
meant to record, so that a silent detector cannot let a product test pass.
"""
import json

from conftest import (HOST_NS, INTERNAL, PYTHON, PROBE, WORLD_NS, run)
import world as worldmod


def host_probe(*steps):
    cp = run([PYTHON, "-I", PROBE, json.dumps(list(steps))], ns=HOST_NS, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def expect_leak(world, text):
    seen = world.leaks()
    world.clear()
    assert any(text in s for s in seen), f"expected a leak record containing {text!r}, got {seen}"
    return seen


def test_http_servers_reachable_from_host(world):
    cp = run(["curl", "-sS", "--max-time", "5", "http://198.51.100.10/"], ns=HOST_NS)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "world 198.51.100.10:80\n"
    res = host_probe(["tcp", "2001:db8::10", 80], ["tcp", "198.51.100.10", 8080],
                     ["tcp", "203.0.113.10", 80])
    assert [r["body"] for r in res] == ["world [2001:db8::10]:80\n", "world 198.51.100.10:8080\n",
                                        "world 203.0.113.10:80\n"]
    assert ("198.51.100.10:80", "192.0.2.1:" + world.accesses("198.51.100.10:80")[0][1].split(":")[-1]) \
        in world.accesses()
    assert world.leaks() == []


def test_big_download_integrity(world):
    (res,) = host_probe(["big", "198.51.100.10", 80, 4])
    assert res["outcome"] == "data" and res["length"] == 4 << 20
    assert res["sha256"] == worldmod.big_sha256(4)


def test_tcp_detector_records_internal_target(world):
    (res,) = host_probe(["tcp", "10.0.0.1", 80])
    assert (res["outcome"], res["status"], res["body"]) == ("data", "NBT-LEAK-DETECTOR", "leaked\n")
    seen = expect_leak(world, "world detector: tcp to 10.0.0.1:80 from 192.0.2.1:")
    assert any("IPv4 to an internal address" in s for s in seen), seen


def test_every_internal_target_is_watched(world):
    steps = [["tcp", a, 443] for a in INTERNAL]
    res = host_probe(*steps)
    assert all(r["outcome"] == "data" and r["status"] == "NBT-LEAK-DETECTOR" for r in res), res
    seen = world.leaks()
    world.clear()
    for a in INTERNAL:
        assert any(f"tcp to {worldmod.fmt_addr(a, 443)} from" in s for s in seen), (a, seen)


def test_udp_detector(world):
    host_probe(["udp", "198.51.100.10", 9999])
    seen = expect_leak(world, "world detector: udp to 198.51.100.10:9999 from 192.0.2.1:")
    assert any("UDP" in s for s in seen), seen
    host_probe(["dns", "2001:db8::10", 53, "example.test"])
    expect_leak(world, "world detector: udp to [2001:db8::10]:53 from [2001:db8:1::1]:")


def test_icmp_detector(world):
    (res,) = host_probe(["ping", "198.51.100.10"])
    assert res["outcome"] == "reply", res
    seen = expect_leak(world, "world detector: icmp to 198.51.100.10 from 192.0.2.1")
    assert any("ICMP echo request" in s for s in seen), seen
    (res,) = host_probe(["ping", "2001:db8::10"])
    assert res["outcome"] == "reply", res
    expect_leak(world, "world detector: icmpv6 to 2001:db8::10 from 2001:db8:1::1")


def test_host_detectors(world):
    host_probe(["tcp", "127.0.0.1", 8081], ["tcp", "192.0.2.1", 80], ["tcp", "::1", 8081],
               ["udp", "127.0.0.1", 9999])
    seen = world.leaks()
    world.clear()
    for text in ("host detector: tcp to 0.0.0.0:8081 from 127.0.0.1:",
                 "host detector: tcp to 0.0.0.0:80 from 192.0.2.1:",
                 "host detector: tcp to [::]:8081 from [::1]:",
                 "host detector: udp to 127.0.0.1:9999 from 127.0.0.1:"):
        assert any(text in s for s in seen), (text, seen)


def test_foreign_source_counter(world):
    # A packet from an address other than the host's arriving in the world
    # is what routing a job's packet would look like.
    run(["ip", "-n", HOST_NS, "addr", "add", "192.0.2.99/24", "dev", "wan0"], check=True)
    try:
        cp = run([PYTHON, "-c", "import socket; s=socket.socket(); s.settimeout(2); "
                  "s.bind(('192.0.2.99', 0)); s.connect(('198.51.100.10', 80))"], ns=HOST_NS)
        assert cp.returncode == 0, cp.stderr
    finally:
        run(["ip", "-n", HOST_NS, "addr", "del", "192.0.2.99/24", "dev", "wan0"], check=True)
    expect_leak(world, "IPv4 from a source other than the host")


def test_world_namespace_is_isolated(world):
    # The world has no route anywhere but its own link: nothing can leave it.
    cp = run(["ip", "-j", "route", "show", "default"], ns=WORLD_NS, check=True)
    assert json.loads(cp.stdout) == []
    cp = run(["ip", "-6", "-j", "route", "show", "default"], ns=WORLD_NS, check=True)
    assert json.loads(cp.stdout) == []
