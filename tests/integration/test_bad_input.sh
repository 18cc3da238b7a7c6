#!/usr/bin/env bash
# Hostile and broken input. Each case asserts the status and the JSON
# error code, that the server still answers /healthz, and that nothing
# changed (no key created, no signature made). The server runs with
# limits.file_body = 1M to test the file limit.
. "$(dirname "$0")/lib.sh"

server_init
set_conf limits.file_body 1M
set_conf limits.json_body 1M
# Uploaded chains must end in a configured root: the test's CA, once made.
: >"$WORK/upload-roots.pem"
set_conf ca.upload_root "$WORK/upload-roots.pem"
server_start
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
EC=$(new_key "$TOK" ecdsa-p256) || exit 1
RSA=$(new_key "$TOK" rsa-3072) || exit 1
KEYS=$(key_count "$TOK")
check_eq "two keys to start with" 2 "$KEYS"

signs() { # number of sign/sign_file audit records
    req GET "/v1/audit?limit=1000" "$TOK"
    jget '[.records[] | select(.action == "sign" or .action == "sign_file")] | length'
}

# bad WHAT STATUS CODE: the error, then health and key count.
bad() {
    check_error "$@"
    check_healthy "$1"
    local n
    n=$(key_count "$TOK")
    check_eq "key count unchanged after: $1" "$KEYS" "$n"
}

# ---- POST /v1/keys: JSON shape ----
kc() { req_json POST /v1/keys "$TOK" "$1"; }
kc '{"algorithm":'
bad "truncated JSON" 400 invalid_json
kc '{"algorithm":"ecdsa-p256","label":"x",}'
bad "trailing comma" 400 invalid_json
kc '[{"algorithm":"ecdsa-p256","label":"x"}]'
bad "JSON array instead of object" 400 invalid_json
kc '"ecdsa-p256"'
bad "JSON string instead of object" 400 invalid_json
kc '42'
bad "JSON number instead of object" 400 invalid_json
kc 'null'
bad "JSON null instead of object" 400 invalid_json
req POST /v1/keys "$TOK" -H 'Content-Type: application/json'
bad "no body" 400 invalid_json
kc '{"algorithm":"ecdsa-p256","algorithm":"rsa-3072","label":"x"}'
bad "duplicate member" 400 invalid_json
kc $'{"algorithm":"ecdsa-p256","label":"\xff\xfe"}'
bad "invalid UTF-8" 400 invalid_json
deep=$(printf '%*s' 100000 '' | tr ' ' '[')
kc "{\"algorithm\":$deep"
bad "100000 nested arrays" 400 invalid_json
kc '{"algorithm":3072,"label":"x"}'
bad "algorithm is a number" 400 invalid_field
kc '{"algorithm":["ecdsa-p256"],"label":"x"}'
bad "algorithm is an array" 400 invalid_field
kc '{"algorithm":"ecdsa-p256","label":{"a":1}}'
bad "label is an object" 400 invalid_field
kc '{"algorithm":"ecdsa-p256","label":true}'
bad "label is a boolean" 400 invalid_field
kc '{"algorithm":"ecdsa-p256"}'
bad "label missing" 400 invalid_field
kc '{"label":"x"}'
bad "algorithm missing" 400 invalid_field
kc '{"algorithm":"ecdsa-p256","label":""}'
bad "empty label" 400 invalid_field
kc "{\"algorithm\":\"ecdsa-p256\",\"label\":\"$(printf '%065d' 0)\"}"
bad "65-character label" 400 invalid_field
kc '{"algorithm":"ecdsa-p256","label":"a\u0001b"}'
bad "label with a control character" 400 invalid_field
kc '{"algorithm":"ecdsa-p256","label":"a\u0000b"}'
bad "label with a NUL (refused by the JSON parser)" 400 invalid_json
kc '{"algorithm":"ecdsa-p256","label":"x","extractable":true}'
bad "unknown field 'extractable'" 400 invalid_field
kc '{"algorithm":"ecdsa-p256","label":"x","private_key_pem":"-----BEGIN"}'
bad "unknown field 'private_key_pem'" 400 invalid_field
for alg in rsa-2048 rsa-1024 ed25519 ecdsa-p521 ecdsa-secp256k1 RSA-3072 rsa-3072x dsa; do
    kc "{\"algorithm\":\"$alg\",\"label\":\"x\"}"
    bad "key algorithm $alg" 400 unsupported_algorithm
done
kc '{"algorithm":"","label":"x"}'
bad "empty algorithm" 400 invalid_field

