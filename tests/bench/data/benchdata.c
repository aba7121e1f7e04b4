/* benchdata: the routes the data benchmark measures — one kr_db_find_one by
 * id, one Redis HGETALL — so h2load sees the whole path (loop → pool → SDK
 * call → answer). Only for tests/bench/data/run.sh. */
#include <kirana/kirana.h>
#include <stdlib.h>

typedef struct state {
    kr_coll *docs;
    kr_redis *redis;
} state;

static int get_doc(kr_req *req, void *u)
{
    state *st = u;
    json_t *filter = json_pack("{s:s}", "_id", kr_req_param(req, "id"));
    json_t *doc = NULL;
    int rc = kr_db_find_one(st->docs, filter, NULL, NULL, &doc);
    json_decref(filter);
    if (rc < 0)
        return rc;
    return kr_reply_json(req, 200, doc);
}

static int get_hash(kr_req *req, void *u)
{
    state *st = u;
    kr_redis_reply *r = NULL;
    int rc = kr_redis_command(st->redis, &r, "HGETALL", kr_req_param(req, "key"), NULL);
    if (rc < 0)
        return rc;
    json_t *o = json_object();
    for (size_t i = 0; r->type == KR_REDIS_ARRAY && i + 1 < r->elements; i += 2)
        json_object_set_new(o, r->element[i]->str, json_stringn(r->element[i + 1]->str, r->element[i + 1]->len));
    kr_redis_reply_free(r);
    return kr_reply_json(req, 200, o);
}

static int put_doc(kr_req *req, void *u)
{
    state *st = u;
    json_t *body;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc;
    if ((rc = kr_db_insert_one(st->docs, body, NULL)) < 0)
        return rc;
    return kr_reply(req, 204, NULL, NULL, 0);
}

static int init(kr_plugin_ctx *ctx)
{
    if (kr_ctx_db(ctx) == NULL || kr_ctx_redis(ctx) == NULL)
        return KR_EINVAL;
    state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KR_ENOMEM;
    kr_ctx_set_state(ctx, st);
    st->docs = kr_db_coll(kr_ctx_db(ctx), "bench_docs");
    st->redis = kr_ctx_redis(ctx);
    int rc;
    if ((rc = kr_route_add(ctx, "GET", "/doc/{id}", KR_AUTH_NONE, get_doc, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/doc", KR_AUTH_NONE, put_doc, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/hash/{key}", KR_AUTH_NONE, get_hash, st)) < 0)
        return rc;
    return KR_OK;
}

static void fini(kr_plugin_ctx *ctx) { free(kr_ctx_state(ctx)); }

static const kr_plugin d = {KR_PLUGIN_HEADER, .name = "benchdata", .version = "0", .init = init, .fini = fini};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void) { return &d; }
