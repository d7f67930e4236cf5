/* SPDX-License-Identifier: MIT */
/*
 * jitctl doctor's checks (see doctor.h and jitctl(8), "doctor").  Every
 * file read here is the admin's, not a hostile party's, but it may still
 * be anything: each is read bounded, and what it says reaches the report
 * escaped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/api.h"
#include "core/escape.h"
#include "daemon/doctor.h"
#include "daemon/status.h"
#include "login/backend.h"
#include "login/net.h"
#include "nss/nssdb_read.h"
#include "state/store.h"

/* System files are small; anything bigger is not one. */
#define DOCTOR_FILE_MAX (1024u * 1024u)

void
jit_doctor_add(struct jit_doctor *d, const char *check, int level,
               const char *fmt, ...)
{
    struct jit_doctor_item *nv;
    char *raw = NULL, *msg = NULL, *name = NULL;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&raw, fmt, ap);
    va_end(ap);
    if (r < 0)
        raw = NULL;
    msg = raw ? jit_escape(raw) : NULL;
    name = strdup(check);
    nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
    if (msg == NULL || name == NULL || nv == NULL) {
        if (nv != NULL)
            d->v = nv;
        d->oom = 1;
        goto done;
    }
    d->v = nv;
    d->v[d->n].check = name;
    d->v[d->n].level = level;
    d->v[d->n].message = msg;
    d->n++;
    name = msg = NULL;

done:
    free(raw);
    free(msg);
    free(name);
}

void
jit_doctor_free(struct jit_doctor *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].check);
        free(d->v[i].message);
    }
    free(d->v);
    d->v = NULL;
    d->n = 0;
    d->oom = 0;
}

int
jit_doctor_worst(const struct jit_doctor *d)
{
    int w = d->oom ? JIT_DOCTOR_FAIL : JIT_DOCTOR_OK;

    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level > w)
            w = d->v[i].level;
    return w;
}

const char *
jit_doctor_level_name(int level)
{
    return level == JIT_DOCTOR_OK ? "ok"
           : level == JIT_DOCTOR_WARN ? "warn" : "fail";
}

char *
jit_doctor_path(const struct jit_doctor_paths *p, const char *path)
{
    char *out = NULL;
    const char *root = p->root ? p->root : "";
    size_t n = strlen(root);

    while (n > 0 && root[n - 1] == '/')
        n--;
    if (asprintf(&out, "%.*s%s", (int) n, root, path) < 0)
        return NULL;
    return out;
}

/* The whole of a small file, NUL-terminated; 0 or -errno. */
static int
slurp(const char *path, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    ssize_t r;
    int fd, ret = 0;

    *out = NULL;
    /* O_NONBLOCK: a FIFO in an image's /etc must not hang the doctor. */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        ret = -errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        goto done;
    }
    if ((buf = malloc(DOCTOR_FILE_MAX + 1)) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    while (len < DOCTOR_FILE_MAX
           && (r = read(fd, buf + len, DOCTOR_FILE_MAX - len)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = -errno;
            goto done;
        }
        len += (size_t) r;
    }
    if (len == DOCTOR_FILE_MAX) {
        ret = -EFBIG;
        goto done;
    }
    buf[len] = '\0';
    *out = buf;
    buf = NULL;

done:
    free(buf);
    close(fd);
    return ret;
}

/* The next line of *cursor with its comment cut off (text from '#'), or
 * NULL at the end.  The buffer is cut into pieces. */
static char *
next_line(char **cursor)
{
    char *line = *cursor, *nl, *hash;

    if (line == NULL || *line == '\0')
        return NULL;
    nl = strchr(line, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = line + strlen(line);
    }
    if ((hash = strchr(line, '#')) != NULL)
        *hash = '\0';
    return line;
}

static const char *const ws = " \t\r\f\v";

/* ---- nsswitch.conf ---- */

static void
nsswitch_db(struct jit_doctor *d, const char *path, const char *text,
            const char *db)
{
    char *copy = strdup(text), *cur = copy, *line;
    char stop[64] = "";
    int found = 0, pos = 0, files = -1, jit = -1;

    if (copy == NULL) {
        d->oom = 1;
        return;
    }
    while ((line = next_line(&cur)) != NULL) {
        char *colon, *save = NULL, *tok;
        int in_action = 0;

        line += strspn(line, ws);
        colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        line[strcspn(line, ws)] = '\0';
        if (strcmp(line, db) != 0)
            continue;
        /* glibc uses the last line for a database: so do we. */
        found = 1;
        pos = 0;
        files = jit = -1;
        stop[0] = '\0';
        for (tok = strtok_r(colon + 1, ws, &save); tok != NULL;
             tok = strtok_r(NULL, ws, &save)) {
            if (in_action || tok[0] == '[') {
                /* A "not found" that returns ends the lookup there:
                 * jit, after it, is never asked for a name. */
                if (jit < 0 && stop[0] == '\0'
                    && (strcasestr(tok, "notfound=return") != NULL
                        || strcasestr(tok, "!unavail=return") != NULL))
                    snprintf(stop, sizeof(stop), "%s", tok);
                in_action = strchr(tok, ']') == NULL;
                continue;
            }
            if (files < 0 && (strcmp(tok, "files") == 0
                              || strcmp(tok, "compat") == 0))
                files = pos;
            if (jit < 0 && strcmp(tok, "jit") == 0)
                jit = pos;
            pos++;
        }
    }
    if (!found)
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_FAIL,
                       "%s: no %s line: add '%s: files jit'", path, db, db);
    else if (jit < 0)
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_FAIL,
                       "%s: %s does not list jit: add it after the other"
                       " sources ('%s: files ... jit')", path, db, db);
    else if (files < 0)
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_FAIL,
                       "%s: %s lists jit but not files: local accounts"
                       " would not resolve; write '%s: files jit'", path,
                       db, db);
    else if (jit < files)
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_FAIL,
                       "%s: %s lists jit before files: put jit after files"
                       " so that every local account wins", path, db);
    else if (stop[0] != '\0')
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_FAIL,
                       "%s: %s: the action %s before jit ends the lookup"
                       " before jit is asked: take it out", path, db, stop);
    else
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_OK,
                       "%s: jit after files", db);
    free(copy);
}

