/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the state store (lib/state/store*.c): schema, reservation rules
 * (doc/design.md, threats C2, C3, C4, C5), one transaction per write,
 * the snapshot derived with every commit, and recovery of a snapshot
 * left behind.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nss/nssdb_read.h"
#include "state/store.h"
#include "state/store_impl.h"
#include "testlib.h"

/* The grant struct owns its strings; tests lend it literals. */
#define S(x) ((char *) (uintptr_t) (x))

static char *dir, *state;
static struct jit_conf conf;
static struct jit_store *store;

/* The "rest of the host": owns name "taken", uid 70001, and knows groups
 * sudo (27) and video (44); "rootish" resolves to gid 0. */
static int
fake_name_taken(const char *name, void *ctx)
{
    (void) ctx;
    return strcmp(name, "taken") == 0;
}

static int
fake_id_taken(uint32_t id, void *ctx)
{
    (void) ctx;
    return id == 70001;
}

static int
fake_group_gid(const char *g, uint32_t *gid, void *ctx)
{
    (void) ctx;
    if (strcmp(g, "sudo") == 0)
        *gid = 27;
    else if (strcmp(g, "video") == 0)
        *gid = 44;
    else if (strcmp(g, "rootish") == 0)
        *gid = 0;
    else
        return -ENOENT;
    return 0;
}

static const struct jit_store_host fake_host = {
    fake_name_taken, fake_id_taken, fake_group_gid, NULL, NULL
};

static void
open_store(void)
{
    char *why = NULL;
    int r = jit_store_open(&conf, &fake_host, &store, &why);

    ck_assert_msg(r == 0, "open: %s", why ? why : "?");
}

static void
setup(void)
{
    struct jit_errs errs = { NULL, 0 };
    char *text = NULL;

    dir = t_mkdtemp();
    state = t_path(dir, "state");
    ck_assert_int_eq(jit_conf_init(&conf), 0);
    ck_assert_int_ge(asprintf(&text, "api_url = https://jit.test\n"
                                     "host = web01\nstate_dir = %s\n"
                                     "allowed_groups = sudo,video,rootish\n"
                                     "uid_quarantine = 3600\n", state), 0);
    ck_assert_uint_eq(jit_conf_parse_buffer(&conf, "t", text, strlen(text),
                                            &errs), 0);
    ck_assert_uint_eq(jit_conf_finish(&conf, "t", &errs), 0);
    free(text);
    open_store();
}

static void
teardown(void)
{
    jit_store_close(store);
    jit_conf_free(&conf);
    t_rmtree(dir);
    free(state);
    free(dir);
}

static struct jit_grant
grant(const char *id, const char *user, const char *requester,
      const char *credential)
{
    static char *groups[] = { S("sudo"), S("video") };
    struct jit_grant g;

    memset(&g, 0, sizeof(g));
    g.id = (char *) id;
    g.credential = (char *) credential;
    g.requester = (char *) requester;
    g.username = (char *) user;
    g.host = S("web01");
    g.reason = S("INC-1 test");
    g.status = S("active");
    g.on_logout = S("keep");
    g.groups = groups;
    g.n_groups = 2;
    g.not_before = 1000;
    g.expires_at = 1700003600;
    return g;
}

/* Reserve in one transaction; returns the reserve result. */
static int
reserve(struct jit_grant *g, int64_t now, uint32_t *uid)
{
    struct jit_account a;
    int r;

    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_put_grant(store, g), 0);
    r = jit_store_reserve(store, g, now, &a);
    if (r == 0) {
        ck_assert_int_eq(jit_store_commit(store), 0);
        if (uid)
            *uid = a.uid;
        jit_account_free(&a);
    } else {
        jit_store_rollback(store);
    }
    return r;
}

