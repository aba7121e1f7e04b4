/* order.so: the HTTP handlers (worker threads).
 *
 * Users see only their own orders: an id that belongs to someone else is
 * answered exactly like an unknown id (404), so ids cannot be probed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* Re-reads after a lost decision race before giving up with 409. */
#define DECIDE_ROUNDS 8

static int is_admin(const kr_principal *p)
{
    return p->role != NULL && strcmp(p->role, "admin") == 0;
}

static const char *mount_of(const kr_req *req)
{
    return kr_ctx_mount(kr_req_ctx(req));
}

int order_load_visible(order_state *st, const kr_req *req, const char *id, json_t **doc)
{
    *doc = NULL;
    const kr_principal *p = kr_req_principal(req);
    if (id == NULL || !order_id_plausible(id))
        return KR_ENOTFOUND;
    int rc = order_load(st, id, doc);
    if (rc < 0)
        return rc;
    const char *owner = json_string_value(json_object_get(*doc, OD_USER));
    if (!is_admin(p) && (owner == NULL || strcmp(owner, p->user_id) != 0)) {
        json_decref(*doc);
        *doc = NULL;
        return KR_ENOTFOUND;
    }
    return KR_OK;
}

static int reply_order(kr_req *req, int status, const json_t *doc)
{
    json_t *v = order_view(doc);
    return v != NULL ? kr_reply_json(req, status, v) : KR_ENOMEM;
}

static int reply_lookup_error(kr_req *req, int rc)
{
    return rc == KR_ENOTFOUND ? kr_reply_error(req, KR_ENOTFOUND, "no such order") : rc;
}

/* Printable ASCII without spaces, as the header's usual values (UUIDs,
 * ULIDs) are; anything else is more likely a client bug. */
static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > ORDER_IDEM_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return 0;
    return 1;
}

/* The part of POST /orders that an Idempotency-Key record covers. */
static int place_owned(kr_req *req, order_state *st, const order_idem *rec, const json_t *body)
{
    order_answer a = {0};
    json_t *clean = NULL, *errors = NULL;
    int rc = order_validate_place(body, &clean, &errors);
    if (rc == KR_EINVAL) {
        order_answer_problem(&a, 400, "validation_failed", json_pack("{so}", "errors", errors),
                             "the request is not valid");
        rc = KR_OK;
    } else if (rc == KR_OK) {
        rc = order_place(st, kr_req_principal(req)->user_id, rec->order_id, rec->resumed, mount_of(req), clean, &a);
    }
    json_decref(clean);
    if (rc < 0) {
        /* no final answer: the next request with this key resumes */
        int arc = order_idem_abandon(st, rec);
        if (arc < 0)
            kr_req_log(req, KR_LOG_WARN, "idempotency record %s left running: %s", rec->rec_id, kr_errmsg(req));
        order_answer_free(&a);
        return rc;
    }
    if (order_idem_finish(st, rec, &a) < 0)
        kr_req_log(req, KR_LOG_WARN, "idempotency record %s not finished (a retry resumes order %s): %s", rec->rec_id,
                   rec->order_id, kr_errmsg(req));
    rc = order_answer_reply(req, &a);
    order_answer_free(&a);
    return rc;
}

