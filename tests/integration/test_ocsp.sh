#!/usr/bin/env bash
# OCSP and CRL conformance (issue 12 items 7 and 8), judged by openssl and
# pyca/cryptography (Debian's, /usr/bin/python3):
#  - the CRL timer: with ca.crl_reissue_seconds = 2, CRLs are reissued
#    while nobody fetches them; thisUpdate advances, nextUpdate <= 10 days;
#  - answers signed by the issuing CA embed no certificate, and still
#    verify with openssl ocsp -issuer/-CAfile;
#  - good, revoked and unknown answers;
#  - malformedRequest (RFC 8954, RFC 6960 4.4, strict DER) for a nonce of
#    0 or 33 octets or not an OCTET STRING, an unknown critical extension
#    (request or singleRequest), and BER that is not DER (long-form length,
#    explicit DEFAULT version, explicit critical FALSE), over POST and GET;
#    nonces of 1, 16 and 32 octets are echoed; a non-critical unknown
#    extension is ignored;
#  - GET answers without nonce carry RFC 5019 caching headers (max-age
#    within nextUpdate, ETag, Last-Modified, Expires); POST answers and
#    refusals keep no-store;
#  - the TSA refuses a TimeStampReq that is BER but not DER.
# Requests are built by openssl ocsp -reqout and byte by byte by
# ocspreq.py (a positive control shows the two agree).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
OCSPREQ=$(cd "$(dirname "$0")" && pwd)/ocspreq.py
"$PY" -c 'import cryptography.x509.ocsp' 2>/dev/null ||
    die "Debian's python3-cryptography is needed (/usr/bin/python3)"

cd "$WORK" || die "no work directory"
server_init
set_conf ca.crl_reissue_seconds 2
server_start
T0=$(date +%s)

fetch_ca_certs . root codesigning
cat codesigning.pem root.pem >cs-chain.pem
epoch() { date -u -d "$1" +%s 2>/dev/null || echo "unparsable: $1"; }
httpdate() { LC_ALL=C date -u -d "@$1" '+%a, %d %b %Y %H:%M:%S GMT'; }

# ---- a subscriber with a verified identity and two certificates ----
A=$(new_subscriber acme) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
issue() { # KEY OUT.pem -> prints the serial
    req_json POST "/v1/keys/$1/csr" "$TA" \
        '{"subject":{"CN":"Acme Corp","O":"Acme Corp","C":"DE","L":"Berlin"}}'
    [ "$STATUS" = 200 ] || die "CSR for $1: HTTP $STATUS $BODY"
    jq -n --arg c "$(jget .csr_pem)" '{csr_pem: $c}' >b.json
    req POST /v1/ca/certificates "$TA" -H 'Content-Type: application/json' \
        --data-binary @b.json
    [ "$STATUS" = 201 ] || die "issue for $1: HTTP $STATUS $BODY"
    jget .certificate_pem >"$2"
    jget .serial
}
K1=$(new_key "$TA" rsa-3072 good) || exit 1
K2=$(new_key "$TA" ecdsa-p256 revoked) || exit 1
S1=$(issue "$K1" good.pem) || exit 1
S2=$(issue "$K2" revoked.pem) || exit 1

# ---- the CRL timer (before anyone fetched a CRL) ----
while [ "$(date +%s)" -lt $((T0 + 7)) ]; do sleep 0.5; done
n=$(grep -cE 'CRL [0-9]+ of codesigning issued' "$WORK/signetd.$SERVER_PORT.log")
check_match "CRL timer: the code signing CRL was reissued with no fetch (issued $n times in 7 s)" \
    '^ok$' "$([ "$n" -ge 3 ] && echo ok)"
