/* SPDX-License-Identifier: MIT */
/* jit-apid alerts (see alerts.h). */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include "alerts.h"
#include "api.h"
#include "apid.h"
#include "core/timefmt.h"
#include "core/validate.h"

/* execve wants char *const[]; the strings are never written. */
#define S(x) ((char *) (uintptr_t) (x))

static const char *const types[APID_ALERT_TYPES] = {
    "account.created", "account.enabled", "account.disable_failed",
};

const char *
apid_alert_type_name(int i)
{
    return i >= 0 && i < APID_ALERT_TYPES ? types[i] : NULL;
}

static int
type_bit(const char *t)
{
    for (int i = 0; i < APID_ALERT_TYPES; i++)
        if (strcmp(t, types[i]) == 0)
            return 1 << i;
    return 0;
}

/* A mail address that cannot break a header or look like an option:
 * local@domain of letters, digits and ._%+- only. */
static int
address_ok(const char *a)
{
    const char *at = strchr(a, '@');

    if (at == NULL || at == a || at[1] == '\0' || a[0] == '-'
        || strchr(at + 1, '@') != NULL || strlen(a) > 254)
        return 0;
    for (const char *c = a; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || strchr("._%+-@", *c)))
            return 0;
    return 1;
}

/* A URL of printable ASCII, no space: nothing a request line or a log
 * line would take for more than the URL; at most 2048 bytes
 * (doc/design.md, G6). */
static int
url_ok(const char *u)
{
    if (strlen(u) > 2048)
        return 0;
    for (; *u; u++)
        if ((unsigned char) *u <= 0x20 || (unsigned char) *u >= 0x7f)
            return 0;
    return 1;
}

/* A webhook key's bytes from fd (taken, and closed): a regular file of
 * jit-apid's user or root, 0600 or stricter, of 16 to 1024 bytes (a
 * trailing newline is not part of it).  shown: how err names it; vague:
 * if not NULL, err for every fault (an admin's key over the API: what
 * is wrong with the file is none of the admin's business). */
static int
read_secret(int fd, const char *key, const char *shown, const char *vague,
            unsigned char **secret, size_t *secret_len, char *err,
            size_t errlen)
{
    unsigned char buf[1026];
    struct stat st;
    ssize_t n = -1;
    int ret = 0;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || (st.st_uid != geteuid() && st.st_uid != 0)
        || (st.st_mode & 077) != 0) {
        ret = vague ? apid_bad(err, errlen, "%s", vague)
                    : apid_bad(err, errlen, "%s %s: must be a regular file"
                               " of jit-apid's user or root, mode 0600 or"
                               " stricter", key, shown);
        goto done;
    }
    n = read(fd, buf, sizeof(buf));
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n < 16 || n > 1024) {
        ret = vague ? apid_bad(err, errlen, "%s", vague)
                    : apid_bad(err, errlen, "%s %s: %s", key, shown,
                               n < 0 ? strerror(errno)
                                     : "the secret must be 16 to 1024"
                                       " bytes");
        goto done;
    }
    if ((*secret = malloc((size_t) n)) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    memcpy(*secret, buf, (size_t) n);
    *secret_len = (size_t) n;

done:
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return ret;
}

/* The webhooks' HMAC key at an absolute path root wrote (the alerts file,
 * or a recipient it seeded). */
static int
load_secret(const char *key, const char *path, unsigned char **secret,
            size_t *secret_len, char *err, size_t errlen)
{
    int fd;

    if (path[0] != '/')
        return apid_bad(err, errlen, "%s: an absolute path", key);
    /* It is echoed into the operations log and onto terminals: plain
     * text, and no . or .. component to walk out of where it seems to
     * point. */
    if (!apid_plain_text(path, 4096) || jit_path_normal_problem(path) != NULL)
        return apid_bad(err, errlen, "%s: a plain absolute path (no control"
                        " characters, no . or .. components)", key);
    /* O_NONBLOCK: a FIFO in its place must not hang the start. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return apid_bad(err, errlen, "%s %s: %s", key, path, strerror(errno));
    return read_secret(fd, key, path, NULL, secret, secret_len, err, errlen);
}

/* A key file's name in webhook_key_dir: letters, digits, '.', '_', '-',
 * not starting with '.' (no "..", no hidden file), at most 255 bytes. */
static int
key_name_ok(const char *n)
{
    size_t len = strlen(n);

    if (len == 0 || len > 255 || n[0] == '.')
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z')
              || (*n >= '0' && *n <= '9') || strchr("._-", *n)))
            return 0;
    return 1;
}

const char *
apid_alerts_key_name(const struct apid_alerts *a, const char *sf, char *err,
                     size_t errlen)
{
    size_t dl;

    if (a->key_dir == NULL) {
        apid_bad(err, errlen, "secret_file: not taken over the API (jit-apid"
                 " has no webhook_key_dir; the alerts file may name one)");
        return NULL;
    }
    dl = strlen(a->key_dir);
    /* The directory's own path to it, as jit alerts may pass it. */
    if (strncmp(sf, a->key_dir, dl) == 0 && sf[dl] == '/')
        sf += dl + 1;
    if (!key_name_ok(sf)) {
        apid_bad(err, errlen, "secret_file: the name of a key file in"
                 " webhook_key_dir %s (letters, digits, ._-)", a->key_dir);
        return NULL;
    }
    return sf;
}

