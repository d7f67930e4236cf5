/* SPDX-License-Identifier: MIT */
/*
 * Ending the processes that carry a group their account is no longer
 * granted (see restrict.h).  Processes are found in /proc and signalled
 * through a pidfd taken before their credentials are read again, so a pid
 * reused meanwhile is never signalled.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/scrub.h"
#include "core/teardown.h"
#include "daemon/restrict.h"


static int
parse_ids(const char *p, uint32_t *out, size_t max, size_t *n)
{
    *n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p != '\0' && *p != '\n') {
        char *end;
        unsigned long v = strtoul(p, &end, 10);

        if (end == p || v > UINT32_MAX)
            return -EINVAL;
        if (*n < max)
            out[*n] = (uint32_t) v;
        (*n)++;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return 0;
}

int
jit_proc_creds_parse(const char *status, struct jit_proc_creds *c)
{
    const char *line;
    size_t n;
    int have = 0, ret = -EINVAL;

    memset(c, 0, sizeof(*c));
    for (line = status; line != NULL && *line != '\0';
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "State:", 6) == 0) {
            const char *p = line + 6;

            while (*p == ' ' || *p == '\t')
                p++;
            c->state = *p;
        } else if (strncmp(line, "Threads:", 8) == 0) {
            char *end;

            c->threads = strtoul(line + 8, &end, 10);
            if (end == line + 8)
                c->threads = 0;
        } else if (strncmp(line, "Uid:", 4) == 0) {
            if (parse_ids(line + 4, c->uid, 4, &n) != 0 || n != 4)
                goto done;
            have |= 1;
        } else if (strncmp(line, "Gid:", 4) == 0) {
            if (parse_ids(line + 4, c->gid, 4, &n) != 0 || n != 4)
                goto done;
            have |= 2;
        } else if (strncmp(line, "Groups:", 7) == 0) {
            if (parse_ids(line + 7, NULL, 0, &n) != 0)
                goto done;
            free(c->groups);
            c->groups = calloc(n + 1, sizeof(*c->groups));
            if (c->groups == NULL) {
                ret = -ENOMEM;
                goto done;
            }
            parse_ids(line + 7, c->groups, n, &c->n_groups);
            have |= 4;
        }
    }
    ret = have == 7 ? 0 : -EINVAL;

done:
    if (ret != 0)
        jit_proc_creds_free(c);
    return ret;
}

int
jit_proc_creds_dead(const struct jit_proc_creds *c)
{
    return jit_proc_dead(c->state, c->threads);
}

void
jit_proc_creds_free(struct jit_proc_creds *c)
{
    free(c->groups);
    memset(c, 0, sizeof(*c));
}

static int
read_status(int procfd, const char *pid, struct jit_proc_creds *c)
{
    char path[64], *buf = NULL;
    ssize_t r;
    size_t len = 0;
    int fd, ret;

    snprintf(path, sizeof(path), "%s/status", pid);
    fd = openat(procfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -ENOENT;
    if ((buf = malloc(JIT_PROC_STATUS_MAX + 1)) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    while (len < JIT_PROC_STATUS_MAX
           && (r = read(fd, buf + len, JIT_PROC_STATUS_MAX - len)) > 0)
        len += (size_t) r;
    buf[len] = '\0';
    ret = jit_proc_creds_parse(buf, c);

done:
    free(buf);
    close(fd);
    return ret;
}

/* The accounts' uids, sorted, for a lookup per process. */
struct who {
    uint32_t uid;
    size_t account;
};

static int
cmp_who(const void *a, const void *b)
{
    const struct who *x = a, *y = b;

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* A group's gid by name, the buffer grown as large groups need (a
 * lookup that fails must not silently skip the group).  0, -ENOENT or
 * -errno. */
static int
group_gid(const char *name, uint32_t *gid)
{
    size_t len = 4096;
    int ret;

    for (;;) {
        struct group gr, *res = NULL;
        char *buf = malloc(len);

        if (buf == NULL)
            return -ENOMEM;
        ret = getgrnam_r(name, &gr, buf, len, &res);
        if (ret == 0 && res != NULL)
            *gid = (uint32_t) res->gr_gid;
        free(buf);
        if (ret == ERANGE && len < (1u << 24)) {
            len *= 4;
            continue;
        }
        return ret != 0 ? -ret : res == NULL ? -ENOENT : 0;
    }
}

