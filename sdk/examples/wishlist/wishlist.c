/* wishlist: a realistic kirana plugin, and the worked example of
 * sdk/README.md. Each user keeps a list of products to buy later.
 *
 *   GET    /                      the caller's wishlist, newest first, with
 *                                 each product's current name, price and
 *                                 availability
 *   POST   /items {product_id, note?}  201 with the entry (200 if already there)
 *   DELETE /items/{product_id}    204, or 404 when not in the list
 *   GET    /popular               most-wished products (config popular: true)
 *
 * Every route needs a logged-in user (KR_AUTH_USER): the list is always the
 * caller's own, keyed by the principal, never by anything in the request.
 *
 * Storage: collection `wishlists`, one document per entry
 * {_id, user, product, note, added_at}, with a unique index on (user,
 * product). Products are read from product.so's `products` collection
 * ({_id, name, price, stock, active}); a product that is unknown or inactive
 * cannot be added (404).
 *
 * Popularity (optional): each change enqueues a `recount` job on queue
 * `wishlist`; its consumer (worker role) counts the product's wishes in the
 * DB and stores the count in the Redis sorted set `wishlist:popular`.
 *
 * Built in tree by sdk/CMakeLists.txt and out of tree by the Makefile beside
 * this file (pkg-config kirana-sdk).
 */
#include <kirana/kirana.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WL_COLL "wishlists"
#define WL_PRODUCTS "products"
#define WL_QUEUE "wishlist"
#define WL_POPULAR_KEY "wishlist:popular"
#define WL_ID_MAX 64
/* A recount that keeps seeing the count move gives up and is retried by the
 * queue after its backoff. */
#define WL_RECOUNT_TRIES 5

typedef struct wl_state {
    kr_plugin_ctx *ctx;
    kr_coll *items;    /* wishlists */
    kr_coll *products; /* product.so's, read only */
    kr_redis *redis;   /* NULL unless popular */
    kr_queue *queue;   /* NULL unless popular */
    json_int_t max_items;
    json_int_t note_max;
    json_int_t popular_top;
    int popular;
    kr_counter *added;
    kr_counter *removed;
    kr_counter *full;
} wl_state;

static const char schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    " \"max_items\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, \"default\": 100},"
    " \"note_max_length\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 500, \"default\": 140},"
    " \"popular\": {\"type\": \"boolean\", \"default\": false},"
    " \"popular_top\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 10}}}";

/* --- small helpers --- */

/* Ids go into paths and Location headers unescaped, so only URL-safe ones
 * (product.so generates 24 hex digits) can be wished for. */
static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

/* Code points of a UTF-8 string (jansson only hands out valid UTF-8), or -1
 * when it holds a control character. */
static long note_length(const char *s)
{
    long n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return -1;
        if ((*p & 0xc0) != 0x80)
            n++;
    }
    return n;
}

static json_t *now_iso(void)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char buf[40];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return json_string(buf);
}

static const char *user_of(const kr_req *req)
{
    return kr_req_principal(req)->user_id;
}

/* What a client sees of one entry. product may be NULL (deleted since). */
static json_t *entry_view(const json_t *entry, const json_t *product)
{
    json_t *price = json_object_get(product, "price");
    int available =
        json_is_true(json_object_get(product, "active")) && json_integer_value(json_object_get(product, "stock")) > 0;
    return json_pack("{s:O, s:O?, s:O?, s:b, s:O?, s:O}", "product_id", json_object_get(entry, "product"), "name",
                     json_object_get(product, "name"), "price", price, "available", available, "note",
                     json_object_get(entry, "note"), "added_at", json_object_get(entry, "added_at"));
}

/* The active product with this id, or KR_ENOTFOUND. *out caller-owned. */
static int active_product(wl_state *st, const char *id, json_t **out)
{
    json_t *filter = json_pack("{s:s, s:b}", "_id", id, "active", 1);
    json_t *proj = json_pack("{s:i, s:i, s:i, s:i}", "name", 1, "price", 1, "stock", 1, "active", 1);
    int rc = filter != NULL && proj != NULL ? kr_db_find_one(st->products, filter, NULL, proj, out) : KR_ENOMEM;
    json_decref(filter);
    json_decref(proj);
    return rc;
}

