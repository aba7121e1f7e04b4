#include "core/server/stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/obs/log.h"
#include "core/server/request.h"
#include "core/server/server.h"
#include "core/util/err.h"

#define CONTAINER_OF(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))
/* A client that has not read this much is not keeping up: close it rather
 * than buffer without bound. */
#define STREAM_MAX_PENDING (1u << 20)

struct kr_stream {
    kr_handle h;
    h2o_generator_t gen;
    atomic_int refs;
    krc_loop *loop;
    kr_stream *next, *prev; /* the loop's list (loop thread only) */
    char req_id[24];

    /* loop thread only */
    h2o_req_t *req; /* NULL until started and after h2o disposed it */
    bool in_list, sending, final_sent, close_notified;
    char *inflight;
    uint64_t last_write_ns;

    /* under mu */
    pthread_mutex_t mu;
    char *buf;
    size_t len, cap;
    bool ending; /* kr_stream_close was called, or overflow */
    bool gone;   /* h2o disposed the request */
    bool posted;  /* msg sits in the loop's queue */
    bool started; /* the loop took over from the handler */
    h2o_multithread_message_t msg;

    int heartbeat_s;
    kr_stream_close_fn on_close;
    void *udata;
};

static krc_gauge *open_streams(void)
{
    return krc_metrics_gauge("kirana_sse_streams", "Open server-sent event streams", NULL);
}

static void unref(kr_stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s->inflight);
    free(s);
}

/* under mu */
static int append(kr_stream *s, const char *p, size_t n)
{
    if (s->len + n > STREAM_MAX_PENDING)
        return KR_ELIMIT;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (b == NULL)
            return KR_ENOMEM;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return KR_OK;
}

/* under mu: ask the loop to write, once per batch of sends */
static void post(kr_stream *s)
{
    if (s->posted || s->gone || !s->loop)
        return;
    s->posted = true;
    memset(&s->msg, 0, sizeof(s->msg));
    h2o_multithread_send_message(&s->loop->flushes, &s->msg);
}

/* loop. Writes what is buffered, unless a write is still in flight (then
 * proceed comes back here). */
static void flush(kr_stream *s)
{
    if (s->req == NULL || s->sending || s->final_sent)
        return;
    pthread_mutex_lock(&s->mu);
    char *data = s->buf;
    size_t n = s->len;
    bool end = s->ending;
    s->buf = NULL;
    s->len = s->cap = 0;
    pthread_mutex_unlock(&s->mu);
    if (n == 0 && !end) {
        free(data);
        return;
    }
    free(s->inflight);
    s->inflight = data;
    s->sending = true;
    s->final_sent = end;
    s->last_write_ns = krc_now_ns();
    h2o_iovec_t v = h2o_iovec_init(data != NULL ? data : "", n);
    h2o_send(s->req, &v, 1, end ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    kr_stream *s = CONTAINER_OF(g, kr_stream, gen);
    s->sending = false;
    free(s->inflight);
    s->inflight = NULL;
    flush(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    kr_stream *s = CONTAINER_OF(g, kr_stream, gen);
    /* the client went away mid-stream; the request is disposed next */
    s->sending = false;
    s->final_sent = true;
}

void krc_stream_start(kr_req *r, h2o_req_t *req)
{
    kr_stream *s = r->stream;
    pthread_mutex_lock(&s->mu);
    s->started = true;
    pthread_mutex_unlock(&s->mu);
    if (req == NULL) {
        krc_stream_req_gone(s);
        return;
    }
    s->req = req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    for (krc_resp_header *h = r->resp_headers; h != NULL; h = h->next) {
        h2o_iovec_t n = h2o_strdup(&req->pool, h->name, SIZE_MAX);
        h2o_iovec_t v = h2o_strdup(&req->pool, h->value, SIZE_MAX);
        h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          h2o_strdup(&req->pool, r->id, SIZE_MAX).base, strlen(r->id));
    s->gen.proceed = on_proceed;
    s->gen.stop = on_stop;
    h2o_start_response(req, &s->gen);
    krc_loop *L = s->loop;
    s->next = L->streams;
    s->prev = NULL;
    if (L->streams != NULL)
        L->streams->prev = s;
    L->streams = s;
    s->in_list = true;
    krc_gauge_add(open_streams(), 1);
    /* headers go out now, with whatever the handler already queued */
    pthread_mutex_lock(&s->mu);
    if (s->len == 0 && !s->ending)
        append(s, ":\n\n", 3);
    pthread_mutex_unlock(&s->mu);
    flush(s);
}

void krc_stream_req_gone(kr_stream *s)
{
    krc_loop *L = s->loop;
    if (s->in_list) {
        if (s->prev != NULL)
            s->prev->next = s->next;
        else
            L->streams = s->next;
        if (s->next != NULL)
            s->next->prev = s->prev;
        s->in_list = false;
        krc_gauge_add(open_streams(), -1);
    }
    s->req = NULL;
    pthread_mutex_lock(&s->mu);
    s->gone = true;
    bool pending = s->posted;
    pthread_mutex_unlock(&s->mu);
    if (!s->close_notified) {
        s->close_notified = true;
        if (s->on_close != NULL)
            s->on_close(s, s->udata);
    }
    /* a queued flush message still points at s: its receiver drops the
     * loop's reference instead */
    if (!pending)
        unref(s);
}

void krc_stream_on_flush(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        kr_stream *s = CONTAINER_OF(m, kr_stream, msg);
        pthread_mutex_lock(&s->mu);
        s->posted = false;
        bool gone = s->gone;
        pthread_mutex_unlock(&s->mu);
        if (gone)
            unref(s);
        else
            flush(s);
    }
}

void krc_stream_tick(krc_loop *L, int ending)
{
    uint64_t now = krc_now_ns();
    for (kr_stream *s = L->streams, *next; s != NULL; s = next) {
        next = s->next;
        pthread_mutex_lock(&s->mu);
        if (ending)
            s->ending = true;
        else if (s->heartbeat_s > 0 && s->len == 0 && !s->sending &&
                 now - s->last_write_ns >= (uint64_t)s->heartbeat_s * 1000000000u)
            append(s, ":\n\n", 3);
        pthread_mutex_unlock(&s->mu);
        flush(s);
    }
}

/* --- host table --- */

static kr_stream *h_sse_open(kr_req *r, int heartbeat_s, kr_stream_close_fn on_close, void *udata)
{
    if (r->replied) {
        krc_err_set(KR_EINVAL, "the request was already answered");
        return NULL;
    }
    kr_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        krc_err_set(KR_ENOMEM, "out of memory");
        return NULL;
    }
    s->h.host = &krc_host_table;
    atomic_init(&s->refs, 2);
    pthread_mutex_init(&s->mu, NULL);
    s->loop = r->loop;
    s->heartbeat_s = heartbeat_s > 0 ? heartbeat_s : 0;
    s->on_close = on_close;
    s->udata = udata;
    memcpy(s->req_id, r->id, sizeof(s->req_id));
    r->stream = s;
    r->replied = true;
    r->status = 200;
    return s;
}

