/* SPDX-License-Identifier: MIT */
/* Unit tests: jitctl doctor's checks of files (lib/daemon/doctor.c), on
 * fixtures in a temporary directory: nsswitch.conf, the PAM module and
 * pam.d, login.defs, subuid, passwd and group, the files jit.conf names,
 * nscd.conf, sshd -T's text, the API's answer and the outbox. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "daemon/doctor.h"
#include "daemon/status.h"
#include "testlib.h"

static char *dir;
static struct jit_conf conf;
static struct jit_doctor d;

static void
setup(void)
{
    dir = t_mkdtemp();
    ck_assert_int_eq(jit_conf_init(&conf), 0);
    memset(&d, 0, sizeof(d));
}

static void
teardown(void)
{
    jit_doctor_free(&d);
    jit_conf_free(&conf);
    t_rmtree(dir);
    free(dir);
}

/* Write text to dir/name with mode; the path, the caller's to free. */
static char *
fixture(const char *name, const char *text, mode_t mode)
{
    char *p = t_path(dir, name);

    t_write_file(p, text, strlen(text), mode);
    return p;
}

/* How many lines of check at level; and whether one holds text. */
static int
count(const char *check, int level)
{
    int n = 0;

    for (size_t i = 0; i < d.n; i++)
        if (strcmp(d.v[i].check, check) == 0 && d.v[i].level == level)
            n++;
    return n;
}

static int
says(int level, const char *text)
{
    for (size_t i = 0; i < d.n; i++)
        if (d.v[i].level == level && strstr(d.v[i].message, text) != NULL)
            return 1;
    return 0;
}

START_TEST(test_nsswitch_good)
{
    char *p = fixture("nsswitch.conf",
                      "# comment: passwd: jit files\n"
                      "passwd:  files systemd jit\n"
                      "group:   files [SUCCESS=merge] systemd jit\n"
                      "shadow:  files jit # jit after files\n"
                      "hosts:   jit files\n", 0644);

    jit_doctor_nsswitch(&d, p);
    ck_assert_int_eq(count("nsswitch", JIT_DOCTOR_OK), 3);
    ck_assert_int_eq(jit_doctor_worst(&d), JIT_DOCTOR_OK);
    free(p);
}
END_TEST

START_TEST(test_nsswitch_bad)
{
    /* jit before files; no jit; no shadow line; the last line wins. */
    char *p = fixture("nsswitch.conf",
                      "passwd: files jit\n"
                      "passwd: jit files\n"
                      "group: files systemd\n", 0644);

    jit_doctor_nsswitch(&d, p);
    ck_assert_int_eq(count("nsswitch", JIT_DOCTOR_FAIL), 3);
    ck_assert(says(JIT_DOCTOR_FAIL, "passwd lists jit before files"));
    ck_assert(says(JIT_DOCTOR_FAIL, "group does not list jit"));
    ck_assert(says(JIT_DOCTOR_FAIL, "no shadow line"));
    jit_doctor_free(&d);
    free(p);
    /* An action that ends the lookup before jit is reached; one after
     * jit, or [SUCCESS=merge], does not. */
    p = fixture("nsswitch.conf",
                "passwd: files [NOTFOUND=return] jit\n"
                "group: files [ !UNAVAIL=return ] jit\n"
                "shadow: files jit [NOTFOUND=return] sss\n", 0644);
    jit_doctor_nsswitch(&d, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "passwd: the action [NOTFOUND=return]"
                                    " before jit"));
    ck_assert(says(JIT_DOCTOR_FAIL, "group: the action !UNAVAIL=return"));
    ck_assert_int_eq(count("nsswitch", JIT_DOCTOR_OK), 1);
    free(p);
}
END_TEST

START_TEST(test_nsswitch_missing)
{
    char *p = t_path(dir, "none");

    jit_doctor_nsswitch(&d, p);
    ck_assert_int_eq(jit_doctor_worst(&d), JIT_DOCTOR_FAIL);
    jit_doctor_free(&d);
    /* A hostile image: a FIFO (no writer) fails, and does not hang. */
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    jit_doctor_nsswitch(&d, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "Invalid argument"));
    jit_doctor_free(&d);
    jit_doctor_login_defs(&d, &conf, p);
    ck_assert_int_eq(count("login.defs", JIT_DOCTOR_WARN), 1);
    free(p);
}
END_TEST

