/* The OpenAPI document: fragment shape checks, and the merge of the core's
 * description with the plugins' against the registered routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/server/openapi.h"

extern const char krc_openapi_core_json[];

static const char core_text[] = "{\"openapi\": \"3.1.0\", \"info\": {\"title\": \"t\", \"version\": \"0\"},"
                                " \"paths\": {\"/healthz\": {\"get\": {\"responses\": {}}}},"
                                " \"components\": {\"schemas\": {\"Problem\": {\"type\": \"object\"}}},"
                                " \"tags\": [{\"name\": \"operations\"}]}";

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

/* Parses text as a fragment; NULL with err when refused. */
static json_t *parse(const char *text, char *err)
{
    err[0] = '\0';
    return krc_openapi_parse(text, err, 256);
}

static void refuse_parse(const char *text, const char *want)
{
    char err[256];
    json_t *f = parse(text, err);
    if (f != NULL || strstr(err, want) == NULL)
        fail_msg("%s: got \"%s\", want \"%s\"", text, err, want);
    assert_null(strchr(err, '\n'));
}

static void fragments_parse(void **state)
{
    (void)state;
    char err[256];
    json_t *f = parse("{\"paths\": {\"/\": {\"get\": {}, \"parameters\": []}}, \"components\": {\"schemas\": {}},"
                      " \"tags\": [{\"name\": \"x\"}]}",
                      err);
    assert_non_null(f);
    json_decref(f);
    f = parse("{\"paths\": {}}", err);
    assert_non_null(f);
    json_decref(f);
}

static void fragment_refusals(void **state)
{
    (void)state;
    refuse_parse("{\"paths\": {", "is not JSON: line 1");
    refuse_parse("", "is not JSON");
    refuse_parse("[]", "must be a JSON object");
    refuse_parse("{}", "needs a \"paths\" object");
    refuse_parse("{\"paths\": []}", "needs a \"paths\" object");
    refuse_parse("{\"paths\": {}, \"info\": {}}", "unknown member \"info\"");
    refuse_parse("{\"paths\": {}, \"paths\": {}}", "is not JSON");
    refuse_parse("{\"paths\": {\"x\": {}}}", "path \"x\" must start with /");
    refuse_parse("{\"paths\": {\"/x\": []}}", "path \"/x\" must be an object");
    refuse_parse("{\"paths\": {\"/x\": {\"get\": 1}}}", "operation \"get\" must be an object");
    refuse_parse("{\"paths\": {\"/x\": {\"GET\": {}}}}", "unknown member \"GET\" (operations are lower-case");
    refuse_parse("{\"paths\": {}, \"components\": []}", "\"components\" must be an object");
    refuse_parse("{\"paths\": {}, \"components\": {\"schemas\": 1}}", "components.schemas must be an object");
    refuse_parse("{\"paths\": {}, \"tags\": [{}]}", "\"tags\" must be an array of objects with a \"name\"");
    /* what a fragment names goes into one line, printable */
    refuse_parse("{\"paths\": {\"/x\": {\"a\\nb\": {}}}}", "unknown member \"a?b\"");
    assert_null(krc_openapi_parse(NULL, (char[64]){0}, 64));
}

typedef struct merge_case {
    krc_openapi_part parts[3];
    size_t nparts;
    krc_openapi_route routes[8];
    size_t nroutes;
} merge_case;

/* Runs the merge of core_text with the case; frees the fragments. */
static json_t *merge(merge_case *mc, char *err)
{
    json_t *core = load(core_text);
    err[0] = '\0';
    json_t *doc = krc_openapi_merge(core, "9.9.9", mc->parts, mc->nparts, mc->routes, mc->nroutes, err, 512);
    json_decref(core);
    for (size_t i = 0; i < mc->nparts; i++)
        json_decref((json_t *)mc->parts[i].fragment);
    return doc;
}

static const json_t *at(const json_t *doc, const char *path, const char *method)
{
    return json_object_get(json_object_get(json_object_get(doc, "paths"), path), method);
}

#define HEALTHZ {.method = "GET", .pattern = "/healthz", .plugin = NULL, .auth = KR_AUTH_NONE}

