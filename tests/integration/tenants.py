#!/usr/bin/python3
# tenants.py: two subscribers sign at once, for test_keeper_split.sh.
# Tenant A signs flat out on --a-clients kept-alive connections (so its
# requests queue in its lane); tenant B signs one request at a time. Each
# client signs fresh random SHA-256 digests for --seconds and counts the
# answers by status. Prints "A STATUS=COUNT ..." and "B STATUS=COUNT ...".
#   tenants.py --port P --ca CA.pem --a TOKEN,KEY --b TOKEN,KEY
#              [--a-clients N] [--seconds S]
import argparse
import base64
import collections
import http.client
import json
import os
import ssl
import threading
import time


def client(a, who, token, key, counts, lock):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    end = time.monotonic() + a.seconds
    conn = None
    while time.monotonic() < end:
        if conn is None:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", a.port, context=ctx, timeout=30
            )
        body = json.dumps(
            {
                "digest_algorithm": "sha256",
                "digest": base64.b64encode(os.urandom(32)).decode(),
            }
        )
        try:
            conn.request(
                "POST",
                "/v1/keys/%s/sign" % key,
                body=body,
                headers={
                    "Authorization": "Bearer " + token,
                    "Content-Type": "application/json",
                },
            )
            r = conn.getresponse()
            r.read()
            status = str(r.status)
        except (OSError, http.client.HTTPException):
            status = "error"
            conn.close()
            conn = None
        with lock:
            counts[who][status] += 1
    if conn is not None:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--a-clients", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4)
    a = ap.parse_args()
    counts = {"A": collections.Counter(), "B": collections.Counter()}
    lock = threading.Lock()
    threads = []
    ta, ka = a.a.split(",")
    tb, kb = a.b.split(",")
    for _ in range(a.a_clients):
        threads.append(
            threading.Thread(target=client, args=(a, "A", ta, ka, counts, lock))
        )
    threads.append(threading.Thread(target=client, args=(a, "B", tb, kb, counts, lock)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for who in ("A", "B"):
        print(who, " ".join("%s=%d" % kv for kv in sorted(counts[who].items())))


if __name__ == "__main__":
    main()
