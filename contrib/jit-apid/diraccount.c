/* SPDX-License-Identifier: MIT */
/* Directory-sourced JIT accounts (diraccount.h). */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "api.h"
#include "core/validate.h"
#include "diraccount.h"
#include "ldap.h"

/* Teardowns are claimed one at a time: each claim's lease need then
 * cover one teardown only (apid_diracct_lease). */
#define CLAIM_MAX 1
/* A job's operations besides its groups, each bounded by ldap_timeout:
 * connect, StartTLS, bind; the entry read, the search by uuid, the read
 * again; five tries of the uidNumber search, the add, the search for a
 * clash and the delete (create_account), and the add's read; the
 * password; the lock or unlock. */
#define JOB_OPS 30
/* What a lease adds for the store's own writes. */
#define LEASE_MARGIN_S 30
/* "Locked for good" to the ppolicy overlay (slapo-ppolicy(5)). */
#define LOCKED_FOR_GOOD "000001010000Z"
/* Active Directory's userAccountControl: ACCOUNTDISABLE, NORMAL_ACCOUNT. */
#define UAC_DISABLED 0x2
#define UAC_NORMAL 0x200
#define STEPS_MAX 40
/* The longest entry uuid kept: entryUUID's 36 characters, objectGUID's
 * 16 bytes as 32 hex digits. */
#define APID_DIR_UUID_MAX 48
/* libldap's structures take char *, and never write through it. */
#define W(s) ((char *) (s))

/* ---- configuration ---- */

int
apid_diracct_conf_key(struct apid_conf *c, const char *key, const char *v,
                      const char *path, int lineno, char *err, size_t errlen)
{
    uint32_t lo, hi;

    if (strcmp(key, "ldap_accounts_base") == 0) {
        /* A DN is the administrator's, checked by the directory; only
         * what would break a line of ours is refused here. */
        if (v[0] == '\0' || strlen(v) > 1024 || strchr(v, '=') == NULL
            || !apid_plain_text(v, 1024))
            return apid_bad(err, errlen, "%s:%d: ldap_accounts_base: a DN,"
                            " such as ou=jit,dc=example,dc=com", path,
                            lineno);
        free(c->ldap_accounts_base);
        return (c->ldap_accounts_base = strdup(v)) ? 0 : -ENOMEM;
    }
    if (strcmp(key, "ldap_account_kind") == 0) {
        if (strcmp(v, "posix") == 0)
            c->ldap_account_kind = APID_ACCOUNT_POSIX;
        else if (strcmp(v, "ad") == 0)
            c->ldap_account_kind = APID_ACCOUNT_AD;
        else
            return apid_bad(err, errlen, "%s:%d: ldap_account_kind: posix or"
                            " ad", path, lineno);
        return 0;
    }
    if (strcmp(key, "ldap_uid_range") == 0) {
        const char *dash = strchr(v, '-');
        char low[16];

        if (dash == NULL || (size_t) (dash - v) >= sizeof(low))
            goto bad_range;
        snprintf(low, sizeof(low), "%.*s", (int) (dash - v), v);
        /* Ids below 1000 are the system's; a range is at most a million
         * (the allocation keeps one bit per id). */
        if (jit_parse_u32(low, 1000, 4294967294u, &lo) != 0
            || jit_parse_u32(dash + 1, 1000, 4294967294u, &hi) != 0
            || hi < lo || hi - lo >= 1000000)
            goto bad_range;
        c->ldap_uid_min = lo;
        c->ldap_uid_max = hi;
        return 0;
    bad_range:
        return apid_bad(err, errlen, "%s:%d: ldap_uid_range: LOW-HIGH,"
                        " 1000..4294967294, at most 1000000 ids", path,
                        lineno);
    }
    if (strcmp(key, "ldap_account_gid") == 0) {
        if (jit_parse_u32(v, 1, 4294967294u, &lo) != 0)
            return apid_bad(err, errlen, "%s:%d: ldap_account_gid: a group"
                            " id, 1..4294967294", path, lineno);
        c->ldap_account_gid = lo;
        return 0;
    }
    if (strcmp(key, "ldap_retry_seconds") == 0) {
        const char *dash = strchr(v, '-');
        char low[16];

        if (dash == NULL || (size_t) (dash - v) >= sizeof(low))
            goto bad_retry;
        snprintf(low, sizeof(low), "%.*s", (int) (dash - v), v);
        if (jit_parse_u32(low, 1, 86400, &lo) != 0
            || jit_parse_u32(dash + 1, 1, 86400, &hi) != 0 || hi < lo)
            goto bad_retry;
        c->ldap_retry_min = lo;
        c->ldap_retry_max = hi;
        return 0;
    bad_retry:
        return apid_bad(err, errlen, "%s:%d: ldap_retry_seconds: MIN-MAX,"
                        " 1..86400 (the first retry's wait, doubling up to"
                        " the longest)", path, lineno);
    }
    return 1;
}

int
apid_diracct_conf_check(struct apid_conf *c, const char *path, char *err,
                        size_t errlen)
{
    if (c->ldap_retry_min == 0) {
        /* Defaults: 30 s, doubling to an hour. */
        c->ldap_retry_min = 30;
        c->ldap_retry_max = 3600;
    }
    if (c->ldap_accounts_base == NULL)
        return 0;
    if (c->ldap_uri == NULL)
        return apid_bad(err, errlen, "%s: ldap_accounts_base needs the"
                        " directory (ldap_uri)", path);
    if (c->ldap_group_base == NULL)
        return apid_bad(err, errlen, "%s: ldap_accounts_base needs"
                        " ldap_group_base (the accounts' groups are named"
                        " under it)", path);
    /* An account found as a person would request and approve under its
     * own name (doc/design.md, S22). */
    if (c->ldap_people_base != NULL
        && apid_ldap_dn_within(c->ldap_accounts_base, c->ldap_people_base))
        return apid_bad(err, errlen, "%s: ldap_accounts_base (%s) is inside"
                        " ldap_people_base (%s): the accounts would be"
                        " people; put them beside it", path,
                        c->ldap_accounts_base, c->ldap_people_base);
    if (c->ldap_account_kind == APID_ACCOUNT_POSIX && c->ldap_uid_min == 0)
        return apid_bad(err, errlen, "%s: ldap_account_kind = posix needs"
                        " ldap_uid_range", path);
    return 0;
}

void
apid_diracct_conf_free(struct apid_conf *c)
{
    free(c->ldap_accounts_base);
    c->ldap_accounts_base = NULL;
}

/* ---- passwords ---- */