# ---- Content-Type ----
req POST /v1/keys "$TOK" -H 'Content-Type: text/plain' --data-binary '{"algorithm":"ecdsa-p256","label":"x"}'
bad "Content-Type text/plain" 415 unsupported_media_type
req POST /v1/keys "$TOK" --data-binary '{"algorithm":"ecdsa-p256","label":"x"}'
bad "Content-Type application/x-www-form-urlencoded (curl's default)" 415 unsupported_media_type
req POST /v1/keys "$TOK" -H 'Content-Type: application/jsonx' --data-binary '{"algorithm":"ecdsa-p256","label":"x"}'
bad "Content-Type application/jsonx" 415 unsupported_media_type
req POST /v1/keys "$TOK" -H 'Content-Type: text/plain' -H 'Transfer-Encoding: chunked' \
    --data-binary '{"algorithm":"ecdsa-p256","label":"x"}'
bad "Content-Type text/plain on a chunked body" 415 unsupported_media_type
req POST /v1/keys "$TOK" -H 'Content-Type: application/json; charset=utf-8' \
    --data-binary '{"algorithm":"ecdsa-p256","label":"with charset"}'
check_status "Content-Type application/json; charset=utf-8 is accepted" 201
KEYS=$((KEYS + 1))

# ---- size limits ----
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/big.json"
printf '{"algorithm":"ecdsa-p256","label":"x"}' >>"$WORK/big.json"
req POST /v1/keys "$TOK" -H 'Content-Type: application/json' --data-binary @"$WORK/big.json"
bad "2 MiB JSON body (declared length)" 413 too_large
req POST /v1/keys "$TOK" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$WORK/big.json"
CHECKS=$((CHECKS + 1))
case $STATUS in
413) pass "2 MiB chunked JSON body -> 413" ;;
000) pass "2 MiB chunked JSON body: connection closed ($BODY)" ;;
*) fail "2 MiB chunked JSON body"$'\n'"    expected: 413 or a closed connection"$'\n'"    actual:   HTTP $STATUS $BODY" ;;
esac
check_healthy "2 MiB chunked JSON body"
check_eq "key count unchanged after the chunked body" "$KEYS" "$(key_count "$TOK")"
req POST /v1/keys "$TOK" -H 'Content-Type: application/json' -H 'Content-Length: 99999999999999999999999' \
    --data-binary '{}'
check_match "absurd Content-Length refused (HTTP $STATUS)" '^4[0-9][0-9]$' "$STATUS"
check_healthy "absurd Content-Length"

# ---- keep-alive: a refused request does not spoil the connection ----
head -c 100000 /dev/zero | tr '\0' 'x' >"$WORK/100k"
ka=$(curl -sS --cacert "$SERVER_CA" -w '%{http_code} %{num_connects}\n' -o /dev/null \
    -H "Authorization: Bearer $TOK" -H 'Content-Type: text/plain' \
    --data-binary @"$WORK/100k" "$SERVER_URL/v1/keys" \
    --next -sS --cacert "$SERVER_CA" -w '%{http_code} %{num_connects}\n' -o /dev/null \
    -H "Authorization: Bearer $TOK" "$SERVER_URL/v1/keys" \
    --next -sS --cacert "$SERVER_CA" -w '%{http_code} %{num_connects}\n' -o /dev/null \
    -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    --data-binary '{"algorithm":' "$SERVER_URL/v1/keys" \
    --next -sS --cacert "$SERVER_CA" -w '%{http_code} %{num_connects}\n' -o "$WORK/ka.json" \
    -H "Authorization: Bearer $TOK" "$SERVER_URL/v1/keys/$EC" 2>&1 | awk '{ print $1 }' | tr '\n' ' ')
check_eq "one connection: 415 with a body, then 200, then 400, then 200" "415 200 400 200 " "$ka"
check_eq "the last answer on that connection is the right key" "$EC" "$(jq -r .id "$WORK/ka.json" 2>&1)"
check_healthy "keep-alive sequence"