void
jit_doctor_nsswitch(struct jit_doctor *d, const char *path)
{
    static const char *const dbs[] = { "passwd", "group", "shadow" };
    char *text = NULL;
    int r = slurp(path, &text);

    if (r != 0) {
        jit_doctor_add(d, "nsswitch", JIT_DOCTOR_FAIL,
                       "%s: %s: install libnss-jit or add the lines of"
                       " nsswitch.conf.jit", path, strerror(-r));
        return;
    }
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
        nsswitch_db(d, path, text, dbs[i]);
    free(text);
}

/* ---- PAM ---- */

/* A file or directory that only its owner (root, or the caller when not
 * root) may change; NULL when it is, else what is wrong. */
static const char *
owner_problem(const struct stat *st, char *buf, size_t len)
{
    uid_t want = geteuid();

    if (st->st_uid != want) {
        snprintf(buf, len, "owned by uid %u, not %u: chown %u",
                 (unsigned) st->st_uid, (unsigned) want, (unsigned) want);
        return buf;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH))
        && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
        snprintf(buf, len, "mode %04o lets others write it: chmod go-w",
                 (unsigned) (st->st_mode & 07777));
        return buf;
    }
    return NULL;
}

void
jit_doctor_pam_module(struct jit_doctor *d, const char *moddir)
{
    char *path = NULL, why[128];
    const char *p;
    struct stat st;

    if (asprintf(&path, "%s/pam_jit.so", moddir) < 0) {
        d->oom = 1;
        return;
    }
    if (stat(path, &st) != 0)
        jit_doctor_add(d, "pam-module", JIT_DOCTOR_FAIL,
                       "%s: %s: libpam loads modules from %s only; install"
                       " libpam-jit (or configure --with-pammoddir=%s)",
                       path, strerror(errno), moddir, moddir);
    else if (!S_ISREG(st.st_mode))
        jit_doctor_add(d, "pam-module", JIT_DOCTOR_FAIL,
                       "%s: not a regular file", path);
    else if ((p = owner_problem(&st, why, sizeof(why))) != NULL)
        jit_doctor_add(d, "pam-module", JIT_DOCTOR_FAIL, "%s: %s", path, p);
    else
        jit_doctor_add(d, "pam-module", JIT_DOCTOR_OK, "%s", path);
    free(path);
}

/* pam_jit_login.so, which pam_jit.so loads for a user that may be ours:
 * checked as pam_jit.so checks it before loading it (lib/login/backend.c;
 * doc/design.md, F7), owned by the caller when not root. */
/* One of the modules pam_jit.so loads, checked as it checks them; without
 * says what fails without it. */
static void
pam_module_check(struct jit_doctor *d, const char *path, const char *without)
{
    char why[256];
    int fd = jit_backend_check(path, geteuid(), why, sizeof(why));

    if (fd >= 0) {
        close(fd);
        jit_doctor_add(d, "pam-backend", JIT_DOCTOR_OK, "%s", path);
    } else {
        jit_doctor_add(d, "pam-backend", JIT_DOCTOR_FAIL, "%s: %s: %s", path,
                       why, without);
    }
}

void
jit_doctor_pam_backend(struct jit_doctor *d, const char *path)
{
    char *net = jit_net_path(path);

    pam_module_check(d, path, "pam_jit.so denies every JIT user without it;"
                     " reinstall libpam-jit, files and directories root's"
                     " and not writable by others");
    /* Beside it, what a login loads to ask the API without the daemon's
     * relay, or to check a password (lib/login/net.h). */
    if (net != NULL)
        pam_module_check(d, net, "without jitctl daemon's relay every JIT "
                         "login is denied, and every password check; "
                         "reinstall libpam-jit");
    free(net);
}

/* The 1-based line numbers of the first pam_jit.so and pam_unix.so of
 * type in a pam.d file's text (0: none). */
static void
pamd_scan(char *text, const char *type, int *jit, int *unix_)
{
    char *cur = text, *line;
    int n = 0;

    *jit = *unix_ = 0;
    while ((line = next_line(&cur)) != NULL) {
        char *save = NULL, *tok, *module = NULL;
        int in_control = 0, field = 0;

        n++;
        for (tok = strtok_r(line, ws, &save); tok != NULL;
             tok = strtok_r(NULL, ws, &save)) {
            if (field == 0) {
                if (strcmp(tok + (tok[0] == '-'), type) != 0)
                    break;
                field = 1;
            } else if (field == 1) {
                /* [value=action ...] may span tokens */
                if (in_control || tok[0] == '[')
                    in_control = strchr(tok, ']') == NULL;
                if (!in_control)
                    field = 2;
            } else {
                module = tok;
                break;
            }
        }
        if (module == NULL)
            continue;
        module = strrchr(module, '/') ? strrchr(module, '/') + 1 : module;
        if (*jit == 0 && strcmp(module, "pam_jit.so") == 0)
            *jit = n;
        if (*unix_ == 0 && strcmp(module, "pam_unix.so") == 0)
            *unix_ = n;
    }
}

/* Whether a pam.d file's text includes common-<type> (@include) or has
 * a pam_jit line of that type of its own. */
static int
pamd_reaches(char *text, const char *type)
{
    char *copy = strdup(text), *cur = copy, *line, want[32];
    int found = 0, jit, unix_;

    if (copy == NULL)
        return 1; /* no claim without the memory to check it */
    snprintf(want, sizeof(want), "common-%s", type);
    while (!found && (line = next_line(&cur)) != NULL) {
        char *save = NULL, *a = strtok_r(line, ws, &save);
        char *b = a ? strtok_r(NULL, ws, &save) : NULL;

        found = b != NULL && strcmp(a, "@include") == 0
                && strcmp(b, want) == 0;
    }
    free(copy);
    if (!found) {
        pamd_scan(text, type, &jit, &unix_);
        found = jit != 0;
    }
    return found;
}

