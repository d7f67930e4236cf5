/* SPDX-License-Identifier: MIT */
/*
 * The SQLite state store (see store.h for the writer discipline): opening
 * it, the writers' lock, the schema and its migrations, transactions and
 * savepoints, the key-value table.
 *
 * Times are seconds since the epoch (INTEGER); lists (grant groups, ssh
 * keys) are rows of their own, never packed strings.  The schema version
 * is PRAGMA user_version; migrations[] takes a store from any older
 * version to the current one, each step in its own transaction.
 *
 * The rest of the store, one concern a file: store_host.c (what NSS says
 * of the host's other accounts), store_snapshot.c (the commit, which
 * re-derives nss.db), store_ids.c (uid allocation and group policy),
 * store_accounts.c, store_grants.c (grants, local revocations, the
 * sync's refusals) and store_events.c (the outbox); store_impl.h is what
 * they share.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nss/nssdb_format.h"
#include "nss/nssdb_read.h"
#include "state/store.h"
#include "state/store_impl.h"
#include "state/wake.h"

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
    /* 8: account.created/enabled are queued when the account is reserved
     * or rebound, no longer at its first session: one reserved before
     * this still has its event to send at that session */
    "ALTER TABLE accounts ADD COLUMN announced INTEGER NOT NULL DEFAULT 1;"
    "UPDATE accounts SET announced = 0 WHERE state = 'reserved';",
};

#define SCHEMA_VERSION ((int) (sizeof(migrations) / sizeof(migrations[0])))

const char *
jit_store_error(const struct jit_store *s)
{
    return s->err;
}

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
     * so the pause starts at 50 us and doubles up to 1 ms: a waiter
     * notices the release within a millisecond (at 5 ms, 8 logins in
     * parallel each lost a few ms at each of their 4 transactions).  A
     * waiter still waiting after 50 ms is behind a long queue, where
     * polls every millisecond by dozens of waiters took the CPU from the
     * writer they wait for (50 logins in parallel: 1000 polls a login,
     * mean latency up by a third): its pause grows on to 5 ms.  The wait is
     * measured on the clock, not summed from the pauses: on a busy
     * machine every pause overruns, and a summed 10 s was a minute. */
    long pause_us = 50, max_us, waited_ms;
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
        waited_ms = (now.tv_sec - start.tv_sec) * 1000
                    + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited_ms >= JIT_STORE_LOCK_WAIT_MS)
            break;
        nanosleep(&pause, NULL);
        max_us = waited_ms < 50 ? 1000 : 5000;
        if (pause_us < max_us)
            pause_us = pause_us * 2 < max_us ? pause_us * 2 : max_us;
    }
    set_err(s, "lock: another writer held the state store for %d ms",
            JIT_STORE_LOCK_WAIT_MS);
    return -ETIMEDOUT;
}

/*
 * The WAL without a directory fsync per connection.  SQLite's unix VFS
 * opens the WAL with O_CREAT every time, and so fsyncs the directory at
 * the first sync of every connection, in case it created the file: one
 * of a login's five or six fsyncs.  This VFS is the unix one, except
 * that a WAL that already exists is opened without SQLITE_OPEN_CREATE,
 * and so without that fsync.  That is safe only if every existing WAL's
 * directory entry is durable: jit_store_open creates a missing WAL itself
 * and fsyncs the directory before it lets the writers' lock go
 * (wal_ensure), and every commit takes that lock, so no commit lands in
 * a WAL whose name a power loss could undo.  (A WAL that SQLite itself
 * creates, if something deleted it after that, is opened with O_CREAT
 * and fsynced as by default.)
 */
#define WAL_VFS "jit-unix"

static sqlite3_vfs wal_vfs;
static sqlite3_vfs *unix_vfs;
static pthread_once_t wal_vfs_once = PTHREAD_ONCE_INIT;
static int wal_vfs_ok;

static int
wal_vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
             int *out)
{
    int rc;

    (void) vfs;
    if ((flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_CREATE)
        && name != NULL && access(name, F_OK) == 0) {
        rc = unix_vfs->xOpen(unix_vfs, name, f, flags & ~SQLITE_OPEN_CREATE,
                             out);
        if (rc != SQLITE_CANTOPEN)
            return rc;
        /* gone meanwhile: created as by default */
    }
    return unix_vfs->xOpen(unix_vfs, name, f, flags, out);
}

