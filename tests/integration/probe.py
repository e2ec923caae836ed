# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/probe.py - network probes run inside a job

Usage: python3 -I probe.py STEPS_JSON
STEPS_JSON is a list of steps; the output (stdout) is one JSON list with
one result per step.  Every step is bounded in time.  Steps:

  ["tcp", HOST, PORT]            connect, send GET /, read the answer
  ["big", HOST, PORT, MB]        GET /big?mb=MB, sha256 of the body
  ["udp", HOST, PORT]            send one datagram, wait 1 s for a reply
  ["dns", SERVER, PORT, NAME(, QTYPE)]  one query over UDP (default A), report
                                 the rcode and the number of answers
  ["dns_tcp", SERVER, PORT, NAME(, QTYPE)]  the same over TCP
  ["resolve", NAME]              getaddrinfo(NAME): the addresses, or the error
  ["tls", HOST, PORT, SNI]       connect, start a TLS handshake naming SNI
  ["tls_crafted", HOST, PORT, SNI, MODE]  a whole TLS handshake whose
                                 ClientHello (OpenSSL's, naming SNI; null:
                                 no server name) is sent as MODE says:
                                 "plain", "empty-first" (an empty handshake
                                 record before it), "split" (over records
                                 of 64 bytes), "partial-eof" (its first 20
                                 bytes, then shutdown) or "partial-stall"
                                 (its first 20 bytes, then wait up to 20 s)
                                 or "hrr-other" (a hello naming allowed.test,
                                 and after the server's HelloRetryRequest a
                                 change_cipher_spec record and a second
                                 hello naming SNI); then the server's first
                                 line
  ["ping", HOST]                 ICMP(v6) echo: ping socket, then raw socket
  ["gateway"]                    the IPv4 nameserver in /etc/resolv.conf (not
                                 local: the job's ruleset sends its DNS to
                                 the relay's stub)
  ["tcp_listener", HOST]         "tcp" to the first port listening on HOST
                                 (127.0.0.1 or ::1) in /proc/net/tcp(6): at
                                 the start of a net job, the relay's; the
                                 port is in "port" (no listener: "none")

A result always has "outcome": for tcp "data", "refused", "reset",
"eof", "timeout" or "error:ERRNO"; elapsed seconds are in "elapsed".
"""
import errno
import hashlib
import json
import os
import socket
import struct
import sys
import time

TIMEOUT = 5.0


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def err_outcome(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(e, OSError) and e.errno:
        return "error:" + errno.errorcode.get(e.errno, str(e.errno))
    return "error:" + repr(e)


def http_get(host, port, path, sink):
    """Returns (outcome, status line, nbytes); sink(bytes) gets the body."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((host, port))
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                return ("eof" if not head else "short"), head[:200].decode("latin-1"), 0
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        n = len(rest)
        sink(rest)
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            n += len(chunk)
            sink(chunk)
        return "data", status, n
    except Exception as e:  # noqa: BLE001 - every failure is a result
        return err_outcome(e), None, 0
    finally:
        s.close()


def step_tcp(host, port):
    body = bytearray()
    t0 = time.monotonic()
    outcome, status, _n = http_get(host, port, "/", body.extend)
    res = {"outcome": outcome, "elapsed": round(time.monotonic() - t0, 3)}
    if status is not None:
        res["status"] = status
        res["body"] = body[:4096].decode("latin-1")
    return res


def step_big(host, port, mb):
    h = hashlib.sha256()
    t0 = time.monotonic()
    outcome, status, n = http_get(host, port, f"/big?mb={mb}", h.update)
    return {"outcome": outcome, "status": status, "length": n,
            "sha256": h.hexdigest(), "elapsed": round(time.monotonic() - t0, 3)}


def step_udp(host, port):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.settimeout(1.0)
    t0 = time.monotonic()
    try:
        s.sendto(b"nbt-udp-probe", (host, port))
        data, peer = s.recvfrom(2048)
        return {"outcome": "reply", "from": peer[0], "data": data[:100].decode("latin-1")}
    except Exception as e:  # noqa: BLE001
        out = err_outcome(e)
        return {"outcome": "no-reply" if out == "timeout" else out,
                "elapsed": round(time.monotonic() - t0, 3)}
    finally:
        s.close()


def dns_query(name, qid, qtype=1):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)


