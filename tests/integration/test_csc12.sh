#!/usr/bin/env bash
# issue 18, CSC-12 end to end, for real. A real PE (Debian's memtest86+
# EFI image, package memtest86+) is signed twice through Signet's PKCS#11
# module by osslsigncode, each time with an RFC 3161 time-stamp from
# Signet's TSA, 3 seconds apart (the issue says minutes; seconds are told
# apart by every date involved). The second artifact is reported as Suspect
# Code (anonymously, the PKCS#7 from `osslsigncode extract-signature`); an
# operator with a second factor confirms; the certificate is revoked from
# the second signature's time. Then key compromise the same way, reported
# by the subscriber (`signet report create`, a PEM PKCS#7).
#
# The verdicts:
#  - osslsigncode verify, with the CRLs and the CA chain: before the
#    confirmation both artifacts verify; after it, osslsigncode 2.9
#    rejects BOTH with "certificate revoked". It checks CRLs in a store of
#    its own at the current time (verify_crl: X509_V_FLAG_CRL_CHECK, no
#    X509_STORE set_time, unlike the chain check, which it runs at the
#    time-stamp), and OpenSSL's CRL check (cert_crl) never compares a
#    revocationDate with the verification time: a listed serial is
#    revoked, whenever. So osslsigncode cannot tell the two artifacts
#    apart; the test asserts what it does, so that a release that learns
#    CSC-12 shows up here.
#  - The CSC-12 rule (objects time-stamped before the revocationDate stay
#    valid, CSBR 4.9.1 and its footnote), applied to what independent tools
#    say: osslsigncode verify without CRLs (signature, chain at the
#    time-stamp, the time-stamp itself) passes for both and prints each
#    time-stamp time; openssl crl -text gives the certificate's
#    revocationDate: the first artifact's time-stamp is before it
#    (accepted), the second's is not (rejected). openssl ocsp agrees.
. "$(dirname "$0")/lib.sh" "$@"

