#!/usr/bin/env python3
"""
proxyv2.py: hand-crafted PROXY protocol v2 headers for test_proxy.sh, built
here byte by byte (not by Signet or haproxy), sent straight to signetd.

  request --port P --ca CA --src ADDR [--method M --path PATH --token T
          --body JSON]
      header claiming ADDR, then TLS on the same socket and one HTTP/1.1
      request; prints {"status": N, "body": "..."} or {"error": "..."}
  hold --port P --ca CA --src ADDR[,ADDR...]
      one connection per ADDR, opened one after the other and held open:
      header, TLS handshake, then a GET /healthz on each one still open
      after all are made; prints [{"src", "handshake", "status"}, ...] in
      the order of ADDR
  raw --port P [--hex BYTES] [--seconds S]
      sends BYTES (none: a peer that says nothing) and waits up to S
      seconds; prints {"closed": bool, "after": seconds, "answer_bytes": N}
"""
import argparse
import ipaddress
import json
import socket
import ssl
import struct
import sys
import time

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def header(src, dst="127.0.0.1", sport=40000, dport=443, tlvs=b""):
    """A PROXY v2 header with command PROXY for src (IPv4 or IPv6)."""
    s = ipaddress.ip_address(src)
    if s.version == 4:
        d = ipaddress.ip_address(dst)
        block = s.packed + d.packed + struct.pack(">HH", sport, dport)
        fam = 0x11
    else:
        block = s.packed + ipaddress.ip_address("::1").packed + struct.pack(
            ">HH", sport, dport)
        fam = 0x21
    block += tlvs
    return SIG + bytes([0x21, fam]) + struct.pack(">H", len(block)) + block


def tls_connect(port, ca, src):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(header(src, tlvs=b"\x01\x00\x02h2"))  # an ALPN TLV: skipped
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def http(s, method, path, token=None, body=None):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    data = b""
    if body is not None:
        data = body.encode()
        lines += ["Content-Type: application/json",
                  f"Content-Length: {len(data)}"]
    lines.append("Connection: close")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    if b"transfer-encoding: chunked" in head.lower():
        out = b""
        while rest:
            n, _, rest = rest.partition(b"\r\n")
            n = int(n, 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        rest = out
    return status, rest.decode(errors="replace")


def cmd_request(a):
    try:
        s = tls_connect(a.port, a.ca, a.src)
        status, body = http(s, a.method, a.path, a.token, a.body)
        s.close()
        print(json.dumps({"status": status, "body": body}))
    except (OSError, ssl.SSLError) as e:
        print(json.dumps({"error": str(e)}))


def cmd_hold(a):
    held, out = [], []
    for src in a.src.split(","):
        try:
            held.append(tls_connect(a.port, a.ca, src))
            out.append({"src": src, "handshake": True})
        except (OSError, ssl.SSLError) as e:
            held.append(None)
            out.append({"src": src, "handshake": False, "error": str(e)})
        time.sleep(0.2)
    for s, o in zip(held, out):
        if s is None:
            continue
        try:
            o["status"], _ = http(s, "GET", "/healthz")
        except (OSError, ssl.SSLError) as e:
            o["error"] = str(e)
        s.close()
    print(json.dumps(out))


def wait_closed(s, seconds):
    t0 = time.monotonic()
    got = 0
    s.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            return True, time.monotonic() - t0, got
        if not chunk:
            return True, time.monotonic() - t0, got
        got += len(chunk)
    return False, time.monotonic() - t0, got


def cmd_raw(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    try:
        s.sendall(bytes.fromhex(a.hex))
    except OSError:
        pass
    closed, after, got = wait_closed(s, a.seconds)
    s.close()
    print(json.dumps({"closed": closed, "after": round(after, 2),
                      "answer_bytes": got}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request")
    h = sub.add_parser("hold")
    w = sub.add_parser("raw")
    for q in (r, h, w):
        q.add_argument("--port", type=int, required=True)
    for q in (r, h):
        q.add_argument("--ca", required=True)
        q.add_argument("--src", required=True)
    r.add_argument("--method", default="GET")
    r.add_argument("--path", default="/v1/whoami")
    r.add_argument("--token")
    r.add_argument("--body")
    w.add_argument("--hex", default="")
    w.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    {"request": cmd_request, "hold": cmd_hold, "raw": cmd_raw}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
