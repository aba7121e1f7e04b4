/* cart.so: the HTTP handlers (worker threads, KR_AUTH_USER routes).
 *
 * The cart is always the caller's own: its key comes from the principal,
 * never from the request, so there is no id to tamper with. Every change
 * answers 200 with the whole cart as it stands after the change. */
#include "cart.h"

static const char *user_of(const kr_req *req)
{
    return kr_req_principal(req)->user_id;
}

/* Prices the lines (one DB read) and answers the cart. */
static int reply_cart(kr_req *req, cart_state *st, const cart_lines *lines)
{
    json_t *by_id;
    int rc = cart_catalog_batch(st, lines, &by_id);
    if (rc < 0)
        return rc;
    json_t *view = cart_view(lines, by_id);
    json_decref(by_id);
    return view != NULL ? kr_reply_json(req, 200, view) : KR_ENOMEM;
}

static int no_such_product(kr_req *req)
{
    return kr_reply_error(req, KR_ENOTFOUND, "no such product");
}

/* Answers a refused change: every refusal is a 409 naming the limit. */
static int reply_refused(kr_req *req, cart_state *st, const char *product_id, const cart_outcome *o, long long stock)
{
    switch (o->verdict) {
    case CART_OVER_MAX_QTY:
        return kr_reply_problem(req, 409, "qty_limit",
                                kr_req_printf(req, "at most %lld of one product per cart", st->max_qty),
                                json_pack("{sssIsI}", "product_id", product_id, "requested", (json_int_t)o->qty,
                                          "max_qty_per_item", (json_int_t)st->max_qty));
    case CART_OVER_STOCK:
        return kr_reply_problem(req, 409, "insufficient_stock", kr_req_printf(req, "only %lld available", stock),
                                json_pack("{sssIsI}", "product_id", product_id, "requested", (json_int_t)o->qty,
                                          "available", (json_int_t)stock));
    case CART_FULL:
        return kr_reply_problem(req, 409, "cart_full",
                                kr_req_printf(req, "a cart holds at most %lld different products", st->max_lines),
                                json_pack("{sI}", "max_lines", (json_int_t)st->max_lines));
    case CART_OK:
        break;
    }
    return KR_EINTERNAL;
}

/* Applies one change and answers. Adding or setting a quantity needs an
 * existing, active product (404 otherwise); taking a line out does not. */
static int change(kr_req *req, cart_state *st, const char *product_id, cart_mode mode, long long qty)
{
    long long stock = 0;
    /* a line can be taken out after its product is gone */
    if (!(mode == CART_SET && qty == 0)) {
        if (!product_id_plausible(product_id))
            return no_such_product(req);
        json_t *doc;
        int rc = cart_catalog_get(st, product_id, &doc);
        if (rc == KR_ENOTFOUND)
            return no_such_product(req);
        if (rc < 0)
            return rc;
        int active = cart_product_active(doc);
        stock = json_integer_value(json_object_get(doc, PD_STOCK));
        json_decref(doc);
        if (!active)
            return no_such_product(req);
    }
    cart_outcome o;
    int rc = cart_store_change(st, user_of(req), product_id, mode, qty, stock, &o);
    if (rc < 0)
        return rc;
    if (o.verdict != CART_OK)
        return reply_refused(req, st, product_id, &o, stock);
    rc = reply_cart(req, st, &o.lines);
    cart_lines_free(&o.lines);
    return rc;
}

int cart_h_get(kr_req *req, void *udata)
{
    cart_state *st = udata;
    cart_lines lines;
    int rc = cart_store_load(st, user_of(req), &lines);
    if (rc < 0)
        return rc;
    rc = reply_cart(req, st, &lines);
    cart_lines_free(&lines);
    return rc;
}

int cart_h_add(kr_req *req, void *udata)
{
    json_t *body, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    const char *product_id;
    long long qty;
    if (cart_validate_add(body, &product_id, &qty, &errors) < 0)
        return kr_reply_invalid(req, errors);
    return change(req, udata, product_id, CART_ADD, qty);
}

int cart_h_set(kr_req *req, void *udata)
{
    json_t *body, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    long long qty;
    if (cart_validate_set(body, &qty, &errors) < 0)
        return kr_reply_invalid(req, errors);
    return change(req, udata, kr_req_param(req, "product_id"), CART_SET, qty);
}

int cart_h_remove(kr_req *req, void *udata)
{
    return change(req, udata, kr_req_param(req, "product_id"), CART_SET, 0);
}

int cart_h_clear(kr_req *req, void *udata)
{
    cart_state *st = udata;
    int rc = cart_store_clear(st, user_of(req));
    if (rc < 0)
        return rc;
    cart_lines none = {0};
    return reply_cart(req, st, &none);
}
