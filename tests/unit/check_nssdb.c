/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the snapshot writer and reader round trip, and hostile
 * snapshots (doc/design.md, threat E4): each must be refused whole, never
 * crash.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nss/nssdb_read.h"
#include "state/nssdb_write.h"
#include "testlib.h"

/* Parse from a private 8-aligned copy, as a mapping would be. */
static int
parse_copy(const void *data, size_t len)
{
    struct jit_nssdb db;
    void *copy = NULL;
    int r;

    ck_assert_int_eq(posix_memalign(&copy, 8, len ? len : 8), 0);
    memcpy(copy, data, len);
    r = jit_nssdb_parse(copy, len, &db);
    free(copy);
    return r;
}

START_TEST(test_round_trip)
{
    struct t_accounts a;
    struct jit_nssdb_image img;
    struct jit_nssdb db;
    const struct jit_nssdb_passwd *p;
    const struct jit_nssdb_group *g;
    const struct jit_nssdb_shadow *sp;

    t_accounts_make(&a, 1000, "user", "JIT db-admin");
    t_build(&a, 42, &img);
    ck_assert_int_eq(jit_nssdb_parse(img.data, img.len, &db), 0);
    ck_assert_uint_eq(db.hdr.generation, 42);
    ck_assert_uint_eq(db.hdr.n_passwd, 1000);
    for (size_t i = 0; i < a.n; i++) {
        p = jit_nssdb_pw_byname(&db, a.names[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(p->uid, T_ID_MIN + i);
        ck_assert_ptr_eq(jit_nssdb_pw_byuid(&db, (uint32_t) (T_ID_MIN + i)),
                         p);
        ck_assert_str_eq(jit_nssdb_str(&db, p->block), a.names[i]);
        ck_assert_str_eq(jit_nssdb_str(&db, p->block + p->dir_at), a.dirs[i]);
        ck_assert_str_eq(jit_nssdb_str(&db, p->block + p->gecos_at),
                         "JIT db-admin");
        ck_assert_str_eq(jit_nssdb_str(&db, p->block + p->shell_at),
                         "/bin/bash");
        ck_assert_uint_eq(p->gids_count, i % 2 == 0 ? 2 : 0);
        g = jit_nssdb_gr_bygid(&db, p->gid);
        ck_assert_ptr_nonnull(g);
        ck_assert_ptr_eq(jit_nssdb_gr_byname(&db, a.names[i]), g);
        sp = jit_nssdb_sp_byname(&db, a.names[i]);
        ck_assert_ptr_nonnull(sp);
        /* 1700000000 is day 19675 plus 81200 s; expiry 1700003600 is in
         * the same day, so pam_unix refuses from day 19676 on. */
        ck_assert_int_eq(sp->lstchg, 19675);
        ck_assert_int_eq(sp->expire, 19676);
        ck_assert_int_eq(sp->max, -1);
        /* Whose, until when, live: for the localauth plugin. */
        ck_assert_str_eq(jit_nssdb_str(&db, p->requester), "alice@JIT.TEST");
        ck_assert(p->requester >= p->block + p->block_len
                  || p->requester < p->block);
        ck_assert_int_eq(p->ends, 1700003600);
        ck_assert_uint_eq(p->flags, JIT_NSSDB_F_LIVE);
    }
    ck_assert_ptr_null(jit_nssdb_pw_byname(&db, "user1000"));
    ck_assert_ptr_null(jit_nssdb_pw_byname(&db, ""));
    ck_assert_ptr_null(jit_nssdb_pw_byuid(&db, T_ID_MIN + 1000));
    ck_assert_ptr_null(jit_nssdb_pw_byuid(&db, 0));
    ck_assert_ptr_null(jit_nssdb_gr_bygid(&db, 27));
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}
END_TEST

START_TEST(test_empty_snapshot)
{
    struct jit_nssdb_image img;
    struct jit_nssdb db;

    ck_assert_int_eq(jit_nssdb_build(NULL, 0, T_ID_MIN, T_ID_MAX, 1, 0,
                                     &img), 0);
    ck_assert_int_eq(jit_nssdb_parse(img.data, img.len, &db), 0);
    ck_assert_ptr_null(jit_nssdb_pw_byname(&db, "alice"));
    ck_assert_ptr_null(jit_nssdb_pw_byuid(&db, T_ID_MIN));
    jit_nssdb_image_free(&img);
}
END_TEST

START_TEST(test_writer_refuses_bad_rows)
{
    struct t_accounts a;
    struct jit_nssdb_image img;
    static const uint32_t root_group[] = { 0 };

    t_accounts_make(&a, 3, "u", "x");
    a.v[1].uid = a.v[1].gid = 0;
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].uid = a.v[1].gid = T_ID_MAX + 1;
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].uid = a.v[1].gid = T_ID_MIN + 1;
    a.v[1].gid = T_ID_MIN + 2; /* private group must be gid = uid */
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].gid = T_ID_MIN + 1;
    a.v[1].gids = root_group;
    a.v[1].n_gids = 1;
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].n_gids = 0;
    a.v[1].name = "Root";
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].name = "u0"; /* duplicate name */
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EEXIST);
    a.v[1].name = a.names[1];
    a.v[1].uid = a.v[1].gid = T_ID_MIN; /* duplicate uid */
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EEXIST);
    a.v[1].uid = a.v[1].gid = T_ID_MIN + 1;
    a.v[1].gecos = "evil\nroot::0:0::/:/bin/sh";
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].gecos = "a:b";
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    a.v[1].gecos = "fine";
    /* The requester: 1 to 256 bytes; a ':' or a control character is
     * carried as is (never part of a passwd line; escaped when logged). */
    {
        char longreq[JIT_NSSDB_REQUESTER_MAX + 2];

        a.v[1].requester = NULL;
        ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0,
                                         &img), -EINVAL);
        a.v[1].requester = "";
        ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0,
                                         &img), -EINVAL);
        a.v[1].requester = "alice@JIT.TEST\n\x1b[2J";
        ck_assert_ptr_null(jit_nssdb_account_problem(&a.v[1], T_ID_MIN,
                                                     T_ID_MAX));
        memset(longreq, 'a', sizeof(longreq) - 1);
        longreq[sizeof(longreq) - 1] = '\0';
        a.v[1].requester = longreq;
        ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0,
                                         &img), -EINVAL);
        longreq[JIT_NSSDB_REQUESTER_MAX] = '\0';
        ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0,
                                         &img), 0);
        jit_nssdb_image_free(&img);
        a.v[1].requester = "host/x:1@JIT.TEST";
        ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0,
                                         &img), 0);
        jit_nssdb_image_free(&img);
    }
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, 999, T_ID_MAX, 1, 0, &img),
                     -EINVAL);
    ck_assert_int_eq(jit_nssdb_build(a.v, 3, T_ID_MIN, T_ID_MAX, 1, 0, &img),
                     0);
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}
END_TEST

