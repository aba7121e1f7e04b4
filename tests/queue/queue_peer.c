/* queue_peer: kirana's queue on the command line, for tests and benchmarks.
 *
 *   queue_peer --redis URL [options] add QUEUE NAME DATA_JSON [OPTS_JSON]
 *       adds one job, prints its id
 *   queue_peer --redis URL [options] add-many QUEUE N [OPTS_JSON]
 *       adds N jobs named "bench" with data {"i": k}, prints {"added", "elapsed_ms"}
 *   queue_peer --redis URL [options] counts QUEUE
 *       prints {"waiting","active","delayed","completed","failed"}
 *   queue_peer --redis URL [options] consume QUEUE [--concurrency N]
 *       [--mode ok|noop|fail|fail-once|sleep:MS|discard] [--exit-after N]
 *       [--drain-timeout MS] [--role worker|http] [--metrics] [--quiet]
 *       consumes, printing one JSON line per event (ready, start, end, exit;
 *       --quiet leaves out start and end);
 *       exits after N attempts ended, or on SIGTERM/SIGINT, after draining
 *
 * options: --prefix P --lock-duration MS --stalled-interval MS
 *          --max-stalled N --drain-delay MS
 *
 * It is its own host: a kr_host filled by krc_queue_host_fill plus the few
 * plugin-context entries the queue calls, and it uses the queue through the
 * SDK (kr_queue_add, kr_queue_consume, kr_job_*), as a plugin would. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/obs/log.h"
#include "core/obs/metrics.h"
#include "core/queue/queue.h"
#include "core/util/err.h"
#include "kirana/host.h"
#include "kirana/kirana.h"

struct kr_plugin_ctx {
    kr_handle handle;
    krc_queue *q;
    const char *role;
};

typedef enum { M_OK, M_NOOP, M_FAIL, M_FAIL_ONCE, M_SLEEP, M_DISCARD } peer_mode;

typedef struct peer {
    peer_mode mode;
    int quiet;
    int sleep_ms;
    atomic_int ended;
    pthread_mutex_t out;
} peer;

static const char *ctx_name(const kr_plugin_ctx *ctx)
{
    (void)ctx;
    return "queue_peer";
}
static int ctx_has_role(const kr_plugin_ctx *ctx, const char *role)
{
    return strcmp(ctx->role, role) == 0;
}
static kr_queue *ctx_queue(const kr_plugin_ctx *ctx)
{
    return (kr_queue *)ctx->q;
}
static void host_log(const kr_plugin_ctx *ctx, const kr_req *req, kr_level level, const char *fmt, va_list ap)
{
    (void)req;
    krc_logv(level, ctx != NULL ? ctx_name(ctx) : NULL, NULL, fmt, ap);
}

static kr_host host = {
    .size = sizeof(kr_host),
    .abi_major = KR_ABI_MAJOR,
    .abi_minor = KR_ABI_MINOR,
    .errmsg = krc_err_msg,
    .ctx_name = ctx_name,
    .ctx_has_role = ctx_has_role,
    .ctx_queue = ctx_queue,
    .log = host_log,
};

static void emit(peer *p, json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    pthread_mutex_lock(&p->out);
    if (s != NULL)
        printf("%s\n", s);
    fflush(stdout);
    pthread_mutex_unlock(&p->out);
    free(s);
}

static int consume_fn(kr_job *job, void *udata)
{
    peer *p = udata;
    int attempt = kr_job_attempts_made(job);
    if (!p->quiet)
        emit(p, json_pack("{s:s, s:s, s:s, s:i}", "event", "start", "id", kr_job_id(job), "name", kr_job_name(job),
                          "attempt", attempt));
    int rc = 0;
    char reason[128];
    switch (p->mode) {
    case M_SLEEP:
        usleep((useconds_t)p->sleep_ms * 1000);
        /* fall through */
    case M_OK:
        kr_job_set_result(job, json_pack("{s:O}", "echo", kr_job_data(job)));
        break;
    case M_NOOP:
        break;
    case M_FAIL_ONCE:
        if (attempt > 0) {
            kr_job_set_result(job, json_pack("{s:O}", "echo", kr_job_data(job)));
            break;
        }
        /* fall through */
    case M_FAIL:
        snprintf(reason, sizeof(reason), "kirana failure on attempt %d", attempt + 1);
        kr_job_set_failure(job, reason);
        rc = KR_EINTERNAL;
        break;
    case M_DISCARD:
        kr_job_discard(job);
        rc = krc_err_set(KR_EINVAL, "discarded by kirana");
        break;
    }
    if (!p->quiet)
        emit(p, json_pack("{s:s, s:s, s:b}", "event", "end", "id", kr_job_id(job), "ok", rc == 0));
    atomic_fetch_add(&p->ended, 1);
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void)
{
    fprintf(stderr, "usage: queue_peer --redis URL [--prefix P] [--lock-duration MS] [--stalled-interval MS]\n"
                    "         [--max-stalled N] [--drain-delay MS]\n"
                    "         add QUEUE NAME DATA_JSON [OPTS_JSON] | add-many QUEUE N [OPTS_JSON] | counts QUEUE |\n"
                    "         consume QUEUE [--concurrency N] [--mode ok|noop|fail|fail-once|sleep:MS|discard]\n"
                    "                 [--exit-after N] [--drain-timeout MS] [--role worker|http] [--metrics]\n"
                    "                 [--quiet]\n");
    return 2;
}

