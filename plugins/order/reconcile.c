/* order.so: the reconciler (a timer thread in processes with the worker
 * role).
 *
 * Requests and jobs do their own work; the reconciler finishes what a
 * process that died, or a dependency that failed, left half done. Each pass:
 *
 *   1. orders `pending` longer than pending_timeout_ms (their placement
 *      died): decide pending → cancelled (placement_timeout), release;
 *   2. orders placed/confirmed/packed whose worker part is unfinished after
 *      stuck_after_ms (the job was lost, or failed for good): finalize;
 *   3. products that still hold or commit stock for an order whose status
 *      says otherwise: run the missing effect (a cancelled order's hold is
 *      released and its commit undone; a confirmed order's hold committed;
 *      a shipped order's hold or commit shipped);
 *   4. Idempotency-Key records past their lifetime are deleted.
 *
 * Everything it runs is a guarded decision or an idempotent effect, so it
 * may race the request or job doing the same thing, and several worker
 * processes may run it at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "order.h"

/* Work per pass is bounded; what is left waits for the next pass. */
#define ORDERS_PER_PASS 200
#define PRODUCT_PAGE 200
#define PRODUCT_PAGES 50

struct order_reconciler {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    order_state *st;
};

static int find_orders(order_state *st, json_t *filter, json_t **docs)
{
    json_t *sort = json_pack("{si}", OD_UPDATED, 1);
    int rc = filter != NULL && sort != NULL ? kr_db_find(st->orders, filter, sort, NULL, 0, ORDERS_PER_PASS, docs)
                                            : KR_ENOMEM;
    json_decref(filter);
    json_decref(sort);
    return rc;
}

static int abandon_pending(order_state *st, int *repairs)
{
    char cutoff[32];
    order_iso(order_now_ms() - st->cfg.pending_timeout_ms, cutoff);
    json_t *docs;
    int rc = find_orders(st, json_pack("{sss{ss}}", OD_STATUS, "pending", OD_CREATED, "$lt", cutoff), &docs);
    if (rc < 0)
        return rc;
    json_t *set = json_pack("{ss}", OD_CANCEL_REASON, "placement_timeout");
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *id = json_string_value(json_object_get(d, OD_ID));
        json_t *after = NULL;
        int r = set != NULL ? order_transition(st, id, OS_PENDING, OS_CANCELLED, set, &after) : KR_ENOMEM;
        if (r == KR_OK) {
            kr_log(st->ctx, KR_LOG_WARN, "reconciler: order %s was pending too long; cancelled", id);
            r = order_release_all(st, after);
            (*repairs)++;
        }
        json_decref(after);
        if (r < 0 && r != KR_ENOTFOUND && rc == KR_OK)
            rc = r;
    }
    json_decref(set);
    json_decref(docs);
    return rc;
}

static int finish_stuck(order_state *st, int *repairs)
{
    char cutoff[32];
    order_iso(order_now_ms() - st->cfg.stuck_after_ms, cutoff);
    json_t *docs;
    int rc = find_orders(st,
                         json_pack("{s{s[sss]}s{sb}s{ss}}", OD_STATUS, "$in", "placed", "confirmed", "packed",
                                   OD_FINALIZED, "$exists", 0, OD_UPDATED, "$lt", cutoff),
                         &docs);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *id = json_string_value(json_object_get(d, OD_ID));
        int r = order_finalize(st, id);
        if (r == KR_OK) {
            kr_log(st->ctx, KR_LOG_WARN, "reconciler: finished the worker's part of order %s", id);
            (*repairs)++;
        } else if (rc == KR_OK) {
            rc = r;
        }
    }
    json_decref(docs);
    return rc;
}

/* The effects that bring one hold or commit in line with its order. */
static int repair_entry(order_state *st, const char *product, const json_t *entry, int is_hold, order_status s,
                        int *repairs)
{
    const char *o = json_string_value(json_object_get(entry, "order"));
    json_int_t q = json_integer_value(json_object_get(entry, "qty"));
    if (o == NULL || q <= 0)
        return KR_OK;
    order_effect first, then = EFF_SHIP;
    int two = 0;
    if (s == OS_CANCELLED || s == OS_COUNT) {
        /* OS_COUNT: no such order. Orders are never deleted and are
         * inserted before any hold, so the entry is an orphan. */
        first = is_hold ? EFF_RELEASE : EFF_UNCOMMIT;
    } else if (s == OS_CONFIRMED || s == OS_PACKED) {
        if (!is_hold)
            return KR_OK;
        first = EFF_COMMIT;
    } else if (s == OS_OUT_FOR_DELIVERY || s == OS_DELIVERED) {
        first = is_hold ? EFF_COMMIT : EFF_SHIP;
        two = is_hold;
    } else {
        return KR_OK; /* pending or placed: a hold is what it should have */
    }
    int applied;
    int rc = order_effect_apply(st, first, o, product, q, &applied);
    if (rc == KR_OK && two)
        rc = order_effect_apply(st, then, o, product, q, &applied);
    if (rc == KR_OK && applied) {
        kr_log(st->ctx, KR_LOG_WARN, "reconciler: product %s had a %s for order %s (%s); repaired", product,
               is_hold ? "hold" : "commit", o, s == OS_COUNT ? "no such order" : order_status_name(s));
        (*repairs)++;
    }
    return rc;
}

