# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_slurm.py - the SPANK plugin in a real Slurm

Theory of operation: a module fixture starts a single-node Slurm of
Debian's slurm-wlm 22.05 in the test world's "host" namespace: munged (as
its user, on a socket of the test's own), slurmctld and slurmd (entered
with nsenter --net, which keeps /sys/fs/cgroup: `ip netns exec` mounts a
fresh sysfs that hides it), every file in a directory of the module's
(/tmp/nbt-slurm-*; the spool, which jobs must see, in /var/spool), Slurm
listening on 127.0.0.1 of that namespace only (NoInAddrAny and
NoCtldInAddrAny, checked with ss; the namespace's wan0 address lets
getaddrinfo's AI_ADDRCONFIG resolve 127.0.0.1).  plugstack.conf loads
the plugin built beside NBJAIL; each test writes the plugstack line it
needs (slurmstepd reads it at every step).  At the end the daemons are
stopped by the pids of their pid files and the fixture asserts that no
process of theirs is left.

Root jobs (srun as root) run nbjail in root mode; the job array runs as
the unprivileged nbjt-rootless user, so nbjail runs rootless in its tasks.
Only test-world addresses are used: the allowed world server
198.51.100.10:80 and the metadata detector 169.254.169.254.

Skipped, with the reason, where slurm-wlm, munge or libslurm-dev are
not installed (make deps installs them).
"""
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (HOST_NS, NBJAIL, PROBE, PYTHON, RUN_DIR, job_dirs, needs_root,
                      processes, wait_for)

SLURM_BINS = ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/slurmstepd",
              "/usr/bin/srun", "/usr/bin/sbatch", "/usr/bin/scancel", "/usr/bin/squeue",
              "/usr/bin/sinfo", "/usr/sbin/munged"]
SPANK_H = "/usr/include/slurm/spank.h"
PLUGIN = os.path.join(os.path.dirname(NBJAIL), "spank_nbjail.so")
MUNGE_KEY = "/etc/munge/munge.key"
ARRAY_USER = "nbjt-rootless"

_missing = [p for p in SLURM_BINS + [SPANK_H, MUNGE_KEY] if not os.path.exists(p)]
pytestmark = [
    pytest.mark.skipif(
        bool(_missing), reason="slurm-wlm, munge and libslurm-dev are needed (make deps): "
        f"missing {', '.join(_missing)}"),
    # the daemons need root; the rootless cases (nbjail rootless in the
    # tasks of an unprivileged user) run in the root pass
    needs_root("slurmctld, slurmd and munged run as root; the rootless cases submit "
               f"as {ARRAY_USER} in the root pass"),
]

ALLOWED = "198.51.100.10:80"
SITE_POLICY = 'allow: ["198.51.100.10:80", "198.51.100.11:80"]\n'

SLURM_CONF = """\
ClusterName=nbt
SlurmctldHost=localhost(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
SlurmctldPidFile={d}/ctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmdSpoolDir={spool}
StateSaveLocation={d}/state
SlurmctldLogFile={d}/ctld.log
SlurmdLogFile={d}/slurmd.log
SlurmdDebug=verbose
SlurmUser=root
SlurmdUser=root
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=5
# bound to the addresses of slurm.conf (127.0.0.1), not every address
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
# eight one-CPU tasks at once on the 2-CPU machine: the tasks mostly wait
SlurmdParameters=config_overrides
PlugStackConfig={d}/plugstack.conf
NodeName=localhost NodeAddr=127.0.0.1 CPUs=8 Sockets=1 CoresPerSocket=8 ThreadsPerCore=1 State=UNKNOWN
PartitionName=p Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def nsenter(cmd):
    return ["nsenter", f"--net=/run/netns/{HOST_NS}", *cmd]


def pid_of(path):
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def exe_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


class Slurm:
    """The test's single-node cluster: munged, slurmctld, slurmd."""

    def __init__(self, d):
        self.d = Path(d)
        # batch scripts live in the spool directory, which jobs must see:
        # not below /tmp (a job's /tmp is its own, as in nbjail(1))
        self.spool = f"/var/spool/nbt-slurmd-{os.getpid()}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLURM_")},
                    "SLURM_CONF": str(self.d / "slurm.conf")}

    def cmd(self, *args, timeout=60, user=None, check=False):
        """A Slurm client command in the host namespace (as user, if given)."""
        argv = list(args)
        if user:
            pw = pwd.getpwnam(user)
            argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                    "--init-groups", "--", *argv]
        cp = subprocess.run(nsenter(argv), capture_output=True, text=True, timeout=timeout,
                            env=self.env, cwd=self.d / "work")
        if check and cp.returncode:
            raise AssertionError(f"{args} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
                                 f"\nslurmd.log tail:\n{self.log_tail()}")
        return cp

    def log_tail(self, n=30):
        try:
            return "\n".join((self.d / "slurmd.log").read_text().splitlines()[-n:])
        except OSError:
            return ""

    def plugstack(self, *args):
        """plugstack.conf: the plugin with ARGS (site defaults)"""
        line = " ".join(["required", PLUGIN, f"nbjail={NBJAIL}", *args])
        (self.d / "plugstack.conf").write_text(line + "\n")

    def start(self):
        d = self.d
        for sub in ("munge", "state", "work"):
            (d / sub).mkdir()
        os.makedirs(self.spool, mode=0o755)
        os.chmod(d / "work", 0o1777)
        shutil.chown(d / "munge", "munge", "munge")
        os.chmod(d / "munge", 0o755)  # munged: the socket's directory searchable by all
        (d / "slurm.conf").write_text(SLURM_CONF.format(d=d, spool=self.spool))
        # hybrid cgroup hosts: slurmd's autodetection refuses them
        (d / "cgroup.conf").write_text("CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\n")
        (d / "site.yaml").write_text(SITE_POLICY)
        self.plugstack(f"policy={d}/site.yaml")
        m = d / "munge"
        subprocess.run(["setpriv", "--reuid=munge", "--regid=munge", "--clear-groups",
                        "/usr/sbin/munged", f"--socket={m}/munge.socket",
                        f"--pid-file={m}/munged.pid", f"--log-file={m}/munged.log",
                        f"--seed-file={m}/munged.seed", f"--key-file={MUNGE_KEY}"],
                       check=True, timeout=30, capture_output=True)
        assert wait_for(lambda: (m / "munge.socket").exists(), 10), "munged did not start"
        for daemon in (["/usr/sbin/slurmctld", "-c"], ["/usr/sbin/slurmd", "-c", "-N", "localhost"]):
            cp = subprocess.run(nsenter(daemon), capture_output=True, text=True, timeout=30,
                                env=self.env)
            assert cp.returncode == 0, f"{daemon} failed: {cp.stderr}"

        def idle():
            cp = self.cmd("sinfo", "-h", "-o", "%t", timeout=20)
            return cp.stdout.strip() == "idle"
        assert wait_for(idle, 30, interval=0.5), \
            f"the node never became idle\nslurmd.log:\n{self.log_tail()}"
        # the daemons listen on 127.0.0.1 of the test's namespace only
        ss = subprocess.run(nsenter(["ss", "-Hltnp"]), capture_output=True, text=True,
                            timeout=10, check=True).stdout
        listening = [line.split()[3] for line in ss.splitlines() if "slurm" in line]
        assert listening and all(a.startswith("127.0.0.1:") for a in listening), ss

    def pids(self):
        return {n: pid_of(self.d / f) for n, f in
                (("slurmd", "slurmd.pid"), ("slurmctld", "ctld.pid"),
                 ("munged", "munge/munged.pid"))}

    def leftovers(self):
        """Processes of this cluster still alive: the daemons of the pid
        files, and any slurmstepd or munged whose netns or command line is
        ours."""
        host_ino = os.stat(f"/run/netns/{HOST_NS}").st_ino
        ours = set()
        for name, pid in self.pids().items():
            if pid and alive(pid):
                ours.add((pid, name))

        def pred(pid, cmd):
            if os.path.basename(exe_of(pid)) in ("slurmstepd", "slurmd", "slurmctld"):
                try:
                    return os.stat(f"/proc/{pid}/ns/net").st_ino == host_ino
                except OSError:
                    return False
            return str(self.d) in cmd
        return sorted(ours | set(processes(pred)))

    def stop(self):
        pids = self.pids()
        for name in ("slurmd", "slurmctld", "munged"):
            pid = pids[name]
            if pid and alive(pid):
                os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not self.leftovers(), 20, interval=0.2)
        for pid, _ in self.leftovers():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.spool, ignore_errors=True)


