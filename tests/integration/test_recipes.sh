#!/usr/bin/env bash
# The tool recipes of docs/pkcs11.md, run verbatim: each block marked
# `<!-- recipe: NAME -->` is extracted and run with `bash -e` after the
# `common` block, in its own directory, against a running signetd, with the
# variables the document names (MOD, SIGNET_URL, SIGNET_CA_FILE, TOKEN, KEY,
# LABEL, TSA) and chain.pem exactly as `signet key certify -o` writes it.
# Each recipe ends in its tool's own verifier; the test then runs that
# verifier again on the output itself, so a recipe that drops its check still
# fails. A tool that is missing fails its recipe (scripts/deps.sh installs
# them all). The document is the project's own (trusted) input.
# Usage: test_recipes.sh SIGNETD SIGNET MODULE [DOC]
. "$(dirname "$0")/lib.sh"

MOD=${3:?usage: test_recipes.sh SIGNETD SIGNET MODULE [DOC]}
DOC=${4:-$(cd "$(dirname "$0")/../.." && pwd)/docs/pkcs11.md}
[ -f "$MOD" ] || die "no PKCS#11 module at $MOD"
[ -f "$DOC" ] || die "no document at $DOC"
# Every recipe the document must hold, each judged below (RECIPES_ONLY="a b"
# runs only those, to work on one).
RECIPES=(${RECIPES_ONLY:-pkcs11-tool openssl-cms osslsigncode jarsigner apksigner sbsign gpg})

# recipe NAME: the fenced block after the marker, on stdout (empty if none).
recipe() {
    awk -v m="<!-- recipe: $1 -->" '
        $0 == m { want = 1; next }
        want == 1 && /^```sh$/ { want = 2; next }
        want == 2 && /^```$/ { exit }
        want == 2 { print }
        want == 1 { exit }' "$DOC"
}

cd "$WORK" || die "no work directory"
# The home is made with its public URL (the listener the test serves on), so
# the CRL and TSA URLs in the certificates answer, as in a real deployment:
# osslsigncode 2.6+ fetches the CRLs the certificates name.
SERVER_HOME=$WORK/home
SERVER_PORT=$(random_port)
PUBLIC_PORT=$(random_port)
[ "$PUBLIC_PORT" = "$SERVER_PORT" ] && PUBLIC_PORT=$((SERVER_PORT + 1))
SERVER_URL=https://127.0.0.1:$SERVER_PORT
PUBLIC_URL=http://127.0.0.1:$PUBLIC_PORT
"$SIGNETD" init --home "$SERVER_HOME" --oid-arc "$TEST_OID_ARC" \
    --listen "127.0.0.1:$SERVER_PORT" --public-listen "127.0.0.1:$PUBLIC_PORT" \
    --public-url "$PUBLIC_URL" >init.log 2>&1 || die "signetd init: $(cat init.log)"
set_conf ca.allow_uncertified_modules true
# The recipes sign with a static API token (docs/pkcs11.md), which a new
# home refuses by default (auth.require_strong_auth).
set_conf auth.require_strong_auth false
set_conf auth.operator_mfa false
SERVER_CA=$SERVER_HOME/tls/ca.pem
ADMIN=$(tr -d '\n' <"$SERVER_HOME/admin.token")
export SOFTHSM2_CONF=$SERVER_HOME/hsm/softhsm2.conf
"$SIGNETD" serve --home "$SERVER_HOME" >signetd.log 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "signetd exited: $(cat signetd.log)"
    curl -sS --max-time 2 --cacert "$SERVER_CA" -o /dev/null "$SERVER_URL/healthz" \
        2>/dev/null && break
    sleep 0.1
done
curl -sS --max-time 2 --cacert "$SERVER_CA" -o /dev/null "$SERVER_URL/healthz" ||
    die "signetd did not answer /healthz within 30 s"
export SIGNET_URL=$SERVER_URL SIGNET_CA_FILE=$SERVER_CA
unset SIGNET_TOKEN PKCS11_MODULE_PATH
SUB=$(new_subscriber acme) || exit 1
TOKEN=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
LABEL="release key"
KEY=$(new_key "$TOKEN" rsa-3072 "$LABEL") || exit 1
req_json PUT "/v1/subscribers/$SUB/identity" "$ADMIN" '{"O":"Acme","C":"US","ST":"CA"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
SIGNET_TOKEN=$TOKEN "$SIGNET" key certify "$KEY" \
    --subject "/CN=Acme/O=Acme/C=US/ST=CA" -o chain.pem >certify.out 2>&1 ||
    die "key certify: $(cat certify.out)"
curl -sS --max-time 10 "$PUBLIC_URL/ca/root.cer" | openssl x509 -inform DER -out root.pem ||
    die "GET /ca/root.cer"
TSA=$PUBLIC_URL/tsa
export MOD TOKEN KEY LABEL TSA

# The inputs the recipes sign.
head -c 3000 /dev/urandom >in.file
echo "hello cms" >in.msg.txt
mkdir -p jar/pkg && echo 'hello from a jar' >jar/pkg/hello.txt
# apksigner 31 (Debian 12) reads AndroidManifest.xml to verify; it takes
# the defaults when the manifest is not binary XML.
printf 'not binary XML' >jar/AndroidManifest.xml
(cd jar && jar cf ../in.app.jar pkg/hello.txt &&
    jar cf ../in.app.apk AndroidManifest.xml pkg/hello.txt) || die "jar cf"