/* One page of products with stock held or committed, repaired. *last is
 * the last id seen ("" before the first page); *more 1 while pages remain. */
static int repair_page(order_state *st, char *last, size_t lastlen, int *more, int *repairs)
{
    *more = 0;
    json_t *filter =
        json_pack("{s[{s{si}}{s{si}}]s{ss}}", "$or", PD_RESERVED, "$gt", 0, PD_COMMITTED, "$gt", 0, PD_ID, "$gt", last);
    json_t *sort = json_pack("{si}", PD_ID, 1);
    json_t *proj = json_pack("{sisi}", PD_HOLDS, 1, PD_COMMITS, 1);
    json_t *products = NULL;
    int rc = filter != NULL && sort != NULL && proj != NULL
                 ? kr_db_find(st->products, filter, sort, proj, 0, PRODUCT_PAGE, &products)
                 : KR_ENOMEM;
    json_decref(filter);
    json_decref(sort);
    json_decref(proj);
    if (rc < 0 || json_array_size(products) == 0) {
        json_decref(products);
        return rc;
    }
    /* the statuses of every order named on the page, in one read */
    json_t *ids = json_array();
    size_t i, j;
    json_t *p, *e;
    json_array_foreach(products, i, p)
    {
        json_array_foreach(json_object_get(p, PD_HOLDS), j, e) json_array_append(ids, json_object_get(e, "order"));
        json_array_foreach(json_object_get(p, PD_COMMITS), j, e) json_array_append(ids, json_object_get(e, "order"));
    }
    json_t *ofilter = json_pack("{s{sO}}", OD_ID, "$in", ids);
    json_t *oproj = json_pack("{si}", OD_STATUS, 1);
    json_t *orders = NULL;
    rc = ids != NULL && ofilter != NULL && oproj != NULL ? kr_db_find(st->orders, ofilter, NULL, oproj, 0, 0, &orders)
                                                         : KR_ENOMEM;
    json_decref(ids);
    json_decref(ofilter);
    json_decref(oproj);
    json_t *status = json_object();
    json_array_foreach(orders, i, e)
        json_object_set(status, json_string_value(json_object_get(e, OD_ID)) ?: "", json_object_get(e, OD_STATUS));
    json_decref(orders);
    json_array_foreach(products, i, p)
    {
        const char *pid = json_string_value(json_object_get(p, PD_ID));
        for (int hold = 1; rc == KR_OK && pid != NULL && hold >= 0; hold--)
            json_array_foreach(json_object_get(p, hold ? PD_HOLDS : PD_COMMITS), j, e)
            {
                const char *o = json_string_value(json_object_get(e, "order"));
                order_status s = order_status_parse(json_string_value(json_object_get(status, o ?: "")));
                if (rc == KR_OK)
                    rc = repair_entry(st, pid, e, hold, s, repairs);
            }
    }
    if (rc == KR_OK && status == NULL)
        rc = KR_ENOMEM;
    json_decref(status);
    if (rc == KR_OK && json_array_size(products) == PRODUCT_PAGE) {
        snprintf(last, lastlen, "%s",
                 json_string_value(json_object_get(json_array_get(products, PRODUCT_PAGE - 1), PD_ID)));
        *more = 1;
    }
    json_decref(products);
    return rc;
}

/* A pass that stops at PRODUCT_PAGES leaves its place for the next one,
 * so every product is looked at however large the catalogue. */
static int repair_products(order_state *st, int *repairs)
{
    int more = 1, rc = KR_OK;
    for (int page = 0; rc == KR_OK && more && page < PRODUCT_PAGES; page++)
        rc = repair_page(st, st->scan_from, sizeof(st->scan_from), &more, repairs);
    if (rc < 0 || !more)
        st->scan_from[0] = '\0';
    return rc;
}

int order_reconcile_once(order_state *st, int *repairs)
{
    *repairs = 0;
    /* each step runs even when an earlier one failed: they are independent */
    int rcs[4];
    rcs[0] = abandon_pending(st, repairs);
    rcs[1] = finish_stuck(st, repairs);
    rcs[2] = repair_products(st, repairs);
    rcs[3] = order_idem_purge(st, NULL);
    kr_counter_add(st->repairs, (uint64_t)*repairs);
    for (int i = 0; i < 4; i++)
        if (rcs[i] < 0)
            return rcs[i];
    return KR_OK;
}

static void *run(void *arg)
{
    order_reconciler *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long long ns = until.tv_nsec + r->st->cfg.reconcile_interval_ms % 1000 * 1000000LL;
        until.tv_sec += (time_t)(r->st->cfg.reconcile_interval_ms / 1000 + ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (!r->stopping && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
            ;
        if (r->stopping)
            break;
        pthread_mutex_unlock(&r->mu);
        int repairs;
        if (order_reconcile_once(r->st, &repairs) < 0)
            kr_log(r->st->ctx, KR_LOG_WARN, "reconciler: pass incomplete (next pass retries): %s",
                   kr_errmsg(r->st->ctx));
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int order_reconciler_start(order_state *st)
{
    order_reconciler *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KR_ENOMEM;
    r->st = st;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return KR_EINTERNAL;
    }
    st->rec = r;
    return KR_OK;
}

void order_reconciler_stop(order_state *st)
{
    order_reconciler *r = st->rec;
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
    st->rec = NULL;
}
