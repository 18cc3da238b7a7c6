#!/usr/bin/python3
"""keeper_probe: plays a compromised front end against a running keeper,
speaking the keeper protocol (docs/ipc.md) byte by byte on its socket.

  keeper_probe.py HOME SOCKET

Legitimate requests must be signed (each signature checked here with
pyca/cryptography, or written out for openssl); every forged one must be
refused with an ERR reply, or the connection closed, and nothing signed.
Prints one line per check, "ok ..." or "FAIL ...", and exits 1 on a
failure. Written from docs/ipc.md alone, not from Signet's code.
"""
import datetime
import hashlib
import os
import socket
import struct
import sys
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOME, SOCK = sys.argv[1], sys.argv[2]
OUT = os.environ.get("PROBE_OUT", "/tmp")
FAILED = 0

PING, TOKEN_CREATE, TOKEN_OPEN, KEY_GENERATE, KEY_DESTROY, SIGN_DIGEST = 1, 2, 3, 4, 5, 6
SIGN_CERT, SIGN_CRL, SIGN_OCSP, SIGN_TST, SIGN_TS_PKCS7 = 7, 8, 9, 10, 11
SIGN_CHECKPOINT, SIGN_NOTICE, SEAL, UNSEAL, PUBKEYS = 12, 13, 14, 15, 16
TSA_KEYGEN, TSA_USE, TSA_DESTROY = 17, 18, 19
OK, ERR = 128, 129
KIND_CODESIGNING, KIND_TIMESTAMPING, KIND_ROOT = 1, 2, 0
P256, SHA256, ECDSA, PKCS1 = 2, 0, 2, 0


def check(cond, what):
    global FAILED
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILED += 1


def log(what):
    print("note " + what, flush=True)


def u(v):
    return ("u", v)


def b(v):
    return ("b", v if isinstance(v, bytes) else v.encode())


def frame(typ, fields, version=1, nice=0):
    body = b""
    for kind, v in fields:
        if kind == "u":
            body += struct.pack(">Q", v)
        else:
            body += struct.pack(">I", len(v)) + v
    return struct.pack(">IBBBB", len(body), version, typ, nice, 0) + body


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(SOCK)
    return s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def fields_of(body):
    """Splits a reply body whose fields are all length-prefixed, except
    ERR's leading integer."""
    return body


def call(s, typ, fields):
    s.sendall(frame(typ, fields))
    hdr = recv_exact(s, 8)
    if hdr is None:
        return None, None
    length, ver, rtype, res = struct.unpack(">IBBH", hdr)
    body = recv_exact(s, length)
    return rtype, body


def lv_fields(body):
    out, i = [], 0
    while i < len(body):
        n = struct.unpack(">I", body[i:i + 4])[0]
        out.append(body[i + 4:i + 4 + n])
        i += 4 + n
    return out


def err_of(body):
    code = struct.unpack(">Q", body[:8])[0]
    reason = lv_fields(body[8:])[0].decode()
    return code, reason


def expect_ok(s, typ, fields, what):
    rtype, body = call(s, typ, fields)
    if rtype != OK:
        check(False, what + (": %r" % (err_of(body),) if rtype == ERR else ": no reply"))
        return None
    check(True, what)
    return body


def expect_err(s, typ, fields, what):
    rtype, body = call(s, typ, fields)
    if rtype == ERR:
        code, reason = err_of(body)
        check(True, "%s (refused: %s)" % (what, reason))
        return True
    check(False, what + (": it was signed" if rtype == OK else ": no reply"))
    return False


def expect_closed(raw, what):
    s = connect()
    try:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        data = s.recv(64)
        check(data == b"", what + " (connection closed, no reply)")
    except OSError:
        check(True, what + " (connection closed)")
    finally:
        s.close()


