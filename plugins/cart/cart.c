/* cart.so: a shopping cart per user in Redis (mount it at /cart; every
 * route needs a logged-in user).
 *
 *   GET    /                        the cart, priced from the catalogue now
 *   POST   /items {product_id, qty} add qty to a line
 *   PUT    /items/{product_id} {qty} set a line (0 removes it)
 *   DELETE /items/{product_id}      remove a line (any product, even gone)
 *   DELETE /                        empty the cart
 *
 * Storage: cart_key.h. Products: read from the catalogue's collection
 * (product_doc.h). */
#include <stdlib.h>

#include "cart.h"

static int add_routes(kr_plugin_ctx *ctx, cart_state *st)
{
    int rc;
    if ((rc = kr_route_add(ctx, "GET", "/", KR_AUTH_USER, cart_h_get, st)) < 0 ||
        (rc = kr_route_add(ctx, "DELETE", "/", KR_AUTH_USER, cart_h_clear, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/items", KR_AUTH_USER, cart_h_add, st)) < 0 ||
        (rc = kr_route_add(ctx, "PUT", "/items/{product_id}", KR_AUTH_USER, cart_h_set, st)) < 0 ||
        (rc = kr_route_add(ctx, "DELETE", "/items/{product_id}", KR_AUTH_USER, cart_h_remove, st)) < 0)
        return rc;
    return kr_openapi_add(ctx, kr_plugin_openapi_json); /* openapi.json */
}

static void free_state(cart_state *st)
{
    pthread_mutex_destroy(&st->sha_lock);
    free(st);
}

static int init(kr_plugin_ctx *ctx)
{
    kr_db *db = kr_ctx_db(ctx);
    kr_redis *redis = kr_ctx_redis(ctx);
    if (db == NULL || redis == NULL) {
        kr_log(ctx, KR_LOG_ERROR, "cart needs a database and Redis: set db.uri and redis.url");
        return KR_EINVAL;
    }
    cart_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KR_ENOMEM;
    pthread_mutex_init(&st->sha_lock, NULL);
    const json_t *cfg = kr_ctx_config(ctx);
    st->ctx = ctx;
    st->redis = redis;
    st->products = kr_db_coll(db, PRODUCT_COLL);
    /* the schema filled the defaults and checked the ranges */
    st->ttl_ms = json_integer_value(json_object_get(cfg, "ttl_seconds")) * 1000;
    st->max_qty = json_integer_value(json_object_get(cfg, "max_qty_per_item"));
    st->max_lines = json_integer_value(json_object_get(cfg, "max_lines"));
    int rc = st->products != NULL ? add_routes(ctx, st) : KR_EINTERNAL;
    /* the loader runs fini only after a successful init */
    if (rc < 0) {
        free_state(st);
        return rc;
    }
    kr_ctx_set_state(ctx, st);
    return KR_OK;
}

static void fini(kr_plugin_ctx *ctx)
{
    free_state(kr_ctx_state(ctx));
}

static const kr_plugin descriptor = {
    KR_PLUGIN_HEADER,
    .name = "cart",
    .version = "1.0.0",
    .config_schema = "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
                     " \"ttl_seconds\": {\"type\": \"integer\", \"minimum\": 60, \"maximum\": 31536000,"
                     "  \"default\": 2592000},"
                     " \"max_qty_per_item\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000000,"
                     "  \"default\": 20},"
                     " \"max_lines\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 500, \"default\": 50}}}",
    .init = init,
    .fini = fini,
};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void)
{
    return &descriptor;
}
