/* SPDX-License-Identifier: MIT */
/* Helpers for the unit tests of the store's users (see statelib.h). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statelib.h"
#include "testlib.h"

static int
fake_name_taken(const char *name, void *ctx)
{
    (void) ctx;
    return strcmp(name, "taken") == 0;
}

static int
fake_id_taken(uint32_t id, void *ctx)
{
    (void) ctx;
    (void) id;
    return 0;
}

static int
fake_group_gid(const char *g, uint32_t *gid, void *ctx)
{
    (void) ctx;
    if (strcmp(g, "sudo") == 0)
        *gid = 27;
    else if (strcmp(g, "video") == 0)
        *gid = 44;
    else if (strcmp(g, "users") == 0)
        *gid = 100;
    else
        return -ENOENT;
    return 0;
}

const char *t_boot_id;

static int
fake_boot_id(char *out, size_t size, void *ctx)
{
    (void) ctx;
    if (t_boot_id == NULL)
        return -ENOENT;
    snprintf(out, size, "%s", t_boot_id);
    return 0;
}

static const struct jit_store_host fake_host = {
    fake_name_taken, fake_id_taken, fake_group_gid, NULL, fake_boot_id
};

static void
keep_line(void *ctx, int prio, const char *line)
{
    struct t_log *l = ctx;

    if (l->n < T_LOG_LINES) {
        l->prio[l->n] = prio;
        snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s", line);
    }
}

/* A port of 127.0.0.1 that refuses every connection: bound (so that no
 * one else gets it) but never listening.  The socket in *fd. */
static unsigned
refusing_port(int *fd)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(*fd, 0);
    ck_assert_int_eq(bind(*fd, (struct sockaddr *) &a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *) &a, &len), 0);
    return ntohs(a.sin_port);
}

/* The grant's strings, one set per user (the tests use a few),
 * for one test: t_state_open forgets them. */
#define T_GRANTS 8
static struct {
    char user[32], id[40], req[48];
} names[T_GRANTS];

/* t->store: the store of t->conf, asking the made-up host. */
static void
open_store(struct t_state *t)
{
    char *why = NULL;
    int r = jit_store_open(&t->conf, &fake_host, &t->store, &why);

    ck_assert_msg(r == 0, "open: %s", why ? why : "?");
}

void
t_state_open(struct t_state *t, const char *extra_conf)
{
    struct jit_errs errs = { NULL, 0 };
    char *text = NULL, *scrub;

    memset(t, 0, sizeof(*t));
    memset(names, 0, sizeof(names));
    t->dir = t_mkdtemp();
    t->state = t_path(t->dir, "state");
    t->home = t_path(t->dir, "home");
    scrub = t_path(t->dir, "scrub");
    ck_assert_int_eq(mkdir(t->home, 0755), 0);
    ck_assert_int_eq(mkdir(scrub, 01777), 0);
    ck_assert_int_eq(jit_conf_init(&t->conf), 0);
    ck_assert_int_ge(asprintf(&text,
                              "api_url = https://127.0.0.1:%u/\n"
                              "host = web01\nstate_dir = %s\n"
                              "home_base = %s\nscrub_dirs = %s\n"
                              "allowed_groups = sudo,video,users\n"
                              "uid_min = %u\nuid_max = %u\n"
                              "uid_quarantine = 3600\n"
                              "connect_timeout = 1\ntimeout = 2\n%s",
                              refusing_port(&t->api_fd), t->state, t->home, scrub, T_STATE_UID_MIN,
                              T_STATE_UID_MAX, extra_conf ? extra_conf : ""),
                     0);
    ck_assert_uint_eq(jit_conf_parse_buffer(&t->conf, "t", text,
                                            strlen(text), &errs), 0);
    ck_assert_uint_eq(jit_conf_finish(&t->conf, "t", &errs), 0);
    free(text);
    free(scrub);
    t->log.emit = keep_line;
    t->log.ctx = &t->kept;
    open_store(t);
}

void
t_store_reopen(struct t_state *t)
{
    jit_store_close(t->store);
    open_store(t);
}

void
t_state_close(struct t_state *t)
{
    jit_store_close(t->store);
    close(t->api_fd);
    jit_conf_free(&t->conf);
    t_rmtree(t->dir);
    free(t->home);
    free(t->state);
    free(t->dir);
    memset(t, 0, sizeof(*t));
}

/* The private namespace, or -errno. */
static int
private_host_dirs(void)
{
    static const char *const dirs[] = { "/var/spool/cron",
                                        "/var/lib/systemd/linger",
                                        "/run/nscd", "/var/run/nscd" };
    struct stat st;

    if (unshare(CLONE_NEWNS) != 0
        || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return -errno;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode)
            && mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV,
                     "mode=0755") != 0)
            return -errno;
    return 0;
}

void
t_private_host_dirs(void)
{
    int r = private_host_dirs();

    if (r != 0) {
        printf("SKIP: no private mount namespace (%s): a teardown here"
               " would work on the machine's spools\n", strerror(-r));
        exit(77);
    }
}

size_t
t_log_count(const struct t_log *l, ...)
{
    size_t count = 0;

    for (size_t i = 0; i < l->n; i++) {
        const char *needle;
        int all = 1;
        va_list ap;

        va_start(ap, l);
        while (all && (needle = va_arg(ap, const char *)) != NULL)
            all = strstr(l->lines[i], needle) != NULL;
        va_end(ap);
        count += all;
    }
    return count;
}

struct jit_grant
t_grant(const char *user, int64_t expires)
{
    static char *groups[] = { (char *) "sudo", (char *) "video" };
    static char cred[] = "db", host[] = "web01", reason[] = "INC-1 test",
                active[] = "active", keep[] = "keep";
    struct jit_grant g;
    size_t i = 0;

    while (i < T_GRANTS && names[i].user[0] != '\0'
           && strcmp(names[i].user, user) != 0)
        i++;
    ck_assert_uint_lt(i, T_GRANTS);
    snprintf(names[i].user, sizeof(names[i].user), "%s", user);
    snprintf(names[i].id, sizeof(names[i].id), "g-%s", user);
    snprintf(names[i].req, sizeof(names[i].req), "%s@EXAMPLE", user);
    memset(&g, 0, sizeof(g));
    g.id = names[i].id;
    g.credential = cred;
    g.requester = names[i].req;
    g.username = names[i].user;
    g.host = host;
    g.reason = reason;
    g.status = active;
    g.on_logout = keep;
    g.groups = groups;
    g.n_groups = 2;
    g.not_before = 1000;
    g.expires_at = expires;
    return g;
}

uint32_t
t_reserve(struct t_state *t, const struct jit_grant *g, int64_t now)
{
    struct jit_account a;
    uint32_t uid;

    ck_assert_int_eq(jit_store_begin(t->store), 0);
    ck_assert_int_eq(jit_store_put_grant(t->store, g), 0);
    ck_assert_int_eq(jit_store_reserve(t->store, g, now, &a), 0);
    ck_assert_int_eq(jit_store_commit(t->store), 0);
    uid = a.uid;
    jit_account_free(&a);
    return uid;
}

int
t_account_state(struct t_state *t, const char *name)
{
    struct jit_account a;
    int state;

    if (jit_store_get_account(t->store, name, &a) != 0)
        return -1;
    state = a.state;
    jit_account_free(&a);
    return state;
}
