#include "core/server/openapi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/obs/log.h"
#include "core/server/server.h"
#include "core/util/err.h"

/* openapi_core.json, linked in by core/server/generate.cmake */
extern const char krc_openapi_core_json[];

static const char *const op_methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
static const char *const item_fields[] = {"summary", "description", "parameters", "servers"};

static int in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return 1;
    return 0;
}

static int is_method(const char *k) { return in_list(k, op_methods, sizeof(op_methods) / sizeof(op_methods[0])); }

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Names from a fragment go into one-line messages: keep them printable and short. */
static const char *clean(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 4 < n; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] != '\0') {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static int check_paths(const json_t *paths, char *err, size_t errlen)
{
    char b1[96], b2[96];
    const char *path, *k;
    json_t *item, *v;
    json_object_foreach((json_t *)paths, path, item)
    {
        if (path[0] != '/') {
            fail(err, errlen, "path \"%s\" must start with /", clean(path, b1, sizeof(b1)));
            return -1;
        }
        if (!json_is_object(item)) {
            fail(err, errlen, "path \"%s\" must be an object", clean(path, b1, sizeof(b1)));
            return -1;
        }
        json_object_foreach(item, k, v)
        {
            if (is_method(k)) {
                if (!json_is_object(v)) {
                    fail(err, errlen, "path \"%s\": operation \"%s\" must be an object", clean(path, b1, sizeof(b1)),
                         k);
                    return -1;
                }
            } else if (!in_list(k, item_fields, sizeof(item_fields) / sizeof(item_fields[0]))) {
                fail(err, errlen,
                     "path \"%s\": unknown member \"%s\" (operations are lower-case: get, post, put, patch, delete, "
                     "head, options, trace)",
                     clean(path, b1, sizeof(b1)), clean(k, b2, sizeof(b2)));
                return -1;
            }
        }
    }
    return 0;
}

json_t *krc_openapi_parse(const char *text, char *err, size_t errlen)
{
    char b1[96];
    if (text == NULL) {
        fail(err, errlen, "no OpenAPI description given");
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        fail(err, errlen, "OpenAPI description is not JSON: line %d column %d: %s", je.line, je.column,
             clean(je.text, b1, sizeof(b1)));
        return NULL;
    }
    if (!json_is_object(doc)) {
        fail(err, errlen, "OpenAPI description must be a JSON object");
        goto bad;
    }
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "paths") != 0 && strcmp(k, "components") != 0 && strcmp(k, "tags") != 0) {
            fail(err, errlen, "OpenAPI description: unknown member \"%s\" (allowed: paths, components, tags)",
                 clean(k, b1, sizeof(b1)));
            goto bad;
        }
    }
    const json_t *paths = json_object_get(doc, "paths");
    if (!json_is_object(paths)) {
        fail(err, errlen, "OpenAPI description needs a \"paths\" object");
        goto bad;
    }
    if (check_paths(paths, err, errlen) < 0)
        goto bad;
    const json_t *comps = json_object_get(doc, "components");
    if (comps != NULL) {
        if (!json_is_object(comps)) {
            fail(err, errlen, "OpenAPI description: \"components\" must be an object");
            goto bad;
        }
        json_object_foreach((json_t *)comps, k, v)
        {
            if (!json_is_object(v)) {
                fail(err, errlen, "OpenAPI description: components.%s must be an object", clean(k, b1, sizeof(b1)));
                goto bad;
            }
        }
    }
    const json_t *tags = json_object_get(doc, "tags");
    if (tags != NULL) {
        size_t i;
        json_t *t;
        if (!json_is_array(tags))
            goto bad_tags;
        json_array_foreach(tags, i, t)
        {
            if (!json_is_object(t) || !json_is_string(json_object_get(t, "name")))
                goto bad_tags;
        }
    }
    return doc;
bad_tags:
    fail(err, errlen, "OpenAPI description: \"tags\" must be an array of objects with a \"name\"");