/* sshd's stack must reach the common file checked for it. */
static void
pamd_sshd(struct jit_doctor *d, const char *dir, const char *type)
{
    char *path = NULL, *text = NULL;
    int r;

    if (asprintf(&path, "%s/sshd", dir) < 0) {
        d->oom = 1;
        return;
    }
    r = slurp(path, &text);
    if (r == 0 && !pamd_reaches(text, type))
        jit_doctor_add(d, "pam.d", JIT_DOCTOR_WARN,
                       "%s includes no common-%s and has no pam_jit.so"
                       " %s line: pam_jit does not run for ssh logins; add"
                       " '@include common-%s'", path, type, type, type);
    else if (r != 0 && r != -ENOENT)
        jit_doctor_add(d, "pam.d", JIT_DOCTOR_WARN, "%s: %s", path,
                       strerror(-r));
    free(text);
    free(path);
}

static void
pamd_stack(struct jit_doctor *d, const char *dir, const char *type)
{
    char *path = NULL, *text = NULL;
    int jit, unix_, r;

    /* Debian's stacks live in common-*, which every service includes;
     * without them (a hand-made stack), sshd is the one that matters. */
    if (asprintf(&path, "%s/common-%s", dir, type) < 0) {
        d->oom = 1;
        return;
    }
    if ((r = slurp(path, &text)) == 0)
        pamd_sshd(d, dir, type);
    else if (r == -ENOENT) {
        free(path);
        if (asprintf(&path, "%s/sshd", dir) < 0) {
            d->oom = 1;
            return;
        }
        r = slurp(path, &text);
    }
    if (r != 0) {
        jit_doctor_add(d, "pam.d", JIT_DOCTOR_FAIL,
                       "%s: %s: no %s stack to check", path, strerror(-r),
                       type);
        goto done;
    }
    pamd_scan(text, type, &jit, &unix_);
    if (jit == 0)
        jit_doctor_add(d, "pam.d", JIT_DOCTOR_FAIL,
                       "%s: no '%s ... pam_jit.so' line: run"
                       " 'pam-auth-update --enable jit' (or add the lines of"
                       " contrib/pam.d)", path, type);
    else if (unix_ != 0 && unix_ < jit)
        jit_doctor_add(d, "pam.d", JIT_DOCTOR_FAIL,
                       "%s: pam_jit.so (line %d) comes after pam_unix.so"
                       " (line %d): pam_unix decides first; move pam_jit"
                       " before it (pam-auth-update does)", path, jit,
                       unix_);
    else
        jit_doctor_add(d, "pam.d", JIT_DOCTOR_OK,
                       "%s: %s pam_jit.so at line %d%s", path, type, jit,
                       unix_ ? ", before pam_unix.so" : "");

done:
    free(text);
    free(path);
}

void
jit_doctor_pamd(struct jit_doctor *d, const char *pamd_dir)
{
    pamd_stack(d, pamd_dir, "account");
    pamd_stack(d, pamd_dir, "session");
}

/* ---- login.defs, subordinate ids, local ids ---- */

static int
overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 <= b1 && b0 <= a1;
}

/* A login.defs number; dflt when the key is absent or not a number. */
static uint64_t
defs_get(const char *text, const char *key, uint64_t dflt)
{
    char *copy = strdup(text), *cur = copy, *line;
    uint64_t v = dflt;

    if (copy == NULL)
        return dflt;
    while ((line = next_line(&cur)) != NULL) {
        char *save = NULL, *k, *val, *end;
        unsigned long long n;

        k = strtok_r(line, ws, &save);
        val = k ? strtok_r(NULL, ws, &save) : NULL;
        if (val == NULL || strcmp(k, key) != 0)
            continue;
        errno = 0;
        n = strtoull(val, &end, 10);
        if (errno == 0 && *end == '\0' && end != val && n <= UINT32_MAX)
            v = n;
    }
    free(copy);
    return v;
}

void
jit_doctor_login_defs(struct jit_doctor *d, const struct jit_conf *conf,
                      const char *path)
{
    static const char *const kinds[] = { "UID", "GID" };
    char *text = NULL;
    int r = slurp(path, &text), bad = 0;

    if (r != 0) {
        jit_doctor_add(d, "login.defs", JIT_DOCTOR_WARN,
                       "%s: %s: checked against useradd's defaults"
                       " (1000-60000)", path, strerror(-r));
        text = strdup("");
        if (text == NULL) {
            d->oom = 1;
            return;
        }
    }
    /* jit gives each account a group of the same number: gids too. */
    for (size_t i = 0; i < 2; i++) {
        char k_min[16], k_max[16], k_sys[16];
        uint64_t lo, hi, sys;

        snprintf(k_min, sizeof(k_min), "%s_MIN", kinds[i]);
        snprintf(k_max, sizeof(k_max), "%s_MAX", kinds[i]);
        snprintf(k_sys, sizeof(k_sys), "SYS_%s_MAX", kinds[i]);
        lo = defs_get(text, k_min, 1000);
        hi = defs_get(text, k_max, 60000);
        sys = defs_get(text, k_sys, lo > 0 ? lo - 1 : 0);
        if (overlaps(conf->uid_min, conf->uid_max, 0, sys)) {
            jit_doctor_add(d, "login.defs", JIT_DOCTOR_FAIL,
                           "uid_min-uid_max (%u-%u) overlaps the system"
                           " range (%s %llu): raise uid_min", conf->uid_min,
                           conf->uid_max, k_sys, (unsigned long long) sys);
            bad = 1;
        }
        if (overlaps(conf->uid_min, conf->uid_max, lo, hi)) {
            jit_doctor_add(d, "login.defs", JIT_DOCTOR_FAIL,
                           "uid_min-uid_max (%u-%u) overlaps useradd's"
                           " range (%s %llu, %s %llu): useradd could give a"
                           " local user an id pam-jit hands out; move one"
                           " range", conf->uid_min, conf->uid_max, k_min,
                           (unsigned long long) lo, k_max,
                           (unsigned long long) hi);
            bad = 1;
        }
    }
    if (!bad)
        jit_doctor_add(d, "login.defs", JIT_DOCTOR_OK,
                       "uid_min-uid_max (%u-%u) clear of the system's and"
                       " useradd's ranges", conf->uid_min, conf->uid_max);
    free(text);
}

