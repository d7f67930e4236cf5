/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: what a teardown decides (lib/teardown.c).  A teardown that
 * worked leaves no row and one account.deleted event; one that failed
 * leaves the account in disable_failed with its next try after a
 * backoff that doubles up to its cap, and one account.disable_failed
 * event saying why; an account gone meanwhile does not hold the others
 * back.  The host steps run for real against uids that have no process
 * (statelib.h's range) and homes under a temporary directory.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <sys/shm.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "statelib.h"
#include "core/leftovers.h"
#include "core/teardown.h"
#include "core/under_valgrind.h"
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

/* The outbox as it stands: events[i] of n. */
static struct jit_event *
outbox(size_t *n)
{
    struct jit_event *v = NULL;

    ck_assert_int_eq(jit_store_due_events(t.store, INT64_MAX, 1000, &v, n),
                     0);
    return v;
}

/* The detail of the only event of type `type` for user, parsed. */
static json_t *
event_detail(const char *type, const char *user)
{
    struct jit_event *v;
    json_t *d = NULL;
    size_t n, found = 0;

    v = outbox(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].type, type) == 0
            && strcmp(v[i].username, user) == 0) {
            found++;
            ck_assert_ptr_nonnull(v[i].detail);
            d = json_loads(v[i].detail, 0, NULL);
        }
    jit_events_free(v, n);
    ck_assert_uint_eq(found, 1);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* home_base through a symlink: every home step refuses it, so the
 * teardown fails after the processes are dealt with. */
static void
break_home_base(void)
{
    char *link = t_path(t.dir, "homelink");

    ck_assert_int_eq(symlink(t.home, link), 0);
    free(t.conf.home_base);
    t.conf.home_base = link;
}

START_TEST(test_backoff)
{
    /* 30 s after the first failure, doubling, never more than an hour. */
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 0), NOW + 30);
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 1), NOW + 60);
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 2), NOW + 120);
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 6), NOW + 1920);
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 7), NOW + 3600);
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 8), NOW + 3600);
    ck_assert_int_eq(jit_teardown_retry_at(NOW, 1000000), NOW + 3600);
}
END_TEST

START_TEST(test_done)
{
    struct jit_grant g = t_grant("alice", NOW + 3600);
    uint32_t uid = t_reserve(&t, &g, NOW);
    char *home = t_path(t.home, "alice");
    json_t *d;
    struct stat st;

    ck_assert_int_eq(mkdir(home, 0700), 0);
    ck_assert_int_eq(jit_teardown(t.store, &t.conf, "alice", "expired",
                                  &t.log, NOW), 0);
    ck_assert_int_eq(t_account_state(&t, "alice"), -1);
    ck_assert_int_ne(lstat(home, &st), 0); /* home_policy remove */
    d = event_detail("account.deleted", "alice");
    ck_assert_str_eq(json_string_value(json_object_get(d, "cause")),
                     "expired");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "uid")), uid);
    ck_assert_ptr_null(json_object_get(d, "error"));
    json_decref(d);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.deleted\"",
                                  "result=\"ok\"", "reason=\"expired\"",
                                  "user=\"alice\"", NULL), 1);
    free(home);
}
END_TEST

/* One teardown of an account at a time (doc/design.md, F9): while
 * another connection holds the claim on its uid, a teardown marks the
 * account and leaves the rest to the holder (no failure, no event); once
 * the holder lets go, or its connection closes as its process would die,
 * it goes. */
START_TEST(test_claimed_elsewhere)
{
    struct jit_grant g1 = t_grant("alice", NOW + 3600);
    struct jit_grant g2 = t_grant("bob", NOW + 3600);
    uint32_t uid1 = t_reserve(&t, &g1, NOW), uid2 = t_reserve(&t, &g2, NOW);
    struct jit_teardown_item v[2] = {
        { .name = "alice", .cause = "expired" },
        { .name = "bob", .cause = "expired" },
    };
    struct jit_store *other = NULL;
    struct jit_event *ev;
    char *why = NULL;
    size_t n;

    ck_assert_int_eq(jit_store_open(&t.conf, NULL, &other, &why), 0);
    ck_assert_int_eq(jit_store_claim_uid(other, uid1), 0);
    ck_assert_int_eq(jit_store_claim_uid(other, uid1), 0); /* its own */
    ck_assert_int_eq(jit_store_claim_uid(t.store, uid1), -EALREADY);
    ck_assert_int_eq(jit_teardown(t.store, &t.conf, "alice", "logout",
                                  &t.log, NOW), -EALREADY);
    /* marked (refused, disabled in NSS), the rest left to the holder */
    ck_assert_int_eq(t_account_state(&t, "alice"), JIT_ACCOUNT_TEARING_DOWN);
    ev = outbox(&n);
    ck_assert_uint_eq(n, 0);
    jit_events_free(ev, n);
    /* In a batch, the one held elsewhere is left and the others go. */
    ck_assert_int_eq(jit_teardown_batch(t.store, &t.conf, v, 2, &t.log, NOW),
                     -EALREADY);
    ck_assert_int_eq(v[0].result, -EALREADY);
    ck_assert_int_eq(v[1].result, 0);
    ck_assert_int_eq(t_account_state(&t, "alice"), JIT_ACCOUNT_TEARING_DOWN);
    ck_assert_int_eq(t_account_state(&t, "bob"), -1);
    /* The batch let go of the claim it took on bob's uid. */
    ck_assert_int_eq(jit_store_claim_uid(other, uid2), 0);
    jit_store_release_uid(other, uid2);
    /* A holder whose connection closes (a process that died) lets go. */
    jit_store_close(other);
    ck_assert_int_eq(jit_teardown(t.store, &t.conf, "alice", "logout",
                                  &t.log, NOW), 0);
    ck_assert_int_eq(t_account_state(&t, "alice"), -1);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.deleted\"",
                                  "reason=\"logout\"", "user=\"alice\"",
                                  NULL), 1);
    free(why);
}
END_TEST

