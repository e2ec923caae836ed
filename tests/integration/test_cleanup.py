# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_cleanup.py - nothing is left behind, even after SIGKILL"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import pytest

from conftest import (HOST_NS, NBJAIL, PROBE, PYTHON, RUN_DIR, TAG, host_links, host_problems,
                      job_dirs, job_netns_pid, job_relay_pid, job_ruleset, nbjail, nbjail_cmd,
                      nbjail_env, netns_inode, nft_tables, processes, read_line, run,
                      scribble_mapping, wait_for, wait_host_clean)

RUNS = 100


def test_clean_before(nbj, world):
    # The other tests in this file assume a clean start; say so if not.
    assert wait_host_clean(world) == []


@pytest.mark.slow
def test_sequential_runs_leave_nothing(nbj, world):
    t0 = time.monotonic()
    for i in range(RUNS):
        cp = nbjail("run", "--profile", "net", "--", "true", timeout=30)
        assert cp.returncode == 0, (i, cp.stderr)
        assert cp.stderr == "", (i, cp.stderr)
    elapsed = time.monotonic() - t0
    sys.stderr.write(f"\n{RUNS} sequential net jobs: {elapsed:.2f} s "
                     f"({elapsed / RUNS * 1000:.1f} ms each, incl. ip netns exec)\n")
    assert wait_host_clean(world, timeout=3.0) == []


def test_minimal_leaves_nothing(nbj, world):
    for _ in range(5):
        cp = nbjail("run", "--profile", "minimal", "--", "true")
        assert cp.returncode == 0, cp.stderr
    assert wait_host_clean(world) == []


def test_failed_setup_leaves_nothing(nbj, world):
    cp = nbjail("run", "--profile", "net", "--", "/nonexistent")
    assert cp.returncode == 127
    assert wait_host_clean(world) == []


def test_refused_setup_leaves_nothing(nbj, world):
    """A job refused before its command starts (status 125) leaves nothing,
    not even its state directory (5 tries: the keeper races the refusal)."""
    try:
        for _ in range(5):
            cp = nbjail("run", "--profile", "minimal", "--write", "/nonexistent-nbt", "--", "true")
            assert cp.returncode == 125, cp.stderr
            assert "--write: /nonexistent-nbt" in cp.stderr, cp.stderr
        assert wait_host_clean(world) == []
    finally:
        nbjail("gc", timeout=30)   # what is left must not fail the tests after this one


def assert_nothing_in_host_netns(*namespaces):
    """A job has no link to the host and no rules there: each netns keeps
    only the links it was made with and holds no nftables table (the
    world made none there: any table is the job's)."""
    assert host_links() == {}, host_links()
    for ns in (HOST_NS, *namespaces):
        assert nft_tables(ns) == [], (ns, nft_tables(ns))
    for ns in namespaces:
        links = run(["ip", "-n", ns, "-j", "link", "show"], check=True).stdout
        assert [link["ifname"] for link in json.loads(links)] == ["lo"], (ns, links)