def pem_cert(name):
    with open(os.path.join(HOME, "ca", name + ".pem"), "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


s = connect()
expect_ok(s, PING, [], "ping")

# ---- two subscribers' tokens and keys ----
sub_a, sub_b = str(uuid.uuid4()), str(uuid.uuid4())
for sub in (sub_a, sub_b):
    expect_ok(s, TOKEN_CREATE, [b(sub), b("probe-" + sub[:8])], "token for " + sub[:8])
    expect_ok(s, TOKEN_OPEN, [b(sub), b("probe-" + sub[:8]), b(b"")], "open " + sub[:8])
key_a, key_b = str(uuid.uuid4()), str(uuid.uuid4())
now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
body_a = expect_ok(s, KEY_GENERATE, [b(sub_a), b(key_a), u(P256), u(now)], "generate a P-256 key for A")
body_b = expect_ok(s, KEY_GENERATE, [b(sub_b), b(key_b), u(P256), u(now)], "generate a P-256 key for B")
expect_err(s, KEY_GENERATE, [b(sub_a), b(str(uuid.uuid4())), u(P256), u(now - 7200)],
           "a key 'generated' two hours ago")
expect_err(s, KEY_GENERATE, [b(sub_a), b("../../../etc"), u(P256), u(now)], "a key id with a path in it")
expect_err(s, TOKEN_CREATE, [b("../../x"), b("evil")], "a subscriber id with a path in it")
if body_a:
    f = lv_fields(body_a)
    spki_a, facts, att = f[0], f[1], f[6]
    check(facts == b"\x01\x01\x01\x00\x01", "the keeper read good protection facts")
    pub_a = serialization.load_der_public_key(spki_a)
    cert = x509.load_der_x509_certificate(att)
    check(cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) == spki_a,
          "the attestation certificate is for the generated key")
    with open(os.path.join(OUT, "att.der"), "wb") as fh:
        fh.write(att)
    digest = hashlib.sha256(b"signed by A").digest()
    sig_body = expect_ok(s, SIGN_DIGEST, [b(sub_a), b(key_a), u(SHA256), u(ECDSA), b(digest)],
                         "A signs a digest with its own key")
    if sig_body:
        sig = lv_fields(sig_body)[0]
        try:
            from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
            pub_a.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            check(True, "A's signature verifies (pyca)")
        except Exception as e:  # noqa
            check(False, "A's signature verifies: %s" % e)
    expect_err(s, SIGN_DIGEST, [b(sub_a), b(key_b), u(SHA256), u(ECDSA), b(digest)],
               "A asks for a signature by B's key")
    expect_err(s, SIGN_DIGEST, [b(sub_a), b(key_a), u(SHA256), u(ECDSA), b(digest[:31])],
               "a 31-byte 'SHA-256' digest")
    expect_err(s, SIGN_DIGEST, [b(sub_a), b(key_a), u(1), u(ECDSA), b(digest)],
               "a SHA-256 digest called SHA-384")
    expect_err(s, SIGN_DIGEST, [b(sub_a), b(key_a), u(SHA256), u(PKCS1), b(digest)],
               "an RSA scheme for an EC key")
    expect_err(s, KEY_DESTROY, [b(sub_a), b(key_b)], "A destroys B's key")

# ---- certificates from the code signing CA ----
cs_ca = pem_cert("codesigning")
ts_ca = pem_cert("timestamping")
placeholder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
own_key = ec.generate_private_key(ec.SECP256R1()).public_key()  # not the keeper's
ATT = att if body_a else b""
KEY_A = pub_a if body_a else own_key


def leaf(ca, ca_flag=False, eku=(ExtendedKeyUsageOID.CODE_SIGNING,), eku_critical=False,
         days=365, back=0, key=None):
    pub = key or KEY_A
    nb = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=back)
    bld = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Probe"),
                                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Probe Ltd"),
                                    x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]))
           .issuer_name(ca.subject)
           .public_key(pub)
           .serial_number(x509.random_serial_number())
           .not_valid_before(nb)
           .not_valid_after(nb + datetime.timedelta(days=days))
           .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(True, False, False, False, False, ca_flag, ca_flag, False, False),
                          critical=True)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()),
                          critical=False)
           .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub),
                          critical=False))
    if eku:
        bld = bld.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    return bld.sign(placeholder, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


body = expect_ok(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca)), b(ATT)],
                 "a code signing certificate from the code signing CA")
