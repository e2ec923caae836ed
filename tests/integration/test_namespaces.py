# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_namespaces.py - what a job sees: links, PIDs, mounts, privileges"""
import json
import os
import socket

import pytest

from conftest import CALLER_GID, CALLER_UID, ROOTLESS, nbjail, needs_root

# The job's addresses and resolver (netns/link.h): the same in every job
JOB4, JOB6, NAMESERVER4 = "10.231.0.2", "fd6e:626a:6169::2", "10.231.0.1"

# Capabilities that must be absent from every set of the workload.
FORBIDDEN_CAPS = {"NET_ADMIN": 12, "NET_RAW": 13, "SYS_MODULE": 16, "SYS_PTRACE": 19,
                  "SYS_ADMIN": 21, "BPF": 39}


def job(*cmd, profile="net", extra=(), timeout=30, env=None):
    cp = nbjail("run", "--profile", profile, *extra, "--", *cmd, timeout=timeout, env=env)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    return cp.stdout


@pytest.mark.parametrize("profile", ["minimal", "compute"])
def test_loopback_only(nbj, profile):
    out = job("sh", "-c", "ls /sys/class/net; echo ---; tail -n +3 /proc/net/dev | cut -d: -f1",
              profile=profile)
    sys_links, proc_links = out.split("---\n")
    assert sys_links.split() == ["lo"]
    assert proc_links.split() == ["lo"]


def test_net_profile_links(nbj):
    """The net profile has no link to the host either: the relay's sockets
    are in the job's netns, on lo (before issue 15 a veth, eth0)."""
    out = job("sh", "-c", "ls /sys/class/net; echo ---; tail -n +3 /proc/net/dev | cut -d: -f1")
    sys_links, proc_links = out.split("---\n")
    assert sys_links.split() == ["lo"]
    assert proc_links.split() == ["lo"]


def test_net_profile_addresses_and_routes(nbj):
    """lo holds the job's two addresses (the same in every job: nothing on
    the host is numbered after them) and both default routes point at lo,
    where the job's ruleset redirects what it may send to the relay; the
    resolver is an address that is not local (redirected too)."""
    out = job("sh", "-c", "ip -j addr show; echo ---; ip -j route show; echo ---; "
              "ip -j -6 route show; echo ---; cat /etc/resolv.conf")
    addrs, routes4, routes6, resolv = out.split("---\n")
    links = {link["ifname"]: link for link in json.loads(addrs)}
    assert set(links) == {"lo"}
    assert "UP" in links["lo"]["flags"]
    lo = sorted((a["family"], a["local"], a["prefixlen"]) for a in links["lo"]["addr_info"]
                if a.get("scope") == "global")
    assert lo == [("inet", JOB4, 32), ("inet6", JOB6, 128)], links["lo"]["addr_info"]
    default4 = [r for r in json.loads(routes4) if r["dst"] == "default"]
    default6 = [r for r in json.loads(routes6) if r["dst"] == "default"]
    assert [(r.get("gateway"), r["dev"], r.get("prefsrc")) for r in default4] == \
        [(None, "lo", JOB4)], routes4
    assert [(r.get("gateway"), r["dev"], r.get("prefsrc")) for r in default6] == \
        [(None, "lo", JOB6)], routes6
    lines = [ln.split() for ln in resolv.splitlines() if ln.strip() and not ln.startswith("#")]
    # Exactly one resolver, the relay's address; "options" lines are allowed.
    assert [ln for ln in lines if ln[0] != "options"] == [["nameserver", NAMESERVER4]], resolv
    local = {a["local"] for a in links["lo"]["addr_info"]}
    assert NAMESERVER4 not in local, local


@pytest.mark.parametrize("profile", ["minimal", "net"])
def test_pid_namespace(nbj, profile):
    out = job("sh", "-c", "echo $$; cat /proc/1/comm; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '",
              profile=profile)
    pid, comm1, pids = out.splitlines()
    assert pid == "2"
    assert comm1 != "sh"
    # Only the job's own processes: PID 1, the shell, ls, grep, sort, tr.
    assert all(int(p) < 20 for p in pids.split()), pids


@pytest.mark.parametrize("profile", ["minimal", "net"])
def test_hostname(nbj, profile):
    assert job("cat", "/proc/sys/kernel/hostname", profile=profile) == "nbjail\n"
    assert job("cat", "/proc/sys/kernel/hostname", profile=profile,
               extra=["--name", "tw-job.1"]) == "tw-job.1\n"


def test_hostname_does_not_change_host(nbj, world):
    before = open("/proc/sys/kernel/hostname").read()
    # Without CAP_SYS_ADMIN this fails; if it did not, only the job's UTS ns changes.
    job("sh", "-c", "hostname changed-inside 2>/dev/null; exit 0", profile="minimal")
    assert open("/proc/sys/kernel/hostname").read() == before


