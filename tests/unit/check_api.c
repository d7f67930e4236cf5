/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: what the JIT API client decides (lib/api.c).  What each
 * HTTP answer means for each call (a grant not found, a list not
 * modified, the API busy, any other status a fault with the status
 * kept); and the faults found before or without an answer, each with
 * its stable reason: no URL (config_error), a token file that is not
 * root's alone or not one line (token_error), a client key that is not
 * (key_error), an API that cannot be reached (unreachable: a port of
 * 127.0.0.1 that refuses at once).  No server is needed: the answers go
 * through jit_api_answer, the seam between the transport and the
 * decision.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/api.h"
#include "statelib.h"
#include "testlib.h"

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

/* A file in the test directory with text and mode; conf field *slot
 * names it. */
static void
put_file(char **slot, const char *name, const char *text, mode_t mode)
{
    char *p = t_path(t.dir, name);

    t_write_file(p, text, strlen(text), mode);
    free(*slot);
    *slot = p;
}

/* jit_api_get_grant's reason (it must be a fault). */
static const char *
get_fault(struct jit_api_error *e)
{
    struct jit_grant g;

    ck_assert_int_eq(jit_api_get_grant(&t.conf, "alice", &g, e),
                     JIT_API_FAULT);
    ck_assert_ptr_nonnull(e->reason);
    return e->reason;
}

START_TEST(test_answers)
{
    struct jit_api_error e;
    static const struct {
        enum jit_api_call call;
        long http;
        enum jit_api_status st;
        const char *reason;
    } cases[] = {
        /* 200: the body decides. */
        { JIT_API_CALL_GRANT, 200, JIT_API_OK, NULL },
        { JIT_API_CALL_LIST, 200, JIT_API_OK, NULL },
        { JIT_API_CALL_EVENTS, 200, JIT_API_OK, NULL },
        /* No active grant of that name: the login is refused. */
        { JIT_API_CALL_GRANT, 404, JIT_API_NOT_FOUND, NULL },
        /* A 404 to a list or to events is the API's fault, not an
         * empty list: nothing is revoked for it. */
        { JIT_API_CALL_LIST, 404, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_EVENTS, 404, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_LIST, 304, JIT_API_NOT_MODIFIED, NULL },
        { JIT_API_CALL_GRANT, 304, JIT_API_FAULT, "http_error" },
        /* A list the API will not hold now: asked again later. */
        { JIT_API_CALL_LIST, 429, JIT_API_FAULT, "busy" },
        { JIT_API_CALL_LIST, 503, JIT_API_FAULT, "busy" },
        { JIT_API_CALL_GRANT, 503, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_EVENTS, 429, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_GRANT, 401, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_LIST, 500, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_EVENTS, 400, JIT_API_FAULT, "http_error" },
        /* A redirect is never followed. */
        { JIT_API_CALL_LIST, 302, JIT_API_FAULT, "http_error" },
        { JIT_API_CALL_GRANT, 204, JIT_API_FAULT, "http_error" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum jit_api_status st;

        memset(&e, 0, sizeof(e));
        st = jit_api_answer(cases[i].call, cases[i].http, &e);
        ck_assert_msg(st == cases[i].st, "case %zu: %d", i, (int) st);
        if (cases[i].reason == NULL) {
            ck_assert_ptr_null(e.reason);
            continue;
        }
        ck_assert_str_eq(e.reason, cases[i].reason);
        ck_assert_int_eq(e.http, cases[i].http);
        ck_assert_ptr_nonnull(strstr(e.detail, "HTTP status"));
    }
}
END_TEST

START_TEST(test_config)
{
    struct jit_api_error e;

    free(t.conf.api_url);
    t.conf.api_url = NULL;
    ck_assert_str_eq(get_fault(&e), "config_error");
}
END_TEST

START_TEST(test_token)
{
    struct jit_api_error e;

    /* Missing, readable by others, more than one line, empty. */
    put_file(&t.conf.token_file, "token", "s3cret\n", 0600);
    ck_assert_int_eq(unlink(t.conf.token_file), 0);
    ck_assert_str_eq(get_fault(&e), "token_error");
    put_file(&t.conf.token_file, "token", "s3cret\n", 0640);
    ck_assert_str_eq(get_fault(&e), "token_error");
    ck_assert_ptr_nonnull(strstr(e.detail, "mode 0600"));
    put_file(&t.conf.token_file, "token", "s3cret\nX-Evil: 1\n", 0600);
    ck_assert_str_eq(get_fault(&e), "token_error");
    put_file(&t.conf.token_file, "token", "s3c ret\n", 0600);
    ck_assert_str_eq(get_fault(&e), "token_error");
    put_file(&t.conf.token_file, "token", "\n", 0600);
    ck_assert_str_eq(get_fault(&e), "token_error");
    /* The secret never shows in what is said about it. */
    ck_assert_ptr_null(strstr(e.detail, "s3cret"));
    if (getuid() != 0) {
        /* A good token file is root's: said, not passed in silence. */
        fprintf(stderr, "check_api: not root, the good token file's"
                        " case not run\n");
        return;
    }
    put_file(&t.conf.token_file, "token", "s3cret\n", 0600);
    ck_assert_str_eq(get_fault(&e), "unreachable");
}
END_TEST

START_TEST(test_client_key)
{
    struct jit_api_error e;

    put_file(&t.conf.client_key, "key.pem", "not a key\n", 0644);
    ck_assert_str_eq(get_fault(&e), "key_error");
    ck_assert_ptr_nonnull(strstr(e.detail, "key.pem"));
}
END_TEST

START_TEST(test_unreachable)
{
    struct jit_api_error e;
    struct jit_grant_list l;
    char *etag = (char *) "unset";
    long accepted = -1;

    /* Nothing comes of a call that got no answer. */
    ck_assert_str_eq(get_fault(&e), "unreachable");
    ck_assert_int_eq(jit_api_list_grants(&t.conf, "\"e1\"", 0, &l, &etag, &e),
                     JIT_API_FAULT);
    ck_assert_str_eq(e.reason, "unreachable");
    ck_assert_ptr_null(etag);
    ck_assert_uint_eq(l.n + l.n_bad, 0);
    ck_assert_int_eq(jit_api_post_events(&t.conf, "{\"events\":[]}", 13,
                                         &accepted, &e), JIT_API_FAULT);
    ck_assert_str_eq(e.reason, "unreachable");
    ck_assert_int_eq(accepted, 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_answers);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_token);
    tcase_add_test(tc, test_client_key);
    tcase_add_test(tc, test_unreachable);
    suite_add_tcase(s, tc);
    return t_run(s);
}
