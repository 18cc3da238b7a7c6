#!/bin/bash
# Selftest of logverify without the C server: builds logverify and mklog
# (../build.sh), runs the unit tests, writes synthetic logs with mklog
# (sizes 0, 1, 255, 256, 257, 300, 65536, 70000, forks, foreign keys),
# serves them with python3 -m http.server on 127.0.0.1 (and https with a
# throw-away CA when openssl is there) and asserts every verdict: the exit
# status and the ok lines or the FAIL line. For logverify audit, mklog
# -audit also writes the audit records the entries commit to, served by
# fakeapi.py (GET /v1/whoami, GET /v1/audit paged), altered case by case.
#
#   tests/go/logverify/selftest.sh        exit 0 when every check passed
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/logverify-selftest.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

"$here/../build.sh" "$work/bin"
LV=$work/bin/logverify
MK=$work/bin/mklog
if ! (cd "$here" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
        GOCACHE="${TMPDIR:-/tmp}/gocache" go test -count=1 . >"$work/gotest" 2>&1); then
    cat "$work/gotest"
    echo "selftest: go test failed"
    exit 1
fi
echo "ok   go test (unit tests)"

passed=1
failed=0
out=$work/out
err=$work/err

# check NAME WANT PATTERN... -- COMMAND...
#   WANT 0: exit 0, every PATTERN matches a whole line of stdout
#   WANT 1: exit 1, the last line of stdout is "FAIL: ..." matching PATTERN
#   WANT 2: exit 2, no ok/FAIL line, stderr matches PATTERN
check() {
    local name=$1 want=$2
    shift 2
    local pats=()
    while [ "$1" != "--" ]; do
        pats+=("$1")
        shift
    done
    shift
    local rc=0 good=1 p
    "$@" >"$out" 2>"$err" || rc=$?
    [ "$rc" = "$want" ] || good=0
    case $want in
    0)
        for p in "${pats[@]}"; do
            grep -qxE -- "$p" "$out" || good=0
        done
        ;;
    1)
        tail -n1 "$out" | grep -qE -- "^FAIL: .*(${pats[0]})" || good=0
        ;;
    2)
        grep -qE -- "${pats[0]}" "$err" || good=0
        ! grep -qE '^(ok|FAIL)' "$out" || good=0
        ;;
    esac
    if [ $good = 1 ]; then
        passed=$((passed + 1))
        echo "ok   $name"
        if [ "$want" = 1 ]; then echo "       $(tail -n1 "$out")"; fi
        if [ "$want" = 2 ]; then echo "       (exit 2) $(tail -n1 "$err")"; fi
    else
        failed=$((failed + 1))
        echo "FAILED $name: exit $rc (want $want), patterns: ${pats[*]}"
        sed 's/^/  | /' "$out" "$err" | head -20
    fi
}

# assert NAME COMMAND...: COMMAND succeeds
assert() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAILED $name"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    local i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "selftest: nothing listens on port $1" >&2
    exit 2
}

# flip FILE OFFSET: xor the byte at OFFSET with 1
flip() {
    python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(b)' "$1" "$2"
}
save() { cp -p "$1" "$work/saved"; }
restore() { cp -p "$work/saved" "$1"; }

# ---- the logs ----
www=$work/www
cps=$work/cps
mkdir -p "$www" "$cps"
origin=selftest.example/log
vk=$("$MK" genkey -name $origin -skey "$work/sk")
"$MK" genkey -name $origin -skey "$work/sk2" >/dev/null            # same name, another key
"$MK" genkey -name other.example/log -skey "$work/sk3" >/dev/null  # another log
for n in 0 1 255 256 257; do
    "$MK" write -dir "$www/s$n" -skey "$work/sk" -n $n