static json_t *parse_json(const char *what, const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (v == NULL)
        fprintf(stderr, "queue_peer: %s is not JSON: %s\n", what, e.text);
    return v;
}

static int do_add(kr_plugin_ctx *ctx, int argc, char **argv)
{
    if (argc < 4)
        return usage();
    json_t *data = parse_json("DATA_JSON", argv[3]);
    json_t *opts = argc > 4 ? parse_json("OPTS_JSON", argv[4]) : NULL;
    if (data == NULL || (argc > 4 && opts == NULL))
        return 2;
    char *id = NULL;
    int rc = kr_queue_add(kr_ctx_queue(ctx), argv[1], argv[2], data, opts, &id);
    json_decref(data);
    json_decref(opts);
    if (rc < 0) {
        fprintf(stderr, "queue_peer: add: %s: %s\n", kr_strerror(rc), kr_errmsg(ctx));
        return 1;
    }
    printf("%s\n", id);
    free(id);
    return 0;
}

static int do_add_many(kr_plugin_ctx *ctx, int argc, char **argv)
{
    if (argc < 3)
        return usage();
    long n = strtol(argv[2], NULL, 10);
    json_t *opts = argc > 3 ? parse_json("OPTS_JSON", argv[3]) : NULL;
    if (argc > 3 && opts == NULL)
        return 2;
    long long t0 = now_ms();
    for (long i = 0; i < n; i++) {
        json_t *data = json_pack("{s:I}", "i", (json_int_t)i);
        int rc = kr_queue_add(kr_ctx_queue(ctx), argv[1], "bench", data, opts, NULL);
        json_decref(data);
        if (rc < 0) {
            fprintf(stderr, "queue_peer: add: %s: %s\n", kr_strerror(rc), kr_errmsg(ctx));
            json_decref(opts);
            return 1;
        }
    }
    json_decref(opts);
    printf("{\"added\":%ld,\"elapsed_ms\":%lld}\n", n, now_ms() - t0);
    return 0;
}

static int do_counts(krc_queue *q, int argc, char **argv)
{
    if (argc < 2)
        return usage();
    krc_queue_counts n;
    if (krc_queue_counts_get(q, argv[1], &n) < 0) {
        fprintf(stderr, "queue_peer: counts: %s\n", krc_err_msg());
        return 1;
    }
    printf("{\"waiting\":%lld,\"active\":%lld,\"delayed\":%lld,\"completed\":%lld,\"failed\":%lld}\n", n.waiting,
           n.active, n.delayed, n.completed, n.failed);
    return 0;
}

