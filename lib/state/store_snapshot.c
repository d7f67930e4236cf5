/* SPDX-License-Identifier: MIT */
/*
 * The state store's commit: when the transaction changed what NSS shows,
 * the snapshot is re-derived from the rows about to be committed, staged,
 * and published after the commit, under the writers' lock (see store.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "core/atomic_file.h"
#include "state/nssdb_write.h"
#include "state/store_impl.h"
#include "state/wake.h"

/* Load every account with its groups; used by the snapshot and by list. */
int
jit_store_load_accounts(struct jit_store *s, const char *where_name,
                        struct jit_account **out, size_t *n)
{
    sqlite3_stmt *st = NULL, *gs = NULL;
    struct jit_account *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, ret;

    *out = NULL;
    *n = 0;
    ret = prepare(s,
                  where_name
                      ? "SELECT name, uid, gid, gecos, home, shell, grant_id,"
                        " requester, credential, state, created, expires,"
                        " sessions, rebound, failures, retry_at, announced"
                        " FROM accounts"
                        " WHERE name = ?1"
                      /* (two statements: "?1 IS NULL OR name = ?1" would
                       * scan the table for every single lookup) */
                      : "SELECT name, uid, gid, gecos, home, shell, grant_id,"
                        " requester, credential, state, created, expires,"
                        " sessions, rebound, failures, retry_at, announced"
                        " FROM accounts"
                        " ORDER BY uid",
                  &st);
    if (ret != 0)
        goto done;
    ret = prepare(s, "SELECT name, gid FROM account_groups WHERE account = ?"
                     " ORDER BY name", &gs);
    if (ret != 0)
        goto done;
    if (where_name)
        sqlite3_bind_text(st, 1, where_name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct jit_account *a, *nv = grown(v, &cap, cnt, sizeof(*v));

        if (nv == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        v = nv;
        a = &v[cnt++];
        memset(a, 0, sizeof(*a));
        a->name = col_dup(st, 0);
        a->uid = (uint32_t) sqlite3_column_int64(st, 1);
        a->gid = (uint32_t) sqlite3_column_int64(st, 2);
        a->gecos = col_dup(st, 3);
        a->home = col_dup(st, 4);
        a->shell = col_dup(st, 5);
        a->grant_id = col_dup(st, 6);
        a->requester = col_dup(st, 7);
        a->credential = col_dup(st, 8);
        a->state = jit_account_state_parse(
            (const char *) sqlite3_column_text(st, 9));
        a->created = sqlite3_column_int64(st, 10);
        a->expires = sqlite3_column_int64(st, 11);
        a->sessions = (uint32_t) sqlite3_column_int64(st, 12);
        a->rebound = sqlite3_column_int(st, 13) != 0;
        a->failures = sqlite3_column_int(st, 14);
        a->retry_at = sqlite3_column_int64(st, 15);
        a->announced = sqlite3_column_int(st, 16) != 0;
        if (!a->name || !a->gecos || !a->home || !a->shell || !a->grant_id
            || !a->requester || !a->credential) {
            ret = -ENOMEM;
            goto done;
        }
        sqlite3_reset(gs);
        sqlite3_bind_text(gs, 1, a->name, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(gs)) == SQLITE_ROW) {
            char **ng = realloc(a->groups, (a->n_groups + 1) * sizeof(*ng));
            uint32_t *ni = realloc(a->gids, (a->n_groups + 1) * sizeof(*ni));

            if (ng)
                a->groups = ng;
            if (ni)
                a->gids = ni;
            if (!ng || !ni || !(ng[a->n_groups] = col_dup(gs, 0))) {
                ret = -ENOMEM;
                goto done;
            }
            ni[a->n_groups++] = (uint32_t) sqlite3_column_int64(gs, 1);
        }
        if (rc != SQLITE_DONE) {
            ret = sql_fail(s, rc, "account groups");
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "accounts");
        goto done;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    cnt = 0;
    ret = 0;

done:
    jit_accounts_free(v, cnt);
    finish(s, gs);
    finish(s, st);
    return ret;
}

/* The snapshot's rows, loaded for a commit that changed what NSS shows.
 * Their strings and supplementary gids, owned here. */
struct snap_rows {
    struct jit_nssdb_account *v;
    size_t n;
    uint32_t *gids;
};

static void
snap_rows_free(struct snap_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *) r->v[i].name);
        free((char *) r->v[i].gecos);
        free((char *) r->v[i].dir);
        free((char *) r->v[i].shell);
        free((char *) r->v[i].requester);
    }
    free(r->v);
    free(r->gids);
    r->v = NULL;
    r->n = 0;
    r->gids = NULL;
}

