/* Producers: kr_queue_add, as Node BullMQ's Queue.add writes a job. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "core/queue/internal.h"
#include "core/queue/jobopts.h"
#include "core/queue/pack.h"
#include "core/queue/script.h"
#include "core/util/err.h"
#include "core/util/thread.h"

/* The packed argument list every add script unpacks first: key prefix,
 * custom id, name, timestamp, then parent, repeat and deduplication slots
 * that kirana's jobs leave empty. */
static void pack_args(msgpack_sbuffer *sb, const krc_qkeys *k, const char *id, const char *name, int64_t ts)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 10);
    krc_pack_cstr(&pk, k->base);
    krc_pack_cstr(&pk, id != NULL ? id : "");
    krc_pack_cstr(&pk, name);
    msgpack_pack_int64(&pk, ts);
    for (int i = 0; i < 6; i++)
        msgpack_pack_nil(&pk);
}

static void add_keys(krc_qargs *a, krc_script_id script, const krc_qkeys *k)
{
    switch (script) {
    case KRC_S_ADD_DELAYED:
        krc_qargs_str(a, k->marker);
        krc_qargs_str(a, k->meta);
        krc_qargs_str(a, k->id);
        krc_qargs_str(a, k->delayed);
        krc_qargs_str(a, k->completed);
        krc_qargs_str(a, k->events);
        break;
    case KRC_S_ADD_PRIORITIZED:
        krc_qargs_str(a, k->marker);
        krc_qargs_str(a, k->meta);
        krc_qargs_str(a, k->id);
        krc_qargs_str(a, k->prioritized);
        krc_qargs_str(a, k->delayed);
        krc_qargs_str(a, k->completed);
        krc_qargs_str(a, k->active);
        krc_qargs_str(a, k->events);
        krc_qargs_str(a, k->pc);
        break;
    default:
        krc_qargs_str(a, k->wait);
        krc_qargs_str(a, k->paused);
        krc_qargs_str(a, k->meta);
        krc_qargs_str(a, k->id);
        krc_qargs_str(a, k->completed);
        krc_qargs_str(a, k->delayed);
        krc_qargs_str(a, k->active);
        krc_qargs_str(a, k->events);
        krc_qargs_str(a, k->marker);
        break;
    }
}

static int reply_id(const redisReply *r, char **id_out)
{
    char buf[32];
    const char *id;
    if (r->type == REDIS_REPLY_STRING) {
        id = r->str;
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        snprintf(buf, sizeof(buf), "%lld", r->integer);
        id = buf;
    } else if (r->type == REDIS_REPLY_INTEGER) {
        return krc_err_set(KR_EINTERNAL, "queue add: the script refused the job (code %lld)", r->integer);
    } else {
        return krc_err_set(KR_EINTERNAL, "queue add: unexpected reply type %d", r->type);
    }
    if (id_out != NULL && (*id_out = strdup(id)) == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    return 0;
}

int krc_queue_add_job(kr_queue *handle, const char *queue, const char *name, const json_t *data, const json_t *opts,
                      char **id_out)
{
    KRC_ASSERT_MAY_BLOCK();
    krc_queue *q = (krc_queue *)handle;
    if (id_out != NULL)
        *id_out = NULL;
    if (q == NULL)
        return krc_err_set(KR_EUNAVAILABLE, "no queue is configured");
    if (queue == NULL || !krc_qname_valid(queue))
        return krc_err_set(KR_EINVAL, "queue name \"%s\" is not valid ([A-Za-z0-9_.-], 1 to %d characters)",
                           queue != NULL ? queue : "", KRC_QUEUE_NAME_MAX - 1);
    if (name == NULL)
        return krc_err_set(KR_EINVAL, "job name is missing");
    if (data != NULL && !json_is_object(data))
        return krc_err_set(KR_EINVAL, "job data must be a JSON object");
    json_t *stored;
    int rc = krc_jobopts_normalize(opts, &stored);
    if (rc < 0)
        return rc;

    krc_qkeys k;
    krc_qkeys_init(&k, q->prefix, queue);
    /* Queue.add's choice of script: delay first, then priority. */
    krc_script_id script = KRC_S_ADD_STANDARD;
    if (krc_jobopts_int(stored, "delay", 0) > 0)
        script = KRC_S_ADD_DELAYED;
    else if (krc_jobopts_int(stored, "priority", 0) > 0)
        script = KRC_S_ADD_PRIORITIZED;

    msgpack_sbuffer args, packed_opts;
    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&packed_opts);
    pack_args(&args, &k, json_string_value(json_object_get(stored, "jobId")), name, krc_qnow_ms());
    msgpack_packer pk;
    msgpack_packer_init(&pk, &packed_opts, msgpack_sbuffer_write);
    krc_pack_json(&pk, stored);
    json_decref(stored);
    char *datastr = data != NULL ? json_dumps(data, JSON_COMPACT) : strdup("{}");

    krc_qargs a;
    krc_qargs_init(&a);
    add_keys(&a, script, &k);
    krc_qargs_own(&a, args.data, args.size);
    if (datastr != NULL)
        krc_qargs_own(&a, datastr, strlen(datastr));
    krc_qargs_own(&a, packed_opts.data, packed_opts.size);
    if (datastr == NULL || args.data == NULL || packed_opts.data == NULL) {
        krc_qargs_free(&a);
        return krc_err_set(KR_ENOMEM, "out of memory");
    }

    redisContext *c = krc_qpool_get(&q->pool);
    if (c == NULL) {
        krc_qargs_free(&a);
        return KR_EUNAVAILABLE;
    }
    redisReply *r;
    rc = krc_script_call(c, script, &a, &r);
    krc_qpool_put(&q->pool, c);
    krc_qargs_free(&a);
    if (rc < 0)
        return rc;
    rc = reply_id(r, id_out);
    freeReplyObject(r);
    if (rc == 0)
        krc_qmetrics_get(q, queue);
    return rc;
}
