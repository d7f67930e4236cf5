/* SPDX-License-Identifier: MIT */
/* Unit tests: audit lines (lib/core/audit.c), whether a grant fits
 * (lib/login/login.c), the auth step's decisions before the API
 * (lib/login/auth.c), homes made and removed without following symlinks
 * (lib/core/home.c); threats on log forging, clock skew and hostile homes. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "core/archive.h"
#include "core/audit.h"
#include "core/conf.h"
#include "core/home.h"
#include "login/login.h"
#include "testlib.h"

START_TEST(test_audit_format)
{
    struct jit_audit a = {
        .event = "login", .result = "deny", .reason = "no_grant",
        .user = "alice", .requester = "eve\" result=\"allow\nFAKE\x1b[2J",
        .rhost = "192.0.2.7", .expires = 1795514400,
    };
    char *line = jit_audit_format(&a);

    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line,
                     "event=\"login\" result=\"deny\" reason=\"no_grant\""
                     " user=\"alice\""
                     " requester=\"eve\\\" result=\\\"allow\\nFAKE\\x1b[2J\""
                     " rhost=\"192.0.2.7\" expires=\"2026-11-24T10:00:00Z\"");
    ck_assert_ptr_null(strchr(line, '\n'));
    free(line);
}
END_TEST

/* A log that keeps its lines, for the deferred audit queue. */
struct kept {
    char lines[4][512];
    int n;
};

static void
keep_line(void *ctx, int prio, const char *line)
{
    struct kept *k = ctx;

    (void) prio;
    if (k->n < 4)
        snprintf(k->lines[k->n++], sizeof(k->lines[0]), "%s", line);
}

START_TEST(test_audit_queue)
{
    struct kept k = { .n = 0 };
    struct jit_log log = { keep_line, &k, 0 };
    struct jit_audit_queue q = { 0 };
    char detail[] = "groups[1]: listed twice";
    struct jit_audit a = {
        .event = "sync", .result = "deny", .reason = "bad_grant",
        .user = "bob", .detail = detail,
    };

    /* Formatted when deferred: the strings may change or go before. */
    jit_audit_defer(&q, LOG_NOTICE, &a);
    detail[0] = 'X';
    a.user = "carol";
    jit_audit_defer(&q, LOG_NOTICE, &a);
    ck_assert_int_eq(k.n, 0);
    jit_audit_flush(&q, &log);
    ck_assert_int_eq(k.n, 2);
    ck_assert_str_eq(k.lines[0], "event=\"sync\" result=\"deny\""
                     " reason=\"bad_grant\" user=\"bob\""
                     " detail=\"groups[1]: listed twice\"");
    ck_assert_ptr_nonnull(strstr(k.lines[1], "user=\"carol\""));
    ck_assert_uint_eq(q.n, 0);
    /* Discarded: never emitted (a rolled-back transaction's lines). */
    jit_audit_defer(&q, LOG_NOTICE, &a);
    jit_audit_discard(&q);
    jit_audit_flush(&q, &log);
    ck_assert_int_eq(k.n, 2);
}
END_TEST

/* Writable copies: struct jit_grant holds char *. */
static char id[] = "g-1", cred[] = "db", req[] = "a@X", user[] = "alice",
            host1[] = "web01", host2[] = "web02", reason[] = "r",
            active[] = "active", revoked[] = "revoked", expired[] = "expired",
            keep[] = "keep";

static struct jit_grant
mkgrant(void)
{
    struct jit_grant g = {
        .id = id, .credential = cred, .requester = req, .username = user,
        .host = host1, .reason = reason, .status = active,
        .on_logout = keep, .not_before = 1000, .expires_at = 2000,
    };
    return g;
}

