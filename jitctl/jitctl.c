/* SPDX-License-Identifier: MIT */
/*
 * jitctl: the administrator's view of pam-jit's state on this host.
 *
 *   jitctl [--config FILE] list [--json]
 *   jitctl [--config FILE] show NAME [--json]
 *   jitctl [--config FILE] check-config
 *   jitctl [--config FILE] sync [--full]
 *   jitctl [--config FILE] authorized-keys USER
 *   jitctl [--config FILE] flush
 *   jitctl [--config FILE] daemon
 *   jitctl [--config FILE] status [--json]
 *   jitctl [--config FILE] reap [--dry-run]
 *   jitctl [--config FILE] revoke NAME --reason TEXT
 *   jitctl [--config FILE] doctor [--json] [--root DIR]
 *
 * Output is for people (a table) or for machines (--json); errors go to
 * stderr with exit status 1, usage errors with 2.  Every field that came
 * from a grant is escaped before it reaches the terminal.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/conf.h"
#include "core/escape.h"
#include "core/teardown.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "conffiles.h"
#include "daemon.h"
#include "daemon/doctor.h"
#include "daemon/outbox.h"
#include "daemon/reap.h"
#include "daemon/status.h"
#include "daemon/sync.h"
#include "state/store.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: jitctl [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  list [--json]        the accounts pam-jit holds on this host\n"
    "  show NAME [--json]   one account in detail\n"
    "  check-config         print the effective configuration, or its errors\n"
    "  sync [--full]        reserve the accounts of this host's active grants\n"
    "                       (--full: examine every grant again)\n"
    "  authorized-keys USER the SSH keys of USER's active grant (for sshd's\n"
    "                       AuthorizedKeysCommand); nothing otherwise\n"
    "  flush                deliver the events waiting in the outbox to the API\n"
    "  daemon               sync (long poll), reap at each expiry, deliver events,\n"
    "                       until SIGTERM; SIGHUP reloads the configuration\n"
    "  status [--json]      the daemon's health, last sync, next expiry, outbox\n"
    "  reap [--dry-run]     tear down the accounts whose time is up (expired,\n"
    "                       revoked, or an earlier teardown to finish)\n"
    "  revoke NAME --reason TEXT\n"
    "                       end an account now and revoke its grant on this\n"
    "                       host for good\n"
    "  doctor [--json] [--root DIR]\n"
    "                       check what the first login needs, each line ok,\n"
    "                       warn or fail with what to do\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    configuration file (default " JIT_CONF_PATH ")\n"
    "  -h, --help           this text\n"
    "  -V, --version        the version\n";

static int
usage(FILE *f, int status)
{
    fputs(usage_text, f);
    return status;
}

/* What the command line asked for, beyond the command's name. */
struct invocation {
    const char *config; /* the file named, or the default */
    char **argv;        /* the operands (as many as the command takes) */
    int json, dry_run, full;
    const char *reason;
    const char *root; /* doctor --root */
};

/* Load and check the configuration; on failure print every error. */
static int
load_conf(const char *path, struct jit_conf *conf)
{
    struct jit_errs errs = { NULL, 0 };
    int ret = jit_conf_load(conf, path, 0, NULL, &errs);

    if (ret == -ENOMEM)
        fprintf(stderr, "jitctl: out of memory\n");
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "jitctl: %s\n",
                errs.msg[i] ? errs.msg[i] : "out of memory");
    jit_errs_free(&errs);
    return ret;
}

static int
open_store(const struct jit_conf *conf, struct jit_store **s)
{
    char *why = NULL;
    int ret = jit_store_open(conf, NULL, s, &why);

    if (ret != 0)
        fprintf(stderr, "jitctl: state store: %s\n",
                why ? why : strerror(-ret));
    /* The store is root's (jitctl(8), FILES): say so, not just EACCES. */
    if (ret != 0 && geteuid() != 0)
        fprintf(stderr, "jitctl: this command must be run as root\n");
    free(why);
    return ret;
}