START_TEST(test_pam_module)
{
    char *p = fixture("pam_jit.so", "ELF", 0644);

    jit_doctor_pam_module(&d, dir);
    ck_assert_int_eq(count("pam-module", JIT_DOCTOR_OK), 1);
    jit_doctor_free(&d);
    /* Anyone may write it: anyone could be root at the next login. */
    ck_assert_int_eq(chmod(p, 0666), 0);
    jit_doctor_pam_module(&d, dir);
    ck_assert_int_eq(count("pam-module", JIT_DOCTOR_FAIL), 1);
    ck_assert(says(JIT_DOCTOR_FAIL, "chmod go-w"));
    jit_doctor_free(&d);
    ck_assert_int_eq(unlink(p), 0);
    jit_doctor_pam_module(&d, dir);
    ck_assert(says(JIT_DOCTOR_FAIL, "install libpam-jit"));
    free(p);
}
END_TEST

/* pam_jit_login.so checked as pam_jit.so checks it (lib/login/backend.c). */
START_TEST(test_pam_backend)
{
    char *p = fixture("pam_jit_login.so", "ELF", 0644);
    char *net = fixture("pam_jit_net.so", "ELF", 0644);

    jit_doctor_pam_backend(&d, p);
    ck_assert_int_eq(count("pam-backend", JIT_DOCTOR_OK), 2);
    jit_doctor_free(&d);
    /* pam_jit_net.so beside it, checked the same way. */
    ck_assert_int_eq(chmod(net, 0666), 0);
    jit_doctor_pam_backend(&d, p);
    ck_assert_int_eq(count("pam-backend", JIT_DOCTOR_OK), 1);
    ck_assert(says(JIT_DOCTOR_FAIL, "pam_jit_net.so: file: writable by group"));
    jit_doctor_free(&d);
    ck_assert_int_eq(unlink(net), 0);
    jit_doctor_pam_backend(&d, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "pam_jit_net.so: file: No such file"));
    jit_doctor_free(&d);
    free(net);
    ck_assert_int_eq(chmod(p, 0664), 0);
    jit_doctor_pam_backend(&d, p);
    ck_assert_int_eq(count("pam-backend", JIT_DOCTOR_FAIL), 2);
    ck_assert(says(JIT_DOCTOR_FAIL, "file: writable by group or others"));
    jit_doctor_free(&d);
    ck_assert_int_eq(chmod(p, 0644), 0);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    jit_doctor_pam_backend(&d, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "directory: writable by group or others"));
    jit_doctor_free(&d);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_int_eq(unlink(p), 0);
    jit_doctor_pam_backend(&d, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "file: No such file or directory"));
    jit_doctor_free(&d);
    jit_doctor_pam_backend(&d, "pam_jit_login.so");
    ck_assert(says(JIT_DOCTOR_FAIL, "not an absolute path"));
    free(p);
}
END_TEST

START_TEST(test_pamd_order)
{
    char *pd = t_path(dir, "pam.d"), *a, *s;

    ck_assert_int_eq(mkdir(pd, 0755), 0);
    /* As pam-auth-update writes them: jit first, in brackets. */
    a = fixture("pam.d/common-account",
                "account [success=ok ignore=ignore default=die]\tpam_jit.so\n"
                "account [success=1 new_authtok_reqd=done default=ignore]"
                " pam_unix.so\n"
                "account requisite pam_deny.so\n", 0644);
    s = fixture("pam.d/common-session",
                "session required pam_unix.so\n"
                "-session optional /lib/security/pam_jit.so debug\n", 0644);
    jit_doctor_pamd(&d, pd);
    ck_assert_int_eq(count("pam.d", JIT_DOCTOR_OK), 1);
    ck_assert(says(JIT_DOCTOR_FAIL, "common-session: pam_jit.so (line 2)"
                                    " comes after pam_unix.so (line 1)"));
    jit_doctor_free(&d);
    /* An sshd stack that does not reach common-account (a comment is no
     * include); one that does, or has its own line, is fine. */
    free(fixture("pam.d/sshd", "# @include common-account\n"
                               "@include common-auth\n"
                               "@include   common-session\n", 0644));
    jit_doctor_pamd(&d, pd);
    ck_assert_int_eq(count("pam.d", JIT_DOCTOR_WARN), 1);
    ck_assert(says(JIT_DOCTOR_WARN, "includes no common-account"));
    jit_doctor_free(&d);
    free(fixture("pam.d/sshd", "@include common-session\n"
                               "account required pam_jit.so\n", 0644));
    jit_doctor_pamd(&d, pd);
    ck_assert_int_eq(count("pam.d", JIT_DOCTOR_WARN), 0);
    jit_doctor_free(&d);
    {
        char *sp = t_path(dir, "pam.d/sshd");

        ck_assert_int_eq(unlink(sp), 0);
        free(sp);
    }
    /* A comment naming the module is no line of it. */
    free(s);
    s = fixture("pam.d/common-session",
                "# session required pam_jit.so\n"
                "session required pam_unix.so\n", 0644);
    jit_doctor_pamd(&d, pd);
    ck_assert(says(JIT_DOCTOR_FAIL, "no 'session ... pam_jit.so' line"));
    jit_doctor_free(&d);
    /* Without common-*, sshd's own stack. */
    ck_assert_int_eq(unlink(a), 0);
    ck_assert_int_eq(unlink(s), 0);
    free(a);
    free(s);
    a = fixture("pam.d/sshd", "account required pam_jit.so\n"
                              "session required pam_jit.so\n", 0644);
    jit_doctor_pamd(&d, pd);
    ck_assert_int_eq(count("pam.d", JIT_DOCTOR_OK), 2);
    free(a);
    free(pd);
}
END_TEST

