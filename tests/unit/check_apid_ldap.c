/* SPDX-License-Identifier: MIT */
/* Unit test: jit-apid's directory connection without a server
 * (doc/design.md, R13 and R14): the escapes of filter values (RFC 4515)
 * and DN values (RFC 4514), each byte of each hostile name, checked
 * against libldap's own parsers; the ldap_* configuration keys, a
 * refusal for each bad value, and what each needs besides. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ldap.h>

#include "contrib/jit-apid/apid.h"
#include "contrib/jit-apid/ldap.h"
#include "testlib.h"

START_TEST(test_filter_escape)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        { "alice", 5, "alice" },
        { "*", 1, "\\2a" },
        { "a*)(uid=*", 9, "a\\2a\\29\\28uid=\\2a" },
        { "\\", 1, "\\5c" },
        { "a\0b", 3, "a\\00b" },
        { "x,y=z", 5, "x,y=z" },
        { "caf\xc3\xa9", 5, "caf\\c3\\a9" },
        { "\n\x7f", 2, "\\0a\\7f" },
        { "", 0, "" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = apid_ldap_filter_escape(cases[i].in, cases[i].n);

        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, cases[i].out);
        free(s);
    }
}
END_TEST

START_TEST(test_dn_escape)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        { "alice", 5, "alice" },
        { "a,b", 3, "a\\,b" },
        { "x+y\"z\\w<v>u;t=s", 15, "x\\+y\\\"z\\\\w\\<v\\>u\\;t\\=s" },
        { "#a", 2, "\\#a" },
        { "a#", 2, "a#" },
        { " a ", 3, "\\ a\\ " },
        { "a b", 3, "a b" },
        { "a\0b", 3, "a\\00b" },
        { "\r", 1, "\\0d" },
        { "*(", 2, "*(" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = apid_ldap_dn_escape(cases[i].in, cases[i].n);

        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, cases[i].out);
        free(s);
    }
}
END_TEST

/* Every value of random bytes, escaped: libldap reads back exactly the
 * value from the DN (one RDN, one AVA), and the filter parses as one
 * equality assertion, whatever metacharacter the value holds. */
