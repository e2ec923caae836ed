# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_ctl.py - nbjail ctl and /run/nbjail/ctl.sock

Jobs are listed, counted and revoked through the control socket, which
one of the running supervisors serves (another takes over when it ends);
counters are checked against the events journald received.
"""
import json
import os
import re
import socket
import stat
import subprocess
import time

from conftest import (CALLER_GID, CALLER_UID, HOST_NS, NBJAIL, PYTHON, RUN_DIR, as_caller,
                      job_relay_pid, nbjail, nbjail_cmd, nbjail_env, needs_root, read_line,
                      scribble_mapping, wait_for)

CTL_SOCK = f"{RUN_DIR}/ctl.sock"

SLEEPER = "import sys, time; print('ready', flush=True); time.sleep(float(sys.argv[1]))"


def ctl(*args):
    cp = nbjail("ctl", *args)
    return cp


def ctl_json(*args):
    cp = ctl(*args, "--json")
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def start_sleeper(spawn, *extra, seconds=30):
    p = spawn("run", *extra, "--", PYTHON, "-I", "-c", SLEEPER, str(seconds))
    assert read_line(p.stdout, 15) == "ready\n"
    return p


def request(*args, uid=CALLER_UID):
    """Talk to ctl.sock directly, in a child, as the user nbjail runs as
    (or as another uid)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if uid != 0:
                os.setgroups([])
                os.setgid(CALLER_GID if uid == CALLER_UID else 65534)
                os.setuid(uid)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(CTL_SOCK)
            s.sendall(b"".join(a.encode() + b"\0" for a in args) + b"\0")
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                os.write(w, chunk)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(w, b"\xff" + repr(e).encode())
            os._exit(1)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data


def test_jobs_lists_running_jobs(nbj, world, spawn):
    p = start_sleeper(spawn, "--name", "lister", "--tenant", "team-x", "--allow", "198.51.100.10:80")
    jobs = ctl_json("jobs")
    assert len(jobs) == 1, jobs
    j = jobs[0]
    assert (j["name"], j["tenant"], j["profile"], j["revoked"]) == ("lister", "team-x", "net", False)
    assert j["supervisor_pid"] == p.pid and j["relay_pid"] > 0, j
    assert re.fullmatch(r"[0-9a-f]{8}", j["job"])
    text = ctl("jobs")
    assert text.returncode == 0
    assert re.search(rf"^{j['job']}\s+lister\s+team-x\s+net\s+{p.pid}\s", text.stdout, re.M), text.stdout
    # the socket: the caller's only, served by that supervisor (which may take it over
    # from the supervisor of an earlier test within a second)
    assert wait_for(lambda: os.path.exists(CTL_SOCK), 5)
    st = os.stat(CTL_SOCK)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == CALLER_UID
    data = request("jobs", "--json")
    assert data[0] == 0 and json.loads(data[1:])[0]["job"] == j["job"], data
    # others: refused by the socket's mode (and by SO_PEERCRED behind it)
    data = request("jobs", uid=65534)
    assert data.startswith(b"\xffPermissionError") or b"permission denied" in data, data
    p.terminate()
    p.wait(timeout=10)
    assert ctl_json("jobs") == []


def test_control_socket_is_taken_over(nbj, world, spawn):
    first = start_sleeper(spawn, "--name", "first")
    second = start_sleeper(spawn, "--name", "second")
    assert {j["name"] for j in ctl_json("jobs")} == {"first", "second"}
    first.terminate()
    first.wait(timeout=10)
    # within a second, the second job's supervisor serves the socket
    assert wait_for(lambda: os.path.exists(CTL_SOCK) and request("jobs", "--json")[:1] == b"\0", 3)
    assert [j["name"] for j in json.loads(request("jobs", "--json")[1:])] == ["second"]
    second.terminate()
    second.wait(timeout=10)
    assert wait_for(lambda: not os.path.exists(CTL_SOCK), 3)


