/* SPDX-License-Identifier: MIT */
/*
 * The login benchmark (make bench-login): the full PAM path of pam_jit,
 * acct_mgmt + open_session + close_session with delete on logout, against
 * the loopback test API, beside useradd -m + userdel -r of one account in
 * a throwaway root.  Run by bench-login.sh inside a private namespace.
 *
 *   bench_login CONFDIR JITCONF USERADD_ROOT
 *
 * Users b<i> must have grants at the API (on_logout delete), and k0..k99
 * (on_logout keep), who log in twice: the second login is a returning
 * user's, the account and home there.
 *
 * Beside the login it measures the floor: the work no login
 * can skip, each part alone on the same file system in the same run:
 * one fsync'd SQLite commit, one atomic replacement (not fsynced) of a
 * snapshot the size of nss.db, a home made from the skeleton and removed, and a
 * pam_start that loads the module.  And what the host's size adds: a
 * commit that changes what NSS shows, in a store of 1 and of 1000
 * accounts (the snapshot is derived from every account at such a
 * commit, and a login makes three).
 *
 * The logins run first with nothing else holding the state store open,
 * then, for the rest of the run, beside what jitctl daemon keeps on every
 * host it runs on: a connection to the store (SQLite then keeps its WAL
 * index in shared memory instead of each login rebuilding it) and the
 * login relay (lib/daemon/relay.c), which asks the API for the logins on
 * connections it keeps.  Both run in a child process, as in the daemon;
 * its CPU time is added to the logins'.  Last, a few logins each in a new
 * process, as sshd runs one per connection.
 *
 * For a profiler, BENCH_ONLY=seq runs the first login, the 50 without a
 * held connection and the 100 in a row, and prints their mean; and
 * BENCH_ONLY=cold the first login and the logins in new processes,
 * BENCH_ONLY=par the 8 processes in parallel, and BENCH_ONLY=kept the
 * returning users' logins, in a row and 8 in parallel.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <security/pam_appl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "core/atomic_file.h"
#include "core/conf.h"
#include "core/grant.h"
#include "core/home.h"
#include "core/teardown.h"
#include "daemon/relay.h"
#include "login/relay_client.h"
#include "state/store.h"

/* execve wants char *const[]; the strings are never written. */
#define S(x) ((char *) (uintptr_t) (x))

#define SEQ 100
#define PAR 8
#define PER_PROC 12
#define PAR_WIDE 50
#define PER_PROC_WIDE 4
#define FLOOR_ROUNDS 50
#define RTT_ROUNDS 30
#define USERADD_ROUNDS 20
#define SEQ_ALONE 50
#define COLD_ROUNDS 20
#define KEPT 100

static const char *confdir;
/* Time spent in each PAM step over the sequential run. */
static double step_ms[3];
static int count_steps;

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
     void *data)
{
    (void) n;
    (void) msg;
    (void) data;
    *resp = NULL;
    return PAM_CONV_ERR;
}

/* One login of user through service: the whole path; -1 if any step
 * failed. */
static double
login_through(const char *service, const char *user)
{
    struct pam_conv c = { conv, NULL };
    pam_handle_t *pamh = NULL;
    double t0 = now_ms(), t;
    int rc;

    rc = pam_start_confdir(service, user, &c, confdir, &pamh);
    if (rc == PAM_SUCCESS)
        rc = pam_set_item(pamh, PAM_RHOST, "192.0.2.7");
    for (int step = 0; step < 3 && rc == PAM_SUCCESS; step++) {
        double s0 = now_ms();

        rc = step == 0 ? pam_acct_mgmt(pamh, PAM_SILENT)
             : step == 1 ? pam_open_session(pamh, PAM_SILENT)
                         : pam_close_session(pamh, PAM_SILENT);
        if (count_steps)
            step_ms[step] += now_ms() - s0;
    }
    t = now_ms() - t0;
    if (pamh)
        pam_end(pamh, rc);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "bench_login: %s: %s\n", user,
                pam_strerror(NULL, rc));
        return -1;
    }
    return t;
}

static double
login_as(const char *user)
{
    return login_through("jitbench", user);
}

/* One login of user b<i> (on_logout delete: the account is made and
 * torn down). */
static double
one_login(int i)
{
    char user[32];

    snprintf(user, sizeof(user), "b%d", i);
    return login_as(user);
}

/*
 * The login of a returning user: k<i> (on_logout keep) has logged in
 * once, so the account and its home are there, as for every login but
 * the first of a kept account, or of one jitctl daemon reserved ahead.
 * The mean of the second logins of KEPT users, or -1; *cpu their mean
 * CPU time, this process's and the daemon part's.
 */