if body:
    der = lv_fields(body)[0]
    got = x509.load_der_x509_certificate(der)
    try:
        cs_ca.public_key().verify(got.signature, got.tbs_certificate_bytes, padding.PKCS1v15(),
                                  got.signature_hash_algorithm)
        check(True, "its signature verifies with the CA's key (pyca)")
    except Exception as e:  # noqa
        check(False, "its signature verifies: %s" % e)
    with open(os.path.join(OUT, "leaf.der"), "wb") as fh:
        fh.write(der)
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca, ca_flag=True)), b(ATT)],
           "a CA certificate (cA=TRUE) from the code signing CA")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))), b(ATT)],
           "a TLS server certificate from the code signing CA")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca, eku=())), b(ATT)],
           "a certificate without codeSigning from the code signing CA")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(ts_ca)), b(ATT)],
           "a certificate naming another issuer")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca, days=4000)), b(ATT)],
           "a ten-year code signing certificate")
expect_err(s, SIGN_CERT, [u(KIND_ROOT), b(leaf(pem_cert("root"))), b(ATT)],
           "a certificate from the root, outside a ceremony")
with open(os.path.join(HOME, "ca", "tsa.pem"), "rb") as fh:
    tsa_text = fh.read()
TSA_ID = tsa_text.split(b"\n", 1)[0].split()[-1].decode()
TSA_PUB = x509.load_pem_x509_certificate(tsa_text[tsa_text.index(b"-----BEGIN"):]).public_key()
expect_err(s, SIGN_CERT, [u(KIND_TIMESTAMPING),
                          b(leaf(ts_ca, eku=(ExtendedKeyUsageOID.TIME_STAMPING,), eku_critical=False,
                                 key=TSA_PUB)),
                          b(TSA_ID)],
           "a certificate for the TSA's own key with a non-critical EKU")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(b"\x30\x03\x02\x01\x01"), b(ATT)], "garbage DER")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca, key=own_key)), b(ATT)],
           "a code signing certificate for a key the keeper did not generate (another key's attestation)")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca)), b(b"")],
           "a code signing certificate without the key's attestation")
expect_err(s, SIGN_CERT, [u(KIND_TIMESTAMPING),
                          b(leaf(ts_ca, eku=(ExtendedKeyUsageOID.TIME_STAMPING,), eku_critical=True,
                                 key=own_key)),
                          b("tsa-" + "0" * 32)],
           "a TSA certificate for a key not on the service token")
expect_err(s, SIGN_CERT, [u(4), b(leaf(pem_cert("attest-issuer"), eku=())), b(ATT)],
           "an attestation certificate outside KEY_GENERATE")
expect_err(s, SIGN_CERT, [u(KIND_CODESIGNING), b(leaf(cs_ca) + b"\x00"), b(ATT)], "a certificate with a trailing byte")
expect_err(s, SIGN_CERT, [u(9), b(leaf(cs_ca)), b(ATT)], "an unknown CA")


# ---- time-stamps ----
def der_len(n):
    if n < 128:
        return bytes([n])
    enc = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(enc)]) + enc


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_int(v):
    enc = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return tlv(0x02, enc)


def der_oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def tstinfo(offset=0, policy="2.23.140.1.4.2", serial=None):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    imprint = tlv(0x30, tlv(0x30, der_oid("2.16.840.1.101.3.4.2.1") + b"\x05\x00") +
                  tlv(0x04, hashlib.sha256(b"stamp me").digest()))
    return tlv(0x30, der_int(1) + der_oid(policy) + imprint +
               der_int(serial or int.from_bytes(os.urandom(8), "big")) +
               tlv(0x18, t.strftime("%Y%m%d%H%M%SZ").encode()) +
               tlv(0x30, der_int(1)))


body = expect_ok(s, SIGN_TST, [b(TSA_ID), b(tstinfo())], "a TSTInfo of now")
if body:
    with open(os.path.join(OUT, "token.der"), "wb") as fh:
        fh.write(lv_fields(body)[0])