/*
 * Every account as the snapshot shows it, in two scans whatever their
 * number: the accounts in name order, with whether each stands (for the
 * krb5 localauth plugin, doc/design.md, "GSSAPI logins": live while it
 * is reserved or active and its grant is stored, active and not revoked
 * on this host; ending at the earlier of its own and its grant's end; a
 * missing grant row is not live: fail closed), then every account's
 * groups in the same order, merged.  A login pays this at each commit
 * that changes what NSS shows; a query per account cost 5 us an account
 * here, so a host holding a thousand accounts paid 5 ms a commit.
 */
static int
load_snapshot_rows(struct jit_store *s, struct snap_rows *r)
{
    sqlite3_stmt *st = NULL, *gs = NULL;
    size_t cap = 0, ng = 0, gcap = 0, i = 0;
    size_t *first = NULL; /* (each account's first gid, then its count) */
    unsigned char *nul = NULL; /* (a name holding a NUL: no groups) */
    int rc, ret;

    r->v = NULL;
    r->n = 0;
    r->gids = NULL;
    ret = prepare(s, "SELECT a.name, a.uid, a.gid, a.gecos, a.home, a.shell,"
                     " a.requester, a.created, a.expires,"
                     " a.state IN ('reserved', 'active')"
                     "  AND g.status IS 'active'"
                     "  AND NOT EXISTS (SELECT 1 FROM local_revocations r"
                     "                  WHERE r.grant_id = a.grant_id),"
                     " CASE WHEN g.expires_at < a.expires THEN g.expires_at"
                     "  ELSE a.expires END"
                     " FROM accounts a LEFT JOIN grants g ON g.id = a.grant_id"
                     " ORDER BY a.name", &st);
    if (ret != 0)
        goto done;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct jit_nssdb_account *a;

        if (r->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct jit_nssdb_account *nv = realloc(r->v, ncap * sizeof(*nv));
            unsigned char *nn;

            if (nv == NULL) {
                ret = -ENOMEM;
                goto done;
            }
            r->v = nv;
            if ((nn = realloc(nul, ncap)) == NULL) {
                ret = -ENOMEM;
                goto done;
            }
            nul = nn;
            cap = ncap;
        }
        a = &r->v[r->n++];
        memset(a, 0, sizeof(*a));
        a->name = col_dup(st, 0);
        a->uid = (uint32_t) sqlite3_column_int64(st, 1);
        a->gid = (uint32_t) sqlite3_column_int64(st, 2);
        a->gecos = col_dup(st, 3);
        a->dir = col_dup(st, 4);
        a->shell = col_dup(st, 5);
        a->requester = col_dup(st, 6);
        a->created = sqlite3_column_int64(st, 7);
        a->expires = sqlite3_column_int64(st, 8);
        a->live = sqlite3_column_int(st, 9) != 0;
        a->ends = sqlite3_column_int64(st, 10);
        if (!a->name || !a->gecos || !a->dir || !a->shell || !a->requester) {
            ret = -ENOMEM;
            goto done;
        }
        nul[r->n - 1] =
            (size_t) sqlite3_column_bytes(st, 0) != strlen(a->name);
    }
    if (rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "accounts");
        goto done;
    }
    first = calloc(r->n ? 2 * r->n : 1, sizeof(*first));
    if (first == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    /* (SQLite's BINARY order is strcmp's for these names) */
    ret = prepare(s, "SELECT account, gid FROM account_groups"
                     " ORDER BY account, name", &gs);
    if (ret != 0)
        goto done;
    while ((rc = sqlite3_step(gs)) == SQLITE_ROW) {
        const char *acct = (const char *) sqlite3_column_text(gs, 0);
        int c = 1;

        if (acct == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        /* A name holding a NUL (only a damaged store has one) would
         * compare equal to another here, and SQL tells them apart. */
        if ((size_t) sqlite3_column_bytes(gs, 0) != strlen(acct))
            continue;
        while (i < r->n && (c = strcmp(r->v[i].name, acct)) < 0)
            if (++i < r->n)
                first[2 * i] = ng;
        /* A group of no account (the foreign key forbids it) shows
         * nowhere, as before. */
        if (c != 0 || nul[i])
            continue;
        if (ng == gcap) {
            size_t ncap = gcap ? gcap * 2 : 64;
            uint32_t *nv = realloc(r->gids, ncap * sizeof(*nv));

            if (nv == NULL) {
                ret = -ENOMEM;
                goto done;
            }
            r->gids = nv;
            gcap = ncap;
        }
        r->gids[ng++] = (uint32_t) sqlite3_column_int64(gs, 1);
        first[2 * i + 1]++;
    }
    if (rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "account groups");
        goto done;
    }
    /* (pointers only now: the array moved as it grew) */
    for (size_t k = 0; k < r->n; k++) {
        r->v[k].n_gids = first[2 * k + 1];
        r->v[k].gids = first[2 * k + 1] ? r->gids + first[2 * k] : NULL;
    }
    ret = 0;

done:
    free(first);
    free(nul);
    finish(s, gs);
    finish(s, st);
    if (ret == -ENOMEM)
        set_err(s, "snapshot: out of memory");
    if (ret != 0)
        snap_rows_free(r);
    return ret;
}

