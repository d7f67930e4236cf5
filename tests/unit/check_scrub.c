/* SPDX-License-Identifier: MIT */
/* Unit tests: the scrub walker (lib/core/scrub.c): its bounds, what it removes
 * and defuses, its log lines, and a user swapping a directory for a
 * symbolic link while it walks.  The file ownership it acts on needs
 * root; without it the tests that need it pass trivially with a note. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "core/scrub.h"
#include "testlib.h"

#define UID 86990u /* nobody's: in scrub.sh's range, never a process's here */

static char lines[64][1024];
static int n_lines;

static void
capture(void *ctx, int prio, const char *line)
{
    (void) ctx;
    (void) prio;
    if (n_lines < 64)
        snprintf(lines[n_lines++], sizeof(lines[0]), "%s", line);
}

static const struct jit_log capture_log = { capture, NULL, 0 };

static int
as_root(void)
{
    if (geteuid() == 0)
        return 1;
    fprintf(stderr, "not root: skipped\n");
    return 0;
}

static void
mkfile(const char *dir, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
    char *p = t_path(dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fchown(fd, uid, gid), 0);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    free(p);
}

static struct jit_list
one(char *dir)
{
    static char *items[1];
    struct jit_list l = { items, 1 };

    items[0] = dir;
    return l;
}

START_TEST(test_bounds)
{
    char *dir;
    char err[512];
    struct jit_list l;
    struct jit_scrub sc = { .uid = UID, .gid = UID, .user = "u" };

    if (!as_root())
        return;
    dir = t_mkdtemp();
    l = one(dir);
    for (int i = 0; i < 8; i++) {
        char name[16];

        snprintf(name, sizeof(name), "f%d", i);
        mkfile(dir, name, 0, 0, 0644);
    }
    sc.max_entries = 5;
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), -E2BIG);
    ck_assert_ptr_nonnull(strstr(err, "more than 5 entries"));
    sc.max_entries = 0;
    {
        char *a = t_path(dir, "a"), *b = t_path(dir, "a/b"),
             *c = t_path(dir, "a/b/c");

        ck_assert_int_eq(mkdir(a, 0755), 0);
        ck_assert_int_eq(mkdir(b, 0755), 0);
        ck_assert_int_eq(mkdir(c, 0755), 0);
        free(a);
        free(b);
        free(c);
    }
    sc.max_depth = 2;
    /* Too deep and someone else's (root's here): passed by; the uid's
     * own: the scrub fails. */
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), 0);
    {
        char *c = t_path(dir, "a/b/c");

        ck_assert_int_eq(chown(c, sc.uid, sc.uid), 0);
        free(c);
    }
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), -ELOOP);
    ck_assert_ptr_nonnull(strstr(err, "/a/b/c: more than 2 levels deep"));
    sc.max_depth = 3;
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), 0);
    /* A missing directory is no failure; uid 0 is refused. */
    {
        char *gone = t_path(dir, "nonexistent");
        struct jit_list m = one(gone);

        ck_assert_int_eq(jit_scrub_dirs(&m, &sc, NULL, err, sizeof(err)), 0);
        free(gone);
    }
    /* A symbolic link as a scrub dir is refused, not followed. */
    {
        char *ln = t_path(dir, "link");
        struct jit_list m = one(ln);

        ck_assert_int_eq(symlink(dir, ln), 0);
        ck_assert_int_eq(jit_scrub_dirs(&m, &sc, NULL, err, sizeof(err)),
                         -ELOOP);
        ck_assert_ptr_nonnull(strstr(err, "link: is a symbolic link"));
        free(ln);
    }
    sc.uid = 0;
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), -EPERM);
    t_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_remove_defuse_report)
{
    uint32_t granted[] = { 44 };
    struct jit_scrub sc = { .uid = UID, .gid = UID, .gids = granted,
                            .n_gids = 1, .user = "u" };
    char *dir, *p, *q, err[512];
    struct jit_list l;
    struct stat st;

    if (!as_root())
        return;
    dir = t_mkdtemp();
    l = one(dir);
    n_lines = 0;
    mkfile(dir, "mine-sg", UID, 44, 02755);
    mkfile(dir, "other-sg\nforged line", 65534, 44, 02755);
    mkfile(dir, "other-sg-not-granted", 65534, 45, 02755);
    mkfile(dir, "root-sg", 0, 44, 02755);
    mkfile(dir, "other", 65534, 65534, 0644);
    p = t_path(dir, "fifo");
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    ck_assert_int_eq(lchown(p, UID, UID), 0);
    free(p);
    /* A link of the uid's setgid file elsewhere on the file system. */
    p = t_path(dir, "mine-sg");
    q = t_path(dir, "../outside-link");
    unlink(q);
    ck_assert_int_eq(link(p, q), 0);
    free(p);
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, &capture_log, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(sc.removed, 2);
    ck_assert_uint_eq(sc.reported, 2);
    ck_assert_int_eq(lstat(q, &st), 0);
    ck_assert_uint_eq(st.st_uid, 0);
    ck_assert_uint_eq(st.st_gid, 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    unlink(q);
    free(q);
    p = t_path(dir, "other-sg\nforged line");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_uint_eq(st.st_uid, 65534);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    free(p);
    p = t_path(dir, "other-sg-not-granted");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 02755);
    free(p);
    p = t_path(dir, "root-sg");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 02755);
    free(p);
    /* Each line is one line: the newline in the name is escaped. */
    ck_assert_int_ge(n_lines, 4);
    for (int i = 0; i < n_lines; i++)
        ck_assert_ptr_null(strchr(lines[i], '\n'));
    t_rmtree(dir);
    free(dir);
}
END_TEST

