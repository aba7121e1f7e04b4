/* cart.so without I/O: quantities and bodies, decoding what Redis answers,
 * pricing the view. The plugin's sources are compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/cart/cart.c"
#include "plugins/cart/catalog.c"
#include "plugins/cart/handlers.c"
#include "plugins/cart/store.c"
#include "plugins/cart/validate.c"
#include "plugins/cart/view.c"

static json_t *js(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v == NULL)
        fail_msg("bad JSON in test: %s (%s)", text, err.text);
    return v;
}

static const char *first_field(const json_t *errors)
{
    return json_string_value(json_object_get(json_array_get(errors, 0), "field"));
}

static void add_needs_a_product_and_a_positive_integer(void **state)
{
    (void)state;
    json_t *b = js("{\"product_id\":\"p1\",\"qty\":3}"), *errors = NULL;
    const char *pid;
    long long qty;
    assert_int_equal(cart_validate_add(b, &pid, &qty, &errors), KR_OK);
    assert_string_equal(pid, "p1");
    assert_int_equal(qty, 3);
    json_decref(b);

    /* not a positive integer: 400 on qty */
    const char *bad_qty[] = {"0", "-1", "1.5", "2.0", "\"2\"", "true", "null", "[]", "1000001", "1e2"};
    for (size_t i = 0; i < sizeof(bad_qty) / sizeof(bad_qty[0]); i++) {
        char body[96];
        snprintf(body, sizeof(body), "{\"product_id\":\"p1\",\"qty\":%s}", bad_qty[i]);
        b = js(body);
        errors = NULL;
        assert_int_equal(cart_validate_add(b, &pid, &qty, &errors), KR_EINVAL);
        assert_string_equal(first_field(errors), "qty");
        json_decref(errors);
        json_decref(b);
    }
    const char *bad_bodies[][2] = {{"{\"qty\":1}", "product_id"},
                                   {"{\"product_id\":5,\"qty\":1}", "product_id"},
                                   {"{\"product_id\":\"\",\"qty\":1}", "product_id"},
                                   {"{\"product_id\":\"a b\",\"qty\":1}", "product_id"},
                                   {"{\"product_id\":\"p1\"}", "qty"},
                                   {"{\"product_id\":\"p1\",\"qty\":1,\"user_id\":\"u2\"}", "user_id"}};
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        b = js(bad_bodies[i][0]);
        errors = NULL;
        assert_int_equal(cart_validate_add(b, &pid, &qty, &errors), KR_EINVAL);
        assert_string_equal(first_field(errors), bad_bodies[i][1]);
        json_decref(errors);
        json_decref(b);
    }
}

static void set_accepts_zero(void **state)
{
    (void)state;
    json_t *b = js("{\"qty\":0}"), *errors = NULL;
    long long qty = -1;
    assert_int_equal(cart_validate_set(b, &qty, &errors), KR_OK);
    assert_int_equal(qty, 0);
    json_decref(b);
    b = js("{\"qty\":-3}");
    assert_int_equal(cart_validate_set(b, &qty, &errors), KR_EINVAL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                        "must not be negative");
    json_decref(errors);
    json_decref(b);
}

/* --- Redis replies built by hand --- */

static kr_redis_reply *node(kr_redis_type t)
{
    kr_redis_reply *r = calloc(1, sizeof(*r));
    r->type = t;
    return r;
}

static kr_redis_reply *rstr(const char *s)
{
    kr_redis_reply *r = node(KR_REDIS_STRING);
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static kr_redis_reply *rnum(long long n)
{
    kr_redis_reply *r = node(KR_REDIS_INTEGER);
    r->integer = n;
    return r;
}

/* An array of n elements, given as reply pointers. */
static kr_redis_reply *rarr(size_t n, ...)
{
    kr_redis_reply *r = node(KR_REDIS_ARRAY);
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, kr_redis_reply *);
    va_end(ap);
    return r;
}

