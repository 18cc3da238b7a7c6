#!/usr/bin/env bash
# Anonymous TSA and OCSP answers are bounded (issue 14, items 3 and 7):
#  - nonces are 1..32 octets (RFC 8954): a TimeStampReq with a nonce of
#    33 octets or 512 KiB gets a rejection with failInfo badRequest, not
#    a signed token echoing it; an OCSP request with such a nonce gets
#    malformedRequest; 32 octets are still echoed and verify;
#  - the usual clients still work: `openssl ts -query` (a 64-bit nonce)
#    and `openssl ocsp -nonce` (16 octets inside an OCTET STRING), each
#    verified by openssl;
#  - an OCSP answer about a serial never issued is kept like the others:
#    asked twice, the same bytes come back (one CA signature, not two).
# Requests are sent by curl to the public listener, built by openssl or by
# hand (python, /usr/bin/python3); the answers are read by openssl ts,
# openssl ocsp and pyca/cryptography.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
OCSPREQ=$(cd "$(dirname "$0")" && pwd)/ocspreq.py
"$PY" -c 'import cryptography.x509.ocsp' 2>/dev/null ||
    die "Debian's python3-cryptography is needed (/usr/bin/python3)"

cd "$WORK" || die "no work directory"
server_start
fetch_ca_certs . root codesigning timestamping

