/* The JSON Schema subset: what a schema may say, validation messages and
 * their positions, and defaults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/schema.h"

static char err[1024];

static json_t *schema_ok(const char *text)
{
    json_t *s = krc_schema_parse(text, err, sizeof(err));
    if (s == NULL)
        fail_msg("%s", err);
    return s;
}

static const char *schema_err(const char *text)
{
    json_t *s = krc_schema_parse(text, err, sizeof(err));
    if (s != NULL) {
        json_decref(s);
        fail_msg("accepted, but should not have: %s", text);
    }
    return err;
}

static krc_conf_doc *yaml(const char *text)
{
    krc_conf_doc *d = krc_conf_parse("c.yaml", text, strlen(text), err, sizeof(err));
    if (d == NULL)
        fail_msg("%s", err);
    return d;
}

/* Validates YAML text against a schema (JSON text) with positions. Returns
 * the validator's result; the doc is freed. */
static int check(const char *schema_text, const char *yaml_text, const char *where)
{
    json_t *s = schema_ok(schema_text);
    krc_conf_doc *d = yaml(yaml_text);
    int rc = krc_schema_validate(s, krc_conf_root(d), d, where, err, sizeof(err));
    krc_conf_free(d);
    json_decref(s);
    return rc;
}

static void assert_valid(const char *schema_text, const char *yaml_text)
{
    if (check(schema_text, yaml_text, NULL) != 0)
        fail_msg("%s", err);
}

static void assert_invalid(const char *schema_text, const char *yaml_text, const char *where, const char *want)
{
    if (check(schema_text, yaml_text, where) == 0)
        fail_msg("valid, but should not be: %s", yaml_text);
    assert_string_equal(err, want);
}

static void test_schema_refusals(void **state)
{
    (void)state;
    assert_string_equal(schema_err("{\"type\": \"object\", \"oneOf\": []}"),
                        "schema: keyword \"oneOf\" is not supported (kirana/plugin.h lists the subset)");
    assert_string_equal(schema_err("{\"properties\": {\"a\": {\"items\": {\"format\": \"email\"}}}}"),
                        "schema at /properties/a/items: keyword \"format\" is not supported (kirana/plugin.h lists "
                        "the subset)");
    assert_string_equal(schema_err("{\"additionalProperties\": {\"$ref\": \"#\"}}"),
                        "schema at /additionalProperties: keyword \"$ref\" is not supported (kirana/plugin.h lists "
                        "the subset)");
    assert_string_equal(schema_err("{\"type\": \"float\"}"),
                        "schema: \"type\" must be one of null, boolean, object, array, number, string, integer, or a "
                        "non-empty array of them");
    assert_string_equal(schema_err("{\"type\": [\"string\", 1]}"), "schema: \"type\" has an unknown type name");
    assert_string_equal(schema_err("{\"type\": []}"),
                        "schema: \"type\" must be one of null, boolean, object, array, number, string, integer, or a "
                        "non-empty array of them");
    assert_string_equal(schema_err("{\"properties\": []}"), "schema: \"properties\" must be an object of schemas");
    assert_string_equal(schema_err("{\"properties\": {\"a\": 1}}"),
                        "schema at /properties/a: a schema must be a JSON object");
    assert_string_equal(schema_err("{\"required\": [\"a\", 2]}"), "schema: \"required\" must be an array of strings");
    assert_string_equal(schema_err("{\"required\": \"a\"}"), "schema: \"required\" must be an array of strings");
    assert_string_equal(schema_err("{\"additionalProperties\": 1}"),
                        "schema: \"additionalProperties\" must be a boolean or a schema");
    assert_string_equal(schema_err("{\"items\": [{}]}"),
                        "schema: \"items\" must be one schema for every element (the array form is not supported)");
    assert_string_equal(schema_err("{\"enum\": []}"), "schema: \"enum\" must be a non-empty array");
    assert_string_equal(schema_err("{\"minimum\": \"1\"}"), "schema: \"minimum\" must be a number");
    assert_string_equal(schema_err("{\"maxLength\": -1}"), "schema: \"maxLength\" must be a non-negative integer");
    assert_string_equal(schema_err("{\"minItems\": 1.5}"), "schema: \"minItems\" must be a non-negative integer");
    assert_string_equal(schema_err("{\"pattern\": 5}"), "schema: \"pattern\" must be a string");
    assert_non_null(strstr(schema_err("{\"pattern\": \"(\"}"), "schema: \"pattern\" is not a POSIX extended regex: "));
    assert_string_equal(schema_err("{\"title\": 5}"), "schema: \"title\" must be a string");
    assert_string_equal(schema_err("[]"), "schema: a schema must be a JSON object");
    /* The rest of these two messages is jansson's wording. */
    assert_non_null(strstr(schema_err("{\"type\": \"object\", \"type\": \"string\"}"),
                           "schema: invalid JSON at line 1 column 25: duplicate"));
    assert_non_null(strstr(schema_err("{"), "schema: invalid JSON at line 1 column 1: "));
}

