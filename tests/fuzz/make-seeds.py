#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/fuzz/make-seeds.py DIR - seed inputs for fuzz-sni: ClientHellos
made by this Python's OpenSSL (with and without a server name), split
over records, after an empty record, and with two names."""
import os
import ssl
import struct
import sys


def client_hello(sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def records(hs, chunk):
    return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(hs[i:i + chunk])) + hs[i:i + chunk]
                    for i in range(0, len(hs), chunk))


def main():
    d = sys.argv[1]
    one = client_hello("allowed.test")
    hs = one[5:]
    seeds = {
        "one": one,
        "no-sni": client_hello(None),
        "split": records(hs, 100),
        "empty-first": b"\x16\x03\x01\x00\x00" + one,
        "sslv2": bytes.fromhex("802e0103010015000000100100800300800700c006004000400200"
                               "80") + os.urandom(16),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
