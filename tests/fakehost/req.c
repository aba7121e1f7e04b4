/* Fake host: the request side of kr_req, with a per-request arena freed
 * when the simulated request ends. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define JSON_MAX_DEPTH 32

void *krf_req_alloc(kr_req *req, size_t size)
{
    krf_block *b = krf_xmalloc(sizeof(*b) + size);
    b->next = req->arena;
    req->arena = b;
    return b->data;
}

void *krf_req_alloc_host(kr_req *req, size_t size)
{
    return krf_req_alloc(req, size);
}

char *krf_req_strndup(kr_req *req, const char *s, size_t n)
{
    char *p = krf_req_alloc(req, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void krf_req_arena_free(kr_req *req)
{
    for (krf_block *b = req->arena, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    req->arena = NULL;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *krf_req_decode(kr_req *req, const char *s, size_t n, int plus_space)
{
    char *out = krf_req_alloc(req, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            *o++ = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else if (plus_space && s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

const char *krf_req_method(const kr_req *req)
{
    return req->method;
}

const char *krf_req_path(const kr_req *req)
{
    return req->path;
}

static const char *lookup(const krf_pair *pairs, size_t n, const char *name, int nocase)
{
    for (size_t i = 0; name != NULL && i < n; i++)
        if ((nocase ? strcasecmp(pairs[i].name, name) : strcmp(pairs[i].name, name)) == 0)
            return pairs[i].value;
    return NULL;
}

const char *krf_req_param(const kr_req *req, const char *name)
{
    return lookup(req->params, req->nparams, name, 0);
}

const char *krf_req_query(const kr_req *req, const char *name)
{
    return lookup(req->query, req->nquery, name, 0);
}

const char *krf_req_header(const kr_req *req, const char *name)
{
    return lookup(req->headers, req->nheaders, name, 1);
}

const void *krf_req_body(const kr_req *req, size_t *len)
{
    if (len != NULL)
        *len = req->body_len;
    return req->body != NULL ? req->body : "";
}

static int depth(const json_t *v)
{
    int deepest = 0;
    if (json_is_object(v)) {
        const char *k;
        const json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            int d = depth(c);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *c;
        json_array_foreach(v, i, c)
        {
            int d = depth(c);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

int krf_req_json(kr_req *req, json_t **out)
{
    *out = NULL;
    if (req->json != NULL) {
        *out = req->json;
        return 0;
    }
    if (req->body_len == 0)
        return krf_fail(KR_EINVAL, "the request body is empty; a JSON object is expected");
    json_error_t jerr;
    json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return krf_fail(KR_EINVAL, "the body is not valid JSON: %s (at %d:%d)", jerr.text, jerr.line, jerr.column);
    if (!json_is_object(v)) {
        json_decref(v);
        return krf_fail(KR_EINVAL, "the body must be a JSON object");
    }
    if (depth(v) > JSON_MAX_DEPTH) {
        json_decref(v);
        return krf_fail(KR_EINVAL, "the body nests deeper than %d levels", JSON_MAX_DEPTH);
    }
    req->json = v;
    *out = v;
    return 0;
}

const char *krf_req_id(const kr_req *req)
{
    return req->id;
}

const char *krf_req_client_ip(const kr_req *req)
{
    return req->client_ip;
}

const kr_principal *krf_req_principal(const kr_req *req)
{
    return req->has_principal ? &req->principal : NULL;
}

kr_plugin_ctx *krf_req_ctx(const kr_req *req)
{
    return req->ctx;
}

int krf_req_cancelled(const kr_req *req)
{
    (void)req;
    return 0; /* a simulated client never goes away */
}