def test_etc_hosts_localhost_only(nbj):
    out = job("cat", "/etc/hosts")
    names, addrs = set(), set()
    for line in out.splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            addrs.add(line[0])
            names.update(line[1:])
    assert "localhost" in names, out
    assert addrs <= {"127.0.0.1", "::1"}, out
    assert names <= {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}, out


def test_job_files_read_only(nbj):
    out = job("sh", "-c", "echo x >> /etc/resolv.conf && echo WROTE-RESOLV; "
              "echo x >> /etc/hosts && echo WROTE-HOSTS; exit 0")
    assert "WROTE" not in out


def test_run_is_private_tmpfs(nbj, world):
    path = f"/run/nbt-sock-{os.getpid()}"
    shm = f"/dev/shm/nbt-shm-{os.getpid()}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        srv.bind(path)
        srv.listen(1)
        open(shm, "w").close()
        out = job("sh", "-c", "ls -A /run; echo ---; ls -A /run/nbjail 2>/dev/null; echo ---; stat -f -c %T /run /dev/shm; echo ---; "
                  f"ls -A /dev/shm; echo ---; test -e {path} && echo VISIBLE; "
                  f"/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"{path}\")' "
                  "2>/dev/null && echo CONNECTED; exit 0")
    finally:
        srv.close()
        os.unlink(path)
        if os.path.exists(shm):
            os.unlink(shm)
    run_ls, run_nbjail, fstypes, shm_ls, rest = out.split("---\n")
    # /run is the job's own tmpfs.  The only things nbjail may put there
    # are the source of its bind-mounted /etc files and the dock (its
    # socket, and bin/nbjail-dock); the host's /run/nbjail (locks, job
    # state) must not be visible.
    assert run_ls in ("", "nbjail\n"), run_ls
    assert set(run_nbjail.split()) <= {"hosts", "resolv.conf", "nsswitch.conf", "dock.sock",
                                       "bin"}, run_nbjail
    assert fstypes.split() == ["tmpfs", "tmpfs"]
    assert shm_ls == ""
    assert "VISIBLE" not in rest and "CONNECTED" not in rest


def caps_of(status_text):
    caps = {}
    for line in status_text.splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Cap"):
            caps[key] = int(value.strip(), 16)
        elif key == "NoNewPrivs":
            caps[key] = int(value.strip())
    return caps


ANOTHER_USER = needs_root("only root maps a user other than the caller into a job")


@pytest.mark.parametrize("user,ids", [
    (None, (CALLER_UID, CALLER_GID)),           # the default: the caller
    ("root", (0, 0)),
    pytest.param("nobody", (65534, 65534), marks=ANOTHER_USER),
    pytest.param("65534", (65534, 65534), marks=ANOTHER_USER),
], ids=["caller", "root", "nobody", "uid"])
@pytest.mark.parametrize("profile", ["minimal", "net"])
def test_privileges(nbj, profile, user, ids):
    extra = ["--user", user] if user else []
    out = job("sh", "-c", "id -u; id -g; cat /proc/self/status", profile=profile, extra=extra)
    got_uid, got_gid, status = out.split("\n", 2)
    assert (got_uid, got_gid) == tuple(map(str, ids)), out
    caps = caps_of(status)
    assert caps["NoNewPrivs"] == 1
    for cset in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        present = [n for n, bit in FORBIDDEN_CAPS.items() if caps[cset] & (1 << bit)]
        assert present == [], f"{cset} has {present}"


def test_default_user_from_sudo(nbj):
    """As root, the default user is the sudo caller; rootless, SUDO_UID
    names whoever ran `sudo -u` to become the caller: the job is the
    caller's (before, it failed: "--user 65534: without root, ...")."""
    out = job("sh", "-c", "id -u; id -g", profile="minimal",
              env={"SUDO_UID": "65534", "SUDO_GID": "65534", "SUDO_USER": "nobody"})
    assert out == (f"{CALLER_UID}\n{CALLER_GID}\n" if ROOTLESS else "65534\n65534\n")


@pytest.mark.parametrize("user", [None, "root"])
def test_cannot_reconfigure_network(nbj, user):
    # No NET_ADMIN: the job cannot add addresses or routes to leave its lane
    # (its one link is lo; a device that does not exist would prove nothing).
    # Its netlink sends are made by a helper that is the job in the job's
    # user namespace (seccomp/unix.c): as the job's root too, it must lend
    # no capability; and the read (ip link show) must still work.
    out = job("sh", "-c", "ip link show lo >/dev/null && echo LO; "
              "ip addr add 10.0.0.9/8 dev lo 2>&1 && echo ADDED; "
              "ip route replace default dev lo src 127.0.0.1 2>&1 && echo ROUTED; "
              "ip link set lo down 2>&1 && echo DOWN; exit 0",
              extra=("--user", user) if user else ())
    assert "LO" in out.split(), out
    assert "ADDED" not in out and "ROUTED" not in out and "DOWN" not in out, out
