/* SPDX-License-Identifier: MIT */
/*
 * jit-fixture: puts accounts into a state store the way sync and pam_jit
 * will (through lib/state/, so the snapshot is derived as in production),
 * for the test suite and the README demo.  Not installed.
 *
 *   jit-fixture --config FILE add NAME [--requester R] [--credential C]
 *               [--grant ID] [--groups a,b] [--expires-in SECONDS]
 *               [--state STATE]
 *
 * The gecos is "JIT <credential>", so a long --credential makes entries
 * bigger than glibc's first buffer (the ERANGE retry through glibc).
 *   jit-fixture --config FILE delete NAME
 *   jit-fixture --config FILE rederive
 *   jit-fixture --config FILE check-snapshot
 *       map state_dir/nss.db as libnss_jit does (every check): "ok N
 *       accounts generation G", or why not (exit 1); no file: "none".
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/conf.h"
#include "core/validate.h"
#include "nss/nssdb_read.h"
#include "state/store.h"

static int
split_groups(const char *s, struct jit_grant *g)
{
    char *copy = strdup(s), *save = NULL, *tok;

    if (copy == NULL)
        return -ENOMEM;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char **ng = realloc(g->groups, (g->n_groups + 1) * sizeof(*ng));

        if (ng == NULL || (ng[g->n_groups] = strdup(tok)) == NULL) {
            if (ng)
                g->groups = ng;
            free(copy);
            return -ENOMEM;
        }
        g->groups = ng;
        g->n_groups++;
    }
    free(copy);
    return 0;
}

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "jit-fixture: %s: %s\n", what, why);
    exit(1);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "requester", required_argument, NULL, 'r' },
        { "credential", required_argument, NULL, 'C' },
        { "grant", required_argument, NULL, 'g' },
        { "groups", required_argument, NULL, 'G' },
        { "expires-in", required_argument, NULL, 'e' },
        { "state", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *requester = NULL, *credential = "db-admin";
    const char *grant_id = NULL, *groups = NULL, *state = NULL;
    struct jit_errs errs = { NULL, 0 };
    struct jit_grant g;
    struct jit_account a;
    struct jit_store *s = NULL;
    struct jit_conf conf;
    uint32_t expires_in = 3600;
    int64_t now = (int64_t) time(NULL);
    char *why = NULL, gid_buf[64], req_buf[128];
    int c, ret;

    memset(&g, 0, sizeof(g));
    memset(&a, 0, sizeof(a));
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'r': requester = optarg; break;
        case 'C': credential = optarg; break;
        case 'g': grant_id = optarg; break;
        case 'G': groups = optarg; break;
        case 's': state = optarg; break;
        case 'e':
            if (jit_parse_u32(optarg, 0, 100u * 365 * 86400, &expires_in))
                die(optarg, "not a number of seconds");
            break;
        default:
            return 2;
        }
    }
    if (config == NULL || optind >= argc)
        die("usage", "--config FILE add|delete|rederive [NAME] [options]");
    if (jit_conf_init(&conf) != 0)
        die("config", "out of memory");
    if (jit_conf_load_file(&conf, config, &errs) == 0)
        jit_conf_finish(&conf, config, &errs);
    if (errs.n > 0) {
        jit_errs_print(&errs, stderr);
        return 1;
    }
    if (strcmp(argv[optind], "check-snapshot") == 0) {
        struct jit_nssdb db;
        struct stat st;
        char *path = NULL;

        if (asprintf(&path, "%s/nss.db", conf.state_dir) < 0)
            die("path", "out of memory");
        ret = jit_nssdb_map(path, 0, &db, &st);
        if (ret == -ENOENT) {
            printf("none\n");
            ret = 0;
        } else if (ret != 0) {
            printf("%s: %s\n", path, strerror(-ret));
            ret = 1;
        } else {
            printf("ok %u accounts generation %llu\n",
                   (unsigned) db.hdr.n_passwd,
                   (unsigned long long) db.hdr.generation);
            jit_nssdb_unmap(&db);
        }
        free(path);
        jit_conf_free(&conf);
        return ret;
    }
    if ((ret = jit_store_open(&conf, NULL, &s, &why)) != 0)
        die("state store", why ? why : strerror(-ret));
    if ((ret = jit_store_begin(s)) != 0)
        die("begin", jit_store_error(s));

    if (strcmp(argv[optind], "add") == 0 && optind + 1 < argc) {
        const char *name = argv[optind + 1];

        snprintf(gid_buf, sizeof(gid_buf), "g-%s", name);
        snprintf(req_buf, sizeof(req_buf), "%s@EXAMPLE.COM", name);
        g.id = strdup(grant_id ? grant_id : gid_buf);
        g.credential = strdup(credential);
        g.requester = strdup(requester ? requester : req_buf);
        g.username = strdup(name);
        g.host = strdup(conf.host);
        g.reason = strdup("test fixture");
        g.status = strdup("active");
        g.on_logout = strdup("keep");
        g.not_before = now - 60;
        g.expires_at = now + expires_in;
        if (!g.id || !g.credential || !g.requester || !g.username || !g.host
            || !g.reason || !g.status || !g.on_logout
            || (groups && split_groups(groups, &g) != 0))
            die("grant", "out of memory");
        if ((ret = jit_store_put_grant(s, &g)) != 0
            || (ret = jit_store_reserve(s, &g, now, &a)) != 0)
            die(name, jit_store_error(s));
        if (state != NULL) {
            int st = jit_account_state_parse(state);

            if (st < 0 || jit_store_set_state(s, name, st) != 0)
                die(state, "not an account state");
        }
        if (jit_store_add_event(s, "account.reserved", g.id, name,
                                g.requester, NULL, now) != 0)
            die("event", jit_store_error(s));
    } else if (strcmp(argv[optind], "delete") == 0 && optind + 1 < argc) {
        if (jit_store_delete_account(s, argv[optind + 1], now) != 0)
            die(argv[optind + 1], jit_store_error(s));
    } else if (strcmp(argv[optind], "rederive") == 0) {
        jit_store_touch_snapshot(s);
    } else {
        die(argv[optind], "unknown command or missing NAME");
    }
    if ((ret = jit_store_commit(s)) != 0)
        die("commit", jit_store_error(s));
    if (a.name)
        printf("%s uid=%u\n", a.name, (unsigned) a.uid);
    jit_account_free(&a);
    jit_grant_free(&g);
    jit_store_close(s);
    jit_conf_free(&conf);
    free(why);
    return 0;
}
