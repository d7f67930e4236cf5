/* SPDX-License-Identifier: MIT */
/*
 * What a uid can leave behind outside its home and its processes: SysV
 * IPC objects, at jobs and a crontab, systemd's lingering; and the name
 * caches (nscd) that may still answer for a deleted account.  Used by the
 * teardown.
 */
#ifndef JIT_LEFTOVERS_H
#define JIT_LEFTOVERS_H

#include <sys/types.h>

#pragma GCC visibility push(hidden)

/* Remove every shared memory segment, message queue and semaphore set
 * owned or created by uid, from a child that has become uid (gid).
 * 0, or -errno (-EPERM if one could not be removed). */
int jit_ipc_remove_uid(uid_t uid, gid_t gid);

/* Remove the crontab of `name` and every at job owned by uid, in the
 * spool directories given (NULL: Debian's /var/spool/cron/crontabs and
 * /var/spool/cron/atjobs); missing directories are fine. */
int jit_spool_remove(const char *name, uid_t uid, const char *crontabs,
                     const char *atjobs);

/* Ask nscd, where it runs, to forget its passwd and group caches:
 * /usr/sbin/nscd -i, fork and execve with an empty environment. */
void jit_nscd_invalidate(void);

/* Ask systemd-logind, where it runs, to end the uid's sessions. */
void jit_logind_terminate(uid_t uid);

/* Where systemd-logind keeps one file per user whose manager runs
 * without a session (loginctl enable-linger): a user's services that
 * would outlive the account and start again at every boot. */
#define JIT_LINGER_DIR "/var/lib/systemd/linger"

/* Stop lingering for the account: loginctl disable-linger UID where
 * logind runs, and JIT_LINGER_DIR/NAME removed (fd-relative, never
 * following a link; absent is fine).  0 or -errno. */
int jit_linger_disable(const char *name, uid_t uid);

#pragma GCC visibility pop

#endif
