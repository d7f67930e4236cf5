/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/leftovers.h"
#include "core/validate.h"

/* execve wants char *const[]; the strings are never written. */
#define S(x) ((char *) (uintptr_t) (x))

struct ipc_obj {
    char kind; /* 'm' shm, 'q' msg, 's' sem */
    int id;
};

struct ipc_list {
    struct ipc_obj *v;
    size_t n, cap;
};

/* /proc/sysvipc/{shm,msg,sem}: one line per object; the id column and
 * the uid and cuid columns are found by name in the header.  The objects
 * uid owns or created are added to l. */
static int
ipc_scan(const char *what, uid_t uid, struct ipc_list *l)
{
    char path[64], line[1024];
    int idcol = -1, uidcol = -1, cuidcol = -1, ret = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/sysvipc/%s", what);
    if ((f = fopen(path, "re")) == NULL)
        return errno == ENOENT ? 0 : -errno;
    if (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *tok = strtok_r(line, " \t\n", &save);

        for (int c = 0; tok != NULL; c++, tok = strtok_r(NULL, " \t\n", &save)) {
            if ((strcmp(what, "shm") == 0 && strcmp(tok, "shmid") == 0)
                || (strcmp(what, "msg") == 0 && strcmp(tok, "msqid") == 0)
                || (strcmp(what, "sem") == 0 && strcmp(tok, "semid") == 0))
                idcol = c;
            else if (strcmp(tok, "uid") == 0)
                uidcol = c;
            else if (strcmp(tok, "cuid") == 0)
                cuidcol = c;
        }
    }
    while (idcol >= 0 && uidcol >= 0 && fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
        long id = -1, u = -1, cu = -1;

        for (int c = 0; tok != NULL; c++, tok = strtok_r(NULL, " \t\n", &save)) {
            if (c == idcol)
                id = strtol(tok, NULL, 10);
            else if (c == uidcol)
                u = strtol(tok, NULL, 10);
            else if (c == cuidcol)
                cu = strtol(tok, NULL, 10);
        }
        if (id < 0 || id > INT32_MAX || ((uid_t) u != uid && (uid_t) cu != uid))
            continue;
        if (l->n == l->cap) {
            size_t ncap = l->cap ? l->cap * 2 : 8;
            struct ipc_obj *nv = realloc(l->v, ncap * sizeof(*nv));

            if (nv == NULL) {
                ret = -ENOMEM;
                break;
            }
            l->v = nv;
            l->cap = ncap;
        }
        l->v[l->n].kind = what[1] == 'h' ? 'm' : what[1] == 's' ? 'q' : 's';
        l->v[l->n++].id = (int) id;
    }
    fclose(f);
    return ret;
}

int
jit_ipc_remove_uid(uid_t uid, gid_t gid)
{
    struct ipc_list l = { NULL, 0, 0 };
    pid_t pid;
    int ret, status;

    if (uid == 0)
        return -EPERM;
    if ((ret = ipc_scan("shm", uid, &l)) != 0
        || (ret = ipc_scan("msg", uid, &l)) != 0
        || (ret = ipc_scan("sem", uid, &l)) != 0 || l.n == 0)
        goto done;
    /* Removed by a child that has become uid: the owner or creator may
     * remove an object, so the reaper needs no CAP_SYS_ADMIN, and an id
     * reused by someone else meanwhile is out of its reach.  Only system
     * calls after the fork. */
    if ((pid = fork()) < 0) {
        ret = -errno;
        goto done;
    }
    if (pid == 0) {
        int failed = 0;

        /* As the killer does (teardown.c): no copy of the caller's
         * descriptors (the claim's among them, whatever its number) in a
         * child its uid may stop. */
        (void) close_range(0, ~0U, 0);
        if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0
            || setresuid(uid, uid, uid) != 0)
            _exit(3);
        for (size_t i = 0; i < l.n; i++) {
            int r = l.v[i].kind == 'm' ? shmctl(l.v[i].id, IPC_RMID, NULL)
                    : l.v[i].kind == 'q' ? msgctl(l.v[i].id, IPC_RMID, NULL)
                                         : semctl(l.v[i].id, 0, IPC_RMID);

            if (r != 0 && errno != EINVAL && errno != EIDRM)
                failed = 1;
        }
        _exit(failed ? 2 : 0);
    }
    /* Once it is the uid, that uid may stop it: a teardown must not wait
     * for it for ever.  Stopped, it is killed and this step fails (the
     * teardown is tried again later), as one it could not finish. */
    for (;;) {
        pid_t w = waitpid(pid, &status, WUNTRACED);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            ret = -errno;
            goto done;
        }
        if (!WIFSTOPPED(status))
            break;
        (void) kill(pid, SIGKILL);
    }
    ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;

