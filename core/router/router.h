/* Core: method + path-pattern routing.
 *
 * Patterns are absolute paths whose segments are literals or {name} params
 * (name [A-Za-z_][A-Za-z0-9_]*). They live in a segment trie built on the
 * main thread at startup; afterwards the router is read-only, so any number
 * of threads match against it without locks, and a match allocates nothing.
 *
 * Matching rules:
 *  - a literal segment beats a param at the same depth, with backtracking:
 *    `/a/{x}/c` and `/a/b/d` are both reachable;
 *  - a route of the request's method anywhere on the path wins over 405, so
 *    `GET /a/b` and `POST /a/{x}` both answer `/a/b`;
 *  - one trailing slash is ignored (`/a/` is `/a`); `/` itself is a route;
 *  - HEAD falls back to GET;
 *  - segments are compared raw (callers strip the query string first; a
 *    `%2F` stays inside its segment) and param values are returned raw:
 *    decode them with krc_url_decode.
 *
 * OPTIONS without a route of its own is METHOD_NOT_ALLOWED with the path's
 * Allow list, which always names OPTIONS: the pipeline answers it itself
 * (CORS preflight or a plain 204 with Allow). A plugin that registers
 * OPTIONS on a path takes that over. */
#ifndef KRC_ROUTER_H
#define KRC_ROUTER_H

#include <stddef.h>

#define KRC_ROUTE_MAX_PARAMS 16

typedef struct krc_router krc_router;

typedef enum krc_route_result {
    KRC_ROUTE_FOUND = 0,
    KRC_ROUTE_NOT_FOUND = 1,          /* 404 */
    KRC_ROUTE_METHOD_NOT_ALLOWED = 2, /* 405 with Allow */
} krc_route_result;

typedef struct krc_route_param {
    const char *name;  /* borrowed from the router */
    const char *value; /* raw slice of the matched path, not NUL-terminated */
    size_t len;
} krc_route_param;

typedef struct krc_route_match {
    void *target;
    const char *pattern; /* canonical pattern (no trailing slash), borrowed */
    const char *owner;   /* as given to krc_router_add, borrowed */
    size_t nparams;
    krc_route_param params[KRC_ROUTE_MAX_PARAMS];
    /* METHOD_NOT_ALLOWED only: the Allow header value, e.g. "GET, HEAD,
     * OPTIONS, POST" (sorted, HEAD with GET, always OPTIONS); borrowed from
     * the router. NULL otherwise. */
    const char *allow;
} krc_route_match;

/* main thread. Caller-owned (krc_router_free); NULL when out of memory. */
krc_router *krc_router_new(void);
/* main thread, once nothing matches any more. NULL is fine. */
void krc_router_free(krc_router *r);

/* main thread, before any match. method: GET HEAD POST PUT PATCH DELETE
 * OPTIONS. pattern and owner (NULL: the core) are copied; target is
 * returned by matches. Returns 0, or -1 with one line in err for a bad
 * method or pattern, or a conflict: the same method on a pattern that is
 * equal once every param is treated alike (`/p/{id}` vs `/p/{sku}`). */
int krc_router_add(krc_router *r, const char *method, const char *pattern, const char *owner, void *target, char *err,
                   size_t errlen);

/* any thread, lock-free, allocation-free. Matches method[0..mlen) and the
 * raw path[0..plen) (no query string). Returns a krc_route_result and
 * fills *m as krc_route_match says; params point into path. */
int krc_router_match(const krc_router *r, const char *method, size_t mlen, const char *path, size_t plen,
                     krc_route_match *m);

#endif
