#include "core/redis/redis.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/redis/backoff.h"
#include "core/redis/conn.h"
#include "core/redis/reply.h"
#include "core/util/err.h"
#include "core/util/thread.h"

struct krc_redis {
    kr_handle base;
    krc_redis_url url;
    int size;
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a connection came back, or a slot or the backoff changed */
    redisContext **idle;    /* a stack, so the warmest connection is reused first */
    int nidle;
    int nopen;    /* idle + checked out + being connected */
    bool probing; /* the one connect attempt allowed while backing off is under way */
    krc_redis_backoff backoff;
    char last_err[512]; /* why the last connect or call failed */
};

static void deadline_ts(int64_t ms, struct timespec *ts)
{
    ts->tv_sec = ms / 1000;
    ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

/* An idle connection has nothing to read: readable means Redis closed it
 * (restart, timeout) or sent something unasked; either way it is unusable,
 * and finding out here costs one poll instead of a failed call. */
static bool stale(const redisContext *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

static redisContext *connect_checked(krc_redis *r, char *err, size_t errlen)
{
    redisContext *c = krc_redis_connect(&r->url, r->timeout_ms, err, errlen);
    if (c == NULL)
        return NULL;
    redisReply *pong = redisCommand(c, "PING");
    if (pong != NULL && pong->type != REDIS_REPLY_ERROR) {
        freeReplyObject(pong);
        return c;
    }
    snprintf(err, errlen, "redis %s:%d: PING: %s", r->url.host, r->url.port,
             pong != NULL ? pong->str : krc_redis_conn_error(c));
    freeReplyObject(pong);
    redisFree(c);
    return NULL;
}

static int open_conn(krc_redis *r, bool probe, redisContext **out)
{
    char err[sizeof(r->last_err)];
    redisContext *c = connect_checked(r, err, sizeof(err));
    pthread_mutex_lock(&r->mu);
    if (probe)
        r->probing = false;
    if (c == NULL) {
        r->nopen--;
        krc_redis_backoff_failed(&r->backoff, krc_redis_now_ms());
        memcpy(r->last_err, err, sizeof(err));
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->mu);
        return krc_err_set(KR_EUNAVAILABLE, "%s", err);
    }
    krc_redis_backoff_reset(&r->backoff);
    if (probe)
        pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    *out = c;
    return KR_OK;
}

/* Called with r->mu held; returns with it released. */
static int fail_locked(krc_redis *r, const char *why)
{
    int rc = krc_err_set(KR_EUNAVAILABLE, "%s (%s)", r->last_err, why);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int checkout(krc_redis *r, redisContext **out)
{
    int64_t deadline = krc_redis_now_ms() + r->timeout_ms;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (r->nidle > 0) {
            redisContext *c = r->idle[--r->nidle];
            pthread_mutex_unlock(&r->mu);
            if (!stale(c)) {
                *out = c;
                return KR_OK;
            }
            redisFree(c);
            pthread_mutex_lock(&r->mu);
            r->nopen--;
            continue;
        }
        int64_t now = krc_redis_now_ms();
        int64_t wake = deadline;
        bool failing = r->backoff.delay_ms != 0;
        if (r->nopen < r->size) {
            int64_t wait = krc_redis_backoff_wait_ms(&r->backoff, now);
            if (!failing || (!r->probing && wait == 0)) {
                r->nopen++;
                if (failing)
                    r->probing = true;
                pthread_mutex_unlock(&r->mu);
                return open_conn(r, failing, out);
            }
            /* Backing off: wait only for connections that may come back;
             * with none, waiting could only end in a timeout. */
            if (r->nopen - r->probing == 0) {
                char why[48] = "reconnecting";
                if (!r->probing)
                    snprintf(why, sizeof(why), "next attempt in %lld ms", (long long)wait);
                return fail_locked(r, why);
            }
            if (!r->probing && now + wait < wake)
                wake = now + wait;
        }
        if (now >= deadline) {
            if (failing)
                return fail_locked(r, "no connection came free");
            pthread_mutex_unlock(&r->mu);
            return krc_err_set(KR_EUNAVAILABLE, "redis %s:%d: pool exhausted (all %d connections busy for %d ms)",
                               r->url.host, r->url.port, r->size, r->timeout_ms);
        }
        struct timespec ts;
        deadline_ts(wake, &ts);
        pthread_cond_timedwait(&r->changed, &r->mu, &ts);
    }
}

static void checkin(krc_redis *r, redisContext *c)
{
    pthread_mutex_lock(&r->mu);
    r->idle[r->nidle++] = c;
    krc_redis_backoff_reset(&r->backoff);
    pthread_cond_signal(&r->changed);
    pthread_mutex_unlock(&r->mu);
}

/* A call failed on c: its stream is out of step or gone, so it is closed. */
static int drop(krc_redis *r, redisContext *c, int argc, const char *const *argv, const size_t *argvlen)
{
    int rc = c->err == REDIS_ERR_PROTOCOL ? KR_EINTERNAL : c->err == REDIS_ERR_OOM ? KR_ENOMEM : KR_EUNAVAILABLE;
    size_t n = argc == 0 ? 0 : argvlen != NULL ? argvlen[0] : strlen(argv[0]);
    char msg[sizeof(r->last_err)];
    snprintf(msg, sizeof(msg), "redis %s:%d: %.*s: %s", r->url.host, r->url.port, (int)(n < 32 ? n : 32),
             argc == 0 ? "" : argv[0], krc_redis_conn_error(c));
    redisFree(c);
    pthread_mutex_lock(&r->mu);
    r->nopen--;
    if (rc == KR_EUNAVAILABLE) {
        krc_redis_backoff_failed(&r->backoff, krc_redis_now_ms());
        memcpy(r->last_err, msg, sizeof(msg));
    }
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    return krc_err_set(rc, "%s", msg);
}

static int check_args(const char *what, int argc, const char *const *argv)
{
    if (argc <= 0 || argv == NULL)
        return krc_err_set(KR_EINVAL, "redis %s: no arguments", what);
    for (int i = 0; i < argc; i++)
        if (argv[i] == NULL)
            return krc_err_set(KR_EINVAL, "redis %s: argument %d is NULL", what, i);
    return KR_OK;
}

static int command_argv(kr_redis *h, int argc, const char *const *argv, const size_t *argvlen, kr_redis_reply **out)
{
    KRC_ASSERT_MAY_BLOCK();
    krc_redis *r = (krc_redis *)h;
    if (r == NULL || out == NULL)
        return krc_err_set(KR_EINVAL, "redis command: NULL handle or reply pointer");
    *out = NULL;
    int rc = check_args("command", argc, argv);
    redisContext *c;
    if (rc == KR_OK)
        rc = checkout(r, &c);
    if (rc != KR_OK)
        return rc;
    /* hiredis 0.14 takes argv without the inner const; it does not write. */
    redisReply *reply;
    if (redisAppendCommandArgv(c, argc, (const char **)argv, argvlen) != REDIS_OK ||
        redisGetReply(c, (void **)&reply) != REDIS_OK)
        return drop(r, c, argc, argv, argvlen);
    rc = krc_redis_reply_copy(reply, out);
    freeReplyObject(reply);
    checkin(r, c);
    return rc;
}

static int pipeline(kr_redis *h, size_t n, const kr_redis_cmd *cmds, kr_redis_reply ***replies)
{
    KRC_ASSERT_MAY_BLOCK();
    krc_redis *r = (krc_redis *)h;
    if (r == NULL || replies == NULL || (n > 0 && cmds == NULL))
        return krc_err_set(KR_EINVAL, "redis pipeline: NULL handle, commands or reply pointer");
    *replies = NULL;
    if (n == 0)
        return KR_OK;
    for (size_t i = 0; i < n; i++) {
        int rc = check_args("pipeline", cmds[i].argc, cmds[i].argv);
        if (rc != KR_OK)
            return rc;
    }
    kr_redis_reply **v = calloc(n, sizeof(*v));
    if (v == NULL)
        return krc_err_set(KR_ENOMEM, "redis pipeline: out of memory");
    redisContext *c;
    int rc = checkout(r, &c);
    if (rc != KR_OK) {
        free(v);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (redisAppendCommandArgv(c, cmds[i].argc, (const char **)cmds[i].argv, cmds[i].argvlen) != REDIS_OK) {
            free(v);
            return drop(r, c, cmds[i].argc, cmds[i].argv, cmds[i].argvlen);
        }
    }
    /* Every reply is read even after a copy fails, so the connection stays
     * in step and can go back to the pool. */
    for (size_t i = 0; i < n; i++) {
        redisReply *reply;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK) {
            krc_redis_replies_free(v, n);
            return drop(r, c, cmds[i].argc, cmds[i].argv, cmds[i].argvlen);
        }
        int crc = krc_redis_reply_copy(reply, &v[i]);
        freeReplyObject(reply);
        if (rc == KR_OK)
            rc = crc;
    }
    checkin(r, c);
    if (rc != KR_OK) {
        krc_redis_replies_free(v, n);
        return rc;
    }
    *replies = v;
    return KR_OK;
}

