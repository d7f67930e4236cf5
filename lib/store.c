/*
 * The SQLite state store (see store.h for the writer discipline).
 *
 * Times are seconds since the epoch (INTEGER); lists (grant groups, ssh
 * keys) are rows of their own, never packed strings.  The schema version
 * is PRAGMA user_version; migrations[] takes a store from any older
 * version to the current one, each step in its own transaction.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "nssdb_write.h"
#include "store.h"
#include "validate.h"
#include "wake.h"

struct jit_store {
    sqlite3 *db;
    int dirfd, lockfd;
    int in_txn;
    const struct jit_conf *conf;
    struct jit_store_host host;
    uint32_t alloc_hint; /* next id to try in this transaction */
    int nss_dirty;       /* this transaction changed what NSS shows */
    int events_added;    /* this transaction added to the outbox */
    char err[256];
};

/* See jit_store_open. */
#define WAL_CHECKPOINT_PAGES 128

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES ('generation', 0);"
    "CREATE TABLE grants ("
    "  id TEXT PRIMARY KEY, credential TEXT NOT NULL,"
    "  requester TEXT NOT NULL, username TEXT NOT NULL, host TEXT NOT NULL,"
    "  reason TEXT NOT NULL, status TEXT NOT NULL"
    "    CHECK (status IN ('active','expired','revoked')),"
    "  on_logout TEXT NOT NULL CHECK (on_logout IN ('keep','delete')),"
    "  not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL);"
    "CREATE TABLE grant_groups (grant_id TEXT NOT NULL"
    "  REFERENCES grants(id) ON DELETE CASCADE, name TEXT NOT NULL,"
    "  PRIMARY KEY (grant_id, name));"
    "CREATE TABLE grant_ssh_keys (grant_id TEXT NOT NULL"
    "  REFERENCES grants(id) ON DELETE CASCADE, pos INTEGER NOT NULL,"
    "  key TEXT NOT NULL, PRIMARY KEY (grant_id, pos));"
    "CREATE TABLE accounts ("
    "  name TEXT PRIMARY KEY, uid INTEGER NOT NULL UNIQUE,"
    "  gid INTEGER NOT NULL UNIQUE, gecos TEXT NOT NULL,"
    "  home TEXT NOT NULL, shell TEXT NOT NULL,"
    "  grant_id TEXT NOT NULL, requester TEXT NOT NULL,"
    "  credential TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN"
    "    ('reserved','active','tearing_down','disable_failed')),"
    "  created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  sessions INTEGER NOT NULL DEFAULT 0 CHECK (sessions >= 0),"
    "  CHECK (gid = uid));"
    /* One account per requester and credential (doc/design.md, "The life
     * of a grant and its account"). */
    "CREATE UNIQUE INDEX accounts_requester_credential"
    "  ON accounts (requester, credential);"
    "CREATE TABLE account_groups (account TEXT NOT NULL"
    "  REFERENCES accounts(name) ON DELETE CASCADE, name TEXT NOT NULL,"
    "  gid INTEGER NOT NULL, PRIMARY KEY (account, name));"
    "CREATE TABLE uid_history (uid INTEGER NOT NULL, name TEXT NOT NULL,"
    "  grant_id TEXT NOT NULL, released INTEGER NOT NULL);"
    "CREATE INDEX uid_history_uid ON uid_history (uid, released);"
    "CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    "  time INTEGER NOT NULL, grant_id TEXT, username TEXT,"
    "  requester TEXT, detail TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0);",
    /* 2: an account kept from an earlier grant and bound to a new one
     * records account.enabled, not account.created, when it next opens */
    "ALTER TABLE accounts ADD COLUMN rebound INTEGER NOT NULL DEFAULT 0;",
    /* 3: grants an admin revoked on this host (jitctl revoke): they stay
     * revoked here whatever the API says later */
    "CREATE TABLE local_revocations (grant_id TEXT PRIMARY KEY,"
    "  reason TEXT NOT NULL, time INTEGER NOT NULL);",
    /* 4: failed teardowns are retried with backoff */
    "ALTER TABLE accounts ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE accounts ADD COLUMN retry_at INTEGER NOT NULL DEFAULT 0;",
    /* 5: small text state (the ETag of the last host list applied) */
    "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 6: grants of the host list refused as they stand, so that each
     * refusal is logged once, not once per round */
    "CREATE TABLE refusals (grant_key TEXT PRIMARY KEY,"
    "  reason TEXT NOT NULL, detail TEXT NOT NULL, since INTEGER NOT NULL,"
    "  seen INTEGER NOT NULL DEFAULT 1);",
    /* 7: an event the API refused for what it holds waits on its own,
     * without holding back the queue behind it */
    "ALTER TABLE events ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;",
};
#define SCHEMA_VERSION ((int) (sizeof(migrations) / sizeof(migrations[0])))

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

