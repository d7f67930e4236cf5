/* SPDX-License-Identifier: MIT */
/*
 * jitctl daemon: sync (a long poll on the API's host list), reap at the
 * next expiry, deliver the outbox; round after round until SIGTERM or
 * SIGINT.  SIGHUP reloads the configuration.  Signal handlers only raise
 * flags; a raised flag also ends a long poll in progress, and so does a
 * poke at the wake-up FIFO (another process added to the outbox).  The
 * status file (jitctl status) is written at start, before each poll, when
 * the API's state changes and at stop.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "daemon.h"
#include "daemon/outbox.h"
#include "daemon/reap.h"
#include "daemon/relay.h"
#include "daemon/status.h"
#include "daemon/sync.h"
#include "state/wake.h"

/* The longest long poll: the API answers sooner when the list changes. */
#define POLL_MAX_S 30
/* After an API fault (the list's or the outbox's), ask again after this
 * long, doubling: the API's return is noticed within FAULT_PAUSE_MAX_S. */
#define FAULT_PAUSE_MIN_S 1
#define FAULT_PAUSE_MAX_S 4
/* An API that answers a long poll "busy" (429, 503) is up but over its
 * budget of held polls: asked again after this, without a wait (always
 * answered: the list stays at most this old), then with one.  Two
 * requests in this time, where the fault pause made a storm of them. */
#define BUSY_PAUSE_S 5
/* A poll after one that a poke ended cannot be ended by a poke for its
 * first WAKE_GRACE_MS: however many pokes come, the API has that long to
 * answer a changed list (a flood of pokes must not starve the sync), and
 * the daemon makes at most one round a second for them. */
#define WAKE_GRACE_MS 1000

static volatile sig_atomic_t stop_flag, reload_flag, wake_flag;
/* The relay's threads read the configuration under it; a reload writes. */
static pthread_rwlock_t conf_lock = PTHREAD_RWLOCK_INITIALIZER;

static void
on_stop(int sig)
{
    (void) sig;
    stop_flag = 1;
    wake_flag = 1;
}

static void
on_reload(int sig)
{
    (void) sig;
    reload_flag = 1;
    wake_flag = 1;
}

static int
install_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop; /* no SA_RESTART: sleeps end at once */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -errno;
    sa.sa_handler = on_reload;
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return -errno;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL) != 0 ? -errno : 0;
}

static int64_t
realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds, or until a signal raises a flag. */
static void
pause_ms(int64_t ms)
{
    struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };

    if (ms > 0 && !wake_flag)
        nanosleep(&ts, NULL);
}

/* Sleep up to s seconds, or until a signal raises a flag. */
static void
pause_s(int64_t s)
{
    struct timespec ts = { (time_t) s, 0 };

    if (s > 0 && !wake_flag)
        nanosleep(&ts, NULL);
}

/* The status file now (see status.h). */
static void
status_put(const struct jit_conf *conf, struct jit_store *s,
           struct jit_daemon_status *st)
{
    st->updated = (int64_t) time(NULL);
    st->next_expiry = jit_reap_next_due(s, st->updated);
    (void) jit_status_write(conf, st);
}

/* The API's state for the status file: "ok" or the last fault's reason;
 * written at once when it changes, not at the end of the round. */
static void
status_api(const struct jit_conf *conf, struct jit_store *s,
           struct jit_daemon_status *st, const char *api)
{
    if (strcmp(st->api, api) == 0)
        return;
    snprintf(st->api, sizeof(st->api), "%s", api);
    status_put(conf, s, st);
}

/* When to give the outbox's oldest event another try: 0 for no fault
 * pending, else the time, and the pause after the next fault. */
struct outbox_retry {
    int64_t at;
    int64_t pause;
};

/*
 * Deliver what is due.  A batch that fails backs its events off for 30 s
 * and more (for jitctl flush, run by a timer); the daemon tries again
 * after its own fault pause instead (1 s doubling up to 4 s), so that the
 * API's return is noticed within seconds, and the queue (oldest first)
 * moves on at once.
 */
static void
deliver(struct jit_store *s, const struct jit_conf *conf,
        const struct jit_log *log, struct outbox_retry *ob)
{
    struct jit_outbox_stats os;
    int64_t now = (int64_t) time(NULL);
    int retried = 0, r;

    if (ob->at != 0 && now >= ob->at) {
        if (jit_store_begin(s) == 0 && jit_store_events_retry_now(s) == 0
            && jit_store_commit(s) == 0)
            retried = 1;
        jit_store_rollback(s); /* nothing if committed */
    }
    r = jit_outbox_flush(s, conf, log, now, &os);
    if (r == -EIO) {
        ob->at = now + ob->pause;
        if (ob->pause < FAULT_PAUSE_MAX_S)
            ob->pause = ob->pause * 2 < FAULT_PAUSE_MAX_S ? ob->pause * 2
                                                         : FAULT_PAUSE_MAX_S;
    } else if (r == 0 && (retried || os.delivered > 0)) {
        /* All that was due went: the API takes events again. */
        ob->at = 0;
        ob->pause = FAULT_PAUSE_MIN_S;
    } else if (r == 0 && ob->at == 0
               && jit_store_events_backed_off(s, now) == 1) {
        /* Another process (jitctl flush) failed to deliver them: they
         * wait for their own backoff, which may be long, unless tried
         * again here as after a failure of ours. */
        ob->at = now + ob->pause;
    }
}

