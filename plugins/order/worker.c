/* order.so: the queue consumers (worker role).
 *
 *   order     placed → confirmed, commit every line ("reduce inventory"),
 *             enqueue `delivery`; a cancelled order only gets its stock
 *             settled (released or un-committed)
 *   delivery  notify the delivery partner: POST to the configured webhook,
 *             or a log line in development
 *
 * Delivery is at least once: a job may run again after a crash or a lost
 * lock, and the reconciler may run the same steps beside it. Every step is
 * a guarded update (the decision) or an idempotent effect, so the second
 * run changes nothing; the jobIds (order id) keep one job per order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* A lost decision race re-reads the order; more than this many in a row
 * means something keeps changing it, and the job is retried later. */
#define FINALIZE_ROUNDS 8

static int enqueue(order_state *st, const char *queue, const char *name, const char *order_id, int attempts,
                   long long backoff_ms)
{
    json_t *data = json_pack("{ss}", "order_id", order_id);
    /* Finished jobs are kept, bounded, so that a late duplicate add is
     * still a no-op and failures can be inspected; a duplicate after that
     * only re-runs idempotent steps. */
    json_t *opts =
        json_pack("{sssis{sssI}sisi}", "jobId", order_id, "attempts", attempts, "backoff", "type", "exponential",
                  "delay", (json_int_t)backoff_ms, "removeOnComplete", 100000, "removeOnFail", 100000);
    int rc = data != NULL && opts != NULL ? kr_queue_add(st->queue, queue, name, data, opts, NULL) : KR_ENOMEM;
    json_decref(data);
    json_decref(opts);
    return rc;
}

int order_enqueue_finalize(order_state *st, const char *order_id)
{
    return enqueue(st, st->cfg.order_queue, "finalize", order_id, st->cfg.order_attempts, st->cfg.order_backoff_ms);
}

static int enqueue_delivery(order_state *st, const char *order_id)
{
    return enqueue(st, st->cfg.delivery_queue, "notify", order_id, st->cfg.delivery_attempts,
                   st->cfg.delivery_backoff_ms);
}

/* Records that nothing is left for the worker, so the reconciler stops
 * looking at the order. */
static int mark_finalized(order_state *st, const char *id)
{
    char now[32];
    order_iso(order_now_ms(), now);
    json_t *filter = json_pack("{sss{sb}}", OD_ID, id, OD_FINALIZED, "$exists", 0);
    json_t *update = json_pack("{s{ss}}", "$set", OD_FINALIZED, now);
    int rc = filter != NULL && update != NULL ? kr_db_update_one(st->orders, filter, update, 0, NULL) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    return rc;
}

int order_finalize(order_state *st, const char *order_id)
{
    /* the usual case first: a placed order is decided without a read */
    json_t *doc = NULL;
    int rc = order_transition(st, order_id, OS_PLACED, OS_CONFIRMED, NULL, &doc);
    if (rc == KR_ENOTFOUND)
        rc = order_load(st, order_id, &doc);
    /* still placed: another change came and went between the two calls */
    for (int round = 0; rc == KR_OK && order_doc_status(doc) == OS_PLACED && round < FINALIZE_ROUNDS; round++) {
        json_t *after = NULL;
        rc = order_transition(st, order_id, OS_PLACED, OS_CONFIRMED, NULL, &after);
        if (rc == KR_ENOTFOUND)
            rc = order_load(st, order_id, &after);
        json_decref(doc);
        doc = after;
    }
    if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    order_status s = order_doc_status(doc);
    switch (s) {
    case OS_CANCELLED:
        /* the cancel settles its own stock; this only finishes what a
         * crashed cancel may have left */
        rc = order_settle_cancelled(st, doc);
        break;
    case OS_CONFIRMED:
    case OS_PACKED:
        rc = order_commit_all(st, doc);
        break;
    case OS_OUT_FOR_DELIVERY:
    case OS_DELIVERED:
        rc = order_ship_all(st, doc);
        break;
    default:
        rc = KR_ECONFLICT; /* still being placed, or lost every race */
        break;
    }
    json_decref(doc);
    if (rc == KR_OK && s != OS_CANCELLED)
        rc = enqueue_delivery(st, order_id);
    if (rc == KR_OK && s != OS_CANCELLED)
        rc = mark_finalized(st, order_id);
    return rc;
}

/* The order id a job names; NULL (and the job discarded) if it names none. */
static const char *job_order(kr_job *job)
{
    const char *id = json_string_value(json_object_get(kr_job_data(job), "order_id"));
    if (id != NULL && order_id_plausible(id))
        return id;
    kr_job_discard(job);
    kr_job_set_failure(job, "the job names no order (data.order_id)");
    return NULL;
}

int order_consume_order(kr_job *job, void *udata)
{
    order_state *st = udata;
    const char *id = job_order(job);
    if (id == NULL)
        return KR_EINVAL;
    int rc = order_finalize(st, id);
    if (rc == KR_ENOTFOUND) {
        kr_job_discard(job);
        kr_job_set_failure(job, "no such order");
        return rc;
    }
    if (rc == KR_ECONFLICT) {
        kr_job_set_failure(job, "the order is still being placed");
        return rc;
    }
    if (rc < 0)
        return rc;
    kr_job_set_result(job, json_pack("{ss}", "order_id", id));
    return KR_OK;
}

int order_consume_delivery(kr_job *job, void *udata)
{
    order_state *st = udata;
    const char *id = job_order(job);
    if (id == NULL)
        return KR_EINVAL;
    json_t *doc = NULL;
    int rc = order_load(st, id, &doc);
    if (rc == KR_ENOTFOUND) {
        kr_job_discard(job);
        kr_job_set_failure(job, "no such order");
        return rc;
    }
    if (rc < 0)
        return rc;
    if (order_doc_status(doc) == OS_CANCELLED) {
        json_decref(doc);
        kr_job_set_result(job, json_pack("{sssb}", "order_id", id, "notified", 0));
        return KR_OK;
    }
    json_t *msg = json_pack("{ssso}", "event", "order.confirmed", "order", order_view(doc));
    json_decref(doc);
    char *body = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (body == NULL)
        return KR_ENOMEM;
    if (st->cfg.webhook_url == NULL) {
        kr_log(st->ctx, KR_LOG_INFO, "delivery: order %s is ready for the delivery partner (no webhook_url set)", id);
        free(body);
        kr_job_set_result(job, json_pack("{sssb}", "order_id", id, "notified", 0));
        return KR_OK;
    }
    char why[160];
    order_webhook_result r =
        order_webhook_post(st->cfg.webhook_url, st->cfg.webhook_timeout_ms, id, body, why, sizeof(why));
    free(body);
    switch (r) {
    case WEBHOOK_OK:
        kr_job_set_result(job, json_pack("{sssb}", "order_id", id, "notified", 1));
        return KR_OK;
    case WEBHOOK_PERMANENT:
        kr_job_discard(job);
        kr_job_set_failure(job, why);
        return KR_EUNPROCESSABLE;
    case WEBHOOK_RETRY:
        break;
    }
    kr_job_set_failure(job, why);
    return KR_EUNAVAILABLE;
}
