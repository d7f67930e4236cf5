#!/bin/sh
# SPDX-License-Identifier: MIT
# Rules of HACKING.md that a machine can check (doc/design.md, R9;
# threats G2, A5): no
# system(), popen() or shell exec; every open()/openat()/fopen() of ours
# close-on-exec; secrets wiped with explicit_bzero, never memset.
set -eu
: "${top_srcdir:?run through make check}"
/usr/bin/python3 - "$top_srcdir" <<'PY'
import pathlib, re, sys
top = pathlib.Path(sys.argv[1])
bad = []
files = [p for d in ("lib", "pam_jit", "nss_jit", "localauth_jit", "jitctl", "contrib") for p in sorted((top / d).rglob("*.c"))]
for p in files:
    text = p.read_text()
    # Calls only: strip comments and string literals first.
    code = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    # Same length, so that offsets in code and text agree.
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', code)
    for m in re.finditer(r"\b(system|popen|execl|execlp|execle|execvp)\s*\(", code):
        bad.append("%s:%d: %s()" % (p.relative_to(top), code.count("\n", 0, m.start()) + 1, m.group(1)))
    # A backend's ->open( is a method, not open(2).
    for m in re.finditer(r"(?<![\w.>])(open|openat|fopen)\s*\(", code):
        # The whole call, to its closing parenthesis.
        depth, i = 0, m.end() - 1
        while i < len(code):
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            if depth == 0:
                break
            i += 1
        call = code[m.start():i + 1]
        raw = text[m.start():i + 1]
        line = code.count("\n", 0, m.start()) + 1
        if m.group(1) == "fopen":
            ok = '"re"' in raw or "\"r\" \"e\"" in raw
        else:
            ok = "O_CLOEXEC" in call
        if not ok:
            bad.append("%s:%d: %s without close-on-exec" % (p.relative_to(top), line, m.group(1)))
    for m in re.finditer(r"\bmemset\s*\(\s*([A-Za-z_][\w.>-]*)", code):
        if re.search(r"pass|token|secret|key", m.group(1), re.I):
            bad.append("%s:%d: memset on %s (use explicit_bzero)" % (p.relative_to(top), code.count("\n", 0, m.start()) + 1, m.group(1)))
for b in bad:
    print("FAIL:", b)
print("ok - %d files: no system/popen/exec of a shell; every open close-on-exec; no memset on secrets" % len(files) if not bad else "")
# The licence (LICENSE, MIT): every source file says so in its first
# three lines, so a file copied out of the tree keeps it.
srcs = [p for d in ("lib", "pam_jit", "nss_jit", "localauth_jit", "jitctl", "contrib", "tests", "scripts", "man")
        if (top / d).is_dir() for p in sorted((top / d).rglob("*"))
        if p.suffix in (".c", ".h", ".sh", ".py", ".map", ".8", ".5", ".1")]
srcs += [top / "Makefile.am", top / "configure.ac"]
nolic = [str(p.relative_to(top)) for p in srcs
         if "SPDX-License-Identifier: MIT" not in "".join(p.read_text().splitlines(True)[:3])]
for f in nolic:
    print("not ok - %s: no SPDX-License-Identifier line in its first three lines" % f)
if not nolic:
    print("ok - %d source files carry SPDX-License-Identifier: MIT" % len(srcs))
sys.exit(1 if bad or nolic else 0)
PY
