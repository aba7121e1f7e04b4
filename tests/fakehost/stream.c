/* Fake host: server-sent event streams (kr_sse_open, kr_stream_*) and
 * pub/sub (kr_subscribe, kr_publish), with the core's contract:
 *
 *   - a stream answers its request 200 text/event-stream; events are kept
 *     for the test to read; sends fail with KR_ENOTFOUND once the client
 *     left or the plugin ended the stream;
 *   - on_close runs exactly once per stream, never inside a plugin's own
 *     kr_stream_* call (the core runs it later, on the loop thread): when
 *     the test disconnects the client, when the test settles streams the
 *     plugin ended, or at kr_fakehost_free before the plugins stop;
 *   - a message published on a channel reaches every subscription to that
 *     exact channel, synchronously on the publishing thread, after PUBLISH
 *     went through the fake Redis (so kr_fakehost_published sees it and
 *     injected Redis failures apply). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct kr_stream {
    kr_handle h;
    kr_fakehost *fh;
    json_t *events; /* [{event, id, data}] under fh->smu */
    int heartbeat_s;
    kr_stream_close_fn on_close;
    void *udata;
    int released; /* kr_stream_close was called */
    int gone;     /* the client left */
    int notified; /* on_close ran (or is running) */
};

kr_stream *krf_sse_open(kr_req *req, int heartbeat_s, kr_stream_close_fn on_close, void *udata)
{
    if (req->replied) {
        krf_fail(KR_EINVAL, "the request was already answered");
        return NULL;
    }
    if (krf_reply(req, 200, "text/event-stream", "", 0) < 0)
        return NULL;
    kr_fakehost *fh = req->fh;
    kr_stream *s = krf_xcalloc(1, sizeof(*s));
    s->h.host = &krf_host;
    s->fh = fh;
    s->events = json_array();
    s->heartbeat_s = heartbeat_s > 0 ? heartbeat_s : 0;
    s->on_close = on_close;
    s->udata = udata;
    pthread_mutex_lock(&fh->smu);
    krf_grow(&fh->streams, &fh->capstreams, fh->nstreams, sizeof(*fh->streams));
    fh->streams[fh->nstreams++] = s;
    pthread_mutex_unlock(&fh->smu);
    return s;
}

int krf_stream_send(kr_stream *s, const char *event, const char *id, const char *data)
{
    if ((event != NULL && strpbrk(event, "\r\n") != NULL) || (id != NULL && strpbrk(id, "\r\n") != NULL))
        return krf_fail(KR_EINVAL, "event name and id must be one line");
    int rc = 0;
    pthread_mutex_lock(&s->fh->smu);
    if (s->gone || s->released)
        rc = krf_fail(KR_ENOTFOUND, "the stream is closed");
    else
        json_array_append_new(
            s->events, json_pack("{s:s?, s:s?, s:s}", "event", event, "id", id, "data", data != NULL ? data : ""));
    pthread_mutex_unlock(&s->fh->smu);
    return rc;
}

int krf_stream_closed(const kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    int closed = s->gone || s->released;
    pthread_mutex_unlock(&s->fh->smu);
    return closed;
}

void krf_stream_close(kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    s->released = 1;
    pthread_mutex_unlock(&s->fh->smu);
}

/* Runs on_close unless it ran already; never under smu (it may call back). */
static int notify(kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    int run = !s->notified;
    s->notified = 1;
    pthread_mutex_unlock(&s->fh->smu);
    if (run && s->on_close != NULL)
        s->on_close(s, s->udata);
    return run;
}

int krf_subscribe(kr_plugin_ctx *ctx, const char *channel, kr_message_fn fn, void *udata)
{
    if (channel == NULL || channel[0] == '\0' || fn == NULL)
        return krf_fail(KR_EINVAL, "kr_subscribe needs a channel and a function");
    kr_fakehost *fh = ctx->fh;
    pthread_mutex_lock(&fh->smu);
    krf_grow(&fh->subs, &fh->capsubs, fh->nsubs, sizeof(*fh->subs));
    fh->subs[fh->nsubs++] = (krf_sub){krf_xstrdup(channel), fn, udata};
    pthread_mutex_unlock(&fh->smu);
    return 0;
}

