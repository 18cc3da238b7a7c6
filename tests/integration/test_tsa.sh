#!/usr/bin/env bash
# The time-stamp authority (RFC 3161/5816, CSBR), judged by independent
# clients and verifiers:
#  - `openssl ts -query` requests over the plain-HTTP listener, replies
#    checked with `openssl ts -verify` against the Signet root; nonce echo,
#    certReq honoured, policy 2.23.140.1.4.2, accuracy, genTime without
#    trailing fractional zeros, ESSCertIDv2, sha256/384/512;
#  - the TSA certificate: critical EKU timeStamping only, CSBR policy,
#    chains to the root for `openssl verify -purpose timestampsign`;
#  - refusals as PKIStatus/failInfo (badAlg, badDataFormat,
#    unacceptedPolicy, unacceptedExtension) and HTTP 415/400/413;
#  - serial numbers unique across a restart and a kill -9 under load, one
#    tsa_tokens row per token;
#  - `signet timestamp`, `signet tsa rotate` (pkcs11-tool sees the old key
#    gone) and `signet tsa clock-ok`;
#  - osslsigncode (RFC 3161 and legacy Authenticode) and jarsigner.
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite
# osslsigncode 2.6+ can be told not to fetch CRLs from the certificates'
# (default-URL) distribution points; 2.5 (Debian 12 main) does not have it.
IGNORE_CDP=()
if osslsigncode --help 2>&1 | grep -e -ignore-cdp >/dev/null; then
    IGNORE_CDP=(-ignore-cdp)
fi

# Not optional: scripts/deps.sh installs them.
for tool in osslsigncode jarsigner keytool jar python3 sqlite3 pkcs11-tool; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

server_start
cd "$WORK" || die "cd $WORK"
ROOT=$SERVER_HOME/ca/root.pem
TSCA=$SERVER_HOME/ca/timestamping.pem
QT=application/timestamp-query
CSBR_POLICY=2.23.140.1.4.2

# tsa_cert OUT: the current TSA certificate (HOME/ca/tsa.pem after key-id).
tsa_cert() { sed -n '/-----BEGIN/,$p' "$SERVER_HOME/ca/tsa.pem" >"$1"; }
tsa_key_id() { sed -n 's/^key-id: //p' "$SERVER_HOME/ca/tsa.pem"; }
tsa_cert tsa.pem
cat "$TSCA" tsa.pem >untrusted_all.pem

