/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "core/home.h"
#include "core/teardown.h"
#include "core/validate.h"
#include "login/login.h"
#include "login/login_impl.h"
#include "login/relay_client.h"

/* jit_login_audit (owner.c) with, where no grant is at hand, the
 * account's fields instead. */
static void
audit(struct jit_login *l, int prio, const char *event, const char *result,
      const char *reason, const struct jit_grant *g,
      const struct jit_account *a)
{
    struct jit_audit au = {
        .event = event, .result = result, .reason = reason, .user = l->user,
        .service = l->service, .rhost = l->rhost, .tty = l->tty,
    };

    if (g != NULL || a == NULL) {
        jit_login_audit(l, prio, event, result, reason, g);
        return;
    }
    au.requester = a->requester;
    au.credential = a->credential;
    au.grant = a->grant_id;
    au.expires = a->expires;
    l->reason = reason;
    jit_audit(&l->log, prio, &au);
}

static char *
event_detail(const struct jit_login *l, const char *reason)
{
    json_t *o = json_object();
    char *text = NULL;

    if (o == NULL)
        return NULL;
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    if (l->service)
        json_object_set_new(o, "service", json_string(l->service));
    if (l->rhost)
        json_object_set_new(o, "rhost", json_string(l->rhost));
    if (l->tty)
        json_object_set_new(o, "tty", json_string(l->tty));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* The store: the one the caller keeps between steps (store_slot), or a
 * new one.  store_done closes only what is not kept. */
static struct jit_store *
store_open(struct jit_login *l)
{
    struct jit_store *s = NULL;
    char *msg = NULL;

    if (l->store_slot != NULL && *l->store_slot != NULL)
        return *l->store_slot;
    if (jit_store_open(l->conf, l->host, &s, &msg) != 0) {
        jit_logf(&l->log, LOG_ERR, "state store: %s", msg ? msg : "?");
        s = NULL;
    }
    free(msg);
    if (s != NULL && l->store_slot != NULL)
        *l->store_slot = s;
    return s;
}

static void
store_done(struct jit_login *l, struct jit_store *s)
{
    if (l->store_slot == NULL)
        jit_store_close(s);
}

/* Inside a transaction that counts a session: the counts of an earlier
 * boot of the host set to zero first (*reset: how many), to be said
 * once the transaction commits (reset_said). */
static int
count_in_this_boot(struct jit_store *s, int64_t now, int *reset)
{
    int r = jit_store_sessions_this_boot(s, now);

    *reset = r > 0 ? r : 0;
    return r < 0 ? r : 0;
}

static void
reset_said(struct jit_login *l, int reset)
{
    if (reset > 0)
        jit_logf(&l->log, LOG_NOTICE, JIT_STORE_BOOT_RESET_FMT, reset);
}

/* Put a denial that concerns a grant or one of our accounts into the
 * outbox too.  (A name nobody knows, with no grant, stays in syslog only:
 * anyone can try names, and the outbox must not fill with them.) */
static void
record_denial(struct jit_login *l, struct jit_store *s,
              const struct jit_grant *g, const struct jit_account *a,
              const char *reason)
{
    char *detail = event_detail(l, reason);
    const char *grant = g ? g->id : a ? a->grant_id : NULL;
    const char *req = g ? g->requester : a ? a->requester : NULL;
    int own = s == NULL;

    if (own && (s = store_open(l)) == NULL)
        goto done;
    if (jit_store_begin(s) != 0)
        goto done;
    if (jit_store_add_event(s, "login.denied", grant, l->user, req, detail,
                            (int64_t) time(NULL)) != 0
        || jit_store_commit(s) != 0) {
        jit_logf(&l->log, LOG_ERR, "outbox: %s", jit_store_error(s));
        jit_store_rollback(s);
    }

done:
    if (own)
        store_done(l, s);
    free(detail);
}

/* A name nobody knows costs the same fsync'd commit as a known one's
 * denial (its event into the outbox): without it the time to answer
 * told the two apart by a few to tens of milliseconds, more with the
 * disk busy (doc/design.md, threat G4).  The commit
 * counts such denials; the name itself is kept out of the store, where
 * anyone could otherwise fill it by trying names. */
static void
balance_denial(struct jit_login *l)
{
    struct jit_store *s;
    char *old = NULL, buf[24];
    unsigned long long n = 0;

    if (geteuid() != 0 || (s = store_open(l)) == NULL)
        return;
    if (jit_store_begin(s) != 0)
        goto done;
    if (jit_store_kv_get(s, "login.denied_unknown", &old) == 0)
        n = strtoull(old, NULL, 10);
    snprintf(buf, sizeof(buf), "%llu", n + 1);
    if (jit_store_kv_put(s, "login.denied_unknown", buf) != 0
        || jit_store_commit(s) != 0) {
        jit_logf(&l->log, LOG_ERR, "state store: %s", jit_store_error(s));
        jit_store_rollback(s);
    }

done:
    free(old);
    store_done(l, s);
}

static enum jit_verdict
deny(struct jit_login *l, struct jit_store *s, const char *event,
     const char *reason, const struct jit_grant *g,
     const struct jit_account *a, int to_outbox)
{
    audit(l, LOG_NOTICE, event, "deny", reason, g, a);
    if (to_outbox && geteuid() == 0)
        record_denial(l, s, g, a, reason);
    return JIT_DENY;
}

/* A write that failed: undo the transaction, say why in the log, deny.
 * store_reason is the audit reason; a store error is not the user's doing
 * and stays out of the outbox. */
static enum jit_verdict
txn_failed(struct jit_login *l, struct jit_store *s, const char *event,
           const char *reason, const struct jit_grant *g,
           const struct jit_account *a)
{
    jit_logf(&l->log, LOG_ERR, "state store (%s): %s", l->user,
             jit_store_error(s));
    jit_store_rollback(s);
    return deny(l, s, event, reason, g, a, strcmp(reason, "store_error") != 0);
}

/* Ask the API for the user's grant and check that it fits.  On JIT_ALLOW
 * *g is filled; otherwise the denial is audited. */
static enum jit_verdict
live_grant(struct jit_login *l, const char *event, int ours,
           struct jit_grant *g)
{
    struct jit_api_error err;
    enum jit_api_status st;
    const char *misfit;
    char why[160];

    memset(g, 0, sizeof(*g));
    /* jitctl daemon asks on a kept connection when it runs; the same
     * answer read the same way, else the login asks itself. */
    if (jit_relay_get_grant(l->conf, l->user, g, &err, &st, why,
                            sizeof(why)) != 0) {
        jit_logf(&l->log, LOG_DEBUG, "%s; asking the API", why);
        st = jit_api_get_grant_with(l->conf, l->api, l->user, g, &err);
    } else {
        jit_logf(&l->log, LOG_DEBUG, "grant of %s asked through jitctl "
                 "daemon", l->user);
    }
    switch (st) {
    case JIT_API_OK:
        break;
    case JIT_API_NOT_FOUND:
        deny(l, NULL, event, "no_grant", NULL, NULL, ours);
        if (!ours)
            balance_denial(l);
        return JIT_DENY;
    default:
        jit_logf(&l->log, LOG_ERR, "API: %s: %s", err.reason, err.detail);
        deny(l, NULL, event, err.reason, NULL, NULL, ours);
        if (!ours)
            balance_denial(l);
        return JIT_DENY;
    }
    if ((misfit = jit_grant_misfit(g, l->conf, l->user,
                                   (int64_t) time(NULL))) != NULL) {
        deny(l, NULL, event, misfit, g, NULL, 1);
        jit_grant_free(g);
        return JIT_DENY;
    }
    return JIT_ALLOW;
}

/* A stored grant that has not ended.  Sessions are open under it, so its
 * start is behind it: a not_before ahead of this clock does not end it. */
static int
grant_in_force(struct jit_store *s, const struct jit_conf *conf,
               const char *id, int64_t now)
{
    struct jit_grant og;
    enum jit_grant_standing st;
    int in_force;

    if (jit_store_get_grant(s, id, &og) != 0)
        return 0;
    st = jit_grant_standing(&og, now, conf->clock_skew);
    /* NOT_YET is decided before the end is looked at: such a grant is
     * in force only until its end, whatever the parser would allow. */
    in_force = st == JIT_GRANT_IN_FORCE
               || (st == JIT_GRANT_NOT_YET && now < og.expires_at);
    jit_grant_free(&og);
    return in_force;
}

void
jit_login_checked_clear(struct jit_login_checked *c)
{
    if (c == NULL)
        return;
    jit_grant_free(&c->g);
    memset(&c->g, 0, sizeof(c->g));
    free(c->user);
    c->user = NULL;
    c->valid = 0;
}

static int64_t
mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec;
}

