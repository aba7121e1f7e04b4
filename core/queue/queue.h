/* Core: the BullMQ-compatible job queue (kr_queue of the SDK).
 *
 * Jobs live in Redis under `<prefix>:<queue>:*` and are moved between states
 * only by BullMQ's own Lua scripts (generated/bullmq_scripts.h), so Node
 * BullMQ producers, workers, QueueEvents and dashboards share the queues.
 * Producers may add from any worker or job thread; consumers registered by
 * plugins run on threads of their own, started only in processes with the
 * worker role. Every Redis wait happens on those threads or on the calling
 * worker thread, never on an event-loop thread. */
#ifndef KRC_QUEUE_H
#define KRC_QUEUE_H

#include <stddef.h>

#include "kirana/host.h"

typedef struct krc_queue krc_queue; /* first member kr_handle: handed to plugins as kr_queue* */

typedef struct krc_queue_options {
    int lock_duration_ms;    /* lock a consumer holds on a running job, renewed at half of it (30000) */
    int stalled_interval_ms; /* how often active jobs are checked for lost locks (30000) */
    int max_stalled_count;   /* recoveries of one job before it fails as stalled (1) */
    int drain_delay_ms;      /* longest idle wait on Redis before polling again (5000) */
    int redis_timeout_ms;    /* connect and command timeout of Redis calls (5000) */
} krc_queue_options;

/* any thread. BullMQ Worker's defaults. */
void krc_queue_options_default(krc_queue_options *o);

/* main. Parses the URL and prepares the queue; connections are made on first
 * use. prefix NULL means "bull". Caller-owned (krc_queue_close); NULL with a
 * reason in err. */
krc_queue *krc_queue_open(const char *redis_url, const char *prefix, const kr_host *host, char *err, size_t errlen);
/* main, before krc_queue_start. Copies o; -1 with a reason in err when a
 * value is out of range. */
int krc_queue_configure(krc_queue *q, const krc_queue_options *o, char *err, size_t errlen);
/* main. Sets queue_add, queue_consume and the job_* entries of h. */
void krc_queue_host_fill(kr_host *h);
/* main, after plugins started, only in processes with the worker role:
 * starts the consumer, job and maintenance threads. 0, or a kr_err. */
int krc_queue_start(krc_queue *q);
/* main, at shutdown: stops fetching, waits up to timeout_ms for running jobs,
 * stops the threads. Jobs still running then keep their threads; their locks
 * expire and another worker's stalled check retries them. Safe if never
 * started; idempotent. */
void krc_queue_drain(krc_queue *q, int timeout_ms);
/* main, at exit, after krc_queue_drain and the last metrics render (the
 * queue refreshes its gauges from a collect callback). Frees q (NULL is
 * fine). */
void krc_queue_close(krc_queue *q);
typedef struct krc_queue_counts {
    long long waiting; /* wait + paused + prioritized: ready to run */
    long long active;
    long long delayed;
    long long completed;
    long long failed;
} krc_queue_counts;

/* worker. Job counts of one queue, as BullMQ's getJobCounts. 0 or a kr_err. */
int krc_queue_counts_get(krc_queue *q, const char *queue, krc_queue_counts *out);
/* worker. 0 when Redis answers, else a kr_err with a short reason in msg. */
int krc_queue_ready(krc_queue *q, char *msg, size_t msglen);

#endif
