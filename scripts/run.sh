#!/usr/bin/env bash
# make run: create a home under ./var if there is none, then serve in the
# foreground. Usage: scripts/run.sh BUILD_DIR HOME_DIR [LISTEN [PUBLIC_LISTEN
# [PUBLIC_URL]]] (make run's variables; empty: signetd's defaults for a new
# home, the home's own settings for an existing one).
set -euo pipefail
build=${1:-build}
home=${2:-var/home}
listen=${3:-${SIGNET_LISTEN:-}}
public_listen=${4:-}
public_url=${5:-}

if [ ! -f "$home/signetd.conf" ]; then
    mkdir -p "$(dirname "$home")"
    # A demo home: Signet's OIDs under IANA's documentation PEN (RFC 5612;
    # use your own PEN in production), and SoftHSM2, a software module on
    # no certified list, gets test code signing certificates (policy
    # 2.23.140.2.1) instead of refusals.
    "$build/signetd" init "$home" --oid-arc 1.3.6.1.4.1.32473 \
        ${listen:+--listen "$listen"} \
        ${public_listen:+--public-listen "$public_listen"} \
        ${public_url:+--public-url "$public_url"}
    sed -i 's/^ca\.allow_uncertified_modules = .*/ca.allow_uncertified_modules = true/' \
        "$home/signetd.conf"
    # The demo signs with static API tokens (the README's session): new
    # homes refuse that by default (auth.require_strong_auth), this one
    # says so explicitly.
    sed -i 's/^auth\.require_strong_auth = .*/auth.require_strong_auth = false/' \
        "$home/signetd.conf"
    # The README's session also acts as the operator with the admin token;
    # new homes want an operator's login with a second factor for that
    # (auth.operator_mfa, docs/accounts.md).
    sed -i 's/^auth\.operator_mfa = .*/auth.operator_mfa = false/' \
        "$home/signetd.conf"
    # Written into the configuration: serve takes them from there.
    listen= public_listen=
elif [ -n "$public_url" ] &&
    ! grep -qx "ca.base_url = $public_url" "$home/signetd.conf"; then
    echo "run: $home was made with $(grep '^ca\.base_url' "$home/signetd.conf")," \
        "frozen into its certificates; PUBLIC_URL applies to a new home:" \
        "remove $home, or make run HOME_DIR=var/other" >&2
    exit 1
fi
home=$(cd "$home" && pwd)
echo "Code signing certificates are test certificates (policy 2.23.140.2.1)" \
    "while ca.allow_uncertified_modules = true (SoftHSM2 is software)."
# signetd prints the URLs and the next steps.
exec "$build/signetd" serve "$home" ${listen:+--listen "$listen"} \
    ${public_listen:+--public-listen "$public_listen"}
