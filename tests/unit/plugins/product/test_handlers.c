/* product.so's routes through the fake host: views by role, admin-only
 * writes, validation answers, keyset pagination, restock guards and
 * dependency failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

#include "plugins/product/cursor.c"
#include "plugins/product/handlers.c"
#include "plugins/product/product.c"
#include "plugins/product/store.c"
#include "plugins/product/validate.c"
#include "plugins/product/view.c"

static const kr_principal admin = {.user_id = "a1", .role = "admin"};
static const kr_principal user = {.user_id = "u1", .role = "user"};

typedef struct fixture {
    kr_fakehost *fh;
    kr_fake_response r;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->fh = kr_fakehost_new();
    assert_non_null(kr_fakehost_load(f->fh, kr_plugin_entry(), "/products", NULL));
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

/* One request; the response stays in f->r until the next one. */
static int req(fixture *f, const char *method, const char *path, const char *body, const kr_principal *as)
{
    kr_fake_response_free(&f->r);
    return kr_fakehost_request(f->fh, method, path, NULL, body, as, &f->r);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Creates a product as admin; returns its id (caller-owned). */
static char *create(fixture *f, const char *body)
{
    assert_int_equal(req(f, "POST", "/products", body, &admin), 201);
    return strdup(str(f->r.json, "id"));
}

static void create_answers_201_with_location_and_admin_view(void **state)
{
    fixture *f = *state;
    char *id =
        create(f, "{\"name\":\"Toor dal\",\"price\":14500,\"stock\":30,\"unit\":\"1 kg\",\"category\":\"staples\"}");
    char want[128];
    snprintf(want, sizeof(want), "/products/%s", id);
    assert_string_equal(kr_fake_response_header(&f->r, "location"), want);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "reserved")), 0);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "holds")), 0);
    assert_non_null(str(f->r.json, "created_at"));

    /* public read: the public view only */
    assert_int_equal(req(f, "GET", want, NULL, NULL), 200);
    assert_int_equal(json_object_size(f->r.json), 8);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "stock")), 30);
    assert_null(json_object_get(f->r.json, "reserved"));
    /* a user is the public too; an admin sees the bookkeeping */
    assert_int_equal(req(f, "GET", want, NULL, &user), 200);
    assert_null(json_object_get(f->r.json, "active"));
    assert_int_equal(req(f, "GET", want, NULL, &admin), 200);
    assert_true(json_is_true(json_object_get(f->r.json, "active")));

    /* the stored document has the whole shape the order flow relies on */
    json_t *doc, *filter = json_pack("{ss}", "_id", id);
    assert_int_equal(kr_db_find_one(kr_db_coll(kr_fakehost_db(f->fh), "products"), filter, NULL, NULL, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "committed")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "shipped")), 0);
    assert_true(json_is_array(json_object_get(doc, "commits")));
    json_decref(doc);
    json_decref(filter);
    free(id);
}

static void writes_are_for_admins(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"name\":\"Salt\",\"price\":2000}");
    char path[128], stock[160];
    snprintf(path, sizeof(path), "/products/%s", id);
    snprintf(stock, sizeof(stock), "/products/%s/stock", id);
    struct {
        const char *method, *path, *body;
    } writes[] = {{"POST", "/products", "{\"name\":\"x\",\"price\":1}"},
                  {"PATCH", path, "{\"price\":1}"},
                  {"DELETE", path, NULL},
                  {"POST", stock, "{\"delta\":5}"}};
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        assert_int_equal(req(f, writes[i].method, writes[i].path, writes[i].body, &user), 403);
        assert_int_equal(req(f, writes[i].method, writes[i].path, writes[i].body, NULL), 401);
    }
    assert_int_equal(req(f, "GET", path, NULL, &admin), 200);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "price")), 2000);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "stock")), 0);
    free(id);
}

static void bad_bodies_are_400_naming_the_field(void **state)
{
    fixture *f = *state;
    assert_int_equal(req(f, "POST", "/products", "{\"name\":\"x\",\"price\":1,\"stock\":2,\"shipped\":9}", &admin),
                     400);
    assert_string_equal(str(f->r.json, "code"), "validation_failed");
    json_t *e = json_array_get(json_object_get(f->r.json, "errors"), 0);
    assert_string_equal(str(e, "field"), "shipped");
    assert_int_equal(req(f, "POST", "/products", "[1]", &admin), 400);
    assert_int_equal(req(f, "POST", "/products", "{\"name\":", &admin), 400);

    char *id = create(f, "{\"name\":\"Sugar\",\"price\":4500}");
    char path[128];
    snprintf(path, sizeof(path), "/products/%s", id);
    assert_int_equal(req(f, "PATCH", path, "{\"stock\":100}", &admin), 400);
    assert_string_equal(str(json_array_get(json_object_get(f->r.json, "errors"), 0), "field"), "stock");
    assert_int_equal(req(f, "GET", path, NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "stock")), 0);
    free(id);
}

