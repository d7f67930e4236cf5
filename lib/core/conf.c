/* SPDX-License-Identifier: MIT */
/*
 * The option table and its parser (see conf.h).  Every option is declared
 * once below, with its type, default and range; defaults go through the
 * same setter as file values, so a bad default cannot hide.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/validate.h"
#include "nss/nssdb_format.h"

enum opt_type { T_BOOL, T_UINT, T_STRING, T_PATH, T_URL, T_PIN, T_HOST,
                T_ENUM, T_PATHLIST, T_GROUPLIST };

struct option {
    const char *name;
    enum opt_type type;
    size_t offset;
    const char *def;          /* NULL: unset unless required */
    uint32_t min, max;        /* T_UINT */
    const char *const *enums; /* T_ENUM, NULL-terminated */
};

static const char *const home_policies[] = { "remove", "archive", "keep",
                                             NULL };
static const char *const auth_proofs[] = { "password", "grant", NULL };
static const char *const audit_formats[] = { "kv", "json", NULL };

#define OPT(n, t, d) { #n, t, offsetof(struct jit_conf, n), d, 0, 0, NULL }
#define UINT(n, d, lo, hi) \
    { #n, T_UINT, offsetof(struct jit_conf, n), d, lo, hi, NULL }

/* Sorted by name (binary search; a unit test checks the order). */
static const struct option options[] = {
    OPT(allowed_groups, T_GROUPLIST, ""),
    OPT(api_url, T_URL, NULL),
    { "audit_format", T_ENUM, offsetof(struct jit_conf, audit_format), "kv",
      0, 0, audit_formats },
    { "auth_proof", T_ENUM, offsetof(struct jit_conf, auth_proof), "password",
      0, 0, auth_proofs },
    OPT(ca_file, T_PATH, NULL),
    OPT(client_cert, T_PATH, NULL),
    OPT(client_key, T_PATH, NULL),
    UINT(clock_skew, "60", 0, 3600),
    UINT(connect_timeout, "2", 1, 60),
    OPT(debug, T_BOOL, "no"),
    OPT(default_shell, T_PATH, "/bin/bash"),
    OPT(home_base, T_PATH, "/home/jit"),
    { "home_policy", T_ENUM, offsetof(struct jit_conf, home_policy), "remove",
      0, 0, home_policies },
    OPT(host, T_HOST, NULL),
    OPT(krb5_ccache, T_STRING, NULL),
    OPT(krb5_keytab, T_PATH, NULL),
    OPT(krb5_principal, T_STRING, NULL),
    OPT(krb5_service, T_STRING, "HTTP"),
    UINT(max_response_size, "1048576", 1024, 64u * 1024 * 1024),
    UINT(outbox_max, "100000", 100, 10000000),
    OPT(pinned_pubkey, T_PIN, NULL),
    OPT(scrub_dirs, T_PATHLIST, "/tmp,/var/tmp,/dev/shm"),
    OPT(shells, T_PATHLIST, "/bin/bash,/bin/sh"),
    OPT(skel, T_PATH, "/etc/skel"),
    OPT(state_dir, T_PATH, JIT_STATE_DIR),
    UINT(timeout, "5", 1, 300),
    OPT(token_file, T_PATH, NULL),
    /* See jit.conf(5): above systemd's and login.defs' ranges and 16-bit
     * ids, below shadow's subordinate ids (100000) and nspawn's ranges. */
    UINT(uid_max, "99999", JIT_NSSDB_ID_FLOOR, JIT_NSSDB_ID_CEIL),
    UINT(uid_min, "70000", JIT_NSSDB_ID_FLOOR, JIT_NSSDB_ID_CEIL),
    UINT(uid_quarantine, "604800", 0, 10u * 365 * 86400),
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

_Static_assert(N_OPTIONS <= sizeof(((struct jit_conf *) 0)->origin),
               "origin[] too small");

void
jit_errs_add(struct jit_errs *e, const char *fmt, ...)
{
    char **nm;
    va_list ap;
    char *s = NULL;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        s = NULL;
    nm = realloc(e->msg, (e->n + 1) * sizeof(*nm));
    if (nm == NULL) {
        free(s);
        return;
    }
    e->msg = nm;
    /* Out of memory still counts as an error, with a generic text. */
    e->msg[e->n++] = s;
}

void
jit_errs_print(const struct jit_errs *e, FILE *f)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(f, "%s\n", e->msg[i] ? e->msg[i] : "out of memory");
}

void
jit_errs_free(struct jit_errs *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msg[i]);
    free(e->msg);
    e->msg = NULL;
    e->n = 0;
}

