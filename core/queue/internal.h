/* Core queue: the structures shared by the queue's files.
 *
 *   queue.c    open/configure/close, registration of consumers, start/drain
 *   add.c      producers (kr_queue_add)
 *   runner.c   per consumer: one fetch thread and `concurrency` job threads
 *   finish.c   the end of an attempt: complete, retry (delayed or not), fail
 *   job.c      kr_job: parsing a fetched job, the kr_job_* accessors
 *   maint.c    one thread per queue object: lock renewal, stalled checks
 *   qmetrics.c counters, latency histogram, job-count gauges
 */
#ifndef KRC_QUEUE_INTERNAL_H
#define KRC_QUEUE_INTERNAL_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "core/obs/metrics.h"
#include "core/queue/keys.h"
#include "core/queue/pool.h"
#include "core/queue/queue.h"
#include "core/redis/conn.h"
#include "kirana/queue.h"

typedef struct krc_consumer krc_consumer;
typedef struct krc_qmetrics krc_qmetrics;

/* Metrics of one queue name; registered once, live as long as the queue. */
struct krc_qmetrics {
    krc_qmetrics *next;
    char queue[KRC_QUEUE_NAME_MAX];
    krc_counter *completed, *failed, *retried;
    krc_histogram *duration;
    krc_gauge *waiting, *active, *delayed;
};

struct krc_queue {
    kr_handle handle; /* first: handed to plugins as kr_queue* */
    krc_redis_url url;
    char prefix[KRC_QUEUE_PREFIX_MAX];
    krc_queue_options opts;
    krc_qpool pool;

    pthread_mutex_t mu; /* consumers list, metrics list, maintenance wake-ups */
    pthread_cond_t cond;
    krc_consumer *consumers;
    krc_qmetrics *metrics;
    int started;
    int drained;
    int abandoned; /* job threads still inside a consumer after drain */
    atomic_int stopping;
    atomic_int detached; /* the drain timed out: job threads still running must leave Redis and metrics alone */
    atomic_int policy_checked;
    int maint_running;
    pthread_t maint;
};

/* A fetched job, handed to the consumer's function as kr_job*. */
struct kr_job {
    kr_handle handle; /* first */
    krc_consumer *c;
    kr_job *next;          /* in the consumer's ready list */
    kr_job *rprev, *rnext; /* in the consumer's running list */
    char *id;
    char *name;
    json_t *data;
    json_t *opts;     /* stored JobsOptions ({} when unreadable) */
    char *defa;       /* deferred failure (stalled too often): fail without running */
    char *stacktrace; /* stored JSON array of earlier failures, or NULL */
    char token[80];
    int attempts_made;
    int64_t renewed_ms; /* monotonic, last lock renewal (or fetch) */
    json_t *result;     /* kr_job_set_result */
    char *failure;      /* kr_job_set_failure */
    int discard;
};

struct krc_consumer {
    krc_consumer *next;
    krc_queue *q;
    char queue[KRC_QUEUE_NAME_MAX];
    krc_qkeys keys;
    int concurrency;
    kr_job_fn fn;
    void *udata;
    kr_plugin_ctx *ctx;
    int enabled; /* this process has the worker role */
    krc_qmetrics *m;
    char token_base[40];
    atomic_ullong token_seq;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cond;
    int held; /* fetched and not yet finished: the slots in use */
    kr_job *ready_head, *ready_tail;
    kr_job *running;
    int block_fd; /* fetch thread's socket while it waits in BZPOPMIN, else -1 */
    int fetcher_done;
    int threads;      /* job threads started */
    int threads_done; /* job threads that returned */
    int64_t next_stalled_ms;
    pthread_t fetcher;
    pthread_t *workers;
};

/* any thread. Wall-clock milliseconds, as BullMQ's Date.now(). */
static inline int64_t krc_qnow_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* any thread. Monotonic milliseconds, for intervals. */
static inline int64_t krc_qmono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* any thread. Name of the plugin that registered c, for log lines
 * (borrowed, lives as long as the process). */
static inline const char *krc_consumer_plugin(const krc_consumer *c)
{
    return c->ctx != NULL ? c->q->handle.host->ctx_name(c->ctx) : NULL;
}

/* any thread. A timespec deadline ms from now on CLOCK_MONOTONIC (the
 * queue's condition variables use that clock). */
struct timespec krc_qdeadline(int64_t ms);
/* main. Initialises a condition variable on CLOCK_MONOTONIC. */
void krc_qcond_init(pthread_cond_t *cond);

/* worker or job thread (host entry queue_add). See kr_queue_add. */
int krc_queue_add_job(kr_queue *q, const char *queue, const char *name, const json_t *data, const json_t *opts,
                      char **id_out);

/* main. Sets the job_* entries of h. */
void krc_job_host_fill(kr_host *h);
/* fetch or job thread. A job from moveToActive's HGETALL array and id; the
 * token is copied. Caller-owned (krc_job_free); NULL when out of memory. */
kr_job *krc_job_parse(krc_consumer *c, const redisReply *fields, const char *id, const char *token);
/* any thread. NULL is fine. */
void krc_job_free(kr_job *job);

/* job thread. Ends the attempt of job whose function returned rc: complete,
 * retry (delayed or at once) or fail, as BullMQ's Worker decides. With
 * fetch_next the next waiting job is moved to active in the same call and
 * returned in *next (caller-owned), else *next is NULL. 0, or a kr_err when
 * Redis could not be told (the job's lock then expires and a stalled check
 * retries it). */
int krc_job_finish(kr_job *job, int rc, double duration_s, int fetch_next, kr_job **next);

/* main. Starts the fetch thread and the job threads of c. 0 or a kr_err. */
int krc_consumer_start(krc_consumer *c);
/* main. Wakes the fetch thread out of its wait on Redis so it sees stopping. */
void krc_consumer_wake(krc_consumer *c);
/* main. Waits until c holds no job and its fetch thread is gone, at most
 * until deadline (monotonic ms). 1 when idle. */
int krc_consumer_wait_idle(krc_consumer *c, int64_t deadline_ms);
/* main. Joins the threads of c; job threads are joined only when idle.
 * Returns how many job threads were left running. */
int krc_consumer_join(krc_consumer *c, int idle);

/* main. Starts the maintenance thread (lock renewal, stalled checks). */
int krc_maint_start(krc_queue *q);
/* main. Stops and joins it; safe when not started. */
void krc_maint_stop(krc_queue *q);
/* worker or maintenance thread. Logs a warning once per queue object when
 * the Redis eviction policy is not noeviction (BullMQ's jobs would vanish). */
void krc_maint_check_policy(krc_queue *q, redisContext *conn);

/* main or worker. The metrics of queue (registered on first use); NULL when
 * the registry refused them. Borrowed; freed by krc_qmetrics_free. */
krc_qmetrics *krc_qmetrics_get(krc_queue *q, const char *queue);
/* render thread (a collect callback). Refreshes the job-count gauges. */
void krc_qmetrics_collect(void *q);
/* main. Frees the per-queue records (the metrics belong to the registry). */
void krc_qmetrics_free(krc_queue *q);

#endif
