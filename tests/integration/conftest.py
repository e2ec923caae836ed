# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/conftest.py - the test world and its fixtures

Theory of operation:

  The session builds two network namespaces of its own and removes them
  at the end, whatever happened:

    host  (nbt-host-PID)   where nbjail runs: lo, wan0 192.0.2.1/24 and
                           2001:db8:1::1/64, default routes via the world;
                           IP forwarding ON (a hostile but common host: a
                           packet nbjail failed to drop would be routed and
                           caught by the world's detectors)
    world (nbt-world-PID)  wan0 192.0.2.2/24, 2001:db8:1::2/64, and on lo the
                           "public" servers 198.51.100.10/.11, 203.0.113.10,
                           2001:db8::10/::11 plus the internal targets
                           10.0.0.1, 172.16.0.1, 192.168.1.1, 169.254.169.254,
                           100.64.0.1, fd00::1

  world.py runs once in each namespace: HTTP servers and leak detectors
  (TCP/UDP listeners, raw ICMP/ICMPv6) writing JSON events to a file.  In
  the world an nftables table counts every packet that should never
  arrive there (a source other than the host's, internal destinations,
  any UDP, any echo request).  The autouse fixture no_leaks fails a test
  if any detector or counter saw anything during it (or before it, during
  a module fixture), then clears the record.

  /run/nbjail is shared by every nbjail on the machine (gc cleans every
  job directory whose lock is free), so the session moves into a private
  mount namespace with a tmpfs on /run/nbjail: the world is then a whole
  machine of its own and cleanup assertions are exact.  Set
  NBT_SHARED_RUN=1 to test against the real /run/nbjail instead.

  NBT_ROOTLESS=1 (tests/run-all.sh's second pass): the same world and
  detectors, built by root, but every nbjail runs as the test user
  (as_caller, nbjail_cmd, spawn) with its state in a private
  $XDG_RUNTIME_DIR; root's /run/nbjail is a read-only tmpfs then, so a
  job started as root by mistake fails instead of passing as root.  A
  test that needs root says so (needs_root: a skip with the reason).

  Every subprocess has a timeout, every loop is bounded, and each test has
  an alarm (NBT_TEST_TIMEOUT seconds, default 240).
"""
import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NBJAIL = os.path.abspath(os.environ.get("NBJAIL", str(REPO / "build" / "nbjail")))
PYTHON = "/usr/bin/python3"
PROBE = str(HERE / "probe.py")
WORLD_PY = str(HERE / "world.py")
RUN_DIR = ROOT_RUN_DIR = "/run/nbjail"

# NBT_ROOTLESS=1: nbjail runs as an unprivileged user (NBT_ROOTLESS_USER,
# made by tests/run-all.sh), with $XDG_RUNTIME_DIR in the session's
# private /run; its runtime directory is $XDG_RUNTIME_DIR/nbjail
ROOTLESS = os.environ.get("NBT_ROOTLESS") == "1"
if ROOTLESS:
    import pwd
    _rl = pwd.getpwnam(os.environ.get("NBT_ROOTLESS_USER", "nbjt-rootless"))
    ROOTLESS_UID, ROOTLESS_GID = _rl.pw_uid, _rl.pw_gid
    XDG_RUNTIME_DIR = f"/run/nbt-xdg/{ROOTLESS_UID}"
    RUN_DIR = XDG_RUNTIME_DIR + "/nbjail"
# the user nbjail runs as (as_caller)
CALLER_UID, CALLER_GID = (ROOTLESS_UID, ROOTLESS_GID) if ROOTLESS else (0, 0)

TAG = os.getpid()
HOST_NS = f"nbt-host-{TAG}"
WORLD_NS = f"nbt-world-{TAG}"

PUBLIC_V4 = ["198.51.100.10", "198.51.100.11", "203.0.113.10"]
PUBLIC_V6 = ["2001:db8::10", "2001:db8::11"]
INTERNAL_V4 = ["10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1"]
INTERNAL_V6 = ["fd00::1"]
INTERNAL = INTERNAL_V4 + INTERNAL_V6
# The world's DNS: dnsmasq on RESOLVER (the host netns's resolv.conf points
# there), and a rebinding trap on FLIP that answers A queries for
# rebind.test alternately with a public and an internal address.
RESOLVER_V4, RESOLVER_V6, FLIP_V4 = "198.51.100.53", "2001:db8::53", "198.51.100.54"
DNS_RECORDS = [
    "--host-record=allowed.test,198.51.100.10,2001:db8::10",
    "--host-record=other.test,198.51.100.11",
    "--host-record=v4only.test,198.51.100.10",
    "--host-record=cached.test,198.51.100.10,60",   # the only record with a TTL
    "--host-record=v6only.test,2001:db8::10",
    "--host-record=www.sub.test,198.51.100.10",
    "--host-record=sub.test,198.51.100.11",
    "--host-record=internal.test,10.0.0.1",
    "--host-record=cgnat.test,100.64.0.1",          # a tailnet address
    "--host-record=meta.test,169.254.169.254",
    "--host-record=v6internal.test,fd00::1",
    "--host-record=mapped.test,::ffff:10.0.0.1",
    "--address=/mixed.test/198.51.100.10",
    "--address=/mixed.test/10.0.0.1",
    f"--server=/rebind.test/{FLIP_V4}",
    "--local=/test/",
]
DETECT_TCP_PORTS = [22, 80, 443, 8080]
DETECT_UDP_PORTS = [53, 123, 9999]
HOST_TCP_PORTS = [80, 8081]
HOST_UDP_PORTS = [123, 9999]
HTTP_SERVERS = ["198.51.100.10:80", "198.51.100.10:8080", "198.51.100.11:80",
                "203.0.113.10:80", "[2001:db8::10]:80", "[2001:db8::11]:80"]

DENY_RE = re.compile(r"^nbjail-relay\[([0-9a-f]{8})\]: deny tcp (\S+) from (\S+) reason=(\S+)(?: overlay=\S+)?$")
# The supervisor's seccomp notifier: a socket call refused with EACCES
SECCOMP_DENY_RE = re.compile(r"^nbjail\[([0-9a-f]{8})\]: deny (connect|sendto|sendmsg|sendmmsg|bind|listen) "
                             r"(\S+) pid=(\d+) exe=(\S+) reason=(\S+)$")

sys.path.insert(0, str(HERE))
import world as worldmod  # noqa: E402


# ---------------------------------------------------------------- helpers

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_REC = 0x4000
MS_SLAVE = 1 << 19
PR_SET_PDEATHSIG = 1


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


JOURNAL_DIRS = ["/run/systemd/journal", "/run/log/journal", "/var/log/journal"]
JOURNALD = "/lib/systemd/systemd-journald"


def private_run_dir():
    """Move this process into a mount namespace with its own /run/nbjail,
    and its own (empty) journal directories for the tests' journald."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None), "mount --make-rslave /")
    if ROOTLESS:
        os.makedirs("/run/nbt-xdg", mode=0o755, exist_ok=True)
        _check(_libc.mount(b"nbt-xdg", b"/run/nbt-xdg", b"tmpfs", 0, b"mode=0755"),
               "mount tmpfs /run/nbt-xdg")
        os.makedirs(XDG_RUNTIME_DIR, mode=0o700)
        os.chown(XDG_RUNTIME_DIR, ROOTLESS_UID, ROOTLESS_GID)
        # root's runtime directory is read-only in the rootless pass: a
        # test that runs a job as root by mistake (not through as_caller)
        # fails there instead of passing as root
        os.makedirs(ROOT_RUN_DIR, mode=0o755, exist_ok=True)
        _check(_libc.mount(b"nbt-run", ROOT_RUN_DIR.encode(), b"tmpfs", MS_RDONLY, b"mode=0755"),
               "mount tmpfs -o ro " + ROOT_RUN_DIR)
    else:
        os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
        _check(_libc.mount(b"nbt-run", RUN_DIR.encode(), b"tmpfs", 0, b"mode=0755"),
               "mount tmpfs " + RUN_DIR)
    for d in JOURNAL_DIRS:
        if d.startswith("/run/") or os.path.isdir(d):
            os.makedirs(d, mode=0o755, exist_ok=True)
            _check(_libc.mount(b"nbt-journal", d.encode(), b"tmpfs", 0, b"mode=0755"),
                   "mount tmpfs " + d)


class Journal:
    """A real systemd-journald, private to the tests' mount namespace."""

    def __init__(self):
        self.proc = None
        self.why_not = None

    def start(self):
        if os.environ.get("NBT_SHARED_RUN") == "1":
            self.why_not = "NBT_SHARED_RUN=1: the tests do not own a journald"
            return
        if not os.access(JOURNALD, os.X_OK):
            self.why_not = f"{JOURNALD} is not installed"
            return
        self.proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        if not wait_for(lambda: os.path.exists("/run/systemd/journal/socket"), 10):
            self.why_not = "systemd-journald did not create its socket"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def events(self, *matches):
        """Every nbjail event (journalctl -o json), optionally FIELD=value matched."""
        cp = run(["journalctl", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER=nbjail",
                  *matches], timeout=30)
        return [json.loads(line) for line in cp.stdout.splitlines() if line.strip()]

    def wait_events(self, pred, *matches, timeout=5.0):
        """Poll (bounded) until pred(events) holds; return the events."""
        found = []

        def check():
            found[:] = self.events(*matches)
            return pred(found)
        wait_for(check, timeout)
        return found


def enter_netns(name):
    """setns() into a named network namespace (for preexec_fn)."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), "setns")
    finally:
        os.close(fd)


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run(cmd, ns=None, timeout=30, input=None, env=None, preexec_fn=None, check=False):
    """Run cmd (list), optionally in netns ns; returns CompletedProcess (text)."""
    if ns:
        cmd = ["ip", "netns", "exec", ns] + list(cmd)
    cp = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True,
                        timeout=timeout, env=env, preexec_fn=preexec_fn)
    if check and cp.returncode != 0:
        raise AssertionError(f"{cmd} exited {cp.returncode}\nstdout: {cp.stdout}\nstderr: {cp.stderr}")
    return cp


def sh(script, ns=None, timeout=30):
    return run(["sh", "-c", script], ns=ns, timeout=timeout, check=True)


def nbjail_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_")}
    if ROOTLESS:
        env["XDG_RUNTIME_DIR"] = XDG_RUNTIME_DIR
    env.update(extra or {})
    return env


def as_caller(cmd):
    """cmd as the user nbjail runs as: root, or in rootless mode the test
    user (no capabilities, no setuid helper)"""
    if not ROOTLESS:
        return list(cmd)
    return ["setpriv", f"--reuid={ROOTLESS_UID}", f"--regid={ROOTLESS_GID}",
            "--init-groups", "--inh-caps=-all", "--", *cmd]


def nbjail_cmd(*args, prefix=(), ns=HOST_NS):
    """The command line that runs nbjail ARGS as the caller in netns ns
    (None: this one), after prefix (e.g. prlimit; run as the caller too)"""
    cmd = as_caller([*prefix, NBJAIL, *args])
    return ["ip", "netns", "exec", ns, *cmd] if ns else cmd


def nbjail(*args, timeout=60, env=None, input=None, preexec_fn=None):
    """Run nbjail ARGS in the host netns; returns CompletedProcess (text)."""
    return run(as_caller([NBJAIL, *args]), ns=HOST_NS, timeout=timeout, input=input,
               env=nbjail_env(env), preexec_fn=preexec_fn)


def needs_root(why):
    """Skip in rootless mode, saying why the test needs root"""
    return pytest.mark.skipif(ROOTLESS, reason=f"needs root: {why}")


def probe_cmd(*steps):
    return [PYTHON, "-I", PROBE, json.dumps(list(steps))]


def probe(*steps, allow=(), extra=(), timeout=60):
    """Run probe.py STEPS in a net job; returns (CompletedProcess, results)."""
    args = ["run", "--profile", "net"]
    for a in allow:
        args += ["--allow", a]
    cp = nbjail(*args, *extra, "--", *probe_cmd(*steps), timeout=timeout)
    results = None
    if cp.returncode == 0:
        try:
            results = json.loads(cp.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            results = None
    assert results is not None, f"probe failed: rc={cp.returncode}\nstdout: {cp.stdout}\nstderr: {cp.stderr}"
    return cp, results


def deny_lines(stderr):
    """[(id, target, peer, reason)] for every deny line in stderr: the
    relay's (peer = the job's address:port) and the seccomp notifier's
    (peer = "pid=N")."""
    out = []
    for line in stderr.splitlines():
        m = DENY_RE.match(line.strip())
        if m:
            out.append(m.groups())
        m = SECCOMP_DENY_RE.match(line.strip())
        if m:
            out.append((m.group(1), m.group(3), f"pid={m.group(4)}", m.group(6)))
    return out


def seccomp_denies(stderr):
    """[(id, call, target, pid, exe, reason)] for the notifier's lines."""
    return [m.groups() for m in map(SECCOMP_DENY_RE.match, map(str.strip, stderr.splitlines()))
            if m]


# The links of the host netns as the world built it: a job adds none (its
# network namespace holds only lo, with no link to the host)
HOST_BASE_LINKS = {"lo", "wan0"}


def host_links():
    """{ifname: [addr/prefix, ...]} of the links in the host netns that the
    world did not make (a job must never add one)."""
    cp = run(["ip", "-n", HOST_NS, "-j", "addr", "show"], check=True)
    links = {}
    for link in json.loads(cp.stdout or "[]"):
        if link.get("ifname", "") not in HOST_BASE_LINKS:
            links[link["ifname"]] = [f"{a['local']}/{a['prefixlen']}"
                                     for a in link.get("addr_info", [])]
    return links


def job_dirs():
    """ids of the job directories in the runtime directory"""
    try:
        entries = os.listdir(RUN_DIR)
    except FileNotFoundError:
        return set()
    return {e for e in entries if re.fullmatch(r"[0-9a-f]{8}", e)
            and os.path.isdir(os.path.join(RUN_DIR, e))}


def job_netns_pid(marker, timeout=5.0):
    """pid of a process of a running job whose command line holds marker
    and whose network namespace is not the host's (for nsenter -n), or
    None after timeout"""
    host_ino = netns_inode(HOST_NS)
    exe = os.path.realpath(NBJAIL)

    def find():
        for pid, _cmd in processes(lambda pid, cmd: marker in cmd):
            try:
                if os.readlink(f"/proc/{pid}/exe") == exe:
                    continue
            except OSError:
                continue
            ino = _proc_netns_ino(pid)
            if ino is not None and ino != host_ino:
                return pid
        return None
    return wait_for(find, timeout)


def job_ruleset(pid):
    """The nftables ruleset (nft -j list ruleset) of the network namespace
    of pid: {(family, table): [chain names]}"""
    cp = run(["nsenter", "-t", pid, "-n", "nft", "-j", "list", "ruleset"], check=True)
    tables = {}
    for o in json.loads(cp.stdout)["nftables"]:
        if "table" in o:
            tables.setdefault((o["table"]["family"], o["table"]["name"]), [])
        elif "chain" in o:
            tables.setdefault((o["chain"]["family"], o["chain"]["table"]), []).append(
                o["chain"]["name"])
    return tables


def nft_tables(ns=HOST_NS):
    cp = run(["nft", "-j", "list", "tables"], ns=ns, check=True)
    return [(t["table"]["family"], t["table"]["name"])
            for t in json.loads(cp.stdout)["nftables"] if "table" in t]


def nft_chains(ns=HOST_NS, family="inet", table="nbjail"):
    if (family, table) not in nft_tables(ns):
        return []
    cp = run(["nft", "-j", "list", "table", family, table], ns=ns)
    if cp.returncode != 0 and (family, table) not in nft_tables(ns):
        return []  # removed in between (a job's cleanup finishing)
    assert cp.returncode == 0, (cp.returncode, cp.stderr)
    return [o["chain"]["name"] for o in json.loads(cp.stdout)["nftables"] if "chain" in o]


def netns_inode(name):
    return os.stat(f"/run/netns/{name}").st_ino


def _proc_netns_ino(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def processes(pred):
    """[(pid, cmdline)] of live processes for which pred(pid, cmdline)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            pid = int(d)
            cmd = _proc_cmdline(pid)
            if pred(pid, cmd):
                out.append((pid, cmd))
    return out


def nbjail_processes(world, marker=None):
    """Processes left by nbjail: its exe, in the host netns, or with marker."""
    exe = os.path.realpath(NBJAIL)
    host_ino = netns_inode(HOST_NS)
    ours = world.detector_pids()

    def pred(pid, cmd):
        if pid == os.getpid() or pid in ours:
            return False
        try:
            pexe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            pexe = ""
        if pexe == exe:
            return True
        if _proc_netns_ino(pid) == host_ino:
            return True
        # a relay of this build (not of another nbjail tested on the machine)
        if "nbjail-relay" in cmd and os.path.dirname(pexe) == os.path.dirname(exe):
            return True
        return marker is not None and marker in cmd
    return processes(pred)


def host_problems(world, marker=None):
    """Everything a finished job must not leave behind, as strings (a link
    or an nbjail table in the host netns it must not make at all)."""
    problems = []
    links = host_links()
    if links:
        problems.append(f"links added to the host netns: {sorted(links)}")
    if ("inet", "nbjail") in nft_tables():
        problems.append(f"table inet nbjail in the host netns, chains {nft_chains()}")
    if os.path.isdir(RUN_DIR):
        for entry in sorted(os.listdir(RUN_DIR)):
            if entry == ".uids":  # the per-job id claims: each removed by its keeper
                # (.checked.N: when slot N's ids were last found unused)
                left = [e for e in os.listdir(f"{RUN_DIR}/.uids") if not e.startswith(".checked.")]
                if left:
                    problems.append(f"per-job id claims left in {RUN_DIR}/.uids: {left}")
            elif entry not in ("lock", "ctl.lock") and not (
                    entry.startswith("seccomp-") and entry.endswith(".bpf")):  # the filter cache
                problems.append(f"left in {RUN_DIR}: {entry}")
    procs = nbjail_processes(world, marker)
    if procs:
        problems.append(f"processes left: {procs}")
    return problems


def wait_host_clean(world, timeout=3.0, marker=None):
    """Poll (bounded) until nothing is left; return the remaining problems."""
    deadline = time.monotonic() + timeout
    while True:
        problems = host_problems(world, marker)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.05)


def wait_for(pred, timeout, interval=0.05):
    """Poll pred() until true (returns its value) or timeout (returns it too)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def read_line(stream, timeout):
    """One line from a pipe, or None after timeout."""
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        return None
    return stream.readline()


# ---------------------------------------------------------------- the world

WORLD_NFT = """
table inet nbtworld
delete table inet nbtworld
table inet nbtworld {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname "wan0" ip saddr != 192.0.2.1 counter comment "IPv4 from a source other than the host"
    iifname "wan0" ip6 saddr != { 2001:db8:1::1, fe80::/10, ::/128 } counter comment "IPv6 from a source other than the host"
    iifname "wan0" ip daddr { 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16 } counter comment "IPv4 to an internal address"
    iifname "wan0" ip6 daddr { fc00::/7, fe80::/10, ::1/128 } meta l4proto != icmpv6 counter comment "IPv6 to an internal address"
    iifname "wan0" ip6 daddr { ::/96, ::ffff:0:0/96, 64:ff9b::/96, 64:ff9b:1::/48, 2002::/16, 2001::/32 } counter comment "IPv6 encoding of an IPv4 address"
    iifname "wan0" meta l4proto udp udp dport != { 53, 5300 } counter comment "UDP other than DNS (and test_dock's responder)"
    iifname "wan0" udp dport 5300 ip daddr != 198.51.100.11 counter comment "UDP to a port 5300 other than test_dock's responder"
    iifname "wan0" udp dport 5300 ip6 daddr != 2001:db8::11 counter comment "UDP to a port 5300 other than test_dock's responder"
    iifname "wan0" udp dport 53 ip daddr != 198.51.100.53 counter comment "DNS to a server other than the world's resolver"
    iifname "wan0" udp dport 53 ip6 daddr != 2001:db8::53 counter comment "DNS to a server other than the world's resolver"
    iifname "wan0" icmp type echo-request counter comment "ICMP echo request"
    iifname "wan0" icmpv6 type echo-request counter comment "ICMPv6 echo request"
  }
}
"""


class World:
    def __init__(self, tmpdir):
        self.host = HOST_NS
        self.world = WORLD_NS
        self.tmp = Path(tmpdir)
        self.procs = {}
        self.events = {}

    # -- build and tear down

    def build(self):
        H, W = self.host, self.world
        sh(f"ip netns add {H} && ip netns add {W}")
        cmds = [
            f"ip -n {H} link set lo up",
            f"ip -n {W} link set lo up",
            # no DAD anywhere in the world: the first IPv6 packet must not wait
            f"ip netns exec {H} sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0",
            f"ip netns exec {W} sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0",
            f"ip -n {H} link add wan0 type veth peer name wan0 netns {W}",
            f"ip -n {H} addr add 192.0.2.1/24 dev wan0",
            f"ip -n {H} addr add 2001:db8:1::1/64 dev wan0 nodad",
            f"ip -n {W} addr add 192.0.2.2/24 dev wan0",
            f"ip -n {W} addr add 2001:db8:1::2/64 dev wan0 nodad",
            f"ip -n {H} link set wan0 up",
            f"ip -n {W} link set wan0 up",
            f"ip -n {H} route add default via 192.0.2.2",
            f"ip -n {H} -6 route add default via 2001:db8:1::2",
            f"ip netns exec {H} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
        ]
        for a in PUBLIC_V4 + INTERNAL_V4 + [RESOLVER_V4, FLIP_V4]:
            cmds.append(f"ip -n {W} addr add {a}/32 dev lo")
        for a in PUBLIC_V6 + INTERNAL_V6 + [RESOLVER_V6]:
            cmds.append(f"ip -n {W} addr add {a}/128 dev lo nodad")
        sh(" && ".join(cmds))
        # Permanent neighbours on wan0: no ND/ARP delay on a first connect.
        mac = {}
        for ns in (H, W):
            mac[ns] = json.loads(run(["ip", "-n", ns, "-j", "link", "show", "wan0"],
                                     check=True).stdout)[0]["address"]
        sh(f"ip -n {H} neigh replace 192.0.2.2 lladdr {mac[W]} dev wan0 nud permanent && "
           f"ip -n {H} neigh replace 2001:db8:1::2 lladdr {mac[W]} dev wan0 nud permanent && "
           f"ip -n {W} neigh replace 192.0.2.1 lladdr {mac[H]} dev wan0 nud permanent && "
           f"ip -n {W} neigh replace 2001:db8:1::1 lladdr {mac[H]} dev wan0 nud permanent")
        self.reset_counters()
        self.start_dns()
        self.start("world", W, {
            "dns_flip": {f"{FLIP_V4}:53": ["198.51.100.10", "10.0.0.1"]},
            "http": HTTP_SERVERS,
            "tcp_detect": [worldmod.fmt_addr(a, p) for a in INTERNAL for p in DETECT_TCP_PORTS],
            "udp_detect": [f"{w}:{p}" for w in ("0.0.0.0", "[::]") for p in DETECT_UDP_PORTS],
            "icmp_detect": True,
        })
        self.start("host", H, {
            "tcp_detect": [f"{w}:{p}" for w in ("0.0.0.0", "[::]") for p in HOST_TCP_PORTS],
            "udp_detect": [f"{w}:{p}" for w in ("0.0.0.0", "[::]") for p in HOST_UDP_PORTS],
        })

    def start_dns(self):
        """dnsmasq in the world; the host netns resolves through it."""
        log = self.tmp / "dnsmasq.log"
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.world, "dnsmasq", "-k", "--conf-file=/dev/null",
             "--no-resolv", "--no-hosts", "--no-poll", "--cache-size=0", "--user=root",
             "--pid-file=", "--bind-interfaces", f"--listen-address={RESOLVER_V4}",
             f"--listen-address={RESOLVER_V6}", "--log-queries", "--log-facility=-",
             *DNS_RECORDS],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "a"),
            preexec_fn=_die_with_parent)
        self.dnsmasq = p
        if not wait_for(lambda: "started" in log.read_text(), timeout=10):
            raise RuntimeError(f"dnsmasq did not start: {log.read_text()}")
        # `ip netns exec HOST` shows /etc/netns/HOST/resolv.conf as /etc/resolv.conf
        self.netns_etc = Path("/etc/netns") / self.host
        self.made_etc_netns = not self.netns_etc.parent.exists()
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        (self.netns_etc / "resolv.conf").write_text(
            f"nameserver {RESOLVER_V4}\noptions timeout:1 attempts:2\n")

    def dns_queries(self):
        """Names dnsmasq was asked for since the last clear(), with the asker."""
        out = []
        for line in (self.tmp / "dnsmasq.log").read_text().splitlines():
            m = re.search(r"query\[(\w+)\] (\S+) from (\S+)", line)
            if m:
                out.append((m.group(2), m.group(1), m.group(3)))
        return out

    def start(self, label, ns, cfg):
        path = self.tmp / f"events-{label}.jsonl"
        path.touch()
        cfg = dict(cfg, events=str(path))
        p = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, "-I", WORLD_PY, json.dumps(cfg)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(self.tmp / f"world-{label}.err", "w"),
                             text=True, preexec_fn=_die_with_parent)
        self.procs[label] = p
        self.events[label] = path
        line = read_line(p.stdout, 20)
        if line != "ready\n":
            err = (self.tmp / f"world-{label}.err").read_text()
            raise RuntimeError(f"world.py in {ns} did not start: {line!r}\n{err}")

    def teardown(self):
        dnsmasq = getattr(self, "dnsmasq", None)
        if dnsmasq:
            dnsmasq.terminate()
            try:
                dnsmasq.wait(timeout=3)
            except subprocess.TimeoutExpired:
                dnsmasq.kill()
                dnsmasq.wait(timeout=3)
        for p in self.procs.values():
            try:
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=3)
        for ns in (self.host, self.world):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        etc = getattr(self, "netns_etc", None)
        if etc:
            (etc / "resolv.conf").unlink(missing_ok=True)
            etc.rmdir()
            if self.made_etc_netns:
                etc.parent.rmdir()

    def detector_pids(self):
        return {p.pid for p in self.procs.values()}

    # -- what the detectors saw

    def reset_counters(self):
        run(["nft", "-f", "-"], ns=self.world, input=WORLD_NFT, check=True)

    def counters(self):
        cp = run(["nft", "-j", "list", "table", "inet", "nbtworld"], ns=self.world, check=True)
        seen = []
        for obj in json.loads(cp.stdout)["nftables"]:
            rule = obj.get("rule")
            if not rule:
                continue
            for e in rule["expr"]:
                if "counter" in e and e["counter"]["packets"]:
                    seen.append(f"world nft: {e['counter']['packets']} packet(s): {rule.get('comment')}")
        return seen

    def read_events(self):
        out = []
        for label, path in self.events.items():
            for line in path.read_text().splitlines():
                ev = json.loads(line)
                ev["where"] = label
                out.append(ev)
        return out

    def leaks(self):
        """Every leak seen since the last clear(), as strings."""
        seen = [f"{e['where']} detector: {e['proto']} to {e['local']} from {e['peer']}"
                for e in self.read_events() if e["kind"] == "leak"]
        seen += self.counters()
        for label, p in self.procs.items():
            if p.poll() is not None:
                seen.append(f"world.py ({label}) died with status {p.returncode}")
        return seen

    def accesses(self, local=None):
        """HTTP connections seen since the last clear(): [(local, peer)]."""
        return [(e["local"], e["peer"]) for e in self.read_events()
                if e["kind"] == "access" and (local is None or e["local"] == local)]

    def clear(self):
        for path in self.events.values():
            os.truncate(path, 0)
        if (self.tmp / "dnsmasq.log").exists():
            os.truncate(self.tmp / "dnsmasq.log", 0)
        self.reset_counters()


