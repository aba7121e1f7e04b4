/* Fake host internals: the structures behind the SDK's opaque handles and
 * the helpers the fake host's files share. Not for tests to include. */
#ifndef KRF_INTERNAL_H
#define KRF_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kirana/host.h"
#include "kirana/fakehost.h"

/* One length-prefixed byte string (Redis values are binary-safe). */
typedef struct krf_str {
    char *p; /* malloc()ed, NUL-terminated for convenience */
    size_t n;
} krf_str;

struct kr_plugin_ctx {
    kr_handle h;
    kr_fakehost *fh;
    const kr_plugin *desc;
    char *mount;
    json_t *config;
    void *state;
    json_t *openapi; /* kr_openapi_add, or NULL */
    int init_done;
    int started;
};

typedef struct krf_route {
    kr_plugin_ctx *ctx;
    char *method;
    char *pattern; /* mount + pattern as declared */
    char **segs;   /* pattern split on '/', "{name}" kept as is */
    size_t nsegs;
    kr_auth auth;
    kr_handler_fn fn;
    void *udata;
} krf_route;

typedef struct krf_ready {
    kr_plugin_ctx *ctx;
    char *name;
    kr_ready_fn fn;
    void *udata;
} krf_ready;

typedef struct krf_metric {
    kr_handle h; /* kr_counter and kr_gauge both start here */
    int is_gauge;
    char *name;
    char *labels; /* "" when none */
    _Atomic uint64_t counter;
    _Atomic int64_t gauge;
} krf_metric;

typedef struct krf_logline {
    kr_level level;
    char *plugin;     /* NULL when none */
    char *request_id; /* NULL outside requests */
    char *msg;
} krf_logline;

typedef struct krf_sub {
    char *channel;
    kr_message_fn fn;
    void *udata;
} krf_sub;

typedef struct krf_command {
    char *name;
    kr_command_fn fn;
    void *udata;
    kr_plugin_ctx *ctx;
} krf_command;

struct kr_fakehost {
    pthread_mutex_t mu; /* plugins, routes, metrics, logs, settings */
    _Atomic int64_t now_ms;
    char **roles;
    size_t nroles;
    kr_plugin_ctx **ctxs;
    size_t nctxs, capctxs;
    krf_route *routes;
    size_t nroutes, caproutes;
    kr_plugin_ctx *auth_ctx;
    kr_authenticate_fn auth_fn;
    void *auth_udata;
    krf_ready *ready;
    size_t nready, capready;
    krf_metric **metrics;
    size_t nmetrics, capmetrics;
    krf_logline *logs;
    size_t nlogs, caplogs;
    int echo_logs;
    char client_ip[64];
    _Atomic uint64_t next_req;
    char error[512];
    kr_db *db;
    kr_redis *redis;
    kr_queue *queue;
    pthread_mutex_t smu; /* streams and subscriptions */
    kr_stream **streams;
    size_t nstreams, capstreams;
    krf_sub *subs;
    size_t nsubs, capsubs;
    krf_command *commands; /* under mu */
    size_t ncommands;
};

/* The table every fake handle points at. */
extern const kr_host krf_host;

/* --- errors (host.c) --- */
/* any thread. Sets the thread's message (kr_errmsg) and returns err. */
int krf_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* any thread. Empties the thread's message. */
void krf_clear_error(void);
/* any thread. The thread's message (borrowed). */
const char *krf_errmsg(void);
/* any thread. The fake clock in milliseconds since the epoch. */
int64_t krf_now_ms(const kr_fakehost *fh);
/* any thread. Consumes one injected failure: 0 when none is armed, else the
 * code to fail with. fail_times is guarded by mu. */
int krf_take_fault(pthread_mutex_t *mu, int *fail_err, int *fail_times);

/* --- plugin context (host.c) --- */
/* any thread. The plugin's name (borrowed from its descriptor). */
const char *krf_ctx_name(const kr_plugin_ctx *ctx);
/* any thread. 1 when the simulated process runs role. */
int krf_has_role(const kr_fakehost *fh, const char *role);

