/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's per-host view of a grant's account, read from the hosts'
 * events (doc/design.md, S25): every state, the deletion due and done,
 * a failed teardown with the host's words, and what a hostile host can
 * put in those words.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "contrib/jit-apid/api.h"
#include "contrib/jit-apid/grantview.h"
#include "testlib.h"

#define NOW 2000000000
#define END (NOW + 3600)

static char h1[] = "web01.test", h2[] = "web02.test";
static char *hosts2[] = { h1, h2 };

static struct apid_grant
grant(const char *status, const char *on_logout)
{
    struct apid_grant g;

    memset(&g, 0, sizeof(g));
    strcpy(g.id, "g-1");
    g.status = (char *) status;
    g.on_logout = (char *) on_logout;
    g.hosts = hosts2;
    g.n_hosts = 2;
    g.expires_at = END;
    return g;
}

static struct apid_event
ev(const char *host, const char *type, int64_t t, const char *detail)
{
    struct apid_event e;

    memset(&e, 0, sizeof(e));
    e.host = (char *) host;
    e.type = (char *) type;
    e.time = t;
    e.detail = (char *) detail;
    return e;
}

static json_t *
host(json_t *arr, size_t i)
{
    json_t *h = json_array_get(arr, i);

    ck_assert_ptr_nonnull(h);
    return h;
}

static const char *
s_of(json_t *h, const char *k)
{
    return json_string_value(json_object_get(h, k));
}

START_TEST(test_in_force)
{
    struct apid_grant g = grant("active", "delete");
    struct apid_event v[] = {
        ev("web01.test", "account.created", NOW - 100, "{\"by\":\"sync\"}"),
        ev("web01.test", "session.opened", NOW - 90, NULL),
        ev("web01.test", "session.opened", NOW - 80, NULL),
        ev("web01.test", "login.denied", NOW - 70, NULL),
    };
    json_t *a = apid_grant_hosts_json(&g, v, 4, NULL, 0, NOW), *h;

    ck_assert_int_eq(json_array_size(a), 2);
    h = host(a, 0);
    ck_assert_str_eq(s_of(h, "host"), "web01.test");
    ck_assert_str_eq(s_of(h, "state"), "active");
    ck_assert_int_eq(json_integer_value(json_object_get(h, "sessions")), 2);
    ck_assert_str_eq(s_of(h, "since"), "2033-05-18T03:32:00Z");
    ck_assert_str_eq(s_of(h, "deletion_due"), "2033-05-18T04:33:20Z");
    ck_assert(json_is_true(json_object_get(h, "deletion_at_last_logout")));
    ck_assert_ptr_null(json_object_get(h, "deleted_at"));
    /* The second host has said nothing yet. */
    h = host(a, 1);
    ck_assert_str_eq(s_of(h, "state"), "pending");
    ck_assert_ptr_null(json_object_get(h, "since"));
    ck_assert_str_eq(s_of(h, "deletion_due"), "2033-05-18T04:33:20Z");
    json_decref(a);

    /* Sessions closed: reserved again; keep: not at the last logout. */
    {
        struct apid_grant k = grant("active", "keep");
        struct apid_event w[] = {
            ev("web02.test", "account.enabled", NOW - 50, NULL),
            ev("web02.test", "session.opened", NOW - 40, NULL),
            ev("web02.test", "session.closed", NOW - 30, NULL),
            ev("web02.test", "session.closed", NOW - 20, NULL), /* extra */
        };

        a = apid_grant_hosts_json(&k, w, 4, NULL, 0, NOW);
        h = host(a, 1);
        ck_assert_str_eq(s_of(h, "state"), "reserved");
        ck_assert_ptr_null(json_object_get(h, "sessions"));
        ck_assert(json_is_false(json_object_get(h, "deletion_at_last_logout")));
        json_decref(a);
    }

    /* A reboot ended sessions: one session.closed says how many. */
    {
        struct apid_grant k = grant("active", "keep");
        struct apid_event w[] = {
            ev("web02.test", "account.enabled", NOW - 50, NULL),
            ev("web02.test", "session.opened", NOW - 40, NULL),
            ev("web02.test", "session.opened", NOW - 39, NULL),
            ev("web02.test", "session.opened", NOW - 38, NULL),
            ev("web02.test", "session.closed", NOW - 30,
               "{\"reason\":\"reboot\",\"sessions\":2}"),
        };

        a = apid_grant_hosts_json(&k, w, 5, NULL, 0, NOW);
        h = host(a, 1);
        ck_assert_str_eq(s_of(h, "state"), "active");
        ck_assert_int_eq(json_integer_value(json_object_get(h, "sessions")),
                         1);
        json_decref(a);
        w[4].detail = (char *) "{\"reason\":\"reboot\",\"sessions\":9}";
        a = apid_grant_hosts_json(&k, w, 5, NULL, 0, NOW);
        h = host(a, 1);
        ck_assert_str_eq(s_of(h, "state"), "reserved");
        ck_assert_ptr_null(json_object_get(h, "sessions"));
        json_decref(a);
    }
}
END_TEST

