#!/usr/bin/python3
# slowloris.py: slow and idle clients and latency figures, for
# test_slowloris.sh. Loopback only; every loop is bounded in time.
#   slowloris.py measure --api P --public P --ca CA --token T --key K --n N
#       N signatures and N /healthz over TLS, and N CA bundles over plain
#       HTTP, each on a new connection from 127.0.0.2; prints one JSON
#       object: medians in ms and the count of failures.
#   slowloris.py attack --api P --public P --sockets N --seconds S
#       keeps N sockets from 127.0.0.1 open (half per listener), idle on
#       the TLS one, sending a header byte every 2 s on the plain one;
#       a socket the server closes is opened again after 5 s.
#   slowloris.py probe --api P --public P --ca CA --token T --key K
#       one client per deadline, in parallel; prints JSON: for each, the
#       seconds until the server closed the connection (null: never, within
#       its 15 s).
import argparse
import json
import os
import resource
import selectors
import socket
import ssl
import statistics
import threading
import time


def tls_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx


def read_answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise IOError("closed before the answer")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(head.split(b" ")[1]), rest


def one(a, kind):
    """One request on a new connection from 127.0.0.2; seconds, or None."""
    t0 = time.monotonic()
    try:
        if kind == "public":
            s = socket.create_connection(
                ("127.0.0.1", a.public), timeout=10, source_address=("127.0.0.2", 0)
            )
            req = b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        else:
            raw = socket.create_connection(
                ("127.0.0.1", a.api), timeout=10, source_address=("127.0.0.2", 0)
            )
            s = tls_ctx(a.ca).wrap_socket(raw, server_hostname="127.0.0.1")
            if kind == "healthz":
                req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            else:
                body = json.dumps(
                    {"digest_algorithm": "sha256", "digest": a.digest}
                ).encode()
                req = (
                    "POST /v1/keys/%s/sign HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: Bearer %s\r\nConnection: close\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                    % (a.key, a.token, len(body))
                ).encode() + body
        s.sendall(req)
        status, _ = read_answer(s)
        s.close()
        if status != 200:
            return None
    except (OSError, IOError, ssl.SSLError, ValueError, IndexError):
        return None
    return time.monotonic() - t0


def measure(a):
    out = {}
    for kind in ("sign", "healthz", "public"):
        times, failed = [], 0
        for _ in range(a.n):
            t = one(a, kind)
            if t is None:
                failed += 1
            else:
                times.append(t)
        out[kind] = round(statistics.median(times) * 1000, 2) if times else None
        out[kind + "_failed"] = failed
    print(json.dumps(out))


def attack(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    a.sockets = min(a.sockets, hard - 64)
    sel = selectors.DefaultSelector()
    end = time.monotonic() + a.seconds
    # slot: [port, socket or None, when it may be opened again]
    slots = [[a.api if i % 2 == 0 else a.public, None, 0.0] for i in range(a.sockets)]
    opened = closed = 0
    next_byte = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        for sl in slots:
            if sl[1] is None and now >= sl[2]:
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                except OSError:  # out of descriptors: try again later
                    sl[2] = now + 5
                    continue
                s.setblocking(False)
                try:
                    s.bind(("127.0.0.1", 0))
                    s.connect(("127.0.0.1", sl[0]))
                except BlockingIOError:
                    pass
                except OSError:  # e.g. out of local ports
                    s.close()
                    sl[2] = now + 5
                    continue
                sl[1] = s
                sel.register(s, selectors.EVENT_READ, sl)
                opened += 1
                if sl[0] == a.public:
                    try:
                        s.send(b"GET /ca/certs.pem HTTP/1.1\r\n")
                    except OSError:
                        pass
        if now >= next_byte:
            # The plain ones send one byte of a header: never the end.
            for sl in slots:
                if sl[1] is not None and sl[0] == a.public:
                    try:
                        sl[1].send(b"X")
                    except OSError:
                        pass
            next_byte = now + 2
        for key, _ in sel.select(timeout=0.2):
            sl = key.data
            try:
                data = sl[1].recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(sl[1])
                sl[1].close()
                sl[1] = None
                sl[2] = time.monotonic() + 5
                closed += 1
    held = sum(1 for sl in slots if sl[1] is not None)
    for sl in slots:
        if sl[1] is not None:
            sl[1].close()
    print(json.dumps({"opened": opened, "closed_by_server": closed, "held_at_end": held}))


def until_closed(s, cap, feed=None):
    """Seconds until the peer closes s (None: not within cap). feed(): sends
    something now and then (a trickle) until it returns False."""
    t0 = time.monotonic()
    s.settimeout(0.25)
    last = 0.0
    while time.monotonic() - t0 < cap:
        if feed is not None and time.monotonic() - last >= 1:
            last = time.monotonic()
            try:
                feed()
            except OSError:
                return round(time.monotonic() - t0, 2)
        try:
            if s.recv(4096) == b"":
                return round(time.monotonic() - t0, 2)
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            return round(time.monotonic() - t0, 2)
    return None


def probe(a):
    cap = 15
    res = {}

    def tls_conn():
        raw = socket.create_connection(("127.0.0.1", a.api), timeout=10)
        return tls_ctx(a.ca).wrap_socket(raw, server_hostname="127.0.0.1")

    def handshake_idle():
        s = socket.create_connection(("127.0.0.1", a.api), timeout=10)
        res["tls_handshake"] = until_closed(s, cap)

    def headers_trickle():
        s = socket.create_connection(("127.0.0.1", a.public), timeout=10)
        s.sendall(b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\n")
        res["headers"] = until_closed(s, cap, lambda: s.send(b"X-Slow: a\r\n"))

    def keepalive_idle():
        s = tls_conn()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        read_answer(s)
        res["idle"] = until_closed(s, cap)

    def json_trickle():
        s = tls_conn()
        s.sendall(
            (
                "POST /v1/keys/%s/sign HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: 400\r\n\r\n{" % (a.key, a.token)
            ).encode()
        )
        res["body"] = until_closed(s, cap, lambda: s.send(b" "))

    def stream_slow():
        s = tls_conn()
        s.sendall(
            (
                "POST /v1/keys/%s/sign-file?digest_algorithm=sha256 HTTP/1.1\r\n"
                "Host: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Length: 100000000\r\n\r\n" % (a.key, a.token)
            ).encode()
        )
        res["stream"] = until_closed(s, cap, lambda: s.send(b"x" * 1024))

    ts = [
        threading.Thread(target=f)
        for f in (handshake_idle, headers_trickle, keepalive_idle, json_trickle, stream_slow)
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(res, sort_keys=True))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("measure", "attack", "probe"))
    ap.add_argument("--api", type=int, required=True)
    ap.add_argument("--public", type=int, required=True)
    ap.add_argument("--ca")
    ap.add_argument("--token")
    ap.add_argument("--key")
    ap.add_argument("--digest")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=25)
    a = ap.parse_args()
    {"measure": measure, "attack": attack, "probe": probe}[a.mode](a)


if __name__ == "__main__":
    main()