START_TEST(test_misfit)
{
    struct jit_conf c;
    struct jit_grant g = mkgrant();

    ck_assert_int_eq(jit_conf_init(&c), 0);
    c.host = strdup("web01");
    c.clock_skew = 60;
    ck_assert_ptr_null(jit_grant_misfit(&g, &c, "alice", 1500));
    ck_assert_str_eq(jit_grant_misfit(&g, &c, "bob", 1500), "wrong_user");
    ck_assert_ptr_null(jit_grant_misfit(&g, &c, "alice", 940));
    ck_assert_str_eq(jit_grant_misfit(&g, &c, "alice", 939), "not_yet_valid");
    ck_assert_ptr_null(jit_grant_misfit(&g, &c, "alice", 1999));
    ck_assert_str_eq(jit_grant_misfit(&g, &c, "alice", 2000), "grant_expired");
    g.status = revoked;
    ck_assert_str_eq(jit_grant_misfit(&g, &c, "alice", 1500), "grant_revoked");
    g.status = expired;
    ck_assert_str_eq(jit_grant_misfit(&g, &c, "alice", 1500), "grant_expired");
    g.status = active;
    g.host = host2;
    ck_assert_str_eq(jit_grant_misfit(&g, &c, "alice", 1500), "wrong_host");
    jit_conf_free(&c);
}
END_TEST

/* The auth step's fake conversation: counts the prompts, keeps the last,
 * and answers nothing. */
static int asked;
static char last_prompt[128];

static int
no_answer(void *ctx, const char *prompt, char **answer)
{
    (void) ctx;
    asked++;
    snprintf(last_prompt, sizeof(last_prompt), "%s", prompt);
    *answer = NULL;
    return -EIO;
}

static void
drop_line(void *ctx, int prio, const char *line)
{
    (void) ctx;
    (void) prio;
    (void) line;
}

/* Before any API call: a user another source owns is ignored without a
 * prompt; a name no source knows is asked its password first,
 * and no answer refuses quietly; setcred follows whose user it is
 * (doc/design.md, threat G4). */
START_TEST(test_auth_before_api)
{
    struct jit_conf c;
    struct jit_login l;

    ck_assert_int_eq(jit_conf_init(&c), 0);
    free(c.state_dir);
    c.state_dir = strdup("/nonexistent/jit-state");
    memset(&l, 0, sizeof(l));
    l.conf = &c;
    l.ask = no_answer;
    l.log.emit = drop_line;
    asked = 0;
    l.user = "root";
    ck_assert_int_eq(jit_login_authenticate(&l), JIT_IGNORE);
    ck_assert_str_eq(l.reason, "other_source");
    ck_assert_int_eq(asked, 0);
    ck_assert_int_eq(jit_login_setcred(&l), JIT_IGNORE);
    l.user = "no-such-user-k13";
    ck_assert_int_eq(jit_login_authenticate(&l), JIT_DENY);
    ck_assert_str_eq(l.reason, "no_password");
    ck_assert_int_eq(l.quiet, 1);
    ck_assert_int_eq(asked, 1);
    ck_assert_str_eq(last_prompt, "Password: ");
    ck_assert_int_eq(jit_login_setcred(&l), JIT_ALLOW);
    jit_conf_free(&c);
}
END_TEST

/* A snapshot that exists but cannot be read cannot say that a uid of
 * our range belongs to another source: such a user is refused, not
 * passed on; a uid outside the range still is (doc/design.md, R7). */
