/* Fake host: one simulated request, from method and path to the response
 * the test inspects: routing, authentication, the handler, and the answers
 * the core gives when the handler does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static void add_pair(kr_req *req, krf_pair **pairs, size_t *n, const char *name, const char *value)
{
    krf_pair *grown = krf_req_alloc(req, (*n + 1) * sizeof(*grown));
    if (*n > 0)
        memcpy(grown, *pairs, *n * sizeof(*grown));
    grown[(*n)++] = (krf_pair){name, value};
    *pairs = grown;
}

static void parse_query(kr_req *req, const char *q)
{
    while (q != NULL && *q != '\0') {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq != NULL ? (size_t)(eq - q) : len;
        if (len > 0) {
            const char *value = eq != NULL ? krf_req_decode(req, eq + 1, len - nlen - 1, 1) : "";
            add_pair(req, &req->query, &req->nquery, krf_req_decode(req, q, nlen, 1), value);
        }
        q = amp != NULL ? amp + 1 : NULL;
    }
}

static void parse_headers(kr_req *req, const char *const *headers)
{
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        const char *colon = strchr(headers[i], ':');
        if (colon == NULL || colon == headers[i])
            continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vlen = strlen(v);
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        add_pair(req, &req->headers, &req->nheaders, krf_req_strndup(req, headers[i], (size_t)(colon - headers[i])),
                 krf_req_strndup(req, v, vlen));
    }
}

/* Raw path segments, in the arena. */
static char **segments(kr_req *req, const char *path, size_t len, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < len; i++)
        *n += path[i] == '/';
    char **segs = krf_req_alloc(req, *n * sizeof(*segs) + 1);
    if (len == 1) {
        *n = 0;
        return segs;
    }
    const char *p = path + 1, *end = path + len;
    for (size_t i = 0; i < *n; i++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash != NULL ? slash : end;
        segs[i] = krf_req_strndup(req, p, (size_t)(stop - p));
        p = stop + 1;
    }
    return segs;
}

static void copy_principal(kr_req *req, const kr_principal *p)
{
    req->has_principal = 1;
    req->principal = (kr_principal){
        p->user_id != NULL ? krf_req_strndup(req, p->user_id, strlen(p->user_id)) : NULL,
        p->role != NULL ? krf_req_strndup(req, p->role, strlen(p->role)) : NULL,
        p->session_id != NULL ? krf_req_strndup(req, p->session_id, strlen(p->session_id)) : NULL,
        p->token_id != NULL ? krf_req_strndup(req, p->token_id, strlen(p->token_id)) : NULL,
    };
}

/* 0 to go on to the handler, else the request has been answered. */
static int authenticate(kr_req *req, const krf_route *rt, const kr_principal *as)
{
    kr_fakehost *fh = req->fh;
    pthread_mutex_lock(&fh->mu);
    kr_authenticate_fn fn = fh->auth_fn;
    void *udata = fh->auth_udata;
    pthread_mutex_unlock(&fh->mu);
    if (as != NULL) {
        copy_principal(req, as);
    } else if (fn != NULL && (rt->auth != KR_AUTH_NONE || krf_req_header(req, "authorization") != NULL)) {
        kr_principal p = {0};
        krf_clear_error();
        int rc = fn(req, &p, udata);
        if (rc == 0 && p.user_id != NULL) {
            req->has_principal = 1;
            req->principal = p;
        } else if (rt->auth != KR_AUTH_NONE) {
            /* A KR_AUTH_NONE route simply runs without a principal. */
            krf_reply_problem(req, 401, "unauthorized",
                              krf_errmsg()[0] != '\0' ? krf_errmsg() : "authentication required", NULL);
            return -1;
        }
    }
    if (rt->auth != KR_AUTH_NONE && !req->has_principal) {
        krf_reply_problem(req, 401, "unauthorized", "authentication required", NULL);
        return -1;
    }
    if (rt->auth == KR_AUTH_ADMIN && (req->principal.role == NULL || strcmp(req->principal.role, "admin") != 0)) {
        krf_reply_problem(req, 403, "forbidden", "this needs the admin role", NULL);
        return -1;
    }
    return 0;
}

