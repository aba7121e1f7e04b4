/* Fake host: the job queue behind kr_queue. Jobs are kept in memory with
 * BullMQ's options and states; the test runs them through the plugin's
 * consumer on its own thread (kr_fakehost_run_jobs, kr_fakehost_drain). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum jstate { J_WAITING, J_ACTIVE, J_COMPLETED, J_FAILED } jstate;

typedef struct fjob {
    char *queue, *id, *name;
    json_t *data, *opts;
    int attempts;
    int attempts_made;
    int64_t ready_at; /* fake-clock ms */
    int64_t backoff_delay;
    int backoff_exponential;
    json_int_t priority;
    json_t *remove_on_complete, *remove_on_fail; /* NULL: keep */
    uint64_t seq;
    jstate state;
    json_t *result;
    char *failed_reason;
} fjob;

struct kr_job {
    kr_handle h;
    fjob *j;
    kr_plugin_ctx *ctx;
    json_t *result;
    char *failure;
    int discarded;
};

typedef struct consumer {
    char *queue;
    kr_plugin_ctx *ctx;
    kr_job_fn fn;
    void *udata;
} consumer;

struct kr_queue {
    kr_handle h;
    kr_fakehost *fh;
    pthread_mutex_t mu;
    fjob **jobs; /* oldest first */
    size_t n, cap;
    consumer *cons;
    size_t ncons, capcons;
    json_t *counters; /* {queue: last generated id} as BullMQ's id key */
    uint64_t seq;
    int fail_err, fail_times;
};

kr_queue *krf_queue_new(kr_fakehost *fh)
{
    kr_queue *q = krf_xcalloc(1, sizeof(*q));
    q->h.host = &krf_host;
    q->fh = fh;
    q->counters = json_object();
    pthread_mutex_init(&q->mu, NULL);
    return q;
}

static void free_job(fjob *j)
{
    free(j->queue);
    free(j->id);
    free(j->name);
    json_decref(j->data);
    json_decref(j->opts);
    json_decref(j->remove_on_complete);
    json_decref(j->remove_on_fail);
    json_decref(j->result);
    free(j->failed_reason);
    free(j);
}

void krf_queue_free(kr_queue *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->n; i++)
        free_job(q->jobs[i]);
    free(q->jobs);
    for (size_t i = 0; i < q->ncons; i++)
        free(q->cons[i].queue);
    free(q->cons);
    json_decref(q->counters);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void krf_queue_fail(kr_queue *q, int err, int times)
{
    pthread_mutex_lock(&q->mu);
    q->fail_err = err;
    q->fail_times = times;
    pthread_mutex_unlock(&q->mu);
}

void krf_queue_drop_consumers(kr_queue *q, const kr_plugin_ctx *ctx)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->ncons;) {
        if (q->cons[i].ctx == ctx) {
            free(q->cons[i].queue);
            q->cons[i] = q->cons[--q->ncons];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&q->mu);
}

static int nonneg_int(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* Checks opts and fills the job's options from them. */
static int read_opts(fjob *j, const json_t *opts)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)opts, k, v)
    {
        if (strcmp(k, "jobId") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return krf_fail(KR_EINVAL, "jobId must be a non-empty string");
            const char *s = json_string_value(v);
            if (strspn(s, "0123456789") == strlen(s))
                return krf_fail(KR_EINVAL, "jobId cannot be an integer (BullMQ reserves those)");
        } else if (strcmp(k, "attempts") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1)
                return krf_fail(KR_EINVAL, "attempts must be an integer >= 1");
            j->attempts = (int)json_integer_value(v);
        } else if (strcmp(k, "backoff") == 0) {
            if (nonneg_int(v)) {
                j->backoff_delay = json_integer_value(v);
                continue;
            }
            const json_t *type = json_object_get(v, "type"), *delay = json_object_get(v, "delay");
            const char *bk;
            const json_t *bv;
            json_object_foreach((json_t *)v, bk, bv)
            {
                if (strcmp(bk, "type") != 0 && strcmp(bk, "delay") != 0)
                    return krf_fail(KR_EINVAL, "unknown backoff option '%s'", bk);
            }
            if (!json_is_object(v) || !json_is_string(type) || (delay != NULL && !nonneg_int(delay)) ||
                (strcmp(json_string_value(type), "fixed") != 0 && strcmp(json_string_value(type), "exponential") != 0))
                return krf_fail(KR_EINVAL, "backoff must be a delay or {type: fixed|exponential, delay}");
            j->backoff_delay = delay != NULL ? json_integer_value(delay) : 0;
            j->backoff_exponential = strcmp(json_string_value(type), "exponential") == 0;
        } else if (strcmp(k, "delay") == 0) {
            if (!nonneg_int(v))
                return krf_fail(KR_EINVAL, "delay must be an integer >= 0");
            j->ready_at += json_integer_value(v);
        } else if (strcmp(k, "priority") == 0) {
            if (!nonneg_int(v) || json_integer_value(v) > 2097152)
                return krf_fail(KR_EINVAL, "priority must be an integer in 0..2097152");
            j->priority = json_integer_value(v);
        } else if (strcmp(k, "removeOnComplete") == 0 || strcmp(k, "removeOnFail") == 0) {
            if (!json_is_boolean(v) && !nonneg_int(v))
                return krf_fail(KR_EINVAL, "%s must be a boolean or a count", k);
            json_t **slot = strcmp(k, "removeOnComplete") == 0 ? &j->remove_on_complete : &j->remove_on_fail;
            *slot = json_incref((json_t *)v);
        } else {
            return krf_fail(KR_EINVAL, "unknown job option '%s'", k);
        }
    }
    return 0;
}

