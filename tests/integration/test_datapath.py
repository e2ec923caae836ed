# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_datapath.py - the one data path (issue 15)

Theory of operation: every job runs in a user namespace with a network
namespace of its own that holds only lo.  lo carries the job's addresses
(10.231.0.2/32, fd6e:626a:6169::2/128) and both default routes; the
job's nftables table (inet nbjail), inside that netns only, redirects
every TCP connection to a non-local address to the relay's listening
socket and every DNS query to its DNS socket (both on 127.0.0.1 and ::1,
made in the job's netns), and drops the rest.  The host's netns gains no
link, no address and no rule.

These tests check each of those properties from outside the job where
they can (ip -n, nft, nsenter -n into the job's netns) and from inside
it.  The autouse no_leaks fixture fails any of them if a detector of the
world saw a packet.
"""
import json
import os
import signal

from conftest import (HOST_NS, PYTHON, ROOTLESS, deny_lines, job_netns_pid, job_ruleset, nbjail,
                      nft_tables, probe, read_line, run, wait_host_clean)

if ROOTLESS:
    from conftest import ROOTLESS_UID


def host_link_table():
    """{ifindex: ifname} of every link in the host netns"""
    cp = run(["ip", "-n", HOST_NS, "-j", "link", "show"], check=True)
    return {link["ifindex"]: link["ifname"] for link in json.loads(cp.stdout)}


def host_nft_table_names():
    """names of every nftables table of the host netns, all families"""
    cp = run(["nft", "list", "tables"], ns=HOST_NS, check=True)
    return [line.split()[-1] for line in cp.stdout.splitlines() if line.startswith("table ")]


def start_sleeper(spawn, marker, *extra):
    """A net job that says "started" and sleeps; returns (process, pid of
    the workload, for nsenter -n into the job's netns)"""
    p = spawn("run", "--profile", "net", *extra, "--", "sh", "-c",
              'echo started; sleep 30', marker)
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    pid = job_netns_pid(marker)
    assert pid, "the job's workload was not found"
    return p, pid


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 128 + signal.SIGTERM, p.stderr.read()


def test_host_netns_gains_nothing(spawn, world):
    """A running net job adds no link to the host's netns (before issue 15:
    a veth, nbh<id>) and no nftables table (before: inet nbjail with a
    chain per job); its ruleset, with the redirect chain, is in its own
    netns."""
    links_before = host_link_table()
    tables_before = host_nft_table_names()
    assert "nbjail" not in tables_before
    marker = f"nbt-dp-host-{os.getpid()}"
    p, pid = start_sleeper(spawn, marker, "--allow", "198.51.100.10:80")
    try:
        assert os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat(f"/run/netns/{HOST_NS}").st_ino
        assert host_link_table() == links_before
        assert host_nft_table_names() == tables_before   # no new table, of any name
        assert ("inet", "nbjail") not in nft_tables()
        chains = job_ruleset(pid).get(("inet", "nbjail"), [])
        assert {"guard", "redirect", "output"} <= set(chains), chains
        # and the job's netns has lo only
        cp = run(["nsenter", "-t", pid, "-n", "ip", "-j", "link", "show"], check=True)
        assert [link["ifname"] for link in json.loads(cp.stdout)] == ["lo"], cp.stdout
    finally:
        stop(p)
    assert host_link_table() == links_before
    assert wait_host_clean(world) == []


RESOLVE_AND_FETCH = r"""
import json, socket, subprocess
ai = socket.getaddrinfo("allowed.test", 80, 0, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
out = {"families": sorted({a[0].name for a in ai})}
for flag, url in (("-4", "http://allowed.test/"), ("-6", "http://allowed.test/"),
                  ("-4", "http://198.51.100.10/"), ("-6", "http://[2001:db8::10]/")):
    cp = subprocess.run(["curl", "-sS", flag, "--max-time", "5", url],
                        capture_output=True, text=True)
    out[flag + " " + url] = [cp.returncode, cp.stdout, cp.stderr]
print(json.dumps(out))
"""


def test_names_resolve_and_fetch_in_both_families(nbj, world):
    """With only lo, the job still has a global address of each family, so
    getaddrinfo(AI_ADDRCONFIG) asks for and returns both A and AAAA
    answers; and a connection of either family leaves through the relay
    (fails without the job's addresses or either default route)."""
    cp = nbjail("run", "--allow", "allowed.test", "--allow", "198.51.100.10:80",
                "--allow", "[2001:db8::10]:80", "--", PYTHON, "-I", "-c", RESOLVE_AND_FETCH)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    out = json.loads(cp.stdout.strip().splitlines()[-1])
    assert out["families"] == ["AF_INET", "AF_INET6"], out
    for key in ("-4 http://allowed.test/", "-6 http://allowed.test/"):
        rc, body, err = out[key]
        assert rc == 0 and body in ("world 198.51.100.10:80\n", "world [2001:db8::10]:80\n"), \
            (key, rc, body, err)
    assert out["-4 http://198.51.100.10/"][:2] == [0, "world 198.51.100.10:80\n"], out
    assert out["-6 http://[2001:db8::10]/"][:2] == [0, "world [2001:db8::10]:80\n"], out
    # the relay refused nothing (glibc's getaddrinfo connects UDP sockets
    # to the answers to sort them: the notifier refuses those, which the
    # sorting survives)
    assert [d for d in deny_lines(cp.stderr) if not d[2].startswith("pid=")] == [], cp.stderr
    # both literal fetches reached the world, from the host's own addresses
    peers = {local: peer.rsplit(":", 1)[0] for local, peer in world.accesses()}
    assert peers.get("198.51.100.10:80") == "192.0.2.1", world.accesses()
    assert peers.get("[2001:db8::10]:80") == "[2001:db8:1::1]", world.accesses()
    world.clear()


ROOT_TRIES = (
    'touch /etc/{name} 2>&1; echo "touch=$?"; '
    'cat /etc/shadow >/dev/null 2>&1; echo "shadow=$?"; '
    'mknod /tmp/{name} b 8 0 2>&1; echo "mknod=$?"; '
    'echo "map=$(cat /proc/self/uid_map)"; echo "id=$(id -u)"'
)


def test_root_in_the_job_is_not_root_on_the_host(nbj, world):
    """--user root is uid 0 of the job's user namespace only, mapped to an
    unprivileged host uid (SUDO_UID or 65534): it cannot write the host's
    /etc, read /etc/shadow or make a device node (8:0, /dev/sda's).
    Before issue 15 it was the host's root: all three worked."""
    name = f"nbt-dp-root-{os.getpid()}"
    made = [f"/etc/{name}", f"/tmp/{name}"]   # what a failure could leave on the host
    assert not any(os.path.lexists(f) for f in made)
    try:
        cp = nbjail("run", "--user", "root", "--", "sh", "-c", ROOT_TRIES.format(name=name))
        left = [f for f in made if os.path.lexists(f)]
    finally:
        for f in made:
            if os.path.lexists(f):
                os.unlink(f)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert left == [], left
    lines = dict(ln.split("=", 1) for ln in cp.stdout.splitlines() if "=" in ln)
    assert lines["id"] == "0", cp.stdout
    assert lines["touch"] != "0" and not os.path.exists(f"/etc/{name}"), cp.stdout
    assert lines["shadow"] != "0", cp.stdout
    assert lines["mknod"] != "0" and "Operation not permitted" in cp.stdout, cp.stdout
    inside, outside, count = lines["map"].split()
    assert inside == "0" and outside != "0", lines["map"]
    # nbjail runs without SUDO_* (nbjail_env()): root's job maps to 65534;
    # a rootless nbjail's, to its caller
    expected = str(ROOTLESS_UID) if ROOTLESS else "65534"
    assert outside == expected and count == "1", lines["map"]


SEND_OUT = r"""
import json, socket, sys
res = {}
for host, port in (("203.0.113.10", 9), ("198.51.100.10", 9999), ("192.0.2.1", 9999)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"nbt-dp-udp", (host, port))
        res[f"udp {host}:{port}"] = "sent"
    except OSError as e:
        res[f"udp {host}:{port}"] = e.errno
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect(("203.0.113.10", 80))
    res["tcp"] = "connected"
except OSError as e:
    res["tcp"] = type(e).__name__
print(json.dumps(res))
"""


def output_drops(pid):
    cp = run(["nsenter", "-t", pid, "-n", "nft", "-j", "list", "chain", "inet", "nbjail",
              "output"], check=True)
    for o in json.loads(cp.stdout)["nftables"]:
        for e in o.get("rule", {}).get("expr", []):
            if "counter" in e:
                return e["counter"]["packets"]
    raise AssertionError(f"no counter in the output chain: {cp.stdout}")


def test_without_its_ruleset_the_job_has_nothing(spawn, world):
    """The ruleset is not what keeps a job in: its only link is lo and its
    default routes point there.  The job's own datagrams are refused by
    the seccomp notifier; sent by another process in its netns (nsenter,
    no filter), they are dropped and counted by the ruleset, and once the
    ruleset is deleted they still go nowhere (no_leaks: neither the world
    nor the host's detectors see them), and a TCP connection, which the
    ruleset redirected to the relay, fails."""
    marker = f"nbt-dp-norules-{os.getpid()}"
    cp = nbjail("run", "--allow", "0.0.0.0/0", "--", "sh", "-c", "ip -j route show")
    assert cp.returncode == 0, cp.stderr
    assert [(r["dst"], r["dev"], r.get("gateway")) for r in json.loads(cp.stdout)] == \
        [("default", "lo", None)], cp.stdout
    _cp, (res,) = probe(["udp", "203.0.113.10", 9], allow=["0.0.0.0/0"])
    assert res["outcome"] == "error:EACCES", res

    p, pid = start_sleeper(spawn, marker, "--allow", "0.0.0.0/0")
    try:
        dropped = output_drops(pid)
        cp = run(["nsenter", "-t", pid, "-n", PYTHON, "-I", "-c", SEND_OUT], check=True)
        res = json.loads(cp.stdout)
        assert all(v != "sent" for k, v in res.items() if k.startswith("udp")), res
        assert output_drops(pid) >= dropped + 3
        # TCP is redirected to the relay, which may dial it (allowed)
        assert res["tcp"] == "connected", res
        accesses = len(world.accesses("203.0.113.10:80"))
        assert accesses == 1, world.accesses()
        run(["nsenter", "-t", pid, "-n", "nft", "delete", "table", "inet", "nbjail"], check=True)
        cp = run(["nsenter", "-t", pid, "-n", PYTHON, "-I", "-c", SEND_OUT], check=True)
        res = json.loads(cp.stdout)
        # sent this time (nothing drops them in the job's netns any more)...
        assert all(v == "sent" for k, v in res.items() if k.startswith("udp")), res
        assert res["tcp"] != "connected", res
    finally:
        stop(p)
    # ... and went nowhere: no_leaks checks every detector after the test
    assert len(world.accesses("203.0.113.10:80")) == accesses, world.accesses()
    world.clear()


def test_relay_listener_is_not_a_way_out(nbj, world):
    """The relay's listening socket is in the job's netns, on 127.0.0.1 (and
    ::1, see test_network.py): a job connecting to it directly, bypassing
    the redirect, gives the relay no original destination but the
    listener's own, a loopback address the floor refuses at once; nothing
    is dialled."""
    cp, (res,) = probe(["tcp_listener", "127.0.0.1"], allow=["0.0.0.0/0", "::/0"])
    assert "port" in res, res
    assert res["outcome"] in ("refused", "reset", "eof"), res
    assert res["elapsed"] < 2.0, res
    assert "status" not in res, res
    assert [(d[1], d[3]) for d in deny_lines(cp.stderr)] == \
        [(f"127.0.0.1:{res['port']}", "floor:loopback")], cp.stderr
    assert world.accesses() == []
