/* Core: listeners and event-loop threads (one h2o context per thread, each
 * with its own SO_REUSEPORT sockets), and sending answers on them. */
#ifndef KRC_SERVER_SERVER_H
#define KRC_SERVER_SERVER_H

#include <h2o.h>
#include <pthread.h>

#include "core/server/app.h"

typedef struct krc_loop {
    krc_app *app;
    struct krc_server *server;
    int index;
    int init_rc;        /* 0 while loop_init runs on the loop thread, then 1 or -1 */
    char init_err[256]; /* why loop_init failed */
    pthread_t tid;
    h2o_evloop_t *evloop;
    h2o_context_t ctx;
    h2o_multithread_queue_t *mq;
    h2o_multithread_receiver_t done;    /* finished requests from workers */
    h2o_multithread_receiver_t flushes; /* SSE streams with events to write */
    struct kr_stream *streams;          /* open SSE streams of this loop */
    uint64_t next_tick_ns;
    h2o_socket_t **listeners;
    h2o_accept_ctx_t *accept_ctxs;
    size_t nlisteners;
    long live;           /* kr_req objects of this loop (loop thread only) */
    uint32_t rid_prefix; /* request ids: prefix + counter */
    uint64_t rid_next;
    int closed_listeners;
    /* requests routed in this loop iteration, handed to the pool together
     * when it ends: one lock and one wake-up per batch, not per request */
    krc_task *batch_head, *batch_tail;
} krc_loop;

/* loop. Hands the tasks batched in this iteration to the pool; requests
 * that do not fit are answered 503. */
void krc_loop_flush(krc_loop *L);

typedef struct krc_server krc_server;

/* main. Binds every listener (so a busy port fails before anything runs)
 * and prepares TLS. NULL with a one-line reason in err. */
krc_server *krc_server_new(krc_app *app, char *err, size_t errlen);
/* main. Starts the loop threads. */
int krc_server_start(krc_server *s, char *err, size_t errlen);
/* main. Stops accepting, lets in-flight requests finish (bounded by
 * shutdown_timeout_ms), stops and joins the loop threads. */
void krc_server_stop(krc_server *s);
/* main. */
void krc_server_free(krc_server *s);
/* any. The port a listener actually bound (for port 0). */
int krc_server_port(const krc_server *s, size_t listener);

/* loop. Answers with a fixed body (copied); extra headers as name/value
 * pairs, NULL-terminated list (may be NULL). */
void krc_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len,
              const char *const *headers);
/* loop. Answers with a problem document. */
void krc_send_problem(h2o_req_t *req, int status, const char *code, const char *detail,
                      const char *const *headers);

#endif