done
"$MK" write -dir "$www/log" -skey "$work/sk" -n 300 -proof 0,5,299
"$MK" write -dir "$www/otherkey" -skey "$work/sk2" -n 300 -proof 5
"$MK" write -dir "$www/badentry" -skey "$work/sk" -n 300 -badentry 7
"$MK" write -dir "$www/badroot" -skey "$work/sk" -n 1000 -badroot
"$MK" write -dir "$www/ext" -skey "$work/sk" -n 300 -ext "example.com/ext 1"
"$MK" write -dir "$www/malsize" -skey "$work/sk" -n 300 -checkpoint-only -size-text 0300
"$MK" write -dir "$www/badorigin" -skey "$work/sk" -n 300 -checkpoint-only -origin elsewhere.example/log
mkdir -p "$www/garbage" && echo "not a note" >"$www/garbage/checkpoint"
"$MK" write -dir "$cps/forkbig" -skey "$work/sk" -n 70001 -seed b -checkpoint-only
"$MK" write -dir "$cps/forksame" -skey "$work/sk" -n 70000 -seed b -checkpoint-only
"$MK" write -dir "$cps/fork300" -skey "$work/sk" -n 300 -seed b -checkpoint-only
"$MK" write -dir "$cps/otherlog" -skey "$work/sk3" -n 100 -checkpoint-only

port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$www" >"$work/http.log" 2>&1 &
pids+=($!)
wait_port "$port"
U=http://127.0.0.1:$port
r0=47DEQpj8HBSa\\+/TImW\\+5JCeuQeRkm5NMpJWZG3hSuFU=   # SHA-256(""), as a regexp
R='[A-Za-z0-9+/]{43}='

# ---- good logs: small sizes, kept state across tile boundaries ----
st=$work/state
check "empty log (size 0, root SHA-256 of nothing)" 0 "ok checkpoint size=0 root=$r0" "ok entries checked=0" -- \
    "$LV" tree -vkey "$vk" -url "$U/s0" -state "$st"
check "size 1, from the empty tree" 0 "ok checkpoint size=1 root=$R" "ok consistent old=0 new=1" "ok entries checked=1" -- \
    "$LV" tree -vkey "$vk" -url "$U/s1" -state "$st"
assert "state file holds the size-1 checkpoint" cmp -s "$st" "$www/s1/checkpoint"
check "size 255, consistent with 1" 0 "ok consistent old=1 new=255" "ok entries checked=255" -- \
    "$LV" tree -vkey "$vk" -url "$U/s255" -state "$st"
check "size 256 (one full tile), consistent with 255" 0 "ok consistent old=255 new=256" "ok entries checked=256" -- \
    "$LV" tree -vkey "$vk" -url "$U/s256" -state "$st"
check "size 257, consistent with 256" 0 "ok consistent old=256 new=257" "ok entries checked=257" -- \
    "$LV" tree -vkey "$vk" -url "$U/s257/" -state "$st"
check "size 300, consistent with 257" 0 "ok checkpoint size=300 root=$R" "ok consistent old=257 new=300" "ok entries checked=300" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$st"
check "size 300 again (same checkpoint)" 0 "ok consistent old=300 new=300" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$st" -entries 10
echo "$vk" >"$work/vkey"
check "vkey from a file (@FILE), no state" 0 "ok checkpoint size=300 root=$R" "ok entries checked=300" -- \
    "$LV" tree -vkey "@$work/vkey" -url "$U/log"
cp -r "$www/log/proof" "$work/proof300"
cp "$www/log/checkpoint" "$work/cp300"

# ---- the log grows: 300 -> 65536 (two full levels) -> 70000 ----
"$MK" write -dir "$www/log" -skey "$work/sk" -n 65536
check "grown to 65536, consistent with 300, 100 sampled" 0 "ok checkpoint size=65536 root=$R" "ok consistent old=300 new=65536" "ok entries checked=100" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$st" -entries 100
"$MK" write -dir "$www/log" -skey "$work/sk" -n 70000 -proof 0,12345,65535,69999
check "grown to 70000, consistent with 65536, every entry" 0 "ok checkpoint size=70000 root=$R" "ok consistent old=65536 new=70000" "ok entries checked=70000" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$st"
assert "state file holds the size-70000 checkpoint" cmp -s "$st" "$www/log/checkpoint"
check "-entries 0" 0 "ok entries checked=0" -- "$LV" tree -vkey "$vk" -url "$U/log" -entries 0
check "-entries 2 (the first and the last)" 0 "ok entries checked=2" -- "$LV" tree -vkey "$vk" -url "$U/log" -entries 2
check "checkpoint with an extension line" 0 "ok checkpoint size=300 root=$R" "ok entries checked=300" -- \
    "$LV" tree -vkey "$vk" -url "$U/ext"

