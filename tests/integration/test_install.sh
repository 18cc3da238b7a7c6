#!/usr/bin/env bash
# `make install` as a packager runs it: `cmake --install` of this build into
# a DESTDIR (the build is not redone), then
#  - every file is where the build's prefix says, binaries 0755, the rest
#    0644 (the module 0644 or 0755: Debian's CMake installs shared objects
#    without the x bits);
#  - the installed signet and signetd print their usage, and the installed
#    module is a PKCS#11 module pkcs11-tool loads;
#  - groff renders each man page without a warning;
#  - the installed unit's ExecStart names the installed signetd;
#  - the man pages cannot drift from the programs: every command and option
#    `signet --help` and `signetd --help` list, and every variable the
#    module reads (src/pkcs11), is in its page.
# Nothing is started; no network. Input: our own files, trusted.
# Usage: test_install.sh SIGNETD SIGNET CMAKE BUILD_DIR BINDIR LIBDIR MANDIR
#                        UNITDIR SYSUSERSDIR TMPFILESDIR GROFF
# (the directories absolute, as the build's prefix makes them)
. "$(dirname "$0")/lib.sh"

CMAKE=${3:?} BUILD=${4:?} BINDIR=${5:?} LIBDIR=${6:?} MANDIR=${7:?}
UNITDIR=${8:?} SYSUSERSDIR=${9:?} TMPFILESDIR=${10:?} GROFF=${11:?}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=$WORK/root

out=$(DESTDIR=$ROOT "$CMAKE" --install "$BUILD" 2>&1) ||
    die "cmake --install failed: $out"

# check_mode WHAT FILE MODE-REGEX
check_mode() {
    if [ ! -f "$ROOT$2" ]; then
        CHECKS=$((CHECKS + 1))
        fail "$1: no file $2 under DESTDIR"
        return
    fi
    check_match "$1 at $2, mode $(stat -c %a "$ROOT$2")" "^($3)$" \
        "$(stat -c %a "$ROOT$2")"
}

check_mode "signetd" "$BINDIR/signetd" 755
check_mode "signet" "$BINDIR/signet" 755
check_mode "the PKCS#11 module" "$LIBDIR/libsignet-pkcs11.so" "644|755"
check_mode "signet(1)" "$MANDIR/man1/signet.1" 644
check_mode "signetd(8)" "$MANDIR/man8/signetd.8" 644
check_mode "libsignet-pkcs11(8)" "$MANDIR/man8/libsignet-pkcs11.8" 644
check_mode "the systemd unit" "$UNITDIR/signetd.service" 644
check_mode "the sysusers.d snippet" "$SYSUSERSDIR/signet.conf" 644
check_mode "the tmpfiles.d snippet" "$TMPFILESDIR/signet.conf" 644
check_eq "the snippets are contrib/systemd's" "" \
    "$(cmp "$SRC/contrib/systemd/signet.sysusers.conf" "$ROOT$SYSUSERSDIR/signet.conf" 2>&1
       cmp "$SRC/contrib/systemd/signet.tmpfiles.conf" "$ROOT$TMPFILESDIR/signet.conf" 2>&1)"

