/* YAML to jansson: typing, ${VAR} substitution, refusals and positions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/yaml.h"
#include "fixtures.h"

static char err[1024];

static krc_conf_doc *parse(const char *text)
{
    krc_conf_doc *d = krc_conf_parse("t.yaml", text, strlen(text), err, sizeof(err));
    if (d == NULL)
        fail_msg("%s", err);
    return d;
}

/* The error text parses to, which must fail. */
static const char *parse_err(const char *text)
{
    krc_conf_doc *d = krc_conf_parse("t.yaml", text, strlen(text), err, sizeof(err));
    if (d != NULL) {
        krc_conf_free(d);
        fail_msg("parsed, but should not have: %s", text);
    }
    assert_null(strchr(err, '\n'));
    return err;
}

/* The value of `v: <scalar>`. Caller-owned. */
static json_t *scalar(const char *yaml_value)
{
    char text[256];
    snprintf(text, sizeof(text), "v: %s\n", yaml_value);
    krc_conf_doc *d = parse(text);
    json_t *v = json_incref(json_object_get(krc_conf_root(d), "v"));
    krc_conf_free(d);
    return v;
}

static void assert_int_scalar(const char *text, json_int_t want)
{
    json_t *v = scalar(text);
    if (!json_is_integer(v))
        fail_msg("%s: not an integer", text);
    assert_int_equal(json_integer_value(v), want);
    json_decref(v);
}

static void assert_real_scalar(const char *text, double want)
{
    json_t *v = scalar(text);
    if (!json_is_real(v))
        fail_msg("%s: not a real", text);
    assert_true(json_real_value(v) == want);
    json_decref(v);
}

static void assert_string_scalar(const char *text, const char *want)
{
    json_t *v = scalar(text);
    if (!json_is_string(v))
        fail_msg("%s: not a string", text);
    assert_string_equal(json_string_value(v), want);
    json_decref(v);
}

static void assert_type_scalar(const char *text, json_type want)
{
    json_t *v = scalar(text);
    if (json_typeof(v) != want)
        fail_msg("%s: type %d, expected %d", text, json_typeof(v), want);
    json_decref(v);
}

static void test_core_schema_typing(void **state)
{
    (void)state;
    assert_type_scalar("", JSON_NULL);
    assert_type_scalar("~", JSON_NULL);
    assert_type_scalar("null", JSON_NULL);
    assert_type_scalar("Null", JSON_NULL);
    assert_type_scalar("NULL", JSON_NULL);
    assert_type_scalar("true", JSON_TRUE);
    assert_type_scalar("True", JSON_TRUE);
    assert_type_scalar("TRUE", JSON_TRUE);
    assert_type_scalar("false", JSON_FALSE);
    assert_type_scalar("FALSE", JSON_FALSE);
    assert_int_scalar("0", 0);
    assert_int_scalar("8080", 8080);
    assert_int_scalar("+12", 12);
    assert_int_scalar("-12", -12);
    assert_int_scalar("007", 7);
    assert_int_scalar("0o17", 15);
    assert_int_scalar("0x1F", 31);
    assert_int_scalar("9223372036854775807", INT64_MAX);
    assert_int_scalar("-9223372036854775808", INT64_MIN);
    assert_real_scalar("1.5", 1.5);
    assert_real_scalar("-0.25", -0.25);
    assert_real_scalar(".5", 0.5);
    assert_real_scalar("1.", 1.0);
    assert_real_scalar("1e3", 1000.0);
    assert_real_scalar("2.5E-1", 0.25);
    /* YAML 1.1 spellings are plain strings in 1.2. */
    assert_string_scalar("yes", "yes");
    assert_string_scalar("off", "off");
    assert_string_scalar("1_000", "1_000");
    assert_string_scalar("0x", "0x");
    assert_string_scalar("0o8", "0o8");
    assert_string_scalar("12abc", "12abc");
    assert_string_scalar("1e", "1e");
    assert_string_scalar("127.0.0.1", "127.0.0.1");
    assert_string_scalar("-x", "-x");
    assert_string_scalar("nulls", "nulls");
}