/* "1d2h", "3h4m", "5m6s", "7s" or "ended": for people, not parsers. */
static char *
time_left(int64_t s)
{
    char *out = NULL;
    int r;

    if (s <= 0)
        return strdup("ended");
    if (s >= 86400)
        r = asprintf(&out, "%lldd%lldh", (long long) (s / 86400),
                     (long long) (s % 86400 / 3600));
    else if (s >= 3600)
        r = asprintf(&out, "%lldh%lldm", (long long) (s / 3600),
                     (long long) (s % 3600 / 60));
    else if (s >= 60)
        r = asprintf(&out, "%lldm%llds", (long long) (s / 60),
                     (long long) (s % 60));
    else
        r = asprintf(&out, "%llds", (long long) s);
    return r < 0 ? NULL : out;
}

static json_t *
account_json(const struct jit_account *a)
{
    char created[JIT_TIME_LEN], expires[JIT_TIME_LEN];
    json_t *o, *groups;

    jit_time_format(a->created, created);
    jit_time_format(a->expires, expires);
    groups = json_array();
    for (size_t i = 0; groups && i < a->n_groups; i++)
        json_array_append_new(groups, json_string(a->groups[i]));
    o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                  " s:s, s:s, s:I, s:I, s:o}",
                  "name", a->name, "uid", (json_int_t) a->uid,
                  "gid", (json_int_t) a->gid, "gecos", a->gecos,
                  "home", a->home, "shell", a->shell,
                  "requester", a->requester, "credential", a->credential,
                  "grant", a->grant_id,
                  "state", jit_account_state_name(a->state),
                  "created", created, "expires", expires,
                  "sessions", (json_int_t) a->sessions,
                  "seconds_left", (json_int_t) (a->expires > time(NULL)
                                                    ? a->expires - time(NULL)
                                                    : 0),
                  "groups", groups ? groups : json_null());
    return o;
}

static int
print_json(json_t *j)
{
    int ret = 0;

    if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS)
                         != 0) {
        fprintf(stderr, "jitctl: cannot write JSON\n");
        ret = 1;
    } else {
        fputc('\n', stdout);
    }
    json_decref(j);
    return ret;
}

enum { C_NAME, C_UID, C_REQ, C_CRED, C_GRANT, C_STATE, C_CREATED, C_EXPIRES,
       C_LEFT, C_SESS, N_COLS };

static int
cmd_list(struct jit_conf *conf, const struct invocation *in)
{
    int json = in->json;
    static const char *const head[N_COLS] = {
        "NAME", "UID", "REQUESTER", "CREDENTIAL", "GRANT", "STATE",
        "CREATED", "EXPIRES", "LEFT", "SESSIONS" };
    struct jit_store *s = NULL;
    struct jit_account *v = NULL;
    char **cells = NULL;
    size_t n = 0, width[N_COLS];
    int ret = 1;

    if (open_store(conf, &s) != 0)
        goto done;
    if (jit_store_list_accounts(s, &v, &n) != 0) {
        fprintf(stderr, "jitctl: listing accounts: %s\n",
                jit_store_error(s));
        goto done;
    }
    if (json) {
        json_t *arr = json_array();

        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, account_json(&v[i]));
        ret = print_json(json_pack("{s:o}", "accounts",
                                   arr ? arr : json_null()));
        goto done;
    }
    cells = calloc((n + 1) * N_COLS, sizeof(*cells));
    if (cells == NULL) {
        fprintf(stderr, "jitctl: out of memory\n");
        goto done;
    }
    for (int c = 0; c < N_COLS; c++) {
        cells[c] = strdup(head[c]);
        width[c] = strlen(head[c]);
    }
    for (size_t i = 0; i < n; i++) {
        char **row = cells + (i + 1) * N_COLS;
        char t[JIT_TIME_LEN];

        row[C_NAME] = jit_escape(v[i].name);
        if (asprintf(&row[C_UID], "%u", (unsigned) v[i].uid) < 0)
            row[C_UID] = NULL;
        row[C_REQ] = jit_escape(v[i].requester);
        row[C_CRED] = jit_escape(v[i].credential);
        row[C_GRANT] = jit_escape(v[i].grant_id);
        row[C_STATE] = strdup(jit_account_state_name(v[i].state));
        jit_time_format(v[i].created, t);
        row[C_CREATED] = strdup(t);
        jit_time_format(v[i].expires, t);
        row[C_EXPIRES] = strdup(t);
        row[C_LEFT] = time_left(v[i].expires - (int64_t) time(NULL));
        if (asprintf(&row[C_SESS], "%u", (unsigned) v[i].sessions) < 0)
            row[C_SESS] = NULL;
        for (int c = 0; c < N_COLS; c++) {
            if (row[c] == NULL) {
                fprintf(stderr, "jitctl: out of memory\n");
                goto done;
            }
            if (strlen(row[c]) > width[c])
                width[c] = strlen(row[c]);
        }
    }
    for (size_t i = 0; i <= n; i++)
        for (int c = 0; c < N_COLS; c++)
            if (c + 1 < N_COLS)
                printf("%-*s  ", (int) width[c], cells[i * N_COLS + c]);
            else
                printf("%s\n", cells[i * N_COLS + c]);
    ret = 0;

