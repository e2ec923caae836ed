# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/tls_sni_server.py - a TLS server with one certificate
per server name, for the SNI tests (test_sni.py)

Run inside the world's network namespace:
    python3 tls_sni_server.py CONFIG
CONFIG is a JSON object:
    {"listen": ["198.51.100.10:8443", "[2001:db8::10]:8443"],
     "certs": {"allowed.test": ["cert.pem", "key.pem"], ...},
     "default": "other.test",
     "events": "/path/events.jsonl"}

A ClientHello naming one of "certs" gets that certificate; one without a
name (or an unknown one) gets "default".  Each ClientHello the server
reads is logged as {"hello": NAME or null}; each completed handshake as
{"handshake": CERT NAME}, after which the server writes
"hello CERT NAME\\n" and closes.  Python's ssl is OpenSSL, so what it
accepts (an empty handshake record first, a hello without SNI) is what an
OpenSSL server on the internet accepts.  Prints "ready" once listening;
exits when stdin closes.
"""
import json
import socket
import ssl
import sys
import threading

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from world import Recorder, bind_socket  # noqa: E402


def main():
    cfg = json.loads(sys.argv[1])
    rec = Recorder(cfg["events"])
    contexts = {}
    for name, (cert, key) in cfg["certs"].items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # P-256 only: a client that offers an X25519 key share (Python's,
        # OpenSSL's default) gets a HelloRetryRequest, then sends a second
        # ClientHello, which OpenSSL reads for a server name again
        ctx.set_ecdh_curve("prime256v1")
        contexts[name] = ctx
    base = contexts[cfg["default"]]

    def pick(sslobj, name, _ctx):
        rec.record(hello=name)
        sslobj.context = contexts.get(name, base)

    for ctx in contexts.values():
        ctx.sni_callback = pick

    def serve(conn):
        conn.settimeout(30)  # longer than the relay's 10 s for a whole hello
        try:
            with base.wrap_socket(conn, server_side=True) as s:
                name = next(n for n, c in contexts.items() if c is s.context)
                rec.record(handshake=name)
                s.sendall(f"hello {name}\n".encode())
        except (OSError, ssl.SSLError):
            pass

    def accept(sock):
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    for spec in cfg["listen"]:
        s = bind_socket(spec, socket.SOCK_STREAM)
        s.listen(64)
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
