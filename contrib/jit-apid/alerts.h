/* SPDX-License-Identifier: MIT */
/*
 * Alerts: a host's account.created, account.enabled or account.disable_failed
 * event, where that type is enabled (all are off by default), notifies the
 * recipients subscribed to it: by mail through a sendmail-compatible
 * command (a fixed argv, run without a shell, the message on its standard
 * input; a text a person reads) or by a webhook (an HTTPS POST of JSON,
 * signed with an HMAC a receiver checks).  Each delivery is a row
 * in the store, queued in the same transaction as its event (so a
 * redelivered event alerts no one twice), tried until it succeeds, with a
 * backoff, and kept as the record of what was sent.  Configuration, a
 * JSON file:
 *
 *   {"enabled": ["account.created", "account.disable_failed"],
 *    "sendmail": ["/usr/sbin/sendmail", "-oi", "-t"],
 *    "from": "jit-apid@example.com",
 *    "webhook_ca": "/etc/jit/apid/hooks-ca.pem",
 *    "webhook_secret_file": "/etc/jit/apid/hooks.secret",
 *    "retry_seconds": 30, "max_attempts": 10,
 *    "recipients": [
 *      {"email": "secops@example.com",
 *       "types": ["account.created", "account.disable_failed"]},
 *      {"webhook": "https://hooks.example.com/jit",
 *       "secret_file": "/etc/jit/apid/hooks-example.secret",
 *       "types": ["account.disable_failed"]},
 *      {"directory_group": "secops",
 *       "types": ["account.disable_failed"]}]}
 *
 * A directory group's members get the mail at the addresses the
 * directory has at delivery (people_source ldap or both; dirpeople.h).
 *
 * "enabled" and "recipients" live in the database, changed at run time by
 * admins (alerts_api.c); the file's seed an empty database only (below).
 */
#ifndef APID_ALERTS_H
#define APID_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define APID_ALERT_TYPES 3

struct apid_recipient {
    char *channel;  /* email, webhook */
    char *target;   /* an address, or an https URL */
    unsigned types; /* bit i: apid_alert_type_name(i) */
    /* A webhook's own HMAC key (its secret_file), else the global one. */
    unsigned char *secret;
    size_t secret_len;
};

struct apid_alerts {
    unsigned enabled;
    char **sendmail;
    size_t n_sendmail;
    char *from, *webhook_ca;
    /* HMAC-SHA256 key of the webhooks' signature (webhook_secret_file). */
    unsigned char *hook_secret;
    size_t hook_secret_len;
    int64_t retry_seconds;
    int max_attempts;
    struct apid_recipient *r;
    size_t n_r;
    /* Set by the program, not the file (main.c): the mail addresses of a
     * directory group's members, one a line (malloc'd), or NULL with err
     * set; for recipients {"directory_group": NAME}, kept as
     * "group:NAME". */
    char *(*group_mail)(void *ctx, const char *group, char *err,
                        size_t errlen);
    void *group_ctx;
    /* Set by the program: people_source file, no directory_group. */
    int no_groups;
    /* Set by the program (jit-apid.conf's webhook_key_dir; NULL: none):
     * the directory of the webhook keys an admin may name over the API,
     * by their names (doc/design.md, G7). */
    const char *key_dir;
    /* The file's "enabled" and "recipients" as JSON text (NULL: neither),
     * the settings to seed an empty database with, and its count of
     * recipients. */
    char *seed;
    size_t n_seed;
    /* The version of the database's settings enabled and r are (0: none
     * stored, -1: not read yet). */
    int64_t version;
};

const char *apid_alert_type_name(int i);
/* Load and check the whole file (NULL path: alerts off); key_dir:
 * jit-apid.conf's webhook_key_dir (NULL: none), where a key the file
 * names by its name is. */
int apid_alerts_load(const char *path, const char *key_dir,
                     struct apid_alerts *out, char *err, size_t errlen);
