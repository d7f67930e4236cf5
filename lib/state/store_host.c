/* SPDX-License-Identifier: MIT */
/*
 * The state store's default view of the host: whether another source
 * (files, LDAP, SSSD, ...) owns a name or an id, and the gid of a group,
 * asked through NSS so that every configured source answers, and which
 * boot of the host this is (see
 * struct jit_store_host in store.h; tests replace it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "state/store_impl.h"

static int
nss_name_taken(const char *name, void *ctx)
{
    struct passwd pw, *pwr = NULL;
    struct group gr, *grr = NULL;
    char buf[16384];
    int r;

    (void) ctx;
    r = getpwnam_r(name, &pw, buf, sizeof(buf), &pwr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    if (pwr != NULL)
        return 1;
    r = getgrnam_r(name, &gr, buf, sizeof(buf), &grr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    return grr != NULL;
}

static int
nss_id_taken(uint32_t id, void *ctx)
{
    struct passwd pw, *pwr = NULL;
    struct group gr, *grr = NULL;
    char buf[16384];
    int r;

    (void) ctx;
    r = getpwuid_r(id, &pw, buf, sizeof(buf), &pwr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    if (pwr != NULL)
        return 1;
    r = getgrgid_r(id, &gr, buf, sizeof(buf), &grr);
    if (r != 0 && r != ENOENT && r != ESRCH)
        return -r;
    return grr != NULL;
}

static int
nss_group_gid(const char *group, uint32_t *gid, void *ctx)
{
    struct group gr, *grr = NULL;
    char buf[16384];
    int r;

    (void) ctx;
    r = getgrnam_r(group, &gr, buf, sizeof(buf), &grr);
    if (r != 0)
        return -r;
    if (grr == NULL)
        return -ENOENT;
    *gid = gr.gr_gid;
    return 0;
}

/* The kernel's id of this boot: a new one at every boot, the same for
 * every process (and container) of one. */
static int
proc_boot_id(char *out, size_t size, void *ctx)
{
    ssize_t n;
    int fd, err;

    (void) ctx;
    fd = open("/proc/sys/kernel/random/boot_id",
              O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, out, size - 1);
    err = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -err : -EIO;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return out[0] ? 0 : -EIO;
}

const struct jit_store_host jit_store_nss_host = {
    nss_name_taken, nss_id_taken, nss_group_gid, NULL, proc_boot_id
};
