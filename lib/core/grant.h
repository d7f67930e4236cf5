/* SPDX-License-Identifier: MIT */
/*
 * A grant as the JIT API describes it (doc/design.md, "A grant"), and the
 * strict validation of the API's JSON: every required field present with
 * the right type and within its rules, or the whole answer is refused.
 */
#ifndef JIT_GRANT_H
#define JIT_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/validate.h"

#pragma GCC visibility push(hidden)

#define JIT_GRANT_ID_MAX 128
#define JIT_GRANT_CREDENTIAL_MAX 128
#define JIT_GRANT_REQUESTER_MAX 256
#define JIT_GRANT_REASON_MAX 1024
#define JIT_GRANT_SSH_KEYS_MAX 32
#define JIT_GRANT_SSH_KEY_MAX 8192
/* A username and each group: JIT_NAME_MAX bytes; at most JIT_MAX_GROUPS
 * groups; a host: JIT_HOST_MAX bytes (validate.h). */
/* A host's grant list holds at most this many grants. */
#define JIT_GRANT_LIST_MAX 100000

struct jit_grant {
    char *id, *credential, *requester, *username, *host, *reason;
    char *status;    /* active, expired, revoked */
    char *on_logout; /* keep, delete */
    char **groups;
    size_t n_groups;
    char **ssh_keys;
    size_t n_ssh_keys;
    int64_t not_before, expires_at;
};

/* The fields of a grant that carry text.  A JIT API that builds grants
 * (contrib/jit-apid) checks each value with the functions below, the
 * ones jit_grant_parse uses, so it can only ever store a grant that
 * every host accepts: one contract, one code. */
enum jit_grant_field {
    JIT_GRANT_F_ID,
    JIT_GRANT_F_CREDENTIAL,
    JIT_GRANT_F_REQUESTER,
    JIT_GRANT_F_USERNAME,
    JIT_GRANT_F_HOST,
    JIT_GRANT_F_REASON,
    JIT_GRANT_F_GROUP,   /* one entry of groups */
    JIT_GRANT_F_SSH_KEY, /* one entry of ssh_keys */
};

/* NULL if v may be the value of field f, else why not, in the words
 * jit_grant_parse uses after "field: " (a constant string). */
const char *jit_grant_field_problem(enum jit_grant_field f, const char *v);

/* NULL if v[0..n) may be the list groups (f JIT_GRANT_F_GROUP) or
 * ssh_keys (JIT_GRANT_F_SSH_KEY): at most its number of entries, each
 * passing jit_grant_field_problem, none twice.  Else why not, with *at
 * the entry at fault, or n when the list as a whole is. */
const char *jit_grant_list_problem(enum jit_grant_field f, char *const *v,
                                   size_t n, size_t *at);

/* NULL if s is plain text: valid UTF-8 (shortest form,
 * no surrogates), no C0 control, DEL or C1 control.  Free text that
 * reaches logs, audit lines and terminals (a reason, a requester). */
const char *jit_text_problem(const char *s);

/* Parse one grant object from JSON text of len bytes.  Returns 0, or
 * -EINVAL with a message in err ("field: why") and *g zeroed. */
int jit_grant_parse(const char *text, size_t len, struct jit_grant *g,
                    char *err, size_t errlen);

/* An entry of a host list that failed validation.  key names it stably
 * from one list to the next: its id when it has a usable one, else a hash
 * of the entry.  id and username are set only when the entry had a valid
 * one (for the audit line). */
struct jit_grant_refusal {
    size_t index;
    char *key, *id, *username;
    char why[256]; /* "field: problem" */
};

/* A host list: the entries that passed, each on its own, and those that
 * did not.  Two entries with the same id are both refused: the host
 * cannot tell which one the API means. */
struct jit_grant_list {
    struct jit_grant *v;
    size_t n;
    struct jit_grant_refusal *bad;
    size_t n_bad;
};

/* Parse {"grants": [grant, ...]}.  A broken envelope (not JSON, no
 * grants array, too many entries) refuses the whole answer: -EINVAL with
 * err set and *l empty.  Otherwise 0, with every entry in l->v or
 * l->bad. */
int jit_grant_list_parse(const char *text, size_t len,
                         struct jit_grant_list *l, char *err, size_t errlen);
void jit_grant_list_free(struct jit_grant_list *l);

/* Where a grant stands at `now`: the one answer to "is it in force",
 * for a login, a sync, sshd's keys and an account's open sessions.  The
 * first that applies, in this order: */
enum jit_grant_standing {
    JIT_GRANT_IN_FORCE = 0,
    JIT_GRANT_REVOKED,  /* status "revoked" */
    JIT_GRANT_CLOSED,   /* any other status than "active" */
    JIT_GRANT_NOT_YET,  /* not_before more than skew seconds after now */
    JIT_GRANT_OVER,     /* now at or after expires_at */
};

/* not_before may be up to skew seconds in the future (clocks differ);
 * expires_at gets no allowance: a grant is over when it says it is, and
 * the account's shadow expiry and the reaper agree with that. */
enum jit_grant_standing jit_grant_standing(const struct jit_grant *g,
                                           int64_t now, uint32_t skew);

struct jit_conf;

/* Why the grant does not fit this user on this host now, as an audit
 * reason, or NULL if it fits.  not_before may be up to clock_skew in the
 * future; expires_at gets no allowance (see pam_jit(8)). */
const char *jit_grant_misfit(const struct jit_grant *g,
                             const struct jit_conf *conf, const char *user,
                             int64_t now);

void jit_grant_free(struct jit_grant *g);
void jit_grants_free(struct jit_grant *v, size_t n);

#pragma GCC visibility pop

#endif
