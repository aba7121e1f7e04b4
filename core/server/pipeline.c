#include "core/server/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/obs/log.h"
#include "core/server/h2guard.h"
#include "core/server/problem.h"
#include "core/server/request.h"
#include "core/server/stream.h"
#include "core/util/err.h"

#define CONTAINER_OF(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Lives in h2o's request pool; h2o disposes it when it is done with the
 * request (answered, or the stream was reset), which tells the kr_req that
 * h2o's request is gone. */
typedef struct req_guard {
    kr_req *r;
} req_guard;

static void on_guard_dispose(void *p)
{
    req_guard *g = p;
    kr_req *r = g->r;
    if (r == NULL)
        return;
    /* The worker's reference still held: no answer went out. */
    if (r->refs == 2)
        krc_h2guard_unanswered(r->h2o);
    /* If a worker still has it, the client left before the answer. */
    atomic_store(&r->cancelled, 1);
    r->h2o = NULL;
    if (r->stream_started)
        krc_stream_req_gone(r->stream);
    krc_req_release(r);
}

static void count_status(const krc_route_entry *route, int status)
{
    if (route == NULL || status < 100 || status > 599)
        return;
    krc_route_entry *e = (krc_route_entry *)route;
    krc_counter *c = atomic_load_explicit(&e->by_status[status], memory_order_acquire);
    if (c == NULL) {
        char labels[512];
        snprintf(labels, sizeof(labels), "route=\"%s\",status=\"%d\"", e->label, status);
        c = krc_metrics_counter("kirana_http_requests_total", "HTTP requests by route and status", labels);
        if (c == NULL)
            return;
        atomic_store_explicit(&e->by_status[status], c, memory_order_release);
    }
    krc_counter_add(c, 1);
}

static void add_cors(h2o_req_t *req, const krc_cors_headers *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, ch->h[i].name, strlen(ch->h[i].name), 1, NULL,
                              h2o_strdup(&req->pool, ch->h[i].value, ch->h[i].len).base, ch->h[i].len);
}

static void cors_headers(krc_app *app, h2o_req_t *req)
{
    if (app->cors == NULL)
        return;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    krc_cors_headers ch;
    krc_cors_simple(app->cors, i >= 0 ? req->headers.entries[i].value.base : NULL,
                    i >= 0 ? req->headers.entries[i].value.len : 0, &ch);
    add_cors(req, &ch);
}

void krc_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len,
              const char *const *headers)
{
    req->res.status = status;
    req->res.reason = krc_http_reason(status);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i], strlen(headers[i]), 1, NULL, headers[i + 1],
                              strlen(headers[i + 1]));
    req->res.content_length = len;
    krc_h2guard_watch(req);
    h2o_send_inline(req, body, len);
}

void krc_send_problem(h2o_req_t *req, int status, const char *code, const char *detail, const char *const *headers)
{
    size_t len;
    char *b = krc_problem_body(status, code, detail, NULL, &len);
    krc_send(req, status, KRC_PROBLEM_CT, b, b != NULL ? len : 0, headers);
    free(b);
}

/* --- worker side --- */

static void authenticate(kr_req *r)
{
    krc_app *app = r->app;
    const krc_route_entry *route = r->route;
    if (app->authn == NULL) {
        if (route->auth != KR_AUTH_NONE)
            kr_reply_error(r, KR_EINTERNAL, "no authenticator is configured");
        return;
    }
    if (route->auth == KR_AUTH_NONE && kr_req_header(r, "authorization") == NULL)
        return;
    krc_err_clear();
    kr_principal p = {0};
    int rc = app->authn(r, &p, app->authn_udata);
    if (rc == KR_OK && p.user_id != NULL && p.role != NULL) {
        r->principal = p;
        r->has_principal = true;
    } else if (route->auth != KR_AUTH_NONE) {
        if (rc == KR_EUNAVAILABLE) {
            kr_reply_error(r, rc, NULL);
            return;
        }
        kr_resp_header(r, "www-authenticate", "Bearer");
        const char *why = krc_err_msg()[0] ? krc_err_msg() : "a valid bearer token is required";
        kr_reply_problem(r, 401, "unauthorized", why, NULL);
        return;
    }
    if (route->auth == KR_AUTH_ADMIN && strcmp(r->principal.role, "admin") != 0)
        kr_reply_problem(r, 403, "forbidden", "this action needs the admin role", NULL);
}

static void run_task(krc_task *t)
{
    kr_req *r = CONTAINER_OF(t, kr_req, task);
    if (!atomic_load(&r->cancelled)) {
        authenticate(r);
        if (!r->replied) {
            krc_err_clear();
            int rc = r->route->handler(r, r->route->udata);
            if (!r->replied) {
                if (rc < 0) {
                    kr_reply_error(r, rc, NULL);
                } else {
                    krc_log(KR_LOG_ERROR, r->route->ctx != NULL ? r->route->ctx->desc->name : "core", r->id,
                            "handler for %s returned without answering", r->route->label);
                    kr_reply_error(r, KR_EINTERNAL, "the handler did not answer");
                }
            }
        }
    }
    memset(&r->msg, 0, sizeof(r->msg));
    h2o_multithread_send_message(&r->loop->done, &r->msg);
}

/* --- loop side --- */

static void finish_log(kr_req *r, int status, size_t bytes)
{
    count_status(r->route, status);
    double ms = (double)(krc_now_ns() - r->start_ns) / 1e6;
    if (r->route->latency != NULL)
        krc_histogram_observe(r->route->latency, ms / 1000.0);
    krc_access a = {.req_id = r->id,
                    .method = r->method,
                    .path = r->raw_path,
                    .route = r->route->label,
                    .proto = r->proto,
                    .client_ip = r->client_ip,
                    .status = status,
                    .bytes_out = bytes,
                    .dur_ms = ms};
    krc_log_access(&a);
}

