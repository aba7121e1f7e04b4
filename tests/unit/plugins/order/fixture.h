/* order.so unit tests: a fake host with the plugin loaded, products in the
 * fake DB, carts in the fake Redis, and the checks every test repeats. */
#ifndef ORDER_TEST_FIXTURE_H
#define ORDER_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"
#include "order.h"

static const kr_principal alice = {.user_id = "alice", .role = "user"};
static const kr_principal bob = {.user_id = "bob", .role = "user"};
static const kr_principal boss = {.user_id = "boss", .role = "admin"};

#define ADDRESS_MEMBER "\"address\":{\"line1\":\"12 MG Road\",\"city\":\"Bengaluru\",\"pincode\":\"560001\"}"
#define ADDRESS "{" ADDRESS_MEMBER "}"

typedef struct fixture {
    kr_fakehost *fh;
    kr_plugin_ctx *ctx;
    order_state *st;
    kr_fake_response r;
} fixture;

static inline kr_coll *coll(fixture *f, const char *name)
{
    return kr_db_coll(kr_fakehost_db(f->fh), name);
}

static inline json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("bad JSON in a test: %s: %s", err.text, text);
    return j;
}

/* A product with stock and the bookkeeping product.so initialises. */
static inline void product(fixture *f, const char *id, long long price, long long stock)
{
    json_t *d =
        json_pack("{sssssIsIsisisis[]s[]sb}", "_id", id, "name", id, "price", (json_int_t)price, "stock",
                  (json_int_t)stock, "reserved", 0, "committed", 0, "shipped", 0, "holds", "commits", "active", 1);
    assert_int_equal(kr_db_insert_one(coll(f, PRODUCT_COLL), d, NULL), 0);
    json_decref(d);
}

static inline json_t *product_doc(fixture *f, const char *id)
{
    json_t *filter = json_pack("{ss}", "_id", id), *doc = NULL;
    assert_int_equal(kr_db_find_one(coll(f, PRODUCT_COLL), filter, NULL, NULL, &doc), 0);
    json_decref(filter);
    return doc;
}

static inline long long num(const json_t *doc, const char *k)
{
    return (long long)json_integer_value(json_object_get(doc, k));
}

/* Asserts the counters of a product and the identity with total. */
static inline void stock_is(fixture *f, const char *id, long long total, long long stock, long long reserved,
                            long long committed, long long shipped)
{
    json_t *p = product_doc(f, id);
    assert_int_equal(num(p, "stock"), stock);
    assert_int_equal(num(p, "reserved"), reserved);
    assert_int_equal(num(p, "committed"), committed);
    assert_int_equal(num(p, "shipped"), shipped);
    assert_int_equal(stock + reserved + committed + shipped, total);
    long long held = 0, comm = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(p, "holds"), i, e) held += num(e, "qty");
    json_array_foreach(json_object_get(p, "commits"), i, e) comm += num(e, "qty");
    assert_int_equal(held, reserved);
    assert_int_equal(comm, committed);
    json_decref(p);
}

static inline void cart(fixture *f, const char *user, const char *product_id, const char *qty)
{
    char key[64];
    snprintf(key, sizeof(key), "cart:%s", user);
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, "HSET", key, product_id, qty, NULL), 0);
    kr_redis_reply_free(r);
}

static inline long long cart_len(fixture *f, const char *user)
{
    char key[64];
    snprintf(key, sizeof(key), "cart:%s", user);
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, "HLEN", key, NULL), 0);
    long long n = r->integer;
    kr_redis_reply_free(r);
    return n;
}

static inline int req(fixture *f, const char *method, const char *path, const char *body, const kr_principal *as)
{
    kr_fake_response_free(&f->r);
    return kr_fakehost_request(f->fh, method, path, NULL, body, as, &f->r);
}

/* POST /orders with an Idempotency-Key (NULL: none). */
static inline int place(fixture *f, const kr_principal *as, const char *key, const char *body)
{
    char h[320];
    snprintf(h, sizeof(h), "Idempotency-Key: %s", key != NULL ? key : "");
    const char *headers[] = {h, NULL};
    kr_fake_response_free(&f->r);
    return kr_fakehost_request(f->fh, "POST", "/orders", key != NULL ? headers : NULL, body, as, &f->r);
}

static inline const char *str(const json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

/* The status of an order in the DB. */
static inline const char *status_of(fixture *f, const char *id, char *buf, size_t n)
{
    json_t *doc;
    assert_int_equal(order_load(f->st, id, &doc), 0);
    snprintf(buf, n, "%s", str(doc, "status"));
    json_decref(doc);
    return buf;
}

/* A loaded plugin with a reconciler that never wakes on its own (tests
 * call order_reconcile_once). config_json may be NULL. */
static inline fixture *fixture_new(const char *config_json)
{
    fixture *f = calloc(1, sizeof(*f));
    f->fh = kr_fakehost_new();
    json_t *cfg = parse(config_json != NULL ? config_json : "{}");
    if (json_object_get(cfg, "reconcile_interval_ms") == NULL)
        json_object_set_new(cfg, "reconcile_interval_ms", json_integer(3600000));
    f->ctx = kr_fakehost_load(f->fh, kr_plugin_entry(), "/orders", cfg);
    json_decref(cfg);
    if (f->ctx == NULL)
        fail_msg("load: %s", kr_fakehost_error(f->fh));
    f->st = kr_ctx_state(f->ctx);
    return f;
}

static inline void fixture_free(fixture *f)
{
    kr_fake_response_free(&f->r);
    kr_fakehost_free(f->fh);
    free(f);
}

static inline int setup(void **state)
{
    *state = fixture_new(NULL);
    return 0;
}

static inline int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

#endif
