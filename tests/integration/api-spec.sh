#!/bin/sh
# SPDX-License-Identifier: MIT
# contrib/openapi.yaml and the client stay in step: every field the spec
# requires of a grant, the client requires (a grant without it is refused
# as malformed, naming the field); every optional one it does not; every
# enum value of the spec it accepts, and no other; the paths it calls are
# the spec's.
. "$top_srcdir/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the token file must be root's)"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || skip "needs python3-yaml"
setup_env
setup_pam
GET=$top_builddir/tests/helpers/jit-api-get
SPEC=$top_srcdir/contrib/openapi.yaml
G=$T/api/grants

spec() { /usr/bin/python3 - "$SPEC" "$@" <<'PY'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))
g = s["components"]["schemas"]["Grant"]
what = sys.argv[2]
if what == "required":
    print(" ".join(g["required"]))
elif what == "optional":
    print(" ".join(k for k in g["properties"] if k not in g["required"]))
elif what == "enum":
    print(" ".join(g["properties"][sys.argv[3]]["enum"]))
elif what == "paths":
    print(" ".join(sorted(s["paths"])))
PY
}

for f in $(spec required); do
    grant_json "u$f" | /usr/bin/python3 -c "
import json, sys; g = json.load(sys.stdin); del g['$f']; print(json.dumps(g))" > "$G/ux.json"
    out=$("$GET" --config "$CONF" get ux 2>&1 || true)
    case $out in "fault reason=malformed detail=$f: missing"*) ;; *) fail "without $f: $out" ;; esac
done
ok "every required field of the spec is required: $(spec required)"
for f in $(spec optional); do
    grant_json ux | /usr/bin/python3 -c "
import json, sys; g = json.load(sys.stdin); del g['$f']; print(json.dumps(g))" > "$G/ux.json"
    out=$("$GET" --config "$CONF" get ux 2>&1 || true)
    case $out in "ok id="*) ;; *) fail "without optional $f: $out" ;; esac
done
ok "optional fields may be left out: $(spec optional)"
for field in status on_logout; do
    for v in $(spec enum $field) bogus; do
        grant_json ux "$field=\"$v\"" > "$G/ux.json"
        out=$("$GET" --config "$CONF" get ux 2>&1 || true)
        case $v:$out in
            bogus:"fault reason=malformed"*) ;;
            bogus:*) fail "$field=bogus accepted: $out" ;;
            *:"ok id="*) ;;
            *) fail "$field=$v refused: $out" ;;
        esac
    done
done
ok "enums as in the spec: status ($(spec enum status)), on_logout ($(spec enum on_logout))"
"$GET" --config "$CONF" get ux >/dev/null 2>&1 || true
"$GET" --config "$CONF" list >/dev/null 2>&1 || true
paths=$(spec paths)
for p in "/v1/hosts/{host}/grants/{username}" "/v1/hosts/{host}/grants" "/v1/hosts/{host}/events"; do
    case " $paths " in *" $p "*) ;; *) fail "the spec lacks $p" ;; esac
done
grep -q '^GET /v1/hosts/web01.test/grants/ux ' "$T/api/requests.log" || fail "client path for one grant"
grep -q '^GET /v1/hosts/web01.test/grants ' "$T/api/requests.log" || fail "client path for the list"
ok "the client's paths are the spec's"
