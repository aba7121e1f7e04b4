/* order.so: placing an order from the cart (DESIGN.md "Placing").
 *
 *   1. read the cart (Redis) and the products (one batched find);
 *   2. insert the order `pending` with server-side names and prices;
 *   3. reserve each line, in product-id order, with the guarded update;
 *   4. on a shortfall decide `pending → cancelled` (out_of_stock), then
 *      release what was taken; else decide `pending → placed`, clear the
 *      cart and enqueue the `order` job (jobId = order id).
 *
 * Decisions come before effects here as everywhere: a placement that loses
 * its decision (the reconciler or the owner cancelled the pending order,
 * or another attempt with the same Idempotency-Key finished it) touches
 * no stock it does not own. Every step can be re-run by the next attempt
 * with the same order id (reserve skips a line the order already holds),
 * so a placement that died half way is resumed, not repeated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* A quantity no cart can hold (cart.so caps lines far lower). */
#define QTY_MAX 1000000

typedef struct cart_entry {
    char *product_id;
    json_int_t qty;
} cart_entry;

static void entries_free(cart_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].product_id);
    free(v);
}

static int by_product(const void *a, const void *b)
{
    return strcmp(((const cart_entry *)a)->product_id, ((const cart_entry *)b)->product_id);
}

/* The cart's lines, sorted by product id. Fields that cart.so cannot
 * have written (not an id, not a positive quantity) are skipped. */
static int read_cart(order_state *st, const char *user_id, cart_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char key[320];
    snprintf(key, sizeof(key), "%s%s", CART_KEY_PREFIX, user_id);
    kr_redis_reply *r = NULL;
    int rc = kr_redis_command(st->redis, &r, "HGETALL", key, NULL);
    if (rc < 0)
        return rc;
    if (r->type != KR_REDIS_ARRAY) {
        kr_log(st->ctx, KR_LOG_ERROR, "HGETALL %s: %s", key, r->type == KR_REDIS_ERROR ? r->str : "unexpected reply");
        kr_redis_reply_free(r);
        return KR_EINTERNAL;
    }
    cart_entry *v = calloc(r->elements / 2 + 1, sizeof(*v));
    if (v == NULL) {
        kr_redis_reply_free(r);
        return KR_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const kr_redis_reply *f = r->element[i], *q = r->element[i + 1];
        char *end = "";
        long long qty = q->type == KR_REDIS_STRING ? strtoll(q->str, &end, 10) : 0;
        if (f->type != KR_REDIS_STRING || !product_id_plausible(f->str) || qty < 1 || qty > QTY_MAX || *end != '\0')
            continue;
        if ((v[k].product_id = strdup(f->str)) == NULL) {
            entries_free(v, k);
            kr_redis_reply_free(r);
            return KR_ENOMEM;
        }
        v[k++].qty = qty;
    }
    kr_redis_reply_free(r);
    qsort(v, k, sizeof(*v), by_product);
    *out = v;
    *n = k;
    return KR_OK;
}

/* Products by id, as {id: doc} (fields of `proj`). */
static int products_by_id(order_state *st, const json_t *ids, const char *proj_fields[], json_t **by_id)
{
    *by_id = NULL;
    json_t *filter = json_pack("{s{sO}}", PD_ID, "$in", ids);
    json_t *proj = json_object();
    for (size_t i = 0; proj != NULL && proj_fields[i] != NULL; i++)
        json_object_set_new(proj, proj_fields[i], json_integer(1));
    json_t *docs = NULL;
    int rc = filter != NULL && proj != NULL ? kr_db_find(st->products, filter, NULL, proj, 0, 0, &docs) : KR_ENOMEM;
    json_decref(filter);
    json_decref(proj);
    if (rc < 0)
        return rc;
    json_t *m = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *id = json_string_value(json_object_get(d, PD_ID));
        if (m != NULL && id != NULL)
            json_object_set(m, id, d);
    }
    json_decref(docs);
    *by_id = m;
    return m != NULL ? KR_OK : KR_ENOMEM;
}