/* The deletion committed but its snapshot not published (-ESTALE): the
 * account is gone and audited as deleted, not as a failure, with a
 * warning that NSS is behind until the next commit. */
START_TEST(test_deleted_unpublished)
{
    struct jit_grant g = t_grant("gwen", NOW + 3600);
    char *snap = t_path(t.state, "nss.db"), *inside;
    struct jit_event *ev;
    size_t n;

    (void) t_reserve(&t, &g, NOW);
    /* Marked by a teardown before (its snapshot published), so that the
     * deletion's is the only one this teardown writes. */
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_set_state(t.store, "gwen",
                                         JIT_ACCOUNT_TEARING_DOWN), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
    /* A directory that is not empty cannot be renamed over. */
    inside = t_path(snap, "x");
    ck_assert_int_eq(unlink(snap), 0);
    ck_assert_int_eq(mkdir(snap, 0755), 0);
    ck_assert_int_eq(mkdir(inside, 0755), 0);
    ck_assert_int_eq(jit_teardown(t.store, &t.conf, "gwen", "expired",
                                  &t.log, NOW), 0);
    ck_assert_int_eq(t_account_state(&t, "gwen"), -1);
    ev = outbox(&n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ev[0].type, "account.deleted");
    jit_events_free(ev, n);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.deleted\"",
                                  "result=\"ok\"", "user=\"gwen\"", NULL), 1);
    ck_assert_uint_eq(t_log_count(&t.kept, "account.disable_failed", NULL),
                      0);
    ck_assert_uint_eq(t_log_count(&t.kept, "publishing failed", NULL), 1);
    ck_assert_int_eq(rmdir(inside), 0);
    ck_assert_int_eq(rmdir(snap), 0);
    free(inside);
    free(snap);
}
END_TEST

START_TEST(test_failed_backs_off)
{
    struct jit_grant g = t_grant("bob", NOW + 3600);
    struct jit_account a;
    json_t *d;

    t_reserve(&t, &g, NOW);
    break_home_base();
    ck_assert_int_lt(jit_teardown(t.store, &t.conf, "bob", "revoked",
                                  &t.log, NOW), 0);
    /* Kept, visible, and tried again after the backoff. */
    ck_assert_int_eq(jit_store_get_account(t.store, "bob", &a), 0);
    ck_assert_int_eq(a.state, JIT_ACCOUNT_DISABLE_FAILED);
    ck_assert_int_eq(a.failures, 1);
    ck_assert_int_eq(a.retry_at, NOW + 30);
    jit_account_free(&a);
    d = event_detail("account.disable_failed", "bob");
    ck_assert_str_eq(json_string_value(json_object_get(d, "cause")),
                     "revoked");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(d,
                                                                   "error")),
                                 "home_base"));
    json_decref(d);
    ck_assert_uint_eq(t_log_count(&t.kept, "event=\"account.disable_failed\"",
                                  "result=\"fail\"", "user=\"bob\"", NULL),
                      1);
    ck_assert_uint_eq(t_log_count(&t.kept, "account.deleted", NULL), 0);

    /* The second failure in a row waits twice as long. */
    ck_assert_int_lt(jit_teardown(t.store, &t.conf, "bob", "retry", &t.log,
                                  NOW + 30), 0);
    ck_assert_int_eq(jit_store_get_account(t.store, "bob", &a), 0);
    ck_assert_int_eq(a.failures, 2);
    ck_assert_int_eq(a.retry_at, NOW + 30 + 60);
    jit_account_free(&a);
}
END_TEST

START_TEST(test_batch)
{
    struct jit_grant g1 = t_grant("carol", NOW + 3600),
                     g2 = t_grant("dave", NOW + 3600);
    struct jit_teardown_item v[3] = {
        { .name = "carol", .cause = "expired" },
        { .name = "nobody", .cause = "expired" },
        { .name = "dave", .cause = "revoked" },
    };
    struct jit_event *ev;
    size_t n;

    t_reserve(&t, &g1, NOW);
    t_reserve(&t, &g2, NOW);
    /* An account gone meanwhile is its own failure, not the batch's. */
    ck_assert_int_eq(jit_teardown_batch(t.store, &t.conf, v, 3, &t.log, NOW),
                     -ENOENT);
    ck_assert_int_eq(v[0].result, 0);
    ck_assert_int_eq(v[1].result, -ENOENT);
    ck_assert_int_eq(v[2].result, 0);
    ck_assert_int_eq(t_account_state(&t, "carol"), -1);
    ck_assert_int_eq(t_account_state(&t, "dave"), -1);
    ev = outbox(&n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(ev[0].type, "account.deleted");
    ck_assert_str_eq(ev[1].type, "account.deleted");
    jit_events_free(ev, n);
}
END_TEST

START_TEST(test_batch_failed)
{
    struct jit_grant g1 = t_grant("erin", NOW + 3600),
                     g2 = t_grant("frank", NOW + 3600);
    struct jit_teardown_item v[2] = {
        { .name = "erin", .cause = "expired" },
        { .name = "frank", .cause = "expired" },
    };

    t_reserve(&t, &g1, NOW);
    t_reserve(&t, &g2, NOW);
    break_home_base();
    ck_assert_int_lt(jit_teardown_batch(t.store, &t.conf, v, 2, &t.log, NOW),
                     0);
    /* Each failure is its own, with what stopped it. */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_lt(v[i].result, 0);
        ck_assert_ptr_nonnull(strstr(v[i].error, "home_base"));
        ck_assert_int_eq(t_account_state(&t, v[i].name),
                         JIT_ACCOUNT_DISABLE_FAILED);
        ck_assert_int_eq(v[i].recorded, 1);
    }
}
END_TEST

