/* SPDX-License-Identifier: MIT */
/*
 * Between pam_jit.so and its login backend, pam_jit_login.so
 * (doc/design.md, F7).  pam_jit.so links libpam and libc alone and decides
 * by itself for a user another source owns; only for a user that may be
 * ours does it load the backend (libcurl, libkrb5, SQLite and the rest)
 * and hand it the step.  Both are built from the same tree: the backend
 * answers with its version and the sizes of what crosses, and pam_jit.so
 * refuses one of another build (a package upgrade half done).
 */
#ifndef JIT_LOGIN_BACKEND_H
#define JIT_LOGIN_BACKEND_H

#include <stddef.h>
#include <sys/types.h>

#include "login/login.h"

#pragma GCC visibility push(hidden)

/* Where pam_jit.so finds the backend; the backend= module argument (root's,
 * in pam.d) may name another, never the environment. */
#ifndef JIT_LOGIN_BACKEND
#define JIT_LOGIN_BACKEND "/usr/lib/pam-jit/pam_jit_login.so"
#endif
/* The one symbol the backend exports (pam_jit/backend.map). */
#define JIT_BACKEND_SYMBOL "jit_login_backend"

enum jit_step {
    JIT_STEP_AUTH,
    JIT_STEP_SETCRED,
    JIT_STEP_ACCOUNT,
    JIT_STEP_OPEN_SESSION,
    JIT_STEP_CLOSE_SESSION,
};

/* version stays the first field for ever: pam_jit.so reads it from a
 * backend of any build, older or newer, before anything else. */
struct jit_backend {
    const char *version;   /* PACKAGE_VERSION of its build */
    size_t login_size;     /* sizeof(struct jit_login) */
    size_t conf_size;      /* sizeof(struct jit_conf) */
    /* What one PAM handle keeps between its steps: the API connection,
     * the store and acct_mgmt's answer.  NULL when memory ran out. */
    void *(*state_new)(void);
    /* own: this process opened them (0 in a forked child: the
     * descriptors are the parent's, only memory goes). */
    void (*state_free)(void *state, int own);
    /* The step, with l filled by pam_jit.so (conf, user, items, log). */
    enum jit_verdict (*step)(enum jit_step step, struct jit_login *l,
                             void *state);
};

/* The backend at path opened (O_NOFOLLOW, O_CLOEXEC) and checked on
 * that descriptor: an absolute path to a regular file, owner's (root for
 * pam_jit.so; jitctl doctor's caller otherwise) and not writable by group
 * or others, in a directory likewise.  The descriptor, or -1 with why
 * (size bytes) saying what is wrong. */
int jit_backend_check(const char *path, uid_t owner, char *why, size_t size);

/* The shared object at path, checked as above (owner root) and loaded
 * from that very descriptor (/proc/self/fd), for good (RTLD_NODELETE);
 * NULL with why (size bytes) saying what is wrong.  For the backend and
 * for pam_jit_net.so (lib/login/net.h). */
void *jit_backend_dlopen(const char *path, char *why, size_t size);

/* The backend at path, checked as above and loaded from that very
 * descriptor (/proc/self/fd), of this very build; NULL with why (size
 * bytes) saying what is wrong. */
const struct jit_backend *jit_backend_open(const char *path, char *why,
                                           size_t size);

#pragma GCC visibility pop

/* Defined in pam_jit/backend.c, found by dlsym. */
extern __attribute__((visibility("default")))
const struct jit_backend jit_login_backend;

#endif
