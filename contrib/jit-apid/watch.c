/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's change signal: a write here, or one seen by the watcher in
 * another instance's operations log, wakes the long polls and the alert
 * deliverer.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "apid.h"

/* Another instance's changes: its operations log rows, in the shared
 * database.  One cheap query a second here, instead of every long poll
 * re-reading its list. */
void *
apid_watch_worker(void *arg)
{
    struct apid *a = arg;
    int64_t last = -1;

    while (!a->stopping) {
        int64_t seq;

        if (apid_store_change_seq(a->store, &seq) != APID_OK)
            fprintf(stderr, "jit-apid: watch: %s\n",
                    apid_store_error(a->store));
        else if (seq != last) {
            if (last >= 0)
                apid_changed(a);
            last = seq;
        }
        apid_nap(a);
    }
    return NULL;
}

void
apid_nap(struct apid *a)
{
    struct timespec ts;

    pthread_mutex_lock(&a->change_mu);
    if (!a->stopping) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&a->change_cv, &a->change_mu, &ts);
    }
    pthread_mutex_unlock(&a->change_mu);
}

void
apid_changed(struct apid *a)
{
    pthread_mutex_lock(&a->change_mu);
    a->generation++;
    pthread_cond_broadcast(&a->change_cv);
    pthread_mutex_unlock(&a->change_mu);
    /* The suspended long polls: the transport's clock resumes them. */
    if (a->on_change != NULL)
        a->on_change(a->http);
}