int
apid_diracct_make_password(char *pw, size_t len)
{
    static const char alphabet[65] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[APID_DIR_PASSWORD_MAX];
    size_t n = len - 1;
    int ret = -1;

    if (len < 17 || len > sizeof(r))
        return -1;
    /* 64 symbols: a byte's low six bits are uniform.  Active Directory's
     * complexity rule wants three kinds of character: a draw without
     * upper, lower and digit is drawn again (rare: 24 characters). */
    for (int tries = 0; tries < 100; tries++) {
        int up = 0, lo = 0, dg = 0;

        if (getrandom(r, n, 0) != (ssize_t) n)
            goto done;
        for (size_t i = 0; i < n; i++) {
            pw[i] = alphabet[r[i] & 63];
            up |= pw[i] >= 'A' && pw[i] <= 'Z';
            lo |= pw[i] >= 'a' && pw[i] <= 'z';
            dg |= pw[i] >= '0' && pw[i] <= '9';
        }
        pw[n] = '\0';
        if (up && lo && dg) {
            ret = 0;
            break;
        }
    }

done:
    explicit_bzero(r, sizeof(r));
    if (ret != 0)
        explicit_bzero(pw, len);
    return ret;
}

/* ---- the directory's side ---- */

struct step {
    char action[32];
    char detail[400];
};

enum job_kind { JOB_ENABLE, JOB_PASSWORD, JOB_TEARDOWN };

struct job {
    const struct apid_conf *c;
    const struct apid_grant *g;
    enum job_kind kind;
    const char *pw; /* the new password */
    struct step steps[STEPS_MAX];
    size_t n_steps;
    char *dn;
    /* uidNumber allocation: one bit per id of the range. */
    unsigned char *used;
    /* A teardown's first failure, kept while it tries the other steps. */
    char why[512];
    /* An enable's other groups: those of the directory policies that
     * this grant does not give. */
    char **others;
    size_t n_others;
    /* The entry's uuid as recorded (store.h; "" for none), as read from
     * the entry (""), and to be recorded after the job (""). */
    char want_uuid[APID_DIR_UUID_MAX];
    char seen_uuid[APID_DIR_UUID_MAX];
    char new_uuid[APID_DIR_UUID_MAX];
};

static void
step(struct job *j, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
step(struct job *j, const char *action, const char *fmt, ...)
{
    va_list ap;

    if (j->n_steps == STEPS_MAX)
        return;
    snprintf(j->steps[j->n_steps].action, sizeof(j->steps[0].action), "%s",
             action);
    va_start(ap, fmt);
    vsnprintf(j->steps[j->n_steps].detail, sizeof(j->steps[0].detail), fmt,
              ap);
    va_end(ap);
    j->n_steps++;
}

/* The account's DN: uid=NAME (posix) or cn=NAME (Active Directory) under
 * ldap_accounts_base, the name escaped (doc/design.md, R14). */
static char *
account_dn(const struct apid_conf *c, const char *name)
{
    char *esc = apid_ldap_dn_escape(name, strlen(name)), *dn = NULL;

    if (esc != NULL
        && asprintf(&dn, "%s=%s,%s",
                    c->ldap_account_kind == APID_ACCOUNT_AD ? "cn" : "uid",
                    esc, c->ldap_accounts_base) < 0)
        dn = NULL;
    free(esc);
    return dn;
}

static char *
group_dn(const struct apid_conf *c, const char *name)
{
    char *esc = apid_ldap_dn_escape(name, strlen(name)), *dn = NULL;

    if (esc != NULL
        && asprintf(&dn, "cn=%s,%s", esc, c->ldap_group_base) < 0)
        dn = NULL;
    free(esc);
    return dn;
}

/* The mark an account of ours carries in its description: whose it is.
 * An entry of that DN without it is not ours to enable, lock or give a
 * password (an administrator's account, or a name taken by hand). */
static void
mark(const struct apid_grant *g, char *out, size_t len)
{
    snprintf(out, len, "pam-jit directory account of %s", g->requester);
}

/* The entry's identity, which its holder cannot change (doc/design.md,
 * S19): entryUUID (RFC 4530), or Active Directory's objectGUID as hex,
 * into out ("" when it has none). */
static void
entry_uuid(LDAP *ld, LDAPMessage *e, const struct job *j, char *out,
           size_t len)
{
    struct berval **v;

    out[0] = '\0';
    if (j->c->ldap_account_kind != APID_ACCOUNT_AD) {
        char *u = apid_ldap_first_value(ld, e, "entryUUID");

        if (u != NULL && strlen(u) < len)
            snprintf(out, len, "%s", u);
        free(u);
        return;
    }
    v = ldap_get_values_len(ld, e, "objectGUID");
    if (v != NULL && v[0] != NULL && v[0]->bv_len * 2 < len)
        for (size_t i = 0; i < v[0]->bv_len; i++)
            snprintf(out + 2 * i, len - 2 * i, "%02x",
                     (unsigned char) v[0]->bv_val[i]);
    ldap_value_free_len(v);
}

/* Read the account's entry: 1 (ours, *uac its userAccountControl or
 * -1), 2 (there, and not ours), 0 (no such entry), or an APID_LDAP_*
 * error (negative); j->seen_uuid its uuid. */
static int
read_account(LDAP *ld, struct job *j, long *uac, char *err, size_t errlen)
{
    char *attrs[] = { W("userAccountControl"), W("description"),
                      W("entryUUID"), W("objectGUID"), NULL };
    struct berval **d;
    char want[400];
    int ours = 0;
    struct timeval tv = apid_ldap_timeout(ld);
    LDAPMessage *res = NULL, *e;
    char *v;
    int rc;

    *uac = -1;
    j->seen_uuid[0] = '\0';
    rc = ldap_search_ext_s(ld, j->dn, LDAP_SCOPE_BASE, "(objectClass=*)",
                           attrs, 0, NULL, NULL, &tv, 1, &res);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        ldap_msgfree(res);
        return 0;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_msgfree(res);
        rc = apid_ldap_result(ld, rc, "reading the account", err, errlen);
        return rc == APID_LDAP_OK ? APID_LDAP_ERR : rc;
    }
    if ((e = ldap_first_entry(ld, res)) == NULL) {
        ldap_msgfree(res);
        return 0;
    }
    if ((v = apid_ldap_first_value(ld, e, "userAccountControl")) != NULL) {
        *uac = strtol(v, NULL, 10);
        free(v);
    }
    entry_uuid(ld, e, j, j->seen_uuid, sizeof(j->seen_uuid));
    mark(j->g, want, sizeof(want));
    d = ldap_get_values_len(ld, e, "description");
    for (size_t i = 0; d != NULL && d[i] != NULL && !ours; i++)
        ours = d[i]->bv_len == strlen(want)
               && memcmp(d[i]->bv_val, want, d[i]->bv_len) == 0;
    ldap_value_free_len(d);
    ldap_msgfree(res);
    return ours ? 1 : 2;
}

