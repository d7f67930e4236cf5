/* SPDX-License-Identifier: MIT */
/*
 * One login through the real libpam, without pam_wrapper: pam_wrapper
 * gives each process a config copy in one of 36 fixed /tmp/pam.X
 * directories, found by lstat and then mkdir, so processes at once (50
 * logins, or tests run in parallel) share or run out of them.
 * pam_start_confdir reads the test's own pam.d directly.
 *
 *   pam-run CONFDIR SERVICE USER OP...   (OP: authenticate, setcred,
 *                                         acct_mgmt, open_session,
 *                                         close_session, run:COMMAND)
 *
 * Prints "pam-run: OP: <pam_strerror>" per step; exit 0 if every step
 * succeeded (PAM_IGNORE counts as success, as in a stack), 1 otherwise.
 * PAM_RHOST is 192.0.2.7 and PAM_TTY "ssh", as sshd would set them.
 * run:COMMAND runs /bin/sh -c COMMAND as USER (its groups by initgroups,
 * an empty environment but PATH) in this process's namespaces, as a session's
 * shell would between open_session and close_session (pam_namespace acts
 * on the calling process); "pam-run: run: exit N" follows.
 * root:COMMAND runs it as root likewise (a file swapped between steps);
 * restart ends the handle and starts another in this process, as a
 * long-running service does for its next login.  With PAM_RUN_ALL set, a
 * failed step does not stop the ones after it (the exit status is still
 * 1).  With PAM_RUN_TIMES set, also "pam-run: time: OP <microseconds>": the
 * step alone, without the namespace set up around it (the latency
 * comparison of doc/design.md, threat G4; that setup's jitter on a busy
 * machine drowns milliseconds).
 */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The whole file, NUL-terminated (a password of any length, as a
 * conversation could hand back); NULL if it cannot be read. */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 0, cap = 0, got;

    if (f == NULL)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = (len + 4096 + 1) * 2);

            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, 4096, f);
        len += got;
    } while (got > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Messages are printed, one per line, as a terminal would show them.
 * An echo-off prompt is answered with the contents of the file
 * PAM_RUN_PASSWORD_FILE (exactly, no newline added or taken) and shown
 * as "pam-run: prompt: TEXT"; without that file, and for any other
 * prompt, the conversation fails. */
static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
     void *data)
{
    const char *pwfile = getenv("PAM_RUN_PASSWORD_FILE");
    struct pam_response *r;

    (void) data;
    *resp = NULL;
    if ((r = calloc((size_t) n, sizeof(*r))) == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && pwfile != NULL) {
            printf("pam-run: prompt: %s\n", msg[i]->msg ? msg[i]->msg : "");
            if ((r[i].resp = slurp(pwfile)) != NULL)
                continue;
        } else if (msg[i]->msg_style == PAM_ERROR_MSG
                   || msg[i]->msg_style == PAM_TEXT_INFO) {
            printf("%s\n", msg[i]->msg ? msg[i]->msg : "");
            continue;
        }
        for (int j = 0; j < i; j++)
            free(r[j].resp);
        free(r);
        fflush(stdout);
        return PAM_CONV_ERR;
    }
    fflush(stdout);
    *resp = r;
    return PAM_SUCCESS;
}

/* The command as user; its exit status (127: could not become user or
 * run). */
static int
run_as(const char *user, const char *command)
{
    char *cmd[] = { (char *) "/bin/sh", (char *) "-c", (char *) command,
                    NULL };
    char *envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
    struct passwd *pw = getpwnam(user);
    int status;
    pid_t pid;

    if (pw == NULL)
        return 127;
    fflush(stdout);
    if ((pid = fork()) < 0)
        return 127;
    if (pid == 0) {
        if (initgroups(pw->pw_name, pw->pw_gid) != 0
            || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0
            || setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0
            || chdir("/") != 0)
            _exit(127);
        execve(cmd[0], cmd, envp);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int
main(int argc, char **argv)
{
    struct pam_conv c = { conv, NULL };
    pam_handle_t *pamh = NULL;
    int rc = PAM_SUCCESS, ret = 0;

    if (argc < 5) {
        fprintf(stderr, "usage: pam-run CONFDIR SERVICE USER OP...\n");
        return 64;
    }
    rc = pam_start_confdir(argv[2], argv[3], &c, argv[1], &pamh);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_start_confdir: %d\n", rc);
        return 1;
    }
    pam_set_item(pamh, PAM_RHOST, "192.0.2.7");
    pam_set_item(pamh, PAM_TTY, "ssh");
    for (int i = 4; i < argc && (ret == 0 || getenv("PAM_RUN_ALL")); i++) {
        struct timespec t0, t1;

        if (strncmp(argv[i], "run:", 4) == 0
            || strncmp(argv[i], "root:", 5) == 0) {
            int root = argv[i][1] == 'o';
            int st = run_as(root ? "root" : argv[3], argv[i] + (root ? 5 : 4));

            printf("pam-run: %s: exit %d\n", root ? "root" : "run", st);
            fflush(stdout);
            if (st != 0)
                ret = 1;
            continue;
        }
        if (strcmp(argv[i], "restart") == 0) {
            pam_end(pamh, rc);
            pamh = NULL;
            rc = pam_start_confdir(argv[2], argv[3], &c, argv[1], &pamh);
            if (rc != PAM_SUCCESS) {
                fprintf(stderr, "pam_start_confdir: %d\n", rc);
                return 1;
            }
            pam_set_item(pamh, PAM_RHOST, "192.0.2.7");
            pam_set_item(pamh, PAM_TTY, "ssh");
            printf("pam-run: restart\n");
            fflush(stdout);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (strcmp(argv[i], "authenticate") == 0)
            rc = pam_authenticate(pamh, 0);
        else if (strcmp(argv[i], "setcred") == 0)
            rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
        else if (strcmp(argv[i], "acct_mgmt") == 0)
            rc = pam_acct_mgmt(pamh, 0);
        else if (strcmp(argv[i], "open_session") == 0)
            rc = pam_open_session(pamh, 0);
        else if (strcmp(argv[i], "close_session") == 0)
            rc = pam_close_session(pamh, 0);
        else {
            fprintf(stderr, "pam-run: unknown step %s\n", argv[i]);
            rc = PAM_SYSTEM_ERR;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("pam-run: %s: %s\n", argv[i], pam_strerror(pamh, rc));
        if (getenv("PAM_RUN_TIMES") != NULL)
            printf("pam-run: time: %s %lld\n", argv[i],
                   (long long) (t1.tv_sec - t0.tv_sec) * 1000000
                       + (t1.tv_nsec - t0.tv_nsec) / 1000);
        fflush(stdout);
        if (rc != PAM_SUCCESS && rc != PAM_IGNORE)
            ret = 1;
    }
    pam_end(pamh, rc);
    return ret;
}