done:
    for (size_t i = 0; cells && i < (n + 1) * N_COLS; i++)
        free(cells[i]);
    free(cells);
    jit_accounts_free(v, n);
    jit_store_close(s);
    return ret;
}

static void
show_field(const char *key, const char *value)
{
    char *e = jit_escape(value);

    printf("%-11s %s\n", key, e ? e : "?");
    free(e);
}

static int
cmd_show(struct jit_conf *conf, const struct invocation *in)
{
    const char *name = in->argv[0];
    int json = in->json;
    struct jit_store *s = NULL;
    struct jit_account a;
    char buf[64], t[JIT_TIME_LEN];
    int ret = 1, r;

    memset(&a, 0, sizeof(a));
    if (jit_name_check(name) != 0) {
        char *e = jit_escape(name);

        fprintf(stderr, "jitctl: %s: not a valid account name\n",
                e ? e : "?");
        free(e);
        goto done;
    }
    if (open_store(conf, &s) != 0)
        goto done;
    r = jit_store_get_account(s, name, &a);
    if (r == -ENOENT) {
        fprintf(stderr, "jitctl: %s: no such account\n", name);
        goto done;
    }
    if (r != 0) {
        fprintf(stderr, "jitctl: %s: %s\n", name, jit_store_error(s));
        goto done;
    }
    if (json) {
        ret = print_json(account_json(&a));
        goto done;
    }
    show_field("name:", a.name);
    snprintf(buf, sizeof(buf), "%u", (unsigned) a.uid);
    show_field("uid:", buf);
    snprintf(buf, sizeof(buf), "%u", (unsigned) a.gid);
    show_field("gid:", buf);
    show_field("gecos:", a.gecos);
    show_field("home:", a.home);
    show_field("shell:", a.shell);
    show_field("requester:", a.requester);
    show_field("credential:", a.credential);
    show_field("grant:", a.grant_id);
    show_field("state:", jit_account_state_name(a.state));
    jit_time_format(a.created, t);
    show_field("created:", t);
    jit_time_format(a.expires, t);
    show_field("expires:", t);
    snprintf(buf, sizeof(buf), "%u", (unsigned) a.sessions);
    show_field("sessions:", buf);
    for (size_t i = 0; i < a.n_groups; i++) {
        snprintf(buf, sizeof(buf), "%s (%u)", a.groups[i],
                 (unsigned) a.gids[i]);
        show_field(i == 0 ? "groups:" : "", buf);
    }
    ret = 0;

done:
    jit_account_free(&a);
    jit_store_close(s);
    return ret;
}

/* Whether stderr is the journal: systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it connected to the journal
 * (systemd.exec(5)), and a stderr that is that stream would put every
 * line in the journal twice, once through syslog.  Any other stderr
 * (a terminal, a file, a pipe, cron's mail) is not the journal, whatever
 * the environment inherited says. */
