/* SPDX-License-Identifier: MIT */
/*
 * jit.conf and PAM module arguments: one typed option table, one parser.
 *
 * A file is `key = value` lines; `#` starts a comment only at the start of
 * a line (values such as URLs may contain '#'); lists are comma-separated.
 * The parser is strict: an unknown key, a repeated key, a malformed value
 * or a value out of range is an error naming the file, line and key, and
 * all errors of a file are reported, not just the first.
 */
#ifndef JIT_CONF_H
#define JIT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#pragma GCC visibility push(hidden)

#define JIT_CONF_MAX_SIZE (64u * 1024u)
#define JIT_CONF_MAX_LINE 4096u

enum jit_home_policy { JIT_HOME_REMOVE, JIT_HOME_ARCHIVE, JIT_HOME_KEEP };
/* What pam_jit's auth step asks besides the live grant (jit.conf(5)). */
enum jit_auth_proof { JIT_AUTH_PASSWORD, JIT_AUTH_GRANT };
/* How audit lines are written (jit.conf(5), audit_format). */
enum jit_audit_format { JIT_AUDIT_KV, JIT_AUDIT_JSON };

struct jit_list {
    char **items;
    size_t n;
};

struct jit_conf {
    char *api_url, *host, *ca_file, *pinned_pubkey, *token_file;
    char *client_cert, *client_key;
    char *krb5_keytab, *krb5_principal, *krb5_ccache, *krb5_service;
    uint32_t timeout, connect_timeout, max_response_size, outbox_max;
    char *state_dir, *home_base, *skel;
    int home_policy;
    struct jit_list shells;
    char *default_shell;
    uint32_t uid_min, uid_max, uid_quarantine;
    struct jit_list allowed_groups;
    struct jit_list scrub_dirs; /* shared writable directories (scrub.h) */
    uint32_t clock_skew;
    int auth_proof;
    int audit_format;
    bool debug;
    /* Where each option got its value (index = option table index):
     * 0 default, 1 file, 2 PAM argument. */
    unsigned char origin[64];
};

/* Errors collected while loading; each message is complete on its own. */
struct jit_errs {
    char **msg;
    size_t n;
};

void jit_errs_add(struct jit_errs *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void jit_errs_print(const struct jit_errs *e, FILE *f);
void jit_errs_free(struct jit_errs *e);

/* Defaults; returns 0 or -ENOMEM. */
int jit_conf_init(struct jit_conf *c);
void jit_conf_free(struct jit_conf *c);

/* Parse text (which need not be NUL-terminated) named `origin` in
 * messages.  Returns the number of errors added. */
size_t jit_conf_parse_buffer(struct jit_conf *c, const char *origin,
                             const char *text, size_t len,
                             struct jit_errs *errs);
/* Read a file: regular, not a symlink, owned by root (or by the caller
 * when not root), not group/world-writable, at most JIT_CONF_MAX_SIZE. */
size_t jit_conf_load_file(struct jit_conf *c, const char *path,
                          struct jit_errs *errs);
/* PAM arguments: `key=value` for any option, `debug` alone for debug=yes.
 * `config=` is the caller's (it chooses the file before the arguments
 * override it) and is skipped here, as is `backend=` (pam_jit's login
 * backend, pam_jit(8)). */
size_t jit_conf_apply_args(struct jit_conf *c, int argc, const char **argv,
                           struct jit_errs *errs);
/* Cross-field checks and required options, after all sources. */
size_t jit_conf_finish(struct jit_conf *c, const char *origin,
                       struct jit_errs *errs);
/* The configuration as pam_jit and jitctl read it: the defaults, the file
 * (path, or the last config=PATH among argv), then argv over it (PAM
 * arguments; argc 0 for none), then jit_conf_finish.  Returns 0 with *c
 * ready; -ENOMEM with *c not initialised and errs untouched; or -EINVAL
 * with every error in errs (a NULL message is one that ran out of memory)
 * and *c freed. */
int jit_conf_load(struct jit_conf *c, const char *path, int argc,
                  const char **argv, struct jit_errs *errs);

/* The effective configuration, one `key = value` line per option, in a
 * form jit_conf_parse_buffer accepts again. */
void jit_conf_print(const struct jit_conf *c, FILE *f);

#pragma GCC visibility pop

#endif