/* A user swaps a directory and a symbolic link to a directory outside
 * (holding files of the uid) as fast as it can while the walk runs: the
 * walk never follows the link, whatever it sees. */
struct swapper {
    int dirfd;
    volatile int stop;
};

static void *
swap_loop(void *arg)
{
    struct swapper *s = arg;

    while (!s->stop)
        renameat2(s->dirfd, "x", s->dirfd, "y", RENAME_EXCHANGE);
    return NULL;
}

START_TEST(test_swap_race)
{
    struct jit_scrub sc = { .uid = UID, .gid = UID, .user = "u" };
    char *dir, *scrub, *outside, *x, *y, err[512];
    struct swapper s = { -1, 0 };
    struct jit_list l;
    pthread_t th;
    int changed = 0;

    if (!as_root())
        return;
    dir = t_mkdtemp();
    scrub = t_path(dir, "scrub");
    outside = t_path(dir, "outside");
    ck_assert_int_eq(mkdir(scrub, 01777), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    ck_assert_int_eq(chown(outside, UID, UID), 0);
    mkfile(outside, "keep", UID, UID, 02755);
    x = t_path(scrub, "x");
    y = t_path(scrub, "y");
    ck_assert_int_eq(mkdir(x, 0777), 0);
    ck_assert_int_eq(symlink(outside, y), 0);
    l = one(scrub);
    s.dirfd = open(scrub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(s.dirfd, 0);
    ck_assert_int_eq(pthread_create(&th, NULL, swap_loop, &s), 0);
    for (int i = 0; i < 2000; i++) {
        int r = jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err));

        ck_assert(r == 0 || r == -EAGAIN);
        changed += r == -EAGAIN;
    }
    s.stop = 1;
    pthread_join(th, NULL);
    close(s.dirfd);
    {
        char *keep = t_path(outside, "keep");
        struct stat st;

        ck_assert_int_eq(lstat(keep, &st), 0);
        ck_assert_uint_eq(st.st_uid, UID);
        ck_assert_uint_eq(st.st_mode & 07777, 02755);
        free(keep);
    }
    fprintf(stderr, "swap race: 2000 walks, %d saw the entry keep changing\n",
            changed);
    t_rmtree(dir);
    free(x);
    free(y);
    free(outside);
    free(scrub);
    free(dir);
}
END_TEST

/* Mounts below a scrub dir are passed by (from /proc/self/mountinfo,
 * without a statx that another user's FUSE mount would fail or hang):
 * a file of the uid on one stays; one inside a directory of the uid
 * fails the scrub.  In a mount namespace of this test's own. */
START_TEST(test_mounts)
{
    struct jit_scrub sc = { .uid = UID, .gid = UID, .user = "u" };
    char *dir, *m, *dm, *f, err[512];
    struct jit_list l;
    struct stat st;

    if (!as_root())
        return;
    if (unshare(CLONE_NEWNS) != 0
        || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        fprintf(stderr, "no mount namespace: skipped\n");
        return;
    }
    dir = t_mkdtemp();
    l = one(dir);
    m = t_path(dir, "m");
    dm = t_path(dir, "d");
    ck_assert_int_eq(mkdir(m, 0755), 0);
    ck_assert_int_eq(mount("tmpfs", m, "tmpfs", 0, "mode=1777"), 0);
    mkfile(m, "kept", UID, UID, 02755);
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), 0);
    f = t_path(m, "kept");
    ck_assert_int_eq(lstat(f, &st), 0);
    free(f);
    ck_assert_int_eq(mkdir(dm, 0755), 0);
    ck_assert_int_eq(chown(dm, UID, UID), 0);
    f = t_path(dm, "m");
    ck_assert_int_eq(mkdir(f, 0755), 0);
    ck_assert_int_eq(mount("tmpfs", f, "tmpfs", 0, NULL), 0);
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), -EBUSY);
    ck_assert_ptr_nonnull(strstr(err, "/d/m: a mount inside a directory"));
    ck_assert_int_eq(umount(f), 0);
    ck_assert_int_eq(jit_scrub_dirs(&l, &sc, NULL, err, sizeof(err)), 0);
    ck_assert_int_ne(lstat(dm, &st), 0);
    umount(m);
    t_rmtree(dir);
    free(f);
    free(dm);
    free(m);
    free(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("scrub");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_remove_defuse_report);
    tcase_add_test(tc, test_swap_race);
    tcase_add_test(tc, test_mounts);
    suite_add_tcase(s, tc);
    return t_run(s);
}