int
jit_store_commit(struct jit_store *s)
{
    struct jit_nssdb_image img = { NULL, 0 };
    struct snap_rows rows = { NULL, 0, NULL };
    int ret, committed = 0;

    if (!s->in_txn) {
        set_err(s, "no transaction open");
        return -EINVAL;
    }
    /* Sessions, states and events are not in the snapshot: such a commit
     * leaves it (and its generation) as it is. */
    if (!s->nss_dirty) {
        if ((ret = exec1(s, "COMMIT")) == 0) {
            s->in_txn = 0;
            committed = 1;
            flock(s->lockfd, LOCK_UN);
        }
        goto done;
    }
    ret = exec1(s, "UPDATE meta SET value = value + 1"
                   " WHERE key = 'generation'");
    if (ret != 0)
        goto done;
    if ((ret = load_snapshot_rows(s, &rows)) != 0)
        goto done;
    ret = jit_nssdb_build(rows.v, rows.n, s->conf->uid_min, s->conf->uid_max,
                          jit_store_generation(s), (int64_t) time(NULL),
                          &img);
    if (ret != 0) {
        set_err(s, "snapshot: the store holds a row the snapshot refuses "
                "(%s)", strerror(-ret));
        goto done;
    }
    /* Not fsynced (doc/design.md, S26): a power loss that leaves it empty
     * or torn is told by its checksum, by every reader (which then shows
     * no JIT account: closed) and by the next jit_store_open (which
     * re-derives it before it answers).  It cannot claim a generation the
     * store lost: the rename comes after the COMMIT's fsync.  (Every
     * snapshot a login wrote paid an fsync here.) */
    ret = jit_file_stage_unsynced(s->dirfd, JIT_STORE_SNAPSHOT ".new",
                                  img.data, img.len, 0644);
    if (ret != 0) {
        set_err(s, "snapshot: %s", strerror(-ret));
        goto done;
    }
    if ((ret = exec1(s, "COMMIT")) != 0)
        goto done;
    s->in_txn = 0;
    committed = 1;
    ret = jit_file_publish(s->dirfd, JIT_STORE_SNAPSHOT ".new",
                           JIT_STORE_SNAPSHOT);
    if (ret != 0) {
        set_err(s, "snapshot: committed, but publishing failed: %s "
                "(re-derived at the next open)", strerror(-ret));
        ret = -ESTALE; /* committed all the same: see store.h */
    }
    flock(s->lockfd, LOCK_UN);

done:
    if (s->in_txn)
        jit_store_rollback(s);
    /* New events: the daemon delivers them now, not after its long poll
     * (after the commit, so that it finds them; unlocked, so that it can
     * take the lock at once). */
    if (committed && s->events_added)
        jit_wake_poke(s->dirfd);
    if (committed)
        jit_store_checkpoint_if_due(s);
    jit_nssdb_image_free(&img);
    snap_rows_free(&rows);
    return ret;
}

void
jit_store_touch_snapshot(struct jit_store *s)
{
    if (s->in_txn)
        s->nss_dirty = 1;
}
