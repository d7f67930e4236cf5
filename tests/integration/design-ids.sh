#!/bin/sh
# SPDX-License-Identifier: MIT
# The design is cited only as doc/design.md, and only by what it defines:
# every rule or threat id and every quoted section named in a citation
# "(doc/design.md, R3)", "(doc/design.md, threats C1, C2)",
# "(doc/design.md, "Account names")" must be defined there (a bold
# "**R3.**" entry or a heading); ids cited any other way ("(B2)",
# "threat E4", a bare rule id) and references to documents outside the
# repository fail.  Needs nothing but python3; no root.
set -eu
: "${top_srcdir:?run through make check}"
/usr/bin/python3 - "$top_srcdir" <<'PY'
import os, re, sys
top = sys.argv[1]
design_path = os.path.join(top, "doc", "design.md")
design = open(design_path, encoding="utf-8").read()

ID = r"[A-Z][0-9]{1,2}"
defined = {}
for n, line in enumerate(design.splitlines(), 1):
    m = re.match(r"\*\*(" + ID + r")\.\s", line)
    if m:
        if m.group(1) in defined:
            print("FAIL: doc/design.md:%d: %s defined twice (first at line %d)"
                  % (n, m.group(1), defined[m.group(1)]))
            sys.exit(1)
        defined[m.group(1)] = n
headings = {h.strip().lower() for h in re.findall(r"^#+\s+(.*)$", design, re.M)}

# What is scanned: the sources, scripts, build files and documents that
# ship, not what autotools or a build generate.
EXT = (".c", ".h", ".sh", ".py", ".am", ".ac", ".md", ".yaml", ".map",
       ".1", ".5", ".8", ".service", ".timer", ".example", ".jit", ".conf",
       ".json")
SKIP_DIRS = {".git", "autom4te.cache", "m4", "build-aux", ".deps", ".libs"}
GENERATED = {"config.h", "Makefile.in", "aclocal.m4", "configure"}
files = []
for d, dirs, names in os.walk(top):
    # Not a build directory, nor another copy of the sources inside this
    # one (a CI stage's unpacked tarball or package build: its own
    # configure.ac), which would be scanned twice or, older, wrongly.
    dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS
                     and not os.path.exists(os.path.join(d, x, "config.status"))
                     and not os.path.exists(os.path.join(d, x, "configure.ac")))
    for name in sorted(names):
        p = os.path.join(d, name)
        rel = os.path.relpath(p, top)
        if rel in ("doc/design.md", "tests/integration/design-ids.sh"):
            continue
        if name in GENERATED or not name.endswith(EXT):
            continue
        files.append((rel, p))

bad = []
cited = 0
outside = re.compile(r"\.\./shar[e]d|shar[e]d/|/work/|\b(?:DESIGN|THREATS|STYLE|TESTING)\.md\b")
# Ways of citing an id without the design's name: each fails.
stray = [
    (re.compile(r"\b(?:DESIGN|THREATS)\b"), "the design is doc/design.md"),
    (re.compile(r"\bthreats?\s+" + ID + r"\b"), "cite as (doc/design.md, threat X9)"),
    (re.compile(r"\bR[0-9]{1,2}\b"), "cite a rule as (doc/design.md, R9)"),
    (re.compile(r"\(\s*" + ID + r"(?:'s)?(?:\s*[,;]\s*" + ID + r")*\s*[);:,]"),
     "cite as (doc/design.md, threat X9)"),
    (re.compile(r"(?:#|/\*|\*|--)\s*(?:-+\s*)?" + ID + r"(?:'s|:)"),
     "cite as (doc/design.md, threat X9)"),
]
for rel, p in files:
    try:
        raw = open(p, encoding="utf-8").read()
    except (UnicodeDecodeError, OSError):
        continue
    lines = raw.split("\n")
    for n, line in enumerate(lines, 1):
        if outside.search(line):
            bad.append("%s:%d: a reference outside the repository: %s"
                       % (rel, n, line.strip()))
    # A citation may run over lines: join them, dropping comment leaders,
    # and remember where each joined character came from.
    text, where = [], []
    for n, line in enumerate(lines, 1):
        s = re.sub(r"^\s*(?:\*(?!/)|#+|//|\.\\\")\s?", "", line) if n > 1 else line
        text.append(s + " ")
        where.extend([n] * (len(s) + 1))
    text = "".join(text)
    spans = []
    for m in re.finditer(r"doc/design\.md", text):
        end = text.find(")", m.end())
        body = text[m.end():end if end >= 0 else m.end()]
        # A markdown link's target ends the citation at once.
        if body.startswith(("]", "`")) or end < 0:
            body = ""
        spans.append((m.start(), m.end() + len(body)))
        line = where[m.start()]
        for q in re.findall(r'"([^"]+)"', body):
            cited += 1
            if q.strip().lower() not in headings:
                bad.append('%s:%d: cites section "%s", which doc/design.md '
                           "does not have" % (rel, line, q))
        for i in re.findall(r"\b(" + ID + r")\b", re.sub(r'"[^"]*"', "", body)):
            cited += 1
            if i not in defined:
                bad.append("%s:%d: cites %s, which doc/design.md does not "
                           "define" % (rel, line, i))
    # Outside the citations, no other way of citing the design.
    masked = list(text)
    for a, b in spans:
        masked[a:b] = " " * (b - a)
    masked = "".join(masked)
    for rx, why in stray:
        for m in rx.finditer(masked):
            bad.append("%s:%d: %r: %s" % (rel, where[m.start()], m.group(0).strip(), why))
for b in bad:
    print("FAIL:", b)
if bad:
    sys.exit(1)
print("ok - %d files: %d citations of doc/design.md, all defined there (%d ids); "
      "no other way of citing it, no reference outside the repository"
      % (len(files), cited, len(defined)))
PY
