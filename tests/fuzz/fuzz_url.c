/* Fuzz target: percent-decoding and query strings (core/router/urlcode.c,
 * query.c) against a naive model.
 *
 * The whole input is decoded as a path and as a query-string part, into a
 * fresh buffer and in place, and parsed as a query string with a buffer of
 * the documented size and with one too small. The model decides the
 * results: RFC 3986 escapes of two hex digits, '+' a space only in a query,
 * NUL (raw or %00) refused; pairs split on '&', empty pieces skipped, cut
 * at the first '='. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/router/query.h"
#include "core/router/urlcode.h"
#include "kirana/error.h"

#define MAX_PAIRS 16

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "url model disagrees: %s (line %d)\n", #cond, __LINE__);                                   \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The decoded bytes into out (room for len), or -1. */
static long model_decode(const char *s, size_t len, bool query, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hex((unsigned char)s[i + 1]), lo = hex((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && query) {
            c = ' ';
        }
        if (c == '\0')
            return -1;
        out[o++] = (char)c;
    }
    return (long)o;
}

static void check_decode(const char *s, size_t len, bool query)
{
    char *want = malloc(len + 1), *got = malloc(len + 1), *inplace = malloc(len + 1);
    long n = model_decode(s, len, query, want);
    size_t g = query ? krc_url_decode_query(got, s, len) : krc_url_decode(got, s, len);
    memcpy(inplace, s, len);
    size_t ip = query ? krc_url_decode_query(inplace, inplace, len) : krc_url_decode(inplace, inplace, len);
    if (n < 0) {
        CHECK(g == (size_t)-1 && ip == (size_t)-1);
    } else {
        CHECK(g == (size_t)n && ip == (size_t)n);
        CHECK(memcmp(got, want, (size_t)n) == 0 && got[n] == '\0');
        CHECK(memcmp(inplace, want, (size_t)n) == 0 && inplace[n] == '\0');
        CHECK(strlen(got) == (size_t)n);
    }
    free(want);
    free(got);
    free(inplace);
}

/* What krc_query_parse must return for qs: the count, or KR_EINVAL. The
 * pairs go into names/values (each malloc'ed, caller frees). */
static int model_query(const char *qs, size_t len, char **names, char **values)
{
    int n = 0;
    const char *end = qs + len;
    for (const char *p = qs; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp > p) {
            if (n == MAX_PAIRS)
                return KR_EINVAL;
            const char *eq = memchr(p, '=', (size_t)(amp - p));
            const char *nend = eq != NULL ? eq : amp, *v = eq != NULL ? eq + 1 : amp;
            names[n] = malloc((size_t)(nend - p) + 1);
            values[n] = malloc((size_t)(amp - v) + 1);
            long nl = model_decode(p, (size_t)(nend - p), true, names[n]);
            long vl = model_decode(v, (size_t)(amp - v), true, values[n]);
            n++;
            if (nl < 0 || vl < 0)
                return KR_EINVAL;
            names[n - 1][nl] = '\0';
            values[n - 1][vl] = '\0';
        }
        p = amp + 1;
    }
    return n;
}

static void check_query(const char *qs, size_t len)
{
    char *names[MAX_PAIRS] = {0}, *values[MAX_PAIRS] = {0};
    int want = model_query(qs, len, names, values);
    krc_query_pair pairs[MAX_PAIRS];
    size_t buflen = 2 * len + 2;
    char *buf = malloc(buflen);
    int got = krc_query_parse(qs, len, pairs, MAX_PAIRS, buf, buflen);
    CHECK(got == want);
    for (int i = 0; i < got; i++) {
        CHECK(pairs[i].name >= buf && pairs[i].name < buf + buflen);
        CHECK(pairs[i].value >= buf && pairs[i].value < buf + buflen);
        CHECK(strcmp(pairs[i].name, names[i]) == 0 && strcmp(pairs[i].value, values[i]) == 0);
        /* the first pair of that name answers */
        int j = 0;
        while (strcmp(names[j], names[i]) != 0)
            j++;
        const char *first = krc_query_get(pairs, (size_t)got, names[i]);
        CHECK(first != NULL && strcmp(first, values[j]) == 0);
    }
    /* a buffer too small never overflows: the same answer or KR_ETOOBIG */
    size_t small = len / 2 + 1;
    char *sbuf = malloc(small);
    int s = krc_query_parse(qs, len, pairs, MAX_PAIRS, sbuf, small);
    CHECK(s == got || s == KR_ETOOBIG);
    free(sbuf);
    free(buf);
    for (int i = 0; i < MAX_PAIRS; i++) {
        free(names[i]);
        free(values[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_decode(s, size, false);
    check_decode(s, size, true);
    check_query(s, size);
    return 0;
}
