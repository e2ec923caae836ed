# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/integration/sam_peer.py - the far end of I2P streams, over SAM v3

Runs next to a real i2pd (same network namespace) and plays an I2P
service and client for the i2p overlay's tests:

  1. DEST GENERATE, prints "ADDRESS <b32>" at once (so the job can be
     told where to connect before any session is up);
  2. SESSION CREATE with those keys and the options given in argv[2];
  3. STREAM FORWARD of its streams to a local echo server, which answers
     each line with "echo:" + line; prints "READY";
  4. then reads commands from stdin: "CONNECT <dest>" opens a stream from
     its own session to <dest>, sends "ping-from-i2p\\n" and prints
     "REPLY <line>" or "ERROR <status>".

usage: sam_peer.py SAM_PORT 'SESSION OPTIONS'
"""
import base64
import hashlib
import socket
import sys
import threading


def b32_of(dest_b64):
    raw = base64.b64decode(dest_b64, altchars=b"-~")
    certlen = int.from_bytes(raw[385:387], "big")
    return (base64.b32encode(hashlib.sha256(raw[:387 + certlen]).digest())
            .decode().lower().rstrip("=") + ".b32.i2p")


class Sam:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = b""
        assert "RESULT=OK" in self.cmd("HELLO VERSION MIN=3.1 MAX=3.1")

    def line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("SAM closed")
            self.buf += d
        out, self.buf = self.buf.split(b"\n", 1)
        return out.decode()

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self.line()


def field(line, key):
    for tok in line.split():
        if tok.startswith(key + "="):
            return tok[len(key) + 1:]
    return None


def echo_server():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve(c):
        with c:
            f = c.makefile("rwb")
            for ln in f:
                f.write(b"echo:" + ln)
                f.flush()

    def loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]


def main():
    port, opts = int(sys.argv[1]), sys.argv[2]
    ctl = Sam(port)
    r = ctl.cmd("DEST GENERATE SIGNATURE_TYPE=7")
    pub, priv = field(r, "PUB"), field(r, "PRIV")
    print("ADDRESS", b32_of(pub), flush=True)
    r = ctl.cmd(f"SESSION CREATE STYLE=STREAM ID=peer DESTINATION={priv} {opts}")
    if "RESULT=OK" not in r:
        print("FAILED", r, flush=True)
        return 1
    fwd = Sam(port)
    r = fwd.cmd(f"STREAM FORWARD ID=peer PORT={echo_server()} SILENT=true")
    if "RESULT=OK" not in r:
        print("FAILED", r, flush=True)
        return 1
    print("READY", flush=True)
    for cmd in sys.stdin:
        words = cmd.split()
        if len(words) != 2 or words[0] != "CONNECT":
            continue
        s = Sam(port)
        r = s.cmd(f"STREAM CONNECT ID=peer DESTINATION={words[1]} SILENT=false")
        if "RESULT=OK" not in r:
            print("ERROR", r, flush=True)
            continue
        s.sock.sendall(b"ping-from-i2p\n")
        try:
            print("REPLY", s.line(), flush=True)
        except (EOFError, OSError) as e:
            print("ERROR", e, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
