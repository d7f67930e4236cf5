/* SPDX-License-Identifier: MIT */
/* Unit tests: jit.conf and PAM arguments (lib/core/conf.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/conf.h"
#include "core/kpass.h"
#include "core/negotiate.h"
#include "testlib.h"

static struct jit_conf conf;
static struct jit_errs errs;

static void
setup(void)
{
    ck_assert_int_eq(jit_conf_init(&conf), 0);
    memset(&errs, 0, sizeof(errs));
}

static void
teardown(void)
{
    jit_conf_free(&conf);
    jit_errs_free(&errs);
}

static size_t
parse(const char *text)
{
    return jit_conf_parse_buffer(&conf, "jit.conf", text, strlen(text),
                                 &errs);
}

/* Assert that some error message is exactly `want`. */
static void
has_error(const char *want)
{
    for (size_t i = 0; i < errs.n; i++)
        if (errs.msg[i] && strcmp(errs.msg[i], want) == 0)
            return;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  got: %s\n", errs.msg[i]);
    ck_abort_msg("no error \"%s\"", want);
}

START_TEST(test_defaults)
{
    ck_assert_uint_eq(conf.timeout, 5);
    ck_assert_uint_eq(conf.connect_timeout, 2);
    ck_assert_uint_eq(conf.clock_skew, 60);
    ck_assert_uint_eq(conf.uid_min, 70000);
    ck_assert_uint_eq(conf.uid_max, 99999);
    ck_assert_str_eq(conf.home_base, "/home/jit");
    ck_assert_str_eq(conf.skel, "/etc/skel");
    ck_assert_int_eq(conf.home_policy, JIT_HOME_REMOVE);
    ck_assert_str_eq(conf.default_shell, "/bin/bash");
    ck_assert_uint_eq(conf.shells.n, 2);
    ck_assert_uint_eq(conf.allowed_groups.n, 0);
    ck_assert_uint_eq(conf.scrub_dirs.n, 3);
    ck_assert_str_eq(conf.scrub_dirs.items[0], "/tmp");
    ck_assert_str_eq(conf.scrub_dirs.items[1], "/var/tmp");
    ck_assert_str_eq(conf.scrub_dirs.items[2], "/dev/shm");
    ck_assert_str_eq(conf.state_dir, JIT_STATE_DIR);
    ck_assert_ptr_null(conf.api_url);
    ck_assert(!conf.debug);
}
END_TEST

START_TEST(test_good_file)
{
    ck_assert_uint_eq(parse("# a comment\n"
                            "\n"
                            "api_url = https://jit.example.com/base#frag\n"
                            "  host=web01.example.com  \r\n"
                            "timeout = 10\n"
                            "allowed_groups = sudo, adm ,video\n"
                            "home_policy = archive\n"
                            "debug = yes\n"
                            "uid_min = 80000\n"
                            "uid_max = 80100\n"),
                      0);
    ck_assert_str_eq(conf.api_url, "https://jit.example.com/base#frag");
    ck_assert_str_eq(conf.host, "web01.example.com");
    ck_assert_uint_eq(conf.timeout, 10);
    ck_assert_uint_eq(conf.allowed_groups.n, 3);
    ck_assert_str_eq(conf.allowed_groups.items[1], "adm");
    ck_assert_int_eq(conf.home_policy, JIT_HOME_ARCHIVE);
    ck_assert(conf.debug);
    ck_assert_uint_eq(jit_conf_finish(&conf, "jit.conf", &errs), 0);
}
END_TEST