DENIER = r"""
import socket, sys, time
for host, port, n in [("10.0.0.1", 80, 25), ("169.254.169.254", 80, 7), ("198.51.100.10", 80, 3)]:
    for _ in range(n):
        s = socket.socket(); s.settimeout(5)
        try:
            s.connect((host, port)); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(100)
        except OSError: pass
        s.close()
print("ready", flush=True)
time.sleep(30)
"""


def test_stats_and_recent_match_the_journal(nbj, world, spawn, journal):
    p = spawn("run", "--allow", "198.51.100.10:80", "--", PYTHON, "-I", "-c", DENIER)
    assert read_line(p.stdout, 20) == "ready\n"
    (st,) = ctl_json("stats")
    job = st["job"]
    counts = {(d["lane"], d["outcome"], d["reason"]): d["count"] for d in st["decisions"]}
    assert counts[("seccomp", "denied", "floor:private")] == 25, counts
    assert counts[("seccomp", "denied", "floor:metadata")] == 7, counts
    assert counts[("tcp", "allowed", "allowed")] == 3, counts
    assert st["flows_total"] == 3 and st["bytes_down"] > 0 and st["bytes_up"] > 0, st
    # counters equal the events journald has (folded ones included)
    evs = journal.wait_events(
        lambda e: sum(int(x.get("NBJAIL_SUPPRESSED", 1)) for x in e
                      if x.get("NBJAIL_EVENT") == "deny") >= 32, f"NBJAIL_JOB={job}")
    seen = {}
    for e in evs:
        if e.get("NBJAIL_EVENT") == "deny":
            seen[e["NBJAIL_REASON"]] = seen.get(e["NBJAIL_REASON"], 0) + int(e.get("NBJAIL_SUPPRESSED", 1))
    assert seen == {"floor:private": 25, "floor:metadata": 7}, seen
    assert st["events_dropped"] == 0
    # the ring: newest first
    recent = ctl_json("recent", "5", job)
    assert len(recent) == 5 and all(r["job"] == job for r in recent), recent
    assert [r["target"] for r in recent] == ["169.254.169.254:80"] * 5, recent
    assert recent[0]["usec"] >= recent[-1]["usec"]
    assert len(ctl_json("recent", "128")) == 32
    text = ctl("recent", "2")
    assert text.returncode == 0 and text.stdout.count("floor:metadata") == 2, text.stdout
    # text stats
    text = ctl("stats", job)
    assert "seccomp  denied   floor:private            25" in text.stdout, text.stdout
    p.terminate()
    p.wait(timeout=10)