static void test_quoted_and_tagged_are_strings(void **state)
{
    (void)state;
    assert_string_scalar("\"123\"", "123");
    assert_string_scalar("'true'", "true");
    assert_string_scalar("\"\"", "");
    assert_string_scalar("''", "");
    assert_string_scalar("\"null\"", "null");
    assert_string_scalar("!!str 42", "42");
    assert_string_scalar("! 42", "42");
    assert_string_scalar("\"a\\tb\"", "a\tb");
    assert_string_scalar("'it''s'", "it's");

    krc_conf_doc *d = parse("lit: |\n  12\n  34\nfold: >\n  true\n  false\n");
    assert_string_equal(json_string_value(json_object_get(krc_conf_root(d), "lit")), "12\n34\n");
    assert_string_equal(json_string_value(json_object_get(krc_conf_root(d), "fold")), "true false\n");
    krc_conf_free(d);
}

static void test_block_and_flow_agree(void **state)
{
    (void)state;
    krc_conf_doc *a = parse("a:\n  - 1\n  - x: true\n    y: [2, 3]\n  - ~\nb: {}\nc: []\n");
    krc_conf_doc *b = parse("{a: [1, {x: true, y: [2, 3]}, null], b: {}, c: []}");
    krc_conf_doc *c = parse("{\"a\": [1, {\"x\": true, \"y\": [2, 3]}, null], \"b\": {}, \"c\": []}");
    assert_true(json_equal(krc_conf_root(a), krc_conf_root(b)));
    assert_true(json_equal(krc_conf_root(a), krc_conf_root(c)));
    json_t *want = json_loads("{\"a\": [1, {\"x\": true, \"y\": [2, 3]}, null], \"b\": {}, \"c\": []}", 0, NULL);
    assert_true(json_equal(krc_conf_root(a), want));
    json_decref(want);
    krc_conf_free(a);
    krc_conf_free(b);
    krc_conf_free(c);
}

static void test_roots(void **state)
{
    (void)state;
    krc_conf_doc *d = parse("");
    assert_true(json_is_null(krc_conf_root(d)));
    krc_conf_free(d);
    d = parse("# only a comment\n");
    assert_true(json_is_null(krc_conf_root(d)));
    krc_conf_free(d);
    d = parse("--- 42\n...\n");
    assert_int_equal(json_integer_value(krc_conf_root(d)), 42);
    assert_string_equal(krc_conf_file(d), "t.yaml");
    krc_conf_free(d);
    d = parse("- a\n- b\n");
    assert_int_equal(json_array_size(krc_conf_root(d)), 2);
    krc_conf_free(d);
}

static void test_env_substitution(void **state)
{
    (void)state;
    setenv("KRC_T_PORT", "9090", 1);
    setenv("KRC_T_EMPTY", "", 1);
    setenv("KRC_T_BOOL", "true", 1);
    setenv("KRC_T_REF", "${KRC_T_PORT}", 1);
    unsetenv("KRC_T_UNSET");

    assert_int_scalar("${KRC_T_PORT}", 9090);
    assert_int_scalar("${KRC_T_UNSET:-8080}", 8080);
    assert_int_scalar("${KRC_T_PORT:-8080}", 9090);
    /* ":-" as in the shell: an empty value takes the default too. */
    assert_int_scalar("${KRC_T_EMPTY:-7}", 7);
    assert_type_scalar("${KRC_T_EMPTY}", JSON_NULL);
    assert_type_scalar("${KRC_T_UNSET:-}", JSON_NULL);
    assert_type_scalar("${KRC_T_BOOL}", JSON_TRUE);
    assert_string_scalar("\"${KRC_T_PORT}\"", "9090");
    assert_string_scalar("'${KRC_T_UNSET:-8080}'", "8080");
    assert_string_scalar("http://h:${KRC_T_PORT}/x", "http://h:9090/x");
    assert_int_scalar("${KRC_T_PORT}${KRC_T_PORT}", 90909090);
    assert_string_scalar("${KRC_T_UNSET:-a b:c}", "a b:c");
    assert_string_scalar("${KRC_T_UNSET:-$x}", "$x");
    /* Never expanded twice. */
    assert_string_scalar("${KRC_T_REF}", "${KRC_T_PORT}");
    /* $$ is a literal $; any other $ stays. */
    assert_string_scalar("pa$$word", "pa$word");
    assert_string_scalar("$${KRC_T_PORT}", "${KRC_T_PORT}");
    assert_string_scalar("'^[0-9]+$'", "^[0-9]+$");
    assert_string_scalar("a$b", "a$b");
    assert_string_scalar("$", "$");
    assert_string_scalar("$$1", "$1");
    /* Keys are structure: never expanded. */
    krc_conf_doc *d = parse("${KRC_T_PORT}: 1\n");
    assert_non_null(json_object_get(krc_conf_root(d), "${KRC_T_PORT}"));
    krc_conf_free(d);
    unsetenv("KRC_T_PORT");
    unsetenv("KRC_T_EMPTY");
    unsetenv("KRC_T_BOOL");
    unsetenv("KRC_T_REF");
}

