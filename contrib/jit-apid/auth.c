/* SPDX-License-Identifier: MIT */
/* jit-apid principals and their tokens (see auth.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apid.h"
#include "auth.h"
#include "core/grant.h"
#include "core/validate.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 256

static void
principals_free(struct apid_principal *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        if (v[i].token != NULL) {
            explicit_bzero(v[i].token, strlen(v[i].token));
            free(v[i].token);
        }
    }
    free(v);
}

static int
token_ok(const char *t)
{
    size_t n = strlen(t);

    if (n < TOKEN_MIN || n > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return 0;
    return 1;
}

static int
digest(const char *token, unsigned char out[APID_TOKEN_DIGEST])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), out)
                   == 0
               ? 0
               : -EIO;
}

static int
by_digest(const void *a, const void *b)
{
    return memcmp(((const struct apid_principal *) a)->digest,
                  ((const struct apid_principal *) b)->digest,
                  APID_TOKEN_DIGEST);
}

static int
by_token_then_digest(const void *a, const void *b)
{
    const struct apid_principal *x = a, *y = b;

    if ((x->token == NULL) != (y->token == NULL))
        return x->token == NULL ? 1 : -1;
    return x->token == NULL ? 0 : by_digest(a, b);
}

/* Sorted by the token's digest, so a lookup is a binary search that
 * learns nothing of the tokens from its timing; and a token given twice
 * (one secret for two principals: either could act as the other) is an
 * error.  Those without a token (Kerberos only) go last; *n_tokens
 * counts the others. */
static int
index_tokens(struct apid_principal *v, size_t n, size_t *n_tokens,
             const char *path, char *err, size_t errlen)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (v[i].token != NULL && digest(v[i].token, v[i].digest) != 0)
            return apid_bad(err, errlen, "%s: cannot hash the tokens", path);
    qsort(v, n, sizeof(*v), by_token_then_digest);
    while (k < n && v[k].token != NULL)
        k++;
    *n_tokens = k;
    for (size_t i = 1; i < k; i++)
        if (memcmp(v[i - 1].digest, v[i].digest, APID_TOKEN_DIGEST) == 0) {
            int lt = strcmp(v[i - 1].name, v[i].name) < 0;

            return apid_bad(err, errlen, "%s: %s and %s have the same token",
                            path, v[lt ? i - 1 : i].name,
                            v[lt ? i : i - 1].name);
        }
    return 0;
}

static int
by_name_p(const void *a, const void *b)
{
    return strcmp((*(const struct apid_principal *const *) a)->name,
                  (*(const struct apid_principal *const *) b)->name);
}

/* A ticket names a person, not a line: one name with two roles would
 * leave the role to the order of the file. */
static int
roles_agree(const struct apid_principal *v, size_t n, const char *path,
            char *err, size_t errlen)
{
    const struct apid_principal **s = calloc(n + 1, sizeof(*s));
    int ret = 0;

    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        s[i] = &v[i];
    qsort(s, n, sizeof(*s), by_name_p);
    for (size_t i = 1; i < n && ret == 0; i++)
        if (strcmp(s[i - 1]->name, s[i]->name) == 0
            && s[i - 1]->role != s[i]->role)
            ret = apid_bad(err, errlen, "%s: %s has two roles", path,
                           s[i]->name);
    free(s);
    return ret;
}

int
apid_auth_one_component(const char *name, const char *realm)
{
    size_t ln = strlen(name), lr = strlen(realm);

    /* MIT writes a '/' or '@' inside a component as "\/" or "\@": a
     * backslash anywhere in the first part refuses those too. */
    if (lr == 0 || ln < lr + 2 || name[ln - lr - 1] != '@'
        || memcmp(name + ln - lr, realm, lr) != 0)
        return 0;
    for (size_t i = 0; i < ln - lr - 1; i++)
        if (name[i] == '/' || name[i] == '@' || name[i] == '\\')
            return 0;
    return 1;
}

/* hosts: 2 fields per line; else 3 (person, role, token or "-" with
 * realm set: the person signs on by Kerberos only). */