static const struct jit_nssdb_passwd *
snapshot_lookup(struct jit_nssdb *db, const char *name)
{
    char *p = t_path(state, "nss.db");
    struct stat st;

    ck_assert_int_eq(jit_nssdb_map(p, geteuid(), db, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);
    free(p);
    return jit_nssdb_pw_byname(db, name);
}

START_TEST(test_layout_and_modes)
{
    struct stat st;
    struct jit_store *s2 = NULL;
    char *p, *why = NULL, *fresh = t_path(dir, "fresh");
    mode_t old = umask(077);

    /* Created under a strict umask, the directory is still 0755. */
    free(conf.state_dir);
    conf.state_dir = fresh;
    ck_assert_int_eq(jit_store_open(&conf, &fake_host, &s2, &why), 0);
    umask(old);
    ck_assert_int_eq(stat(fresh, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    jit_store_close(s2);

    ck_assert_int_eq(stat(state, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    p = t_path(state, "state.db");
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    free(p);
    p = t_path(state, "lock");
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    free(p);
    /* The first open derived an (empty) snapshot. */
    p = t_path(state, "nss.db");
    ck_assert_int_eq(stat(p, &st), 0);
    free(p);
}
END_TEST

START_TEST(test_reserve_and_snapshot)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    const struct jit_nssdb_passwd *pw;
    struct jit_nssdb db;
    struct jit_account a;
    uint64_t gen = jit_store_generation(store);
    uint32_t uid = 0;

    ck_assert_int_eq(reserve(&g, 5000, &uid), 0);
    ck_assert_uint_eq(uid, 70000);
    ck_assert_uint_eq(jit_store_generation(store), gen + 1);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
    ck_assert_str_eq(a.home, "/home/jit/alice");
    ck_assert_str_eq(a.shell, "/bin/bash");
    ck_assert_str_eq(a.requester, "alice@EXAMPLE.COM");
    ck_assert_int_eq(a.state, JIT_ACCOUNT_RESERVED);
    ck_assert_uint_eq(a.n_groups, 2);
    ck_assert_uint_eq(a.gids[0], 27);
    ck_assert_uint_eq(a.gids[1], 44);
    jit_account_free(&a);

    pw = snapshot_lookup(&db, "alice");
    ck_assert_ptr_nonnull(pw);
    ck_assert_uint_eq(pw->uid, 70000);
    ck_assert_uint_eq(db.hdr.generation, gen + 1);
    ck_assert_uint_eq(pw->gids_count, 2);
    jit_nssdb_unmap(&db);

    /* uid 70001 belongs to another source: skipped. */
    g = grant("g-2", "bob", "bob@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 5000, &uid), 0);
    ck_assert_uint_eq(uid, 70002);
}
END_TEST

START_TEST(test_reserve_refusals)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    static char *bad_groups[] = { S("docker") };
    static char *root_groups[] = { S("rootish") };
    static char *gone_groups[] = { S("nosuch") };

    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    /* Same name again. */
    g = grant("g-2", "alice", "carol@EXAMPLE.COM", "web");
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EEXIST);
    /* Same requester, same credential: one account only. */
    g = grant("g-3", "alice2", "alice@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EEXIST);
    ck_assert_ptr_nonnull(strstr(jit_store_error(store), "already holds"));
    /* Same credential, another requester: an independent account. */
    g = grant("g-4", "dave", "dave@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    /* A name another source owns (doc/design.md, threat C3). */
    g = grant("g-5", "taken", "erin@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EEXIST);
    /* Bad names (doc/design.md, threat C1). */
    g = grant("g-6", "0day", "erin@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EINVAL);
    g = grant("g-6", "root", "erin@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EINVAL);
    /* Groups off the allow-list, with gid 0, or unknown (doc/design.md,
     * threat C4). */
    g = grant("g-7", "erin", "erin@EXAMPLE.COM", "db");
    g.groups = bad_groups;
    g.n_groups = 1;
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EPERM);
    g.groups = root_groups;
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EPERM);
    g.groups = gone_groups;
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EPERM);
    /* What the snapshot could not hold (the gecos is "JIT <credential>")
     * is refused at reserve time, not at commit. */
    g = grant("g-8", "frank", "frank@EXAMPLE.COM", "db:admin");
    ck_assert_int_eq(reserve(&g, 5000, NULL), -EDOM);
    ck_assert_str_eq(jit_store_reason(-EDOM), "bad_grant");
    /* Nothing of the refused ones was stored. */
    {
        struct jit_account *v = NULL;
        size_t n = 0;

        ck_assert_int_eq(jit_store_list_accounts(store, &v, &n), 0);
        ck_assert_uint_eq(n, 2);
        jit_accounts_free(v, n);
    }
}
END_TEST

/* One transaction's refusals noted; returns what the note said. */
static int
note(const char *key, const char *reason, const char *detail)
{
    int64_t since;
    int r;

    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_refusals_round(store), 0);
    r = jit_store_refusal_note(store, key, reason, detail, 5000, &since);
    ck_assert_int_eq(since, 5000);
    ck_assert_int_eq(jit_store_refusals_end_round(store), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    return r;
}

START_TEST(test_refusals_once)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    static char *one[] = { S("video") };
    struct jit_account a;

    /* New, then the same again (not to be logged), then another reason
     * (logged), then gone for a round and back (logged). */
    ck_assert_int_eq(note("g-1", "not_yet_valid", NULL), 1);
    ck_assert_int_eq(note("g-1", "not_yet_valid", NULL), 0);
    ck_assert_int_eq(note("g-1", "bad_grant", "groups[0]: x"), 1);
    ck_assert_int_eq(note("g-1", "bad_grant", "groups[0]: y"), 1);
    ck_assert_int_eq(note("g-2", "bad_grant", "x"), 1);
    ck_assert_int_eq(note("g-1", "bad_grant", "groups[0]: y"), 1);
    /* One key twice in a round (an id listed twice): the first stands,
     * the second neither logs nor replaces it, round after round. */
    for (int round = 0; round < 3; round++) {
        int64_t since;

        ck_assert_int_eq(jit_store_begin(store), 0);
        ck_assert_int_eq(jit_store_refusals_round(store), 0);
        ck_assert_int_eq(jit_store_refusal_note(store, "g-5", "bad_grant",
                                                "a", 5000, &since),
                         round == 0);
        ck_assert_int_eq(jit_store_refusal_note(store, "g-5", "bad_grant",
                                                "b", 5000, &since), 0);
        ck_assert_int_eq(jit_store_refusals_end_round(store), 0);
        ck_assert_int_eq(jit_store_commit(store), 0);
    }
    /* Groups compared as sets. */
    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
    ck_assert_int_eq(jit_account_same_groups(&a, &g), 1);
    g.groups = one;
    g.n_groups = 1;
    ck_assert_int_eq(jit_account_same_groups(&a, &g), 0);
    jit_account_free(&a);
}
END_TEST

START_TEST(test_quarantine)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_nssdb db;
    uint32_t uid = 0;

    ck_assert_int_eq(reserve(&g, 5000, &uid), 0);
    ck_assert_uint_eq(uid, 70000);
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_delete_account(store, "alice", 6000), 0);
    ck_assert_int_eq(jit_store_delete_account(store, "alice", 6000), -ENOENT);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_ptr_null(snapshot_lookup(&db, "alice"));
    jit_nssdb_unmap(&db);
    /* Within the quarantine (3600 s) the uid rests... */
    g = grant("g-2", "bob", "bob@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 6000 + 3599, &uid), 0);
    ck_assert_uint_eq(uid, 70002);
    /* ...and after it, it is free again. */
    g = grant("g-3", "carol", "carol@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&g, 6000 + 3601, &uid), 0);
    ck_assert_uint_eq(uid, 70000);
}
END_TEST

START_TEST(test_range_exhausted)
{
    struct jit_grant g;
    char name[16], req[32];
    uint32_t uid;

    jit_store_close(store);
    conf.uid_min = 80000;
    conf.uid_max = 80002;
    open_store();
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        snprintf(req, sizeof(req), "u%d@X", i);
        g = grant(name, name, req, "db");
        ck_assert_int_eq(reserve(&g, 5000, &uid), 0);
    }
    g = grant("g-x", "u9", "u9@X", "db");
    ck_assert_int_eq(reserve(&g, 5000, &uid), -ENOSPC);
}
END_TEST

START_TEST(test_writes_need_transaction)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_account a;

    ck_assert_int_eq(jit_store_put_grant(store, &g), -EINVAL);
    ck_assert_int_eq(jit_store_reserve(store, &g, 1, &a), -EINVAL);
    ck_assert_int_eq(jit_store_commit(store), -EINVAL);
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_begin(store), -EINVAL);
    jit_store_rollback(store);
}
END_TEST

START_TEST(test_rollback_leaves_nothing)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_account a;
    int64_t n = -1;

    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_put_grant(store, &g), 0);
    ck_assert_int_eq(jit_store_reserve(store, &g, 1, &a), 0);
    jit_account_free(&a);
    ck_assert_int_eq(jit_store_add_event(store, "account.created", "g-1",
                                         "alice", "alice@EXAMPLE.COM", NULL,
                                         1), 0);
    jit_store_rollback(store);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), -ENOENT);
    ck_assert_int_eq(jit_store_count_events(store, &n), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_events_and_states)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_account a;
    int64_t n = -1;

    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_state(store, "alice",
                                         JIT_ACCOUNT_DISABLE_FAILED), 0);
    ck_assert_int_eq(jit_store_set_state(store, "nobody-here",
                                         JIT_ACCOUNT_ACTIVE), -ENOENT);
    ck_assert_int_eq(jit_store_set_state(store, "alice", 17), -EINVAL);
    ck_assert_int_eq(jit_store_add_event(store, "account.disable_failed",
                                         "g-1", "alice", "a@X", "{}", 5),
                     0);
    ck_assert_int_eq(jit_store_add_event(store, "account.deleted", "g-1",
                                         "alice", "a@X", NULL, 6), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
    ck_assert_int_eq(a.state, JIT_ACCOUNT_DISABLE_FAILED);
    jit_account_free(&a);
    ck_assert_int_eq(jit_store_count_events(store, &n), 0);
    ck_assert_int_eq(n, 2);
}
END_TEST

