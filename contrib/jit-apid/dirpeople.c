/* SPDX-License-Identifier: MIT */
/*
 * People from the directory (dirpeople.h): the lookup of a person's
 * entry and groups, the policies' requesters and approvers lists, and
 * the periodic check that revokes the grants of people the directory
 * disabled or removed (doc/design.md, R14; threats S13, S14).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "dirpeople.h"
#include "ldap.h"

/* The actor of the check's revocations in the operations log. */
#define CHECK_ACTOR "directory-check"
#define MAX_GRANTS 100000

char *
apid_dir_lookup_value(const struct apid_conf *c, const char *person)
{
    const char *attr = c->ldap_person_attr ? c->ldap_person_attr : "uid";
    const char *at = strchr(person, '@');

    if (strcasecmp(attr, "userPrincipalName") == 0
        || strcasecmp(attr, "krbPrincipalName") == 0)
        return strdup(person);
    if (at == NULL)
        return strdup(person);
    if (c->krb5_realm != NULL && apid_auth_one_component(person, c->krb5_realm))
        return strndup(person, (size_t) (at - person));
    return NULL;
}

void
apid_dirperson_free(struct apid_dirperson *p)
{
    for (size_t i = 0; i < p->n_groups; i++)
        free(p->groups[i]);
    for (size_t i = 0; i < p->n_keys; i++)
        free(p->keys[i]);
    free(p->groups);
    free(p->keys);
    free(p->dn);
    free(p->uid);
    free(p->display_name);
    free(p->mail);
    memset(p, 0, sizeof(*p));
}

