/* kirana SDK: the job queue (BullMQ's protocol on Redis, so Node BullMQ
 * producers, workers and dashboards see the same queues).
 *
 * Delivery is at least once: a consumer may see a job again after a crash
 * or a lost lock, so consumers must be idempotent.
 */
#ifndef KIRANA_QUEUE_H
#define KIRANA_QUEUE_H

#include <stdint.h>
#include <jansson.h>

#include "kirana/error.h"
#include "kirana/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_job kr_job;

/* worker or job thread. Adds a job named `name` to `queue` with `data` (a
 * JSON object, borrowed) and BullMQ JobsOptions `opts` (borrowed, may be
 * NULL): jobId, attempts, backoff ({type: "fixed"|"exponential", delay} or a
 * number), delay, priority, removeOnComplete and removeOnFail (bool or a
 * count to keep). Unknown options are KR_EINVAL. Adding an existing jobId
 * is a no-op that returns the same id. *id_out (may be NULL) is
 * caller-owned (free()). */
int kr_queue_add(kr_queue *q, const char *queue, const char *name,
                 const json_t *data, const json_t *opts, char **id_out);

/* A consumer. Return 0 to complete the job (with the value given to
 * kr_job_set_result, else null), or a negative kr_err to fail this attempt
 * with kr_errmsg (or the reason given to kr_job_set_failure) — it is retried
 * while attempts remain, unless kr_job_discard was called. */
typedef int (*kr_job_fn)(kr_job *job, void *udata);

/* init thread. Consumes `queue` with up to `concurrency` jobs at once, in
 * processes whose roles include "worker" (elsewhere it is recorded and
 * ignored). The core renews locks while fn runs and drains on shutdown. */
int kr_queue_consume(kr_plugin_ctx *ctx, const char *queue, int concurrency,
                     kr_job_fn fn, void *udata);

/* --- inside a consumer (job thread; results borrowed until fn returns) --- */
const char *kr_job_id(const kr_job *job);
const char *kr_job_name(const kr_job *job);
const char *kr_job_queue(const kr_job *job);
const json_t *kr_job_data(const kr_job *job);
/* Attempts already made before this one (0 on the first run). */
int kr_job_attempts_made(const kr_job *job);
/* The plugin that registered the consumer. */
kr_plugin_ctx *kr_job_ctx(const kr_job *job);
/* Return value stored as the job's result (stolen). */
void kr_job_set_result(kr_job *job, json_t *result);
/* Failure reason (copied) recorded when fn returns an error. */
void kr_job_set_failure(kr_job *job, const char *reason);
/* Fail without further retries (as BullMQ's UnrecoverableError). */
void kr_job_discard(kr_job *job);
/* 1 once shutdown asked running jobs to finish up. */
int kr_job_stopping(const kr_job *job);

#ifdef __cplusplus
}
#endif
#endif
