#!/usr/bin/env bash
# The HSM seen by pkcs11-tool (OpenSC), not by Signet: each subscriber has
# its own token holding only its own keys; private keys are sensitive,
# never extractable, generated on the token, usable only to sign; a
# signature made inside the HSM verifies under the public key the API
# publishes, and the token keeps no public-key objects. Key states: a
# disabled key cannot sign (409) until enabled again; a destroyed key
# cannot sign, keeps its record, and its private key is gone from the HSM.
. "$(dirname "$0")/lib.sh"

command -v pkcs11-tool >/dev/null || die "pkcs11-tool (opensc) is not installed"
[ -r "$P11_MODULE" ] || die "no PKCS#11 module at $P11_MODULE (softhsm2)"

server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
K1=$(new_key "$TA" ecdsa-p256 "a one") || exit 1
K2=$(new_key "$TA" rsa-3072 "a two") || exit 1
KB=$(new_key "$TB" ecdsa-p384 "b one") || exit 1

hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# ---- tokens ----
slots=$(p11 -L 2>&1)
check_match "pkcs11-tool -L lists the service token" 'token label +: signet-service' "$slots"
check_match "pkcs11-tool -L lists A's token" "token label +: $(sub_label "$A")" "$slots"
check_match "pkcs11-tool -L lists B's token" "token label +: $(sub_label "$B")" "$slots"

LA=$(p11_privkeys "$A")
LB=$(p11_privkeys "$B")
check_eq "A's token holds exactly A's 2 private keys" 2 "$(grep -c '^Private Key Object' <<<"$LA")"
check_eq "B's token holds exactly B's 1 private key" 1 "$(grep -c '^Private Key Object' <<<"$LB")"

# privkey_block LISTING KEY: the lines of that key's object
privkey_block() {
    awk -v k="$2" '
        function flush() { if (blk ~ ("label: +" k "\n")) printf "%s", blk }
        /^[^ ]/ { flush(); blk = "" }
        { blk = blk $0 "\n" }
        END { flush() }' <<<"$1"
}
for k in "$K1" "$K2"; do
    blk=$(privkey_block "$LA" "$k")
    check_match "A's token: private key labelled $k" "label: +$k" "$blk"
    check_match "A's token: key $k has CKA_ID = the key id" "ID: +$(hexid "$k")" "$blk"
    check_match "key $k: sensitive, always sensitive, never extractable, local" \
        'Access: +sensitive, always sensitive, never extractable, local' "$blk"
    check_nomatch "key $k: not extractable" '(^|[ ,])extractable' "$(grep Access <<<"$blk" | sed 's/never extractable//')"
    check_match "key $k: usable to sign" 'Usage: .*sign' "$blk"
    check_nomatch "key $k: not usable to decrypt, unwrap or derive (sign only)" \
        'Usage: .*(decrypt|unwrap|derive)' "$(grep Usage <<<"$blk")"
done
check_match "A's keys are RSA and EC as requested" 'Private Key Object; RSA' "$(privkey_block "$LA" "$K2")"
check_match "B's token: private key labelled $KB" "label: +$KB" "$LB"
check_nomatch "B's token does not hold A's keys" "$K1|$K2" "$LB"
check_nomatch "A's token does not hold B's key" "$KB" "$LA"
check_cmd_fails "B's PIN does not open A's token" \
    p11 --token-label "$(sub_label "$A")" --login --pin "$(sub_pin "$B")" --list-objects
svc=$(p11 --token-label signet-service --login \
    --pin "$(tr -d '\n' <"$SERVER_HOME/hsm/service.pin")" --list-objects --type privkey 2>&1)
check_nomatch "the service token holds no subscriber key" "$K1|$K2|$KB" "$svc"

# ---- the HSM's key is the API's: a signature made inside the HSM by
# pkcs11-tool verifies under the public key the API publishes ----
printf 'signed inside the HSM by pkcs11-tool' >"$WORK/hsm.msg"
openssl dgst -sha256 -binary "$WORK/hsm.msg" >"$WORK/hsm.dg"
for k in "$K1" "$K2"; do
    rm -f "$WORK/hsm.sig"
    if [ "$k" = "$K1" ]; then
        p11 --token-label "$(sub_label "$A")" --login --pin "$(sub_pin "$A")" \
            --sign --id "$(hexid "$k")" -m ECDSA --signature-format openssl \
            -i "$WORK/hsm.dg" -o "$WORK/hsm.sig" >/dev/null 2>&1
        check_cmd "key $k: an ECDSA signature made in the HSM verifies under the API's public key" \
            openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$k.pem" \
            -in "$WORK/hsm.dg" -sigfile "$WORK/hsm.sig"
    else
        p11 --token-label "$(sub_label "$A")" --login --pin "$(sub_pin "$A")" \
            --sign --id "$(hexid "$k")" -m SHA256-RSA-PKCS \
            -i "$WORK/hsm.msg" -o "$WORK/hsm.sig" >/dev/null 2>&1
        check_cmd "key $k: an RSA signature made in the HSM verifies under the API's public key" \
            openssl dgst -sha256 -verify "$WORK/pub.$k.pem" \
            -signature "$WORK/hsm.sig" "$WORK/hsm.msg"
    fi
