/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conffiles.h"
#include "core/escape.h"

enum kind {
    SECRET,   /* the host's identity: a regular file, root's, mode 0600 */
    PUBLIC,   /* read by root: a regular file, root's, not writable by
               * others (what it says is trusted) */
    DIR_MUST, /* a directory, root's, not writable by others */
    DIR_MAY,  /* the same, or not there yet: pam-jit makes it */
    PROGRAM,  /* a shell: a regular executable, root's, not writable by
               * others */
};

/* One problem, said once, with the path escaped (it is the admin's, but
 * a control character in it must not reach the terminal), and what to
 * do: the command todo names (chmod 600, chown root, ...) applied to the
 * path, or the advice todo_text. */
static size_t
say(FILE *err, const char *key, const char *path, const char *what,
    const char *todo_cmd, const char *todo_text)
{
    char *e = jit_escape(path);

    fprintf(err, "jitctl: %s %s: %s", key, e ? e : "?", what);
    if (todo_cmd != NULL)
        fprintf(err, "; %s %s", todo_cmd, e ? e : "?");
    else if (todo_text != NULL)
        fprintf(err, "; %s", todo_text);
    fputc('\n', err);
    free(e);
    return 1;
}

static size_t
check(FILE *err, const char *key, const char *path, enum kind k)
{
    char what[96];
    struct stat st;
    int dir = k == DIR_MUST || k == DIR_MAY;

    if (path == NULL || path[0] == '\0')
        return 0;
    /* What pam-jit opens with O_NOFOLLOW (secrets, directories) must not
     * be a link; a CA bundle or a shell commonly is one, and is followed
     * when used. */
    if ((k == PUBLIC || k == PROGRAM ? stat(path, &st)
                                     : lstat(path, &st)) != 0) {
        if (errno == ENOENT && k == DIR_MAY)
            return 0; /* made at first use */
        return say(err, key, path, strerror(errno), NULL,
                   errno == ENOENT ? "create it, or correct the path" : NULL);
    }
    if (S_ISLNK(st.st_mode))
        return say(err, key, path, "is a symbolic link", NULL,
                   "name the file itself");
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return say(err, key, path,
                   dir ? "not a directory" : "not a regular file", NULL,
                   NULL);
    if (st.st_uid != 0) {
        snprintf(what, sizeof(what), "owned by uid %u, not root",
                 (unsigned) st.st_uid);
        return say(err, key, path, what, "chown root", NULL);
    }
    if (k == SECRET && (st.st_mode & 077) != 0) {
        snprintf(what, sizeof(what), "mode %04o: others may read it",
                 (unsigned) (st.st_mode & 07777));
        return say(err, key, path, what, "chmod 600", NULL);
    }
    if ((st.st_mode & 022) != 0) {
        snprintf(what, sizeof(what), "mode %04o: group- or world-writable",
                 (unsigned) (st.st_mode & 07777));
        return say(err, key, path, what, "chmod go-w", NULL);
    }
    if (k == PROGRAM && (st.st_mode & 0111) == 0)
        return say(err, key, path, "not executable", NULL, NULL);
    return 0;
}

size_t
jitctl_check_files(const struct jit_conf *c, FILE *err)
{
    size_t n = 0;

    n += check(err, "token_file", c->token_file, SECRET);
    n += check(err, "client_key", c->client_key, SECRET);
    n += check(err, "krb5_keytab", c->krb5_keytab, SECRET);
    n += check(err, "client_cert", c->client_cert, PUBLIC);
    n += check(err, "ca_file", c->ca_file, PUBLIC);
    n += check(err, "skel", c->skel, DIR_MUST);
    n += check(err, "state_dir", c->state_dir, DIR_MAY);
    n += check(err, "home_base", c->home_base, DIR_MAY);
    n += check(err, "default_shell", c->default_shell, PROGRAM);
    return n;
}
