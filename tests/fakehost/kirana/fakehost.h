/* kirana fake host: the whole host table served in-process, for plugin unit
 * tests (cmocka) without servers.
 *
 * The DB is an in-memory document store with the MongoDB semantics of
 * kirana/db.h (it doubles as the reference oracle for the real backends:
 * see kr_fake_match and kr_fake_apply_update); Redis is an in-memory subset
 * (PING GET SET DEL EXISTS EXPIRE PEXPIRE TTL PTTL INCR INCRBY DECR DECRBY
 * HSET HGET HMGET HGETALL HDEL HINCRBY HLEN HEXISTS SADD SREM SMEMBERS
 * SISMEMBER SCARD ZADD ZREM ZRANGE ZCARD ZSCORE ZREMRANGEBYSCORE LPUSH RPUSH
 * LRANGE LLEN PUBLISH, and MULTI/EXEC/DISCARD inside kr_redis_pipeline;
 * anything else, EVAL included, answers an error reply); the queue keeps
 * jobs until the test runs them through the plugin's consumer. Requests are
 * simulated: routed, authenticated and answered exactly as the core would,
 * with the same problem+json bodies.
 *
 * Time: Redis TTLs, queue delays and backoff follow a fake clock that starts
 * at the real time and moves only with kr_fakehost_advance. Plugins that read
 * time() themselves still see the real clock.
 *
 * Plugin sources are linked into the test; kr_fakehost_load takes the
 * descriptor that the plugin's kr_plugin_entry() returns.
 *
 * Usage:
 *
 *     kr_fakehost *fh = kr_fakehost_new();
 *     json_t *cfg = json_pack("{s:i}", "max_len", 10);
 *     kr_plugin_ctx *ctx = kr_fakehost_load(fh, kr_plugin_entry(), "/v1", cfg);
 *     json_decref(cfg);
 *     assert_non_null(ctx);
 *
 *     kr_fake_response r;
 *     const kr_principal alice = {.user_id = "u1", .role = "user"};
 *     assert_int_equal(kr_fakehost_request(fh, "POST", "/v1/notes", NULL,
 *                                          "{\"text\":\"hi\"}", &alice, &r), 201);
 *     assert_string_equal(json_string_value(json_object_get(r.json, "text")), "hi");
 *     kr_fake_response_free(&r);
 *
 *     assert_int_equal(kr_fakehost_jobs(fh, "notes"), 1);
 *     assert_int_equal(kr_fakehost_drain(fh, NULL), 1);
 *
 *     kr_fakehost_fail_db(fh, KR_EUNAVAILABLE, 1);
 *     assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/notes", NULL, NULL, &alice, &r), 503);
 *     kr_fake_response_free(&r);
 *     kr_fakehost_free(fh);
 *
 * Threads: "test" below means the thread driving the test; calls marked
 * "any" may also come from threads the plugin starts.
 */
#ifndef KIRANA_FAKEHOST_H
#define KIRANA_FAKEHOST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kirana/kirana.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_fakehost kr_fakehost;

/* --- the host --- */

/* test. A host with an empty DB, Redis and queue, roles http and worker,
 * client IP 127.0.0.1. Caller-owned: kr_fakehost_free. */
kr_fakehost *kr_fakehost_new(void);
/* test. Stops (reverse load order) and finalises every loaded plugin, then
 * frees the host and everything it handed out. NULL is fine. */
void kr_fakehost_free(kr_fakehost *fh);
/* test, before loading. Roles of the simulated process (NULL-terminated,
 * copied). Consumers registered without "worker" are ignored, as in the
 * core. */
int kr_fakehost_set_roles(kr_fakehost *fh, const char *const *roles);
/* test. Checks the descriptor as the loader does (magic, struct_size, ABI,
 * name, duplicates, dependencies), prepares the config (`config` borrowed,
 * NULL for none; top-level and nested `default`s of config_schema filled;
 * `required` and top-level `type` checked), then runs init and start.
 * mount may be NULL for "". Returns the context (borrowed, lives until
 * kr_fakehost_free) or NULL with the reason in kr_fakehost_error. */
kr_plugin_ctx *kr_fakehost_load(kr_fakehost *fh, const kr_plugin *desc, const char *mount, const json_t *config);
/* test. The fragment the plugin gave kr_openapi_add (borrowed), or NULL. */
const json_t *kr_fakehost_openapi(const kr_plugin_ctx *ctx);
/* test. Why the last load was refused (borrowed; "" when none). */
const char *kr_fakehost_error(const kr_fakehost *fh);
/* main. Runs the command a loaded plugin registered with kr_command_add
 * (argv[0] is its name) and returns its exit status; -1 when none has that
 * name. */
int kr_fakehost_command(kr_fakehost *fh, int argc, char **argv);
/* test. Runs every readiness check in registration order: 0 when all pass,
 * else the first failure's code, with "name: reason" in msg. */
int kr_fakehost_ready(kr_fakehost *fh, char *msg, size_t msglen);