static fjob *find_job(kr_queue *q, const char *queue, const char *id)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->jobs[i]->queue, queue) == 0 && strcmp(q->jobs[i]->id, id) == 0)
            return q->jobs[i];
    return NULL;
}

int krf_queue_add(kr_queue *q, const char *queue, const char *name, const json_t *data, const json_t *opts,
                  char **id_out)
{
    if (id_out != NULL)
        *id_out = NULL;
    if (queue == NULL || queue[0] == '\0' || name == NULL || name[0] == '\0')
        return krf_fail(KR_EINVAL, "a job needs a queue and a name");
    if (data != NULL && !json_is_object(data))
        return krf_fail(KR_EINVAL, "job data must be a JSON object");
    if (opts != NULL && !json_is_object(opts))
        return krf_fail(KR_EINVAL, "job options must be a JSON object");
    fjob *j = krf_xcalloc(1, sizeof(*j));
    j->attempts = 1;
    j->ready_at = krf_now_ms(q->fh);
    int rc = read_opts(j, opts);
    if (rc == 0) {
        int f = krf_take_fault(&q->mu, &q->fail_err, &q->fail_times);
        if (f != 0)
            rc = krf_fail(f, "fake host: injected queue failure (%s)", kr_strerror(f));
    }
    if (rc != 0) {
        free_job(j);
        return rc;
    }
    pthread_mutex_lock(&q->mu);
    const json_t *given = json_object_get(opts, "jobId");
    fjob *old = given != NULL ? find_job(q, queue, json_string_value(given)) : NULL;
    if (old != NULL) {
        /* BullMQ: adding an existing jobId is a no-op. */
        if (id_out != NULL)
            *id_out = krf_xstrdup(old->id);
        pthread_mutex_unlock(&q->mu);
        free_job(j);
        return 0;
    }
    if (given != NULL) {
        j->id = krf_xstrdup(json_string_value(given));
    } else {
        json_int_t next = json_integer_value(json_object_get(q->counters, queue)) + 1;
        json_object_set_new(q->counters, queue, json_integer(next));
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)next);
        j->id = krf_xstrdup(buf);
    }
    j->queue = krf_xstrdup(queue);
    j->name = krf_xstrdup(name);
    j->data = data != NULL ? json_deep_copy(data) : json_object();
    j->opts = opts != NULL ? json_deep_copy(opts) : json_object();
    j->seq = ++q->seq;
    krf_grow(&q->jobs, &q->cap, q->n, sizeof(*q->jobs));
    q->jobs[q->n++] = j;
    if (id_out != NULL)
        *id_out = krf_xstrdup(j->id);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int krf_queue_consume(kr_plugin_ctx *ctx, const char *queue, int concurrency, kr_job_fn fn, void *udata)
{
    if (queue == NULL || queue[0] == '\0' || fn == NULL || concurrency < 1)
        return krf_fail(KR_EINVAL, "a consumer needs a queue, a function and concurrency >= 1");
    if (!krf_has_role(ctx->fh, "worker"))
        return 0; /* recorded and ignored, as in a process without the worker role */
    kr_queue *q = ctx->fh->queue;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->ncons; i++) {
        if (strcmp(q->cons[i].queue, queue) == 0) {
            pthread_mutex_unlock(&q->mu);
            return krf_fail(KR_EINVAL, "queue '%s' already has a consumer", queue);
        }
    }
    krf_grow(&q->cons, &q->capcons, q->ncons, sizeof(*q->cons));
    q->cons[q->ncons++] = (consumer){krf_xstrdup(queue), ctx, fn, udata};
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static const consumer *consumer_of(const kr_queue *q, const char *queue)
{
    for (size_t i = 0; i < q->ncons; i++)
        if (strcmp(q->cons[i].queue, queue) == 0)
            return &q->cons[i];
    return NULL;
}

