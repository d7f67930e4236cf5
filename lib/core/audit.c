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

/* The kv value (jit_escape's plain ASCII) as the body of a JSON string:
 * only its backslashes and quotes need a backslash more.  Takes esc. */
static char *
json_body(char *esc)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = esc; *p; p++)
        n += *p == '\\' || *p == '"' ? 2 : 1;
    if ((out = malloc(n + 1)) != NULL) {
        o = out;
        for (const char *p = esc; *p; p++) {
            if (*p == '\\' || *p == '"')
                *o++ = '\\';
            *o++ = *p;
        }
        *o = '\0';
    }
    free(esc);
    return out;
}

/* Append ` key="escaped"` (json: `,"key":"escaped"`) to the growing
 * line. */
static int
add(char **line, size_t *len, int json, const char *key, const char *value)
{
    char *esc, *n;
    size_t need;

    if (value == NULL)
        return 0;
    if ((esc = jit_escape(value)) == NULL
        || (json && (esc = json_body(esc)) == NULL))
        return -1;
    need = *len + strlen(key) + strlen(esc) + 8;
    if ((n = realloc(*line, need)) == NULL) {
        free(esc);
        return -1;
    }
    *line = n;
    *len += (size_t) snprintf(n + *len, need - *len,
                              json ? "%s\"%s\":\"%s\"" : "%s%s=\"%s\"",
                              *len ? (json ? "," : " ") : "", key, esc);
    free(esc);
    return 0;
}

/* The pairs added, as one JSON object.  Takes line. */
static char *
json_object_of(char *line)
{
    char *out = NULL;

    if (asprintf(&out, "{%s}", line ? line : "") < 0)
        out = NULL;
    free(line);
    return out;
}

char *
jit_audit_format(const struct jit_audit *a)
{
    return jit_audit_format_as(a, 0);
}

char *
jit_audit_format_as(const struct jit_audit *a, int json)
{
    char exp[JIT_TIME_LEN];
    char *line = NULL;
    size_t len = 0;

    if (a->expires != 0)
        jit_time_format(a->expires, exp);
    if (add(&line, &len, json, "event", a->event) != 0
        || add(&line, &len, json, "result", a->result) != 0
        || add(&line, &len, json, "reason", a->reason) != 0
        || add(&line, &len, json, "user", a->user) != 0
        || add(&line, &len, json, "requester", a->requester) != 0
        || add(&line, &len, json, "credential", a->credential) != 0
        || add(&line, &len, json, "grant", a->grant) != 0
        || add(&line, &len, json, "service", a->service) != 0
        || add(&line, &len, json, "rhost", a->rhost) != 0
        || add(&line, &len, json, "tty", a->tty) != 0
        || add(&line, &len, json, "expires", a->expires ? exp : NULL) != 0
        || add(&line, &len, json, "detail", a->detail) != 0) {
        free(line);
        return NULL;
    }
    if (json)
        return json_object_of(line);
    return line ? line : strdup("");
}

static const char oom_line[] =
    "event=\"audit\" result=\"fail\" reason=\"out_of_memory\"";
static const char oom_json[] =
    "{\"event\":\"audit\",\"result\":\"fail\",\"reason\":\"out_of_memory\"}";

void
jit_audit(const struct jit_log *log, int prio, const struct jit_audit *a)
{
    char *line;

    if (log == NULL || log->emit == NULL)
        return;
    line = jit_audit_format_as(a, log->json);
    if (line != NULL)
        log->emit(log->ctx, prio, line);
    else
        log->emit(log->ctx, LOG_ERR, log->json ? oom_json : oom_line);
    free(line);
}

void
jit_audit_defer(struct jit_audit_queue *q, int prio, const struct jit_audit *a)
{
    char *line = jit_audit_format_as(a, q->json);

    if (line == NULL
        && (line = strdup(q->json ? oom_json : oom_line)) == NULL)
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
    char *esc = NULL;
    size_t len = 0;
    va_list ap;

    if (log == NULL || log->emit == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* As JSON: {"message":"..."}, the same text escaped the same way. */
    if (!log->json) {
        esc = jit_escape(buf);
    } else if (add(&esc, &len, 1, "message", buf) == 0) {
        esc = json_object_of(esc);
    } else {
        free(esc);
        esc = NULL;
    }
    log->emit(log->ctx, prio,
              esc ? esc : log->json ? "{\"message\":\"(out of memory)\"}"
                                    : "(out of memory)");
    free(esc);
}