static int count_of(wl_state *st, const char *field, const char *value, int64_t *n)
{
    json_t *filter = json_pack("{s:s}", field, value);
    int rc = filter != NULL ? kr_db_count(st->items, filter, n) : KR_ENOMEM;
    json_decref(filter);
    return rc;
}

/* Asks a worker to recount a product's wishes. Best effort: the wish itself
 * is saved, and the next change of this product recounts it anyway. */
static void enqueue_recount(wl_state *st, const kr_req *req, const char *product)
{
    if (!st->popular)
        return;
    json_t *data = json_pack("{s:s}", "product", product);
    json_t *opts = json_pack("{s:i, s:{s:s, s:i}, s:b, s:i}", "attempts", 5, "backoff", "type", "exponential", "delay",
                             1000, "removeOnComplete", 1, "removeOnFail", 100);
    int rc = data != NULL && opts != NULL ? kr_queue_add(st->queue, WL_QUEUE, "recount", data, opts, NULL) : KR_ENOMEM;
    if (rc < 0)
        kr_req_log(req, KR_LOG_WARN, "recount of %s not queued: %s", product, kr_errmsg(st->queue));
    json_decref(data);
    json_decref(opts);
}

/* --- validation --- */

/* Checks a POST /items body; fills *errors (kr_invalid_add) on failure. */
static int validate_add(const wl_state *st, const json_t *body, const char **product, const char **note,
                        json_t **errors)
{
    *product = NULL;
    *note = NULL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "product_id") != 0 && strcmp(key, "note") != 0)
            kr_invalid_add(errors, key, "not a known field");
    }
    v = json_object_get(body, "product_id");
    if (v == NULL)
        kr_invalid_add(errors, "product_id", "required");
    else if (!json_is_string(v))
        kr_invalid_add(errors, "product_id", "must be a string");
    else if (!valid_id(json_string_value(v)))
        kr_invalid_add(errors, "product_id", "not a product id");
    else
        *product = json_string_value(v);
    v = json_object_get(body, "note");
    if (v == NULL || json_is_null(v))
        return *errors == NULL ? KR_OK : KR_EINVAL;
    long len = json_is_string(v) ? note_length(json_string_value(v)) : 0;
    if (!json_is_string(v))
        kr_invalid_add(errors, "note", "must be a string or null");
    else if (st->note_max == 0)
        kr_invalid_add(errors, "note", "notes are turned off");
    else if (len < 0)
        kr_invalid_add(errors, "note", "must not contain control characters");
    else if (len > st->note_max)
        kr_invalid_add(errors, "note", "too long");
    else
        *note = json_string_value(v);
    return *errors == NULL ? KR_OK : KR_EINVAL;
}

/* --- handlers (worker threads) --- */

static int h_list(kr_req *req, void *udata)
{
    wl_state *st = udata;
    json_t *filter = json_pack("{s:s}", "user", user_of(req));
    json_t *sort = json_pack("{s:i, s:i}", "added_at", -1, "_id", -1);
    json_t *entries = NULL;
    int rc = filter != NULL && sort != NULL ? kr_db_find(st->items, filter, sort, NULL, 0, st->max_items, &entries)
                                            : KR_ENOMEM;
    json_decref(filter);
    json_decref(sort);
    if (rc < 0)
        return rc;
    /* one $in read for every product of the list, whatever its length */
    json_t *ids = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        json_array_append(ids, json_object_get(e, "product"));
    }
    json_t *pfilter = json_pack("{s:{s:o}}", "_id", "$in", ids);
    json_t *proj = json_pack("{s:i, s:i, s:i, s:i}", "name", 1, "price", 1, "stock", 1, "active", 1);
    json_t *products = NULL;
    rc = pfilter != NULL && proj != NULL ? kr_db_find(st->products, pfilter, NULL, proj, 0, 0, &products) : KR_ENOMEM;
    json_decref(pfilter);
    json_decref(proj);
    if (rc < 0) {
        json_decref(entries);
        return rc;
    }
    json_t *by_id = json_object();
    json_t *p;
    json_array_foreach(products, i, p)
    {
        json_object_set(by_id, json_string_value(json_object_get(p, "_id")), p);
    }
    json_t *items = json_array();
    json_array_foreach(entries, i, e)
    {
        const char *product = json_string_value(json_object_get(e, "product"));
        json_array_append_new(items, entry_view(e, json_object_get(by_id, product)));
    }
    json_t *out = json_pack("{s:o, s:I, s:I}", "items", items, "count", (json_int_t)json_array_size(entries),
                            "max_items", st->max_items);
    json_decref(by_id);
    json_decref(products);
    json_decref(entries);
    return out != NULL ? kr_reply_json(req, 200, out) : KR_ENOMEM;
}