static int
push(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(char *));

    if (nv == NULL)
        return -1;
    *v = nv;
    if ((nv[*n] = strndup(s, len)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

static int
by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* What the directory says of the account's state: the first lock found,
 * or NULL.  A directory administrator disables an account in one of
 * these ways; each alone is enough. */
static const char *
disabled_by(LDAP *ld, LDAPMessage *e)
{
    char *lock = apid_ldap_first_value(ld, e, "nsAccountLock");
    char *locked = apid_ldap_first_value(ld, e, "pwdAccountLockedTime");
    char *uac = apid_ldap_first_value(ld, e, "userAccountControl");
    const char *why = NULL;

    if (lock != NULL && strcasecmp(lock, "true") == 0)
        why = "nsAccountLock";
    else if (locked != NULL)
        why = "pwdAccountLockedTime";
    else if (uac != NULL) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(uac, &end, 10);
        /* An unreadable value is a lock too: fail closed. */
        if (errno != 0 || end == uac || *end != '\0' || (v & 0x2) != 0)
            why = "userAccountControl";
    }
    free(lock);
    free(locked);
    free(uac);
    return why;
}

struct lookup {
    const struct apid_conf *c;
    const char *value; /* the lookup value, unescaped */
    struct apid_dirperson *p;
    int entries;
};

/* The cn of a group DN's first RDN (a memberOf value); NULL if it has
 * none, or does not lie under ldap_group_base (required with memberOf:
 * a group of that name anywhere else is not the group; doc/design.md,
 * S20). */
static char *
group_name(const struct apid_conf *c, const char *dnstr)
{
    LDAPDN dn = NULL;
    char *name = NULL;

    if (!apid_ldap_dn_under(dnstr, c->ldap_group_base))
        return NULL;
    if (ldap_str2dn(dnstr, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return NULL;
    if (dn != NULL && dn[0] != NULL && dn[0][0] != NULL && dn[0][1] == NULL
        && dn[0][0]->la_attr.bv_len == 2
        && strncasecmp(dn[0][0]->la_attr.bv_val, "cn", 2) == 0
        && memchr(dn[0][0]->la_value.bv_val, '\0',
                  dn[0][0]->la_value.bv_len) == NULL)
        name = strndup(dn[0][0]->la_value.bv_val, dn[0][0]->la_value.bv_len);
    ldap_dnfree(dn);
    return name;
}

static int
person_entry(LDAP *ld, LDAPMessage *e, void *arg, char *err, size_t errlen)
{
    struct lookup *lk = arg;
    struct apid_dirperson *p = lk->p;
    struct berval **v;
    char *dn;

    if (++lk->entries > 1) {
        snprintf(err, errlen, "two directory entries for %s=%s under %s: a"
                 " person is one entry", lk->c->ldap_person_attr
                 ? lk->c->ldap_person_attr : "uid", lk->value,
                 lk->c->ldap_people_base);
        return APID_LDAP_ERR;
    }
    if ((dn = ldap_get_dn(ld, e)) == NULL
        || (p->dn = strdup(dn)) == NULL) {
        ldap_memfree(dn);
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    ldap_memfree(dn);
    p->found = 1;
    p->disabled = disabled_by(ld, e);
    p->uid = apid_ldap_first_value(ld, e, "uid");
    p->display_name = apid_ldap_first_value(ld, e, "displayName");
    if (p->display_name == NULL)
        p->display_name = apid_ldap_first_value(ld, e, "cn");
    p->mail = apid_ldap_first_value(ld, e, "mail");
    v = ldap_get_values_len(ld, e, "sshPublicKey");
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (memchr(v[i]->bv_val, '\0', v[i]->bv_len) == NULL
            && push(&p->keys, &p->n_keys, v[i]->bv_val, v[i]->bv_len) != 0)
            break;
    ldap_value_free_len(v);
    if (lk->c->ldap_group_member == APID_LDAP_MEMBER_OF) {
        v = ldap_get_values_len(ld, e, "memberOf");
        for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
            char *s = strndup(v[i]->bv_val, v[i]->bv_len), *g;

            g = s != NULL && strlen(s) == v[i]->bv_len ? group_name(lk->c, s)
                                                       : NULL;
            int full = g != NULL
                       && push(&p->groups, &p->n_groups, g, strlen(g)) != 0;

            free(g);
            free(s);
            if (full)
                break; /* out of memory: the groups so far */
        }
        ldap_value_free_len(v);
    }
    return 0;
}

static int
group_entry(LDAP *ld, LDAPMessage *e, void *arg, char *err, size_t errlen)
{
    struct lookup *lk = arg;
    char *cn = apid_ldap_first_value(ld, e, "cn");

    (void) err;
    (void) errlen;
    if (cn != NULL)
        push(&lk->p->groups, &lk->p->n_groups, cn, strlen(cn));
    free(cn);
    return 0;
}

static int
lookup_fn(LDAP *ld, void *arg, char *err, size_t errlen)
{
    struct lookup *lk = arg;
    const struct apid_conf *c = lk->c;
    static const char *const attrs[] = { "uid", "cn", "displayName", "mail",
                                   "sshPublicKey", "nsAccountLock",
                                   "pwdAccountLockedTime",
                                   "userAccountControl", "memberOf", NULL };
    static const char *const gattrs[] = { "cn", NULL };
    char *ev = NULL, *filter = NULL, *gv = NULL;
    const char *mv;
    size_t flen;
    int ret;

    /* Repeatable (apid_ldap_run may call us twice): start afresh. */
    apid_dirperson_free(lk->p);
    lk->entries = 0;
    ret = APID_LDAP_ERR;
    snprintf(err, errlen, "out of memory"); /* until a search says more */
    if ((ev = apid_ldap_filter_escape(lk->value, strlen(lk->value))) == NULL)
        goto done;
    flen = strlen(ev) + 200
           + (c->ldap_person_filter ? strlen(c->ldap_person_filter) : 0);
    if ((filter = malloc(flen)) == NULL)
        goto done;
    snprintf(filter, flen, "(&(%s=%s)%s)",
             c->ldap_person_attr ? c->ldap_person_attr : "uid", ev,
             c->ldap_person_filter ? c->ldap_person_filter : "");
    ret = apid_ldap_search(ld, c->ldap_people_base, LDAP_SCOPE_SUBTREE, filter,
                           (char *const *) attrs, person_entry, lk, err, errlen);
    if (ret != APID_LDAP_OK || !lk->p->found
        || c->ldap_group_member == APID_LDAP_MEMBER_OF)
        goto done;
    /* The groups that name the person: by DN (member), or by uid
     * (memberUid; a person without a uid is in no such group). */
    mv = c->ldap_group_member == APID_LDAP_MEMBER_DN ? lk->p->dn : lk->p->uid;
    if (mv == NULL)
        goto done;
    free(filter);
    filter = NULL;
    if ((gv = apid_ldap_filter_escape(mv, strlen(mv))) == NULL
        || (filter = malloc(strlen(gv) + 32)) == NULL) {
        snprintf(err, errlen, "out of memory");
        ret = APID_LDAP_ERR;
        goto done;
    }
    snprintf(filter, strlen(gv) + 32, "(%s=%s)",
             c->ldap_group_member == APID_LDAP_MEMBER_DN ? "member"
                                                         : "memberUid", gv);
    ret = apid_ldap_search(ld, c->ldap_group_base, LDAP_SCOPE_SUBTREE, filter,
                           (char *const *) gattrs, group_entry, lk, err, errlen);

done:
    free(ev);
    free(gv);
    free(filter);
    return ret;
}

int
apid_dir_person(struct apid_ldap *l, const struct apid_conf *c,
                 const char *person, struct apid_dirperson *out, char *err,
                 size_t errlen)
{
    struct lookup lk = { c, NULL, out, 0 };
    char *value = apid_dir_lookup_value(c, person);
    int ret;

    memset(out, 0, sizeof(*out));
    if (value == NULL)
        return APID_LDAP_OK; /* another realm's: no entry of ours */
    lk.value = value;
    ret = apid_ldap_run(l, lookup_fn, &lk, err, errlen);
    if (ret == APID_LDAP_OK && out->n_groups > 1)
        qsort(out->groups, out->n_groups, sizeof(char *), by_str);
    if (ret != APID_LDAP_OK)
        apid_dirperson_free(out);
    free(value);
    return ret;
}

int
apid_dir_listed(char *const *list, size_t n, const char *person,
                const struct apid_dirperson *p)
{
    for (size_t i = 0; i < n; i++) {
        if (strncmp(list[i], "group:", 6) != 0) {
            if (strcmp(list[i], person) == 0)
                return 1;
            continue;
        }
        if (p == NULL || !p->found || p->disabled)
            continue;
        for (size_t k = 0; k < p->n_groups; k++)
            if (strcasecmp(p->groups[k], list[i] + 6) == 0)
                return 1;
    }
    return 0;
}

struct group_mail {
    const struct apid_conf *c;
    const char *group;
    char **vals; /* member DNs, memberUid values, or the group's DN */
    size_t n;
    char *out;
    size_t len;
};

/* A group entry: its members (member, memberUid), or, for memberOf, its
 * own DN. */
static int
group_members(LDAP *ld, LDAPMessage *e, void *arg, char *err, size_t errlen)
{
    struct group_mail *gm = arg;
    const char *attr = gm->c->ldap_group_member == APID_LDAP_MEMBER_DN
                           ? "member"
                           : "memberUid";
    struct berval **v;

    (void) err;
    (void) errlen;
    if (gm->c->ldap_group_member == APID_LDAP_MEMBER_OF) {
        char *dn = ldap_get_dn(ld, e);

        if (dn != NULL)
            push(&gm->vals, &gm->n, dn, strlen(dn));
        ldap_memfree(dn);
        return 0;
    }
    v = ldap_get_values_len(ld, e, attr);
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (memchr(v[i]->bv_val, '\0', v[i]->bv_len) == NULL)
            push(&gm->vals, &gm->n, v[i]->bv_val, v[i]->bv_len);
    ldap_value_free_len(v);
    return 0;
}

/* A member's entry: its mail, unless the directory disables it. */
static int
member_mail(LDAP *ld, LDAPMessage *e, void *arg, char *err, size_t errlen)
{
    struct group_mail *gm = arg;
    char *mail = apid_ldap_first_value(ld, e, "mail"), *o;

    (void) err;
    (void) errlen;
    if (mail != NULL && disabled_by(ld, e) == NULL
        && strchr(mail, '\n') == NULL
        && (o = realloc(gm->out, gm->len + strlen(mail) + 2)) != NULL) {
        gm->out = o;
        gm->len += (size_t) sprintf(o + gm->len, "%s\n", mail);
    }
    free(mail);
    return 0;
}

static int
group_mail_fn(LDAP *ld, void *arg, char *err, size_t errlen)
{
    static const char *const gattrs[] = { "member", "memberUid", NULL };
    static const char *const pattrs[] = { "mail", "nsAccountLock",
                                          "pwdAccountLockedTime",
                                          "userAccountControl", NULL };
    struct group_mail *gm = arg;
    const struct apid_conf *c = gm->c;
    char *ev = apid_ldap_filter_escape(gm->group, strlen(gm->group));
    char *filter = NULL;
    int ret = APID_LDAP_ERR;

    for (size_t i = 0; i < gm->n; i++)
        free(gm->vals[i]);
    free(gm->vals);
    gm->vals = NULL;
    gm->n = 0;
    free(gm->out);
    gm->out = strdup("");
    gm->len = 0;
    if (ev == NULL || gm->out == NULL
        || asprintf(&filter, "(cn=%s)", ev) < 0) {
        filter = NULL;
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    ret = apid_ldap_search(ld, c->ldap_group_base ? c->ldap_group_base
                                                  : c->ldap_people_base,
                           LDAP_SCOPE_SUBTREE, filter,
                           (char *const *) gattrs, group_members, gm, err,
                           errlen);
    /* Each member by its own search: one that fails stops no other. */
    for (size_t i = 0; ret == APID_LDAP_OK && i < gm->n; i++) {
        char *v = apid_ldap_filter_escape(gm->vals[i], strlen(gm->vals[i]));
        const char *base = c->ldap_people_base;
        int scope = LDAP_SCOPE_SUBTREE;

        free(filter);
        filter = NULL;
        if (v == NULL)
            break;
        if (c->ldap_group_member == APID_LDAP_MEMBER_DN) {
            base = gm->vals[i];
            scope = LDAP_SCOPE_BASE;
            ret = asprintf(&filter, "(objectClass=*)");
        } else if (c->ldap_group_member == APID_LDAP_MEMBER_UID) {
            ret = asprintf(&filter, "(uid=%s)", v);
        } else {
            ret = asprintf(&filter, "(memberOf=%s)", v);
        }
        free(v);
        if (ret < 0) {
            filter = NULL;
            ret = APID_LDAP_ERR;
            snprintf(err, errlen, "out of memory");
            break;
        }
        ret = apid_ldap_search(ld, base, scope, filter,
                               (char *const *) pattrs, member_mail, gm, err,
                               errlen);
        if (ret == APID_LDAP_ERR) /* a member gone meanwhile */
            ret = APID_LDAP_OK;
    }
done:
    free(ev);
    free(filter);
    return ret;
}

char *
apid_dir_group_mail(struct apid_ldap *l, const struct apid_conf *c,
                    const char *group, char *err, size_t errlen)
{
    struct group_mail gm = { c, group, NULL, 0, NULL, 0 };
    int ret = apid_ldap_run(l, group_mail_fn, &gm, err, errlen);

    for (size_t i = 0; i < gm.n; i++)
        free(gm.vals[i]);
    free(gm.vals);
    if (ret != APID_LDAP_OK) {
        free(gm.out);
        return NULL;
    }
    return gm.out;
}

static int
ping_entry(LDAP *ld, LDAPMessage *e, void *arg, char *err, size_t errlen)
{
    (void) ld;
    (void) e;
    (void) err;
    (void) errlen;
    (*(int *) arg)++;
    return 0;
}

struct ping {
    const char *base;
    int n;
};

static int
ping_fn(LDAP *ld, void *arg, char *err, size_t errlen)
{
    static const char *const attrs[] = { "1.1", NULL };
    struct ping *pg = arg;

    pg->n = 0;
    return apid_ldap_search(ld, pg->base, LDAP_SCOPE_BASE, "(objectClass=*)",
                            (char *const *) attrs, ping_entry, &pg->n, err, errlen);
}

int
apid_dir_ping(struct apid_ldap *l, const struct apid_conf *c, char *err,
              size_t errlen)
{
    struct ping pg = { c->ldap_people_base ? c->ldap_people_base : "", 0 };
    int ret = apid_ldap_run(l, ping_fn, &pg, err, errlen);

    if (ret == APID_LDAP_OK && pg.n == 0) {
        snprintf(err, errlen, "ldap_people_base %s: no such entry, or not"
                 " readable by the bind DN", pg.base);
        return APID_LDAP_ERR;
    }
    return ret;
}

/* Whether the people file names person (in both, they need no entry). */
static int
in_file(struct apid *a, const char *person)
{
    int r;

    pthread_rwlock_rdlock(&a->lock);
    r = apid_auth_person_named(&a->auth, person) != NULL;
    pthread_rwlock_unlock(&a->lock);
    return r;
}

/* Revoke person's grants of status st (active or pending) in v. */
static int
revoke_all(struct apid *a, struct apid_grant *v, size_t n, const char *person,
           const char *why)
{
    int revoked = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].requester, person) != 0
            || (strcmp(v[i].status, "active") != 0
                && strcmp(v[i].status, "pending") != 0))
            continue;
        if (apid_store_grant_transition(a->store, v[i].id, "active,pending",
                                        "revoked", CHECK_ACTOR, why,
                                        apid_now()) == APID_OK) {
            fprintf(stderr, "jit-apid: directory-check: revoked grant %s of"
                    " %s: %s\n", v[i].id, person, why);
            revoked++;
        }
    }
    return revoked;
}

