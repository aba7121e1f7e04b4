/* The core config: defaults, every key, path resolution, and one test per
 * file in tests/fixtures/config/bad (its first line says the error) and
 * tests/fixtures/config/good (it must load). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/config/schema.h"
#include "fixtures.h"

#define EXPECT_PREFIX "# expect: "

static char err[2048];

static krc_config *load_ok(const char *rel)
{
    krc_config *c = krc_config_load(fixture_path(rel), err, sizeof(err));
    if (c == NULL)
        fail_msg("%s", err);
    return c;
}

/* The folder of a fixture, canonical, as krc_config.dir should be. */
static void fixture_dir(const char *rel, char *out)
{
    char *abs = realpath(fixture_path(rel), NULL);
    assert_non_null(abs);
    snprintf(out, PATH_MAX, "%s", abs);
    free(abs);
}

static void test_defaults(void **state)
{
    (void)state;
    krc_config *c = load_ok("good/minimal.yaml");
    const krc_server_conf *s = &c->server;
    assert_int_equal(s->n_listen, 1);
    assert_string_equal(s->listen[0].host, "127.0.0.1");
    assert_int_equal(s->listen[0].port, 8080);
    assert_null(s->listen[0].tls_cert);
    assert_null(s->listen[0].tls_key);
    assert_int_equal(s->threads, 1);
    assert_int_equal(s->workers, 16);
    assert_int_equal(s->queue_depth, 1024);
    assert_int_equal(s->max_body, 1048576);
    assert_int_equal(s->max_json_depth, 32);
    assert_int_equal(s->request_timeout_ms, 30000);
    assert_int_equal(s->shutdown_timeout_ms, 10000);
    assert_int_equal(s->trusted_proxy_hops, 0);
    assert_int_equal(s->h2_max_resets_per_10s, 200);
    assert_int_equal(s->cors.n_allow_origins, 0);
    assert_int_equal(s->cors.n_allow_headers, 3);
    assert_string_equal(s->cors.allow_headers[0], "authorization");
    assert_string_equal(s->cors.allow_headers[1], "content-type");
    assert_string_equal(s->cors.allow_headers[2], "idempotency-key");
    assert_int_equal(s->cors.max_age, 600);
    assert_true(c->role_http);
    assert_true(c->role_worker);
    assert_null(c->db.uri);
    assert_null(c->redis.url);
    assert_null(c->queue.redis);
    assert_null(c->queue.prefix);
    assert_int_equal(c->log.level, KR_LOG_INFO);
    assert_null(c->log.file);
    assert_true(c->log.access);
    assert_string_equal(c->plugin_dir, KRC_PLUGIN_DIR);
    assert_int_equal(c->n_plugins, 0);
    assert_null(c->plugins);
    char dir[PATH_MAX];
    fixture_dir("good", dir);
    assert_string_equal(c->dir, dir);
    krc_config_free(c);
}

