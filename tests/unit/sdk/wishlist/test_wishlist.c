/* sdk/examples/wishlist through the fake host: config defaults, user-only
 * routes, validation answers, the products it refuses, the item limit, the
 * unique index, views of products that changed, metrics, dependency
 * failures, and the popularity consumer (idempotent recounts into Redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

#include "sdk/examples/wishlist/wishlist.c"

static const kr_principal alice = {.user_id = "alice", .role = "user"};
static const kr_principal bob = {.user_id = "bob", .role = "user"};

typedef struct fixture {
    kr_fakehost *fh;
    kr_fake_response r;
} fixture;

static kr_coll *coll(fixture *f, const char *name)
{
    return kr_db_coll(kr_fakehost_db(f->fh), name);
}

static void product(fixture *f, const char *doc)
{
    json_t *d = json_loads(doc, 0, NULL);
    assert_non_null(d);
    assert_int_equal(kr_db_insert_one(coll(f, "products"), d, NULL), 0);
    json_decref(d);
}

/* A host with wishlist.so at /wishlist (config: JSON text or NULL) and a
 * small catalogue. */
static fixture *make(const char *config)
{
    fixture *f = calloc(1, sizeof(*f));
    f->fh = kr_fakehost_new();
    json_t *cfg = config != NULL ? json_loads(config, 0, NULL) : NULL;
    assert_non_null(kr_fakehost_load(f->fh, kr_plugin_entry(), "/wishlist", cfg));
    json_decref(cfg);
    product(f, "{\"_id\":\"milk\",\"name\":\"Milk\",\"price\":3000,\"stock\":10,\"active\":true}");
    product(f, "{\"_id\":\"eggs\",\"name\":\"Eggs\",\"price\":700,\"stock\":0,\"active\":true}");
    product(f, "{\"_id\":\"curd\",\"name\":\"Curd\",\"price\":4000,\"stock\":10,\"active\":false}");
    product(f, "{\"_id\":\"rice\",\"name\":\"Rice\",\"price\":9000,\"stock\":5,\"active\":true}");
    return f;
}

static int setup(void **state)
{
    *state = make(NULL);
    return 0;
}

static int setup_small(void **state)
{
    *state = make("{\"max_items\": 2, \"note_max_length\": 5}");
    return 0;
}

static int setup_popular(void **state)
{
    *state = make("{\"popular\": true, \"popular_top\": 2}");
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

/* One request; the response stays in f->r until the next one. */
static int req(fixture *f, const char *method, const char *path, const char *body, const kr_principal *as)
{
    kr_fake_response_free(&f->r);
    return kr_fakehost_request(f->fh, method, path, NULL, body, as, &f->r);
}

static int add(fixture *f, const char *product_id, const kr_principal *as)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"product_id\":\"%s\"}", product_id);
    return req(f, "POST", "/wishlist/items", body, as);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t stored(fixture *f, const char *filter_text)
{
    json_t *filter = json_loads(filter_text, 0, NULL);
    int64_t n = -1;
    assert_int_equal(kr_db_count(coll(f, "wishlists"), filter, &n), 0);
    json_decref(filter);
    return n;
}

/* The field of the only validation error in f->r, asserting there is one
 * with that message. */
static void only_error(fixture *f, const char *field, const char *message)
{
    assert_int_equal(f->r.status, 400);
    assert_string_equal(str(f->r.json, "code"), "validation_failed");
    json_t *errors = json_object_get(f->r.json, "errors");
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(str(json_array_get(errors, 0), "field"), field);
    assert_string_equal(str(json_array_get(errors, 0), "message"), message);
}

static void every_route_needs_a_user(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "GET", "/wishlist", NULL, NULL), 401);
    assert_string_equal(kr_fake_response_header(&f->r, "content-type"), "application/problem+json");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\"}", NULL), 401);
    assert_int_equal(req(f, "DELETE", "/wishlist/items/milk", NULL, NULL), 401);
    assert_int_equal(stored(f, "{}"), 0);
    /* without popular: true there is no /popular */
    assert_int_equal(req(f, "GET", "/wishlist/popular", NULL, &alice), 404);
}

static void defaults_fill_an_empty_config(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "GET", "/wishlist", NULL, &alice), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "count")), 0);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "max_items")), 100);
    /* note_max_length defaults to 140 code points */
    char body[512];
    snprintf(body, sizeof(body), "{\"product_id\":\"milk\",\"note\":\"%0140d\"}", 0);
    assert_int_equal(req(f, "POST", "/wishlist/items", body, &alice), 201);
    snprintf(body, sizeof(body), "{\"product_id\":\"rice\",\"note\":\"%0141d\"}", 0);
    assert_int_equal(req(f, "POST", "/wishlist/items", body, &alice), 400);
    only_error(f, "note", "too long");
}

