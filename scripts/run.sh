#!/usr/bin/env bash
# make run: create a home under ./var if there is none, then serve in the
# foreground. Usage: scripts/run.sh BUILD_DIR HOME_DIR
set -euo pipefail
build=${1:-build}
home=${2:-var/home}
listen=${SIGNET_LISTEN:-127.0.0.1:8443}

if [ ! -f "$home/signetd.conf" ]; then
    mkdir -p "$(dirname "$home")"
    # A demo home: Signet's OIDs under IANA's documentation PEN (RFC 5612;
    # use your own PEN in production), and SoftHSM2, a software module on
    # no certified list, gets test code signing certificates (policy
    # 2.23.140.2.1) instead of refusals.
    "$build/signetd" init --home "$home" --oid-arc 1.3.6.1.4.1.32473
    sed -i 's/^ca\.allow_uncertified_modules = .*/ca.allow_uncertified_modules = true/' \
        "$home/signetd.conf"
fi
home=$(cd "$home" && pwd)

cat <<TEXT

Signet is serving on https://$listen
  admin token: $home/admin.token   (mode 0600; shown nowhere else)
  TLS root:    $home/tls/ca.pem
  CRLs, OCSP, CA certificates and the TSA: http://$(sed -n 's/^public.listen *= *//p' "$home/signetd.conf")
  code signing certificates are test certificates (policy 2.23.140.2.1)
  while ca.allow_uncertified_modules = true (SoftHSM2 is software)

Try, in another shell:
  export SIGNET_URL=https://$listen SIGNET_CA_FILE=$home/tls/ca.pem
  export SIGNET_TOKEN=\$(cat $home/admin.token)
  $build/signet subscriber create acme
  $build/signet token create --subscriber <ID from above> --role manage --role sign
  SIGNET_TOKEN=<token from above> $build/signet key create --algorithm ecdsa-p256 --label release

Stop with Ctrl-C (in-flight requests finish first).
TEXT
exec "$build/signetd" serve --home "$home" --listen "$listen"
