/* SPDX-License-Identifier: MIT */
/*
 * Finding and loading pam_jit_net.so (see net.h), once per process.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "login/backend.h"
#include "login/net.h"

static pthread_mutex_t net_lock = PTHREAD_MUTEX_INITIALIZER;
static char *net_path;            /* decided by the first jit_net_locate */
static const struct jit_net *net; /* loaded for good (RTLD_NODELETE) */

char *
jit_net_path(const char *backend_path)
{
    const char *slash = backend_path ? strrchr(backend_path, '/') : NULL;
    char *p = NULL;

    if (slash == NULL
        || asprintf(&p, "%.*s/%s", (int) (slash - backend_path),
                    backend_path, JIT_NET_FILE) < 0)
        return NULL;
    return p;
}

void
jit_net_locate(const char *backend_path)
{
    pthread_mutex_lock(&net_lock);
    if (net_path == NULL)
        net_path = jit_net_path(backend_path);
    pthread_mutex_unlock(&net_lock);
}

const struct jit_net *
jit_net_get(char *why, size_t size)
{
    const struct jit_net *t, *ret;
    char inner[256];
    void *h = NULL;

    pthread_mutex_lock(&net_lock);
    if (net == NULL && net_path == NULL) {
        snprintf(why, size, "%s: no login backend path to find it by",
                 JIT_NET_FILE);
    } else if (net == NULL
               && (h = jit_backend_dlopen(net_path, inner, sizeof(inner)))
                      == NULL) {
        /* (dlopen's own words name the file already.) */
        if (strncmp(inner, net_path, strlen(net_path)) == 0)
            snprintf(why, size, "%s", inner);
        else
            snprintf(why, size, "%s: %s", net_path, inner);
    } else if (net == NULL) {
        /* version first, for ever, as the backend's table. */
        if ((t = dlsym(h, JIT_NET_SYMBOL)) == NULL)
            snprintf(why, size, "%s: no %s", net_path, JIT_NET_SYMBOL);
        else if (strcmp(t->version, PACKAGE_VERSION) != 0
                 || t->table_size != sizeof(struct jit_net)
                 || t->conf_size != sizeof(struct jit_conf)
                 || t->grant_size != sizeof(struct jit_grant)
                 || t->error_size != sizeof(struct jit_api_error))
            snprintf(why, size, "%s: of another build than the backend (%s)",
                     net_path, PACKAGE_VERSION);
        else
            net = t;
    }
    ret = net;
    pthread_mutex_unlock(&net_lock);
    return ret;
}
