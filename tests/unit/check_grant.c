/* SPDX-License-Identifier: MIT */
/* Unit tests: grant JSON from the API (lib/core/grant.c), RFC 3339 times
 * (lib/core/timefmt.c); (doc/design.md, threats B2, B4, C1, C4, G1). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grant.h"
#include "core/timefmt.h"
#include "testlib.h"

#define GOOD \
    "{\"id\": \"g-7f3a\", \"credential\": \"db-admin\"," \
    " \"requester\": \"alice@EXAMPLE.COM\", \"username\": \"alice\"," \
    " \"host\": \"web01.example.com\", \"groups\": [\"sudo\"]," \
    " \"not_before\": \"2026-11-23T09:00:00Z\"," \
    " \"expires_at\": \"2026-11-23T10:00:00Z\"," \
    " \"reason\": \"INC-4411 restart replica\", \"status\": \"active\"," \
    " \"on_logout\": \"keep\"," \
    " \"ssh_keys\": [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop\"]," \
    " \"future_field\": {\"ignored\": true}}"

static char err[256];

/* GOOD with `from` replaced by `to` (which must occur once). */
static int
parse_edit(const char *from, const char *to)
{
    const char *at = strstr(GOOD, from);
    struct jit_grant g;
    char buf[4096];
    int r;

    ck_assert_ptr_nonnull(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (at - GOOD), GOOD, to,
             at + strlen(from));
    r = jit_grant_parse(buf, strlen(buf), &g, err, sizeof(err));
    jit_grant_free(&g);
    return r;
}

#define REFUSED(from, to, msg)                                          \
    do {                                                                \
        ck_assert_int_eq(parse_edit(from, to), -EINVAL);                \
        ck_assert_msg(strstr(err, msg) != NULL, "got \"%s\", want \"%s\"", \
                      err, msg);                                        \
    } while (0)

START_TEST(test_good)
{
    struct jit_grant g;

    ck_assert_int_eq(jit_grant_parse(GOOD, strlen(GOOD), &g, err,
                                     sizeof(err)), 0);
    ck_assert_str_eq(g.id, "g-7f3a");
    ck_assert_str_eq(g.username, "alice");
    ck_assert_str_eq(g.requester, "alice@EXAMPLE.COM");
    ck_assert_uint_eq(g.n_groups, 1);
    ck_assert_str_eq(g.groups[0], "sudo");
    ck_assert_int_eq(g.not_before, 1795424400);
    ck_assert_int_eq(g.expires_at, 1795428000);
    ck_assert_uint_eq(g.n_ssh_keys, 1);
    ck_assert_str_eq(g.on_logout, "keep");
    jit_grant_free(&g);
    /* ssh_keys is optional. */
    ck_assert_int_eq(parse_edit(", \"ssh_keys\": [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop\"]", ""), 0);
}
END_TEST

START_TEST(test_missing_and_mistyped)
{
    REFUSED("\"id\": \"g-7f3a\", ", "", "id: missing");
    REFUSED("\"expires_at\": \"2026-11-23T10:00:00Z\",", "", "expires_at: missing");
    REFUSED("\"groups\": [\"sudo\"],", "", "groups: missing");
    REFUSED("\"username\": \"alice\"", "\"username\": 1000", "username: not a string");
    REFUSED("[\"sudo\"]", "\"sudo\"", "groups: not an array");
    REFUSED("[\"sudo\"]", "[27]", "groups[0]: not a string");
    REFUSED("\"status\": \"active\"", "\"status\": true", "status: not a string");
    REFUSED("\"status\": \"active\"", "\"status\": \"pending\"", "status: not active");
    REFUSED("\"on_logout\": \"keep\"", "\"on_logout\": \"shred\"", "on_logout: not keep");
    REFUSED("\"reason\": \"INC-4411 restart replica\"", "\"reason\": \"\"", "reason: must be 1 to");
}
END_TEST

