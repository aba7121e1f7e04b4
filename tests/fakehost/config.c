/* Fake host: a plugin's config block prepared as the loader does, loosely:
 * defaults filled from config_schema (at every level where the block has an
 * object), `required` and the top-level `type`s checked. The core's full
 * schema validation is tested with the core. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int type_ok(const json_t *v, const char *type)
{
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v));
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return 1;
}

static void fill_defaults(json_t *cfg, const json_t *schema)
{
    const char *k;
    const json_t *prop;
    json_object_foreach(json_object_get(schema, "properties"), k, prop)
    {
        json_t *have = json_object_get(cfg, k);
        const json_t *def = json_object_get(prop, "default");
        if (have == NULL && def != NULL)
            json_object_set_new(cfg, k, have = json_deep_copy(def));
        if (json_is_object(have))
            fill_defaults(have, prop);
    }
}

json_t *krf_config_prepare(const char *schema_text, const json_t *given, char *err, size_t errlen)
{
    if (given != NULL && !json_is_object(given)) {
        snprintf(err, errlen, "the config block must be an object");
        return NULL;
    }
    if (schema_text == NULL) {
        if (json_object_size(given) != 0) {
            snprintf(err, errlen, "the plugin takes no config (config_schema is NULL)");
            return NULL;
        }
        return json_object();
    }
    json_error_t jerr;
    json_t *schema = json_loads(schema_text, 0, &jerr);
    if (!json_is_object(schema)) {
        snprintf(err, errlen, "config_schema is not a JSON object: %s", schema != NULL ? "" : jerr.text);
        json_decref(schema);
        return NULL;
    }
    json_t *cfg = given != NULL ? json_deep_copy(given) : json_object();
    fill_defaults(cfg, schema);
    size_t i;
    const json_t *req;
    json_array_foreach(json_object_get(schema, "required"), i, req)
    {
        if (json_is_string(req) && json_object_get(cfg, json_string_value(req)) == NULL) {
            snprintf(err, errlen, "missing required property '%s'", json_string_value(req));
            goto fail;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(cfg, k, v)
    {
        const json_t *type = json_object_get(json_object_get(json_object_get(schema, "properties"), k), "type");
        if (json_is_string(type) && !type_ok(v, json_string_value(type))) {
            snprintf(err, errlen, "property '%s' must be of type %s", k, json_string_value(type));
            goto fail;
        }
    }
    json_decref(schema);
    return cfg;
fail:
    json_decref(schema);
    json_decref(cfg);
    return NULL;
}
