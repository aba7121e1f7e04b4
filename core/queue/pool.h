/* Core queue: a small pool of blocking hiredis connections to the queue's
 * Redis, for producers, job completion, lock renewal and metrics.
 *
 * Connections are made on demand (the pool starts empty), handed to one
 * thread at a time, and dropped when they saw an I/O error, so a Redis
 * restart costs the calls in flight and nothing after. */
#ifndef KRC_QUEUE_POOL_H
#define KRC_QUEUE_POOL_H

#include <hiredis/hiredis.h>
#include <pthread.h>

#include "core/redis/conn.h"

#define KRC_QPOOL_IDLE_MAX 16

typedef struct krc_qpool {
    pthread_mutex_t mu;
    const krc_redis_url *url; /* borrowed from the queue */
    int timeout_ms;
    int nidle;
    redisContext *idle[KRC_QPOOL_IDLE_MAX];
} krc_qpool;

/* main. url is borrowed and must outlive the pool. */
void krc_qpool_init(krc_qpool *p, const krc_redis_url *url, int timeout_ms);
/* main. Frees idle connections. */
void krc_qpool_destroy(krc_qpool *p);
/* worker or job thread. An idle or new connection, owned by the caller until
 * krc_qpool_put; NULL with KR_EUNAVAILABLE set (krc_err_set) when Redis
 * cannot be reached. */
redisContext *krc_qpool_get(krc_qpool *p);
/* any thread. Returns c (NULL is fine); a connection with an error is freed. */
void krc_qpool_put(krc_qpool *p, redisContext *c);

#endif