/* --- config defaults (config.c) --- */
/* test thread. A new config (caller-owned) from `given` (borrowed, may be
 * NULL) with the schema's defaults filled; NULL with a reason in err. */
json_t *krf_config_prepare(const char *schema_text, const json_t *given, char *err, size_t errlen);

/* --- routes (route.c) --- */
/* init thread. Host entry for kr_route_add (strings copied). */
int krf_openapi_add(kr_plugin_ctx *ctx, const char *json);
int krf_route_add(kr_plugin_ctx *ctx, const char *method, const char *pattern, kr_auth auth, kr_handler_fn handler,
                  void *udata);
/* test thread. Drops every route of ctx (a refused load). */
void krf_routes_drop(kr_fakehost *fh, const kr_plugin_ctx *ctx);
/* test thread. Frees the route table at kr_fakehost_free. */
void krf_routes_free(kr_fakehost *fh);
/* Outcome of routing one request. */
typedef struct krf_match {
    const krf_route *route; /* NULL: no route for this method */
    int path_known;         /* some route has this path (405 rather than 404) */
    char allow[128];        /* methods allowed on the path, for 405 */
} krf_match;
/* any thread, fh->mu held. segs are the raw (still encoded) path segments. */
void krf_route_find(const kr_fakehost *fh, const char *method, char **segs, size_t nsegs, krf_match *out);

/* --- requests (req.c, reply.c, request.c) --- */
typedef struct krf_block {
    struct krf_block *next;
    max_align_t data[];
} krf_block;

typedef struct krf_pair {
    const char *name;
    const char *value;
} krf_pair;

struct kr_req {
    kr_handle h;
    kr_fakehost *fh;
    kr_plugin_ctx *ctx;
    krf_block *arena;
    char id[32];
    char client_ip[64];
    const char *method;
    const char *path;
    krf_pair *params;
    size_t nparams;
    krf_pair *query;
    size_t nquery;
    krf_pair *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    json_t *json; /* parsed body, owned by the request */
    int has_principal;
    kr_principal principal;
    /* the answer */
    int replied;
    int status;
    char *content_type;
    char *resp_body;
    size_t resp_len;
    kr_fake_header *resp_headers;
    size_t nresp_headers;
};

/* worker. Arena allocation, request-scoped; aborts on OOM like the rest of
 * the fake host. */
void *krf_req_alloc(kr_req *req, size_t size);
/* worker. NUL-terminated copy of s[0..n) in the arena (request-scoped). */
char *krf_req_strndup(kr_req *req, const char *s, size_t n);
/* worker. Frees the arena when the simulated request ends. */
void krf_req_arena_free(kr_req *req);
/* worker. Percent-decodes s[0..n) into the arena (request-scoped);
 * plus_space turns '+' into ' ' (query strings). */
char *krf_req_decode(kr_req *req, const char *s, size_t n, int plus_space);

/* worker. Host entries for kr_req_*: ownership as kirana/http.h says
 * (request-scoped results). */
const char *krf_req_method(const kr_req *req);
const char *krf_req_path(const kr_req *req);
const char *krf_req_param(const kr_req *req, const char *name);
const char *krf_req_query(const kr_req *req, const char *name);
const char *krf_req_header(const kr_req *req, const char *name);
const void *krf_req_body(const kr_req *req, size_t *len);
int krf_req_json(kr_req *req, json_t **out);
const char *krf_req_id(const kr_req *req);
const char *krf_req_client_ip(const kr_req *req);
const kr_principal *krf_req_principal(const kr_req *req);
kr_plugin_ctx *krf_req_ctx(const kr_req *req);
int krf_req_cancelled(const kr_req *req);
void *krf_req_alloc_host(kr_req *req, size_t size);

/* worker. Host entries for kr_resp_header and kr_reply_* (arguments copied,
 * bodies and extras stolen as kirana/http.h says). */