/* Found by fuzzing (tests/fuzz/regressions/schema/): a keyword with a line
 * break split the one-line error, and stacked repetitions in a pattern made
 * regcomp allocate gigabytes. */
static void test_schema_fuzz_regressions(void **state)
{
    (void)state;
    assert_string_equal(schema_err("{\"a\\nb\": 1}"),
                        "schema: keyword \"a?b\" is not supported (kirana/plugin.h lists the subset)");
    assert_string_equal(schema_err("{\"properties\": {\"x\\ny\": {\"lenght\": 8}}}"),
                        "schema at /properties/x?y: keyword \"lenght\" is not supported (kirana/plugin.h lists the "
                        "subset)");
    const char *e = schema_err("{\"pattern\": \"^https?++++++++++++++++++://\"}");
    assert_non_null(strstr(e, "stacks repetition operators"));
    schema_err("{\"pattern\": \"a*{2}\"}");
    schema_err("{\"pattern\": \"((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+\"}");
    /* one operator after a bracket or an escape is fine */
    json_decref(schema_ok("{\"pattern\": \"^[+*?]+\\\\++[a-z]{2,8}$\"}"));
    json_decref(schema_ok("{\"pattern\": \"^https?://[^ ]+$\"}"));
}

static void test_schema_defaults_checked(void **state)
{
    (void)state;
    assert_string_equal(schema_err("{\"properties\": {\"port\": {\"type\": \"integer\", \"default\": \"80\"}}}"),
                        "schema at /properties/port: the default does not match: expected integer, got "
                        "string");
    assert_string_equal(schema_err("{\"properties\": {\"n\": {\"maximum\": 3, \"default\": 4}}}"),
                        "schema at /properties/n: the default does not match: must be <= 3");
    assert_string_equal(schema_err("{\"type\": \"object\", \"default\": {}, \"required\": [\"a\"]}"),
                        "schema: the default does not match: missing required key \"a\"");
    json_decref(schema_ok("{\"title\": \"t\", \"description\": \"d\", \"$comment\": \"c\", \"type\": \"object\","
                          " \"properties\": {\"a\": {\"type\": [\"string\", \"null\"], \"default\": null}},"
                          " \"default\": {}}"));
}

static void test_types(void **state)
{
    (void)state;
    static const char str[] = "{\"type\": \"string\"}";
    static const char integer[] = "{\"type\": \"integer\"}";
    static const char number[] = "{\"type\": \"number\"}";
    assert_valid(str, "x");
    assert_valid(str, "'1'");
    assert_valid(integer, "1");
    assert_valid(number, "1");
    assert_valid(number, "1.5");
    assert_valid("{\"type\": \"boolean\"}", "false");
    assert_valid("{\"type\": \"null\"}", "~");
    assert_valid("{\"type\": \"array\"}", "[]");
    assert_valid("{\"type\": \"object\"}", "{}");
    assert_valid("{\"type\": [\"string\", \"null\"]}", "null");
    assert_invalid(str, "1", NULL, "c.yaml:1:1: expected string, got integer");
    assert_invalid(integer, "1.5", "x", "c.yaml:1:1: x: expected integer, got number");
    assert_invalid(integer, "1.0", NULL, "c.yaml:1:1: expected integer, got number");
    assert_invalid(number, "'1'", NULL, "c.yaml:1:1: expected number, got string");
    assert_invalid("{\"type\": \"boolean\"}", "[true]", NULL, "c.yaml:1:1: expected boolean, got array");
    assert_invalid("{\"type\": [\"string\", \"null\"]}", "{a: 1}", NULL,
                   "c.yaml:1:1: expected string or null, got object");
    assert_invalid("{\"type\": [\"integer\", \"boolean\", \"null\"]}", "x", NULL,
                   "c.yaml:1:1: expected integer or boolean or null, got string");
}

