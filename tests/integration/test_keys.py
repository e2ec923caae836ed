# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_keys.py - sign-only keys (issue 17, `secrets:`)

A policy's secrets are read by nbjail at start and held by nbjail-keys, a
process of their own (ROLE_KEYHOLDER): a bad source stops everything with
exit 125 and a line naming the secret; once the job runs, the secret's
bytes are in the key holder's memory and nowhere in the job (its
environment, its processes' /proc, the files it can read, the memory of
every one of its processes) nor in the relay; the key holder runs with an
id of its own, not dumpable, under its allow-list, and is gone with the job.
"""
import json
import os
import secrets
import shutil
import tempfile
import textwrap

import pytest

import conftest
from conftest import (PYTHON, ROOTLESS, as_caller, children_named, job_netns_pid, nbjail,
                      proc_status, process_memory, read_line, wait_for, wait_host_clean)

JOB_UID_BASE = 0x7E620000
MASK = 0x5A  # the job searches XOR-masked bytes: it never holds the needle itself


def owner():
    return (conftest.ROOTLESS_UID, conftest.ROOTLESS_GID) if ROOTLESS else (0, 0)


@pytest.fixture
def keydir():
    """A directory every user may enter (rootless callers read from it),
    not below /tmp (a job sees its own /tmp): the secret files live here"""
    d = tempfile.mkdtemp(prefix="nbt-keys-", dir="/var/lib")
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def secret_file(d, name, value, mode=0o600, uid_gid=None):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(value)
    os.chmod(path, mode)
    os.chown(path, *(uid_gid or owner()))
    return path


def policy(d, text):
    path = os.path.join(d, "policy.yaml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    os.chmod(path, 0o644)
    return path


def new_secret():
    # printable, unmistakable, and never in any binary or library
    return ("nbtK" + secrets.token_hex(20)).encode()


def pid_ns(pid):
    return os.stat(f"/proc/{pid}/ns/pid").st_ino


def same_pid_ns(pid):
    ino = pid_ns(pid)
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if pid_ns(int(d)) == ino:
                    out.append(int(d))
            except OSError:
                pass
    return out


# Run inside the job: search what the job can reach for the masked needle
SEARCH = r"""
import os, sys
mask = int(sys.argv[1]); needle = bytes.fromhex(sys.argv[2]); files = sys.argv[4:]
table = bytes(b ^ mask for b in range(256))
hits = []
def look(what, data):
    if needle in data.translate(table):
        hits.append(what)
look("environ", b"\0".join(k + b"=" + v for k, v in os.environb.items()))
for p in os.listdir("/proc"):
    if p.isdigit():
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{p}/{part}", "rb") as f:
                    look(f"/proc/{p}/{part}", f.read())
            except OSError:
                pass
seen = 0
for top in ["/tmp", "/var/tmp", "/run", "/dev/shm", os.getcwd()] + [os.path.dirname(f) for f in files]:
    for root, dirs, names in os.walk(top):
        for n in names:
            path = os.path.join(root, n)
            try:
                with open(path, "rb") as f:
                    look(path, f.read(1 << 20))
                    seen += 1
            except OSError:
                pass
secret_files = {}
for f in files:
    try:
        with open(f, "rb") as fh:
            data = fh.read()
        look(f, data)
        secret_files[f] = len(data)
    except OSError as e:
        secret_files[f] = e.strerror
import json
print(json.dumps({"hits": hits, "files": seen, "secret_files": secret_files}), flush=True)
import time; time.sleep(60)
"""


def our_processes():
    """Processes of this build's programs (the key holder above all)"""
    progs = {os.path.realpath(os.path.join(os.path.dirname(conftest.NBJAIL), n))
             for n in ("nbjail", "nbjail-relay", "nbjail-keys")}
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                exe = os.readlink(f"/proc/{d}/exe")
                name = proc_status(int(d))["Name"]
            except (OSError, KeyError):
                continue
            if exe in progs or name == "nbjail-keys":
                out.append((int(d), name))
    return out


def assert_clean(world):
    """Nothing left: wait_host_clean()'s checks, its process check narrowed
    to this build's programs (other work on the machine may run processes
    whose command lines name nbjail-relay)"""
    problems = [p for p in wait_host_clean(world, timeout=5)
                if not p.startswith("processes left")]
    assert problems == []
    assert wait_for(lambda: not our_processes(), 5), our_processes()


