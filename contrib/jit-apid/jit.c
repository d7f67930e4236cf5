/* SPDX-License-Identifier: MIT */
/*
 * jit: the people's client of jit-apid (jit(1)).
 *
 *   jit [options] request --credential C [--host H | --host-group G]
 *                         --duration D --reason TEXT [--username U]
 *                         [--policy P] [--group G]... [--ssh-key-file F]
 *   jit [options] grants [--status S] [--credential C] [--json]
 *   jit [options] show ID [--json]
 *   jit [options] approve|deny|revoke ID [--reason TEXT]
 *   jit [options] enable ID --duration D --reason TEXT [--policy P]
 *   jit [options] password ID
 *   jit [options] log [--grant ID] [--json]
 *   jit [options] whoami [--json]
 *   jit [options] alerts [list] [--json]
 *   jit [options] alerts enable|disable TYPE
 *   jit [options] alerts subscribe|unsubscribe (--email A | --webhook URL
 *                        [--secret-file F] | --directory-group G)
 *                        [--type TYPE]...
 *
 * options: --url URL --ca-file FILE --token-file FILE, else JIT_URL,
 * JIT_CA_FILE, JIT_TOKEN_FILE from the environment.  An ordinary user's
 * tool: the token file must be the user's own and not readable by others.
 * Without a token file, the caller's Kerberos ticket (kinit; KRB5CCNAME
 * or the default cache) for the service HTTP/<the URL's host>.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/negotiate.h"
#include "shown.h"

#define BODY_MAX (8u << 20)

/* The exit status of a usage error, the same in jitctl and jit-apid
 * (jit(1), EXIT STATUS). */
#define EXIT_USAGE 2

struct opts {
    const char *url, *ca, *token_file;
    const char *credential, *host, *host_group, *duration, *reason;
    const char *username, *policy, *status, *grant, *key_file;
    const char *groups[64];
    size_t n_groups;
    int json;
    /* jit alerts: its subcommand's argument, a recipient, types. */
    const char *arg, *email, *webhook, *secret_file, *dir_group;
    const char *types[16];
    size_t n_types;
};

struct buf {
    char *p;
    size_t n;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *userp)
{
    struct buf *b = userp;
    size_t len = size * nmemb;
    char *np;

    if (b->n + len > BODY_MAX || (np = realloc(b->p, b->n + len + 1)) == NULL)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

/* On stdout for --help (asked for), on stderr for a usage error. */
static void
usage_to(FILE *f)
{
    fputs("usage: jit [--url URL] [--ca-file FILE] [--token-file FILE]"
          " COMMAND ...\n"
          "  request --credential C [--host H | --host-group G] --duration D"
          " --reason TEXT\n"
          "          (neither host nor group: a directory account)\n"
          "          [--username U] [--policy P] [--group G]..."
          " [--ssh-key-file F]\n"
          "  grants [--status S] [--credential C] [--json]\n"
          "  show ID [--json]\n"
          "  approve|deny|revoke ID [--reason TEXT]\n"
          "  enable ID --duration D --reason TEXT [--policy P]\n"
          "  password ID   (a directory account's new password)\n"
          "  log [--grant ID] [--json]\n"
          "  whoami [--json]\n"
          "  alerts [list] [--json]   (admins: the alert settings)\n"
          "  alerts enable|disable TYPE\n"
          "  alerts subscribe|unsubscribe (--email A | --webhook URL"
          " [--secret-file F]\n"
          "         | --directory-group G) [--type TYPE]...\n"
          "Without a token file, your Kerberos ticket (after kinit).\n"
          "D: seconds, or a number with s, m, h or d (30m, 2h).\n"
          "  --help, -h     this text;  --version, -V   the version\n"
          "Exit status: 0 done, 1 refused or failed, 2 bad usage.\n",
          f);
}

static void
usage(void)
{
    usage_to(stderr);
}

/* The token, from a file that is the caller's and private. */
static char *
read_token(const char *path)
{
    char buf[512];
    struct stat st;
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "jit: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid()
        || (st.st_mode & 077) != 0) {
        fprintf(stderr, "jit: %s: must be your own file, mode 0600\n", path);
        close(fd);
        return NULL;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        fprintf(stderr, "jit: %s: empty\n", path);
        return NULL;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    {
        char *t = strdup(buf);

        explicit_bzero(buf, sizeof(buf));
        return t;
    }
}

/* A token or a header that holds one. */
static void
wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* "Authorization: Negotiate ..." from the caller's ticket, for the
 * service HTTP@<the URL's host>; NULL with the reason said. */
static char *
negotiate(const char *url)
{
    char err[512], *host = NULL, *service = NULL, *hdr = NULL, *line = NULL;
    CURLU *u = curl_url();

    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        fprintf(stderr, "jit: %s: not a URL\n", url);
        goto done;
    }
    /* An IPv6 literal is "[::1]" in a URL, "::1" in a service name. */
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    if (asprintf(&service, "HTTP@%s", host) < 0) {
        service = NULL;
        fprintf(stderr, "jit: out of memory\n");
        goto done;
    }
    if ((hdr = jit_negotiate_user_header(service, err, sizeof(err))) == NULL) {
        fprintf(stderr, "jit: no Kerberos sign-on (%s)\n"
                "jit: run kinit for a ticket, or give --token-file\n", err);
        goto done;
    }
    if (asprintf(&line, "Authorization: %s", hdr) < 0)
        line = NULL;

done:
    wipe_free(hdr);
    free(service);
    curl_free(host);
    curl_url_cleanup(u);
    return line;
}