/* Set or clear the immutable flag of state_dir/name: 0, or -errno. */
static int
immutable(const char *name, int on)
{
    char *path = t_path(t.state, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC), flags = 0, ret = 0;

    free(path);
    if (fd < 0)
        return -errno;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0)
        ret = -errno;
    flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
    if (ret == 0 && ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
        ret = -errno;
    close(fd);
    return ret;
}

/* A store that takes no write: the teardown fails before anything is
 * recorded, and says so (jitctl reap does not print "left in
 * disable_failed" for it). */
START_TEST(test_failure_not_recorded)
{
    struct jit_grant g = t_grant("gina", NOW + 3600);
    struct jit_teardown_item v[1] = { { .name = "gina", .cause = "expired" } };
    int r;

    t_reserve(&t, &g, NOW);
    if ((r = immutable("state.db-wal", 1)) != 0) {
        printf("SKIP: test_failure_not_recorded: no immutable flag on this "
               "file system (%s)\n", strerror(-r));
        return;
    }
    r = jit_teardown_batch(t.store, &t.conf, v, 1, &t.log, NOW);
    ck_assert_int_eq(immutable("state.db-wal", 0), 0);
    ck_assert_int_lt(r, 0);
    ck_assert_int_lt(v[0].result, 0);
    ck_assert_int_ne(v[0].result, -ENOENT);
    ck_assert_int_eq(v[0].recorded, 0);
    ck_assert_int_eq(t_account_state(&t, "gina"), JIT_ACCOUNT_RESERVED);
}
END_TEST

/* A failure whose record commits but whose snapshot cannot be renamed
 * into place (-ESTALE) is recorded all the same. */
START_TEST(test_failure_recorded_unpublished)
{
    struct jit_grant g = t_grant("gail", NOW + 3600);
    char *snap = t_path(t.state, "nss.db"), *inside = t_path(snap, "x");
    struct jit_teardown_item v[1] = { { .name = "gail", .cause = "expired" } };

    t_reserve(&t, &g, NOW);
    /* (marked already: the mark's own snapshot is not this test's) */
    ck_assert_int_eq(jit_store_begin(t.store), 0);
    ck_assert_int_eq(jit_store_set_state(t.store, "gail",
                                         JIT_ACCOUNT_TEARING_DOWN), 0);
    ck_assert_int_eq(jit_store_commit(t.store), 0);
    ck_assert_int_eq(unlink(snap), 0);
    ck_assert_int_eq(mkdir(snap, 0755), 0);
    ck_assert_int_eq(mkdir(inside, 0755), 0);
    break_home_base();
    ck_assert_int_lt(jit_teardown_batch(t.store, &t.conf, v, 1, &t.log, NOW),
                     0);
    ck_assert_int_eq(t_account_state(&t, "gail"), JIT_ACCOUNT_DISABLE_FAILED);
    ck_assert_int_eq(v[0].recorded, 1);
    ck_assert_int_eq(rmdir(inside), 0);
    ck_assert_int_eq(rmdir(snap), 0);
    free(inside);
    free(snap);
}
END_TEST

START_TEST(test_processes)
{
    /* Root is never a target; a uid of the test range has no process,
     * and this process's own uid has one. */
    ck_assert_int_eq(jit_kill_uid(0, 0, 10, 10), -EPERM);
    ck_assert_int_eq(jit_uid_has_processes(T_STATE_UID_MAX), 0);
    ck_assert_int_eq(jit_uid_has_processes(getuid()), 1);
    /* (it ends with a KILL from the uid, which only root may send) */
    if (geteuid() == 0)
        ck_assert_int_eq(jit_kill_uid(T_STATE_UID_MAX, T_STATE_UID_MAX, 10,
                                      10), 0);
}
END_TEST

/* A uid of no other test: the unit tests run in parallel. */
#define T_LEADER_UID 99851u

static void *
park(void *arg)
{
    (void) arg;
    for (;;)
        pause();
    return NULL;
}

/* "State:" and "Threads:" of pid, as /proc shows them; 0 if unread. */
static int
proc_state(pid_t pid, char *state, unsigned long *threads)
{
    char path[64], buf[4096], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
    if ((f = fopen(path, "re")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strstr(buf, "\nState:")) == NULL
        || sscanf(p + 7, " %c", state) != 1
        || (p = strstr(buf, "\nThreads:")) == NULL
        || sscanf(p + 9, "%lu", threads) != 1)
        return 0;
    return 1;
}