/* A key named in webhook_key_dir (by an admin over the API), opened from
 * the directory without following a link (doc/design.md, G7): whatever
 * else jit-apid can read stays out of an admin's reach, and a refusal
 * says the same for a file that is missing, a link, another's, readable
 * by others or of the wrong size. */
static int
load_dir_secret(const struct apid_alerts *a, const char *key,
                const char *name, unsigned char **secret, size_t *secret_len,
                char *err, size_t errlen)
{
    char vague[512];
    struct stat pre, st;
    int dfd, fd;

    if (a->key_dir == NULL)
        return apid_bad(err, errlen, "%s %s: a key file's name, and jit-apid"
                        " has no webhook_key_dir", key, name);
    if (!key_name_ok(name))
        return apid_bad(err, errlen, "%s: the name of a key file in"
                        " webhook_key_dir (letters, digits, ._-)", key);
    snprintf(vague, sizeof(vague), "%s: no usable key %s in webhook_key_dir"
             " (a regular file, not a link, of jit-apid's user or root, mode"
             " 0600 or stricter, of 16 to 1024 bytes)", key, name);
    dfd = open(a->key_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return apid_bad(err, errlen, "%s", vague);
    /* Its type before it is opened (a device's open may act), and one
     * name only: a hard link is a file of elsewhere (another's secret,
     * linked in by someone who could write the directory, or left
     * behind when the original is replaced) that its mode and owner do
     * not tell apart. */
    fd = -1;
    if (fstatat(dfd, name, &pre, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISREG(pre.st_mode) && pre.st_nlink == 1)
        /* O_NONBLOCK: a FIFO swapped in must not hang the deliverer or
         * a request. */
        fd = openat(dfd, name,
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    close(dfd);
    /* The file looked at is the file opened (not one swapped in). */
    if (fd >= 0
        && (fstat(fd, &st) != 0 || st.st_dev != pre.st_dev
            || st.st_ino != pre.st_ino || st.st_nlink != 1)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        return apid_bad(err, errlen, "%s", vague);
    return read_secret(fd, key, name, vague, secret, secret_len, err, errlen);
}

int
apid_alerts_key_dir_ok(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    int fd;

    if (dir == NULL)
        return 0;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return apid_bad(err, errlen, "webhook_key_dir %s: %s", dir,
                        strerror(errno));
    if (fstat(fd, &st) != 0 || (st.st_uid != 0 && st.st_uid != geteuid())
        || (st.st_mode & 022) != 0) {
        close(fd);
        return apid_bad(err, errlen, "webhook_key_dir %s: must be a"
                        " directory of root or jit-apid's user, not"
                        " writable by group or others", dir);
    }
    close(fd);
    return 0;
}

static unsigned
types_mask(json_t *a, const char *where, char *err, size_t errlen, int *ret)
{
    unsigned m = 0;
    size_t i;
    json_t *x;

    *ret = 0;
    if (!json_is_array(a)) {
        *ret = apid_bad(err, errlen, "%s: a list of alert types", where);
        return 0;
    }
    json_array_foreach(a, i, x)
    {
        int b = json_is_string(x) ? type_bit(json_string_value(x)) : 0;

        if (b == 0) {
            *ret = apid_bad(err, errlen, "%s[%zu]: account.created,"
                       " account.enabled or account.disable_failed", where, i);
            return 0;
        }
        m |= (unsigned) b;
    }
    return m;
}

static void
free_recipients(struct apid_recipient *r, size_t n)
{
    for (size_t i = 0; r && i <= n; i++) {
        if (r[i].secret != NULL)
            explicit_bzero(r[i].secret, r[i].secret_len);
        free(r[i].secret);
        if (i == n)
            break; /* a half-loaded entry: only its secret */
        free(r[i].channel);
        free(r[i].target);
    }
    free(r);
}

/* Recipient i of the settings (r) into *o, checked against a's mail and
 * webhook settings; 0, or -EINVAL with err set (*o's secret, if one was
 * read, left for the caller to free). */
static int
parse_recipient(json_t *r, size_t i, const struct apid_alerts *a,
                int origin, struct apid_recipient *o, char *err,
                size_t errlen)
{
    int ret = 0;
    const char *email = json_string_value(json_object_get(r, "email"));
    const char *hook = json_string_value(json_object_get(r, "webhook"));
    const char *dgroup = json_string_value(json_object_get(r,
                                                           "directory_group"));
    json_t *sf;
    char where[48], gtarget[300];

    /* A directory group's members, at their mail, at each delivery
     * (group_mail below); kept as "group:NAME". */
    if (dgroup != NULL && email == NULL && hook == NULL) {
        /* No control character: it is shown in the operations log. */
        if (!apid_plain_text(dgroup, 250) || strpbrk(dgroup, " ,") != NULL) {
            return apid_bad(err, errlen, "recipients[%zu].directory_group:"
                           " a group's name (cn)", i);
        }
        snprintf(gtarget, sizeof(gtarget), "group:%s", dgroup);
        email = gtarget;
    } else if (dgroup != NULL || (email == NULL) == (hook == NULL)) {
        return apid_bad(err, errlen, "recipients[%zu]: email, webhook or"
                       " directory_group", i);
    }
    if (email != NULL && dgroup == NULL && !address_ok(email)) {
        return apid_bad(err, errlen, "recipients[%zu].email: a plain address"
                  " (letters, digits, ._%%+- and one @)", i);
    }
    if (hook != NULL && (strncmp(hook, "https://", 8) != 0
                         || !url_ok(hook))) {
        return apid_bad(err, errlen, "recipients[%zu].webhook: an https URL",
                  i);
    }
    /* Its own key, so that no receiver holds another's and can sign
     * alerts it would take for jit-apid's. */
    sf = json_object_get(r, "secret_file");
    if (sf != NULL && (hook == NULL || !json_is_string(sf))) {
        return apid_bad(err, errlen, "recipients[%zu].secret_file: a"
                       " webhook's, an absolute path", i);
    }
    snprintf(where, sizeof(where), "recipients[%zu].secret_file", i);
    /* A path: root's (the alerts file, or the database it seeded); a
     * name: a file of webhook_key_dir, the only kind the API takes. */
    if (sf != NULL && json_string_value(sf)[0] == '/'
        && origin == APID_ALERTS_FROM_API)
        return apid_bad(err, errlen, "%s: the name of a key file in"
                        " webhook_key_dir", where);
    if (sf != NULL
        && (ret = json_string_value(sf)[0] == '/'
                      ? load_secret(where, json_string_value(sf),
                                    &o->secret, &o->secret_len, err, errlen)
                      : load_dir_secret(a, where, json_string_value(sf),
                                        &o->secret, &o->secret_len, err,
                                        errlen)) != 0)
        return ret;
    /* An unsigned alert is one anybody could have sent the receiver. */
    if (hook != NULL && a->hook_secret == NULL && o->secret == NULL) {
        return apid_bad(err, errlen, "recipients[%zu]: a webhook needs a"
                       " secret_file or webhook_secret_file (its"
                       " signature's key)", i);
    }
    snprintf(where, sizeof(where), "recipients[%zu].types", i);
    if (email != NULL && (a->n_sendmail == 0 || a->from == NULL)) {
        return apid_bad(err, errlen, "recipients[%zu]: mail needs sendmail"
                  " and from", i);
    }
    o->types = types_mask(json_object_get(r, "types"), where, err, errlen,
                          &ret);
    if (ret != 0)
        return ret;
    if (a->no_groups && dgroup != NULL)
        return apid_bad(err, errlen, "recipients[%zu]: a directory_group"
                        " needs people_source ldap or both", i);
    o->channel = strdup(email ? "email" : "webhook");
    o->target = strdup(email ? email : hook);
    return o->channel && o->target ? 0 : -ENOMEM;
}

/* One recipient's fault: strict (the file, a change by the API) fails
 * with it; else (the database's settings) it is logged and the
 * recipient left out, so that one bad item never stops the others'
 * alerts. */
static int
recipient_fault(int strict, int ret, const char *err)
{
    if (strict || ret == -ENOMEM)
        return ret;
    fprintf(stderr, "jit-apid: alerts: a recipient left out: %s\n", err);
    return 0;
}

/* The settings' "enabled" and "recipients" of root into a->enabled and
 * a->r (replaced), checked against a's mail and webhook settings.  0, or
 * -EINVAL with err set (a left as it was). */
static int
parse_settings(json_t *root, struct apid_alerts *out, int strict, char *err,
               size_t errlen)
{
    struct apid_alerts a = *out;
    json_t *x, *r;
    size_t i;
    int ret = 0;

    a.enabled = 0;
    a.r = NULL;
    a.n_r = 0;
    if ((x = json_object_get(root, "enabled")) != NULL) {
        a.enabled = types_mask(x, "enabled", err, errlen, &ret);
        if (ret != 0)
            goto done;
    }
    x = json_object_get(root, "recipients");
    if (x != NULL && !json_is_array(x)) {
        ret = apid_bad(err, errlen, "recipients: a list");
        goto done;
    }
    a.r = calloc(json_array_size(x) + 1, sizeof(*a.r));
    if (a.r == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    json_array_foreach(x, i, r)
    {
        ret = parse_recipient(r, i, &a, strict, &a.r[a.n_r], err, errlen);
        if (ret == 0) {
            a.n_r++;
            continue;
        }
        free(a.r[a.n_r].channel);
        free(a.r[a.n_r].target);
        if (a.r[a.n_r].secret != NULL)
            explicit_bzero(a.r[a.n_r].secret, a.r[a.n_r].secret_len);
        free(a.r[a.n_r].secret);
        memset(&a.r[a.n_r], 0, sizeof(a.r[a.n_r]));
        if ((ret = recipient_fault(strict, ret, err)) != 0)
            goto done;
    }
    out->enabled = a.enabled;
    free_recipients(out->r, out->n_r);
    out->r = a.r;
    out->n_r = a.n_r;
    a.r = NULL;

done:
    if (ret == -ENOMEM)
        apid_bad(err, errlen, "out of memory");
    if (a.r != NULL)
        free_recipients(a.r, a.n_r);
    return ret;
}

int
apid_alerts_load(const char *path, const char *key_dir,
                 struct apid_alerts *out, char *err, size_t errlen)
{
    struct apid_alerts a;
    json_error_t je;
    json_t *root = NULL, *x, *r;
    size_t i;
    int ret = 0;

    memset(out, 0, sizeof(*out));
    memset(&a, 0, sizeof(a));
    a.retry_seconds = 30;
    a.max_attempts = 10;
    /* Before the recipients are read: a key's name in the file is a file
     * of webhook_key_dir (load_dir_secret). */
    a.key_dir = key_dir;
    if (path == NULL)
        return 0; /* alerts off */
    if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL)
        return apid_bad(err, errlen, "%s: line %d: %s", path, je.line, je.text);
    if (!json_is_object(root)) {
        ret = apid_bad(err, errlen, "%s: a JSON object", path);
        goto done;
    }
    if ((x = json_object_get(root, "sendmail")) != NULL) {
        if (!json_is_array(x) || json_array_size(x) == 0
            || json_array_size(x) > 16
            || !json_is_string(json_array_get(x, 0))
            || json_string_value(json_array_get(x, 0))[0] != '/') {
            ret = apid_bad(err, errlen, "sendmail: a list: an absolute path,"
                      " then its arguments");
            goto done;
        }
        a.sendmail = calloc(json_array_size(x) + 1, sizeof(char *));
        json_array_foreach(x, i, r)
        {
            if (!json_is_string(r)) {
                ret = apid_bad(err, errlen, "sendmail[%zu]: a string", i);
                goto done;
            }
            if (a.sendmail && (a.sendmail[i] = strdup(json_string_value(r))))
                a.n_sendmail++;
        }
    }
    if ((x = json_object_get(root, "from")) != NULL) {
        if (!json_is_string(x) || !address_ok(json_string_value(x))) {
            ret = apid_bad(err, errlen, "from: a mail address");
            goto done;
        }
        a.from = strdup(json_string_value(x));
    }
    if ((x = json_object_get(root, "webhook_ca")) != NULL) {
        if (!json_is_string(x) || json_string_value(x)[0] != '/') {
            ret = apid_bad(err, errlen, "webhook_ca: an absolute path");
            goto done;
        }
        a.webhook_ca = strdup(json_string_value(x));
    }
    if ((x = json_object_get(root, "webhook_secret_file")) != NULL) {
        if (!json_is_string(x)) {
            ret = apid_bad(err, errlen, "webhook_secret_file: an absolute path");
            goto done;
        }
        if ((ret = load_secret("webhook_secret_file", json_string_value(x),
                               &a.hook_secret, &a.hook_secret_len, err,
                               errlen)) != 0)
            goto done;
    }
    if ((x = json_object_get(root, "retry_seconds")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 1
            || json_integer_value(x) > 86400) {
            ret = apid_bad(err, errlen, "retry_seconds: 1..86400");
            goto done;
        }
        a.retry_seconds = json_integer_value(x);
    }
    if ((x = json_object_get(root, "max_attempts")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 1
            || json_integer_value(x) > 100) {
            ret = apid_bad(err, errlen, "max_attempts: 1..100");
            goto done;
        }
        a.max_attempts = (int) json_integer_value(x);
    }
    if ((ret = parse_settings(root, &a, APID_ALERTS_FROM_FILE, err,
                              errlen)) != 0)
        goto done;
    /* The file's types and recipients seed the database's settings
     * (apid_alerts_seed), and are live only until they are read. */
    if (json_object_get(root, "enabled") != NULL
        || json_object_get(root, "recipients") != NULL) {
        json_t *seed = json_object();

        if (seed != NULL && (x = json_object_get(root, "enabled")) != NULL)
            json_object_set(seed, "enabled", x);
        if (seed != NULL && (x = json_object_get(root, "recipients")) != NULL)
            json_object_set(seed, "recipients", x);
        a.seed = seed ? json_dumps(seed, JSON_COMPACT) : NULL;
        json_decref(seed);
        if (a.seed == NULL) {
            ret = -ENOMEM;
            goto done;
        }
    }
    /* Checked, and counted; what is live is the database's (refreshed
     * before use). */
    a.n_seed = a.n_r;
    free_recipients(a.r, a.n_r);
    a.r = NULL;
    a.n_r = 0;
    a.enabled = 0;
    a.version = -1;
    *out = a;
    memset(&a, 0, sizeof(a));

done:
    if (ret == -ENOMEM)
        apid_bad(err, errlen, "%s: out of memory", path);
    apid_alerts_free(&a);
    json_decref(root);
    return ret;
}

void
apid_alerts_free(struct apid_alerts *a)
{
    for (size_t i = 0; a->sendmail && i < a->n_sendmail; i++)
        free(a->sendmail[i]);
    free(a->sendmail);
    free(a->from);
    free(a->webhook_ca);
    if (a->hook_secret != NULL)
        explicit_bzero(a->hook_secret, a->hook_secret_len);
    free(a->hook_secret);
    free_recipients(a->r, a->n_r);
    free(a->seed);
    memset(a, 0, sizeof(*a));
}

int
apid_alerts_apply(struct apid_alerts *a, const char *json, int strict,
                  char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    int ret;

    if (!json_is_object(root))
        ret = apid_bad(err, errlen, "the alert settings: not a JSON object"
                       " (%s)", root ? "" : je.text);
    else
        ret = parse_settings(root, a, strict, err, errlen);
    json_decref(root);
    return ret;
}

int
apid_alerts_check(const struct apid_alerts *a, const char *json, int origin,
                  char *err, size_t errlen)
{
    struct apid_alerts t = *a;
    int ret;

    t.r = NULL;
    t.n_r = 0;
    ret = apid_alerts_apply(&t, json, origin, err, errlen);
    free_recipients(t.r, t.n_r);
    return ret;
}

int
apid_alerts_refresh(struct apid *a)
{
    char *json = NULL, err[512];
    int64_t version = 0;
    int same, ret = apid_store_alert_settings_get(a->store, &json, &version);

    if (ret != APID_OK && ret != APID_NOT_FOUND) {
        fprintf(stderr, "jit-apid: alerts: settings: %s\n",
                apid_store_error(a->store));
        return -1; /* those in use stay in use */
    }
    /* The common case, nothing changed, under the readers' lock: every
     * batch of events asks. */
    pthread_rwlock_rdlock(&a->lock);
    same = version == a->alerts.version;
    pthread_rwlock_unlock(&a->lock);
    if (same) {
        free(json);
        return 0;
    }
    pthread_rwlock_wrlock(&a->lock);
    if (version != a->alerts.version) {
        /* None stored: every type off (doc/design.md, S27). */
        if (apid_alerts_apply(&a->alerts, json ? json : "{}",
                              APID_ALERTS_FROM_STORE, err,
                              sizeof(err))
            == 0)
            a->alerts.version = version;
        else
            fprintf(stderr, "jit-apid: alerts: settings version %lld: %s\n",
                    (long long) version, err);
    }
    pthread_rwlock_unlock(&a->lock);
    free(json);
    return 0;
}

int
apid_alerts_seed(struct apid *a, const char *seed)
{
    char *json = NULL, detail[600];
    int64_t version = 0;
    int ret;

    if (seed == NULL)
        return 0;
    /* Only into an empty table: a change made at run time is not undone
     * by a restart with the file (doc/design.md, S27). */
    ret = apid_store_alert_settings_get(a->store, &json, &version);
    if (ret == APID_NOT_FOUND) {
        snprintf(detail, sizeof(detail), "from=%s",
                 a->conf.alerts ? a->conf.alerts : "-");
        ret = apid_store_alert_settings_put(a->store, seed, 0, "jit-apid",
                                            "alerts.seed", detail,
                                            (int64_t) time(NULL));
        if (ret == APID_OK)
            fprintf(stderr, "jit-apid: alerts: settings seeded from %s\n",
                    a->conf.alerts);
        else if (ret == APID_CONFLICT)
            ret = APID_OK; /* another instance seeded first */
    } else if (ret == APID_OK) {
        fprintf(stderr, "jit-apid: alerts: the settings in the database"
                " are used; %s's types and recipients only seed an empty"
                " one\n", a->conf.alerts);
    }
    if (ret != APID_OK)
        fprintf(stderr, "jit-apid: alerts: seeding: %s\n",
                apid_store_error(a->store));
    free(json);
    return ret == APID_OK ? 0 : -1;
}

int
apid_alerts_from_store(struct apid *a, struct apid_alerts *al)
{
    char *json = NULL, err[512];
    int64_t version = 0;
    int ret = apid_store_alert_settings_get(a->store, &json, &version);

    if (ret != APID_OK && ret != APID_NOT_FOUND) {
        fprintf(stderr, "jit-apid: alerts: settings: %s\n",
                apid_store_error(a->store));
        return -1;
    }
    if (apid_alerts_apply(al, json ? json : "{}", APID_ALERTS_FROM_STORE, err,
                          sizeof(err)) == 0)
        al->version = version;
    else
        fprintf(stderr, "jit-apid: alerts: settings version %lld: %s\n",
                (long long) version, err);
    free(json);
    return 0;
}

int
apid_alerts_subscribed(const struct apid_alerts *a, const char *channel,
                       const char *target, const char *type)
{
    unsigned bit = (unsigned) type_bit(type);

    for (size_t i = 0; i < a->n_r; i++)
        if ((a->r[i].types & bit) != 0
            && strcmp(a->r[i].channel, channel) == 0
            && (strcmp(channel, "email") == 0
                    ? strcasecmp(a->r[i].target, target)
                    : strcmp(a->r[i].target, target)) == 0)
            return 1;
    return 0;
}

struct apid_alert_target *
apid_alerts_plan(const struct apid_alerts *a, const char *type, size_t *n)
{
    unsigned bit = (unsigned) type_bit(type);
    struct apid_alert_target *v;

    *n = 0;
    /* Only an enabled type; only subscribed recipients. */
    if (bit == 0 || (a->enabled & bit) == 0 || a->n_r == 0)
        return NULL;
    if ((v = calloc(a->n_r, sizeof(*v))) == NULL)
        return NULL;
    for (size_t i = 0; i < a->n_r; i++)
        if (a->r[i].types & bit) {
            v[*n].channel = a->r[i].channel;
            v[*n].recipient = a->r[i].target;
            (*n)++;
        }
    if (*n == 0) {
        free(v);
        v = NULL;
    }
    return v;
}

/* The event as the alert's JSON. */
static json_t *
event_json(const struct apid_event *e)
{
    char when[JIT_TIME_LEN];
    json_t *o;

    jit_time_format(e->time, when);
    o = json_pack("{s:s, s:s, s:s, s:s}", "id", e->id, "type", e->type,
                  "host", e->host, "time", when);
    if (o == NULL)
        return NULL;
    if (e->grant)
        json_object_set_new(o, "grant", json_string(e->grant));
    if (e->username)
        json_object_set_new(o, "username", json_string(e->username));
    if (e->requester)
        json_object_set_new(o, "requester", json_string(e->requester));
    if (e->detail)
        json_object_set_new(o, "detail", json_loads(e->detail, 0, NULL));
    return o;
}

/* The To: of a delivery: its address, or a directory group's members'
 * (the directory's words: each checked as a file's address is, a bad one
 * left out and logged).  A new string, or NULL with err set. */
static char *
mail_to(const struct apid_alerts *a, const char *recipient, char *err,
        size_t errlen)
{
    char *list = NULL, *to = NULL, *save = NULL;
    size_t n = 0;

    if (strncmp(recipient, "group:", 6) != 0)
        return strdup(recipient);
    if (a->group_mail == NULL) {
        snprintf(err, errlen, "%s: no directory", recipient);
        return NULL;
    }
    if ((list = a->group_mail(a->group_ctx, recipient + 6, err, errlen))
        == NULL)
        return NULL;
    if ((to = calloc(1, strlen(list) * 2 + 1)) == NULL)
        goto done;
    for (char *m = strtok_r(list, "\n", &save); m != NULL;
         m = strtok_r(NULL, "\n", &save)) {
        if (!address_ok(m)) {
            fprintf(stderr, "jit-apid: alerts: %s: a member's mail left out:"
                    " not a plain address\n", recipient);
            continue;
        }
        n += (size_t) sprintf(to + n, "%s%s", n ? ", " : "", m);
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: no member with a mail address", recipient);
        free(to);
        to = NULL;
    }
done:
    free(list);
    return to;
}

/* What a person reads first: "JIT account created: alice on web01". */
static const char *
headline(const char *type)
{
    if (strcmp(type, "account.created") == 0)
        return "JIT account created";
    if (strcmp(type, "account.enabled") == 0)
        return "JIT account enabled";
    if (strcmp(type, "account.disable_failed") == 0)
        return "JIT account FAILED TO DISABLE";
    return type;
}

/* A value on a line of its own, as people are shown a host's words
 * (apid_shown_text: the same rule as jit show's), so that they cannot
 * add a header or a line that looks like ours, nor reorder one
 * (doc/design.md, threat G5); at most max bytes (at most 512). */
static void
put_text(FILE *f, const char *v, size_t max)
{
    char buf[513];

    apid_shown_text(v ? v : "-", max < 512 ? max : 512, buf);
    fputs(buf, f);
}

static void
put_line(FILE *f, const char *label, const char *v)
{
    fprintf(f, "%-15s ", label);
    put_text(f, v, 512);
    fputc('\n', f);
}

/* "JIT account created: alice on web01": names are at most 253 bytes
 * here, so that the Subject stays far below a mail line's 998. */
static void
put_headline(FILE *f, const struct apid_event *e)
{
    fputs(headline(e->type), f);
    fputs(": ", f);
    put_text(f, e->username, 253);
    fputs(" on ", f);
    put_text(f, e->host, 253);
}

char *
apid_mail_header_words(const char *text)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *) text;
    size_t len = strlen(text), o = 0;
    int ascii = 1;
    char *out;

    for (size_t i = 0; i < len; i++)
        ascii &= p[i] < 0x80;
    if (ascii)
        return strdup(text);
    /* An encoded-word is at most 75 characters: 42 bytes of text (56 of
     * base64) in "=?UTF-8?B?...?=" are 68, "Subject: " before the first
     * 77; each starts a folded line of its own.  A character is never
     * split between two words (RFC 2047, 5). */
    if ((out = malloc(len / 42 * 72 + len * 2 + 80)) == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t n = len - i < 42 ? len - i : 42;

        while (n < len - i && n > 0 && (p[i + n] & 0xc0) == 0x80)
            n--; /* the next byte continues a character: cut before it */
        if (n == 0)
            n = len - i < 42 ? len - i : 42; /* not UTF-8: cut anyway */
        o += (size_t) sprintf(out + o, "%s=?UTF-8?B?", i ? "\n " : "");
        for (size_t k = 0; k < n; k += 3) {
            unsigned v = (unsigned) p[i + k] << 16;

            if (k + 1 < n)
                v |= (unsigned) p[i + k + 1] << 8;
            if (k + 2 < n)
                v |= p[i + k + 2];
            out[o++] = b64[(v >> 18) & 63];
            out[o++] = b64[(v >> 12) & 63];
            out[o++] = k + 1 < n ? b64[(v >> 6) & 63] : '=';
            out[o++] = k + 2 < n ? b64[v & 63] : '=';
        }
        o += (size_t) sprintf(out + o, "?=");
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* The Subject's value: the headline, encoded if it is not ASCII (a raw
 * 8-bit header is one a relay may mangle or refuse; doc/design.md,
 * G6). */
static void
put_subject(FILE *f, const struct apid_event *e)
{
    char *text = NULL, *words = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);

    if (m != NULL) {
        put_headline(m, e);
        if (fclose(m) != 0) {
            free(text);
            text = NULL;
        }
    }
    words = text ? apid_mail_header_words(text) : NULL;
    fputs(words ? words : headline(e->type), f);
    free(words);
    free(text);
}

/* The host's own words on a failure: its event's cause and error. */
static char *
host_reason(const struct apid_event *e)
{
    json_t *d = e->detail ? json_loads(e->detail, 0, NULL) : NULL;
    const char *cause = json_string_value(json_object_get(d, "cause"));
    const char *error = json_string_value(json_object_get(d, "error"));
    char *r = NULL;

    if (cause || error) {
        if (asprintf(&r, "%s%s%s", cause ? cause : "", cause && error ? ": " : "",
                     error ? error : "") < 0)
            r = NULL;
    }
    json_decref(d);
    return r;
}

/* The mail: headers, then the alert in words (no JSON). */
static char *
mail_text(const struct apid_alerts *a, const struct apid_alert_job *j,
          const struct apid_grant *g, const char *to)
{
    const struct apid_event *e = &j->ev;
    char when[JIT_TIME_LEN], until[JIT_TIME_LEN];
    char *text = NULL, *why = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        return NULL;
    fprintf(f, "From: %s\nTo: %s\nSubject: ", a->from, to);
    put_subject(f, e);
    fputs("\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
          "Content-Transfer-Encoding: 8bit\n\n", f);
    put_headline(f, e);
    fputs("\n\n", f);
    put_line(f, "Account:", e->username);
    put_line(f, "Host:", e->host);
    put_line(f, "Requester:", g ? g->requester : e->requester);
    if (g != NULL) {
        jit_time_format(g->expires_at, until);
        put_line(f, "Credential:", g->credential);
        put_line(f, "Policy:", g->policy);
        put_line(f, "Reason:", g->reason);
        put_line(f, "Until:", until);
        put_line(f, "Grant status:", g->status);
    }
    put_line(f, "Grant:", e->grant);
    jit_time_format(e->time, when);
    put_line(f, "Reported at:", when);
    put_line(f, "Event:", e->id);
    if (strcmp(e->type, "account.disable_failed") == 0) {
        why = host_reason(e);
        put_line(f, "Host's reason:", why ? why : "(the host gave none)");
        fputs("\nThe account is still usable: the teardown is retried with"
              " a backoff until it succeeds.\n", f);
    }
    if (g == NULL)
        fputs("\n(The grant is no longer in jit-apid's store.)\n", f);
    free(why);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int
send_mail(const struct apid_alerts *a, const struct apid_alert_job *j,
          const struct apid_grant *g, char *err, size_t errlen)
{
    char *const envp[] = { S("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), NULL };
    char *msg = NULL, *to = mail_to(a, j->recipient, err, errlen);
    int fds[2] = { -1, -1 }, status = 0, ret = -1;
    pid_t pid;
    size_t off = 0, len;

    if (to == NULL)
        goto done; /* err set, or no memory */
    if ((msg = mail_text(a, j, g, to)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto done;
    }
    if ((pid = fork()) < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

        dup2(fds[0], 0);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execve(a->sendmail[0], a->sendmail, envp);
        _exit(127);
    }
    close(fds[0]);
    fds[0] = -1;
    len = strlen(msg);
    while (off < len) {
        ssize_t w = write(fds[1], msg + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t) w;
    }
    close(fds[1]);
    fds[1] = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (off == len && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        ret = 0;
    else
        snprintf(err, errlen, "%s: %s %d", a->sendmail[0],
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));

done:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    free(msg);
    free(to);
    return ret;
}

static size_t
discard(char *p, size_t s, size_t n, void *u)
{
    (void) p;
    (void) u;
    return s * n;
}

int
apid_alert_signature(const unsigned char *key, size_t keylen, int64_t t,
                     const char *body, char *out, size_t outlen)
{
    unsigned char mac[32];
    char *msg = NULL;
    int n, ret = -1;

    if (key == NULL
        || (n = asprintf(&msg, "%lld.%s", (long long) t, body)) < 0) {
        msg = NULL;
        goto done;
    }
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, msg, (size_t) n, mac)
        != 0)
        goto done;
    n = snprintf(out, outlen, "t=%lld,v1=", (long long) t);
    if (n < 0 || (size_t) n + 65 > outlen)
        goto done;
    for (int i = 0; i < 32; i++)
        snprintf(out + n + 2 * i, 3, "%02x", mac[i]);
    ret = 0;

done:
    explicit_bzero(mac, sizeof(mac));
    free(msg);
    return ret;
}

/* The webhook's body (jit-apid(8), ALERTS): the alert type, a headline,
 * the event, and the grant when the store still has it. */
static char *
hook_body(const struct apid_alert_job *j, const struct apid_grant *g)
{
    char until[JIT_TIME_LEN], *summary = NULL, *body = NULL;
    json_t *o, *go;

    if (asprintf(&summary, "%s: %s on %s", headline(j->ev.type),
                 j->ev.username ? j->ev.username : "-", j->ev.host) < 0)
        return NULL;
    /* The receiver's own URL is signed with the rest: a body one
     * receiver got is no good at another. */
    o = json_pack("{s:s, s:s, s:s, s:o}", "alert", j->ev.type, "summary",
                  summary, "recipient", j->recipient, "event",
                  event_json(&j->ev));
    if (o != NULL && g != NULL) {
        jit_time_format(g->expires_at, until);
        go = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", g->id,
                       "requester", g->requester, "credential", g->credential,
                       "policy", g->policy, "reason", g->reason, "status",
                       g->status, "expires_at", until);
        if (go == NULL || json_object_set_new(o, "grant", go) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    if (o != NULL)
        body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    free(summary);
    return body;
}

static int
send_webhook(const struct apid_alerts *a, const struct apid_alert_job *j,
             const struct apid_grant *g, char *err, size_t errlen)
{
    char *body = hook_body(j, g);
    char sig[128], hdr[160];
    const unsigned char *key = a->hook_secret;
    size_t keylen = a->hook_secret_len;
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    int64_t now = (int64_t) time(NULL);
    long code = 0;
    CURLcode rc;
    int ret = -1;

    if (body == NULL || c == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < a->n_r; i++)
        if (a->r[i].secret != NULL && strcmp(a->r[i].channel, "webhook") == 0
            && strcmp(a->r[i].target, j->recipient) == 0) {
            key = a->r[i].secret;
            keylen = a->r[i].secret_len;
            break;
        }
    /* The receiver checks the HMAC over "<t>.<body>" and that the signed
     * t is recent, so that a body replayed later is refused. */
    if (apid_alert_signature(key, keylen, now, body, sig, sizeof(sig)) != 0) {
        snprintf(err, errlen, "no signature: no secret_file");
        goto done;
    }
    snprintf(hdr, sizeof(hdr), "X-Jit-Signature: %s", sig);
    if ((h = curl_slist_append(NULL, "Content-Type: application/json")) == NULL
        || curl_slist_append(h, hdr) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, j->recipient);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (a->webhook_ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, a->webhook_ca);
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300)
        ret = 0;
    else
        snprintf(err, errlen, "HTTP %ld", code);

done:
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(body);
    return ret;
}

int
apid_alert_send(const struct apid_alerts *a, const struct apid_alert_job *j,
                const struct apid_grant *g, char *err, size_t errlen)
{
    if (strcmp(j->channel, "email") == 0) {
        if (a->n_sendmail == 0 || a->from == NULL) {
            snprintf(err, errlen, "no sendmail configured");
            return -1;
        }
        return send_mail(a, j, g, err, errlen);
    }
    return send_webhook(a, j, g, err, errlen);
}

/* ---- the deliverer ---- */

#define CLAIM_MAX 32
#define LEASE_S 60

/* After attempts failures: retry_seconds, doubling, at most an hour. */
static int64_t
backoff(const struct apid_alerts *a, int attempts)
{
    int64_t d = a->retry_seconds;

    for (int i = 1; i < attempts && d < 3600; i++)
        d *= 2;
    return d < 3600 ? d : 3600;
}

void *
apid_alerts_worker(void *arg)
{
    struct apid *a = arg;

    while (!a->stopping) {
        struct apid_alert_job *v = NULL;
        size_t n = 0;
        int64_t now = (int64_t) time(NULL);

        /* A webhook's key is its settings' secret_file, as they are now. */
        (void) apid_alerts_refresh(a);
        if (apid_store_alerts_claim(a->store, now, LEASE_S, CLAIM_MAX, &v, &n)
            != APID_OK)
            fprintf(stderr, "jit-apid: alerts: %s\n",
                    apid_store_error(a->store));
        for (size_t i = 0; i < n && !a->stopping; i++) {
            char err[256] = "";
            struct apid_grant g;
            int ok = 0, tries = v[i].attempts + 1, have_grant, gret;
            int gone = 0;
            int64_t next = 0;

            /* The grant says what the event does not (credential, policy,
             * reason, until); an alert is sent without it rather than not
             * at all. */
            memset(&g, 0, sizeof(g));
            gret = v[i].ev.grant == NULL
                       ? APID_NOT_FOUND
                       : apid_store_grant_get(a->store, v[i].ev.grant, &g,
                                              (int64_t) time(NULL));
            have_grant = gret == APID_OK;
            pthread_rwlock_rdlock(&a->lock);
            /* A store that cannot be read now is a failed try, retried:
             * not an alert that says less than it should. */
            if (gret != APID_OK && gret != APID_NOT_FOUND)
                snprintf(err, sizeof(err), "reading grant %s: %s",
                         v[i].ev.grant, apid_store_error(a->store));
            /* Taken off by an admin since it was queued: it hears no
             * more, a retry included (doc/design.md, S27). */
            else if ((gone = !apid_alerts_subscribed(&a->alerts,
                                                     v[i].channel,
                                                     v[i].recipient,
                                                     v[i].ev.type)))
                snprintf(err, sizeof(err), "not sent: unsubscribed");
            else
                ok = apid_alert_send(&a->alerts, &v[i],
                                     have_grant ? &g : NULL, err,
                                     sizeof(err)) == 0;
            if (!ok && !gone && tries < a->alerts.max_attempts)
                next = (int64_t) time(NULL) + backoff(&a->alerts, tries);
            pthread_rwlock_unlock(&a->lock);
            if (!ok)
                fprintf(stderr, "jit-apid: alert %s to %s %s: %s%s\n",
                        v[i].ev.type, v[i].channel, v[i].recipient, err,
                        next ? "; will retry" : "; giving up");
            if (apid_store_alert_settle(a->store, v[i].id, ok, ok ? NULL : err,
                                        next, (int64_t) time(NULL))
                != APID_OK)
                fprintf(stderr, "jit-apid: alerts: %s\n",
                        apid_store_error(a->store));
            if (have_grant)
                apid_grant_free(&g);
        }
        apid_alert_jobs_free(v, n);
        if (n < CLAIM_MAX)
            apid_nap(a); /* a new event may bring alerts: it wakes us */
    }
    return NULL;
}