static void test_env_errors(void **state)
{
    (void)state;
    unsetenv("KRC_T_UNSET");
    assert_string_equal(parse_err("a: 1\nport: ${KRC_T_UNSET}\n"),
                        "t.yaml:2:7: environment variable KRC_T_UNSET is not set "
                        "(give a default with ${KRC_T_UNSET:-value})");
    assert_string_equal(parse_err("v: \"x${KRC_T_UNSET}\"\n"),
                        "t.yaml:1:4: environment variable KRC_T_UNSET is not set "
                        "(give a default with ${KRC_T_UNSET:-value})");
    static const char malformed[] =
        "t.yaml:1:4: malformed ${...}: expected ${NAME} or ${NAME:-default} (write $$ for a literal $)";
    assert_string_equal(parse_err("v: ${}\n"), malformed);
    assert_string_equal(parse_err("v: ${1X}\n"), malformed);
    assert_string_equal(parse_err("v: ${A B}\n"), malformed);
    assert_string_equal(parse_err("v: ${A:default}\n"), malformed);
    assert_string_equal(parse_err("v: ${\n"), malformed);
    assert_string_equal(parse_err("v: ${ABC\n"), "t.yaml:1:4: unterminated ${ABC (missing \"}\")");
    assert_string_equal(parse_err("v: ${ABC:-x\n"), "t.yaml:1:4: unterminated ${ABC (missing \"}\")");
    assert_string_equal(parse_err("v: ${A:-${B}}\n"),
                        "t.yaml:1:4: ${...} inside the default of ${A:-...} is not supported");
    setenv("KRC_T_BAD", "\xff", 1);
    assert_string_equal(parse_err("v: ${KRC_T_BAD}\n"), "t.yaml:1:4: not valid UTF-8 after ${...} expansion");
    unsetenv("KRC_T_BAD");
}

static void test_refusals(void **state)
{
    (void)state;
    assert_string_equal(parse_err("a: 1\nb: 2\na: 3\n"), "t.yaml:3:1: duplicate key \"a\" (first at 1:1)");
    assert_string_equal(parse_err("x: {k: 1, \"k\": 2}\n"), "t.yaml:1:11: duplicate key \"k\" (first at 1:5)");
    assert_string_equal(parse_err("x:\n  - {a: 1}\n  - {b: 1, b: 1}\n"),
                        "t.yaml:3:12: duplicate key \"b\" (first at 3:6)");
    assert_string_equal(parse_err("? [a]\n: 1\n"), "t.yaml:1:3: a mapping key must be a scalar, not a sequence");
    assert_string_equal(parse_err("{{a: 1}: 2}\n"), "t.yaml:1:2: a mapping key must be a scalar, not a mapping");
    assert_string_equal(parse_err("a: &x 1\nb: 2\n"), "t.yaml:1:4: anchors (&x) are not supported");
    assert_string_equal(parse_err("a: &x [1]\n"), "t.yaml:1:4: anchors (&x) are not supported");
    assert_string_equal(parse_err("a: 1\nb: *x\n"), "t.yaml:2:4: aliases (*x) are not supported");
    assert_string_equal(parse_err("a: !!int 1\n"),
                        "t.yaml:1:4: tag tag:yaml.org,2002:int is not supported (only !!str)");
    assert_string_equal(parse_err("a: !local x\n"), "t.yaml:1:4: tag !local is not supported (only !!str)");
    assert_string_equal(parse_err("a: !!map {}\n"),
                        "t.yaml:1:4: tag tag:yaml.org,2002:map is not supported (only !!str)");
    assert_string_equal(parse_err("a: 1\n---\nb: 2\n"),
                        "t.yaml:2:1: a second document; a config file holds exactly one");
    assert_string_equal(parse_err("a: \"x\\0y\"\n"), "t.yaml:1:4: NUL characters are not supported");
    assert_string_equal(parse_err("a: 9223372036854775808\n"),
                        "t.yaml:1:4: integer 9223372036854775808 is out of range (64-bit)");
    assert_string_equal(parse_err("a: 0x8000000000000000\n"),
                        "t.yaml:1:4: integer 0x8000000000000000 is out of range (64-bit)");
    assert_string_equal(parse_err("a: .inf\n"), "t.yaml:1:4: .inf: infinities and NaN are not supported");
    assert_string_equal(parse_err("a: -.Inf\n"), "t.yaml:1:4: -.Inf: infinities and NaN are not supported");
    assert_string_equal(parse_err("a: .NaN\n"), "t.yaml:1:4: .NaN: infinities and NaN are not supported");
    assert_string_equal(parse_err("a: 1e999\n"), "t.yaml:1:4: number 1e999 is out of range");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_string_equal(parse_err("a: [1, 2\n"),
                        "t.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence at 1:4)");
    assert_string_equal(parse_err("a:\n  b: 1\n c: 2\n"),
                        "t.yaml:3:2: did not find expected key (while parsing a block mapping at 1:1)");
    assert_string_equal(parse_err("a: \"open\n"),
                        "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at 1:4)");
    /* Reader errors carry a byte offset only; columns count characters. */
    assert_string_equal(parse_err("é: 1\nb: \xff\n"), "t.yaml:2:4: invalid leading UTF-8 octet (byte 0xff)");
    static const char ctl[] = "a: 1\nb: x\x01y\n";
    krc_conf_doc *d = krc_conf_parse("t.yaml", ctl, sizeof(ctl) - 1, err, sizeof(err));
    assert_null(d);
    assert_string_equal(err, "t.yaml:2:5: control characters are not allowed (byte 0x01)");
}

