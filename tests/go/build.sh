#!/bin/bash
# Builds the Go test programs into OUTDIR: logverify (the independent
# verifier of the transparency log) and mklog (its selftest's log writer).
# GOPATH mode, standard library and Debian's golang-golang-x-mod-dev only:
# no modules, no network. Quiet on success.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
export GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOCACHE="${TMPDIR:-/tmp}/gocache"
for p in logverify mklog; do
    (cd "$here/$p" && go build -o "$out/$p" .)
done
