#!/bin/bash
# tests/run-all.sh BUILD BUILD_ASAN - run every test, print one summary
#
# Unit tests (cmocka, TAP) run from both the normal and the sanitizer
# build; each cmocka case counts.  A unit test program that exits 77 is
# skipped (with its reason on stderr).  Integration tests run with
# Debian's pytest, as root.  In CI (or with NBT_DEB=1) the Debian
# packages are built and checked installed (tests/deb-check.sh).  The
# last line is "N passed, N failed, N skipped", also written to
# BUILD/test-summary.txt.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
asan=${2:-build-asan}
pass=0 fail=0 skip=0

run_unit() {
	local exe=$1 label=$2 out rc ok notok
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$exe" 2>&1)
	rc=$?
	ok=$(grep -cE '^ok [0-9]+' <<<"$out")
	notok=$(grep -cE '^not ok [0-9]+' <<<"$out")
	if [ $rc -eq 77 ]; then
		echo "SKIP $label: $(tail -n 1 <<<"$out")"
		skip=$((skip + 1))
		return
	fi
	if [ $rc -ne 0 ] && [ "$notok" -eq 0 ]; then
		notok=1 # crashed or sanitizer report: count the program as failed
	fi
	echo "$label: $ok passed, $notok failed"
	[ "$notok" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
	pass=$((pass + ok))
	fail=$((fail + notok))
}

for b in "$build" "$asan"; do
	for exe in "$b"/tests/unit/test-*; do
		[ -x "$exe" ] && [ -f "$exe" ] || continue
		run_unit "$exe" "unit[$(basename "$b")] $(basename "$exe")"
	done
done

# integration: as root, then (issue 15) again as an unprivileged user the
# tests create, with the same world and leak detectors.
run_pytest() { # LABEL XML PYTEST-ARGS...
	local label=$1 xml=$2 p f s
	shift 2
	rm -f "$xml"
	/usr/bin/python3 -m pytest "$@" -p no:cacheprovider -rsx -q --junitxml="$xml"
	if [ -f "$xml" ]; then
		read -r p f s < <(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PY
)
	else
		p=0 f=1 s=0
		echo "$label: pytest produced no results"
	fi
	echo "$label: $p passed, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

# The tests run jobs as users other than root (a job's root is never host
# root, rootless callers, doctor's trials): every one of them must reach
# the binaries and the test files, which a clone in root's home does not
# give.  Both passes run on a copy of what they need, not under /tmp or
# /var/tmp (a job sees its own private ones).
tree=$(mktemp -d /var/lib/nbjt-tree.XXXXXX)
chmod 755 "$tree"
mkdir -p "$tree/build/tests"
cp -a tests examples man oci meson.build "$tree/"
cp "$build/nbjail" "$build/nbjail-select" "$build/nbjail-relay" "$build/nbjail-keys" \
	"$build/dock/nbjail-dock" "$tree/build/"
# libnbjail, whose C dock client test_dock.py calls inside a job (ctypes)
cp "$build/libnbjail.so.0" "$tree/build/"
# the Slurm plugin, where libslurm-dev built it (test_slurm.py looks beside nbjail)
[ -f "$build/spank_nbjail.so" ] && cp "$build/spank_nbjail.so" "$tree/build/"
[ -d "$build/tests/escape" ] && cp -a "$build/tests/escape" "$tree/build/tests/"
chmod -R a+rX "$tree"

NBJAIL="$tree/build/nbjail" run_pytest "integration[root]" "$build/pytest-results.xml" \
	"$tree/tests/integration"

# Every file runs rootless too (issue 15): nbjail as the test user, the
# world still built by root; a test that needs root says so
# (conftest.needs_root: a skip with its reason), and one that nbjail
# fails rootless is an xfail naming the bug.
rl_user=nbjt-rootless
id "$rl_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$rl_user"
NBT_ROOTLESS=1 NBT_ROOTLESS_USER=$rl_user NBJAIL="$tree/build/nbjail" \
	run_pytest "integration[rootless]" "$build/pytest-rootless.xml" "$tree/tests/integration"
rm -rf "$tree"

# The Debian packages (issue 20): built by `make deb` (the unit tests
# already ran above: nocheck), then installed and run by
# tests/deb-check.sh.  In CI (CI=true) or with NBT_DEB=1; some 3 minutes.
run_deb() {
	local log="$build/deb-build.log" out rc ok notok
	if ! DEB_BUILD_OPTIONS=nocheck make -s deb BUILD="$build" >"$log" 2>&1; then
		echo "deb: make deb failed, the end of $log:"
		tail -n 30 "$log" | sed 's/^/    /'
		fail=$((fail + 1))
		return
	fi
	echo "deb: lintian: $(grep -c '^E:' "$build/deb/lintian.txt") errors," \
		"$(grep -c '^W:' "$build/deb/lintian.txt") warnings ($build/deb/lintian.txt)"
	out=$(tests/deb-check.sh "$build/deb" 2>&1)
	rc=$?
	ok=$(grep -cE '^ok [0-9]+' <<<"$out")
	notok=$(grep -cE '^not ok [0-9]+' <<<"$out")
	[ $rc -ne 0 ] && [ "$notok" -eq 0 ] && notok=1
	echo "deb: $ok passed, $notok failed"
	[ "$notok" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
	pass=$((pass + ok)) fail=$((fail + notok))
}
if [ "${CI:-}" = true ] || [ "${NBT_DEB:-}" = 1 ]; then
	run_deb
fi

line="$pass passed, $fail failed, $skip skipped"
echo "$line" | tee "$build/test-summary.txt"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
