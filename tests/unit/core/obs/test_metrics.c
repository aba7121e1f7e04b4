#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/obs/metrics.h"
#include "core/util/err.h"

static const kr_host host = {.size = sizeof(kr_host), .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};

static int setup(void **state)
{
    (void)state;
    krc_metrics_init(&host);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    krc_metrics_free();
    return 0;
}

static void assert_render(const char *want)
{
    size_t len = 0;
    char *got = krc_metrics_render(&len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

static const double latency_bounds[] = {0.005, 0.1, 1};

static void test_render_exact(void **state)
{
    (void)state;
    krc_counter *ok = krc_metrics_counter("kirana_http_requests_total", "HTTP requests.",
                                          "route=\"GET /products/{id}\",status=\"200\"");
    krc_gauge *depth = krc_metrics_gauge("kirana_pool_queue_depth", "Jobs waiting.\nSecond line \\ here", NULL);
    krc_histogram *lat = krc_metrics_histogram("kirana_http_request_duration_seconds", "Latency.",
                                               "route=\"a\\\"b\\\\c\\nd\"", latency_bounds, 3);
    krc_counter *missing = krc_metrics_counter("kirana_http_requests_total", "a later help is ignored",
                                               "route=\"GET /products/{id}\",status=\"404\"");
    krc_counter *up = krc_metrics_counter("kirana_up_total", NULL, "");
    krc_gauge *neg = krc_metrics_gauge("kirana_balance", "", "raw=\"line\nbreak\"");
    static const double one[] = {1};
    krc_histogram *idle = krc_metrics_histogram("kirana_job_seconds", "Job time.", NULL, one, 1);
    assert_non_null(ok);
    assert_non_null(depth);
    assert_non_null(lat);
    assert_non_null(missing);
    assert_non_null(up);
    assert_non_null(neg);
    assert_non_null(idle);

    krc_counter_add(ok, 3);
    krc_counter_add(missing, 1);
    krc_gauge_set(depth, 7);
    krc_gauge_add(depth, -2);
    krc_gauge_set(neg, -12);
    /* powers of two, so the sum is exact */
    krc_histogram_observe(lat, 0.00390625);
    krc_histogram_observe(lat, 0.0625);
    krc_histogram_observe(lat, 0.0625);
    krc_histogram_observe(lat, 0.5);
    krc_histogram_observe(lat, 2);
    krc_histogram_observe(lat, 1); /* on a bound: that bucket */
    krc_histogram_observe(lat, 0.0 / 0.0);

    assert_int_equal(krc_counter_get(ok), 3);
    assert_int_equal(krc_gauge_get(depth), 5);
    assert_render("# HELP kirana_http_requests_total HTTP requests.\n"
                  "# TYPE kirana_http_requests_total counter\n"
                  "kirana_http_requests_total{route=\"GET /products/{id}\",status=\"200\"} 3\n"
                  "kirana_http_requests_total{route=\"GET /products/{id}\",status=\"404\"} 1\n"
                  "# HELP kirana_pool_queue_depth Jobs waiting.\\nSecond line \\\\ here\n"
                  "# TYPE kirana_pool_queue_depth gauge\n"
                  "kirana_pool_queue_depth 5\n"
                  "# HELP kirana_http_request_duration_seconds Latency.\n"
                  "# TYPE kirana_http_request_duration_seconds histogram\n"
                  "kirana_http_request_duration_seconds_bucket{route=\"a\\\"b\\\\c\\nd\",le=\"0.005\"} 1\n"
                  "kirana_http_request_duration_seconds_bucket{route=\"a\\\"b\\\\c\\nd\",le=\"0.1\"} 3\n"
                  "kirana_http_request_duration_seconds_bucket{route=\"a\\\"b\\\\c\\nd\",le=\"1\"} 5\n"
                  "kirana_http_request_duration_seconds_bucket{route=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 6\n"
                  "kirana_http_request_duration_seconds_sum{route=\"a\\\"b\\\\c\\nd\"} 3.62890625\n"
                  "kirana_http_request_duration_seconds_count{route=\"a\\\"b\\\\c\\nd\"} 6\n"
                  "# TYPE kirana_up_total counter\n"
                  "kirana_up_total 0\n"
                  "# TYPE kirana_balance gauge\n"
                  "kirana_balance{raw=\"line\\nbreak\"} -12\n"
                  "# HELP kirana_job_seconds Job time.\n"
                  "# TYPE kirana_job_seconds histogram\n"
                  "kirana_job_seconds_bucket{le=\"1\"} 0\n"
                  "kirana_job_seconds_bucket{le=\"+Inf\"} 0\n"
                  "kirana_job_seconds_sum 0\n"
                  "kirana_job_seconds_count 0\n");
}

static void test_same_object_and_handle(void **state)
{
    (void)state;
    krc_counter *a = krc_metrics_counter("kirana_x_total", "x", "q=\"otp\"");
    assert_non_null(a);
    assert_ptr_equal(krc_metrics_counter("kirana_x_total", "x", "q=\"otp\""), a);
    assert_ptr_not_equal(krc_metrics_counter("kirana_x_total", "x", "q=\"order\""), a);
    assert_ptr_not_equal(krc_metrics_counter("kirana_x_total", "x", NULL), a);
    /* the handle plugins see leads to the host given at init */
    assert_ptr_equal(KR_HOST_OF(a), &host);
    krc_gauge *g = krc_metrics_gauge("kirana_g", NULL, NULL);
    assert_ptr_equal(KR_HOST_OF(g), &host);
    krc_histogram *h = krc_metrics_histogram("kirana_h", NULL, NULL, latency_bounds, 3);
    assert_ptr_equal(KR_HOST_OF(h), &host);
    /* a trailing +Inf is the implied bucket: same histogram */
    const double with_inf[] = {0.005, 0.1, 1, 1.0 / 0.0};
    assert_ptr_equal(krc_metrics_histogram("kirana_h", NULL, NULL, with_inf, 4), h);
}

static void test_refusals(void **state)
{
    (void)state;
    assert_non_null(krc_metrics_counter("kirana_req_total", "r", NULL));
    assert_null(krc_metrics_gauge("kirana_req_total", "r", NULL));
    assert_string_equal(krc_err_msg(), "metric kirana_req_total is already a counter, not a gauge");
    assert_null(krc_metrics_histogram("kirana_req_total", "r", NULL, latency_bounds, 3));

    static const char *const bad_names[] = {"", "1abc", "a-b", "a b", "é"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        assert_null(krc_metrics_counter(bad_names[i], NULL, NULL));
    assert_null(krc_metrics_counter(NULL, NULL, NULL));
    assert_non_null(krc_metrics_counter("a:b_c9", NULL, NULL));

    static const char *const bad_labels[] = {
        "route=GET", "route=\"x\",",   "a=\"1\",a=\"2\"", "__a=\"1\"", "a=\"\\t\"",        "a=\"x",    "=\"x\"",
        "a =\"x\"",  "a=\"1\"b=\"2\"", "9a=\"1\"",        ",a=\"1\"",  "a=\"1\",,b=\"2\"", "a=\"1\" ",
    };
    for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
        if (krc_metrics_counter("kirana_l_total", NULL, bad_labels[i]) != NULL)
            fail_msg("labels `%s` were accepted", bad_labels[i]);
    assert_null(krc_metrics_histogram("kirana_hl", NULL, "le=\"1\"", latency_bounds, 3));
    assert_non_null(krc_metrics_counter("kirana_l_total", NULL, "le=\"1\""));

    /* histogram series names */
    assert_non_null(krc_metrics_counter("kirana_dur_count", NULL, NULL));
    assert_null(krc_metrics_histogram("kirana_dur", NULL, NULL, latency_bounds, 3));
    assert_non_null(krc_metrics_histogram("kirana_lat", NULL, NULL, latency_bounds, 3));
    assert_null(krc_metrics_gauge("kirana_lat_bucket", NULL, NULL));
    assert_null(krc_metrics_counter("kirana_lat_sum", NULL, NULL));

    /* bounds */
    const double desc[] = {1, 0.5};
    const double dup[] = {1, 1};
    const double nan[] = {0.0 / 0.0};
    assert_null(krc_metrics_histogram("kirana_b1", NULL, NULL, desc, 2));
    assert_null(krc_metrics_histogram("kirana_b2", NULL, NULL, dup, 2));
    assert_null(krc_metrics_histogram("kirana_b3", NULL, NULL, nan, 1));
    assert_null(krc_metrics_histogram("kirana_lat", NULL, NULL, desc + 1, 1));
    assert_non_null(krc_metrics_histogram("kirana_b4", NULL, NULL, NULL, 0));
}

static int collected;

static void collect(void *udata)
{
    collected++;
    krc_gauge_set(udata, 41 + collected);
}

static void test_collect_before_render(void **state)
{
    (void)state;
    krc_gauge *g = krc_metrics_gauge("kirana_jobs", "Jobs by state.", "state=\"waiting\"");
    collected = 0;
    krc_metrics_on_collect(collect, g);
    assert_render("# HELP kirana_jobs Jobs by state.\n"
                  "# TYPE kirana_jobs gauge\n"
                  "kirana_jobs{state=\"waiting\"} 42\n");
    assert_int_equal(collected, 1);
    krc_metrics_free();
    assert_render("");
    krc_metrics_init(&host);
}

typedef struct worker {
    krc_counter *c;
    krc_gauge *g;
    krc_histogram *h;
    int same;
} worker;

enum { THREADS = 8, PER_THREAD = 100000 };

static void *hammer(void *arg)
{
    worker *w = arg;
    w->same = krc_metrics_counter("kirana_race_total", "race", "t=\"x\"") == w->c;
    for (int i = 0; i < PER_THREAD; i++) {
        krc_counter_add(w->c, 1);
        krc_gauge_add(w->g, 2);
        krc_gauge_add(w->g, -1);
        krc_histogram_observe(w->h, (i & 1) ? 0.5 : 3);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    krc_counter *c = krc_metrics_counter("kirana_race_total", "race", "t=\"x\"");
    krc_gauge *g = krc_metrics_gauge("kirana_race_gauge", NULL, NULL);
    const double b[] = {1};
    krc_histogram *h = krc_metrics_histogram("kirana_race_seconds", NULL, NULL, b, 1);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.c = c, .g = g, .h = h};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].same);
    }
    assert_int_equal(krc_counter_get(c), THREADS * PER_THREAD);
    assert_int_equal(krc_gauge_get(g), THREADS * PER_THREAD);
    assert_render("# HELP kirana_race_total race\n"
                  "# TYPE kirana_race_total counter\n"
                  "kirana_race_total{t=\"x\"} 800000\n"
                  "# TYPE kirana_race_gauge gauge\n"
                  "kirana_race_gauge 800000\n"
                  "# TYPE kirana_race_seconds histogram\n"
                  "kirana_race_seconds_bucket{le=\"1\"} 400000\n"
                  "kirana_race_seconds_bucket{le=\"+Inf\"} 800000\n"
                  "kirana_race_seconds_sum 1400000\n"
                  "kirana_race_seconds_count 800000\n");
}

static void test_many_series(void **state)
{
    (void)state;
    char labels[64];
    krc_counter *first = NULL;
    for (int i = 0; i < 1000; i++) {
        snprintf(labels, sizeof(labels), "status=\"%d\"", i);
        krc_counter *c = krc_metrics_counter("kirana_many_total", NULL, labels);
        assert_non_null(c);
        krc_counter_add(c, (uint64_t)i);
        if (i == 0)
            first = c;
    }
    assert_ptr_equal(krc_metrics_counter("kirana_many_total", NULL, "status=\"0\""), first);
    snprintf(labels, sizeof(labels), "status=\"%d\"", 999);
    assert_int_equal(krc_counter_get(krc_metrics_counter("kirana_many_total", NULL, labels)), 999);
    size_t len;
    char *text = krc_metrics_render(&len);
    assert_non_null(text);
    assert_non_null(strstr(text, "kirana_many_total{status=\"999\"} 999\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_render_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_object_and_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_before_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
