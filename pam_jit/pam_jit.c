/* SPDX-License-Identifier: MIT */
/*
 * pam_jit.so: PAM glue over lib/login/ (doc/design.md, R6).  Each entry point
 * loads the configuration, fills a jit_login from the PAM items (and, for
 * auth, a way to ask through the conversation), and maps the verdict to a
 * PAM code.  All logic is in lib/.
 *
 * It links libpam and libc alone (doc/design.md, F7): libpam loads it into
 * every sudo, su and cron at pam_start, for local users too.  A user
 * another source owns is decided here (lib/login/owner.c); only for one
 * that may be ours is the login backend (pam_jit_login.so, with libcurl,
 * libkrb5 and SQLite) loaded and the step handed to it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "core/conf.h"
#include "core/scrub.h"
#include "login/backend.h"
#include "login/login.h"
#include "login/login_impl.h"

struct glue {
    pam_handle_t *pamh;
    int debug;
};

static void
emit(void *ctx, int prio, const char *line)
{
    struct glue *g = ctx;

    if (prio == LOG_DEBUG && !g->debug)
        return;
    pam_syslog(g->pamh, prio, "%s", line);
}

/* The configuration: config=PATH (or the default file), then the other
 * module arguments over it.  Every error is logged; any error fails. */
static int
load_conf(pam_handle_t *pamh, int argc, const char **argv,
          struct jit_conf *conf)
{
    struct jit_errs errs = { NULL, 0 };
    int ret = jit_conf_load(conf, JIT_CONF_PATH, argc, argv, &errs);

    if (ret == -ENOMEM)
        pam_syslog(pamh, LOG_CRIT, "out of memory");
    for (size_t i = 0; i < errs.n; i++)
        pam_syslog(pamh, LOG_ERR, "configuration: %s",
                   errs.msg[i] ? errs.msg[i] : "out of memory");
    jit_errs_free(&errs);
    return ret == 0 ? 0 : -1;
}

/* One echo-off prompt through the application's conversation; the
 * answer is malloc'd (lib/login/auth.c wipes and frees it). */
static int
ask(void *ctx, const char *prompt, char **answer)
{
    struct glue *g = ctx;
    char *resp = NULL;

    if (pam_prompt(g->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt)
            != PAM_SUCCESS
        || resp == NULL) {
        if (resp != NULL) {
            explicit_bzero(resp, strlen(resp));
            free(resp);
        }
        return -EIO;
    }
    *answer = resp;
    return 0;
}

static const char *
item(pam_handle_t *pamh, int type)
{
    const void *v = NULL;

    if (pam_get_item(pamh, type, &v) != PAM_SUCCESS)
        return NULL;
    return v;
}

/*
 * What one PAM handle keeps between its steps (acct_mgmt, open_session,
 * close_session usually run in one process on one handle): the
 * configuration, and once the backend is loaded its state (the store, the
 * connection to the API, acct_mgmt's answer), so that later steps skip
 * the file parsing, the database open and the TLS handshake.  Kept only
 * for the same module arguments and the same process: a forked child
 * never touches its parent's SQLite or TLS state.
 */
#define CACHE_DATA "pam_jit.cache"

struct cache {
    pid_t pid;
    char *args;           /* the module arguments, joined */
    struct jit_conf conf;
    char *backend_path;
    const struct jit_backend *backend; /* NULL until a user may be ours */
    void *state;                      /* the backend's */
};

static void
cache_free(struct cache *c)
{
    if (c == NULL)
        return;
    /* In a child, only memory goes: the descriptors are the parent's.
     * The backend stays loaded (RTLD_NODELETE: lib/login/backend.c). */
    if (c->backend != NULL)
        c->backend->state_free(c->state, c->pid == getpid());
    jit_conf_free(&c->conf);
    free(c->backend_path);
    free(c->args);
    free(c);
}

static void
cache_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
    (void) pamh;
    (void) error_status;
    cache_free(data);
}

static char *
join_args(int argc, const char **argv)
{
    size_t len = 1;
    char *s;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if ((s = calloc(1, len)) == NULL)
        return NULL;
    for (int i = 0; i < argc; i++) {
        strcat(s, argv[i]);
        strcat(s, "\n");
    }
    return s;
}

/* The handle's cache for these arguments, made (configuration loaded)
 * if needed; NULL if the configuration is bad or memory ran out. */
