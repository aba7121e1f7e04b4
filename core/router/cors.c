#include "core/router/cors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util/err.h"

struct krc_cors {
    bool any;
    size_t norigins;
    char **origins;
    char *headers; /* joined with ", "; NULL when none are allowed */
    size_t headers_len;
    char max_age[16]; /* empty: omit */
};

static bool visible_ascii(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* RFC 9110 token characters, the alphabet of header names. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    return true;
}

krc_cors *krc_cors_new(const char *const *origins, size_t n, const char *const *headers, size_t nh, int max_age)
{
    krc_cors *c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(origins[i], "*") == 0) {
            if (n > 1) {
                krc_err_set(KR_EINVAL, "cors origins: \"*\" must be the only entry");
                goto fail;
            }
            c->any = true;
            continue;
        }
        if (!visible_ascii(origins[i], strlen(origins[i]))) {
            krc_err_set(KR_EINVAL, "cors origin \"%s\" is empty or holds spaces or control characters", origins[i]);
            goto fail;
        }
    }
    if (n > 0 && !c->any) {
        c->origins = calloc(n, sizeof(*c->origins));
        if (c->origins == NULL)
            goto nomem;
        for (; c->norigins < n; c->norigins++) {
            c->origins[c->norigins] = strdup(origins[c->norigins]);
            if (c->origins[c->norigins] == NULL)
                goto nomem;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < nh; i++) {
        if (!is_token(headers[i])) {
            krc_err_set(KR_EINVAL, "cors header \"%s\" is not a header name", headers[i]);
            goto fail;
        }
        total += strlen(headers[i]) + 2;
    }
    if (nh > 0) {
        c->headers = malloc(total);
        if (c->headers == NULL)
            goto nomem;
        char *p = c->headers;
        for (size_t i = 0; i < nh; i++)
            p = stpcpy(i == 0 ? p : stpcpy(p, ", "), headers[i]);
        c->headers_len = (size_t)(p - c->headers);
    }
    if (max_age >= 0)
        snprintf(c->max_age, sizeof(c->max_age), "%d", max_age);
    return c;
nomem:
    krc_err_set(KR_ENOMEM, "cors: out of memory");
fail:
    krc_cors_free(c);
    return NULL;
}

void krc_cors_free(krc_cors *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->norigins; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c->headers);
    free(c);
}

int krc_cors_origin_allowed(const krc_cors *c, const char *origin, size_t len)
{
    if (origin == NULL || !visible_ascii(origin, len))
        return 0;
    if (c->any)
        return 1;
    for (size_t i = 0; i < c->norigins; i++)
        if (strlen(c->origins[i]) == len && strncasecmp(c->origins[i], origin, len) == 0)
            return 1;
    return 0;
}

static bool in_list(const char *list, const char *item, size_t len)
{
    for (const char *p = list; *p != '\0';) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == len && n > 0 && memcmp(p, item, len) == 0)
            return true;
        p += n;
    }
    return false;
}

static void add(krc_cors_headers *out, const char *name, const char *value, size_t len)
{
    out->h[out->n++] = (krc_cors_header){.name = name, .value = value, .len = len};
}

int krc_cors_preflight(const krc_cors *c, const char *origin, size_t olen, const char *method, size_t mlen,
                       const char *allow, krc_cors_headers *out)
{
    out->n = 0;
    bool ok =
        krc_cors_origin_allowed(c, origin, olen) && allow != NULL && method != NULL && in_list(allow, method, mlen);
    if (ok) {
        add(out, "access-control-allow-origin", origin, olen);
        add(out, "access-control-allow-methods", allow, strlen(allow));
        if (c->headers != NULL)
            add(out, "access-control-allow-headers", c->headers, c->headers_len);
        if (c->max_age[0] != '\0')
            add(out, "access-control-max-age", c->max_age, strlen(c->max_age));
    }
    add(out, "vary", "origin", 6);
    return ok;
}

int krc_cors_simple(const krc_cors *c, const char *origin, size_t olen, krc_cors_headers *out)
{
    out->n = 0;
    int ok = krc_cors_origin_allowed(c, origin, olen);
    if (ok)
        add(out, "access-control-allow-origin", origin, olen);
    add(out, "vary", "origin", 6);
    return ok;
}
