/* SPDX-License-Identifier: MIT */
/*
 * The login benchmark (make bench-login): the full PAM path of pam_jit,
 * acct_mgmt + open_session + close_session with delete on logout, against
 * the loopback test API, beside useradd -m + userdel -r of one account in
 * a throwaway root.  Run by bench-login.sh inside a private namespace.
 *
 *   bench_login CONFDIR JITCONF USERADD_ROOT
 *
 * Users b<i> must have grants at the API (on_logout delete).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "core/conf.h"
#include "core/grant.h"

/* execve wants char *const[]; the strings are never written. */
#define S(x) ((char *) (uintptr_t) (x))

#define SEQ 100
#define PAR 8
#define PER_PROC 12
#define RTT_ROUNDS 30
#define USERADD_ROUNDS 20

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

/* One login of user b<i>: the whole path; -1 if any step failed. */
static double
one_login(int i)
{
    struct pam_conv c = { conv, NULL };
    pam_handle_t *pamh = NULL;
    char user[32];
    double t0 = now_ms(), t;
    int rc;

    snprintf(user, sizeof(user), "b%d", i);
    rc = pam_start_confdir("jitbench", user, &c, confdir, &pamh);
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

/* Run argv with an empty environment; its exit status or -1. */
static int
run(char *const argv[])
{
    char *const envp[] = { S("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), NULL };
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

        if (null >= 0) {
            dup2(null, 1);
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

int
main(int argc, char **argv)
{
    struct jit_errs errs = { NULL, 0 };
    struct jit_conf conf;
    double rtt[RTT_ROUNDS], seq[SEQ], ua[USERADD_ROUNDS];
    double first, seq_mean = 0, par_wall, par_sum = 0, rtt_ms, rtt_kept_ms;
    double ua_ms;
    int next = 0, pipefd[2];

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
    /* And on a kept connection, as open_session's re-check runs after
     * acct_mgmt's in one PAM handle. */
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
    count_steps = 1;
    for (int i = 0; i < SEQ; i++) {
        if ((seq[i] = one_login(next++)) < 0)
            return 1;
        seq_mean += seq[i] / SEQ;
    }

    /* 8 processes, PER_PROC logins each, all at once. */
    if (pipe(pipefd) != 0)
        return 1;
    count_steps = 0;
    par_wall = now_ms();
    for (int p = 0; p < PAR; p++) {
        pid_t pid = fork();

        if (pid < 0)
            return 1;
        if (pid == 0) {
            double sum = 0;

            for (int k = 0; k < PER_PROC; k++) {
                double t = one_login(next + p * PER_PROC + k);

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
    for (int p = 0; p < PAR; p++) {
        int status;
        double sum;

        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            return 1;
        if (read(pipefd[0], &sum, sizeof(sum)) != sizeof(sum))
            return 1;
        par_sum += sum;
    }
    par_wall = now_ms() - par_wall;

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
    printf("%-58s %10.2f\n", "login, first (cold process)", first);
    printf("%-58s %10.2f\n", "login, 100 in a row: mean", seq_mean);
    printf("%-58s %10.2f\n", "login, 100 in a row: p50", seq[SEQ / 2]);
    printf("%-58s %10.2f\n", "login, 100 in a row: p95", seq[SEQ * 95 / 100]);
    printf("%-58s %10.2f\n", "  of which acct_mgmt (grant check, reserve): mean",
           step_ms[0] / SEQ);
    printf("%-58s %10.2f\n", "  of which open_session (re-check, home): mean",
           step_ms[1] / SEQ);
    printf("%-58s %10.2f\n", "  of which close_session (teardown): mean",
           step_ms[2] / SEQ);
    printf("%-58s %10.2f\n", "login, 8 processes in parallel: mean latency",
           par_sum / (PAR * PER_PROC));
    printf("%-58s %10.2f\n", "login, 8 in parallel: wall time per login",
           par_wall / (PAR * PER_PROC));
    printf("%-58s %10.2f\n", "login beyond its API calls (mean - RTT - kept RTT)",
           seq_mean - rtt_ms - rtt_kept_ms);
    printf("%-58s %10.2f\n", "useradd -m + userdel -r, throwaway root, median",
           ua_ms);
    printf("%-58s %10.2f\n", "speedup: useradd+userdel / login", ua_ms / seq_mean);
    printf("%-58s %10.2f\n", "speedup: useradd+userdel / login beyond its API calls",
           ua_ms / (seq_mean - rtt_ms - rtt_kept_ms));
    printf("RESULT login_ms=%.2f api_rtt_ms=%.2f speedup_vs_useradd=%.1f\n",
           seq_mean, rtt_ms, ua_ms / seq_mean);
    jit_conf_free(&conf);
    return 0;
}