static void
add_ev(const char *type, int64_t t)
{
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_add_event(store, type, "g-1", "alice", "a@X",
                                         NULL, t), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
}

/* The types of the events due at now, in order, space-separated. */
static const char *
due_types(int64_t now, struct jit_event **v, size_t *n)
{
    static char buf[256];

    jit_events_free(*v, *n);
    ck_assert_int_eq(jit_store_due_events(store, now, 10, v, n), 0);
    buf[0] = '\0';
    for (size_t i = 0; i < *n; i++) {
        strcat(buf, (*v)[i].type);
        strcat(buf, " ");
    }
    return buf;
}

/* The outbox is a queue: insertion order (not the event's time, which a
 * clock step can put backwards), and nothing overtakes an event waiting
 * for its retry (issue 10: an account.deleted went before its
 * account.created after an outage). */
START_TEST(test_outbox_is_a_queue)
{
    struct jit_event *v = NULL;
    size_t n = 0;

    add_ev("account.created", 100);
    add_ev("session.opened", 90); /* the clock stepped back */
    ck_assert_str_eq(due_types(1000, &v, &n),
                     "account.created session.opened ");
    /* The first fails: it waits until 2000, and so does the rest. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_events_settle(store, v, 1, 0, 2000), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    add_ev("account.deleted", 1000);
    ck_assert_str_eq(due_types(1000, &v, &n), "");
    ck_assert_str_eq(due_types(2000, &v, &n),
                     "account.created session.opened account.deleted ");
    /* The second waits now: the first goes, nothing after the second. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_events_settle(store, v + 1, 1, 0, 3000), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_str_eq(due_types(2000, &v, &n), "account.created ");
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_events_retry_now(store), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_str_eq(due_types(2000, &v, &n),
                     "account.created session.opened account.deleted ");
    jit_events_free(v, n);
}
END_TEST

START_TEST(test_lost_snapshot_rederived)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_nssdb db;
    char *p = t_path(state, "nss.db");

    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    jit_store_close(store);
    /* As if the process died between COMMIT and rename. */
    ck_assert_int_eq(unlink(p), 0);
    open_store();
    ck_assert_ptr_nonnull(snapshot_lookup(&db, "alice"));
    jit_nssdb_unmap(&db);
    free(p);
}
END_TEST

