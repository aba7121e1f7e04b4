/* The host table: what plugins can call, wired to the core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/db.h"
#include "core/obs/log.h"
#include "core/queue/queue.h"
#include "core/redis/redis.h"
#include "core/server/app.h"
#include "core/server/openapi.h"
#include "core/server/pubsub.h"
#include "core/server/request.h"
#include "core/server/stream.h"
#include "core/util/err.h"

kr_host krc_host_table;

static const char *h_errmsg(void) { return krc_err_msg(); }
static void h_set_errmsg(const char *msg) { krc_err_set(KR_OK, "%s", msg); }

static const char *h_ctx_name(const kr_plugin_ctx *c) { return c->desc->name; }
static const json_t *h_ctx_config(const kr_plugin_ctx *c) { return c->config; }
static const char *h_ctx_mount(const kr_plugin_ctx *c) { return c->mount; }
static void *h_ctx_state(const kr_plugin_ctx *c) { return c->state; }
static void h_ctx_set_state(kr_plugin_ctx *c, void *state) { c->state = state; }

static int h_ctx_has_role(const kr_plugin_ctx *c, const char *role)
{
    if (strcmp(role, "http") == 0)
        return c->app->cfg->role_http;
    if (strcmp(role, "worker") == 0)
        return c->app->cfg->role_worker;
    return 0;
}

static kr_db *h_ctx_db(const kr_plugin_ctx *c) { return (kr_db *)c->app->db; }
static kr_redis *h_ctx_redis(const kr_plugin_ctx *c) { return (kr_redis *)c->app->redis; }
static kr_queue *h_ctx_queue(const kr_plugin_ctx *c) { return (kr_queue *)c->app->queue; }

static int h_ready_check_add(kr_plugin_ctx *c, const char *name, kr_ready_fn fn, void *udata)
{
    krc_app *app = c->app;
    if (name == NULL || fn == NULL)
        return krc_err_set(KR_EINVAL, "a readiness check needs a name and a function");
    krc_ready_check *n = realloc(app->checks, sizeof(*n) * (app->nchecks + 1));
    if (n == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    app->checks = n;
    char full[160];
    snprintf(full, sizeof(full), "%s.%s", c->desc->name, name);
    n[app->nchecks] = (krc_ready_check){.name = strdup(full), .fn = fn, .udata = udata};
    app->nchecks++;
    return KR_OK;
}

static int h_command_add(kr_plugin_ctx *c, const char *name, const char *usage, kr_command_fn fn, void *udata)
{
    krc_app *app = c->app;
    if (name == NULL || fn == NULL || !(name[0] >= 'a' && name[0] <= 'z') ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name))
        return krc_err_set(KR_EINVAL, "command name \"%s\" must match [a-z][a-z0-9-]*", name ? name : "(null)");
    for (size_t i = 0; i < app->ncommands; i++)
        if (strcmp(app->commands[i].name, name) == 0)
            return krc_err_set(KR_EINVAL, "command \"%s\" is already provided by plugin \"%s\"", name,
                               app->commands[i].ctx->desc->name);
    krc_command *n = realloc(app->commands, sizeof(*n) * (app->ncommands + 1));
    if (n == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    app->commands = n;
    n[app->ncommands++] = (krc_command){
        .name = strdup(name), .usage = strdup(usage ? usage : name), .fn = fn, .udata = udata, .ctx = c};
    return KR_OK;
}

static int valid_method(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(m, ok[i]) == 0)
            return 1;
    return 0;
}

static int h_route_add(kr_plugin_ctx *c, const char *method, const char *pattern, kr_auth auth,
                       kr_handler_fn handler, void *udata)
{
    if (method == NULL || !valid_method(method))
        return krc_err_set(KR_EINVAL, "route method \"%s\" is not one of GET HEAD POST PUT PATCH DELETE OPTIONS",
                           method ? method : "(null)");
    if (pattern == NULL || pattern[0] != '/')
        return krc_err_set(KR_EINVAL, "route pattern \"%s\" must start with /", pattern ? pattern : "(null)");
    if (handler == NULL)
        return krc_err_set(KR_EINVAL, "route %s %s has no handler", method, pattern);
    if (auth != KR_AUTH_NONE && auth != KR_AUTH_USER && auth != KR_AUTH_ADMIN)
        return krc_err_set(KR_EINVAL, "route %s %s: unknown auth level %d", method, pattern, (int)auth);
    /* A process without the http role serves only the core's ops routes;
     * its plugins still register, so one config serves both roles. */
    if (!c->app->cfg->role_http)
        return KR_OK;
    char full[1024];
    /* "/" below a mount is the mount itself */
    if (c->mount[0] != '\0' && strcmp(pattern, "/") == 0)
        snprintf(full, sizeof(full), "%s", c->mount);
    else
        snprintf(full, sizeof(full), "%s%s", c->mount, pattern);
    krc_route_entry e = {.kind = KRC_ROUTE_PLUGIN,
                         .ctx = c,
                         .handler = handler,
                         .udata = udata,
                         .auth = auth,
                         .method = (char *)method,
                         .pattern = full};
    return krc_app_add_route(c->app, &e, c->desc->name);
}

