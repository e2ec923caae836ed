# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_policy.py - policy files, `nbjail check`, floor exceptions

A bad policy names file, line, column and field, exits 2 and starts
nothing; a good one is enforced exactly like the same flags; a floor
exception lets exactly its target through, and is logged when the job
starts and each time it is used.
"""
import json
import re

import pytest

from conftest import deny_lines, host_links, nbjail, probe

DETECTOR_BANNER = "NBT-LEAK-DETECTOR"


def write(tmp_path, text, name="policy.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_check_prints_effective_policy(nbj, tmp_path):
    path = write(tmp_path, "profile: net\n"
                           "allow: ['198.51.100.10:80', '2001:db8::/32', '[2001:db8::10]:443']\n"
                           "floor_exceptions:\n  - 10.0.0.1:80\n"
                           "unix_allow: [/run/user/1000//bus, /tmp/.X11-unix/X0]\n")
    cp = nbjail("check", path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[1:] == [
        "profile: net",
        "allow:",
        '  - "198.51.100.10:80"',
        '  - "2001:db8::/32"',
        '  - "[2001:db8::10]:443"',
        "floor_exceptions:",
        '  - "10.0.0.1:80"',
        "permissions: {network.select: deny}",
        "unix_allow:",
        '  - "/run/user/1000/bus"',
        '  - "/tmp/.X11-unix/X0"',
    ]
    # what check prints is itself a valid policy with the same meaning
    again = write(tmp_path, cp.stdout, "again.yaml")
    cp2 = nbjail("check", again)
    assert cp2.returncode == 0, cp2.stderr
    assert cp2.stdout.splitlines()[1:] == cp.stdout.splitlines()[1:]


def test_check_empty_policy_grants_nothing(nbj, tmp_path):
    cp = nbjail("check", write(tmp_path, ""))
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[1:] == ["profile: net", "allow: []", "floor_exceptions: []",
                                         "permissions: {network.select: deny}",
                                         "unix_allow: []"]


@pytest.mark.parametrize("text,where,field,words", [
    ("profile: net\nallow:\n  - 198.51.100.10\n  - '*example.com'\n", "4:5", "allow[1]", "not a host"),
    ("allow:\n  - 1.2.3\n", "2:5", "allow[0]", "not a host"),
    ("allow:\n  - 0x7f.0.0.1\n", "2:5", "allow[0]", "not a host"),
    ("floor_exceptions:\n  - registry.test\n", "2:5", "floor_exceptions[0]", "never a name"),
    ("allow: 1.2.3.4\n", "1:8", "allow", "expected a list"),
    ("allow:\n  - [1.2.3.4]\n", "2:5", "allow[0]", "expected a string"),
    ("profile: net\npermission: {network.select: deny}\n", "2:1", "permission", "unknown key"),
    ("profile: [net]\n", "1:10", "profile", "expected a profile name"),
    ("allow: []\nallow: []\n", "2:1", "allow", "given twice"),
    ("- 1.2.3.4\n", "1:1", "policy", "expected a mapping"),
    ("allow: [1.2.3.4\n", "2:1", "policy", "YAML error"),
    ("floor_exceptions:\n  - 10.0.0.1/8\n", "2:5", "floor_exceptions[0]", "not an IP"),
    ("unix_allow: [run/x.sock]\n", "1:14", "unix_allow[0]", "not an absolute socket path"),
    ("unix_allow: [/run/../tmp/x]\n", "1:14", "unix_allow[0]", "no . or .. components"),
    ("unix_allow: /tmp/x\n", "1:13", "unix_allow", "expected a list of paths"),
])
def test_check_rejects_bad_policy(nbj, tmp_path, text, where, field, words):
    path = write(tmp_path, text)
    cp = nbjail("check", path)
    assert cp.returncode == 2, (cp.stdout, cp.stderr)
    assert cp.stderr.startswith(f"nbjail: {path}:{where}: {field}: "), cp.stderr
    assert words in cp.stderr, cp.stderr
    assert cp.stdout == ""


def test_check_unknown_profile_names_line(nbj, tmp_path):
    path = write(tmp_path, "# comment\nprofile: nett\n")
    cp = nbjail("check", path)
    assert cp.returncode == 2
    assert cp.stderr.strip() == f"nbjail: {path}:2: profile: unknown profile 'nett' (minimal, compute, net or browse)"


def test_check_missing_file_and_usage(nbj, tmp_path):
    cp = nbjail("check", str(tmp_path / "nope.yaml"))
    assert cp.returncode == 2 and "No such file" in cp.stderr
    cp = nbjail("check")
    assert cp.returncode == 2 and "Usage:" in cp.stderr


def test_bad_policy_starts_nothing(nbj, world, tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, "allow: [198.51.100.10:80]\npublish: 1\n")
    # (a known key with a bad value: the error names file, line and field)
    cp = nbjail("run", "--policy", path, "--", "touch", str(marker))
    assert cp.returncode == 2, cp.stderr
    assert f"{path}:2:10: publish: expected a list" in cp.stderr, cp.stderr
    assert not marker.exists()
    assert not host_links()


def test_policy_file_is_enforced_and_flags_add(nbj, world, tmp_path):
    path = write(tmp_path, "profile: net\nallow: ['198.51.100.10:80']\n")
    cp, res = probe(["tcp", "198.51.100.10", 80], ["tcp", "198.51.100.11", 80],
                    extra=("--policy", path))
    assert res[0]["outcome"] == "data" and res[0]["body"] == "world 198.51.100.10:80\n", res
    assert res[1]["outcome"] == "error:EACCES", res
    assert [d[3] for d in deny_lines(cp.stderr)] == ["not-allowed"]

    # --allow adds to the file's list
    cp, res = probe(["tcp", "198.51.100.10", 80], ["tcp", "198.51.100.11", 80],
                    allow=["198.51.100.11:80"], extra=("--policy", path))
    assert [r["outcome"] for r in res] == ["data", "data"], res


def test_policy_profile_and_flag_override(nbj, world, tmp_path):
    # both profiles have lo only; the net profile's lo also holds the job's
    # addresses (and its ruleset sends them to a relay)
    show = ["sh", "-c", "ls /sys/class/net; ip -o addr show dev lo scope global"]
    path = write(tmp_path, "profile: compute\n")
    cp = nbjail("run", "--policy", path, "--", *show)
    assert cp.returncode == 0 and cp.stdout.split() == ["lo"], cp
    cp = nbjail("run", "--policy", path, "--profile", "net", "--", *show)
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    assert lines[0] == "lo", cp
    assert sorted(ln.split()[3] for ln in lines[1:]) == ["10.231.0.2/32", "fd6e:626a:6169::2/128"], cp


IN_FORCE = re.compile(r"^nbjail-relay\[[0-9a-f]{8}\]: floor exception in force: (\S+)$", re.M)
USED = re.compile(r"^nbjail-relay\[[0-9a-f]{8}\]: floor-exception tcp (\S+) from (\S+) "
                  r"class=(\S+) exception=(\S+)$", re.M)


def _assert_exception_used(cp, res, world):
    assert res["outcome"] == "data" and res["status"] == DETECTOR_BANNER, res
    assert IN_FORCE.findall(cp.stderr) == ["10.0.0.1:80"], cp.stderr
    used = USED.findall(cp.stderr)
    assert len(used) == 1, cp.stderr
    target, peer, cls, exc = used[0]
    assert (target, cls, exc) == ("10.0.0.1:80", "floor:private", "10.0.0.1:80")
    assert re.fullmatch(r"10\.231\.\d+\.\d+:\d+", peer), peer
    assert deny_lines(cp.stderr) == []
    # the detector saw exactly this one connection, dialled by the relay
    leaks = world.leaks()
    assert any("tcp to 10.0.0.1:80 from 192.0.2.1:" in l for l in leaks), leaks
    world.clear()  # expected traffic: not a leak for the autouse check


def test_floor_exception_flag(nbj, world):
    cp, (res,) = probe(["tcp", "10.0.0.1", 80], allow=["10.0.0.1:80"],
                       extra=("--floor-exception", "10.0.0.1:80"))
    _assert_exception_used(cp, res, world)


def test_floor_exception_from_policy_file(nbj, world, tmp_path):
    path = write(tmp_path, "allow: ['10.0.0.1:80']\nfloor_exceptions: ['10.0.0.1:80']\n")
    cp, (res,) = probe(["tcp", "10.0.0.1", 80], extra=("--policy", path))
    _assert_exception_used(cp, res, world)


def test_floor_exception_is_narrow(nbj, world):
    # the exception needs an allow rule too, and covers only its own port/address
    cp, res = probe(["tcp", "10.0.0.1", 80], ["tcp", "10.0.0.1", 22], ["tcp", "172.16.0.1", 80],
                    allow=["0.0.0.0/0"], extra=("--floor-exception", "10.0.0.1:80"))
    assert res[0]["outcome"] == "data", res  # exception + allow-all: passes
    world.clear()
    assert [r["outcome"] for r in res[1:]] == ["error:EACCES"] * 2, res
    reasons = {d[1]: d[3] for d in deny_lines(cp.stderr)}
    assert reasons == {"10.0.0.1:22": "floor:private", "172.16.0.1:80": "floor:private"}, cp.stderr

    cp, (res,) = probe(["tcp", "10.0.0.1", 80], allow=["198.51.100.10:80"],
                       extra=("--floor-exception", "10.0.0.1:80"))
    assert res["outcome"] == "error:EACCES", res
    assert [d[3] for d in deny_lines(cp.stderr)] == ["not-allowed"]


def test_floor_exception_bad_pattern(nbj):
    cp = nbjail("run", "--floor-exception", "10.0.0.1/8", "--", "true")
    assert cp.returncode == 2 and "--floor-exception '10.0.0.1/8'" in cp.stderr, cp.stderr


def test_site_policy_is_narrowed_never_widened(nbj, world, tmp_path):
    """--site-policy: --policy and --allow within it narrow the job; one
    rule beyond it, or a field only a site may set, starts nothing"""
    site = write(tmp_path, "allow: ['198.51.100.0/24']\n", "site.yaml")
    narrow = write(tmp_path, "allow: ['198.51.100.10:80']\n", "narrow.yaml")
    cp, res = probe(["tcp", "198.51.100.10", 80], ["tcp", "198.51.100.11", 80],
                    extra=("--site-policy", site, "--policy", narrow))
    assert [r["outcome"] for r in res] == ["data", "error:EACCES"], res
    # the site's list alone when the user narrows nothing
    cp, res = probe(["tcp", "198.51.100.11", 80], ["tcp", "203.0.113.10", 80],
                    extra=("--site-policy", site))
    assert [r["outcome"] for r in res] == ["data", "error:EACCES"], res

    marker = tmp_path / "ran"
    wide = write(tmp_path, "allow: ['198.51.100.0/23']\n", "wide.yaml")
    exception = write(tmp_path, "floor_exceptions: ['10.0.0.1']\n", "exception.yaml")
    for args, words in (
            (["--policy", wide], f"{wide}: allow '198.51.100.0/23': outside the site"),
            (["--allow", "203.0.113.10:80"], "the command line: allow '203.0.113.10:80': outside"),
            (["--policy", exception], f"{exception}: floor_exceptions: only the site"),
            (["--floor-exception", "10.0.0.1"], "the command line: floor_exceptions: only the site"),
            (["--unix-allow", "/run/x.sock"], "the site policy's alone")):
        cp = nbjail("run", "--site-policy", site, *args, "--", "touch", str(marker))
        assert cp.returncode == 2, (args, cp.stderr)
        assert words in cp.stderr, (args, cp.stderr)
        assert not marker.exists()


def test_audit_field_in_json_lines(nbj, world, tmp_path):
    """--audit-field: on every event of the job; keys outside the
    embedders' prefixes are refused"""
    log = tmp_path / "audit.jsonl"
    cp, res = probe(["tcp", "169.254.169.254", 80], extra=(
        "--audit-log", str(log), "--no-journal",
        "--audit-field", "NBJAIL_SLURM_JOB_ID=4242"))
    assert res[0]["outcome"] != "data", res
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["event"] for e in events} >= {"job-start", "deny", "job-end"}, events
    assert all(e.get("slurm_job_id") == "4242" for e in events), events
    for bad in ("NBJAIL_TENANT=x", "MESSAGE=x", "NBJAIL_SLURM_JOB_ID=\"x\""):
        cp = nbjail("run", "--audit-field", bad, "--", "true")
        assert cp.returncode == 2 and "--audit-field" in cp.stderr, (bad, cp.stderr)