krc_redis *krc_redis_open(const char *url, int pool_size, int timeout_ms, const kr_host *host, char *err, size_t errlen)
{
    if (pool_size < 1 || pool_size > 1024) {
        snprintf(err, errlen, "redis pool size must be 1..1024 (got %d)", pool_size);
        return NULL;
    }
    if (timeout_ms < 1 || timeout_ms > 600000) {
        snprintf(err, errlen, "redis timeout must be 1..600000 ms (got %d)", timeout_ms);
        return NULL;
    }
    krc_redis *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->idle = calloc((size_t)pool_size, sizeof(*r->idle))) == NULL) {
        free(r);
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    if (krc_redis_url_parse(url, &r->url, err, errlen) < 0) {
        free(r->idle);
        free(r);
        return NULL;
    }
    r->base.host = host;
    r->size = pool_size;
    r->timeout_ms = timeout_ms;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->changed, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

void krc_redis_close(krc_redis *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nidle; i++)
        redisFree(r->idle[i]);
    free(r->idle);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int krc_redis_ready(krc_redis *r, char *msg, size_t msglen)
{
    KRC_ASSERT_MAY_BLOCK();
    const char *const argv[] = {"PING"};
    kr_redis_reply *reply;
    int rc = command_argv((kr_redis *)r, 1, argv, NULL, &reply);
    if (rc == KR_OK && reply->type == KR_REDIS_ERROR)
        rc = krc_err_set(KR_EUNAVAILABLE, "redis %s:%d: PING: %s", r->url.host, r->url.port, reply->str);
    krc_redis_reply_free(reply);
    if (rc == KR_OK)
        return KR_OK;
    snprintf(msg, msglen, "%s", krc_err_msg());
    return rc == KR_EUNAVAILABLE ? rc : krc_err_set(KR_EUNAVAILABLE, "%s", msg);
}

void krc_redis_host_fill(kr_host *h)
{
    h->redis_command_argv = command_argv;
    h->redis_pipeline = pipeline;
}
