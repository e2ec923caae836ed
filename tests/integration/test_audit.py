# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_audit.py - the audit trail, read back from a real journald

The session's journald (conftest.Journal) runs in the tests' own mount
namespace; these tests read it with `journalctl -o json`, the way an
auditor would, and check each event kind with its fields, aggregation of
repeated denials, the JSON-lines file, and that a journald that is absent
or stuck never blocks a job.
"""
import json
import os
import shlex
import subprocess
import time

from conftest import HOST_NS, NBJAIL, PYTHON, as_caller, nbjail, nbjail_env, probe

MESSAGE_IDS = {
    "job-start": "e86fe4fced1f408ba4f6b4b92e63ab1a",
    "job-end": "556a0c6781044695a471e9e5e7c41b6d",
    "deny": "355937e8dd1f4bf6aa7faf27cc3d05b0",
    "floor-exception": "687aa52df81d4fd7ac61ed72f1f0e127",
    "revoke": "5f51ae8d38994e6aa0532a9c430809de",
    "rate-limited": "bec355ce733e49cdb3b359a40f9ad9eb",
    "relay-failure": "e86db6c0ef734161a359fa9e56a9d6e1",
}

CONNECTS = r"""
import socket, sys
for host, port, n in [(a, int(p), int(k)) for a, p, k in (x.split(",") for x in sys.argv[1:])]:
    for _ in range(n):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(5)
        try: s.connect((host, port))
        except OSError: pass
        s.close()
