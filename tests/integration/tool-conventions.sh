#!/bin/sh
# SPDX-License-Identifier: MIT
# One convention for jit, jitctl and jit-apid: --help and -h print the
# usage on stdout and exit 0; --version and -V print "NAME VERSION" and
# exit 0; a usage error (an unknown option, a missing value or command)
# prints on stderr, nothing on stdout, and exits 2, the code each man
# page's EXIT STATUS gives.  Run as someone else, jitctl says it must be
# run as root instead of a bare "Permission denied".  jitctl's log lines
# reach the journal once: with stderr the journal's stream
# (JOURNAL_STREAM), syslog only; any other stderr gets them too.
# check-config checks the files the configuration names.
. "$top_srcdir/tests/integration/lib.sh"
setup_env

JIT=$top_builddir/contrib/jit-apid/jit
APID=$top_builddir/contrib/jit-apid/jit-apid
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ -n "$VERSION" ] || fail "no PACKAGE_VERSION in config.h"
# jit's URL from the environment would change nothing here, but the
# tester's own must not decide a case.
unset JIT_URL JIT_CA_FILE JIT_TOKEN_FILE 2>/dev/null || true

# run BIN ARGS...: rc, stdout and stderr in $rc, $T/out, $T/err.
run() {
    rc=0
    "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
}

for tool in jit jitctl jit-apid; do
    case $tool in
    jit) bin=$JIT; man=$top_srcdir/man/jit.1 ;;
    jitctl) bin=$JITCTL; man=$top_srcdir/man/jitctl.8 ;;
    jit-apid) bin=$APID; man=$top_srcdir/man/jit-apid.8 ;;
    esac
    for h in --help -h; do
        run "$bin" $h
        expect_eq "$tool $h: exit status" "$rc" 0
        grep -qi '^usage: ' "$T/out" || fail "$tool $h: no usage on stdout: $(cat "$T/out")"
        [ ! -s "$T/err" ] || fail "$tool $h: stderr: $(cat "$T/err")"
    done
    for v in --version -V; do
        run "$bin" $v
        expect_eq "$tool $v" "$rc:$(cat "$T/out"):$(cat "$T/err")" "0:$tool $VERSION:"
    done
    # Usage errors: the same code for all three, stdout left clean.
    for args in "--no-such-option" "-Z"; do
        run "$bin" $args
        expect_eq "$tool $args: exit status" "$rc" 2
        [ ! -s "$T/out" ] || fail "$tool $args: stdout: $(cat "$T/out")"
        grep -qi -- "$args\|usage" "$T/err" || fail "$tool $args: stderr: $(cat "$T/err")"
        grep -qi '^usage: ' "$T/err" || fail "$tool $args: no usage on stderr"
    done
    # The code is the documented one.
    sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$man" | grep -q '2 .*usage\|usage.* 2\b' \
        || fail "$man: EXIT STATUS does not give 2 for a usage error"
    ok "$tool: --help, -h, --version, -V; usage errors exit 2 (as $man says)"
done

# Each tool's own usage errors beyond an unknown option.
run "$JIT"
expect_eq "jit without a command" "$rc" 2
run "$JIT" --url https://127.0.0.1:1 --reason
expect_eq "jit: an option without its value" "$rc:$(head -1 "$T/err")" "2:jit: --reason needs a value"
run "$JIT" --url https://127.0.0.1:1 frobnicate
expect_eq "jit: an unknown command" "$rc:$(head -1 "$T/err")" "2:jit: frobnicate: unknown command, or an ID missing or extra"
run "$JITCTL"
expect_eq "jitctl without a command" "$rc" 2
run "$JITCTL" -c "$CONF" frobnicate
expect_eq "jitctl: an unknown command" "$rc:$(head -1 "$T/err")" "2:jitctl: frobnicate: unknown command"
run "$JITCTL" -c "$CONF" show
expect_eq "jitctl show without NAME" "$rc" 2
run "$JITCTL" -c "$CONF" list --dry-run
expect_eq "jitctl list --dry-run" "$rc" 2
run "$APID" -c
expect_eq "jit-apid -c without FILE" "$rc:$(head -1 "$T/err")" "2:jit-apid: -c: needs a FILE"
# A usage error is not a configuration error (78): the file is not read.
run "$APID" -c "$T/no-such.conf" --bogus
expect_eq "jit-apid: usage before the configuration" "$rc" 2
run "$APID" -c "$T/no-such.conf" --check
expect_eq "jit-apid: a missing configuration stays 78" "$rc" 78
ok "usage errors: no command, a value missing, an unknown command: 2"

# Someone other than root: the message says what to do.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    chmod 644 "$CONF"
    "$JITCTL" -c "$CONF" sync >/dev/null 2>&1 || true # the store exists
    rc=0
    setpriv --reuid 99200 --regid 99200 --clear-groups \
        "$JITCTL" -c "$CONF" list >"$T/out" 2>"$T/err" </dev/null || rc=$?
    chmod 600 "$CONF"
    [ "$rc" = 1 ] || fail "jitctl list as uid 99200: rc $rc: $(cat "$T/out" "$T/err")"
    grep -q 'must be run as root' "$T/err" || fail "jitctl list as uid 99200: $(cat "$T/err")"
    ok "jitctl as an ordinary user: 'must be run as root'"
else
    skip_case "jitctl as an ordinary user (needs root and setpriv)"
fi

