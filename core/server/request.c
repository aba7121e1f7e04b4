#include "core/server/request.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/obs/log.h"
#include "core/router/query.h"
#include "core/router/urlcode.h"
#include "core/server/json.h"
#include "core/server/problem.h"
#include "core/server/server.h"
#include "core/util/err.h"

/* more query parameters than this is not an API call we serve */
#define KRC_QUERY_MAX_PAIRS 64

uint64_t krc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *arena_decode(krc_arena *a, const char *s, size_t len, int query)
{
    char *d = krc_arena_alloc(a, len + 1);
    if (d == NULL)
        return NULL;
    size_t n = query ? krc_url_decode_query(d, s, len) : krc_url_decode(d, s, len);
    if (n == (size_t)-1) {
        /* invalid escapes: hand the handler the raw text rather than guess */
        memcpy(d, s, len);
        n = len;
    }
    d[n] = '\0';
    return d;
}

static void client_ip(kr_req *r, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    r->client_ip[0] = '\0';
    if (sl > 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, r->client_ip, sizeof(r->client_ip));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, r->client_ip, sizeof(r->client_ip));
    }
    int hops = r->app->cfg->server.trusted_proxy_hops;
    if (hops <= 0)
        return;
    /* With N trusted proxies in front, the client is the N-th address from
     * the right of X-Forwarded-For: everything left of it is the client's
     * own claim and can be forged. */
    const char *xff = NULL;
    size_t xlen = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcmp(r->headers[i].name, "x-forwarded-for") == 0) {
            xff = r->headers[i].value;
            xlen = r->headers[i].value_len;
        }
    }
    if (xff == NULL)
        return;
    const char *parts[64];
    size_t plen[64];
    int n = 0;
    const char *p = xff, *end = xff + xlen;
    while (p < end && n < 64) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c != NULL ? c : end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        parts[n] = p;
        plen[n] = (size_t)(t - p);
        n++;
        p = c != NULL ? c + 1 : end;
    }
    if (n == 0)
        return;
    int idx = n - hops;
    if (idx < 0)
        idx = 0;
    char buf[sizeof(r->client_ip)];
    if (plen[idx] == 0 || plen[idx] >= sizeof(buf))
        return;
    memcpy(buf, parts[idx], plen[idx]);
    buf[plen[idx]] = '\0';
    unsigned char tmp[16];
    if (inet_pton(AF_INET, buf, tmp) == 1 || inet_pton(AF_INET6, buf, tmp) == 1)
        memcpy(r->client_ip, buf, sizeof(buf));
}

kr_req *krc_req_new(krc_app *app, struct krc_loop *loop, h2o_req_t *req, const krc_route_entry *route,
                    const krc_route_match *m)
{
    kr_req *r = malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, offsetof(kr_req, arena));
    memset(&r->start_ns, 0, sizeof(*r) - offsetof(kr_req, start_ns));
    krc_arena_init(&r->arena);
    r->h.host = &krc_host_table;
    r->app = app;
    r->loop = loop;
    r->h2o = req;
    r->refs = 2;
    r->route = route;
    r->status = 0;
    r->nqparams = -1;
    krc_arena *a = &r->arena;

    r->method = krc_arena_strndup(a, req->method.base, req->method.len);
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    r->raw_path = krc_arena_strndup(a, req->path.base, plen);
    r->path = arena_decode(a, req->path.base, plen, 0);
    if (req->query_at != SIZE_MAX)
        r->query = krc_arena_strndup(a, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    r->proto = req->version >= 0x200 ? "HTTP/2" : req->version == 0x100 ? "HTTP/1.0" : "HTTP/1.1";

    r->nheaders = req->headers.size;
    r->headers = krc_arena_alloc(a, sizeof(krc_kv) * (r->nheaders ? r->nheaders : 1));
    for (size_t i = 0; r->headers != NULL && i < r->nheaders; i++) {
        const h2o_header_t *hd = &req->headers.entries[i];
        char *n = krc_arena_strndup(a, hd->name->base, hd->name->len);
        for (char *c = n; c != NULL && *c; c++)
            *c = (char)tolower((unsigned char)*c);
        r->headers[i].name = n;
        r->headers[i].value = krc_arena_strndup(a, hd->value.base, hd->value.len);
        r->headers[i].value_len = hd->value.len;
    }
    if (req->entity.base != NULL && req->entity.len > 0) {
        r->body = krc_arena_strndup(a, req->entity.base, req->entity.len);
        r->body_len = req->entity.len;
    }
    r->nparams = m->nparams;
    r->params = krc_arena_alloc(a, sizeof(krc_kv) * (m->nparams ? m->nparams : 1));
    for (size_t i = 0; r->params != NULL && i < m->nparams; i++) {
        r->params[i].name = m->params[i].name;
        r->params[i].value = arena_decode(a, m->params[i].value, m->params[i].len, 0);
        r->params[i].value_len = strlen(r->params[i].value);
    }
    if (r->method == NULL || r->path == NULL || r->headers == NULL || r->params == NULL ||
        (r->body_len > 0 && r->body == NULL)) {
        krc_arena_free(a);
        free(r);
        return NULL;
    }
    client_ip(r, req);
    snprintf(r->id, sizeof(r->id), "%08x%08llx", loop->rid_prefix, (unsigned long long)loop->rid_next++);
    loop->live++;
    atomic_fetch_add(&app->live_requests, 1);
    return r;
}

