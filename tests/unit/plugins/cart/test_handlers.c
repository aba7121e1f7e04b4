/* cart.so's routes through the fake host: reading and pricing a cart,
 * ownership, sliding expiry, what is refused before Redis is touched, and
 * dependency failures. The change script itself needs a real Redis (the
 * fake host has no Lua): tests/integration/cart covers it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

#include "plugins/cart/cart.c"
#include "plugins/cart/catalog.c"
#include "plugins/cart/handlers.c"
#include "plugins/cart/store.c"
#include "plugins/cart/validate.c"
#include "plugins/cart/view.c"

static const kr_principal alice = {.user_id = "alice", .role = "user"};
static const kr_principal bob = {.user_id = "bob", .role = "user"};

typedef struct fixture {
    kr_fakehost *fh;
    kr_fake_response r;
} fixture;

static void redis(fixture *f, const char *a0, const char *a1, const char *a2, const char *a3)
{
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, a0, a1, a2, a3, NULL), 0);
    kr_redis_reply_free(r);
}

static void product(fixture *f, const char *doc)
{
    json_error_t err;
    json_t *d = json_loads(doc, 0, &err);
    assert_non_null(d);
    assert_int_equal(kr_db_insert_one(kr_db_coll(kr_fakehost_db(f->fh), "products"), d, NULL), 0);
    json_decref(d);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->fh = kr_fakehost_new();
    json_t *cfg = json_pack("{si}", "ttl_seconds", 3600);
    assert_non_null(kr_fakehost_load(f->fh, kr_plugin_entry(), "/cart", cfg));
    json_decref(cfg);
    product(f, "{\"_id\":\"milk\",\"name\":\"Milk\",\"price\":3000,\"stock\":10,\"active\":true}");
    product(f, "{\"_id\":\"curd\",\"name\":\"Curd\",\"price\":4000,\"stock\":10,\"active\":false}");
    product(f, "{\"_id\":\"eggs\",\"name\":\"Eggs\",\"price\":700,\"stock\":2,\"active\":true}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kr_fake_response_free(&f->r);
    kr_fakehost_free(f->fh);
    free(f);
    return 0;
}

static int req(fixture *f, const char *method, const char *path, const char *body, const kr_principal *as)
{
    kr_fake_response_free(&f->r);
    return kr_fakehost_request(f->fh, method, path, NULL, body, as, &f->r);
}

static void defaults_come_from_the_schema(void **state)
{
    (void)state;
    kr_fakehost *fh = kr_fakehost_new();
    kr_plugin_ctx *ctx = kr_fakehost_load(fh, kr_plugin_entry(), "/cart", NULL);
    assert_non_null(ctx);
    cart_state *st = kr_ctx_state(ctx);
    assert_int_equal(st->ttl_ms, 30LL * 24 * 3600 * 1000);
    assert_int_equal(st->max_qty, 20);
    assert_int_equal(st->max_lines, 50);
    kr_fakehost_free(fh);
}

static void empty_cart(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    json_error_t err;
    json_t *want = json_loads("{\"items\":[],\"total\":0,\"currency\":\"INR\"}", 0, &err);
    assert_true(json_equal(f->r.json, want));
    json_decref(want);
}

static void cart_is_priced_from_the_catalogue_now(void **state)
{
    fixture *f = *state;
    redis(f, "HSET", "cart:alice", "milk", "2");
    redis(f, "HSET", "cart:alice", "curd", "1");
    redis(f, "HSET", "cart:alice", "eggs", "3");
    redis(f, "HSET", "cart:alice", "gone", "1");
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    json_t *items = json_object_get(f->r.json, "items");
    assert_int_equal(json_array_size(items), 4);
    /* sorted by product id: curd eggs gone milk */
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 3), "product_id")), "milk");
    assert_true(json_is_true(json_object_get(json_array_get(items, 3), "available")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 3), "line_total")), 6000);
    assert_true(json_is_false(json_object_get(json_array_get(items, 0), "available"))); /* inactive */
    assert_true(json_is_false(json_object_get(json_array_get(items, 1), "available"))); /* 3 > stock 2 */
    assert_true(json_is_false(json_object_get(json_array_get(items, 2), "available"))); /* no such product */
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "total")), 6000);

    /* a price change shows at once */
    json_t *filter = json_pack("{ss}", "_id", "milk"), *update = json_pack("{s{si}}", "$set", "price", 3500);
    assert_int_equal(kr_db_update_one(kr_db_coll(kr_fakehost_db(f->fh), "products"), filter, update, 0, NULL), 0);
    json_decref(filter);
    json_decref(update);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "total")), 7000);
}