/* Keep the grant acct_mgmt allowed for open_session (it takes *g). */
static void
checked_keep(struct jit_login *l, struct jit_grant *g)
{
    struct jit_login_checked *c = l->checked;

    if (c == NULL)
        return;
    jit_login_checked_clear(c);
    if ((c->user = strdup(l->user)) == NULL)
        return;
    c->g = *g;
    memset(g, 0, sizeof(*g));
    c->at = mono_s();
    c->valid = 1;
}

/* The grant acct_mgmt allowed a moment ago in this handle, for this
 * user, taken once: 1 with *g filled (and still fitting now), 0 if there
 * is none to reuse. */
static int
checked_take(struct jit_login *l, struct jit_grant *g)
{
    struct jit_login_checked *c = l->checked;
    int64_t age;

    if (c == NULL || !c->valid)
        return 0;
    age = mono_s() - c->at;
    if (strcmp(c->user, l->user) != 0 || age < 0 || age > JIT_LOGIN_REUSE_S
        || jit_grant_misfit(&c->g, l->conf, l->user, (int64_t) time(NULL))
               != NULL) {
        jit_login_checked_clear(c);
        return 0;
    }
    *g = c->g;
    memset(&c->g, 0, sizeof(c->g));
    jit_login_checked_clear(c);
    return 1;
}

