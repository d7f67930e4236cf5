/* SPDX-License-Identifier: MIT */
/*
 * Which Kerberos principal may log in to which JIT account: the decision
 * of the krb5 localauth plugin (localauth_jit/), answered from the NSS
 * snapshot alone (doc/design.md, "GSSAPI logins").  libc only, like the
 * snapshot reader it uses: it runs inside sshd's privileged process,
 * takes no lock, uses no network and keeps nothing between calls.
 */
#ifndef JIT_LOCALAUTH_H
#define JIT_LOCALAUTH_H

#include <stdint.h>
#include <sys/types.h>

#include "core/audit.h"
#include "nss/nssdb_read.h"

#pragma GCC visibility push(hidden)

enum jit_localauth_verdict {
    JIT_LOCALAUTH_PASS,  /* not a JIT account: the usual rules decide */
    JIT_LOCALAUTH_ALLOW, /* the account's requester, while it stands */
    JIT_LOCALAUTH_DENY,  /* a JIT account, and not this principal's now */
};

/* The decision and its audit reason (a constant word): pass "not_ours";
 * allow "requester"; deny "not_requester" (another principal, or none),
 * "account_ending" (its grant revoked or over at the last commit, or it
 * is being torn down) or "grant_expired" (its end has passed by the
 * snapshot's own time).  principal is the client principal as
 * krb5_unparse_name writes it, compared byte for byte with the grant's
 * requester; NULL matches nothing.  *rec (may be NULL) is the account's
 * record when it is ours. */
enum jit_localauth_verdict
jit_localauth_decide(const struct jit_nssdb *db, const char *principal,
                     const char *account, int64_t now, const char **reason,
                     const struct jit_nssdb_passwd **rec);

/* The plugin's userok: map the snapshot at path (owned by owner), decide,
 * write one audit line to log for an account of ours (none for another
 * source's: doc/design.md, R7), unmap.  An account NSS resolves to
 * another uid (another source's, met first) is not ours: pass.  No
 * snapshot, or one the reader refuses, means no JIT account resolves at
 * all: pass (a line at warning for a refused one); any other failure to
 * map it: deny. */
enum jit_localauth_verdict
jit_localauth_userok(const char *path, uid_t owner, const char *principal,
                     const char *account, int64_t now,
                     const struct jit_log *log);

#pragma GCC visibility pop

#endif