static void patch_updates_unsets_and_404s(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"name\":\"Ghee\",\"price\":60000,\"description\":\"pure\",\"unit\":\"1 L\"}");
    char path[128];
    snprintf(path, sizeof(path), "/products/%s", id);
    assert_int_equal(req(f, "PATCH", path, "{\"price\":58000,\"description\":null,\"name\":\"Cow ghee\"}", &admin),
                     200);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "price")), 58000);
    assert_true(json_is_null(json_object_get(f->r.json, "description")));
    assert_string_equal(str(f->r.json, "name"), "Cow ghee");
    assert_string_equal(str(f->r.json, "unit"), "1 L");
    const char *updated = str(f->r.json, "updated_at");
    assert_non_null(updated);
    /* an empty patch answers the product unchanged, updated_at included */
    char *before = strdup(updated);
    nanosleep(&(struct timespec){0, 5000000}, NULL);
    assert_int_equal(req(f, "PATCH", path, "{}", &admin), 200);
    assert_string_equal(str(f->r.json, "updated_at"), before);
    free(before);
    assert_int_equal(req(f, "PATCH", "/products/nope", "{\"price\":1}", &admin), 404);
    assert_int_equal(req(f, "PATCH", "/products/has%20space", "{\"price\":1}", &admin), 404);
    free(id);
}

static void delete_deactivates(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"name\":\"Bread\",\"price\":4000,\"stock\":5}");
    char path[128];
    snprintf(path, sizeof(path), "/products/%s", id);
    assert_int_equal(req(f, "DELETE", path, NULL, &admin), 204);
    assert_int_equal(f->r.body_len, 0);
    assert_int_equal(req(f, "GET", path, NULL, NULL), 404);
    assert_string_equal(str(f->r.json, "code"), "not_found");
    assert_int_equal(req(f, "GET", path, NULL, &user), 404);
    assert_int_equal(req(f, "GET", path, NULL, &admin), 200);
    assert_true(json_is_false(json_object_get(f->r.json, "active")));
    assert_int_equal(req(f, "GET", "/products", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);
    assert_int_equal(req(f, "GET", "/products?include_inactive=true", NULL, &admin), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 1);
    assert_int_equal(req(f, "GET", "/products?include_inactive=true", NULL, &user), 403);
    assert_int_equal(req(f, "GET", "/products?include_inactive=true", NULL, NULL), 401);
    /* deleting again is fine; reactivating is a PATCH */
    assert_int_equal(req(f, "DELETE", path, NULL, &admin), 204);
    assert_int_equal(req(f, "PATCH", path, "{\"active\":true}", &admin), 200);
    assert_int_equal(req(f, "GET", path, NULL, NULL), 200);
    assert_int_equal(req(f, "DELETE", "/products/unknown", NULL, &admin), 404);
    free(id);
}

static void restock_is_guarded(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"name\":\"Rice\",\"price\":9000,\"stock\":3}");
    char path[160];
    snprintf(path, sizeof(path), "/products/%s/stock", id);
    assert_int_equal(req(f, "POST", path, "{\"delta\":7}", &admin), 200);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "stock")), 10);
    assert_non_null(json_object_get(f->r.json, "reserved")); /* the admin view */
    assert_int_equal(req(f, "POST", path, "{\"delta\":-11}", &admin), 409);
    assert_string_equal(str(f->r.json, "code"), "insufficient_stock");
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "stock")), 10);
    assert_int_equal(req(f, "POST", path, "{\"delta\":-10}", &admin), 200);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "stock")), 0);
    assert_int_equal(req(f, "POST", path, "{\"delta\":1000000000}", &admin), 200);
    assert_int_equal(req(f, "POST", path, "{\"delta\":1}", &admin), 409);
    assert_string_equal(str(f->r.json, "code"), "stock_limit");
    assert_int_equal(req(f, "POST", path, "{\"delta\":0}", &admin), 400);
    assert_int_equal(req(f, "POST", "/products/missing/stock", "{\"delta\":1}", &admin), 404);
    free(id);
}