static int
same_str(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The stored grant is the live one: every field jit_store_get_grant
 * gives back.  (Groups are not among them: the caller compares the
 * grant's with the account's, which are what NSS shows.) */
static int
grant_same(const struct jit_grant *a, const struct jit_grant *b)
{
    if (!same_str(a->id, b->id) || !same_str(a->credential, b->credential)
        || !same_str(a->requester, b->requester)
        || !same_str(a->username, b->username)
        || !same_str(a->host, b->host) || !same_str(a->reason, b->reason)
        || !same_str(a->status, b->status)
        || !same_str(a->on_logout, b->on_logout)
        || a->not_before != b->not_before || a->expires_at != b->expires_at
        || a->n_ssh_keys != b->n_ssh_keys)
        return 0;
    for (size_t i = 0; i < b->n_ssh_keys; i++)
        if (!same_str(a->ssh_keys[i], b->ssh_keys[i]))
            return 0;
    return 1;
}

/* An account already reserved or active under this very grant, stored
 * as the API gave it, not revoked here: the login has nothing to write,
 * so it takes no writer lock and commits nothing.  Read in one read
 * transaction; any doubt answers 0 and the login takes the writing path,
 * which decides (and denies) as before. */
static int
nothing_to_write(struct jit_store *s, const struct jit_grant *g,
                 const char *user)
{
    struct jit_account a = { 0 };
    struct jit_grant og = { 0 };
    int same = 0;

    if (jit_store_read_begin(s) != 0)
        return 0;
    same = jit_store_revoked_locally(s, g->id) == 0
           && jit_store_get_account(s, user, &a) == 0
           && (a.state == JIT_ACCOUNT_RESERVED
               || a.state == JIT_ACCOUNT_ACTIVE)
           && same_str(a.grant_id, g->id)
           && same_str(a.requester, g->requester)
           && same_str(a.credential, g->credential)
           && a.expires == g->expires_at && jit_account_same_groups(&a, g)
           && jit_store_get_grant(s, g->id, &og) == 0 && grant_same(&og, g);
    jit_store_read_end(s);
    jit_grant_free(&og);
    jit_account_free(&a);
    return same;
}

enum jit_verdict
jit_login_account(struct jit_login *l)
{
    struct jit_account a = { 0 }, other = { 0 };
    struct jit_grant g = { 0 };
    struct jit_store *s = NULL;
    enum jit_verdict v;
    const char *why = "reserved", *first = NULL;
    char *detail = NULL;
    int64_t now;
    int ret, ours;

    /* Only this step's allow is kept for open_session. */
    jit_login_checked_clear(l->checked);
    switch (jit_login_owner(l, NULL)) {
    case JIT_OWNER_OTHER:
        l->reason = "other_source";
        return JIT_IGNORE;
    case JIT_OWNER_ERROR:
        return deny(l, NULL, "login", "nss_error", NULL, NULL, 0);
    case JIT_OWNER_OURS:
        ours = 1;
        break;
    default:
        ours = 0;
    }
    if (geteuid() != 0)
        return deny(l, NULL, "login", "not_root", NULL, NULL, 0);
    /* No grant can name what we could never create: no API call for it. */
    if (jit_name_problem(l->user) != NULL)
        return deny(l, NULL, "login", "bad_name", NULL, NULL, 0);
    if ((v = live_grant(l, "login", ours, &g)) != JIT_ALLOW)
        return v;
    if ((s = store_open(l)) == NULL) {
        v = deny(l, NULL, "login", "store_error", &g, NULL, 0);
        goto done;
    }
    if (nothing_to_write(s, &g, l->user)) {
        audit(l, LOG_NOTICE, "login", "allow", "grant", &g, NULL);
        checked_keep(l, &g);
        v = JIT_ALLOW;
        goto done;
    }
    now = (int64_t) time(NULL);
    if (jit_store_begin(s) != 0) {
        v = deny(l, s, "login", "store_error", &g, NULL, 0);
        goto done;
    }
    if (jit_store_revoked_locally(s, g.id) != 0) {
        jit_store_rollback(s);
        v = deny(l, s, "login", "revoked_locally", &g, NULL, 1);
        goto done;
    }
    if (jit_store_put_grant(s, &g) != 0) {
        v = txn_failed(l, s, "login", "store_error", &g, NULL);
        goto done;
    }
    ret = jit_store_get_account(s, l->user, &a);
    if (ret == 0) {
        if (strcmp(a.requester, g.requester) != 0
            || strcmp(a.credential, g.credential) != 0) {
            jit_store_rollback(s);
            v = deny(l, s, "login", "name_conflict", &g, &a, 1);
            goto done;
        }
        if (a.state != JIT_ACCOUNT_RESERVED && a.state != JIT_ACCOUNT_ACTIVE) {
            jit_store_rollback(s);
            v = deny(l, s, "login", "account_disabling", &g, &a, 1);
            goto done;
        }
        why = "grant";
        if (strcmp(a.grant_id, g.id) != 0) {
            /* The API holds one active grant per requester and credential,
             * so a new one for this account supersedes what we stored;
             * but sessions still open under the old grant keep it, and
             * the account is not moved under them. */
            if (a.sessions > 0 && grant_in_force(s, l->conf, a.grant_id, now)) {
                jit_store_rollback(s);
                v = deny(l, s, "login", "duplicate_grant", &g, &a, 1);
                goto done;
            }
            why = "rebound";
        } else if (a.expires != g.expires_at
                   || !jit_account_same_groups(&a, &g)) {
            /* The grant was extended or shortened, or its groups changed:
             * so is the account (its shadow expiry and groups are in the
             * snapshot), before this login's initgroups reads them. */
            why = "updated";
        }
        if (strcmp(why, "grant") != 0
            && (ret = jit_store_rebind(s, l->user, &g)) != 0) {
            v = txn_failed(l, s, "login", jit_store_reason(ret), &g, NULL);
            goto done;
        }
        if (strcmp(why, "rebound") == 0)
            first = "account.enabled";
    } else if (ret == -ENOENT) {
        /* One requester, one account per credential (doc/design.md, "The
         * life of a grant and its account"):
         * a second grant of the same person, under another name, is
         * refused while the account for the first one exists. */
        if (jit_store_find_account(s, g.requester, g.credential, &other) == 0) {
            jit_store_rollback(s);
            v = deny(l, s, "login", "duplicate_grant", &g, &other, 1);
            goto done;
        }
        if ((ret = jit_store_reserve(s, &g, now, &a)) != 0) {
            v = txn_failed(l, s, "login", jit_store_reason(ret), &g, NULL);
            goto done;
        }
        first = "account.created";
    }
    /* The account is usable from this commit: the API hears of it now,
     * in the transaction that made it, once (sync queues the same when
     * it gets there first, and then this login finds nothing to do). */
    if (first != NULL && (detail = event_detail(l, NULL)) == NULL)
        ret = -ENOMEM;
    if ((ret != 0 && ret != -ENOENT)
        || (first != NULL
            && jit_store_add_event(s, first, g.id, l->user, g.requester,
                                   detail, now) != 0)
        || jit_store_commit(s) != 0) {
        v = txn_failed(l, s, "login", "store_error", &g, NULL);
        goto done;
    }
    if (first != NULL)
        audit(l, LOG_NOTICE, first, "ok", why, &g, NULL);
    audit(l, LOG_NOTICE, "login", "allow", why, &g, NULL);
    checked_keep(l, &g);
    v = JIT_ALLOW;

done:
    free(detail);
    jit_account_free(&other);
    jit_account_free(&a);
    jit_grant_free(&g);
    store_done(l, s);
    return v;
}

/* Shell from the allow-list, as the store recorded it. */
static int
shell_allowed(const struct jit_conf *c, const char *shell)
{
    for (size_t i = 0; i < c->shells.n; i++)
        if (strcmp(c->shells.items[i], shell) == 0)
            return 1;
    return 0;
}

/* Inside open_session's transaction: is the account still the one read
 * before it (same grant and uid, reserved or active, not revoked here)?
 * NULL if so, with *a now as read in the transaction (another session
 * of it may have made it active meanwhile), else the reason to deny. */
static const char *
still_same(struct jit_store *s, struct jit_account *a, const char *grant_id)
{
    struct jit_account now = { 0 };
    const char *why = NULL;
    int ret;

    if ((ret = jit_store_get_account(s, a->name, &now)) != 0)
        return ret == -ENOENT ? "no_account" : "store_error";
    if (strcmp(now.grant_id, grant_id) != 0 || now.uid != a->uid)
        why = "grant_changed";
    else if ((ret = jit_store_revoked_locally(s, grant_id)) != 0)
        why = ret > 0 ? "revoked_locally" : "store_error";
    else if (now.state != JIT_ACCOUNT_RESERVED
             && now.state != JIT_ACCOUNT_ACTIVE)
        why = "account_disabling";
    if (why != NULL) {
        jit_account_free(&now);
        return why;
    }
    jit_account_free(a);
    *a = now;
    return NULL;
}

enum jit_verdict
jit_login_open_session(struct jit_login *l)
{
    struct jit_account a = { 0 };
    struct jit_grant g = { 0 };
    struct jit_store *s = NULL;
    enum jit_verdict v;
    const char *first = NULL, *why;
    char err[512] = "";
    char *detail = NULL;
    int64_t now;
    int created = 0, reset = 0, ret;

    switch (jit_login_owner(l, NULL)) {
    case JIT_OWNER_OTHER:
        l->reason = "other_source";
        return JIT_IGNORE;
    case JIT_OWNER_OURS:
        break;
    case JIT_OWNER_NONE:
        /* account did not let this user through, or it is gone since. */
        return deny(l, NULL, "session.opened", "no_account", NULL, NULL, 0);
    default:
        return deny(l, NULL, "session.opened", "nss_error", NULL, NULL, 0);
    }
    if (geteuid() != 0)
        return deny(l, NULL, "session.opened", "not_root", NULL, NULL, 0);
    /* A grant revoked since the account step ends here; but right after
     * that step in the same handle its answer stands, and a revocation in
     * between is the daemon's to enforce within its round (pam_jit(8)). */
    if (!checked_take(l, &g)
        && (v = live_grant(l, "session.opened", 1, &g)) != JIT_ALLOW)
        return v;
    if ((s = store_open(l)) == NULL) {
        v = deny(l, NULL, "session.opened", "store_error", &g, NULL, 0);
        goto done;
    }
    if ((ret = jit_store_get_account(s, l->user, &a)) != 0) {
        v = deny(l, s, "session.opened", ret == -ENOENT ? "no_account"
                                                        : "store_error",
                 &g, NULL, ret == -ENOENT);
        goto done;
    }
    if (strcmp(a.grant_id, g.id) != 0) {
        v = deny(l, s, "session.opened", "grant_changed", &g, &a, 1);
        goto done;
    }
    /* jitctl revoke commits the revocation before its teardown marks
     * the account: a session opening in between is refused here. */
    if ((ret = jit_store_revoked_locally(s, g.id)) != 0) {
        v = deny(l, s, "session.opened", ret > 0 ? "revoked_locally"
                                                 : "store_error",
                 &g, &a, ret > 0);
        goto done;
    }
    if (a.state != JIT_ACCOUNT_RESERVED && a.state != JIT_ACCOUNT_ACTIVE) {
        v = deny(l, s, "session.opened", "account_disabling", &g, &a, 1);
        goto done;
    }
    if (!shell_allowed(l->conf, a.shell)) {
        v = deny(l, s, "session.opened", "shell_not_allowed", &g, &a, 1);
        goto done;
    }
    ret = jit_home_create(l->conf->home_base, a.name, l->conf->skel, a.uid,
                          a.gid, &created, err, sizeof(err));
    if (ret != 0) {
        jit_logf(&l->log, LOG_ERR, "home of %s: %s", a.name, err);
        v = deny(l, s, "session.opened", "home_unsafe", &g, &a, 1);
        goto done;
    }
    now = (int64_t) time(NULL);
    detail = event_detail(l, NULL);
    if (jit_store_begin(s) != 0) {
        v = deny(l, s, "session.opened", "store_error", &g, &a, 0);
        goto done;
    }
    /* What was read above, before the home, was read outside this
     * transaction: a revocation, a teardown's mark or a rebind committed
     * since would not be seen by the writes below.  Read again under the
     * lock, and deny on any change. */
    if ((why = still_same(s, &a, g.id)) != NULL) {
        jit_store_rollback(s);
        v = deny(l, s, "session.opened", why, &g, &a,
                 strcmp(why, "store_error") != 0);
        goto done;
    }
    /* Its account.created/enabled went out when it was reserved or
     * rebound; only one reserved by an older version still owes it. */
    if (a.state == JIT_ACCOUNT_RESERVED && !a.announced)
        first = a.rebound ? "account.enabled" : "account.created";
    if (count_in_this_boot(s, now, &reset) != 0
        || jit_store_add_sessions(s, a.name, 1, NULL) != 0
        || (a.state == JIT_ACCOUNT_RESERVED
            && jit_store_set_state(s, a.name, JIT_ACCOUNT_ACTIVE) != 0)
        || (first && jit_store_add_event(s, first, g.id, a.name, g.requester,
                                         detail, now) != 0)
        || jit_store_add_event(s, "session.opened", g.id, a.name,
                               g.requester, detail, now) != 0
        || jit_store_commit(s) != 0) {
        v = txn_failed(l, s, "session.opened", "store_error", &g, &a);
        goto done;
    }
    reset_said(l, reset);
    if (first)
        audit(l, LOG_NOTICE, first, "ok", a.rebound ? "rebound" : "reserved",
              &g, NULL);
    audit(l, LOG_NOTICE, "session.opened", "allow",
          created ? "home_created" : "grant", &g, NULL);
    v = JIT_ALLOW;

done:
    free(detail);
    jit_account_free(&a);
    jit_grant_free(&g);
    store_done(l, s);
    return v;
}

/* Inside close_session's transaction, under the writers' lock: mark the
 * account tearing_down if it is active, claiming its uid first if claim
 * (*marked, *claimed).  Whoever marks holds the claim from the same transaction on
 * (doc/design.md, F9), so a process that reads tearing_down knows its
 * marker is tearing it down, or died and let go of it.  One another
 * process marked (the reaper at its end, jitctl revoke) is theirs. */
static int
mark_if_active(struct jit_store *s, const char *name, int claim,
               int *marked, int *claimed, uint32_t *uid)
{
    struct jit_account now = { 0 };
    int ret;

    *marked = 0;
    if ((ret = jit_store_get_account(s, name, &now)) != 0)
        return ret;
    if (now.state == JIT_ACCOUNT_ACTIVE) {
        *uid = now.uid;
        *claimed = claim && jit_store_claim_uid(s, now.uid) == 0;
        if ((ret = jit_store_set_state(s, name, JIT_ACCOUNT_TEARING_DOWN))
            == 0)
            *marked = 1;
    }
    jit_account_free(&now);
    return ret;
}

enum jit_verdict
jit_login_close_session(struct jit_login *l)
{
    struct jit_account a = { 0 };
    struct jit_grant g = { 0 };
    struct jit_store *s = NULL;
    enum jit_verdict v = JIT_ALLOW;
    char *detail = NULL;
    uint32_t left = 0;
    int64_t now = (int64_t) time(NULL);
    uint32_t claimed_uid = 0;
    int ret, last, on_logout_delete, marked = 0, claimed = 0, reset = 0;

    if (jit_login_owner(l, NULL) != JIT_OWNER_OURS) {
        l->reason = "other_source";
        return JIT_IGNORE;
    }
    if (geteuid() != 0)
        return deny(l, NULL, "session.closed", "not_root", NULL, NULL, 0);
    if ((s = store_open(l)) == NULL)
        return deny(l, NULL, "session.closed", "store_error", NULL, NULL, 0);
    if ((ret = jit_store_get_account(s, l->user, &a)) != 0) {
        v = ret == -ENOENT ? JIT_IGNORE : JIT_DENY;
        l->reason = ret == -ENOENT ? "no_account" : "store_error";
        goto done;
    }
    detail = event_detail(l, NULL);
    on_logout_delete = jit_store_get_grant(s, a.grant_id, &g) == 0
                       && strcmp(g.on_logout, "delete") == 0;
    /* The last logout of a delete-on-logout account marks it for teardown
     * in the same transaction that counts the session out. */
    if (jit_store_begin(s) != 0 || count_in_this_boot(s, now, &reset) != 0
        || jit_store_add_sessions(s, a.name, -1, &left) != 0
        || jit_store_add_event(s, "session.closed", a.grant_id, a.name,
                               a.requester, detail, now) != 0
        /* (in the session's own mount namespace the reaper tears down,
         * so this logout claims nothing) */
        || (left == 0 && on_logout_delete
            && mark_if_active(s, a.name, !l->foreign_mount_ns, &marked,
                              &claimed, &claimed_uid) != 0)
        || jit_store_commit(s) != 0) {
        v = txn_failed(l, s, "session.closed", "store_error", NULL, &a);
        goto done;
    }
    reset_said(l, reset);
    last = left == 0 && on_logout_delete;
    audit(l, LOG_NOTICE, "session.closed", "ok",
          last ? "last_logout" : left ? "sessions_left" : "kept", NULL, &a);
    if (last && !marked) {
        jit_logf(&l->log, LOG_NOTICE, "teardown of %s: begun already by "
                 "another process (the reaper or jitctl revoke); left to it",
                 a.name);
    } else if (marked && l->foreign_mount_ns) {
        jit_logf(&l->log, LOG_NOTICE, "teardown of %s left to the reaper: "
                 "this process is in the session's own mount namespace, "
                 "where /tmp is not the shared one", a.name);
    } else if (marked) {
        /* Another process holding it finishes it; one that finished it
         * already took the rows (and audited). */
        ret = jit_teardown(s, l->conf, a.name, "logout", &l->log, now);
        if (ret == -EALREADY)
            jit_logf(&l->log, LOG_NOTICE, "teardown of %s: another process "
                     "is tearing it down; left to it", a.name);
        else if (ret != 0 && ret != -ENOENT)
            v = JIT_DENY;
    }

done:
    if (claimed)
        jit_store_release_uid(s, claimed_uid);
    free(detail);
    jit_grant_free(&g);
    jit_account_free(&a);
    store_done(l, s);
    return v;
}

/* What auth.c shares with the steps above (login_impl.h). */
enum jit_verdict
jit_login_live_grant(struct jit_login *l, const char *event, int ours,
                     struct jit_grant *g)
{
    return live_grant(l, event, ours, g);
}

int
jit_login_revoked_locally(struct jit_login *l, const char *grant_id)
{
    struct jit_store *s = store_open(l);
    int r;

    if (s == NULL)
        return -EIO;
    r = jit_store_revoked_locally(s, grant_id);
    store_done(l, s);
    return r;
}
