#include "core/queue/pool.h"

#include "core/util/err.h"
#include "core/util/thread.h"

void krc_qpool_init(krc_qpool *p, const krc_redis_url *url, int timeout_ms)
{
    pthread_mutex_init(&p->mu, NULL);
    p->url = url;
    p->timeout_ms = timeout_ms;
    p->nidle = 0;
}

void krc_qpool_destroy(krc_qpool *p)
{
    for (int i = 0; i < p->nidle; i++)
        redisFree(p->idle[i]);
    p->nidle = 0;
    pthread_mutex_destroy(&p->mu);
}

redisContext *krc_qpool_get(krc_qpool *p)
{
    KRC_ASSERT_MAY_BLOCK();
    redisContext *c = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nidle > 0)
        c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    if (c != NULL)
        return c;
    char err[256];
    c = krc_redis_connect(p->url, p->timeout_ms, err, sizeof(err));
    if (c == NULL)
        krc_err_set(KR_EUNAVAILABLE, "queue %s", err);
    return c;
}

void krc_qpool_put(krc_qpool *p, redisContext *c)
{
    if (c == NULL)
        return;
    if (c->err == 0) {
        pthread_mutex_lock(&p->mu);
        if (p->nidle < KRC_QPOOL_IDLE_MAX) {
            p->idle[p->nidle++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&p->mu);
    }
    if (c != NULL)
        redisFree(c);
}
