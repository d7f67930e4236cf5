/* SPDX-License-Identifier: MIT */
/*
 * jit-apid: the reference JIT API server.
 *
 *   jit-apid [-c FILE] [--check]
 *
 * Signals are taken by sigwait in the main thread (blocked everywhere
 * else, so no handler runs inside a request): SIGTERM and SIGINT stop,
 * SIGHUP reloads the policies and the token files.
 */
#include "config.h"

#include <errno.h>
#include <curl/curl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "apid.h"
#include "diraccount.h"
#include "dirpeople.h"
#include "kerberos.h"
#include "ldap.h"

#define DEFAULT_CONF SYSCONFDIR "/jit/jit-apid.conf"

/* The same code for a usage error as jit and jitctl (jit-apid(8), EXIT
 * STATUS); 78 stays the configuration's. */
#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: jit-apid [-c FILE] [--check]\n"
    "\n"
    "  -c FILE      configuration file (default " DEFAULT_CONF ")\n"
    "  --check      check the configuration (and the directory) and exit\n"
    "  -h, --help   this text\n"
    "  -V, --version\n"
    "               the version\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM or the check passed, 1 a fault,\n"
    "2 a usage error, 78 a configuration error.\n";

/* A policy naming a directory group where people are not from the
 * directory would admit no one by it: an error, not a silent no. */
static int
groups_without_directory(const struct apid_conf *c,
                         const struct apid_policies *pol)
{
    if (c->people_source != APID_PEOPLE_FILE)
        return 0;
    for (size_t i = 0; i < pol->n; i++) {
        const struct apid_policy *p = &pol->v[i];

        for (size_t k = 0; k < p->n_requesters + p->n_approvers; k++) {
            const char *e = k < p->n_requesters
                                ? p->requesters[k]
                                : p->approvers[k - p->n_requesters];

            if (strncmp(e, "group:", 6) == 0) {
                fprintf(stderr, "jit-apid: %s: policy %s names %s, but"
                        " people_source is file (no directory groups)\n",
                        c->policies, p->name, e);
                return -1;
            }
        }
    }
    return 0;
}

/* The directory, where people come from it: a handle for the requests
 * (a->ldap), and at --check one bind and read of ldap_people_base. */