def masked_hex(value):
    return bytes(b ^ MASK for b in value).hex()


def test_secrets_nowhere_but_in_the_key_holder(nbj, world, spawn, keydir):
    file_key, env_key = new_secret(), new_secret()
    path = secret_file(keydir, "k1", file_key)
    pol = policy(keydir, f"""\
        profile: net
        secrets:
          k1: {{file: {path}}}
          k2: {{env: NBT_SIGNING_KEY}}
        """)
    marker = f"nbt-keys-{os.getpid()}"
    for needle in (file_key, env_key):
        p = spawn("run", "--policy", pol, "--allow", "198.51.100.10:80", "--name", marker, "--",
                  PYTHON, "-I", "-c", SEARCH, str(MASK), masked_hex(needle), marker, path,
                  env={"NBT_SIGNING_KEY": env_key.decode()}, prefix=as_caller([]))
        line = read_line(p.stdout, 60)
        assert line, p.stderr.read() if p.poll() is not None else "no answer from the job"
        found = json.loads(line)
        # hidden: an empty file (/dev/null bound over it) or no access
        assert found["secret_files"][path] in (0, "Permission denied"), found
        assert found["hits"] == [] and found["files"] > 0, found

        # ip netns exec and setpriv exec: p.pid is nbjail itself
        job = {"supervisor_pid": p.pid,
               "relay_pid": wait_for(lambda: children_named(p.pid, "nbjail-relay"), 5)[0]}
        workload = job_netns_pid(marker)
        assert workload, "the job's workload was not found"
        job_procs = same_pid_ns(workload)
        assert len(job_procs) >= 2, job_procs  # nbjail-init and the workload
        for pid in job_procs:
            assert needle not in process_memory(pid), f"the key is in job process {pid}"
        assert needle not in process_memory(job["relay_pid"]), "the key is in the relay"
        holders = children_named(job["supervisor_pid"], "nbjail-keys")
        assert len(holders) == 1, holders
        # the scan works: the key holder has it
        assert needle in process_memory(holders[0]), "the key holder does not hold the key"
        p.terminate()
        p.wait(timeout=10)
    assert_clean(world)


def test_key_holder_confined(nbj, world, spawn, keydir):
    path = secret_file(keydir, "k1", new_secret())
    pol = policy(keydir, f"secrets: {{k1: {{file: {path}}}}}\nprofile: net\n")
    marker = f"nbt-keys-c-{os.getpid()}"
    p = spawn("run", "--policy", pol, "--name", marker, "--", PYTHON, "-I", "-c",
              "import time; print('ready', flush=True); time.sleep(30)", prefix=as_caller([]))
    assert read_line(p.stdout, 15) == "ready\n", p.stderr.read() if p.poll() is not None else ""
    job = {"supervisor_pid": p.pid,
           "relay_pid": wait_for(lambda: children_named(p.pid, "nbjail-relay"), 5)[0]}
    (holder,) = children_named(job["supervisor_pid"], "nbjail-keys")
    assert os.path.basename(os.readlink(f"/proc/{holder}/exe")) == "nbjail-keys"
    st = proc_status(holder)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    assert int(st["VmLck"].split()[0]) > 0, st  # its keys are locked in RAM
    uid = {int(x) for x in st["Uid"].split()}
    assert len(uid) == 1, st
    (uid,) = uid
    assert uid != 0, st
    # not dumpable: a process of its own uid may not read its memory
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            open(f"/proc/{holder}/mem", "rb").close()
            os.write(w, b"opened")
        except PermissionError:
            os.write(w, b"EACCES")
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(w, repr(e).encode())
        os._exit(0)
    os.close(w)
    got = os.read(r, 200)
    os.close(r)
    os.waitpid(child, 0)
    assert got == b"EACCES", got
    with open(f"/proc/{holder}/environ", "rb") as f:
        assert f.read() == b"", "the key holder's environment is not empty"
    relay_uid = int(proc_status(job["relay_pid"])["Uid"].split()[0])
    if ROOTLESS:
        assert uid == relay_uid == conftest.ROOTLESS_UID
    else:
        # a third per-job id: the relay's + 2 (the audit writer has + 1)
        assert JOB_UID_BASE <= uid < JOB_UID_BASE + 32768 and uid == relay_uid + 2, (uid, relay_uid)
        assert int(st["Gid"].split()[0]) == uid and st["Groups"] == "", st
    fds = os.listdir(f"/proc/{holder}/fd")
    # stdin, stdout (/dev/null), stderr, its socket, the id claim (root)
    assert len(fds) == (4 if ROOTLESS else 5), [os.readlink(f"/proc/{holder}/fd/{f}") for f in fds]
    assert not any("memfd" in os.readlink(f"/proc/{holder}/fd/{f}") for f in fds)
    p.terminate()
    assert p.wait(timeout=10) != 0 or True
    assert wait_for(lambda: not os.path.exists(f"/proc/{holder}"), 5), "the key holder outlived the job"
    assert_clean(world)


