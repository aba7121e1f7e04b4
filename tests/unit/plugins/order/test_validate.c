/* order.so's pure parts: body and query validation, list cursors, the
 * state machine's edges, the order view and ids. */
#include "fixture.h"

static size_t nerrors(json_t *errors)
{
    size_t n = json_array_size(errors);
    json_decref(errors);
    return n;
}

static int place_errors(const char *body, const char *field)
{
    json_t *b = parse(body), *clean = NULL, *errors = NULL;
    int rc = order_validate_place(b, &clean, &errors);
    int found = 0;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) found |= field != NULL && strcmp(str(e, "field"), field) == 0;
    json_decref(b);
    json_decref(clean);
    json_decref(errors);
    if (rc == KR_OK)
        return 0;
    assert_int_equal(rc, KR_EINVAL);
    return found ? 1 : -1;
}

static void place_bodies(void **state)
{
    (void)state;
    json_t *b = parse("{\"address\":{\"pincode\":\"110001\",\"city\":\"Delhi\",\"line1\":\"1 Janpath\","
                      "\"lng\":77.2,\"lat\":28.6},\"note\":\"gate 2\"}");
    json_t *clean = NULL, *errors = NULL;
    assert_int_equal(order_validate_place(b, &clean, &errors), 0);
    assert_null(errors);
    json_t *want = parse("{\"address\":{\"line1\":\"1 Janpath\",\"city\":\"Delhi\",\"pincode\":\"110001\","
                         "\"lat\":28.6,\"lng\":77.2},\"note\":\"gate 2\"}");
    assert_true(json_equal(clean, want));
    json_decref(want);
    json_decref(clean);
    json_decref(b);

    b = parse(ADDRESS);
    assert_int_equal(order_validate_place(b, &clean, &errors), 0);
    assert_true(json_is_null(json_object_get(clean, "note")));
    json_decref(clean);
    json_decref(b);

    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560001\"},\"note\":null}", NULL), 0);
    assert_int_equal(place_errors("{}", "address"), 1);
    assert_int_equal(place_errors("{\"address\":[]}", "address"), 1);
    assert_int_equal(place_errors("{\"address\":{}}", "address.line1"), 1);
    assert_int_equal(place_errors("{\"address\":{}}", "address.pincode"), 1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"56000\"}}", "address.pincode"), 1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"56000a\"}}", "address.pincode"), 1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"060001\"}}", "address.pincode"), 1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"\",\"city\":\"y\",\"pincode\":\"560001\"}}", "address.line1"), 1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"a\\tb\",\"city\":\"y\",\"pincode\":\"560001\"}}", "address.line1"), 1);
    assert_int_equal(place_errors("{\"address\":{\"line1\":\"x\",\"city\":7,\"pincode\":\"560001\"}}", "address.city"),
                     1);
    assert_int_equal(place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560001\",\"lat\":-90.5,"
                                  "\"lng\":1}}",
                                  "address.lat"),
                     1);
    assert_int_equal(place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560001\",\"lng\":181,"
                                  "\"lat\":1}}",
                                  "address.lng"),
                     1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560001\",\"lng\":1}}", "address.lat"),
        1);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560001\",\"x\":1}}", "address.x"), 1);
    assert_int_equal(place_errors(ADDRESS "", NULL), 0);
    assert_int_equal(
        place_errors("{\"address\":{\"line1\":\"x\",\"city\":\"y\",\"pincode\":\"560001\"},\"total\":1}", "total"), 1);

    /* 200 characters of any script are fine, 201 are not */
    char body[2048], line[1024] = "";
    for (int i = 0; i < 200; i++)
        strcat(line, "\xe0\xa4\x95"); /* क */
    snprintf(body, sizeof(body), "{\"address\":{\"line1\":\"%s\",\"city\":\"y\",\"pincode\":\"560001\"}}", line);
    assert_int_equal(place_errors(body, NULL), 0);
    strcat(line, "x");
    snprintf(body, sizeof(body), "{\"address\":{\"line1\":\"%s\",\"city\":\"y\",\"pincode\":\"560001\"}}", line);
    assert_int_equal(place_errors(body, "address.line1"), 1);
}

static void status_bodies(void **state)
{
    (void)state;
    order_status to;
    json_t *errors = NULL;
    json_t *b = parse("{\"status\":\"packed\"}");
    assert_int_equal(order_validate_status(b, &to, &errors), 0);
    assert_int_equal(to, OS_PACKED);
    json_decref(b);
    const char *bad[] = {"{}", "{\"status\":\"shipped\"}", "{\"status\":1}", "{\"status\":\"packed\",\"x\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = parse(bad[i]);
        errors = NULL;
        assert_int_equal(order_validate_status(b, &to, &errors), KR_EINVAL);
        assert_int_equal(nerrors(errors), 1);
        json_decref(b);
    }
}

