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
        struct jit_account *a;

        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct jit_account *nv = realloc(v, ncap * sizeof(*nv));

            if (nv == NULL) {
                ret = -ENOMEM;
                goto done;
            }
            v = nv;
            cap = ncap;
        }
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

/*
 * Whose each account is and whether it stands, for the snapshot (the krb5
 * localauth plugin reads it there, doc/design.md, "GSSAPI logins"): live
 * while it is reserved or active, its grant is stored, active and not
 * revoked on this host; it ends at the earlier of its own and its grant's
 * end.  The rows come in the order of jit_store_load_accounts (by uid);
 * a row that does not line up fails the commit.  (A missing grant row
 * never happens, as a grant is stored before its account; if it did, the
 * account would not be live: fail closed.)
 */
static int
load_standing(struct jit_store *s, struct jit_nssdb_account *rows, size_t n)
{
    sqlite3_stmt *st = NULL;
    size_t i = 0;
    int rc, ret;

    ret = prepare(s, "SELECT a.name, a.state IN ('reserved', 'active')"
                     "  AND g.status IS 'active'"
                     "  AND NOT EXISTS (SELECT 1 FROM local_revocations r"
                     "                  WHERE r.grant_id = a.grant_id),"
                     " CASE WHEN g.expires_at < a.expires THEN g.expires_at"
                     "  ELSE a.expires END"
                     " FROM accounts a LEFT JOIN grants g ON g.id = a.grant_id"
                     " ORDER BY a.uid", &st);
    if (ret != 0)
        goto done;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *) sqlite3_column_text(st, 0);

        if (i >= n || name == NULL || strcmp(name, rows[i].name) != 0) {
            set_err(s, "snapshot: accounts changed while it was built");
            ret = -EIO;
            goto done;
        }
        rows[i].live = sqlite3_column_int(st, 1) != 0;
        rows[i].ends = sqlite3_column_int64(st, 2);
        i++;
    }
    if (rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "account standing");
        goto done;
    }
    if (i != n) {
        set_err(s, "snapshot: accounts changed while it was built");
        ret = -EIO;
    }

done:
    finish(s, st);
    return ret;
}

int
jit_store_commit(struct jit_store *s)
{
    struct jit_nssdb_image img = { NULL, 0 };
    struct jit_nssdb_account *rows = NULL;
    struct jit_account *accts = NULL;
    size_t n = 0;
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
    if ((ret = jit_store_load_accounts(s, NULL, &accts, &n)) != 0)
        goto done;
    rows = calloc(n ? n : 1, sizeof(*rows));
    if (rows == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i].name = accts[i].name;
        rows[i].gecos = accts[i].gecos;
        rows[i].dir = accts[i].home;
        rows[i].shell = accts[i].shell;
        rows[i].uid = accts[i].uid;
        rows[i].gid = accts[i].gid;
        rows[i].gids = accts[i].gids;
        rows[i].n_gids = accts[i].n_groups;
        rows[i].created = accts[i].created;
        rows[i].expires = accts[i].expires;
        rows[i].requester = accts[i].requester;
    }
    if ((ret = load_standing(s, rows, n)) != 0)
        goto done;
    ret = jit_nssdb_build(rows, n, s->conf->uid_min, s->conf->uid_max,
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
    free(rows);
    jit_accounts_free(accts, n);
    return ret;
}

void
jit_store_touch_snapshot(struct jit_store *s)
{
    if (s->in_txn)
        s->nss_dirty = 1;
}
