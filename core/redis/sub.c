#define _GNU_SOURCE /* pthread_setname_np */

#include "core/redis/sub.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/redis/backoff.h"
#include "core/redis/conn.h"
#include "core/util/err.h"
#include "core/util/thread.h"

/* Well inside the SSE heartbeat (15 s), so a dead subscription is replaced
 * before clients would notice missing events. */
#define KRC_REDIS_SUB_PING_MS 5000

struct krc_redis_sub {
    krc_redis_url url;
    int timeout_ms;
    krc_redis_sub_fn on_message;
    void *udata;
    int wake_fd; /* eventfd: a channel was added, or stop */
    atomic_bool stopping;
    pthread_t thread;
    pthread_mutex_t mu; /* guards channels */
    char **channels;    /* append-only until stop */
    size_t nchannels;
    size_t cap;
};

static void wake(krc_redis_sub *s)
{
    uint64_t one = 1;
    /* Fails only when the counter is full, and then the thread wakes anyway. */
    ssize_t n = write(s->wake_fd, &one, sizeof(one));
    (void)n;
}

static void drain_wake(krc_redis_sub *s)
{
    uint64_t v;
    ssize_t n = read(s->wake_fd, &v, sizeof(v));
    (void)n;
}

static void sleep_unless_woken(krc_redis_sub *s, int64_t ms)
{
    struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
    if (poll(&p, 1, (int)ms) > 0)
        drain_wake(s);
}

static int flush(redisContext *c)
{
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -1;
    return 0;
}

/* Queues SUBSCRIBE for the channels added since *sent and sends them. */
static int subscribe_new(krc_redis_sub *s, redisContext *c, size_t *sent)
{
    int rc = REDIS_OK;
    pthread_mutex_lock(&s->mu);
    for (; *sent < s->nchannels && rc == REDIS_OK; (*sent)++)
        rc = redisAppendCommand(c, "SUBSCRIBE %s", s->channels[*sent]);
    pthread_mutex_unlock(&s->mu);
    return rc == REDIS_OK ? flush(c) : -1;
}

static void deliver(krc_redis_sub *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    s->on_message(s->udata, r->element[1]->str, r->element[2]->str, r->element[2]->len);
}

/* Serves one connection until it fails or stop is asked. A reply of any kind
 * proves the server alive and resets the backoff. */
static void session(krc_redis_sub *s, redisContext *c, krc_redis_backoff *b)
{
    size_t sent = 0;
    int64_t last_rx = krc_redis_now_ms();
    int64_t ping_at = 0; /* when the unanswered PING went out, 0: none */
    while (!atomic_load(&s->stopping)) {
        if (subscribe_new(s, c, &sent) < 0)
            return;
        int64_t now = krc_redis_now_ms();
        int64_t deadline = ping_at != 0 ? ping_at + s->timeout_ms : last_rx + KRC_REDIS_SUB_PING_MS;
        if (now >= deadline) {
            if (ping_at != 0 || redisAppendCommand(c, "PING") != REDIS_OK || flush(c) < 0)
                return;
            ping_at = now;
            continue;
        }
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = s->wake_fd, .events = POLLIN}};
        if (poll(p, 2, (int)(deadline - now)) < 0 && errno != EINTR)
            return;
        if (p[1].revents != 0)
            drain_wake(s);
        if (p[0].revents == 0)
            continue;
        if (redisBufferRead(c) != REDIS_OK)
            return;
        for (;;) {
            void *reply;
            if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
                return;
            if (reply == NULL)
                break;
            deliver(s, reply);
            freeReplyObject(reply);
        }
        last_rx = krc_redis_now_ms();
        ping_at = 0;
        krc_redis_backoff_reset(b);
    }
}

static void *run(void *arg)
{
    krc_redis_sub *s = arg;
    krc_redis_backoff b = {0};
    while (!atomic_load(&s->stopping)) {
        int64_t wait = krc_redis_backoff_wait_ms(&b, krc_redis_now_ms());
        if (wait > 0) {
            sleep_unless_woken(s, wait);
            continue;
        }
        char err[512];
        redisContext *c = krc_redis_connect(&s->url, s->timeout_ms, err, sizeof(err));
        if (c != NULL) {
            redisEnableKeepAlive(c);
            session(s, c, &b);
            redisFree(c);
        }
        krc_redis_backoff_failed(&b, krc_redis_now_ms());
    }
    return NULL;
}

krc_redis_sub *krc_redis_subscribe_start(const char *url, int timeout_ms, krc_redis_sub_fn on_message, void *udata)
{
    if (url == NULL || on_message == NULL || timeout_ms < 1 || timeout_ms > 600000) {
        krc_err_set(KR_EINVAL, "redis subscribe: need a url, a callback and a timeout of 1..600000 ms");
        return NULL;
    }
    krc_redis_sub *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        krc_err_set(KR_ENOMEM, "redis subscribe: out of memory");
        return NULL;
    }
    char err[256];
    if (krc_redis_url_parse(url, &s->url, err, sizeof(err)) < 0) {
        free(s);
        krc_err_set(KR_EINVAL, "%s", err);
        return NULL;
    }
    s->timeout_ms = timeout_ms;
    s->on_message = on_message;
    s->udata = udata;
    atomic_init(&s->stopping, false);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        krc_err_set(KR_EINTERNAL, "redis subscribe: eventfd: %s", strerror(errno));
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    /* Process signals (SIGTERM, SIGHUP) belong to the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, run, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        krc_err_set(KR_EINTERNAL, "redis subscribe: cannot start the thread: %s", strerror(rc));
        pthread_mutex_destroy(&s->mu);
        close(s->wake_fd);
        free(s);
        return NULL;
    }
    pthread_setname_np(s->thread, "kr-redis-sub");
    return s;
}

int krc_redis_sub_add(krc_redis_sub *s, const char *channel)
{
    if (s == NULL || channel == NULL || channel[0] == '\0')
        return krc_err_set(KR_EINVAL, "redis subscribe: need a subscriber and a channel name");
    int rc = KR_OK;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nchannels; i++)
        if (strcmp(s->channels[i], channel) == 0)
            goto out;
    if (s->nchannels == s->cap) {
        size_t cap = s->cap != 0 ? s->cap * 2 : 8;
        char **v = realloc(s->channels, cap * sizeof(*v));
        if (v == NULL) {
            rc = krc_err_set(KR_ENOMEM, "redis subscribe: out of memory");
            goto out;
        }
        s->channels = v;
        s->cap = cap;
    }
    char *copy = strdup(channel);
    if (copy == NULL) {
        rc = krc_err_set(KR_ENOMEM, "redis subscribe: out of memory");
        goto out;
    }
    s->channels[s->nchannels++] = copy;
out:
    pthread_mutex_unlock(&s->mu);
    if (rc == KR_OK)
        wake(s);
    return rc;
}

void krc_redis_sub_stop(krc_redis_sub *s)
{
    KRC_ASSERT_MAY_BLOCK();
    if (s == NULL)
        return;
    atomic_store(&s->stopping, true);
    wake(s);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i]);
    free(s->channels);
    pthread_mutex_destroy(&s->mu);
    close(s->wake_fd);
    free(s);
}
