/* Per-call cost of kr_db_find_one by _id on PostgreSQL, for comparison with
 * the same query through pgbench (run.sh).
 *
 *   bench URI load DOCS           (re)fills collection "bench" with DOCS
 *                                 documents, _id "0".."DOCS-1"
 *   bench URI run DOCS CALLS THREADS
 *                                 CALLS find_one calls spread over THREADS
 *                                 threads, random ids; prints one line:
 *                                 calls threads wall_s us_per_call
 *                                 us_latency cpu_us_per_call */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/db/db.h"
#include "core/util/err.h"
#include "kirana/host.h"
#include "kirana/kirana.h"

static kr_coll *coll;
static int docs;
static long per_thread;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *caller(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    char id[16];
    for (long i = 0; i < per_thread; i++) {
        snprintf(id, sizeof(id), "%d", rand_r(&seed) % docs);
        json_t *f = json_pack("{s:s}", "_id", id), *out = NULL;
        int rc = kr_db_find_one(coll, f, NULL, NULL, &out);
        if (rc != 0) {
            fprintf(stderr, "bench: find_one %s: %s (%s)\n", id, kr_strerror(rc), kr_errmsg(coll));
            exit(1);
        }
        json_decref(out);
        json_decref(f);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench URI load DOCS | bench URI run DOCS CALLS THREADS\n");
        return 2;
    }
    static kr_host h = {.size = sizeof h, .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};
    h.errmsg = krc_err_msg;
    krc_db_host_fill(&h);
    docs = atoi(argv[3]);
    int threads = argc > 5 ? atoi(argv[5]) : 1;
    char err[256];
    krc_db_opts opts = {.pool_size = threads, .timeout_ms = 10000};
    krc_db *db = krc_db_open(argv[1], &opts, &h, err, sizeof(err));
    if (db == NULL || docs <= 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "bench: %s\n", db == NULL ? err : "bad arguments");
        return 1;
    }
    coll = kr_db_coll(krc_db_handle(db), "bench");
    if (strcmp(argv[2], "load") == 0) {
        if (kr_db_delete_many(coll, NULL, NULL) != 0)
            return fprintf(stderr, "bench: %s\n", kr_errmsg(coll)), 1;
        for (int i = 0; i < docs; i++) {
            char id[16];
            snprintf(id, sizeof(id), "%d", i);
            json_t *d = json_pack("{s:s, s:s, s:i, s:s, s:i, s:b, s:[]}", "_id", id, "name", "Aashirvaad atta 5 kg",
                                  "price", 26500 + i, "category", "staples", "stock", 40, "active", 1, "holds");
            if (kr_db_insert_one(coll, d, NULL) != 0)
                return fprintf(stderr, "bench: %s\n", kr_errmsg(coll)), 1;
            json_decref(d);
        }
        krc_db_close(db);
        return 0;
    }
    long calls = argc > 4 ? atol(argv[4]) : 10000;
    per_thread = calls / threads;
    calls = per_thread * threads;
    long warm = per_thread;
    per_thread = warm < 1000 ? warm : 1000;
    caller((void *)1); /* warm up: connections, prepared statements */
    per_thread = calls / threads;
    pthread_t t[64];
    double c0 = cpu_s(), t0 = now_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, caller, (void *)(size_t)(i + 7));
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    printf("%ld %d %.3f %.2f %.2f %.2f\n", calls, threads, wall, wall * 1e6 / (double)calls,
           wall * 1e6 * threads / (double)calls, cpu * 1e6 / (double)calls);
    krc_db_close(db);
    return 0;
}