bad:
    json_decref(doc);
    return NULL;
}

/* "/" below a mount is the mount itself, as for routes */
static void full_path(const char *mount, const char *rel, char *out, size_t n)
{
    if (mount[0] != '\0' && strcmp(rel, "/") == 0)
        snprintf(out, n, "%s", mount);
    else
        snprintf(out, n, "%s%s", mount, rel);
}

static const char *owner_text(const char *owner, char *buf, size_t n)
{
    if (strcmp(owner, "") == 0)
        snprintf(buf, n, "the core");
    else
        snprintf(buf, n, "plugin \"%s\"", owner);
    return buf;
}

/* Resolves a local JSON pointer ("#/components/schemas/X") in doc. */
static int ref_resolves(const json_t *doc, const char *ref)
{
    if (strcmp(ref, "#") == 0)
        return 1;
    if (strncmp(ref, "#/", 2) != 0)
        return 0;
    const json_t *at = doc;
    const char *p = ref + 2;
    char tok[256];
    for (;;) {
        size_t n = 0;
        for (; *p != '\0' && *p != '/'; p++) {
            if (n + 1 >= sizeof(tok))
                return 0;
            if (p[0] == '~' && p[1] == '1')
                tok[n++] = '/', p++;
            else if (p[0] == '~' && p[1] == '0')
                tok[n++] = '~', p++;
            else
                tok[n++] = *p;
        }
        tok[n] = '\0';
        if (json_is_object(at)) {
            at = json_object_get(at, tok);
        } else if (json_is_array(at)) {
            char *end;
            long i = strtol(tok, &end, 10);
            at = (*end == '\0' && n > 0 && i >= 0) ? json_array_get(at, (size_t)i) : NULL;
        } else {
            at = NULL;
        }
        if (at == NULL)
            return 0;
        if (*p == '\0')
            return 1;
        p++;
    }
}

/* Every "$ref" under v must be local and resolve in doc. */
static int check_refs(const json_t *doc, const json_t *v, const char *who, char *err, size_t errlen)
{
    char b1[160], b2[64];
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (strcmp(k, "$ref") == 0 && json_is_string(x)) {
                const char *ref = json_string_value(x);
                if (strncmp(ref, "#", 1) != 0) {
                    fail(err, errlen, "%s: $ref \"%s\" is not local: only \"#/...\" references are supported",
                         owner_text(who, b2, sizeof(b2)), clean(ref, b1, sizeof(b1)));
                    return -1;
                }
                if (!ref_resolves(doc, ref)) {
                    fail(err, errlen, "%s: $ref \"%s\" points nowhere in the merged document",
                         owner_text(who, b2, sizeof(b2)), clean(ref, b1, sizeof(b1)));
                    return -1;
                }
            } else if (check_refs(doc, x, who, err, errlen) < 0) {
                return -1;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (check_refs(doc, x, who, err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

static json_t *obj_member(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, k, v);
    }
    return v;
}

/* Adds the components of one description; owners maps "kind/name" to the
 * owner ("" is the core). */
static int add_components(json_t *comps, const json_t *from, json_t *owners, const char *who, int copy, char *err,
                          size_t errlen)
{
    char b1[160], b2[64], b3[64];
    const char *kind, *name;
    json_t *map, *v;
    json_object_foreach((json_t *)from, kind, map)
    {
        json_t *dst = obj_member(comps, kind);
        json_object_foreach(map, name, v)
        {
            char key[512];
            snprintf(key, sizeof(key), "%s/%s", kind, name);
            const json_t *prev = json_object_get(owners, key);
            if (prev != NULL) {
                fail(err, errlen, "%s: OpenAPI component %s is also defined by %s", owner_text(who, b2, sizeof(b2)),
                     clean(key, b1, sizeof(b1)), owner_text(json_string_value(prev), b3, sizeof(b3)));
                return -1;
            }
            json_object_set_new(owners, key, json_string(who));
            if (copy)
                json_object_set_new(dst, name, json_deep_copy(v));
        }
    }
    return 0;
}

static int add_tags(json_t *doc, const json_t *tags, json_t *owners, const char *who, int copy, char *err,
                    size_t errlen)
{
    char b1[96], b2[64], b3[64];
    json_t *dst = json_object_get(doc, "tags");
    if (!json_is_array(dst)) {
        dst = json_array();
        json_object_set_new(doc, "tags", dst);
    }
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        const json_t *prev = json_object_get(owners, name);
        if (prev != NULL) {
            fail(err, errlen, "%s: OpenAPI tag \"%s\" is also defined by %s", owner_text(who, b2, sizeof(b2)),
                 clean(name, b1, sizeof(b1)), owner_text(json_string_value(prev), b3, sizeof(b3)));
            return -1;
        }
        json_object_set_new(owners, name, json_string(who));
        if (copy)
            json_array_append_new(dst, json_deep_copy(t));
    }
    return 0;
}

static const krc_openapi_route *find_route(const krc_openapi_route *routes, size_t n, const char *method,
                                           const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(routes[i].method, method) == 0 && strcmp(routes[i].pattern, path) == 0)
            return &routes[i];
    return NULL;
}