# ---- proofs ----
for i in 0 12345 65535 69999; do
    check "inclusion proof of entry $i" 0 "ok checkpoint size=70000 root=$R" "ok inclusion index=$i tree_size=70000" -- \
        "$LV" proof -vkey "$vk" -proof "$www/log/proof/$i" -entry "$www/log/proof/$i.entry"
done
check "inclusion proof against the earlier checkpoint (300)" 0 "ok inclusion index=5 tree_size=300" -- \
    "$LV" proof -vkey "$vk" -proof "$work/proof300/5" -entry "$work/proof300/5.entry"
check "proof: another entry's bytes" 1 "leaf_hash .* is not the entry's hash" -- \
    "$LV" proof -vkey "$vk" -proof "$www/log/proof/0" -entry "$www/log/proof/12345.entry"
# edit PROOF 'python expression on p' > OUT
edit() {
    python3 -c 'import json, sys, base64
p = json.load(open(sys.argv[1]))
def flipb(s): b = bytearray(base64.b64decode(s)); b[0] ^= 1; return base64.b64encode(bytes(b)).decode()
exec(sys.argv[2])
json.dump(p, open(sys.argv[3], "w"))' "$1" "$2" "$3"
}
pf=$www/log/proof/12345
edit "$pf" 'p["inclusion"][3] = flipb(p["inclusion"][3])' "$work/p.json"
check "proof: a hash of the path altered" 1 "entry 12345 is not proved" -- \
    "$LV" proof -vkey "$vk" -proof "$work/p.json" -entry "$pf.entry"
edit "$pf" 'p["inclusion"].append(p["inclusion"][0])' "$work/p.json"
check "proof: one hash too many" 1 "entry 12345 is not proved" -- \
    "$LV" proof -vkey "$vk" -proof "$work/p.json" -entry "$pf.entry"
edit "$pf" 'p["index"] = 12344' "$work/p.json"
check "proof: another index" 1 "entry 12344 is not proved" -- \
    "$LV" proof -vkey "$vk" -proof "$work/p.json" -entry "$pf.entry"
edit "$pf" 'p["tree_size"] = 69999' "$work/p.json"
check "proof: tree_size not the checkpoint's" 1 "tree_size 69999, its checkpoint has size 70000" -- \
    "$LV" proof -vkey "$vk" -proof "$work/p.json" -entry "$pf.entry"
edit "$pf" 'p["checkpoint"] = p["checkpoint"].replace("\n70000\n", "\n70001\n")' "$work/p.json"
check "proof: checkpoint altered" 1 "invalid signature" -- \
    "$LV" proof -vkey "$vk" -proof "$work/p.json" -entry "$pf.entry"
edit "$pf" 'del p["leaf_hash"]' "$work/p.json"
check "proof: a member missing" 1 "missing member" -- \
    "$LV" proof -vkey "$vk" -proof "$work/p.json" -entry "$pf.entry"
check "proof: checkpoint by another key" 1 "not signed by $origin" -- \
    "$LV" proof -vkey "$vk" -proof "$www/otherkey/proof/5" -entry "$www/otherkey/proof/5.entry"

# ---- entries ----
check "entries: all 70000 listed" 0 "0 record 2026-12-01T00:00:00Z - - 1000" "69999 .*" -- \
    "$LV" entries -vkey "$vk" -url "$U/log"
assert "entries: 70000 lines, index, type, time, key, sig-sha256, audit id" \
    awk 'NF != 6 || $1 != NR - 1 || $2 !~ /^(sign|key|destroy|cert|revoke|record)$/ { bad = 1 } END { exit bad || NR != 70000 }' "$out"
key=$(awk '$1 == 12346 { print $4 }' "$out")
check "entries -key $key" 0 "12346 revoke 2026-12-01T03:25:46Z $key - 13346" -- \
    "$LV" entries -vkey "$vk" -url "$U/log" -key "$key"