static void add_answers_201_with_location_and_the_entry(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":\"for chai\"}", &alice), 201);
    assert_string_equal(kr_fake_response_header(&f->r, "location"), "/wishlist/items/milk");
    assert_string_equal(str(f->r.json, "product_id"), "milk");
    assert_string_equal(str(f->r.json, "name"), "Milk");
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "price")), 3000);
    assert_true(json_is_true(json_object_get(f->r.json, "available")));
    assert_string_equal(str(f->r.json, "note"), "for chai");
    assert_non_null(str(f->r.json, "added_at"));
    assert_int_equal(json_object_size(f->r.json), 6);
    /* stored under the principal, not anything the client sent */
    assert_int_equal(stored(f, "{\"user\":\"alice\",\"product\":\"milk\",\"note\":\"for chai\"}"), 1);
    assert_int_equal(kr_fakehost_counter(f->fh, "wishlist_items_added_total", NULL), 1);
}

static void adding_twice_is_200_with_the_first_entry(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":\"first\"}", &alice), 201);
    char *added_at = strdup(str(f->r.json, "added_at"));
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":\"again\"}", &alice), 200);
    assert_null(kr_fake_response_header(&f->r, "location"));
    assert_string_equal(str(f->r.json, "note"), "first");
    assert_string_equal(str(f->r.json, "added_at"), added_at);
    assert_int_equal(stored(f, "{\"user\":\"alice\"}"), 1);
    assert_int_equal(kr_fakehost_counter(f->fh, "wishlist_items_added_total", NULL), 1);
    free(added_at);
}

static void the_unique_index_is_made_at_start(void **state)
{
    fixture *f = *state;
    json_t *doc = json_pack("{s:s, s:s}", "user", "alice", "product", "milk");
    assert_int_equal(kr_db_insert_one(coll(f, "wishlists"), doc, NULL), 0);
    assert_int_equal(kr_db_insert_one(coll(f, "wishlists"), doc, NULL), KR_EDUPLICATE);
    json_decref(doc);
    /* the same product for another user is another entry */
    doc = json_pack("{s:s, s:s}", "user", "bob", "product", "milk");
    assert_int_equal(kr_db_insert_one(coll(f, "wishlists"), doc, NULL), 0);
    json_decref(doc);
}

static void unknown_and_inactive_products_are_404(void **state)
{
    fixture *f = *state;
    assert_int_equal(add(f, "nope", &alice), 404);
    assert_string_equal(str(f->r.json, "code"), "not_found");
    assert_string_equal(str(f->r.json, "detail"), "no such product");
    assert_int_equal(add(f, "curd", &alice), 404);
    assert_int_equal(stored(f, "{}"), 0);
    assert_int_equal(kr_fakehost_counter(f->fh, "wishlist_items_added_total", NULL), 0);
}

static void bad_bodies_are_400_naming_the_field(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/wishlist/items", "{}", &alice), 400);
    only_error(f, "product_id", "required");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":42}", &alice), 400);
    only_error(f, "product_id", "must be a string");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"a/b\"}", &alice), 400);
    only_error(f, "product_id", "not a product id");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"\"}", &alice), 400);
    only_error(f, "product_id", "not a product id");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"user\":\"bob\"}", &alice), 400);
    only_error(f, "user", "not a known field");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":7}", &alice), 400);
    only_error(f, "note", "must be a string or null");
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":\"a\\u0001b\"}", &alice),
                     400);
    only_error(f, "note", "must not contain control characters");
    /* every bad field at once */
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"note\":1,\"x\":2}", &alice), 400);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "errors")), 3);
    /* not a JSON object: the SDK's parser answers */
    assert_int_equal(req(f, "POST", "/wishlist/items", "[\"milk\"]", &alice), 400);
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":", &alice), 400);
    assert_int_equal(stored(f, "{}"), 0);
    /* a null note is no note */
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":null}", &alice), 201);
    assert_true(json_is_null(json_object_get(f->r.json, "note")));
}

