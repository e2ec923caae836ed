# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_rootless.py - nbjail run without root (issue 15)

Every test here runs nbjail as an unprivileged uid (TEST_UID, no passwd
entry, no capabilities, no setuid helper) with an XDG_RUNTIME_DIR of its
own, in both passes of the suite (as root and rootless).  They check that
the same enforcement holds, and that what the kernel or the caller cannot
give fails loudly, with status 125 and one line naming the cause, before
the command runs (each command would exit 42 if it ran).
"""
import json
import subprocess
import os
import shutil

import pytest

from conftest import HOST_NS, NBJAIL, PYTHON, probe_cmd, run, wait_for

TEST_UID = 61998          # no passwd entry: a user only this file uses
PATH_ENV = "/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture
def xdg():
    """A private XDG_RUNTIME_DIR for TEST_UID (not under /tmp: the job has
    a private /tmp, and nothing of the job needs it anyway)"""
    d = f"/run/nbt-rootless-{os.getpid()}"
    os.makedirs(d, mode=0o700)
    os.chown(d, TEST_UID, TEST_UID)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_user(*cmd):
    return ["setpriv", f"--reuid={TEST_UID}", f"--regid={TEST_UID}", "--clear-groups",
            "--inh-caps=-all", "--", *cmd]


def rootless(xdg, *args, env=None, timeout=60):
    e = {"PATH": PATH_ENV}
    if xdg:
        e["XDG_RUNTIME_DIR"] = xdg
    e.update(env or {})
    return run(["ip", "netns", "exec", HOST_NS, *as_user(NBJAIL, *args)], env=e,
               timeout=timeout)


def test_runs_as_the_caller_in_its_own_user_namespace(nbj, xdg):
    cp = rootless(xdg, "run", "--profile", "minimal", "--", "sh", "-c",
                  "id -u; cat /proc/self/uid_map")
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.split()
    assert lines[0] == str(TEST_UID), cp.stdout
    # exactly one id mapped, the caller to itself
    assert lines[1:] == [str(TEST_UID), str(TEST_UID), "1"], cp.stdout
    # the state went where the caller's state goes, and is gone again
    # once the job's keeper has finished (it outlives nbjail briefly)
    assert os.listdir(xdg) == ["nbjail"]

    def jobs():
        return [e for e in os.listdir(os.path.join(xdg, "nbjail"))
                if len(e) == 8 and all(c in "0123456789abcdef" for c in e)]
    wait_for(lambda: not jobs(), 10)


def test_user_root_is_the_caller_outside(nbj, xdg):
    cp = rootless(xdg, "run", "--profile", "minimal", "--user", "root", "--", "sh", "-c",
                  "id -u; cat /proc/self/uid_map; touch /etc/nbjail-rootless-x; echo rc=$?")
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.split()
    assert out[:4] == ["0", "0", str(TEST_UID), "1"], cp.stdout
    assert "rc=0" not in cp.stdout and not os.path.exists("/etc/nbjail-rootless-x")


def test_names_and_the_floor_hold_rootless(nbj, world, xdg):
    """The relay runs as the caller and still decides: an allowed name is
    reached through its synthetic address, the metadata address is not."""
    steps = [["tcp", "allowed.test", 80], ["tcp", "169.254.169.254", 80]]
    cp = rootless(xdg, "run", "--allow", "allowed.test:80", "--",
                  *probe_cmd(*steps), timeout=90)
    assert cp.returncode == 0, cp.stderr
    results = json.loads(cp.stdout.strip().splitlines()[-1])
    assert results[0]["outcome"] == "data", results
    assert results[1]["outcome"] not in ("data", "connected"), results
    assert "169.254.169.254" in cp.stderr and "floor:" in cp.stderr, cp.stderr


def test_other_user_refused(nbj, xdg):
    cp = rootless(xdg, "run", "--profile", "minimal", "--user", "1", "--", "sh", "-c", "exit 42")
    assert cp.returncode == 125, (cp.returncode, cp.stderr)
    assert "without root, a job runs as you" in cp.stderr, cp.stderr


def test_no_xdg_runtime_dir_is_a_clear_error(nbj):
    cp = rootless(None, "run", "--profile", "minimal", "--", "sh", "-c", "exit 42")
    assert cp.returncode == 125, (cp.returncode, cp.stderr)
    assert "XDG_RUNTIME_DIR is not set" in cp.stderr, cp.stderr


def test_low_published_port_is_a_clear_error(nbj, xdg):
    p = os.path.join(xdg, "p.yaml")  # a file the caller may read
    with open(p, "w") as f:
        f.write("publish: [{port: 80, to: 8080}]\n")
    os.chmod(p, 0o644)
    cp = rootless(xdg, "run", "--policy", str(p), "--", "sh", "-c", "exit 42")
    assert cp.returncode == 125, (cp.returncode, cp.stderr)
    assert "ip_unprivileged_port_start" in cp.stderr, cp.stderr


LIMIT_CHILD = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
uid, xdg, go = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if libc.unshare(0x10000000) != 0:
    sys.exit("unshare: %d" % ctypes.get_errno())
os.write(1, b"u")
os.read(go, 1)                   # the parent wrote our maps
with open("/proc/sys/user/max_user_namespaces", "w") as f:
    f.write("0")                 # our children may have no user namespace
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
os.execve(sys.argv[4], sys.argv[4:], {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": xdg})
"""


def test_user_namespaces_off_is_loud_and_starts_nothing(nbj, xdg):
    """user.max_user_namespaces = 0, set by the owner of a user namespace
    for its children: nbjail cannot make the job's user namespace and says
    so, naming the knob; the command never runs."""
    r, w = os.pipe()
    cmd = ["ip", "netns", "exec", HOST_NS, PYTHON, "-c", LIMIT_CHILD, str(TEST_UID), xdg,
           str(r), NBJAIL, "run", "--profile", "minimal", "--", "sh", "-c", "exit 42"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(r,))
    os.close(r)
    try:
        assert p.stdout.read(1) == b"u"
        # `ip netns exec` may fork: then our python is its child
        kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        pid = int(kids[0]) if kids else p.pid
        for name, first in (("uid_map", TEST_UID), ("gid_map", TEST_UID)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(f"0 0 1\n{first} {first} 1\n")
        os.write(w, b"g")
        out, err = p.communicate(timeout=60)
    finally:
        os.close(w)
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode()
    assert p.returncode == 125, (p.returncode, out, err)
    assert "user.max_user_namespaces" in err, err
