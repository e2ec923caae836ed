# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_exit.py - exit status passthrough and signal forwarding"""
import os
import signal
import subprocess
import time

import pytest

from conftest import nbjail, read_line, wait_host_clean

PROFILES = ["minimal", "compute", "net"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cmd,status", [
    (["true"], 0),
    (["false"], 1),
    (["sh", "-c", "exit 42"], 42),
    (["sh", "-c", "exit 255"], 255),
    (["sh", "-c", "kill -TERM $$"], 143),
    (["sh", "-c", "kill -KILL $$"], 137),
    (["sh", "-c", "kill -SEGV $$"], 139),
    (["/nonexistent"], 127),
    (["nbt-no-such-command"], 127),
    (["/etc/passwd"], 126),
    (["/etc"], 126),
], ids=["true", "false", "exit42", "exit255", "TERM", "KILL", "SEGV", "nonexistent",
        "not-in-PATH", "not-executable", "directory"])
def test_exit_status(nbj, world, profile, cmd, status):
    cp = nbjail("run", "--profile", profile, "--", *cmd, timeout=30)
    assert cp.returncode == status, (cp.returncode, cp.stderr)
    if status in (126, 127):
        assert cmd[0] in cp.stderr, cp.stderr


def test_stdio_passthrough(nbj):
    cp = nbjail("run", "--profile", "minimal", "--", "sh", "-c",
                "read x; echo \"out:$x\"; echo \"err:$x\" >&2", input="hello\n")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "out:hello\n"
    assert "err:hello\n" in cp.stderr


def test_arguments_passed_verbatim(nbj):
    args = ["a b", "", "--", "-x", "$HOME", "ünï"]
    cp = nbjail("run", "--profile", "minimal", "--", "printf", "[%s]\\n", *args)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "".join(f"[{a}]\n" for a in args)


@pytest.mark.parametrize("sig,status", [
    (signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129),
], ids=["TERM", "INT", "HUP"])
def test_signal_forwarded(spawn, world, sig, status):
    p = spawn("run", "--profile", "net", "--", "sh", "-c", "echo started; exec sleep 30")
    assert read_line(p.stdout, 15) == "started\n", p.stderr.read() if p.poll() is not None else ""
    t0 = time.monotonic()
    os.kill(p.pid, sig)
    try:
        rc = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"nbjail still running 5 s after {sig.name}")
    assert rc == status, (rc, p.stderr.read())
    assert time.monotonic() - t0 < 3
    assert wait_host_clean(world) == []


def test_workload_handles_signal(spawn, world):
    p = spawn("run", "--profile", "net", "--", "sh", "-c",
              "trap 'exit 7' TERM; echo started; sleep 30 & wait")
    assert read_line(p.stdout, 15) == "started\n"
    os.kill(p.pid, signal.SIGTERM)
    try:
        rc = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("nbjail still running 5 s after SIGTERM")
    assert rc == 7, (rc, p.stderr.read())
    assert wait_host_clean(world) == []


def test_orphans_killed_when_workload_exits(nbj, world):
    # The workload leaves a background child; the job ends with the workload.
    marker = f"nbt-orphan-{os.getpid()}"
    t0 = time.monotonic()
    cp = nbjail("run", "--profile", "net", "--", "sh", "-c",
                f"/usr/bin/python3 -c 'import time; time.sleep(30)' {marker} >/dev/null 2>&1 & exit 3",
                timeout=30)
    assert cp.returncode == 3, cp.stderr
    assert time.monotonic() - t0 < 10
    assert wait_host_clean(world, marker=marker) == []
