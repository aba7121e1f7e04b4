/* libkirana_sdk: each kr_* function calls through the host table that the
 * handle points at. Linked statically into every plugin. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirana/host.h"

#define H(x) KR_HOST_OF(x)

const char *kr_strerror(int err)
{
    switch (err) {
    case KR_OK: return "KR_OK";
    case KR_EINVAL: return "KR_EINVAL";
    case KR_ENOTFOUND: return "KR_ENOTFOUND";
    case KR_EDUPLICATE: return "KR_EDUPLICATE";
    case KR_ECONFLICT: return "KR_ECONFLICT";
    case KR_EUNAVAILABLE: return "KR_EUNAVAILABLE";
    case KR_ENOMEM: return "KR_ENOMEM";
    case KR_EINTERNAL: return "KR_EINTERNAL";
    case KR_ETOOBIG: return "KR_ETOOBIG";
    case KR_EAUTH: return "KR_EAUTH";
    case KR_EFORBIDDEN: return "KR_EFORBIDDEN";
    case KR_ELIMIT: return "KR_ELIMIT";
    case KR_EUNPROCESSABLE: return "KR_EUNPROCESSABLE";
    }
    return "KR_EUNKNOWN";
}

const char *kr_errmsg(const void *handle)
{
    if (handle == NULL)
        return "";
    return H(handle)->errmsg();
}

int kr_error(const void *handle, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (handle != NULL)
        H(handle)->set_errmsg(msg);
    return err;
}

/* plugin context */
const char *kr_ctx_name(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_name(ctx); }
const json_t *kr_ctx_config(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_config(ctx); }
const char *kr_ctx_mount(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_mount(ctx); }
void *kr_ctx_state(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_state(ctx); }
void kr_ctx_set_state(kr_plugin_ctx *ctx, void *state) { H(ctx)->ctx_set_state(ctx, state); }
int kr_ctx_has_role(const kr_plugin_ctx *ctx, const char *role) { return H(ctx)->ctx_has_role(ctx, role); }
kr_db *kr_ctx_db(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_db(ctx); }
kr_redis *kr_ctx_redis(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_redis(ctx); }
kr_queue *kr_ctx_queue(const kr_plugin_ctx *ctx) { return H(ctx)->ctx_queue(ctx); }

int kr_ready_check_add(kr_plugin_ctx *ctx, const char *name, kr_ready_fn fn, void *udata)
{
    return H(ctx)->ready_check_add(ctx, name, fn, udata);
}

int kr_command_add(kr_plugin_ctx *ctx, const char *name, const char *usage, kr_command_fn fn, void *udata)
{
    return H(ctx)->command_add(ctx, name, usage, fn, udata);
}

/* routes and auth */
int kr_route_add(kr_plugin_ctx *ctx, const char *method, const char *pattern, kr_auth auth,
                 kr_handler_fn handler, void *udata)
{
    return H(ctx)->route_add(ctx, method, pattern, auth, handler, udata);
}

int kr_authenticator_set(kr_plugin_ctx *ctx, kr_authenticate_fn fn, void *udata)
{
    return H(ctx)->authenticator_set(ctx, fn, udata);
}

/* kr_plugin_openapi_json of a build that embedded no openapi.json (and of
 * plugin sources compiled into unit tests): the server refuses it, saying so. */
__attribute__((weak)) const char kr_plugin_openapi_json[] = "";

int kr_openapi_add(kr_plugin_ctx *ctx, const char *json)
{
    const kr_host *h = H(ctx);
    /* the loader refuses plugins newer than the server, but a hand-made
     * host table may still be short */
    if (h->size < offsetof(kr_host, openapi_add) + sizeof(h->openapi_add) || h->openapi_add == NULL)
        return kr_error(ctx, KR_EINVAL, "this host (ABI %u.%u) takes no OpenAPI descriptions", h->abi_major,
                        h->abi_minor);
    return h->openapi_add(ctx, json);
}

