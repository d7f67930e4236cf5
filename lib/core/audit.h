/* SPDX-License-Identifier: MIT */
/*
 * The audit trail: one syslog line per decision (LOG_AUTHPRIV), as
 * key="value" pairs in a fixed order, every value quoted and escaped, so
 * that nothing a grant or a client says can forge a field or a line.
 */
#ifndef JIT_AUDIT_H
#define JIT_AUDIT_H

#include <stdint.h>

#pragma GCC visibility push(hidden)

struct jit_audit {
    const char *event;   /* login, session.opened, account.deleted, ... */
    const char *result;  /* allow, deny, ignore, ok, fail */
    const char *reason;
    const char *user, *requester, *credential, *grant;
    const char *service, *rhost, *tty;
    int64_t expires;     /* 0: not known */
    const char *detail;  /* what exactly, e.g. the field a grant fails on */
};

/* Where lines go: pam_syslog in the module, syslog in jitctl.  prio is a
 * syslog priority without the facility. */
struct jit_log {
    void (*emit)(void *ctx, int prio, const char *line);
    void *ctx;
    /* audit_format = json (jit.conf(5)): each line one JSON object with
     * the same keys and values; 0 (kv) unless set. */
    int json;
};

/* The line, malloc'd; NULL on allocation failure.  Keys whose value is
 * NULL (or expires 0) are left out. */
char *jit_audit_format(const struct jit_audit *a);
/* The same as kv (json 0) or as one JSON object (json 1): the keys in
 * the same order, each value the kv line's (escaped the same way, so
 * plain ASCII) as a JSON string. */
char *jit_audit_format_as(const struct jit_audit *a, int json);
/* Format and emit; on allocation failure a fixed line still says which
 * event and result it was. */
void jit_audit(const struct jit_log *log, int prio, const struct jit_audit *a);
/* Lines about work inside a transaction wait here until it commits: an
 * audit line must describe what was committed, never what was rolled
 * back.  defer formats the line at once (the strings it points to may go);
 * flush emits the lines in order and empties the queue; discard drops
 * them. */
struct jit_audit_queue {
    char **lines;
    int *prios;
    size_t n, cap;
    int json; /* the lines as JSON (struct jit_log's json) */
};
void jit_audit_defer(struct jit_audit_queue *q, int prio,
                     const struct jit_audit *a);
void jit_audit_flush(struct jit_audit_queue *q, const struct jit_log *log);
void jit_audit_discard(struct jit_audit_queue *q);

/* A free-form diagnostic line (debug, errors), escaped the same way. */
void jit_logf(const struct jit_log *log, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#pragma GCC visibility pop

#endif
