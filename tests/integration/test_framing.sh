#!/usr/bin/env bash
# Strict HTTP/1.1 framing, on raw sockets (framing.py), on the plain public
# listener and over TLS on the API listener: a request with both
# Content-Length and Transfer-Encoding, two Content-Lengths (differing or
# not), an unknown Transfer-Encoding, or no Host is answered 400 and the
# connection is closed, and so is a request line or header line ended by
# a bare LF, a head ended by one, and a folded (obs-fold) header line; a
# well-formed request on the same kind of socket gets 200 and the
# connection stays open.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
server_start

judge() { # judge LISTENER OUTPUT
    local name status closed
    while read -r name status closed; do
        case $name in
        good | good_empty_value) check_eq "$1: a well-formed request is answered, connection kept" \
            "200 open" "$status $closed" ;;
        *) check_eq "$1: $name -> 400, connection closed" "400 closed" \
            "$status $closed" ;;
        esac
    done <<<"$2"
}

judge plain "$("$PY" "$(dirname "$0")/framing.py" --port "$PUBLIC_PORT")"
judge tls "$("$PY" "$(dirname "$0")/framing.py" --port "$SERVER_PORT" --tls --ca "$SERVER_CA")"
check_healthy
finish
