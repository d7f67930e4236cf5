/* SPDX-License-Identifier: MIT */
/* Unit test: every grant jit-apid can produce parses on the host
 * (lib/core/grant.c's jit_grant_parse), and a request it refuses stores
 * nothing.  Requests go through jit-apid's own handler (apid_route) with
 * an SQLite store: a table of cases at the edges of each rule, then
 * random requests assembled from valid and invalid parts. */
#include "config.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apidlib.h"
#include "contrib/jit-apid/diraccount.h"
#include "contrib/jit-apid/hostview.h"
#include "contrib/jit-apid/ldap.h"
#include "core/grant.h"
#include "testlib.h"

static struct apid A;
static char *dir;
static size_t made, refused;

/* Key data for every type the hosts take: the type's name as an SSH
 * string, then 32 bytes, in base64 (what key_blob_problem reads). */
static const char *const key_types[] = {
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};
#define N_TYPES (sizeof(key_types) / sizeof(key_types[0]))

static void
make_key(const char *type, const char *data_type, int seed, char *out,
         size_t outlen)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[128];
    size_t n = 0, tl = strlen(data_type), k;

    raw[n++] = 0, raw[n++] = 0, raw[n++] = 0, raw[n++] = (unsigned char) tl;
    memcpy(raw + n, data_type, tl);
    n += tl;
    raw[n++] = 0, raw[n++] = 0, raw[n++] = 0, raw[n++] = 32;
    for (int i = 0; i < 32; i++)
        raw[n++] = (unsigned char) (seed * 31 + i * 7);
    k = (size_t) snprintf(out, outlen, "%s ", type);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned) raw[i] << 16
                     | (i + 1 < n ? (unsigned) raw[i + 1] << 8 : 0)
                     | (i + 2 < n ? raw[i + 2] : 0);

        out[k++] = b64[v >> 18 & 63];
        out[k++] = b64[v >> 12 & 63];
        out[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? b64[v & 63] : '=';
    }
    snprintf(out + k, outlen - k, " k%d@test", seed);
}

/* s as a JSON string into out: '"' and '\' escaped, bytes below 0x20
 * as \u00XX, everything else as it is (so that bytes that are not UTF-8
 * reach the parser). */
static size_t
jstr(char *out, const char *s)
{
    size_t k = 0;

    out[k++] = '"';
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            out[k++] = '\\', out[k++] = (char) *p;
        else if (*p < 0x20)
            k += (size_t) sprintf(out + k, "\\u%04x", *p);
        else
            out[k++] = (char) *p;
    }
    out[k++] = '"';
    out[k] = '\0';
    return k;
}

struct req {
    const char *cred, *host, *reason;
    const char *groups[80];
    int n_groups; /* -1: none given */
    const char *keys[40];
    int n_keys;
};

static char *
body_of(const struct req *q)
{
    size_t cap = 64 + 6 * (strlen(q->cred) + strlen(q->reason)) + 400 * 80
                 + 40 * 6 * 8300;
    char *b = malloc(cap), *p = b;

    ck_assert_ptr_nonnull(b);
    p += sprintf(p, "{\"credential\": ");
    p += jstr(p, q->cred);
    p += sprintf(p, ", \"host\": \"%s\", \"duration\": 600, \"reason\": ",
                 q->host);
    p += jstr(p, q->reason);
    if (q->n_groups >= 0) {
        p += sprintf(p, ", \"groups\": [");
        for (int i = 0; i < q->n_groups; i++) {
            p += sprintf(p, "%s", i ? ", " : "");
            p += jstr(p, q->groups[i]);
        }
        p += sprintf(p, "]");
    }
    if (q->n_keys >= 0) {
        p += sprintf(p, ", \"ssh_keys\": [");
        for (int i = 0; i < q->n_keys; i++) {
            p += sprintf(p, "%s", i ? ", " : "");
            p += jstr(p, q->keys[i]);
        }
        p += sprintf(p, "]");
    }
    sprintf(p, "}");
    return b;
}

/* Every grant in each host's list (the host's own view, through the
 * host API) parses; the one just made is in it. */