__attribute__((format(printf, 2, 3))) static void
set_err(struct jit_store *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

const char *
jit_store_error(const struct jit_store *s)
{
    return s->err;
}

/* SQLite result to -errno, remembering the message. */
static int
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

static int
exec(struct jit_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : sql_fail(s, rc, "sql");
}

static int
prepare(struct jit_store *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

    return rc == SQLITE_OK ? 0 : sql_fail(s, rc, "prepare");
}

/* Run a statement to completion (no rows expected). */
static int
step_done(struct jit_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "step");

    sqlite3_finalize(st);
    return ret;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return strdup(t ? (const char *) t : "");
}

/* ---- the host's own accounts, through NSS ---- */

static int
nss_name_taken(const char *name, void *ctx)
{
    struct passwd pw, *pwr = NULL;
    struct group gr, *grr = NULL;
    char buf[16384];
    int r;

    (void) ctx;
    r = getpwnam_r(name, &pw, buf, sizeof(buf), &pwr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    if (pwr != NULL)
        return 1;
    r = getgrnam_r(name, &gr, buf, sizeof(buf), &grr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    return grr != NULL;
}

static int
nss_id_taken(uint32_t id, void *ctx)
{
    struct passwd pw, *pwr = NULL;
    struct group gr, *grr = NULL;
    char buf[16384];
    int r;

    (void) ctx;
    r = getpwuid_r(id, &pw, buf, sizeof(buf), &pwr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    if (pwr != NULL)
        return 1;
    r = getgrgid_r(id, &gr, buf, sizeof(buf), &grr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    return grr != NULL;
}

static int
nss_group_gid(const char *group, uint32_t *gid, void *ctx)
{
    struct group gr, *grr = NULL;
    char buf[16384];
    int r;

    (void) ctx;
    r = getgrnam_r(group, &gr, buf, sizeof(buf), &grr);
    if (r != 0)
        return -r;
    if (grr == NULL)
        return -ENOENT;
    *gid = gr.gr_gid;
    return 0;
}

static const struct jit_store_host nss_host = { nss_name_taken, nss_id_taken,
                                                nss_group_gid, NULL };

/* ---- open, lock, snapshot ---- */

/* The state directory: ours alone to write, everyone's to search, since
 * libnss_jit in every process reads nss.db in it. */
static int
open_state_dir(const char *path, char *err, size_t errlen)
{
    struct stat st;
    int fd, created = 1;

    if (mkdir(path, 0755) < 0) {
        if (errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create: %s", path,
                     strerror(errno));
            return -errno;
        }
        created = 0;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    /* mkdir's mode went through the umask. */
    if (fd >= 0 && created && fchmod(fd, 0755) < 0) {
        snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
        close(fd);
        return -EPERM;
    }
    if (fd < 0) {
        int e = errno;

        snprintf(err, errlen, "%s: cannot open: %s", path,
                 e == ELOOP || e == ENOTDIR ? "not a directory (symlink?)"
                                            : strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid()
        || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, errlen, "%s: must be owned by uid %u and not group- "
                 "or world-writable", path, (unsigned) geteuid());
        close(fd);
        return -EPERM;
    }
    if ((st.st_mode & (S_IXGRP | S_IXOTH)) != (S_IXGRP | S_IXOTH)) {
        snprintf(err, errlen, "%s: must be searchable by everyone (0755): "
                 "libnss_jit reads nss.db in it for every user", path);
        close(fd);
        return -EPERM;
    }
    return fd;
}

static int
lock_acquire(struct jit_store *s)
{
    /* Polled, not blocking: a library cannot bound a blocking flock
     * without signals.  Writers hold the lock for a millisecond or two,
     * so the pause starts at 100 us and doubles up to 5 ms.  The wait is
     * measured on the clock, not summed from the pauses: on a busy
     * machine every pause overruns, and a summed 10 s was a minute. */
    long pause_us = 100;
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec pause = { 0, pause_us * 1000 };

        if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            set_err(s, "lock: %s", strerror(errno));
            return -errno;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000
                + (now.tv_nsec - start.tv_nsec) / 1000000
            >= JIT_STORE_LOCK_WAIT_MS)
            break;
        nanosleep(&pause, NULL);
        if (pause_us < 5000)
            pause_us *= 2;
    }
    set_err(s, "lock: another writer held the state store for %d ms",
            JIT_STORE_LOCK_WAIT_MS);
    return -ETIMEDOUT;
}

static int
migrate(struct jit_store *s)
{
    sqlite3_stmt *st = NULL;
    int version, ret;

    if ((ret = prepare(s, "PRAGMA user_version", &st)) != 0)
        return ret;
    version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0 || version > SCHEMA_VERSION) {
        set_err(s, "state store schema version %d is not one this version "
                "(%d) knows", version, SCHEMA_VERSION);
        return -EPROTO;
    }
    while (version < SCHEMA_VERSION) {
        char setv[64];

        snprintf(setv, sizeof(setv), "PRAGMA user_version = %d", version + 1);
        if ((ret = exec(s, "BEGIN IMMEDIATE")) != 0)
            return ret;
        if ((ret = exec(s, migrations[version])) != 0
            || (ret = exec(s, setv)) != 0
            || (ret = exec(s, "COMMIT")) != 0) {
            exec(s, "ROLLBACK");
            return ret;
        }
        version++;
    }
    return 0;
}

uint64_t
jit_store_generation(struct jit_store *s)
{
    sqlite3_stmt *st = NULL;
    uint64_t g = 0;

    if (prepare(s, "SELECT value FROM meta WHERE key = 'generation'", &st)
        == 0 && sqlite3_step(st) == SQLITE_ROW)
        g = (uint64_t) sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return g;
}

static uint64_t
snapshot_generation(int dirfd)
{
    struct jit_nssdb_header h;
    ssize_t r;
    int fd;

    fd = openat(dirfd, JIT_STORE_SNAPSHOT, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return UINT64_MAX;
    r = read(fd, &h, sizeof(h));
    close(fd);
    if (r != (ssize_t) sizeof(h)
        || memcmp(h.magic, JIT_NSSDB_MAGIC, sizeof(h.magic)) != 0)
        return UINT64_MAX;
    return h.generation;
}

int
jit_store_open(const struct jit_conf *conf, const struct jit_store_host *host,
               struct jit_store **out, char **errmsg)
{
    struct jit_store *s = NULL;
    char err[512] = "";
    char *path = NULL;
    int fd, rc, ret;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ret = -ENOMEM;
        snprintf(err, sizeof(err), "out of memory");
        goto done;
    }
    s->dirfd = s->lockfd = -1;
    s->conf = conf;
    s->host = host ? *host : nss_host;
    ret = open_state_dir(conf->state_dir, err, sizeof(err));
    if (ret < 0)
        goto done;
    s->dirfd = ret;
    s->lockfd = openat(s->dirfd, JIT_STORE_LOCK,
                       O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    /* The database file is created here so that it is 0600 from the
     * start; SQLite gives its journal files the same mode. */
    fd = openat(s->dirfd, JIT_STORE_DB,
                O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->lockfd < 0 || fd < 0) {
        ret = -errno;
        snprintf(err, sizeof(err), "%s: %s", conf->state_dir,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    close(fd);
    if (asprintf(&path, "%s/%s", conf->state_dir, JIT_STORE_DB) < 0) {
        path = NULL;
        ret = -ENOMEM;
        goto done;
    }
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW
                             | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ret = -EIO;
        snprintf(err, sizeof(err), "%s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto done;
    }
    sqlite3_busy_timeout(s->db, JIT_STORE_LOCK_WAIT_MS);
    /* Every login opens and closes the store.  By default the last
     * connection to close checkpoints the WAL (two fsyncs) and deletes it,
     * and the next one recreates it.  Keep the WAL instead, checkpointed
     * by a commit every WAL_CHECKPOINT_PAGES pages: small enough that
     * reading it back at the next open stays cheap.  Durability is the
     * same: synchronous = FULL syncs the WAL at every commit. */
    {
        int one = 1;

        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
        sqlite3_wal_autocheckpoint(s->db, WAL_CHECKPOINT_PAGES);
    }
    if ((ret = exec(s, "PRAGMA journal_mode = WAL")) != 0
        || (ret = exec(s, "PRAGMA synchronous = FULL")) != 0
        || (ret = exec(s, "PRAGMA foreign_keys = ON")) != 0
        /* Temporary tables and spilled statement journals in memory: on
         * disk they would go where SQLITE_TMPDIR says, which a setuid
         * caller's user sets (glibc drops TMPDIR for them, not that). */
        || (ret = exec(s, "PRAGMA temp_store = MEMORY")) != 0
        || (ret = lock_acquire(s)) != 0) {
        snprintf(err, sizeof(err), "%s", s->err);
        goto done;
    }
    ret = migrate(s);
    flock(s->lockfd, LOCK_UN);
    if (ret != 0) {
        snprintf(err, sizeof(err), "%s: %s", path, s->err);
        goto done;
    }
    /* A crash between commit and rename left an older snapshot. */
    if (snapshot_generation(s->dirfd) != jit_store_generation(s)) {
        if ((ret = jit_store_begin(s)) == 0)
            s->nss_dirty = 1;
        if (ret != 0 || (ret = jit_store_commit(s)) != 0) {
            snprintf(err, sizeof(err), "%s: re-deriving the snapshot: %s",
                     conf->state_dir, s->err);
            goto done;
        }
    }
    *out = s;
    s = NULL;
    ret = 0;

done:
    if (ret != 0 && errmsg != NULL)
        *errmsg = strdup(err[0] ? err : strerror(-ret));
    free(path);
    jit_store_close(s);
    return ret;
}

void
jit_store_close(struct jit_store *s)
{
    if (s == NULL)
        return;
    if (s->in_txn)
        jit_store_rollback(s);
    sqlite3_close_v2(s->db);
    if (s->lockfd >= 0)
        close(s->lockfd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s);
}

int
jit_store_begin(struct jit_store *s)
{
    int ret;

    if (s->in_txn) {
        set_err(s, "transaction already open");
        return -EINVAL;
    }
    if ((ret = lock_acquire(s)) != 0)
        return ret;
    if ((ret = exec(s, "BEGIN IMMEDIATE")) != 0) {
        flock(s->lockfd, LOCK_UN);
        return ret;
    }
    s->in_txn = 1;
    s->alloc_hint = 0;
    s->nss_dirty = 0;
    s->events_added = 0;
    return 0;
}

void
jit_store_rollback(struct jit_store *s)
{
    if (!s->in_txn)
        return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    unlinkat(s->dirfd, JIT_STORE_SNAPSHOT ".new", 0);
    flock(s->lockfd, LOCK_UN);
    s->in_txn = 0;
}

/* Load every account with its groups; used by the snapshot and by list. */
static int
load_accounts(struct jit_store *s, const char *where_name,
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
                        " sessions, rebound, failures, retry_at FROM accounts"
                        " WHERE name = ?1"
                      /* (two statements: "?1 IS NULL OR name = ?1" would
                       * scan the table for every single lookup) */
                      : "SELECT name, uid, gid, gecos, home, shell, grant_id,"
                        " requester, credential, state, created, expires,"
                        " sessions, rebound, failures, retry_at FROM accounts"
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
    sqlite3_finalize(gs);
    sqlite3_finalize(st);
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
        if ((ret = exec(s, "COMMIT")) == 0) {
            s->in_txn = 0;
            committed = 1;
            flock(s->lockfd, LOCK_UN);
        }
        goto done;
    }
    ret = exec(s, "UPDATE meta SET value = value + 1"
                  " WHERE key = 'generation'");
    if (ret != 0)
        goto done;
    if ((ret = load_accounts(s, NULL, &accts, &n)) != 0)
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
    }
    ret = jit_nssdb_build(rows, n, s->conf->uid_min, s->conf->uid_max,
                          jit_store_generation(s), (int64_t) time(NULL),
                          &img);
    if (ret != 0) {
        set_err(s, "snapshot: the store holds a row the snapshot refuses "
                "(%s)", strerror(-ret));
        goto done;
    }
    ret = jit_file_stage(s->dirfd, JIT_STORE_SNAPSHOT ".new", img.data,
                         img.len, 0644);
    if (ret != 0) {
        set_err(s, "snapshot: %s", strerror(-ret));
        goto done;
    }
    if ((ret = exec(s, "COMMIT")) != 0)
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
    jit_nssdb_image_free(&img);
    free(rows);
    jit_accounts_free(accts, n);
    return ret;
}

static int need_txn(struct jit_store *s);

int
jit_store_savepoint(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "SAVEPOINT one");
}

void
jit_store_savepoint_end(struct jit_store *s, int keep)
{
    if (!s->in_txn)
        return;
    if (!keep)
        sqlite3_exec(s->db, "ROLLBACK TO one", NULL, NULL, NULL);
    sqlite3_exec(s->db, "RELEASE one", NULL, NULL, NULL);
}

/* ---- writes ---- */

static int
need_txn(struct jit_store *s)
{
    if (s->in_txn)
        return 0;
    set_err(s, "write outside a transaction");
    return -EINVAL;
}

int
jit_store_put_grant(struct jit_store *s, const struct jit_grant *g)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, "INSERT INTO grants (id, credential, requester,"
                     " username, host, reason, status, on_logout, not_before,"
                     " expires_at, updated)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,strftime('%s','now'))"
                     " ON CONFLICT (id) DO UPDATE SET"
                     " credential = excluded.credential,"
                     " requester = excluded.requester,"
                     " username = excluded.username, host = excluded.host,"
                     " reason = excluded.reason, status = excluded.status,"
                     " on_logout = excluded.on_logout,"
                     " not_before = excluded.not_before,"
                     " expires_at = excluded.expires_at,"
                     " updated = excluded.updated", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->credential, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, g->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, g->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, g->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, g->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, g->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, g->on_logout, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, g->not_before);
    sqlite3_bind_int64(st, 10, g->expires_at);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    /* The grant's lists are replaced whole by its latest version. */
    if ((ret = prepare(s, "DELETE FROM grant_groups WHERE grant_id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    if ((ret = prepare(s, "DELETE FROM grant_ssh_keys WHERE grant_id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    for (size_t i = 0; i < g->n_groups; i++) {
        if ((ret = prepare(s, "INSERT OR IGNORE INTO grant_groups VALUES (?,?)",
                           &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g->groups[i], -1, SQLITE_STATIC);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    for (size_t i = 0; i < g->n_ssh_keys; i++) {
        if ((ret = prepare(s, "INSERT INTO grant_ssh_keys VALUES (?,?,?)",
                           &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) i);
        sqlite3_bind_text(st, 3, g->ssh_keys[i], -1, SQLITE_STATIC);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    return 0;
}

/* The lowest id >= from that no account holds and that is not in
 * quarantine: one indexed query, whatever the number of ids in use (the
 * candidates are `from` and the id after each one in use). */
static int
next_unused_id(struct jit_store *s, uint32_t from, int64_t since,
               uint32_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    ret = prepare(s,
                  "WITH cand(c) AS (SELECT ?1 UNION ALL"
                  "  SELECT uid + 1 FROM accounts WHERE uid >= ?1 UNION ALL"
                  "  SELECT uid + 1 FROM uid_history"
                  "   WHERE uid >= ?1 AND released > ?2)"
                  " SELECT min(c) FROM cand WHERE c <= ?3"
                  "  AND NOT EXISTS (SELECT 1 FROM accounts WHERE uid = c)"
                  "  AND NOT EXISTS (SELECT 1 FROM uid_history"
                  "   WHERE uid = c AND released > ?2)", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, s->conf->uid_max);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        ret = sql_fail(s, rc, "uid lookup");
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        ret = -ENOSPC;
    else
        *out = (uint32_t) sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return ret;
}

/* The lowest id of the range that no account holds, that is out of
 * quarantine, and that no other source on the host owns.  Within one
 * transaction ids only grow, so a batch (sync) starts after the last. */
static int
allocate_id(struct jit_store *s, int64_t now, uint32_t *out)
{
    const struct jit_conf *c = s->conf;
    int64_t since = now - (int64_t) c->uid_quarantine;
    uint32_t id = s->alloc_hint > c->uid_min ? s->alloc_hint : c->uid_min;
    int ret;

    while (id <= c->uid_max) {
        if ((ret = next_unused_id(s, id, since, &id)) == -ENOSPC)
            break;
        if (ret != 0)
            return ret;
        if (jit_id_check(id, c->uid_min, c->uid_max) == 0) {
            ret = s->host.id_taken(id, s->host.ctx);
            if (ret < 0) {
                set_err(s, "uid %u: cannot tell whether it is free: %s",
                        (unsigned) id, strerror(-ret));
                return ret;
            }
            if (ret == 0) {
                *out = id;
                s->alloc_hint = id + 1;
                return 0;
            }
        }
        if (id == UINT32_MAX)
            break;
        id++;
    }
    set_err(s, "no free uid in %u..%u", (unsigned) c->uid_min,
            (unsigned) c->uid_max);
    return -ENOSPC;
}

static int
on_list(const struct jit_list *l, const char *item)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], item) == 0)
            return 1;
    return 0;
}

/* The gids of the grant's groups, each of which must be allow-listed and
 * resolvable on this host to an id we may hand out. */
static int
resolve_groups(struct jit_store *s, const struct jit_grant *g, uint32_t **out)
{
    uint32_t *gids = calloc(g->n_groups ? g->n_groups : 1, sizeof(*gids));
    int ret = 0;

    *out = NULL;
    if (gids == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < g->n_groups; i++) {
        if (!on_list(&s->conf->allowed_groups, g->groups[i])) {
            set_err(s, "group %s is not in allowed_groups", g->groups[i]);
            ret = -EPERM;
            goto done;
        }
        ret = s->host.group_gid(g->groups[i], &gids[i], s->host.ctx);
        if (ret != 0 || jit_nssdb_id_forbidden(gids[i])) {
            set_err(s, "group %s: %s", g->groups[i],
                    ret ? "not found on this host" : "has a forbidden gid");
            ret = ret ? ret : -EPERM;
            goto done;
        }
    }
    *out = gids;
    gids = NULL;

done:
    free(gids);
    return ret;
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
    if ((ret = resolve_groups(s, g, &gids)) != 0)
        goto done;
    if ((ret = allocate_id(s, now, &uid)) != 0)
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
    /* Once active, the account's next opening is no longer a re-enable. */
    ret = prepare(s, "UPDATE accounts SET state = ?1, rebound = CASE"
                     " WHEN ?1 = 'active' THEN 0 ELSE rebound END"
                     " WHERE name = ?2", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, jit_account_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return change_one(s, st);
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
    if ((ret = prepare(s, "DELETE FROM accounts WHERE name = ?", &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return change_one(s, st);
}

int
jit_store_add_event(struct jit_store *s, const char *type, const char *grant,
                    const char *username, const char *requester,
                    const char *detail, int64_t now)
{
    unsigned char rnd[16];
    char id[40];
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    /* Random ids: the API de-duplicates redeliveries by id. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
        return -EIO;
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    ret = prepare(s, "INSERT INTO events (id, type, time, grant_id, username,"
                     " requester, detail) VALUES (?,?,?,?,?,?,?)", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, grant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) == 0)
        s->events_added = 1;
    return ret;
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
    if ((ret = resolve_groups(s, g, &gids)) != 0)
        goto done;
    s->nss_dirty = 1; /* expiry (shadow) and groups */
    /* A new grant makes the account reserved (and re-enabled) until its
     * next session; the same grant with a new end only moves the end.
     * (SET expressions all see the row as it was.) */
    ret = prepare(s, "UPDATE accounts SET grant_id = ?1, expires = ?2,"
                     " rebound = CASE WHEN grant_id = ?1 THEN rebound"
                     "  ELSE 1 END,"
                     " state = CASE WHEN grant_id = ?1 THEN state"
                     "  ELSE 'reserved' END"
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

int
jit_store_add_sessions(struct jit_store *s, const char *name, int delta,
                       uint32_t *after)
{
    sqlite3_stmt *st = NULL;
    int ret, rc;

    if ((ret = need_txn(s)) != 0)
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
    sqlite3_finalize(st);
    return ret;
}

int
jit_store_get_grant(struct jit_store *s, const char *id, struct jit_grant *g)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    memset(g, 0, sizeof(*g));
    ret = prepare(s, "SELECT id, credential, requester, username, host,"
                     " reason, status, on_logout, not_before, expires_at"
                     " FROM grants WHERE id = ?", &st);
    if (ret != 0)
        goto done;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = -ENOENT;
        goto done;
    }
    if (rc != SQLITE_ROW) {
        ret = sql_fail(s, rc, "grant");
        goto done;
    }
    g->id = col_dup(st, 0);
    g->credential = col_dup(st, 1);
    g->requester = col_dup(st, 2);
    g->username = col_dup(st, 3);
    g->host = col_dup(st, 4);
    g->reason = col_dup(st, 5);
    g->status = col_dup(st, 6);
    g->on_logout = col_dup(st, 7);
    g->not_before = sqlite3_column_int64(st, 8);
    g->expires_at = sqlite3_column_int64(st, 9);
    if (!g->id || !g->credential || !g->requester || !g->username
        || !g->host || !g->reason || !g->status || !g->on_logout) {
        ret = -ENOMEM;
        goto done;
    }
    sqlite3_finalize(st);
    ret = prepare(s, "SELECT key FROM grant_ssh_keys WHERE grant_id = ?"
                     " ORDER BY pos", &st);
    if (ret != 0)
        goto done;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nk = realloc(g->ssh_keys, (g->n_ssh_keys + 1) * sizeof(*nk));

        if (nk == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        g->ssh_keys = nk;
        if ((nk[g->n_ssh_keys] = col_dup(st, 0)) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        g->n_ssh_keys++;
    }
    if (rc != SQLITE_DONE)
        ret = sql_fail(s, rc, "grant keys");

done:
    sqlite3_finalize(st);
    if (ret != 0)
        jit_grant_free(g);
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
    sqlite3_finalize(st);
    if (ret == 0)
        ret = name ? jit_store_get_account(s, name, out) : -ENOMEM;
    free(name);
    return ret;
}

int
jit_store_due_events(struct jit_store *s, int64_t now, size_t limit,
                     struct jit_event **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct jit_event *v = NULL;
    size_t cnt = 0;
    int rc, ret;

    *out = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    /* A queue, in the order the events were added (rowid; their times
     * are whole seconds, and the clock can step back): the oldest first,
     * and none before an older one that waits for its retry.  (A new
     * event is due at once, so by its own next_attempt it would overtake
     * the failed ones: an account.deleted delivered before its
     * account.created.) */
    ret = prepare(s, "SELECT id, type, time, grant_id, username, requester,"
                     " detail, attempts FROM events WHERE rowid < coalesce("
                     "(SELECT min(rowid) FROM events WHERE next_attempt > ?1"
                     "  AND refused = 0), 9223372036854775807)"
                     " AND next_attempt <= ?1 ORDER BY rowid LIMIT ?2", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) limit);
    if ((v = calloc(limit, sizeof(*v))) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && cnt < limit) {
        struct jit_event *e = &v[cnt++];

        e->id = col_dup(st, 0);
        e->type = col_dup(st, 1);
        e->time = sqlite3_column_int64(st, 2);
        e->grant = sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL
                                                             : col_dup(st, 3);
        e->username = sqlite3_column_type(st, 4) == SQLITE_NULL
                          ? NULL : col_dup(st, 4);
        e->requester = sqlite3_column_type(st, 5) == SQLITE_NULL
                           ? NULL : col_dup(st, 5);
        e->detail = sqlite3_column_type(st, 6) == SQLITE_NULL ? NULL
                                                              : col_dup(st, 6);
        e->attempts = sqlite3_column_int(st, 7);
        if (!e->id || !e->type) {
            ret = -ENOMEM;
            goto done;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "events");
        goto done;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    cnt = 0;

done:
    sqlite3_finalize(st);
    jit_events_free(v, cnt);
    return ret;
}

int
jit_store_events_settle(struct jit_store *s, const struct jit_event *v,
                        size_t n, int delivered, int64_t next_attempt)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    for (size_t i = 0; i < n; i++) {
        ret = prepare(s, delivered ? "DELETE FROM events WHERE id = ?1"
                                   : "UPDATE events SET attempts = attempts"
                                     " + 1, next_attempt = ?2 WHERE id = ?1",
                      &st);
        if (ret != 0)
            return ret;
        sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
        if (!delivered)
            sqlite3_bind_int64(st, 2, next_attempt);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    return 0;
}

void
jit_events_free(struct jit_event *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].type);
        free(v[i].grant);
        free(v[i].username);
        free(v[i].requester);
        free(v[i].detail);
    }
    free(v);
}

int
jit_store_set_grant_status(struct jit_store *s, const char *id,
                           const char *status)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, "UPDATE grants SET status = ?, updated ="
                     " strftime('%s','now') WHERE id = ?", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0) {
        set_err(s, "no such grant");
        ret = -ENOENT;
    }
    return ret;
}

int
jit_store_revoke_locally(struct jit_store *s, const char *grant_id,
                         const char *reason, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, "INSERT OR REPLACE INTO local_revocations VALUES (?,?,?)",
                  &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, grant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    ret = jit_store_set_grant_status(s, grant_id, "revoked");
    return ret == -ENOENT ? 0 : ret;
}

int
jit_store_revoked_locally(struct jit_store *s, const char *grant_id)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = prepare(s, "SELECT 1 FROM local_revocations WHERE grant_id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, grant_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "revocations");
    sqlite3_finalize(st);
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
jit_store_events_retry_now(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "UPDATE events SET next_attempt = 0");
}

int
jit_store_events_trim(struct jit_store *s, int64_t keep, int64_t *dropped)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *dropped = 0;
    if ((ret = need_txn(s)) != 0)
        return ret;
    /* Only what is about sessions and refusals; account events stay. */
    ret = prepare(s, "DELETE FROM events WHERE rowid IN (SELECT rowid FROM"
                     " events WHERE type IN ('login.denied', 'session.opened',"
                     " 'session.closed') ORDER BY time, rowid LIMIT max(0,"
                     " (SELECT count(*) FROM events) - ?))", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, keep);
    if ((ret = step_done(s, st)) == 0)
        *dropped = sqlite3_changes(s->db);
    return ret;
}

int
jit_store_kv_put(struct jit_store *s, const char *key, const char *value)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, value ? "INSERT OR REPLACE INTO kv VALUES (?, ?)"
                           : "DELETE FROM kv WHERE key = ?", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int
jit_store_kv_get(struct jit_store *s, const char *key, char **value)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    *value = NULL;
    if ((ret = prepare(s, "SELECT value FROM kv WHERE key = ?", &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        ret = (*value = col_dup(st, 0)) ? 0 : -ENOMEM;
    else
        ret = rc == SQLITE_DONE ? -ENOENT : sql_fail(s, rc, "kv");
    sqlite3_finalize(st);
    return ret;
}

void
jit_store_touch_snapshot(struct jit_store *s)
{
    if (s->in_txn)
        s->nss_dirty = 1;
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
                  "  ELSE 'expired' END"
                  " FROM accounts a LEFT JOIN grants g ON g.id = a.grant_id"
                  " WHERE a.state = 'tearing_down'"
                  "  OR (a.state = 'disable_failed' AND a.retry_at <= ?1)"
                  "  OR (a.state IN ('reserved', 'active')"
                  "      AND (a.expires <= ?1"
                  "           OR g.status IN ('revoked', 'expired')"
                  "           OR g.expires_at <= ?1))"
                  " ORDER BY a.uid", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct jit_due *nv = realloc(v, ncap * sizeof(*nv));

            if (nv == NULL) {
                ret = -ENOMEM;
                goto done;
            }
            v = nv;
            cap = ncap;
        }
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
    sqlite3_finalize(st);
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
    sqlite3_finalize(st);
    return next;
}

/* ---- reads ---- */

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
    if ((ret = load_accounts(s, name, &v, &n)) != 0)
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
    return load_accounts(s, NULL, out, n);
}

int
jit_store_count_events(struct jit_store *s, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = prepare(s, "SELECT count(*) FROM events", &st)) != 0)
        return ret;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        ret = sql_fail(s, rc, "events");
    sqlite3_finalize(st);
    return ret;
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
jit_store_refusals_round(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "UPDATE refusals SET seen = 0");
}

