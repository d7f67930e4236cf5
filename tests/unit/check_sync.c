/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: what one sync round decides (lib/sync.c), from lists of
 * grants as the API would send them, applied at a time the test sets.
 * A grant that fits gets its account (reserved, then unchanged, or
 * updated when its end moves); a refusal is logged once and is either
 * for good (wrong host, a group not allowed, an entry that does not
 * parse, a grant revoked on this host) or for now (not valid yet, a name
 * or a credential in the way), and only a refusal for now sets a retry
 * time: when the grant becomes valid, or 30 s after the first refusal,
 * then half the refusal's age, at most 15 min.  An account whose grant
 * left the list is marked revoked, or expired once its end has passed;
 * one whose grant is listed but refused for good is marked revoked with
 * that reason; one refused for now keeps its grant.  An API fault
 * changes nothing.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon/reap.h"
#include "statelib.h"
#include "daemon/sync.h"
#include "testlib.h"
#include "core/timefmt.h"

#define NOW 1700000000
#define END (NOW + 86400)

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
}

static json_t *
jtime(int64_t v)
{
    char buf[JIT_TIME_LEN];

    jit_time_format(v, buf);
    return json_string(buf);
}

/* A grant of web01 for user as the API sends it, ending at expires. */
static json_t *
grant(const char *user, int64_t expires)
{
    char id[64], req[64];
    json_t *g;

    snprintf(id, sizeof(id), "g-%s", user);
    snprintf(req, sizeof(req), "%s@EXAMPLE", user);
    g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s,s], s:o, s:o, s:s, s:s,"
                  " s:s}", "id", id, "credential", "db", "requester", req,
                  "username", user, "host", "web01", "groups", "sudo",
                  "video", "not_before", jtime(NOW - 3600), "expires_at",
                  jtime(expires), "reason", "INC-1", "status", "active",
                  "on_logout", "keep");
    ck_assert_ptr_nonnull(g);
    return g;
}

/* Apply the list of the grants given (NULL-terminated; each taken) at
 * now. */
static int
apply(int64_t now, struct jit_sync_stats *st, ...)
{
    json_t *arr = json_array(), *g, *root;
    struct jit_grant_list l;
    char why[256], *text;
    va_list ap;
    int ret;

    va_start(ap, st);
    while ((g = va_arg(ap, json_t *)) != NULL)
        ck_assert_int_eq(json_array_append_new(arr, g), 0);
    va_end(ap);
    root = json_pack("{s:o}", "grants", arr);
    text = json_dumps(root, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(jit_grant_list_parse(text, strlen(text), &l, why,
                                       sizeof(why)) == 0, "%s", why);
    memset(st, 0, sizeof(*st));
    ret = jit_sync_apply(t.store, &t.conf, &t.log, &l, now, st);
    jit_grant_list_free(&l);
    free(text);
    json_decref(root);
    return ret;
}

static json_t *
with(json_t *g, const char *key, json_t *v)
{
    ck_assert_int_eq(json_object_set_new(g, key, v), 0);
    return g;
}

/* The stored status of a grant, in buf. */
static const char *
grant_status(const char *id, char *buf, size_t len)
{
    struct jit_grant g;

    ck_assert_int_eq(jit_store_get_grant(t.store, id, &g), 0);
    snprintf(buf, len, "%s", g.status);
    jit_grant_free(&g);
    return buf;
}

START_TEST(test_reserve_update)
{
    struct jit_sync_stats st;
    struct jit_account a;

    ck_assert_int_eq(apply(NOW, &st, grant("alice", END), NULL), 0);
    ck_assert_uint_eq(st.grants, 1);
    ck_assert_uint_eq(st.reserved, 1);
    ck_assert_int_eq(st.retry_at, 0);
    ck_assert_int_eq(t_account_state(&t, "alice"), JIT_ACCOUNT_RESERVED);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"sync\"",
                                  "result=\"allow\"", "reason=\"reserved\"",
                                  "user=\"alice\"", NULL), 1);
    /* The same list again: nothing to do, nothing to say. */
    ck_assert_int_eq(apply(NOW + 1, &st, grant("alice", END), NULL), 0);
    ck_assert_uint_eq(st.unchanged, 1);
    ck_assert_uint_eq(st.reserved + st.updated + st.refused + st.gone, 0);
    ck_assert_uint_eq(t.kept.n, 1);
    /* The grant extended: the account follows. */
    ck_assert_int_eq(apply(NOW + 2, &st, grant("alice", END + 3600), NULL),
                     0);
    ck_assert_uint_eq(st.updated, 1);
    ck_assert_int_eq(jit_store_get_account(t.store, "alice", &a), 0);
    ck_assert_int_eq(a.expires, END + 3600);
    jit_account_free(&a);
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"updated\"", NULL), 1);
}
END_TEST