static void
host_lists_parse(const char *id)
{
    static const char *const hosts[][2] = {
        { "/v1/hosts/web01.test/grants", TA_HOST1 },
        { "/v1/hosts/web02.test/grants", TA_HOST2 },
    };
    int seen = 0;

    for (size_t h = 0; h < 2; h++) {
        struct apid_reply r;
        struct jit_grant_list l;
        char err[256];

        ta_call(&A, "GET", hosts[h][0], hosts[h][1], NULL, NULL, 0, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_int_eq(jit_grant_list_parse(r.body, strlen(r.body), &l, err,
                                              sizeof(err)), 0);
        ck_assert_msg(l.n_bad == 0, "host %zu refuses %s: %s", h,
                      l.bad[0].key, l.bad[0].why);
        for (size_t i = 0; i < l.n; i++)
            seen += strcmp(l.v[i].id, id) == 0;
        jit_grant_list_free(&l);
        free(r.body);
    }
    ck_assert_int_ge(seen, 1);
}

/* One request.  want: 201, 400 (with message prefix msg) or 0 (any
 * 201 or 4xx).  A 201 must give host views that parse, and is then
 * revoked (one active grant per person and credential); a 4xx stores
 * nothing; never a 5xx. */
static void
try(const struct req *q, unsigned want, const char *msg)
{
    char *body = body_of(q), *id = NULL;
    size_t before = ta_count(&A);
    struct apid_reply r;

    ta_call(&A, "POST", "/v1/grants", TA_ALICE, NULL, body, strlen(body), &r);
    ck_assert_msg(r.status == 201 || (r.status >= 400 && r.status < 500),
                  "status %u (%s) for %.300s", r.status, r.body, body);
    if (want != 0)
        ck_assert_msg(r.status == want, "status %u (%s), want %u, for %.300s",
                      r.status, r.body, want, body);
    if (msg != NULL)
        ck_assert_msg(r.body && strstr(r.body, msg), "got %s, want %s",
                      r.body, msg);
    if (r.status == 201) {
        json_t *o = json_loads(r.body, 0, NULL);
        struct apid_grant g;
        char path[128], err[512];

        ck_assert_ptr_nonnull(o);
        id = strdup(json_string_value(json_object_get(o, "id")));
        json_decref(o);
        ck_assert_int_eq(ta_count(&A), before + 1);
        /* The stored grant, rendered for each host, parses there. */
        ck_assert_int_eq(apid_store_grant_get(A.store, id, &g, apid_now()),
                         APID_OK);
        ck_assert_msg(apid_grant_host_check(&g, err, sizeof(err)) == 0, "%s",
                      err);
        apid_grant_free(&g);
        host_lists_parse(id);
        free(r.body);
        snprintf(path, sizeof(path), "/v1/grants/%s/revoke", id);
        ta_call(&A, "POST", path, TA_ALICE, NULL, NULL, 0, &r);
        ck_assert_uint_eq(r.status, 200);
        made++;
    } else {
        ck_assert_int_eq(ta_count(&A), before);
        refused++;
    }
    free(r.body);
    free(id);
    free(body);
}

static struct req
base(void)
{
    struct req q = { "db-admin", "web01.test", "INC-11", { NULL }, -1,
                     { NULL }, -1 };
    return q;
}

static char keys[N_TYPES][300], reason_max[1100], reason_over[1100];

START_TEST(test_table)
{
    struct req q;

    q = base();
    try(&q, 201, NULL);
    /* Every type the hosts take, all in one grant. */
    q = base();
    q.n_keys = N_TYPES;
    for (size_t i = 0; i < N_TYPES; i++)
        q.keys[i] = keys[i];
    try(&q, 201, NULL);
    /* Every group, the edges of the group rule included. */
    q = base();
    q.n_groups = (int) ta_n_groups;
    for (size_t i = 0; i < ta_n_groups; i++)
        q.groups[i] = ta_groups[i];
    try(&q, 201, NULL);
    q.groups[1] = q.groups[0];
    try(&q, 400, "groups[1]: listed twice");
    q = base();
    q.n_groups = 1;
    q.groups[0] = "root";
    try(&q, 400, "groups[0]: root's group");
    q.groups[0] = "Users";
    try(&q, 400, "groups[0]: group names start");
    q.groups[0] = "abcdefghijklmnopqrstuvwxyz0123456";
    try(&q, 400, "groups[0]: group names are 1 to 32");
    q.groups[0] = "";
    try(&q, 400, "groups[0]: group names are 1 to 32");
    q.groups[0] = "sudo"; /* a good name the policy does not give */
    try(&q, 403, "groups[0]: not allowed by policy wide");
    /* Keys. */
    q = base();
    q.n_keys = 1;
    q.keys[0] = "ssh-rsa notbase64";
    try(&q, 400, "ssh_keys[0]: key data is not base64");
    q.keys[0] = "hello world";
    try(&q, 400, "ssh_keys[0]: does not start with a known key type");
    q.keys[0] = "ssh-dss AAAAB3NzaC1kc3MAAACBAP8= x";
    try(&q, 400, "ssh_keys[0]: does not start with a known key type");
    q.keys[0] = "ssh-ed25519";
    try(&q, 400, "ssh_keys[0]: does not start with a known key type");
    q.keys[0] = "";
    try(&q, 400, "ssh_keys[0]: must be 1 to 8192 bytes");
    q.n_keys = 2;
    q.keys[0] = q.keys[1] = keys[0];
    try(&q, 400, "ssh_keys[1]: listed twice");
    q.n_keys = 33;
    for (int i = 0; i < 33; i++)
        q.keys[i] = keys[0];
    try(&q, 400, "ssh_keys: more than 32 entries");
    /* Reason: the limit, C0, DEL, C1, UTF-8. */
    q = base();
    q.reason = reason_max;
    try(&q, 201, NULL);
    q.reason = reason_over;
    try(&q, 400, "reason: must be 1 to 1024 bytes");
    q.reason = "";
    try(&q, 400, "reason: must be 1 to 1024 bytes");
    q.reason = "a\x7f" "b";
    try(&q, 400, "reason: contains control characters");
    q.reason = "a\tb";
    try(&q, 400, "reason: contains control characters");
    q.reason = "a\xc2\x80" "b";
    try(&q, 400, "reason: contains control characters");
    q.reason = "a\xc2\x9f" "b";
    try(&q, 400, "reason: contains control characters");
    q.reason = "a\xc2\xa0" "b \xef\xbf\xbd \xf4\x8f\xbf\xbf";
    try(&q, 201, NULL);
    q.reason = "a\xc3\x28";
    try(&q, 400, "reason: is not valid UTF-8");
    q.reason = "a\xed\xa0\x80";
    try(&q, 400, "reason: is not valid UTF-8");
    q.reason = "a\xc0\xaf";
    try(&q, 400, "reason: is not valid UTF-8");
    /* Credential: ':' and the charset; one no policy names. */
    q = base();
    q.cred = "db:admin";
    try(&q, 400, "credential: only letters, digits and ._@+/- allowed");
    q.cred = "db admin";
    try(&q, 400, "credential: only letters");
    q.cred = "db-admin\xc2\x85";
    try(&q, 400, "credential: only letters");
    q.cred = "other";
    try(&q, 403, NULL);
    /* Host. */
    q = base();
    q.host = "web01..test";
    try(&q, 400, "host: not a valid host name");
    q.host = "web02.test";
    try(&q, 201, NULL);
}
END_TEST

/* How many random requests test_random makes: APID_RANDOM_ROUNDS, 1500
 * when unset.  Under a sanitizer or valgrind each request costs tens of
 * times more, and scripts/test-all.sh asks for fewer there (and says so):
 * the full count has run in its plain -Werror build, and libFuzzer drives
 * the same handlers (tests/fuzz/fuzz_apid.c) under ASan+UBSan with far
 * more inputs than this.  Fewer than 150 would leave the tallies below
 * too small to mean anything, so that is refused. */
static int
random_rounds(void)
{
    const char *v = getenv("APID_RANDOM_ROUNDS");
    char *end;
    long n;

    if (!v || !*v)
        return 1500;
    n = strtol(v, &end, 10);
    ck_assert_msg(*end == '\0' && n >= 150 && n <= 1000000,
                  "APID_RANDOM_ROUNDS=%s: want a count from 150 to 1000000", v);
    return (int) n;
}

/* Random requests from parts that are valid, at an edge, or invalid.
 * When every part is valid the request must be granted. */
START_TEST(test_random)
{
    static const char *const creds[] = { "db-admin", "db:admin", "db-admin ",
                                         "DB-ADMIN", "" };
    static const char *const bad_groups[] = { "root", "Users", "", "a b",
                                              "a:b", "\xc2\x85" "a", "0day" };
    static const char *const bad_keys[] = {
        "ssh-rsa notbase64", "hello world", "ssh-ed25519 AAAA", "ssh-rsa ====",
        "ecdsa-sha2-nistp256 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "command=\"id\" ssh-ed25519 AAAA", "ssh-ed25519 AAAA\nx",
    };
    static const char *const pieces[] = {
        "a", "Z", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x91", "\x7f",
        "\x1b", "\n", "\xc2\x85", "\xc2\x9f", "\xc2\xa0", "\xc3", "\xff",
        "\xed\xa0\x80", "\xe0\x80\xaf", ":", "\"", "\\",
    };
    static const int piece_ok[] = { 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0,
                                    0, 0, 0, 1, 1, 1 };
    char reason[2200];
    unsigned seed = 11;
    int rounds = random_rounds();
    size_t made0 = made, refused0 = refused;

    for (int round = 0; round < rounds; round++) {
        struct req q = base();
        int valid = 1, n, clean;
        size_t len = 0;

        srand(seed + (unsigned) round);
        /* Half of them from valid parts only, at their edges. */
        clean = rand() % 2;
        q.cred = creds[clean || rand() % 3 ? 0 : rand() % 5];
        valid &= strcmp(q.cred, "db-admin") == 0;
        /* A reason of pieces, now and then at or over the limit. */
        n = rand() % 4 == 0 ? 1100 : 1 + rand() % 30;
        reason[0] = '\0';
        for (int i = 0; i < n && len < 1030; i++) {
            int k = rand() % 4 ? rand() % 3 : rand() % 19;

            while (clean && !piece_ok[k])
                k = rand() % 19;

            strcat(reason, pieces[k]);
            len += strlen(pieces[k]);
            valid &= piece_ok[k];
        }
        valid &= len >= 1 && len <= JIT_GRANT_REASON_MAX;
        q.reason = reason;
        if (rand() % 2) {
            q.n_groups = rand() % 9;
            for (int i = 0; i < q.n_groups; i++) {
                if (!clean && rand() % 8 == 0) {
                    q.groups[i] = bad_groups[rand() % 7];
                    valid = 0;
                } else {
                    q.groups[i] = ta_groups[rand() % ta_n_groups];
                }
                for (int j = 0; j < i; j++)
                    valid &= strcmp(q.groups[i], q.groups[j]) != 0;
            }
        }
        if (rand() % 2) {
            q.n_keys = rand() % 6;
            for (int i = 0; i < q.n_keys; i++) {
                if (!clean && rand() % 6 == 0) {
                    q.keys[i] = bad_keys[rand() % 7];
                    valid = 0;
                } else {
                    q.keys[i] = keys[rand() % N_TYPES];
                }
                for (int j = 0; j < i; j++)
                    valid &= strcmp(q.keys[i], q.keys[j]) != 0;
            }
        }
        try(&q, valid ? 201 : 0, NULL);
    }
    /* At 1500 rounds: more than 300 granted and 100 refused. */
    ck_assert_uint_gt(made - made0, (size_t) rounds / 5);
    ck_assert_uint_gt(refused - refused0, (size_t) rounds / 15);
    printf("test_random: %d rounds, %zu granted, %zu refused\n", rounds,
           made - made0, refused - refused0);
    fflush(stdout);
}
END_TEST

/* A grant stored by an older jit-apid under looser rules (a key that is
 * no key): re-enabling it without new keys is a 400 that says so, with
 * new keys a grant its hosts accept. */
START_TEST(test_reenable_legacy)
{
    char policy[] = "wide", cred[] = "db-admin", req[] = "alice@EXAMPLE.COM",
         user[] = "alice", reason[] = "old", status[] = "active",
         onl[] = "keep", host[] = "web01.test", group[] = "users",
         key[] = "ssh-rsa notbase64";
    char *hosts[] = { host }, *groups[] = { group }, *ks[] = { key };
    struct apid_grant g = {
        .policy = policy, .credential = cred, .requester = req,
        .username = user, .reason = reason, .status = status,
        .on_logout = onl, .hosts = hosts, .n_hosts = 1, .groups = groups,
        .n_groups = 1, .ssh_keys = ks, .n_ssh_keys = 1,
        .not_before = apid_now(), .expires_at = apid_now() + 600,
    };
    struct apid_reply r;
    char path[128], body[512];
    size_t before;

    ck_assert_int_eq(apid_store_grant_insert(A.store, &g, req, reason,
                                             apid_now()), APID_OK);
    ck_assert_int_eq(apid_store_grant_transition(A.store, g.id, "active",
                                                 "revoked", req, NULL,
                                                 apid_now()), APID_OK);
    before = ta_count(&A);
    snprintf(path, sizeof(path), "/v1/grants/%s/enable", g.id);
    snprintf(body, sizeof(body), "{\"reason\": \"again\", \"duration\": 60}");
    ta_call(&A, "POST", path, TA_ALICE, NULL, body, strlen(body), &r);
    ck_assert_uint_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "ssh_keys: grant g-") != NULL
                      && strstr(r.body, "key 0 key data is not base64"),
                  "%s", r.body);
    ck_assert_uint_eq(ta_count(&A), before);
    free(r.body);
    snprintf(body, sizeof(body), "{\"reason\": \"again\", \"duration\":"
             " 60, \"ssh_keys\": [\"%s\"]}", keys[1]);
    ta_call(&A, "POST", path, TA_ALICE, NULL, body, strlen(body), &r);
    ck_assert_msg(r.status == 201, "%u %s", r.status, r.body);
    ck_assert_uint_eq(ta_count(&A), before + 1);
    free(r.body);
}
END_TEST

