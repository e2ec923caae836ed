# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/https_echo_server.py - an HTTPS server that logs every
request it gets, for the credentials tests (test_creds.py)

Run inside the world's network namespace:
    python3 https_echo_server.py CONFIG
CONFIG is a JSON object:
    {"listen": ["198.51.100.10:9443", ...],
     "certs": {"allowed.test": ["cert.pem", "key.pem"], ...},
     "default": "allowed.test",
     "events": "/path/events.jsonl",
     "git_root": "/path/to/bare/repositories"}

Each request is logged as {"method", "path", "host", "authorization",
"sni", "body", "resumed" (a resumed TLS session)} and answered 200 with the body "ok METHOD PATH\\n"
(HTTP/1.1, keep-alive); /big?mb=N is answered with N MiB of zeros.
Paths under /git/ are served by git
http-backend (CGI) from "git_root", behind Basic auth (401 without it).  Python's ssl is OpenSSL.  Prints "ready" once
listening; exits when stdin closes.
"""
import json
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from world import Recorder, bind_socket  # noqa: E402


def main():
    cfg = json.loads(sys.argv[1])
    rec = Recorder(cfg["events"])
    contexts = {}
    for name, (cert, key) in cfg["certs"].items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        contexts[name] = ctx
    base = contexts[cfg["default"]]

    def pick(sslobj, name, _ctx):
        sslobj.context = contexts.get(name, base)

    for ctx in contexts.values():
        ctx.sni_callback = pick

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def git(self, body):
            """git http-backend as CGI, behind Basic auth (any user and
            password: the test checks what arrived)"""
            auth = self.headers.get("Authorization")
            rec.record(method=self.command, path=self.path, host=self.headers.get("Host"),
                       authorization=auth, git=True)
            if not auth or not auth.startswith("Basic "):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path[len("/git"):].partition("?")
            env = {"GIT_PROJECT_ROOT": cfg["git_root"], "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                   "CONTENT_TYPE": self.headers.get("Content-Type") or "",
                   "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": "x",
                   "PATH": "/usr/bin:/bin"}
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            for k, v in self.headers.items():
                env["HTTP_" + k.upper().replace("-", "_")] = v
            cp = subprocess.run(["git", "http-backend"], input=body, env=env,
                                capture_output=True, timeout=30)
            head, _, out = cp.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode().split("\r\n"):
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def echo_upgrade(self):
            """Upgrade: echo -> 101, then every byte comes back (a
            WebSocket's shape without its framing)"""
            rec.record(method=self.command, path=self.path, upgrade=True,
                       authorization=self.headers.get("Authorization"))
            self.send_response(101)
            self.send_header("Upgrade", "echo")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:
                b = self.connection.recv(4096)
                if not b:
                    break
                self.connection.sendall(b)
            self.close_connection = True

        def handle_any(self):
            if (self.headers.get("Upgrade") or "").lower() == "echo":
                self.echo_upgrade()
                return
            n = int(self.headers.get("Content-Length") or 0)
            if self.path.startswith("/git/"):
                self.git(self.rfile.read(n) if n else b"")
                return
            body = self.rfile.read(n).decode(errors="replace") if n else ""
            rec.record(method=self.command, path=self.path, host=self.headers.get("Host"),
                       authorization=self.headers.get("Authorization"),
                       api_key=self.headers.get("X-Api-Key"),
                       sni=self.connection.server_hostname if hasattr(
                           self.connection, "server_hostname") else None,
                       body=body if len(body) <= 4096 else f"<{len(body)} bytes>",
                       resumed=self.connection.session_reused)
            out = f"ok {self.command} {self.path}\n".encode()
            if self.path.startswith("/big?mb="):
                out = bytes(int(self.path.split("=", 1)[1]) << 20)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_any

        def log_message(self, *args):
            pass

    def serve(conn, peer):
        conn.settimeout(30)
        try:
            with base.wrap_socket(conn, server_side=True) as s:
                Handler(s, peer, None)
        except (OSError, ssl.SSLError):
            pass

    def accept(sock):
        while True:
            conn, peer = sock.accept()
            threading.Thread(target=serve, args=(conn, peer), daemon=True).start()

    for spec in cfg["listen"]:
        s = bind_socket(spec, socket.SOCK_STREAM)
        s.listen(64)
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
