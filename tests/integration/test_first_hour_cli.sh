#!/usr/bin/env bash
# Issue 15, a new user's first hour with the `signet` CLI:
#  - a token created without an expiry gets the default lifetime (90 days),
#    shown by `token create` and `whoami`; --no-expiry asks for none;
#  - `signet audit --limit 2` shows the two newest records, newest first,
#    and --before pages back (judged against the raw API's oldest-first list);
#  - a command group without a subcommand (`signet key`) lists the group's
#    subcommands, exits 2 and prints the help hint once, for every group;
#  - `key set-certificate KEY leaf.pem` with the bare leaf `key certify`
#    issued keeps leaf + issuing CA (openssl verify against the root alone);
#    a foreign leaf without its intermediate is refused, naming the issuer.
. "$(dirname "$0")/lib.sh"

[ -x "$SIGNET" ] || die "the signet CLI is not built: $SIGNET"
server_init
cd "$WORK" || die "cd"
# A foreign PKI (root, issuing CA); uploaded chains may end in its root.
printf '[inter]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >f.ext
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout froot.key \
    -out froot.pem -days 2 -subj "/CN=Foreign Root" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 || die "foreign root"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout finter.key \
    -out finter.csr -subj "/CN=Foreign Issuing CA" >/dev/null 2>&1 || die "foreign CA CSR"
openssl x509 -req -in finter.csr -CA froot.pem -CAkey froot.key -CAcreateserial -days 2 \
    -out finter.pem -extfile f.ext -extensions inter >/dev/null 2>&1 || die "foreign CA"
set_conf ca.upload_root "$WORK/froot.pem"
server_start

# cli ARGS...: runs signet ARGS; stdout in OUT, stderr in ERR, status in RC
cli() {
    "$SIGNET" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err"
    RC=$?
    OUT=$(cat "$WORK/cli.out")
    ERR=$(cat "$WORK/cli.err")
}
# near WHAT EXPECTED_EPOCH RFC3339: within two minutes
near() {
    local got
    got=$(date -u -d "$3" +%s 2>/dev/null || echo 0)
    check_eq "$1 (expected ~$(date -u -d "@$2" +%FT%TZ), got $3)" ok \
        "$([ $((got - $2)) -le 120 ] && [ $(($2 - got)) -le 120 ] && echo ok)"
}

# ---- tokens expire by default ----
export SIGNET_TOKEN=$ADMIN
cli --json subscriber create acme
SUB=$(jget .id "$OUT")
cli --json token create --subscriber "$SUB" --role manage --role sign --name first
check_eq "token create without --expires: exit 0 ($ERR)" 0 "$RC"
TOK=$(jget .token "$OUT")
EXP=$(jget .expires_at "$OUT")
near "the default expiry is 90 days" $(($(date +%s) + 90 * 86400)) "$EXP"
cli --token "$TOK" whoami
check_match "whoami shows the expiry" "^expires: +$EXP\$" "$(grep '^expires:' <<<"$OUT")"
cli token create --subscriber "$SUB" --role sign --name text
check_match "token create (text) shows the expiry, not never" \
    '^expires: +[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(grep '^expires:' <<<"$OUT")"
cli --json token create --subscriber "$SUB" --role sign --no-expiry --name forever
check_eq "token create --no-expiry: exit 0 ($ERR)" 0 "$RC"
check_eq "--no-expiry: expires_at null" null "$(jget .expires_at "$OUT")"
cli --token "$(jget .token "$OUT")" whoami
check_match "whoami of a --no-expiry token: never" '^expires: +never$' "$(grep '^expires:' <<<"$OUT")"
cli --json token create --subscriber "$SUB" --role sign --expires 2h --name short
near "--expires 2h still asks for 2 hours" $(($(date +%s) + 7200)) "$(jget .expires_at "$OUT")"
cli token create --subscriber "$SUB" --role sign --expires 2h --no-expiry
check_eq "--expires with --no-expiry: usage error" 2 "$RC"
req_json POST "/v1/subscribers/$SUB/tokens" "$ADMIN" '{"name":"api","roles":["sign"],"no_expiry":true}'
check_eq "API: \"no_expiry\": true gives none" "201 null" "$STATUS $(jget .expires_at)"
req_json POST "/v1/subscribers/$SUB/tokens" "$ADMIN" '{"name":"api2","roles":["sign"]}'
near "API: no expiry field gives the default" $(($(date +%s) + 90 * 86400)) "$(jget .expires_at)"

