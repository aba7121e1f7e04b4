/* order.so: orders from the cart (mount it at /orders; every route needs a
 * logged-in user).
 *
 *   POST  /                 place an order from the cart (Idempotency-Key)
 *   GET   /                 own orders, newest first (admins: all, ?user_id)
 *   GET   /{id}             one order (owner or admin; others get 404)
 *   POST  /{id}/cancel      owner or admin: from pending/placed/confirmed/packed
 *   PATCH /{id}/status      admin: confirmed → packed → out_for_delivery → delivered
 *   GET   /{id}/events      server-sent events of status changes
 *
 * Queue consumers `order` and `delivery` and the reconciler run in
 * processes with the worker role. Needs db, redis and queue in the config;
 * reads carts (../cart/cart_key.h) and updates products
 * (../product/product_doc.h). README.md has the whole story. */
#include <stdlib.h>
#include <curl/curl.h>

#include "order.h"

static const char schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    " \"pending_timeout_ms\": {\"type\": \"integer\", \"minimum\": 200, \"maximum\": 86400000, \"default\": 60000},"
    " \"stuck_after_ms\": {\"type\": \"integer\", \"minimum\": 200, \"maximum\": 604800000, \"default\": 300000},"
    " \"reconcile_interval_ms\": {\"type\": \"integer\", \"minimum\": 50, \"maximum\": 3600000, \"default\": 30000},"
    " \"idempotency_ttl_s\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 2592000, \"default\": 86400},"
    " \"sse_heartbeat_s\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600, \"default\": 15},"
    " \"events_channel\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9_.:-]{1,128}$\","
    "  \"default\": \"kirana:order-events\"},"
    " \"order_jobs\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {}, \"properties\": {"
    "  \"queue\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9_.-]{1,100}$\", \"default\": \"order\"},"
    "  \"concurrency\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 256, \"default\": 8},"
    "  \"attempts\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 10},"
    "  \"backoff_ms\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600000, \"default\": 500}}},"
    " \"delivery\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {}, \"properties\": {"
    "  \"queue\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9_.-]{1,100}$\", \"default\": \"delivery\"},"
    "  \"webhook_url\": {\"type\": \"string\", \"pattern\": \"^https?://[^[:space:]]+$\", \"maxLength\": 2048},"
    "  \"timeout_ms\": {\"type\": \"integer\", \"minimum\": 100, \"maximum\": 120000, \"default\": 5000},"
    "  \"concurrency\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 256, \"default\": 4},"
    "  \"attempts\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 8},"
    "  \"backoff_ms\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600000, \"default\": 2000}}}}}";