static void
list_free(struct jit_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static const struct option *
find_option(const char *name, size_t len)
{
    size_t lo = 0, hi = N_OPTIONS;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strncmp(name, options[mid].name, len);

        if (r == 0 && options[mid].name[len] != '\0')
            r = -1;
        if (r == 0)
            return &options[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int
has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Kerberos names and cache names: one word. */
static const char *
word_problem(const char *v)
{
    if (v[0] == '\0')
        return "must not be empty";
    if (strlen(v) > 1024)
        return "too long";
    for (const char *p = v; *p != '\0'; p++)
        if (*p == ' ' || *p == '\t')
            return "must not contain blanks";
    return NULL;
}

static const char *
path_problem(const char *v)
{
    size_t n = strlen(v);
    const char *why = jit_path_normal_problem(v);

    if (why != NULL)
        return why;
    if (n > 1 && v[n - 1] == '/')
        return "must not end with '/'";
    if (strpbrk(v, " ,:") != NULL)
        return "must not contain blanks, ',' or ':'";
    return NULL;
}

static const char *
url_problem(const char *v)
{
    const char *host = v + 8;

    if (strncmp(v, "https://", 8) != 0)
        return "must be an https:// URL";
    if (*host == '\0' || *host == '/' || *host == ':')
        return "has no host";
    if (strpbrk(v, " \"<>\\^`{|}") != NULL)
        return "has characters a URL may not contain";
    if (strchr(host, '@') != NULL)
        return "must not carry user information";
    return NULL;
}

static const char *
pin_problem(const char *v)
{
    /* libcurl's form: sha256//<base64>[;sha256//<base64>...] */
    if (strncmp(v, "sha256//", 8) != 0 || v[8] == '\0')
        return "must be sha256//<base64 of the public key hash>";
    for (const char *p = v + 8; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '+' || *p == '/'
              || *p == '=' || *p == ';'))
            return "must be sha256//<base64 of the public key hash>";
    return NULL;
}

/* Split a comma list into trimmed items, checking each. */
static const char *
set_list(struct jit_list *l, const char *v,
         const char *(*problem)(const char *))
{
    struct jit_list nl = { NULL, 0 };
    const char *p = v, *why = NULL;

    while (*p != '\0') {
        const char *end = strchr(p, ','), *b, *e;
        char *item, **ni;

        if (end == NULL)
            end = p + strlen(p);
        for (b = p; b < end && (*b == ' ' || *b == '\t'); b++)
            ;
        for (e = end; e > b && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        if (e == b) {
            why = "has an empty list item";
            goto done;
        }
        item = strndup(b, (size_t) (e - b));
        ni = item ? realloc(nl.items, (nl.n + 1) * sizeof(*ni)) : NULL;
        if (ni == NULL) {
            free(item);
            why = "out of memory";
            goto done;
        }
        nl.items = ni;
        nl.items[nl.n++] = item;
        if ((why = problem(item)) != NULL)
            goto done;
        for (size_t i = 0; i + 1 < nl.n; i++)
            if (strcmp(nl.items[i], item) == 0) {
                why = "lists an item twice";
                goto done;
            }
        p = *end ? end + 1 : end;
        if (*end == ',' && *p == '\0') {
            why = "has an empty list item";
            goto done;
        }
    }
    list_free(l);
    *l = nl;
    nl.items = NULL;
    nl.n = 0;

done:
    list_free(&nl);
    return why;
}

static const char *
set_string(char **slot, const char *v, const char *(*problem)(const char *))
{
    const char *why;
    char *copy;

    if (v[0] == '\0')
        return "needs a value";
    if (problem != NULL && (why = problem(v)) != NULL)
        return why;
    copy = strdup(v);
    if (copy == NULL)
        return "out of memory";
    free(*slot);
    *slot = copy;
    return NULL;
}

/* Set one option; NULL or why the value is refused. */
static const char *
set_value(struct jit_conf *c, const struct option *o, const char *v)
{
    void *slot = (char *) c + o->offset;

    if (has_ctl(v))
        return "contains control characters";
    switch (o->type) {
    case T_BOOL:
        if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
            *(bool *) slot = true;
        else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
            *(bool *) slot = false;
        else
            return "must be yes or no";
        return NULL;
    case T_UINT: {
        int r = jit_parse_u32(v, o->min, o->max, (uint32_t *) slot);

        if (r == -EINVAL)
            return "must be a plain decimal number";
        if (r == -ERANGE) {
            static __thread char why[96];

            snprintf(why, sizeof(why), "must be between %u and %u",
                     (unsigned) o->min, (unsigned) o->max);
            return why;
        }
        return NULL;
    }
    case T_ENUM:
        for (int i = 0; o->enums[i] != NULL; i++)
            if (strcmp(v, o->enums[i]) == 0) {
                *(int *) slot = i;
                return NULL;
            }
        return "is not one of the allowed values";
    case T_STRING:
        return set_string(slot, v, word_problem);
    case T_PATH:
        return set_string(slot, v, path_problem);
    case T_URL:
        return set_string(slot, v, url_problem);
    case T_PIN:
        return set_string(slot, v, pin_problem);
    case T_HOST:
        return set_string(slot, v, jit_host_problem);
    case T_PATHLIST:
        if (v[0] == '\0')
            return "needs at least one path";
        return set_list(slot, v, path_problem);
    case T_GROUPLIST:
        return set_list(slot, v, jit_group_problem);
    }
    return "has an unknown type";
}

int
jit_conf_init(struct jit_conf *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].def != NULL && set_value(c, &options[i],
                                                options[i].def) != NULL) {
            jit_conf_free(c);
            return -ENOMEM;
        }
    return 0;
}

void
jit_conf_free(struct jit_conf *c)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        void *slot = (char *) c + options[i].offset;

        switch (options[i].type) {
        case T_STRING: case T_PATH: case T_URL: case T_PIN: case T_HOST:
            free(*(char **) slot);
            *(char **) slot = NULL;
            break;
        case T_PATHLIST: case T_GROUPLIST:
            list_free(slot);
            break;
        default:
            break;
        }
    }
}

