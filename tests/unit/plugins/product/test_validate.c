/* product.so without I/O: body and query validation, cursors, regex
 * escaping, views. The plugin's sources are compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/product/cursor.c"
#include "plugins/product/handlers.c"
#include "plugins/product/product.c"
#include "plugins/product/store.c"
#include "plugins/product/validate.c"
#include "plugins/product/view.c"

static json_t *js(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v == NULL)
        fail_msg("bad JSON in test: %s (%s)", text, err.text);
    return v;
}

/* The message recorded for field in a validation errors array, or NULL. */
static const char *error_for(const json_t *errors, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return json_string_value(json_object_get(e, "message"));
    }
    return NULL;
}

/* Runs create validation on body text: the errors (caller-owned) or NULL. */
static json_t *create_errors(const char *body)
{
    json_t *b = js(body), *fields = NULL, *errors = NULL;
    int rc = product_validate_create(b, &fields, &errors);
    json_decref(b);
    json_decref(fields);
    assert_int_equal(rc == KR_EINVAL, errors != NULL);
    return errors;
}

static void create_applies_defaults(void **state)
{
    (void)state;
    json_t *b = js("{\"name\":\"Atta\",\"price\":5500}"), *fields, *errors = NULL;
    assert_int_equal(product_validate_create(b, &fields, &errors), KR_OK);
    assert_null(errors);
    assert_int_equal(json_integer_value(json_object_get(fields, "stock")), 0);
    assert_true(json_is_true(json_object_get(fields, "active")));
    assert_null(json_object_get(fields, "description"));
    json_decref(b);
    json_decref(fields);

    b = js("{\"name\":\"Atta\",\"price\":5500,\"stock\":7,\"active\":false,\"unit\":\"5 kg\",\"category\":\"staples\","
           "\"image_url\":\"https://cdn.example/atta.png\",\"description\":\"Whole wheat\\nstone ground\"}");
    assert_int_equal(product_validate_create(b, &fields, &errors), KR_OK);
    assert_int_equal(json_integer_value(json_object_get(fields, "stock")), 7);
    assert_true(json_is_false(json_object_get(fields, "active")));
    assert_string_equal(json_string_value(json_object_get(fields, "unit")), "5 kg");
    json_decref(b);
    json_decref(fields);
}