int order_h_place(kr_req *req, void *udata)
{
    order_state *st = udata;
    const char *key = kr_req_header(req, "idempotency-key");
    if (key == NULL || key[0] == '\0')
        return kr_reply_problem(req, 400, "idempotency_key_required", "the Idempotency-Key header is required", NULL);
    if (!key_ok(key))
        return kr_reply_problem(req, 400, "idempotency_key_invalid",
                                "the Idempotency-Key must be 1 to 255 printable ASCII characters without spaces", NULL);
    json_t *body;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    order_idem rec;
    if ((rc = order_idem_claim(st, kr_req_principal(req)->user_id, key, body, &rec)) < 0)
        return rc;
    switch (rec.verdict) {
    case IDEM_OWNED:
        return place_owned(req, st, &rec, body);
    case IDEM_REPLAY:
        kr_counter_add(st->replays, 1);
        if ((rc = kr_resp_header(req, "idempotent-replayed", "true")) == KR_OK)
            rc = order_answer_reply(req, &rec.replay);
        order_answer_free(&rec.replay);
        return rc;
    case IDEM_IN_USE:
        if ((rc = kr_resp_header(req, "retry-after", "1")) < 0)
            return rc;
        return kr_reply_problem(req, 409, "idempotency_key_in_use",
                                "a request with this Idempotency-Key is still being processed", NULL);
    case IDEM_MISMATCH:
        break;
    }
    return kr_reply_problem(req, 422, "idempotency_key_reused",
                            "this Idempotency-Key was used with a different request body", NULL);
}

/* Filter of a list page: whose orders, and after which (created_at, id). */
static json_t *list_filter(const char *user_id, const char *after_created, const char *after_id)
{
    json_t *and = json_array();
    if (and != NULL && user_id != NULL)
        json_array_append_new(and, json_pack("{ss}", OD_USER, user_id));
    if (and != NULL && after_created != NULL)
        json_array_append_new(and, json_pack("{s[{s{ss}}{sss{ss}}]}", "$or", OD_CREATED, "$lt", after_created,
                                             OD_CREATED, after_created, OD_ID, "$lt", after_id));
    if (and == NULL || json_array_size(and) != (size_t)(user_id != NULL) + (after_created != NULL)) {
        json_decref(and);
        return NULL;
    }
    if (json_array_size(and) == 0) {
        json_decref(and);
        return json_object();
    }
    return json_pack("{so}", "$and", and);
}

int order_h_list(kr_req *req, void *udata)
{
    order_state *st = udata;
    const kr_principal *p = kr_req_principal(req);
    const char *only = kr_req_query(req, "user_id");
    if (only != NULL && !is_admin(p))
        return kr_reply_problem(req, 403, "forbidden", "only admins may list the orders of other users", NULL);
    int limit;
    char *after_created, *after_id;
    json_t *errors = NULL;
    int rc = order_validate_list(kr_req_query(req, "limit"), kr_req_query(req, "cursor"), &limit, &after_created,
                                 &after_id, &errors);
    if (rc == KR_EINVAL)
        return kr_reply_invalid(req, errors);
    if (rc < 0)
        return rc;
    json_t *filter = list_filter(is_admin(p) ? only : p->user_id, after_created, after_id);
    free(after_created);
    free(after_id);
    json_t *sort = json_pack("{sisi}", OD_CREATED, -1, OD_ID, -1);
    json_t *docs = NULL;
    /* one row more than asked tells whether another page follows */
    rc = filter != NULL && sort != NULL ? kr_db_find(st->orders, filter, sort, NULL, 0, limit + 1, &docs) : KR_ENOMEM;
    json_decref(filter);
    json_decref(sort);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < json_array_size(docs) && i < (size_t)limit; i++)
        json_array_append_new(items, order_view(json_array_get(docs, i)));
    json_t *next = json_null();
    if (json_array_size(docs) > (size_t)limit) {
        const json_t *last = json_array_get(docs, (size_t)limit - 1);
        char *c = order_cursor_encode(json_string_value(json_object_get(last, OD_CREATED)),
                                      json_string_value(json_object_get(last, OD_ID)));
        next = c != NULL ? json_string(c) : NULL;
        free(c);
    }
    json_decref(docs);
    if (items == NULL || next == NULL) {
        json_decref(items);
        json_decref(next);
        return KR_ENOMEM;
    }
    return kr_reply_json(req, 200, json_pack("{soso}", "items", items, "next_cursor", next));
}

