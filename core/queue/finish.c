/* The end of an attempt, decided as BullMQ's Worker decides it: complete,
 * retry after a backoff (moveToDelayed) or at once (retryJob), or fail. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/obs/log.h"
#include "core/queue/internal.h"
#include "core/queue/jobopts.h"
#include "core/queue/pack.h"
#include "core/queue/script.h"
#include "core/util/err.h"

typedef enum { OUT_COMPLETED, OUT_FAILED, OUT_DELAYED, OUT_RETRY } outcome;

static double jitter_rnd(void)
{
    static __thread uint64_t s;
    if (s == 0)
        s = (uint64_t)krc_qmono_ms() ^ ((uint64_t)(uintptr_t)&s << 16) ^ 0x9e3779b97f4a7c15ULL;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

/* Earlier failures plus this one, trimmed to the job's stackTraceLimit; a
 * C consumer has no stack, so its entry is the reason itself. */
static char *stacktrace_json(const kr_job *job, const char *reason)
{
    json_t *arr = job->stacktrace != NULL ? json_loads(job->stacktrace, 0, NULL) : NULL;
    if (!json_is_array(arr)) {
        json_decref(arr);
        arr = json_array();
    }
    json_array_append_new(arr, json_string(reason));
    json_t *limit = json_object_get(job->opts, "stackTraceLimit");
    if (json_is_integer(limit)) {
        long long keep = json_integer_value(limit);
        while ((long long)json_array_size(arr) > (keep > 0 ? keep : 0))
            json_array_remove(arr, 0);
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static void pack_fields(msgpack_sbuffer *sb, const char *reason, const char *stack)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    krc_pack_cstr(&pk, "failedReason");
    krc_pack_cstr(&pk, reason);
    krc_pack_cstr(&pk, "stacktrace");
    krc_pack_cstr(&pk, stack);
}

static void pack_finish_opts(msgpack_sbuffer *sb, const kr_job *job, const json_t *keep)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    krc_pack_cstr(&pk, "token");
    krc_pack_cstr(&pk, job->token);
    krc_pack_cstr(&pk, "keepJobs");
    krc_pack_json(&pk, keep);
    krc_pack_cstr(&pk, "lockDuration");
    msgpack_pack_int64(&pk, job->c->q->opts.lock_duration_ms);
    krc_pack_cstr(&pk, "attempts");
    msgpack_pack_int64(&pk, krc_jobopts_int(job->opts, "attempts", 0));
    krc_pack_cstr(&pk, "maxMetricsSize");
    krc_pack_cstr(&pk, "");
    static const char *const flags[] = {"fpof", "cpof", "idof", "rdof"};
    for (int i = 0; i < 4; i++) {
        krc_pack_cstr(&pk, flags[i]);
        msgpack_pack_false(&pk);
    }
}

static void key_args_finished(krc_qargs *a, const krc_qkeys *k, int completed, const char *jobkey,
                              const char *metricskey)
{
    const char *keys[] = {k->wait,
                          k->active,
                          k->prioritized,
                          k->events,
                          k->stalled,
                          k->limiter,
                          k->delayed,
                          k->paused,
                          k->meta,
                          k->pc,
                          completed ? k->completed : k->failed};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        krc_qargs_str(a, keys[i]);
    krc_qargs_str(a, jobkey);
    krc_qargs_str(a, metricskey);
    krc_qargs_str(a, k->marker);
}