/* One call; the JSON answer in *out (NULL if none); the HTTP status, or
 * -1 if there was no answer. */
static long
call(const struct opts *o, const char *method, const char *path,
     json_t *body, json_t **out)
{
    struct curl_slist *h = NULL;
    struct buf b = { NULL, 0 };
    char *token = NULL, *url = NULL, *text = NULL, *auth = NULL;
    long status = -1;
    CURL *c = NULL;
    CURLcode rc;

    *out = NULL;
    if (o->token_file == NULL) {
        if ((auth = negotiate(o->url)) == NULL)
            goto done;
    } else if ((token = read_token(o->token_file)) == NULL
               || asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
        auth = NULL;
        goto done;
    }
    if (asprintf(&url, "%s%s", o->url, path) < 0
        || (c = curl_easy_init()) == NULL) {
        fprintf(stderr, "jit: out of memory\n");
        goto done;
    }
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    /* Whatever the local OpenSSL configuration allows: the token is a
     * person's, and jit-apid speaks nothing older (jit-apid(8)). */
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (o->ca != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca);
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "{}");
    }
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        fprintf(stderr, "jit: %s: %s\n", o->url, curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (b.p != NULL)
        *out = json_loads(b.p, 0, NULL);
    if (status >= 400) {
        const char *msg = json_string_value(json_object_get(*out, "message"));

        fprintf(stderr, "jit: %ld: %s\n", status, msg ? msg : "failed");
        if (status == 401 && o->token_file == NULL)
            fprintf(stderr, "jit: signed on with your Kerberos ticket;"
                    " jit-apid's log says why it was refused\n");
        else if (status == 401)
            fprintf(stderr, "jit: the token in %s was rejected by the API;"
                    " ask its administrator for a valid one\n",
                    o->token_file);
    }

done:
    wipe_free(token);
    wipe_free(auth);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(url);
    free(text);
    wipe_free(b.p); /* it may hold a directory account's password */
    return status;
}

/* "90", "30m", "2h", "1d" in seconds; -1 if not one of those. */
static long long
duration(const char *s)
{
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v <= 0 || v > 31536000)
        return -1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        return v;
    if (strcmp(end, "m") == 0)
        return v * 60;
    if (strcmp(end, "h") == 0)
        return v * 3600;
    if (strcmp(end, "d") == 0)
        return v * 86400;
    return -1;
}

static const char *
str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "-";
}