def test_sigkill_then_gc(spawn, world):
    """SIGKILL of nbjail: the job's processes die with it (PDEATHSIG), it
    never had anything in the host netns (no link, no nbjail table: its
    filter lives in its own netns and goes with it), and the only thing
    left, its state directory, is removed by nbjail gc."""
    marker = f"nbt-sigkill-{os.getpid()}"
    before = job_dirs()
    p = spawn("run", "--profile", "net", "--", "/usr/bin/python3", "-c",
              "import sys, time; print('started', flush=True); time.sleep(30)", marker)
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    new = wait_for(lambda: job_dirs() - before, timeout=5)
    assert len(new) == 1, new
    (job_id,) = new
    assert_nothing_in_host_netns()
    pid = job_netns_pid(marker)
    assert pid, "the job's workload was not found"
    assert "redirect" in job_ruleset(pid).get(("inet", "nbjail"), []), job_ruleset(pid)

    os.kill(p.pid, signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL

    # The job and its relay die with nbjail; its netns (and ruleset) with them.
    def job_gone():
        problems = host_problems(world, marker=marker)
        return not any(s.startswith("processes") for s in problems)
    try:
        assert wait_for(job_gone, timeout=5), host_problems(world, marker=marker)
    finally:
        # whatever survived must not spoil the tests after this one
        for pid, _cmd in processes(lambda pid, cmd: marker in cmd):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert_nothing_in_host_netns()

    # What only gc may remove: the state directory (and the control
    # socket, when the killed supervisor held it).
    leftovers = host_problems(world, marker=marker)
    assert f"left in {RUN_DIR}: {job_id}" in leftovers, leftovers
    # (and the claim of the job's per-job ids, whose keeper died too)
    assert {x for x in leftovers if not x.startswith("per-job id claims left")} <= \
        {f"left in {RUN_DIR}: {job_id}", f"left in {RUN_DIR}: ctl.sock"}, leftovers
    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    assert job_id in cp.stdout + cp.stderr, (leftovers, cp.stdout, cp.stderr)
    assert host_problems(world, marker=marker) == [], f"before gc: {leftovers}"

    # gc is idempotent and quiet when nothing is left.
    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert job_id not in cp.stdout + cp.stderr


def test_gc_leaves_running_jobs_alone(spawn, world, job_tmp):
    go = job_tmp / "go"
    step = '[["tcp", "198.51.100.10", 80]]'
    before = job_dirs()
    p = spawn("run", "--profile", "net", "--allow", "198.51.100.10:80", "--write", str(job_tmp),
              "--", "sh", "-c",
              f"echo started; i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; "
              f"i=$((i+1)); done; exec {PYTHON} -I {PROBE} '{step}'")
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    (job_id,) = wait_for(lambda: job_dirs() - before, timeout=5)
    pid = job_netns_pid(str(go))
    assert pid, "the job's workload was not found"
    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert p.poll() is None, "gc killed a running job"
    assert f"{job_id}: alive" in cp.stdout, (cp.stdout, cp.stderr)
    # gc touched neither the job's state nor its ruleset, and it has
    # nothing in the host netns for gc to touch
    assert os.path.isdir(os.path.join(RUN_DIR, job_id))
    assert "redirect" in job_ruleset(pid).get(("inet", "nbjail"), []), job_ruleset(pid)
    assert_nothing_in_host_netns()
    go.touch()
    # The job's relay still works after gc.
    assert p.wait(timeout=20) == 0, p.stderr.read()
    assert '"body": "world 198.51.100.10:80\\n"' in p.stdout.read()
    assert wait_host_clean(world) == []


SLEEPER = "import time; print('ready', flush=True); time.sleep(30)"


def test_gc_frees_tenant_slots_by_root_files_not_the_mapping(spawn, world):
    """Every relay of a tenant maps the tenant's file read-write (issue 16,
    item 7).  A relay that claims every slot in it, each "owned" by its own
    live job as the old layout named owners (32-byte slots: used, job id,
    count), locks its tenant out until gc runs; gc must decide which slots
    live jobs hold from their supervisors' info files and free the rest.
    Before, gc believed the job ids in the mapping: the forged owner was
    alive, so every slot stayed taken and no job of the tenant could start."""
    before = job_dirs()
    a = spawn("run", "--tenant", "blue", "--", PYTHON, "-I", "-c", SLEEPER)
    assert read_line(a.stdout, 15) == "ready\n"
    (a_id,) = job_dirs() - before
    tenant_file = os.path.join(RUN_DIR, "tenants", "blue")
    # (in today's layout, 16-byte slots of claim and count, every claim
    # is nonzero, half of them the "being released" mark)
    chunk = struct.pack("<I8s8s4sQ", 1, a_id.encode(), b"\0" + b"\x01" * 7, b"\x01" * 4,
                        0xFFFFFFFFFFFFFFFF)
    assert len(chunk) == 32

    def claim_all(old):
        body = bytes(chunk[k % 32] for k in range(16, len(old)))
        return old[:16] + body
    scribble_mapping(job_relay_pid(a_id), tenant_file, claim_all)

    b = spawn("run", "--tenant", "blue", "--", PYTHON, "-I", "-c", SLEEPER)
    assert b.wait(timeout=20) != 0, "the scribble did not take every slot"
    assert "cannot join tenant blue" in b.stderr.read()

    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert f"{a_id}: alive" in cp.stdout, cp.stdout
    assert a.poll() is None, "gc killed a running job"
    c = spawn("run", "--tenant", "blue", "--", PYTHON, "-I", "-c", SLEEPER)
    line = read_line(c.stdout, 15)
    assert line == "ready\n", (line, c.stderr.read() if c.poll() is not None else "")
    # the slot the live job holds (its info file says which) stayed claimed
    with open(os.path.join(RUN_DIR, a_id, "info")) as f:
        slot = int(dict(x.strip().split("=", 1) for x in f)["tenant_slot"])
    with open(tenant_file, "rb") as f:
        data = f.read()
    claims = [struct.unpack_from("<Q", data, 40 + 16 * i)[0] for i in range(256)]
    assert claims[slot] != 0, "gc freed the slot of a live job"
    assert sum(1 for c in claims if c) == 2, "gc left forged claims: " + repr(
        [i for i, c in enumerate(claims) if c])

    for p in (a, c):
        p.terminate()
        p.wait(timeout=15)
    assert wait_for(lambda: not os.path.exists(tenant_file), 10), "the tenant file stayed"
    assert wait_for(lambda: not (job_dirs() - before), 10), job_dirs() - before


def test_jobs_in_two_netns_leave_no_table_or_link(spawn, world, job_tmp):
    """Jobs started from two network namespaces of one machine (same
    /run/nbjail) add no link and no nbjail table to either, at any time:
    the ruleset and the addresses live in each job's own netns.  (Before
    issue 15 each netns had a shared table that the last job out removed.)"""
    other = f"nbt-host2-{TAG}"
    go = job_tmp / "go"
    wait_go = (f"echo started; i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; "
               "i=$((i+1)); done")
    run(["ip", "netns", "add", other], check=True)
    q = None
    try:
        run(["ip", "-n", other, "link", "set", "lo", "up"], check=True)
        assert_nothing_in_host_netns(other)
        p = spawn("run", "--profile", "net", "--write", str(job_tmp), "--", "sh", "-c", wait_go)
        assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
        q = subprocess.Popen(nbjail_cmd("run", "--profile", "net", "--write", str(job_tmp),
                                        "--", "sh", "-c", wait_go, ns=other),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=nbjail_env())
        assert read_line(q.stdout, 15) == "started\n", q.stderr.read() if q.poll() is not None else ""
        assert len(job_dirs()) == 2, job_dirs()
        for _ in range(5):       # while both run
            assert_nothing_in_host_netns(other)
            time.sleep(0.1)
        cp = run(nbjail_cmd("run", "--profile", "net", "--", "true", ns=other), env=nbjail_env())
        assert cp.returncode == 0, cp.stderr
        assert_nothing_in_host_netns(other)
        go.touch()
        assert p.wait(timeout=20) == 0, p.stderr.read()
        assert q.wait(timeout=20) == 0, q.stderr.read()
        assert_nothing_in_host_netns(other)
        # the cleanup child of the last job may still be finishing
        assert wait_for(lambda: job_dirs() == set(), timeout=2), job_dirs()
    finally:
        go.touch()
        if q is not None:
            if q.poll() is None:
                q.kill()
            q.communicate(timeout=10)
        run(["ip", "netns", "del", other])
    assert wait_host_clean(world) == []


def _cleanup_children(marker):
    """pids of nbjail-cleanup processes of the nbjail run carrying marker."""
    out = []
    for pid, cmd in processes(lambda pid, cmd: marker in cmd):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "nbjail-cleanup":
                    out.append(pid)
        except OSError:
            pass
    return out


def test_async_teardown_vanishes(nbj, world):
    """nbjail run exits once the status is known; its cleanup child
    removes the rest (its state) within 2 s of that."""
    marker = f"nbt-async-{os.getpid()}"
    for code in (0, 3):
        cp = nbjail("run", "--profile", "net", "--", "sh", "-c", f"exit {code}", marker)
        assert cp.returncode == code, cp.stderr
        assert cp.stderr == "", cp.stderr
        assert wait_host_clean(world, timeout=2.0, marker=marker) == []
        assert _cleanup_children(marker) == []


def _keeper(supervisor_pid):
    """pid of the job's keeper (the cleanup child to be): the supervisor's
    child that runs nbjail in the host netns and has a child of its own
    (the audit writer); the reaper is in the job's netns, the relay has
    no child."""
    exe = os.path.realpath(NBJAIL)
    host_ino = netns_inode(HOST_NS)

    def children(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []
    for pid in children(supervisor_pid):
        try:
            if os.readlink(f"/proc/{pid}/exe") != exe:
                continue
        except OSError:
            continue
        if os.stat(f"/proc/{pid}/ns/net").st_ino == host_ino and children(pid):
            return pid
    return None


def test_gc_after_cleanup_child_killed(spawn, world, job_tmp):
    """SIGKILL of the cleanup child before it is done: the job's lock goes
    with it and nbjail gc removes the state it left.  (It is held stopped
    through the handover, so it cannot finish first; with no veth or
    host chain any more, the state directory is all a job leaves.)"""
    marker = f"nbt-cleanupkill-{os.getpid()}"
    go = job_tmp / "go"
    before = job_dirs()
    p = spawn("run", "--profile", "net", "--write", str(job_tmp), "--", "sh", "-c",
              f"echo started; i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; "
              "i=$((i+1)); done", marker)
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    (job_id,) = wait_for(lambda: job_dirs() - before, timeout=5)
    keeper = wait_for(lambda: _keeper(p.pid), timeout=5)
    assert keeper, "the job's keeper was not found"
    os.kill(keeper, signal.SIGSTOP)
    try:
        go.touch()
        assert p.wait(timeout=20) == 0, p.stderr.read()
        with open(f"/proc/{keeper}/comm") as f:
            assert f.read().strip() in ("nbjail", "nbjail-cleanup")
        # stopped, the keeper holds the job's lock: gc leaves the job alone
        cp = nbjail("gc", timeout=30)
        assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
        assert f"{job_id}: alive" in cp.stdout, (cp.stdout, cp.stderr)
        assert os.path.isdir(os.path.join(RUN_DIR, job_id))
    finally:
        os.kill(keeper, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{keeper}/ns"), timeout=2)
    assert os.path.isdir(os.path.join(RUN_DIR, job_id))
    assert_nothing_in_host_netns()
    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    assert f"{job_id}: removed" in cp.stdout, (cp.stdout, cp.stderr)
    assert host_problems(world, marker=marker) == []
    assert wait_host_clean(world, marker=marker) == []


def test_gc_removes_a_directory_left_without_its_lock(nbj, world):
    """An interrupted removal left job directories holding a lone `info`
    and no lock, which gc skipped as "still starting" forever; past a
    grace of seconds they are removed, a young one is left alone."""
    import conftest
    uid = conftest.CALLER_UID
    gid = conftest.CALLER_GID
    os.makedirs(RUN_DIR, exist_ok=True)
    old, young = os.path.join(RUN_DIR, "0ddf00d0"), os.path.join(RUN_DIR, "0ddf00d1")
    try:
        for d in (old, young):
            os.mkdir(d, 0o700)
            with open(os.path.join(d, "info"), "w") as f:
                f.write("name=x\n")
            os.chown(os.path.join(d, "info"), uid, gid)
            os.chown(d, uid, gid)
        past = time.time() - 60
        os.utime(old, (past, past))
        cp = nbjail("gc")
        assert cp.returncode == 0, cp
        assert "0ddf00d0: removed" in cp.stdout and not os.path.exists(old), cp.stdout
        assert "0ddf00d1: skipped: still starting" in cp.stdout and os.path.isdir(young), cp.stdout
    finally:
        for d in (old, young):
            shutil.rmtree(d, ignore_errors=True)
