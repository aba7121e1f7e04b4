/* Consumers: per registered consumer, one fetch thread that waits on the
 * queue's marker (BZPOPMIN) and moves jobs to active while a slot is free,
 * and `concurrency` job threads that run the consumer's function and end
 * each attempt, taking the next job in the same call while there is one.
 * This is the shape of BullMQ's Worker main loop, with threads for
 * promises. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/obs/log.h"
#include "core/queue/internal.h"
#include "core/queue/pack.h"
#include "core/queue/script.h"
#include "core/util/err.h"

/* BullMQ caps one BZPOPMIN at 10 s (longer blocks misbehave on reconnects). */
#define MAX_BLOCK_S 10.0
/* Worker's maximumRateLimitDelay. */
#define MAX_RATE_LIMIT_WAIT_MS 30000

static int stopping(const krc_consumer *c)
{
    return atomic_load(&c->q->stopping);
}

/* Sleeps up to ms, returning early when the queue stops. */
static void nap(krc_consumer *c, int64_t ms)
{
    struct timespec until = krc_qdeadline(ms);
    pthread_mutex_lock(&c->mu);
    while (!stopping(c) && pthread_cond_timedwait(&c->cond, &c->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&c->mu);
}

static void base64(const char *in, char *out, size_t outlen)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The fetch connection carries BullMQ's worker name, `<prefix>:<base64 of
 * the queue>`, so Queue.getWorkers() and dashboards list kirana's workers. */
static redisContext *connect_fetcher(krc_consumer *c, char *err, size_t errlen)
{
    redisContext *conn = krc_redis_connect(&c->q->url, c->q->opts.redis_timeout_ms, err, errlen);
    if (conn == NULL)
        return NULL;
    char b64[KRC_QUEUE_NAME_MAX * 2], name[KRC_QUEUE_PREFIX_MAX + KRC_QUEUE_NAME_MAX * 2 + 2];
    base64(c->queue, b64, sizeof(b64));
    snprintf(name, sizeof(name), "%s:%s", c->q->prefix, b64);
    redisReply *r = redisCommand(conn, "CLIENT SETNAME %s", name);
    if (r == NULL) {
        snprintf(err, errlen, "redis CLIENT SETNAME: %s", conn->errstr);
        redisFree(conn);
        return NULL;
    }
    freeReplyObject(r);
    return conn;
}

static void set_timeout(redisContext *conn, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    redisSetTimeout(conn, tv);
}

/* Worker.getBlockTimeout, in seconds; <= 0 means "fetch now". */
static double block_timeout(const krc_consumer *c, int64_t block_until)
{
    if (block_until > 0) {
        double delay = (double)(block_until - krc_qnow_ms());
        if (delay <= 0)
            return delay;
        if (delay < 1)
            return 0.001;
        return delay / 1000 < MAX_BLOCK_S ? delay / 1000 : MAX_BLOCK_S;
    }
    double d = c->q->opts.drain_delay_ms / 1000.0;
    return d > 0.001 ? d : 0.001;
}

/* BZPOPMIN on the marker. 1 with the marker's score (a due time, or 0),
 * 0 on timeout, <0 when the connection broke (or drain shut it down). */
static int wait_marker(krc_consumer *c, redisContext *conn, double timeout_s, int64_t *score)
{
    pthread_mutex_lock(&c->mu);
    if (stopping(c)) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    c->block_fd = conn->fd;
    pthread_mutex_unlock(&c->mu);
    set_timeout(conn, (int64_t)(timeout_s * 1000) + c->q->opts.redis_timeout_ms);
    char t[32];
    snprintf(t, sizeof(t), "%.3f", timeout_s);
    redisReply *r = redisCommand(conn, "BZPOPMIN %s %s", c->keys.marker, t);
    pthread_mutex_lock(&c->mu);
    c->block_fd = -1;
    pthread_mutex_unlock(&c->mu);
    set_timeout(conn, c->q->opts.redis_timeout_ms);
    if (r == NULL)
        return krc_err_set(KR_EUNAVAILABLE, "redis BZPOPMIN: %s", conn->errstr);
    int got = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
        *score = strtoll(r->element[2]->str, NULL, 10);
        got = 1;
    } else if (r->type == REDIS_REPLY_ERROR) {
        krc_err_set(KR_EINTERNAL, "redis BZPOPMIN: %s", r->str);
        got = KR_EINTERNAL;
    }
    freeReplyObject(r);
    return got;
}

static void next_token(krc_consumer *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s:%llu", c->token_base, (unsigned long long)atomic_fetch_add(&c->token_seq, 1));
}

/* moveToActive: 1 with *job, 0 with none (*delay_until and *rate_delay as
 * the script answered), <0 on error. */
static int move_to_active(krc_consumer *c, redisContext *conn, kr_job **job, int64_t *delay_until, int64_t *rate_delay)
{
    const krc_qkeys *k = &c->keys;
    char token[80];
    next_token(c, token, sizeof(token));
    krc_qargs a;
    krc_qargs_init(&a);
    const char *keys[] = {k->wait,    k->active, k->prioritized, k->events, k->stalled, k->limiter,
                          k->delayed, k->paused, k->meta,        k->pc,     k->marker};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        krc_qargs_str(&a, keys[i]);
    krc_qargs_str(&a, k->base);
    krc_qargs_int(&a, krc_qnow_ms());
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    krc_pack_cstr(&pk, "token");
    krc_pack_cstr(&pk, token);
    krc_pack_cstr(&pk, "lockDuration");
    msgpack_pack_int64(&pk, c->q->opts.lock_duration_ms);
    krc_qargs_own(&a, sb.data, sb.size);
    redisReply *r;
    int rc = krc_script_call(conn, KRC_S_MOVE_TO_ACTIVE, &a, &r);
    krc_qargs_free(&a);
    if (rc < 0)
        return rc;
    *job = NULL;
    *delay_until = *rate_delay = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) {
        freeReplyObject(r);
        return krc_err_set(KR_EINTERNAL, "queue moveToActive: unexpected reply");
    }
    if (r->element[2]->type == REDIS_REPLY_INTEGER)
        *rate_delay = r->element[2]->integer;
    if (r->element[3]->type == REDIS_REPLY_INTEGER)
        *delay_until = r->element[3]->integer;
    if (r->element[0]->type == REDIS_REPLY_ARRAY && r->element[1]->type == REDIS_REPLY_STRING) {
        *job = krc_job_parse(c, r->element[0], r->element[1]->str, token);
        if (*job == NULL)
            rc = krc_err_set(KR_ENOMEM, "queue: out of memory taking job %s", r->element[1]->str);
    }
    freeReplyObject(r);
    return rc < 0 ? rc : *job != NULL;
}

static void hand_over(krc_consumer *c, kr_job *job)
{
    pthread_mutex_lock(&c->mu);
    job->next = NULL;
    if (c->ready_tail != NULL)
        c->ready_tail->next = job;
    else
        c->ready_head = job;
    c->ready_tail = job;
    c->held++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void *fetch_main(void *arg)
{
    krc_consumer *c = arg;
    redisContext *conn = NULL;
    int drained = 0, down = 0;
    int64_t block_until = 0, backoff = 0;
    char err[256];
    while (!stopping(c)) {
        pthread_mutex_lock(&c->mu);
        while (c->held >= c->concurrency && !stopping(c))
            pthread_cond_wait(&c->cond, &c->mu);
        pthread_mutex_unlock(&c->mu);
        if (stopping(c))
            break;
        if (conn == NULL) {
            conn = connect_fetcher(c, err, sizeof(err));
            if (conn == NULL) {
                if (!down)
                    krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: %s; retrying", c->queue, err);
                down = 1;
                backoff = backoff == 0 ? 100 : backoff * 2 > 5000 ? 5000 : backoff * 2;
                nap(c, backoff);
                continue;
            }
            if (down)
                krc_log(KR_LOG_INFO, krc_consumer_plugin(c), NULL, "queue %s: connected to redis again", c->queue);
            down = 0;
            backoff = 0;
            drained = 0;
        }
        int rc = 1;
        if (drained) {
            double t = block_timeout(c, block_until);
            int64_t next = 0, score = 0;
            if (t > 0) {
                rc = wait_marker(c, conn, t, &score);
                if (rc == 1)
                    next = block_until > 0 && score > block_until ? block_until : score;
            }
            block_until = next;
            if (rc >= 0)
                rc = block_until <= 0 || block_until - krc_qnow_ms() < 1;
        }
        kr_job *job = NULL;
        int64_t rate_delay = 0;
        if (rc > 0 && !stopping(c)) {
            rc = move_to_active(c, conn, &job, &block_until, &rate_delay);
            if (rc >= 0)
                drained = job == NULL;
            if (job != NULL)
                hand_over(c, job);
        }
        if (rc < 0) {
            if (stopping(c))
                break;
            if (conn->err != 0) {
                krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: %s; reconnecting", c->queue,
                        krc_err_msg());
                redisFree(conn);
                conn = NULL;
                down = 1;
            } else {
                krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: %s", c->queue, krc_err_msg());
            }
            backoff = backoff == 0 ? 100 : backoff * 2 > 5000 ? 5000 : backoff * 2;
            nap(c, backoff);
            continue;
        }
        backoff = 0;
        if (rate_delay > 0) {
            nap(c, rate_delay < MAX_RATE_LIMIT_WAIT_MS ? rate_delay : MAX_RATE_LIMIT_WAIT_MS);
            drained = 0;
        }
    }
    if (conn != NULL)
        redisFree(conn);
    pthread_mutex_lock(&c->mu);
    c->fetcher_done = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void running_link(krc_consumer *c, kr_job *job)
{
    job->rprev = NULL;
    job->rnext = c->running;
    if (c->running != NULL)
        c->running->rprev = job;
    c->running = job;
}

static void running_unlink(krc_consumer *c, kr_job *job)
{
    if (job->rprev != NULL)
        job->rprev->rnext = job->rnext;
    else
        c->running = job->rnext;
    if (job->rnext != NULL)
        job->rnext->rprev = job->rprev;
}

static void run_chain(krc_consumer *c, kr_job *job)
{
    const kr_host *host = c->q->handle.host;
    while (job != NULL) {
        int rc = KR_EINTERNAL;
        double dt = 0;
        if (job->defa == NULL) {
            krc_err_clear();
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            rc = c->fn(job, c->udata);
            clock_gettime(CLOCK_MONOTONIC, &b);
            dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
            if (rc < 0 && job->failure == NULL) {
                const char *msg = host->errmsg != NULL ? host->errmsg() : krc_err_msg();
                char fallback[64];
                snprintf(fallback, sizeof(fallback), "consumer failed (kr_err %d)", rc);
                job->failure = strdup(msg != NULL && msg[0] != '\0' ? msg : fallback);
            }
            if (rc > 0)
                rc = 0;
        }
        /* After a drain timeout the process is on its way out and may have
         * freed the metrics: the job's lock expires and another worker runs
         * it again, as it would had the process already exited. */
        if (atomic_load(&c->q->detached)) {
            pthread_mutex_lock(&c->mu);
            running_unlink(c, job);
            pthread_mutex_unlock(&c->mu);
            krc_job_free(job);
            return;
        }
        kr_job *next = NULL;
        krc_job_finish(job, rc, dt, !stopping(c), &next);
        pthread_mutex_lock(&c->mu);
        running_unlink(c, job);
        if (next != NULL)
            running_link(c, next);
        pthread_mutex_unlock(&c->mu);
        krc_job_free(job);
        job = next;
    }
}

static void *worker_main(void *arg)
{
    krc_consumer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->ready_head == NULL && !c->fetcher_done)
            pthread_cond_wait(&c->cond, &c->mu);
        kr_job *job = c->ready_head;
        if (job == NULL)
            break;
        c->ready_head = job->next;
        if (c->ready_head == NULL)
            c->ready_tail = NULL;
        job->renewed_ms = krc_qmono_ms();
        running_link(c, job);
        pthread_mutex_unlock(&c->mu);
        run_chain(c, job);
        pthread_mutex_lock(&c->mu);
        c->held--;
        pthread_cond_broadcast(&c->cond);
    }
    c->threads_done++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int krc_consumer_start(krc_consumer *c)
{
    c->workers = calloc((size_t)c->concurrency, sizeof(pthread_t));
    if (c->workers == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    c->block_fd = -1;
    for (int i = 0; i < c->concurrency; i++) {
        if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0)
            goto fail;
        c->threads++;
    }
    if (pthread_create(&c->fetcher, NULL, fetch_main, c) != 0)
        goto fail;
    return 0;
fail:
    pthread_mutex_lock(&c->mu);
    c->fetcher_done = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->threads; i++)
        pthread_join(c->workers[i], NULL);
    c->threads = 0;
    return krc_err_set(KR_EINTERNAL, "queue %s: cannot start its threads", c->queue);
}

void krc_consumer_wake(krc_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    /* The fetch thread owns the socket; shutting it down (not closing it)
     * ends its BZPOPMIN at once and leaves the descriptor for it to free. */
    if (c->block_fd >= 0)
        shutdown(c->block_fd, SHUT_RDWR);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

int krc_consumer_wait_idle(krc_consumer *c, int64_t deadline_ms)
{
    struct timespec until = krc_qdeadline(deadline_ms - krc_qmono_ms());
    pthread_mutex_lock(&c->mu);
    while (!(c->held == 0 && c->fetcher_done) && pthread_cond_timedwait(&c->cond, &c->mu, &until) == 0)
        ;
    int idle = c->held == 0 && c->fetcher_done;
    pthread_mutex_unlock(&c->mu);
    return idle;
}

int krc_consumer_join(krc_consumer *c, int idle)
{
    if (c->threads == 0)
        return 0;
    pthread_join(c->fetcher, NULL);
    int left = 0;
    for (int i = 0; i < c->threads; i++) {
        if (idle)
            pthread_join(c->workers[i], NULL);
        else
            pthread_detach(c->workers[i]);
    }
    if (!idle) {
        pthread_mutex_lock(&c->mu);
        left = c->threads - c->threads_done;
        pthread_mutex_unlock(&c->mu);
    }
    c->threads = 0;
    return left;
}