/* o's k as people's text is shown (shown.h: the server's rule for its
 * mails and views): a reason or a name a requester chose with U+202E or
 * an escape sequence in it must not reorder or rewrite an approver's
 * terminal.  Each call's own buffer, of the last SHOWN_BUFS: enough for
 * one printf's arguments. */
#define SHOWN_BUFS 8
#define SHOWN_MAX 8192
static const char *
shown(json_t *o, const char *k)
{
    static char buf[SHOWN_BUFS][SHOWN_MAX + 1];
    static unsigned next;
    char *b = buf[next++ % SHOWN_BUFS];

    apid_shown_text(str(o, k), SHOWN_MAX, b);
    return b;
}

/* Each host's account in words (doc/design.md, S25): its state, and
 * when it is to be deleted or was. */
static void
print_host_accounts(json_t *g)
{
    json_t *h;
    size_t i;

    json_array_foreach(json_object_get(g, "host_accounts"), i, h) {
        const char *st = str(h, "state");
        json_int_t n = json_integer_value(json_object_get(h, "sessions"));

        printf("host:        %s ", str(h, "host"));
        if (strcmp(st, "pending") == 0)
            printf("pending (no account reported yet)");
        else if (strcmp(st, "none") == 0)
            printf("no account reported");
        else if (strcmp(st, "active") == 0)
            printf("active, %lld session%s", (long long) n, n == 1 ? "" : "s");
        else if (strcmp(st, "tearing_down") == 0)
            printf("tearing down");
        else if (strcmp(st, "disable_failed") == 0)
            printf("failed to disable: %s (retried)", shown(h, "error"));
        else if (strcmp(st, "deleted") == 0)
            printf("deleted at %s", str(h, "deleted_at"));
        else if (strcmp(st, "handed_over") == 0)
            printf("kept for grant %s", str(h, "handed_over_to"));
        else
            printf("%s", st);
        if (json_object_get(h, "since") && strcmp(st, "deleted") != 0)
            printf(" since %s", str(h, "since"));
        if (json_object_get(h, "deletion_due"))
            printf("; deletion due %s%s", str(h, "deletion_due"),
                   json_is_true(json_object_get(h, "deletion_at_last_logout"))
                       ? " or at the last logout, whichever is first"
                       : "");
        printf("\n");
    }
}

/* The hosts' accounts in a table cell: "web01:active(2) web02:deleted". */
static void
print_host_accounts_short(json_t *g)
{
    json_t *h;
    size_t i;

    if (json_array_size(json_object_get(g, "host_accounts")) == 0)
        printf("-");
    json_array_foreach(json_object_get(g, "host_accounts"), i, h) {
        json_int_t n = json_integer_value(json_object_get(h, "sessions"));

        printf("%s%s:%s", i ? " " : "", str(h, "host"), str(h, "state"));
        if (n > 0)
            printf("(%lld)", (long long) n);
    }
}

static void
print_grant(json_t *g)
{
    json_t *x;
    size_t i;

    printf("grant:       %s\n", str(g, "id"));
    printf("status:      %s\n", str(g, "status"));
    printf("requester:   %s\n", shown(g, "requester"));
    printf("credential:  %s (policy %s)\n", str(g, "credential"),
           str(g, "policy"));
    if (json_array_size(json_object_get(g, "hosts")) == 0)
        printf("account:     %s in the directory", shown(g, "username"));
    else
        printf("account:     %s on", shown(g, "username"));
    json_array_foreach(json_object_get(g, "hosts"), i, x)
        printf(" %s", json_string_value(x));
    printf("\ngroups:     ");
    json_array_foreach(json_object_get(g, "groups"), i, x)
        printf(" %s", json_string_value(x));
    printf("\nfrom:        %s\n", str(g, "not_before"));
    printf("until:       %s\n", str(g, "expires_at"));
    printf("reason:      %s\n", shown(g, "reason"));
    if (json_object_get(g, "decided_by"))
        printf("decided by:  %s\n", shown(g, "decided_by"));
    if (json_object_get(g, "previous"))
        printf("re-enables:  %s\n", str(g, "previous"));
    if ((x = json_object_get(g, "directory_account")) != NULL)
        printf("directory:   %s%s%s\n", str(x, "state"),
               json_object_get(x, "last_error") ? ": " : "",
               json_object_get(x, "last_error") ? shown(x, "last_error") : "");
    /* Given once, kept nowhere: this is the requester's only sight of
     * it (jit password ID makes a new one). */
    if (json_object_get(g, "password"))
        printf("password:    %s\n             (shown once, kept nowhere:"
               " jit password %s makes a new one)\n", str(g, "password"),
               str(g, "id"));
    print_host_accounts(g);
    json_array_foreach(json_object_get(g, "events"), i, x)
        printf("event:       %s %s %s %s\n", str(x, "time"), str(x, "host"),
               str(x, "type"), shown(x, "username"));
}