START_TEST(test_errors_name_file_line_key)
{
    ck_assert_uint_eq(parse("api_url = http://plain.example.com\n"
                            "timeout = 1e3\n"
                            "uid_min = 0x3e8\n"
                            "uid_max = -1\n"
                            "nosuchkey = 1\n"
                            "clock_skew = 60\n"
                            "clock_skew = 61\n"
                            "just words\n"
                            "= value\n"
                            "home_policy = shred\n"
                            "shells = bin/bash\n"
                            "connect_timeout = 4294967296\n"
                            "allowed_groups = sudo,,adm\n"
                            "home_base = /home/../etc\n"
                            "ca_file =\n"
                            "debug = maybe\n"
                            "allowed_groups = root\n"),
                      16);
    has_error("jit.conf:1: api_url: must be an https:// URL");
    has_error("jit.conf:2: timeout: must be a plain decimal number");
    has_error("jit.conf:3: uid_min: must be a plain decimal number");
    has_error("jit.conf:4: uid_max: must be a plain decimal number");
    has_error("jit.conf:5: nosuchkey: unknown option");
    has_error("jit.conf:7: clock_skew: set twice");
    has_error("jit.conf:8: expected key = value");
    has_error("jit.conf:9: missing key before '='");
    has_error("jit.conf:10: home_policy: is not one of the allowed values");
    has_error("jit.conf:11: shells: must be an absolute path");
    has_error("jit.conf:12: connect_timeout: must be between 1 and 60");
    has_error("jit.conf:13: allowed_groups: has an empty list item");
    has_error("jit.conf:14: home_base: must be a normalized path (no '.', "
              "'..' or '//')");
    has_error("jit.conf:15: ca_file: needs a value");
    has_error("jit.conf:16: debug: must be yes or no");
    has_error("jit.conf:17: allowed_groups: set twice");
    /* A refused value leaves the default. */
    ck_assert_uint_eq(conf.timeout, 5);
    ck_assert_ptr_null(conf.api_url);
}
END_TEST

START_TEST(test_range_and_control)
{
    ck_assert_uint_eq(parse("uid_min = 999\nuid_max = 2147483648\n"
                            "reason\x01 = x\nhost = a\x1b[31m\n"
                            "allowed_groups = root\n"),
                      5);
    has_error("jit.conf:1: uid_min: must be between 1000 and 2147483647");
    has_error("jit.conf:2: uid_max: must be between 1000 and 2147483647");
    has_error("jit.conf:4: host: contains control characters");
    has_error("jit.conf:5: allowed_groups: root's group can never be "
              "granted");
}
END_TEST

START_TEST(test_nul_and_long_line)
{
    char big[JIT_CONF_MAX_LINE + 20];
    const char nul[] = "timeout = 5\0 6\n";

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_uint_eq(parse(big), 1);
    has_error("jit.conf:1: line longer than 4096 bytes");
    ck_assert_uint_eq(jit_conf_parse_buffer(&conf, "n.conf", nul,
                                            sizeof(nul) - 1, &errs), 1);
    has_error("n.conf:1: NUL byte in line");
}
END_TEST

START_TEST(test_finish_cross_checks)
{
    ck_assert_uint_eq(parse("uid_min = 90000\nuid_max = 80000\n"
                            "connect_timeout = 10\ntimeout = 5\n"
                            "client_cert = /etc/jit/host.crt\n"
                            "default_shell = /bin/zsh\nhome_base = /\n"),
                      0);
    ck_assert_uint_eq(jit_conf_finish(&conf, "jit.conf", &errs), 6);
    has_error("jit.conf: api_url: required");
    has_error("jit.conf: uid_min: greater than uid_max (90000 > 80000)");
    has_error("jit.conf: connect_timeout: longer than timeout");
    has_error("jit.conf: client_cert: needs client_key, and the other way "
              "round");
    has_error("jit.conf: default_shell: not in shells");
    has_error("jit.conf: home_base: must not be /");
}
END_TEST

START_TEST(test_pam_args)
{
    const char *argv[] = { "debug", "config=/nonexistent", "timeout=3",
                           "uid_min=abc", "bogus", "nokey=1", "=x",
                           "timeout=4" };

    ck_assert_uint_eq(jit_conf_apply_args(&conf, 8, argv, &errs), 5);
    ck_assert(conf.debug);
    ck_assert_uint_eq(conf.timeout, 3);
    has_error("PAM argument 4: uid_min: must be a plain decimal number");
    has_error("PAM argument 5: expected key=value");
    has_error("PAM argument 6: nokey: unknown option");
    has_error("PAM argument 7: expected key=value");
    has_error("PAM argument 8: timeout: set twice");
}
END_TEST

START_TEST(test_print_round_trip)
{
    struct jit_conf again;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    ck_assert_uint_eq(parse("api_url = https://jit.example.com\n"
                            "allowed_groups = sudo,video\n"
                            "home_policy = keep\nhost = h1\n"), 0);
    f = open_memstream(&text, &len);
    jit_conf_print(&conf, f);
    fclose(f);
    ck_assert_int_eq(jit_conf_init(&again), 0);
    ck_assert_uint_eq(jit_conf_parse_buffer(&again, "printed", text, len,
                                            &errs), 0);
    ck_assert_str_eq(again.api_url, conf.api_url);
    ck_assert_uint_eq(again.allowed_groups.n, 2);
    ck_assert_int_eq(again.home_policy, JIT_HOME_KEEP);
    ck_assert_ptr_nonnull(strstr(text, "# api_url: file\n"));
    ck_assert_ptr_nonnull(strstr(text, "# timeout: default\ntimeout = 5\n"));
    jit_conf_free(&again);
    free(text);
}
END_TEST

