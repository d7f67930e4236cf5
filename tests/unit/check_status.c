/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the daemon's status file and what jitctl status makes of
 * it (lib/status.c).  Written and read back whole, root's alone, never
 * left half-written; a file that is missing, broken or a symlink is
 * refused, a field that is missing reads as unknown; and the health
 * shown for each state: never run, stopped, dead (its pid is gone),
 * stuck (silent too long) and running.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/status.h"
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
}

static char *
status_path(void)
{
    return t_path(t.state, JIT_STATUS_FILE);
}

static void
put_raw(const char *text)
{
    char *p = status_path();

    t_write_file(p, text, strlen(text), 0600);
    free(p);
}

static struct jit_daemon_status
running(void)
{
    struct jit_daemon_status st = {
        .pid = getpid(), .started = NOW - 600, .updated = NOW,
        .last_sync = NOW - 5, .next_expiry = NOW + 3600,
        .api = "ok", .state = JIT_DAEMON_RUNNING,
    };
    return st;
}

/* A pid that no process has: pids stay below pid_max. */
static pid_t
no_such_pid(void)
{
    FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
    long max = 0;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld", &max), 1);
    fclose(f);
    return (pid_t) max;
}

START_TEST(test_round_trip)
{
    struct jit_daemon_status in = running(), out;
    char *p = status_path(), *tmp = t_path(t.state, JIT_STATUS_FILE ".new");
    struct stat st;

    snprintf(in.api, sizeof(in.api), "%s", "unreachable");
    ck_assert_int_eq(jit_status_write(&t.conf, &in), 0);
    ck_assert_int_eq(jit_status_read(&t.conf, &out), 0);
    ck_assert_int_eq(out.pid, in.pid);
    ck_assert_int_eq(out.started, in.started);
    ck_assert_int_eq(out.updated, in.updated);
    ck_assert_int_eq(out.last_sync, in.last_sync);
    ck_assert_int_eq(out.next_expiry, in.next_expiry);
    ck_assert_str_eq(out.api, "unreachable");
    ck_assert_int_eq(out.state, JIT_DAEMON_RUNNING);
    /* Root's alone, and nothing left of the staging. */
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_ne(lstat(tmp, &st), 0);
    /* Written again: replaced, not appended. */
    in.state = JIT_DAEMON_STOPPED;
    ck_assert_int_eq(jit_status_write(&t.conf, &in), 0);
    ck_assert_int_eq(jit_status_read(&t.conf, &out), 0);
    ck_assert_int_eq(out.state, JIT_DAEMON_STOPPED);
    free(tmp);
    free(p);
}
END_TEST

START_TEST(test_refused)
{
    struct jit_daemon_status out;
    char *p = status_path(), *target = t_path(t.dir, "elsewhere");

    ck_assert_int_eq(jit_status_read(&t.conf, &out), -ENOENT);
    put_raw("not json");
    ck_assert_int_eq(jit_status_read(&t.conf, &out), -EINVAL);
    put_raw("[1, 2]");
    ck_assert_int_eq(jit_status_read(&t.conf, &out), -EINVAL);
    /* Never followed: a symlink in its place is not the daemon's. */
    ck_assert_int_eq(unlink(p), 0);
    t_write_file(target, "{\"state\":\"running\"}", 19, 0600);
    ck_assert_int_eq(symlink(target, p), 0);
    ck_assert_int_eq(jit_status_read(&t.conf, &out), -ELOOP);
    free(target);
    free(p);
}
END_TEST

START_TEST(test_missing_fields)
{
    struct jit_daemon_status out;

    /* What is missing or of the wrong type reads as unknown: 0, "?",
     * JIT_DAEMON_UNKNOWN. */
    put_raw("{\"pid\": \"12\", \"state\": 7, \"updated\": 1700000000}");
    ck_assert_int_eq(jit_status_read(&t.conf, &out), 0);
    ck_assert_int_eq(out.pid, 0);
    ck_assert_int_eq(out.updated, NOW);
    ck_assert_int_eq(out.last_sync, 0);
    ck_assert_str_eq(out.api, "?");
    ck_assert_int_eq(out.state, JIT_DAEMON_UNKNOWN);
    /* An unknown state is not "running". */
    ck_assert_str_eq(jit_status_health(0, &out, NOW), "stopped");
}
END_TEST

START_TEST(test_health)
{
    struct jit_daemon_status st = running();

    ck_assert_str_eq(jit_status_health(-ENOENT, &st, NOW), "never run");
    ck_assert_str_eq(jit_status_health(-EINVAL, &st, NOW), "never run");
    ck_assert_str_eq(jit_status_health(0, &st, NOW), "running");
    ck_assert_str_eq(jit_status_health(0, &st, NOW + JIT_STATUS_STUCK_S),
                     "running");
    ck_assert_str_eq(jit_status_health(0, &st, NOW + JIT_STATUS_STUCK_S + 1),
                     "stuck");
    /* The pid gone without a word: dead, however recent the file. */
    st.pid = no_such_pid();
    ck_assert_str_eq(jit_status_health(0, &st, NOW), "dead");
    /* Stopped as it said, whatever became of the pid. */
    st.state = JIT_DAEMON_STOPPED;
    ck_assert_str_eq(jit_status_health(0, &st, NOW), "stopped");
    ck_assert_str_eq(jit_status_health(0, &st, NOW + 86400), "stopped");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_missing_fields);
    tcase_add_test(tc, test_health);
    suite_add_tcase(s, tc);
    return t_run(s);
}