/* Every line of data becomes its own `data:` line, so a payload can never
 * inject an event boundary or another field. */
static int h_stream_send(kr_stream *s, const char *event, const char *id, const char *data)
{
    if ((event != NULL && strpbrk(event, "\r\n") != NULL) || (id != NULL && strpbrk(id, "\r\n") != NULL))
        return krc_err_set(KR_EINVAL, "event name and id must be one line");
    size_t dlen = data != NULL ? strlen(data) : 0;
    size_t lines = 1;
    for (size_t i = 0; i < dlen; i++)
        lines += data[i] == '\n';
    size_t cap = dlen + lines * 7 + (event ? strlen(event) + 8 : 0) + (id ? strlen(id) + 5 : 0) + 2;
    char *out = malloc(cap);
    if (out == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    size_t n = 0;
    if (event != NULL)
        n += (size_t)sprintf(out + n, "event: %s\n", event);
    if (id != NULL)
        n += (size_t)sprintf(out + n, "id: %s\n", id);
    const char *p = data != NULL ? data : "";
    for (;;) {
        size_t l = strcspn(p, "\r\n");
        memcpy(out + n, "data: ", 6);
        n += 6;
        memcpy(out + n, p, l);
        n += l;
        out[n++] = '\n';
        p += l;
        if (*p == '\r' && p[1] == '\n')
            p++;
        if (*p == '\0')
            break;
        p++;
    }
    out[n++] = '\n';
    pthread_mutex_lock(&s->mu);
    int rc = KR_OK;
    if (s->gone || s->ending) {
        rc = krc_err_set(KR_ENOTFOUND, "the stream is closed");
    } else if ((rc = append(s, out, n)) == KR_ELIMIT) {
        krc_log(KR_LOG_WARN, NULL, s->req_id, "SSE client reads too slowly; closing its stream");
        s->ending = true;
        krc_err_set(KR_ELIMIT, "the client is not reading; the stream was closed");
        post(s);
    } else if (rc == KR_OK && s->started) {
        post(s);
    } else if (rc != KR_OK) {
        krc_err_set(rc, "out of memory");
    }
    pthread_mutex_unlock(&s->mu);
    free(out);
    return rc;
}

static int h_stream_closed(const kr_stream *cs)
{
    kr_stream *s = (kr_stream *)cs;
    pthread_mutex_lock(&s->mu);
    int closed = s->gone || s->ending;
    pthread_mutex_unlock(&s->mu);
    return closed;
}

static void h_stream_close(kr_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->ending = true;
    if (s->started)
        post(s);
    pthread_mutex_unlock(&s->mu);
    unref(s);
}

void krc_stream_host_fill(kr_host *h)
{
    h->sse_open = h_sse_open;
    h->stream_send = h_stream_send;
    h->stream_closed = h_stream_closed;
    h->stream_close = h_stream_close;
}
