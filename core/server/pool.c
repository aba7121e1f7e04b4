#include "core/server/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct krc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    krc_task *head, *tail;
    size_t depth;
    size_t max_queue;
    int idle;
    bool stopping;
    atomic_size_t busy;
    int nthreads;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    krc_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        krc_task *t = p->head;
        if (t == NULL)
            break; /* stopping and drained */
        p->head = t->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->depth--;
        atomic_fetch_add_explicit(&p->busy, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->mu);
        t->next = NULL;
        t->fn(t);
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_relaxed);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

krc_pool *krc_pool_new(int nthreads, int max_queue)
{
    krc_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queue = (size_t)max_queue;
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (p->threads == NULL) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        krc_pool_stop(p);
        krc_pool_free(p);
        return NULL;
    }
    return p;
}

krc_task *krc_pool_submit_list(krc_pool *p, krc_task *head)
{
    pthread_mutex_lock(&p->mu);
    size_t taken = 0;
    /* Idle workers are about to take tasks off the queue, so a burst that
     * arrives in one batch may exceed max_queue by that many. */
    while (head != NULL && !p->stopping && p->depth < p->max_queue + (size_t)p->idle) {
        krc_task *t = head;
        head = t->next;
        t->next = NULL;
        if (p->tail != NULL)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        p->depth++;
        taken++;
    }
    size_t wake = (size_t)p->idle < taken ? (size_t)p->idle : taken;
    pthread_mutex_unlock(&p->mu);
    while (wake-- > 0)
        pthread_cond_signal(&p->cv);
    return head;
}

size_t krc_pool_depth(krc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t d = p->depth;
    pthread_mutex_unlock(&p->mu);
    return d;
}

size_t krc_pool_busy(krc_pool *p) { return atomic_load_explicit(&p->busy, memory_order_relaxed); }

void krc_pool_stop(krc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

void krc_pool_free(krc_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}
