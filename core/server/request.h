/* Core: a request as plugins see it (kr_req).
 *
 * Created on the loop thread with copies of everything a handler may read
 * (method, path, query, headers, body, params, client IP), so the worker
 * never touches h2o's request, which the loop may free when the client
 * resets the stream. Freed when both sides are done with it: the worker
 * (its completion message was handled) and h2o (the request's pool was
 * disposed). Both happen on the owning loop thread, so the count needs no
 * atomics. */
#ifndef KRC_SERVER_REQUEST_H
#define KRC_SERVER_REQUEST_H

#include <h2o.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/server/app.h"
#include "core/server/arena.h"
#include "core/server/pool.h"

struct krc_loop;

typedef struct krc_kv {
    const char *name;
    const char *value;
    size_t value_len;
} krc_kv;

typedef struct krc_resp_header {
    struct krc_resp_header *next;
    char *name;
    char *value;
} krc_resp_header;

struct kr_req {
    kr_handle h;
    krc_task task;
    h2o_multithread_message_t msg;
    krc_app *app;
    struct krc_loop *loop;
    h2o_req_t *h2o; /* loop thread only; NULL once h2o disposed it */
    int refs;       /* loop thread only */
    atomic_int cancelled;
    const krc_route_entry *route;
    krc_arena arena;
    uint64_t start_ns;

    /* request, copied on the loop thread */
    const char *method;
    const char *path;  /* decoded */
    const char *raw_path;
    const char *query; /* raw, without '?', or NULL */
    const char *proto;
    krc_kv *headers;   /* names lower-case */
    size_t nheaders;
    krc_kv *params;
    size_t nparams;
    krc_kv *qparams;   /* parsed lazily on the worker */
    ssize_t nqparams;  /* -1 until parsed */
    const char *body;
    size_t body_len;
    json_t *json;      /* parsed body (kr_req_json), decref'd at free */
    char id[24];
    char client_ip[48];
    kr_principal principal;
    bool has_principal;

    /* response, built on the worker */
    struct kr_stream *stream; /* kr_sse_open answered with a stream */
    bool stream_started;      /* loop thread: handed to the stream */
    bool replied;
    int status;
    char *content_type;
    krc_resp_header *resp_headers;
    char *resp_body; /* malloc'ed */
    size_t resp_len;
};

/* loop. Builds a kr_req from h2o's request and the matched route. NULL on
 * out of memory. The request starts with two references (loop, worker). */
kr_req *krc_req_new(krc_app *app, struct krc_loop *loop, h2o_req_t *req, const krc_route_entry *route,
                    const krc_route_match *m);
/* loop. Drops one reference. */
void krc_req_release(kr_req *r);

/* worker. Sets the response (body is taken over: malloc'ed or NULL). */
int krc_req_set_response(kr_req *r, int status, const char *content_type, char *body, size_t len);

/* worker. Host-table entries for requests and responses. */
void krc_req_host_fill(kr_host *h);

/* any. Monotonic nanoseconds. */
uint64_t krc_now_ns(void);

#endif
