# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_limits.py - `limits: {pids, memory}` and
--limit-pids / --limit-memory

Theory of operation: a job with limits runs in a cgroup of its own
(common/cgroup.c): cgroup v2 where the hierarchy offers pids and memory,
else, as root on a hybrid host, the cgroup v1 pids and memory hierarchies.
The tests find the job's cgroups from the outside, by a process of the job
(/proc/PID/cgroup, full paths) and the machine's /sys/fs/cgroup, whichever
layout it has; `hierarchy_used()` says which one a job used and the
session prints it.  Enforcement is observed inside the job (fork fails
with EAGAIN, the memory hog is SIGKILLed: exit 137) and the limits are
read back outside.  Where the caller cannot have limits (rootless without
a delegated cgroup v2 subtree), `nbjail run` exits 125 with one line and
starts nothing.
"""
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (NBJAIL, PYTHON, ROOTLESS, as_caller, nbjail, nbjail_env, needs_root,
                      processes, read_line, run, wait_for)

CGROUP = Path("/sys/fs/cgroup")
TEST_UID = 61996          # no passwd entry: a user only this file uses
FORK_LIMIT = 20

FORK_BOMB = """
import errno, json, os, signal, sys, time
kids, err = [], None
for i in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.kill(k, signal.SIGKILL)
for k in kids:
    os.waitpid(k, 0)
