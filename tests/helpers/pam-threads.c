/* SPDX-License-Identifier: MIT */
/*
 * 16 threads run pam_acct_mgmt through pam_jit at once (each on its own
 * PAM handle, users t<thread>-<round>), in a process that installed its
 * own SIGPIPE and SIGALRM handlers: every login succeeds, nothing
 * crashes, and the handlers are the caller's afterwards (doc/design.md,
 * threat B5).
 *
 *   pam-threads CONFDIR SERVICE THREADS ROUNDS
 */
#include "config.h"

#include <pthread.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *confdir, *service;
static int rounds;

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

static void
on_signal(int sig)
{
    (void) sig;
}

static void *
worker(void *arg)
{
    long t = (long) arg, failed = 0;

    for (int r = 0; r < rounds; r++) {
        struct pam_conv c = { conv, NULL };
        pam_handle_t *pamh = NULL;
        char user[32];
        int rc;

        snprintf(user, sizeof(user), "t%ld-%d", t, r);
        rc = pam_start_confdir(service, user, &c, confdir, &pamh);
        if (rc == PAM_SUCCESS)
            rc = pam_acct_mgmt(pamh, PAM_SILENT);
        if (rc != PAM_SUCCESS) {
            fprintf(stderr, "%s: %s\n", user, pam_strerror(pamh, rc));
            failed++;
        }
        if (pamh)
            pam_end(pamh, rc);
    }
    return (void *) failed;
}

int
main(int argc, char **argv)
{
    struct sigaction sa, before[2], after[2];
    const int sigs[2] = { SIGPIPE, SIGALRM };
    pthread_t *th;
    long failed = 0;
    int n;

    if (argc != 5) {
        fprintf(stderr, "usage: pam-threads CONFDIR SERVICE THREADS ROUNDS\n");
        return 2;
    }
    confdir = argv[1];
    service = argv[2];
    n = atoi(argv[3]);
    rounds = atoi(argv[4]);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    for (int i = 0; i < 2; i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaction(sigs[i], NULL, &before[i]);
    }
    if ((th = calloc((size_t) n, sizeof(*th))) == NULL)
        return 1;
    for (long t = 0; t < n; t++)
        if (pthread_create(&th[t], NULL, worker, (void *) t) != 0)
            return 1;
    for (int t = 0; t < n; t++) {
        void *res;

        pthread_join(th[t], &res);
        failed += (long) res;
    }
    for (int i = 0; i < 2; i++) {
        sigaction(sigs[i], NULL, &after[i]);
        if (after[i].sa_handler != before[i].sa_handler) {
            fprintf(stderr, "signal %d: handler changed\n", sigs[i]);
            failed++;
        }
    }
    printf("%d threads x %d logins: %ld failed\n", n, rounds, failed);
    free(th);
    return failed ? 1 : 0;
}
