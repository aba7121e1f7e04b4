#include "core/router/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Alphabetical, so the Allow value comes out sorted by walking the bits. */
enum { M_DELETE, M_GET, M_HEAD, M_OPTIONS, M_PATCH, M_POST, M_PUT, M_COUNT };
static const char *const method_names[M_COUNT] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};

/* Longest Allow value ("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT") + NUL. */
#define ALLOW_MAX 48

typedef struct route {
    void *target;
    const char *pattern;
    const char *owner;
    size_t nparams;
    const char *names[KRC_ROUTE_MAX_PARAMS];
    char text[]; /* pattern, owner and names, each NUL-terminated */
} route;

typedef struct node node;
struct node {
    node **lits; /* sorted by (seglen, bytes) for binary search */
    size_t nlits;
    node *param; /* one param child whatever its name: names live on routes */
    const route *routes[M_COUNT];
    unsigned methods;
    size_t seglen;
    char seg[];
};

struct krc_router {
    node *root;
    /* Every Allow value, indexed by the method bits seen on a path, so a
     * 405 only hands out a pointer. */
    char allow[1u << M_COUNT][ALLOW_MAX];
};

static int method_index(const char *m, size_t len)
{
    for (int i = 0; i < M_COUNT; i++)
        if (strlen(method_names[i]) == len && memcmp(method_names[i], m, len) == 0)
            return i;
    return -1;
}

static node *node_new(const char *seg, size_t len)
{
    node *n = calloc(1, sizeof(*n) + len + 1);
    if (n == NULL)
        return NULL;
    memcpy(n->seg, seg, len);
    n->seglen = len;
    return n;
}

static void node_free(node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nlits; i++)
        node_free(n->lits[i]);
    free(n->lits);
    node_free(n->param);
    for (int i = 0; i < M_COUNT; i++)
        free((void *)n->routes[i]);
    free(n);
}

static int seg_cmp(const node *n, const char *s, size_t len)
{
    if (n->seglen != len)
        return n->seglen < len ? -1 : 1;
    return memcmp(n->seg, s, len);
}