/* The generation of the snapshot in place; 0 if it cannot be mapped. */
static uint64_t
placed_generation(void)
{
    char *p = t_path(state, "nss.db");
    struct jit_nssdb db;
    struct stat st;
    uint64_t g = 0;

    if (jit_nssdb_map(p, geteuid(), &db, &st) == 0) {
        g = db.hdr.generation;
        jit_nssdb_unmap(&db);
    }
    free(p);
    return g;
}

/* One writer of test_parallel_snapshots, in a process of its own with a
 * connection of its own: its exit status says what went wrong (a bit
 * each), 0 nothing. */
static int
snapshot_writer(int w, int each)
{
    struct jit_store *s = NULL;
    char *why = NULL;
    int bad = 0;

    if (jit_store_open(&conf, &fake_host, &s, &why) != 0)
        return 64;
    for (int k = 0; k < each; k++) {
        char id[32], user[32], req[48];
        struct jit_grant g;
        struct jit_account a;
        uint64_t gen;

        snprintf(id, sizeof(id), "g-%d-%d", w, k);
        snprintf(user, sizeof(user), "p%c%d", 'a' + w, k);
        snprintf(req, sizeof(req), "%s@EXAMPLE.COM", user);
        g = grant(id, user, req, "db");
        if (jit_store_begin(s) != 0 || jit_store_put_grant(s, &g) != 0
            || jit_store_reserve(s, &g, 5000, &a) != 0) {
            jit_store_rollback(s);
            bad |= 1;
            continue;
        }
        jit_account_free(&a);
        gen = jit_store_generation(s) + 1;
        if (jit_store_commit(s) != 0)
            bad |= 2;
        else if (placed_generation() < gen)
            bad |= 4;
    }
    jit_store_close(s);
    return bad;
}

START_TEST(test_parallel_snapshots)
{
    enum { WRITERS = 6, EACH = 12 };
    pid_t pid[WRITERS];
    struct jit_nssdb db;

    /* Writers in parallel, each with a connection of its own: each
     * commit returns with the snapshot of its own transaction or of a
     * later one in place, and once all are done the snapshot in place is
     * the store's last, every account in it (none put back by an earlier
     * writer's). */
    for (int w = 0; w < WRITERS; w++) {
        pid[w] = fork();
        ck_assert_int_ge(pid[w], 0);
        if (pid[w] == 0)
            _exit(snapshot_writer(w, EACH));
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;

        ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "writer %d: status %#x", w, status);
    }
    ck_assert_uint_eq(placed_generation(), jit_store_generation(store));
    for (int w = 0; w < WRITERS; w++)
        for (int k = 0; k < EACH; k++) {
            char user[32];

            snprintf(user, sizeof(user), "p%c%d", 'a' + w, k);
            ck_assert_msg(snapshot_lookup(&db, user) != NULL, "%s missing",
                          user);
            jit_nssdb_unmap(&db);
        }
}
END_TEST

/* The snapshot is written without an fsync (doc/design.md, S26): after
 * a power loss it may be torn while its header, generation included,
 * still reads well, or stale, or empty.  Each is re-derived by the next
 * open, before the open answers. */
static void
damage_snapshot(const char *how)
{
    char *p = t_path(state, "nss.db");
    struct stat st;
    int fd;

    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_gt(st.st_size, 200);
    fd = open(p, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    if (strcmp(how, "torn") == 0) {
        /* Its header kept, a block of its body lost to zeros. */
        static const char zeros[64];

        ck_assert_int_eq(pwrite(fd, zeros, sizeof(zeros), st.st_size - 100),
                         (ssize_t) sizeof(zeros));
    } else if (strcmp(how, "short") == 0) {
        ck_assert_int_eq(ftruncate(fd, st.st_size / 2), 0);
    } else {
        ck_assert_int_eq(ftruncate(fd, 0), 0);
    }
    close(fd);
    free(p);
}

START_TEST(test_damaged_snapshot_rederived)
{
    static const char *const hows[] = { "torn", "short", "empty" };
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_nssdb db;

    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
        jit_store_close(store);
        damage_snapshot(hows[i]);
        /* Readers refuse it meanwhile: no JIT account, closed. */
        {
            char *p = t_path(state, "nss.db");
            struct stat st;

            ck_assert_int_ne(jit_nssdb_map(p, geteuid(), &db, &st), 0);
            free(p);
        }
        open_store();
        ck_assert_msg(snapshot_lookup(&db, "alice") != NULL,
                      "%s snapshot not re-derived", hows[i]);
        ck_assert_uint_eq(db.hdr.generation, jit_store_generation(store));
        jit_nssdb_unmap(&db);
    }
}
END_TEST

