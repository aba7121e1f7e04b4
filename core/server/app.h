/* Core: the application — everything one kirana process runs, and the
 * registries plugins fill at init (routes, checks, authenticator). */
#ifndef KRC_SERVER_APP_H
#define KRC_SERVER_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kirana/host.h"
#include "core/config/config.h"
#include "core/obs/metrics.h"
#include "core/router/cors.h"
#include "core/router/router.h"
#include "core/server/pool.h"

struct krc_db;
struct krc_redis;
struct krc_queue;
struct krc_server;
typedef struct krc_app krc_app;

/* A loaded plugin. The plugin sees it as an opaque kr_plugin_ctx. */
struct kr_plugin_ctx {
    kr_handle h;
    krc_app *app;
    const kr_plugin *desc;
    void *dl;
    char *entry;  /* the YAML entry's name */
    char *path;   /* absolute path of the .so */
    char *mount;  /* "" or "/prefix" */
    json_t *config;
    void *state;
    json_t *openapi; /* the plugin's OpenAPI fragment, or NULL */
    int index; /* position in the config */
    bool inited, started;
};

enum krc_route_kind {
    KRC_ROUTE_PLUGIN = 0, /* plugin handler on the worker pool */
    KRC_ROUTE_CORE_POOL,  /* core handler on the worker pool */
    KRC_ROUTE_CORE_LOOP,  /* core handler on the loop thread; must not block */
};

struct st_h2o_req_t;

typedef struct krc_route_entry {
    enum krc_route_kind kind;
    kr_plugin_ctx *ctx; /* NULL for core routes */
    kr_handler_fn handler;
    void *udata;
    void (*loop_fn)(krc_app *app, struct st_h2o_req_t *req);
    kr_auth auth;
    char *method;
    char *pattern; /* full, with the mount prefix */
    char *label;   /* "GET /products/{id}" for metrics and logs */
    krc_histogram *latency;
    /* requests by status, registered on first use */
    _Atomic(krc_counter *) by_status[600];
} krc_route_entry;

typedef struct krc_command {
    char *name;
    char *usage;
    kr_command_fn fn;
    void *udata;
    kr_plugin_ctx *ctx;
} krc_command;

typedef struct krc_subscription {
    char *channel;
    kr_message_fn fn;
    void *udata;
} krc_subscription;

typedef struct krc_ready_check {
    char *name;
    kr_ready_fn fn;
    void *udata;
} krc_ready_check;

struct krc_app {
    krc_config *cfg;
    bool check_only; /* --check-config: load and init, never listen */
    krc_router *router;
    krc_cors *cors;
    krc_route_entry **routes;
    size_t nroutes;
    kr_plugin_ctx **plugins; /* start order (dependencies first) */
    size_t nplugins;
    kr_authenticate_fn authn;
    void *authn_udata;
    kr_plugin_ctx *authn_owner;
    krc_ready_check *checks;
    size_t nchecks;
    krc_command *commands;
    size_t ncommands;
    struct krc_redis_sub *sub; /* started by the first kr_subscribe */
    krc_subscription *subs;    /* added at init, read by the subscriber thread */
    size_t nsubs;
    krc_pool *pool;
    struct krc_db *db;
    struct krc_redis *redis;
    struct krc_queue *queue;
    struct krc_server *server;
    char *openapi_doc; /* GET /openapi.json, built after init */
    size_t openapi_len;
    atomic_int stopping;
    atomic_long live_requests; /* kr_req objects alive */
    /* metrics */
    krc_gauge *g_pool_depth, *g_pool_busy, *g_inflight;
    krc_counter *c_rejected_busy, *c_cancelled;
};

/* The one host table of this process; filled by krc_host_init. */
extern kr_host krc_host_table;
/* main, once, before anything hands out a handle. */
void krc_host_init(void);

/* main. Appends a route (copies strings); conflicts are refused with a
 * message naming both owners. */
int krc_app_add_route(krc_app *app, const krc_route_entry *tmpl, const char *owner);

#endif
