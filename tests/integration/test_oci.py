# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_oci.py - the OCI hook with real podman and crun

Theory of operation: a module fixture gives podman a world of its own
under a temporary directory: storage (vfs) and runroot, its tmpdir,
containers.conf, storage.conf, an empty registries.conf and a hooks
directory holding the hooks.d file of oci/nbjail.json with this build's
nbjail and a policy directory of the test's.  Nothing of the machine's
podman state is read or written, and no registry is asked: the image is
`podman import` of a tarball holding one static program
(tests/escape/oci_probe.c).  Every podman runs in the test world's
"host" namespace (nsenter --net, so that /sys/fs/cgroup stays) and in a
mount namespace of its own (unshare -m) where, on a hybrid cgroup host
like this one, an empty tmpfs covers /sys/fs/cgroup/unified: crun 1.8
refuses hybrid hosts, and containers run with --cgroups disabled.  crun's
state goes under the directory too (--runtime-flag root=), and podman
import, which writes a blob cache to /var/lib/containers/cache whatever
--root says, runs with a tmpfs on /var/lib.  crun
writes the hook's stderr where the annotation run.oci.hooks.stderr says.

The relay runs where the runtime runs its hooks, in the host namespace,
whose routes lead to the world: an allowed world server answers, the
metadata detector 169.254.169.254 sees nothing (no_leaks), and after
podman rm -f nothing of nbjail is left.