static void lines_are_sorted_and_checked(void **state)
{
    (void)state;
    kr_redis_reply *r =
        rarr(8, rstr("p9"), rstr("2"), rstr("p1"), rstr("5"), rstr("px"), rstr("0"), rstr("py"), rstr("3x"));
    cart_lines l;
    assert_int_equal(cart_lines_from_reply(r, &l), KR_OK);
    /* "0" and "3x" were never written by the plugin: skipped */
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].product_id, "p1");
    assert_int_equal(l.v[0].qty, 5);
    assert_string_equal(l.v[1].product_id, "p9");
    cart_lines_free(&l);
    kr_redis_reply_free(r);

    r = rarr(3, rstr("p1"), rstr("1"), rstr("p2"));
    assert_int_equal(cart_lines_from_reply(r, &l), KR_EINTERNAL);
    kr_redis_reply_free(r);
    r = rstr("WRONGTYPE");
    assert_int_equal(cart_lines_from_reply(r, &l), KR_EINTERNAL);
    kr_redis_reply_free(r);
}

static void outcomes_decode(void **state)
{
    (void)state;
    cart_outcome o;
    kr_redis_reply *r = rarr(3, rnum(0), rnum(4), rarr(2, rstr("p1"), rstr("4")));
    assert_int_equal(cart_outcome_from_reply(r, &o), KR_OK);
    assert_int_equal(o.verdict, CART_OK);
    assert_int_equal(o.qty, 4);
    assert_int_equal(o.lines.n, 1);
    cart_lines_free(&o.lines);
    kr_redis_reply_free(r);

    r = rarr(3, rnum(2), rnum(9), rarr(0));
    assert_int_equal(cart_outcome_from_reply(r, &o), KR_OK);
    assert_int_equal(o.verdict, CART_OVER_STOCK);
    assert_int_equal(o.qty, 9);
    kr_redis_reply_free(r);

    r = rarr(3, rnum(7), rnum(9), rarr(0));
    assert_int_equal(cart_outcome_from_reply(r, &o), KR_EINTERNAL);
    kr_redis_reply_free(r);
    r = rarr(2, rnum(0), rnum(1));
    assert_int_equal(cart_outcome_from_reply(r, &o), KR_EINTERNAL);
    kr_redis_reply_free(r);
}

static void view_prices_available_lines_only(void **state)
{
    (void)state;
    cart_line v[] = {{"gone", 1}, {"off", 2}, {"ok", 3}, {"short", 4}};
    cart_lines l = {v, 4};
    json_t *by_id = js("{\"ok\":{\"_id\":\"ok\",\"name\":\"Milk\",\"price\":3000,\"stock\":3,\"active\":true},"
                       "\"off\":{\"_id\":\"off\",\"name\":\"Curd\",\"price\":4000,\"stock\":9,\"active\":false},"
                       "\"short\":{\"_id\":\"short\",\"name\":\"Eggs\",\"price\":700,\"stock\":3,\"active\":true}}");
    json_t *view = cart_view(&l, by_id);
    json_t *want = js("{\"items\":["
                      "{\"product_id\":\"gone\",\"name\":null,\"price\":null,\"qty\":1,\"line_total\":null,"
                      "\"available\":false},"
                      "{\"product_id\":\"off\",\"name\":\"Curd\",\"price\":4000,\"qty\":2,\"line_total\":8000,"
                      "\"available\":false},"
                      "{\"product_id\":\"ok\",\"name\":\"Milk\",\"price\":3000,\"qty\":3,\"line_total\":9000,"
                      "\"available\":true},"
                      "{\"product_id\":\"short\",\"name\":\"Eggs\",\"price\":700,\"qty\":4,\"line_total\":2800,"
                      "\"available\":false}],"
                      "\"total\":9000,\"currency\":\"INR\"}");
    if (!json_equal(view, want)) {
        char *g = json_dumps(view, JSON_COMPACT);
        fail_msg("got %s", g);
    }
    json_decref(want);
    json_decref(view);
    json_decref(by_id);

    cart_lines none = {0};
    json_t *empty = json_object();
    view = cart_view(&none, empty);
    want = js("{\"items\":[],\"total\":0,\"currency\":\"INR\"}");
    assert_true(json_equal(view, want));
    json_decref(want);
    json_decref(view);
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_needs_a_product_and_a_positive_integer),
        cmocka_unit_test(set_accepts_zero),
        cmocka_unit_test(lines_are_sorted_and_checked),
        cmocka_unit_test(outcomes_decode),
        cmocka_unit_test(view_prices_available_lines_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