static void merges_with_mounts(void **state)
{
    (void)state;
    char err[512];
    merge_case mc = {
        .parts = {{.plugin = "cart",
                   .mount = "/cart",
                   .fragment = load("{\"paths\": {\"/\": {\"get\": {\"responses\": {\"200\": {\"$ref\": "
                                    "\"#/components/responses/Cart\"}}}},"
                                    " \"/items/{id}\": {\"put\": {\"responses\": {}}}},"
                                    " \"components\": {\"responses\": {\"Cart\": {\"description\": \"c\"}}},"
                                    " \"tags\": [{\"name\": \"cart\"}]}")},
                  {.plugin = "hello",
                   .mount = "",
                   .fragment = load("{\"paths\": {\"/hi\": {\"get\": {\"security\": [{}, {\"bearer\": []}],"
                                    " \"responses\": {\"default\": {\"$ref\":"
                                    " \"#/components/schemas/Problem\"}}}}}}")}},
        .nparts = 2,
        .routes = {HEALTHZ,
                   {.method = "GET", .pattern = "/cart", .plugin = "cart", .auth = KR_AUTH_USER},
                   {.method = "PUT", .pattern = "/cart/items/{id}", .plugin = "cart", .auth = KR_AUTH_ADMIN},
                   {.method = "GET", .pattern = "/hi", .plugin = "hello", .auth = KR_AUTH_USER}},
        .nroutes = 4,
    };
    json_t *doc = merge(&mc, err);
    if (doc == NULL)
        fail_msg("%s", err);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "info"), "version")), "9.9.9");
    assert_non_null(at(doc, "/healthz", "get"));
    assert_null(json_object_get(at(doc, "/healthz", "get"), "security"));
    /* "/" below a mount is the mount itself */
    const json_t *get = at(doc, "/cart", "get");
    assert_non_null(get);
    assert_null(at(doc, "/cart/", "get"));
    char *sec = json_dumps(json_object_get(get, "security"), JSON_COMPACT);
    assert_string_equal(sec, "[{\"bearer\":[]}]");
    free(sec);
    assert_string_equal(json_string_value(json_object_get(get, "x-kirana-auth")), "user");
    assert_string_equal(json_string_value(json_object_get(at(doc, "/cart/items/{id}", "put"), "x-kirana-auth")),
                        "admin");
    /* an operation's own security stays */
    assert_int_equal(json_array_size(json_object_get(at(doc, "/hi", "get"), "security")), 2);
    const json_t *comps = json_object_get(doc, "components");
    assert_non_null(json_object_get(json_object_get(comps, "responses"), "Cart"));
    assert_non_null(json_object_get(json_object_get(comps, "schemas"), "Problem"));
    assert_int_equal(json_array_size(json_object_get(doc, "tags")), 2);
    json_decref(doc);
}

static void refuse_merge(merge_case *mc, const char *want)
{
    char err[512];
    json_t *doc = merge(mc, err);
    if (doc != NULL || strstr(err, want) == NULL)
        fail_msg("got \"%s\", want \"%s\"", err, want);
    assert_null(strchr(err, '\n'));
}

#define ONE_PART(frag)                                                                                                 \
    .parts = {{.plugin = "p", .mount = "/p", .fragment = load(frag)}}, .nparts = 1
#define P_ROUTE(m, pat) {.method = m, .pattern = pat, .plugin = "p", .auth = KR_AUTH_NONE}

static void merge_refusals(void **state)
{
    (void)state;
    merge_case described_not_routed = {ONE_PART("{\"paths\": {\"/a\": {\"get\": {}}, \"/b\": {\"post\": {}}}}"),
                                       .routes = {HEALTHZ, P_ROUTE("GET", "/p/a")},
                                       .nroutes = 2};
    refuse_merge(&described_not_routed, "plugin \"p\": OpenAPI describes POST /p/b, which is not one of its routes");

    merge_case routed_not_described = {ONE_PART("{\"paths\": {\"/a\": {\"get\": {}}}}"),
                                       .routes = {HEALTHZ, P_ROUTE("GET", "/p/a"), P_ROUTE("DELETE", "/p/a")},
                                       .nroutes = 3};
    refuse_merge(&routed_not_described, "plugin \"p\": route DELETE /p/a is not described in its OpenAPI description");

    merge_case core_undescribed = {.routes = {HEALTHZ, {.method = "GET", .pattern = "/metrics", .auth = KR_AUTH_NONE}},
                                   .nroutes = 2};
    refuse_merge(&core_undescribed, "the core: route GET /metrics is not described");

    merge_case others_route = {ONE_PART("{\"paths\": {\"/a\": {\"get\": {}}}}"),
                               .routes = {HEALTHZ, P_ROUTE("GET", "/p/b"),
                                          {.method = "GET", .pattern = "/p/a", .plugin = "q", .auth = KR_AUTH_NONE}},
                               .nroutes = 3};
    refuse_merge(&others_route, "plugin \"p\": OpenAPI describes GET /p/a, which is not one of its routes");

    merge_case clash_core = {ONE_PART("{\"paths\": {}, \"components\": {\"schemas\": {\"Problem\": {}}}}"),
                             .routes = {HEALTHZ},
                             .nroutes = 1};
    refuse_merge(&clash_core, "plugin \"p\": OpenAPI component schemas/Problem is also defined by the core");

    merge_case clash = {.parts = {{.plugin = "a", .mount = "/a", .fragment = load("{\"paths\": {}, \"components\": "
                                                                                  "{\"schemas\": {\"Item\": {}}}}")},
                                  {.plugin = "b", .mount = "/b", .fragment = load("{\"paths\": {}, \"components\": "
                                                                                  "{\"schemas\": {\"Item\": {}}}}")}},
                        .nparts = 2,
                        .routes = {HEALTHZ},
                        .nroutes = 1};
    refuse_merge(&clash, "plugin \"b\": OpenAPI component schemas/Item is also defined by plugin \"a\"");

    merge_case tag = {ONE_PART("{\"paths\": {}, \"tags\": [{\"name\": \"operations\"}]}"), .routes = {HEALTHZ},
                      .nroutes = 1};
    refuse_merge(&tag, "plugin \"p\": OpenAPI tag \"operations\" is also defined by the core");

    merge_case twice = {.parts = {{.plugin = "a", .mount = "/x", .fragment = load("{\"paths\": {\"/y\": {}}}")},
                                  {.plugin = "b", .mount = "/x/y", .fragment = load("{\"paths\": {\"/\": {}}}")}},
                        .nparts = 2,
                        .routes = {HEALTHZ},
                        .nroutes = 1};
    refuse_merge(&twice, "plugin \"b\": OpenAPI path /x/y is also described by plugin \"a\"");

    merge_case nowhere = {
        ONE_PART("{\"paths\": {\"/a\": {\"get\": {\"responses\": {\"200\": {\"$ref\": \"#/components/x/Y\"}}}}}}"),
        .routes = {HEALTHZ, P_ROUTE("GET", "/p/a")},
        .nroutes = 2};
    refuse_merge(&nowhere, "plugin \"p\": $ref \"#/components/x/Y\" points nowhere");

    merge_case external = {ONE_PART("{\"paths\": {}, \"components\": {\"schemas\": {\"A\": {\"$ref\": "
                                    "\"https://example.com/a.json\"}}}}"),
                           .routes = {HEALTHZ},
                           .nroutes = 1};
    refuse_merge(&external, "$ref \"https://example.com/a.json\" is not local");
}