static int do_consume(kr_plugin_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return usage();
    peer p = {.mode = M_OK};
    pthread_mutex_init(&p.out, NULL);
    int concurrency = 1, exit_after = 0, drain_ms = 10000, metrics = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--metrics") == 0) {
            metrics = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            p.quiet = 1;
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--concurrency") == 0)
            concurrency = atoi(v);
        else if (strcmp(a, "--exit-after") == 0)
            exit_after = atoi(v);
        else if (strcmp(a, "--drain-timeout") == 0)
            drain_ms = atoi(v);
        else if (strcmp(a, "--role") == 0)
            ctx->role = v;
        else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "ok") == 0)
                p.mode = M_OK;
            else if (strcmp(v, "noop") == 0)
                p.mode = M_NOOP;
            else if (strcmp(v, "fail") == 0)
                p.mode = M_FAIL;
            else if (strcmp(v, "fail-once") == 0)
                p.mode = M_FAIL_ONCE;
            else if (strcmp(v, "discard") == 0)
                p.mode = M_DISCARD;
            else if (strncmp(v, "sleep:", 6) == 0) {
                p.mode = M_SLEEP;
                p.sleep_ms = atoi(v + 6);
            } else
                return usage();
        } else
            return usage();
    }
    int rc = kr_queue_consume(ctx, argv[1], concurrency, consume_fn, &p);
    if (rc < 0) {
        fprintf(stderr, "queue_peer: consume: %s: %s\n", kr_strerror(rc), kr_errmsg(ctx));
        return 1;
    }
    /* Signals go to this thread only, which polls them with the job count. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (krc_queue_start(ctx->q) < 0) {
        fprintf(stderr, "queue_peer: start: %s\n", krc_err_msg());
        return 1;
    }
    emit(&p, json_pack("{s:s}", "event", "ready"));
    long long t0 = now_ms();
    const char *why = "signal";
    struct timespec tick = {0, 20 * 1000000};
    for (;;) {
        if (exit_after > 0 && atomic_load(&p.ended) >= exit_after) {
            why = "exit-after";
            break;
        }
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    /* Elapsed includes the drain, so the last jobs' completions count. */
    krc_queue_drain(ctx->q, drain_ms);
    emit(&p, json_pack("{s:s, s:s, s:i, s:I}", "event", "exit", "why", why, "ended", atomic_load(&p.ended),
                       "elapsed_ms", (json_int_t)(now_ms() - t0)));
    if (metrics) {
        size_t len;
        char *text = krc_metrics_render(&len);
        emit(&p, json_pack("{s:s, s:s}", "event", "metrics", "text", text != NULL ? text : ""));
        free(text);
    }
    pthread_mutex_destroy(&p.out);
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *prefix = NULL;
    krc_queue_options o;
    krc_queue_options_default(&o);
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--redis") == 0)
            url = v;
        else if (strcmp(a, "--prefix") == 0)
            prefix = v;
        else if (strcmp(a, "--lock-duration") == 0)
            o.lock_duration_ms = atoi(v);
        else if (strcmp(a, "--stalled-interval") == 0)
            o.stalled_interval_ms = atoi(v);
        else if (strcmp(a, "--max-stalled") == 0)
            o.max_stalled_count = atoi(v);
        else if (strcmp(a, "--drain-delay") == 0)
            o.drain_delay_ms = atoi(v);
        else
            return usage();
    }
    if (url == NULL || i >= argc)
        return usage();
    char err[512];
    if (krc_log_open(NULL, KR_LOG_INFO, err, sizeof(err)) < 0) {
        fprintf(stderr, "queue_peer: %s\n", err);
        return 1;
    }
    krc_queue_host_fill(&host);
    krc_metrics_init(&host);
    kr_plugin_ctx ctx = {.handle = {&host}, .role = "worker"};
    ctx.q = krc_queue_open(url, prefix, &host, err, sizeof(err));
    if (ctx.q == NULL || krc_queue_configure(ctx.q, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "queue_peer: %s\n", err);
        krc_queue_close(ctx.q);
        krc_metrics_free();
        return 1;
    }
    int rc;
    char **args = argv + i;
    int nargs = argc - i;
    if (strcmp(args[0], "add") == 0)
        rc = do_add(&ctx, nargs, args);
    else if (strcmp(args[0], "add-many") == 0)
        rc = do_add_many(&ctx, nargs, args);
    else if (strcmp(args[0], "counts") == 0)
        rc = do_counts(ctx.q, nargs, args);
    else if (strcmp(args[0], "consume") == 0)
        rc = do_consume(&ctx, nargs, args);
    else
        rc = usage();
    krc_queue_close(ctx.q);
    krc_metrics_free();
    krc_log_close();
    return rc;
}
