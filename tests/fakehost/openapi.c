/* Fake host: kr_openapi_add. Keeps the plugin's fragment after the checks
 * the core makes when it is given (JSON object, "paths" object, nothing but
 * paths/components/tags); matching it against the routes is the core's,
 * tested against the real binary. An empty string (no openapi.json built
 * in) is accepted and keeps nothing. */
#include <string.h>

#include "internal.h"

int krf_openapi_add(kr_plugin_ctx *ctx, const char *json)
{
    if (ctx->openapi != NULL)
        return krf_fail(KR_EINVAL, "plugin '%s' gave its OpenAPI description twice", ctx->desc->name);
    /* Plugin sources compiled into a unit test have the SDK's empty
     * kr_plugin_openapi_json: nothing to keep. */
    if (json != NULL && json[0] == '\0')
        return KR_OK;
    json_error_t je;
    json_t *doc = json != NULL ? json_loads(json, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (doc == NULL)
        return krf_fail(KR_EINVAL, "OpenAPI description is not JSON: %s", json != NULL ? je.text : "(null)");
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "paths") != 0 && strcmp(k, "components") != 0 && strcmp(k, "tags") != 0) {
            json_decref(doc);
            return krf_fail(KR_EINVAL, "OpenAPI description: unknown member '%s'", k);
        }
    }
    if (!json_is_object(json_object_get(doc, "paths"))) {
        json_decref(doc);
        return krf_fail(KR_EINVAL, "OpenAPI description needs a \"paths\" object");
    }
    ctx->openapi = doc;
    return KR_OK;
}

const json_t *kr_fakehost_openapi(const kr_plugin_ctx *ctx)
{
    return ctx->openapi;
}
