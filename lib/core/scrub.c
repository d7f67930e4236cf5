/* SPDX-License-Identifier: MIT */
/*
 * The scrub of shared writable directories at teardown (see scrub.h).
 *
 * Other users are alive while it runs and may rename, swap or plant
 * anything in these directories, so: every step is relative to a
 * directory fd opened O_NOFOLLOW; entries are looked at with statx
 * (AT_SYMLINK_NOFOLLOW), never opened except O_PATH or O_DIRECTORY, so a
 * FIFO or a device is never opened and a symlink never followed; an entry
 * is changed only through an O_PATH fd whose inode is the one looked at;
 * the walk stays on the mount of each top directory; and depth, entries
 * and time are bounded, a failure beyond them failing the teardown (it
 * is retried) rather than passing a partial scrub as done.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/scrub.h"

/* What statx says of an entry. */
struct ent {
    dev_t dev;
    ino_t ino;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    nlink_t nlink;
    int mount_root;
};

struct walk {
    struct jit_scrub *sc;
    const struct jit_log *log;
    dev_t dev;            /* the top directory's file system */
    int have_skip;
    dev_t skip_dev;
    ino_t skip_ino;
    unsigned max_depth;
    unsigned long max_entries;
    int64_t deadline;
    int fatal;            /* a bound was hit: stop */
    char *err;
    size_t errlen;
    char path[4096];      /* the directory being walked, for messages */
    size_t len;
    char **mounts;        /* mount points below the scrub dirs */
    size_t n_mounts;
};

#define DEFUSE_OWNER 1    /* also give it to root:root */

static int
xstat(int dir, const char *name, int flags, struct ent *e)
{
    struct statx sx;

    if (statx(dir, name, flags | AT_NO_AUTOMOUNT,
              STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO
                  | STATX_NLINK, &sx) != 0)
        return -errno;
    e->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    e->ino = (ino_t) sx.stx_ino;
    e->mode = sx.stx_mode;
    e->uid = sx.stx_uid;
    e->gid = sx.stx_gid;
    e->nlink = sx.stx_nlink;
    /* A bind mount of the same file system has the same st_dev: the
     * kernel's mount-root attribute (Linux 5.8) tells it apart. */
    e->mount_root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
                    && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return 0;
}

/* /proc/self/mountinfo's mount point field: \ooo escapes undone. */
static void
unescape(char *s)
{
    char *o = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0'
            && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *o++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + s[3] - '0');
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* The mount points below the scrub dirs, so that the walk passes them
 * by without looking: a statx of another user's FUSE mount would fail
 * (EACCES, without allow_other) or wait on its daemon.  0 or -errno. */
static int
read_mounts(struct walk *w, const struct jit_list *dirs)
{
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    int ret = 0;

    if (f == NULL)
        return errno == ENOENT ? 0 : -errno; /* no /proc: statx decides */
    while (getline(&line, &cap, f) > 0) {
        char *save = NULL, *mp = strtok_r(line, " ", &save);
        char **nv;
        int below = 0;

        for (int i = 0; i < 4 && mp != NULL; i++)
            mp = strtok_r(NULL, " ", &save);
        if (mp == NULL)
            continue;
        unescape(mp);
        for (size_t i = 0; i < dirs->n && !below; i++) {
            size_t n = strlen(dirs->items[i]);

            below = strncmp(mp, dirs->items[i], n) == 0 && mp[n] == '/';
        }
        if (!below)
            continue;
        if ((nv = realloc(w->mounts, (w->n_mounts + 1) * sizeof(*nv)))
                == NULL
            || (nv[w->n_mounts] = strdup(mp)) == NULL) {
            if (nv != NULL)
                w->mounts = nv;
            ret = -ENOMEM;
            break;
        }
        w->mounts = nv;
        w->n_mounts++;
    }
    free(line);
    fclose(f);
    return ret;
}

static int
is_mount_point(const struct walk *w, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < w->n_mounts; i++) {
        const char *m = w->mounts[i];

        if (strncmp(m, w->path, w->len) == 0 && m[w->len] == '/'
            && strncmp(m + w->len + 1, name, n) == 0
            && m[w->len + 1 + n] == '\0')
            return 1;
    }
    return 0;
}