Pods (podman pod create --network none): the infra image is built with
podman build --annotation from the probe alone (podman 4.3 has no pod
annotations; a container gets its image's), its members join its netns
by path and are admitted only into a netns a live nbjail job holds, for
the pod's policy (oci/pod.c, supervisor/ocipod.c).

Root only (rootful podman; the hook runs as root).  Skipped, with the
reason, where podman or crun is not installed (make deps).
"""
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from conftest import (HOST_NS, NBJAIL, RUN_DIR, WORLD_NS, host_problems, job_dirs,
                      needs_root, processes, wait_for, wait_host_clean)

PODMAN, CRUN = shutil.which("podman"), shutil.which("crun")
PROBE_BIN = os.path.join(os.path.dirname(NBJAIL), "tests", "escape", "oci-probe")
IMAGE = "localhost/nbt-oci-probe:1"
ALLOWED = ("198.51.100.10", "80")
OTHER = ("198.51.100.11", "80")
FLOOR = ("169.254.169.254", "80")

pytestmark = [
    pytest.mark.skipif(not PODMAN or not CRUN,
                       reason="podman and crun are needed (make deps)"),
    pytest.mark.skipif(not os.path.exists(PROBE_BIN),
                       reason=f"{PROBE_BIN} is not built"),
    needs_root("rootful podman runs the hook as root; rootless containers are not "
               "supported by the hook (nbjail-oci(8))"),
]

POLICIES = {
    "web": 'allow: ["198.51.100.10:80"]\n',
    "broken": 'allow: ["198.51.100.10:80"\n',
    "publishing": 'allow: ["198.51.100.10:80"]\npublish: [{port: 8080, to: 80}]\n',
    "writable": 'allow: ["198.51.100.10:80"]\n',     # mode 0666 below
    "other": 'allow: ["198.51.100.11:80"]\n',
}

# the podman command, run in a mount namespace of its own
PODMAN_SH = """\
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
    mount -t tmpfs nbt-no-hybrid /sys/fs/cgroup/unified || exit 99
fi
if [ -n "$NBT_HIDE_VAR_LIB" ]; then
    mount -t tmpfs nbt-no-var-lib /var/lib || exit 99
fi
exec "$@"
"""


class Podman:
    """podman with every path of its own under one directory"""

    def __init__(self, d):
        self.d = d
        self.hook_err = d / "hook.err"
        self.policies = d / "policies"
        self.policies.mkdir()
        for name, text in POLICIES.items():
            (self.policies / f"{name}.yaml").write_text(text)
        os.chmod(self.policies / "writable.yaml", 0o666)
        (d / "hooks").mkdir()
        with open(REPO_HOOK) as f:
            hook = json.load(f)
        hook["hook"]["path"] = NBJAIL
        hook["hook"]["args"] = ["nbjail", "oci-hook", "--policy-dir", str(self.policies)]
        (d / "hooks" / "nbjail.json").write_text(json.dumps(hook))
        (d / "containers.conf").write_text(f"""\
[containers]
netns = "none"
cgroups = "disabled"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
runtime = "crun"
hooks_dir = ["{d}/hooks"]
image_copy_tmp_dir = "{d}/tmp"
""")
        (d / "storage.conf").write_text(f"""\
[storage]
driver = "vfs"
graphroot = "{d}/root"
runroot = "{d}/runroot"
""")
        (d / "registries.conf").write_text("")
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(d),
            "CONTAINERS_CONF": str(d / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(d / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(d / "registries.conf"),
        }

    def __call__(self, *args, timeout=60, hide_var_lib=False):
        """podman ARGS; hide_var_lib: under a tmpfs on /var/lib (podman
        import writes its blob cache to /var/lib/containers/cache, whatever
        --root says)"""
        cmd = ["nsenter", f"--net=/run/netns/{HOST_NS}", "unshare", "-m",
               "--propagation", "private", "sh", "-c", PODMAN_SH, "sh",
               PODMAN, "--root", str(self.d / "root"), "--runroot", str(self.d / "runroot"),
               "--tmpdir", str(self.d / "tmp"), "--storage-driver", "vfs",
               "--cgroup-manager", "cgroupfs", "--hooks-dir", str(self.d / "hooks"),
               "--runtime-flag", f"root={self.d / 'crun'}", *args]
        env = dict(self.env, NBT_HIDE_VAR_LIB="1") if hide_var_lib else self.env
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)

    def run(self, *args, policy="web", timeout=60):
        """podman run --rm --network none [--annotation io.nbjail.policy=policy]"""
        if self.hook_err.exists():
            self.hook_err.unlink()
        ann = ["--annotation", f"io.nbjail.policy={policy}"] if policy else []
        return self("run", "--rm", "--network", "none", "--cgroups", "disabled", *ann,
                    "--annotation", f"run.oci.hooks.stderr={self.hook_err}", *args,
                    timeout=timeout)

    def hook_stderr(self):
        return self.hook_err.read_text() if self.hook_err.exists() else ""


# the hooks.d file as installed (its hook's path replaced above)
REPO_HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oci",
                         "nbjail.json.in")


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    # what an earlier file's killed supervisor left is gc's (test_tty kills
    # one with SIGABRT): this module's cleanliness checks are its own
    subprocess.run([NBJAIL, "gc"], capture_output=True, timeout=60)
    d = tmp_path_factory.mktemp("oci")
    p = Podman(d)
    rootfs = d / "rootfs.tar"
    with tarfile.open(rootfs, "w") as t:
        t.add(PROBE_BIN, arcname="bin/oci-probe")
    cp = p("import", str(rootfs), IMAGE, hide_var_lib=True)
    assert cp.returncode == 0, cp.stderr
    yield p
    p("pod", "rm", "-a", "-f", "-t", "0")
    p("rm", "-a", "-f", "-t", "0")
    leftover = processes(lambda pid, cmd: str(d) in cmd)
    for pid, _ in leftover:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    # podman's files are root's and read-only in places: remove them all
    subprocess.run(["rm", "-rf", "--one-file-system", str(d)], timeout=60)
    assert not leftover, f"podman processes left: {leftover}"


def probe_lines(stdout):
    """{"IP:PORT": "ok ..." | "error ..."} of oci-probe's output"""
    out = {}
    for line in stdout.splitlines():
        target, _, rest = line.partition(" ")
        out[target] = rest
    return out


def relays():
    """the relays of this build (other nbjails may run on the machine)"""
    relay = os.path.join(os.path.dirname(os.path.realpath(NBJAIL)), "nbjail-relay")

    def ours(pid, cmd):
        try:
            return cmd.startswith("nbjail-relay") and os.readlink(f"/proc/{pid}/exe") == relay
        except OSError:
            return False
    return processes(ours)


def test_allowed_server_reached_floor_denied(podman, world):
    """an annotated container reaches the allowed world server through the
    relay; the floor and a server outside its allow-list are denied"""
    world.clear()
    cp = podman.run(IMAGE, "/bin/oci-probe", *ALLOWED, *FLOOR, *OTHER)
    assert cp.returncode == 0, (cp.returncode, cp.stderr, podman.hook_stderr())
    got = probe_lines(cp.stdout)
    assert got["198.51.100.10:80"].startswith("ok HTTP/1."), got
    assert not got["169.254.169.254:80"].startswith("ok"), got
    assert not got["198.51.100.11:80"].startswith("ok"), got
    # the world saw the allowed connection, from the host (the relay)
    assert any(local.startswith("198.51.100.10") for local, _ in world.accesses()), \
        world.accesses()
    assert not world.leaks()
    assert wait_host_clean(world, timeout=10.0) == []


def test_audit_names_the_container(podman, world, journal):
    """the job's audit trail (journald) carries the container's id: start,
    the floor's denial, end"""
    cidfile = podman.d / "audit.cid"
    if cidfile.exists():
        cidfile.unlink()
    cp = podman.run("--cidfile", str(cidfile), IMAGE, "/bin/oci-probe", *FLOOR)
    assert cp.returncode == 0, (cp.stderr, podman.hook_stderr())
    cid = cidfile.read_text().strip()
    events = journal.wait_events(
        lambda evs: {"job-start", "deny", "job-end"} <= {e.get("NBJAIL_EVENT") for e in evs},
        f"NBJAIL_OCI_CONTAINER_ID={cid}", timeout=10)
    kinds = {e.get("NBJAIL_EVENT") for e in events}
    assert {"job-start", "deny", "job-end"} <= kinds, kinds
    deny = next(e for e in events if e.get("NBJAIL_EVENT") == "deny")
    assert "169.254.169.254" in deny.get("NBJAIL_TARGET", ""), deny
    end = next(e for e in events if e.get("NBJAIL_EVENT") == "job-end")
    assert "container ended" in end.get("MESSAGE", "") + end.get("NBJAIL_DETAIL", ""), end
    assert wait_host_clean(world, timeout=10.0) == []


def test_container_gets_the_job_network(podman):
    """lo holds the job's address (netns/link.c), as in a net job"""
    cp = podman.run(IMAGE, "/bin/oci-probe", "--addrs")
    assert cp.returncode == 0, (cp.stderr, podman.hook_stderr())
    assert "lo 10.231.0.2" in cp.stdout.splitlines(), cp.stdout


def test_unannotated_container_untouched(podman, world):
    """without the annotation the hook does not run: lo only, no job"""
    before = job_dirs()
    cp = podman.run(IMAGE, "/bin/oci-probe", "--addrs", policy=None)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == ["lo 127.0.0.1"], cp.stdout
    cp = podman.run(IMAGE, "/bin/oci-probe", *ALLOWED, policy=None)
    assert cp.returncode == 0, cp.stderr
    assert probe_lines(cp.stdout)["198.51.100.10:80"] == "error ENETUNREACH", cp.stdout
    assert job_dirs() == before
    assert podman.hook_stderr() == ""


@pytest.mark.parametrize("policy,expect", [
    ("broken", "broken.yaml"),                      # malformed: file and line
    ("missing", "missing.yaml"),                    # no such policy
    ("../../etc/passwd", "not NAME or"),            # outside the policy directory
    ("/etc/nbjail/x.yaml", "not NAME or"),
    ("publishing", "publish is not supported"),     # what a hook cannot give
    ("writable", "writable by others"),             # a policy others could change
])
def test_bad_policy_refuses_the_container(podman, world, policy, expect):
    """fail closed: the runtime does not start the container, the hook says why"""
    before = job_dirs()
    cp = podman.run(IMAGE, "/bin/oci-probe", *ALLOWED, policy=policy)
    assert cp.returncode != 0, cp.stdout
    assert "198.51.100.10:80" not in cp.stdout
    assert expect in podman.hook_stderr(), podman.hook_stderr()
    assert job_dirs() == before
    assert wait_host_clean(world, timeout=10.0) == []


def test_net_admin_refused(podman, world):
    """a container that could undo its ruleset (CAP_NET_ADMIN) is not started"""
    cp = podman.run("--cap-add", "NET_ADMIN", IMAGE, "/bin/oci-probe", *ALLOWED)
    assert cp.returncode != 0, cp.stdout
    assert "CAP_NET_ADMIN" in podman.hook_stderr(), podman.hook_stderr()
    assert wait_host_clean(world, timeout=10.0) == []


def test_rm_f_leaves_nothing(podman, world):
    """a running confined container has a job and a relay; podman rm -f
    removes it and nbjail leaves nothing (no relay, no state)"""
    before_relays = relays()
    cp = podman("run", "-d", "--network", "none", "--cgroups", "disabled",
                "--annotation", "io.nbjail.policy=web", IMAGE, "/bin/oci-probe",
                "--sleep", "60")
    assert cp.returncode == 0, cp.stderr
    cid = cp.stdout.strip()
    try:
        assert wait_for(lambda: len(relays()) > len(before_relays), 10.0), relays()
        assert len(job_dirs()) == 1, job_dirs()
        info = open(os.path.join(RUN_DIR, next(iter(job_dirs())), "info")).read()
        assert f"oci-{cid[:59]}" in info, info
    finally:
        rm = podman("rm", "-f", "-t", "0", cid)
    assert rm.returncode == 0, rm.stderr
    assert wait_host_clean(world, timeout=10.0) == [], host_problems(world)
    assert relays() == before_relays


def test_poststop_ends_the_job(podman, world):
    """the poststop stage ends the container's job at once (SIGTERM to its
    supervisor) and returns when its state is gone"""
    cp = podman("run", "-d", "--network", "none", "--cgroups", "disabled",
                "--annotation", "io.nbjail.policy=web", IMAGE, "/bin/oci-probe",
                "--sleep", "60")
    assert cp.returncode == 0, cp.stderr
    cid = cp.stdout.strip()
    try:
        assert wait_for(lambda: len(job_dirs()) == 1, 10.0), job_dirs()
        state = {"ociVersion": "1.0.2", "id": cid, "status": "stopped", "pid": 0,
                 "bundle": "/nonexistent", "annotations": {"io.nbjail.policy": "web"}}
        t0 = time.monotonic()
        hook = subprocess.run([NBJAIL, "oci-hook", "--policy-dir", str(podman.policies)],
                              capture_output=True, text=True, timeout=30,
                              input=json.dumps(state))
        assert hook.returncode == 0, hook.stderr
        assert job_dirs() == set(), "poststop returned before the job was gone"
        assert time.monotonic() - t0 < 5.0
        assert relays() == []
    finally:
        rm = podman("rm", "-f", "-t", "0", cid)
    assert rm.returncode == 0, rm.stderr
    assert wait_host_clean(world, timeout=10.0) == []


SECCOMP_CALLS = ["connect", "bind", "listen", "sendto", "sendmsg", "sendmmsg"]


def agent_profile(path, listener):
    """podman's default seccomp profile with nbjail's socket calls handed
    to the agent at listener (nbjail-oci(8), SECCOMP AGENT)"""
    with open("/usr/share/containers/seccomp.json") as f:
        prof = json.load(f)
    for rule in prof["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule["names"] = [n for n in rule["names"] if n not in SECCOMP_CALLS]
    prof["syscalls"] = [r for r in prof["syscalls"] if r["names"]]
    prof["syscalls"].append({"names": SECCOMP_CALLS, "action": "SCMP_ACT_NOTIFY"})
    prof["listenerPath"] = str(listener)
    path.write_text(json.dumps(prof))
    return path


class Agent:
    """nbjail oci-agent on a socket of the test's"""

    def __init__(self, d):
        self.sock = d / "agent.sock"
        self.err = open(d / "agent.err", "w+")
        self.proc = subprocess.Popen([NBJAIL, "oci-agent", "--socket", str(self.sock)],
                                     stderr=self.err, stdin=subprocess.DEVNULL)
        assert wait_for(lambda: self.sock.exists(), 5.0), "the agent did not listen"

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def agent(podman):
    a = Agent(podman.d)
    yield a
    a.stop()
    a.err.close()


@pytest.mark.skipif(not os.path.exists("/usr/share/containers/seccomp.json"),
                    reason="podman's default seccomp profile is needed (containers-common)")
def test_seccomp_agent_judges_socket_calls(podman, world, agent):
    """with a profile whose listenerPath is nbjail oci-agent, the job's
    notifier answers the container's calls: EACCES for the floor and for
    what the policy does not allow (the relay alone would accept and
    close), the allowed server is reached"""
    prof = agent_profile(podman.d / "agent-profile.json", agent.sock)
    world.clear()
    cp = podman.run("--security-opt", f"seccomp={prof}", IMAGE, "/bin/oci-probe",
                    *ALLOWED, *FLOOR, *OTHER)
    assert cp.returncode == 0, (cp.stderr, podman.hook_stderr(), agent.stderr())
    got = probe_lines(cp.stdout)
    assert got["198.51.100.10:80"].startswith("ok HTTP/1."), got
    assert got["169.254.169.254:80"] == "error EACCES", got
    assert got["198.51.100.11:80"] == "error EACCES", got
    assert not world.leaks()
    agent.stop()    # itself an nbjail process: gone before the check
    assert wait_host_clean(world, timeout=10.0) == []


def test_seccomp_agent_absent_refuses(podman, world):
    """a profile naming an agent that does not listen: the runtime does not
    start the container (fail closed, crun's part)"""
    prof = agent_profile(podman.d / "dead-profile.json", podman.d / "nobody.sock")
    cp = podman.run("--security-opt", f"seccomp={prof}", IMAGE, "/bin/oci-probe", *ALLOWED)
    assert cp.returncode != 0, cp.stdout
    assert "198.51.100.10:80" not in cp.stdout
    assert wait_host_clean(world, timeout=10.0) == []


def test_hook_usage_and_bad_state():
    """bad usage exits 2; a state that is not JSON is refused (exit 1)"""
    cp = subprocess.run([NBJAIL, "oci-hook", "--bogus"], capture_output=True, text=True,
                        timeout=10, input="")
    assert cp.returncode == 2, cp.stderr
    cp = subprocess.run([NBJAIL, "oci-hook"], capture_output=True, text=True, timeout=10,
                        input="{not json")
    assert cp.returncode == 1 and "not JSON" in cp.stderr, cp.stderr
    state = {"ociVersion": "1.0.2", "id": "x1", "status": "creating", "pid": 1,
             "bundle": "/nonexistent"}
    cp = subprocess.run([NBJAIL, "oci-hook"], capture_output=True, text=True, timeout=10,
                        input=json.dumps(state))
    assert cp.returncode == 1, cp.stderr   # run, but no annotation: refused
    state["annotations"] = {"io.nbjail.policy": "web"}
    cp = subprocess.run([NBJAIL, "oci-hook", "--policy-dir", "/nonexistent"],
                        capture_output=True, text=True, timeout=10, input=json.dumps(state))
    assert cp.returncode == 1, cp.stderr


# Pods: podman pods have the shape of Kubernetes' (CRI-O's): an infra
# container owns the netns, the members join it by path.  podman 4.3 has
# no `pod create --annotation`, but a container gets its image's
# annotations: the infra image carries io.nbjail.policy (as a Pod's
# annotation reaches CRI-O's infra container).

INFRA_WEB = "localhost/nbt-oci-infra-web:1"


@pytest.fixture(scope="module")
def infra_image(podman):
    """an infra image annotated io.nbjail.policy=web (podman build
    --annotation, from the probe only: no registry)"""
    ctx = podman.d / "infra-ctx"
    (ctx / "bin").mkdir(parents=True)
    shutil.copy(PROBE_BIN, ctx / "bin" / "oci-probe")
    (ctx / "Containerfile").write_text("FROM scratch\nCOPY bin/oci-probe /bin/oci-probe\n")
    cp = podman("build", "--pull=never", "--annotation", "io.nbjail.policy=web",
                "--annotation", f"run.oci.hooks.stderr={podman.d / 'infra-hook.err'}",
                "-t", INFRA_WEB, str(ctx), hide_var_lib=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return INFRA_WEB


class Pod:
    """a podman pod whose infra container sleeps, with members run in it"""

    def __init__(self, podman, name, infra_image):
        self.podman, self.name = podman, name
        cp = podman("pod", "create", "--name", name, "--network", "none",
                    "--infra-image", infra_image, "--infra-command",
                    "/bin/oci-probe --sleep 120", "--infra-name", f"{name}-infra")
        assert cp.returncode == 0, cp.stderr

    def run(self, *args, policy="web", detach=False, timeout=60):
        """podman run [--rm|-d] --pod NAME [--annotation io.nbjail.policy=policy]"""
        if self.podman.hook_err.exists():
            self.podman.hook_err.unlink()
        ann = ["--annotation", f"io.nbjail.policy={policy}"] if policy else []
        return self.podman("run", "-d" if detach else "--rm", "--pod", self.name,
                           "--cgroups", "disabled", *ann, "--annotation",
                           f"run.oci.hooks.stderr={self.podman.hook_err}", *args,
                           timeout=timeout)

    def rm(self):
        return self.podman("pod", "rm", "-f", "-t", "0", self.name)


def netns_records():
    """the netns records of nbjail's jobs (supervisor/ocipod.c)"""
    return {j: open(os.path.join(RUN_DIR, j, "netns")).read()
            for j in job_dirs() if os.path.exists(os.path.join(RUN_DIR, j, "netns"))}


@pytest.mark.skipif(not os.path.exists("/usr/share/containers/seccomp.json"),
                    reason="podman's default seccomp profile is needed (containers-common)")
def test_pod_members_confined(podman, world, agent, infra_image):
    """the annotated infra container confines the pod's netns; its members
    reach the allowed world server and are denied the floor, through the
    relay (a member without a seccomp profile) and through the seccomp
    agent (a member whose profile names it: EACCES from the pod's job)"""
    before_relays = relays()
    world.clear()
    pod = Pod(podman, "nbt-pod-ok", infra_image)
    try:
        cp = pod.run(IMAGE, "/bin/oci-probe", *ALLOWED, *FLOOR, *OTHER)
        assert cp.returncode == 0, (cp.stderr, podman.hook_stderr())
        got = probe_lines(cp.stdout)
        assert got["198.51.100.10:80"].startswith("ok HTTP/1."), got
        assert not got["169.254.169.254:80"].startswith("ok"), got
        assert not got["198.51.100.11:80"].startswith("ok"), got
        # one job for the pod, the infra's: the member has none of its own
        assert len(job_dirs()) == 1 and len(netns_records()) == 1, job_dirs()
        prof = agent_profile(podman.d / "pod-agent-profile.json", agent.sock)
        cp = pod.run("--security-opt", f"seccomp={prof}", IMAGE, "/bin/oci-probe",
                     *ALLOWED, *FLOOR, *OTHER)
        assert cp.returncode == 0, (cp.stderr, podman.hook_stderr(), agent.stderr())
        got = probe_lines(cp.stdout)
        assert got["198.51.100.10:80"].startswith("ok HTTP/1."), got
        assert got["169.254.169.254:80"] == "error EACCES", (got, agent.stderr())
        assert got["198.51.100.11:80"] == "error EACCES", got
        assert any(local.startswith("198.51.100.10") for local, _ in world.accesses()), \
            world.accesses()
        assert not world.leaks()
    finally:
        rm = pod.rm()
    assert rm.returncode == 0, rm.stderr
    agent.stop()
    assert wait_host_clean(world, timeout=10.0) == [], host_problems(world)
    assert relays() == before_relays


def test_pod_foreign_netns_refused(podman, world):
    """a member that joins a netns nbjail did not set up (the pod's infra
    container has no annotation) is not started"""
    before = job_dirs()
    pod = Pod(podman, "nbt-pod-foreign", IMAGE)
    try:
        cp = pod.run(IMAGE, "/bin/oci-probe", *ALLOWED)
        assert cp.returncode != 0, cp.stdout
        assert "198.51.100.10:80" not in cp.stdout
        assert "which nbjail did not set up" in podman.hook_stderr(), podman.hook_stderr()
        assert job_dirs() == before
    finally:
        rm = pod.rm()
    assert rm.returncode == 0, rm.stderr
    assert wait_host_clean(world, timeout=10.0) == []


def test_pod_member_other_policy_refused(podman, world, infra_image):
    """a member whose annotation names another policy than its pod's is not
    started; one that names the pod's is"""
    pod = Pod(podman, "nbt-pod-other", infra_image)
    try:
        cp = pod.run(IMAGE, "/bin/oci-probe", *OTHER, policy="other")
        assert cp.returncode != 0, cp.stdout
        assert "198.51.100.11:80" not in cp.stdout
        assert "not its pod's" in podman.hook_stderr(), podman.hook_stderr()
        cp = pod.run(IMAGE, "/bin/oci-probe", "--addrs")
        assert cp.returncode == 0, (cp.stderr, podman.hook_stderr())
        assert "lo 10.231.0.2" in cp.stdout.splitlines(), cp.stdout
    finally:
        rm = pod.rm()
    assert rm.returncode == 0, rm.stderr
    assert wait_host_clean(world, timeout=10.0) == []


def test_pod_rm_leaves_nothing(podman, world, infra_image):
    """a running pod has one job (the infra's: relay, writer, netns record);
    podman pod rm -f leaves nothing of nbjail"""
    before_relays = relays()
    pod = Pod(podman, "nbt-pod-rm", infra_image)
    try:
        cp = pod.run(IMAGE, "/bin/oci-probe", "--sleep", "60", detach=True)
        assert cp.returncode == 0, (cp.stderr, podman.hook_stderr())
        assert wait_for(lambda: len(relays()) > len(before_relays), 10.0), relays()
        assert len(job_dirs()) == 1, job_dirs()
        assert len(netns_records()) == 1, netns_records()
    finally:
        rm = pod.rm()
    assert rm.returncode == 0, rm.stderr
    assert wait_host_clean(world, timeout=10.0) == [], host_problems(world)
    assert relays() == before_relays
    assert processes(lambda pid, cmd: cmd.startswith("nbjail-oci")) == []


def test_hook_unannotated_create_refused():
    """the runtime runs the hook at createRuntime for a container whose state
    has no annotation (CRI-O merges the pod's annotations to match, but
    passes the container's own; or a hooks.d file with "always": true): it
    cannot be confined and is refused; at poststop there is nothing to do"""
    state = {"ociVersion": "1.0.2", "id": "x2", "status": "creating", "pid": 1,
             "bundle": "/nonexistent",
             "annotations": {"io.kubernetes.cri-o.ContainerType": "container"}}
    cp = subprocess.run([NBJAIL, "oci-hook"], capture_output=True, text=True, timeout=10,
                        input=json.dumps(state))
    assert cp.returncode == 1, cp.stderr
    assert "has no annotation io.nbjail.policy" in cp.stderr, cp.stderr
    assert "is not started" in cp.stderr, cp.stderr
    state["status"] = "stopped"
    cp = subprocess.run([NBJAIL, "oci-hook"], capture_output=True, text=True, timeout=10,
                        input=json.dumps(state))
    assert cp.returncode == 0, cp.stderr


def test_pod_stale_record_refused(podman, world):
    """a netns record whose job is gone (no supervisor holds the netns: as
    after a crash, when the kernel may give the netns's number again) does
    not admit a member: the identity must be confirmed by a live job"""
    before = job_dirs()
    pod = Pod(podman, "nbt-pod-stale", IMAGE)
    stale = os.path.join(RUN_DIR, "5a1e0000")
    try:
        cp = podman("pod", "start", pod.name)
        assert cp.returncode == 0, cp.stderr
        cp = podman("inspect", "-f", "{{.State.Pid}}", f"{pod.name}-infra")
        assert cp.returncode == 0, cp.stderr
        st = os.stat(f"/proc/{int(cp.stdout.strip())}/ns/net")
        os.makedirs(stale)
        with open(os.path.join(stale, "netns"), "w") as f:
            f.write(f"{st.st_dev} {st.st_ino}\n")
        open(os.path.join(stale, "lock"), "w").close()     # unlocked: a dead job's
        cp = pod.run(IMAGE, "/bin/oci-probe", *ALLOWED)
        assert cp.returncode != 0, cp.stdout
        assert "198.51.100.10:80" not in cp.stdout
        assert "job is gone or does not hold it" in podman.hook_stderr(), \
            podman.hook_stderr()
        # nbjail gc removes such a job directory, its record included
        gc = subprocess.run([NBJAIL, "gc"], capture_output=True, text=True, timeout=60)
        assert gc.returncode == 0, gc.stderr
        assert not os.path.exists(stale), os.listdir(stale)
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        rm = pod.rm()
    assert rm.returncode == 0, rm.stderr
    assert job_dirs() == before
    assert wait_host_clean(world, timeout=10.0) == []


def test_hook_member_netns_identity(tmp_path):
    """the hook run by hand for a container joining a netns by path: its
    init's netns must be the one its config names, and one nbjail set up
    (here: test namespaces of the world, neither of them nbjail's)"""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(POLICIES["web"])
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    sleeper = subprocess.Popen(["ip", "netns", "exec", HOST_NS, "sleep", "30"])
    try:
        assert wait_for(lambda: os.readlink(f"/proc/{sleeper.pid}/exe").endswith("sleep"),
                        5.0)
        state = {"ociVersion": "1.0.2", "id": "member1", "status": "created",
                 "pid": sleeper.pid, "bundle": str(bundle),
                 "annotations": {"io.nbjail.policy": "web"}}

        def hook(netns_path):
            config = {"linux": {"namespaces": [{"type": "network", "path": netns_path}]}}
            (bundle / "config.json").write_text(json.dumps(config))
            return subprocess.run([NBJAIL, "oci-hook", "--policy-dir",
                                   str(tmp_path / "policies")], capture_output=True,
                                  text=True, timeout=30, input=json.dumps(state))
        before = job_dirs()
        cp = hook(f"/run/netns/{WORLD_NS}")      # not the init's netns
        assert cp.returncode == 1, cp.stderr
        assert "its init's network namespace is not" in cp.stderr, cp.stderr
        cp = hook(f"/run/netns/{HOST_NS}")       # the init's, but not nbjail's
        assert cp.returncode == 1, cp.stderr
        assert "which nbjail did not set up" in cp.stderr, cp.stderr
        assert job_dirs() == before
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


@pytest.mark.skipif(not os.path.exists("/usr/share/containers/seccomp.json"),
                    reason="podman's default seccomp profile is needed (containers-common)")
def test_pod_revoke_reaches_members(podman, world, agent, infra_image):
    """nbjail ctl revoke of the pod's job: a member's seccomp listener is
    judged revoked too (EACCES even for the allowed server)"""
    pod = Pod(podman, "nbt-pod-revoke", infra_image)
    try:
        cp = podman("pod", "start", pod.name)
        assert cp.returncode == 0, cp.stderr
        assert wait_for(lambda: len(job_dirs()) == 1, 10.0), job_dirs()
        (job,) = job_dirs()
        cp = subprocess.run([NBJAIL, "ctl", "revoke", job], capture_output=True, text=True,
                            timeout=30)
        assert cp.returncode == 0, cp.stderr
        prof = agent_profile(podman.d / "revoke-agent-profile.json", agent.sock)
        cp = pod.run("--security-opt", f"seccomp={prof}", IMAGE, "/bin/oci-probe", *ALLOWED)
        assert cp.returncode == 0, (cp.stderr, podman.hook_stderr(), agent.stderr())
        assert probe_lines(cp.stdout)["198.51.100.10:80"] == "error EACCES", cp.stdout
        assert not world.leaks()
    finally:
        rm = pod.rm()
    assert rm.returncode == 0, rm.stderr
    agent.stop()
    assert wait_host_clean(world, timeout=10.0) == [], host_problems(world)