static int h_authenticator_set(kr_plugin_ctx *c, kr_authenticate_fn fn, void *udata)
{
    krc_app *app = c->app;
    if (app->authn != NULL)
        return krc_err_set(KR_EINVAL, "plugin \"%s\" already provides the authenticator",
                           app->authn_owner->desc->name);
    app->authn = fn;
    app->authn_udata = udata;
    app->authn_owner = c;
    return KR_OK;
}

static void h_log(const kr_plugin_ctx *c, const kr_req *r, kr_level level, const char *fmt, va_list ap)
{
    if (!krc_log_enabled(level))
        return;
    const char *plugin = NULL;
    const char *rid = NULL;
    if (r != NULL) {
        rid = r->id;
        if (r->route->ctx != NULL)
            plugin = r->route->ctx->desc->name;
    } else if (c != NULL) {
        plugin = c->desc->name;
    }
    krc_logv(level, plugin, rid, fmt, ap);
}

static int metric_name(char *out, size_t outlen, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return krc_err_set(KR_EINVAL, "a metric needs a name");
    snprintf(out, outlen, "kirana_%s", name);
    return KR_OK;
}

static kr_counter *h_metrics_counter(kr_plugin_ctx *c, const char *name, const char *help, const char *labels)
{
    (void)c;
    char full[256];
    if (metric_name(full, sizeof(full), name) < 0)
        return NULL;
    krc_counter *m = krc_metrics_counter(full, help != NULL ? help : name, labels);
    if (m == NULL)
        krc_err_set(KR_EINVAL, "metric \"%s\": invalid name or clashes with another metric", full);
    return (kr_counter *)m;
}

static void h_counter_add(kr_counter *c, uint64_t n) { krc_counter_add((krc_counter *)c, n); }

static kr_gauge *h_metrics_gauge(kr_plugin_ctx *c, const char *name, const char *help, const char *labels)
{
    (void)c;
    char full[256];
    if (metric_name(full, sizeof(full), name) < 0)
        return NULL;
    krc_gauge *m = krc_metrics_gauge(full, help != NULL ? help : name, labels);
    if (m == NULL)
        krc_err_set(KR_EINVAL, "metric \"%s\": invalid name or clashes with another metric", full);
    return (kr_gauge *)m;
}

static void h_gauge_add(kr_gauge *g, int64_t v, int set)
{
    if (set)
        krc_gauge_set((krc_gauge *)g, v);
    else
        krc_gauge_add((krc_gauge *)g, v);
}

void krc_host_init(void)
{
    kr_host *h = &krc_host_table;
    memset(h, 0, sizeof(*h));
    h->size = sizeof(*h);
    h->abi_major = KR_ABI_MAJOR;
    h->abi_minor = KR_ABI_MINOR;
    h->errmsg = h_errmsg;
    h->set_errmsg = h_set_errmsg;
    h->openapi_add = krc_openapi_add;
    h->ctx_name = h_ctx_name;
    h->ctx_config = h_ctx_config;
    h->ctx_mount = h_ctx_mount;
    h->ctx_state = h_ctx_state;
    h->ctx_set_state = h_ctx_set_state;
    h->ctx_has_role = h_ctx_has_role;
    h->ctx_db = h_ctx_db;
    h->ctx_redis = h_ctx_redis;
    h->ctx_queue = h_ctx_queue;
    h->ready_check_add = h_ready_check_add;
    h->route_add = h_route_add;
    h->authenticator_set = h_authenticator_set;
    h->command_add = h_command_add;
    krc_req_host_fill(h);
    h->log = h_log;
    h->metrics_counter = h_metrics_counter;
    h->counter_add = h_counter_add;
    h->metrics_gauge = h_metrics_gauge;
    h->gauge_add = h_gauge_add;
    krc_db_host_fill(h);
    krc_redis_host_fill(h);
    krc_queue_host_fill(h);
    krc_stream_host_fill(h);
    krc_pubsub_host_fill(h);
}