/* People by principal (jit-apid(8), KERBEROS PEOPLE): who is a person of
 * the realm, and the people file's "-". */
START_TEST(test_people_kerberos)
{
    static const struct {
        const char *name;
        int ok;
    } names[] = {
        { "alice@JIT.TEST", 1 },         { "a@JIT.TEST", 1 },
        { "alice@OTHER.TEST", 0 },       { "alice@jit.test", 0 },
        { "alice@XJIT.TEST", 0 },        { "alice@JIT.TESTX", 0 },
        { "host/web01@JIT.TEST", 0 },    { "alice/admin@JIT.TEST", 0 },
        { "alice\\/admin@JIT.TEST", 0 }, { "alice\\@X@JIT.TEST", 0 },
        { "@JIT.TEST", 0 },              { "JIT.TEST", 0 },
        { "alice", 0 },                  { "alice@", 0 },
    };
    static const char *const bad[][2] = {
        { "carol@OTHER.TEST requester -\n",
          "carol@OTHER.TEST: no token (\"-\"), so the name must be a"
          " principal of JIT.TEST" },
        { "host/web01@JIT.TEST requester -\n", "must be a principal of" },
        { "alice@JIT.TEST requester -\nalice@JIT.TEST admin -\n",
          "alice@JIT.TEST has two roles" },
    };
    const struct apid_principal *p;
    struct apid_auth au;
    char path[4200], err[512];
    const char *good = "alice@JIT.TEST requester -\n"
                       "erin@JIT.TEST approver erin-token-xxxxxxxxxx\n"
                       "erin@JIT.TEST approver -\n"
                       "bob@EXAMPLE.COM requester bob-token-xxxxxxxxxxx\n";

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(apid_auth_one_component(names[i].name, "JIT.TEST")
                          == names[i].ok,
                      "%s", names[i].name);
    snprintf(path, sizeof(path), "%s/people-krb", dir);
    t_write_file(path, good, strlen(good), 0600);
    ck_assert_int_eq(apid_auth_load(NULL, path, "JIT.TEST", &au, err,
                                    sizeof(err)), 0);
    ck_assert_uint_eq(au.n_people, 4);
    ck_assert_uint_eq(au.n_people_tokens, 2);
    p = apid_auth_person_named(&au, "alice@JIT.TEST");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->role, APID_REQUESTER);
    ck_assert_ptr_null(p->token);
    ck_assert_int_eq(apid_auth_person_named(&au, "erin@JIT.TEST")->role,
                     APID_APPROVER);
    ck_assert_ptr_null(apid_auth_person_named(&au, "ALICE@JIT.TEST"));
    ck_assert_ptr_null(apid_auth_person_named(&au, "alice"));
    /* "-" is no token. */
    ck_assert_ptr_null(apid_auth_person(&au, "Bearer -"));
    ck_assert_str_eq(apid_auth_person(&au, "Bearer erin-token-xxxxxxxxxx")
                         ->name, "erin@JIT.TEST");
    ck_assert_str_eq(apid_auth_person(&au, "Bearer bob-token-xxxxxxxxxxx")
                         ->name, "bob@EXAMPLE.COM");
    apid_auth_free(&au);
    /* Without a realm (no keytab), nobody could sign on as alice. */
    ck_assert_int_ne(apid_auth_load(NULL, path, NULL, &au, err, sizeof(err)),
                     0);
    ck_assert_msg(strstr(err, "alice@JIT.TEST: no token (\"-\") needs"
                              " krb5_keytab and krb5_realm"), "%s", err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_write_file(path, bad[i][0], strlen(bad[i][0]), 0600);
        ck_assert_int_ne(apid_auth_load(NULL, path, "JIT.TEST", &au, err,
                                        sizeof(err)), 0);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "got %s, want %s", err,
                      bad[i][1]);
    }
}
END_TEST

/* A policy no valid grant could come from is refused when it loads. */
START_TEST(test_policy_load)
{
    static const char *const bad[][2] = {
        { "\"credential\": \"db:admin\"", "policies[0].credential: only letters, digits and ._@+/- allowed" },
        { "\"credential\": \"db admin\"", "policies[0].credential: only" },
        { "\"credential\": \"c\", \"groups\": [\"users\", \"root\"]", "policies[0].groups[1]: root's group" },
    };
    char path[4200], err[512], text[2048];
    struct apid_policies p;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "{\"policies\": [{\"name\": \"x\","
                 " \"hosts\": [\"h1\"], \"max_duration\": 600, %s}]}",
                 bad[i][0]);
        snprintf(path, sizeof(path), "%s/bad.json", dir);
        t_write_file(path, text, strlen(text), 0600);
        ck_assert_int_ne(apid_policies_load(path, &p, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "got %s, want %s", err,
                      bad[i][1]);
    }
    /* 65 groups: more than a grant may carry. */
    {
        size_t k = (size_t) snprintf(text, sizeof(text), "{\"policies\": [{"
                                     "\"name\": \"x\", \"credential\": \"c\","
                                     " \"hosts\": [\"h1\"], \"max_duration\":"
                                     " 600, \"groups\": [");

        for (int g = 0; g < 65; g++)
            k += (size_t) snprintf(text + k, sizeof(text) - k, "%s\"g%d\"",
                                   g ? ", " : "", g);
        snprintf(text + k, sizeof(text) - k, "]}]}");
        t_write_file(path, text, strlen(text), 0600);
        ck_assert_int_ne(apid_policies_load(path, &p, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, "policies[0].groups: more than 64 entries"),
                      "%s", err);
    }
}
END_TEST

/* Directory accounts (diraccount.h): a policy's target, the keys, the
 * passwords made. */
