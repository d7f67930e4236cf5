# SPDX-License-Identifier: MIT
# A PostgreSQL server of the test's own (jit-apid's second backend).
# Sourced by ../lib.sh.

# start_pg: a PostgreSQL server of Debian's packages on 127.0.0.1 (a free
# port), its data in $T/pg, run as the postgres user, trust on loopback;
# database jit.  Sets PG_PORT and PG_CONNINFO.
start_pg() {
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$PGBIN" ] && id postgres >/dev/null 2>&1 || skip "needs PostgreSQL (package postgresql)"
    mkdir -p "$T/pg" "$T/pgsock"
    chown postgres "$T/pg" "$T/pgsock"
    setpriv --reuid=postgres --regid=postgres --init-groups \
        "$PGBIN/initdb" -D "$T/pg/data" -A trust -U postgres >"$T/pg/initdb.log" 2>&1 \
        || fail "initdb: $(tail -5 "$T/pg/initdb.log")"
    PG_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    setpriv --reuid=postgres --regid=postgres --init-groups \
        "$PGBIN/postgres" -D "$T/pg/data" -h 127.0.0.1 -p "$PG_PORT" -k "$T/pgsock" \
        >"$T/pg/log" 2>&1 </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null || true
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres jit \
        || fail "PostgreSQL did not start: $(tail -5 "$T/pg/log")"
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=jit"
}
