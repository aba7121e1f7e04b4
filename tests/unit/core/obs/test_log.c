#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/obs/log.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/kirana-log-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/kirana.log", dir);
    char err[256];
    if (krc_log_open(path, KR_LOG_DEBUG, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    krc_log_set_access(1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    krc_log_close();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Every line of the file, parsed; the array is caller-owned. */
static json_t *read_lines(const char *file)
{
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        assert_int_equal(line[n - 1], '\n');
        json_error_t e;
        json_t *v = json_loadb(line, (size_t)n, 0, &e);
        if (v == NULL)
            fail_msg("not JSON (%s): %s", e.text, line);
        assert_true(json_is_object(v));
        json_array_append_new(all, v);
    }
    free(line);
    fclose(f);
    return all;
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_fields_and_escaping(void **state)
{
    (void)state;
    krc_log(KR_LOG_INFO, "auth", "req-1", "sent %d codes", 3);
    krc_log(KR_LOG_WARN, NULL, NULL, "quote \" backslash \\ newline \n tab \t bell \a del \x7f rupee \xe2\x82\xb9");
    krc_log(KR_LOG_ERROR, "cart", NULL, "bad utf8 \xff\xfe overlong \xc0\xaf surrogate \xed\xa0\x80 cut \xe2\x82");
    krc_log(KR_LOG_DEBUG, NULL, "r2", "%s", "");

    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 4);
    json_t *l0 = json_array_get(lines, 0);
    assert_string_equal(str(l0, "level"), "info");
    assert_string_equal(str(l0, "plugin"), "auth");
    assert_string_equal(str(l0, "req"), "req-1");
    assert_string_equal(str(l0, "msg"), "sent 3 codes");
    assert_int_equal(json_object_size(l0), 5);
    const char *ts = str(l0, "ts");
    assert_non_null(ts);
    /* 2026-11-25T16:04:06.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':' && ts[19] == '.' &&
                ts[23] == 'Z');

    json_t *l1 = json_array_get(lines, 1);
    assert_string_equal(str(l1, "level"), "warn");
    assert_null(json_object_get(l1, "plugin"));
    assert_null(json_object_get(l1, "req"));
    assert_string_equal(str(l1, "msg"), "quote \" backslash \\ newline \n tab \t bell \a del \x7f rupee \xe2\x82\xb9");

    json_t *l2 = json_array_get(lines, 2);
    assert_string_equal(str(l2, "level"), "error");
    assert_string_equal(str(l2, "msg"), "bad utf8 \xef\xbf\xbd\xef\xbf\xbd overlong \xef\xbf\xbd\xef\xbf\xbd "
                                        "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd cut \xef\xbf\xbd\xef\xbf\xbd");

    json_t *l3 = json_array_get(lines, 3);
    assert_string_equal(str(l3, "level"), "debug");
    assert_string_equal(str(l3, "req"), "r2");
    assert_string_equal(str(l3, "msg"), "");
    json_decref(lines);
}

static void test_level_filter(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(krc_log_open(path, KR_LOG_WARN, err, sizeof(err)), 0);
    assert_false(krc_log_enabled(KR_LOG_DEBUG));
    assert_false(krc_log_enabled(KR_LOG_INFO));
    assert_true(krc_log_enabled(KR_LOG_WARN));
    assert_true(krc_log_enabled(KR_LOG_ERROR));
    krc_log(KR_LOG_DEBUG, NULL, NULL, "no");
    krc_log(KR_LOG_INFO, NULL, NULL, "no");
    krc_log(KR_LOG_WARN, NULL, NULL, "yes");
    krc_log(KR_LOG_ERROR, NULL, NULL, "yes");
    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(str(json_array_get(lines, 0), "level"), "warn");
    json_decref(lines);
}

static void test_access(void **state)
{
    (void)state;
    krc_access a = {.req_id = "r9",
                    .method = "GET",
                    .path = "/products/p\"1",
                    .route = "/products/{id}",
                    .proto = "HTTP/2",
                    .client_ip = "203.0.113.7",
                    .status = 200,
                    .bytes_out = 1234,
                    .dur_ms = 1.23456};
    krc_log_access(&a);
    krc_access b = {.method = "GET", .path = "/nope", .status = 404, .dur_ms = 0.0 / 0.0};
    krc_log_access(&b);
    krc_log_set_access(0);
    krc_log_access(&a);
    krc_log_set_access(1);

    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 2);
    json_t *l0 = json_array_get(lines, 0);
    assert_string_equal(str(l0, "level"), "info");
    assert_string_equal(str(l0, "type"), "access");
    assert_string_equal(str(l0, "req"), "r9");
    assert_string_equal(str(l0, "method"), "GET");
    assert_string_equal(str(l0, "path"), "/products/p\"1");
    assert_string_equal(str(l0, "route"), "/products/{id}");
    assert_string_equal(str(l0, "proto"), "HTTP/2");
    assert_string_equal(str(l0, "client_ip"), "203.0.113.7");
    assert_int_equal(json_integer_value(json_object_get(l0, "status")), 200);
    assert_int_equal(json_integer_value(json_object_get(l0, "bytes_out")), 1234);
    assert_float_equal(json_real_value(json_object_get(l0, "dur_ms")), 1.235, 1e-9);
    json_t *l1 = json_array_get(lines, 1);
    assert_null(json_object_get(l1, "route"));
    assert_null(json_object_get(l1, "req"));
    assert_int_equal(json_integer_value(json_object_get(l1, "status")), 404);
    assert_float_equal(json_real_value(json_object_get(l1, "dur_ms")), 0, 0);
    json_decref(lines);
}

static void test_long_message(void **state)
{
    (void)state;
    size_t n = 200000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    krc_log(KR_LOG_INFO, NULL, NULL, "%s", big);
    krc_log(KR_LOG_INFO, NULL, NULL, "%.5000s", big);
    free(big);
    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 2);
    json_t *l0 = json_array_get(lines, 0);
    assert_int_equal(strlen(str(l0, "msg")), 65536);
    assert_true(json_is_true(json_object_get(l0, "truncated")));
    json_t *l1 = json_array_get(lines, 1);
    assert_int_equal(strlen(str(l1, "msg")), 5000);
    assert_null(json_object_get(l1, "truncated"));
    json_decref(lines);
}

static void test_dev_full_drops(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(krc_log_open("/dev/full", KR_LOG_INFO, err, sizeof(err)), 0);
    uint64_t before = krc_log_dropped();
    krc_log(KR_LOG_ERROR, "x", NULL, "lost");
    krc_access a = {.method = "GET", .path = "/", .status = 200};
    krc_log_access(&a);
    assert_int_equal(krc_log_dropped(), before + 2);
    krc_log_reopen();
    krc_log(KR_LOG_ERROR, "x", NULL, "lost too");
    /* the reopen's own complaint, if any, is lost as well */
    assert_true(krc_log_dropped() >= before + 3);
}

/* The file may grow only 10 more bytes, as on a disk that fills mid-line:
 * that line is cut, and the next one must still be a whole line. */
static void test_line_cut_by_full_disk(void **state)
{
    (void)state;
    krc_log(KR_LOG_INFO, NULL, NULL, "first");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + 10;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint64_t before = krc_log_dropped();
    krc_log(KR_LOG_INFO, NULL, NULL, "cut short");
    krc_log(KR_LOG_INFO, NULL, NULL, "no room at all");
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(krc_log_dropped(), before + 2);
    krc_log(KR_LOG_INFO, NULL, NULL, "space is back");
    krc_log(KR_LOG_INFO, NULL, NULL, "and again");

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0;
    const char *want[] = {"first", NULL, "space is back", "and again"};
    while ((n = getline(&text, &cap, f)) > 0) {
        assert_true(count < 4);
        assert_int_equal(text[n - 1], '\n');
        json_t *v = json_loadb(text, (size_t)n, 0, NULL);
        if (want[count] == NULL) {
            assert_null(v); /* the fragment, on a line of its own */
            assert_int_equal(n, 11);
        } else {
            if (v == NULL)
                fail_msg("line %d is not JSON: %s", count + 1, text);
            assert_string_equal(str(v, "msg"), want[count]);
        }
        json_decref(v);
        count++;
    }
    free(text);
    fclose(f);
    assert_int_equal(count, 4);
}

static void test_open_failure(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(krc_log_open("/nonexistent-dir/kirana.log", KR_LOG_INFO, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/kirana.log"));
    /* the previous file is still the log */
    krc_log(KR_LOG_INFO, NULL, NULL, "still here");
    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
}

static void test_reopen_after_rename(void **state)
{
    (void)state;
    char rotated[160];
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    krc_log(KR_LOG_INFO, NULL, NULL, "before");
    assert_int_equal(rename(path, rotated), 0);
    krc_log(KR_LOG_INFO, NULL, NULL, "still old");
    krc_log_reopen();
    krc_log(KR_LOG_INFO, NULL, NULL, "after");

    json_t *old = read_lines(rotated);
    assert_int_equal(json_array_size(old), 2);
    assert_string_equal(str(json_array_get(old, 0), "msg"), "before");
    assert_string_equal(str(json_array_get(old, 1), "msg"), "still old");
    json_t *cur = read_lines(path);
    assert_int_equal(json_array_size(cur), 1);
    assert_string_equal(str(json_array_get(cur, 0), "msg"), "after");
    json_decref(old);
    json_decref(cur);
}

enum { THREADS = 8, LINES = 2000 };

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (int i = 0; i < LINES; i++)
        krc_log(KR_LOG_INFO, "t", NULL, "thread %ld line %d %0200d", id, i, 0);
    return NULL;
}

static void *rotator(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        krc_log_reopen();
        usleep(100);
    }
    return NULL;
}

/* Lines from many threads never interleave, not even across a reopen. */
static void test_concurrent_lines(void **state)
{
    (void)state;
    pthread_t th[THREADS + 1];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
    assert_int_equal(pthread_create(&th[THREADS], NULL, rotator, NULL), 0);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(th[i], NULL);
    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), THREADS * LINES);
    json_decref(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fields_and_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev_full_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cut_by_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