START_TEST(test_owner_unreadable_snapshot)
{
    char dir[] = "/tmp/check-login-owner-XXXXXX";
    char *snap = NULL;
    struct jit_conf c;
    struct jit_login l;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_ge(asprintf(&snap, "%s/nss.db", dir), 0);
    /* A directory where the snapshot goes: not ENOENT, not a snapshot. */
    ck_assert_int_eq(mkdir(snap, 0700), 0);
    ck_assert_int_eq(jit_conf_init(&c), 0);
    free(c.state_dir);
    c.state_dir = strdup(dir);
    memset(&l, 0, sizeof(l));
    l.conf = &c;
    l.ask = no_answer;
    l.log.emit = drop_line;
    l.user = "root";
    asked = 0;
    c.uid_min = 0;
    c.uid_max = 10;
    ck_assert_int_eq(jit_login_authenticate(&l), JIT_DENY);
    ck_assert_str_eq(l.reason, "nss_error");
    ck_assert_int_eq(asked, 0);
    c.uid_min = 1;
    ck_assert_int_eq(jit_login_authenticate(&l), JIT_IGNORE);
    ck_assert_str_eq(l.reason, "other_source");
    ck_assert_int_eq(rmdir(snap), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    free(snap);
    jit_conf_free(&c);
}
END_TEST

static char errbuf[512];

START_TEST(test_home_create_and_remove)
{
    char *dir = t_mkdtemp(), *base = t_path(dir, "home/jit");
    char *skel = t_path(dir, "skel"), *p;
    struct stat st;
    int created = -1;

    ck_assert_int_eq(mkdir(skel, 0755), 0);
    p = t_path(skel, ".profile");
    t_write_file(p, "x\n", 2, 0644);
    free(p);
    p = t_path(skel, "link");
    ck_assert_int_eq(symlink("/etc/passwd", p), 0);
    free(p);
    /* home_base is created, 0755, whatever is missing of it. */
    ck_assert_int_eq(jit_home_create(base, "alice", skel, 70001, 70001,
                                     &created, errbuf, sizeof(errbuf)), 0);
    ck_assert_int_eq(created, 1);
    p = t_path(base, "alice");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    ck_assert_uint_eq(st.st_uid, 70001);
    free(p);
    p = t_path(base, "alice/link");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISLNK(st.st_mode)); /* copied as a link, not followed */
    ck_assert_uint_eq(st.st_uid, 70001);
    free(p);
    /* A second session: the home is the account's own, accepted. */
    ck_assert_int_eq(jit_home_create(base, "alice", skel, 70001, 70001,
                                     &created, errbuf, sizeof(errbuf)), 0);
    ck_assert_int_eq(created, 0);
    /* Someone else's uid: refused. */
    ck_assert_int_eq(jit_home_create(base, "alice", skel, 70002, 70002,
                                     &created, errbuf, sizeof(errbuf)),
                     -EEXIST);
    ck_assert_int_eq(jit_home_remove(base, "alice", errbuf, sizeof(errbuf)),
                     0);
    p = t_path(base, "alice");
    ck_assert_int_eq(lstat(p, &st), -1);
    free(p);
    ck_assert_int_eq(jit_home_remove(base, "alice", errbuf, sizeof(errbuf)),
                     0); /* nothing there is fine */
    t_rmtree(dir);
    free(dir);
    free(base);
    free(skel);
}
END_TEST

START_TEST(test_home_symlinks)
{
    char *dir = t_mkdtemp(), *base = t_path(dir, "home");
    char *canary = t_path(dir, "canary"), *p, *q;
    struct stat st;
    int created = -1;

    ck_assert_int_eq(mkdir(base, 0755), 0);
    ck_assert_int_eq(mkdir(canary, 0755), 0);
    p = t_path(canary, "keep");
    t_write_file(p, "x", 1, 0644);
    free(p);
    /* A symlink where the home goes: refused and left alone. */
    p = t_path(base, "eve");
    ck_assert_int_eq(symlink(canary, p), 0);
    ck_assert_int_eq(jit_home_create(base, "eve", NULL, 70001, 70001,
                                     &created, errbuf, sizeof(errbuf)),
                     -EEXIST);
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    /* Removing it removes the link, never what it points to. */
    ck_assert_int_eq(jit_home_remove(base, "eve", errbuf, sizeof(errbuf)), 0);
    ck_assert_int_eq(lstat(p, &st), -1);
    free(p);
    /* A home holding a symlink to the canary: the link goes, the canary
     * stays. */
    ck_assert_int_eq(jit_home_create(base, "eve", NULL, 70001, 70001,
                                     &created, errbuf, sizeof(errbuf)), 0);
    p = t_path(base, "eve/a");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    p = t_path(base, "eve/a/b");
    ck_assert_int_eq(symlink(canary, p), 0);
    free(p);
    ck_assert_int_eq(jit_home_remove(base, "eve", errbuf, sizeof(errbuf)), 0);
    q = t_path(canary, "keep");
    ck_assert_int_eq(stat(q, &st), 0);
    free(q);
    /* home_base itself a symlink: refused. */
    p = t_path(dir, "linkbase");
    ck_assert_int_eq(symlink(base, p), 0);
    ck_assert_int_lt(jit_home_create(p, "eve", NULL, 70001, 70001, &created,
                                     errbuf, sizeof(errbuf)), 0);
    ck_assert_ptr_nonnull(strstr(errbuf, "symlink"));
    free(p);
    /* Bad names never reach the file system. */
    ck_assert_int_eq(jit_home_create(base, "../x", NULL, 70001, 70001,
                                     &created, errbuf, sizeof(errbuf)),
                     -EINVAL);
    ck_assert_int_eq(jit_home_remove(base, "..", errbuf, sizeof(errbuf)),
                     -EINVAL);
    t_rmtree(dir);
    free(dir);
    free(base);
    free(canary);
}
END_TEST