int
jit_store_refusal_note(struct jit_store *s, const char *key,
                       const char *reason, const char *detail, int64_t now,
                       int64_t *since)
{
    sqlite3_stmt *st = NULL;
    int ret, rc, known = 0, seen = 0;
    int64_t first = now;

    if (detail == NULL)
        detail = "";
    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, "SELECT reason = ?2 AND detail = ?3, since, seen"
                     " FROM refusals WHERE grant_key = ?1", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        known = sqlite3_column_int(st, 0);
        first = sqlite3_column_int64(st, 1);
        seen = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_fail(s, rc, "refusals");
    /* Two entries of one key in a round (one id listed twice): the first
     * one's refusal stands, or they would re-log each other forever. */
    if (seen) {
        *since = first;
        return 0;
    }
    if (!known)
        first = now;
    ret = prepare(s, "INSERT INTO refusals (grant_key, reason, detail, since,"
                     " seen) VALUES (?1, ?2, ?3, ?4, 1)"
                     " ON CONFLICT (grant_key) DO UPDATE SET seen = 1,"
                     " since = ?4, reason = ?2, detail = ?3", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, first);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    *since = first;
    return known ? 0 : 1;
}

int
jit_store_refusal_forget(struct jit_store *s, const char *key)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    if ((ret = prepare(s, "DELETE FROM refusals WHERE grant_key = ?", &st))
        != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return step_done(s, st);
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

int
jit_store_refusals_end_round(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "DELETE FROM refusals WHERE seen = 0");
}

int
jit_store_event_refused(struct jit_store *s, const char *id,
                        int64_t next_attempt)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    if ((ret = prepare(s, "UPDATE events SET refused = 1, attempts ="
                          " attempts + 1, next_attempt = ? WHERE id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, next_attempt);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int
jit_store_events_backed_off(struct jit_store *s, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = prepare(s, "SELECT 1 FROM events WHERE next_attempt > ?"
                          " AND refused = 0 LIMIT 1", &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "events");
}

int
jit_store_wake_listen(struct jit_store *s, char *err, size_t errlen)
{
    return jit_wake_listen(s->dirfd, err, errlen);
}
