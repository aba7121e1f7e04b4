/* Core: CORS decisions, as pure functions of the configuration and the
 * request's headers (no h2o here; the pipeline sends what these return).
 *
 * Allowed origins are exact strings (compared without case, as browsers
 * serialise them in lower case) or the single entry "*". The answer always
 * echoes the request's Origin rather than "*", so it stays valid should
 * credentials ever be allowed. Clients authenticate with a bearer token in
 * Authorization, which needs no credentials mode, so
 * Access-Control-Allow-Credentials is never sent. A disallowed origin gets
 * no CORS headers and the browser blocks the response.
 *
 * Every result also carries `vary: origin`, even when the origin is
 * disallowed or absent: a shared cache must not hand the answer given to one
 * origin to another. */
#ifndef KRC_ROUTER_CORS_H
#define KRC_ROUTER_CORS_H

#include <stddef.h>

typedef struct krc_cors krc_cors;

typedef struct krc_cors_header {
    const char *name;  /* lower case, static */
    const char *value; /* borrowed from the config, the request or allow; not NUL-terminated */
    size_t len;
} krc_cors_header;

#define KRC_CORS_MAX_HEADERS 5

/* Response headers to add, in order. */
typedef struct krc_cors_headers {
    size_t n;
    krc_cors_header h[KRC_CORS_MAX_HEADERS];
} krc_cors_headers;

/* main thread. origins: exact origins, or one entry "*"; headers: request
 * header names a preflight may ask for (sent as Access-Control-Allow-Headers);
 * max_age: seconds browsers may cache a preflight, negative to omit. Strings
 * are copied. Caller-owned (krc_cors_free); NULL with krc_err_msg on a bad
 * entry or when out of memory. */
krc_cors *krc_cors_new(const char *const *origins, size_t n, const char *const *headers, size_t nh, int max_age);
/* main thread. NULL is fine. */
void krc_cors_free(krc_cors *c);

/* any thread. 1 if origin[0..len) may read responses, else 0. */
int krc_cors_origin_allowed(const krc_cors *c, const char *origin, size_t len);

/* any thread. A preflight: OPTIONS carrying Origin and
 * Access-Control-Request-Method (the pipeline checks that). allow is the
 * path's Allow value from the router (NULL for an unknown path). Returns 1
 * when the origin is allowed and the method is in allow: answer 204 with
 * *out (allow-origin, allow-methods, allow-headers, max-age, vary). Returns 0
 * otherwise: answer as to a plain OPTIONS, adding *out (vary only). */
int krc_cors_preflight(const krc_cors *c, const char *origin, size_t olen, const char *method, size_t mlen,
                       const char *allow, krc_cors_headers *out);

/* any thread. Any other request; origin NULL when it has none. Returns 1
 * when the origin is allowed; either way add *out to the response
 * (allow-origin and vary, or vary only). */
int krc_cors_simple(const krc_cors *c, const char *origin, size_t olen, krc_cors_headers *out);

#endif