/* How pid, this test's child, ended, waited for a bounded time; -1 if
 * it outlived that, and then it is killed (a survivor keeps the test
 * from hanging). */
static int
ended_status(pid_t pid)
{
    struct timespec nap = { 0, 10 * 1000000L };
    int status, i;

    for (i = 0; i < 400 && waitpid(pid, &status, WNOHANG) == 0; i++)
        nanosleep(&nap, NULL);
    if (i < 400)
        return status;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* pid, this test's child, ended by a signal. */
static void
assert_killed(pid_t pid)
{
    int status = ended_status(pid);

    ck_assert_msg(status != -1, "the process outlived the kill");
    ck_assert(WIFSIGNALED(status));
}

/* The kill of a test's uid passed (ret) and ended pid, its child. */
static void
assert_passed_and_killed(pid_t pid, int ret)
{
    if (ret != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_assert_int_eq(ret, 0);
    assert_killed(pid);
}

START_TEST(test_zombie_leader)
{
    struct timespec nap = { 0, 10 * 1000000L };
    unsigned long threads = 0;
    char state = '?';
    int status, i;
    pid_t pid;

    /* A process whose first thread exits alone: /proc shows it as a
     * zombie, and its other thread runs on with the uid.  It must be
     * found, and killed, not passed as dead. */
    if (geteuid() != 0) {
        fprintf(stderr, "test_zombie_leader: not root: not run\n");
        return;
    }
    ck_assert_int_eq(jit_uid_has_processes(T_LEADER_UID), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pthread_t th;

        if (setgroups(0, NULL) != 0 || setresgid(T_LEADER_UID, T_LEADER_UID,
                                                 T_LEADER_UID) != 0
            || setresuid(T_LEADER_UID, T_LEADER_UID, T_LEADER_UID) != 0
            /* (gone with the test, should it fail first) */
            || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0
            || pthread_create(&th, NULL, park, NULL) != 0)
            _exit(3);
        syscall(SYS_exit, 0); /* this thread alone */
        _exit(4);
    }
    /* Until it is that: a zombie leader of two threads (bounded). */
    for (i = 0; i < 3000; i++) {
        if (proc_state(pid, &state, &threads) && state == 'Z' && threads == 2)
            break;
        ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
        nanosleep(&nap, NULL);
    }
    ck_assert_msg(state == 'Z' && threads == 2, "state %c, %lu threads",
                  state, threads);
    ck_assert_int_eq(jit_uid_has_processes(T_LEADER_UID), 1);
    ck_assert_int_eq(jit_kill_uid(T_LEADER_UID, T_LEADER_UID, 100, 10000), 0);
    assert_killed(pid);
    ck_assert_int_eq(jit_uid_has_processes(T_LEADER_UID), 0);
}
END_TEST

/* Uids of no other test: the account's, and another user's. */
#define T_TCYCLE_UID 99855u
#define T_TCYCLE_OTHER 99856u

/* To the test: the process is ready; within it: the thread is. */
static int thread_ready[2], thread_inner[2];

static pthread_attr_t tcycle_attr;

/* A thread of the account's uid that keeps replacing itself: a new one
 * (which inherits the uid), then gone, each millisecond. */
static void *
tcycle_next(void *arg)
{
    struct timespec ms = { 0, 1000000L };
    pthread_t th;

    (void) arg;
    nanosleep(&ms, NULL);
    while (pthread_create(&th, &tcycle_attr, tcycle_next, NULL) != 0)
        nanosleep(&ms, NULL);
    return NULL;
}

static void *
tcycle_first(void *arg)
{
    (void) arg;
    if (syscall(SYS_setresuid, T_TCYCLE_UID, T_TCYCLE_UID, T_TCYCLE_UID)
            != 0
        || write(thread_inner[1], "t", 1) != 1)
        _exit(5);
    return tcycle_next(NULL);
}

/* A child as a set-user-id file of the account's leaves it when another
 * user runs it (real uid the other's, effective and saved the
 * account's), ready once what start made of it is in place; its pid. */
static pid_t
setuid_child(void (*start)(void))
{
    pid_t pid;
    char c;

    ck_assert_int_eq(pipe2(thread_ready, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(thread_inner, O_CLOEXEC), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(thread_ready[0]);
        if (setgroups(0, NULL) != 0
            || setresgid(T_TCYCLE_OTHER, T_TCYCLE_OTHER, T_TCYCLE_OTHER) != 0
            || setresuid(T_TCYCLE_OTHER, T_TCYCLE_UID, T_TCYCLE_UID) != 0)
            _exit(3);
        start();
        /* (gone with the test, should it fail first) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0
            || write(thread_ready[1], "p", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    close(thread_ready[1]);
    close(thread_inner[0]);
    close(thread_inner[1]);
    ck_assert_msg(read(thread_ready[0], &c, 1) == 1, "the process failed");
    close(thread_ready[0]);
    return pid;
}

/* Its first thread the other user's, 60 more of theirs, and one of the
 * account's that keeps replacing itself. */
static void
start_thread_cycler(void)
{
    pthread_t th;
    char c;

    pthread_attr_init(&tcycle_attr);
    pthread_attr_setdetachstate(&tcycle_attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&tcycle_attr, 64 * 1024);
    if (pthread_create(&th, &tcycle_attr, tcycle_first, NULL) != 0
        || read(thread_inner[0], &c, 1) != 1
        || syscall(SYS_setresuid, T_TCYCLE_OTHER, T_TCYCLE_OTHER,
                   T_TCYCLE_OTHER) != 0)
        _exit(6);
    for (int i = 0; i < 60; i++)
        if (pthread_create(&th, &tcycle_attr, park, NULL) != 0)
            _exit(7);
}

/* The account's uid as effective uid alone: setresuid(other, uid,
 * other), which kill(-1) from the uid cannot reach. */
static void
start_effective_only(void)
{
    if (setresuid(T_TCYCLE_OTHER, T_TCYCLE_UID, T_TCYCLE_OTHER) != 0)
        _exit(6);
}

/* The second thread: the account's uid, for itself alone. */
static void *
keep_uid(void *arg)
{
    (void) arg;
    if (syscall(SYS_setresuid, T_TCYCLE_UID, T_TCYCLE_UID, T_TCYCLE_UID)
            != 0
        || write(thread_inner[1], "t", 1) != 1)
        _exit(5);
    for (;;)
        pause();
    return NULL;
}

/* Its first thread given back to the other user (a raw setresuid(), for
 * that thread alone) while a second keeps the account's uid. */
static void
start_keep_uid(void)
{
    pthread_t th;
    char c;

    if (pthread_create(&th, NULL, keep_uid, NULL) != 0
        || read(thread_inner[0], &c, 1) != 1
        || syscall(SYS_setresuid, T_TCYCLE_OTHER, T_TCYCLE_OTHER,
                   T_TCYCLE_OTHER) != 0)
        _exit(6);
}

START_TEST(test_thread_keeps_uid)
{
    pid_t pid;

    /* /proc shows the other user, kill(-1) from the account passes it
     * by.  It must be found, and killed. */
    if (geteuid() != 0) {
        fprintf(stderr, "test_thread_keeps_uid: not root: not run\n");
        return;
    }
    /* (valgrind 3.19 has no pidfd_open, by which the teardown signals
     * such a process from root) */
    if (RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_thread_keeps_uid: under valgrind: not run\n");
        return;
    }
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 0);
    pid = setuid_child(start_keep_uid);
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 1);
    ck_assert_int_eq(jit_kill_uid(T_TCYCLE_UID, T_TCYCLE_UID, 100, 10000),
                     0);
    assert_killed(pid);
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 0);
}
END_TEST

/* Ended by the kill, or (a teardown that fails, and is tried again)
 * alive with the kill failed: never alive with the kill passed. */
static void
assert_killed_or_failed(pid_t pid, int ret)
{
    if (ret != 0) {
        ck_assert_int_eq(ret, -ETIMEDOUT);
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        return;
    }
    assert_killed(pid);
}

START_TEST(test_thread_cycler)
{
    pid_t pid;
    int i, ret;

    /* The thread of the account's is not where the listing of the
     * process's threads looked for it, or gone when read: every look
     * must count the process, and the kill end it or fail. */
    if (geteuid() != 0 || RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_thread_cycler: not root, or under valgrind "
                        "(no pidfd_open): not run\n");
        return;
    }
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 0);
    pid = setuid_child(start_thread_cycler);
    for (i = 0; i < 50; i++)
        ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 1);
    ret = jit_kill_uid(T_TCYCLE_UID, T_TCYCLE_UID, 100, 3000);
    fprintf(stderr, "test_thread_cycler: the kill: %d\n", ret);
    assert_killed_or_failed(pid, ret);
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 0);
}
END_TEST