void
jit_doctor_subids(struct jit_doctor *d, const struct jit_conf *conf,
                  const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *text = NULL, *cur, *line;
    int r = slurp(path, &text), bad = 0, n = 0;

    if (r == -ENOENT) {
        jit_doctor_add(d, base, JIT_DOCTOR_OK, "%s: none", path);
        return;
    }
    if (r != 0) {
        jit_doctor_add(d, base, JIT_DOCTOR_WARN, "%s: %s", path,
                       strerror(-r));
        return;
    }
    cur = text;
    while ((line = next_line(&cur)) != NULL) {
        char *f1, *f2, *e1, *e2;
        unsigned long long start, count;

        n++;
        if ((f1 = strchr(line, ':')) == NULL
            || (f2 = strchr(f1 + 1, ':')) == NULL)
            continue;
        *f1++ = '\0';
        *f2++ = '\0';
        errno = 0;
        start = strtoull(f1, &e1, 10);
        count = strtoull(f2, &e2, 10);
        if (errno != 0 || e1 == f1 || e2 == f2 || count == 0)
            continue;
        if (overlaps(conf->uid_min, conf->uid_max, start,
                     start + count - 1)) {
            jit_doctor_add(d, base, JIT_DOCTOR_FAIL,
                           "%s:%d: %s's range %llu-%llu overlaps"
                           " uid_min-uid_max (%u-%u): a container's id"
                           " would be a jit account's; move one", path, n,
                           line, start, start + count - 1, conf->uid_min,
                           conf->uid_max);
            bad = 1;
        }
    }
    if (!bad)
        jit_doctor_add(d, base, JIT_DOCTOR_OK,
                       "%s: no range inside uid_min-uid_max", path);
    free(text);
}

/* Entries of a passwd or group file whose id (field 3) is in range. */
static void
ids_in(struct jit_doctor *d, const struct jit_conf *conf, const char *path,
       const char *what)
{
    char *text = NULL, *cur, *line;
    int r = slurp(path, &text), bad = 0;

    if (r != 0) {
        jit_doctor_add(d, "local-ids", JIT_DOCTOR_WARN, "%s: %s", path,
                       strerror(-r));
        return;
    }
    cur = text;
    while ((line = next_line(&cur)) != NULL) {
        char *f[3], *end;
        unsigned long long id;

        f[0] = line;
        if ((f[1] = strchr(f[0], ':')) == NULL
            || (f[2] = strchr(f[1] + 1, ':')) == NULL)
            continue;
        *f[1] = '\0';
        errno = 0;
        id = strtoull(f[2] + 1, &end, 10);
        if (errno != 0 || end == f[2] + 1 || *end != ':')
            continue;
        if (id >= conf->uid_min && id <= conf->uid_max) {
            jit_doctor_add(d, "local-ids", JIT_DOCTOR_FAIL,
                           "%s: %s %s has id %llu inside uid_min-uid_max"
                           " (%u-%u): move the range or the %s", path, what,
                           f[0], id, conf->uid_min, conf->uid_max, what);
            bad = 1;
        }
    }
    if (!bad)
        jit_doctor_add(d, "local-ids", JIT_DOCTOR_OK,
                       "%s: no %s inside uid_min-uid_max", path, what);
    free(text);
}

void
jit_doctor_ids(struct jit_doctor *d, const struct jit_conf *conf,
               const char *passwd, const char *group)
{
    ids_in(d, conf, passwd, "user");
    ids_in(d, conf, group, "group");
}

static int
group_in_file(const char *text, const char *name)
{
    size_t n = strlen(name);
    const char *p = text;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, name, n) == 0 && p[n] == ':')
            return 1;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

void
jit_doctor_groups(struct jit_doctor *d, const struct jit_conf *conf,
                  const char *group)
{
    char *text = NULL;
    int missing = 0, r;

    if (group != NULL && (r = slurp(group, &text)) != 0) {
        jit_doctor_add(d, "groups", JIT_DOCTOR_WARN,
                       "%s: %s: allowed_groups not checked", group,
                       strerror(-r));
        return;
    }
    for (size_t i = 0; i < conf->allowed_groups.n; i++) {
        const char *g = conf->allowed_groups.items[i];
        int found;

        if (text != NULL) {
            found = group_in_file(text, g);
        } else {
            struct group gr, *res = NULL;
            char buf[16384];

            found = getgrnam_r(g, &gr, buf, sizeof(buf), &res) == 0
                    && res != NULL;
        }
        if (!found) {
            jit_doctor_add(d, "groups", JIT_DOCTOR_WARN,
                           "allowed group %s does not exist: grants asking"
                           " for it get no such group; create it (groupadd"
                           " %s) or take it out of allowed_groups", g, g);
            missing = 1;
        }
    }
    if (!missing)
        jit_doctor_add(d, "groups", JIT_DOCTOR_OK,
                       "%zu allowed group(s), each exists",
                       conf->allowed_groups.n);
    free(text);
}

/* ---- files jit.conf names, state ---- */

enum file_kind { F_SECRET, F_PUBLIC, F_DIR };

static void
named_file(struct jit_doctor *d, const char *key, const char *path,
           enum file_kind kind)
{
    struct stat st;
    char why[128];
    const char *p;

