#!/bin/sh
# verify_attest.sh OPENSSL BINDIR SIGNET
#
# Signet must not grade its own homework: this runs test_attest with
# SN_CRYPTO_OUT pointing at a scratch directory, then has the openssl
# command-line tool judge the attestation certificates and CSRs it wrote
# (chains, CSR signatures, the DER layout of the attribute and the
# extension), and checks that the `signet attestation verify` CLI accepts
# the good evidence and refuses each bad file with the right reason.
set -eu

OPENSSL=$1
bindir=$2
SIGNET=$3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

failures=0
pass() { echo "ok:   $*"; }
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_ok DESC CMD...: CMD must succeed.
expect_ok() {
    desc=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        pass "$desc"
    else
        fail "$desc"
        sed 's/^/      /' "$tmp/out"
    fi
}

# expect_fail DESC CMD...: CMD must fail.
expect_fail() {
    desc=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        fail "$desc (unexpectedly succeeded)"
    else
        pass "$desc"
    fi
}

# expect_grep DESC PATTERN FILE: FILE must contain a line matching PATTERN.
expect_grep() {
    if grep -q -- "$2" "$3"; then
        pass "$1"
    else
        fail "$1: no '$2' in $3"
        sed 's/^/      /' "$3"
    fi
}

# openssl req -verify (3.0) exits 0 even when the signature is bad, so
# success is its "verify OK" line and nothing else.
req_verify() {
    "$OPENSSL" req -verify -noout "$@" >"$tmp/req.log" 2>&1 || return 1
    grep -q 'self-signature verify OK' "$tmp/req.log" &&
        ! grep -qi 'failure' "$tmp/req.log"
}

out="$tmp/art"
mkdir -p "$out"
if ! SN_CRYPTO_OUT="$out" "$bindir/test_attest" >"$tmp/unit.log" 2>&1; then
    cat "$tmp/unit.log"
    echo "FAIL: test_attest did not pass; nothing to verify"
    exit 1
fi
a="$out"

# test_attest works under the documentation PEN (RFC 5612), as test homes.
OID_ARC=1.3.6.1.4.1.32473
OID_EXT=$OID_ARC.1.1
OID_STMT=$OID_ARC.1.2
OID_AA=1.2.840.113549.1.9.16.2.59

# ---- the attestation certificate, judged by openssl ----

expect_ok "att.pem chains to the attestation root (x509_strict)" \
    "$OPENSSL" verify -x509_strict -CAfile "$a/att-root.pem" \
    -untrusted "$a/att-issuer.pem" "$a/att.pem"
expect_ok "att-bundle.pem: first certificate chains via the second" \
    "$OPENSSL" verify -x509_strict -CAfile "$a/att-root.pem" \
    -untrusted "$a/att-bundle.pem" "$a/att-bundle.pem"
expect_fail "att.pem does not chain to an unrelated root" \
    "$OPENSSL" verify -CAfile "$a/att-other-root.pem" \
    -untrusted "$a/att-issuer.pem" "$a/att.pem"
expect_fail "att.pem does not verify without its issuer" \
    "$OPENSSL" verify -CAfile "$a/att-root.pem" "$a/att.pem"
expect_fail "tampered attestation signature is rejected" \
    "$OPENSSL" verify -CAfile "$a/att-root.pem" \
    -untrusted "$a/att-issuer.pem" "$a/att-bundle-badsig.pem"

"$OPENSSL" x509 -in "$a/att.pem" -noout -text >"$tmp/att.txt"
expect_grep "att.pem: CA:FALSE" 'CA:FALSE' "$tmp/att.txt"
expect_grep "att.pem: digitalSignature" 'Digital Signature' "$tmp/att.txt"
expect_grep "att.pem: subject" \
    'Subject: CN *= *Signet attested key 5b0e3c2a-8f1d-4c7e-9a6b-2d4f8e1c0a93' \
    "$tmp/att.txt"
expect_grep "att.pem: extension OID" "$OID_EXT:" "$tmp/att.txt"
if grep -q "$OID_EXT: critical" "$tmp/att.txt"; then
    fail "att.pem: attestation extension is critical"
