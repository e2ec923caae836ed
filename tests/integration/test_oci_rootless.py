# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_oci_rootless.py - the OCI hook under rootless podman

Theory of operation: rootless podman runs a container's hooks as uid 0 of
the user's namespace (uid_map "0 UID 1"), with every capability there and
in the caller's network namespace.  root's /run/nbjail, the per-job ids
and "a policy owned by root" mean nothing in there, and nbjail's own
rootless mode is chosen by the real uid, so the hook refuses such
containers with a message naming the cause (oci/hook.c,
oci_initial_userns()) instead of failing somewhere in the set-up.

podman runs as the test's unprivileged user (NBT_ROOTLESS_USER, default
nbjt-rootless, made by tests/run-all.sh; no subuid range: podman's single
mapping) with HOME, XDG_RUNTIME_DIR, storage (vfs) and its tmpdir in a
directory of the test's under /run, in the test world's "host" netns, and
in a mount namespace of its own where an empty tmpfs covers the hybrid
host's /sys/fs/cgroup/unified (crun 1.8 refuses hybrid hosts).  The
image is `podman import` of the probe: no registry.  podman's rootless
pause process (catatonit -P, its pid in the tmpdir) is killed after.

Runs in both passes of the suite (pytest is root in both); skipped where
podman, crun or the user is missing.
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tarfile

import pytest

from conftest import HOST_NS, NBJAIL

PODMAN, CRUN = shutil.which("podman"), shutil.which("crun")
PROBE_BIN = os.path.join(os.path.dirname(NBJAIL), "tests", "escape", "oci-probe")
USER = os.environ.get("NBT_ROOTLESS_USER", "nbjt-rootless")
IMAGE = "localhost/nbt-oci-probe:1"
REPO_HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oci",
                         "nbjail.json.in")


def _user():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        return None


pytestmark = [
    pytest.mark.skipif(not PODMAN or not CRUN, reason="podman and crun are needed (make deps)"),
    pytest.mark.skipif(not os.path.exists(PROBE_BIN), reason=f"{PROBE_BIN} is not built"),
    pytest.mark.skipif(_user() is None, reason=f"no user {USER} (tests/run-all.sh makes it)"),
]

PODMAN_SH = """\
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
    mount -t tmpfs nbt-no-hybrid /sys/fs/cgroup/unified || exit 99
fi
exec "$@"
"""


class RootlessPodman:
    """podman as USER, every path of its own under one directory"""

    def __init__(self, d, user):
        self.d, self.user = d, user
        for sub in ("hooks", "xdg", "tmp"):
            os.makedirs(os.path.join(d, sub), mode=0o700)
        with open(REPO_HOOK) as f:
            hook = json.load(f)
        hook["hook"]["path"] = NBJAIL
        (open(os.path.join(d, "hooks", "nbjail.json"), "w")).write(json.dumps(hook))
        with open(os.path.join(d, "containers.conf"), "w") as f:
            f.write('[containers]\nnetns = "none"\ncgroups = "disabled"\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    f'events_logfile_path = "{d}/events.log"\nruntime = "crun"\n')
        open(os.path.join(d, "registries.conf"), "w").close()
        self.hook_err = os.path.join(d, "hook.err")
        for root, dirs, files in os.walk(d):
            for name in dirs + files:
                os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)
        os.chown(d, user.pw_uid, user.pw_gid)

    def __call__(self, *args, timeout=60):
        d = self.d
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": d,
               "XDG_RUNTIME_DIR": f"{d}/xdg", "CONTAINERS_CONF": f"{d}/containers.conf",
               "CONTAINERS_REGISTRIES_CONF": f"{d}/registries.conf"}
        cmd = ["nsenter", f"--net=/run/netns/{HOST_NS}", "unshare", "-m", "--propagation",
               "private", "sh", "-c", PODMAN_SH, "sh",
               "setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
               "--init-groups", "--inh-caps=-all", "--",
               PODMAN, "--root", f"{d}/root", "--runroot", f"{d}/runroot", "--tmpdir",
               f"{d}/tmp", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
               "--hooks-dir", f"{d}/hooks", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)

    def stop_pause(self):
        """the rootless pause process podman left (catatonit -P)"""
        try:
            pid = int(open(os.path.join(self.d, "tmp", "pause.pid")).read())
        except (OSError, ValueError):
            return
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "catatonit":
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def rl_podman():
    d = f"/run/nbt-oci-rootless-{os.getpid()}"
    os.makedirs(d, mode=0o755)
    p = RootlessPodman(d, _user())
    try:
        rootfs = os.path.join(d, "rootfs.tar")
        with tarfile.open(rootfs, "w") as t:
            t.add(PROBE_BIN, arcname="bin/oci-probe")
        os.chmod(rootfs, 0o644)
        cp = p("import", rootfs, IMAGE)
        assert cp.returncode == 0, cp.stderr
        yield p
    finally:
        p("rm", "-a", "-f", "-t", "0")
        p.stop_pause()
        subprocess.run(["rm", "-rf", "--one-file-system", d], timeout=60)


def test_rootless_podman_refused_with_reason(rl_podman):
    """an annotated container of rootless podman is not started: the hook,
    uid 0 of the user's namespace, says why; an unannotated one runs"""
    cp = rl_podman("run", "--rm", "--network", "none", "--annotation",
                   "io.nbjail.policy=web", "--annotation",
                   f"run.oci.hooks.stderr={rl_podman.hook_err}", IMAGE, "/bin/oci-probe",
                   "--addrs")
    assert cp.returncode != 0, cp.stdout
    assert "lo " not in cp.stdout
    err = open(rl_podman.hook_err).read() if os.path.exists(rl_podman.hook_err) else ""
    assert "in a user namespace" in err and "rootless containers are not supported" in err, \
        (err, cp.stderr)
    cp = rl_podman("run", "--rm", "--network", "none", IMAGE, "/bin/oci-probe", "--addrs")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == ["lo 127.0.0.1"], cp.stdout