int krf_resp_header(kr_req *req, const char *name, const char *value);
int krf_reply_json(kr_req *req, int status, json_t *body);
int krf_reply(kr_req *req, int status, const char *content_type, const void *body, size_t len);
int krf_reply_problem(kr_req *req, int status, const char *code, const char *detail, json_t *extra);
int krf_reply_error(kr_req *req, int err, const char *detail);
/* any thread. HTTP status and problem code of an error. */
int krf_err_status(int err, const char **code);

/* --- logs and metrics (log.c, metrics.c) --- */
/* any thread. Host entry for kr_log and kr_req_log (the line is copied). */
void krf_log(const kr_plugin_ctx *ctx, const kr_req *req, kr_level level, const char *fmt, va_list ap);
/* any thread. A line from the fake host itself (plugin NULL). */
void krf_log_host(kr_fakehost *fh, const kr_req *req, kr_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* test thread. Frees the captured lines at kr_fakehost_free. */
void krf_logs_free(kr_fakehost *fh);
/* init thread. Host entries for kr_metrics_*: metrics are borrowed and live
 * until kr_fakehost_free; adds are atomic (any thread). */
kr_counter *krf_metrics_counter(kr_plugin_ctx *ctx, const char *name, const char *help, const char *labels);
void krf_counter_add(kr_counter *c, uint64_t n);
kr_gauge *krf_metrics_gauge(kr_plugin_ctx *ctx, const char *name, const char *help, const char *labels);
void krf_gauge_add(kr_gauge *g, int64_t delta, int set);
/* test thread. Frees the metrics at kr_fakehost_free. */
void krf_metrics_free(kr_fakehost *fh);

/* --- sort and projection (order.c, project.c) --- */
/* any. 0 when sort (may be NULL) is {path: 1 | -1, ...}, else KR_EINVAL
 * with the reason in err. */
int krf_sort_check(const json_t *sort, char *err, size_t errlen);
/* any. Stable sort of docs[0..n) by a checked sort spec; arrays sort by
 * their smallest element ascending and their largest descending. */
void krf_sort(const json_t **docs, size_t n, const json_t *sort);
/* any. 0 when projection (may be NULL) is all inclusions or all exclusions
 * (_id may differ), else KR_EINVAL with the reason in err. */
int krf_projection_check(const json_t *projection, char *err, size_t errlen);
/* any. A projected copy of doc (caller-owned) by a checked projection. */
json_t *krf_project(const json_t *doc, const json_t *projection);

/* --- db (db.c) --- */
/* test thread. The host's DB (owned by fh; krf_db_free). */
kr_db *krf_db_new(kr_fakehost *fh);
/* test thread. Frees every collection and document. */
void krf_db_free(kr_db *db);
/* any thread. Arms injected failures (kr_fakehost_fail_db). */
void krf_db_fail(kr_db *db, int err, int times);
/* worker. Host entries for kr_db_*: results caller-owned as kirana/db.h says. */
kr_coll *krf_db_coll(kr_db *db, const char *name);
int krf_db_find(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, int64_t skip,
                int64_t limit, json_t **out);
int krf_db_find_one(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, json_t **out);
int krf_db_insert_one(kr_coll *c, const json_t *doc, char **id_out);
int krf_db_update(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, int many,
                  kr_update_result *res);
int krf_db_find_one_and_update(kr_coll *c, const json_t *filter, const json_t *update, const json_t *sort,
                               unsigned flags, json_t **out);
int krf_db_delete(kr_coll *c, const json_t *filter, int many, int64_t *deleted);
int krf_db_count(kr_coll *c, const json_t *filter, int64_t *n);
int krf_db_create_index(kr_coll *c, const json_t *keys, unsigned flags, const char *name);

/* --- redis (redis.c) --- */
/* test thread. The host's Redis (owned by fh; krf_redis_free). */
kr_redis *krf_redis_new(kr_fakehost *fh);
/* test thread. Frees every key and recorded message. */
void krf_redis_free(kr_redis *r);
/* any thread. Arms injected failures (kr_fakehost_fail_redis). */
void krf_redis_fail(kr_redis *r, int err, int times);
/* any thread. Messages published to channel (caller-owned array). */
json_t *krf_redis_published(kr_redis *r, const char *channel);
/* worker. Host entries for kr_redis_*: replies caller-owned as kirana/redis.h
 * says. */
int krf_redis_command_argv(kr_redis *r, int argc, const char *const *argv, const size_t *argvlen, kr_redis_reply **out);
int krf_redis_pipeline(kr_redis *r, size_t n, const kr_redis_cmd *cmds, kr_redis_reply ***replies);

/* --- queue (queue.c) --- */
/* test thread. The host's queue (owned by fh; krf_queue_free). */
kr_queue *krf_queue_new(kr_fakehost *fh);
/* test thread. Frees every job and consumer. */
void krf_queue_free(kr_queue *q);
/* any thread. Arms injected failures (kr_fakehost_fail_queue). */
void krf_queue_fail(kr_queue *q, int err, int times);
/* test thread. Drops the consumers of ctx (a refused load). */
void krf_queue_drop_consumers(kr_queue *q, const kr_plugin_ctx *ctx);
/* worker or job thread. Host entry for kr_queue_add (id_out caller-owned). */
int krf_queue_add(kr_queue *q, const char *queue, const char *name, const json_t *data, const json_t *opts,
                  char **id_out);
/* init thread. Host entry for kr_queue_consume. */
int krf_queue_consume(kr_plugin_ctx *ctx, const char *queue, int concurrency, kr_job_fn fn, void *udata);
/* job thread. Host entries for kr_job_*: results borrowed until the consumer
 * returns, as kirana/queue.h says. */
const char *krf_job_id(const kr_job *job);
const char *krf_job_name(const kr_job *job);
const char *krf_job_queue(const kr_job *job);
const json_t *krf_job_data(const kr_job *job);
int krf_job_attempts_made(const kr_job *job);
kr_plugin_ctx *krf_job_ctx(const kr_job *job);
void krf_job_set_result(kr_job *job, json_t *result);
void krf_job_set_failure(kr_job *job, const char *reason);
void krf_job_discard(kr_job *job);
int krf_job_stopping(const kr_job *job);

/* --- server-sent events and pub/sub (stream.c) --- */
/* Host entries for kr_sse_open, kr_stream_* (any thread but sse_open:
 * worker), kr_subscribe (init) and kr_publish (worker), as kirana/http.h
 * says. */
kr_stream *krf_sse_open(kr_req *req, int heartbeat_s, kr_stream_close_fn on_close, void *udata);
int krf_stream_send(kr_stream *s, const char *event, const char *id, const char *data);
int krf_stream_closed(const kr_stream *s);
void krf_stream_close(kr_stream *s);
int krf_subscribe(kr_plugin_ctx *ctx, const char *channel, kr_message_fn fn, void *udata);
int krf_publish(kr_plugin_ctx *ctx, const char *channel, const char *msg, size_t len, long long *receivers);
/* test thread, at kr_fakehost_free before plugins stop: the clients leave
 * and every on_close not run yet runs (the core ends streams first too). */
void krf_streams_end(kr_fakehost *fh);
/* test thread, after fini: frees streams and subscriptions. */
void krf_streams_free(kr_fakehost *fh);

/* --- small helpers (util.c) --- */
/* any thread. Allocation that aborts the test process on failure (a fake
 * host that cannot allocate cannot report anything meaningful); results are
 * caller-owned (free()). */
void *krf_xmalloc(size_t n);
void *krf_xcalloc(size_t n, size_t size);
void *krf_xrealloc(void *p, size_t n);
char *krf_xstrdup(const char *s);
char *krf_xstrndup(const char *s, size_t n);
/* any thread. Grows *arr (element size `size`) so that it holds at least n + 1. */
void krf_grow(void *arr, size_t *cap, size_t n, size_t size);

#endif