void krc_req_release(kr_req *r)
{
    if (--r->refs > 0)
        return;
    r->loop->live--;
    atomic_fetch_sub(&r->app->live_requests, 1);
    json_decref(r->json);
    free(r->resp_body);
    krc_arena_free(&r->arena);
    free(r);
}

int krc_req_set_response(kr_req *r, int status, const char *content_type, char *body, size_t len)
{
    if (r->replied) {
        free(body);
        return krc_err_set(KR_EINVAL, "the request was already answered");
    }
    if (status < 100 || status > 599) {
        free(body);
        return krc_err_set(KR_EINVAL, "HTTP status %d is out of range", status);
    }
    r->replied = true;
    r->status = status;
    r->content_type = content_type != NULL ? krc_arena_strndup(&r->arena, content_type, strlen(content_type)) : NULL;
    r->resp_body = body;
    r->resp_len = len;
    return KR_OK;
}

/* --- host table entries --- */

static const char *h_method(const kr_req *r) { return r->method; }
static const char *h_path(const kr_req *r) { return r->path; }

static const char *h_param(const kr_req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

static const char *h_query(const kr_req *cr, const char *name)
{
    kr_req *r = (kr_req *)cr;
    if (r->query == NULL)
        return NULL;
    if (r->nqparams < 0) {
        r->nqparams = 0;
        size_t qlen = strlen(r->query);
        krc_query_pair pairs[KRC_QUERY_MAX_PAIRS];
        char *buf = krc_arena_alloc(&r->arena, qlen * 2 + KRC_QUERY_MAX_PAIRS * 2 + 2);
        if (buf == NULL)
            return NULL;
        int n = krc_query_parse(r->query, qlen, pairs, KRC_QUERY_MAX_PAIRS, buf, qlen * 2 + KRC_QUERY_MAX_PAIRS * 2 + 2);
        if (n <= 0)
            return NULL;
        r->qparams = krc_arena_alloc(&r->arena, sizeof(krc_kv) * (size_t)n);
        if (r->qparams == NULL)
            return NULL;
        for (int i = 0; i < n; i++) {
            r->qparams[i].name = pairs[i].name;
            r->qparams[i].value = pairs[i].value;
            r->qparams[i].value_len = strlen(pairs[i].value);
        }
        r->nqparams = n;
    }
    for (ssize_t i = 0; i < r->nqparams; i++)
        if (strcmp(r->qparams[i].name, name) == 0)
            return r->qparams[i].value;
    return NULL;
}

static const char *h_header(const kr_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static const void *h_body(const kr_req *r, size_t *len)
{
    if (len != NULL)
        *len = r->body_len;
    return r->body != NULL ? r->body : "";
}

static int h_json(kr_req *r, json_t **out)
{
    if (r->json == NULL) {
        char err[256];
        if (krc_json_parse_object(r->body, r->body_len, r->app->cfg->server.max_json_depth, &r->json, err, sizeof(err)) < 0) {
            *out = NULL;
            return krc_err_set(KR_EINVAL, "%s", err);
        }
    }
    *out = r->json;
    return KR_OK;
}

static const char *h_id(const kr_req *r) { return r->id; }
static const char *h_client_ip(const kr_req *r) { return r->client_ip; }
static const kr_principal *h_principal(const kr_req *r) { return r->has_principal ? &r->principal : NULL; }
static kr_plugin_ctx *h_ctx(const kr_req *r) { return r->route->ctx; }
static int h_cancelled(const kr_req *r) { return atomic_load_explicit(&r->cancelled, memory_order_relaxed); }

static void *h_alloc(kr_req *r, size_t size)
{
    void *p = krc_arena_alloc(&r->arena, size);
    if (p == NULL)
        krc_err_set(KR_ENOMEM, "out of memory");
    return p;
}

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    return true;
}

static int h_resp_header(kr_req *r, const char *name, const char *value)
{
    if (r->replied)
        return krc_err_set(KR_EINVAL, "headers must be added before the answer");
    if (!is_token(name))
        return krc_err_set(KR_EINVAL, "\"%s\" is not a valid header name", name);
    for (const char *c = value; *c; c++)
        if (*c == '\r' || *c == '\n' || *c == '\0')
            return krc_err_set(KR_EINVAL, "header %s: value contains a line break", name);
    krc_resp_header *h = krc_arena_alloc(&r->arena, sizeof(*h));
    if (h == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    h->name = krc_arena_strndup(&r->arena, name, strlen(name));
    h->value = krc_arena_strndup(&r->arena, value, strlen(value));
    if (h->name == NULL || h->value == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    for (char *c = h->name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    h->next = r->resp_headers;
    r->resp_headers = h;
    return KR_OK;
}

static int h_reply_json(kr_req *r, int status, json_t *body)
{
    if (body == NULL) {
        krc_err_set(KR_ENOMEM, "no JSON body to answer with");
        size_t len;
        char *b = krc_problem_body(500, "internal", "the server could not build its answer", NULL, &len);
        krc_req_set_response(r, 500, KRC_PROBLEM_CT, b, len);
        return KR_ENOMEM;
    }
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (s == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory serialising JSON");
    return krc_req_set_response(r, status, "application/json", s, strlen(s));
}

static int h_reply(kr_req *r, int status, const char *content_type, const void *body, size_t len)
{
    char *b = NULL;
    if (len > 0) {
        b = malloc(len);
        if (b == NULL)
            return krc_err_set(KR_ENOMEM, "out of memory");
        memcpy(b, body, len);
    }
    return krc_req_set_response(r, status, content_type, b, len);
}

static int h_reply_problem(kr_req *r, int status, const char *code, const char *detail, json_t *extra)
{
    size_t len;
    char *b = krc_problem_body(status, code != NULL ? code : krc_err_problem_code(KR_EINTERNAL), detail, extra, &len);
    if (b == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    return krc_req_set_response(r, status, KRC_PROBLEM_CT, b, len);
}

static int h_reply_error(kr_req *r, int err, const char *detail)
{
    int status = krc_err_http_status(err);
    const char *msg = detail != NULL ? detail : krc_err_msg();
    if (status >= 500) {
        /* The reason may name hosts, SQL or keys: log it, tell the client
         * only what kind of failure it was. */
        krc_log(KR_LOG_ERROR, r->route->ctx != NULL ? r->route->ctx->desc->name : "core", r->id, "%s: %s",
                kr_strerror(err), msg);
        msg = status == 503 ? "a service this request needs is unavailable; try again later"
                            : "the server failed to handle this request";
        if (status == 503)
            h_resp_header(r, "retry-after", "1");
    }
    return h_reply_problem(r, status, krc_err_problem_code(err), msg, NULL);
}

void krc_req_host_fill(kr_host *h)
{
    h->req_method = h_method;
    h->req_path = h_path;
    h->req_param = h_param;
    h->req_query = h_query;
    h->req_header = h_header;
    h->req_body = h_body;
    h->req_json = h_json;
    h->req_id = h_id;
    h->req_client_ip = h_client_ip;
    h->req_principal = h_principal;
    h->req_ctx = h_ctx;
    h->req_cancelled = h_cancelled;
    h->req_alloc = h_alloc;
    h->resp_header = h_resp_header;
    h->reply_json = h_reply_json;
    h->reply = h_reply;
    h->reply_problem = h_reply_problem;
    h->reply_error = h_reply_error;
}