static void test_every_key(void **state)
{
    (void)state;
    char dir[PATH_MAX], certs[PATH_MAX], path[PATH_MAX + 64];
    fixture_dir("good", dir);
    fixture_dir("certs", certs);
    krc_config *c = load_ok("good/full.yaml");
    const krc_server_conf *s = &c->server;
    assert_int_equal(s->n_listen, 2);
    assert_string_equal(s->listen[0].host, "0.0.0.0");
    assert_int_equal(s->listen[0].port, 8081);
    assert_null(s->listen[0].tls_cert);
    assert_string_equal(s->listen[1].host, "::1");
    assert_int_equal(s->listen[1].port, 8443);
    snprintf(path, sizeof(path), "%s/dev.crt", certs);
    assert_string_equal(s->listen[1].tls_cert, path);
    snprintf(path, sizeof(path), "%s/dev.key", certs);
    assert_string_equal(s->listen[1].tls_key, path);
    assert_int_equal(s->threads, 4);
    assert_int_equal(s->workers, 32);
    assert_int_equal(s->queue_depth, 2048);
    assert_int_equal(s->max_body, 2097152);
    assert_int_equal(s->max_json_depth, 16);
    assert_int_equal(s->request_timeout_ms, 15000);
    assert_int_equal(s->shutdown_timeout_ms, 5000);
    assert_int_equal(s->trusted_proxy_hops, 1);
    assert_int_equal(s->h2_max_resets_per_10s, 100);
    assert_int_equal(s->cors.n_allow_origins, 1);
    assert_string_equal(s->cors.allow_origins[0], "https://shop.example");
    assert_int_equal(s->cors.n_allow_headers, 1);
    assert_string_equal(s->cors.allow_headers[0], "authorization");
    assert_int_equal(s->cors.max_age, 60);
    assert_false(c->role_http);
    assert_true(c->role_worker);
    assert_string_equal(c->db.uri, "postgresql://kirana@127.0.0.1:5432/kirana");
    assert_int_equal(c->db.pool_size, 4);
    assert_int_equal(c->db.timeout_ms, 1000);
    assert_string_equal(c->redis.url, "redis://127.0.0.1:6379/1");
    assert_int_equal(c->redis.pool_size, 2);
    assert_int_equal(c->redis.timeout_ms, 500);
    assert_string_equal(c->queue.redis, "redis://127.0.0.1:6379/2");
    assert_string_equal(c->queue.prefix, "{bull}");
    assert_int_equal(c->log.level, KR_LOG_DEBUG);
    snprintf(path, sizeof(path), "%s/logs/kirana.log", dir);
    assert_string_equal(c->log.file, path);
    assert_false(c->log.access);
    snprintf(path, sizeof(path), "%s/plugins", dir);
    assert_string_equal(c->plugin_dir, path);
    assert_int_equal(c->n_plugins, 4);

    const krc_plugin_conf *p = c->plugins;
    assert_string_equal(p[0].name, "hello");
    snprintf(path, sizeof(path), "%s/plugins/hello.so", dir);
    assert_string_equal(p[0].path, path);
    assert_string_equal(p[0].mount, "/hello");
    assert_string_equal(json_string_value(json_object_get(p[0].config, "greeting")), "hi");
    assert_string_equal(p[1].name, "auth");
    snprintf(path, sizeof(path), "%s/plugins/auth-v2.so", dir);
    assert_string_equal(p[1].path, path);
    assert_string_equal(p[1].mount, "");
    assert_true(json_is_object(p[1].config));
    assert_int_equal(json_object_size(p[1].config), 0);
    assert_string_equal(p[2].path, "/opt/kirana/abs.so");
    assert_string_equal(p[2].mount, "/a/b");
    assert_string_equal(p[3].name, "quiet");
    assert_true(json_is_object(p[3].config));
    assert_int_equal(json_object_size(p[3].config), 0);
    krc_config_free(c);
}

/* The loader validates each plugin's block later, against the plugin's own
 * schema, with the doc the config kept. */
static void test_plugin_config_positions(void **state)
{
    (void)state;
    char want[PATH_MAX + 256];
    krc_config *c = load_ok("good/full.yaml");
    json_t *schema = krc_schema_parse("{\"properties\": {\"greeting\": {\"type\": \"integer\"}}}", err, sizeof(err));
    assert_non_null(schema);
    assert_int_equal(krc_schema_validate(schema, c->plugins[0].config, c->doc, "plugins[0].config", err, sizeof(err)),
                     -1);
    snprintf(want, sizeof(want), "%s:30:25: plugins[0].config.greeting: expected integer, got string",
             krc_conf_file(c->doc));
    assert_string_equal(err, want);
    json_decref(schema);

    /* An absent block is filled in; errors about it point at the entry. */
    schema = krc_schema_parse("{\"required\": [\"secret\"]}", err, sizeof(err));
    assert_non_null(schema);
    assert_int_equal(krc_schema_validate(schema, c->plugins[1].config, c->doc, "plugins[1].config", err, sizeof(err)),
                     -1);
    snprintf(want, sizeof(want), "%s:31:5: plugins[1].config: missing required key \"secret\"", krc_conf_file(c->doc));
    assert_string_equal(err, want);

    /* So is a block left empty (null). */
    assert_int_equal(krc_schema_validate(schema, c->plugins[3].config, c->doc, "plugins[3].config", err, sizeof(err)),
                     -1);
    snprintf(want, sizeof(want), "%s:34:12: plugins[3].config: missing required key \"secret\"", krc_conf_file(c->doc));
    assert_string_equal(err, want);
    json_decref(schema);

    int line, col;
    assert_int_equal(krc_conf_pos(c->doc, c->plugins[2].node, &line, &col), 0);
    assert_int_equal(line, 32);
    assert_int_equal(col, 5);
    krc_config_free(c);
}

static void test_env_substitution(void **state)
{
    (void)state;
    krc_config *c = load_ok("good/dev.yaml");
    assert_int_equal(c->server.listen[0].port, 8080);
    assert_string_equal(c->db.uri, "postgresql://127.0.0.1:5432/kirana");
    krc_config_free(c);

    setenv("KIRANA_TEST_PORT", "9091", 1);
    setenv("KIRANA_TEST_DB", "mongodb://db.internal/kirana", 1);
    c = load_ok("good/dev.yaml");
    unsetenv("KIRANA_TEST_PORT");
    unsetenv("KIRANA_TEST_DB");
    assert_int_equal(c->server.listen[0].port, 9091);
    assert_string_equal(c->db.uri, "mongodb://db.internal/kirana");
    krc_config_free(c);

    setenv("KIRANA_TEST_PORT", "not-a-port", 1);
    assert_null(krc_config_load(fixture_path("good/dev.yaml"), err, sizeof(err)));
    unsetenv("KIRANA_TEST_PORT");
    assert_non_null(strstr(err, "dev.yaml:7:13: server.listen[0].port: expected integer, got string"));
}