static int
open_directory(struct apid *a, int check)
{
    char err[512];

    if (a->conf.people_source == APID_PEOPLE_FILE || a->conf.ldap_uri == NULL)
        return 0;
    if ((a->ldap = apid_ldap_open(&a->conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "jit-apid: directory: %s\n", err);
        return -1;
    }
    if (check && apid_dir_ping(a->ldap, &a->conf, err, sizeof(err))
                     != APID_LDAP_OK) {
        fprintf(stderr, "jit-apid: directory: %s\n", err);
        return -1;
    }
    return 0;
}

/* Alerts to a directory group (alerts.h): its members' mail from the
 * directory at each delivery, on a connection of the delivery's own
 * (alerts are rare; the deliverer never waits behind requests). */
static char *
group_mail(void *ctx, const char *group, char *err, size_t errlen)
{
    struct apid *a = ctx;
    struct apid_ldap *l = apid_ldap_open(&a->conf, err, errlen);
    char *out = l ? apid_dir_group_mail(l, &a->conf, group, err, errlen)
                  : NULL;

    apid_ldap_close(l);
    return out;
}

static int
alerts_groups(struct apid *a, struct apid_alerts *al, char *err,
              size_t errlen)
{
    al->no_groups = a->conf.people_source == APID_PEOPLE_FILE;
    al->key_dir = a->conf.webhook_key_dir;
    al->group_mail = group_mail;
    al->group_ctx = a;
    /* The file's recipients are checked as a change by the API is. */
    if (al->seed != NULL
        && apid_alerts_check(al, al->seed, APID_ALERTS_FROM_FILE, err, errlen)
               != 0) {
        apid_alerts_free(al);
        return -1;
    }
    return 0;
}

static int
load_tables(struct apid *a, struct apid_policies *pol, struct apid_auth *auth,
            struct apid_alerts *al)
{
    char err[512];

    /* The keytab is read per request; a broken one is caught here. */
    if (a->conf.krb5_keytab != NULL
        && apid_krb5_check(a->conf.krb5_keytab, err, sizeof(err)) != 0) {
        fprintf(stderr, "jit-apid: krb5_keytab: %s\n", err);
        return -1;
    }
    if (apid_policies_load(a->conf.policies, pol, err, sizeof(err)) != 0) {
        fprintf(stderr, "jit-apid: %s\n", err);
        return -1;
    }
    /* A policy for directory accounts without them configured would
     * grant what cannot be made (diraccount.h). */
    for (size_t i = 0; i < pol->n; i++)
        if (pol->v[i].target_directory && a->conf.ldap_accounts_base == NULL) {
            fprintf(stderr, "jit-apid: %s: policy %s targets the directory,"
                    " and ldap_accounts_base is not set\n",
                    a->conf.policies, pol->v[i].name);
            apid_policies_free(pol);
            return -1;
        }
    if (groups_without_directory(&a->conf, pol) != 0) {
        apid_policies_free(pol);
        return -1;
    }
    if (apid_auth_load(a->conf.host_tokens, a->conf.people,
                       a->conf.krb5_keytab != NULL ? a->conf.krb5_realm
                                                   : NULL,
                       auth, err, sizeof(err)) != 0) {
        fprintf(stderr, "jit-apid: %s\n", err);
        apid_policies_free(pol);
        return -1;
    }
    if (apid_alerts_key_dir_ok(a->conf.webhook_key_dir, err, sizeof(err))
            != 0
        || apid_alerts_load(a->conf.alerts, a->conf.webhook_key_dir, al, err,
                            sizeof(err)) != 0
        || alerts_groups(a, al, err, sizeof(err)) != 0) {
        fprintf(stderr, "jit-apid: alerts: %s\n", err);
        apid_policies_free(pol);
        apid_auth_free(auth);
        return -1;
    }
    return 0;
}

/* Descriptors beyond the connections: the listening socket, an epoll set
 * and a wake-up pipe per worker, the database, the keytab, the alert
 * deliverer's connections, the log. */
#define FD_RESERVE 128

/* One descriptor per connection: the soft limit raised to the hard one,
 * and a max_connections that cannot fit under it refused at the start
 * rather than found when the fleet connects (accept failing with EMFILE
 * refuses logins and long polls alike).  0, or -EINVAL with err set. */
static int
fit_fd_limit(const struct apid_conf *c, char *err, size_t errlen)
{
    rlim_t need = (rlim_t) c->max_connections + FD_RESERVE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return apid_bad(err, errlen, "getrlimit: %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        (void) getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        return apid_bad(err, errlen, "max_connections = %u needs %llu file"
                        " descriptors, and the limit is %llu: lower"
                        " max_connections, or raise the limit (LimitNOFILE="
                        " in the service unit, ulimit -n)",
                        c->max_connections, (unsigned long long) need,
                        (unsigned long long) rl.rlim_cur);
    return 0;
}

static void
reload(struct apid *a)
{
    struct apid_policies pol;
    struct apid_alerts al;
    struct apid_auth auth;

    if (load_tables(a, &pol, &auth, &al) != 0) {
        fprintf(stderr, "jit-apid: reload failed; keeping what was loaded\n");
        return;
    }
    /* The database's alert settings onto the file's new mail and webhook
     * settings before they are in use (the database unreadable: none
     * until the deliverer's next round reads them). */
    (void) apid_alerts_seed(a, al.seed);
    (void) apid_alerts_from_store(a, &al);
    pthread_rwlock_wrlock(&a->lock);
    apid_policies_free(&a->pol);
    apid_auth_free(&a->auth);
    apid_alerts_free(&a->alerts);
    a->pol = pol;
    a->auth = auth;
    a->alerts = al;
    pthread_rwlock_unlock(&a->lock);
    fprintf(stderr, "jit-apid: reloaded policies and tokens\n");
}

int
main(int argc, char **argv)
{
    const char *path = DEFAULT_CONF;
    struct apid_http *d = NULL;
    struct apid a;
    char err[512], *serr = NULL;
    int check = 0, sig = 0, ret = 1, have_worker = 0, have_watcher = 0;
    int have_dir = 0, have_checker = 0;
    pthread_t worker, watcher, dir_worker, checker;
    sigset_t set;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0
                   || strcmp(argv[i], "-V") == 0) {
            printf("jit-apid %s\n", PACKAGE_VERSION);
            return 0;
        } else {
            fprintf(stderr, "jit-apid: %s: %s\n", argv[i],
                    strcmp(argv[i], "-c") == 0 ? "needs a FILE"
                                               : "unknown option");
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    memset(&a, 0, sizeof(a));
    /* A request's memory (a host's list: its grants, their JSON, the
     * answer) comes and goes in its worker's arena, and glibc would give
     * the arena's top back after each request and fault it in again at
     * the next: 200 lists of 100 grants made 185 madvise calls and 1,610
     * page faults (each a TLB shootdown across the CPUs), 11 and 114
     * with these.  What is kept is what a worker used at its peak. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread */
    pthread_rwlock_init(&a.lock, NULL);
    pthread_mutex_init(&a.change_mu, NULL);
    pthread_cond_init(&a.change_cv, NULL);
    pthread_mutex_init(&a.dir_mu, NULL);
    if (apid_conf_load(path, &a.conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "jit-apid: %s\n", err);
        return 78;
    }
    if (load_tables(&a, &a.pol, &a.auth, &a.alerts) != 0) {
        ret = 78;
        goto done;
    }
    /* A directory server that closes on us mid-write (the handshake of
     * --check included) must give an error, not kill us: SIGPIPE is
     * blocked from here on, in every thread started later. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (open_directory(&a, check) != 0) {
        ret = 78;
        goto done;
    }
    if (check && a.conf.ldap_accounts_base != NULL) {
        if (apid_diracct_check(&a, err, sizeof(err)) != APID_LDAP_OK) {
            fprintf(stderr, "jit-apid: directory accounts: %s\n", err);
            ret = 78;
            goto done;
        }
        printf("jit-apid: directory accounts under %s: ok\n",
               a.conf.ldap_accounts_base);
    }
    if (check) {
        if (a.ldap != NULL)
            printf("jit-apid: directory %s: ok\n", a.conf.ldap_uri);
        printf("jit-apid: %s: ok (%zu policies, %zu hosts, %zu people,"
               " %zu alert recipients)\n", path, a.pol.n, a.auth.n_hosts,
               a.auth.n_people, a.alerts.n_seed);
        ret = 0;
        goto done;
    }
    if (fit_fd_limit(&a.conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "jit-apid: %s\n", err);
        ret = 78;
        goto done;
    }
    if ((a.store = apid_store_open(a.conf.database, &serr)) == NULL) {
        fprintf(stderr, "jit-apid: %s\n", serr ? serr : "out of memory");
        goto done;
    }
    /* The alert settings: the database's, seeded from the file into an
     * empty one. */
    if (apid_alerts_seed(&a, a.alerts.seed) != 0
        || apid_alerts_refresh(&a) != 0)
        goto done;
    if (a.conf.ldap_accounts_base != NULL
        && (a.dir_ldap = apid_ldap_open(&a.conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "jit-apid: directory accounts: %s\n", err);
        ret = 78;
        goto done;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    if ((d = apid_http_start(&a, err, sizeof(err))) == NULL) {
        fprintf(stderr, "jit-apid: %s\n", err);
        goto done;
    }
    if (pthread_create(&worker, NULL, apid_alerts_worker, &a) != 0) {
        fprintf(stderr, "jit-apid: cannot start the alert deliverer\n");
        goto done;
    }
    have_worker = 1;
    if (pthread_create(&watcher, NULL, apid_watch_worker, &a) != 0) {
        fprintf(stderr, "jit-apid: cannot start the change watcher\n");
        goto done;
    }
    have_watcher = 1;
    /* Teardowns of directory accounts (diraccount.h): without the
     * directory it has nothing to claim but rows of an earlier
     * configuration, which it reports as failed. */
    if (pthread_create(&dir_worker, NULL, apid_diracct_worker, &a) != 0) {
        fprintf(stderr, "jit-apid: cannot start the directory worker\n");
        goto done;
    }
    have_dir = 1;
    if (a.ldap != NULL) {
        if (pthread_create(&checker, NULL, apid_dir_check_worker, &a) != 0) {
            fprintf(stderr, "jit-apid: cannot start the directory check\n");
            goto done;
        }
        have_checker = 1;
    }
    fprintf(stderr, "jit-apid: serving on %s:%u\n", a.conf.listen_addr,
            apid_http_port(d));
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP)
            reload(&a);
        else if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    fprintf(stderr, "jit-apid: stopping\n");
    ret = 0;

done:
    a.stopping = 1;
    apid_changed(&a); /* long polls and the deliverer wake now */
    /* The long polls first: they are answered while the deliverer ends
     * a delivery it may be in. */
    apid_http_stop(d);
    if (have_worker)
        pthread_join(worker, NULL);
    if (have_watcher)
        pthread_join(watcher, NULL);
    if (have_dir)
        pthread_join(dir_worker, NULL);
    apid_ldap_close(a.dir_ldap);
    if (have_checker)
        pthread_join(checker, NULL);
    apid_http_free(d);
    apid_store_close(a.store);
    apid_ldap_close(a.ldap);
    free(serr);
    apid_policies_free(&a.pol);
    apid_auth_free(&a.auth);
    apid_alerts_free(&a.alerts);
    apid_conf_free(&a.conf);
    return ret;
}
