/* SPDX-License-Identifier: MIT */
/*
 * What the files of the state store share, and nothing outside
 * lib/state/store*.c includes: the store's handle and the SQLite helpers
 * every query uses (errors as -errno, the message kept in the handle for
 * jit_store_error).  The API is store.h.
 */
#ifndef JIT_STORE_IMPL_H
#define JIT_STORE_IMPL_H

#include <errno.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "state/store.h"

#pragma GCC visibility push(hidden)

/* A statement kept prepared for the handle's life: a login runs the same
 * few dozen statements about a hundred times, and parsing them again each
 * time was a tenth of its CPU.  Looked up by the SQL's text; one in use
 * (a caller still stepping it) is not handed out twice. */
#define JIT_STORE_STMTS 64
struct jit_store_stmt {
    char *sql;
    sqlite3_stmt *st;
    int busy;
};

struct jit_store {
    sqlite3 *db;
    int dirfd, lockfd;
    int in_txn;
    const struct jit_conf *conf;
    struct jit_store_host host;
    uint32_t alloc_hint; /* next id to try in this transaction */
    int nss_dirty;       /* this transaction changed what NSS shows */
    int events_added;    /* this transaction added to the outbox */
    int wal_frames;      /* the WAL's length at the last commit */
    char boot_id[64];    /* this boot's, once read; "" before */
    char err[256];
    struct jit_store_stmt stmts[JIT_STORE_STMTS];
    size_t n_stmts;
};

/* The kv key flagging account row `a` as one whose sessions ended with
 * a boot (jit_store_sessions_this_boot), as an SQL expression: the
 * account's name, uid and creation time, so that it names no later
 * account of the same name. */
#define JIT_BOOT_RESET_KEY \
    "('boot_reset/' || a.name || '/' || a.uid || '/' || a.created)"

/* After a commit, with the writers' lock let go: checkpoint the WAL if it
 * has grown long (store.c). */
void jit_store_checkpoint_if_due(struct jit_store *s);

__attribute__((format(printf, 2, 3))) static inline void
set_err(struct jit_store *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

/* SQLite result to -errno, remembering the message. */
static inline int
sql_fail(struct jit_store *s, int rc, const char *what)
{
    set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
    switch (rc & 0xff) {
    case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: return -EBADMSG;
    default: return -EIO;
    }
}

static inline int
exec(struct jit_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : sql_fail(s, rc, "sql");
}

/* One SQL statement, prepared once per handle (store.c); every statement
 * prepare gives is handed back with finish, never sqlite3_finalize. */
int jit_store_stmt_get(struct jit_store *s, const char *sql,
                       sqlite3_stmt **st);
void jit_store_stmt_put(struct jit_store *s, sqlite3_stmt *st);
/* The cache emptied, before the connection closes (store.c). */
void jit_store_stmts_free(struct jit_store *s);

static inline int
prepare(struct jit_store *s, const char *sql, sqlite3_stmt **st)
{
    return jit_store_stmt_get(s, sql, st);
}

static inline void
finish(struct jit_store *s, sqlite3_stmt *st)
{
    jit_store_stmt_put(s, st);
}

/* One statement without rows, from the cache: what a transaction's
 * BEGIN and COMMIT run, every time. */
static inline int
exec1(struct jit_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = jit_store_stmt_get(s, sql, &st);

    if (ret != 0)
        return ret;
    rc = sqlite3_step(st);
    ret = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "sql");
    jit_store_stmt_put(s, st);
    return ret;
}

/* v (of *cap elements of size bytes) with room for element n: the same,
 * or doubled when full (from 16); NULL if that fails, v left as it was. */
static inline void *
grown(void *v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return v;
    ncap = *cap ? *cap * 2 : 16;
    if ((nv = realloc(v, ncap * size)) != NULL)
        *cap = ncap;
    return nv;
}

/* Run a statement to completion (no rows expected). */
static inline int
step_done(struct jit_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "step");

    finish(s, st);
    return ret;
}

static inline char *
col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return strdup(t ? (const char *) t : "");
}

static inline int
need_txn(struct jit_store *s)
{
    if (s->in_txn)
        return 0;
    set_err(s, "write outside a transaction");
    return -EINVAL;
}

/* The host as NSS sees it: the default jit_store_host (store_host.c). */
extern const struct jit_store_host jit_store_nss_host;

/* Every account with its groups, or the one named (store_snapshot.c). */
int jit_store_load_accounts(struct jit_store *s, const char *where_name,
                            struct jit_account **out, size_t *n);

/* A free uid for a new account; the gids of a grant's groups, each
 * allow-listed (store_ids.c). */
int jit_store_allocate_id(struct jit_store *s, int64_t now, uint32_t *out);
int jit_store_resolve_groups(struct jit_store *s, const struct jit_grant *g,
                             uint32_t **out);

#pragma GCC visibility pop

#endif