# The installed programs run (no build-tree RPATH needed) and say how.
help=$("$ROOT$BINDIR/signet" --help 2>&1)
check_eq "installed signet --help: exit 0" 0 "$?"
check_match "installed signet --help prints the usage" "^usage: signet " "$help"
dhelp=$("$ROOT$BINDIR/signetd" --help 2>&1)
check_match "installed signetd --help prints the usage" "^usage: signetd " "$dhelp"
if command -v pkcs11-tool >/dev/null 2>&1; then
    mod=$ROOT$LIBDIR/libsignet-pkcs11.so
    # An ASan build's module needs the runtime preloaded in the tool.
    preload=()
    if ldd "$mod" 2>/dev/null | grep libasan >/dev/null; then
        preload=("LD_PRELOAD=$(ldd "$mod" | awk '/libasan/ {print $3}')"
            "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
    fi
    check_match "pkcs11-tool loads the installed module" "Manufacturer +Signet" \
        "$(env -u SIGNET_URL -u SIGNET_TOKEN -u SIGNET_PKCS11_CONF "${preload[@]}" \
            pkcs11-tool --module "$mod" --show-info 2>&1)"
fi

# The unit runs the signetd this install put in place.
exec_line=$(grep '^ExecStart=' "$ROOT$UNITDIR/signetd.service")
check_eq "the installed unit's ExecStart" \
    "ExecStart=$BINDIR/signetd serve --home /var/lib/signet" "$exec_line"
bin=${exec_line#ExecStart=}
bin=${bin%% *}
check_cmd "ExecStart's binary is installed and executable" test -x "$ROOT$bin"

# Each page renders without a groff warning; the text is kept for the
# drift checks (no hyphenation, lines long enough not to wrap a synopsis).
render() {
    "$GROFF" -man -Tascii -P-cbu -rLL=250n -rHY=0 -ww "$1" 2>"$WORK/groff.err"
}
for page in man1/signet.1 man8/signetd.8 man8/libsignet-pkcs11.8; do
    render "$ROOT$MANDIR/$page" >"$WORK/$(basename $page).txt"
    check_eq "groff renders $page without warnings" "" "$(cat "$WORK/groff.err")"
    check_cmd "$page has a NAME and a SYNOPSIS or DESCRIPTION" \
        grep -q '^NAME' "$WORK/$(basename $page).txt"
done
if command -v man >/dev/null 2>&1; then
    for page in man1/signet.1 man8/signetd.8 man8/libsignet-pkcs11.8; do
        check_eq "man --warnings -l $page: no warnings" "" \
            "$(man --warnings -l -Tutf8 "$ROOT$MANDIR/$page" 2>&1 >/dev/null)"
    done
fi

# has_word TEXTFILE WORD: WORD appears, not as part of a longer option.
has_word() {
    grep -qE -- "(^|[^A-Za-z0-9_-])$(printf '%s' "$2" | sed 's/[|.]/\\&/g')([^A-Za-z0-9_-]|$)" "$1"
}

# signet --help: each command (its leading lower-case words) is an entry of
# signet.1, and each option is in it.
missing=""
while IFS= read -r line; do
    phrase=""
    for w in $line; do
        [[ $w =~ ^[a-z][a-z|-]*$ ]] || break
        phrase="${phrase:+$phrase }$w"
    done
    re=$(printf '%s' "$phrase" | sed 's/[|.]/\\&/g')
    grep -qE "^ +$re( |$)" "$WORK/signet.1.txt" || missing="$missing [$phrase]"
done < <(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' | grep -E '^  [a-z]')
check_eq "every command of signet --help has its entry in signet(1)" "" "$missing"
missing=""
for opt in $(printf '%s\n' "$help" | grep -oE -- '--[A-Za-z][A-Za-z0-9-]*' | sort -u); do
    has_word "$WORK/signet.1.txt" "$opt" || missing="$missing $opt"
done
check_eq "every option of signet --help is in signet(1)" "" "$missing"

# signetd --help: each command and option is in signetd.8.
missing=""
while IFS= read -r line; do
    phrase=""
    for w in ${line#*signetd }; do
        [[ $w =~ ^[a-z][a-z-]*$ ]] || break
        phrase="${phrase:+$phrase }$w"
    done
    grep -qE "signetd $phrase( |$)" "$WORK/signetd.8.txt" ||
        missing="$missing [$phrase]"
done < <(printf '%s\n' "$dhelp" | grep -E '^(usage:)? +signetd [a-z]')
check_eq "every command of signetd --help is in signetd(8)" "" "$missing"
missing=""
for opt in $(printf '%s\n' "$dhelp" | grep -oE -- '--[A-Za-z][A-Za-z0-9-]*' | sort -u); do
    has_word "$WORK/signetd.8.txt" "$opt" || missing="$missing $opt"
done
check_eq "every option of signetd --help is in signetd(8)" "" "$missing"

# The module's environment: every variable src/pkcs11 reads.
missing=""
for var in $(grep -ohE 'getenv\("[A-Z0-9_]+"\)' "$SRC"/src/pkcs11/*.c |
    sed 's/getenv("\(.*\)")/\1/' | sort -u); do
    has_word "$WORK/libsignet-pkcs11.8.txt" "$var" || missing="$missing $var"
done
check_eq "every variable the module reads is in libsignet-pkcs11(8)" "" "$missing"

finish