def _remove_stale_namespaces():
    """Delete nbt-* namespaces of earlier sessions whose process is gone."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names[:200]:
        m = re.fullmatch(r"nbt-(host|host2|world)-(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


# ---------------------------------------------------------------- pytest hooks

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (100 sequential or 20 concurrent jobs)")
    if os.geteuid() != 0:
        raise pytest.UsageError("the integration tests must run as root")
    if os.environ.get("NBT_SHARED_RUN") != "1":
        private_run_dir()


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    _remove_stale_namespaces()
    w = World(tmp_path_factory.mktemp("world"))
    try:
        w.build()
        yield w
    finally:
        w.teardown()


@pytest.fixture(scope="session", autouse=True)
def _journald():
    j = Journal()
    j.start()
    try:
        yield j
    finally:
        j.stop()


@pytest.fixture
def journal(_journald):
    """The tests' journald; skips (with the reason) where there is none."""
    if _journald.why_not:
        pytest.skip(_journald.why_not)
    return _journald


# The job's host uid when nbjail runs as root without --user: uid 0 of
# the job's user namespace is 65534 outside (netns/userns.c)
JOB_ROOT_UID = 65534


@pytest.fixture(autouse=True)
def _tmp_path_for_the_job(tmp_path):
    """A test's tmp_path is the job's to use, as a user's working
    directory would be: the job never runs as host root, so the chain
    above it is made searchable and tmp_path itself belongs to the uid the
    job has outside (its default, or the rootless user)."""
    uid = ROOTLESS_UID if ROOTLESS else JOB_ROOT_UID
    gid = ROOTLESS_GID if ROOTLESS else JOB_ROOT_UID
    for d in (tmp_path.parent.parent, tmp_path.parent):
        os.chmod(d, 0o755)
    os.chown(tmp_path, uid, gid)
    os.chmod(tmp_path, 0o755)