# tsa_post QUERY OUT [CONTENT_TYPE] [PATH]: sets TSA_STATUS and TSA_CTYPE.
tsa_post() {
    local w
    w=$(curl -sS --max-time 60 -o "$2" -w '%{http_code} %{content_type}' \
        -H "Content-Type: ${3:-$QT}" --data-binary "@$1" \
        "$PUBLIC_URL${4:-/tsa}" 2>&1)
    TSA_STATUS=${w%% *}
    TSA_CTYPE=${w#* }
}
# ts_field REPLY FIELD: a line of `openssl ts -reply -text`.
ts_field() {
    openssl ts -reply -in "$1" -text 2>/dev/null | sed -n "s/^$2: //p" | head -n1
}
q_field() {
    openssl ts -query -in "$1" -text 2>/dev/null | sed -n "s/^$2: //p" | head -n1
}
# ts_verify QUERY REPLY [UNTRUSTED]: openssl's verdict on the reply.
ts_verify() {
    local out
    out=$(openssl ts -verify -in "$2" -queryfile "$1" -CAfile "$ROOT" \
        -untrusted "${3:-$TSCA}" 2>&1)
    printf '%s\n' "$out"
    [[ "$out" == *"Verification: OK"* ]]
}
# token_subjects REPLY: subjects of the certificates inside the token.
token_subjects() {
    openssl ts -reply -in "$1" -token_out -out "$1.tok" 2>/dev/null || return 1
    openssl pkcs7 -inform DER -in "$1.tok" -print_certs 2>/dev/null |
        sed -n 's/^subject=//p'
}
# token_cert REPLY OUT: the TSA certificate from the token.
token_cert() {
    openssl ts -reply -in "$1" -token_out -out "$1.tok" 2>/dev/null &&
        openssl pkcs7 -inform DER -in "$1.tok" -print_certs 2>/dev/null |
        awk '/subject=.*Timestamping Authority/{f=1} f' |
            sed -n '/-----BEGIN/,/-----END/p' >"$2"
}
# gen_time REPLY: the DER GeneralizedTime of the TSTInfo, as encoded.
gen_time() {
    local off
    off=$(openssl asn1parse -inform DER -in "$1" 2>/dev/null |
        awk '/id-smime-ct-TSTInfo/ {f = 1; next}
             f && /OCTET STRING/ {sub(/:.*/, "", $1); print $1; exit}')
    [ -n "$off" ] || return 1
    openssl asn1parse -inform DER -in "$1" -strparse "$off" 2>/dev/null |
        sed -n 's/.*GENERALIZEDTIME *://p' | head -n1
}
GENTIME_RE='^[0-9]{14}(\.[0-9]*[1-9])?Z$'
FI_BADALG="unrecognized or unsupported algorithm identifier"
FI_FORMAT="the data submitted has the wrong format"
FI_POLICY="the requested TSA policy is not supported by the TSA"
FI_EXT="the requested extension is not supported by the TSA"

# check_rejected WHAT REPLY FAILURE_INFO_TEXT
check_rejected() {
    check_eq "$1: HTTP 200 timestamp-reply" "200 application/timestamp-reply" \
        "$TSA_STATUS $TSA_CTYPE"
    check_eq "$1: PKIStatus" "Rejected." "$(ts_field "$2" Status)"
    check_eq "$1: failInfo" "$3" "$(ts_field "$2" 'Failure info')"
    check_eq "$1: no token" "Not included." \
        "$(openssl ts -reply -in "$2" -text 2>/dev/null | sed -n '/^TST info:/{n;p}')"
}

# ---- the TSA certificate ----
check_eq "TSA EKU is critical, timeStamping only" \
    "X509v3 Extended Key Usage: critical|Time Stamping" \
    "$(openssl x509 -in tsa.pem -noout -ext extendedKeyUsage 2>&1 | sed 's/^ *//' | paste -sd'|')"
check_match "TSA certificate policy $CSBR_POLICY" "Policy: $CSBR_POLICY" \
    "$(openssl x509 -in tsa.pem -noout -ext certificatePolicies 2>&1)"
check_match "TSA key is RSA >= 3072 or EC P-256/P-384" \
    'Public-Key: \((3072|4096|256|384) bit\)' \
    "$(openssl x509 -in tsa.pem -noout -text | grep 'Public-Key')"
check_eq "TSA certificate chains to the root for timestampsign" "tsa.pem: OK" \
    "$(openssl verify -purpose timestampsign -CAfile "$ROOT" -untrusted "$TSCA" tsa.pem 2>&1)"
out=$(openssl ocsp -issuer "$TSCA" -cert tsa.pem -url "$PUBLIC_URL/ca/ocsp" \
    -CAfile "$ROOT" 2>&1)
check_match "OCSP knows the TSA certificate: good" 'tsa.pem: good' "$out"
curl -sS --max-time 30 -o certs.pem "$PUBLIC_URL/ca/certs.pem" 2>/dev/null
check_eq "GET /ca/certs.pem carries the root" yes \
    "$([[ "$(tr -d '\n' <certs.pem)" == *"$(tr -d '\n' <"$ROOT")"* ]] && echo yes || echo no)"

# ---- granted requests ----
rand_file data.bin 4096
# granted MD NONCE(yes|no) CERT(yes|no)
granted() {
    local md=$1 nonce=$2 cert=$3 tag="$1 nonce=$2 cert=$3" args=() subj gt
    [ "$nonce" = no ] && args+=(-no_nonce)
    [ "$cert" = yes ] && args+=(-cert)
    local q=q.$md.$nonce.$cert.tsq r=r.$md.$nonce.$cert.tsr
    openssl ts -query -data data.bin "-$md" "${args[@]}" -out "$q" 2>/dev/null ||
        die "openssl ts -query $tag"
    tsa_post "$q" "$r"
    check_eq "$tag: HTTP 200 timestamp-reply" "200 application/timestamp-reply" \
        "$TSA_STATUS $TSA_CTYPE" || return
    check_eq "$tag: granted" "Granted." "$(ts_field "$r" Status)"
    if [ "$cert" = yes ]; then
        check_cmd "$tag: openssl ts -verify (root + timestamping CA)" \
            ts_verify "$q" "$r"
    else
        check_cmd "$tag: openssl ts -verify (TSA cert supplied)" \
            ts_verify "$q" "$r" untrusted_all.pem
    fi
    check_eq "$tag: hash algorithm" "$md" "$(ts_field "$r" 'Hash Algorithm')"
    check_eq "$tag: policy" "$CSBR_POLICY" "$(ts_field "$r" 'Policy OID')"
    check_eq "$tag: accuracy" "0x01 seconds, unspecified millis, unspecified micros" \
        "$(ts_field "$r" Accuracy)"
    if [ "$nonce" = yes ]; then
        check_eq "$tag: nonce echoed" "$(q_field "$q" Nonce)" "$(ts_field "$r" Nonce)"
    else
        check_eq "$tag: no nonce" "unspecified" "$(ts_field "$r" Nonce)"
    fi
    gt=$(gen_time "$r")
    check_match "$tag: genTime UTC, no trailing fractional zeros" \
        "$GENTIME_RE" "$gt"
    check_match "$tag: ESSCertIDv2 (signingCertificateV2)" \
        'id-smime-aa-signingCertificateV2' \
        "$(openssl asn1parse -inform DER -in "$r" 2>/dev/null | grep -E 'signingCertificate|1\.2\.840\.113549\.1\.9\.16\.2\.(12|47)')"
    subj=$(token_subjects "$r")
    if [ "$cert" = yes ]; then
        check_match "$tag: TSA certificate in the token" \
            'Signet Timestamping Authority' "$subj"
        token_cert "$r" "$r.cert.pem"
        check_eq "$tag: the token's TSA certificate is HOME/ca/tsa.pem" \
            "$(openssl x509 -in tsa.pem -noout -fingerprint -sha256)" \
            "$(openssl x509 -in "$r.cert.pem" -noout -fingerprint -sha256 2>&1)"
    else
        check_eq "$tag: no certificates in the token (certReq false)" "" "$subj"
    fi
}
for md in sha256 sha384 sha512; do
    granted "$md" yes yes
done
granted sha256 no yes
granted sha256 yes no
granted sha256 no no
check_healthy "granted requests"

# ---- refusals ----
openssl ts -query -data data.bin -sha1 -cert -out sha1.tsq 2>/dev/null || die "sha1 query"
tsa_post sha1.tsq sha1.tsr
check_rejected "SHA-1 imprint" sha1.tsr "$FI_BADALG"
openssl ts -query -data data.bin -md5 -cert -out md5.tsq 2>/dev/null || die "md5 query"
tsa_post md5.tsq md5.tsr
check_rejected "MD5 imprint" md5.tsr "$FI_BADALG"
openssl ts -query -data data.bin -sha256 -tspolicy 1.2.3.4 -out pol.tsq 2>/dev/null ||
    die "policy query"
tsa_post pol.tsq pol.tsr
check_rejected "unsupported policy 1.2.3.4" pol.tsr "$FI_POLICY"
openssl ts -query -data data.bin -sha256 -tspolicy "$CSBR_POLICY" -out pol2.tsq 2>/dev/null ||
    die "policy query"
tsa_post pol2.tsq pol2.tsr
check_eq "requested policy $CSBR_POLICY: granted" "Granted." "$(ts_field pol2.tsr Status)"

# Hand-made DER (openssl ts -query will not build these).
cat >mkreq.py <<'EOF'
import hashlib, sys

def tlv(tag, body):
    n = len(body)
    if n < 128:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body

SHA256 = tlv(0x30, bytes.fromhex("0609608648016503040201") + b"\x05\x00")

def req(imprint, nonce, ext=b""):
    mi = tlv(0x30, SHA256 + tlv(0x04, imprint))
    return tlv(0x30, tlv(0x02, b"\x01") + mi + tlv(0x02, nonce) + ext)

kind, out = sys.argv[1], sys.argv[2]
d = hashlib.sha256(b"signet tsa crafted").digest()
nonce = bytes.fromhex("1122334455667788")
if kind == "ok":
    der = req(d, nonce)
elif kind == "short":  # 20 bytes under the SHA-256 OID
    der = req(d[:20], nonce)
elif kind == "long":
    der = req(d + d[:16], nonce)
elif kind == "ext":  # extensions [0] { 1.2.3.4 critical OCTET STRING }
    e = tlv(0x30, tlv(0x06, bytes.fromhex("2a0304")) + b"\x01\x01\xff" +
            tlv(0x04, b"\x05\x00"))
    der = req(d, nonce, tlv(0xA0, e))
elif kind == "bulk":  # bulk N DIR: N queries with distinct imprints
    n, outdir = int(sys.argv[2]), sys.argv[3]
    for i in range(n):
        di = hashlib.sha256(b"signet tsa bulk %d" % i).digest()
        with open("%s/b%d.tsq" % (outdir, i), "wb") as f:
            f.write(req(di, b"\x10" + i.to_bytes(3, "big")))
        with open("%s/b%d.hex" % (outdir, i), "w") as f:
            f.write(di.hex())
    sys.exit(0)
with open(out, "wb") as f:
    f.write(der)
EOF
for k in ok short long ext; do
    python3 mkreq.py "$k" "craft.$k.tsq" || die "mkreq $k"
    tsa_post "craft.$k.tsq" "craft.$k.tsr"
done
check_eq "crafted control request: granted" "Granted." "$(ts_field craft.ok.tsr Status)"
check_eq "crafted control request: nonce echoed" "0x1122334455667788" \
    "$(ts_field craft.ok.tsr Nonce)"
check_rejected "20-byte imprint under SHA-256" craft.short.tsr "$FI_FORMAT"
check_rejected "48-byte imprint under SHA-256" craft.long.tsr "$FI_FORMAT"
check_rejected "request with an extension" craft.ext.tsr "$FI_EXT"
rand_file garbage.bin 300
tsa_post garbage.bin garbage.tsr
check_rejected "garbage body" garbage.tsr "$FI_FORMAT"
head -c 40 q.sha256.yes.yes.tsq >trunc.tsq
tsa_post trunc.tsq trunc.tsr
check_rejected "truncated DER" trunc.tsr "$FI_FORMAT"
cat q.sha256.yes.yes.tsq q.sha256.yes.yes.tsq >double.tsq
tsa_post double.tsq double.tsr
check_rejected "trailing bytes after the request (strict DER)" double.tsr "$FI_FORMAT"
check_healthy "refused requests"

tsa_post q.sha256.yes.yes.tsq http.tsr text/plain
check_eq "wrong content type -> 415" 415 "$TSA_STATUS"
: >empty.tsq
tsa_post empty.tsq http.tsr
check_eq "empty body -> 400" 400 "$TSA_STATUS"
head -c $((10 << 20)) /dev/zero >big.tsq
tsa_post big.tsq http.tsr
check_eq "10 MiB body -> 413" 413 "$TSA_STATUS"
check_healthy "HTTP-level refusals"
tsa_post q.sha256.yes.yes.tsq after.tsr
check_eq "a good request after the refusals: granted" "Granted." "$(ts_field after.tsr Status)"
# The authenticated HTTPS API serves /tsa too.
STATUS=$(curl -sS --max-time 30 --cacert "$SERVER_CA" -o api.tsr -w '%{http_code}' \
    -H "Content-Type: $QT" --data-binary @q.sha256.yes.yes.tsq "$SERVER_URL/tsa" 2>&1)
check_eq "HTTPS /tsa: HTTP 200" 200 "$STATUS"
check_cmd "HTTPS /tsa: openssl ts -verify" ts_verify q.sha256.yes.yes.tsq api.tsr

# ---- serial numbers: restart, kill -9 under load ----
mkdir -p bulk
python3 mkreq.py bulk 120 bulk || die "bulk queries"
# bulk_post FROM TO: one query after another; replies bulk/bN.tsr.
bulk_post() {
    local i
    for ((i = $1; i < $2; i++)); do
        curl -sS --max-time 30 -o "bulk/b$i.tsr" -H "Content-Type: $QT" \
            --data-binary "@bulk/b$i.tsq" "$PUBLIC_URL/tsa" 2>/dev/null ||
            rm -f "bulk/b$i.tsr"
    done
}
bulk_post 0 20
server_stop
server_start
bulk_post 20 40
# Four clients at once; signetd is killed in the middle of it.
for c in 0 1 2 3; do
    bulk_post $((40 + c * 15)) $((55 + c * 15)) &
    EXTRA_PIDS+=($!)
done
sleep 0.4
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null; done
EXTRA_PIDS=()
server_start
bulk_post 100 120
sqlite3 -readonly "$SERVER_HOME/signet.db" \
    'SELECT serial, hash, imprint FROM tsa_tokens' >db_tokens.txt 2>&1 ||
    fail "sqlite3 cannot read tsa_tokens: $(cat db_tokens.txt)"
: >serials.txt
n_tok=0 bad_time=() bad_db=()
for ((i = 0; i < 120; i++)); do
    r=bulk/b$i.tsr
    [ -s "$r" ] || continue
    [ "$(ts_field "$r" Status)" = "Granted." ] || continue
    n_tok=$((n_tok + 1))
    s=$(ts_field "$r" 'Serial number' | sed 's/^0x//')
    echo "$s" >>serials.txt
    gt=$(gen_time "$r")
    [[ "$gt" =~ $GENTIME_RE ]] || bad_time+=("b$i:$gt")
    grep -qx "$s|sha256|$(cat "bulk/b$i.hex")" db_tokens.txt || bad_db+=("b$i:$s")
done
log "$n_tok tokens across a restart and a kill -9"
check_match "at least 50 tokens issued across restart and kill -9" \
    '^([5-9][0-9]|1[0-9][0-9])$' "$n_tok"
check_eq "token serial numbers are all distinct" "" "$(sort serials.txt | uniq -d)"
check_eq "every genTime is UTC without trailing fractional zeros" "" "${bad_time[*]}"
check_eq "every token has its tsa_tokens row (serial, sha256, imprint)" "" "${bad_db[*]}"
check_eq "tsa_tokens has no duplicate serials" "" \
    "$(cut -d'|' -f1 db_tokens.txt | sort | uniq -d)"
check_match "tsa_tokens rows >= tokens seen here" 'yes' \
    "$([ "$(grep -c '|' db_tokens.txt)" -ge "$n_tok" ] && echo yes || echo "no: $(grep -c '|' db_tokens.txt) rows, $n_tok tokens")"
check_healthy "kill -9 and restart"

# ---- signet timestamp ----
rand_file doc.bin 200000
out=$("$SIGNET" timestamp doc.bin 2>&1)
check_eq "signet timestamp exits 0" 0 "$?" || log "$out"
check_cmd "openssl ts -verify -data accepts doc.bin.tsr" \
    openssl ts -verify -data doc.bin -in doc.bin.tsr -CAfile "$ROOT" -untrusted "$TSCA"
check_eq "signet timestamp prints the token's serial" \
    "$(ts_field doc.bin.tsr 'Serial number' | sed 's/^0x//')" \
    "$(printf '%s\n' "$out" | sed -n 's/^serial *//p')"
check_eq "signet timestamp prints the token's genTime" "$(gen_time doc.bin.tsr)" \
    "$(printf '%s\n' "$out" | sed -n 's/^gen_time *//p')"
check_match "signet timestamp: nonce sent" '^0x[0-9A-F]+$' "$(ts_field doc.bin.tsr Nonce)"
check_match "signet timestamp: certificate requested" 'Signet Timestamping Authority' \
    "$(token_subjects doc.bin.tsr)"
check_cmd "signet timestamp --digest-algorithm sha512 --no-nonce --no-cert" \
    "$SIGNET" timestamp doc.bin --digest-algorithm sha512 --no-nonce --no-cert -o doc.512.tsr
check_eq "--digest-algorithm sha512: hash" sha512 "$(ts_field doc.512.tsr 'Hash Algorithm')"
check_eq "--no-nonce: no nonce" unspecified "$(ts_field doc.512.tsr Nonce)"
check_eq "--no-cert: no certificates" "" "$(token_subjects doc.512.tsr)"
check_cmd "openssl ts -verify -data accepts the sha512 token" \
    openssl ts -verify -data doc.bin -in doc.512.tsr -CAfile "$ROOT" -untrusted untrusted_all.pem
check_cmd "signet timestamp --json" "$SIGNET" timestamp doc.bin --json -o doc.json.tsr
js=$("$SIGNET" timestamp doc.bin --json -o doc.json3.tsr 2>&1)
check_eq "signet timestamp --json: serial is the token's" \
    "$(ts_field doc.json3.tsr 'Serial number' | sed 's/^0x//')" "$(jget .serial "$js")"
"$SIGNET" timestamp doc.bin --digest-algorithm sha1 -o x.tsr >/dev/null 2>&1
check_eq "signet timestamp --digest-algorithm sha1: usage error" 2 "$?"
"$SIGNET" timestamp no-such-file >/dev/null 2>&1
check_eq "signet timestamp of a missing file fails" 1 "$?"
check_eq "no output written for a missing file" "no" \
    "$([ -e no-such-file.tsr ] && echo yes || echo no)"

# ---- signet tsa rotate / clock-ok ----
SERVICE_PIN=$(tr -d '\n' <"$SERVER_HOME/hsm/service.pin")
service_keys() {
    p11 --token-label signet-service --login --pin "$SERVICE_PIN" \
        --list-objects --type privkey 2>&1 | sed -n 's/^ *label: *//p'
}
OLD_ID=$(tsa_key_id)
OLD_SERIAL=$(openssl x509 -in tsa.pem -noout -serial)
check_eq "pkcs11-tool lists the TSA key $OLD_ID before rotation" yes \
    "$(service_keys | grep -x "$OLD_ID" >/dev/null && echo yes || echo no)"
SUB=$(new_subscriber tsa-user) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
SIGNET_TOKEN=$TOK "$SIGNET" tsa rotate >rot.out 2>&1
check_eq "signet tsa rotate with a subscriber token fails" 1 "$?"
check_match "... with the server's refusal" 'admin' "$(cat rot.out)"
check_eq "the TSA key is unchanged after the refused rotation" "$OLD_ID" "$(tsa_key_id)"
out=$(SIGNET_TOKEN=$ADMIN "$SIGNET" tsa rotate 2>&1)
check_eq "signet tsa rotate (admin) exits 0" 0 "$?" || log "$out"
NEW_ID=$(tsa_key_id)
check_ne "HOME/ca/tsa.pem names a new key" "$OLD_ID" "$NEW_ID"
check_match "signet tsa rotate prints the new key id" "$NEW_ID" "$out"
openssl ts -query -data data.bin -sha256 -cert -out rot.tsq 2>/dev/null || die "query"
tsa_post rot.tsq rot.tsr
check_eq "after rotation: granted" "Granted." "$(ts_field rot.tsr Status)"
check_cmd "after rotation: openssl ts -verify" ts_verify rot.tsq rot.tsr
token_cert rot.tsr rot.cert.pem
NEW_SERIAL=$(openssl x509 -in rot.cert.pem -noout -serial 2>&1)
check_ne "after rotation: the token's TSA certificate is a new one" "$OLD_SERIAL" "$NEW_SERIAL"
tsa_cert tsa.new.pem
check_eq "after rotation: the token's certificate is the new HOME/ca/tsa.pem" \
    "$(openssl x509 -in tsa.new.pem -noout -serial)" "$NEW_SERIAL"
check_eq "the new TSA certificate chains for timestampsign" "rot.cert.pem: OK" \
    "$(openssl verify -purpose timestampsign -CAfile "$ROOT" -untrusted "$TSCA" rot.cert.pem 2>&1)"
keys=$(service_keys)
check_eq "pkcs11-tool: the old TSA key is gone" no \
    "$(grep -qx "$OLD_ID" <<<"$keys" && echo yes || echo no)"
check_eq "pkcs11-tool: the new TSA key is there" yes \
    "$(grep -qx "$NEW_ID" <<<"$keys" && echo yes || echo no)"
check_eq "audit: one tsa_rotate record" 1 \
    "$(sqlite3 -readonly "$SERVER_HOME/signet.db" "SELECT count(*) FROM audit WHERE action = 'tsa_rotate'" 2>&1)"
check_cmd "signet tsa clock-ok (admin)" env SIGNET_TOKEN="$ADMIN" "$SIGNET" tsa clock-ok
check_eq "audit: one tsa_clock_ok record" 1 \
    "$(sqlite3 -readonly "$SERVER_HOME/signet.db" "SELECT count(*) FROM audit WHERE action = 'tsa_clock_ok'" 2>&1)"
check_cmd_fails "signet tsa clock-ok with a subscriber token fails" \
    env SIGNET_TOKEN="$TOK" "$SIGNET" tsa clock-ok
cp tsa.new.pem tsa.pem
cat "$TSCA" tsa.pem >untrusted_all.pem

# ---- a throw-away code signing PKI for the signing tools ----
cat >cs.ext <<'EOF'
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl req -x509 -newkey rsa:2048 -nodes -keyout csroot.key -out csroot.pem \
    -days 2 -subj "/CN=TSA Test Code Signing Root/O=Throwaway" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 || die "cs root"
openssl req -new -newkey rsa:2048 -nodes -keyout cs.key -out cs.csr \
    -subj "/CN=TSA Test Signer/O=Throwaway" >/dev/null 2>&1 || die "cs csr"
openssl x509 -req -in cs.csr -CA csroot.pem -CAkey csroot.key -CAcreateserial \
    -days 1 -out cs.pem -extfile cs.ext -extensions leaf >/dev/null 2>&1 || die "cs cert"

# ---- osslsigncode: RFC 3161 and legacy Authenticode ----
cat >mkpe.py <<'EOF'
import struct, sys
# A minimal PE32 image: headers, one .text section holding "ret".
dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
coff = struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 224, 0x0102)
opt = struct.pack("<HBBIIIIII", 0x10B, 14, 0, 0x200, 0, 0, 0x1000, 0x1000, 0x2000)
opt += struct.pack("<IIIHHHHHHIIIIHHIIIIII", 0x400000, 0x1000, 0x200, 6, 0,
                   0, 0, 6, 0, 0, 0x2000, 0x200, 0, 3, 0x8140, 0x100000,
                   0x1000, 0x100000, 0x1000, 0, 16)
opt += b"\0" * (16 * 8)
sect = b".text\0\0\0" + struct.pack("<IIIIIIHHI", 0x1000, 0x1000, 0x200, 0x200,
                                     0, 0, 0, 0, 0x60000020)
hdr = dos + b"PE\0\0" + coff + opt + sect
hdr += b"\0" * (0x200 - len(hdr))
body = b"\xc3" + b"\0" * 0x1FF
open(sys.argv[1], "wb").write(hdr + body)
EOF
python3 mkpe.py a.exe || die "mkpe"
cat csroot.pem "$ROOT" >bundle.pem
# osslsigncode 2.9 refuses a TSA certificate with a CRL distribution point
# unless it has the CRLs; the configured base URL is not this test's port,
# so they come from the public listener by hand.
: >crls.pem
for ca in root timestamping; do
    curl -sS --max-time 30 -o "crl.$ca.der" "$PUBLIC_URL/ca/crl/$ca" 2>/dev/null &&
        openssl crl -inform DER -in "crl.$ca.der" >>crls.pem 2>/dev/null ||
        fail "cannot fetch the $ca CRL from $PUBLIC_URL/ca/crl/$ca"
done
# ossl_sign MODE(-ts|-t) URL OUT
ossl_sign() {
    osslsigncode sign -certs cs.pem -key cs.key -h sha256 "$1" "$2" \
        -in a.exe -out "$3"
}
ossl_verify() {
    osslsigncode verify -CAfile bundle.pem -TSA-CAfile "$ROOT" \
        -TSA-CRLfile crls.pem ${IGNORE_CDP[@]} -in "$1"
}
for mode in rfc3161 authenticode; do
    if [ $mode = rfc3161 ]; then
        flag=-ts url=$PUBLIC_URL/tsa
    else
        flag=-t url=$PUBLIC_URL/tsa/authenticode
    fi
    rm -f "s.$mode.exe"
    check_cmd "osslsigncode sign $flag ($mode)" ossl_sign "$flag" "$url" "s.$mode.exe"
    vout=$(ossl_verify "s.$mode.exe" 2>&1)
    vrc=$?
    check_eq "osslsigncode verify ($mode): exit 0" 0 "$vrc" ||
        printf '%s\n' "$vout" | tail -n 25
    check_match "osslsigncode verify ($mode): signature ok" \
        'Signature verification: ok' "$vout"
    check_match "osslsigncode verify ($mode): timestamp present" \
        'Timestamp time: ' "$vout"
    check_match "osslsigncode verify ($mode): timestamp by the Signet TSA" \
        'Subject: /C=[A-Z]+/O=[^/]+/CN=Signet Timestamping Authority' "$vout"
    check_match "osslsigncode verify ($mode): timestamp signature verified" \
        'Timestamp Server Signature verification: ok' "$vout"
    check_nomatch "osslsigncode verify ($mode): nothing failed" \
        'verification: failed' "$vout"
    flip_byte "s.$mode.exe" "t.$mode.exe" 512
    check_cmd_fails "osslsigncode verify ($mode): a modified file fails" \
        ossl_verify "t.$mode.exe"
done

# Authenticode tokens are recorded like RFC 3161 ones.
AC_ROWS=$(sqlite3 "$SERVER_HOME/signet.db" \
    "SELECT count(*) FROM tsa_tokens WHERE policy = 'authenticode'")
check_ne "Authenticode time-stamps are recorded in tsa_tokens" 0 "$AC_ROWS"

# ---- no record, no token ----
# With the token log refusing writes, neither kind of time-stamp leaves
# and no row appears; once it accepts writes again, time-stamping resumes.
openssl ts -query -data tsa.pem -sha256 -cert -out norec.tsq 2>/dev/null ||
    die "openssl ts -query"
cat >ac.cnf <<'EOC'
asn1 = SEQUENCE:req
[req]
type = OID:1.3.6.1.4.1.311.3.2.1
content = SEQUENCE:content
[content]
type = OID:pkcs7-data
data = EXPLICIT:0,OCTETSTRING:signature-bytes
EOC
openssl asn1parse -genconf ac.cnf -noout -out ac.der >/dev/null 2>&1 ||
    die "openssl asn1parse -genconf"
base64 -w0 ac.der >ac.b64
tsa_post ac.b64 ac.out application/octet-stream /tsa/authenticode
check_eq "a hand-made Authenticode request is answered" 200 "$TSA_STATUS"
ROWS=$(sqlite3 "$SERVER_HOME/signet.db" "SELECT count(*) FROM tsa_tokens")
sqlite3 "$SERVER_HOME/signet.db" "CREATE TRIGGER no_tsa BEFORE INSERT ON \
tsa_tokens BEGIN SELECT RAISE(ABORT, 'disk full'); END;" ||
    die "cannot install the trigger"
tsa_post norec.tsq norec.tsr
check_eq "RFC 3161: token log refuses writes -> 503" 503 "$TSA_STATUS"
check_match "RFC 3161: an error, not a token" '"unavailable"' "$(cat norec.tsr)"
tsa_post ac.b64 ac.out application/octet-stream /tsa/authenticode
check_eq "Authenticode: token log refuses writes -> 503" 503 "$TSA_STATUS"
check_match "Authenticode: an error, not a token" '"unavailable"' "$(cat ac.out)"
check_eq "no row was added" "$ROWS" \
    "$(sqlite3 "$SERVER_HOME/signet.db" "SELECT count(*) FROM tsa_tokens")"
sqlite3 "$SERVER_HOME/signet.db" "DROP TRIGGER no_tsa;"
tsa_post norec.tsq norec.tsr
check_eq "time-stamping resumes once the log accepts writes" 200 "$TSA_STATUS"
check_cmd "and openssl ts -verify accepts the token" \
    ts_verify norec.tsq norec.tsr
check_healthy "token log failures"

# ---- jarsigner ----
mkdir -p jar/pkg && echo 'hello from a jar' >jar/pkg/hello.txt
(cd jar && jar cf ../a.jar pkg/hello.txt) || die "jar cf"
openssl pkcs12 -export -in cs.pem -inkey cs.key -certfile csroot.pem -name signer \
    -passout pass:changeit -out ks.p12 2>/dev/null || die "pkcs12"
rm -f trust.p12
keytool -importcert -noprompt -keystore trust.p12 -storetype PKCS12 \
    -storepass changeit -alias signet -file "$ROOT" >/dev/null 2>&1 || die "keytool signet"
keytool -importcert -noprompt -keystore trust.p12 -storetype PKCS12 \
    -storepass changeit -alias csroot -file csroot.pem >/dev/null 2>&1 || die "keytool csroot"
check_cmd "jarsigner -tsa signs a.jar" jarsigner -keystore ks.p12 -storetype PKCS12 \
    -storepass changeit -tsa "$PUBLIC_URL/tsa" a.jar signer
jout=$(jarsigner -verify -strict -verbose -certs -keystore trust.p12 \
    -storetype PKCS12 -storepass changeit a.jar 2>&1)
jrc=$?
check_eq "jarsigner -verify -strict: exit 0" 0 "$jrc" || printf '%s\n' "$jout" | tail -n 25
check_match "jarsigner -verify: jar verified" 'jar verified' "$jout"
check_match "jarsigner -verify: timestamped by the Signet TSA" \
    'Timestamped by "CN=Signet Timestamping Authority' "$jout"

check_healthy "signing tools"

# ---- the TSA's own certificate: OCSP in its AIA, revocation, expiry ----
# The TSA refuses (rejection, systemFailure: the request is sound, the TSA
# cannot sign) while its certificate is revoked, expired or not yet valid,
# or its key is past 15 months of use (CSBR 6.3.2), until it is rotated.
FI_SYSTEM="the request cannot be handled due to system failure"
# ts_desc REPLY: the statusString of a reply.
ts_desc() { ts_field "$1" 'Status description'; }
# aia_ocsp CERT: the OCSP URL in a certificate's AIA.
aia_ocsp() { openssl x509 -in "$1" -noout -ocsp_uri 2>/dev/null; }
# ocsp_via_aia CERT: the OCSP answer about CERT from the responder its AIA
# names (the URL's host:port is sent to this test's public listener, as a
# resolver would), as openssl prints it on one line once it has checked the
# signature and the nonce.
ocsp_via_aia() {
    local url hostport
    url=$(aia_ocsp "$1")
    [[ "$url" =~ ^http://([^/]+)/ ]] || { echo "no OCSP URL in $1"; return; }
    hostport=${BASH_REMATCH[1]}
    openssl ocsp -issuer "$TSCA" -cert "$1" -reqout "$1.ocsp.req" >/dev/null 2>&1
    curl -sS --max-time 30 -o "$1.ocsp.resp" \
        --connect-to "$hostport:127.0.0.1:$PUBLIC_PORT" \
        -H 'Content-Type: application/ocsp-request' \
        --data-binary "@$1.ocsp.req" "$url" 2>&1
    # The text on stdout, the verdict on stderr after it (in that order,
    # whatever the buffering).
    { openssl ocsp -reqin "$1.ocsp.req" -respin "$1.ocsp.resp" -CAfile "$ROOT" \
        -verify_other "$TSCA" -resp_text 2>"$1.ocsp.err"
      cat "$1.ocsp.err"; } | tr -s '\n ' ' '
}
# ocsp_re CERT STATUS: what ocsp_via_aia must show for CERT.
ocsp_re() {
    echo "Serial Number: $(openssl x509 -in "$1" -noout -serial | sed 's/^serial=//') Cert Status: $2.*Response verify OK"
}
BASE_URL=$(sed -n 's/^ca\.base_url *= *//p' "$SERVER_HOME/signetd.conf")
check_eq "TSA AIA: the OCSP responder (ca.base_url + /ca/ocsp)" \
    "$BASE_URL/ca/ocsp" "$(aia_ocsp tsa.pem)"
check_match "TSA AIA: caIssuers still names the timestamping CA" \
    "CA Issuers - URI:$BASE_URL/ca/timestamping.cer" \
    "$(openssl x509 -in tsa.pem -noout -ext authorityInfoAccess 2>&1)"
check_match "OCSP via the TSA certificate's AIA URL: good" \
    "$(ocsp_re tsa.pem good)" "$(ocsp_via_aia tsa.pem)"
openssl ts -query -data data.bin -sha256 -cert -out rv.tsq 2>/dev/null || die "query"
tsa_post rv.tsq rv.before.tsr
check_eq "before revocation: granted" "Granted." "$(ts_field rv.before.tsr Status)"
check_cmd "before revocation: openssl ts -verify" ts_verify rv.tsq rv.before.tsr
TSA_SERIAL=$(openssl x509 -in tsa.pem -noout -serial | sed 's/^serial=//')
req_json POST "/v1/ca/certificates/$TSA_SERIAL/revoke" "$ADMIN" \
    '{"reason":"keyCompromise"}'
check_status "admin revokes the TSA certificate (keyCompromise)" 200
tsa_post rv.tsq rv.after.tsr
check_rejected "revoked TSA certificate, the next request" rv.after.tsr "$FI_SYSTEM"
check_eq "revoked TSA certificate: statusString" "TSA certificate revoked." \
    "$(ts_desc rv.after.tsr)"
check_match "OCSP via the TSA certificate's AIA URL: revoked, keyCompromise" \
    "$(ocsp_re tsa.pem 'revoked Revocation Time: [^R]* Revocation Reason: keyCompromise')" \
    "$(ocsp_via_aia tsa.pem)"
tsa_post ac.b64 rv.ac.out application/octet-stream /tsa/authenticode
check_eq "revoked TSA certificate: Authenticode refused (503)" 503 "$TSA_STATUS"
# Still refusing after a restart: the status is read from the records.
server_stop
server_start
tsa_post rv.tsq rv.restart.tsr
check_rejected "revoked TSA certificate, after a restart" rv.restart.tsr "$FI_SYSTEM"
# The operator rotates: a new key and certificate, time-stamps resume.
check_cmd "signet tsa rotate after the revocation" \
    env SIGNET_TOKEN="$ADMIN" "$SIGNET" tsa rotate
tsa_cert tsa.rot2.pem
check_ne "rotation: a new TSA certificate" "$TSA_SERIAL" \
    "$(openssl x509 -in tsa.rot2.pem -noout -serial | sed 's/^serial=//')"
tsa_post rv.tsq rv.rot.tsr
check_eq "after the rotation: granted" "Granted." "$(ts_field rv.rot.tsr Status)"
check_cmd "after the rotation: openssl ts -verify" ts_verify rv.tsq rv.rot.tsr
check_match "OCSP via the new certificate's AIA URL: good" \
    "$(ocsp_re tsa.rot2.pem good)" "$(ocsp_via_aia tsa.rot2.pem)"
check_match "OCSP: the old TSA certificate stays revoked" \
    "$(ocsp_re tsa.pem revoked)" "$(ocsp_via_aia tsa.pem)"
check_healthy "TSA revocation"
server_stop

# ---- not yet valid, key past 15 months, expired (libfaketime) ----
# A second home made and run under libfaketime (Debian's libfaketime): only
# the test's own processes see the fake clock; signetd has no knob for it.
# It is made on 1 February, when 15 calendar months are shorter than 456
# days (454 or 455), so the end of the key's use is counted in months.
REAL_SIGNETD=$SIGNETD
FAKE_AT=$WORK/fake.at
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1)
[ -n "$FAKETIME_LIB" ] || die "libfaketime is not installed (scripts/deps.sh)"
# libfaketime preloaded into signetd itself (exec: SIGTERM reaches it).
{
    echo '#!/bin/sh'
    echo "# signetd with its clock started at the time in $FAKE_AT."
    echo 'ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0'
    echo "FAKETIME=\"\$(cat '$FAKE_AT')\" LD_PRELOAD='$FAKETIME_LIB'"
    echo 'export ASAN_OPTIONS FAKETIME LD_PRELOAD'
    echo "exec '$REAL_SIGNETD' \"\$@\""
} >"$WORK/signetd.faked"
chmod +x "$WORK/signetd.faked"
SIGNETD=$WORK/signetd.faked
# fake_at EPOCH: the next signetd started sees EPOCH as its start time.
fake_at() { date -u -d "@$1" '+@%Y-%m-%d %H:%M:%S' >"$FAKE_AT"; }
# The last 1 February, 12:00 UTC, at least a day ago.
Y=$(date -u +%Y)
INIT_AT=$(date -u -d "$Y-02-01 12:00:00" +%s)
[ "$INIT_AT" -lt $(($(date +%s) - 86400)) ] ||
    INIT_AT=$(date -u -d "$((Y - 1))-02-01 12:00:00" +%s)
fake_at "$INIT_AT"
server_init "$WORK/home-faked"
TSCA=$SERVER_HOME/ca/timestamping.pem
ROOT=$SERVER_HOME/ca/root.pem
tsa_cert ft.pem
NB=$(date -u -d "$(openssl x509 -in ft.pem -noout -startdate | sed 's/^notBefore=//')" +%s)
NA=$(date -u -d "$(openssl x509 -in ft.pem -noout -enddate | sed 's/^notAfter=//')" +%s)
# notBefore + 15 calendar months (1 February -> 1 May: no clamping).
KEY_END=$(date -u -d "$(date -u -d "@$NB" '+%Y-%m-%d %H:%M:%S') UTC +15 months" +%s)
log "faked TSA certificate: notBefore $NB, +15 months $KEY_END, notAfter $NA"
check_eq "the faked home's TSA certificate starts on 1 February" 02-01 \
    "$(date -u -d "@$NB" +%m-%d)"
check_cmd "... and 15 months after it are shorter than 456 days" \
    test $((KEY_END - NB)) -lt $((456 * 86400))
openssl ts -query -data data.bin -sha256 -cert -out ft.tsq 2>/dev/null || die "query"
# ft_reply NAME EPOCH: signetd started with its clock at EPOCH answers one
# request (reply ft.NAME.tsr) and stops.
ft_reply() {
    fake_at "$2"
    server_start
    tsa_post ft.tsq "ft.$1.tsr"
    server_stop
}
ft_reply early $((NB - 3600))
check_rejected "an hour before notBefore" ft.early.tsr "$FI_SYSTEM"
check_eq "an hour before notBefore: statusString" \
    "TSA certificate not yet valid." "$(ts_desc ft.early.tsr)"
ft_reply inuse $((KEY_END - 3600))
check_eq "an hour before 15 months of key use: granted" "Granted." \
    "$(ts_field ft.inuse.tsr Status)"
check_cmd "an hour before 15 months of key use: openssl ts -verify" \
    ts_verify ft.tsq ft.inuse.tsr
ft_reply retired $((KEY_END + 3600))
check_rejected "an hour past 15 months of key use" ft.retired.tsr "$FI_SYSTEM"
check_eq "past 15 months of key use: statusString" \
    "TSA key past its 15-month usage period." "$(ts_desc ft.retired.tsr)"
ft_reply expired $((NA + 3600))
check_rejected "an hour past notAfter" ft.expired.tsr "$FI_SYSTEM"
check_eq "past notAfter: statusString" "TSA certificate expired." \
    "$(ts_desc ft.expired.tsr)"
SIGNETD=$REAL_SIGNETD
finish
