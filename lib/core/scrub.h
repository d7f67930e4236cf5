/* SPDX-License-Identifier: MIT */
/*
 * Files a uid left in shared writable directories (scrub_dirs: /tmp,
 * /var/tmp, /dev/shm): at teardown they are removed or, where that fails,
 * defused (no setuid/setgid bit, no world write, root's), so that neither
 * a setgid copy of a binary nor anything else of the uid outlives the
 * account or passes to the uid's next holder.  Setgid files of the
 * account's groups that others own are reported and lose the bit.
 */
#ifndef JIT_SCRUB_H
#define JIT_SCRUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/audit.h"
#include "core/conf.h"

#pragma GCC visibility push(hidden)

/* Bounds on one teardown's walk (a local user may build any tree in
 * /tmp): beyond them the scrub fails, so the teardown is retried and the
 * administrator sees why, instead of a partial scrub counting as done. */
#define JIT_SCRUB_MAX_DEPTH 64
#define JIT_SCRUB_MAX_ENTRIES 2000000UL
#define JIT_SCRUB_MAX_MS 30000U

struct jit_scrub {
    /* in */
    uid_t uid;
    gid_t gid;              /* the private group */
    const uint32_t *gids;   /* the granted supplementary groups */
    size_t n_gids;
    const char *user;       /* for log lines */
    const char *skip_dir;   /* never entered (home_base: the home step's) */
    /* Strip mode, for an account that lives on with fewer groups: nothing
     * is removed; a setgid regular file of the uid whose group is one of
     * strip_gids loses its setuid and setgid bits (the uid keeps it). */
    int strip_only;
    const uint32_t *strip_gids;
    size_t n_strip;
    unsigned max_depth;     /* 0: the defaults above */
    unsigned long max_entries;
    unsigned max_ms;
    /* out */
    unsigned long removed, defused, reported, entries;
};

/* Walk each directory of dirs, fd-relative, never following a symbolic
 * link or leaving the directory's mount: every entry the uid owns goes
 * (a directory of the uid with all in it); one that cannot go is defused;
 * a setgid regular file of gid or gids owned by someone else loses its
 * setuid and setgid bits (root's own are only reported).  A directory of
 * dirs that does not exist is skipped.  Each defused or reported file is
 * one line on log.  0, or -errno with a message in err. */
int jit_scrub_dirs(const struct jit_list *dirs, struct jit_scrub *sc,
                   const struct jit_log *log, char *err, size_t errlen);

/* The calling process's mount namespace (the inode of
 * /proc/self/ns/mnt), or 0 if unknown.  A session under pam_namespace
 * ends in a namespace of its own, where /tmp is not the shared one: a
 * scrub there would walk the wrong directories. */
uint64_t jit_scrub_mount_ns(void);

#pragma GCC visibility pop

#endif