/* The first error's message wins; returns ret. */
__attribute__((format(printf, 3, 4))) static int
note(struct walk *w, int ret, const char *fmt, ...)
{
    va_list ap;

    if (w->err != NULL && w->errlen > 0 && w->err[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return ret;
}

static int
granted_gid(const struct jit_scrub *sc, gid_t g)
{
    if (g == sc->gid)
        return 1;
    for (size_t i = 0; i < sc->n_gids; i++)
        if (sc->gids[i] == g)
            return 1;
    return 0;
}

/* Append "/name" to the path for messages; returns the old length. */
static size_t
path_push(struct walk *w, const char *name)
{
    size_t old = w->len;
    int n = snprintf(w->path + w->len, sizeof(w->path) - w->len, "/%s",
                     name);

    if (n < 0 || (size_t) n >= sizeof(w->path) - w->len)
        w->len = sizeof(w->path) - 1; /* truncated, still terminated */
    else
        w->len += (size_t) n;
    return old;
}

static void
path_pop(struct walk *w, size_t old)
{
    w->len = old;
    w->path[old] = '\0';
}

/* Take the setuid and setgid bits (and, with DEFUSE_OWNER, group and
 * world write and the owner: root:root) from `name` in dir, through an
 * O_PATH fd that must be the inode `seen` (-ESTALE if it is not: it
 * changed since it was looked at).  The mode is changed through
 * /proc/self/fd, which reaches exactly that inode. */
static int
defuse(int dir, const char *name, const struct ent *seen, int how)
{
    char proc[64];
    struct ent now;
    mode_t mode;
    int fd, ret = 0;

    fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESTALE : -errno;
    if ((ret = xstat(fd, "", AT_EMPTY_PATH, &now)) != 0)
        goto done;
    if (now.dev != seen->dev || now.ino != seen->ino
        || (now.mode & S_IFMT) != (seen->mode & S_IFMT)) {
        ret = -ESTALE;
        goto done;
    }
    if (S_ISREG(now.mode) || S_ISDIR(now.mode)) {
        mode = now.mode & 07777 & ~(mode_t) (S_ISUID | S_ISGID);
        if (how & DEFUSE_OWNER)
            mode &= ~(mode_t) (S_IWGRP | S_IWOTH);
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (mode != (now.mode & 07777) && chmod(proc, mode) != 0) {
            ret = -errno;
            goto done;
        }
    }
    if ((how & DEFUSE_OWNER) && (now.uid != 0 || now.gid != 0)
        && fchownat(fd, "", 0, 0, AT_EMPTY_PATH) != 0)
        ret = -errno;

done:
    close(fd);
    return ret;
}

static int walk_dir(struct walk *w, int fd, unsigned depth, int doomed);

/* A directory entry: walked (a directory of the uid, or inside one, is
 * then removed, or defused if it cannot be). */
static int
visit_dir(struct walk *w, int dir, const char *name, const struct ent *e,
          unsigned depth, int doomed)
{
    struct jit_scrub *sc = w->sc;
    struct ent f;
    size_t old;
    int fd, mine, r, d, dr;

    if (w->have_skip && e->dev == w->skip_dev && e->ino == w->skip_ino)
        return 0;
    /* Too deep: a tree of the uid's own fails the teardown (it is what
     * must go); someone else's is passed by with a warning, or any local
     * user could keep every teardown on the host failing with one deep
     * directory in /tmp.  (What the uid put below it stays: said here.) */
    if (depth + 1 > w->max_depth && (doomed || e->uid == sc->uid)) {
        w->fatal = 1;
        return note(w, -ELOOP, "%s/%s: more than %u levels deep", w->path,
                    name, w->max_depth);
    }
    if (depth + 1 > w->max_depth) {
        jit_logf(w->log, LOG_WARNING, "scrub of %s: %s/%s: more than %u "
                 "levels deep, owned by uid %u: not looked at below",
                 sc->user, w->path, name, w->max_depth, (unsigned) e->uid);
        return 0;
    }
    fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK
                               | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP)
            return -ESTALE; /* swapped for a file or a link meanwhile */
        if (errno == EMFILE || errno == ENFILE)
            w->fatal = 1;
        return note(w, -errno, "%s/%s: %s", w->path, name, strerror(errno));
    }
    if ((r = xstat(fd, "", AT_EMPTY_PATH, &f)) != 0) {
        close(fd);
        return note(w, r, "%s/%s: %s", w->path, name, strerror(-r));
    }
    if (f.dev != e->dev || f.ino != e->ino) {
        close(fd);
        return -ESTALE;
    }
    mine = f.uid == sc->uid && !sc->strip_only;
    old = path_push(w, name);
    r = walk_dir(w, fd, depth + 1, doomed || mine);
    path_pop(w, old);
    /* What failed below is retried with the whole teardown: the
     * directory stays the uid's, to be found again then. */
    if (w->fatal || !(mine || doomed) || r != 0)
        return r;
    if (unlinkat(dir, name, AT_REMOVEDIR) == 0) {
        sc->removed++;
        return r;
    }
    if (errno == ENOENT || !mine)
        return r; /* someone else's, in one of the uid's: that is defused */
    d = errno;
    if ((dr = defuse(dir, name, &f, DEFUSE_OWNER)) != 0)
        return dr == -ESTALE ? dr
                             : note(w, dr, "%s/%s: directory of uid %u: "
                                    "could not remove it (%s) or give it to "
                                    "root (%s)", w->path, name,
                                    (unsigned) sc->uid, strerror(d),
                                    strerror(-dr));
    sc->defused++;
    jit_logf(w->log, LOG_WARNING, "scrub of %s: %s/%s: directory of uid %u "
             "could not be removed (%s): now root's, without setgid or "
             "group and world write", sc->user, w->path, name,
             (unsigned) sc->uid, strerror(d));
    return r;
}

