/* SPDX-License-Identifier: MIT */
/*
 * Tearing an account down: its processes, its home (per home_policy), its
 * rows, its snapshot entry; the uid goes into quarantine.  One function
 * for pam_jit's last logout and for the reaper.
 */
#ifndef JIT_TEARDOWN_H
#define JIT_TEARDOWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/audit.h"
#include "core/conf.h"
#include "state/store.h"

#pragma GCC visibility push(hidden)

/* A failed teardown is tried again after 30 s, doubling, at most 1 h. */
#define JIT_TEARDOWN_RETRY_MIN 30
#define JIT_TEARDOWN_RETRY_MAX 3600
/* When to try again after the failures-th failure in a row (0: the first):
 * now + 30 s, doubling, at most an hour. */
int64_t jit_teardown_retry_at(int64_t now, int failures);

/* Signal every process of uid: TERM, then after grace_ms KILL, until none
 * is left (by /proc) or deadline_ms passed.  The signals come from a child
 * that has become uid, so they reach exactly that uid's processes.
 * 0, or -ETIMEDOUT / -errno. */
int jit_uid_has_processes(uid_t uid);

/* Whether /proc/PID/status's State and Threads say the process is dead:
 * a zombie that is its group's last thread.  /proc shows a process by
 * its first thread, which may exit alone and be a zombie there while the
 * others run on; while another thread's execve takes its place its
 * Threads may say 0: live.  threads is 0 when the line is missing. */
int jit_proc_dead(char state, unsigned long threads);

/* How much of /proc/PID/status is read: its Groups line holds up to
 * NGROUPS_MAX numbers, and Threads comes after it. */
#define JIT_PROC_STATUS_MAX 65536
/* sig to every process of uid, in one kill(-1) from a child that has
 * become uid (no fork can slip between: the kernel holds the task list
 * for the whole of it); when a process of uid stopped or killed that
 * child, from root to each process uid may signal (real or saved uid),
 * through pidfds.  0 or -errno. */
int jit_signal_uid(uid_t uid, gid_t gid, int sig);
int jit_kill_uid(uid_t uid, gid_t gid, unsigned grace_ms,
                 unsigned deadline_ms);

/* Tear down account `name` because of `cause` (logout, expired, revoked,
 * admin).  On success the account is gone and account.deleted is in the
 * outbox; on failure it is left in disable_failed with an
 * account.disable_failed event.  Both are audited through log. */
int jit_teardown(struct jit_store *s, const struct jit_conf *conf,
                 const char *name, const char *cause,
                 const struct jit_log *log, int64_t now);

/* The same for many accounts, as the reaper has them: all are marked
 * tearing_down at once, their host side is done one by one, and the
 * deletions are committed in groups (one snapshot per group).  Each
 * item's result: 0 done; -EALREADY left to the process tearing it down
 * (doc/design.md, F9); -ENOENT torn down by another process meanwhile
 * (its teardown audited there; never a failing step's own ENOENT); any
 * other -errno a failure, the account left in disable_failed.  Returns
 * the first item's nonzero result, or 0. */
struct jit_teardown_item {
    const char *name;
    const char *cause;
    int result;
    char error[512]; /* what stopped it, when result != 0 */
    int recorded;    /* the failure is in the store: disable_failed */
};
int jit_teardown_batch(struct jit_store *s, const struct jit_conf *conf,
                       struct jit_teardown_item *v, size_t n,
                       const struct jit_log *log, int64_t now);

#pragma GCC visibility pop

#endif