# pe FILE MAGIC MACHINE: a minimal PE image (one .text section, "ret"),
# PE32 (0x10b) for osslsigncode, PE32+ (0x20b) for sbsign.
pe() {
    /usr/bin/python3 - "$@" <<'PY'
import struct, sys
out, magic, machine = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
if magic == 0x10B:
    opt = struct.pack("<HBBIIIIII", magic, 14, 0, 0x200, 0, 0, 0x1000, 0x1000, 0x2000)
    opt += struct.pack("<IIIHHHHHHIIIIHHIIIIII", 0x400000, 0x1000, 0x200, 6, 0,
                       0, 0, 6, 0, 0, 0x2000, 0x200, 0, 10, 0x8140, 0x100000,
                       0x1000, 0x100000, 0x1000, 0, 16)
else:
    opt = struct.pack("<HBBIIIII", magic, 14, 0, 0x200, 0, 0, 0x1000, 0x1000)
    opt += struct.pack("<QIIHHHHHHIIIIHHQQQQII", 0x400000, 0x1000, 0x200, 6, 0,
                       0, 0, 6, 0, 0, 0x2000, 0x200, 0, 10, 0x8140, 0x100000,
                       0x1000, 0x100000, 0x1000, 0, 16)
opt += b"\0" * (16 * 8)
coff = struct.pack("<HHIIIHH", machine, 1, 0, 0, 0, len(opt), 0x0022)
sect = b".text\0\0\0" + struct.pack("<IIIIIIHHI", 0x1000, 0x1000, 0x200, 0x200,
                                     0, 0, 0, 0, 0x60000020)
hdr = dos + b"PE\0\0" + coff + opt + sect
hdr += b"\0" * (0x200 - len(hdr))
open(out, "wb").write(hdr + b"\xc3" + b"\0" * 0x1FF)
PY
}
pe in.app.exe 10b 14c || die "PE32 image"
pe in.bootx64.efi 20b 8664 || die "PE32+ image"

# A module built with ASan needs the runtime in the tools that load it.
PRELOAD=
if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
    PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}')
    # gpg-agent starts scdaemon (gnupg-pkcs11-scd) itself; with the ASan
    # runtime preloaded into that chain the recipe hangs. The gpg recipe
    # runs in the plain pass, against the same recipe text.
    if [ -z "${RECIPES_ONLY:-}" ]; then
        RECIPES=(${RECIPES[@]/gpg/})
        log "gpg: not run against an ASan build of the module (see above)"
    fi
fi

# run NAME: the common block and the recipe, verbatim, in NAME/.
run() {
    CHECKS=$((CHECKS + 1))
    local d="$WORK/r.$1" body
    body=$(recipe "$1")
    [ -n "$body" ] || { fail "recipe $1: no marked block in $DOC"; return 1; }
    mkdir -p "$d" && cp chain.pem root.pem "$d"/ || die "mkdir $d"
    for f in in.*; do cp -r "$f" "$d/${f#in.}"; done
    { recipe common; printf '%s\n' "$body"; } >"$d/recipe.sh"
    if (cd "$d" && env ${PRELOAD:+LD_PRELOAD=$PRELOAD} \
        ${PRELOAD:+ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0} \
        timeout 60 bash -e recipe.sh >out.log 2>&1); then
        pass "recipe $1 runs and its own verifier accepts"
        return 0
    fi
    fail "recipe $1: $(tail -n 15 "$d/out.log")"
    return 1
}
# judge NAME WHAT CMD...: the test's own verdict, run in NAME's directory.
judge() {
    local n=$1 d="$WORK/r.$1" what=$2
    shift 2
    check_cmd "$n: $what" bash -c 'cd "$1" && shift && "$@"' _ "$d" "$@"
}

[ -n "$(recipe common)" ] || fail "no common recipe block in $DOC"
for r in "${RECIPES[@]}"; do
    case $r in
    pkcs11-tool)
        run "$r" && judge "$r" "openssl verifies file.sig with the leaf's key" \
            openssl dgst -sha256 -verify pub.pem -signature file.sig file ;;
    openssl-cms)
        run "$r" && judge "$r" "openssl cms -verify against the root" \
            openssl cms -verify -CAfile root.pem -inform DER -in msg.p7s \
            -content msg.txt -binary -purpose any -out /dev/null ;;
    osslsigncode)
        run "$r" && judge "$r" "osslsigncode verify against the root" \
            osslsigncode verify -CAfile root.pem -TSA-CAfile root.pem \
            -in app-signed.exe ;;
    jarsigner)
        run "$r" && judge "$r" "jarsigner -verify -strict (root + issuing CA trusted)" \
            jarsigner -verify -strict -keystore truststore.p12 \
            -storepass changeit app.jar ;;
    apksigner)
        run "$r" && judge "$r" "apksigner verify" \
            apksigner verify --min-sdk-version 24 --max-sdk-version 34 app-signed.apk ;;
    sbsign)
        run "$r" && judge "$r" "sbverify against the root" \
            sbverify --cert root.pem bootx64-signed.efi ;;
    gpg)
        run "$r" && judge "$r" "gpg --verify" \
            env GNUPGHOME=gnupg gpg --verify file.sig file
        # the recipe's agent, even when the recipe stopped early
        GNUPGHOME=$WORK/r.gpg/gnupg gpgconf --kill all 2>/dev/null ;;
    *) fail "no judge for recipe $r" ;;
    esac
done
finish