START_TEST(test_ended)
{
    struct apid_grant g = grant("revoked", "delete");
    struct apid_event v[] = {
        ev("web01.test", "account.created", NOW - 100, NULL),
        ev("web01.test", "session.opened", NOW - 90, NULL),
        ev("web01.test", "account.deleted", NOW - 10,
           "{\"cause\":\"revoked\",\"uid\":70000}"),
        ev("web02.test", "account.created", NOW - 100, NULL),
    };
    json_t *a = apid_grant_hosts_json(&g, v, 4, NULL, 0, NOW), *h;

    h = host(a, 0);
    ck_assert_str_eq(s_of(h, "state"), "deleted");
    ck_assert_str_eq(s_of(h, "deleted_at"), "2033-05-18T03:33:10Z");
    ck_assert_ptr_null(json_object_get(h, "deletion_due"));
    ck_assert_ptr_null(json_object_get(h, "sessions"));
    /* Reported, not deleted yet: the host owes the teardown. */
    h = host(a, 1);
    ck_assert_str_eq(s_of(h, "state"), "tearing_down");
    ck_assert_ptr_null(json_object_get(h, "deletion_due"));
    json_decref(a);

    /* Active but past its end is ended too; a host that never reported
     * an account has none. */
    g = grant("active", "keep");
    g.expires_at = NOW - 1;
    a = apid_grant_hosts_json(&g, v + 3, 1, NULL, 0, NOW);
    ck_assert_str_eq(s_of(host(a, 0), "state"), "none");
    ck_assert_str_eq(s_of(host(a, 1), "state"), "tearing_down");
    json_decref(a);
}
END_TEST

START_TEST(test_failed)
{
    struct apid_grant g = grant("expired", "keep");
    struct apid_event v[] = {
        ev("web01.test", "account.created", NOW - 100, NULL),
        ev("web01.test", "account.disable_failed", NOW - 50,
           "{\"cause\":\"expired\",\"uid\":70000,"
           "\"error\":\"home: rename: Operation not permitted\"}"),
        ev("web02.test", "account.created", NOW - 100, NULL),
        ev("web02.test", "account.disable_failed", NOW - 50, "[1]"),
        ev("web02.test", "account.disable_failed", NOW - 40,
           "{\"cause\":\"retry\"}"),
    };
    json_t *a = apid_grant_hosts_json(&g, v, 5, NULL, 0, NOW), *h;

    h = host(a, 0);
    ck_assert_str_eq(s_of(h, "state"), "disable_failed");
    ck_assert_str_eq(s_of(h, "error"),
                     "home: rename: Operation not permitted");
    ck_assert(json_is_true(json_object_get(h, "retried")));
    /* No error: the cause; and the last word stands. */
    ck_assert_str_eq(s_of(host(a, 1), "error"), "retry");
    json_decref(a);

    /* A retry that succeeds: deleted, the failure gone from the view. */
    {
        struct apid_event w[] = {
            v[0], v[1],
            ev("web01.test", "account.deleted", NOW - 5, NULL),
        };

        a = apid_grant_hosts_json(&g, w, 3, NULL, 0, NOW);
        h = host(a, 0);
        ck_assert_str_eq(s_of(h, "state"), "deleted");
        ck_assert_ptr_null(json_object_get(h, "error"));
        json_decref(a);
    }
}
END_TEST

/* A hostile host: escapes and newlines in its reason, a huge reason, an
 * event for a host the grant does not name, a detail that is not JSON. */
