/* product.so: the HTTP handlers (worker threads).
 *
 * Reads are public routes: the principal, when the caller sent a valid
 * token, decides between the public and the admin view. Writes are
 * KR_AUTH_ADMIN routes, so the core has refused everyone else already. */
#include <stdlib.h>
#include <string.h>

#include "product.h"

static int is_admin(const kr_req *req)
{
    const kr_principal *p = kr_req_principal(req);
    return p != NULL && p->role != NULL && strcmp(p->role, "admin") == 0;
}

static int not_found(kr_req *req)
{
    return kr_reply_error(req, KR_ENOTFOUND, "no such product");
}

/* The {id} of the route, or NULL when it cannot name a product. */
static const char *product_id(const kr_req *req)
{
    const char *id = kr_req_param(req, "id");
    return id != NULL && product_id_plausible(id) ? id : NULL;
}

int product_h_list(kr_req *req, void *udata)
{
    product_state *st = udata;
    json_t *errors = NULL;
    product_list_query lq;
    int rc = product_parse_list_query(kr_req_query(req, "q"), kr_req_query(req, "category"), kr_req_query(req, "limit"),
                                      kr_req_query(req, "cursor"), kr_req_query(req, "include_inactive"), &lq, &errors);
    if (rc == KR_EINVAL)
        return kr_reply_invalid(req, errors);
    if (rc < 0) {
        json_decref(errors);
        return rc;
    }
    int admin = is_admin(req);
    if (lq.include_inactive && !admin) {
        product_list_query_free(&lq);
        return kr_reply_error(req, kr_req_principal(req) != NULL ? KR_EFORBIDDEN : KR_EAUTH,
                              "include_inactive is for admins");
    }
    json_t *docs;
    int more;
    rc = product_store_list(st, &lq, admin, &docs, &more);
    product_list_query_free(&lq);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    json_t *next = json_null();
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        json_array_append_new(items, product_view(doc, admin));
    }
    if (more) {
        json_t *last = json_array_get(docs, json_array_size(docs) - 1);
        char *c = product_cursor_encode(json_string_value(json_object_get(last, PD_NAME)),
                                        json_string_value(json_object_get(last, PD_ID)));
        json_decref(next);
        next = c != NULL ? json_string(c) : NULL;
        free(c);
    }
    json_decref(docs);
    if (items == NULL || next == NULL || json_array_size(items) != i) {
        json_decref(items);
        json_decref(next);
        return KR_ENOMEM;
    }
    return kr_reply_json(req, 200, json_pack("{soso}", "items", items, "next_cursor", next));
}

int product_h_get(kr_req *req, void *udata)
{
    product_state *st = udata;
    const char *id = product_id(req);
    if (id == NULL)
        return not_found(req);
    int admin = is_admin(req);
    json_t *doc;
    int rc = product_store_get(st, id, admin, &doc);
    if (rc == KR_ENOTFOUND)
        return not_found(req);
    if (rc < 0)
        return rc;
    json_t *view = product_view(doc, admin);
    json_decref(doc);
    return kr_reply_json(req, 200, view);
}

int product_h_create(kr_req *req, void *udata)
{
    product_state *st = udata;
    json_t *body, *fields, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    rc = product_validate_create(body, &fields, &errors);
    if (rc == KR_EINVAL)
        return kr_reply_invalid(req, errors);
    if (rc < 0) {
        json_decref(errors);
        return rc;
    }
    json_t *doc;
    rc = product_store_create(st, fields, &doc);
    json_decref(fields);
    if (rc < 0)
        return rc;
    const char *mount = kr_ctx_mount(kr_req_ctx(req));
    char *location = kr_req_printf(req, "%s/%s", mount, json_string_value(json_object_get(doc, PD_ID)));
    if (location == NULL || kr_resp_header(req, "location", location) < 0) {
        json_decref(doc);
        return KR_ENOMEM;
    }
    json_t *view = product_view(doc, 1);
    json_decref(doc);
    return kr_reply_json(req, 201, view);
}

int product_h_patch(kr_req *req, void *udata)
{
    product_state *st = udata;
    const char *id = product_id(req);
    if (id == NULL)
        return not_found(req);
    json_t *body, *set, *unset, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    rc = product_validate_patch(body, &set, &unset, &errors);
    if (rc == KR_EINVAL)
        return kr_reply_invalid(req, errors);
    if (rc < 0) {
        json_decref(errors);
        return rc;
    }
    json_t *doc;
    rc = product_store_patch(st, id, set, unset, &doc);
    json_decref(set);
    json_decref(unset);
    if (rc == KR_ENOTFOUND)
        return not_found(req);
    if (rc < 0)
        return rc;
    json_t *view = product_view(doc, 1);
    json_decref(doc);
    return kr_reply_json(req, 200, view);
}

int product_h_delete(kr_req *req, void *udata)
{
    product_state *st = udata;
    const char *id = product_id(req);
    if (id == NULL)
        return not_found(req);
    int rc = product_store_deactivate(st, id);
    if (rc == KR_ENOTFOUND)
        return not_found(req);
    if (rc < 0)
        return rc;
    return kr_reply(req, 204, NULL, NULL, 0);
}

int product_h_restock(kr_req *req, void *udata)
{
    product_state *st = udata;
    const char *id = product_id(req);
    if (id == NULL)
        return not_found(req);
    json_t *body, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    json_int_t delta;
    rc = product_validate_restock(body, &delta, &errors);
    if (rc == KR_EINVAL)
        return kr_reply_invalid(req, errors);
    json_t *doc;
    json_int_t stock;
    rc = product_store_restock(st, id, delta, &doc, &stock);
    if (rc == KR_ENOTFOUND)
        return not_found(req);
    if (rc == KR_ECONFLICT) {
        const char *detail =
            delta < 0 ? kr_req_printf(req, "stock is %lld: cannot take %lld away", (long long)stock, (long long)-delta)
                      : kr_req_printf(req, "stock is %lld: adding %lld would exceed %lld", (long long)stock,
                                      (long long)delta, PRODUCT_STOCK_MAX);
        return kr_reply_problem(req, 409, delta < 0 ? "insufficient_stock" : "stock_limit", detail,
                                json_pack("{sI}", "stock", stock));
    }
    if (rc < 0)
        return rc;
    json_t *view = product_view(doc, 1);
    json_decref(doc);
    return kr_reply_json(req, 200, view);
}