static int
stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char extra;

    if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &extra) != 2
        || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long) st.st_dev == dev
           && (unsigned long long) st.st_ino == ino;
}

static int log_to_stderr = 1;

/* Audit and error lines: to syslog (LOG_AUTHPRIV), and to stderr for the
 * admin at the terminal, unless stderr is the journal (jitctl(8),
 * LOGGING): each line is logged once. */
static void
emit(void *ctx, int prio, const char *line)
{
    (void) ctx;
    syslog(prio, "%s", line);
    if (log_to_stderr)
        fprintf(stderr, "jitctl: %s\n", line);
}

/* json follows the configuration's audit_format (set once it is read). */
static struct jit_log jitctl_log = { emit, NULL, 0 };

static int
cmd_sync(struct jit_conf *conf, const struct invocation *in)
{
    struct jit_sync_stats st;
    struct jit_store *s = NULL;
    const char *api_reason = NULL;
    int ret;

    if (open_store(conf, &s) != 0)
        return 1;
    /* --full: every grant examined again, as after a change of the
     * configuration (which the round notices by itself). */
    if (in->full && jit_sync_forget(s) != 0) {
        fprintf(stderr, "jitctl: sync --full: state store: %s\n",
                jit_store_error(s));
        jit_store_close(s);
        return 1;
    }
    ret = jit_sync_once(s, conf, &jitctl_log, &st, &api_reason);
    /* The API answers: what waits in the outbox is due now, for the
     * flush that follows (the timer's reap, sync, reap, flush), not at
     * the end of a backoff that may have grown to an hour. */
    if ((ret == 0 || api_reason == NULL)
        && (jit_store_begin(s) != 0 || jit_store_events_retry_now(s) != 0
            || jit_store_commit(s) != 0))
        jit_store_rollback(s);
    if (ret == 0 && st.not_modified)
        printf("sync: the list has not changed since the last sync\n");
    else if (ret == 0)
        printf("sync: %zu grants: %zu reserved, %zu updated, %zu unchanged,"
               " %zu refused, %zu gone\n", st.grants, st.reserved, st.updated,
               st.unchanged, st.refused, st.gone);
    else if (api_reason != NULL)
        fprintf(stderr, "jitctl: sync: the API failed (%s); nothing"
                " changed\n", api_reason);
    jit_store_close(s);
    return ret == 0 ? 0 : 1;
}

static int
cmd_flush(struct jit_conf *conf, const struct invocation *in)
{
    struct jit_outbox_stats st;
    struct jit_store *s = NULL;
    int64_t left = 0;
    int ret;

    (void) in;
    if (open_store(conf, &s) != 0)
        return 1;
    ret = jit_outbox_flush(s, conf, &jitctl_log, (int64_t) time(NULL), &st);
    (void) jit_outbox_bound(s, conf, &jitctl_log);
    jit_store_count_events(s, &left);
    printf("flush: %zu delivered, %zu not delivered (%s), %lld left in the"
           " outbox\n", st.delivered, st.failed,
           st.reason ? st.reason : "none failed", (long long) left);
    jit_store_close(s);
    return ret == 0 ? 0 : 1;
}

/* For SIGHUP: the file named at start, read again; on any error the old
 * configuration stays (and the errors are logged). */
static const char *daemon_config;

static int
reload_conf(struct jit_conf *conf)
{
    struct jit_conf fresh;

    if (load_conf(daemon_config, &fresh) != 0) {
        jit_logf(&jitctl_log, LOG_ERR,
                 "daemon: configuration %s has errors; keeping the old one",
                 daemon_config);
        return -1;
    }
    /* The store and its lock stay open in the old directory. */
    if (strcmp(fresh.state_dir, conf->state_dir) != 0) {
        jit_logf(&jitctl_log, LOG_ERR,
                 "daemon: state_dir changed in %s: that takes a restart;"
                 " keeping the old configuration", daemon_config);
        jit_conf_free(&fresh);
        return -1;
    }
    jit_conf_free(conf);
    *conf = fresh;
    jitctl_log.json = conf->audit_format == JIT_AUDIT_JSON;
    return 0;
}