static int holds_for(const json_t *product, const char *order_id)
{
    size_t i;
    const json_t *h;
    json_array_foreach(json_object_get(product, PD_HOLDS), i, h)
    {
        const char *o = json_string_value(json_object_get(h, "order"));
        if (o != NULL && strcmp(o, order_id) == 0)
            return 1;
    }
    return 0;
}

static json_int_t available_in(const json_t *product)
{
    if (product == NULL || !json_is_true(json_object_get(product, PD_ACTIVE)))
        return 0;
    json_int_t s = json_integer_value(json_object_get(product, PD_STOCK));
    return s > 0 ? s : 0;
}

/* The lines from `first` on that this order does not hold and that the
 * stock cannot cover now, as [{product_id, requested, available}]; the
 * line at `first` (whose reservation failed) is always listed. *lines is
 * NULL with KR_OK when `first` turns out to be held after all. */
static int short_lines(order_state *st, const char *order_id, const json_t *items, size_t first, json_t **lines)
{
    *lines = NULL;
    json_t *ids = json_array();
    for (size_t i = first; ids != NULL && i < json_array_size(items); i++)
        json_array_append(ids, json_object_get(json_array_get(items, i), "product_id"));
    static const char *fields[] = {PD_STOCK, PD_ACTIVE, PD_HOLDS, NULL};
    json_t *by_id = NULL;
    int rc = ids != NULL ? products_by_id(st, ids, fields, &by_id) : KR_ENOMEM;
    json_decref(ids);
    if (rc < 0)
        return rc;
    json_t *out = json_array();
    for (size_t i = first; out != NULL && i < json_array_size(items); i++) {
        const json_t *line = json_array_get(items, i);
        const char *p = json_string_value(json_object_get(line, "product_id"));
        json_int_t q = json_integer_value(json_object_get(line, "qty"));
        const json_t *prod = json_object_get(by_id, p);
        if (prod != NULL && holds_for(prod, order_id)) {
            if (i == first)
                break; /* reserved by an earlier attempt of this order */
            continue;
        }
        json_int_t avail = available_in(prod);
        if (i == first || avail < q)
            json_array_append_new(out, json_pack("{sssIsI}", "product_id", p, "requested", q, "available", avail));
    }
    json_decref(by_id);
    if (out == NULL)
        return KR_ENOMEM;
    if (json_array_size(out) == 0)
        json_decref(out);
    else
        *lines = out;
    return KR_OK;
}

static void answer_out_of_stock(order_answer *a, json_t *lines, const char *order_id)
{
    json_t *extra = json_pack("{s:o}", "lines", lines != NULL ? lines : json_array());
    if (extra != NULL && order_id != NULL)
        json_object_set_new(extra, "order_id", json_string(order_id));
    order_answer_problem(a, 409, "out_of_stock", extra, "some items are not available in the quantity ordered");
}

static int answer_created(order_answer *a, const json_t *doc, const char *mount)
{
    order_answer_free(a);
    a->status = 201;
    snprintf(a->location, sizeof(a->location), "%s/%s", mount, json_string_value(json_object_get(doc, OD_ID)));
    a->json = order_view(doc);
    return a->json != NULL ? KR_OK : KR_ENOMEM;
}

/* The answer an order that is no longer pending stands for. */
static int answer_settled(order_state *st, const json_t *doc, const char *mount, order_answer *a)
{
    order_status s = order_doc_status(doc);
    const char *id = json_string_value(json_object_get(doc, OD_ID));
    if (s == OS_CANCELLED) {
        const char *reason = json_string_value(json_object_get(doc, OD_CANCEL_REASON));
        if (reason != NULL && strcmp(reason, "out_of_stock") == 0) {
            json_t *lines = json_object_get(doc, OD_SHORTFALL);
            answer_out_of_stock(a, lines != NULL ? json_deep_copy(lines) : NULL, id);
        } else {
            order_answer_problem(a, 409, "order_cancelled", json_pack("{ss}", "order_id", id),
                                 "the order was cancelled (%s) before it was placed", reason ?: "cancelled");
        }
        return KR_OK;
    }
    /* A placement that died between `placed` and the enqueue is completed
     * by whoever answers for it; the jobId makes a second add a no-op. */
    if (s == OS_PLACED && order_enqueue_finalize(st, id) < 0)
        kr_log(st->ctx, KR_LOG_WARN, "order %s: enqueueing the order job failed (the reconciler retries): %s", id,
               kr_errmsg(st->ctx));
    return answer_created(a, doc, mount);
}

