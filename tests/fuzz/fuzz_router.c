/* Fuzz target: the router (core/router/router.c) against a naive model.
 *
 * Input: lines. A line's first byte is an opcode: bits 0-2 pick the method
 * (GET HEAD POST PUT PATCH DELETE OPTIONS, 7 = an unknown one), bit 3 adds
 * the rest of the line as a pattern (else matches it as a path), bit 4 adds
 * with a plugin owner instead of the core.
 *
 * The model keeps the added routes as a list and decides everything the
 * router's header promises by brute force: which patterns are valid, which
 * conflict, which route a path reaches (literal beats param at the first
 * depth they differ, HEAD falls back to GET), the 405 Allow value, and that
 * params are the path's own segments (slices inside the path). Any
 * disagreement aborts. After each successful add, the route is matched
 * with a concrete path built from it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/router/router.h"

#define MAX_ROUTES 64
#define MAX_SEGS 64
#define MAX_LINES 128

enum { M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OPTIONS, M_UNKNOWN };
static const char *const methods[8] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"};

typedef struct seg {
    const char *p;
    size_t len;
} seg;

typedef struct model_route {
    int method;
    char *pattern; /* canonical: one trailing slash dropped, as the router does */
    size_t nsegs;
    seg segs[MAX_SEGS];
    bool param[MAX_SEGS];
} model_route;

typedef struct model {
    model_route routes[MAX_ROUTES];
    size_t n;
} model;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "router model disagrees: %s (line %d)\n", #cond, __LINE__);                                \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* One trailing slash is ignored, except in "/" and "//". */
static size_t canonical_len(const char *s, size_t len)
{
    return len > 2 && s[len - 1] == '/' ? len - 1 : len;
}

/* Segments of a canonical path that starts with '/'; SIZE_MAX when there
 * are more than max. "/" has none. */
static size_t split(const char *s, size_t len, seg *out, size_t max)
{
    if (len == 1)
        return 0;
    size_t n = 0;
    const char *p = s + 1, *end = s + len;
    for (;;) {
        const char *e = memchr(p, '/', (size_t)(end - p));
        if (e == NULL)
            e = end;
        if (n == max)
            return SIZE_MAX;
        out[n++] = (seg){p, (size_t)(e - p)};
        if (e == end)
            return n;
        p = e + 1;
    }
}

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static bool pchar(char c)
{
    return name_char(c) || (c != '\0' && strchr("-.~%!$&'()*+,;=:@", c) != NULL);
}

/* Whether a canonical pattern is one the router must accept, filling the
 * route's segments on the way. */
static bool valid_pattern(model_route *rt)
{
    const char *s = rt->pattern;
    size_t len = strlen(s);
    if (len == 0 || s[0] != '/')
        return false;
    size_t n = split(s, len, rt->segs, MAX_SEGS);
    if (n == SIZE_MAX)
        return false;
    rt->nsegs = n;
    size_t nparams = 0;
    for (size_t i = 0; i < n; i++) {
        const seg *g = &rt->segs[i];
        if (g->len == 0)
            return false;
        bool braces = memchr(g->p, '{', g->len) != NULL || memchr(g->p, '}', g->len) != NULL;
        rt->param[i] = braces;
        if (!braces) {
            for (size_t j = 0; j < g->len; j++)
                if (!pchar(g->p[j]))
                    return false;
            continue;
        }
        if (g->len < 3 || g->p[0] != '{' || g->p[g->len - 1] != '}' || !name_start(g->p[1]))
            return false;
        for (size_t j = 2; j < g->len - 1; j++)
            if (!name_char(g->p[j]))
                return false;
        for (size_t k = 0; k < i; k++)
            if (rt->param[k] && rt->segs[k].len == g->len && memcmp(rt->segs[k].p, g->p, g->len) == 0)
                return false;
        if (++nparams > KRC_ROUTE_MAX_PARAMS)
            return false;
    }
    return true;
}

/* Same method and the same shape once params are alike. */
static bool conflicts(const model_route *a, const model_route *b)
{
    if (a->method != b->method || a->nsegs != b->nsegs)
        return false;
    for (size_t i = 0; i < a->nsegs; i++) {
        if (a->param[i] != b->param[i])
            return false;
        if (!a->param[i] && (a->segs[i].len != b->segs[i].len || memcmp(a->segs[i].p, b->segs[i].p, a->segs[i].len)))
            return false;
    }
    return true;
}

static bool route_matches(const model_route *rt, const seg *ps, size_t n)
{
    if (rt->nsegs != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (rt->param[i] ? ps[i].len == 0
                         : rt->segs[i].len != ps[i].len || memcmp(rt->segs[i].p, ps[i].p, ps[i].len) != 0)
            return false;
    }
    return true;
}

/* Literal before param at the first depth that differs: a smaller key is
 * reached first. */
static uint64_t route_key(const model_route *rt)
{
    uint64_t k = 0;
    for (size_t i = 0; i < rt->nsegs; i++)
        if (rt->param[i])
            k |= UINT64_C(1) << (63 - i);
    return k;
}

static void allow_value(unsigned mask, char *out)
{
    static const int order[] = {M_DELETE, M_GET, M_HEAD, M_OPTIONS, M_PATCH, M_POST, M_PUT};
    mask |= 1u << M_OPTIONS;
    if (mask & 1u << M_GET)
        mask |= 1u << M_HEAD;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!(mask & 1u << order[i]))
            continue;
        if (out[0] != '\0')
            strcat(out, ", ");
        strcat(out, methods[order[i]]);
    }
}