def test_jobs_with_secrets_leave_nothing(nbj, world, keydir):
    path = secret_file(keydir, "k1", new_secret())
    pol = policy(keydir, f"secrets: {{k1: {{file: {path}}}, k2: {{env: NBT_K2}}}}\n")
    for _ in range(3):
        cp = nbjail("run", "--policy", pol, "--profile", "net", "--", "true",
                    env={"NBT_K2": "x" * 64})
        assert cp.returncode == 0, cp.stderr
        assert cp.stderr == "", cp.stderr
        assert_clean(world)
    # a profile without a relay has no key holder: the secrets are still
    # read (and checked) at start
    cp = nbjail("run", "--policy", pol, "--profile", "minimal", "--", "true",
                env={"NBT_K2": "x"})
    assert cp.returncode == 0, cp.stderr
    assert_clean(world)


def bad(keydir, kind):
    """A policy whose secret k1 is bad in one way; the cause nbjail names"""
    value = new_secret()
    if kind == "mode":
        path = secret_file(keydir, "k1", value, mode=0o640)
        return f"k1: {{file: {path}}}", "mode 0640"
    if kind == "owner":
        # readable (a rootless caller could not open it otherwise): the
        # owner is what is refused, before the mode
        path = secret_file(keydir, "k1", value, mode=0o644, uid_gid=(65534, 65534))
        return f"k1: {{file: {path}}}", "owned by uid 65534"
    if kind == "symlink":
        path = secret_file(keydir, "real", value)
        os.symlink(path, os.path.join(keydir, "k1"))
        return f"k1: {{file: {os.path.join(keydir, 'k1')}}}", "is a symbolic link"
    if kind == "missing":
        return f"k1: {{file: {keydir}/none}}", "No such file or directory"
    if kind == "empty":
        path = secret_file(keydir, "k1", b"")
        return f"k1: {{file: {path}}}", "0 bytes"
    if kind == "large":
        path = secret_file(keydir, "k1", b"x" * 4097)
        return f"k1: {{file: {path}}}", "4097 bytes"
    if kind == "directory":
        os.mkdir(os.path.join(keydir, "k1"), 0o700)
        os.chown(os.path.join(keydir, "k1"), *owner())
        return f"k1: {{file: {keydir}/k1}}", "not a regular file"
    if kind == "env":
        return "k1: {env: NBT_UNSET_KEY}", "the variable is not set"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["mode", "owner", "symlink", "missing", "empty", "large",
                                  "directory", "env"])
def test_bad_secret_starts_nothing(nbj, world, keydir, kind):
    entry, cause = bad(keydir, kind)
    pol = policy(keydir, f"profile: net\nsecrets: {{{entry}}}\n")
    cp = nbjail("run", "--policy", pol, "--", "sh", "-c", "echo started")
    assert cp.returncode == 125, (cp.returncode, cp.stderr)
    assert "started" not in cp.stdout
    lines = [line for line in cp.stderr.splitlines() if "secrets.k1" in line]
    assert len(lines) == 1 and cause in lines[0], cp.stderr
    assert_clean(world)


def test_final_newline_is_part_of_the_key(nbj, world, keydir):
    """The key is the file's bytes exactly: a key file with a final newline
    is accepted as it is (documented in nbjail.yaml(5)); one of 4096 bytes
    with its newline is one byte too long, and says so"""
    path = secret_file(keydir, "k1", b"x" * 4095 + b"\n")
    pol = policy(keydir, f"secrets: {{k1: {{file: {path}}}}}\n")
    cp = nbjail("run", "--policy", pol, "--profile", "net", "--", "true")
    assert cp.returncode == 0, cp.stderr
    path = secret_file(keydir, "k1", b"x" * 4096 + b"\n")
    cp = nbjail("run", "--policy", pol, "--profile", "net", "--", "true")
    assert cp.returncode == 125 and "4097 bytes" in cp.stderr, cp.stderr
    assert_clean(world)


