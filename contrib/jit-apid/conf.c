/* SPDX-License-Identifier: MIT */
/* jit-apid's configuration file: "key = value" lines (jit-apid(8)). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apid.h"
#include "ldap.h"
#include "core/grant.h"
#include "core/validate.h"
#include "diraccount.h"
#include "tls.h"

int
apid_bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int
set_str(char **dst, const char *v)
{
    free(*dst);
    return (*dst = strdup(v)) ? 0 : -ENOMEM;
}

static int
set_path(char **dst, const char *v, const char *path, int lineno,
         const char *key, char *err, size_t errlen)
{
    if (v[0] != '/')
        return apid_bad(err, errlen, "%s:%d: %s: an absolute path", path, lineno,
                   key);
    return set_str(dst, v);
}

/* A directory base or bind DN: one line of printable text that libldap
 * parses as a DN (RFC 4514). */
static int
set_dn(char **dst, const char *v, const char *path, int lineno,
       const char *key, char *err, size_t errlen)
{
    LDAPDN dn = NULL;

    for (const char *p = v; *p != '\0'; p++)
        if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
            return apid_bad(err, errlen, "%s:%d: %s: a control character",
                            path, lineno, key);
    if (v[0] == '\0' || ldap_str2dn(v, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return apid_bad(err, errlen, "%s:%d: %s: not a DN (RFC 4514), such as"
                        " ou=people,dc=example,dc=com", path, lineno, key);
    ldap_dnfree(dn);
    return set_str(dst, v);
}

/* Whether libldap parses v as a filter (RFC 4515), as it will at use. */
static int
filter_ok(const char *v)
{
    struct berval bv = { 0, NULL };
    LDAP *ld = NULL;
    int ok;

    if (ldap_initialize(&ld, NULL) != LDAP_SUCCESS)
        return 0;
    ok = ldap_create_assertion_control_value(ld, (char *) v, &bv)
         == LDAP_SUCCESS;
    ber_memfree(bv.bv_val);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return ok;
}

static int
set_choice(int *dst, const char *v, const char *const *names, int n,
           const char *path, int lineno, const char *key, const char *want,
           char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *dst = i;
            return 0;
        }
    return apid_bad(err, errlen, "%s:%d: %s: %s", path, lineno, key, want);
}

/* The directory's keys (jit-apid(8), "THE DIRECTORY"). */
static int
set_ldap_key(struct apid_conf *c, const char *key, const char *v,
             const char *path, int lineno, char *err, size_t errlen)
{
    static const char *const binds[] = { "simple", "gssapi" };
    static const char *const sources[] = { "file", "ldap", "both" };
    static const char *const members[] = { "member", "memberUid", "memberOf" };
    uint32_t u;

    if (strcmp(key, "ldap_uri") == 0) {
        const char *hp = strncmp(v, "ldaps://", 8) == 0  ? v + 8
                         : strncmp(v, "ldap://", 7) == 0 ? v + 7
                                                          : NULL;
        LDAPURLDesc *lud = NULL;
        int ok;

        /* One server, a host named (no ldapi://, no list, no DN part). */
        ok = hp != NULL && hp[0] != '\0' && hp[0] != '/' && hp[0] != ':'
             && strpbrk(hp, " ,?\t") == NULL
             && (strchr(hp, '/') == NULL || strchr(hp, '/')[1] == '\0')
             && ldap_url_parse(v, &lud) == LDAP_URL_SUCCESS;
        ldap_free_urldesc(lud);
        if (!ok)
            return apid_bad(err, errlen, "%s:%d: ldap_uri: ldaps://HOST[:PORT],"
                            " or ldap://HOST[:PORT] (then always StartTLS)",
                            path, lineno);
        return set_str(&c->ldap_uri, v);
    }
    if (strcmp(key, "ldap_ca") == 0)
        return set_path(&c->ldap_ca, v, path, lineno, key, err, errlen);
    if (strcmp(key, "ldap_bind") == 0)
        return set_choice(&c->ldap_bind, v, binds, 2, path, lineno, key,
                          "simple or gssapi", err, errlen);
    if (strcmp(key, "ldap_bind_dn") == 0)
        return set_dn(&c->ldap_bind_dn, v, path, lineno, key, err, errlen);
    if (strcmp(key, "ldap_bind_secret") == 0)
        return set_path(&c->ldap_bind_secret, v, path, lineno, key, err,
                        errlen);
    if (strcmp(key, "ldap_keytab") == 0)
        return set_path(&c->ldap_keytab, v, path, lineno, key, err, errlen);
    if (strcmp(key, "ldap_timeout") == 0) {
        if (jit_parse_u32(v, 1, 300, &u) != 0)
            return apid_bad(err, errlen, "%s:%d: ldap_timeout: 1..300 seconds",
                            path, lineno);
        c->ldap_timeout = u;
        return 0;
    }
    if (strcmp(key, "people_source") == 0)
        return set_choice(&c->people_source, v, sources, 3, path, lineno, key,
                          "file, ldap or both", err, errlen);
    if (strcmp(key, "ldap_people_base") == 0)
        return set_dn(&c->ldap_people_base, v, path, lineno, key, err, errlen);
    if (strcmp(key, "ldap_group_base") == 0)
        return set_dn(&c->ldap_group_base, v, path, lineno, key, err, errlen);
    if (strcmp(key, "ldap_person_attr") == 0) {
        /* An attribute description: it goes into filters unescaped. */
        if (v[0] == '\0' || strlen(v) > 64
            || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789-") != strlen(v)
            || !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
            return apid_bad(err, errlen, "%s:%d: ldap_person_attr: an attribute"
                            " name, such as uid or sAMAccountName", path,
                            lineno);
        return set_str(&c->ldap_person_attr, v);
    }
    if (strcmp(key, "ldap_person_filter") == 0) {
        /* An administrator's filter ANDed to every person lookup. */
        size_t n = strlen(v);

        if (n < 3 || v[0] != '(' || v[n - 1] != ')'
            || !filter_ok(v))
            return apid_bad(err, errlen, "%s:%d: ldap_person_filter: a"
                            " filter in parentheses, such as"
                            " (objectClass=inetOrgPerson)", path, lineno);
        return set_str(&c->ldap_person_filter, v);
    }
    if (strcmp(key, "ldap_group_member") == 0)
        return set_choice(&c->ldap_group_member, v, members, 3, path, lineno,
                          key, "member, memberUid or memberOf", err, errlen);
    if (strcmp(key, "ldap_check_interval") == 0) {
        if (jit_parse_u32(v, 1, 86400, &u) != 0)
            return apid_bad(err, errlen, "%s:%d: ldap_check_interval:"
                            " 1..86400 seconds", path, lineno);
        c->ldap_check_interval = u;
        return 0;
    }
    return apid_bad(err, errlen, "%s:%d: %s: no such key", path, lineno, key);
}

static int
set_key(struct apid_conf *c, const char *key, const char *v, const char *path,
        int lineno, char *err, size_t errlen)
{
    uint32_t u;
    int ret;

    if (strcmp(key, "listen") == 0) {
        const char *colon = strrchr(v, ':');
        char addr[64];

        if (colon == NULL || (size_t) (colon - v) >= sizeof(addr)
            || (strcmp(colon + 1, "0") != 0
                && jit_parse_u32(colon + 1, 1, 65535, &u) != 0))
            return apid_bad(err, errlen, "%s:%d: listen: ADDRESS:PORT (port 0:"
                       " any free one)", path, lineno);
        if (strcmp(colon + 1, "0") == 0)
            u = 0;
        snprintf(addr, sizeof(addr), "%.*s", (int) (colon - v), v);
        c->port = u;
        return set_str(&c->listen_addr, addr);
    }
    if (strcmp(key, "tls_cert") == 0)
        return set_path(&c->tls_cert, v, path, lineno, key, err, errlen);
    if (strcmp(key, "tls_key") == 0)
        return set_path(&c->tls_key, v, path, lineno, key, err, errlen);
    if (strcmp(key, "tls_priority") == 0) {
        char why[512];

        if (apid_tls_priority_check(v, why, sizeof(why)) != 0)
            return apid_bad(err, errlen, "%s:%d: tls_priority: %s", path,
                            lineno, why);
        return set_str(&c->tls_priority, v);
    }
    if (strcmp(key, "client_ca") == 0)
        return set_path(&c->client_ca, v, path, lineno, key, err, errlen);
    if (strcmp(key, "host_tokens") == 0)
        return set_path(&c->host_tokens, v, path, lineno, key, err, errlen);
    if (strcmp(key, "people") == 0)
        return set_path(&c->people, v, path, lineno, key, err, errlen);
    if (strcmp(key, "policies") == 0)
        return set_path(&c->policies, v, path, lineno, key, err, errlen);
    if (strcmp(key, "alerts") == 0)
        return set_path(&c->alerts, v, path, lineno, key, err, errlen);
    if (strcmp(key, "webhook_key_dir") == 0) {
        /* "none", as if unset: the API may not name a webhook's key. */
        if (strcmp(v, "none") == 0) {
            free(c->webhook_key_dir);
            c->webhook_key_dir = NULL;
            return 0;
        }
        if (v[0] != '/' || jit_text_problem(v) != NULL || strlen(v) > 1024
            || jit_path_normal_problem(v) != NULL || strlen(v) < 2
            || v[strlen(v) - 1] == '/')
            return apid_bad(err, errlen, "%s:%d: webhook_key_dir: a plain"
                            " absolute path of a directory (no . or ..,"
                            " no trailing /), or none", path, lineno);
        return set_str(&c->webhook_key_dir, v);
    }
    if (strcmp(key, "krb5_keytab") == 0)
        return set_path(&c->krb5_keytab, v, path, lineno, key, err, errlen);
    if (strcmp(key, "krb5_realm") == 0) {
        if (v[0] == '\0' || strlen(v) > 255 || strpbrk(v, " \t@/") != NULL)
            return apid_bad(err, errlen, "%s:%d: krb5_realm: a realm name, such"
                       " as EXAMPLE.COM", path, lineno);
        return set_str(&c->krb5_realm, v);
    }
    if (strcmp(key, "database") == 0) {
        if (strncmp(v, "sqlite:/", 8) != 0 && strncmp(v, "postgresql:", 11) != 0)
            return apid_bad(err, errlen, "%s:%d: database: sqlite:/PATH or"
                       " postgresql:CONNINFO", path, lineno);
        return set_str(&c->database, v);
    }
    if (strcmp(key, "max_body") == 0) {
        if (jit_parse_u32(v, 1024, 64u << 20, &u) != 0)
            return apid_bad(err, errlen, "%s:%d: max_body: 1024..67108864 bytes",
                       path, lineno);
        c->max_body = u;
        return 0;
    }
    if (strcmp(key, "max_connections") == 0) {
        if (jit_parse_u32(v, 16, 1000000, &u) != 0)
            return apid_bad(err, errlen, "%s:%d: max_connections: 16..1000000",
                       path, lineno);
        c->max_connections = u;
        return 0;
    }
    if (strcmp(key, "max_connections_per_address") == 0) {
        if (jit_parse_u32(v, 8, 1000000, &u) != 0)
            return apid_bad(err, errlen, "%s:%d: max_connections_per_address:"
                       " 8..1000000", path, lineno);
        c->max_connections_per_address = u;
        return 0;
    }
    if (strcmp(key, "request_timeout") == 0) {
        if (jit_parse_u32(v, 1, 300, &u) != 0)
            return apid_bad(err, errlen, "%s:%d: request_timeout: 1..300"
                       " seconds", path, lineno);
        c->request_timeout = u;
        return 0;
    }
    /* Directory accounts' keys are diraccount.c's. */
    if ((ret = apid_diracct_conf_key(c, key, v, path, lineno, err, errlen))
        != 1)
        return ret;
    if (strncmp(key, "ldap_", 5) == 0 || strcmp(key, "people_source") == 0)
        return set_ldap_key(c, key, v, path, lineno, err, errlen);
    return apid_bad(err, errlen, "%s:%d: %s: no such key", path, lineno, key);
}

/* What the directory's keys need besides; NULL when nothing. */
static const char *
ldap_missing(const struct apid_conf *c)
{
    int people = c->people_source != APID_PEOPLE_FILE;

    if (c->ldap_uri == NULL)
        return people ? "ldap_uri (with people_source ldap or both)" : NULL;
    if (c->ldap_ca == NULL)
        return "ldap_ca (with ldap_uri)";
    if (c->ldap_bind == APID_LDAP_BIND_SIMPLE
        && (c->ldap_bind_dn == NULL || c->ldap_bind_secret == NULL))
        return "ldap_bind_dn and ldap_bind_secret (with ldap_bind simple)";
    if (c->ldap_bind == APID_LDAP_BIND_GSSAPI && c->ldap_keytab == NULL
        && c->krb5_keytab == NULL)
        return "ldap_keytab (with ldap_bind gssapi)";
    if (people && c->ldap_people_base == NULL)
        return "ldap_people_base (with people_source ldap or both)";
    /* memberOf too: without a base, a group of the name anywhere in the
     * directory would count (doc/design.md, S20). */
    if (people && c->ldap_group_base == NULL)
        return "ldap_group_base (with people_source ldap or both, whatever"
               " ldap_group_member)";
    return NULL;
}

int
apid_conf_load(const char *path, struct apid_conf *c, char *err,
               size_t errlen)
{
    char line[4096];
    int fd, lineno = 0, ret = 0;
    struct stat st;
    FILE *f;

    memset(c, 0, sizeof(*c));
    c->max_body = 1 << 20;
    c->max_connections = 16384;
    c->max_connections_per_address = 1024;
    c->request_timeout = 10;
    c->ldap_timeout = 5;
    c->ldap_check_interval = 60;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return apid_bad(err, errlen, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || (st.st_uid != 0 && st.st_uid != geteuid())
        || (st.st_mode & 022) != 0) {
        close(fd);
        return apid_bad(err, errlen, "%s: must be a regular file of root's,"
                   " writable by no one else", path);
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *k, *v, *eq, *end;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            ret = apid_bad(err, errlen, "%s:%d: line too long", path, lineno);
            break;
        }
        for (k = line; *k == ' ' || *k == '\t'; k++)
            ;
        if (*k == '#' || *k == '\n' || *k == '\0')
            continue;
        if ((eq = strchr(k, '=')) == NULL) {
            ret = apid_bad(err, errlen, "%s:%d: want key = value", path, lineno);
            break;
        }
        for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--)
            ;
        *end = '\0';
        for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
            ;
        for (end = v + strlen(v);
             end > v && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'
                         || end[-1] == '\r');
             end--)
            ;
        *end = '\0';
        ret = set_key(c, k, v, path, lineno, err, errlen);
    }
    fclose(f);
    /* The default through the same check as a file's value. */
    if (ret == 0 && c->tls_priority == NULL)
        ret = set_key(c, "tls_priority", APID_TLS_PRIORITY_DEFAULT, path, 0,
                      err, errlen);
    if (ret == 0) {
        const char *missing = !c->listen_addr   ? "listen"
                              : !c->tls_cert    ? "tls_cert"
                              : !c->tls_key     ? "tls_key"
                              : !c->database    ? "database"
                              : !c->policies    ? "policies"
                              : (!c->host_tokens && !c->client_ca
                                 && !c->krb5_keytab)
                                  ? "host_tokens (or client_ca or krb5_keytab)"
                              : (c->krb5_keytab && !c->krb5_realm)
                                  ? "krb5_realm (with krb5_keytab)"
                                  : ldap_missing(c);

        if (missing != NULL)
            ret = apid_bad(err, errlen, "%s: %s is required", path, missing);
    }
    if (ret == 0)
        ret = apid_diracct_conf_check(c, path, err, errlen);
    if (ret != 0)
        apid_conf_free(c);
    return ret;
}

void
apid_conf_free(struct apid_conf *c)
{
    free(c->listen_addr);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_priority);
    free(c->client_ca);
    free(c->database);
    free(c->host_tokens);
    free(c->people);
    free(c->policies);
    free(c->alerts);
    free(c->webhook_key_dir);
    free(c->krb5_keytab);
    free(c->krb5_realm);
    apid_diracct_conf_free(c);
    free(c->ldap_uri);
    free(c->ldap_ca);
    free(c->ldap_bind_dn);
    free(c->ldap_bind_secret);
    free(c->ldap_keytab);
    free(c->ldap_people_base);
    free(c->ldap_person_attr);
    free(c->ldap_person_filter);
    free(c->ldap_group_base);
    memset(c, 0, sizeof(*c));
}