/* The gid of each allowed group this host knows (0 where it knows none:
 * no account can have been given it).  A lookup that fails otherwise
 * fails the whole check, to be tried again. */
static int
allowed_gids(const struct jit_conf *conf, uint32_t **out)
{
    uint32_t *v = calloc(conf->allowed_groups.n + 1, sizeof(*v));
    int ret = 0;

    *out = NULL;
    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < conf->allowed_groups.n && ret == 0; i++)
        if ((ret = group_gid(conf->allowed_groups.items[i], &v[i]))
            == -ENOENT) {
            v[i] = 0;
            ret = 0;
        }
    if (ret != 0) {
        free(v);
        return ret;
    }
    *out = v;
    return 0;
}

static int
has(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

/* The first allowed gid that c carries and account a is not granted, or
 * 0: a's own group and its granted groups are its due. */
static uint32_t
not_granted(const struct jit_proc_creds *c, const struct jit_account *a,
            const uint32_t *allowed, size_t n_allowed)
{
    for (size_t i = 0; i < n_allowed; i++) {
        uint32_t g = allowed[i];

        if (g == 0 || g == a->gid || has(a->gids, a->n_groups, g))
            continue;
        if (has(c->gid, 4, g) || has(c->groups, c->n_groups, g))
            return g;
    }
    return 0;
}

/* An offending process: its pidfd, and which account it belongs to. */
struct target {
    int pidfd;
    pid_t pid;
    size_t account;
    uint32_t gid;
};

static const struct who *
owner(const struct who *w, size_t nw, const struct jit_proc_creds *c)
{
    for (int k = 0; k < 4; k++) {
        struct who key = { c->uid[k], 0 };
        const struct who *hit = bsearch(&key, w, nw, sizeof(*w), cmp_who);

        if (hit != NULL)
            return hit;
    }
    return NULL;
}

/* Find the offenders: /proc read, a pidfd taken, the credentials read
 * again through the same pid (the pidfd pins the process: if the pid was
 * reused before it was taken, the second read sees the newcomer). */
static int
find_targets(const struct jit_account *a, const struct who *w, size_t nw,
             const uint32_t *allowed, size_t n_allowed, struct target **out,
             size_t *n)
{
    struct dirent *de;
    DIR *d = opendir("/proc");
    struct target *v = NULL;
    size_t cap = 0;
    int procfd, ret = 0;

    *out = NULL;
    *n = 0;
    if (d == NULL)
        return -errno;
    procfd = dirfd(d);
    while ((de = readdir(d)) != NULL) {
        struct jit_proc_creds c;
        const struct who *hit;
        uint32_t gid;
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        int fd;

        if (*end != '\0' || pid <= 1)
            continue;
        if (read_status(procfd, de->d_name, &c) != 0)
            continue; /* gone meanwhile */
        /* A dead zombie runs nothing; its parent's wait removes it.  A
         * zombie first thread whose others run on is signalled: the
         * signal reaches its group. */
        hit = jit_proc_creds_dead(&c) ? NULL : owner(w, nw, &c);
        gid = hit ? not_granted(&c, &a[hit->account], allowed, n_allowed) : 0;
        jit_proc_creds_free(&c);
        if (gid == 0)
            continue;
        if ((fd = pidfd_open((pid_t) pid, 0)) < 0)
            continue; /* gone */
        if (read_status(procfd, de->d_name, &c) != 0
            || jit_proc_creds_dead(&c) || owner(w, nw, &c) != hit
            || not_granted(&c, &a[hit->account], allowed, n_allowed) == 0) {
            jit_proc_creds_free(&c);
            close(fd);
            continue;
        }
        jit_proc_creds_free(&c);
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct target *nv = realloc(v, ncap * sizeof(*nv));

            if (nv == NULL) {
                close(fd);
                ret = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[*n].pidfd = fd;
        v[*n].pid = (pid_t) pid;
        v[*n].account = hit->account;
        v[(*n)++].gid = gid;
    }
    closedir(d);
    *out = v;
    return ret;
}

static void
close_targets(struct target *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].pidfd >= 0)
            close(t[i].pidfd);
    free(t);
}

