/* SPDX-License-Identifier: MIT */
/*
 * Accounts in the state store: reserving one for a grant, its state,
 * sessions, groups and end, which are due for teardown, and deleting one
 * into the uid history.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "state/nssdb_write.h"
#include "state/store_impl.h"

static const char *const state_names[] = { "reserved", "active",
                                           "tearing_down", "disable_failed" };

const char *
jit_account_state_name(int state)
{
    if (state < 0 || state > JIT_ACCOUNT_DISABLE_FAILED)
        return "unknown";
    return state_names[state];
}

int
jit_account_state_parse(const char *s)
{
    for (int i = 0; i <= JIT_ACCOUNT_DISABLE_FAILED; i++)
        if (s != NULL && strcmp(s, state_names[i]) == 0)
            return i;
    return -1;
}

/* Replace the account's supplementary groups by the grant's. */
static int
put_account_groups(struct jit_store *s, const char *name,
                   const struct jit_grant *g, const uint32_t *gids)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = prepare(s, "DELETE FROM account_groups WHERE account = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    for (size_t i = 0; i < g->n_groups; i++) {
        if ((ret = prepare(s, "INSERT OR IGNORE INTO account_groups"
                              " VALUES (?,?,?)", &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g->groups[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, gids[i]);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    return 0;
}

int
jit_store_reserve(struct jit_store *s, const struct jit_grant *g,
                  int64_t now, struct jit_account *out)
{
    const struct jit_conf *c = s->conf;
    struct jit_nssdb_account row = { 0 };
    sqlite3_stmt *st = NULL;
    uint32_t *gids = NULL;
    char *home = NULL, *gecos = NULL;
    const char *why;
    uint32_t uid = 0;
    int ret, taken;

    memset(out, 0, sizeof(*out));
    if ((ret = need_txn(s)) != 0)
        goto done;
    if ((why = jit_name_problem(g->username)) != NULL) {
        set_err(s, "%s: %s", g->username ? g->username : "(none)", why);
        ret = -EINVAL;
        goto done;
    }
    if (g->n_groups > JIT_MAX_GROUPS) {
        set_err(s, "grant %s lists more than %d groups", g->id,
                JIT_MAX_GROUPS);
        ret = -E2BIG;
        goto done;
    }
    ret = jit_store_get_account(s, g->username, out);
    if (ret != -ENOENT) {
        if (ret == 0) {
            jit_account_free(out);
            set_err(s, "%s: already an account of ours", g->username);
            ret = -EEXIST;
        }
        goto done;
    }
    taken = s->host.name_taken(g->username, s->host.ctx);
    if (taken != 0) {
        set_err(s, "%s: %s", g->username,
                taken > 0 ? "another source owns this name"
                          : "cannot tell whether the name is free");
        ret = taken > 0 ? -EEXIST : taken;
        goto done;
    }
    if ((ret = jit_store_resolve_groups(s, g, &gids)) != 0)
        goto done;
    if ((ret = jit_store_allocate_id(s, now, &uid)) != 0)
        goto done;
    if (asprintf(&home, "%s/%s", c->home_base, g->username) < 0
        || asprintf(&gecos, "JIT %s", g->credential) < 0) {
        ret = -ENOMEM;
        goto done;
    }
    /* What the snapshot would refuse is refused here, for this grant
     * alone, not at commit for everything in the transaction. */
    row.name = g->username;
    row.gecos = gecos;
    row.dir = home;
    row.shell = c->default_shell;
    row.uid = row.gid = uid;
    row.gids = gids;
    row.n_gids = g->n_groups;
    row.requester = g->requester;
    if ((why = jit_nssdb_account_problem(&row, c->uid_min, c->uid_max))
        != NULL) {
        set_err(s, "%s: the account would not fit the NSS snapshot (gecos"
                " \"JIT <credential>\", home or shell %s)", g->username,
                why);
        ret = -EDOM;
        goto done;
    }
    s->nss_dirty = 1;
    ret = prepare(s, "INSERT INTO accounts (name, uid, gid, gecos, home,"
                     " shell, grant_id, requester, credential, state,"
                     " created, expires) VALUES (?,?,?,?,?,?,?,?,?,"
                     "'reserved',?,?)", &st);
    if (ret != 0)
        goto done;
    sqlite3_bind_text(st, 1, g->username, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_int64(st, 3, uid);
    sqlite3_bind_text(st, 4, gecos, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, home, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->default_shell, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, g->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, g->credential, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, now);
    sqlite3_bind_int64(st, 11, g->expires_at);
    ret = step_done(s, st);
    if (ret == -EEXIST)
        set_err(s, "%s already holds an account for credential %s",
                g->requester, g->credential);
    if (ret != 0)
        goto done;
    if ((ret = put_account_groups(s, g->username, g, gids)) != 0)
        goto done;
    ret = jit_store_get_account(s, g->username, out);

done:
    free(gecos);
    free(home);
    free(gids);
    return ret;
}

/* Run an UPDATE/DELETE on one account; -ENOENT if it changed nothing. */
static int
change_one(struct jit_store *s, sqlite3_stmt *st)
{
    int ret = step_done(s, st);

    if (ret == 0 && sqlite3_changes(s->db) == 0) {
        set_err(s, "no such account");
        ret = -ENOENT;
    }
    return ret;
}

int
jit_store_set_state(struct jit_store *s, const char *name, int state)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    if (jit_account_state_parse(jit_account_state_name(state)) < 0)
        return -EINVAL;
    /* An account that starts to end is no longer live in the snapshot
     * (the krb5 localauth plugin refuses it from this commit on);
     * reserved to active changes nothing NSS shows. */
    if (state == JIT_ACCOUNT_TEARING_DOWN || state == JIT_ACCOUNT_DISABLE_FAILED)
        s->nss_dirty = 1;
    /* Once active, the account's next opening is no longer a re-enable. */
    ret = prepare(s, "UPDATE accounts SET state = ?1, rebound = CASE"
                     " WHEN ?1 = 'active' THEN 0 ELSE rebound END,"
                     " announced = CASE WHEN ?1 = 'active' THEN 1"
                     "  ELSE announced END"
                     " WHERE name = ?2", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, jit_account_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return change_one(s, st);
}

/* Drop the flag a reboot left on account name, if any
 * (jit_store_sessions_this_boot). */
static int
drop_boot_flag(struct jit_store *s, const char *name)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = prepare(s, "DELETE FROM kv WHERE key = (SELECT "
                          JIT_BOOT_RESET_KEY " FROM accounts a"
                          " WHERE a.name = ?)", &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int
jit_store_delete_account(struct jit_store *s, const char *name, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    s->nss_dirty = 1;
    ret = prepare(s, "INSERT INTO uid_history (uid, name, grant_id, released)"
                     " SELECT uid, name, grant_id, ? FROM accounts"
                     " WHERE name = ?", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if ((ret = change_one(s, st)) != 0)
        return ret;
    if ((ret = drop_boot_flag(s, name)) != 0)
        return ret;
    if ((ret = prepare(s, "DELETE FROM accounts WHERE name = ?", &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return change_one(s, st);
}

int
jit_store_rebind(struct jit_store *s, const char *name,
                 const struct jit_grant *g)
{
    sqlite3_stmt *st = NULL;
    uint32_t *gids = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        goto done;
    if ((ret = jit_store_resolve_groups(s, g, &gids)) != 0)
        goto done;
    s->nss_dirty = 1; /* expiry (shadow) and groups */
    /* A new grant makes the account reserved (and re-enabled) until its
     * next session; the same grant with a new end only moves the end.
     * (SET expressions all see the row as it was.) */
    ret = prepare(s, "UPDATE accounts SET grant_id = ?1, expires = ?2,"
                     " rebound = CASE WHEN grant_id = ?1 THEN rebound"
                     "  ELSE 1 END,"
                     " state = CASE WHEN grant_id = ?1 THEN state"
                     "  ELSE 'reserved' END,"
                     " announced = CASE WHEN grant_id = ?1 THEN announced"
                     "  ELSE 1 END"
                     " WHERE name = ?3 AND requester = ?4 AND credential = ?5",
                  &st);
    if (ret != 0)
        goto done;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, g->expires_at);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, g->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, g->credential, -1, SQLITE_STATIC);
    if ((ret = change_one(s, st)) != 0)
        goto done;
    ret = put_account_groups(s, name, g, gids);

done:
    free(gids);
    return ret;
}

/* The accounts with sessions counted, and how many. */
struct counted {
    char *name, *grant_id, *requester;
    int64_t sessions;
    int flag; /* active, of a delete-on-logout grant */
    char *flag_key;
};

static void
counted_free(struct counted *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].grant_id);
        free(v[i].requester);
        free(v[i].flag_key);
    }
    free(v);
}

static int
load_counted(struct jit_store *s, struct counted **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct counted *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, ret;

    *out = NULL;
    *n = 0;
    if ((ret = prepare(s, "SELECT a.name, a.grant_id, a.requester,"
                          " a.sessions, a.state = 'active'"
                          "  AND g.on_logout = 'delete', " JIT_BOOT_RESET_KEY
                          " FROM accounts a"
                          " LEFT JOIN grants g ON g.id = a.grant_id"
                          " WHERE a.sessions > 0", &st)) != 0)
        return ret;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct counted *c, *nv = grown(v, &cap, cnt, sizeof(*v));

        if (nv == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        v = nv;
        c = &v[cnt++];
        memset(c, 0, sizeof(*c));
        c->sessions = sqlite3_column_int64(st, 3);
        c->flag = sqlite3_column_int(st, 4) == 1;
        if ((c->name = col_dup(st, 0)) == NULL
            || (c->grant_id = col_dup(st, 1)) == NULL
            || (c->requester = col_dup(st, 2)) == NULL
            || (c->flag_key = col_dup(st, 5)) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
    }
    if (rc != SQLITE_DONE)
        ret = sql_fail(s, rc, "sessions");

done:
    finish(s, st);
    if (ret != 0) {
        counted_free(v, cnt);
        return ret;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* Set the counts of an earlier boot to zero: each account's ended
 * sessions get one session.closed (with how many), and an active account
 * of a delete-on-logout grant is flagged (JIT_BOOT_RESET_KEY) as one the
 * reaper ends, cause no_sessions, unless a session is counted in first. */
static int
reset_counts(struct jit_store *s, int64_t now)
{
    sqlite3_stmt *st = NULL;
    struct counted *v = NULL;
    size_t n = 0;
    char detail[96];
    int ret;

    if ((ret = load_counted(s, &v, &n)) != 0)
        return ret;
    /* An earlier reboot's flag stays on an account still as that reboot
     * left it (another reboot before the reaper's round must not let it
     * off); the others go. */
    if ((ret = prepare(s, "DELETE FROM kv WHERE key >= 'boot_reset/'"
                          " AND key < 'boot_reset0' AND key NOT IN"
                          " (SELECT " JIT_BOOT_RESET_KEY " FROM accounts a"
                          "  JOIN grants g ON g.id = a.grant_id"
                          "  WHERE a.state = 'active' AND a.sessions = 0"
                          "   AND g.on_logout = 'delete')", &st)) != 0
        || (ret = step_done(s, st)) != 0)
        goto done;
    for (size_t i = 0; i < n && ret == 0; i++) {
        snprintf(detail, sizeof(detail),
                 "{\"reason\":\"reboot\",\"sessions\":%lld}",
                 (long long) v[i].sessions);
        ret = jit_store_add_event(s, "session.closed", v[i].grant_id,
                                  v[i].name, v[i].requester, detail, now);
        if (ret == 0 && v[i].flag)
            ret = jit_store_kv_put(s, v[i].flag_key, "1");
    }
    if (ret != 0
        || (ret = prepare(s, "UPDATE accounts SET sessions = 0"
                             " WHERE sessions > 0", &st)) != 0
        || (ret = step_done(s, st)) != 0)
        goto done;
    ret = (int) n;

done:
    counted_free(v, n);
    return ret;
}

int
jit_store_sessions_this_boot(struct jit_store *s, int64_t now)
{
    char *seen = NULL;
    int ret, reset = 0;

    if ((ret = need_txn(s)) != 0)
        return ret;
    if (s->boot_id[0] == '\0'
        && (s->host.boot_id == NULL
            || s->host.boot_id(s->boot_id, sizeof(s->boot_id), s->host.ctx)
                   != 0)) {
        /* Not known here (no /proc, say): this transaction may count a
         * session of a boot the store does not know.  Forget the boot
         * recorded, so that no later process takes such a count for an
         * earlier boot's and sets it to 0; the counts stay. */
        s->boot_id[0] = '\0';
        return jit_store_kv_put(s, "boot_id", NULL);
    }
    ret = jit_store_kv_get(s, "boot_id", &seen);
    if (ret != 0 && ret != -ENOENT)
        goto done;
    if (ret == 0 && strcmp(seen, s->boot_id) == 0)
        goto done;
    /* None recorded (a new store, one from before boots were, or one a
     * process that could not know the boot counted in): the counts may
     * be this boot's, and stay as they are. */
    if (ret == 0 && (ret = reset = reset_counts(s, now)) < 0)
        goto done;
    ret = jit_store_kv_put(s, "boot_id", s->boot_id);

done:
    free(seen);
    return ret < 0 ? ret : reset;
}

int
jit_store_add_sessions(struct jit_store *s, const char *name, int delta,
                       uint32_t *after)
{
    sqlite3_stmt *st = NULL;
    int ret, rc;

    if ((ret = need_txn(s)) != 0)
        return ret;
    /* A session counted in: the account is in use again in this boot,
     * and no longer one a reboot left. */
    if (delta > 0 && (ret = drop_boot_flag(s, name)) != 0)
        return ret;
    /* Never below zero: a close without an open (or after a crash that
     * lost the open) must not wrap the count. */
    ret = prepare(s, "UPDATE accounts SET sessions = max(0, sessions + ?)"
                     " WHERE name = ? RETURNING sessions", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int(st, 1, delta);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (after)
            *after = (uint32_t) sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    } else if (rc == SQLITE_DONE) {
        set_err(s, "no such account");
        ret = -ENOENT;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sql_fail(s, rc, "sessions");
    finish(s, st);
    return ret;
}

int
jit_store_find_account(struct jit_store *s, const char *requester,
                       const char *credential, struct jit_account *out)
{
    sqlite3_stmt *st = NULL;
    char *name = NULL;
    int rc, ret;

    memset(out, 0, sizeof(*out));
    ret = prepare(s, "SELECT name FROM accounts WHERE requester = ?"
                     " AND credential = ?", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, credential, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        name = col_dup(st, 0);
    else
        ret = rc == SQLITE_DONE ? -ENOENT : sql_fail(s, rc, "find");
    finish(s, st);
    if (ret == 0)
        ret = name ? jit_store_get_account(s, name, out) : -ENOMEM;
    free(name);
    return ret;
}

int
jit_store_teardown_failed(struct jit_store *s, const char *name,
                          int64_t retry_at)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    s->nss_dirty = 1; /* not live (see jit_store_set_state) */
    ret = prepare(s, "UPDATE accounts SET state = 'disable_failed',"
                     " failures = failures + 1, retry_at = ? WHERE name = ?",
                  &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, retry_at);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return change_one(s, st);
}

int
jit_store_due_accounts(struct jit_store *s, int64_t now, struct jit_due **out,
                       size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct jit_due *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, ret;

    *out = NULL;
    *n = 0;
    ret = prepare(s,
                  "SELECT a.name, CASE"
                  "  WHEN a.state = 'tearing_down' THEN 'resumed'"
                  "  WHEN a.state = 'disable_failed' THEN 'retry'"
                  "  WHEN a.expires <= ?1 THEN 'expired'"
                  "  WHEN g.status = 'revoked' THEN 'revoked'"
                  "  WHEN g.status = 'active' AND g.expires_at > ?1"
                  "   THEN 'no_sessions'"
                  "  ELSE 'expired' END"
                  " FROM accounts a LEFT JOIN grants g ON g.id = a.grant_id"
                  " WHERE a.state = 'tearing_down'"
                  "  OR (a.state = 'disable_failed' AND a.retry_at <= ?1)"
                  "  OR (a.state IN ('reserved', 'active')"
                  "      AND (a.expires <= ?1"
                  "           OR g.status IN ('revoked', 'expired')"
                  "           OR g.expires_at <= ?1))"
                  /* Delete on logout, its sessions ended with the boot
                   * they were in and none counted since (flagged by
                   * jit_store_sessions_this_boot, the flag gone at the
                   * next session counted in). */
                  "  OR (a.state = 'active' AND a.sessions = 0"
                  "      AND g.on_logout = 'delete'"
                  "      AND EXISTS (SELECT 1 FROM kv"
                  "                  WHERE kv.key = " JIT_BOOT_RESET_KEY "))"
                  " ORDER BY a.uid", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct jit_due *nv = grown(v, &cap, cnt, sizeof(*v));

        if (nv == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        v = nv;
        memset(&v[cnt], 0, sizeof(v[cnt]));
        if ((v[cnt].name = col_dup(st, 0)) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        snprintf(v[cnt].cause, sizeof(v[cnt].cause), "%s",
                 (const char *) sqlite3_column_text(st, 1));
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "due accounts");
        goto done;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    cnt = 0;

done:
    finish(s, st);
    for (size_t i = 0; i < cnt; i++)
        free(v[i].name);
    free(v);
    return ret;
}

int64_t
jit_store_next_due(struct jit_store *s, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int64_t next = 0;

    if (prepare(s, "SELECT min(t) FROM (SELECT CASE WHEN state ="
                   " 'disable_failed' THEN retry_at ELSE expires END AS t"
                   " FROM accounts WHERE state != 'tearing_down')"
                   " WHERE t > ?", &st) != 0)
        return 0;
    sqlite3_bind_int64(st, 1, now);
    if (sqlite3_step(st) == SQLITE_ROW
        && sqlite3_column_type(st, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(st, 0);
    finish(s, st);
    return next;
}

int
jit_store_get_account(struct jit_store *s, const char *name,
                      struct jit_account *out)
{
    struct jit_account *v = NULL;
    size_t n = 0;
    int ret;

    memset(out, 0, sizeof(*out));
    if (name == NULL)
        return -ENOENT;
    if ((ret = jit_store_load_accounts(s, name, &v, &n)) != 0)
        return ret;
    if (n == 0) {
        free(v);
        return -ENOENT;
    }
    *out = v[0];
    free(v);
    return 0;
}

int
jit_store_list_accounts(struct jit_store *s, struct jit_account **out,
                        size_t *n)
{
    return jit_store_load_accounts(s, NULL, out, n);
}

void
jit_account_free(struct jit_account *a)
{
    if (a == NULL)
        return;
    free(a->name);
    free(a->gecos);
    free(a->home);
    free(a->shell);
    free(a->grant_id);
    free(a->requester);
    free(a->credential);
    for (size_t i = 0; i < a->n_groups; i++)
        free(a->groups[i]);
    free(a->groups);
    free(a->gids);
    memset(a, 0, sizeof(*a));
}

void
jit_accounts_free(struct jit_account *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jit_account_free(&a[i]);
    free(a);
}

const char *
jit_store_reason(int ret)
{
    switch (ret) {
    case -EEXIST:
        return "name_taken";
    case -EPERM:
        return "group_not_allowed";
    case -ENOSPC:
        return "no_free_id";
    case -EINVAL:
        return "bad_name";
    case -EDOM:
    case -E2BIG:
        return "bad_grant";
    default:
        return "store_error";
    }
}

int
jit_account_same_groups(const struct jit_account *a, const struct jit_grant *g)
{
    if (a->n_groups != g->n_groups)
        return 0;
    /* Neither list repeats a name (the grant parser and the account's
     * primary key see to that), so equal sizes and inclusion suffice. */
    for (size_t i = 0; i < g->n_groups; i++) {
        size_t k = 0;

        while (k < a->n_groups && strcmp(a->groups[k], g->groups[i]) != 0)
            k++;
        if (k == a->n_groups)
            return 0;
    }
    return 1;
}

int
jit_store_narrow(struct jit_store *s, const struct jit_account *a,
                 const struct jit_grant *g)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    s->nss_dirty = 1;
    ret = prepare(s, "UPDATE accounts SET expires = min(expires, ?)"
                     " WHERE name = ?", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, g->expires_at);
    sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
    if ((ret = change_one(s, st)) != 0)
        return ret;
    for (size_t i = 0; i < a->n_groups; i++) {
        size_t k = 0;

        while (k < g->n_groups && strcmp(g->groups[k], a->groups[i]) != 0)
            k++;
        if (k < g->n_groups)
            continue;
        ret = prepare(s, "DELETE FROM account_groups WHERE account = ?"
                         " AND name = ?", &st);
        if (ret != 0)
            return ret;
        sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->groups[i], -1, SQLITE_STATIC);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    return 0;
}