static void
set_from(struct jit_conf *c, const char *key, size_t klen, const char *val,
         unsigned char origin, unsigned char *seen, const char *where,
         unsigned line, struct jit_errs *errs)
{
    const struct option *o = find_option(key, klen);
    const char *why;
    size_t idx;

    if (o == NULL) {
        if (line)
            jit_errs_add(errs, "%s:%u: %.*s: unknown option", where, line,
                         (int) klen, key);
        else
            jit_errs_add(errs, "%s: %.*s: unknown option", where, (int) klen,
                         key);
        return;
    }
    idx = (size_t) (o - options);
    if (seen[idx]) {
        if (line)
            jit_errs_add(errs, "%s:%u: %s: set twice", where, line, o->name);
        else
            jit_errs_add(errs, "%s: %s: set twice", where, o->name);
        return;
    }
    seen[idx] = 1;
    if ((why = set_value(c, o, val)) != NULL) {
        if (line)
            jit_errs_add(errs, "%s:%u: %s: %s", where, line, o->name, why);
        else
            jit_errs_add(errs, "%s: %s: %s", where, o->name, why);
        return;
    }
    c->origin[idx] = origin;
}

size_t
jit_conf_parse_buffer(struct jit_conf *c, const char *origin,
                      const char *text, size_t len, struct jit_errs *errs)
{
    unsigned char seen[N_OPTIONS] = { 0 };
    size_t before = errs->n, pos = 0;
    unsigned line = 0;
    char buf[JIT_CONF_MAX_LINE + 1];

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t) (nl - (text + pos)) : len - pos;
        char *b, *e, *eq, *k, *v;

        line++;
        if (n > JIT_CONF_MAX_LINE) {
            jit_errs_add(errs, "%s:%u: line longer than %u bytes", origin,
                         line, JIT_CONF_MAX_LINE);
            pos += n + 1;
            continue;
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        pos += n + 1;
        if (memchr(buf, '\0', n) != NULL) {
            jit_errs_add(errs, "%s:%u: NUL byte in line", origin, line);
            continue;
        }
        for (b = buf; *b == ' ' || *b == '\t'; b++)
            ;
        for (e = buf + n; e > b && (e[-1] == ' ' || e[-1] == '\t'
                                    || e[-1] == '\r'); e--)
            ;
        *e = '\0';
        if (*b == '\0' || *b == '#')
            continue;
        eq = strchr(b, '=');
        if (eq == NULL) {
            jit_errs_add(errs, "%s:%u: expected key = value", origin, line);
            continue;
        }
        for (k = eq; k > b && (k[-1] == ' ' || k[-1] == '\t'); k--)
            ;
        if (k == b) {
            jit_errs_add(errs, "%s:%u: missing key before '='", origin, line);
            continue;
        }
        for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
            ;
        set_from(c, b, (size_t) (k - b), v, 1, seen, origin, line, errs);
    }
    return errs->n - before;
}

