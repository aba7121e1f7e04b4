#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/router/urlcode.h"

static void test_path_decoding(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(krc_url_decode(out, "a%20b+c", 7), 5);
    assert_string_equal(out, "a b+c");
    assert_int_equal(krc_url_decode(out, "%2F%2f%41z", 10), 4);
    assert_string_equal(out, "//Az");
    assert_int_equal(krc_url_decode(out, "", 0), 0);
    assert_string_equal(out, "");
    assert_int_equal(krc_url_decode(out, "%E2%82%B9", 9), 3);
    assert_string_equal(out, "\xe2\x82\xb9");
    /* the length, not the NUL, ends the input */
    assert_int_equal(krc_url_decode(out, "abc%41", 3), 3);
    assert_string_equal(out, "abc");
}

static void test_query_decoding(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(krc_url_decode_query(out, "a%20b+c%2B", 10), 6);
    assert_string_equal(out, "a b c+");
}

static void test_in_place(void **state)
{
    (void)state;
    char s[] = "x%3Dy+z";
    assert_int_equal(krc_url_decode_query(s, s, strlen(s)), 5);
    assert_string_equal(s, "x=y z");
}

static void test_bad_escapes(void **state)
{
    (void)state;
    char out[64];
    static const char *const bad[] = {"%", "%4", "a%", "%zz", "%4g", "%g4", "%00", "a%00b", "%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(krc_url_decode(out, bad[i], strlen(bad[i])), (size_t)-1);
        assert_int_equal(krc_url_decode_query(out, bad[i], strlen(bad[i])), (size_t)-1);
    }
    assert_int_equal(krc_url_decode(out, "a\0b", 3), (size_t)-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_decoding),
        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_bad_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
