#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/deb-check.sh [DEB_DIR] - the built Debian packages, installed and run
#
# Theory of operation: the packages of `make deb` (DEB_DIR, default
# build/deb) are unpacked with dpkg-deb into a scratch root, and the
# checks run in a private mount namespace (unshare -m) where an overlay
# puts the scratch root's /usr over the host's: /usr/bin/nbjail,
# /usr/libexec/nbjail/nbjail-relay, the library, headers, man pages and
# completion are where the packages put them, and the programs run from
# there, with the compiled-in paths of the package build.  Nothing is
# written to the host's /usr or dpkg database; the namespace and the
# scratch root go when the script ends.  apt-get --simulate checks that
# the packages' dependencies are satisfiable on this host.
#
# Jobs: `nbjail doctor`, a minimal job, a net job whose client and server
# talk over the job's own loopback (through the packaged relay's
# nftables setup), the same job with /usr/libexec/nbjail hidden (it must
# fail: proof the relay came from the package), and tests/demo.sh, whose
# job reaches a server in a test world through the relay and is refused
# the metadata address, all inside network namespaces it makes itself.
#
# Output: TAP lines ("ok N - what", "not ok N - what"); exit status 0
# when every check passed.  Needs root.
set -u
self=$(realpath "$0")
cd "$(dirname "$self")/.."

if [ "${1:-}" = --inside ]; then
	inside=1 root=$2
else
	inside=0 debdir=$(realpath "${1:-build/deb}")
fi
n=0 failed=0

check() { # DESCRIPTION COMMAND...: one TAP line, the output on failure
	local what=$1 out rc
	shift
	n=$((n + 1))
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what (status $rc)"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

# --- inside the private mount namespace, the packages at their places ---

loopback_job() { # a server and a client on the job's own 127.0.0.1
	/usr/bin/nbjail run --profile net --no-journal -- /usr/bin/python3 -c '
import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname(), timeout=5)
conn, _ = srv.accept(); cli.sendall(b"ping"); conn.sendall(conn.recv(4))
assert cli.recv(4) == b"ping"
print("loopback ok")' | grep -qx 'loopback ok'
}

relay_hidden_job() { # with no nbjail-relay, a net job must not start
	local out rc
	mount -t tmpfs -o ro,size=4k nbjt-empty /usr/libexec/nbjail || return 1
	out=$(/usr/bin/nbjail run --profile net --no-journal -- true 2>&1)
	rc=$?
	umount /usr/libexec/nbjail
	[ $rc -eq 125 ] && grep -q 'cannot find the nbjail-relay program' <<<"$out" ||
		{ echo "status $rc: $out"; return 1; }
}

relay_is_roots() {
	[ "$(stat -c '%u %a' /usr/libexec/nbjail/nbjail-relay)" = "0 755" ] &&
		grep -qa '/usr/libexec/nbjail/nbjail-relay' /usr/bin/nbjail
}

library_links() { # a program built from libnbjail-dev, run on libnbjail0
	local dir rc
	dir=$(mktemp -d) || return 1
	cat >"$dir/t.c" <<'C'
#include <nbjail/nbjail.h>
#include <stdio.h>
int main(void)
{
	struct nbj_config *cfg = NULL;
	if (nbj_config_new(&cfg) < 0)
		return 1;
	nbj_config_free(cfg);
	puts(NBJ_VERSION);
	return 0;
}
C
	# shellcheck disable=SC2046
	gcc -o "$dir/t" "$dir/t.c" $(pkg-config --cflags --libs libnbjail) &&
		[ "$("$dir/t")" = 0.1.0 ] &&
		objdump -T "$dir/t" | grep -q '(NBJAIL_0.1) *nbj_config_new' &&
		ldd "$dir/t" | grep -q 'libnbjail.so.0 => /'
	rc=$?
	rm -rf "$dir"
	return $rc
}

completion_loads() {
	bash -c '. /usr/share/bash-completion/bash_completion 2>/dev/null
		. /usr/share/bash-completion/completions/nbjail && complete -p nbjail' |
		grep -q '_nbjail'
}

demo_job() { # tests/demo.sh with the installed nbjail, in its own test world
	local out
	out=$(tests/demo.sh /usr/bin/nbjail 2>&1) || { printf '%s\n' "$out"; return 1; }
	grep -q 'hello from the world server 198.51.100.10' <<<"$out" &&
		grep -qx 'demo: OK' <<<"$out"
}

if [ $inside = 1 ]; then
	mount -t overlay nbjt-deb -o "lowerdir=$root/usr:/usr" /usr || {
		echo "not ok 1 - overlay of the packages' /usr (mount failed)"
		exit 1
	}
	n=$3
	check "nbjail --version is the package's" \
		sh -c '/usr/bin/nbjail --version | grep -qx "nbjail 0.1.0"'
	check "nbjail-relay in /usr/libexec/nbjail, root's, its path compiled into nbjail" \
		relay_is_roots
	check "man pages: nbjail(1), nbjail-select(1), nbjail.yaml(5), nbjail-audit(7), libnbjail(3)" \
		sh -c 'for p in man1/nbjail.1 man1/nbjail-select.1 man5/nbjail.yaml.5 man7/nbjail-audit.7 man3/libnbjail.3; do
			[ -e /usr/share/man/$p.gz ] || { echo "missing $p"; exit 1; }; done'
	check "bash completion for nbjail loads" completion_loads
	check "libnbjail-dev: pkg-config, header, versioned symbols, libnbjail.so.0" \
		library_links
	check "nbjail doctor: full enforcement" /usr/bin/nbjail doctor
	check "nbjail run --profile minimal -- true" \
		/usr/bin/nbjail run --profile minimal --no-journal -- true
	check "nbjail run --profile net: a client and a server on the job's loopback" \
		loopback_job
	check "without /usr/libexec/nbjail/nbjail-relay a net job does not start (125)" \
		relay_hidden_job
	check "demo: allowed fetch through the packaged relay, metadata refused" demo_job
	exit $((failed > 0))
fi

# --- outside: unpack, check dependencies, enter the namespace ---

[ "$(id -u)" = 0 ] || { echo "deb-check: run as root" >&2; exit 2; }
debs=()
for p in nbjail libnbjail0 libnbjail-dev; do
	f=$(ls "$debdir"/${p}_*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "not ok 1 - $p package in $debdir (none: run make deb)"; exit 1; }
	debs+=("$f")
done
root=$(mktemp -d /var/lib/nbjt-deb.XXXXXX)
trap 'rm -rf "$root"' EXIT
for f in "${debs[@]}"; do
	dpkg-deb -x "$f" "$root" || { echo "not ok 1 - dpkg-deb -x $f"; exit 1; }
done
check "apt-get --simulate install: the packages' dependencies are satisfiable" \
	apt-get install --simulate --no-install-recommends "${debs[@]}"
check "lintian: no errors" sh -c "[ -f '$debdir/lintian.txt' ] && ! grep -q '^E:' '$debdir/lintian.txt'"
unshare -m --propagation private -- "$self" --inside "$root" "$n"
rc=$?
exit $((rc != 0 || failed > 0))