/* --- requests --- */

typedef struct kr_fake_header {
    char *name;
    char *value;
} kr_fake_header;

/* What a simulated request answered. Everything is owned by the struct:
 * release with kr_fake_response_free. */
typedef struct kr_fake_response {
    int status;
    char *content_type; /* NULL when the reply set none */
    char *body;         /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    json_t *json;            /* parsed body for JSON content types, else NULL */
    kr_fake_header *headers; /* response headers the handler added */
    size_t nheaders;
    int answered;   /* 1 if the handler replied itself */
    int handler_rc; /* what the handler returned (0 when no handler ran) */
} kr_fake_response;

/* test or any. Simulates one request: routes method + path (the mount
 * prefix included; {param} capture; query string percent-decoded) to the
 * registered handler, then authenticates: with `as` non-NULL that principal
 * is used as is (strings copied); with `as` NULL the plugin authenticator
 * runs (routes other than KR_AUTH_NONE, and KR_AUTH_NONE routes that carry
 * an Authorization header), a failure answering 401 and a non-admin on a
 * KR_AUTH_ADMIN route 403. headers: "Name: value" strings, NULL-terminated,
 * may be NULL. body: NUL-terminated or NULL. Unknown paths answer 404, known
 * paths with another method 405 (with Allow). kr_req_json takes only a JSON
 * object (duplicate keys and nesting deeper than 32 refused). A handler
 * returning a negative kr_err without answering gets that code's problem;
 * returning otherwise without answering gets 500 (handler_rc and answered
 * tell which). *out is always filled. Returns the status, or KR_EINVAL (out zeroed) when method
 * is NULL or the path does not start with '/'. */
int kr_fakehost_request(kr_fakehost *fh, const char *method, const char *path_and_query, const char *const *headers,
                        const char *body, const kr_principal *as, kr_fake_response *out);
/* any. First response header of that name (case-insensitive; "content-type"
 * included), borrowed from r; NULL if absent. */
const char *kr_fake_response_header(const kr_fake_response *r, const char *name);
/* any. Frees what r holds and zeroes it. NULL is fine. */
void kr_fake_response_free(kr_fake_response *r);
/* test. Client IP that kr_req_client_ip reports from now on (copied). */
void kr_fakehost_set_client_ip(kr_fakehost *fh, const char *ip);

/* --- the fake clock --- */

/* any. Milliseconds since the epoch on the fake clock. */
int64_t kr_fakehost_now_ms(const kr_fakehost *fh);
/* any. Moves the fake clock forward (expiring Redis keys, maturing delayed
 * jobs). */
void kr_fakehost_advance(kr_fakehost *fh, int64_t ms);

/* --- DB --- */

/* any. The DB plugins get (borrowed): arrange and assert state through the
 * ordinary kr_db_* calls. Generated ids are 24 hex digits, increasing. */
kr_db *kr_fakehost_db(kr_fakehost *fh);
/* any. The next `times` DB calls (any collection operation, also the
 * test's own) fail with err (a negative kr_err, e.g. KR_EUNAVAILABLE)
 * without touching the data. times 0 disarms. */
void kr_fakehost_fail_db(kr_fakehost *fh, int err, int times);

/* --- Redis --- */

/* any. The Redis plugins get (borrowed). */
kr_redis *kr_fakehost_redis(kr_fakehost *fh);
/* any. As kr_fakehost_fail_db, for kr_redis_command* and pipelines (a
 * pipeline is one call). */
void kr_fakehost_fail_redis(kr_fakehost *fh, int err, int times);
/* any. Messages PUBLISHed to channel so far, oldest first, as a JSON array
 * of strings (caller-owned). */
json_t *kr_fakehost_published(kr_fakehost *fh, const char *channel);

/* --- server-sent events and pub/sub --- */

/* Streams follow the core's contract (kirana/http.h): kr_sse_open answers
 * the request 200 text/event-stream; on_close runs exactly once per stream
 * and never inside the plugin's own kr_stream_* calls — when the test
 * disconnects the client, when the test settles streams the plugin ended,
 * or at kr_fakehost_free before plugins stop. Published messages reach
 * every subscription to that exact channel synchronously, on the
 * publishing thread, after PUBLISH went through the fake Redis (so
 * kr_fakehost_published records it and kr_fakehost_fail_redis applies). */

/* any. Streams opened so far. */
size_t kr_fakehost_streams(kr_fakehost *fh);
/* any. The n-th stream opened (0-based), or NULL. Borrowed: lives until
 * kr_fakehost_free. */
kr_stream *kr_fakehost_stream(kr_fakehost *fh, size_t n);
/* any. Events sent so far: [{event, id, data}] (event and id null when
 * the plugin gave none). Caller-owned. */