def test_env_secret_not_in_the_job_even_when_kept(nbj, world, keydir):
    """env: keep cannot bring a secret's variable back"""
    pol = policy(keydir, """\
        env: {clear: true, keep: ["NBT_*", PATH]}
        secrets: {k1: {env: NBT_SECRET_VAR}}
        """)
    cp = nbjail("run", "--policy", pol, "--profile", "net", "--", "env",
                env={"NBT_SECRET_VAR": "s3cr3t-value", "NBT_OTHER": "1"})
    assert cp.returncode == 0, cp.stderr
    assert "NBT_OTHER=1" in cp.stdout
    assert "NBT_SECRET_VAR" not in cp.stdout and "s3cr3t-value" not in cp.stdout, cp.stdout


def test_check_prints_secrets_without_reading_them(nbj, keydir):
    """nbjail check shows names and sources (never bytes, which it does
    not read), in a form it accepts again"""
    pol = policy(keydir, f"secrets: {{k1: {{file: {keydir}/absent}}, k-2: {{env: NBT_NOT_SET}}}}\n")
    cp = nbjail("check", pol)
    assert cp.returncode == 0, cp.stderr
    assert f'  k1: {{file: "{keydir}/absent"}}\n' in cp.stdout, cp.stdout
    assert '  k-2: {env: "NBT_NOT_SET"}\n' in cp.stdout, cp.stdout
    again = policy(keydir, cp.stdout)
    cp2 = nbjail("check", again)
    assert cp2.returncode == 0 and cp2.stdout == cp.stdout, (cp2.stderr, cp2.stdout)


def test_keys_locked_in_ram_or_nothing_starts(nbj, world, keydir):
    """RLIMIT_MEMLOCK of 0: as root (with CAP_SYS_RESOURCE) nbjail raises
    it for the key holder and the job runs; rootless (or in a container
    without that capability) it cannot, and nothing starts (exit 125) with
    the holder's line saying why and what to raise"""
    import resource
    with open("/proc/self/status") as f:
        cap_eff = int(next(line for line in f if line.startswith("CapEff:")).split()[1], 16)
    can_raise = not ROOTLESS and cap_eff & (1 << 24)  # CAP_SYS_RESOURCE
    path = secret_file(keydir, "k1", new_secret())
    pol = policy(keydir, f"secrets: {{k1: {{file: {path}}}}}\nprofile: net\n")
    cp = nbjail("run", "--policy", pol, "--", "sh", "-c", "echo started",
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0)))
    if not can_raise:
        assert cp.returncode == 125, cp.stderr
        assert "started" not in cp.stdout
        assert "nbjail-keys: cannot lock the keys in memory" in cp.stderr, cp.stderr
        assert "RLIMIT_MEMLOCK is 0 bytes" in cp.stderr, cp.stderr
    else:
        assert cp.returncode == 0 and cp.stdout == "started\n", cp.stderr
    assert_clean(world)


def test_key_holder_killed_is_reported(nbj, world, spawn, keydir):
    """A key holder that dies while the job runs is reported (nothing signs
    from then on); the job itself goes on"""
    path = secret_file(keydir, "k1", new_secret())
    pol = policy(keydir, f"secrets: {{k1: {{file: {path}}}}}\nprofile: net\n")
    p = spawn("run", "--policy", pol, "--", PYTHON, "-I", "-c",
              "import sys, time; print('ready', flush=True); sys.stdin.read(); time.sleep(3); "
              "print('done', flush=True)", prefix=as_caller([]))
    assert read_line(p.stdout, 15) == "ready\n", p.stderr.read() if p.poll() is not None else ""
    (holder,) = wait_for(lambda: children_named(p.pid, "nbjail-keys"), 5)
    os.kill(holder, 9)
    assert p.wait(timeout=15) == 0
    err = p.stderr.read()
    assert "key holder of job" in err and "ended (signal 9): nothing signs" in err, err
    assert_clean(world)