int kr_fakehost_publish(kr_fakehost *fh, const char *channel, const char *msg, size_t len)
{
    /* a copy: a subscriber may subscribe or publish itself */
    pthread_mutex_lock(&fh->smu);
    size_t n = fh->nsubs;
    krf_sub *subs = krf_xcalloc(n + 1, sizeof(*subs));
    if (n > 0)
        memcpy(subs, fh->subs, n * sizeof(*subs));
    pthread_mutex_unlock(&fh->smu);
    int reached = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(subs[i].channel, channel) == 0) {
            subs[i].fn(subs[i].udata, channel, msg, len);
            reached++;
        }
    free(subs);
    return reached;
}

int krf_publish(kr_plugin_ctx *ctx, const char *channel, const char *msg, size_t len, long long *receivers)
{
    const char *argv[] = {"PUBLISH", channel, msg};
    size_t lens[] = {7, strlen(channel), len};
    kr_redis_reply *r = NULL;
    int rc = krf_redis_command_argv(ctx->fh->redis, 3, argv, lens, &r);
    if (rc == 0 && r->type != KR_REDIS_INTEGER)
        rc = krf_fail(KR_EINTERNAL, "PUBLISH: %s", r->type == KR_REDIS_ERROR ? r->str : "unexpected reply");
    kr_redis_reply_free(r);
    if (rc < 0)
        return rc;
    int reached = kr_fakehost_publish(ctx->fh, channel, msg, len);
    if (receivers != NULL)
        *receivers = reached;
    return 0;
}

size_t kr_fakehost_streams(kr_fakehost *fh)
{
    pthread_mutex_lock(&fh->smu);
    size_t n = fh->nstreams;
    pthread_mutex_unlock(&fh->smu);
    return n;
}

kr_stream *kr_fakehost_stream(kr_fakehost *fh, size_t n)
{
    pthread_mutex_lock(&fh->smu);
    kr_stream *s = n < fh->nstreams ? fh->streams[n] : NULL;
    pthread_mutex_unlock(&fh->smu);
    return s;
}

json_t *kr_fake_stream_events(kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    json_t *copy = json_deep_copy(s->events);
    pthread_mutex_unlock(&s->fh->smu);
    return copy;
}

int kr_fake_stream_heartbeat(const kr_stream *s)
{
    return s->heartbeat_s;
}

int kr_fake_stream_released(kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    int r = s->released;
    pthread_mutex_unlock(&s->fh->smu);
    return r;
}

int kr_fake_stream_notified(kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    int r = s->notified;
    pthread_mutex_unlock(&s->fh->smu);
    return r;
}

void kr_fake_stream_disconnect(kr_stream *s)
{
    pthread_mutex_lock(&s->fh->smu);
    s->gone = 1;
    pthread_mutex_unlock(&s->fh->smu);
    notify(s);
}

int kr_fakehost_streams_settle(kr_fakehost *fh)
{
    int ran = 0;
    for (size_t i = 0; i < kr_fakehost_streams(fh); i++) {
        kr_stream *s = kr_fakehost_stream(fh, i);
        if (kr_fake_stream_released(s))
            ran += notify(s);
    }
    return ran;
}

void krf_streams_end(kr_fakehost *fh)
{
    for (size_t i = 0; i < kr_fakehost_streams(fh); i++) {
        kr_stream *s = kr_fakehost_stream(fh, i);
        pthread_mutex_lock(&fh->smu);
        s->gone = 1;
        pthread_mutex_unlock(&fh->smu);
        notify(s);
    }
}

void krf_streams_free(kr_fakehost *fh)
{
    for (size_t i = 0; i < fh->nstreams; i++) {
        json_decref(fh->streams[i]->events);
        free(fh->streams[i]);
    }
    free(fh->streams);
    for (size_t i = 0; i < fh->nsubs; i++)
        free(fh->subs[i].channel);
    free(fh->subs);
}