START_TEST(test_hostile)
{
    static char big[5000];
    char detail[5100];
    struct apid_grant g = grant("expired", "keep");
    struct apid_event v[] = {
        ev("web01.test", "account.created", NOW - 100, NULL),
        ev("web01.test", "account.disable_failed", NOW - 50,
           "{\"error\":\"a\\u001b[2Jb\\nc\\u0085d\\u007fe\"}"),
        ev("evil.test", "account.created", NOW - 100, NULL),
        ev("evil.test", "account.disable_failed", NOW - 50, detail),
        ev("web02.test", "account.created", NOW - 100, NULL),
        ev("web02.test", "account.disable_failed", NOW - 50, "{not json"),
    };
    json_t *a, *h;
    const char *e;

    memset(big, 0, sizeof(big));
    for (size_t i = 0; i + 2 < 4000; i += 2)
        memcpy(big + i, "\xc3\xa9", 2); /* é, cut only between characters */
    snprintf(detail, sizeof(detail), "{\"error\":\"%s\"}", big);
    a = apid_grant_hosts_json(&g, v, 6, NULL, 0, NOW);
    ck_assert_int_eq(json_array_size(a), 3);
    ck_assert_str_eq(s_of(host(a, 0), "error"), "a?[2Jb?c?d?e");
    ck_assert_str_eq(s_of(host(a, 1), "error"), "no reason given");
    h = host(a, 2);
    ck_assert_str_eq(s_of(h, "host"), "evil.test");
    e = s_of(h, "error");
    /* Cut at 300 bytes with "..." in them, between two é. */
    ck_assert_uint_le(strlen(e), 300);
    ck_assert_uint_ge(strlen(e), 297);
    ck_assert_str_eq(e + strlen(e) - 3, "...");
    ck_assert_uint_eq((strlen(e) - 3) % 2, 0);
    ck_assert_mem_eq(e + strlen(e) - 5, "\xc3\xa9", 2);
    json_decref(a);
}
END_TEST

/* The words a host gives for a failed teardown cannot turn a line
 * around on a terminal or hide part of it: bidirectional overrides,
 * isolates and marks, separators, invisible characters. */
START_TEST(test_bidi)
{
    struct apid_grant g = grant("expired", "keep");
    struct apid_event v[] = {
        ev("web01.test", "account.created", NOW - 100, NULL),
        ev("web01.test", "account.disable_failed", NOW - 50,
           "{\"error\":\"ok\\u202etxt.exe\\u2066x\\u2069\\u200fy\\u061cz"
           "\\u2028w\\u2029v\\u200bu\\u00a0t\\ufeffs\\udb40\\udc41r\"}"),
    };
    json_t *a = apid_grant_hosts_json(&g, v, 2, NULL, 0, NOW);

    ck_assert_str_eq(s_of(host(a, 0), "error"), "ok?txt.exe?x??y?z?w?v?u t?s?r");
    json_decref(a);
}
END_TEST

/* The one rule of jit show and the mails (apid_shown_text), on bytes
 * JSON would not carry: not UTF-8, overlong, surrogates; and the cut. */
START_TEST(test_shown_text)
{
    char out[301];

    apid_shown_text("a\xff\xc0\xaf" "b\xed\xa0\x80" "c\xe2\x80", 300, out);
    ck_assert_str_eq(out, "a???b???c??");
    apid_shown_text("caf\xc3\xa9", 300, out);
    ck_assert_str_eq(out, "caf\xc3\xa9");
    /* Exactly max: whole; one more: cut, "..." within max. */
    apid_shown_text("abcdef", 6, out);
    ck_assert_str_eq(out, "abcdef");
    apid_shown_text("abcdefg", 6, out);
    ck_assert_str_eq(out, "abc...");
    /* A 3-byte character that would end past max - 3: left out whole. */
    apid_shown_text("ab\xe2\x82\xac" "defgh", 7, out);
    ck_assert_str_eq(out, "ab...");
    apid_shown_text("\xe2\x80\xae", 300, out);
    ck_assert_str_eq(out, "?");
}
END_TEST

/* c as UTF-8 between 'a' and 'b', in out. */
static void
around(long c, char out[8])
{
    size_t o = 0;

    out[o++] = 'a';
    if (c < 0x800) {
        out[o++] = (char) (0xc0 | (c >> 6));
    } else if (c < 0x10000) {
        out[o++] = (char) (0xe0 | (c >> 12));
        out[o++] = (char) (0x80 | ((c >> 6) & 0x3f));
    } else {
        out[o++] = (char) (0xf0 | (c >> 18));
        out[o++] = (char) (0x80 | ((c >> 12) & 0x3f));
        out[o++] = (char) (0x80 | ((c >> 6) & 0x3f));
    }
    out[o++] = (char) (0x80 | (c & 0x3f));
    out[o++] = 'b';
    out[o] = '\0';
}

/* Every invisible format character (Unicode's Cf), variation selector,
 * Hangul filler and the combining grapheme joiner: a '?', so that a
 * name or reason cannot hide text from an approver (a soft hyphen, an
 * Arabic number sign, a tag, a variation selector); their neighbours
 * shown as they are. */