START_TEST(test_hostile_values)
{
    /* Names (doc/design.md, threat C1). */
    REFUSED("\"username\": \"alice\"", "\"username\": \"root\"", "username: name is reserved");
    REFUSED("\"username\": \"alice\"", "\"username\": \"0day\"", "username:");
    REFUSED("\"username\": \"alice\"", "\"username\": \"a\\nb\"", "username:");
    REFUSED("\"username\": \"alice\"", "\"username\": \"../x\"", "username:");
    /* NUL inside a string: jansson refuses \u0000 outright. */
    REFUSED("\"username\": \"alice\"", "\"username\": \"al\\u0000ice\"", "not valid JSON");
    /* Duplicate keys (doc/design.md, threat B2). */
    REFUSED("\"username\": \"alice\"", "\"username\": \"alice\", \"username\": \"bob\"", "not valid JSON");
    /* Root's group, control characters in free text (doc/design.md,
     * threats C4, G1). */
    REFUSED("[\"sudo\"]", "[\"root\"]", "groups[0]: root");
    REFUSED("[\"sudo\"]", "[\"sudo\", \"sudo\"]", "groups[1]: listed twice");
    REFUSED("alice@EXAMPLE.COM", "alice@X\\n user=root", "requester: contains control");
    REFUSED("alice@EXAMPLE.COM", "alice\\u001b[31m", "requester: contains control");
    REFUSED("alice@EXAMPLE.COM", "alice\\u0085", "requester: contains control");
    REFUSED("INC-4411 restart replica", "x\\ry", "reason: contains control");
    REFUSED("g-7f3a", "g 7f3a", "id: only");
    REFUSED("db-admin", "db admin", "credential: only");
    /* ':' would split the account's gecos ("JIT <credential>"). */
    REFUSED("db-admin", "db:admin", "credential: only letters, digits and ._@+/- allowed");
    /* C1 controls and bytes that are not UTF-8 (jansson catches the
     * latter on the way in; jit_text_problem on its own, below). */
    REFUSED("INC-4411 restart replica", "x\\u009by", "reason: contains control");
    REFUSED("INC-4411 restart replica", "x\\u007fy", "reason: contains control");
    REFUSED("INC-4411 restart replica", "x\xc3\x28y", "not valid JSON");
    /* Keys that are not keys: sshd skips the line, the grant gives
     * nothing the requester can use. */
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "ssh-rsa notbase64", "ssh_keys[0]: key data is not base64");
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "hello world", "ssh_keys[0]: does not start with a known key type");
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "ssh-dss AAAAB3NzaC1kc3MAAACBAP8= x", "ssh_keys[0]: does not start with a known key type");
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 x", "ssh_keys[0]: key data is not a key of its type");
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5= x", "ssh_keys[0]: key data is not base64");
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 a\u00e9b", "ssh_keys[0]: has a comment that is not printable ASCII");
    REFUSED("web01.example.com", "web01..example.com", "host:");
    /* authorized_keys injection. */
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "command=\\\"id\\\" ssh-ed25519 AAAA", "ssh_keys[0]: does not start");
    REFUSED("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop", "ssh-ed25519 AAAA\\nssh-rsa BBBB", "ssh_keys[0]: contains control");
    /* Times (doc/design.md, threat B4). */
    REFUSED("2026-11-23T10:00:00Z", "2026-11-23T08:00:00Z", "expires_at: not after");
    REFUSED("2026-11-23T10:00:00Z", "2026-11-23 10:00:00", "expires_at: not an RFC 3339");
    REFUSED("2026-11-23T10:00:00Z", "2026-11-23T10:00:00+02:00", "expires_at: not an RFC 3339");
    REFUSED("2026-11-23T10:00:00Z", "1795428000", "expires_at: not an RFC 3339");
}
END_TEST