static int clear_cart(order_state *st, const char *user_id)
{
    char key[320];
    snprintf(key, sizeof(key), "%s%s", CART_KEY_PREFIX, user_id);
    kr_redis_reply *r = NULL;
    int rc = kr_redis_command(st->redis, &r, "DEL", key, NULL);
    kr_redis_reply_free(r);
    return rc;
}

/* A shortfall: decide, then give back what was taken. */
static int cancel_short(order_state *st, const json_t *doc, json_t *lines, const char *mount, order_answer *a)
{
    const char *id = json_string_value(json_object_get(doc, OD_ID));
    json_t *set = json_pack("{sssO}", OD_CANCEL_REASON, "out_of_stock", OD_SHORTFALL, lines);
    json_t *after = NULL;
    int rc = set != NULL ? order_transition(st, id, OS_PENDING, OS_CANCELLED, set, &after) : KR_ENOMEM;
    json_decref(set);
    if (rc == KR_ENOTFOUND)
        rc = order_load(st, id, &after);
    if (rc < 0) {
        json_decref(lines);
        return rc;
    }
    if (order_doc_status(after) == OS_CANCELLED) {
        rc = order_release_all(st, after);
        if (rc == KR_OK) {
            kr_counter_add(st->out_of_stock, 1);
            rc = answer_settled(st, after, mount, a);
        }
    } else {
        rc = answer_settled(st, after, mount, a);
    }
    json_decref(lines);
    json_decref(after);
    return rc;
}

/* Reserves the lines of a pending order and decides its fate. */
static int place_pending(order_state *st, const char *user_id, const json_t *doc, const char *mount, order_answer *a)
{
    const char *id = json_string_value(json_object_get(doc, OD_ID));
    const json_t *items = json_object_get(doc, OD_ITEMS);
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *line = json_array_get(items, i);
        int applied;
        int rc = order_effect_apply(st, EFF_RESERVE, id, json_string_value(json_object_get(line, "product_id")),
                                    json_integer_value(json_object_get(line, "qty")), &applied);
        if (rc < 0)
            return rc;
        if (applied)
            continue;
        json_t *lines;
        if ((rc = short_lines(st, id, items, i, &lines)) < 0)
            return rc;
        if (lines != NULL)
            return cancel_short(st, doc, lines, mount, a);
    }
    json_t *after = NULL;
    int rc = order_transition(st, id, OS_PENDING, OS_PLACED, NULL, &after);
    if (rc == KR_OK) {
        kr_counter_add(st->placed, 1);
        /* The order stands from here on: a cart or queue failure must not
         * turn it into an error (the reconciler finishes the job). */
        if (clear_cart(st, user_id) < 0)
            kr_log(st->ctx, KR_LOG_WARN, "order %s: clearing the cart failed: %s", id, kr_errmsg(st->ctx));
        if (order_enqueue_finalize(st, id) < 0)
            kr_log(st->ctx, KR_LOG_WARN, "order %s: enqueueing the order job failed (the reconciler retries): %s", id,
                   kr_errmsg(st->ctx));
        rc = answer_created(a, after, mount);
        json_decref(after);
        return rc;
    }
    if (rc != KR_ENOTFOUND || (rc = order_load(st, id, &after)) < 0)
        return rc;
    /* cancelled while we reserved: what we took goes back */
    if (order_doc_status(after) == OS_CANCELLED)
        rc = order_release_all(st, after);
    if (rc == KR_OK)
        rc = answer_settled(st, after, mount, a);
    json_decref(after);
    return rc;
}

static int continue_order(order_state *st, const char *user_id, const json_t *doc, const char *mount, order_answer *a)
{
    if (order_doc_status(doc) == OS_PENDING)
        return place_pending(st, user_id, doc, mount, a);
    return answer_settled(st, doc, mount, a);
}