done
# The public half lives in the database, not as a token object.
pubs=$(p11 --token-label "$(sub_label "$A")" --login --pin "$(sub_pin "$A")" \
    --list-objects --type pubkey 2>&1)
check_nomatch "A's token keeps no public-key objects" "$K1|$K2" "$pubs"

# ---- the private key cannot be read out ----
rm -f "$WORK/priv.out"
out=$(p11 --token-label "$(sub_label "$A")" --login --pin "$(sub_pin "$A")" \
    --read-object --type privkey --label "$K1" -o "$WORK/priv.out" 2>&1)
rc=$?
size=$(stat -c %s "$WORK/priv.out" 2>/dev/null || echo 0)
check_eq "pkcs11-tool --read-object --type privkey yields no key material (exit $rc: $out)" 0 "$size"
[ $rc -ne 0 ] || log "note: pkcs11-tool exited 0 on --read-object privkey: '$out'"

# ---- key states ----
sign_ok() { # sign_ok KEY -> sets STATUS/BODY, verifies on 200
    openssl dgst -sha256 -binary <<<"state $RANDOM" >"$WORK/st.dg"
    req_json POST "/v1/keys/$1/sign" "$TA" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/st.dg")\"}"
}
req POST "/v1/keys/$K1/disable" "$TA"
check_status "disable K1" 200 && check_eq "K1 state after disable" disabled "$(jget .state)"
req POST "/v1/keys/$K1/disable" "$TA"
check_status "disable K1 again (idempotent)" 200 && check_eq "K1 still disabled" disabled "$(jget .state)"
sign_ok "$K1"
check_error "sign with a disabled key" 409 key_state
req_json POST "/v1/keys/$K1/csr" "$TA" '{"subject":{"CN":"x"}}'
check_error "CSR with a disabled key" 409 key_state
req GET "/v1/keys/$K1" "$TA"
check_eq "GET shows disabled" disabled "$(jget .state)"
check_match "the disabled key is still in the HSM" "label: +$K1" "$(p11_privkeys "$A")"
req POST "/v1/keys/$K1/enable" "$TA"
check_status "enable K1" 200 && check_eq "K1 state after enable" enabled "$(jget .state)"
sign_ok "$K1"
if check_status "sign after enable" 200; then
    unb64 "$(jget .signature)" "$WORK/st.sig"
    check_cmd "the signature after enable verifies" openssl pkeyutl -verify -pubin \
        -inkey "$WORK/pub.$K1.pem" -sigfile "$WORK/st.sig" -in "$WORK/st.dg" -pkeyopt digest:sha256
fi

req DELETE "/v1/keys/$K2" "$TA"
check_status "destroy K2" 200 && check_eq "answer shows destroyed" destroyed "$(jget .state)"
sign_ok "$K2"
check_error "sign with a destroyed key" 409 key_state
req GET "/v1/keys/$K2" "$TA"
check_status "the destroyed key's record stays" 200 && check_eq "state destroyed" destroyed "$(jget .state)"
req GET /v1/keys "$TA"
check_eq "key list still shows K2 as destroyed" destroyed \
    "$(jget ".keys[] | select(.id == \"$K2\") | .state")"
req POST "/v1/keys/$K2/enable" "$TA"
check_error "enable a destroyed key" 409 key_state
req POST "/v1/keys/$K2/disable" "$TA"
check_error "disable a destroyed key" 409 key_state
req DELETE "/v1/keys/$K2" "$TA"
check_error "destroy it again" 409 key_state
req_json POST "/v1/keys/$K2/csr" "$TA" '{"subject":{"CN":"x"}}'
check_error "CSR with a destroyed key" 409 key_state
LA2=$(p11_privkeys "$A")
check_nomatch "pkcs11-tool no longer lists the destroyed private key" "$K2" "$LA2"
check_match "pkcs11-tool still lists the other key" "label: +$K1" "$LA2"
check_eq "A's token now holds 1 private key" 1 "$(grep -c '^Private Key Object' <<<"$LA2")"
check_match "B's key untouched" "label: +$KB" "$(p11_privkeys "$B")"

# ---- the audit log has the life cycle ----
req GET "/v1/audit?limit=1000" "$TA"
if check_status "audit" 200; then
    check_eq "audit: key_generate, disable, enable, destroy of A's keys" \
        "key_generate:$K1 key_generate:$K2 key_disable:$K1 key_enable:$K1 key_destroy:$K2" \
        "$(jget '[.records[] | select(.action | test("^key_(generate|disable|enable|destroy)$")) | select(.result == "ok") | "\(.action):\(.key)"] | join(" ")')"
fi

check_healthy
server_stop
finish
