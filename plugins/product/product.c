/* product.so: the catalogue (mount it at /products).
 *
 *   GET    /                  public; ?q ?category ?limit ?cursor, and
 *                             ?include_inactive=true for admins
 *   GET    /{id}              public; admins also see inactive products
 *   POST   /                  admin: create, 201 + Location
 *   PATCH  /{id}              admin: partial update of the writable fields
 *   DELETE /{id}              admin: deactivate, 204
 *   POST   /{id}/stock        admin: restock by {delta}, never below 0
 *
 * Documents: product_doc.h. No configuration. */
#include <stdlib.h>

#include "product.h"

static int add_routes(kr_plugin_ctx *ctx, product_state *st)
{
    int rc;
    if ((rc = kr_route_add(ctx, "GET", "/", KR_AUTH_NONE, product_h_list, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/{id}", KR_AUTH_NONE, product_h_get, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/", KR_AUTH_ADMIN, product_h_create, st)) < 0 ||
        (rc = kr_route_add(ctx, "PATCH", "/{id}", KR_AUTH_ADMIN, product_h_patch, st)) < 0 ||
        (rc = kr_route_add(ctx, "DELETE", "/{id}", KR_AUTH_ADMIN, product_h_delete, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/{id}/stock", KR_AUTH_ADMIN, product_h_restock, st)) < 0)
        return rc;
    return kr_openapi_add(ctx, kr_plugin_openapi_json); /* openapi.json */
}

static int init(kr_plugin_ctx *ctx)
{
    kr_db *db = kr_ctx_db(ctx);
    if (db == NULL) {
        kr_log(ctx, KR_LOG_ERROR, "product needs a database: set db.uri");
        return KR_EINVAL;
    }
    product_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KR_ENOMEM;
    st->coll = kr_db_coll(db, PRODUCT_COLL);
    int rc = st->coll != NULL ? product_store_indexes(st) : KR_EINTERNAL;
    if (rc < 0)
        kr_log(ctx, KR_LOG_ERROR, "product: creating indexes failed: %s", kr_errmsg(ctx));
    else
        rc = add_routes(ctx, st);
    /* the loader runs fini only after a successful init */
    if (rc < 0) {
        free(st);
        return rc;
    }
    kr_ctx_set_state(ctx, st);
    return KR_OK;
}

static void fini(kr_plugin_ctx *ctx)
{
    free(kr_ctx_state(ctx));
}

static const kr_plugin descriptor = {
    KR_PLUGIN_HEADER, .name = "product", .version = "1.0.0", .init = init, .fini = fini,
};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void)
{
    return &descriptor;
}
