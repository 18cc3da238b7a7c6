#!/usr/bin/env python3
"""tsa_many.py N OUTDIR URL...: sends N RFC 3161 requests (the bytes of
stdin, a TimeStampReq) spread over the URLs (each a TSA endpoint, one
keep-alive connection and thread each), keeps every answer, and prints
one line per token: its serial (hex, read from TSTInfo by a small DER
reader) and the URL that answered. Exits 1 if an answer is not HTTP 200
or not a granted token."""
import http.client
import sys
import threading
import urllib.parse


def tlv(b, i):
    """(tag, start of value, end of value) of the DER element at i."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def children(b, start, end):
    out = []
    while start < end:
        t, s, e = tlv(b, start)
        out.append((t, s, e))
        start = e
    return out


def serial(resp):
    """TimeStampResp -> ContentInfo -> SignedData -> eContent -> TSTInfo
    -> serialNumber (the fourth field)."""
    _, s, e = tlv(resp, 0)
    status, token = children(resp, s, e)[:2]
    st = children(resp, status[1], status[2])[0]
    if resp[st[1]:st[2]] not in (b"\x00", b"\x01"):
        raise ValueError("not granted")
    ci = children(resp, token[1], token[2])
    sd = children(resp, ci[1][1], ci[1][2])[0]           # [0] EXPLICIT
    encap = children(resp, sd[1], sd[2])[2]              # encapContentInfo
    ec = children(resp, encap[1], encap[2])[1]           # [0] EXPLICIT
    octets = children(resp, ec[1], ec[2])[0]             # OCTET STRING
    tst = children(resp, octets[1], octets[2])[0]        # TSTInfo
    f = children(resp, tst[1], tst[2])
    return resp[f[3][1]:f[3][2]].hex()


def run(url, n, out, lines, errors, lock):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for i in range(n):
        try:
            c.request("POST", u.path, body=req,
                      headers={"Content-Type": "application/timestamp-query"})
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise ValueError("HTTP %d" % r.status)
            s = serial(body)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            with lock:
                errors.append("%s: %s" % (url, e))
            c.close()
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            continue
        if i < 3:
            with open("%s/%s.tsr" % (out, s), "wb") as f:
                f.write(body)
        with lock:
            lines.append("%s %s" % (s, url))


n, out, urls = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
req = sys.stdin.buffer.read()
lines, errors, lock = [], [], threading.Lock()
ts = [threading.Thread(target=run,
                       args=(u, n // len(urls) + (i < n % len(urls)), out,
                             lines, errors, lock))
      for i, u in enumerate(urls)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("\n".join(lines))
for e in errors[:5]:
    print("error:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