START_TEST(test_login_defs)
{
    char *p = fixture("login.defs",
                      "UID_MIN 1000\nUID_MAX 60000\nSYS_UID_MAX 999\n"
                      "GID_MIN 1000\nGID_MAX 60000\n", 0644);

    conf.uid_min = 70000;
    conf.uid_max = 70999;
    jit_doctor_login_defs(&d, &conf, p);
    ck_assert_int_eq(jit_doctor_worst(&d), JIT_DOCTOR_OK);
    jit_doctor_free(&d);
    /* useradd's range reaching into ours, for uids only. */
    free(p);
    p = fixture("login.defs", "UID_MAX 80000\n", 0644);
    jit_doctor_login_defs(&d, &conf, p);
    ck_assert_int_eq(count("login.defs", JIT_DOCTOR_FAIL), 1);
    ck_assert(says(JIT_DOCTOR_FAIL, "UID_MAX 80000"));
    jit_doctor_free(&d);
    /* The system's range. */
    free(p);
    p = fixture("login.defs", "SYS_GID_MAX 70500\n", 0644);
    jit_doctor_login_defs(&d, &conf, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "system range (SYS_GID_MAX 70500)"));
    jit_doctor_free(&d);
    /* No file: useradd's defaults, and a warning. */
    free(p);
    p = t_path(dir, "none");
    jit_doctor_login_defs(&d, &conf, p);
    ck_assert_int_eq(count("login.defs", JIT_DOCTOR_WARN), 1);
    ck_assert_int_eq(count("login.defs", JIT_DOCTOR_OK), 1);
    free(p);
}
END_TEST

START_TEST(test_subids)
{
    char *p = fixture("subuid", "alice:100000:65536\n"
                                "bob:70500:10\n"
                                "junk\n:x:y\n", 0644);

    conf.uid_min = 70000;
    conf.uid_max = 70999;
    jit_doctor_subids(&d, &conf, p);
    ck_assert_int_eq(count("subuid", JIT_DOCTOR_FAIL), 1);
    ck_assert(says(JIT_DOCTOR_FAIL, "bob's range 70500-70509"));
    jit_doctor_free(&d);
    conf.uid_max = 70499;
    jit_doctor_subids(&d, &conf, p);
    ck_assert_int_eq(jit_doctor_worst(&d), JIT_DOCTOR_OK);
    free(p);
}
END_TEST

START_TEST(test_ids_and_groups)
{
    char *pw = fixture("passwd", "root:x:0:0::/root:/bin/sh\n"
                                 "carol:x:70001:100::/home/c:/bin/sh\n", 0644);
    char *gr = fixture("group", "root:x:0:\nusers:x:100:\n"
                                "team:x:70002:\n", 0644);

    conf.uid_min = 70000;
    conf.uid_max = 70999;
    jit_doctor_ids(&d, &conf, pw, gr);
    ck_assert(says(JIT_DOCTOR_FAIL, "user carol has id 70001"));
    ck_assert(says(JIT_DOCTOR_FAIL, "group team has id 70002"));
    jit_doctor_free(&d);
    /* allowed_groups: "user" is a prefix of "users", not a group. */
    {
        static const char line[] = "allowed_groups = users,user\n";
        struct jit_errs errs = { NULL, 0 };

        ck_assert_uint_eq(jit_conf_parse_buffer(&conf, "t", line,
                                                strlen(line), &errs), 0);
        jit_errs_free(&errs);
    }
    jit_doctor_groups(&d, &conf, gr);
    ck_assert_int_eq(count("groups", JIT_DOCTOR_WARN), 1);
    ck_assert(says(JIT_DOCTOR_WARN, "allowed group user does not exist"));
    free(pw);
    free(gr);
}
END_TEST

