/* auth.so's phone normalising: what people type becomes E.164, or a
 * reason, or "not a country we serve". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

static const char *const india[] = {"91", NULL};
static const char *const several[] = {"91", "1", "44", "971", "65", "977", NULL};

static const struct {
    const char *in;
    const char *const *countries;
    auth_phone_rc rc;
    const char *out;
} cases[] = {
    {"+919876543210", india, AUTH_PHONE_OK, "+919876543210"},
    {"+91 98765 43210", india, AUTH_PHONE_OK, "+919876543210"},
    {"+91-98765-43210", india, AUTH_PHONE_OK, "+919876543210"},
    {"  +91 (98765) 43.210 ", india, AUTH_PHONE_OK, "+919876543210"},
    {"0091 98765 43210", india, AUTH_PHONE_OK, "+919876543210"},
    {"+916000000000", india, AUTH_PHONE_OK, "+916000000000"},
    /* national forms are ambiguous: the country code is required */
    {"9876543210", india, AUTH_PHONE_INVALID, NULL},
    {"09876543210", india, AUTH_PHONE_INVALID, NULL},
    {"", india, AUTH_PHONE_INVALID, NULL},
    {"+", india, AUTH_PHONE_INVALID, NULL},
    {"+0919876543210", india, AUTH_PHONE_INVALID, NULL},
    /* Indian mobiles have 10 digits starting 6-9 */
    {"+91987654321", india, AUTH_PHONE_INVALID, NULL},
    {"+9198765432100", india, AUTH_PHONE_INVALID, NULL},
    {"+915876543210", india, AUTH_PHONE_INVALID, NULL},
    {"+91", india, AUTH_PHONE_INVALID, NULL},
    /* letters, tabs, extensions, a second + */
    {"+91 98765 4321O", india, AUTH_PHONE_INVALID, NULL},
    {"+91\t9876543210", india, AUTH_PHONE_INVALID, NULL},
    {"+91 9876543210 ext 5", india, AUTH_PHONE_INVALID, NULL},
    {"++919876543210", india, AUTH_PHONE_INVALID, NULL},
    {"+91+9876543210", india, AUTH_PHONE_INVALID, NULL},
    /* E.164 bounds: at most 15 digits, at least 7 */
    {"+9779812345678901", several, AUTH_PHONE_INVALID, NULL},
    {"+977123", several, AUTH_PHONE_INVALID, NULL},
    {"+9771234567", several, AUTH_PHONE_OK, "+9771234567"},
    /* far too long input is refused before it is read */
    {"+91 9 8 7 6 5 4 3 2 1 0                                  ", india, AUTH_PHONE_INVALID, NULL},
    /* valid numbers of countries outside the allow-list */
    {"+14155550123", india, AUTH_PHONE_NOT_ALLOWED, NULL},
    {"+447911123456", india, AUTH_PHONE_NOT_ALLOWED, NULL},
    {"+8613812345678", several, AUTH_PHONE_NOT_ALLOWED, NULL},
    /* other countries' rules */
    {"+1 (415) 555-0123", several, AUTH_PHONE_OK, "+14155550123"},
    {"+1 015 555 0123", several, AUTH_PHONE_INVALID, NULL},
    {"+44 7911 123456", several, AUTH_PHONE_OK, "+447911123456"},
    {"+44 20 7946 0958", several, AUTH_PHONE_INVALID, NULL},
    {"+971 50 123 4567", several, AUTH_PHONE_OK, "+971501234567"},
    {"+65 9123 4567", several, AUTH_PHONE_OK, "+6591234567"},
    {"+65 6123 4567", several, AUTH_PHONE_INVALID, NULL},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[AUTH_PHONE_MAX + 1] = "";
        const char *why = "unset";
        auth_phone_rc rc = auth_phone_normalize(cases[i].in, cases[i].countries, out, &why);
        if (rc != cases[i].rc)
            fail_msg("case %zu \"%s\": rc %d, want %d (%s)", i, cases[i].in, rc, cases[i].rc, why ? why : "-");
        if (rc == AUTH_PHONE_OK) {
            assert_string_equal(out, cases[i].out);
            assert_null(why);
        } else {
            assert_non_null(why);
        }
    }
}

static void test_reasons(void **state)
{
    (void)state;
    char out[AUTH_PHONE_MAX + 1];
    const char *why;
    auth_phone_normalize("9876543210", india, out, &why);
    assert_non_null(strstr(why, "country code"));
    auth_phone_normalize("+91 98765 4321O", india, out, &why);
    assert_non_null(strstr(why, "digits"));
    auth_phone_normalize("+919", india, out, &why);
    assert_non_null(strstr(why, "short"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
