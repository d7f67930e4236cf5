/* SPDX-License-Identifier: MIT */
/* Helpers for the unit tests of the code that works on the state store
 * (sync, reap, teardown, outbox, status): a jit.conf whose state_dir,
 * home_base and scrub_dirs are in a temporary directory, a real store
 * there that asks a made-up host instead of NSS, and a log that keeps
 * its lines for the test to read. */
#ifndef JIT_STATELIB_H
#define JIT_STATELIB_H

#include <stddef.h>
#include <stdint.h>

#include "core/audit.h"
#include "core/conf.h"
#include "core/grant.h"
#include "state/store.h"

/* The uids the store hands out here.  A teardown ends every process of
 * its uid on the machine, so this range is no integration test's (see
 * setup_pam in tests/integration/lib.sh). */
#define T_STATE_UID_MIN 96000u
#define T_STATE_UID_MAX 96999u

#define T_LOG_LINES 64

struct t_log {
    char lines[T_LOG_LINES][1024];
    int prio[T_LOG_LINES];
    size_t n;
};

struct t_state {
    char *dir;   /* the temporary directory */
    char *state; /* dir/state: state_dir */
    char *home;  /* dir/home: home_base */
    struct jit_conf conf; /* api_url: a port that refuses connections */
    int api_fd;           /* the socket holding that port */
    struct jit_store *store;
    struct t_log kept;
    struct jit_log log; /* keeps its lines in kept */
};

/* Set up t with the store open, and an api_url that cannot be reached
 * (a port of 127.0.0.1 refusing connections at once).  extra_conf: more jit.conf lines (may be
 * NULL), after the ones set here (a later line wins).  The made-up host
 * owns the name "taken" and knows the groups sudo (27), video (44) and
 * users (100). */
void t_state_open(struct t_state *t, const char *extra_conf);
/* The boot the made-up host says it is in (NULL, as at first: it cannot
 * say); read by a store the first time it needs it. */
extern const char *t_boot_id;
void t_state_close(struct t_state *t);
/* A new handle on the same store, as a new process would open. */
void t_store_reopen(struct t_state *t);

/* A teardown removes what the account's name or uid left in the
 * machine's spools and state: /var/spool/cron/crontabs/NAME,
 * /var/lib/systemd/linger/NAME, files of the uid in
 * /var/spool/cron/atjobs, and asks nscd to forget.  A test that tears
 * down calls this first, in main: the process (and the children Check
 * forks) gets a private mount namespace with an empty tmpfs over each
 * of those directories that exists, so that a real user of the same
 * name loses nothing.  Without one (not root) the program ends as a
 * SKIP (exit 77), saying why. */
void t_private_host_dirs(void);

/* How many kept lines contain each of the NULL-terminated needles. */
size_t t_log_count(const struct t_log *l, ...);

/* A grant of the host web01 for user, id "g-<user>", credential "db",
 * requester "<user>@EXAMPLE", groups sudo and video, valid from 1000 to
 * expires; the strings are static (the grant is only lent out). */
struct jit_grant t_grant(const char *user, int64_t expires);

/* Put g and reserve its account in one transaction (asserts success);
 * the account's uid. */
uint32_t t_reserve(struct t_state *t, const struct jit_grant *g, int64_t now);

/* An account's state, or -1 if it is gone. */
int t_account_state(struct t_state *t, const char *name);

#endif