static void
wal_vfs_register(void)
{
    if ((unix_vfs = sqlite3_vfs_find("unix")) == NULL)
        return;
    wal_vfs = *unix_vfs;
    wal_vfs.pNext = NULL;
    wal_vfs.zName = WAL_VFS;
    wal_vfs.xOpen = wal_vfs_open;
    wal_vfs_ok = sqlite3_vfs_register(&wal_vfs, 0) == SQLITE_OK;
}

/* The library holding this VFS may be unloaded while the process keeps
 * SQLite (jitctl at exit; pam_jit_login.so never is, doc/design.md, F7):
 * the VFS must not stay in SQLite's list. */
__attribute__((destructor)) static void
wal_vfs_unregister(void)
{
    if (wal_vfs_ok)
        sqlite3_vfs_unregister(&wal_vfs);
    wal_vfs_ok = 0;
}

/* See above: a missing WAL is created here, its directory entry made
 * durable, all under the writers' lock. */
static int
wal_ensure(struct jit_store *s)
{
    int fd, ret;

    if (faccessat(s->dirfd, JIT_STORE_DB "-wal", F_OK, AT_EACCESS) == 0)
        return 0;
    if ((ret = lock_acquire(s)) != 0)
        return ret;
    fd = openat(s->dirfd, JIT_STORE_DB "-wal",
                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    ret = 0;
    if ((fd < 0 && errno != EEXIST) || fsync(s->dirfd) < 0) {
        ret = -errno;
        set_err(s, "%s-wal: %s", JIT_STORE_DB, strerror(errno));
    }
    flock(s->lockfd, LOCK_UN);
    return ret;
}

static int
migrate(struct jit_store *s)
{
    sqlite3_stmt *st = NULL;
    int version, ret;

    if ((ret = prepare(s, "PRAGMA user_version", &st)) != 0)
        return ret;
    version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    finish(s, st);
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
    finish(s, st);
    return g;
}

/* The generation of the snapshot on disk, if the whole of it validates
 * as every reader validates it (owner, mode, size, magic, version,
 * checksum, every offset and index); UINT64_MAX otherwise, which no store
 * generation equals.  Its file is written without an fsync (doc/design.md,
 * S26): after a power loss it may be empty or torn while its header still
 * reads well, so the header alone would not do. */
static uint64_t
snapshot_generation(int dirfd)
{
    struct jit_nssdb db;
    struct stat st;
    void *image = MAP_FAILED;
    uint64_t g = UINT64_MAX;
    int fd;

    fd = openat(dirfd, JIT_STORE_SNAPSHOT, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return UINT64_MAX;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
        || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0
        || st.st_size < (off_t) sizeof(struct jit_nssdb_header)
        || st.st_size > (off_t) JIT_NSSDB_MAX_SIZE)
        goto done;
    image = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    /* (An older format fails to parse too: it is re-derived.) */
    if (image != MAP_FAILED
        && jit_nssdb_parse(image, (size_t) st.st_size, &db) == 0)
        g = db.hdr.generation;

done:
    if (image != MAP_FAILED)
        munmap(image, (size_t) st.st_size);
    close(fd);
    return g;
}

/* In WAL mode at the current schema version already?  The mode is read
 * from the database file's header (bytes 18 and 19 are 2 once WAL mode
 * is set, written to the file itself, never only to the WAL, and never
 * undone by us); the version through SQLite, which reads the WAL too.
 * Any doubt (a new, empty or short file, an older schema, an error)
 * answers no: the caller then takes the writer lock as before. */
static int
store_ready(struct jit_store *s)
{
    unsigned char h[100];
    sqlite3_stmt *st = NULL;
    int fd, version = -1;
    ssize_t r;

    fd = openat(s->dirfd, JIT_STORE_DB, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    r = pread(fd, h, sizeof(h), 0);
    close(fd);
    if (r != (ssize_t) sizeof(h) || h[18] != 2 || h[19] != 2)
        return 0;
    if (prepare(s, "PRAGMA user_version", &st) != 0)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    finish(s, st);
    return version == SCHEMA_VERSION;
}

/* Exactly one statement, nothing after it but blanks: what prepare
 * gives back runs the whole of its text (exec runs several), and an
 * empty text is not a statement. */
static int
one_statement(sqlite3_stmt *st, const char *tail)
{
    if (st == NULL)
        return 0;
    while (tail != NULL && (*tail == ' ' || *tail == '\t' || *tail == '\n'
                            || *tail == ';'))
        tail++;
    return tail == NULL || *tail == '\0';
}

/* The cache is filled by the store's own SQL, all of it constant text
 * (about fifty of them): nothing is evicted, and a text past the 64th is
 * prepared and finalized each time, as before the cache. */
int
jit_store_stmt_get(struct jit_store *s, const char *sql, sqlite3_stmt **st)
{
    struct jit_store_stmt *slot = NULL;
    const char *tail = NULL;
    int rc;

    *st = NULL;
    for (size_t i = 0; i < s->n_stmts; i++)
        if (strcmp(s->stmts[i].sql, sql) == 0) {
            if (!s->stmts[i].busy) {
                s->stmts[i].busy = 1;
                *st = s->stmts[i].st;
                return 0;
            }
            /* In use further up the stack: a statement of its own. */
            goto uncached;
        }
    if (s->n_stmts < JIT_STORE_STMTS)
        slot = &s->stmts[s->n_stmts];
    if (slot != NULL && (slot->sql = strdup(sql)) != NULL) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &slot->st, &tail);
        if (rc != SQLITE_OK || !one_statement(slot->st, tail)) {
            sqlite3_finalize(slot->st);
            free(slot->sql);
            slot->sql = NULL;
            slot->st = NULL;
            if (rc != SQLITE_OK)
                return sql_fail(s, rc, "prepare");
            set_err(s, "prepare: not one statement: %.80s", sql);
            return -EINVAL;
        }
        slot->busy = 1;
        s->n_stmts++;
        *st = slot->st;
        return 0;
    }

uncached:
    rc = sqlite3_prepare_v2(s->db, sql, -1, st, &tail);
    if (rc != SQLITE_OK)
        return sql_fail(s, rc, "prepare");
    if (!one_statement(*st, tail)) {
        sqlite3_finalize(*st);
        *st = NULL;
        set_err(s, "prepare: not one statement: %.80s", sql);
        return -EINVAL;
    }
    return 0;
}