size_t
jit_conf_load_file(struct jit_conf *c, const char *path,
                   struct jit_errs *errs)
{
    char *text = NULL;
    size_t before = errs->n, got = 0;
    struct stat st;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        jit_errs_add(errs, "%s: cannot open: %s", path,
                     errno == ELOOP ? "is a symbolic link" : strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        jit_errs_add(errs, "%s: not a regular file", path);
        goto done;
    }
    /* Whoever can write the config decides who gets an account. */
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        jit_errs_add(errs, "%s: must be owned by root", path);
        goto done;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        jit_errs_add(errs, "%s: must not be group- or world-writable", path);
        goto done;
    }
    if (st.st_size > (off_t) JIT_CONF_MAX_SIZE) {
        jit_errs_add(errs, "%s: larger than %u bytes", path,
                     JIT_CONF_MAX_SIZE);
        goto done;
    }
    text = malloc((size_t) st.st_size + 1);
    if (text == NULL) {
        jit_errs_add(errs, "%s: out of memory", path);
        goto done;
    }
    while (got < (size_t) st.st_size) {
        ssize_t r = read(fd, text + got, (size_t) st.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            jit_errs_add(errs, "%s: read error", path);
            goto done;
        }
        got += (size_t) r;
    }
    jit_conf_parse_buffer(c, path, text, got, errs);

done:
    free(text);
    if (fd >= 0)
        close(fd);
    return errs->n - before;
}

size_t
jit_conf_apply_args(struct jit_conf *c, int argc, const char **argv,
                    struct jit_errs *errs)
{
    unsigned char seen[N_OPTIONS] = { 0 };
    size_t before = errs->n;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        char where[48];

        snprintf(where, sizeof(where), "PAM argument %d", i + 1);
        if (eq == NULL && strcmp(a, "debug") == 0) {
            set_from(c, "debug", 5, "yes", 2, seen, where, 0, errs);
        } else if (eq == NULL || eq == a) {
            jit_errs_add(errs, "%s: expected key=value", where);
        } else if ((size_t) (eq - a) == 6 && strncmp(a, "config", 6) == 0) {
            continue;
        } else if ((size_t) (eq - a) == 7 && strncmp(a, "backend", 7) == 0) {
            continue; /* pam_jit's own: where its login backend is */
        } else {
            set_from(c, a, (size_t) (eq - a), eq + 1, 2, seen, where, 0,
                     errs);
        }
    }
    return errs->n - before;
}