json_t *kr_fake_stream_events(kr_stream *s);
/* any. The heartbeat interval the plugin asked for (0: none). */
int kr_fake_stream_heartbeat(const kr_stream *s);
/* any. 1 once the plugin gave the handle back (kr_stream_close). */
int kr_fake_stream_released(kr_stream *s);
/* any. 1 once on_close ran. */
int kr_fake_stream_notified(kr_stream *s);
/* test. The client goes away: sends fail with KR_ENOTFOUND from now on and
 * on_close runs on this thread (unless it ran already), as it would on
 * the loop thread. */
void kr_fake_stream_disconnect(kr_stream *s);
/* test. Runs on_close of every stream the plugin ended whose callback has
 * not run yet, as the core does once such a response is written. Returns
 * how many ran. */
int kr_fakehost_streams_settle(kr_fakehost *fh);
/* test or any. Delivers msg to the subscriptions of channel (without
 * Redis, as if another process published it). Returns how many it reached. */
int kr_fakehost_publish(kr_fakehost *fh, const char *channel, const char *msg, size_t len);

/* --- queue --- */

/* any. The queue plugins get (borrowed). */
kr_queue *kr_fakehost_queue(kr_fakehost *fh);
/* any. As kr_fakehost_fail_db, for kr_queue_add. */
void kr_fakehost_fail_queue(kr_fakehost *fh, int err, int times);
/* any. Jobs waiting or delayed in queue (NULL: all queues). */
size_t kr_fakehost_jobs(kr_fakehost *fh, const char *queue);
/* test. Runs once each job of queue (NULL: all queues) that is due on the
 * fake clock, in BullMQ order (no priority first, then by priority, then
 * oldest first), through the registered consumer on this thread. A failed
 * attempt goes back to waiting (after its backoff on the fake clock) while
 * attempts remain, unless discarded. Jobs added meanwhile wait for the next
 * call. Returns the number run, or KR_ENOTFOUND when no consumer is
 * registered for the named queue. */
int kr_fakehost_run_jobs(kr_fakehost *fh, const char *queue);
/* test. Runs jobs until none waits, advancing the fake clock to each
 * delayed job or backoff as needed (at most 10000 runs). Returns the total
 * number run, or a negative kr_err. */
int kr_fakehost_drain(kr_fakehost *fh, const char *queue);
/* any. One job as {id, name, queue, data, opts, state ("waiting",
 * "delayed", "completed", "failed"), attempts_made, result, failed_reason}
 * (caller-owned), or NULL when unknown or removed. */
json_t *kr_fakehost_job(kr_fakehost *fh, const char *queue, const char *id);
/* any. Every job kept for queue (NULL: all queues), oldest first, in the
 * shape of kr_fakehost_job (caller-owned array). */
json_t *kr_fakehost_job_list(kr_fakehost *fh, const char *queue);

/* --- logs and metrics --- */

/* any. Every captured log line, oldest first: [{level ("debug", "info",
 * "warn", "error"), plugin, request_id, msg}] (caller-owned; plugin and
 * request_id null when not applicable). */
json_t *kr_fakehost_logs(kr_fakehost *fh);
/* any. Captured lines at min_level or above whose message contains
 * substring (NULL: any). */
size_t kr_fakehost_log_count(kr_fakehost *fh, kr_level min_level, const char *substring);
/* any. Forgets the captured lines. */
void kr_fakehost_logs_clear(kr_fakehost *fh);
/* any. Also print each line to stderr from now on (on != 0), for
 * debugging a test. */
void kr_fakehost_echo_logs(kr_fakehost *fh, int on);
/* any. Value of the counter registered with this name (as the plugin gave
 * it, without "kirana_") and labels (NULL for none); 0 when unregistered. */
uint64_t kr_fakehost_counter(kr_fakehost *fh, const char *name, const char *labels);
/* any. As kr_fakehost_counter, for a gauge. */
int64_t kr_fakehost_gauge(kr_fakehost *fh, const char *name, const char *labels);

/* --- MongoDB semantics as plain functions (the DB's oracle) --- */

/* any. 1 when doc (borrowed) matches filter (borrowed; NULL matches all), 0
 * when not, KR_EINVAL with the reason in err (may be NULL) for a filter
 * outside the subset of kirana/db.h. Every clause is checked, so a bad
 * operator is reported whatever the document. Embedded documents compare
 * equal regardless of key order (as jsonb does; MongoDB compares in order). */
int kr_fake_match(const json_t *filter, const json_t *doc, char *err, size_t errlen);
/* any. Applies update (borrowed) to doc (an object, modified in place only
 * on success): operators, or a replacement keeping doc's _id. is_insert
 * makes $setOnInsert apply and lets _id be set once. Returns 1 when doc
 * changed, 0 when not, KR_EINVAL with the reason in err. */
int kr_fake_apply_update(json_t *doc, const json_t *update, int is_insert, char *err, size_t errlen);
/* any. The document an upsert inserts when filter matches nothing, as
 * MongoDB builds it: the equality fields of filter (top level and $and),
 * then update applied as an insert. No _id is generated. *out is
 * caller-owned. 0 or KR_EINVAL with the reason in err. */
int kr_fake_upsert_doc(const json_t *filter, const json_t *update, json_t **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
