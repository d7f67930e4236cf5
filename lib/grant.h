/*
 * A grant as the JIT API describes it (DESIGN "JIT API v1"), and the
 * strict validation of the API's JSON: every required field present with
 * the right type and within its rules, or the whole answer is refused.
 */
#ifndef JIT_GRANT_H
#define JIT_GRANT_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define JIT_GRANT_ID_MAX 128
#define JIT_GRANT_CREDENTIAL_MAX 128
#define JIT_GRANT_REQUESTER_MAX 256
#define JIT_GRANT_REASON_MAX 1024
#define JIT_GRANT_SSH_KEYS_MAX 32
#define JIT_GRANT_SSH_KEY_MAX 8192
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

void jit_grant_free(struct jit_grant *g);
void jit_grants_free(struct jit_grant *v, size_t n);

#pragma GCC visibility pop

#endif