/* Another user's service: 500 threads, and one that ends and starts a
 * new one every millisecond. */
static void *
pool_worker(void *arg)
{
    struct timespec ms = { 0, 1000000L };
    pthread_t th;

    (void) arg;
    nanosleep(&ms, NULL);
    while (pthread_create(&th, &tcycle_attr, pool_worker, NULL) != 0)
        nanosleep(&ms, NULL);
    return NULL;
}

static void
start_pool(void)
{
    pthread_t th;

    if (setresuid(T_TCYCLE_OTHER, T_TCYCLE_OTHER, T_TCYCLE_OTHER) != 0)
        _exit(6);
    pthread_attr_init(&tcycle_attr);
    pthread_attr_setdetachstate(&tcycle_attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&tcycle_attr, 64 * 1024);
    for (int i = 0; i < 500; i++)
        if (pthread_create(&th, &tcycle_attr, park, NULL) != 0)
            _exit(7);
    if (pthread_create(&th, &tcycle_attr, pool_worker, NULL) != 0)
        _exit(7);
}

START_TEST(test_thread_pool_passes)
{
    pid_t pid;
    int status, ret;

    /* Threads that come and go in a process of no account's must not
     * make a teardown wait for it, fail, or end it. */
    if (geteuid() != 0 || RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_thread_pool_passes: not root, or under "
                        "valgrind (500 threads at most): not run\n");
        return;
    }
    pid = setuid_child(start_pool);
    ret = jit_kill_uid(T_TCYCLE_UID, T_TCYCLE_UID, 100, 5000);
    ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(ret, 0);
}
END_TEST

START_TEST(test_effective_only)
{
    pid_t pid;
    int ret;

    if (geteuid() != 0 || RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_effective_only: not root, or under valgrind "
                        "(no pidfd_open): not run\n");
        return;
    }
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 0);
    pid = setuid_child(start_effective_only);
    ck_assert_int_eq(jit_uid_has_processes(T_TCYCLE_UID), 1);
    /* (ended: before, the teardown waited for it until its deadline) */
    ret = jit_kill_uid(T_TCYCLE_UID, T_TCYCLE_UID, 100, 3000);
    assert_passed_and_killed(pid, ret);
}
END_TEST

