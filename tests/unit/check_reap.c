/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: what the reaper finds due (lib/reap.c, through the
 * store's query): an account whose end has passed, one whose grant is
 * revoked or expired (sync's word for a grant that left the list), a
 * teardown cut short (a delete-on-logout account left to the reaper, a
 * crash), a failed one once its backoff is over, a delete-on-logout one
 * whose sessions ended with a boot; nothing else, and when the next one
 * falls due.  A dry run changes nothing; a real one takes
 * exactly what is due.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/reap.h"
#include "statelib.h"
#include "testlib.h"

#define NOW 1700000000

static struct t_state t;

static void
setup(void)
{
    t_state_open(&t, NULL);
}

static void
teardown(void)
{
    t_state_close(&t);
    t_boot_id = NULL;
}

static void
set_state(const char *name, int state)
{
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_set_state(t.store, name, state), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
}

static void
set_grant_status(const char *id, const char *status)
{
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_set_grant_status(t.store, id, status), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
}

static void
failed(const char *name, int64_t retry_at)
{
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_teardown_failed(t.store, name, retry_at), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
}

/* The cause the dry run at `now` gives name, or NULL if it is not due. */
static const char *
due_cause(struct jit_reap_item *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].cause;
    return NULL;
}

/* Accounts in every situation the reaper tells apart. */
static void
populate(void)
{
    static const char *const users[] = { "live", "ends", "revoked", "left",
                                         "resumed", "failed" };

    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        struct jit_grant g = t_grant(users[i], NOW + 3600);

        if (strcmp(users[i], "ends") == 0)
            g.expires_at = NOW + 10;
        t_reserve(&t, &g, NOW);
    }
    set_grant_status("g-revoked", "revoked");
    set_grant_status("g-left", "expired");
    set_state("resumed", JIT_ACCOUNT_TEARING_DOWN);
    failed("failed", NOW + 100);
}

START_TEST(test_what_is_due)
{
    struct jit_reap_item *v = NULL;
    size_t n = 0;

    populate();
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW + 9, 1, &v,
                                   &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(due_cause(v, n, "revoked"), "revoked");
    ck_assert_str_eq(due_cause(v, n, "left"), "expired");
    ck_assert_str_eq(due_cause(v, n, "resumed"), "resumed");
    ck_assert_ptr_null(due_cause(v, n, "live"));
    ck_assert_ptr_null(due_cause(v, n, "ends"));   /* 1 s to go */
    ck_assert_ptr_null(due_cause(v, n, "failed")); /* backing off */
    jit_reap_items_free(v, n);

    /* The end is due at the second it names; the retry at its time. */
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW + 100, 1,
                                   &v, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(due_cause(v, n, "ends"), "expired");
    ck_assert_str_eq(due_cause(v, n, "failed"), "retry");
    ck_assert_ptr_null(due_cause(v, n, "live"));
    jit_reap_items_free(v, n);

    /* A dry run marks nothing. */
    ck_assert_int_eq(t_account_state(&t, "ends"), JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(t_account_state(&t, "revoked"), JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(t_account_state(&t, "failed"),
                     JIT_ACCOUNT_DISABLE_FAILED);
}
END_TEST

START_TEST(test_next_due)
{
    ck_assert_int_eq(jit_reap_next_due(t.store, NOW), 0);
    populate();
    /* The earliest end or retry still ahead; a teardown in progress has
     * no time of its own. */
    ck_assert_int_eq(jit_reap_next_due(t.store, NOW), NOW + 10);
    ck_assert_int_eq(jit_reap_next_due(t.store, NOW + 10), NOW + 100);
    ck_assert_int_eq(jit_reap_next_due(t.store, NOW + 100), NOW + 3600);
    ck_assert_int_eq(jit_reap_next_due(t.store, NOW + 3600), 0);
}
END_TEST

START_TEST(test_reap_takes_what_is_due)
{
    struct jit_reap_item *v = NULL;
    size_t n = 0;

    populate();
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW + 9, 0, &v,
                                   &n), 0);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(v[i].result == 0, "%s: %s", v[i].name, v[i].error);
        ck_assert_int_eq(t_account_state(&t, v[i].name), -1);
    }
    jit_reap_items_free(v, n);
    ck_assert_int_eq(t_account_state(&t, "live"), JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(t_account_state(&t, "ends"), JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(t_account_state(&t, "failed"),
                     JIT_ACCOUNT_DISABLE_FAILED);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.deleted\"",
                                  "reason=\"revoked\"", "user=\"revoked\"",
                                  NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.deleted\"",
                                  "reason=\"resumed\"", "user=\"resumed\"",
                                  NULL), 1);

    /* Nothing is due twice. */
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW + 9, 0, &v,
                                   &n), 0);
    ck_assert_uint_eq(n, 0);
    jit_reap_items_free(v, n);
}
END_TEST