/* A relative config path works from any working directory, and its
 * relative paths still mean the config's folder. */
static void test_relative_config_path(void **state)
{
    (void)state;
    char cwd[PATH_MAX], dir[PATH_MAX], certs[PATH_MAX], path[PATH_MAX + 64];
    fixture_dir("good", dir);
    fixture_dir("certs", certs);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(fixture_path("certs")), 0);
    krc_config *c = krc_config_load("../good/full.yaml", err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->dir, dir);
    snprintf(path, sizeof(path), "%s/dev.crt", certs);
    assert_string_equal(c->server.listen[1].tls_cert, path);
    krc_config_free(c);

    assert_int_equal(chdir(fixture_path("bad")), 0);
    c = krc_config_load("threads_range.yaml", err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    assert_null(c);
    assert_string_equal(err, "threads_range.yaml:3:12: server.threads: must be <= 64");
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_null(krc_config_load("/nonexistent/kirana.yaml", err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/kirana.yaml: cannot open: No such file or directory");
}

/* --- one test per fixture file --- */

typedef struct fixture {
    char path[PATH_MAX + NAME_MAX + 2];
    char expect[1024]; /* bad files: the first line after "# expect: " */
} fixture;

static void test_bad_fixture(void **state)
{
    const fixture *f = *state;
    char want[sizeof(f->path) + sizeof(f->expect) + 1];
    if (f->expect[0] == '\0')
        fail_msg("%s: the first line must be \"" EXPECT_PREFIX "LINE:COL: message\"", f->path);
    krc_config *c = krc_config_load(f->path, err, sizeof(err));
    if (c != NULL) {
        krc_config_free(c);
        fail_msg("%s loaded; expected: %s", f->path, f->expect);
    }
    snprintf(want, sizeof(want), "%s:%s", f->path, f->expect);
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));
}

static void test_good_fixture(void **state)
{
    const fixture *f = *state;
    krc_config *c = krc_config_load(f->path, err, sizeof(err));
    if (c == NULL)
        fail_msg("%s", err);
    krc_config_free(c);
}

static int yaml_only(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0;
}

/* Runs test on every .yaml file of fixtures/config/<sub>, as one cmocka
 * group named after the folder. */
static int run_fixture_group(const char *sub, CMUnitTestFunction test)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", fixture_path(sub));
    struct dirent **names;
    int n = scandir(dir, &names, yaml_only, alphasort);
    if (n <= 0) {
        fprintf(stderr, "no fixtures in %s\n", dir);
        return 1;
    }
    fixture *fx = calloc((size_t)n, sizeof(*fx));
    struct CMUnitTest *tests = calloc((size_t)n, sizeof(*tests));
    char **labels = calloc((size_t)n, sizeof(*labels));
    assert_true(fx != NULL && tests != NULL && labels != NULL);
    for (int i = 0; i < n; i++) {
        snprintf(fx[i].path, sizeof(fx[i].path), "%s/%s", dir, names[i]->d_name);
        FILE *f = fopen(fx[i].path, "r");
        char line[sizeof(fx[i].expect)] = "";
        if (f != NULL && fgets(line, sizeof(line), f) != NULL &&
            strncmp(line, EXPECT_PREFIX, strlen(EXPECT_PREFIX)) == 0)
            snprintf(fx[i].expect, sizeof(fx[i].expect), "%.*s", (int)strcspn(line + strlen(EXPECT_PREFIX), "\n"),
                     line + strlen(EXPECT_PREFIX));
        if (f != NULL)
            fclose(f);
        labels[i] = strdup(names[i]->d_name);
        tests[i] = (struct CMUnitTest){.name = labels[i], .test_func = test, .initial_state = &fx[i]};
        free(names[i]);
    }
    free(names);
    int failed = _cmocka_run_group_tests(sub, tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
    free(tests);
    free(fx);
    return failed;
}

int main(void)
{
    /* The fixtures rely on these being unset unless a test sets them. */
    unsetenv("KIRANA_TEST_PORT");
    unsetenv("KIRANA_TEST_DB");
    unsetenv("KIRANA_TEST_SURELY_UNSET");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_plugin_config_positions),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_relative_config_path),
        cmocka_unit_test(test_missing_file),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    failed += run_fixture_group("good", test_good_fixture);
    failed += run_fixture_group("bad", test_bad_fixture);
    return failed;
}
