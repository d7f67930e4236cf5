/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: jit-apid's request handlers (apid_route) with an
 * SQLite store in a tmpfs directory made once.  The input is a request:
 *
 *   byte 0: the method (GET, POST, another)
 *   byte 1: the Authorization (none, a person's token, an approver's,
 *           web01's or web02's host token, garbage)
 *   then, up to '\n': the path and query; up to the next '\n': the
 *   If-None-Match (empty: none); the rest: the body.
 *
 * Every reply is a 2xx, 304, 4xx or a long poll's "ask again" (status 0,
 * freed here: nothing waits, so nothing blocks); a 5xx is a bug (the
 * store is a local file; contract_drift means the request checks and
 * lib/core/grant.c disagree).  Every grant made must parse on its hosts, and
 * is revoked so that the one-grant rule does not end the exploration.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apidlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct apid A;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/dev/shm/jit-fuzz-apid.XXXXXX", err[512];

    (void) argc;
    (void) argv;
    if (mkdtemp(dir) == NULL && (strcpy(dir, "/tmp/jit-fuzz-apid.XXXXXX"),
                                 mkdtemp(dir) == NULL))
        abort();
    if (ta_open(&A, dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_apid: %s\n", err);
        abort();
    }
    return 0;
}

static void
check_made(const char *body)
{
    json_t *o = json_loads(body, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    struct apid_grant g;
    struct apid_reply r;
    char err[512], path[128];

    if (id == NULL || apid_store_grant_get(A.store, id, &g, apid_now())
                          != APID_OK)
        abort();
    if (apid_grant_host_check(&g, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_apid: a grant its hosts refuse: %s\n", err);
        abort();
    }
    apid_grant_free(&g);
    snprintf(path, sizeof(path), "/v1/grants/%s/revoke", id);
    ta_call(&A, "POST", path, TA_BOSS, NULL, NULL, 0, &r);
    free(r.body);
    json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = { "GET", "POST", "DELETE" };
    static const char *const auths[] = { NULL, TA_ALICE, TA_BOSS, TA_HOST1,
                                         TA_HOST2, "Bearer x",
                                         "Negotiate x" };
    const char *method, *authz, *nl, *p, *end;
    char url[1100], inm[200], *body;
    struct apid_reply r;
    size_t n;

    if (size < 2)
        return 0;
    method = methods[data[0] % 3];
    authz = auths[data[1] % 7];
    p = (const char *) data + 2;
    end = (const char *) data + size;
    nl = memchr(p, '\n', (size_t) (end - p));
    n = (size_t) ((nl ? nl : end) - p);
    if (n >= sizeof(url) || memchr(p, '\0', n) != NULL)
        return 0;
    memcpy(url, p, n);
    url[n] = '\0';
    p = nl ? nl + 1 : end;
    nl = memchr(p, '\n', (size_t) (end - p));
    n = (size_t) ((nl ? nl : end) - p);
    if (n >= sizeof(inm) || memchr(p, '\0', n) != NULL)
        return 0;
    memcpy(inm, p, n);
    inm[n] = '\0';
    p = nl ? nl + 1 : end;
    n = (size_t) (end - p);
    /* NUL-terminated, as the transport hands it. */
    if ((body = malloc(n + 1)) == NULL)
        return 0;
    memcpy(body, p, n);
    body[n] = '\0';
    ta_call(&A, method, url, authz, inm[0] ? inm : NULL, n ? body : NULL, n,
            &r);
    if (r.status >= 500 || (r.status != 0 && r.status < 200)) {
        fprintf(stderr, "fuzz_apid: status %u: %s\n", r.status,
                r.body ? r.body : "");
        abort();
    }
    if (r.status == 201 && strcmp(method, "POST") == 0)
        check_made(r.body);
    free(r.body);
    free(body);
    return 0;
}