# Logged once.  The syslog shim writes syslog's lines on stderr as
# "SYSLOG(prio): ..."; the sync fails (the API's name does not resolve)
# with one log line.
SHIM=$top_builddir/tests/helpers/.libs/libsyslog-shim.so
[ -f "$SHIM" ] || fail "no $SHIM"
logged() { grep -c -- "$1" "$T/log.err" || true; }
: > "$T/log.err"
rc=0
LD_PRELOAD="${PRELOAD:+$PRELOAD }$SHIM" "$JITCTL" -c "$CONF" sync >/dev/null 2>>"$T/log.err" || rc=$?
expect_eq "sync, API unreachable: exit status" "$rc" 1
expect_eq "stderr a file (not the journal): the line in syslog" "$(logged '^SYSLOG(3): sync: API: unreachable')" 1
expect_eq "stderr a file (not the journal): and on stderr" "$(logged '^jitctl: sync: API: unreachable')" 1
: > "$T/log.err"
rc=0
JOURNAL_STREAM=$(stat -c %d:%i "$T/log.err") LD_PRELOAD="${PRELOAD:+$PRELOAD }$SHIM" \
    "$JITCTL" -c "$CONF" sync >/dev/null 2>>"$T/log.err" || rc=$?
expect_eq "under systemd: exit status" "$rc" 1
expect_eq "stderr is the journal: the line in syslog" "$(logged '^SYSLOG(3): sync: API: unreachable')" 1
expect_eq "stderr is the journal: not a second time on stderr" "$(logged '^jitctl: sync: API: unreachable')" 0
grep -q 'the API failed (unreachable); nothing changed' "$T/log.err" \
    || fail "the command's own message is gone: $(cat "$T/log.err")"
# An inherited JOURNAL_STREAM naming another stream (a shell started by
# a unit, its stderr a file): both again.  And one that is not
# device:inode at all.
for js in "$(stat -c %d:%i "$CONF")" "1:2:3" "x"; do
    : > "$T/log.err"
    JOURNAL_STREAM=$js LD_PRELOAD="${PRELOAD:+$PRELOAD }$SHIM" "$JITCTL" -c "$CONF" sync >/dev/null 2>>"$T/log.err" || true
    expect_eq "JOURNAL_STREAM=$js, not stderr: on stderr" "$(logged '^jitctl: sync: API: unreachable')" 1
done
ok "jitctl logs each line once: syslog only when stderr is the journal"

# check-config: the files named, each problem on its own line with what
# to do, all of them in one run, exit 1; all well, exit 0.
F=$T/files
mkdir -m 755 "$F" "$F/skel"
printf 'tok\n' > "$F/token"; chmod 600 "$F/token"
printf 'ca\n' > "$F/ca.pem"; chmod 644 "$F/ca.pem"
ln -s "$F/ca.pem" "$F/ca-link.pem"
cp "$CONF" "$F/good.conf"
printf 'token_file = %s\nca_file = %s\nskel = %s\nhome_base = %s\n' \
    "$F/token" "$F/ca-link.pem" "$F/skel" "$F/home-not-yet" >> "$F/good.conf"
chmod 600 "$F/good.conf"
run "$JITCTL" -c "$F/good.conf" check-config
expect_eq "check-config, all well (a CA bundle by a link, home_base not made yet)" "$rc:$(cat "$T/err")" "0:"
chmod 644 "$F/token"
chmod 777 "$F/skel"
printf 'ca\n' > "$F/ca-other.pem"; chown 99200 "$F/ca-other.pem"
cp "$CONF" "$F/bad.conf"
printf 'token_file = %s\nca_file = %s\nskel = %s\nclient_cert = %s\nclient_key = %s\n' \
    "$F/token" "$F/ca-other.pem" "$F/skel" "$F/skel" "$F/key-link" >> "$F/bad.conf"
ln -s "$F/token" "$F/key-link"
chmod 600 "$F/bad.conf"
run "$JITCTL" -c "$F/bad.conf" check-config
expect_eq "check-config with bad files: exit status" "$rc" 1
grep -q '^api_url = ' "$T/out" || fail "the configuration is still printed: $(cat "$T/out")"
for want in \
    "jitctl: token_file $F/token: mode 0644: others may read it; chmod 600 $F/token" \
    "jitctl: client_key $F/key-link: is a symbolic link; name the file itself" \
    "jitctl: client_cert $F/skel: not a regular file" \
    "jitctl: ca_file $F/ca-other.pem: owned by uid 99200, not root; chown root $F/ca-other.pem" \
    "jitctl: skel $F/skel: mode 0777: group- or world-writable; chmod go-w $F/skel"; do
    grep -qxF -- "$want" "$T/err" || fail "check-config: no line '$want' in: $(cat "$T/err")"
done
expect_eq "check-config: one line per problem" "$(wc -l < "$T/err")" 5
cp "$CONF" "$F/krb5.conf"
printf 'krb5_keytab = %s\n' "$F/no-such.keytab" >> "$F/krb5.conf"
chmod 600 "$F/krb5.conf"
run "$JITCTL" -c "$F/krb5.conf" check-config
expect_eq "check-config, a keytab that is not there" "$rc:$(cat "$T/err")" \
    "1:jitctl: krb5_keytab $F/no-such.keytab: No such file or directory; create it, or correct the path"
ok "check-config checks the files it names: mode, owner, kind, links, existence; each problem with its fix"