/* Builds the call for the outcome; the argument buffers are owned by a. */
static void build(krc_qargs *a, kr_job *job, outcome out, const char *reason, long long delay, int fetch_next,
                  char *jobkey, char *metricskey)
{
    krc_consumer *c = job->c;
    const krc_qkeys *k = &c->keys;
    int64_t now = krc_qnow_ms();
    msgpack_sbuffer fields;
    msgpack_sbuffer_init(&fields);
    if (out != OUT_COMPLETED) {
        char *stack = stacktrace_json(job, reason);
        pack_fields(&fields, reason, stack != NULL ? stack : "[]");
        free(stack);
    }
    if (out == OUT_COMPLETED || out == OUT_FAILED) {
        int completed = out == OUT_COMPLETED;
        snprintf(metricskey, KRC_QKEY_MAX + 32, "%smetrics:%s", k->base, completed ? "completed" : "failed");
        key_args_finished(a, k, completed, jobkey, metricskey);
        krc_qargs_str(a, job->id);
        krc_qargs_int(a, now);
        krc_qargs_str(a, completed ? "returnvalue" : "failedReason");
        if (completed) {
            char *v = json_dumps(job->result != NULL ? job->result : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
            krc_qargs_own(a, v, v != NULL ? strlen(v) : 0);
        } else {
            krc_qargs_str(a, reason);
        }
        krc_qargs_str(a, completed ? "completed" : "failed");
        krc_qargs_str(a, fetch_next ? "1" : "0");
        krc_qargs_str(a, k->base);
        json_t *keep = krc_jobopts_keep(json_object_get(job->opts, completed ? "removeOnComplete" : "removeOnFail"));
        msgpack_sbuffer o;
        msgpack_sbuffer_init(&o);
        pack_finish_opts(&o, job, keep);
        json_decref(keep);
        krc_qargs_own(a, o.data, o.size);
    } else if (out == OUT_DELAYED) {
        const char *keys[] = {k->marker, k->active,  k->prioritized, k->delayed, jobkey, k->events,
                              k->meta,   k->stalled, k->wait,        k->limiter, k->pc};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            krc_qargs_str(a, keys[i]);
        krc_qargs_str(a, k->base);
        krc_qargs_int(a, now);
        krc_qargs_str(a, job->id);
        krc_qargs_str(a, job->token);
        krc_qargs_int(a, delay);
        krc_qargs_str(a, "0");
    } else {
        const char *keys[] = {k->active,  k->wait,        k->paused, jobkey,    k->meta,   k->events,
                              k->delayed, k->prioritized, k->pc,     k->marker, k->stalled};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            krc_qargs_str(a, keys[i]);
        krc_qargs_str(a, k->base);
        krc_qargs_int(a, now);
        krc_qargs_str(a, json_is_true(json_object_get(job->opts, "lifo")) ? "RPUSH" : "LPUSH");
        krc_qargs_str(a, job->id);
        krc_qargs_str(a, job->token);
    }
    if (out == OUT_COMPLETED)
        krc_qargs_str(a, "");
    else
        krc_qargs_own(a, fields.data, fields.size);
    if (out == OUT_DELAYED) {
        krc_qargs_str(a, "0");
        krc_qargs_str(a, "");
    }
    if (out == OUT_COMPLETED)
        msgpack_sbuffer_destroy(&fields);
}

static const char *const outcome_name[] = {"complete", "fail", "delay", "retry"};
static const krc_script_id outcome_script[] = {KRC_S_MOVE_TO_FINISHED, KRC_S_MOVE_TO_FINISHED, KRC_S_MOVE_TO_DELAYED,
                                               KRC_S_RETRY_JOB};

/* Sends the call, retrying a lost connection a few times: the job's lock is
 * still renewed meanwhile, and giving up only means a stalled check will
 * hand the job out again. */
static int send_call(krc_consumer *c, outcome out, const krc_qargs *a, redisReply **r)
{
    int rc = KR_EUNAVAILABLE;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (attempt > 0)
            usleep((useconds_t)(100000 << (attempt - 1)));
        redisContext *conn = krc_qpool_get(&c->q->pool);
        if (conn == NULL)
            continue;
        rc = krc_script_call(conn, outcome_script[out], a, r);
        krc_qpool_put(&c->q->pool, conn);
        if (rc != KR_EUNAVAILABLE)
            break;
    }
    return rc;
}

int krc_job_finish(kr_job *job, int rc, double duration_s, int fetch_next, kr_job **next)
{
    krc_consumer *c = job->c;
    *next = NULL;
    outcome out = OUT_COMPLETED;
    long long delay = 0;
    const char *reason = NULL;
    if (rc < 0 || job->defa != NULL) {
        reason = job->defa != NULL ? job->defa : job->failure != NULL ? job->failure : "failed";
        out = OUT_FAILED;
        long long attempts = krc_jobopts_int(job->opts, "attempts", 0);
        if (job->defa == NULL && !job->discard && job->attempts_made + 1 < attempts) {
            delay = krc_jobopts_backoff_ms(json_object_get(job->opts, "backoff"), job->attempts_made + 1, jitter_rnd());
            if (delay < 0)
                krc_log(KR_LOG_WARN, krc_consumer_plugin(c), NULL,
                        "queue %s: job %s has a backoff kirana does not know; failing it without retry", c->queue,
                        job->id);
            else
                out = delay > 0 ? OUT_DELAYED : OUT_RETRY;
        }
    }
    if (c->m != NULL && job->defa == NULL && !atomic_load(&c->q->detached))
        krc_histogram_observe(c->m->duration, duration_s);

    char jobkey[KRC_QKEY_MAX + 256], metricskey[KRC_QKEY_MAX + 32];
    snprintf(jobkey, sizeof(jobkey), "%s%s", c->keys.base, job->id);
    krc_qargs a;
    krc_qargs_init(&a);
    int fetch = fetch_next && (out == OUT_COMPLETED || out == OUT_FAILED);
    build(&a, job, out, reason, delay, fetch, jobkey, metricskey);
    redisReply *r = NULL;
    rc = send_call(c, out, &a, &r);
    krc_qargs_free(&a);
    if (rc < 0) {
        krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: could not %s job %s: %s", c->queue,
                outcome_name[out], job->id, krc_err_msg());
        return rc;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer < 0) {
        rc = krc_err_set(KR_ECONFLICT, "queue %s: could not %s job %s: %s (code %lld)", c->queue, outcome_name[out],
                         job->id,
                         r->integer == -2 || r->integer == -6 ? "its lock was lost, another worker may run it"
                                                              : "it is no longer active",
                         r->integer);
        krc_log(KR_LOG_WARN, krc_consumer_plugin(c), NULL, "%s", krc_err_msg());
        freeReplyObject(r);
        return rc;
    }
    if (c->m != NULL && !atomic_load(&c->q->detached))
        krc_counter_add(out == OUT_COMPLETED ? c->m->completed : out == OUT_FAILED ? c->m->failed : c->m->retried, 1);
    if (fetch && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        *next = krc_job_parse(c, r->element[0], r->element[1]->str, job->token);
        if (*next == NULL)
            krc_log(KR_LOG_ERROR, krc_consumer_plugin(c), NULL, "queue %s: out of memory taking job %s", c->queue,
                    r->element[1]->str);
    }
    freeReplyObject(r);
    return 0;
}