START_TEST(test_files_modes)
{
    char *tok, *ca;

    /* A secret must be root's (as the API client wants it): as another
     * user, every token here fails for its owner alone. */
    if (geteuid() != 0) {
        fprintf(stderr, "test_files_modes: not root: not run\n");
        return;
    }
    tok = fixture("token", "s3cret\n", 0600);
    ca = fixture("ca.pem", "x", 0644);

    free(conf.token_file);
    free(conf.ca_file);
    free(conf.home_base);
    free(conf.skel);
    conf.token_file = strdup(tok);
    conf.ca_file = strdup(ca);
    conf.home_base = strdup(dir);
    conf.skel = t_path(dir, "no-skel");
    jit_doctor_files(&d, &conf);
    ck_assert_int_eq(count("files", JIT_DOCTOR_OK), 3);
    ck_assert(says(JIT_DOCTOR_FAIL, "no-skel: No such file"));
    jit_doctor_free(&d);
    /* A token others can read: its own fail, the rest still checked. */
    ck_assert_int_eq(chmod(tok, 0640), 0);
    ck_assert_int_eq(chmod(ca, 0664), 0);
    jit_doctor_files(&d, &conf);
    ck_assert(says(JIT_DOCTOR_FAIL, "mode 0640 lets others read a secret:"
                                    " chmod 600"));
    ck_assert(says(JIT_DOCTOR_FAIL, "mode 0664 lets others write it"));
    ck_assert_int_eq(count("files", JIT_DOCTOR_OK), 1);
    jit_doctor_free(&d);
    /* A directory where a file should be. */
    free(conf.token_file);
    conf.token_file = strdup(dir);
    jit_doctor_files(&d, &conf);
    ck_assert(says(JIT_DOCTOR_FAIL, "not a regular file"));
    jit_doctor_free(&d);
    /* A symlink to a good token: the client would refuse it. */
    ck_assert_int_eq(chmod(tok, 0600), 0);
    free(conf.token_file);
    conf.token_file = t_path(dir, "token-link");
    ck_assert_int_eq(symlink(tok, conf.token_file), 0);
    jit_doctor_files(&d, &conf);
    ck_assert(says(JIT_DOCTOR_FAIL, "a symlink, which the API client"
                                    " refuses"));
    free(tok);
    free(ca);
}
END_TEST

START_TEST(test_state)
{
    char *st = t_path(dir, "state");

    free(conf.state_dir);
    conf.state_dir = strdup(st);
    jit_doctor_state(&d, &conf, NULL);
    ck_assert(says(JIT_DOCTOR_FAIL, "mkdir -m 755"));
    jit_doctor_free(&d);
    ck_assert_int_eq(mkdir(st, 0755), 0);
    jit_doctor_state(&d, &conf, st);
    ck_assert_int_eq(count("state", JIT_DOCTOR_OK), 1);
    ck_assert(says(JIT_DOCTOR_WARN, "none yet"));
    jit_doctor_free(&d);
    /* A snapshot that is not one; and nss_jit looking elsewhere. */
    free(fixture("state/nss.db", "not a snapshot", 0644));
    jit_doctor_state(&d, &conf, dir);
    ck_assert(says(JIT_DOCTOR_FAIL, "run jitctl sync to write it again"));
    ck_assert(says(JIT_DOCTOR_FAIL, "nss_jit reads its snapshot in"));
    jit_doctor_free(&d);
    ck_assert_int_eq(chmod(st, 0777), 0);
    jit_doctor_state(&d, &conf, st);
    ck_assert(says(JIT_DOCTOR_FAIL, "lets others write it"));
    free(st);
}
END_TEST

