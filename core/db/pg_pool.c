#include "core/db/pg_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/err.h"

struct krc_pg_pool {
    char *uri;
    int size;
    int timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t freed; /* a connection came back or a slot opened */
    int total;            /* connections that exist or are being made */
    int nidle;
    krc_pg_conn **idle; /* size slots */
};

krc_pg_pool *krc_pg_pool_new(const char *uri, int size, int timeout_ms)
{
    krc_pg_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->uri = strdup(uri);
    p->idle = calloc((size_t)size, sizeof(*p->idle));
    if (p->uri == NULL || p->idle == NULL) {
        free(p->uri);
        free(p->idle);
        free(p);
        return NULL;
    }
    p->size = size;
    p->timeout_ms = timeout_ms;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->freed, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

void krc_pg_pool_free(krc_pg_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->nidle; i++)
        krc_pg_conn_close(p->idle[i]);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->uri);
    free(p);
}

int krc_pg_pool_get(krc_pg_pool *p, int64_t deadline, krc_pg_conn **out)
{
    *out = NULL;
    struct timespec until = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    krc_pg_conn *stale[8];
    int nstale = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->nidle > 0) {
            krc_pg_conn *c = p->idle[--p->nidle];
            if (krc_pg_conn_idle_ok(c) == 0) {
                *out = c;
                break;
            }
            p->total--;
            if (nstale < 8)
                stale[nstale++] = c;
            else
                krc_pg_conn_close(c);
        }
        if (*out != NULL || p->total < p->size)
            break;
        if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT)
            break;
    }
    int make = *out == NULL && p->total < p->size;
    if (make)
        p->total++;
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < nstale; i++)
        krc_pg_conn_close(stale[i]);
    if (*out != NULL)
        return 0;
    if (!make)
        return krc_err_set(KR_EUNAVAILABLE, "postgresql: all %d connections busy for the whole timeout", p->size);
    int rc = krc_pg_conn_open(p->uri, p->timeout_ms, deadline, out);
    if (rc != 0) {
        pthread_mutex_lock(&p->lock);
        p->total--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    return 0;
}

void krc_pg_pool_put(krc_pg_pool *p, krc_pg_conn *c)
{
    int broken = krc_pg_conn_broken(c);
    pthread_mutex_lock(&p->lock);
    if (broken)
        p->total--;
    else
        p->idle[p->nidle++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
    if (broken)
        krc_pg_conn_close(c);
}