/* What the localauth plugin reads (doc/design.md, "GSSAPI logins"):
 * whose, until when, live; and each change of them re-derives the
 * snapshot, while reserved to active does not. */
static void
expect_standing(const char *name, const char *requester, int64_t ends,
                uint32_t flags)
{
    const struct jit_nssdb_passwd *pw;
    struct jit_nssdb db;

    pw = snapshot_lookup(&db, name);
    ck_assert_ptr_nonnull(pw);
    ck_assert_str_eq(jit_nssdb_str(&db, pw->requester), requester);
    ck_assert_int_eq(pw->ends, ends);
    ck_assert_uint_eq(pw->flags, flags);
    jit_nssdb_unmap(&db);
}

/* The snapshot's groups of name, as gids, against want (n of them). */
static void
expect_gids(const char *name, const uint32_t *want, size_t n)
{
    const struct jit_nssdb_passwd *pw;
    struct jit_nssdb db;

    pw = snapshot_lookup(&db, name);
    ck_assert_ptr_nonnull(pw);
    ck_assert_uint_eq(pw->gids_count, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(db.gids[pw->gids_first + i], want[i]);
    jit_nssdb_unmap(&db);
}

START_TEST(test_snapshot_groups)
{
    static char *video[] = { S("video") };
    static const uint32_t both[] = { 27, 44 }, one[] = { 44 };
    /* Names in another order than their uids, accounts without groups
     * among those with: each gets its own groups (the snapshot reads
     * all the groups in one scan and merges them by name). */
    struct jit_grant z = grant("g-z", "zed", "zed@EXAMPLE.COM", "db"),
                     a = grant("g-a", "amy", "amy@EXAMPLE.COM", "db"),
                     m = grant("g-m", "mia", "mia@EXAMPLE.COM", "db"),
                     b = grant("g-b", "bob", "bob@EXAMPLE.COM", "db"),
                     y = grant("g-y", "yan", "yan@EXAMPLE.COM", "db");

    a.n_groups = 0;
    m.groups = video;
    m.n_groups = 1;
    y.n_groups = 0;
    ck_assert_int_eq(reserve(&z, 5000, NULL), 0);
    ck_assert_int_eq(reserve(&a, 5000, NULL), 0);
    ck_assert_int_eq(reserve(&m, 5000, NULL), 0);
    ck_assert_int_eq(reserve(&b, 5000, NULL), 0);
    ck_assert_int_eq(reserve(&y, 5000, NULL), 0);
    expect_gids("zed", both, 2);
    expect_gids("amy", NULL, 0);
    expect_gids("mia", one, 1);
    expect_gids("bob", both, 2);
    expect_gids("yan", NULL, 0);
    expect_standing("amy", "amy@EXAMPLE.COM", 1700003600, JIT_NSSDB_F_LIVE);
    /* The last name with groups gone, and the first: the rest as before. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_delete_account(store, "zed", 6000), 0);
    ck_assert_int_eq(jit_store_delete_account(store, "amy", 6000), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    expect_gids("mia", one, 1);
    expect_gids("bob", both, 2);
    expect_gids("yan", NULL, 0);
    /* A damaged store: a group row whose account is "yan" and a NUL,
     * which SQL tells apart from "yan", is no one's group. */
    {
        char *db = t_path(state, "state.db");
        sqlite3 *h = NULL;

        ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(h, "PRAGMA foreign_keys = OFF;"
                                         "INSERT INTO account_groups"
                                         " VALUES ('yan' || char(0), 'x', 10)",
                                      NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        free(db);
    }
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_state(store, "mia",
                                         JIT_ACCOUNT_TEARING_DOWN), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    expect_gids("yan", NULL, 0);
    expect_gids("bob", both, 2);
}
END_TEST

START_TEST(test_snapshot_standing)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_grant h = grant("g-2", "bob", "bob@EXAMPLE.COM", "db");
    uint64_t gen;
    char *p = t_path(state, "nss.db");

    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    ck_assert_int_eq(reserve(&h, 5000, NULL), 0);
    expect_standing("alice", "alice@EXAMPLE.COM", 1700003600,
                    JIT_NSSDB_F_LIVE);

    /* Reserved to active: nothing the snapshot shows. */
    gen = jit_store_generation(store);
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_state(store, "alice", JIT_ACCOUNT_ACTIVE),
                     0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_uint_eq(jit_store_generation(store), gen);

    /* The same grant again, unchanged: nothing either; shortened: the
     * end moves (the account's own end is still the later one). */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_put_grant(store, &g), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_uint_eq(jit_store_generation(store), gen);
    g.expires_at = 1700001800;
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_put_grant(store, &g), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_uint_eq(jit_store_generation(store), gen + 1);
    expect_standing("alice", "alice@EXAMPLE.COM", 1700001800,
                    JIT_NSSDB_F_LIVE);

    /* Revoked (as sync learns it): no longer live. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_grant_status(store, "g-1", "revoked"), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    expect_standing("alice", "alice@EXAMPLE.COM", 1700001800, 0);
    expect_standing("bob", "bob@EXAMPLE.COM", 1700003600, JIT_NSSDB_F_LIVE);

    /* Being torn down, and revoked on this host alone. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_state(store, "bob",
                                         JIT_ACCOUNT_TEARING_DOWN), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    expect_standing("bob", "bob@EXAMPLE.COM", 1700003600, 0);
    h = grant("g-3", "carol", "carol@EXAMPLE.COM", "db");
    ck_assert_int_eq(reserve(&h, 5000, NULL), 0);
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_revoke_locally(store, "g-3", "test", 5000), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    expect_standing("carol", "carol@EXAMPLE.COM", 1700003600, 0);

    /* A snapshot of the format before this one is re-derived at open. */
    {
        struct jit_nssdb_header hd;
        FILE *f = fopen(p, "r+e");

        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fread(&hd, sizeof(hd), 1, f), 1);
        hd.version = 1;
        rewind(f);
        ck_assert_uint_eq(fwrite(&hd, sizeof(hd), 1, f), 1);
        ck_assert_int_eq(fclose(f), 0);
    }
    jit_store_close(store);
    open_store();
    expect_standing("carol", "carol@EXAMPLE.COM", 1700003600, 0);
    free(p);
}
END_TEST