void
apid_dircheck_free(struct apid_dircheck *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].person);
    free(st->v);
    st->v = NULL;
    st->n = 0;
}

/* One more failed lookup of person, into the round's table next: the
 * rounds in a row it makes (those of prev, plus this one); 0 when there
 * is no memory, which counts as the bound reached (fail closed). */
static unsigned
count_error(const struct apid_dircheck *prev, struct apid_dircheck *next,
            const char *person)
{
    struct apid_dircheck_err *nv;
    unsigned rounds = 1;

    for (size_t i = 0; i < prev->n; i++)
        if (strcmp(prev->v[i].person, person) == 0)
            rounds = prev->v[i].rounds + 1;
    if ((nv = realloc(next->v, (next->n + 1) * sizeof(*nv))) == NULL)
        return 0;
    next->v = nv;
    if ((nv[next->n].person = strdup(person)) == NULL)
        return 0;
    nv[next->n++].rounds = rounds;
    return rounds;
}

int
apid_dir_check_once(struct apid *a, struct apid_ldap *l,
                    struct apid_dircheck *st, char *err, size_t errlen)
{
    static const char *const statuses[] = { "active", "pending" };
    struct apid_dircheck next = { NULL, 0 };
    struct apid_grant *v = NULL;
    size_t n = 0;
    int revoked = 0, ret = 0;

