/* Queue metrics: jobs by outcome, time per attempt, and job counts read
 * from Redis (BullMQ's getCounts) when /metrics is rendered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/queue/internal.h"
#include "core/queue/script.h"
#include "core/util/err.h"
#include "core/util/thread.h"

static const double duration_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

static krc_qmetrics *find(krc_queue *q, const char *queue)
{
    for (krc_qmetrics *m = q->metrics; m != NULL; m = m->next)
        if (strcmp(m->queue, queue) == 0)
            return m;
    return NULL;
}

krc_qmetrics *krc_qmetrics_get(krc_queue *q, const char *queue)
{
    pthread_mutex_lock(&q->mu);
    krc_qmetrics *m = find(q, queue);
    pthread_mutex_unlock(&q->mu);
    if (m != NULL)
        return m;
    /* Registered outside q->mu: the registry may hold its own lock while it
     * calls krc_qmetrics_collect, which takes q->mu. */
    krc_qmetrics *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    snprintf(n->queue, sizeof(n->queue), "%s", queue);
    char labels[KRC_QUEUE_NAME_MAX + 64];
    const char *jobs_help = "Attempts of queue jobs that ended, by queue and outcome (retried: failed, will run again)";
    snprintf(labels, sizeof(labels), "queue=\"%s\",state=\"completed\"", queue);
    n->completed = krc_metrics_counter("kirana_queue_jobs_total", jobs_help, labels);
    snprintf(labels, sizeof(labels), "queue=\"%s\",state=\"failed\"", queue);
    n->failed = krc_metrics_counter("kirana_queue_jobs_total", jobs_help, labels);
    snprintf(labels, sizeof(labels), "queue=\"%s\",state=\"retried\"", queue);
    n->retried = krc_metrics_counter("kirana_queue_jobs_total", jobs_help, labels);
    snprintf(labels, sizeof(labels), "queue=\"%s\"", queue);
    n->duration =
        krc_metrics_histogram("kirana_queue_job_duration_seconds", "Time a consumer spent on one attempt of a job",
                              labels, duration_bounds, sizeof(duration_bounds) / sizeof(duration_bounds[0]));
    const char *count_help = "Jobs in the queue's Redis by state (waiting includes prioritized and paused)";
    snprintf(labels, sizeof(labels), "queue=\"%s\",state=\"waiting\"", queue);
    n->waiting = krc_metrics_gauge("kirana_queue_jobs", count_help, labels);
    snprintf(labels, sizeof(labels), "queue=\"%s\",state=\"active\"", queue);
    n->active = krc_metrics_gauge("kirana_queue_jobs", count_help, labels);
    snprintf(labels, sizeof(labels), "queue=\"%s\",state=\"delayed\"", queue);
    n->delayed = krc_metrics_gauge("kirana_queue_jobs", count_help, labels);
    if (n->completed == NULL || n->failed == NULL || n->retried == NULL || n->duration == NULL || n->waiting == NULL ||
        n->active == NULL || n->delayed == NULL) {
        free(n);
        return NULL;
    }
    pthread_mutex_lock(&q->mu);
    m = find(q, queue);
    if (m == NULL) {
        n->next = q->metrics;
        q->metrics = m = n;
        n = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    free(n);
    return m;
}

static int counts(redisContext *conn, const char *prefix, const char *queue, krc_queue_counts *out)
{
    static const char *const types[] = {"wait", "paused", "prioritized", "active", "delayed", "completed", "failed"};
    krc_qkeys k;
    krc_qkeys_init(&k, prefix, queue);
    krc_qargs a;
    krc_qargs_init(&a);
    krc_qargs_str(&a, k.base);
    for (size_t i = 0; i < 7; i++)
        krc_qargs_str(&a, types[i]);
    redisReply *r;
    int rc = krc_script_call(conn, KRC_S_GET_COUNTS, &a, &r);
    krc_qargs_free(&a);
    if (rc < 0)
        return rc;
    long long v[7] = {0};
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
        freeReplyObject(r);
        return krc_err_set(KR_EINTERNAL, "queue getCounts: unexpected reply");
    }
    for (size_t i = 0; i < 7; i++)
        v[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
    freeReplyObject(r);
    out->waiting = v[0] + v[1] + v[2];
    out->active = v[3];
    out->delayed = v[4];
    out->completed = v[5];
    out->failed = v[6];
    return 0;
}

int krc_queue_counts_get(krc_queue *q, const char *queue, krc_queue_counts *out)
{
    KRC_ASSERT_MAY_BLOCK();
    memset(out, 0, sizeof(*out));
    if (queue == NULL || !krc_qname_valid(queue))
        return krc_err_set(KR_EINVAL, "queue name \"%s\" is not valid", queue != NULL ? queue : "");
    redisContext *conn = krc_qpool_get(&q->pool);
    if (conn == NULL)
        return KR_EUNAVAILABLE;
    int rc = counts(conn, q->prefix, queue, out);
    krc_qpool_put(&q->pool, conn);
    return rc;
}

void krc_qmetrics_collect(void *arg)
{
    krc_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    krc_qmetrics *head = q->metrics;
    pthread_mutex_unlock(&q->mu);
    if (head == NULL)
        return;
    /* Entries are only ever prepended, so the list from head on is stable. */
    redisContext *conn = krc_qpool_get(&q->pool);
    if (conn == NULL)
        return;
    for (krc_qmetrics *m = head; m != NULL && conn->err == 0; m = m->next) {
        krc_queue_counts n;
        if (counts(conn, q->prefix, m->queue, &n) < 0)
            continue;
        krc_gauge_set(m->waiting, n.waiting);
        krc_gauge_set(m->active, n.active);
        krc_gauge_set(m->delayed, n.delayed);
    }
    krc_qpool_put(&q->pool, conn);
}

void krc_qmetrics_free(krc_queue *q)
{
    while (q->metrics != NULL) {
        krc_qmetrics *m = q->metrics;
        q->metrics = m->next;
        free(m);
    }
}