/* A key holding a line break, quoted back in an error, still gives one line. */
static void test_errors_are_one_line(void **state)
{
    (void)state;
    assert_string_equal(parse_err("\"a\\nb\": 1\n\"a\\nb\": 2\n"), "t.yaml:2:1: duplicate key \"a b\" (first at 1:1)");
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 2);
    assert_non_null(s);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[depth * 2] = '\n';
    s[depth * 2 + 1] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = nested(64), *deep = nested(65);
    krc_conf_doc *d = parse(ok);
    krc_conf_free(d);
    assert_string_equal(parse_err(deep), "t.yaml:1:65: nesting deeper than 64 levels is not supported");
    free(ok);
    free(deep);
}

static void test_positions(void **state)
{
    (void)state;
    krc_conf_doc *d = parse("# comment\n"
                            "server:\n"
                            "  listen:\n"
                            "    - host: x\n"
                            "      port: 80\n"
                            "      on: true\n"
                            "flow: {\"éé\": \"ü\", b: null, c: [7, false]}\n");
    json_t *root = krc_conf_root(d);
    json_t *server = json_object_get(root, "server");
    json_t *listen = json_object_get(server, "listen");
    json_t *item = json_array_get(listen, 0);
    json_t *flow = json_object_get(root, "flow");
    json_t *c = json_object_get(flow, "c");
    int line = 0, col = 0;

    assert_int_equal(krc_conf_pos(d, root, &line, &col), 0);
    assert_int_equal(line, 2);
    assert_int_equal(col, 1);
    assert_int_equal(krc_conf_pos(d, server, &line, &col), 0);
    assert_int_equal(line, 3);
    assert_int_equal(col, 3);
    assert_int_equal(krc_conf_pos(d, listen, &line, &col), 0);
    assert_int_equal(line, 4);
    assert_int_equal(col, 5);
    assert_int_equal(krc_conf_pos(d, item, &line, &col), 0);
    assert_int_equal(line, 4);
    assert_int_equal(col, 7);
    assert_int_equal(krc_conf_member_pos(d, listen, NULL, 0, &line, &col), 0);
    assert_int_equal(line, 4);
    assert_int_equal(col, 7);
    assert_int_equal(krc_conf_pos(d, json_object_get(item, "port"), &line, &col), 0);
    assert_int_equal(line, 5);
    assert_int_equal(col, 13);
    assert_int_equal(krc_conf_key_pos(d, item, "port", &line, &col), 0);
    assert_int_equal(line, 5);
    assert_int_equal(col, 7);
    /* true, false and null are shared: only their member position says. */
    assert_int_equal(krc_conf_pos(d, json_object_get(item, "on"), &line, &col), -1);
    assert_int_equal(krc_conf_member_pos(d, item, "on", 0, &line, &col), 0);
    assert_int_equal(line, 6);
    assert_int_equal(col, 11);
    /* Columns count characters, not bytes. */
    assert_int_equal(krc_conf_member_pos(d, flow, "éé", 0, &line, &col), 0);
    assert_int_equal(line, 7);
    assert_int_equal(col, 14);
    assert_int_equal(krc_conf_key_pos(d, flow, "b", &line, &col), 0);
    assert_int_equal(col, 19);
    assert_int_equal(krc_conf_member_pos(d, flow, "b", 0, &line, &col), 0);
    assert_int_equal(col, 22);
    assert_int_equal(krc_conf_member_pos(d, c, NULL, 1, &line, &col), 0);
    assert_int_equal(col, 35);
    assert_int_equal(krc_conf_pos(d, c, &line, &col), 0);
    assert_int_equal(col, 31);

    /* Unknown: a missing member, a key of an array, a node from elsewhere. */
    assert_int_equal(krc_conf_member_pos(d, item, "nope", 0, &line, &col), -1);
    assert_int_equal(krc_conf_member_pos(d, listen, NULL, 1, &line, &col), -1);
    assert_int_equal(krc_conf_key_pos(d, listen, "x", &line, &col), -1);
    json_t *other = json_object();
    assert_int_equal(krc_conf_pos(d, other, &line, &col), -1);
    assert_int_equal(krc_conf_pos(NULL, root, &line, &col), -1);

    /* Filled-in nodes can be given a place. */
    json_object_set_new(item, "added", other);
    assert_int_equal(krc_conf_set_pos(d, other, 4, 7), 0);
    assert_int_equal(krc_conf_pos(d, other, &line, &col), 0);
    assert_int_equal(line, 4);
    assert_int_equal(col, 7);
    krc_conf_free(d);
}

