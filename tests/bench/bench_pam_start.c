/* SPDX-License-Identifier: MIT */
/*
 * bench_login's cold pam_start: a process linked with libpam alone (as
 * sudo, su or cron is, none of them linked with libcurl or libsqlite),
 * that starts the service (its configuration read, pam_jit.so and all
 * the libraries it needs loaded) and ends.  With "-" for a service it
 * does nothing, so that bench_login can subtract the cost of fork and
 * exec.
 *
 *   bench_pam_start CONFDIR SERVICE|-
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

    if (argc != 3) {
        fprintf(stderr, "usage: bench_pam_start CONFDIR SERVICE|-\n");
        return 2;
    }
    if (strcmp(argv[2], "-") == 0)
        return 0;
    if (pam_start_confdir(argv[2], "flooruser", &c, argv[1], &pamh)
        != PAM_SUCCESS)
        return 1;
    pam_end(pamh, PAM_SUCCESS);
    return 0;
}