assert "entries -key: only that key's entries" awk -v k="$key" '$4 != k { bad = 1 } END { exit bad || NR < 100 }' "$out"
check "entries: two fields swapped in entry 7" 1 'entry 7: field line 6 is "spki-sha256", want field "key"' -- \
    "$LV" entries -vkey "$vk" -url "$U/badentry"
check "tree of that log still verifies (the tree is sound)" 0 "ok entries checked=300" -- \
    "$LV" tree -vkey "$vk" -url "$U/badentry"

# ---- tampered tiles, bundles, checkpoints (the 70000 log, restored after each) ----
L=$www/log
f=$L/tile/0/100
save "$f"; flip "$f" $((32 * 17 + 5))
check "a byte flipped in level-0 hash tile 100" 1 "hash tile tile/0/100 does not hash to its parent's hash $R in tile/1/000" -- \
    "$LV" tree -vkey "$vk" -url "$U/log"
restore "$f"
f=$L/tile/1/000
save "$f"; flip "$f" 4000
check "a byte flipped in level-1 hash tile 0" 1 "hash tile tile/1/000 does not hash to its parent's hash $R in tile/2/000.p/1" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -entries 2
restore "$f"
f=$L/tile/0/273.p/112
save "$f"; flip "$f" 100
check "a byte flipped in the partial level-0 tile" 1 "hash tiles of the tree of size 70000: downloaded inconsistent tile" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -entries 0
restore "$f"
f=$L/tile/0/001
save "$f"; flip "$f" $((32 * 200))
cp "$work/cp300" "$work/st2"
check "a byte flipped in hash tile 0/001 read for a consistency proof (a tile, not a fork)" 1 "hash tile tile/0/001 does not hash to its parent's hash" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$work/st2" -entries 0
restore "$f"
check "the same consistency proof, restored" 0 "ok consistent old=300 new=70000" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$work/st2" -entries 0
f=$L/tile/entries/100
save "$f"; flip "$f" 5
check "a byte flipped in entry bundle 100" 1 "entry 25600 \(bundle tile/entries/100\): its hash .* is not the leaf hash in tile/0/100" -- \
    "$LV" tree -vkey "$vk" -url "$U/log"
restore "$f"
f=$L/tile/entries/273.p/112
save "$f"; truncate -s -10 "$f"
check "the last (partial) bundle truncated" 1 "entry bundle tile/entries/273.p/112: entry 111: length [0-9]+, only [0-9]+ bytes left" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -entries 2
restore "$f"
f=$L/tile/entries/000
save "$f"; printf 'x' >>"$f"
check "a byte after the first bundle's 256 entries" 1 "entry bundle tile/entries/000: 1 trailing bytes after its 256 entries" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -entries 2
restore "$f"
f=$L/tile/entries/273.p/112
save "$f"; rm "$f"
check "the last bundle missing (404)" 1 "GET tile/entries/273.p/112: 404" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -entries 2
restore "$f"
f=$L/tile/0/050
save "$f"; rm "$f"
check "level-0 hash tile 50 missing (404)" 1 "GET tile/0/050: 404" -- \
    "$LV" tree -vkey "$vk" -url "$U/log"
restore "$f"
f=$L/tile/1/000
save "$f"; truncate -s -32 "$f"
check "level-1 hash tile 0 one hash short" 1 "hash tile tile/1/000: 8160 bytes, want 8192" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -entries 2
restore "$f"
f=$L/checkpoint
save "$f"
python3 -c 'import sys
p = sys.argv[1]; l = open(p).read().split("\n")
l[2] = ("B" if l[2][0] != "B" else "C") + l[2][1:]; open(p, "w").write("\n".join(l))' "$f"
check "checkpoint root altered (signature kept)" 1 "checkpoint: invalid signature by $origin\+[0-9a-f]{8}" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$st"
restore "$f"
assert "state file unchanged by the failure" cmp -s "$st" "$www/log/checkpoint"
check "checkpoint signing a wrong root (re-signed): tiles disagree" 1 "hash tiles of the tree of size 1000: downloaded inconsistent tile" -- \
    "$LV" tree -vkey "$vk" -url "$U/badroot"
