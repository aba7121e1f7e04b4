/* hello: the smallest useful kirana plugin, and the example third-party
 * authors start from. Built out of tree against the installed SDK:
 *
 *     make    (see the Makefile: openapi.json becomes openapi.c, then one cc)
 *
 * Its routes are described in openapi.json beside this file (served at
 * GET /openapi.json).
 */
#include <kirana/kirana.h>
#include <stdlib.h>

typedef struct hello_state {
    const char *greeting; /* borrowed from the validated config */
    kr_counter *greetings;
} hello_state;

static int greet(kr_req *req, void *udata)
{
    hello_state *st = udata;
    const char *name = kr_req_param(req, "name");
    if (name == NULL)
        name = kr_req_query(req, "name");
    kr_counter_add(st->greetings, 1);
    char *msg = kr_req_printf(req, "%s, %s", st->greeting, name != NULL ? name : "world");
    if (msg == NULL)
        return KR_ENOMEM;
    return kr_reply_json(req, 200, json_pack("{s:s}", "message", msg));
}

static int echo(kr_req *req, void *udata)
{
    (void)udata;
    json_t *body;
    int rc = kr_req_json(req, &body);
    if (rc < 0)
        return rc; /* 400 problem with the parser's reason */
    return kr_reply_json(req, 200, json_pack("{s:O}", "echo", body));
}

static int init(kr_plugin_ctx *ctx)
{
    hello_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KR_ENOMEM;
    st->greeting = json_string_value(json_object_get(kr_ctx_config(ctx), "greeting"));
    st->greetings = kr_metrics_counter(ctx, "hello_greetings_total", "Greetings served", NULL);
    kr_ctx_set_state(ctx, st);
    int rc;
    if ((rc = kr_route_add(ctx, "GET", "/", KR_AUTH_NONE, greet, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/{name}", KR_AUTH_NONE, greet, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/echo", KR_AUTH_NONE, echo, st)) < 0)
        return rc;
    return kr_openapi_add(ctx, kr_plugin_openapi_json); /* openapi.json */
}

static void fini(kr_plugin_ctx *ctx) { free(kr_ctx_state(ctx)); }

static const kr_plugin descriptor = {
    KR_PLUGIN_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .config_schema = "{\"type\": \"object\", \"additionalProperties\": false,"
                     " \"properties\": {\"greeting\": {\"type\": \"string\", \"minLength\": 1,"
                     " \"maxLength\": 64, \"default\": \"hello\"}}}",
    .init = init,
    .fini = fini,
};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void) { return &descriptor; }
