#!/usr/bin/env bash
# A new operator's first hour (issue 15): what init freezes, what serve
# says, what check finds. Judged by openssl and the files, not by Signet:
#  - `signetd init DIR --listen A --public-listen B` writes both and the
#    default base URL http://B; `--public-url URL` (a DNS name and a path)
#    is what the CA and TSA certificates' CRL, caIssuers and OCSP URLs
#    name (openssl x509 -text);
#  - a bad URL or listener (https, a trailing '/', a query, 0.0.0.0, a
#    port past 65535) fails with a message naming the option, and leaves
#    no home (nothing created);
#  - serve prints the full TSA URL, which answers a time-stamp request
#    (openssl ts), and the CRL and OCSP URLs; on a terminal the next steps;
#  - a port in use: serve fails with one line naming the setting
#    (public.listen in the home's signetd.conf, --listen for the option)
#    and the reason, never libmicrohttpd's "port 0";
#  - signetd check warns about the occupied port, a base URL on another
#    host than the listener, SoftHSM2 and a loose file mode; a group-
#    writable configuration is an error (exit 1), warnings alone exit 0.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || die "no work directory"
ARC=$TEST_OID_ARC

# occupy PORT: a listener that is not signetd on 127.0.0.1:PORT.
occupy() {
    python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(120)' "$1" &
    EXTRA_PIDS+=($!)
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "could not occupy port $1"
}

# uris CERT: the certificate's CRL distribution point and AIA URIs.
uris() {
    openssl x509 -in "$1" -noout -text |
        grep -Eo '(URI:|CA Issuers - URI:|OCSP - URI:)[^ ]+' | sort | tr '\n' ' '
}

# ---- bad values: a clear error, nothing created ----
bad_init() { # WHAT REGEX ARGS...
    local what=$1 re=$2 out rc
    shift 2
    out=$("$SIGNETD" init "$WORK/bad" --oid-arc "$ARC" "$@" 2>&1)
    rc=$?
    check_ne "$what: init fails" 0 "$rc"
    check_match "$what: the message says why" "$re" "$out"
    check_eq "$what: no home was created" "absent" \
        "$([ -e "$WORK/bad" ] && echo present || echo absent)"
    rm -rf "$WORK/bad"
}
bad_init "https URL" '--public-url https://signet\.example: must be http://' \
    --public-url https://signet.example
bad_init "https URL under the old name" 'must be http://' \
    --base-url https://signet.example
bad_init "trailing slash" '--public-url http://signet\.example/: expected http://HOST' \
    --public-url http://signet.example/
bad_init "a query" '--public-url http://signet\.example/a\?b: expected' \
    --public-url 'http://signet.example/a?b'
bad_init "port past 65535" '--public-url http://signet\.example:65536: expected' \
    --public-url http://signet.example:65536
bad_init "unspecified address" 'http://0\.0\.0\.0:8080: 0\.0\.0\.0 is no address a client can reach' \
    --public-url http://0.0.0.0:8080
bad_init "public listener on every address without a URL" \
    '--public-listen 0\.0\.0\.0:8080 listens on every address: give --public-url' \
    --public-listen 0.0.0.0:8080
bad_init "public listener off without a URL" '--public-listen off: give --public-url' \
    --public-listen off
bad_init "bad listener" '--listen localhost:8443: expected IPV4:PORT' \
    --listen localhost:8443

# ---- home A: listeners given, base URL by default ----
P1=$(random_port)
P2=$(random_port)
[ "$P1" = "$P2" ] && P2=$((P1 + 1))
A=$WORK/a
"$SIGNETD" init "$A" --oid-arc "$ARC" --listen "127.0.0.1:$P1" \
    --public-listen "127.0.0.1:$P2" >"$WORK/init-a.log" 2>&1 ||
    die "init A: $(cat "$WORK/init-a.log")"
check_eq "init A: listen written" "listen = 127.0.0.1:$P1" "$(grep '^listen' "$A/signetd.conf")"
check_eq "init A: public.listen written" "public.listen = 127.0.0.1:$P2" \
    "$(grep '^public\.listen' "$A/signetd.conf")"
