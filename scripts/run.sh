#!/usr/bin/env bash
# make run: create a home under ./var if there is none, then serve in the
# foreground. Usage: scripts/run.sh BUILD_DIR HOME_DIR
set -euo pipefail
build=${1:-build}
home=${2:-var/home}
listen=${SIGNET_LISTEN:-127.0.0.1:8443}

if [ ! -f "$home/signetd.conf" ]; then
    mkdir -p "$(dirname "$home")"
    "$build/signetd" init --home "$home"
fi
home=$(cd "$home" && pwd)

cat <<TEXT

Signet is serving on https://$listen
  admin token: $home/admin.token   (mode 0600; shown nowhere else)
  TLS root:    $home/tls/ca.pem
  CRLs, OCSP, CA certificates and the TSA: http://$(sed -n 's/^public.listen *= *//p' "$home/signetd.conf")

Try, in another shell:
  export SIGNET_URL=https://$listen SIGNET_CA_FILE=$home/tls/ca.pem
  export SIGNET_TOKEN=\$(cat $home/admin.token)
  $build/signet subscriber create acme
  $build/signet token create --subscriber <ID from above> --role manage --role sign
  SIGNET_TOKEN=<token from above> $build/signet key create --algorithm ecdsa-p256 --label release

Stop with Ctrl-C (in-flight requests finish first).
TEXT
exec "$build/signetd" serve --home "$home" --listen "$listen"