/* The caller's entry for product, or KR_ENOTFOUND. *out caller-owned. */
static int find_entry(wl_state *st, const char *user, const char *product, json_t **out)
{
    json_t *filter = json_pack("{s:s, s:s}", "user", user, "product", product);
    int rc = filter != NULL ? kr_db_find_one(st->items, filter, NULL, NULL, out) : KR_ENOMEM;
    json_decref(filter);
    return rc;
}

static int reply_full(kr_req *req, wl_state *st)
{
    kr_counter_add(st->full, 1);
    return kr_reply_problem(req, 409, "wishlist_full",
                            kr_req_printf(req, "a wishlist holds at most %lld products", (long long)st->max_items),
                            json_pack("{s:I}", "max_items", st->max_items));
}

/* Inserts the caller's new entry within the limit: KR_ELIMIT when the list
 * is full, KR_EDUPLICATE when a concurrent add of the same product won the
 * unique index. */
static int insert_entry(wl_state *st, const char *user, const json_t *entry)
{
    int64_t n = 0;
    int rc = count_of(st, "user", user, &n);
    if (rc < 0)
        return rc;
    if (n >= st->max_items)
        return KR_ELIMIT;
    char *id = NULL;
    if ((rc = kr_db_insert_one(st->items, entry, &id)) < 0)
        return rc;
    /* No transactions: a concurrent add may have passed the same count.
     * Count again after inserting and take ours back when over the limit,
     * so the limit holds (both racers may be refused; a retry is fine). A
     * DB error here leaves the entry in, which a retried add then finds. */
    if ((rc = count_of(st, "user", user, &n)) == KR_OK && n > st->max_items) {
        json_t *mine = json_pack("{s:s}", "_id", id);
        rc = mine != NULL ? kr_db_delete_one(st->items, mine, NULL) : KR_ENOMEM;
        json_decref(mine);
        if (rc == KR_OK)
            rc = KR_ELIMIT;
    }
    free(id);
    return rc;
}

static int h_add(kr_req *req, void *udata)
{
    wl_state *st = udata;
    json_t *body, *errors = NULL;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    const char *product, *note;
    if (validate_add(st, body, &product, &note, &errors) < 0)
        return kr_reply_invalid(req, errors);
    const char *user = user_of(req);

    json_t *doc;
    rc = active_product(st, product, &doc);
    if (rc == KR_ENOTFOUND)
        return kr_reply_error(req, KR_ENOTFOUND, "no such product");
    if (rc < 0)
        return rc;

    /* Adding twice is not an error: a retried request gets the entry, 200. */
    int created = 0;
    json_t *entry = NULL;
    rc = find_entry(st, user, product, &entry);
    if (rc == KR_ENOTFOUND) {
        entry =
            json_pack("{s:s, s:s, s:s?, s:o}", "user", user, "product", product, "note", note, "added_at", now_iso());
        rc = entry != NULL ? insert_entry(st, user, entry) : KR_ENOMEM;
        created = rc == KR_OK;
        if (rc == KR_EDUPLICATE) {
            json_decref(entry);
            entry = NULL;
            rc = find_entry(st, user, product, &entry);
        }
    }
    if (rc == KR_OK && created) {
        kr_counter_add(st->added, 1);
        enqueue_recount(st, req, product);
        rc = kr_resp_header(req, "location", kr_req_printf(req, "%s/items/%s", kr_ctx_mount(st->ctx), product));
    }
    if (rc == KR_OK)
        rc = kr_reply_json(req, created ? 201 : 200, entry_view(entry, doc));
    else if (rc == KR_ELIMIT)
        rc = reply_full(req, st);
    json_decref(entry);
    json_decref(doc);
    return rc;
}