START_TEST(test_truncated)
{
    struct t_accounts a;
    struct jit_nssdb_image img;

    t_accounts_make(&a, 20, "u", "x");
    t_build(&a, 1, &img);
    for (size_t len = 0; len < img.len; len++)
        ck_assert_msg(parse_copy(img.data, len) == -EINVAL,
                      "accepted a snapshot truncated to %zu", len);
    ck_assert_int_eq(parse_copy(img.data, img.len), 0);
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}
END_TEST

START_TEST(test_bit_flips)
{
    struct t_accounts a;
    struct jit_nssdb_image img;

    t_accounts_make(&a, 20, "u", "x");
    t_build(&a, 1, &img);
    for (size_t i = 0; i < img.len; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            img.data[i] ^= (unsigned char) (1u << bit);
            ck_assert_msg(parse_copy(img.data, img.len) == -EINVAL,
                          "accepted a flip of bit %d in byte %zu", bit, i);
            img.data[i] ^= (unsigned char) (1u << bit);
        }
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}
END_TEST

/* Change the header, re-seal the checksum, expect refusal: the structural
 * checks must hold on their own, not only through the checksum. */
static void
tamper_header(struct jit_nssdb_image *img,
              void (*edit)(struct jit_nssdb_header *h))
{
    struct jit_nssdb_header h;
    unsigned char *copy = malloc(img->len);

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, img->data, img->len);
    memcpy(&h, copy, sizeof(h));
    edit(&h);
    memcpy(copy, &h, sizeof(h));
    h.checksum = jit_nssdb_checksum(copy, img->len);
    memcpy(copy, &h, sizeof(h));
    ck_assert_int_eq(parse_copy(copy, img->len), -EINVAL);
    free(copy);
}