START_TEST(test_file_checks)
{
    char *dir = t_mkdtemp(), *p = t_path(dir, "jit.conf");
    char *l = t_path(dir, "link.conf");
    const char text[] = "api_url = https://a.example\n";

    t_write_file(p, text, sizeof(text) - 1, 0664);
    ck_assert_uint_eq(jit_conf_load_file(&conf, p, &errs), 1);
    ck_assert_ptr_nonnull(strstr(errs.msg[0], "group- or world-writable"));
    jit_errs_free(&errs);

    ck_assert_int_eq(chmod(p, 0600), 0);
    ck_assert_int_eq(symlink(p, l), 0);
    ck_assert_uint_eq(jit_conf_load_file(&conf, l, &errs), 1);
    ck_assert_ptr_nonnull(strstr(errs.msg[0], "is a symbolic link"));
    jit_errs_free(&errs);

    ck_assert_uint_eq(jit_conf_load_file(&conf, p, &errs), 0);
    ck_assert_str_eq(conf.api_url, "https://a.example");
    ck_assert_uint_eq(jit_conf_load_file(&conf, "/nonexistent/jit.conf",
                                         &errs), 1);
    t_rmtree(dir);
    free(l);
    free(p);
    free(dir);
}
END_TEST

/* The loader pam_jit and jitctl share: the file, config= choosing
 * another, arguments over the file, the cross checks last; on any error
 * nothing is kept. */
START_TEST(test_load)
{
    char *dir = t_mkdtemp(), *p = t_path(dir, "jit.conf");
    char *q = t_path(dir, "other.conf"), *cfg = NULL;
    const char text[] = "api_url = https://a.example\nhost = h1\n"
                        "timeout = 7\n";
    const char other[] = "api_url = https://b.example\nhost = h2\n";
    const char *args[3];
    struct jit_conf c;

    t_write_file(p, text, sizeof(text) - 1, 0600);
    t_write_file(q, other, sizeof(other) - 1, 0600);
    ck_assert_int_eq(jit_conf_load(&c, p, 0, NULL, &errs), 0);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_str_eq(c.api_url, "https://a.example");
    ck_assert_uint_eq(c.timeout, 7);
    jit_conf_free(&c);

    ck_assert_int_ne(asprintf(&cfg, "config=%s", q), -1);
    args[0] = "timeout=9";
    args[1] = cfg;
    args[2] = "debug";
    ck_assert_int_eq(jit_conf_load(&c, p, 3, args, &errs), 0);
    ck_assert_str_eq(c.api_url, "https://b.example");
    ck_assert_str_eq(c.host, "h2");
    ck_assert_uint_eq(c.timeout, 9);
    ck_assert_int_eq(c.debug, 1);
    jit_conf_free(&c);

    /* A bad argument: an error, and the cross checks are not run. */
    args[0] = "timeout";
    ck_assert_int_eq(jit_conf_load(&c, p, 1, args, &errs), -EINVAL);
    ck_assert_uint_eq(errs.n, 1);
    has_error("PAM argument 1: expected key=value");
    jit_errs_free(&errs);

    /* Errors of the file are all given; arguments are not read. */
    ck_assert_int_eq(jit_conf_load(&c, "/nonexistent/jit.conf", 1, args,
                                   &errs), -EINVAL);
    ck_assert_uint_eq(errs.n, 1);
    jit_errs_free(&errs);

    /* The cross checks, naming the file. */
    t_write_file(p, "host = h1\n", 10, 0600);
    ck_assert_int_eq(jit_conf_load(&c, p, 0, NULL, &errs), -EINVAL);
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_ptr_nonnull(strstr(errs.msg[0], "api_url: required"));

    t_rmtree(dir);
    free(cfg);
    free(q);
    free(p);
    free(dir);
}
END_TEST