    for (int s = 0; s < 2 && ret == 0; s++) {
        struct apid_grant_filter f = { .status = statuses[s] };
        struct apid_grant *w = NULL;
        size_t m = 0;

        if (apid_store_grant_list(a->store, &f, MAX_GRANTS, &w, &m,
                                  apid_now()) != APID_OK) {
            snprintf(err, errlen, "store: %s", apid_store_error(a->store));
            ret = -1;
            break;
        }
        if (m == 0) { /* memcpy and realloc take no empty vector */
            free(w);
            continue;
        }
        /* Appended: the one vector is freed below. */
        struct apid_grant *nv = realloc(v, (n + m) * sizeof(*v));

        if (nv == NULL) {
            for (size_t i = 0; i < m; i++)
                apid_grant_free(&w[i]);
            free(w);
            snprintf(err, errlen, "out of memory");
            ret = -1;
            break;
        }
        v = nv;
        memcpy(v + n, w, m * sizeof(*v));
        n += m;
        free(w);
    }
    for (size_t i = 0; ret == 0 && i < n; i++) {
        struct apid_dirperson p;
        char why[300];
        int seen = 0, r;

        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(v[k].requester, v[i].requester) == 0;
        if (seen)
            continue;
        r = apid_dir_person(l, &a->conf, v[i].requester, &p, err, errlen);
        if (r == APID_LDAP_DOWN) {
            ret = -1; /* the next round asks again */
            break;
        }
        if (r != APID_LDAP_OK) {
            /* One person's error (two entries) stops no one else's check;
             * an error is not "fine" either: counted, and the bound of
             * rounds in a row reached, their grants go (fail closed). */
            unsigned k = count_error(st, &next, v[i].requester);

            fprintf(stderr, "jit-apid: directory-check: %s: %s (error %u of"
                    " %d in a row)\n", v[i].requester, err,
                    k ? k : APID_DIR_CHECK_ERRORS, APID_DIR_CHECK_ERRORS);
            if (k != 0 && k < APID_DIR_CHECK_ERRORS)
                continue;
            snprintf(why, sizeof(why), "the directory answered the lookup"
                     " with an error %d rounds in a row: %s",
                     APID_DIR_CHECK_ERRORS, err);
            revoked += revoke_all(a, v + i, n - i, v[i].requester, why);
            continue;
        }
        if (p.found && p.disabled)
            snprintf(why, sizeof(why), "disabled in the directory (%s)",
                     p.disabled);
        else if (!p.found && !(a->conf.people_source == APID_PEOPLE_BOTH
                               && in_file(a, v[i].requester)))
            snprintf(why, sizeof(why), "not in the directory");
        else
            why[0] = '\0';
        if (why[0] != '\0')
            revoked += revoke_all(a, v + i, n - i, v[i].requester, why);
        apid_dirperson_free(&p);
    }
    for (size_t i = 0; i < n; i++)
        apid_grant_free(&v[i]);
    free(v);
    /* A round the directory did not answer counts for no one: the
     * tally stays as it was.  Else it is this round's: a person whose
     * lookup worked, or who has no grants left, starts again at 0. */
    if (ret == 0) {
        apid_dircheck_free(st);
        *st = next;
    } else {
        apid_dircheck_free(&next);
    }
    if (revoked > 0)
        apid_changed(a);
    return ret == 0 ? revoked : -1;
}

void *
apid_dir_check_worker(void *arg)
{
    struct apid *a = arg;
    struct apid_ldap *l;
    char err[512];
    struct timespec next, now;
    struct apid_dircheck st = { NULL, 0 };
    int down = 0;

    /* A handle of its own: the check never waits behind requests. */
    if ((l = apid_ldap_open(&a->conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "jit-apid: directory-check: %s\n", err);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!a->stopping) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec < next.tv_sec
            || (now.tv_sec == next.tv_sec && now.tv_nsec < next.tv_nsec)) {
            apid_nap(a);
            continue;
        }
        if (apid_dir_check_once(a, l, &st, err, sizeof(err)) < 0) {
            if (!down)
                fprintf(stderr, "jit-apid: directory-check: %s; retrying\n",
                        err);
            down = 1;
        } else {
            if (down)
                fprintf(stderr, "jit-apid: directory-check: the directory"
                        " answers again\n");
            down = 0;
        }
        /* From the round's start: the bound is the interval, however
         * long a round took. */
        next = now;
        next.tv_sec += (time_t) a->conf.ldap_check_interval;
    }
    apid_dircheck_free(&st);
    apid_ldap_close(l);
    return NULL;
}