START_TEST(test_diracct)
{
    static const char *const bad[][2] = {
        { "\"target\": \"ldap\"", "policies[0].target: hosts or directory" },
        { "\"target\": true", "policies[0].target: hosts or directory" },
        { "\"target\": \"directory\", \"hosts\": [\"h1\"]",
          "policies[0]: target directory: no hosts" },
        { "\"target\": \"directory\", \"groups\": [\"a,b\"]",
          "policies[0].groups[0]" },
        { "\"target\": \"directory\", \"groups\": [\"cn=x\"]",
          "policies[0].groups[0]" },
        { "\"target\": \"directory\", \"groups\": [\"*\"]",
          "policies[0].groups[0]" },
        { "\"target\": \"directory\", \"username_choice\": true",
          "policies[0].username_choice: not for a directory account" },
    };
    static const char *const ckeys[][3] = {
        { "ldap_account_kind", "nis", "ldap_account_kind: posix or ad" },
        { "ldap_uid_range", "100-200", "ldap_uid_range: LOW-HIGH" },
        { "ldap_uid_range", "3000-2000", "ldap_uid_range: LOW-HIGH" },
        { "ldap_uid_range", "70000-1070000", "at most 1000000 ids" },
        { "ldap_uid_range", "70000", "ldap_uid_range: LOW-HIGH" },
        { "ldap_accounts_base", "jit", "ldap_accounts_base: a DN" },
        { "ldap_accounts_base", "ou=a\tb", "ldap_accounts_base: a DN" },
        { "ldap_retry_seconds", "0-10", "ldap_retry_seconds: MIN-MAX" },
        { "ldap_retry_seconds", "10-5", "ldap_retry_seconds: MIN-MAX" },
    };
    char path[4200], err[512], text[2048], pw[25], prev[25] = "";
    struct apid_policies p;
    struct apid_conf c;

    snprintf(path, sizeof(path), "%s/dir.json", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "{\"policies\": [{\"name\": \"x\","
                 " \"credential\": \"c\", \"max_duration\": 600, %s}]}",
                 bad[i][0]);
        t_write_file(path, text, strlen(text), 0600);
        ck_assert_int_ne(apid_policies_load(path, &p, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "got %s, want %s", err,
                      bad[i][1]);
    }
    snprintf(text, sizeof(text), "{\"policies\": [{\"name\": \"x\","
             " \"credential\": \"c\", \"max_duration\": 600, \"target\":"
             " \"directory\", \"groups\": [\"dbadmins\"]}, {\"name\": \"y\","
             " \"credential\": \"c\", \"max_duration\": 600, \"target\":"
             " \"hosts\", \"hosts\": [\"h1\"]}]}");
    t_write_file(path, text, strlen(text), 0600);
    ck_assert_int_eq(apid_policies_load(path, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(p.v[0].target_directory, 1);
    ck_assert_int_eq(p.v[0].n_hosts, 0);
    ck_assert_int_eq(p.v[1].target_directory, 0);
    apid_policies_free(&p);
    /* Two credentials giving one person the same directory account. */
    snprintf(text, sizeof(text), "{\"policies\": [{\"name\": \"x\","
             " \"credential\": \"c\", \"max_duration\": 600, \"target\":"
             " \"directory\", \"username_template\": \"{user}-a\"},"
             " {\"name\": \"y\", \"credential\": \"d\", \"max_duration\":"
             " 600, \"target\": \"directory\", \"username_template\":"
             " \"{user}-a\"}]}");
    t_write_file(path, text, strlen(text), 0600);
    ck_assert_int_ne(apid_policies_load(path, &p, err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "policies[1].username_template: policy x")
                  != NULL, "%s", err);

    for (size_t i = 0; i < sizeof(ckeys) / sizeof(ckeys[0]); i++) {
        memset(&c, 0, sizeof(c));
        ck_assert_int_lt(apid_diracct_conf_key(&c, ckeys[i][0], ckeys[i][1],
                                               "f", 1, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, ckeys[i][2]) != NULL, "%s = %s: got %s",
                      ckeys[i][0], ckeys[i][1], err);
        apid_diracct_conf_free(&c);
    }
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(apid_diracct_conf_key(&c, "ldap_uid_range",
                                           "70000-70099", "f", 1, err,
                                           sizeof(err)), 0);
    ck_assert_uint_eq(c.ldap_uid_min, 70000);
    ck_assert_uint_eq(c.ldap_uid_max, 70099);
    ck_assert_int_eq(apid_diracct_conf_key(&c, "no_such", "1", "f", 1, err,
                                           sizeof(err)), 1);
    ck_assert_int_eq(apid_diracct_conf_key(&c, "ldap_accounts_base",
                                           "ou=jit,dc=example,dc=com", "f", 1,
                                           err, sizeof(err)), 0);
    /* Accounts without a directory, or without the groups' base. */
    ck_assert_int_lt(apid_diracct_conf_check(&c, "f", err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "ldap_uri") != NULL, "%s", err);
    apid_diracct_conf_free(&c);

    /* Passwords: 24 characters of the alphabet, with upper, lower and
     * digit, never the same twice. */
    for (int i = 0; i < 200; i++) {
        int up = 0, lo = 0, dg = 0;

        ck_assert_int_eq(apid_diracct_make_password(pw, sizeof(pw)), 0);
        ck_assert_uint_eq(strlen(pw), 24);
        ck_assert_uint_eq(strspn(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_"), 24);
        for (const char *q = pw; *q; q++) {
            up |= *q >= 'A' && *q <= 'Z';
            lo |= *q >= 'a' && *q <= 'z';
            dg |= *q >= '0' && *q <= '9';
        }
        ck_assert(up && lo && dg);
        ck_assert_str_ne(pw, prev);
        memcpy(prev, pw, sizeof(pw));
    }
    ck_assert_int_ne(apid_diracct_make_password(pw, 8), 0);

    /* The teardown's lease covers its worst case (doc/design.md, R15):
     * two tries of every operation, after an enable's, each at most
     * ldap_timeout; not a fixed two minutes. */
    ck_assert_int_ge(apid_diracct_lease(5, 2), 2 * 2 * (11 + 2) * 5);
    ck_assert_int_ge(apid_diracct_lease(300, 64), 2 * 2 * (11 + 64) * 300);
    ck_assert_int_gt(apid_diracct_lease(10, 2), apid_diracct_lease(5, 2));
    ck_assert_int_gt(apid_diracct_lease(5, 3), apid_diracct_lease(5, 2));
}
END_TEST

static void
diracct_clear(struct apid_diracct *d)
{
    free(d->username);
    free(d->grant);
    free(d->state);
    free(d->last_error);
    free(d->entry_uuid);
}

/* The directory accounts' rows (store.h): held by a grant, claimed for
 * teardown only once the grant has ended, not held again by a new grant
 * while a claimed teardown is under way, settled only by the grant that
 * held it. */
START_TEST(test_diracct_store)
{
    char policy[] = "dir", cred[] = "dba", req[] = "alice@EXAMPLE.COM",
         user[] = "alice-adm", reason[] = "r", status[] = "active",
         onl[] = "keep", group[] = "dbadmins";
    char *groups[] = { group }, *nohosts[] = { NULL };
    struct apid_grant g = {
        .policy = policy, .credential = cred, .requester = req,
        .username = user, .reason = reason, .status = status,
        .on_logout = onl, .hosts = nohosts, .n_hosts = 0, .groups = groups,
        .n_groups = 1, .ssh_keys = nohosts, .n_ssh_keys = 0,
    };
    struct apid_grant g2;
    struct apid_diracct *v = NULL, d;
    int64_t now = apid_now();
    size_t n = 0;
    char pw[25], err[512];

    g.not_before = now;
    g.expires_at = now + 600;
    g2 = g;
    ck_assert_int_eq(apid_store_grant_insert(A.store, &g, req, reason, now),
                     APID_OK);
    ck_assert_int_eq(apid_store_diracct_hold(A.store, user, g.id, req,
                                             "directory.hold", NULL, now),
                     APID_OK);
    /* The entry's uuid, recorded once made (doc/design.md, S19). */
    ck_assert_int_eq(apid_store_diracct_get(A.store, g.id, &d), APID_OK);
    ck_assert_ptr_null(d.entry_uuid);
    diracct_clear(&d);
    ck_assert_int_eq(apid_store_diracct_set_uuid(A.store, user, g.id,
                                                 "0c9b1e5e-1111-4000-8000-"
                                                 "000000000001"), APID_OK);
    /* Live: nothing to claim. */
    ck_assert_int_eq(apid_store_diracct_claim(A.store, now, 120, 16, &v, &n),
                     APID_OK);
    ck_assert_uint_eq(n, 0);
    apid_diraccts_free(v, n);
    /* Past its end (no sweep yet): claimed once, not twice. */
    ck_assert_int_eq(apid_store_diracct_claim(A.store, now + 601, 120, 16,
                                              &v, &n), APID_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].grant, g.id);
    ck_assert_str_eq(v[0].state, "enabled");
    apid_diraccts_free(v, n);
    ck_assert_int_eq(apid_store_diracct_claim(A.store, now + 602, 120, 16,
                                              &v, &n), APID_OK);
    ck_assert_uint_eq(n, 0);
    apid_diraccts_free(v, n);
    /* A new grant of the account waits for the claimed teardown. */
    ck_assert_int_eq(apid_store_grant_insert(A.store, &g2, req, reason,
                                             now + 603), APID_OK);
    ck_assert_int_eq(apid_store_diracct_hold(A.store, user, g2.id, req,
                                             "directory.hold", NULL,
                                             now + 603), APID_CONFLICT);
    /* A failed teardown: disable_failed, offered again at its time. */
    ck_assert_int_eq(apid_store_diracct_settle(A.store, user, g.id, 0,
                                               "refused", now + 610,
                                               "jit-apid",
                                               "directory.disable_failed",
                                               NULL, now + 604), APID_OK);
    ck_assert_int_eq(apid_store_diracct_get(A.store, g.id, &d), APID_OK);
    ck_assert_str_eq(d.state, "disable_failed");
    ck_assert_int_eq(d.attempts, 1);
    ck_assert_str_eq(d.last_error, "refused");
    free(d.username);
    free(d.grant);
    free(d.state);
    free(d.last_error);
    free(d.entry_uuid);
    /* A new password only from the grant that holds the account enabled
     * (doc/design.md, S21): not while it is being disabled; nothing is
     * asked of the directory (there is none here). */
    ck_assert_int_eq(apid_diracct_password(&A, &g, req, pw, sizeof(pw), err,
                                           sizeof(err)), APID_DIR_NOT_HELD);
    ck_assert_msg(strstr(err, "does not hold account") != NULL, "%s", err);
    ck_assert_int_eq(apid_store_diracct_claim(A.store, now + 605, 120, 16,
                                              &v, &n), APID_OK);
    ck_assert_uint_eq(n, 0);
    apid_diraccts_free(v, n);
    /* Not claimed now: the new grant takes the account, and the old
     * grant's settle is refused (the account is no longer its). */
    ck_assert_int_eq(apid_store_diracct_hold(A.store, user, g2.id, req,
                                             "directory.hold", NULL,
                                             now + 606), APID_OK);
    ck_assert_int_eq(apid_store_diracct_settle(A.store, user, g.id, 1, NULL,
                                               0, "jit-apid",
                                               "directory.disabled", NULL,
                                               now + 607), APID_CONFLICT);
    ck_assert_int_eq(apid_store_diracct_get(A.store, g.id, &d),
                     APID_NOT_FOUND);
    ck_assert_int_eq(apid_store_diracct_get(A.store, g2.id, &d), APID_OK);
    ck_assert_str_eq(d.state, "enabled");
    ck_assert_int_eq(d.attempts, 0);
    /* The account's entry is the same one: its uuid stays. */
    ck_assert_str_eq(d.entry_uuid, "0c9b1e5e-1111-4000-8000-000000000001");
    free(d.username);
    free(d.grant);
    free(d.state);
    free(d.last_error);
    free(d.entry_uuid);
    /* The old grant no longer holds it; the new one does (and would ask
     * the directory, which is not configured here). */
    ck_assert_int_eq(apid_diracct_password(&A, &g, req, pw, sizeof(pw), err,
                                           sizeof(err)), APID_DIR_NOT_HELD);
    ck_assert_int_eq(apid_diracct_password(&A, &g2, req, pw, sizeof(pw), err,
                                           sizeof(err)), APID_LDAP_DOWN);
}
END_TEST

/* A host named three times (in the list, and through host groups) is on
 * the policy once: the repeats go without reading a repeat already
 * freed. */
START_TEST(test_policy_repeats)
{
    static const char text[] =
        "{\"host_groups\": {\"a\": [\"h1\", \"h1\", \"h1\", \"h2\"],"
        " \"b\": [\"h2\", \"h1\"]},"
        " \"policies\": [{\"name\": \"x\", \"credential\": \"c\","
        " \"hosts\": [\"h3\", \"h3\", \"h3\", \"h1\"], \"host_groups\":"
        " [\"a\", \"b\"], \"max_duration\": 600}]}";
    char path[4200], err[512];
    struct apid_policies p;
    const struct apid_host_group *g;
    const struct apid_policy *pol;

    snprintf(path, sizeof(path), "%s/repeats.json", dir);
    t_write_file(path, text, strlen(text), 0600);
    ck_assert_msg(apid_policies_load(path, &p, err, sizeof(err)) == 0, "%s",
                  err);
    g = apid_host_group(&p, "a");
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->n_hosts, 2);
    ck_assert_str_eq(g->hosts[0], "h1");
    ck_assert_str_eq(g->hosts[1], "h2");
    pol = apid_policy_find(&p, "x");
    ck_assert_ptr_nonnull(pol);
    ck_assert_uint_eq(pol->n_hosts, 3);
    ck_assert_str_eq(pol->hosts[0], "h1");
    ck_assert_str_eq(pol->hosts[1], "h2");
    ck_assert_str_eq(pol->hosts[2], "h3");
    apid_policies_free(&p);
}
END_TEST


/* ---- the hosts' lists from the in-memory view (hostview.c) ---- */

/* host's list as the store gives it: apid_store_host_grants' grants
 * rendered as host_list did before the view, and the ETag the view's
 * rule gives over them (each grant rendered for the host ""). */
static void
store_list(const char *host, int64_t now, char **text, char etag[80])
{
    struct apid_grant *v = NULL;
    char **bare;
    json_t *arr = json_array(), *o;
    size_t n = 0;

    ck_assert_int_eq(apid_store_host_grants(A.store, host, NULL, now, &v, &n),
                     APID_OK);
    bare = calloc(n + 1, sizeof(*bare));
    ck_assert_ptr_nonnull(bare);
    for (size_t i = 0; i < n; i++) {
        json_t *b = apid_host_grant_json(&v[i], "");

        ck_assert_int_eq(json_array_append_new(arr, apid_host_grant_json(&v[i],
                                                                         host)),
                         0);
        bare[i] = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(b);
    }
    o = json_pack("{s:o}", "grants", arr);
    *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    ck_assert_int_eq(apid_hostview_etag(host, bare, n, etag), 0);
    for (size_t i = 0; i < n; i++)
        free(bare[i]);
    free(bare);
    apid_grants_free(v, n);
}

/* The view's answer for host at now equals the store's, byte for byte
 * and ETag for ETag; the ETag into etag. */
static void
view_is_store(const char *host, int64_t now, char etag[80])
{
    struct apid_hostview *v;
    char *vt = NULL, *st = NULL, se[80];
    int64_t end;
    int ret;

    v = apid_hostview_get(&A, now, &ret);
    ck_assert_msg(v != NULL, "%s", apid_store_error(A.store));
    ck_assert_int_eq(apid_hostview_list(v, host, &vt, etag, &end), APID_OK);
    apid_hostview_put(v);
    store_list(host, now, &st, se);
    ck_assert_msg(strcmp(vt, st) == 0, "%s:\nview  %s\nstore %s", host, vt,
                  st);
    ck_assert_str_eq(etag, se);
    free(vt);
    free(st);
}

static void
put_grant(const char *who, const char *name, char **hosts, size_t n_hosts,
          const char *status, int64_t now, int64_t ttl, char id[40])
{
    char policy[] = "wide", cred[] = "db-admin", reason[] = "view test",
         onl[] = "keep", group[] = "users", req[64], user[32], st[16];
    char *groups[] = { group }, *ks[] = { keys[0] };
    struct apid_grant g = {
        .policy = policy, .credential = cred, .requester = req,
        .username = user, .reason = reason, .status = st, .on_logout = onl,
        .hosts = hosts, .n_hosts = n_hosts, .groups = groups, .n_groups = 1,
        .ssh_keys = ks, .n_ssh_keys = 1, .not_before = now,
        .expires_at = now + ttl,
    };

    snprintf(req, sizeof(req), "%s", who);
    snprintf(user, sizeof(user), "%s", name);
    snprintf(st, sizeof(st), "%s", status);
    ck_assert_int_eq(apid_store_grant_insert(A.store, &g, req, NULL, now),
                     APID_OK);
    memcpy(id, g.id, 40);
    apid_changed(&A); /* as people_api.c does after a write */
}

#define N_VH 4
static const char *const vhosts[N_VH] = { "web01.test", "web02.test",
                                          "h3.test", "nobody.test" };

/* Every host's list through the view equals the store's; the ETags into
 * e (N_VH of them). */
static void
all_same(int64_t now, char e[N_VH][80])
{
    for (size_t h = 0; h < N_VH; h++)
        view_is_store(vhosts[h], now, e[h]);
}

/* Which hosts' ETags moved from a to b: a bit per host. */
static unsigned
moved(char a[N_VH][80], char b[N_VH][80])
{
    unsigned m = 0;

    for (size_t h = 0; h < N_VH; h++)
        m |= (strcmp(a[h], b[h]) != 0) << h;
    return m;
}

/* Across new grants, a revocation, an end with no write, an approval and
 * hosts each with its own subset of the grants, the view answers what
 * the store does, and a host's ETag moves exactly when its text does. */
START_TEST(test_hostview)
{
    char h1[] = "web01.test", h2[] = "web02.test", h3[] = "h3.test";
    char *on12[] = { h1, h2 }, *on23[] = { h2, h3 }, *on1[] = { h1 },
         *on3[] = { h3 };
    char e0[N_VH][80], e1[N_VH][80], ga[40], gb[40], gc[40], gd[40];
    int64_t now = apid_now();

    all_same(now, e0); /* nothing yet: every list empty */
    put_grant("p1@EXAMPLE.COM", "u1", on12, 2, "active", now, 3600, ga);
    all_same(now, e1);
    ck_assert_uint_eq(moved(e0, e1), 1u | 2u);
    put_grant("p2@EXAMPLE.COM", "u2", on23, 2, "active", now, 3600, gb);
    all_same(now, e0);
    ck_assert_uint_eq(moved(e1, e0), 2u | 4u);
    /* Ends in 100 s; a pending grant is on no list. */
    put_grant("p3@EXAMPLE.COM", "u3", on1, 1, "active", now, 100, gc);
    all_same(now, e1);
    ck_assert_uint_eq(moved(e0, e1), 1u);
    put_grant("p4@EXAMPLE.COM", "u4", on3, 1, "pending", now, 3600, gd);
    all_same(now, e0);
    ck_assert_uint_eq(moved(e1, e0), 0u);
    /* A change signalled with nothing changed: a new view, same ETags. */
    apid_changed(&A);
    all_same(now, e1);
    ck_assert_uint_eq(moved(e0, e1), 0u);
    /* The revocation of a grant on web01 and web02. */
    ck_assert_int_eq(apid_store_grant_transition(A.store, ga, "active",
                                                 "revoked", "boss", NULL,
                                                 now), APID_OK);
    apid_changed(&A);
    all_same(now, e0);
    ck_assert_uint_eq(moved(e1, e0), 1u | 2u);
    /* Time passes the end of gc with no write and no signal. */
    all_same(now + 99, e1);
    ck_assert_uint_eq(moved(e0, e1), 0u);
    all_same(now + 100, e0);
    ck_assert_uint_eq(moved(e1, e0), 1u);
    /* The pending grant approved. */
    ck_assert_int_eq(apid_store_grant_transition(A.store, gd, "pending",
                                                 "active", "boss", NULL,
                                                 now + 100), APID_OK);
    apid_changed(&A);
    all_same(now + 100, e1);
    ck_assert_uint_eq(moved(e0, e1), 4u);
    (void) gb;
}
END_TEST

/* The host API answers from the view: its body and ETag are the store's,
 * and the ETag it gave is a 304. */
START_TEST(test_hostview_http)
{
    char h1[] = "web01.test", *on1[] = { h1 }, id[40], *st, se[80];
    struct apid_reply r;
    int64_t now = apid_now();

    put_grant("p1@EXAMPLE.COM", "u1", on1, 1, "active", now, 3600, id);
    ta_call(&A, "GET", "/v1/hosts/web01.test/grants", TA_HOST1, NULL, NULL, 0,
            &r);
    ck_assert_uint_eq(r.status, 200);
    store_list("web01.test", apid_now(), &st, se);
    ck_assert_str_eq(r.body, st);
    ck_assert_str_eq(r.etag, se);
    free(st);
    free(r.body);
    ta_call(&A, "GET", "/v1/hosts/web01.test/grants?wait=0", TA_HOST1, se,
            NULL, 0, &r);
    ck_assert_uint_eq(r.status, 304);
    free(r.body);
}
END_TEST

/* A store of the schema before grant hosts stopped changing (keyed by
 * host, a `live` column, a unique index on it, a revoked grant's rows
 * marked 0) opens: the table is keyed by grant, the column and indices
 * go, the rows stay, and the lists are as before. */
START_TEST(test_migrate_live)
{
    char path[512], spec[600], *err = NULL, *st;
    char *text, etag[80], se[80];
    sqlite3 *db;
    struct apid_store *old = A.store;
    struct apid_hostview *v;
    int64_t now = apid_now(), next;
    int ret;
    char sql[2048];

    snprintf(path, sizeof(path), "%s/old.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE grants (id TEXT PRIMARY KEY, policy TEXT NOT NULL,"
             " credential TEXT NOT NULL, requester TEXT NOT NULL,"
             " username TEXT NOT NULL, reason TEXT NOT NULL,"
             " status TEXT NOT NULL, on_logout TEXT NOT NULL,"
             " groups TEXT NOT NULL, ssh_keys TEXT NOT NULL,"
             " not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
             " created INTEGER NOT NULL, decided_by TEXT, previous TEXT);"
             "CREATE TABLE grant_hosts (grant_id TEXT NOT NULL REFERENCES"
             " grants (id), host TEXT NOT NULL, username TEXT NOT NULL,"
             " live INTEGER NOT NULL, PRIMARY KEY (host, grant_id));"
             "CREATE UNIQUE INDEX grant_hosts_one_name ON grant_hosts"
             " (host, username) WHERE live = 1;"
             "CREATE INDEX grant_hosts_grant ON grant_hosts (grant_id, host);"
             "INSERT INTO grants VALUES ('g-000000000000000000000001', 'wide',"
             " 'db-admin', 'alice@EXAMPLE.COM', 'alice', 'old', 'revoked',"
             " 'keep', '[\"users\"]', '[]', %lld, %lld, %lld, 'boss', NULL),"
             " ('g-000000000000000000000002', 'wide', 'db-admin',"
             " 'alice@EXAMPLE.COM', 'alice', 'new', 'active', 'keep',"
             " '[\"users\"]', '[]', %lld, %lld, %lld, NULL, NULL);"
             "INSERT INTO grant_hosts VALUES"
             " ('g-000000000000000000000001', 'web01.test', 'alice', 0),"
             " ('g-000000000000000000000002', 'web01.test', 'alice', 1),"
             " ('g-000000000000000000000002', 'web02.test', 'alice', 1);",
             (long long) now, (long long) now + 600, (long long) now,
             (long long) now, (long long) now + 600, (long long) now);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s",
                  sqlite3_errmsg(db));
    sqlite3_close(db);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    A.store = apid_store_open(spec, &err);
    ck_assert_msg(A.store != NULL, "%s", err ? err : "out of memory");
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "SELECT live FROM grant_hosts", NULL,
                                  NULL, NULL), SQLITE_ERROR);
    ck_assert_int_eq(sqlite3_exec(db, "SELECT count(*) FROM grant_hosts",
                                  NULL, NULL, NULL), SQLITE_OK);
    /* Keyed by grant, with no rowid: the old key's index is gone. */
    ck_assert_int_eq(sqlite3_exec(db, "SELECT rowid FROM grant_hosts", NULL,
                                  NULL, NULL), SQLITE_ERROR);
    ck_assert_int_eq(sqlite3_exec(db, "DROP INDEX grant_hosts_grant", NULL,
                                  NULL, NULL), SQLITE_ERROR);
    /* grants.seq added (NULL: these grants have no entry in the log), and
     * the handover search's index on it. */
    ck_assert_int_eq(sqlite3_exec(db, "SELECT 1 FROM grants WHERE seq IS NULL",
                                  NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "SELECT 1 FROM grants INDEXED BY"
                                  " grants_person_seq WHERE username = 'x'"
                                  " AND requester = 'y' AND credential = 'z'"
                                  " ORDER BY seq", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    for (int h = 1; h <= 2; h++) {
        char host[32];

        snprintf(host, sizeof(host), "web0%d.test", h);
        v = apid_hostview_get(&A, now, &ret);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(apid_hostview_list(v, host, &text, etag, &next),
                         APID_OK);
        apid_hostview_put(v);
        store_list(host, now, &st, se);
        ck_assert_str_eq(text, st);
        ck_assert_msg(strstr(text, "g-000000000000000000000002") != NULL
                          && strstr(text, "g-000000000000000000000001")
                                 == NULL,
                      "%s", text);
        free(text);
        free(st);
    }
    apid_store_close(A.store);
    A.store = old;
}
END_TEST

/* The handover search's order where a grant has no place in the log
 * (grants.seq NULL, a store from before it): the ordered grants first,
 * then the others by creation time, said in the query (SQLite put NULL
 * first, PostgreSQL last).  g1 (seq 10) is taken over on web01 by g2
 * (no seq, created later) and by g3 (seq 20): g3's; g2 (no seq) by g3
 * (ordered, created after it); g4 (seq 30) by none. */
START_TEST(test_handover_null_order)
{
    char path[512], spec[600], *err = NULL;
    char g1[] = "g-1", g2[] = "g-2", g4[] = "g-4", *ids[3] = { g1, g2, g4 };
    struct apid_store *s;
    struct apid_handover *v = NULL;
    size_t n = 0;
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/nullorder.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    s = apid_store_open(spec, &err);
    ck_assert_msg(s != NULL, "%s", err ? err : "out of memory");
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db,
        "INSERT INTO grants (id, policy, credential, requester, username,"
        " reason, status, on_logout, groups, ssh_keys, not_before,"
        " expires_at, created, decided_by, previous, seq) VALUES"
        " ('g-1', 'wide', 'db-admin', 'alice@EXAMPLE.COM', 'alice', 'r',"
        "  'revoked', 'keep', '[]', '[]', 100, 150, 100, NULL, NULL, 10),"
        " ('g-2', 'wide', 'db-admin', 'alice@EXAMPLE.COM', 'alice', 'r',"
        "  'revoked', 'keep', '[]', '[]', 200, 250, 200, NULL, NULL, NULL),"
        " ('g-3', 'wide', 'db-admin', 'alice@EXAMPLE.COM', 'alice', 'r',"
        "  'revoked', 'keep', '[]', '[]', 300, 350, 300, NULL, NULL, 20),"
        " ('g-4', 'wide', 'db-admin', 'alice@EXAMPLE.COM', 'alice', 'r',"
        "  'revoked', 'keep', '[]', '[]', 400, 450, 400, NULL, NULL, 30);"
        "INSERT INTO events (id, host, type, time, grant_id, username,"
        " received) VALUES"
        " ('e-1', 'web01.test', 'account.created', 101, 'g-1', 'alice', 101),"
        " ('e-2', 'web01.test', 'account.enabled', 201, 'g-2', 'alice', 201),"
        " ('e-3', 'web01.test', 'account.enabled', 301, 'g-3', 'alice', 301),"
        " ('e-4', 'web01.test', 'session.opened', 302, 'g-3', 'alice', 302),"
        " ('e-5', 'web01.test', 'account.enabled', 303, 'g-3', 'alice', 303),"
        " ('e-6', 'web02.test', 'account.enabled', 401, 'g-4', 'alice', 401);",
        NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    ck_assert_int_eq(apid_store_handovers(s, ids, 3, &v, &n), APID_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0].orig, "g-1");
    ck_assert_str_eq(v[0].grant, "g-3");
    ck_assert_str_eq(v[0].host, "web01.test");
    ck_assert_int_eq(v[0].time, 301); /* g-3's first there, by arrival */
    ck_assert_str_eq(v[1].orig, "g-2");
    ck_assert_str_eq(v[1].grant, "g-3");
    apid_handovers_free(v, n);
    apid_store_close(s);
}
END_TEST