@pytest.fixture(scope="module")
def slurm(world):
    assert os.path.exists(PLUGIN), f"{PLUGIN} not built (meson -Dspank=enabled)"
    # not below pytest's tmp: each pytest session on the machine makes
    # /tmp/pytest-of-root 0700 again, and munged and the job's user need
    # to reach these files
    d = tempfile.mkdtemp(prefix="nbt-slurm-", dir="/tmp")
    os.chmod(d, 0o755)
    s = Slurm(d)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        left = s.leftovers()
        shutil.rmtree(d, ignore_errors=True)
        # the rootless tasks' runtime directory, which the plugin made
        shutil.rmtree(f"/tmp/nbjail-slurm-{pwd.getpwnam(ARRAY_USER).pw_uid}", ignore_errors=True)
        assert not left, f"Slurm processes left running: {left}"


@pytest.fixture
def site(slurm):
    """Each test starts from the default plugstack line"""
    slurm.plugstack(f"policy={slurm.d}/site.yaml")
    return slurm


def confined_leftovers(extra_dirs=()):
    """nbjail processes and job state left behind"""
    exe = os.path.realpath(NBJAIL)
    relay = os.path.join(os.path.dirname(exe), "nbjail-relay")
    left = [f"process {p} {c}" for p, c in
            processes(lambda pid, cmd: exe_of(pid) in (exe, relay))]
    left += [f"job dir {RUN_DIR}/{j}" for j in job_dirs()]
    for d in extra_dirs:
        if os.path.isdir(d):
            left += [f"{d}/{e}" for e in os.listdir(d)
                     if re.fullmatch(r"[0-9a-f]{8}", e)]
    return left