/* Uids of no other test: the account's, and another user's. */
#define T_TERM_UID 99857u
#define T_TERM_OTHER 99858u

static void
term_exits(int sig)
{
    (void) sig;
    _exit(7);
}

/* A child with ids (r, e, s) that exits 7 on TERM, ready; its pid. */
static pid_t
term_child(uid_t r, uid_t e, uid_t s)
{
    int ready[2];
    pid_t pid;
    char c;

    ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        signal(SIGTERM, term_exits);
        /* (the death signal after the ids: changing them clears it) */
        if (setgroups(0, NULL) != 0
            || setresgid(T_TERM_OTHER, T_TERM_OTHER, T_TERM_OTHER) != 0
            || setresuid(r, e, s) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0
            || write(ready[1], "p", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(ready[1]);
    ck_assert_msg(read(ready[0], &c, 1) == 1, "the process failed");
    close(ready[0]);
    return pid;
}

/* The descriptors open in process pid (/proc/PID/fd). */
static int
fds_open(pid_t pid)
{
    char path[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

#ifdef SYS_setresuid32
#define T_SYS_SETRESUID SYS_setresuid32
#else
#define T_SYS_SETRESUID SYS_setresuid
#endif

/* What a teardown step's child that becomes the uid holds as it does:
 * step runs in a traced process, whose first child is looked at as it
 * enters setresuid(), still root.  The descriptors it had open then, or
 * -2 (no such child), -3 (ptrace refused here: not run). */
static int
fds_as_child_becomes_uid(int (*step)(void))
{
    struct __ptrace_syscall_info info;
    pid_t holder, child = 0, w;
    int status, seen = -2, done = 0;

    holder = fork();
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        int fd = open("/dev/null", O_RDONLY); /* (one to inherit) */

        if (fd < 3 || ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
            _exit(3);
        raise(SIGSTOP);
        _exit(step() == 0 ? 0 : 4);
    }
    ck_assert_int_eq(waitpid(holder, &status, 0), holder);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
        return -3;
    ck_assert(WIFSTOPPED(status));
    ck_assert_int_eq(ptrace(PTRACE_SETOPTIONS, holder, NULL,
                            (void *) (long) (PTRACE_O_TRACECLONE
                                             | PTRACE_O_TRACEFORK
                                             | PTRACE_O_TRACESYSGOOD
                                             | PTRACE_O_EXITKILL)), 0);
    ck_assert_int_eq(ptrace(PTRACE_CONT, holder, NULL, NULL), 0);
    while (!done && (w = waitpid(-1, &status, __WALL)) > 0) {
        int sig = 0;

        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (w == holder) {
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                              "the step failed (status %#x)", status);
                done = 1;
            }
            continue;
        }
        if (w == holder) {
            unsigned long msg;

            if ((status >> 8) == (SIGTRAP | (PTRACE_EVENT_CLONE << 8))
                || (status >> 8) == (SIGTRAP | (PTRACE_EVENT_FORK << 8))) {
                ck_assert_int_eq(ptrace(PTRACE_GETEVENTMSG, holder, NULL,
                                        &msg), 0);
                if (child == 0)
                    child = (pid_t) msg;
            } else if (WSTOPSIG(status) != SIGTRAP) {
                sig = WSTOPSIG(status);
            }
            ptrace(PTRACE_CONT, holder, NULL, (void *) (long) sig);
            continue;
        }
        /* A child: its first stop, then each system call. */
        if (WSTOPSIG(status) == (SIGTRAP | 0x80)
            && ptrace(PTRACE_GET_SYSCALL_INFO, w, (void *) sizeof(info),
                      &info) > 0
            && info.op == PTRACE_SYSCALL_INFO_ENTRY
            && info.entry.nr == T_SYS_SETRESUID && w == child && seen == -2)
            seen = fds_open(w);
        else if (WSTOPSIG(status) != SIGSTOP
                 && WSTOPSIG(status) != (SIGTRAP | 0x80))
            sig = WSTOPSIG(status);
        ptrace(PTRACE_SYSCALL, w, NULL, (void *) (long) sig);
    }
    return seen;
}

static int
signal_step(void)
{
    return jit_signal_uid(T_TERM_UID, T_TERM_UID, 0);
}

START_TEST(test_killer_holds_no_fd)
{
    int seen;

    /* The child that becomes the uid may be stopped by that uid: it must
     * hold no copy of its parent's descriptors (the teardown's claim is
     * one, doc/design.md F9, whatever its number) once it is the uid. */
    if (geteuid() != 0 || RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_killer_holds_no_fd: not root, or under "
                        "valgrind (no ptrace): not run\n");
        return;
    }
    if ((seen = fds_as_child_becomes_uid(signal_step)) == -3) {
        fprintf(stderr, "test_killer_holds_no_fd: ptrace refused here "
                        "(Yama, seccomp): not run\n");
        return;
    }
    ck_assert_msg(seen == 0, "the killer held %d descriptors as it became "
                  "the uid", seen);
}
END_TEST

/* A shared memory segment of T_TERM_UID, in this process's own IPC
 * namespace (made by the caller). */
static void
uid_segment(void)
{
    struct shmid_ds ds;
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

    ck_assert_int_ge(id, 0);
    ck_assert_int_eq(shmctl(id, IPC_STAT, &ds), 0);
    ds.shm_perm.uid = T_TERM_UID;
    ds.shm_perm.gid = T_TERM_UID;
    ck_assert_int_eq(shmctl(id, IPC_SET, &ds), 0);
}

static int
ipc_step(void)
{
    return jit_ipc_remove_uid(T_TERM_UID, T_TERM_UID);
}

START_TEST(test_ipc_helper_holds_no_fd)
{
    int seen;

    /* The IPC helper becomes the uid too (to remove what it owns). */
    if (geteuid() != 0 || RUNNING_ON_VALGRIND
        || unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "test_ipc_helper_holds_no_fd: not root, under "
                        "valgrind, or no IPC namespace: not run\n");
        return;
    }
    uid_segment();
    if ((seen = fds_as_child_becomes_uid(ipc_step)) == -3) {
        fprintf(stderr, "test_ipc_helper_holds_no_fd: ptrace refused "
                        "here (Yama, seccomp): not run\n");
        return;
    }
    ck_assert_msg(seen == 0, "the IPC helper held %d descriptors as it "
                  "became the uid", seen);
}
END_TEST

