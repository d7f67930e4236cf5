/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* ThreadSanitizer's runtime, like valgrind, cannot have a child that
 * shares the memory of a thread it tracks. */
#if defined(__SANITIZE_THREAD__)
#define KILLER_FORKS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KILLER_FORKS 1
#endif
#endif
#ifndef KILLER_FORKS
#define KILLER_FORKS 0
#endif

#include "core/clock.h"
#include "core/home.h"
#include "core/leftovers.h"
#include "core/scrub.h"
#include "core/teardown.h"
#include "core/under_valgrind.h"

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* File path of procfd, read whole into buf (JIT_PROC_STATUS_MAX + 1
 * bytes, NUL-terminated) and its length in *len: 0; 1 when longer than
 * JIT_PROC_STATUS_MAX; -ENOENT when its process is gone (also between
 * open and read); another -errno. */
static int
read_proc_file(int procfd, const char *path, char *buf, size_t *len)
{
    ssize_t r;
    int fd;

    *len = 0;
    if ((fd = openat(procfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
    while (*len < JIT_PROC_STATUS_MAX) {
        r = read(fd, buf + *len, JIT_PROC_STATUS_MAX - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;

            close(fd);
            return e == ESRCH ? -ENOENT : -e; /* (ESRCH: exited meanwhile) */
        }
        if (r == 0)
            break;
        *len += (size_t) r;
    }
    close(fd);
    if (*len == 0)
        return -ENOENT; /* exited between open and read */
    if (*len == JIT_PROC_STATUS_MAX)
        return 1;
    buf[*len] = '\0';
    return 0;
}

/* Of process name (its /proc entry, in procfd), from its status read
 * whole into buf (JIT_PROC_STATUS_MAX + 1 bytes): the real, effective
 * and saved uids, its state ('?' if not said) and how many threads its
 * group has (0 if not said).  0; 1 when it has no Uid line or is longer
 * than JIT_PROC_STATUS_MAX bytes (taken as the uid's by the caller, so
 * a teardown waits rather than passes a process unseen); -ENOENT when
 * it is gone; another -errno when it could not be read (out of
 * descriptors or memory, say): the caller fails, as a process it cannot
 * see may be the uid's. */
static int
proc_ids(int procfd, const char *name, char *buf, unsigned long ids[3],
         char *state, unsigned long *threads)
{
    const char *st, *u, *th;
    char path[300];
    size_t len;
    int r;

    snprintf(path, sizeof(path), "%s/status", name);
    if ((r = read_proc_file(procfd, path, buf, &len)) != 0)
        return r;
    st = strstr(buf, "\nState:");
    u = strstr(buf, "\nUid:");
    th = strstr(buf, "\nThreads:");
    if (u == NULL || sscanf(u + 5, "%lu %lu %lu", &ids[0], &ids[1], &ids[2])
                         != 3)
        return 1;
    if (st == NULL || sscanf(st + 7, " %c", state) != 1)
        *state = '?';
    if (th == NULL || sscanf(th + 9, "%lu", threads) != 1)
        *threads = 0;
    return 0;
}

int
jit_proc_dead(char state, unsigned long threads)
{
    return (state == 'Z' || state == 'X') && threads == 1;
}

/* Has a thread of these ids uid as its real, effective or saved uid? */
static int
ids_hold(const unsigned long ids[3], uid_t uid)
{
    return ids[0] == uid || ids[1] == uid || ids[2] == uid;
}

/* May a thread of these ids be ended from root as one of uid's?  What
 * kill(-1) from uid reaches (uid as real or saved uid), and what acts as
 * uid with no root id left to return to (setresuid(other, uid, other)
 * puts it beyond kill(-1)): root's own code acting as uid keeps root as
 * its real or saved uid, and is left alone. */
static int
ids_endable(const unsigned long ids[3], uid_t uid)
{
    return ids[0] == uid || ids[2] == uid
           || (ids[1] == uid && ids[0] != 0 && ids[2] != 0);
}

/* Up to this many threads of one process are looked at one by one; a
 * process of more counts as uid's (the teardown waits, fails, and is
 * tried again: it does not pass it unseen). */
#define JIT_PROC_THREADS_MAX 65536
/* How many listings of one process's threads a look makes at most before
 * it says it cannot tell. */
#define JIT_PROC_THREAD_ROUNDS 8

static int
long_cmp(const void *a, const void *b)
{
    long x = *(const long *) a, y = *(const long *) b;

    return (x > y) - (x < y);
}

/* A thread as one listing shows it: its tid, and the inode of its entry,
 * which a thread that took a tid read before (once pids wrapped) has
 * anew. */
struct thread_entry {
    long tid;
    unsigned long ino;
};

static int
thread_cmp(const void *a, const void *b)
{
    const struct thread_entry *x = a, *y = b;

    if (x->tid != y->tid)
        return (x->tid > y->tid) - (x->tid < y->tid);
    return (x->ino > y->ino) - (x->ino < y->ino);
}

/* The threads of the task directory d, listed now, in (*tid)[0..*n):
 * 0; 2 when there are more than JIT_PROC_THREADS_MAX; -ENOENT when the
 * process is gone; another -errno. */
static int
list_threads(DIR *d, struct thread_entry **tid, size_t *n, size_t *cap)
{
    struct dirent *de;

    *n = 0;
    rewinddir(d);
    for (;;) {
        errno = 0;
        if ((de = readdir(d)) == NULL)
            return errno == 0 ? 0 : errno == ESRCH ? -ENOENT : -errno;
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        if (*n == *cap) {
            struct thread_entry *more;

            if (*cap >= JIT_PROC_THREADS_MAX)
                return 2;
            *cap = *cap ? *cap * 2 : 64;
            if ((more = realloc(*tid, *cap * sizeof(**tid))) == NULL)
                return -ENOMEM;
            *tid = more;
        }
        (*tid)[*n].tid = strtol(de->d_name, NULL, 10);
        (*tid)[(*n)++].ino = (unsigned long) de->d_ino;
    }
}

/*
 * /proc/PID/status is its first thread's.  Each thread has credentials of
 * its own: one raw setresuid() changes its caller's alone.  So a process
 * that got uid (a set-user-id file of uid's, run by another user) can
 * give its first thread back to that user and keep uid in another
 * thread, unseen by the first thread's status and by kill(-1), which
 * judges a process by its first thread too.  So each thread of process
 * name, matched by match: 1 when one matches; 0 when none does; 2 when
 * that cannot be told; -ENOENT when the process is gone; another -errno
 * on failure.
 *
 * A thread of uid may keep replacing itself with a new one (which
 * inherits uid), each one gone, or dying, by the time it is read, and
 * its successor never where the listing looks.  So the threads are
 * listed and read newest first; a round that found one gone or dying, or
 * fewer listed than the first thread's count, lists them again and reads
 * those it has not read (and the first thread, which an exec replaces).
 * A thread read alive without uid cannot take it later but by an exec,
 * which ends every other thread.  A pool of short-lived threads settles
 * in a round or two; what has not after JIT_PROC_THREAD_ROUNDS cannot be
 * told (the look counts it as uid's: the teardown fails and is tried
 * again).  Only asked of a process of several threads whose first thread
 * is not root's alone: a thread gets another's ids only by being given
 * them, and what root's own code gives is root's affair (the kernel's
 * threads are such).
 */
static int
threads_match(int procfd, const char *name, char *buf, uid_t uid,
              int (*match)(const unsigned long ids[3], uid_t uid))
{
    struct thread_entry *tid = NULL, *seen = NULL;
    long first = strtol(name, NULL, 10);
    size_t n = 0, cap = 0, nseen = 0;
    char path[300];
    DIR *d = NULL;
    int fd = -1, ret = 0, unsure = 1;

    snprintf(path, sizeof(path), "%s/task", name);
    if ((fd = openat(procfd, path,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        ret = errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
        goto done;
    }
    if ((d = fdopendir(fd)) == NULL) {
        ret = -errno;
        goto done;
    }
    fd = -1; /* (d's now) */
    for (int round = 0; round < JIT_PROC_THREAD_ROUNDS && unsure; round++) {
        size_t before = nseen;
        struct thread_entry *more;

        if ((ret = list_threads(d, &tid, &n, &cap)) != 0)
            goto done;
        if ((more = realloc(seen, (nseen + n + 1) * sizeof(*seen))) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        seen = more;
        /* (the first listing never settles it: a thread read late in it
         * may have made a new one of uid, unlisted, and given uid up
         * before it was read, while a thread already read exited) */
        unsure = round == 0;
        for (size_t i = n; i-- > 0;) {
            unsigned long ids[3], threads;
            char tname[32], state;
            int r;

            if (tid[i].tid != first && before > 0
                && bsearch(&tid[i], seen, before, sizeof(*seen), thread_cmp))
                continue;
            seen[nseen++] = tid[i];
            snprintf(tname, sizeof(tname), "%ld", tid[i].tid);
            r = proc_ids(dirfd(d), tname, buf, ids, &state, &threads);
            if (r < 0 && r != -ENOENT) {
                ret = r;
                goto done;
            }
            if (r > 0) {
                ret = 2; /* (unread, it would not be read again) */
                goto done;
            }
            /* (the first thread may be a zombie while the others run) */
            if (r != 0
                || (tid[i].tid != first && (state == 'Z' || state == 'X'))) {
                unsure = 1;
                continue;
            }
            if (tid[i].tid == first && threads > n)
                unsure = 1;
            if (match(ids, uid) && state != 'Z' && state != 'X') {
                ret = 1;
                goto done;
            }
        }
        qsort(seen, nseen, sizeof(*seen), thread_cmp);
    }
    ret = unsure ? 2 : 0;

done:
    if (d != NULL)
        closedir(d);
    if (fd >= 0)
        close(fd);
    free(tid);
    free(seen);
    return ret;
}

/* May a thread other than the first of a process whose first thread has
 * ids, of threads threads, have another's ids?  See threads_match. */
static int
threads_to_read(const unsigned long ids[3], unsigned long threads)
{
    return threads > 1 && (ids[0] != 0 || ids[1] != 0 || ids[2] != 0);
}

/* PF_KTHREAD of include/linux/sched.h, in the flags of /proc/PID/stat:
 * set by the kernel on its own threads alone. */
#define JIT_PF_KTHREAD 0x00200000UL

/* Pids, sorted. */
struct pid_set {
    long *pid;
    size_t n;
};

static int
pid_set_has(const struct pid_set *k, long pid)
{
    return k->n > 0
           && bsearch(&pid, k->pid, k->n, sizeof(long), long_cmp) != NULL;
}

/*
 * The children of the kernel's thread maker, kthreadd (pid 2), now, in
 * *k: the kernel's own threads, most of /proc on any host (56 of 64 here,
 * several per CPU), and the kernel's user-mode helpers (root's programs,
 * as modprobe).  Empty when pid 2 is not kthreadd (a /proc of another
 * pid namespace, where it is a process like any other) or the list is
 * too long to read.  0 or -errno.
 */
static int
kthreadd_children(int procfd, char *buf, struct pid_set *k)
{
    unsigned long flags;
    const char *p;
    size_t len, cap = 0;
    char *end;
    int r;

    free(k->pid);
    k->pid = NULL;
    k->n = 0;
    if ((r = read_proc_file(procfd, "2/stat", buf, &len)) != 0)
        return r == -ENOENT || r > 0 ? 0 : r;
    /* (after the name, which may hold anything: its last ')') */
    if ((p = strrchr(buf, ')')) == NULL
        || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1
        || !(flags & JIT_PF_KTHREAD))
        return 0;
    if ((r = read_proc_file(procfd, "2/task/2/children", buf, &len)) != 0)
        return r == -ENOENT || r > 0 ? 0 : r;
    for (p = buf; *p != '\0'; p++)
        cap += *p == ' ';
    if ((k->pid = malloc((cap + 1) * sizeof(long))) == NULL)
        return -ENOMEM;
    for (p = buf;;) {
        long pid = strtol(p, &end, 10);

        if (end == p || k->n > cap)
            break;
        k->pid[k->n++] = pid;
        p = end;
    }
    qsort(k->pid, k->n, sizeof(long), long_cmp);
    return 0;
}

/* Is process name (pid) one of the kernel's threads, as far as one
 * lookup tells: a child of kthreadd's (in k) with no program link (a
 * helper that has run its program has one; a zombie first thread has
 * none either).  Confirmed or not after the look: see
 * jit_uid_has_processes. */
static int
kernel_thread_now(int procfd, const char *name, long pid,
                  const struct pid_set *k)
{
    char path[300], target[16];

    if (!pid_set_has(k, pid))
        return 0;
    snprintf(path, sizeof(path), "%s/exe", name);
    return readlinkat(procfd, path, target, sizeof(target)) < 0
           && errno == ENOENT;
}

/* Has process name a live thread with uid as real, effective or saved
 * uid?  1 (also when it cannot be read whole), 0 (also when it is gone),
 * or -errno when it could not be read. */
static int
process_has_uid(int procfd, const char *name, char *buf, uid_t uid,
                int each_thread)
{
    unsigned long ids[3], threads;
    char state;
    int r;

    r = proc_ids(procfd, name, buf, ids, &state, &threads);
    if (r != 0)
        return r == -ENOENT ? 0 : r > 0 ? 1 : r;
    if (ids_hold(ids, uid) && !jit_proc_dead(state, threads))
        return 1;
    if (!each_thread || !threads_to_read(ids, threads))
        return 0;
    r = threads_match(procfd, name, buf, uid, ids_hold);
    return r == -ENOENT ? 0 : r > 0 ? 1 : r;
}

/*
 * Does any live process have uid as its real, effective or saved uid?
 * kill(-1, 0) cannot answer this: Linux reports success as soon as any
 * other process exists, signalled or not.  1, 0, or -errno when /proc
 * could not be read whole.
 *
 * Reading a process's status costs three system calls and the kernel's
 * formatting of it, about 7 us here; the kernel's own threads are most
 * of /proc and cannot be the uid's.  Which ones they are is read once,
 * as kthreadd's children, before the walk (and each one's lack of a
 * program checked when the walk reaches it), and once more after it: a
 * pid skipped is one the list holds at both ends.  A process of uid that
 * holds its pid from the walk's pass to the end is not kthreadd's child,
 * so that pid cannot be in the second list; one that held it and exited
 * meanwhile is gone.  A pid left out of the second list is read then.
 * Trusted: kthreadd's children that are not kernel threads are the
 * helpers the kernel starts (core dump pipes, release agents, modprobe)
 * and their CLONE_PARENT children, root's programs (doc/design.md, F1).
 * Without CAP_SYS_PTRACE no program link can be read, and nothing is
 * skipped.
 */
static int
look(uid_t uid, int each_thread)
{
    struct pid_set before = { NULL, 0 }, after = { NULL, 0 };
    long *skipped = NULL;
    size_t nskipped = 0;
    struct dirent *de;
    DIR *d = NULL;
    char *buf = malloc(JIT_PROC_STATUS_MAX + 1);
    int found = 0;

    if (buf == NULL) {
        found = -ENOMEM;
        goto done;
    }
    if ((d = opendir("/proc")) == NULL) {
        found = -errno;
        goto done;
    }
    if ((found = kthreadd_children(dirfd(d), buf, &before)) != 0)
        goto done;
    if (before.n > 0
        && (skipped = malloc(before.n * sizeof(long))) == NULL) {
        found = -ENOMEM;
        goto done;
    }
    for (;;) {
        long pid;

        errno = 0;
        if ((de = readdir(d)) == NULL) {
            if (errno != 0)
                found = -errno;
            break;
        }
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        pid = strtol(de->d_name, NULL, 10);
        if (nskipped < before.n
            && kernel_thread_now(dirfd(d), de->d_name, pid, &before)) {
            skipped[nskipped++] = pid;
            continue;
        }
        if ((found = process_has_uid(dirfd(d), de->d_name, buf, uid,
                                     each_thread)) != 0)
            break;
    }
    if (found != 0 || nskipped == 0)
        goto done;
    if ((found = kthreadd_children(dirfd(d), buf, &after)) != 0)
        goto done;
    for (size_t i = 0; i < nskipped && found == 0; i++) {
        char name[32];

        if (pid_set_has(&after, skipped[i]))
            continue;
        snprintf(name, sizeof(name), "%ld", skipped[i]);
        found = process_has_uid(dirfd(d), name, buf, uid, each_thread);
    }

done:
    if (d != NULL)
        closedir(d);
    free(before.pid);
    free(after.pid);
    free(skipped);
    free(buf);
    return found;
}

int
jit_uid_has_processes(uid_t uid)
{
    return look(uid, 1);
}

/*
 * sig from here (root) to each process with a thread that may be ended
 * as uid's (ids_endable): in its first thread (what the child's kill(-1)
 * reaches, and what acts as uid with no root id) or in another (which
 * kill(-1) cannot reach), and never a process of root's acting as uid.
 * Each through a pidfd taken before its credentials are read, so that a
 * pid reused meanwhile is never signalled.  Not one atomic act as kill(-1) is: a
 * process forked during the scan is found by the caller's next scan.
 */
static int
signal_from_root(uid_t uid, int sig)
{
    struct dirent *de;
    DIR *d = NULL;
    char *buf = malloc(JIT_PROC_STATUS_MAX + 1);
    int ret = 0;

    if (buf == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    if ((d = opendir("/proc")) == NULL) {
        ret = -errno;
        goto done;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long ids[3], threads;
        char state, *end;
        long pid;
        int pidfd;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 1 || pid == (long) getpid()
            || (pidfd = pidfd_open((pid_t) pid, 0)) < 0)
            continue;
        if (proc_ids(dirfd(d), de->d_name, buf, ids, &state, &threads) == 0
            && (ids_endable(ids, uid)
                || (threads_to_read(ids, threads)
                    && threads_match(dirfd(d), de->d_name, buf, uid,
                                     ids_endable)
                           == 1)))
            (void) pidfd_send_signal(pidfd, sig, NULL, 0);
        close(pidfd);
    }

done:
    if (d != NULL)
        closedir(d);
    free(buf);
    return ret;
}

/* The raw system calls, 32-bit ids where the architecture has both. */
#ifdef SYS_setresuid32
#define SYS_SETRESUID SYS_setresuid32
#define SYS_SETRESGID SYS_setresgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETRESUID SYS_setresuid
#define SYS_SETRESGID SYS_setresgid
#define SYS_SETGROUPS SYS_setgroups
#endif

#define KILLER_STACK (64 * 1024)

/* Shared with the child (one mapping, MAP_SHARED: the child under
 * valgrind is a copy, and writes its answer here all the same), its
 * stack above it. */
struct killer {
    uid_t uid;
    gid_t gid;
    int sig;
    int result; /* 0; 2: kill failed; 3: could not become the uid */
};

/* The child that becomes the uid.  It shares its parent's memory (a copy
 * of a login's address space cost 7 ms a teardown in the benchmark): raw
 * system calls only, no library state touched, every signal blocked (the
 * parent's handlers never run here); once it is the uid, its memory is
 * not dumpable, so no process of the uid may read or write it. */
__attribute__((no_sanitize("address", "thread", "undefined"))) static int
killer(void *arg)
{
    struct killer *k = arg;

    /* Its own table of descriptors, a copy of the caller's: all closed
     * while it is root (it needs none), since once it is the uid that
     * uid may stop it, and a stopped copy of the descriptor of the
     * teardown's claim (design F9), whatever its number, would keep the
     * claim held after its holder died.  (Before Linux 5.9 it fails, and
     * the copy stays for the child's short life.) */
    (void) syscall(SYS_close_range, 0U, ~0U, 0U);
    if (syscall(SYS_SETGROUPS, 0, NULL) != 0
        || syscall(SYS_SETRESGID, k->gid, k->gid, k->gid) != 0
        || syscall(SYS_SETRESUID, k->uid, k->uid, k->uid) != 0)
        k->result = 3;
    else
        k->result = syscall(SYS_kill, -1, k->sig) == 0 || errno == ESRCH
                        ? 0 : 2;
    return k->result;
}

/* Send sig to every process of uid from a child that has become uid:
 * kill(-1) there reaches exactly what that uid may signal.  Once it is
 * uid, the uid's own processes may signal it too: one that stops or
 * kills it (a loop of kill(-1, SIGSTOP)) must not hang or defeat the
 * teardown, so the child goes and the signal is sent from here. */
int
jit_signal_uid(uid_t uid, gid_t gid, int sig)
{
    struct killer *k;
    sigset_t all, old;
    void *map;
    pid_t pid, w;
    int status, ret;

    if (uid == 0)
        return -EPERM;
    map = mmap(NULL, KILLER_STACK, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    k = map;
    k->uid = uid;
    k->gid = gid;
    k->sig = sig;
    k->result = -1;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* (valgrind runs no such child, and stops the program at it: under
     * valgrind, and ThreadSanitizer, a copy, as fork makes) */
    if (KILLER_FORKS || RUNNING_ON_VALGRIND) {
        if ((pid = fork()) == 0)
            _exit(killer(k));
    } else
        pid = clone(killer, (char *) map + KILLER_STACK, CLONE_VM | SIGCHLD,
                    k);
    ret = pid < 0 ? -errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        goto done;
    while ((w = waitpid(pid, &status, WUNTRACED)) != pid)
        if (w < 0 && errno != EINTR) {
            /* Not known to be gone: its stack is left to it. */
            map = NULL;
            ret = -errno;
            goto done;
        }
    if (WIFSTOPPED(status)) {
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        ret = signal_from_root(uid, sig);
    } else if (WIFSIGNALED(status))
        ret = signal_from_root(uid, sig);
    else
        /* (its answer, not its exit status: under valgrind that says
         * what valgrind found in the copy) */
        ret = k->result == 0 ? 0 : -EPERM;

done:
    if (map != NULL)
        munmap(map, KILLER_STACK);
    return ret;
}

/* May any thread of a process seen here have uid as its real uid?
 * getpriority(PRIO_USER) reads the real uid of each thread of every
 * process of this pid namespace in one system call (about 1 us here,
 * where a look at /proc costs 300 to 900 us), and says ESRCH only when
 * none has it.  Any other answer, an error included, says maybe. */
static int
real_uid_thread(uid_t uid)
{
    errno = 0;
    return getpriority(PRIO_USER, uid) != -1 || errno != ESRCH;
}

int
jit_kill_uid(uid_t uid, gid_t gid, unsigned grace_ms, unsigned deadline_ms)
{
    /* Time as the clock has it, not as the sum of the pauses: on a busy
     * machine each pause and each /proc scan overruns, and counted pauses
     * once made the 5 s deadline 13 s. */
    int64_t start = jit_mono_ms(), waited = 0, last_kill = -1;
    int ret, sig = SIGTERM, swept = 0, skip_look;

    if (uid == 0)
        return -EPERM;
    /* The first look only decides whether the uid's processes get a TERM
     * and its grace before the KILL; what the teardown passes on is the
     * look after the last KILL.  With no thread of uid as its real uid,
     * that first look could find only another user's process that has uid
     * as its effective or saved uid (a set-user-id file of the account's):
     * it is skipped, which spares the usual logout, with nothing left, a
     * look.  Such a process with uid as its saved uid gets the last KILL
     * without a TERM; one with uid as its effective uid alone, which that
     * KILL cannot reach, is found by the look after it and gets its TERM
     * and grace then. */
    skip_look = !real_uid_thread(uid);
    for (;;) {
        /* (each thread of another user's processes is read only by the
         * look after the last KILL, the one a teardown passes on: a
         * thread of uid there missed before is found then, and ended) */
        if (skip_look)
            skip_look = ret = 0;
        else if ((ret = look(uid, swept)) < 0)
            return ret;
        if (ret == 0) {
            /* Nothing live seen.  A look at /proc is not one atomic act:
             * a process that forks and exits as it goes (its child under
             * a pid already passed, once pids have wrapped), or that keeps
             * replacing its first thread, can be missed by it.  So a last
             * KILL from the uid, whose kill(-1) is atomic and reaches
             * every process of its real or saved uid whatever /proc
             * showed, and the look once more (for what that cannot reach:
             * root's processes acting as the uid).  A process killed runs
             * no more user code.  (One fork per teardown.) */
            if (swept)
                return 0;
            if ((ret = jit_signal_uid(uid, gid, SIGKILL)) != 0)
                return ret;
            swept = 1;
            continue;
        }
        swept = 0;
        waited = jit_mono_ms() - start;
        if (waited >= (int64_t) deadline_ms)
            return -ETIMEDOUT;
        if (sig == SIGTERM && waited >= (int64_t) grace_ms) {
            sig = SIGKILL;
            last_kill = -1;
        }
        /* TERM once; after the grace, KILL, repeated for whatever was
         * forked meanwhile. */
        if (last_kill < 0 || (sig == SIGKILL && waited - last_kill >= 100)) {
            /* (and from here, for the processes that keep uid in a
             * thread other than the first, which kill(-1) passes by) */
            if ((ret = jit_signal_uid(uid, gid, sig)) != 0
                || (ret = signal_from_root(uid, sig)) != 0)
                return ret;
            last_kill = waited;
        }
        sleep_ms(10);
    }
}

static void
audit_account(const struct jit_log *log, int prio, const char *event,
              const char *result, const char *reason,
              const struct jit_account *a)
{
    struct jit_audit au = {
        .event = event, .result = result, .reason = reason, .user = a->name,
        .requester = a->requester, .credential = a->credential,
        .grant = a->grant_id, .expires = a->expires,
    };

    jit_audit(log, prio, &au);
}

/* The event's detail object; NULL (no detail) if it cannot be built. */
static char *
json_detail(const char *cause, const char *error, uint32_t uid)
{
    json_t *o = json_pack("{s:s, s:I}", "cause", cause, "uid",
                          (json_int_t) uid);
    char *text = NULL;

    if (o != NULL && error != NULL)
        json_object_set_new(o, "error", json_string(error));
    if (o != NULL)
        text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Mark the accounts tearing_down, in one transaction: from then on
 * pam_jit refuses them and no second reaper takes them.  The caller may
 * have done this in its own transaction already. */
static int
mark_tearing_down(struct jit_store *s, const struct jit_account *a, size_t n,
                  int *skip, int *gone, uint32_t *claimed, size_t *nclaimed)
{
    size_t first = *nclaimed;
    int ret, any = 0;

    for (size_t i = 0; i < n && !any; i++)
        any = !skip[i] && a[i].state != JIT_ACCOUNT_TEARING_DOWN;
    if (!any)
        return 0;
    if ((ret = jit_store_begin(s)) != 0)
        return ret;
    /* Whoever marks claims in the same transaction (doc/design.md, F9):
     * a process that reads the mark knows its marker holds the claim. */
    for (size_t i = 0; i < n; i++) {
        struct jit_account cur = { 0 };

        if (skip[i] || a[i].state == JIT_ACCOUNT_TEARING_DOWN)
            continue;
        /* Deleted since it was read, or its name given to a new account
         * since: another teardown finished it, the new one is not this
         * teardown's, and the others go on. */
        ret = jit_store_get_account(s, a[i].name, &cur);
        if (ret == -ENOENT || (ret == 0 && cur.uid != a[i].uid)) {
            jit_account_free(&cur);
            skip[i] = gone[i] = 1;
            ret = 0;
            continue;
        }
        /* (marked meanwhile: its marker holds the claim) */
        if (ret == 0 && cur.state == JIT_ACCOUNT_TEARING_DOWN) {
            jit_account_free(&cur);
            continue;
        }
        jit_account_free(&cur);
        if (ret != 0)
            break;
        if (jit_store_claim_uid(s, a[i].uid) == 0)
            claimed[(*nclaimed)++] = a[i].uid;
        if ((ret = jit_store_set_state(s, a[i].name,
                                       JIT_ACCOUNT_TEARING_DOWN)) != 0)
            break;
    }
    if (ret == 0)
        ret = jit_store_commit(s);
    jit_store_rollback(s); /* nothing if committed */
    if (ret != 0) {
        for (size_t k = first; k < *nclaimed; k++)
            jit_store_release_uid(s, claimed[k]);
        *nclaimed = first;
    }
    return ret;
}

/* The host side, in order; the first step that fails stops them, with
 * err saying why.  The account row stays, so a failure is retried. */
static int
host_steps(const struct jit_conf *conf, const struct jit_account *a,
           const struct jit_log *log, int64_t now, char *err, size_t errlen)
{
    struct jit_scrub sc = {
        .uid = a->uid, .gid = a->gid, .gids = a->gids, .n_gids = a->n_groups,
        .user = a->name, .skip_dir = conf->home_base,
    };
    char suffix[64], why[400];
    int ret;

    /* Lingering first: a user manager kept by it would start the uid's
     * services again after the processes are ended. */
    if ((ret = jit_linger_disable(a->name, a->uid)) != 0) {
        snprintf(err, errlen, "lingering of %s: %s", a->name,
                 strerror(-ret));
        return ret;
    }
    /* The name still resolves, so tools show whose processes end.  logind
     * first (it ends sessions and their scopes), then the signals prove
     * that nothing of the uid is left. */
    jit_logind_terminate(a->uid);
    if ((ret = jit_kill_uid(a->uid, a->gid, 2000, 5000)) != 0) {
        snprintf(err, errlen, "processes of uid %u: %s", a->uid,
                 ret == -ETIMEDOUT ? "still running" : strerror(-ret));
        return ret;
    }
    if ((ret = jit_ipc_remove_uid(a->uid, a->gid)) != 0) {
        snprintf(err, errlen, "SysV IPC of uid %u: %s", a->uid,
                 strerror(-ret));
        return ret;
    }
    if ((ret = jit_spool_remove(a->name, a->uid, NULL, NULL)) != 0) {
        snprintf(err, errlen, "cron/at spool of %s: %s", a->name,
                 strerror(-ret));
        return ret;
    }
    /* With no process left, nothing of the uid changes in the shared
     * directories while they are walked; what it left there goes before
     * the uid can be anyone else's. */
    if ((ret = jit_scrub_dirs(&conf->scrub_dirs, &sc, log, why,
                              sizeof(why))) != 0) {
        snprintf(err, errlen, "scrub of uid %u: %s", a->uid, why);
        return ret;
    }
    switch (conf->home_policy) {
    case JIT_HOME_REMOVE:
        return jit_home_remove(conf->home_base, a->name, err, errlen);
    case JIT_HOME_ARCHIVE:
        snprintf(suffix, sizeof(suffix), "%lld.%u", (long long) now, a->uid);
        return jit_home_archive(conf->home_base, a->name, conf->state_dir,
                                suffix, err, errlen);
    default:
        return 0;
    }
}

int64_t
jit_teardown_retry_at(int64_t now, int failures)
{
    return jit_backoff(now, failures, JIT_TEARDOWN_RETRY_MIN,
                       JIT_TEARDOWN_RETRY_MAX);
}

/* Left in disable_failed, visible in jitctl list, with an event; the
 * reaper retries it. */
static int
record_failure(struct jit_store *s, const struct jit_log *log,
               const struct jit_account *a, const char *cause,
               const char *err, int64_t now)
{
    char *detail = json_detail(cause, err, a->uid);
    int ret;

    audit_account(log, LOG_ERR, "account.disable_failed", "fail", cause, a);
    jit_logf(log, LOG_ERR, "teardown of %s: %s", a->name, err);
    if ((ret = jit_store_begin(s)) != 0
        || (ret = jit_store_teardown_failed(
                s, a->name, jit_teardown_retry_at(now, a->failures))) != 0
        || (ret = jit_store_add_event(s, "account.disable_failed",
                                      a->grant_id, a->name, a->requester,
                                      detail, now)) != 0
        || (ret = jit_store_commit(s)) != 0)
        jit_store_rollback(s);
    free(detail);
    /* -ESTALE: committed, only its snapshot not published */
    if (ret == -ESTALE)
        jit_logf(log, LOG_WARNING, "teardown of %s: %s", a->name,
                 jit_store_error(s));
    return ret == -ESTALE ? 0 : ret;
}

/* Delete the rows of accounts whose host side is done, with their
 * account.deleted events, in one transaction: one snapshot for the lot,
 * not one per account.  A row already gone was deleted by a teardown
 * running beside this one (a logout's, or a reaper's resuming it), which
 * recorded its event: gone[k] says so, and the others go on. */
static int
delete_rows(struct jit_store *s, const struct jit_account *a,
            const struct jit_teardown_item *v, const size_t *idx, size_t n,
            int64_t now, char *gone)
{
    int ret;

    if ((ret = jit_store_begin(s)) != 0)
        return ret;
    for (size_t k = 0; k < n && ret == 0; k++) {
        const struct jit_account *x = &a[idx[k]];
        char *detail = NULL;

        gone[k] = 0;
        if ((ret = jit_store_delete_account(s, x->name, now)) == -ENOENT) {
            gone[k] = 1;
            ret = 0;
            continue;
        }
        detail = json_detail(v[idx[k]].cause, NULL, x->uid);
        if (ret == 0)
            ret = jit_store_add_event(s, "account.deleted", x->grant_id,
                                      x->name, x->requester, detail, now);
        free(detail);
    }
    if (ret == 0)
        ret = jit_store_commit(s);
    jit_store_rollback(s); /* nothing if committed */
    return ret;
}

/* Deletions wait for company at most this long (and this many), so a
 * mass expiry re-derives the snapshot a few times, not once per account,
 * while a name still goes from NSS soon after its home. */
#define SETTLE_MAX 256
#define SETTLE_MS 200

/* An item's -ENOENT says that another process tore the account down
 * (teardown.h); a step that failed with ENOENT is a failure like any. */
#define TORN_DOWN_ELSEWHERE "torn down by another process meanwhile"

static int
failure(int r)
{
    return r == -ENOENT ? -EIO : r;
}

/* Settle pend[0..np): the rows go, or, if the store refuses, each is left
 * for a retry. */
static void
settle(struct jit_store *s, const struct jit_log *log,
       const struct jit_account *a, struct jit_teardown_item *v,
       const size_t *pend, size_t np, int64_t now)
{
    char err[512], gone[SETTLE_MAX];
    int ret;

    if (np == 0)
        return;
    ret = delete_rows(s, a, v, pend, np, now, gone);
    /* -ESTALE: deleted, their events recorded, and only the snapshot not
     * published: NSS shows them as they were marked (not live) until the
     * next commit or open of the store derives it again.  A success, or
     * the audit would say a failure of accounts that are gone. */
    if (ret == -ESTALE) {
        jit_logf(log, LOG_WARNING, "teardown: %s", jit_store_error(s));
        ret = 0;
    }
    if (ret == 0) {
        jit_nscd_invalidate(); /* or it may answer for the names a while */
        for (size_t k = 0; k < np; k++) {
            v[pend[k]].result = 0;
            if (!gone[k])
                audit_account(log, LOG_NOTICE, "account.deleted", "ok",
                              v[pend[k]].cause, &a[pend[k]]);
        }
        return;
    }
    snprintf(err, sizeof(err), "store: %s", jit_store_error(s));
    for (size_t k = 0; k < np; k++) {
        v[pend[k]].result = failure(ret);
        snprintf(v[pend[k]].error, sizeof(v[pend[k]].error), "%s", err);
        v[pend[k]].recorded = record_failure(s, log, &a[pend[k]],
                                             v[pend[k]].cause, err, now) == 0;
    }
}

int
jit_teardown_batch(struct jit_store *s, const struct jit_conf *conf,
                   struct jit_teardown_item *v, size_t n,
                   const struct jit_log *log, int64_t now)
{
    struct jit_account *a = calloc(n ? n : 1, sizeof(*a));
    size_t *pend = calloc(n ? n : 1, sizeof(*pend));
    int *skip = calloc(n ? n : 1, sizeof(*skip));
    int *gone = calloc(n ? n : 1, sizeof(*gone));
    /* (each uid at most twice: claimed when marked, and again after) */
    uint32_t *claimed = calloc(n ? 2 * n : 1, sizeof(*claimed));
    size_t nclaimed = 0;
    char err[512];
    size_t np = 0;
    int64_t first = 0;
    int ret = 0, r;

    if (a == NULL || pend == NULL || skip == NULL || gone == NULL
        || claimed == NULL) {
        ret = -ENOMEM;
        for (size_t i = 0; i < n; i++)
            v[i].result = ret;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if ((v[i].result = jit_store_get_account(s, v[i].name, &a[i]))
            != 0) {
            skip[i] = 1; /* gone meanwhile, or unreadable */
            snprintf(v[i].error, sizeof(v[i].error), "%s%s",
                     v[i].result == -ENOENT ? "" : "store: ",
                     v[i].result == -ENOENT ? TORN_DOWN_ELSEWHERE
                                            : jit_store_error(s));
        }
    r = mark_tearing_down(s, a, n, skip, gone, claimed, &nclaimed);
    for (size_t i = 0; i < n; i++)
        if (gone[i]) {
            v[i].result = -ENOENT;
            snprintf(v[i].error, sizeof(v[i].error), TORN_DOWN_ELSEWHERE);
        }
    if (r != 0) {
        snprintf(err, sizeof(err), "store: %s", jit_store_error(s));
        for (size_t i = 0; i < n; i++)
            if (!skip[i]) {
                v[i].result = failure(r);
                snprintf(v[i].error, sizeof(v[i].error), "%s", err);
                skip[i] = 1;
                v[i].recorded = record_failure(s, log, &a[i], v[i].cause,
                                               err, now) == 0;
            }
    }
    /* Marked, whoever tears it down: from here on pam_jit refuses it and
     * NSS shows it disabled.  Then one teardown of an account at a time
     * (doc/design.md, F9): this one only where it holds the claim on the
     * uid; another process's teardown in progress is left to it, and one
     * whose process died (its claim gone with it) is taken up. */
    for (size_t i = 0; i < n; i++) {
        uint32_t uid;

        if (skip[i])
            continue;
        uid = a[i].uid;
        if ((r = jit_store_claim_uid(s, uid)) != 0) {
            skip[i] = 1;
            v[i].result = r;
            if (r == -EALREADY) {
                snprintf(v[i].error, sizeof(v[i].error), "another process "
                         "is tearing it down");
                jit_logf(log, LOG_DEBUG, "teardown of %s (%s): another "
                         "process is tearing it down; left to it",
                         a[i].name, v[i].cause);
            } else {
                v[i].result = failure(r);
                snprintf(v[i].error, sizeof(v[i].error), "store: %s",
                         jit_store_error(s));
            }
            continue;
        }
        claimed[nclaimed++] = uid;
        /* Read again under the claim: a teardown that held it may have
         * finished meanwhile. */
        jit_account_free(&a[i]);
        if ((v[i].result = jit_store_get_account(s, v[i].name, &a[i])) != 0
            || a[i].uid != uid) {
            /* (another uid: the holder finished it and the name went to
             * a new account, which is not this teardown's) */
            if (v[i].result == 0)
                v[i].result = -ENOENT;
            skip[i] = 1;
            /* (-ENOENT: the holder finished it, its teardown audited) */
            snprintf(v[i].error, sizeof(v[i].error), "%s%s",
                     v[i].result == -ENOENT ? "" : "store: ",
                     v[i].result == -ENOENT ? TORN_DOWN_ELSEWHERE
                                            : jit_store_error(s));
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (skip[i])
            continue;
        err[0] = '\0';
        if ((r = host_steps(conf, &a[i], log, now, err, sizeof(err))) != 0) {
            v[i].result = failure(r);
            snprintf(v[i].error, sizeof(v[i].error), "%s", err);
            v[i].recorded = record_failure(s, log, &a[i], v[i].cause, err,
                                           now) == 0;
            continue;
        }
        if (np == 0)
            first = jit_mono_ms();
        pend[np++] = i;
        if (np >= SETTLE_MAX || jit_mono_ms() - first >= SETTLE_MS) {
            settle(s, log, a, v, pend, np, now);
            np = 0;
        }
    }
    settle(s, log, a, v, pend, np, now);
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = v[i].result;

done:
    for (size_t i = 0; i < nclaimed; i++)
        jit_store_release_uid(s, claimed[i]);
    for (size_t i = 0; a != NULL && i < n; i++)
        jit_account_free(&a[i]);
    free(a);
    free(pend);
    free(skip);
    free(gone);
    free(claimed);
    return ret;
}

int
jit_teardown(struct jit_store *s, const struct jit_conf *conf,
             const char *name, const char *cause, const struct jit_log *log,
             int64_t now)
{
    struct jit_teardown_item it = { .name = name, .cause = cause };

    return jit_teardown_batch(s, conf, &it, 1, log, now);
}