static json_t *placeholder(const krc_openapi_route *r)
{
    char sum[128];
    snprintf(sum, sizeof(sum), "Not described by plugin \"%s\"", r->plugin);
    json_t *op = json_pack("{s:s, s:b, s:{s:{s:s}}}", "summary", sum, "x-kirana-undescribed", 1, "responses",
                           "default", "description", "not described");
    json_t *params = json_array();
    for (const char *p = strchr(r->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (e == NULL)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1, (size_t)(e - p - 1), "in",
                                                "path", "required", 1, "schema", "type", "string"));
    }
    if (json_array_size(params) > 0)
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    return op;
}

/* Both directions between the described operations and the routes. */
static int match_routes(json_t *paths, const json_t *path_owner, const krc_openapi_route *routes, size_t nroutes,
                        const json_t *described, char *err, size_t errlen)
{
    char b1[160], b2[64];
    const char *path, *m;
    json_t *item, *op;
    void *tmp, *tmp2;
    json_object_foreach_safe(paths, tmp, path, item)
    {
        const char *owner = json_string_value(json_object_get(path_owner, path));
        json_object_foreach_safe(item, tmp2, m, op)
        {
            if (!is_method(m))
                continue;
            const krc_openapi_route *r = find_route(routes, nroutes, m, path);
            const char *rowner = r != NULL ? (r->plugin != NULL ? r->plugin : "") : NULL;
            /* a route registered only in some configurations */
            if (r == NULL && json_is_true(json_object_get(op, "x-kirana-optional"))) {
                json_object_del(item, m);
                continue;
            }
            if (r == NULL || strcmp(rowner, owner) != 0) {
                char up[16];
                size_t i = 0;
                for (; m[i] != '\0' && i + 1 < sizeof(up); i++)
                    up[i] = (char)(m[i] - 'a' + 'A');
                up[i] = '\0';
                fail(err, errlen,
                     "%s: OpenAPI describes %s %s, which is not one of its routes (mark an operation registered "
                     "only in some configurations \"x-kirana-optional\": true)",
                     owner_text(owner, b2, sizeof(b2)), up, clean(path, b1, sizeof(b1)));
                return -1;
            }
        }
        int ops = 0;
        json_object_foreach(item, m, op) ops += is_method(m);
        if (ops == 0)
            json_object_del(paths, path);
    }
    for (size_t i = 0; i < nroutes; i++) {
        const krc_openapi_route *r = &routes[i];
        const char *owner = r->plugin != NULL ? r->plugin : "";
        char lower[16];
        size_t j = 0;
        for (; r->method[j] != '\0' && j + 1 < sizeof(lower); j++)
            lower[j] = (char)(r->method[j] >= 'A' && r->method[j] <= 'Z' ? r->method[j] - 'A' + 'a' : r->method[j]);
        lower[j] = '\0';
        json_t *it = json_object_get(paths, r->pattern);
        json_t *o = json_object_get(it, lower);
        if (o == NULL) {
            if (json_is_true(json_object_get(described, owner))) {
                fail(err, errlen, "%s: route %s %s is not described in its OpenAPI description",
                     owner_text(owner, b2, sizeof(b2)), r->method, r->pattern);
                return -1;
            }
            if (it == NULL) {
                it = json_object();
                json_object_set_new(paths, r->pattern, it);
            }
            o = placeholder(r);
            json_object_set_new(it, lower, o);
        }
        if (r->auth != KR_AUTH_NONE) {
            if (json_object_get(o, "security") == NULL)
                json_object_set_new(o, "security", json_pack("[{s:[]}]", "bearer"));
            json_object_set_new(o, "x-kirana-auth", json_string(r->auth == KR_AUTH_ADMIN ? "admin" : "user"));
        }
    }
    return 0;
}