void apid_alerts_free(struct apid_alerts *a);
/* jit-apid.conf's webhook_key_dir (NULL: none) fit to hold keys: a
 * directory of root or jit-apid's user that no group or other may write
 * (whoever can add a file there chooses a key jit-apid signs with).  0,
 * or -EINVAL with err set. */
int apid_alerts_key_dir_ok(const char *dir, char *err, size_t errlen);

/*
 * Alert settings at run time (doc/design.md, S27): the types enabled and
 * the recipients are kept in the database as a JSON object
 *
 *   {"enabled": [TYPE...], "recipients": [{"email"|"webhook"|
 *    "directory_group": ..., "secret_file": ..., "types": [TYPE...]}]}
 *
 * (the file's two keys, the same checks), none stored meaning every type
 * off.  The file's keys seed an empty table only.
 */
/* Where settings come from: the database (a bad recipient is logged and
 * left out), the alerts file (root's: a secret_file may be any absolute
 * path), an admin over the API (a secret_file only a name in
 * webhook_key_dir).  The last two are strict: any fault fails. */
#define APID_ALERTS_FROM_STORE 0
#define APID_ALERTS_FROM_FILE 1
#define APID_ALERTS_FROM_API 2
/* json's settings into a->enabled and a->r (replaced), checked against
 * a's mail and webhook settings.  strict (APID_ALERTS_FROM_*): any
 * fault fails (-EINVAL, err set, a as it was); else a bad recipient is
 * logged and left out. */
int apid_alerts_apply(struct apid_alerts *a, const char *json, int strict,
                      char *err, size_t errlen);
/* Whether json's settings would apply strictly to a, as from origin
 * (APID_ALERTS_FROM_FILE or _API): 0, or -EINVAL with err set; a is not
 * changed. */
int apid_alerts_check(const struct apid_alerts *a, const char *json,
                      int origin, char *err, size_t errlen);
/* A secret_file an admin gives over the API: the name of a file in
 * a->key_dir, or its path there; the name (in sf), or NULL with err set
 * (no webhook_key_dir, or not a name in it).  Nothing on disk is looked
 * at. */
const char *apid_alerts_key_name(const struct apid_alerts *a, const char *sf,
                                 char *err, size_t errlen);
/* The subject line's words as RFC 2047 encoded-words when they hold a
 * byte that is not ASCII (else a copy), folded to stay within a line's
 * 78 characters; malloc'd, or NULL. */
char *apid_mail_header_words(const char *text);
struct apid;
/* The database's settings into a->alerts when their version moved (this
 * instance's change or another's); -1 if they cannot be read (those in
 * use stay). */
int apid_alerts_refresh(struct apid *a);
/* seed (the file's settings, NULL: none) into the database if it holds
 * none (logged as alerts.seed by jit-apid); 0, or -1. */
int apid_alerts_seed(struct apid *a, const char *seed);
/* The database's settings into al, not yet in use (a reload's, swapped
 * in with them: no event in between finds every type off); 0, or -1. */
int apid_alerts_from_store(struct apid *a, struct apid_alerts *al);
/* The deliveries an event of this type calls for (malloc'd vector, or
 * NULL with *n 0). */
struct apid_alert_target *apid_alerts_plan(const struct apid_alerts *a,
                                           const char *type, size_t *n);

/* Whether target (of channel) is subscribed to type now: a delivery
 * queued for one an admin has unsubscribed since is not sent. */
int apid_alerts_subscribed(const struct apid_alerts *a, const char *channel,
                           const char *target, const char *type);

/* Deliver one, with its grant when the store still has it (g may be
 * NULL: the alert then says only what the event does); 0, or -1 with why
 * in err. */
int apid_alert_send(const struct apid_alerts *a,
                    const struct apid_alert_job *j, const struct apid_grant *g,
                    char *err, size_t errlen);
/* The webhook signature header's value for a body sent at time t, with
 * the recipient's key:
 * "t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">"; 0, or -1. */
int apid_alert_signature(const unsigned char *key, size_t keylen, int64_t t,
                         const char *body, char *out, size_t outlen);

#endif
