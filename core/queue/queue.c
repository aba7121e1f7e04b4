/* The queue object: opening, consumers registered by plugins, start and
 * drain of their threads, readiness. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/obs/log.h"
#include "core/queue/internal.h"
#include "core/queue/script.h"
#include "core/util/err.h"
#include "core/util/thread.h"

#define CONCURRENCY_MAX 1024

struct timespec krc_qdeadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0)
        ms = 0;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

void krc_qcond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

void krc_queue_options_default(krc_queue_options *o)
{
    o->lock_duration_ms = 30000;
    o->stalled_interval_ms = 30000;
    o->max_stalled_count = 1;
    o->drain_delay_ms = 5000;
    o->redis_timeout_ms = 5000;
}

static int options_check(const krc_queue_options *o, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (o->lock_duration_ms < 100 || o->lock_duration_ms > 86400000)
        bad = "lock duration must be 100 ms to 1 day";
    else if (o->stalled_interval_ms < 100 || o->stalled_interval_ms > 86400000)
        bad = "stalled-check interval must be 100 ms to 1 day";
    else if (o->max_stalled_count < 0 || o->max_stalled_count > 1000)
        bad = "max stalled count must be 0 to 1000";
    else if (o->drain_delay_ms < 10 || o->drain_delay_ms > 10000)
        bad = "drain delay must be 10 ms to 10 s";
    else if (o->redis_timeout_ms < 100 || o->redis_timeout_ms > 600000)
        bad = "redis timeout must be 100 ms to 10 min";
    if (bad != NULL) {
        snprintf(err, errlen, "queue: %s", bad);
        return -1;
    }
    return 0;
}

krc_queue *krc_queue_open(const char *redis_url, const char *prefix, const kr_host *host, char *err, size_t errlen)
{
    if (krc_scripts_check(err, errlen) < 0)
        return NULL;
    if (prefix == NULL)
        prefix = "bull";
    if (!krc_qprefix_valid(prefix)) {
        snprintf(err, errlen, "queue prefix \"%s\" is not valid (printable, no spaces, 1 to %d characters)", prefix,
                 KRC_QUEUE_PREFIX_MAX - 1);
        return NULL;
    }
    krc_queue *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (krc_redis_url_parse(redis_url, &q->url, err, errlen) < 0) {
        free(q);
        return NULL;
    }
    q->handle.host = host;
    snprintf(q->prefix, sizeof(q->prefix), "%s", prefix);
    krc_queue_options_default(&q->opts);
    krc_qpool_init(&q->pool, &q->url, q->opts.redis_timeout_ms);
    pthread_mutex_init(&q->mu, NULL);
    krc_qcond_init(&q->cond);
    krc_metrics_on_collect(krc_qmetrics_collect, q);
    return q;
}

int krc_queue_configure(krc_queue *q, const krc_queue_options *o, char *err, size_t errlen)
{
    if (options_check(o, err, errlen) < 0)
        return -1;
    if (q->started) {
        snprintf(err, errlen, "queue: options are set before the consumers start");
        return -1;
    }
    q->opts = *o;
    q->pool.timeout_ms = o->redis_timeout_ms;
    return 0;
}

/* A random version-4 UUID, as BullMQ names its worker tokens. */
static void token_base(char *out, size_t outlen)
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        uint64_t x = (uint64_t)krc_qmono_ms() * 6364136223846793005ULL ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof(b); i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, outlen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int queue_consume(kr_plugin_ctx *ctx, const char *queue, int concurrency, kr_job_fn fn, void *udata)
{
    const kr_host *h = KR_HOST_OF(ctx);
    krc_queue *q = (krc_queue *)h->ctx_queue(ctx);
    if (q == NULL)
        return krc_err_set(KR_EUNAVAILABLE, "no queue is configured for this process");
    if (queue == NULL || !krc_qname_valid(queue))
        return krc_err_set(KR_EINVAL, "queue name \"%s\" is not valid ([A-Za-z0-9_.-], 1 to %d characters)",
                           queue != NULL ? queue : "", KRC_QUEUE_NAME_MAX - 1);
    if (concurrency < 1 || concurrency > CONCURRENCY_MAX)
        return krc_err_set(KR_EINVAL, "queue %s: concurrency must be 1 to %d", queue, CONCURRENCY_MAX);
    if (fn == NULL)
        return krc_err_set(KR_EINVAL, "queue %s: the consumer function is missing", queue);
    krc_consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    c->q = q;
    snprintf(c->queue, sizeof(c->queue), "%s", queue);
    krc_qkeys_init(&c->keys, q->prefix, queue);
    c->concurrency = concurrency;
    c->fn = fn;
    c->udata = udata;
    c->ctx = ctx;
    c->enabled = h->ctx_has_role(ctx, "worker");
    c->block_fd = -1;
    token_base(c->token_base, sizeof(c->token_base));
    pthread_mutex_init(&c->mu, NULL);
    krc_qcond_init(&c->cond);

    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (q->started)
        rc = krc_err_set(KR_EINVAL, "queue %s: consumers are registered at init, before the queue starts", queue);
    krc_consumer **tail = &q->consumers;
    for (; rc == 0 && *tail != NULL; tail = &(*tail)->next)
        if (strcmp((*tail)->queue, queue) == 0)
            rc = krc_err_set(KR_EDUPLICATE, "queue %s already has a consumer (plugin %s)", queue,
                             (*tail)->ctx != NULL ? h->ctx_name((*tail)->ctx) : "?");
    if (rc == 0)
        *tail = c;
    pthread_mutex_unlock(&q->mu);
    if (rc < 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cond);
        free(c);
        return rc;
    }
    if (c->enabled)
        c->m = krc_qmetrics_get(q, queue);
    return 0;
}

