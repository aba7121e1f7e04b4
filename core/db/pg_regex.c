#include "core/db/pg_regex.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

typedef struct flags {
    int i, m, s, x;
} flags;

static int set_flag(flags *f, char c)
{
    switch (c) {
    case 'i':
        f->i = 1;
        return 0;
    case 'm':
        f->m = 1;
        return 0;
    case 's':
        f->s = 1;
        return 0;
    case 'x':
        f->x = 1;
        return 0;
    }
    return -1;
}

/* Length of a leading PCRE option group "(?imsx)" in p, 0 if none. */
static size_t leading_group(const char *p, flags *f)
{
    if (strncmp(p, "(?", 2) != 0)
        return 0;
    flags g = *f;
    size_t i = 2;
    while (p[i] != '\0' && p[i] != ')')
        if (set_flag(&g, p[i++]) != 0)
            return 0;
    if (p[i] != ')' || i == 2)
        return 0;
    *f = g;
    return i + 1;
}

int krc_pg_regex(const char *pattern, const char *options, char **out)
{
    *out = NULL;
    flags f = {0};
    for (const char *o = options != NULL ? options : ""; *o != '\0'; o++)
        if (set_flag(&f, *o) != 0)
            return krc_err_set(KR_EINVAL, "$options: unsupported regex option '%c' (supported: i m s x)", *o);
    const char *p = pattern + leading_group(pattern, &f);

    /* Every input byte becomes at most two, plus the option prefix. */
    size_t cap = strlen(p) * 2 + 16;
    char *r = malloc(cap);
    if (r == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    size_t n = 0;
    r[n++] = '(';
    r[n++] = '?';
    r[n++] = f.m ? (f.s ? 'w' : 'n') : (f.s ? 's' : 'p');
    if (f.i)
        r[n++] = 'i';
    if (f.x)
        r[n++] = 'x';
    r[n++] = ')';

    int bracket = 0; /* inside [...] */
    for (size_t i = 0; p[i] != '\0'; i++) {
        char c = p[i];
        if (c == '\\') {
            char e = p[i + 1];
            if (e == '\0') {
                free(r);
                return krc_err_set(KR_EINVAL, "$regex: trailing backslash");
            }
            r[n++] = '\\';
            r[n++] = bracket ? e : e == 'b' ? 'y' : e == 'B' ? 'Y' : e == 'z' ? 'Z' : e;
            i++;
        } else if (bracket) {
            if (c == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
                /* [:alpha:] and friends end with their own ':]' */
                const char *end = strstr(p + i + 2, (char[]){p[i + 1], ']', '\0'});
                size_t len = end != NULL ? (size_t)(end - (p + i)) + 2 : 1;
                memcpy(r + n, p + i, len);
                n += len;
                i += len - 1;
                continue;
            }
            if (c == ']')
                bracket = 0;
            r[n++] = c;
        } else if (c == '[') {
            bracket = 1;
            r[n++] = c;
            if (p[i + 1] == '^')
                r[n++] = p[++i];
            if (p[i + 1] == ']') /* a leading ] is literal */
                r[n++] = p[++i];
        } else {
            r[n++] = c;
        }
    }
    r[n] = '\0';
    *out = r;
    return 0;
}