static void create_names_every_bad_field(void **state)
{
    (void)state;
    json_t *e = create_errors("{}");
    assert_string_equal(error_for(e, "name"), "is required");
    assert_string_equal(error_for(e, "price"), "is required");
    json_decref(e);

    e = create_errors("{\"name\":\"  \",\"price\":0,\"foo\":1,\"reserved\":2,\"_id\":\"x\",\"id\":\"y\",\"holds\":[]}");
    assert_string_equal(error_for(e, "name"), "must not be empty");
    assert_non_null(error_for(e, "price"));
    assert_string_equal(error_for(e, "foo"), "is not a known field");
    assert_string_equal(error_for(e, "reserved"), "is read-only");
    assert_string_equal(error_for(e, "_id"), "is read-only");
    assert_string_equal(error_for(e, "id"), "is read-only");
    assert_string_equal(error_for(e, "holds"), "is read-only");
    json_decref(e);

    const char *bad_prices[] = {"-1", "1.5", "100.0", "\"100\"", "true", "null", "1000000001", "1e3"};
    for (size_t i = 0; i < sizeof(bad_prices) / sizeof(bad_prices[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"name\":\"x\",\"price\":%s}", bad_prices[i]);
        e = create_errors(body);
        assert_non_null(error_for(e, "price"));
        json_decref(e);
    }
    json_decref(create_errors("{\"name\":\"x\",\"price\":1000000000}")); /* the maximum is fine: NULL */

    e = create_errors("{\"name\":\"a\\u0001b\",\"price\":1,\"stock\":-1,\"active\":\"yes\",\"unit\":\"\","
                      "\"image_url\":\"javascript:alert(1)\",\"category\":7}");
    assert_string_equal(error_for(e, "name"), "must not contain control characters");
    assert_non_null(error_for(e, "stock"));
    assert_string_equal(error_for(e, "active"), "must be true or false");
    assert_string_equal(error_for(e, "unit"), "must not be empty");
    assert_string_equal(error_for(e, "image_url"), "must be an http or https URL");
    assert_string_equal(error_for(e, "category"), "must be a string");
    json_decref(e);
}

static void lengths_count_characters(void **state)
{
    (void)state;
    /* 200 Devanagari letters are 600 bytes but 200 characters */
    char body[1024] = "{\"price\":1,\"name\":\"";
    for (int i = 0; i < 200; i++)
        strcat(body, "\xe0\xa4\x85");
    strcat(body, "\"}");
    assert_null(create_errors(body));
    body[strlen(body) - 2] = '\0';
    strcat(body, "x\"}");
    json_t *e = create_errors(body);
    assert_string_equal(error_for(e, "name"), "must be at most 200 characters");
    json_decref(e);
}

static void patch_sets_unsets_and_refuses(void **state)
{
    (void)state;
    json_t *b = js("{\"price\":6000,\"description\":null,\"active\":true}"), *set, *unset, *errors = NULL;
    assert_int_equal(product_validate_patch(b, &set, &unset, &errors), KR_OK);
    assert_int_equal(json_object_size(set), 2);
    assert_int_equal(json_integer_value(json_object_get(set, "price")), 6000);
    assert_int_equal(json_object_size(unset), 1);
    assert_non_null(json_object_get(unset, "description"));
    json_decref(b);
    json_decref(set);
    json_decref(unset);

    b = js("{}");
    assert_int_equal(product_validate_patch(b, &set, &unset, &errors), KR_OK);
    assert_int_equal(json_object_size(set) + json_object_size(unset), 0);
    json_decref(b);
    json_decref(set);
    json_decref(unset);

    b = js("{\"stock\":5,\"name\":null,\"price\":null,\"committed\":1}");
    assert_int_equal(product_validate_patch(b, &set, &unset, &errors), KR_EINVAL);
    assert_null(set);
    assert_non_null(strstr(error_for(errors, "stock"), "POST /products/{id}/stock"));
    assert_string_equal(error_for(errors, "name"), "must be a string");
    assert_non_null(error_for(errors, "price"));
    assert_string_equal(error_for(errors, "committed"), "is read-only");
    json_decref(b);
    json_decref(errors);
}

static void restock_needs_a_nonzero_integer(void **state)
{
    (void)state;
    const char *bad[] = {"{}",
                         "{\"delta\":0}",
                         "{\"delta\":1.5}",
                         "{\"delta\":\"3\"}",
                         "{\"delta\":1000000001}",
                         "{\"delta\":-1000000001}",
                         "{\"delta\":1,\"stock\":3}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = js(bad[i]), *errors = NULL;
        json_int_t d;
        assert_int_equal(product_validate_restock(b, &d, &errors), KR_EINVAL);
        assert_non_null(errors);
        json_decref(b);
        json_decref(errors);
    }
    json_t *b = js("{\"delta\":-4}"), *errors = NULL;
    json_int_t d;
    assert_int_equal(product_validate_restock(b, &d, &errors), KR_OK);
    assert_int_equal(d, -4);
    json_decref(b);
}

static int list_query(const char *q, const char *category, const char *limit, const char *cursor, const char *inactive,
                      product_list_query *lq, json_t **errors)
{
    *errors = NULL;
    return product_parse_list_query(q, category, limit, cursor, inactive, lq, errors);
}

static void list_query_limits(void **state)
{
    (void)state;
    product_list_query lq;
    json_t *errors;
    assert_int_equal(list_query(NULL, NULL, NULL, NULL, NULL, &lq, &errors), KR_OK);
    assert_int_equal(lq.limit, 20);
    assert_null(lq.q);
    assert_false(lq.include_inactive);
    assert_int_equal(list_query("", NULL, "100", NULL, "true", &lq, &errors), KR_OK);
    assert_null(lq.q); /* an empty search is no search */
    assert_int_equal(lq.limit, 100);
    assert_true(lq.include_inactive);
    assert_int_equal(list_query(NULL, NULL, "1", NULL, "false", &lq, &errors), KR_OK);
    assert_int_equal(lq.limit, 1);

    const char *bad[] = {"0", "101", "", "abc", "+5", "5x", "-1", "1000", " 5", "1e1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(list_query(NULL, NULL, bad[i], NULL, NULL, &lq, &errors), KR_EINVAL);
        assert_non_null(error_for(errors, "limit"));
        json_decref(errors);
    }
    char longq[128];
    memset(longq, 'a', 101);
    longq[101] = '\0';
    assert_int_equal(list_query(longq, "", NULL, "!!", "yes", &lq, &errors), KR_EINVAL);
    assert_non_null(error_for(errors, "q"));
    assert_non_null(error_for(errors, "category"));
    assert_non_null(error_for(errors, "cursor"));
    assert_non_null(error_for(errors, "include_inactive"));
    json_decref(errors);
}

static void cursors_round_trip_and_refuse_forgeries(void **state)
{
    (void)state;
    const char *names[] = {"Tomato", "", "a\"b\\c", "दूध 1 L", "x/y+z=="};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *text = product_cursor_encode(names[i], "6650a1b2c3d4e5f601234567");
        assert_non_null(text);
        assert_null(strpbrk(text, "+/=")); /* URL-safe as is */
        product_cursor c;
        assert_int_equal(product_cursor_decode(text, &c), KR_OK);
        assert_string_equal(c.name, names[i]);
        assert_string_equal(c.id, "6650a1b2c3d4e5f601234567");
        product_cursor_free(&c);
        free(text);
    }
    /* not base64url; base64 of non-JSON; wrong shapes; a non-zero pad bit;
     * an id that cannot be one */
    char *not_id = product_cursor_encode("a", "has space");
    /* ["abc","id1"] is 13 bytes: the last character carries 4 padding bits,
     * which must be zero */
    char *padded = product_cursor_encode("abc", "id1");
    char *last = padded + strlen(padded) - 1;
    *last = b64url[b64_value(*last) | 1];
    const char *bad[] = {"", "a", "@@@@", "aGVsbG8", "eyJhIjoxfQ", "WyJhIl0", "WzEsMl0", "WyJhIl0=", not_id, padded};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        product_cursor c;
        assert_int_equal(product_cursor_decode(bad[i], &c), KR_EINVAL);
        assert_null(c.name);
    }
    free(not_id);
    free(padded);
    char *huge = malloc(5000);
    memset(huge, 'A', 4999);
    huge[4999] = '\0';
    product_cursor c;
    assert_int_equal(product_cursor_decode(huge, &c), KR_EINVAL);
    free(huge);
}