START_TEST(test_unsafe_state_dir)
{
    struct jit_store *s2 = NULL;
    char *why = NULL, *link = t_path(dir, "link");

    ck_assert_int_eq(chmod(state, 0775), 0);
    ck_assert_int_eq(jit_store_open(&conf, &fake_host, &s2, &why), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "not group- or world-writable"));
    free(why);
    ck_assert_int_eq(chmod(state, 0700), 0);
    why = NULL;
    ck_assert_int_eq(jit_store_open(&conf, &fake_host, &s2, &why), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "searchable by everyone"));
    free(why);
    ck_assert_int_eq(chmod(state, 0755), 0);
    ck_assert_int_eq(symlink(state, link), 0);
    free(conf.state_dir);
    conf.state_dir = link;
    why = NULL;
    ck_assert_int_lt(jit_store_open(&conf, &fake_host, &s2, &why), 0);
    ck_assert_ptr_nonnull(strstr(why, "symlink"));
    free(why);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
    char *p = t_path(state, "state.db");
    struct jit_store *s2 = NULL;
    char *why = NULL;
    sqlite3 *db;

    jit_store_close(store);
    store = NULL;
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(jit_store_open(&conf, &fake_host, &s2, &why), -EPROTO);
    ck_assert_ptr_nonnull(strstr(why, "schema version 99"));
    free(why);
    free(p);
}
END_TEST

/* A kept account moved to a later grant; session counts; lookups by
 * requester and credential; savepoints undo one item only. */