static void notes_count_code_points_and_can_be_turned_off(void **state)
{
    fixture *f = *state; /* note_max_length 5 */
    /* five Devanagari letters: 15 bytes, 5 code points */
    assert_int_equal(req(f, "POST", "/wishlist/items",
                         "{\"product_id\":\"milk\",\"note\":\"\\u0926\\u0942\\u0927\\u0926\\u0942\"}", &alice),
                     201);
    assert_int_equal(req(f, "POST", "/wishlist/items", "{\"product_id\":\"rice\",\"note\":\"sixsix\"}", &alice), 400);
    only_error(f, "note", "too long");

    fixture *off = make("{\"note_max_length\": 0}");
    assert_int_equal(req(off, "POST", "/wishlist/items", "{\"product_id\":\"milk\",\"note\":\"x\"}", &alice), 400);
    only_error(off, "note", "notes are turned off");
    assert_int_equal(req(off, "POST", "/wishlist/items", "{\"product_id\":\"milk\"}", &alice), 201);
    teardown((void **)&off);
}

static void the_limit_is_409_and_counted(void **state)
{
    fixture *f = *state; /* max_items 2 */
    assert_int_equal(add(f, "milk", &alice), 201);
    assert_int_equal(add(f, "eggs", &alice), 201);
    assert_int_equal(add(f, "rice", &alice), 409);
    assert_string_equal(str(f->r.json, "code"), "wishlist_full");
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "max_items")), 2);
    assert_int_equal(stored(f, "{\"user\":\"alice\"}"), 2);
    assert_int_equal(kr_fakehost_counter(f->fh, "wishlist_full_total", NULL), 1);
    /* re-adding what is there is still fine, and the limit is per user */
    assert_int_equal(add(f, "milk", &alice), 200);
    assert_int_equal(add(f, "rice", &bob), 201);
    /* room again after a removal */
    assert_int_equal(req(f, "DELETE", "/wishlist/items/eggs", NULL, &alice), 204);
    assert_int_equal(add(f, "rice", &alice), 201);
}

static void list_is_newest_first_with_current_product_state(void **state)
{
    fixture *f = *state;
    assert_int_equal(add(f, "milk", &alice), 201);
    assert_int_equal(add(f, "eggs", &alice), 201);
    assert_int_equal(add(f, "rice", &alice), 201);
    assert_int_equal(add(f, "milk", &bob), 201);
    /* the catalogue changes after the wish */
    json_t *filter = json_pack("{s:s}", "_id", "rice");
    json_t *update = json_pack("{s:{s:b, s:i}}", "$set", "active", 0, "price", 9500);
    assert_int_equal(kr_db_update_one(coll(f, "products"), filter, update, 0, NULL), 0);
    json_decref(update);
    json_decref(filter);
    filter = json_pack("{s:s}", "_id", "milk");
    assert_int_equal(kr_db_delete_one(coll(f, "products"), filter, NULL), 0);
    json_decref(filter);

    assert_int_equal(req(f, "GET", "/wishlist", NULL, &alice), 200);
    json_t *items = json_object_get(f->r.json, "items");
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "count")), 3);
    assert_int_equal(json_array_size(items), 3);
    json_t *rice = json_array_get(items, 0), *eggs = json_array_get(items, 1), *milk = json_array_get(items, 2);
    assert_string_equal(str(rice, "product_id"), "rice");
    assert_int_equal(json_integer_value(json_object_get(rice, "price")), 9500);
    assert_false(json_is_true(json_object_get(rice, "available"))); /* inactive */
    assert_string_equal(str(eggs, "product_id"), "eggs");
    assert_false(json_is_true(json_object_get(eggs, "available"))); /* out of stock */
    assert_string_equal(str(milk, "product_id"), "milk");
    assert_true(json_is_null(json_object_get(milk, "name"))); /* gone from the catalogue */
    assert_true(json_is_null(json_object_get(milk, "price")));
    assert_false(json_is_true(json_object_get(milk, "available")));

    /* bob sees only his own */
    assert_int_equal(req(f, "GET", "/wishlist", NULL, &bob), 200);
    items = json_object_get(f->r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(str(json_array_get(items, 0), "product_id"), "milk");
}

static void remove_is_204_then_404_and_only_the_callers(void **state)
{
    fixture *f = *state;
    assert_int_equal(add(f, "milk", &alice), 201);
    assert_int_equal(add(f, "milk", &bob), 201);
    assert_int_equal(req(f, "DELETE", "/wishlist/items/milk", NULL, &alice), 204);
    assert_int_equal(f->r.body_len, 0);
    assert_int_equal(req(f, "DELETE", "/wishlist/items/milk", NULL, &alice), 404);
    assert_string_equal(str(f->r.json, "detail"), "not in your wishlist");
    assert_int_equal(stored(f, "{\"user\":\"bob\",\"product\":\"milk\"}"), 1);
    assert_int_equal(kr_fakehost_counter(f->fh, "wishlist_items_removed_total", NULL), 1);
    /* a product deleted from the catalogue can still be taken out */
    assert_int_equal(add(f, "rice", &alice), 201);
    json_t *filter = json_pack("{s:s}", "_id", "rice");
    assert_int_equal(kr_db_delete_one(coll(f, "products"), filter, NULL), 0);
    json_decref(filter);
    assert_int_equal(req(f, "DELETE", "/wishlist/items/rice", NULL, &alice), 204);
}