static void regex_escape_makes_input_literal(void **state)
{
    (void)state;
    char *r = product_regex_escape("a.b*(c)[d]|e^$\\ f?+{2}");
    assert_string_equal(r, "a\\.b\\*\\(c\\)\\[d\\]\\|e\\^\\$\\\\\\ f\\?\\+\\{2\\}");
    free(r);
    r = product_regex_escape("दूध2");
    assert_string_equal(r, "दूध2"); /* UTF-8 bytes and alphanumerics stay */
    free(r);
}

static void views_hide_bookkeeping_from_the_public(void **state)
{
    (void)state;
    json_t *doc = js("{\"_id\":\"p1\",\"name\":\"Milk\",\"price\":3000,\"stock\":4,\"reserved\":2,\"committed\":1,"
                     "\"shipped\":3,\"holds\":[{\"order\":\"o1\",\"qty\":2}],\"commits\":[],\"active\":true,"
                     "\"created_at\":\"t0\",\"updated_at\":\"t1\"}");
    json_t *pub = product_view(doc, 0);
    json_t *want = js("{\"id\":\"p1\",\"name\":\"Milk\",\"description\":null,\"price\":3000,\"unit\":null,"
                      "\"category\":null,\"image_url\":null,\"stock\":4}");
    assert_true(json_equal(pub, want));
    json_decref(want);
    json_t *adm = product_view(doc, 1);
    assert_int_equal(json_object_size(adm), 8 + 8);
    assert_int_equal(json_integer_value(json_object_get(adm, "reserved")), 2);
    assert_int_equal(json_array_size(json_object_get(adm, "holds")), 1);
    assert_true(json_is_true(json_object_get(adm, "active")));
    assert_null(json_object_get(adm, "_id"));
    json_decref(pub);
    json_decref(adm);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_applies_defaults),
        cmocka_unit_test(create_names_every_bad_field),
        cmocka_unit_test(lengths_count_characters),
        cmocka_unit_test(patch_sets_unsets_and_refuses),
        cmocka_unit_test(restock_needs_a_nonzero_integer),
        cmocka_unit_test(list_query_limits),
        cmocka_unit_test(cursors_round_trip_and_refuse_forgeries),
        cmocka_unit_test(regex_escape_makes_input_literal),
        cmocka_unit_test(views_hide_bookkeeping_from_the_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