static void
print_json(json_t *o)
{
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

    if (t != NULL)
        puts(t);
    free(t);
}

/* The grant the API answered, as JSON or as text, when the status is
 * the one wanted; the exit status.  Takes out. */
static int
show_grant(const struct opts *o, long st, long want, json_t *out)
{
    if (st == want) {
        if (o->json)
            print_json(out);
        else
            print_grant(out);
    }
    json_decref(out);
    return st == want ? 0 : 1;
}

static int
cmd_request(const struct opts *o, const char *prev)
{
    long long d = duration(o->duration);
    json_t *in, *out = NULL, *groups;
    char path[256];
    long st;

    if (d < 0 || o->reason == NULL
        || (prev == NULL
            && (o->credential == NULL
                || (o->host != NULL && o->host_group != NULL)))) {
        usage();
        return EXIT_USAGE;
    }
    in = json_pack("{s:I, s:s}", "duration", (json_int_t) d, "reason",
                   o->reason);
    if (in == NULL)
        return 70;
    if (o->credential && !prev)
        json_object_set_new(in, "credential", json_string(o->credential));
    if (o->host && !prev)
        json_object_set_new(in, "host", json_string(o->host));
    if (o->host_group && !prev)
        json_object_set_new(in, "host_group", json_string(o->host_group));
    if (o->username)
        json_object_set_new(in, "username", json_string(o->username));
    if (o->policy)
        json_object_set_new(in, "policy", json_string(o->policy));
    if (o->n_groups > 0) {
        groups = json_array();
        for (size_t i = 0; i < o->n_groups; i++)
            json_array_append_new(groups, json_string(o->groups[i]));
        json_object_set_new(in, "groups", groups);
    }
    if (o->key_file != NULL) {
        char line[8192];
        json_t *keys = json_array();
        FILE *f = fopen(o->key_file, "re");

        if (f == NULL) {
            fprintf(stderr, "jit: %s: %s\n", o->key_file, strerror(errno));
            json_decref(keys);
            json_decref(in);
            return 66;
        }
        while (fgets(line, sizeof(line), f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] != '\0' && line[0] != '#')
                json_array_append_new(keys, json_string(line));
        }
        fclose(f);
        json_object_set_new(in, "ssh_keys", keys);
    }
    if (prev != NULL)
        snprintf(path, sizeof(path), "/v1/grants/%s/enable", prev);
    else
        snprintf(path, sizeof(path), "/v1/grants");
    st = call(o, "POST", path, in, &out);
    json_decref(in);
    return show_grant(o, st, 201, out);
}

static int
cmd_action(const struct opts *o, const char *action, const char *id)
{
    json_t *in = json_object(), *out = NULL;
    char path[256];
    long st;

    if (o->reason)
        json_object_set_new(in, "reason", json_string(o->reason));
    snprintf(path, sizeof(path), "/v1/grants/%s/%s", id, action);
    st = call(o, "POST", path, in, &out);
    json_decref(in);
    if (st == 200) {
        if (o->json)
            print_json(out);
        else
            printf("%s: %s\n", id, str(out, "status"));
    }
    json_decref(out);
    return st == 200 ? 0 : 1;
}