int order_h_get(kr_req *req, void *udata)
{
    json_t *doc;
    int rc = order_load_visible(udata, req, kr_req_param(req, "id"), &doc);
    if (rc < 0)
        return reply_lookup_error(req, rc);
    rc = reply_order(req, 200, doc);
    json_decref(doc);
    return rc;
}

static int reply_bad_transition(kr_req *req, order_status from, const char *detail)
{
    return kr_reply_problem(req, 409, "invalid_transition", detail,
                            json_pack("{ss}", "current_status", order_status_name(from)));
}

int order_h_cancel(kr_req *req, void *udata)
{
    order_state *st = udata;
    const char *id = kr_req_param(req, "id");
    json_t *doc, *set = NULL;
    int rc = order_load_visible(st, req, id, &doc);
    if (rc < 0)
        return reply_lookup_error(req, rc);
    set = json_pack("{ss}", OD_CANCEL_REASON,
                    is_admin(kr_req_principal(req)) ? "cancelled_by_admin" : "cancelled_by_user");
    if (set == NULL) {
        json_decref(doc);
        return KR_ENOMEM;
    }
    for (int round = 0; rc == KR_OK; round++) {
        order_status s = order_doc_status(doc);
        if (!order_edge(s, OS_CANCELLED) || round == DECIDE_ROUNDS) {
            rc = reply_bad_transition(
                req, s, kr_req_printf(req, "an order that is %s cannot be cancelled", order_status_name(s)));
            json_decref(doc);
            json_decref(set);
            return rc;
        }
        json_t *after = NULL;
        rc = order_transition(st, id, s, OS_CANCELLED, set, &after);
        if (rc == KR_OK) {
            json_decref(doc);
            doc = after;
            break;
        }
        if (rc == KR_ENOTFOUND) {
            json_decref(doc);
            rc = order_load(st, id, &doc);
        }
    }
    json_decref(set);
    if (rc < 0)
        return rc;
    /* decided: the stock follows now, or from the reconciler if this fails */
    if (order_settle_cancelled(st, doc) < 0)
        kr_req_log(req, KR_LOG_WARN, "order %s cancelled; restocking is left to the reconciler: %s", id,
                   kr_errmsg(req));
    rc = reply_order(req, 200, doc);
    json_decref(doc);
    return rc;
}

int order_h_status(kr_req *req, void *udata)
{
    order_state *st = udata;
    const char *id = kr_req_param(req, "id");
    json_t *body, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    order_status to;
    if (order_validate_status(body, &to, &errors) < 0)
        return kr_reply_invalid(req, errors);
    json_t *doc;
    if ((rc = order_load_visible(st, req, id, &doc)) < 0)
        return reply_lookup_error(req, rc);
    order_status from = order_doc_status(doc);
    json_decref(doc);
    /* admins move orders only forward from confirmed; cancelling has its
     * own route, and confirming is the worker's */
    if (to < OS_PACKED || to > OS_DELIVERED || from != to - 1)
        return reply_bad_transition(
            req, from,
            kr_req_printf(req, "an order cannot go from %s to %s", order_status_name(from), order_status_name(to)));
    rc = order_transition(st, id, from, to, NULL, &doc);
    if (rc == KR_ENOTFOUND) {
        if ((rc = order_load(st, id, &doc)) < 0)
            return reply_lookup_error(req, rc);
        from = order_doc_status(doc);
        json_decref(doc);
        return reply_bad_transition(
            req, from, kr_req_printf(req, "the order changed meanwhile: it is %s now", order_status_name(from)));
    }
    if (rc < 0)
        return rc;
    /* out the door: any commit the worker has not made yet, then ship */
    if (to == OS_OUT_FOR_DELIVERY && order_ship_all(st, doc) < 0)
        kr_req_log(req, KR_LOG_WARN, "order %s is out for delivery; shipping the stock is left to the reconciler: %s",
                   id, kr_errmsg(req));
    rc = reply_order(req, 200, doc);
    json_decref(doc);
    return rc;
}
