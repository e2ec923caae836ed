# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/test_demo.py - the README's first command keeps working

`make demo` runs tests/demo.sh, which builds its own two namespaces; run it
the same way and check that it says OK.
"""
import os
import subprocess

from conftest import NBJAIL, REPO, ROOTLESS


def test_demo_script(nbj):
    # in the rootless pass, nbjail runs as the test user (demo.sh NBJAIL USER)
    user = [os.environ.get("NBT_ROOTLESS_USER", "nbjt-rootless")] if ROOTLESS else []
    cp = subprocess.run(["bash", str(REPO / "tests" / "demo.sh"), NBJAIL, *user],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert cp.stdout.rstrip().endswith("demo: OK"), cp.stdout
    assert "The metadata server saw no connection." in cp.stdout
    if ROOTLESS:
        assert f"(as {user[0]}, rootless)" in cp.stdout, cp.stdout
