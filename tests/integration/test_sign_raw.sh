#!/usr/bin/env bash
# Raw signatures (POST /v1/keys/{id}/sign) with every key algorithm, digest
# algorithm and RSA scheme, each verified by `openssl pkeyutl` against the
# key's public key, each paired with a negative check (a digest with one bit
# flipped must not verify). Batches: signatures come back in order.
# Metrics: signet_signatures_total and the latency histogram move; /metrics
# needs the operator's token (401 without a token, 403 with a subscriber's).
. "$(dirname "$0")/lib.sh"

server_start
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1

metric() { # metric NAME_WITH_LABELS -> value or 0
    curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $ADMIN" \
        "$SERVER_URL/metrics" |
        awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
RSA3072_BEFORE=$(metric 'signet_signatures_total{algorithm="rsa-3072"}')
HIST_COUNT_BEFORE=$(metric signet_sign_duration_seconds_count)

declare -A KEY BITS
for alg in rsa-3072 rsa-4096 ecdsa-p256 ecdsa-p384; do
    KEY[$alg]=$(new_key "$TOK" "$alg") || exit 1
done

# ---- the key objects, checked against openssl's reading of the key ----
for alg in rsa-3072 rsa-4096 ecdsa-p256 ecdsa-p384; do
    id=${KEY[$alg]}
    j=$(cat "$WORK/key.$id.json")
    check_eq "$alg: algorithm" "$alg" "$(jget .algorithm "$j")"
    check_eq "$alg: state" enabled "$(jget .state "$j")"
    check_eq "$alg: subscriber" "$SUB" "$(jget .subscriber "$j")"
    check_eq "$alg: protection" \
        '{"always_sensitive":true,"extractable":false,"local":true,"never_extractable":true,"sensitive":true}' \
        "$(jget '.protection' "$j" | jq -cS .)"
    check_eq "$alg: hsm token label" "$(sub_label "$SUB")" "$(jget .hsm.token_label "$j")"
    text=$(openssl pkey -pubin -in "$WORK/pub.$id.pem" -noout -text 2>&1)
    case $alg in
    rsa-3072) check_match "$alg: openssl reads a 3072-bit RSA key" 'Public-Key: \(3072 bit\)' "$text" ;;
    rsa-4096) check_match "$alg: openssl reads a 4096-bit RSA key" 'Public-Key: \(4096 bit\)' "$text" ;;
    ecdsa-p256) check_match "$alg: openssl reads a P-256 key" 'ASN1 OID: prime256v1' "$text" ;;
    ecdsa-p384) check_match "$alg: openssl reads a P-384 key" 'ASN1 OID: secp384r1' "$text" ;;
    esac
done

# verify PUB SIG DIGEST MD [pss]: openssl pkeyutl -verify
verify() {
    local opts=(-pkeyopt "digest:$4")
    [ "${5:-}" = pss ] && opts+=(-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest)
    openssl pkeyutl -verify -pubin -inkey "$1" -sigfile "$2" -in "$3" "${opts[@]}"
}

RSA3072_SIGS=0
n=0
for alg in rsa-3072 rsa-4096 ecdsa-p256 ecdsa-p384; do
    id=${KEY[$alg]}
    pub=$WORK/pub.$id.pem
    case $alg in rsa-*) schemes="pkcs1 pss" ;; *) schemes="ecdsa" ;; esac
    for md in sha256 sha384 sha512; do
        for scheme in $schemes; do
            n=$((n + 1))
            rand_file "$WORK/data.$n" 1000
            openssl dgst "-$md" -binary "$WORK/data.$n" >"$WORK/dg.$n"
            flip_byte "$WORK/dg.$n" "$WORK/dgbad.$n" 7
            body="{\"digest_algorithm\":\"$md\",\"digest\":\"$(b64 "$WORK/dg.$n")\""
            [ "$scheme" != ecdsa ] && body+=",\"scheme\":\"$scheme\""
            body+="}"
            req_json POST "/v1/keys/$id/sign" "$TOK" "$body"
            check_status "$alg $md $scheme: sign" 200 || continue
            [ "$alg" = rsa-3072 ] && RSA3072_SIGS=$((RSA3072_SIGS + 1))
            check_eq "$alg $md $scheme: answer names key, digest, scheme" \
                "$id $md $scheme" \
                "$(jget '"\(.key) \(.digest_algorithm) \(.scheme)"')"
            unb64 "$(jget .signature)" "$WORK/sig.$n"
            sigsize=$(stat -c %s "$WORK/sig.$n")
            case $alg in
            rsa-3072) check_eq "$alg $md $scheme: signature size" 384 "$sigsize" ;;
            rsa-4096) check_eq "$alg $md $scheme: signature size" 512 "$sigsize" ;;
            *) check_cmd "$alg $md: signature is DER (ECDSA-Sig-Value)" \
                openssl asn1parse -inform DER -in "$WORK/sig.$n" ;;
            esac
            check_cmd "$alg $md $scheme: openssl verifies the signature" \
                verify "$pub" "$WORK/sig.$n" "$WORK/dg.$n" "$md" "$scheme"
            check_cmd_fails "$alg $md $scheme: a modified digest does not verify" \
                verify "$pub" "$WORK/sig.$n" "$WORK/dgbad.$n" "$md" "$scheme"
            if [ "$scheme" = pss ]; then
                check_cmd_fails "$alg $md: a PSS signature is not a PKCS#1 v1.5 one" \
                    verify "$pub" "$WORK/sig.$n" "$WORK/dg.$n" "$md" pkcs1
            elif [ "$scheme" = pkcs1 ]; then
                check_cmd_fails "$alg $md: a PKCS#1 v1.5 signature is not a PSS one" \
                    verify "$pub" "$WORK/sig.$n" "$WORK/dg.$n" "$md" pss
            fi
        done
    done