/* Kerberos keys: one word each; a host authenticates one way. */
START_TEST(test_krb5_keys)
{
    ck_assert_uint_eq(parse("api_url = https://jit.example.com\n"
                            "host = web01.example.com\n"
                            "krb5_principal = host/web01 x\n"
                            "krb5_service =\n"
                            "krb5_keytab = /etc/krb5.keytab\n"
                            "token_file = /etc/jit/token\n"),
                      2);
    has_error("jit.conf:3: krb5_principal: must not contain blanks");
    has_error("jit.conf:4: krb5_service: needs a value");
    ck_assert_str_eq(conf.krb5_service, "HTTP");
    ck_assert_uint_eq(jit_conf_finish(&conf, "jit.conf", &errs), 1);
    has_error("jit.conf: token_file: and krb5_keytab both set; the host "
              "authenticates one way (a client certificate may go with "
              "either)");
}
END_TEST

/* scrub_dirs: absolute, normalized paths, at least one, none twice; a
 * refused value keeps the default list. */
START_TEST(test_scrub_dirs)
{
    ck_assert_uint_eq(parse("scrub_dirs = /tmp, /run/user/x ,/var/tmp\n"), 0);
    ck_assert_uint_eq(conf.scrub_dirs.n, 3);
    ck_assert_str_eq(conf.scrub_dirs.items[1], "/run/user/x");
    jit_conf_free(&conf);
    ck_assert_int_eq(jit_conf_init(&conf), 0);
    ck_assert_uint_eq(parse("scrub_dirs = tmp\n"), 1);
    has_error("jit.conf:1: scrub_dirs: must be an absolute path");
    ck_assert_uint_eq(conf.scrub_dirs.n, 3);
    jit_errs_free(&errs);
    ck_assert_uint_eq(parse("scrub_dirs =\n"), 1);
    has_error("jit.conf:1: scrub_dirs: needs at least one path");
    jit_errs_free(&errs);
    ck_assert_uint_eq(parse("scrub_dirs = /tmp,/tmp/\n"), 1);
    has_error("jit.conf:1: scrub_dirs: must not end with '/'");
    jit_errs_free(&errs);
    ck_assert_uint_eq(parse("scrub_dirs = /tmp,/tmp\n"), 1);
    has_error("jit.conf:1: scrub_dirs: lists an item twice");
}
END_TEST

/* auth_proof: password by default, grant when set, nothing else. */
START_TEST(test_auth_proof)
{
    ck_assert_int_eq(conf.auth_proof, JIT_AUTH_PASSWORD);
    ck_assert_uint_eq(parse("auth_proof = grant\n"), 0);
    ck_assert_int_eq(conf.auth_proof, JIT_AUTH_GRANT);
    ck_assert_uint_eq(parse("auth_proof = none\n"), 1);
    has_error("jit.conf:1: auth_proof: is not one of the allowed values");
    ck_assert_int_eq(conf.auth_proof, JIT_AUTH_GRANT);
    jit_errs_free(&errs);
    ck_assert_uint_eq(parse("auth_proof = password\n"), 0);
    ck_assert_int_eq(conf.auth_proof, JIT_AUTH_PASSWORD);
}
END_TEST

/* audit_format (jit.conf(5)): kv by default, json on request, anything
 * else an error naming the line. */
START_TEST(test_audit_format_key)
{
    ck_assert_int_eq(conf.audit_format, JIT_AUDIT_KV);
    ck_assert_uint_eq(parse("audit_format = json\n"), 0);
    ck_assert_int_eq(conf.audit_format, JIT_AUDIT_JSON);
    ck_assert_uint_eq(parse("audit_format = xml\n"), 1);
    has_error("jit.conf:1: audit_format: is not one of the allowed values");
    ck_assert_int_eq(conf.audit_format, JIT_AUDIT_JSON);
    jit_errs_free(&errs);
    ck_assert_uint_eq(parse("audit_format = kv\n"), 0);
    ck_assert_int_eq(conf.audit_format, JIT_AUDIT_KV);
}
END_TEST

static char last_line[2048];

static void
keep_last(void *ctx, int prio, const char *line)
{
    (void) ctx;
    (void) prio;
    snprintf(last_line, sizeof(last_line), "%s", line);
}

/* One JSON object per line, the kv line's keys in its order and its
 * values: a hostile value (a quote to close the string, a newline to
 * start a line, an escape sequence, a byte of no UTF-8) cannot forge a
 * key, a line or a terminal control. */