/* A dir_accounts table from before the entry's uuid was recorded gets
 * the column, its rows kept (uuid NULL: known by the mark alone). */
START_TEST(test_migrate_dir_uuid)
{
    char path[512], spec[600], *err = NULL;
    struct apid_store *old = A.store;
    struct apid_diracct d;
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/old-dir.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db,
                               "CREATE TABLE dir_accounts ("
                               " username TEXT PRIMARY KEY,"
                               " grant_id TEXT NOT NULL,"
                               " state TEXT NOT NULL,"
                               " attempts INTEGER NOT NULL,"
                               " next_try INTEGER NOT NULL, last_error TEXT,"
                               " updated INTEGER NOT NULL,"
                               " claimed_until INTEGER NOT NULL DEFAULT 0);"
                               "INSERT INTO dir_accounts VALUES ('bob-adm',"
                               " 'g-000000000000000000000009', 'enabled', 0,"
                               " 0, NULL, 1, 0);",
                               NULL, NULL, NULL) == SQLITE_OK,
                  "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    for (int round = 0; round < 2; round++) { /* the second: already done */
        A.store = apid_store_open(spec, &err);
        ck_assert_msg(A.store != NULL, "%s", err ? err : "out of memory");
        ck_assert_int_eq(apid_store_diracct_get(A.store,
                                                "g-000000000000000000000009",
                                                &d), APID_OK);
        ck_assert_str_eq(d.username, "bob-adm");
        if (round == 0) {
            ck_assert_ptr_null(d.entry_uuid);
            ck_assert_int_eq(apid_store_diracct_set_uuid(
                                 A.store, "bob-adm",
                                 "g-000000000000000000000009", "u-1"),
                             APID_OK);
        } else {
            ck_assert_str_eq(d.entry_uuid, "u-1");
        }
        diracct_clear(&d);
        apid_store_close(A.store);
    }
    A.store = old;
}
END_TEST

