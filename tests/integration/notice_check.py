#!/usr/bin/env python3
"""
notice_check.py: checks one CA notice of the reports (issue 18) as the CA
receiving it would, with pyca/cryptography and hashlib only:

  notice_check.py KEYFILE BODY SIGHEADER

KEYFILE holds "ed25519:<base64>" (GET /reports/notice-key); the header is
"keyid=<hex>, ed25519=<base64>". Prints one line per fact, "name value":
the signature's verdict, the report and key ids, the evidence's hash
check, and for each event its log index and whether its RFC 9162
inclusion proof leads from SHA-256(0x00 || entry) to the root of the
checkpoint it names. Exit 0 even when a check fails (the test compares).
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.exceptions import InvalidSignature

keyfile, bodyfile, sigfile = sys.argv[1:4]
pub = base64.b64decode(open(keyfile).read().strip().split(":", 1)[1])
body = open(bodyfile, "rb").read()
fields = dict(p.strip().split("=", 1) for p in open(sigfile).read().split(","))
msg = b"signet-ca-notice/v1\n" + hashlib.sha256(body).hexdigest().encode() + b"\n"
try:
    Ed25519PublicKey.from_public_bytes(pub).verify(
        base64.b64decode(fields["ed25519"]), msg)
    print("signature ok")
except InvalidSignature:
    print("signature BAD")
print("keyid", fields.get("keyid"), hashlib.sha256(pub).hexdigest()[:8])
n = json.loads(body)
print("type", n["type"])
print("report", n["report"]["id"], n["report"]["kind"])
print("key", n["key"]["id"])
ev = base64.b64decode(n["report"]["evidence"]["base64"])
print("evidence", "ok" if hashlib.sha256(ev).hexdigest() ==
      n["report"]["evidence"]["sha256"] else "BAD")


def root_from(index, size, leaf, path):
    # RFC 9162 2.1.3.2: verifying an inclusion proof
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while (fn & 1) == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


for e in n["events"]:
    p = e.get("proof")
    if not p:
        print("event", e["log_index"], "no-proof")
        continue
    entry = base64.b64decode(p["entry"])
    leaf = hashlib.sha256(b"\x00" + entry).digest()
    lines = p["checkpoint"].split("\n")
    size, root = int(lines[1]), base64.b64decode(lines[2])
    got = root_from(p["index"], size, leaf,
                    [base64.b64decode(h) for h in p["inclusion"]])
    ok = (size == p["tree_size"] and leaf == base64.b64decode(p["leaf_hash"])
          and got == root and p["index"] == e["log_index"]
          and ("sig-sha256 " + e["sig_sha256"]).encode() in entry)
    print("event", e["log_index"], "proof-ok" if ok else "proof-BAD")