    if (path == NULL)
        return;
    /* The API client opens a secret with O_NOFOLLOW, and takes root's
     * only (api.c): the doctor holds it to the same rule. */
    if (kind == F_SECRET && lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            jit_doctor_add(d, "files", JIT_DOCTOR_FAIL,
                           "%s = %s: a symlink, which the API client"
                           " refuses: name the file itself", key, path);
            return;
        }
        if (st.st_uid != 0) {
            jit_doctor_add(d, "files", JIT_DOCTOR_FAIL,
                           "%s = %s: owned by uid %u; the API client takes"
                           " root's only: chown root %s", key, path,
                           (unsigned) st.st_uid, path);
            return;
        }
    }
    if (stat(path, &st) != 0) {
        jit_doctor_add(d, "files", JIT_DOCTOR_FAIL, "%s = %s: %s", key, path,
                       strerror(errno));
        return;
    }
    if (kind == F_DIR ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
        jit_doctor_add(d, "files", JIT_DOCTOR_FAIL, "%s = %s: not a %s", key,
                       path, kind == F_DIR ? "directory" : "regular file");
        return;
    }
    if ((p = owner_problem(&st, why, sizeof(why))) != NULL) {
        jit_doctor_add(d, "files", JIT_DOCTOR_FAIL, "%s = %s: %s", key, path,
                       p);
        return;
    }
    if (kind == F_SECRET && (st.st_mode & 077)) {
        jit_doctor_add(d, "files", JIT_DOCTOR_FAIL,
                       "%s = %s: mode %04o lets others read a secret: chmod"
                       " 600 %s", key, path, (unsigned) (st.st_mode & 07777),
                       path);
        return;
    }
    jit_doctor_add(d, "files", JIT_DOCTOR_OK, "%s = %s: uid %u, mode %04o",
                   key, path, (unsigned) st.st_uid,
                   (unsigned) (st.st_mode & 07777));
}

void
jit_doctor_files(struct jit_doctor *d, const struct jit_conf *conf)
{
    named_file(d, "token_file", conf->token_file, F_SECRET);
    named_file(d, "client_key", conf->client_key, F_SECRET);
    named_file(d, "krb5_keytab", conf->krb5_keytab, F_SECRET);
    named_file(d, "ca_file", conf->ca_file, F_PUBLIC);
    named_file(d, "client_cert", conf->client_cert, F_PUBLIC);
    if (conf->pinned_pubkey != NULL && conf->pinned_pubkey[0] == '/')
        named_file(d, "pinned_pubkey", conf->pinned_pubkey, F_PUBLIC);
    named_file(d, "home_base", conf->home_base, F_DIR);
    named_file(d, "skel", conf->skel, F_DIR);
    if (conf->token_file == NULL && conf->client_cert == NULL
        && conf->krb5_keytab == NULL)
        jit_doctor_add(d, "files", JIT_DOCTOR_WARN,
                       "no credential (token_file, client_cert or"
                       " krb5_keytab): the API must take hosts unnamed");
}

void
jit_doctor_state(struct jit_doctor *d, const struct jit_conf *conf,
                 const char *nss_state_dir)
{
    char *snap = NULL, why[128], a[PATH_MAX], b[PATH_MAX];
    struct jit_nssdb db;
    struct stat st;
    const char *p;
    int r;

    if (stat(conf->state_dir, &st) != 0) {
        jit_doctor_add(d, "state", JIT_DOCTOR_FAIL,
                       "state_dir = %s: %s: mkdir -m 755 %s, then jitctl"
                       " sync", conf->state_dir, strerror(errno),
                       conf->state_dir);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        jit_doctor_add(d, "state", JIT_DOCTOR_FAIL,
                       "state_dir = %s: not a directory", conf->state_dir);
        return;
    }
    if ((p = owner_problem(&st, why, sizeof(why))) != NULL) {
        jit_doctor_add(d, "state", JIT_DOCTOR_FAIL, "state_dir = %s: %s",
                       conf->state_dir, p);
        return;
    }
    jit_doctor_add(d, "state", JIT_DOCTOR_OK, "state_dir = %s",
                   conf->state_dir);
    if (asprintf(&snap, "%s/%s", conf->state_dir, JIT_STORE_SNAPSHOT) < 0) {
        d->oom = 1;
        return;
    }
    memset(&db, 0, sizeof(db));
    r = jit_nssdb_map(snap, geteuid(), &db, &st);
    if (r == -ENOENT)
        jit_doctor_add(d, "snapshot", JIT_DOCTOR_WARN,
                       "%s: none yet: nss_jit resolves no account until"
                       " jitctl sync (or the daemon) writes it", snap);
    else if (r != 0)
        jit_doctor_add(d, "snapshot", JIT_DOCTOR_FAIL,
                       "%s: %s: run jitctl sync to write it again", snap,
                       strerror(-r));
    else
        jit_doctor_add(d, "snapshot", JIT_DOCTOR_OK, "%s: valid", snap);
    if (r == 0)
        jit_nssdb_unmap(&db);
    /* nss_jit's path is built in; a state_dir elsewhere is never read. */
    if (nss_state_dir != NULL
        && (realpath(nss_state_dir, a) == NULL
            || realpath(conf->state_dir, b) == NULL || strcmp(a, b) != 0))
        jit_doctor_add(d, "snapshot", JIT_DOCTOR_FAIL,
                       "nss_jit reads its snapshot in %s, not in state_dir"
                       " = %s: no account would resolve; set state_dir to"
                       " %s", nss_state_dir, conf->state_dir, nss_state_dir);
    free(snap);
}

/* ---- caches ---- */

