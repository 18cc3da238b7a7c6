#!/usr/bin/env bash
# The main flow through the `signet` CLI (SIGNET_URL, SIGNET_TOKEN,
# SIGNET_CA_FILE): subscriber and token creation, key create/list/show,
# CSR, certificate, both signing modes, sign-digest, audit, --json output;
# results checked with openssl. CLI errors exit non-zero and print the
# server's message on stderr.
. "$(dirname "$0")/lib.sh"

[ -x "$SIGNET" ] || die "the signet CLI is not built: $SIGNET"
server_init
# Uploaded chains must end in a configured root: the test's CA, once made.
: >"$WORK/upload-roots.pem"
set_conf ca.upload_root "$WORK/upload-roots.pem"
server_start
cd "$WORK" || die "cd"

# cli WHAT ARGS...: runs signet ARGS, keeps stdout in OUT, stderr in ERR,
# the exit status in RC
cli() {
    shift
    "$SIGNET" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err"
    RC=$?
    OUT=$(cat "$WORK/cli.out")
    ERR=$(cat "$WORK/cli.err")
}
# cli_ok WHAT ARGS...: must exit 0
cli_ok() {
    local what=$1
    cli "$@"
    check_eq "$what: exit status (stderr: $ERR)" 0 "$RC"
}
# cli_json WHAT ARGS...: must exit 0 and print JSON
cli_json() {
    cli_ok "$@"
    CHECKS=$((CHECKS + 1))
    if jq -e . >/dev/null 2>&1 <<<"$OUT"; then
        pass "$1: --json output parses"
    else
        fail "$1: --json output parses"$'\n'"    actual: $(head -c 500 <<<"$OUT")"
    fi
}

export SIGNET_TOKEN=$ADMIN
cli_json "whoami (admin)" --json whoami
check_eq "whoami --json: admin" true "$(jget .admin "$OUT")"
cli_json "subscriber create" --json subscriber create acme
SUB=$(jget .id "$OUT")
check_match "subscriber id" '^[0-9a-f-]{36}$' "$SUB"
check_eq "subscriber name" acme "$(jget .name "$OUT")"
cli "subscriber create again (text)" subscriber create acme
check_eq "duplicate subscriber: exit 1" 1 "$RC"
check_match "duplicate subscriber: the server's message on stderr" "a subscriber named 'acme' exists" "$ERR"
cli_ok "subscriber list (text)" subscriber list
check_match "subscriber list shows acme" "acme" "$OUT"

cli_json "token create" --json token create --subscriber "$SUB" --role manage --role sign --name ci
TOK=$(jget .token "$OUT")
TOK_ID=$(jget .id "$OUT")
check_match "token looks like sn_<uuid>_<43>" '^sn_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$' "$TOK"
check_eq "token roles" "manage,sign" "$(jget '.roles | join(",")' "$OUT")"
export SIGNET_TOKEN=$TOK

cli_json "key create" --json key create --algorithm ecdsa-p256 --label "cli key"
K=$(jget .id "$OUT")
check_eq "created key: algorithm, state, label" "ecdsa-p256 enabled cli key" \
    "$(jget '"\(.algorithm) \(.state) \(.label)"' "$OUT")"
jget .public_key_pem "$OUT" >pub.pem
cli_ok "key create (text)" key create --algorithm rsa-3072 --label "cli rsa"
check_match "text output of key create mentions the algorithm" 'rsa-3072' "$OUT"
cli_json "key list" --json key list
check_eq "key list has both keys" 2 "$(jget '.keys | length' "$OUT")"
KR=$(jget '.keys[] | select(.algorithm == "rsa-3072") | .id' "$OUT")
check_match "rsa key id from the list" '^[0-9a-f-]{36}$' "$KR"
jget ".keys[] | select(.id == \"$KR\") | .public_key_pem" "$OUT" >pubr.pem
cli_ok "key list (text)" key list
check_match "text key list shows the key id" "$K" "$OUT"
cli_json "key show" --json key show "$K"
check_eq "key show: id" "$K" "$(jget .id "$OUT")"
check_eq "key show: never extractable" true "$(jget .protection.never_extractable "$OUT")"
cli_ok "key show (text)" key show "$K"
check_match "text key show has the state" 'enabled' "$OUT"