# ---- command groups ----
export SIGNET_TOKEN=$TOK
for g in subscriber token key ca tsa attestation; do
    cli "$g"
    check_eq "signet $g: exit 2" 2 "$RC"
    check_eq "signet $g: nothing on stdout" "" "$OUT"
    check_nomatch "signet $g: not called an unknown command" 'unknown command' "$ERR"
    check_match "signet $g: lists its subcommands" "(^|"$'\n'")  $g [a-z]" "$ERR"
    check_eq "signet $g: the help hint once" 1 "$(grep -c 'signet --help' <<<"$ERR")"
done
cli key
check_match "signet key lists certify and set-certificate" 'key certify.*key set-certificate|key set-certificate(.|'$'\n'')*key certify' "$ERR"
cli key frobnicate
check_eq "signet key frobnicate: exit 2" 2 "$RC"
check_match "signet key frobnicate: names the group and the word" "'key'.*'frobnicate'" "$ERR"
check_eq "signet key frobnicate: the help hint once" 1 "$(grep -c 'signet --help' <<<"$ERR")"
cli frobnicate
check_eq "unknown command: the help hint once" "2 1" "$RC $(grep -c 'signet --help' <<<"$ERR")"
cli key --help
check_match "signet key --help: the group's usage on stdout" '  key certify' "$OUT"

# ---- the Signet chain kept on set-certificate ----
SIGNET_TOKEN=$ADMIN cli subscriber identity "$SUB" --O "Acme Corp" --C DE --L Berlin
check_eq "subscriber identity: exit 0 ($ERR)" 0 "$RC"
cli --json key create --algorithm ecdsa-p256 --label first
K=$(jget .id "$OUT")
cli key certify "$K" --subject "/CN=Acme Corp/O=Acme Corp/C=DE/L=Berlin" -o chain.pem
check_eq "key certify: exit 0 ($ERR)" 0 "$RC"
fetch_ca_certs "$WORK" root codesigning
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>&1; }
openssl x509 -in chain.pem -out leaf.pem || die "no leaf in chain.pem"
cli key set-certificate "$K" leaf.pem
check_eq "set-certificate with the bare leaf: exit 0 ($ERR)" 0 "$RC"
cli key certificate "$K" -o got.pem
check_eq "the stored chain has leaf + issuing CA" 2 "$(grep -c 'BEGIN CERTIFICATE' got.pem)"
openssl x509 -in got.pem -out got.leaf.pem 2>/dev/null
sed -n '/END CERTIFICATE/,$p' got.pem | sed '1d' >got.issuer.pem
check_eq "first the leaf" "$(fpr leaf.pem)" "$(fpr got.leaf.pem)"
check_eq "then Signet's code signing CA" "$(fpr codesigning.pem)" "$(fpr got.issuer.pem)"
check_cmd "openssl verify -CAfile root -untrusted (the stored chain)" \
    openssl verify -CAfile root.pem -untrusted got.pem got.leaf.pem
cli key set-certificate "$K" chain.pem
cli key certificate "$K" -o got2.pem
check_eq "leaf + CA uploaded: stored as given" "$(cat chain.pem)" "$(cat got2.pem)"

