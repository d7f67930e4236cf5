#!/bin/sh
# SPDX-License-Identifier: MIT
# Every event, result and reason the code puts in an audit line is listed
# in pam_jit(8) ("Every name" under AUDIT), and every name listed there
# is one the code emits: the list and the sources cannot drift apart.
# The names are read from the sources where audit lines are made: the
# .event/.result/.reason of a struct jit_audit, the arguments of the
# audit helpers (deny, refuse, audit, audit_account, audit_grant,
# jit_login_audit), the reasons assigned (reason, why, what, cause), the
# reasons returned ("return "wrong_host";") and the API client's faults
# (fault(err, "unreachable", ...) or jit_api_fault, any "..._error"), the outbox's event
# types (jit_store_add_event) and a teardown's cause (jit_teardown).
. "$top_srcdir/tests/integration/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "no python3"
setup_env

cat > "$T/names.py" <<'PY'
import glob, os, re, sys

root = sys.argv[1]
files = []
for d in ("lib", "pam_jit", "jitctl", "localauth_jit"):
    files += glob.glob(os.path.join(root, d, "**", "*.c"), recursive=True)
lit = re.compile(r'"([a-z][a-z0-9_.]*)"')
# What each helper's arguments are, by position.
calls = {"deny": (("event", 2), ("reason", 3)),
         "refuse": (("reason", 1),),
         "audit_grant": (("result", 2), ("reason", 3)),
         "audit": (("event", 2), ("result", 3), ("reason", 4)),
         "audit_account": (("event", 2), ("result", 3), ("reason", 4)),
         "jit_login_audit": (("event", 2), ("result", 3), ("reason", 4))}
code = {}

def add(kind, expr, where):
    for n in lit.findall(expr):
        code.setdefault((kind, n), where)

for f in sorted(files):
    src = open(f).read()
    # Comments out, lines kept (for where).
    src = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)),
                 src, flags=re.S)
    rel = os.path.relpath(f, root)
    at = lambda m: "%s:%d" % (rel, src.count("\n", 0, m.start()) + 1)
    for m in re.finditer(r'\.(event|result|reason)\s*=\s*([^,;}]*)', src):
        add(m.group(1), m.group(2), at(m))
    for m in re.finditer(r'(?:\breason|\bwhy|\*what|->reason|\*reason)\s*=\s*'
                         r'("[^"]*"(?:\s*:\s*"[^"]*")?)', src):
        add("reason", m.group(1), at(m))
    for m in re.finditer(r'(?<![.>\w])(?:first|event)\s*=\s*([^;]*);', src):
        add("event", m.group(1), at(m))
    for m in re.finditer(r'\bcause\s*=\s*([^;]*);', src):
        add("reason", m.group(1), at(m))
    for m in re.finditer(r'\breturn\s+("[a-z][a-z0-9]*(?:_[a-z0-9]+)+");', src):
        add("reason", m.group(1), at(m))
    for m in re.finditer(r'\b(?:jit_api_)?fault\(\s*\w+,\s*("[a-z_]+")', src):
        add("reason", m.group(1), at(m))
    for m in re.finditer(r'"[a-z0-9_]+_error"', src):
        add("reason", m.group(0), at(m))
    for m in re.finditer(r'\bjit_store_add_event\(\s*\w+,\s*("[a-z.]+")', src):
        add("event", m.group(1), at(m))
    for m in re.finditer(r'\bjit_teardown\(\s*\w+,\s*[^,]+,\s*[^,]+,\s*("[a-z_]+")', src):
        add("reason", m.group(1), at(m))
    for m in re.finditer(r'\b(' + '|'.join(calls) + r')\(([^;{]*?)\);', src, flags=re.S):
        args = [a.strip() for a in re.split(r',(?![^(]*\))', m.group(2))]
        for kind, i in calls[m.group(1)]:
            if i < len(args):
                add(kind, args[i], at(m))

man = open(os.path.join(root, "man", "pam_jit.8")).read()
sect = re.search(r'^\.SS "Every name"\n(.*?)^\.PP', man, flags=re.S | re.M)
if sect is None:
    print('FAIL: pam_jit.8 has no .SS "Every name" list')
    sys.exit(1)
listed = {}
for kind, text in re.findall(r'^\.TP\n\.B (events|results|reasons)\n(.*?)(?=^\.TP|\Z)',
                             sect.group(1), flags=re.S | re.M):
    listed[kind[:-1]] = set(x for x in re.split(r'[\s,]+', text) if x)
bad = 0
for kind in ("event", "result", "reason"):
    before = bad
    if kind not in listed:
        print("FAIL: pam_jit.8's Every name has no %ss" % kind)
        bad += 1
        continue
    for (k, n), where in sorted(code.items()):
        if k == kind and n not in listed[kind]:
            print("FAIL: %s %s (%s) is not listed in pam_jit.8" % (kind, n, where))
            bad += 1
    for n in sorted(listed[kind]):
        if (kind, n) not in code:
            print("FAIL: pam_jit.8 lists %s %s, which the code does not emit" % (kind, n))
            bad += 1
    if bad == before:
        print("ok - %d %ss in the code, each listed in pam_jit.8, none more"
              % (len(listed[kind]), kind))
sys.exit(1 if bad else 0)
PY
python3 "$T/names.py" "$top_srcdir" || fail "pam_jit.8 and the code disagree (above)"

# The check itself: a copy of the sources with a reason added to the code
# and an event dropped from the page must fail, naming both.
mkdir "$T/src"
for d in lib pam_jit jitctl localauth_jit man; do cp -R "$top_srcdir/$d" "$T/src/$d"; done
sed -i 's/\.event = "restrict", /.event = "restrict", .reason = "drift_test", /' \
    "$T/src/lib/daemon/restrict.c"
grep -q drift_test "$T/src/lib/daemon/restrict.c" || fail "the self-test's edit did not apply"
sed -i 's/^restrict, session.closed, session.opened, sync$/session.closed, session.opened, sync/' \
    "$T/src/man/pam_jit.8"
rc=0; python3 "$T/names.py" "$T/src" > "$T/drift.out" || rc=$?
expect_eq "drift: the check fails" "$rc" 1
grep -q '^FAIL: reason drift_test (lib/daemon/restrict.c:[0-9]*) is not listed' "$T/drift.out" \
    || fail "a new reason not named: $(cat "$T/drift.out")"
grep -q '^FAIL: event restrict (.*) is not listed' "$T/drift.out" \
    || fail "a dropped event not named: $(cat "$T/drift.out")"
ok "the check names a reason the page lacks and an event dropped from it"
