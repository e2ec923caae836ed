# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_roles.py - the job's helper processes (issue 16, item 8)

The relay and the audit writer are rows of the role table (common/roles.c):
as root each runs with an id of its own per job (never `nobody`, never the
other's, never another job's), the relay is its own program (nbjail-relay)
that holds no copy of the supervisor's memory, and both run under a
syscall allow-list.  Rootless, both run as the caller, confined the same way.
"""
import json
import os
import secrets
import shutil
import signal
import tempfile

import conftest
from conftest import (HOST_NS, NBJAIL, PYTHON, ROOTLESS, as_caller, children_named,
                      needs_root, proc_status, process_memory, read_line, run, wait_for)

SLEEPER = "import sys, time; print('ready', flush=True); time.sleep(float(sys.argv[1]))"
JOB_UID_BASE = 0x7E620000


def start_job(spawn, *extra, env=None, seconds=30):
    p = spawn("run", "--profile", "net", "--allow", "198.51.100.10:80", *extra, "--",
              PYTHON, "-I", "-c", SLEEPER, str(seconds), env=env, prefix=as_caller([]))
    assert read_line(p.stdout, 15) == "ready\n", p.stderr.read() if p.poll() is not None else ""
    return p


def relay_of(supervisor_pid):
    """The job's relay: the supervisor's child named nbjail-relay (found
    from /proc, so that the test does not depend on nbjail ctl)"""
    found = wait_for(lambda: children_named(supervisor_pid, "nbjail-relay"), 5)
    assert len(found) == 1, found
    return found[0]


def ids(pid):
    st = proc_status(pid)
    uids = {int(x) for x in st["Uid"].split()}
    gids = {int(x) for x in st["Gid"].split()}
    assert len(uids) == 1 and len(gids) == 1, st  # real, effective, saved, fs alike
    return uids.pop(), gids.pop()


def audit_writer_of(supervisor_pid):
    """The audit writer: the child named nbjail-audit of the job's keeper
    (the supervisor's child, named nbjail-cleanup once it has the job)"""
    def find():
        for k in (children_named(supervisor_pid, "nbjail") +
                  children_named(supervisor_pid, "nbjail-cleanup")):
            found = children_named(k, "nbjail-audit")
            if found:
                return found[0]
        return None
    writer = wait_for(find, 5)
    assert writer, f"no audit writer below {supervisor_pid}"
    return writer


def confined(pid):
    st = proc_status(pid)
    assert st["NoNewPrivs"] == "1", st
    assert st["Seccomp"] == "2", st          # a filter of its own
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    if not ROOTLESS:
        assert st["Groups"] == "", st


def test_relay_and_audit_writer_have_ids_of_their_own(nbj, world, spawn):
    a = start_job(spawn, "--name", "role-a")
    b = start_job(spawn, "--name", "role-b")
    relays = {"role-a": relay_of(a.pid), "role-b": relay_of(b.pid)}
    writers = {"role-a": audit_writer_of(a.pid), "role-b": audit_writer_of(b.pid)}
    for n in relays:
        assert os.path.basename(os.readlink(f"/proc/{relays[n]}/exe")) == "nbjail-relay"
        confined(relays[n])
        confined(writers[n])
        with open(f"/proc/{relays[n]}/environ", "rb") as f:
            assert f.read() == b"", "the relay's environment is not empty"
    got = {n: (ids(relays[n]), ids(writers[n])) for n in relays}
    if ROOTLESS:
        for relay, writer in got.values():
            assert relay == writer == (conftest.ROOTLESS_UID, conftest.ROOTLESS_GID), got
        return
    seen = [x for pair in got.values() for x in pair]
    assert len(set(seen)) == 4, f"ids shared between roles or jobs: {got}"
    for uid, gid in seen:
        assert uid == gid and JOB_UID_BASE <= uid < JOB_UID_BASE + 32768, got
        assert uid not in (0, 65534) and gid != 65534, got
    for relay, writer in got.values():
        assert writer[0] == relay[0] + 1, got
    a.terminate()
    b.terminate()
    a.wait(timeout=10)
    b.wait(timeout=10)


@needs_root("per-job ids are claimed as root only")
def test_ids_an_account_takes_are_skipped_even_just_after_a_check(nbj, world, spawn):
    """A slot's look-up in the user database is remembered for a minute
    (.checked.N), but not across a change of the database: a group that
    takes the slot's audit-writer id right after a job used the slot
    moves the next job to another slot."""
    p = start_job(spawn, "--name", "role-slot-a")
    relay, _ = ids(relay_of(p.pid))
    p.terminate()
    p.wait(timeout=10)
    slot = (relay - JOB_UID_BASE) // 3
    assert os.path.exists(f"{conftest.RUN_DIR}/.uids/.checked.{slot}")
    taken = JOB_UID_BASE + 3 * slot + 1
    name = f"nbjt-slot{slot}"
    run(["groupadd", "-g", str(taken), name], check=True)
    try:
        q = start_job(spawn, "--name", "role-slot-b")
        again, _ = ids(relay_of(q.pid))
        writer, _ = ids(audit_writer_of(q.pid))
        q.terminate()
        q.wait(timeout=10)
        assert (again - JOB_UID_BASE) // 3 != slot, (relay, again)
        assert writer != taken, writer
    finally:
        run(["groupdel", name], check=True)


@needs_root("as root the relay's id is the job's own; rootless it is the caller's")
def test_nobody_cannot_signal_or_trace_the_relay(nbj, world, spawn):
    p = start_job(spawn, "--name", "role-sig")
    relay = relay_of(p.pid)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        res = []
        for sig in (0, signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(relay, sig)
                res.append("sent")
            except PermissionError:
                res.append("EPERM")
            except OSError as e:
                res.append(str(e.errno))
        try:
            with open(f"/proc/{relay}/mem", "rb") as f:
                f.read(1)
            res.append("read")
        except OSError:
            res.append("EPERM")
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    data = os.read(r, 4096)
    os.close(r)
    os.waitpid(child, 0)
    assert json.loads(data) == ["EPERM"] * 4, data
    # the relay is still there and the job still runs
    assert os.path.exists(f"/proc/{relay}") and p.poll() is None
    p.terminate()
    p.wait(timeout=10)


@needs_root("reads the relay's memory through /proc/PID/mem")
def test_relay_holds_its_own_secrets_only(nbj, world, spawn, tmp_path):
    """Forked, the relay held the supervisor's heap and stack: the caller's
    environment and every other secret.  Exec'd, only its configuration."""
    canary = "nbt-canary-" + secrets.token_hex(12)
    password = "nbt-own-" + secrets.token_hex(12)
    pol = tmp_path / "p.yaml"
    pol.write_text("overlays:\n  auth: {kind: socks5, host: 127.0.0.1, port: 1081, "
                   "username: nbuser, password_env: NBT_ROLE_PASS}\n"
                   "default_overlay: auth\nallow: ['198.51.100.10:80']\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(pol, 0o644)
    p = spawn("run", "--policy", str(pol), "--profile", "net", "--", PYTHON, "-I", "-c",
              SLEEPER, "30", env={"NBT_ROLE_CANARY": canary, "NBT_ROLE_PASS": password})
    assert read_line(p.stdout, 15) == "ready\n"
    relay = relay_of(p.pid)
    mem = process_memory(relay)
    assert len(mem) > 100000
    assert password.encode() in mem, "the relay lacks its own overlay's password"
    assert canary.encode() not in mem, "the relay holds the caller's environment"
    p.terminate()
    p.wait(timeout=10)


@needs_root("only root checks the relay program's owner")
def test_a_relay_program_others_may_write_is_not_run(nbj, world):
    d = tempfile.mkdtemp(prefix="nbt-relayprog-", dir="/var/tmp")
    try:
        os.chmod(d, 0o755)
        shutil.copy2(NBJAIL, f"{d}/nbjail")
        shutil.copy2(os.path.join(os.path.dirname(NBJAIL), "nbjail-relay"), f"{d}/nbjail-relay")
        os.chmod(f"{d}/nbjail-relay", 0o757)
        cp = run([f"{d}/nbjail", "run", "--profile", "net", "--allow", "198.51.100.10:80",
                  "--", "sh", "-c", "exit 42"], ns=HOST_NS, timeout=30)
        assert cp.returncode == 125, cp
        assert "writable by others: not run as the relay" in cp.stderr, cp.stderr
        os.chmod(f"{d}/nbjail-relay", 0o755)
        os.chown(f"{d}/nbjail-relay", 65534, 65534)
        cp = run([f"{d}/nbjail", "run", "--profile", "net", "--allow", "198.51.100.10:80",
                  "--", "sh", "-c", "exit 42"], ns=HOST_NS, timeout=30)
        assert cp.returncode == 125 and "not root's" in cp.stderr, cp
        os.chown(f"{d}/nbjail-relay", 0, 0)
        cp = run([f"{d}/nbjail", "run", "--profile", "net", "--allow", "198.51.100.10:80",
                  "--", "sh", "-c", "exit 42"], ns=HOST_NS, timeout=30)
        assert cp.returncode == 42, cp
    finally:
        shutil.rmtree(d, ignore_errors=True)


PROBER = """
import socket, sys, time
for i in range(150):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("198.51.100.10", 80))
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        print("ok" if s.recv(1) else "eof", flush=True)
    except OSError as e:
        print("fail", e.errno, flush=True)
    s.close()
    time.sleep(0.1)
"""


def test_a_dead_relay_takes_the_network_with_it(nbj, world, spawn):
    """A relay its filter kills (SIGSYS), or anything else, leaves the job
    with no network: its connects fail, they never go around the relay."""
    p = spawn("run", "--profile", "net", "--allow", "198.51.100.10:80", "--name", "role-kill",
              "--", PYTHON, "-I", "-c", PROBER, prefix=as_caller([]))
    assert read_line(p.stdout, 15) in ("ok\n", "eof\n")
    relay = relay_of(p.pid)
    os.kill(relay, signal.SIGSYS)
    after = [read_line(p.stdout, 5) for _ in range(10)]
    p.terminate()
    _, err = p.communicate(timeout=10)
    # a line or two may still be on its way from before the kill
    assert all(line.startswith("fail") for line in after[3:]), after
    assert "relay of job" in err and "died (signal 31)" in err, err
