/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the krb5 localauth plugin's decision (lib/krb5/localauth.c,
 * doc/design.md, "GSSAPI logins") over hand-built snapshots: the
 * requester of a live account gets in until its end, nobody else ever
 * does, and an account that is not ours is left to the usual rules.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/validate.h"
#include "krb5/localauth.h"
#include "testlib.h"

#define NOW 1800000000
#define LATER (NOW + 3600)

/* alice-adm: alice's, live until LATER; bob-ops: bob's, ending (revoked,
 * or being torn down); carol-db: carol's, ended an hour ago; tok: a
 * requester known only by a token, without a realm. */
static void
build(struct jit_nssdb_image *img)
{
    struct jit_nssdb_account v[4] = {
        { .name = "alice-adm", .gecos = "JIT db-admin",
          .dir = "/home/jit/alice-adm", .shell = "/bin/bash",
          .uid = T_ID_MIN, .gid = T_ID_MIN, .created = NOW - 60,
          .expires = LATER, .requester = "alice@JIT.TEST", .ends = LATER,
          .live = 1 },
        { .name = "bob-ops", .gecos = "JIT ops", .dir = "/home/jit/bob-ops",
          .shell = "/bin/bash", .uid = T_ID_MIN + 1, .gid = T_ID_MIN + 1,
          .created = NOW - 60, .expires = LATER,
          .requester = "bob@JIT.TEST", .ends = LATER, .live = 0 },
        { .name = "carol-db", .gecos = "JIT db", .dir = "/home/jit/carol-db",
          .shell = "/bin/bash", .uid = T_ID_MIN + 2, .gid = T_ID_MIN + 2,
          .created = NOW - 7200, .expires = NOW - 3600,
          .requester = "carol@JIT.TEST", .ends = NOW - 3600, .live = 1 },
        { .name = "tok", .gecos = "JIT db", .dir = "/home/jit/tok",
          .shell = "/bin/bash", .uid = T_ID_MIN + 3, .gid = T_ID_MIN + 3,
          .created = NOW - 60, .expires = LATER, .requester = "tok",
          .ends = LATER, .live = 1 },
    };

    ck_assert_int_eq(jit_nssdb_build(v, 4, T_ID_MIN, T_ID_MAX, 1, NOW, img),
                     0);
}

static enum jit_localauth_verdict
decide(const struct jit_nssdb *db, const char *principal, const char *account,
       int64_t now, const char *want_reason)
{
    const struct jit_nssdb_passwd *rec = NULL;
    const char *reason = NULL;
    enum jit_localauth_verdict v;

    v = jit_localauth_decide(db, principal, account, now, &reason, &rec);
    ck_assert_ptr_nonnull(reason);
    ck_assert_msg(strcmp(reason, want_reason) == 0, "%s as %s: %s, not %s",
                  principal ? principal : "(null)", account, reason,
                  want_reason);
    ck_assert(v == JIT_LOCALAUTH_PASS ? rec == NULL : rec != NULL);
    return v;
}