static void e_magic(struct jit_nssdb_header *h) { h->magic[0] = 'X'; }
/* The format before requesters (1) and one after this one. */
static void e_version(struct jit_nssdb_header *h) { h->version = 1; }
static void e_version_next(struct jit_nssdb_header *h) { h->version = JIT_NSSDB_VERSION + 1; }
static void e_hsize(struct jit_nssdb_header *h) { h->header_size = 8; }
static void e_fsize(struct jit_nssdb_header *h) { h->file_size += 8; }
static void e_strtab(struct jit_nssdb_header *h) { h->strtab_len += 4096; }
static void e_pwoff(struct jit_nssdb_header *h) { h->passwd_off = 0xfffffff8u; }
static void e_pwalign(struct jit_nssdb_header *h) { h->passwd_off += 4; }
static void e_count(struct jit_nssdb_header *h) { h->n_passwd = 0x7fffffffu; }
static void e_buckets(struct jit_nssdb_header *h) { h->pw_buckets = 3; }
static void e_fewbuckets(struct jit_nssdb_header *h) { h->pw_buckets = 16; }
static void e_idxoff(struct jit_nssdb_header *h) { h->sp_byname_off = h->file_size; }
static void e_gids(struct jit_nssdb_header *h) { h->n_gids = 0; }
static void e_range_low(struct jit_nssdb_header *h) { h->id_min = 0; }
static void e_range_narrow(struct jit_nssdb_header *h) { h->id_max = h->id_min + 5; }
static void e_range_high(struct jit_nssdb_header *h) { h->id_max = 0xffffffffu; }
static void e_reserved(struct jit_nssdb_header *h) { h->reserved = 1; }

START_TEST(test_hostile_headers)
{
    static void (*const edits[])(struct jit_nssdb_header *) = {
        e_magic, e_version, e_version_next, e_hsize, e_fsize, e_strtab, e_pwoff, e_pwalign,
        e_count, e_buckets, e_fewbuckets, e_idxoff, e_gids, e_range_low,
        e_range_narrow, e_range_high, e_reserved,
    };
    struct t_accounts a;
    struct jit_nssdb_image img;

    t_accounts_make(&a, 20, "u", "x");
    t_build(&a, 1, &img);
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++)
        tamper_header(&img, edits[i]);
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}
END_TEST

/* Change one record field, re-seal, expect refusal. */
static void
tamper_record(uint32_t field_value, size_t field_offset, int which)
{
    struct t_accounts a;
    struct jit_nssdb_image img;
    struct jit_nssdb_header h;
    size_t at;

    t_accounts_make(&a, 20, "u", "x");
    t_build(&a, 1, &img);
    memcpy(&h, img.data, sizeof(h));
    at = which == 0 ? h.passwd_off + 5 * sizeof(struct jit_nssdb_passwd)
       : which == 1 ? h.group_off + 5 * sizeof(struct jit_nssdb_group)
       : which == 2 ? h.gids_off
                    : h.pw_byuid_off;
    memcpy(img.data + at + field_offset, &field_value, 4);
    h.checksum = jit_nssdb_checksum(img.data, img.len);
    memcpy(img.data, &h, sizeof(h));
    ck_assert_msg(parse_copy(img.data, img.len) == -EINVAL,
                  "accepted value %u at field %zu of section %d",
                  (unsigned) field_value, field_offset, which);
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}

START_TEST(test_hostile_records)
{
    size_t uid = offsetof(struct jit_nssdb_passwd, uid);
    size_t gid = offsetof(struct jit_nssdb_passwd, gid);
    size_t block = offsetof(struct jit_nssdb_passwd, block);
    size_t blen = offsetof(struct jit_nssdb_passwd, block_len);
    size_t fields = offsetof(struct jit_nssdb_passwd, name_len);
    size_t gcount = offsetof(struct jit_nssdb_passwd, gids_count);

    tamper_record(0, uid, 0);           /* uid 0 */
    tamper_record(0, gid, 0);           /* gid 0 */
    tamper_record(65534, uid, 0);       /* nobody */
    tamper_record(T_ID_MAX + 1, uid, 0); /* outside the header's range */
    tamper_record(T_ID_MIN - 1, gid, 0);
    tamper_record(0x7fffffff, block, 0); /* string offset out of bounds */
    tamper_record(0x7fffffff, blen, 0);  /* block past the table */
    tamper_record(3, blen, 0);           /* block shorter than its fields */
    tamper_record(0x00ff0004, fields, 0); /* name_len 4, gecos_at 255 */
    tamper_record(0x00090005, fields, 0); /* gecos_at not after "x" */
    tamper_record(0, block, 0);          /* another account's block */
    tamper_record(0xffffffffu, gcount, 0); /* gid slice out of bounds */
    tamper_record(0, offsetof(struct jit_nssdb_group, gid), 1);
    tamper_record(0, 0, 2);             /* supplementary gid 0 */
    tamper_record(999, 0, 3);           /* index entry past the records */
    tamper_record(0x7fffffff, offsetof(struct jit_nssdb_passwd, requester),
                  0);                   /* requester out of bounds */
    tamper_record(2, offsetof(struct jit_nssdb_passwd, flags), 0);
    tamper_record(0x80000001u, offsetof(struct jit_nssdb_passwd, flags), 0);
}
END_TEST

