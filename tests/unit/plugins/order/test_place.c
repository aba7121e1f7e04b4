/* POST /orders through the fake host: the order built from the cart,
 * reservations and shortfalls, the Idempotency-Key records (replay, other
 * body, in use, a dead request resumed) and dependency failures. */
#include "fixture.h"

static const char *location(fixture *f)
{
    return kr_fake_response_header(&f->r, "location");
}

static void places_an_order_from_the_cart(void **state)
{
    fixture *f = *state;
    product(f, "milk", 6400, 10);
    product(f, "eggs", 700, 12);
    cart(f, "alice", "milk", "2");
    cart(f, "alice", "eggs", "6");
    assert_int_equal(place(f, &alice, "k1", "{\"note\":\"hi\"," ADDRESS_MEMBER "}"), 201);
    const json_t *o = f->r.json;
    assert_string_equal(str(o, "status"), "placed");
    assert_string_equal(str(o, "user_id"), "alice");
    assert_string_equal(str(o, "note"), "hi");
    assert_int_equal(num(o, "total"), 2 * 6400 + 6 * 700);
    char want[64];
    snprintf(want, sizeof(want), "/orders/%s", str(o, "id"));
    assert_string_equal(location(f), want);
    /* lines in product-id order, priced by the server */
    const json_t *items = json_object_get(o, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(str(json_array_get(items, 0), "product_id"), "eggs");
    assert_int_equal(num(json_array_get(items, 0), "line_total"), 4200);
    stock_is(f, "milk", 10, 8, 2, 0, 0);
    stock_is(f, "eggs", 12, 6, 6, 0, 0);
    assert_int_equal(cart_len(f, "alice"), 0);

    /* the order job, with jobId = order id */
    json_t *job = kr_fakehost_job(f->fh, "order", str(o, "id"));
    assert_non_null(job);
    assert_string_equal(str(json_object_get(job, "data"), "order_id"), str(o, "id"));
    json_decref(job);
    assert_int_equal(kr_fakehost_drain(f->fh, "order"), 1);
    char buf[32];
    assert_string_equal(status_of(f, str(o, "id"), buf, sizeof(buf)), "confirmed");
    stock_is(f, "milk", 10, 8, 0, 2, 0);
    stock_is(f, "eggs", 12, 6, 0, 6, 0);
    assert_int_equal(kr_fakehost_jobs(f->fh, "delivery"), 1);
    assert_int_equal(kr_fakehost_drain(f->fh, "delivery"), 1);
    assert_int_equal(kr_fakehost_log_count(f->fh, KR_LOG_INFO, "ready for the delivery partner"), 1);
    assert_int_equal(kr_fakehost_counter(f->fh, "orders_placed_total", NULL), 1);
}

static void refused_before_any_record(void **state)
{
    fixture *f = *state;
    product(f, "milk", 100, 10);
    cart(f, "alice", "milk", "1");
    assert_int_equal(place(f, &alice, NULL, ADDRESS), 400);
    assert_string_equal(str(f->r.json, "code"), "idempotency_key_required");
    assert_int_equal(place(f, &alice, "", ADDRESS), 400);
    assert_int_equal(place(f, &alice, "tab\tkey", ADDRESS), 400);
    assert_string_equal(str(f->r.json, "code"), "idempotency_key_invalid");
    assert_int_equal(place(f, &alice, "k", "not json"), 400);
    assert_int_equal(place(f, &alice, "k", "[]"), 400);
    assert_int_equal(place(f, NULL, "k", ADDRESS), 401);
    int64_t n = -1;
    assert_int_equal(kr_db_count(coll(f, ORDER_IDEM_COLL), NULL, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(place(f, &alice, "k", ADDRESS), 201);
}

static void empty_cart_and_invalid_bodies_are_final_answers(void **state)
{
    fixture *f = *state;
    assert_int_equal(place(f, &alice, "e", ADDRESS), 422);
    assert_string_equal(str(f->r.json, "code"), "cart_empty");
    product(f, "milk", 100, 10);
    cart(f, "alice", "milk", "1");
    assert_int_equal(place(f, &alice, "e", ADDRESS), 422);
    assert_string_equal(kr_fake_response_header(&f->r, "idempotent-replayed"), "true");

    assert_int_equal(place(f, &alice, "v", "{\"address\":{}}"), 400);
    assert_string_equal(str(f->r.json, "code"), "validation_failed");
    char *first = strdup(f->r.body);
    assert_int_equal(place(f, &alice, "v", "{\"address\":{}}"), 400);
    assert_string_equal(f->r.body, first);
    free(first);
    stock_is(f, "milk", 10, 10, 0, 0, 0);
    assert_int_equal(kr_fakehost_counter(f->fh, "orders_idempotent_replays_total", NULL), 2);
}

static void shortfall_lists_short_lines_and_takes_nothing(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 5);
    product(f, "b", 100, 1);
    product(f, "c", 100, 2);
    product(f, "d", 100, 9);
    cart(f, "alice", "a", "2");
    cart(f, "alice", "b", "2");
    cart(f, "alice", "c", "3");
    cart(f, "alice", "d", "1");
    assert_int_equal(place(f, &alice, "s", ADDRESS), 409);
    assert_string_equal(str(f->r.json, "code"), "out_of_stock");
    json_t *want = parse("[{\"product_id\":\"b\",\"requested\":2,\"available\":1},"
                         "{\"product_id\":\"c\",\"requested\":3,\"available\":2}]");
    assert_true(json_equal(json_object_get(f->r.json, "lines"), want));
    json_decref(want);
    const char *id = str(f->r.json, "order_id");
    assert_non_null(id);
    json_t *doc;
    assert_int_equal(order_load(f->st, id, &doc), 0);
    assert_string_equal(str(doc, "status"), "cancelled");
    assert_string_equal(str(doc, "cancel_reason"), "out_of_stock");
    json_decref(doc);
    stock_is(f, "a", 5, 5, 0, 0, 0);
    stock_is(f, "b", 1, 1, 0, 0, 0);
    stock_is(f, "d", 9, 9, 0, 0, 0);
    assert_int_equal(cart_len(f, "alice"), 4);
    assert_int_equal(kr_fakehost_jobs(f->fh, "order"), 0);
    assert_int_equal(kr_fakehost_counter(f->fh, "orders_out_of_stock_total", NULL), 1);
}

static void inactive_products_are_not_sold(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 5);
    json_t *filter = json_pack("{ss}", "_id", "a"), *update = json_pack("{s{sb}}", "$set", "active", 0);
    assert_int_equal(kr_db_update_one(coll(f, PRODUCT_COLL), filter, update, 0, NULL), 0);
    json_decref(filter);
    json_decref(update);
    cart(f, "alice", "a", "1");
    assert_int_equal(place(f, &alice, "i", ADDRESS), 409);
    json_t *want = parse("[{\"product_id\":\"a\",\"requested\":1,\"available\":0}]");
    assert_true(json_equal(json_object_get(f->r.json, "lines"), want));
    json_decref(want);
    stock_is(f, "a", 5, 5, 0, 0, 0);
    /* garbage in the cart hash cannot come from cart.so and is skipped */
    cart(f, "bob", "x y", "1");
    cart(f, "bob", "z", "-2");
    assert_int_equal(place(f, &bob, "g", ADDRESS), 422);
}

static void same_key_replays_other_body_is_422(void **state)
{
    fixture *f = *state;
    product(f, "milk", 100, 10);
    cart(f, "alice", "milk", "3");
    assert_int_equal(place(f, &alice, "same", "{\"note\":\"x\"," ADDRESS_MEMBER "}"), 201);
    char *first = strdup(f->r.body), *loc = strdup(location(f));
    /* members in another order are the same body */
    assert_int_equal(place(f, &alice, "same",
                           "{\"address\":{\"pincode\":\"560001\",\"city\":\"Bengaluru\",\"line1\":\"12 MG Road\"},"
                           "\"note\":\"x\"}"),
                     201);
    assert_string_equal(f->r.body, first);
    assert_string_equal(location(f), loc);
    assert_int_equal(place(f, &alice, "same", ADDRESS), 422);
    assert_string_equal(str(f->r.json, "code"), "idempotency_key_reused");
    /* keys belong to users */
    cart(f, "bob", "milk", "1");
    assert_int_equal(place(f, &bob, "same", ADDRESS), 201);
    stock_is(f, "milk", 10, 6, 4, 0, 0);
    free(first);
    free(loc);
}

/* A record as a request leaves it: running since `ago` ms, for order_id. */
static void running_record(fixture *f, const char *user, const char *key, const char *order_id, int64_t ago)
{
    json_t *body = parse(ADDRESS);
    char *request = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    int64_t now = order_now_ms();
    json_t *rec = json_pack("{sssssssssssssIsI}", "user_id", user, "key", key, "request", request, "state", "running",
                            "owner", "dead", "order_id", order_id, "started_ms", (json_int_t)(now - ago), "expires_ms",
                            (json_int_t)(now + 86400000));
    assert_int_equal(kr_db_insert_one(coll(f, ORDER_IDEM_COLL), rec, NULL), 0);
    json_decref(rec);
    json_decref(body);
    free(request);
}

static void a_running_key_is_in_use_then_resumed(void **state)
{
    fixture *f = *state;
    product(f, "milk", 100, 10);
    cart(f, "alice", "milk", "2");
    running_record(f, "alice", "busy", "0000000000000000000000aa", 0);
    assert_int_equal(place(f, &alice, "busy", ADDRESS), 409);
    assert_string_equal(str(f->r.json, "code"), "idempotency_key_in_use");
    assert_string_equal(kr_fake_response_header(&f->r, "retry-after"), "1");
    /* in use whatever the body */
    assert_int_equal(place(f, &alice, "busy", "{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560002\"}}"),
                     409);
    /* presumed dead after half the pending timeout (60 s by default): the
     * retry places the order the record names */
    running_record(f, "alice", "dead", "0000000000000000000000bb", 31000);
    assert_int_equal(place(f, &alice, "dead", ADDRESS), 201);
    assert_string_equal(str(f->r.json, "id"), "0000000000000000000000bb");
    assert_int_equal(place(f, &alice, "dead", ADDRESS), 201);
    assert_string_equal(kr_fake_response_header(&f->r, "idempotent-replayed"), "true");
    /* a dead record with another body is a reused key */
    running_record(f, "alice", "dead2", "0000000000000000000000cc", 31000);
    assert_int_equal(place(f, &alice, "dead2", "{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560002\"}}"),
                     422);
    stock_is(f, "milk", 10, 8, 2, 0, 0);
}

static void a_placement_that_died_half_way_is_resumed_not_repeated(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 10);
    product(f, "b", 100, 10);
    cart(f, "alice", "a", "2");
    cart(f, "alice", "b", "3");
    /* the first attempt inserted the order and reserved `a`, then the DB
     * went away: no final answer, the record is resumable */
    running_record(f, "alice", "r", "0000000000000000000000dd", 0);
    json_t *order = parse("{\"_id\":\"0000000000000000000000dd\",\"user_id\":\"alice\",\"status\":\"pending\","
                          "\"version\":0,\"history\":[{\"status\":\"pending\",\"at\":\"2024-01-01T00:00:00.000Z\"}],"
                          "\"items\":[{\"product_id\":\"a\",\"name\":\"a\",\"price\":100,\"qty\":2,\"line_total\":200},"
                          "{\"product_id\":\"b\",\"name\":\"b\",\"price\":100,\"qty\":3,\"line_total\":300}],"
                          "\"total\":500,\"currency\":\"INR\",\"address\":{},\"note\":null,\"cancel_reason\":null,"
                          "\"created_at\":\"2024-01-01T00:00:00.000Z\",\"updated_at\":\"2024-01-01T00:00:00.000Z\"}");
    assert_int_equal(kr_db_insert_one(coll(f, ORDER_COLL), order, NULL), 0);
    json_decref(order);
    int applied;
    assert_int_equal(order_effect_apply(f->st, EFF_RESERVE, "0000000000000000000000dd", "a", 2, &applied), 0);
    assert_int_equal(applied, 1);
    json_t *filter = json_pack("{ss}", "owner", "dead"), *update = json_pack("{s{ss}}", "$set", "state", "failed");
    assert_int_equal(kr_db_update_one(coll(f, ORDER_IDEM_COLL), filter, update, 0, NULL), 0);
    json_decref(filter);
    json_decref(update);

    assert_int_equal(place(f, &alice, "r", ADDRESS), 201);
    assert_string_equal(str(f->r.json, "id"), "0000000000000000000000dd");
    stock_is(f, "a", 10, 8, 2, 0, 0); /* not reserved twice */
    stock_is(f, "b", 10, 7, 3, 0, 0);
    assert_int_equal(cart_len(f, "alice"), 0);
}