START_TEST(test_caches)
{
    char *n = fixture("nscd.conf", "\tenable-cache\t\tpasswd\t\tyes\n"
                                   "enable-cache group no\n", 0644);
    char *s = t_path(dir, "sssd.conf");

    jit_doctor_caches(&d, n, s);
    ck_assert(says(JIT_DOCTOR_WARN, "nscd caches passwd:"));
    jit_doctor_free(&d);
    free(n);
    n = fixture("nscd.conf", "enable-cache passwd no\n", 0644);
    jit_doctor_caches(&d, n, s);
    ck_assert_int_eq(jit_doctor_worst(&d), JIT_DOCTOR_OK);
    free(n);
    free(s);
}
END_TEST

START_TEST(test_sshd_text)
{
    char *j = fixture("jitctl", "#!/bin/sh\n", 0755);
    char *good = NULL;

    ck_assert_int_ge(asprintf(&good, "port 22\nusepam yes\n"
                              "authorizedkeyscommand %s authorized-keys %%u\n"
                              "authorizedkeyscommanduser root\n", j), 0);
    jit_doctor_sshd_text(&d, good, j);
    ck_assert_int_eq(count("sshd", JIT_DOCTOR_OK), 3);
    jit_doctor_free(&d);
    jit_doctor_sshd_text(&d, "usepam no\nauthorizedkeyscommand none\n", j);
    ck_assert(says(JIT_DOCTOR_FAIL, "UsePAM is no"));
    ck_assert(says(JIT_DOCTOR_WARN, "no AuthorizedKeysCommand"));
    jit_doctor_free(&d);
    jit_doctor_sshd_text(&d, "usepam yes\nauthorizedkeyscommand /bin/cat"
                             " %u\nauthorizedkeyscommanduser nobody\n", j);
    ck_assert(says(JIT_DOCTOR_WARN, "not 'jitctl authorized-keys %u'"));
    ck_assert(says(JIT_DOCTOR_FAIL, "AuthorizedKeysCommandUser is nobody"));
    jit_doctor_free(&d);
    /* Another jitctl than this one. */
    jit_doctor_sshd_text(&d, "usepam yes\nauthorizedkeyscommand"
                             " /nonexistent/jitctl authorized-keys %u\n"
                             "authorizedkeyscommanduser root\n", j);
    ck_assert(says(JIT_DOCTOR_FAIL, "runs /nonexistent/jitctl, not this"
                                    " jitctl: point it at"));
    jit_doctor_free(&d);
    /* Any jitctl will do when none is named, if it is there. */
    jit_doctor_sshd_text(&d, "usepam yes\nauthorizedkeyscommand"
                             " /nonexistent/jitctl authorized-keys %u\n"
                             "authorizedkeyscommanduser root\n", NULL);
    ck_assert(says(JIT_DOCTOR_FAIL, "runs /nonexistent/jitctl: No such"));
    free(good);
    free(j);
}
END_TEST

START_TEST(test_api_answer)
{
    conf.clock_skew = 60;
    free(conf.token_file);
    conf.token_file = strdup("/t");
    jit_doctor_api_answer(&d, &conf, 200, NULL, NULL, 1000, 1010);
    ck_assert_int_eq(jit_doctor_worst(&d), JIT_DOCTOR_OK);
    jit_doctor_free(&d);
    jit_doctor_api_answer(&d, &conf, 401, NULL, NULL, 1000, 1040);
    ck_assert(says(JIT_DOCTOR_FAIL, "token rejected by the API"));
    ck_assert(says(JIT_DOCTOR_WARN, "40 s off the API's"));
    jit_doctor_free(&d);
    jit_doctor_api_answer(&d, &conf, 200, NULL, NULL, 1000, 900);
    ck_assert(says(JIT_DOCTOR_FAIL, "100 s behind the API's"));
    jit_doctor_free(&d);
    jit_doctor_api_answer(&d, &conf, 0, "unreachable", "refused", -1, 0);
    ck_assert(says(JIT_DOCTOR_FAIL, "not reached (unreachable: refused)"));
    ck_assert_int_eq(count("clock", JIT_DOCTOR_FAIL)
                     + count("clock", JIT_DOCTOR_WARN), 0);
}
END_TEST

START_TEST(test_outbox)
{
    conf.outbox_max = 100;
    jit_doctor_outbox(&d, &conf, 79);
    jit_doctor_outbox(&d, &conf, -ENOENT);
    ck_assert_int_eq(count("outbox", JIT_DOCTOR_OK), 2);
    jit_doctor_outbox(&d, &conf, 80);
    ck_assert_int_eq(count("outbox", JIT_DOCTOR_WARN), 1);
    jit_doctor_outbox(&d, &conf, 100);
    jit_doctor_outbox(&d, &conf, -EACCES);
    ck_assert_int_eq(count("outbox", JIT_DOCTOR_FAIL), 2);
}
END_TEST