/* Reset, not finalized, if it is the cache's: what it read is gone, what
 * it bound is cleared, and the read lock it held is let go as finalizing
 * would. */
void
jit_store_stmt_put(struct jit_store *s, sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < s->n_stmts; i++)
        if (s->stmts[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->stmts[i].busy = 0;
            return;
        }
    sqlite3_finalize(st);
}

void
jit_store_stmts_free(struct jit_store *s)
{
    for (size_t i = 0; i < s->n_stmts; i++) {
        sqlite3_finalize(s->stmts[i].st);
        free(s->stmts[i].sql);
    }
    s->n_stmts = 0;
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void) db;
    (void) name;
    ((struct jit_store *) arg)->wal_frames = frames;
    return SQLITE_OK;
}

/* PASSIVE: it copies what no reader still needs and waits on no one;
 * SQLite's own checkpoint lock keeps two from running at once, and a
 * writer meanwhile appends to the WAL as usual.  What it could not copy
 * waits for the next one.  Its failure loses nothing (the WAL holds the
 * commits), so it is not reported. */
void
jit_store_checkpoint_if_due(struct jit_store *s)
{
    if (s->wal_frames < WAL_CHECKPOINT_PAGES)
        return;
    s->wal_frames = 0;
    sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
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
    s->host = host ? *host : jit_store_nss_host;
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
    if ((ret = wal_ensure(s)) != 0) {
        snprintf(err, sizeof(err), "%s: %s", conf->state_dir, s->err);
        goto done;
    }
    pthread_once(&wal_vfs_once, wal_vfs_register);
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW
                             | SQLITE_OPEN_FULLMUTEX,
                         wal_vfs_ok ? WAL_VFS : NULL);
    if (rc != SQLITE_OK) {
        ret = -EIO;
        snprintf(err, sizeof(err), "%s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto done;
    }
    sqlite3_busy_timeout(s->db, JIT_STORE_LOCK_WAIT_MS);
    /* Every login opens and closes the store.  By default the last
     * connection to close checkpoints the WAL (two fsyncs) and deletes it,
     * and the next one recreates it.  Keep the WAL instead.  It is kept
     * short (WAL_CHECKPOINT_PAGES, a login writes about 70 frames): a
     * process that opens the store with no other connection open (every
     * login, unless jitctl daemon holds it open) rebuilds the WAL index
     * by reading every frame of it (1000 pages made that 500 reads a
     * login).  By default a commit that finds it long checkpoints inside
     * the COMMIT, under the writers' lock, where the other writers wait
     * on its two fsyncs: the WAL hook only notes its length here, and the
     * commit checkpoints after it let the lock go
     * (jit_store_checkpoint_if_due).  Durability is the same:
     * synchronous = FULL syncs the WAL at every commit. */
    {
        int one = 1;

        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
        sqlite3_wal_hook(s->db, wal_hook, s);
    }
    /* The connection's own settings: no lock needed. */
    if ((ret = exec(s, "PRAGMA synchronous = FULL")) != 0
        || (ret = exec(s, "PRAGMA foreign_keys = ON")) != 0
        /* Temporary tables and spilled statement journals in memory: on
         * disk they would go where SQLITE_TMPDIR says, which a setuid
         * caller's user sets (glibc drops TMPDIR for them, not that). */
        || (ret = exec(s, "PRAGMA temp_store = MEMORY")) != 0) {
        snprintf(err, sizeof(err), "%s", s->err);
        goto done;
    }
    /* A store already in WAL mode at the current schema needs nothing
     * written to open: the login that only reads takes no writer lock.
     * Otherwise the writer lock first: on a new, empty
     * database the first connection to set WAL mode needs SQLite's
     * exclusive lock, and the others racing it get SQLITE_BUSY at once,
     * without the busy handler (16 threads creating the store together:
     * 1 round in 10 refused a login).  Under the lock they wait their turn
     * as every writer does, and find the mode already set. */
    if (!store_ready(s)) {
        if ((ret = lock_acquire(s)) != 0) {
            snprintf(err, sizeof(err), "%s", s->err);
            goto done;
        }
        if ((ret = exec(s, "PRAGMA journal_mode = WAL")) == 0)
            ret = migrate(s);
        flock(s->lockfd, LOCK_UN);
        if (ret != 0) {
            snprintf(err, sizeof(err), "%s: %s", path, s->err);
            goto done;
        }
    }
    /* A crash between commit and rename left an older snapshot; a power
     * loss, an empty or torn one (it is not fsynced): either is re-derived
     * here, before this open answers (doc/design.md, S26). */
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
    jit_store_stmts_free(s);
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
    if ((ret = exec1(s, "BEGIN IMMEDIATE")) != 0) {
        flock(s->lockfd, LOCK_UN);
        return ret;
    }
    s->in_txn = 1;
    s->alloc_hint = 0;
    s->nss_dirty = 0;
    s->events_added = 0;
    return 0;
}