void
jit_doctor_caches(struct jit_doctor *d, const char *nscd_conf,
                  const char *sssd_conf)
{
    char *text = NULL, *cur, *line;
    int passwd = 0, group = 0;
    struct stat st;

    if (slurp(nscd_conf, &text) != 0) {
        jit_doctor_add(d, "caches", JIT_DOCTOR_OK, "%s: no nscd", nscd_conf);
    } else {
        cur = text;
        while ((line = next_line(&cur)) != NULL) {
            char *save = NULL, *k = strtok_r(line, ws, &save);
            char *db = k ? strtok_r(NULL, ws, &save) : NULL;
            char *v = db ? strtok_r(NULL, ws, &save) : NULL;

            if (v == NULL || strcmp(k, "enable-cache") != 0)
                continue;
            if (strcmp(db, "passwd") == 0)
                passwd = strcasecmp(v, "yes") == 0;
            else if (strcmp(db, "group") == 0)
                group = strcasecmp(v, "yes") == 0;
        }
        if (passwd || group)
            jit_doctor_add(d, "caches", JIT_DOCTOR_WARN,
                           "%s: nscd caches%s%s: a name looked up before"
                           " its grant stays unknown until nscd's negative"
                           " cache times out; set 'enable-cache passwd no'"
                           " and 'enable-cache group no'", nscd_conf,
                           passwd ? " passwd" : "", group ? " group" : "");
        else
            jit_doctor_add(d, "caches", JIT_DOCTOR_OK,
                           "%s: passwd and group not cached", nscd_conf);
    }
    free(text);
    if (stat(sssd_conf, &st) == 0)
        jit_doctor_add(d, "caches", JIT_DOCTOR_OK,
                       "%s: sssd caches its own domains only; keep jit"
                       " after sss in nsswitch.conf", sssd_conf);
}

/* ---- sshd ---- */

void
jit_doctor_sshd_text(struct jit_doctor *d, const char *text,
                     const char *jitctl)
{
    char *copy = strdup(text), *cur = copy, *line;
    char *usepam = NULL, *akc = NULL, *akcu = NULL;

    if (copy == NULL) {
        d->oom = 1;
        return;
    }
    while ((line = next_line(&cur)) != NULL) {
        char *v;

        line += strspn(line, ws);
        v = line + strcspn(line, ws);
        if (*v != '\0')
            *v++ = '\0';
        v += strspn(v, ws);
        v[strcspn(v, "\r")] = '\0';
        if (strcasecmp(line, "usepam") == 0)
            usepam = v;
        else if (strcasecmp(line, "authorizedkeyscommand") == 0)
            akc = v;
        else if (strcasecmp(line, "authorizedkeyscommanduser") == 0)
            akcu = v;
    }
    if (usepam == NULL || strcasecmp(usepam, "yes") != 0)
        jit_doctor_add(d, "sshd", JIT_DOCTOR_FAIL,
                       "UsePAM is %s: pam_jit never runs for ssh; set"
                       " 'UsePAM yes'", usepam ? usepam : "not set");
    else
        jit_doctor_add(d, "sshd", JIT_DOCTOR_OK, "UsePAM yes");
    if (akc == NULL || *akc == '\0' || strcasecmp(akc, "none") == 0) {
        jit_doctor_add(d, "sshd", JIT_DOCTOR_WARN,
                       "no AuthorizedKeysCommand: the keys of a grant do not"
                       " log in; install /etc/ssh/sshd_config.d/jit.conf"
                       " (package jitctl)");
    } else {
        size_t n = strcspn(akc, ws);
        char *prog = strndup(akc, n);
        const char *base = prog && strrchr(prog, '/')
                               ? strrchr(prog, '/') + 1 : prog;

        if (prog == NULL)
            d->oom = 1;
        else if (strcmp(base, "jitctl") != 0
                 || strstr(akc + n, "authorized-keys") == NULL
                 || strstr(akc + n, "%u") == NULL)
            jit_doctor_add(d, "sshd", JIT_DOCTOR_WARN,
                           "AuthorizedKeysCommand is '%s', not 'jitctl"
                           " authorized-keys %%u': the keys of a grant do"
                           " not log in", akc);
        else if (jitctl != NULL && strcmp(prog, jitctl) != 0)
            jit_doctor_add(d, "sshd", JIT_DOCTOR_FAIL,
                           "AuthorizedKeysCommand runs %s, not this jitctl:"
                           " point it at %s", prog, jitctl);
        else if (access(prog, X_OK) != 0)
            jit_doctor_add(d, "sshd", JIT_DOCTOR_FAIL,
                           "AuthorizedKeysCommand runs %s: %s", prog,
                           strerror(errno));
        else
            jit_doctor_add(d, "sshd", JIT_DOCTOR_OK,
                           "AuthorizedKeysCommand %s", akc);
        free(prog);
        if (akcu == NULL || strcmp(akcu, "root") != 0)
            jit_doctor_add(d, "sshd", JIT_DOCTOR_FAIL,
                           "AuthorizedKeysCommandUser is %s: jitctl reads"
                           " the root-only store; set it to root",
                           akcu ? akcu : "not set");
        else
            jit_doctor_add(d, "sshd", JIT_DOCTOR_OK,
                           "AuthorizedKeysCommandUser root");
    }
    free(copy);
}

/* Run argv (no shell), its stdout into *out (bounded) unless out is
 * NULL; its exit status, or -1 when it could not run. */