@pytest.fixture(autouse=True)
def _deadline():
    """Fail a test that runs longer than NBT_TEST_TIMEOUT seconds."""
    limit = int(os.environ.get("NBT_TEST_TIMEOUT", "240"))

    def expired(signum, frame):
        raise TimeoutError(f"test exceeded {limit} s (NBT_TEST_TIMEOUT)")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(limit)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(autouse=True)
def no_leaks(world):
    """Fail if any detector saw anything, before (module fixture) or during a test."""
    before = world.leaks()
    if before:
        world.clear()
        pytest.fail("leak detectors saw traffic before this test (in a fixture):\n  "
                    + "\n  ".join(before))
    world.clear()
    yield world
    time.sleep(0.05)  # let detector threads log what the kernel delivered
    seen = world.leaks()
    if seen:
        world.clear()
        pytest.fail("leak detectors saw traffic:\n  " + "\n  ".join(seen))


@pytest.fixture
def nbj():
    """The nbjail binary; fails (not skips) when it has not been built."""
    if not os.access(NBJAIL, os.X_OK):
        pytest.fail(f"nbjail binary not found at {NBJAIL} (set NBJAIL or build it)")
    return NBJAIL


@pytest.fixture
def job_tmp():
    """A directory a job may be given with --write: the job's user is not
    root on the host (its uid 0 maps to SUDO_UID or 65534; in rootless mode
    the test user), so pytest's tmp_path (below a 0700 directory) is out of
    its reach.  Mode 1777 in /tmp; removed afterwards."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="nbt-job-", dir="/tmp")
    os.chmod(d, 0o1777)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Spawner:
    """Starts nbjail in the background; kills what is left at teardown."""

    def __init__(self):
        self.procs = []

    def __call__(self, *args, env=None, prefix=()):
        """nbjail ARGS as the caller (after prefix, run as the caller too)"""
        caller = as_caller([])
        if caller and list(prefix[:len(caller)]) == caller:
            prefix = prefix[len(caller):]   # as_caller() already: not twice
        p = subprocess.Popen(nbjail_cmd(*args, prefix=prefix),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=nbjail_env(env))
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()


@pytest.fixture
def spawn(nbj):
    s = Spawner()
    try:
        yield s
    finally:
        s.cleanup()


def job_relay_pid(job_id, timeout=10.0):
    """The relay's pid, from the state file the job's supervisor wrote"""
    path = os.path.join(RUN_DIR, job_id, "state")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                fields = dict(line.strip().split("=", 1) for line in f if "=" in line)
            if int(fields.get("relay_pid", "0")) > 0:
                return int(fields["relay_pid"])
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no relay pid in {path}")


def scribble_mapping(pid, path, make):
    """Write, as process pid could, through /proc/PID/mem, over its shared
    mapping of path: make(old_bytes) returns the new bytes (same length)"""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip() == path and int(parts[2], 16) == 0:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                break
        else:
            raise AssertionError(f"process {pid} has no mapping of {path}")
    size = min(hi - lo, os.path.getsize(path))
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        mem.seek(lo)
        old = mem.read(size)
        new = make(old)
        assert len(new) == len(old)
        mem.seek(lo)
        mem.write(new)
    return old


def proc_status(pid):
    """/proc/PID/status as a dict of its fields (values stripped)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def children_named(ppid, comm):
    """The pids of ppid's children whose comm is comm."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = proc_status(int(d))
        except OSError:
            continue
        if st.get("Name") == comm and int(st.get("PPid", 0)) == ppid:
            out.append(int(d))
    return out


def process_memory(pid):
    """Every readable mapping of pid, read as root through /proc/PID/mem
    (which needs no dumpable target for root), concatenated."""
    out = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[1][0] != "r" or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]",
                                                                             "[vvar_vclock]")):
                continue
            try:
                mem.seek(lo)
                out.append(mem.read(hi - lo))
            except OSError:
                continue
    return b"".join(out)