expect_err(s, SIGN_TST, [b(TSA_ID), b(tstinfo(offset=3600))], "a TSTInfo an hour ahead")
expect_err(s, SIGN_TST, [b(TSA_ID), b(tstinfo(offset=-3600))], "a TSTInfo an hour behind")
expect_err(s, SIGN_TST, [b(TSA_ID), b(tstinfo(policy="1.2.3.4"))], "a TSTInfo under a foreign policy")
expect_err(s, SIGN_TST, [b(TSA_ID), b(b"\x30\x00")], "an empty TSTInfo")
expect_err(s, SIGN_TST, [b("tsa-" + "f" * 32), b(tstinfo())], "a TSTInfo for a TSA key not bound")

# ---- checkpoints ----
keys = expect_ok(s, PUBKEYS, [], "the log's and the notices' public keys")
log_pub = ed25519.Ed25519PublicKey.from_public_bytes(lv_fields(keys)[0]) if keys else None
origin = os.environ.get("PROBE_ORIGIN")
import base64  # noqa: E402


def note(size, root):
    return "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())


# RFC 9162 hashing, written here from the RFC: a fresh keeper has signed
# nothing; a tree of 2 leaves, then 3 (with the consistency proofs).
def leaf_hash(d):
    return hashlib.sha256(b"\x00" + d).digest()


def node(a, c):
    return hashlib.sha256(b"\x01" + a + c).digest()


h = [leaf_hash(b"probe entry %d" % i) for i in range(3)]
root2 = node(h[0], h[1])
root3 = node(root2, h[2])
proof_2_3 = struct.pack(">Q", 2) + h[2]  # SUBPROOF(2, D[0:3], true) = [MTH(D[2:3])]
keys = expect_ok(s, PUBKEYS, [], "the public keys and the last checkpoint's size")
check(keys is not None and struct.unpack(">Q", keys[-8:])[0] == 0, "a fresh keeper has signed no checkpoint")
body = expect_ok(s, SIGN_CHECKPOINT, [b(note(2, root2)), b(b"")], "a first checkpoint (2 entries)")
if body and log_pub:
    try:
        log_pub.verify(lv_fields(body)[0], note(2, root2).encode())
        check(True, "the checkpoint's Ed25519 signature verifies (pyca)")
    except Exception as e:  # noqa
        check(False, "the checkpoint's signature verifies: %s" % e)
keys = expect_ok(s, PUBKEYS, [], "the last checkpoint's size again")
check(keys is not None and struct.unpack(">Q", keys[-8:])[0] == 2, "the keeper says it signed size 2")
expect_err(s, SIGN_CHECKPOINT, [b(note(1, h[0])), b(b"")], "a checkpoint smaller than the last one")
expect_err(s, SIGN_CHECKPOINT, [b(note(2, os.urandom(32))), b(b"")], "another root for the last checkpoint's size")
expect_err(s, SIGN_CHECKPOINT, [b(note(3, root3)), b(b"")], "a larger tree without a consistency proof")
expect_err(s, SIGN_CHECKPOINT, [b(note(3, os.urandom(32))), b(proof_2_3)],
           "a larger tree that does not extend the last one")
expect_err(s, SIGN_CHECKPOINT, [b(note(3, root3)), b(struct.pack(">Q", 1) + h[2] + root2)],
           "a proof from another size than the last one signed")
expect_err(s, SIGN_CHECKPOINT, [b("other.example/log\n3\n%s\n" % base64.b64encode(root3).decode()),
                                b(proof_2_3)], "a checkpoint of another log")
expect_err(s, SIGN_CHECKPOINT, [b(note(3, root3) + "extra line\n"), b(proof_2_3)],
           "a checkpoint with something riding along")
expect_ok(s, SIGN_CHECKPOINT, [b(note(3, root3)), b(proof_2_3)],
          "the next checkpoint, with its consistency proof")

# ---- sealing ----
sealed = expect_ok(s, SEAL, [b("probe context"), b(b"a secret")], "seal a secret")
if sealed:
    opened = expect_ok(s, UNSEAL, [b("probe context"), b(lv_fields(sealed)[0])], "unseal it")
    check(opened is not None and lv_fields(opened)[0] == b"a secret", "the same secret comes back")
    expect_err(s, UNSEAL, [b("another context"), b(lv_fields(sealed)[0])], "unseal under another context")
expect_err(s, UNSEAL, [b("signet token pin v1:" + sub_a), b(b"x" * 40)], "unseal a token PIN")
expect_err(s, SEAL, [b("signet token pin v1:" + sub_a), b(b"1234")], "seal a chosen token PIN")
s.close()