static int
load_file(const char *path, int people, const char *realm,
          struct apid_principal **out, size_t *n, size_t *n_tokens,
          char *err, size_t errlen)
{
    struct apid_principal *v = NULL;
    char line[1024];
    struct stat st;
    size_t cnt = 0;
    int fd, lineno = 0, ret = 0;
    FILE *f;

    *out = NULL;
    *n = 0;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return apid_bad(err, errlen, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return apid_bad(err, errlen, "%s: must be a regular file of ours, mode"
                   " 0600 or stricter", path);
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *a, *b, *c, *d;
        struct apid_principal *nv;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            ret = apid_bad(err, errlen, "%s:%d: line too long", path, lineno);
            break;
        }
        a = strtok_r(line, " \t\r\n", &save);
        if (a == NULL || a[0] == '#')
            continue;
        b = strtok_r(NULL, " \t\r\n", &save);
        c = strtok_r(NULL, " \t\r\n", &save);
        d = strtok_r(NULL, " \t\r\n", &save);
        if (b == NULL || (people ? c == NULL || d != NULL : c != NULL)) {
            ret = apid_bad(err, errlen, "%s:%d: want %s", path, lineno,
                      people ? "<person> <role> <token>" : "<host> <token>");
            break;
        }
        if (!people && jit_host_problem(a) != NULL) {
            ret = apid_bad(err, errlen, "%s:%d: %s: not a host name", path,
                      lineno, a);
            break;
        }
        /* A person's name is the requester of their grants: the
         * hosts' rule for it (lib/core/grant.c) holds here already. */
        if (people && (jit_grant_field_problem(JIT_GRANT_F_REQUESTER, a)
                           != NULL
                       || strchr(a, '"') != NULL)) {
            ret = apid_bad(err, errlen, "%s:%d: bad person name", path, lineno);
            break;
        }
        if (people && strcmp(c, "-") == 0) {
            if (realm == NULL) {
                ret = apid_bad(err, errlen, "%s:%d: %s: no token (\"-\")"
                               " needs krb5_keytab and krb5_realm", path,
                               lineno, a);
                break;
            }
            if (!apid_auth_one_component(a, realm)) {
                ret = apid_bad(err, errlen, "%s:%d: %s: no token (\"-\"),"
                               " so the name must be a principal of %s,"
                               " <name>@%s", path, lineno, a, realm, realm);
                break;
            }
        } else if (!token_ok(people ? c : b)) {
            ret = apid_bad(err, errlen, "%s:%d: a token is %d..%d printable"
                      " characters", path, lineno, TOKEN_MIN, TOKEN_MAX);
            break;
        }
        if ((nv = realloc(v, (cnt + 1) * sizeof(*nv))) == NULL) {
            ret = -ENOMEM;
            break;
        }
        v = nv;
        memset(&v[cnt], 0, sizeof(v[cnt]));
        cnt++;
        if (people) {
            v[cnt - 1].role = strcmp(b, "requester") == 0  ? APID_REQUESTER
                              : strcmp(b, "approver") == 0 ? APID_APPROVER
                              : strcmp(b, "admin") == 0    ? APID_ADMIN
                                                           : 0;
            if (v[cnt - 1].role == 0) {
                ret = apid_bad(err, errlen, "%s:%d: role: requester, approver or"
                          " admin", path, lineno);
                break;
            }
        }
        if ((v[cnt - 1].name = strdup(a)) == NULL
            || (!(people && strcmp(c, "-") == 0)
                && (v[cnt - 1].token = strdup(people ? c : b)) == NULL)) {
            ret = -ENOMEM;
            break;
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    if (ret != 0) {
        principals_free(v, cnt);
        return ret;
    }
    if ((ret = index_tokens(v, cnt, n_tokens, path, err, errlen)) != 0
        || (people && (ret = roles_agree(v, cnt, path, err, errlen)) != 0)) {
        principals_free(v, cnt);
        return ret;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int
apid_auth_load(const char *host_tokens, const char *people,
               const char *krb5_realm, struct apid_auth *out, char *err,
               size_t errlen)
{
    struct apid_auth a = { NULL, NULL, 0, 0, 0 };
    size_t nt;
    int ret;

    memset(out, 0, sizeof(*out));
    if (host_tokens != NULL
        && (ret = load_file(host_tokens, 0, NULL, &a.hosts, &a.n_hosts, &nt,
                            err, errlen)) != 0)
        return ret;
    if (people != NULL
        && (ret = load_file(people, 1, krb5_realm, &a.people, &a.n_people,
                            &a.n_people_tokens, err, errlen)) != 0) {
        apid_auth_free(&a);
        return ret;
    }
    *out = a;
    return 0;
}

void
apid_auth_free(struct apid_auth *a)
{
    principals_free(a->hosts, a->n_hosts);
    principals_free(a->people, a->n_people);
    memset(a, 0, sizeof(*a));
}

/* Equal in time that depends on the lengths only. */
static int
same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char) (a[i] ^ b[i]);
    return d == 0;
}

static const struct apid_principal *
find(const struct apid_principal *v, size_t n, const char *authorization)
{
    struct apid_principal key;
    const struct apid_principal *hit;

    if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0
        || n == 0 || digest(authorization + 7, key.digest) != 0)
        return NULL;
    hit = bsearch(&key, v, n, sizeof(*v), by_digest);
    return hit != NULL && same(hit->token, authorization + 7) ? hit : NULL;
}

const struct apid_principal *
apid_auth_host(const struct apid_auth *a, const char *authorization)
{
    return find(a->hosts, a->n_hosts, authorization);
}

const struct apid_principal *
apid_auth_person(const struct apid_auth *a, const char *authorization)
{
    return find(a->people, a->n_people_tokens, authorization);
}

const struct apid_principal *
apid_auth_person_named(const struct apid_auth *a, const char *principal)
{
    /* Not a secret, and a people file is small: a plain search.  Two
     * lines of one name share its role (roles_agree). */
    for (size_t i = 0; i < a->n_people; i++)
        if (strcmp(a->people[i].name, principal) == 0)
            return &a->people[i];
    return NULL;
}