/* request */
const char *kr_req_method(const kr_req *req) { return H(req)->req_method(req); }
const char *kr_req_path(const kr_req *req) { return H(req)->req_path(req); }
const char *kr_req_param(const kr_req *req, const char *name) { return H(req)->req_param(req, name); }
const char *kr_req_query(const kr_req *req, const char *name) { return H(req)->req_query(req, name); }
const char *kr_req_header(const kr_req *req, const char *name) { return H(req)->req_header(req, name); }
const void *kr_req_body(const kr_req *req, size_t *len) { return H(req)->req_body(req, len); }
int kr_req_json(kr_req *req, json_t **out) { return H(req)->req_json(req, out); }
const char *kr_req_id(const kr_req *req) { return H(req)->req_id(req); }
const char *kr_req_client_ip(const kr_req *req) { return H(req)->req_client_ip(req); }
const kr_principal *kr_req_principal(const kr_req *req) { return H(req)->req_principal(req); }
kr_plugin_ctx *kr_req_ctx(const kr_req *req) { return H(req)->req_ctx(req); }
int kr_req_cancelled(const kr_req *req) { return H(req)->req_cancelled(req); }
void *kr_req_alloc(kr_req *req, size_t size) { return H(req)->req_alloc(req, size); }

char *kr_req_strdup(kr_req *req, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = kr_req_alloc(req, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

char *kr_req_printf(kr_req *req, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = NULL;
    if (n >= 0 && (p = kr_req_alloc(req, (size_t)n + 1)) != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

/* response */
int kr_resp_header(kr_req *req, const char *name, const char *value)
{
    return H(req)->resp_header(req, name, value);
}
int kr_reply_json(kr_req *req, int status, json_t *body) { return H(req)->reply_json(req, status, body); }
int kr_reply(kr_req *req, int status, const char *content_type, const void *body, size_t len)
{
    return H(req)->reply(req, status, content_type, body, len);
}
int kr_reply_problem(kr_req *req, int status, const char *code, const char *detail, json_t *extra)
{
    return H(req)->reply_problem(req, status, code, detail, extra);
}
int kr_reply_error(kr_req *req, int err, const char *detail) { return H(req)->reply_error(req, err, detail); }

int kr_reply_invalid(kr_req *req, json_t *errors)
{
    json_t *extra = json_object();
    json_object_set_new(extra, "errors", errors != NULL ? errors : json_array());
    return kr_reply_problem(req, 400, "validation_failed", "the request is not valid", extra);
}

kr_stream *kr_sse_open(kr_req *req, int heartbeat_s, kr_stream_close_fn on_close, void *udata)
{
    return H(req)->sse_open(req, heartbeat_s, on_close, udata);
}
int kr_stream_send(kr_stream *s, const char *event, const char *id, const char *data)
{
    return H(s)->stream_send(s, event, id, data);
}
int kr_stream_closed(const kr_stream *s) { return H(s)->stream_closed(s); }
void kr_stream_close(kr_stream *s) { H(s)->stream_close(s); }
int kr_subscribe(kr_plugin_ctx *ctx, const char *channel, kr_message_fn fn, void *udata)
{
    return H(ctx)->subscribe(ctx, channel, fn, udata);
}
int kr_publish(kr_plugin_ctx *ctx, const char *channel, const char *msg, size_t len, long long *receivers)
{
    return H(ctx)->publish(ctx, channel, msg, len, receivers);
}

void kr_invalid_add(json_t **errors, const char *field, const char *message)
{
    if (*errors == NULL)
        *errors = json_array();
    json_array_append_new(*errors, json_pack("{s:s, s:s}", "field", field, "message", message));
}

/* log and metrics */
void kr_log(const kr_plugin_ctx *ctx, kr_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    H(ctx)->log(ctx, NULL, level, fmt, ap);
    va_end(ap);
}

void kr_req_log(const kr_req *req, kr_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    H(req)->log(NULL, req, level, fmt, ap);
    va_end(ap);
}

kr_counter *kr_metrics_counter(kr_plugin_ctx *ctx, const char *name, const char *help, const char *labels)
{
    return H(ctx)->metrics_counter(ctx, name, help, labels);
}
void kr_counter_add(kr_counter *c, uint64_t n) { H(c)->counter_add(c, n); }
kr_gauge *kr_metrics_gauge(kr_plugin_ctx *ctx, const char *name, const char *help, const char *labels)
{
    return H(ctx)->metrics_gauge(ctx, name, help, labels);
}
void kr_gauge_set(kr_gauge *g, int64_t v) { H(g)->gauge_add(g, v, 1); }
void kr_gauge_add(kr_gauge *g, int64_t delta) { H(g)->gauge_add(g, delta, 0); }

/* db */
kr_coll *kr_db_coll(kr_db *db, const char *name) { return H(db)->db_coll(db, name); }
int kr_db_find(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, int64_t skip,
               int64_t limit, json_t **out)
{
    return H(c)->db_find(c, filter, sort, projection, skip, limit, out);
}
int kr_db_find_one(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, json_t **out)
{
    return H(c)->db_find_one(c, filter, sort, projection, out);
}
int kr_db_insert_one(kr_coll *c, const json_t *doc, char **id_out) { return H(c)->db_insert_one(c, doc, id_out); }
int kr_db_update_one(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, kr_update_result *res)
{
    return H(c)->db_update(c, filter, update, flags, 0, res);
}
int kr_db_update_many(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, kr_update_result *res)
{
    return H(c)->db_update(c, filter, update, flags, 1, res);
}
int kr_db_find_one_and_update(kr_coll *c, const json_t *filter, const json_t *update, const json_t *sort,
                              unsigned flags, json_t **out)
{
    return H(c)->db_find_one_and_update(c, filter, update, sort, flags, out);
}
int kr_db_delete_one(kr_coll *c, const json_t *filter, int64_t *deleted) { return H(c)->db_delete(c, filter, 0, deleted); }
int kr_db_delete_many(kr_coll *c, const json_t *filter, int64_t *deleted) { return H(c)->db_delete(c, filter, 1, deleted); }
int kr_db_count(kr_coll *c, const json_t *filter, int64_t *n) { return H(c)->db_count(c, filter, n); }
int kr_db_create_index(kr_coll *c, const json_t *keys, unsigned flags, const char *name)
{
    return H(c)->db_create_index(c, keys, flags, name);
}

/* redis */
int kr_redis_command_argv(kr_redis *r, int argc, const char *const *argv, const size_t *argvlen,
                          kr_redis_reply **out)
{
    return H(r)->redis_command_argv(r, argc, argv, argvlen, out);
}

int kr_redis_command(kr_redis *r, kr_redis_reply **out, const char *arg0, ...)
{
    const char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *)) {
        if (argc == 64) {
            va_end(ap);
            return KR_EINVAL;
        }
        argv[argc++] = a;
    }
    va_end(ap);
    return H(r)->redis_command_argv(r, argc, argv, NULL, out);
}

int kr_redis_pipeline(kr_redis *r, size_t n, const kr_redis_cmd *cmds, kr_redis_reply ***replies)
{
    return H(r)->redis_pipeline(r, n, cmds, replies);
}

void kr_redis_reply_free(kr_redis_reply *reply)
{
    if (reply == NULL)
        return;
    for (size_t i = 0; i < reply->elements; i++)
        kr_redis_reply_free(reply->element[i]);
    free(reply->element);
    free(reply->str);
    free(reply);
}

void kr_redis_replies_free(kr_redis_reply **replies, size_t n)
{
    if (replies == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        kr_redis_reply_free(replies[i]);
    free(replies);
}

/* queue */
int kr_queue_add(kr_queue *q, const char *queue, const char *name, const json_t *data, const json_t *opts,
                 char **id_out)
{
    return H(q)->queue_add(q, queue, name, data, opts, id_out);
}
int kr_queue_consume(kr_plugin_ctx *ctx, const char *queue, int concurrency, kr_job_fn fn, void *udata)
{
    return H(ctx)->queue_consume(ctx, queue, concurrency, fn, udata);
}
const char *kr_job_id(const kr_job *job) { return H(job)->job_id(job); }
const char *kr_job_name(const kr_job *job) { return H(job)->job_name(job); }
const char *kr_job_queue(const kr_job *job) { return H(job)->job_queue(job); }
const json_t *kr_job_data(const kr_job *job) { return H(job)->job_data(job); }
int kr_job_attempts_made(const kr_job *job) { return H(job)->job_attempts_made(job); }
kr_plugin_ctx *kr_job_ctx(const kr_job *job) { return H(job)->job_ctx(job); }
void kr_job_set_result(kr_job *job, json_t *result) { H(job)->job_set_result(job, result); }
void kr_job_set_failure(kr_job *job, const char *reason) { H(job)->job_set_failure(job, reason); }
void kr_job_discard(kr_job *job) { H(job)->job_discard(job); }
int kr_job_stopping(const kr_job *job) { return H(job)->job_stopping(job); }
