# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_cli.py - command line: usage, errors, exit codes 2 and 125"""
import os
import re

import pytest

from conftest import HOST_NS, NBJAIL, REPO, enter_netns, nbjail, run

USAGE_RE = re.compile(r"usage", re.I)


def meson_version():
    m = re.search(r"version:\s*'([^']+)'", (REPO / "meson.build").read_text())
    return m.group(1)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(nbj, flag):
    cp = nbjail(flag)
    assert cp.returncode == 0, cp.stderr
    assert USAGE_RE.search(cp.stdout), cp.stdout
    assert "run" in cp.stdout and "gc" in cp.stdout
    assert cp.stderr == ""


def test_version(nbj):
    cp = nbjail("--version")
    assert cp.returncode == 0, cp.stderr
    assert meson_version() in cp.stdout, cp.stdout
    assert cp.stdout.count("\n") == 1, cp.stdout


@pytest.mark.parametrize("args", [
    ["--bogus"],
    [],
    ["frobnicate"],
    ["run", "--bogus", "--", "true"],
], ids=["bad-flag", "no-args", "bad-command", "run-bad-flag"])
def test_bad_usage_prints_usage(nbj, args):
    cp = nbjail(*args)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert USAGE_RE.search(cp.stderr), cp.stderr
    assert cp.stdout == ""


@pytest.mark.parametrize("args", [
    ["run"],
    ["run", "--"],
    ["run", "--profile", "net"],
    ["run", "--profile", "net", "--"],
], ids=["run", "run--", "run-profile", "run-profile--"])
def test_run_without_command(nbj, args):
    cp = nbjail(*args)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert cp.stderr.strip() != ""


def test_unknown_profile(nbj):
    cp = nbjail("run", "--profile", "bogusprof", "--", "sh", "-c", "echo RAN")
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "bogusprof" in cp.stderr
    assert "RAN" not in cp.stdout


@pytest.mark.parametrize("pattern", ["*example.com", "a.*.example.com", "*", "exa mple.com",
                                     "example..com", "-a.example.com", "bücher.example",
                                     "example.com:0", "0x7f.1"])
def test_bad_name_pattern_rejected(nbj, pattern):
    cp = nbjail("run", "--allow", pattern, "--", "sh", "-c", "echo RAN")
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert f"--allow '{pattern}'" in cp.stderr
    assert "RAN" not in cp.stdout


def test_name_pattern_accepted(nbj):
    cp = nbjail("run", "--profile", "minimal", "--allow", "example.com",
                "--allow", "*.pypi.org:443", "--", "sh", "-c", "echo RAN")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "RAN\n"


@pytest.mark.parametrize("pattern", [
    "300.1.1.1", "198.51.100.10:99999", "198.51.100.10:0", "198.51.100.10/33",
    "198.51.100.10/24", "[2001:db8::10", "[2001:db8::10]:", "", "1.2.3",
])
def test_bad_allow_pattern(nbj, pattern):
    cp = nbjail("run", "--allow", pattern, "--", "sh", "-c", "echo RAN")
    assert cp.returncode == 2, (pattern, cp.returncode, cp.stderr)
    assert "RAN" not in cp.stdout
    assert cp.stderr.strip() != ""


def test_unknown_user(nbj):
    cp = nbjail("run", "--user", "nbt-no-such-user", "--", "sh", "-c", "echo RAN")
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "nbt-no-such-user" in cp.stderr
    assert "RAN" not in cp.stdout


@pytest.mark.parametrize("name", ["bad name", "a" * 64, "", "x/y"])
def test_bad_name(nbj, name):
    cp = nbjail("run", "--profile", "minimal", "--name", name, "--", "sh", "-c", "echo RAN")
    assert cp.returncode == 2, (name, cp.returncode, cp.stderr)
    assert "RAN" not in cp.stdout


def _as_nobody_in_host():
    enter_netns(HOST_NS)
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


@pytest.mark.parametrize("profile", ["minimal", "net"])
def test_not_root(nbj, world, profile):
    cp = run([NBJAIL, "run", "--profile", profile, "--", "sh", "-c", "echo RAN"],
             preexec_fn=_as_nobody_in_host, timeout=30)
    assert cp.returncode == 125, (cp.returncode, cp.stderr)
    assert "root" in cp.stderr
    assert "RAN" not in cp.stdout