check "checkpoint signed by another key of the same name" 1 "checkpoint: not signed by $origin\+[0-9a-f]{8} \(signed by: $origin\+[0-9a-f]{8}\)" -- \
    "$LV" tree -vkey "$vk" -url "$U/otherkey"
check "checkpoint size not canonical (0300)" 1 'checkpoint: malformed tree size "0300"' -- \
    "$LV" tree -vkey "$vk" -url "$U/malsize"
check "checkpoint origin not the key's name" 1 'checkpoint: origin "elsewhere.example/log" is not the key'"'"'s name' -- \
    "$LV" tree -vkey "$vk" -url "$U/badorigin"
check "checkpoint not a signed note" 1 "checkpoint: malformed signed note" -- \
    "$LV" tree -vkey "$vk" -url "$U/garbage"
check "no checkpoint (404)" 1 "GET checkpoint: 404" -- \
    "$LV" tree -vkey "$vk" -url "$U/nothing"

# ---- kept checkpoints that the log must not be consistent with ----
cp "$cps/forkbig/checkpoint" "$work/st2"
check "state: a different log of larger size (same key)" 1 "log shrank: earlier checkpoint has size 70001, this one 70000" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$work/st2"
assert "state file unchanged by the failure" cmp -s "$work/st2" "$cps/forkbig/checkpoint"
cp "$cps/forksame/checkpoint" "$work/st2"
check "state: a different log of the same size" 1 "fork: two checkpoints of size 70000 with roots" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$work/st2"
cp "$cps/fork300/checkpoint" "$work/st2"
check "state: a different log of smaller size (consistency proof)" 1 "not consistent: tree of size 300 .* is not a prefix of the tree of size 70000" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$work/st2"
cp "$cps/otherlog/checkpoint" "$work/st2"
check "state: another log's checkpoint (another key)" 1 "checkpoint in .*: not signed by $origin" -- \
    "$LV" tree -vkey "$vk" -url "$U/log" -state "$work/st2"
check "state at 70000, the log served is at 257 (rollback)" 1 "log shrank: earlier checkpoint has size 70000, this one 257" -- \
    "$LV" tree -vkey "$vk" -url "$U/s257" -state "$st"

# ---- audit: the log against the subscriber's audit records ----
api=$work/api
mkdir -p "$api"
echo selftest-token >"$api/token"
echo selftest-token >"$work/token"
for t in wrong forbidden operator; do echo "$t" >"$work/token.$t"; done
: >"$work/token.empty"
# Entry i commits to record 1000+i; the subscriber's are i%5 == 0 but
# not i%11 == 0: 54 of 300; entry 290 re-commits to record 1015 (entry 15's),
# its detail grown; 3 records before the log.
"$MK" write -dir "$www/audit" -skey "$work/sk" -n 300 -audit "$api/good" -audit-before 3 -audit-update 15,290
"$MK" write -dir "$www/auditbig" -skey "$work/sk" -n 300 -audit "$api/big" -audit-id-base 9007199254740993 -audit-before 2
# The race: the API lists the records of a log of 310 entries, the log
# served has 300 until the walk through the records (the hook) grows it to
# 310.
"$MK" write -dir "$work/race310" -skey "$work/sk" -n 310 -audit "$api/race"
"$MK" write -dir "$www/auditrace" -skey "$work/sk" -n 300 -audit "$work/race300api"
printf '["cp", "-r", "%s/.", "%s"]\n' "$work/race310" "$www/auditrace" >"$api/race/hook"
aport=$(free_port)
python3 "$here/fakeapi.py" "$aport" "$api" 2>"$work/fakeapi.log" &
pids+=($!)
wait_port "$aport"
A=http://127.0.0.1:$aport
me=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["subscriber"])' "$api/good/whoami.json")
other=00000000-0000-4000-a000-000000000001