static void test_keywords(void **state)
{
    (void)state;
    assert_valid("{\"enum\": [\"a\", 1, null]}", "1");
    assert_valid("{\"enum\": [\"a\", 1, null]}", "~");
    assert_invalid("{\"enum\": [\"a\", 1, null]}", "b", NULL, "c.yaml:1:1: must be one of \"a\", 1, null");
    assert_valid("{\"minimum\": 1, \"maximum\": 2.5}", "2.5");
    assert_invalid("{\"minimum\": 1}", "0", NULL, "c.yaml:1:1: must be >= 1");
    assert_invalid("{\"minimum\": 0.5}", "0.25", NULL, "c.yaml:1:1: must be >= 0.5");
    assert_invalid("{\"maximum\": 9007199254740992}", "9007199254740993", NULL,
                   "c.yaml:1:1: must be <= 9007199254740992");
    /* Keywords about another kind of value do not apply. */
    assert_valid("{\"minimum\": 10, \"minLength\": 5, \"minItems\": 3}", "x: 1");
    assert_valid("{\"minLength\": 2, \"maxLength\": 2}", "éé");
    assert_invalid("{\"maxLength\": 2}", "abc", NULL, "c.yaml:1:1: must be at most 2 characters long");
    assert_invalid("{\"minLength\": 1}", "''", NULL, "c.yaml:1:1: must be at least 1 characters long");
    assert_valid("{\"pattern\": \"^[a-z]+$\"}", "abc");
    assert_valid("{\"pattern\": \"b\"}", "abc");
    assert_invalid("{\"pattern\": \"^[a-z]+$\"}", "ab1", NULL,
                   "c.yaml:1:1: \"ab1\" does not match the pattern \"^[a-z]+$\"");
    assert_valid("{\"minItems\": 1, \"maxItems\": 2}", "[1, 2]");
    assert_invalid("{\"minItems\": 1}", "[]", NULL, "c.yaml:1:1: must have at least 1 item");
    assert_invalid("{\"maxItems\": 2}", "[1, 2, 3]", NULL, "c.yaml:1:1: must have at most 2 items");
    assert_invalid("{\"items\": {\"type\": \"integer\"}}", "[1, 2, x]", "list",
                   "c.yaml:1:8: list[2]: expected integer, got string");
    assert_invalid("{\"items\": {\"items\": {\"enum\": [true]}}}", "- [true]\n- [true, false]\n", NULL,
                   "c.yaml:2:10: [1][1]: must be one of true");
}

static const char server_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"properties\": {"
    "  \"name\": {\"type\": \"string\"},"
    "  \"listen\": {\"type\": \"array\", \"items\": {"
    "   \"type\": \"object\", \"additionalProperties\": false, \"required\": [\"port\"],"
    "   \"properties\": {\"host\": {\"type\": \"string\"}, \"port\": {\"type\": \"integer\"},"
    "    \"tls\": {\"type\": \"object\", \"additionalProperties\": false,"
    "     \"properties\": {\"cert\": {\"type\": \"string\"}}}}}},"
    "  \"extra\": {\"type\": \"object\"}}}";

static void test_objects(void **state)
{
    (void)state;
    assert_valid(server_schema, "name: a\nlisten: [{port: 1}]\nextra: {anything: [1]}\n");
    assert_invalid(server_schema, "name: a\nnmae: b\n", NULL,
                   "c.yaml:2:1: unknown key \"nmae\" (did you mean \"name\"?)");
    assert_invalid(server_schema, "listen:\n  - port: 1\n    hots: x\n", NULL,
                   "c.yaml:3:5: listen[0]: unknown key \"hots\" (did you mean \"host\"?)");
    assert_invalid(server_schema, "listen:\n  - port: 1\n    tls: {cert: a, chain: b}\n", "server",
                   "c.yaml:3:20: server.listen[0].tls: unknown key \"chain\"");
    assert_invalid(server_schema, "zzzzzz: 1\n", NULL, "c.yaml:1:1: unknown key \"zzzzzz\"");
    /* Unknown keys come first: a typo is not reported as a missing key. */
    assert_invalid(server_schema, "listen:\n  - prot: 1\n", NULL,
                   "c.yaml:2:5: listen[0]: unknown key \"prot\" (did you mean \"port\"?)");
    assert_invalid(server_schema, "listen:\n  - port: 1\n  - host: x\n", NULL,
                   "c.yaml:3:5: listen[1]: missing required key \"port\"");
    assert_invalid(server_schema, "listen:\n  - port: 1\n  - port: x\n", NULL,
                   "c.yaml:3:11: listen[1].port: expected integer, got string");
    /* additionalProperties as a schema. */
    static const char map[] = "{\"additionalProperties\": {\"type\": \"integer\"}}";
    assert_valid(map, "a: 1\nb: 2\n");
    assert_invalid(map, "a: 1\nb: true\n", "limits", "c.yaml:2:4: limits.b: expected integer, got boolean");
    /* Keys that are not identifiers are quoted in the path. */
    assert_invalid(map, "\"a.b\": x\n", NULL, "c.yaml:1:8: [\"a.b\"]: expected integer, got string");
    assert_invalid(map, "\"\": x\n", "m", "c.yaml:1:5: m[\"\"]: expected integer, got string");
}

