/* SPDX-License-Identifier: MIT */
/*
 * jitctl doctor: what an admin must get right before the first login,
 * checked one concern at a time.  Each check adds lines (ok, warn or
 * fail, with what to do) to a report; none stops the others.
 *
 * The system's files are read under a root prefix (paths.root), so that
 * a system image, or a test's directory, is checked like the running
 * system; the files jit.conf names are taken as they are written.
 */
#ifndef JIT_DOCTOR_H
#define JIT_DOCTOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"

#pragma GCC visibility push(hidden)

enum jit_doctor_level { JIT_DOCTOR_OK, JIT_DOCTOR_WARN, JIT_DOCTOR_FAIL };

struct jit_doctor_item {
    char *check;   /* short name: "nsswitch", "api", ... */
    int level;     /* enum jit_doctor_level */
    char *message; /* escaped: safe on a terminal */
};

struct jit_doctor {
    struct jit_doctor_item *v;
    size_t n;
    int oom; /* a line was lost to a failed allocation: counts as a fail */
};

struct jit_doctor_paths {
    const char *root;        /* "" for the running system */
    const char *pam_moddir;  /* where libpam loads modules from */
    const char *state_dir;   /* where nss_jit reads its snapshot */
    const char *backend;     /* pam_jit_login.so; NULL: the built-in path */
};

void jit_doctor_add(struct jit_doctor *d, const char *check, int level,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void jit_doctor_free(struct jit_doctor *d);
/* The worst level reported (a lost line is a fail). */
int jit_doctor_worst(const struct jit_doctor *d);
const char *jit_doctor_level_name(int level);

/* root + path, malloc'd, or NULL. */
char *jit_doctor_path(const struct jit_doctor_paths *p, const char *path);

/* Pure checks, each of one file or directory named by its caller. */
/* nsswitch.conf: jit on passwd, group and shadow, after files. */
void jit_doctor_nsswitch(struct jit_doctor *d, const char *path);
/* pam_jit.so in the module directory: a root-owned regular file that
 * nobody else may write. */
void jit_doctor_pam_module(struct jit_doctor *d, const char *moddir);
/* The login backend at path (root + its built-in or given path). */
void jit_doctor_pam_backend(struct jit_doctor *d, const char *path);
/* The pam.d lines: pam_jit on the account and session stacks
 * (common-account and common-session, or sshd without them), before
 * pam_unix of the same type. */
void jit_doctor_pamd(struct jit_doctor *d, const char *pamd_dir);
/* login.defs: the uid range clear of the system's and useradd's. */
void jit_doctor_login_defs(struct jit_doctor *d, const struct jit_conf *conf,
                           const char *path);
/* /etc/subuid or /etc/subgid: no subordinate range inside the uid range. */
void jit_doctor_subids(struct jit_doctor *d, const struct jit_conf *conf,
                       const char *path);
/* passwd and group files: no local id inside the uid range. */
void jit_doctor_ids(struct jit_doctor *d, const struct jit_conf *conf,
                    const char *passwd, const char *group);
/* allowed_groups: each exists (in the group file given, or through NSS
 * with NULL). */
void jit_doctor_groups(struct jit_doctor *d, const struct jit_conf *conf,
                       const char *group);
/* Every file jit.conf names: there, owned by the right user, a mode that
 * keeps its secrets. */
void jit_doctor_files(struct jit_doctor *d, const struct jit_conf *conf);
/* state_dir and the snapshot in it, and that nss_jit reads that one
 * (nss_state_dir: where it looks, under the root). */
void jit_doctor_state(struct jit_doctor *d, const struct jit_conf *conf,
                      const char *nss_state_dir);
/* nscd.conf and sssd.conf: caches that hide a new account. */
void jit_doctor_caches(struct jit_doctor *d, const char *nscd_conf,
                       const char *sssd_conf);
/* The text of `sshd -T`: UsePAM yes, the AuthorizedKeysCommand is
 * jitctl's (jitctl: its path) run as root. */
void jit_doctor_sshd_text(struct jit_doctor *d, const char *text,
                          const char *jitctl);
/* The outbox's count (or a negative errno; -ENOENT: no store yet)
 * against outbox_max. */
void jit_doctor_outbox(struct jit_doctor *d, const struct jit_conf *conf,
                       int64_t count);
/* The API's answer to a list request: http status (0: a fault with
 * reason and detail), and its Date (-1: none) against now. */
void jit_doctor_api_answer(struct jit_doctor *d, const struct jit_conf *conf,
                           long http, const char *reason, const char *detail,
                           int64_t date, int64_t now);

/* Checks that reach outside files. */
/* Runs `sshd -T` (sshd: its path) when it is installed. */
void jit_doctor_sshd(struct jit_doctor *d, const char *sshd,
                     const char *jitctl);
/* Asks the API (jit_api_probe). */
void jit_doctor_api(struct jit_doctor *d, const struct jit_conf *conf);
/* The daemon's status file, and the systemd units when systemd runs
 * (systemctl: its path, NULL when it is not to be asked). */
void jit_doctor_daemon(struct jit_doctor *d, const struct jit_conf *conf,
                       const char *systemctl, int64_t now);

/* Every check, in the order an admin would fix them.  outbox: the
 * outbox's count (or -errno when the store did not open). */
void jit_doctor_run(struct jit_doctor *d, const struct jit_conf *conf,
                    const struct jit_doctor_paths *paths, const char *jitctl,
                    int64_t outbox);

#pragma GCC visibility pop

#endif