START_TEST(test_home_remove_deep)
{
    char *dir = t_mkdtemp(), *base = t_path(dir, "home"), *p;
    struct stat st;
    int created, fd;

    /* 2,500 levels: 5,000 bytes of path, past PATH_MAX (4,096), and 39
     * times FLATTEN_AT; made fd-relative. */
    ck_assert_int_eq(jit_home_create(base, "deb", NULL, 70002, 70002,
                                     &created, errbuf, sizeof(errbuf)), 0);
    p = t_path(base, "deb");
    fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 2500; i++) {
        int next;

        ck_assert_int_eq(mkdirat(fd, "d", 0700), 0);
        next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(next, 0);
        if (i % 1000 == 0) {
            int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

            ck_assert_int_ge(f, 0);
            close(f);
        }
        close(fd);
        fd = next;
    }
    close(fd);
    ck_assert_int_eq(jit_home_remove(base, "deb", errbuf, sizeof(errbuf)), 0);
    ck_assert_int_eq(lstat(p, &st), -1);
    free(p);
    t_rmtree(dir);
    free(dir);
    free(base);
}
END_TEST

START_TEST(test_home_archive)
{
    char *dir = t_mkdtemp(), *base = t_path(dir, "home"), *p;
    char hdr[512];
    struct stat st;
    uint64_t size = 0;
    int created, fd;

    ck_assert_int_eq(jit_home_create(base, "ann", NULL, 70001, 70001,
                                     &created, errbuf, sizeof(errbuf)), 0);
    p = t_path(base, "ann/notes");
    fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "hello\n", 6), 6);
    close(fd);
    free(p);
    /* The size counted beforehand is the size written. */
    fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(jit_archive_tree(fd, "ann", -1, &size, errbuf,
                                      sizeof(errbuf)), 0);
    close(fd);
    ck_assert_int_eq(jit_home_archive(base, "ann", dir, "123.70001", errbuf,
                                      sizeof(errbuf)), 0);
    p = t_path(dir, "archive");
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    free(p);
    /* A tar file, 0600, whose first entry is the home directory. */
    p = t_path(dir, "archive/ann.123.70001.tar");
    fd = open(p, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(st.st_size % 512, 0);
    ck_assert_uint_eq((uint64_t) st.st_size, size);
    ck_assert_int_eq(read(fd, hdr, sizeof(hdr)), 512);
    ck_assert_str_eq(hdr, "ann/");
    ck_assert_int_eq(memcmp(hdr + 257, "ustar", 6), 0);
    ck_assert_int_eq(hdr[156], '5');
    close(fd);
    free(p);
    p = t_path(base, "ann");
    ck_assert_int_eq(lstat(p, &st), -1); /* the home is gone */
    free(p);
    /* No home: nothing to do. */
    ck_assert_int_eq(jit_home_archive(base, "ann", dir, "124.70001", errbuf,
                                      sizeof(errbuf)), 0);
    t_rmtree(dir);
    free(dir);
    free(base);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("login");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_audit_format);
    tcase_add_test(tc, test_audit_queue);
    tcase_add_test(tc, test_misfit);
    tcase_add_test(tc, test_auth_before_api);
    tcase_add_test(tc, test_owner_unreadable_snapshot);
    if (geteuid() == 0) {
        /* chown to another uid needs root. */
        tcase_add_test(tc, test_home_create_and_remove);
        tcase_add_test(tc, test_home_symlinks);
        tcase_add_test(tc, test_home_archive);
    }
    suite_add_tcase(s, tc);
    if (geteuid() == 0) {
        /* About 0.5 s of CPU, mostly the kernel's (2,500 mkdirat, then
         * renames and rmdirs): check's 4 s default is less than that
         * takes when two busy loops and a parallel make share the cores.
         * 60 s still catches a removal that never ends. */
        TCase *deep = tcase_create("deep");

        tcase_set_timeout(deep, 60);
        tcase_add_test(deep, test_home_remove_deep);
        suite_add_tcase(s, deep);
    }
    return t_run(s);
}
