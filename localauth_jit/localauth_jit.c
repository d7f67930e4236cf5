/* SPDX-License-Identifier: MIT */
/*
 * jit.so, the krb5 localauth plugin of pam-jit: glue between MIT's
 * pluggable interface (krb5/localauth_plugin.h) and lib/krb5/localauth.c,
 * which decides (doc/design.md, "GSSAPI logins"; localauth_jit(8)).
 *
 * Configured in krb5.conf:
 *     [plugins]
 *         localauth = {
 *             module = jit:/usr/lib/x86_64-linux-gnu/krb5/plugins/localauth/jit.so
 *         }
 * krb5_kuserok (sshd's GSSAPI login) asks every module's userok: one
 * refusal refuses, whatever .k5login or auth_to_local say.  So ours
 * answers KRB5_PLUGIN_NO_HANDLE for an account that is not a JIT account
 * (its usual rules apply), 0 for a JIT account and its grant's requester
 * while the account stands, and EPERM for a JIT account otherwise.
 *
 * No an2ln: a principal does not name one account (a person may hold
 * several JIT accounts, one per credential), and ssh asks userok for the
 * account the client named; an an2ln answer would also take part in
 * every other program's krb5_aname_to_localname.
 *
 * No module data and no global state: each userok maps the snapshot and
 * lets it go, so a reload (sshd re-executes itself, krb5.conf re-read)
 * or a fork leaves nothing behind.
 */
#include "config.h"

#include <errno.h>
#include <syslog.h>
#include <time.h>

#include <krb5/krb5.h>
#include <krb5/localauth_plugin.h>

#include "krb5/localauth.h"

krb5_error_code localauth_jit_initvt(krb5_context context, int maj_ver,
                                     int min_ver, krb5_plugin_vtable vtable);

/* Audit lines go to the host process's syslog (sshd: its own ident and
 * facility are left alone), at authpriv. */
static void
emit(void *ctx, int prio, const char *line)
{
    (void) ctx;
    syslog(LOG_AUTHPRIV | prio, "%s", line);
}

static krb5_error_code
jit_userok(krb5_context context, krb5_localauth_moddata data,
           krb5_const_principal aname, const char *lname)
{
    const struct jit_log log = { emit, NULL, 0 }; /* kv: no jit.conf here */
    char *name = NULL;
    enum jit_localauth_verdict v;

    (void) data;
    /* A principal that cannot be written out matches no requester. */
    if (krb5_unparse_name(context, aname, &name) != 0)
        name = NULL;
    v = jit_localauth_userok(JIT_STATE_DIR "/nss.db", 0, name, lname,
                             (int64_t) time(NULL), &log);
    krb5_free_unparsed_name(context, name);
    return v == JIT_LOCALAUTH_ALLOW ? 0
         : v == JIT_LOCALAUTH_DENY ? EPERM
         : KRB5_PLUGIN_NO_HANDLE;
}

krb5_error_code
localauth_jit_initvt(krb5_context context, int maj_ver, int min_ver,
                     krb5_plugin_vtable vtable)
{
    krb5_localauth_vtable vt = (krb5_localauth_vtable) vtable;

    (void) context;
    (void) min_ver;
    if (maj_ver != 1)
        return KRB5_PLUGIN_VER_NOTSUPP;
    vt->name = "jit";
    vt->userok = jit_userok;
    return 0;
}