START_TEST(test_audit_json)
{
    struct jit_audit a = {
        .event = "login", .result = "deny", .reason = "no_grant",
        .user = "alice", .requester = "eve\",\"result\":\"allow\nFAKE\x1b[2J\xff\\",
        .rhost = "192.0.2.7", .expires = 1795514400,
    };
    struct jit_log log = { keep_last, NULL, 1 };
    struct jit_audit_queue q = { .json = 1 };
    char *line = jit_audit_format_as(&a, 1), *kv = jit_audit_format_as(&a, 0);

    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line,
                     "{\"event\":\"login\",\"result\":\"deny\","
                     "\"reason\":\"no_grant\",\"user\":\"alice\","
                     "\"requester\":\"eve\\\\\\\",\\\\\\\"result\\\\\\\":"
                     "\\\\\\\"allow\\\\nFAKE\\\\x1b[2J\\\\xff\\\\\\\\\","
                     "\"rhost\":\"192.0.2.7\",\"expires\":\"2026-11-24T10:00:00Z\"}");
    ck_assert_ptr_null(strchr(line, '\n'));
    for (const char *p = line; *p; p++)
        ck_assert(*p >= 0x20 && *p < 0x7f);
    /* kv is unchanged by the option's existence. */
    ck_assert_str_eq(kv, "event=\"login\" result=\"deny\" reason=\"no_grant\""
                         " user=\"alice\""
                         " requester=\"eve\\\",\\\"result\\\":\\\"allow\\nFAKE"
                         "\\x1b[2J\\xff\\\\\""
                         " rhost=\"192.0.2.7\" expires=\"2026-11-24T10:00:00Z\"");
    /* Through a log and a deferred queue: the same line. */
    jit_audit(&log, 5, &a);
    ck_assert_str_eq(last_line, line);
    jit_audit_defer(&q, 5, &a);
    last_line[0] = '\0';
    jit_audit_flush(&q, &log);
    ck_assert_str_eq(last_line, line);
    /* A free-form line is an object too. */
    jit_logf(&log, 3, "sync: API: %s", "un\"reachable\n");
    ck_assert_str_eq(last_line,
                     "{\"message\":\"sync: API: un\\\\\\\"reachable\\\\n\"}");
    free(line);
    free(kv);
}
END_TEST

/* The password bound (lib/core/kpass.c): 1 to 512 bytes; the check reads
 * no further than one byte past the bound. */
START_TEST(test_password_bound)
{
    static char pw[1 << 20];
    const char *reason = NULL;
    char err[256];

    ck_assert_str_eq(jit_password_problem(""), "password_empty");
    memset(pw, 'p', sizeof(pw) - 1);
    pw[511] = '\0';
    ck_assert_ptr_null(jit_password_problem(pw));
    pw[511] = 'p';
    pw[512] = '\0';
    ck_assert_ptr_null(jit_password_problem(pw));
    pw[512] = 'p';
    pw[513] = '\0';
    ck_assert_str_eq(jit_password_problem(pw), "password_too_long");
    pw[513] = 'p';
    ck_assert_str_eq(jit_password_problem(pw), "password_too_long");
    /* Refused before any KDC: a requester without a realm, and a host
     * with no keytab to verify with. */
    ck_assert_int_eq(jit_kpass_verify(&conf, "alice", "x", &reason, err,
                                      sizeof(err)), -EACCES);
    ck_assert_str_eq(reason, "no_realm");
    ck_assert_ptr_null(conf.krb5_keytab);
    ck_assert_int_eq(jit_kpass_verify(&conf, "alice@JIT.TEST", "x", &reason,
                                      err, sizeof(err)), -ENOENT);
    ck_assert_str_eq(reason, "no_keytab");
}
END_TEST

/* RFC 4648's test vectors. */
START_TEST(test_base64)
{
    static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba",
                                      "foobar" };
    static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char *b = jit_base64((const unsigned char *) in[i], strlen(in[i]));

        ck_assert_ptr_nonnull(b);
        ck_assert_str_eq(b, want[i]);
        free(b);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_good_file);
    tcase_add_test(tc, test_errors_name_file_line_key);
    tcase_add_test(tc, test_range_and_control);
    tcase_add_test(tc, test_nul_and_long_line);
    tcase_add_test(tc, test_finish_cross_checks);
    tcase_add_test(tc, test_pam_args);
    tcase_add_test(tc, test_print_round_trip);
    tcase_add_test(tc, test_file_checks);
    tcase_add_test(tc, test_load);
    tcase_add_test(tc, test_krb5_keys);
    tcase_add_test(tc, test_scrub_dirs);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_auth_proof);
    tcase_add_test(tc, test_password_bound);
    tcase_add_test(tc, test_audit_format_key);
    tcase_add_test(tc, test_audit_json);
    suite_add_tcase(s, tc);
    return t_run(s);
}
