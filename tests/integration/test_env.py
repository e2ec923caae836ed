# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_env.py - the workload's environment

Issue 16, item 4: the workload inherited nbjail's environment, including
an overlay's password_env variable.  Secret sources that the policy names
and SUDO_* never reach the job; --clearenv and env: {clear, keep, set}
give an exact environment; a bad env: section names file, line and field.
"""
import pytest

from conftest import nbjail

SECRET_POLICY = ("overlays:\n"
                 "  sec: {kind: socks5, host: 127.0.0.1, port: 1081, username: nbuser,\n"
                 "        password_env: NBJ_TEST_PROXY_PASSWORD}\n")


def job_env(*args, env=None, policy=None, tmp_path=None):
    """The job's environment as a dict (the job runs env -0)."""
    extra = []
    if policy is not None:
        p = tmp_path / "policy.yaml"
        p.write_text(policy)
        extra = ["--policy", str(p)]
    cp = nbjail("run", "--profile", "minimal", *extra, *args, "--", "/usr/bin/env", "-0",
                env=env)
    assert cp.returncode == 0, cp.stderr
    return dict(e.split("=", 1) for e in cp.stdout.split("\0") if e)


def test_password_env_and_sudo_never_reach_the_job(nbj, tmp_path):
    e = job_env(tmp_path=tmp_path, policy=SECRET_POLICY,
                env={"NBJ_TEST_PROXY_PASSWORD": "s3cret-value", "SUDO_USER": "alice",
                     "SUDO_COMMAND": "/bin/sh -c secret", "NBJ_TEST_PLAIN": "kept"})
    assert "NBJ_TEST_PROXY_PASSWORD" not in e, e
    assert not [k for k in e if k.startswith("SUDO_")], e
    assert "s3cret-value" not in "".join(e.values())
    assert e.get("NBJ_TEST_PLAIN") == "kept", e


def test_clearenv(nbj):
    e = job_env("--clearenv", env={"NBJ_TEST_PLAIN": "x"})
    assert e == {}, e


def test_policy_env_keep_and_set(nbj, tmp_path):
    pol = SECRET_POLICY + ("env:\n  clear: true\n"
                           "  keep: [PATH, NBJ_TEST_KEEP_*, NBJ_TEST_PROXY_PASSWORD]\n"
                           "  set: {NBJ_TEST_SET: 'a b=c', PATH: /usr/bin:/bin}\n")
    e = job_env(tmp_path=tmp_path, policy=pol,
                env={"NBJ_TEST_KEEP_ONE": "1", "NBJ_TEST_KEEP_TWO": "2",
                     "NBJ_TEST_DROP": "3", "NBJ_TEST_PROXY_PASSWORD": "s3cret-value"})
    # a secret stays out even when keep names it; set replaces an inherited value
    assert e == {"NBJ_TEST_KEEP_ONE": "1", "NBJ_TEST_KEEP_TWO": "2",
                 "NBJ_TEST_SET": "a b=c", "PATH": "/usr/bin:/bin"}, e


def test_command_is_found_in_the_jobs_path(nbj, tmp_path):
    """PATH lookup uses the job's final environment, not nbjail's."""
    pol = "env:\n  set: {PATH: /nonexistent}\n"
    p = tmp_path / "policy.yaml"
    p.write_text(pol)
    cp = nbjail("run", "--profile", "minimal", "--policy", str(p), "--", "true")
    assert cp.returncode == 127, (cp.returncode, cp.stderr)


@pytest.mark.parametrize("text,where,field", [
    ("env: [a]\n", "1:6", "env"),
    ("env:\n  clear: yes please\n", "2:10", "env.clear"),
    ("env:\n  clear: true\n  keep: ['1BAD']\n", "3:10", "env.keep[0]"),
    ("env:\n  clear: true\n  keep: ['A*B']\n", "3:10", "env.keep[0]"),
    ("env:\n  keep: [PATH]\n", "2:3", "env.keep"),
    ("env:\n  set: {'A-B': x}\n", "2:9", "env.set"),
    ("env:\n  set: {A: [x]}\n", "2:12", "env.set.A"),
    ("env:\n  other: 1\n", "2:3", "env"),
])
def test_bad_env_policy(nbj, tmp_path, text, where, field):
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    for cmd in (["check", str(p)], ["run", "--policy", str(p), "--", "true"]):
        cp = nbjail(*cmd)
        assert cp.returncode == 2, (cmd, cp.stdout, cp.stderr)
        assert f"{p}:{where}: {field}:" in cp.stderr, cp.stderr


def test_check_prints_env(nbj, tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text("env:\n  clear: true\n  keep: [LANG, LC_*]\n  set: {TZ: UTC}\n")
    cp = nbjail("check", str(p))
    assert cp.returncode == 0, cp.stderr
    assert "env:\n  clear: true\n  keep:\n    - \"LANG\"\n    - \"LC_*\"\n  set:\n" \
           "    TZ: \"UTC\"\n" in cp.stdout, cp.stdout
    # and what check prints loads again
    q = tmp_path / "again.yaml"
    q.write_text(cp.stdout)
    assert nbjail("check", str(q)).returncode == 0
