/* HGETALL of a 10-field hash through the kr_redis pool, as a plugin calls it
 * (host table, owned reply tree, free), from 1..N threads.
 *
 *   bench_hgetall URL THREADS OPS_PER_THREAD KEY
 *
 * Fills KEY with 10 fields, warms up, then prints one line:
 *   threads=T ops=N wall_s=S us_per_op=U calls_per_s=C
 * where us_per_op is wall time over all calls (what redis-benchmark's
 * requests per second measure, inverted). Run by run.sh. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/redis/redis.h"
#include "core/redis/reply.h"
#include "core/util/err.h"

static kr_host host;
static krc_redis *pool;
static const char *key;
static long ops;
static pthread_barrier_t go;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hgetall(void)
{
    const char *argv[] = {"HGETALL", key};
    kr_redis_reply *rep;
    int rc = host.redis_command_argv((kr_redis *)pool, 2, argv, NULL, &rep);
    if (rc == KR_OK && (rep->type != KR_REDIS_ARRAY || rep->elements != 20))
        rc = KR_EINTERNAL;
    krc_redis_reply_free(rep);
    return rc;
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        if (hgetall() != KR_OK)
            return (void *)1;
    pthread_barrier_wait(&go);
    for (long i = 0; i < ops; i++)
        if (hgetall() != KR_OK)
            return (void *)1;
    return NULL;
}

static int fill(void)
{
    const char *argv[22] = {"HSET", key};
    char fields[10][16], values[10][32];
    for (int i = 0; i < 10; i++) {
        snprintf(fields[i], sizeof(fields[i]), "field%d", i);
        snprintf(values[i], sizeof(values[i]), "value-%d-%016d", i, i * 7919);
        argv[2 + 2 * i] = fields[i];
        argv[3 + 2 * i] = values[i];
    }
    const char *del[] = {"DEL", key};
    const kr_redis_cmd cmds[] = {{2, del, NULL}, {22, argv, NULL}};
    kr_redis_reply **rep;
    int rc = host.redis_pipeline((kr_redis *)pool, 2, cmds, &rep);
    if (rc == KR_OK)
        krc_redis_replies_free(rep, 2);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s URL THREADS OPS_PER_THREAD KEY\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[2]);
    ops = atol(argv[3]);
    key = argv[4];
    if (threads < 1 || threads > 64 || ops < 1) {
        fprintf(stderr, "bench_hgetall: THREADS 1..64, OPS_PER_THREAD >= 1\n");
        return 2;
    }
    char err[256];
    krc_redis_host_fill(&host);
    pool = krc_redis_open(argv[1], threads, 2000, &host, err, sizeof(err));
    if (pool == NULL) {
        fprintf(stderr, "bench_hgetall: %s\n", err);
        return 1;
    }
    if (fill() != KR_OK) {
        fprintf(stderr, "bench_hgetall: %s\n", krc_err_msg());
        krc_redis_close(pool);
        return 1;
    }
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    pthread_barrier_wait(&go);
    double t0 = now_s();
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        failed |= rc != NULL;
    }
    double wall = now_s() - t0;
    pthread_barrier_destroy(&go);
    krc_redis_close(pool);
    if (failed) {
        fprintf(stderr, "bench_hgetall: a call failed\n");
        return 1;
    }
    double total = (double)ops * threads;
    printf("threads=%d ops=%.0f wall_s=%.3f us_per_op=%.2f calls_per_s=%.0f\n", threads, total, wall,
           wall * 1e6 / total, total / wall);
    return 0;
}
