/* Maintenance of a queue object's consumers, on one thread: renewing the
 * locks of running jobs (extendLock) and BullMQ's stalled-job check
 * (moveStalledJobsToWait), which moves jobs whose worker died back to wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/obs/log.h"
#include "core/queue/internal.h"
#include "core/queue/script.h"
#include "core/util/err.h"

typedef struct lease {
    char *id;
    char token[80];
    int failed;
} lease;

void krc_maint_check_policy(krc_queue *q, redisContext *conn)
{
    if (atomic_load(&q->policy_checked))
        return;
    redisReply *r = redisCommand(conn, "INFO memory");
    if (r == NULL)
        return;
    atomic_store(&q->policy_checked, 1);
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "maxmemory_policy:") : NULL;
    if (p != NULL) {
        p += strlen("maxmemory_policy:");
        size_t n = strcspn(p, "\r\n");
        if (n != strlen("noeviction") || strncmp(p, "noeviction", n) != 0)
            krc_log(KR_LOG_WARN, NULL, NULL,
                    "queue: redis maxmemory-policy is %.*s; it must be noeviction or Redis may drop jobs", (int)n, p);
    }
    freeReplyObject(r);
}

/* Locks are renewed at half their duration, as BullMQ's LockManager does. */
static void renew(krc_consumer *c, redisContext *conn, int64_t now)
{
    int64_t every = c->q->opts.lock_duration_ms / 2;
    size_t n = 0, cap = 0;
    lease *due = NULL;
    pthread_mutex_lock(&c->mu);
    for (kr_job *j = c->running; j != NULL; j = j->rnext) {
        if (now - j->renewed_ms < every)
            continue;
        if (n == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            lease *g = realloc(due, ncap * sizeof(*due));
            if (g == NULL)
                break;
            due = g;
            cap = ncap;
        }
        due[n].failed = 0;
        due[n].id = strdup(j->id);
        if (due[n].id == NULL)
            break;
        memcpy(due[n].token, j->token, sizeof(due[n].token));
        j->renewed_ms = now;
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        char lockkey[KRC_QKEY_MAX + 256];
        snprintf(lockkey, sizeof(lockkey), "%s%s:lock", c->keys.base, due[i].id);
        krc_qargs a;
        krc_qargs_init(&a);
        krc_qargs_str(&a, lockkey);
        krc_qargs_str(&a, c->keys.stalled);
        krc_qargs_str(&a, due[i].token);
        krc_qargs_int(&a, c->q->opts.lock_duration_ms);
        krc_qargs_str(&a, due[i].id);
        redisReply *r = NULL;
        if (conn->err == 0 && krc_script_call(conn, KRC_S_EXTEND_LOCK, &a, &r) == 0) {
            if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
                krc_log(KR_LOG_WARN, krc_consumer_plugin(c), NULL,
                        "queue %s: could not renew the lock of job %s; another worker may run it too", c->queue,
                        due[i].id);
            freeReplyObject(r);
        } else {
            krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: renewing the lock of job %s: %s", c->queue,
                    due[i].id, conn->err != 0 ? conn->errstr : krc_err_msg());
            due[i].failed = 1;
        }
        krc_qargs_free(&a);
    }
    /* A renewal that did not reach Redis is due again at the next tick, not
     * half a lock later, when the lock may be gone. */
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++)
        for (kr_job *j = c->running; due[i].failed && j != NULL; j = j->rnext)
            if (strcmp(j->id, due[i].id) == 0)
                j->renewed_ms = now - every;
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++)
        free(due[i].id);
    free(due);
}

static void stalled_check(krc_consumer *c, redisContext *conn)
{
    const krc_qkeys *k = &c->keys;
    krc_qargs a;
    krc_qargs_init(&a);
    const char *keys[] = {k->stalled, k->wait,   k->active, k->stalled_check, k->meta,
                          k->paused,  k->marker, k->events, k->repeat};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        krc_qargs_str(&a, keys[i]);
    krc_qargs_int(&a, c->q->opts.max_stalled_count);
    krc_qargs_str(&a, k->base);
    krc_qargs_int(&a, krc_qnow_ms());
    krc_qargs_int(&a, c->q->opts.stalled_interval_ms);
    redisReply *r;
    int rc = krc_script_call(conn, KRC_S_MOVE_STALLED, &a, &r);
    krc_qargs_free(&a);
    if (rc < 0) {
        krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: stalled-job check: %s", c->queue, krc_err_msg());
        return;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            krc_log(KR_LOG_WARN, krc_consumer_plugin(c), NULL,
                    "queue %s: job %s stalled (its worker lost its lock); moved back to wait", c->queue,
                    r->element[i]->str);
    freeReplyObject(r);
}

static void *maint_main(void *arg)
{
    krc_queue *q = arg;
    int64_t tick = q->opts.lock_duration_ms / 4;
    if (tick > q->opts.stalled_interval_ms)
        tick = q->opts.stalled_interval_ms;
    tick = tick < 20 ? 20 : tick > 1000 ? 1000 : tick;
    pthread_mutex_lock(&q->mu);
    krc_consumer *consumers = q->consumers;
    while (q->maint_running) {
        pthread_mutex_unlock(&q->mu);
        int64_t now = krc_qmono_ms();
        redisContext *conn = krc_qpool_get(&q->pool);
        if (conn != NULL) {
            krc_maint_check_policy(q, conn);
            for (krc_consumer *c = consumers; c != NULL && conn->err == 0; c = c->next) {
                if (!c->enabled)
                    continue;
                renew(c, conn, now);
                if (now >= c->next_stalled_ms && conn->err == 0) {
                    stalled_check(c, conn);
                    c->next_stalled_ms = now + q->opts.stalled_interval_ms;
                }
            }
            krc_qpool_put(&q->pool, conn);
        }
        struct timespec until = krc_qdeadline(tick);
        pthread_mutex_lock(&q->mu);
        while (q->maint_running && pthread_cond_timedwait(&q->cond, &q->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int krc_maint_start(krc_queue *q)
{
    q->maint_running = 1;
    if (pthread_create(&q->maint, NULL, maint_main, q) != 0) {
        q->maint_running = 0;
        return krc_err_set(KR_EINTERNAL, "queue: cannot start the maintenance thread");
    }
    return 0;
}

void krc_maint_stop(krc_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int running = q->maint_running;
    q->maint_running = 0;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    if (running)
        pthread_join(q->maint, NULL);
}
