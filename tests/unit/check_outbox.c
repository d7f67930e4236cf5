/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the outbox's decisions (lib/outbox.c): which answers of
 * the API mean "this event will never be taken" and which "not now",
 * the backoff and its cap, the batch's JSON, batching (a failed batch
 * backs off as one, and nothing behind it overtakes it), and the bound
 * on its size (only login.denied and session events are ever dropped).
 * The API is one that cannot be reached (a port of 127.0.0.1 that
 * refuses at once): what the host does when the API is down.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon/outbox.h"
#include "statelib.h"
#include "testlib.h"

#define NOW 1700000000

static struct t_state t;

static void
setup(void)
{
    t_state_open(&t, "outbox_max = 100\n");
}

static void
teardown(void)
{
    t_state_close(&t);
}

/* n events of type, for user, at NOW, in one transaction. */
static void
add_events(size_t n, const char *type, const char *user)
{
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(jit_store_add_event(t.store, type, "g-1", user,
                                             "a@EXAMPLE", "{\"uid\": 96000}",
                                             NOW), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
}

static size_t
due(int64_t now, int *attempts)
{
    struct jit_event *v = NULL;
    size_t n = 0;

    ck_assert_int_eq(jit_store_due_events(t.store, now, 1000, &v, &n), 0);
    if (attempts != NULL && n > 0)
        *attempts = v[0].attempts;
    jit_events_free(v, n);
    return n;
}

static int64_t
count(void)
{
    int64_t n = -1;

    ck_assert_int_eq(jit_store_count_events(t.store, &n), 0);
    return n;
}

START_TEST(test_backoff)
{
    ck_assert_int_eq(jit_outbox_retry_at(NOW, 0), NOW + JIT_OUTBOX_RETRY_MIN);
    ck_assert_int_eq(jit_outbox_retry_at(NOW, 0), NOW + 30);
    ck_assert_int_eq(jit_outbox_retry_at(NOW, 1), NOW + 60);
    ck_assert_int_eq(jit_outbox_retry_at(NOW, 6), NOW + 1920);
    ck_assert_int_eq(jit_outbox_retry_at(NOW, 7), NOW + JIT_OUTBOX_RETRY_MAX);
    ck_assert_int_eq(jit_outbox_retry_at(NOW, 500), NOW + 3600);
}
END_TEST

START_TEST(test_refused)
{
    /* Refused for what the batch holds: sending it again cannot help. */
    static const long refused[] = { 400, 403, 404, 409, 413, 422, 499 };
    /* The host's credentials, a proxy, the moment, or the server. */
    static const long later[] = { 401, 407, 408, 429, 500, 502, 503, 301 };
    struct jit_api_error e = { .reason = "http_error" };

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        e.http = refused[i];
        ck_assert_msg(jit_outbox_refused(&e), "%ld", refused[i]);
    }
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        e.http = later[i];
        ck_assert_msg(!jit_outbox_refused(&e), "%ld", later[i]);
    }
    /* Only an HTTP answer says anything about the events. */
    e.http = 400;
    e.reason = "malformed";
    ck_assert(!jit_outbox_refused(&e));
    e.reason = "unreachable";
    ck_assert(!jit_outbox_refused(&e));
    e.reason = NULL; /* an answer whose accepted count differs */
    ck_assert(!jit_outbox_refused(&e));
}
END_TEST

START_TEST(test_batch_json)
{
    struct jit_event v[2] = {
        { .id = (char *) "e1", .type = (char *) "account.deleted",
          .grant = (char *) "g-1", .username = (char *) "alice",
          .requester = (char *) "alice@EXAMPLE",
          .detail = (char *) "{\"cause\":\"expired\",\"uid\":96000}",
          .time = 1795514400 },
        /* No grant or user, a detail that is not an object, a requester
         * that is not UTF-8: null, never a broken batch. */
        { .id = (char *) "e2", .type = (char *) "login.denied",
          .requester = (char *) "\xff\xfe", .detail = (char *) "[1]",
          .time = 1795514401 },
    };
    char *text = jit_outbox_batch_json(&t.conf, v, 2);
    json_t *root, *e;

    ck_assert_ptr_nonnull(text);
    root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "events")), 2);
    e = json_array_get(json_object_get(root, "events"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), "e1");
    ck_assert_str_eq(json_string_value(json_object_get(e, "type")),
                     "account.deleted");
    ck_assert_str_eq(json_string_value(json_object_get(e, "time")),
                     "2026-11-24T10:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(e, "host")), "web01");
    ck_assert_str_eq(json_string_value(json_object_get(e, "grant")), "g-1");
    ck_assert_str_eq(json_string_value(json_object_get(e, "username")),
                     "alice");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(e, "detail"), "cause")), "expired");
    e = json_array_get(json_object_get(root, "events"), 1);
    ck_assert(json_is_null(json_object_get(e, "grant")));
    ck_assert(json_is_null(json_object_get(e, "username")));
    ck_assert(json_is_null(json_object_get(e, "requester")));
    ck_assert(json_is_null(json_object_get(e, "detail")));
    json_decref(root);
    free(text);
}
END_TEST