crl_fetch() { # OUT.der: sets CRL_TEXT, CRL_NUM, CRL_THIS, CRL_NEXT
    curl -sS --max-time 10 -o "$1" "$PUBLIC_URL/ca/crl/codesigning" || die "GET CRL"
    CRL_TEXT=$(openssl crl -inform DER -in "$1" -CAfile cs-chain.pem -noout -text 2>&1)
    check_match "CRL $1 verifies (openssl crl -CAfile)" '(^|'$'\n'')verify OK' "$CRL_TEXT"
    CRL_NUM=$(grep -A1 'X509v3 CRL Number' <<<"$CRL_TEXT" | tail -1 | tr -d ' ')
    CRL_THIS=$(epoch "$(grep -m1 'Last Update:' <<<"$CRL_TEXT" | sed 's/.*Update: //')")
    CRL_NEXT=$(epoch "$(grep -m1 'Next Update:' <<<"$CRL_TEXT" | sed 's/.*Update: //')")
}
crl_fetch crl1.der
check_match "CRL timer: first fetched CRL has number >= 3 (has $CRL_NUM)" '^ok$' \
    "$([ "$CRL_NUM" -ge 3 ] 2>/dev/null && echo ok)"
check_match "CRL: nextUpdate - thisUpdate <= 10 days (CSBR 4.9.7)" '^ok$' \
    "$([ $((CRL_NEXT - CRL_THIS)) -le 864000 ] && [ $((CRL_NEXT - CRL_THIS)) -gt 0 ] && echo ok)"
this1=$CRL_THIS
num1=$CRL_NUM
sleep 4
n1=$(grep -cE 'CRL [0-9]+ of codesigning issued' "$WORK/signetd.$SERVER_PORT.log")
crl_fetch crl2.der
check_match "CRL: thisUpdate advances ($this1 -> $CRL_THIS)" '^ok$' \
    "$([ "$CRL_THIS" -gt "$this1" ] && echo ok)"
check_match "CRL: the number grows ($num1 -> $CRL_NUM)" '^ok$' \
    "$([ "$CRL_NUM" -gt "$num1" ] 2>/dev/null && echo ok)"
check_match "CRL timer: reissued between the fetches too" '^ok$' \
    "$([ "$n1" -ge $((n + 1)) ] && echo ok)"

# ---- revoke the second certificate ----
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" '{"reason":"superseded"}'
[ "$STATUS" = 200 ] || die "revoke: HTTP $STATUS $BODY"
crl_fetch crl3.der
check_match "CRL lists the revoked serial" "Serial Number: $S2" "$CRL_TEXT"

