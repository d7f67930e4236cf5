/* SPDX-License-Identifier: MIT */
/*
 * RUNNING_ON_VALGRIND where valgrind's header is there, 0 elsewhere: for
 * the few places that must act otherwise under valgrind (a clone child
 * sharing memory, which valgrind cannot run).
 */
#ifndef JIT_UNDER_VALGRIND_H
#define JIT_UNDER_VALGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#endif
