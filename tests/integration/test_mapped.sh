#!/usr/bin/env bash
# hsm.tokens = mapped: a module that cannot create tokens on demand. The
# tokens are provisioned beforehand with softhsm2-util (as an operator would
# with a vendor tool), each subscriber is mapped to one in the config, and
# pkcs11-tool shows the keys land on the mapped token and nowhere else. A
# subscriber without a mapping cannot be created, and nothing changes.
# Usage: test_mapped.sh SIGNETD SIGNET
. "$(dirname "$0")/lib.sh"
command -v softhsm2-util >/dev/null || die "softhsm2-util is not installed"

server_init
for t in alpha-part beta-part; do
    pin=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$pin" >"$WORK/$t.pin"
    chmod 600 "$WORK/$t.pin"
    softhsm2-util --init-token --free --label "$t" --so-pin "so-$pin" \
        --pin "$pin" >/dev/null || die "softhsm2-util could not create $t"
done
set_conf hsm.tokens mapped
echo "hsm.subscriber_token = alpha alpha-part $WORK/alpha-part.pin" >>"$SERVER_HOME/signetd.conf"
echo "hsm.subscriber_token = beta beta-part $WORK/beta-part.pin" >>"$SERVER_HOME/signetd.conf"
check_cmd "signetd check accepts the mapped configuration" \
    "$SIGNETD" check --home "$SERVER_HOME"
server_start

A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber beta) || exit 1
req_json POST /v1/subscribers "$ADMIN" '{"name":"gamma"}'
check_error "subscriber without a mapped token" 409 conflict
req GET /v1/subscribers "$ADMIN"
check_eq "the refused subscriber was not recorded" 2 "$(jget '.subscribers | length')"

TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KA=$(new_key "$TA" ecdsa-p256) || exit 1
KB=$(new_key "$TB" rsa-3072) || exit 1
check_eq "alpha's key reports the mapped token" alpha-part \
    "$(jget .hsm.token_label "$(cat "$WORK/key.$KA.json")")"

list() { # list LABEL -> private key objects on that token
    p11 --token-label "$1" --login --pin "$(tr -d '\n' <"$WORK/$1.pin")" \
        --list-objects --type privkey 2>&1
}
LA=$(list alpha-part)
LB=$(list beta-part)
check_match "alpha's key is on alpha-part" "label: +$KA" "$LA"
check_nomatch "beta's key is not on alpha-part" "$KB" "$LA"
check_match "beta's key is on beta-part" "label: +$KB" "$LB"
check_nomatch "alpha's key is not on beta-part" "$KA" "$LB"
check_match "alpha's key is never extractable" 'never extractable' "$LA"

head -c 32 /dev/urandom >"$WORK/d"
req_json POST "/v1/keys/$KA/sign" "$TA" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_status "alpha signs on its mapped token" 200
unb64 "$(jget .signature)" "$WORK/sig"
check_cmd "openssl verifies alpha's signature" \
    openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$KA.pem" \
    -sigfile "$WORK/sig" -in "$WORK/d" -pkeyopt digest:sha256
req_json POST "/v1/keys/$KA/sign" "$TB" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_error "beta cannot sign with alpha's key" 404 not_found
server_stop
finish