else
    pass "att.pem: attestation extension is not critical"
fi

"$OPENSSL" asn1parse -in "$a/att.pem" >"$tmp/att.asn1"
expect_grep "att.pem: asn1parse shows $OID_EXT" \
    "OBJECT *:$OID_EXT\$" "$tmp/att.asn1"
# The extension value is the OCTET STRING right after the OID; parse it.
off=$(grep -A1 "OBJECT *:$OID_EXT\$" "$tmp/att.asn1" | tail -n1 |
    sed 's/^ *\([0-9]*\):.*OCTET STRING.*/\1/')
if "$OPENSSL" asn1parse -in "$a/att.pem" -strparse "$off" >"$tmp/ext.asn1" \
    2>&1; then
    pass "extension value parses as DER"
else
    fail "extension value parses as DER"
    cat "$tmp/ext.asn1"
fi
expect_grep "extension: version 1" 'INTEGER *:01$' "$tmp/ext.asn1"
expect_grep "extension: subscriber" \
    'UTF8STRING *:c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f$' "$tmp/ext.asn1"
expect_grep "extension: key id" \
    'UTF8STRING *:5b0e3c2a-8f1d-4c7e-9a6b-2d4f8e1c0a93$' "$tmp/ext.asn1"
expect_grep "extension: token label" 'UTF8STRING *:signet-token$' \
    "$tmp/ext.asn1"
bools=$(sed -n 's/.*BOOLEAN *:\([0-9]*\)$/\1/p' "$tmp/ext.asn1" | tr '\n' ' ')
if [ "$bools" = "255 255 255 0 255 " ]; then
    pass "extension: protection booleans (DER TRUE is 255)"
else
    fail "extension: protection booleans are '$bools'"
fi
expect_grep "extension: generationTime" \
    'GENERALIZEDTIME *:[0-9]\{14\}Z$' "$tmp/ext.asn1"

# The DER the unit test wrote for the extension alone parses the same way.
expect_ok "att-ext.der parses as DER" \
    "$OPENSSL" asn1parse -inform DER -in "$a/att-ext.der"

# ---- the CSR, judged by openssl ----

for n in att-csr att-csr-rsa; do
    expect_ok "$n: openssl req -verify" req_verify -in "$a/$n.pem"
done
expect_fail "att-csr-badcsrsig: openssl req -verify fails" \
    req_verify -in "$a/att-csr-badcsrsig.pem"

"$OPENSSL" asn1parse -in "$a/att-csr.pem" >"$tmp/csr.asn1"
expect_grep "CSR: asn1parse shows $OID_AA" "OBJECT *:$OID_AA\$" \
    "$tmp/csr.asn1"
expect_grep "CSR: statement type $OID_STMT" "OBJECT *:$OID_STMT\$" \
    "$tmp/csr.asn1"
# attribute = SEQUENCE { type, SET { AttestationBundle SEQUENCE } }
shape=$(grep -A2 "OBJECT *:$OID_AA\$" "$tmp/csr.asn1" |
    sed 's/^ *[0-9]*:d=\([0-9]*\).*\(OBJECT\|SET\|SEQUENCE\).*/\1 \2/' |
    tr '\n' ' ')
case $shape in
"4 OBJECT 4 SET 5 SEQUENCE ") pass "CSR: attribute is {type, SET {bundle}}" ;;
*) fail "CSR: attribute shape is '$shape'" ;;
esac

# Cut the attestation certificate out of the CSR's DER by hand and let
# openssl verify it and compare its key with the CSR's.
"$OPENSSL" req -in "$a/att-csr.pem" -outform DER -out "$tmp/csr.der"
line=$(grep -A1 "OBJECT *:$OID_STMT\$" "$tmp/csr.asn1" | tail -n1)
coff=$(echo "$line" | sed 's/^ *\([0-9]*\):.*/\1/')
chl=$(echo "$line" | sed 's/.*hl= *\([0-9]*\).*/\1/')
cl=$(echo "$line" | sed 's/.* l= *\([0-9]*\).*/\1/')
dd if="$tmp/csr.der" of="$tmp/embedded.der" bs=1 skip="$coff" \
    count=$((chl + cl)) 2>/dev/null
