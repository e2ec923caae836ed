# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/socks_recorder.py PORT LOG - a SOCKS5 server that records

A protocol-faithful SOCKS5 server (RFC 1928 greeting, RFC 1929
user/password, CONNECT with IPv4, IPv6 or domain addresses) on
127.0.0.1:PORT that never resolves or dials anything: it stands for an
overlay network.  For each CONNECT it appends one JSON line to LOG (the
credentials, the address type, host and port), answers success, then acts
as the destination: "HTTP/1.0 200 OK" with body "recorder HOST:PORT".
Any credentials are accepted, like Tor's SOCKS port.  Bounded: each
connection has a 10 s timeout; the process exits after 10 minutes.
"""
import ipaddress
import json
import socket
import sys
import threading
import time


def recv_exact(c, n):
    data = b""
    while len(data) < n:
        chunk = c.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def serve(c, log):
    c.settimeout(10)
    rec = {"user": None, "password": None}
    ver, n = recv_exact(c, 2)
    methods = recv_exact(c, n)
    if ver != 5:
        return
    method = 2 if 2 in methods else 0 if 0 in methods else 0xFF
    c.sendall(bytes([5, method]))
    if method == 0xFF:
        return
    if method == 2:
        _v, ulen = recv_exact(c, 2)
        rec["user"] = recv_exact(c, ulen).decode()
        (plen,) = recv_exact(c, 1)
        rec["password"] = recv_exact(c, plen).decode()
        c.sendall(b"\x01\x00")
    ver, cmd, _rsv, atyp = recv_exact(c, 4)
    if atyp == 1:
        host, kind = str(ipaddress.IPv4Address(recv_exact(c, 4))), "ipv4"
    elif atyp == 4:
        host, kind = str(ipaddress.IPv6Address(recv_exact(c, 16))), "ipv6"
    else:
        (ln,) = recv_exact(c, 1)
        host, kind = recv_exact(c, ln).decode(), "domain"
    port = int.from_bytes(recv_exact(c, 2), "big")
    rec.update({"cmd": cmd, "atyp": kind, "host": host, "port": port})
    with open(log, "a") as f:
        f.write(json.dumps(rec) + "\n")
    c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
    try:
        c.recv(4096)  # the request, if any
    except OSError:
        pass
    body = f"recorder {host}:{port}\n".encode()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    s.settimeout(1)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue

        def run(c=c):
            try:
                serve(c, log)
            except (OSError, EOFError, ValueError):
                pass
            finally:
                c.close()
        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
