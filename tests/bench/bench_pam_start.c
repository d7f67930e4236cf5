/* SPDX-License-Identifier: MIT */
/*
 * bench_login's cold pam_start: a process linked with libpam alone (as
 * sudo, su or cron is, none of them linked with libcurl or libsqlite),
 * that starts the service (its configuration read, pam_jit.so and all
 * the libraries it needs loaded) and ends.  With "-" for a service it
 * does nothing, so that bench_login can subtract the cost of fork and
 * exec.  With a USER it also logs that user in and out (acct_mgmt,
 * open_session, close_session), as sshd's process for one connection
 * does: the backend and its libraries loaded cold, every time.
 *
 *   bench_pam_start CONFDIR SERVICE|- [USER]
 */
#include "config.h"

#include <security/pam_appl.h>
#include <stdio.h>
#include <string.h>

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
     void *data)
{
    (void) n;
    (void) msg;
    (void) data;
    *resp = NULL;
    return PAM_CONV_ERR;
}

int
main(int argc, char **argv)
{
    struct pam_conv c = { conv, NULL };
    pam_handle_t *pamh = NULL;
    int rc;

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: bench_pam_start CONFDIR SERVICE|- [USER]\n");
        return 2;
    }
    if (strcmp(argv[2], "-") == 0)
        return 0;
    rc = pam_start_confdir(argv[2], argc == 4 ? argv[3] : "flooruser", &c,
                           argv[1], &pamh);
    if (rc == PAM_SUCCESS && argc == 4) {
        rc = pam_set_item(pamh, PAM_RHOST, "192.0.2.7");
        if (rc == PAM_SUCCESS)
            rc = pam_acct_mgmt(pamh, PAM_SILENT);
        if (rc == PAM_SUCCESS)
            rc = pam_open_session(pamh, PAM_SILENT);
        if (rc == PAM_SUCCESS)
            rc = pam_close_session(pamh, PAM_SILENT);
    }
    if (rc != PAM_SUCCESS)
        fprintf(stderr, "bench_pam_start: %s: %s\n",
                argc == 4 ? argv[3] : argv[2], pam_strerror(pamh, rc));
    if (pamh != NULL)
        pam_end(pamh, rc);
    return rc == PAM_SUCCESS ? 0 : 1;
}