START_TEST(test_api_down_backs_off)
{
    struct jit_outbox_stats st;
    int attempts = -1;

    add_events(3, "account.deleted", "alice");
    ck_assert_int_eq(jit_outbox_flush(t.store, &t.conf, &t.log, NOW, &st),
                     -EIO);
    ck_assert_str_eq(st.reason, "unreachable");
    ck_assert_uint_eq(st.failed, 3);
    ck_assert_uint_eq(st.delivered, 0);
    ck_assert_uint_eq(st.refused, 0);
    ck_assert_uint_eq(t_log_count(&t.kept, "outbox: 3 events not delivered:"
                                  " unreachable", NULL), 1);
    /* Kept, each with one attempt, not due before the backoff is over. */
    ck_assert_int_eq(count(), 3);
    ck_assert_uint_eq(due(NOW + 29, NULL), 0);
    ck_assert_uint_eq(due(NOW + 30, &attempts), 3);
    ck_assert_int_eq(attempts, 1);
    /* Nothing is sent before its time. */
    ck_assert_int_eq(jit_outbox_flush(t.store, &t.conf, &t.log, NOW + 29,
                                      &st), 0);
    ck_assert_uint_eq(st.failed, 0);
    /* The second failure waits twice as long. */
    ck_assert_int_eq(jit_outbox_flush(t.store, &t.conf, &t.log, NOW + 30,
                                      &st), -EIO);
    ck_assert_uint_eq(due(NOW + 30 + 59, NULL), 0);
    ck_assert_uint_eq(due(NOW + 30 + 60, &attempts), 3);
    ck_assert_int_eq(attempts, 2);
}
END_TEST

START_TEST(test_batches)
{
    struct jit_outbox_stats st;
    int attempts = -1;

    add_events(JIT_OUTBOX_BATCH + 50, "session.opened", "bob");
    ck_assert_int_eq(jit_outbox_flush(t.store, &t.conf, &t.log, NOW, &st),
                     -EIO);
    /* One batch was tried and failed; the rest waits behind it. */
    ck_assert_uint_eq(st.failed, JIT_OUTBOX_BATCH);
    ck_assert_uint_eq(due(NOW, NULL), 0);
    ck_assert_uint_eq(due(NOW + 30, &attempts), JIT_OUTBOX_BATCH + 50);
    ck_assert_int_eq(attempts, 1);
}
END_TEST

START_TEST(test_bound)
{
    /* Under 80% of outbox_max: quiet. */
    add_events(79, "account.deleted", "alice");
    ck_assert_int_eq(jit_outbox_bound(t.store, &t.conf, &t.log), 0);
    ck_assert_uint_eq(t.kept.n, 0);
    /* From 80%: a warning, nothing dropped. */
    add_events(1, "login.denied", "mallory");
    ck_assert_int_eq(jit_outbox_bound(t.store, &t.conf, &t.log), 0);
    ck_assert_uint_eq(t_log_count(&t.kept, "outbox: 80 events wait", NULL),
                      1);
    ck_assert_int_eq(count(), 80);
    /* Over the cap: the oldest login.denied and session events go. */
    add_events(30, "session.closed", "carol");
    ck_assert_int_eq(jit_outbox_bound(t.store, &t.conf, &t.log), 0);
    ck_assert_int_eq(count(), 100);
    ck_assert_uint_eq(t_log_count(&t.kept, "dropped the 10 oldest", NULL),
                      1);
    ck_assert_uint_eq(t_log_count(&t.kept, "outbox: 100 events wait", NULL),
                      1);
    /* Account events are never dropped, even over the cap: the 21
     * session events left go, the 104 account events stay. */
    add_events(25, "account.deleted", "alice");
    ck_assert_int_eq(jit_outbox_bound(t.store, &t.conf, &t.log), 0);
    ck_assert_int_eq(count(), 104);
    ck_assert_uint_eq(t_log_count(&t.kept, "dropped the 21 oldest", NULL),
                      1);
    ck_assert_uint_eq(t_log_count(&t.kept, "outbox: 104 events wait", NULL),
                      1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_batch_json);
    tcase_add_test(tc, test_api_down_backs_off);
    tcase_add_test(tc, test_batches);
    tcase_add_test(tc, test_bound);
    suite_add_tcase(s, tc);
    return t_run(s);
}