START_TEST(test_ipc_helper_stopped)
{
    int stopped = 0, ready[2];
    pid_t stopper;
    char c;

    /* A process of the uid that stops whatever else the uid runs, the
     * IPC helper among them once it is the uid: the step fails, and
     * returns, rather than wait for it for ever. */
    if (geteuid() != 0 || unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "test_ipc_helper_stopped: not root, or no IPC "
                        "namespace: not run\n");
        return;
    }
    ck_assert_int_eq(pipe(ready), 0);
    stopper = fork();
    ck_assert_int_ge(stopper, 0);
    if (stopper == 0) {
        close(ready[0]);
        if (setgroups(0, NULL) != 0
            || setresgid(T_TERM_UID, T_TERM_UID, T_TERM_UID) != 0
            || setresuid(T_TERM_UID, T_TERM_UID, T_TERM_UID) != 0
            || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0
            || write(ready[1], "s", 1) != 1)
            _exit(3);
        for (;;)
            (void) kill(-1, SIGSTOP);
    }
    close(ready[1]);
    ck_assert_msg(read(ready[0], &c, 1) == 1, "the stopper failed");
    close(ready[0]);
    /* (the stopper may miss the helper's short life: tried a few times,
     * each bounded by the test's timeout) */
    for (int i = 0; i < 40 && stopped == 0; i++) {
        uid_segment();
        stopped = ipc_step() != 0;
    }
    kill(stopper, SIGKILL);
    waitpid(stopper, NULL, 0);
    fprintf(stderr, "test_ipc_helper_stopped: the helper %s\n",
            stopped ? "was stopped, and the step failed"
                    : "was never stopped in 40 tries");
}
END_TEST

START_TEST(test_term_first)
{
    int status, ret;
    pid_t pid;

    /* A process of the uid gets its TERM before any KILL: the look
     * before the last KILL is skipped only when no thread has the uid
     * as its real uid. */
    if (geteuid() != 0 || RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_term_first: not root, or under valgrind "
                        "(no pidfd_open): not run\n");
        return;
    }
    pid = term_child(T_TERM_UID, T_TERM_UID, T_TERM_UID);
    ret = jit_kill_uid(T_TERM_UID, T_TERM_UID, 2000, 5000);
    status = ended_status(pid);
    ck_assert_int_eq(ret, 0);
    ck_assert_msg(status != -1 && WIFEXITED(status)
                      && WEXITSTATUS(status) == 7,
                  "not ended by its TERM (status %#x)", status);
}
END_TEST

START_TEST(test_saved_only_killed)
{
    pid_t pid;
    int ret;

    /* Another user's process with the uid as saved uid alone: no thread
     * has the uid as real uid, so no look precedes the last KILL from
     * the uid, which reaches it (doc/design.md, F1).  Ended by that
     * KILL, not by a TERM, and the teardown passes. */
    if (geteuid() != 0) {
        fprintf(stderr, "test_saved_only_killed: not root: not run\n");
        return;
    }
    pid = term_child(T_TERM_OTHER, T_TERM_OTHER, T_TERM_UID);
    ck_assert_int_eq(jit_uid_has_processes(T_TERM_UID), 1);
    ret = jit_kill_uid(T_TERM_UID, T_TERM_UID, 2000, 5000);
    assert_passed_and_killed(pid, ret);
    ck_assert_int_eq(jit_uid_has_processes(T_TERM_UID), 0);
}
END_TEST

/* A uid of no other test. */
#define T_CYCLER_UID 99852u

static pthread_t cycle_first;
static char **cycle_argv;

static void *
cycle_next(void *arg)
{
    (void) arg;
    pthread_join(cycle_first, NULL);
    /* (/proc/self is the first thread's, exited: its exe is gone) */
    execv("/proc/thread-self/exe", cycle_argv);
    _exit(1);
}

/* check_teardown --cycle: a process that outruns a look at /proc.  Its
 * first thread exits alone, and the other one, once it is gone, execs
 * this program again, which takes the first thread's place; for ever,
 * TERM ignored. */