/* Strip mode: the uid's setgid file of a group it no longer has. */
static int
strip(struct walk *w, int dir, const char *name, const struct ent *e)
{
    struct jit_scrub *sc = w->sc;
    int r, hit = 0;

    if (e->uid != sc->uid || !S_ISREG(e->mode) || !(e->mode & S_ISGID))
        return 0;
    for (size_t i = 0; i < sc->n_strip && !hit; i++)
        hit = sc->strip_gids[i] == e->gid;
    if (!hit)
        return 0;
    if ((r = defuse(dir, name, e, 0)) != 0)
        return r == -ESTALE ? r
                            : note(w, r, "%s/%s: setgid file of group %u "
                                   "no longer granted: could not remove the "
                                   "bit (%s)", w->path, name,
                                   (unsigned) e->gid, strerror(-r));
    sc->defused++;
    jit_logf(w->log, LOG_WARNING, "restrict of %s: %s/%s: setgid file of "
             "group %u, no longer granted: setuid and setgid removed",
             sc->user, w->path, name, (unsigned) e->gid);
    return 0;
}

/* Anything but a directory. */
static int
visit_file(struct walk *w, int dir, const char *name, const struct ent *e,
           int doomed)
{
    struct jit_scrub *sc = w->sc;
    int mine = e->uid == sc->uid, pre = -1, r, u;

    if (sc->strip_only)
        return strip(w, dir, name, e);
    if (mine || doomed) {
        /* A setuid or setgid file, or one with links elsewhere (the uid
         * may have linked it into any directory it could write on this
         * file system), is defused first: unlinking this name leaves the
         * other links, and the inode, as they were. */
        if (mine && S_ISREG(e->mode)
            && ((e->mode & (S_ISUID | S_ISGID)) || e->nlink > 1)) {
            pre = defuse(dir, name, e, DEFUSE_OWNER);
            if (pre == -ESTALE)
                return pre;
        }
        if (unlinkat(dir, name, 0) == 0) {
            sc->removed++;
            if (e->nlink > 1 && pre != 0 && mine)
                return note(w, pre, "%s/%s: file of uid %u with %u other "
                            "links: removed here, but could not be defused "
                            "(%s)", w->path, name, (unsigned) sc->uid,
                            (unsigned) (e->nlink - 1), strerror(-pre));
            if (e->nlink > 1 && pre == 0)
                jit_logf(w->log, LOG_WARNING, "scrub of %s: %s/%s: file of "
                         "uid %u had %u other links: defused (now root's, "
                         "without setuid and setgid), then removed here",
                         sc->user, w->path, name, (unsigned) sc->uid,
                         (unsigned) (e->nlink - 1));
            return 0;
        }
        if (errno == ENOENT)
            return 0;
        u = errno;
        if (mine) {
            if (pre != 0 && (pre = defuse(dir, name, e, DEFUSE_OWNER)) != 0)
                return pre == -ESTALE
                           ? pre
                           : note(w, pre, "%s/%s: file of uid %u: could not "
                                  "remove it (%s) or defuse it (%s)", w->path,
                                  name, (unsigned) sc->uid, strerror(u),
                                  strerror(-pre));
            sc->defused++;
            jit_logf(w->log, LOG_WARNING, "scrub of %s: %s/%s: file of uid "
                     "%u could not be removed (%s): defused (now root's, "
                     "without setuid, setgid or group and world write)",
                     sc->user, w->path, name, (unsigned) sc->uid,
                     strerror(u));
            return 0;
        }
    }
    /* Someone else's setgid file of one of the account's groups: the
     * group stays with whoever runs it.  Its owner keeps the file; the
     * kernel lets only a member of the group set the bit again.  Root's
     * (a system file, maybe linked here) is only reported. */
    if (!S_ISREG(e->mode) || !(e->mode & S_ISGID) || !granted_gid(sc, e->gid))
        return 0;
    if (e->uid == 0) {
        sc->reported++;
        jit_logf(w->log, LOG_WARNING, "scrub of %s: %s/%s: setgid file of "
                 "granted group %u, owned by root: left as it is", sc->user,
                 w->path, name, (unsigned) e->gid);
        return 0;
    }
    if ((r = defuse(dir, name, e, 0)) != 0)
        return r == -ESTALE ? r
                            : note(w, r, "%s/%s: setgid file of granted group"
                                   " %u: could not remove the bit (%s)",
                                   w->path, name, (unsigned) e->gid,
                                   strerror(-r));
    sc->reported++;
    jit_logf(w->log, LOG_WARNING, "scrub of %s: %s/%s: setgid file of "
             "granted group %u, owned by uid %u: setuid and setgid removed",
             sc->user, w->path, name, (unsigned) e->gid, (unsigned) e->uid);
    return 0;
}

