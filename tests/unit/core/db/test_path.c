/* core/db/path.c and id.c: field paths and generated ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/id.h"
#include "core/db/path.h"
#include "core/util/err.h"

static void test_paths(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "_id", "holds.order", "a.0.b", "A_b9.c_", "0", "a.123456789"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (krc_db_path_check(good[i], "t") != 0)
            fail_msg("%s refused: %s", good[i], krc_err_msg());
    static const char *const bad[] = {"",    ".",    "a.",           ".a", "a..b", "a b",  "a-b",
                                      "a'b", "a\"b", "a.1234567890", "1a", "a.$b", "$set", "é"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (krc_db_path_check(bad[i], "t") != KR_EINVAL)
            fail_msg("%s accepted", bad[i]);
    assert_int_equal(krc_db_path_check("$where", "filter"), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "unsupported operator $where"));
    char deep[200] = "a";
    for (int i = 0; i < 40; i++)
        strcat(deep, ".a");
    assert_int_equal(krc_db_path_check(deep, "t"), KR_EINVAL);
    assert_int_equal(krc_db_path_depth("a.b.0"), 3);
    assert_true(krc_db_path_is_prefix("a", "a.b"));
    assert_true(krc_db_path_is_prefix("a.b", "a.b"));
    assert_false(krc_db_path_is_prefix("a", "ab"));
    assert_false(krc_db_path_is_prefix("a.b", "a"));
}

static void test_ids(void **state)
{
    (void)state;
    char a[25], b[25];
    assert_int_equal(krc_db_id_new(a), 0);
    assert_int_equal(krc_db_id_new(b), 0);
    assert_int_equal(strlen(a), 24);
    assert_int_equal(strspn(a, "0123456789abcdef"), 24);
    assert_string_not_equal(a, b);
    assert_memory_equal(a, b, 6); /* same time prefix, give or take a second's tail */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