def probe_argv(*steps):
    return [PYTHON, "-I", PROBE, json.dumps(list(steps))]


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("["):
            return json.loads(line)
    raise AssertionError(f"no probe result in: {text!r}")


def test_srun_reaches_allowed_denied_metadata(site, journal):
    """srun --nbjail-allow: the allowed world server answers, the metadata
    address does not, and the audit events carry the Slurm job id"""
    cp = site.cmd("srun", "-N1", "-n1", "-A", "physics", f"--nbjail-allow={ALLOWED}",
                  "sh", "-c", 'echo "JOB=$SLURM_JOB_ID HOST=$(hostname)"; exec "$@"', "sh",
                  *probe_argv(["tcp", "198.51.100.10", 80], ["tcp", "169.254.169.254", 80]),
                  timeout=120)
    assert cp.returncode == 0, f"{cp.stdout}\n{cp.stderr}\n{site.log_tail()}"
    ok, meta = last_json(cp.stdout)
    assert ok["outcome"] == "data", ok
    assert meta["outcome"] != "data", meta
    m = re.search(r"JOB=(\d+) HOST=(\S+)", cp.stdout)
    assert m, cp.stdout
    job = m.group(1)
    assert m.group(2) == f"slurm-{job}.0.0"     # the nbjail job's hostname: its name
    events = journal.wait_events(
        lambda evs: any(e.get("NBJAIL_EVENT") == "deny" for e in evs),
        f"NBJAIL_SLURM_JOB_ID={job}", timeout=10)
    kinds = {e.get("NBJAIL_EVENT") for e in events}
    assert {"job-start", "deny", "job-end"} <= kinds, kinds
    deny = next(e for e in events if e.get("NBJAIL_EVENT") == "deny")
    assert "169.254.169.254" in deny.get("NBJAIL_TARGET", ""), deny
    assert all(e.get("NBJAIL_TENANT") == "physics" for e in events), events
    assert all(e.get("NBJAIL_SLURM_STEP_ID") == "0" for e in events), events
    assert wait_for(lambda: not confined_leftovers(), 5) is True, confined_leftovers()


def test_user_allow_outside_site_list_fails_before_the_task(site, tmp_path):
    """A user allow outside the site's allow-list: an error, and the task
    never runs"""
    marker = site.d / "work" / "outside-ran"
    cp = site.cmd("srun", "-N1", "-n1", "--nbjail-allow=203.0.113.10:80",
                  "touch", str(marker), timeout=60)
    assert cp.returncode != 0
    assert "outside the site policy's allow-list" in cp.stderr, cp.stderr
    assert not marker.exists()
    # the same command within the list runs (the test can fail)
    cp = site.cmd("srun", "-N1", "-n1", f"--nbjail-allow={ALLOWED}", "true", timeout=60)
    assert cp.returncode == 0, cp.stderr


def test_user_policy_narrows(site):
    """--nbjail-policy: a file within the site's list runs, one beyond it
    does not"""
    work = site.d / "work"
    (work / "narrow.yaml").write_text('allow: ["198.51.100.10:80"]\n')
    (work / "wide.yaml").write_text('allow: ["*.test"]\n')
    cp = site.cmd("srun", "-N1", "-n1", f"--nbjail-policy={work}/narrow.yaml",
                  *probe_argv(["tcp", "198.51.100.10", 80], ["tcp", "198.51.100.11", 80]),
                  timeout=120)
    assert cp.returncode == 0, cp.stderr
    ok, other = last_json(cp.stdout)
    assert ok["outcome"] == "data" and other["outcome"] != "data", (ok, other)
    cp = site.cmd("srun", "-N1", "-n1", f"--nbjail-policy={work}/wide.yaml", "true",
                  timeout=60)
    assert cp.returncode != 0
    assert "outside the site policy's allow-list" in cp.stderr, cp.stderr