/* One entry of a directory being walked; an entry that changes while it
 * is handled (a user renaming things) is looked at again, a few times. */
static int
visit(struct walk *w, int dir, const char *name, unsigned depth, int doomed)
{
    struct ent e;
    int r;

    for (int tries = 0; tries < 4; tries++) {
        int mounted = is_mount_point(w, name);

        if (!mounted && (r = xstat(dir, name, AT_SYMLINK_NOFOLLOW, &e)) != 0)
            return r == -ENOENT ? 0
                                : note(w, r, "%s/%s: %s", w->path, name,
                                       strerror(-r));
        /* Another file system or mount: not this directory's.  Inside a
         * directory of the uid it hides what it covers, which the uid
         * may own (a FUSE mount of its own, say) and which reappears once
         * unmounted: that waits for an administrator, and a retry. */
        if (mounted || e.dev != w->dev || e.mount_root)
            return doomed ? note(w, -EBUSY, "%s/%s: a mount inside a "
                                 "directory of uid %u (unmount it)", w->path,
                                 name, (unsigned) w->sc->uid)
                          : 0;
        r = S_ISDIR(e.mode) ? visit_dir(w, dir, name, &e, depth, doomed)
                            : visit_file(w, dir, name, &e, doomed);
        if (r != -ESTALE)
            return r;
    }
    return note(w, -EAGAIN, "%s/%s: kept changing while it was scrubbed",
                w->path, name);
}

/* Walk the directory fd (closed here); the first error is returned, but
 * the other entries are still done unless a bound was hit. */