int
jit_store_read_begin(struct jit_store *s)
{
    if (s->in_txn) {
        set_err(s, "transaction already open");
        return -EINVAL;
    }
    return exec1(s, "BEGIN DEFERRED");
}

void
jit_store_read_end(struct jit_store *s)
{
    if (!s->in_txn && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
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
    finish(s, st);
    return ret;
}

int
jit_store_dirfd(const struct jit_store *s)
{
    return s->dirfd;
}

static int
uid_lock(struct jit_store *s, uint32_t uid, short type)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t) uid;
    fl.l_len = 1;
    if (fcntl(s->lockfd, F_OFD_SETLK, &fl) == 0)
        return 0;
    return errno == EAGAIN || errno == EACCES ? -EALREADY : -errno;
}

int
jit_store_claim_uid(struct jit_store *s, uint32_t uid)
{
    int ret = uid_lock(s, uid, F_WRLCK);

    if (ret != 0 && ret != -EALREADY)
        set_err(s, "claim of uid %u: %s", (unsigned) uid, strerror(-ret));
    return ret;
}

void
jit_store_release_uid(struct jit_store *s, uint32_t uid)
{
    (void) uid_lock(s, uid, F_UNLCK);
}

int
jit_store_wake_listen(struct jit_store *s, char *err, size_t errlen)
{
    return jit_wake_listen(s->dirfd, err, errlen);
}