static int
run(char *const argv[], char **out)
{
    char *const envp[] = { NULL };
    char *buf = NULL;
    size_t len = 0;
    int p[2] = { -1, -1 }, status = 0, ret = -1;
    pid_t pid;

    if (out != NULL) {
        *out = NULL;
        if ((buf = malloc(DOCTOR_FILE_MAX + 1)) == NULL)
            return -1;
    }
    if (pipe2(p, O_CLOEXEC) != 0)
        goto done;
    if ((pid = fork()) < 0)
        goto done;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* stderr too: a failure's reason is the admin's next step. */
        if (null < 0 || dup2(null, 0) < 0 || dup2(out ? p[1] : null, 2) < 0
            || dup2(out ? p[1] : null, 1) < 0)
            _exit(127);
        /* An empty environment, as leftovers.c runs nscd. */
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    p[1] = -1;
    for (;;) {
        char sink[4096];
        ssize_t r = out && len < DOCTOR_FILE_MAX
                        ? read(p[0], buf + len, DOCTOR_FILE_MAX - len)
                        : read(p[0], sink, sizeof(sink));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (out && len < DOCTOR_FILE_MAX)
            len += (size_t) r;
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            goto done;
    ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (out != NULL) {
        buf[len] = '\0';
        *out = buf;
        buf = NULL;
    }

done:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    free(buf);
    return ret;
}

void
jit_doctor_sshd(struct jit_doctor *d, const char *sshd, const char *jitctl)
{
    char *argv[] = { (char *) sshd, (char *) "-T", NULL };
    char *out = NULL;
    int r;

    if (access(sshd, X_OK) != 0) {
        jit_doctor_add(d, "sshd", JIT_DOCTOR_OK,
                       "%s is not installed: not checked", sshd);
        return;
    }
    r = run(argv, &out);
    if (r != 0 || out == NULL) {
        if (out != NULL)
            out[strcspn(out, "\r\n")] = '\0';
        jit_doctor_add(d, "sshd", JIT_DOCTOR_FAIL,
                       "%s -T failed (status %d%s%s): fix what it says"
                       " ('%s -t' as root)", sshd, r,
                       out && *out ? ": " : "", out ? out : "", sshd);
    }
    else
        jit_doctor_sshd_text(d, out, jitctl);
    free(out);
}

/* ---- API, daemon, outbox ---- */

void
jit_doctor_api_answer(struct jit_doctor *d, const struct jit_conf *conf,
                      long http, const char *reason, const char *detail,
                      int64_t date, int64_t now)
{
    int64_t skew;

    if (http == 0) {
        const char *hint =
            reason == NULL ? "" :
            strcmp(reason, "tls_error") == 0
                ? ": check ca_file and pinned_pubkey against the API's"
                  " certificate" :
            strcmp(reason, "token_error") == 0
                ? ": fix token_file" :
            strcmp(reason, "key_error") == 0
                ? ": fix client_key" :
            strcmp(reason, "krb5_error") == 0
                ? ": check krb5_keytab and krb5_principal"
                : ": check api_url, the network and the API's service";

        jit_doctor_add(d, "api", JIT_DOCTOR_FAIL,
                       "API at %s not reached (%s: %s)%s", conf->api_url,
                       reason ? reason : "unknown", detail ? detail : "",
                       hint);
        return;
    }
    if (http == 200)
        jit_doctor_add(d, "api", JIT_DOCTOR_OK,
                       "API at %s answered; credential accepted",
                       conf->api_url);
    else if (http == 401)
        jit_doctor_add(d, "api", JIT_DOCTOR_FAIL,
                       "%s rejected by the API (HTTP 401): put the host's"
                       " current %s",
                       conf->token_file ? "token" : "credential",
                       conf->token_file ? "token in token_file"
                                        : "credential in place");
    else if (http == 403 || http == 404)
        jit_doctor_add(d, "api", JIT_DOCTOR_FAIL,
                       "the API refuses host = %s (HTTP %ld): is the host"
                       " registered under that name, and the credential"
                       " its own?", conf->host, http);
    else
        jit_doctor_add(d, "api", JIT_DOCTOR_FAIL,
                       "the API answered HTTP %ld: see its logs", http);
    if (date < 0) {
        jit_doctor_add(d, "clock", JIT_DOCTOR_WARN,
                       "the API sent no Date: the clock is not checked");
        return;
    }
    skew = now > date ? now - date : date - now;
    if (skew > (int64_t) conf->clock_skew)
        jit_doctor_add(d, "clock", JIT_DOCTOR_FAIL,
                       "this clock is %lld s %s the API's (clock_skew ="
                       " %u): grants start and end at the wrong time; fix"
                       " time sync (timedatectl, chrony)", (long long) skew,
                       now > date ? "ahead of" : "behind", conf->clock_skew);
    else if (skew * 2 > (int64_t) conf->clock_skew)
        jit_doctor_add(d, "clock", JIT_DOCTOR_WARN,
                       "this clock is %lld s off the API's, over half of"
                       " clock_skew (%u): check time sync", (long long) skew,
                       conf->clock_skew);
    else
        jit_doctor_add(d, "clock", JIT_DOCTOR_OK,
                       "within %lld s of the API's", (long long) skew);
}

void
jit_doctor_api(struct jit_doctor *d, const struct jit_conf *conf)
{
    struct jit_api_error err = { NULL, "", 0 };
    int64_t date = -1;
    long http = 0;

    if (jit_api_probe(conf, &http, &date, &err) != JIT_API_OK)
        http = 0;
    jit_doctor_api_answer(d, conf, http, err.reason, err.detail, date,
                          (int64_t) time(NULL));
}

static int
unit_active(const char *systemctl, const char *unit)
{
    char *argv[] = { (char *) systemctl, (char *) "is-active", (char *) "-q",
                     (char *) unit, NULL };

    return run(argv, NULL) == 0;
}

void
jit_doctor_daemon(struct jit_doctor *d, const struct jit_conf *conf,
                  const char *systemctl, int64_t now)
{
    struct jit_daemon_status st;
    int r = jit_status_read(conf, &st), timer = 0;
    const char *health = jit_status_health(r, &st, now);

    if (systemctl != NULL)
        timer = unit_active(systemctl, "jit-sync.timer");
    if (strcmp(health, "running") == 0 && timer)
        jit_doctor_add(d, "daemon", JIT_DOCTOR_FAIL,
                       "the daemon (pid %ld) and jit-sync.timer both run:"
                       " use one (systemctl disable --now jit-sync.timer)",
                       (long) st.pid);
    else if (strcmp(health, "running") == 0)
        jit_doctor_add(d, "daemon", JIT_DOCTOR_OK,
                       "running (pid %ld), status %lld s old", (long) st.pid,
                       (long long) (now - st.updated));
    else if (strcmp(health, "stuck") == 0)
        jit_doctor_add(d, "daemon", JIT_DOCTOR_FAIL,
                       "the daemon (pid %ld) has not written its status for"
                       " %lld s: systemctl restart jit-reaper.service",
                       (long) st.pid, (long long) (now - st.updated));
    else if (strcmp(health, "dead") == 0)
        jit_doctor_add(d, "daemon", JIT_DOCTOR_FAIL,
                       "the daemon (pid %ld) is gone without stopping:"
                       " journalctl -u jit-reaper.service, then systemctl"
                       " restart jit-reaper.service", (long) st.pid);
    else if (timer) {
        /* The timer leaves no status file: its service's last result
         * says whether its rounds work. */
        char *argv[] = { (char *) systemctl, (char *) "show", (char *) "-P",
                         (char *) "Result", (char *) "jit-sync.service",
                         NULL };
        char *out = NULL;

        if (run(argv, &out) == 0 && out != NULL) {
            out[strcspn(out, "\r\n")] = '\0';
            if (strcmp(out, "success") == 0)
                jit_doctor_add(d, "daemon", JIT_DOCTOR_OK,
                               "jit-sync.timer runs (no daemon), its last"
                               " round succeeded");
            else
                jit_doctor_add(d, "daemon", JIT_DOCTOR_FAIL,
                               "jit-sync.timer runs, but its last round"
                               " ended with %s: journalctl -u"
                               " jit-sync.service", out);
        } else {
            jit_doctor_add(d, "daemon", JIT_DOCTOR_WARN,
                           "jit-sync.timer runs; its last round is not"
                           " known (systemctl show failed)");
        }
        free(out);
    }
    else
        jit_doctor_add(d, "daemon", JIT_DOCTOR_FAIL,
                       "neither the daemon nor jit-sync.timer runs (daemon:"
                       " %s): accounts are not reaped at their end;"
                       " systemctl enable --now jit-reaper.service", health);
    /* "unknown": its first long poll waits on an unchanged list. */
    if (strcmp(health, "running") == 0 && strcmp(st.api, "ok") != 0
        && strcmp(st.api, "unknown") != 0)
        jit_doctor_add(d, "daemon", JIT_DOCTOR_WARN,
                       "the daemon's last call to the API failed: %s",
                       st.api);
}

void
jit_doctor_outbox(struct jit_doctor *d, const struct jit_conf *conf,
                  int64_t count)
{
    if (count == -ENOENT)
        jit_doctor_add(d, "outbox", JIT_DOCTOR_OK,
                       "no state store yet: no event waiting");
    else if (count < 0)
        jit_doctor_add(d, "outbox", JIT_DOCTOR_FAIL,
                       "the state store does not open (%s): see jitctl"
                       " status", strerror((int) -count));
    else if (count >= (int64_t) conf->outbox_max)
        jit_doctor_add(d, "outbox", JIT_DOCTOR_FAIL,
                       "%lld events waiting, at outbox_max (%u): the oldest"
                       " login and session events are dropped; get the API"
                       " back, then jitctl flush", (long long) count,
                       conf->outbox_max);
    else if (count * 5 >= (int64_t) conf->outbox_max * 4)
        jit_doctor_add(d, "outbox", JIT_DOCTOR_WARN,
                       "%lld events waiting, over 80%% of outbox_max (%u):"
                       " is the API taking events? jitctl flush",
                       (long long) count, conf->outbox_max);
    else
        jit_doctor_add(d, "outbox", JIT_DOCTOR_OK,
                       "%lld events waiting (outbox_max %u)",
                       (long long) count, conf->outbox_max);
}

void
jit_doctor_run(struct jit_doctor *d, const struct jit_conf *conf,
               const struct jit_doctor_paths *paths, const char *jitctl,
               int64_t outbox)
{
    const int live = paths->root == NULL || paths->root[0] == '\0';
    char *p[12] = { NULL };
    const char *rel[12] = {
        "/etc/nsswitch.conf", "/etc/pam.d", "/etc/login.defs",
        "/etc/subuid", "/etc/subgid", "/etc/passwd", "/etc/group",
        "/etc/nscd.conf", "/etc/sssd/sssd.conf", NULL, NULL, NULL };
    struct stat st;
    const char *systemctl = NULL;
    int oom = 0;

    rel[9] = paths->pam_moddir;
    rel[10] = paths->state_dir;
    rel[11] = paths->backend != NULL ? paths->backend : JIT_LOGIN_BACKEND;
    for (size_t i = 0; i < 12; i++)
        if ((p[i] = jit_doctor_path(paths, rel[i])) == NULL)
            oom = 1;
    if (oom) {
        d->oom = 1;
        goto done;
    }
    jit_doctor_nsswitch(d, p[0]);
    jit_doctor_pam_module(d, p[9]);
    jit_doctor_pam_backend(d, p[11]);
    jit_doctor_pamd(d, p[1]);
    /* sshd -T reads the running system's files: not an image's. */
    if (live)
        jit_doctor_sshd(d, "/usr/sbin/sshd", jitctl);
    jit_doctor_files(d, conf);
    jit_doctor_state(d, conf, p[10]);
    jit_doctor_api(d, conf);
    if (live && stat("/run/systemd/system", &st) == 0)
        systemctl = access("/usr/bin/systemctl", X_OK) == 0
                        ? "/usr/bin/systemctl" : "/bin/systemctl";
    jit_doctor_daemon(d, conf, systemctl, (int64_t) time(NULL));
    jit_doctor_outbox(d, conf, outbox);
    jit_doctor_login_defs(d, conf, p[2]);
    jit_doctor_subids(d, conf, p[3]);
    jit_doctor_subids(d, conf, p[4]);
    jit_doctor_ids(d, conf, p[5], p[6]);
    jit_doctor_groups(d, conf, live ? NULL : p[6]);
    jit_doctor_caches(d, p[7], p[8]);

done:
    for (size_t i = 0; i < 12; i++)
        free(p[i]);
}