static struct cache *
get_cache(pam_handle_t *pamh, int argc, const char **argv)
{
    const void *data = NULL;
    const char *path;
    struct cache *c;
    char *args = join_args(argc, argv);

    if (args == NULL)
        return NULL;
    if (pam_get_data(pamh, CACHE_DATA, &data) == PAM_SUCCESS && data != NULL) {
        c = (struct cache *) (uintptr_t) data;
        if (c->pid == getpid() && strcmp(c->args, args) == 0) {
            free(args);
            return c;
        }
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        free(args);
        return NULL;
    }
    c->pid = getpid();
    c->args = args;
    if (load_conf(pamh, argc, argv, &c->conf) != 0) {
        free(c->args);
        free(c);
        return NULL;
    }
    /* root's choice in pam.d (tests point it at the build tree); never
     * the environment, which the caller of sudo or su sets. */
    path = JIT_LOGIN_BACKEND;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "backend=", 8) == 0)
            path = argv[i] + 8;
    if ((c->backend_path = strdup(path)) == NULL) {
        cache_free(c);
        return NULL;
    }
    /* Replacing the old data runs its cleanup. */
    if (pam_set_data(pamh, CACHE_DATA, c, cache_cleanup) != PAM_SUCCESS) {
        cache_free(c);
        return NULL;
    }
    return c;
}

/* What every step hands lib/login/: the user, PAM's items, the log. */
static void
fill_login(struct jit_login *l, struct glue *g, pam_handle_t *pamh,
           const struct jit_conf *conf, const char *user)
{
    g->debug = conf->debug;
    memset(l, 0, sizeof(*l));
    l->conf = conf;
    l->user = user;
    l->service = item(pamh, PAM_SERVICE);
    l->rhost = item(pamh, PAM_RHOST);
    l->tty = item(pamh, PAM_TTY);
    l->log.emit = emit;
    l->log.ctx = g;
    l->log.json = conf->audit_format == JIT_AUDIT_JSON;
}

/* The default configuration file is missing and no config= argument
 * names another: the package is installed, the host not yet configured
 * (doc/design.md, R16).  A file that exists but cannot be read or parsed
 * is not this case: that fails closed. */
static int
not_configured(int argc, const char **argv)
{
    struct stat st;

    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "config=", 7) == 0)
            return 0;
    return lstat(JIT_CONF_PATH, &st) != 0 && errno == ENOENT;
}

static const char *
step_event(enum jit_step step)
{
    if (step == JIT_STEP_AUTH || step == JIT_STEP_SETCRED)
        return "auth";
    if (step == JIT_STEP_OPEN_SESSION)
        return "session.opened";
    if (step == JIT_STEP_CLOSE_SESSION)
        return "session.closed";
    return "login";
}

/* An unconfigured host: ignore every user our snapshot does not list,
 * refuse one it does; the other module arguments (debug, state_dir) still
 * apply over the built-in defaults. */
static int
run_unconfigured(pam_handle_t *pamh, int argc, const char **argv,
                 const char *user, enum jit_step step, int deny_code)
{
    struct glue g = { pamh, 0 };
    struct jit_errs errs = { NULL, 0 };
    struct jit_login l;
    struct jit_conf conf;
    int code = deny_code;

    if (jit_conf_init(&conf) != 0) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return deny_code;
    }
    if (jit_conf_apply_args(&conf, argc, argv, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            pam_syslog(pamh, LOG_ERR, "configuration: %s",
                       errs.msg[i] ? errs.msg[i] : "out of memory");
        goto done;
    }
    fill_login(&l, &g, pamh, &conf, user);
    if (step == JIT_STEP_AUTH) {
        l.ask = ask;
        l.ask_ctx = &g;
    }
    /* Refusing a logout would end nothing: one of a session that opened
     * before jit.conf went away (an editor's rename) is ignored, and the
     * account is left to the daemon once the file is back. */
    if (step == JIT_STEP_CLOSE_SESSION
        || jit_login_unconfigured(&l, step_event(step)) == JIT_IGNORE) {
        jit_logf(&l.log, LOG_DEBUG, "%s: not configured; user %s: ignored",
                 JIT_CONF_PATH, user);
        code = PAM_IGNORE;
    }

done:
    jit_errs_free(&errs);
    jit_conf_free(&conf);
    return code;
}

/* The mount namespace open_session ran in (before pam_namespace, which
 * comes after pam_jit), so that close_session can tell it ends inside
 * the session's own one. */
#define MNTNS_DATA "pam_jit.mntns"

static void
mntns_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
    (void) pamh;
    (void) error_status;
    free(data);
}

static void
mntns_remember(pam_handle_t *pamh)
{
    const void *data = NULL;
    uint64_t *ns;

    if (pam_get_data(pamh, MNTNS_DATA, &data) == PAM_SUCCESS && data != NULL)
        return;
    if ((ns = malloc(sizeof(*ns))) == NULL)
        return;
    *ns = jit_scrub_mount_ns();
    if (pam_set_data(pamh, MNTNS_DATA, ns, mntns_cleanup) != PAM_SUCCESS)
        free(ns);
}

static int
mntns_changed(pam_handle_t *pamh)
{
    const void *data = NULL;
    uint64_t now = jit_scrub_mount_ns();

    if (pam_get_data(pamh, MNTNS_DATA, &data) != PAM_SUCCESS || data == NULL)
        return 0;
    return *(const uint64_t *) data != 0 && now != 0
           && now != *(const uint64_t *) data;
}