# apivar NAME CODE: API variant NAME, good's records (the list r, rec(ID)
# the record of that id) edited by the python CODE
apivar() {
    mkdir -p "$api/$1"
    cp "$api/good/whoami.json" "$api/$1/"
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
def rec(i): return next(x for x in r if x["id"] == i)
exec(sys.argv[2])
json.dump(r, open(sys.argv[3], "w"))' "$api/good/records.json" "$2" "$api/$1/records.json"
}
# audit LOG VARIANT [FLAGS...]
audit() {
    local log=$1 variant=$2
    shift 2
    "$LV" audit -vkey "$vk" -url "$U/$log" -api "$A/$variant" -token-file "$work/token" "$@"
}
pages() { grep -c "^/$1/v1/audit?limit=1000&after=" "$api/requests.log" || true; }
probes() { grep -c "^/$1/v1/audit?limit=1&after=0\$" "$api/requests.log" || true; }
whoamis() { grep -c "^/$1/v1/whoami\$" "$api/requests.log" || true; }

: >"$api/requests.log"
check "audit: 56 records, 53 in the log (1015's latest entry matches, its first not), 3 before it" 0 \
    "ok checkpoint size=300 root=$R" "ok entries checked=300" "ok audit records=56 covered=53 before_log=3" -- \
    audit audit good
assert "audit: whoami asked once, one record first, then 9 pages (of at most 7 records, then an empty one)" \
    test "$(whoamis good) $(probes good) $(pages good)" = "1 1 9"
check "entries: record 1015 has two entries, 15 and 290" 0 "15 record .* 1015" "290 record .* 1015" -- \
    "$LV" entries -vkey "$vk" -url "$U/audit"
assert "entries: no other entry names record 1015" test "$(awk '$6 == 1015' "$out" | wc -l)" = 2
: >"$api/requests.log"
check "audit -subscriber (the same one): whoami not asked" 0 "ok audit records=56 covered=53 before_log=3" -- \
    audit audit good -subscriber "$me"
assert "audit -subscriber: no whoami" test "$(whoamis good)" = 0
check "audit: ids beyond 2^53 (9007199254740993 and on), JSON numbers kept exact" 0 \
    "ok audit records=56 covered=54 before_log=2" -- audit auditbig big
apivar nolog 'x = dict(rec(1010)); x["id"] = 500; del x["log_index"]; r.append(x)'
check "audit: one more record without log_index (before the log)" 0 "ok audit records=57 covered=53 before_log=4" -- \
    audit audit nolog
check "audit: a record beyond the checkpoint (300), the log grown to 310 meanwhile: checked again" 0 \
    "ok checkpoint size=300 root=$R" "ok checkpoint size=310 root=$R" "ok entries checked=310" \
    "ok audit records=56 covered=56 before_log=0" -- audit auditrace race
assert "audit: the second run noted on stderr" grep -q "audit record 1305 names log entry 305, beyond the checkpoint's 300 entries: checking again" "$err"

apivar altered 'rec(1010)["detail"] = "altered"'
check "audit: a record's detail altered" 1 "audit record 1010 differs from what log entry 10 committed to" -- \
    audit audit altered
apivar deleted 'r.remove(rec(1100))'
check "audit: a record deleted from the API" 1 "log entry 100 commits to audit record 1100, which the audit API does not list" -- \
    audit audit deleted
apivar extra 'x = dict(rec(1010)); x["id"] = 5000; x["log_index"] = 299; r.append(x)'
check "audit: a record with a log_index and no entry" 1 "audit record 5000 has no log entry" -- \
    audit audit extra
apivar stale 'rec(1015)["detail"] = "refused: key disabled"'
check "audit: the record as its first entry has it, not its latest" 1 "audit record 1015 differs from what log entry 290 committed to" -- \
    audit audit stale
apivar misindexed 'rec(1015)["log_index"] = 15'
check "audit: a record naming its earlier entry" 1 "audit record 1015 names log entry 15, its latest log entry is 290" -- \
    audit audit misindexed
apivar unlogged 'del rec(1010)["log_index"]'
check "audit: a record's log_index dropped, its entry there" 1 "audit record 1010 has no log_index \(as if it predated the log\), yet log entry 10 commits to it" -- \
    audit audit unlogged
