/* order.so: the effects of order decisions on products (DESIGN.md table).
 *
 * Each effect is one guarded single-document update. The guard is the
 * presence (or, for reserve, absence) of this order's entry in the
 * product's `holds` or `commits`, and the same update moves the entry and
 * the counters, so running an effect twice changes nothing the second
 * time, and for every product stock + reserved + committed + shipped stays
 * constant. A (product, order) pair is only ever in one of: nothing, a
 * hold, a commit, shipped — so the effects of a cancel and of the worker
 * can interleave in any order and still end in one consistent place.
 *
 * The updates use only what MongoDB, the PostgreSQL backend and FerretDB v1
 * all apply the same way (plugins/order/README.md, "FerretDB"):
 *   - "no hold for o" is {$nor: [{"holds.order": o}]}, not
 *     {"holds.order": {$ne: o}} (FerretDB v1 matches $ne when any element
 *     differs, #2291);
 *   - an entry is pulled by its exact value {order: o, qty: q}, not by the
 *     condition {order: o} (FerretDB v1 pulls plain values only, #1765).
 *     Exact equality holds because every entry is written here as
 *     {order, qty} in that key order, with q the order line's quantity, and
 *     an order's lines never change: the q an effect is given (the line's,
 *     or the entry's in the reconciler) is the q of the entry it moves. */
#include <stdlib.h>

#include "order.h"

static json_t *filter_for(order_effect e, const char *o, const char *p, json_int_t q)
{
    switch (e) {
    case EFF_RESERVE:
        return json_pack("{sssbs{sI}s[{ss}]}", PD_ID, p, PD_ACTIVE, 1, PD_STOCK, "$gte", q, "$nor", PD_HOLDS ".order",
                         o);
    case EFF_RELEASE:
    case EFF_COMMIT:
        return json_pack("{ssss}", PD_ID, p, PD_HOLDS ".order", o);
    case EFF_UNCOMMIT:
    case EFF_SHIP:
        return json_pack("{ssss}", PD_ID, p, PD_COMMITS ".order", o);
    }
    return NULL;
}

/* {order: o, qty: q}: the one shape of a hold or commit entry. */
static json_t *entry(const char *o, json_int_t q)
{
    return json_pack("{sssI}", "order", o, "qty", q);
}

static json_t *update_for(order_effect e, const char *o, json_int_t q)
{
    switch (e) {
    case EFF_RESERVE:
        return json_pack("{s{sIsI}s{so}}", "$inc", PD_STOCK, -q, PD_RESERVED, q, "$push", PD_HOLDS, entry(o, q));
    case EFF_RELEASE:
        return json_pack("{s{sIsI}s{so}}", "$inc", PD_STOCK, q, PD_RESERVED, -q, "$pull", PD_HOLDS, entry(o, q));
    case EFF_COMMIT:
        return json_pack("{s{sIsI}s{so}s{so}}", "$inc", PD_RESERVED, -q, PD_COMMITTED, q, "$pull", PD_HOLDS,
                         entry(o, q), "$push", PD_COMMITS, entry(o, q));
    case EFF_UNCOMMIT:
        return json_pack("{s{sIsI}s{so}}", "$inc", PD_STOCK, q, PD_COMMITTED, -q, "$pull", PD_COMMITS, entry(o, q));
    case EFF_SHIP:
        return json_pack("{s{sIsI}s{so}}", "$inc", PD_COMMITTED, -q, PD_SHIPPED, q, "$pull", PD_COMMITS, entry(o, q));
    }
    return NULL;
}

int order_effect_apply(order_state *st, order_effect e, const char *order_id, const char *product_id, json_int_t qty,
                       int *applied)
{
    *applied = 0;
    json_t *filter = filter_for(e, order_id, product_id, qty);
    json_t *update = update_for(e, order_id, qty);
    kr_update_result res = {0};
    int rc = filter != NULL && update != NULL ? kr_db_update_one(st->products, filter, update, 0, &res) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    free(res.upserted_id);
    if (rc == KR_OK)
        *applied = res.matched > 0;
    return rc;
}

/* Runs first (and, when first did not apply, then second) for every line. */
static int each_line(order_state *st, const json_t *doc, order_effect first, int then_second, order_effect second,
                     int second_always)
{
    const char *o = json_string_value(json_object_get(doc, OD_ID));
    const json_t *items = json_object_get(doc, OD_ITEMS);
    if (o == NULL || !json_is_array(items))
        return KR_EINTERNAL;
    size_t i;
    const json_t *line;
    json_array_foreach(items, i, line)
    {
        const char *p = json_string_value(json_object_get(line, "product_id"));
        json_int_t q = json_integer_value(json_object_get(line, "qty"));
        if (p == NULL || q <= 0)
            return KR_EINTERNAL;
        int applied;
        int rc = order_effect_apply(st, first, o, p, q, &applied);
        if (rc == KR_OK && then_second && (second_always || !applied))
            rc = order_effect_apply(st, second, o, p, q, &applied);
        if (rc < 0)
            return rc;
    }
    return KR_OK;
}

int order_release_all(order_state *st, const json_t *doc)
{
    return each_line(st, doc, EFF_RELEASE, 0, EFF_RELEASE, 0);
}

int order_settle_cancelled(order_state *st, const json_t *doc)
{
    /* whichever the worker reached: a hold is released, a commit undone */
    return each_line(st, doc, EFF_RELEASE, 1, EFF_UNCOMMIT, 0);
}

int order_commit_all(order_state *st, const json_t *doc)
{
    return each_line(st, doc, EFF_COMMIT, 0, EFF_COMMIT, 0);
}

int order_ship_all(order_state *st, const json_t *doc)
{
    /* a commit the worker has not made yet is made first, then shipped */
    return each_line(st, doc, EFF_COMMIT, 1, EFF_SHIP, 1);
}