/* Wait until each has exited (a pidfd polls readable then) or ms pass;
 * the number still running. */
static size_t
wait_exit(struct target *t, size_t n, int64_t ms)
{
    int64_t until = jit_mono_ms() + ms;

    for (;;) {
        size_t left = 0;

        for (size_t i = 0; i < n; i++) {
            struct pollfd p = { t[i].pidfd, POLLIN, 0 };

            if (t[i].pidfd >= 0 && poll(&p, 1, 0) == 1) {
                close(t[i].pidfd);
                t[i].pidfd = -1;
            }
            left += t[i].pidfd >= 0;
        }
        if (left == 0 || jit_mono_ms() >= until)
            return left;
        poll(NULL, 0, 10);
    }
}

/* What was done per account, for its audit line. */
struct tally {
    pid_t *pids; /* the processes found carrying a group, each once */
    size_t found;
    uint32_t gid;
    int marked;  /* to be frozen and looked at */
};

static void
count(struct tally *ta, const struct target *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tally *x = &ta[t[i].account];
        pid_t *np;
        size_t k = 0;

        x->marked = 1;
        x->gid = t[i].gid;
        while (k < x->found && x->pids[k] != t[i].pid)
            k++;
        if (k < x->found)
            continue;
        if ((np = realloc(x->pids, (x->found + 1) * sizeof(*np))) == NULL)
            continue; /* only the count in the line suffers */
        x->pids = np;
        x->pids[x->found++] = t[i].pid;
    }
}

static void
audit_account(const struct jit_log *log, const struct jit_account *a,
              const struct tally *ta, int ok)
{
    struct group gr, *res = NULL;
    char buf[16384], detail[256], name[64];

    if (getgrgid_r((gid_t) ta->gid, &gr, buf, sizeof(buf), &res) == 0
        && res != NULL)
        snprintf(name, sizeof(name), "%s", res->gr_name);
    else
        snprintf(name, sizeof(name), "%u", (unsigned) ta->gid);
    snprintf(detail, sizeof(detail), "%zu process%s carrying group %s%s",
             ta->found, ta->found == 1 ? "" : "es", name,
             ok ? " ended" : " still running at the deadline");
    {
        struct jit_audit au = {
            .event = "restrict", .result = ok ? "ok" : "fail",
            .reason = "group_not_granted", .user = a->name,
            .requester = a->requester, .credential = a->credential,
            .grant = a->grant_id, .expires = a->expires, .detail = detail,
        };

        jit_audit(log, ok ? LOG_NOTICE : LOG_ERR, &au);
    }
}

/* Account i's processes that carry a group it is not granted, with its
 * uid frozen: kill(-1, SIGSTOP) as the uid stops every one of them at
 * once, and a stopped process forks nothing, so /proc is read with
 * nothing moving; those found are killed, the others continued. */
static int
frozen_kill(const struct jit_account *a, size_t i, const uint32_t *allowed,
            size_t n_allowed, struct tally *ta)
{
    struct who w1 = { a[i].uid, i };
    struct target *t = NULL;
    size_t nt = 0;
    int ret;

    if ((ret = jit_signal_uid(a[i].uid, a[i].gid, SIGSTOP)) != 0)
        return ret;
    ret = find_targets(a, &w1, 1, allowed, n_allowed, &t, &nt);
    count(ta, t, nt);
    for (size_t k = 0; k < nt; k++)
        pidfd_send_signal(t[k].pidfd, SIGKILL, NULL, 0);
    if (wait_exit(t, nt, JIT_RESTRICT_DEADLINE_MS) != 0 && ret == 0)
        ret = -ETIMEDOUT;
    /* Even after a failure: the account's other processes go on. */
    (void) jit_signal_uid(a[i].uid, a[i].gid, SIGCONT);
    close_targets(t, nt);
    return ret;
}

