#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/router/cors.h"
#include "core/util/err.h"

static const char *const origins[] = {"https://shop.example.com", "http://localhost:5173"};
static const char *const headers[] = {"authorization", "content-type", "idempotency-key"};

static void assert_header(const krc_cors_headers *out, size_t i, const char *name, const char *value)
{
    assert_true(i < out->n);
    assert_string_equal(out->h[i].name, name);
    assert_int_equal(out->h[i].len, strlen(value));
    assert_memory_equal(out->h[i].value, value, strlen(value));
}

static int allowed(const krc_cors *c, const char *origin)
{
    return krc_cors_origin_allowed(c, origin, strlen(origin));
}

static void test_origins(void **state)
{
    (void)state;
    krc_cors *c = krc_cors_new(origins, 2, headers, 3, 600);
    assert_non_null(c);
    assert_true(allowed(c, "https://shop.example.com"));
    assert_true(allowed(c, "HTTPS://Shop.Example.com"));
    assert_true(allowed(c, "http://localhost:5173"));
    assert_false(allowed(c, "https://shop.example.com.evil.io"));
    assert_false(allowed(c, "https://shop.example.co"));
    assert_false(allowed(c, "http://shop.example.com"));
    assert_false(allowed(c, "null"));
    assert_false(allowed(c, ""));
    assert_false(krc_cors_origin_allowed(c, NULL, 0));
    /* only the given length counts */
    assert_false(krc_cors_origin_allowed(c, "https://shop.example.com", 10));
    krc_cors_free(c);

    static const char *const any[] = {"*"};
    c = krc_cors_new(any, 1, NULL, 0, -1);
    assert_non_null(c);
    assert_true(allowed(c, "https://anything.example"));
    assert_true(allowed(c, "null"));
    assert_false(allowed(c, ""));
    assert_false(allowed(c, "https://a.example\r\nx-evil: 1"));
    krc_cors_free(c);
    krc_cors_free(NULL);
}

static void test_bad_config(void **state)
{
    (void)state;
    static const char *const mixed[] = {"https://a.example", "*"};
    assert_null(krc_cors_new(mixed, 2, NULL, 0, 0));
    assert_non_null(strstr(krc_err_msg(), "only entry"));
    static const char *const spaced[] = {"https://a.example "};
    assert_null(krc_cors_new(spaced, 1, NULL, 0, 0));
    static const char *const empty[] = {""};
    assert_null(krc_cors_new(empty, 1, NULL, 0, 0));
    static const char *const bad_header[] = {"content type"};
    assert_null(krc_cors_new(origins, 2, bad_header, 1, 0));
    assert_non_null(strstr(krc_err_msg(), "content type"));
}

static void test_preflight(void **state)
{
    (void)state;
    krc_cors *c = krc_cors_new(origins, 2, headers, 3, 600);
    const char *o = "https://shop.example.com";
    const char *allow = "GET, HEAD, OPTIONS, POST";
    krc_cors_headers out;
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "POST", 4, allow, &out), 1);
    assert_int_equal(out.n, 5);
    assert_header(&out, 0, "access-control-allow-origin", o);
    assert_header(&out, 1, "access-control-allow-methods", allow);
    assert_header(&out, 2, "access-control-allow-headers", "authorization, content-type, idempotency-key");
    assert_header(&out, 3, "access-control-max-age", "600");
    assert_header(&out, 4, "vary", "origin");
    /* the request's own spelling is echoed, never "*" */
    assert_int_equal(krc_cors_preflight(c, "https://SHOP.example.com", 24, "GET", 3, allow, &out), 1);
    assert_header(&out, 0, "access-control-allow-origin", "https://SHOP.example.com");

    /* a method the path does not have, or that is not a whole token */
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "DELETE", 6, allow, &out), 0);
    assert_int_equal(out.n, 1);
    assert_header(&out, 0, "vary", "origin");
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "POS", 3, allow, &out), 0);
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "post", 4, allow, &out), 0);
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "", 0, allow, &out), 0);
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), NULL, 0, allow, &out), 0);
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "OPTIONS", 7, allow, &out), 1);
    /* an unknown path */
    assert_int_equal(krc_cors_preflight(c, o, strlen(o), "GET", 3, NULL, &out), 0);
    /* a disallowed origin gets no CORS headers */
    assert_int_equal(krc_cors_preflight(c, "https://evil.example", 20, "GET", 3, allow, &out), 0);
    assert_int_equal(out.n, 1);
    assert_header(&out, 0, "vary", "origin");
    krc_cors_free(c);

    /* no headers configured, max-age omitted */
    static const char *const any[] = {"*"};
    c = krc_cors_new(any, 1, NULL, 0, -1);
    assert_int_equal(krc_cors_preflight(c, "https://x.example", 17, "PATCH", 5, "OPTIONS, PATCH", &out), 1);
    assert_int_equal(out.n, 3);
    assert_header(&out, 0, "access-control-allow-origin", "https://x.example");
    assert_header(&out, 1, "access-control-allow-methods", "OPTIONS, PATCH");
    assert_header(&out, 2, "vary", "origin");
    krc_cors_free(c);

    c = krc_cors_new(any, 1, headers, 1, 0);
    assert_int_equal(krc_cors_preflight(c, "https://x.example", 17, "GET", 3, "GET", &out), 1);
    assert_int_equal(out.n, 5);
    assert_header(&out, 2, "access-control-allow-headers", "authorization");
    assert_header(&out, 3, "access-control-max-age", "0");
    assert_header(&out, 4, "vary", "origin");
    krc_cors_free(c);
}

static void test_simple(void **state)
{
    (void)state;
    krc_cors *c = krc_cors_new(origins, 2, headers, 3, 600);
    krc_cors_headers out;
    const char *o = "http://localhost:5173";
    assert_int_equal(krc_cors_simple(c, o, strlen(o), &out), 1);
    assert_int_equal(out.n, 2);
    assert_header(&out, 0, "access-control-allow-origin", o);
    assert_header(&out, 1, "vary", "origin");
    assert_int_equal(krc_cors_simple(c, "http://localhost:5174", 21, &out), 0);
    assert_int_equal(out.n, 1);
    assert_header(&out, 0, "vary", "origin");
    assert_int_equal(krc_cors_simple(c, NULL, 0, &out), 0);
    assert_int_equal(out.n, 1);
    assert_header(&out, 0, "vary", "origin");
    krc_cors_free(c);

    /* no origins at all: nobody is allowed */
    c = krc_cors_new(NULL, 0, NULL, 0, -1);
    assert_non_null(c);
    assert_int_equal(krc_cors_simple(c, o, strlen(o), &out), 0);
    krc_cors_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_simple),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