START_TEST(test_refused_for_good)
{
    struct jit_sync_stats st;
    json_t *broken = grant("dave", END);

    json_object_del(broken, "expires_at");
    ck_assert_int_eq(apply(NOW, &st,
                           with(grant("alice", END), "host",
                                json_string("web02")),
                           with(grant("bob", END), "groups",
                                json_pack("[s]", "wheel")),
                           broken, NULL), 0);
    ck_assert_uint_eq(st.grants, 3);
    ck_assert_uint_eq(st.refused, 3);
    ck_assert_uint_eq(st.reserved, 0);
    /* No second look is worth it: no retry time. */
    ck_assert_int_eq(st.retry_at, 0);
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"deny\"",
                                  "reason=\"wrong_host\"", "user=\"alice\"",
                                  NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"deny\"",
                                  "reason=\"group_not_allowed\"",
                                  "user=\"bob\"", NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"deny\"",
                                  "reason=\"bad_grant\"", "user=\"dave\"",
                                  "expires_at", NULL), 1);
    ck_assert_int_eq(t_account_state(&t, "alice"), -1);
    ck_assert_int_eq(t_account_state(&t, "bob"), -1);
    /* Logged once, not once per round. */
    broken = grant("dave", END);
    json_object_del(broken, "expires_at");
    ck_assert_int_eq(apply(NOW + 60, &st,
                           with(grant("alice", END), "host",
                                json_string("web02")),
                           with(grant("bob", END), "groups",
                                json_pack("[s]", "wheel")),
                           broken, NULL), 0);
    ck_assert_uint_eq(st.refused, 3);
    ck_assert_uint_eq(t.kept.n, 3);
}
END_TEST

START_TEST(test_retry_times)
{
    struct jit_sync_stats st;

    /* Not valid yet: looked at again when it is (less the clock skew). */
    ck_assert_int_eq(apply(NOW, &st,
                           with(grant("alice", END), "not_before",
                                jtime(NOW + 3600)), NULL), 0);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_int_eq(st.retry_at, NOW + 3600 - 60);
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"not_yet_valid\"", NULL),
                      1);

    /* A name another source holds may go: 30 s after the first refusal,
     * then half the time it has been refused, at most 15 min. */
    ck_assert_int_eq(apply(NOW, &st, grant("taken", END), NULL), 0);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_int_eq(st.retry_at, NOW + 30);
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"name_taken\"",
                                  "user=\"taken\"", NULL), 1);
    ck_assert_int_eq(apply(NOW + 100, &st, grant("taken", END), NULL), 0);
    ck_assert_int_eq(st.retry_at, NOW + 100 + 50);
    ck_assert_int_eq(apply(NOW + 10000, &st, grant("taken", END), NULL), 0);
    ck_assert_int_eq(st.retry_at, NOW + 10000 + 900);
    /* Still logged only the first time. */
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"name_taken\"", NULL),
                      1);
    ck_assert_int_eq(t_account_state(&t, "taken"), -1);
}
END_TEST

START_TEST(test_gone)
{
    struct jit_sync_stats st;
    struct jit_reap_item *v = NULL;
    size_t n = 0;
    char buf[16];

    ck_assert_int_eq(apply(NOW, &st, grant("alice", END),
                           grant("bob", NOW + 600), grant("carol", END),
                           grant("dave", END), NULL), 0);
    ck_assert_uint_eq(st.reserved, 4);
    /* alice left the list before her end: revoked.  bob left it after
     * his: expired.  carol is listed for another host now: refused for
     * good, so revoked with that reason.  dave is listed under another
     * requester's name: refused for now, so kept as he is. */
    ck_assert_int_eq(apply(NOW + 600, &st,
                           with(grant("carol", END), "host",
                                json_string("web02")),
                           with(grant("dave", END), "requester",
                                json_string("eve@EXAMPLE")), NULL), 0);
    ck_assert_uint_eq(st.gone, 3);
    ck_assert_uint_eq(st.refused, 2);
    ck_assert_int_eq(st.retry_at, NOW + 600 + 30);
    ck_assert_str_eq(grant_status("g-alice", buf, sizeof(buf)), "revoked");
    ck_assert_str_eq(grant_status("g-bob", buf, sizeof(buf)), "expired");
    ck_assert_str_eq(grant_status("g-carol", buf, sizeof(buf)), "revoked");
    ck_assert_str_eq(grant_status("g-dave", buf, sizeof(buf)), "active");
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"revoke\"",
                                  "reason=\"grant_gone\"", "user=\"alice\"",
                                  NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"revoke\"",
                                  "reason=\"grant_expired\"", "user=\"bob\"",
                                  NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"revoke\"",
                                  "reason=\"wrong_host\"", "user=\"carol\"",
                                  NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "result=\"deny\"",
                                  "reason=\"name_conflict\"",
                                  "user=\"dave\"", NULL), 1);
    /* Nothing is torn down here: that is the reaper's, which now finds
     * the three due, and dave not. */
    ck_assert_int_eq(t_account_state(&t, "alice"), JIT_ACCOUNT_RESERVED);
    ck_assert_int_eq(jit_reap_once(t.store, &t.conf, &t.log, NOW + 600, 1,
                                   &v, &n), 0);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_ne(v[i].name, "dave");
    jit_reap_items_free(v, n);
}
END_TEST

