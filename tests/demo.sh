#!/bin/bash
# tests/demo.sh NBJAIL [USER] - a short, self-contained demo in a private test world
#
# Builds two network namespaces of its own: "host" (where nbjail runs) and
# "world" (a public-looking web server on TEST-NET 198.51.100.10, and a
# fake cloud-metadata server on 169.254.169.254 that records any visitor).
# Then runs one job allowed to reach 198.51.100.10:80 and shows that the
# allowed fetch works while the metadata address is denied.  Nothing leaves
# these namespaces; everything is removed at the end.  With USER, nbjail
# runs as that user (rootless mode, an XDG_RUNTIME_DIR of its own); the
# world is still built by root.
set -eu
nbjail=$(realpath "${1:-build/nbjail}")
user=${2:-}
tag=$$
host=nbdemo-host-$tag world=nbdemo-world-$tag
tmp=$(mktemp -d)

cleanup() {
	set +e
	[ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	ip netns del "$host" 2>/dev/null
	ip netns del "$world" 2>/dev/null
	rm -rf "$tmp" ${xdg:+"$xdg"}
}
trap cleanup EXIT INT TERM

[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo make demo)" >&2; exit 1; }

ip netns add "$host"
ip netns add "$world"
ip -n "$host" link set lo up
ip -n "$world" link set lo up
ip -n "$host" link add name wan0 type veth peer name wan0 netns "$world"
ip -n "$host" addr add 192.0.2.1/24 dev wan0
ip -n "$world" addr add 192.0.2.2/24 dev wan0
ip -n "$host" link set wan0 up
ip -n "$world" link set wan0 up
ip -n "$host" route add default via 192.0.2.2
ip -n "$world" addr add 198.51.100.10/32 dev lo
ip -n "$world" addr add 169.254.169.254/32 dev lo

cat >"$tmp/servers.py" <<'PY'
import http.server, socketserver, sys, threading
log = open(sys.argv[1], "a", buffering=1)
class Web(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from the world server {self.server.server_address[0]}\n".encode()
        if self.server.server_address[0] == "169.254.169.254":
            log.write(f"LEAK: metadata server was reached by {self.client_address[0]}\n")
            body = b"secret-credentials\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True
for addr in ("198.51.100.10", "169.254.169.254"):
    threading.Thread(target=S((addr, 80), Web).serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
PY
ip netns exec "$world" python3 "$tmp/servers.py" "$tmp/leaks.log" >"$tmp/ready" 2>&1 &
srv_pid=$!
for _ in $(seq 50); do grep -q ready "$tmp/ready" 2>/dev/null && break; sleep 0.1; done

as_user=()
if [ -n "$user" ]; then
	xdg=$(mktemp -d /tmp/nbdemo-xdg.XXXXXX)
	chown "$user:" "$xdg"
	as_user=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all
		env XDG_RUNTIME_DIR="$xdg")
fi

echo "== nbjail run --allow 198.51.100.10:80 -- curl ...${user:+ (as $user, rootless)}"
echo
ip netns exec "$host" "${as_user[@]}" "$nbjail" run --allow 198.51.100.10:80 -- sh -c '
	printf "allowed  http://198.51.100.10/        -> "
	curl -sS --max-time 5 http://198.51.100.10/ || echo "FAILED (unexpected)"
	printf "denied   http://169.254.169.254/ (metadata) -> "
	if curl -sS --max-time 5 http://169.254.169.254/latest/meta-data/ 2>/dev/null; then
		echo "REACHED (this must never happen)"; exit 1
	else
		echo "refused, as it must be"
	fi' 2>"$tmp/stderr" || { cat "$tmp/stderr"; echo "demo: FAILED"; exit 1; }
echo
echo "nbjail said (stderr; the connect() was refused with EACCES, its audit line):"
sed 's/^/    /' "$tmp/stderr"
grep -q 'deny connect 169.254.169.254:80 .*exe=.*curl reason=floor:metadata' "$tmp/stderr" ||
	{ echo "demo: FAILED, no deny line for the metadata address"; exit 1; }
echo
if [ -s "$tmp/leaks.log" ]; then
	cat "$tmp/leaks.log"
	echo "demo: FAILED, the metadata server saw a connection"
	exit 1
fi
echo "The metadata server saw no connection."
echo "demo: OK"
