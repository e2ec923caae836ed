# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_concurrency.py - 20 net jobs at once"""
import json
import os
import time

import pytest

from conftest import (HOST_NS, PROBE, PYTHON, deny_lines, host_links, job_dirs, job_netns_pid,
                      netns_inode, nft_tables, run, wait_for, wait_host_clean)

JOBS = 20


@pytest.mark.slow
def test_concurrent_net_jobs(spawn, world, job_tmp):
    """20 net jobs at once: each in a network namespace of its own (all
    with the same addresses, on lo: before issue 15 each had a veth with
    a /30 of a pool, which had not to overlap), none adding a link or a
    table to the host's netns, each fetching through its own relay."""
    go = job_tmp / "go"
    marker = f"nbt-conc-{os.getpid()}"
    step = json.dumps([["tcp", "198.51.100.10", 80]])
    # Each job fetches, then waits (bounded) for the go file, so all overlap.
    script = (f"{PYTHON} -I {PROBE} '{step}' || exit 99; "
              f"i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
              f"[ -e {go} ] || exit 98")
    t0 = time.monotonic()
    procs = [spawn("run", "--profile", "net", "--allow", "198.51.100.10:80", "--name", f"c{i}",
                   "--write", str(job_tmp), "--", "sh", "-c", script, f"{marker}-{i}-")
             for i in range(JOBS)]

    def all_up():
        pids = [job_netns_pid(f"{marker}-{i}-", timeout=0) for i in range(JOBS)]
        if all(pids):
            return pids
        if any(p.poll() is not None for p in procs):
            return {"exited": [(p.returncode, p.stderr.read() if p.returncode is not None else "")
                               for p in procs]}
        return None
    pids = wait_for(all_up, timeout=60, interval=0.1)
    try:
        assert pids and "exited" not in pids, f"not {JOBS} jobs up: {pids}"
        assert len(job_dirs()) == JOBS, job_dirs()
        netns = {os.stat(f"/proc/{pid}/ns/net").st_ino for pid in pids}
        assert len(netns) == JOBS, netns
        assert netns_inode(HOST_NS) not in netns
        for pid in pids:
            cp = run(["nsenter", "-t", pid, "-n", "ip", "-j", "addr", "show"], check=True)
            links = json.loads(cp.stdout)
            assert [link["ifname"] for link in links] == ["lo"], cp.stdout
            addrs = {a["local"] for a in links[0]["addr_info"] if a.get("scope") == "global"}
            assert addrs == {"10.231.0.2", "fd6e:626a:6169::2"}, addrs
        assert host_links() == {}, host_links()
        assert nft_tables() == [], nft_tables()   # the world made none in the host netns
    finally:
        go.touch()
    for i, p in enumerate(procs):
        rc = p.wait(timeout=60)
        out, err = p.stdout.read(), p.stderr.read()
        assert rc == 0, (i, rc, out, err)
        res = json.loads(out.strip().splitlines()[-1])
        assert res[0]["outcome"] == "data" and res[0]["body"] == "world 198.51.100.10:80\n", res
        assert deny_lines(err) == []
    print(f"{JOBS} concurrent jobs in {time.monotonic() - t0:.2f} s")
    assert len(world.accesses("198.51.100.10:80")) == JOBS
    assert wait_host_clean(world) == []