START_TEST(test_requester_only)
{
    struct jit_nssdb_image img;
    struct jit_nssdb db;

    build(&img);
    ck_assert_int_eq(jit_nssdb_parse(img.data, img.len, &db), 0);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "alice-adm", NOW,
                            "requester"), JIT_LOCALAUTH_ALLOW);
    /* Byte for byte: another person, another realm, a case or an
     * instance of alice, her name without a realm, a prefix. */
    ck_assert_int_eq(decide(&db, "bob@JIT.TEST", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "alice@OTHER.TEST", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "Alice@JIT.TEST", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "alice@jit.test", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "alice/admin@JIT.TEST", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "alice", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "alice@JIT.TES", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST ", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "", "alice-adm", NOW, "not_requester"),
                     JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, NULL, "alice-adm", NOW, "not_requester"),
                     JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(decide(&db, "host/web01.test@JIT.TEST", "alice-adm", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    /* A requester without a realm matches no principal, not even one
     * that unparses without a realm shown (krb5_unparse_name always
     * writes the realm). */
    ck_assert_int_eq(decide(&db, "tok@JIT.TEST", "tok", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    jit_nssdb_image_free(&img);
}
END_TEST

START_TEST(test_in_force_only)
{
    struct jit_nssdb_image img;
    struct jit_nssdb db;

    build(&img);
    ck_assert_int_eq(jit_nssdb_parse(img.data, img.len, &db), 0);
    /* Ending: refused to its own requester, whatever the time says. */
    ck_assert_int_eq(decide(&db, "bob@JIT.TEST", "bob-ops", NOW,
                            "account_ending"), JIT_LOCALAUTH_DENY);
    /* Ended by the snapshot's own time, before the reaper came. */
    ck_assert_int_eq(decide(&db, "carol@JIT.TEST", "carol-db", NOW,
                            "grant_expired"), JIT_LOCALAUTH_DENY);
    /* The end to the second, no allowance. */
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "alice-adm", LATER - 1,
                            "requester"), JIT_LOCALAUTH_ALLOW);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "alice-adm", LATER,
                            "grant_expired"), JIT_LOCALAUTH_DENY);
    /* Another person is told "not yours" before "ended". */
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "bob-ops", NOW,
                            "not_requester"), JIT_LOCALAUTH_DENY);
    jit_nssdb_image_free(&img);
}
END_TEST

START_TEST(test_not_ours_passes)
{
    struct jit_nssdb_image img, empty;
    struct jit_nssdb db;

    build(&img);
    ck_assert_int_eq(jit_nssdb_parse(img.data, img.len, &db), 0);
    /* Local users and names nobody has: the usual rules (.k5login,
     * auth_to_local) decide, for every principal. */
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "alice", NOW, "not_ours"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "root", NOW, "not_ours"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(decide(&db, "bob@JIT.TEST", "alice-adm2", NOW,
                            "not_ours"), JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "", NOW, "not_ours"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", NULL, NOW, "not_ours"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(decide(NULL, "alice@JIT.TEST", "alice-adm", NOW,
                            "not_ours"), JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(jit_nssdb_build(NULL, 0, T_ID_MIN, T_ID_MAX, 1, NOW,
                                     &empty), 0);
    ck_assert_int_eq(jit_nssdb_parse(empty.data, empty.len, &db), 0);
    ck_assert_int_eq(decide(&db, "alice@JIT.TEST", "alice-adm", NOW,
                            "not_ours"), JIT_LOCALAUTH_PASS);
    jit_nssdb_image_free(&empty);
    jit_nssdb_image_free(&img);
}
END_TEST

/* The audit lines userok writes, one per call at most. */
static char lines[4][1024];
static int n_lines;

static void
collect(void *ctx, int prio, const char *line)
{
    (void) ctx;
    (void) prio;
    ck_assert_int_lt(n_lines, 4);
    snprintf(lines[n_lines++], sizeof(lines[0]), "%s", line);
}

static enum jit_localauth_verdict
userok(const char *path, const char *principal, const char *account)
{
    const struct jit_log log = { collect, NULL, 0 };

    n_lines = 0;
    return jit_localauth_userok(path, geteuid(), principal, account, NOW,
                                &log);
}

