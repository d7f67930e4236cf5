#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "home.h"
#include "leftovers.h"
#include "teardown.h"

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Does any live process (zombies aside) have uid as its real, effective
 * or saved uid?  kill(-1, 0) cannot answer this: Linux reports success as
 * soon as any other process exists, signalled or not.  1, 0 or -errno. */
int
jit_uid_has_processes(uid_t uid)
{
    struct dirent *de;
    DIR *d = opendir("/proc");
    int found = 0;

    if (d == NULL)
        return -errno;
    while (!found && (de = readdir(d)) != NULL) {
        char path[300], line[256];
        unsigned long r, e, sv;
        char state = '?';
        FILE *f;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
        if ((f = fopen(path, "re")) == NULL)
            continue; /* gone meanwhile */
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "State:", 6) == 0)
                sscanf(line + 6, " %c", &state);
            else if (strncmp(line, "Uid:", 4) == 0) {
                if (sscanf(line + 4, "%lu %lu %lu", &r, &e, &sv) == 3
                    && (r == uid || e == uid || sv == uid) && state != 'Z'
                    && state != 'X')
                    found = 1;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

/* Send sig to every process of uid from a child that has become uid:
 * kill(-1) there reaches exactly what that uid may signal. */
static int
signal_as_uid(uid_t uid, gid_t gid, int sig)
{
    pid_t pid;
    int status;

    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Drop everything but the target uid: no way back to root. */
        if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0
            || setresuid(uid, uid, uid) != 0)
            _exit(3);
        _exit(kill(-1, sig) == 0 || errno == ESRCH ? 0 : 2);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int
jit_kill_uid(uid_t uid, gid_t gid, unsigned grace_ms, unsigned deadline_ms)
{
    unsigned waited = 0, last_kill = 0;
    int ret, sig = SIGTERM;

    if (uid == 0)
        return -EPERM;
    for (;;) {
        if ((ret = jit_uid_has_processes(uid)) <= 0)
            return ret;
        if (waited >= deadline_ms)
            return -ETIMEDOUT;
        /* TERM once; after the grace, KILL, repeated for whatever was
         * forked meanwhile. */
        if (waited == 0 || (sig == SIGKILL && waited - last_kill >= 100)) {
            if ((ret = signal_as_uid(uid, gid, sig)) != 0)
                return ret;
            last_kill = waited;
        }
        sleep_ms(10);
        waited += 10;
        if (sig == SIGTERM && waited >= grace_ms) {
            sig = SIGKILL;
            last_kill = waited - 100;
        }
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

/* The steps, in order; the first that fails stops them, with err saying
 * why.  The account row goes last, so a failure leaves it for a retry. */
static int
teardown_steps(struct jit_store *s, const struct jit_conf *conf,
               const struct jit_account *a, const char *cause, int64_t now,
               char *err, size_t errlen)
{
    char suffix[64];
    char *detail = NULL;
    int ret;

    /* Visible at once, so that neither a login nor a second reaper uses
     * the account while it goes (the caller may have done this in its own
     * transaction already). */
    if (a->state != JIT_ACCOUNT_TEARING_DOWN
        && ((ret = jit_store_begin(s)) != 0
            || (ret = jit_store_set_state(s, a->name,
                                          JIT_ACCOUNT_TEARING_DOWN)) != 0
            || (ret = jit_store_commit(s)) != 0)) {
        snprintf(err, errlen, "store: %s", jit_store_error(s));
        jit_store_rollback(s);
        return ret;
    }
    /* pam_jit refuses an account in this state, so no new session can
     * start; the name still resolves, so tools show whose processes end.
     * logind first (it ends sessions and their scopes), then the signals
     * prove that nothing of the uid is left. */
    jit_logind_terminate(a->uid);
    if ((ret = jit_kill_uid(a->uid, a->gid, 2000, 5000)) != 0) {
        snprintf(err, errlen, "processes of uid %u: %s", a->uid,
                 ret == -ETIMEDOUT ? "still running" : strerror(-ret));
        return ret;
    }
    if ((ret = jit_ipc_remove_uid(a->uid)) != 0) {
        snprintf(err, errlen, "SysV IPC of uid %u: %s", a->uid,
                 strerror(-ret));
        return ret;
    }
    if ((ret = jit_spool_remove(a->name, a->uid, NULL, NULL)) != 0) {
        snprintf(err, errlen, "cron/at spool of %s: %s", a->name,
                 strerror(-ret));
        return ret;
    }
    switch (conf->home_policy) {
    case JIT_HOME_REMOVE:
        ret = jit_home_remove(conf->home_base, a->name, err, errlen);
        break;
    case JIT_HOME_ARCHIVE:
        snprintf(suffix, sizeof(suffix), "%lld.%u", (long long) now, a->uid);
        ret = jit_home_archive(conf->home_base, a->name, suffix, err, errlen);
        break;
    default:
        ret = 0;
    }
    if (ret != 0)
        return ret;
    detail = json_detail(cause, NULL, a->uid);
    if ((ret = jit_store_begin(s)) != 0
        || (ret = jit_store_delete_account(s, a->name, now)) != 0
        || (ret = jit_store_add_event(s, "account.deleted", a->grant_id,
                                      a->name, a->requester, detail, now))
               != 0
        || (ret = jit_store_commit(s)) != 0) {
        snprintf(err, errlen, "store: %s", jit_store_error(s));
        jit_store_rollback(s);
    }
    if (ret == 0)
        jit_nscd_invalidate(); /* or it may answer for the name a while */
    free(detail);
    return ret;
}

/* 30 s after the first failure, doubling, at most an hour. */
static int64_t
retry_after(int64_t now, int failures)
{
    int64_t d = JIT_TEARDOWN_RETRY_MIN;

    for (int i = 0; i < failures && d < JIT_TEARDOWN_RETRY_MAX; i++)
        d *= 2;
    return now + (d < JIT_TEARDOWN_RETRY_MAX ? d : JIT_TEARDOWN_RETRY_MAX);
}

int
jit_teardown(struct jit_store *s, const struct jit_conf *conf,
             const char *name, const char *cause, const struct jit_log *log,
             int64_t now)
{
    struct jit_account a;
    char err[512] = "";
    char *detail = NULL;
    int ret;

    if ((ret = jit_store_get_account(s, name, &a)) != 0)
        return ret;
    ret = teardown_steps(s, conf, &a, cause, now, err, sizeof(err));
    if (ret == 0) {
        audit_account(log, LOG_NOTICE, "account.deleted", "ok", cause, &a);
        goto done;
    }
    /* Left in disable_failed, visible in jitctl list, with an event; the
     * reaper retries it. */
    audit_account(log, LOG_ERR, "account.disable_failed", "fail", cause, &a);
    jit_logf(log, LOG_ERR, "teardown of %s: %s", name, err);
    detail = json_detail(cause, err, a.uid);
    if (jit_store_begin(s) != 0
        || jit_store_teardown_failed(s, name, retry_after(now, a.failures))
               != 0
        || jit_store_add_event(s, "account.disable_failed", a.grant_id, name,
                               a.requester, detail, now) != 0
        || jit_store_commit(s) != 0)
        jit_store_rollback(s);

done:
    free(detail);
    jit_account_free(&a);
    return ret;
}