static int
note_dn(LDAP *ld, LDAPMessage *entry, void *arg, char *err, size_t errlen)
{
    char **dn = arg, *d;

    if (*dn != NULL) {
        snprintf(err, errlen, "two entries of one entryUUID");
        return APID_LDAP_ERR;
    }
    if ((d = ldap_get_dn(ld, entry)) == NULL
        || (*dn = strdup(d)) == NULL) {
        ldap_memfree(d);
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    ldap_memfree(d);
    return 0;
}

/* The entry of the recorded uuid under ldap_accounts_base, wherever it
 * is now (renamed, moved): 1 (into *dn, a new string), 0 (none), or an
 * APID_LDAP_* error. */
static int
find_by_uuid(LDAP *ld, struct job *j, char **dn, char *err, size_t errlen)
{
    char *attrs[] = { W("1.1"), NULL };
    char filter[2 * APID_DIR_UUID_MAX + 64], *esc = NULL;
    int rc;

    *dn = NULL;
    if (j->c->ldap_account_kind == APID_ACCOUNT_AD) {
        /* objectGUID is binary: each byte of the hex as \XX. */
        size_t n = strlen(j->want_uuid), k;

        k = (size_t) snprintf(filter, sizeof(filter), "(objectGUID=");
        for (size_t i = 0; i + 1 < n && k + 4 < sizeof(filter); i += 2)
            k += (size_t) snprintf(filter + k, sizeof(filter) - k, "\\%.2s",
                                   j->want_uuid + i);
        snprintf(filter + k, sizeof(filter) - k, ")");
    } else {
        if ((esc = apid_ldap_filter_escape(j->want_uuid,
                                           strlen(j->want_uuid))) == NULL) {
            snprintf(err, errlen, "out of memory");
            return APID_LDAP_ERR;
        }
        snprintf(filter, sizeof(filter), "(entryUUID=%s)", esc);
        free(esc);
    }
    rc = apid_ldap_search(ld, j->c->ldap_accounts_base, LDAP_SCOPE_SUBTREE,
                          filter, attrs, note_dn, dn, err, errlen);
    if (rc != APID_LDAP_OK) {
        free(*dn);
        *dn = NULL;
        return rc;
    }
    return *dn != NULL;
}

static int
note_uid(LDAP *ld, LDAPMessage *entry, void *arg, char *err, size_t errlen)
{
    struct job *j = arg;
    char *v = apid_ldap_first_value(ld, entry, "uidNumber");
    uint32_t u;

    (void) err;
    (void) errlen;
    if (v != NULL && jit_parse_u32(v, 0, 4294967295u, &u) == 0
        && u >= j->c->ldap_uid_min && u <= j->c->ldap_uid_max) {
        uint32_t k = u - j->c->ldap_uid_min;

        j->used[k / 8] |= (unsigned char) (1u << (k % 8));
    }
    free(v);
    return 0;
}

/* The lowest uidNumber of ldap_uid_range that no entry under
 * ldap_accounts_base has. */
static int
free_uid(LDAP *ld, struct job *j, uint32_t *uid, char *err, size_t errlen)
{
    char *attrs[] = { W("uidNumber"), NULL };
    uint32_t span = j->c->ldap_uid_max - j->c->ldap_uid_min + 1;
    int rc;

    free(j->used);
    if ((j->used = calloc(span / 8 + 1, 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    rc = apid_ldap_search(ld, j->c->ldap_accounts_base, LDAP_SCOPE_SUBTREE,
                          "(uidNumber=*)", attrs, note_uid, j, err, errlen);
    if (rc != APID_LDAP_OK)
        return rc;
    for (uint32_t k = 0; k < span; k++)
        if (!(j->used[k / 8] & (1u << (k % 8)))) {
            *uid = j->c->ldap_uid_min + k;
            return APID_LDAP_OK;
        }
    snprintf(err, errlen, "ldap_uid_range %u-%u: every id is taken",
             j->c->ldap_uid_min, j->c->ldap_uid_max);
    return APID_LDAP_ERR;
}

static int
count_entry(LDAP *ld, LDAPMessage *entry, void *arg, char *err,
            size_t errlen)
{
    (void) ld;
    (void) entry;
    (void) err;
    (void) errlen;
    ++*(int *) arg;
    return 0;
}

/* add_account's answer when another entry took the uidNumber meanwhile
 * (its own entry deleted again): try the next. */
#define UID_CLASH 1
#define UID_TRIES 5

/* Whether uid is on more entries under ldap_accounts_base than the one
 * just made: the directory enforces no uniqueness of uidNumber, and
 * another instance may have chosen the same id between our search and
 * our add.  1 (a clash), 0, or an APID_LDAP_* error. */
static int
uid_clash(LDAP *ld, struct job *j, uint32_t uid, char *err, size_t errlen)
{
    char *attrs[] = { W("1.1"), NULL }, filter[40];
    int n = 0, rc;

    snprintf(filter, sizeof(filter), "(uidNumber=%u)", uid);
    rc = apid_ldap_search(ld, j->c->ldap_accounts_base, LDAP_SCOPE_SUBTREE,
                          filter, attrs, count_entry, &n, err, errlen);
    if (rc != APID_LDAP_OK)
        return rc;
    return n > 1;
}

static int
add_account(LDAP *ld, struct job *j, char *err, size_t errlen)
{
    const char *name = j->g->username;
    char uidn[16], gidn[16], home[300], desc[400];
    char *oc_posix[] = { W("top"), W("account"), W("posixAccount"), NULL };
    char *oc_ad[] = { W("top"), W("person"), W("organizationalPerson"),
                      W("user"), NULL };
    char *v_name[] = { (char *) name, NULL }, *v_uid[] = { uidn, NULL };
    char *v_gid[] = { gidn, NULL }, *v_home[] = { home, NULL };
    char *v_desc[] = { desc, NULL }, *v_uac[] = { NULL, NULL };
    char uac[16];
    LDAPMod m[8], *mods[9];
    size_t k = 0;
    uint32_t uid = 0;
    int rc;

    mark(j->g, desc, sizeof(desc));
    if (j->c->ldap_account_kind == APID_ACCOUNT_POSIX) {
        if ((rc = free_uid(ld, j, &uid, err, errlen)) != APID_LDAP_OK)
            return rc;
        snprintf(uidn, sizeof(uidn), "%u", uid);
        snprintf(gidn, sizeof(gidn), "%u",
                 j->c->ldap_account_gid ? j->c->ldap_account_gid : uid);
        snprintf(home, sizeof(home), "/home/%s", name);
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("objectClass"),
                             { .modv_strvals = oc_posix } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("uid"), { .modv_strvals = v_name } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("cn"), { .modv_strvals = v_name } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("uidNumber"),
                             { .modv_strvals = v_uid } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("gidNumber"),
                             { .modv_strvals = v_gid } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("homeDirectory"),
                             { .modv_strvals = v_home } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("description"),
                             { .modv_strvals = v_desc } };
    } else {
        /* Active Directory's limit on sAMAccountName. */
        if (strlen(name) > 20) {
            snprintf(err, errlen, "%s: longer than the 20 characters of an"
                     " Active Directory sAMAccountName", name);
            step(j, "directory.create", "dn=%s failed: %s", j->dn, err);
            return APID_LDAP_ERR;
        }
        /* Created disabled: it is enabled once it has its password. */
        snprintf(uac, sizeof(uac), "%d", UAC_NORMAL | UAC_DISABLED);
        v_uac[0] = uac;
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("objectClass"),
                             { .modv_strvals = oc_ad } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("cn"), { .modv_strvals = v_name } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("sAMAccountName"),
                             { .modv_strvals = v_name } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("userAccountControl"),
                             { .modv_strvals = v_uac } };
        m[k++] = (LDAPMod) { LDAP_MOD_ADD, W("description"),
                             { .modv_strvals = v_desc } };
    }
    for (size_t i = 0; i < k; i++)
        mods[i] = &m[i];
    mods[k] = NULL;
    rc = ldap_add_ext_s(ld, j->dn, mods, NULL, NULL);
    if (rc == LDAP_ALREADY_EXISTS) {
        long old_uac;
        int r;

        /* A repeat after a lost connection may find its own entry; one
         * made meanwhile by someone else (by hand, another instance for
         * another grant) is not taken as ours (doc/design.md, S19). */
        if ((r = read_account(ld, j, &old_uac, err, errlen)) < 0) {
            step(j, "directory.create", "dn=%s failed: %s", j->dn, err);
            return r;
        }
        if (r != 1) {
            snprintf(err, errlen, "the entry %s appeared while it was being"
                     " created and is not %s's pam-jit account: refused",
                     j->dn, j->g->requester);
            step(j, "directory.foreign", "dn=%s: made by another meanwhile,"
                 " left alone", j->dn);
            return APID_LDAP_ERR;
        }
        step(j, "directory.create", "dn=%s already there, ours", j->dn);
        return APID_LDAP_OK;
    }
    if ((rc = apid_ldap_result(ld, rc, "creating the account", err, errlen))
        != APID_LDAP_OK) {
        step(j, "directory.create", "dn=%s failed: %s", j->dn, err);
        return rc;
    }
    if (j->c->ldap_account_kind == APID_ACCOUNT_POSIX) {
        int clash = uid_clash(ld, j, uid, err, errlen);

        if (clash < 0) {
            step(j, "directory.create", "dn=%s uidNumber=%u: checking it is"
                 " its own failed: %s", j->dn, uid, err);
            return clash;
        }
        if (clash) {
            /* Ours, just made, with no password nor group yet: it goes,
             * and the next free id is tried.  The other side, seeing
             * both, may do the same: a random wait sets them apart. */
            rc = ldap_delete_ext_s(ld, j->dn, NULL, NULL);
            if ((rc = apid_ldap_result(ld, rc, "deleting the account made"
                                       " with a taken uidNumber", err,
                                       errlen)) != APID_LDAP_OK) {
                step(j, "directory.uid_clash", "dn=%s uidNumber=%u taken by"
                     " another entry; deleting ours failed: %s", j->dn, uid,
                     err);
                return rc;
            }
            step(j, "directory.uid_clash", "dn=%s uidNumber=%u taken by"
                 " another entry meanwhile: ours deleted, made again", j->dn,
                 uid);
            return UID_CLASH;
        }
        step(j, "directory.create", "dn=%s uidNumber=%u", j->dn, uid);
    } else {
        step(j, "directory.create", "dn=%s", j->dn);
    }
    return APID_LDAP_OK;
}

/* The account's entry made (doc/design.md, S24: a uidNumber of its own,
 * even with several instances). */
static int
create_account(LDAP *ld, struct job *j, char *err, size_t errlen)
{
    for (int tries = 0; tries < UID_TRIES; tries++) {
        unsigned char r;
        int rc = add_account(ld, j, err, errlen);

        if (rc != UID_CLASH)
            return rc;
        if (getrandom(&r, 1, 0) != 1)
            r = 128;
        nanosleep(&(struct timespec) { 0, (50 + r) * 1000 * 1000L }, NULL);
    }
    snprintf(err, errlen, "the account %s: every uidNumber tried was taken"
             " by another entry meanwhile (%d tries)", j->dn, UID_TRIES);
    return APID_LDAP_ERR;
}

/* The account's password: by the Password Modify operation (RFC 3062),
 * so that the server hashes it as it is configured to; Active
 * Directory's unicodePwd, quoted UTF-16LE, over the TLS it insists on. */
static int
set_password(LDAP *ld, struct job *j, const char *pw, char *err,
             size_t errlen)
{
    size_t n = strlen(pw);
    int rc;

    if (j->c->ldap_account_kind == APID_ACCOUNT_POSIX) {
        struct berval user = { strlen(j->dn), j->dn };
        struct berval nw = { n, (char *) pw }, gen = { 0, NULL };

        rc = ldap_passwd_s(ld, &user, NULL, &nw, &gen, NULL, NULL);
        if (gen.bv_val != NULL) {
            explicit_bzero(gen.bv_val, gen.bv_len);
            ber_memfree(gen.bv_val);
        }
    } else {
        char u16[2 * (APID_DIR_PASSWORD_MAX + 2)];
        struct berval bv = { 2 * (n + 2), u16 }, *vals[] = { &bv, NULL };
        LDAPMod m = { LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, W("unicodePwd"),
                      { .modv_bvals = vals } };
        LDAPMod *mods[] = { &m, NULL };

        if (n > APID_DIR_PASSWORD_MAX) {
            snprintf(err, errlen, "password too long");
            return APID_LDAP_ERR;
        }
        /* The password is ASCII: each character one UTF-16LE unit. */
        u16[0] = '"';
        u16[1] = 0;
        for (size_t i = 0; i < n; i++) {
            u16[2 * i + 2] = pw[i];
            u16[2 * i + 3] = 0;
        }
        u16[2 * n + 2] = '"';
        u16[2 * n + 3] = 0;
        rc = ldap_modify_ext_s(ld, j->dn, mods, NULL, NULL);
        explicit_bzero(u16, sizeof(u16));
    }
    if ((rc = apid_ldap_result(ld, rc, "setting the password", err, errlen))
        != APID_LDAP_OK) {
        step(j, "directory.password", "dn=%s failed: %s", j->dn, err);
        return rc;
    }
    step(j, "directory.password", "dn=%s", j->dn);
    return APID_LDAP_OK;
}

/* Locked (lock) or not: pwdAccountLockedTime of the ppolicy overlay, or
 * Active Directory's ACCOUNTDISABLE bit. */
static int
set_locked(LDAP *ld, struct job *j, int lock, long uac, char *err,
           size_t errlen)
{
    const char *action = lock ? "directory.lock" : "directory.unlock";
    char val[24], *vals[] = { val, NULL };
    LDAPMod m = { 0, NULL, { .modv_strvals = NULL } }, *mods[] = { &m, NULL };
    int rc;

    if (j->c->ldap_account_kind == APID_ACCOUNT_POSIX) {
        m.mod_type = W("pwdAccountLockedTime");
        if (lock) {
            snprintf(val, sizeof(val), "%s", LOCKED_FOR_GOOD);
            m.mod_op = LDAP_MOD_REPLACE;
            m.mod_vals.modv_strvals = vals;
        } else {
            m.mod_op = LDAP_MOD_DELETE;
        }
    } else {
        if (uac < 0)
            uac = UAC_NORMAL;
        snprintf(val, sizeof(val), "%ld",
                 lock ? (uac | UAC_DISABLED) : (uac & ~(long) UAC_DISABLED));
        m.mod_op = LDAP_MOD_REPLACE;
        m.mod_type = W("userAccountControl");
        m.mod_vals.modv_strvals = vals;
    }
    rc = ldap_modify_ext_s(ld, j->dn, mods, NULL, NULL);
    /* Unlocking an account that is not locked. */
    if (!lock && rc == LDAP_NO_SUCH_ATTRIBUTE)
        rc = LDAP_SUCCESS;
    if ((rc = apid_ldap_result(ld, rc, lock ? "locking the account"
                                            : "unlocking the account",
                               err, errlen)) != APID_LDAP_OK) {
        step(j, action, "dn=%s failed: %s", j->dn, err);
        return rc;
    }
    step(j, action, "dn=%s", j->dn);
    return APID_LDAP_OK;
}

/* The account into (add) or out of one of its groups: groupOfNames'
 * member (a DN; Active Directory's too) or posixGroup's memberUid. */
static int
set_member(LDAP *ld, struct job *j, const char *group, int add, int quiet,
           char *err, size_t errlen)
{
    const char *action = add ? "directory.group_add"
                             : "directory.group_remove";
    char *gdn = group_dn(j->c, group);
    int by_uid = j->c->ldap_group_member == APID_LDAP_MEMBER_UID;
    char *vals[] = { by_uid ? (char *) j->g->username : j->dn, NULL };
    LDAPMod m = { add ? LDAP_MOD_ADD : LDAP_MOD_DELETE,
                  W(by_uid ? "memberUid" : "member"),
                  { .modv_strvals = vals } };
    LDAPMod *mods[] = { &m, NULL };
    int rc;

    if (gdn == NULL) {
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    rc = ldap_modify_ext_s(ld, gdn, mods, NULL, NULL);
    /* Already a member, or already not one (a group that is gone has
     * no members): a repeat, or the administrator's hand. */
    if ((add && rc == LDAP_TYPE_OR_VALUE_EXISTS)
        || (!add && (rc == LDAP_NO_SUCH_ATTRIBUTE
                     || rc == LDAP_NO_SUCH_OBJECT))) {
        if (quiet) {
            free(gdn);
            return APID_LDAP_OK;
        }
        rc = LDAP_SUCCESS;
    }
    if ((rc = apid_ldap_result(ld, rc, add ? "adding to a group"
                                           : "removing from a group",
                               err, errlen)) != APID_LDAP_OK)
        step(j, action, "group=%s failed: %s", gdn, err);
    else
        step(j, action, "group=%s", gdn);
    free(gdn);
    return rc;
}

/* A teardown's removal of the DN j->dn (or the name) from the grant's
 * groups, whatever entry is there now: the memberships are the grant's,
 * and an entry put at the DN (or moved away from it) must not keep
 * them.  APID_LDAP_DOWN, or APID_LDAP_OK (failures are the caller's
 * disable_failed anyway). */
static int
drop_memberships(LDAP *ld, struct job *j, char *err, size_t errlen)
{
    for (size_t i = 0; i < j->g->n_groups; i++)
        if (set_member(ld, j, j->g->groups[i], 0, 1, err, errlen)
            == APID_LDAP_DOWN)
            return APID_LDAP_DOWN;
    return APID_LDAP_OK;
}

/* The whole of a job, from the start each time (apid_ldap_run repeats it
 * once after a lost connection: every step is safe to repeat). */
static int
run_job(LDAP *ld, void *arg, char *err, size_t errlen)
{
    struct job *j = arg;
    long uac = -1;
    int rc, there;
    /* Why a teardown that did its steps still ends disable_failed: the
     * entry is not where, or not marked as, it was made. */
    char astray[700] = "";

    j->n_steps = 0;
    j->new_uuid[0] = '\0';
    if ((there = read_account(ld, j, &uac, err, errlen)) < 0) {
        step(j, "directory.read", "dn=%s failed: %s", j->dn, err);
        return there;
    }
    /* The entry made for the account is known by its uuid, which its
     * holder cannot rewrite as it can its description (doc/design.md,
     * S19). */
    if (j->want_uuid[0] != '\0'
        && (there == 0 || strcasecmp(j->seen_uuid, j->want_uuid) != 0)) {
        char *moved = NULL;
        int f = find_by_uuid(ld, j, &moved, err, errlen);

        if (f < 0) {
            step(j, "directory.read", "uuid=%s failed: %s", j->want_uuid,
                 err);
            return f;
        }
        if (f == 1 && j->kind != JOB_TEARDOWN) {
            snprintf(err, errlen, "the account's entry (uuid %s) is now %s,"
                     " not %s: refused until an administrator puts it"
                     " back", j->want_uuid, moved, j->dn);
            step(j, "directory.astray", "dn=%s: uuid=%s is at %s", j->dn,
                 j->want_uuid, moved);
            free(moved);
            return APID_LDAP_ERR;
        }
        if (f == 1) {
            snprintf(astray, sizeof(astray), "the account's entry (uuid %s)"
                     " was moved to %s: torn down there; disable_failed"
                     " until an administrator puts it back", j->want_uuid,
                     moved);
            step(j, "directory.astray", "dn=%s: uuid=%s is at %s", j->dn,
                 j->want_uuid, moved);
            if (drop_memberships(ld, j, err, errlen) == APID_LDAP_DOWN) {
                free(moved);
                return APID_LDAP_DOWN;
            }
            free(j->dn);
            j->dn = moved;
            if ((there = read_account(ld, j, &uac, err, errlen)) < 0) {
                step(j, "directory.read", "dn=%s failed: %s", j->dn, err);
                return there;
            }
        } else if (there != 0) {
            snprintf(err, errlen, "the entry %s is not the one made for the"
                     " account (its uuid %s, recorded %s): %s", j->dn,
                     j->seen_uuid[0] ? j->seen_uuid : "none", j->want_uuid,
                     j->kind == JOB_TEARDOWN ? "left alone" : "refused");
            step(j, "directory.replaced", "dn=%s: uuid=%s, recorded %s; left"
                 " alone", j->dn, j->seen_uuid, j->want_uuid);
            if (j->kind == JOB_TEARDOWN) {
                char e2[256];

                /* Its password and lock are not ours; the DN's place in
                 * the grant's groups is. */
                if (drop_memberships(ld, j, e2, sizeof(e2))
                    == APID_LDAP_DOWN) {
                    snprintf(err, errlen, "%s", e2);
                    return APID_LDAP_DOWN;
                }
            }
            return APID_LDAP_ERR;
        }
    }
    /* The entry made for the account, its mark rewritten (by its holder,
     * who may write its own description): torn down all the same, and
     * not enabled again until the mark is back. */
    if (there == 2 && j->want_uuid[0] != '\0'
        && strcasecmp(j->seen_uuid, j->want_uuid) == 0) {
        step(j, "directory.mark_lost", "dn=%s uuid=%s: its description is no"
             " longer the pam-jit mark", j->dn, j->seen_uuid);
        if (j->kind != JOB_TEARDOWN) {
            snprintf(err, errlen, "the entry %s lost its pam-jit mark (its"
                     " description): refused until an administrator"
                     " restores it", j->dn);
            return APID_LDAP_ERR;
        }
        if (astray[0] == '\0')
            snprintf(astray, sizeof(astray), "the entry %s lost its pam-jit"
                     " mark (its description): torn down by its uuid;"
                     " disable_failed until an administrator restores the"
                     " mark", j->dn);
        there = 1;
    }
    if (there == 1 && j->want_uuid[0] == '\0')
        snprintf(j->new_uuid, sizeof(j->new_uuid), "%s", j->seen_uuid);
    if (there == 2 && j->kind != JOB_TEARDOWN) {
        snprintf(err, errlen, "the entry %s is not %s's pam-jit account (its"
                 " description says whose): refused", j->dn,
                 j->g->requester);
        step(j, "directory.foreign", "dn=%s: not this person's account,"
             " left alone", j->dn);
        return APID_LDAP_ERR;
    }
    if (j->kind == JOB_TEARDOWN) {
        if (!there) {
            step(j, "directory.absent", "dn=%s: nothing to disable", j->dn);
            return APID_LDAP_OK;
        }
        if (there == 2) {
            step(j, "directory.foreign", "dn=%s: not this person's account,"
                 " left alone", j->dn);
            return APID_LDAP_OK;
        }
        /* Every group is tried, whatever the others do: one refusal
         * must not leave the account in the rest. */
        rc = APID_LDAP_OK;
        for (size_t i = 0; i < j->g->n_groups; i++) {
            int r = set_member(ld, j, j->g->groups[i], 0, 0, err, errlen);

            if (r == APID_LDAP_DOWN)
                return r;
            if (r != APID_LDAP_OK && rc == APID_LDAP_OK) {
                rc = r;
                snprintf(j->why, sizeof(j->why), "%s", err);
            }
        }
        /* The password before the lock: the ppolicy overlay unlocks an
         * account whose password an administrator changes. */
        {
            char pw[25];
            int r;

            if (apid_diracct_make_password(pw, sizeof(pw)) != 0) {
                snprintf(err, errlen, "no random bytes for a password");
                return APID_LDAP_ERR;
            }
            r = set_password(ld, j, pw, err, errlen);
            explicit_bzero(pw, sizeof(pw));
            if (r == APID_LDAP_DOWN)
                return r;
            if (r != APID_LDAP_OK && rc == APID_LDAP_OK) {
                rc = r;
                snprintf(j->why, sizeof(j->why), "%s", err);
            }
        }
        {
            int r = set_locked(ld, j, 1, uac, err, errlen);

            if (r == APID_LDAP_DOWN)
                return r;
            if (r != APID_LDAP_OK && rc == APID_LDAP_OK) {
                rc = r;
                snprintf(j->why, sizeof(j->why), "%s", err);
            }
        }
        if (rc != APID_LDAP_OK) {
            snprintf(err, errlen, "%s", j->why);
            return rc;
        }
        if (astray[0] != '\0') {
            snprintf(err, errlen, "%s", astray);
            return APID_LDAP_ERR;
        }
        return APID_LDAP_OK;
    }
    if (!there) {
        if (j->kind == JOB_PASSWORD) {
            snprintf(err, errlen, "the account %s is not in the directory",
                     j->dn);
            return APID_LDAP_ERR;
        }
        if ((rc = create_account(ld, j, err, errlen)) != APID_LDAP_OK)
            return rc;
        /* Its uuid, to be recorded: a read of the entry just made. */
        if ((there = read_account(ld, j, &uac, err, errlen)) != 1) {
            if (there >= 0)
                snprintf(err, errlen, "the account %s made is not there as"
                         " made", j->dn);
            step(j, "directory.read", "dn=%s failed: %s", j->dn, err);
            return there < 0 ? there : APID_LDAP_ERR;
        }
        snprintf(j->new_uuid, sizeof(j->new_uuid), "%s", j->seen_uuid);
    }
    if ((rc = set_password(ld, j, j->pw, err, errlen)) != APID_LDAP_OK)
        return rc;
    if (j->kind == JOB_PASSWORD)
        return APID_LDAP_OK;
    if ((rc = set_locked(ld, j, 0, uac, err, errlen)) != APID_LDAP_OK)
        return rc;
    for (size_t i = 0; i < j->g->n_groups; i++)
        if ((rc = set_member(ld, j, j->g->groups[i], 1, 0, err, errlen))
            != APID_LDAP_OK)
            return rc;
    /* Only this grant's groups: an earlier grant of the account whose
     * teardown has not run (or failed) may have left it in others. */
    for (size_t i = 0; i < j->n_others; i++)
        if ((rc = set_member(ld, j, j->others[i], 0, 1, err, errlen))
            != APID_LDAP_OK)
            return rc;
    return APID_LDAP_OK;
}

/* The job's steps on the grant's operations log. */
static void
log_steps(struct apid *a, const struct job *j, const char *actor)
{
    for (size_t i = 0; i < j->n_steps; i++)
        if (apid_store_op_add(a->store, actor, j->steps[i].action, j->g->id,
                              j->steps[i].detail, apid_now()) != APID_OK)
            fprintf(stderr, "jit-apid: directory: operations log: %s\n",
                    apid_store_error(a->store));
}

/* The uuid recorded for g's account into j (none: ""); whether g holds
 * the account enabled: 1, 0 (another grant holds it now, or it is
 * being or was disabled), -1 (the store failed). */
static int
load_uuid(struct apid *a, const struct apid_grant *g, struct job *j)
{
    struct apid_diracct d;
    int held, ret;

    j->want_uuid[0] = '\0';
    if ((ret = apid_store_diracct_get(a->store, g->id, &d)) != APID_OK)
        return ret == APID_NOT_FOUND ? 0 : -1;
    held = strcmp(d.username, g->username) == 0
           && strcmp(d.state, "enabled") == 0;
    if (d.entry_uuid != NULL && strcmp(d.username, g->username) == 0)
        snprintf(j->want_uuid, sizeof(j->want_uuid), "%s", d.entry_uuid);
    free(d.username);
    free(d.grant);
    free(d.state);
    free(d.last_error);
    free(d.entry_uuid);
    return held;
}

static int
run(struct apid *a, struct apid_ldap *l, struct job *j, const char *actor,
    char *err, size_t errlen)
{
    int rc;

    if (l == NULL) {
        snprintf(err, errlen, "the directory is not configured");
        return APID_LDAP_DOWN;
    }
    if ((j->dn = account_dn(j->c, j->g->username)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    rc = apid_ldap_run(l, run_job, j, err, errlen);
    log_steps(a, j, actor);
    if (j->new_uuid[0] != '\0'
        && strcasecmp(j->new_uuid, j->want_uuid) != 0) {
        if (apid_store_diracct_set_uuid(a->store, j->g->username, j->g->id,
                                        j->new_uuid) != APID_OK)
            fprintf(stderr, "jit-apid: directory: account %s: recording its"
                    " uuid: %s\n", j->g->username,
                    apid_store_error(a->store));
        else
            snprintf(j->want_uuid, sizeof(j->want_uuid), "%s", j->new_uuid);
    }
    free(j->dn);
    free(j->used);
    j->dn = NULL;
    j->used = NULL;
    return rc;
}

/* The groups of every directory policy that g does not give, each once,
 * into j (copied: a reload may swap the policies). */
static int
other_groups(struct apid *a, const struct apid_grant *g, struct job *j)
{
    int ret = 0;

    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->pol.n && ret == 0; i++) {
        const struct apid_policy *p = &a->pol.v[i];

        for (size_t k = 0; p->target_directory && k < p->n_groups; k++) {
            const char *name = p->groups[k];
            int seen = 0;
            char **nv;

            for (size_t m = 0; m < g->n_groups && !seen; m++)
                seen = strcmp(g->groups[m], name) == 0;
            for (size_t m = 0; m < j->n_others && !seen; m++)
                seen = strcmp(j->others[m], name) == 0;
            if (seen)
                continue;
            if ((nv = realloc(j->others, (j->n_others + 1) * sizeof(*nv)))
                == NULL) {
                ret = -1;
                break;
            }
            j->others = nv;
            if ((j->others[j->n_others] = strdup(name)) == NULL) {
                ret = -1;
                break;
            }
            j->n_others++;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    return ret;
}

int
apid_diracct_enable(struct apid *a, const struct apid_grant *g,
                    const char *actor, char *pw, size_t pwlen, char *err,
                    size_t errlen)
{
    char own[25];
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (j == NULL) {
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    if (pw == NULL) {
        pw = own;
        pwlen = sizeof(own);
    }
    if (apid_diracct_make_password(pw, pwlen < 25 ? pwlen : 25) != 0) {
        snprintf(err, errlen, "no random bytes for a password");
        free(j);
        return APID_LDAP_ERR;
    }
    j->c = &a->conf;
    j->g = g;
    j->kind = JOB_ENABLE;
    j->pw = pw;
    if (other_groups(a, g, j) != 0) {
        snprintf(err, errlen, "out of memory");
        explicit_bzero(own, sizeof(own));
        free(j);
        return APID_LDAP_ERR;
    }
    pthread_mutex_lock(&a->dir_mu);
    /* Recorded first: from here on, whatever becomes of the steps, the
     * grant's end undoes them.  A teardown of the account's previous
     * grant under way is let finish (the lock released meanwhile, for
     * this instance's worker): undoing after we did would take the
     * new grant's account away. */
    for (int tries = 0;; tries++) {
        int ret = apid_store_diracct_hold(a->store, g->username, g->id,
                                          actor, "directory.hold",
                                          "account held by this grant",
                                          apid_now());

        if (ret == APID_OK) {
            (void) load_uuid(a, g, j);
            rc = run(a, a->dir_ldap, j, actor, err, errlen);
            break;
        }
        snprintf(err, errlen, "%s", apid_store_error(a->store));
        if (ret != APID_CONFLICT) {
            rc = APID_LDAP_ERR;
            break;
        }
        if (tries == 50 || a->stopping) {
            rc = APID_DIR_BUSY;
            break;
        }
        pthread_mutex_unlock(&a->dir_mu);
        nanosleep(&(struct timespec) { 0, 200 * 1000 * 1000 }, NULL);
        pthread_mutex_lock(&a->dir_mu);
    }
    pthread_mutex_unlock(&a->dir_mu);
    explicit_bzero(own, sizeof(own));
    for (size_t i = 0; i < j->n_others; i++)
        free(j->others[i]);
    free(j->others);
    free(j);
    return rc;
}

int
apid_diracct_password(struct apid *a, const struct apid_grant *g,
                      const char *actor, char *pw, size_t pwlen, char *err,
                      size_t errlen)
{
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (j == NULL) {
        snprintf(err, errlen, "out of memory");
        return APID_LDAP_ERR;
    }
    if (apid_diracct_make_password(pw, pwlen < 25 ? pwlen : 25) != 0) {
        snprintf(err, errlen, "no random bytes for a password");
        free(j);
        return APID_LDAP_ERR;
    }
    j->c = &a->conf;
    j->g = g;
    j->kind = JOB_PASSWORD;
    j->pw = pw;
    pthread_mutex_lock(&a->dir_mu);
    /* Only the grant that holds the account enabled sets its password:
     * another active grant of the same name whose account a later grant
     * took (and whose teardown locked it) would otherwise unlock it,
     * since the ppolicy overlay unlocks an account an administrator
     * gives a password (doc/design.md, S21). */
    switch (load_uuid(a, g, j)) {
    case 1:
        rc = run(a, a->dir_ldap, j, actor, err, errlen);
        break;
    case 0:
        snprintf(err, errlen, "grant %s does not hold account %s (a later"
                 " grant holds it, or it is being or has been disabled)",
                 g->id, g->username);
        rc = APID_DIR_NOT_HELD;
        break;
    default:
        snprintf(err, errlen, "%s", apid_store_error(a->store));
        rc = APID_LDAP_ERR;
    }
    pthread_mutex_unlock(&a->dir_mu);
    free(j);
    return rc;
}

/* ---- jit-apid --check ---- */

struct check {
    const struct apid_conf *c;
    char **groups;
    size_t n_groups;
};

/* The entry dn exists (a base read); APID_LDAP_OK, or an error naming
 * what it is for. */
static int
entry_there(LDAP *ld, const char *dn, const char *what, char *err,
            size_t errlen)
{
    char *attrs[] = { W("1.1"), NULL };
    struct timeval tv = apid_ldap_timeout(ld);
    LDAPMessage *res = NULL;
    int rc;

    rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
                           0, NULL, NULL, &tv, 1, &res);
    ldap_msgfree(res);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        snprintf(err, errlen, "%s: no such entry %s", what, dn);
        return APID_LDAP_ERR;
    }
    return apid_ldap_result(ld, rc, what, err, errlen);
}

static int
run_check(LDAP *ld, void *arg, char *err, size_t errlen)
{
    struct check *k = arg;
    char what[300];
    int rc;

    if ((rc = entry_there(ld, k->c->ldap_accounts_base, "ldap_accounts_base",
                          err, errlen)) != APID_LDAP_OK)
        return rc;
    for (size_t i = 0; i < k->n_groups; i++) {
        char *dn = group_dn(k->c, k->groups[i]);

        if (dn == NULL) {
            snprintf(err, errlen, "out of memory");
            return APID_LDAP_ERR;
        }
        snprintf(what, sizeof(what), "group %s (a directory policy's)",
                 k->groups[i]);
        rc = entry_there(ld, dn, what, err, errlen);
        free(dn);
        if (rc != APID_LDAP_OK)
            return rc;
    }
    return APID_LDAP_OK;
}

int
apid_diracct_check(struct apid *a, char *err, size_t errlen)
{
    struct apid_grant none = { .n_groups = 0 };
    struct check k = { .c = &a->conf };
    struct job j = { .c = &a->conf };
    struct apid_ldap *l;
    int rc;

    if ((l = apid_ldap_open(&a->conf, err, errlen)) == NULL)
        return APID_LDAP_ERR;
    /* Every directory policy's groups: the other groups of a grant that
     * has none. */
    if (other_groups(a, &none, &j) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = APID_LDAP_ERR;
    } else {
        k.groups = j.others;
        k.n_groups = j.n_others;
        rc = apid_ldap_run(l, run_check, &k, err, errlen);
    }
    for (size_t i = 0; i < j.n_others; i++)
        free(j.others[i]);
    free(j.others);
    apid_ldap_close(l);
    return rc;
}

/* ---- the teardown worker ---- */

/* The account.disable_failed alert, once per grant's teardown (the
 * event's id is the grant's: a redelivery alerts no one twice).  Its id
 * holds a ':', which no host's event id may (host_api.c), so no host
 * can take it first. */
static void
alert_failed(struct apid *a, const struct apid_grant *g, const char *why)
{
    struct apid_event e = { .type = W("account.disable_failed"),
                            .host = W("directory"),
                            .grant = (char *) g->id,
                            .username = g->username,
                            .requester = g->requester };
    char id[64];
    json_t *d = json_pack("{s:s}", "error", why);

    snprintf(id, sizeof(id), "dir:%s:disable_failed", g->id);
    e.id = id;
    e.time = apid_now();
    e.detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    (void) apid_alerts_refresh(a);
    pthread_rwlock_rdlock(&a->lock);
    e.alerts = apid_alerts_plan(&a->alerts, e.type, &e.n_alerts);
    if (apid_store_events_insert(a->store, &e, 1, apid_now()) != APID_OK)
        fprintf(stderr, "jit-apid: directory: alert: %s\n",
                apid_store_error(a->store));
    pthread_rwlock_unlock(&a->lock);
    free((void *) e.alerts);
    free(e.detail);
}

/* The wait after failures failed tries: min, doubling, at most max. */
static int64_t
retry_wait(int failures, unsigned min, unsigned max)
{
    int64_t w = min;

    for (int i = 0; i < failures && w < max; i++)
        w *= 2;
    return w < max ? w : max;
}

static void
teardown(struct apid *a, struct apid_ldap *l, const struct apid_diracct *d)
{
    char err[512] = "", detail[600];
    struct apid_diracct now_d;
    struct apid_grant g;
    struct job *j = NULL;
    int rc, still;
    int64_t next = 0;

    if (apid_store_grant_get(a->store, d->grant, &g, apid_now()) != APID_OK) {
        fprintf(stderr, "jit-apid: directory: account %s: grant %s: %s\n",
                d->username, d->grant, apid_store_error(a->store));
        return;
    }
    pthread_mutex_lock(&a->dir_mu);
    /* A re-enable may have taken the account since the claim. */
    still = apid_store_diracct_get(a->store, d->grant, &now_d) == APID_OK;
    if (still) {
        still = strcmp(now_d.username, d->username) == 0;
        free(now_d.username);
        free(now_d.grant);
        free(now_d.state);
        free(now_d.last_error);
        free(now_d.entry_uuid);
    }
    if (!still || (j = calloc(1, sizeof(*j))) == NULL) {
        pthread_mutex_unlock(&a->dir_mu);
        apid_grant_free(&g);
        return;
    }
    j->c = &a->conf;
    j->g = &g;
    j->kind = JOB_TEARDOWN;
    if (d->entry_uuid != NULL)
        snprintf(j->want_uuid, sizeof(j->want_uuid), "%s", d->entry_uuid);
    rc = run(a, l, j, "jit-apid", err, sizeof(err));
    if (rc != APID_LDAP_OK)
        next = apid_now() + retry_wait(d->attempts, a->conf.ldap_retry_min,
                                       a->conf.ldap_retry_max);
    if (rc == APID_LDAP_OK)
        snprintf(detail, sizeof(detail), "account %s disabled (grant %s)%s",
                 d->username, g.status,
                 d->attempts ? ", after failed tries" : "");
    else
        snprintf(detail, sizeof(detail), "account %s: %s; try %d, next in"
                 " %lld s", d->username, err, d->attempts + 1,
                 (long long) (next - apid_now()));
    if (apid_store_diracct_settle(a->store, d->username, d->grant,
                                  rc == APID_LDAP_OK, err, next, "jit-apid",
                                  rc == APID_LDAP_OK
                                      ? "directory.disabled"
                                      : "directory.disable_failed",
                                  detail, apid_now()) != APID_OK)
        fprintf(stderr, "jit-apid: directory: account %s: %s\n",
                d->username, apid_store_error(a->store));
    pthread_mutex_unlock(&a->dir_mu);
    if (rc != APID_LDAP_OK) {
        fprintf(stderr, "jit-apid: directory: account %s (grant %s) not"
                " disabled: %s\n", d->username, d->grant, err);
        alert_failed(a, &g, err);
    }
    apid_changed(a);
    free(j);
    apid_grant_free(&g);
}

int64_t
apid_diracct_lease(unsigned ldap_timeout, size_t groups)
{
    /* apid_ldap_run tries a job twice (once more after a lost
     * connection); a teardown may first wait for an enable holding the
     * directory lock, which is as long. */
    return 2 * 2 * (int64_t) (JOB_OPS + groups)
               * (int64_t) (ldap_timeout ? ldap_timeout : 5)
           + LEASE_MARGIN_S;
}

/* The groups of the directory policies, all of them: an enable also
 * takes its account out of the groups its grant does not give. */
static size_t
all_groups(struct apid *a)
{
    size_t n = 0;

    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->pol.n; i++)
        if (a->pol.v[i].target_directory)
            n += a->pol.v[i].n_groups;
    pthread_rwlock_unlock(&a->lock);
    return n;
}

void *
apid_diracct_worker(void *arg)
{
    struct apid *a = arg;
    struct apid_ldap *l = NULL;
    char err[512];

    /* A connection of its own: a teardown never waits behind a
     * request's enable, nor holds one up. */
    if (a->conf.ldap_accounts_base != NULL
        && (l = apid_ldap_open(&a->conf, err, sizeof(err))) == NULL)
        fprintf(stderr, "jit-apid: directory: teardowns: %s\n", err);
    while (!a->stopping) {
        struct apid_diracct *v = NULL;
        size_t n = 0;

        /* The lease is derived from the timeouts (doc/design.md, R15):
         * no other instance takes the account while this one may still
         * be at it. */
        if (apid_store_diracct_claim(a->store, apid_now(),
                                     apid_diracct_lease(a->conf.ldap_timeout,
                                                        all_groups(a)),
                                     CLAIM_MAX, &v, &n) != APID_OK)
            fprintf(stderr, "jit-apid: directory: %s\n",
                    apid_store_error(a->store));
        for (size_t i = 0; i < n && !a->stopping; i++)
            teardown(a, l, &v[i]);
        apid_diraccts_free(v, n);
        if (n < CLAIM_MAX)
            apid_nap(a); /* a revocation wakes us */
    }
    apid_ldap_close(l);
    return NULL;
}
