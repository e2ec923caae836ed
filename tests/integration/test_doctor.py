# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_doctor.py - nbjail doctor: what the host gives the caller

Theory of operation: doctor runs in the tests' host network namespace,
  - as root (the suite's user): everything nbjail run needs must pass;
  - as an unprivileged uid that the test makes up (setpriv --reuid: no
    passwd entry is needed, nothing on the machine changes) with an
    XDG_RUNTIME_DIR of its own under /tmp: the rootless answers;
  - with failures forced where a test can force them, each asserted on
    the named check, its cause and its fix, not only on the exit status:
      * user.max_user_namespaces = 0, written in a child user namespace
        (the namespace's root may lower the limit for its own children),
        by root and by the unprivileged uid;
      * XDG_RUNTIME_DIR unset, or not mode 0700, for a non-root caller;
      * inside an nbjail job, whose seccomp filter refuses
        unshare(CLONE_NEWUSER) with EPERM: the "container seccomp profile"
        cause.
In the rootless pass (NBT_ROOTLESS=1) the unprivileged uid is the test
user nbjail runs as there, and root's answers are skipped (they need root).
Every run is bounded by a subprocess timeout; doctor bounds each of its
own checks to 2 s.
"""
import json
import re
import os
import shutil
import tempfile

import pytest

from conftest import CALLER_UID, HOST_NS, NBJAIL, ROOTLESS, as_caller, nbjail_cmd, needs_root, run

# The checks in their documented order, and whether nbjail run needs them.
CHECKS = {
    "userns": True,
    "netns": True,
    "nftables": True,
    "seccomp_listener": True,
    "seccomp_continue": True,
    "seccomp_addfd": True,
    "seccomp_wait_killable": False,
    "pidfd_getfd": True,
    "openat2": True,
    "cgroup": False,
    "limits": False,
    "unprivileged_port_start": False,
    "journald": False,
    "oci": False,
    "state_dir": True,
}
STATUSES = {"pass", "fail", "skip", "info"}
# no passwd entry: a user only this test uses; rootless, the caller
TEST_UID = CALLER_UID if ROOTLESS else 61997
ROOTS_ANSWERS = needs_root("nbjail doctor as root: root's answers")
PATH_ENV = "/usr/sbin:/usr/bin:/sbin:/bin"


def doctor(*args, prefix=(), env=None, timeout=60):
    """Run [prefix...] nbjail doctor ARGS in the host netns with exactly @env."""
    cmd = ["ip", "netns", "exec", HOST_NS, *prefix, NBJAIL, "doctor", *args]
    return run(cmd, env={"PATH": PATH_ENV, **(env or {})}, timeout=timeout)


def as_test_user(*cmd):
    return ["setpriv", f"--reuid={TEST_UID}", f"--regid={TEST_UID}", "--clear-groups",
            *cmd]


def parse(cp):
    """The JSON document, checked against the schema of nbjail(1); by name."""
    assert cp.returncode in (0, 1), (cp.returncode, cp.stdout, cp.stderr)
    doc = json.loads(cp.stdout)
    assert set(doc) == {"version", "user", "full_enforcement", "checks"}, doc
    assert doc["version"] == 1
    assert set(doc["user"]) == {"uid", "root"}
    assert type(doc["user"]["uid"]) is int and type(doc["user"]["root"]) is bool
    assert type(doc["full_enforcement"]) is bool
    assert [c["name"] for c in doc["checks"]] == list(CHECKS), doc["checks"]
    for c in doc["checks"]:
        assert set(c) == {"name", "required", "status", "detail", "fix"}, c
        assert c["required"] is CHECKS[c["name"]], c
        assert c["status"] in STATUSES, c
        assert isinstance(c["detail"], str) and c["detail"].strip(), c
        assert isinstance(c["fix"], str), c
        assert "\n" not in c["detail"] and "\n" not in c["fix"], c
        if c["status"] == "pass":
            assert c["fix"] == "", c
    full = all(c["status"] == "pass" for c in doc["checks"] if c["required"])
    assert doc["full_enforcement"] is full, doc
    assert cp.returncode == (0 if full else 1), (cp.returncode, doc)
    return doc, {c["name"]: c for c in doc["checks"]}


@pytest.fixture
def xdg_dir():
    """An XDG_RUNTIME_DIR for TEST_UID: under /tmp (the uid can reach it), 0700."""
    d = tempfile.mkdtemp(prefix="nbt-doctor-xdg.", dir="/tmp")
    os.chown(d, TEST_UID, TEST_UID)
    os.chmod(d, 0o700)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- root

@ROOTS_ANSWERS
def test_root_full_enforcement(nbj, _journald):
    doc, by = parse(doctor("--json"))
    assert doc["user"] == {"uid": 0, "root": True}
    assert doc["full_enforcement"] is True
    for name, required in CHECKS.items():
        if required:
            assert by[name]["status"] == "pass", by[name]
    assert 'redirect to port 7777' in by["nftables"]["detail"]
    # root's job namespaces map 0 to an unprivileged id, never to host root
    assert "mapped 0 inside to uid 65534 outside" in by["userns"]["detail"], by["userns"]
    # `ip netns exec` mounts a sysfs of its own, without the cgroup2 mount:
    # reported, and not a reason for exit 1
    assert by["cgroup"]["status"] in ("pass", "fail"), by["cgroup"]
    assert "needed only for nbjail-select" in by["cgroup"]["detail"]
    # the job limits of nbjail run, tried the same way: this host (cgroup v2
    # with pids and memory, or a hybrid host's v1 hierarchies) or the cause
    assert by["limits"]["status"] in ("pass", "fail"), by["limits"]
    if by["limits"]["status"] == "pass":
        assert re.search(r"cgroup v[12]", by["limits"]["detail"]), by["limits"]
    else:
        assert "would not start (exit 125)" in by["limits"]["detail"], by["limits"]
    assert "/run/nbjail" in by["state_dir"]["detail"]
    assert by["unprivileged_port_start"]["status"] == "info"
    assert "net.ipv4.ip_unprivileged_port_start" in by["unprivileged_port_start"]["detail"]
    assert by["seccomp_wait_killable"]["status"] == "info"
    # the tests' own journald (conftest) answers; without one, the fallback is named
    if _journald.why_not:
        assert by["journald"]["status"] == "fail"
        assert "--audit-log" in by["journald"]["detail"]
    else:
        assert by["journald"]["status"] == "pass", by["journald"]


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


def own_cgroup_dir():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return cgroup2_mount() + line[3:].strip().rstrip("/")
    return None


@ROOTS_ANSWERS
def test_root_cgroup(nbj):
    """Outside `ip netns exec` the machine's cgroup2 mount is visible: root can
    make a child cgroup and move a process; the test cgroup is removed."""
    if cgroup2_mount() is None:
        pytest.fail("this host has no cgroup2 mount: the test needs one (root)")
    cp = run([NBJAIL, "doctor", "--json"], env={"PATH": PATH_ENV}, timeout=60)
    doc, by = parse(cp)
    assert by["cgroup"]["status"] == "pass", by["cgroup"]
    assert "needed only for nbjail-select" in by["cgroup"]["detail"]
    # the job limits of nbjail run, tried the same way: this host (cgroup v2
    # with pids and memory, or a hybrid host's v1 hierarchies) or the cause
    assert by["limits"]["status"] in ("pass", "fail"), by["limits"]
    if by["limits"]["status"] == "pass":
        assert re.search(r"cgroup v[12]", by["limits"]["detail"]), by["limits"]
    else:
        assert "would not start (exit 125)" in by["limits"]["detail"], by["limits"]
    left = [d for d in os.listdir(own_cgroup_dir()) if d.startswith("nbjail-doctor.")]
    assert left == []


@ROOTS_ANSWERS
def test_root_text_output(nbj):
    cp = doctor()
    assert cp.returncode == 0, cp.stdout + cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[0].startswith("nbjail doctor: uid 0 (root)"), lines
    names = [ln.split()[1] for ln in lines[1:-1] if not ln.startswith("      fix:")]
    assert names == list(CHECKS), lines
    for ln in lines[1:-1]:
        assert ln.split()[0] in ("ok", "FAIL", "skip", "info", "fix:"), ln
    assert [ln for ln in lines if ln.split()[1] == "userns"][0].startswith("ok "), lines
    assert lines[-1].startswith("full enforcement: yes"), lines


@pytest.mark.parametrize("args", [["--bogus"], ["--json", "extra"]], ids=["flag", "operand"])
def test_usage_error(nbj, args):
    cp = doctor(*args, prefix=as_caller([]))
    assert cp.returncode == 2, (cp.returncode, cp.stdout, cp.stderr)
    assert "Usage: nbjail doctor" in cp.stderr
    assert cp.stdout == ""


# ---------------------------------------------------------------- rootless

def test_unprivileged_user(nbj, xdg_dir):
    cp = doctor("--json", prefix=as_test_user(), env={"XDG_RUNTIME_DIR": xdg_dir})
    doc, by = parse(cp)
    assert doc["user"] == {"uid": TEST_UID, "root": False}
    # the rootless data path (shared/notes/rootless-data-path.md) works on this host kind
    for name in ("userns", "netns", "nftables", "seccomp_listener", "seccomp_continue",
                 "seccomp_addfd", "pidfd_getfd", "openat2"):
        assert by[name]["status"] == "pass", by[name]
    assert "SO_MARK could be set" in by["pidfd_getfd"]["detail"]
    assert f"mapped 0 inside to uid {TEST_UID} outside" in by["userns"]["detail"]
    assert by["state_dir"]["status"] == "pass", by["state_dir"]
    assert xdg_dir + "/nbjail" in by["state_dir"]["detail"]
    assert "below" in by["unprivileged_port_start"]["detail"]
    # no cgroup2 under `ip netns exec`: reported, but not a reason for exit 1
    if by["cgroup"]["status"] == "fail":
        assert "needed only for nbjail-select" in by["cgroup"]["detail"]
    # the job limits of nbjail run, tried the same way: this host (cgroup v2
    # with pids and memory, or a hybrid host's v1 hierarchies) or the cause
    assert by["limits"]["status"] in ("pass", "fail"), by["limits"]
    if by["limits"]["status"] == "pass":
        assert re.search(r"cgroup v[12]", by["limits"]["detail"]), by["limits"]
    else:
        assert "would not start (exit 125)" in by["limits"]["detail"], by["limits"]
        assert by["cgroup"]["fix"], by["cgroup"]
    if by["cgroup"]["status"] == "fail":
        assert doc["full_enforcement"] is True and cp.returncode == 0, doc
    # rootless podman: the OCI hook refuses, and doctor says so (nbjail-oci(8))
    if shutil.which("crun") or shutil.which("runc"):
        assert "the hook refuses every annotated container" in by["oci"]["detail"], by["oci"]
    # nothing left behind in the state directory
    assert os.listdir(xdg_dir) == []


def test_unprivileged_cgroup_not_delegated(nbj, xdg_dir):
    """Outside `ip netns exec`: the test uid's cgroup (root's) is not delegated
    to it; doctor says so, with the fix, and still exits 0."""
    if cgroup2_mount() is None:
        pytest.fail("this host has no cgroup2 mount: the test needs one")
    cp = run([*as_test_user(NBJAIL, "doctor", "--json")],
             env={"PATH": PATH_ENV, "XDG_RUNTIME_DIR": xdg_dir}, timeout=60)
    doc, by = parse(cp)
    cg = by["cgroup"]
    assert cg["status"] == "fail", cg
    assert f"not delegated to uid {TEST_UID}" in cg["detail"], cg
    assert "needed only for nbjail-select" in cg["detail"], cg
    assert "Delegate=yes" in cg["fix"], cg
    # limits: what nbjail run would say before exiting 125
    lim = by["limits"]
    assert lim["status"] == "fail", lim
    assert "would not start (exit 125)" in lim["detail"], lim
    assert f"delegated to uid {TEST_UID}" in lim["detail"] or "run nbjail as root" in lim["detail"], lim
    assert doc["full_enforcement"] is True and cp.returncode == 0, doc


def test_unprivileged_text_marks_optional_failure(nbj, xdg_dir):
    """Text output: the cgroup FAIL is marked [optional] with its fix line, and
    the verdict is still full enforcement (exit 0)."""
    if cgroup2_mount() is None:
        pytest.fail("this host has no cgroup2 mount: the test needs one")
    cp = run([*as_test_user(NBJAIL, "doctor")],
             env={"PATH": PATH_ENV, "XDG_RUNTIME_DIR": xdg_dir}, timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[0] == f"nbjail doctor: uid {TEST_UID} (not root: rootless mode)", lines
    i = next(i for i, ln in enumerate(lines) if ln.split()[1:2] == ["cgroup"])
    assert lines[i].startswith("FAIL  cgroup") and lines[i].endswith("[optional]"), lines[i]
    assert lines[i + 1].startswith("      fix: ") and "Delegate=yes" in lines[i + 1]
    assert lines[-1].startswith("full enforcement: yes"), lines


def test_unprivileged_without_xdg_runtime_dir(nbj):
    doc, by = parse(doctor("--json", prefix=as_test_user()))
    st = by["state_dir"]
    assert st["status"] == "fail", st
    assert "XDG_RUNTIME_DIR is not set" in st["detail"]
    assert "export XDG_RUNTIME_DIR=/run/user/$(id -u)" in st["fix"]
    assert "log in through a session that sets it" in st["fix"]
    assert doc["full_enforcement"] is False


def test_unprivileged_xdg_runtime_dir_mode(nbj, xdg_dir):
    os.chmod(xdg_dir, 0o755)
    doc, by = parse(doctor("--json", prefix=as_test_user(), env={"XDG_RUNTIME_DIR": xdg_dir}))
    st = by["state_dir"]
    assert st["status"] == "fail", st
    assert "mode 0755, not 0700" in st["detail"]
    assert st["fix"] == f"chmod 0700 {xdg_dir}"
    assert doc["full_enforcement"] is False


def test_json_escapes_what_the_environment_brings(nbj):
    """A hostile XDG_RUNTIME_DIR (quote, backslash, newline, control, invalid
    UTF-8) lands in a detail: the document must still parse, the detail
    still be one line."""
    weird = b'rel"ative\\dir\nwith\x01\xff'
    cp = run(["ip", "netns", "exec", HOST_NS, *as_test_user(), NBJAIL, "doctor", "--json"],
             env={b"PATH": PATH_ENV.encode(), b"XDG_RUNTIME_DIR": weird})
    doc, by = parse(cp)
    st = by["state_dir"]
    assert st["status"] == "fail", st
    # details stay on one line: control bytes become '?'; the rest is escaped
    assert st["detail"] == ('XDG_RUNTIME_DIR=rel"ative\\dir?with?\ufffd '
                            'is not an absolute path'), st
    assert '\\"ative\\\\dir' in cp.stdout and "\\ufffd" in cp.stdout


# ---------------------------------------------------------------- forced failures

@pytest.mark.parametrize("as_user", [pytest.param(False, marks=ROOTS_ANSWERS), True],
                         ids=["root", "unprivileged"])
def test_max_user_namespaces_zero(nbj, as_user):
    """The owner of a user namespace sets user.max_user_namespaces=0 in it;
    doctor, inside, must name that knob and exit 1."""
    script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" doctor --json'
    prefix = as_test_user() if as_user else []
    cmd = ["ip", "netns", "exec", HOST_NS, *prefix, "unshare", "-U", "-r", "--fork",
           "sh", "-c", script, NBJAIL]
    cp = run(cmd, env={"PATH": PATH_ENV}, timeout=60)
    doc, by = parse(cp)
    assert cp.returncode == 1
    u = by["userns"]
    assert u["status"] == "fail", u
    assert "user.max_user_namespaces is 0" in u["detail"], u
    assert "sysctl -w user.max_user_namespaces=" in u["fix"], u
    for name in ("netns", "nftables"):
        assert by[name]["status"] == "skip", by[name]
        assert "needs userns" in by[name]["detail"]
    assert doc["full_enforcement"] is False


def test_inside_a_job_names_the_seccomp_profile(nbj):
    """A job's seccomp filter refuses unshare(CLONE_NEWUSER) with EPERM and no
    sysctl is set: the cause is a seccomp profile, as in a container."""
    env = {"PATH": PATH_ENV}
    if ROOTLESS:
        from conftest import XDG_RUNTIME_DIR
        env["XDG_RUNTIME_DIR"] = XDG_RUNTIME_DIR
    cp = run(nbjail_cmd("run", "--profile", "minimal", "--", NBJAIL, "doctor", "--json"),
             env=env, timeout=60)
    doc, by = parse(cp)
    u = by["userns"]
    assert u["status"] == "fail", u
    assert "a seccomp profile of the container runtime refuses unshare(CLONE_NEWUSER)" \
        in u["detail"], u
    assert "seccomp" in u["fix"], u
    assert doc["full_enforcement"] is False