if "$OPENSSL" x509 -inform DER -in "$tmp/embedded.der" -out \
    "$tmp/embedded.pem" 2>/dev/null; then
    pass "CSR: statement holds a certificate"
else
    fail "CSR: statement holds a certificate"
fi
expect_ok "CSR: embedded attestation certificate chains to the root" \
    "$OPENSSL" verify -x509_strict -CAfile "$a/att-root.pem" \
    -untrusted "$a/att-issuer.pem" "$tmp/embedded.pem"
"$OPENSSL" req -in "$a/att-csr.pem" -noout -pubkey >"$tmp/csr-pub.pem"
"$OPENSSL" x509 -in "$tmp/embedded.pem" -noout -pubkey >"$tmp/att-pub.pem"
expect_ok "CSR: its key is the attested key" \
    cmp "$tmp/csr-pub.pem" "$tmp/att-pub.pem"
"$OPENSSL" req -in "$a/att-csr-otherkey.pem" -noout -pubkey \
    >"$tmp/other-pub.pem"
expect_fail "att-csr-otherkey: its key is not the attested key" \
    cmp -s "$tmp/other-pub.pem" "$tmp/att-pub.pem"

# ---- the signet CLI's offline verifier ----

# cli_ok DESC ROOTS FILE: exit 0, facts and "attestation: OK" printed.
cli_ok() {
    if env -u SIGNET_TOKEN -u SIGNET_URL "$SIGNET" attestation verify \
        --oid-arc "$OID_ARC" --root "$2" "$3" >"$tmp/cli.out" \
        2>"$tmp/cli.err"; then
        pass "$1: exit 0"
    else
        fail "$1: exit $?"
        sed 's/^/      /' "$tmp/cli.err"
        return
    fi
    expect_grep "$1: OK line" '^attestation: OK$' "$tmp/cli.out"
    expect_grep "$1: key id" \
        '^key id: *5b0e3c2a-8f1d-4c7e-9a6b-2d4f8e1c0a93$' "$tmp/cli.out"
    expect_grep "$1: subscriber" \
        '^subscriber: *c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f$' "$tmp/cli.out"
    expect_grep "$1: HSM" '^manufacturer: *SoftHSM project$' "$tmp/cli.out"
    expect_grep "$1: serial" '^serial: *0123456789abcdef$' "$tmp/cli.out"
    expect_grep "$1: protection" \
        'local=yes never_extractable=yes always_sensitive=yes extractable=no sensitive=yes' \
        "$tmp/cli.out"
    expect_grep "$1: generated at (RFC 3339)" \
        '^generated at: *[0-9-]*T[0-9:]*Z$' "$tmp/cli.out"
}

# cli_bad DESC ROOTS FILE REASON [ARC]: exit 1 and the reason on stderr.
cli_bad() {
    status=0
    env -u SIGNET_TOKEN -u SIGNET_URL "$SIGNET" attestation verify \
        --oid-arc "${5-$OID_ARC}" --root "$2" "$3" >"$tmp/cli.out" \
        2>"$tmp/cli.err" || status=$?
    if [ "$status" = 1 ]; then
        pass "$1: exit 1"
    else
        fail "$1: exit $status, want 1"
    fi
    expect_grep "$1: reason" \
        "^signet: attestation verification failed: .*$4" "$tmp/cli.err"
    if grep -q 'attestation: OK' "$tmp/cli.out"; then
        fail "$1: printed attestation: OK"
    fi
}

cli_ok "cli: CSR" "$a/att-root.pem" "$a/att-csr.pem"
cli_ok "cli: RSA CSR" "$a/att-root.pem" "$a/att-csr-rsa.pem"
cli_ok "cli: bundle" "$a/att-root.pem" "$a/att-bundle.pem"
cli_ok "cli: CSR, two pinned roots" "$a/att-roots.pem" "$a/att-csr.pem"
env -u SIGNET_TOKEN "$SIGNET" --json attestation verify --oid-arc "$OID_ARC" \
    --root "$a/att-root.pem" "$a/att-csr.pem" >"$tmp/cli.json" 2>&1 || :