MOD=${3:?usage: test_csc12.sh SIGNETD SIGNET MODULE}
PE=/boot/memtest86+x64.efi
[ -f "$MOD" ] || die "no PKCS#11 module at $MOD"
[ -f "$PE" ] || die "no $PE: apt-get install memtest86+ (scripts/deps.sh)"
for tool in osslsigncode oathtool; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
# A module built with ASan needs the runtime in the tools that load it.
PRELOAD=()
if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
    PRELOAD=(env "LD_PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}')"
        "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
fi
epoch() { date -u -d "$1" +%s 2>/dev/null || echo "unparsable: $1"; }

cd "$WORK" || die "no work directory"
SERVER_OPERATOR_MFA=true server_init
server_start
unset SIGNET_TOKEN
MFA_PW='csc-12 test passphrase'
mfa_operator olga '["identity","subscribers","revocation"]' && OP=$P_TOKEN
ADMIN=$OP
A=$(new_subscriber acme) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
req_json PUT "/v1/subscribers/$A/identity" "$OP" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
fetch_ca_certs . root codesigning timestamping
osslsigncode --version 2>&1 | head -1 >version.txt
log "$(cat version.txt)"

# key LABEL -> key id, certified by Signet's CA (chain.ID.pem, leaf.ID.pem)
key() {
    local k
    k=$(new_key "$TA" ecdsa-p256 "$1") || exit 1
    "$SIGNET" --token "$TA" key certify "$k" -o "chain.$k.pem" \
        --subject "/CN=Acme Corp/O=Acme Corp/C=DE/L=Berlin" >certify.out 2>&1 ||
        die "certify: $(cat certify.out)"
    openssl x509 -in "chain.$k.pem" -out "leaf.$k.pem" || die "no leaf"
    echo "$k"
}
# sign KEY OUT: osslsigncode through the module, RFC 3161 time-stamp
sign() {
    local uri
    uri="pkcs11:id=$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g');type=private"
    SIGNET_TOKEN=$TA PKCS11_MODULE_PATH=$MOD "${PRELOAD[@]}" osslsigncode sign \
        -pkcs11module "$MOD" -key "$uri" -certs "chain.$1.pem" -h sha256 \
        -ts "$PUBLIC_URL/tsa" -in "$PE" -out "$2" >"$2.log" 2>&1 ||
        die "osslsigncode sign $2: $(tail -n 20 "$2.log")"
}
crls() { # the CRLs of the three CAs, PEM, as a relying party fetches them
    : >crls.pem
    for ca in root codesigning timestamping; do
        curl -sS --max-time 10 -o "crl.$ca.der" "$PUBLIC_URL/ca/crl/$ca" ||
            die "GET crl/$ca"
        openssl crl -inform DER -in "crl.$ca.der" >>crls.pem || die "crl/$ca is no CRL"
    done
}
# verify FILE [extra]: osslsigncode's verdict with the CRLs: VRC its exit
# status, VOUT its words
verify() {
    local f=$1
    shift
    VOUT=$(osslsigncode verify -CAfile root.pem -CRLfile crls.pem \
        -TSA-CAfile root.pem -TSA-CRLfile crls.pem -ignore-cdp "$@" -in "$f" 2>&1)
    VRC=$?
}
tstime() { # the time-stamp time osslsigncode read in VOUT
    epoch "$(grep -m1 'Timestamp time:' <<<"$VOUT" | sed 's/.*Timestamp time: *//')"
}
revdate() { # SERIAL: the revocation date of its CRL entry (openssl crl)
    local text e
    text=$(openssl crl -inform DER -in crl.codesigning.der -noout -text)
    e=$(awk -v s="Serial Number: $1" '$0 ~ s {p=1; print; next} p && /Serial Number:|Signature Algorithm/ {p=0} p' <<<"$text")
    [ -n "$e" ] || { echo absent; return; }
    epoch "$(grep 'Revocation Date:' <<<"$e" | sed 's/.*Date: //')"
}
# csc12 WHAT FILE SERIAL EXPECTED: the rule on osslsigncode's time-stamp
# (verified without CRLs: in 2.9 -ignore-crl only stops the online fetch,
# a -CRLfile is still checked) and openssl's revocationDate
csc12() {
    local ts rd v
    VOUT=$(osslsigncode verify -CAfile root.pem -TSA-CAfile root.pem -ignore-crl \
        -in "$2" 2>&1)
    VRC=$?
    check_eq "$1: osslsigncode without CRLs: signature, chain and time-stamp ok" 0 "$VRC" ||
        printf '%s\n' "$VOUT" | tail -n 20
    ts=$(tstime)
    rd=$(revdate "$3")
    # Both must be numbers: an absent CRL entry or an unparsable time is
    # a failure, never "rejected".
    if ! [[ "$ts" =~ ^[0-9]+$ && "$rd" =~ ^[0-9]+$ ]]; then
        fail "$1: CSC-12 needs two times (time-stamp '$ts', revocationDate '$rd')"
        return
    fi
    if [ "$ts" -lt "$rd" ]; then v=accepted; else v=rejected; fi
    check_eq "$1: CSC-12 (time-stamp $ts vs revocationDate $rd)" "$4" "$v"
}

# ---- Suspect Code ----
K=$(key release) || exit 1
SERIAL=$(openssl x509 -in "leaf.$K.pem" -noout -serial | sed 's/serial=//')
sign "$K" first.efi
sleep 3
T2=$(date +%s)
sign "$K" second.efi
crls
verify first.efi
check_eq "before: osslsigncode accepts the first artifact (CRLs, chain)" 0 "$VRC"
verify second.efi
check_eq "before: and the second" 0 "$VRC"
osslsigncode extract-signature -in second.efi -out second.p7 >extract.log 2>&1 ||
    die "extract-signature: $(cat extract.log)"
req_json POST /v1/reports - \
    "{\"kind\":\"suspect_code\",\"evidence\":{\"pkcs7\":\"$(b64 second.p7)\"},\"reason\":\"this build drops malware\",\"contact\":\"av@example.org\"}"
check_status "an anonymous report of the second artifact (extract-signature)" 202
R=$(jget .id)
"$SIGNET" --json --token "$OP" report show "$R" >show.json 2>&1 || fail "report show: $(cat show.json)"
check_eq "it matched one signing event, of the key, made when the second was signed" \
    "1 $K 1" "$(jq -r --argjson t "$T2" '"\(.matches.total) \(.matches.events[0].key) \((.matches.events[0].time | fromdateiso8601) - $t | if . >= 0 and . <= 5 then 1 else . end)"' show.json)"
"$SIGNET" --json --token "$OP" report confirm "$R" >confirm.json 2>&1 ||
    fail "report confirm: $(cat confirm.json)"
check_eq "the operator (second factor) confirmed" confirmed "$(jq -r .state confirm.json)"
crls
REV=$(revdate "$SERIAL")
check_eq "openssl crl: revoked from the signing event the report matched" \
    "$(epoch "$(jq -r '.matches.events[0].time' show.json)")" "$REV"
check_match "openssl crl: keyCompromise" 'Key Compromise' \
    "$(openssl crl -inform DER -in crl.codesigning.der -noout -text | grep -A1 'CRL Reason Code')"
OCSP_OUT=$(openssl ocsp -issuer codesigning.pem -cert "leaf.$K.pem" \
    -url "$PUBLIC_URL/ca/ocsp" -CAfile root.pem 2>&1)
check_eq "openssl ocsp: revoked at the same time" "$REV" \
    "$(epoch "$(grep -m1 'Revocation Time:' <<<"$OCSP_OUT" | sed 's/.*Time: //')")"

# osslsigncode's own verdict with the new CRL, as it is.
verify first.efi
rc1=$VRC out1=$VOUT
verify second.efi
check_ne "osslsigncode rejects the second artifact with the new CRL" 0 "$VRC"
check_match "... because the certificate is revoked" 'certificate revoked' "$VOUT"
check_ne "osslsigncode also rejects the first (its CRL check ignores revocationDate)" 0 "$rc1"
check_match "... for the same reason, not the signature or the time-stamp" \
    'certificate revoked' "$out1"
check_match "... while it read the first time-stamp" 'Timestamp Server Signature verification: ok' "$out1"
# The CSC-12 rule, on what osslsigncode and openssl say.
csc12 "first artifact" first.efi "$SERIAL" accepted
csc12 "second artifact" second.efi "$SERIAL" rejected

# ---- key compromise, reported by the subscriber ----
K2=$(key "build key") || exit 1
SERIAL2=$(openssl x509 -in "leaf.$K2.pem" -noout -serial | sed 's/serial=//')
sign "$K2" before.efi
sleep 3
sign "$K2" stolen.efi
osslsigncode extract-signature -pem -in stolen.efi -out stolen.pem >extract.log 2>&1 ||
    die "extract-signature -pem: $(cat extract.log)"
"$SIGNET" --json --token "$TA" report create --kind key_compromise \
    --pkcs7 stolen.pem --reason "signing key used by someone else" \
    --contact sec@acme.example >kc.json 2>kc.err || fail "report create: $(cat kc.err)"
R2=$(jq -r .id kc.json)
check_eq "acme's report (a PEM PKCS#7) matched its own key's event" "1 $K2" \
    "$(jq -r '"\(.matches.total) \(.matches.events[0].key)"' kc.json)"
"$SIGNET" --json --token "$OP" report confirm "$R2" >confirm2.json 2>&1 ||
    fail "report confirm: $(cat confirm2.json)"
check_eq "confirmed: the key is disabled" "confirmed disabled" \
    "$(jq -r .state confirm2.json) $("$SIGNET" --json --token "$TA" key show "$K2" | jq -r .state)"
crls
check_eq "openssl crl: the compromised key's certificate revoked from the stolen signature" \
    "$(jq -r '.keys[0].revocation_date' confirm2.json | xargs -I{} date -u -d {} +%s)" \
    "$(revdate "$SERIAL2")"
verify stolen.efi
check_ne "osslsigncode rejects the stolen artifact" 0 "$VRC"
csc12 "signed before the compromise" before.efi "$SERIAL2" accepted
csc12 "signed with the stolen key" stolen.efi "$SERIAL2" rejected
check_eq "the first key's certificate keeps its date" "$REV" "$(revdate "$SERIAL")"
finish