static long long cfg_int(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* The schema checked the ranges and filled the defaults. */
static void read_config(order_cfg *c, const json_t *cfg)
{
    const json_t *jobs = json_object_get(cfg, "order_jobs"), *dl = json_object_get(cfg, "delivery");
    c->pending_timeout_ms = cfg_int(cfg, "pending_timeout_ms");
    c->stuck_after_ms = cfg_int(cfg, "stuck_after_ms");
    c->reconcile_interval_ms = cfg_int(cfg, "reconcile_interval_ms");
    c->idem_ttl_ms = cfg_int(cfg, "idempotency_ttl_s") * 1000;
    c->sse_heartbeat_s = (int)cfg_int(cfg, "sse_heartbeat_s");
    c->channel = json_string_value(json_object_get(cfg, "events_channel"));
    c->order_queue = json_string_value(json_object_get(jobs, "queue"));
    c->order_concurrency = (int)cfg_int(jobs, "concurrency");
    c->order_attempts = (int)cfg_int(jobs, "attempts");
    c->order_backoff_ms = cfg_int(jobs, "backoff_ms");
    c->delivery_queue = json_string_value(json_object_get(dl, "queue"));
    c->webhook_url = json_string_value(json_object_get(dl, "webhook_url"));
    c->webhook_timeout_ms = cfg_int(dl, "timeout_ms");
    c->delivery_concurrency = (int)cfg_int(dl, "concurrency");
    c->delivery_attempts = (int)cfg_int(dl, "attempts");
    c->delivery_backoff_ms = cfg_int(dl, "backoff_ms");
}

static int add_index(kr_coll *c, const char *name, unsigned flags, json_t *keys)
{
    int rc = keys != NULL ? kr_db_create_index(c, keys, flags, name) : KR_ENOMEM;
    json_decref(keys);
    return rc;
}

static int create_indexes(order_state *st)
{
    int rc;
    /* lists (own newest first; admin all), the reconciler's scans, and the
     * one-record-per-key rule of Idempotency-Key */
    if ((rc = add_index(st->orders, "user_created", 0, json_pack("{sisisi}", OD_USER, 1, OD_CREATED, -1, OD_ID, -1))) <
            0 ||
        (rc = add_index(st->orders, "created", 0, json_pack("{sisi}", OD_CREATED, -1, OD_ID, -1))) < 0 ||
        (rc = add_index(st->orders, "status_updated", 0, json_pack("{sisi}", OD_STATUS, 1, OD_UPDATED, 1))) < 0 ||
        (rc = add_index(st->idem, "user_key", KR_DB_UNIQUE, json_pack("{sisi}", "user_id", 1, "key", 1))) < 0 ||
        (rc = add_index(st->idem, "expires", 0, json_pack("{si}", "expires_ms", 1))) < 0 ||
        (rc = add_index(st->products, "order_reserved", 0, json_pack("{si}", PD_RESERVED, 1))) < 0 ||
        (rc = add_index(st->products, "order_committed", 0, json_pack("{si}", PD_COMMITTED, 1))) < 0)
        return rc;
    return KR_OK;
}

static int add_routes(kr_plugin_ctx *ctx, order_state *st)
{
    int rc;
    if ((rc = kr_route_add(ctx, "POST", "/", KR_AUTH_USER, order_h_place, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/", KR_AUTH_USER, order_h_list, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/{id}", KR_AUTH_USER, order_h_get, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/{id}/cancel", KR_AUTH_USER, order_h_cancel, st)) < 0 ||
        (rc = kr_route_add(ctx, "PATCH", "/{id}/status", KR_AUTH_ADMIN, order_h_status, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/{id}/events", KR_AUTH_USER, order_h_events, st)) < 0)
        return rc;
    return kr_openapi_add(ctx, kr_plugin_openapi_json); /* openapi.json */
}

static void counters(kr_plugin_ctx *ctx, order_state *st)
{
    st->placed = kr_metrics_counter(ctx, "orders_placed_total", "Orders placed", NULL);
    st->out_of_stock = kr_metrics_counter(ctx, "orders_out_of_stock_total", "Placements refused for stock", NULL);
    st->cancelled = kr_metrics_counter(ctx, "orders_cancelled_total", "Orders cancelled (any reason)", NULL);
    st->replays = kr_metrics_counter(ctx, "orders_idempotent_replays_total", "Answers replayed for a key", NULL);
    st->repairs = kr_metrics_counter(ctx, "orders_reconciler_repairs_total", "Repairs made by the reconciler", NULL);
}

static void free_state(order_state *st)
{
    order_events_fini(st);
    free(st);
    curl_global_cleanup();
}

static int init(kr_plugin_ctx *ctx)
{
    kr_db *db = kr_ctx_db(ctx);
    kr_redis *redis = kr_ctx_redis(ctx);
    kr_queue *queue = kr_ctx_queue(ctx);
    if (db == NULL || redis == NULL || queue == NULL) {
        kr_log(ctx, KR_LOG_ERROR, "order needs a database, Redis and a queue: set db.uri, redis.url and queue.redis");
        return KR_EINVAL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        kr_log(ctx, KR_LOG_ERROR, "order: libcurl failed to initialise");
        return KR_EINTERNAL;
    }
    order_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        curl_global_cleanup();
        return KR_ENOMEM;
    }
    st->ctx = ctx;
    st->redis = redis;
    st->queue = queue;
    read_config(&st->cfg, kr_ctx_config(ctx));
    st->orders = kr_db_coll(db, ORDER_COLL);
    st->products = kr_db_coll(db, PRODUCT_COLL);
    st->idem = kr_db_coll(db, ORDER_IDEM_COLL);
    counters(ctx, st);
    int rc = st->orders != NULL && st->products != NULL && st->idem != NULL ? create_indexes(st) : KR_EINTERNAL;
    if (rc < 0)
        kr_log(ctx, KR_LOG_ERROR, "order: creating indexes failed: %s", kr_errmsg(ctx));
    if (rc == KR_OK)
        rc = add_routes(ctx, st);
    /* ignored (recorded only) in processes without the worker role */
    if (rc == KR_OK)
        rc = kr_queue_consume(ctx, st->cfg.order_queue, st->cfg.order_concurrency, order_consume_order, st);
    if (rc == KR_OK)
        rc = kr_queue_consume(ctx, st->cfg.delivery_queue, st->cfg.delivery_concurrency, order_consume_delivery, st);
    /* streams are served where requests are */
    if (rc == KR_OK && kr_ctx_has_role(ctx, "http") && (rc = order_events_init(st)) < 0)
        kr_log(ctx, KR_LOG_ERROR, "order: subscribing to %s failed: %s", st->cfg.channel, kr_errmsg(ctx));
    /* the loader runs fini only after a successful init */
    if (rc < 0) {
        free_state(st);
        return rc;
    }
    kr_ctx_set_state(ctx, st);
    return KR_OK;
}

static int start(kr_plugin_ctx *ctx)
{
    order_state *st = kr_ctx_state(ctx);
    if (!kr_ctx_has_role(ctx, "worker"))
        return KR_OK;
    int rc = order_reconciler_start(st);
    if (rc < 0)
        kr_log(ctx, KR_LOG_ERROR, "order: the reconciler thread did not start");
    return rc;
}

static void stop(kr_plugin_ctx *ctx)
{
    order_reconciler_stop(kr_ctx_state(ctx));
}

static void fini(kr_plugin_ctx *ctx)
{
    free_state(kr_ctx_state(ctx));
}

static const kr_plugin descriptor = {
    KR_PLUGIN_HEADER, .name = "order", .version = "1.0.0", .config_schema = schema,
    .init = init,     .start = start,  .stop = stop,       .fini = fini,
};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void)
{
    return &descriptor;
}
