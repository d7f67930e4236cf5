/* SPDX-License-Identifier: MIT */
/* jitctl daemon (see daemon.c). */
#ifndef JITCTL_DAEMON_H
#define JITCTL_DAEMON_H

#include "core/audit.h"
#include "core/conf.h"

/* Run until SIGTERM/SIGINT; reload(conf) on SIGHUP replaces *conf in
 * place, or leaves it and returns nonzero.  0 after a clean stop. */
int jitctl_daemon(struct jit_conf *conf, const struct jit_log *log,
                  int (*reload)(struct jit_conf *));

#endif