check_eq "init A: ca.base_url defaults to the public listener" \
    "ca.base_url = http://127.0.0.1:$P2" "$(grep '^ca\.base_url' "$A/signetd.conf")"
U=http://127.0.0.1:$P2
check_eq "init A: the TSA certificate's URLs (openssl)" \
    "CA Issuers - URI:$U/ca/timestamping.cer OCSP - URI:$U/ca/ocsp URI:$U/ca/crl/timestamping " \
    "$(uris "$A/ca/tsa.pem")"

# ---- home B: --public-url with a DNS name and a path ----
P3=$(random_port)
P4=$(random_port)
[ "$P3" = "$P4" ] && P4=$((P3 + 1))
B=$WORK/b
U=http://signet.example:$P4/pki
"$SIGNETD" init --home "$B" --oid-arc "$ARC" --public-url "$U" \
    --listen "127.0.0.1:$P3" --public-listen "127.0.0.1:$P4" \
    >"$WORK/init-b.log" 2>&1 || die "init B: $(cat "$WORK/init-b.log")"
check_eq "init B: ca.base_url is the URL given" "ca.base_url = $U" \
    "$(grep '^ca\.base_url' "$B/signetd.conf")"
check_eq "init B: the code signing CA's URLs name it (openssl)" \
    "CA Issuers - URI:$U/ca/root.cer URI:$U/ca/crl/root " "$(uris "$B/ca/codesigning.pem")"
check_eq "init B: the timestamping CA's URLs name it (openssl)" \
    "CA Issuers - URI:$U/ca/root.cer URI:$U/ca/crl/root " "$(uris "$B/ca/timestamping.pem")"
check_eq "init B: the TSA certificate's URLs name it (openssl)" \
    "CA Issuers - URI:$U/ca/timestamping.cer OCSP - URI:$U/ca/ocsp URI:$U/ca/crl/timestamping " \
    "$(uris "$B/ca/tsa.pem")"
check_match "init B: a URL on another host than the loopback listener is warned about" \
    "public\.listen 127\.0\.0\.1:$P4 is loopback only" "$(cat "$WORK/init-b.log")"

# ---- serve A: the banner's URLs, and the TSA URL works ----
LOG=$WORK/signetd.a.log
"$SIGNETD" serve "$A" >"$LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -sf --max-time 2 --cacert "$A/tls/ca.pem" -o /dev/null \
        "https://127.0.0.1:$P1/healthz" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "serve A exited: $(cat "$LOG")"
    sleep 0.1
done
U=http://127.0.0.1:$P2
log=$(cat "$LOG")
check_match "banner: the full TSA URL" "TSA: $U/tsa \(Authenticode: $U/tsa/authenticode\)" "$log"
check_match "banner: the CRL and OCSP URLs" \
    "CRLs: $U/ca/crl/codesigning, $U/ca/crl/timestamping; OCSP: $U/ca/ocsp" "$log"
check_match "banner: where the CA roots are" 'signet ca roots -o ca\.pem' "$log"
tsa=$(sed -n 's/.*TSA: \([^ ]*\) .*/\1/p' "$LOG" | head -1)
head -c 1000 /dev/urandom >data.bin
openssl ts -query -data data.bin -sha256 -cert -out q.tsq 2>/dev/null
curl -sS --max-time 20 -H 'Content-Type: application/timestamp-query' \
    --data-binary @q.tsq -o r.tsr "$tsa"
check_match "the banner's TSA URL grants a time-stamp (openssl ts)" \
    'Status: Granted' "$(openssl ts -reply -in r.tsr -text 2>&1)"
crl=$(sed -n 's/.*CRLs: \([^,]*\),.*/\1/p' "$LOG" | head -1)
curl -sS --max-time 20 -o cs.crl "$crl"
check_match "the banner's CRL URL serves a CRL (openssl crl)" \
    'Certificate Revocation List' "$(openssl crl -inform DER -in cs.crl -noout -text 2>&1 | head -1)"
check_nomatch "serve A, not a terminal: no next steps in the log" 'Next, in another shell' "$log"
server_stop