/* An account of a grant that says on_logout, active or reserved, with n
 * sessions counted by a transaction that does not ask about the boot (as
 * a version from before boots were recorded counted them). */
static void
with_sessions(const char *user, const char *on_logout, int active, int n)
{
    struct jit_grant g = t_grant(user, NOW + 3600);
    struct jit_account a;

    g.on_logout = (char *) on_logout;
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_put_grant(t.store, &g), 0);
    ck_assert_int_eq(jit_store_reserve(t.store, &g, NOW, &a), 0);
    jit_account_free(&a);
    if (n > 0)
        ck_assert_int_eq(jit_store_add_sessions(t.store, user, n, NULL), 0);
    if (active)
        ck_assert_int_eq(jit_store_set_state(t.store, user,
                                             JIT_ACCOUNT_ACTIVE), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
}

static uint32_t
sessions_of(const char *name)
{
    struct jit_account a;
    uint32_t n;

    ck_assert_int_eq(jit_store_get_account(t.store, name, &a), 0);
    n = a.sessions;
    jit_account_free(&a);
    return n;
}

/* The session.closed events that say a reboot ended `sessions` of
 * name's sessions. */
static size_t
closed_by_reboot(const char *name, int sessions)
{
    struct jit_event *ev = NULL;
    size_t n = 0, k = 0;
    char want[64];

    snprintf(want, sizeof(want), "{\"reason\":\"reboot\",\"sessions\":%d}",
             sessions);
    ck_assert_int_eq(jit_store_due_events(t.store, NOW + 1, 1000, &ev, &n),
                     0);
    for (size_t i = 0; i < n; i++)
        k += strcmp(ev[i].type, "session.closed") == 0 && ev[i].username
             && strcmp(ev[i].username, name) == 0 && ev[i].detail != NULL
             && strcmp(ev[i].detail, want) == 0;
    jit_events_free(ev, n);
    return k;
}

/* Sessions counted in a boot that ended never logged out: the counts are
 * set to zero by the first transaction of the next boot that counts, and
 * a delete-on-logout account left with none is torn down. */