int
jit_restrict_groups(struct jit_store *s, const struct jit_conf *conf,
                    const struct jit_log *log, const char *const *reduced,
                    size_t n_reduced)
{
    struct jit_account *a = NULL;
    struct target *t = NULL;
    struct tally *ta = NULL;
    struct who *w = NULL;
    uint32_t *allowed = NULL;
    size_t na = 0, nt = 0, n_allowed = conf->allowed_groups.n;
    int ret;

    if (n_allowed == 0)
        return 0; /* nothing could have been given */
    if ((ret = jit_store_list_accounts(s, &a, &na)) != 0 || na == 0)
        goto done;
    if ((ret = allowed_gids(conf, &allowed)) != 0)
        goto done;
    w = calloc(na, sizeof(*w));
    ta = calloc(na, sizeof(*ta));
    if (w == NULL || ta == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < na; i++) {
        w[i].uid = a[i].uid;
        w[i].account = i;
        /* An account just reduced is looked at frozen whatever a scan
         * sees: a process that keeps forking can be missed by one. */
        for (size_t k = 0; k < n_reduced; k++)
            if (strcmp(a[i].name, reduced[k]) == 0)
                ta[i].marked = 1;
    }
    qsort(w, na, sizeof(*w), cmp_who);
    if ((ret = find_targets(a, w, na, allowed, n_allowed, &t, &nt)) != 0)
        goto done;
    /* TERM first: a shell gets to say goodbye. */
    count(ta, t, nt);
    for (size_t i = 0; i < nt; i++)
        pidfd_send_signal(t[i].pidfd, SIGTERM, NULL, 0);
    wait_exit(t, nt, JIT_RESTRICT_GRACE_MS);
    close_targets(t, nt);
    t = NULL;
    nt = 0;
    /* Then what is left, or was missed, frozen and killed. */
    for (size_t i = 0; i < na; i++) {
        int r;

        if (ta[i].marked
            && (r = frozen_kill(a, i, allowed, n_allowed, ta)) != 0
            && ret == 0)
            ret = r;
    }
    /* What still carries a group now is reported as a failure. */
    if ((ret = find_targets(a, w, na, allowed, n_allowed, &t, &nt)) == 0
        && nt > 0)
        ret = -ETIMEDOUT;
    for (size_t i = 0; i < na; i++) {
        int still = 0;

        for (size_t k = 0; k < nt; k++)
            still |= t[k].account == i;
        if (ta[i].found > 0)
            audit_account(log, &a[i], &ta[i], !still);
    }

done:
    if (ret != 0 && ret != -ETIMEDOUT)
        jit_logf(log, LOG_ERR, "restrict: %s", strerror(-ret));
    close_targets(t, nt);
    for (size_t i = 0; ta != NULL && i < na; i++)
        free(ta[i].pids);
    free(ta);
    free(w);
    free(allowed);
    jit_accounts_free(a, na);
    return ret;
}

int
jit_restrict_files(struct jit_store *s, const struct jit_conf *conf,
                   const struct jit_log *log, const char *name)
{
    struct jit_account a = { 0 };
    struct jit_scrub sc;
    struct jit_list dirs = { NULL, 0 };
    uint32_t *allowed = NULL, *strip = NULL;
    size_t n_strip = 0;
    char err[512];
    int ret;

    if ((ret = jit_store_get_account(s, name, &a)) != 0
        || (ret = allowed_gids(conf, &allowed)) != 0)
        goto done;
    strip = calloc(conf->allowed_groups.n + 1, sizeof(*strip));
    dirs.items = calloc(conf->scrub_dirs.n + 2, sizeof(*dirs.items));
    if (strip == NULL || dirs.items == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < conf->allowed_groups.n; i++)
        if (allowed[i] != 0 && allowed[i] != a.gid
            && !has(a.gids, a.n_groups, allowed[i]))
            strip[n_strip++] = allowed[i];
    if (n_strip == 0)
        goto done;
    dirs.items[dirs.n++] = a.home;
    for (size_t i = 0; i < conf->scrub_dirs.n; i++)
        dirs.items[dirs.n++] = conf->scrub_dirs.items[i];
    memset(&sc, 0, sizeof(sc));
    sc.uid = a.uid;
    sc.gid = a.gid;
    sc.user = a.name;
    sc.strip_only = 1;
    sc.strip_gids = strip;
    sc.n_strip = n_strip;
    if ((ret = jit_scrub_dirs(&dirs, &sc, log, err, sizeof(err))) != 0)
        jit_logf(log, LOG_ERR, "restrict of %s: %s", a.name, err);

done:
    free(dirs.items); /* the strings are a's and conf's */
    free(strip);
    free(allowed);
    jit_account_free(&a);
    return ret;
}