# post PATH CONTENT_TYPE IN OUT: sets HTTP (status) and SIZE (bytes).
post() {
    local w
    w=$(curl -sS --max-time 30 -H "Content-Type: $2" --data-binary "@$3" \
        -o "$4" -w '%{http_code} %{size_download}' "$PUBLIC_URL$1" 2>&1)
    HTTP=${w%% *}
    SIZE=${w##* }
}
ts_field() { # REPLY FIELD: a line of `openssl ts -reply -text`
    openssl ts -reply -in "$1" -text 2>/dev/null | sed -n "s/^$2: //p" | head -n1
}
ts_verify() { # QUERY REPLY: openssl's verdict, nonce checked against the query
    openssl ts -verify -in "$2" -queryfile "$1" -CAfile root.pem \
        -untrusted timestamping.pem 2>&1
}
# tsq OUT [FIRST N]: a TimeStampReq (SHA-256 of data.bin, certReq) with a
# nonce INTEGER of N content octets: FIRST (hex), then 0x5A (none: no N).
tsq() {
    "$PY" - data.bin "$@" <<'EOF' || die "building a TimeStampReq"
import hashlib, sys
def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + body
md = hashlib.sha256(open(sys.argv[1], "rb").read()).digest()
alg = bytes.fromhex("300d06096086480165030402010500")
body = tlv(0x02, b"\x01") + tlv(0x30, alg + tlv(0x04, md))
if len(sys.argv) > 3:
    n = int(sys.argv[4])
    body += tlv(0x02, bytes.fromhex(sys.argv[3]) + b"\x5a" * (n - 1))
body += tlv(0x01, b"\xff")
open(sys.argv[2], "wb").write(tlv(0x30, body))
EOF
}
FI_BADREQ="transaction not permitted or supported"

# ---- TSA ----
head -c 4096 /dev/urandom >data.bin
openssl ts -query -data data.bin -sha256 -cert -out std.tsq 2>/dev/null ||
    die "openssl ts -query"
check_match "openssl ts -query sends a nonce" '^0x[0-9A-F]+$' \
    "$(openssl ts -query -in std.tsq -text 2>/dev/null | sed -n 's/^Nonce: //p')"
post /tsa application/timestamp-query std.tsq std.tsr
check_eq "openssl ts -query: HTTP 200" 200 "$HTTP"
check_eq "openssl ts -query: granted" "Granted." "$(ts_field std.tsr Status)"
check_match "openssl ts -query: openssl ts -verify (nonce checked)" \
    'Verification: OK' "$(ts_verify std.tsq std.tsr)"

tsq n32.tsq 7f 32
post /tsa application/timestamp-query n32.tsq n32.tsr
check_eq "TSA nonce of 32 octets: granted" "Granted." "$(ts_field n32.tsr Status)"
check_match "TSA nonce of 32 octets: openssl ts -verify" 'Verification: OK' \
    "$(ts_verify n32.tsq n32.tsr)"
check_eq "TSA nonce of 32 octets: echoed" "0x7F$(printf '5A%.0s' $(seq 31))" \
    "$(ts_field n32.tsr Nonce)"

tsq n33.tsq 01 33
post /tsa application/timestamp-query n33.tsq n33.tsr
check_eq "TSA nonce of 33 octets: HTTP 200" 200 "$HTTP"
check_eq "TSA nonce of 33 octets: rejected" "Rejected." "$(ts_field n33.tsr Status)"
check_eq "TSA nonce of 33 octets: failInfo badRequest" "$FI_BADREQ" \
    "$(ts_field n33.tsr 'Failure info')"
check_eq "TSA nonce of 33 octets: no token" "Not included." \
    "$(openssl ts -reply -in n33.tsr -text 2>/dev/null | sed -n '/^TST info:/{n;p}')"

tsq big.tsq 01 524288
post /tsa application/timestamp-query big.tsq big.tsr
# Refused before it is read (HTTP 413, a smaller body limit) or answered
# with a rejection: either way nothing is signed and the answer is small.
if [ "$HTTP" = 413 ]; then
    check_eq "TSA nonce of 512 KiB: refused (413)" 413 "$HTTP"
else
    check_eq "TSA nonce of 512 KiB: HTTP 200" 200 "$HTTP"
    check_eq "TSA nonce of 512 KiB: rejected" "Rejected." "$(ts_field big.tsr Status)"
    check_eq "TSA nonce of 512 KiB: failInfo badRequest" "$FI_BADREQ" \
        "$(ts_field big.tsr 'Failure info')"
fi
check_match "TSA nonce of 512 KiB: a small answer ($SIZE bytes)" '^ok$' \
    "$([ "$SIZE" -lt 2048 ] 2>/dev/null && echo ok)"

# ---- OCSP ----
py_verdict() { # RESP: pyca's reading: status, cert status, nonce (hex)
    "$PY" - "$1" <<'EOF' 2>&1
import sys
from cryptography import x509
from cryptography.x509 import ocsp
r = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
out = [r.response_status.name]
if r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
    out.append(r.certificate_status.name)
    try:
        out.append("nonce=" + r.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce.hex())
    except x509.ExtensionNotFound:
        out.append("nonce=none")
print(" ".join(out))
EOF
}
ossl_status() { # RESP: openssl's responseStatus
    openssl ocsp -respin "$1" -resp_text -noverify 2>&1 |
        sed -n 's/^Responder Error: //p; s/.*OCSP Response Status: //p' | head -1
}
UNK=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n' | sed 's/^./7/')
out=$(openssl ocsp -issuer codesigning.pem -serial "0x$UNK" -nonce \
    -url "$PUBLIC_URL/ca/ocsp" -CAfile root.pem 2>&1)
check_match "openssl ocsp -nonce: answered (unknown serial)" "0x$UNK: unknown" "$out"
check_match "openssl ocsp -nonce: verified" 'Response verify OK' "$out"
check_nomatch "openssl ocsp -nonce: no nonce complaint" '[Nn]once' "$out"

for n in 32 33 524288; do
    "$PY" "$OCSPREQ" codesigning.pem "$UNK" o$n.req --nonce $n || die "ocspreq.py"
    post /ca/ocsp application/ocsp-request o$n.req o$n.resp
done
check_match "OCSP nonce of 32 octets: echoed (pyca)" \
    '^SUCCESSFUL UNKNOWN nonce=0102.*1f20$' "$(py_verdict o32.resp)"
for n in 33 524288; do
    if [ $n = 524288 ] && [ "$HTTP" = 413 ]; then
        check_eq "OCSP nonce of $n octets: refused (413)" 413 "$HTTP"
        continue
    fi
    check_eq "OCSP nonce of $n octets: openssl: malformedRequest" \
        "malformedrequest (1)" "$(ossl_status o$n.resp)"
    check_eq "OCSP nonce of $n octets: pyca: MALFORMED_REQUEST" \
        "MALFORMED_REQUEST" "$(py_verdict o$n.resp)"
done
check_match "OCSP nonce of 512 KiB: a small answer ($SIZE bytes)" '^ok$' \
    "$([ "$SIZE" -lt 64 ] 2>/dev/null && echo ok)"

# A serial never issued, no nonce: asked twice, the kept answer.
openssl ocsp -issuer codesigning.pem -serial "0x$UNK" -no_nonce -reqout u.req \
    2>/dev/null || die "OCSP request"
post /ca/ocsp application/ocsp-request u.req u1.resp
sleep 1.1
post /ca/ocsp application/ocsp-request u.req u2.resp
check_eq "OCSP unknown serial: pyca" "SUCCESSFUL UNKNOWN nonce=none" "$(py_verdict u2.resp)"
check_match "OCSP unknown serial: verified" 'Response verify OK' \
    "$(openssl ocsp -respin u2.resp -issuer codesigning.pem -serial "0x$UNK" \
        -CAfile root.pem -no_nonce 2>&1)"
check_cmd "OCSP unknown serial, asked again: the kept answer, byte for byte" \
    cmp u1.resp u2.resp

check_healthy
finish