START_TEST(test_rebind_sessions_savepoint)
{
    struct jit_grant g1 = grant("g-1", "alice", "a@X", "db");
    struct jit_grant g2 = grant("g-2", "alice", "a@X", "db");
    struct jit_grant other = grant("g-3", "alice", "b@X", "db");
    struct jit_grant bob = grant("g-4", "bob", "bob@X", "db");
    struct jit_grant got;
    struct jit_account a, dummy;
    uint32_t left = 99;

    ck_assert_int_eq(reserve(&g1, 2000, NULL), 0);
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_state(store, "alice", JIT_ACCOUNT_ACTIVE), 0);
    ck_assert_int_eq(jit_store_add_sessions(store, "alice", 1, &left), 0);
    ck_assert_uint_eq(left, 1);
    ck_assert_int_eq(jit_store_add_sessions(store, "alice", -1, &left), 0);
    ck_assert_uint_eq(left, 0);
    ck_assert_int_eq(jit_store_add_sessions(store, "alice", -1, &left), 0);
    ck_assert_uint_eq(left, 0); /* never below zero */
    ck_assert_int_eq(jit_store_add_sessions(store, "nobody", 1, &left),
                     -ENOENT);
    g2.expires_at = 1800000000;
    ck_assert_int_eq(jit_store_put_grant(store, &g2), 0);
    ck_assert_int_eq(jit_store_rebind(store, "alice", &g2), 0);
    /* Another requester cannot take the account over. */
    ck_assert_int_eq(jit_store_rebind(store, "alice", &other), -ENOENT);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
    ck_assert_str_eq(a.grant_id, "g-2");
    ck_assert_int_eq(a.expires, 1800000000);
    ck_assert_int_eq(a.state, JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(a.rebound, 1);
    jit_account_free(&a);
    ck_assert_int_eq(jit_store_find_account(store, "a@X", "db", &a), 0);
    ck_assert_str_eq(a.name, "alice");
    jit_account_free(&a);
    ck_assert_int_eq(jit_store_find_account(store, "a@X", "web", &a),
                     -ENOENT);
    ck_assert_int_eq(jit_store_get_grant(store, "g-2", &got), 0);
    ck_assert_str_eq(got.requester, "a@X");
    ck_assert_int_eq(got.expires_at, 1800000000);
    jit_grant_free(&got);
    ck_assert_int_eq(jit_store_get_grant(store, "g-none", &got), -ENOENT);

    /* The same grant with a later end: only the end moves. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    g2.expires_at = 1900000000;
    ck_assert_int_eq(jit_store_rebind(store, "alice", &g2), 0);
    ck_assert_int_eq(jit_store_set_state(store, "alice", JIT_ACCOUNT_ACTIVE), 0);
    ck_assert_int_eq(jit_store_rebind(store, "alice", &g2), 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
    ck_assert_int_eq(a.expires, 1900000000);
    ck_assert_int_eq(a.state, JIT_ACCOUNT_ACTIVE); /* not reserved again */
    ck_assert_int_eq(a.rebound, 0);
    jit_account_free(&a);

    /* Active again: the next opening is no longer a re-enable. */
    ck_assert_int_eq(jit_store_begin(store), 0);
    ck_assert_int_eq(jit_store_set_state(store, "alice", JIT_ACCOUNT_ACTIVE), 0);
    /* A savepoint undone takes bob's reservation only. */
    ck_assert_int_eq(jit_store_savepoint(store), 0);
    ck_assert_int_eq(jit_store_put_grant(store, &bob), 0);
    ck_assert_int_eq(jit_store_reserve(store, &bob, 2000, &dummy), 0);
    jit_account_free(&dummy);
    jit_store_savepoint_end(store, 0);
    ck_assert_int_eq(jit_store_commit(store), 0);
    ck_assert_int_eq(jit_store_get_account(store, "bob", &a), -ENOENT);
    ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
    ck_assert_int_eq(a.rebound, 0);
    ck_assert_int_eq(a.state, JIT_ACCOUNT_ACTIVE);
    jit_account_free(&a);
}
END_TEST

/* Sixteen first logins on a new host open the store at once: every one
 * of them gets it (the first to set WAL mode once refused the others
 * with "database is locked"). */
static pthread_barrier_t open_barrier;
static struct jit_conf race_conf;

static void *
race_open(void *arg)
{
    struct jit_store *s = NULL;
    char *why = NULL;
    long failed;

    (void) arg;
    pthread_barrier_wait(&open_barrier);
    failed = jit_store_open(&race_conf, &fake_host, &s, &why) != 0;
    if (failed)
        fprintf(stderr, "first open: %s\n", why ? why : "?");
    free(why);
    jit_store_close(s);
    return (void *) failed;
}

/* The WAL is opened without O_CREAT when it exists, so without SQLite's
 * directory fsync (doc/design.md, S28): one that is missing is created
 * by the store's open itself, 0600, and commits land in it. */