static int h_remove(kr_req *req, void *udata)
{
    wl_state *st = udata;
    const char *product = kr_req_param(req, "product_id");
    /* a product deleted from the catalogue can still be taken out */
    json_t *filter = json_pack("{s:s, s:s}", "user", user_of(req), "product", product);
    int64_t deleted = 0;
    int rc = filter != NULL ? kr_db_delete_one(st->items, filter, &deleted) : KR_ENOMEM;
    json_decref(filter);
    if (rc < 0)
        return rc;
    if (deleted == 0)
        return kr_reply_error(req, KR_ENOTFOUND, "not in your wishlist");
    kr_counter_add(st->removed, 1);
    enqueue_recount(st, req, product);
    return kr_reply(req, 204, NULL, NULL, 0);
}

/* Scores are stored negated so that an ascending ZRANGE, which every Redis
 * version has, reads the most-wished products first. */
static int h_popular(kr_req *req, void *udata)
{
    wl_state *st = udata;
    char stop[24];
    snprintf(stop, sizeof(stop), "%lld", (long long)st->popular_top - 1);
    kr_redis_reply *r = NULL;
    int rc = kr_redis_command(st->redis, &r, "ZRANGE", WL_POPULAR_KEY, "0", stop, "WITHSCORES", NULL);
    if (rc < 0)
        return rc;
    if (r->type != KR_REDIS_ARRAY) {
        kr_req_log(req, KR_LOG_ERROR, "ZRANGE %s: unexpected reply: %s", WL_POPULAR_KEY,
                   r->type == KR_REDIS_ERROR ? r->str : "not an array");
        kr_redis_reply_free(r);
        return KR_EINTERNAL;
    }
    json_t *items = json_array();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_array_append_new(items, json_pack("{s:s, s:I}", "product_id", r->element[i]->str, "wishes",
                                               (json_int_t)-strtoll(r->element[i + 1]->str, NULL, 10)));
    kr_redis_reply_free(r);
    return kr_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

/* --- the consumer (job threads, processes with the worker role) --- */

static int store_count(wl_state *st, const char *product, int64_t n)
{
    char score[24];
    snprintf(score, sizeof(score), "%lld", (long long)-n);
    kr_redis_reply *r = NULL;
    int rc = n > 0 ? kr_redis_command(st->redis, &r, "ZADD", WL_POPULAR_KEY, score, product, NULL)
                   : kr_redis_command(st->redis, &r, "ZREM", WL_POPULAR_KEY, product, NULL);
    if (rc == KR_OK && r->type == KR_REDIS_ERROR)
        rc = KR_EINTERNAL;
    kr_redis_reply_free(r);
    return rc;
}

/* Idempotent: it stores what the DB says now, so running a job twice, or
 * jobs out of order, is harmless. Another worker may store an older count
 * between our read and our write; reading again after the write catches
 * that, and we write until the count holds still across a write. */
static int consume_recount(kr_job *job, void *udata)
{
    wl_state *st = udata;
    const char *product = json_string_value(json_object_get(kr_job_data(job), "product"));
    if (product == NULL || !valid_id(product)) {
        kr_job_set_failure(job, "job data has no valid product");
        kr_job_discard(job); /* retrying cannot fix the data */
        return KR_EINVAL;
    }
    int64_t before = 0, after = 0;
    int rc = count_of(st, "product", product, &before);
    for (int i = 0; rc == KR_OK && i < WL_RECOUNT_TRIES; i++) {
        if ((rc = store_count(st, product, before)) < 0 || (rc = count_of(st, "product", product, &after)) < 0)
            break;
        if (after == before) {
            kr_job_set_result(job, json_pack("{s:s, s:I}", "product", product, "wishes", (json_int_t)after));
            return KR_OK;
        }
        before = after;
    }
    if (rc == KR_OK) {
        kr_job_set_failure(job, "the count kept changing; retried later");
        return KR_ECONFLICT;
    }
    return rc;
}

/* --- lifecycle --- */

static int add_routes(kr_plugin_ctx *ctx, wl_state *st)
{
    int rc;
    if ((rc = kr_route_add(ctx, "GET", "/", KR_AUTH_USER, h_list, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/items", KR_AUTH_USER, h_add, st)) < 0 ||
        (rc = kr_route_add(ctx, "DELETE", "/items/{product_id}", KR_AUTH_USER, h_remove, st)) < 0 ||
        (rc = kr_openapi_add(ctx, kr_plugin_openapi_json)) < 0) /* openapi.json */
        return rc;
    if (!st->popular)
        return KR_OK;
    if ((rc = kr_route_add(ctx, "GET", "/popular", KR_AUTH_USER, h_popular, st)) < 0)
        return rc;
    /* recorded, and ignored in processes without the worker role */
    return kr_queue_consume(ctx, WL_QUEUE, 2, consume_recount, st);
}

static int init(kr_plugin_ctx *ctx)
{
    const json_t *cfg = kr_ctx_config(ctx);
    int popular = json_is_true(json_object_get(cfg, "popular"));
    kr_db *db = kr_ctx_db(ctx);
    if (db == NULL) {
        kr_log(ctx, KR_LOG_ERROR, "wishlist needs a database: set db.uri");
        return KR_EINVAL;
    }
    if (popular && (kr_ctx_redis(ctx) == NULL || kr_ctx_queue(ctx) == NULL)) {
        kr_log(ctx, KR_LOG_ERROR, "wishlist with popular: true needs redis.url and queue.redis");
        return KR_EINVAL;
    }
    wl_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KR_ENOMEM;
    st->ctx = ctx;
    st->items = kr_db_coll(db, WL_COLL);
    st->products = kr_db_coll(db, WL_PRODUCTS);
    /* the loader validated the config and filled in the defaults */
    st->max_items = json_integer_value(json_object_get(cfg, "max_items"));
    st->note_max = json_integer_value(json_object_get(cfg, "note_max_length"));
    st->popular_top = json_integer_value(json_object_get(cfg, "popular_top"));
    st->popular = popular;
    st->redis = popular ? kr_ctx_redis(ctx) : NULL;
    st->queue = popular ? kr_ctx_queue(ctx) : NULL;
    st->added = kr_metrics_counter(ctx, "wishlist_items_added_total", "Products added to wishlists", NULL);
    st->removed = kr_metrics_counter(ctx, "wishlist_items_removed_total", "Products taken out of wishlists", NULL);
    st->full = kr_metrics_counter(ctx, "wishlist_full_total", "Adds refused because the wishlist was full", NULL);
    int rc = st->items != NULL && st->products != NULL && st->added != NULL && st->removed != NULL && st->full != NULL
                 ? add_routes(ctx, st)
                 : KR_EINTERNAL;
    /* the loader calls fini only after a successful init */
    if (rc < 0) {
        free(st);
        return rc;
    }
    kr_ctx_set_state(ctx, st);
    return KR_OK;
}

/* The unique index is what makes "one entry per product" true under
 * concurrent adds, so a process that serves requests refuses to start
 * without it. */
static int start(kr_plugin_ctx *ctx)
{
    wl_state *st = kr_ctx_state(ctx);
    if (!kr_ctx_has_role(ctx, "http"))
        return KR_OK;
    json_t *keys = json_pack("{s:i, s:i}", "user", 1, "product", 1);
    int rc = keys != NULL ? kr_db_create_index(st->items, keys, KR_DB_UNIQUE, "user_product") : KR_ENOMEM;
    json_decref(keys);
    if (rc < 0)
        kr_log(ctx, KR_LOG_ERROR, "cannot create the wishlists (user, product) index: %s", kr_errmsg(st->items));
    return rc;
}

static void fini(kr_plugin_ctx *ctx)
{
    free(kr_ctx_state(ctx));
}

static const kr_plugin descriptor = {
    KR_PLUGIN_HEADER, .name = "wishlist", .version = "1.0.0", .config_schema = schema,
    .init = init,     .start = start,     .fini = fini,
};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void)
{
    return &descriptor;
}
