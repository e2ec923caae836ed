# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_cleanup.py - nothing is left behind, even after SIGKILL"""
import os
import signal
import sys
import time

import pytest

from conftest import (NBJAIL, PROBE, PYTHON, RUN_DIR, TAG, nbjail_env, nft_tables, run, host_links, host_problems, nbjail, nft_chains, processes,
                      read_line, wait_for, wait_host_clean)

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


def test_sigkill_then_gc(spawn, world):
    marker = f"nbt-sigkill-{os.getpid()}"
    p = spawn("run", "--profile", "net", "--", "/usr/bin/python3", "-c",
              "import sys, time; print('started', flush=True); time.sleep(30)", marker)
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    links = wait_for(host_links, timeout=5)
    assert len(links) == 1, links
    job_id = next(iter(links))[len("nbh"):]
    assert len(job_id) == 8 and all(c in "0123456789abcdef" for c in job_id), job_id
    assert f"job_{job_id}" in nft_chains()
    assert os.path.isdir(os.path.join(RUN_DIR, job_id))

    os.kill(p.pid, signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL

    # The job, its relay and its netns (hence the veth) die with nbjail.
    def job_gone():
        problems = host_problems(world, marker=marker)
        return not any(s.startswith(("processes", "nbh links")) for s in problems)
    assert wait_for(job_gone, timeout=5), host_problems(world, marker=marker)

    # What only gc may remove: the state dir, the slot claim, the nft chain.
    leftovers = host_problems(world, marker=marker)
    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    assert job_id in cp.stdout + cp.stderr, (leftovers, cp.stdout, cp.stderr)
    assert host_problems(world, marker=marker) == [], f"before gc: {leftovers}"

    # gc is idempotent and quiet when nothing is left.
    cp = nbjail("gc", timeout=30)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert job_id not in cp.stdout + cp.stderr


def test_gc_leaves_running_jobs_alone(spawn, world, tmp_path):
    go = tmp_path / "go"
    step = '[["tcp", "198.51.100.10", 80]]'
    p = spawn("run", "--profile", "net", "--allow", "198.51.100.10:80", "--write", str(tmp_path),
              "--", "sh", "-c",
              f"echo started; i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; "
              f"i=$((i+1)); done; exec {PYTHON} -I {PROBE} '{step}'")
    assert read_line(p.stdout, 15) == "started\n"
    links = wait_for(host_links, timeout=5)
    assert len(links) == 1, links
    job_id = next(iter(links))[len("nbh"):]
    cp = nbjail("gc", timeout=30)
    go.touch()
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert p.poll() is None, "gc killed a running job"
    assert set(host_links()) == {f"nbh{job_id}"}
    assert f"job_{job_id}" in nft_chains()
    assert os.path.isdir(os.path.join(RUN_DIR, job_id))
    # The job's relay still works after gc.
    assert p.wait(timeout=20) == 0, p.stderr.read()
    assert '"body": "world 198.51.100.10:80\\n"' in p.stdout.read()
    assert wait_host_clean(world) == []


def test_table_removed_while_another_netns_has_jobs(spawn, world, tmp_path):
    """The last job out of a netns removes that netns's table, even while
    jobs run in another netns on the same machine (same /run/nbjail)."""
    other = f"nbt-host2-{TAG}"
    go = tmp_path / "go"
    run(["ip", "netns", "add", other], check=True)
    try:
        run(["ip", "-n", other, "link", "set", "lo", "up"], check=True)
        p = spawn("run", "--profile", "net", "--write", str(tmp_path), "--", "sh", "-c",
                  f"echo started; i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; "
                  "i=$((i+1)); done")
        assert read_line(p.stdout, 15) == "started\n"
        cp = run([NBJAIL, "run", "--profile", "net", "--", "true"], ns=other, env=nbjail_env())
        assert cp.returncode == 0, cp.stderr
        left = wait_for(lambda: ("inet", "nbjail") not in nft_tables(other), timeout=3)
        go.touch()
        assert p.wait(timeout=20) == 0, p.stderr.read()
        assert left, f"table inet nbjail left in {other}: {nft_tables(other)}"
        # the cleanup child of the last job may still be finishing
        def run_dir_left():
            return [d for d in os.listdir(RUN_DIR) if d not in ("lock", "ctl.lock", "slots")
                    and not d.endswith(".bpf")]
        assert wait_for(lambda: run_dir_left() == [], timeout=2), run_dir_left()
    finally:
        go.touch()
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
    removes the rest (veth, chain, state, table) within 2 s of that."""
    marker = f"nbt-async-{os.getpid()}"
    for code in (0, 3):
        cp = nbjail("run", "--profile", "net", "--", "sh", "-c", f"exit {code}", marker)
        assert cp.returncode == code, cp.stderr
        assert cp.stderr == "", cp.stderr
        assert wait_host_clean(world, timeout=2.0, marker=marker) == []
        assert _cleanup_children(marker) == []


def test_gc_after_cleanup_child_killed(spawn, world, tmp_path):
    """SIGKILL of the cleanup child in the middle: the job's locks go with
    it and nbjail gc removes the veth, chain and state it left."""
    marker = f"nbt-cleanupkill-{os.getpid()}"
    go = tmp_path / "go"
    p = spawn("run", "--profile", "net", "--write", str(tmp_path), "--", "sh", "-c",
              f"echo started; i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; "
              "i=$((i+1)); done", marker)
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    links = wait_for(host_links, timeout=5)
    assert len(links) == 1, links
    job_id = next(iter(links))[len("nbh"):]
    exe = os.path.realpath(NBJAIL)

    def workload():
        for pid, _ in processes(lambda pid, cmd: marker in cmd):
            try:
                if os.readlink(f"/proc/{pid}/exe") != exe:
                    return pid
            except OSError:
                pass
        return None
    pid = wait_for(workload, timeout=5)
    assert pid, "the job's workload was not found"
    # holding the job's netns keeps its veth: the cleanup child waits for it
    held = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        go.touch()
        assert p.wait(timeout=20) == 0, p.stderr.read()
        children = wait_for(lambda: _cleanup_children(marker), timeout=1, interval=0.01)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
        assert wait_for(lambda: _cleanup_children(marker) == [], timeout=2)
        assert f"nbh{job_id}" in host_links()
        assert f"job_{job_id}" in nft_chains()
        assert os.path.isdir(os.path.join(RUN_DIR, job_id))
        cp = nbjail("gc", timeout=30)
        assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
        assert job_id in cp.stdout + cp.stderr, (cp.stdout, cp.stderr)
        assert host_problems(world, marker=marker) == []
    finally:
        os.close(held)
    assert wait_host_clean(world, marker=marker) == []
