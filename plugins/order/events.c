/* order.so: live order tracking, GET /orders/{id}/events (SSE).
 *
 * Whichever process changes an order publishes {order, history} on the
 * configured Redis channel (machine.c); every http process subscribes once
 * and fans the message out to the streams it holds for that order. A
 * stream is never tied to a worker thread: the handler opens it, sends the
 * current status and returns.
 *
 * Every message carries the order's whole history (entry i is version i,
 * the event id), so a stream sends exactly the entries it has not sent yet,
 * in order: messages that arrive late, twice or out of order (two
 * processes publishing close together), or not at all (pub/sub is at most
 * once; the next change repairs the gap) never make a client see a status
 * twice or out of order. The stream ends after delivered or cancelled.
 *
 * Lifetime: the core calls on_close exactly once per opened stream, after
 * the client left or after our kr_stream_close once the response is done.
 * The entry is freed there and nowhere else; until then `stream` NULL
 * says we already closed it. All entry state is under the fan-out's mutex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define BUCKETS 256

typedef struct sse_entry {
    struct sse_entry *next; /* bucket chain, while registered */
    order_events *ev;
    kr_stream *stream; /* NULL once we closed it */
    char order_id[65];
    long last;     /* version last sent; -1 before the first event */
    json_t *early; /* longest history published before the first event */
} sse_entry;

struct order_events {
    pthread_mutex_t mu;
    sse_entry *buckets[BUCKETS];
};

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id != '\0'; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % BUCKETS;
}

/* under mu */
static void unlink_entry(order_events *ev, sse_entry *e)
{
    for (sse_entry **p = &ev->buckets[bucket_of(e->order_id)]; *p != NULL; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            return;
        }
}

/* under mu. Ends the stream (the entry lives on until on_close). */
static void finish(order_events *ev, sse_entry *e)
{
    if (e->stream == NULL)
        return;
    unlink_entry(ev, e);
    kr_stream_close(e->stream);
    e->stream = NULL;
}

/* under mu. Sends the entries of history after the last one sent. */
static void emit(order_events *ev, sse_entry *e, const json_t *history)
{
    for (size_t i = (size_t)(e->last + 1); e->stream != NULL && i < json_array_size(history); i++) {
        const json_t *h = json_array_get(history, i);
        const char *status = json_string_value(json_object_get(h, "status"));
        json_t *data = json_pack("{s:s?, s:O?}", "status", status, "at", json_object_get(h, "at"));
        char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
        json_decref(data);
        char id[24];
        snprintf(id, sizeof(id), "%zu", i);
        int rc = text != NULL ? kr_stream_send(e->stream, "status", id, text) : KR_ENOMEM;
        free(text);
        e->last = (long)i;
        /* a client that left or cannot keep up is done; so is the order */
        if (rc < 0 || order_terminal(order_status_parse(status)))
            finish(ev, e);
    }
}

static void on_close(kr_stream *s, void *udata)
{
    (void)s;
    sse_entry *e = udata;
    order_events *ev = e->ev;
    pthread_mutex_lock(&ev->mu);
    finish(ev, e);
    pthread_mutex_unlock(&ev->mu);
    json_decref(e->early);
    free(e);
}

/* Subscriber thread: keep it short (no I/O besides queueing events). */
static void on_message(void *udata, const char *channel, const char *msg, size_t len)
{
    (void)channel;
    order_events *ev = udata;
    json_t *m = json_loadb(msg, len, 0, NULL);
    const char *id = json_string_value(json_object_get(m, "order"));
    json_t *history = json_object_get(m, "history");
    if (id == NULL || !json_is_array(history)) {
        json_decref(m);
        return;
    }
    pthread_mutex_lock(&ev->mu);
    for (sse_entry *e = ev->buckets[bucket_of(id)], *next; e != NULL; e = next) {
        next = e->next; /* emit may unlink e */
        if (strcmp(e->order_id, id) != 0)
            continue;
        if (e->last >= 0) {
            emit(ev, e, history);
        } else if (json_array_size(history) > json_array_size(e->early)) {
            json_decref(e->early);
            e->early = json_incref(history);
        }
    }
    pthread_mutex_unlock(&ev->mu);
    json_decref(m);
}

int order_h_events(kr_req *req, void *udata)
{
    order_state *st = udata;
    order_events *ev = st->events;
    const char *id = kr_req_param(req, "id");
    json_t *doc;
    int rc = order_load_visible(st, req, id, &doc);
    if (rc == KR_ENOTFOUND)
        return kr_reply_error(req, KR_ENOTFOUND, "no such order");
    if (rc < 0)
        return rc;
    json_decref(doc);
    if (ev == NULL)
        return kr_reply_problem(req, 503, "unavailable", "live tracking is not served by this process", NULL);
    sse_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return KR_ENOMEM;
    e->ev = ev;
    e->last = -1;
    snprintf(e->order_id, sizeof(e->order_id), "%s", id);
    if ((e->stream = kr_sse_open(req, st->cfg.sse_heartbeat_s, on_close, e)) == NULL) {
        free(e);
        return KR_EINTERNAL;
    }
    pthread_mutex_lock(&ev->mu);
    unsigned b = bucket_of(id);
    e->next = ev->buckets[b];
    ev->buckets[b] = e;
    pthread_mutex_unlock(&ev->mu);

    /* Read again now that changes reach the entry: none can fall between
     * this read and the subscription. */
    rc = order_load(st, id, &doc);
    pthread_mutex_lock(&ev->mu);
    if (rc == KR_OK) {
        const json_t *history = json_object_get(doc, OD_HISTORY);
        size_t n = json_array_size(history);
        /* the first event is the current status, whatever came before */
        e->last = (long)n - 2;
        if (n > 0)
            emit(ev, e, history);
        if (e->early != NULL)
            emit(ev, e, e->early);
    }
    /* without a current status the client reconnects and tries again */
    if (rc != KR_OK || e->last < 0)
        finish(ev, e);
    pthread_mutex_unlock(&ev->mu);
    json_decref(doc);
    return KR_OK;
}

void order_events_publish(order_state *st, const json_t *doc)
{
    char *msg = order_event_message(doc);
    if (msg == NULL)
        return;
    if (kr_publish(st->ctx, st->cfg.channel, msg, strlen(msg), NULL) < 0)
        kr_log(st->ctx, KR_LOG_WARN, "publishing the change of order %s failed (live trackers miss it): %s",
               json_string_value(json_object_get(doc, OD_ID)), kr_errmsg(st->ctx));
    free(msg);
}

int order_events_init(order_state *st)
{
    order_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return KR_ENOMEM;
    pthread_mutex_init(&ev->mu, NULL);
    int rc = kr_subscribe(st->ctx, st->cfg.channel, on_message, ev);
    if (rc < 0) {
        pthread_mutex_destroy(&ev->mu);
        free(ev);
        return rc;
    }
    st->events = ev;
    return KR_OK;
}

void order_events_fini(order_state *st)
{
    order_events *ev = st->events;
    if (ev == NULL)
        return;
    /* The core ends every stream (and runs every on_close) before plugins
     * stop, so nothing is left here unless a stream outlived the server. */
    pthread_mutex_lock(&ev->mu);
    for (size_t b = 0; b < BUCKETS; b++)
        while (ev->buckets[b] != NULL)
            finish(ev, ev->buckets[b]);
    pthread_mutex_unlock(&ev->mu);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
    st->events = NULL;
}