/* A key's comment: jit-apid takes what the hosts take (lib/core/grant.c),
 * printable ASCII, and refuses the rest with the hosts' words. */
START_TEST(test_key_comments)
{
    static const char *const comments[][2] = {
        { "alice (work laptop)", NULL },
        { "alice@host [yubikey]", NULL },
        { "\"quoted\" {braces} a;b|c~", NULL },
        { "caf\xc3\xa9", "ssh_keys[0]: has a comment that is not printable ASCII" },
        { "a\tb", "ssh_keys[0]: contains control characters" },
    };
    char key[400];
    struct req q;

    for (size_t i = 0; i < sizeof(comments) / sizeof(comments[0]); i++) {
        /* keys[0] is "TYPE DATA k0@test": its data, another comment. */
        snprintf(key, sizeof(key), "%.*s %s",
                 (int) (strrchr(keys[0], ' ') - keys[0]), keys[0],
                 comments[i][0]);
        q = base();
        q.n_keys = 1;
        q.keys[0] = key;
        try(&q, comments[i][1] ? 400 : 201, comments[i][1]);
    }
}
END_TEST

/* The skeleton of look-alike names (policy.h, jit-apid(8) ACCOUNT
 * NAMES): what the manual says, and nothing more. */
START_TEST(test_name_skeleton)
{
    static const char *const same[][2] = {
        { "bob", "bob" },       { "b0b", "bob" },
        { "bob.", "bob" },      { "bob-", "bob" },
        { "b_o_b", "bob" },     { "Bob", "bob" },
        { "a1ice-tools", "alicetools" },
        { "3r1n", "erln" },     { "bo55", "boss" },
        { "dave-adrn", "daveadm" }, { "r.n", "m" },
        { "rrn", "rm" },        { "rnn", "mn" },
        { "barn", "bam" },      { "x2y", "x2y" },
        { "il", "il" },
    };
    char out[APID_SKELETON_MAX], tiny[4];

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ck_assert_int_eq(apid_name_skeleton(same[i][0], out, sizeof(out)), 0);
        ck_assert_msg(strcmp(out, same[i][1]) == 0, "%s: got %s, want %s",
                      same[i][0], out, same[i][1]);
    }
    /* Separators take no room; a skeleton that does not fit is refused. */
    ck_assert_int_eq(apid_name_skeleton("a-b-c", tiny, sizeof(tiny)), 0);
    ck_assert_str_eq(tiny, "abc");
    ck_assert_int_eq(apid_name_skeleton("abcd", tiny, sizeof(tiny)), -1);
}
END_TEST