START_TEST(test_userok_file)
{
    char *dir = t_mkdtemp(), *p = t_path(dir, "nss.db");
    struct jit_nssdb_image img;
    int fds;

    build(&img);
    /* No snapshot yet: no JIT account exists; nothing to say. */
    ck_assert_int_eq(userok(p, "alice@JIT.TEST", "alice-adm"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(n_lines, 0);
    t_write_file(p, img.data, img.len, 0644);
    fds = dup(0);
    ck_assert_int_ge(fds, 0);
    close(fds);
    ck_assert_int_eq(userok(p, "alice@JIT.TEST", "alice-adm"),
                     JIT_LOCALAUTH_ALLOW);
    ck_assert_int_eq(n_lines, 1);
    ck_assert_msg(strstr(lines[0], "event=\"gssapi\" result=\"allow\" "
                         "reason=\"requester\" user=\"alice-adm\" "
                         "requester=\"alice@JIT.TEST\"") != NULL, "%s",
                  lines[0]);
    ck_assert_int_eq(userok(p, "bob@JIT.TEST", "alice-adm"),
                     JIT_LOCALAUTH_DENY);
    ck_assert_int_eq(n_lines, 1);
    ck_assert_msg(strstr(lines[0], "result=\"deny\" reason=\"not_requester\" "
                         "user=\"alice-adm\" requester=\"alice@JIT.TEST\"")
                  != NULL && strstr(lines[0], "detail=\"bob@JIT.TEST\""),
                  "%s", lines[0]);
    /* An escape sequence in the principal stays inside its value. */
    ck_assert_int_eq(userok(p, "x\"\n\x1b[2J@JIT.TEST", "alice-adm"),
                     JIT_LOCALAUTH_DENY);
    ck_assert_ptr_null(strchr(lines[0], '\n'));
    ck_assert_ptr_null(strchr(lines[0], '\x1b'));
    /* Not ours: no line (doc/design.md, R7). */
    ck_assert_int_eq(userok(p, "alice@JIT.TEST", "root"), JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(n_lines, 0);
    /* Every call let its descriptor and its mapping go. */
    ck_assert_int_eq(dup(0), fds);
    close(fds);

    /* A snapshot the reader refuses (writable by others, then corrupt):
     * nothing of ours resolves, so nothing of ours can be logged in to;
     * a warning says why. */
    ck_assert_int_eq(chmod(p, 0666), 0);
    ck_assert_int_eq(userok(p, "alice@JIT.TEST", "alice-adm"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(n_lines, 1);
    ck_assert_ptr_nonnull(strstr(lines[0], "unusable"));
    img.data[img.len - 1] ^= 1;
    t_write_file(p, img.data, img.len, 0644);
    ck_assert_int_eq(userok(p, "alice@JIT.TEST", "alice-adm"),
                     JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(n_lines, 1);
    t_rmtree(dir);
    jit_nssdb_image_free(&img);
    free(p);
    free(dir);
}
END_TEST

/* A name NSS resolves to another uid first (passwd: files sss jit, and
 * a directory user named after a JIT account later): sshd logs in to
 * that one, which is not ours, so its usual rules decide, as pam_jit's
 * account step judges it too.  The name: the first of this machine's
 * users that a JIT account could be named (systemd-network, say). */
START_TEST(test_userok_resolves_elsewhere)
{
    char *dir = t_mkdtemp(), *p = t_path(dir, "nss.db");
    struct jit_nssdb_account v[1] = {
        { .name = NULL, .gecos = "JIT db", .dir = "/home/jit/x",
          .shell = "/bin/bash", .uid = T_ID_MIN, .gid = T_ID_MIN,
          .created = NOW - 60, .expires = LATER,
          .requester = "alice@JIT.TEST", .ends = LATER, .live = 1 },
    };
    struct jit_nssdb_image img;
    struct passwd *pw;
    char name[64] = "";

    setpwent();
    while ((pw = getpwent()) != NULL)
        if (pw->pw_uid != T_ID_MIN && jit_name_problem(pw->pw_name) == NULL
            && strlen(pw->pw_name) < sizeof(name)) {
            snprintf(name, sizeof(name), "%s", pw->pw_name);
            break;
        }
    endpwent();
    if (name[0] == '\0') {
        fprintf(stderr, "SKIP test_userok_resolves_elsewhere: no user here"
                " a JIT account could be named after\n");
        goto done;
    }
    v[0].name = name;
    ck_assert_int_eq(jit_nssdb_build(v, 1, T_ID_MIN, T_ID_MAX, 1, NOW, &img),
                     0);
    t_write_file(p, img.data, img.len, 0644);
    ck_assert_int_eq(userok(p, "alice@JIT.TEST", name), JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(userok(p, "bob@JIT.TEST", name), JIT_LOCALAUTH_PASS);
    ck_assert_int_eq(n_lines, 0);
    jit_nssdb_image_free(&img);
done:
    t_rmtree(dir);
    free(p);
    free(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("localauth");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_requester_only);
    tcase_add_test(tc, test_in_force_only);
    tcase_add_test(tc, test_not_ours_passes);
    tcase_add_test(tc, test_userok_resolves_elsewhere);
    tcase_add_test(tc, test_userok_file);
    suite_add_tcase(s, tc);
    return t_run(s);
}
