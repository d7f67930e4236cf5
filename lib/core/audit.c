/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/audit.h"
#include "core/escape.h"
#include "core/timefmt.h"

/* Append ` key="escaped"` to the growing line. */
static int
add(char **line, size_t *len, const char *key, const char *value)
{
    char *esc, *n;
    size_t need;

    if (value == NULL)
        return 0;
    if ((esc = jit_escape(value)) == NULL)
        return -1;
    need = *len + strlen(key) + strlen(esc) + 5;
    if ((n = realloc(*line, need)) == NULL) {
        free(esc);
        return -1;
    }
    *line = n;
    *len += (size_t) snprintf(n + *len, need - *len, "%s%s=\"%s\"",
                              *len ? " " : "", key, esc);
    free(esc);
    return 0;
}

char *
jit_audit_format(const struct jit_audit *a)
{
    char exp[JIT_TIME_LEN];
    char *line = NULL;
    size_t len = 0;

    if (a->expires != 0)
        jit_time_format(a->expires, exp);
    if (add(&line, &len, "event", a->event) != 0
        || add(&line, &len, "result", a->result) != 0
        || add(&line, &len, "reason", a->reason) != 0
        || add(&line, &len, "user", a->user) != 0
        || add(&line, &len, "requester", a->requester) != 0
        || add(&line, &len, "credential", a->credential) != 0
        || add(&line, &len, "grant", a->grant) != 0
        || add(&line, &len, "service", a->service) != 0
        || add(&line, &len, "rhost", a->rhost) != 0
        || add(&line, &len, "tty", a->tty) != 0
        || add(&line, &len, "expires", a->expires ? exp : NULL) != 0
        || add(&line, &len, "detail", a->detail) != 0) {
        free(line);
        return NULL;
    }
    return line ? line : strdup("");
}

static const char oom_line[] =
    "event=\"audit\" result=\"fail\" reason=\"out_of_memory\"";

void
jit_audit(const struct jit_log *log, int prio, const struct jit_audit *a)
{
    char *line = jit_audit_format(a);

    if (log == NULL || log->emit == NULL) {
        free(line);
        return;
    }
    if (line != NULL)
        log->emit(log->ctx, prio, line);
    else
        log->emit(log->ctx, LOG_ERR, oom_line);
    free(line);
}

void
jit_audit_defer(struct jit_audit_queue *q, int prio, const struct jit_audit *a)
{
    char *line = jit_audit_format(a);

    if (line == NULL && (line = strdup(oom_line)) == NULL)
        return; /* nothing left to say it with */
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        char **nl = realloc(q->lines, cap * sizeof(*nl));
        int *np;

        if (nl != NULL)
            q->lines = nl;
        np = nl ? realloc(q->prios, cap * sizeof(*np)) : NULL;
        if (np == NULL) {
            free(line);
            return;
        }
        q->prios = np;
        q->cap = cap;
    }
    q->lines[q->n] = line;
    q->prios[q->n++] = prio;
}

void
jit_audit_flush(struct jit_audit_queue *q, const struct jit_log *log)
{
    for (size_t i = 0; i < q->n; i++)
        if (log != NULL && log->emit != NULL)
            log->emit(log->ctx, q->prios[i], q->lines[i]);
    jit_audit_discard(q);
}

void
jit_audit_discard(struct jit_audit_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->lines[i]);
    free(q->lines);
    free(q->prios);
    memset(q, 0, sizeof(*q));
}

void
jit_logf(const struct jit_log *log, int prio, const char *fmt, ...)
{
    char buf[1024];
    char *esc;
    va_list ap;

    if (log == NULL || log->emit == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    esc = jit_escape(buf);
    log->emit(log->ctx, prio, esc ? esc : "(out of memory)");
    free(esc);
}
