/* SPDX-License-Identifier: MIT */
/*
 * jitctl check-config's look at the files the configuration names: each
 * one exists (or may be made later, for the directories pam-jit creates
 * itself), is of its kind, root's, and not open to others, with what to
 * do when it is not.
 */
#ifndef JITCTL_CONFFILES_H
#define JITCTL_CONFFILES_H

#include <stdio.h>

#include "core/conf.h"

/* Check every file conf names; one line on err per problem ("jitctl:
 * KEY PATH: what; what to do").  Returns the number of problems. */
size_t jitctl_check_files(const struct jit_conf *conf, FILE *err);

#endif