static void run_route(kr_req *req, const krf_route *rt, char **segs, const kr_principal *as, kr_fake_response *out)
{
    for (size_t i = 0; i < rt->nsegs; i++) {
        const char *s = rt->segs[i];
        size_t n = strlen(s);
        if (n >= 3 && s[0] == '{' && s[n - 1] == '}')
            add_pair(req, &req->params, &req->nparams, krf_req_strndup(req, s + 1, n - 2),
                     krf_req_decode(req, segs[i], strlen(segs[i]), 0));
    }
    req->ctx = rt->ctx;
    if (authenticate(req, rt, as) != 0)
        return;
    krf_clear_error();
    int rc = rt->fn(req, rt->udata);
    out->handler_rc = rc;
    out->answered = req->replied;
    if (req->replied)
        return;
    if (rc < 0) {
        krf_reply_error(req, rc, NULL);
        return;
    }
    krf_log_host(req->fh, req, KR_LOG_ERROR, "handler of %s %s returned %d without answering", rt->method, rt->pattern,
                 rc);
    krf_reply_problem(req, 500, "internal", "the handler returned without answering", NULL);
}

static int is_json_type(const char *ct)
{
    return ct != NULL &&
           (strncasecmp(ct, "application/json", 16) == 0 || strncasecmp(ct, "application/problem+json", 24) == 0);
}

int kr_fakehost_request(kr_fakehost *fh, const char *method, const char *path_and_query, const char *const *headers,
                        const char *body, const kr_principal *as, kr_fake_response *out)
{
    memset(out, 0, sizeof(*out));
    if (method == NULL || path_and_query == NULL || path_and_query[0] != '/')
        return krf_fail(KR_EINVAL, "a request needs a method and a path starting with '/'");
    kr_req req = {.h = {&krf_host}, .fh = fh};
    snprintf(req.id, sizeof(req.id), "fake-%llu", (unsigned long long)atomic_fetch_add(&fh->next_req, 1) + 1);
    pthread_mutex_lock(&fh->mu);
    snprintf(req.client_ip, sizeof(req.client_ip), "%s", fh->client_ip);
    pthread_mutex_unlock(&fh->mu);
    req.method = krf_req_strndup(&req, method, strlen(method));
    const char *qmark = strchr(path_and_query, '?');
    size_t plen = qmark != NULL ? (size_t)(qmark - path_and_query) : strlen(path_and_query);
    req.path = krf_req_decode(&req, path_and_query, plen, 0);
    parse_query(&req, qmark != NULL ? qmark + 1 : NULL);
    parse_headers(&req, headers);
    if (body != NULL) {
        req.body_len = strlen(body);
        req.body = krf_req_strndup(&req, body, req.body_len);
    }
    size_t nsegs;
    char **segs = segments(&req, path_and_query, plen, &nsegs);

    krf_match m;
    pthread_mutex_lock(&fh->mu);
    krf_route_find(fh, method, segs, nsegs, &m);
    /* A copy: the table may grow (and move) while the handler runs. */
    krf_route rt = m.route != NULL ? *m.route : (krf_route){0};
    pthread_mutex_unlock(&fh->mu);

    if (m.route != NULL) {
        run_route(&req, &rt, segs, as, out);
    } else if (m.path_known) {
        krf_resp_header(&req, "Allow", m.allow);
        krf_reply_problem(&req, 405, "method_not_allowed", "this path does not take that method", NULL);
    } else {
        char detail[256];
        snprintf(detail, sizeof(detail), "no route for %s %s", method, req.path);
        krf_reply_problem(&req, 404, "not_found", detail, NULL);
    }

    out->status = req.status;
    out->content_type = req.content_type;
    out->body = req.resp_body;
    out->body_len = req.resp_len;
    out->headers = req.resp_headers;
    out->nheaders = req.nresp_headers;
    if (is_json_type(out->content_type))
        out->json = json_loadb(out->body, out->body_len, JSON_DECODE_ANY, NULL);
    json_decref(req.json);
    krf_req_arena_free(&req);
    return out->status;
}

const char *kr_fake_response_header(const kr_fake_response *r, const char *name)
{
    if (strcasecmp(name, "content-type") == 0 && r->content_type != NULL)
        return r->content_type;
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void kr_fake_response_free(kr_fake_response *r)
{
    if (r == NULL)
        return;
    free(r->content_type);
    free(r->body);
    json_decref(r->json);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    memset(r, 0, sizeof(*r));
}