/* An empty requester is refused (pointed at a name's NUL), and so is one
 * longer than a requester may be (its NUL overwritten). */
START_TEST(test_hostile_requester)
{
    char longreq[JIT_NSSDB_REQUESTER_MAX + 1];
    struct t_accounts a;
    struct jit_nssdb_image img;
    struct jit_nssdb_header h;
    struct jit_nssdb_passwd p;
    size_t at;

    memset(longreq, 'r', sizeof(longreq) - 1);
    longreq[sizeof(longreq) - 1] = '\0';
    t_accounts_make(&a, 4, "u", "x");
    a.v[2].requester = longreq;
    t_build(&a, 1, &img);
    memcpy(&h, img.data, sizeof(h));
    at = h.passwd_off + 2 * sizeof(p);
    memcpy(&p, img.data + at, sizeof(p));
    ck_assert_int_eq(parse_copy(img.data, img.len), 0);
    ck_assert_uint_eq(p.requester, p.block + p.block_len);
    p.requester = p.block + p.name_len; /* the name's NUL: "" */
    memcpy(img.data + at, &p, sizeof(p));
    h.checksum = jit_nssdb_checksum(img.data, img.len);
    memcpy(img.data, &h, sizeof(h));
    ck_assert_int_eq(parse_copy(img.data, img.len), -EINVAL);
    p.requester = p.block + p.block_len;
    memcpy(img.data + at, &p, sizeof(p));
    img.data[h.strtab_off + p.requester + JIT_NSSDB_REQUESTER_MAX] = 'x';
    h.checksum = jit_nssdb_checksum(img.data, img.len);
    memcpy(img.data, &h, sizeof(h));
    ck_assert_int_eq(parse_copy(img.data, img.len), -EINVAL);
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
}
END_TEST

START_TEST(test_map_checks_file)
{
    char *dir = t_mkdtemp(), *p = t_path(dir, "nss.db");
    char *l = t_path(dir, "link.db");
    struct t_accounts a;
    struct jit_nssdb_image img;
    struct jit_nssdb db;
    struct stat st;

    t_accounts_make(&a, 5, "u", "x");
    t_build(&a, 1, &img);
    t_write_file(p, img.data, img.len, 0644);
    ck_assert_int_eq(jit_nssdb_map(p, geteuid(), &db, &st), 0);
    ck_assert_ptr_nonnull(jit_nssdb_pw_byname(&db, "u3"));
    jit_nssdb_unmap(&db);

    ck_assert_int_eq(jit_nssdb_map(p, geteuid() + 1, &db, &st), -EPERM);
    ck_assert_int_eq(chmod(p, 0664), 0);
    ck_assert_int_eq(jit_nssdb_map(p, geteuid(), &db, &st), -EPERM);
    ck_assert_int_eq(chmod(p, 0646), 0);
    ck_assert_int_eq(jit_nssdb_map(p, geteuid(), &db, &st), -EPERM);
    ck_assert_int_eq(chmod(p, 0644), 0);
    ck_assert_int_eq(symlink(p, l), 0);
    ck_assert_int_eq(jit_nssdb_map(l, geteuid(), &db, &st), -ELOOP);
    ck_assert_int_eq(jit_nssdb_map(dir, geteuid(), &db, &st), -EPERM);
    ck_assert_int_eq(jit_nssdb_map("/nonexistent/nss.db", 0, &db, &st),
                     -ENOENT);
    if (geteuid() == 0) {
        /* The real reader wants root's file: owned by nobody is refused. */
        ck_assert_int_eq(chown(p, 65534, 65534), 0);
        ck_assert_int_eq(jit_nssdb_map(p, 0, &db, &st), -EPERM);
    }
    t_rmtree(dir);
    jit_nssdb_image_free(&img);
    t_accounts_free(&a);
    free(l);
    free(p);
    free(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("nssdb");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_snapshot);
    tcase_add_test(tc, test_writer_refuses_bad_rows);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_bit_flips);
    tcase_add_test(tc, test_hostile_headers);
    tcase_add_test(tc, test_hostile_records);
    tcase_add_test(tc, test_hostile_requester);
    tcase_add_test(tc, test_map_checks_file);
    suite_add_tcase(s, tc);
    return t_run(s);
}