json_t *krc_openapi_merge(const json_t *core, const char *version, const krc_openapi_part *parts, size_t nparts,
                          const krc_openapi_route *routes, size_t nroutes, char *err, size_t errlen)
{
    char b1[160], b2[64], b3[64];
    json_t *doc = json_deep_copy(core);
    json_t *owners = json_object();     /* "kind/name" of components */
    json_t *tag_owners = json_object(); /* tag names */
    json_t *path_owner = json_object(); /* full path -> owner ("" the core) */
    json_t *described = json_object();  /* owner -> true when it gave a description */
    if (doc == NULL || owners == NULL || tag_owners == NULL || path_owner == NULL || described == NULL) {
        fail(err, errlen, "out of memory");
        goto bad;
    }
    json_object_set_new(obj_member(doc, "info"), "version", json_string(version));
    json_t *paths = obj_member(doc, "paths");
    json_t *comps = obj_member(doc, "components");
    json_object_set_new(described, "", json_true());
    const char *k;
    json_t *v;
    json_object_foreach(paths, k, v)
    {
        json_object_set_new(path_owner, k, json_string(""));
    }
    if (add_components(comps, comps, owners, "", 0, err, errlen) < 0)
        goto bad;
    if (json_is_array(json_object_get(doc, "tags")) &&
        add_tags(doc, json_object_get(doc, "tags"), tag_owners, "", 0, err, errlen) < 0)
        goto bad;
    for (size_t i = 0; i < nparts; i++) {
        const krc_openapi_part *p = &parts[i];
        if (p->fragment == NULL)
            continue;
        json_object_set_new(described, p->plugin, json_true());
        const json_t *pc = json_object_get(p->fragment, "components");
        if (pc != NULL && add_components(comps, pc, owners, p->plugin, 1, err, errlen) < 0)
            goto bad;
        const json_t *pt = json_object_get(p->fragment, "tags");
        if (pt != NULL && add_tags(doc, pt, tag_owners, p->plugin, 1, err, errlen) < 0)
            goto bad;
        json_object_foreach((json_t *)json_object_get(p->fragment, "paths"), k, v)
        {
            char full[1024];
            full_path(p->mount, k, full, sizeof(full));
            const json_t *prev = json_object_get(path_owner, full);
            if (prev != NULL) {
                fail(err, errlen, "%s: OpenAPI path %s is also described by %s", owner_text(p->plugin, b2, sizeof(b2)),
                     clean(full, b1, sizeof(b1)), owner_text(json_string_value(prev), b3, sizeof(b3)));
                goto bad;
            }
            json_object_set_new(path_owner, full, json_string(p->plugin));
            json_object_set_new(paths, full, json_deep_copy(v));
        }
    }
    if (match_routes(paths, path_owner, routes, nroutes, described, err, errlen) < 0)
        goto bad;
    if (check_refs(doc, core, "", err, errlen) < 0)
        goto bad;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].fragment != NULL && check_refs(doc, parts[i].fragment, parts[i].plugin, err, errlen) < 0)
            goto bad;
    json_decref(owners);
    json_decref(tag_owners);
    json_decref(path_owner);
    json_decref(described);
    return doc;
