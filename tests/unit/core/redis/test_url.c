/* Redis URL parsing and pool argument checks (no server needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/redis/conn.h"
#include "core/redis/redis.h"

static krc_redis_url parse_ok(const char *url)
{
    krc_redis_url u;
    char err[256] = "";
    int rc = krc_redis_url_parse(url, &u, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %s", url, err);
    return u;
}

static void parse_bad(const char *url, const char *want)
{
    krc_redis_url u;
    char err[256] = "";
    assert_int_equal(krc_redis_url_parse(url, &u, err, sizeof(err)), -1);
    if (strstr(err, want) == NULL)
        fail_msg("%s: error \"%s\" does not mention \"%s\"", url, err, want);
    assert_null(strstr(err, "sekret"));
}

static void t_defaults(void **state)
{
    (void)state;
    krc_redis_url u = parse_ok("redis://localhost");
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    assert_string_equal(u.user, "");
    u = parse_ok("redis://cache.internal/");
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.db, 0);
}

static void t_port_db(void **state)
{
    (void)state;
    krc_redis_url u = parse_ok("redis://127.0.0.1:6380/3");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    u = parse_ok("redis://[::1]:7000/15");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 15);
    u = parse_ok("redis://[::1]");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6379);
}

static void t_credentials(void **state)
{
    (void)state;
    krc_redis_url u = parse_ok("redis://:pw@h:1");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.user, "");
    assert_string_equal(u.host, "h");
    u = parse_ok("redis://app:pw@h");
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "pw");
    u = parse_ok("redis://pw@h");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "pw");
    /* Percent-encoding, and an unencoded '@' ends at the last one. */
    u = parse_ok("redis://us%3Aer:p%40ss%2Fw%25@h:2/4");
    assert_string_equal(u.user, "us:er");
    assert_string_equal(u.password, "p@ss/w%");
    assert_int_equal(u.port, 2);
    assert_int_equal(u.db, 4);
    u = parse_ok("redis://:a@b@h");
    assert_string_equal(u.password, "a@b");
    assert_string_equal(u.host, "h");
}

static void t_bad(void **state)
{
    (void)state;
    parse_bad("http://h", "redis://");
    parse_bad("rediss://h", "redis://");
    parse_bad("redis://", "host");
    parse_bad("redis://:sekret@", "host");
    parse_bad("redis://:sekret@h:0", "port");
    parse_bad("redis://:sekret@h:70000", "port");
    parse_bad("redis://h:+80", "port");
    parse_bad("redis://h: 80", "port");
    parse_bad("redis://h:", "port");
    parse_bad("redis://h:12x/0", "port");
    parse_bad("redis://h/x", "database");
    parse_bad("redis://h/-1", "database");
    parse_bad("redis://h/1?timeout=3", "database");
    parse_bad("redis://[::1", "[");
    parse_bad("redis://[::1]x", "]");
    parse_bad("redis://:sek%zzret@h", "password");
    parse_bad("redis://:sekret%4@h", "password");
    parse_bad("redis://u%g0:sekret@h", "user");
}

static void t_open_args(void **state)
{
    (void)state;
    kr_host h = {0};
    char err[256];
    assert_null(krc_redis_open("redis://h", 0, 100, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "pool size"));
    assert_null(krc_redis_open("redis://h", 4, 0, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "timeout"));
    assert_null(krc_redis_open("mysql://h", 4, 100, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "redis://"));
    krc_redis *r = krc_redis_open("redis://h", 4, 100, &h, err, sizeof(err));
    assert_non_null(r);
    assert_ptr_equal(KR_HOST_OF(r), &h);
    krc_redis_close(r);
    krc_redis_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_defaults), cmocka_unit_test(t_port_db),   cmocka_unit_test(t_credentials),
        cmocka_unit_test(t_bad),      cmocka_unit_test(t_open_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
