#!/usr/bin/env bash
# Installs the Debian 12 packages Signet builds and tests with, only when one
# is missing. Needs root (or sudo) for apt-get when something is missing.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libssl-dev libp11-kit-dev
      libsofthsm2 softhsm2 libsqlite3-dev sqlite3 libpq-dev postgresql-15 libjansson-dev
      libmicrohttpd-dev libcurl4-openssl-dev libcmocka-dev opensc
      libgnutls28-dev openssl curl jq clang libclang-rt-14-dev
      osslsigncode openjdk-17-jdk-headless python3 python3-cryptography libengine-pkcs11-openssl libp11-dev
      p11-kit p11-kit-modules xxd clang-format git libfaketime
      sbsigntool apksigner gnupg-pkcs11-scd nodejs
      python3-pykcs11 libargon2-dev oathtool golang-go golang-golang-x-mod-dev
      memtest86+ haproxy strace)
# libargon2 hashes account passwords; oathtool makes the tests' TOTP codes
# (issue 17). golang-go and golang-golang-x-mod-dev build the test-only
# transparency-log verifier (tests/go, issue 18); memtest86+ ships the real
# PE (an EFI image) the CSC-12 test signs (issue 18). nodejs (20, with its npm) runs the test OIDC issuer (tests/support/oidc);
# on Debian 12 proper, add npm: the nodesource build carries its own.
# strace follows signetd's system calls in test_unit_user.sh (the systemd
# unit's filter). haproxy (2.6) sends PROXY protocol v2 headers in tests/integration/
# test_proxy.sh; Debian's own haproxy service is not used (stop it).

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