done:
    free(l.v);
    return ret;
}

/* Unlink regular files in dir (not following symlinks) that uid owns, or
 * the one named `only`. */
static int
spool_clean(const char *dir, const char *only, uid_t uid)
{
    struct dirent *de;
    DIR *d;
    int fd, ret = 0;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return -errno;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        if (only != NULL && strcmp(de->d_name, only) != 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(st.st_mode))
            continue;
        if (only == NULL && st.st_uid != uid)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT
            && ret == 0)
            ret = -errno;
    }
    closedir(d);
    return ret;
}

int
jit_spool_remove(const char *name, uid_t uid, const char *crontabs,
                 const char *atjobs)
{
    int r1, r2;

    if (jit_name_problem(name) != NULL)
        return -EINVAL;
    r1 = spool_clean(crontabs ? crontabs : "/var/spool/cron/crontabs", name,
                     uid);
    r2 = spool_clean(atjobs ? atjobs : "/var/spool/cron/atjobs", NULL, uid);
    return r1 ? r1 : r2;
}

/* Run argv with an empty environment and stdio on /dev/null; wait. */
static void
run_quietly(char *const argv[])
{
    char *const envp[] = { NULL };
    pid_t pid;
    int status;

    if (access(argv[0], X_OK) != 0)
        return;
    if ((pid = fork()) < 0)
        return;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        /* Nothing of the caller's beyond these (jitctl daemon's relay
         * keeps connections; libcurl's own socketpair is not
         * close-on-exec).  Before Linux 5.9, one by one. */
        if (close_range(3, ~0U, 0) != 0) {
            long max = sysconf(_SC_OPEN_MAX);

            for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536);
                 fd++)
                (void) close(fd);
        }
        execve(argv[0], argv, envp);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

void
jit_nscd_invalidate(void)
{
    char *const pw[] = { S("/usr/sbin/nscd"), S("-i"), S("passwd"), NULL };
    char *const gr[] = { S("/usr/sbin/nscd"), S("-i"), S("group"), NULL };
    struct stat st;

    /* Only where nscd runs: its socket is there. */
    if (stat("/var/run/nscd/socket", &st) != 0 || !S_ISSOCK(st.st_mode))
        return;
    run_quietly(pw);
    run_quietly(gr);
}

static int
logind_runs(void)
{
    struct stat st;

    return stat("/run/systemd/seats", &st) == 0;
}

void
jit_logind_terminate(uid_t uid)
{
    char id[16];
    char *const argv[] = { S("/usr/bin/loginctl"), S("terminate-user"), id,
                           NULL };
    struct stat st;

    /* logind keeps a file per user it tracks: none, nothing to end, and
     * no loginctl to start (a reaper ending 1,000 accounts would pay for
     * 1,000 of them). */
    snprintf(id, sizeof(id), "%u", (unsigned) uid);
    if (!logind_runs())
        return;
    if (faccessat(AT_FDCWD, "/run/systemd/users", F_OK, 0) == 0) {
        char path[64];

        snprintf(path, sizeof(path), "/run/systemd/users/%s", id);
        if (lstat(path, &st) != 0 && errno == ENOENT)
            return;
    }
    run_quietly(argv);
}

int
jit_linger_disable(const char *name, uid_t uid)
{
    char id[16];
    char *const argv[] = { S("/usr/bin/loginctl"), S("disable-linger"), id,
                           NULL };
    struct stat st;
    int fd, ret = 0;

    if (jit_name_problem(name) != NULL)
        return -EINVAL;
    fd = open(JIT_LINGER_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ret = errno == ENOENT ? 0 : -errno;
        goto done;
    }
    /* logind, where it runs, hears of it at once (and stops keeping the
     * user's manager); the file is what it reads at every check and at
     * the next boot, so it goes in any case. */
    snprintf(id, sizeof(id), "%u", (unsigned) uid);
    if (logind_runs())
        run_quietly(argv);
    if (unlinkat(fd, name, 0) != 0 && errno != ENOENT)
        ret = -errno;

done:
    close(fd);
    return ret;
}