/* Index of the literal child equal to s, or -(insertion point) - 1. */
static long lit_find(const node *n, const char *s, size_t len)
{
    size_t lo = 0, hi = n->nlits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = seg_cmp(n->lits[mid], s, len);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static node *lit_child(node *n, const char *s, size_t len)
{
    long at = lit_find(n, s, len);
    if (at >= 0)
        return n->lits[at];
    size_t pos = (size_t)(-at - 1);
    node **grown = realloc(n->lits, (n->nlits + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    n->lits = grown;
    node *c = node_new(s, len);
    if (c == NULL)
        return NULL;
    memmove(&n->lits[pos + 1], &n->lits[pos], (n->nlits - pos) * sizeof(*grown));
    n->lits[pos] = c;
    n->nlits++;
    return c;
}

static void fill_allow(krc_router *r)
{
    for (unsigned mask = 0; mask < (1u << M_COUNT); mask++) {
        unsigned m = mask | 1u << M_OPTIONS;
        if (m & 1u << M_GET)
            m |= 1u << M_HEAD;
        char *p = r->allow[mask];
        *p = '\0';
        for (int i = 0; i < M_COUNT; i++) {
            if (!(m & 1u << i))
                continue;
            if (p != r->allow[mask])
                p = stpcpy(p, ", ");
            p = stpcpy(p, method_names[i]);
        }
    }
}

krc_router *krc_router_new(void)
{
    krc_router *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->root = node_new("", 0);
    if (r->root == NULL) {
        free(r);
        return NULL;
    }
    fill_allow(r);
    return r;
}

void krc_router_free(krc_router *r)
{
    if (r == NULL)
        return;
    node_free(r->root);
    free(r);
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Anything else never reaches the router unencoded, so a literal holding it
 * could never match. */
static bool is_pchar(char c)
{
    return is_name_char(c) || (c != '\0' && strchr("-.~%!$&'()*+,;=:@", c) != NULL);
}

/* Why a segment is bad, or NULL. A param's name is returned through name. */
static const char *check_segment(const char *s, size_t len, const char **name, size_t *namelen)
{
    *name = NULL;
    if (len == 0)
        return "empty segment";
    bool braces = memchr(s, '{', len) != NULL || memchr(s, '}', len) != NULL;
    if (!braces) {
        for (size_t i = 0; i < len; i++)
            if (!is_pchar(s[i]))
                return "a literal segment may only hold path characters (RFC 3986 pchar)";
        return NULL;
    }
    if (len < 2 || s[0] != '{' || s[len - 1] != '}' || memchr(s + 1, '{', len - 2) != NULL ||
        memchr(s + 1, '}', len - 2) != NULL)
        return "unbalanced braces (a {param} must be a whole segment)";
    if (len == 2 || !is_name_start(s[1]))
        return "bad param name (want [A-Za-z_][A-Za-z0-9_]*)";
    for (size_t i = 2; i < len - 1; i++)
        if (!is_name_char(s[i]))
            return "bad param name (want [A-Za-z_][A-Za-z0-9_]*)";
    *name = s + 1;
    *namelen = len - 2;
    return NULL;
}

static void describe_owner(const char *owner, char *buf, size_t len)
{
    if (owner != NULL)
        snprintf(buf, len, "plugin \"%s\"", owner);
    else
        snprintf(buf, len, "core");
}

static route *route_new(void *target, const char *pattern, size_t plen, const char *owner, const char *const *names,
                        const size_t *namelens, size_t nparams)
{
    size_t olen = owner != NULL ? strlen(owner) + 1 : 0;
    size_t size = sizeof(route) + plen + 1 + olen;
    for (size_t i = 0; i < nparams; i++)
        size += namelens[i] + 1;
    route *rt = calloc(1, size);
    if (rt == NULL)
        return NULL;
    rt->target = target;
    char *p = rt->text;
    rt->pattern = p;
    memcpy(p, pattern, plen);
    p += plen + 1;
    if (owner != NULL) {
        rt->owner = p;
        memcpy(p, owner, olen);
        p += olen;
    }
    for (size_t i = 0; i < nparams; i++) {
        rt->names[i] = p;
        memcpy(p, names[i], namelens[i]);
        p += namelens[i] + 1;
    }
    rt->nparams = nparams;
    return rt;
}

int krc_router_add(krc_router *r, const char *method, const char *pattern, const char *owner, void *target, char *err,
                   size_t errlen)
{
    char who[128];
    describe_owner(owner, who, sizeof(who));
    if (method == NULL || pattern == NULL) {
        snprintf(err, errlen, "route of %s: method and pattern are required", who);
        return -1;
    }
    int mi = method_index(method, strlen(method));
    if (mi < 0) {
        snprintf(err, errlen, "bad route %s %s (%s): unknown method (want GET HEAD POST PUT PATCH DELETE OPTIONS)",
                 method, pattern, who);
        return -1;
    }
    size_t plen = strlen(pattern);
    if (plen == 0 || pattern[0] != '/') {
        snprintf(err, errlen, "bad route %s \"%s\" (%s): a pattern must start with '/'", method, pattern, who);
        return -1;
    }
    if (plen > 2 && pattern[plen - 1] == '/')
        plen--;
    const char *end = pattern + plen;

    const char *names[KRC_ROUTE_MAX_PARAMS];
    size_t namelens[KRC_ROUTE_MAX_PARAMS];
    size_t nparams = 0;
    for (const char *p = pattern + 1; plen > 1;) {
        const char *e = memchr(p, '/', (size_t)(end - p));
        if (e == NULL)
            e = end;
        const char *name;
        size_t namelen;
        const char *why = check_segment(p, (size_t)(e - p), &name, &namelen);
        if (why == NULL && name != NULL) {
            for (size_t i = 0; i < nparams && why == NULL; i++)
                if (namelens[i] == namelen && memcmp(names[i], name, namelen) == 0)
                    why = "duplicate param name";
            if (why == NULL && nparams == KRC_ROUTE_MAX_PARAMS)
                why = "more than 16 params";
            if (why == NULL) {
                names[nparams] = name;
                namelens[nparams++] = namelen;
            }
        }
        if (why != NULL) {
            snprintf(err, errlen, "bad route %s \"%s\" (%s): %s", method, pattern, who, why);
            return -1;
        }
        if (e == end)
            break;
        p = e + 1;
    }

    node *n = r->root;
    for (const char *p = pattern + 1; plen > 1 && n != NULL;) {
        const char *e = memchr(p, '/', (size_t)(end - p));
        if (e == NULL)
            e = end;
        if (*p == '{') {
            if (n->param == NULL)
                n->param = node_new("", 0);
            n = n->param;
        } else {
            n = lit_child(n, p, (size_t)(e - p));
        }
        if (e == end)
            break;
        p = e + 1;
    }
    if (n == NULL) {
        snprintf(err, errlen, "route %s %.*s (%s): out of memory", method, (int)plen, pattern, who);
        return -1;
    }
    const route *old = n->routes[mi];
    if (old != NULL) {
        char oldwho[128];
        describe_owner(old->owner, oldwho, sizeof(oldwho));
        snprintf(err, errlen, "route conflict: %s %s (%s) and %s %.*s (%s)", method, old->pattern, oldwho, method,
                 (int)plen, pattern, who);
        return -1;
    }
    route *rt = route_new(target, pattern, plen, owner, names, namelens, nparams);
    if (rt == NULL) {
        snprintf(err, errlen, "route %s %.*s (%s): out of memory", method, (int)plen, pattern, who);
        return -1;
    }
    n->routes[mi] = rt;
    n->methods |= 1u << mi;
    return 0;
}

typedef struct walk {
    int mi;        /* -1: a method no route can have */
    unsigned seen; /* methods of every node the whole path reached */
    const route *found;
    const char *vals[KRC_ROUTE_MAX_PARAMS];
    size_t lens[KRC_ROUTE_MAX_PARAMS];
} walk;

/* p is at the '/' before the next segment, or at end. Every trie node sits
 * at one depth and the request has one segment per depth, so a match visits
 * each node at most once despite backtracking. */
static bool walk_from(const node *n, const char *p, const char *end, size_t np, walk *w)
{
    if (p == end) {
        const route *rt = NULL;
        if (w->mi >= 0) {
            rt = n->routes[w->mi];
            if (rt == NULL && w->mi == M_HEAD)
                rt = n->routes[M_GET];
        }
        if (rt != NULL) {
            w->found = rt;
            return true;
        }
        w->seen |= n->methods;
        return false;
    }
    const char *s = p + 1;
    const char *e = memchr(s, '/', (size_t)(end - s));
    if (e == NULL)
        e = end;
    size_t len = (size_t)(e - s);
    long at = lit_find(n, s, len);
    if (at >= 0 && walk_from(n->lits[at], e, end, np, w))
        return true;
    if (n->param != NULL && len > 0) {
        w->vals[np] = s;
        w->lens[np] = len;
        if (walk_from(n->param, e, end, np + 1, w))
            return true;
    }
    return false;
}

int krc_router_match(const krc_router *r, const char *method, size_t mlen, const char *path, size_t plen,
                     krc_route_match *m)
{
    m->target = NULL;
    m->pattern = NULL;
    m->owner = NULL;
    m->nparams = 0;
    m->allow = NULL;
    if (plen == 0 || path[0] != '/')
        return KRC_ROUTE_NOT_FOUND;
    /* "//" keeps its slash: stripping would turn an empty segment into "/". */
    if (plen > 2 && path[plen - 1] == '/')
        plen--;
    walk w;
    w.mi = method_index(method, mlen);
    w.seen = 0;
    w.found = NULL;
    const char *end = path + plen;
    if (!walk_from(r->root, plen == 1 ? end : path, end, 0, &w)) {
        if (w.seen == 0)
            return KRC_ROUTE_NOT_FOUND;
        m->allow = r->allow[w.seen];
        return KRC_ROUTE_METHOD_NOT_ALLOWED;
    }
    const route *rt = w.found;
    m->target = rt->target;
    m->pattern = rt->pattern;
    m->owner = rt->owner;
    m->nparams = rt->nparams;
    for (size_t i = 0; i < rt->nparams; i++) {
        m->params[i].name = rt->names[i];
        m->params[i].value = w.vals[i];
        m->params[i].len = w.lens[i];
    }
    return KRC_ROUTE_FOUND;
}