/* A directory account's new password (POST .../password). */
static int
cmd_password(const struct opts *o, const char *id)
{
    json_t *in = json_object(), *out = NULL;
    char path[256];
    long st;

    snprintf(path, sizeof(path), "/v1/grants/%s/password", id);
    st = call(o, "POST", path, in, &out);
    json_decref(in);
    return show_grant(o, st, 200, out);
}

/* Query-string safe: ids, names and statuses only. */
static int
query_safe(const char *s)
{
    for (; s && *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || strchr("-_.@", *s)))
            return 0;
    return 1;
}

static int
cmd_grants(const struct opts *o)
{
    char path[512];
    json_t *out = NULL, *g;
    size_t i;
    long st;

    if (!query_safe(o->status) || !query_safe(o->credential)) {
        fprintf(stderr, "jit: --status and --credential: names only\n");
        return EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "/v1/grants?%s%s%s%s",
             o->status ? "status=" : "", o->status ? o->status : "",
             o->credential ? "&credential=" : "",
             o->credential ? o->credential : "");
    st = call(o, "GET", path, NULL, &out);
    if (st == 200 && o->json)
        print_json(out);
    else if (st == 200) {
        printf("%-26s %-9s %-22s %-12s %-12s %-20s %s\n", "GRANT",
               "STATUS", "REQUESTER", "CREDENTIAL", "ACCOUNT", "UNTIL",
               "HOSTS");
        json_array_foreach(json_object_get(out, "grants"), i, g) {
            printf("%-26s %-9s %-22s %-12s %-12s %-20s ", str(g, "id"),
                   str(g, "status"), shown(g, "requester"),
                   str(g, "credential"), shown(g, "username"),
                   str(g, "expires_at"));
            print_host_accounts_short(g);
            printf("\n");
        }
    }
    json_decref(out);
    return st == 200 ? 0 : 1;
}

static int
cmd_show(const struct opts *o, const char *id)
{
    char path[256];
    json_t *out = NULL;
    long st;

    if (!query_safe(id)) {
        fprintf(stderr, "jit: %s: not a grant id\n", id);
        return EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "/v1/grants/%s", id);
    st = call(o, "GET", path, NULL, &out);
    return show_grant(o, st, 200, out);
}

static int
cmd_log(const struct opts *o)
{
    char path[256];
    json_t *out = NULL, *op, *e;
    size_t i, k;
    long st;

    if (!query_safe(o->grant)) {
        fprintf(stderr, "jit: --grant: not a grant id\n");
        return EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "/v1/operations%s%s",
             o->grant ? "?grant=" : "", o->grant ? o->grant : "");
    st = call(o, "GET", path, NULL, &out);
    if (st == 200 && o->json)
        print_json(out);
    else if (st == 200) {
        json_array_foreach(json_object_get(out, "operations"), i, op)
        {
            printf("%s %-8s %-26s by %s%s%s\n", str(op, "time"),
                   str(op, "action"), str(op, "grant"), str(op, "actor"),
                   json_object_get(op, "detail") ? ": " : "",
                   json_object_get(op, "detail") ? shown(op, "detail") : "");
            json_array_foreach(json_object_get(op, "host_events"), k, e)
                printf("    %s %s %s %s (%s)\n", str(e, "time"),
                       str(e, "host"), str(e, "type"), shown(e, "username"),
                       shown(e, "requester"));
        }
    }
    json_decref(out);
    return st == 200 ? 0 : 1;
}

static int
cmd_whoami(const struct opts *o)
{
    json_t *out = NULL;
    long st = call(o, "GET", "/v1/whoami", NULL, &out);

    if (st == 200 && o->json)
        print_json(out);
    else if (st == 200)
        printf("person:      %s\nrole:        %s\nsigned on:   %s\n",
               str(out, "person"), str(out, "role"),
               str(out, "authenticated_by"));
    json_decref(out);
    return st == 200 ? 0 : 1;
}