static void dependency_failures_are_503_and_resumable(void **state)
{
    fixture *f = *state;
    product(f, "milk", 100, 10);
    cart(f, "alice", "milk", "2");
    /* the cart cannot be read: no final answer */
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(place(f, &alice, "x", ADDRESS), 503);
    stock_is(f, "milk", 10, 10, 0, 0, 0);
    /* the record was left resumable: the retry succeeds at once */
    assert_int_equal(place(f, &alice, "x", ADDRESS), 201);
    stock_is(f, "milk", 10, 8, 2, 0, 0);
    assert_int_equal(place(f, &alice, "x", ADDRESS), 201);
    assert_string_equal(kr_fake_response_header(&f->r, "idempotent-replayed"), "true");

    cart(f, "bob", "milk", "1");
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(place(f, &bob, "y", ADDRESS), 503);
    /* a queue outage does not undo a placed order: the reconciler enqueues
     * it later */
    kr_fakehost_fail_queue(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(place(f, &bob, "y", ADDRESS), 201);
    assert_int_equal(kr_fakehost_jobs(f->fh, "order"), 1);
    assert_true(kr_fakehost_log_count(f->fh, KR_LOG_WARN, "enqueueing the order job failed") == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(places_an_order_from_the_cart, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_before_any_record, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_cart_and_invalid_bodies_are_final_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(shortfall_lists_short_lines_and_takes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(inactive_products_are_not_sold, setup, teardown),
        cmocka_unit_test_setup_teardown(same_key_replays_other_body_is_422, setup, teardown),
        cmocka_unit_test_setup_teardown(a_running_key_is_in_use_then_resumed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_placement_that_died_half_way_is_resumed_not_repeated, setup, teardown),
        cmocka_unit_test_setup_teardown(dependency_failures_are_503_and_resumable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