void krc_pipeline_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        kr_req *r = CONTAINER_OF(m, kr_req, msg);
        h2o_req_t *req = r->h2o;
        if (r->stream != NULL) {
            finish_log(r, req != NULL ? 200 : 499, 0);
            r->stream_started = req != NULL;
            krc_stream_start(r, req);
        } else if (req == NULL) {
            krc_counter_add(r->app->c_cancelled, 1);
            finish_log(r, 499, 0);
        } else {
            req->res.status = r->status;
            req->res.reason = krc_http_reason(r->status);
            if (r->content_type != NULL)
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                               h2o_strdup(&req->pool, r->content_type, SIZE_MAX).base, strlen(r->content_type));
            for (krc_resp_header *h = r->resp_headers; h != NULL; h = h->next) {
                h2o_iovec_t n = h2o_strdup(&req->pool, h->name, SIZE_MAX);
                h2o_iovec_t v = h2o_strdup(&req->pool, h->value, SIZE_MAX);
                h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
            }
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                                  h2o_strdup(&req->pool, r->id, SIZE_MAX).base, strlen(r->id));
            finish_log(r, r->status, r->resp_len);
            req->res.content_length = r->resp_len;
            krc_h2guard_watch(req);
            h2o_send_inline(req, r->resp_body != NULL ? r->resp_body : "", r->resp_len);
        }
        krc_req_release(r);
    }
}

/* OPTIONS on a path without its own OPTIONS route: a CORS preflight, or a
 * plain 204 with Allow. */
static void options(krc_app *app, h2o_req_t *req, const char *allow)
{
    ssize_t oi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    ssize_t mi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1);
    const char *hdrs[] = {"allow", allow, NULL};
    if (oi >= 0 && mi >= 0 && app->cors != NULL) {
        krc_cors_headers ch;
        krc_cors_preflight(app->cors, req->headers.entries[oi].value.base, req->headers.entries[oi].value.len,
                           req->headers.entries[mi].value.base, req->headers.entries[mi].value.len, allow, &ch);
        add_cors(req, &ch);
    }
    krc_send(req, 204, NULL, "", 0, hdrs);
}

int krc_pipeline_on_req(krc_loop *loop, h2o_req_t *req)
{
    krc_app *app = loop->app;
    /* Malformed, or left in h2o's read buffer of a connection the guard
     * closed: the teardown disposes them; they must not reach the pool. */
    if (krc_h2guard_refused(req))
        return 0;
    char why[64];
    if (!krc_h2guard_headers_fit(req, why, sizeof(why))) {
        krc_send_problem(req, 431, "headers_too_large", why, NULL);
        return 0;
    }
    uint64_t t0 = krc_now_ns();
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    krc_route_match m;
    int rc = krc_router_match(app->router, req->method.base, req->method.len, req->path.base, plen, &m);
    /* Error answers need CORS headers too, or browsers hide them from the
     * front end. A preflight gets its own below. */
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")))
        cors_headers(app, req);
    if (rc == KRC_ROUTE_NOT_FOUND) {
        krc_send_problem(req, 404, "not_found", "no route matches this path", NULL);
        return 0;
    }
    if (rc == KRC_ROUTE_METHOD_NOT_ALLOWED) {
        if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
            options(app, req, m.allow);
            return 0;
        }
        const char *hdrs[] = {"allow", m.allow, NULL};
        krc_send_problem(req, 405, "method_not_allowed", "this method is not allowed on this path", hdrs);
        return 0;
    }
    const krc_route_entry *route = m.target;
    if (route->kind == KRC_ROUTE_CORE_LOOP) {
        route->loop_fn(app, req);
        count_status(route, req->res.status);
        return 0;
    }
    if (req->entity.base != NULL && req->entity.len > app->cfg->server.max_body) {
        char d[128];
        snprintf(d, sizeof(d), "the body is larger than %zu bytes", (size_t)app->cfg->server.max_body);
        krc_send_problem(req, 413, "too_large", d, NULL);
        count_status(route, 413);
        return 0;
    }
    if (atomic_load(&app->stopping)) {
        const char *hdrs[] = {"retry-after", "1", NULL};
        krc_send_problem(req, 503, "shutting_down", "the server is shutting down", hdrs);
        return 0;
    }
    kr_req *r = krc_req_new(app, loop, req, route, &m);
    if (r == NULL) {
        krc_send_problem(req, 500, "internal", "out of memory", NULL);
        return 0;
    }
    r->start_ns = t0;
    req_guard *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), on_guard_dispose);
    g->r = r;
    r->task.fn = run_task;
    r->task.next = NULL;
    if (loop->batch_tail != NULL)
        loop->batch_tail->next = &r->task;
    else
        loop->batch_head = &r->task;
    loop->batch_tail = &r->task;
    return 0;
}

void krc_loop_flush(krc_loop *L)
{
    krc_task *t = L->batch_head;
    if (t == NULL)
        return;
    L->batch_head = L->batch_tail = NULL;
    krc_task *rest = krc_pool_submit_list(L->app->pool, t);
    while (rest != NULL) {
        krc_task *next = rest->next;
        kr_req *r = CONTAINER_OF(rest, kr_req, task);
        /* Never reached a worker: answer now and drop the worker's share. */
        krc_counter_add(L->app->c_rejected_busy, 1);
        count_status(r->route, 503);
        if (r->h2o != NULL) {
            const char *hdrs[] = {"retry-after", "1", NULL};
            krc_send_problem(r->h2o, 503, "overloaded", "the server is busy; retry shortly", hdrs);
        }
        krc_req_release(r);
        rest = next;
    }
}
