#include "core/server/run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config/config.h"
#include "core/db/db.h"
#include "core/obs/log.h"
#include "core/obs/metrics.h"
#include "core/queue/queue.h"
#include "core/redis/redis.h"
#include "core/server/app.h"
#include "core/server/loader.h"
#include "core/server/openapi.h"
#include "core/server/ops.h"
#include "core/server/pubsub.h"
#include "core/server/server.h"
#include "core/util/err.h"

static int open_services(krc_app *app, char *err, size_t errlen)
{
    krc_config *cfg = app->cfg;
    if (cfg->db.uri != NULL) {
        krc_db_opts o = {.pool_size = cfg->db.pool_size, .timeout_ms = cfg->db.timeout_ms};
        if ((app->db = krc_db_open(cfg->db.uri, &o, &krc_host_table, err, errlen)) == NULL)
            return -1;
    }
    if (cfg->redis.url != NULL &&
        (app->redis = krc_redis_open(cfg->redis.url, cfg->redis.pool_size, cfg->redis.timeout_ms, &krc_host_table,
                                     err, errlen)) == NULL)
        return -1;
    if (cfg->queue.redis != NULL) {
        if ((app->queue = krc_queue_open(cfg->queue.redis, cfg->queue.prefix, &krc_host_table, err, errlen)) == NULL)
            return -1;
        krc_queue_options o = {.lock_duration_ms = cfg->queue.lock_duration_ms,
                               .stalled_interval_ms = cfg->queue.stalled_interval_ms,
                               .max_stalled_count = cfg->queue.max_stalled_count,
                               .drain_delay_ms = cfg->queue.drain_delay_ms,
                               .redis_timeout_ms = cfg->queue.timeout_ms};
        if (krc_queue_configure(app->queue, &o, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Protected routes without anyone to check tokens would answer 500 to
 * every caller: refuse that deployment at startup instead. */
static int check_auth(krc_app *app, char *err, size_t errlen)
{
    if (app->authn != NULL)
        return 0;
    for (size_t i = 0; i < app->nroutes; i++) {
        const krc_route_entry *e = app->routes[i];
        if (e->auth != KR_AUTH_NONE) {
            snprintf(err, errlen,
                     "plugin \"%s\" (%s): route %s needs authentication, but no loaded plugin provides an "
                     "authenticator (enable auth.so)",
                     e->ctx->desc->name, e->ctx->path, e->label);
            return -1;
        }
    }
    return 0;
}

static void list_plugins(krc_app *app)
{
    printf("%-16s %-10s %-6s %-12s %s\n", "NAME", "VERSION", "ABI", "MOUNT", "PATH");
    for (size_t i = 0; i < app->nplugins; i++) {
        const kr_plugin_ctx *c = app->plugins[i];
        char abi[16];
        snprintf(abi, sizeof(abi), "%u.%u", c->desc->abi_major, c->desc->abi_minor);
        printf("%-16s %-10s %-6s %-12s %s\n", c->desc->name, c->desc->version ? c->desc->version : "-", abi,
               c->mount[0] ? c->mount : "-", c->path);
    }
}

/* One line per route: METHOD PATTERN OWNER AUTH (the core's routes first). */
static void list_routes(const krc_app *app)
{
    static const char *const auth[] = {"none", "user", "admin"};
    for (size_t i = 0; i < app->nroutes; i++) {
        const krc_route_entry *r = app->routes[i];
        printf("%s %s %s %s\n", r->method, r->pattern, r->ctx != NULL ? r->ctx->desc->name : "core",
               auth[r->auth >= KR_AUTH_NONE && r->auth <= KR_AUTH_ADMIN ? r->auth : 0]);
    }
}

static int run_command(krc_app *app, int argc, char **argv)
{
    const krc_command *cmd = NULL;
    for (size_t i = 0; i < app->ncommands; i++)
        if (strcmp(app->commands[i].name, argv[0]) == 0)
            cmd = &app->commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "kirana: unknown command \"%s\"", argv[0]);
        for (size_t i = 0; i < app->ncommands; i++)
            fprintf(stderr, "%s %s", i == 0 ? "; the loaded plugins provide:" : ",", app->commands[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    char err[1024];
    if (krc_loader_start(app, err, sizeof(err)) < 0) {
        fprintf(stderr, "kirana: %s\n", err);
        return 1;
    }
    return cmd->fn(cmd->ctx, argc, argv, cmd->udata);
}

static void free_app(krc_app *app)
{
    for (size_t i = 0; i < app->ncommands; i++) {
        free(app->commands[i].name);
        free(app->commands[i].usage);
    }
    free(app->commands);
    krc_loader_free(app);
    for (size_t i = 0; i < app->nroutes; i++) {
        free(app->routes[i]->method);
        free(app->routes[i]->pattern);
        free(app->routes[i]->label);
        free(app->routes[i]);
    }
    free(app->routes);
    for (size_t i = 0; i < app->nchecks; i++)
        free(app->checks[i].name);
    free(app->checks);
    if (app->queue != NULL)
        krc_queue_close(app->queue);
    if (app->redis != NULL)
        krc_redis_close(app->redis);
    if (app->db != NULL)
        krc_db_close(app->db);
    if (app->cors != NULL)
        krc_cors_free(app->cors);
    krc_router_free(app->router);
    krc_openapi_free(app);
    krc_config_free(app->cfg);
}

static int serve(krc_app *app, sigset_t *sigs)
{
    char err[1024];
    int status = 0;
    app->pool = krc_pool_new(app->cfg->server.workers, app->cfg->server.queue_depth);
    if (app->pool == NULL) {
        fprintf(stderr, "kirana: cannot start the worker pool\n");
        return 1;
    }
    if ((app->server = krc_server_new(app, err, sizeof(err))) == NULL) {
        fprintf(stderr, "kirana: %s\n", err);
        status = 1;
        goto out_pool;
    }
    if (krc_loader_start(app, err, sizeof(err)) < 0) {
        fprintf(stderr, "kirana: %s\n", err);
        status = 1;
        goto out_server;
    }
    if (app->queue != NULL && app->cfg->role_worker && krc_queue_start(app->queue) < 0) {
        fprintf(stderr, "kirana: queue: %s\n", krc_err_msg());
        status = 1;
        goto out_server;
    }
    if (krc_server_start(app->server, err, sizeof(err)) < 0) {
        fprintf(stderr, "kirana: %s\n", err);
        status = 1;
        goto out_queue;
    }
    krc_log(KR_LOG_INFO, NULL, NULL, "kirana %s ready: %zu plugins, %zu routes, roles%s%s", KRC_VERSION,
            app->nplugins, app->nroutes, app->cfg->role_http ? " http" : "", app->cfg->role_worker ? " worker" : "");
    for (;;) {
        int sig = 0;
        if (sigwait(sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            krc_log_reopen();
            krc_log(KR_LOG_INFO, NULL, NULL, "log reopened on SIGHUP");
            continue;
        }
        krc_log(KR_LOG_INFO, NULL, NULL, "%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    atomic_store(&app->stopping, 1);
out_queue:
    /* the queue drains while the loops finish their requests */
    if (app->queue != NULL)
        krc_queue_drain(app->queue, app->cfg->server.shutdown_timeout_ms);
out_server:
    atomic_store(&app->stopping, 1);
    krc_server_stop(app->server);
    krc_server_free(app->server);
out_pool:
    krc_pool_stop(app->pool);
    krc_pool_free(app->pool);
    return status;
}

int krc_run(const char *config_path, krc_mode mode, int argc, char **argv)
{
    char err[1024];
    static krc_app app; /* reachable to the end, for loops cut off at the deadline */
    memset(&app, 0, sizeof(app));
    app.cfg = krc_config_load(config_path, err, sizeof(err));
    if (app.cfg == NULL) {
        fprintf(stderr, "kirana: %s\n", err);
        return 2;
    }
    if (krc_log_open(app.cfg->log.file, app.cfg->log.level, err, sizeof(err)) < 0) {
        fprintf(stderr, "kirana: %s\n", err);
        krc_config_free(app.cfg);
        return 2;
    }
    krc_log_set_access(app.cfg->log.access && mode == KRC_MODE_SERVE);

    /* Signals go to the main thread's sigwait only; every thread started
     * from here on inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    krc_host_init();
    krc_metrics_init(&krc_host_table);
    int status = 0;
    app.router = krc_router_new();
    const krc_cors_conf *cc = &app.cfg->server.cors;
    if (cc->n_allow_origins > 0)
        app.cors = krc_cors_new((const char *const *)cc->allow_origins, cc->n_allow_origins,
                                (const char *const *)cc->allow_headers, cc->n_allow_headers, cc->max_age);
    app.check_only = mode != KRC_MODE_SERVE;
    if (krc_ops_register(&app) < 0 || krc_openapi_register(&app) < 0) {
        fprintf(stderr, "kirana: %s\n", krc_err_msg());
        status = 1;
        goto out;
    }
    if (open_services(&app, err, sizeof(err)) < 0 || krc_loader_load(&app, err, sizeof(err)) < 0) {
        fprintf(stderr, "kirana: %s\n", err);
        status = 1;
        goto out;
    }
    if (mode == KRC_MODE_LIST_PLUGINS) {
        list_plugins(&app);
        goto out;
    }
    if (krc_loader_init(&app, err, sizeof(err)) < 0 || check_auth(&app, err, sizeof(err)) < 0 ||
        krc_openapi_build(&app, err, sizeof(err)) < 0) {
        fprintf(stderr, "kirana: %s\n", err);
        status = 1;
        goto out_plugins;
    }
    if (mode == KRC_MODE_CHECK_CONFIG) {
        printf("%s: configuration OK (%zu plugins, %zu routes)\n", config_path, app.nplugins, app.nroutes);
        goto out_plugins;
    }
    if (mode == KRC_MODE_LIST_ROUTES) {
        list_routes(&app);
        goto out_plugins;
    }
    if (mode == KRC_MODE_COMMAND) {
        status = run_command(&app, argc, argv);
        goto out_plugins;
    }
    status = serve(&app, &sigs);
out_plugins:
    /* no message may reach a plugin that is stopping */
    krc_pubsub_stop(&app);
    krc_loader_shutdown(&app);
out:
    free_app(&app);
    krc_log(KR_LOG_INFO, NULL, NULL, "exit %d", status);
    krc_metrics_free();
    krc_log_close();
    return status;
}
