#!/usr/bin/python3
# slowreq.py: sends one HTTP request over TLS in two halves, for the
# integration tests. The headers and the first half of the body go at
# once; then it waits until the file named by --gate exists (another
# request of the test does something meanwhile, such as revoking the
# token), or --wait seconds; then it sends the rest and prints the status
# code and the body of the answer as "STATUS BODY" on one line.
#   slowreq.py --port P --ca CA.pem --token T --path /v1/... --body JSON
#              [--gate FILE] [--wait SECONDS]
import argparse
import os
import socket
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--token", required=True, help='"": no Authorization')
    ap.add_argument("--cert", help="client certificate (PEM)")
    ap.add_argument("--key", help="its key (PEM)")
    ap.add_argument("--path", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--gate")
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--ready", help="file created once the first half is sent")
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=60)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    body = a.body.encode()
    head = (
        "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "%s"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % (a.path,
           "Authorization: Bearer %s\r\n" % a.token if a.token else "",
           len(body))
    ).encode()
    half = len(body) // 2
    s.sendall(head + body[:half])
    if a.ready:
        open(a.ready, "w").close()
    deadline = time.monotonic() + max(a.wait, 0.0) + (30 if a.gate else 0)
    while time.monotonic() < deadline:
        if a.gate and os.path.exists(a.gate):
            break
        time.sleep(0.05)
    if a.gate and not os.path.exists(a.gate):
        print("000 the gate file never came")
        return 1
    # One byte at a time for the rest: a trickle, as the attack does.
    for i in range(half, len(body)):
        s.sendall(body[i : i + 1])
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "000"
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
    print(status, rest.decode(errors="replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
