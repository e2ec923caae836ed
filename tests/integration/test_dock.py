# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_dock.py - the dock lane: nbjail-dock and its socket

A job with a dock (profiles net and browse) finds /run/nbjail/dock.sock
($NBJAIL_DOCK) and nbjail-dock on its PATH; the relay dials from the host
what policy_decide() (lane dock) allows, in the test world only: the
world's HTTP servers, a line-protocol server and a UDP responder the
tests start in the world's namespace, its DNS server.  Every leak
detector stays at 0 (the autouse no_leaks fixture).
"""
import json
import os
import signal
import struct
import subprocess
import time

import pytest

from conftest import PYTHON, RUN_DIR, WORLD_NS, nbjail, read_line, wait_for

MIB = 1 << 20
HTTP10 = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'"


def job(*cmd, profile="net", allow=(), extra=(), timeout=60, input=None):
    args = ["run", "--profile", profile]
    for a in allow:
        args += ["--allow", a]
    return nbjail(*args, *extra, "--", *cmd, timeout=timeout, input=input)


def shell(script, **kw):
    return job("sh", "-c", script, **kw)


def test_dock_in_net_and_browse_not_in_minimal_compute(nbj, world):
    for profile in ("net", "browse"):
        cp = shell('echo "$NBJAIL_DOCK"; test -S "$NBJAIL_DOCK" && echo socket; '
                   'command -v nbjail-dock; nbjail-dock --help >/dev/null && echo runs; '
                   'touch /run/nbjail/bin/nbjail-dock 2>/dev/null || echo read-only',
                   profile=profile)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.split() == ["/run/nbjail/dock.sock", "socket",
                                     "/run/nbjail/bin/nbjail-dock", "runs", "read-only"], \
            (profile, cp.stdout, cp.stderr)
    for profile in ("minimal", "compute"):
        cp = shell('echo "dock=${NBJAIL_DOCK:-none}"; test -e /run/nbjail/dock.sock && echo sock; '
                   'command -v nbjail-dock || echo no-cli', profile=profile)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.split() == ["dock=none", "no-cli"], (profile, cp.stdout)


def test_tcp_http10_by_address_and_by_name(nbj, world):
    cp = shell(f"{HTTP10} | nbjail-dock tcp 198.51.100.10 80; echo rc=$?; "
               f"{HTTP10} | nbjail-dock tcp allowed.test 80; echo rc=$?",
               allow=("198.51.100.10:80", "allowed.test:80"))
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert out.count("HTTP/1.0 200") == 2 and out.count("rc=0") == 2, (out, cp.stderr)
    assert "world 198.51.100.10:80" in out
    # the host dialled: the world saw the host's address (allowed.test has
    # an IPv6 address too, dialled first)
    seen = world.accesses("198.51.100.10:80") + world.accesses("[2001:db8::10]:80")
    assert len(seen) == 2 and all(p.startswith(("192.0.2.1:", "[2001:db8:1::1]:")) for _, p in seen), seen