def test_enforce(site):
    """enforce=1: a task without --nbjail-* options is confined too, and
    with a broken site policy no task runs"""
    marker = site.d / "work" / "enforce-ran"
    # without enforce a task that asks for nothing runs as usual
    cp = site.cmd("srun", "-N1", "-n1", "hostname", timeout=60)
    assert cp.returncode == 0 and not cp.stdout.startswith("slurm-"), cp.stdout
    site.plugstack(f"policy={site.d}/site.yaml", "enforce=1")
    cp = site.cmd("srun", "-N1", "-n1", "hostname", timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert re.fullmatch(r"slurm-\d+\.0\.0", cp.stdout.strip()), cp.stdout
    (site.d / "broken.yaml").write_text("allow: [\n")
    site.plugstack(f"policy={site.d}/broken.yaml", "enforce=1")
    cp = site.cmd("srun", "-N1", "-n1", "touch", str(marker), timeout=60)
    assert cp.returncode != 0
    assert not marker.exists()
    assert "broken.yaml" in cp.stderr, cp.stderr
    # a missing nbjail: the plugin's own error, the task does not run
    site.d.joinpath("plugstack.conf").write_text(
        f"required {PLUGIN} nbjail=/nonexistent/nbjail policy={site.d}/site.yaml enforce=1\n")
    cp = site.cmd("srun", "-N1", "-n1", "touch", str(marker), timeout=60)
    assert cp.returncode != 0
    assert not marker.exists()


@pytest.mark.parametrize("user", [None, ARRAY_USER], ids=["root", "rootless"])
def test_scancel_leaves_nothing(site, user):
    """A step killed by scancel: no nbjail process, no job state, no
    workload left (gc not needed); as root (srun) and rootless (sbatch)"""
    marker = "nbt-scancel-sleep"
    state = [RUN_DIR]
    if user:
        state = [f"/tmp/nbjail-slurm-{pwd.getpwnam(user).pw_uid}/nbjail"]
        cp = site.cmd("sbatch", "-J", marker, f"--nbjail-allow={ALLOWED}", "--output=/dev/null",
                      "--wrap", "exec sleep 317", user=user, check=True)
        p = None
    else:
        p = subprocess.Popen(nsenter(["srun", "-N1", "-n1", "-J", marker,
                                      f"--nbjail-allow={ALLOWED}", "sleep", "317"]),
                             env=site.env, cwd=site.d / "work", stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: processes(lambda pid, cmd: cmd == "sleep 317"), 30), \
            f"the task never started\n{site.log_tail()}"
        assert confined_leftovers(state), "no nbjail job seen while the task runs"
        jid = site.cmd("squeue", "-h", "-n", marker, "-o", "%i", check=True).stdout.strip()
        assert jid.isdigit(), jid
        site.cmd("scancel", jid, check=True)
        if p:
            p.wait(timeout=60)
    finally:
        if p:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
            p.stdout.close()
            p.stderr.close()
    assert wait_for(lambda: not confined_leftovers(state), 20), confined_leftovers(state)
    assert not processes(lambda pid, cmd: cmd == "sleep 317")
    assert wait_for(lambda: not site.cmd("squeue", "-h").stdout.strip(), 30)


def test_sbatch_array_of_20_rootless(site):
    """sbatch --array of 20 tasks as an unprivileged user: each task runs
    in a rootless nbjail job, reaches the allowed server, is denied the
    metadata address, and leaves nothing"""
    pw = pwd.getpwnam(ARRAY_USER)
    out = site.d / "work" / "array"
    out.mkdir()
    shutil.chown(out, pw.pw_uid, pw.pw_gid)
    rundir = f"/tmp/nbjail-slurm-{pw.pw_uid}"
    script = " ".join(f"'{a}'" for a in probe_argv(["tcp", "198.51.100.10", 80],
                                                  ["tcp", "169.254.169.254", 80]))
    t0 = time.monotonic()
    cp = site.cmd("sbatch", "--wait", "--array=0-19", f"--nbjail-allow={ALLOWED}",
                  f"--output={out}/%a.out", "--wrap", f"hostname; exec {script}",
                  user=ARRAY_USER, timeout=240)
    elapsed = time.monotonic() - t0
    assert cp.returncode == 0, f"{cp.stdout}\n{cp.stderr}\n{site.log_tail()}"
    assert elapsed < 200
    outs = sorted(out.glob("*.out"))
    assert len(outs) == 20, outs
    for f in outs:
        text = f.read_text()
        first = text.splitlines()[0]
        assert re.fullmatch(r"slurm-\d+\.batch\.0", first), (f, text)
        ok, meta = last_json(text)
        assert ok["outcome"] == "data" and meta["outcome"] != "data", (f, text)
    assert wait_for(lambda: not confined_leftovers([f"{rundir}/nbjail"]), 15), \
        confined_leftovers([f"{rundir}/nbjail"])
    shutil.rmtree(rundir, ignore_errors=True)