# ---- frames the keeper does not accept end the connection ----
expect_closed(struct.pack(">IBBH", 64 << 20, 1, PING, 0), "an oversize frame (64 MiB)")
expect_closed(frame(SIGN_DIGEST, [b(sub_a), b(key_a)]), "a truncated SIGN_DIGEST")
expect_closed(frame(77, []), "an unknown message type")
expect_closed(frame(PING, [], version=2), "another protocol version")
expect_closed(frame(SIGN_DIGEST, [b(sub_a), b(key_a), u(SHA256), u(ECDSA), b(b"d" * 32)])[:-5],
              "a body cut short")
expect_closed(frame(PING, [u(1)]), "a PING with a trailing field")
expect_closed(struct.pack(">IBBH", 0, 1, PING, 7), "a header with reserved bits set")
expect_closed(frame(PING, [], nice=20), "a header asking for nice 20")


# ---- a request is served at the nice its header asks ----
# (one key's work only; PING, like every lock-taking operation, is served
# at the keeper's own nice). Each keeper thread's nice is read from
# /proc/PID/task/TID/stat, field 19 (the 17th after the command).
def thread_nices(pid):
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                st = f.read()
        except OSError:
            continue
        out[int(t)] = int(st[st.rindex(")") + 2:].split()[16])
    return out


def changed(before, after):
    return {t: n for t, n in after.items() if before.get(t) != n}


def keeper_can_renice(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("CapEff:"):
                return (int(line.split()[1], 16) >> 23) & 1 == 1  # CAP_SYS_NICE
    return False


nice_digest = hashlib.sha256(b"served at nice 15").digest()
s = connect()
kpid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
base = thread_nices(kpid)[kpid]
low = min(base + 15, 19)
if low == base:
    log("keeper runs at nice %d: a lower nice cannot be seen; skipped" % base)
else:
    # this link's thread exists once its first request is answered
    expect_ok(s, PING, [], "a first PING on a new link")
    t0 = thread_nices(kpid)
    s.sendall(frame(SIGN_DIGEST, [b(sub_a), b(key_a), u(SHA256), u(ECDSA), b(nice_digest)], nice=15))
    hdr = recv_exact(s, 8)
    body = recv_exact(s, struct.unpack(">I", hdr[:4])[0]) if hdr else None
    check(hdr is not None and hdr[5] == 128 and hdr[6] == 0,
          "a SIGN_DIGEST at nice 15 is answered OK, its reply at nice 0")
    t1 = thread_nices(kpid)
    moved = changed(t0, t1)
    check(list(moved.values()) == [low] and kpid not in moved,
          "one keeper thread, not the main one, went to nice %d (base %d + 15): %s"
          % (low, base, moved))
    s2 = connect()
    expect_ok(s2, PING, [], "a first PING on a second link")
    t2 = thread_nices(kpid)
    s2.sendall(frame(PING, [], nice=15))
    hdr = recv_exact(s2, 8)
    check(hdr is not None and hdr[5] == 128, "a PING at nice 15 is answered")
    check(changed(t2, thread_nices(kpid)) == {},
          "... at the keeper's own nice: no thread's nice changed")
    s2.close()
    s.sendall(frame(SIGN_DIGEST, [b(sub_a), b(key_a), u(SHA256), u(ECDSA), b(nice_digest)]))
    hdr = recv_exact(s, 8)
    body = recv_exact(s, struct.unpack(">I", hdr[:4])[0]) if hdr else None
    check(hdr is not None and hdr[5] == 128, "a SIGN_DIGEST at nice 0 on the first link is answered")
    back = {t: n for t, n in thread_nices(kpid).items() if t in moved}
    if keeper_can_renice(kpid):
        check(list(back.values()) == [base],
              "that thread is back at the keeper's nice (it has CAP_SYS_NICE): %s" % back)
    else:
        log("the keeper has no CAP_SYS_NICE: its thread stays at %s" % back)
s.close()
s = connect()
expect_ok(s, PING, [], "the keeper still serves after all that")
s.close()
sys.exit(1 if FAILED else 0)