/* removeOnComplete / removeOnFail: true drops the job, a count keeps that
 * many finished jobs of the queue in that state. */
static void apply_removal(kr_queue *q, fjob *j)
{
    const json_t *rule = j->state == J_COMPLETED ? j->remove_on_complete : j->remove_on_fail;
    if (rule == NULL || json_is_false(rule))
        return;
    json_int_t keep = json_is_true(rule) ? 0 : json_integer_value(rule);
    jstate state = j->state;
    char *queue = krf_xstrdup(j->queue); /* j itself may go */
    json_int_t seen = 0;
    for (size_t i = q->n; i-- > 0;) {
        fjob *o = q->jobs[i];
        if (strcmp(o->queue, queue) != 0 || o->state != state || ++seen <= keep)
            continue;
        free_job(o);
        memmove(&q->jobs[i], &q->jobs[i + 1], (q->n - i - 1) * sizeof(*q->jobs));
        q->n--;
    }
    free(queue);
}

static int64_t backoff(const fjob *j)
{
    if (!j->backoff_exponential)
        return j->backoff_delay;
    int shift = j->attempts_made - 1 < 40 ? j->attempts_made - 1 : 40;
    return j->backoff_delay << shift;
}

static void run_one(kr_queue *q, fjob *j, const consumer c)
{
    kr_job kj = {{&krf_host}, j, c.ctx, NULL, NULL, 0};
    krf_clear_error();
    int rc = c.fn(&kj, c.udata);
    pthread_mutex_lock(&q->mu);
    j->attempts_made++;
    if (rc == 0) {
        j->state = J_COMPLETED;
        json_decref(j->result);
        j->result = kj.result != NULL ? kj.result : json_null();
        free(j->failed_reason);
        j->failed_reason = NULL;
    } else {
        char why[512];
        if (kj.failure != NULL)
            snprintf(why, sizeof(why), "%s", kj.failure);
        else if (krf_errmsg()[0] != '\0')
            snprintf(why, sizeof(why), "%s", krf_errmsg());
        else
            snprintf(why, sizeof(why), "%s", kr_strerror(rc));
        free(j->failed_reason);
        j->failed_reason = krf_xstrdup(why);
        json_decref(kj.result);
        int retry = !kj.discarded && j->attempts_made < j->attempts;
        j->state = retry ? J_WAITING : J_FAILED;
        if (retry)
            j->ready_at = krf_now_ms(q->fh) + backoff(j);
        krf_log_host(q->fh, NULL, KR_LOG_WARN, "job %s/%s attempt %d failed%s: %s", j->queue, j->id, j->attempts_made,
                     retry ? " (will retry)" : "", why);
    }
    free(kj.failure);
    if (j->state != J_WAITING)
        apply_removal(q, j);
    pthread_mutex_unlock(&q->mu);
}

static int in_scope(const fjob *j, const char *queue)
{
    return queue == NULL || strcmp(j->queue, queue) == 0;
}

static int due_order(const void *a, const void *b)
{
    const fjob *x = *(const fjob *const *)a, *y = *(const fjob *const *)b;
    if ((x->priority != 0) != (y->priority != 0))
        return x->priority != 0 ? 1 : -1;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int kr_fakehost_run_jobs(kr_fakehost *fh, const char *queue)
{
    kr_queue *q = fh->queue;
    pthread_mutex_lock(&q->mu);
    if (queue != NULL && consumer_of(q, queue) == NULL) {
        pthread_mutex_unlock(&q->mu);
        return krf_fail(KR_ENOTFOUND, "no consumer for queue '%s'", queue);
    }
    int64_t now = krf_now_ms(fh);
    fjob **due = krf_xcalloc(q->n, sizeof(*due));
    consumer *cons = krf_xcalloc(q->n, sizeof(*cons));
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++) {
        fjob *j = q->jobs[i];
        if (j->state == J_WAITING && j->ready_at <= now && in_scope(j, queue) && consumer_of(q, j->queue) != NULL) {
            j->state = J_ACTIVE;
            due[n++] = j;
        }
    }
    qsort(due, n, sizeof(*due), due_order);
    for (size_t i = 0; i < n; i++)
        cons[i] = *consumer_of(q, due[i]->queue);
    pthread_mutex_unlock(&q->mu);
    /* The lock is not held while a consumer runs: it adds jobs and uses the
     * DB like any plugin code. Jobs are freed only by apply_removal of
     * themselves, so each due[i] lives until its own run ends. */
    for (size_t i = 0; i < n; i++)
        run_one(q, due[i], cons[i]);
    free(due);
    free(cons);
    return (int)n;
}