START_TEST(test_wal_recreated)
{
    struct jit_grant g = grant("g-1", "alice", "alice@EXAMPLE.COM", "db");
    struct jit_grant h = grant("g-2", "bob", "bob@EXAMPLE.COM", "db");
    char *wal = t_path(state, "state.db-wal");
    struct stat st;

    ck_assert_int_eq(reserve(&g, 5000, NULL), 0);
    jit_store_close(store);
    store = NULL;
    /* As a foreign connection that checkpoints and deletes it would. */
    {
        char *db = t_path(state, "state.db");
        sqlite3 *x = NULL;

        ck_assert_int_eq(sqlite3_open(db, &x), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(x, "PRAGMA wal_checkpoint(TRUNCATE)",
                                      NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(x);
        free(db);
    }
    unlink(wal);
    ck_assert_int_ne(stat(wal, &st), 0);
    open_store();
    ck_assert_int_eq(stat(wal, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(reserve(&h, 5001, NULL), 0);
    ck_assert_int_eq(stat(wal, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    jit_store_close(store);
    open_store();
    {
        struct jit_account a;

        ck_assert_int_eq(jit_store_get_account(store, "alice", &a), 0);
        jit_account_free(&a);
        ck_assert_int_eq(jit_store_get_account(store, "bob", &a), 0);
        jit_account_free(&a);
    }
    free(wal);
}
END_TEST

/* The handle's prepared statements: the same SQL gives the same
 * statement back once it is handed back, reset and unbound; one still in
 * use is not handed out twice; past the cache's size statements are
 * prepared and finalized as before. */
START_TEST(test_stmt_cache)
{
    sqlite3_stmt *a = NULL, *b = NULL, *c = NULL;
    const char *sql = "SELECT name FROM accounts WHERE name = ?";
    char other[64];

    ck_assert_int_eq(jit_store_stmt_get(store, sql, &a), 0);
    ck_assert_int_eq(sqlite3_bind_text(a, 1, "x", -1, SQLITE_STATIC),
                     SQLITE_OK);
    /* In use: a statement of its own, with its own bindings. */
    ck_assert_int_eq(jit_store_stmt_get(store, sql, &b), 0);
    ck_assert_ptr_ne(a, b);
    ck_assert_int_eq(sqlite3_bind_parameter_count(b), 1);
    jit_store_stmt_put(store, b);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_DONE);
    jit_store_stmt_put(store, a);
    /* Handed back: the same one, reset, its binding cleared. */
    ck_assert_int_eq(jit_store_stmt_get(store, sql, &c), 0);
    ck_assert_ptr_eq(c, a);
    ck_assert_int_eq(sqlite3_stmt_busy(c), 0);
    ck_assert_int_eq(sqlite3_step(c), SQLITE_DONE);
    jit_store_stmt_put(store, c);
    /* A value bound before it was handed back is not seen again. */
    ck_assert_int_eq(jit_store_stmt_get(store, "SELECT ?1", &a), 0);
    ck_assert_int_eq(sqlite3_bind_int(a, 1, 7), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(a, 0), 7);
    jit_store_stmt_put(store, a);
    ck_assert_int_eq(jit_store_stmt_get(store, "SELECT ?1", &b), 0);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_type(b, 0), SQLITE_NULL);
    jit_store_stmt_put(store, b);
    /* A bad statement, two statements, or none: an error, and nothing
     * cached; the next good one still gets a slot. */
    {
        size_t n = store->n_stmts;

        ck_assert_int_ne(jit_store_stmt_get(store, "SELEC nonsense", &a), 0);
        ck_assert_ptr_null(a);
        ck_assert_int_eq(jit_store_stmt_get(store, "SELECT 1; SELECT 2", &a),
                         -EINVAL);
        ck_assert_ptr_null(a);
        ck_assert_int_eq(jit_store_stmt_get(store, " -- nothing", &a),
                         -EINVAL);
        ck_assert_ptr_null(a);
        ck_assert_uint_eq(store->n_stmts, n);
        ck_assert_int_eq(jit_store_stmt_get(store, "SELECT 'ok';", &a), 0);
        ck_assert_uint_eq(store->n_stmts, n + 1);
        jit_store_stmt_put(store, a);
    }
    /* More distinct statements than the cache holds, each still works;
     * the text is compared, not its address. */
    for (int i = 0; i < JIT_STORE_STMTS + 10; i++) {
        snprintf(other, sizeof(other), "SELECT %d", i);
        ck_assert_int_eq(jit_store_stmt_get(store, other, &a), 0);
        ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int(a, 0), i);
        jit_store_stmt_put(store, a);
    }
    snprintf(other, sizeof(other), "SELECT %d", 3);
    ck_assert_int_eq(jit_store_stmt_get(store, other, &a), 0);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(a, 0), 3);
    jit_store_stmt_put(store, a);
    jit_store_stmt_put(store, NULL);
}
END_TEST

START_TEST(test_first_open_race)
{
    enum { THREADS = 16, ROUNDS = 40 };
    char *fresh = t_path(dir, "fresh");
    long failed = 0;

    race_conf = conf;
    race_conf.state_dir = fresh;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th[THREADS];

        t_rmtree(fresh);
        ck_assert_int_eq(mkdir(fresh, 0755), 0);
        ck_assert_int_eq(chmod(fresh, 0755), 0);
        pthread_barrier_init(&open_barrier, NULL, THREADS);
        for (int i = 0; i < THREADS; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, race_open, NULL), 0);
        for (int i = 0; i < THREADS; i++) {
            void *ret;

            pthread_join(th[i], &ret);
            failed += (long) ret;
        }
        pthread_barrier_destroy(&open_barrier);
    }
    ck_assert_int_eq(failed, 0);
    free(fresh);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_layout_and_modes);
    tcase_add_test(tc, test_reserve_and_snapshot);
    tcase_add_test(tc, test_reserve_refusals);
    tcase_add_test(tc, test_refusals_once);
    tcase_add_test(tc, test_quarantine);
    tcase_add_test(tc, test_range_exhausted);
    tcase_add_test(tc, test_writes_need_transaction);
    tcase_add_test(tc, test_rollback_leaves_nothing);
    tcase_add_test(tc, test_events_and_states);
    tcase_add_test(tc, test_outbox_is_a_queue);
    tcase_add_test(tc, test_lost_snapshot_rederived);
    tcase_add_test(tc, test_damaged_snapshot_rederived);
    tcase_add_test(tc, test_parallel_snapshots);
    tcase_add_test(tc, test_unsafe_state_dir);
    tcase_add_test(tc, test_snapshot_standing);
    tcase_add_test(tc, test_snapshot_groups);
    tcase_add_test(tc, test_newer_schema_refused);
    tcase_add_test(tc, test_rebind_sessions_savepoint);
    tcase_add_test(tc, test_first_open_race);
    tcase_add_test(tc, test_wal_recreated);
    tcase_add_test(tc, test_stmt_cache);
    suite_add_tcase(s, tc);
    return t_run(s);
}