START_TEST(test_escaped)
{
    /* What a file says reaches the terminal escaped. */
    char *p = fixture("subuid", "ev\x1b[2Jil:70000:5\n", 0644);

    conf.uid_min = 70000;
    conf.uid_max = 70999;
    jit_doctor_subids(&d, &conf, p);
    ck_assert(says(JIT_DOCTOR_FAIL, "ev\\x1b[2Jil"));
    free(p);
}
END_TEST

/* A systemctl of the test's: is-active exits with active's status, show
 * prints result. */
static char *
fake_systemctl(int active, const char *result)
{
    char *text = NULL, *p;

    ck_assert_int_ge(asprintf(&text, "#!/bin/sh\n"
                              "case $1 in is-active) exit %d ;;"
                              " show) echo %s ;; esac\n",
                              active ? 0 : 3, result), 0);
    p = fixture("systemctl", text, 0755);
    free(text);
    return p;
}

START_TEST(test_daemon_or_timer)
{
    struct jit_daemon_status st;
    char *sc;
    int64_t now = (int64_t) time(NULL);

    free(conf.state_dir);
    conf.state_dir = strdup(dir);
    /* No daemon ever ran, no systemd: neither runs. */
    jit_doctor_daemon(&d, &conf, NULL, now);
    ck_assert(says(JIT_DOCTOR_FAIL, "neither the daemon nor jit-sync.timer"
                                    " runs (daemon: never run)"));
    jit_doctor_free(&d);
    /* The timer, its last round good, then failed. */
    sc = fake_systemctl(1, "success");
    jit_doctor_daemon(&d, &conf, sc, now);
    ck_assert(says(JIT_DOCTOR_OK, "its last round succeeded"));
    jit_doctor_free(&d);
    free(sc);
    sc = fake_systemctl(1, "exit-code");
    jit_doctor_daemon(&d, &conf, sc, now);
    ck_assert(says(JIT_DOCTOR_FAIL, "last round ended with exit-code"));
    jit_doctor_free(&d);
    /* A daemon running (this process), fresh, and the timer too. */
    memset(&st, 0, sizeof(st));
    st.pid = getpid();
    st.started = st.updated = now;
    st.state = JIT_DAEMON_RUNNING;
    snprintf(st.api, sizeof(st.api), "unreachable");
    ck_assert_int_eq(jit_status_write(&conf, &st), 0);
    jit_doctor_daemon(&d, &conf, sc, now);
    ck_assert(says(JIT_DOCTOR_FAIL, "both run"));
    jit_doctor_free(&d);
    free(sc);
    sc = fake_systemctl(0, "success");
    jit_doctor_daemon(&d, &conf, sc, now);
    ck_assert_int_eq(count("daemon", JIT_DOCTOR_OK), 1);
    ck_assert(says(JIT_DOCTOR_WARN, "last call to the API failed:"
                                    " unreachable"));
    jit_doctor_free(&d);
    /* Stale: no word from it for longer than it may take. */
    jit_doctor_daemon(&d, &conf, sc, now + JIT_STATUS_STUCK_S + 5);
    ck_assert(says(JIT_DOCTOR_FAIL, "has not written its status"));
    free(sc);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("doctor");
    TCase *tc = tcase_create("checks");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_nsswitch_good);
    tcase_add_test(tc, test_nsswitch_bad);
    tcase_add_test(tc, test_nsswitch_missing);
    tcase_add_test(tc, test_pam_module);
    tcase_add_test(tc, test_pam_backend);
    tcase_add_test(tc, test_pamd_order);
    tcase_add_test(tc, test_login_defs);
    tcase_add_test(tc, test_subids);
    tcase_add_test(tc, test_ids_and_groups);
    tcase_add_test(tc, test_files_modes);
    tcase_add_test(tc, test_state);
    tcase_add_test(tc, test_caches);
    tcase_add_test(tc, test_sshd_text);
    tcase_add_test(tc, test_api_answer);
    tcase_add_test(tc, test_outbox);
    tcase_add_test(tc, test_escaped);
    tcase_add_test(tc, test_daemon_or_timer);
    suite_add_tcase(s, tc);
    return t_run(s);
}