START_TEST(test_sessions_after_reboot)
{
    struct jit_reap_item *v = NULL;
    size_t n = 0;
    char *kv = NULL;

    /* Counted by a version that did not record boots. */
    with_sessions("gone", "delete", 1, 2);
    with_sessions("kept", "keep", 1, 1);
    with_sessions("fresh", "delete", 0, 0);
    with_sessions("back", "delete", 1, 1);

    /* The first boot recorded resets nothing: the counts may be its own. */
    t_boot_id = "boot-1";
    t_store_reopen(&t);
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW, 0, &v, &n),
                     0);
    ck_assert_uint_eq(n, 0);
    jit_reap_items_free(v, n);
    ck_assert_int_eq(jit_store_kv_get(t.store, "boot_id", &kv), 0);
    ck_assert_str_eq(kv, "boot-1");
    free(kv);
    ck_assert_uint_eq(sessions_of("gone"), 2);

    /* The same boot, again: nothing. */
    t_store_reopen(&t);
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_sessions_this_boot(t.store, NOW), 0);
    jit_store_rollback(t.store);

    /* Rebooted.  A dry run sees what a round would, and keeps nothing. */
    t_boot_id = "boot-2";
    t_store_reopen(&t);
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW, 1, &v, &n),
                     0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(due_cause(v, n, "gone"), "no_sessions");
    ck_assert_str_eq(due_cause(v, n, "back"), "no_sessions");
    jit_reap_items_free(v, n);
    ck_assert_uint_eq(sessions_of("gone"), 2);
    /* "back" logs in again before the reaper's round. */
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_sessions_this_boot(t.store, NOW), 3);
    ck_assert_int_eq(jit_store_add_sessions(t.store, "back", 1, NULL), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
    /* The sessions ended, one session.closed an account saying how many. */
    ck_assert_uint_eq(closed_by_reboot("gone", 2), 1);
    ck_assert_uint_eq(closed_by_reboot("kept", 1), 1);
    ck_assert_uint_eq(closed_by_reboot("back", 1), 1);
    /* Rebooted again before the reaper's round, "back" logging in again:
     * "gone" stays due. */
    t_boot_id = "boot-2b";
    t_store_reopen(&t);
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_sessions_this_boot(t.store, NOW), 1);
    ck_assert_int_eq(jit_store_add_sessions(t.store, "back", 1, NULL), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW, 0, &v, &n),
                     0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].name, "gone");
    ck_assert_str_eq(v[0].cause, "no_sessions");
    ck_assert_msg(v[0].result == 0, "%s", v[0].error);
    jit_reap_items_free(v, n);
    ck_assert_int_eq(t_account_state(&t, "gone"), -1);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.deleted\"",
                                  "reason=\"no_sessions\"", "user=\"gone\"",
                                  NULL), 1);
    ck_assert_int_eq(t_account_state(&t, "kept"), JIT_ACCOUNT_ACTIVE);
    ck_assert_uint_eq(sessions_of("kept"), 0);
    ck_assert_int_eq(t_account_state(&t, "fresh"), JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(t_account_state(&t, "back"), JIT_ACCOUNT_ACTIVE);
    ck_assert_uint_eq(sessions_of("back"), 1);

    /* Without a reboot, an idle kept account whose grant now says
     * delete on logout is not due: no session of it ended unlogged. */
    {
        struct jit_grant g = t_grant("kept", NOW + 3600);

        g.on_logout = (char *) "delete";
        ck_assert_int_eq(jit_store_begin(t.store), 0);
        ck_assert_int_eq(jit_store_put_grant(t.store, &g), 0);
        ck_assert_int_eq(jit_store_commit(t.store), 0);
    }
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW, 0, &v, &n),
                     0);
    ck_assert_uint_eq(n, 0);
    jit_reap_items_free(v, n);
    ck_assert_int_eq(t_account_state(&t, "kept"), JIT_ACCOUNT_ACTIVE);

    /* A process that cannot know the boot counts a session: the boot
     * recorded is forgotten, and the next boot known records itself
     * without taking that count for an earlier boot's. */
    t_boot_id = NULL;
    t_store_reopen(&t);
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_sessions_this_boot(t.store, NOW), 0);
    ck_assert_int_eq(jit_store_add_sessions(t.store, "back", 1, NULL), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
    ck_assert_int_eq(jit_store_kv_get(t.store, "boot_id", &kv), -ENOENT);
    t_boot_id = "boot-3";
    t_store_reopen(&t);
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW, 0, &v, &n),
                     0);
    ck_assert_uint_eq(n, 0);
    jit_reap_items_free(v, n);
    ck_assert_uint_eq(sessions_of("back"), 2);
    ck_assert_int_eq(jit_store_kv_get(t.store, "boot_id", &kv), 0);
    ck_assert_str_eq(kv, "boot-3");
    free(kv);
}
END_TEST

int
main(void)
{
    Suite *s;
    TCase *tc;

    t_private_host_dirs();
    s = suite_create("reap");
    tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_what_is_due);
    tcase_add_test(tc, test_next_due);
    tcase_add_test(tc, test_reap_takes_what_is_due);
    tcase_add_test(tc, test_sessions_after_reboot);
    suite_add_tcase(s, tc);
    return t_run(s);
}
