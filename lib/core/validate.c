/* SPDX-License-Identifier: MIT */
/*
 * Names and ids (see validate.h).  The rules, and why:
 *  - names: a lower-case letter or '_' first, then [a-z0-9_.-], at most
 *    JIT_NAME_MAX bytes.  That is the POSIX portable set narrowed to what
 *    Debian's adduser accepts; a letter first means no name can be read as
 *    a number (systemd's "0day" ran as root, CVE-2017-1000082) or as an
 *    option ("-rf"), and lower case alone means "ROOT" cannot pass as a
 *    second root.  System and well-known privileged names are reserved.
 *  - ids: inside the configured range, and never an id that is root or
 *    nobody or -1 itself or after truncation to 16 bits, nor one above
 *    INT_MAX where signed comparisons go wrong (polkit CVE-2018-19788).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "core/validate.h"
#include "nss/nssdb_format.h"

static const char *const reserved[] = {
    "adm", "admin", "administrator", "audio", "backup", "bin", "cdrom",
    "daemon", "dialout", "disk", "dip", "docker", "floppy", "ftp", "games",
    "gnats", "halt", "input", "irc", "jit", "kmem", "kvm", "list", "lp",
    "lxd", "mail", "man", "messagebus", "news", "nobody", "nogroup",
    "operator", "plugdev", "polkitd", "postfix", "postgres", "proxy",
    "render", "root", "sasl", "shadow", "shutdown", "src", "sshd", "staff",
    "sudo", "sync", "sys", "syslog", "tape", "tty", "users", "utmp",
    "uucp", "video", "voice", "wheel", "www-data",
};

const char *
jit_name_problem(const char *name)
{
    size_t len;

    if (name == NULL || name[0] == '\0')
        return "empty name";
    len = strnlen(name, JIT_NAME_MAX + 1);
    if (len > JIT_NAME_MAX)
        return "name too long";
    if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return "name must start with a lower-case letter or '_'";
    for (size_t i = 1; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '.' || c == '-'))
            return "name has a character outside [a-z0-9_.-]";
    }
    if (strncmp(name, "systemd-", 8) == 0 || name[0] == '_')
        return "name is reserved";
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(name, reserved[i]) == 0)
            return "name is reserved";
    return NULL;
}

int
jit_name_check(const char *name)
{
    return jit_name_problem(name) == NULL ? 0 : -EINVAL;
}

const char *
jit_id_problem(uint32_t id, uint32_t min, uint32_t max)
{
    if (jit_nssdb_id_forbidden(id))
        return "id is root, nobody or -1 (also as 16 bits)";
    if (id < JIT_NSSDB_ID_FLOOR || id > JIT_NSSDB_ID_CEIL)
        return "id is in the system range or above INT_MAX";
    if (id < min || id > max)
        return "id is outside uid_min..uid_max";
    return NULL;
}

int
jit_id_check(uint32_t id, uint32_t min, uint32_t max)
{
    return jit_id_problem(id, min, max) == NULL ? 0 : -EINVAL;
}

int
jit_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (s == NULL || s[0] == '\0')
        return -EINVAL;
    if (s[0] == '0' && s[1] != '\0')
        return -EINVAL; /* octal or padded: ambiguous */
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 10)
            return i >= 10 && s[i] >= '0' && s[i] <= '9' ? -ERANGE : -EINVAL;
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    if (v > UINT32_MAX || v < min || v > max)
        return -ERANGE;
    *out = (uint32_t) v;
    return 0;
}

const char *
jit_group_problem(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > JIT_NAME_MAX)
        return "group names are 1 to 32 characters";
    if (!((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_'))
        return "group names start with a lower-case letter or '_'";
    for (size_t i = 1; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9')
              || v[i] == '_' || v[i] == '.' || v[i] == '-'))
            return "group names use only [a-z0-9_.-]";
    if (strcmp(v, "root") == 0)
        return "root's group can never be granted";
    return NULL;
}

const char *
jit_path_normal_problem(const char *v)
{
    size_t n = strlen(v);

    if (v[0] != '/')
        return "must be an absolute path";
    if (strstr(v, "/../") || strstr(v, "/./") || strstr(v, "//")
        || (n >= 3 && strcmp(v + n - 3, "/..") == 0)
        || (n >= 2 && strcmp(v + n - 2, "/.") == 0))
        return "must be a normalized path (no '.', '..' or '//')";
    return NULL;
}

const char *
jit_host_problem(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > JIT_HOST_MAX)
        return "host names are 1 to 253 characters";
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z')
              || (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || v[i] == '.'))
            return "host names use only letters, digits, '-' and '.'";
    if (v[0] == '.' || v[0] == '-' || v[n - 1] == '.' || strstr(v, ".."))
        return "not a valid host name";
    return NULL;
}