/* The example the plugin loader produces. */
static void test_plugin_block_example(void **state)
{
    (void)state;
    static const char text[] = "server:\n"
                               "  threads: 1\n"
                               "plugins:\n"
                               "  - name: hello\n"
                               "    path: hello.so\n"
                               "    config:\n"
                               "      greeting: 42\n";
    krc_conf_doc *d = yaml(text);
    json_t *config = json_object_get(json_array_get(json_object_get(krc_conf_root(d), "plugins"), 0), "config");
    json_t *s = schema_ok("{\"type\": \"object\", \"properties\": {\"greeting\": {\"type\": \"string\"}}}");
    assert_int_equal(krc_schema_validate(s, config, d, "plugins[0].config", err, sizeof(err)), -1);
    assert_string_equal(err, "c.yaml:7:17: plugins[0].config.greeting: expected string, got integer");
    json_decref(s);
    krc_conf_free(d);
}

static void test_defaults(void **state)
{
    (void)state;
    json_t *s = schema_ok("{\"type\": \"object\", \"properties\": {"
                          " \"greeting\": {\"type\": \"string\", \"default\": \"hello\"},"
                          " \"nullable\": {\"type\": [\"string\", \"null\"], \"default\": \"d\"},"
                          " \"tags\": {\"type\": \"array\", \"default\": [\"a\"]},"
                          " \"limits\": {\"type\": \"object\", \"default\": {},"
                          "  \"properties\": {\"rps\": {\"type\": \"integer\", \"default\": 10},"
                          "                  \"burst\": {\"type\": \"integer\"}}},"
                          " \"nodefault\": {\"type\": \"string\"}}}");
    krc_conf_doc *d = yaml("nullable: null\nlimits: {burst: 5}\n");
    json_t *inst = krc_conf_root(d);
    assert_int_equal(krc_schema_validate(s, inst, d, NULL, err, sizeof(err)), 0);
    json_t *want = json_loads("{\"greeting\": \"hello\", \"nullable\": null, \"tags\": [\"a\"],"
                              " \"limits\": {\"burst\": 5, \"rps\": 10}}",
                              0, NULL);
    assert_true(json_equal(inst, want));
    json_decref(want);

    /* Each instance gets its own copy. */
    json_array_append_new(json_object_get(inst, "tags"), json_string("b"));
    json_t *again = json_object();
    assert_int_equal(krc_schema_validate(s, again, NULL, NULL, err, sizeof(err)), 0);
    want = json_loads("{\"greeting\": \"hello\", \"nullable\": \"d\", \"tags\": [\"a\"], \"limits\": {\"rps\": 10}}", 0,
                      NULL);
    assert_true(json_equal(again, want));
    json_decref(want);
    json_decref(again);
    krc_conf_free(d);
    json_decref(s);

    /* A filled-in object gets the defaults nested in its schema. */
    s = schema_ok("{\"properties\": {\"inner\": {\"default\": {},"
                  " \"properties\": {\"n\": {\"type\": \"integer\", \"default\": 1, \"maximum\": 5}}}}}");
    d = yaml("# c\nouter: 1\n");
    assert_int_equal(krc_schema_validate(s, krc_conf_root(d), d, NULL, err, sizeof(err)), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(krc_conf_root(d), "inner"), "n")), 1);
    krc_conf_free(d);
    json_decref(s);
}

static void test_positions_and_where(void **state)
{
    (void)state;
    json_t *s = schema_ok("{\"properties\": {\"a\": {\"type\": \"string\"}}}");
    json_t *inst = json_pack("{s:i}", "a", 1);
    assert_int_equal(krc_schema_validate(s, inst, NULL, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "a: expected string, got integer");
    assert_int_equal(krc_schema_validate(s, inst, NULL, "cfg", err, sizeof(err)), -1);
    assert_string_equal(err, "cfg.a: expected string, got integer");
    json_decref(inst);

    /* A tree outside the doc: the file, without a position. */
    krc_conf_doc *d = yaml("x: 1\n");
    inst = json_pack("{s:b}", "a", 1);
    assert_int_equal(krc_schema_validate(s, inst, d, "p", err, sizeof(err)), -1);
    assert_string_equal(err, "c.yaml: p.a: expected string, got boolean");
    json_decref(inst);
    krc_conf_free(d);

    /* Singletons get their position through their parent. */
    assert_invalid("{\"properties\": {\"a\": {\"type\": \"string\"}}}", "b: 1\na: null\n", NULL,
                   "c.yaml:2:4: a: expected string, got null");
    assert_invalid("{\"items\": {\"type\": \"string\"}}", "[x, true]", NULL,
                   "c.yaml:1:5: [1]: expected string, got boolean");
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_refusals), cmocka_unit_test(test_schema_fuzz_regressions),
        cmocka_unit_test(test_schema_defaults_checked),
        cmocka_unit_test(test_types),           cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_objects),         cmocka_unit_test(test_plugin_block_example),
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_positions_and_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
