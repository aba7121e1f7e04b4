#include "core/router/query.h"

#include <string.h>

#include "core/router/urlcode.h"
#include "core/util/err.h"

/* Decodes src[0..len) at buf[*used], NUL-terminated. */
static const char *put(const char *src, size_t len, char *buf, size_t buflen, size_t *used, int *err)
{
    if (buflen - *used < len + 1) {
        *err = krc_err_set(KR_ETOOBIG, "query string buffer too small");
        return NULL;
    }
    char *dst = buf + *used;
    size_t n = krc_url_decode_query(dst, src, len);
    if (n == (size_t)-1) {
        *err = krc_err_set(KR_EINVAL, "query string has a bad percent escape");
        return NULL;
    }
    *used += n + 1;
    return dst;
}

int krc_query_parse(const char *qs, size_t len, krc_query_pair *pairs, size_t max, char *buf, size_t buflen)
{
    size_t n = 0, used = 0;
    int err = 0;
    const char *end = qs + len;
    for (const char *p = qs; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp > p) {
            if (n == max)
                return krc_err_set(KR_EINVAL, "more than %zu query parameters", max);
            const char *eq = memchr(p, '=', (size_t)(amp - p));
            const char *vstart = eq != NULL ? eq + 1 : amp;
            pairs[n].name = put(p, (size_t)((eq != NULL ? eq : amp) - p), buf, buflen, &used, &err);
            if (pairs[n].name == NULL)
                return err;
            pairs[n].value = put(vstart, (size_t)(amp - vstart), buf, buflen, &used, &err);
            if (pairs[n].value == NULL)
                return err;
            n++;
        }
        if (amp == end)
            break;
        p = amp + 1;
    }
    return (int)n;
}

const char *krc_query_get(const krc_query_pair *pairs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pairs[i].name, name) == 0)
            return pairs[i].value;
    return NULL;
}