def test_metrics_exposition(nbj, world, spawn):
    p = start_sleeper(spawn, "--tenant", "m1")
    cp = ctl("metrics")
    assert cp.returncode == 0, cp.stderr
    samples = {}
    for line in cp.stdout.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) nbjail_\w+ .+", line), line
            continue
        m = re.fullmatch(r'(nbjail_\w+)(\{[^}]*\})? (\d+)', line)
        assert m, line
        samples[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    assert samples["nbjail_jobs"] == 1
    assert any(k.startswith('nbjail_flows_active{job="') and 'tenant="m1"' in k for k in samples)
    js = ctl_json("metrics")
    assert {"name": "nbjail_jobs", "labels": {}, "value": 1} in js, js
    flows = [m for m in js if m["name"] == "nbjail_flows_active"]
    assert flows and flows[0]["labels"]["tenant"] == "m1", flows
    p.terminate()
    p.wait(timeout=10)


def test_ctl_usage_and_unknown_job(nbj, world):
    assert ctl("bogus").returncode == 2
    assert ctl().returncode == 2
    assert ctl("recent", "0").returncode == 2
    cp = ctl("revoke", "deadbeef")
    assert cp.returncode == 1 and "no such job" in cp.stdout + cp.stderr
    assert ctl("stats", "deadbeef").returncode == 1


DOWNLOAD = r"""
import json, os, socket, sys, time
s = socket.socket(); s.settimeout(10)
# a small receive buffer: what the kernel already holds for us when the
# flow is cut is read within milliseconds, so the cut itself is measured
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("198.51.100.10", 80)); s.sendall(b"GET /big?mb=512 HTTP/1.0\r\n\r\n")
got = 0
print("ready", flush=True)
while True:
    try:
        b = s.recv(65536)
    except OSError as e:
        end, why = time.time(), type(e).__name__; break
    if not b:
        end, why = time.time(), "eof"; break
    got += len(b)
    time.sleep(0.002)   # a slow reader: the download lasts long
after = {}
for name, fn in [("tcp", lambda: socket.create_connection(("198.51.100.10", 80), 5)),
                 ("dns", lambda: socket.getaddrinfo("allowed.test", 80))]:
    try: fn(); after[name] = "ok"
    except OSError as e: after[name] = type(e).__name__
print(json.dumps({"end": end, "why": why, "got": got, "after": after}), flush=True)
time.sleep(5)
"""


def test_revoke_cuts_a_running_download(nbj, world, spawn, journal):
    p = spawn("run", "--allow", "198.51.100.10:80", "--allow", "allowed.test", "--",
              PYTHON, "-I", "-c", DOWNLOAD)
    assert read_line(p.stdout, 20) == "ready\n"
    time.sleep(0.5)
    (j,) = ctl_json("jobs")
    assert wait_for(lambda: os.path.exists(CTL_SOCK), 5)
    t = time.time()
    data = request("revoke", j["job"])   # through ctl.sock: no process start in the way
    assert data[:1] == b"\0" and f"revoked {j['job']}".encode() in data, data
    res = json.loads(read_line(p.stdout, 20))
    assert res["why"] != "eof" and res["got"] < 512 << 20, res
    print(f"cut {1000 * (res['end'] - t):.1f} ms after the revoke request")
    assert res["end"] - t < 0.1, (res["end"] - t, res)
    assert res["after"] == {"tcp": "PermissionError", "dns": "gaierror"}, res
    (j2,) = ctl_json("jobs")
    assert j2["revoked"] and j2["revoked_usec"] > 0
    p.terminate()
    p.wait(timeout=10)
    evs = journal.wait_events(lambda e: any(x.get("NBJAIL_EVENT") == "job-end" for x in e),
                              f"NBJAIL_JOB={j['job']}")
    rev = [e for e in evs if e.get("NBJAIL_EVENT") == "revoke"]
    assert len(rev) == 1 and rev[0]["NBJAIL_DETAIL"] == "1 live flows cut", rev
    reasons = {e.get("NBJAIL_REASON") for e in evs if e.get("NBJAIL_EVENT") == "deny"}
    assert "revoked" in reasons, reasons


def test_revoke_by_tenant(nbj, world, spawn):
    a = start_sleeper(spawn, "--tenant", "blue", "--name", "a")
    b = start_sleeper(spawn, "--tenant", "blue", "--name", "b")
    c = start_sleeper(spawn, "--tenant", "green", "--name", "c")
    out = ctl_json("revoke", "--tenant", "blue")
    assert len(out) == 2
    state = {j["name"]: j["revoked"] for j in ctl_json("jobs")}
    assert state == {"a": True, "b": True, "c": False}, state
    assert ctl("revoke", "--tenant", "nobody-here").returncode == 1
    for p in (a, b, c):
        p.terminate()
        p.wait(timeout=10)


def stats_scribble(forged):
    """What a hostile relay writes over its statistics: every byte but the
    magic and the size (so that root still reads the file) becomes a
    pattern of a path, terminal escapes, bytes that are not UTF-8 and
    words with every bit set"""
    pattern = forged + b"\0\x1b[2J\x1b]0;pwned\x07\r\n\xff\xfe" + b"\xff" * 16 + b"\x01" * 8

    def make(old):
        body = (pattern * (len(old) // len(pattern) + 1))[:len(old) - 16]
        return old[:16] + body
    return make


@needs_root("rootless, the relay runs as the caller and owns every file of the job: "
            "there is no boundary between them to test")
def test_ctl_trusts_nothing_a_relay_scribbles_in_its_stats(nbj, world, spawn):
    """The job's statistics are mapped read-write by its relay and audit
    writer (issue 16, item 7).  A relay that overwrites every byte of the
    mapping (through /proc/PID/mem, as it could through its own mapping)
    must not make root open, write, signal or remove anything it names,
    nor print its bytes raw, nor hide its job from revoke --tenant, and
    ctl must still say who the job is.  Before, ctl took the job's id,
    name and tenant from the mapping: jobs printed the forged name, and
    revoke --tenant red found no job (the forged tenant hid it); earlier
    still, revoke signalled the pid of a state file the forged id named."""
    before = {e for e in os.listdir(RUN_DIR) if re.fullmatch(r"[0-9a-f]{8}", e)}
    p = start_sleeper(spawn, "--tenant", "red", "--name", "r")
    (job_id,) = {e for e in os.listdir(RUN_DIR) if re.fullmatch(r"[0-9a-f]{8}", e)} - before
    relay = job_relay_pid(job_id)
    decoy_dir = os.path.join(os.path.dirname(RUN_DIR), f"nbt-decoy{os.getpid() % 1000}")
    forged = os.path.relpath(decoy_dir, RUN_DIR).encode()   # "../nbt-decoyNNN"
    decoy = subprocess.Popen(as_caller(["sleep", "60"]))   # a pid the caller may signal
    stats = os.path.join(RUN_DIR, job_id, "stats")
    try:
        with open(f"/proc/{decoy.pid}/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        os.makedirs(decoy_dir)
        with open(stats, "rb") as f:
            data = f.read()
        decoy_files = {
            "stats": data,              # a file root would accept as stats
            "info": b"name=decoy\ntenant=red\nprofile=net\nsupervisor_pid=1\n"
                    b"start_usec=1\ntenant_slot=0\n",
            "state": f"supervisor_pid=1\nreaper_pid={decoy.pid}\nreaper_start={start}\n"
                     f"relay_pid={decoy.pid}\nrelay_start={start}\n".encode(),
        }
        for name, content in decoy_files.items():
            with open(os.path.join(decoy_dir, name), "wb") as f:
                f.write(content)
        scribble_mapping(relay, stats, stats_scribble(forged))
        with open(stats, "rb") as f:
            assert forged in f.read(), "the relay's mapping is not the stats file"

        # who the job is comes from root's files, not from the mapping
        (j,) = ctl_json("jobs")
        assert (j["job"], j["name"], j["tenant"], j["profile"]) == (job_id, "r", "red", "net"), j
        assert j["relay_pid"] == relay, j
        for args in (("jobs",), ("stats",), ("stats", job_id), ("recent", "128"),
                     ("recent", job_id), ("metrics",)):
            for fmt in ((), ("--json",)):
                cp = subprocess.run(["ip", "netns", "exec", HOST_NS, NBJAIL, "ctl", *args, *fmt],
                                    capture_output=True, env=nbjail_env(), timeout=30)
                assert cp.returncode == 0, (args, fmt, cp.stderr)
                assert no_control_bytes(cp.stdout), (args, fmt, cp.stdout[:2000])
                if args[0] != "recent":     # the ring's text is the job's to choose
                    assert forged not in cp.stdout, (args, fmt)
                if fmt:
                    json.loads(cp.stdout.decode("utf-8"))
        text = ctl("jobs").stdout
        assert re.search(rf"^{job_id}\s+r\s+red\s+net\s", text, re.M), text

        cp = ctl("revoke", "--tenant", "red")
        assert cp.returncode == 0, cp
        assert job_id in cp.stdout, cp.stdout
        cp = ctl("revoke", job_id)
        assert cp.returncode == 0, cp
        time.sleep(0.3)
        assert decoy.poll() is None, "root signalled a pid the mapping named"
        for name, content in decoy_files.items():
            with open(os.path.join(decoy_dir, name), "rb") as f:
                assert f.read() == content, f"root wrote {name} of a directory the mapping named"

        # every byte, the magic too: the job is no longer listed, nothing breaks
        scribble_mapping(relay, stats, lambda old: b"\xff" * len(old))
        cp = ctl("jobs", "--json")
        assert cp.returncode == 0 and json.loads(cp.stdout) == [], cp
        assert ctl("revoke", "--tenant", "red").returncode == 1

        # the teardown removes the job's own files, nothing the mapping named
        p.terminate()
        p.wait(timeout=15)
        assert wait_for(lambda: not os.path.exists(os.path.join(RUN_DIR, job_id)), 10)
        assert not os.path.exists(os.path.join(RUN_DIR, "tenants", "red"))
        assert sorted(os.listdir(decoy_dir)) == sorted(decoy_files), os.listdir(decoy_dir)
        assert decoy.poll() is None
    finally:
        decoy.kill()
        decoy.wait()
        subprocess.run(["rm", "-rf", decoy_dir])
        p.terminate()
        p.wait(timeout=10)


# A job names its executable with escape sequences that, printed raw, erase
# the line of the real denial and forge an "allowed" one (issue 16, item 9),
# plus a newline and a byte that is not UTF-8.
FORGER = r"""
import os, shutil, subprocess, time
exe = b"/run/nb\x1b[2K\r\x1b[1Aallowed\x07 fake\n\xff\x9b31m"
shutil.copy(b"/bin/bash", exe)
os.chmod(exe, 0o755)
subprocess.run([exe, b"-c", b"exec 3<>/dev/tcp/169.254.169.254/80"], stderr=subprocess.DEVNULL)
print("ready", flush=True)
time.sleep(30)
"""


def no_control_bytes(data):
    bad = [b for b in data if (b < 0x20 and b not in (0x0a,)) or b == 0x7f]
    return not bad


def test_recent_escapes_a_forged_exe_name(nbj, world, spawn, tmp_path):
    log = tmp_path / "audit.jsonl"
    p = subprocess.Popen(nbjail_cmd("run", "--audit-log", str(log), "--", PYTHON, "-I", "-c", FORGER), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=nbjail_env())
    try:
        assert p.stdout.readline() == b"ready\n"
        raw = subprocess.run(nbjail_cmd("ctl", "recent", "5"),
                             capture_output=True, env=nbjail_env(), timeout=30)
        assert raw.returncode == 0, raw.stderr
        out = raw.stdout
        assert b"floor:metadata" in out, out
        assert no_control_bytes(out), out
        assert len(out.splitlines()) == 2, out  # the header and one denial, one line
        assert b"\\x1b[2K\\x0d\\x1b[1Aallowed\\x07\\x20fake\\x0a\\xff\\xc2\\x9b31m" in out or \
            b"\\x1b[2K\\x0d\\x1b[1Aallowed\\x07\\x20fake\\x0a\\xff\\x9b31m" in out, out
        # JSON stays valid JSON, and the name is there, decoded
        js = subprocess.run(nbjail_cmd("ctl", "recent", "5", "--json"), capture_output=True, env=nbjail_env(), timeout=30)
        assert no_control_bytes(js.stdout), js.stdout
        (entry,) = json.loads(js.stdout.decode("utf-8"))
        assert entry["exe"].startswith("/run/nb\x1b[2K\r\x1b[1Aallowed\x07 fake\n"), entry
    finally:
        p.terminate()
        _, err = p.communicate(timeout=15)
    # nbjail's own deny line on stderr is escaped too
    assert b"deny seccomp" in err or b"deny connect" in err, err
    assert no_control_bytes(err), err
    # the JSON lines: each one valid JSON, the MESSAGE text escaped
    events = [json.loads(line) for line in log.read_bytes().decode("utf-8").splitlines()]
    (deny,) = [e for e in events if e.get("event") == "deny"]
    assert deny["exe"].startswith("/run/nb\x1b[2K"), deny
    assert "\x1b" not in deny["message"] and "\\x1b[2K" in deny["message"], deny