# ---- helpers ----
ocsp_post() { # REQ OUT [HEADERS]: POST a DER request
    curl -sS --max-time 10 -H 'Content-Type: application/ocsp-request' \
        --data-binary "@$1" -o "$2" -D "${3:-/dev/null}" "$PUBLIC_URL/ca/ocsp" || die "POST OCSP"
}
ocsp_get() { # REQ OUT HEADERS: GET {url}/{url-encoded base64}
    local enc
    enc=$(base64 -w0 "$1" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
    curl -sS --max-time 10 -o "$2" -D "$3" "$PUBLIC_URL/ca/ocsp/$enc" || die "GET OCSP"
}
# py_verdict RESP: pyca's reading: status, embedded certificates, cert
# status and nonce (hex) when successful.
py_verdict() {
    "$PY" - "$1" <<'EOF' 2>&1
import sys
from cryptography import x509
from cryptography.x509 import ocsp
r = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
out = [r.response_status.name]
if r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
    out.append("certs=%d" % len(r.certificates))
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
ossl_read() { # RESP CERT [openssl args]: verified verdict
    local r=$1 c=$2
    shift 2
    openssl ocsp -respin "$r" -issuer codesigning.pem -cert "$c" -CAfile root.pem "$@" 2>&1
}
hdr() { # HEADERS NAME: the header's value
    grep -i "^$2:" "$1" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

# ---- good, revoked, unknown; no embedded certificate ----
openssl ocsp -issuer codesigning.pem -cert good.pem -no_nonce -reqout good.req 2>/dev/null || die "OCSP request"
ocsp_post good.req good.resp
out=$(ossl_read good.resp good.pem -no_nonce)
check_match "good: openssl says good" 'good.pem: good' "$out"
check_match "good: response verifies with -issuer/-CAfile and no embedded cert" 'Response verify OK' "$out"
check_eq "good: pyca: successful, no embedded certificate, GOOD" \
    "SUCCESSFUL certs=0 GOOD nonce=none" "$(py_verdict good.resp)"
check_nomatch "good: openssl -resp_text shows no Certificate" 'Certificate:' \
    "$(openssl ocsp -respin good.resp -resp_text -noverify 2>&1)"

openssl ocsp -issuer codesigning.pem -cert revoked.pem -no_nonce -reqout rev.req 2>/dev/null || die "OCSP request"
ocsp_post rev.req rev.resp
out=$(ossl_read rev.resp revoked.pem -no_nonce)
check_match "revoked: openssl says revoked" 'revoked.pem: revoked' "$out"
check_match "revoked: reason superseded" 'Reason: superseded' "$out"
check_match "revoked: verifies" 'Response verify OK' "$out"
check_eq "revoked: pyca" "SUCCESSFUL certs=0 REVOKED nonce=none" "$(py_verdict rev.resp)"

openssl ocsp -issuer codesigning.pem -serial 0x0123456789ABCDEF0123456789ABCDEF -no_nonce \
    -reqout unk.req 2>/dev/null || die "OCSP request"
ocsp_post unk.req unk.resp
check_match "unknown serial: unknown" '0x0123456789ABCDEF0123456789ABCDEF: unknown' \
    "$(openssl ocsp -respin unk.resp -issuer codesigning.pem -serial 0x0123456789ABCDEF0123456789ABCDEF -CAfile root.pem -no_nonce 2>&1)"
check_eq "unknown: pyca" "SUCCESSFUL certs=0 UNKNOWN nonce=none" "$(py_verdict unk.resp)"

# ---- the hand-made builder agrees with openssl ----
"$PY" "$OCSPREQ" codesigning.pem "$S1" plain.req || die "ocspreq.py"
check_cmd "ocspreq.py writes what openssl ocsp -reqout writes" cmp good.req plain.req

# ---- nonces (RFC 8954: 1..32 octets) ----
for n in 1 16 32; do
    "$PY" "$OCSPREQ" codesigning.pem "$S1" nonce$n.req --nonce $n || die "ocspreq.py"
    ocsp_post nonce$n.req nonce$n.resp
    want=$("$PY" -c "print(bytes(range(1, $n + 1)).hex())")
    check_eq "nonce of $n octets: echoed (pyca)" "SUCCESSFUL certs=0 GOOD nonce=$want" "$(py_verdict nonce$n.resp)"
done
nonce_of() { # RESP|REQ: the nonce extension's value as openssl prints it
    openssl ocsp "$@" -noverify 2>&1 | grep -A1 'OCSP Nonce' | tail -1 | tr -d ' '
}
check_eq "nonce of 16 octets: openssl reads the same nonce back" \
    "$(nonce_of -reqin nonce16.req -req_text)" "$(nonce_of -respin nonce16.resp -resp_text)"
check_match "nonce of 16 octets: verifies" 'Response verify OK' "$(ossl_read nonce16.resp good.pem -no_nonce)"
# openssl ocsp end to end: its own 16-octet nonce, checked by openssl.
out=$(openssl ocsp -issuer codesigning.pem -cert good.pem -url "$PUBLIC_URL/ca/ocsp" -CAfile root.pem 2>&1)
check_match "openssl ocsp -url with its nonce: good" 'good.pem: good' "$out"
check_match "openssl ocsp -url with its nonce: verified" 'Response verify OK' "$out"
check_nomatch "openssl ocsp -url with its nonce: no nonce complaint" '[Nn]once' "$out"

# ---- refused forms: each answered malformedRequest ----
# malformed WHAT REQ: POST (and GET) -> malformedRequest, by both parsers
malformed() {
    local what=$1 r=$2
    ocsp_post "$r" "$r.resp" "$r.h"
    check_eq "$what (POST): openssl: malformedRequest" "malformedrequest (1)" "$(ossl_status "$r.resp")"
    check_eq "$what (POST): pyca: MALFORMED_REQUEST" "MALFORMED_REQUEST" "$(py_verdict "$r.resp")"
    ocsp_get "$r" "$r.gresp" "$r.gh"
    check_eq "$what (GET): pyca: MALFORMED_REQUEST" "MALFORMED_REQUEST" "$(py_verdict "$r.gresp")"
    check_eq "$what (GET): no caching (no-store)" "no-store" "$(hdr "$r.gh" Cache-Control)"
    check_eq "$what (GET): no ETag" "" "$(hdr "$r.gh" ETag)"
}
mk() { "$PY" "$OCSPREQ" codesigning.pem "$S1" "$@" || die "ocspreq.py $*"; }
mk nonce0.req --nonce 0
malformed "nonce of 0 octets" nonce0.req
mk nonce33.req --nonce 33
malformed "nonce of 33 octets" nonce33.req
mk nonceraw.req --nonce-raw 16
malformed "nonce not an OCTET STRING" nonceraw.req
mk nonce2x.req --nonce 8 --nonce 8
malformed "two nonce extensions" nonce2x.req
mk critreq.req --ext-req 1.3.6.1.4.1.99999.1:1
malformed "unknown critical request extension" critreq.req
mk critsingle.req --ext-single 1.3.6.1.4.1.99999.2:1
malformed "unknown critical singleRequestExtension" critsingle.req
mk critpref.req --nonce 16 --ext-req 1.3.6.1.5.5.7.48.1.8:1
malformed "critical preferred-signature-algorithms (not supported)" critpref.req
mk long.req --long-length
malformed "BER: long-form length" long.req
mk version.req --explicit-version
malformed "BER: explicit DEFAULT version v1" version.req
mk critfalse.req --ext-req 1.3.6.1.4.1.99999.3:0 --critical-false
malformed "BER: explicit critical FALSE" critfalse.req
cp good.req trailing.req && printf '\0\0' >>trailing.req
malformed "trailing bytes" trailing.req

# ---- accepted forms ----
mk noncrit.req --ext-req 1.3.6.1.4.1.99999.1:0 --ext-single 1.3.6.1.4.1.99999.2:0
ocsp_post noncrit.req noncrit.resp
check_eq "unknown non-critical extensions are ignored" "SUCCESSFUL certs=0 GOOD nonce=none" "$(py_verdict noncrit.resp)"
mk critnonce.req --nonce 16 --nonce-critical
ocsp_post critnonce.req critnonce.resp
check_match "a critical nonce is understood: echoed" '^SUCCESSFUL certs=0 GOOD nonce=0102' "$(py_verdict critnonce.resp)"

# ---- GET caching headers (RFC 5019 6.2) ----
ocsp_get good.req g1.resp g1.h
check_eq "GET: pyca" "SUCCESSFUL certs=0 GOOD nonce=none" "$(py_verdict g1.resp)"
text=$(openssl ocsp -respin g1.resp -resp_text -noverify 2>&1)
this=$(epoch "$(grep -m1 'This Update:' <<<"$text" | sed 's/.*Update: //')")
next=$(epoch "$(grep -m1 'Next Update:' <<<"$text" | sed 's/.*Update: //')")
now=$(date +%s)
cc=$(hdr g1.h Cache-Control)
check_match "GET: Cache-Control max-age,public,no-transform,must-revalidate" \
    '^max-age=[0-9]+,public,no-transform,must-revalidate$' "$cc"
age=$(sed -n 's/^max-age=\([0-9]*\),.*/\1/p' <<<"$cc")
check_match "GET: 0 < max-age ($age) <= seconds until nextUpdate ($((next - now)))" '^ok$' \
    "$([ -n "$age" ] && [ "$age" -gt 0 ] && [ "$age" -le $((next - now + 1)) ] && echo ok)"
check_eq "GET: ETag is the quoted SHA-256 of the answer" \
    "\"$(sha256sum g1.resp | cut -d' ' -f1)\"" "$(hdr g1.h ETag)"
check_eq "GET: Last-Modified = thisUpdate" "$(httpdate "$this")" "$(hdr g1.h Last-Modified)"
check_eq "GET: Expires = nextUpdate" "$(httpdate "$next")" "$(hdr g1.h Expires)"
sleep 1
ocsp_get good.req g2.resp g2.h
check_cmd "GET again: the kept answer (same bytes)" cmp g1.resp g2.resp
check_eq "GET again: same ETag" "$(hdr g1.h ETag)" "$(hdr g2.h ETag)"
age2=$(sed -n 's/^max-age=\([0-9]*\),.*/\1/p' <<<"$(hdr g2.h Cache-Control)")
check_match "GET again: max-age counts down ($age -> $age2)" '^ok$' \
    "$([ -n "$age2" ] && [ "$age2" -gt 0 ] && [ "$age2" -lt "$age" ] && echo ok)"
ocsp_get rev.req grev.resp grev.h
check_eq "GET revoked: pyca" "SUCCESSFUL certs=0 REVOKED nonce=none" "$(py_verdict grev.resp)"
check_match "GET revoked: cacheable too" '^max-age=' "$(hdr grev.h Cache-Control)"
ocsp_get nonce16.req gn.resp gn.h
check_match "GET with a nonce: echoed" '^SUCCESSFUL certs=0 GOOD nonce=0102' "$(py_verdict gn.resp)"
check_eq "GET with a nonce: no-store" "no-store" "$(hdr gn.h Cache-Control)"
check_eq "GET with a nonce: no ETag" "" "$(hdr gn.h ETag)"
ocsp_post good.req p.resp p.h
check_eq "POST: no-store" "no-store" "$(hdr p.h Cache-Control)"
check_eq "POST: no ETag" "" "$(hdr p.h ETag)"

# ---- the TSA shares the strict-DER check (sn_der_exact) ----
head -c 1000 /dev/urandom >data.bin
openssl ts -query -data data.bin -sha256 -cert -out tsq.der 2>/dev/null || die "openssl ts -query"
# The same request with its outer length in long form (BER, not DER).
"$PY" - tsq.der tsq-long.der <<'EOF' || die "long-form TimeStampReq"
import sys
d = open(sys.argv[1], "rb").read()
assert d[0] == 0x30 and d[1] < 0x80 and len(d) == d[1] + 2
open(sys.argv[2], "wb").write(bytes([0x30, 0x82, 0, d[1]]) + d[2:])
EOF
tsa_status() { # REQ: openssl's reading of the TSA's reply
    curl -sS --max-time 10 -H 'Content-Type: application/timestamp-query' \
        --data-binary "@$1" -o "$1.tsr" "$PUBLIC_URL/tsa" || die "POST /tsa"
    openssl ts -reply -in "$1.tsr" -text 2>&1 | sed -n 's/^Status: //p' | head -1
}
check_eq "TSA: the DER request is granted" "Granted." "$(tsa_status tsq.der)"
check_eq "TSA: the same request with a long-form length is rejected" \
    "Rejected." "$(tsa_status tsq-long.der)"

# ---- the configuration key's bounds ----
for v in 0 518401 x; do
    set_conf ca.crl_reissue_seconds "$v"
    check_cmd_fails "signetd check refuses ca.crl_reissue_seconds = $v" \
        "$SIGNETD" check --home "$SERVER_HOME"
done
set_conf ca.crl_reissue_seconds 518400
check_cmd "signetd check accepts ca.crl_reissue_seconds = 518400 (6 days)" \
    "$SIGNETD" check --home "$SERVER_HOME"

check_healthy
finish
