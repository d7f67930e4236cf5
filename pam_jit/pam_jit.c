/*
 * pam_jit.so: PAM glue over lib/login.c (DESIGN R6).  Each entry point
 * loads the configuration, fills a jit_login from the PAM items, and maps
 * the verdict to a PAM code.  All logic is in lib/.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "conf.h"
#include "login.h"

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
    const char *path = JIT_CONF_PATH;
    int ret = 0;

    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "config=", 7) == 0)
            path = argv[i] + 7;
    if (jit_conf_init(conf) != 0) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return -1;
    }
    if (jit_conf_load_file(conf, path, &errs) == 0
        && jit_conf_apply_args(conf, argc, argv, &errs) == 0)
        jit_conf_finish(conf, path, &errs);
    for (size_t i = 0; i < errs.n; i++) {
        pam_syslog(pamh, LOG_ERR, "configuration: %s",
                   errs.msg[i] ? errs.msg[i] : "out of memory");
        ret = -1;
    }
    jit_errs_free(&errs);
    if (ret != 0)
        jit_conf_free(conf);
    return ret;
}

static const char *
item(pam_handle_t *pamh, int type)
{
    const void *v = NULL;

    if (pam_get_item(pamh, type, &v) != PAM_SUCCESS)
        return NULL;
    return v;
}

typedef enum jit_verdict (*step_fn)(struct jit_login *);

static int
run(pam_handle_t *pamh, int argc, const char **argv, step_fn step,
    int deny_code, int tell_user)
{
    struct jit_conf conf;
    struct glue g = { pamh, 0 };
    struct jit_login l;
    const char *user = NULL;
    int code;

    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL
        || user[0] == '\0')
        return PAM_USER_UNKNOWN;
    if (load_conf(pamh, argc, argv, &conf) != 0)
        return deny_code; /* fail closed: we cannot tell whose user it is */
    g.debug = conf.debug;
    memset(&l, 0, sizeof(l));
    l.conf = &conf;
    l.user = user;
    l.service = item(pamh, PAM_SERVICE);
    l.rhost = item(pamh, PAM_RHOST);
    l.tty = item(pamh, PAM_TTY);
    l.log.emit = emit;
    l.log.ctx = &g;
    switch (step(&l)) {
    case JIT_ALLOW:
        code = PAM_SUCCESS;
        break;
    case JIT_IGNORE:
        if (g.debug)
            pam_syslog(pamh, LOG_DEBUG, "user=\"%s\" is not ours: ignored",
                       user);
        code = PAM_IGNORE;
        break;
    default:
        if (tell_user)
            pam_error(pamh, "%s", JIT_DENIED_MESSAGE);
        code = deny_code;
    }
    jit_conf_free(&conf);
    return code;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run(pamh, argc, argv, jit_login_account, PAM_PERM_DENIED,
               !(flags & PAM_SILENT));
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
                    const char **argv)
{
    return run(pamh, argc, argv, jit_login_open_session, PAM_SESSION_ERR,
               !(flags & PAM_SILENT));
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
                     const char **argv)
{
    (void) flags;
    return run(pamh, argc, argv, jit_login_close_session, PAM_SESSION_ERR, 0);
}