expect_grep "cli: --json" '"attestation": "OK"' "$tmp/cli.json"

cli_bad "cli: wrong root" "$a/att-other-root.pem" "$a/att-csr.pem" \
    'attestation chain does not lead to a trusted root'
cli_bad "cli: tampered attestation (bundle)" "$a/att-root.pem" \
    "$a/att-bundle-badsig.pem" 'certificate signature failure'
cli_bad "cli: tampered attestation (CSR)" "$a/att-root.pem" \
    "$a/att-csr-badsig.pem" 'certificate signature failure'
cli_bad "cli: attestation of another key" "$a/att-root.pem" \
    "$a/att-csr-otherkey.pem" "the CSR's key is not the attested key"
cli_bad "cli: CSR without attribute" "$a/att-root.pem" \
    "$a/att-csr-noattr.pem" 'no attestation attribute in the CSR'
cli_bad "cli: CSR signature broken" "$a/att-root.pem" \
    "$a/att-csr-badcsrsig.pem" 'CSR signature invalid'
cli_bad "cli: extractable (bundle)" "$a/att-root.pem" \
    "$a/att-bundle-extractable.pem" 'key is extractable'
cli_bad "cli: extractable (CSR)" "$a/att-root.pem" \
    "$a/att-csr-extractable.pem" 'key is extractable'
cli_bad "cli: not local" "$a/att-root.pem" "$a/att-bundle-notlocal.pem" \
    'key was not generated on the device (CKA_LOCAL false)'
cli_bad "cli: no extension" "$a/att-root.pem" "$a/att-bundle-noext.pem" \
    'lacks the Signet key attestation extension'
# The extension is found under the operator's arc only (and the default).
cli_bad "cli: evidence under another arc" "$a/att-root.pem" \
    "$a/att-bundle.pem" 'lacks the Signet key attestation extension' \
    1.3.6.1.4.1.32473.9
cli_bad "cli: garbage extension" "$a/att-root.pem" \
    "$a/att-bundle-garbage.pem" 'extension is malformed'
cli_bad "cli: extension with trailing bytes" "$a/att-root.pem" \
    "$a/att-bundle-trailing.pem" 'extension is malformed'
cli_bad "cli: attribute with trailing bytes" "$a/att-root.pem" \
    "$a/att-csr-trailing.pem" 'attestation attribute is malformed'
cli_bad "cli: attestation certificate without issuer" "$a/att-root.pem" \
    "$a/att.pem" 'unable to get local issuer certificate'
"$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/key.pem" 2>/dev/null
cli_bad "cli: a private key is no evidence" "$a/att-root.pem" \
    "$tmp/key.pem" 'neither a PEM CSR nor PEM certificates'
printf 'hello\n' >"$tmp/text"
cli_bad "cli: not PEM" "$a/att-root.pem" "$tmp/text" 'no PEM block'

status=0
env -u SIGNET_TOKEN "$SIGNET" attestation verify --root "$a/att-root.pem" \
    --oid-arc 2.25.1195647632546429166563054596672476 "$a/att-csr.pem" \
    >/dev/null 2>"$tmp/cli.err" || status=$?
if [ "$status" = 2 ]; then
    pass "cli: an arc with a component past 31 bits is a usage error"
else
    fail "cli: --oid-arc 2.25.<big> exit $status, want 2"
fi
status=0
env -u SIGNET_TOKEN "$SIGNET" attestation verify "$a/att-csr.pem" \
    >/dev/null 2>"$tmp/cli.err" || status=$?
if [ "$status" = 2 ]; then
    pass "cli: --root is required (usage error)"
else
    fail "cli: without --root exit $status, want 2"
fi
"$SIGNET" --help >"$tmp/help"
expect_grep "cli: --help lists attestation verify" \
    'attestation verify --root' "$tmp/help"
expect_grep "cli: --help lists key attestation" 'key attestation ID' \
    "$tmp/help"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