static int
walk_dir(struct walk *w, int fd, unsigned depth, int doomed)
{
    struct jit_scrub *sc = w->sc;
    struct dirent *de;
    DIR *d = fdopendir(fd);
    int first = 0, r;

    if (d == NULL) {
        r = -errno;
        close(fd);
        return note(w, r, "%s: %s", w->path, strerror(-r));
    }
    for (;;) {
        errno = 0;
        if ((de = readdir(d)) == NULL) {
            if (errno != 0 && first == 0)
                first = note(w, -errno, "%s: %s", w->path, strerror(errno));
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (++sc->entries > w->max_entries) {
            w->fatal = 1;
            first = note(w, -E2BIG, "%s: more than %lu entries to look at",
                         w->path, w->max_entries);
            break;
        }
        if (jit_mono_ms() > w->deadline) {
            w->fatal = 1;
            first = note(w, -ETIMEDOUT, "%s: not done after %u s", w->path,
                         (unsigned) ((sc->max_ms ? sc->max_ms
                                                 : JIT_SCRUB_MAX_MS) / 1000));
            break;
        }
        r = visit(w, dirfd(d), de->d_name, depth, doomed);
        if (r != 0 && first == 0)
            first = r;
        if (w->fatal)
            break;
    }
    closedir(d);
    return first;
}

int
jit_scrub_dirs(const struct jit_list *dirs, struct jit_scrub *sc,
               const struct jit_log *log, char *err, size_t errlen)
{
    struct walk w;
    struct ent top;
    int fd, r, ret = 0;

    memset(&w, 0, sizeof(w));
    w.sc = sc;
    w.log = log;
    w.err = err;
    w.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    sc->removed = sc->defused = sc->reported = sc->entries = 0;
    if (sc->uid == 0)
        return note(&w, -EPERM, "scrub: refusing uid 0");
    w.max_depth = sc->max_depth ? sc->max_depth : JIT_SCRUB_MAX_DEPTH;
    w.max_entries = sc->max_entries ? sc->max_entries : JIT_SCRUB_MAX_ENTRIES;
    w.deadline = jit_mono_ms() + (sc->max_ms ? sc->max_ms : JIT_SCRUB_MAX_MS);
    if ((ret = read_mounts(&w, dirs)) != 0) {
        note(&w, ret, "/proc/self/mountinfo: %s", strerror(-ret));
        goto done;
    }
    if (sc->skip_dir != NULL) {
        struct ent s;

        if (xstat(AT_FDCWD, sc->skip_dir, 0, &s) == 0) {
            w.have_skip = 1;
            w.skip_dev = s.dev;
            w.skip_ino = s.ino;
        }
    }
    for (size_t i = 0; i < dirs->n && !w.fatal; i++) {
        const char *top_path = dirs->items[i];

        fd = open(top_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            struct stat ls;

            if (errno == ENOENT)
                continue; /* nothing there to scrub */
            r = -errno;
            /* O_DIRECTORY makes a symlink ENOTDIR, not ELOOP. */
            if ((r == -ENOTDIR || r == -ELOOP)
                && lstat(top_path, &ls) == 0 && S_ISLNK(ls.st_mode))
                r = note(&w, -ELOOP, "%s: is a symbolic link", top_path);
            else
                r = note(&w, r, "%s: %s", top_path, strerror(-r));
            if (ret == 0)
                ret = r;
            continue;
        }
        if ((r = xstat(fd, "", AT_EMPTY_PATH, &top)) != 0) {
            close(fd);
            r = note(&w, r, "%s: %s", top_path, strerror(-r));
            if (ret == 0)
                ret = r;
            continue;
        }
        w.dev = top.dev;
        snprintf(w.path, sizeof(w.path), "%s", top_path);
        w.len = strlen(w.path);
        if ((r = walk_dir(&w, fd, 0, 0)) != 0 && ret == 0)
            ret = r;
    }
    if (!sc->strip_only && (sc->removed || sc->defused || sc->reported))
        jit_logf(log, LOG_NOTICE, "scrub of %s: %lu removed, %lu defused, "
                 "%lu setgid files of its groups reported (%lu entries)",
                 sc->user, sc->removed, sc->defused, sc->reported,
                 sc->entries);

done:
    for (size_t i = 0; i < w.n_mounts; i++)
        free(w.mounts[i]);
    free(w.mounts);
    return ret;
}

uint64_t
jit_scrub_mount_ns(void)
{
    struct stat st;

    return stat("/proc/self/ns/mnt", &st) == 0 ? (uint64_t) st.st_ino : 0;
}