apivar foreign 'x = dict(rec(1010)); x["id"] = 5000; x["subscriber"] = "someone-else"; r.append(x)'
check "audit: a record of another subscriber listed" 1 "audit record 5000 is of subscriber \"someone-else\"" -- \
    audit audit foreign
check "audit -subscriber another one" 1 "audit record 997 is of subscriber \"$me\", not \"$other\"" -- \
    audit audit good -subscriber "$other"
f=$www/audit/tile/entries/000
save "$f"; flip "$f" 5
check "audit: a byte flipped in the log's entry bundle 0" 1 "entry 0 \(bundle tile/entries/000\): its hash .* is not the leaf hash in tile/0/000" -- \
    audit audit good
restore "$f"

check "audit: token refused (401)" 2 "401 Unauthorized: the API refused the token" -- \
    "$LV" audit -vkey "$vk" -url "$U/audit" -api "$A/good" -token-file "$work/token.wrong"
check "audit: token not allowed (403)" 2 "403 Forbidden: the token may not" -- \
    "$LV" audit -vkey "$vk" -url "$U/audit" -api "$A/good" -token-file "$work/token.forbidden"
check "audit: an operator's token (whoami: no subscriber)" 2 "the token has no subscriber" -- \
    "$LV" audit -vkey "$vk" -url "$U/audit" -api "$A/good" -token-file "$work/token.operator"
check "audit: an operator's token, -subscriber given (403)" 2 "403 Forbidden" -- \
    "$LV" audit -vkey "$vk" -url "$U/audit" -api "$A/good" -token-file "$work/token.operator" -subscriber "$me"
check "audit: empty token file" 2 "not a token" -- \
    "$LV" audit -vkey "$vk" -url "$U/audit" -api "$A/good" -token-file "$work/token.empty"
check "audit: no -api" 2 "-api is required" -- "$LV" audit -vkey "$vk" -url "$U/audit" -token-file "$work/token"
check "audit: no -token-file" 2 "-token-file is required" -- "$LV" audit -vkey "$vk" -url "$U/audit" -api "$A/good"
check "audit: API not listening" 2 "connection refused" -- \
    "$LV" audit -vkey "$vk" -url "$U/audit" -api "http://127.0.0.1:$(free_port)" -token-file "$work/token"
check "audit: no such API (404)" 2 "404 Not Found" -- audit audit nothing
apivar nodetail 'del rec(997)["detail"]'
check "audit: a record without detail (malformed)" 2 'malformed answer: record 997: no "detail"' -- audit audit nodetail
apivar floatid 'rec(997)["id"] = 997.0'
check "audit: a record id 997.0 (malformed)" 2 'malformed answer: a record.s "id" is the number 997.0' -- audit audit floatid

# ---- usage and network errors: exit 2 ----
check "nothing listening" 2 "connection refused" -- "$LV" tree -vkey "$vk" -url "http://127.0.0.1:$(free_port)/log"
check "no -vkey" 2 "-vkey is required" -- "$LV" tree -url "$U/log"
check "a malformed vkey" 2 "verifier key" -- "$LV" tree -vkey "$origin+00000000+AAAA" -url "$U/log"
check "-entries neither all nor a count" 2 "-entries" -- "$LV" tree -vkey "$vk" -url "$U/log" -entries some
check "unknown command" 2 "usage" -- "$LV" verify

# ---- https with a CA file ----
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
    tport=$(free_port)
    python3 -c 'import functools, http.server, ssl, sys
port, d, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(H, directory=d))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(crt, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()' "$tport" "$www" "$work/tls.crt" "$work/tls.key" 2>"$work/https.log" &
    pids+=($!)
    wait_port "$tport"
    check "https with -ca" 0 "ok checkpoint size=257 root=$R" "ok entries checked=257" -- \
        "$LV" tree -vkey "$vk" -url "https://127.0.0.1:$tport/s257" -ca "$work/tls.crt"
    check "https without -ca (unknown authority)" 2 "certificate" -- \
        "$LV" tree -vkey "$vk" -url "https://127.0.0.1:$tport/s257"
else
    echo "skip https (no openssl)"
fi

echo "selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
