/* SPDX-License-Identifier: MIT */
/*
 * A group taken away from a grant ends in running processes too: the
 * snapshot stops giving it to new logins, but a process keeps the groups
 * it was started with for as long as it runs.
 */
#ifndef JIT_RESTRICT_H
#define JIT_RESTRICT_H

#include "core/audit.h"
#include "core/conf.h"
#include "state/store.h"

#pragma GCC visibility push(hidden)

/* How long a process that carries a group no longer granted has after
 * SIGTERM before SIGKILL, and how long the whole may take. */
#define JIT_RESTRICT_GRACE_MS 1000
#define JIT_RESTRICT_DEADLINE_MS 5000

/* Every process whose real, effective, saved or filesystem uid is one of
 * our accounts' and whose credentials (gids or supplementary groups)
 * carry a group of allowed_groups that the account is not granted now is
 * ended: TERM; after the grace, for each account concerned (and each one
 * named in reduced, even if no process was seen: one that keeps forking
 * can slip through a scan), its uid is frozen (kill(-1, SIGSTOP) as the
 * uid, which no fork outruns), what carries the group is killed and the
 * rest continued (a job its person had stopped is continued too).  The
 * account and its home stay; its person can log in again with the
 * groups the grant gives now.  One audit line per account whose
 * processes were ended (event "restrict"), "fail" if any still ran at
 * the end.  0, or -errno (-ETIMEDOUT: some still ran; a failed group
 * lookup fails the check: it is tried again). */
int jit_restrict_groups(struct jit_store *s, const struct jit_conf *conf,
                        const struct jit_log *log, const char *const *reduced,
                        size_t n_reduced);

/* The account `name` lives on with fewer groups: a setgid file of its
 * uid whose group is in allowed_groups but no longer granted to it loses
 * its setuid and setgid bits, in its home and in scrub_dirs (the scrub's
 * walk, in strip mode: fd-relative, no link followed, bounded).  A file
 * made setgid while the group was held would otherwise give the group to
 * whoever runs it.  0, or -errno. */
int jit_restrict_files(struct jit_store *s, const struct jit_conf *conf,
                       const struct jit_log *log, const char *name);

/* What it reads from /proc/PID/status (for the unit test): the four uids,
 * the four gids and the supplementary groups.  0, or -errno (-ENOENT: the
 * process is gone). */
struct jit_proc_creds {
    char state; /* R, S, ... Z (a zombie) */
    unsigned long threads; /* its group's; 0 when status did not say */
    uint32_t uid[4], gid[4];
    uint32_t *groups;
    size_t n_groups;
};
int jit_proc_creds_parse(const char *status, struct jit_proc_creds *c);
/* Dead, by jit_proc_dead (core/teardown.h). */
int jit_proc_creds_dead(const struct jit_proc_creds *c);
void jit_proc_creds_free(struct jit_proc_creds *c);

#pragma GCC visibility pop

#endif
