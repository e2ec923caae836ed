# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_escape.py - the red-team suite (tests/escape/)

Each program attempts one escape from inside a net job running as root
(the strongest workload nbjail admits) and exits 0 only if the attempt
failed with the errno nbjail promises.  Foreign-architecture syscalls must
kill the process (SIGSYS).  The autouse no_leaks fixture checks that no
leak detector saw anything.
"""
import signal
from pathlib import Path

import pytest

from conftest import NBJAIL, nbjail

ESCAPE_DIR = Path(NBJAIL).parent / "tests" / "escape"
CASES = sorted(p.name[len("escape-"):] for p in ESCAPE_DIR.glob("escape-*")
               if p.is_file() and not p.name.endswith(".p"))
KILLED = {"int80_socket", "x32_connect"}


def test_suite_is_complete():
    assert len(CASES) >= 27, CASES


@pytest.mark.parametrize("case", CASES)
def test_escape_fails(nbj, world, case):
    cp = nbjail("run", "--allow", "198.51.100.10:80", "--user", "root", "--",
                str(ESCAPE_DIR / f"escape-{case}"), timeout=30)
    if case in KILLED:
        if cp.returncode == 128 + signal.SIGSEGV and case == "int80_socket":
            pytest.skip("kernel without IA32 emulation: int 0x80 faults before seccomp")
        assert cp.returncode == 128 + signal.SIGSYS, (cp.returncode, cp.stdout, cp.stderr)
        assert "ESCAPED" not in cp.stdout
        return
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    assert cp.stdout.startswith("held: "), cp.stdout
