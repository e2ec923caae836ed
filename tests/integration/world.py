# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/world.py - servers and leak detectors of the test world

Run inside a network namespace (ip netns exec NS python3 world.py CONFIG),
one process per namespace.  CONFIG is a JSON object:

    {"events": "/path/events.jsonl",
     "http": ["198.51.100.10:80", "[2001:db8::10]:80", ...],
     "tcp_detect": ["10.0.0.1:22", "0.0.0.0:8081", "[::]:8081", ...],
     "udp_detect": ["0.0.0.0:53", "[::]:53", ...],
     "icmp_detect": true}

Every socket is bound before "ready" is printed on stdout, so a test that
waits for "ready" can rely on all of them.  HTTP servers answer GET / with
"world ADDR:PORT\\n" and GET /big?mb=N with N MiB of big_block() (sha256
checked by the client).  Each HTTP connection is logged as an "access"
event; anything a detector sees is logged as a "leak" event.  Events are
JSON lines appended (O_APPEND, one write each) to the events file.

The module is also imported by the tests for big_block() and fmt_addr().
"""
import hashlib
import http.server
import json
import os
import select
import socket
import socketserver
import sys
import threading
import urllib.parse

MIB = 1 << 20
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def big_block():
    """One MiB of deterministic bytes: sha256(i) for i = 0..32767."""
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest()
                    for i in range(MIB // 32))


def big_sha256(mb):
    """sha256 hex digest of mb repetitions of big_block()."""
    h = hashlib.sha256()
    block = big_block()
    for _ in range(mb):
        h.update(block)
    return h.hexdigest()


def fmt_addr(host, port):
    """ADDR:PORT, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_addr(spec):
    """'1.2.3.4:80' or '[::1]:80' -> (family, host, port)."""
    host, _, port = spec.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, host[1:-1], int(port)
    return socket.AF_INET, host, int(port)


class Recorder:
    """Appends one JSON line per event to the events file."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.lock = threading.Lock()

    def record(self, **event):
        line = (json.dumps(event, sort_keys=True) + "\n").encode()
        with self.lock:
            os.write(self.fd, line)


def bind_socket(spec, kind):
    family, host, port = parse_addr(spec)
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    # Servers and detectors must bind addresses that do not exist yet
    # only by mistake: let bind() fail loudly instead of IP_FREEBIND.
    s.bind((host, port))
    return s


def peer_str(addr):
    return fmt_addr(addr[0], addr[1])


def make_http_server(spec, rec):
    family, host, port = parse_addr(spec)
    name = fmt_addr(host, port)
    block = big_block()

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "nbt-world/1"

        def setup(self):
            super().setup()
            rec.record(kind="access", proto="tcp", local=name,
                       peer=peer_str(self.client_address))

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/big":
                q = urllib.parse.parse_qs(url.query)
                mb = int(q.get("mb", ["1"])[0])
                self.send_response(200)
                self.send_header("Content-Length", str(mb * MIB))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                for _ in range(mb):
                    self.wfile.write(block)
                return
            body = f"world {name}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = family

        def server_bind(self):
            if family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            super().server_bind()

    return Server((host, port), Handler)


def answer_leak(conn):
    """Say who we are, so a client can tell a leak from a relay's reset."""
    try:
        conn.settimeout(2)
        conn.recv(4096)
        conn.sendall(b"NBT-LEAK-DETECTOR\r\n\r\nleaked\n")
        conn.shutdown(socket.SHUT_WR)
        conn.recv(4096)
    except OSError:
        pass
    finally:
        conn.close()


def tcp_detector(sock, spec, rec):
    while True:
        conn, peer = sock.accept()
        rec.record(kind="leak", proto="tcp", local=spec, peer=peer_str(peer))
        threading.Thread(target=answer_leak, args=(conn,), daemon=True).start()