/* Many nodes: the position table grows and keeps every entry. */
static void test_many_positions(void **state)
{
    (void)state;
    enum { N = 2000 };
    size_t cap = N * 24 + 16, off = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < N; i++)
        off += (size_t)snprintf(text + off, cap - off, "k%d: [%d, \"s%d\"]\n", i, i, i);
    krc_conf_doc *d = parse(text);
    free(text);
    json_t *root = krc_conf_root(d);
    assert_int_equal(json_object_size(root), N);
    for (int i = 0; i < N; i++) {
        char key[16];
        int line, col;
        snprintf(key, sizeof(key), "k%d", i);
        json_t *arr = json_object_get(root, key);
        assert_int_equal(krc_conf_key_pos(d, root, key, &line, &col), 0);
        assert_int_equal(line, i + 1);
        assert_int_equal(col, 1);
        assert_int_equal(krc_conf_pos(d, json_array_get(arr, 1), &line, &col), 0);
        assert_int_equal(line, i + 1);
    }
    krc_conf_free(d);
}

static void test_errorf(void **state)
{
    (void)state;
    krc_conf_doc *d = parse("a: 1\n");
    assert_int_equal(krc_conf_errorf(d, 3, 4, "a.b", err, sizeof(err), "bad %s", "thing"), -1);
    assert_string_equal(err, "t.yaml:3:4: a.b: bad thing");
    krc_conf_errorf(d, 0, 0, "a", err, sizeof(err), "x");
    assert_string_equal(err, "t.yaml: a: x");
    krc_conf_errorf(d, 1, 1, "", err, sizeof(err), "x");
    assert_string_equal(err, "t.yaml:1:1: x");
    krc_conf_errorf(NULL, 1, 1, "w", err, sizeof(err), "x");
    assert_string_equal(err, "w: x");
    char small[8];
    krc_conf_errorf(d, 10, 20, "where", small, sizeof(small), "message");
    assert_string_equal(small, "t.yaml:");
    krc_conf_free(d);
}

static void test_load_files(void **state)
{
    (void)state;
    krc_conf_doc *d = krc_conf_load(fixture_path("good/full.yaml"), err, sizeof(err));
    if (d == NULL)
        fail_msg("%s", err);
    assert_string_equal(krc_conf_file(d), fixture_path("good/full.yaml"));
    assert_true(json_is_object(json_object_get(krc_conf_root(d), "server")));
    krc_conf_free(d);

    assert_null(krc_conf_load("/nonexistent/k.yaml", err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/k.yaml: cannot open: No such file or directory");
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", fixture_path("good"));
    assert_null(krc_conf_load(dir, err, sizeof(err)));
    char want[4300];
    snprintf(want, sizeof(want), "%s: not a regular file", dir);
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_schema_typing),
        cmocka_unit_test(test_quoted_and_tagged_are_strings),
        cmocka_unit_test(test_block_and_flow_agree),
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_errors_are_one_line),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_many_positions),
        cmocka_unit_test(test_errorf),
        cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