/* Every id of a full walk through the list with this query and page size. */
static json_t *walk_all(fixture *f, const char *query, int limit, const kr_principal *as, int *pages)
{
    json_t *ids = json_array();
    char *cursor = NULL;
    *pages = 0;
    for (;;) {
        char path[512];
        snprintf(path, sizeof(path), "/products?limit=%d%s%s%s", limit, query, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        assert_int_equal(req(f, "GET", path, NULL, as), 200);
        (*pages)++;
        json_t *items = json_object_get(f->r.json, "items");
        assert_true(json_array_size(items) <= (size_t)limit);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            json_array_append(ids, json_object_get(it, "id"));
        }
        json_t *next = json_object_get(f->r.json, "next_cursor");
        if (json_is_null(next))
            break;
        cursor = strdup(json_string_value(next));
    }
    return ids;
}

static void list_pages_in_name_order(void **state)
{
    fixture *f = *state;
    /* duplicates of one name: the id breaks the tie */
    for (int i = 0; i < 25; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"name\":\"Item %02d\",\"price\":%d,\"category\":\"%s\"}", i % 20, 100 + i,
                 i % 2 ? "odd" : "even");
        free(create(f, body));
    }
    int pages;
    json_t *ids = walk_all(f, "", 10, NULL, &pages);
    assert_int_equal(json_array_size(ids), 25);
    assert_int_equal(pages, 3);
    json_decref(ids);
    assert_int_equal(req(f, "GET", "/products", NULL, NULL), 200);
    json_t *items = json_object_get(f->r.json, "items");
    assert_int_equal(json_array_size(items), 20); /* the default limit */
    for (size_t i = 1; i < json_array_size(items); i++)
        assert_true(strcmp(str(json_array_get(items, i - 1), "name"), str(json_array_get(items, i), "name")) <= 0);
    ids = walk_all(f, "&category=odd", 4, NULL, &pages);
    assert_int_equal(json_array_size(ids), 12);
    json_decref(ids);
    assert_int_equal(req(f, "GET", "/products?limit=0", NULL, NULL), 400);
    assert_int_equal(req(f, "GET", "/products?limit=101", NULL, NULL), 400);
    assert_int_equal(req(f, "GET", "/products?cursor=garbage!", NULL, NULL), 400);
    assert_string_equal(str(json_array_get(json_object_get(f->r.json, "errors"), 0), "field"), "cursor");
}

static void search_is_case_insensitive_and_literal(void **state)
{
    fixture *f = *state;
    free(create(f, "{\"name\":\"Basmati Rice\",\"price\":1}"));
    free(create(f, "{\"name\":\"rice flakes (poha)\",\"price\":1}"));
    free(create(f, "{\"name\":\"Ricotta\",\"price\":1}"));
    free(create(f, "{\"name\":\"a.c\",\"price\":1}"));
    free(create(f, "{\"name\":\"abc\",\"price\":1}"));
    assert_int_equal(req(f, "GET", "/products?q=RICE", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 2);
    assert_int_equal(req(f, "GET", "/products?q=a.c", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 1);
    assert_int_equal(req(f, "GET", "/products?q=(poha)", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 1);
    assert_int_equal(req(f, "GET", "/products?q=.*", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 0);
}

static void db_outage_is_503(void **state)
{
    fixture *f = *state;
    char *id = create(f, "{\"name\":\"Tea\",\"price\":25000}");
    char path[128];
    snprintf(path, sizeof(path), "/products/%s", id);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", path, NULL, NULL), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", "/products", NULL, NULL), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "POST", "/products", "{\"name\":\"x\",\"price\":1}", &admin), 503);
    assert_int_equal(req(f, "GET", path, NULL, NULL), 200);
    free(id);
}

static void index_failure_stops_loading(void **state)
{
    (void)state;
    kr_fakehost *fh = kr_fakehost_new();
    kr_fakehost_fail_db(fh, KR_EUNAVAILABLE, 1);
    assert_null(kr_fakehost_load(fh, kr_plugin_entry(), "/products", NULL));
    kr_fakehost_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_answers_201_with_location_and_admin_view, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_are_for_admins, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_bodies_are_400_naming_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_updates_unsets_and_404s, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_deactivates, setup, teardown),
        cmocka_unit_test_setup_teardown(restock_is_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(list_pages_in_name_order, setup, teardown),
        cmocka_unit_test_setup_teardown(search_is_case_insensitive_and_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(db_outage_is_503, setup, teardown),
        cmocka_unit_test(index_failure_stops_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