/* ---- alert settings at run time (alerts_api.c; doc/design.md, S27) ---- */

static unsigned
call_status(const char *method, const char *url, const char *authz,
            const char *body, char *msg, size_t msglen)
{
    struct apid_reply r;
    unsigned st;

    memset(&r, 0, sizeof(r));
    ta_call(&A, method, url, authz, NULL, body, body ? strlen(body) : 0, &r);
    st = r.status;
    if (msg != NULL)
        snprintf(msg, msglen, "%s", r.body ? r.body : "");
    free(r.body);
    return st;
}

START_TEST(test_alert_settings)
{
    char msg[2048], *json = NULL;
    int64_t version = -1;
    struct apid_alert_target *t;
    struct apid_op *ops = NULL;
    size_t n = 0;

    /* A fresh database: nothing stored, every type off. */
    ck_assert_int_eq(apid_store_alert_settings_get(A.store, &json, &version),
                     APID_NOT_FOUND);
    ck_assert_uint_eq(call_status("GET", "/v1/alerts/settings", TA_ROOT, NULL,
                                  msg, sizeof(msg)), 200);
    ck_assert_msg(strstr(msg, "true") == NULL && strstr(msg, "\"version\":0")
                      != NULL, "%s", msg);
    ck_assert_int_eq(apid_alerts_refresh(&A), 0);
    ck_assert_uint_eq(A.alerts.enabled, 0);
    /* Admins only. */
    ck_assert_uint_eq(call_status("GET", "/v1/alerts/settings", TA_BOSS, NULL,
                                  NULL, 0), 403);
    ck_assert_uint_eq(call_status("POST",
                                  "/v1/alerts/types/account.created/enable",
                                  TA_ALICE, "{}", NULL, 0), 403);
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients", TA_BOSS,
                                  "{\"email\": \"b@example.com\", \"types\":"
                                  " [\"account.created\"]}", NULL, 0), 403);
    /* Unknown types, named; mail without sendmail configured. */
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/types/account.x/enable",
                                  TA_ROOT, "{}", msg, sizeof(msg)), 400);
    ck_assert_msg(strstr(msg, "unknown alert type \\\"account.x\\\"") != NULL,
                  "%s", msg);
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients", TA_ROOT,
                                  "{\"email\": \"s@example.com\", \"types\":"
                                  " [\"account.created\"]}", msg,
                                  sizeof(msg)), 400);
    ck_assert_msg(strstr(msg, "mail needs sendmail and from") != NULL, "%s",
                  msg);
    A.alerts.sendmail = calloc(2, sizeof(char *));
    A.alerts.sendmail[0] = strdup("/usr/sbin/sendmail");
    A.alerts.n_sendmail = 1;
    A.alerts.from = strdup("jit-apid@example.com");
    /* Enabled, subscribed: in effect at once, logged with the admin. */
    ck_assert_uint_eq(call_status("POST",
                                  "/v1/alerts/types/account.created/enable",
                                  TA_ROOT, "{}", NULL, 0), 200);
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients", TA_ROOT,
                                  "{\"email\": \"s@example.com\", \"types\":"
                                  " [\"account.created\"]}", NULL, 0), 200);
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients", TA_ROOT,
                                  "{\"email\": \"S@example.com\", \"types\":"
                                  " [\"account.created\"]}", msg,
                                  sizeof(msg)), 200); /* idempotent */
    ck_assert_uint_eq(A.alerts.enabled, 1);
    t = apid_alerts_plan(&A.alerts, "account.created", &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(t[0].recipient, "s@example.com");
    free(t);
    ck_assert_int_eq(apid_alerts_subscribed(&A.alerts, "email",
                                            "s@example.com",
                                            "account.created"), 1);
    ck_assert_int_eq(apid_alerts_subscribed(&A.alerts, "email",
                                            "s@example.com",
                                            "account.enabled"), 0);
    ck_assert_int_eq(apid_store_ops(A.store, NULL, 10, &ops, &n), APID_OK);
    ck_assert_uint_eq(n, 2); /* the repeated subscribe is not logged */
    ck_assert_str_eq(ops[0].action, "alerts.subscribe");
    ck_assert_str_eq(ops[0].actor, "root@EXAMPLE.COM");
    ck_assert_str_eq(ops[1].action, "alerts.enable");
    ck_assert_str_eq(ops[1].detail, "type=account.created");
    apid_ops_free(ops, n);
    /* Hostile recipients: 400, nothing changed. */
    {
        static const char *const bad[][2] = {
            { "{\"email\": \"a@example.com\\r\\nBcc: e@evil.test\","
              " \"types\": [\"account.created\"]}", "email: a plain address" },
            { "{\"email\": \"a\\u0007@example.com\", \"types\":"
              " [\"account.created\"]}", "email: a plain address" },
            { "{\"webhook\": \"http://h.example.com/\", \"types\":"
              " [\"account.created\"]}", "webhook: an https URL" },
            { "{\"webhook\": \"https://h.example.com/\\u0000x\", \"types\":"
              " [\"account.created\"]}", "" },
            { "{\"webhook\": \"https://h.example.com/a b\", \"types\":"
              " [\"account.created\"]}", "webhook: an https URL" },
            /* No webhook_secret_file, no secret_file: as the file. */
            { "{\"webhook\": \"https://h.example.com/\", \"types\":"
              " [\"account.created\"]}", "a webhook needs a secret_file" },
            { "{\"email\": \"a@example.com\", \"types\": [7]}",
              "unknown alert type" },
            { "{\"email\": \"a@example.com\", \"types\": \"account.created\"}",
              "types: a list" },
            { "{\"email\": 3, \"types\": [\"account.created\"]}",
              "one of email, webhook or directory_group" },
            { "{\"directory_group\": \"sec\\u001bops\", \"types\":"
              " [\"account.created\"]}", "directory_group: a group's name" },
            /* No webhook_key_dir: no key over the API, any file or name
             * (doc/design.md, G7). */
            { "{\"webhook\": \"https://h.example.com/\", \"secret_file\":"
              " \"/etc/shadow\", \"types\": [\"account.created\"]}",
              "secret_file: not taken over the API (jit-apid has no"
              " webhook_key_dir" },
            { "{\"webhook\": \"https://h.example.com/\", \"secret_file\":"
              " \"hook.key\", \"types\": [\"account.created\"]}",
              "secret_file: not taken over the API" },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients",
                                          TA_ROOT, bad[i][0], msg,
                                          sizeof(msg)), 400);
            ck_assert_msg(strstr(msg, bad[i][1]) != NULL, "%zu: %s", i, msg);
        }
    }
    ck_assert_int_eq(apid_store_alert_settings_get(A.store, &json, &version),
                     APID_OK);
    ck_assert_int_eq(version, 2);
    /* A change made from settings another has replaced: refused. */
    ck_assert_int_eq(apid_store_alert_settings_put(A.store, "{}", 1, "x", "y",
                                                   NULL, apid_now()),
                     APID_CONFLICT);
    ck_assert_int_eq(apid_store_alert_settings_put(A.store, "{}", 0, "x", "y",
                                                   NULL, apid_now()),
                     APID_CONFLICT);
    free(json);
    /* Unsubscribed, the last type gone: no recipient left. */
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients/unsubscribe",
                                  TA_ROOT, "{\"email\": \"s@example.com\"}",
                                  NULL, 0), 200);
    ck_assert_uint_eq(A.alerts.n_r, 0);
    /* A delivery queued before is not sent (the deliverer asks). */
    ck_assert_int_eq(apid_alerts_subscribed(&A.alerts, "email",
                                            "s@example.com",
                                            "account.created"), 0);
    ck_assert_uint_eq(call_status("POST", "/v1/alerts/recipients/unsubscribe",
                                  TA_ROOT, "{\"email\": \"s@example.com\"}",
                                  NULL, 0), 404);
}
END_TEST