int kr_fakehost_drain(kr_fakehost *fh, const char *queue)
{
    kr_queue *q = fh->queue;
    int total = 0;
    while (total < 10000) {
        int ran = kr_fakehost_run_jobs(fh, queue);
        if (ran < 0)
            return ran;
        total += ran;
        if (ran > 0)
            continue;
        int64_t next = INT64_MAX;
        pthread_mutex_lock(&q->mu);
        for (size_t i = 0; i < q->n; i++) {
            const fjob *j = q->jobs[i];
            if (j->state == J_WAITING && in_scope(j, queue) && consumer_of(q, j->queue) != NULL && j->ready_at < next)
                next = j->ready_at;
        }
        pthread_mutex_unlock(&q->mu);
        int64_t now = krf_now_ms(fh);
        if (next == INT64_MAX || next <= now)
            break;
        kr_fakehost_advance(fh, next - now);
    }
    return total;
}

size_t kr_fakehost_jobs(kr_fakehost *fh, const char *queue)
{
    kr_queue *q = fh->queue;
    size_t n = 0;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->n; i++)
        n += q->jobs[i]->state == J_WAITING && in_scope(q->jobs[i], queue);
    pthread_mutex_unlock(&q->mu);
    return n;
}

static json_t *job_json(const kr_queue *q, const fjob *j)
{
    static const char *const states[] = {"waiting", "active", "completed", "failed"};
    const char *state = states[j->state];
    if (j->state == J_WAITING && j->ready_at > krf_now_ms(q->fh))
        state = "delayed";
    return json_pack("{ss ss ss sO sO ss si sO ss?}", "id", j->id, "name", j->name, "queue", j->queue, "data", j->data,
                     "opts", j->opts, "state", state, "attempts_made", j->attempts_made, "result",
                     j->result != NULL ? j->result : json_null(), "failed_reason", j->failed_reason);
}

json_t *kr_fakehost_job(kr_fakehost *fh, const char *queue, const char *id)
{
    kr_queue *q = fh->queue;
    pthread_mutex_lock(&q->mu);
    const fjob *j = find_job(q, queue, id);
    json_t *out = j != NULL ? job_json(q, j) : NULL;
    pthread_mutex_unlock(&q->mu);
    return out;
}

json_t *kr_fakehost_job_list(kr_fakehost *fh, const char *queue)
{
    kr_queue *q = fh->queue;
    json_t *out = json_array();
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->n; i++)
        if (in_scope(q->jobs[i], queue))
            json_array_append_new(out, job_json(q, q->jobs[i]));
    pthread_mutex_unlock(&q->mu);
    return out;
}

const char *krf_job_id(const kr_job *job)
{
    return job->j->id;
}

const char *krf_job_name(const kr_job *job)
{
    return job->j->name;
}

const char *krf_job_queue(const kr_job *job)
{
    return job->j->queue;
}

const json_t *krf_job_data(const kr_job *job)
{
    return job->j->data;
}

int krf_job_attempts_made(const kr_job *job)
{
    return job->j->attempts_made;
}

kr_plugin_ctx *krf_job_ctx(const kr_job *job)
{
    return job->ctx;
}

void krf_job_set_result(kr_job *job, json_t *result)
{
    json_decref(job->result);
    job->result = result;
}

void krf_job_set_failure(kr_job *job, const char *reason)
{
    free(job->failure);
    job->failure = reason != NULL ? krf_xstrdup(reason) : NULL;
}

void krf_job_discard(kr_job *job)
{
    job->discarded = 1;
}

int krf_job_stopping(const kr_job *job)
{
    (void)job;
    return 0; /* the fake host never shuts down while a job runs */
}