/* status's exit status (jitctl(8), EXIT STATUS), so that a monitor's
 * check needs no parsing: 0 only for a daemon that runs and keeps its
 * health file fresh. */
#define EXIT_NOT_RUNNING 3 /* never run, stopped, dead */
#define EXIT_STALE       4 /* stuck: the health file is stale */

static int
status_exit(const char *health)
{
    if (strcmp(health, "running") == 0)
        return 0;
    return strcmp(health, "stuck") == 0 ? EXIT_STALE : EXIT_NOT_RUNNING;
}

static int
cmd_status(struct jit_conf *conf, const struct invocation *in)
{
    int json = in->json;
    struct jit_daemon_status st;
    struct jit_store *s = NULL;
    char started[JIT_TIME_LEN], synced[JIT_TIME_LEN], next[JIT_TIME_LEN];
    int64_t outbox = -1, now = (int64_t) time(NULL);
    const char *health;
    int r;

    r = jit_status_read(conf, &st);
    if (open_store(conf, &s) == 0)
        jit_store_count_events(s, &outbox);
    jit_store_close(s);
    health = jit_status_health(r, &st, now);
    jit_time_format(st.started, started);
    jit_time_format(st.last_sync, synced);
    jit_time_format(st.next_expiry, next);
    if (json)
        return print_json(json_pack(
                   "{s:s, s:I, s:s?, s:s?, s:s, s:s?, s:I}", "daemon", health,
                   "pid", (json_int_t) st.pid,
                   "started", r == 0 ? started : NULL,
                   "last_sync", st.last_sync ? synced : NULL,
                   "api", r == 0 ? st.api : "unknown",
                   "next_expiry", st.next_expiry ? next : NULL,
                   "outbox", (json_int_t) outbox)) != 0
                   ? 1
                   : status_exit(health);
    printf("daemon:       %s", health);
    if (r == 0)
        printf(" (pid %ld, since %s)", (long) st.pid, started);
    printf("\napi:          %s\n", r == 0 ? st.api : "unknown");
    printf("last sync:    %s\n", st.last_sync ? synced : "never");
    printf("next expiry:  %s\n", st.next_expiry ? next : "none");
    printf("outbox:       %lld events waiting\n", (long long) outbox);
    return status_exit(health);
}

static int
cmd_reap(struct jit_conf *conf, const struct invocation *in)
{
    int dry_run = in->dry_run;
    struct jit_reap_item *v = NULL;
    struct jit_store *s = NULL;
    size_t n = 0, failed = 0;
    int ret;

    if (open_store(conf, &s) != 0)
        return 1;
    ret = jit_reap_once(s, conf, &jitctl_log, (int64_t) time(NULL), dry_run,
                        &v, &n);
    if (ret != 0) {
        fprintf(stderr, "jitctl: reap: %s\n", jit_store_error(s));
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char *e = jit_escape(v[i].name);

        /* (doc/design.md, F9: the other process audits its teardown) */
        if (!dry_run && (v[i].result == -EALREADY || v[i].result == -ENOENT)) {
            printf("left %s: %s: %s\n", e ? e : "?", v[i].cause,
                   v[i].result == -EALREADY
                       ? "another process is tearing it down"
                       : "torn down by another process meanwhile");
            free(e);
            continue;
        }
        printf("%s %s: %s\n", dry_run ? "would tear down" : "tore down",
               e ? e : "?", v[i].cause);
        if (!dry_run && v[i].result != 0) {
            char *why = jit_escape(v[i].error[0] ? v[i].error
                                                 : strerror(-v[i].result));

            printf("  failed: %s (%s)\n", why ? why : "?",
                   v[i].recorded ? "left in disable_failed"
                                 : "nothing recorded; a later reap tries "
                                   "again");
            free(why);
            failed++;
        }
        free(e);
    }
    printf("reap: %zu due, %zu failed%s\n", n, failed,
           dry_run ? " (dry run: nothing changed)" : "");

done:
    jit_reap_items_free(v, n);
    jit_store_close(s);
    return ret != 0 || failed ? 1 : 0;
}

