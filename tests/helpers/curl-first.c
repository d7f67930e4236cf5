/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for tests/integration/keylog.sh: the hosting process
 * sets libcurl up before any PAM module runs, as a program that uses
 * libcurl itself would.  libcurl opens the file SSLKEYLOGFILE names at
 * that moment, so pam_jit cannot keep it from being opened; what the test
 * checks is that pam_jit's own TLS sessions write nothing into it.
 */
#include "config.h"

#include <curl/curl.h>

static void __attribute__((constructor))
init_curl_first(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}
