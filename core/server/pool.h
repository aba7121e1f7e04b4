/* Core: the bounded worker pool that runs plugin handlers.
 *
 * Event-loop threads submit; worker threads run tasks and may block. The
 * queue is bounded so overload becomes a fast 503, not unbounded memory. */
#ifndef KRC_SERVER_POOL_H
#define KRC_SERVER_POOL_H

#include <stddef.h>

typedef struct krc_task krc_task;
typedef void (*krc_task_fn)(krc_task *task);

/* Embedded in whatever the task is about, so submitting never allocates. */
struct krc_task {
    krc_task *next;
    krc_task_fn fn;
};

typedef struct krc_pool krc_pool;

/* main. nthreads workers, at most max_queue tasks waiting beyond those an
 * idle worker is about to take. NULL on failure. */
krc_pool *krc_pool_new(int nthreads, int max_queue);
/* any thread. Submits tasks linked by `next` under one lock, waking at most
 * one worker per task. Returns the tasks that did not fit (queue full or
 * stopping), still linked, or NULL. */
krc_task *krc_pool_submit_list(krc_pool *p, krc_task *head);
/* any thread. Tasks waiting (not running). */
size_t krc_pool_depth(krc_pool *p);
/* any thread. Tasks running now. */
size_t krc_pool_busy(krc_pool *p);
/* main. Refuses new tasks, runs what is queued, joins the workers. */
void krc_pool_stop(krc_pool *p);
/* main, after krc_pool_stop. */
void krc_pool_free(krc_pool *p);

#endif