/* A reason is plain text for people and logs: bounded, no controls. */
static const char *
reason_problem(const char *r)
{
    size_t n = strlen(r);

    if (n == 0 || n > JIT_GRANT_REASON_MAX)
        return "must be 1 to 1024 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) r[i] < 0x20 || r[i] == 0x7f)
            return "must not hold control characters";
    return NULL;
}

static int
cmd_revoke(struct jit_conf *conf, const struct invocation *in)
{
    const char *name = in->argv[0], *reason = in->reason;
    struct jit_teardown_item it = { .name = name, .cause = "revoked_locally" };
    struct jit_store *s = NULL;
    struct jit_account a = { 0 };
    json_t *d = NULL;
    char *detail = NULL;
    const char *why;
    int64_t now = (int64_t) time(NULL);
    int ret = 1, r;

    if (jit_name_check(name) != 0) {
        char *e = jit_escape(name);

        fprintf(stderr, "jitctl: %s: not a valid account name\n", e ? e : "?");
        free(e);
        return 1;
    }
    if ((why = reason_problem(reason)) != NULL) {
        fprintf(stderr, "jitctl: --reason %s\n", why);
        return 1;
    }
    if (open_store(conf, &s) != 0)
        goto done;
    if ((r = jit_store_get_account(s, name, &a)) != 0) {
        fprintf(stderr, "jitctl: %s: %s\n", name,
                r == -ENOENT ? "no such account" : jit_store_error(s));
        goto done;
    }
    d = json_pack("{s:s, s:s}", "reason", reason, "by", "jitctl revoke");
    detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
    if (jit_store_begin(s) != 0
        || jit_store_revoke_locally(s, a.grant_id, reason, now) != 0
        || jit_store_add_event(s, "account.revoked", a.grant_id, a.name,
                               a.requester, detail, now) != 0
        || jit_store_commit(s) != 0) {
        fprintf(stderr, "jitctl: revoking %s: %s\n", name, jit_store_error(s));
        jit_store_rollback(s);
        goto done;
    }
    {
        struct jit_audit au = {
            .event = "account.revoked", .result = "ok", .reason = reason,
            .user = a.name, .requester = a.requester,
            .credential = a.credential, .grant = a.grant_id,
            .expires = a.expires,
        };

        jit_audit(&jitctl_log, LOG_NOTICE, &au);
    }
    r = jit_teardown_batch(s, conf, &it, 1, &jitctl_log, now);
    /* (-EALREADY: another process, the reaper or a logout, holds its
     * teardown and finishes it: doc/design.md, F9) */
    printf("revoke %s: grant %s revoked on this host; account %s\n", name,
           a.grant_id, r == 0 ? "torn down"
                       : r == -EALREADY ? "being torn down by another process"
                       : r == -ENOENT ? "gone meanwhile"
                       : it.recorded ? "left in disable_failed"
                                     : "not torn down (nothing recorded; a "
                                       "later reap tries again)");
    ret = r == 0 || r == -EALREADY || r == -ENOENT ? 0 : 1;

done:
    free(detail);
    json_decref(d);
    jit_account_free(&a);
    jit_store_close(s);
    return ret;
}

/* sshd runs this for every key login of every user, ours or not: print
 * the keys of an account whose grant is in force, and nothing (status 0)
 * for anyone else, so that sshd's own files still apply to them. */
