/* kirana SDK: routes, requests and responses.
 *
 * Handlers run on a worker-pool thread and may block on SDK calls. A handler
 * answers exactly once with one of the kr_reply_* calls and returns 0, or
 * returns a negative kr_err without answering: the core then answers with
 * the problem response that code maps to (detail from kr_errmsg for 4xx; a
 * generic detail for 5xx, with the message logged).
 *
 * Everything a kr_req hands out is request-scoped: valid until the handler
 * returns, freed by the core.
 */
#ifndef KIRANA_HTTP_H
#define KIRANA_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>

#include "kirana/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_req kr_req;

typedef enum kr_auth {
    KR_AUTH_NONE = 0,  /* anyone */
    KR_AUTH_USER = 1,  /* any authenticated principal */
    KR_AUTH_ADMIN = 2, /* principal with role "admin" */
} kr_auth;

typedef int (*kr_handler_fn)(kr_req *req, void *udata);

/* init thread. Registers METHOD (GET, POST, PUT, PATCH, DELETE, HEAD,
 * OPTIONS) on `pattern` below the plugin's mount prefix. Segments of the form
 * {name} capture one path segment. Strings are copied. Conflicts with other
 * routes are detected when all plugins are initialised. */
int kr_route_add(kr_plugin_ctx *ctx, const char *method, const char *pattern,
                 kr_auth auth, kr_handler_fn handler, void *udata);

/* The authenticated caller. Strings are request-scoped. */
typedef struct kr_principal {
    const char *user_id;
    const char *role;       /* "user" or "admin" */
    const char *session_id; /* refresh family, or NULL */
    const char *token_id;   /* jti of the access token, or NULL */
} kr_principal;

/* Authenticator: runs on a worker thread before handlers of routes declared
 * KR_AUTH_USER or KR_AUTH_ADMIN. Read the request (kr_req_header), fill
 * `out` with request-scoped strings (kr_req_strdup) and return 0, or return
 * KR_EAUTH (401) with a reason in the thread's error message. */
typedef int (*kr_authenticate_fn)(kr_req *req, kr_principal *out, void *udata);
/* init thread. At most one plugin per process may set it. */
int kr_authenticator_set(kr_plugin_ctx *ctx, kr_authenticate_fn fn, void *udata);

/* init thread (ABI 1.1). Describes this plugin's routes in the server's
 * OpenAPI 3.1 document (GET /openapi.json). `json` is a fragment
 * {"paths": {...}, "components": {...}, "tags": [...]} whose paths are
 * relative to the mount prefix, like kr_route_add patterns ("/" is the
 * mount itself). Copied. Once per plugin. Malformed JSON or a fragment of
 * the wrong shape is KR_EINVAL at once; after every init the core refuses
 * to start when a described operation is not a route of this plugin, a
 * route of this plugin is not described, a component name is taken by
 * another plugin, or a local $ref points nowhere. Security requirements
 * (bearer) are filled in from each route's kr_auth. */
int kr_openapi_add(kr_plugin_ctx *ctx, const char *json);

/* The plugin's openapi.json as a C string, defined by builds that embed it
 * (kirana_add_plugin(NAME OPENAPI file.json ...) in sdk/CMakeLists.txt, or
 * the examples' Makefiles). Without one it is the SDK's empty string, which
 * the server refuses with a message saying so. */
extern const char kr_plugin_openapi_json[];

/* --- request (worker thread; request-scoped results) --- */
const char *kr_req_method(const kr_req *req);
/* Path without the query string, percent-decoded. */
const char *kr_req_path(const kr_req *req);
/* Path parameter captured by {name}; NULL if the pattern has none. */
const char *kr_req_param(const kr_req *req, const char *name);
/* First value of a query parameter, percent-decoded; NULL if absent. */
const char *kr_req_query(const kr_req *req, const char *name);
/* First value of a request header (name case-insensitive); NULL if absent. */
const char *kr_req_header(const kr_req *req, const char *name);
/* Raw body (not NUL-terminated; len may be 0). */
const void *kr_req_body(const kr_req *req, size_t *len);
/* Parses the body as a JSON object (depth and size limited). On success
 * *out is request-scoped (do not decref). On failure returns KR_EINVAL with
 * the reason in kr_errmsg. */
int kr_req_json(kr_req *req, json_t **out);
/* Unique id of this request (also in every log line it causes). */
const char *kr_req_id(const kr_req *req);
/* Client IP as text (trusted-proxy rules applied by the core). */
const char *kr_req_client_ip(const kr_req *req);
/* The authenticated principal, or NULL on KR_AUTH_NONE routes without a
 * valid token. */