/* The per-field checks jit-apid builds grants with are the parser's. */
START_TEST(test_field_checks)
{
    char sudo[] = "sudo", adm[] = "adm", root[] = "root";
    char *v[3] = { sudo, adm, sudo };
    char big[JIT_GRANT_REASON_MAX + 2];
    size_t at;

    ck_assert_ptr_null(jit_text_problem("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"));
    ck_assert_str_eq(jit_text_problem("a\xc2\x85"), "contains control characters");
    ck_assert_str_eq(jit_text_problem("a\xc2\x9f"), "contains control characters");
    ck_assert_ptr_null(jit_text_problem("a\xc2\xa0"));
    ck_assert_str_eq(jit_text_problem("a\x7f"), "contains control characters");
    ck_assert_str_eq(jit_text_problem("\xc3\x28"), "is not valid UTF-8");
    ck_assert_str_eq(jit_text_problem("\xc0\xaf"), "is not valid UTF-8");     /* overlong '/' */
    ck_assert_str_eq(jit_text_problem("\xe0\x80\xaf"), "is not valid UTF-8"); /* overlong */
    ck_assert_str_eq(jit_text_problem("\xed\xa0\x80"), "is not valid UTF-8"); /* surrogate */
    ck_assert_str_eq(jit_text_problem("\xf4\x90\x80\x80"), "is not valid UTF-8");
    ck_assert_str_eq(jit_text_problem("\xe2\x82"), "is not valid UTF-8");     /* cut short */
    ck_assert_str_eq(jit_text_problem("\xff"), "is not valid UTF-8");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_str_eq(jit_grant_field_problem(JIT_GRANT_F_REASON, big), "must be 1 to 1024 bytes");
    big[sizeof(big) - 2] = '\0';
    ck_assert_ptr_null(jit_grant_field_problem(JIT_GRANT_F_REASON, big));
    ck_assert_str_eq(jit_grant_field_problem(JIT_GRANT_F_CREDENTIAL, "a:b"), "only letters, digits and ._@+/- allowed");
    ck_assert_str_eq(jit_grant_list_problem(JIT_GRANT_F_GROUP, v, 3, &at), "listed twice");
    ck_assert_uint_eq(at, 2);
    ck_assert_ptr_null(jit_grant_list_problem(JIT_GRANT_F_GROUP, v, 2, &at));
    ck_assert_uint_eq(at, 2);
    v[1] = root;
    ck_assert_str_eq(jit_grant_list_problem(JIT_GRANT_F_GROUP, v, 2, &at), "root's group can never be granted");
    ck_assert_uint_eq(at, 1);
    /* Every allowed type, with data of that type. */
    ck_assert_ptr_null(jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAmIX3ooAgBdg37yNoDyeQmOFQc2dfU8/d6BbUMMn11YzsF1K0pGIVJqVby+3ZOP1d6k6XFZLO6ZMR5F+hJVycU= e"));
    ck_assert_ptr_null(jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINggjGJUKs5qKXKqCdhkJ8+lr68B5K/UyFM3pt0ScPgr"));
}
END_TEST

START_TEST(test_not_json_or_too_deep)
{
    struct jit_grant g;
    size_t n = 100000;
    char *deep = malloc(n + 1);

    ck_assert_int_eq(jit_grant_parse("", 0, &g, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(jit_grant_parse("[]", 2, &g, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "grant: not a JSON object");
    ck_assert_int_eq(jit_grant_parse("{\"id\":", 6, &g, err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not valid JSON (line 1"));
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', n);
    deep[n] = '\0';
    ck_assert_int_eq(jit_grant_parse(deep, n, &g, err, sizeof(err)), -EINVAL);
    free(deep);
    /* Trailing garbage after the object. */
    ck_assert_int_eq(jit_grant_parse(GOOD "x", strlen(GOOD) + 1, &g, err,
                                     sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(test_list)
{
    char buf[16384];
    struct jit_grant_list l;

    snprintf(buf, sizeof(buf), "{\"grants\": [%s]}", GOOD);
    ck_assert_int_eq(jit_grant_list_parse(buf, strlen(buf), &l, err,
                                          sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.n_bad, 0);
    jit_grant_list_free(&l);
    ck_assert_int_eq(jit_grant_list_parse("{\"grants\": []}", 14, &l,
                                          err, sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 0);
    jit_grant_list_free(&l);
    /* One bad entry is refused on its own; the good one stands. */
    snprintf(buf, sizeof(buf), "{\"grants\": [%s, {\"id\": 1}, "
             "{\"id\": \"g-9\", \"username\": \"bob\"}]}", GOOD);
    ck_assert_int_eq(jit_grant_list_parse(buf, strlen(buf), &l, err,
                                          sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.n_bad, 2);
    ck_assert_uint_eq(l.bad[0].index, 1);
    ck_assert_str_eq(l.bad[0].why, "id: not a string");
    ck_assert_ptr_null(l.bad[0].id);
    ck_assert_ptr_null(l.bad[0].username);
    ck_assert_int_eq(l.bad[0].key[0], '#');
    ck_assert_str_eq(l.bad[1].id, "g-9");
    ck_assert_str_eq(l.bad[1].key, "g-9");
    ck_assert_str_eq(l.bad[1].username, "bob");
    ck_assert_str_eq(l.bad[1].why, "credential: missing");
    jit_grant_list_free(&l);
    /* The same id twice: both refused (which one would the API mean?). */
    snprintf(buf, sizeof(buf), "{\"grants\": [%s, %s]}", GOOD, GOOD);
    ck_assert_int_eq(jit_grant_list_parse(buf, strlen(buf), &l, err,
                                          sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_uint_eq(l.n_bad, 2);
    ck_assert_str_eq(l.bad[0].why, "id: listed more than once");
    jit_grant_list_free(&l);
    /* ... also when the other one is itself bad. */
    snprintf(buf, sizeof(buf), "{\"grants\": [{\"id\": \"g-7f3a\"}, %s]}",
             GOOD);
    ck_assert_int_eq(jit_grant_list_parse(buf, strlen(buf), &l, err,
                                          sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_uint_eq(l.n_bad, 2);
    jit_grant_list_free(&l);
    /* A broken envelope refuses the whole answer. */
    ck_assert_int_eq(jit_grant_list_parse("{}", 2, &l, err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_null(l.v);
    ck_assert_int_eq(jit_grant_list_parse("{\"grants\": [", 12, &l, err,
                                          sizeof(err)), -EINVAL);
    ck_assert_int_eq(jit_grant_list_parse("{\"grants\": {}}", 14, &l, err,
                                          sizeof(err)), -EINVAL);
}
END_TEST

/* Where a grant stands, at the edges of each rule: the one decision that
 * a login, a sync, sshd's keys and open sessions all ask. */
START_TEST(test_standing)
{
    char active[] = "active", revoked[] = "revoked", expired[] = "expired",
         pending[] = "pending", denied[] = "denied", empty[] = "",
         upper[] = "Active";
    struct jit_grant g = {
        .status = active, .not_before = 1000, .expires_at = 2000,
    };

    /* not_before: up to skew seconds ahead is allowed, one more is not. */
    ck_assert_int_eq(jit_grant_standing(&g, 1000, 0), JIT_GRANT_IN_FORCE);
    ck_assert_int_eq(jit_grant_standing(&g, 999, 0), JIT_GRANT_NOT_YET);
    ck_assert_int_eq(jit_grant_standing(&g, 940, 60), JIT_GRANT_IN_FORCE);
    ck_assert_int_eq(jit_grant_standing(&g, 939, 60), JIT_GRANT_NOT_YET);
    ck_assert_int_eq(jit_grant_standing(&g, -5, 60), JIT_GRANT_NOT_YET);
    /* expires_at: over at the second it names, whatever the skew. */
    ck_assert_int_eq(jit_grant_standing(&g, 1999, 0), JIT_GRANT_IN_FORCE);
    ck_assert_int_eq(jit_grant_standing(&g, 1999, 3600), JIT_GRANT_IN_FORCE);
    ck_assert_int_eq(jit_grant_standing(&g, 2000, 0), JIT_GRANT_OVER);
    ck_assert_int_eq(jit_grant_standing(&g, 2000, 3600), JIT_GRANT_OVER);
    ck_assert_int_eq(jit_grant_standing(&g, INT64_MAX - 4000, 60),
                     JIT_GRANT_OVER);
    /* Not yet valid and already over (no grant the parser accepts): the
     * start is named first, as a login's refusal always has. */
    g.not_before = 3000;
    ck_assert_int_eq(jit_grant_standing(&g, 2500, 60), JIT_GRANT_NOT_YET);
    g.not_before = 1000;
    /* The status decides before the clock does. */
    g.status = revoked;
    ck_assert_int_eq(jit_grant_standing(&g, 1500, 0), JIT_GRANT_REVOKED);
    ck_assert_int_eq(jit_grant_standing(&g, 500, 0), JIT_GRANT_REVOKED);
    ck_assert_int_eq(jit_grant_standing(&g, 2500, 0), JIT_GRANT_REVOKED);
    g.status = expired;
    ck_assert_int_eq(jit_grant_standing(&g, 1500, 0), JIT_GRANT_CLOSED);
    ck_assert_int_eq(jit_grant_standing(&g, 500, 0), JIT_GRANT_CLOSED);
    /* pending (not yet approved) and any other word: not in force. */
    g.status = pending;
    ck_assert_int_eq(jit_grant_standing(&g, 1500, 0), JIT_GRANT_CLOSED);
    g.status = denied;
    ck_assert_int_eq(jit_grant_standing(&g, 1500, 0), JIT_GRANT_CLOSED);
    g.status = empty;
    ck_assert_int_eq(jit_grant_standing(&g, 1500, 0), JIT_GRANT_CLOSED);
    g.status = upper;
    ck_assert_int_eq(jit_grant_standing(&g, 1500, 0), JIT_GRANT_CLOSED);
}
END_TEST

START_TEST(test_times)
{
    int64_t t;

    ck_assert_int_eq(jit_time_parse("1970-01-01T00:00:00Z", &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(jit_time_parse("2024-02-29T23:59:60.123Z", &t), 0);
    ck_assert_int_eq(t, 1709251199);
    ck_assert_int_eq(jit_time_parse("2026-11-23t09:00:00+00:00", &t), 0);
    ck_assert_int_eq(t, 1795424400);
    static const char *const bad[] = {
        "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z", "1969-12-31T23:59:59Z", "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zx", "+2026-01-01T00:00:00Z",
        "2026-1-01T00:00:00Z", "", "2026-01-01T00:00:00-05:00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(jit_time_parse(bad[i], &t) == -EINVAL, "accepted %s",
                      bad[i]);
}
END_TEST

/* A key's comment is a label for people (sshd reads the type and the
 * data and ignores the rest of the line): any printable ASCII, as
 * ssh-keygen -C writes real ones, but nothing a terminal or a log acts
 * on, and no UTF-8 (a bidi override or a look-alike letter would make
 * one key's label read as another's). */
#define K_ED "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5"
START_TEST(test_key_comments)
{
    static const char *const good[] = {
        K_ED " alice (work laptop)",
        K_ED " alice@host [yubikey]",
        K_ED " a;b",
        K_ED " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
        K_ED "  two spaces first",
        K_ED " trailing space ",
        K_ED " ",
        K_ED,
    };
    static const char *const bad[][2] = {
        { K_ED " caf\xc3\xa9", "has a comment that is not printable ASCII" },
        { K_ED " \xe2\x80\xae" "drawkcab", "has a comment that is not printable ASCII" },
        { K_ED " a\tb", "contains control characters" },
        { K_ED " a\x7f" "b", "contains control characters" },
        { K_ED " a\xc2\x85" "b", "contains control characters" },
        { K_ED " a\nssh-rsa AAAA", "contains control characters" },
        { K_ED " a\xff", "is not valid UTF-8" },
    };
    char big[JIT_GRANT_SSH_KEY_MAX + 2];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, good[i])
                          == NULL, "%s: %s", good[i],
                      jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = jit_grant_field_problem(JIT_GRANT_F_SSH_KEY,
                                                  bad[i][0]);

        ck_assert_msg(why != NULL && strcmp(why, bad[i][1]) == 0,
                      "%s: got %s, want %s", bad[i][0], why ? why : "(none)",
                      bad[i][1]);
    }
    /* The length limit is the whole line's, comment included. */
    memset(big, 'x', sizeof(big) - 1);
    memcpy(big, K_ED " (", strlen(K_ED) + 2);
    big[JIT_GRANT_SSH_KEY_MAX - 1] = ')';
    big[JIT_GRANT_SSH_KEY_MAX] = '\0';
    ck_assert_ptr_null(jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, big));
    big[JIT_GRANT_SSH_KEY_MAX] = 'x';
    big[JIT_GRANT_SSH_KEY_MAX + 1] = '\0';
    ck_assert_str_eq(jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, big),
                     "must be 1 to 8192 bytes");
    /* And so the host's parser takes such a grant. */
    ck_assert_int_eq(parse_edit("alice@laptop\"]", "alice (work laptop) [yubikey]\"]"), 0);
    REFUSED("alice@laptop\"]", "caf\xc3\xa9\"]", "ssh_keys[0]: has a comment that is not printable ASCII");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("grant");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_missing_and_mistyped);
    tcase_add_test(tc, test_hostile_values);
    tcase_add_test(tc, test_not_json_or_too_deep);
    tcase_add_test(tc, test_field_checks);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_times);
    tcase_add_test(tc, test_standing);
    tcase_add_test(tc, test_key_comments);
    suite_add_tcase(s, tc);
    return t_run(s);
}