/* jit alerts: the alert settings (admins). */
static void
print_alerts(json_t *out)
{
    json_t *x, *t;
    size_t i, k;

    json_array_foreach(json_object_get(out, "types"), i, x)
        printf("%-24s %s\n", str(x, "type"),
               json_is_true(json_object_get(x, "enabled")) ? "enabled"
                                                           : "disabled");
    json_array_foreach(json_object_get(out, "recipients"), i, x)
    {
        const char *kind = json_object_get(x, "email")      ? "email"
                           : json_object_get(x, "webhook")  ? "webhook"
                                                            : "directory_group";

        printf("%s %s:", kind, str(x, kind));
        json_array_foreach(json_object_get(x, "types"), k, t)
            printf(" %s", json_string_value(t) ? json_string_value(t) : "?");
        if (json_object_get(x, "secret_file"))
            printf(" (secret_file %s)", str(x, "secret_file"));
        putchar('\n');
    }
}

static int
cmd_alerts(const struct opts *o, const char *sub)
{
    json_t *in = NULL, *out = NULL, *types;
    char path[256];
    long st;
    int n = (o->email != NULL) + (o->webhook != NULL) + (o->dir_group != NULL);

    if (sub == NULL || strcmp(sub, "list") == 0) {
        if (o->arg != NULL)
            return EXIT_USAGE;
        st = call(o, "GET", "/v1/alerts/settings", NULL, &out);
    } else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
        if (o->arg == NULL || !query_safe(o->arg)) {
            fprintf(stderr, "jit: alerts %s: an alert type\n", sub);
            return EXIT_USAGE;
        }
        snprintf(path, sizeof(path), "/v1/alerts/types/%s/%s", o->arg, sub);
        in = json_object();
        st = call(o, "POST", path, in, &out);
    } else if (strcmp(sub, "subscribe") == 0
               || strcmp(sub, "unsubscribe") == 0) {
        if (n != 1 || o->arg != NULL
            || (o->secret_file != NULL && o->webhook == NULL)) {
            fprintf(stderr, "jit: alerts %s: one of --email, --webhook"
                    " (with --secret-file) or --directory-group\n", sub);
            return EXIT_USAGE;
        }
        in = json_object();
        types = json_array();
        for (size_t i = 0; i < o->n_types; i++)
            json_array_append_new(types, json_string(o->types[i]));
        json_object_set_new(in, o->email     ? "email"
                                : o->webhook ? "webhook"
                                             : "directory_group",
                            json_string(o->email     ? o->email
                                        : o->webhook ? o->webhook
                                                     : o->dir_group));
        if (o->secret_file != NULL)
            json_object_set_new(in, "secret_file",
                                json_string(o->secret_file));
        if (o->n_types > 0)
            json_object_set_new(in, "types", types);
        else
            json_decref(types);
        st = call(o, "POST", strcmp(sub, "subscribe") == 0
                                 ? "/v1/alerts/recipients"
                                 : "/v1/alerts/recipients/unsubscribe",
                  in, &out);
    } else {
        return EXIT_USAGE;
    }
    if (st == 200 && o->json)
        print_json(out);
    else if (st == 200)
        print_alerts(out);
    json_decref(in);
    json_decref(out);
    return st == 200 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct opts o;
    const char *cmd = NULL, *id = NULL;
    int ret;

    memset(&o, 0, sizeof(o));
    o.url = getenv("JIT_URL");
    o.ca = getenv("JIT_CA_FILE");
    o.token_file = getenv("JIT_TOKEN_FILE");
    /* "export JIT_TOKEN_FILE=" is a token file unset: the ticket, then. */
    if (o.token_file != NULL && o.token_file[0] == '\0')
        o.token_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;

        if (strcmp(a, "--json") == 0) {
            o.json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage_to(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("jit %s\n", PACKAGE_VERSION);
            return 0;
        }
        if (strcmp(a, "--url") == 0) slot = &o.url;
        else if (strcmp(a, "--ca-file") == 0) slot = &o.ca;
        else if (strcmp(a, "--token-file") == 0) slot = &o.token_file;
        else if (strcmp(a, "--credential") == 0) slot = &o.credential;
        else if (strcmp(a, "--host") == 0) slot = &o.host;
        else if (strcmp(a, "--host-group") == 0) slot = &o.host_group;
        else if (strcmp(a, "--duration") == 0) slot = &o.duration;
        else if (strcmp(a, "--reason") == 0) slot = &o.reason;
        else if (strcmp(a, "--username") == 0) slot = &o.username;
        else if (strcmp(a, "--policy") == 0) slot = &o.policy;
        else if (strcmp(a, "--status") == 0) slot = &o.status;
        else if (strcmp(a, "--grant") == 0) slot = &o.grant;
        else if (strcmp(a, "--ssh-key-file") == 0) slot = &o.key_file;
        else if (strcmp(a, "--email") == 0) slot = &o.email;
        else if (strcmp(a, "--webhook") == 0) slot = &o.webhook;
        else if (strcmp(a, "--secret-file") == 0) slot = &o.secret_file;
        else if (strcmp(a, "--directory-group") == 0) slot = &o.dir_group;
        else if (strcmp(a, "--type") == 0) {
            if (i + 1 >= argc || o.n_types == 16) {
                usage();
                return EXIT_USAGE;
            }
            o.types[o.n_types++] = argv[++i];
            continue;
        } else if (strcmp(a, "--group") == 0) {
            if (i + 1 >= argc || o.n_groups == 64) {
                usage();
                return EXIT_USAGE;
            }
            o.groups[o.n_groups++] = argv[++i];
            continue;
        } else if (a[0] == '-') {
            fprintf(stderr, "jit: %s: unknown option\n",
                    query_safe(a) ? a : "?");
            usage();
            return EXIT_USAGE;
        } else if (cmd == NULL) {
            cmd = a;
            continue;
        } else if (id == NULL) {
            id = a;
            continue;
        } else if (o.arg == NULL && strcmp(cmd, "alerts") == 0) {
            o.arg = a; /* jit alerts enable TYPE */
            continue;
        } else {
            usage();
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "jit: %s needs a value\n", a);
            usage();
            return EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (cmd == NULL || o.url == NULL) {
        if (cmd != NULL)
            fputs("jit: --url (or JIT_URL) is needed\n", stderr);
        usage();
        return EXIT_USAGE;
    }
    if (strncmp(o.url, "https://", 8) != 0) {
        fputs("jit: --url: https only\n", stderr);
        return EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 70;
    if (strcmp(cmd, "request") == 0 && id == NULL)
        ret = cmd_request(&o, NULL);
    else if (strcmp(cmd, "enable") == 0 && id != NULL && query_safe(id))
        ret = cmd_request(&o, id);
    else if (strcmp(cmd, "password") == 0 && id != NULL && query_safe(id))
        ret = cmd_password(&o, id);
    else if ((strcmp(cmd, "approve") == 0 || strcmp(cmd, "deny") == 0
              || strcmp(cmd, "revoke") == 0)
             && id != NULL && query_safe(id))
        ret = cmd_action(&o, cmd, id);
    else if (strcmp(cmd, "grants") == 0 && id == NULL)
        ret = cmd_grants(&o);
    else if (strcmp(cmd, "show") == 0 && id != NULL)
        ret = cmd_show(&o, id);
    else if (strcmp(cmd, "log") == 0 && id == NULL)
        ret = cmd_log(&o);
    else if (strcmp(cmd, "whoami") == 0 && id == NULL)
        ret = cmd_whoami(&o);
    else if (strcmp(cmd, "alerts") == 0
             && (ret = cmd_alerts(&o, id)) != EXIT_USAGE)
        ; /* done */
    else {
        fprintf(stderr, "jit: %s: unknown command, or an ID missing or"
                " extra\n", query_safe(cmd) ? cmd : "?");
        usage();
        ret = EXIT_USAGE;
    }
    curl_global_cleanup();
    return ret;
}