static void check_match(const krc_router *r, const model *md, int mi, const char *path, size_t len)
{
    krc_route_match m;
    int rc = krc_router_match(r, methods[mi], strlen(methods[mi]), path, len, &m);
    if (len == 0 || path[0] != '/') {
        CHECK(rc == KRC_ROUTE_NOT_FOUND);
        return;
    }
    size_t clen = canonical_len(path, len);
    seg ps[MAX_SEGS];
    size_t n = split(path, clen, ps, MAX_SEGS);
    const model_route *best = NULL;
    uint64_t best_key = UINT64_MAX;
    unsigned seen = 0;
    for (size_t i = 0; n != SIZE_MAX && i < md->n; i++) {
        const model_route *rt = &md->routes[i];
        if (!route_matches(rt, ps, n))
            continue;
        seen |= 1u << rt->method;
        bool fits = rt->method == mi || (mi == M_HEAD && rt->method == M_GET);
        uint64_t k = route_key(rt);
        /* at one node HEAD's own route wins over the GET fallback */
        if (fits && (best == NULL || k < best_key || (k == best_key && rt->method == mi))) {
            best = rt;
            best_key = k;
        }
    }
    if (best != NULL) {
        CHECK(rc == KRC_ROUTE_FOUND);
        CHECK(m.target == best);
        CHECK(m.allow == NULL);
        CHECK(strcmp(m.pattern, best->pattern) == 0);
        size_t np = 0;
        for (size_t i = 0; i < best->nsegs; i++) {
            if (!best->param[i])
                continue;
            CHECK(np < m.nparams);
            const krc_route_param *prm = &m.params[np++];
            /* the value is the path's own segment, not a copy */
            CHECK(prm->value == ps[i].p && prm->len == ps[i].len);
            CHECK(prm->value >= path && prm->value + prm->len <= path + len);
            CHECK(strlen(prm->name) == best->segs[i].len - 2 &&
                  memcmp(prm->name, best->segs[i].p + 1, best->segs[i].len - 2) == 0);
        }
        CHECK(np == m.nparams);
        return;
    }
    CHECK(m.target == NULL && m.nparams == 0);
    if (seen == 0) {
        CHECK(rc == KRC_ROUTE_NOT_FOUND);
        CHECK(m.allow == NULL);
        return;
    }
    CHECK(rc == KRC_ROUTE_METHOD_NOT_ALLOWED);
    char want[64];
    allow_value(seen, want);
    CHECK(m.allow != NULL && strcmp(m.allow, want) == 0);
}

/* A path the route must answer: its literals, and "v<i>" for params. */
static void concrete_path(const model_route *rt, char *out, size_t outlen)
{
    size_t o = 0;
    out[o++] = '/';
    for (size_t i = 0; i < rt->nsegs && o < outlen - 16; i++) {
        if (i > 0)
            out[o++] = '/';
        if (rt->param[i]) {
            o += (size_t)snprintf(out + o, outlen - o, "v%zu", i);
        } else {
            size_t l = rt->segs[i].len < outlen - 16 - o ? rt->segs[i].len : outlen - 16 - o;
            memcpy(out + o, rt->segs[i].p, l);
            o += l;
        }
    }
    out[o] = '\0';
}

static void add_route(krc_router *r, model *md, int mi, bool plugin, const char *text, size_t tlen)
{
    if (md->n == MAX_ROUTES)
        return;
    /* the router takes C strings: the pattern ends at a NUL */
    size_t plen = strnlen(text, tlen);
    /* at most MAX_SEGS segments, so the model's keys and arrays hold it */
    if (plen > 2 * MAX_SEGS)
        return;
    model_route *rt = &md->routes[md->n];
    rt->pattern = malloc(plen + 1);
    memcpy(rt->pattern, text, plen);
    rt->pattern[plen] = '\0';
    rt->method = mi;
    char err[512];
    err[0] = '\0';
    int rc = krc_router_add(r, methods[mi], rt->pattern, plugin ? "fz" : NULL, rt, err, sizeof(err));
    rt->pattern[canonical_len(rt->pattern, plen)] = '\0';
    bool valid = mi != M_UNKNOWN && valid_pattern(rt);
    bool clash = false;
    for (size_t i = 0; valid && i < md->n; i++)
        clash |= conflicts(&md->routes[i], rt);
    if (!valid || clash) {
        CHECK(rc == -1);
        CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
        CHECK(!clash || strstr(err, "conflict") != NULL);
        free(rt->pattern);
        return;
    }
    CHECK(rc == 0);
    md->n++;
    char path[4096];
    concrete_path(rt, path, sizeof(path));
    check_match(r, md, mi, path, strlen(path));
    if (mi == M_GET)
        check_match(r, md, M_HEAD, path, strlen(path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    krc_router *r = krc_router_new();
    if (r == NULL)
        return 0;
    model *md = calloc(1, sizeof(*md));
    const uint8_t *p = data, *end = data + size;
    for (int lines = 0; p < end && lines < MAX_LINES; lines++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        if (nl > p) {
            int mi = p[0] & 7;
            const char *text = (const char *)p + 1;
            size_t tlen = (size_t)(nl - p) - 1;
            if (p[0] & 8)
                add_route(r, md, mi, p[0] & 16, text, tlen);
            else
                check_match(r, md, mi, text, tlen);
        }
        p = nl < end ? nl + 1 : end;
    }
    for (size_t i = 0; i < md->n; i++)
        free(md->routes[i].pattern);
    free(md);
    krc_router_free(r);
    return 0;
}