# ---- CSR and certificate ----
cli_ok "key csr" key csr "$K" --subject "/CN=Acme CLI Signing/O=Acme Corp/C=DE" -o k.csr
out=$(openssl req -verify -in k.csr -noout 2>&1)
check_match "openssl req -verify on the CLI's CSR" 'verify OK' "$out"
check_match "CSR subject" 'CN ?= ?Acme CLI Signing' "$(openssl req -in k.csr -noout -subject 2>&1)"
check_match "CSR subject O" 'O ?= ?Acme Corp' "$(openssl req -in k.csr -noout -subject 2>&1)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj "/CN=CLI Test Root" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 || die "CA"
cp ca.pem upload-roots.pem
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >leaf.ext
openssl x509 -req -in k.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
    -out k.pem -extfile leaf.ext >/dev/null 2>&1 || die "issue"
cli_ok "key set-certificate" key set-certificate "$K" k.pem
cli_json "key show after set-certificate" --json key show "$K"
check_eq "certificate attached" "$(openssl x509 -in k.pem -noout -fingerprint -sha256)" \
    "$(jget .certificate_pem "$OUT" | openssl x509 -noout -fingerprint -sha256 2>&1)"
cli_ok "key certificate -o" key certificate "$K" -o got.pem
check_eq "key certificate writes the certificate" "$(openssl x509 -in k.pem -noout -fingerprint -sha256)" \
    "$(openssl x509 -in got.pem -noout -fingerprint -sha256 2>&1)"
cli "set-certificate of another key's certificate" key set-certificate "$KR" k.pem
check_eq "set-certificate mismatch: exit 1" 1 "$RC"
check_match "set-certificate mismatch: server's message" "public key is not this key's" "$ERR"

# ---- sign: both modes ----
rand_file app.bin 500000
cli_ok "sign (local hashing)" sign --key "$K" app.bin -o app.local.p7s
check_cmd "openssl cms -verify: local hashing" openssl cms -verify -binary -inform DER \
    -in app.local.p7s -content app.bin -CAfile ca.pem -purpose any -out /dev/null
cli_ok "sign --upload" sign --key "$K" --upload app.bin -o app.upload.p7s
check_cmd "openssl cms -verify: upload" openssl cms -verify -binary -inform DER \
    -in app.upload.p7s -content app.bin -CAfile ca.pem -purpose any -out /dev/null
flip_byte app.bin app.mod 4242
check_cmd_fails "the modified file does not verify" openssl cms -verify -binary -inform DER \
    -in app.local.p7s -content app.mod -CAfile ca.pem -purpose any -out /dev/null
cli_json "sign --json" --json sign --key "$K" app.bin -o app.json.p7s
cli "sign with a key without certificate" sign --key "$KR" app.bin -o nope.p7s
check_eq "sign without certificate: exit 1" 1 "$RC"
check_match "sign without certificate: message" 'certificate' "$ERR"
check_eq "no output file after a failure" no "$([ -e nope.p7s ] && echo yes || echo no)"

# ---- sign-digest ----
DH=$(openssl dgst -sha256 -r app.bin | cut -d' ' -f1)
openssl dgst -sha256 -binary app.bin >app.dg
cli_ok "sign-digest" sign-digest --key "$K" --digest-algorithm sha256 --digest "$DH" -o app.sig
check_cmd "sign-digest signature verifies (openssl pkeyutl)" openssl pkeyutl -verify -pubin \
    -inkey pub.pem -sigfile app.sig -in app.dg -pkeyopt digest:sha256
flip_byte app.dg app.dg.bad 3
check_cmd_fails "sign-digest signature: a modified digest fails" openssl pkeyutl -verify -pubin \
    -inkey pub.pem -sigfile app.sig -in app.dg.bad -pkeyopt digest:sha256
openssl dgst -sha384 -binary app.bin >app.dg384
cli_json "sign-digest --json pss" --json sign-digest --key "$KR" --digest-algorithm sha384 \
    --digest "$(openssl dgst -sha384 -r app.bin | cut -d' ' -f1)" --scheme pss
jget .signature "$OUT" | base64 -d >app.pss.sig 2>/dev/null
check_cmd "sign-digest --json pss signature verifies" openssl pkeyutl -verify -pubin \
    -inkey pubr.pem -sigfile app.pss.sig -in app.dg384 -pkeyopt digest:sha384 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