static int
cmd_authorized_keys(struct jit_conf *conf, const struct invocation *in)
{
    const char *user = in->argv[0];
    struct jit_store *s = NULL;
    struct jit_account a = { 0 };
    struct jit_grant g = { 0 };
    int64_t now = (int64_t) time(NULL);
    int ret = 1, r;

    if (jit_name_check(user) != 0)
        return 0; /* not a name we could ever have given out */
    if (open_store(conf, &s) != 0)
        goto done;
    r = jit_store_get_account(s, user, &a);
    if (r == -ENOENT) {
        ret = 0;
        goto done;
    }
    if (r != 0 || (r = jit_store_get_grant(s, a.grant_id, &g)) != 0) {
        fprintf(stderr, "jitctl: %s: %s\n", user, jit_store_error(s));
        goto done;
    }
    ret = 0;
    if ((a.state != JIT_ACCOUNT_RESERVED && a.state != JIT_ACCOUNT_ACTIVE)
        || jit_grant_standing(&g, now, conf->clock_skew) != JIT_GRANT_IN_FORCE
        || now >= a.expires)
        goto done;
    for (size_t i = 0; i < g.n_ssh_keys; i++)
        if (strpbrk(g.ssh_keys[i], "\r\n") == NULL)
            printf("%s\n", g.ssh_keys[i]);

done:
    jit_grant_free(&g);
    jit_account_free(&a);
    jit_store_close(s);
    return ret;
}

/* The configuration, then the files it names (jitctl(8), check-config):
 * a token file others can read is as wrong as a misspelt key. */
static int
cmd_check_config(struct jit_conf *conf, const struct invocation *in)
{
    (void) in;
    jit_conf_print(conf, stdout);
    return jitctl_check_files(conf, stderr) == 0 ? 0 : 1;
}

static int
cmd_daemon(struct jit_conf *conf, const struct invocation *in)
{
    daemon_config = in->config;
    return jitctl_daemon(conf, &jitctl_log, reload_conf) == 0 ? 0 : 1;
}

/* Every check of lib/daemon/doctor.c; status 1 when any failed. */
static int
cmd_doctor(struct jit_conf *conf, const struct invocation *in)
{
    struct jit_doctor_paths paths = {
        .root = in->root ? in->root : "", .pam_moddir = JIT_PAM_MODDIR,
        .state_dir = JIT_STATE_DIR, .backend = JIT_LOGIN_BACKEND,
    };
    struct jit_doctor d = { NULL, 0, 0 };
    struct jit_store *s = NULL;
    char *why = NULL, *db = NULL;
    int64_t outbox = -1;
    int worst, r, ret = 0;

    /* A doctor changes nothing: no store is made where there is none. */
    if (asprintf(&db, "%s/%s", conf->state_dir, JIT_STORE_DB) < 0) {
        fprintf(stderr, "jitctl: out of memory\n");
        return 1;
    }
    if (access(db, F_OK) != 0)
        outbox = -errno;
    else if ((r = jit_store_open(conf, NULL, &s, &why)) != 0)
        outbox = r;
    else if (jit_store_count_events(s, &outbox) != 0)
        outbox = -EIO;
    free(why);
    free(db);
    jit_store_close(s);
    jit_doctor_run(&d, conf, &paths, JIT_SBINDIR "/jitctl", outbox);
    worst = jit_doctor_worst(&d);
    if (in->json) {
        json_t *arr = json_array();

        for (size_t i = 0; arr && i < d.n; i++)
            json_array_append_new(arr, json_pack(
                "{s:s, s:s, s:s}", "check", d.v[i].check,
                "level", jit_doctor_level_name(d.v[i].level),
                "message", d.v[i].message));
        ret = print_json(json_pack("{s:o, s:s}", "checks",
                                   arr ? arr : json_null(), "result",
                                   jit_doctor_level_name(worst)));
    } else {
        for (size_t i = 0; i < d.n; i++)
            printf("%-4s %s: %s\n", jit_doctor_level_name(d.v[i].level),
                   d.v[i].check, d.v[i].message);
        if (d.oom)
            printf("fail doctor: out of memory: some checks are missing\n");
    }
    jit_doctor_free(&d);
    return ret != 0 || worst == JIT_DOCTOR_FAIL ? 1 : 0;
}

/* What a command takes and does besides its function: the operands it
 * needs, the options it accepts, and whether its decisions go to syslog
 * (those that change state, and the daemon). */