const kr_principal *kr_req_principal(const kr_req *req);
/* The plugin that registered the route. */
kr_plugin_ctx *kr_req_ctx(const kr_req *req);
/* 1 once the client has gone away (stream reset, connection closed); the
 * answer will be dropped, so long work may stop early. */
int kr_req_cancelled(const kr_req *req);

/* Request arena: freed with the request. */
void *kr_req_alloc(kr_req *req, size_t size);
char *kr_req_strdup(kr_req *req, const char *s);
char *kr_req_printf(kr_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- response (worker thread; call once) --- */
/* Adds a response header (copied). Call before the reply. */
int kr_resp_header(kr_req *req, const char *name, const char *value);
/* Answers with `body` serialised as application/json. Steals the reference
 * to body (NULL body answers 500). */
int kr_reply_json(kr_req *req, int status, json_t *body);
/* Answers with a raw body (copied). content_type may be NULL for none. */
int kr_reply(kr_req *req, int status, const char *content_type,
             const void *body, size_t len);
/* Answers application/problem+json {type, title, status, detail, code}
 * plus the members of `extra` (stolen; may be NULL). */
int kr_reply_problem(kr_req *req, int status, const char *code,
                     const char *detail, json_t *extra);
/* Answers 400 problem code "validation_failed" with errors: [{field,
 * message}] (errors stolen). */
int kr_reply_invalid(kr_req *req, json_t *errors);
/* Answers the problem that err maps to, with `detail` (NULL: kr_errmsg). */
int kr_reply_error(kr_req *req, int err, const char *detail);

/* --- server-sent events (text/event-stream) ---
 *
 * A stream never holds a worker: the handler opens it, may send the first
 * events, keeps the handle, and returns 0. Events are sent later from any
 * thread; the core posts them to the connection's loop thread and writes
 * them in order. The core sends a comment heartbeat every heartbeat_s
 * seconds (0: none). The client going away closes the stream; sends then
 * return KR_ENOTFOUND and the on_close callback runs once (loop thread;
 * keep it short and non-blocking). */
typedef struct kr_stream kr_stream;
typedef void (*kr_stream_close_fn)(kr_stream *s, void *udata);

/* worker, inside a handler, instead of a reply. Answers 200
 * text/event-stream (plus headers added with kr_resp_header). The handle
 * is the caller's until kr_stream_close; NULL (KR_EINVAL) if the request
 * was already answered. on_close may be NULL. */
kr_stream *kr_sse_open(kr_req *req, int heartbeat_s, kr_stream_close_fn on_close, void *udata);
/* any thread. Queues one event (`event:`, `id:` may be NULL; data may hold
 * newlines, each becomes a `data:` line). Never blocks; KR_ENOTFOUND once
 * the client is gone, KR_ELIMIT if the client reads too slowly (over 1 MiB
 * queued; the stream is then closed). */
int kr_stream_send(kr_stream *s, const char *event, const char *id, const char *data);
/* any thread. 1 once the client went away or the stream was ended. */
int kr_stream_closed(const kr_stream *s);
/* any thread. Ends the response (after the queued events) and gives the
 * handle back: do not use it afterwards. Call exactly once per
 * kr_sse_open, also after the client went away. */
void kr_stream_close(kr_stream *s);

/* --- publish/subscribe across processes (Redis pub/sub) ---
 *
 * One subscriber connection per process fans messages out to plugins, so
 * an event published by any process (an http or a worker) reaches streams
 * held by every other. Delivery is at most once: a message published while
 * the subscriber reconnects is lost, so clients must be able to resync
 * (SSE: the first event is the current state). */
typedef void (*kr_message_fn)(void *udata, const char *channel, const char *msg, size_t len);
/* init thread. Messages on `channel` (exact name) call fn on the
 * subscriber's thread (keep it short; kr_stream_send is fine). Needs
 * `redis` configured. */
int kr_subscribe(kr_plugin_ctx *ctx, const char *channel, kr_message_fn fn, void *udata);
/* worker or job thread. PUBLISH through the kr_redis pool; receivers
 * counts the subscribers Redis reached (may be NULL). */
int kr_publish(kr_plugin_ctx *ctx, const char *channel, const char *msg, size_t len, long long *receivers);

/* Appends {field, message} to an errors array (creates it when *errors is
 * NULL); helper for kr_reply_invalid. */
void kr_invalid_add(json_t **errors, const char *field, const char *message);

#ifdef __cplusplus
}
#endif
#endif
