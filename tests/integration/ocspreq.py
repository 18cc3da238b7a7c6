#!/usr/bin/python3
# ocspreq.py: builds OCSP requests byte by byte (RFC 6960 4.1.1), including
# forms a careful client never sends, for test_ocsp.sh. No ASN.1 library:
# the issuer certificate is walked with the few lines below (pyca 38
# refuses Signet's leaves while they carry 2.25 OIDs), and every byte of
# the request is under the test's control.
#
#   ocspreq.py ISSUER.pem SERIAL_HEX OUT.der [options]
#     --nonce N          request nonce of N octets 01 02 ... (extnValue =
#                        DER OCTET STRING holding them, RFC 6960 4.4.1)
#     --nonce-raw N      a nonce extension whose extnValue is N raw octets,
#                        not an OCTET STRING
#     --nonce-critical   mark the nonce extension critical
#     --ext-req OID:C    a request extension OID (C: 1 critical, 0 not)
#     --ext-single OID:C the same as a singleRequestExtension
#     --explicit-version write version v1 although it is DEFAULT (BER)
#     --long-length      the outer SEQUENCE's length in long form (BER)
#     --critical-false   write critical FALSE although it is DEFAULT (BER;
#                        on every non-critical extension)
import base64
import hashlib
import sys


def read_tlv(b, i):
    """(tag, content start, end) of the TLV at b[i]."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i : i + k], "big")
        i += k
    return tag, i, i + n


def issuer_parts(pem):
    """The subject Name's DER and the subjectPublicKey bits of a CA."""
    body = b"".join(
        l.strip() for l in pem.splitlines() if l and not l.startswith(b"-----")
    )
    der = base64.b64decode(body)
    _, cs, _ = read_tlv(der, 0)  # Certificate
    _, i, _ = read_tlv(der, cs)  # TBSCertificate: its first field
    if der[i] == 0xA0:  # [0] version
        i = read_tlv(der, i)[2]
    for _ in range(4):  # serialNumber, signature, issuer, validity
        i = read_tlv(der, i)[2]
    name_end = read_tlv(der, i)[2]  # subject
    name = der[i:name_end]
    _, spki, _ = read_tlv(der, name_end)  # SubjectPublicKeyInfo content
    alg_end = read_tlv(der, spki)[2]  # AlgorithmIdentifier
    _, bc, be = read_tlv(der, alg_end)  # subjectPublicKey BIT STRING
    return name, der[bc + 1 : be]  # without the unused-bits octet


def length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content, long_form=False):
    if long_form:
        b = len(content).to_bytes(2, "big")
        return bytes([tag, 0x82]) + b + content
    return bytes([tag]) + length(len(content)) + content


def seq(*parts, long_form=False):
    return tlv(0x30, b"".join(parts), long_form)


def integer(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return tlv(0x02, b)


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def octets(b):
    return tlv(0x04, b)


def extension(dotted, critical, value, critical_false=False):
    crit = b""
    if critical:
        crit = tlv(0x01, b"\xff")
    elif critical_false:
        crit = tlv(0x01, b"\x00")
    return seq(oid(dotted), crit, octets(value))


NONCE = "1.3.6.1.5.5.7.48.1.2"


def main(argv):
    name, key_bits = issuer_parts(open(argv[1], "rb").read())
    serial = int(argv[2], 16)
    out = argv[3]
    opts = argv[4:]
    req_exts, single_exts = [], []
    explicit_version = long_length = critical_false = False
    nonce_critical = "--nonce-critical" in opts
    i = 0
    while i < len(opts):
        o = opts[i]
        if o == "--nonce":
            n = int(opts[i + 1])
            # 01 02 03 ...: 01..FF over again past 255 octets.
            nonce = bytes(i % 255 + 1 for i in range(n))
            req_exts.append((NONCE, nonce_critical, octets(nonce)))
            i += 1
        elif o == "--nonce-raw":
            n = int(opts[i + 1])
            req_exts.append((NONCE, nonce_critical, bytes(range(0x40, 0x40 + n))))
            i += 1
        elif o in ("--ext-req", "--ext-single"):
            dotted, c = opts[i + 1].split(":")
            ext = (dotted, c == "1", b"\x05\x00")
            (req_exts if o == "--ext-req" else single_exts).append(ext)
            i += 1
        elif o == "--explicit-version":
            explicit_version = True
        elif o == "--long-length":
            long_length = True
        elif o == "--critical-false":
            critical_false = True
        elif o == "--nonce-critical":
            pass
        else:
            sys.exit("unknown option " + o)
        i += 1

    # CertID with SHA-1 (NULL parameters), as OpenSSL's OCSP_cert_to_id.
    name_hash = hashlib.sha1(name).digest()
    key_hash = hashlib.sha1(key_bits).digest()
    cert_id = seq(
        seq(oid("1.3.14.3.2.26"), b"\x05\x00"),
        octets(name_hash),
        octets(key_hash),
        integer(serial),
    )

    def exts(lst):
        return seq(*[extension(d, c, v, critical_false) for d, c, v in lst])

    single = cert_id
    if single_exts:
        single += tlv(0xA0, exts(single_exts))
    tbs = b""
    if explicit_version:
        tbs += tlv(0xA0, integer(0))
    tbs += seq(seq(single))
    if req_exts:
        tbs += tlv(0xA2, exts(req_exts))
    der = seq(seq(tbs), long_form=long_length)
    open(out, "wb").write(der)


if __name__ == "__main__":
    main(sys.argv)