# ---- signing input ----
openssl dgst -sha256 -binary <<<"x" >"$WORK/d32"
openssl dgst -sha512 -binary <<<"x" >"$WORK/d64"
D32=$(b64 "$WORK/d32")
D64=$(b64 "$WORK/d64")
D31=$(head -c 31 "$WORK/d32" | base64 -w0)
D33=$( (cat "$WORK/d32"; printf 'x') | base64 -w0)
sg() { req_json POST "/v1/keys/${2:-$EC}/sign" "$TOK" "$1"; }
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"!!!not base64!!!\"}"
bad "invalid base64" 400 bad_digest
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"${D32:0:10}\"}"
bad "truncated base64" 400 bad_digest
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D31\"}"
bad "31-byte digest for sha256" 400 bad_digest
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D33\"}"
bad "33-byte digest for sha256" 400 bad_digest
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D64\"}"
bad "sha512-sized digest for sha256" 400 bad_digest
sg "{\"digest_algorithm\":\"sha512\",\"digest\":\"$D32\"}"
bad "sha256-sized digest for sha512" 400 bad_digest
sg '{"digest_algorithm":"sha256","digest":""}'
bad "empty digest" 400 bad_digest
sg '{"digest_algorithm":"sha256","digest":12345}'
bad "digest is a number" 400 bad_digest
for md in sha1 md5 sha224 SHA256 sha-256 sha3-256 none; do
    sg "{\"digest_algorithm\":\"$md\",\"digest\":\"$D32\"}"
    bad "digest algorithm $md" 400 unsupported_algorithm
done
sg "{\"digest\":\"$D32\"}"
bad "digest_algorithm missing" 400 invalid_field
sg "{\"digest_algorithm\":256,\"digest\":\"$D32\"}"
bad "digest_algorithm is a number" 400 invalid_field
sg '{"digest_algorithm":"sha256"}'
bad "neither digest nor digests" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D32\",\"digests\":[\"$D32\"]}"
bad "both digest and digests" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D32\",\"salt_length\":0}"
bad "unknown field salt_length" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D32\",\"scheme\":\"pss\"}"
bad "scheme pss for an ECDSA key" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D32\",\"scheme\":\"raw\"}" "$RSA"
bad "scheme raw for an RSA key" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D32\",\"scheme\":\"ecdsa\"}" "$RSA"
bad "scheme ecdsa for an RSA key" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digest\":\"$D32\",\"scheme\":1}" "$RSA"
bad "scheme is a number" 400 invalid_field
sg '{"digest_algorithm":"sha256","digests":[]}'
bad "batch of 0 digests" 400 invalid_field
arr=$(printf "\"$D32\",%.0s" $(seq 1 257))
sg "{\"digest_algorithm\":\"sha256\",\"digests\":[${arr%,}]}"
bad "batch of 257 digests" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digests\":\"$D32\"}"
bad "digests is a string" 400 invalid_field
sg "{\"digest_algorithm\":\"sha256\",\"digests\":[\"$D32\",\"$D31\",\"$D32\"]}"
bad "batch with one short digest" 400 bad_digest
sg "{\"digest_algorithm\":\"sha256\",\"digests\":[\"$D32\",null]}"
bad "batch with a null digest" 400 bad_digest
check_eq "no signature was made by any bad request" 0 "$(signs)"

# ---- routes and methods ----
req GET /v1/nope "$TOK"
bad "unknown route" 404 not_found
req GET "/v1/keys/$EC/nothing" "$TOK"
bad "unknown sub-route of a key" 404 not_found
req GET /v1/keys/ "$TOK"
bad "key route with an empty id" 404 not_found
req PATCH "/v1/keys/$EC" "$TOK"
bad "PATCH a key" 405 method_not_allowed
req PUT /v1/keys "$TOK" -H 'Content-Type: application/json' --data-binary '{}'
bad "PUT /v1/keys" 405 method_not_allowed
req GET "/v1/keys/$EC/sign" "$TOK"
bad "GET the sign route" 405 method_not_allowed
req DELETE /healthz -
bad "DELETE /healthz" 405 method_not_allowed
req GET "/v1/keys/$(printf '%065d' 7)" "$TOK"
bad "65-character key id" 404 not_found
req GET "/v1/keys/$(printf '%04000d' 7)/sign" "$TOK"
bad "4000-character key id" 404 not_found
req GET "/v1/keys/..%2F..%2Fetc%2Fpasswd" "$TOK"
bad "key id with encoded slashes" 404 not_found
# MHD decodes %00 into the path: what follows must not be cut off.
req GET "/v1/keys/$EC%00" "$TOK"
bad "key id with an encoded NUL" 404 not_found
req GET "/v1/keys/$EC%00/garbage" "$TOK"
bad "key id, encoded NUL, more path" 404 not_found
# ...or "DELETE /v1/keys/ID%00/certificate" (no such route) becomes
# "DELETE /v1/keys/ID" and destroys the key.
req DELETE "/v1/keys/$RSA%00/certificate" "$TOK"
check_match "DELETE /v1/keys/ID%00/certificate is refused (HTTP $STATUS)" '^40[45]$' "$STATUS"
req GET "/v1/keys/$RSA" "$TOK"
check_eq "... and the key is not destroyed" enabled "$(jget .state)"
req GET "/v1/keys/$EC'%20OR%20'1'='1" "$TOK"
bad "key id with SQL" 404 not_found
req GET "/v1/keys/$(printf '%060000d' 7)" "$TOK"
check_match "60000-character path refused (HTTP $STATUS)" '^(4[0-9][0-9]|000)$' "$STATUS"
check_healthy "60000-character path"
req GET "/v1/keys/$EC" "$TOK"
check_status "the key is still there" 200

