#include "core/db/path.h"

#include <string.h>

#include "core/util/err.h"

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int krc_db_path_seg_is_index(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

static int seg_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (is_digit(s[0]))
        return n <= 9 && krc_db_path_seg_is_index(s, n);
    if (!is_alpha(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]))
            return 0;
    return 1;
}

int krc_db_path_check(const char *path, const char *what)
{
    if (path == NULL || path[0] == '\0')
        return krc_err_set(KR_EINVAL, "%s: empty field name", what);
    if (path[0] == '$')
        return krc_err_set(KR_EINVAL, "%s: unsupported operator %.64s", what, path);
    size_t len = strlen(path);
    if (len > KRC_DB_PATH_MAX)
        return krc_err_set(KR_EINVAL, "%s: field path longer than %d bytes", what, KRC_DB_PATH_MAX);
    int depth = 0;
    for (const char *s = path;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
        if (!seg_ok(s, n) || ++depth > KRC_DB_PATH_DEPTH)
            return krc_err_set(KR_EINVAL,
                               "%s: bad field path \"%.64s\" (segments are [A-Za-z_][A-Za-z0-9_]* or array "
                               "indexes, at most %d)",
                               what, path, KRC_DB_PATH_DEPTH);
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    return 0;
}

int krc_db_path_depth(const char *path)
{
    int n = 1;
    for (const char *p = path; *p != '\0'; p++)
        n += *p == '.';
    return n;
}

int krc_db_path_is_prefix(const char *a, const char *b)
{
    size_t n = strlen(a);
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '.');
}
