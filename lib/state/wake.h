/* SPDX-License-Identifier: MIT */
/*
 * The daemon's wake-up FIFO, state_dir/wake (see jitctl(8)): a process
 * that adds events to the outbox pokes it after its commit, so that
 * jitctl daemon delivers them at once instead of at the end of its long
 * poll.  Root's alone (0600 in root's 0755 state directory); a poke never
 * blocks and never fails the caller, and nothing but a FIFO of ours at
 * that name is ever opened.
 */
#ifndef JIT_WAKE_H
#define JIT_WAKE_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

#define JIT_WAKE_FIFO "wake"

/* For the daemon: a fresh FIFO "wake" in dirfd, the state directory
 * (whatever was at that name goes: an earlier daemon's FIFO, perhaps left
 * full, or anything else), opened for reading without blocking.  The fd,
 * or -errno with err set. */
int jit_wake_listen(int dirfd, char *err, size_t errlen);

/* Read away every poke waiting in the FIFO. */
void jit_wake_drain(int fd);

/* Poke the daemon, if one listens: one byte into the FIFO in dirfd (the
 * state directory).  Errors are ignored: without a daemon, or with the
 * FIFO full, there is nothing to do. */
void jit_wake_poke(int dirfd);

#pragma GCC visibility pop

#endif
