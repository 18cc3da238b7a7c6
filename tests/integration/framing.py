#!/usr/bin/python3
# framing.py: raw HTTP/1.1 probes for test_framing.sh. Each probe is sent
# on a new connection (plain, or TLS with --tls); prints one line per probe:
#   NAME STATUS CLOSED
# STATUS: the status code of the first answer (000: none within 5 s);
# CLOSED: "closed" if the server closed the connection within 5 s of the
# answer (recv returned b"" or failed), "open" otherwise.
#   framing.py --port P [--tls --ca CA.pem]
import argparse
import socket
import ssl
import time

BODY = b'{"a":1}'
PROBES = [
    # A well-formed request: must be answered and the connection kept.
    ("good", b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\n\r\n"),
    (
        "cl_and_te",
        b"POST /ca/ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "two_cl",
        b"POST /ca/ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
        b"Content-Length: 3\r\n\r\n" + BODY,
    ),
    (
        "two_cl_same",
        b"POST /ca/ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
        b"Content-Length: 7\r\n\r\n" + BODY,
    ),
    (
        "te_unknown",
        b"POST /ca/ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ),
    (
        "te_chunked_gzip",
        b"POST /ca/ocsp HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ),
    ("no_host", b"GET /ca/certs.pem HTTP/1.1\r\n\r\n"),
    ("bare_lf", b"GET /ca/certs.pem HTTP/1.1\nHost: x\n\n"),
    (
        "obs_fold",
        b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
    ),
    # One bare LF among CRLFs: after the request line, ending the head.
    ("bare_lf_reqline", b"GET /ca/certs.pem HTTP/1.1\nHost: x\r\n\r\n"),
    ("bare_lf_last", b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\n\n"),
    ("obs_fold_tab", b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n"),
    ("bare_cr", b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
    # Well-formed with an empty value and a tab: must be answered.
    ("good_empty_value", b"GET /ca/certs.pem HTTP/1.1\r\nHost: x\r\nX-E:\r\nX-T:\tv\r\n\r\n"),
]


def probe(a, data):
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s = raw
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.ca)
        ctx.check_hostname = False
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.settimeout(5)
    s.sendall(data)
    got = b""
    status = "000"
    end = time.monotonic() + 5
    while b"\r\n\r\n" not in got and time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        got += chunk
    if got.startswith(b"HTTP/1."):
        status = got.split(b" ")[1].decode()
    # Read past the answer's body: closed means b"" (or a reset) next.
    closed = "open"
    end = time.monotonic() + 5
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if status == "000":
                continue
            # An answer and then silence: kept open.
            if b"\r\n\r\n" in got:
                break
            continue
        except (OSError, ssl.SSLError):
            closed = "closed"
            break
        if not chunk:
            closed = "closed"
            break
        got += chunk
    s.close()
    return status, closed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca")
    a = ap.parse_args()
    for name, data in PROBES:
        if a.tls:
            # The API listener: the same probes on its own routes.
            data = data.replace(b"/ca/certs.pem", b"/healthz").replace(
                b"/ca/ocsp", b"/v1/keys"
            )
        status, closed = probe(a, data)
        print(name, status, closed, flush=True)


if __name__ == "__main__":
    main()