static void users_see_only_their_own_cart(void **state)
{
    fixture *f = *state;
    redis(f, "HSET", "cart:alice", "milk", "2");
    assert_int_equal(req(f, "GET", "/cart", NULL, &bob), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);
    assert_int_equal(req(f, "DELETE", "/cart", NULL, &bob), 200);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 1);
    /* anonymous callers are refused before any handler runs */
    assert_int_equal(req(f, "GET", "/cart", NULL, NULL), 401);
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":1}", NULL), 401);
}

static void reading_renews_the_expiry(void **state)
{
    fixture *f = *state;
    redis(f, "HSET", "cart:alice", "milk", "2");
    redis(f, "PEXPIRE", "cart:alice", "1000", NULL);
    kr_fakehost_advance(f->fh, 900);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, "PTTL", "cart:alice", NULL), 0);
    assert_int_equal(r->integer, 3600 * 1000);
    kr_redis_reply_free(r);
    /* an idle cart goes away */
    kr_fakehost_advance(f->fh, 3600 * 1000 + 1);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);
}

static void clear_empties_the_cart(void **state)
{
    fixture *f = *state;
    redis(f, "HSET", "cart:alice", "milk", "2");
    assert_int_equal(req(f, "DELETE", "/cart", NULL, &alice), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, "EXISTS", "cart:alice", NULL), 0);
    assert_int_equal(r->integer, 0);
    kr_redis_reply_free(r);
}

static void refusals_before_redis(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":0}", &alice), 400);
    assert_string_equal(json_string_value(json_object_get(f->r.json, "code")), "validation_failed");
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":\"1\"}", &alice), 400);
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":1.0}", &alice), 400);
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":-2}", &alice), 400);
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":99999999999}", &alice), 400);
    assert_int_equal(req(f, "POST", "/cart/items", "not json", &alice), 400);
    assert_int_equal(req(f, "PUT", "/cart/items/milk", "{\"qty\":-1}", &alice), 400);
    assert_int_equal(req(f, "PUT", "/cart/items/milk", "{\"qty\":1,\"product_id\":\"x\"}", &alice), 400);
    /* unknown or inactive products: 404 */
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"nope\",\"qty\":1}", &alice), 404);
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"curd\",\"qty\":1}", &alice), 404);
    assert_int_equal(req(f, "PUT", "/cart/items/curd", "{\"qty\":1}", &alice), 404);
    assert_int_equal(req(f, "PUT", "/cart/items/nope", "{\"qty\":2}", &alice), 404);
    /* nothing reached Redis */
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, "EXISTS", "cart:alice", NULL), 0);
    assert_int_equal(r->integer, 0);
    kr_redis_reply_free(r);
}

static void redis_error_replies_are_500_and_logged(void **state)
{
    fixture *f = *state;
    /* the fake host answers SCRIPT and EVAL with error replies, as a Redis
     * with scripting disabled would */
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":1}", &alice), 500);
    assert_true(kr_fakehost_log_count(f->fh, KR_LOG_ERROR, "cart: SCRIPT LOAD") >= 1);
    /* a cart key of another type */
    redis(f, "SET", "cart:bob", "x", NULL);
    assert_int_equal(req(f, "GET", "/cart", NULL, &bob), 500);
    assert_true(kr_fakehost_log_count(f->fh, KR_LOG_ERROR, "cart: HGETALL") >= 1);
}

static void outages_are_503(void **state)
{
    fixture *f = *state;
    redis(f, "HSET", "cart:alice", "milk", "2");
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "POST", "/cart/items", "{\"product_id\":\"milk\",\"qty\":1}", &alice), 503);
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "DELETE", "/cart", NULL, &alice), 503);
    assert_int_equal(req(f, "GET", "/cart", NULL, &alice), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_come_from_the_schema),
        cmocka_unit_test_setup_teardown(empty_cart, setup, teardown),
        cmocka_unit_test_setup_teardown(cart_is_priced_from_the_catalogue_now, setup, teardown),
        cmocka_unit_test_setup_teardown(users_see_only_their_own_cart, setup, teardown),
        cmocka_unit_test_setup_teardown(reading_renews_the_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(clear_empties_the_cart, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_before_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(redis_error_replies_are_500_and_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(outages_are_503, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
