#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/router/router.h"

static int t_a, t_b, t_c, t_d, t_e;

static krc_router *must_new(void)
{
    krc_router *r = krc_router_new();
    assert_non_null(r);
    return r;
}

static void add_ok(krc_router *r, const char *method, const char *pattern, void *target)
{
    char err[256] = "";
    int rc = krc_router_add(r, method, pattern, "test", target, err, sizeof(err));
    if (rc != 0)
        fail_msg("add %s %s: %s", method, pattern, err);
}

static int match(const krc_router *r, const char *method, const char *path, krc_route_match *m)
{
    return krc_router_match(r, method, strlen(method), path, strlen(path), m);
}

static void assert_param(const krc_route_match *m, size_t i, const char *name, const char *value)
{
    assert_true(i < m->nparams);
    assert_string_equal(m->params[i].name, name);
    assert_int_equal(m->params[i].len, strlen(value));
    assert_memory_equal(m->params[i].value, value, strlen(value));
}

static void test_literal_and_params(void **state)
{
    (void)state;
    krc_router *r = must_new();
    add_ok(r, "GET", "/products", &t_a);
    add_ok(r, "GET", "/products/{id}", &t_b);
    add_ok(r, "POST", "/orders/{id}/cancel", &t_c);
    add_ok(r, "GET", "/a/{x}/b/{y}", &t_d);

    krc_route_match m;
    assert_int_equal(match(r, "GET", "/products", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_a);
    assert_string_equal(m.pattern, "/products");
    assert_string_equal(m.owner, "test");
    assert_int_equal(m.nparams, 0);
    assert_null(m.allow);

    assert_int_equal(match(r, "GET", "/products/p-42", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_string_equal(m.pattern, "/products/{id}");
    assert_int_equal(m.nparams, 1);
    assert_param(&m, 0, "id", "p-42");

    assert_int_equal(match(r, "POST", "/orders/o1/cancel", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_c);
    assert_param(&m, 0, "id", "o1");

    assert_int_equal(match(r, "GET", "/a/1/b/2", &m), KRC_ROUTE_FOUND);
    assert_int_equal(m.nparams, 2);
    assert_param(&m, 0, "x", "1");
    assert_param(&m, 1, "y", "2");

    assert_int_equal(match(r, "GET", "/nope", &m), KRC_ROUTE_NOT_FOUND);
    assert_null(m.target);
    assert_null(m.allow);
    assert_int_equal(match(r, "GET", "/products/1/extra", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/orders/o1", &m), KRC_ROUTE_NOT_FOUND);
    krc_router_free(r);
}

static void test_literal_beats_param_with_backtracking(void **state)
{
    (void)state;
    krc_router *r = must_new();
    add_ok(r, "GET", "/a/{x}/c", &t_a);
    add_ok(r, "GET", "/a/b/d", &t_b);
    add_ok(r, "GET", "/a/b", &t_c);
    add_ok(r, "GET", "/a/{x}", &t_d);

    krc_route_match m;
    assert_int_equal(match(r, "GET", "/a/b/d", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_int_equal(m.nparams, 0);
    /* the literal b leads nowhere for /c: back up and take {x} */
    assert_int_equal(match(r, "GET", "/a/b/c", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_a);
    assert_param(&m, 0, "x", "b");
    assert_int_equal(match(r, "GET", "/a/b", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_c);
    assert_int_equal(match(r, "GET", "/a/z", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_d);
    assert_param(&m, 0, "x", "z");
    assert_int_equal(match(r, "GET", "/a/b/e", &m), KRC_ROUTE_NOT_FOUND);
    krc_router_free(r);
}

static void test_method_beats_405_across_branches(void **state)
{
    (void)state;
    krc_router *r = must_new();
    add_ok(r, "GET", "/p/search", &t_a);
    add_ok(r, "DELETE", "/p/{id}", &t_b);
    add_ok(r, "PATCH", "/p/{id}", &t_c);

    krc_route_match m;
    assert_int_equal(match(r, "DELETE", "/p/search", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_param(&m, 0, "id", "search");
    assert_int_equal(match(r, "POST", "/p/search", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    /* the union of both branches */
    assert_string_equal(m.allow, "DELETE, GET, HEAD, OPTIONS, PATCH");
    assert_int_equal(match(r, "POST", "/p/x", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "DELETE, OPTIONS, PATCH");
    krc_router_free(r);
}

static void test_allow_and_head(void **state)
{
    (void)state;
    krc_router *r = must_new();
    add_ok(r, "POST", "/cart/items", &t_a);
    add_ok(r, "GET", "/cart/items", &t_b);
    add_ok(r, "PUT", "/cart/items/{id}", &t_c);
    add_ok(r, "HEAD", "/h", &t_d);
    add_ok(r, "GET", "/h", &t_e);
    add_ok(r, "OPTIONS", "/o", &t_a);

    krc_route_match m;
    assert_int_equal(match(r, "DELETE", "/cart/items", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS, POST");
    assert_null(m.target);
    assert_int_equal(match(r, "GET", "/cart/items/1", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "OPTIONS, PUT");
    /* methods are case-sensitive; unknown ones are 405 on a known path */
    assert_int_equal(match(r, "get", "/cart/items", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(match(r, "TRACE", "/cart/items", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(match(r, "TRACE", "/elsewhere", &m), KRC_ROUTE_NOT_FOUND);

    assert_int_equal(match(r, "HEAD", "/cart/items", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_int_equal(match(r, "HEAD", "/h", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_d);
    assert_int_equal(match(r, "HEAD", "/cart/items/1", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);

    /* OPTIONS is the pipeline's unless a plugin claims it */
    assert_int_equal(match(r, "OPTIONS", "/cart/items", &m), KRC_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS, POST");
    assert_int_equal(match(r, "OPTIONS", "/o", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_a);
    krc_router_free(r);
}

static void test_slashes_and_raw_segments(void **state)
{
    (void)state;
    krc_router *r = must_new();
    add_ok(r, "GET", "/", &t_a);
    add_ok(r, "GET", "/products/", &t_b); /* stored without the slash */
    add_ok(r, "GET", "/f/{name}", &t_c);

    krc_route_match m;
    assert_int_equal(match(r, "GET", "/", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_a);
    assert_string_equal(m.pattern, "/");
    assert_int_equal(match(r, "GET", "/products", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_string_equal(m.pattern, "/products");
    assert_int_equal(match(r, "GET", "/products/", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_int_equal(match(r, "GET", "/products//", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "//products", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "//", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "*", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "products", &m), KRC_ROUTE_NOT_FOUND);
    /* params never match an empty segment */
    assert_int_equal(match(r, "GET", "/f/", &m), KRC_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/f//", &m), KRC_ROUTE_NOT_FOUND);

    assert_int_equal(match(r, "GET", "/f/a%2Fb", &m), KRC_ROUTE_FOUND);
    assert_param(&m, 0, "name", "a%2Fb");
    assert_int_equal(match(r, "GET", "/f/x/", &m), KRC_ROUTE_FOUND);
    assert_param(&m, 0, "name", "x");

    /* the length given, not the NUL, ends the path */
    const char *p = "/products/123?q=1";
    assert_int_equal(krc_router_match(r, "GET", 3, p, 9, &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    assert_int_equal(krc_router_match(r, "GETX", 3, p, 9, &m), KRC_ROUTE_FOUND);
    krc_router_free(r);
}

static void expect_bad(krc_router *r, const char *method, const char *pattern, const char *why)
{
    char err[256] = "";
    if (krc_router_add(r, method, pattern, "product", &t_a, err, sizeof(err)) != -1)
        fail_msg("add %s %s: accepted", method, pattern);
    if (strstr(err, why) == NULL)
        fail_msg("add %s %s: want \"%s\" in \"%s\"", method, pattern, why, err);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    krc_router *r = must_new();
    expect_bad(r, "GET", "", "must start with '/'");
    expect_bad(r, "GET", "products", "must start with '/'");
    expect_bad(r, "GET", "//", "empty segment");
    expect_bad(r, "GET", "/a//b", "empty segment");
    expect_bad(r, "GET", "/a//", "empty segment");
    expect_bad(r, "GET", "/a/{id", "unbalanced braces");
    expect_bad(r, "GET", "/a/id}", "unbalanced braces");
    expect_bad(r, "GET", "/a/{{id}}", "unbalanced braces");
    expect_bad(r, "GET", "/a/x{id}", "unbalanced braces");
    expect_bad(r, "GET", "/a/{}", "bad param name");
    expect_bad(r, "GET", "/a/{1d}", "bad param name");
    expect_bad(r, "GET", "/a/{i-d}", "bad param name");
    expect_bad(r, "GET", "/a/{id}/b/{id}", "duplicate param name");
    expect_bad(r, "GET", "/a b", "path characters");
    expect_bad(r, "GET", "/a?b", "path characters");
    expect_bad(r, "GET", "/a\"b", "path characters");
    expect_bad(r, "FETCH", "/a", "unknown method");
    expect_bad(r, "get", "/a", "unknown method");
    expect_bad(r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}/{q}", "more than 16");

    char err[256];
    assert_int_equal(krc_router_add(r, "GET", "/a//b", "product", &t_a, err, sizeof(err)), -1);
    assert_string_equal(err, "bad route GET \"/a//b\" (plugin \"product\"): empty segment");
    add_ok(r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}", &t_a);
    add_ok(r, "GET", "/x/a:b@c;d=e,f+g!h$i&j'k(l)m*n~o.p-q_r%20", &t_b);
    krc_route_match m;
    assert_int_equal(match(r, "GET", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", &m), KRC_ROUTE_FOUND);
    assert_int_equal(m.nparams, 16);
    assert_param(&m, 15, "p", "16");
    assert_int_equal(match(r, "GET", "/x/a:b@c;d=e,f+g!h$i&j'k(l)m*n~o.p-q_r%20", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_b);
    krc_router_free(r);
}

static void test_conflicts(void **state)
{
    (void)state;
    krc_router *r = must_new();
    char err[256];
    assert_int_equal(krc_router_add(r, "GET", "/products/{id}", "product", &t_a, err, sizeof(err)), 0);
    assert_int_equal(krc_router_add(r, "GET", "/products/{sku}", "catalog", &t_b, err, sizeof(err)), -1);
    assert_string_equal(err, "route conflict: GET /products/{id} (plugin \"product\") and GET /products/{sku} "
                             "(plugin \"catalog\")");
    assert_int_equal(krc_router_add(r, "GET", "/products/{id}/", "catalog", &t_b, err, sizeof(err)), -1);
    assert_string_equal(err, "route conflict: GET /products/{id} (plugin \"product\") and GET /products/{id} "
                             "(plugin \"catalog\")");
    assert_int_equal(krc_router_add(r, "GET", "/", NULL, &t_b, err, sizeof(err)), 0);
    assert_int_equal(krc_router_add(r, "GET", "/", "x", &t_b, err, sizeof(err)), -1);
    assert_string_equal(err, "route conflict: GET / (core) and GET / (plugin \"x\")");

    /* same pattern, other methods, other param names: fine */
    assert_int_equal(krc_router_add(r, "PATCH", "/products/{sku}", "catalog", &t_c, err, sizeof(err)), 0);
    assert_int_equal(krc_router_add(r, "HEAD", "/products/{id}", "catalog", &t_d, err, sizeof(err)), 0);
    /* a literal where another has a param is no conflict */
    assert_int_equal(krc_router_add(r, "GET", "/products/search", "catalog", &t_e, err, sizeof(err)), 0);

    krc_route_match m;
    assert_int_equal(match(r, "GET", "/products/9", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_a);
    assert_param(&m, 0, "id", "9");
    assert_string_equal(m.owner, "product");
    assert_int_equal(match(r, "PATCH", "/products/9", &m), KRC_ROUTE_FOUND);
    assert_ptr_equal(m.target, &t_c);
    assert_param(&m, 0, "sku", "9");
    assert_string_equal(m.pattern, "/products/{sku}");
    assert_int_equal(match(r, "GET", "/", &m), KRC_ROUTE_FOUND);
    assert_null(m.owner);
    krc_router_free(r);
    krc_router_free(NULL);
}

static const char *const bench_routes[][2] = {
    {"POST", "/auth/send-otp"},
    {"POST", "/auth/verify-otp"},
    {"POST", "/auth/refresh"},
    {"POST", "/auth/logout"},
    {"GET", "/auth/me"},
    {"PATCH", "/auth/me"},
    {"GET", "/products"},
    {"POST", "/products"},
    {"GET", "/products/{id}"},
    {"PATCH", "/products/{id}"},
    {"DELETE", "/products/{id}"},
    {"POST", "/products/{id}/stock"},
    {"GET", "/cart"},
    {"DELETE", "/cart"},
    {"POST", "/cart/items"},
    {"PUT", "/cart/items/{id}"},
    {"DELETE", "/cart/items/{id}"},
    {"POST", "/orders"},
    {"GET", "/orders"},
    {"GET", "/orders/{id}"},
    {"POST", "/orders/{id}/cancel"},
    {"GET", "/orders/{id}/events"},
    {"PATCH", "/orders/{id}/status"},
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/admin/users/{id}"},
    {"POST", "/admin/users/{id}/role"},
    {"GET", "/v2/stores/{store}/products/{id}"},
    {"GET", "/v2/stores/{store}/slots"},
};

static void test_bench(void **state)
{
    (void)state;
    krc_router *r = must_new();
    size_t nroutes = sizeof(bench_routes) / sizeof(bench_routes[0]);
    for (size_t i = 0; i < nroutes; i++)
        add_ok(r, bench_routes[i][0], bench_routes[i][1], (void *)bench_routes[i]);
    static const char *const reqs[][2] = {
        {"GET", "/products/8f1c2e"},
        {"POST", "/orders/o-123/cancel"},
        {"GET", "/cart"},
        {"PUT", "/cart/items/p-77"},
        {"GET", "/orders/o-9/events"},
        {"POST", "/auth/verify-otp"},
        {"GET", "/v2/stores/s1/products/p2"},
        {"GET", "/nope/nothing"},
        {"POST", "/products/p1"},
        {"GET", "/healthz"},
    };
    size_t nreqs = sizeof(reqs) / sizeof(reqs[0]);
    size_t mlen[16], plen[16];
    for (size_t i = 0; i < nreqs; i++) {
        mlen[i] = strlen(reqs[i][0]);
        plen[i] = strlen(reqs[i][1]);
    }
    const long iters = 3000000;
    krc_route_match m;
    volatile size_t found = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iters; i++) {
        size_t k = (size_t)i % nreqs;
        found += krc_router_match(r, reqs[k][0], mlen[k], reqs[k][1], plen[k], &m) == KRC_ROUTE_FOUND;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("router bench: %zu routes, %ld matches in %.3f s: %.1f M matches/s (%.0f ns each)\n", nroutes, iters,
                  s, (double)iters / s / 1e6, s / (double)iters * 1e9);
    assert_int_equal(found, (size_t)iters / nreqs * 8);
    krc_router_free(r);
}

typedef struct matcher {
    const krc_router *r;
    size_t bad;
} matcher;

static void *match_loop(void *arg)
{
    matcher *mt = arg;
    char path[64];
    krc_route_match m;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(path, sizeof(path), "/orders/o%d/cancel", i);
        if (krc_router_match(mt->r, "POST", 4, path, (size_t)n, &m) != KRC_ROUTE_FOUND || m.nparams != 1 ||
            m.params[0].len != (size_t)n - 15 || memcmp(m.params[0].value, path + 8, m.params[0].len) != 0)
            mt->bad++;
    }
    return NULL;
}

/* The router is read-only after startup: threads share it without locks. */
static void test_concurrent_matches(void **state)
{
    (void)state;
    krc_router *r = must_new();
    for (size_t i = 0; i < sizeof(bench_routes) / sizeof(bench_routes[0]); i++)
        add_ok(r, bench_routes[i][0], bench_routes[i][1], (void *)bench_routes[i]);
    pthread_t th[8];
    matcher mt[8];
    for (int i = 0; i < 8; i++) {
        mt[i] = (matcher){.r = r};
        assert_int_equal(pthread_create(&th[i], NULL, match_loop, &mt[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(mt[i].bad, 0);
    }
    krc_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_params),
        cmocka_unit_test(test_literal_beats_param_with_backtracking),
        cmocka_unit_test(test_method_beats_405_across_branches),
        cmocka_unit_test(test_allow_and_head),
        cmocka_unit_test(test_slashes_and_raw_segments),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_bench),
        cmocka_unit_test(test_concurrent_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