static double cpu_now_ms(void);
static double proc_cpu_ms(pid_t pid);

static double
kept_logins(pid_t daemon, double *cpu)
{
    char user[32];
    double sum = 0, t, cpu0;

    for (int i = 0; i < KEPT; i++) {
        snprintf(user, sizeof(user), "k%d", i);
        if (login_as(user) < 0)
            return -1;
    }
    cpu0 = cpu_now_ms() + proc_cpu_ms(daemon);
    for (int i = 0; i < KEPT; i++) {
        snprintf(user, sizeof(user), "k%d", i);
        if ((t = login_as(user)) < 0)
            return -1;
        sum += t;
    }
    *cpu = (cpu_now_ms() + proc_cpu_ms(daemon) - cpu0) / KEPT;
    return sum / KEPT;
}

/*
 * The least mean latency PAR processes, each logging in again and again,
 * can have when a login takes cpu ms of CPU time: together they cannot
 * use more than the machine's CPUs, so each login takes at least PAR /
 * cpus times its CPU time (once cpus < PAR).  The test API's own CPU time
 * is left out, so the true bound is higher.
 */
static double
par_cpu_bound(double cpu)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 && n < PAR ? cpu * PAR / (double) n : cpu;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* This process's user + system time so far, in ms. */
static double
cpu_now_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
           + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

extern char **environ;

/* Run argv, its stdout (and unless as_login its stderr) to /dev/null;
 * its exit status or -1.  Its environment is empty, except for a login:
 * that one keeps this process's, which tells ld.so where the namespace's
 * libnss_jit is. */
