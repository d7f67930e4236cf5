/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the PAM tests: syslog(3) calls go to standard error
 * as "SYSLOG(<priority>): <message>" lines instead of /dev/log, so that a
 * test reads the audit lines of exactly the login it ran.  (pam_wrapper
 * did this too, but its per-process config copies in 36 fixed /tmp/pam.X
 * directories collide when tests run in parallel.)
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

/* Declared here, not through <syslog.h>: with _FORTIFY_SOURCE it makes
 * syslog a macro. */
void syslog(int prio, const char *fmt, ...);
void vsyslog(int prio, const char *fmt, va_list ap);
void __syslog_chk(int prio, int flag, const char *fmt, ...);
void __vsyslog_chk(int prio, int flag, const char *fmt, va_list ap);
void openlog(const char *ident, int option, int facility);
void closelog(void);

static void
emit(int prio, const char *fmt, va_list ap)
{
    char msg[4096];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "SYSLOG(%d): %s\n", prio, msg);
    fflush(stderr);
}

void
vsyslog(int prio, const char *fmt, va_list ap)
{
    emit(prio, fmt, ap);
}

void
syslog(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(prio, fmt, ap);
    va_end(ap);
}

void
__vsyslog_chk(int prio, int flag, const char *fmt, va_list ap)
{
    (void) flag;
    emit(prio, fmt, ap);
}

void
__syslog_chk(int prio, int flag, const char *fmt, ...)
{
    va_list ap;

    (void) flag;
    va_start(ap, fmt);
    emit(prio, fmt, ap);
    va_end(ap);
}

void
openlog(const char *ident, int option, int facility)
{
    (void) ident;
    (void) option;
    (void) facility;
}

void
closelog(void)
{
}
