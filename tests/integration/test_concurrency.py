# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_concurrency.py - 20 net jobs at once"""
import ipaddress
import json
import time

import pytest

from conftest import PROBE, PYTHON, deny_lines, host_links, wait_for, wait_host_clean

JOBS = 20


@pytest.mark.slow
def test_concurrent_net_jobs(spawn, world, tmp_path):
    go = tmp_path / "go"
    step = json.dumps([["tcp", "198.51.100.10", 80]])
    # Each job fetches, then waits (bounded) for the go file, so all overlap.
    script = (f"{PYTHON} -I {PROBE} '{step}' || exit 99; "
              f"i=0; while [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
              f"[ -e {go} ] || exit 98")
    t0 = time.monotonic()
    procs = [spawn("run", "--profile", "net", "--allow", "198.51.100.10:80", "--name", f"c{i}", "--write", str(tmp_path),
                   "--", "sh", "-c", script) for i in range(JOBS)]

    def all_up():
        links = host_links()
        if len(links) == JOBS and all(len(a) >= 2 for a in links.values()):
            return links
        if any(p.poll() is not None for p in procs):
            return {"exited": [(p.returncode, p.stderr.read() if p.returncode is not None else "")
                               for p in procs]}
        return None
    links = wait_for(all_up, timeout=60, interval=0.1)
    try:
        assert links and "exited" not in links, f"not {JOBS} jobs up: {links} / {host_links()}"
        nets4, nets6 = [], []
        for name, addrs in links.items():
            v4 = [ipaddress.ip_interface(a) for a in addrs if ":" not in a]
            v6 = [ipaddress.ip_interface(a) for a in addrs if ":" in a
                  and not a.startswith("fe80")]
            assert len(v4) == 1 and len(v6) == 1, (name, addrs)
            assert v4[0].network.prefixlen == 30 and v4[0].ip == v4[0].network.network_address + 1
            assert v4[0].network.subnet_of(ipaddress.ip_network("10.231.0.0/16")), v4
            assert v6[0].network.prefixlen == 64 and v6[0].ip == v6[0].network.network_address + 1
            nets4.append(v4[0].network)
            nets6.append(v6[0].network)
        assert len(set(links)) == JOBS
        for nets in (nets4, nets6):
            for i, a in enumerate(nets):
                for b in nets[i + 1:]:
                    assert not a.overlaps(b), (a, b)
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