/* A Subject with non-ASCII: RFC 2047 words, a character never split,
 * each line within 78. */
START_TEST(test_mail_subject_words)
{
    char *w, long4[100] = "", long3[100] = "";

    w = apid_mail_header_words("JIT account created: alice on web01");
    ck_assert_str_eq(w, "JIT account created: alice on web01");
    free(w);
    w = apid_mail_header_words("\xc3\xa9");
    ck_assert_str_eq(w, "=?UTF-8?B?w6k=?=");
    free(w);
    for (int i = 0; i < 20; i++)
        strcat(long4, "\xf0\x9f\x98\x80"); /* 80 bytes */
    w = apid_mail_header_words(long4);
    /* 42 bytes would split the 11th character: 40 and 40. */
    ck_assert_str_eq(w, "=?UTF-8?B?8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA"
                        "8J+YgA==?=\n =?UTF-8?B?8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA"
                        "8J+YgPCfmIDwn5iA8J+YgA==?=");
    free(w);
    for (int i = 0; i < 30; i++)
        strcat(long3, "\xe2\x82\xac"); /* 90 bytes */
    w = apid_mail_header_words(long3);
    for (char *line = w, *nl; line != NULL; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        /* 68 on the first, after "Subject: " (77); " " and 68 on the
         * others. */
        ck_assert_uint_le(nl ? (size_t) (nl - line) : strlen(line),
                          line == w ? 68 : 69);
    }
    ck_assert_ptr_null(strchr(w, '\r'));
    free(w);
}
END_TEST

static void
setup(void)
{
    char err[512];

    dir = t_mkdtemp();
    ck_assert_msg(ta_open(&A, dir, err, sizeof(err)) == 0, "%s", err);
    for (size_t i = 0; i < N_TYPES; i++)
        make_key(key_types[i], key_types[i], (int) i, keys[i],
                 sizeof(keys[i]));
    /* 1024 bytes: 2-, 3- and 4-byte characters up to the last byte. */
    memset(reason_max, 0, sizeof(reason_max));
    for (size_t i = 0; i < 1000; i += 2)
        memcpy(reason_max + i, "\xc3\xa9", 2);
    strcat(reason_max, "\xe2\x82\xac" "\xf0\x9f\x94\x91" "xxxxxxxxxxxxxxxxx");
    ck_assert_uint_eq(strlen(reason_max), 1024);
    memcpy(reason_over, reason_max, 1024);
    strcpy(reason_over + 1024, "x");
}

static void
teardown(void)
{
    ta_close(&A);
    t_rmtree(dir);
    free(dir);
}

int
main(void)
{
    Suite *s = suite_create("apid");
    TCase *tc = tcase_create("contract");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_policy_load);
    tcase_add_test(tc, test_policy_repeats);
    tcase_add_test(tc, test_reenable_legacy);
    tcase_add_test(tc, test_hostview);
    tcase_add_test(tc, test_hostview_http);
    tcase_add_test(tc, test_migrate_live);
    tcase_add_test(tc, test_handover_null_order);
    tcase_add_test(tc, test_migrate_dir_uuid);
    tcase_add_test(tc, test_name_skeleton);
    tcase_add_test(tc, test_key_comments);
    tcase_add_test(tc, test_people_kerberos);
    tcase_add_test(tc, test_diracct);
    tcase_add_test(tc, test_diracct_store);
    tcase_add_test(tc, test_alert_settings);
    tcase_add_test(tc, test_mail_subject_words);
    suite_add_tcase(s, tc);
    return t_run(s);
}