#define CMD_JSON    0x1u /* --json accepted */
#define CMD_DRY_RUN 0x2u /* --dry-run accepted */
#define CMD_REASON  0x4u /* --reason required */
#define CMD_SYSLOG  0x8u
#define CMD_FULL    0x10u /* --full accepted */
#define CMD_ROOT    0x20u /* --root accepted */

static const struct command {
    const char *name;
    int operands;
    unsigned flags;
    int (*run)(struct jit_conf *conf, const struct invocation *in);
} commands[] = {
    { "check-config", 0, 0, cmd_check_config },
    { "list", 0, CMD_JSON, cmd_list },
    { "sync", 0, CMD_FULL | CMD_SYSLOG, cmd_sync },
    { "daemon", 0, CMD_SYSLOG, cmd_daemon },
    { "status", 0, CMD_JSON, cmd_status },
    { "revoke", 1, CMD_REASON | CMD_SYSLOG, cmd_revoke },
    { "reap", 0, CMD_DRY_RUN | CMD_SYSLOG, cmd_reap },
    { "flush", 0, CMD_SYSLOG, cmd_flush },
    { "authorized-keys", 1, 0, cmd_authorized_keys },
    { "show", 1, CMD_JSON, cmd_show },
    { "doctor", 0, CMD_JSON | CMD_ROOT, cmd_doctor },
};

static const struct command *
find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static const struct option sub_opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "dry-run", no_argument, NULL, 'n' },
        { "reason", required_argument, NULL, 'r' },
        { "full", no_argument, NULL, 'f' },
        { "root", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct invocation in = { .config = JIT_CONF_PATH };
    const struct command *cmd;
    const char *name;
    struct jit_conf conf;
    int c, ret;

    /* '+': options after the command belong to the command. */
    while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': in.config = optarg; break;
        case 'h': return usage(stdout, 0);
        case 'V': printf("jitctl %s\n", PACKAGE_VERSION); return 0;
        default: return usage(stderr, EXIT_USAGE);
        }
    }
    if (optind >= argc)
        return usage(stderr, EXIT_USAGE);
    name = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0; /* 0, not 1: glibc's getopt then forgets the first scan */
    while ((c = getopt_long(argc, argv, "h", sub_opts, NULL)) != -1) {
        switch (c) {
        case 'j': in.json = 1; break;
        case 'n': in.dry_run = 1; break;
        case 'r': in.reason = optarg; break;
        case 'f': in.full = 1; break;
        case 'R': in.root = optarg; break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, EXIT_USAGE);
        }
    }
    argc -= optind;
    in.argv = argv + optind;
    cmd = find_command(name);
    /* An option the command does not take is a usage error even when
     * the command is unknown (before the message naming it). */
    if ((in.dry_run && (cmd == NULL || !(cmd->flags & CMD_DRY_RUN)))
        || (in.full && (cmd == NULL || !(cmd->flags & CMD_FULL)))
        || (in.reason != NULL && (cmd == NULL || !(cmd->flags & CMD_REASON)))
        || (in.root != NULL && (cmd == NULL || !(cmd->flags & CMD_ROOT))))
        return usage(stderr, EXIT_USAGE);
    if (cmd == NULL) {
        char *e = jit_escape(name);

        fprintf(stderr, "jitctl: %s: unknown command\n", e ? e : "?");
        free(e);
        return usage(stderr, EXIT_USAGE);
    }
    if (argc != cmd->operands || (in.json && !(cmd->flags & CMD_JSON))
        || ((cmd->flags & CMD_REASON) && in.reason == NULL))
        return usage(stderr, EXIT_USAGE);
    if (load_conf(in.config, &conf) != 0)
        return 1;
    if (cmd->flags & CMD_SYSLOG)
        openlog("jitctl", LOG_PID, LOG_AUTHPRIV);
    log_to_stderr = !stderr_is_journal();
    jitctl_log.json = conf.audit_format == JIT_AUDIT_JSON;
    ret = cmd->run(&conf, &in);
    jit_conf_free(&conf);
    return ret;
}
