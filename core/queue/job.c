/* kr_job: a fetched job as the consumer's function sees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/queue/internal.h"

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

kr_job *krc_job_parse(krc_consumer *c, const redisReply *fields, const char *id, const char *token)
{
    kr_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return NULL;
    job->handle.host = c->q->handle.host;
    job->c = c;
    job->id = strdup(id);
    snprintf(job->token, sizeof(job->token), "%s", token);
    const char *data = "{}", *opts = NULL, *atm = NULL, *legacy_atm = NULL;
    size_t datalen = 2;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "name") == 0) {
            job->name = dup_n(v->str, v->len);
        } else if (strcmp(k->str, "data") == 0) {
            data = v->str;
            datalen = v->len;
        } else if (strcmp(k->str, "opts") == 0) {
            opts = v->str;
        } else if (strcmp(k->str, "atm") == 0) {
            atm = v->str;
        } else if (strcmp(k->str, "attemptsMade") == 0) {
            legacy_atm = v->str;
        } else if (strcmp(k->str, "defa") == 0) {
            job->defa = dup_n(v->str, v->len);
        } else if (strcmp(k->str, "stacktrace") == 0) {
            job->stacktrace = dup_n(v->str, v->len);
        }
    }
    /* Node reads attemptsMade || atm: the long name is what older versions wrote. */
    const char *made = legacy_atm != NULL ? legacy_atm : atm;
    job->attempts_made = made != NULL ? atoi(made) : 0;
    job->data = json_loadb(data, datalen, JSON_DECODE_ANY, NULL);
    if (job->data == NULL && job->defa == NULL)
        job->defa = strdup("job data is not valid JSON");
    job->opts = opts != NULL ? json_loads(opts, 0, NULL) : NULL;
    if (!json_is_object(job->opts)) {
        json_decref(job->opts);
        job->opts = json_object();
    }
    if (job->name == NULL)
        job->name = strdup("");
    job->renewed_ms = krc_qmono_ms();
    if (job->id == NULL || job->name == NULL || job->opts == NULL) {
        krc_job_free(job);
        return NULL;
    }
    return job;
}

void krc_job_free(kr_job *job)
{
    if (job == NULL)
        return;
    free(job->id);
    free(job->name);
    json_decref(job->data);
    json_decref(job->opts);
    free(job->defa);
    free(job->stacktrace);
    json_decref(job->result);
    free(job->failure);
    free(job);
}

static const char *job_id(const kr_job *job)
{
    return job->id;
}
static const char *job_name(const kr_job *job)
{
    return job->name;
}
static const char *job_queue(const kr_job *job)
{
    return job->c->queue;
}
static const json_t *job_data(const kr_job *job)
{
    return job->data;
}
static int job_attempts_made(const kr_job *job)
{
    return job->attempts_made;
}
static kr_plugin_ctx *job_ctx(const kr_job *job)
{
    return job->c->ctx;
}

static void job_set_result(kr_job *job, json_t *result)
{
    json_decref(job->result);
    job->result = result;
}

static void job_set_failure(kr_job *job, const char *reason)
{
    free(job->failure);
    job->failure = reason != NULL ? strdup(reason) : NULL;
}

static void job_discard(kr_job *job)
{
    job->discard = 1;
}

static int job_stopping(const kr_job *job)
{
    return atomic_load(&job->c->q->stopping);
}

void krc_job_host_fill(kr_host *h)
{
    h->job_id = job_id;
    h->job_name = job_name;
    h->job_queue = job_queue;
    h->job_data = job_data;
    h->job_attempts_made = job_attempts_made;
    h->job_ctx = job_ctx;
    h->job_set_result = job_set_result;
    h->job_set_failure = job_set_failure;
    h->job_discard = job_discard;
    h->job_stopping = job_stopping;
}
