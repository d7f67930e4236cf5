/* SPDX-License-Identifier: MIT */
/*
 * Through glibc and the real libnss_jit (run by nss-threads.sh inside a
 * private namespace): 16 threads resolve the accounts s0..s9 by name, by
 * uid and by getgrouplist while the snapshot is replaced, until the file
 * named by argv[1] appears.  Halfway (when argv[2] appears) the process
 * forks; the child must still resolve, including an account that was
 * added after the fork (argv[3]).  Prints "started" once the threads run
 * and "forked" from the child (the test waits on these lines, not on a
 * pause), then the number of wrong answers; exits non-zero if there were
 * any.
 */
#include "config.h"

#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 16
#define STABLE 10

static atomic_int stop, bad, lookups;
static uid_t uids[STABLE];
static gid_t users_gid;

static int
exists(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0;
}

static int
right(const struct passwd *pw, int k)
{
    char name[16], home[48];

    snprintf(name, sizeof(name), "s%d", k);
    snprintf(home, sizeof(home), "/home/jit/s%d", k);
    return strcmp(pw->pw_name, name) == 0 && pw->pw_uid == uids[k]
        && pw->pw_gid == uids[k] && strcmp(pw->pw_dir, home) == 0;
}

static void *
worker(void *arg)
{
    unsigned seed = (unsigned) (uintptr_t) arg;
    struct passwd pw, *res;
    char buf[1024], name[16];

    while (!atomic_load(&stop)) {
        int k = (int) (rand_r(&seed) % STABLE), ok = 0;

        snprintf(name, sizeof(name), "s%d", k);
        switch (rand_r(&seed) % 4) {
        case 0:
            ok = getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res
                && right(&pw, k);
            break;
        case 1:
            ok = getpwuid_r(uids[k], &pw, buf, sizeof(buf), &res) == 0 && res
                && right(&pw, k);
            break;
        case 2: {
            gid_t g[32];
            int n = 32;

            ok = getgrouplist(name, uids[k], g, &n) >= 0 && n == 2
                && g[0] == uids[k] && g[1] == users_gid;
            break;
        }
        default:
            /* The account that comes and goes: absent, or whole. */
            ok = getpwnam_r("flip", &pw, buf, sizeof(buf), &res) == 0
                && (res == NULL
                    || (strcmp(pw.pw_dir, "/home/jit/flip") == 0
                        && pw.pw_uid == pw.pw_gid));
            break;
        }
        if (!ok)
            atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&lookups, 1);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t t[THREADS];
    struct passwd *pw;
    struct group *gr;
    int forked = 0, status;

    if (argc != 4)
        return 2;
    for (int k = 0; k < STABLE; k++) {
        char name[16];

        snprintf(name, sizeof(name), "s%d", k);
        if ((pw = getpwnam(name)) == NULL) {
            fprintf(stderr, "%s does not resolve at the start\n", name);
            return 1;
        }
        uids[k] = pw->pw_uid;
    }
    if ((gr = getgrnam("users")) == NULL)
        return 1;
    users_gid = gr->gr_gid;
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *) (uintptr_t) (i + 1));
    printf("started\n");
    fflush(stdout);
    while (!exists(argv[1])) {
        if (!forked && exists(argv[2])) {
            pid_t pid = fork();

            forked = 1;
            if (pid == 0) {
                /* Only this thread lives on; the others' pins must not
                 * keep the child from seeing a new snapshot.  The test
                 * adds the account once it reads "forked": up to 30 s
                 * on a busy machine. */
                printf("forked\n");
                fflush(stdout);
                /* (a poll of the file: the pause is its interval) */
                for (int i = 0; i < 3000 && !exists(argv[3]); i++)
                    usleep(10000);
                pw = getpwnam("s3");
                if (pw == NULL || pw->pw_uid != uids[3])
                    _exit(3);
                _exit(getpwnam("late") ? 0 : 4);
            }
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "child after fork: status %d\n", status);
                atomic_fetch_add(&bad, 1000);
            }
        }
        usleep(10000); /* a poll of the files: the pause is its interval */
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("lookups=%d wrong=%d forked=%d\n", atomic_load(&lookups),
           atomic_load(&bad), forked);
    return atomic_load(&bad) == 0 && forked ? 0 : 1;
}
