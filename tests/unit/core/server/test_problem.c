/* Errors become HTTP in one place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/server/problem.h"
#include "kirana/error.h"

static void mapping(void **state)
{
    (void)state;
    assert_int_equal(krc_err_http_status(KR_EINVAL), 400);
    assert_int_equal(krc_err_http_status(KR_ENOTFOUND), 404);
    assert_int_equal(krc_err_http_status(KR_EDUPLICATE), 409);
    assert_int_equal(krc_err_http_status(KR_EUNAVAILABLE), 503);
    assert_int_equal(krc_err_http_status(KR_EUNPROCESSABLE), 422);
    assert_int_equal(krc_err_http_status(-999), 500);
    assert_string_equal(krc_err_problem_code(KR_ELIMIT), "rate_limited");
    assert_string_equal(krc_http_reason(431), "Request Header Fields Too Large");
}

static void body_shape_and_no_forgery(void **state)
{
    (void)state;
    size_t len;
    json_t *extra = json_pack("{s:s, s:i, s:[]}", "code", "forged", "status", 200, "errors");
    char *b = krc_problem_body(409, "conflict", "stock ran out", extra, &len);
    json_t *v = json_loads(b, 0, NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "type")), KRC_PROBLEM_TYPE_BASE "conflict");
    assert_string_equal(json_string_value(json_object_get(v, "title")), "Conflict");
    assert_int_equal(json_integer_value(json_object_get(v, "status")), 409);
    assert_string_equal(json_string_value(json_object_get(v, "code")), "conflict");
    assert_string_equal(json_string_value(json_object_get(v, "detail")), "stock ran out");
    assert_true(json_is_array(json_object_get(v, "errors")));
    assert_int_equal(len, strlen(b));
    json_decref(v);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mapping),
        cmocka_unit_test(body_shape_and_no_forgery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