/* The pending order document for the cart's lines at today's prices. */
static json_t *new_order(const char *order_id, const char *user_id, const cart_entry *v, size_t n,
                         const json_t *products, const json_t *clean)
{
    char now[32];
    order_iso(order_now_ms(), now);
    json_t *items = json_array();
    json_int_t total = 0;
    for (size_t i = 0; items != NULL && i < n; i++) {
        const json_t *p = json_object_get(products, v[i].product_id);
        json_int_t price = json_integer_value(json_object_get(p, PD_PRICE));
        total += price * v[i].qty;
        json_array_append_new(items, json_pack("{sssOsIsIsI}", "product_id", v[i].product_id, "name",
                                               json_object_get(p, PD_NAME), "price", price, "qty", v[i].qty,
                                               "line_total", price * v[i].qty));
    }
    if (items == NULL || json_array_size(items) != n) {
        json_decref(items);
        return NULL;
    }
    return json_pack("{sssssssis[{ssss}]sosIsssOsOsnssss}", OD_ID, order_id, OD_USER, user_id, OD_STATUS, "pending",
                     OD_VERSION, 0, OD_HISTORY, "status", "pending", "at", now, OD_ITEMS, items, OD_TOTAL, total,
                     OD_CURRENCY, ORDER_CURRENCY, OD_ADDRESS, json_object_get(clean, "address"), OD_NOTE,
                     json_object_get(clean, "note"), OD_CANCEL_REASON, OD_CREATED, now, OD_UPDATED, now);
}

int order_place(order_state *st, const char *user_id, const char *order_id, int resume, const char *mount,
                const json_t *clean, order_answer *a)
{
    json_t *doc = NULL;
    int rc = resume ? order_load(st, order_id, &doc) : KR_ENOTFOUND;
    if (rc == KR_OK) {
        rc = continue_order(st, user_id, doc, mount, a);
        json_decref(doc);
        return rc;
    }
    if (rc != KR_ENOTFOUND)
        return rc;

    cart_entry *v;
    size_t n;
    if ((rc = read_cart(st, user_id, &v, &n)) < 0)
        return rc;
    if (n == 0) {
        free(v);
        order_answer_problem(a, 422, "cart_empty", NULL, "the cart is empty");
        return KR_OK;
    }
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < n; i++)
        json_array_append_new(ids, json_string(v[i].product_id));
    static const char *fields[] = {PD_NAME, PD_PRICE, NULL};
    json_t *products = NULL;
    rc = ids != NULL ? products_by_id(st, ids, fields, &products) : KR_ENOMEM;
    json_decref(ids);
    /* A line whose product is gone cannot be priced: nothing is created,
     * and the answer names it like any other shortfall. */
    json_t *missing = rc == KR_OK ? json_array() : NULL;
    for (size_t i = 0; missing != NULL && i < n; i++)
        if (json_object_get(products, v[i].product_id) == NULL)
            json_array_append_new(
                missing, json_pack("{sssIsi}", "product_id", v[i].product_id, "requested", v[i].qty, "available", 0));
    if (rc == KR_OK && missing == NULL)
        rc = KR_ENOMEM;
    if (rc == KR_OK && json_array_size(missing) > 0) {
        answer_out_of_stock(a, missing, NULL);
        missing = NULL;
    } else if (rc == KR_OK && (doc = new_order(order_id, user_id, v, n, products, clean)) == NULL) {
        rc = KR_ENOMEM;
    }
    json_decref(missing);
    json_decref(products);
    entries_free(v, n);
    if (rc < 0 || doc == NULL)
        return rc;

    rc = kr_db_insert_one(st->orders, doc, NULL);
    if (rc == KR_EDUPLICATE) {
        /* another attempt with this key inserted it first */
        json_decref(doc);
        if ((rc = order_load(st, order_id, &doc)) < 0)
            return rc;
    } else if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    rc = continue_order(st, user_id, doc, mount, a);
    json_decref(doc);
    return rc;
}