START_TEST(test_escape_roundtrip)
{
    static const char alphabet[] = "*()\\,+\"<>;=# \0\n\x7f\x80\xff" "aZ9";
    LDAP *ld = NULL;
    unsigned seed = 14;

    ck_assert_int_eq(ldap_initialize(&ld, NULL), LDAP_SUCCESS);
    for (int round = 0; round < 2000; round++) {
        char v[16], dnstr[128], filter[128];
        size_t n = 1 + (size_t) rand_r(&seed) % sizeof(v);
        struct berval bv = { 0, NULL };
        char *d, *f;
        LDAPDN dn = NULL;
        int has_nul = 0;

        for (size_t i = 0; i < n; i++) {
            v[i] = alphabet[(size_t) rand_r(&seed) % (sizeof(alphabet) - 1)];
            has_nul |= v[i] == '\0';
        }
        d = apid_ldap_dn_escape(v, n);
        f = apid_ldap_filter_escape(v, n);
        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_null(memchr(d, '\0', strlen(d))); /* trivially */
        snprintf(dnstr, sizeof(dnstr), "uid=%s,ou=people,dc=jit,dc=test", d);
        if (!has_nul) {
            ck_assert_msg(ldap_str2dn(dnstr, &dn, LDAP_DN_FORMAT_LDAPV3)
                              == LDAP_SUCCESS,
                          "round %d: %s does not parse", round, dnstr);
            ck_assert_ptr_nonnull(dn[0]);
            ck_assert_ptr_nonnull(dn[1]); /* ou=people: the value ended */
            ck_assert_ptr_null(dn[0][1]); /* one AVA: no '+' let through */
            ck_assert_uint_eq(dn[0][0]->la_value.bv_len, n);
            ck_assert_int_eq(memcmp(dn[0][0]->la_value.bv_val, v, n), 0);
            ldap_dnfree(dn);
        }
        snprintf(filter, sizeof(filter), "(uid=%s)", f);
        ck_assert_msg(ldap_create_assertion_control_value(ld, filter, &bv)
                          == LDAP_SUCCESS,
                      "round %d: filter %s does not parse", round, filter);
        ber_memfree(bv.bv_val);
        /* No metacharacter left bare: the only '(' ')' '*' are ours. */
        ck_assert_ptr_null(strpbrk(f, "()*"));
        free(d);
        free(f);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
}
END_TEST

/* A group DN under the base, parsed: an escaped ',' or a longer root is
 * not the base (doc/design.md, S20). */
START_TEST(test_dn_under)
{
    static const struct {
        const char *dn, *base;
        int under;
    } cases[] = {
        { "cn=admins,ou=groups,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 1 },
        { "CN=admins,OU=Groups,DC=Example,DC=COM",
          "ou=groups,dc=example,dc=com", 1 },
        { "cn=admins, ou=groups, dc=example, dc=com",
          "ou=groups,dc=example,dc=com", 1 },
        { "cn=a,ou=team,ou=groups,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 1 },
        { "cn=x,ou=groupsEVIL,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 0 },
        { "cn=admins,ou=groups,dc=example,dc=com,dc=evil",
          "ou=groups,dc=example,dc=com", 0 },
        { "cn=x,ou=evil\\,ou=groups,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 0 },
        { "cn=x,ou=evil\\2Cou=groups,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 0 },
        { "cn=x,ou=evil+ou=groups,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 0 },
        { "cn=x,cn=groups,dc=example,dc=com",
          "ou=groups,dc=example,dc=com", 0 },
        { "ou=groups,dc=example,dc=com", "ou=groups,dc=example,dc=com", 0 },
        { "cn=x,ou=gr\\C3\\BCppen,dc=example,dc=com",
          "ou=GR\\C3\\9Cppen,dc=example,dc=com", 0 },
        { "not a dn", "ou=groups,dc=example,dc=com", 0 },
        { "cn=x,ou=groups,dc=example,dc=com", NULL, 0 },
        { "cn=x,ou=groups,dc=example,dc=com", "", 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(apid_ldap_dn_under(cases[i].dn, cases[i].base)
                          == cases[i].under,
                      "case %zu: %s under %s", i, cases[i].dn,
                      cases[i].base ? cases[i].base : "(null)");
}
END_TEST

/* A configuration of the base keys plus extra; the load's result, its
 * error in err. */
static int
load(const char *extra, struct apid_conf *c, char *err, size_t errlen)
{
    char *dir = t_mkdtemp(), *path = t_path(dir, "apid.conf"), text[12288];
    int ret;

    snprintf(text, sizeof(text),
             "listen = 127.0.0.1:0\ntls_cert = /x/c.pem\ntls_key = /x/k.pem\n"
             "database = sqlite:/x/db\npolicies = /x/p.json\n"
             "host_tokens = /x/h\n%s\n", extra);
    t_write_file(path, text, strlen(text), 0600);
    ret = apid_conf_load(path, c, err, errlen);
    t_rmtree(dir);
    free(dir);
    free(path);
    return ret;
}

#define SIMPLE                                                              \
    "ldap_uri = ldaps://ldap.example.com\nldap_ca = /x/ca.pem\n"            \
    "ldap_bind_dn = cn=jit-apid,dc=example,dc=com\n"                        \
    "ldap_bind_secret = /x/secret\n"

START_TEST(test_conf_keys)
{
    static const struct {
        const char *extra, *err; /* err: a part of the message; NULL: ok */
    } cases[] = {
        { "", NULL },
        { SIMPLE, NULL },
        { "ldap_uri = ldap://127.0.0.1:389\nldap_ca = /x/ca.pem\n"
          "ldap_bind = gssapi\nldap_keytab = /x/kt\n", NULL },
        { "ldap_uri = ldapi:///run/slapd.sock\n", "ldap_uri: ldaps://" },
        { "ldap_uri = http://x\n", "ldap_uri: ldaps://" },
        { "ldap_uri = ldaps://a ldaps://b\n", "ldap_uri: ldaps://" },
        { "ldap_uri = ldaps://a/dc=x??sub\n", "ldap_uri: ldaps://" },
        { "ldap_uri = ldaps://\n", "ldap_uri: ldaps://" },
        { "ldap_uri = ldaps://x\n", "ldap_ca (with ldap_uri) is required" },
        { "ldap_uri = ldaps://x\nldap_ca = /x/ca\n",
          "ldap_bind_dn and ldap_bind_secret" },
        { "ldap_uri = ldaps://x\nldap_ca = /x/ca\nldap_bind = gssapi\n",
          "ldap_keytab (with ldap_bind gssapi)" },
        { "ldap_ca = ca.pem\n", "ldap_ca: an absolute path" },
        { "ldap_bind = anonymous\n", "ldap_bind: simple or gssapi" },
        { "ldap_bind_dn = not a dn\n", "ldap_bind_dn: not a DN" },
        { "ldap_bind_dn = cn=a\tb\n", "ldap_bind_dn: a control character" },
        { "ldap_timeout = 0\n", "ldap_timeout: 1..300" },
        { "ldap_timeout = 301\n", "ldap_timeout: 1..300" },
        { "people_source = directory\n", "people_source: file, ldap or both" },
        { "people_source = ldap\n", "ldap_uri (with people_source" },
        { SIMPLE "people_source = ldap\n", "ldap_people_base" },
        { SIMPLE "people_source = both\nldap_people_base = ou=p,dc=x\n",
          "ldap_group_base" },
        { SIMPLE "people_source = both\nldap_people_base = ou=p,dc=x\n"
                 "ldap_group_member = memberOf\n", "ldap_group_base" },
        { SIMPLE "people_source = both\nldap_people_base = ou=p,dc=x\n"
                 "ldap_group_member = memberOf\nldap_group_base = ou=g,dc=x\n",
          NULL },
        { SIMPLE "people_source = ldap\nldap_people_base = ou=p,dc=x\n"
                 "ldap_group_base = ou=g,dc=x\nldap_person_attr = uid\n"
                 "ldap_person_filter = (objectClass=inetOrgPerson)\n"
                 "ldap_check_interval = 5\n", NULL },
        { SIMPLE "people_source = ldap\nldap_people_base = ou=p,dc=x\n"
                 "ldap_group_base = ou=g,dc=x\nldap_uid_range = 70000-70010\n"
                 "ldap_accounts_base = ou=jit,OU=P,dc=x\n",
          "ldap_accounts_base (ou=jit,OU=P,dc=x) is inside ldap_people_base" },
        { SIMPLE "people_source = ldap\nldap_people_base = ou=p,dc=x\n"
                 "ldap_group_base = ou=g,dc=x\nldap_uid_range = 70000-70010\n"
                 "ldap_accounts_base = ou=p, dc=x\n",
          "is inside ldap_people_base" },
        { SIMPLE "people_source = ldap\nldap_people_base = ou=p,dc=x\n"
                 "ldap_group_base = ou=g,dc=x\nldap_uid_range = 70000-70010\n"
                 "ldap_accounts_base = ou=jit,ou=px,dc=x\n", NULL },
        { "ldap_person_attr = uid)(cn=*\n", "ldap_person_attr: an attribute" },
        { "ldap_person_attr = 1uid\n", "ldap_person_attr: an attribute" },
        { "ldap_person_filter = objectClass=x\n", "ldap_person_filter: a" },
        { "ldap_person_filter = (objectClass=x\n", "ldap_person_filter: a" },
        { "ldap_person_filter = (a=b))(c=d)\n", "ldap_person_filter: a" },
        { "ldap_group_member = uniqueMember\n", "ldap_group_member: member," },
        { "ldap_check_interval = 0\n", "ldap_check_interval: 1..86400" },
        { "ldap_nonsense = 1\n", "ldap_nonsense: no such key" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct apid_conf c;
        char err[512] = "";
        int ret = load(cases[i].extra, &c, err, sizeof(err));

        if (cases[i].err == NULL) {
            ck_assert_msg(ret == 0, "case %zu: %s", i, err);
            apid_conf_free(&c);
        } else {
            ck_assert_msg(ret != 0, "case %zu: taken", i);
            ck_assert_msg(strstr(err, cases[i].err) != NULL,
                          "case %zu: %s, not %s", i, err, cases[i].err);
        }
    }
}
END_TEST

START_TEST(test_conf_defaults)
{
    struct apid_conf c;
    char err[512] = "";

    ck_assert_int_eq(load(SIMPLE, &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.ldap_timeout, 5);
    ck_assert_uint_eq(c.ldap_check_interval, 60);
    ck_assert_int_eq(c.ldap_bind, APID_LDAP_BIND_SIMPLE);
    ck_assert_int_eq(c.people_source, APID_PEOPLE_FILE);
    ck_assert_int_eq(c.ldap_group_member, APID_LDAP_MEMBER_DN);
    apid_conf_free(&c);
}
END_TEST

/* The contrib examples load as they are, beside the base keys. */
START_TEST(test_examples)
{
    static const char *const names[] = { "ldap-openldap.conf",
                                         "ldap-ad.conf" };
    const char *top = getenv("top_srcdir");

    if (top == NULL)
        top = "..";
    for (size_t i = 0; i < 2; i++) {
        char path[4096], text[8192], err[512] = "";
        struct apid_conf c;
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/contrib/jit-apid/examples/%s", top,
                 names[i]);
        f = fopen(path, "re");
        ck_assert_msg(f != NULL, "%s", path);
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        ck_assert_msg(load(text, &c, err, sizeof(err)) == 0, "%s: %s",
                      names[i], err);
        ck_assert_int_eq(c.people_source, APID_PEOPLE_LDAP);
        apid_conf_free(&c);
    }
}
END_TEST

/* A handle is made without a server (it connects at its first use), and
 * refuses a configuration without what its bind needs. */
START_TEST(test_open)
{
    struct apid_conf c;
    struct apid_ldap *l;
    char err[512] = "", uri[] = "ldaps://127.0.0.1:1";
    char ca[] = "/nonexistent/ca.pem", dn[] = "cn=x";
    char secret[] = "/nonexistent/secret";

    memset(&c, 0, sizeof(c));
    ck_assert_ptr_null(apid_ldap_open(&c, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "ldap_uri"));
    c.ldap_uri = uri;
    c.ldap_ca = ca;
    ck_assert_ptr_null(apid_ldap_open(&c, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "ldap_bind_dn"));
    c.ldap_bind_dn = dn;
    c.ldap_bind_secret = secret;
    ck_assert_ptr_nonnull(l = apid_ldap_open(&c, err, sizeof(err)));
    apid_ldap_close(l);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("apid_ldap");
    TCase *tc = tcase_create("ldap");

    tcase_add_test(tc, test_filter_escape);
    tcase_add_test(tc, test_dn_escape);
    tcase_add_test(tc, test_escape_roundtrip);
    tcase_add_test(tc, test_dn_under);
    tcase_add_test(tc, test_conf_keys);
    tcase_add_test(tc, test_conf_defaults);
    tcase_add_test(tc, test_examples);
    tcase_add_test(tc, test_open);
    suite_add_tcase(s, tc);
    return t_run(s);
}
