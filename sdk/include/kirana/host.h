/* kirana SDK: the host API table.
 *
 * Plugins never link to the core. Every handle the core gives a plugin
 * (kr_plugin_ctx, kr_req, kr_db, kr_coll, kr_redis, kr_queue, kr_job,
 * kr_counter, kr_gauge, kr_stream) begins with a pointer to this table, and the SDK's
 * small library (libkirana_sdk) implements each kr_* function by calling
 * through it. A fake host for unit tests fills the same table.
 *
 * The table is size-prefixed and append-only: new entries go at the end
 * with a new ABI minor; nothing is ever reordered or removed within a major.
 * Plugin authors do not need this header.
 */
#ifndef KIRANA_HOST_H
#define KIRANA_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kirana/kirana.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_host kr_host;

/* The first member of every handle. */
typedef struct kr_handle {
    const kr_host *host;
} kr_handle;

#define KR_HOST_OF(h) (((const kr_handle *)(h))->host)

struct kr_host {
    uint32_t size; /* sizeof(kr_host) as the host was built */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* errors */
    const char *(*errmsg)(void);

    /* plugin context */
    const char *(*ctx_name)(const kr_plugin_ctx *ctx);
    const json_t *(*ctx_config)(const kr_plugin_ctx *ctx);
    const char *(*ctx_mount)(const kr_plugin_ctx *ctx);
    void *(*ctx_state)(const kr_plugin_ctx *ctx);
    void (*ctx_set_state)(kr_plugin_ctx *ctx, void *state);
    int (*ctx_has_role)(const kr_plugin_ctx *ctx, const char *role);
    kr_db *(*ctx_db)(const kr_plugin_ctx *ctx);
    kr_redis *(*ctx_redis)(const kr_plugin_ctx *ctx);
    kr_queue *(*ctx_queue)(const kr_plugin_ctx *ctx);
    int (*ready_check_add)(kr_plugin_ctx *ctx, const char *name,
                           kr_ready_fn fn, void *udata);

    /* routes and auth */
    int (*route_add)(kr_plugin_ctx *ctx, const char *method,
                     const char *pattern, kr_auth auth, kr_handler_fn handler,
                     void *udata);
    int (*authenticator_set)(kr_plugin_ctx *ctx, kr_authenticate_fn fn,
                             void *udata);

    /* request */
    const char *(*req_method)(const kr_req *req);
    const char *(*req_path)(const kr_req *req);
    const char *(*req_param)(const kr_req *req, const char *name);
    const char *(*req_query)(const kr_req *req, const char *name);
    const char *(*req_header)(const kr_req *req, const char *name);
    const void *(*req_body)(const kr_req *req, size_t *len);
    int (*req_json)(kr_req *req, json_t **out);
    const char *(*req_id)(const kr_req *req);
    const char *(*req_client_ip)(const kr_req *req);
    const kr_principal *(*req_principal)(const kr_req *req);
    kr_plugin_ctx *(*req_ctx)(const kr_req *req);
    int (*req_cancelled)(const kr_req *req);
    void *(*req_alloc)(kr_req *req, size_t size);

    /* response */
    int (*resp_header)(kr_req *req, const char *name, const char *value);
    int (*reply_json)(kr_req *req, int status, json_t *body);
    int (*reply)(kr_req *req, int status, const char *content_type,
                 const void *body, size_t len);
    int (*reply_problem)(kr_req *req, int status, const char *code,
                         const char *detail, json_t *extra);
    int (*reply_error)(kr_req *req, int err, const char *detail);

    /* log and metrics */
    void (*log)(const kr_plugin_ctx *ctx, const kr_req *req, kr_level level,
                const char *fmt, va_list ap);
    kr_counter *(*metrics_counter)(kr_plugin_ctx *ctx, const char *name,
                                   const char *help, const char *labels);
    void (*counter_add)(kr_counter *c, uint64_t n);
    kr_gauge *(*metrics_gauge)(kr_plugin_ctx *ctx, const char *name,
                               const char *help, const char *labels);
    void (*gauge_add)(kr_gauge *g, int64_t delta, int set);

    /* db */
    kr_coll *(*db_coll)(kr_db *db, const char *name);
    int (*db_find)(kr_coll *c, const json_t *filter, const json_t *sort,
                   const json_t *projection, int64_t skip, int64_t limit,
                   json_t **out);
    int (*db_find_one)(kr_coll *c, const json_t *filter, const json_t *sort,
                       const json_t *projection, json_t **out);
    int (*db_insert_one)(kr_coll *c, const json_t *doc, char **id_out);
    int (*db_update)(kr_coll *c, const json_t *filter, const json_t *update,
                     unsigned flags, int many, kr_update_result *res);
    int (*db_find_one_and_update)(kr_coll *c, const json_t *filter,
                                  const json_t *update, const json_t *sort,
                                  unsigned flags, json_t **out);
    int (*db_delete)(kr_coll *c, const json_t *filter, int many,
                     int64_t *deleted);
    int (*db_count)(kr_coll *c, const json_t *filter, int64_t *n);
    int (*db_create_index)(kr_coll *c, const json_t *keys, unsigned flags,
                           const char *name);

    /* redis */
    int (*redis_command_argv)(kr_redis *r, int argc, const char *const *argv,
                              const size_t *argvlen, kr_redis_reply **out);
    int (*redis_pipeline)(kr_redis *r, size_t n, const kr_redis_cmd *cmds,
                          kr_redis_reply ***replies);

    /* queue */
    int (*queue_add)(kr_queue *q, const char *queue, const char *name,
                     const json_t *data, const json_t *opts, char **id_out);
    int (*queue_consume)(kr_plugin_ctx *ctx, const char *queue,
                         int concurrency, kr_job_fn fn, void *udata);
    const char *(*job_id)(const kr_job *job);
    const char *(*job_name)(const kr_job *job);
    const char *(*job_queue)(const kr_job *job);
    const json_t *(*job_data)(const kr_job *job);
    int (*job_attempts_made)(const kr_job *job);
    kr_plugin_ctx *(*job_ctx)(const kr_job *job);
    void (*job_set_result)(kr_job *job, json_t *result);
    void (*job_set_failure)(kr_job *job, const char *reason);
    void (*job_discard)(kr_job *job);
    int (*job_stopping)(const kr_job *job);

    /* command line */
    int (*command_add)(kr_plugin_ctx *ctx, const char *name, const char *usage, kr_command_fn fn, void *udata);

    /* server-sent events and pub/sub */
    kr_stream *(*sse_open)(kr_req *req, int heartbeat_s, kr_stream_close_fn on_close, void *udata);
    int (*stream_send)(kr_stream *s, const char *event, const char *id, const char *data);
    int (*stream_closed)(const kr_stream *s);
    void (*stream_close)(kr_stream *s);
    int (*subscribe)(kr_plugin_ctx *ctx, const char *channel, kr_message_fn fn, void *udata);
    int (*publish)(kr_plugin_ctx *ctx, const char *channel, const char *msg, size_t len, long long *receivers);

    /* errors, continued */
    void (*set_errmsg)(const char *msg);

    /* ABI 1.1: route descriptions */
    int (*openapi_add)(kr_plugin_ctx *ctx, const char *json);
};

#ifdef __cplusplus
}
#endif
#endif