void krc_queue_host_fill(kr_host *h)
{
    h->queue_add = krc_queue_add_job;
    h->queue_consume = queue_consume;
    krc_job_host_fill(h);
}

int krc_queue_start(krc_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int already = q->started;
    q->started = 1;
    pthread_mutex_unlock(&q->mu);
    if (already)
        return 0;
    int any = 0;
    for (krc_consumer *c = q->consumers; c != NULL; c = c->next) {
        if (!c->enabled)
            continue;
        int rc = krc_consumer_start(c);
        if (rc < 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", krc_err_msg());
            krc_queue_drain(q, 0);
            return krc_err_set(rc, "%s", msg);
        }
        any = 1;
    }
    if (any)
        return krc_maint_start(q);
    return 0;
}

void krc_queue_drain(krc_queue *q, int timeout_ms)
{
    KRC_ASSERT_MAY_BLOCK();
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    int again = q->drained;
    q->drained = 1;
    pthread_mutex_unlock(&q->mu);
    if (again)
        return;
    atomic_store(&q->stopping, 1);
    for (krc_consumer *c = q->consumers; c != NULL; c = c->next)
        krc_consumer_wake(c);
    int64_t deadline = krc_qmono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (krc_consumer *c = q->consumers; c != NULL; c = c->next) {
        if (c->threads == 0)
            continue;
        int idle = krc_consumer_wait_idle(c, deadline);
        if (!idle)
            atomic_store(&q->detached, 1);
        int left = krc_consumer_join(c, idle);
        if (left > 0)
            krc_log(KR_LOG_WARN, krc_consumer_plugin(c), NULL,
                    "queue %s: %d job(s) still running after the drain timeout; their locks will expire and "
                    "another worker will run them again",
                    c->queue, left);
        q->abandoned += left;
    }
    krc_maint_stop(q);
}

void krc_queue_close(krc_queue *q)
{
    if (q == NULL)
        return;
    krc_queue_drain(q, 0);
    /* Threads still inside a consumer use all of this; the process is
     * about to exit, which frees it for them. */
    if (q->abandoned > 0)
        return;
    while (q->consumers != NULL) {
        krc_consumer *c = q->consumers;
        q->consumers = c->next;
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cond);
        free(c->workers);
        free(c);
    }
    krc_qmetrics_free(q);
    krc_qpool_destroy(&q->pool);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cond);
    free(q);
}

int krc_queue_ready(krc_queue *q, char *msg, size_t msglen)
{
    KRC_ASSERT_MAY_BLOCK();
    redisContext *conn = krc_qpool_get(&q->pool);
    if (conn == NULL) {
        snprintf(msg, msglen, "%s", krc_err_msg());
        return KR_EUNAVAILABLE;
    }
    redisReply *r = redisCommand(conn, "PING");
    int rc = 0;
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        rc = krc_err_set(KR_EUNAVAILABLE, "queue redis PING: %s", r == NULL ? conn->errstr : r->str);
        snprintf(msg, msglen, "%s", krc_err_msg());
    } else {
        krc_maint_check_policy(q, conn);
    }
    if (r != NULL)
        freeReplyObject(r);
    krc_qpool_put(&q->pool, conn);
    return rc;
}
