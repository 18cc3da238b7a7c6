#!/usr/bin/env bash
# issue 17: people. Operator and subscriber accounts with a password
# (argon2id) and TOTP (RFC 6238), login sessions, recovery codes, lockout
# per account and per address, disabling, the operators' audit log, and
# the second factor that operator actions need (auth.operator_mfa, on in a
# new home). Every TOTP code comes from oathtool (Debian), never from
# Signet; verdicts from curl and jq.
. "$(dirname "$0")/lib.sh" "$@"

command -v oathtool >/dev/null || die "oathtool is not installed"

SERVER_OPERATOR_MFA=true server_init
server_start

PW='correct horse battery staple'
# login NAME PASSWORD [CODE_FIELD CODE]: POST /v1/sessions
login() {
    local extra=""
    [ $# -ge 4 ] && extra=",\"$3\":\"$4\""
    req_json POST /v1/sessions - "{\"name\":\"$1\",\"password\":\"$2\"$extra}"
}

# ---- the bootstrap admin token ----
req GET /v1/whoami "$ADMIN"
check_match "the admin token expires (issue 17: it is a bootstrap credential)" \
    '^20[0-9][0-9]-' "$(jget .expires_at)"
req_json POST /v1/subscribers "$ADMIN" '{"name":"acme"}'
check_error "admin token: creating a subscriber needs an operator's second factor" 403 mfa_required
req POST /v1/tsa/rotate "$ADMIN"
check_error "admin token: rotating the TSA key needs a second factor" 403 mfa_required
req GET /v1/subscribers "$ADMIN"
check_status "admin token: listing subscribers needs none" 200

# ---- an operator account ----
req_json POST /v1/accounts "$ADMIN" \
    "{\"name\":\"alice\",\"roles\":[\"identity\",\"subscribers\",\"revocation\"],\"password\":\"$PW\"}"
check_status "the admin token creates the first operator" 201
ALICE=$(jget .id)
check_eq "a new account has only its password" password "$(jget '.factors | join(",")')"
req_json POST /v1/accounts "$ADMIN" \
    "{\"name\":\"bob\",\"roles\":[\"ca\"],\"password\":\"$PW\"}"
check_error "the admin token makes the first operator only" 403 mfa_required
req_json POST /v1/accounts "$ADMIN" '{"name":"bad","roles":["ca"],"password":"short"}'
check_error "a short password" 400 invalid_field
req_json POST /v1/accounts "$ADMIN" "{\"name\":\"bad\",\"roles\":[\"ca\",\"sign\"],\"password\":\"$PW\"}"
check_error "operator and subscriber roles mixed" 400 invalid_field
req_json POST /v1/accounts "$ADMIN" "{\"name\":\"bad\",\"roles\":[\"root\"],\"password\":\"$PW\"}"
check_error "an unknown role" 400 invalid_field
req_json POST /v1/accounts "$ADMIN" "{\"name\":\"$(head -c 100 /dev/zero | tr '\0' a)\",\"roles\":[\"ca\"],\"password\":\"$PW\"}"
check_error "an oversize name" 400 invalid_field
req_json POST /v1/accounts "$ADMIN" "{\"name\":\"bad\",\"roles\":[\"ca\"],\"password\":\"$PW\",\"admin\":true}"
check_error "an unknown field" 400 invalid_field
req_json POST /v1/accounts "$ADMIN" '{"name":'
check_status "malformed JSON" 400


# ---- enrolment: a password-only session enrols TOTP and nothing else ----
login alice "$PW"
check_status "login with the password only (no TOTP yet)" 201
check_eq "that session proved no second factor" false "$(jget .mfa)"
HALF=$(jget .token)
req GET /v1/subscribers "$HALF"
check_error "a session without a second factor lists nothing" 403 mfa_required
req POST "/v1/accounts/$ALICE/totp" "$HALF"
check_status "it enrols its own TOTP" 200
URI=$(jget .otpauth_uri)
check_match "an otpauth URI for authenticator apps" \
    '^otpauth://totp/Signet:alice\?secret=[A-Z2-7]+&issuer=Signet&algorithm=SHA1&digits=6&period=30$' "$URI"
SECRET=$(printf '%s' "$URI" | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
req_json POST "/v1/accounts/$ALICE/totp/confirm" "$HALF" '{"code":"12345"}'
check_error "a malformed code does not confirm" 400 invalid_field
req_json POST "/v1/accounts/$ALICE/totp/confirm" "$HALF" "{\"code\":\"$(totp_code "$SECRET" -90)\"}"
check_error "a code three steps old does not confirm" 400 invalid_field
totp_fresh_step
req_json POST "/v1/accounts/$ALICE/totp/confirm" "$HALF" "{\"code\":\"$(totp_code "$SECRET" 0)\"}"
check_status "oathtool's current code confirms the enrolment" 200
check_eq "ten recovery codes, shown once" 10 "$(jget '.recovery_codes | length')"
RC1=$(jget '.recovery_codes[0]')
RC2=$(jget '.recovery_codes[1]')

# ---- login with the second factor ----
login alice "$PW"
check_error "TOTP enrolled: the password alone no longer logs in" 401 login_failed
C_NOW=$(totp_code "$SECRET" 0)
login alice "$PW" code "$C_NOW"
check_error "the code just used to confirm is not accepted again (replay)" 401 login_failed
C_NEXT=$(totp_code "$SECRET" 30)
login alice "$PW" code "$C_NEXT"
check_status "login with the next step's code (one step of skew)" 201
check_eq "the session proved a second factor" true "$(jget .mfa)"
OP=$(jget .token)
check_match "it expires" '^20[0-9][0-9]-' "$(jget .expires_at)"
check_eq "it has an idle limit" 900 "$(jget .idle_timeout)"
req GET /v1/whoami "$OP"
check_eq "whoami: a session with its factor, the account's roles" \
    "session true $ALICE identity,revocation,subscribers" \
    "$(jget .auth) $(jget .mfa) $(jget .via) $(jget '.roles | join(",")')"
login alice "$PW" code "$C_NEXT"
check_error "the same code a second time (replay)" 401 login_failed
login alice "$PW" code "$(totp_code "$SECRET" -65)"
check_error "a code two steps old (beyond the skew)" 401 login_failed
login alice "wrong password here" code "$(totp_code "$SECRET" 0)"
check_error "a right code with a wrong password" 401 login_failed
login alice "$PW" code "12a456"
check_error "a code that is not six digits" 401 login_failed
login alice "$PW" recovery_code "$RC1"
check_status "a recovery code logs in" 201
check_eq "with a second factor" true "$(jget .mfa)"
login alice "$PW" recovery_code "$RC1"
check_error "the same recovery code twice" 401 login_failed
login alice "$PW" recovery_code "aaaa-bbbb-cccc-dddd"
check_error "a recovery code that was never issued" 401 login_failed
req GET /v1/accounts "$OP"
check_eq "nine recovery codes left" 9 \
    "$(jget ".accounts[] | select(.id == \"$ALICE\") | .recovery_codes_left")"

# ---- the bootstrap token made the first operator; no more ----
req_json POST /v1/accounts "$ADMIN" "{\"name\":\"eve\",\"roles\":[\"ca\"],\"password\":\"$PW\"}"
check_error "the admin token cannot make a second operator" 403 mfa_required

# ---- a new authenticator: the old one stays in force until confirmed ----
req POST "/v1/accounts/$ALICE/totp" "$OP"
check_status "alice starts enrolling a new authenticator" 200
SECRET2=$(jget .otpauth_uri | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
login alice "$PW"
check_error "meanwhile the password alone still does not log in" 401 login_failed
req GET /v1/accounts "$OP"
check_eq "the review shows a factor active and a new one pending" "totp pending" \
    "$(jget ".accounts[] | select(.id == \"$ALICE\") | .factors[1] + \" \" + .totp")"
totp_fresh_step
req_json POST "/v1/accounts/$ALICE/totp/confirm" "$OP" "{\"code\":\"$(totp_code "$SECRET2" 0)\"}"
check_status "alice confirms the new authenticator" 200
RC2=$(jget '.recovery_codes[1]') # a new set replaced the old
login alice "$PW" code "$(totp_code "$SECRET" 30)"
check_error "the old authenticator's codes no longer work" 401 login_failed
SECRET=$SECRET2

# ---- what the operator's session does: its roles, with its factor ----
req_json POST /v1/subscribers "$OP" '{"name":"acme"}'
check_status "the operator's session creates a subscriber" 201
A=$(jget .id)
req_json PUT "/v1/subscribers/$A/identity" "$OP" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
check_status "it records the subscriber's identity ('identity' role)" 200
req POST /v1/tsa/rotate "$OP"
check_error "it has no 'ca' role: no TSA rotation" 403 forbidden
AM=$(new_token "$A" '"roles":["manage","sign"]' "$OP")
[ -n "$AM" ] || die "no manage token"
req_json POST /v1/subscribers "$ADMIN" '{"name":"bravo"}'
check_error "the admin token still cannot" 403 mfa_required
req_json POST /v1/subscribers "$OP" '{"name":"bravo"}'
B=$(jget .id)
BM=$(new_token "$B" '"roles":["manage","sign"]' "$OP")

# ---- subscriber users: made by people (an operator, a manager) ----
req_json POST /v1/accounts "$AM" "{\"name\":\"bob\",\"roles\":[\"sign\",\"approve\"],\"password\":\"$PW\"}"
check_error "a static manage token creates no people" 403 mfa_required
req_json POST /v1/accounts "$OP" "{\"name\":\"bob\",\"roles\":[\"sign\",\"approve\"],\"subscriber\":\"$A\",\"password\":\"$PW\"}"
check_status "the operator creates acme's user bob" 201
BOB=$(jget .id)
check_eq "a subscriber account" "subscriber $A" "$(jget .kind) $(jget .subscriber)"
mfa_person mia '["manage"]' "$OP" "$A" && SM=$P_TOKEN
req_json POST /v1/accounts "$SM" "{\"name\":\"mallory\",\"roles\":[\"sign\"],\"password\":\"$PW\"}"
check_error "a manager holding only 'manage' cannot grant 'sign'" 403 forbidden
req_json POST /v1/accounts "$SM" "{\"name\":\"apprv\",\"roles\":[\"approve\"],\"password\":\"$PW\"}"
check_status "but makes an approver (approvals are its own control)" 201
req_json POST /v1/accounts "$SM" "{\"name\":\"mallory\",\"roles\":[\"ca\"],\"password\":\"$PW\"}"
check_error "but not an operator" 403 forbidden
req_json POST /v1/accounts "$SM" "{\"name\":\"mallory\",\"roles\":[\"manage\"],\"subscriber\":\"$B\",\"password\":\"$PW\"}"
check_error "nor another subscriber's user" 404 not_found
req GET /v1/accounts "$BM"
check_eq "another subscriber lists none of acme's people" 0 "$(jget '.accounts | length')"
req POST "/v1/accounts/$BOB/totp" "$BM"
check_error "another subscriber cannot reset bob's TOTP" 404 not_found
req POST "/v1/accounts/$BOB/totp" "$SM"
check_error "bob's manager does not reset bob's factors" 403 forbidden
req POST "/v1/accounts/$BOB/totp" "$OP"
check_status "an operator does" 200
check_eq "and is shown no secret" "none null" "$(jget .state) $(jget .otpauth_uri)"
login bob "$PW"
BOBHALF=$(jget .token)
req_json POST "/v1/accounts/$BOB/totp/confirm" "$SM" '{"code":"123456"}'
check_error "only bob confirms bob's authenticator" 403 forbidden
PW2='another long passphrase here'
req_json POST "/v1/accounts/$BOB/password" "$SM" "{\"password\":\"$PW2\"}"
check_error "the manager cannot set bob's password" 403 forbidden
req_json POST "/v1/accounts/$BOB/password" "$BOBHALF" "{\"password\":\"$PW2\"}"
check_status "bob sets his own password" 200
login bob "$PW"
check_error "the creator's password no longer works" 401 login_failed
login bob "$PW2"
check_status "bob's does" 201
BOBHALF=$(jget .token)
req POST "/v1/accounts/$BOB/disable" "$BOBHALF"
check_error "a password-only session cannot disable its account" 403 mfa_required
req POST "/v1/accounts/$ALICE/totp" "$BOBHALF"
check_error "bob's session cannot enrol alice" 404 not_found

# ---- lockout per account ----
for i in 1 2 3 4 5; do login bob "not the password $i"; done
check_error "the fifth wrong password" 401 login_failed
login bob "$PW2"
check_error "then even the right password waits" 429 login_locked
check_match "and says how long" 'try again in [0-9]+ s' "$(jget .message)"
req GET /v1/accounts "$OP"
check_eq "the review shows the failures" 5 \
    "$(jget ".accounts[] | select(.id == \"$BOB\") | .failed_logins")"

# ---- disabling ends sessions at once ----
req_json POST /v1/accounts "$OP" "{\"name\":\"eve\",\"roles\":[\"ca\"],\"password\":\"$PW\"}"
check_error "alice cannot grant 'ca', which she does not hold" 403 forbidden
req_json POST /v1/accounts "$OP" "{\"name\":\"alice\",\"roles\":[\"identity\"],\"password\":\"$PW\"}"
check_error "a second account of that name" 409 conflict
req_json POST /v1/accounts "$OP" "{\"name\":\"carol\",\"roles\":[\"identity\"],\"password\":\"$PW\"}"
CAROL=$(jget .id)
login carol "$PW"
CAROLS=$(jget .token)
req GET /v1/whoami "$CAROLS"
check_status "carol's session works" 200
req POST "/v1/accounts/$CAROL/disable" "$OP"
check_status "alice disables carol" 200
req GET /v1/whoami "$CAROLS"
check_error "carol's session ends at once" 401 unauthorized
login carol "$PW"
check_error "carol cannot log in" 401 login_failed
req POST "/v1/accounts/$CAROL/disable" "$OP"
check_error "disabling twice" 409 conflict

# ---- the operators' audit log ----
req GET "/v1/admin/audit?order=desc&limit=100" "$OP"
check_status "GET /v1/admin/audit" 200
ACTS=$(jget '[.records[].action] | unique | join(",")')
for a in account_create totp_enrol totp_confirm login subscriber_create identity_set token_create account_disable; do
    check_match "the operators' log has $a" "(^|,)$a(,|$)" "$ACTS"
done
req GET /v1/admin/audit "$AM"
check_error "a subscriber's token cannot read it" 403 forbidden
req GET "/v1/audit?limit=100" "$AM"
check_match "acme's own log has the identity an operator recorded" \
    'identity' "$(jget '[.records[].action] | join(",")')"

# ---- bad input changes nothing ----
req_json POST /v1/sessions - '{"name":"alice","password":'
check_status "a malformed login body" 400
req_json POST /v1/sessions - "{\"name\":\"alice\",\"password\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}"
check_error "an oversize password" 400 invalid_field
req_json POST /v1/sessions - "{\"name\":\"alice\",\"password\":\"$PW\",\"code\":\"1\",\"recovery_code\":\"x\"}"
check_error "a code and a recovery code at once" 400 invalid_field
req DELETE /v1/sessions/current "$AM"
check_error "an API token is not a session to end" 400 bad_request
req_json POST /v1/sessions - '{"name":"carol","password":"Sup3rSecretPassw0rd'
check_error "a truncated body" 400 invalid_json
check_nomatch "its error does not quote the password" 'Sup3rSecret' "$BODY"

# ---- logout ----
req DELETE /v1/sessions/current "$OP"
check_status "logout" 200
req GET /v1/whoami "$OP"
check_error "the session no longer works" 401 unauthorized

# ---- lockout per address (last: it locks this test's address) ----
for i in $(seq 1 20); do login "nobody$i" "$PW"; done
login alice "$PW" code "$(totp_code "$SECRET" -30)"
check_error "after 20 failures from one address, even a good login waits" 429 login_locked

# ---- no secret in the log ----
LOGF=$WORK/signetd.$SERVER_PORT.log
for s in "$PW" "$PW2" "$SECRET" "$RC1" "$RC2" "$OP" "$HALF"; do
    check_eq "the server log does not hold a secret (${s:0:4}...)" 0 \
        "$(grep -cF -- "$s" "$LOGF")"
done
check_healthy "people"

# ---- the bootstrap token rotated (signetd admin-token) ----
server_stop
check_cmd "signetd admin-token" "$SIGNETD" admin-token --home "$SERVER_HOME"
NEWADMIN=$(tr -d '\n' <"$SERVER_HOME/admin.token")
check_ne "admin.token holds a new token" "$ADMIN" "$NEWADMIN"
check_eq "admin.token stays 0600" 600 "$(stat -c %a "$SERVER_HOME/admin.token")"
server_start
req GET /v1/subscribers "$ADMIN"
check_error "the old admin token is revoked" 401 unauthorized
req GET /v1/subscribers "$NEWADMIN"
check_status "the new one works" 200

# ---- the idle limit (the shortest allowed: 60 s) ----
server_stop
set_conf sessions.idle_timeout 60
server_start
login alice "$PW" recovery_code "$RC2"
check_status "a login with an idle limit of 60 s" 201
IDLE=$(jget .token)
sleep 20
req GET /v1/whoami "$IDLE"
check_status "used after 20 s" 200
sleep 25
req GET /v1/whoami "$IDLE"
check_status "used again 25 s later (in use, it stays)" 200
sleep 62
req GET /v1/whoami "$IDLE"
check_error "62 s unused: the session ended" 401 unauthorized
check_match "and says why" 'idle' "$(jget .message)"
finish
