/* SPDX-License-Identifier: MIT */
/*
 * kuserok: MIT's krb5_kuserok as sshd calls it, for the test suite: the
 * localauth plugin proven through libkrb5's own plugin loading, with the
 * krb5.conf KRB5_CONFIG names (never /etc/krb5.conf in a test).
 *
 *   kuserok PRINCIPAL ACCOUNT
 *
 * Prints "yes" or "no" and exits 0 or 1; 2 on a usage or krb5 error.
 */
#include "config.h"

#include <stdio.h>

#include <krb5/krb5.h>

int
main(int argc, char **argv)
{
    krb5_context ctx = NULL;
    krb5_principal p = NULL;
    krb5_error_code kret;
    int ret = 2;

    if (argc != 3) {
        fprintf(stderr, "usage: kuserok PRINCIPAL ACCOUNT\n");
        return 2;
    }
    if ((kret = krb5_init_context(&ctx)) != 0) {
        fprintf(stderr, "kuserok: krb5_init_context: %d\n", (int) kret);
        goto done;
    }
    if ((kret = krb5_parse_name(ctx, argv[1], &p)) != 0) {
        fprintf(stderr, "kuserok: %s: %s\n", argv[1],
                krb5_get_error_message(ctx, kret));
        goto done;
    }
    ret = krb5_kuserok(ctx, p, argv[2]) ? 0 : 1;
    printf("%s\n", ret == 0 ? "yes" : "no");

done:
    krb5_free_principal(ctx, p);
    if (ctx != NULL)
        krb5_free_context(ctx);
    return ret;
}