"""


def connects(*targets, extra=(), allow=("198.51.100.10:80",), name=None):
    """Run a job that connects to each (host, port, times); return its id."""
    args = ["run"]
    for a in allow:
        args += ["--allow", a]
    if name:
        args += ["--name", name]
    cp = nbjail(*args, *extra, "--", PYTHON, "-I", "-c", CONNECTS,
                *[f"{h},{p},{n}" for h, p, n in targets])
    assert cp.returncode == 0, cp.stderr
    return cp


def job_of(cp):
    starts = [l for l in cp.stderr.splitlines() if l.startswith("nbjail[")]
    return starts[0][len("nbjail["):len("nbjail[") + 8] if starts else None


def by_event(events, kind):
    return [e for e in events if e.get("NBJAIL_EVENT") == kind]


def test_job_start_end_and_deny_fields(nbj, world, journal):
    cp = connects(("169.254.169.254", 80, 1), name="audit-one", extra=("--tenant", "team-a"))
    job = job_of(cp)
    assert job, cp.stderr
    evs = journal.wait_events(lambda e: by_event(e, "job-end"), f"NBJAIL_JOB={job}")
    kinds = [e["NBJAIL_EVENT"] for e in evs]
    assert kinds == ["job-start", "deny", "job-end"], kinds
    for e in evs:
        assert e["MESSAGE_ID"] == MESSAGE_IDS[e["NBJAIL_EVENT"]], e
        assert e["SYSLOG_IDENTIFIER"] == "nbjail" and e["NBJAIL_TENANT"] == "team-a", e
        assert e["NBJAIL_JOB"] == job
    start, deny, end = evs
    assert start["PRIORITY"] == "6" and start["NBJAIL_LANE"] == "job"
    assert "profile=net name=audit-one" in start["NBJAIL_DETAIL"], start
    assert start["NBJAIL_TARGET"].startswith(PYTHON + " -I -c"), start
    assert deny["PRIORITY"] == "4" and deny["NBJAIL_LANE"] == "seccomp", deny
    assert (deny["NBJAIL_CALL"], deny["NBJAIL_TARGET"], deny["NBJAIL_REASON"]) == \
        ("connect", "169.254.169.254:80", "floor:metadata"), deny
    assert int(deny["NBJAIL_PID"]) > 1 and "python3" in deny["NBJAIL_EXE"], deny
    assert "deny seccomp connect 169.254.169.254:80 reason=floor:metadata" in deny["MESSAGE"]
    assert end["NBJAIL_DETAIL"] == "exited status=0", end


def test_relay_denials_name_lane_peer_and_resolution(nbj, world, journal):
    cp, res = probe(["resolve", "internal.test"], ["tcp", "198.18.3.7", 80],
                    allow=["internal.test", "allowed.test"])
    job = next(l for l in cp.stderr.splitlines() if l.startswith("nbjail-relay["))[13:21]
    evs = journal.wait_events(lambda e: by_event(e, "job-end"), f"NBJAIL_JOB={job}")
    denies = by_event(evs, "deny")
    dns = [e for e in denies if e["NBJAIL_LANE"] == "dns"]
    tcp = [e for e in denies if e["NBJAIL_LANE"] == "tcp"]
    # getaddrinfo asks A and AAAA: two denials, the second folded into the first
    assert {(e["NBJAIL_TARGET"], e["NBJAIL_REASON"], e["NBJAIL_RESOLVED"]) for e in dns} == \
        {("internal.test", "floor:private", "10.0.0.1")}, dns
    assert [(e["NBJAIL_TARGET"], e["NBJAIL_REASON"], e["NBJAIL_OVERLAY"]) for e in tcp] == \
        [("198.18.3.7:80", "unknown-synthetic", "direct")], tcp
    assert tcp[0]["NBJAIL_PEER"].startswith("10.231."), tcp


def test_floor_exception_event(nbj, world, journal):
    cp, (res,) = probe(["tcp", "10.0.0.1", 80], allow=["10.0.0.1:80"],
                       extra=("--floor-exception", "10.0.0.1:80"))
    assert res["outcome"] == "data", res
    world.clear()
    job = next(l for l in cp.stderr.splitlines() if l.startswith("nbjail-relay["))[13:21]
    evs = journal.wait_events(lambda e: by_event(e, "job-end"), f"NBJAIL_JOB={job}")
    used = by_event(evs, "floor-exception")
    assert len(used) == 1, evs
    e = used[0]
    assert (e["NBJAIL_TARGET"], e["NBJAIL_REASON"], e["NBJAIL_DETAIL"], e["PRIORITY"]) == \
        ("10.0.0.1:80", "floor:private", "exception=10.0.0.1:80", "5"), e


def test_repeated_denials_are_aggregated(nbj, world, journal):
    cp = connects(("10.0.0.1", 80, 300), ("172.16.0.1", 443, 3))
    job = job_of(cp)
    evs = journal.wait_events(lambda e: by_event(e, "job-end"), f"NBJAIL_JOB={job}")
    denies = by_event(evs, "deny")
    ten = [e for e in denies if e["NBJAIL_TARGET"] == "10.0.0.1:80"]
    other = [e for e in denies if e["NBJAIL_TARGET"] == "172.16.0.1:443"]
    # every denial is accounted for, and the journal got a handful of lines
    total = sum(int(e.get("NBJAIL_SUPPRESSED", 1)) for e in ten)
    assert total == 300, [(e.get("NBJAIL_SUPPRESSED"), e["MESSAGE"]) for e in ten]
    assert len(ten) <= 8, len(ten)
    assert any("more like this" in e["MESSAGE"] for e in ten), ten
    assert sum(int(e.get("NBJAIL_SUPPRESSED", 1)) for e in other) == 3
    # the summary comes before the job's end
    assert evs[-1]["NBJAIL_EVENT"] == "job-end"
    # stderr is limited too, and says so
    assert cp.stderr.count("deny connect 10.0.0.1:80") <= 150, len(cp.stderr)  # 50 per second


def test_audit_log_json_lines(nbj, world, journal, tmp_path):
    log = tmp_path / "audit.jsonl"
    cp = connects(("100.64.0.1", 80, 2), extra=("--audit-log", str(log), "--no-journal"))
    job = job_of(cp)
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    assert [l["event"] for l in lines] == ["job-start", "deny", "job-end", "deny"] or \
        [l["event"] for l in lines] == ["job-start", "deny", "deny", "job-end"], lines
    deny = lines[1]
    assert (deny["job"], deny["lane"], deny["target"], deny["reason"], deny["message_id"]) == \
        (job, "seccomp", "100.64.0.1:80", "floor:cgnat", MESSAGE_IDS["deny"]), deny
    assert isinstance(deny["pid"], int) and deny["time"].endswith("Z"), deny
    assert sum(l.get("suppressed", 1) for l in lines if l["event"] == "deny") == 2
    assert lines[-1]["event"] == "job-end" or lines[-2]["event"] == "job-end"
    # --no-journal: nothing of this job in journald
    time.sleep(0.2)
    assert journal.events(f"NBJAIL_JOB={job}") == []
    # appended, not truncated
    connects(("100.64.0.1", 80, 1), extra=("--audit-log", str(log), "--no-journal"))
    assert len(log.read_text().splitlines()) == len(lines) + 3


def _run_with_journal_socket(tmp_path, kind, n):
    """nbjail in a mount namespace where journald is absent or stuck."""
    script = f"""