# On a terminal (script(1) gives it one), the next steps follow.
if command -v script >/dev/null; then
    # A free port can be taken by a parallel test before signetd binds
    # it: another port then (up to three tries).
    for _try in 1 2 3; do
        P5=$(random_port)
        rm -f "$WORK/tty.out" "$WORK/tty.pid"
        timeout 60 script -qfec "sh -c 'echo \$\$ >$WORK/tty.pid; exec $SIGNETD serve $A --listen 127.0.0.1:$P5 --public-listen off'" \
            "$WORK/tty.out" >/dev/null 2>&1 &
        tpid=$!
        EXTRA_PIDS+=($tpid)
        for _ in $(seq 1 200); do
            grep -q 'Stop with Ctrl-C\|Address already in use' "$WORK/tty.out" 2>/dev/null && break
            sleep 0.1
        done
        out=$(cat "$WORK/tty.out")
        [ -s "$WORK/tty.pid" ] && kill -TERM "$(cat "$WORK/tty.pid")" 2>/dev/null
        wait "$tpid" 2>/dev/null
        case $out in *"Address already in use"*) continue ;; esac
        break
    done
    check_match "on a terminal: the next steps (identity, certify, sign, roots)" \
        "subscriber identity ID.*key certify KEY.*sign --key KEY.*ca roots -o ca\.pem" \
        "$(printf '%s' "$out" | tr -d '\r' | tr '\n' ' ')"
else
    log "script(1) missing: the terminal's next steps not checked"
fi

# ---- a port in use: the error names the setting ----
occupy "$P4"
out=$(timeout 60 "$SIGNETD" serve "$B" 2>&1)
rc=$?
check_ne "serve B with public.listen's port taken: fails" 0 "$rc"
check_match "the failure names public.listen, the file and make run's variable, and why" \
    "cannot listen on 127\.0\.0\.1:$P4 \(public\.listen in $B/signetd\.conf, or make run PUBLIC_LISTEN=ADDR:PORT\): Address already in use" \
    "$out"
check_nomatch "... never libmicrohttpd's 'port 0'" 'port 0' "$out"
out=$(timeout 60 "$SIGNETD" serve "$B" --listen "127.0.0.1:$P4" 2>&1)
check_match "the API listener given as an option: the failure names --listen" \
    "cannot listen on 127\.0\.0\.1:$P4 \(--listen; with make run: LISTEN=ADDR:PORT\): Address already in use" \
    "$out"

# ---- signetd check ----
out=$("$SIGNETD" check "$B" 2>&1)
rc=$?
check_match "check: the occupied port, naming public.listen" \
    "warning: public\.listen = 127\.0\.0\.1:$P4: cannot listen: Address already in use" "$out"
check_match "check: the base URL on another host than the loopback listener" \
    "warning: public\.listen 127\.0\.0\.1:$P4 is loopback only: clients reach ca\.base_url http://signet\.example:$P4/pki" \
    "$out"
check_match "check: SoftHSM2 named as a software token" \
    'warning: hsm\.module = [^ ]*softhsm2\.so is SoftHSM2, a software token' "$out"
check_eq "check: warnings only: exit 0" 0 "$rc"
chmod 0644 "$B/admin.token"
out=$("$SIGNETD" check "$B" 2>&1)
rc=$?
check_match "check: a file others can read" \
    "warning: $B/admin\.token is mode 0644: group or others can read it" "$out"
check_eq "check: a readable file is a warning: exit 0" 0 "$rc"
chmod 0620 "$B/signetd.conf"
out=$("$SIGNETD" check "$B" 2>&1)
rc=$?
check_match "check: a configuration its group can change is an error" \
    "error: $B/signetd\.conf is mode 0620: group or others can change it" "$out"
check_eq "check: an error: exit 1" 1 "$rc"
chmod 0600 "$B/admin.token" "$B/signetd.conf"

out=$("$SIGNETD" check "$A" 2>&1)
rc=$?
check_nomatch "check A: its free ports are not reported" 'cannot listen' "$out"
check_nomatch "check A: its default base URL is not reported" 'ca\.base_url' "$out"
check_nomatch "check A: no loose modes" 'is mode 0' "$out"
check_eq "check A: exit 0" 0 "$rc"
finish