static int
cycle(char **argv)
{
    pthread_t th;

    /* Gone with the test, should it fail: the death signal is each first
     * thread's own, set anew after each exec; a parent already gone by
     * then is seen here. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argv[2] == NULL || getppid() != (pid_t) atol(argv[2]))
        return 1;
    signal(SIGTERM, SIG_IGN);
    cycle_argv = argv;
    cycle_first = pthread_self();
    if (pthread_create(&th, NULL, cycle_next, NULL) != 0)
        return 1;
    pthread_exit(NULL);
}

/* How many threads on the host, zombies aside, have uid as their real,
 * effective or saved uid: read thread by thread, not as the teardown
 * reads /proc. */
static int
uid_threads(uid_t uid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        char path[300];
        DIR *td;
        struct dirent *te;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/task", de->d_name);
        if ((td = opendir(path)) == NULL)
            continue;
        while ((te = readdir(td)) != NULL) {
            char file[600], buf[8192], *p, state = '?';
            unsigned long r, e, sv;
            size_t len;
            FILE *f;

            if (te->d_name[0] < '1' || te->d_name[0] > '9')
                continue;
            snprintf(file, sizeof(file), "%s/%s/status", path, te->d_name);
            if ((f = fopen(file, "re")) == NULL)
                continue;
            len = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[len] = '\0';
            if ((p = strstr(buf, "\nState:")) != NULL)
                sscanf(p + 7, " %c", &state);
            if ((p = strstr(buf, "\nUid:")) != NULL
                && sscanf(p + 5, "%lu %lu %lu", &r, &e, &sv) == 3
                && (r == uid || e == uid || sv == uid) && state != 'Z'
                && state != 'X')
                n++;
        }
        closedir(td);
    }
    closedir(d);
    return n;
}

START_TEST(test_exec_cycler)
{
    struct timespec nap = { 0, 5 * 1000000L };

    /* Each round, a process of the uid that keeps replacing its first
     * thread; the teardown's kill must leave no thread of the uid.  (A
     * look that skipped what seemed a kernel thread let it through in 4
     * teardowns of 15.) */
    if (geteuid() != 0) {
        fprintf(stderr, "test_exec_cycler: not root: not run\n");
        return;
    }
    /* (its exec of /proc/self/exe would start valgrind's own tool) */
    if (RUNNING_ON_VALGRIND) {
        fprintf(stderr, "test_exec_cycler: under valgrind: not run\n");
        return;
    }
    for (int round = 0; round < 8; round++) {
        int status, i;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            char parent[32];
            char *argv[] = { (char *) "/proc/self/exe", (char *) "--cycle",
                             parent, NULL };

            snprintf(parent, sizeof(parent), "%ld", (long) getppid());

            if (setgroups(0, NULL) != 0
                || setresgid(T_CYCLER_UID, T_CYCLER_UID, T_CYCLER_UID) != 0
                || setresuid(T_CYCLER_UID, T_CYCLER_UID, T_CYCLER_UID) != 0)
                _exit(3);
            execv("/proc/self/exe", argv);
            _exit(4);
        }
        /* Until it is seen running as the uid (bounded; a look may miss
         * it, as the teardown's might). */
        for (i = 0; i < 2000 && uid_threads(T_CYCLER_UID) == 0; i++) {
            ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
            nanosleep(&nap, NULL);
        }
        ck_assert_int_lt(i, 2000);
        /* (200 ms of TERM, which it ignores, before KILL: the look runs
         * every 10 ms, and each time it could miss the process) */
        ck_assert_int_eq(jit_kill_uid(T_CYCLER_UID, T_CYCLER_UID, 200, 10000),
                         0);
        /* Killed, it is this test's zombie at once: a process that outran
         * the kill keeps its pid through its execs and is not. */
        for (i = 0; i < 400 && waitpid(pid, &status, WNOHANG) == 0; i++)
            nanosleep(&nap, NULL);
        ck_assert_msg(i < 400, "round %d: the process outlived the kill",
                      round);
        ck_assert(WIFSIGNALED(status));
    }
}
END_TEST

int
main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;

    if (argc > 2 && strcmp(argv[1], "--cycle") == 0)
        return cycle(argv);
    t_private_host_dirs();
    s = suite_create("teardown");
    tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60); /* (test_exec_cycler: 8 kills of 200 ms) */
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_done);
    tcase_add_test(tc, test_claimed_elsewhere);
    tcase_add_test(tc, test_failed_backs_off);
    tcase_add_test(tc, test_deleted_unpublished);
    tcase_add_test(tc, test_batch);
    tcase_add_test(tc, test_batch_failed);
    tcase_add_test(tc, test_failure_not_recorded);
    tcase_add_test(tc, test_failure_recorded_unpublished);
    tcase_add_test(tc, test_processes);
    tcase_add_test(tc, test_zombie_leader);
    tcase_add_test(tc, test_thread_keeps_uid);
    tcase_add_test(tc, test_thread_cycler);
    tcase_add_test(tc, test_effective_only);
    tcase_add_test(tc, test_thread_pool_passes);
    tcase_add_test(tc, test_exec_cycler);
    tcase_add_test(tc, test_term_first);
    tcase_add_test(tc, test_saved_only_killed);
    tcase_add_test(tc, test_killer_holds_no_fd);
    tcase_add_test(tc, test_ipc_helper_holds_no_fd);
    tcase_add_test(tc, test_ipc_helper_stopped);
    suite_add_tcase(s, tc);
    return t_run(s);
}