size_t
jit_conf_finish(struct jit_conf *c, const char *origin, struct jit_errs *errs)
{
    size_t before = errs->n;
    int shell_ok = 0;

    if (c->api_url == NULL)
        jit_errs_add(errs, "%s: api_url: required", origin);
    if (c->uid_min > c->uid_max)
        jit_errs_add(errs, "%s: uid_min: greater than uid_max (%u > %u)",
                     origin, (unsigned) c->uid_min, (unsigned) c->uid_max);
    if (c->connect_timeout > c->timeout)
        jit_errs_add(errs, "%s: connect_timeout: longer than timeout",
                     origin);
    if ((c->client_cert == NULL) != (c->client_key == NULL))
        jit_errs_add(errs, "%s: client_cert: needs client_key, and the "
                     "other way round", origin);
    if (c->token_file != NULL && c->krb5_keytab != NULL)
        jit_errs_add(errs, "%s: token_file: and krb5_keytab both set; the "
                     "host authenticates one way (a client certificate may "
                     "go with either)", origin);
    if (strcmp(c->home_base, "/") == 0)
        jit_errs_add(errs, "%s: home_base: must not be /", origin);
    for (size_t i = 0; i < c->shells.n; i++)
        if (strcmp(c->shells.items[i], c->default_shell) == 0)
            shell_ok = 1;
    if (!shell_ok)
        jit_errs_add(errs, "%s: default_shell: not in shells", origin);
    if (c->host == NULL) {
        char name[256] = "";

        /* The host name is what the API knows us by; set `host` when the
         * kernel's name is not the FQDN the API uses. */
        if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0'
            || jit_host_problem(name) != NULL
            || (c->host = strdup(name)) == NULL)
            jit_errs_add(errs, "%s: host: not set and the host name is not "
                         "usable", origin);
    }
    return errs->n - before;
}

int
jit_conf_load(struct jit_conf *c, const char *path, int argc,
              const char **argv, struct jit_errs *errs)
{
    size_t before = errs->n;

    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "config=", 7) == 0)
            path = argv[i] + 7;
    if (jit_conf_init(c) != 0)
        return -ENOMEM;
    /* Arguments over a file that failed would only add noise to the
     * errors that matter; the cross-field checks need every source. */
    if (jit_conf_load_file(c, path, errs) == 0
        && jit_conf_apply_args(c, argc, argv, errs) == 0)
        jit_conf_finish(c, path, errs);
    if (errs->n == before)
        return 0;
    jit_conf_free(c);
    return -EINVAL;
}

static void
print_list(FILE *f, const struct jit_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s%s", i ? "," : "", l->items[i]);
}

void
jit_conf_print(const struct jit_conf *c, FILE *f)
{
    static const char *const from[] = { "default", "file", "PAM argument" };

    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &options[i];
        const void *slot = (const char *) c + o->offset;

        fprintf(f, "# %s: %s\n", o->name, from[c->origin[i] % 3]);
        switch (o->type) {
        case T_BOOL:
            fprintf(f, "%s = %s\n", o->name, *(const bool *) slot ? "yes"
                                                                  : "no");
            break;
        case T_UINT:
            fprintf(f, "%s = %u\n", o->name, (unsigned) *(const uint32_t *) slot);
            break;
        case T_ENUM:
            fprintf(f, "%s = %s\n", o->name, o->enums[*(const int *) slot]);
            break;
        case T_PATHLIST: case T_GROUPLIST:
            fprintf(f, "%s = ", o->name);
            print_list(f, slot);
            fputc('\n', f);
            break;
        default:
            if (*(char *const *) slot != NULL)
                fprintf(f, "%s = %s\n", o->name, *(char *const *) slot);
            else
                fprintf(f, "# %s is not set\n", o->name);
            break;
        }
    }
}