def udp_detector(sock, spec, rec):
    v6 = sock.family == socket.AF_INET6
    if v6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    port = sock.getsockname()[1]
    while True:
        data, anc, _flags, peer = sock.recvmsg(65535, 256)
        dst = "?"
        for level, ctype, cdata in anc:
            if v6 and ctype == socket.IPV6_PKTINFO:
                dst = socket.inet_ntop(socket.AF_INET6, cdata[:16])
            elif not v6 and ctype == IP_PKTINFO:
                dst = socket.inet_ntop(socket.AF_INET, cdata[8:12])
        rec.record(kind="leak", proto="udp", local=fmt_addr(dst, port),
                   peer=peer_str(peer), bytes=len(data))


def dns_flip(sock, answers, rec):
    """A DNS rebinding trap: each A query is answered with the next address
    of `answers` in turn (TTL 0); AAAA and other types get an empty answer."""
    turn = 0
    while True:
        q, peer = sock.recvfrom(4096)
        if len(q) < 17:
            continue
        end = 12
        while end < len(q) and q[end]:
            end += 1 + q[end]
        end += 5  # root label, QTYPE, QCLASS
        if end > len(q):
            continue
        qtype = int.from_bytes(q[end - 4:end - 2], "big")
        hdr = q[:2] + b"\x85\x80" + b"\x00\x01"
        if qtype == 1:
            addr = answers[turn % len(answers)]
            turn += 1
            rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04" + socket.inet_aton(addr)
            sock.sendto(hdr + b"\x00\x01\x00\x00\x00\x00" + q[12:end] + rr, peer)
            rec.record(kind="dns-flip", proto="udp", local="rebind", peer=peer_str(peer), answer=addr)
        else:
            sock.sendto(hdr + b"\x00\x00\x00\x00\x00\x00" + q[12:end], peer)


def icmp_sockets():
    s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    return s4, s6


def icmp_detector(s4, s6, rec):
    # Echo requests only (ICMP type 8, ICMPv6 type 128).
    while True:
        ready, _, _ = select.select([s4, s6], [], [])
        for s in ready:
            if s is s4:
                pkt, peer = s4.recvfrom(65535)
                ihl = (pkt[0] & 0x0F) * 4
                if len(pkt) > ihl and pkt[ihl] == 8:
                    dst = socket.inet_ntop(socket.AF_INET, pkt[16:20])
                    rec.record(kind="leak", proto="icmp", local=dst, peer=peer[0])
            else:
                pkt, anc, _flags, peer = s6.recvmsg(65535, 256)
                if pkt and pkt[0] == 128:
                    dst = "?"
                    for _level, ctype, cdata in anc:
                        if ctype == socket.IPV6_PKTINFO:
                            dst = socket.inet_ntop(socket.AF_INET6, cdata[:16])
                    rec.record(kind="leak", proto="icmpv6", local=dst, peer=peer[0])


def main():
    cfg = json.loads(sys.argv[1])
    rec = Recorder(cfg["events"])
    threads = []
    for spec in cfg.get("http", []):
        srv = make_http_server(spec, rec)
        threads.append(threading.Thread(target=srv.serve_forever, daemon=True))
    for spec in cfg.get("tcp_detect", []):
        s = bind_socket(spec, socket.SOCK_STREAM)
        s.listen(64)
        threads.append(threading.Thread(target=tcp_detector, args=(s, spec, rec), daemon=True))
    for spec in cfg.get("udp_detect", []):
        s = bind_socket(spec, socket.SOCK_DGRAM)
        threads.append(threading.Thread(target=udp_detector, args=(s, spec, rec), daemon=True))
    for spec, answers in cfg.get("dns_flip", {}).items():
        s = bind_socket(spec, socket.SOCK_DGRAM)
        threads.append(threading.Thread(target=dns_flip, args=(s, answers, rec), daemon=True))
    if cfg.get("icmp_detect"):
        s4, s6 = icmp_sockets()
        threads.append(threading.Thread(target=icmp_detector, args=(s4, s6, rec), daemon=True))
    for t in threads:
        t.start()
    print("ready", flush=True)
    # Exit when the test session closes our stdin (or dies).
    sys.stdin.read()


if __name__ == "__main__":
    main()