def step_dns_tcp(server, port, name, qtype=1):
    qid = int.from_bytes(os.urandom(2), "big")
    q = dns_query(name, qid, qtype)
    t0 = time.monotonic()
    try:
        with socket.create_connection((server, port), timeout=2.0) as s:
            s.sendall(struct.pack("!H", len(q)) + q)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        data = data[2:]
        rid, flags = struct.unpack("!HH", data[:4])
        return {"outcome": f"rcode:{flags & 0xF}", "id_ok": rid == qid,
                "answers": struct.unpack("!H", data[6:8])[0],
                "elapsed": round(time.monotonic() - t0, 3)}
    except Exception as e:  # noqa: BLE001
        return {"outcome": err_outcome(e), "elapsed": round(time.monotonic() - t0, 3)}


def step_resolve(name):
    t0 = time.monotonic()
    try:
        infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        return {"outcome": "ok", "addrs": sorted({i[4][0] for i in infos}),
                "elapsed": round(time.monotonic() - t0, 3)}
    except socket.gaierror as e:
        return {"outcome": f"gaierror:{e.errno}", "elapsed": round(time.monotonic() - t0, 3)}


def step_tls(host, port, sni):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.do_handshake()
        return {"outcome": "handshake", "elapsed": round(time.monotonic() - t0, 3)}
    except ssl.SSLError as e:
        return {"outcome": "ssl-error", "detail": str(e)[:100],
                "elapsed": round(time.monotonic() - t0, 3)}
    except Exception as e:  # noqa: BLE001
        return {"outcome": err_outcome(e), "elapsed": round(time.monotonic() - t0, 3)}


def craft_hello(hello, mode):
    if mode == "empty-first":
        return b"\x16\x03\x01\x00\x00" + hello
    if mode == "split":
        hs = hello[5:]
        return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(hs[i:i + 64])) + hs[i:i + 64]
                        for i in range(0, len(hs), 64))
    return hello


def tls_hrr_other(s, ctx, first, sni, t0):
    import ssl
    s.sendall(first)
    reply = s.recv(65536)
    hrr = reply[:1] == b"\x16" and reply[5:6] == b"\x02" and reply[11:43] == bytes.fromhex(
        "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s.sendall(b"\x14\x03\x03\x00\x01\x01" + out.read())
    s.settimeout(5)
    try:
        outcome = "data" if s.recv(100) else "eof"
    except OSError as e:
        outcome = err_outcome(e)
    return {"outcome": outcome, "hrr": hrr, "elapsed": round(time.monotonic() - t0, 3)}


def step_tls_crafted(host, port, sni, mode):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="allowed.test" if mode == "hrr-other" else sni)
    t0 = time.monotonic()

    def more(s):
        data = s.recv(65536)
        if not data:
            raise ConnectionResetError(errno.ECONNRESET, "eof")
        inc.write(data)

    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            if mode == "hrr-other":
                return tls_hrr_other(s, ctx, out.read(), sni, t0)
            hello = craft_hello(out.read(), mode)
            if mode.startswith("partial"):
                s.sendall(hello[:20])
                if mode == "partial-eof":
                    s.shutdown(socket.SHUT_WR)
                s.settimeout(20)
                data = s.recv(100)
                return {"outcome": "eof" if not data else "data",
                        "elapsed": round(time.monotonic() - t0, 3)}
            s.sendall(hello)
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    if out.pending:
                        s.sendall(out.read())
                    more(s)
            if out.pending:
                s.sendall(out.read())
            line = b""
            while b"\n" not in line:
                try:
                    line += obj.read(100)
                except ssl.SSLWantReadError:
                    more(s)
        return {"outcome": "handshake", "line": line.decode("latin-1").strip(),
                "elapsed": round(time.monotonic() - t0, 3)}
    except ssl.SSLError as e:
        return {"outcome": "ssl-error", "detail": str(e)[:100],
                "elapsed": round(time.monotonic() - t0, 3)}
    except Exception as e:  # noqa: BLE001
        return {"outcome": err_outcome(e), "elapsed": round(time.monotonic() - t0, 3)}