print(json.dumps({"forked": len(kids), "errno": err}), flush=True)
"""

MEMORY_HOG = """
b = bytearray(256 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
print("survived", flush=True)
"""


def v2_mount():
    for d in (CGROUP, CGROUP / "unified"):
        if (d / "cgroup.controllers").exists():
            return d
    return None


def cgroup_dirs(pid):
    """{controller: host directory} of the cgroups of pid that hold its
    pids and memory limits: "v2" for the unified one, "pids" and "memory"
    for v1 hierarchies"""
    dirs = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if hid == "0" and v2_mount():
                dirs["v2"] = v2_mount() / path.lstrip("/")
            for c in ("pids", "memory"):
                if c in ctrls.split(","):
                    dirs[c] = CGROUP / ctrls / path.lstrip("/")
    return dirs


def limit_files(pid):
    """{"pids": file, "memory": file} holding the job's limits, and the
    hierarchy they are in ("cgroup v2" or "cgroup v1")"""
    d = cgroup_dirs(pid)
    if "v2" in d and (d["v2"] / "pids.max").exists() and "nbjail" in str(d["v2"]):
        return {"pids": d["v2"] / "pids.max", "memory": d["v2"] / "memory.max"}, "cgroup v2"
    return {"pids": d["pids"] / "pids.max",
            "memory": d["memory"] / "memory.limit_in_bytes"}, "cgroup v1"


def job_cgroups(pid):
    """The job's own cgroup directories (named after the job)"""
    return {k: v for k, v in cgroup_dirs(pid).items() if "nbjail" in str(v)}


def workload_pid(marker, timeout=15):
    """The pid of the job's process whose command line holds marker"""
    exe = os.path.realpath(NBJAIL)

    def find():
        for pid, _cmd in processes(lambda pid, cmd: marker in cmd):
            try:
                if os.readlink(f"/proc/{pid}/exe") != exe:
                    return pid
            except OSError:
                continue
        return None
    return wait_for(find, timeout)


def start_sleeper(marker, *flags):
    """nbjail run FLAGS -- python (prints "started", sleeps), in the
    caller's namespaces; returns the Popen"""
    script = "import time; print('started', flush=True); time.sleep(60)"
    p = subprocess.Popen(as_caller([NBJAIL, "run", "--profile", "minimal", *flags, "--",
                                    PYTHON, "-c", script, marker]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=nbjail_env())
    line = read_line(p.stdout, 15)
    if line != "started\n":
        p.kill()
        pytest.fail(f"the job did not start: {line!r} {p.stderr.read()}")
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    for s in (p.stdout, p.stderr):
        s.close()


def write_policy(tmp_path, text, name="policy.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ---------------------------------------------------------------- off

def test_limits_off_by_default(nbj):
    """Without limits the job is in no cgroup of its own and may start
    more processes than any limit of these tests would allow."""
    script = FORK_BOMB.replace("range(200)", "range(60)")
    cp = run(as_caller([NBJAIL, "run", "--profile", "minimal", "--", PYTHON, "-c",
                        "import sys; print(open('/proc/self/cgroup').read(), flush=True)\n"
                        + script]), env=nbjail_env(), timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert "nbjail" not in cp.stdout, cp.stdout
    assert json.loads(cp.stdout.strip().splitlines()[-1]) == {"forked": 60, "errno": None}


# ---------------------------------------------------------------- enforcement

@needs_root("limits need cgroup v2 controllers delegated, or cgroup v1 as root")
def test_fork_bomb_is_bounded(nbj, world):
    """pids: 20 counts every task of the job, its init and the workload
    included: the 19th child of the workload fails with EAGAIN, the job
    ends on its own in bounded time, and nothing of it is left."""
    marker = f"nbt-forkbomb-{os.getpid()}"
    t0 = time.monotonic()
    cp = nbjail("run", "--profile", "minimal", "--limit-pids", str(FORK_LIMIT), "--",
                PYTHON, "-c", FORK_BOMB, marker, timeout=60)
    elapsed = time.monotonic() - t0
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    result = json.loads(cp.stdout.strip().splitlines()[-1])
    assert result["errno"] == errno.EAGAIN, result
    # the job's init and the workload itself are 2 of the 20
    assert result["forked"] == FORK_LIMIT - 2, result
    assert elapsed < 30, elapsed
    assert wait_for(lambda: not processes(lambda pid, cmd: marker in cmd), 5)


@needs_root("limits need cgroup v2 controllers delegated, or cgroup v1 as root")
def test_pids_1_leaves_no_room(nbj):
    """The job's init is one of the tasks: pids: 1 cannot start the command,
    and says so (status 125, not a silent failure)."""
    cp = nbjail("run", "--profile", "minimal", "--limit-pids", "1", "--", "echo", "started")
    assert cp.returncode == 125, (cp.returncode, cp.stdout, cp.stderr)
    assert cp.stdout == ""
    assert "limits: pids: 1 leaves no room" in cp.stderr, cp.stderr
    cp = nbjail("run", "--profile", "minimal", "--limit-pids", "2", "--", "echo", "started")
    assert (cp.returncode, cp.stdout) == (0, "started\n"), cp.stderr


@needs_root("limits need cgroup v2 controllers delegated, or cgroup v1 as root")
def test_memory_hog_is_killed(nbj, world):
    """memory: 32M and a workload that touches 256M: the kernel's OOM
    killer ends it within the job, exit status 128+9; a job within its
    limit runs as usual."""
    cp = nbjail("run", "--profile", "minimal", "--limit-memory", "32M", "--",
                PYTHON, "-c", MEMORY_HOG, timeout=60)
    assert cp.returncode == 128 + signal.SIGKILL, (cp.returncode, cp.stdout, cp.stderr)
    assert "survived" not in cp.stdout
    cp = nbjail("run", "--profile", "minimal", "--limit-memory", "64M", "--",
                PYTHON, "-c", "b = bytearray(8 << 20); print('fine')", timeout=60)
    assert (cp.returncode, cp.stdout) == (0, "fine\n"), cp.stderr


@needs_root("limits need cgroup v2 controllers delegated, or cgroup v1 as root")
def test_limits_set_outside_and_flags_narrow(nbj, tmp_path):
    """The limits are in the job's cgroup(s), read back from the host: the
    smaller of policy and flag wins, either way round; memory is not
    dodged by swap.  The job's cgroups go with it."""
    policy = write_policy(tmp_path, "limits:\n  pids: 50\n  memory: 64M\n")
    marker = f"nbt-limits-{os.getpid()}"
    for flags, want in ((["--limit-pids", "30", "--limit-memory", "1G"], (30, 64 << 20)),
                        (["--limit-pids", "100", "--limit-memory", "48M"], (50, 48 << 20))):
        p = start_sleeper(marker, "--policy", policy, *flags)
        try:
            pid = workload_pid(marker)
            assert pid
            files, hierarchy = limit_files(pid)
            sys.stderr.write(f"\njob limits exercised in {hierarchy}\n")
            assert int(files["pids"].read_text()) == want[0]
            assert int(files["memory"].read_text()) == want[1]
            if hierarchy == "cgroup v2":
                swap = files["memory"].parent / "memory.swap.max"
                assert not swap.exists() or swap.read_text().strip() == "0"
            else:
                memsw = files["memory"].parent / "memory.memsw.limit_in_bytes"
                if memsw.exists():
                    assert int(memsw.read_text()) == want[1]
                else:
                    assert (files["memory"].parent / "memory.swappiness").read_text() == "0\n"
            mine = job_cgroups(pid)
            assert mine, cgroup_dirs(pid)
            # the job's init is in it too (all of the job, not only the workload)
            init = int(open(f"/proc/{pid}/status").read().split("PPid:")[1].split()[0])
            assert job_cgroups(init) == mine
        finally:
            stop(p)
        assert wait_for(lambda: not any(d.exists() for d in mine.values()), 10), mine


def test_bad_limit_flags_are_usage_errors(nbj, tmp_path):
    marker = tmp_path / "ran"
    for flag, value in (("--limit-pids", "0"), ("--limit-pids", "-1"), ("--limit-pids", "x"),
                        ("--limit-pids", "4194305"), ("--limit-memory", "1M"),
                        ("--limit-memory", "12X"), ("--limit-memory", "10mb"),
                        ("--limit-memory", ""), ("--limit-memory", "-5M")):
        cp = nbjail("run", "--profile", "minimal", flag, value, "--", "touch", str(marker))
        assert cp.returncode == 2, (flag, value, cp.stderr)
        assert f"{flag} '{value}'" in cp.stderr, cp.stderr
        assert not marker.exists()


@pytest.mark.parametrize("text,where,field,words", [
    ("limits:\n  pids: 0\n", "2:9", "limits.pids", "not a number of tasks"),
    ("limits:\n  pids: ten\n", "2:9", "limits.pids", "not a number of tasks"),
    ("limits:\n  memory: 1M\n", "2:11", "limits.memory", "at least 4M"),
    ("limits:\n  memory: 12X\n", "2:11", "limits.memory", "not a size"),
    ("limits:\n  memory: 64mb\n", "2:11", "limits.memory", "not a size"),
    ("limits:\n  memory: 4000KB\n", "2:11", "limits.memory", "at least 4M"),
    ("limits: {pids: [1]}\n", "1:16", "limits.pids", "expected a number"),
    ("limits:\n  cpu: 2\n", "2:3", "limits", "unknown key 'cpu'"),
    ("limits: 20\n", "1:9", "limits", "expected a mapping"),
    ("limits: {pids: 5, pids: 6}\n", "1:19", "limits.pids", "given twice"),
])
def test_bad_policy_limits(nbj, tmp_path, text, where, field, words):
    """A bad limit names file, line, column and field; nothing starts."""
    path = write_policy(tmp_path, text)
    cp = nbjail("check", path)
    assert cp.returncode == 2, (cp.stdout, cp.stderr)
    assert cp.stderr.startswith(f"nbjail: {path}:{where}: {field}: "), cp.stderr
    assert words in cp.stderr, cp.stderr
    marker = tmp_path / "ran"
    cp = nbjail("run", "--policy", path, "--profile", "minimal", "--", "touch", str(marker))
    assert cp.returncode == 2 and f"{path}:{where}: {field}: " in cp.stderr, cp.stderr
    assert not marker.exists()


def test_check_prints_limits(nbj, tmp_path):
    path = write_policy(tmp_path, "limits: {pids: 64, memory: 2G}\n")
    cp = nbjail("check", path)
    assert cp.returncode == 0, cp.stderr
    assert "limits:\n  pids: 64\n  memory: 2147483648\n" in cp.stdout, cp.stdout
    again = write_policy(tmp_path, cp.stdout, "again.yaml")
    assert nbjail("check", again).stdout.splitlines()[1:] == cp.stdout.splitlines()[1:]


# ---------------------------------------------------------------- unavailable

@pytest.fixture
def test_user_xdg():
    """An XDG_RUNTIME_DIR for TEST_UID, which no cgroup is delegated to"""
    d = tempfile.mkdtemp(prefix="nbt-limits-xdg.", dir="/tmp")
    os.chown(d, TEST_UID, TEST_UID)
    os.chmod(d, 0o700)
    try:
        yield d
    finally:
        subprocess.run(["rm", "-rf", d], check=False)


@needs_root("runs nbjail as another unprivileged user")
def test_unavailable_limits_exit_125(nbj, test_user_xdg):
    """Rootless without a delegated cgroup v2 subtree (and cgroup v1 is
    never delegated): limits cannot be enforced, so the job does not
    start: exit 125, one line with the cause and the fix.  The same job
    without limits runs."""
    cmd = ["setpriv", f"--reuid={TEST_UID}", f"--regid={TEST_UID}", "--clear-groups",
           NBJAIL, "run", "--profile", "minimal"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR": test_user_xdg}
    cp = run(cmd + ["--", "echo", "started"], env=env)
    assert (cp.returncode, cp.stdout) == (0, "started\n"), cp.stderr
    for flags in (["--limit-pids", "20"], ["--limit-memory", "64M"]):
        cp = run(cmd + flags + ["--", "echo", "started"], env=env)
        assert cp.returncode == 125, (flags, cp.returncode, cp.stderr)
        lines = cp.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("nbjail: limits: "), lines
        assert "cannot be enforced" in lines[0], lines
        assert "run it as root" in lines[0] or "run nbjail as root" in lines[0], lines
        assert cp.stdout == ""


@pytest.mark.skipif(not ROOTLESS, reason="the rootless pass of tests/run-all.sh")
def test_rootless_limits_enforced_or_refused(nbj):
    """In rootless mode: enforced (a delegated subtree) or exit 125, never
    run without."""
    cp = nbjail("run", "--profile", "minimal", "--limit-pids", str(FORK_LIMIT), "--",
                PYTHON, "-c", FORK_BOMB, timeout=60)
    if cp.returncode == 125:
        assert "cannot be enforced" in cp.stderr, cp.stderr
        return
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout.strip().splitlines()[-1])["errno"] == errno.EAGAIN


# ---------------------------------------------------------------- gc

@needs_root("limits need cgroup v2 controllers delegated, or cgroup v1 as root")
def test_gc_removes_cgroups_after_sigkill(nbj):
    """SIGKILL of nbjail: the job dies with it but its cgroups stay (no
    keeper got a handover); nbjail gc removes them."""
    marker = f"nbt-limits-gc-{os.getpid()}"
    p = start_sleeper(marker, "--limit-pids", "30", "--limit-memory", "64M")
    try:
        pid = workload_pid(marker)
        assert pid
        mine = job_cgroups(pid)
        assert mine, cgroup_dirs(pid)
        os.kill(p.pid, signal.SIGKILL)
        assert p.wait(timeout=5) == -signal.SIGKILL
        assert wait_for(lambda: not processes(lambda pid, cmd: marker in cmd), 10)
    finally:
        stop(p)
    time.sleep(1.0)
    assert all(d.exists() for d in mine.values()), mine
    time.sleep(1.5)   # gc leaves cgroups younger than 2 s alone (common/cgroup.c)
    cp = run(as_caller([NBJAIL, "gc"]), env=nbjail_env(), timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert "removed its cgroup" in cp.stdout + cp.stderr, (cp.stdout, cp.stderr)
    assert not any(d.exists() for d in mine.values()), mine


# ---------------------------------------------------------------- the job's view

CANNOT_ESCAPE = r"""
import ctypes, errno, glob, json, os
libc = ctypes.CDLL(None, use_errno=True)
tries = {}
def attempt(name, fn):
    try:
        fn()
        tries[name] = "ok"
    except OSError as e:
        tries[name] = errno.errorcode.get(e.errno, str(e.errno))
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
mine = [l.split(":", 2) for l in open("/proc/self/cgroup").read().splitlines()]
targets = [p for p in glob.glob("/sys/fs/cgroup/**/nbjail*", recursive=True)
           if os.path.isdir(p)]
for d in targets:
    for f in ("pids.max", "memory.max", "memory.limit_in_bytes",
              "memory.memsw.limit_in_bytes", "memory.swap.max"):
        if os.path.exists(f"{d}/{f}"):
            attempt(f"{d}/{f}", lambda: write(f"{d}/{f}", "max" if "max" in f else "-1"))
    attempt(f"{d}/mkdir", lambda: os.mkdir(f"{d}/escape"))
for procs in glob.glob("/sys/fs/cgroup/cgroup.procs") + glob.glob("/sys/fs/cgroup/*/cgroup.procs"):
    attempt(procs, lambda: write(procs, str(os.getpid())))
def mount(fstype, opts):
    if libc.mount(b"none", b"/tmp", fstype, 0, opts) != 0:
        raise OSError(ctypes.get_errno(), "mount")
attempt("mount cgroup pids", lambda: mount(b"cgroup", b"pids"))
attempt("mount cgroup memory", lambda: mount(b"cgroup", b"memory"))
attempt("mount cgroup2", lambda: mount(b"cgroup2", None))
def unshare_cgroup():
    if libc.unshare(0x02000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
attempt("unshare(CLONE_NEWCGROUP)", unshare_cgroup)
print(json.dumps({"targets": targets, "tries": tries, "cgroup": mine}), flush=True)
"""


@needs_root("limits need cgroup v2 controllers delegated, or cgroup v1 as root")
def test_job_cannot_raise_or_leave_its_limits(nbj):
    """Run where /sys/fs/cgroup is mounted (not under `ip netns exec`), so
    the job sees the tree: read-only (supervisor/mounts.c).  It can neither
    write its pids.max or memory limit, nor join another cgroup, nor mount
    a cgroup file system of its own, nor leave its cgroup namespace; the
    fork bomb after all that is bounded as before."""
    if not (CGROUP / "cgroup.procs").exists() and not (CGROUP / "pids").exists():
        pytest.skip("this mount namespace shows no cgroup tree")
    cp = run(as_caller([NBJAIL, "run", "--profile", "minimal", "--limit-pids",
                        str(FORK_LIMIT), "--limit-memory", "64M", "--", PYTHON, "-c",
                        CANNOT_ESCAPE + FORK_BOMB]), env=nbjail_env(), timeout=60)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    out = [json.loads(line) for line in cp.stdout.strip().splitlines()]
    view, bomb = out[0], out[1]
    assert view["targets"], view     # the job's cgroup is in sight, read-only
    assert any(t.endswith("pids.max") for t in view["tries"]), view
    for name, result in view["tries"].items():
        assert result != "ok", (name, view)
        if name.startswith("/sys/fs/cgroup/"):
            # the tree is read-only (supervisor/mounts.c); its files also
            # belong to host root, which the job's root is not (EACCES)
            assert result == "EROFS", (name, view)
    assert bomb == {"forked": FORK_LIMIT - 2, "errno": errno.EAGAIN}, bomb