# ---- audit query ----
for q in "limit=0" "limit=1001" "limit=abc" "limit=-1" "after=-1" "after=1e3" \
    "limit=99999999999999999999" "key=$(printf '%040d' 1)"; do
    req GET "/v1/audit?$q" "$TOK"
    bad "audit ?$q" 400 bad_request
done

# ---- admin input ----
sc() { req_json POST /v1/subscribers "$ADMIN" "$1"; }
sc '{"name":"a b"}'
bad "subscriber name with a space" 400 invalid_field
sc '{"name":"../etc"}'
bad "subscriber name with a slash" 400 invalid_field
sc "{\"name\":\"$(printf '%065d' 1)\"}"
bad "65-character subscriber name" 400 invalid_field
sc '{"name":"acme"}'
bad "duplicate subscriber" 409 conflict
sc '{"name":"x","quota":1}'
bad "subscriber with an unknown field" 400 invalid_field
tc() { req_json POST "/v1/subscribers/$SUB/tokens" "$ADMIN" "$1"; }
tc '{"name":"t","roles":["root"]}'
bad "token role root" 400 invalid_field
tc '{"name":"t","roles":[]}'
bad "token with no roles" 400 invalid_field
tc '{"name":"t","roles":"sign"}'
bad "token roles as a string" 400 invalid_field
tc '{"name":"t","roles":["sign"],"keys":["not-a-key"]}'
bad "token scoped to a non-key" 400 invalid_field
tc "{\"name\":\"t\",\"roles\":[\"sign\"],\"keys\":[\"$(rand_uuid)\"]}"
bad "token scoped to an unknown key" 400 invalid_field
tc '{"name":"t","roles":["sign"],"admin":true}'
bad "token asking to be admin" 400 invalid_field

# ---- sign-file size limit (limits.file_body = 1M) ----
# A certificate first (the file route needs one).
req_json POST "/v1/keys/$EC/csr" "$TOK" '{"subject":{"CN":"limits"}}'
jget .csr_pem >"$WORK/ec.csr"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
    -out "$WORK/ca.pem" -days 1 -subj /CN=ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 || die "CA"
cp "$WORK/ca.pem" "$WORK/upload-roots.pem"
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$WORK/leaf.ext"
openssl x509 -req -in "$WORK/ec.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 1 -out "$WORK/ec.pem" -extfile "$WORK/leaf.ext" >/dev/null 2>&1 || die "issue"
req PUT "/v1/keys/$EC/certificate" "$TOK" -H 'Content-Type: application/x-pem-file' \
    --data-binary @"$WORK/ec.pem"
check_status "certificate attached" 200
rand_file "$WORK/1m" $((1024 * 1024))
rand_file "$WORK/1m1" $((1024 * 1024 + 1))
rand_file "$WORK/3m" $((3 * 1024 * 1024))
sf() { req POST "/v1/keys/$EC/sign-file?digest_algorithm=sha256" "$TOK" "$@"; }
sf --data-binary @"$WORK/1m"
check_status "sign-file of exactly 1 MiB" 200
before=$(signs)
sf --data-binary @"$WORK/1m1"
bad "sign-file of 1 MiB + 1 byte (declared)" 413 too_large
sf -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/3m"
CHECKS=$((CHECKS + 1))
case $STATUS in
413) pass "3 MiB chunked file -> 413" ;;
000) pass "3 MiB chunked file: connection closed ($BODY)" ;;
*) fail "3 MiB chunked file"$'\n'"    expected: 413 or a closed connection"$'\n'"    actual:   HTTP $STATUS $BODY" ;;
esac
check_healthy "3 MiB chunked file"
check_eq "no file signature for the refused files" "$before" "$(signs)"

check_healthy
server_stop
finish