static void a_db_outage_is_503(void **state)
{
    fixture *f = *state;
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", "/wishlist", NULL, &alice), 503);
    assert_string_equal(kr_fake_response_header(&f->r, "content-type"), "application/problem+json");
    /* the product check passes, the insert's count fails */
    kr_fakehost_fail_db(f->fh, 0, 0);
    assert_int_equal(add(f, "milk", &alice), 201);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "DELETE", "/wishlist/items/milk", NULL, &alice), 503);
    assert_int_equal(stored(f, "{\"user\":\"alice\"}"), 1);
}

/* --- popularity: queue, consumer, Redis --- */

static double popular_score(fixture *f, const char *product)
{
    kr_redis_reply *r;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &r, "ZSCORE", "wishlist:popular", product, NULL), 0);
    double v = r->type == KR_REDIS_STRING ? strtod(r->str, NULL) : 0;
    kr_redis_reply_free(r);
    return v;
}

static void changes_queue_recounts_that_land_in_redis(void **state)
{
    fixture *f = *state; /* popular: true, popular_top: 2 */
    const kr_principal carol = {.user_id = "carol", .role = "user"};
    assert_int_equal(add(f, "milk", &alice), 201);
    assert_int_equal(add(f, "milk", &bob), 201);
    assert_int_equal(add(f, "rice", &alice), 201);
    assert_int_equal(add(f, "eggs", &alice), 201);
    assert_int_equal(add(f, "eggs", &bob), 201);
    assert_int_equal(add(f, "eggs", &carol), 201);
    assert_int_equal(kr_fakehost_jobs(f->fh, "wishlist"), 6);
    /* nothing is counted until a worker runs the jobs */
    assert_int_equal(req(f, "GET", "/wishlist/popular", NULL, &alice), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);

    assert_int_equal(kr_fakehost_drain(f->fh, "wishlist"), 6);
    assert_true(popular_score(f, "milk") == -2);
    assert_int_equal(req(f, "GET", "/wishlist/popular", NULL, &alice), 200);
    json_t *items = json_object_get(f->r.json, "items");
    assert_int_equal(json_array_size(items), 2); /* popular_top */
    assert_string_equal(str(json_array_get(items, 0), "product_id"), "eggs");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "wishes")), 3);
    assert_string_equal(str(json_array_get(items, 1), "product_id"), "milk");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "wishes")), 2);

    /* the last wish taken out removes the product from the ranking */
    assert_int_equal(req(f, "DELETE", "/wishlist/items/rice", NULL, &alice), 204);
    assert_int_equal(kr_fakehost_drain(f->fh, "wishlist"), 1);
    assert_true(popular_score(f, "rice") == 0);
    json_t *jobs = kr_fakehost_job_list(f->fh, "wishlist");
    assert_int_equal(json_array_size(jobs), 0); /* removeOnComplete */
    json_decref(jobs);
}

static void a_recount_is_idempotent(void **state)
{
    fixture *f = *state;
    assert_int_equal(add(f, "milk", &alice), 201);
    /* the same job delivered three times (at-least-once) */
    json_t *data = json_pack("{s:s}", "product", "milk");
    for (int i = 0; i < 2; i++)
        assert_int_equal(kr_queue_add(kr_fakehost_queue(f->fh), "wishlist", "recount", data, NULL, NULL), 0);
    json_decref(data);
    assert_int_equal(kr_fakehost_drain(f->fh, "wishlist"), 3);
    assert_true(popular_score(f, "milk") == -1);
}

static void a_recount_without_a_product_is_discarded(void **state)
{
    fixture *f = *state;
    json_t *data = json_pack("{s:i}", "product", 5);
    json_t *opts = json_pack("{s:s, s:i}", "jobId", "bad-1", "attempts", 5);
    assert_int_equal(kr_queue_add(kr_fakehost_queue(f->fh), "wishlist", "recount", data, opts, NULL), 0);
    json_decref(data);
    json_decref(opts);
    assert_int_equal(kr_fakehost_drain(f->fh, "wishlist"), 1);
    json_t *job = kr_fakehost_job(f->fh, "wishlist", "bad-1");
    assert_string_equal(str(job, "state"), "failed");
    assert_string_equal(str(job, "failed_reason"), "job data has no valid product");
    json_decref(job);
}

