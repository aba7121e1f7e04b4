/* Fake host: the route table. Patterns are the mount prefix plus the
 * plugin's pattern; a {name} segment captures one path segment, and a
 * literal segment beats a capture when both fit. Conflicts are refused when
 * declared (the core finds them after all inits; same outcome for a test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};

static int is_param(const char *seg)
{
    size_t n = strlen(seg);
    return n >= 3 && seg[0] == '{' && seg[n - 1] == '}';
}

static int param_ok(const char *seg)
{
    size_t n = strlen(seg);
    for (size_t i = 1; i + 1 < n; i++) {
        char c = seg[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Splits "/a/b" into {"a", "b"} (malloc()ed); "/" gives none. */
static char **split(const char *path, size_t *n)
{
    char **segs = NULL;
    size_t cap = 0;
    *n = 0;
    const char *p = path + 1;
    if (*p == '\0')
        return NULL;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        krf_grow(&segs, &cap, *n, sizeof(*segs));
        segs[(*n)++] = krf_xstrndup(p, len);
        if (slash == NULL)
            return segs;
        p = slash + 1;
    }
}

static void free_segs(char **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

static int same_shape(const krf_route *a, char **segs, size_t n)
{
    if (a->nsegs != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int pa = is_param(a->segs[i]), pb = is_param(segs[i]);
        if (pa != pb || (!pa && strcmp(a->segs[i], segs[i]) != 0))
            return 0;
    }
    return 1;
}

int krf_route_add(kr_plugin_ctx *ctx, const char *method, const char *pattern, kr_auth auth, kr_handler_fn handler,
                  void *udata)
{
    kr_fakehost *fh = ctx->fh;
    size_t m;
    for (m = 0; method != NULL && m < sizeof(methods) / sizeof(methods[0]); m++)
        if (strcmp(method, methods[m]) == 0)
            break;
    if (method == NULL || m == sizeof(methods) / sizeof(methods[0]))
        return krf_fail(KR_EINVAL, "unsupported method '%s'", method != NULL ? method : "(null)");
    if (pattern == NULL || pattern[0] != '/' || handler == NULL)
        return krf_fail(KR_EINVAL, "a route needs a pattern starting with '/' and a handler");
    if (auth != KR_AUTH_NONE && auth != KR_AUTH_USER && auth != KR_AUTH_ADMIN)
        return krf_fail(KR_EINVAL, "bad auth level %d", (int)auth);
    char full[1024];
    int len =
        snprintf(full, sizeof(full), "%s%s", ctx->mount, strcmp(pattern, "/") == 0 && ctx->mount[0] ? "" : pattern);
    if (len < 0 || (size_t)len >= sizeof(full) || full[0] != '/')
        return krf_fail(KR_EINVAL, "bad route '%s%s'", ctx->mount, pattern);
    size_t n;
    char **segs = split(full, &n);
    for (size_t i = 0; i < n; i++) {
        int braces = strpbrk(segs[i], "{}") != NULL;
        if (segs[i][0] == '\0' || (braces && (!is_param(segs[i]) || !param_ok(segs[i])))) {
            free_segs(segs, n);
            return krf_fail(KR_EINVAL, "bad route pattern '%s'", full);
        }
    }
    pthread_mutex_lock(&fh->mu);
    for (size_t i = 0; i < fh->nroutes; i++) {
        const krf_route *r = &fh->routes[i];
        if (strcmp(r->method, method) == 0 && same_shape(r, segs, n)) {
            const char *other = krf_ctx_name(r->ctx);
            pthread_mutex_unlock(&fh->mu);
            free_segs(segs, n);
            return krf_fail(KR_EINVAL, "route %s %s conflicts with %s %s of plugin %s", method, full, method,
                            r->pattern, other);
        }
    }
    krf_grow(&fh->routes, &fh->caproutes, fh->nroutes, sizeof(*fh->routes));
    fh->routes[fh->nroutes++] = (krf_route){ctx, krf_xstrdup(method), krf_xstrdup(full), segs, n, auth, handler, udata};
    pthread_mutex_unlock(&fh->mu);
    return 0;
}

static void free_route(krf_route *r)
{
    free(r->method);
    free(r->pattern);
    free_segs(r->segs, r->nsegs);
}

void krf_routes_drop(kr_fakehost *fh, const kr_plugin_ctx *ctx)
{
    pthread_mutex_lock(&fh->mu);
    for (size_t i = 0; i < fh->nroutes;) {
        if (fh->routes[i].ctx == ctx) {
            free_route(&fh->routes[i]);
            memmove(&fh->routes[i], &fh->routes[i + 1], (fh->nroutes - i - 1) * sizeof(*fh->routes));
            fh->nroutes--;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&fh->mu);
}

void krf_routes_free(kr_fakehost *fh)
{
    for (size_t i = 0; i < fh->nroutes; i++)
        free_route(&fh->routes[i]);
    free(fh->routes);
}

/* Number of literal segments when the route fits the path, else -1. */
static int fit(const krf_route *r, char **segs, size_t n)
{
    if (r->nsegs != n)
        return -1;
    int literal = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_param(r->segs[i])) {
            if (segs[i][0] == '\0')
                return -1;
        } else if (strcmp(r->segs[i], segs[i]) != 0) {
            return -1;
        } else {
            literal++;
        }
    }
    return literal;
}

void krf_route_find(const kr_fakehost *fh, const char *method, char **segs, size_t nsegs, krf_match *out)
{
    memset(out, 0, sizeof(*out));
    int best = -1;
    for (size_t i = 0; i < fh->nroutes; i++) {
        const krf_route *r = &fh->routes[i];
        int f = fit(r, segs, nsegs);
        if (f < 0)
            continue;
        out->path_known = 1;
        if (strstr(out->allow, r->method) == NULL) {
            size_t used = strlen(out->allow);
            snprintf(out->allow + used, sizeof(out->allow) - used, "%s%s", used ? ", " : "", r->method);
        }
        if (strcmp(r->method, method) == 0 && f > best) {
            best = f;
            out->route = r;
        }
    }
}