# ---- a foreign leaf without its intermediate ----
cli key csr "$K" --subject "/CN=Acme Tools/O=Acme Corp/C=DE" -o k.csr
openssl x509 -req -in k.csr -CA finter.pem -CAkey finter.key -CAcreateserial -days 1 \
    -out fleaf.pem -extfile f.ext -extensions leaf >/dev/null 2>&1 || die "foreign leaf"
cli key set-certificate "$K" fleaf.pem
check_eq "foreign leaf without its CA: refused (exit 1)" 1 "$RC"
check_match "... with a 400 saying the chain is incomplete and naming the issuer" \
    'incomplete.*Foreign Issuing CA.*HTTP 400' "$ERR"
cli key certificate "$K" -o got3.pem
check_eq "the refused upload left the chain as it was" "$(cat chain.pem)" "$(cat got3.pem)"
cat fleaf.pem finter.pem >fchain.pem
cli key set-certificate "$K" fchain.pem
check_eq "foreign leaf + its CA: accepted ($ERR)" 0 "$RC"
cli key certificate "$K" -o got4.pem
check_cmd "the foreign chain verifies to its root" \
    openssl verify -CAfile froot.pem -untrusted got4.pem fleaf.pem
check_eq "nothing of Signet's added to a foreign chain" 2 "$(grep -c 'BEGIN CERTIFICATE' got4.pem)"
# A valid chain with an unrelated self-signed certificate beside it: the
# extra one would be embedded in every signature; refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fake.key \
    -out fake.pem -days 2 -subj "/CN=Microsoft Corporation/O=Microsoft Corporation" \
    >/dev/null 2>&1 || die "fake cert"
cat fleaf.pem finter.pem fake.pem >fextra.pem
cli key set-certificate "$K" fextra.pem
check_eq "a chain with a certificate beside it: refused (exit 1)" 1 "$RC"
check_match "... with a 400 saying what is beside the chain" \
    'not in the leaf.s chain.*HTTP 400' "$ERR"
cli key certificate "$K" -o got5.pem
check_eq "the refused upload left the chain as it was" "$(cat got4.pem)" "$(cat got5.pem)"

# ---- audit: newest first ----
req GET "/v1/audit?limit=1000" "$TOK"
ALL=$BODY
N=$(jget '.records | length' "$ALL")
check_eq "enough records to page ($N)" ok "$([ "$N" -ge 5 ] && echo ok)"
NEWEST=$(jget '[.records[-1].id, .records[-2].id] | map(tostring) | join(" ")' "$ALL")
NEXT=$(jget '[.records[-3].id, .records[-4].id] | map(tostring) | join(" ")' "$ALL")
LATEST_TIME=$(jget '[.records[].time] | max' "$ALL")
cli audit --limit 2
check_eq "audit --limit 2: exit 0 ($ERR)" 0 "$RC"
check_eq "audit --limit 2: the two newest ids, newest first" "$NEWEST" \
    "$(awk '{print $1}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
check_eq "audit --limit 2: the first line has the latest time" "$LATEST_TIME" \
    "$(head -1 <<<"$OUT" | awk '{print $2}')"
check_match "audit: the next-page hint pages back" "next page: --before ${NEWEST##* }" "$ERR"
cli audit --limit 2 --before "${NEWEST##* }"
check_eq "audit --before: the two before them" "$NEXT" \
    "$(awk '{print $1}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
FIRST=$(jget '.records[0].id' "$ALL")
cli audit --limit 1 --after 0
check_eq "audit --after 0: oldest first" "$FIRST" "$(awk '{print $1}' <<<"$OUT")"
req GET "/v1/audit?order=desc&limit=2" "$TOK"
check_eq "API order=desc: newest first, next_before" "$NEWEST ${NEWEST##* }" \
    "$(jget '(.records | map(.id | tostring) | join(" ")) + " " + (.next_before | tostring)')"
req GET "/v1/audit?order=sideways" "$TOK"
check_error "API: an unknown order" 400 bad_request

check_healthy
server_stop
finish