int
jitctl_daemon(struct jit_conf *conf, const struct jit_log *log,
              int (*reload)(struct jit_conf *))
{
    struct jit_daemon_status st;
    struct jit_store *s = NULL;
    struct jit_relay *relay = NULL;
    /* At start, what earlier runs left waiting is due at once. */
    struct outbox_retry ob = { 1, FAULT_PAUSE_MIN_S };
    char *etag = NULL, *why = NULL, wake_why[256], relay_why[256];
    int64_t fault_pause = FAULT_PAUSE_MIN_S;
    /* When the API began answering "busy" (0: it is not). */
    int64_t busy_since = 0;
    int ret, wake_fd, woken = 0, busy;

    if ((ret = install_handlers()) != 0)
        return ret;
    jit_api_set_cancel(&wake_flag);
    if ((ret = jit_store_open(conf, NULL, &s, &why)) != 0) {
        jit_logf(log, LOG_ERR, "daemon: state store: %s", why ? why : "?");
        free(why);
        return ret;
    }
    /* Start from the list the last sync applied. */
    if (jit_store_kv_get(s, JIT_SYNC_ETAG_KEY, &etag) != 0)
        etag = NULL;
    /* Without the FIFO the daemon still works: other processes' events
     * then wait for the end of the long poll. */
    wake_fd = jit_store_wake_listen(s, wake_why, sizeof(wake_why));
    if (wake_fd < 0)
        jit_logf(log, LOG_WARNING, "daemon: wake-up FIFO %s/%s; events "
                 "that other processes record wait up to %d s",
                 conf->state_dir, wake_why, POLL_MAX_S);
    /* Without the relay, logins ask the API themselves: slower, the same
     * verdicts. */
    if (jit_relay_start(jit_store_dirfd(s), conf, &conf_lock, log, &relay,
                        relay_why, sizeof(relay_why)) != 0)
        jit_logf(log, LOG_WARNING, "daemon: login relay %s/%s; logins ask "
                 "the API themselves", conf->state_dir, relay_why);
    memset(&st, 0, sizeof(st));
    st.pid = getpid();
    st.started = (int64_t) time(NULL);
    snprintf(st.api, sizeof(st.api), "unknown");
    st.state = JIT_DAEMON_RUNNING;
    status_put(conf, s, &st);
    jit_logf(log, LOG_INFO, "daemon: started (pid %ld)", (long) st.pid);

    while (!stop_flag) {
        struct jit_sync_stats ss;
        struct jit_reap_item *items = NULL;
        const char *api_reason = NULL;
        int64_t now = (int64_t) time(NULL), next, wait, left_ms, retry;
        int64_t polled;
        size_t n = 0;
        int reloaded, held;

        wake_flag = 0;
        if (reload_flag) {
            reload_flag = 0;
            /* A bad new file keeps the old configuration (reload says
             * why); the store keeps pointing at conf, changed in place. */
            pthread_rwlock_wrlock(&conf_lock);
            reloaded = reload(conf) == 0;
            /* Under the lock: no request copies the new configuration
             * and then takes a connection made under the old one. */
            if (reloaded)
                jit_relay_reloaded(relay);
            pthread_rwlock_unlock(&conf_lock);
            if (reloaded)
                jit_logf(log, LOG_INFO, "daemon: configuration reloaded");
        }
        /* Reap first: an account past its end goes whatever the API.  A
         * grant refused because this account was in the way is worth
         * another look now. */
        held = 0;
        if (jit_reap_once(s, conf, log, now, 0, &items, &n) == 0) {
            if (n > 0)
                jit_sync_retry_soon(s, now);
            for (size_t i = 0; i < n; i++)
                held |= items[i].result == -EALREADY;
            jit_reap_items_free(items, n);
        }
        if (stop_flag)
            break;
        /* The events of that reap (and of logins meanwhile) go before a
         * poll that may wait 30 s.  The pokes so far are answered by this
         * flush (our own reap's among them); a poke after it ends the
         * poll. */
        if (wake_fd >= 0)
            jit_wake_drain(wake_fd);
        deliver(s, conf, log, &ob);
        if (stop_flag)
            break;
        next = jit_reap_next_due(s, now);
        /* An account left to another process's teardown (doc/design.md,
         * F9) is looked at again within two seconds: that process may die
         * before it finishes.  Through a short poll, not a pause: a holder
         * that never lets go must not stop the sync. */
        if (held && (next == 0 || next > now + 2))
            next = now + 2;
        /* Under a second to the next end: sleep to it exactly, as a poll
         * (whose wait counts whole seconds) would overshoot it.  Not
         * less than 100 ms, should something due stay due. */
        if (next != 0 && (left_ms = next * 1000 - realtime_ms()) < 1000) {
            pause_ms(left_ms > 100 ? left_ms : 100);
            continue;
        }
        /* The poll ends no later than the next expiry. */
        wait = next ? (next * 1000 - realtime_ms()) / 1000 : POLL_MAX_S;
        if (wait > POLL_MAX_S)
            wait = POLL_MAX_S;
        /* ... and no later than a refused grant's next look or the
         * outbox's next try after a fault. */
        if ((retry = jit_sync_retry_at(s)) != 0 && retry - now < wait)
            wait = retry - now;
        if (ob.at != 0 && ob.at - now < wait)
            wait = ob.at - now;
        if (wait < 1)
            wait = 1;
        /* After a fault, ask without waiting: an API that is back (with
         * the list unchanged) answers at once, and the outbox drains now
         * rather than after a long poll. */
        if (strcmp(st.api, "ok") != 0 && strcmp(st.api, "unknown") != 0)
            wait = 0;
        status_put(conf, s, &st);
        jit_api_set_wake(wake_fd, woken ? WAKE_GRACE_MS : 0);
        polled = (int64_t) time(NULL);
        ret = jit_sync_poll(s, conf, log, &etag, (unsigned) wait, &ss,
                            &api_reason);
        now = (int64_t) time(NULL);
        woken = ret == 0 && ss.woken;
        /* A busy API (429, 503: up, but beyond its budget of held polls)
         * is not an error of this host, and it lasts: a warning when it
         * starts and one when it ends, not a line every round.  It ends
         * with a long poll answered (the fetch without a wait after the
         * pause is answered by a busy API too: it says nothing), or with
         * another fault, an error of its own; it lasted until that
         * poll's start.  A poll that a poke ended or SIGHUP cancelled
         * says nothing of it. */
        busy = api_reason != NULL && strcmp(api_reason, "busy") == 0;
        if (busy && busy_since == 0) {
            busy_since = polled;
            jit_logf(log, LOG_WARNING, "daemon: the API is busy (%s); asking"
                     " again every %d s, the list last applied stays in"
                     " force", ss.api_detail, BUSY_PAUSE_S);
        } else if (busy_since != 0
                   && ((ret == 0 && !woken && ss.held)
                       || (api_reason != NULL && !busy
                           && strcmp(api_reason, "cancelled") != 0))) {
            jit_logf(log, LOG_WARNING, "daemon: the API is no longer busy,"
                     " after %lld s", (long long) (polled > busy_since
                                                   ? polled - busy_since
                                                   : 0));
            busy_since = 0;
        }
        if (woken) {
            /* Another process added to the outbox: the next round delivers
             * it and polls again with the same ETag. */
            continue;
        }
        if (ret == 0) {
            /* Back after a fault: what waits in the outbox goes now, not
             * at the end of its backoff. */
            if (strcmp(st.api, "ok") != 0)
                ob.at = now;
            st.last_sync = now;
            status_api(conf, s, &st, "ok");
            fault_pause = FAULT_PAUSE_MIN_S;
            if (ss.gone > 0 && jit_reap_once(s, conf, log, now, 0, &items,
                                             &n) == 0) {
                if (n > 0)
                    jit_sync_retry_soon(s, now);
                jit_reap_items_free(items, n);
            }
        } else if (api_reason != NULL && !stop_flag
                   && strcmp(api_reason, "cancelled") != 0) {
            /* (A poll that SIGHUP cancelled says nothing of the API.)
             * Nothing is deleted or extended for want of an answer; local
             * expiry still applies at the top of the loop. */
            int64_t p = strcmp(api_reason, "busy") == 0 ? BUSY_PAUSE_S
                                                          : fault_pause;

            status_api(conf, s, &st, api_reason);
            /* ... but never past the next expiry. */
            next = jit_reap_next_due(s, now);
            pause_s(next && next - now < p ? next - now : p);
            if (fault_pause < FAULT_PAUSE_MAX_S)
                fault_pause *= 2;
        } else if (ret != 0 && api_reason == NULL && !stop_flag) {
            /* The list came but could not be applied (the store): the
             * next poll would get it again at once, so wait as after an
             * API fault rather than ask again and again. */
            next = jit_reap_next_due(s, now);
            pause_s(next && next - now < fault_pause ? next - now
                                                     : fault_pause);
            if (fault_pause < FAULT_PAUSE_MAX_S)
                fault_pause *= 2;
        }
        if (!stop_flag) {
            deliver(s, conf, log, &ob);
            (void) jit_outbox_bound(s, conf, log);
        }
    }
    /* Its calls are bounded by the API's timeouts (and libkrb5's). */
    jit_relay_stop(relay);
    st.state = JIT_DAEMON_STOPPED;
    status_put(conf, s, &st);
    jit_logf(log, LOG_INFO, "daemon: stopped");
    jit_api_set_cancel(NULL);
    jit_api_set_wake(-1, 0);
    if (wake_fd >= 0)
        close(wake_fd);
    free(etag);
    jit_store_close(s);
    return 0;
}