bad:
    json_decref(doc);
    json_decref(owners);
    json_decref(tag_owners);
    json_decref(path_owner);
    json_decref(described);
    return NULL;
}

int krc_openapi_add(kr_plugin_ctx *c, const char *json)
{
    char err[512];
    if (c->openapi != NULL)
        return krc_err_set(KR_EINVAL, "plugin \"%s\" gave its OpenAPI description twice", c->desc->name);
    if (json != NULL && json[0] == '\0')
        return krc_err_set(KR_EINVAL,
                           "plugin \"%s\" has no OpenAPI description built in: build it with "
                           "kirana_add_plugin(NAME OPENAPI openapi.json ...) or define kr_plugin_openapi_json",
                           c->desc->name);
    json_t *frag = krc_openapi_parse(json, err, sizeof(err));
    if (frag == NULL)
        return krc_err_set(KR_EINVAL, "%s", err);
    c->openapi = frag;
    return KR_OK;
}

static void serve_doc(krc_app *app, h2o_req_t *req)
{
    krc_send(req, 200, "application/json", app->openapi_doc, app->openapi_len, NULL);
}

int krc_openapi_register(krc_app *app)
{
    if (!app->cfg->role_http)
        return KR_OK;
    krc_route_entry e = {
        .kind = KRC_ROUTE_CORE_LOOP, .loop_fn = serve_doc, .method = "GET", .pattern = "/openapi.json"};
    return krc_app_add_route(app, &e, "core");
}

int krc_openapi_build(krc_app *app, char *err, size_t errlen)
{
    if (!app->cfg->role_http)
        return 0;
    char why[1024];
    json_error_t je;
    json_t *core = json_loads(krc_openapi_core_json, 0, &je);
    if (core == NULL) {
        snprintf(err, errlen, "openapi: the core's description is not JSON: line %d: %s", je.line, je.text);
        return -1;
    }
    krc_openapi_part *parts = calloc(app->nplugins + 1, sizeof(*parts));
    krc_openapi_route *routes = calloc(app->nroutes + 1, sizeof(*routes));
    json_t *doc = NULL;
    if (parts == NULL || routes == NULL) {
        snprintf(why, sizeof(why), "out of memory");
    } else {
        for (size_t i = 0; i < app->nplugins; i++) {
            const kr_plugin_ctx *c = app->plugins[i];
            parts[i] = (krc_openapi_part){.plugin = c->desc->name, .mount = c->mount, .fragment = c->openapi};
            if (c->openapi == NULL)
                krc_log(KR_LOG_WARN, c->desc->name, NULL,
                        "plugin \"%s\" gives no OpenAPI description: its routes are marked undescribed in "
                        "/openapi.json",
                        c->desc->name);
        }
        for (size_t i = 0; i < app->nroutes; i++) {
            const krc_route_entry *r = app->routes[i];
            routes[i] = (krc_openapi_route){.method = r->method,
                                            .pattern = r->pattern,
                                            .plugin = r->ctx != NULL ? r->ctx->desc->name : NULL,
                                            .auth = r->auth};
        }
        doc = krc_openapi_merge(core, KRC_VERSION, parts, app->nplugins, routes, app->nroutes, why, sizeof(why));
    }
    free(parts);
    free(routes);
    json_decref(core);
    if (doc == NULL) {
        snprintf(err, errlen, "openapi: %s", why);
        return -1;
    }
    app->openapi_doc = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (app->openapi_doc == NULL) {
        snprintf(err, errlen, "openapi: out of memory");
        return -1;
    }
    app->openapi_len = strlen(app->openapi_doc);
    return 0;
}

void krc_openapi_free(krc_app *app)
{
    free(app->openapi_doc);
    app->openapi_doc = NULL;
    app->openapi_len = 0;
}