cli "sign-digest with a short digest" sign-digest --key "$K" --digest-algorithm sha256 --digest abcd
check_ne "short digest: non-zero exit" 0 "$RC"
check_ne "short digest: a message on stderr" "" "$ERR"

# ---- audit ----
cli_json "audit" --json audit --key "$K"
check_match "audit has the sign-digest record" "$DH" "$OUT"
check_eq "audit --json: the sign record of the digest" "sign sha256 ecdsa 127.0.0.1" \
    "$(jget ".records[] | select(.action == \"sign\" and .digest == \"$DH\") | \"\(.action) \(.digest_algorithm) \(.scheme) \(.client)\"" "$OUT")"
cli_ok "audit (text)" audit --limit 5
check_ne "text audit prints something" "" "$OUT"

# ---- errors ----
MISSING=$(rand_uuid)
cli "key show of a missing key" key show "$MISSING"
check_eq "missing key: exit 1" 1 "$RC"
check_match "missing key: the server's message on stderr" 'no such key' "$ERR"
check_eq "missing key: nothing on stdout" "" "$OUT"
cli "key create rsa-2048" key create --algorithm rsa-2048 --label x
check_ne "rsa-2048: non-zero exit" 0 "$RC"
check_match "rsa-2048: says which algorithms are allowed" 'rsa-3072' "$ERR"
cli "no such command" frobnicate
check_eq "unknown command: exit 2" 2 "$RC"
cli "sign without --key" sign app.bin
check_eq "sign without --key: exit 2" 2 "$RC"
cli "sign a missing file" sign --key "$K" /nonexistent/file -o missing.p7s
check_eq "missing file: exit 1" 1 "$RC"
check_match "missing file: names it" '/nonexistent/file' "$ERR"
SIGNET_TOKEN=$ADMIN cli "admin token signs" sign-digest --key "$K" --digest-algorithm sha256 --digest "$DH"
check_eq "admin sign: exit 1" 1 "$RC"
check_match "admin sign: the server's message" 'admin' "$ERR"
SIGNET_TOKEN="sn_$(rand_uuid)_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" cli "unknown token" key list
check_eq "unknown token: exit 1" 1 "$RC"
check_match "unknown token: the server's message" 'unknown token' "$ERR"
cli "wrong CA file" --ca-file "$WORK/ca.pem" key list
check_eq "TLS failure (wrong CA): exit 1" 1 "$RC"
check_ne "TLS failure: a message" "" "$ERR"
printf '%s\n' "$TOK" >tok.file
chmod 600 tok.file
SIGNET_TOKEN='' cli_json "--token-file" --token-file tok.file --json whoami
check_eq "--token-file: the right token" "$TOK_ID" "$(jget .token_id "$OUT")"

# ---- token revoke via the CLI ----
SIGNET_TOKEN=$ADMIN cli_json "token create (sign only)" --json token create --subscriber "$SUB" --role sign --key "$K"
T2=$(jget .token "$OUT")
T2_ID=$(jget .id "$OUT")
check_eq "scoped token keys" "$K" "$(jget '.keys | join(",")' "$OUT")"
SIGNET_TOKEN=$T2 cli_ok "scoped token signs" sign-digest --key "$K" --digest-algorithm sha256 --digest "$DH" -o t2.sig
cli_ok "token revoke" token revoke "$T2_ID"
SIGNET_TOKEN=$T2 cli "revoked token signs" sign-digest --key "$K" --digest-algorithm sha256 --digest "$DH"
check_eq "revoked token: exit 1" 1 "$RC"
check_match "revoked token: the server's message" 'revoked' "$ERR"

# ---- key life cycle via the CLI ----
cli_ok "key disable" key disable "$KR"
cli "sign-digest with a disabled key" sign-digest --key "$KR" --digest-algorithm sha256 --digest "$DH"
check_eq "disabled key: exit 1" 1 "$RC"
check_match "disabled key: the server's message" 'disabled' "$ERR"
cli_ok "key enable" key enable "$KR"
cli_ok "key destroy" key destroy "$KR"
cli_json "key show destroyed" --json key show "$KR"
check_eq "destroyed state" destroyed "$(jget .state "$OUT")"
check_nomatch "pkcs11-tool no longer lists the destroyed key" "$KR" "$(p11_privkeys "$SUB")"

check_healthy
server_stop
finish
