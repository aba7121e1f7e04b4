/* Core: the OpenAPI 3.1 document served at GET /openapi.json.
 *
 * Plugins hand in a fragment at init (kr_openapi_add); once every plugin is
 * initialised the core checks each fragment against the routes its plugin
 * registered, merges it with the core's own description (openapi_core.json)
 * and keeps the result as one string, answered from memory on the loop
 * thread. Paths in a fragment are relative to the plugin's mount. */
#ifndef KRC_SERVER_OPENAPI_H
#define KRC_SERVER_OPENAPI_H

#include <stddef.h>
#include <jansson.h>

#include "kirana/http.h"
#include "core/server/app.h"

/* A plugin's fragment as the merge sees it; all borrowed. */
typedef struct krc_openapi_part {
    const char *plugin;     /* the plugin's name, for messages */
    const char *mount;      /* "" or "/prefix" */
    const json_t *fragment; /* from krc_openapi_parse, or NULL: not described */
} krc_openapi_part;

/* A registered route as the merge sees it; all borrowed. */
typedef struct krc_openapi_route {
    const char *method;  /* "GET", ... */
    const char *pattern; /* full, with the mount */
    const char *plugin;  /* owner's name, or NULL for a core route */
    kr_auth auth;
} krc_openapi_route;

/* any. Parses a plugin's fragment and checks its shape: an object with
 * "paths" (keys starting with '/', values objects) and optionally
 * "components" (objects of objects) and "tags" (array). Returns a new
 * reference (caller-owned), or NULL with a one-line reason in err. */
json_t *krc_openapi_parse(const char *text, char *err, size_t errlen);

/* any. Merges the core's description (`core`, borrowed, not changed; its
 * paths are full paths) with the parts, in order, and checks both
 * directions: every operation described is a registered route of its
 * owner, every route of the core and of a described plugin is described,
 * component and tag names are unique, and every local $ref resolves. An
 * operation marked "x-kirana-optional": true that is not registered (a
 * route only some configurations add) is left out instead. Routes
 * of a plugin without a fragment get a placeholder operation marked
 * "x-kirana-undescribed": true. Operations of routes declared KR_AUTH_USER
 * or KR_AUTH_ADMIN get security [{"bearer": []}] unless they say otherwise,
 * and "x-kirana-auth". info.version becomes `version`. Returns the document
 * (caller-owned) or NULL with one line naming the plugin at fault in err. */
json_t *krc_openapi_merge(const json_t *core, const char *version, const krc_openapi_part *parts, size_t nparts,
                          const krc_openapi_route *routes, size_t nroutes, char *err, size_t errlen);

/* init thread. The host table's openapi_add: parses and keeps the
 * fragment on the plugin context (freed with it). KR_EINVAL with the
 * reason when malformed or given twice. */
int krc_openapi_add(kr_plugin_ctx *ctx, const char *json);

/* main, before plugins register. Adds GET /openapi.json (answered on the
 * loop thread from app->openapi_doc). Only for the http role. */
int krc_openapi_register(krc_app *app);

/* main, after every plugin's init. Builds app->openapi_doc (owned by the
 * app, freed by krc_openapi_free). 0, or -1 with one line in err. Does
 * nothing without the http role. */
int krc_openapi_build(krc_app *app, char *err, size_t errlen);

/* main. Frees the document. */
void krc_openapi_free(krc_app *app);

#endif
