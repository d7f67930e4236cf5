/* SPDX-License-Identifier: MIT */
/*
 * The daemon's health, for jitctl status: a small JSON file in state_dir
 * (root's, 0600), replaced atomically at the daemon's start, before each
 * of its polls, when the API's state changes and at its stop.
 */
#ifndef JIT_STATUS_H
#define JIT_STATUS_H

#include <stdint.h>
#include <sys/types.h>

#include "core/conf.h"

#pragma GCC visibility push(hidden)

#define JIT_STATUS_FILE "daemon.status"

/* In the file as "running" and "stopped"; anything else reads as
 * unknown, which jitctl status shows as stopped. */
enum jit_daemon_state {
    JIT_DAEMON_UNKNOWN = 0,
    JIT_DAEMON_RUNNING,
    JIT_DAEMON_STOPPED,
};

struct jit_daemon_status {
    pid_t pid;
    int64_t started, updated;
    int64_t last_sync;      /* last answer from the API (200 or 304) */
    int64_t next_expiry;    /* 0: none */
    char api[64];           /* "ok" or the last fault's reason */
    enum jit_daemon_state state;
};

int jit_status_write(const struct jit_conf *conf,
                     const struct jit_daemon_status *st);
/* -ENOENT when no daemon ever ran. */
int jit_status_read(const struct jit_conf *conf, struct jit_daemon_status *st);

/* A running daemon that has not written its status for this long is
 * stuck: it writes before every poll. */
#define JIT_STATUS_STUCK_S 120

/* The daemon's health as jitctl status shows it, from what
 * jit_status_read returned (read_result) and read: "never run" (no
 * status to read), "stopped" (it said so), "dead" (it said it runs, but
 * its pid is gone), "stuck" (no word for more than JIT_STATUS_STUCK_S
 * at now), or "running". */
const char *jit_status_health(int read_result,
                              const struct jit_daemon_status *st,
                              int64_t now);

#pragma GCC visibility pop

#endif