START_TEST(test_revoked_locally)
{
    struct jit_sync_stats st;

    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_revoke_locally(t.store, "g-alice", "INC-2",
                                              NOW), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
    /* Whatever the API says later, for good. */
    ck_assert_int_eq(apply(NOW, &st, grant("alice", END), NULL), 0);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_int_eq(st.retry_at, 0);
    ck_assert_int_eq(t_account_state(&t, "alice"), -1);
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"revoked_locally\"",
                                  NULL), 1);
}
END_TEST

START_TEST(test_duplicate)
{
    struct jit_sync_stats st;

    /* One account per requester and credential: the second name waits
     * (the first may be torn down soon). */
    ck_assert_int_eq(apply(NOW, &st, grant("alice", END),
                           with(with(grant("alice2", END), "requester",
                                     json_string("alice@EXAMPLE")),
                                "id", json_string("g-other")), NULL), 0);
    ck_assert_uint_eq(st.reserved, 1);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_int_eq(st.retry_at, NOW + 30);
    ck_assert_int_eq(t_account_state(&t, "alice2"), -1);
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"duplicate_grant\"",
                                  "user=\"alice2\"", NULL), 1);
}
END_TEST

/* The outbox's event types and grants, oldest first. */
static const char *
outbox(char *buf, size_t len)
{
    struct jit_event *v = NULL;
    size_t n = 0, o = 0;

    buf[0] = '\0';
    ck_assert_int_eq(jit_store_due_events(t.store, (int64_t) END * 2, 100,
                                          &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        o += (size_t) snprintf(buf + o, len - o, "%s%s:%s", i ? " " : "",
                               v[i].type, v[i].grant ? v[i].grant : "-");
    jit_events_free(v, n);
    return buf;
}

/* An account sync makes usable is on the record at once, once: created
 * when reserved, enabled when a kept account is rebound to a new grant;
 * an extension or a refusal records nothing (doc/design.md, F6). */
START_TEST(test_account_events)
{
    struct jit_sync_stats st;
    char buf[512];

    ck_assert_int_eq(apply(NOW, &st, grant("alice", END),
                           with(grant("bob", END), "host",
                                json_string("web02")), NULL), 0);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_str_eq(outbox(buf, sizeof(buf)), "account.created:g-alice");
    ck_assert_int_eq(apply(NOW + 1, &st, grant("alice", END + 60), NULL), 0);
    ck_assert_uint_eq(st.updated, 1);
    ck_assert_int_eq(apply(NOW + 2, &st, grant("alice", END + 60), NULL), 0);
    ck_assert_str_eq(outbox(buf, sizeof(buf)), "account.created:g-alice");
    /* A new grant of the same person and credential takes the kept
     * account over. */
    ck_assert_int_eq(apply(NOW + 3, &st, with(grant("alice", END), "id",
                                              json_string("g-alice-2")),
                           NULL), 0);
    ck_assert_uint_eq(st.updated, 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "reason=\"rebound\"",
                                  "user=\"alice\"", NULL), 1);
    ck_assert_int_eq(apply(NOW + 4, &st, with(grant("alice", END), "id",
                                              json_string("g-alice-2")),
                           NULL), 0);
    ck_assert_str_eq(outbox(buf, sizeof(buf)),
                     "account.created:g-alice account.enabled:g-alice-2");
}
END_TEST

START_TEST(test_api_fault)
{
    struct jit_sync_stats st;
    const char *reason = NULL;
    char buf[16];

    ck_assert_int_eq(apply(NOW, &st, grant("alice", END), NULL), 0);
    /* No answer is not an empty list: nothing is revoked or changed. */
    ck_assert_int_eq(jit_sync_once(t.store, &t.conf, &t.log, &st, &reason),
                     -EIO);
    ck_assert_str_eq(reason, "unreachable");
    ck_assert_uint_eq(st.gone, 0);
    ck_assert_str_eq(grant_status("g-alice", buf, sizeof(buf)), "active");
    ck_assert_int_eq(t_account_state(&t, "alice"), JIT_ACCOUNT_RESERVED);
    ck_assert_uint_eq(t_log_count(&t.kept, "sync: API: unreachable", NULL),
                      1);
    ck_assert_int_eq(t.kept.prio[t.kept.n - 1], LOG_ERR);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reserve_update);
    tcase_add_test(tc, test_refused_for_good);
    tcase_add_test(tc, test_retry_times);
    tcase_add_test(tc, test_gone);
    tcase_add_test(tc, test_revoked_locally);
    tcase_add_test(tc, test_duplicate);
    tcase_add_test(tc, test_api_fault);
    tcase_add_test(tc, test_account_events);
    suite_add_tcase(s, tc);
    return t_run(s);
}