START_TEST(test_shown_text_invisible)
{
    static const long hidden[][2] = {
        { 0x00ad, 0x00ad }, { 0x034f, 0x034f }, { 0x0600, 0x0605 },
        { 0x061c, 0x061c }, { 0x06dd, 0x06dd }, { 0x070f, 0x070f },
        { 0x08e2, 0x08e2 }, { 0x115f, 0x1160 }, { 0x180e, 0x180e },
        { 0x200b, 0x200f }, { 0x202a, 0x202e }, { 0x2060, 0x2064 },
        { 0x2066, 0x206f }, { 0x3164, 0x3164 }, { 0xfe00, 0xfe0f },
        { 0xfeff, 0xfeff }, { 0xffa0, 0xffa0 }, { 0xfff9, 0xfffb },
        { 0x110bd, 0x110bd }, { 0x110cd, 0x110cd }, { 0x13430, 0x1343f },
        { 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a }, { 0xe0001, 0xe0001 },
        { 0xe0020, 0xe007f }, { 0xe0100, 0xe01ef },
    };
    static const long shown[] = { 0x00ae, 0x0350, 0x0606, 0x06de, 0x08e3,
                                  0x1161, 0x2070, 0xfe10, 0xffa1,
                                  0x1d17b, 0xe01f0, 0x1f600 };
    char in[8], out[32];

    for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
        for (long c = hidden[i][0]; c <= hidden[i][1]; c++) {
            around(c, in);
            apid_shown_text(in, 30, out);
            ck_assert_msg(strcmp(out, "a?b") == 0, "U+%04lX: %s", c, out);
        }
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        around(shown[i], in);
        apid_shown_text(in, 30, out);
        ck_assert_msg(strcmp(out, in) == 0, "U+%04lX changed", shown[i]);
    }
}
END_TEST

/* A kept account a later grant of the same person took over: per host,
 * the handover the store found for that host (apid_store_handovers);
 * another grant's handover is not this one's. */
START_TEST(test_handed_over)
{
    struct apid_grant g = grant("expired", "keep");
    struct apid_event v[] = {
        ev("web01.test", "account.created", NOW - 100, NULL),
        ev("web02.test", "account.created", NOW - 100, NULL),
        ev("web02.test", "account.deleted", NOW - 60, NULL),
    };
    struct apid_handover ho[] = {
        { .orig = (char *) "g-1", .grant = (char *) "g-3",
          .host = (char *) "web01.test", .time = NOW - 10 },
        { .orig = (char *) "g-1", .grant = (char *) "g-2",
          .host = (char *) "web02.test", .time = NOW - 20 },
    };
    json_t *a = apid_grant_hosts_json(&g, v, 3, ho, 2, NOW), *h;

    h = host(a, 0);
    ck_assert_str_eq(s_of(h, "state"), "handed_over");
    ck_assert_str_eq(s_of(h, "handed_over_to"), "g-3");
    /* Deleted before g-2 made a new one: deleted, not handed over. */
    ck_assert_str_eq(s_of(host(a, 1), "state"), "deleted");
    json_decref(a);
    /* Another grant's handovers: still this one's teardown. */
    ho[0].orig = (char *) "g-0";
    a = apid_grant_hosts_json(&g, v, 3, ho, 1, NOW);
    ck_assert_str_eq(s_of(host(a, 0), "state"), "tearing_down");
    json_decref(a);
}
END_TEST

/* A host's events in the order jit-apid received them (seq), whatever
 * the host's clock says: a clock stepped back cannot undo a session or
 * bring a deleted account back. */
START_TEST(test_arrival_order)
{
    struct apid_grant g = grant("active", "keep");
    struct apid_event v[] = {
        ev("web01.test", "session.opened", NOW - 500, NULL),
        ev("web01.test", "account.created", NOW - 100, NULL),
        ev("web02.test", "account.deleted", NOW - 900, NULL),
        ev("web02.test", "account.created", NOW - 50, NULL),
    };
    json_t *a, *h;

    /* As a store ordered by time would give them; received otherwise. */
    v[0].seq = 2;
    v[1].seq = 1;
    v[2].seq = 4;
    v[3].seq = 3;
    a = apid_grant_hosts_json(&g, v, 4, NULL, 0, NOW);
    h = host(a, 0);
    ck_assert_str_eq(s_of(h, "state"), "active");
    ck_assert_int_eq(json_integer_value(json_object_get(h, "sessions")), 1);
    h = host(a, 1);
    ck_assert_str_eq(s_of(h, "state"), "deleted");
    json_decref(a);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("grantview");
    TCase *tc = tcase_create("view");

    tcase_add_test(tc, test_in_force);
    tcase_add_test(tc, test_ended);
    tcase_add_test(tc, test_failed);
    tcase_add_test(tc, test_hostile);
    tcase_add_test(tc, test_handed_over);
    tcase_add_test(tc, test_arrival_order);
    tcase_add_test(tc, test_bidi);
    tcase_add_test(tc, test_shown_text);
    tcase_add_test(tc, test_shown_text_invisible);
    suite_add_tcase(s, tc);
    return t_run(s);
}
