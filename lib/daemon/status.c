/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "daemon/status.h"

static const char *const state_names[] = {
    [JIT_DAEMON_UNKNOWN] = "?",
    [JIT_DAEMON_RUNNING] = "running",
    [JIT_DAEMON_STOPPED] = "stopped",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

int
jit_status_write(const struct jit_conf *conf,
                 const struct jit_daemon_status *st)
{
    json_t *o;
    char *text = NULL;
    int dirfd = -1, ret;

    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:s}",
                  "pid", (json_int_t) st->pid,
                  "started", (json_int_t) st->started,
                  "updated", (json_int_t) st->updated,
                  "last_sync", (json_int_t) st->last_sync,
                  "next_expiry", (json_int_t) st->next_expiry,
                  "api", st->api, "state",
                  (size_t) st->state < N_STATES ? state_names[st->state]
                                                : "?");
    if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    dirfd = open(conf->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                      | O_CLOEXEC);
    if (dirfd < 0) {
        ret = -errno;
        goto done;
    }
    ret = jit_file_stage(dirfd, JIT_STATUS_FILE ".new", text, strlen(text),
                         0600);
    if (ret == 0)
        ret = jit_file_publish(dirfd, JIT_STATUS_FILE ".new",
                               JIT_STATUS_FILE);

done:
    if (dirfd >= 0)
        close(dirfd);
    free(text);
    json_decref(o);
    return ret;
}

static int64_t
num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_integer(v) ? (int64_t) json_integer_value(v) : 0;
}

int
jit_status_read(const struct jit_conf *conf, struct jit_daemon_status *st)
{
    char buf[4096];
    const char *state;
    json_t *o = NULL;
    ssize_t r;
    int dirfd, fd = -1, ret = 0;

    memset(st, 0, sizeof(*st));
    dirfd = open(conf->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                      | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    fd = openat(dirfd, JIT_STATUS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        goto done;
    }
    if ((r = read(fd, buf, sizeof(buf) - 1)) < 0) {
        ret = -errno;
        goto done;
    }
    buf[r] = '\0';
    if ((o = json_loads(buf, 0, NULL)) == NULL || !json_is_object(o)) {
        ret = -EINVAL;
        goto done;
    }
    st->pid = (pid_t) num(o, "pid");
    st->started = num(o, "started");
    st->updated = num(o, "updated");
    st->last_sync = num(o, "last_sync");
    st->next_expiry = num(o, "next_expiry");
    snprintf(st->api, sizeof(st->api), "%s",
             json_string_value(json_object_get(o, "api")) ?: "?");
    state = json_string_value(json_object_get(o, "state"));
    for (size_t i = 1; state != NULL && i < N_STATES; i++)
        if (strcmp(state, state_names[i]) == 0)
            st->state = (enum jit_daemon_state) i;

done:
    json_decref(o);
    if (fd >= 0)
        close(fd);
    close(dirfd);
    return ret;
}

const char *
jit_status_health(int read_result, const struct jit_daemon_status *st,
                  int64_t now)
{
    if (read_result != 0)
        return "never run";
    if (st->state != JIT_DAEMON_RUNNING)
        return "stopped";
    if (kill(st->pid, 0) != 0 && errno == ESRCH)
        return "dead";
    if (now - st->updated > JIT_STATUS_STUCK_S)
        return "stuck";
    return "running";
}