/* The login backend, loaded on the first step that needs it
 * (lib/login/backend.c says how), with its state for this handle; NULL
 * with the reason logged. */
static const struct jit_backend *
backend_load(struct cache *c, struct jit_login *l)
{
    const struct jit_backend *b;
    char why[256] = "";

    b = jit_backend_open(c->backend_path, why, sizeof(why));
    if (b != NULL && (c->state = b->state_new()) == NULL)
        snprintf(why, sizeof(why), "out of memory");
    else if (b != NULL)
        c->backend = b;
    if (c->backend == NULL)
        jit_logf(&l->log, LOG_ERR, "login backend %s: %s", c->backend_path,
                 why);
    return c->backend;
}

/* A password asked and thrown away: a refusal with no prompt would tell a
 * stranger at the login prompt which names may be JIT accounts
 * (doc/design.md, G4).  The account itself (sudo from one of its
 * sessions) is not asked, as lib/login/auth.c does not ask it. */
static void
ask_anyway(struct jit_login *l)
{
    char *pw = NULL;
    uid_t uid = 0;

    if (jit_login_owner(l, &uid) == JIT_OWNER_OURS && uid == getuid()
        && uid != 0)
        return;
    if (l->ask(l->ask_ctx, "Password: ", &pw) == 0 && pw != NULL) {
        explicit_bzero(pw, strlen(pw));
        free(pw);
    }
}

static int
run(pam_handle_t *pamh, int argc, const char **argv, enum jit_step step,
    int deny_code, int tell_user)
{
    struct glue g = { pamh, 0 };
    struct jit_login l;
    struct cache *c;
    const char *user = NULL;
    int code;

    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL
        || user[0] == '\0')
        return PAM_USER_UNKNOWN;
    if (not_configured(argc, argv))
        return run_unconfigured(pamh, argc, argv, user, step, deny_code);
    if ((c = get_cache(pamh, argc, argv)) == NULL)
        return deny_code; /* fail closed: we cannot tell whose user it is */
    fill_login(&l, &g, pamh, &c->conf, user);
    l.ask = ask;
    l.ask_ctx = &g;
    /* open_session's namespace is remembered whoever the user is, as
     * before the split: close_session may run after the backend loads. */
    if (step == JIT_STEP_OPEN_SESSION)
        mntns_remember(pamh);
    /* Decided without the backend while it is not loaded in this handle;
     * its steps ask the same function again and decide the rest.  Once
     * loaded, the step decides as before the split: acct_mgmt clears the
     * answer it keeps for the session steps, whoever the user. */
    if (c->backend == NULL
        && jit_login_not_ours(&l, step == JIT_STEP_CLOSE_SESSION)) {
        jit_logf(&l.log, LOG_DEBUG, "user %s is not ours: ignored", user);
        return PAM_IGNORE;
    }
    if (c->backend == NULL && backend_load(c, &l) == NULL) {
        /* Fail closed for a user that may be ours; the auth step asks
         * its password first, as it would with the backend. */
        if (step == JIT_STEP_AUTH)
            ask_anyway(&l);
        jit_login_audit(&l, LOG_ERR, step_event(step), "deny",
                        "backend_error", NULL);
        if (tell_user)
            pam_error(pamh, "%s", JIT_DENIED_MESSAGE);
        return deny_code;
    }
    if (step == JIT_STEP_CLOSE_SESSION)
        l.foreign_mount_ns = mntns_changed(pamh);
    l.backend_path = c->backend_path;
    switch (c->backend->step(step, &l, c->state)) {
    case JIT_ALLOW:
        code = PAM_SUCCESS;
        break;
    case JIT_IGNORE:
        jit_logf(&l.log, LOG_DEBUG, "user %s is not ours: ignored", user);
        code = PAM_IGNORE;
        break;
    default:
        if (tell_user && !l.quiet)
            pam_error(pamh, "%s", JIT_DENIED_MESSAGE);
        code = deny_code;
    }
    return code;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                    const char **argv)
{
    /* As pam_unix: a failed auth costs the caller about two seconds
     * (libpam waits only when the stack fails), so that sudo is no fast
     * way to try passwords at the KDC. */
    pam_fail_delay(pamh, 2000000);
    return run(pamh, argc, argv, JIT_STEP_AUTH, PAM_AUTH_ERR,
               !(flags & PAM_SILENT));
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) flags;
    return run(pamh, argc, argv, JIT_STEP_SETCRED, PAM_CRED_ERR, 0);
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run(pamh, argc, argv, JIT_STEP_ACCOUNT, PAM_PERM_DENIED,
               !(flags & PAM_SILENT));
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
                    const char **argv)
{
    return run(pamh, argc, argv, JIT_STEP_OPEN_SESSION, PAM_SESSION_ERR,
               !(flags & PAM_SILENT));
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
                     const char **argv)
{
    (void) flags;
    return run(pamh, argc, argv, JIT_STEP_CLOSE_SESSION, PAM_SESSION_ERR, 0);
}