def step_dns(server, port, name, qtype=1):
    s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    qid = int.from_bytes(os.urandom(2), "big")
    t0 = time.monotonic()
    try:
        # like a real stub resolver: one retry
        for attempt in (0, 1):
            s.settimeout(2.0)
            s.sendto(dns_query(name, qid, qtype), (server, port))
            try:
                data, peer = s.recvfrom(4096)
                break
            except socket.timeout:
                if attempt:
                    raise
        rid, flags = struct.unpack("!HH", data[:4])
        return {"outcome": f"rcode:{flags & 0xF}", "id_ok": rid == qid,
                "answers": struct.unpack("!H", data[6:8])[0],
                "qr": bool(flags & 0x8000), "from": peer[0],
                "elapsed": round(time.monotonic() - t0, 3)}
    except Exception as e:  # noqa: BLE001
        return {"outcome": err_outcome(e), "elapsed": round(time.monotonic() - t0, 3)}
    finally:
        s.close()


def icmp_echo(sock, host, v6, raw):
    # type, code, checksum, id, seq; a ping socket fills checksum and id.
    typ = 128 if v6 else 8
    payload = b"nbt-ping-probe"
    hdr = struct.pack("!BBHHH", typ, 0, 0, 0x4e42, 1)
    if raw and not v6:
        csum_data = hdr + payload
        total = sum(struct.unpack(f"!{len(csum_data) // 2}H", csum_data + b"\0" * (len(csum_data) % 2)))
        total = (total >> 16) + (total & 0xFFFF)
        total += total >> 16
        hdr = struct.pack("!BBHHH", typ, 0, ~total & 0xFFFF, 0x4e42, 1)
    sock.settimeout(1.0)
    sock.sendto(hdr + payload, (host, 0))
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        data, _peer = sock.recvfrom(2048)
        if raw and not v6:
            data = data[(data[0] & 0x0F) * 4:]
        if data and data[0] in (0, 129):
            return "reply"
    return "no-reply"


def step_ping(host):
    v6 = ":" in host
    res = {}
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", "w") as f:
            f.write("0 2147483647\n")
        res["ping_group_range"] = "written"
    except OSError as e:
        res["ping_group_range"] = err_outcome(e)
    for kind, stype in (("dgram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
        try:
            s = socket.socket(family_of(host), stype, proto)
        except OSError as e:
            res[kind] = "socket:" + err_outcome(e)
            continue
        try:
            res[kind] = icmp_echo(s, host, v6, kind == "raw")
        except Exception as e:  # noqa: BLE001
            out = err_outcome(e)
            res[kind] = "no-reply" if out == "timeout" else out
        finally:
            s.close()
    res["outcome"] = "reply" if "reply" in res.values() else "no-reply"
    return res


def step_gateway():
    with open("/etc/resolv.conf") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return {"outcome": "ok", "gateway": parts[1]}
    return {"outcome": "none"}


def listening_ports(host):
    """TCP ports listening on host (an IPv4 or IPv6 loopback address)"""
    v6 = ":" in host
    want = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, host)
    ports = []
    with open("/proc/net/tcp6" if v6 else "/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr_hex, port_hex = local.split(":")
            # /proc/net/tcp prints each 32-bit word in host byte order
            raw = bytes.fromhex(addr_hex)
            if sys.byteorder == "little":
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            addr = raw
            if state == "0A" and addr == want:
                ports.append(int(port_hex, 16))
    return ports


def step_tcp_listener(host):
    ports = listening_ports(host)
    if not ports:
        return {"outcome": "none"}
    return dict(step_tcp(host, ports[0]), port=ports[0])


STEPS = {"tcp": step_tcp, "big": step_big, "udp": step_udp, "dns": step_dns,
         "ping": step_ping, "gateway": step_gateway, "resolve": step_resolve,
         "tls": step_tls, "dns_tcp": step_dns_tcp,
         "tls_crafted": step_tls_crafted, "tcp_listener": step_tcp_listener}


def main():
    results = []
    for step in json.loads(sys.argv[1]):
        results.append(STEPS[step[0]](*step[1:]))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