static void list_queries_and_cursors(void **state)
{
    (void)state;
    int limit;
    char *c, *id;
    json_t *errors = NULL;
    assert_int_equal(order_validate_list(NULL, NULL, &limit, &c, &id, &errors), 0);
    assert_int_equal(limit, 20);
    assert_null(c);
    assert_int_equal(order_validate_list("100", NULL, &limit, &c, &id, &errors), 0);
    assert_int_equal(limit, 100);
    const char *bad[] = {"0", "101", "-1", "+5", " 5", "5x", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errors = NULL;
        assert_int_equal(order_validate_list(bad[i], NULL, &limit, &c, &id, &errors), KR_EINVAL);
        assert_int_equal(nerrors(errors), 1);
    }

    char *cur = order_cursor_encode("2024-05-01T09:30:00.000Z", "01a2b3c4d5e6f708090a0b0c");
    assert_non_null(cur);
    assert_null(strpbrk(cur, "+/=")); /* URL-safe as is */
    errors = NULL;
    assert_int_equal(order_validate_list("5", cur, &limit, &c, &id, &errors), 0);
    assert_string_equal(c, "2024-05-01T09:30:00.000Z");
    assert_string_equal(id, "01a2b3c4d5e6f708090a0b0c");
    free(c);
    free(id);
    /* every cursor the server did not make is refused */
    char *not_ids = order_cursor_encode("2024", "a b");
    const char *forged[] = {"!", "a", "e30", "W10", "WyJ4Il0", not_ids, "WzEsMl0"};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        errors = NULL;
        assert_int_equal(order_validate_list(NULL, forged[i], &limit, &c, &id, &errors), KR_EINVAL);
        assert_null(c);
        assert_int_equal(nerrors(errors), 1);
    }
    free(not_ids);
    free(cur);
}

static void state_machine_edges(void **state)
{
    (void)state;
    int want[OS_COUNT][OS_COUNT] = {0};
    want[OS_PENDING][OS_PLACED] = want[OS_PLACED][OS_CONFIRMED] = want[OS_CONFIRMED][OS_PACKED] = 1;
    want[OS_PACKED][OS_OUT_FOR_DELIVERY] = want[OS_OUT_FOR_DELIVERY][OS_DELIVERED] = 1;
    want[OS_PENDING][OS_CANCELLED] = want[OS_PLACED][OS_CANCELLED] = 1;
    want[OS_CONFIRMED][OS_CANCELLED] = want[OS_PACKED][OS_CANCELLED] = 1;
    for (int a = 0; a < OS_COUNT; a++)
        for (int b = 0; b < OS_COUNT; b++)
            assert_int_equal(order_edge((order_status)a, (order_status)b), want[a][b]);
    for (int s = 0; s < OS_COUNT; s++) {
        assert_int_equal(order_status_parse(order_status_name((order_status)s)), s);
        assert_int_equal(order_terminal((order_status)s), s == OS_DELIVERED || s == OS_CANCELLED);
    }
    assert_int_equal(order_status_parse("Placed"), OS_COUNT);
    assert_int_equal(order_status_parse(NULL), OS_COUNT);
}

static void the_view_has_the_order_body_and_nothing_else(void **state)
{
    (void)state;
    json_t *doc = parse("{\"_id\":\"o1\",\"user_id\":\"u\",\"status\":\"placed\",\"version\":1,\"history\":[],"
                        "\"items\":[{\"product_id\":\"p\",\"name\":\"P\",\"price\":5,\"qty\":2,\"line_total\":10,"
                        "\"x\":1}],\"total\":10,\"currency\":\"INR\",\"address\":{\"pincode\":\"560001\","
                        "\"city\":\"c\",\"line1\":\"l\"},\"note\":null,\"cancel_reason\":null,\"shortfall\":[],"
                        "\"finalized_at\":\"t\",\"created_at\":\"t0\",\"updated_at\":\"t1\"}");
    json_t *v = order_view(doc);
    char *text = json_dumps(v, JSON_COMPACT);
    assert_string_equal(text, "{\"id\":\"o1\",\"user_id\":\"u\",\"status\":\"placed\",\"items\":[{\"product_id\":\"p\","
                              "\"name\":\"P\",\"price\":5,\"qty\":2,\"line_total\":10}],\"total\":10,\"currency\":"
                              "\"INR\",\"address\":{\"line1\":\"l\",\"city\":\"c\",\"pincode\":\"560001\"},\"note\":"
                              "null,\"cancel_reason\":null,\"created_at\":\"t0\",\"updated_at\":\"t1\"}");
    free(text);
    json_decref(v);
    json_decref(doc);
}

static void ids_sort_by_time_and_are_plausible(void **state)
{
    (void)state;
    char a[ORDER_ID_LEN + 1], b[ORDER_ID_LEN + 1];
    assert_int_equal(order_new_id(a), 0);
    struct timespec ts = {0, 2 * 1000000};
    nanosleep(&ts, NULL);
    assert_int_equal(order_new_id(b), 0);
    assert_int_equal(strlen(a), ORDER_ID_LEN);
    assert_true(strcmp(a, b) < 0);
    assert_true(order_id_plausible(a));
    assert_false(order_id_plausible(""));
    assert_false(order_id_plausible("a b"));
    assert_false(order_id_plausible("a/b"));
    char longer[70];
    memset(longer, 'a', 65);
    longer[65] = '\0';
    assert_false(order_id_plausible(longer));
    char at[32];
    order_iso(1714555800123LL, at);
    assert_string_equal(at, "2024-05-01T09:30:00.123Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(place_bodies),
        cmocka_unit_test(status_bodies),
        cmocka_unit_test(list_queries_and_cursors),
        cmocka_unit_test(state_machine_edges),
        cmocka_unit_test(the_view_has_the_order_body_and_nothing_else),
        cmocka_unit_test(ids_sort_by_time_and_are_plausible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
