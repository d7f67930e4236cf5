/*
 * bench_apid: load on jit-apid.  HOSTS hosts hold a long poll each (as
 * jitctl daemon does: the list, then If-None-Match with wait=30, again and
 * again), while logins arrive at RATE per second for SECONDS seconds, each
 * a grant check by name on a new TLS connection (as pam_jit in a new sshd
 * process makes it).  Prints the login latencies and what the long polls
 * saw.
 *
 *   bench_apid URL CAFILE TOKENS USERS HOSTS RATE SECONDS
 *
 * TOKENS: the host tokens file ("host token" lines).  USERS: how many
 * users u000.. have grants on every host.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct poller {
    CURL *h;
    struct curl_slist *hdr;
    char host[128], token[300], etag[128], url[512];
    long answers, changed;
};

struct login {
    CURL *h;
    struct curl_slist *hdr;
    double start;
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t s, size_t n, void *u)
{
    (void) p;
    (void) u;
    return s * n;
}

static size_t
header_cb(char *p, size_t s, size_t n, void *u)
{
    struct poller *pl = u;
    size_t len = s * n;

    if (len > 6 && strncasecmp(p, "ETag: ", 6) == 0) {
        size_t k = len - 6;

        while (k > 0 && (p[6 + k - 1] == '\r' || p[6 + k - 1] == '\n'))
            k--;
        if (k < sizeof(pl->etag)) {
            memcpy(pl->etag, p + 6, k);
            pl->etag[k] = '\0';
        }
    }
    return len;
}

static void
poll_setup(struct poller *p, const char *base, const char *ca)
{
    char auth[400], inm[200];

    curl_slist_free_all(p->hdr);
    p->hdr = NULL;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->token);
    p->hdr = curl_slist_append(p->hdr, auth);
    if (p->etag[0]) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", p->etag);
        p->hdr = curl_slist_append(p->hdr, inm);
        snprintf(p->url, sizeof(p->url), "%s/v1/hosts/%s/grants?wait=30", base,
                 p->host);
    } else {
        snprintf(p->url, sizeof(p->url), "%s/v1/hosts/%s/grants", base,
                 p->host);
    }
    curl_easy_setopt(p->h, CURLOPT_URL, p->url);
    curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hdr);
    curl_easy_setopt(p->h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(p->h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(p->h, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
    curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 90L);
    curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    const char *base, *ca;
    struct poller *pl;
    double *lat, t0, next, end;
    long users, hosts, rate, secs, nlat = 0, errors = 0, polls = 0;
    long launched = 0, total;
    CURLM *m;
    FILE *f;
    char line[512];
    int running;

    if (argc != 8) {
        fprintf(stderr, "usage: bench_apid URL CAFILE TOKENS USERS HOSTS"
                        " RATE SECONDS\n");
        return 64;
    }
    base = argv[1];
    ca = argv[2];
    users = atol(argv[4]);
    hosts = atol(argv[5]);
    rate = atol(argv[6]);
    secs = atol(argv[7]);
    total = rate * secs;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, hosts + 64);
    pl = calloc((size_t) hosts, sizeof(*pl));
    lat = calloc((size_t) total + 1, sizeof(*lat));
    if (!pl || !lat || (f = fopen(argv[3], "re")) == NULL) {
        perror("bench_apid");
        return 1;
    }
    for (long i = 0; i < hosts && fgets(line, sizeof(line), f); i++) {
        if (sscanf(line, "%127s %299s", pl[i].host, pl[i].token) != 2)
            return 1;
        pl[i].h = curl_easy_init();
        poll_setup(&pl[i], base, ca);
        curl_multi_add_handle(m, pl[i].h);
    }
    fclose(f);
    /* Let every host get its list and settle into its long poll. */
    t0 = now();
    while (now() - t0 < 20) {
        long waiting = 0;
        CURLMsg *msg;
        int left;

        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            struct poller *p;

            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
            curl_multi_remove_handle(m, p->h);
            poll_setup(p, base, ca);
            curl_multi_add_handle(m, p->h);
        }
        for (long i = 0; i < hosts; i++)
            waiting += pl[i].etag[0] != 0;
        if (waiting == hosts)
            break;
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    fprintf(stderr, "bench_apid: %ld hosts in their long poll after %.1f s\n",
            hosts, now() - t0);
    /* Logins at RATE per second, while the polls go on. */
    t0 = now();
    next = t0;
    end = t0 + (double) secs + 10;
    while (now() < end && (launched < total || nlat + errors < total)) {
        CURLMsg *msg;
        int left;

        while (launched < total && now() >= next) {
            struct login *lg = calloc(1, sizeof(*lg));
            long hi = rand() % hosts, u = rand() % users;
            char url[512], auth[400];

            snprintf(url, sizeof(url), "%s/v1/hosts/%s/grants/u%03ld", base,
                     pl[hi].host, u);
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                     pl[hi].token);
            lg->h = curl_easy_init();
            lg->hdr = curl_slist_append(NULL, auth);
            curl_easy_setopt(lg->h, CURLOPT_URL, url);
            curl_easy_setopt(lg->h, CURLOPT_HTTPHEADER, lg->hdr);
            curl_easy_setopt(lg->h, CURLOPT_CAINFO, ca);
            curl_easy_setopt(lg->h, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(lg->h, CURLOPT_PRIVATE, lg);
            curl_easy_setopt(lg->h, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(lg->h, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(lg->h, CURLOPT_TIMEOUT, 10L);
            curl_easy_setopt(lg->h, CURLOPT_NOSIGNAL, 1L);
            lg->start = now();
            curl_multi_add_handle(m, lg->h);
            launched++;
            next += 1.0 / (double) rate;
        }
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            void *priv;
            long code = 0;

            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if ((char *) priv >= (char *) pl
                && (char *) priv < (char *) (pl + hosts)) {
                struct poller *p = priv;

                polls++;
                p->answers++;
                if (code == 200)
                    p->changed++;
                curl_multi_remove_handle(m, p->h);
                poll_setup(p, base, ca);
                curl_multi_add_handle(m, p->h);
            } else {
                struct login *lg = priv;

                if (msg->data.result == CURLE_OK && code == 200)
                    lat[nlat++] = (now() - lg->start) * 1000;
                else if (errors++ == 0)
                    fprintf(stderr, "bench_apid: first failed login: %s,"
                            " HTTP %ld\n",
                            curl_easy_strerror(msg->data.result), code);
                curl_multi_remove_handle(m, lg->h);
                curl_easy_cleanup(lg->h);
                curl_slist_free_all(lg->hdr);
                free(lg);
            }
        }
        curl_multi_poll(m, NULL, 0, 2, NULL);
    }
    {
        double wall = now() - t0;

        qsort(lat, (size_t) nlat, sizeof(*lat), cmp_double);
        printf("logins %ld ok %ld failed %ld wall_s %.2f rate %.1f\n", total,
               nlat, errors, wall, (double) nlat / wall);
        printf("p50_ms %.2f p90_ms %.2f p99_ms %.2f max_ms %.2f\n",
               nlat ? lat[nlat / 2] : -1.0,
               nlat ? lat[(long) ((double) nlat * 0.90)] : -1.0,
               nlat ? lat[(long) ((double) nlat * 0.99)] : -1.0,
               nlat ? lat[nlat - 1] : -1.0);
        printf("long_poll_answers %ld\n", polls);
    }
    return errors > 0;
}
