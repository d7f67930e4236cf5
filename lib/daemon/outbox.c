/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/api.h"
#include "core/clock.h"
#include "core/timefmt.h"
#include "daemon/outbox.h"

static json_t *
str_or_null(const char *v)
{
    json_t *j = v ? json_string(v) : NULL;

    return j ? j : json_null(); /* NULL too for text that is not UTF-8 */
}

char *
jit_outbox_batch_json(const struct jit_conf *conf, const struct jit_event *v,
                      size_t n)
{
    json_t *arr = json_array(), *root = NULL;
    char *text = NULL;

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char t[JIT_TIME_LEN];
        json_t *e, *detail = NULL;

        jit_time_format(v[i].time, t);
        if (v[i].detail != NULL)
            detail = json_loads(v[i].detail, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(detail)) {
            json_decref(detail);
            detail = json_null();
        }
        e = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
                      "id", v[i].id, "type", v[i].type, "time", t,
                      "host", conf->host, "grant", str_or_null(v[i].grant),
                      "username", str_or_null(v[i].username),
                      "requester", str_or_null(v[i].requester),
                      "detail", detail);
        if (e == NULL || json_array_append_new(arr, e) != 0)
            goto done;
    }
    root = json_pack("{s:o}", "events", arr);
    arr = NULL;
    if (root != NULL)
        text = json_dumps(root, JSON_COMPACT);

done:
    json_decref(arr);
    json_decref(root);
    return text;
}

int64_t
jit_outbox_retry_at(int64_t now, int attempts)
{
    return jit_backoff(now, attempts, JIT_OUTBOX_RETRY_MIN,
                       JIT_OUTBOX_RETRY_MAX);
}

int
jit_outbox_refused(const struct jit_api_error *err)
{
    long h = err->reason != NULL && strcmp(err->reason, "http_error") == 0
                 ? err->http : 0;

    return h >= 400 && h < 500 && h != 401 && h != 407 && h != 408
           && h != 429;
}

int
jit_outbox_flush(struct jit_store *s, const struct jit_conf *conf,
                 const struct jit_log *log, int64_t now,
                 struct jit_outbox_stats *st)
{
    struct jit_event *v = NULL;
    size_t n = 0, limit = JIT_OUTBOX_BATCH;
    int ret = 0;

    memset(st, 0, sizeof(*st));
    for (;;) {
        struct jit_api_error err;
        long accepted = 0;
        char *body;
        int delivered, attempts = 0;

        if ((ret = jit_store_due_events(s, now, limit, &v, &n)) != 0
            || n == 0)
            break;
        if ((body = jit_outbox_batch_json(conf, v, n)) == NULL) {
            ret = -ENOMEM;
            break;
        }
        delivered = jit_api_post_events(conf, body, strlen(body), &accepted,
                                        &err) == JIT_API_OK
                    && accepted == (long) n;
        free(body);
        /* One event the API will never take must not hold back the
         * others behind it (the outbox is a queue): the batch is sent
         * again one event at a time, and the one refused on its own is
         * dropped, with a line that says which. */
        if (!delivered && jit_outbox_refused(&err) && n > 1) {
            limit = 1;
            jit_events_free(v, n);
            v = NULL;
            n = 0;
            continue;
        }
        if (!delivered && jit_outbox_refused(&err)) {
            /* Kept (a host whose every event is refused is misconfigured,
             * and loses nothing), tried again after its backoff, but out
             * of the queue's way. */
            jit_logf(log, LOG_ERR, "outbox: event %s (%s of %s, grant %s)"
                     " refused by the API (HTTP %ld): kept, tried again"
                     " later, the others go on", v[0].id, v[0].type,
                     v[0].username ? v[0].username : "-",
                     v[0].grant ? v[0].grant : "-", err.http);
            st->refused++;
            if ((ret = jit_store_begin(s)) != 0
                || (ret = jit_store_event_refused(
                        s, v[0].id,
                        jit_outbox_retry_at(now, v[0].attempts))) != 0
                || (ret = jit_store_commit(s)) != 0) {
                jit_logf(log, LOG_ERR, "outbox: %s", jit_store_error(s));
                jit_store_rollback(s);
                break;
            }
            jit_events_free(v, n);
            v = NULL;
            n = 0;
            continue;
        }
        if (!delivered) {
            st->reason = err.reason ? err.reason : "malformed";
            jit_logf(log, LOG_WARNING, "outbox: %zu events not delivered: "
                     "%s: %s", n, st->reason,
                     err.reason ? err.detail : "accepted count differs");
        }
        for (size_t i = 0; i < n; i++)
            if (v[i].attempts > attempts)
                attempts = v[i].attempts;
        if ((ret = jit_store_begin(s)) != 0
            || (ret = jit_store_events_settle(
                    s, v, n, delivered,
                    jit_outbox_retry_at(now, attempts))) != 0
            || (ret = jit_store_commit(s)) != 0) {
            jit_logf(log, LOG_ERR, "outbox: %s", jit_store_error(s));
            jit_store_rollback(s);
            break;
        }
        if (!delivered) {
            st->failed += n;
            ret = -EIO;
            break;
        }
        st->delivered += n;
        jit_events_free(v, n);
        v = NULL;
        n = 0;
    }
    jit_events_free(v, n);
    return ret;
}

int
jit_outbox_bound(struct jit_store *s, const struct jit_conf *conf,
                 const struct jit_log *log)
{
    int64_t n = 0, dropped = 0, cap = conf->outbox_max;
    int ret;

    if ((ret = jit_store_count_events(s, &n)) != 0)
        return ret;
    if (n > cap) {
        if ((ret = jit_store_begin(s)) != 0
            || (ret = jit_store_events_trim(s, cap, &dropped)) != 0
            || (ret = jit_store_commit(s)) != 0) {
            jit_store_rollback(s);
            return ret;
        }
        if (dropped > 0)
            jit_logf(log, LOG_WARNING, "outbox: over outbox_max (%lld):"
                     " dropped the %lld oldest login.denied and session"
                     " events; account events are kept",
                     (long long) cap, (long long) dropped);
        n -= dropped;
    }
    if (n >= cap / 5 * 4)
        jit_logf(log, LOG_WARNING, "outbox: %lld events wait for the API"
                 " (outbox_max %lld)", (long long) n, (long long) cap);
    return 0;
}