set -e
mount -t tmpfs none /run/systemd/journal
if [ {kind} = stuck ]; then
    {PYTHON} -c 'import socket, time, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/run/systemd/journal/socket")
parent = os.getppid(); open("{tmp_path}/ready", "w").close()
for _ in range(600):
    if os.getppid() != parent: break
    time.sleep(0.1)' &
    while [ ! -e {tmp_path}/ready ]; do sleep 0.05; done
fi
exec {shlex.join(as_caller([NBJAIL]))} run --audit-log {tmp_path}/audit.jsonl -- {PYTHON} -I -c '{CONNECTS}' 10.0.0.1,80,{n}
"""
    t = time.monotonic()
    cp = subprocess.run(["ip", "netns", "exec", HOST_NS, "unshare", "-m", "sh", "-c", script],
                        capture_output=True, text=True, timeout=60, env=nbjail_env())
    return cp, time.monotonic() - t


def test_absent_journald_never_blocks(nbj, world, tmp_path):
    cp, elapsed = _run_with_journal_socket(tmp_path, "absent", 50)
    assert cp.returncode == 0, cp.stderr
    assert elapsed < 10, elapsed
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert lines and json.loads(lines[-1])["event"] in ("job-end", "deny")


def test_stuck_journald_never_blocks(nbj, world, tmp_path):
    # a journal socket nobody reads: the writer blocks, the job does not
    cp, elapsed = _run_with_journal_socket(tmp_path, "stuck", 6000)
    assert cp.returncode == 0, cp.stderr
    assert elapsed < 30, elapsed
    assert "deny connect 10.0.0.1:80" in cp.stderr


def test_auditor_query_from_the_man_page(nbj, world, journal):
    """nbjail-audit(7)'s "denials by reason" example, pasted, per tenant."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "man", "nbjail-audit.7.scd")) as f:
        page = f.read()
    block = page.split("Denials by reason in a time range")[1].split("```")[1].strip()
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 2))
    connects(("10.0.0.1", 80, 40), ("169.254.169.254", 80, 3), extra=("--tenant", "auditq"))
    time.sleep(1.5)
    until = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() + 1))
    cmd = block.replace('"2026-11-25 09:00"', f'"{since}"').replace('"2026-11-25 10:00"', f'"{until}"')
    cmd = cmd.replace("NBJAIL_EVENT=deny", "NBJAIL_EVENT=deny NBJAIL_TENANT=auditq")
    cp = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == ["40 floor:private", "3 floor:metadata"], cp.stdout


def test_rate_limited_and_relay_failure_events(nbj, world, journal, spawn, tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text("allow: ['198.51.100.10:80']\nrates: {connects_per_s: 2, connects_burst: 2}\n")
    p = spawn("run", "--policy", str(pol), "--", PYTHON, "-I", "-c",
              "import socket, sys, time\n"
              "for _ in range(6):\n"
              "    s = socket.socket()\n"
              "    try: s.connect(('198.51.100.10', 80))\n"
              "    except OSError: pass\n"
              "    s.close()\n"
              "print('ready', flush=True); time.sleep(30)\n")
    assert p.stdout.readline() == "ready\n"
    (job,) = json.loads(nbjail("ctl", "jobs", "--json").stdout)
    os.kill(job["relay_pid"], 9)
    evs = journal.wait_events(
        lambda e: any(x.get("NBJAIL_EVENT") == "relay-failure" for x in e) and
        sum(int(x.get("NBJAIL_SUPPRESSED", 1)) for x in e
            if x.get("NBJAIL_EVENT") == "rate-limited") >= 4, f"NBJAIL_JOB={job['job']}")
    rate = [e for e in evs if e.get("NBJAIL_EVENT") == "rate-limited"]
    assert rate and rate[0]["MESSAGE_ID"] == MESSAGE_IDS["rate-limited"], evs
    assert sum(int(e.get("NBJAIL_SUPPRESSED", 1)) for e in rate) == 4, rate
    assert rate[0]["NBJAIL_REASON"] == "rate" and rate[0]["NBJAIL_LANE"] == "seccomp"
    fail = [e for e in evs if e.get("NBJAIL_EVENT") == "relay-failure"]
    assert fail[0]["PRIORITY"] == "3" and "no network" in fail[0]["NBJAIL_DETAIL"], fail
    assert fail[0]["NBJAIL_PID"] == str(job["relay_pid"])
    p.terminate()
    p.wait(timeout=10)
    world.clear()