static void a_queue_outage_keeps_the_wish(void **state)
{
    fixture *f = *state;
    kr_fakehost_fail_queue(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(add(f, "milk", &alice), 201);
    assert_int_equal(stored(f, "{\"user\":\"alice\"}"), 1);
    assert_int_equal(kr_fakehost_log_count(f->fh, KR_LOG_WARN, "recount of milk not queued"), 1);
    assert_int_equal(kr_fakehost_jobs(f->fh, "wishlist"), 0);
    /* the next change of the product counts it */
    assert_int_equal(add(f, "milk", &bob), 201);
    assert_int_equal(kr_fakehost_drain(f->fh, "wishlist"), 1);
    assert_true(popular_score(f, "milk") == -2);
}

static void a_redis_outage_fails_the_attempt_and_retries(void **state)
{
    fixture *f = *state;
    assert_int_equal(add(f, "milk", &alice), 201);
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(kr_fakehost_run_jobs(f->fh, "wishlist"), 1);
    assert_int_equal(kr_fakehost_jobs(f->fh, "wishlist"), 1); /* back, after its backoff */
    assert_int_equal(kr_fakehost_drain(f->fh, "wishlist"), 1);
    assert_true(popular_score(f, "milk") == -1);
    assert_int_equal(req(f, "GET", "/wishlist/popular", NULL, &alice), 200);
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", "/wishlist/popular", NULL, &alice), 503);
}

static void http_only_processes_do_not_consume_and_workers_make_no_index(void **state)
{
    (void)state;
    kr_fakehost *fh = kr_fakehost_new();
    assert_int_equal(kr_fakehost_set_roles(fh, (const char *const[]){"http", NULL}), 0);
    json_t *cfg = json_pack("{s:b}", "popular", 1);
    assert_non_null(kr_fakehost_load(fh, kr_plugin_entry(), "/wishlist", cfg));
    assert_int_equal(kr_fakehost_run_jobs(fh, "wishlist"), KR_ENOTFOUND);
    kr_fakehost_free(fh);

    fh = kr_fakehost_new();
    assert_int_equal(kr_fakehost_set_roles(fh, (const char *const[]){"worker", NULL}), 0);
    assert_non_null(kr_fakehost_load(fh, kr_plugin_entry(), "/wishlist", cfg));
    json_t *doc = json_pack("{s:s, s:s}", "user", "u", "product", "p");
    kr_coll *c = kr_db_coll(kr_fakehost_db(fh), "wishlists");
    assert_int_equal(kr_db_insert_one(c, doc, NULL), 0);
    assert_int_equal(kr_db_insert_one(c, doc, NULL), 0);
    json_decref(doc);
    json_decref(cfg);
    kr_fakehost_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_route_needs_a_user, setup, teardown),
        cmocka_unit_test_setup_teardown(defaults_fill_an_empty_config, setup, teardown),
        cmocka_unit_test_setup_teardown(add_answers_201_with_location_and_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(adding_twice_is_200_with_the_first_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(the_unique_index_is_made_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_and_inactive_products_are_404, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_bodies_are_400_naming_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(notes_count_code_points_and_can_be_turned_off, setup_small, teardown),
        cmocka_unit_test_setup_teardown(the_limit_is_409_and_counted, setup_small, teardown),
        cmocka_unit_test_setup_teardown(list_is_newest_first_with_current_product_state, setup, teardown),
        cmocka_unit_test_setup_teardown(remove_is_204_then_404_and_only_the_callers, setup, teardown),
        cmocka_unit_test_setup_teardown(a_db_outage_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_queue_recounts_that_land_in_redis, setup_popular, teardown),
        cmocka_unit_test_setup_teardown(a_recount_is_idempotent, setup_popular, teardown),
        cmocka_unit_test_setup_teardown(a_recount_without_a_product_is_discarded, setup_popular, teardown),
        cmocka_unit_test_setup_teardown(a_queue_outage_keeps_the_wish, setup_popular, teardown),
        cmocka_unit_test_setup_teardown(a_redis_outage_fails_the_attempt_and_retries, setup_popular, teardown),
        cmocka_unit_test(http_only_processes_do_not_consume_and_workers_make_no_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