done

# No scheme given for RSA: PKCS#1 v1.5 by default.
id=${KEY[rsa-3072]}
openssl dgst -sha256 -binary "$WORK/data.1" >"$WORK/dflt.dg"
req_json POST "/v1/keys/$id/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/dflt.dg")\"}"
if check_status "rsa-3072 sign without scheme" 200; then
    RSA3072_SIGS=$((RSA3072_SIGS + 1))
    check_eq "default scheme" pkcs1 "$(jget .scheme)"
    unb64 "$(jget .signature)" "$WORK/dflt.sig"
    check_cmd "default scheme verifies as PKCS#1 v1.5" \
        verify "$WORK/pub.$id.pem" "$WORK/dflt.sig" "$WORK/dflt.dg" sha256
fi

# ---- batches: signatures in the order of the digests ----
# batch ALG MD SCHEME COUNT
batch() {
    local alg=$1 md=$2 scheme=$3 count=$4 id=${KEY[$1]} i j arr="" sig
    for i in $(seq 0 $((count - 1))); do
        rand_file "$WORK/b.$alg.$i.data" 64
        openssl dgst "-$md" -binary "$WORK/b.$alg.$i.data" >"$WORK/b.$alg.$i.dg"
        arr+="${arr:+,}\"$(b64 "$WORK/b.$alg.$i.dg")\""
    done
    req_json POST "/v1/keys/$id/sign" "$TOK" \
        "{\"digest_algorithm\":\"$md\",\"scheme\":\"$scheme\",\"digests\":[$arr]}"
    check_status "$alg batch of $count ($md, $scheme)" 200 || return
    [ "$alg" = rsa-3072 ] && RSA3072_SIGS=$((RSA3072_SIGS + count))
    check_eq "$alg batch: $count signatures" "$count" "$(jget '.signatures | length')"
    check_eq "$alg batch: no single 'signature' field" null "$(jget .signature)"
    local bad=0 badneg=0 detail=""
    for i in $(seq 0 $((count - 1))); do
        unb64 "$(jget ".signatures[$i]")" "$WORK/b.$alg.$i.sig"
        if ! verify "$WORK/pub.$id.pem" "$WORK/b.$alg.$i.sig" \
            "$WORK/b.$alg.$i.dg" "$md" "$scheme" >/dev/null 2>&1; then
            bad=$((bad + 1))
            detail+=" #$i"
        fi
        # Signature i must not verify digest i+1: the order is the order.
        j=$(((i + 1) % count))
        if [ "$count" -gt 1 ] && verify "$WORK/pub.$id.pem" "$WORK/b.$alg.$i.sig" \
            "$WORK/b.$alg.$j.dg" "$md" "$scheme" >/dev/null 2>&1; then
            badneg=$((badneg + 1))
        fi
    done
    check_eq "$alg batch: every signature verifies against its own digest (failing:$detail)" 0 "$bad"
    check_eq "$alg batch: no signature verifies against the next digest" 0 "$badneg"
}
batch rsa-3072 sha256 pkcs1 5
batch rsa-4096 sha512 pss 3
batch ecdsa-p384 sha384 ecdsa 4
batch ecdsa-p256 sha256 ecdsa 256

# ---- metrics ----
RSA3072_AFTER=$(metric 'signet_signatures_total{algorithm="rsa-3072"}')
check_eq 'signet_signatures_total{algorithm="rsa-3072"} grew by the signatures made' \
    "$((RSA3072_BEFORE + RSA3072_SIGS))" "$RSA3072_AFTER"
req GET /metrics -
check_error "metrics without a token" 401 unauthorized
req GET /metrics "$TOK"
check_error "metrics with a subscriber's token" 403 forbidden
req GET /metrics "$ADMIN"
check_status "metrics with the operator's token" 200
M=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $ADMIN" \
    "$SERVER_URL/metrics")
check_match "metrics: ecdsa-p256 counter present" 'signet_signatures_total\{algorithm="ecdsa-p256"\} [1-9]' "$M"
check_match "metrics: latency histogram buckets" 'signet_sign_duration_seconds_bucket\{le="[0-9.e+-]+"\} [0-9]+' "$M"
check_match "metrics: latency histogram +Inf bucket" 'signet_sign_duration_seconds_bucket\{le="\+Inf"\} [0-9]+' "$M"
check_match "metrics: latency histogram sum" 'signet_sign_duration_seconds_sum [0-9.]+' "$M"
total_sigs=$(printf '%s\n' "$M" | awk '/^signet_signatures_total\{/ { s += $2 } END { print s + 0 }')
HIST_COUNT_AFTER=$(metric signet_sign_duration_seconds_count)
check_eq "histogram count = sum of signet_signatures_total" "$total_sigs" "$HIST_COUNT_AFTER"
inf=$(metric 'signet_sign_duration_seconds_bucket{le="+Inf"}')
check_eq "histogram +Inf bucket = count" "$HIST_COUNT_AFTER" "$inf"
check_ne "histogram count moved" "$HIST_COUNT_BEFORE" "$HIST_COUNT_AFTER"
mono=$(printf '%s\n' "$M" | awk -F'[ ]' '/^signet_sign_duration_seconds_bucket/ { if ($2 + 0 < prev) bad = 1; prev = $2 + 0 } END { print bad + 0 }')
check_eq "histogram buckets are cumulative (non-decreasing)" 0 "$mono"
check_match "metrics: request counter of the sign route" \
    'signet_http_requests_total\{route="/v1/keys/\{id\}/sign",status="200"\} [1-9]' "$M"

check_healthy
server_stop
finish