static void optional_and_undescribed(void **state)
{
    (void)state;
    char err[512];
    merge_case mc = {
        .parts = {{.plugin = "p",
                   .mount = "/p",
                   .fragment = load("{\"paths\": {\"/a\": {\"get\": {}},"
                                    " \"/pop\": {\"get\": {\"x-kirana-optional\": true}},"
                                    " \"/on\": {\"get\": {\"x-kirana-optional\": true}}}}")},
                  {.plugin = "old", .mount = "/old", .fragment = NULL}},
        .nparts = 2,
        .routes = {HEALTHZ, P_ROUTE("GET", "/p/a"), P_ROUTE("GET", "/p/on"),
                   {.method = "POST", .pattern = "/old/{id}/x/{n}", .plugin = "old", .auth = KR_AUTH_USER}},
        .nroutes = 4,
    };
    json_t *doc = merge(&mc, err);
    if (doc == NULL)
        fail_msg("%s", err);
    /* an optional operation that is not registered is left out, with its path */
    assert_null(json_object_get(json_object_get(doc, "paths"), "/p/pop"));
    assert_non_null(at(doc, "/p/on", "get"));
    const json_t *ph = at(doc, "/old/{id}/x/{n}", "post");
    assert_non_null(ph);
    assert_true(json_is_true(json_object_get(ph, "x-kirana-undescribed")));
    assert_non_null(json_object_get(ph, "security"));
    const json_t *params = json_object_get(ph, "parameters");
    assert_int_equal(json_array_size(params), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(params, 0), "name")), "id");
    assert_string_equal(json_string_value(json_object_get(json_array_get(params, 1), "name")), "n");
    assert_string_equal(json_string_value(json_object_get(json_array_get(params, 1), "in")), "path");
    json_decref(doc);
}

/* The description the binary serves: the core's four routes, and its own
 * $refs resolve. */
static void core_description(void **state)
{
    (void)state;
    char err[512];
    json_t *core = load(krc_openapi_core_json);
    const char *const paths[] = {"/healthz", "/readyz", "/metrics", "/openapi.json"};
    krc_openapi_route routes[4];
    for (size_t i = 0; i < 4; i++)
        routes[i] = (krc_openapi_route){.method = "GET", .pattern = paths[i], .auth = KR_AUTH_NONE};
    json_t *doc = krc_openapi_merge(core, "1.2.3", NULL, 0, routes, 4, err, sizeof(err));
    if (doc == NULL)
        fail_msg("%s", err);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    assert_int_equal(json_object_size(json_object_get(doc, "paths")), 4);
    json_decref(doc);
    /* without /openapi.json registered (a worker-only process) the core's
     * description would not fit */
    assert_null(krc_openapi_merge(core, "1.2.3", NULL, 0, routes, 3, err, sizeof(err)));
    assert_non_null(strstr(err, "the core: OpenAPI describes GET /openapi.json, which is not one of its routes"));
    json_decref(core);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fragments_parse),  cmocka_unit_test(fragment_refusals),
        cmocka_unit_test(merges_with_mounts), cmocka_unit_test(merge_refusals),
        cmocka_unit_test(optional_and_undescribed), cmocka_unit_test(core_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
