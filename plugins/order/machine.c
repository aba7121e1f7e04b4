/* order.so: the order state machine (DESIGN.md "Orders and stock").
 *
 *   pending → placed → confirmed → packed → out_for_delivery → delivered
 *      └────────┴──────────┴─────────┴──→ cancelled
 *
 * A change is decided by one guarded atomic update of the order document,
 * so of two racing changes (the worker confirming, the owner cancelling)
 * exactly one wins and the loser sees KR_ENOTFOUND. The document keeps the
 * history of changes: entry i is version i, which is what SSE clients see
 * as the event id. */
#include <string.h>

#include "order.h"

static const char *const names[OS_COUNT] = {
    [OS_PENDING] = "pending",
    [OS_PLACED] = "placed",
    [OS_CONFIRMED] = "confirmed",
    [OS_PACKED] = "packed",
    [OS_OUT_FOR_DELIVERY] = "out_for_delivery",
    [OS_DELIVERED] = "delivered",
    [OS_CANCELLED] = "cancelled",
};

const char *order_status_name(order_status s)
{
    return s < OS_COUNT ? names[s] : "unknown";
}

order_status order_status_parse(const char *name)
{
    for (int i = 0; name != NULL && i < OS_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return (order_status)i;
    return OS_COUNT;
}

order_status order_doc_status(const json_t *doc)
{
    return order_status_parse(json_string_value(json_object_get(doc, OD_STATUS)));
}

int order_edge(order_status from, order_status to)
{
    if (to == OS_CANCELLED)
        return from == OS_PENDING || from == OS_PLACED || from == OS_CONFIRMED || from == OS_PACKED;
    /* every other edge moves one step along the happy path */
    return from < OS_DELIVERED && to == from + 1;
}

int order_terminal(order_status s)
{
    return s == OS_DELIVERED || s == OS_CANCELLED;
}

int order_load(order_state *st, const char *id, json_t **doc)
{
    json_t *filter = json_pack("{ss}", OD_ID, id);
    int rc = filter != NULL ? kr_db_find_one(st->orders, filter, NULL, NULL, doc) : KR_ENOMEM;
    json_decref(filter);
    return rc;
}

int order_transition(order_state *st, const char *id, order_status from, order_status to, const json_t *set,
                     json_t **after)
{
    if (after != NULL)
        *after = NULL;
    if (!order_edge(from, to))
        return KR_ECONFLICT;
    char at[32];
    order_iso(order_now_ms(), at);
    json_t *filter = json_pack("{ssss}", OD_ID, id, OD_STATUS, order_status_name(from));
    json_t *update = json_pack("{s{ssss}s{si}s{s{ssss}}}", "$set", OD_STATUS, order_status_name(to), OD_UPDATED, at,
                               "$inc", OD_VERSION, 1, "$push", OD_HISTORY, "status", order_status_name(to), "at", at);
    if (filter == NULL || update == NULL) {
        json_decref(filter);
        json_decref(update);
        return KR_ENOMEM;
    }
    if (set != NULL)
        json_object_update(json_object_get(update, "$set"), (json_t *)set);
    json_t *doc = NULL;
    int rc = kr_db_find_one_and_update(st->orders, filter, update, NULL, KR_DB_RETURN_AFTER, &doc);
    json_decref(filter);
    json_decref(update);
    if (rc < 0)
        return rc;
    if (to == OS_CANCELLED)
        kr_counter_add(st->cancelled, 1);
    order_events_publish(st, doc);
    if (after != NULL)
        *after = doc;
    else
        json_decref(doc);
    return KR_OK;
}