static int
run_as(char *const argv[], int as_login)
{
    char *const empty[] = { S("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), NULL };
    char *const *envp = as_login ? environ : empty;
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

        if (null >= 0) {
            dup2(null, 1);
            if (!as_login)
                dup2(null, 2);
        }
        execve(argv[0], argv, envp);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
run(char *const argv[])
{
    return run_as(argv, 0);
}

/* The floor's parts; each a median over FLOOR_ROUNDS, in ms. */
struct floor {
    double commit, snapshot, home, pam_start, scan;
};

/* One commit that changes what NSS shows (an account marked as ending:
 * the snapshot is derived again), in a store of its own beside the
 * bench's holding `accounts` accounts, each with the two groups of the
 * test's grants; the median.  Every login makes three such commits, and
 * a host whose daemon reserved ahead for its grants holds one account a
 * grant. */
static int
store_size_commit(const struct jit_conf *base, size_t accounts, double *out)
{
    static char *groups[] = { S("users"), S("video") };
    struct jit_errs errs = { NULL, 0 };
    struct jit_conf c;
    struct jit_store *s = NULL;
    double v[FLOOR_ROUNDS];
    char dir[4096], *text = NULL, *why = NULL;
    int64_t now = (int64_t) time(NULL);
    int ret = -1;

    snprintf(dir, sizeof(dir), "%s.size-XXXXXX", base->state_dir);
    if (jit_conf_init(&c) != 0)
        return -1;
    if (mkdtemp(dir) == NULL) {
        jit_conf_free(&c);
        return -1;
    }
    if (asprintf(&text, "api_url = https://127.0.0.1:9/\nhost = web01.test\n"
                        "state_dir = %s/state\nuid_min = 200000\n"
                        "uid_max = 201999\nallowed_groups = users,video\n",
                 dir) < 0
        || jit_conf_parse_buffer(&c, "size", text, strlen(text), &errs) != 0
        || jit_conf_finish(&c, "size", &errs) != 0) {
        jit_errs_print(&errs, stderr);
        goto done;
    }
    if (jit_store_open(&c, NULL, &s, &why) != 0) {
        fprintf(stderr, "bench_login: store of %zu: %s\n", accounts,
                why ? why : "?");
        goto done;
    }
    if (jit_store_begin(s) != 0)
        goto fail;
    for (size_t i = 0; i < accounts; i++) {
        char user[32], id[40], req[48];
        struct jit_account a;
        struct jit_grant g;

        snprintf(user, sizeof(user), "s%05zu", i);
        snprintf(id, sizeof(id), "g-%s", user);
        snprintf(req, sizeof(req), "%s@EXAMPLE.COM", user);
        memset(&g, 0, sizeof(g));
        g.id = id;
        g.credential = S("db-admin");
        g.requester = req;
        g.username = user;
        g.host = S("web01.test");
        g.reason = S("bench");
        g.status = S("active");
        g.on_logout = S("keep");
        g.groups = groups;
        g.n_groups = 2;
        g.not_before = now - 60;
        g.expires_at = now + 86400;
        if (jit_store_put_grant(s, &g) != 0
            || jit_store_reserve(s, &g, now, &a) != 0)
            goto fail;
        jit_account_free(&a);
    }
    if (jit_store_commit(s) != 0)
        goto fail;
    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        double t0 = now_ms();

        /* (both states are ones the snapshot shows: not live) */
        if (jit_store_begin(s) != 0
            || jit_store_set_state(s, "s00000", i % 2
                                                    ? JIT_ACCOUNT_TEARING_DOWN
                                                    : JIT_ACCOUNT_DISABLE_FAILED)
                   != 0
            || jit_store_commit(s) != 0)
            goto fail;
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    ret = 0;
    goto done;

fail:
    fprintf(stderr, "bench_login: store of %zu: %s\n", accounts,
            jit_store_error(s));
done:
    jit_store_close(s);
    free(why);
    free(text);
    jit_conf_free(&c);
    {
        char *rm[] = { S("/bin/rm"), S("-rf"), dir, NULL };

        (void) run(rm);
    }
    return ret;
}

/* One fsync'd commit of one row, in a database beside the store with
 * the store's settings (WAL, synchronous FULL, persistent WAL). */
static int
floor_commit(const char *state_dir, double *out)
{
    double v[FLOOR_ROUNDS];
    sqlite3 *db = NULL;
    char path[4096];
    int one = 1, ret = -1;

    snprintf(path, sizeof(path), "%s/floor.db", state_dir);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        goto done;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
    if (sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
                         "PRAGMA synchronous = FULL;"
                         "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto done;
    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        double t0 = now_ms();

        if (sqlite3_exec(db, "BEGIN IMMEDIATE;"
                             "INSERT INTO t (v) VALUES ('row');"
                             "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            goto done;
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    ret = 0;

done:
    if (ret != 0)
        fprintf(stderr, "bench_login: floor commit: %s\n",
                db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return ret;
}

/* Write and rename a file the size of the current nss.db, as the store's
 * commit publishes a snapshot (core/atomic_file.c): without an fsync,
 * which the snapshot no longer has (doc/design.md, S26). */
static int
floor_snapshot(const char *state_dir, double *out)
{
    double v[FLOOR_ROUNDS];
    char *data = NULL;
    size_t len = 4096;
    int dirfd, ret = -1;

    dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -1;
    {
        struct stat st;

        if (fstatat(dirfd, "nss.db", &st, 0) == 0 && st.st_size > 0)
            len = (size_t) st.st_size;
    }
    if ((data = calloc(1, len)) == NULL)
        goto done;
    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        double t0 = now_ms();

        if (jit_file_stage_unsynced(dirfd, "floor.snap.new", data, len,
                                    0644) != 0
            || jit_file_publish(dirfd, "floor.snap.new", "floor.snap") != 0)
            goto done;
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    ret = 0;

done:
    if (ret != 0)
        fprintf(stderr, "bench_login: floor snapshot failed\n");
    unlinkat(dirfd, "floor.snap", 0);
    free(data);
    close(dirfd);
    return ret;
}

/* A home from the configured skeleton, then removed: what the login's
 * open_session and its delete-on-logout teardown do to it. */
static int
floor_home(const struct jit_conf *conf, double *out)
{
    double v[FLOOR_ROUNDS];
    char err[512];
    int created;

    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        double t0 = now_ms();

        if (jit_home_create(conf->home_base, "floorhome", conf->skel,
                            conf->uid_max, conf->uid_max, &created, err,
                            sizeof(err)) != 0
            || jit_home_remove(conf->home_base, "floorhome", err,
                               sizeof(err)) != 0) {
            fprintf(stderr, "bench_login: floor home: %s\n", err);
            return -1;
        }
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    return 0;
}

/* pam_start of the benchmark's service (its configuration read, the
 * module loaded) and pam_end. */
static int
floor_pam_start(double *out)
{
    struct pam_conv c = { conv, NULL };
    double v[FLOOR_ROUNDS];

    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        pam_handle_t *pamh = NULL;
        double t0 = now_ms();

        if (pam_start_confdir("jitbench", "flooruser", &c, confdir, &pamh)
            != PAM_SUCCESS)
            return -1;
        pam_end(pamh, PAM_SUCCESS);
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    return 0;
}

/* The teardown's look for processes left of a uid (one without any):
 * every logout of a delete-on-logout account makes it, and no teardown
 * may skip it (doc/design.md, F1). */
static int
floor_scan(const struct jit_conf *conf, double *out)
{
    double v[FLOOR_ROUNDS];

    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        double t0 = now_ms();

        if (jit_uid_has_processes(conf->uid_max) != 0)
            return -1;
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    return 0;
}

/* The same three PAM steps with pam_permit in pam_jit's place: what
 * libpam itself costs a login (its audit records among it), the part of
 * the login no module can take out. */
static int
pam_permit_steps(double *out)
{
    double v[FLOOR_ROUNDS];

    for (int i = 0; i < FLOOR_ROUNDS; i++)
        if ((v[i] = login_through("permitbench", "flooruser")) < 0)
            return -1;
    *out = median(v, FLOOR_ROUNDS);
    return 0;
}

/* fork+exec of bench_pam_start SERVICE (or "-"), median, in ms. */
static int
exec_median(const char *helper, const char *service, double *out)
{
    char *argv[] = { S(helper), S(confdir), S(service), NULL };
    double v[FLOOR_ROUNDS];

    for (int i = 0; i < FLOOR_ROUNDS; i++) {
        double t0 = now_ms();

        if (run(argv) != 0) {
            fprintf(stderr, "bench_login: %s %s failed\n", helper, service);
            return -1;
        }
        v[i] = now_ms() - t0;
    }
    *out = median(v, FLOOR_ROUNDS);
    return 0;
}

/* A whole login in a new process, as sshd runs each connection's: the
 * backend and its libraries loaded every time.  The median, less what
 * fork and exec of the helper cost (noop). */
static int
cold_logins(const char *helper, int *next, double noop, double *out)
{
    double v[COLD_ROUNDS];

    for (int i = 0; i < COLD_ROUNDS; i++) {
        char user[32];
        char *args[] = { S(helper), S(confdir), S("jitbench"), user, NULL };
        double t0;

        snprintf(user, sizeof(user), "b%d", (*next)++);
        t0 = now_ms();
        if (run_as(args, 1) != 0) {
            fprintf(stderr, "bench_login: cold login of %s failed\n", user);
            return -1;
        }
        v[i] = now_ms() - t0 - noop;
    }
    *out = median(v, COLD_ROUNDS);
    return 0;
}

/* The CPU time (user + system) of this process's waited-for children
 * so far, in ms. */
static double
children_cpu_ms(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return 0;
    return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
           + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* nproc processes, per logins each, all at once, from user b<*next> on
 * (or, kept, process p as the returning user k<p> each time): the mean
 * latency of a login, the wall time per login, and the CPU time per
 * login (the processes' and the daemon part's). */
static int
parallel(int nproc, int per, int kept, pid_t daemon, int *next,
         double *mean, double *wall, double *cpu)
{
    double sum_all = 0, t0, cpu0;
    int pipefd[2];

    if (pipe(pipefd) != 0)
        return -1;
    count_steps = 0;
    cpu0 = children_cpu_ms() + proc_cpu_ms(daemon);
    t0 = now_ms();
    for (int p = 0; p < nproc; p++) {
        pid_t pid = fork();

        if (pid < 0)
            return -1;
        if (pid == 0) {
            double sum = 0;

            close(pipefd[0]);
            for (int k = 0; k < per; k++) {
                char user[32];
                double t;

                if (kept) {
                    snprintf(user, sizeof(user), "k%d", p);
                    t = login_as(user);
                } else {
                    t = one_login(*next + p * per + k);
                }

                if (t < 0)
                    _exit(1);
                sum += t;
            }
            if (write(pipefd[1], &sum, sizeof(sum)) != sizeof(sum))
                _exit(1);
            _exit(0);
        }
    }
    close(pipefd[1]);
    for (int p = 0; p < nproc; p++) {
        int status;
        double sum;

        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            return -1;
        if (read(pipefd[0], &sum, sizeof(sum)) != sizeof(sum))
            return -1;
        sum_all += sum;
    }
    close(pipefd[0]);
    *wall = (now_ms() - t0) / (nproc * per);
    *mean = sum_all / (nproc * per);
    *cpu = (children_cpu_ms() + proc_cpu_ms(daemon) - cpu0) / (nproc * per);
    if (!kept)
        *next += nproc * per;
    return 0;
}

/* CPU time (user + system) of process pid so far, in ms; -1 unknown. */
static double
proc_cpu_ms(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* After the command's ")": state is field 3, utime 14, stime 15. */
    if ((p = strrchr(buf, ')')) == NULL
        || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
                  "%llu", &ut, &st) != 2)
        return -1;
    return (double) (ut + st) * 1000.0 / (double) sysconf(_SC_CLK_TCK);
}

/*
 * What jitctl daemon keeps while it runs, in a child: the store open and
 * the login relay serving.  Its pid, or -1.  It stops at SIGTERM.
 */
static pid_t
daemon_part(struct jit_conf *conf)
{
    static const struct jit_log quiet = { NULL, NULL, 0 };
    pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
    int p[2];
    char c;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        struct jit_store *s = NULL;
        struct jit_relay *r = NULL;
        char *why = NULL, err[256];
        sigset_t term;
        int sig;

        close(p[0]);
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, NULL);
        /* A benchmark that fails on the way stops it too. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
            _exit(1);
        if (jit_store_open(conf, NULL, &s, &why) != 0
            || jit_relay_start(jit_store_dirfd(s), conf, &lock, &quiet, &r,
                               err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_login: daemon part: %s\n",
                    why ? why : err);
            _exit(1);
        }
        if (write(p[1], "k", 1) != 1)
            _exit(1);
        sigwait(&term, &sig);
        jit_relay_stop(r);
        jit_store_close(s);
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], &c, 1) != 1) {
        close(p[0]);
        waitpid(pid, NULL, 0);
        return -1;
    }
    close(p[0]);
    return pid;
}

int
main(int argc, char **argv)
{
    struct jit_errs errs = { NULL, 0 };
    struct jit_conf conf;
    double rtt[RTT_ROUNDS], seq[SEQ], ua[USERADD_ROUNDS];
    double first, seq_mean = 0, rtt_ms, rtt_kept_ms, ua_ms, floor_ms, beyond;
    double par_mean, par_wall, wide_mean, wide_wall, cpu_ms;
    double kept_par_mean, kept_par_wall, kept_cpu, kept_par_cpu, par_cpu;
    double wide_cpu;
    double alone_mean = 0, cold_login, rtt_relay_ms, daemon_cpu, kept_ms;
    double permit_ms, design_ms, size_1, size_1k;
    pid_t daemon = -1;
    const char *only = getenv("BENCH_ONLY");
    struct floor fl;
    double cold_pam, cold_noop;
    char helper[4096];
    int next = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_login CONFDIR JITCONF USERADD_ROOT\n");
        return 2;
    }
    confdir = argv[1];
    if (jit_conf_init(&conf) != 0 || jit_conf_load_file(&conf, argv[2], &errs)
        || jit_conf_finish(&conf, argv[2], &errs)) {
        jit_errs_print(&errs, stderr);
        return 1;
    }

    /* The API round trip alone: one grant request, a fresh connection
     * each time, as every PAM step makes one. */
    for (int i = 0; i < RTT_ROUNDS; i++) {
        struct jit_api_error err;
        struct jit_grant g;
        double t0 = now_ms();

        if (jit_api_get_grant(&conf, "b0", &g, &err) != JIT_API_OK) {
            fprintf(stderr, "bench_login: API: %s %s\n", err.reason,
                    err.detail);
            return 1;
        }
        rtt[i] = now_ms() - t0;
        jit_grant_free(&g);
    }
    rtt_ms = median(rtt, RTT_ROUNDS);
    /* And on a kept connection, as a second call in one PAM handle
     * would run (open_session reuses acct_mgmt's answer instead). */
    for (int i = 0; i < RTT_ROUNDS; i++) {
        struct jit_api_error err;
        struct jit_grant g;
        struct jit_api *api = jit_api_new();
        double t0;

        if (api == NULL
            || jit_api_get_grant_with(&conf, api, "b0", &g, &err) != JIT_API_OK)
            return 1;
        jit_grant_free(&g);
        t0 = now_ms();
        if (jit_api_get_grant_with(&conf, api, "b0", &g, &err) != JIT_API_OK)
            return 1;
        rtt[i] = now_ms() - t0;
        jit_grant_free(&g);
        jit_api_free(api);
    }
    rtt_kept_ms = median(rtt, RTT_ROUNDS);

    if ((first = one_login(next++)) < 0)
        return 1;
    /* BENCH_ONLY=cold: the logins in new processes alone, for a
     * profiler. */
    if (only != NULL && strcmp(only, "cold") == 0) {
        const char *slash = strrchr(argv[0], '/');

        snprintf(helper, sizeof(helper), "%.*sbench_pam_start",
                 slash ? (int) (slash - argv[0] + 1) : 0, argv[0]);
        if (cold_logins(helper, &next, 0, &cold_login) != 0)
            return 1;
        printf("login in a new process, median %.2f ms (exec included)\n",
               cold_login);
        return 0;
    }
    /* Without jitctl daemon: every login's process is the store's only
     * connection, and rebuilds SQLite's WAL index as it opens it. */
    for (int i = 0; i < SEQ_ALONE; i++) {
        double t = one_login(next++);

        if (t < 0)
            return 1;
        alone_mean += t / SEQ_ALONE;
    }
    /* From here on, as on a host where jitctl daemon runs: its connection
     * to the store stays open for its life, and its relay answers. */
    if ((daemon = daemon_part(&conf)) < 0) {
        fprintf(stderr, "bench_login: could not start the daemon's part\n");
        return 1;
    }
    /* The API round trip as the login now makes it: through the relay. */
    for (int i = 0; i < RTT_ROUNDS; i++) {
        struct jit_api_error err;
        enum jit_api_status st = JIT_API_FAULT;
        struct jit_grant g;
        char whynot[160];
        double t0 = now_ms();

        if (jit_relay_get_grant(&conf, "b0", &g, &err, &st, whynot,
                                sizeof(whynot)) != 0
            || st != JIT_API_OK) {
            fprintf(stderr, "bench_login: relay: %s\n", whynot);
            return 1;
        }
        rtt[i] = now_ms() - t0;
        jit_grant_free(&g);
    }
    rtt_relay_ms = median(rtt, RTT_ROUNDS);
    /* BENCH_ONLY=par: 8 processes in parallel alone, for a profiler. */
    if (only != NULL && strcmp(only, "par") == 0) {
        if (parallel(PAR, PER_PROC, 0, daemon, &next, &par_mean, &par_wall,
                     &par_cpu) != 0)
            return 1;
        printf("login, 8 in parallel: mean %.2f ms, wall per login %.2f ms, "
               "CPU per login %.2f ms\n", par_mean, par_wall, par_cpu);
        kill(daemon, SIGTERM);
        waitpid(daemon, NULL, 0);
        jit_conf_free(&conf);
        return 0;
    }
    count_steps = 1;
    daemon_cpu = proc_cpu_ms(daemon);
    cpu_ms = cpu_now_ms();
    for (int i = 0; i < SEQ; i++) {
        if ((seq[i] = one_login(next++)) < 0)
            return 1;
        seq_mean += seq[i] / SEQ;
    }
    /* The process's own CPU time and the daemon part's (the test API's
     * is not in it): on a shared machine it moves less than the wall
     * time does. */
    cpu_ms = (cpu_now_ms() - cpu_ms) / SEQ;
    daemon_cpu = (proc_cpu_ms(daemon) - daemon_cpu) / SEQ;
    cpu_ms += daemon_cpu;
    count_steps = 0;
    /* BENCH_ONLY=seq: the sequential logins alone, for a profiler. */
    if (only != NULL && strcmp(only, "kept") != 0) {
        printf("login, 100 in a row: mean %.2f ms, CPU %.2f ms\n", seq_mean,
               cpu_ms);
        kill(daemon, SIGTERM);
        waitpid(daemon, NULL, 0);
        jit_conf_free(&conf);
        return 0;
    }

    /* Returning users: their accounts and homes are there. */
    if ((kept_ms = kept_logins(daemon, &kept_cpu)) < 0)
        return 1;
    /* BENCH_ONLY=kept: the returning users alone, for a profiler. */
    if (only != NULL && strcmp(only, "kept") == 0) {
        for (int r = 0; r < 4; r++)
            if ((kept_ms = kept_logins(daemon, &kept_cpu)) < 0)
                return 1;
        if (parallel(PAR, PER_PROC, 1, daemon, &next, &kept_par_mean,
                     &kept_par_wall, &kept_par_cpu) != 0)
            return 1;
        printf("login again, kept: mean %.2f ms, CPU %.2f ms; 8 in parallel "
               "%.2f ms, CPU %.2f ms\n", kept_ms, kept_cpu, kept_par_mean,
               kept_par_cpu);
        kill(daemon, SIGTERM);
        waitpid(daemon, NULL, 0);
        jit_conf_free(&conf);
        return 0;
    }

    /* 8 and 50 processes, all at once. */
    if (parallel(PAR, PER_PROC, 1, daemon, &next, &kept_par_mean,
                 &kept_par_wall, &kept_par_cpu) != 0
        || parallel(PAR, PER_PROC, 0, daemon, &next, &par_mean, &par_wall,
                    &par_cpu) != 0
        || parallel(PAR_WIDE, PER_PROC_WIDE, 0, daemon, &next, &wide_mean,
                    &wide_wall, &wide_cpu) != 0)
        return 1;

    /* The floor, after the logins: nss.db has its usual size by now. */
    if (floor_commit(conf.state_dir, &fl.commit) != 0
        || floor_snapshot(conf.state_dir, &fl.snapshot) != 0
        || floor_home(&conf, &fl.home) != 0
        || floor_pam_start(&fl.pam_start) != 0
        || pam_permit_steps(&permit_ms) != 0
        || floor_scan(&conf, &fl.scan) != 0
        || store_size_commit(&conf, 1, &size_1) != 0
        || store_size_commit(&conf, 1000, &size_1k) != 0)
        return 1;
    floor_ms = fl.commit + fl.snapshot + fl.home + fl.pam_start;
    /* pam_start in a new process linked with libpam alone, as sudo, su
     * or cron start it: the module's libraries are loaded too. */
    {
        const char *slash = strrchr(argv[0], '/');

        snprintf(helper, sizeof(helper), "%.*sbench_pam_start",
                 slash ? (int) (slash - argv[0] + 1) : 0, argv[0]);
    }
    if (exec_median(helper, "-", &cold_noop) != 0
        || exec_median(helper, "jitbench", &cold_pam) != 0)
        return 1;
    if (cold_logins(helper, &next, cold_noop, &cold_login) != 0)
        return 1;

    /* useradd -m + userdel -r of one account in the throwaway root. */
    for (int i = 0; i < USERADD_ROUNDS; i++) {
        char *add[] = { S("/usr/sbin/useradd"), S("--root"), argv[3], S("-m"),
                        S("-s"), S("/bin/bash"), S("benchuser"), NULL };
        char *del[] = { S("/usr/sbin/userdel"), S("--root"), argv[3], S("-r"),
                        S("benchuser"), NULL };
        double t0 = now_ms();

        if (run(add) != 0 || run(del) != 0) {
            fprintf(stderr, "bench_login: useradd/userdel in %s failed\n",
                    argv[3]);
            return 1;
        }
        ua[i] = now_ms() - t0;
    }
    ua_ms = median(ua, USERADD_ROUNDS);

    qsort(seq, SEQ, sizeof(seq[0]), cmp_double);
    printf("%-58s %10s\n", "ms", "value");
    printf("%-58s %10.2f\n", "API round trip (GET grant, new TLS connection), median",
           rtt_ms);
    printf("%-58s %10.2f\n", "API round trip on a kept connection, median",
           rtt_kept_ms);
    printf("%-58s %10.2f\n", "API round trip through the daemon's relay, median",
           rtt_relay_ms);
    printf("%-58s %10.2f\n", "login, first (cold process)", first);
    printf("%-58s %10.2f\n", "login, 50 in a row, no jitctl daemon: mean",
           alone_mean);
    printf("%-58s %10.2f\n", "login, 100 in a row: mean", seq_mean);
    printf("%-58s %10.2f\n", "login, 100 in a row: p50", seq[SEQ / 2]);
    printf("%-58s %10.2f\n", "login, 100 in a row: p95", seq[SEQ * 95 / 100]);
    printf("%-58s %10.2f\n", "login, 100 in a row: CPU time (user+sys) mean", cpu_ms);
    printf("%-58s %10.2f\n", "  of which the daemon's relay", daemon_cpu);
    printf("%-58s %10.2f\n", "  of which acct_mgmt (grant check, reserve): mean",
           step_ms[0] / SEQ);
    printf("%-58s %10.2f\n", "  of which open_session (home, session counted): mean",
           step_ms[1] / SEQ);
    printf("%-58s %10.2f\n", "  of which close_session (teardown): mean",
           step_ms[2] / SEQ);
    printf("%-58s %10.2f\n", "login again, account and home kept: mean", kept_ms);
    printf("%-58s %10.2f\n", "  beyond its API call (mean - relay RTT)",
           kept_ms - rtt_relay_ms);
    printf("%-58s %10.2f\n", "  CPU time (user+sys) mean, the relay's in it",
           kept_cpu);
    printf("%-58s %10.2f\n", "  8 processes in parallel: mean latency",
           kept_par_mean);
    printf("%-58s %10.2f\n", "  8 in parallel: wall time per login",
           kept_par_wall);
    printf("%-58s %10.2f\n", "  8 in parallel: CPU time per login", kept_par_cpu);
    printf("%-58s %10.2f\n", "  parallel 8 mean / single kept login",
           kept_par_mean / kept_ms);
    printf("%-58s %10.2f\n", "  8 in parallel, bound by the CPUs: 8 / cpus x CPU",
           par_cpu_bound(kept_cpu));
    printf("%-58s %10.2f\n", "login, 8 processes in parallel: mean latency",
           par_mean);
    printf("%-58s %10.2f\n", "login, 8 in parallel: wall time per login",
           par_wall);
    printf("%-58s %10.2f\n", "login, 8 in parallel: CPU time per login", par_cpu);
    printf("%-58s %10.2f\n", "login, 50 processes in parallel: mean latency",
           wide_mean);
    printf("%-58s %10.2f\n", "login, 50 in parallel: wall time per login",
           wide_wall);
    printf("%-58s %10.2f\n", "login, 50 in parallel: CPU time per login", wide_cpu);
    printf("%-58s %10.2f\n", "parallel 8 mean / single login", par_mean / seq_mean);
    printf("%-58s %10.2f\n", "login, 8 in parallel, bound by the CPUs: 8 / cpus x CPU",
           par_cpu_bound(cpu_ms));
    /* One API call per login (open_session reuses acct_mgmt's answer in
     * the same handle), made through the relay. */
    beyond = seq_mean - rtt_relay_ms;
    printf("%-58s %10.2f\n", "login beyond its API call (mean - relay RTT)",
           beyond);
    printf("%-58s %10.2f\n", "floor: one fsync'd SQLite commit, median", fl.commit);
    printf("%-58s %10.2f\n", "floor: one snapshot write+rename (no fsync), median",
           fl.snapshot);
    printf("%-58s %10.2f\n", "floor: home from skel + removal, median", fl.home);
    printf("%-58s %10.2f\n", "floor: pam_start loading the module + pam_end, median",
           fl.pam_start);
    printf("%-58s %10.2f\n", "floor: sum", floor_ms);
    printf("%-58s %10.2f\n", "peer: the three steps with pam_permit alone, median",
           permit_ms);
    /* What this login's design writes and reads, each part timed alone
     * above: four commits (reserve, session in, session out and the
     * account disabled, the account deleted), three snapshots (the account
     * shown, disabled, gone), its home made and removed, pam_start, and
     * the look for processes left after the last KILL from the uid (the
     * look before it is skipped when no thread has the uid as its real
     * uid: doc/design.md, F1). */
    design_ms = 4 * fl.commit + 3 * fl.snapshot + fl.home + fl.pam_start
                + fl.scan;
    printf("%-58s %10.2f\n", "teardown's look for processes left, median",
           fl.scan);
    printf("%-58s %10.2f\n", "design floor: 4 commits, 3 snapshots, home, "
           "pam_start, 1 look", design_ms);
    printf("%-58s %10.2f\n", "login beyond its API call / design floor",
           beyond / design_ms);
    printf("%-58s %10.2f\n", "commit changing what NSS shows, 1 account, median",
           size_1);
    printf("%-58s %10.2f\n", "commit changing what NSS shows, 1000 accounts, median",
           size_1k);
    printf("%-58s %10.2f\n", "  a login's 3 such commits: added by 1000 accounts",
           3 * (size_1k - size_1));
    printf("%-58s %10.2f\n", "pam_start in a new libpam-only process, minus exec",
           cold_pam - cold_noop);
    printf("%-58s %10.2f\n", "login in a new process (as sshd's), minus exec, median",
           cold_login);
    printf("%-58s %10.2f\n", "login beyond its API call / floor", beyond / floor_ms);
    printf("%-58s %10.2f\n", "useradd -m + userdel -r, throwaway root, median",
           ua_ms);
    printf("%-58s %10.2f\n", "speedup: useradd+userdel / login", ua_ms / seq_mean);
    printf("%-58s %10.2f\n", "speedup: useradd+userdel / login beyond its API calls",
           ua_ms / beyond);
    printf("RESULT login_ms=%.2f api_rtt_ms=%.2f floor_ms=%.2f"
           " speedup_vs_useradd=%.1f parallel8_ms=%.2f parallel50_ms=%.2f"
           " cold_login_ms=%.2f relay_rtt_ms=%.2f kept_login_ms=%.2f"
           " design_floor_ms=%.2f nss_commit_1k_ms=%.2f"
           " kept_parallel8_ms=%.2f parallel8_cpu_bound_ms=%.2f\n",
           seq_mean, rtt_ms, floor_ms, ua_ms / seq_mean, par_mean, wide_mean,
           cold_login, rtt_relay_ms, kept_ms, design_ms, size_1k,
           kept_par_mean, par_cpu_bound(cpu_ms));
    kill(daemon, SIGTERM);
    waitpid(daemon, NULL, 0);
    jit_conf_free(&conf);
    return 0;
}
